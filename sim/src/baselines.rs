//! Fair baselines on the same hardware: how many cycles y = W x takes when the
//! matrix is dense, unstructured-sparse or block-sparse instead of
//! bank-balanced, on the very PEs, multipliers, accumulate pipeline, vector
//! load and drain of a [`Config`]. Only the sparsity pattern and its schedule
//! differ, so the comparison isolates what BBS buys.
//!
//! The input is a keep-mask (`true` = nonzero): the timing depends only on
//! where the nonzeros are, never on their values.
//!
//! # The machine (shared by every scheme)
//!
//! P = `cfg.pes` PEs, each with K = `cfg.banks` multipliers, a K-input adder
//! tree and one accumulator; row `r` runs on PE `r % P` (EIE's interleaving).
//! A PE issues one *word* (up to K (weight, column) entries) per cycle.
//!
//! Total cycles = 1 (start) + `ceil(C / K)` (vector load: one vector-memory
//! word of K elements per cycle, BBS's `bank_size`) + compute +
//! [`crate::arch::timing::drain`] (after the last word is issued), exactly as
//! [`crate::simulate_spmv`]'s timeline. Compute is the busy time of the
//! slowest PE.
//!
//! # Scheduling rules (the "ESE/EIE way")
//!
//! * **Bbs**: the mask must be bank-balanced for `K` banks: bank `b` is the
//!   contiguous columns `b * S .. (b + 1) * S` with `S = ceil(C / K)` (as in
//!   CSB), and every bank of every row keeps the same count `n >= 1` (a last
//!   bank with fewer than `n` real columns keeps all of them: the rest of its
//!   slots hold zero padding, exactly as [`bbs_compress::prune_bbs`] does).
//!   Every row is `n` words issued in lockstep; multiplier `b` reads only
//!   bank `b`, so there are no bank conflicts. Compute = `ceil(R / P) * n`,
//!   the total equals [`crate::simulate_spmv`]'s for the same matrix.
//! * **Dense**: every entry is work, zeros included (the mask's values are
//!   ignored, only its shape counts; `nnz = R * C`). A row is `ceil(C / K)`
//!   words of K consecutive columns.
//! * **Unstructured**: each row's nonzeros in ascending column order (CSR),
//!   issued K at a time as words. For the non-BBS schemes the vector is banked
//!   *interleaved* (column `c` in bank `c % K`: their best case, since K
//!   consecutive columns never conflict). A word whose entries hit the same
//!   bank takes as many cycles as the largest number of its entries in one
//!   bank; the extra cycles are bank-conflict stalls. A row's last word may
//!   be partial (underfill). An empty row still costs 1 cycle (the
//!   accumulator must emit a zero). PEs run decoupled (activation FIFOs as in
//!   EIE): a PE's busy cycles are the sum over its rows, and the SpMxV ends
//!   when the slowest PE ends.
//! * **Block**: the mask must consist of whole, aligned `b x b` blocks (blocks
//!   at the right and bottom edges are cut off by the matrix border). The
//!   kept entries are scheduled exactly like Unstructured: a block's `b <= K`
//!   consecutive columns never conflict among themselves, but two blocks in
//!   one word may. That is the honest cost of block sparsity on this
//!   hardware. [`schedule`] detects `b` (the largest aligned block size the
//!   mask is made of, reported in [`SchemeReport::block_size`]) and rejects a
//!   mask that is not made of blocks of any size `>= 2`;
//!   [`schedule_block`] checks a given `b` instead.
//!
//! # Capacity
//!
//! The mask must fit the vector banks and output buffers (`R <= max_rows`,
//! `C <= max_cols`), the same for every scheme. The matrix memory is *not*
//! enforced, for any scheme (a dense baseline rarely fits a memory sized for
//! a sparse matrix): [`SchemeReport::matrix_words_per_pe`] against
//! `cfg.matrix_depth()` says whether it would. Note that the non-BBS words
//! carry full column indices and need a K x K crossbar to the interleaved
//! banks; only their timing is modelled here.
//!
//! # Accounting
//!
//! Per scheme, every multiplier-slot of every cycle is either useful or one
//! of the stalls of [`StallBreakdown`]:
//!
//! `P*K*cycles = nnz + K*(bank_conflict + load_imbalance) + underfill_slots
//!  + P*K*(vector_load + pipeline)`.

