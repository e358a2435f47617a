//! Built-in named workloads: networks with random weights from a fixed seed,
//! pruned to bank-balanced sparsity for a configuration.
//!
//! | name | network |
//! |---|---|
//! | `ese-lstm` | the LSTM of ESE and C-LSTM ("Google LSTM"): 153 inputs, 1024 cells, 512 projection; gate matrices 4096 x 153 (input) and 4096 x 512 (recurrent), projection 512 x 1024 |
//! | `small-lstm` | 64 inputs, 128 cells, no projection |
//! | `small-gru` | 64 inputs, 128 hidden |
//! | `stacked-lstm` | two LSTM layers: 64 -> 96 -> 96 |
//!
//! Weights are drawn from N(0, 1/sqrt(fan_in)) with a ChaCha8 generator
//! seeded by `seed`, pruned with [`bbs_compress::prune_bbs`] at `sparsity`
//! with the configuration's banks, and quantized to its format. An LSTM's
//! gate weights are drawn as one matrix over `[x; h]` and pruned as two,
//! `w_ih` and `w_hh`, as PyTorch stores them.
//! [`network_with_weights`] also returns the dense float weights, so the
//! baselines (`crate::report`) can prune the very same weights to other
//! patterns.

use crate::config::Config;
use crate::rnn::{DenseLayer, GruLayer, Layer, LstmLayer, Network};
use bbs_compress::{prune_bbs, Csb};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

pub const NAMES: [&str; 4] = ["ese-lstm", "small-lstm", "small-gru", "stacked-lstm"];

/// The most frames one run simulates (`--frames`): frames stream through
/// the simulator in constant memory, but each takes time and a line of the
/// report.
pub const MAX_FRAMES: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("workload: '{0}' is not one of {names}", names = NAMES.join(", "))]
    Unknown(String),
    #[error("workload {name}: {message}")]
    Prune { name: String, message: String },
}

struct Gen {
    rng: ChaCha8Rng,
}

impl Gen {
    fn matrix(&mut self, rows: usize, cols: usize) -> ndarray::Array2<f32> {
        let normal = Normal::new(0.0f32, 1.0 / (cols as f32).sqrt()).expect("a valid deviation");
        ndarray::Array2::from_shape_simple_fn((rows, cols), || normal.sample(&mut self.rng))
    }
    fn vector(&mut self, len: usize, scale: f32) -> Vec<f32> {
        let normal = Normal::new(0.0f32, scale).expect("a valid deviation");
        (0..len).map(|_| normal.sample(&mut self.rng)).collect()
    }
}

fn prune(
    name: &str,
    cfg: &Config,
    w: &ndarray::Array2<f32>,
    sparsity: f64,
) -> Result<Csb, WorkloadError> {
    let p = prune_bbs(&w.view(), cfg.banks, sparsity).map_err(|e| WorkloadError::Prune {
        name: name.into(),
        message: e.to_string(),
    })?;
    Ok(Csb::from_pruned(&p, cfg.format()).0)
}

fn quantize(cfg: &Config, v: &[f32]) -> Vec<i64> {
    v.iter().map(|&x| cfg.format().quantize(x).0).collect()
}

/// The dense float weights of a workload's matrices, as drawn before pruning.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseMatrix {
    /// `layer<l>.w` (LSTM gates), `layer<l>.proj`, `layer<l>.w_ih`, `layer<l>.w_hh`.
    pub name: String,
    pub weights: ndarray::Array2<f32>,
}

/// Records the dense matrices in the order [`Network::matrices`] numbers them.
struct Recorder<'a> {
    name: &'a str,
    cfg: &'a Config,
    sparsity: f64,
    dense: Vec<DenseMatrix>,
}

impl Recorder<'_> {
    fn prune(&mut self, label: String, w: ndarray::Array2<f32>) -> Result<Csb, WorkloadError> {
        let csb = prune(self.name, self.cfg, &w, self.sparsity)?;
        self.dense.push(DenseMatrix {
            name: label,
            weights: w,
        });
        Ok(csb)
    }
}

