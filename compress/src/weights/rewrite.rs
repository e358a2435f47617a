//! [`write_like`]: a model written back in its own format and dtypes with
//! some tensors' data replaced, every other byte kept where the format
//! allows. This module encodes the new values like the originals and checks
//! them all first, so that on any error nothing is written; `.npz` and
//! `.onnx` splice them in through their own modules, while `.npy` and
//! `.safetensors` data is overwritten where it lies ([`write_in_place`]).
//!
//! Big files are not copied through memory: a mapped `.npy` or
//! `.safetensors` input is copied file to file and the replaced tensors are
//! patched into the copy one at a time ([`write_patched`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use ndarray::Array2;

use crate::error::{one_line, Error, Result};
use crate::output::Dest;

use super::decode::{check_length, elem_to_f32, f32_to_elem, is_native_f32};
use super::file::{extension, read_at, read_file, FileBytes};
use super::npz::{npz_read, rewrite_npz};
use super::onnx::{self, open_onnx};
use super::read::check_extension;
use super::select::{usable_names, Cand, Src};
use super::tensor::{not_found, shape_str, tensor_err, Dt, TensorRef};
use super::{npy, npz, safetensors};

/// The checks [`encode_like`] makes before looking at any value: the shape,
/// a floating-point dtype, and the data length. Returns the dtype.
fn encode_check(t: &TensorRef, path: &Path, new: &Array2<f32>) -> Result<Dt> {
    let (rows, cols) = (t.shape[0], t.shape[1]);
    if new.dim() != (rows, cols) {
        return Err(tensor_err(
            path,
            &t.name,
            format!(
                "has shape {}; the replacement has shape {}",
                shape_str(&t.shape),
                shape_str(new.shape())
            ),
        ));
    }
    let Ok(dt) = t.dtype else {
        return Err(tensor_err(path, &t.name, "is not floating point"));
    };
    // `t` is a candidate matrix: its shape is `[rows, cols]`.
    check_length(t, path, dt)?;
    Ok(dt)
}

/// Whether [`encode_like`] can encode every value of `new` as `dt`: all are
/// finite and none overflows `dt`. It then cannot fail once [`encode_check`] passed.
fn encodable(dt: Dt, new: &Array2<f32>) -> bool {
    let fits = |v: f32| match dt {
        Dt::F16 => half::f16::from_f32(v).is_finite(),
        Dt::BF16 => half::bf16::from_f32(v).is_finite(),
        _ => true,
    };
    match new.as_slice() {
        Some(s) if matches!(dt, Dt::F32 | Dt::F64) => {
            s.iter().fold(true, |ok, v| ok & v.is_finite())
        }
        _ => new.iter().all(|&v| v.is_finite() && fits(v)),
    }
}

/// `new` encoded exactly like `t`'s data: same dtype, byte order and memory
/// order. Elements whose value is unchanged keep their original bytes, so an
/// f64 weight that survives pruning keeps its full precision.
fn encode_like(t: &TensorRef, path: &Path, new: &Array2<f32>) -> Result<Vec<u8>> {
    encode_check(t, path, new)?;
    encode_into(t, path, new, t.data.to_vec())
}

/// [`encode_like`] once [`encode_check`] passed, on `out`, a copy of `t`'s data.
fn encode_into(t: &TensorRef, path: &Path, new: &Array2<f32>, mut out: Vec<u8>) -> Result<Vec<u8>> {
    let dt = encode_check(t, path, new)?;
    let (rows, cols) = (t.shape[0], t.shape[1]);
    let size = dt.size();
    if out.len() != t.data.len() {
        return Err(tensor_err(path, &t.name, "changed while it was read"));
    }
    let bad = |r: usize, c: usize, v: f32, what: &str| {
        tensor_err(
            path,
            &t.name,
            format!("replacement value {v} at (row {r}, col {c}) {what}"),
        )
    };
    if let (true, Some(values)) = (is_native_f32(t), new.as_slice()) {
        patch_f32(&mut out, values, 0, cols, &bad)?;
        return Ok(out);
    }
    for ((r, c), &v) in new.indexed_iter() {
        let i = if t.fortran {
            c * rows + r
        } else {
            r * cols + c
        };
        let slot = &mut out[i * size..(i + 1) * size];
        if elem_to_f32(dt, t.big_endian, slot).to_bits() == v.to_bits() {
            continue;
        }
        if !v.is_finite() {
            return Err(bad(r, c, v, "is not finite"));
        }
        f32_to_elem(dt, t.big_endian, v, slot)
            .ok_or_else(|| bad(r, c, v, &format!("does not fit {dt:?}")))?;
    }
    Ok(out)
}

