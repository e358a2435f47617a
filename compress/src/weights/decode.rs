//! From a tensor's bytes to values and back: elements of any [`Dt`] in
//! either byte order and C or Fortran order decoded to f32 (or i64), and f32
//! encoded back to an element (for [`super::rewrite`]).
//!
//! Also what makes a tensor a usable matrix (2-D, non-empty, floating point,
//! finite), checked here once for every format, so each error reads the same
//! whatever the file.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;

use ndarray::{Array2, ArrayD, IxDyn, ShapeBuilder};
use rayon::prelude::*;

use crate::error::{one_line, Result};

use super::file::read_at;
use super::tensor::{shape_str, tensor_err, Dt, TensorRef};

/// Decoded elements in C (row-major) order.
pub(crate) enum Decoded {
    Float(Vec<f32>),
    Int(Vec<i64>),
}

/// Decodes `t` to C order. The caller has checked the shape already.
pub(crate) fn decode(t: &TensorRef, path: &Path, floats_only: bool) -> Result<Decoded> {
    let supported = if floats_only {
        "f32, f64, f16, bf16"
    } else {
        "f32, f64, f16, i8, i16, i32, i64"
    };
    let dt = match &t.dtype {
        Ok(dt) if !floats_only || dt.is_float() => *dt,
        Ok(dt) => {
            return Err(tensor_err(
                path,
                &t.name,
                format!("has dtype {dt:?}; supported: {supported}"),
            ))
        }
        Err(name) => {
            return Err(tensor_err(
                path,
                &t.name,
                format!("has unsupported dtype {name}; supported: {supported}"),
            ))
        }
    };
    check_length(t, path, dt)?;
    let big = t.big_endian;
    let chunks = t.data.chunks_exact(dt.size());
    macro_rules! num {
        ($ty:ty, $n:literal, $conv:expr) => {
            chunks
                .map(|c| {
                    let mut a = [0u8; $n];
                    a.copy_from_slice(c);
                    let v = if big {
                        <$ty>::from_be_bytes(a)
                    } else {
                        <$ty>::from_le_bytes(a)
                    };
                    $conv(v)
                })
                .collect()
        };
    }
    let mut out = match dt {
        Dt::F16 => Decoded::Float(num!(u16, 2, |b| half::f16::from_bits(b).to_f32())),
        Dt::BF16 => Decoded::Float(num!(u16, 2, |b| half::bf16::from_bits(b).to_f32())),
        Dt::F32 => Decoded::Float(num!(f32, 4, |v| v)),
        Dt::F64 => Decoded::Float(num!(f64, 8, |v: f64| v as f32)),
        Dt::I8 => Decoded::Int(num!(i8, 1, |v| v as i64)),
        Dt::I16 => Decoded::Int(num!(i16, 2, |v| v as i64)),
        Dt::I32 => Decoded::Int(num!(i32, 4, |v| v as i64)),
        Dt::I64 => Decoded::Int(num!(i64, 8, |v| v)),
    };
    if t.fortran && t.shape.len() > 1 {
        out = match out {
            Decoded::Float(v) => Decoded::Float(fortran_to_c(v, &t.shape, path, &t.name)?),
            Decoded::Int(v) => Decoded::Int(fortran_to_c(v, &t.shape, path, &t.name)?),
        };
    }
    Ok(out)
}

/// Checks that `t`'s data holds exactly the elements its shape calls for,
/// as `dt`.
pub(crate) fn check_length(t: &TensorRef, path: &Path, dt: Dt) -> Result<()> {
    let numel = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if numel.and_then(|n| n.checked_mul(dt.size())) != Some(t.data.len()) {
        return Err(tensor_err(
            path,
            &t.name,
            format!(
                "holds {} data bytes, which does not match shape {} of {dt:?}",
                t.data.len(),
                shape_str(&t.shape)
            ),
        ));
    }
    Ok(())
}

fn fortran_to_c<T: Clone>(v: Vec<T>, shape: &[usize], path: &Path, name: &str) -> Result<Vec<T>> {
    let a = ArrayD::from_shape_vec(IxDyn(shape).f(), v)
        .map_err(|e| tensor_err(path, name, one_line(e)))?;
    Ok(a.iter().cloned().collect())
}

/// A finite f64 can still overflow f32; say so rather than blame the file.
pub(crate) fn f64_hint(t: &TensorRef) -> &'static str {
    if t.dtype == Ok(Dt::F64) {
        " (or an f64 beyond the f32 range)"
    } else {
        ""
    }
}

/// Checks shape and dtype without decoding: what makes a tensor a matrix.
pub(crate) fn matrix_check(t: &TensorRef, path: &Path) -> Result<()> {
    if t.shape.len() != 2 {
        return Err(tensor_err(
            path,
            &t.name,
            format!(
                "is {}-D with shape {}; a 2-D matrix is needed",
                t.shape.len(),
                shape_str(&t.shape)
            ),
        ));
    }
    if t.shape[0] == 0 || t.shape[1] == 0 {
        return Err(tensor_err(
            path,
            &t.name,
            format!("is empty (shape {})", shape_str(&t.shape)),
        ));
    }
    match &t.dtype {
        Ok(dt) if dt.is_float() => Ok(()),
        Ok(dt) => Err(tensor_err(
            path,
            &t.name,
            format!("has dtype {dt:?}; supported: f32, f64, f16, bf16"),
        )),
        Err(name) => Err(tensor_err(
            path,
            &t.name,
            format!("has unsupported dtype {name}; supported: f32, f64, f16, bf16"),
        )),
    }
}

