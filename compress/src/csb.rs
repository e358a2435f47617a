//! CSB ("Compressed Sparse Banks"): the on-disk and in-memory form of a
//! bank-balanced sparse matrix. See `docs/csb-format.md` for the byte layout.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use ndarray::Array2;
use rayon::prelude::*;

use crate::error::one_line;
use crate::error::{Error, Result};
use crate::fixed::QFormat;
use crate::output::Dest;
use crate::prune::{BbsPruned, MAX_BANK_SIZE};

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
/// The largest matrix a CSB file may hold: `rows * cols` at most 2^28
/// (268,435,456) weights, 1 GiB as dense f32. A file stores at least one
/// entry per bank of 65536 columns, so without a bound a file of a few
/// hundred KB could expand to many GiB (1 x 4294967295: 16 GiB); the reader
/// refuses such a header before reading the rest, and the writer such a matrix.
pub const MAX_DENSE: usize = 1 << 28;

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
        let bits = (0..p.kept.len())
            .map(|i| p.values.get(i).copied().unwrap_or(0.0).to_bits() as i32)
            .collect();
        Csb::quantized(p, bits, p.kept.clone(), format)
    }

    /// [`Csb::from_pruned`], reusing `p`'s memory for the values and indices.
    pub fn from_pruned_owned(p: BbsPruned, format: QFormat) -> (Csb, QuantStats) {
        if p.values.len() != p.kept.len() {
            return Csb::from_pruned(&p, format);
        }
        let BbsPruned {
            rows,
            cols,
            banks,
            bank_size,
            slots,
            values,
            kept,
        } = p;
        // f32 and i32 have the same size and alignment: the buffer is reused
        // as is and holds the f32 bit patterns until they are quantized.
        let bits: Vec<i32> = bytemuck::allocation::cast_vec(values);
        let shape = BbsPruned {
            rows,
            cols,
            banks,
            bank_size,
            slots,
            values: Vec::new(),
            kept: Vec::new(),
        };
        Csb::quantized(&shape, bits, kept, format)
    }

    /// Quantizes in place `bits`, the f32 bit patterns of the kept values,
    /// one per entry of `indices`, the bank-internal indices; only the shape
    /// fields of `p` are used.
    fn quantized(
        p: &BbsPruned,
        mut bits: Vec<i32>,
        indices: Vec<u16>,
        format: QFormat,
    ) -> (Csb, QuantStats) {
        let per_row = p.slots.saturating_mul(p.banks).max(1);
        let banks = p.banks.max(1);
        let q = Quantizer::new(format);
        // Whole rows, ~64K entries per task; the statistics are a sum and a
        // maximum, so they do not depend on how the work is split.
        let chunk = per_row.saturating_mul((1usize << 16).div_ceil(per_row));
        let stats = bits
            .par_chunks_mut(chunk)
            .zip(indices.par_chunks(chunk))
            .enumerate()
            .map(|(c, (out, kept))| {
                let mut stats = QuantStats {
                    saturated: 0,
                    max_abs_error: 0.0,
                };
                let start = c * chunk;
                // The usual case: no padding columns and every index inside
                // its bank, so every entry is a real kept weight.
                let all_real = p.cols == p.bank_size.saturating_mul(p.banks)
                    && start / per_row + out.len().div_ceil(per_row) <= p.rows
                    && (kept.iter().fold(0, |m, &i| m.max(i)) as usize) < p.bank_size;
                if all_real {
                    if let Some(stats) = q.quantize_all(out) {
                        return stats;
                    }
                }
                // Row and bank of position i, i / per_row and i % banks, kept as counters.
                let (mut r, mut in_row, mut b) = (start / per_row, start % per_row, start % banks);
                for (v, &idx) in out.iter_mut().zip(kept) {
                    let col = b.saturating_mul(p.bank_size).saturating_add(idx as usize);
                    if col < p.cols && r < p.rows {
                        let x = f32::from_bits(*v as u32);
                        let (y, sat) = q.quantize(x);
                        stats.saturated += sat as usize;
                        let err = (q.dequantize(y) - x).abs();
                        if err > stats.max_abs_error {
                            stats.max_abs_error = err;
                        }
                        *v = y as i32;
                    } else {
                        *v = 0;
                    }
                    b += 1;
                    if b == banks {
                        b = 0;
                    }
                    in_row += 1;
                    if in_row == per_row {
                        in_row = 0;
                        r += 1;
                    }
                }
                stats
            })
            .reduce(
                || QuantStats {
                    saturated: 0,
                    max_abs_error: 0.0,
                },
                |a, b| QuantStats {
                    saturated: a.saturated + b.saturated,
                    max_abs_error: if b.max_abs_error > a.max_abs_error {
                        b.max_abs_error
                    } else {
                        a.max_abs_error
                    },
                },
            );
        let csb = Csb {
            rows: p.rows,
            cols: p.cols,
            banks: p.banks,
            bank_size: p.bank_size,
            slots: p.slots,
            format,
            values: bits,
            indices,
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

    /// The matrix of rows `order[0], order[1], ...` of this one (a row
    /// permutation, or a subset): bank-balanced rows stay bank-balanced, so
    /// this is exact. `order` must name existing rows.
    pub fn select_rows(&self, order: &[usize]) -> Csb {
        let word = self.slots * self.banks;
        let mut values = Vec::with_capacity(order.len() * word);
        let mut indices = Vec::with_capacity(order.len() * word);
        for &r in order {
            values.extend_from_slice(&self.values[r * word..(r + 1) * word]);
            indices.extend_from_slice(&self.indices[r * word..(r + 1) * word]);
        }
        Csb {
            rows: order.len(),
            values,
            indices,
            ..self.clone_header()
        }
    }

    fn clone_header(&self) -> Csb {
        Csb {
            rows: 0,
            cols: self.cols,
            banks: self.banks,
            bank_size: self.bank_size,
            slots: self.slots,
            format: self.format,
            values: Vec::new(),
            indices: Vec::new(),
        }
    }

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
        let mut out = self.header();
        out.resize(
            HEADER_LEN + self.values.len() * vb + self.indices.len() * INDEX_BYTES,
            0,
        );
        let (vals, idxs) = out[HEADER_LEN..].split_at_mut(self.values.len() * vb);
        encode_values(vals, &self.values, vb);
        encode_indices(idxs, &self.indices);
        let crc = crc32fast::hash(&out);
        out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// The header with a zero CRC.
    fn header(&self) -> Vec<u8> {
        let vb = value_bytes(self.format.width);
        let mut out = Vec::with_capacity(HEADER_LEN);
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
        out.extend_from_slice(&[0; 4]); // CRC, filled in by the writers
        debug_assert_eq!(out.len(), HEADER_LEN);
        out
    }

    /// [`Csb::to_bytes`] written to `f` (the CRC last, at its offset),
    /// without the whole image in memory: on a little-endian machine the
    /// indices and 4-byte values are written from memory as they are, 1- and
    /// 2-byte values through a buffer of that type.
    fn write_to(&self, f: &mut std::fs::File) -> std::io::Result<()> {
        /// Values encoded per write.
        const PIECE: usize = 1 << 18;
        let vb = value_bytes(self.format.width);
        let header = self.header();
        let mut crc = crc32fast::Hasher::new();
        let mut put = |bytes: &[u8]| -> std::io::Result<()> {
            crc.update(bytes);
            f.write_all(bytes)
        };
        put(&header)?;
        let little = cfg!(target_endian = "little");
        match vb {
            4 if little => put(bytemuck::cast_slice(&self.values))?,
            2 if little => {
                let mut buf = vec![0u16; PIECE.min(self.values.len())];
                for values in self.values.chunks(PIECE) {
                    let piece = &mut buf[..values.len()];
                    for (d, &v) in piece.iter_mut().zip(values) {
                        *d = v as u16;
                    }
                    put(bytemuck::cast_slice(piece))?;
                }
            }
            _ => {
                let mut buf = vec![0u8; PIECE.min(self.values.len()) * vb];
                for values in self.values.chunks(PIECE) {
                    let piece = &mut buf[..values.len() * vb];
                    encode_values(piece, values, vb);
                    put(piece)?;
                }
            }
        }
        if little {
            put(bytemuck::cast_slice(&self.indices))?;
        } else {
            let mut buf = vec![0u8; PIECE.min(self.indices.len()) * INDEX_BYTES];
            for indices in self.indices.chunks(PIECE) {
                let piece = &mut buf[..indices.len() * INDEX_BYTES];
                encode_indices(piece, indices);
                put(piece)?;
            }
        }
        f.seek(SeekFrom::Start(CRC_OFFSET as u64))?;
        f.write_all(&crc.finalize().to_le_bytes())?;
        f.seek(SeekFrom::End(0))?;
        Ok(())
    }

    /// Parses CSB version 1. `path` is used only in error messages.
    ///
    /// Checks, in order: magic, version, header length and element sizes,
    /// the matrix size ([`MAX_DENSE`]), the exact file length (computed with
    /// checked arithmetic before any allocation), the CRC32, then every rule
    /// of [`Csb::validate`].
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Csb> {
        let p = path.to_path_buf();
        let Header {
            rows,
            cols,
            banks,
            bank_size,
            slots,
            format,
            vb,
            n,
            ..
        } = Header::parse(bytes, bytes.len() as u64, path)?;
        let invalid = |msg: String| Error::InvalidCsb {
            path: path.to_path_buf(),
            msg,
        };
        let u32_at =
            |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let stored = u32_at(CRC_OFFSET);
        let mut h = crc32fast::Hasher::new();
        h.update(&bytes[..CRC_OFFSET]);
        h.update(&[0; 4]);
        h.update(&bytes[HEADER_LEN..]);
        if h.finalize() != stored {
            return Err(Error::ChecksumMismatch { path: p });
        }
        // Lengths are now backed by real bytes, so allocating them is safe.
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

    /// Validates, then writes atomically (the bytes of [`Csb::to_bytes`]).
    pub fn write(&self, path: &Path) -> Result<()> {
        self.write_into(Dest::path(path))
    }

    /// [`Csb::write`] to a destination: a path alone, or an output of a
    /// command's [`OutputPlan`](crate::OutputPlan).
    pub fn write_into(&self, dest: Dest) -> Result<()> {
        let path = dest.shown();
        self.validate().map_err(|msg| Error::InvalidCsb {
            path: path.clone(),
            msg,
        })?;
        dest.fill(|f| {
            self.write_to(f)
                .map_err(|e| Error::file(&path, format!("cannot write: {}", one_line(e))))
        })
    }

    /// Reads and fully checks a CSB file: [`Csb::from_bytes`] on its bytes.
    /// Only a regular file is read ([`crate::input`]), and only once its
    /// header has passed the checks up to the file length: nothing is
    /// allocated for a file whose header fails them.
    pub fn read(path: &Path) -> Result<Csb> {
        let cannot = |e| Error::io(path, "cannot read", e);
        let (file, len) = crate::input::open_regular(path).map_err(cannot)?;
        let mut bytes = Vec::with_capacity(HEADER_LEN);
        (&file)
            .take(HEADER_LEN as u64)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
        // The file's length is now known to be the one the header describes.
        let total = Header::parse(&bytes, len, path)?.total;
        bytes.reserve_exact(total - bytes.len());
        file.take((total - bytes.len()) as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
        // A file that changed size while it was read is checked as it was read.
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
        check_dense(rows, cols)?;
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
        // Rows in parallel, ~64K entries per task; the entries' order only
        // matters for which error is reported, and the first one in storage
        // order is: the tasks are searched in order.
        let per_row = slots * banks;
        let rows_per_task = (1usize << 16).div_ceil(per_row);
        let chunk = rows_per_task * per_row;
        let first_error = self
            .values
            .par_chunks(chunk)
            .zip(self.indices.par_chunks(chunk))
            .enumerate()
            .find_map_first(|(t, (vals, idxs))| {
                self.check_rows(t * rows_per_task, vals, idxs).err()
            });
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The per-entry rules of [`Csb::validate`] for the whole rows from
    /// `first_row` whose values and indices are `vals` and `idxs`; the first
    /// failure in storage order.
    fn check_rows(
        &self,
        first_row: usize,
        vals: &[i32],
        idxs: &[u16],
    ) -> std::result::Result<(), String> {
        let (cols, banks, bank_size, slots, format) = (
            self.cols,
            self.banks,
            self.bank_size,
            self.slots,
            self.format,
        );
        let (lo, hi) = (format.min(), format.max());
        // Word by word (one slot of one row: `banks` entries), in storage order.
        let words = vals.chunks_exact(banks).zip(idxs.chunks_exact(banks));
        let mut prev_word: &[u16] = &[];
        for (w, (vals, idxs)) in words.enumerate() {
            let (r, s) = (first_row + w / slots, w % slots);
            for (b, (&v, &idx)) in vals.iter().zip(idxs).enumerate() {
                // Built only on failure: this loop visits every stored entry.
                let here = || format!("row {r}, slot {s}, bank {b}");
                if idx as usize >= bank_size {
                    return Err(format!("{}: index {idx} >= bank_size {bank_size}", here()));
                }
                if s > 0 {
                    let prev = prev_word[b];
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
            prev_word = idxs;
        }
        Ok(())
    }
}

/// The header fields of a CSB file, checked up to the file length.
struct Header {
    rows: usize,
    cols: usize,
    banks: usize,
    bank_size: usize,
    slots: usize,
    format: QFormat,
    /// Bytes per value.
    vb: usize,
    /// Stored entries, `rows * slots * banks`.
    n: usize,
    /// The file length the header calls for.
    total: usize,
}

impl Header {
    /// Checks the header at the start of `bytes` (at least its first
    /// [`HEADER_LEN`] bytes, or the whole file when it is shorter) against a
    /// file of `file_len` bytes: magic, version, header length and element
    /// sizes, the matrix size ([`MAX_DENSE`]), then the exact file length.
    fn parse(bytes: &[u8], file_len: u64, path: &Path) -> Result<Header> {
        let p = path.to_path_buf();
        let prefix = bytes.len().min(MAGIC.len());
        if bytes[..prefix] != MAGIC[..prefix] {
            return Err(Error::BadMagic { path: p });
        }
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated {
                path: p,
                expected: HEADER_LEN as u64,
                actual: file_len,
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
        check_dense(rows, cols).map_err(invalid)?;
        let n = rows.checked_mul(slots).and_then(|x| x.checked_mul(banks));
        let total = n.and_then(|n| n.checked_mul(vb + ib)?.checked_add(HEADER_LEN));
        let (Some(n), Some(total)) = (n, total) else {
            return Err(invalid(format!(
                "rows {rows} x slots {slots} x banks {banks} is too large"
            )));
        };
        if file_len < total as u64 {
            return Err(Error::Truncated {
                path: p,
                expected: total as u64,
                actual: file_len,
            });
        }
        if file_len > total as u64 {
            return Err(Error::TrailingBytes {
                path: p,
                expected: total as u64,
                extra: file_len - total as u64,
            });
        }
        Ok(Header {
            rows,
            cols,
            banks,
            bank_size,
            slots,
            format,
            vb,
            n,
            total,
        })
    }
}

/// The bound on the matrix size: `rows * cols` at most [`MAX_DENSE`].
fn check_dense(rows: usize, cols: usize) -> std::result::Result<(), String> {
    match rows.checked_mul(cols) {
        Some(n) if n <= MAX_DENSE => Ok(()),
        _ => Err(format!(
            "shape [{rows}, {cols}] has {} weights, more than the {MAX_DENSE} (2^28) a CSB matrix may have",
            rows as u128 * cols as u128
        )),
    }
}

/// [`QFormat::quantize`] and [`QFormat::dequantize`] with the scale `2^frac`
/// and the range computed once: the same arithmetic, so the same results.
struct Quantizer {
    scale: f64,
    lo: i64,
    hi: i64,
}

impl Quantizer {
    fn new(f: QFormat) -> Quantizer {
        Quantizer {
            scale: 2f64.powi(f.frac.min(1023) as i32),
            lo: f.min(),
            hi: f.max(),
        }
    }

    #[inline]
    fn quantize(&self, x: f32) -> (i64, bool) {
        let y = round_half_away(x as f64 * self.scale);
        if y.is_nan() {
            (0, true)
        } else if y < self.lo as f64 {
            (self.lo, true)
        } else if y > self.hi as f64 {
            (self.hi, true)
        } else {
            (y as i64, false)
        }
    }

    #[inline]
    fn dequantize(&self, v: i64) -> f32 {
        (v as f64 / self.scale) as f32
    }

    /// Quantizes every entry of `bits` (f32 bit patterns) in place and
    /// returns the statistics, as [`Quantizer::quantize`] entry by entry
    /// would, in a form the compiler can vectorize: the integers fit in i32
    /// and the largest error is found on its (non-negative) bit pattern.
    /// `None` (nothing done) for a width above 31, whose range i32 cannot bracket.
    fn quantize_all(&self, bits: &mut [i32]) -> Option<QuantStats> {
        if self.lo <= i32::MIN as i64 || self.hi >= i32::MAX as i64 {
            return None;
        }
        let (lo, hi) = (self.lo as i32, self.hi as i32);
        let mut saturated = 0usize;
        let mut max_err = 0u32;
        // Up to 24 bits (and a scale of at most 2^31) f32 arithmetic is exact
        // wherever the f64 one is: x * 2^frac is exact unless it overflows
        // (and then saturates either way), |values| <= 2^23 are exact f32
        // and so is their product with 2^-frac.
        let narrow = self.hi < 1 << 23 && self.lo >= -(1 << 23) && self.scale <= 2_147_483_648.0;
        for block in bits.chunks_mut(1 << 12) {
            let mut sat = 0u32;
            if narrow {
                let (scale, inverse) = (self.scale as f32, (1.0 / self.scale) as f32);
                // Beyond +-2^31 everything saturates the same way.
                let bound = 2_147_483_648.0f32;
                for v in block.iter_mut() {
                    let x = f32::from_bits(*v as u32);
                    let z = x * scale;
                    let nan = z.is_nan();
                    let zc = z.clamp(-bound, bound);
                    // Rounding half away from zero; zc - trunc(zc) is exact.
                    let t = zc as i32;
                    let d = zc - t as f32;
                    let r = t
                        .wrapping_add(i32::from(d >= 0.5))
                        .wrapping_sub(i32::from(d <= -0.5));
                    sat += u32::from(nan | (r < lo) | (r > hi));
                    let y = if nan { 0 } else { r.clamp(lo, hi) };
                    let err = (y as f32 * inverse - x).abs();
                    // A NaN error (from a NaN weight) is ignored, as `>` does.
                    max_err = max_err.max(if err.is_nan() { 0 } else { err.to_bits() });
                    *v = y;
                }
            } else {
                // 2^-frac: dividing an integer by 2^frac is exact, and so is this product.
                let inverse = 1.0 / self.scale;
                // Outside [lo - 1, hi + 1] everything saturates the same way,
                // and inside it the rounding is exact.
                let (below, above) = (self.lo as f64 - 1.0, self.hi as f64 + 1.0);
                for v in block.iter_mut() {
                    let x = f32::from_bits(*v as u32);
                    let z = x as f64 * self.scale;
                    let nan = z.is_nan();
                    let zc = z.clamp(below, above);
                    let t = zc as i32;
                    let d = zc - t as f64;
                    let r = t + i32::from(d >= 0.5) - i32::from(d <= -0.5);
                    sat += u32::from(nan | (r < lo) | (r > hi));
                    let y = if nan { 0 } else { r.clamp(lo, hi) };
                    let err = ((y as f64 * inverse) as f32 - x).abs();
                    max_err = max_err.max(if err.is_nan() { 0 } else { err.to_bits() });
                    *v = y;
                }
            }
            saturated += sat as usize;
        }
        Some(QuantStats {
            saturated,
            max_abs_error: f32::from_bits(max_err),
        })
    }
}

/// `f64::round` (half away from zero) up to the sign of a zero result,
/// inline: below 2^52 in magnitude, the fraction `y - trunc(y)` is exact.
#[inline]
fn round_half_away(y: f64) -> f64 {
    if y.abs() < 4_503_599_627_370_496.0 {
        let t = y as i64 as f64;
        let d = y - t;
        t + (((d >= 0.5) as i64) - ((d <= -0.5) as i64)) as f64
    } else {
        y.round()
    }
}

/// The little-endian low `vb` bytes of each value into `out` (`vb` per value).
fn encode_values(out: &mut [u8], values: &[i32], vb: usize) {
    // The match gives each width a fixed-size copy.
    fn put<const W: usize>(out: &mut [u8], values: &[i32]) {
        for (d, v) in out.chunks_exact_mut(W).zip(values) {
            d.copy_from_slice(&v.to_le_bytes()[..W]);
        }
    }
    match vb {
        1 => put::<1>(out, values),
        2 => put::<2>(out, values),
        3 => put::<3>(out, values),
        _ => put::<4>(out, values),
    }
}

/// The indices, little-endian, into `out` (2 bytes each).
fn encode_indices(out: &mut [u8], indices: &[u16]) {
    for (d, i) in out.chunks_exact_mut(INDEX_BYTES).zip(indices) {
        d.copy_from_slice(&i.to_le_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_gives_the_bytes_of_to_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let w = ndarray::Array2::from_shape_fn((37, 101), |(r, c)| {
            ((r * 31 + c * 17) % 23) as f32 / 7.0 - 1.5
        });
        let p = crate::prune_bbs(&w.view(), 8, 0.6).unwrap();
        for (width, frac) in [(2, 0), (8, 4), (12, 6), (16, 12), (24, 16), (32, 20)] {
            let (csb, _) = Csb::from_pruned(&p, QFormat::new(width, frac).unwrap());
            let path = dir.path().join(format!("w{width}.csb"));
            csb.write(&path).unwrap();
            assert_eq!(
                std::fs::read(&path).unwrap(),
                csb.to_bytes(),
                "width {width}"
            );
            assert_eq!(Csb::read(&path).unwrap(), csb);
            let (owned, _) = Csb::from_pruned_owned(p.clone(), csb.format);
            assert_eq!(owned, csb);
        }
    }

    #[test]
    fn quantizer_matches_qformat() {
        let mut xs = vec![
            0.0f32,
            -0.0,
            0.5,
            -0.5,
            1.0 / 4096.0,
            1.5 / 4096.0,
            -2.5 / 4096.0,
            1e-30,
            3.4e38,
            -3.4e38,
            f32::MIN_POSITIVE,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            xs.push(f32::from_bits(s as u32));
            xs.push(((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 20.0);
        }
        for (width, frac) in [
            (2, 0),
            (2, 1),
            (8, 4),
            (16, 12),
            (24, 20),
            (24, 0),
            (25, 3),
            (28, 20),
            (31, 30),
            (32, 0),
            (32, 31),
        ] {
            let f = QFormat::new(width, frac).unwrap();
            let q = Quantizer::new(f);
            let mut bits: Vec<i32> = xs.iter().map(|x| x.to_bits() as i32).collect();
            if let Some(stats) = q.quantize_all(&mut bits) {
                let mut want = QuantStats {
                    saturated: 0,
                    max_abs_error: 0.0,
                };
                for (&x, &y) in xs.iter().zip(&bits) {
                    let (v, sat) = f.quantize(x);
                    assert_eq!(y as i64, v, "{f} quantize_all {x}");
                    want.saturated += sat as usize;
                    let err = (f.dequantize(v) - x).abs();
                    if err > want.max_abs_error {
                        want.max_abs_error = err;
                    }
                }
                assert_eq!(stats.saturated, want.saturated, "{f}");
                assert_eq!(
                    stats.max_abs_error.to_bits(),
                    want.max_abs_error.to_bits(),
                    "{f}"
                );
            } else {
                assert_eq!(width, 32);
            }
            for &x in &xs {
                let (a, b) = (f.quantize(x), q.quantize(x));
                assert_eq!(a, b, "{f} quantize {x}");
                assert_eq!(
                    f.dequantize(a.0).to_bits(),
                    q.dequantize(b.0).to_bits(),
                    "{f} dequantize {}",
                    a.0
                );
            }
        }
    }
}
