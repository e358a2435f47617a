//! The `baselines` section both reports share: each SpMxV matrix scheduled
//! on the configuration's PEs and multipliers ([`crate::baselines`]) under
//! every scheme, and the schemes' totals over a frame (or over all layers of
//! a model run once).
//!
//! * `bbs`: the matrix's own bank-balanced mask (read back from its CSB,
//!   [`csb_mask`]);
//! * `dense`: the unpruned matrix (every entry is work);
//! * `unstructured`: [`bbs_compress::prune_mask`] with
//!   [`Pattern::Unstructured`] on the same dense float weights, at the
//!   sparsity that keeps exactly the BBS mask's nonzero count;
//! * `block`: [`Pattern::Block`] of [`BLOCK_SIZE`] x [`BLOCK_SIZE`] at that
//!   same sparsity (the count differs from BBS's by the block granularity).
//!
//! The baseline schedules assume on-chip matrices. A scheme's frame latency is
//! the frame's non-SpMxV cycles (EWOP, ACT, DMA: the same for every scheme)
//! plus the scheme's SpMxV cycles; for `bbs` with on-chip matrices it equals
//! the simulated frame exactly.

use super::published::Published;
use super::{ReportError, Resources};
use crate::arith::clog2;
use crate::baselines::{schedule, schedule_block, Scheme, SchemeReport};
use crate::config::Config;
use crate::resources::{memory_blocks, Device};
use bbs_compress::{prune_mask, Csb, Pattern};
use ndarray::{Array2, CowArray, Ix2};
use serde::Serialize;

/// Block size of the `block` baseline.
pub const BLOCK_SIZE: usize = 4;

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
    pub(super) fn new(r: &SchemeReport) -> SchemeRow {
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

/// One matrix to set beside its baselines.
pub(super) struct BaselineInput<'a> {
    /// The matrix's number in the report (`matrix` of its rows).
    pub index: usize,
    pub name: &'a str,
    /// The BBS keep-mask ([`csb_mask`]).
    pub mask: &'a Array2<bool>,
    /// Dense float weights the unstructured and block masks are pruned from.
    pub weights: CowArray<'a, f32, Ix2>,
    /// The matrix's on-chip BBS schedule.
    pub bbs: &'a SchemeReport,
}

/// The `baselines` section: every matrix under every scheme, each scheme's
/// totals with `other_cycles` (the frame's non-SpMxV cycles) added, the
/// compute bound of the BBS masks, and `published` to set beside them.
pub(super) fn baselines<'a>(
    cfg: &Config,
    device: Device,
    resources: &Resources,
    inputs: impl IntoIterator<Item = BaselineInput<'a>>,
    other_cycles: u64,
    published: Option<Published>,
) -> Result<Baselines, ReportError> {
    let slots = (cfg.pes * cfg.banks) as f64;
    let mhz = cfg.host.clock_mhz as f64;
    let mut matrices = Vec::new();
    let mut per_scheme: Vec<Vec<SchemeReport>> = vec![Vec::new(); Scheme::ALL.len()];
    let mut bbs_nnz = 0;
    for m in inputs {
        bbs_nnz += m.bbs.nnz;
        let (row, reports) =
            matrix_baselines(cfg, m.index, m.name, m.mask, &m.weights.view(), m.bbs)?;
        matrices.push(row);
        for (s, r) in reports.into_iter().enumerate() {
            per_scheme[s].push(r);
        }
    }
    let bound = bbs_nnz as f64 / slots;
    Ok(Baselines {
        block_size: BLOCK_SIZE,
        matrices,
        frame: scheme_totals(cfg, device, resources, &per_scheme, other_cycles),
        compute_bound_cycles: bound,
        compute_bound_microseconds: bound / mhz,
        published,
    })
}
