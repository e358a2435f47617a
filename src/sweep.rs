//! `bbs sweep`: design-space exploration over PEs, banks and sparsity.
//!
//! For every point of `--pes x --banks x --sparsity` the base configuration
//! is specialized (PEs, banks, capacities grown to hold the workload), the
//! named workload is built at the point's banks and sparsity, its
//! steady-state frame is scheduled on the overlapped machine (every
//! `[overlap]` technique; `--overlap off`: the serialized machine) by the
//! cycle model ([`bbs_sim::report::ablation::steady_frame_of`]) and the
//! resources are estimated ([`bbs_sim::estimate`]). The results go to
//! `sweep.csv`, `sweep.json` and `pareto.svg` (latency against the combined
//! resource share, per sparsity, with the Pareto front); see `docs/sweep.md`.
//!
//! `--shard I/N` runs the I-th of N contiguous, equal parts of the grid (in
//! the output's row order) and writes `sweep-shard.json`: the plan and its
//! points. `bbs sweep merge DIR...` joins the N parts and writes what one
//! run writes, byte for byte (the Pareto front is marked over all points
//! at the merge).

use crate::cli::{self, DeviceName, Workload};
use anyhow::{bail, Result};
use bbs_sim::arith::ceil_log2;
use bbs_sim::report::ablation::steady_frame_of;
use bbs_sim::rnn::Network;
use bbs_sim::{check_budget, estimate, workloads, Budget, Config, Device, MatrixStorage, Overlap};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Version of the `sweep.json` layout and the `sweep.csv` columns; bump on any change.
pub const SWEEP_VERSION: u32 = 3;

/// The columns of `sweep.csv`, in order.
pub const CSV_COLUMNS: [&str; 20] = [
    "name",
    "pes",
    "banks",
    "sparsity",
    "max_rows",
    "max_cols",
    "max_slots",
    "cycles",
    "latency_us",
    "multiplier_utilization",
    "macs",
    "multipliers",
    "dsp_blocks",
    "block_rams",
    "logic",
    "resource_share",
    "fits_budget",
    "feasible",
    "pareto",
    "reason",
];

/// What the combined resource measure is, for the JSON and the plot.
pub const RESOURCE_MEASURE: &str = "resource_share = max(dsp_blocks / budget.dsp_blocks, block_rams / budget.block_rams, logic / budget.logic)";

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

/// One design point's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// `p<pes>-k<banks>-s<sparsity>`.
    pub name: String,
    pub pes: usize,
    pub banks: usize,
    pub sparsity: f64,
    /// The capacities of the derived configuration (absent when the workload could not be built).
    pub max_rows: Option<usize>,
    pub max_cols: Option<usize>,
    pub max_slots: Option<usize>,
    /// One steady-state frame: the interval between frames once they
    /// overlap (the serialized machine: the frame's cycles).
    pub cycles: Option<u64>,
    /// `cycles / host.clock_mhz`.
    pub latency_us: Option<f64>,
    /// `macs / (pes * banks * cycles)`.
    pub multiplier_utilization: Option<f64>,
    /// Multiply-accumulates on stored CSB weights in the frame.
    pub macs: Option<u64>,
    /// `pes * banks`.
    pub multipliers: usize,
    pub dsp_blocks: Option<usize>,
    pub block_rams: Option<usize>,
    /// ALMs (Intel) or CLB LUTs (Xilinx): [`bbs_sim::ResourceEstimate::logic`].
    pub logic: Option<usize>,
    /// See [`RESOURCE_MEASURE`].
    pub resource_share: Option<f64>,
    pub fits_budget: bool,
    /// Simulated without error and within the budget.
    pub feasible: bool,
    /// On the Pareto front of its sparsity (feasible points only).
    pub pareto: bool,
    /// Why the point is not feasible: the error, or the resources over budget.
    pub reason: Option<String>,
}

