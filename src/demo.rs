//! `bbs demo`: the whole flow on a built-in default, a real trained LSTM
//! matrix (silero-vad's `lstm_cell.weight_hh`, 512 x 128, MIT licence, shipped
//! in `data/silero-vad/`) on the default configuration.

use crate::flow;
use crate::say;
use anyhow::{Context, Result};
use bbs_compress::OutputPlan;
use bbs_hdlgen::verilator;
use bbs_sim::{simulate_spmv, Config};
use std::path::Path;

/// The shipped weights, embedded (once, in bbs-eval) so the demo runs from
/// any directory and from an installed binary.
const SILERO_VAD: &[u8] = bbs_eval::data::SILERO_WEIGHTS;
pub const DEMO_TENSOR: &str = "lstm_cell.weight_hh";
pub const DEMO_SPARSITY: f64 = 0.75;

/// The demo's input: a deterministic stand-in for an LSTM hidden state, in (-1, 1).
pub fn demo_input(len: usize) -> ndarray::Array1<f32> {
    ndarray::Array1::from_iter((0..len).map(|j| (0.9 * (0.37 * j as f64 + 0.1).sin()) as f32))
}

pub fn run(out: &Path) -> Result<()> {
    let cfg = Config::default();
    // Everything but Verilator's build is staged and published together.
    let mut plan = OutputPlan::new();
    let dir = plan.dir("-o", out)?;
    plan.owned(dir, "hdl/obj_dir");
    plan.check()?;
    let weights = plan.staged_path_in(dir, "silero_vad_16k.safetensors")?;
    std::fs::write(&weights, SILERO_VAD)
        .with_context(|| format!("{}: cannot write", out.display()))?;

    // 1. prune
    let pruned = flow::prune_to_csb(&flow::PruneRequest {
        weights: &weights,
        tensor: Some(DEMO_TENSOR),
        sparsity: DEMO_SPARSITY,
        banks: cfg.banks,
        format: cfg.format(),
        keep_pruned: true,
    })?;
    let csb = pruned.csb;
    let p = pruned.pruned.as_ref().expect("kept");
    csb.write_into(plan.dest_in(dir, "lstm_weight_hh.csb"))?;
    plan.dest_in(dir, "lstm_weight_hh_pruned.npy")
        .write_npy(&p.pruned())?;
    plan.dest_in(dir, "lstm_weight_hh_mask.npy")
        .write_npy(&p.mask())?;

    // 2. simulate
    let x_in = demo_input(csb.cols);
    plan.dest_in(dir, "x.npy").write_npy(&x_in)?;
    let x = flow::fixed_vector(&bbs_compress::Vector::Float(x_in), &cfg).0;
    let sim = simulate_spmv(&cfg, &csb, &x)?;
    let y = ndarray::Array1::from_iter(sim.output.iter().map(|&v| v as i32));
    plan.dest_in(dir, "y_sim.npy").write_npy(&y)?;
    let report = serde_json::to_string_pretty(&sim.report)?;
    plan.write_in(dir, "sim.json", format!("{report}\n").as_bytes())?;

    // 3. generate
    let hdl_dir = out.join("hdl");
    let design = bbs_hdlgen::generate(&cfg)?;
    for f in &design.files {
        plan.write_in(
            dir,
            &format!("hdl/{}", f.path.to_string_lossy()),
            f.contents.as_bytes(),
        )?;
    }
    plan.publish()?;

    // 4. verify, in hdl/ (Verilator's build in hdl/obj_dir, the run in hdl/run)
    let verdict = match verilator::version() {
        Some(version) => {
            let build = flow::build_design(&design, &hdl_dir, false)?;
            let (_, v) = flow::cosimulate(&cfg, &build, &csb, &x, &hdl_dir.join("run"))?;
            Some((version, v))
        }
        None => None,
    };

    let r = &sim.report;
    say!(
        "bbs demo: silero-vad {DEMO_TENSOR} ({}x{}) on configuration '{}'",
        csb.rows,
        csb.cols,
        cfg.name
    )?;
    say!(
        "  pruned    {} banks x {} kept of {}: sparsity {:.1}%",
        csb.banks,
        csb.slots,
        csb.bank_size,
        pruned.achieved_sparsity * 100.0
    )?;
    say!(
        "  simulated {} PEs x {} multipliers: {} cycles (compute bound {:.0}), utilization {:.1}%",
        cfg.pes,
        cfg.banks,
        r.cycles.total,
        r.compute_bound,
        r.utilization * 100.0
    )?;
    match &verdict {
        Some((version, v)) => say!(
            "  verified  {version}: program load x; spmv; store y: bit-exact {}, RTL {} cycles vs simulator {} ({:.2}% error)",
            if v.bit_exact { "yes" } else { "NO" },
            v.rtl_cycles,
            v.sim_cycles,
            v.cycle_error_pct
        )?,
        None => say!(
            "  verified  skipped: Verilator is not installed (apt-get install verilator, or run the README's test command)"
        )?,
    }
    say!("  files     {}", bbs_compress::shown_path(out))?;
    if let Some((_, v)) = verdict {
        anyhow::ensure!(
            v.bit_exact,
            "RTL and simulator differ on {} of {} rows",
            v.mismatched_rows,
            v.rows
        );
    }
    Ok(())
}
