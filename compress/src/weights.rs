//! Weight readers (.npy, .npz, .safetensors) and atomic writers.
//!
//! Files are read whole into memory and every size the file claims is checked
//! against the bytes actually present before anything is allocated from it,
//! so a corrupt header gives an error, never a huge allocation or a panic.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use ndarray::{Array, Array1, Array2, ArrayD, Dimension, IxDyn, ShapeBuilder};
use ndarray_npy::{WritableElement, WriteNpyExt};
use safetensors::{Dtype as StDtype, SafeTensors};

use crate::error::{one_line, Error, Result};

/// Element types this crate can decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dt {
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
    fn size(self) -> usize {
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
struct TensorRef<'a> {
    name: String,
    shape: Vec<usize>,
    /// The decodable element type, or the file's own name for an unsupported one.
    dtype: std::result::Result<Dt, String>,
    big_endian: bool,
    fortran: bool,
    data: &'a [u8],
}

/// Decoded elements in C (row-major) order.
enum Decoded {
    Float(Vec<f32>),
    Int(Vec<i64>),
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
    let bad = |msg: String| Error::tensor(path, name, msg);
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
        data,
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
        Error::tensor(path, name, format!("cannot be read: {}{hint}", one_line(e)))
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
    let view = st.tensor(name).map_err(|_| Error::TensorNotFound {
        path: path.to_path_buf(),
        wanted: Some(name.to_string()),
        available: sorted_names(st),
    })?;
    Ok(TensorRef {
        name: name.to_string(),
        shape: view.shape().to_vec(),
        dtype: st_dtype(view.dtype()),
        big_endian: false,
        fortran: false,
        data: view.data(),
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
            return Err(Error::tensor(
                path,
                &t.name,
                format!("has dtype {dt:?}; supported: {supported}"),
            ))
        }
        Err(name) => {
            return Err(Error::tensor(
                path,
                &t.name,
                format!("has unsupported dtype {name}; supported: {supported}"),
            ))
        }
    };
    let numel = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if numel.and_then(|n| n.checked_mul(dt.size())) != Some(t.data.len()) {
        return Err(Error::tensor(
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
        .map_err(|e| Error::tensor(path, name, one_line(e)))?;
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

fn to_matrix(t: &TensorRef, path: &Path) -> Result<Array2<f32>> {
    if t.shape.len() != 2 {
        return Err(Error::tensor(
            path,
            &t.name,
            format!(
                "is {}-D with shape {}; a 2-D matrix is needed",
                t.shape.len(),
                shape_str(&t.shape)
            ),
        ));
    }
    let (rows, cols) = (t.shape[0], t.shape[1]);
    if rows == 0 || cols == 0 {
        return Err(Error::tensor(
            path,
            &t.name,
            format!("is empty (shape {})", shape_str(&t.shape)),
        ));
    }
    let Decoded::Float(v) = decode(t, path, true)? else {
        return Err(Error::tensor(path, &t.name, "is not floating point"));
    };
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::tensor(
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
    Array2::from_shape_vec((rows, cols), v).map_err(|e| Error::tensor(path, &t.name, one_line(e)))
}

// ------------------------------------------------------------- public ----

/// Reads one 2-D weight matrix as f32.
///
/// Dispatches on the extension: `.npy` (`tensor` is ignored), `.npz` (member
/// name without ".npy"), `.safetensors`. `tensor` may be `None` when the file
/// holds exactly one array. Accepted dtypes: f32, f64, f16, bf16 (safetensors);
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
        "npy" | "npz" | "safetensors" => Ok(()),
        _ => Err(Error::file(
            path,
            format!("unsupported file type '.{ext}'; expected .npy, .npz or .safetensors"),
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
    found.cloned().ok_or_else(|| Error::TensorNotFound {
        path: path.to_path_buf(),
        wanted: wanted.map(str::to_string),
        available: members.iter().map(|(n, _)| n.clone()).collect(),
    })
}

/// Lists `(name, shape)` of every tensor, sorted by name. A `.npy` file gives
/// one entry named after the file stem.
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
            return Err(Error::tensor(
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
        return Err(Error::tensor(
            path,
            &t.name,
            format!("is empty (shape {})", shape_str(&t.shape)),
        ));
    }
    match decode(&t, path, false)? {
        Decoded::Float(v) => {
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(Error::tensor(
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
