//! Bank-balanced pruning: every bank of every row keeps the same number of
//! largest-magnitude weights, so a K-multiplier PE never idles on an empty bank.

use std::cmp::Ordering;

use ndarray::{Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Bank indices are stored as `u16`, which bounds the bank size.
pub const MAX_BANK_SIZE: usize = 1 << 16;

/// The result of [`prune_bbs`].
#[derive(Clone, Debug, PartialEq)]
pub struct BbsPruned {
    /// Original shape.
    pub rows: usize,
    pub cols: usize,
    /// K, and `bank_size = ceil(cols / banks)`.
    pub banks: usize,
    pub bank_size: usize,
    /// n: entries kept per bank.
    pub slots: usize,
    /// Original shape; pruned entries are 0.0, kept entries keep their value.
    pub pruned: Array2<f32>,
    /// Bank-internal indices, `rows * slots * banks` of them, at
    /// `(r * slots + s) * banks + b`, ascending in `s` within each (row, bank).
    pub kept: Vec<u16>,
}

impl BbsPruned {
    /// Fraction of the original `rows * cols` entries that are zero in `pruned`
    /// (kept weights that were already zero count as zero).
    pub fn achieved_sparsity(&self) -> f64 {
        let total = self.pruned.len();
        if total == 0 {
            return 0.0;
        }
        let zeros = self.pruned.iter().filter(|&&x| x == 0.0).count();
        zeros as f64 / total as f64
    }

    /// 1 where an entry is kept, 0 elsewhere; original columns only.
    pub fn mask(&self) -> Array2<u8> {
        let mut m = Array2::<u8>::zeros(self.pruned.raw_dim());
        for (i, &idx) in self.kept.iter().enumerate() {
            let Some((r, b)) = self.position(i) else {
                continue;
            };
            let col = b * self.bank_size + idx as usize;
            if let Some(cell) = m.get_mut((r, col)) {
                *cell = 1;
            }
        }
        m
    }

    /// (row, bank) of flat position `i` in `kept`.
    fn position(&self, i: usize) -> Option<(usize, usize)> {
        let per_row = self.slots.checked_mul(self.banks).filter(|&n| n > 0)?;
        Some((i / per_row, i % self.banks))
    }
}

/// Entries kept per bank: `clamp(ceil((1 - sparsity) * bank_size - 1e-9), 1, bank_size)`.
///
/// The `1e-9` keeps float noise from rounding e.g. `0.125 * 16` up to 3. A
/// `bank_size` of 0 gives 0.
pub fn kept_per_bank(bank_size: usize, sparsity: f64) -> usize {
    if bank_size == 0 {
        return 0;
    }
    let n = ((1.0 - sparsity) * bank_size as f64 - 1e-9).ceil();
    // `as` saturates (NaN -> 0), so the clamp handles every input.
    (n as usize).clamp(1, bank_size)
}

/// Prunes `w` (rows x cols) to bank-balanced sparsity.
///
/// Each row is split into `banks` banks of `bank_size = ceil(cols / banks)`
/// columns; when `cols % banks != 0` the last columns are zero padding.
/// Every bank keeps `n = kept_per_bank(bank_size, sparsity)` entries.
///
/// Tie rule: within a bank, entries are ranked by `|w|` descending and, for
/// equal `|w|`, by column ascending (the lower column wins). Padding columns
/// count as 0.0 and have the highest columns, so they rank last among zeros
/// and are kept only when a bank has fewer than `n` real columns.
///
/// Rows are pruned in parallel on rayon's global pool; the result does not
/// depend on the thread count.
///
/// Errors: `sparsity` not finite or outside `[0, 1)`; `banks` 0 or more than
/// the column count; an empty matrix; a bank size over 65536 (u16 indices);
/// a NaN or infinite weight.
pub fn prune_bbs(w: &ArrayView2<f32>, banks: usize, sparsity: f64) -> Result<BbsPruned> {
    if !sparsity.is_finite() {
        return Err(Error::param(
            "sparsity",
            format!("{sparsity} is not a finite number in [0, 1)"),
        ));
    }
    if !(0.0..1.0).contains(&sparsity) {
        return Err(Error::param(
            "sparsity",
            format!("{sparsity} is outside [0, 1)"),
        ));
    }
    let (rows, cols) = w.dim();
    if rows == 0 || cols == 0 {
        return Err(Error::param(
            "weights",
            format!("the matrix is empty (shape [{rows}, {cols}])"),
        ));
    }
    if banks == 0 || banks > cols {
        return Err(Error::param(
            "banks",
            format!("{banks} must be between 1 and the matrix's column count ({cols})"),
        ));
    }
    let bank_size = cols.div_ceil(banks);
    if bank_size > MAX_BANK_SIZE {
        return Err(Error::param(
            "banks",
            format!(
                "{banks} banks over {cols} columns give bank_size {bank_size}, above the u16-index limit {MAX_BANK_SIZE}"
            ),
        ));
    }
    if rows > u32::MAX as usize || cols > u32::MAX as usize {
        return Err(Error::param(
            "weights",
            format!("shape [{rows}, {cols}] exceeds the CSB limit of 2^32-1 per dimension"),
        ));
    }
    if let Some(((row, col), &value)) = w.indexed_iter().find(|(_, x)| !x.is_finite()) {
        return Err(Error::NonFiniteWeight { row, col, value });
    }

    let slots = kept_per_bank(bank_size, sparsity);
    let per_row = slots * banks;
    let mut pruned = vec![0.0f32; rows * cols];
    let mut kept = vec![0u16; rows * per_row];
    // Rows are independent, so they are pruned in parallel; each row's
    // result is the same as in a serial loop, so the output is deterministic.
    // Batches of at least ~64K weights keep task overhead negligible.
    let min_rows = (1usize << 16).div_ceil(cols).max(1);
    pruned
        .par_chunks_mut(cols)
        .zip(kept.par_chunks_mut(per_row))
        .enumerate()
        .with_min_len(min_rows)
        .for_each_init(
            // Reused across the banks and rows of one task: the candidates of one bank.
            || {
                (
                    Vec::<u16>::with_capacity(bank_size),
                    vec![0.0f32; bank_size],
                )
            },
            |(order, mags), (r, (out, kept_row))| {
                prune_row(w.row(r), bank_size, slots, order, mags, out, kept_row)
            },
        );
    let pruned =
        Array2::from_shape_vec((rows, cols), pruned).map_err(|e| Error::param("weights", e))?;
    Ok(BbsPruned {
        rows,
        cols,
        banks,
        bank_size,
        slots,
        pruned,
        kept,
    })
}

/// Prunes one row: `out` (the row's `cols` outputs, zero on entry) receives
/// the kept weights, `kept` (`slots * banks` entries) the bank-internal
/// indices at `s * banks + b`. `order` and `mags` are scratch space.
fn prune_row(
    row: ArrayView1<f32>,
    bank_size: usize,
    slots: usize,
    order: &mut Vec<u16>,
    mags: &mut [f32],
    out: &mut [f32],
    kept: &mut [u16],
) {
    let cols = row.len();
    let banks = kept.len() / slots;
    for b in 0..banks {
        let base = b * bank_size;
        for (j, m) in mags.iter_mut().enumerate() {
            *m = row.get(base + j).map_or(0.0, |x| x.abs());
        }
        order.clear();
        // bank_size <= 65536, so every j fits in u16.
        order.extend((0..bank_size).map(|j| j as u16));
        let rank = |a: &u16, b: &u16| -> Ordering {
            mags[*b as usize]
                .total_cmp(&mags[*a as usize])
                .then(a.cmp(b))
        };
        if slots < bank_size {
            order.select_nth_unstable_by(slots - 1, rank);
        }
        let chosen = &mut order[..slots];
        chosen.sort_unstable();
        for (s, &j) in chosen.iter().enumerate() {
            kept[s * banks + b] = j;
            let col = base + j as usize;
            if col < cols {
                out[col] = row[col];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn kept_per_bank_values() {
        assert_eq!(kept_per_bank(16, 0.875), 2);
        assert_eq!(kept_per_bank(16, 0.0), 16);
        assert_eq!(kept_per_bank(16, 0.9), 2);
        assert_eq!(kept_per_bank(16, 0.99), 1);
        assert_eq!(kept_per_bank(4, 0.5), 2);
        assert_eq!(kept_per_bank(3, 0.5), 2);
        assert_eq!(kept_per_bank(0, 0.5), 0);
        assert_eq!(kept_per_bank(8, f64::NAN), 1);
    }

    #[test]
    fn mask_marks_kept_real_columns() {
        let w = array![[1.0f32, -5.0, 2.0, 0.5, 3.0]];
        // banks 2 -> bank_size 3, columns 0..3 and 3..6 (5 is padding)
        let p = prune_bbs(&w.view(), 2, 0.5).unwrap();
        assert_eq!(p.slots, 2);
        assert_eq!(p.mask(), array![[0u8, 1, 1, 1, 1]]);
        assert!((p.achieved_sparsity() - 0.2).abs() < 1e-12);
    }
}