impl Point {
    fn new(pes: usize, banks: usize, sparsity: f64) -> Point {
        Point {
            name: point_name(pes, banks, sparsity),
            pes,
            banks,
            sparsity,
            max_rows: None,
            max_cols: None,
            max_slots: None,
            cycles: None,
            latency_us: None,
            multiplier_utilization: None,
            macs: None,
            multipliers: pes * banks,
            dsp_blocks: None,
            block_rams: None,
            logic: None,
            resource_share: None,
            fits_budget: false,
            feasible: false,
            pareto: false,
            reason: None,
        }
    }

    /// The exact resource share: the largest of `dsp / B_dsp`, `bram /
    /// B_bram` and `logic / B_logic` as a fraction, compared with [`Share::le`].
    fn resource_key(&self, budget: &Budget) -> Option<Share> {
        let shares = [
            Share::new(self.dsp_blocks?, budget.dsp_blocks),
            Share::new(self.block_rams?, budget.block_rams),
            Share::new(self.logic?, budget.logic),
        ];
        Some(
            shares[1..]
                .iter()
                .fold(shares[0], |max, &s| if max.le(s) { s } else { max }),
        )
    }
}

/// `needed / available` as an exact fraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Share {
    needed: u128,
    available: u128,
}

impl Share {
    fn new(needed: usize, available: usize) -> Share {
        Share {
            needed: needed as u128,
            available: available as u128,
        }
    }

    /// `self <= other`, by cross-multiplying (both sides fit in u128).
    fn le(self, other: Share) -> bool {
        self.needed * other.available <= other.needed * self.available
    }

    /// `self < other`.
    fn lt(self, other: Share) -> bool {
        !other.le(self)
    }
}

pub fn point_name(pes: usize, banks: usize, sparsity: f64) -> String {
    format!("p{pes}-k{banks}-s{sparsity}")
}

/// What a workload's matrices need of a configuration.
#[derive(Clone, Debug)]
struct Needs {
    rows: usize,
    cols: usize,
    slots: usize,
    /// (rows, slots) of every matrix, which share each PE's matrix memory.
    matrices: Vec<(usize, usize)>,
}

impl Needs {
    fn of(net: &Network) -> Needs {
        let m: Vec<(usize, usize, usize)> = net
            .matrices()
            .iter()
            .map(|c| (c.rows, c.cols, c.slots))
            .collect();
        Needs {
            rows: m.iter().map(|x| x.0).max().unwrap_or(1),
            cols: m.iter().map(|x| x.1).max().unwrap_or(1),
            slots: m.iter().map(|x| x.2).max().unwrap_or(1),
            matrices: m.iter().map(|x| (x.0, x.2)).collect(),
        }
    }
}

/// The point's configuration: the base with `pes` and `banks`, its
/// `[overlap]` replaced by every technique (`overlapped`) or none, the
/// accumulator widened to the banks' guard bits if needed, and the
/// capacities grown (never shrunk) until the workload fits:
///
/// * `max_rows`, `max_cols`: at least the largest matrix (and `max_cols >= banks`);
/// * `max_slots`: the base's value capped at the bank depth
///   `ceil(max_cols / banks)`, at least the largest matrix's slots, and at
///   least what all matrices together need in each PE's matrix memory
///   (`sum ceil(rows / pes) * slots <= ceil(max_rows / pes) * max_slots`);
///   when that exceeds the bank depth, `max_rows` grows instead.
fn derive(
    base: &Config,
    needs: &Needs,
    pes: usize,
    banks: usize,
    sparsity: f64,
    overlap: Overlap,
) -> Config {
    let mut cfg = base.clone();
    // The flag, not the base's own [overlap] section, picks the machine.
    cfg.overlap = overlap;
    cfg.name = point_name(pes, banks, sparsity).replace('.', "_");
    cfg.pes = pes;
    cfg.banks = banks;
    // Beyond 64 bits the configuration is invalid and the point fails, naming acc_width.
    cfg.acc_width = cfg.acc_width.max(2 * cfg.value_width + ceil_log2(banks));
    cfg.max_rows = cfg.max_rows.max(needs.rows);
    cfg.max_cols = cfg.max_cols.max(needs.cols).max(banks);
    let depth = cfg.bank_depth();
    cfg.max_slots = cfg.max_slots.min(depth).max(needs.slots);
    let words: usize = needs
        .matrices
        .iter()
        .map(|&(rows, slots)| bbs_sim::arch::placement::matrix_words(pes, rows, slots))
        .sum();
    if cfg.rows_per_pe() * cfg.max_slots < words {
        cfg.max_slots = cfg
            .max_slots
            .max(words.div_ceil(cfg.rows_per_pe()).min(depth));
    }
    if cfg.rows_per_pe() * cfg.max_slots < words {
        cfg.max_rows = words.div_ceil(cfg.max_slots) * pes;
    }
    cfg
}

