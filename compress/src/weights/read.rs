//! The readers: each dispatches on the file's extension to the format's
//! module, then selects and decodes tensors the same way for every format
//! ([`super::select`], [`super::decode`]).

use std::path::Path;

use ndarray::{Array1, Array2, ArrayView2};

use crate::error::{Error, Result};

use super::decode::{
    check_finite, decode, f64_hint, is_native_f32, matrix_check, to_matrix, Decoded,
};
use super::file::{extension, file_stem, offset_in, read_file, FileBytes};
use super::npy::{npy_tensor, parse_npy};
use super::npz::{npz_members, npz_read, open_npz, read_npz_member};
use super::onnx::{self, open_onnx};
use super::safetensors::{open_safetensors, sorted_names, st_tensor};
use super::select::{pick, select_matrices, selected};
use super::tensor::{not_found, shape_str, tensor_err, NamedMatrix, Vector};
use super::{npy, npz, safetensors};

/// Reads one 2-D weight matrix as f32.
///
/// Dispatches on the extension: `.npy` (`tensor` is ignored), `.npz` (member
/// name without ".npy"), `.safetensors`, `.onnx` (a name as [`read_matrices`]
/// gives it). `tensor` may be `None` when the file holds exactly one array
/// (for `.onnx`: exactly one weight matrix). Accepted dtypes: f32, f64, f16, bf16 (safetensors);
/// f32, f64, f16 (npy/npz, either byte order, C or Fortran order). NaN/Inf,
/// non-2-D and empty tensors are rejected with the file, tensor and location.
pub fn read_matrix(path: &Path, tensor: Option<&str>) -> Result<Array2<f32>> {
    let ext = extension(path);
    check_extension(path, &ext)?;
    let bytes = read_file(path)?;
    match ext.as_str() {
        "npy" => to_matrix(&parse_npy(&bytes, path, &file_stem(path))?, path),
        "npz" => {
            let mut archive = open_npz(&bytes, path)?;
            let members = npz_members(&archive);
            let (name, full) = pick(path, tensor, &members)?;
            let (member, head) = read_npz_member(&mut archive, path, &name, &full, true)?;
            to_matrix(&npy_tensor(&member.bytes, head?, path, &name)?, path)
        }
        "onnx" => {
            let model = open_onnx(&bytes, path)?;
            let cands = onnx::candidates(&model, &bytes, path);
            let select: Vec<String> = tensor.iter().map(|t| t.to_string()).collect();
            let mut found = select_matrices(path, cands, &select, None)?;
            match found.len() {
                1 => Ok(found.remove(0).matrix),
                0 => Err(Error::file(path, "holds no 2-D floating-point tensor")),
                _ => Err(not_found(path, None, found.iter().map(|m| &m.name))),
            }
        }
        _ => {
            let st = open_safetensors(&bytes, path)?;
            let names = sorted_names(&st);
            let pairs: Vec<(String, String)> =
                names.iter().map(|n| (n.clone(), n.clone())).collect();
            let (name, _) = pick(path, tensor, &pairs)?;
            to_matrix(&st_tensor(&st, path, &name)?, path)
        }
    }
}

/// A matrix read by [`read_matrix_data`]: decoded into memory, or (for a
/// little-endian f32 `.npy` in C order) the file's own mapped bytes, which
/// are never copied.
pub struct MatrixData(MatrixInner);

enum MatrixInner {
    Owned(Array2<f32>),
    Mapped {
        bytes: FileBytes,
        offset: usize,
        rows: usize,
        cols: usize,
    },
}

impl MatrixData {
    /// The matrix, C order.
    pub fn view(&self) -> ArrayView2<'_, f32> {
        match &self.0 {
            MatrixInner::Owned(a) => a.view(),
            MatrixInner::Mapped {
                bytes,
                offset,
                rows,
                cols,
            } => {
                // Length and alignment were checked when it was read.
                let data: &[f32] = bytemuck::cast_slice(&bytes[*offset..*offset + rows * cols * 4]);
                ArrayView2::from_shape((*rows, *cols), data).unwrap_or_else(|_| {
                    unreachable!("the shape was checked against the data when it was read")
                })
            }
        }
    }

    /// The matrix in memory of its own.
    pub fn into_owned(self) -> Array2<f32> {
        match self.0 {
            MatrixInner::Owned(a) => a,
            MatrixInner::Mapped { .. } => self.view().to_owned(),
        }
    }
}

impl MatrixData {
    /// The NaN/Inf check that [`read_matrix_data_deferred`] left out: the
    /// error [`read_matrix_data`] gives for the first non-finite value.
    pub fn check_finite(&self) -> Result<()> {
        match &self.0 {
            MatrixInner::Owned(_) => Ok(()),
            MatrixInner::Mapped {
                bytes,
                offset,
                cols,
                ..
            } => {
                let t = parse_npy(bytes, &bytes.path, &file_stem(&bytes.path))?;
                debug_assert_eq!(offset_in(bytes, &t.data), *offset);
                check_finite(bytemuck::cast_slice(&t.data), &t, &bytes.path, *cols)
            }
        }
    }
}

