//! `bbs run DIR INPUT.npy`: a compiled directory loaded and a sequence
//! streamed through the simulated accelerator.

use super::onnx::{self, HostOp};
use crate::say;
use anyhow::{bail, Context, Result};
use bbs_compress::{read_matrix, Csb, OutputPlan};
use bbs_sim::rnn::{Layer, Network};
use bbs_sim::workloads::{FloatKind, FloatLayer};
use bbs_sim::Config;
use ndarray::Array2;
use serde::Serialize;
use std::path::{Path, PathBuf};

use super::{Manifest, MANIFEST_VERSION};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A `bbs compile` output directory.
    pub dir: PathBuf,
    /// The input sequence: a .npy of frames x features (floats).
    pub input: PathBuf,
    /// The outputs, frames x outputs (float32 .npy).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The run's report as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The last frame as a Gantt chart (SVG), one lane per unit: the steady
    /// state on the overlapped machine.
    #[arg(long, value_name = "FILE.svg")]
    pub timeline: Option<PathBuf>,
}

pub fn load_compiled(dir: &Path) -> Result<(Config, Manifest, Network)> {
    let text = std::fs::read_to_string(dir.join("manifest.json"))
        .with_context(|| format!("{}: not a `bbs compile` directory", dir.display()))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{}", dir.join("manifest.json").display()))?;
    if !(1..=MANIFEST_VERSION).contains(&manifest.manifest_version) {
        bail!(
            "{}: manifest_version {} is not 1..={MANIFEST_VERSION}",
            dir.join("manifest.json").display(),
            manifest.manifest_version
        );
    }
    let cfg = Config::from_file(&dir.join("config.toml"))?;
    let mut manifest = manifest;
    for step in manifest
        .host
        .before
        .iter_mut()
        .chain(manifest.host.after.iter_mut())
    {
        if let HostOp::Dense { weight, .. } = &step.op {
            step.matrix = Some(read_matrix(&dir.join(weight), None)?);
        }
    }
    onnx::check_loaded(&manifest.host.before)
        .and_then(|()| onnx::check_loaded(&manifest.host.after))
        .with_context(|| format!("{}", dir.display()))?;
    let mut layers = Vec::new();
    for l in &manifest.layers {
        let csb = |role: &str| -> Result<Csb> {
            let file = l
                .csb
                .get(role)
                .with_context(|| format!("{}: a {} layer without {role}", dir.display(), l.kind))?;
            Ok(Csb::read(&dir.join(file))?)
        };
        let bias = |name: &str| -> Result<Vec<i64>> {
            l.biases
                .get(name)
                .cloned()
                .with_context(|| format!("{}: a {} layer without {name}", dir.display(), l.kind))
        };
        layers.push(match l.kind.as_str() {
            "lstm" => Layer::Lstm(bbs_sim::rnn::LstmLayer {
                input: l.input,
                hidden: l.hidden,
                w_ih: csb("w_ih")?,
                w_hh: csb("w_hh")?,
                bias: bias("bias")?,
                proj: l
                    .csb
                    .contains_key("proj")
                    .then(|| csb("proj"))
                    .transpose()?,
            }),
            "gru" => Layer::Gru(bbs_sim::rnn::GruLayer {
                input: l.input,
                hidden: l.hidden,
                w_ih: csb("w_ih")?,
                w_hh: csb("w_hh")?,
                b_ih: bias("b_ih")?,
                b_hh: bias("b_hh")?,
            }),
            "dense" => Layer::Dense(bbs_sim::rnn::DenseLayer {
                w: csb("w")?,
                bias: bias("bias")?,
                act: l.act,
            }),
            other => bail!(
                "{}: layer kind {other:?} is not lstm, gru or dense",
                dir.display()
            ),
        });
    }
    let net = Network { layers };
    net.check()
        .with_context(|| format!("{}", dir.join("manifest.json").display()))?;
    Ok((cfg, manifest, net))
}

/// Max and RMS of |machine - reference| over every output.
fn errors(out: &[Vec<f64>], reference: &[Vec<f64>]) -> (f64, f64) {
    let (mut max, mut sq, mut n) = (0.0f64, 0.0f64, 0usize);
    for (o, f) in out.iter().zip(reference) {
        for (&a, &b) in o.iter().zip(f) {
            let e = (a - b).abs();
            max = max.max(e);
            sq += e * e;
            n += 1;
        }
    }
    (max, (sq / n.max(1) as f64).sqrt())
}

