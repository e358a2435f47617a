//! Weight readers (.npy, .npz, .safetensors, .onnx) and atomic writers.
//!
//! Files are memory-mapped (or read whole into memory when they cannot be
//! mapped) and every size the file claims is checked against the bytes
//! actually present before anything is allocated from it, so a corrupt header
//! gives an error, never a huge allocation or a panic. Like any reader that
//! maps its input, this assumes a file is not truncated while it is read.
//!
//! [`read_matrices`] reads every 2-D weight of a model, [`write_like`] writes
//! pruned ones back in the input's own format, [`write_masks`] saves masks.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use ndarray::{Array, Array1, Array2, ArrayD, ArrayView2, Dimension, IxDyn, ShapeBuilder};
use ndarray_npy::{WritableElement, WriteNpyExt};
use rayon::prelude::*;
use safetensors::{Dtype as StDtype, SafeTensors};

use crate::error::{one_line, Error, Result};

/// Element types this crate can decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dt {
    F16,
    BF16,
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
}

impl Dt {
    pub(crate) fn size(self) -> usize {
        match self {
            Dt::I8 => 1,
            Dt::F16 | Dt::BF16 | Dt::I16 => 2,
            Dt::F32 | Dt::I32 => 4,
            Dt::F64 | Dt::I64 => 8,
        }
    }
    fn is_float(self) -> bool {
        matches!(self, Dt::F16 | Dt::BF16 | Dt::F32 | Dt::F64)
    }
}

/// One tensor found in a file, not yet decoded.
pub(crate) struct TensorRef<'a> {
    pub name: String,
    pub shape: Vec<usize>,
    /// The decodable element type, or the file's own name for an unsupported one.
    pub dtype: std::result::Result<Dt, String>,
    pub big_endian: bool,
    pub fortran: bool,
    /// Borrowed from the file, or decoded (ONNX `int32_data`, split fields).
    pub data: Cow<'a, [u8]>,
}

/// Decoded elements in C (row-major) order.
enum Decoded {
    Float(Vec<f32>),
    Int(Vec<i64>),
}

/// Tensor names come from files and may hold control characters (a newline
/// in an npz member name, say); they are escaped in messages, which are one line.
fn shown(name: &str) -> Cow<'_, str> {
    if name.chars().any(char::is_control) {
        Cow::Owned(
            name.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(name)
    }
}

/// [`Error::tensor`] with the name made printable.
pub(crate) fn tensor_err(path: &Path, name: &str, msg: impl std::fmt::Display) -> Error {
    Error::tensor(path, &shown(name), msg)
}

/// [`Error::TensorNotFound`] with the names made printable.
fn not_found<'a>(
    path: &Path,
    wanted: Option<&str>,
    available: impl IntoIterator<Item = &'a String>,
) -> Error {
    Error::TensorNotFound {
        path: path.to_path_buf(),
        wanted: wanted.map(|w| shown(w).into_owned()),
        available: available
            .into_iter()
            .map(|n| shown(n).into_owned())
            .collect(),
    }
}

fn shape_str(shape: &[usize]) -> String {
    format!("{shape:?}")
}

/// A whole file's bytes: memory-mapped, so only the pages looked at are
/// read (and none copied), or read into memory when the file cannot be
/// mapped (a pipe, say).
pub(crate) struct FileBytes {
    file: File,
    data: FileData,
    path: PathBuf,
}

enum FileData {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl FileBytes {
    pub(crate) fn open(path: &Path) -> Result<FileBytes> {
        let cannot = |e| Error::io(path, "cannot read", e);
        let mut file = File::open(path).map_err(cannot)?;
        // SAFETY: the mapping is read-only. Its contents change only if the
        // file is modified while it is mapped (and a truncation would raise
        // SIGBUS), which the module documentation rules out, as every
        // memory-mapping reader must.
        let data = match unsafe { memmap2::Mmap::map(&file) } {
            Ok(map) => FileData::Mapped(map),
            Err(_) => {
                let mut buf = Vec::new();
                file.read_to_end(&mut buf).map_err(cannot)?;
                FileData::Read(buf)
            }
        };
        Ok(FileBytes {
            file,
            data,
            path: path.to_path_buf(),
        })
    }

