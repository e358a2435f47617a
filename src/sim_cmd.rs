//! `bbs sim`: the simulator's command line.
//!
//! * `bbs sim M.csb X.npy [--config C] [-o Y.npy] [--json R.json] [--vcd T.vcd]
//!   [--bram-trace B.csv]`: one SpMxV, y = W x, with its cycle report
//!   ([`bbs_sim::SimReport`]); the traces are of the program `load x; spmv;
//!   store y` ([`bbs_sim::trace`]).
//! * `bbs sim --workload NAME [--config C] [--sparsity S] [--frames T]
//!   [--seed S] [--baselines] [--device D] [--out-dir DIR] [--json R.json]
//!   [--vcd T.vcd] [--bram-trace B.csv]`: a named workload
//!   ([`bbs_sim::workloads`]) over T frames, checked bit for bit against the
//!   fixed-point reference, reported as [`bbs_sim::report::WorkloadReport`];
//!   `--out-dir` gets `report.json`, `layers.csv`, `utilization.svg`,
//!   `stalls.svg` and `timeline.svg` (all or nothing); the traces cover every
//!   frame.
//! * `bbs sim --model DIR [--config C] [--seed S] [--baselines] [--device D]
//!   [--skip-unfit] [--out-dir OUT] [--json R.json]`: every layer of a `bbs
//!   prune --out-dir DIR` output (its `manifest.json`) as one SpMxV, reported
//!   as [`bbs_sim::report::ModelReport`]; `--out-dir` gets `report.json` and
//!   `layers.csv`.
//!
//! In the workload and model forms a configuration whose resource estimate
//! exceeds the device's budget is an error unless `--no-budget` is given.
//!
//! See `docs/simulator.md`.

use crate::cli::{self, device_name, DeviceName, Workload};
use crate::flow::{check_spmv, load_config, load_vector, simulate_program};
use crate::{print, say};
use anyhow::{bail, Context, Result};
use bbs_compress::{Csb, Out, OutputPlan};
use bbs_hdlgen::memfiles::spmv_program;
use bbs_sim::machine::{Program, RunReport, Unit};
use bbs_sim::report::{
    render_svg, resources, run_model, run_workload, ModelLayerInput, ModelOptions, ReportError,
    WorkloadOptions, WorkloadReport,
};
use bbs_sim::resources::Device;
use bbs_sim::trace;
use bbs_sim::workloads;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Defaults of the workload form.
pub const DEFAULT_SPARSITY: f64 = 0.875;
pub const DEFAULT_FRAMES: usize = 4;
pub const DEFAULT_SEED: u64 = 1;

/// The files `--out-dir` gets.
pub const OUT_FILES: [&str; 5] = [
    "report.json",
    "layers.csv",
    "utilization.svg",
    "stalls.svg",
    "timeline.svg",
];

/// The files `--out-dir` gets in the model form.
pub const MODEL_OUT_FILES: [&str; 2] = ["report.json", "layers.csv"];