/// The trained network as `compile` found it (`dense/`), in float.
fn load_dense(dir: &Path, manifest: &Manifest) -> Result<bbs_sim::rnn::FloatState> {
    let mut layers = Vec::new();
    for (k, l) in manifest.layers.iter().enumerate() {
        let m = |role: &str| read_matrix(&dir.join(format!("dense/layer{k}.{role}.npy")), None);
        let biases = m("biases")?;
        if l.kind == "dense" {
            layers.push(FloatLayer::dense(m("w_ih")?, biases.row(0).to_vec(), l.act));
            continue;
        }
        layers.push(FloatLayer {
            kind: if l.kind == "lstm" {
                FloatKind::Lstm
            } else {
                FloatKind::Gru
            },
            w_ih: m("w_ih")?,
            w_hh: m("w_hh")?,
            b_ih: biases.row(0).to_vec(),
            b_hh: biases.row(1).to_vec(),
            w_hr: l.csb.contains_key("proj").then(|| m("w_hr")).transpose()?,
        });
    }
    Ok(bbs_sim::rnn::FloatState::dense(&layers))
}

/// `bbs run`'s report.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub model: String,
    pub config: String,
    pub frames: usize,
    pub input: usize,
    pub output: usize,
    /// Each frame's cycles (on the overlapped machine from the end of the
    /// frame before).
    pub frame_cycles: Vec<u64>,
    pub total_cycles: u64,
    pub steady_frame_cycles: u64,
    pub steady_frame_us: f64,
    pub multiplier_utilization: f64,
    /// The outputs equal the plain fixed-point reference's (always: a
    /// difference is an error).
    pub bit_exact_vs_reference: bool,
    /// Against the same pruned network in float (f64, exact sigmoid/tanh).
    pub max_abs_error_vs_float: f64,
    pub rms_error_vs_float: f64,
    /// Against the trained network as it is (dense, float weights, float
    /// inputs): what pruning and the fixed point cost together.
    pub max_abs_error_vs_dense: f64,
    pub rms_error_vs_dense: f64,
    /// Per layer, over the sequence: SpMxV sums that wrapped the
    /// accumulator, SpMxV and element-wise results saturated to the format.
    pub overflows: Vec<bbs_sim::reference::Overflows>,
}

pub fn run(args: &RunArgs) -> Result<()> {
    let mut plan = OutputPlan::new();
    plan.input("DIR", &args.dir);
    plan.input("INPUT", &args.input);
    let out = args
        .output
        .as_deref()
        .map(|p| plan.file("-o", p))
        .transpose()?;
    let json = args
        .json
        .as_deref()
        .map(|p| plan.file("--json", p))
        .transpose()?;
    let timeline = args
        .timeline
        .as_deref()
        .map(|p| plan.file("--timeline", p))
        .transpose()?;
    plan.check()?;
    let compiled = load_compiled(&args.dir)?;
    let x = read_matrix(&args.input, None)?;
    let (y, report, gantt) =
        run_loaded(compiled, &args.dir, &x, &args.input.display().to_string())?;
    if let Some(t) = timeline {
        plan.write(t, bbs_sim::report::render_svg(&gantt).as_bytes())?;
    }
    if let Some(o) = out {
        plan.dest(o).write_npy(&y)?;
    }
    if let Some(j) = json {
        plan.write(
            j,
            format!("{}\n", serde_json::to_string_pretty(&report)?).as_bytes(),
        )?;
    }
    plan.publish()?;
    print_run(&report)
}

/// Runs the sequence `x` (frames x features; `input` names it in errors)
/// through the compiled directory `dir`: the outputs (frames x outputs,
/// float) and the report `bbs run` prints. The accelerator's outputs are
/// checked against the fixed-point reference (a difference is an error).
pub fn run_compiled(dir: &Path, x: &Array2<f32>, input: &str) -> Result<(Array2<f32>, RunReport)> {
    let (y, report, _) = run_loaded(load_compiled(dir)?, dir, x, input)?;
    Ok((y, report))
}