    /// The open file when the bytes are mapped: reading a range from it
    /// instead of through the mapping keeps the file's pages out of this
    /// process's memory.
    fn mapped_file(&self) -> Option<&File> {
        match self.data {
            FileData::Mapped(_) => Some(&self.file),
            FileData::Read(_) => None,
        }
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.data {
            FileData::Mapped(map) => map,
            FileData::Read(buf) => buf,
        }
    }
}

fn read_file(path: &Path) -> Result<FileBytes> {
    FileBytes::open(path)
}

/// Fills `buf` from `file` at byte `offset`.
fn read_at(file: &File, offset: usize, buf: &mut [u8], path: &Path) -> Result<()> {
    let mut f = file;
    f.seek(SeekFrom::Start(offset as u64))
        .and_then(|_| f.read_exact(buf))
        .map_err(|e| Error::io(path, "cannot read", e))
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- .npy ----

const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Parses an in-memory .npy image. The data slice it returns has exactly the
/// length the header's shape and dtype call for.
fn parse_npy<'a>(bytes: &'a [u8], path: &Path, name: &str) -> Result<TensorRef<'a>> {
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

// ---------------------------------------------------------------- .npz ----

/// (name without ".npy", name inside the archive), sorted by name.
fn npz_members(archive: &zip::ZipArchive<Cursor<&[u8]>>) -> Vec<(String, String)> {
    let mut members: Vec<(String, String)> = archive
        .file_names()
        .filter(|n| !n.ends_with('/'))
        .map(|n| {
            (
                n.strip_suffix(".npy").unwrap_or(n).to_string(),
                n.to_string(),
            )
        })
        .collect();
    members.sort();
    members
}

fn open_npz<'a>(bytes: &'a [u8], path: &Path) -> Result<zip::ZipArchive<Cursor<&'a [u8]>>> {
    zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        Error::file(
            path,
            format!("not a readable .npz archive: {}", one_line(e)),
        )
    })
}

fn read_npz_member(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    path: &Path,
    name: &str,
    full: &str,
) -> Result<Vec<u8>> {
    let member_err = |e: &dyn std::fmt::Display| {
        let hint = if e.to_string().to_lowercase().contains("compression") {
            " (supported: stored and deflate, as numpy.savez and numpy.savez_compressed write)"
        } else {
            ""
        };
        tensor_err(path, name, format!("cannot be read: {}{hint}", one_line(e)))
    };
    let mut file = archive.by_name(full).map_err(|e| member_err(&e))?;
    // No size hint is trusted: the buffer grows only as real bytes arrive.
    let mut buf = Vec::new();
    file.read_to_end(&mut buf).map_err(|e| member_err(&e))?;
    Ok(buf)
}

// --------------------------------------------------------- .safetensors ----

fn open_safetensors<'a>(bytes: &'a [u8], path: &Path) -> Result<SafeTensors<'a>> {
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

fn st_tensor<'a>(st: &SafeTensors<'a>, path: &Path, name: &str) -> Result<TensorRef<'a>> {
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

fn sorted_names(st: &SafeTensors) -> Vec<String> {
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    names
}

// ------------------------------------------------------------ decoding ----

/// Decodes `t` to C order. The caller has checked the shape already.
fn decode(t: &TensorRef, path: &Path, floats_only: bool) -> Result<Decoded> {
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

fn fortran_to_c<T: Clone>(v: Vec<T>, shape: &[usize], path: &Path, name: &str) -> Result<Vec<T>> {
    let a = ArrayD::from_shape_vec(IxDyn(shape).f(), v)
        .map_err(|e| tensor_err(path, name, one_line(e)))?;
    Ok(a.iter().cloned().collect())
}

/// A finite f64 can still overflow f32; say so rather than blame the file.
fn f64_hint(t: &TensorRef) -> &'static str {
    if t.dtype == Ok(Dt::F64) {
        " (or an f64 beyond the f32 range)"
    } else {
        ""
    }
}