/// The three forms are told apart by which of `CSB`, `--workload` and
/// `--model` is given; clap refuses an option outside its forms
/// (`conflicts_with_all`), worded by [`crate::cli::WORDING`].
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// CSB matrix, for one SpMxV (with INPUT).
    #[arg(conflicts_with_all = ["workload", "model"])]
    pub csb: Option<PathBuf>,
    /// Input vector .npy: float (quantized to the configuration's format) or integer (fixed-point).
    #[arg(conflicts_with_all = ["workload", "model"])]
    pub input: Option<PathBuf>,
    /// Accelerator configuration (TOML); default: built-in.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// One SpMxV: write the fixed-point output (int32) here.
    #[arg(short, long, conflicts_with_all = ["workload", "model"])]
    pub output: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// One SpMxV or workload: write a VCD of the whole program (one SpMxV: load, spmv, store;
    /// workload: every frame) with the RTL's signal names, widths and times (docs/trace.md).
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    pub vcd: Option<PathBuf>,
    /// One SpMxV or workload: write every vector-bank read of every SpMxV as CSV
    /// (cycle,pe,bank,address; cycles are the --vcd file's clock edges).
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    pub bram_trace: Option<PathBuf>,
    /// Run a named workload instead.
    #[arg(long, value_enum, conflicts_with = "model")]
    pub workload: Option<Workload>,
    /// Workload: fraction of weights pruned, in [0, 1).
    #[arg(long, default_value_t = DEFAULT_SPARSITY, value_parser = cli::sparsity,
          allow_negative_numbers = true, conflicts_with_all = ["csb", "input", "model"])]
    pub sparsity: f64,
    /// Workload: frames of the sequence.
    #[arg(long, default_value_t = DEFAULT_FRAMES, value_parser = cli::frames,
          allow_negative_numbers = true, conflicts_with_all = ["csb", "input", "model"])]
    pub frames: usize,
    /// Workload: seed of the weights and inputs; model: seed of the input vector.
    #[arg(long, default_value_t = DEFAULT_SEED, value_parser = cli::count,
          allow_negative_numbers = true, conflicts_with_all = ["csb", "input"])]
    pub seed: u64,
    /// Workload, model: also schedule dense, unstructured and block baselines on the same hardware.
    #[arg(long, conflicts_with_all = ["csb", "input"])]
    pub baselines: bool,
    /// Workload, model: device family of the resource estimate.
    #[arg(long, value_enum, default_value_t = DeviceName::IntelM20k,
          conflicts_with_all = ["csb", "input"])]
    pub device: DeviceName,
    /// Workload: write report.json, layers.csv, utilization.svg, stalls.svg and timeline.svg here;
    /// model: report.json and layers.csv.
    #[arg(long, conflicts_with_all = ["csb", "input"])]
    pub out_dir: Option<PathBuf>,
    /// Run every layer of a pruned model instead: a `bbs prune --out-dir` directory (its manifest.json).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Model: skip the layers the configuration cannot hold (listed in the report) instead of failing.
    #[arg(long, conflicts_with_all = ["csb", "input", "workload"])]
    pub skip_unfit: bool,
    /// Workload, model: run even when the configuration exceeds the device's DSP, block-RAM or logic budget.
    #[arg(long, conflicts_with_all = ["csb", "input"])]
    pub no_budget: bool,
}

/// The configuration's own resource estimate must fit the device's budget
/// (Arria 10 GX1150 for Intel, XCKU060 for Xilinx); one error line names
/// every resource over it.
pub fn check_device_budget(cfg: &bbs_sim::Config, device: Device) -> Result<()> {
    let r = resources(cfg, device)?;
    if r.over_budget.is_empty() {
        return Ok(());
    }
    let over: Vec<String> = r
        .over_budget
        .iter()
        .map(|o| {
            format!(
                "{}: {} needed, {} available",
                o.resource, o.needed, o.available
            )
        })
        .collect();
    bail!(
        "{} ({}, --device {}); the configuration '{}' does not fit (--no-budget runs it anyway)",
        over.join(", "),
        r.budget_name,
        device_name(device),
        cfg.name
    )
}

/// Run `bbs sim`: the form is the one whose argument is given (clap has
/// refused mixed forms and options outside their form).
pub fn run(args: &SimArgs) -> Result<()> {
    match (args.workload, &args.model, &args.csb, &args.input) {
        (Some(workload), None, None, None) => run_workload_form(args, workload),
        (None, Some(dir), None, None) => run_model_form(args, dir),
        (None, None, Some(csb), Some(input)) => run_spmv(args, csb, input),
        _ => bail!(
            "give M.csb X.npy (one SpMxV), --workload NAME (one of {}) or --model DIR (a `bbs prune --out-dir` output)",
            workloads::NAMES.join(", ")
        ),
    }
}

