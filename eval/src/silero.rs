//! silero-vad (16 kHz) forward pass, a labelled speech clip, and frame-level
//! accuracy.
//!
//! The architecture follows `silero_vad_16k_op15.onnx` from the `silero-vad`
//! 6.2.3 package op for op (and its `tinygrad_model.py`), run one 512-sample
//! chunk at a time as the package's `OnnxWrapper` does:
//!
//! 1. input: the previous chunk's last 64 samples (zeros before the first
//!    chunk) followed by the 512 new samples: 576 samples;
//! 2. reflect padding of 64 samples on the right only (`x[574 - j]` for
//!    `j` in 0..64): 640 samples;
//! 3. `stft_conv`: Conv1d 1 -> 258 channels, kernel 256, stride 128, no
//!    padding, no bias: 4 frames. Channels 0..129 are the real parts and
//!    129..258 the imaginary parts of a 256-point DFT with a periodic Hann
//!    window (`w[n] cos(2πkn/256)` and `-w[n] sin(2πkn/256)`);
//! 4. magnitude `sqrt(re^2 + im^2)`: 129 x 4;
//! 5. `conv1` 129 -> 128, kernel 3, stride 1, padding 1, ReLU: 128 x 4;
//! 6. `conv2` 128 -> 64, kernel 3, stride 2, padding 1, ReLU: 64 x 2;
//! 7. `conv3` 64 -> 64, kernel 3, stride 2, padding 1, ReLU: 64 x 1;
//! 8. `conv4` 64 -> 128, kernel 3, stride 1, padding 1, ReLU: 128 x 1;
//! 9. `lstm_cell`: one LSTMCell step 128 -> 128 with the carried state
//!    `(h, c)` (zeros before the first chunk), PyTorch gate order i, f, g, o:
//!    `gates = W_ih x + b_ih + W_hh h + b_hh`, `c' = σ(f) c + σ(i) tanh(g)`,
//!    `h' = σ(o) tanh(c')`;
//! 10. ReLU on `h'`, `final_conv` (Conv1d 128 -> 1, kernel 1, with bias),
//!     sigmoid, mean over the (single) time step: the speech probability.
//!
//! The audio is zero-padded at the end to a whole number of chunks, as
//! `OnnxWrapper.audio_forward` does, so `ceil(len / 512)` probabilities come
//! out.
//!
//! Weights: `silero_vad_16k.safetensors` as shipped in the same package. Its
//! values differ from those inside the package's ONNX and JIT models (same
//! shapes and architecture, other trained values; only the STFT basis is
//! identical). Checked against onnxruntime running the op15 graph with these
//! weights substituted, on `data/vad/clip.wav`: max abs difference of the
//! per-chunk probabilities 1.7e-6 (4.4e-6 with the ONNX model's own weights).

use std::path::{Path, PathBuf};

use ndarray::Array2;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

/// Sample rate the model runs at.
pub const SAMPLE_RATE: u32 = 16_000;
/// New samples per model call (one probability each).
pub const CHUNK: usize = 512;
/// Samples of the previous chunk prepended to each chunk.
pub const CONTEXT: usize = 64;
/// Hidden size of the LSTM cell.
pub const HIDDEN: usize = 128;

/// The LSTM cell's two weight matrices, 512 x 128 each (rows: the four gates
/// i, f, g, o of 128 units each; columns: the input resp. hidden state).
pub const LSTM_MATRICES: [&str; 2] = ["lstm_cell.weight_ih", "lstm_cell.weight_hh"];

/// The encoder convolutions' weights seen as 2-D matrices: `[out, in, 3]`
/// flattened row-major to `[out, in * 3]` (column `ci * 3 + k`).
pub const CONV_MATRICES: [&str; 4] = [
    "conv1.weight",
    "conv2.weight",
    "conv3.weight",
    "conv4.weight",
];

const N_FFT: usize = 256;
const HOP: usize = 128;
const PAD: usize = 64;
const BINS: usize = N_FFT / 2 + 1;
const GATES: usize = 4 * HIDDEN;

