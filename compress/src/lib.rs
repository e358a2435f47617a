//! Bank-balanced sparse (BBS) compression: pruning, the CSB format, weight
//! readers and writers, and the bit packer of `$readmemh` words.
//!
//! Typical flow: [`read_matrix`] -> [`prune_bbs`] -> [`Csb::from_pruned`] ->
//! [`Csb::write`]; `bbs-hdlgen` lays CSB words out in the PEs' matrix
//! memories. The byte layout of CSB files is in
//! `docs/csb-format.md`.

pub mod csb;
pub mod error;
pub mod fixed;
pub mod hex;
pub mod input;
pub mod metrics;
pub mod output;
pub mod patterns;
pub mod prune;
pub mod schedule;
pub mod weights;

pub use csb::{Csb, QuantStats};
pub use error::{shown, shown_path};
pub use error::{Error, Result};
pub use fixed::QFormat;
pub use hex::{pack_word, HexWord};
pub use metrics::{layer_metrics, LayerMetrics};
pub use output::{write_bytes_atomic, write_npy_atomic, Dest, Out, OutputPlan};
pub use patterns::{apply_mask, global_unstructured_masks, prune_mask, Pattern};
pub use prune::{kept_per_bank, prune_bbs, BbsPruned};
pub use schedule::Schedule;
// The ONNX module (its `data_type` codes and the test `fixture`) keeps its
// old public path.
pub use weights::onnx;
pub use weights::{
    glob_match, list_tensors, read_matrices, read_matrix, read_matrix_data,
    read_matrix_data_deferred, read_named_vector, read_npz_vector, read_vector, write_like,
    write_like_to, write_masks, write_masks_to, DType, GateInfo, MatrixData, NamedMatrix, Vector,
};