/// The traces name the generated RTL's signals: a machine the generator
/// does not build (DRAM matrices) has none. The overlapped machine's VCD
/// is its issue stage (every unit's starts); its bank reads are not traced.
fn traces_supported(cfg: &bbs_sim::Config, files: TraceFiles) -> Result<()> {
    bbs_hdlgen::check_supported(cfg).context("--vcd/--bram-trace")?;
    if cfg.overlap.units && files.bram.is_some() {
        bail!(
            "--bram-trace: overlap.units: the simulator lists the serialized machine's vector-bank reads only (--vcd gives the overlapped machine's issue stage)"
        );
    }
    Ok(())
}

/// Where `--vcd` and `--bram-trace` go.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceFiles<'a> {
    pub vcd: Option<&'a Path>,
    pub bram: Option<&'a Path>,
}

impl TraceFiles<'_> {
    fn wanted(&self) -> bool {
        self.vcd.is_some() || self.bram.is_some()
    }
}

/// The VCD and bank-read CSV of `program` run `runs.len()` times, as the
/// testbench runs it (matrices preloaded); `(file, bytes)` for each asked for.
/// Nothing is written here.
pub fn render_traces(
    cfg: &bbs_sim::Config,
    matrices: &[Csb],
    program: &Program,
    runs: &[RunReport],
    files: TraceFiles,
) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    if !files.wanted() {
        return Ok(out);
    }
    let first = trace::tb_first_start_edge(cfg, None);
    if cfg.overlap.units {
        // One start runs every frame: the issue stage's waveform.
        let t = trace::issue_trace(cfg, matrices, program, runs.len(), first).context("--vcd")?;
        if let Some(p) = files.vcd {
            let mut bytes = Vec::new();
            trace::write_vcd(&t, &mut bytes)?;
            out.push((p.to_path_buf(), bytes));
        }
        return Ok(out);
    }
    let t =
        trace::program_trace(cfg, matrices, program, runs, first).context("--vcd/--bram-trace")?;
    if let Some(p) = files.vcd {
        let mut bytes = Vec::new();
        trace::write_vcd(&t, &mut bytes)?;
        out.push((p.to_path_buf(), bytes));
    }
    if let Some(p) = files.bram {
        let mut bytes = Vec::new();
        trace::write_bank_reads_csv(cfg, matrices, &t, &mut bytes)?;
        out.push((p.to_path_buf(), bytes));
    }
    Ok(out)
}

/// The output files of a `bbs sim` run, planned: `-o`, `--json`, `--vcd`,
/// `--bram-trace` and `--out-dir` (with its files), checked against the
/// inputs before anything runs.
struct SimOutputs {
    plan: OutputPlan,
    output: Option<Out>,
    json: Option<Out>,
    vcd: Option<Out>,
    bram: Option<Out>,
    out_dir: Option<Out>,
    /// The files `out_dir` gets.
    dir_files: Vec<String>,
}

impl SimOutputs {
    fn plan(args: &SimArgs, inputs: &[(&str, &Path)], dir_files: &[&str]) -> Result<SimOutputs> {
        let mut plan = OutputPlan::new();
        for (role, p) in inputs {
            plan.input(role, p);
        }
        if let Some(c) = &args.config {
            plan.input("--config", c);
        }
        let mut file = |option: &str, p: &Option<PathBuf>| -> Result<Option<Out>> {
            Ok(match p {
                Some(p) => Some(plan.file(option, p)?),
                None => None,
            })
        };
        let output = file("-o", &args.output)?;
        let json = file("--json", &args.json)?;
        let vcd = file("--vcd", &args.vcd)?;
        let bram = file("--bram-trace", &args.bram_trace)?;
        let out_dir = match &args.out_dir {
            Some(d) => {
                let dir = plan.dir("--out-dir", d)?;
                for f in dir_files {
                    plan.part(dir, f);
                }
                Some(dir)
            }
            None => None,
        };
        plan.check()?;
        // Printed text is the output when no file is.
        print::stdout_is_output(
            output.is_none()
                && json.is_none()
                && vcd.is_none()
                && bram.is_none()
                && out_dir.is_none(),
        );
        Ok(SimOutputs {
            plan,
            output,
            json,
            vcd,
            bram,
            out_dir,
            dir_files: dir_files.iter().map(|f| f.to_string()).collect(),
        })
    }