/// Failures of this module. Every message names the file or matrix concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system I/O failure on a file.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The file exists but its content is unusable.
    #[error("{}: {msg}", path.display())]
    Format { path: PathBuf, msg: String },

    /// `with_matrices` was given a name it does not know.
    #[error("unknown matrix '{name}'; replaceable: {}", available.join(", "))]
    UnknownMatrix {
        name: String,
        available: Vec<String>,
    },

    /// `with_matrices` was given a matrix of the wrong shape.
    #[error("matrix '{name}': shape {found:?} given, {expected:?} expected")]
    Shape {
        name: String,
        expected: (usize, usize),
        found: (usize, usize),
    },

    /// `with_matrices` was given a matrix holding NaN or an infinity.
    #[error("matrix '{name}': {value} at (row {row}, col {col}); weights must be finite")]
    NonFinite {
        name: String,
        row: usize,
        col: usize,
        value: f32,
    },
}

fn format_err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Model and clip files: regular files of at most 256 MiB.
fn read(path: &Path) -> Result<Vec<u8>, Error> {
    bbs_compress::input::read_bounded(path, 256 << 20).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

// ------------------------------------------------------------- model ----

/// A 1-D convolution over a `[channels, time]` signal stored channel-major.
#[derive(Debug, Clone)]
struct Conv1d {
    /// `[out, in * k]`, i.e. PyTorch's `[out, in, k]` flattened.
    weight: Array2<f32>,
    bias: Vec<f32>,
    inputs: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
}

impl Conv1d {
    fn out_len(&self, len: usize) -> usize {
        (len + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Convolution followed by ReLU. `x` is `[inputs, len]`.
    fn forward_relu(&self, x: &[f32], len: usize) -> (Vec<f32>, usize) {
        let outs = self.weight.nrows();
        let out_len = self.out_len(len);
        let mut y = vec![0.0f32; outs * out_len];
        for (o, row) in self.weight.rows().into_iter().enumerate() {
            let w = row
                .as_slice()
                .expect("weights are stored in standard layout");
            for t in 0..out_len {
                let mut acc = self.bias[o];
                for ci in 0..self.inputs {
                    let xs = &x[ci * len..(ci + 1) * len];
                    for k in 0..self.kernel {
                        let pos = (t * self.stride + k) as isize - self.padding as isize;
                        if pos >= 0 && (pos as usize) < len {
                            acc += w[ci * self.kernel + k] * xs[pos as usize];
                        }
                    }
                }
                y[o * out_len + t] = acc.max(0.0);
            }
        }
        (y, out_len)
    }
}

/// The silero-vad 16 kHz model: its weights, ready to run.
#[derive(Debug, Clone)]
pub struct SileroVad {
    /// `[258, 256]`: the STFT basis (real parts, then imaginary parts).
    stft: Array2<f32>,
    convs: [Conv1d; 4],
    weight_ih: Array2<f32>,
    weight_hh: Array2<f32>,
    /// `bias_ih + bias_hh`.
    bias: Vec<f32>,
    final_weight: Vec<f32>,
    final_bias: f32,
}

/// Reads one f32 tensor of exactly `shape`, checking that it is finite.
fn tensor(st: &SafeTensors, path: &Path, name: &str, shape: &[usize]) -> Result<Vec<f32>, Error> {
    let view = st
        .tensor(name)
        .map_err(|e| format_err(path, format!("tensor '{name}': {e}")))?;
    if view.dtype() != Dtype::F32 {
        return Err(format_err(
            path,
            format!("tensor '{name}' is {:?}, F32 expected", view.dtype()),
        ));
    }
    if view.shape() != shape {
        return Err(format_err(
            path,
            format!(
                "tensor '{name}' has shape {:?}, {shape:?} expected",
                view.shape()
            ),
        ));
    }
    let values: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(format_err(
            path,
            format!(
                "tensor '{name}' has non-finite value {} at flat index {i}",
                values[i]
            ),
        ));
    }
    Ok(values)
}

fn matrix2(values: Vec<f32>, rows: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_vec((rows, cols), values).expect("length checked against the shape")
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl SileroVad {
    /// Reads `silero_vad_16k.safetensors` (all tensors f32, shapes as in the
    /// silero-vad package).
    pub fn load(path: &Path) -> Result<SileroVad, Error> {
        SileroVad::from_bytes(&read(path)?, path)
    }

    /// [`SileroVad::load`] from the file's bytes (`path` names it in errors),
    /// e.g. the weights built into the program ([`crate::data::SILERO_WEIGHTS`]).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<SileroVad, Error> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| format_err(path, format!("not a safetensors file: {e}")))?;
        let stft = matrix2(
            tensor(&st, path, "stft_conv.weight", &[2 * BINS, 1, N_FFT])?,
            2 * BINS,
            N_FFT,
        );
        // (name, in, out, stride)
        let specs = [
            ("conv1", BINS, 128, 1),
            ("conv2", 128, 64, 2),
            ("conv3", 64, 64, 2),
            ("conv4", 64, HIDDEN, 1),
        ];
        let mut convs = Vec::with_capacity(4);
        for (name, inputs, outs, stride) in specs {
            let w = tensor(&st, path, &format!("{name}.weight"), &[outs, inputs, 3])?;
            let bias = tensor(&st, path, &format!("{name}.bias"), &[outs])?;
            convs.push(Conv1d {
                weight: matrix2(w, outs, inputs * 3),
                bias,
                inputs,
                kernel: 3,
                stride,
                padding: 1,
            });
        }
        let convs: [Conv1d; 4] = convs.try_into().expect("four convolutions");
        let weight_ih = matrix2(
            tensor(&st, path, "lstm_cell.weight_ih", &[GATES, HIDDEN])?,
            GATES,
            HIDDEN,
        );
        let weight_hh = matrix2(
            tensor(&st, path, "lstm_cell.weight_hh", &[GATES, HIDDEN])?,
            GATES,
            HIDDEN,
        );
        let bias_ih = tensor(&st, path, "lstm_cell.bias_ih", &[GATES])?;
        let bias_hh = tensor(&st, path, "lstm_cell.bias_hh", &[GATES])?;
        let bias = bias_ih.iter().zip(&bias_hh).map(|(a, b)| a + b).collect();
        let final_weight = tensor(&st, path, "final_conv.weight", &[1, HIDDEN, 1])?;
        let final_bias = tensor(&st, path, "final_conv.bias", &[1])?[0];
        Ok(SileroVad {
            stft,
            convs,
            weight_ih,
            weight_hh,
            bias,
            final_weight,
            final_bias,
        })
    }

    /// The names `matrix` and `with_matrices` accept: `LSTM_MATRICES` then
    /// `CONV_MATRICES`.
    pub fn matrix_names() -> Vec<&'static str> {
        LSTM_MATRICES
            .iter()
            .chain(&CONV_MATRICES)
            .copied()
            .collect()
    }

    /// A weight matrix by name (see `matrix_names`); conv weights are
    /// `[out, in * 3]`.
    pub fn matrix(&self, name: &str) -> Option<&Array2<f32>> {
        match name {
            "lstm_cell.weight_ih" => Some(&self.weight_ih),
            "lstm_cell.weight_hh" => Some(&self.weight_hh),
            _ => CONV_MATRICES
                .iter()
                .position(|n| *n == name)
                .map(|i| &self.convs[i].weight),
        }
    }

    fn matrix_mut(&mut self, name: &str) -> Option<&mut Array2<f32>> {
        match name {
            "lstm_cell.weight_ih" => Some(&mut self.weight_ih),
            "lstm_cell.weight_hh" => Some(&mut self.weight_hh),
            _ => CONV_MATRICES
                .iter()
                .position(|n| *n == name)
                .map(|i| &mut self.convs[i].weight),
        }
    }

    /// A copy with the named matrices replaced (e.g. by pruned versions).
    /// Each must have the original's shape and be finite; names come from
    /// `matrix_names()`. Later entries win over earlier ones of the same name.
    pub fn with_matrices(&self, replace: &[(String, Array2<f32>)]) -> Result<SileroVad, Error> {
        let mut model = self.clone();
        for (name, m) in replace {
            let slot = model.matrix_mut(name).ok_or_else(|| Error::UnknownMatrix {
                name: name.clone(),
                available: Self::matrix_names().iter().map(|s| s.to_string()).collect(),
            })?;
            if slot.dim() != m.dim() {
                return Err(Error::Shape {
                    name: name.clone(),
                    expected: slot.dim(),
                    found: m.dim(),
                });
            }
            if let Some(((row, col), &value)) = m.indexed_iter().find(|(_, v)| !v.is_finite()) {
                return Err(Error::NonFinite {
                    name: name.clone(),
                    row,
                    col,
                    value,
                });
            }
            *slot = m.as_standard_layout().into_owned();
        }
        Ok(model)
    }

    /// Steps 1 to 8 of one model call: `input` is `CONTEXT + CHUNK`
    /// samples; the LSTM cell's input, 128 values.
    pub fn encode(&self, input: &[f32]) -> Vec<f32> {
        debug_assert_eq!(input.len(), CONTEXT + CHUNK);
        let n = input.len();
        // Reflect padding on the right (the edge sample is not repeated).
        let mut padded = Vec::with_capacity(n + PAD);
        padded.extend_from_slice(input);
        padded.extend((0..PAD).map(|j| input[n - 2 - j]));
        let frames = (padded.len() - N_FFT) / HOP + 1;

        // STFT magnitude, [BINS, frames].
        let mut spec = vec![0.0f32; 2 * BINS * frames];
        for (ch, basis) in self.stft.rows().into_iter().enumerate() {
            let basis = basis.as_slice().expect("standard layout");
            for t in 0..frames {
                spec[ch * frames + t] = dot(basis, &padded[t * HOP..t * HOP + N_FFT]);
            }
        }
        let mut x: Vec<f32> = (0..BINS * frames)
            .map(|i| {
                let (re, im) = (spec[i], spec[BINS * frames + i]);
                (re * re + im * im).sqrt()
            })
            .collect();
        let mut len = frames;
        for conv in &self.convs {
            (x, len) = conv.forward_relu(&x, len);
        }
        debug_assert_eq!(len, 1);
        x
    }

    /// Step 9 in float: the LSTM cell, gate order i, f, g, o; updates `(h, c)`.
    fn lstm(&self, x: &[f32], h: &mut [f32], c: &mut [f32]) {
        let mut gates = self.bias.clone();
        for (r, g) in gates.iter_mut().enumerate() {
            let wi = self.weight_ih.row(r);
            let wh = self.weight_hh.row(r);
            *g += dot(wi.as_slice().expect("standard layout"), x)
                + dot(wh.as_slice().expect("standard layout"), h);
        }
        for u in 0..HIDDEN {
            let i = sigmoid(gates[u]);
            let f = sigmoid(gates[HIDDEN + u]);
            let g = gates[2 * HIDDEN + u].tanh();
            let o = sigmoid(gates[3 * HIDDEN + u]);
            c[u] = f * c[u] + i * g;
            h[u] = o * c[u].tanh();
        }
    }

    /// Step 10: ReLU, `final_conv`, sigmoid: the speech probability of the
    /// LSTM's output `h`.
    pub fn head(&self, h: &[f32]) -> f32 {
        let relu_h: Vec<f32> = h.iter().map(|v| v.max(0.0)).collect();
        sigmoid(dot(&self.final_weight, &relu_h) + self.final_bias)
    }

    /// `bias_ih + bias_hh` of the LSTM cell.
    pub fn lstm_bias(&self) -> &[f32] {
        &self.bias
    }

    /// Speech probability per 512-sample chunk of 16 kHz audio, state carried
    /// across chunks as the real model does. The audio is zero-padded at the
    /// end to a whole number of chunks: `ceil(audio.len() / 512)` values.
    pub fn probabilities(&self, audio: &[f32]) -> Vec<f32> {
        let mut h = vec![0.0f32; HIDDEN];
        let mut c = vec![0.0f32; HIDDEN];
        self.probabilities_with(audio, |x| {
            self.lstm(x, &mut h, &mut c);
            h.clone()
        })
    }

    /// [`SileroVad::probabilities`] with the LSTM cell given: `lstm` takes
    /// each chunk's encoded input (128 values) in order, keeps its own
    /// state, and returns the cell's output `h` (e.g. the accelerator's).
    pub fn probabilities_with(
        &self,
        audio: &[f32],
        mut lstm: impl FnMut(&[f32]) -> Vec<f32>,
    ) -> Vec<f32> {
        let chunks = audio.len().div_ceil(CHUNK);
        let mut padded = vec![0.0f32; CONTEXT + chunks * CHUNK];
        padded[CONTEXT..CONTEXT + audio.len()].copy_from_slice(audio);
        (0..chunks)
            .map(|k| {
                let start = k * CHUNK;
                let x = self.encode(&padded[start..start + CONTEXT + CHUNK]);
                self.head(&lstm(&x))
            })
            .collect()
    }
}

// -------------------------------------------------------------- clip ----

/// A labelled 16 kHz clip: samples in [-1, 1) and one label per 512-sample
/// frame (the same frames `SileroVad::probabilities` scores).
#[derive(Debug, Clone)]
pub struct Clip {
    pub audio: Vec<f32>,
    pub frame_labels: Vec<bool>,
}

#[derive(Deserialize)]
struct Labels {
    sample_rate: u32,
    samples: Option<usize>,
    segments: Vec<[usize; 2]>,
}

/// Per-frame labels from speech segments (`[start, end)` sample ranges):
/// frame `k` covers samples `512k .. 512k + 512` (the last frame is padded
/// with non-speech) and is speech iff more than half (> 256) of its samples
/// are speech. Overlapping segments count a sample once.
pub fn frame_labels(segments: &[[usize; 2]], samples: usize) -> Vec<bool> {
    let mut speech = vec![false; samples];
    for &[start, end] in segments {
        for s in &mut speech[start.min(samples)..end.min(samples)] {
            *s = true;
        }
    }
    speech
        .chunks(CHUNK)
        .map(|f| f.iter().filter(|&&s| s).count() * 2 > CHUNK)
        .collect()
}

/// Reads a 16 kHz mono 16-bit PCM WAV file.
pub fn read_wav(path: &Path) -> Result<Vec<f32>, Error> {
    wav_from_bytes(&read(path)?, path)
}

/// [`read_wav`] from the file's bytes (`path` names it in errors).
pub fn wav_from_bytes(bytes: &[u8], path: &Path) -> Result<Vec<f32>, Error> {
    let bad = |msg: &str| format_err(path, msg.to_string());
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE file"));
    }
    let u16_at = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut pos = 12;
    let mut format_seen = false;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(bytes, pos + 4) as usize;
        let body = pos + 8;
        let end = body
            .checked_add(size)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| bad("truncated chunk"))?;
        match id {
            b"fmt " => {
                if size < 16 {
                    return Err(bad("fmt chunk shorter than 16 bytes"));
                }
                let (tag, channels) = (u16_at(bytes, body), u16_at(bytes, body + 2));
                let (rate, bits) = (u32_at(bytes, body + 4), u16_at(bytes, body + 14));
                if tag != 1 || channels != 1 || rate != SAMPLE_RATE || bits != 16 {
                    return Err(format_err(
                        path,
                        format!(
                            "format tag {tag}, {channels} channel(s), {rate} Hz, {bits}-bit; \
                             16 kHz mono 16-bit PCM expected"
                        ),
                    ));
                }
                format_seen = true;
            }
            b"data" => {
                if !format_seen {
                    return Err(bad("data chunk before fmt chunk"));
                }
                if size & 1 == 1 {
                    return Err(bad("data chunk has an odd number of bytes"));
                }
                return Ok(bytes[body..end]
                    .chunks_exact(2)
                    .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
                    .collect());
            }
            _ => {}
        }
        pos = end + (size & 1);
    }
    Err(bad("no data chunk"))
}

