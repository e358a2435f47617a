//! What a pruning cost, per layer: the error it introduced and the storage
//! of the pattern's natural sparse format against the dense matrix.

use ndarray::{Array2, ArrayView2};

use crate::patterns::Pattern;

/// Metrics of one pruned layer; see [`layer_metrics`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LayerMetrics {
    /// Pruned entries / all entries. Counts the mask: a weight that was
    /// already 0.0 and is kept counts as kept.
    pub achieved_sparsity: f64,
    /// `||W - W_pruned||_F / ||W||_F`; 0 when `||W||_F = 0`.
    pub relative_frobenius_error: f64,
    /// `sum |kept w| / sum |w|`; 1 when `sum |w| = 0` (nothing was lost).
    pub retained_magnitude_share: f64,
    /// `R * C * value_bytes`.
    pub dense_bytes: usize,
    /// Values plus indices of the pattern's natural format.
    pub sparse_bytes: usize,
    /// The index part of `sparse_bytes` (indices and row/block pointers).
    pub index_bytes: usize,
    /// `index_bytes / (sparse_bytes - index_bytes)`; 0 when both are 0,
    /// infinite when only indices are stored (serialized as JSON `null`).
    pub index_overhead: f64,
}

/// Bytes of the 32-bit row/block-row pointers of CSR and BSR.
const POINTER_BYTES: usize = 4;

