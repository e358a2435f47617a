//! The g2p-en (2.1.0) grapheme-to-phoneme GRU, re-implemented in Rust, and
//! its accuracy on CMUdict.
//!
//! The model is a one-layer GRU encoder over the letters of a word followed
//! by a one-layer GRU decoder that greedily emits ARPAbet phonemes (with
//! stress digits), exactly as `G2p.predict` in `g2p_en/g2p.py`:
//!
//! * encoder input: the characters of the word then `</s>`, each embedded
//!   with `enc_emb` (characters outside a-z become `<unk>`); `h0 = 0`;
//! * decoder: input `dec_emb[<s>]`, initial state the last encoder state; at
//!   most 20 steps of `h = gru(x, h)`, `logits = fc_w h + fc_b`,
//!   `pred = argmax` (first maximum), stop on `</s>`, else emit `pred` and
//!   feed `dec_emb[pred]`.
//!
//! The GRU cell uses PyTorch's layout: the rows of `w_ih`/`w_hh` are the
//! `r`, `z`, `n` gates in that order, and
//! `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`, `h' = (1 - z) n + z h`.
//!
//! The four recurrent matrices ([`GRU_MATRICES`]) and `fc_w` can be swapped
//! for pruned versions with [`G2p::with_matrices`]; [`evaluate`] then gives
//! the word accuracy and phoneme error rate on a CMUdict [`sample`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};
use rayon::prelude::*;
use serde::Serialize;

/// The recurrent weight matrices of the model, the ones worth pruning.
pub const GRU_MATRICES: [&str; 4] = ["enc_w_ih", "enc_w_hh", "dec_w_ih", "dec_w_hh"];

/// Every matrix [`G2p::matrix`] and [`G2p::with_matrices`] accept.
const SWAPPABLE: [&str; 5] = ["enc_w_ih", "enc_w_hh", "dec_w_ih", "dec_w_hh", "fc_w"];

/// Encoder vocabulary, as in g2p.py.
pub const GRAPHEMES: [&str; 29] = [
    "<pad>", "<unk>", "</s>", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
    "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",
];

/// Decoder vocabulary, as in g2p.py (note the unstressed `UW` it lists).
pub const PHONEMES: [&str; 74] = [
    "<pad>", "<unk>", "<s>", "</s>", "AA0", "AA1", "AA2", "AE0", "AE1", "AE2", "AH0", "AH1", "AH2",
    "AO0", "AO1", "AO2", "AW0", "AW1", "AW2", "AY0", "AY1", "AY2", "B", "CH", "D", "DH", "EH0",
    "EH1", "EH2", "ER0", "ER1", "ER2", "EY0", "EY1", "EY2", "F", "G", "HH", "IH0", "IH1", "IH2",
    "IY0", "IY1", "IY2", "JH", "K", "L", "M", "N", "NG", "OW0", "OW1", "OW2", "OY0", "OY1", "OY2",
    "P", "R", "S", "SH", "T", "TH", "UH0", "UH1", "UH2", "UW", "UW0", "UW1", "UW2", "V", "W", "Y",
    "Z", "ZH",
];

const UNK_GRAPHEME: usize = 1;
const END_GRAPHEME: usize = 2;
const START_PHONEME: usize = 2;
const END_PHONEME: usize = 3;
/// The decoder stops after this many steps even without `</s>` (as g2p.py).
const MAX_DECODE_STEPS: usize = 20;
/// First index of the real phonemes in [`PHONEMES`] (after the 4 specials).
const FIRST_REAL_PHONEME: usize = 4;

/// Failures of this module. Messages name the file (and tensor or line).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A weight matrix could not be read (the message names file and tensor).
    #[error(transparent)]
    Weights(#[from] bbs_compress::Error),

    /// The checkpoint is readable but unusable (missing 1-D tensor, bad shape...).
    #[error("{}: {msg}", path.display())]
    Checkpoint { path: PathBuf, msg: String },

    /// An I/O failure on a file.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A CMUdict line that is not `word PH1 PH2 ...`.
    #[error("{}: line {line}: {msg}", path.display())]
    Cmudict {
        path: PathBuf,
        line: usize,
        msg: String,
    },

    /// A replacement matrix passed to [`G2p::with_matrices`] is unusable.
    #[error("replacement matrix '{name}': {msg}")]
    Matrix { name: String, msg: String },
}