/// [`read_matrix`], without copying the data when the file already holds the
/// matrix as little-endian f32 in C order (`.npy`): the result then views the
/// memory-mapped file. Every check of [`read_matrix`] is made (the header,
/// the exact length, NaN/Inf), with the same errors.
pub fn read_matrix_data(path: &Path, tensor: Option<&str>) -> Result<MatrixData> {
    let m = read_matrix_data_deferred(path, tensor)?;
    m.check_finite()?;
    Ok(m)
}

/// [`read_matrix_data`] without the NaN/Inf scan of a mapped matrix, for a
/// caller that looks at every value anyway ([`crate::prune_bbs`] rejects
/// non-finite weights): [`MatrixData::check_finite`] gives the error
/// [`read_matrix_data`] would have given. Every other check is made.
pub fn read_matrix_data_deferred(path: &Path, tensor: Option<&str>) -> Result<MatrixData> {
    let ext = extension(path);
    check_extension(path, &ext)?;
    if ext != "npy" {
        return read_matrix(path, tensor).map(|a| MatrixData(MatrixInner::Owned(a)));
    }
    let bytes = read_file(path)?;
    let t = parse_npy(&bytes, path, &file_stem(path))?;
    let in_place = matrix_check(&t, path).is_ok()
        && is_native_f32(&t)
        && bytemuck::try_cast_slice::<u8, f32>(&t.data).is_ok()
        && t.shape[0]
            .checked_mul(t.shape[1])
            .and_then(|n| n.checked_mul(4))
            == Some(t.data.len());
    if !in_place {
        return to_matrix(&t, path).map(|a| MatrixData(MatrixInner::Owned(a)));
    }
    let (rows, cols) = (t.shape[0], t.shape[1]);
    let offset = offset_in(&bytes, &t.data);
    drop(t);
    Ok(MatrixData(MatrixInner::Mapped {
        bytes,
        offset,
        rows,
        cols,
    }))
}

pub(crate) fn check_extension(path: &Path, ext: &str) -> Result<()> {
    match ext {
        "npy" | "npz" | "safetensors" | "onnx" => Ok(()),
        _ => Err(Error::file(
            path,
            format!("unsupported file type '.{ext}'; expected .npy, .npz, .safetensors or .onnx"),
        )),
    }
}

/// Lists `(name, shape)` of every tensor, sorted by name. A `.npy` file gives
/// one entry named after the file stem; an `.onnx` file lists its initializers.
/// Only headers are read where the format allows it (`.npz` members are not
/// inflated past their `.npy` header), so a tensor's data is checked only
/// when it is read.
pub fn list_tensors(path: &Path) -> Result<Vec<(String, Vec<usize>)>> {
    let ext = extension(path);
    check_extension(path, &ext)?;
    let bytes = read_file(path)?;
    let mut out = match ext.as_str() {
        "npy" => {
            let t = parse_npy(&bytes, path, &file_stem(path))?;
            vec![(t.name, t.shape)]
        }
        "npz" => {
            let (members, heads) = npz_read(&bytes, path, |_| false)?;
            let mut out = Vec::new();
            for (m, head) in members.into_iter().zip(heads) {
                out.push((m.name, head?.shape));
            }
            out
        }
        "onnx" => onnx::list(&open_onnx(&bytes, path)?, path)?,
        _ => {
            let st = open_safetensors(&bytes, path)?;
            st.tensors()
                .into_iter()
                .map(|(n, v)| (n, v.shape().to_vec()))
                .collect()
        }
    };
    out.sort();
    Ok(out)
}

/// Reads a `.npy` vector: shape `[n]`, `[n, 1]` or `[1, n]` (flattened).
/// Floats become [`Vector::Float`] (NaN/Inf rejected); signed integers become
/// [`Vector::Fixed`].
pub fn read_vector(path: &Path) -> Result<Vector> {
    let ext = extension(path);
    if ext != "npy" {
        return Err(Error::file(
            path,
            format!("unsupported file type '.{ext}'; a vector must be a .npy file"),
        ));
    }
    let bytes = read_file(path)?;
    let t = parse_npy(&bytes, path, &file_stem(path))?;
    vector_of(&t, path)
}

/// Reads member `name` of an `.npz` file as a vector, with the bounds of
/// every npz read (its header checked before it is parsed, its data
/// inflated no further than the header declares, the other members read no
/// further than their headers).
pub fn read_npz_vector(path: &Path, name: &str) -> Result<Vector> {
    let ext = extension(path);
    check_extension(path, &ext)?;
    if ext != "npz" {
        return Err(Error::file(
            path,
            format!("unsupported file type '.{ext}'; expected an .npz archive"),
        ));
    }
    let bytes = read_file(path)?;
    let (members, heads) = npz_read(&bytes, path, |n| n == name)?;
    let Some(i) = members.iter().position(|m| m.name == name) else {
        let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
        return Err(not_found(path, Some(name), &names));
    };
    let head = heads.into_iter().nth(i).expect("a head per member")?;
    let t = npy_tensor(&members[i].bytes, head, path, name)?;
    vector_of(&t, path)
}

