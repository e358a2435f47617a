//! `--shard I/N` parts and `bbs sweep merge`: the plan travels with the
//! points, and the merge writes what one run writes, byte for byte.

use crate::cli::DeviceName;
use anyhow::{bail, Result};
use bbs_sim::{Budget, Config};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::*;

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

/// The `sweep-shard.json` of `shard`: the plan and the points of its part,
/// the first of them point `first_point` of the grid.
pub(super) fn shard_json(
    plan: &Plan,
    shard: Shard,
    first_point: usize,
    points: Vec<Point>,
) -> Result<String> {
    let doc = ShardFile {
        sweep_shard_version: SHARD_VERSION,
        bbs_version: env!("CARGO_PKG_VERSION").to_string(),
        shard,
        points_total: plan.points(),
        first_point,
        plan: StoredPlan::of(plan),
        points,
    };
    Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?))
}

/// `bbs sweep merge DIR... -o OUT`.
pub(super) fn merge(dirs: &[PathBuf], output: &Path) -> Result<()> {
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