/// The g2p-en model: all its arrays, plus input projections precomputed from them.
#[derive(Clone, Debug)]
pub struct G2p {
    enc_emb: Array2<f32>,
    enc_w_ih: Array2<f32>,
    enc_w_hh: Array2<f32>,
    enc_b_ih: Array1<f32>,
    enc_b_hh: Array1<f32>,
    dec_emb: Array2<f32>,
    dec_w_ih: Array2<f32>,
    dec_w_hh: Array2<f32>,
    dec_b_ih: Array1<f32>,
    dec_b_hh: Array1<f32>,
    fc_w: Array2<f32>,
    fc_b: Array1<f32>,
    /// `enc_w_ih · enc_emb[c] + enc_b_ih` for every grapheme `c` (rows).
    enc_in: Array2<f32>,
    /// `dec_w_ih · dec_emb[p] + dec_b_ih` for every phoneme `p` (rows).
    dec_in: Array2<f32>,
    /// `enc_w_hh`, `dec_w_hh` and `fc_w` transposed, as [`matmul`] wants them.
    enc_w_hh_t: Array2<f32>,
    dec_w_hh_t: Array2<f32>,
    fc_w_t: Array2<f32>,
}

impl G2p {
    /// Reads the g2p-en `checkpoint20.npz` (all twelve arrays, f32) and checks
    /// that their shapes fit together.
    pub fn load(npz: &Path) -> Result<G2p, Error> {
        let m = |name: &str| bbs_compress::read_matrix(npz, Some(name));
        let enc_emb = m("enc_emb")?;
        let enc_w_ih = m("enc_w_ih")?;
        let enc_w_hh = m("enc_w_hh")?;
        let dec_emb = m("dec_emb")?;
        let dec_w_ih = m("dec_w_ih")?;
        let dec_w_hh = m("dec_w_hh")?;
        let fc_w = m("fc_w")?;

        // The biases through the same bounded npz reader as the matrices.
        let v = |name: &str| -> Result<Array1<f32>, Error> {
            match bbs_compress::read_npz_vector(npz, name)? {
                bbs_compress::Vector::Float(a) => Ok(a),
                bbs_compress::Vector::Fixed(_) => Err(checkpoint(
                    npz,
                    format!("tensor '{name}' holds integers, expected floats"),
                )),
            }
        };
        let enc_b_ih = v("enc_b_ih")?;
        let enc_b_hh = v("enc_b_hh")?;
        let dec_b_ih = v("dec_b_ih")?;
        let dec_b_hh = v("dec_b_hh")?;
        let fc_b = v("fc_b")?;

        let hidden = enc_w_hh.ncols();
        let gates = 3 * hidden;
        let emb = enc_emb.ncols();
        let demb = dec_emb.ncols();
        let want2: [(&str, &Array2<f32>, [usize; 2]); 7] = [
            ("enc_emb", &enc_emb, [GRAPHEMES.len(), emb]),
            ("enc_w_ih", &enc_w_ih, [gates, emb]),
            ("enc_w_hh", &enc_w_hh, [gates, hidden]),
            ("dec_emb", &dec_emb, [PHONEMES.len(), demb]),
            ("dec_w_ih", &dec_w_ih, [gates, demb]),
            ("dec_w_hh", &dec_w_hh, [gates, hidden]),
            ("fc_w", &fc_w, [PHONEMES.len(), hidden]),
        ];
        for (name, a, shape) in want2 {
            if a.shape() != shape {
                return Err(checkpoint(
                    npz,
                    format!(
                        "tensor '{name}' has shape {:?}, expected {shape:?}",
                        a.shape()
                    ),
                ));
            }
        }
        let want1: [(&str, &Array1<f32>, usize); 5] = [
            ("enc_b_ih", &enc_b_ih, gates),
            ("enc_b_hh", &enc_b_hh, gates),
            ("dec_b_ih", &dec_b_ih, gates),
            ("dec_b_hh", &dec_b_hh, gates),
            ("fc_b", &fc_b, PHONEMES.len()),
        ];
        for (name, a, len) in want1 {
            if a.len() != len {
                return Err(checkpoint(
                    npz,
                    format!("tensor '{name}' has shape [{}], expected [{len}]", a.len()),
                ));
            }
        }

        let mut model = G2p {
            enc_emb,
            enc_w_ih,
            enc_w_hh,
            enc_b_ih,
            enc_b_hh,
            dec_emb,
            dec_w_ih,
            dec_w_hh,
            dec_b_ih,
            dec_b_hh,
            fc_w,
            fc_b,
            enc_in: Array2::zeros((0, 0)),
            dec_in: Array2::zeros((0, 0)),
            enc_w_hh_t: Array2::zeros((0, 0)),
            dec_w_hh_t: Array2::zeros((0, 0)),
            fc_w_t: Array2::zeros((0, 0)),
        };
        model.precompute();
        Ok(model)
    }