    /// Stage the rendered traces.
    fn traces(&mut self, traces: &[(PathBuf, Vec<u8>)]) -> Result<()> {
        let mut outs = [self.vcd, self.bram].into_iter().flatten();
        for (_, bytes) in traces {
            let out = outs.next().expect("one trace rendered per trace file");
            self.plan.write(out, bytes)?;
        }
        Ok(())
    }

    /// Publish everything, then say what was written, in the order of the
    /// options (`--out-dir`: each of its files).
    fn publish(self, args: &SimArgs) -> Result<()> {
        self.plan.publish()?;
        if let Some(d) = &args.out_dir {
            for f in &self.dir_files {
                print::wrote(&d.join(f))?;
            }
        }
        for p in [&args.output, &args.json, &args.vcd, &args.bram_trace]
            .into_iter()
            .flatten()
        {
            print::wrote(p)?;
        }
        Ok(())
    }
}

/// One SpMxV: print the cycle report, optionally write the output, the JSON
/// and the traces of the program `load x; spmv; store y`.
fn run_spmv(args: &SimArgs, csb: &Path, input: &Path) -> Result<()> {
    let mut outs = SimOutputs::plan(args, &[("CSB", csb), ("INPUT", input)], &[])?;
    let config = args.config.as_deref();
    let cfg = load_config(config)?;
    let c = Csb::read(csb)?;
    let x = load_vector(input, &cfg)?;
    let run = check_spmv(&cfg, config, csb, &c, input, &x)?;
    let traces = TraceFiles {
        vcd: args.vcd.as_deref(),
        bram: args.bram_trace.as_deref(),
    };
    // The traces are rendered before anything is written.
    let trace_files = if traces.wanted() {
        traces_supported(&cfg, traces)?;
        let program = spmv_program(&cfg, &c);
        let matrices = std::slice::from_ref(&c);
        let sim = simulate_program(&cfg, matrices, &program, std::slice::from_ref(&x), 1)
            .with_context(|| input.display().to_string())?;
        render_traces(&cfg, matrices, &program, &sim.reports, traces)?
    } else {
        Vec::new()
    };
    let r = &run.report;
    say!(
        "{}x{} on '{}' ({} PEs x {} banks): {} cycles (start {}, load {}, compute {}, drain {}), compute bound {:.1}, utilization {:.1}%",
        r.rows, r.cols, r.config, r.pes, r.banks, r.cycles.total, r.cycles.start, r.cycles.load,
        r.cycles.compute, r.cycles.drain, r.compute_bound, r.utilization * 100.0
    )?;
    for pe in &r.pe {
        say!(
            "  PE {:>3}: {:>5} rows, {:>7} busy cycles, utilization {:.1}%",
            pe.pe,
            pe.rows,
            pe.busy_cycles,
            pe.utilization * 100.0
        )?;
    }
    let report = serde_json::to_string_pretty(r)?;
    say!("{report}")?;
    if let Some(out) = outs.output {
        let y = ndarray::Array1::from_iter(run.output.iter().map(|&v| v as i32));
        outs.plan.dest(out).write_npy(&y)?;
    }
    if let Some(out) = outs.json {
        outs.plan.write(out, format!("{report}\n").as_bytes())?;
    }
    outs.traces(&trace_files)?;
    outs.publish(args)
}

