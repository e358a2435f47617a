//! Weight files: reading the 2-D weights of `.npy`, `.npz`, `.safetensors`
//! and `.onnx` files, writing pruned ones back in the input's own format
//! ([`write_like`]), and saving masks ([`write_masks`]).
//!
//! Files are memory-mapped and every size a file claims is checked against
//! the bytes present before anything is allocated from it, so a corrupt file
//! gives an error, never a huge allocation or a panic.
//!
//! One concept per module. Each uses only modules above it in this table,
//! never one below, so there is no cycle:
//!
//! | module                                  | holds                                                   |
//! |-----------------------------------------|---------------------------------------------------------|
//! | `tensor`                                | tensor types (element types, an undecoded tensor, the public results); tensor names in errors |
//! | `file`                                  | a file's bytes, mapped or read; reads at an offset      |
//! | `decode`                                | element decoding and encoding; what makes a usable matrix |
//! | `select`                                | candidate matrices; choosing them by name or glob       |
//! | `npy`, `npz`, `safetensors`, [`onnx`]   | one format each: parsing, its candidates (and rewriting, for npz and onnx) |
//! | `read`                                  | the readers: dispatch on the extension to a format      |
//! | `rewrite`                               | [`write_like`]: a model written back with tensors replaced |
//! | `masks`                                 | [`write_masks`]                                         |
//!
//! Writing a file atomically is not here but in `crate::output`, which every
//! writer of the crate shares.

mod decode;
mod file;
mod masks;
mod npy;
mod npz;
pub mod onnx;
mod read;
mod rewrite;
mod safetensors;
mod select;
mod tensor;

pub use masks::{write_masks, write_masks_to};
pub use read::{
    list_tensors, read_matrices, read_matrix, read_matrix_data, read_matrix_data_deferred,
    read_vector, MatrixData,
};
pub use rewrite::{write_like, write_like_to};
pub use select::glob_match;
pub use tensor::{DType, GateInfo, NamedMatrix, Vector};