    /// A copy with some matrices replaced -- how pruned weights are swapped
    /// in. Names are those of [`GRU_MATRICES`] and `fc_w`; each replacement
    /// must have the original's shape and finite values; a name may appear once.
    pub fn with_matrices(&self, replace: &[(String, Array2<f32>)]) -> Result<G2p, Error> {
        let mut out = self.clone();
        let mut seen = HashSet::new();
        for (name, w) in replace {
            let err = |msg: String| Error::Matrix {
                name: name.clone(),
                msg,
            };
            if !seen.insert(name.as_str()) {
                return Err(err("given more than once".to_string()));
            }
            let slot = out.matrix_mut(name).ok_or_else(|| {
                err(format!(
                    "not a matrix of the g2p model; expected one of {}",
                    SWAPPABLE.join(", ")
                ))
            })?;
            if slot.shape() != w.shape() {
                return Err(err(format!(
                    "has shape {:?}, expected {:?}",
                    w.shape(),
                    slot.shape()
                )));
            }
            if let Some(((row, col), x)) = w.indexed_iter().find(|(_, x)| !x.is_finite()) {
                return Err(err(format!(
                    "has non-finite value {x} at (row {row}, col {col})"
                )));
            }
            *slot = w.as_standard_layout().into_owned();
        }
        out.precompute();
        Ok(out)
    }

    /// One of the four [`GRU_MATRICES`] or `fc_w`; `None` for any other name.
    pub fn matrix(&self, name: &str) -> Option<&Array2<f32>> {
        match name {
            "enc_w_ih" => Some(&self.enc_w_ih),
            "enc_w_hh" => Some(&self.enc_w_hh),
            "dec_w_ih" => Some(&self.dec_w_ih),
            "dec_w_hh" => Some(&self.dec_w_hh),
            "fc_w" => Some(&self.fc_w),
            _ => None,
        }
    }

    fn matrix_mut(&mut self, name: &str) -> Option<&mut Array2<f32>> {
        match name {
            "enc_w_ih" => Some(&mut self.enc_w_ih),
            "enc_w_hh" => Some(&mut self.enc_w_hh),
            "dec_w_ih" => Some(&mut self.dec_w_ih),
            "dec_w_hh" => Some(&mut self.dec_w_hh),
            "fc_w" => Some(&mut self.fc_w),
            _ => None,
        }
    }

    /// Derived arrays: the input projections depend only on the token, so
    /// they are computed once per vocabulary entry instead of once per time
    /// step; the recurrent and output matrices are kept transposed too.
    fn precompute(&mut self) {
        self.enc_in = project(&self.enc_emb, &self.enc_w_ih, &self.enc_b_ih);
        self.dec_in = project(&self.dec_emb, &self.dec_w_ih, &self.dec_b_ih);
        self.enc_w_hh_t = transposed(&self.enc_w_hh);
        self.dec_w_hh_t = transposed(&self.dec_w_hh);
        self.fc_w_t = transposed(&self.fc_w);
    }

