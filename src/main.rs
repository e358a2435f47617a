//! `bbs`: prune trained weights into bank-balanced sparsity, simulate the
//! accelerator, generate its Verilog and verify it in Verilator.

use anyhow::{bail, Context, Result};
use bbs::flow;
use bbs_compress::{read_vector, write_bytes_atomic, write_npy_atomic, Csb};
use bbs_sim::{simulate_spmv, Config};
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
    /// Prune a trained weight matrix into bank-balanced sparsity and write it as CSB.
    Prune {
        /// Weights: .npy, .npz or .safetensors.
        weights: PathBuf,
        /// Tensor name inside .npz/.safetensors (optional when the file holds one).
        #[arg(long)]
        tensor: Option<String>,
        /// Fraction of weights to remove, in [0, 1).
        #[arg(long, default_value_t = 0.75, allow_negative_numbers = true)]
        sparsity: f64,
        /// Banks per row (default: the configuration's `banks`).
        #[arg(long)]
        banks: Option<usize>,
        /// Accelerator configuration (TOML) giving the fixed-point format; default: built-in.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output CSB file.
        #[arg(short, long)]
        output: PathBuf,
        /// Also write the pruned dense matrix (float32) here.
        #[arg(long)]
        pruned: Option<PathBuf>,
        /// Also write the mask (uint8, 1 = kept) here.
        #[arg(long)]
        mask: Option<PathBuf>,
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
    /// Simulate y = W x on the accelerator: fixed-point output, cycles, utilization.
    Sim {
        csb: PathBuf,
        /// Input vector .npy: float (quantized to the configuration's format) or integer (fixed-point).
        input: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
        /// Write the fixed-point output (int32) here.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Write the JSON report here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Generate the Verilog and its testbench for a configuration.
    Hdl {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output directory (gets rtl/ and tb/).
        #[arg(short, long)]
        output: PathBuf,
        /// Also write the testbench's memory files for this matrix (into OUTPUT/run).
        #[arg(long, requires = "input")]
        csb: Option<PathBuf>,
        /// The input vector for --csb.
        #[arg(long, requires = "csb")]
        input: Option<PathBuf>,
    },
    /// Generate, lint, build in Verilator and compare the RTL with the simulator.
    Verify {
        csb: PathBuf,
        input: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
        /// Work directory for the design, the build and the run.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Run the whole flow on the built-in default: a real trained LSTM matrix.
    Demo {
        /// Where to put the files.
        #[arg(short, long, default_value = "bbs-demo-out")]
        output: PathBuf,
    },
}

fn load_config(path: &Option<PathBuf>) -> Result<Config> {
    Ok(match path {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    })
}

fn read_csb(path: &Path) -> Result<Csb> {
    Ok(Csb::read(path)?)
}

fn load_vector(path: &Path, cfg: &Config) -> Result<Vec<i64>> {
    let v = read_vector(path)?;
    let (x, saturated) = flow::fixed_vector(&v, cfg);
    if saturated > 0 {
        eprintln!(
            "warning: {}: {saturated} element(s) saturated to Q{}.{}",
            path.display(),
            cfg.value_width,
            cfg.frac_bits
        );
    }
    Ok(x)
}

fn print_prune(s: &flow::PruneSummary, output: &Path) {
    let c = &s.csb;
    println!(
        "pruned {}x{} into {} banks of {} columns, {} kept per bank: sparsity {:.4}",
        c.rows, c.cols, c.banks, c.bank_size, c.slots, s.achieved_sparsity
    );
    if s.saturated > 0 {
        println!(
            "warning: {} weight(s) saturated to Q{}.{}",
            s.saturated, c.format.width, c.format.frac
        );
    }
    println!("wrote {}", output.display());
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Prune {
            weights,
            tensor,
            sparsity,
            banks,
            config,
            output,
            pruned,
            mask,
        } => {
            let cfg = load_config(&config)?;
            let s = flow::prune_to_csb(&flow::PruneRequest {
                weights: &weights,
                tensor: tensor.as_deref(),
                sparsity,
                banks: banks.unwrap_or(cfg.banks),
                format: cfg.format(),
                output: &output,
                pruned_out: pruned.as_deref(),
                mask_out: mask.as_deref(),
            })?;
            print_prune(&s, &output);
        }
        Command::Decode { csb, output, fixed } => {
            let c = read_csb(&csb)?;
            if fixed {
                let dense = c.to_dense_fixed().mapv(|v| v as i32);
                write_npy_atomic(&output, &dense)?;
            } else {
                write_npy_atomic(&output, &c.to_dense_f32())?;
            }
            println!("wrote {} ({}x{})", output.display(), c.rows, c.cols);
        }
        Command::Sim {
            csb,
            input,
            config,
            output,
            json,
        } => {
            let cfg = load_config(&config)?;
            let c = read_csb(&csb)?;
            let x = load_vector(&input, &cfg)?;
            let run = simulate_spmv(&cfg, &c, &x).with_context(|| input.display().to_string())?;
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
                write_npy_atomic(&p, &y)?;
                println!("wrote {}", p.display());
            }
            if let Some(p) = json {
                write_bytes_atomic(&p, format!("{report}\n").as_bytes())?;
                println!("wrote {}", p.display());
            }
        }
        Command::Hdl {
            config,
            output,
            csb,
            input,
        } => {
            let cfg = load_config(&config)?;
            let design = bbs_hdlgen::generate(&cfg)?;
            // Check the matrix and vector before writing anything.
            let run_inputs = match (csb, input) {
                (Some(csb), Some(input)) => {
                    let c = read_csb(&csb)?;
                    let x = load_vector(&input, &cfg)?;
                    simulate_spmv(&cfg, &c, &x).with_context(|| input.display().to_string())?;
                    Some((c, x))
                }
                _ => None,
            };
            let files = bbs_hdlgen::write_design(&design, &output)?;
            for f in &files {
                println!("wrote {}", f.display());
            }
            if let Some((c, x)) = run_inputs {
                let run_dir = output.join("run");
                std::fs::create_dir_all(&run_dir)
                    .with_context(|| format!("{}: cannot create", run_dir.display()))?;
                bbs_hdlgen::memfiles::write_run_files(&cfg, &c, &x, &run_dir)?;
                println!(
                    "wrote the testbench's memory files to {}",
                    run_dir.display()
                );
            }
        }
        Command::Verify {
            csb,
            input,
            config,
            output,
        } => {
            let cfg = load_config(&config)?;
            let c = read_csb(&csb)?;
            let x = load_vector(&input, &cfg)?;
            simulate_spmv(&cfg, &c, &x).with_context(|| input.display().to_string())?;
            let build = flow::build_rtl(&cfg, &output)?;
            let (_, v) = flow::cosimulate(&cfg, &build, &c, &x, &output.join("run"))?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            if !v.bit_exact {
                bail!(
                    "RTL and simulator differ on {} of {} rows",
                    v.mismatched_rows,
                    v.rows
                );
            }
        }
        Command::Demo { output } => bbs::demo::run(&output)?,
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print and succeed; usage errors exit 1 like all bad input.
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