/// Checks shape and dtype without decoding: what makes a tensor a matrix.
fn matrix_check(t: &TensorRef, path: &Path) -> Result<()> {
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
fn check_finite(v: &[f32], t: &TensorRef, path: &Path, cols: usize) -> Result<()> {
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

fn to_matrix(t: &TensorRef, path: &Path) -> Result<Array2<f32>> {
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
fn is_native_f32(t: &TensorRef) -> bool {
    t.dtype == Ok(Dt::F32) && !t.big_endian && !t.fortran && cfg!(target_endian = "little")
}

/// [`to_matrix`] for a tensor whose data is at `offset` in `file`: the data
/// is read from the file (not through the mapping `t.data` borrows from),
/// little-endian f32 straight into the matrix's own memory.
fn to_matrix_at(t: &TensorRef, path: &Path, file: &File, offset: usize) -> Result<Array2<f32>> {
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

// ------------------------------------------------------------- public ----

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
            let member = read_npz_member(&mut archive, path, &name, &full)?;
            to_matrix(&parse_npy(&member, path, &name)?, path)
        }
        "onnx" => {
            let model = parse_onnx(&bytes, path)?;
            let cands = crate::onnx::candidates(&model, &bytes, path);
            let select: Vec<String> = tensor.iter().map(|t| t.to_string()).collect();
            let mut found = select_matrices(path, cands, &select, None)?;
            match found.len() {
                1 => Ok(found.remove(0).matrix),
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

fn check_extension(path: &Path, ext: &str) -> Result<()> {
    match ext {
        "npy" | "npz" | "safetensors" | "onnx" => Ok(()),
        _ => Err(Error::file(
            path,
            format!("unsupported file type '.{ext}'; expected .npy, .npz, .safetensors or .onnx"),
        )),
    }
}

/// Chooses a member by name, or the only one when no name is given.
fn pick(
    path: &Path,
    wanted: Option<&str>,
    members: &[(String, String)],
) -> Result<(String, String)> {
    let found = match wanted {
        Some(w) => members.iter().find(|(n, full)| n == w || full == w),
        None if members.len() == 1 => members.first(),
        None => None,
    };
    found
        .cloned()
        .ok_or_else(|| not_found(path, wanted, members.iter().map(|(n, _)| n)))
}

/// Lists `(name, shape)` of every tensor, sorted by name. A `.npy` file gives
/// one entry named after the file stem; an `.onnx` file lists its initializers.
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
            let mut archive = open_npz(&bytes, path)?;
            let mut out = Vec::new();
            for (name, full) in npz_members(&archive) {
                let member = read_npz_member(&mut archive, path, &name, &full)?;
                let t = parse_npy(&member, path, &name)?;
                out.push((name, t.shape));
            }
            out
        }
        "onnx" => crate::onnx::list(&parse_onnx(&bytes, path)?, path)?,
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

/// A 1-D vector read by [`read_vector`].
#[derive(Clone, Debug, PartialEq)]
pub enum Vector {
    /// From an f32/f64 (or f16) file.
    Float(Array1<f32>),
    /// From an i8/i16/i32/i64 file: raw fixed-point integers, not rescaled.
    Fixed(Array1<i64>),
}

impl Vector {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Vector::Float(a) => a.len(),
            Vector::Fixed(a) => a.len(),
        }
    }

    /// True when there are no elements (never the case for a vector from [`read_vector`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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
    match decode(&t, path, false)? {
        Decoded::Float(v) => {
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(tensor_err(
                    path,
                    &t.name,
                    format!("has non-finite value {} at index {i}{}", v[i], f64_hint(&t)),
                ));
            }
            Ok(Vector::Float(Array1::from_vec(v)))
        }
        Decoded::Int(v) => Ok(Vector::Fixed(Array1::from_vec(v))),
    }
}

/// Creates a temporary file next to `path`, lets `fill` write it, then renames
/// it over `path`. On any error the temporary file is removed (by its drop).
pub(crate) fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::result::Result<(), String>,
) -> Result<()> {
    write_atomic_with(path, |f| {
        fill(f).map_err(|msg| Error::file(path, format!("cannot write: {msg}")))
    })
}