    /// The phonemes g2p-en's neural model predicts for `word`, which should be
    /// lowercase a-z (any other character is encoded as `<unk>`). The output
    /// can hold `<pad>`, `<unk>` or `<s>` if the model emits them, as g2p.py's does.
    pub fn predict(&self, word: &str) -> Vec<String> {
        self.predict_batch(&[word])
            .into_iter()
            .flatten()
            .map(|p| PHONEMES[p].to_string())
            .collect()
    }

    /// [`G2p::predict`] for several words at once, as indices into [`PHONEMES`].
    ///
    /// The words run in lockstep so that each weight row is loaded once per
    /// [`ROW_BLOCK`] words (see [`matmul`]). Every word's arithmetic is
    /// the same as if it ran alone, so the result does not depend on the batch.
    fn predict_batch(&self, words: &[&str]) -> Vec<Vec<usize>> {
        let hs = self.enc_w_hh.ncols();
        let gs = 3 * hs;
        let tokens: Vec<Vec<usize>> = words
            .iter()
            .map(|w| {
                w.chars()
                    .map(grapheme_id)
                    .chain(std::iter::once(END_GRAPHEME))
                    .collect()
            })
            .collect();
        // Longest first: the words still being encoded at step t are a prefix.
        let mut order: Vec<usize> = (0..words.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(tokens[i].len()));

        let mut h = vec![0.0f32; words.len() * hs];
        let mut hh = vec![0.0f32; words.len() * gs];
        let steps = order.first().map_or(0, |&i| tokens[i].len());
        for t in 0..steps {
            let active = order.partition_point(|&i| tokens[i].len() > t);
            let (h_act, hh_act) = (&mut h[..active * hs], &mut hh[..active * gs]);
            matmul(h_act, &self.enc_w_hh_t, &self.enc_b_hh, hh_act);
            for (r, &i) in order[..active].iter().enumerate() {
                let x = self.enc_in.row(tokens[i][t]);
                gru_update(
                    x.as_slice().unwrap_or(&[]),
                    &hh_act[r * gs..(r + 1) * gs],
                    &mut h_act[r * hs..(r + 1) * hs],
                );
            }
        }

        // Decoder: `rows[r]` is the word whose state is row r of `h`; words
        // leave (and the rows are compacted) when they emit `</s>`.
        let nph = self.fc_b.len();
        let mut rows = order;
        let mut input = vec![START_PHONEME; rows.len()];
        let mut logits = vec![0.0f32; rows.len() * nph];
        let mut out = vec![Vec::new(); words.len()];
        for _ in 0..MAX_DECODE_STEPS {
            let n = rows.len();
            if n == 0 {
                break;
            }
            let (h_act, hh_act) = (&mut h[..n * hs], &mut hh[..n * gs]);
            matmul(h_act, &self.dec_w_hh_t, &self.dec_b_hh, hh_act);
            for r in 0..n {
                let x = self.dec_in.row(input[r]);
                gru_update(
                    x.as_slice().unwrap_or(&[]),
                    &hh_act[r * gs..(r + 1) * gs],
                    &mut h_act[r * hs..(r + 1) * hs],
                );
            }
            matmul(h_act, &self.fc_w_t, &self.fc_b, &mut logits[..n * nph]);
            let mut kept = 0;
            for r in 0..n {
                let pred = argmax(&logits[r * nph..(r + 1) * nph]);
                if pred == END_PHONEME {
                    continue;
                }
                out[rows[r]].push(pred);
                rows[kept] = rows[r];
                input[kept] = pred;
                h.copy_within(r * hs..(r + 1) * hs, kept * hs);
                kept += 1;
            }
            rows.truncate(kept);
        }
        out
    }
}

fn checkpoint(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        msg: msg.to_string(),
    }
}

