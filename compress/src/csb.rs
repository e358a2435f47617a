//! CSB ("Compressed Sparse Banks"): the on-disk and in-memory form of a
//! bank-balanced sparse matrix. See `docs/csb-format.md` for the byte layout.

use std::path::Path;

use ndarray::Array2;

use crate::error::{Error, Result};
use crate::fixed::QFormat;
use crate::prune::{BbsPruned, MAX_BANK_SIZE};
use crate::weights::write_bytes_atomic;

/// First 8 bytes of every CSB file. The `\0\x1a` tail stops text tools early
/// and catches newline translation, like PNG's magic.
pub const MAGIC: [u8; 8] = *b"BBSCSB\0\x1a";
/// The only version this crate writes and reads.
pub const VERSION: u16 = 1;
/// Size of the version-1 header in bytes.
pub const HEADER_LEN: usize = 40;
/// Offset of the CRC32 field inside the header.
const CRC_OFFSET: usize = 36;
/// Bytes per stored index (u16).
const INDEX_BYTES: usize = 2;

/// A bank-balanced sparse matrix in slot-major CSB order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Csb {
    pub rows: usize,
    pub cols: usize,
    pub banks: usize,
    pub bank_size: usize,
    pub slots: usize,
    pub format: QFormat,
    /// Fixed-point integers, `rows * slots * banks`, at `(r * slots + s) * banks + b`.
    pub values: Vec<i32>,
    /// Bank-internal column indices, same order.
    pub indices: Vec<u16>,
}

/// What quantization did in [`Csb::from_pruned`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantStats {
    /// Kept weights clamped to the format's range.
    pub saturated: usize,
    /// Largest `|dequantize(quantize(w)) - w|` over kept weights.
    pub max_abs_error: f32,
}

impl Csb {
    /// Quantizes the kept values of `p`. Entries at padding columns are 0.
    /// A hand-built inconsistent `p` yields a `Csb` that [`Csb::validate`] rejects.
    pub fn from_pruned(p: &BbsPruned, format: QFormat) -> (Csb, QuantStats) {
        let mut stats = QuantStats {
            saturated: 0,
            max_abs_error: 0.0,
        };
        let per_row = p.slots.saturating_mul(p.banks).max(1);
        let banks = p.banks.max(1);
        let values = p
            .kept
            .iter()
            .enumerate()
            .map(|(i, &idx)| {
                let (r, b) = (i / per_row, i % banks);
                let col = b.saturating_mul(p.bank_size).saturating_add(idx as usize);
                if col >= p.cols {
                    return 0;
                }
                let x = p.pruned.get((r, col)).copied().unwrap_or(0.0);
                let (v, sat) = format.quantize(x);
                stats.saturated += sat as usize;
                let err = (format.dequantize(v) - x).abs();
                if err > stats.max_abs_error {
                    stats.max_abs_error = err;
                }
                v as i32
            })
            .collect();
        let csb = Csb {
            rows: p.rows,
            cols: p.cols,
            banks: p.banks,
            bank_size: p.bank_size,
            slots: p.slots,
            format,
            values,
            indices: p.kept.clone(),
        };
        (csb, stats)
    }

    /// The K `(value, index)` pairs of word `slot` of `row`: one PE cycle.
    /// Out-of-range `row`/`slot` (or a malformed struct) gives empty slices.
    pub fn word(&self, row: usize, slot: usize) -> (&[i32], &[u16]) {
        let range = row
            .checked_mul(self.slots)
            .and_then(|x| x.checked_add(slot))
            .and_then(|w| w.checked_mul(self.banks))
            .and_then(|start| Some(start..start.checked_add(self.banks)?))
            .filter(|_| row < self.rows && slot < self.slots);
        match range {
            Some(r) => match (self.values.get(r.clone()), self.indices.get(r)) {
                (Some(v), Some(i)) => (v, i),
                _ => (&[], &[]),
            },
            None => (&[], &[]),
        }
    }

    /// Stored (value, index) pairs: `rows * slots * banks`.
    pub fn nnz_slots(&self) -> usize {
        self.rows
            .saturating_mul(self.slots)
            .saturating_mul(self.banks)
    }

    /// Dense matrix of `rows x cols` fixed-point integers (padding dropped).
    /// A malformed struct whose shape cannot be allocated gives a 0x0 array.
    pub fn to_dense_fixed(&self) -> Array2<i64> {
        self.scatter(|v| v as i64)
    }

    /// Dense matrix, dequantized to f32.
    pub fn to_dense_f32(&self) -> Array2<f32> {
        let f = self.format;
        self.scatter(|v| f.dequantize(v as i64))
    }

