//! Tensor types: the element types a file may hold ([`Dt`]), a tensor found
//! in a file but not yet decoded ([`TensorRef`]), and the public results of
//! reading ([`DType`], [`NamedMatrix`], [`GateInfo`], [`Vector`]).
//!
//! Also how tensors are named in errors: names come from files, so they are
//! made printable here, in one place, for every format.

use std::borrow::Cow;
use std::path::Path;

use ndarray::{Array1, Array2};

use crate::error::{shown, Error};

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
    pub(crate) fn is_float(self) -> bool {
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

// Tensor names come from files and may hold control characters (a newline
// in an npz member name, say); they are escaped in messages, which are one
// line, by `shown`, the one escaping function of every name the program shows.

/// [`Error::tensor`] with the name made printable.
pub(crate) fn tensor_err(path: &Path, name: &str, msg: impl std::fmt::Display) -> Error {
    Error::tensor(path, &shown(name), msg)
}

/// [`Error::TensorNotFound`] with the names made printable.
pub(crate) fn not_found<'a>(
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

pub(crate) fn shape_str(shape: &[usize]) -> String {
    format!("{shape:?}")
}

/// A 1-D vector read by [`read_vector`](crate::read_vector).
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

    /// True when there are no elements (never the case for a vector from [`read_vector`](crate::read_vector)).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The element type a tensor has in its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum DType {
    F32,
    F64,
    F16,
    BF16,
}

impl DType {
    pub(crate) fn of(dt: Dt) -> DType {
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

/// A 2-D tensor read by [`read_matrices`](crate::read_matrices).
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