/// Simulate and estimate one point.
fn run_point(
    plan: &Plan,
    net: &Network,
    needs: &Needs,
    pes: usize,
    banks: usize,
    sparsity: f64,
) -> Point {
    let mut p = Point::new(pes, banks, sparsity);
    let cfg = derive(&plan.base, needs, pes, banks, sparsity, plan.switches());
    // The overlapped machine's vector memory, one part per writer, as large
    // as the program needs (docs/architecture.md).
    let cfg = if cfg.overlap.units {
        match bbs_sim::overlap::compile::fit_memory(net, &cfg) {
            Ok(c) => c,
            Err(e) => {
                p.reason = Some(e.to_string());
                return p;
            }
        }
    } else {
        cfg
    };
    p.max_rows = Some(cfg.max_rows);
    p.max_cols = Some(cfg.max_cols);
    p.max_slots = Some(cfg.max_slots);
    match estimate(&cfg, plan.device) {
        Ok(est) => {
            p.dsp_blocks = Some(est.dsp_blocks);
            p.block_rams = Some(est.block_rams);
            p.logic = Some(est.logic);
            let b = &plan.budget;
            p.resource_share = Some(
                (est.dsp_blocks as f64 / b.dsp_blocks as f64)
                    .max(est.block_rams as f64 / b.block_rams as f64)
                    .max(est.logic as f64 / b.logic as f64),
            );
            match check_budget(&est, &plan.budget) {
                Ok(()) => p.fits_budget = true,
                Err(e) => p.reason = Some(format!("over budget: {e}")),
            }
        }
        Err(e) => {
            p.reason = Some(e.to_string());
            return p;
        }
    }
    match steady_frame_of(&cfg, net) {
        Ok(f) => {
            p.cycles = Some(f.cycles);
            p.latency_us = Some(f.cycles as f64 / cfg.host.clock_mhz as f64);
            p.multiplier_utilization = Some(f.multipliers_busy(&cfg));
            p.macs = Some(f.macs as u64);
            p.feasible = p.fits_budget;
        }
        Err(e) => p.reason = Some(e.to_string()),
    }
    p
}

/// Mark the Pareto front of each sparsity: a feasible point is on it when no
/// feasible point of the same sparsity has at most its cycles and at most
/// its resource share, and less of one of them.
pub fn mark_pareto(points: &mut [Point], budget: &Budget) {
    let keys: Vec<Option<(u64, Share)>> = points
        .iter()
        .map(|p| {
            if p.feasible {
                Some((p.cycles?, p.resource_key(budget)?))
            } else {
                None
            }
        })
        .collect();
    let flags: Vec<bool> = (0..points.len())
        .map(|i| {
            let Some((c, r)) = keys[i] else {
                return false;
            };
            !(0..points.len()).any(|j| {
                points[j].sparsity == points[i].sparsity
                    && keys[j].is_some_and(|(cj, rj)| cj <= c && rj.le(r) && (cj < c || rj.lt(r)))
            })
        })
        .collect();
    for (p, f) in points.iter_mut().zip(flags) {
        p.pareto = f;
    }
}

fn progress(len: usize, quiet: bool) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    if quiet || !std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    } else {
        pb.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        pb.set_message("sweeping");
    }
    pb
}

/// Run every point of the plan; rows ordered by sparsity, banks, then PEs.
pub fn sweep(plan: &Plan, pb: &ProgressBar) -> Vec<Point> {
    let mut points = sweep_range(plan, 0..plan.points(), pb);
    mark_pareto(&mut points, &plan.budget);
    points
}

