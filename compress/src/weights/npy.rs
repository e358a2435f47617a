//! `.npy`: NumPy's array file. The header is parsed by ndarray-npy once
//! it is known to be in memory; the data is checked against the shape and
//! dtype the header claims, then borrowed as it is. `.npz` members are
//! `.npy` images too, so [`super::npz`] parses them here.

use std::borrow::Cow;
use std::path::Path;

use crate::error::{one_line, Result};

use super::file::{file_stem, offset_in};
use super::select::{cand_of, Cand};
use super::tensor::{tensor_err, Dt, TensorRef};

const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Parses an in-memory .npy image. The data slice it returns has exactly the
/// length the header's shape and dtype call for.
pub(crate) fn parse_npy<'a>(bytes: &'a [u8], path: &Path, name: &str) -> Result<TensorRef<'a>> {
    let bad = |msg: String| tensor_err(path, name, msg);
    if bytes.len() < 10 || &bytes[..6] != NPY_MAGIC {
        return Err(bad(if bytes.starts_with(NPY_MAGIC) {
            "is a truncated .npy (header cut short)".to_string()
        } else {
            "is not a .npy array (bad magic bytes)".to_string()
        }));
    }
    let (len_bytes, header_len) = match bytes[6] {
        1 => (2usize, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
        2 | 3 if bytes.len() >= 12 => (
            4,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        2 | 3 => return Err(bad("is a truncated .npy (header cut short)".into())),
        v => return Err(bad(format!("has unsupported .npy version {v}"))),
    };
    let data_start = (8 + len_bytes)
        .checked_add(header_len)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| bad("is a truncated .npy (header cut short)".into()))?;
    // The header is now known to be in memory, so ndarray-npy's parser cannot
    // be asked to allocate more than the file holds.
    let header = ndarray_npy::npy::header::Header::from_reader(&mut &bytes[..data_start])
        .map_err(|e| bad(format!("has a malformed .npy header: {}", one_line(e))))?;
    // Structured dtypes are not strings; they are reported by their repr.
    let (dtype, big_endian) = match header.type_descriptor.as_string() {
        Some(descr) => parse_descr(descr),
        None => (Err(header.type_descriptor.to_string()), false),
    };
    let data = &bytes[data_start..];
    let numel = header
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d));
    // Unsupported dtypes still get their length checked when the item size is known.
    let item = match &dtype {
        Ok(dt) => Some(dt.size()),
        Err(_) => None,
    };
    if let Some(item) = item {
        let need = numel
            .and_then(|n| n.checked_mul(item))
            .ok_or_else(|| bad(format!("has an impossible shape {:?}", header.shape)))?;
        if data.len() < need {
            return Err(bad(format!(
                "is truncated: shape {:?} needs {need} data bytes, the file has {}",
                header.shape,
                data.len()
            )));
        }
        if data.len() > need {
            return Err(bad(format!(
                "has {} unexpected bytes after its data",
                data.len() - need
            )));
        }
    }
    Ok(TensorRef {
        name: name.to_string(),
        shape: header.shape.clone(),
        dtype,
        big_endian,
        fortran: header.layout.is_fortran(),
        data: Cow::Borrowed(data),
    })
}

/// The file's one tensor, named after the file stem, as a candidate;
/// `offset` is where its data starts in the file.
pub(crate) fn candidates<'a>(bytes: &'a [u8], path: &Path) -> Result<Vec<Cand<'a>>> {
    let t = parse_npy(bytes, path, &file_stem(path))?;
    let offset = offset_in(bytes, &t.data);
    Ok(vec![cand_of(t, path, 0, offset)])
}

/// Maps a NumPy type string such as `<f4` to a dtype and byte order.
fn parse_descr(descr: &str) -> (std::result::Result<Dt, String>, bool) {
    let unsupported = || (Err(descr.to_string()), false);
    let mut chars = descr.chars();
    let Some(order) = chars.next() else {
        return unsupported();
    };
    let big = match order {
        '<' | '|' => false,
        '>' => true,
        '=' => cfg!(target_endian = "big"),
        _ => return unsupported(),
    };
    let dt = match chars.as_str() {
        "f2" => Dt::F16,
        "f4" => Dt::F32,
        "f8" => Dt::F64,
        "i1" => Dt::I8,
        "i2" => Dt::I16,
        "i4" => Dt::I32,
        "i8" => Dt::I64,
        _ => return unsupported(),
    };
    (Ok(dt), big)
}
