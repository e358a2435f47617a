//! The report of a named workload run on the accelerator (`bbs sim
//! --workload`): the sequence is simulated frame by frame, checked bit for
//! bit against the plain fixed-point reference, compared with the float
//! reference, costed in FPGA resources and, on request, set beside the
//! dense, unstructured and block baselines on the same hardware.
//!
//! [`run_workload`] builds a [`WorkloadReport`] (serde, versioned by
//! [`REPORT_VERSION`]); [`WorkloadReport::to_csv`] gives `layers.csv` (one
//! row per SpMxV per scheme), [`WorkloadReport::summary`] the short human
//! summary and [`WorkloadReport::baseline_table`] the Markdown table of
//! schemes. Every field is documented in `docs/simulator.md`.
//!
//! # Baselines
//!
//! For every SpMxV matrix of the workload, on the configuration's PEs and
//! multipliers ([`crate::baselines`]):
//!
//! * `bbs`: the workload's own bank-balanced mask (read back from its CSB);
//! * `dense`: the unpruned matrix (every entry is work);
//! * `unstructured`: [`bbs_compress::prune_mask`] with
//!   [`Pattern::Unstructured`] on the same dense float weights, at the
//!   sparsity that keeps exactly the BBS mask's nonzero count;
//! * `block`: [`Pattern::Block`] of [`BLOCK_SIZE`] x [`BLOCK_SIZE`] at that
//!   same sparsity (the count differs from BBS's by the block granularity).
//!
//! The baseline schedules assume on-chip matrices. A scheme's frame latency is
//! the simulated frame's non-SpMxV cycles (EWOP, ACT, DMA: the same for every
//! scheme) plus the scheme's SpMxV cycles; for `bbs` with on-chip matrices it
//! equals the simulated frame exactly.

use crate::arith::clog2;
use crate::baselines::{schedule, schedule_block, BaselineError, Scheme, SchemeReport};
use crate::config::{Config, ConfigError};
use crate::isa::Instr;
use crate::machine::{Unit, UnitCycles};
use crate::resources::{
    check_budget, estimate, memory_blocks, Budget, Device, Overrun, ResourceEstimate,
    ARRIA10_GX1150, XCKU060,
};
use crate::rnn::{float_sequence, reference_sequence, run_sequence, Layer, NetworkError};
use crate::spmv::CycleBreakdown;
use crate::workloads::{self, WorkloadError};
use bbs_compress::{prune_mask, Csb, Pattern};
use ndarray::Array2;
use serde::Serialize;
use std::fmt::Write as _;

/// Version of the workload report's layout; bump on any change of its fields.
pub const REPORT_VERSION: u32 = 1;

/// Block size of the `block` baseline.
pub const BLOCK_SIZE: usize = 4;

/// ESE's published latency of one frame of its LSTM (Han et al., "ESE:
/// Efficient Speech Recognition Engine with Sparse LSTM on FPGA", FPGA 2017).
pub const ESE_PUBLISHED_US: f64 = 82.7;

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadOptions {
    /// One of [`workloads::NAMES`].
    pub workload: String,
    /// Fraction of weights pruned, in `[0, 1)`.
    pub sparsity: f64,
    /// Frames of the sequence, at least 1.
    pub frames: usize,
    /// Seed of the weights and of the input frames.
    pub seed: u64,
    /// Also schedule the dense, unstructured and block baselines.
    pub baselines: bool,
    /// Device family of the resource estimate.
    pub device: Device,
}

impl Default for WorkloadOptions {
    fn default() -> Self {
        WorkloadOptions {
            workload: "small-lstm".into(),
            sparsity: 0.875,
            frames: 4,
            seed: 1,
            baselines: false,
            device: Device::IntelM20k,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{field}: {message}")]
    Option {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error("{matrix}: {source}")]
    Baseline {
        matrix: String,
        source: BaselineError,
    },
    #[error("{matrix}: {source}")]
    Prune {
        matrix: String,
        source: bbs_compress::Error,
    },
    /// A model layer the configuration cannot hold.
    #[error("layer {layer}: {error}")]
    Unfit { layer: String, error: ConfigError },
    #[error("frame {frame}, output {index}: the accelerator gave {got}, the fixed-point reference {expected} (not bit-exact)")]
    Mismatch {
        frame: usize,
        index: usize,
        got: i64,
        expected: i64,
    },
}

/// The workload that ran.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkloadInfo {
    pub name: String,
    /// Requested sparsity (each bank keeps `ceil((1 - s) * bank_size)`).
    pub sparsity: f64,
    pub frames: usize,
    pub seed: u64,
    /// Elements of one input frame and of one output frame.
    pub input: usize,
    pub output: usize,
    /// SpMxV matrices (each runs once per frame).
    pub matrices: usize,
    /// Instructions of the one-frame program.
    pub instructions: usize,
    /// Vector-memory elements the program uses, of `memory.vector_words`.
    pub vector_words_used: usize,
    /// Matrix-memory words per PE all matrices take, of `matrix_depth` (`ceil(max_rows / pes) * max_slots`).
    pub matrix_words_per_pe: usize,
    pub matrix_depth: usize,
    /// Stored CSB weights of all matrices, `sum rows * slots * banks` (padding slots included).
    pub stored_weights: usize,
}

/// One SpMxV of a layer, as simulated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpmvInfo {
    /// Matrix number in the program (as [`crate::rnn::Network::matrices`]).
    pub matrix: usize,
    pub name: String,
    /// Index of the `spmv` instruction in the one-frame program.
    pub instruction: usize,
    pub rows: usize,
    pub cols: usize,
    pub banks: usize,
    pub bank_size: usize,
    pub slots: usize,
    pub stored_weights: usize,
    /// Cycles by phase; with `memory.matrix = "dram"` the compute phase
    /// includes waiting for the matrix stream.
    pub cycles: CycleBreakdown,
    /// `stored_weights / (pes * banks * cycles.total)`.
    pub utilization: f64,
    /// `stored_weights / (pes * banks)`.
    pub compute_bound: f64,
    /// Where the multiplier-slots go (the on-chip BBS schedule, [`crate::baselines`]).
    pub stalls: crate::baselines::StallBreakdown,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerInfo {
    pub index: usize,
    /// `lstm` or `gru`.
    pub kind: &'static str,
    pub input: usize,
    pub hidden: usize,
    pub output: usize,
    pub spmv: Vec<SpmvInfo>,
}

/// One frame on the accelerator.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameReport {
    pub frame: usize,
    pub cycles: u64,
    /// `cycles / host.clock_mhz`.
    pub microseconds: f64,
    /// Cycles each unit was busy (instructions run one after another, so they sum to `cycles`).
    pub units: UnitCycles,
    /// Multiply-accumulates on stored weights.
    pub macs: u64,
    /// `macs / (pes * banks * cycles)`.
    pub multiplier_utilization: f64,
}

