//! Weight files: reading the 2-D weights of `.npy`, `.npz`, `.safetensors`
//! and `.onnx` files, writing pruned ones back in the input's own format
//! ([`write_like`]), and saving masks ([`write_masks`]).
//!
//! Files are opened through [`crate::input`] (regular files only: never a
//! FIFO or a device), memory-mapped, and every size a file claims is checked
//! against the bytes present before anything is allocated from it, so a
//! corrupt file gives an error, never a huge allocation or a panic. A
//! `.npy` header is bounded in length and nesting before it is parsed
//! (`npy`), and an `.npz` member is never inflated past the size its header
//! declares (`npz`), nor past its header when it is not used.
//!
//! One concept per module. Each uses only modules above it in this table,
//! never one below, so there is no cycle:
//!
//! | module                                  | holds                                                   |
//! |-----------------------------------------|---------------------------------------------------------|
//! | `tensor`                                | tensor types (element types, an undecoded tensor, the public results); tensor names in errors |
//! | `file`                                  | a file's bytes (opened by [`crate::input`]), mapped or read; reads at an offset |
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
    read_named_vector, read_npz_vector, read_vector, MatrixData,
};
pub use rewrite::{write_like, write_like_to};
pub use select::glob_match;
pub use tensor::{DType, GateInfo, NamedMatrix, Vector};
