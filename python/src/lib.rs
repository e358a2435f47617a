//! `bbs._bbs`: the native half of the Python package (PyO3). Each function
//! is a thin call into the Rust crates the `bbs` command line uses, with
//! numpy arrays in and out; `python/bbs/__init__.py` wraps them into the
//! public API (reports as dicts, `Config(**kwargs)`). Errors are
//! `bbs.BbsError` with the command line's message (`bbs::print::error_text`,
//! without its `error: ` prefix).

use bbs_compress::{apply_mask, prune_bbs, prune_mask, Csb as RustCsb, Pattern, Schedule};
use bbs_sim::Config as RustConfig;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::path::Path;

create_exception!(
    bbs,
    BbsError,
    PyValueError,
    "An error of bbs, with the command line's message."
);

/// The command line's one-line message of `e`, as a Python exception.
fn py_err(e: impl Into<anyhow::Error>) -> PyErr {
    let e = e.into();
    let (line, _) = bbs::print::error_text(&e);
    BbsError::new_err(line.strip_prefix("error: ").unwrap_or(&line).to_string())
}

/// `(pruned, mask)` of [`prune`].
type Pruned<'py> = (Bound<'py, PyArray2<f32>>, Bound<'py, PyArray2<bool>>);
/// `(y, y_fixed, report_json)` of [`simulate`].
type Simulated<'py> = (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<i64>>, String);

fn pattern_of(pattern: &str, banks: Option<usize>) -> PyResult<Pattern> {
    let text = match (pattern.trim().eq_ignore_ascii_case("bbs"), banks) {
        (true, Some(k)) => format!("bbs:{k}"),
        (true, None) => {
            return Err(BbsError::new_err(
                "banks: pattern 'bbs' needs banks= (the banks per row)",
            ))
        }
        (false, _) => pattern.to_string(),
    };
    Pattern::parse(&text).map_err(py_err)
}

/// prune(weights, sparsity, banks=None, pattern="bbs") -> (pruned, mask)
///
/// Prunes a float32 matrix to `sparsity` with `pattern` ("bbs" with
/// `banks`, or "bbs:<banks>", "unstructured", "nm:<n>:<m>", "block:<size>",
/// "row"). Returns the pruned matrix (pruned weights zero) and the boolean
/// mask of the kept ones.
#[pyfunction]
#[pyo3(signature = (weights, sparsity, banks=None, pattern="bbs"))]
fn prune<'py>(
    py: Python<'py>,
    weights: PyReadonlyArray2<'py, f32>,
    sparsity: f64,
    banks: Option<usize>,
    pattern: &str,
) -> PyResult<Pruned<'py>> {
    let p = pattern_of(pattern, banks)?;
    let w = weights.as_array();
    let mask = prune_mask(&w, &p, sparsity).map_err(py_err)?;
    let pruned = apply_mask(&w, &mask);
    Ok((pruned.into_pyarray(py), mask.into_pyarray(py)))
}