    fn scatter<T: Clone + Default>(&self, conv: impl Fn(i32) -> T) -> Array2<T> {
        if dense_len(self.rows, self.cols, std::mem::size_of::<T>()).is_none() {
            return Array2::from_elem((0, 0), T::default());
        }
        let mut out = Array2::from_elem((self.rows, self.cols), T::default());
        let per_row = self.slots.saturating_mul(self.banks).max(1);
        let banks = self.banks.max(1);
        for (i, (&v, &idx)) in self.values.iter().zip(&self.indices).enumerate() {
            let (r, b) = (i / per_row, i % banks);
            let col = b
                .saturating_mul(self.bank_size)
                .saturating_add(idx as usize);
            if col < self.cols {
                if let Some(cell) = out.get_mut((r, col)) {
                    *cell = conv(v);
                }
            }
        }
        out
    }

    /// Serializes to CSB version 1 (deterministic: same struct, same bytes).
    /// Header fields that do not fit their width are saturated, which the
    /// reader then rejects; [`Csb::write`] validates first so it never does this.
    pub fn to_bytes(&self) -> Vec<u8> {
        let vb = value_bytes(self.format.width);
        let n = self.values.len();
        let mut out = Vec::with_capacity(HEADER_LEN + n * vb + self.indices.len() * INDEX_BYTES);
        let u32_of = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        let u8_of = |x: u32| u8::try_from(x).unwrap_or(u8::MAX);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        for x in [self.rows, self.cols, self.banks, self.bank_size, self.slots] {
            out.extend_from_slice(&u32_of(x).to_le_bytes());
        }
        out.push(u8_of(self.format.width));
        out.push(u8_of(self.format.frac));
        out.push(vb as u8);
        out.push(INDEX_BYTES as u8);
        out.extend_from_slice(&[0; 4]); // CRC, filled below
        debug_assert_eq!(out.len(), HEADER_LEN);
        for &v in &self.values {
            out.extend_from_slice(&v.to_le_bytes()[..vb]);
        }
        for &i in &self.indices {
            out.extend_from_slice(&i.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses CSB version 1. `path` is used only in error messages.
    ///
    /// Checks, in order: magic, version, header length and element sizes, the
    /// exact file length (computed with checked arithmetic before any
    /// allocation), the CRC32, then every rule of [`Csb::validate`].
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Csb> {
        let p = path.to_path_buf();
        let prefix = bytes.len().min(MAGIC.len());
        if bytes[..prefix] != MAGIC[..prefix] {
            return Err(Error::BadMagic { path: p });
        }
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated {
                path: p,
                expected: HEADER_LEN as u64,
                actual: bytes.len() as u64,
            });
        }
        let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
        let u32_at =
            |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let version = u16_at(8);
        if version != VERSION {
            return Err(Error::UnsupportedVersion { path: p, version });
        }
        let invalid = |msg: String| Error::InvalidCsb {
            path: path.to_path_buf(),
            msg,
        };
        let header_len = u16_at(10) as usize;
        if header_len != HEADER_LEN {
            return Err(invalid(format!(
                "header_len is {header_len}, version 1 needs {HEADER_LEN}"
            )));
        }
        let [rows, cols, banks, bank_size, slots] =
            [12, 16, 20, 24, 28].map(|o| u32_at(o) as usize);
        let (width, frac, vb, ib) = (bytes[32], bytes[33], bytes[34] as usize, bytes[35] as usize);
        let format = QFormat::new(width as u32, frac as u32).map_err(|e| invalid(e.to_string()))?;
        if vb != value_bytes(format.width) {
            return Err(invalid(format!(
                "value_bytes is {vb}, value_width {width} needs {}",
                value_bytes(format.width)
            )));
        }
        if ib != INDEX_BYTES {
            return Err(invalid(format!("index_bytes is {ib}, must be 2")));
        }
        let n = rows.checked_mul(slots).and_then(|x| x.checked_mul(banks));
        let total = n.and_then(|n| n.checked_mul(vb + ib)?.checked_add(HEADER_LEN));
        let Some(total) = total else {
            return Err(invalid(format!(
                "rows {rows} x slots {slots} x banks {banks} is too large"
            )));
        };
        if bytes.len() < total {
            return Err(Error::Truncated {
                path: p,
                expected: total as u64,
                actual: bytes.len() as u64,
            });
        }
        if bytes.len() > total {
            return Err(Error::TrailingBytes {
                path: p,
                expected: total as u64,
                extra: (bytes.len() - total) as u64,
            });
        }
        let stored = u32_at(CRC_OFFSET);
        let mut h = crc32fast::Hasher::new();
        h.update(&bytes[..CRC_OFFSET]);
        h.update(&[0; 4]);
        h.update(&bytes[HEADER_LEN..]);
        if h.finalize() != stored {
            return Err(Error::ChecksumMismatch { path: p });
        }
        // Lengths are now backed by real bytes, so allocating them is safe.
        let n = n.unwrap_or(0);
        let (vals, idxs) = bytes[HEADER_LEN..].split_at(n * vb);
        let values = vals.chunks_exact(vb).map(sign_extend).collect();
        let indices = idxs
            .chunks_exact(INDEX_BYTES)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let csb = Csb {
            rows,
            cols,
            banks,
            bank_size,
            slots,
            format,
            values,
            indices,
        };
        csb.validate().map_err(invalid)?;
        Ok(csb)
    }

    /// Validates, then writes atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        self.validate().map_err(|msg| Error::InvalidCsb {
            path: path.to_path_buf(),
            msg,
        })?;
        write_bytes_atomic(path, &self.to_bytes())
    }

    /// Reads and fully checks a CSB file.
    pub fn read(path: &Path) -> Result<Csb> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read", e))?;
        Csb::from_bytes(&bytes, path)
    }

    /// The CSB consistency rules (also run by the reader): nonzero `rows`,
    /// `cols`, `banks`, `slots`; `bank_size == ceil(cols / banks)` and at most
    /// 65536; `slots <= bank_size`; dimensions fit in u32; a valid format;
    /// `values` and `indices` of length `rows * slots * banks`; each index
    /// `< bank_size`; indices strictly ascending in slot order within each
    /// (row, bank); zero values at padding columns; values within the width.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let Csb {
            rows,
            cols,
            banks,
            bank_size,
            slots,
            format,
            ..
        } = *self;
        for (name, v) in [
            ("rows", rows),
            ("cols", cols),
            ("banks", banks),
            ("slots", slots),
        ] {
            if v == 0 {
                return Err(format!("{name} is 0"));
            }
        }
        for (name, v) in [
            ("rows", rows),
            ("cols", cols),
            ("banks", banks),
            ("bank_size", bank_size),
            ("slots", slots),
        ] {
            if v > u32::MAX as usize {
                return Err(format!("{name} {v} does not fit in 32 bits"));
            }
        }
        if bank_size != cols.div_ceil(banks) {
            return Err(format!(
                "bank_size {bank_size} != ceil(cols {cols} / banks {banks}) = {}",
                cols.div_ceil(banks)
            ));
        }
        if bank_size > MAX_BANK_SIZE {
            return Err(format!(
                "bank_size {bank_size} exceeds {MAX_BANK_SIZE} (indices are u16)"
            ));
        }
        if slots > bank_size {
            return Err(format!("slots {slots} exceeds bank_size {bank_size}"));
        }
        format.check().map_err(|e| e.to_string())?;
        if dense_len(rows, cols, 8).is_none() {
            return Err(format!("shape [{rows}, {cols}] is too large to expand"));
        }
        let n = rows
            .checked_mul(slots)
            .and_then(|x| x.checked_mul(banks))
            .ok_or_else(|| format!("rows {rows} x slots {slots} x banks {banks} overflows"))?;
        if self.values.len() != n || self.indices.len() != n {
            return Err(format!(
                "{} values and {} indices, rows x slots x banks = {n} expected",
                self.values.len(),
                self.indices.len()
            ));
        }
        let (lo, hi) = (format.min(), format.max());
        for r in 0..rows {
            for s in 0..slots {
                for b in 0..banks {
                    let at = (r * slots + s) * banks + b;
                    let (v, idx) = (self.values[at], self.indices[at]);
                    // Built only on failure: this loop visits every stored entry.
                    let here = || format!("row {r}, slot {s}, bank {b}");
                    if idx as usize >= bank_size {
                        return Err(format!("{}: index {idx} >= bank_size {bank_size}", here()));
                    }
                    if s > 0 {
                        let prev = self.indices[at - banks];
                        if idx <= prev {
                            return Err(format!(
                                "{}: index {idx} does not ascend (previous slot has {prev})",
                                here()
                            ));
                        }
                    }
                    if b * bank_size + idx as usize >= cols && v != 0 {
                        return Err(format!(
                            "{}: nonzero value {v} at padding column {}",
                            here(),
                            b * bank_size + idx as usize
                        ));
                    }
                    if (v as i64) < lo || (v as i64) > hi {
                        return Err(format!(
                            "{}: value {v} outside [{lo}, {hi}] of {format}",
                            here()
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// `ceil(width / 8)`, at least 1 and at most 4 (values are i32).
fn value_bytes(width: u32) -> usize {
    (width.div_ceil(8) as usize).clamp(1, 4)
}

/// `rows * cols` when an array of that many `elem`-byte items is allocatable
/// by ndarray (total bytes within `isize::MAX`).
fn dense_len(rows: usize, cols: usize, elem: usize) -> Option<usize> {
    let n = rows.checked_mul(cols)?;
    (n.checked_mul(elem.max(1))? <= isize::MAX as usize).then_some(n)
}

/// Little-endian two's complement of 1..=4 bytes, sign-extended to i32.
fn sign_extend(c: &[u8]) -> i32 {
    let mut a = [0u8; 4];
    a[..c.len()].copy_from_slice(c);
    let shift = 32 - 8 * c.len() as u32;
    (i32::from_le_bytes(a) << shift) >> shift
}
