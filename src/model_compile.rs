//! `bbs compile MODEL -o DIR` and `bbs run DIR INPUT.npy`: a user's trained
//! recurrent network on the accelerator (docs/compile.md).
//!
//! `compile` finds the recurrent layers of a PyTorch-style state dict
//! (`.npz`, `.safetensors`, or an `.onnx` file's initializers) by their
//! tensor names, or of an ONNX graph by its `LSTM`/`GRU` nodes
//! (`onnx_import`, which also finds the steps the host computes around
//! them), prunes every matrix to
//! bank-balanced sparsity with the configuration's banks, quantizes it,
//! builds the machine's program (the overlapped one with `overlap.units`)
//! to check that the network fits, and writes the directory `run` reads:
//! `config.toml`, `manifest.json` (layers, fixed-point biases, the program's
//! size and frame cycles) and one CSB file per matrix. `run` streams a
//! sequence (frames x features) through the simulated accelerator, bit for
//! bit as the RTL computes it, checks the outputs against the plain
//! fixed-point reference, and reports the cycles per frame and the error
//! against the same pruned network in float.
//!
//! Names: `[P]weight_ih[_l<k>]`, `[P]weight_hh[_l<k>]`, `[P]bias_ih[_l<k>]`,
//! `[P]bias_hh[_l<k>]` and, for an LSTM with a projection,
//! `[P]weight_hr[_l<k>]` (`nn.LSTM`, `nn.GRU`, `nn.LSTMCell`, `nn.GRUCell`);
//! or `[P]w_ih`, `[P]w_hh`, `[P]b_ih`, `[P]b_hh`. Layers `_l0`, `_l1`, ...
//! stack. The kind follows from the shapes: `weight_hh` has 4 (LSTM) or 3
//! (GRU) times as many rows as the hidden size.

use crate::onnx_import::{self, Host, HostOp};
use crate::say;
use anyhow::{bail, Context, Result};
use bbs_compress::{list_tensors, read_matrix, read_named_vector, Csb, OutputPlan, Vector};
use bbs_sim::rnn::{Layer, Network};
use bbs_sim::workloads::{network_from_float_with, network_from_parts, FloatKind, FloatLayer};
use bbs_sim::Config;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Version of `manifest.json` (2 added `host`; version 1 directories
/// still load).
pub const MANIFEST_VERSION: u32 = 2;

#[derive(clap::Args, Debug)]
pub struct CompileArgs {
    /// A trained model's state dict: .npz or .safetensors.
    pub model: PathBuf,
    /// The directory to write (created; its files are replaced).
    #[arg(short, long)]
    pub output: PathBuf,
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Fraction of each matrix's weights to remove, in [0, 1).
    #[arg(long, default_value_t = 0.75, value_parser = crate::cli::number, allow_negative_numbers = true)]
    pub sparsity: f64,
    /// The tensor-name prefix of the network to compile, when the model
    /// holds several (e.g. `enc_` and `dec_`).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Pick the fraction bits from the weights and from the activations of
    /// this input sequence (frames x features .npy): the most that keep
    /// every weight, input and result in range.
    #[arg(long, value_name = "INPUT.npy")]
    pub calibrate: Option<PathBuf>,
    /// Per-matrix sparsity (`bbs prune --layers` TOML: [defaults] and
    /// [[layer]] rules by tensor name or glob; `skip` keeps a matrix
    /// dense; `banks`, if given, must be the configuration's).
    #[arg(long, value_name = "L.toml", conflicts_with = "pruned")]
    pub layers: Option<PathBuf>,
    /// Take the matrices from a `bbs prune --out-dir` result instead of
    /// pruning (their banks and format must be the configuration's); the
    /// biases still come from MODEL.
    #[arg(long, value_name = "DIR", conflicts_with = "calibrate")]
    pub pruned: Option<PathBuf>,
}

/// What `--calibrate` counted at one choice of fraction bits.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Calibration {
    pub frac_bits: u32,
    /// Weights and biases past the format's range.
    pub weights_saturated: usize,
    /// Input values past it.
    pub inputs_saturated: usize,
    /// Results wrapped or saturated over the calibration sequence.
    pub results_overflowed: u64,
}

impl Calibration {
    fn clean(&self) -> bool {
        self.weights_saturated == 0 && self.inputs_saturated == 0 && self.results_overflowed == 0
    }
}

/// `--calibrate`: from the most fraction bits down, the first choice under
/// which nothing leaves the format on the sequence `x`; with none, the one
/// with the fewest overflows. Returns the choice and every one tried.
fn calibrate(
    label: &str,
    cfg: &Config,
    sparsity: &dyn Fn(usize, &str) -> f64,
    float: &[FloatLayer],
    x: &Array2<f32>,
) -> Result<(u32, Vec<Calibration>)> {
    let mut tried = Vec::new();
    for frac in (0..cfg.value_width - 1).rev() {
        let c = Config {
            frac_bits: frac,
            ..cfg.clone()
        };
        c.validate()?;
        let fmt = c.format();
        let over = |v: f32| fmt.quantize(v).1;
        let weights_saturated = float
            .iter()
            .map(|l| {
                l.w_ih
                    .iter()
                    .chain(l.w_hh.iter())
                    .filter(|&&w| over(w))
                    .count()
                    + l.w_hr
                        .iter()
                        .flat_map(|w| w.iter())
                        .filter(|&&w| over(w))
                        .count()
                    + l.b_ih
                        .iter()
                        .zip(&l.b_hh)
                        .filter(|&(&a, &b)| {
                            over(a) || over(b) || (l.kind == FloatKind::Lstm && over(a + b))
                        })
                        .count()
            })
            .sum();
        let inputs_saturated = x.iter().filter(|&&v| over(v)).count();
        let net = network_from_float_with(label, &c, sparsity, float)?;
        let mut r = bbs_sim::rnn::ReferenceState::new(&c, &net);
        for row in x.rows() {
            let frame: Vec<i64> = row.iter().map(|&v| fmt.quantize(v).0).collect();
            r.step(&frame);
        }
        let results_overflowed = r
            .overflows
            .iter()
            .map(|o| o.wrapped + o.spmv_saturated + o.elementwise_saturated)
            .sum();
        let cal = Calibration {
            frac_bits: frac,
            weights_saturated,
            inputs_saturated,
            results_overflowed,
        };
        tried.push(cal);
        if cal.clean() {
            return Ok((frac, tried));
        }
    }
    let best = tried
        .iter()
        .min_by_key(|c| {
            (
                c.weights_saturated as u64 + c.inputs_saturated as u64 + c.results_overflowed,
                std::cmp::Reverse(c.frac_bits),
            )
        })
        .expect("at least one choice");
    Ok((best.frac_bits, tried))
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A `bbs compile` output directory.
    pub dir: PathBuf,
    /// The input sequence: a .npy of frames x features (floats).
    pub input: PathBuf,
    /// The outputs, frames x outputs (float32 .npy).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The run's report as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The last frame as a Gantt chart (SVG), one lane per unit: the steady
    /// state on the overlapped machine.
    #[arg(long, value_name = "FILE.svg")]
    pub timeline: Option<PathBuf>,
}