/// The points `range` of the plan's grid (in [`sweep`]'s order), their
/// Pareto flags not yet marked.
pub fn sweep_range(plan: &Plan, range: std::ops::Range<usize>, pb: &ProgressBar) -> Vec<Point> {
    let n_pes = plan.pes.len();
    // Each (sparsity, banks) group with the PEs of it in the range.
    let groups: Vec<(f64, usize, Vec<usize>)> = plan
        .sparsity
        .iter()
        .flat_map(|&s| plan.banks.iter().map(move |&k| (s, k)))
        .enumerate()
        .map(|(g, (s, k))| {
            let pes: Vec<usize> = (0..n_pes)
                .filter(|j| range.contains(&(g * n_pes + j)))
                .map(|j| plan.pes[j])
                .collect();
            (s, k, pes)
        })
        .filter(|(_, _, pes)| !pes.is_empty())
        .collect();
    // One network per (banks, sparsity), shared by its PEs; the groups and
    // the points in them run in parallel, so only a few networks are alive.
    groups
        .par_iter()
        .flat_map_iter(|(sparsity, banks, pes)| {
            let (sparsity, banks) = (*sparsity, *banks);
            let mut gcfg = plan.base.clone();
            gcfg.banks = banks;
            let points: Vec<Point> =
                match workloads::network(&plan.workload, &gcfg, sparsity, plan.seed) {
                    Ok(net) => {
                        let needs = Needs::of(&net);
                        pes.par_iter()
                            .map(|&pes| {
                                let p = run_point(plan, &net, &needs, pes, banks, sparsity);
                                pb.inc(1);
                                p
                            })
                            .collect()
                    }
                    Err(e) => pes
                        .iter()
                        .map(|&pes| {
                            let mut p = Point::new(pes, banks, sparsity);
                            p.reason = Some(e.to_string());
                            pb.inc(1);
                            p
                        })
                        .collect(),
                };
            points
        })
        .collect()
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// `sweep.csv`: a header of [`CSV_COLUMNS`], then one row per point.
pub fn to_csv(points: &[Point]) -> String {
    let rows = points.iter().map(|p| {
        [
            p.name.clone(),
            p.pes.to_string(),
            p.banks.to_string(),
            p.sparsity.to_string(),
            opt(p.max_rows),
            opt(p.max_cols),
            opt(p.max_slots),
            opt(p.cycles),
            opt(p.latency_us.map(|v| format!("{v:.4}"))),
            opt(p.multiplier_utilization.map(|v| format!("{v:.6}"))),
            opt(p.macs),
            p.multipliers.to_string(),
            opt(p.dsp_blocks),
            opt(p.block_rams),
            opt(p.logic),
            opt(p.resource_share.map(|v| format!("{v:.6}"))),
            p.fits_budget.to_string(),
            p.feasible.to_string(),
            p.pareto.to_string(),
            p.reason.clone().unwrap_or_default(),
        ]
    });
    bbs_sim::report::csv_string(&CSV_COLUMNS, rows)
}

#[derive(Serialize)]
struct ParetoSet<'a> {
    sparsity: f64,
    /// Ordered by resource share.
    points: Vec<&'a str>,
}

#[derive(Serialize)]
struct SweepJson<'a> {
    sweep_version: u32,
    bbs_version: &'static str,
    workload: &'a str,
    seed: u64,
    base_config: &'a str,
    /// The machine scheduled, `overlapped` or `serialized`: [`Plan::machine`].
    machine: &'static str,
    clock_mhz: u32,
    device: &'a str,
    device_label: &'a str,
    budget: Budget,
    resource_measure: &'static str,
    columns: &'static [&'static str],
    points: &'a [Point],
    pareto: Vec<ParetoSet<'a>>,
}

/// The Pareto points of one sparsity, by resource share then cycles.
fn pareto_of(points: &[Point], sparsity: f64) -> Vec<&Point> {
    let mut v: Vec<&Point> = points
        .iter()
        .filter(|p| p.pareto && p.sparsity == sparsity)
        .collect();
    v.sort_by(|a, b| {
        a.resource_share
            .partial_cmp(&b.resource_share)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cycles.cmp(&b.cycles))
            .then(a.name.cmp(&b.name))
    });
    v
}

