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
