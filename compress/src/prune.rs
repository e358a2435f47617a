//! Bank-balanced pruning: every bank of every row keeps the same number of
//! largest-magnitude weights, so a K-multiplier PE never idles on an empty bank.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Bank indices are stored as `u16`, which bounds the bank size.
pub const MAX_BANK_SIZE: usize = 1 << 16;

/// The result of [`prune_bbs`]: the kept entries only, in CSB slot-major
/// order. The dense pruned matrix and the mask are built on demand
/// ([`BbsPruned::pruned`], [`BbsPruned::mask`]).
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
    /// The kept weights (their original values), in the order of `kept`;
    /// 0.0 at padding columns.
    pub values: Vec<f32>,
    /// Bank-internal indices, `rows * slots * banks` of them, at
    /// `(r * slots + s) * banks + b`, ascending in `s` within each (row, bank).
    pub kept: Vec<u16>,
}

impl BbsPruned {
    /// Calls `f(flat position in kept, row, column)` for every kept entry at a
    /// real (not padding) column inside the shape.
    fn for_each_kept(&self, mut f: impl FnMut(usize, usize, usize)) {
        let Some(per_row) = self.slots.checked_mul(self.banks).filter(|&n| n > 0) else {
            return;
        };
        for (r, row) in self.kept.chunks(per_row).enumerate().take(self.rows) {
            for (s, word) in row.chunks(self.banks).enumerate() {
                for (b, &idx) in word.iter().enumerate() {
                    let col = b
                        .saturating_mul(self.bank_size)
                        .saturating_add(idx as usize);
                    if col < self.cols {
                        f(r * per_row + s * self.banks + b, r, col);
                    }
                }
            }
        }
    }

    /// The pruned matrix in the original shape: kept entries keep their
    /// value, pruned entries are 0.0.
    pub fn pruned(&self) -> Array2<f32> {
        let mut out = Array2::<f32>::zeros((self.rows, self.cols));
        self.for_each_kept(|i, r, col| {
            out[(r, col)] = self.values.get(i).copied().unwrap_or(0.0);
        });
        out
    }

    /// Fraction of the original `rows * cols` entries that are zero in
    /// [`BbsPruned::pruned`] (kept weights that were already zero count as zero).
    pub fn achieved_sparsity(&self) -> f64 {
        let total = self.rows.saturating_mul(self.cols);
        if total == 0 {
            return 0.0;
        }
        let nonzero = match self.slots.checked_mul(self.banks).filter(|&n| n > 0) {
            // Whole rows per task (~64K entries); the count does not depend on the split.
            Some(per_row) if self.values.len() == self.kept.len() => {
                let rows = per_row * (1usize << 16).div_ceil(per_row);
                let chunks = self.kept.par_chunks(rows).zip(self.values.par_chunks(rows));
                chunks
                    .enumerate()
                    .map(|(c, (kept, values))| {
                        let first_row = c * (rows / per_row);
                        // The usual case: no padding columns, every index
                        // inside its bank, every row inside the shape.
                        if self.cols == self.bank_size.saturating_mul(self.banks)
                            && first_row + kept.len().div_ceil(per_row) <= self.rows
                            && (kept.iter().fold(0, |m, &i| m.max(i)) as usize) < self.bank_size
                        {
                            return values.iter().map(|&v| usize::from(v != 0.0)).sum();
                        }
                        let mut n = 0usize;
                        let row_pairs = kept.chunks(per_row).zip(values.chunks(per_row));
                        for (r, (kept, values)) in row_pairs.enumerate() {
                            if first_row + r >= self.rows {
                                break;
                            }
                            let words = kept.chunks(self.banks).zip(values.chunks(self.banks));
                            for (kept, values) in words {
                                for (b, (&idx, &v)) in kept.iter().zip(values).enumerate() {
                                    let col = b
                                        .saturating_mul(self.bank_size)
                                        .saturating_add(idx as usize);
                                    n += (col < self.cols && v != 0.0) as usize;
                                }
                            }
                        }
                        n
                    })
                    .sum()
            }
            _ => {
                let mut nonzero = 0usize;
                self.for_each_kept(|i, _, _| {
                    nonzero += (self.values.get(i).copied().unwrap_or(0.0) != 0.0) as usize;
                });
                nonzero
            }
        };
        (total - nonzero.min(total)) as f64 / total as f64
    }

