//! The report of `bbs sim --model`: every layer of a pruned model (a `bbs
//! prune --out-dir` directory) run once as one SpMxV on the configuration,
//! on a seeded input vector, costed in FPGA resources ([`super::device`])
//! and, on request, set beside the dense, unstructured and block baselines
//! ([`super::schemes`]; a pruned model keeps no dense weights, so those are
//! pruned from seeded stand-ins).
//!
//! [`run_model`] builds a [`ModelReport`] (serde, versioned by
//! [`MODEL_REPORT_VERSION`]); its CSV, summary and Markdown table are in
//! [`super::present`].

use super::device::{resources, Resources};
use super::schemes::{self, csb_mask, BaselineInput, Baselines, SchemeRow};
use super::{option, ReportError};
use crate::arch::placement;
use crate::baselines::{schedule, Scheme};
use crate::config::{Config, ConfigError};
use crate::resources::Device;
use crate::spmv::CycleBreakdown;
use bbs_compress::Csb;
use ndarray::{Array2, CowArray};
use serde::Serialize;

/// Version of the model report's layout (`bbs sim --model`); bump on any change of its fields.
pub const MODEL_REPORT_VERSION: u32 = 1;

/// One layer of a pruned model, as listed in its `manifest.json`.
#[derive(Clone, Debug)]
pub struct ModelLayerInput {
    pub name: String,
    /// The CSB file, relative to the model directory (as in the manifest).
    pub csb_file: String,
    pub csb: Csb,
}

/// What to run on a pruned model.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelOptions {
    /// The model's name in the report (e.g. the directory's last component).
    pub model: String,
    /// Seed of the input vector ([`model_input`]) and of the baselines' stand-in weights.
    pub seed: u64,
    /// Also schedule the dense, unstructured and block baselines.
    pub baselines: bool,
    /// Device family of the resource estimate.
    pub device: Device,
    /// Skip the layers the configuration cannot hold (else the first is an error).
    pub skip_unfit: bool,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            model: "model".into(),
            seed: 1,
            baselines: false,
            device: Device::IntelM20k,
            skip_unfit: false,
        }
    }
}

/// The input vector of a `cols`-column layer: `cols` values drawn uniformly
/// from (-0.99, 0.99) by ChaCha8 seeded with `seed`, quantized to the
/// configuration's format (round to nearest). Layers with the same number of
/// columns get the same vector.
pub fn model_input(cfg: &Config, cols: usize, seed: u64) -> Vec<i64> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let fmt = cfg.format();
    (0..cols)
        .map(|_| fmt.quantize(rng.random_range(-0.99f32..0.99)).0)
        .collect()
}

/// Stand-in dense weights for a layer's unstructured and block baselines: a
/// pruned model keeps no dense weights, so these are N(0, 1/cols) from ChaCha8
/// seeded with `seed` and the layer index. Magnitude pruning of them puts the
/// kept entries (or blocks) at uniformly random positions.
fn stand_in_weights(rows: usize, cols: usize, seed: u64, index: usize) -> Array2<f32> {
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
        seed ^ 0x6d0d_e1ba_5e11_0000 ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    let normal = Normal::new(0.0f32, 1.0 / (cols as f32).sqrt()).expect("a valid deviation");
    Array2::from_shape_simple_fn((rows, cols), || normal.sample(&mut rng))
}

/// The model that ran.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelInfo {
    pub name: String,
    /// Layers the manifest lists.
    pub layers: usize,
    pub simulated: usize,
    pub skipped: usize,
    /// Seed of the input vector ([`model_input`]).
    pub seed: u64,
    pub input: &'static str,
    /// Stored CSB weights of the simulated layers, `sum rows * slots * banks`.
    pub stored_weights: usize,
    /// Matrix-memory words per PE all simulated layers take together (`sum ceil(rows / pes) * slots`), of `matrix_depth`.
    pub matrix_words_per_pe: usize,
    pub matrix_depth: usize,
    /// All simulated layers fit the matrix memory at once (each one alone always does).
    pub fits_matrix_memory: bool,
}

/// One simulated layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelLayer {
    pub index: usize,
    pub name: String,
    /// The CSB file, relative to the model directory.
    pub csb: String,
    pub shape: [usize; 2],
    pub banks: usize,
    pub bank_size: usize,
    pub slots: usize,
    /// Kept entries of the BBS mask (padding of a short last bank excluded).
    pub nnz: usize,
    pub stored_weights: usize,
    /// Cycles by phase ([`simulate_spmv`](crate::simulate_spmv)).
    pub cycles: CycleBreakdown,
    /// `cycles.total / host.clock_mhz`.
    pub microseconds: f64,
    /// `stored_weights / (pes * banks * cycles.total)`.
    pub utilization: f64,
    /// `stored_weights / (pes * banks)`.
    pub compute_bound: f64,
    pub stalls: crate::baselines::StallBreakdown,
}

/// A layer the configuration cannot hold (with `skip_unfit`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SkippedLayer {
    pub name: String,
    pub csb: String,
    /// The configuration field that cannot hold it (`banks`, `value_width`, `max_rows`, `max_cols`, `max_slots`).
    pub field: &'static str,
    pub reason: String,
}

/// All simulated layers run once, one after another.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelTotal {
    pub cycles: u64,
    /// `cycles / host.clock_mhz`.
    pub microseconds: f64,
    pub stored_weights: usize,
    /// `stored_weights / (pes * banks * cycles)`.
    pub utilization: f64,
    /// `stored_weights / (pes * banks)`.
    pub compute_bound_cycles: f64,
}