fn grapheme_id(c: char) -> usize {
    if c.is_ascii_lowercase() {
        c as usize - 'a' as usize + 3
    } else {
        UNK_GRAPHEME
    }
}

/// Row `t` of the result is `w · emb[t] + b`.
fn project(emb: &Array2<f32>, w: &Array2<f32>, b: &Array1<f32>) -> Array2<f32> {
    let emb = emb.as_standard_layout();
    let mut out = Array2::<f32>::zeros((emb.nrows(), w.nrows()));
    if let (Some(e), Some(o)) = (emb.as_slice(), out.as_slice_mut()) {
        matmul(e, &transposed(w), b, o);
    }
    out
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The GRU state update given `x_proj = W_ih x + b_ih` and `hh = W_hh h + b_hh`
/// (each `[r | z | n]`, 3 × hidden long); overwrites `h` with the new state.
fn gru_update(x_proj: &[f32], hh: &[f32], h: &mut [f32]) {
    let n = h.len();
    let (xr, xz, xn) = (&x_proj[..n], &x_proj[n..2 * n], &x_proj[2 * n..3 * n]);
    let (hr, hz, hn) = (&hh[..n], &hh[n..2 * n], &hh[2 * n..3 * n]);
    for j in 0..n {
        let r = sigmoid(xr[j] + hr[j]);
        let z = sigmoid(xz[j] + hz[j]);
        let cand = (xn[j] + r * hn[j]).tanh();
        h[j] = (1.0 - z) * cand + z * h[j];
    }
}

/// Rows of `a` handled together by [`matmul`], sharing each load of a weight.
const ROW_BLOCK: usize = 4;
/// Output columns per register tile of [`matmul_rows`].
const LANES: usize = 8;

/// `out[i, j] = sum_k a[i, k] wt[k, j] + bias[j]`: `a` (`m × k`) and `out`
/// (`m × n`) are row-major slices, `wt` is the `k × n` transposed weight.
///
/// Each output element is summed over `k` in order, whatever the blocking,
/// so a word's result does not depend on the batch it runs in.
fn matmul(a: &[f32], wt: &Array2<f32>, bias: &Array1<f32>, out: &mut [f32]) {
    let (k, n) = wt.dim();
    let wt = wt.as_standard_layout();
    let wt = wt.as_slice().unwrap_or(&[]);
    let mut a_blocks = a.chunks_exact(ROW_BLOCK * k);
    let mut o_blocks = out.chunks_exact_mut(ROW_BLOCK * n);
    for (ab, ob) in (&mut a_blocks).zip(&mut o_blocks) {
        let rows: [&[f32]; ROW_BLOCK] = std::array::from_fn(|r| &ab[r * k..(r + 1) * k]);
        matmul_rows(&rows, wt, ob);
    }
    for (ar, or) in a_blocks
        .remainder()
        .chunks_exact(k)
        .zip(o_blocks.into_remainder().chunks_exact_mut(n))
    {
        matmul_rows(&[ar], wt, or);
    }
    if let Some(b) = bias.as_slice() {
        for row in out.chunks_exact_mut(n) {
            for (o, b) in row.iter_mut().zip(b) {
                *o += b;
            }
        }
    }
}

/// `R` rows of [`matmul`] (without the bias) into `out` (`R × n`, row-major),
/// in register tiles of `R × LANES` outputs.
///
/// Not inlined: inlined into [`matmul`], LLVM stopped vectorizing the tile.
#[inline(never)]
fn matmul_rows<const R: usize>(rows: &[&[f32]; R], wt: &[f32], out: &mut [f32]) {
    let k = rows[0].len();
    let n = out.len() / R;
    let mut j = 0;
    while j + LANES <= n {
        let mut acc = [[0.0f32; LANES]; R];
        for (kk, wrow) in wt.chunks_exact(n).take(k).enumerate() {
            let Ok(w) = <&[f32; LANES]>::try_from(&wrow[j..j + LANES]) else {
                break;
            };
            for r in 0..R {
                axpy(&mut acc[r], rows[r][kk], w);
            }
        }
        for r in 0..R {
            out[r * n + j..r * n + j + LANES].copy_from_slice(&acc[r]);
        }
        j += LANES;
    }
    for j in j..n {
        for r in 0..R {
            let mut s = 0.0f32;
            for (kk, wrow) in wt.chunks_exact(n).take(k).enumerate() {
                s += rows[r][kk] * wrow[j];
            }
            out[r * n + j] = s;
        }
    }
}

/// `acc += x * w`, lane by lane (a shape the compiler turns into SIMD).
#[inline(always)]
fn axpy(acc: &mut [f32; LANES], x: f32, w: &[f32; LANES]) {
    for (a, w) in acc.iter_mut().zip(w) {
        *a += x * w;
    }
}

/// A standard-layout transpose, the layout [`matmul`] wants.
fn transposed(w: &Array2<f32>) -> Array2<f32> {
    w.t().as_standard_layout().into_owned()
}

/// Index of the first maximum, like `numpy.argmax` (a NaN counts as the maximum).
fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x.is_nan() {
            return i;
        }
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// One CMUdict word with its first pronunciation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub word: String,
    pub phonemes: Vec<String>,
}

