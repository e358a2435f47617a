//! `.safetensors`: the header is parsed by the `safetensors` crate, which
//! checks every tensor's byte range against the file; the data is borrowed
//! from the file as it is.

use std::borrow::Cow;
use std::path::Path;

use ::safetensors::{Dtype as StDtype, SafeTensors};

use crate::error::{one_line, Error, Result};

use super::file::offset_in;
use super::select::{cand_of, Cand};
use super::tensor::{not_found, Dt, TensorRef};

pub(crate) fn open_safetensors<'a>(bytes: &'a [u8], path: &Path) -> Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes).map_err(|e| {
        Error::file(
            path,
            format!("not a readable .safetensors file: {}", one_line(e)),
        )
    })
}

fn st_dtype(d: StDtype) -> std::result::Result<Dt, String> {
    match d {
        StDtype::F16 => Ok(Dt::F16),
        StDtype::BF16 => Ok(Dt::BF16),
        StDtype::F32 => Ok(Dt::F32),
        StDtype::F64 => Ok(Dt::F64),
        StDtype::I8 => Ok(Dt::I8),
        StDtype::I16 => Ok(Dt::I16),
        StDtype::I32 => Ok(Dt::I32),
        StDtype::I64 => Ok(Dt::I64),
        other => Err(format!("{other:?}")),
    }
}

pub(crate) fn st_tensor<'a>(
    st: &SafeTensors<'a>,
    path: &Path,
    name: &str,
) -> Result<TensorRef<'a>> {
    let view = st
        .tensor(name)
        .map_err(|_| not_found(path, Some(name), &sorted_names(st)))?;
    Ok(TensorRef {
        name: name.to_string(),
        shape: view.shape().to_vec(),
        dtype: st_dtype(view.dtype()),
        big_endian: false,
        fortran: false,
        data: Cow::Borrowed(view.data()),
    })
}

pub(crate) fn sorted_names(st: &SafeTensors) -> Vec<String> {
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    names
}

/// Every tensor as a candidate, sorted by name; `offset` is where its data
/// starts in the file.
pub(crate) fn candidates<'a>(bytes: &'a [u8], path: &Path) -> Result<Vec<Cand<'a>>> {
    let st = open_safetensors(bytes, path)?;
    let mut cands = Vec::new();
    for name in sorted_names(&st) {
        let t = st_tensor(&st, path, &name)?;
        let offset = offset_in(bytes, &t.data);
        cands.push(cand_of(t, path, 0, offset));
    }
    Ok(cands)
}