/// The workload options (clap has checked each).
pub fn workload_options(args: &SimArgs, workload: Workload) -> WorkloadOptions {
    WorkloadOptions {
        workload: workload.name().to_string(),
        sparsity: args.sparsity,
        frames: args.frames,
        seed: args.seed,
        baselines: args.baselines,
        device: args.device.device(),
    }
}

fn run_workload_form(args: &SimArgs, workload: Workload) -> Result<()> {
    let mut outs = SimOutputs::plan(args, &[], &OUT_FILES)?;
    let opts = workload_options(args, workload);
    let cfg = load_config(args.config.as_deref())?;
    if !args.no_budget {
        check_device_budget(&cfg, opts.device)?;
    }
    let run = run_workload(&cfg, &opts)
        .with_context(|| format!("{} on configuration '{}'", opts.workload, cfg.name))?;
    let report = &run.report;
    // Everything is rendered before anything is written.
    let traces = TraceFiles {
        vcd: args.vcd.as_deref(),
        bram: args.bram_trace.as_deref(),
    };
    let trace_files = if traces.wanted() {
        workload_traces(&cfg, &opts, traces)
            .with_context(|| format!("{} on configuration '{}'", opts.workload, cfg.name))?
    } else {
        Vec::new()
    };
    // The report lists every frame: it is serialized as it is written.
    let json = |w: &mut dyn std::io::Write| -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, report)?;
        w.write_all(b"\n")
    };
    if let Some(dir) = outs.out_dir {
        outs.plan.dest_in(dir, OUT_FILES[0]).write_with(json)?;
        outs.plan
            .write_in(dir, OUT_FILES[1], report.to_csv().as_bytes())?;
        outs.plan
            .write_in(dir, OUT_FILES[2], utilization_svg(report)?.as_bytes())?;
        outs.plan
            .write_in(dir, OUT_FILES[3], stalls_svg(report)?.as_bytes())?;
        outs.plan
            .write_in(dir, OUT_FILES[4], render_svg(&report.gantt).as_bytes())?;
    }
    if let Some(out) = outs.json {
        outs.plan.dest(out).write_with(json)?;
    }
    outs.traces(&trace_files)?;
    print::out(&report.summary())?;
    if let Some(table) = report.baseline_table() {
        say!()?;
        print::out(&table)?;
    }
    outs.publish(args)
}

/// The traces of a workload's program over its frames: the same network,
/// program and frames as [`run_workload`], run on the machine for the timelines.
fn workload_traces(
    cfg: &bbs_sim::Config,
    opts: &WorkloadOptions,
    files: TraceFiles,
) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    traces_supported(cfg, files)?;
    let net = workloads::network(&opts.workload, cfg, opts.sparsity, opts.seed)?;
    let compiled = net.compile(cfg)?;
    let (program, matrices) = (compiled.program, compiled.matrices);
    let frames = workloads::frames(cfg, net.input(), opts.frames, opts.seed);
    let sim = simulate_program(cfg, &matrices, &program, &frames, opts.frames)?;
    render_traces(cfg, &matrices, &program, &sim.reports, files)
}

/// One entry of a `bbs prune --out-dir` manifest (`src/model_prune.rs`); other fields are ignored.
#[derive(Debug, Deserialize)]
struct ManifestLayer {
    name: String,
    shape: [usize; 2],
    csb: Option<String>,
    banks: usize,
    slots: usize,
}