/// Reads a CMUdict `.dict` file: lines `word PH1 PH2 ...`, alternates as
/// `word(2) ...` (dropped: only the first pronunciation of each word is kept),
/// `#` starting a comment (whole-line or trailing), `;;;` comment lines, blank
/// lines. A line with a word but no phonemes, or a phoneme outside the model's
/// 70 ARPAbet symbols, is an error naming the file and line. Entries keep the
/// file's order.
pub fn load_cmudict(path: &Path) -> Result<Vec<Entry>, Error> {
    // CMUdict 1.1.3 is 3.6 MB; 64 MiB leaves room for any dictionary.
    let text = bbs_compress::input::read_bounded(path, 64 << 20)
        .and_then(|b| {
            String::from_utf8(b)
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
        })
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let known: HashSet<&str> = PHONEMES[FIRST_REAL_PHONEME..].iter().copied().collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with(";;;") {
            continue;
        }
        let err = |msg: String| Error::Cmudict {
            path: path.to_path_buf(),
            line: i + 1,
            msg,
        };
        let mut tokens = line.split_whitespace();
        let head = tokens.next().unwrap_or("");
        let phonemes: Vec<String> = tokens.map(str::to_string).collect();
        if phonemes.is_empty() {
            return Err(err(format!(
                "'{head}' has no phonemes (expected 'word PH1 PH2 ...')"
            )));
        }
        if let Some(p) = phonemes.iter().find(|p| !known.contains(p.as_str())) {
            return Err(err(format!("'{head}' has unknown phoneme '{p}'")));
        }
        let word = base_word(head);
        if seen.insert(word.to_string()) {
            out.push(Entry {
                word: word.to_string(),
                phonemes,
            });
        }
    }
    Ok(out)
}

/// `word(2)` -> `word`; anything else unchanged.
fn base_word(head: &str) -> &str {
    if let Some(stem) = head.strip_suffix(')') {
        if let Some((word, n)) = stem.rsplit_once('(') {
            if !word.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
                return word;
            }
        }
    }
    head
}

/// A fixed, deterministic sample of `n` words for evaluation.
///
/// Rule: keep the entries whose word is 2 to 20 letters, all in a-z (no
/// apostrophes, digits, dots or other characters); sort them by word (byte
/// order), dropping repeated words; with `m` words left, take the words at
/// indices `floor(i * m / n)` for `i = 0..n` -- an even stride through the
/// alphabet. If `n >= m` the whole filtered list is returned.
pub fn sample(entries: &[Entry], n: usize) -> Vec<Entry> {
    let mut pool: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            (2..=20).contains(&e.word.len()) && e.word.bytes().all(|b| b.is_ascii_lowercase())
        })
        .collect();
    pool.sort_by(|a, b| a.word.cmp(&b.word));
    pool.dedup_by(|a, b| a.word == b.word);
    let m = pool.len();
    if n >= m {
        return pool.into_iter().cloned().collect();
    }
    (0..n).map(|i| pool[i * m / n].clone()).collect()
}