    /// 1 where an entry is kept, 0 elsewhere; original columns only.
    pub fn mask(&self) -> Array2<u8> {
        let mut m = Array2::<u8>::zeros((self.rows, self.cols));
        self.for_each_kept(|_, r, col| m[(r, col)] = 1);
        m
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

    let slots = kept_per_bank(bank_size, sparsity);
    let per_row = slots * banks;
    let mut kept = vec![0u16; rows * per_row];
    let mut values = vec![0.0f32; rows * per_row];
    // Rows are independent, so they are pruned in parallel; each row's
    // result is the same as in a serial loop, so the output is deterministic.
    // Batches of at least ~64K weights keep task overhead negligible.
    let min_rows = (1usize << 16).div_ceil(cols).max(1);
    // Every row reports whether it holds a NaN or an infinity (magnitude bits
    // at or above those of infinity); the error then names the first one.
    let non_finite = kept
        .par_chunks_mut(per_row)
        .zip(values.par_chunks_mut(per_row))
        .enumerate()
        .with_min_len(min_rows)
        .map_init(
            || (Scratch::new(bank_size), Vec::new()),
            |(scratch, copy), (r, (kept_row, values_row))| {
                let row = w.row(r);
                let row: &[f32] = match row.to_slice() {
                    Some(s) => s,
                    None => {
                        // A non-contiguous input: the row is copied.
                        copy.clear();
                        copy.extend(row.iter().copied());
                        copy
                    }
                };
                prune_row(row, bank_size, slots, scratch, kept_row, values_row)
            },
        )
        .any(|bad| bad);
    if non_finite {
        if let Some(((row, col), &value)) = w.indexed_iter().find(|(_, x)| !x.is_finite()) {
            return Err(Error::NonFiniteWeight { row, col, value });
        }
    }
    Ok(BbsPruned {
        rows,
        cols,
        banks,
        bank_size,
        slots,
        values,
        kept,
    })
}

/// Magnitude bits of a float: non-negative floats order like these
/// (non-negative) integers; NaN and the infinities are above every finite value.
#[inline]
fn magnitude(x: f32) -> i32 {
    (x.to_bits() & 0x7fff_ffff) as i32
}

/// The bits of infinity's magnitude: every NaN or infinity is at or above it.
const INF_BITS: i32 = 0x7f80_0000;

/// Bit `i` set where `flags[i]` is 1 (each flag is 0 or 1).
#[inline]
fn pack_bits(flags: &[u8; 64]) -> u64 {
    let mut bits = 0u64;
    for (k, eight) in flags.chunks_exact(8).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(eight);
        // Gathers the low bit of each of the 8 bytes into the top byte.
        let packed = u64::from_le_bytes(b).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        bits |= packed << (8 * k);
    }
    bits
}

/// Per-task scratch space, reused across banks and rows.
struct Scratch {
    /// The magnitudes of one bank in column order (padding 0).
    mags: Vec<i32>,
    /// The candidates selection reorders.
    sel: Vec<i32>,
    /// A guess at the next bank's threshold, from the last one: only
    /// magnitudes at or above it are candidates. Any guess gives the same
    /// result (a wrong one costs a second pass); a good one leaves few.
    guess: i32,
    /// Per 64 columns of the bank: bit set where the magnitude is above the
    /// threshold, resp. equal to it.
    above: Vec<u64>,
    equal: Vec<u64>,
}

impl Scratch {
    fn new(bank_size: usize) -> Scratch {
        let words = bank_size.div_ceil(64);
        Scratch {
            mags: vec![0; bank_size],
            sel: vec![0; bank_size],
            guess: 0,
            above: vec![0; words],
            equal: vec![0; words],
        }
    }
}

