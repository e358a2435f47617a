//! Steps that chain the crates together.

use anyhow::{bail, Context, Result};
use bbs_compress::{Csb, Vector};
use bbs_hdlgen::verilator::{self, RtlRun};
use bbs_sim::{simulate_spmv, Config, SpmvRun};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The fixed-point input vector: float inputs are quantized to the
/// configuration's format (round to nearest, ties away from zero, saturate);
/// integer inputs are taken as fixed-point already. Returns the vector and how
/// many elements saturated.
pub fn fixed_vector(v: &Vector, cfg: &Config) -> (Vec<i64>, usize) {
    match v {
        Vector::Float(a) => {
            let fmt = cfg.format();
            let mut saturated = 0;
            let x = a
                .iter()
                .map(|&f| {
                    let (q, sat) = fmt.quantize(f);
                    saturated += sat as usize;
                    q
                })
                .collect();
            (x, saturated)
        }
        Vector::Fixed(a) => (a.to_vec(), 0),
    }
}

/// One co-simulation: the simulator and the Verilator build of the generated
/// design on the same configuration, matrix and vector.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub config: String,
    pub rows: usize,
    pub bit_exact: bool,
    /// Rows whose RTL output differs from the simulator's.
    pub mismatched_rows: usize,
    pub sim_cycles: u64,
    pub rtl_cycles: u64,
    /// `|rtl - sim| / rtl`, in percent.
    pub cycle_error_pct: f64,
}

impl Verification {
    pub fn compare(cfg: &Config, sim: &SpmvRun, rtl: &RtlRun) -> Verification {
        let mismatched_rows = if sim.output.len() == rtl.output.len() {
            sim.output
                .iter()
                .zip(&rtl.output)
                .filter(|(a, b)| a != b)
                .count()
        } else {
            sim.output.len().max(rtl.output.len())
        };
        let sim_cycles = sim.report.cycles.total;
        Verification {
            config: cfg.name.clone(),
            rows: sim.output.len(),
            bit_exact: mismatched_rows == 0,
            mismatched_rows,
            sim_cycles,
            rtl_cycles: rtl.cycles,
            cycle_error_pct: (rtl.cycles as f64 - sim_cycles as f64).abs()
                / rtl.cycles.max(1) as f64
                * 100.0,
        }
    }
}

/// A Verilator build of one configuration's design, reusable for many runs.
pub struct RtlBuild {
    pub design_dir: PathBuf,
    pub binary: PathBuf,
}

/// Generate the design into `dir`, lint it with `-Wall`, and build the testbench.
pub fn build_rtl(cfg: &Config, dir: &Path) -> Result<RtlBuild> {
    let design = bbs_hdlgen::generate(cfg)?;
    bbs_hdlgen::write_design(&design, dir)?;
    verilator::lint(&design, dir)?;
    let binary = verilator::build(&design, dir, &dir.join("obj_dir"))?;
    Ok(RtlBuild {
        design_dir: dir.to_path_buf(),
        binary,
    })
}

/// Simulate, then run the RTL on the same inputs in `run_dir`, and compare.
pub fn cosimulate(
    cfg: &Config,
    build: &RtlBuild,
    csb: &Csb,
    x: &[i64],
    run_dir: &Path,
) -> Result<(SpmvRun, Verification)> {
    let sim = simulate_spmv(cfg, csb, x)?;
    std::fs::create_dir_all(run_dir)
        .with_context(|| format!("{}: cannot create", run_dir.display()))?;
    bbs_hdlgen::memfiles::write_run_files(cfg, csb, x, run_dir)?;
    let rtl = verilator::run(&build.binary, run_dir)?;
    if rtl.output.len() != csb.rows {
        bail!(
            "{}: the testbench printed {} rows, the matrix has {}",
            run_dir.display(),
            rtl.output.len(),
            csb.rows
        );
    }
    let v = Verification::compare(cfg, &sim, &rtl);
    Ok((sim, v))
}

/// What `bbs prune` does for one matrix.
pub struct PruneRequest<'a> {
    pub weights: &'a Path,
    pub tensor: Option<&'a str>,
    pub sparsity: f64,
    pub banks: usize,
    pub format: bbs_compress::QFormat,
    pub output: &'a Path,
    pub pruned_out: Option<&'a Path>,
    pub mask_out: Option<&'a Path>,
}

pub struct PruneSummary {
    pub csb: Csb,
    pub achieved_sparsity: f64,
    /// Kept weights that did not fit the fixed-point format.
    pub saturated: usize,
}

/// Read, prune, quantize and write the CSB (and optionally the pruned
/// matrix and the mask). Every file is written atomically.
pub fn prune_to_csb(req: &PruneRequest) -> Result<PruneSummary> {
    // A little-endian f32 .npy is pruned straight from the mapped file, and
    // checked for NaN/Inf by the pruning's own pass over it: only when that
    // fails is the reader's check run, whose error comes first.
    let w = bbs_compress::read_matrix_data_deferred(req.weights, req.tensor)?;
    let pruned = match bbs_compress::prune_bbs(&w.view(), req.banks, req.sparsity) {
        Ok(p) => p,
        Err(e) => {
            w.check_finite()?;
            return Err(e).with_context(|| req.weights.display().to_string());
        }
    };
    drop(w);
    let achieved_sparsity = pruned.achieved_sparsity();
    // Without --pruned or --mask the CSB takes over the pruning's memory.
    let (csb, stats, pruned) = if req.pruned_out.is_some() || req.mask_out.is_some() {
        let (csb, stats) = Csb::from_pruned(&pruned, req.format);
        (csb, stats, Some(pruned))
    } else {
        let (csb, stats) = Csb::from_pruned_owned(pruned, req.format);
        (csb, stats, None)
    };
    csb.write(req.output)?;
    if let (Some(path), Some(p)) = (req.pruned_out, &pruned) {
        bbs_compress::write_npy_atomic(path, &p.pruned())?;
    }
    if let (Some(path), Some(p)) = (req.mask_out, &pruned) {
        bbs_compress::write_npy_atomic(path, &p.mask())?;
    }
    Ok(PruneSummary {
        achieved_sparsity,
        saturated: stats.saturated,
        csb,
    })
}

/// The configuration at `path`, or the built-in default; errors name the file or the field.
pub fn load_config(path: Option<&Path>) -> Result<Config> {
    Ok(match path {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    })
}

/// An input vector .npy in the configuration's fixed-point format (see
/// [`fixed_vector`]); saturated elements are reported on stderr.
pub fn load_vector(path: &Path, cfg: &Config) -> Result<Vec<i64>> {
    let v = bbs_compress::read_vector(path)?;
    let (x, saturated) = fixed_vector(&v, cfg);
    if saturated > 0 {
        eprintln!(
            "warning: {}: {saturated} element(s) saturated to Q{}.{}",
            path.display(),
            cfg.value_width,
            cfg.frac_bits
        );
    }
    Ok(x)
}
