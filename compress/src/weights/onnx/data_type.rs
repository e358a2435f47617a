//! ONNX `TensorProto.DataType` values this crate reads, and a few others.
//! A leaf module of its own so that the wire-level code (`proto.rs`) and the
//! test fixture can use the codes without depending on the parent module.

pub const FLOAT: i32 = 1;
pub const UINT8: i32 = 2;
pub const INT8: i32 = 3;
pub const INT32: i32 = 6;
pub const INT64: i32 = 7;
pub const FLOAT16: i32 = 10;
pub const DOUBLE: i32 = 11;
pub const BFLOAT16: i32 = 16;