/// The report of `bbs sim --model`; see `docs/simulator.md`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelReport {
    pub report_version: u32,
    pub bbs_version: &'static str,
    pub config_name: String,
    pub config: Config,
    pub model: ModelInfo,
    pub layers: Vec<ModelLayer>,
    pub skipped: Vec<SkippedLayer>,
    pub total: ModelTotal,
    pub resources: Resources,
    /// As for a workload, with `frame[]` the totals of all layers run once (`other_cycles` 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baselines: Option<Baselines>,
    #[serde(skip)]
    pub bbs_rows: Vec<SchemeRow>,
}

/// A model report and each simulated layer's fixed-point outputs.
#[derive(Clone, Debug)]
pub struct ModelRun {
    pub report: ModelReport,
    pub outputs: Vec<Vec<i64>>,
}

/// Run every layer of a pruned model as one SpMxV on `cfg` and build the
/// report. A layer the configuration cannot hold is an error
/// ([`ReportError::Unfit`]) unless `opts.skip_unfit`; so is a model with no
/// layer left to run.
pub fn run_model(
    cfg: &Config,
    layers: &[ModelLayerInput],
    opts: &ModelOptions,
) -> Result<ModelRun, ReportError> {
    cfg.validate()?;
    let slots = (cfg.pes * cfg.banks) as f64;
    let mhz = cfg.host.clock_mhz as f64;
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let mut outputs = Vec::new();
    let mut bbs = Vec::new();
    let mut masks = Vec::new();
    // All simulated layers in the matrix memory at once.
    let mut matrix_words_per_pe = 0;
    for (index, l) in layers.iter().enumerate() {
        if let Err(e) = cfg.check_matrix(&l.csb) {
            let field = match &e {
                ConfigError::Invalid { field, .. } => *field,
                _ => "config",
            };
            if !opts.skip_unfit {
                return Err(ReportError::Unfit {
                    layer: l.name.clone(),
                    error: e,
                });
            }
            skipped.push(SkippedLayer {
                name: l.name.clone(),
                csb: l.csb_file.clone(),
                field,
                reason: e.to_string(),
            });
            continue;
        }
        let c = &l.csb;
        matrix_words_per_pe += placement::words(cfg, c);
        let x = model_input(cfg, c.cols, opts.seed);
        let run = crate::simulate_spmv(cfg, c, &x).map_err(|e| ReportError::Option {
            field: "layer",
            message: format!("{}: {e}", l.name),
        })?;
        let mask = csb_mask(c);
        let b =
            schedule(cfg, &mask.view(), Scheme::Bbs).map_err(|source| ReportError::Baseline {
                matrix: l.name.clone(),
                source,
            })?;
        let r = &run.report;
        let total = r.cycles.total;
        out.push(ModelLayer {
            index,
            name: l.name.clone(),
            csb: l.csb_file.clone(),
            shape: [c.rows, c.cols],
            banks: c.banks,
            bank_size: c.bank_size,
            slots: c.slots,
            nnz: b.mask_nnz,
            stored_weights: r.stored_weights,
            cycles: r.cycles.clone(),
            microseconds: total as f64 / mhz,
            utilization: r.stored_weights as f64 / (slots * total as f64),
            compute_bound: r.compute_bound,
            stalls: b.stalls.clone(),
        });
        outputs.push(run.output);
        bbs.push(b);
        masks.push((index, mask));
    }
    if out.is_empty() {
        let why = skipped
            .first()
            .map(|s| format!(" ({}: {})", s.name, s.reason))
            .unwrap_or_default();
        return Err(option("model", format!("no layer left to simulate{why}")));
    }

    let stored_weights: usize = out.iter().map(|l| l.stored_weights).sum();
    let cycles: u64 = out.iter().map(|l| l.cycles.total).sum();
    let resources = resources(cfg, opts.device)?;
    let baselines = if opts.baselines {
        // Stand-ins are made one layer at a time, as the iterator is consumed.
        let inputs = masks
            .iter()
            .zip(&bbs)
            .zip(&out)
            .map(|(((index, mask), bbs), l)| {
                let (rows, cols) = mask.dim();
                BaselineInput {
                    index: *index,
                    name: &l.name,
                    mask,
                    weights: CowArray::from(stand_in_weights(rows, cols, opts.seed, *index)),
                    bbs,
                }
            });
        // One SpMxV per layer and nothing else: no other cycles.
        Some(schemes::baselines(
            cfg,
            opts.device,
            &resources,
            inputs,
            0,
            None,
        )?)
    } else {
        None
    };
    let report = ModelReport {
        report_version: MODEL_REPORT_VERSION,
        bbs_version: env!("CARGO_PKG_VERSION"),
        config_name: cfg.name.clone(),
        config: cfg.clone(),
        model: ModelInfo {
            name: opts.model.clone(),
            layers: layers.len(),
            simulated: out.len(),
            skipped: skipped.len(),
            seed: opts.seed,
            input: "uniform in (-0.99, 0.99) from ChaCha8 seeded with `seed`, quantized to Q(value_width.frac_bits); one vector per column count",
            stored_weights,
            matrix_words_per_pe,
            matrix_depth: cfg.matrix_depth(),
            fits_matrix_memory: matrix_words_per_pe <= cfg.matrix_depth(),
        },
        layers: out,
        skipped,
        total: ModelTotal {
            cycles,
            microseconds: cycles as f64 / mhz,
            stored_weights,
            utilization: stored_weights as f64 / (slots * cycles as f64),
            compute_bound_cycles: stored_weights as f64 / slots,
        },
        resources,
        baselines,
        bbs_rows: bbs.iter().map(SchemeRow::new).collect(),
    };
    Ok(ModelRun { report, outputs })
}