/// The loop of [`encode_into`] for little-endian f32 in C order, without
/// the general element decoding: `out` holds the original bytes of the
/// elements from flat index `first` on, `values` their replacements.
fn patch_f32(
    out: &mut [u8],
    values: &[f32],
    first: usize,
    cols: usize,
    bad: &dyn Fn(usize, usize, f32, &str) -> Error,
) -> Result<()> {
    for (k, (slot, &v)) in out.chunks_exact_mut(4).zip(values).enumerate() {
        let old = f32::from_le_bytes([slot[0], slot[1], slot[2], slot[3]]);
        if old.to_bits() == v.to_bits() {
            continue;
        }
        if !v.is_finite() {
            let i = first + k;
            return Err(bad(i / cols, i % cols, v, "is not finite"));
        }
        slot.copy_from_slice(&v.to_le_bytes());
    }
    Ok(())
}

/// The candidates `replace` names (exactly), each with its new matrix.
fn sources<'a, 'r>(
    path: &Path,
    cands: Vec<Cand<'a>>,
    replace: &'r [(String, Array2<f32>)],
) -> Result<Vec<(Src<'a>, &'r Array2<f32>)>> {
    let available = usable_names(&cands);
    let mut by_name: std::collections::HashMap<String, Cand> =
        cands.into_iter().map(|c| (c.name.clone(), c)).collect();
    replace
        .iter()
        .map(|(name, m)| {
            let cand = by_name
                .remove(name)
                .ok_or_else(|| not_found(path, Some(name), &available))?;
            Ok((cand.status.map_err(|(e, _)| e)?, m))
        })
        .collect()
}

/// Writes a copy of `input` to `output` (atomically) with the data of the
/// named tensors replaced, in the input's own format and dtypes, with every
/// other byte kept where the format allows:
///
/// - `.npy`: the same header; the data re-encoded (byte order, Fortran order kept).
/// - `.npz`: the other members copied as they are (raw), the replaced ones
///   stored uncompressed with their original header, timestamp and mode.
/// - `.safetensors`: the same header and metadata; only the replaced tensors'
///   bytes change.
/// - `.onnx`: the initializers' data spliced into the original bytes; see
///   [`crate::onnx`].
///
/// Names are those [`read_matrices`](crate::read_matrices) gives (ONNX `W[0]` replaces direction 0
/// of `W`); shapes must match. f16/bf16 values are rounded to nearest; a
/// value that overflows the tensor's dtype is an error. `output` must have the
/// input's extension, and must not be the input. On any error nothing is written.
pub fn write_like(input: &Path, output: &Path, replace: &[(String, Array2<f32>)]) -> Result<()> {
    write_like_to(input, Dest::path_from(output, input), replace)
}

