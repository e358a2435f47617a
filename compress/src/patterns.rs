//! Sparsity patterns to compare BBS against: unstructured (per layer and
//! global), N:M, b x b blocks and row-balanced, all as keep-masks.
//!
//! Every pattern ranks by magnitude with a total order: larger `|w|` first,
//! and for equal magnitudes the lower index wins (the lower column within a
//! row or bank, the lower row-major flat index for unstructured, the lower
//! row-major block index for blocks). Selection uses
//! `select_nth_unstable` on packed integer keys: O(n), no full sort.

use std::fmt;

use ndarray::{Array2, ArrayView2};

use crate::error::{Error, Result};
use crate::prune::{prune_bbs, MAX_BANK_SIZE};

/// A sparsity pattern. Parsed from text by [`Pattern::parse`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Pattern {
    /// Bank-balanced sparsity with `banks` banks per row ([`prune_bbs`]).
    Bbs { banks: usize },
    /// Per-layer magnitude pruning: keep the `round((1 - s) * R * C)` largest `|w|`.
    Unstructured,
    /// N:M: every group of `m` consecutive columns of a row keeps its `n`
    /// largest `|w|` (rows are zero-padded to a multiple of `m`). The
    /// sparsity is implied, `1 - n / m`: the sparsity passed to
    /// [`prune_mask`] is checked for range but otherwise ignored.
    NM { n: usize, m: usize },
    /// `size x size` blocks ranked by Frobenius norm; the
    /// `round((1 - s) * nblocks)` largest are kept whole.
    Block { size: usize },
    /// The same count per row (ESE-like): each row keeps its
    /// `round((1 - s) * C)` largest `|w|`.
    RowBalanced,
}

impl Pattern {
    /// Parses `bbs:<banks>`, `unstructured`, `nm:<n>:<m>`, `block:<size>` or
    /// `row` (also `row-balanced`). Case and surrounding spaces are ignored.
    ///
    /// Errors name the field (`pattern`, `banks`, `n`, `m`, `block size`)
    /// and the offending text.
    pub fn parse(text: &str) -> Result<Pattern> {
        let lower = text.trim().to_ascii_lowercase();
        let parts: Vec<&str> = lower.split(':').map(str::trim).collect();
        let arity = |want: usize, form: &str| -> Result<()> {
            if parts.len() == want {
                Ok(())
            } else {
                Err(Error::param(
                    "pattern",
                    format!("'{text}' is malformed; expected '{form}'"),
                ))
            }
        };
        let pattern = match parts[0] {
            "bbs" => {
                arity(2, "bbs:<banks>")?;
                Pattern::Bbs {
                    banks: positive("banks", parts[1])?,
                }
            }
            "unstructured" => {
                arity(1, "unstructured")?;
                Pattern::Unstructured
            }
            "nm" => {
                arity(3, "nm:<n>:<m>")?;
                Pattern::NM {
                    n: positive("n", parts[1])?,
                    m: positive("m", parts[2])?,
                }
            }
            "block" => {
                arity(2, "block:<size>")?;
                Pattern::Block {
                    size: positive("block size", parts[1])?,
                }
            }
            "row" | "row-balanced" | "rowbalanced" => {
                arity(1, "row")?;
                Pattern::RowBalanced
            }
            other => {
                return Err(Error::param(
                    "pattern",
                    format!(
                        "unknown pattern '{other}' in '{text}'; expected bbs:<banks>, unstructured, nm:<n>:<m>, block:<size> or row"
                    ),
                ))
            }
        };
        pattern.check()?;
        Ok(pattern)
    }

    /// Short name for tables: `BBS (8 banks)`, `unstructured`, `2:4`,
    /// `block 4x4`, `row-balanced`.
    pub fn label(&self) -> String {
        match self {
            Pattern::Bbs { banks } => {
                format!("BBS ({banks} bank{})", if *banks == 1 { "" } else { "s" })
            }
            Pattern::Unstructured => "unstructured".to_string(),
            Pattern::NM { n, m } => format!("{n}:{m}"),
            Pattern::Block { size } => format!("block {size}x{size}"),
            Pattern::RowBalanced => "row-balanced".to_string(),
        }
    }