/// One instruction of frame 0.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub index: usize,
    pub op: &'static str,
    pub unit: Unit,
    pub start: u64,
    pub cycles: u64,
    /// Fraction of the PE array's multipliers busy during the instruction
    /// (`stored_weights / (pes * banks * cycles)` for `spmv`, 0 otherwise).
    pub pe_utilization: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Resources {
    pub device: Device,
    pub device_label: &'static str,
    pub estimate: ResourceEstimate,
    /// The device the budget is checked against.
    pub budget_name: &'static str,
    pub budget: Budget,
    pub fits_budget: bool,
    /// Every resource over budget (empty when it fits).
    pub over_budget: Vec<Overrun>,
}

/// The accelerator's outputs against the references.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Accuracy {
    /// Always true in a report: a mismatch is an error.
    pub bit_exact: bool,
    /// Output values compared (frames x output).
    pub values: usize,
    /// `max |fixed / 2^F - float|` against [`float_sequence`].
    pub max_abs_error: f64,
    /// Mean of `|fixed / 2^F - float|`.
    pub mean_abs_error: f64,
    /// One LSB, `2^-F`.
    pub lsb: f64,
}

/// One scheme's schedule of one matrix ([`SchemeReport`] without the per-PE list).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SchemeRow {
    /// `bbs`, `dense`, `unstructured`, `block`.
    pub scheme: &'static str,
    pub block_size: Option<usize>,
    pub nnz: usize,
    pub mask_nnz: usize,
    pub cycles: u64,
    pub compute_cycles: u64,
    pub compute_bound: f64,
    pub utilization: f64,
    pub effective_utilization: f64,
    pub stalls: crate::baselines::StallBreakdown,
    /// Least and most busy cycles of a PE.
    pub pe_busy_min: u64,
    pub pe_busy_max: u64,
    pub matrix_words_per_pe: u64,
    pub fits_matrix_memory: bool,
}

