//! One design point: the configuration specialized, the workload scheduled
//! and estimated; the grid run in parallel and its Pareto front.

use bbs_sim::arith::ceil_log2;
use bbs_sim::report::ablation::steady_frame_of;
use bbs_sim::rnn::Network;
use bbs_sim::{check_budget, estimate, workloads, Budget, Config, Overlap};
use indicatif::ProgressBar;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::*;

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
