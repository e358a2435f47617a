//! `bbs eval`: what one-shot pruning (no retraining) costs in task accuracy on
//! real trained models, for BBS and the comparison patterns.
//!
//! - g2p-en's GRU (`enc_w_ih`, `enc_w_hh`, `dec_w_ih`, `dec_w_hh`, 768 x 256)
//!   on a fixed CMUdict sample: word accuracy and phoneme error rate;
//! - silero-vad's LSTM (`lstm_cell.weight_ih`, `lstm_cell.weight_hh`, 512 x 128)
//!   on the labelled clip in `data/vad/`: frame accuracy.
//!
//! Every listed matrix of a model is pruned with the same pattern and sparsity;
//! everything else stays dense and in float.

use crate::patterns::{eval_patterns, family};
use anyhow::{Context, Result};
use bbs_compress::patterns::{apply_mask, prune_mask, Pattern};
use bbs_eval::{g2p, silero};
use ndarray::Array2;
use rayon::prelude::*;
use serde::Serialize;
use std::fmt::Write as _;

// The table's sparsities and bank size live with the other comparison sets
// (`crate::patterns`); these names are the ones `bbs eval` uses.
pub use crate::patterns::{EVAL_BANK_SIZE as BANK_SIZE, EVAL_SPARSITIES as SPARSITIES};

#[derive(Clone, Debug, Serialize)]
pub struct AccuracyRow {
    pub model: String,
    pub pattern: String,
    /// The concrete pattern (e.g. "BBS (16 banks)", "1:4").
    pub detail: String,
    pub sparsity: f64,
    /// Metric name -> value (e.g. word_accuracy, phoneme_error_rate, frame_accuracy).
    pub metrics: Vec<(String, f64)>,
}

fn prune_all(
    matrices: &[(String, Array2<f32>)],
    pattern: &Pattern,
    sparsity: f64,
) -> Result<Vec<(String, Array2<f32>)>> {
    matrices
        .iter()
        .map(|(name, w)| {
            let mask = prune_mask(&w.view(), pattern, sparsity).with_context(|| name.clone())?;
            Ok((name.clone(), apply_mask(&w.view(), &mask)))
        })
        .collect()
}

/// Dense plus every (pattern, sparsity) of `sparsities`, evaluated by `score`.
fn table<M: Sync>(
    model_name: &str,
    model: &M,
    names: &[&str],
    get: impl Fn(&M, &str) -> Option<Array2<f32>> + Sync,
    score: impl Fn(Option<&[(String, Array2<f32>)]>) -> Result<Vec<(String, f64)>> + Sync,
    sparsities: &[f64],
) -> Result<Vec<AccuracyRow>> {
    let matrices: Vec<(String, Array2<f32>)> = names
        .iter()
        .map(|n| {
            get(model, n)
                .map(|m| (n.to_string(), m))
                .with_context(|| format!("{model_name}: no matrix {n}"))
        })
        .collect::<Result<_>>()?;
    let cols = matrices[0].1.ncols();
    let mut jobs: Vec<(f64, Option<Pattern>)> = vec![(0.0, None)];
    for &s in sparsities {
        jobs.extend(eval_patterns(s, cols).into_iter().map(|p| (s, Some(p))));
    }
    jobs.par_iter()
        .map(|(s, p)| {
            let metrics = match p {
                None => score(None)?,
                Some(p) => score(Some(&prune_all(&matrices, p, *s)?))?,
            };
            Ok(AccuracyRow {
                model: model_name.to_string(),
                pattern: p.as_ref().map_or_else(|| "dense".to_string(), family),
                detail: p.as_ref().map_or("dense".to_string(), Pattern::label),
                sparsity: *s,
                metrics,
            })
        })
        .collect()
}

/// The g2p-en table. `data`: the g2p data directory (`--data`; else
/// [`bbs_eval::data::g2p_dir`]'s `$BBS_DATA` or user cache). `words`: size of
/// the fixed CMUdict sample.
pub fn g2p_table(
    data: Option<&std::path::Path>,
    words: usize,
    sparsities: &[f64],
) -> Result<Vec<AccuracyRow>> {
    let (checkpoint, cmudict) = bbs_eval::data::g2p_files(data)?;
    let model = g2p::G2p::load(&checkpoint)?;
    let dict = g2p::load_cmudict(&cmudict)?;
    let sample = g2p::sample(&dict, words);
    table(
        "g2p-en GRU",
        &model,
        &g2p::GRU_MATRICES,
        |m, n| m.matrix(n).cloned(),
        |replace| {
            let s = match replace {
                None => g2p::evaluate(&model, &sample),
                Some(r) => g2p::evaluate(&model.with_matrices(r)?, &sample),
            };
            Ok(vec![
                ("word_accuracy".into(), s.word_accuracy),
                ("phoneme_error_rate".into(), s.phoneme_error_rate),
            ])
        },
        sparsities,
    )
}

