//! The grid a sweep runs: its arguments, the parsed plan and `--shard I/N`.

use crate::cli::{self, DeviceName, Workload};
use anyhow::{bail, Result};
use bbs_sim::{Budget, Config, Device, MatrixStorage, Overlap};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    /// Base accelerator configuration (TOML); default: built-in. Every point
    /// takes its format, pipeline, EWOP, memory and host settings.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Named workload.
    #[arg(long, value_name = "NAME", value_enum, default_value_t = Workload::EseLstm)]
    pub workload: Workload,
    /// PEs per point, comma-separated.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "8,16,32,64",
        allow_hyphen_values = true
    )]
    pub pes: String,
    /// Banks (multipliers per PE) per point, comma-separated.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "4,8,16",
        allow_hyphen_values = true
    )]
    pub banks: String,
    /// Sparsities in [0, 1), comma-separated.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "0.5,0.75,0.875",
        allow_hyphen_values = true
    )]
    pub sparsity: String,
    /// Device family for the resource estimate.
    #[arg(long, value_name = "DEVICE", value_enum, default_value_t = DeviceName::IntelM20k)]
    pub device: DeviceName,
    /// DSP budget (default: Arria 10 GX1150's 1518 for intel-m20k, XCKU060's 2760 for xilinx-ramb36).
    #[arg(long, value_name = "N", value_parser = cli::at_least_1, allow_negative_numbers = true)]
    pub budget_dsp: Option<usize>,
    /// Block-RAM budget (default: 2713 M20K for intel-m20k, 1080 RAMB36 for xilinx-ramb36).
    #[arg(long, value_name = "N", value_parser = cli::at_least_1, allow_negative_numbers = true)]
    pub budget_bram: Option<usize>,
    /// Logic budget (default: 427200 ALMs for intel-m20k, 331680 CLB LUTs for xilinx-ramb36).
    #[arg(long, value_name = "N", value_parser = cli::at_least_1, allow_negative_numbers = true)]
    pub budget_logic: Option<usize>,
    /// The machine scheduled: `on`, the overlapped machine (every
    /// `[overlap]` technique of the ablation up to the next frame's input
    /// ahead, whatever the base configuration says); `interleaved`, that
    /// machine with bank-interleaved vectors and the two-wide vector load
    /// (points whose vectors do not fill whole bank rows are infeasible);
    /// or `off`, the serialized one. Points with matrices in DRAM run serialized.
    #[arg(long, value_name = "on|interleaved|off", value_enum, default_value_t = OverlapSwitch::On)]
    pub overlap: OverlapSwitch,
    /// Seed of the workload's random weights.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = cli::count,
          allow_negative_numbers = true)]
    pub seed: u64,
    /// Run only the I-th of N equal parts of the grid (I from 0) and write
    /// DIR/sweep-shard.json, for `bbs sweep merge` (a job array's task).
    #[arg(long, value_name = "I/N", allow_hyphen_values = true)]
    pub shard: Option<String>,
    /// Output directory: sweep.csv, sweep.json, pareto.svg (with --shard:
    /// sweep-shard.json). Required (optional only to let `merge` parse).
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum SweepCommand {
    /// Join the parts of a sweep run with --shard into the outputs of one
    /// run (sweep.csv, sweep.json, pareto.svg, byte for byte).
    Merge {
        /// The shards' output directories, every part once, in any order.
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Output directory.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
}

/// `--shard I/N`: part `index` of `count`, 0 <= index < count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || {
            anyhow::anyhow!(
                "--shard: '{text}' is not I/N with 0 <= I < N (e.g. 0/4 for the first of four parts)"
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The points of a grid of `total` this part runs: contiguous, the
    /// parts' sizes differing by at most one.
    pub fn range(self, total: usize) -> std::ops::Range<usize> {
        total * self.index / self.count..total * (self.index + 1) / self.count
    }
    /// Checks that `parts` (each file's name and part, sorted by index, of
    /// one `count`) hold every part of `0..count` exactly once.
    pub fn check_complete(parts: &[(String, Shard)]) -> Result<()> {
        for w in parts.windows(2) {
            if w[0].1.index == w[1].1.index {
                bail!(
                    "{} and {}: both are part {}/{}",
                    w[0].0,
                    w[1].0,
                    w[0].1.index,
                    w[0].1.count
                );
            }
        }
        let count = parts.first().map_or(0, |(_, s)| s.count);
        if let Some(missing) = (0..count).find(|i| !parts.iter().any(|(_, s)| s.index == *i)) {
            bail!(
                "part {missing}/{count} is missing: give every part (have {})",
                parts
                    .iter()
                    .map(|(_, s)| s.index.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Ok(())
    }
}

/// `--overlap`: which machine a sweep schedules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OverlapSwitch {
    On,
    Interleaved,
    Off,
}

/// A checked sweep request.
#[derive(Clone, Debug)]
pub struct Plan {
    pub base: Config,
    pub workload: String,
    /// Sorted ascending, no duplicates.
    pub pes: Vec<usize>,
    pub banks: Vec<usize>,
    pub sparsity: Vec<f64>,
    pub device: Device,
    pub device_name: &'static str,
    pub budget: Budget,
    pub seed: u64,
    /// `--overlap on` or `interleaved`; the machine actually scheduled is
    /// [`Plan::overlapped`].
    pub overlap: bool,
    /// `--overlap interleaved`.
    pub interleaved: bool,
}

fn parse_list<T>(
    option: &str,
    text: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            bail!("--{option}: '{text}' has an empty item (give comma-separated values)");
        }
        out.push(parse(item).map_err(|m| anyhow::anyhow!("--{option}: {m}"))?);
    }
    Ok(out)
}

fn parse_count(item: &str, range: std::ops::RangeInclusive<usize>) -> Result<usize, String> {
    // Wider than usize, so a negative number is a range error.
    let v: i128 = item
        .parse()
        .map_err(|_| format!("'{item}' is not a whole number"))?;
    if !(*range.start() as i128..=*range.end() as i128).contains(&v) {
        return Err(format!(
            "{v} is outside {}..={}",
            range.start(),
            range.end()
        ));
    }
    Ok(v as usize)
}

fn parse_sparsity(item: &str) -> Result<f64, String> {
    let v: f64 = item
        .parse()
        .map_err(|_| format!("'{item}' is not a number"))?;
    if !v.is_finite() || !(0.0..1.0).contains(&v) {
        return Err(format!("{item} is outside [0, 1)"));
    }
    // -0 and 0 are the same point.
    Ok(if v == 0.0 { 0.0 } else { v })
}

impl Plan {
    /// Check every option; errors name the option.
    pub fn from_args(args: &SweepArgs) -> Result<Plan> {
        let mut pes = parse_list("pes", &args.pes, |s| parse_count(s, 1..=256))?;
        let mut banks = parse_list("banks", &args.banks, |s| parse_count(s, 1..=64))?;
        let mut sparsity = parse_list("sparsity", &args.sparsity, parse_sparsity)?;
        pes.sort_unstable();
        pes.dedup();
        banks.sort_unstable();
        banks.dedup();
        sparsity.sort_by(f64::total_cmp);
        sparsity.dedup();
        let device = args.device.device();
        let (_, default_budget) = bbs_sim::report::device_budget(device);
        let budget = Budget {
            dsp_blocks: args.budget_dsp.unwrap_or(default_budget.dsp_blocks),
            block_rams: args.budget_bram.unwrap_or(default_budget.block_rams),
            logic: args.budget_logic.unwrap_or(default_budget.logic),
        };
        let base = match &args.config {
            Some(p) => Config::from_file(p).map_err(|e| anyhow::anyhow!("--config: {e}"))?,
            None => Config::default(),
        };
        Ok(Plan {
            base,
            workload: args.workload.name().to_string(),
            pes,
            banks,
            sparsity,
            device,
            device_name: args.device.name(),
            budget,
            seed: args.seed,
            overlap: args.overlap != OverlapSwitch::Off,
            interleaved: args.overlap == OverlapSwitch::Interleaved,
        })
    }

    pub fn points(&self) -> usize {
        self.pes.len() * self.banks.len() * self.sparsity.len()
    }

    /// Whether the points are scheduled on the overlapped machine: with
    /// `--overlap on` and the base's matrices on chip (the overlapped
    /// machine does not stream them from DRAM, so a DRAM base runs
    /// serialized whatever the flag says).
    pub fn overlapped(&self) -> bool {
        self.overlap && self.base.memory.matrix == MatrixStorage::Onchip
    }

    /// The `[overlap]` switches every point is scheduled with.
    pub fn switches(&self) -> Overlap {
        match (self.overlapped(), self.interleaved) {
            (false, _) => Overlap::default(),
            (true, false) => Overlap::all(),
            (true, true) => Overlap::interleaved(),
        }
    }

    /// `overlapped` (`, bank-interleaved`) or `serialized`: [`Plan::overlapped`].
    pub fn machine(&self) -> &'static str {
        if self.overlapped() && self.interleaved {
            "overlapped, bank-interleaved"
        } else if self.overlapped() {
            "overlapped"
        } else {
            "serialized"
        }
    }
}