pub fn to_json(plan: &Plan, points: &[Point]) -> Result<String> {
    let doc = SweepJson {
        sweep_version: SWEEP_VERSION,
        bbs_version: env!("CARGO_PKG_VERSION"),
        workload: &plan.workload,
        seed: plan.seed,
        base_config: &plan.base.name,
        machine: plan.machine(),
        clock_mhz: plan.base.host.clock_mhz,
        device: plan.device_name,
        device_label: plan.device.label(),
        budget: plan.budget,
        resource_measure: RESOURCE_MEASURE,
        columns: &CSV_COLUMNS,
        points,
        pareto: plan
            .sparsity
            .iter()
            .map(|&s| ParetoSet {
                sparsity: s,
                points: pareto_of(points, s)
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect(),
            })
            .collect(),
    };
    Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?))
}

/// Series colours, one per sparsity (cycled).
const COLORS: [(u8, u8, u8); 8] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (23, 190, 207),
];

/// Latency (log scale) against resource share, one colour per sparsity:
/// feasible points as rings, the Pareto front filled and connected.
pub fn plot_svg(plan: &Plan, points: &[Point]) -> Result<String> {
    use plotters::prelude::*;
    let feasible: Vec<&Point> = points.iter().filter(|p| p.feasible).collect();
    let xy = |p: &Point| {
        (
            p.resource_share.unwrap_or(0.0) * 100.0,
            p.latency_us.unwrap_or(0.0),
        )
    };
    let x1 = feasible
        .iter()
        .map(|p| xy(p).0)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.1;
    let (lo, hi) = feasible
        .iter()
        .map(|p| xy(p).1)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
    let (y0, y1) = if lo.is_finite() && lo > 0.0 {
        // From a power of ten, where the log axis puts its first label.
        (10f64.powf((lo / 1.2).log10().floor()), hi * 1.2)
    } else {
        (1.0, 1000.0)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 540)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "{}: latency against resources, {}",
                    plan.workload,
                    plan.device.label()
                ),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x1, (y0..y1).log_scale())?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .y_labels(20)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .x_desc(format!(
                "resource share, % of budget (max of {} DSP, {} block RAMs, {} {})",
                plan.budget.dsp_blocks,
                plan.budget.block_rams,
                plan.budget.logic,
                plan.device.logic_unit()
            ))
            .y_desc("latency per frame (us)")
            .draw()?;
        for (i, &s) in plan.sparsity.iter().enumerate() {
            let (r, g, b) = COLORS[i % COLORS.len()];
            let color = RGBColor(r, g, b);
            let all: Vec<(f64, f64)> = feasible
                .iter()
                .filter(|p| p.sparsity == s)
                .map(|p| xy(p))
                .collect();
            chart.draw_series(
                all.iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, color.stroke_width(1))),
            )?;
            let front: Vec<(f64, f64)> = pareto_of(points, s).into_iter().map(xy).collect();
            chart
                .draw_series(LineSeries::new(front.clone(), color.stroke_width(2)))?
                .label(format!("sparsity {s}: Pareto front (filled)"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart.draw_series(
                front
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 5, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

/// The printed summary: counts and the Pareto set of each sparsity.
pub fn summary(plan: &Plan, points: &[Point]) -> String {
    let feasible = points.iter().filter(|p| p.feasible).count();
    let over = points
        .iter()
        .filter(|p| p.dsp_blocks.is_some() && !p.fits_budget)
        .count();
    let failed = points.iter().filter(|p| p.cycles.is_none()).count();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} on the {} machine, {} (budget {} DSP, {} block RAMs, {} {}): {} points, {} feasible ({} over budget, {} failed)",
        plan.workload,
        plan.machine(),
        plan.device.label(),
        plan.budget.dsp_blocks,
        plan.budget.block_rams,
        plan.budget.logic,
        plan.device.logic_unit(),
        points.len(),
        feasible,
        over,
        failed
    );
    for &sp in &plan.sparsity {
        let front = pareto_of(points, sp);
        let _ = writeln!(s, "Pareto set at sparsity {sp} ({} points):", front.len());
        for p in front {
            let _ = writeln!(
                s,
                "  {:<20} {:>10.2} us {:>6} DSP {:>6} BRAM {:>8} {} {:>6.1}% of budget, utilization {:.1}%",
                p.name,
                p.latency_us.unwrap_or(0.0),
                p.dsp_blocks.unwrap_or(0),
                p.block_rams.unwrap_or(0),
                p.logic.unwrap_or(0),
                plan.device.logic_unit(),
                p.resource_share.unwrap_or(0.0) * 100.0,
                p.multiplier_utilization.unwrap_or(0.0) * 100.0
            );
        }
    }
    s
}

/// `bbs sweep` (and `bbs sweep merge`).
pub fn run(args: &SweepArgs) -> Result<()> {
    if let Some(SweepCommand::Merge { dirs, output }) = &args.command {
        return merge(dirs, output);
    }
    let Some(output) = &args.output else {
        bail!("missing --output");
    };
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let mut outputs = bbs_compress::OutputPlan::new();
    if let Some(c) = &args.config {
        outputs.input("--config", c);
    }
    let dir = outputs.dir("-o", output)?;
    let files: &[&str] = if shard.is_some() {
        &[SHARD_FILE]
    } else {
        &OUT_FILES
    };
    for f in files {
        outputs.part(dir, f);
    }
    outputs.check()?;
    let plan = Plan::from_args(args)?;
    if let Some(shard) = shard {
        let range = shard.range(plan.points());
        let pb = progress(range.len(), args.quiet);
        let points = sweep_range(&plan, range.clone(), &pb);
        pb.finish_and_clear();
        let doc = ShardFile {
            sweep_shard_version: SHARD_VERSION,
            bbs_version: env!("CARGO_PKG_VERSION").to_string(),
            shard,
            points_total: plan.points(),
            first_point: range.start,
            plan: StoredPlan::of(&plan),
            points,
        };
        outputs.write_in(
            dir,
            SHARD_FILE,
            format!("{}\n", serde_json::to_string_pretty(&doc)?).as_bytes(),
        )?;
        outputs.publish()?;
        crate::print::out(&format!(
            "shard {}/{}: points {}..{} of {} ({} here); join the parts with `bbs sweep merge`\n",
            shard.index,
            shard.count,
            range.start,
            range.end,
            plan.points(),
            range.len()
        ))?;
        crate::print::wrote(output)?;
        return Ok(());
    }
    let pb = progress(plan.points(), args.quiet);
    let points = sweep(&plan, &pb);
    pb.finish_and_clear();
    write_outputs(outputs, dir, &plan, &points)?;
    crate::print::out(&summary(&plan, &points))?;
    crate::print::wrote(output)?;
    Ok(())
}

fn write_outputs(
    mut outputs: bbs_compress::OutputPlan,
    dir: bbs_compress::Out,
    plan: &Plan,
    points: &[Point],
) -> Result<()> {
    let files = [
        to_csv(points),
        to_json(plan, points)?,
        plot_svg(plan, points)?,
    ];
    for (name, text) in OUT_FILES.iter().zip(&files) {
        outputs.write_in(dir, name, text.as_bytes())?;
    }
    outputs.publish()?;
    Ok(())
}

/// The file a `--shard` run writes.
pub const SHARD_FILE: &str = "sweep-shard.json";

/// Version of `sweep-shard.json`; bump on any change.
pub const SHARD_VERSION: u32 = 1;

/// What a shard needs to rebuild the plan at the merge, on any machine:
/// the base configuration travels as TOML.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct StoredPlan {
    workload: String,
    pes: Vec<usize>,
    banks: Vec<usize>,
    sparsity: Vec<f64>,
    device: String,
    budget: Budget,
    seed: u64,
    overlap: bool,
    #[serde(default)]
    interleaved: bool,
    base_config: String,
}