/// Accuracy of a model on a sample of CMUdict.
#[derive(Serialize, Debug, Clone)]
pub struct G2pScore {
    /// Words evaluated.
    pub words: usize,
    /// Fraction of words whose predicted phoneme sequence (with stress
    /// digits) equals the reference exactly.
    pub word_accuracy: f64,
    /// Total Levenshtein distance between predicted and reference phoneme
    /// sequences over the total number of reference phonemes.
    pub phoneme_error_rate: f64,
}

/// Word accuracy and phoneme error rate of `model` on `sample` (see
/// [`G2pScore`]). An empty sample scores 0 words with both rates 0.
pub fn evaluate(model: &G2p, sample: &[Entry]) -> G2pScore {
    // Words are independent: score chunks of them on rayon's pool. The
    // tallies are integers and a word's prediction does not depend on its
    // chunk, so the result does not depend on the scheduling.
    let (correct, edits, reference) = sample
        .par_chunks(EVAL_CHUNK)
        .map(|chunk| {
            let words: Vec<&str> = chunk.iter().map(|e| e.word.as_str()).collect();
            let preds = model.predict_batch(&words);
            chunk
                .iter()
                .zip(preds)
                .map(|(e, pred)| tally(&pred, e))
                .fold((0, 0, 0), add)
        })
        .reduce(|| (0, 0, 0), add);
    score(sample.len(), correct, edits, reference)
}

/// (exact, edits, reference phonemes) of one prediction.
fn tally(pred: &[usize], e: &Entry) -> (usize, usize, usize) {
    let truth: Vec<usize> = e
        .phonemes
        .iter()
        .map(|p| PHONEMES.iter().position(|q| q == p).unwrap_or(usize::MAX))
        .collect();
    (
        usize::from(pred == truth),
        levenshtein(pred, &truth),
        truth.len(),
    )
}

fn add(a: (usize, usize, usize), b: (usize, usize, usize)) -> (usize, usize, usize) {
    (a.0 + b.0, a.1 + b.1, a.2 + b.2)
}

fn score(words: usize, correct: usize, edits: usize, reference: usize) -> G2pScore {
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    G2pScore {
        words,
        word_accuracy: ratio(correct, words),
        phoneme_error_rate: ratio(edits, reference),
    }
}

/// Words per batch in [`evaluate`]: enough to share weight loads, small
/// enough to spread over the threads.
const EVAL_CHUNK: usize = 64;

/// A GRU that [`G2p::predict_with`] steps instead of its own float cell:
/// the simulated accelerator, for instance.
pub trait GruCell {
    /// Start a sequence from state `h0`.
    fn start(&mut self, h0: &[f32]);
    /// One step on the input `x` (an embedding row): the new state.
    fn step(&mut self, x: &[f32]) -> Vec<f32>;
}

/// The encoder's or the decoder's float weights, for a [`GruCell`] to run.
pub struct GruWeights<'a> {
    pub w_ih: &'a Array2<f32>,
    pub w_hh: &'a Array2<f32>,
    pub b_ih: &'a Array1<f32>,
    pub b_hh: &'a Array1<f32>,
}