/// [`write_like`] to a destination: a path alone, or an output of a
/// command's [`OutputPlan`](crate::OutputPlan).
pub fn write_like_to(input: &Path, dest: Dest, replace: &[(String, Array2<f32>)]) -> Result<()> {
    let output = dest.shown();
    let ext = extension(input);
    check_extension(input, &ext)?;
    if extension(&output) != ext {
        return Err(Error::file(
            &output,
            format!("output must have the input's extension '.{ext}'"),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in replace {
        if !seen.insert(name) {
            return Err(tensor_err(input, name, "is replaced twice"));
        }
    }
    let bytes = read_file(input)?;
    let out = match ext.as_str() {
        "npy" => {
            let cands = npy::candidates(&bytes, input)?;
            return write_in_place(input, dest, &bytes, cands, replace);
        }
        "npz" => {
            // Only the replaced members are inflated past their header;
            // the others are copied raw.
            let (mut members, heads) =
                npz_read(&bytes, input, |name| replace.iter().any(|(n, _)| n == name))?;
            let cands = npz::candidates(&members, heads, input);
            let patches = encode_all(input, sources(input, cands, replace)?)?;
            let mut changed = BTreeMap::new();
            for (unit, offset, new) in patches {
                let member = &mut members[unit];
                member.bytes[offset..offset + new.len()].copy_from_slice(&new);
                changed.insert(member.full.clone(), std::mem::take(&mut member.bytes));
            }
            rewrite_npz(&bytes, input, &changed)?
        }
        "onnx" => {
            let model = open_onnx(&bytes, input)?;
            let cands = onnx::candidates(&model, &bytes, input);
            let patches = encode_all(input, sources(input, cands, replace)?)?;
            onnx::patch(&bytes, &model, &patches)
        }
        _ => {
            let cands = safetensors::candidates(&bytes, input)?;
            return write_in_place(input, dest, &bytes, cands, replace);
        }
    };
    dest.write_bytes(&out)
}

/// Each replacement encoded like the tensor it replaces, as `(unit, offset,
/// bytes)` for the format to splice in; the first error stops it.
fn encode_all(
    input: &Path,
    srcs: Vec<(Src, &Array2<f32>)>,
) -> Result<Vec<(usize, usize, Vec<u8>)>> {
    srcs.into_iter()
        .map(|(src, m)| Ok((src.unit, src.offset, encode_like(&src.tref, input, m)?)))
        .collect()
}

/// [`write_like`] for the formats whose tensors' data lie in the file as
/// they are (`.npy`, `.safetensors`): the replaced bytes are overwritten in
/// a copy of the file, streamed file to file when the input is mapped and
/// every value can be encoded, else in memory.
fn write_in_place(
    input: &Path,
    output: Dest,
    bytes: &FileBytes,
    cands: Vec<Cand>,
    replace: &[(String, Array2<f32>)],
) -> Result<()> {
    let srcs = sources(input, cands, replace)?;
    if let Some(file) = bytes.mapped_file() {
        if streamable(&srcs, input) {
            return write_patched(input, file, output, &srcs);
        }
    }
    let patches = encode_all(input, srcs)?;
    let mut out = bytes.to_vec();
    for (_, offset, new) in patches {
        out[offset..offset + new.len()].copy_from_slice(&new);
    }
    output.write_bytes(&out)
}

/// Whether every replacement passes [`encode_check`] and can be encoded
/// ([`encodable`]): [`write_patched`] then gives what the in-memory path
/// gives. Otherwise the in-memory path runs, so the first error is the same.
fn streamable(srcs: &[(Src, &Array2<f32>)], input: &Path) -> bool {
    srcs.iter()
        .all(|(src, m)| encode_check(&src.tref, input, m).is_ok_and(|dt| encodable(dt, m)))
}

/// Writes `output` as a copy of the mapped `input` (`file`) with each
/// source's data (at its offset in the file) replaced, one tensor in memory
/// at a time: the file is copied, then each replaced tensor's original bytes
/// are read, re-encoded and written over the copy.
fn write_patched(
    input: &Path,
    file: &File,
    output: Dest,
    srcs: &[(Src, &Array2<f32>)],
) -> Result<()> {
    let shown = output.shown();
    let cannot_write =
        |e: std::io::Error| Error::file(&shown, format!("cannot write: {}", one_line(e)));
    output.fill(|out| {
        let mut from = file;
        from.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(input, "cannot read", e))?;
        std::io::copy(&mut from, out).map_err(cannot_write)?;
        for (src, m) in srcs {
            let t = &src.tref;
            if let (true, Some(values)) = (is_native_f32(t), m.as_slice()) {
                // Piece by piece: little-endian f32 needs no whole-tensor pass.
                const PIECE: usize = 1 << 18;
                let cols = t.shape[1];
                let bad = |r: usize, c: usize, v: f32, what: &str| {
                    tensor_err(
                        input,
                        &t.name,
                        format!("replacement value {v} at (row {r}, col {c}) {what}"),
                    )
                };
                let mut buf = vec![0u8; PIECE.min(values.len()) * 4];
                for (p, piece) in values.chunks(PIECE).enumerate() {
                    let at = src.offset + p * PIECE * 4;
                    let bytes = &mut buf[..piece.len() * 4];
                    read_at(file, at, bytes, input)?;
                    patch_f32(bytes, piece, p * PIECE, cols, &bad)?;
                    out.seek(SeekFrom::Start(at as u64))
                        .and_then(|_| out.write_all(bytes))
                        .map_err(cannot_write)?;
                }
                continue;
            }
            let mut orig = vec![0u8; t.data.len()];
            read_at(file, src.offset, &mut orig, input)?;
            let new = encode_into(t, input, m, orig)?;
            out.seek(SeekFrom::Start(src.offset as u64))
                .and_then(|_| out.write_all(&new))
                .map_err(cannot_write)?;
        }
        Ok(())
    })
}