/// The layers of a `bbs prune --out-dir` output: its manifest and CSB files,
/// checked against each other. Errors name the file.
pub fn load_model(dir: &Path) -> Result<Vec<ModelLayerInput>> {
    let path = dir.join("manifest.json");
    let text = bbs_compress::input::read_text(&path).with_context(|| {
        format!(
            "{}: cannot read (--model takes a `bbs prune --out-dir` output)",
            path.display()
        )
    })?;
    let entries: Vec<ManifestLayer> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a `bbs prune` manifest (a JSON list of layers with name, shape, csb, banks, slots)",
            path.display()
        )
    })?;
    if entries.is_empty() {
        bail!("{}: lists no layers", path.display());
    }
    entries
        .into_iter()
        .map(|e| {
            let Some(file) = e.csb else {
                bail!("{}: layer {}: no csb file", path.display(), e.name);
            };
            let p = dir.join(&file);
            let csb = Csb::read(&p).with_context(|| format!("layer {}", e.name))?;
            let (got_shape, got) = ([csb.rows, csb.cols], (csb.banks, csb.slots));
            if got_shape != e.shape || got != (e.banks, e.slots) {
                bail!(
                    "{}: layer {}: the manifest says shape {:?}, {} banks, {} slots; the file holds shape {:?}, {} banks, {} slots",
                    p.display(),
                    e.name,
                    e.shape,
                    e.banks,
                    e.slots,
                    got_shape,
                    got.0,
                    got.1
                );
            }
            Ok(ModelLayerInput {
                name: e.name,
                csb_file: file,
                csb,
            })
        })
        .collect()
}

fn run_model_form(args: &SimArgs, dir: &Path) -> Result<()> {
    let manifest = dir.join("manifest.json");
    let mut outs = SimOutputs::plan(args, &[("--model", &manifest)], &MODEL_OUT_FILES)?;
    let device = args.device.device();
    let cfg = load_config(args.config.as_deref())?;
    let layers = load_model(dir)?;
    for l in &layers {
        outs.plan.input("--model", &dir.join(&l.csb_file));
    }
    outs.plan.check()?;
    if !args.no_budget {
        check_device_budget(&cfg, device)?;
    }
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".into());
    let opts = ModelOptions {
        model: name,
        seed: args.seed,
        baselines: args.baselines,
        device,
        skip_unfit: args.skip_unfit,
    };
    let run = run_model(&cfg, &layers, &opts).map_err(|e| {
        let hint = match e {
            ReportError::Unfit { .. } => " (--skip-unfit skips such layers)",
            _ => "",
        };
        anyhow::Error::new(e).context(format!(
            "model '{}' on configuration '{}'{hint}",
            opts.model, cfg.name
        ))
    })?;
    let report = &run.report;
    // Everything is rendered before anything is written.
    let json = format!("{}\n", serde_json::to_string_pretty(report)?);
    if let Some(out) = outs.out_dir {
        outs.plan
            .write_in(out, MODEL_OUT_FILES[0], json.as_bytes())?;
        outs.plan
            .write_in(out, MODEL_OUT_FILES[1], report.to_csv().as_bytes())?;
    }
    if let Some(out) = outs.json {
        outs.plan.write(out, json.as_bytes())?;
    }
    print::out(&report.summary())?;
    if let Some(table) = report.baseline_table() {
        say!()?;
        print::out(&table)?;
    }
    outs.publish(args)
}

fn unit_color(unit: Unit) -> plotters::style::RGBColor {
    use plotters::style::RGBColor;
    match unit {
        Unit::Pe => RGBColor(31, 119, 180),
        Unit::Ewop => RGBColor(255, 127, 14),
        Unit::Act => RGBColor(44, 160, 44),
        Unit::Dma => RGBColor(148, 103, 189),
    }
}