/// The names one family of state dicts gives a layer's tensors.
struct Names {
    w_ih: &'static str,
    w_hh: &'static str,
    b_ih: &'static str,
    b_hh: &'static str,
    w_hr: Option<&'static str>,
}

const FAMILIES: [Names; 2] = [
    Names {
        w_ih: "weight_ih",
        w_hh: "weight_hh",
        b_ih: "bias_ih",
        b_hh: "bias_hh",
        w_hr: Some("weight_hr"),
    },
    Names {
        w_ih: "w_ih",
        w_hh: "w_hh",
        b_ih: "b_ih",
        b_hh: "b_hh",
        w_hr: None,
    },
];

/// The tensors of one layer, by role.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LayerTensors {
    /// A dense layer's matrix.
    pub w_ih: String,
    /// Empty for a dense layer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub w_hh: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b_ih: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b_hh: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub w_hr: Option<String>,
    /// How the model stores these matrices against the machine's rows, so
    /// that `--pruned` can reuse a `bbs prune` result of it.
    #[serde(skip)]
    pub stored: StoredRows,
}

/// How a layer's stored matrix (as `bbs prune` prunes it, row by row) maps
/// to the machine's rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum StoredRows {
    /// Row r of the tensor is the machine's row r (state dicts: PyTorch's
    /// gate order is the machine's).
    #[default]
    AsIs,
    /// An ONNX `LSTM`/`GRU`'s W and R: the machine's gate block g is the
    /// tensor's block `order[g]` (ONNX orders the gates i,o,f,c and z,r,h).
    /// Each row is pruned on its own, so reordering whole rows is exact.
    GateBlocks { order: Vec<usize>, hidden: usize },
    /// A tensor whose rows are not the machine's, and why.
    Other(String),
    /// No tensor: the `size` x `size` identity through which a standalone
    /// `Sigmoid`/`Tanh` reaches the ACT unit, pruned to one slot per bank
    /// (all it holds) whatever `--sparsity` says.
    Identity { size: usize },
}

/// The sparsity that keeps one slot per bank of a `cols`-column matrix.
fn one_slot_per_bank(cfg: &Config, cols: usize) -> f64 {
    1.0 - 1.0 / cols.div_ceil(cfg.banks).max(1) as f64
}