/// Loads `clip.wav` and `labels.json` from `dir` (normally `data/vad`).
///
/// `labels.json` holds `sample_rate` (16000), optionally `samples` (the WAV's
/// length, checked) and `segments`: `[start, end)` sample ranges of speech.
/// Frame labels follow `frame_labels`.
pub fn load_clip(dir: &Path) -> Result<Clip, Error> {
    let wav_path = dir.join("clip.wav");
    let audio = read_wav(&wav_path)?;
    let labels_path = dir.join("labels.json");
    clip_from_bytes(audio, &read(&labels_path)?, &labels_path)
}

/// [`load_clip`] from the decoded clip and the bytes of `labels.json`
/// (`labels_path` names it in errors).
pub fn clip_from_bytes(audio: Vec<f32>, labels: &[u8], labels_path: &Path) -> Result<Clip, Error> {
    let labels: Labels =
        serde_json::from_slice(labels).map_err(|e| format_err(labels_path, e.to_string()))?;
    if labels.sample_rate != SAMPLE_RATE {
        return Err(format_err(
            labels_path,
            format!(
                "sample_rate {} (expected {SAMPLE_RATE})",
                labels.sample_rate
            ),
        ));
    }
    if let Some(n) = labels.samples.filter(|&n| n != audio.len()) {
        return Err(format_err(
            labels_path,
            format!("samples {n}, but clip.wav has {}", audio.len()),
        ));
    }
    if let Some([s, e]) = labels
        .segments
        .iter()
        .find(|[s, e]| s >= e || *e > audio.len())
    {
        return Err(format_err(
            labels_path,
            format!(
                "segment [{s}, {e}] is empty or beyond the clip's {} samples",
                audio.len()
            ),
        ));
    }
    let frame_labels = frame_labels(&labels.segments, audio.len());
    Ok(Clip {
        audio,
        frame_labels,
    })
}