/// The error for the first NaN or infinity of `v` (C order, `cols` columns), if any.
pub(crate) fn check_finite(v: &[f32], t: &TensorRef, path: &Path, cols: usize) -> Result<()> {
    // A branch-free pass finds out whether there is any (in parallel on
    // large matrices); only then is the first one looked for.
    let any_bad = |c: &[f32]| c.iter().fold(false, |bad, x| bad | !x.is_finite());
    let bad = if v.len() >= 1 << 20 {
        v.par_chunks(1 << 16).any(any_bad)
    } else {
        any_bad(v)
    };
    if !bad {
        return Ok(());
    }
    let Some(i) = v.iter().position(|x| !x.is_finite()) else {
        return Ok(());
    };
    Err(tensor_err(
        path,
        &t.name,
        format!(
            "has non-finite value {} at (row {}, col {}){}",
            v[i],
            i / cols,
            i % cols,
            f64_hint(t)
        ),
    ))
}

pub(crate) fn to_matrix(t: &TensorRef, path: &Path) -> Result<Array2<f32>> {
    matrix_check(t, path)?;
    let (rows, cols) = (t.shape[0], t.shape[1]);
    let Decoded::Float(v) = decode(t, path, true)? else {
        return Err(tensor_err(path, &t.name, "is not floating point"));
    };
    check_finite(&v, t, path, cols)?;
    Array2::from_shape_vec((rows, cols), v).map_err(|e| tensor_err(path, &t.name, one_line(e)))
}

/// Whether `t`'s data, as it is in the file, already is the f32 matrix in
/// C order on this machine.
pub(crate) fn is_native_f32(t: &TensorRef) -> bool {
    t.dtype == Ok(Dt::F32) && !t.big_endian && !t.fortran && cfg!(target_endian = "little")
}

/// [`to_matrix`] for a tensor whose data is at `offset` in `file`: the data
/// is read from the file (not through the mapping `t.data` borrows from),
/// little-endian f32 straight into the matrix's own memory.
pub(crate) fn to_matrix_at(
    t: &TensorRef,
    path: &Path,
    file: &File,
    offset: usize,
) -> Result<Array2<f32>> {
    matrix_check(t, path)?;
    let (rows, cols) = (t.shape[0], t.shape[1]);
    let numel = rows.checked_mul(cols);
    if is_native_f32(t) && numel.and_then(|n| n.checked_mul(4)) == Some(t.data.len()) {
        let mut v = vec![0.0f32; rows * cols];
        read_at(file, offset, bytemuck::cast_slice_mut(&mut v), path)?;
        check_finite(&v, t, path, cols)?;
        return Array2::from_shape_vec((rows, cols), v)
            .map_err(|e| tensor_err(path, &t.name, one_line(e)));
    }
    let mut data = vec![0u8; t.data.len()];
    read_at(file, offset, &mut data, path)?;
    let owned = TensorRef {
        name: t.name.clone(),
        shape: t.shape.clone(),
        dtype: t.dtype.clone(),
        big_endian: t.big_endian,
        fortran: t.fortran,
        data: Cow::Owned(data),
    };
    to_matrix(&owned, path)
}

pub(crate) fn elem_to_f32(dt: Dt, big: bool, b: &[u8]) -> f32 {
    let mut a = [0u8; 8];
    a[..b.len()].copy_from_slice(b);
    if big {
        a[..b.len()].reverse();
    }
    let u16v = u16::from_le_bytes([a[0], a[1]]);
    match dt {
        Dt::F16 => half::f16::from_bits(u16v).to_f32(),
        Dt::BF16 => half::bf16::from_bits(u16v).to_f32(),
        Dt::F64 => f64::from_le_bytes(a) as f32,
        _ => f32::from_le_bytes([a[0], a[1], a[2], a[3]]),
    }
}

/// Encodes `v` as `dt`; `None` when it does not fit (overflows to infinity).
pub(crate) fn f32_to_elem(dt: Dt, big: bool, v: f32, out: &mut [u8]) -> Option<()> {
    let mut a = [0u8; 8];
    let n = match dt {
        Dt::F16 => {
            let h = half::f16::from_f32(v);
            a[..2].copy_from_slice(&h.to_le_bytes());
            h.is_finite().then_some(2)?
        }
        Dt::BF16 => {
            let h = half::bf16::from_f32(v);
            a[..2].copy_from_slice(&h.to_le_bytes());
            h.is_finite().then_some(2)?
        }
        Dt::F64 => {
            a = f64::from(v).to_le_bytes();
            8
        }
        _ => {
            a[..4].copy_from_slice(&v.to_le_bytes());
            4
        }
    };
    if big {
        a[..n].reverse();
    }
    out.copy_from_slice(&a[..n]);
    Some(())
}
