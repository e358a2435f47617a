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
//!   `--out-dir` gets `report.json`, `layers.csv`, `utilization.svg` and
//!   `stalls.svg` (all or nothing); the traces cover every frame.
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
use crate::flow::{load_config, load_vector, simulate_program};
use crate::staging::write_dir_atomic;
use anyhow::{bail, Context, Result};
use bbs_compress::{write_bytes_atomic, write_npy_atomic, Csb};
use bbs_hdlgen::memfiles::spmv_program;
use bbs_sim::machine::{Program, RunReport, Unit};
use bbs_sim::report::{
    resources, run_model, run_workload, ModelLayerInput, ModelOptions, ReportError,
    WorkloadOptions, WorkloadReport,
};
use bbs_sim::resources::Device;
use bbs_sim::trace;
use bbs_sim::{simulate_spmv, workloads};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Defaults of the workload form.
pub const DEFAULT_SPARSITY: f64 = 0.875;
pub const DEFAULT_FRAMES: usize = 4;
pub const DEFAULT_SEED: u64 = 1;

/// The files `--out-dir` gets.
pub const OUT_FILES: [&str; 4] = ["report.json", "layers.csv", "utilization.svg", "stalls.svg"];

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
    #[arg(long, default_value_t = DEFAULT_FRAMES, value_parser = cli::at_least_1,
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
    /// Workload: write report.json, layers.csv, utilization.svg and stalls.svg here; model: report.json and layers.csv.
    #[arg(long, conflicts_with_all = ["csb", "input"])]
    pub out_dir: Option<PathBuf>,
    /// Run every layer of a pruned model instead: a `bbs prune --out-dir` directory (its manifest.json).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Model: skip the layers the configuration cannot hold (listed in the report) instead of failing.
    #[arg(long, conflicts_with_all = ["csb", "input", "workload"])]
    pub skip_unfit: bool,
    /// Workload, model: run even when the configuration exceeds the device's DSP or block-RAM budget.
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
        (None, None, Some(csb), Some(input)) => run_spmv(
            csb,
            input,
            args.config.as_deref(),
            args.output.as_deref(),
            args.json.as_deref(),
            TraceFiles {
                vcd: args.vcd.as_deref(),
                bram: args.bram_trace.as_deref(),
            },
        ),
        _ => bail!(
            "give M.csb X.npy (one SpMxV), --workload NAME (one of {}) or --model DIR (a `bbs prune --out-dir` output)",
            workloads::NAMES.join(", ")
        ),
    }
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

/// One SpMxV: print the cycle report, optionally write the output, the JSON
/// and the traces of the program `load x; spmv; store y`.
fn run_spmv(
    csb: &Path,
    input: &Path,
    config: Option<&Path>,
    output: Option<&Path>,
    json: Option<&Path>,
    traces: TraceFiles,
) -> Result<()> {
    let cfg = load_config(config)?;
    let c = Csb::read(csb)?;
    let x = load_vector(input, &cfg)?;
    let run = simulate_spmv(&cfg, &c, &x).with_context(|| input.display().to_string())?;
    // The traces are rendered before anything is written.
    let trace_files = if traces.wanted() {
        let program = spmv_program(&c);
        let matrices = std::slice::from_ref(&c);
        let sim = simulate_program(&cfg, matrices, &program, std::slice::from_ref(&x), 1)
            .with_context(|| input.display().to_string())?;
        render_traces(&cfg, matrices, &program, &sim.reports, traces)?
    } else {
        Vec::new()
    };
    let r = &run.report;
    println!(
        "{}x{} on '{}' ({} PEs x {} banks): {} cycles (start {}, load {}, compute {}, drain {}), compute bound {:.1}, utilization {:.1}%",
        r.rows, r.cols, r.config, r.pes, r.banks, r.cycles.total, r.cycles.start, r.cycles.load,
        r.cycles.compute, r.cycles.drain, r.compute_bound, r.utilization * 100.0
    );
    for pe in &r.pe {
        println!(
            "  PE {:>3}: {:>5} rows, {:>7} busy cycles, utilization {:.1}%",
            pe.pe,
            pe.rows,
            pe.busy_cycles,
            pe.utilization * 100.0
        );
    }
    let report = serde_json::to_string_pretty(r)?;
    println!("{report}");
    if let Some(p) = output {
        let y = ndarray::Array1::from_iter(run.output.iter().map(|&v| v as i32));
        write_npy_atomic(p, &y)?;
        println!("wrote {}", p.display());
    }
    if let Some(p) = json {
        write_bytes_atomic(p, format!("{report}\n").as_bytes())?;
        println!("wrote {}", p.display());
    }
    for (p, bytes) in &trace_files {
        write_bytes_atomic(p, bytes)?;
        println!("wrote {}", p.display());
    }
    Ok(())
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
    let json = format!("{}\n", serde_json::to_string_pretty(report)?);
    let files: Vec<(&str, String)> = match &args.out_dir {
        Some(_) => vec![
            (OUT_FILES[0], json.clone()),
            (OUT_FILES[1], report.to_csv()),
            (OUT_FILES[2], utilization_svg(report)?),
            (OUT_FILES[3], stalls_svg(report)?),
        ],
        None => Vec::new(),
    };
    print!("{}", report.summary());
    if let Some(table) = report.baseline_table() {
        println!();
        print!("{table}");
    }
    if let Some(dir) = &args.out_dir {
        write_dir_atomic(dir, &files)?;
        println!("wrote {}", dir.display());
    }
    if let Some(p) = &args.json {
        write_bytes_atomic(p, json.as_bytes())?;
        println!("wrote {}", p.display());
    }
    for (p, bytes) in &trace_files {
        write_bytes_atomic(p, bytes)?;
        println!("wrote {}", p.display());
    }
    Ok(())
}

/// The traces of a workload's program over its frames: the same network,
/// program and frames as [`run_workload`], run on the machine for the timelines.
fn workload_traces(
    cfg: &bbs_sim::Config,
    opts: &WorkloadOptions,
    files: TraceFiles,
) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let net = workloads::network(&opts.workload, cfg, opts.sparsity, opts.seed)?;
    let program = net.program(cfg)?;
    let frames = workloads::frames(cfg, net.input(), opts.frames, opts.seed);
    let matrices = net.matrices();
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
    let text = std::fs::read_to_string(&path).with_context(|| {
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
    let device = args.device.device();
    let cfg = load_config(args.config.as_deref())?;
    let layers = load_model(dir)?;
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
    print!("{}", report.summary());
    if let Some(table) = report.baseline_table() {
        println!();
        print!("{table}");
    }
    if let Some(out) = &args.out_dir {
        let files = [
            (MODEL_OUT_FILES[0], json.clone()),
            (MODEL_OUT_FILES[1], report.to_csv()),
        ];
        write_dir_atomic(out, &files)?;
        println!("wrote {}", out.display());
    }
    if let Some(p) = &args.json {
        write_bytes_atomic(p, json.as_bytes())?;
        println!("wrote {}", p.display());
    }
    Ok(())
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