impl G2p {
    /// The encoder GRU's weights (input: a grapheme embedding).
    pub fn encoder(&self) -> GruWeights<'_> {
        GruWeights {
            w_ih: &self.enc_w_ih,
            w_hh: &self.enc_w_hh,
            b_ih: &self.enc_b_ih,
            b_hh: &self.enc_b_hh,
        }
    }

    /// The decoder GRU's weights (input: a phoneme embedding).
    pub fn decoder(&self) -> GruWeights<'_> {
        GruWeights {
            w_ih: &self.dec_w_ih,
            w_hh: &self.dec_w_hh,
            b_ih: &self.dec_b_ih,
            b_hh: &self.dec_b_hh,
        }
    }

    /// [`G2p::predict`] (as indices into [`PHONEMES`]) with the two GRUs
    /// given: the encoder runs over the word's graphemes from a zero state,
    /// the decoder from the encoder's last state; the embeddings, the
    /// output layer and the greedy choice stay here, in float.
    pub fn predict_with(
        &self,
        word: &str,
        enc: &mut impl GruCell,
        dec: &mut impl GruCell,
    ) -> Vec<usize> {
        let hs = self.enc_w_hh.ncols();
        enc.start(&vec![0.0; hs]);
        let mut h = vec![0.0f32; hs];
        for t in word
            .chars()
            .map(grapheme_id)
            .chain(std::iter::once(END_GRAPHEME))
        {
            h = enc.step(self.enc_emb.row(t).as_slice().unwrap_or(&[]));
        }
        dec.start(&h);
        let mut input = START_PHONEME;
        let mut out = Vec::new();
        for _ in 0..MAX_DECODE_STEPS {
            h = dec.step(self.dec_emb.row(input).as_slice().unwrap_or(&[]));
            let logits: Vec<f32> = self
                .fc_w
                .rows()
                .into_iter()
                .zip(&self.fc_b)
                .map(|(w, b)| w.iter().zip(&h).map(|(a, x)| a * x).sum::<f32>() + b)
                .collect();
            let pred = argmax(&logits);
            if pred == END_PHONEME {
                break;
            }
            out.push(pred);
            input = pred;
        }
        out
    }
}

/// [`evaluate`] with the GRUs given ([`G2p::predict_with`]): `cells` makes
/// an (encoder, decoder) pair for each chunk of words, which run in
/// parallel.
pub fn evaluate_with<E: GruCell, D: GruCell>(
    model: &G2p,
    sample: &[Entry],
    cells: impl Fn() -> (E, D) + Sync,
) -> G2pScore {
    let (correct, edits, reference) = sample
        .par_chunks(EVAL_CHUNK)
        .map(|chunk| {
            let (mut enc, mut dec) = cells();
            chunk
                .iter()
                .map(|e| tally(&model.predict_with(&e.word, &mut enc, &mut dec), e))
                .fold((0, 0, 0), add)
        })
        .reduce(|| (0, 0, 0), add);
    score(sample.len(), correct, edits, reference)
}

/// Edit distance (insertions, deletions, substitutions all cost 1).
fn levenshtein<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(x != y);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein(&[1, 2, 3], &[1, 2, 3]), 0);
        assert_eq!(levenshtein(&[1, 2, 3], &[1, 3]), 1);
        assert_eq!(levenshtein::<u8>(&[], &[1, 2]), 2);
        assert_eq!(levenshtein(&[1, 2, 3], &[4, 2, 5, 3]), 2);
    }

    #[test]
    fn argmax_takes_first_maximum() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[1.0, f32::NAN, 5.0]), 1);
    }

    #[test]
    fn base_word_strips_only_numbered_alternates() {
        assert_eq!(base_word("read(2)"), "read");
        assert_eq!(base_word("read"), "read");
        assert_eq!(base_word("(x)"), "(x)");
        assert_eq!(base_word("a(b)"), "a(b)");
    }

    #[test]
    fn sample_is_even_stride_over_filtered_sorted_words() {
        let e = |w: &str| Entry {
            word: w.to_string(),
            phonemes: vec!["AH0".to_string()],
        };
        let entries: Vec<Entry> = ["d", "bb", "cc", "it's", "aa", "ee", "ff", "x2", "gg"]
            .iter()
            .map(|w| e(w))
            .collect();
        let words = |s: Vec<Entry>| s.into_iter().map(|e| e.word).collect::<Vec<_>>();
        // Filtered and sorted: aa bb cc ee ff gg (m = 6).
        assert_eq!(words(sample(&entries, 3)), ["aa", "cc", "ff"]);
        assert_eq!(
            words(sample(&entries, 10)),
            ["aa", "bb", "cc", "ee", "ff", "gg"]
        );
    }
}