/// Metrics of pruning `w` to `mask` (`true` = kept) under `pattern`, with
/// `value_bytes` bytes per stored value (e.g. 2 for 16-bit fixed point).
///
/// Storage of each pattern's natural format. `bits(x) = ceil(log2(x))`
/// (0 for `x <= 1`); index bits are summed over the whole matrix and rounded
/// up to whole bytes once; pointers are 32-bit.
///
/// * BBS (CSB): `R * slots * K` values and as many `bits(bank_size)`-bit
///   bank-internal indices, with `bank_size = ceil(C / K)` and `slots` the
///   largest kept count of any (row, bank) (the per-bank count for a
///   [`prune_bbs`](crate::prune_bbs) mask). No row pointers: every row has
///   the same length.
/// * N:M: `R * ceil(C / M) * N` values and as many `bits(M)`-bit indices (N
///   is raised to the largest kept count of any group if a mask exceeds it).
/// * Unstructured (CSR): `nnz` values, `nnz` column indices of `bits(C)`
///   bits, `R + 1` row pointers.
/// * Row-balanced: `R * L` values and `bits(C)`-bit column indices, `L` the
///   largest kept count of any row; no row pointers (fixed row length).
/// * Block b (BSR): `b * b` values per kept block (zeros inside kept blocks
///   and the padding of edge blocks included), one `bits(ceil(C / b))`-bit
///   block-column index per kept block, `ceil(R / b) + 1` block-row
///   pointers. A block counts as kept if any of its entries is.
///
/// Never panics: mask entries outside `mask`'s shape count as pruned, and
/// out-of-range pattern parameters (0 banks, m or block size) are taken as
/// 1 (banks above `C` as `C`). Sizes saturate at `usize::MAX`.
pub fn layer_metrics(
    w: &ArrayView2<f32>,
    mask: &Array2<bool>,
    pattern: &Pattern,
    value_bytes: usize,
) -> LayerMetrics {
    let (rows, cols) = w.dim();
    let kept = |r: usize, c: usize| mask.get((r, c)).copied().unwrap_or(false);

    let (mut pruned_n, mut total_sq, mut pruned_sq, mut total_abs, mut kept_abs) =
        (0usize, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for ((r, c), &x) in w.indexed_iter() {
        let x = f64::from(x);
        total_sq += x * x;
        total_abs += x.abs();
        if kept(r, c) {
            kept_abs += x.abs();
        } else {
            pruned_n += 1;
            pruned_sq += x * x;
        }
    }
    let entries = rows.saturating_mul(cols);
    let achieved_sparsity = if entries == 0 {
        0.0
    } else {
        pruned_n as f64 / entries as f64
    };
    let relative_frobenius_error = if total_sq > 0.0 {
        pruned_sq.sqrt() / total_sq.sqrt()
    } else {
        0.0
    };
    let retained_magnitude_share = if total_abs > 0.0 {
        kept_abs / total_abs
    } else {
        1.0
    };

    let (stored_values, index_bytes) = storage(rows, cols, &kept, pattern);
    let value_part = stored_values.saturating_mul(value_bytes);
    let index_overhead = if value_part > 0 {
        index_bytes as f64 / value_part as f64
    } else if index_bytes == 0 {
        0.0
    } else {
        f64::INFINITY
    };
    LayerMetrics {
        achieved_sparsity,
        relative_frobenius_error,
        retained_magnitude_share,
        dense_bytes: entries.saturating_mul(value_bytes),
        sparse_bytes: value_part.saturating_add(index_bytes),
        index_bytes,
        index_overhead,
    }
}

/// `ceil(log2(x))`, 0 for `x <= 1`.
fn bits(x: usize) -> u32 {
    if x <= 1 {
        0
    } else {
        usize::BITS - (x - 1).leading_zeros()
    }
}

/// `ceil(n * bits / 8)`, saturating.
fn packed_bytes(n: usize, bits: u32) -> usize {
    let total = n as u128 * u128::from(bits);
    usize::try_from(total.div_ceil(8)).unwrap_or(usize::MAX)
}

/// `(stored values, index bytes)` of the pattern's natural format.
fn storage(
    rows: usize,
    cols: usize,
    kept: &impl Fn(usize, usize) -> bool,
    pattern: &Pattern,
) -> (usize, usize) {
    // Largest kept count over (row, group of `group` consecutive columns).
    let max_group_count = |group: usize| -> usize {
        let ngroups = cols.div_ceil(group);
        let mut counts = vec![0usize; ngroups];
        let mut best = 0;
        for r in 0..rows {
            counts.iter_mut().for_each(|n| *n = 0);
            for c in 0..cols {
                if kept(r, c) {
                    counts[c / group] += 1;
                }
            }
            best = counts.iter().copied().fold(best, usize::max);
        }
        best
    };
    match *pattern {
        Pattern::Bbs { banks } => {
            let banks = banks.clamp(1, cols.max(1));
            let bank_size = cols.div_ceil(banks).max(1);
            let slots = max_group_count(bank_size);
            let n = rows.saturating_mul(slots).saturating_mul(banks);
            (n, packed_bytes(n, bits(bank_size)))
        }
        Pattern::NM { n, m } => {
            let m = m.max(1);
            let slots = n.min(m).max(max_group_count(m));
            let stored = rows.saturating_mul(cols.div_ceil(m)).saturating_mul(slots);
            (stored, packed_bytes(stored, bits(m)))
        }
        Pattern::Unstructured => {
            let nnz = (0..rows)
                .map(|r| (0..cols).filter(|&c| kept(r, c)).count())
                .sum::<usize>();
            let pointers = rows.saturating_add(1).saturating_mul(POINTER_BYTES);
            (nnz, packed_bytes(nnz, bits(cols)).saturating_add(pointers))
        }
        Pattern::RowBalanced => {
            let len = max_group_count(cols.max(1));
            let stored = rows.saturating_mul(len);
            (stored, packed_bytes(stored, bits(cols)))
        }
        Pattern::Block { size } => {
            let size = size.max(1);
            let (brows, bcols) = (rows.div_ceil(size), cols.div_ceil(size));
            let mut any = vec![false; brows.saturating_mul(bcols)];
            for r in 0..rows {
                for c in 0..cols {
                    if kept(r, c) {
                        any[(r / size) * bcols + c / size] = true;
                    }
                }
            }
            let kept_blocks = any.iter().filter(|&&k| k).count();
            let values = kept_blocks.saturating_mul(size.saturating_mul(size));
            let pointers = brows.saturating_add(1).saturating_mul(POINTER_BYTES);
            (
                values,
                packed_bytes(kept_blocks, bits(bcols)).saturating_add(pointers),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_is_ceil_log2() {
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 16, 17].map(bits),
            [0, 0, 1, 2, 2, 3, 4, 5]
        );
        assert_eq!(packed_bytes(3, 3), 2);
        assert_eq!(packed_bytes(0, 7), 0);
    }
}