fn lstm(
    g: &mut Gen,
    rec: &mut Recorder,
    layer: usize,
    input: usize,
    hidden: usize,
    proj: Option<usize>,
) -> Result<Layer, WorkloadError> {
    let cfg = rec.cfg;
    let out = proj.unwrap_or(hidden);
    // One draw over [x; h] (the fan-in the scale is for), pruned as the
    // two matrices the machine runs apart.
    let w = g.matrix(4 * hidden, input + out);
    let w_ih = rec.prune(
        format!("layer{layer}.w_ih"),
        w.slice(ndarray::s![.., ..input]).to_owned(),
    )?;
    let w_hh = rec.prune(
        format!("layer{layer}.w_hh"),
        w.slice(ndarray::s![.., input..]).to_owned(),
    )?;
    let bias = quantize(cfg, &g.vector(4 * hidden, 0.1));
    let proj = match proj {
        Some(p) => Some(rec.prune(format!("layer{layer}.proj"), g.matrix(p, hidden))?),
        None => None,
    };
    Ok(Layer::Lstm(LstmLayer {
        input,
        hidden,
        w_ih,
        w_hh,
        bias,
        proj,
    }))
}

/// A named workload for `cfg` at `sparsity`.
pub fn network(
    name: &str,
    cfg: &Config,
    sparsity: f64,
    seed: u64,
) -> Result<Network, WorkloadError> {
    network_with_weights(name, cfg, sparsity, seed).map(|(net, _)| net)
}

/// [`network`], and the dense float weights its matrices were pruned from,
/// in the order of [`Network::matrices`] (for baselines that prune the same
/// weights to other patterns).
pub fn network_with_weights(
    name: &str,
    cfg: &Config,
    sparsity: f64,
    seed: u64,
) -> Result<(Network, Vec<DenseMatrix>), WorkloadError> {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
    };
    let mut rec = Recorder {
        name,
        cfg,
        sparsity,
        dense: Vec::new(),
    };
    let layers = match name {
        "ese-lstm" => vec![lstm(&mut g, &mut rec, 0, 153, 1024, Some(512))?],
        "small-lstm" => vec![lstm(&mut g, &mut rec, 0, 64, 128, None)?],
        "stacked-lstm" => vec![
            lstm(&mut g, &mut rec, 0, 64, 96, None)?,
            lstm(&mut g, &mut rec, 1, 96, 96, None)?,
        ],
        "small-gru" => {
            let (input, hidden) = (64, 128);
            let w_ih = rec.prune("layer0.w_ih".into(), g.matrix(3 * hidden, input))?;
            let w_hh = rec.prune("layer0.w_hh".into(), g.matrix(3 * hidden, hidden))?;
            let b_ih = quantize(cfg, &g.vector(3 * hidden, 0.1));
            let b_hh = quantize(cfg, &g.vector(3 * hidden, 0.1));
            vec![Layer::Gru(GruLayer {
                input,
                hidden,
                w_ih,
                w_hh,
                b_ih,
                b_hh,
            })]
        }
        other => return Err(WorkloadError::Unknown(other.to_string())),
    };
    Ok((Network { layers }, rec.dense))
}

/// `frames` random input frames in (-1, 1), quantized, from `seed`.
pub fn frames(cfg: &Config, input: usize, frames: usize, seed: u64) -> Vec<Vec<i64>> {
    frame_stream(cfg, input, seed).take(frames).collect()
}

/// The frames of [`frames`], one at a time and without end: the first `n`
/// are `frames(cfg, input, n, seed)`.
pub fn frame_stream(cfg: &Config, input: usize, seed: u64) -> impl Iterator<Item = Vec<i64>> + '_ {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5eed),
    };
    std::iter::repeat_with(move || {
        quantize(
            cfg,
            &g.vector(input, 0.5)
                .iter()
                .map(|v| v.clamp(-0.99, 0.99))
                .collect::<Vec<_>>(),
        )
    })
}

