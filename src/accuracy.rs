//! `bbs eval`: what one-shot pruning (no retraining) costs in task accuracy on
//! real trained models, for BBS and the comparison patterns.
//!
//! - g2p-en's GRU (`enc_w_ih`, `enc_w_hh`, `dec_w_ih`, `dec_w_hh`, 768 x 256)
//!   on a fixed CMUdict sample: word accuracy and phoneme error rate;
//! - silero-vad's LSTM (`lstm_cell.weight_ih`, `lstm_cell.weight_hh`, 512 x 128)
//!   on the labelled clip in `data/vad/`: frame accuracy.
//!
//! Every listed matrix of a model is pruned with the same pattern and sparsity;
//! everything else stays dense and in float. With `--accelerator`, the
//! recurrent cells also run on the simulated accelerator in several
//! fixed-point formats. `--shard I/N` computes one part of the evaluations
//! and `bbs eval merge` joins the parts into the whole run's table.

use crate::patterns::{eval_patterns, family};
use crate::sweep::Shard;
use anyhow::{bail, Context, Result};
use bbs_compress::patterns::{apply_mask, prune_mask, Pattern};
use bbs_compress::{Out, OutputPlan};
use bbs_eval::{g2p, silero};
use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

// The table's sparsities and bank size live with the other comparison sets
// (`crate::patterns`); these names are the ones `bbs eval` uses.
pub use crate::patterns::{EVAL_BANK_SIZE as BANK_SIZE, EVAL_SPARSITIES as SPARSITIES};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    sel: &mut Selector,
) -> Result<Vec<(usize, AccuracyRow)>> {
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
    sel.pick(jobs)
        .par_iter()
        .map(|(g, (s, p))| {
            let metrics = match p {
                None => score(None)?,
                Some(p) => score(Some(&prune_all(&matrices, p, *s)?))?,
            };
            Ok((
                *g,
                AccuracyRow {
                    model: model_name.to_string(),
                    pattern: p.as_ref().map_or_else(|| "dense".to_string(), family),
                    detail: p.as_ref().map_or("dense".to_string(), Pattern::label),
                    sparsity: *s,
                    metrics,
                },
            ))
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
    sel: &mut Selector,
) -> Result<Vec<(usize, AccuracyRow)>> {
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
        sel,
    )
}

/// The silero-vad table on the shipped clip (weights and clip built in).
pub fn silero_table(sparsities: &[f64], sel: &mut Selector) -> Result<Vec<(usize, AccuracyRow)>> {
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
        sel,
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
    sel: &mut Selector,
) -> Result<Vec<(usize, AccuracyRow)>> {
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
    sel.pick(jobs)
        .par_iter()
        .map(|&(g, (f, s))| {
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
            Ok((
                g,
                AccuracyRow {
                    model: "silero-vad LSTM on the accelerator".into(),
                    pattern: if s == 0.0 { "dense" } else { "bbs" }.into(),
                    detail: if s == 0.0 {
                        format!("dense, {}", f.label())
                    } else {
                        format!("BBS ({banks} banks), {}", f.label())
                    },
                    sparsity: s,
                    metrics: vec![("frame_accuracy".into(), score.accuracy)],
                },
            ))
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
    sel: &mut Selector,
) -> Result<Vec<(usize, AccuracyRow)>> {
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
    let mut jobs = Vec::new();
    for f in formats {
        for &s in std::iter::once(&0.0).chain(sparsities) {
            jobs.push((*f, s));
        }
    }
    let mut rows = Vec::new();
    for (g, (f, s)) in sel.pick(jobs) {
        {
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
            rows.push((
                g,
                AccuracyRow {
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
                },
            ));
        }
    }
    Ok(rows)
}

/// Which jobs of an evaluation this run computes: every one, or those of
/// `--shard I/N`. Jobs are numbered across the tables in the order a whole
/// run computes them; part `I` takes every job `g` with `g % N == I`
/// (strided: a table's jobs differ in cost, neighbours most).
pub struct Selector {
    shard: Option<Shard>,
    next: usize,
}

impl Selector {
    pub fn new(shard: Option<Shard>) -> Selector {
        Selector { shard, next: 0 }
    }

    /// Numbers `jobs` and keeps this part's.
    fn pick<T>(&mut self, jobs: Vec<T>) -> Vec<(usize, T)> {
        let first = self.next;
        self.next += jobs.len();
        jobs.into_iter()
            .enumerate()
            .map(|(i, j)| (first + i, j))
            .filter(|(g, _)| self.shard.is_none_or(|s| g % s.count == s.index))
            .collect()
    }
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub command: Option<EvalCommand>,
    /// The models to evaluate.
    #[arg(long, value_enum, default_value_t = crate::cli::EvalModel::All)]
    pub model: crate::cli::EvalModel,
    /// Size of the fixed CMUdict sample for g2p.
    #[arg(long, default_value_t = 2000, value_parser = crate::cli::count_usize,
          allow_negative_numbers = true)]
    pub words: usize,
    /// Write the table as Markdown here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write the rows as JSON here (with --shard: the part, for `bbs eval
    /// merge`).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The g2p data directory (g2p_en/checkpoint20.npz, cmudict/cmudict.dict);
    /// default: $BBS_DATA, else the user cache directory's bbs/.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Also run the recurrent cells on the simulated accelerator
    /// (`default`'s machine in Q3.12, Q3.8 and Q2.5), bit-exact with the RTL.
    #[arg(long)]
    pub accelerator: bool,
    /// Compute only part I (from 0) of N of the evaluations and write it to
    /// --json, for `bbs eval merge` (a job array's task).
    #[arg(
        long,
        value_name = "I/N",
        allow_hyphen_values = true,
        requires = "json",
        conflicts_with = "markdown"
    )]
    pub shard: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
