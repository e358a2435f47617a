//! What a sweep writes: `sweep.csv`, `sweep.json`, `pareto.svg` and the
//! summary it prints.

use anyhow::Result;
use bbs_sim::Budget;
use serde::Serialize;
use std::fmt::Write as _;

use super::*;

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

/// The files `-o DIR` gets.
pub const OUT_FILES: [&str; 3] = ["sweep.csv", "sweep.json", "pareto.svg"];

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