/// Prunes one row: `kept` and `values` (`slots * banks` entries each) receive
/// the bank-internal indices and the kept weights at `s * banks + b`. Returns
/// whether the row holds a NaN or an infinity (the result is then unused).
///
/// Per bank, selection finds T, the `slots`-th largest magnitude; the bank
/// keeps every entry above T and, in column order, as many entries equal to T
/// as are still needed. That is exactly the tie rule (larger `|w|` first, the
/// lower column among equals) and yields the kept columns already ascending.
fn prune_row(
    row: &[f32],
    bank_size: usize,
    slots: usize,
    scratch: &mut Scratch,
    kept: &mut [u16],
    values: &mut [f32],
) -> bool {
    let cols = row.len();
    let banks = kept.len() / slots;
    let Scratch {
        mags,
        sel,
        guess,
        above,
        equal,
    } = scratch;
    let mut largest = 0i32;
    for b in 0..banks {
        let base = b * bank_size;
        let real = &row[base.min(cols)..(base + bank_size).min(cols)];
        let n = real.len();
        // The magnitudes, and (compacted into sel) those at or above the guess.
        let g = *guess;
        let mut k = 0;
        for (m, &x) in mags[..n].iter_mut().zip(real) {
            let v = magnitude(x);
            *m = v;
            sel[k] = v;
            k += usize::from(v >= g);
            largest = largest.max(v);
        }
        mags[n..].fill(0);
        if g == 0 {
            // Padding is 0: a candidate only when everything is.
            sel[k..].fill(0);
            k = bank_size;
        }
        // T, the slots-th largest magnitude: among the candidates when there
        // are enough of them (T is then one of them), else among all.
        let t = if k >= slots {
            *sel[..k].select_nth_unstable(k - slots).1
        } else {
            sel.copy_from_slice(mags);
            *sel.select_nth_unstable(bank_size - slots).1
        };
        // Next guess: 0.75 T, low enough that the next bank of similar
        // weights usually has enough candidates, few more than needed.
        *guess = magnitude(f32::from_bits(t as u32) * 0.75);

        let mut n_above = 0u32;
        for ((chunk, a), e) in mags.chunks(64).zip(above.iter_mut()).zip(equal.iter_mut()) {
            let (mut gt, mut eq) = ([0u8; 64], [0u8; 64]);
            for ((gt_flag, eq_flag), &m) in gt.iter_mut().zip(eq.iter_mut()).zip(chunk) {
                *gt_flag = u8::from(m > t);
                *eq_flag = u8::from(m == t);
            }
            *a = pack_bits(&gt);
            *e = pack_bits(&eq);
            n_above += a.count_ones();
        }
        // At most slots - 1 entries are above the slots-th largest.
        let mut ties = slots as u32 - n_above;
        let mut s = 0;
        for (w, (&ab, &eq)) in above.iter().zip(equal.iter()).enumerate() {
            let mut eq = eq;
            let n_eq = eq.count_ones();
            if n_eq <= ties {
                ties -= n_eq;
            } else {
                // Keep the lowest `ties` columns equal to T.
                let mut keep = 0u64;
                for _ in 0..ties {
                    let low = eq & eq.wrapping_neg();
                    keep |= low;
                    eq ^= low;
                }
                eq = keep;
                ties = 0;
            }
            let mut bits = ab | eq;
            while bits != 0 {
                let j = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let at = s * banks + b;
                // bank_size <= 65536, so every j fits in u16.
                kept[at] = j as u16;
                values[at] = real.get(j).copied().unwrap_or(0.0);
                s += 1;
            }
        }
        debug_assert_eq!(s, slots);
    }
    largest >= INF_BITS
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::{array, Array2};

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

    /// Sort-based reference: per bank, rank by |w| descending then column.
    fn reference(w: &Array2<f32>, banks: usize, sparsity: f64) -> (Vec<u16>, Vec<f32>) {
        let (rows, cols) = w.dim();
        let bank_size = cols.div_ceil(banks);
        let n = kept_per_bank(bank_size, sparsity);
        let (mut kept, mut values) = (vec![0u16; rows * n * banks], vec![0f32; rows * n * banks]);
        for r in 0..rows {
            for b in 0..banks {
                let mut cand: Vec<(f32, usize)> = (0..bank_size)
                    .map(|j| (w.get((r, b * bank_size + j)).map_or(0.0, |x| x.abs()), j))
                    .collect();
                cand.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
                let mut chosen: Vec<usize> = cand[..n].iter().map(|c| c.1).collect();
                chosen.sort_unstable();
                for (s, &j) in chosen.iter().enumerate() {
                    kept[(r * n + s) * banks + b] = j as u16;
                    values[(r * n + s) * banks + b] =
                        w.get((r, b * bank_size + j)).copied().unwrap_or(0.0);
                }
            }
        }
        (kept, values)
    }

    /// Banks whose scales jump around (so the threshold guessed from the
    /// previous bank is too high, too low or right), ties, zeros, signed
    /// zeros and padding: the result is the sort-based one.
    #[test]
    fn matches_sort_reference_whatever_the_guess() {
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for case in 0..60 {
            let rows = 1 + (next() % 40) as usize;
            let cols = 1 + (next() % 300) as usize;
            let banks = 1 + (next() % cols.min(24) as u64) as usize;
            let sparsity = [0.0, 0.3, 0.5, 0.75, 0.875, 0.95][case % 6];
            let coarse = case % 3 == 0;
            let w = Array2::from_shape_fn((rows, cols), |(_, c)| {
                let scale = [1e-3f32, 1.0, 100.0, 0.0, 7.5][(c / 16 + case) % 5];
                let u = (next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                let v = if coarse { (u * 8.0).round() / 8.0 } else { u };
                match next() % 50 {
                    0 => 0.0,
                    1 => -0.0,
                    _ => v * scale,
                }
            });
            let p = prune_bbs(&w.view(), banks, sparsity).unwrap();
            let (kept, values) = reference(&w, banks, sparsity);
            assert_eq!(
                p.kept, kept,
                "case {case}: {rows}x{cols}, {banks} banks, {sparsity}"
            );
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&p.values), bits(&values), "case {case}");
        }
    }

    #[test]
    fn mask_marks_kept_real_columns() {
        let w = array![[1.0f32, -5.0, 2.0, 0.5, 3.0]];
        // banks 2 -> bank_size 3, columns 0..3 and 3..6 (5 is padding)
        let p = prune_bbs(&w.view(), 2, 0.5).unwrap();
        assert_eq!(p.slots, 2);
        assert_eq!(p.mask(), array![[0u8, 1, 1, 1, 1]]);
        assert_abs_diff_eq!(p.achieved_sparsity(), 0.2, epsilon = 1e-12);
    }
}