impl SchemeRow {
    fn new(r: &SchemeReport) -> SchemeRow {
        SchemeRow {
            scheme: r.scheme.label(),
            block_size: r.block_size,
            nnz: r.nnz,
            mask_nnz: r.mask_nnz,
            cycles: r.cycles,
            compute_cycles: r.compute_cycles,
            compute_bound: r.compute_bound,
            utilization: r.utilization,
            effective_utilization: r.effective_utilization,
            stalls: r.stalls.clone(),
            pe_busy_min: r.per_pe_busy.iter().copied().min().unwrap_or(0),
            pe_busy_max: r.per_pe_busy.iter().copied().max().unwrap_or(0),
            matrix_words_per_pe: r.matrix_words_per_pe,
            fits_matrix_memory: r.fits_matrix_memory,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MatrixBaselines {
    pub matrix: usize,
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    /// `1 - bbs nnz / (rows * cols)`: the sparsity of the unstructured and block masks.
    pub equivalent_sparsity: f64,
    /// In [`Scheme::ALL`] order.
    pub schemes: Vec<SchemeRow>,
}

/// A scheme's SpMxV time over one frame, split like [`crate::baselines::StallBreakdown`]
/// but in cycles of the whole PE array: the six parts sum to `spmv_cycles`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StallCycles {
    /// `nnz / (P K)`.
    pub useful: f64,
    /// `bank_conflict / P`.
    pub bank_conflict: f64,
    /// `load_imbalance / P`.
    pub load_imbalance: f64,
    /// `underfill_slots / (P K)`.
    pub underfill: f64,
    pub vector_load: f64,
    pub pipeline: f64,
}

impl StallCycles {
    /// The parts of several SpMxVs' time, from each one's `nnz` and stalls.
    pub fn sum<'a>(
        cfg: &Config,
        items: impl Iterator<Item = (usize, &'a crate::baselines::StallBreakdown)>,
    ) -> StallCycles {
        let (p, slots) = (cfg.pes as f64, (cfg.pes * cfg.banks) as f64);
        let mut s = StallCycles {
            useful: 0.0,
            bank_conflict: 0.0,
            load_imbalance: 0.0,
            underfill: 0.0,
            vector_load: 0.0,
            pipeline: 0.0,
        };
        for (nnz, st) in items {
            s.useful += nnz as f64 / slots;
            s.bank_conflict += st.bank_conflict as f64 / p;
            s.load_imbalance += st.load_imbalance as f64 / p;
            s.underfill += st.underfill_slots as f64 / slots;
            s.vector_load += st.vector_load as f64;
            s.pipeline += st.pipeline as f64;
        }
        s
    }

    /// The parts with their names, in plot order.
    pub fn parts(&self) -> [(&'static str, f64); 6] {
        [
            ("useful", self.useful),
            ("bank conflict", self.bank_conflict),
            ("load imbalance", self.load_imbalance),
            ("underfill", self.underfill),
            ("vector load", self.vector_load),
            ("pipeline", self.pipeline),
        ]
    }
}

/// One scheme over a whole frame.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SchemeFrame {
    pub scheme: &'static str,
    /// Sum of the scheme's cycles over the frame's SpMxVs.
    pub spmv_cycles: u64,
    /// The frame's EWOP, ACT and DMA cycles (the same for every scheme).
    pub other_cycles: u64,
    /// `spmv_cycles + other_cycles`.
    pub cycles: u64,
    pub microseconds: f64,
    /// Multiplications done as work over the frame, `sum nnz`.
    pub nnz: usize,
    /// `nnz / (P K cycles)`.
    pub utilization: f64,
    pub stalls: StallCycles,
    /// Matrix-memory words per PE for all matrices, `sum matrix_words_per_pe`.
    pub matrix_words_per_pe: u64,
    /// `matrix_words_per_pe <= matrix_depth`.
    pub fits_matrix_memory: bool,
    /// Bits of one matrix-memory word: `K * (W + index bits)`, index bits
    /// `clog2(bank_depth)` for bbs, `clog2(max_cols)` for unstructured and
    /// block, none for dense.
    pub matrix_word_width: u32,
    /// DSP blocks (the same multipliers for every scheme).
    pub dsp_blocks: usize,
    /// Block RAMs of the design with its matrix memory sized to hold this
    /// scheme's words (`matrix_words_per_pe` deep, `matrix_word_width` wide);
    /// the other memories as configured.
    pub block_rams: usize,
}

/// A published result to set beside the table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Published {
    pub source: &'static str,
    pub microseconds: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Baselines {
    pub block_size: usize,
    pub matrices: Vec<MatrixBaselines>,
    /// In [`Scheme::ALL`] order.
    pub frame: Vec<SchemeFrame>,
    /// `sum bbs nnz / (P K)`: SpMxV cycles of a frame if every multiplier worked every cycle.
    pub compute_bound_cycles: f64,
    pub compute_bound_microseconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<Published>,
}

impl Baselines {
    /// A scheme's name for tables and plots (`block 4x4` for the block scheme).
    pub fn label(&self, scheme: &str) -> String {
        if scheme == Scheme::Block.label() {
            format!("block {0}x{0}", self.block_size)
        } else {
            scheme.to_string()
        }
    }
}

/// The whole report; see `docs/simulator.md`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkloadReport {
    pub report_version: u32,
    pub bbs_version: &'static str,
    pub config_name: String,
    pub config: Config,
    pub workload: WorkloadInfo,
    pub layers: Vec<LayerInfo>,
    /// Every frame (each runs the same program, so the same cycles).
    pub frames: Vec<FrameReport>,
    /// `sum stored_weights / (pes * banks)`: SpMxV cycles per frame at full utilization.
    pub compute_bound_cycles: f64,
    /// Frame 0, instruction by instruction.
    pub timeline: Vec<TimelineEntry>,
    pub resources: Resources,
    pub accuracy: Accuracy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baselines: Option<Baselines>,
    /// The on-chip BBS schedule of each matrix (the `bbs` rows of `layers.csv`).
    #[serde(skip)]
    pub bbs_rows: Vec<SchemeRow>,
}

/// A report and the accelerator's fixed-point outputs, per frame.
#[derive(Clone, Debug)]
pub struct WorkloadRun {
    pub report: WorkloadReport,
    pub outputs: Vec<Vec<i64>>,
}

fn option(field: &'static str, message: String) -> ReportError {
    ReportError::Option { field, message }
}

/// The budget a device is checked against: Arria 10 GX1150 or XCKU060.
pub fn device_budget(device: Device) -> (&'static str, Budget) {
    match device {
        Device::IntelM20k => ("Intel Arria 10 GX1150", ARRIA10_GX1150),
        Device::XilinxRamb36 => ("Xilinx Kintex UltraScale XCKU060", XCKU060),
    }
}

/// The resource estimate of `cfg` on `device`, checked against the device's budget ([`device_budget`]).
pub fn resources(cfg: &Config, device: Device) -> Result<Resources, ConfigError> {
    let est = estimate(cfg, device)?;
    let (budget_name, budget) = device_budget(device);
    let over_budget = match check_budget(&est, &budget) {
        Ok(()) => Vec::new(),
        Err(e) => e.over,
    };
    Ok(Resources {
        device,
        device_label: device.label(),
        estimate: est,
        budget_name,
        budget,
        fits_budget: over_budget.is_empty(),
        over_budget,
    })
}

/// The BBS keep-mask of a CSB matrix: its stored (row, column) positions at
/// real columns (padding slots of a short last bank excluded).
pub fn csb_mask(csb: &Csb) -> Array2<bool> {
    let mut mask = Array2::from_elem((csb.rows, csb.cols), false);
    for r in 0..csb.rows {
        for s in 0..csb.slots {
            let (_, indices) = csb.word(r, s);
            for (b, &i) in indices.iter().enumerate() {
                let c = b * csb.bank_size + i as usize;
                if c < csb.cols {
                    mask[[r, c]] = true;
                }
            }
        }
    }
    mask
}

fn check_options(opts: &WorkloadOptions) -> Result<(), ReportError> {
    if !workloads::NAMES.contains(&opts.workload.as_str()) {
        return Err(WorkloadError::Unknown(opts.workload.clone()).into());
    }
    if !opts.sparsity.is_finite() || !(0.0..1.0).contains(&opts.sparsity) {
        return Err(option(
            "sparsity",
            format!("{} is outside [0, 1)", opts.sparsity),
        ));
    }
    if opts.frames == 0 {
        return Err(option("frames", "0 must be at least 1".into()));
    }
    Ok(())
}

/// Run a named workload and build its report. Errors: bad options (naming
/// the option), a configuration that cannot hold the workload (naming the
/// field), outputs that are not bit-exact against the fixed-point reference.
pub fn run_workload(cfg: &Config, opts: &WorkloadOptions) -> Result<WorkloadRun, ReportError> {
    check_options(opts)?;
    cfg.validate()?;
    let (net, dense) =
        workloads::network_with_weights(&opts.workload, cfg, opts.sparsity, opts.seed)?;
    let program = net.program(cfg)?;
    let frames = workloads::frames(cfg, net.input(), opts.frames, opts.seed);
    let run = run_sequence(cfg, &net, &frames)?;

    // Bit-exact against the plain fixed-point reference.
    let reference = reference_sequence(cfg, &net, &frames);
    for (frame, (got, want)) in run.outputs.iter().zip(&reference).enumerate() {
        if let Some((index, (&g, &w))) = got.iter().zip(want).enumerate().find(|(_, (g, w))| g != w)
        {
            return Err(ReportError::Mismatch {
                frame,
                index,
                got: g,
                expected: w,
            });
        }
    }
    let float = float_sequence(cfg, &net, &frames);
    let lsb = 1.0 / (1i64 << cfg.frac_bits) as f64;
    let errors: Vec<f64> = run
        .outputs
        .iter()
        .flatten()
        .zip(float.iter().flatten())
        .map(|(&q, &f)| (q as f64 * lsb - f).abs())
        .collect();
    let accuracy = Accuracy {
        bit_exact: true,
        values: errors.len(),
        max_abs_error: errors.iter().copied().fold(0.0, f64::max),
        mean_abs_error: errors.iter().sum::<f64>() / errors.len().max(1) as f64,
        lsb,
    };

    let (p, k) = (cfg.pes, cfg.banks);
    let slots = (p * k) as f64;
    let mhz = cfg.host.clock_mhz as f64;
    let matrices = net.matrices();
    // The spmv instruction of each matrix.
    let spmv_of: Vec<(usize, usize)> = program
        .instrs
        .iter()
        .enumerate()
        .filter_map(|(i, instr)| match instr {
            Instr::Spmv { matrix, .. } => Some((i, *matrix)),
            _ => None,
        })
        .collect();
    let frame0 = &run.frames[0];
    let masks: Vec<Array2<bool>> = matrices.iter().map(csb_mask).collect();
    let bbs: Vec<SchemeReport> = masks
        .iter()
        .zip(&dense)
        .map(|(m, d)| {
            schedule(cfg, &m.view(), Scheme::Bbs).map_err(|source| ReportError::Baseline {
                matrix: d.name.clone(),
                source,
            })
        })
        .collect::<Result<_, _>>()?;

    let mut spmv_infos: Vec<SpmvInfo> = spmv_of
        .iter()
        .map(|&(instruction, matrix)| {
            let m = &matrices[matrix];
            let total = frame0.timeline[instruction].cycles;
            let (start, load, drain) = (1, m.bank_size as u64, crate::arch::timing::drain(cfg));
            let stored_weights = m.rows * m.slots * m.banks;
            SpmvInfo {
                matrix,
                name: dense[matrix].name.clone(),
                instruction,
                rows: m.rows,
                cols: m.cols,
                banks: m.banks,
                bank_size: m.bank_size,
                slots: m.slots,
                stored_weights,
                cycles: CycleBreakdown::new(start, load, total - start - load - drain, drain),
                utilization: stored_weights as f64 / (slots * total as f64),
                compute_bound: stored_weights as f64 / slots,
                stalls: bbs[matrix].stalls.clone(),
            }
        })
        .collect();
    spmv_infos.sort_by_key(|s| s.matrix);
    let mut layers = Vec::new();
    let mut next = spmv_infos.into_iter();
    for (index, layer) in net.layers.iter().enumerate() {
        let (kind, hidden, count) = match layer {
            Layer::Lstm(l) => ("lstm", l.hidden, 1 + l.proj.is_some() as usize),
            Layer::Gru(g) => ("gru", g.hidden, 2),
        };
        layers.push(LayerInfo {
            index,
            kind,
            input: layer.input(),
            hidden,
            output: layer.output(),
            spmv: next.by_ref().take(count).collect(),
        });
    }

    let stored_weights: usize = matrices.iter().map(|m| m.rows * m.slots * m.banks).sum();
    let matrix_words_per_pe: usize = matrices.iter().map(|m| m.rows.div_ceil(p) * m.slots).sum();
    let vector_words_used = program
        .preloaded
        .iter()
        .map(|(r, _)| r.end())
        .chain(
            program
                .instrs
                .iter()
                .filter_map(|i| i.writes().map(|r| r.end())),
        )
        .max()
        .unwrap_or(0);
    let workload = WorkloadInfo {
        name: opts.workload.clone(),
        sparsity: opts.sparsity,
        frames: opts.frames,
        seed: opts.seed,
        input: net.input(),
        output: net.output(),
        matrices: matrices.len(),
        instructions: program.instrs.len(),
        vector_words_used,
        matrix_words_per_pe,
        matrix_depth: cfg.matrix_depth(),
        stored_weights,
    };

    let frames_report: Vec<FrameReport> = run
        .frames
        .iter()
        .enumerate()
        .map(|(frame, r)| FrameReport {
            frame,
            cycles: r.cycles,
            microseconds: r.cycles as f64 / mhz,
            units: r.units.clone(),
            macs: r.macs,
            multiplier_utilization: r.multiplier_utilization,
        })
        .collect();
    let matrix_of: std::collections::BTreeMap<usize, usize> = spmv_of.iter().copied().collect();
    let timeline = frame0
        .timeline
        .iter()
        .map(|t| TimelineEntry {
            index: t.index,
            op: t.op,
            unit: t.unit,
            start: t.start,
            cycles: t.cycles,
            pe_utilization: match matrix_of.get(&t.index) {
                Some(&m) => {
                    let m = &matrices[m];
                    (m.rows * m.slots * m.banks) as f64 / (slots * t.cycles.max(1) as f64)
                }
                None => 0.0,
            },
        })
        .collect();

    let resources = resources(cfg, opts.device)?;

    let baselines = if opts.baselines {
        Some(baselines(
            cfg, opts, &resources, frame0, &masks, &dense, &bbs,
        )?)
    } else {
        None
    };

    let report = WorkloadReport {
        report_version: REPORT_VERSION,
        bbs_version: env!("CARGO_PKG_VERSION"),
        config_name: cfg.name.clone(),
        config: cfg.clone(),
        workload,
        layers,
        frames: frames_report,
        compute_bound_cycles: stored_weights as f64 / slots,
        timeline,
        resources,
        accuracy,
        baselines,
        bbs_rows: bbs.iter().map(SchemeRow::new).collect(),
    };
    Ok(WorkloadRun {
        report,
        outputs: run.outputs,
    })
}

/// Block RAMs of `device` for `instances` memories of `depth x width`.
fn memory_total_blocks(device: Device, instances: usize, depth: usize, width: u32) -> usize {
    let (_, _, units) = memory_blocks(device, depth.max(1), width.max(1));
    match device {
        Device::IntelM20k => units * instances,
        Device::XilinxRamb36 => (units * instances).div_ceil(2),
    }
}

/// One matrix under every scheme: `bbs` is `bbs`, `dense` the full mask,
/// `unstructured` and `block` are [`prune_mask`] of `weights` at the sparsity
/// that keeps the BBS mask's nonzero count. The reports are in [`Scheme::ALL`] order.
fn matrix_baselines(
    cfg: &Config,
    index: usize,
    name: &str,
    mask: &Array2<bool>,
    weights: &ndarray::ArrayView2<f32>,
    bbs: &SchemeReport,
) -> Result<(MatrixBaselines, Vec<SchemeReport>), ReportError> {
    let (rows, cols) = mask.dim();
    let baseline_err = |source| ReportError::Baseline {
        matrix: name.to_string(),
        source,
    };
    let prune_err = |source| ReportError::Prune {
        matrix: name.to_string(),
        source,
    };
    let equivalent_sparsity = 1.0 - bbs.mask_nnz as f64 / (rows * cols) as f64;
    let unstructured =
        prune_mask(weights, &Pattern::Unstructured, equivalent_sparsity).map_err(prune_err)?;
    let block = prune_mask(
        weights,
        &Pattern::Block { size: BLOCK_SIZE },
        equivalent_sparsity,
    )
    .map_err(prune_err)?;
    let all = Array2::from_elem((rows, cols), true);
    let reports = vec![
        bbs.clone(),
        schedule(cfg, &all.view(), Scheme::Dense).map_err(baseline_err)?,
        schedule(cfg, &unstructured.view(), Scheme::Unstructured).map_err(baseline_err)?,
        schedule_block(cfg, &block.view(), BLOCK_SIZE).map_err(baseline_err)?,
    ];
    let m = MatrixBaselines {
        matrix: index,
        name: name.to_string(),
        rows,
        cols,
        equivalent_sparsity,
        schemes: reports.iter().map(SchemeRow::new).collect(),
    };
    Ok((m, reports))
}

/// Each scheme's totals over `per_scheme` (indexed like [`Scheme::ALL`]):
/// its SpMxV cycles plus `other_cycles`, and the block RAMs of the design
/// with its matrix memory resized to the scheme's words.
fn scheme_totals(
    cfg: &Config,
    device: Device,
    resources: &Resources,
    per_scheme: &[Vec<SchemeReport>],
    other_cycles: u64,
) -> Vec<SchemeFrame> {
    let (p, k) = (cfg.pes, cfg.banks);
    let slots = (p * k) as f64;
    let mhz = cfg.host.clock_mhz as f64;
    let est = &resources.estimate;
    let configured_matrix = est
        .memories
        .iter()
        .find(|m| m.name == "matrix")
        .map_or(0, |m| m.blocks);
    let w = cfg.value_width;
    Scheme::ALL
        .iter()
        .zip(per_scheme)
        .map(|(scheme, reports)| {
            let spmv_cycles: u64 = reports.iter().map(|r| r.cycles).sum();
            let cycles = spmv_cycles + other_cycles;
            let nnz: usize = reports.iter().map(|r| r.nnz).sum();
            let stalls = StallCycles::sum(cfg, reports.iter().map(|r| (r.nnz, &r.stalls)));
            let words: u64 = reports.iter().map(|r| r.matrix_words_per_pe).sum();
            let index_bits = match scheme {
                Scheme::Bbs => cfg.index_width(),
                Scheme::Dense => 0,
                Scheme::Unstructured | Scheme::Block => clog2(cfg.max_cols),
            };
            let matrix_word_width = k as u32 * (w + index_bits);
            let block_rams = est.block_rams - configured_matrix
                + memory_total_blocks(device, p, words as usize, matrix_word_width);
            SchemeFrame {
                scheme: scheme.label(),
                spmv_cycles,
                other_cycles,
                cycles,
                microseconds: cycles as f64 / mhz,
                nnz,
                utilization: nnz as f64 / (slots * cycles as f64),
                stalls,
                matrix_words_per_pe: words,
                fits_matrix_memory: words <= cfg.matrix_depth() as u64,
                matrix_word_width,
                dsp_blocks: est.dsp_blocks,
                block_rams,
            }
        })
        .collect()
}

fn baselines(
    cfg: &Config,
    opts: &WorkloadOptions,
    resources: &Resources,
    frame0: &crate::machine::RunReport,
    masks: &[Array2<bool>],
    dense: &[workloads::DenseMatrix],
    bbs: &[SchemeReport],
) -> Result<Baselines, ReportError> {
    let slots = (cfg.pes * cfg.banks) as f64;
    let mhz = cfg.host.clock_mhz as f64;
    let mut matrices = Vec::new();
    let mut per_scheme: Vec<Vec<SchemeReport>> = vec![Vec::new(); Scheme::ALL.len()];
    for (i, ((mask, d), b)) in masks.iter().zip(dense).zip(bbs).enumerate() {
        let (m, reports) = matrix_baselines(cfg, i, &d.name, mask, &d.weights.view(), b)?;
        matrices.push(m);
        for (s, r) in reports.into_iter().enumerate() {
            per_scheme[s].push(r);
        }
    }

    let other_cycles = frame0.cycles - frame0.units.pe;
    let frame = scheme_totals(cfg, opts.device, resources, &per_scheme, other_cycles);
    let bound = bbs.iter().map(|r| r.nnz).sum::<usize>() as f64 / slots;
    Ok(Baselines {
        block_size: BLOCK_SIZE,
        matrices,
        frame,
        compute_bound_cycles: bound,
        compute_bound_microseconds: bound / mhz,
        published: (opts.workload == "ese-lstm").then_some(Published {
            source: "ESE, published (Han et al., FPGA 2017; Xilinx XCKU060 at 200 MHz)",
            microseconds: ESE_PUBLISHED_US,
        }),
    })
}

/// Columns of `layers.csv`.
pub const CSV_HEADER: &str = "layer,matrix,name,scheme,rows,cols,nnz,mask_nnz,block_size,cycles,compute_cycles,compute_bound,utilization,effective_utilization,bank_conflict,load_imbalance,underfill,underfill_slots,vector_load,pipeline,matrix_words_per_pe,fits_matrix_memory";

/// One line of `layers.csv` (the name quoted if it holds a comma or a quote).
fn csv_row(
    csv: &mut String,
    layer: usize,
    matrix: usize,
    name: &str,
    rows: usize,
    cols: usize,
    r: &SchemeRow,
) {
    let name = if name.contains([',', '"', '\n']) {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        name.to_string()
    };
    let st = &r.stalls;
    let _ = writeln!(
        csv,
        "{},{},{},{},{},{},{},{},{},{},{},{:.3},{:.6},{:.6},{},{},{},{},{},{},{},{}",
        layer,
        matrix,
        name,
        r.scheme,
        rows,
        cols,
        r.nnz,
        r.mask_nnz,
        r.block_size.map(|b| b.to_string()).unwrap_or_default(),
        r.cycles,
        r.compute_cycles,
        r.compute_bound,
        r.utilization,
        r.effective_utilization,
        st.bank_conflict,
        st.load_imbalance,
        st.underfill,
        st.underfill_slots,
        st.vector_load,
        st.pipeline,
        r.matrix_words_per_pe,
        r.fits_matrix_memory
    );
}

/// The summary's resources line.
fn resources_line(r: &Resources) -> String {
    let e = &r.estimate;
    format!(
        "  resources ({}): {} multipliers in {} DSP blocks, {} block RAMs, ~{} registers, ~{} LUTs; {} the {} budget ({} DSP, {} block RAMs){}\n",
        r.device_label,
        e.multipliers,
        e.dsp_blocks,
        e.block_rams,
        e.registers,
        e.luts,
        if r.fits_budget { "fits" } else { "exceeds" },
        r.budget_name,
        r.budget.dsp_blocks,
        r.budget.block_rams,
        if r.over_budget.is_empty() {
            String::new()
        } else {
            format!(
                ": {}",
                r.over_budget
                    .iter()
                    .map(|o| format!("{} {} > {}", o.resource, o.needed, o.available))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    )
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

impl WorkloadReport {
    /// `layers.csv`: one row per SpMxV per scheme (only `bbs` without baselines).
    pub fn to_csv(&self) -> String {
        let mut csv = String::new();
        csv.push_str(CSV_HEADER);
        csv.push('\n');
        for layer in &self.layers {
            for s in &layer.spmv {
                let rows: Vec<SchemeRow> = match &self.baselines {
                    Some(b) => b.matrices[s.matrix].schemes.clone(),
                    None => self.bbs_rows.get(s.matrix).cloned().into_iter().collect(),
                };
                for r in rows {
                    csv_row(&mut csv, layer.index, s.matrix, &s.name, s.rows, s.cols, &r);
                }
            }
        }
        csv
    }

    /// Each scheme's SpMxV time over one frame, split into its parts: every
    /// scheme with baselines, else `bbs` alone.
    pub fn stall_bars(&self) -> Vec<(String, StallCycles)> {
        match &self.baselines {
            Some(b) => b
                .frame
                .iter()
                .map(|f| (b.label(f.scheme), f.stalls.clone()))
                .collect(),
            None => vec![(
                Scheme::Bbs.label().to_string(),
                StallCycles::sum(
                    &self.config,
                    self.bbs_rows.iter().map(|r| (r.nnz, &r.stalls)),
                ),
            )],
        }
    }

    /// Cycles per frame (every frame runs the same program).
    pub fn frame_cycles(&self) -> u64 {
        self.frames[0].cycles
    }

    /// The short human summary printed by `bbs sim --workload`.
    pub fn summary(&self) -> String {
        let c = &self.config;
        let f = &self.frames[0];
        let w = &self.workload;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} on '{}' ({} PEs x {} multipliers, {} MHz): sparsity {}, {} frame(s), seed {}",
            w.name, c.name, c.pes, c.banks, c.host.clock_mhz, w.sparsity, w.frames, w.seed
        );
        let _ = writeln!(
            s,
            "  per frame: {} cycles = {:.2} us (PE {}, EWOP {}, ACT {}, DMA {}); multiplier utilization {}; SpMxV compute bound {:.0} cycles",
            f.cycles,
            f.microseconds,
            f.units.pe,
            f.units.ewop,
            f.units.act,
            f.units.dma,
            pct(f.multiplier_utilization),
            self.compute_bound_cycles
        );
        for l in &self.layers {
            for m in &l.spmv {
                let cy = &m.cycles;
                let _ = writeln!(
                    s,
                    "  {} {}x{}: {} banks x {} slots, {} cycles (start {}, load {}, compute {}, drain {}), utilization {}",
                    m.name,
                    m.rows,
                    m.cols,
                    m.banks,
                    m.slots,
                    cy.total,
                    cy.start,
                    cy.load,
                    cy.compute,
                    cy.drain,
                    pct(m.utilization)
                );
            }
        }
        let a = &self.accuracy;
        let _ = writeln!(
            s,
            "  outputs bit-exact against the fixed-point reference ({} values); max |fixed - float| = {:.5} ({:.1} LSB), mean {:.5}",
            a.values,
            a.max_abs_error,
            a.max_abs_error / a.lsb,
            a.mean_abs_error
        );
        s.push_str(&resources_line(&self.resources));
        s
    }

    /// The Markdown table of schemes (with `--baselines`): per-frame cycles,
    /// microseconds, utilization and resources, the compute bound, and the
    /// published reference when there is one.
    pub fn baseline_table(&self) -> Option<String> {
        let b = self.baselines.as_ref()?;
        let mhz = self.config.host.clock_mhz;
        let brams = match self.resources.device {
            Device::IntelM20k => "M20K blocks",
            Device::XilinxRamb36 => "RAMB36 blocks",
        };
        let mut t = String::new();
        let _ = writeln!(
            t,
            "| scheme | SpMxV cycles | cycles per frame | us per frame at {mhz} MHz | multiplier utilization | DSP blocks | {brams} | fits matrix memory |"
        );
        let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---:|---|");
        for f in &b.frame {
            let label = b.label(f.scheme);
            let _ = writeln!(
                t,
                "| {label} | {} | {} | {:.2} | {} | {} | {} | {} |",
                f.spmv_cycles,
                f.cycles,
                f.microseconds,
                pct(f.utilization),
                f.dsp_blocks,
                f.block_rams,
                if f.fits_matrix_memory { "yes" } else { "no" }
            );
        }
        let _ = writeln!(
            t,
            "| compute bound nnz / (P K) | {:.0} | | {:.2} | 100.0% | | | |",
            b.compute_bound_cycles, b.compute_bound_microseconds
        );
        if let Some(p) = &b.published {
            let _ = writeln!(t, "| {} | | | {:.1} | | | | |", p.source, p.microseconds);
        }
        Some(t)
    }
}

// ---------------------------------------------------------------------------
// `bbs sim --model`: every layer of a pruned model as one SpMxV.

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
    let (p, k) = (cfg.pes, cfg.banks);
    let slots = (p * k) as f64;
    let mhz = cfg.host.clock_mhz as f64;
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let mut outputs = Vec::new();
    let mut bbs = Vec::new();
    let mut masks = Vec::new();
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
    let matrix_words_per_pe: usize = out.iter().map(|l| l.shape[0].div_ceil(p) * l.slots).sum();
    let resources = resources(cfg, opts.device)?;
    let baselines = if opts.baselines {
        let mut matrices = Vec::new();
        let mut per_scheme: Vec<Vec<SchemeReport>> = vec![Vec::new(); Scheme::ALL.len()];
        for (((index, mask), b), l) in masks.iter().zip(&bbs).zip(&out) {
            let (rows, cols) = mask.dim();
            let w = stand_in_weights(rows, cols, opts.seed, *index);
            let (m, reports) = matrix_baselines(cfg, *index, &l.name, mask, &w.view(), b)?;
            matrices.push(m);
            for (s, r) in reports.into_iter().enumerate() {
                per_scheme[s].push(r);
            }
        }
        let bound = bbs.iter().map(|r| r.nnz).sum::<usize>() as f64 / slots;
        Some(Baselines {
            block_size: BLOCK_SIZE,
            matrices,
            frame: scheme_totals(cfg, opts.device, &resources, &per_scheme, 0),
            compute_bound_cycles: bound,
            compute_bound_microseconds: bound / mhz,
            published: None,
        })
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

impl ModelReport {
    /// `layers.csv`: one row per simulated layer per scheme (only `bbs`
    /// without baselines); the columns of [`CSV_HEADER`], with `layer` and
    /// `matrix` both the layer's index in the manifest.
    pub fn to_csv(&self) -> String {
        let mut csv = String::new();
        csv.push_str(CSV_HEADER);
        csv.push('\n');
        for (i, l) in self.layers.iter().enumerate() {
            let rows: Vec<SchemeRow> = match &self.baselines {
                Some(b) => b.matrices[i].schemes.clone(),
                None => self.bbs_rows.get(i).cloned().into_iter().collect(),
            };
            for r in rows {
                csv_row(
                    &mut csv, l.index, l.index, &l.name, l.shape[0], l.shape[1], &r,
                );
            }
        }
        csv
    }

    /// The short human summary printed by `bbs sim --model`.
    pub fn summary(&self) -> String {
        let c = &self.config;
        let m = &self.model;
        let t = &self.total;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "model '{}' on '{}' ({} PEs x {} multipliers, {} MHz): {} of {} layer(s) simulated, {} skipped; input seed {}",
            m.name, c.name, c.pes, c.banks, c.host.clock_mhz, m.simulated, m.layers, m.skipped, m.seed
        );
        let _ = writeln!(
            s,
            "  all layers once: {} cycles = {:.2} us; multiplier utilization {}; compute bound {:.0} cycles; matrix memory {} of {} words per PE{}",
            t.cycles,
            t.microseconds,
            pct(t.utilization),
            t.compute_bound_cycles,
            m.matrix_words_per_pe,
            m.matrix_depth,
            if m.fits_matrix_memory { "" } else { " (the layers do not fit at once)" }
        );
        for l in &self.layers {
            let cy = &l.cycles;
            let _ = writeln!(
                s,
                "  {} {}x{}: {} banks x {} slots, {} cycles (start {}, load {}, compute {}, drain {}), utilization {}",
                l.name,
                l.shape[0],
                l.shape[1],
                l.banks,
                l.slots,
                cy.total,
                cy.start,
                cy.load,
                cy.compute,
                cy.drain,
                pct(l.utilization)
            );
        }
        for k in &self.skipped {
            let _ = writeln!(s, "  skipped {}: {}", k.name, k.reason);
        }
        s.push_str(&resources_line(&self.resources));
        s
    }

    /// The Markdown table of schemes (with baselines): cycles and
    /// microseconds of all layers run once, utilization and resources.
    pub fn baseline_table(&self) -> Option<String> {
        let b = self.baselines.as_ref()?;
        let mhz = self.config.host.clock_mhz;
        let brams = match self.resources.device {
            Device::IntelM20k => "M20K blocks",
            Device::XilinxRamb36 => "RAMB36 blocks",
        };
        let mut t = String::new();
        let _ = writeln!(
            t,
            "| scheme | cycles, all layers | us at {mhz} MHz | multiplier utilization | DSP blocks | {brams} | fits matrix memory |"
        );
        let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---|");
        for f in &b.frame {
            let _ = writeln!(
                t,
                "| {} | {} | {:.2} | {} | {} | {} | {} |",
                b.label(f.scheme),
                f.cycles,
                f.microseconds,
                pct(f.utilization),
                f.dsp_blocks,
                f.block_rams,
                if f.fits_matrix_memory { "yes" } else { "no" }
            );
        }
        let _ = writeln!(
            t,
            "| compute bound nnz / (P K) | {:.0} | {:.2} | 100.0% | | | |",
            b.compute_bound_cycles, b.compute_bound_microseconds
        );
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbs_baseline_equals_the_simulated_frame_on_chip() {
        let cfg = Config::default();
        let opts = WorkloadOptions {
            workload: "small-gru".into(),
            frames: 2,
            baselines: true,
            ..WorkloadOptions::default()
        };
        let run = run_workload(&cfg, &opts).unwrap();
        let r = &run.report;
        let b = r.baselines.as_ref().unwrap();
        assert_eq!(b.frame[0].scheme, "bbs");
        assert_eq!(b.frame[0].cycles, r.frame_cycles());
        for l in &r.layers {
            for s in &l.spmv {
                assert_eq!(b.matrices[s.matrix].schemes[0].cycles, s.cycles.total);
                // Unstructured keeps exactly as many nonzeros as BBS.
                assert_eq!(
                    b.matrices[s.matrix].schemes[2].mask_nnz,
                    b.matrices[s.matrix].schemes[0].mask_nnz
                );
            }
        }
        // The six parts of each scheme's SpMxV time add up to it.
        for f in &b.frame {
            let s = &f.stalls;
            let sum = s.useful
                + s.bank_conflict
                + s.load_imbalance
                + s.underfill
                + s.vector_load
                + s.pipeline;
            assert!((sum - f.spmv_cycles as f64).abs() < 1e-6, "{f:?}");
        }
        // Without baselines the CSV has the same bbs rows.
        let plain = run_workload(
            &cfg,
            &WorkloadOptions {
                baselines: false,
                ..opts
            },
        )
        .unwrap();
        let bbs_lines = |csv: &str| -> Vec<String> {
            csv.lines()
                .filter(|l| l.split(',').nth(3) == Some("bbs"))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(bbs_lines(&plain.report.to_csv()), bbs_lines(&r.to_csv()));
    }

    #[test]
    fn options_are_checked() {
        let cfg = Config::default();
        for (opts, needle) in [
            (
                WorkloadOptions {
                    workload: "nope".into(),
                    ..WorkloadOptions::default()
                },
                "workload",
            ),
            (
                WorkloadOptions {
                    frames: 0,
                    ..WorkloadOptions::default()
                },
                "frames",
            ),
            (
                WorkloadOptions {
                    sparsity: 1.0,
                    ..WorkloadOptions::default()
                },
                "sparsity",
            ),
        ] {
            let err = run_workload(&cfg, &opts).unwrap_err().to_string();
            assert!(err.starts_with(needle), "{err}");
        }
    }
}