/// Multiplier utilization over one frame: per instruction, the fraction of
/// the PE array's multipliers at work (bars), which unit runs it (the strip
/// below zero), and the frame's mean (dashed line).
pub fn utilization_svg(report: &WorkloadReport) -> Result<String> {
    use plotters::prelude::*;
    let frame = report.frames.first().expect("a report has a frame");
    let total = frame.cycles.max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "Multiplier utilization over one frame: {} on '{}' ({} cycles)",
                    report.workload.name, report.config_name, frame.cycles
                ),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..total, -12f64..105f64)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("cycle")
            .y_desc("PE array utilization (%)")
            .y_label_formatter(&|y| format!("{y:.0}"))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()?;
        for unit in [Unit::Pe, Unit::Ewop, Unit::Act, Unit::Dma] {
            let color = unit_color(unit);
            let entries: Vec<_> = report.timeline.iter().filter(|t| t.unit == unit).collect();
            let label = match unit {
                Unit::Pe => "PE array (spmv)",
                Unit::Ewop => "EWOP",
                Unit::Act => "ACT",
                Unit::Dma => "DMA (load, store)",
            };
            let bars = entries.iter().map(|t| {
                Rectangle::new(
                    [
                        (t.start as f64, 0.0),
                        ((t.start + t.cycles) as f64, t.pe_utilization * 100.0),
                    ],
                    color.mix(0.6).filled(),
                )
            });
            let strip = entries.iter().map(|t| {
                Rectangle::new(
                    [(t.start as f64, -10.0), ((t.start + t.cycles) as f64, -3.0)],
                    color.filled(),
                )
            });
            chart.draw_series(bars)?;
            chart
                .draw_series(strip)?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        let mean = frame.multiplier_utilization * 100.0;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, mean), (total, mean)],
                6,
                4,
                BLACK.stroke_width(1),
            ))?
            .label(format!("frame mean {mean:.1}%"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK.stroke_width(1)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

/// The SpMxV time of one frame per scheme, stacked by where it goes:
/// useful work, bank conflicts, load imbalance, underfill, vector load,
/// pipeline; each bar is labelled with its scheme and total cycles.
pub fn stalls_svg(report: &WorkloadReport) -> Result<String> {
    use plotters::prelude::*;
    let bars = report.stall_bars();
    let colors = [
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(255, 127, 14),
        RGBColor(188, 189, 34),
        RGBColor(148, 103, 189),
        RGBColor(127, 127, 127),
    ];
    let totals: Vec<f64> = bars
        .iter()
        .map(|(_, s)| s.parts().iter().map(|(_, v)| v).sum::<f64>())
        .collect();
    let ymax = totals.iter().copied().fold(1.0, f64::max) * 1.2;
    // Room below zero for the scheme names.
    let ymin = -0.08 * ymax;
    let n = bars.len() as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "SpMxV cycles per frame by scheme: {} on '{}'",
                    report.workload.name, report.config_name
                ),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(12)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5f64..n - 0.5, ymin..ymax)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_x_axis()
            .y_desc("cycles (multiplier-slots / (P K))")
            .y_label_formatter(&|y| {
                if *y >= 0.0 {
                    format!("{y:.0}")
                } else {
                    String::new()
                }
            })
            .draw()?;
        chart.draw_series(LineSeries::new(
            vec![(-0.5, 0.0), (n - 0.5, 0.0)],
            BLACK.stroke_width(1),
        ))?;
        for (part, color) in colors.iter().enumerate() {
            let name = bars.first().map_or("", |(_, s)| s.parts()[part].0);
            let rects: Vec<_> = bars
                .iter()
                .enumerate()
                .map(|(i, (_, s))| {
                    let parts = s.parts();
                    let base: f64 = parts[..part].iter().map(|(_, v)| v).sum();
                    let x = i as f64;
                    Rectangle::new(
                        [(x - 0.3, base), (x + 0.3, base + parts[part].1)],
                        color.filled(),
                    )
                })
                .collect();
            let color = *color;
            chart.draw_series(rects)?.label(name).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
            });
        }
        let centered = ("sans-serif", 14).into_font().color(&BLACK).pos(
            plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Center,
            ),
        );
        chart.draw_series(bars.iter().zip(&totals).enumerate().flat_map(
            |(i, ((name, _), &total))| {
                [
                    Text::new(name.clone(), (i as f64, ymin / 2.0), centered.clone()),
                    Text::new(
                        format!("{total:.0}"),
                        (i as f64, total + 0.04 * ymax),
                        centered.clone(),
                    ),
                ]
            },
        ))?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}