/// schedule(initial, final, steps) -> list of the target sparsity at steps
/// 0..=steps of the gradual (cubic) pruning schedule.
#[pyfunction]
fn schedule(initial: f64, r#final: f64, steps: usize) -> PyResult<Vec<f64>> {
    let s = Schedule::new(initial, r#final, steps).map_err(py_err)?;
    Ok((0..=steps).map(|t| s.sparsity_at(t)).collect())
}

/// A machine configuration (the TOML files of hw/configs/).
#[pyclass(module = "bbs._bbs", name = "Config", frozen)]
#[derive(Clone)]
struct Config(RustConfig);

#[pymethods]
impl Config {
    /// The built-in default configuration.
    #[staticmethod]
    fn default() -> Config {
        Config(RustConfig::default())
    }

    /// A configuration file (TOML).
    #[staticmethod]
    fn from_file(path: &str) -> PyResult<Config> {
        RustConfig::from_file(Path::new(path))
            .map(Config)
            .map_err(py_err)
    }

    /// A configuration from TOML text.
    #[staticmethod]
    fn from_toml(text: &str) -> PyResult<Config> {
        RustConfig::from_toml_str(text, "Config.from_toml")
            .map(Config)
            .map_err(py_err)
    }

    /// The default configuration with the fields of `fields_json` (a JSON
    /// object: top-level fields and sections as objects) replaced.
    #[staticmethod]
    fn from_fields(fields_json: &str) -> PyResult<Config> {
        let fields: serde_json::Value =
            serde_json::from_str(fields_json).map_err(|e| BbsError::new_err(e.to_string()))?;
        let mut base = toml::Value::try_from(RustConfig::default())
            .map_err(|e| BbsError::new_err(e.to_string()))?;
        let new = toml::Value::try_from(fields).map_err(|e| {
            BbsError::new_err(format!(
                "Config: {e} (values must be numbers, strings, booleans or dicts)"
            ))
        })?;
        merge(&mut base, new);
        let text = toml::to_string(&base).map_err(|e| BbsError::new_err(e.to_string()))?;
        RustConfig::from_toml_str(&text, "Config(...)")
            .map(Config)
            .map_err(py_err)
    }

    fn to_toml(&self) -> String {
        self.0.to_toml()
    }

    /// Every field as JSON (sections as objects).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.0).map_err(|e| BbsError::new_err(e.to_string()))
    }

    fn __repr__(&self) -> String {
        format!(
            "Config(name={:?}, pes={}, banks={}, Q{}.{} in {} bits)",
            self.0.name,
            self.0.pes,
            self.0.banks,
            self.0.value_width - 1 - self.0.frac_bits,
            self.0.frac_bits,
            self.0.value_width
        )
    }
}

/// A `bbs.Config` (or its native half), or the default.
fn config_of(obj: Option<&Bound<'_, PyAny>>) -> PyResult<RustConfig> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(RustConfig::default());
    };
    if let Ok(c) = obj.cast::<Config>() {
        return Ok(c.get().0.clone());
    }
    let native = obj.getattr("_native").ok();
    match native.as_ref().and_then(|n| n.cast::<Config>().ok()) {
        Some(c) => Ok(c.get().0.clone()),
        None => Err(BbsError::new_err(format!(
            "config: a bbs.Config is needed, not {}",
            obj.get_type().name()?
        ))),
    }
}