    /// The checks that do not depend on the matrix.
    fn check(&self) -> Result<()> {
        match *self {
            Pattern::Bbs { banks: 0 } => Err(Error::param("banks", "0 must be at least 1")),
            Pattern::NM { n, m } => {
                if m == 0 {
                    return Err(Error::param("m", "0 must be at least 1"));
                }
                if m > MAX_BANK_SIZE {
                    return Err(Error::param(
                        "m",
                        format!("{m} is above the group-size limit {MAX_BANK_SIZE}"),
                    ));
                }
                if n == 0 || n > m {
                    return Err(Error::param(
                        "n",
                        format!("{n} must be between 1 and m ({m})"),
                    ));
                }
                Ok(())
            }
            Pattern::Block { size: 0 } => Err(Error::param("block size", "0 must be at least 1")),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

fn positive(field: &str, text: &str) -> Result<usize> {
    match text.parse::<usize>() {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err(Error::param(
            field,
            format!("'{text}' is not a whole number >= 1"),
        )),
    }
}

/// Same sparsity rule as [`prune_bbs`]: finite, in `[0, 1)`.
pub(crate) fn check_sparsity(sparsity: f64) -> Result<()> {
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
    Ok(())
}

/// Non-empty and finite, else an error naming `name` (`weights`, `layers[2]`).
fn check_matrix(w: &ArrayView2<f32>, name: &str) -> Result<()> {
    let (rows, cols) = w.dim();
    if rows == 0 || cols == 0 {
        return Err(Error::param(
            name,
            format!("the matrix is empty (shape [{rows}, {cols}])"),
        ));
    }
    if let Some(((row, col), &value)) = w.indexed_iter().find(|(_, x)| !x.is_finite()) {
        if name == "weights" {
            return Err(Error::NonFiniteWeight { row, col, value });
        }
        return Err(Error::param(
            name,
            format!("{value} at (row {row}, col {col}); weights must be finite"),
        ));
    }
    Ok(())
}

/// `round((1 - s) * total)`, halves rounded up. A relative `1e-12` nudge
/// keeps float noise (e.g. `(1 - 0.7) * 10 = 2.9999999999999996`) from
/// changing the count.
fn keep_count(total: usize, sparsity: f64) -> usize {
    let x = (1.0 - sparsity) * total as f64;
    let k = (x + x.max(1.0) * 1e-12 + 0.5).floor();
    // `as` saturates, so the `min` covers every input.
    (k as usize).min(total)
}

/// Magnitude rank key of a finite f32: smaller key = larger `|x|`. The bit
/// pattern of a non-negative finite float is monotone in its value.
#[inline]
fn mag_key(x: f32) -> u32 {
    !x.abs().to_bits()
}

/// Moves the `k` smallest keys to the front of `keys` and returns them (unordered).
fn smallest<K: Ord>(keys: &mut [K], k: usize) -> &[K] {
    let k = k.min(keys.len());
    if k == 0 {
        return &[];
    }
    if k < keys.len() {
        keys.select_nth_unstable(k - 1);
    }
    &keys[..k]
}

/// Keep-mask of `w` for `pattern` at `sparsity` (`true` = kept).
///
/// * [`Pattern::Bbs`]: exactly the entries [`prune_bbs`] keeps (kept weights
///   that are 0.0 are kept; padding columns are not part of the mask).
/// * [`Pattern::Unstructured`]: `round((1 - s) * R * C)` entries; ties go to
///   the lower row-major index.
/// * [`Pattern::NM`]: `n` per group of `m` columns (fewer in a last partial
///   group when it has fewer than `n` real columns); `sparsity` is ignored.
/// * [`Pattern::Block`]: `round((1 - s) * nblocks)` whole blocks, ranked by
///   the Frobenius norm of their real entries (edge blocks are partial);
///   ties go to the lower row-major block index.
/// * [`Pattern::RowBalanced`]: `round((1 - s) * C)` per row.
///
/// Counts are rounded half up. Errors: `sparsity` not finite or outside
/// `[0, 1)`; an empty matrix; a NaN or infinite weight; `banks`, `m` or the
/// block size 0; `banks` above the column count; `n` 0 or above `m`.
pub fn prune_mask(w: &ArrayView2<f32>, pattern: &Pattern, sparsity: f64) -> Result<Array2<bool>> {
    check_sparsity(sparsity)?;
    pattern.check()?;
    match *pattern {
        Pattern::Bbs { banks } => {
            // prune_bbs runs the matrix checks itself.
            let p = prune_bbs(w, banks, sparsity)?;
            Ok(p.mask().mapv(|x| x != 0))
        }
        Pattern::NM { n, m } => {
            check_matrix(w, "weights")?;
            nm_mask(w, n, m)
        }
        Pattern::Unstructured => {
            check_matrix(w, "weights")?;
            let k = keep_count(w.len(), sparsity);
            let mut mask = Array2::from_elem(w.raw_dim(), false);
            let flat = mask
                .as_slice_mut()
                .ok_or_else(|| Error::param("weights", "mask is not contiguous"))?;
            keep_largest(std::iter::once(*w), k, |i| flat[i] = true);
            Ok(mask)
        }
        Pattern::Block { size } => {
            check_matrix(w, "weights")?;
            block_mask(w, size, sparsity)
        }
        Pattern::RowBalanced => {
            check_matrix(w, "weights")?;
            Ok(row_balanced_mask(w, sparsity))
        }
    }
}

/// N:M through [`prune_bbs`]: banks of exactly `m` columns (the row is
/// zero-padded to a multiple of `m` first when needed) and sparsity
/// `1 - n/m`, which makes `kept_per_bank(m, .) = n`.
fn nm_mask(w: &ArrayView2<f32>, n: usize, m: usize) -> Result<Array2<bool>> {
    let (rows, cols) = w.dim();
    let groups = cols.div_ceil(m);
    let sparsity = 1.0 - n as f64 / m as f64;
    let p = if groups * m == cols {
        prune_bbs(w, groups, sparsity)?
    } else {
        let mut padded = Array2::<f32>::zeros((rows, groups * m));
        padded.slice_mut(ndarray::s![.., ..cols]).assign(w);
        prune_bbs(&padded.view(), groups, sparsity)?
    };
    if p.bank_size != m || p.slots != n {
        return Err(Error::param(
            "pattern",
            format!(
                "internal: {n}:{m} mapped to bank size {} with {} kept",
                p.bank_size, p.slots
            ),
        ));
    }
    let mask = p.mask();
    Ok(mask.slice(ndarray::s![.., ..cols]).mapv(|x| x != 0))
}

/// Calls `keep(global_flat_index)` for the `k` largest `|w|` over all
/// `layers` in order (flat index = layer offset + row-major index); ties go
/// to the lower index. Keys pack (magnitude rank, index) into one integer:
/// `u64` when every index fits in 32 bits, else `u128`.
fn keep_largest<'a>(
    layers: impl Iterator<Item = ArrayView2<'a, f32>> + Clone,
    k: usize,
    mut keep: impl FnMut(usize),
) {
    let total: usize = layers.clone().map(|l| l.len()).sum();
    if total <= 1usize << 32 {
        let mut keys: Vec<u64> = Vec::with_capacity(total);
        for l in layers {
            let base = keys.len() as u64;
            keys.extend(
                l.iter()
                    .enumerate()
                    .map(|(i, &x)| (u64::from(mag_key(x)) << 32) | (base + i as u64)),
            );
        }
        for &key in smallest(&mut keys, k) {
            keep((key & 0xFFFF_FFFF) as usize);
        }
    } else {
        let mut keys: Vec<u128> = Vec::with_capacity(total);
        for l in layers {
            let base = keys.len() as u128;
            keys.extend(
                l.iter()
                    .enumerate()
                    .map(|(i, &x)| (u128::from(mag_key(x)) << 64) | (base + i as u128)),
            );
        }
        for &key in smallest(&mut keys, k) {
            keep(key as u64 as usize);
        }
    }
}

fn block_mask(w: &ArrayView2<f32>, size: usize, sparsity: f64) -> Result<Array2<bool>> {
    let (rows, cols) = w.dim();
    let (brows, bcols) = (rows.div_ceil(size), cols.div_ceil(size));
    // Squared Frobenius norms in f64 (an f32 square can overflow f32); the
    // ranking is the same as by the norm.
    // Counters instead of `c / size` per element: integer division would
    // dominate the loop.
    let mut norms = vec![0.0f64; brows * bcols];
    for (r, row) in w.rows().into_iter().enumerate() {
        let block_row = &mut norms[(r / size) * bcols..][..bcols];
        let (mut bc, mut j) = (0, 0);
        for &x in row {
            block_row[bc] += f64::from(x) * f64::from(x);
            j += 1;
            if j == size {
                (bc, j) = (bc + 1, 0);
            }
        }
    }
    // Key: (!norm bits, block index); the bits of a non-negative f64 are
    // monotone in its value.
    let mut keys: Vec<(u64, usize)> = norms
        .iter()
        .enumerate()
        .map(|(i, n)| (!n.to_bits(), i))
        .collect();
    let k = keep_count(keys.len(), sparsity);
    let mut kept_block = vec![false; keys.len()];
    for &(_, i) in smallest(&mut keys, k) {
        kept_block[i] = true;
    }
    let mut mask = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let block_row = &kept_block[(r / size) * bcols..][..bcols];
        // The last block of the row may be partial.
        let mut left = cols;
        for &k in block_row {
            let n = size.min(left);
            mask.resize(mask.len() + n, k);
            left -= n;
        }
    }
    Array2::from_shape_vec((rows, cols), mask).map_err(|e| Error::param("weights", e))
}

fn row_balanced_mask(w: &ArrayView2<f32>, sparsity: f64) -> Array2<bool> {
    let (rows, cols) = w.dim();
    let k = keep_count(cols, sparsity);
    let mut mask = Array2::from_elem((rows, cols), false);
    // Reused for every row: (magnitude rank, column).
    let mut keys: Vec<(u32, usize)> = Vec::with_capacity(cols);
    for r in 0..rows {
        keys.clear();
        keys.extend(w.row(r).iter().enumerate().map(|(c, &x)| (mag_key(x), c)));
        for &(_, c) in smallest(&mut keys, k) {
            mask[(r, c)] = true;
        }
    }
    mask
}

/// Global unstructured magnitude pruning: one ranking across all `layers`,
/// keeping the `round((1 - s) * total)` largest `|w|` (`total` = all entries
/// of all layers; halves rounded up). Ties go to the earlier layer, then the
/// lower row-major index. Layers of small weights thus lose more than
/// layers of large ones.
///
/// Errors: `sparsity` not finite or outside `[0, 1)`; no layers; an empty
/// layer or a NaN/infinite weight (named `layers[i]`).
pub fn global_unstructured_masks(
    layers: &[ArrayView2<f32>],
    sparsity: f64,
) -> Result<Vec<Array2<bool>>> {
    check_sparsity(sparsity)?;
    if layers.is_empty() {
        return Err(Error::param("layers", "no layers given"));
    }
    for (i, l) in layers.iter().enumerate() {
        check_matrix(l, &format!("layers[{i}]"))?;
    }
    let total: usize = layers.iter().map(|l| l.len()).sum();
    let k = keep_count(total, sparsity);
    let mut flat = vec![false; total];
    keep_largest(layers.iter().map(|l| l.view()), k, |i| flat[i] = true);
    let mut out = Vec::with_capacity(layers.len());
    let mut start = 0;
    for l in layers {
        let end = start + l.len();
        let mask = Array2::from_shape_vec(l.raw_dim(), flat[start..end].to_vec())
            .map_err(|e| Error::param("layers", e))?;
        out.push(mask);
        start = end;
    }
    Ok(out)
}

/// `w` with the entries where `mask` is false (or outside `mask`'s shape) set to 0.0.
pub fn apply_mask(w: &ArrayView2<f32>, mask: &Array2<bool>) -> Array2<f32> {
    Array2::from_shape_fn(w.raw_dim(), |(r, c)| {
        if mask.get((r, c)).copied().unwrap_or(false) {
            w[(r, c)]
        } else {
            0.0
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn keep_count_rounds_half_up_despite_noise() {
        assert_eq!(keep_count(10, 0.7), 3);
        assert_eq!(keep_count(4, 0.375), 3); // 2.5 -> 3
        assert_eq!(keep_count(16, 0.875), 2);
        assert_eq!(keep_count(3, 0.9), 0);
        assert_eq!(keep_count(5, 0.0), 5);
    }

    #[test]
    fn mag_key_orders_by_magnitude() {
        assert!(mag_key(2.0) < mag_key(-1.0));
        assert!(mag_key(-3.0) < mag_key(2.5));
        assert_eq!(mag_key(-0.0), mag_key(0.0));
    }

    #[test]
    fn unstructured_keeps_top_k() {
        let w = array![[1.0f32, -4.0], [3.0, 2.0]];
        let m = prune_mask(&w.view(), &Pattern::Unstructured, 0.5).unwrap();
        assert_eq!(m, array![[false, true], [true, false]]);
    }
}