pub enum EvalCommand {
    /// Join the parts of an evaluation run with --shard: the same table
    /// (and --markdown, --json) as one run.
    Merge {
        /// The parts (`bbs eval --shard I/N --json PART`), each once.
        #[arg(required = true, value_name = "PART")]
        parts: Vec<PathBuf>,
        #[arg(long)]
        markdown: Option<PathBuf>,
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

/// Version of an evaluation part; bump on any change.
pub const EVAL_SHARD_VERSION: u32 = 1;

/// What `bbs eval --shard` writes.
#[derive(Serialize, Deserialize)]
struct EvalPart {
    eval_shard_version: u32,
    bbs_version: String,
    shard: Shard,
    /// The options every part must share.
    options: String,
    rows: Vec<(usize, AccuracyRow)>,
}

/// `bbs eval` (and `bbs eval merge`).
pub fn run(args: &EvalArgs) -> Result<()> {
    use crate::cli::EvalModel;
    use crate::print;
    if let Some(EvalCommand::Merge {
        parts,
        markdown,
        json,
    }) = &args.command
    {
        return merge(parts, markdown.as_deref(), json.as_deref());
    }
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let g2p = matches!(args.model, EvalModel::G2p | EvalModel::All);
    let mut plan = OutputPlan::new();
    if g2p {
        if let Ok((dir, _)) = bbs_eval::data::g2p_dir(args.data.as_deref()) {
            plan.input("g2p data", &dir.join(bbs_eval::data::G2P_CHECKPOINT));
            plan.input("g2p data", &dir.join(bbs_eval::data::CMUDICT));
        }
    }
    let md_out = args
        .markdown
        .as_deref()
        .map(|p| plan.file("--markdown", p))
        .transpose()?;
    let json_out = args
        .json
        .as_deref()
        .map(|p| plan.file("--json", p))
        .transpose()?;
    plan.check()?;
    print::stdout_is_output(md_out.is_none() && json_out.is_none());
    let mut sel = Selector::new(shard);
    let mut rows = Vec::new();
    let data = args.data.as_deref();
    if g2p {
        rows.extend(g2p_table(data, args.words, &SPARSITIES, &mut sel)?);
        if args.accelerator {
            rows.extend(g2p_accelerator_table(
                data,
                args.words,
                &ACCELERATOR_SPARSITIES,
                &MACHINE_FORMATS,
                &mut sel,
            )?);
        }
    }
    if matches!(args.model, EvalModel::Silero | EvalModel::All) {
        rows.extend(silero_table(&SPARSITIES, &mut sel)?);
        if args.accelerator {
            rows.extend(silero_accelerator_table(
                &ACCELERATOR_SPARSITIES,
                &MACHINE_FORMATS,
                &mut sel,
            )?);
        }
    }
    if let Some(shard) = shard {
        let part = EvalPart {
            eval_shard_version: EVAL_SHARD_VERSION,
            bbs_version: env!("CARGO_PKG_VERSION").into(),
            shard,
            options: format!(
                "--model {} --words {} --accelerator {} ({} evaluations)",
                format!("{:?}", args.model).to_lowercase(),
                args.words,
                args.accelerator,
                sel.next
            ),
            rows,
        };
        let out = json_out.expect("clap requires --json with --shard");
        plan.write(
            out,
            format!("{}\n", serde_json::to_string_pretty(&part)?).as_bytes(),
        )?;
        plan.publish()?;
        print::out(&format!(
            "part {}/{}: {} of {} evaluations; join the parts with `bbs eval merge`\n",
            shard.index,
            shard.count,
            part.rows.len(),
            sel.next
        ))?;
        return Ok(());
    }
    let rows: Vec<AccuracyRow> = rows.into_iter().map(|(_, r)| r).collect();
    write_table(plan, &rows, md_out, json_out)
}

fn write_table(
    mut plan: OutputPlan,
    rows: &[AccuracyRow],
    md_out: Option<Out>,
    json_out: Option<Out>,
) -> Result<()> {
    let md = to_markdown(rows);
    if let Some(out) = md_out {
        plan.write(out, md.as_bytes())?;
    }
    if let Some(out) = json_out {
        plan.write(
            out,
            format!("{}\n", serde_json::to_string_pretty(rows)?).as_bytes(),
        )?;
    }
    crate::print::out(&md)?;
    plan.publish()?;
    Ok(())
}

/// `bbs eval merge PART...`.
fn merge(parts: &[PathBuf], markdown: Option<&Path>, json: Option<&Path>) -> Result<()> {
    let mut plan = OutputPlan::new();
    for p in parts {
        plan.input("PART", p);
    }
    let md_out = markdown.map(|p| plan.file("--markdown", p)).transpose()?;
    let json_out = json.map(|p| plan.file("--json", p)).transpose()?;
    plan.check()?;
    crate::print::stdout_is_output(md_out.is_none() && json_out.is_none());
    let mut docs: Vec<(&PathBuf, EvalPart)> = Vec::new();
    for p in parts {
        let text = bbs_compress::input::read_text(p)
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        let doc: EvalPart = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: not a `bbs eval --shard` part: {e}", p.display()))?;
        if doc.eval_shard_version != EVAL_SHARD_VERSION {
            bail!(
                "{}: eval_shard_version {} is not {EVAL_SHARD_VERSION}",
                p.display(),
                doc.eval_shard_version
            );
        }
        docs.push((p, doc));
    }
    docs.sort_by_key(|(_, d)| d.shard.index);
    let (first_path, first) = &docs[0];
    for (p, d) in &docs[1..] {
        if d.options != first.options
            || d.shard.count != first.shard.count
            || d.bbs_version != first.bbs_version
        {
            bail!(
                "{}: is part of another evaluation ({}, {} parts, bbs {}) than {} ({}, {} parts, bbs {})",
                p.display(),
                d.options,
                d.shard.count,
                d.bbs_version,
                first_path.display(),
                first.options,
                first.shard.count,
                first.bbs_version
            );
        }
    }
    Shard::check_complete(
        &docs
            .iter()
            .map(|(p, d)| (p.display().to_string(), d.shard))
            .collect::<Vec<_>>(),
    )?;
    let mut rows: Vec<(usize, AccuracyRow)> = docs.into_iter().flat_map(|(_, d)| d.rows).collect();
    rows.sort_by_key(|(g, _)| *g);
    let rows: Vec<AccuracyRow> = rows.into_iter().map(|(_, r)| r).collect();
    write_table(plan, &rows, md_out, json_out)
}