/// [`write_atomic`] with a `fill` that returns this crate's errors, passed on as they are.
fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::file(path, "output path has no file name"))?;
    let dir: PathBuf = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(file_name);
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // NamedTempFile defaults to 0600; ask for 0666 so the umask decides, as
    // for any ordinary file the user creates.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(&dir).map_err(|e| {
        // tempfile appends the random temp name; the OS error alone is clearer.
        let e = e
            .raw_os_error()
            .map_or(e, std::io::Error::from_raw_os_error);
        Error::io(path, "cannot create a temporary file beside it", e)
    })?;
    fill(tmp.as_file_mut())?;
    tmp.as_file_mut()
        .flush()
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io(path, "cannot write", e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(path, "cannot rename the temporary file into place", e.error))?;
    Ok(())
}

/// Writes `a` as `.npy` atomically: a temporary file in the same directory is
/// renamed into place, so readers never see a half-written file and a failure
/// leaves nothing behind.
pub fn write_npy_atomic<A: WritableElement, D: Dimension>(
    path: &Path,
    a: &Array<A, D>,
) -> Result<()> {
    write_atomic(path, |f| {
        let mut w = std::io::BufWriter::new(f);
        a.write_npy(&mut w).map_err(one_line)?;
        w.flush().map_err(one_line)
    })
}

/// Writes `bytes` atomically, like [`write_npy_atomic`].
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |f| f.write_all(bytes).map_err(one_line))
}

// --------------------------------------------------------- whole models ----

/// The element type a tensor has in its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum DType {
    F32,
    F64,
    F16,
    BF16,
}

impl DType {
    fn of(dt: Dt) -> DType {
        match dt {
            Dt::F64 => DType::F64,
            Dt::F16 => DType::F16,
            Dt::BF16 => DType::BF16,
            _ => DType::F32,
        }
    }
}

/// The gate layout of a recurrent weight matrix (ONNX LSTM and GRU).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GateInfo {
    /// "LSTM" or "GRU".
    pub op: String,
    /// Gate name of each block of `hidden` rows, in row order: `["i", "o",
    /// "f", "c"]` for ONNX LSTM, `["z", "r", "h"]` for ONNX GRU.
    pub gates: Vec<String>,
    /// Hidden size: rows per gate.
    pub hidden: usize,
    /// Index along ONNX `num_directions`: 0 forward (or the only direction,
    /// which is backward for `direction="reverse"`), 1 backward.
    pub direction: usize,
}

/// A 2-D tensor read by [`read_matrices`].
#[derive(Clone, Debug)]
pub struct NamedMatrix {
    /// The tensor's name in the file; for ONNX LSTM/GRU weights, which are
    /// split per direction, `<initializer>[<direction>]`.
    pub name: String,
    /// The element type in the file (the matrix itself is f32).
    pub dtype: DType,
    pub matrix: Array2<f32>,
    /// For ONNX LSTM/GRU weights: the gate layout.
    pub gates: Option<GateInfo>,
    /// For ONNX: which node inputs use it, e.g. `MatMul '/fc/MatMul' input 1
    /// (B, [in, out]: y = x B)`, or `Gemm 'fc' input 1 (B, transB=1, [out, in])`.
    pub role: Option<String>,
}

/// A tensor that [`read_matrices`] or [`write_like`] may select.
pub(crate) struct Cand<'a> {
    pub name: String,
    /// ONNX split tensors (`W[0]`) also answer to their initializer's name.
    pub base: Option<String>,
    /// Not a usable matrix: the error, and whether reading all tensors must
    /// fail on it (`true`: a corrupt tensor or unreadable weight) or skip it
    /// (`false`: a vector, an integer table, ...).
    pub status: std::result::Result<Src<'a>, (Error, bool)>,
}

impl Cand<'_> {
    pub(crate) fn err(name: &str, e: Error, hard: bool) -> Self {
        Cand {
            name: name.to_string(),
            base: None,
            status: Err((e, hard)),
        }
    }
}

/// A usable matrix and where its bytes are.
pub(crate) struct Src<'a> {
    pub tref: TensorRef<'a>,
    pub gates: Option<GateInfo>,
    pub role: Option<String>,
    /// The npz member index or ONNX initializer index (0 otherwise).
    pub unit: usize,
    /// Where the tensor's data starts: in the file (npy, safetensors), in the
    /// npz member, or in the ONNX initializer's data.
    pub offset: usize,
}