/// The silero-vad table on the shipped clip (weights and clip built in).
pub fn silero_table(sparsities: &[f64]) -> Result<Vec<AccuracyRow>> {
    let model = bbs_eval::data::silero_model()?;
    let clip = bbs_eval::data::vad_clip()?;
    table(
        "silero-vad LSTM",
        &model,
        &silero::LSTM_MATRICES,
        |m, n| m.matrix(n).cloned(),
        |replace| {
            let s = match replace {
                None => silero::evaluate(&model, &clip, 0.5),
                Some(r) => silero::evaluate(&model.with_matrices(r)?, &clip, 0.5),
            };
            Ok(vec![("frame_accuracy".into(), s.accuracy)])
        },
        sparsities,
    )
}

/// Rows as a Markdown table, one table per model.
pub fn to_markdown(rows: &[AccuracyRow]) -> String {
    let mut md = String::new();
    let mut models: Vec<&str> = Vec::new();
    for r in rows {
        if !models.contains(&r.model.as_str()) {
            models.push(&r.model);
        }
    }
    for model in models {
        let mine: Vec<&AccuracyRow> = rows.iter().filter(|r| r.model == model).collect();
        let names: Vec<&str> = mine[0].metrics.iter().map(|(n, _)| n.as_str()).collect();
        let _ = writeln!(md, "### {model}\n");
        let _ = writeln!(md, "| pattern | sparsity | {} |", names.join(" | "));
        let _ = writeln!(md, "|---|---:|{}", "---:|".repeat(names.len()));
        for r in mine {
            let values: Vec<String> = r
                .metrics
                .iter()
                .map(|(_, v)| format!("{:.2}%", v * 100.0))
                .collect();
            let _ = writeln!(
                md,
                "| {} | {:.1}% | {} |",
                r.detail,
                r.sparsity * 100.0,
                values.join(" | ")
            );
        }
        md.push('\n');
    }
    md
}

/// A fixed-point format the accelerator tables use: value bits and
/// fraction bits on `default`'s machine.
#[derive(Clone, Copy, Debug)]
pub struct MachineFormat {
    pub value_width: u32,
    pub frac_bits: u32,
}

/// The sparsities of the accelerator tables (besides dense).
pub const ACCELERATOR_SPARSITIES: [f64; 3] = [0.25, 0.5, 0.75];

/// `default`'s Q3.12, a 12-bit Q3.8 and an 8-bit Q2.5.
pub const MACHINE_FORMATS: [MachineFormat; 3] = [
    MachineFormat {
        value_width: 16,
        frac_bits: 12,
    },
    MachineFormat {
        value_width: 12,
        frac_bits: 8,
    },
    MachineFormat {
        value_width: 8,
        frac_bits: 5,
    },
];

impl MachineFormat {
    pub fn label(&self) -> String {
        format!(
            "Q{}.{} ({}-bit)",
            self.value_width - 1 - self.frac_bits,
            self.frac_bits,
            self.value_width
        )
    }
    /// The `default` configuration with this format.
    pub fn config(&self) -> bbs_sim::Config {
        bbs_sim::Config {
            value_width: self.value_width,
            frac_bits: self.frac_bits,
            ..bbs_sim::Config::default()
        }
    }
}

/// silero-vad with its LSTM cell on the simulated accelerator (the rest of
/// the model, STFT, convolutions and head, in float on the host): frame
/// accuracy on the shipped clip, dense and BBS (the configuration's banks)
/// at each of `sparsities`, for each format. Bit-exact with the RTL.
pub fn silero_accelerator_table(
    sparsities: &[f64],
    formats: &[MachineFormat],
) -> Result<Vec<AccuracyRow>> {
    use bbs_sim::workloads::{network_from_float, FloatKind, FloatLayer};
    let model = bbs_eval::data::silero_model()?;
    let clip = bbs_eval::data::vad_clip()?;
    let get = |n: &str| {
        model
            .matrix(n)
            .cloned()
            .with_context(|| format!("silero-vad: no matrix {n}"))
    };
    let layer = FloatLayer {
        kind: FloatKind::Lstm,
        w_ih: get("lstm_cell.weight_ih")?,
        w_hh: get("lstm_cell.weight_hh")?,
        b_ih: model.lstm_bias().to_vec(),
        b_hh: vec![0.0; model.lstm_bias().len()],
        w_hr: None,
    };
    let mut jobs = Vec::new();
    for f in formats {
        for &s in std::iter::once(&0.0).chain(sparsities) {
            jobs.push((*f, s));
        }
    }
    jobs.par_iter()
        .map(|&(f, s)| {
            let cfg = f.config();
            let net = network_from_float("silero-vad", &cfg, s, std::slice::from_ref(&layer))?;
            let mut runner = bbs_sim::rnn::SequenceRunner::new(&cfg, &net)?;
            let fmt = cfg.format();
            let mut failed = None;
            let probs = model.probabilities_with(&clip.audio, |x| {
                let frame: Vec<i64> = x.iter().map(|&v| fmt.quantize(v).0).collect();
                match runner.step(frame) {
                    Ok((h, _)) => h.iter().map(|&v| fmt.dequantize(v)).collect(),
                    Err(e) => {
                        failed.get_or_insert(e);
                        vec![0.0; x.len()]
                    }
                }
            });
            if let Some(e) = failed {
                return Err(e.into());
            }
            let score = silero::score(&probs, &clip, 0.5);
            let banks = cfg.banks;
            Ok(AccuracyRow {
                model: "silero-vad LSTM on the accelerator".into(),
                pattern: if s == 0.0 { "dense" } else { "bbs" }.into(),
                detail: if s == 0.0 {
                    format!("dense, {}", f.label())
                } else {
                    format!("BBS ({banks} banks), {}", f.label())
                },
                sparsity: s,
                metrics: vec![("frame_accuracy".into(), score.accuracy)],
            })
        })
        .collect()
}