/// A recurrent layer's float weights as PyTorch stores them (`nn.LSTM`,
/// `nn.GRU`, their `Cell`s): gate rows i, f, g, o (LSTM) or r, z, n (GRU).
/// A dense layer (`FloatKind::Dense`) has its matrix (`output x input`) in
/// `w_ih` and its bias in `b_ih`; `w_hh` is empty (0 x 0) and `b_hh` zeros.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatLayer {
    pub kind: FloatKind,
    /// `G hidden x input`.
    pub w_ih: ndarray::Array2<f32>,
    /// `G hidden x output` (the projection's size with one, else hidden).
    pub w_hh: ndarray::Array2<f32>,
    /// `G hidden` each (zeros when the model has none).
    pub b_ih: Vec<f32>,
    pub b_hh: Vec<f32>,
    /// LSTM projection (`weight_hr`), `output x hidden`.
    pub w_hr: Option<ndarray::Array2<f32>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatKind {
    Lstm,
    Gru,
    /// `y = act(W x + b)`.
    Dense(Option<crate::act::ActFn>),
}

impl FloatLayer {
    /// A dense layer `y = act(w x + b)`.
    pub fn dense(
        w: ndarray::Array2<f32>,
        b: Vec<f32>,
        act: Option<crate::act::ActFn>,
    ) -> FloatLayer {
        FloatLayer {
            kind: FloatKind::Dense(act),
            b_hh: vec![0.0; b.len()],
            b_ih: b,
            w_ih: w,
            w_hh: ndarray::Array2::zeros((0, 0)),
            w_hr: None,
        }
    }
}

/// A trained network on `cfg`: every matrix pruned to `sparsity` with the
/// configuration's banks and quantized to its format, biases quantized
/// (an LSTM's `b_ih + b_hh` as one). `label` names the layers in errors.
pub fn network_from_float(
    label: &str,
    cfg: &Config,
    sparsity: f64,
    layers: &[FloatLayer],
) -> Result<Network, WorkloadError> {
    network_from_float_with(label, cfg, &|_, _| sparsity, layers)
}

/// [`network_from_float`] with a sparsity per matrix: `sparsity(layer,
/// role)`, role `w_ih`, `w_hh` or `w_hr`.
pub fn network_from_float_with(
    label: &str,
    cfg: &Config,
    sparsity: &dyn Fn(usize, &str) -> f64,
    layers: &[FloatLayer],
) -> Result<Network, WorkloadError> {
    network_from_parts(cfg, layers, |k, role, w| {
        prune(&format!("{label} layer {k}"), cfg, w, sparsity(k, role))
    })
}

/// A trained network on `cfg` with its matrices given: `matrix(layer, role,
/// float weights)` (role `w_ih`, `w_hh` or `w_hr`) makes each CSB (pruned
/// here, or read from a `bbs prune` result); biases quantized as in
/// [`network_from_float`].
pub fn network_from_parts<E, F>(
    cfg: &Config,
    layers: &[FloatLayer],
    mut matrix: F,
) -> Result<Network, E>
where
    F: FnMut(usize, &str, &ndarray::Array2<f32>) -> Result<Csb, E>,
{
    let mut out = Vec::with_capacity(layers.len());
    for (k, l) in layers.iter().enumerate() {
        let hidden = l.w_ih.nrows() / if l.kind == FloatKind::Lstm { 4 } else { 3 };
        out.push(match l.kind {
            FloatKind::Dense(act) => Layer::Dense(DenseLayer {
                w: matrix(k, "w_ih", &l.w_ih)?,
                bias: quantize(cfg, &l.b_ih),
                act,
            }),
            FloatKind::Lstm => {
                let bias: Vec<f32> = l.b_ih.iter().zip(&l.b_hh).map(|(a, b)| a + b).collect();
                Layer::Lstm(LstmLayer {
                    input: l.w_ih.ncols(),
                    hidden,
                    w_ih: matrix(k, "w_ih", &l.w_ih)?,
                    w_hh: matrix(k, "w_hh", &l.w_hh)?,
                    bias: quantize(cfg, &bias),
                    proj: match &l.w_hr {
                        Some(w) => Some(matrix(k, "w_hr", w)?),
                        None => None,
                    },
                })
            }
            FloatKind::Gru => Layer::Gru(GruLayer {
                input: l.w_ih.ncols(),
                hidden,
                w_ih: matrix(k, "w_ih", &l.w_ih)?,
                w_hh: matrix(k, "w_hh", &l.w_hh)?,
                b_ih: quantize(cfg, &l.b_ih),
                b_hh: quantize(cfg, &l.b_hh),
            }),
        });
    }
    Ok(Network { layers: out })
}