// ----------------------------------------------------------- scoring ----

/// Frame-level detection quality of a model on a clip.
#[derive(Debug, Clone, Serialize)]
pub struct VadScore {
    /// Frames scored (512 samples each).
    pub frames: usize,
    /// Fraction of frames whose decision matches the label.
    pub accuracy: f64,
    /// Fraction of speech frames detected as speech (0 if there are none).
    pub speech_recall: f64,
    /// Fraction of non-speech frames detected as speech (0 if there are none).
    pub false_alarm_rate: f64,
}

/// Scores `model` on `clip`: a frame is detected as speech iff its
/// probability is >= `threshold` (0.5 is the usual).
pub fn evaluate(model: &SileroVad, clip: &Clip, threshold: f32) -> VadScore {
    score(&model.probabilities(&clip.audio), clip, threshold)
}

/// [`evaluate`]'s score of given per-frame probabilities.
pub fn score(probs: &[f32], clip: &Clip, threshold: f32) -> VadScore {
    let (mut tp, mut fp, mut speech, mut correct) = (0usize, 0usize, 0usize, 0usize);
    let frames = probs.len().min(clip.frame_labels.len());
    for (&p, &label) in probs.iter().zip(&clip.frame_labels) {
        let detected = p >= threshold;
        correct += usize::from(detected == label);
        speech += usize::from(label);
        tp += usize::from(detected && label);
        fp += usize::from(detected && !label);
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    VadScore {
        frames,
        accuracy: ratio(correct, frames),
        speech_recall: ratio(tp, speech),
        false_alarm_rate: ratio(fp, frames - speech),
    }
}