/// One of g2p-en's GRUs on the simulated accelerator.
struct AcceleratorGru {
    runner: bbs_sim::rnn::SequenceRunner,
    fmt: bbs_compress::QFormat,
}

impl g2p::GruCell for AcceleratorGru {
    fn start(&mut self, h0: &[f32]) {
        let q: Vec<i64> = h0.iter().map(|&v| self.fmt.quantize(v).0).collect();
        self.runner.start_from(0, &q);
    }
    fn step(&mut self, x: &[f32]) -> Vec<f32> {
        let frame: Vec<i64> = x.iter().map(|&v| self.fmt.quantize(v).0).collect();
        // The network was compiled and validated for this configuration,
        // and every input has its size: a step cannot fail.
        let (h, _) = self.runner.step(frame).expect("a validated program runs");
        h.iter().map(|&v| self.fmt.dequantize(v)).collect()
    }
}

/// g2p-en with its encoder and decoder GRUs on the simulated accelerator
/// (embeddings, output layer and greedy choice in float on the host): word
/// accuracy and PER on the fixed CMUdict sample of `words`, dense and BBS
/// with 16 banks (16-column banks, as the float table) at each of
/// `sparsities`, for each format, on `default` with 16 banks (and matrix
/// memory for 2048 rows).
pub fn g2p_accelerator_table(
    data: Option<&std::path::Path>,
    words: usize,
    sparsities: &[f64],
    formats: &[MachineFormat],
) -> Result<Vec<AccuracyRow>> {
    use bbs_sim::workloads::{network_from_float, FloatKind, FloatLayer};
    let (checkpoint, cmudict) = bbs_eval::data::g2p_files(data)?;
    let model = g2p::G2p::load(&checkpoint)?;
    let dict = g2p::load_cmudict(&cmudict)?;
    let sample = g2p::sample(&dict, words);
    let layer = |w: g2p::GruWeights| FloatLayer {
        kind: FloatKind::Gru,
        w_ih: w.w_ih.clone(),
        w_hh: w.w_hh.clone(),
        b_ih: w.b_ih.to_vec(),
        b_hh: w.b_hh.to_vec(),
        w_hr: None,
    };
    let (enc, dec) = (layer(model.encoder()), layer(model.decoder()));
    let mut rows = Vec::new();
    for f in formats {
        for &s in std::iter::once(&0.0).chain(sparsities) {
            // Room for both dense matrices (768 x 256, 16 slots a row).
            let cfg = bbs_sim::Config {
                banks: 16,
                max_rows: 2048,
                ..f.config()
            };
            let enc_net =
                network_from_float("g2p-en encoder", &cfg, s, std::slice::from_ref(&enc))?;
            let dec_net =
                network_from_float("g2p-en decoder", &cfg, s, std::slice::from_ref(&dec))?;
            // Compiled once; each chunk of words gets its own machines.
            let cell = |net: &bbs_sim::rnn::Network| -> Result<AcceleratorGru> {
                Ok(AcceleratorGru {
                    runner: bbs_sim::rnn::SequenceRunner::new(&cfg, net)?,
                    fmt: cfg.format(),
                })
            };
            // Refuse a network the configuration cannot hold before the run.
            cell(&enc_net)?;
            cell(&dec_net)?;
            let score = g2p::evaluate_with(&model, &sample, || {
                (
                    cell(&enc_net).expect("compiled above"),
                    cell(&dec_net).expect("compiled above"),
                )
            });
            rows.push(AccuracyRow {
                model: "g2p-en GRU on the accelerator".into(),
                pattern: if s == 0.0 { "dense" } else { "bbs" }.into(),
                detail: if s == 0.0 {
                    format!("dense, {}", f.label())
                } else {
                    format!("BBS ({} banks), {}", cfg.banks, f.label())
                },
                sparsity: s,
                metrics: vec![
                    ("word_accuracy".into(), score.word_accuracy),
                    ("phoneme_error_rate".into(), score.phoneme_error_rate),
                ],
            });
        }
    }
    Ok(rows)
}