impl StoredRows {
    /// The tensor's row behind each of the machine's `rows` rows.
    fn machine_order(&self, rows: usize) -> Option<Vec<usize>> {
        match self {
            StoredRows::GateBlocks { order, hidden } if rows == order.len() * hidden => Some(
                (0..rows)
                    .map(|r| order[r / hidden] * hidden + r % hidden)
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// The recurrent layers of `model` under one prefix, in stacking order.
pub fn find_layers(model: &Path, prefix: Option<&str>) -> Result<Vec<LayerTensors>> {
    let tensors: BTreeMap<String, Vec<usize>> = list_tensors(model)?.into_iter().collect();
    // (prefix, family, layer number or None for a cell).
    let mut found: Vec<(String, usize, Option<usize>)> = Vec::new();
    for name in tensors.keys() {
        for (f, fam) in FAMILIES.iter().enumerate() {
            let Some(at) = name.rfind(fam.w_ih) else {
                continue;
            };
            let (pre, rest) = (&name[..at], &name[at + fam.w_ih.len()..]);
            let layer = if rest.is_empty() {
                None
            } else if let Some(k) = rest.strip_prefix("_l") {
                if k.ends_with("_reverse") {
                    bail!(
                        "{}: tensor {name}: reverse and bidirectional layers are not supported yet",
                        model.display()
                    );
                }
                match k.parse::<usize>() {
                    Ok(k) => Some(k),
                    Err(_) => continue,
                }
            } else {
                continue;
            };
            found.push((pre.to_string(), f, layer));
        }
    }
    let mut prefixes: Vec<&str> = found.iter().map(|(p, _, _)| p.as_str()).collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    let chosen = match prefix {
        Some(p) => {
            if !prefixes.contains(&p) {
                bail!(
                    "{}: --prefix {p:?}: no recurrent layer has it (prefixes: {})",
                    model.display(),
                    shown_prefixes(&prefixes)
                );
            }
            p.to_string()
        }
        None => match prefixes.as_slice() {
            [] => bail!(
                "{}: holds no recurrent layer (tensors named [prefix]weight_ih[_l<k>] or [prefix]w_ih)",
                model.display()
            ),
            [p] => p.to_string(),
            _ => bail!(
                "{}: holds recurrent layers under several prefixes ({}): pick one with --prefix",
                model.display(),
                shown_prefixes(&prefixes)
            ),
        },
    };
    let mut mine: Vec<(usize, Option<usize>)> = found
        .iter()
        .filter(|(p, _, _)| *p == chosen)
        .map(|&(_, f, l)| (f, l))
        .collect();
    mine.sort_by_key(|&(_, l)| l);
    if mine.iter().any(|&(_, l)| l.is_none()) && mine.len() > 1 {
        bail!(
            "{}: prefix {chosen:?} has a cell and numbered layers; name one network",
            model.display()
        );
    }
    let mut out = Vec::new();
    for (k, &(f, l)) in mine.iter().enumerate() {
        if l.is_some_and(|l| l != k) {
            bail!(
                "{}: prefix {chosen:?}: layer {k} is missing ({}{}_l{k})",
                model.display(),
                chosen,
                FAMILIES[f].w_ih
            );
        }
        let fam = &FAMILIES[f];
        let suffix = l.map_or(String::new(), |l| format!("_l{l}"));
        let name = |role: &str| format!("{chosen}{role}{suffix}");
        let present = |role: &str| Some(name(role)).filter(|n| tensors.contains_key(n));
        let w_hh = name(fam.w_hh);
        if !tensors.contains_key(&w_hh) {
            bail!(
                "{}: {} has no {w_hh} beside it",
                model.display(),
                name(fam.w_ih)
            );
        }
        out.push(LayerTensors {
            w_ih: name(fam.w_ih),
            w_hh,
            b_ih: present(fam.b_ih),
            b_hh: present(fam.b_hh),
            w_hr: fam.w_hr.and_then(present),
            stored: StoredRows::AsIs,
        });
    }
    Ok(out)
}

fn shown_prefixes(p: &[&str]) -> String {
    p.iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One layer's float weights, its kind from the shapes.
fn read_layer(model: &Path, t: &LayerTensors) -> Result<FloatLayer> {
    let w_ih = read_matrix(model, Some(&t.w_ih))?;
    let w_hh = read_matrix(model, Some(&t.w_hh))?;
    let w_hr = t
        .w_hr
        .as_deref()
        .map(|n| read_matrix(model, Some(n)))
        .transpose()?;
    let hidden = w_hr.as_ref().map_or(w_hh.ncols(), Array2::ncols);
    let rows = w_hh.nrows();
    let kind = match (rows / hidden.max(1), rows % hidden.max(1)) {
        (4, 0) => FloatKind::Lstm,
        (3, 0) if w_hr.is_none() => FloatKind::Gru,
        _ => bail!(
            "{}: {}: {rows} rows are not 4 (LSTM) or 3 (GRU) times the hidden size {hidden}",
            model.display(),
            t.w_hh
        ),
    };
    if w_ih.nrows() != rows {
        bail!(
            "{}: {} has {} rows, {} has {rows}",
            model.display(),
            t.w_ih,
            w_ih.nrows(),
            t.w_hh
        );
    }
    let bias = |name: &Option<String>| -> Result<Vec<f32>> {
        let Some(n) = name else {
            return Ok(vec![0.0; rows]);
        };
        match read_named_vector(model, n)? {
            Vector::Float(v) if v.len() == rows => Ok(v.to_vec()),
            Vector::Float(v) => bail!(
                "{}: {n}: {} values, the layer has {rows} gate rows",
                model.display(),
                v.len()
            ),
            Vector::Fixed(_) => bail!("{}: {n}: not floating point", model.display()),
        }
    };
    Ok(FloatLayer {
        kind,
        b_ih: bias(&t.b_ih)?,
        b_hh: bias(&t.b_hh)?,
        w_ih: w_ih.to_owned(),
        w_hh: w_hh.to_owned(),
        w_hr,
    })
}

/// `manifest.json` of a compiled directory.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub manifest_version: u32,
    pub bbs_version: String,
    /// The model's file name.
    pub model: String,
    pub sparsity: f64,
    /// The configuration (`config.toml` beside it).
    pub config: String,
    /// The layers the accelerator runs, in order.
    pub layers: Vec<ManifestLayer>,
    /// Features per frame of the network's input and output (of the host
    /// steps around the layers, when there are any).
    pub input: usize,
    pub output: usize,
    /// What the host computes in float around the accelerator (an ONNX
    /// graph's nodes before and after its recurrent layers), and the
    /// shape-only nodes passed through.
    #[serde(default, skip_serializing_if = "Host::is_empty")]
    pub host: Host,
    /// The machine's program of one frame.
    pub instructions: usize,
    /// Cycles of the first frame, and per frame once frames follow each
    /// other (the overlapped machine overlaps them).
    pub first_frame_cycles: u64,
    pub steady_frame_cycles: u64,
    pub steady_frame_us: f64,
    /// With `overlap.interleaved`: the word order of the machine's input
    /// and output vectors, for a host that drives the RTL itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interleaved: Option<InterleavedIo>,
    /// With `--calibrate`: every choice of fraction bits tried, from the
    /// most down; `config.toml` has the one taken (the first with nothing
    /// out of range, else the fewest out of range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Vec<Calibration>>,
}

/// Bank-interleaved input and output (docs/architecture.md, "Bank-interleaved
/// vectors"): element `c` of a vector of `n` sits at word
/// `(c % s) * banks + c / s`, `s = ceil(n / banks)`, of `banks * s` words
/// (the others zero).
#[derive(Debug, Serialize, Deserialize)]
pub struct InterleavedIo {
    pub banks: usize,
    /// Words of each `load` (the first layer's input, padded).
    pub input_words: usize,
    /// Words of each `store`, when the output is interleaved too (a last
    /// dense layer's is in row order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_words: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ManifestLayer {
    /// `lstm`, `gru` or `dense` (an ONNX graph's `Gemm`/`MatMul`).
    pub kind: String,
    /// A dense layer's activation (`sigmoid`, `tanh`; none: linear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<bbs_sim::act::ActFn>,
    /// Each matrix's sparsity, by role (`w_ih`, `w_hh`, `w_hr`).
    pub sparsity: BTreeMap<String, f64>,
    pub tensors: LayerTensors,
    pub input: usize,
    pub hidden: usize,
    pub output: usize,
    /// CSB files, by role (`w_ih`, `w_hh`, `proj`; a dense layer's `w`).
    pub csb: BTreeMap<String, String>,
    /// Fixed-point biases: an LSTM's `b_ih + b_hh` as `bias`, a GRU's apart.
    pub biases: BTreeMap<String, Vec<i64>>,
}

pub fn compile(args: &CompileArgs) -> Result<()> {
    let mut plan = OutputPlan::new();
    plan.input("MODEL", &args.model);
    if let Some(c) = &args.config {
        plan.input("--config", c);
    }
    let dir = plan.dir("-o", &args.output)?;
    plan.check()?;
    if !(0.0..1.0).contains(&args.sparsity) {
        bail!("--sparsity: {} is not in [0, 1)", args.sparsity);
    }
    if let Some(c) = &args.calibrate {
        plan.input("--calibrate", c);
        plan.check()?;
    }
    let mut cfg = crate::flow::load_config(args.config.as_deref())?;
    let (tensors, float, host, io) = if onnx_import::is_recurrent_graph(&args.model)? {
        if args.prefix.is_some() {
            bail!(
                "--prefix: {} is an ONNX graph; its layers are its LSTM/GRU nodes (--prefix picks the tensors of a state dict)",
                args.model.display()
            );
        }
        let g = onnx_import::import(&args.model)?;
        (g.tensors, g.layers, g.host, Some((g.input, g.output)))
    } else {
        let tensors = find_layers(&args.model, args.prefix.as_deref())?;
        let float: Vec<FloatLayer> = tensors
            .iter()
            .map(|t| read_layer(&args.model, t))
            .collect::<Result<_>>()?;
        (tensors, float, Host::default(), None)
    };
    let label = file_name(&args.model);
    if let Some(l) = &args.layers {
        plan.input("--layers", l);
    }
    if let Some(p) = &args.pruned {
        plan.input("--pruned", p);
    }
    plan.check()?;
    let mut sparsities = matrix_sparsities(args, &cfg, &tensors)?;
    let sparsity = |k: usize, role: &str| sparsities[k].get(role).copied().unwrap_or(args.sparsity);
    let mut calibration = None;
    if let Some(path) = &args.calibrate {
        let x = read_matrix(path, None)?;
        let input = io.map_or_else(|| float.first().map_or(0, |l| l.w_ih.ncols()), |io| io.0);
        if x.ncols() != input {
            bail!(
                "{}: {} features per frame, the network takes {input}",
                path.display(),
                x.ncols()
            );
        }
        let x = host.to_accelerator(&x);
        let (frac, tried) = calibrate(&label, &cfg, &sparsity, &float, &x)?;
        let chosen = tried.iter().find(|c| c.frac_bits == frac).expect("tried");
        let above = tried.iter().find(|c| c.frac_bits == frac + 1);
        say!(
            "--calibrate: frac_bits {frac} (Q{}.{frac} in {} bits): {} weights, {} inputs and {} results of {} frames out of range{}",
            cfg.value_width - 1 - frac,
            cfg.value_width,
            chosen.weights_saturated,
            chosen.inputs_saturated,
            chosen.results_overflowed,
            x.nrows(),
            above.map_or(String::new(), |a| format!(
                "; frac_bits {}: {} weights, {} inputs, {} results",
                a.frac_bits, a.weights_saturated, a.inputs_saturated, a.results_overflowed
            ))
        )?;
        cfg.frac_bits = frac;
        calibration = Some(tried);
    }
    let net = match &args.pruned {
        Some(dir) => network_from_pruned(&cfg, &float, &tensors, dir)?,
        None => network_from_float_with(&label, &cfg, &sparsity, &float)?,
    };
    if args.pruned.is_some() {
        // The sparsity the pruned files hold: the slots they keep per bank.
        let kept = |c: &Csb| 1.0 - c.slots as f64 / c.bank_size.max(1) as f64;
        for (m, layer) in sparsities.iter_mut().zip(&net.layers) {
            let (w_ih, w_hh, w_hr) = match layer {
                Layer::Lstm(l) => (&l.w_ih, Some(&l.w_hh), l.proj.as_ref()),
                Layer::Gru(g) => (&g.w_ih, Some(&g.w_hh), None),
                Layer::Dense(d) => (&d.w, None, None),
            };
            m.insert("w_ih".into(), kept(w_ih));
            if let Some(w_hh) = w_hh {
                m.insert("w_hh".into(), kept(w_hh));
            }
            if let Some(p) = w_hr {
                m.insert("w_hr".into(), kept(p));
            }
        }
    }
    net.check()
        .with_context(|| format!("{}", args.model.display()))?;
    let compiled = net
        .compile(&cfg)
        .with_context(|| format!("{} on configuration '{}'", label, cfg.name))?;
    let machine = bbs_sim::machine::Machine::new(&cfg, compiled.matrices.clone())?;
    let cycles = machine.frame_cycles(&compiled.program, 6);
    let (first, steady) = (cycles[0], *cycles.last().expect("frames"));

    let mut layers = Vec::new();
    for (k, (layer, t)) in net.layers.iter().zip(&tensors).enumerate() {
        let mut csb = BTreeMap::new();
        let mut biases = BTreeMap::new();
        let mut put = |role: &str, m: &Csb, plan: &mut OutputPlan| -> Result<()> {
            let file = format!("layer{k}.{role}.csb");
            plan.part(dir, &file);
            m.write_into(plan.dest_in(dir, &file))?;
            csb.insert(role.to_string(), file);
            Ok(())
        };
        let (kind, hidden) = match layer {
            Layer::Lstm(l) => {
                put("w_ih", &l.w_ih, &mut plan)?;
                put("w_hh", &l.w_hh, &mut plan)?;
                if let Some(p) = &l.proj {
                    put("proj", p, &mut plan)?;
                }
                biases.insert("bias".to_string(), l.bias.clone());
                ("lstm", l.hidden)
            }
            Layer::Gru(g) => {
                put("w_ih", &g.w_ih, &mut plan)?;
                put("w_hh", &g.w_hh, &mut plan)?;
                biases.insert("b_ih".to_string(), g.b_ih.clone());
                biases.insert("b_hh".to_string(), g.b_hh.clone());
                ("gru", g.hidden)
            }
            Layer::Dense(d) => {
                put("w", &d.w, &mut plan)?;
                biases.insert("bias".to_string(), d.bias.clone());
                ("dense", d.w.rows)
            }
        };
        layers.push(ManifestLayer {
            act: match layer {
                Layer::Dense(d) => d.act,
                _ => None,
            },
            kind: kind.into(),
            sparsity: sparsities[k].clone(),
            tensors: t.clone(),
            input: layer.input(),
            hidden,
            output: layer.output(),
            csb,
            biases,
        });
    }
    // Dense host steps' weights beside the layers'.
    let mut host = host;
    for (place, steps) in [("before", &mut host.before), ("after", &mut host.after)] {
        for (k, step) in steps.iter_mut().enumerate() {
            if let HostOp::Dense { weight, .. } = &mut step.op {
                *weight = format!("host/{place}{k}.weight.npy");
                plan.part(dir, weight);
                let m = step
                    .matrix
                    .as_ref()
                    .expect("an imported dense step has its weight");
                plan.dest_in(dir, weight).write_npy(m)?;
            }
        }
    }
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        bbs_version: env!("CARGO_PKG_VERSION").into(),
        model: label.clone(),
        sparsity: args.sparsity,
        config: cfg.name.clone(),
        layers,
        input: io.map_or(net.input(), |io| io.0),
        output: io.map_or(net.output(), |io| io.1),
        host: host.clone(),
        instructions: compiled.program.instrs.len(),
        calibration,
        first_frame_cycles: first,
        steady_frame_cycles: steady,
        steady_frame_us: steady as f64 / f64::from(cfg.host.clock_mhz),
        interleaved: compiled.program.host.load.map(|il| InterleavedIo {
            banks: il.banks,
            input_words: il.words(),
            output_words: compiled.program.host.store.map(|o| o.words()),
        }),
    };
    // The trained weights as they are, for `run`'s error against the dense
    // float model.
    for (k, l) in float.iter().enumerate() {
        let mut put = |role: &str, m: &Array2<f32>| -> Result<()> {
            let file = format!("dense/layer{k}.{role}.npy");
            plan.part(dir, &file);
            plan.dest_in(dir, &file).write_npy(m)?;
            Ok(())
        };
        put("w_ih", &l.w_ih)?;
        if !matches!(l.kind, FloatKind::Dense(_)) {
            put("w_hh", &l.w_hh)?;
        }
        if let Some(p) = &l.w_hr {
            put("w_hr", p)?;
        }
        let biases = Array2::from_shape_fn((2, l.b_ih.len()), |(r, j)| {
            if r == 0 {
                l.b_ih[j]
            } else {
                l.b_hh[j]
            }
        });
        put("biases", &biases)?;
    }
    // The memories' $readmemh images (matrices, program, issue tables,
    // vector memory) for the RTL `bbs hdl --config DIR/config.toml` builds;
    // no run (in.hex and run.hex come with `bbs verify --model`).
    bbs_hdlgen::program::RunFiles {
        cfg: &cfg,
        matrices: &compiled.matrices,
        program: &compiled.program,
        inputs: &[],
        runs: 0,
        matrix_load: bbs_hdlgen::program::MatrixLoad::Init,
    }
    .stage(&mut plan, dir, "hex")?;
    plan.write_in(dir, "config.toml", cfg.to_toml().as_bytes())?;
    plan.write_in(
        dir,
        "manifest.json",
        format!("{}\n", serde_json::to_string_pretty(&manifest)?).as_bytes(),
    )?;
    plan.publish()?;
    let mut kinds: Vec<String> = manifest
        .layers
        .iter()
        .map(|l| format!("{} {} -> {}", l.kind, l.input, l.output))
        .collect();
    if manifest.host.reverse {
        kinds.push("in reverse".into());
    }
    for (place, steps) in [
        ("before", &manifest.host.before),
        ("after", &manifest.host.after),
    ] {
        if !steps.is_empty() {
            let nodes: Vec<&str> = steps.iter().map(|s| s.node.as_str()).collect();
            kinds.push(format!("on the host {place}: {}", nodes.join(", ")));
        }
    }
    if !manifest.host.folded.is_empty() {
        kinds.push(format!("folded {}", manifest.host.folded.join(", ")));
    }
    say!(
        "{label}: {} on '{}' at {}: {} instructions per frame, first frame {first} cycles, then {steady} cycles = {:.2} us per frame; wrote {}",
        kinds.join(", "),
        cfg.name,
        match (&args.layers, &args.pruned) {
            (Some(p), _) => format!("the sparsities of {}", p.display()),
            (_, Some(p)) => format!("the pruned matrices of {}", p.display()),
            _ => format!("{:.0}% sparsity", 100.0 * args.sparsity),
        },
        manifest.instructions,
        manifest.steady_frame_us,
        args.output.display()
    )?;
    Ok(())
}

/// The network with the CSB files a `bbs prune --out-dir` wrote for its
/// tensors as its matrices, each checked against the configuration and the
/// model's shape.
fn network_from_pruned(
    cfg: &Config,
    float: &[FloatLayer],
    tensors: &[LayerTensors],
    dir: &Path,
) -> Result<Network> {
    let pruned = crate::sim_cmd::load_model(dir)?;
    network_from_parts(cfg, float, |k, role, w| -> Result<Csb> {
        let t = &tensors[k];
        if let StoredRows::Identity { size } = t.stored {
            let p = bbs_compress::prune_bbs(&w.view(), cfg.banks, one_slot_per_bank(cfg, size))?;
            return Ok(Csb::from_pruned(&p, cfg.format()).0);
        }
        let name = match role {
            "w_ih" => &t.w_ih,
            "w_hh" => &t.w_hh,
            _ => t.w_hr.as_ref().expect("a projection has its tensor"),
        };
        let Some(p) = pruned.iter().find(|p| &p.name == name) else {
            bail!(
                "{}: has no pruned {name}",
                dir.join("manifest.json").display()
            );
        };
        let file = dir.join(&p.csb_file);
        if let StoredRows::Other(why) = &t.stored {
            bail!("--pruned: {name} {why}; compile this model with --sparsity or --layers");
        }
        let c = &p.csb;
        if c.banks != cfg.banks || c.format != cfg.format() {
            bail!(
                "{}: {} banks, {} value bits with {} fraction bits; the configuration '{}' has {} banks, {} and {}",
                file.display(),
                c.banks,
                c.format.width,
                c.format.frac,
                cfg.name,
                cfg.banks,
                cfg.value_width,
                cfg.frac_bits
            );
        }
        if (c.rows, c.cols) != w.dim() {
            bail!(
                "{}: {}x{}, the model's {name} is {}x{}",
                file.display(),
                c.rows,
                c.cols,
                w.nrows(),
                w.ncols()
            );
        }
        Ok(match t.stored.machine_order(c.rows) {
            Some(order) => c.select_rows(&order),
            None => c.clone(),
        })
    })
}

/// Each layer's matrices' sparsities, by role: `--sparsity`, or the
/// `--layers` rule matching the tensor's name.
fn matrix_sparsities(
    args: &CompileArgs,
    cfg: &Config,
    tensors: &[LayerTensors],
) -> Result<Vec<BTreeMap<String, f64>>> {
    use crate::layers::{LayerRules, LayerSettings};
    let defaults = LayerSettings {
        sparsity: args.sparsity,
        banks: cfg.banks,
        skip: false,
    };
    let rules = match &args.layers {
        Some(p) => LayerRules::from_file(p, defaults)?,
        None => LayerRules::new(defaults),
    };
    let shown = args
        .layers
        .as_deref()
        .map_or("--sparsity".to_string(), |p| p.display().to_string());
    tensors
        .iter()
        .map(|t| {
            let mut m = BTreeMap::new();
            if let StoredRows::Identity { size } = t.stored {
                m.insert("w_ih".to_string(), one_slot_per_bank(cfg, size));
            }
            for (role, name) in [("w_ih", Some(&t.w_ih)), ("w_hh", Some(&t.w_hh)), ("w_hr", t.w_hr.as_ref())] {
                let Some(name) = name.filter(|n| !n.is_empty()) else { continue };
                let s = rules.for_tensor(name);
                if s.banks != cfg.banks {
                    bail!(
                        "{shown}: {name}: banks = {}, but the machine's banks are the configuration's ({})",
                        s.banks,
                        cfg.banks
                    );
                }
                let sparsity = if s.skip { 0.0 } else { s.sparsity };
                if !(0.0..1.0).contains(&sparsity) {
                    bail!("{shown}: {name}: sparsity {sparsity} is not in [0, 1)");
                }
                m.insert(role.to_string(), sparsity);
            }
            Ok(m)
        })
        .collect()
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The network and configuration of a compiled directory.
/// The `$readmemh` images of a compiled network's program, matrices and
/// vector memory, as `compile` writes them into `hex/` (`bbs hdl --model`
/// names them by its prefix).
pub fn memory_images(cfg: &Config, net: &Network) -> Result<Vec<(String, String)>> {
    let compiled = net.compile(cfg)?;
    Ok(bbs_hdlgen::program::RunFiles {
        cfg,
        matrices: &compiled.matrices,
        program: &compiled.program,
        inputs: &[],
        runs: 0,
        matrix_load: bbs_hdlgen::program::MatrixLoad::Init,
    }
    .files())
}

pub fn load_compiled(dir: &Path) -> Result<(Config, Manifest, Network)> {
    let text = std::fs::read_to_string(dir.join("manifest.json"))
        .with_context(|| format!("{}: not a `bbs compile` directory", dir.display()))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{}", dir.join("manifest.json").display()))?;
    if !(1..=MANIFEST_VERSION).contains(&manifest.manifest_version) {
        bail!(
            "{}: manifest_version {} is not 1..={MANIFEST_VERSION}",
            dir.join("manifest.json").display(),
            manifest.manifest_version
        );
    }
    let cfg = Config::from_file(&dir.join("config.toml"))?;
    let mut manifest = manifest;
    for step in manifest
        .host
        .before
        .iter_mut()
        .chain(manifest.host.after.iter_mut())
    {
        if let HostOp::Dense { weight, .. } = &step.op {
            step.matrix = Some(read_matrix(&dir.join(weight), None)?);
        }
    }
    onnx_import::check_loaded(&manifest.host.before)
        .and_then(|()| onnx_import::check_loaded(&manifest.host.after))
        .with_context(|| format!("{}", dir.display()))?;
    let mut layers = Vec::new();
    for l in &manifest.layers {
        let csb = |role: &str| -> Result<Csb> {
            let file = l
                .csb
                .get(role)
                .with_context(|| format!("{}: a {} layer without {role}", dir.display(), l.kind))?;
            Ok(Csb::read(&dir.join(file))?)
        };
        let bias = |name: &str| -> Result<Vec<i64>> {
            l.biases
                .get(name)
                .cloned()
                .with_context(|| format!("{}: a {} layer without {name}", dir.display(), l.kind))
        };
        layers.push(match l.kind.as_str() {
            "lstm" => Layer::Lstm(bbs_sim::rnn::LstmLayer {
                input: l.input,
                hidden: l.hidden,
                w_ih: csb("w_ih")?,
                w_hh: csb("w_hh")?,
                bias: bias("bias")?,
                proj: l
                    .csb
                    .contains_key("proj")
                    .then(|| csb("proj"))
                    .transpose()?,
            }),
            "gru" => Layer::Gru(bbs_sim::rnn::GruLayer {
                input: l.input,
                hidden: l.hidden,
                w_ih: csb("w_ih")?,
                w_hh: csb("w_hh")?,
                b_ih: bias("b_ih")?,
                b_hh: bias("b_hh")?,
            }),
            "dense" => Layer::Dense(bbs_sim::rnn::DenseLayer {
                w: csb("w")?,
                bias: bias("bias")?,
                act: l.act,
            }),
            other => bail!(
                "{}: layer kind {other:?} is not lstm, gru or dense",
                dir.display()
            ),
        });
    }
    let net = Network { layers };
    net.check()
        .with_context(|| format!("{}", dir.join("manifest.json").display()))?;
    Ok((cfg, manifest, net))
}

/// Max and RMS of |machine - reference| over every output.
fn errors(out: &[Vec<f64>], reference: &[Vec<f64>]) -> (f64, f64) {
    let (mut max, mut sq, mut n) = (0.0f64, 0.0f64, 0usize);
    for (o, f) in out.iter().zip(reference) {
        for (&a, &b) in o.iter().zip(f) {
            let e = (a - b).abs();
            max = max.max(e);
            sq += e * e;
            n += 1;
        }
    }
    (max, (sq / n.max(1) as f64).sqrt())
}

/// The trained network as `compile` found it (`dense/`), in float.
fn load_dense(dir: &Path, manifest: &Manifest) -> Result<bbs_sim::rnn::FloatState> {
    let mut layers = Vec::new();
    for (k, l) in manifest.layers.iter().enumerate() {
        let m = |role: &str| read_matrix(&dir.join(format!("dense/layer{k}.{role}.npy")), None);
        let biases = m("biases")?;
        if l.kind == "dense" {
            layers.push(FloatLayer::dense(m("w_ih")?, biases.row(0).to_vec(), l.act));
            continue;
        }
        layers.push(FloatLayer {
            kind: if l.kind == "lstm" {
                FloatKind::Lstm
            } else {
                FloatKind::Gru
            },
            w_ih: m("w_ih")?,
            w_hh: m("w_hh")?,
            b_ih: biases.row(0).to_vec(),
            b_hh: biases.row(1).to_vec(),
            w_hr: l.csb.contains_key("proj").then(|| m("w_hr")).transpose()?,
        });
    }
    Ok(bbs_sim::rnn::FloatState::dense(&layers))
}

/// `bbs run`'s report.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub model: String,
    pub config: String,
    pub frames: usize,
    pub input: usize,
    pub output: usize,
    /// Each frame's cycles (on the overlapped machine from the end of the
    /// frame before).
    pub frame_cycles: Vec<u64>,
    pub total_cycles: u64,
    pub steady_frame_cycles: u64,
    pub steady_frame_us: f64,
    pub multiplier_utilization: f64,
    /// The outputs equal the plain fixed-point reference's (always: a
    /// difference is an error).
    pub bit_exact_vs_reference: bool,
    /// Against the same pruned network in float (f64, exact sigmoid/tanh).
    pub max_abs_error_vs_float: f64,
    pub rms_error_vs_float: f64,
    /// Against the trained network as it is (dense, float weights, float
    /// inputs): what pruning and the fixed point cost together.
    pub max_abs_error_vs_dense: f64,
    pub rms_error_vs_dense: f64,
    /// Per layer, over the sequence: SpMxV sums that wrapped the
    /// accumulator, SpMxV and element-wise results saturated to the format.
    pub overflows: Vec<bbs_sim::reference::Overflows>,
}

pub fn run(args: &RunArgs) -> Result<()> {
    let mut plan = OutputPlan::new();
    plan.input("DIR", &args.dir);
    plan.input("INPUT", &args.input);
    let out = args
        .output
        .as_deref()
        .map(|p| plan.file("-o", p))
        .transpose()?;
    let json = args
        .json
        .as_deref()
        .map(|p| plan.file("--json", p))
        .transpose()?;
    let timeline = args
        .timeline
        .as_deref()
        .map(|p| plan.file("--timeline", p))
        .transpose()?;
    plan.check()?;
    let compiled = load_compiled(&args.dir)?;
    let x = read_matrix(&args.input, None)?;
    let (y, report, gantt) =
        run_loaded(compiled, &args.dir, &x, &args.input.display().to_string())?;
    if let Some(t) = timeline {
        plan.write(t, bbs_sim::report::render_svg(&gantt).as_bytes())?;
    }
    if let Some(o) = out {
        plan.dest(o).write_npy(&y)?;
    }
    if let Some(j) = json {
        plan.write(
            j,
            format!("{}\n", serde_json::to_string_pretty(&report)?).as_bytes(),
        )?;
    }
    plan.publish()?;
    print_run(&report)
}

/// Runs the sequence `x` (frames x features; `input` names it in errors)
/// through the compiled directory `dir`: the outputs (frames x outputs,
/// float) and the report `bbs run` prints. The accelerator's outputs are
/// checked against the fixed-point reference (a difference is an error).
pub fn run_compiled(dir: &Path, x: &Array2<f32>, input: &str) -> Result<(Array2<f32>, RunReport)> {
    let (y, report, _) = run_loaded(load_compiled(dir)?, dir, x, input)?;
    Ok((y, report))
}

fn run_loaded(
    (cfg, manifest, net): (Config, Manifest, Network),
    dir: &Path,
    x: &Array2<f32>,
    input: &str,
) -> Result<(Array2<f32>, RunReport, bbs_sim::report::Gantt)> {
    if x.ncols() != manifest.input {
        bail!(
            "{input}: {} features per frame, the network takes {}",
            x.ncols(),
            manifest.input
        );
    }
    if let Some((t, j)) = x
        .indexed_iter()
        .find(|(_, v)| !v.is_finite())
        .map(|(i, _)| i)
    {
        bail!("{input}: frame {t}, feature {j} is not a finite number");
    }
    let fmt = cfg.format();
    let host = &manifest.host;
    // The host's steps before the layers, in float; then the machine's format.
    let layer_inputs = host.to_layers(x);
    let frames: Vec<Vec<i64>> = layer_inputs
        .iter()
        .map(|r| r.iter().map(|&v| fmt.quantize(v as f32).0).collect())
        .collect();
    let run = bbs_sim::rnn::run_sequence(&cfg, &net, &frames)?;
    let mut reference_state = bbs_sim::rnn::ReferenceState::new(&cfg, &net);
    let reference: Vec<Vec<i64>> = frames.iter().map(|f| reference_state.step(f)).collect();
    if reference != run.outputs {
        bail!("internal error: the accelerator's outputs differ from the fixed-point reference");
    }
    let float = host.from_layers(bbs_sim::rnn::float_sequence(&cfg, &net, &frames));
    let mut dense = load_dense(dir, &manifest)?;
    let dense_out = host.from_layers(layer_inputs.iter().map(|r| dense.step_f64(r)).collect());
    let outputs = host.from_layers(
        run.outputs
            .iter()
            .map(|o| o.iter().map(|&v| f64::from(fmt.dequantize(v))).collect())
            .collect(),
    );
    let (dmax, drms) = errors(&outputs, &dense_out);
    let (max, rms) = errors(&outputs, &float);
    let frame_cycles: Vec<u64> = run.frames.iter().map(|r| r.cycles).collect();
    let total: u64 = frame_cycles.iter().sum();
    let macs: u64 = run.frames.iter().map(|r| r.macs).sum();
    let steady = *frame_cycles.last().unwrap_or(&0);
    let report = RunReport {
        model: manifest.model.clone(),
        config: cfg.name.clone(),
        frames: frames.len(),
        input: manifest.input,
        output: manifest.output,
        frame_cycles,
        total_cycles: total,
        steady_frame_cycles: steady,
        steady_frame_us: steady as f64 / f64::from(cfg.host.clock_mhz),
        multiplier_utilization: macs as f64 / ((cfg.pes * cfg.banks) as f64 * total.max(1) as f64),
        bit_exact_vs_reference: true,
        max_abs_error_vs_float: max,
        rms_error_vs_float: rms,
        max_abs_error_vs_dense: dmax,
        rms_error_vs_dense: drms,
        overflows: reference_state.overflows.clone(),
    };
    let y = Array2::from_shape_fn((frames.len(), manifest.output), |(t, j)| {
        outputs[t][j] as f32
    });
    let gantt = last_frame_gantt(&cfg, &manifest, &net, &run)?;
    Ok((y, report, gantt))
}

/// The last frame of `run` as a Gantt chart (an empty one without frames).
fn last_frame_gantt(
    cfg: &Config,
    manifest: &Manifest,
    net: &Network,
    run: &bbs_sim::rnn::SequenceRun,
) -> Result<bbs_sim::report::Gantt> {
    let compiled = net.compile(cfg)?;
    // The network's matrices by name (`layer0.w_hh`), for the bars' labels.
    let mut names = Vec::new();
    for (k, l) in net.layers.iter().enumerate() {
        let roles: &[&str] = match l {
            Layer::Lstm(l) if l.proj.is_some() => &["w_ih", "w_hh", "proj"],
            Layer::Lstm(_) | Layer::Gru(_) => &["w_ih", "w_hh"],
            Layer::Dense(_) => &["w"],
        };
        names.extend(roles.iter().map(|r| format!("layer{k}.{r}")));
    }
    let matrix_names: Vec<String> = compiled
        .source
        .iter()
        .map(|&m| names.get(m).cloned().unwrap_or_default())
        .collect();
    let t = run.frames.len();
    let (cycles, timeline) = run
        .frames
        .last()
        .map_or((0, &[][..]), |f| (f.cycles, f.timeline.as_slice()));
    Ok(bbs_sim::report::Gantt::from_spans(
        format!(
            "{} on '{}': frame {}, one lane per unit",
            manifest.model,
            cfg.name,
            t.saturating_sub(1)
        ),
        cycles,
        f64::from(cfg.host.clock_mhz),
        bbs_sim::report::frame_spans(
            cfg,
            &compiled.program.instrs,
            &compiled.matrices,
            &matrix_names,
            timeline,
        ),
    ))
}

fn print_run(report: &RunReport) -> Result<()> {
    say!(
        "{} on '{}': {} frames of {} features -> {}; {} cycles in all, {} per frame once they follow each other ({:.2} us), multipliers busy {:.1}%; bit-exact with the fixed-point reference; against the pruned network in float: max |error| {:.4}, RMS {:.4}; against the dense trained one: max |error| {:.4}, RMS {:.4}",
        report.model,
        report.config,
        report.frames,
        report.input,
        report.output,
        report.total_cycles,
        report.steady_frame_cycles,
        report.steady_frame_us,
        100.0 * report.multiplier_utilization,
        report.max_abs_error_vs_float,
        report.rms_error_vs_float,
        report.max_abs_error_vs_dense,
        report.rms_error_vs_dense
    )?;
    for (k, o) in report.overflows.iter().enumerate() {
        say!(
            "  layer {k}: {} SpMxV sums wrapped, {} SpMxV and {} element-wise results saturated",
            o.wrapped,
            o.spmv_saturated,
            o.elementwise_saturated
        )?;
    }
    Ok(())
}