fn run_loaded(
    (cfg, manifest, net): (Config, Manifest, Network),
    dir: &Path,
    x: &Array2<f32>,
    input: &str,
) -> Result<(Array2<f32>, RunReport, bbs_sim::report::Gantt)> {
    if x.ncols() != manifest.input {
        bail!(
            "{input}: {} features per frame, the network takes {}",
            x.ncols(),
            manifest.input
        );
    }
    if let Some((t, j)) = x
        .indexed_iter()
        .find(|(_, v)| !v.is_finite())
        .map(|(i, _)| i)
    {
        bail!("{input}: frame {t}, feature {j} is not a finite number");
    }
    let fmt = cfg.format();
    let host = &manifest.host;
    // The host's steps before the layers, in float; then the machine's format.
    let layer_inputs = host.to_layers(x);
    let frames: Vec<Vec<i64>> = layer_inputs
        .iter()
        .map(|r| r.iter().map(|&v| fmt.quantize(v as f32).0).collect())
        .collect();
    let run = bbs_sim::rnn::run_sequence(&cfg, &net, &frames)?;
    let mut reference_state = bbs_sim::rnn::ReferenceState::new(&cfg, &net);
    let reference: Vec<Vec<i64>> = frames.iter().map(|f| reference_state.step(f)).collect();
    if reference != run.outputs {
        bail!("internal error: the accelerator's outputs differ from the fixed-point reference");
    }
    let float = host.from_layers(bbs_sim::rnn::float_sequence(&cfg, &net, &frames));
    let mut dense = load_dense(dir, &manifest)?;
    let dense_out = host.from_layers(layer_inputs.iter().map(|r| dense.step_f64(r)).collect());
    let outputs = host.from_layers(
        run.outputs
            .iter()
            .map(|o| o.iter().map(|&v| f64::from(fmt.dequantize(v))).collect())
            .collect(),
    );
    let (dmax, drms) = errors(&outputs, &dense_out);
    let (max, rms) = errors(&outputs, &float);
    let frame_cycles: Vec<u64> = run.frames.iter().map(|r| r.cycles).collect();
    let total: u64 = frame_cycles.iter().sum();
    let macs: u64 = run.frames.iter().map(|r| r.macs).sum();
    let steady = *frame_cycles.last().unwrap_or(&0);
    let report = RunReport {
        model: manifest.model.clone(),
        config: cfg.name.clone(),
        frames: frames.len(),
        input: manifest.input,
        output: manifest.output,
        frame_cycles,
        total_cycles: total,
        steady_frame_cycles: steady,
        steady_frame_us: steady as f64 / f64::from(cfg.host.clock_mhz),
        multiplier_utilization: macs as f64 / ((cfg.pes * cfg.banks) as f64 * total.max(1) as f64),
        bit_exact_vs_reference: true,
        max_abs_error_vs_float: max,
        rms_error_vs_float: rms,
        max_abs_error_vs_dense: dmax,
        rms_error_vs_dense: drms,
        overflows: reference_state.overflows.clone(),
    };
    let y = Array2::from_shape_fn((frames.len(), manifest.output), |(t, j)| {
        outputs[t][j] as f32
    });
    let gantt = last_frame_gantt(&cfg, &manifest, &net, &run)?;
    Ok((y, report, gantt))
}

/// The last frame of `run` as a Gantt chart (an empty one without frames).
fn last_frame_gantt(
    cfg: &Config,
    manifest: &Manifest,
    net: &Network,
    run: &bbs_sim::rnn::SequenceRun,
) -> Result<bbs_sim::report::Gantt> {
    let compiled = net.compile(cfg)?;
    // The network's matrices by name (`layer0.w_hh`), for the bars' labels.
    let mut names = Vec::new();
    for (k, l) in net.layers.iter().enumerate() {
        let roles: &[&str] = match l {
            Layer::Lstm(l) if l.proj.is_some() => &["w_ih", "w_hh", "proj"],
            Layer::Lstm(_) | Layer::Gru(_) => &["w_ih", "w_hh"],
            Layer::Dense(_) => &["w"],
        };
        names.extend(roles.iter().map(|r| format!("layer{k}.{r}")));
    }
    let matrix_names: Vec<String> = compiled
        .source
        .iter()
        .map(|&m| names.get(m).cloned().unwrap_or_default())
        .collect();
    let t = run.frames.len();
    let (cycles, timeline) = run
        .frames
        .last()
        .map_or((0, &[][..]), |f| (f.cycles, f.timeline.as_slice()));
    Ok(bbs_sim::report::Gantt::from_spans(
        format!(
            "{} on '{}': frame {}, one lane per unit",
            manifest.model,
            cfg.name,
            t.saturating_sub(1)
        ),
        cycles,
        f64::from(cfg.host.clock_mhz),
        bbs_sim::report::frame_spans(
            cfg,
            &compiled.program.instrs,
            &compiled.matrices,
            &matrix_names,
            timeline,
        ),
    ))
}

fn print_run(report: &RunReport) -> Result<()> {
    say!(
        "{} on '{}': {} frames of {} features -> {}; {} cycles in all, {} per frame once they follow each other ({:.2} us), multipliers busy {:.1}%; bit-exact with the fixed-point reference; against the pruned network in float: max |error| {:.4}, RMS {:.4}; against the dense trained one: max |error| {:.4}, RMS {:.4}",
        report.model,
        report.config,
        report.frames,
        report.input,
        report.output,
        report.total_cycles,
        report.steady_frame_cycles,
        report.steady_frame_us,
        100.0 * report.multiplier_utilization,
        report.max_abs_error_vs_float,
        report.rms_error_vs_float,
        report.max_abs_error_vs_dense,
        report.rms_error_vs_dense
    )?;
    for (k, o) in report.overflows.iter().enumerate() {
        say!(
            "  layer {k}: {} SpMxV sums wrapped, {} SpMxV and {} element-wise results saturated",
            o.wrapped,
            o.spmv_saturated,
            o.elementwise_saturated
        )?;
    }
    Ok(())
}
