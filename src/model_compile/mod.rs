//! `bbs compile MODEL -o DIR` and `bbs run DIR INPUT.npy`: a user's trained
//! recurrent network on the accelerator (docs/compile.md).
//!
//! `compile` finds the recurrent layers of a PyTorch-style state dict
//! (`.npz`, `.safetensors`, or an `.onnx` file's initializers) by their
//! tensor names, or of an ONNX graph by its `LSTM`/`GRU` nodes
//! (`onnx`, which also finds the steps the host computes around
//! them), prunes every matrix to
//! bank-balanced sparsity with the configuration's banks, quantizes it,
//! builds the machine's program (the overlapped one with `overlap.units`)
//! to check that the network fits, and writes the directory `run` reads:
//! `config.toml`, `manifest.json` (layers, fixed-point biases, the program's
//! size and frame cycles) and one CSB file per matrix. `run` streams a
//! sequence (frames x features) through the simulated accelerator, bit for
//! bit as the RTL computes it, checks the outputs against the plain
//! fixed-point reference, and reports the cycles per frame and the error
//! against the same pruned network in float.
//!
//! Names: `[P]weight_ih[_l<k>]`, `[P]weight_hh[_l<k>]`, `[P]bias_ih[_l<k>]`,
//! `[P]bias_hh[_l<k>]` and, for an LSTM with a projection,
//! `[P]weight_hr[_l<k>]` (`nn.LSTM`, `nn.GRU`, `nn.LSTMCell`, `nn.GRUCell`);
//! or `[P]w_ih`, `[P]w_hh`, `[P]b_ih`, `[P]b_hh`. Layers `_l0`, `_l1`, ...
//! stack. The kind follows from the shapes: `weight_hh` has 4 (LSTM) or 3
//! (GRU) times as many rows as the hidden size.
//!
//! One file per concept: `layers` (state-dict discovery), `onnx` (ONNX
//! graphs), `calibrate`, `manifest`, `compile` and `run`.

mod calibrate;
mod compile;
mod layers;
mod manifest;
pub mod onnx;
mod run;

pub use calibrate::Calibration;
pub use compile::{compile, memory_images, CompileArgs};
pub use layers::{find_layers, LayerTensors, StoredRows};
pub use manifest::{InterleavedIo, Manifest, ManifestLayer, MANIFEST_VERSION};
pub use run::{load_compiled, run, run_compiled, RunArgs, RunReport};