use crate::config::{Config, ConfigError};
use ndarray::{Array2, ArrayView1, ArrayView2};
use serde::Serialize;

/// A sparsity pattern and its schedule; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Scheme {
    Bbs,
    Dense,
    Unstructured,
    Block,
}

impl Scheme {
    /// All schemes, in report order.
    pub const ALL: [Scheme; 4] = [
        Scheme::Bbs,
        Scheme::Dense,
        Scheme::Unstructured,
        Scheme::Block,
    ];

    /// Lower-case name for tables.
    pub fn label(&self) -> &'static str {
        match self {
            Scheme::Bbs => "bbs",
            Scheme::Dense => "dense",
            Scheme::Unstructured => "unstructured",
            Scheme::Block => "block",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// An entry of [`compare`] failed.
    #[error("masks[{index}] ({scheme:?}): {source}")]
    Entry {
        index: usize,
        scheme: Scheme,
        source: Box<BaselineError>,
    },
}

fn invalid(field: &'static str, message: String) -> BaselineError {
    BaselineError::Invalid { field, message }
}

/// Where the cycles go. Per-PE quantities are summed over PEs (PE-cycles);
/// the fixed overheads are plain cycles of the whole machine.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StallBreakdown {
    /// PE-cycles (summed over PEs): extra cycles of issued words in which two
    /// or more entries hit the same vector bank (a word takes as many cycles
    /// as its busiest bank has entries). Always 0 for Bbs and Dense.
    pub bank_conflict: u64,
    /// PE-cycles (summed over PEs) idle waiting for the slowest PE:
    /// `sum over PEs of (max busy - busy)`. For Bbs and Dense this is only
    /// the PEs without a last row when `P` does not divide `R`.
    pub load_imbalance: u64,
    /// `underfill_slots / K`, rounded to nearest: idle multiplier slots in
    /// PE-cycle equivalents.
    pub underfill: u64,
    /// Idle multiplier slots (summed over PEs) in issued words with fewer than
    /// K useful entries: partial last words of rows, empty rows (K each), and
    /// for Bbs the zero-padding slots of a short last bank.
    pub underfill_slots: u64,
    /// Cycles: 1 (start) + `ceil(C / K)` (vector load).
    pub vector_load: u64,
    /// Cycles: [`crate::arch::timing::drain`], the pipeline drain after the last word.
    pub pipeline: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SchemeReport {
    pub scheme: Scheme,
    pub rows: usize,
    pub cols: usize,
    /// Multiplications the scheme performs as work: the mask's `true` count,
    /// except Dense: `R * C`.
    pub nnz: usize,
    /// The mask's `true` count (equals `nnz` except for Dense).
    pub mask_nnz: usize,
    /// Block only: the block size `b` the mask was checked against.
    pub block_size: Option<usize>,
    /// Total cycles, start to done.
    pub cycles: u64,
    /// Busy cycles of the slowest PE.
    pub compute_cycles: u64,
    /// `nnz / (P * K)`: the cycles if every multiplier worked every cycle.
    pub compute_bound: f64,
    /// `nnz / (P * K * cycles)`.
    pub utilization: f64,
    /// `mask_nnz / (P * K * cycles)`: useful work only (differs for Dense).
    pub effective_utilization: f64,
    pub stalls: StallBreakdown,
    /// Busy cycles of each PE (including its conflict cycles and underfilled words).
    pub per_pe_busy: Vec<u64>,
    /// The most matrix words any PE stores (one per issued word, not counting
    /// conflict cycles): compare with `cfg.matrix_depth()`.
    pub matrix_words_per_pe: u64,
    /// `matrix_words_per_pe <= cfg.matrix_depth()`.
    pub fits_matrix_memory: bool,
}

/// The cost of one row.
#[derive(Clone, Copy, Default)]
struct RowCost {
    cycles: u64,
    conflict: u64,
    used: u64,
    words: u64,
}

/// Timing of y = W x for `scheme` on `cfg`'s hardware; `mask[r][c]` is true
/// where W has a nonzero. For [`Scheme::Block`] the block size is detected.
pub fn schedule(
    cfg: &Config,
    mask: &ArrayView2<bool>,
    scheme: Scheme,
) -> Result<SchemeReport, BaselineError> {
    check_shape(cfg, mask)?;
    match scheme {
        Scheme::Bbs => schedule_bbs(cfg, mask),
        Scheme::Dense => Ok(schedule_dense(cfg, mask)),
        Scheme::Unstructured => Ok(schedule_unstructured(cfg, mask, Scheme::Unstructured, None)),
        Scheme::Block => {
            let b = detect_block(mask)?;
            Ok(schedule_unstructured(cfg, mask, Scheme::Block, Some(b)))
        }
    }
}

/// [`Scheme::Block`] with a given block size: the mask must consist of whole
/// aligned `block x block` blocks (cut off at the matrix border).
pub fn schedule_block(
    cfg: &Config,
    mask: &ArrayView2<bool>,
    block: usize,
) -> Result<SchemeReport, BaselineError> {
    check_shape(cfg, mask)?;
    if block == 0 {
        return Err(invalid("block", "0 must be at least 1".into()));
    }
    let (rows, cols) = mask.dim();
    for ((r, c), &m) in mask.indexed_iter() {
        let corner = mask[[r / block * block, c / block * block]];
        if m != corner {
            return Err(invalid(
                "mask",
                format!(
                    "not made of whole {block} x {block} blocks: entry ({r}, {c}) differs from its block's corner ({}, {}) (shape [{rows}, {cols}])",
                    r / block * block,
                    c / block * block
                ),
            ));
        }
    }
    Ok(schedule_unstructured(cfg, mask, Scheme::Block, Some(block)))
}

/// Schedules every `(scheme, mask)` pair; the first error names its entry.
pub fn compare(
    cfg: &Config,
    masks: &[(Scheme, Array2<bool>)],
) -> Result<Vec<SchemeReport>, BaselineError> {
    masks
        .iter()
        .enumerate()
        .map(|(index, (scheme, mask))| {
            schedule(cfg, &mask.view(), *scheme).map_err(|e| BaselineError::Entry {
                index,
                scheme: *scheme,
                source: Box::new(e),
            })
        })
        .collect()
}

fn check_shape(cfg: &Config, mask: &ArrayView2<bool>) -> Result<(), BaselineError> {
    cfg.validate()?;
    let (rows, cols) = mask.dim();
    if rows == 0 || cols == 0 {
        return Err(invalid(
            "mask",
            format!("the matrix is empty (shape [{rows}, {cols}])"),
        ));
    }
    if rows > cfg.max_rows {
        return Err(invalid(
            "mask",
            format!(
                "{rows} rows, the configuration holds max_rows = {}",
                cfg.max_rows
            ),
        ));
    }
    if cols > cfg.max_cols {
        return Err(invalid(
            "mask",
            format!(
                "{cols} columns, the configuration holds max_cols = {}",
                cfg.max_cols
            ),
        ));
    }
    Ok(())
}

/// The largest aligned block size the mask is made of: the gcd of every
/// position where the mask changes along a row or a column. A uniform mask
/// is one block of `max(R, C)`. Errors when the only size is 1 (unstructured).
fn detect_block(mask: &ArrayView2<bool>) -> Result<usize, BaselineError> {
    let (rows, cols) = mask.dim();
    let mut g = 0usize;
    // The change that brought the gcd down to 1, for the error message.
    let mut culprit = None;
    for r in 0..rows {
        for c in 0..cols {
            let m = mask[[r, c]];
            for (changed, pos) in [
                (c > 0 && mask[[r, c - 1]] != m, c),
                (r > 0 && mask[[r - 1, c]] != m, r),
            ] {
                if changed {
                    g = gcd(g, pos);
                    if g == 1 && culprit.is_none() {
                        culprit = Some((r, c));
                    }
                }
            }
        }
        if g == 1 {
            break;
        }
    }
    match (g, culprit) {
        (0, _) => Ok(rows.max(cols)),
        (1, Some((r, c))) => Err(invalid(
            "mask",
            format!(
                "not made of whole aligned b x b blocks for any b >= 2 (the change at entry ({r}, {c}) is aligned with no common block size); schedule it as Unstructured"
            ),
        )),
        (g, _) => Ok(g),
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn schedule_bbs(cfg: &Config, mask: &ArrayView2<bool>) -> Result<SchemeReport, BaselineError> {
    let (rows, cols) = mask.dim();
    let k = cfg.banks;
    let bank_size = cols.div_ceil(k);
    let real = |b: usize| bank_size.min(cols.saturating_sub(b * bank_size));
    let mut counts = vec![0usize; rows * k];
    for ((r, c), &m) in mask.indexed_iter() {
        if m {
            counts[r * k + c / bank_size] += 1;
        }
    }
    // Bank 0 always has `bank_size` real columns, so row 0's sets the count.
    let n = counts[0];
    if n == 0 {
        return Err(invalid(
            "mask",
            format!("row 0, bank 0 keeps nothing; a BBS matrix keeps at least one entry per bank (banks = {k}, bank size {bank_size})"),
        ));
    }
    for (i, &count) in counts.iter().enumerate() {
        let (r, b) = (i / k, i % k);
        let want = n.min(real(b));
        if count != want {
            return Err(invalid(
                "mask",
                format!(
                    "not bank-balanced for banks = {k} (bank size {bank_size}): row {r}, bank {b} keeps {count}, every bank keeps {n}{}",
                    if want < n {
                        format!(" (this bank has {} real columns, so {want})", real(b))
                    } else {
                        String::new()
                    }
                ),
            ));
        }
    }
    let n = n as u64;
    let costs = (0..rows).map(|r| RowCost {
        cycles: n,
        conflict: 0,
        used: counts[r * k..(r + 1) * k].iter().sum::<usize>() as u64,
        words: n,
    });
    let mask_nnz = counts.iter().sum();
    Ok(finish(
        cfg,
        Scheme::Bbs,
        rows,
        cols,
        mask_nnz,
        mask_nnz,
        None,
        costs,
    ))
}

fn schedule_dense(cfg: &Config, mask: &ArrayView2<bool>) -> SchemeReport {
    let (rows, cols) = mask.dim();
    let words = cols.div_ceil(cfg.banks) as u64;
    let costs = (0..rows).map(|_| RowCost {
        cycles: words,
        conflict: 0,
        used: cols as u64,
        words,
    });
    let mask_nnz = mask.iter().filter(|&&m| m).count();
    finish(
        cfg,
        Scheme::Dense,
        rows,
        cols,
        rows * cols,
        mask_nnz,
        None,
        costs,
    )
}

fn schedule_unstructured(
    cfg: &Config,
    mask: &ArrayView2<bool>,
    scheme: Scheme,
    block: Option<usize>,
) -> SchemeReport {
    let (rows, cols) = mask.dim();
    let k = cfg.banks;
    let mut counts = vec![0u64; k];
    let costs: Vec<RowCost> = (0..rows)
        .map(|r| csr_row_cost(mask.row(r), k, &mut counts))
        .collect();
    let nnz = costs.iter().map(|c| c.used as usize).sum();
    finish(cfg, scheme, rows, cols, nnz, nnz, block, costs.into_iter())
}

/// One CSR row: its nonzeros in column order, K per word; a word takes as
/// many cycles as its busiest interleaved bank (`c % K`) has entries.
fn csr_row_cost(row: ArrayView1<bool>, k: usize, counts: &mut [u64]) -> RowCost {
    let mut cost = RowCost::default();
    let mut in_word = 0usize;
    let mut busiest = 0u64;
    let flush = |cost: &mut RowCost, busiest: &mut u64, counts: &mut [u64]| {
        cost.cycles += *busiest;
        cost.conflict += *busiest - 1;
        cost.words += 1;
        counts.fill(0);
        *busiest = 0;
    };
    for (c, _) in row.iter().enumerate().filter(|(_, &m)| m) {
        let bank = &mut counts[c % k];
        *bank += 1;
        busiest = busiest.max(*bank);
        cost.used += 1;
        in_word += 1;
        if in_word == k {
            flush(&mut cost, &mut busiest, counts);
            in_word = 0;
        }
    }
    if in_word > 0 {
        flush(&mut cost, &mut busiest, counts);
    }
    if cost.words == 0 {
        // An empty row: one idle word so the accumulator emits its zero.
        cost.cycles = 1;
        cost.words = 1;
    }
    cost
}

#[allow(clippy::too_many_arguments)]
fn finish(
    cfg: &Config,
    scheme: Scheme,
    rows: usize,
    cols: usize,
    nnz: usize,
    mask_nnz: usize,
    block_size: Option<usize>,
    costs: impl Iterator<Item = RowCost>,
) -> SchemeReport {
    let (p, k) = (cfg.pes, cfg.banks as u64);
    let mut busy = vec![0u64; p];
    let mut words = vec![0u64; p];
    let (mut conflict, mut issued_slots, mut used) = (0u64, 0u64, 0u64);
    for (r, cost) in costs.enumerate() {
        busy[r % p] += cost.cycles;
        words[r % p] += cost.words;
        conflict += cost.conflict;
        issued_slots += k * cost.cycles;
        used += cost.used;
    }
    let compute = busy.iter().copied().max().unwrap_or(0);
    let load_imbalance = busy.iter().map(|&b| compute - b).sum();
    let underfill_slots = issued_slots - k * conflict - used;
    let vector_load = 1 + cols.div_ceil(cfg.banks) as u64;
    let pipeline = crate::arch::timing::drain(cfg);
    let cycles = vector_load + compute + pipeline;
    let slots = (p as u64 * k) as f64;
    let matrix_words_per_pe = words.iter().copied().max().unwrap_or(0);
    SchemeReport {
        scheme,
        rows,
        cols,
        nnz,
        mask_nnz,
        block_size,
        cycles,
        compute_cycles: compute,
        compute_bound: nnz as f64 / slots,
        utilization: nnz as f64 / (slots * cycles as f64),
        effective_utilization: mask_nnz as f64 / (slots * cycles as f64),
        stalls: StallBreakdown {
            bank_conflict: conflict,
            load_imbalance,
            underfill: (underfill_slots + k / 2) / k,
            underfill_slots,
            vector_load,
            pipeline,
        },
        per_pe_busy: busy,
        matrix_words_per_pe,
        fits_matrix_memory: matrix_words_per_pe <= cfg.matrix_depth() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn block_detection_takes_the_gcd_of_the_changes() {
        let m = Array2::from_shape_fn((8, 12), |(r, c)| (r / 4 + c / 4) % 2 == 0);
        assert_eq!(detect_block(&m.view()).unwrap(), 4);
        let m = Array2::from_shape_fn((6, 6), |(r, c)| (r / 2 + c / 2) % 3 == 0);
        assert_eq!(detect_block(&m.view()).unwrap(), 2);
        let uniform = Array2::from_elem((3, 5), true);
        assert_eq!(detect_block(&uniform.view()).unwrap(), 5);
        // Edge blocks are cut off by the border: a 3 x 3 matrix of 2 x 2 blocks.
        let ragged = array![
            [true, true, false],
            [true, true, false],
            [false, false, false]
        ];
        assert_eq!(detect_block(&ragged.view()).unwrap(), 2);
        let unaligned = array![[false, true, true, false], [false, true, true, false]];
        let err = detect_block(&unaligned.view()).unwrap_err().to_string();
        assert!(err.starts_with("mask:"), "{err}");
    }

    #[test]
    fn csr_rows_count_conflicts_and_empty_rows() {
        let mut counts = vec![0; 4];
        let row = array![true, true, false, false, true, false, false, false, true];
        let cost = csr_row_cost(row.view(), 4, &mut counts);
        assert_eq!(
            (cost.cycles, cost.conflict, cost.used, cost.words),
            (3, 2, 4, 1)
        );
        let empty = Array2::from_elem((1, 5), false);
        let cost = csr_row_cost(empty.row(0), 4, &mut counts);
        assert_eq!(
            (cost.cycles, cost.conflict, cost.used, cost.words),
            (1, 0, 0, 1)
        );
    }
}