pub(crate) fn cand_of<'a>(t: TensorRef<'a>, path: &Path, unit: usize, offset: usize) -> Cand<'a> {
    match matrix_check(&t, path) {
        Ok(()) => Cand {
            name: t.name.clone(),
            base: None,
            status: Ok(Src {
                tref: t,
                gates: None,
                role: None,
                unit,
                offset,
            }),
        },
        Err(e) => Cand::err(&t.name, e, false),
    }
}

/// Where `inner` starts within `outer`, of which it is a subslice.
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

fn parse_onnx(bytes: &[u8], path: &Path) -> Result<crate::onnx::Model> {
    crate::onnx::parse(bytes)
        .map_err(|msg| Error::file(path, format!("not a readable ONNX model: {msg}")))
}

/// Reads every member of an npz archive: (name, bytes), sorted by name.
fn npz_all(bytes: &[u8], path: &Path) -> Result<Vec<(String, String, Vec<u8>)>> {
    let mut archive = open_npz(bytes, path)?;
    let mut out = Vec::new();
    for (name, full) in npz_members(&archive) {
        let member = read_npz_member(&mut archive, path, &name, &full)?;
        out.push((name, full, member));
    }
    Ok(out)
}

/// Shell-style name matching, as `--tensor` and layer rules use it:
/// `*` matches any run of characters, `?` any one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == s[si])) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

fn usable_names(cands: &[Cand]) -> Vec<String> {
    cands
        .iter()
        .filter(|c| c.status.is_ok())
        .map(|c| c.name.clone())
        .collect()
}

