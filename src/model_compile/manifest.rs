//! `manifest.json` of a compiled directory.

use super::onnx::Host;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{Calibration, LayerTensors};

/// Version of `manifest.json` (2 added `host`; version 1 directories
/// still load).
pub const MANIFEST_VERSION: u32 = 2;

/// `manifest.json` of a compiled directory.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub manifest_version: u32,
    pub bbs_version: String,
    /// The model's file name.
    pub model: String,
    pub sparsity: f64,
    /// The configuration (`config.toml` beside it).
    pub config: String,
    /// The layers the accelerator runs, in order.
    pub layers: Vec<ManifestLayer>,
    /// Features per frame of the network's input and output (of the host
    /// steps around the layers, when there are any).
    pub input: usize,
    pub output: usize,
    /// What the host computes in float around the accelerator (an ONNX
    /// graph's nodes before and after its recurrent layers), and the
    /// shape-only nodes passed through.
    #[serde(default, skip_serializing_if = "Host::is_empty")]
    pub host: Host,
    /// The machine's program of one frame.
    pub instructions: usize,
    /// Cycles of the first frame, and per frame once frames follow each
    /// other (the overlapped machine overlaps them).
    pub first_frame_cycles: u64,
    pub steady_frame_cycles: u64,
    pub steady_frame_us: f64,
    /// With `overlap.interleaved`: the word order of the machine's input
    /// and output vectors, for a host that drives the RTL itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interleaved: Option<InterleavedIo>,
    /// With `--calibrate`: every choice of fraction bits tried, from the
    /// most down; `config.toml` has the one taken (the first with nothing
    /// out of range, else the fewest out of range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Vec<Calibration>>,
}

/// Bank-interleaved input and output (docs/architecture.md, "Bank-interleaved
/// vectors"): element `c` of a vector of `n` sits at word
/// `(c % s) * banks + c / s`, `s = ceil(n / banks)`, of `banks * s` words
/// (the others zero).
#[derive(Debug, Serialize, Deserialize)]
pub struct InterleavedIo {
    pub banks: usize,
    /// Words of each `load` (the first layer's input, padded).
    pub input_words: usize,
    /// Words of each `store`, when the output is interleaved too (a last
    /// dense layer's is in row order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_words: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ManifestLayer {
    /// `lstm`, `gru` or `dense` (an ONNX graph's `Gemm`/`MatMul`).
    pub kind: String,
    /// A dense layer's activation (`sigmoid`, `tanh`; none: linear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<bbs_sim::act::ActFn>,
    /// Each matrix's sparsity, by role (`w_ih`, `w_hh`, `w_hr`).
    pub sparsity: BTreeMap<String, f64>,
    pub tensors: LayerTensors,
    pub input: usize,
    pub hidden: usize,
    pub output: usize,
    /// CSB files, by role (`w_ih`, `w_hh`, `proj`; a dense layer's `w`).
    pub csb: BTreeMap<String, String>,
    /// Fixed-point biases: an LSTM's `b_ih + b_hh` as `bias`, a GRU's apart.
    pub biases: BTreeMap<String, Vec<i64>>,
}