/// Reads tensor `name` of an `.npz` or `.safetensors` file as a vector (a
/// bias of a state dict), with the checks of [`read_npz_vector`].
pub fn read_named_vector(path: &Path, name: &str) -> Result<Vector> {
    let ext = extension(path);
    check_extension(path, &ext)?;
    match ext.as_str() {
        "npz" => read_npz_vector(path, name),
        "safetensors" => {
            let bytes = read_file(path)?;
            let st = open_safetensors(&bytes, path)?;
            vector_of(&st_tensor(&st, path, name)?, path)
        }
        "onnx" => {
            let g = super::onnx::read_graph(path)?;
            let c = g
                .constants
                .get(name)
                .ok_or_else(|| tensor_err(path, name, "is not an initializer of the model"))?;
            let values = c.values.clone().map_err(|t| {
                tensor_err(path, name, format!("has data type {t}, not floating point"))
            })?;
            let n = match c.dims.as_slice() {
                [n] | [n, 1] | [1, n] if *n > 0 => *n,
                d => {
                    return Err(tensor_err(
                        path,
                        name,
                        format!("has shape {d:?}; a vector (shape [n], [n, 1] or [1, n]) is needed"),
                    ))
                }
            };
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(tensor_err(path, name, format!("has non-finite value {} at {i}", values[i])));
            }
            debug_assert_eq!(values.len(), n);
            Ok(Vector::Float(ndarray::Array1::from(values)))
        }
        _ => Err(Error::file(
            path,
            format!(
                "unsupported file type '.{ext}' for a named vector; expected .npz, .safetensors or .onnx"
            ),
        )),
    }
}

/// A parsed tensor as a vector: shape `[n]`, `[n, 1]` or `[1, n]`, not
/// empty, finite.
fn vector_of(t: &super::tensor::TensorRef, path: &Path) -> Result<Vector> {
    let n = match t.shape.as_slice() {
        [n] | [n, 1] | [1, n] => *n,
        s => {
            return Err(tensor_err(
                path,
                &t.name,
                format!(
                    "is {}-D with shape {}; a vector (shape [n], [n, 1] or [1, n]) is needed",
                    s.len(),
                    shape_str(s)
                ),
            ))
        }
    };
    if n == 0 {
        return Err(tensor_err(
            path,
            &t.name,
            format!("is empty (shape {})", shape_str(&t.shape)),
        ));
    }
    match decode(t, path, false)? {
        Decoded::Float(v) => {
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(tensor_err(
                    path,
                    &t.name,
                    format!("has non-finite value {} at index {i}{}", v[i], f64_hint(t)),
                ));
            }
            Ok(Vector::Float(Array1::from_vec(v)))
        }
        Decoded::Int(v) => Ok(Vector::Fixed(Array1::from_vec(v))),
    }
}

/// Reads the 2-D floating-point tensors of a `.npy`, `.npz`, `.safetensors`
/// or `.onnx` file as f32, sorted by name.
///
/// With an empty `select`, every 2-D tensor of dtype f32, f64, f16 or bf16 is
/// returned and others (vectors, integer tables, ...) are skipped; a corrupt
/// tensor, NaN/Inf, or an ONNX weight that cannot be read is an error.
/// Otherwise only tensors matching an entry of `select` are returned: an exact
/// name (which must be a usable matrix, else its error is returned) or a glob
/// with `*` and `?`; an entry that matches nothing is an error naming it.
///
/// ONNX: initializers used as MatMul/Gemm A or B, LSTM/GRU W and R, and any
/// other 2-D float initializer not used as a bias or state of those ops.
/// LSTM/GRU W `[dirs, gates*hidden, in]` and R `[dirs, gates*hidden, hidden]`
/// come back per direction as `<name>[d]` with [`GateInfo`](crate::GateInfo); the exact name
/// `<name>` selects all directions. Subgraphs are searched for nodes too.
/// Initializers in external data files are refused.
pub fn read_matrices(path: &Path, select: &[String]) -> Result<Vec<NamedMatrix>> {
    let ext = extension(path);
    check_extension(path, &ext)?;
    let bytes = read_file(path)?;
    match ext.as_str() {
        "npy" => {
            let cands = npy::candidates(&bytes, path)?;
            select_matrices(path, cands, select, bytes.mapped_file())
        }
        "npz" => {
            // Only the members `select` names are inflated past their header.
            let (members, heads) = npz_read(&bytes, path, |name| selected(select, name))?;
            select_matrices(path, npz::candidates(&members, heads, path), select, None)
        }
        "onnx" => {
            let model = open_onnx(&bytes, path)?;
            let cands = onnx::candidates(&model, &bytes, path);
            select_matrices(path, cands, select, None)
        }
        _ => {
            let cands = safetensors::candidates(&bytes, path)?;
            select_matrices(path, cands, select, bytes.mapped_file())
        }
    }
}