/// `new`'s values into `base`, tables merged key by key.
fn merge(base: &mut toml::Value, new: toml::Value) {
    match (base, new) {
        (toml::Value::Table(b), toml::Value::Table(n)) => {
            for (k, v) in n {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// A matrix in CSB: bank-balanced, quantized, decoding-free.
#[pyclass(module = "bbs._bbs", name = "Csb", frozen)]
struct Csb(RustCsb);

#[pymethods]
impl Csb {
    /// A .csb file (bbs prune -o).
    #[staticmethod]
    fn read(path: &str) -> PyResult<Csb> {
        RustCsb::read(Path::new(path)).map(Csb).map_err(py_err)
    }

    /// The BBS-pruned `weights` (float32; a `prune(..., pattern="bbs")`
    /// result keeps its weights) in the configuration's format.
    #[staticmethod]
    #[pyo3(signature = (weights, banks, sparsity, config=None))]
    fn from_pruned(
        weights: PyReadonlyArray2<'_, f32>,
        banks: usize,
        sparsity: f64,
        config: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Csb> {
        let fmt = config_of(config)?.format();
        let p = prune_bbs(&weights.as_array(), banks, sparsity).map_err(py_err)?;
        Ok(Csb(RustCsb::from_pruned_owned(p, fmt).0))
    }

    fn write(&self, path: &str) -> PyResult<()> {
        self.0.write(Path::new(path)).map_err(py_err)
    }

    /// The matrix, dequantized (float32, pruned weights zero).
    fn to_dense<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f32>> {
        self.0.to_dense_f32().into_pyarray(py)
    }

    /// The matrix in fixed point (int64).
    fn to_dense_fixed<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<i64>> {
        self.0.to_dense_fixed().into_pyarray(py)
    }

    #[getter]
    fn rows(&self) -> usize {
        self.0.rows
    }
    #[getter]
    fn cols(&self) -> usize {
        self.0.cols
    }
    #[getter]
    fn banks(&self) -> usize {
        self.0.banks
    }
    #[getter]
    fn bank_size(&self) -> usize {
        self.0.bank_size
    }
    /// Weights kept per bank and row.
    #[getter]
    fn slots(&self) -> usize {
        self.0.slots
    }
    #[getter]
    fn value_width(&self) -> u32 {
        self.0.format.width
    }
    #[getter]
    fn frac_bits(&self) -> u32 {
        self.0.format.frac
    }

    fn __repr__(&self) -> String {
        format!(
            "Csb({}x{}, {} banks of {}, {} kept per bank, Q{}.{})",
            self.0.rows,
            self.0.cols,
            self.0.banks,
            self.0.bank_size,
            self.0.slots,
            self.0.format.width - 1 - self.0.format.frac,
            self.0.format.frac
        )
    }
}

/// simulate(csb, x, config) -> (y, y_fixed, report_json): one SpMxV on the
/// simulated accelerator, `x` quantized to the configuration's format.
#[pyfunction]
#[pyo3(signature = (csb, x, config=None))]
fn simulate<'py>(
    py: Python<'py>,
    csb: &Csb,
    x: PyReadonlyArray1<'py, f32>,
    config: Option<&Bound<'py, PyAny>>,
) -> PyResult<Simulated<'py>> {
    let cfg = config_of(config)?;
    let v = bbs_compress::Vector::Float(x.as_array().to_owned());
    if let Some(i) = x.as_array().iter().position(|v| !v.is_finite()) {
        return Err(BbsError::new_err(format!(
            "x: element {i} is not a finite number"
        )));
    }
    let (xq, _) = bbs::flow::fixed_vector(&v, &cfg);
    cfg.check_matrix(&csb.0).map_err(|e| {
        py_err(anyhow::Error::from(e).context("the matrix does not fit the configuration"))
    })?;
    let run = py
        .detach(|| bbs_sim::simulate_spmv(&cfg, &csb.0, &xq))
        .map_err(py_err)?;
    let fmt = cfg.format();
    let y: Vec<f32> = run.output.iter().map(|&v| fmt.dequantize(v)).collect();
    let report =
        serde_json::to_string(&run.report).map_err(|e| BbsError::new_err(e.to_string()))?;
    Ok((y.into_pyarray(py), run.output.into_pyarray(py), report))
}

/// run(compiled_dir, inputs) -> (outputs, report_json): a sequence (frames
/// x features, float32) through a `bbs compile` directory, bit-exact.
#[pyfunction]
fn run<'py>(
    py: Python<'py>,
    compiled_dir: &str,
    inputs: PyReadonlyArray2<'py, f32>,
) -> PyResult<(Bound<'py, PyArray2<f32>>, String)> {
    let x = inputs.as_array().to_owned();
    let dir = compiled_dir.to_string();
    let (y, report) = py
        .detach(|| bbs::model_compile::run_compiled(Path::new(&dir), &x, "inputs"))
        .map_err(py_err)?;
    let report = serde_json::to_string(&report).map_err(|e| BbsError::new_err(e.to_string()))?;
    Ok((y.into_pyarray(py), report))
}

#[pymodule]
fn _bbs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("BbsError", m.py().get_type::<BbsError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Config>()?;
    m.add_class::<Csb>()?;
    m.add_function(wrap_pyfunction!(prune, m)?)?;
    m.add_function(wrap_pyfunction!(schedule, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    Ok(())
}
