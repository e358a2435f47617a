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
//!
//! One file per concept: `plan` (arguments, grid, shards), `point` (one
//! design point and the grid's run), `outputs` (CSV, JSON, plot, summary)
//! and `shard` (the parts and their merge).

mod outputs;
mod plan;
mod point;
mod shard;

pub use outputs::*;
pub use plan::*;
pub use point::*;
use shard::*;

use anyhow::{bail, Result};

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
        let pb = crate::print::progress(range.len(), args.quiet, "sweeping");
        let points = sweep_range(&plan, range.clone(), &pb);
        pb.finish_and_clear();
        outputs.write_in(
            dir,
            SHARD_FILE,
            shard_json(&plan, shard, range.start, points)?.as_bytes(),
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
    let pb = crate::print::progress(plan.points(), args.quiet, "sweeping");
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