/// Picks the candidates `select` asks for (all when empty) and decodes them.
/// With `file` (the mapped file the candidates' data and offsets are in),
/// the data is read from the file rather than through the mapping.
fn select_matrices(
    path: &Path,
    mut cands: Vec<Cand>,
    select: &[String],
    file: Option<&File>,
) -> Result<Vec<NamedMatrix>> {
    cands.sort_by(|a, b| a.name.cmp(&b.name));
    let mut chosen = vec![false; cands.len()];
    if select.is_empty() {
        for (c, cand) in chosen.iter_mut().zip(&cands) {
            *c = !matches!(cand.status, Err((_, false)));
        }
    }
    for pattern in select {
        if is_glob(pattern) {
            let mut any = false;
            for (c, cand) in chosen.iter_mut().zip(&cands) {
                if glob_match(pattern, &cand.name) && !matches!(cand.status, Err((_, false))) {
                    *c = true;
                    any = true;
                }
            }
            if !any {
                return Err(Error::file(
                    path,
                    format!(
                        "pattern '{pattern}' matches no 2-D floating-point tensor; available: {}",
                        usable_names(&cands).join(", ")
                    ),
                ));
            }
        } else {
            let mut any = false;
            for (c, cand) in chosen.iter_mut().zip(&cands) {
                if &cand.name == pattern || cand.base.as_ref() == Some(pattern) {
                    *c = true;
                    any = true;
                }
            }
            if !any {
                return Err(not_found(path, Some(pattern), &usable_names(&cands)));
            }
        }
    }
    let mut out = Vec::new();
    for (cand, chosen) in cands.into_iter().zip(chosen) {
        if !chosen {
            continue;
        }
        let src = cand.status.map_err(|(e, _)| e)?;
        let matrix = match file {
            Some(f) => to_matrix_at(&src.tref, path, f, src.offset)?,
            None => to_matrix(&src.tref, path)?,
        };
        out.push(NamedMatrix {
            name: cand.name,
            dtype: DType::of(*src.tref.dtype.as_ref().unwrap_or(&Dt::F32)),
            matrix,
            gates: src.gates,
            role: src.role,
        });
    }
    Ok(out)
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
/// come back per direction as `<name>[d]` with [`GateInfo`]; the exact name
/// `<name>` selects all directions. Subgraphs are searched for nodes too.
/// Initializers in external data files are refused.
pub fn read_matrices(path: &Path, select: &[String]) -> Result<Vec<NamedMatrix>> {
    let ext = extension(path);
    check_extension(path, &ext)?;
    let bytes = read_file(path)?;
    match ext.as_str() {
        "npy" => {
            let t = parse_npy(&bytes, path, &file_stem(path))?;
            let offset = offset_in(&bytes, &t.data);
            let cands = vec![cand_of(t, path, 0, offset)];
            select_matrices(path, cands, select, bytes.mapped_file())
        }
        "npz" => {
            let members = npz_all(&bytes, path)?;
            let cands = members
                .iter()
                .enumerate()
                .map(|(i, (name, _, b))| match parse_npy(b, path, name) {
                    Ok(t) => {
                        let offset = offset_in(b, &t.data);
                        cand_of(t, path, i, offset)
                    }
                    Err(e) => Cand::err(name, e, true),
                })
                .collect();
            select_matrices(path, cands, select, None)
        }
        "onnx" => {
            let model = parse_onnx(&bytes, path)?;
            let cands = crate::onnx::candidates(&model, &bytes, path);
            select_matrices(path, cands, select, None)
        }
        _ => {
            let st = open_safetensors(&bytes, path)?;
            let mut cands = Vec::new();
            for name in sorted_names(&st) {
                let t = st_tensor(&st, path, &name)?;
                let offset = offset_in(&bytes, &t.data);
                cands.push(cand_of(t, path, 0, offset));
            }
            select_matrices(path, cands, select, bytes.mapped_file())
        }
    }
}

fn elem_to_f32(dt: Dt, big: bool, b: &[u8]) -> f32 {
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
fn f32_to_elem(dt: Dt, big: bool, v: f32, out: &mut [u8]) -> Option<()> {
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
    let size = dt.size();
    if rows.checked_mul(cols).and_then(|n| n.checked_mul(size)) != Some(t.data.len()) {
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
/// Names are those [`read_matrices`] gives (ONNX `W[0]` replaces direction 0
/// of `W`); shapes must match. f16/bf16 values are rounded to nearest; a
/// value that overflows the tensor's dtype is an error. `output` must have the
/// input's extension. On any error nothing is written.
pub fn write_like(input: &Path, output: &Path, replace: &[(String, Array2<f32>)]) -> Result<()> {
    let ext = extension(input);
    check_extension(input, &ext)?;
    if extension(output) != ext {
        return Err(Error::file(
            output,
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
            let t = parse_npy(&bytes, input, &file_stem(input))?;
            let offset = offset_in(&bytes, &t.data);
            let srcs = sources(input, vec![cand_of(t, input, 0, offset)], replace)?;
            if let Some(file) = bytes.mapped_file() {
                if streamable(&srcs, input) {
                    return write_patched(input, file, output, &srcs);
                }
            }
            let mut patches = Vec::new();
            for (src, m) in srcs {
                patches.push((src.offset, encode_like(&src.tref, input, m)?));
            }
            let mut out = bytes.to_vec();
            for (offset, new) in patches {
                out[offset..offset + new.len()].copy_from_slice(&new);
            }
            out
        }
        "npz" => {
            let mut members = npz_all(&bytes, input)?;
            let mut patches = Vec::new();
            {
                let cands: Vec<Cand> = members
                    .iter()
                    .enumerate()
                    .map(|(i, (name, _, b))| match parse_npy(b, input, name) {
                        Ok(t) => {
                            let offset = offset_in(b, &t.data);
                            cand_of(t, input, i, offset)
                        }
                        Err(e) => Cand::err(name, e, true),
                    })
                    .collect();
                for (src, m) in sources(input, cands, replace)? {
                    patches.push((src.unit, src.offset, encode_like(&src.tref, input, m)?));
                }
            }
            let mut changed = BTreeMap::new();
            for (unit, offset, new) in patches {
                let member = &mut members[unit];
                member.2[offset..offset + new.len()].copy_from_slice(&new);
                changed.insert(member.1.clone(), std::mem::take(&mut member.2));
            }
            rewrite_npz(&bytes, input, &changed)?
        }
        "onnx" => {
            let model = parse_onnx(&bytes, input)?;
            let cands = crate::onnx::candidates(&model, &bytes, input);
            let mut patches = Vec::new();
            for (src, m) in sources(input, cands, replace)? {
                patches.push((src.unit, src.offset, encode_like(&src.tref, input, m)?));
            }
            crate::onnx::patch(&bytes, &model, &patches)
        }
        _ => {
            let st = open_safetensors(&bytes, input)?;
            let mut cands = Vec::new();
            for name in sorted_names(&st) {
                let t = st_tensor(&st, input, &name)?;
                let offset = offset_in(&bytes, &t.data);
                cands.push(cand_of(t, input, 0, offset));
            }
            let srcs = sources(input, cands, replace)?;
            if let Some(file) = bytes.mapped_file() {
                if streamable(&srcs, input) {
                    return write_patched(input, file, output, &srcs);
                }
            }
            let mut patches = Vec::new();
            for (src, m) in srcs {
                patches.push((src.offset, encode_like(&src.tref, input, m)?));
            }
            let mut out = bytes.to_vec();
            for (offset, new) in patches {
                out[offset..offset + new.len()].copy_from_slice(&new);
            }
            out
        }
    };
    write_bytes_atomic(output, &out)
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
    output: &Path,
    srcs: &[(Src, &Array2<f32>)],
) -> Result<()> {
    let cannot_write =
        |e: std::io::Error| Error::file(output, format!("cannot write: {}", one_line(e)));
    write_atomic_with(output, |out| {
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

/// The archive with the members named in `changed` (by their name in the
/// archive) replaced, stored uncompressed; the others copied raw.
fn rewrite_npz(bytes: &[u8], path: &Path, changed: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>> {
    let zerr = |e: &dyn std::fmt::Display| {
        Error::file(
            path,
            format!("cannot rewrite the .npz archive: {}", one_line(e)),
        )
    };
    let mut archive = open_npz(bytes, path)?;
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let file = archive.by_index_raw(i).map_err(|e| zerr(&e))?;
        match changed.get(file.name()) {
            None => w.raw_copy_file(file).map_err(|e| zerr(&e))?,
            Some(data) => {
                let mut opts = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored)
                    .last_modified_time(file.last_modified().unwrap_or_default())
                    .large_file(data.len() as u64 >= u64::from(u32::MAX));
                if let Some(mode) = file.unix_mode() {
                    opts = opts.unix_permissions(mode);
                }
                let name = file.name().to_string();
                drop(file);
                w.start_file(name, opts).map_err(|e| zerr(&e))?;
                w.write_all(data).map_err(|e| zerr(&e))?;
            }
        }
    }
    Ok(w.finish().map_err(|e| zerr(&e))?.into_inner())
}

/// One mask as a U8 safetensors tensor.
struct MaskView<'a> {
    shape: Vec<usize>,
    data: Cow<'a, [u8]>,
}

impl safetensors::View for MaskView<'_> {
    fn dtype(&self) -> StDtype {
        StDtype::U8
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// Writes masks (true = kept) as one `.safetensors` file holding a U8 tensor
/// (1 = kept, 0 = pruned) per name, without metadata, atomically. Names must
/// be distinct. The bytes depend only on the masks.
pub fn write_masks(output: &Path, masks: &[(String, Array2<bool>)]) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in masks {
        if !seen.insert(name) {
            return Err(tensor_err(output, name, "is given twice"));
        }
    }
    // A mask in C order is its own data (a bool is the byte 0 or 1).
    let views = masks.iter().map(|(n, m)| {
        let data = match m.as_slice() {
            Some(s) => Cow::Borrowed(bytemuck::cast_slice::<bool, u8>(s)),
            None => Cow::Owned(m.iter().map(|&k| u8::from(k)).collect()),
        };
        (
            n.clone(),
            MaskView {
                shape: m.shape().to_vec(),
                data,
            },
        )
    });
    let bytes = safetensors::serialize(views, None)
        .map_err(|e| Error::file(output, format!("cannot encode masks: {}", one_line(e))))?;
    write_bytes_atomic(output, &bytes)
}