impl StoredPlan {
    fn of(plan: &Plan) -> StoredPlan {
        StoredPlan {
            workload: plan.workload.clone(),
            pes: plan.pes.clone(),
            banks: plan.banks.clone(),
            sparsity: plan.sparsity.clone(),
            device: plan.device_name.to_string(),
            budget: plan.budget,
            seed: plan.seed,
            overlap: plan.overlap,
            interleaved: plan.interleaved,
            base_config: plan.base.to_toml(),
        }
    }

    fn plan(&self, origin: &str) -> Result<Plan> {
        let device = <DeviceName as clap::ValueEnum>::from_str(&self.device, false)
            .map_err(|_| anyhow::anyhow!("{origin}: unknown device {:?}", self.device))?;
        Ok(Plan {
            base: Config::from_toml_str(&self.base_config, origin)?,
            workload: self.workload.clone(),
            pes: self.pes.clone(),
            banks: self.banks.clone(),
            sparsity: self.sparsity.clone(),
            device: device.device(),
            device_name: device.name(),
            budget: self.budget,
            seed: self.seed,
            overlap: self.overlap,
            interleaved: self.interleaved,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct ShardFile {
    sweep_shard_version: u32,
    bbs_version: String,
    shard: Shard,
    points_total: usize,
    first_point: usize,
    plan: StoredPlan,
    points: Vec<Point>,
}

/// `bbs sweep merge DIR... -o OUT`.
fn merge(dirs: &[PathBuf], output: &Path) -> Result<()> {
    let mut outputs = bbs_compress::OutputPlan::new();
    for d in dirs {
        outputs.input("DIR", &d.join(SHARD_FILE));
    }
    let dir = outputs.dir("-o", output)?;
    for f in OUT_FILES {
        outputs.part(dir, f);
    }
    outputs.check()?;
    let mut shards: Vec<(PathBuf, ShardFile)> = Vec::new();
    for d in dirs {
        let path = d.join(SHARD_FILE);
        let text = bbs_compress::input::read_text(&path).map_err(|e| {
            anyhow::anyhow!("{}: {e} (not a `bbs sweep --shard` output)", path.display())
        })?;
        let doc: ShardFile = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: not a sweep shard: {e}", path.display()))?;
        if doc.sweep_shard_version != SHARD_VERSION {
            bail!(
                "{}: sweep_shard_version {} is not {SHARD_VERSION}",
                path.display(),
                doc.sweep_shard_version
            );
        }
        shards.push((path, doc));
    }
    shards.sort_by_key(|(_, d)| d.shard.index);
    let (first_path, first) = &shards[0];
    for (path, doc) in &shards[1..] {
        let what = if doc.plan != first.plan {
            Some("another sweep (its options or base configuration differ)")
        } else if doc.shard.count != first.shard.count {
            Some("a different number of parts")
        } else if doc.bbs_version != first.bbs_version {
            Some("another bbs version")
        } else {
            None
        };
        if let Some(what) = what {
            bail!(
                "{}: is part of {what} than {}",
                path.display(),
                first_path.display()
            );
        }
    }
    let count = first.shard.count;
    Shard::check_complete(
        &shards
            .iter()
            .map(|(p, d)| (p.display().to_string(), d.shard))
            .collect::<Vec<_>>(),
    )?;
    let plan = first.plan.plan(&first_path.display().to_string())?;
    let mut points = Vec::with_capacity(first.points_total);
    for (path, doc) in &shards {
        let range = doc.shard.range(doc.points_total);
        if doc.first_point != range.start || doc.points.len() != range.len() {
            bail!(
                "{}: holds {} points from {}, part {}/{} of {} is {} from {}",
                path.display(),
                doc.points.len(),
                doc.first_point,
                doc.shard.index,
                count,
                doc.points_total,
                range.len(),
                range.start
            );
        }
        points.extend(doc.points.iter().cloned());
    }
    mark_pareto(&mut points, &plan.budget);
    write_outputs(outputs, dir, &plan, &points)?;
    crate::print::out(&summary(&plan, &points))?;
    crate::print::wrote(output)?;
    Ok(())
}

/// The files `-o DIR` gets.
pub const OUT_FILES: [&str; 3] = ["sweep.csv", "sweep.json", "pareto.svg"];
