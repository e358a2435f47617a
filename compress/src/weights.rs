//! Weight readers (.npy, .npz, .safetensors, .onnx) and atomic writers.
//!
//! Files are read whole into memory and every size the file claims is checked
//! against the bytes actually present before anything is allocated from it,
//! so a corrupt header gives an error, never a huge allocation or a panic.
//!
//! [`read_matrices`] reads every 2-D weight of a model, [`write_like`] writes
//! pruned ones back in the input's own format, [`write_masks`] saves masks.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use ndarray::{Array, Array1, Array2, ArrayD, Dimension, IxDyn, ShapeBuilder};
use ndarray_npy::{WritableElement, WriteNpyExt};
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

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, "cannot read", e))
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
            " (only uncompressed .npz as written by numpy.savez is supported)"
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

fn to_matrix(t: &TensorRef, path: &Path) -> Result<Array2<f32>> {
    matrix_check(t, path)?;
    let (rows, cols) = (t.shape[0], t.shape[1]);
    let Decoded::Float(v) = decode(t, path, true)? else {
        return Err(tensor_err(path, &t.name, "is not floating point"));
    };
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(tensor_err(
            path,
            &t.name,
            format!(
                "has non-finite value {} at (row {}, col {}){}",
                v[i],
                i / cols,
                i % cols,
                f64_hint(t)
            ),
        ));
    }
    Array2::from_shape_vec((rows, cols), v).map_err(|e| tensor_err(path, &t.name, one_line(e)))
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
            let mut found = select_matrices(path, cands, &select)?;
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
fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::result::Result<(), String>,
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
    fill(tmp.as_file_mut()).map_err(|msg| Error::file(path, format!("cannot write: {msg}")))?;
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

/// `*` matches any run of characters, `?` any one character.
fn glob_match(pattern: &str, name: &str) -> bool {
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
fn select_matrices(
    path: &Path,
    mut cands: Vec<Cand>,
    select: &[String],
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
        out.push(NamedMatrix {
            name: cand.name,
            dtype: DType::of(*src.tref.dtype.as_ref().unwrap_or(&Dt::F32)),
            matrix: to_matrix(&src.tref, path)?,
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
            select_matrices(path, vec![cand_of(t, path, 0, offset)], select)
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
            select_matrices(path, cands, select)
        }
        "onnx" => {
            let model = parse_onnx(&bytes, path)?;
            let cands = crate::onnx::candidates(&model, &bytes, path);
            select_matrices(path, cands, select)
        }
        _ => {
            let st = open_safetensors(&bytes, path)?;
            let mut cands = Vec::new();
            for name in sorted_names(&st) {
                let t = st_tensor(&st, path, &name)?;
                let offset = offset_in(&bytes, &t.data);
                cands.push(cand_of(t, path, 0, offset));
            }
            select_matrices(path, cands, select)
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

/// `new` encoded exactly like `t`'s data: same dtype, byte order and memory
/// order. Elements whose value is unchanged keep their original bytes, so an
/// f64 weight that survives pruning keeps its full precision.
fn encode_like(t: &TensorRef, path: &Path, new: &Array2<f32>) -> Result<Vec<u8>> {
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
    let mut out = t.data.to_vec();
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
        let bad = |what: &str| {
            tensor_err(
                path,
                &t.name,
                format!("replacement value {v} at (row {r}, col {c}) {what}"),
            )
        };
        if !v.is_finite() {
            return Err(bad("is not finite"));
        }
        f32_to_elem(dt, t.big_endian, v, slot)
            .ok_or_else(|| bad(&format!("does not fit {dt:?}")))?;
    }
    Ok(out)
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
            let mut patches = Vec::new();
            for (src, m) in sources(input, vec![cand_of(t, input, 0, offset)], replace)? {
                patches.push((src.offset, encode_like(&src.tref, input, m)?));
            }
            let mut out = bytes.clone();
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
            let mut patches = Vec::new();
            for (src, m) in sources(input, cands, replace)? {
                patches.push((src.offset, encode_like(&src.tref, input, m)?));
            }
            let mut out = bytes.clone();
            for (offset, new) in patches {
                out[offset..offset + new.len()].copy_from_slice(&new);
            }
            out
        }
    };
    write_bytes_atomic(output, &out)
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
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = masks
        .iter()
        .map(|(n, m)| {
            (
                n.clone(),
                m.shape().to_vec(),
                m.iter().map(|&k| u8::from(k)).collect(),
            )
        })
        .collect();
    let views = data
        .iter()
        .map(|(n, shape, b)| {
            safetensors::tensor::TensorView::new(StDtype::U8, shape.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| tensor_err(output, n, one_line(e)))
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, None)
        .map_err(|e| Error::file(output, format!("cannot encode masks: {}", one_line(e))))?;
    write_bytes_atomic(output, &bytes)
}
