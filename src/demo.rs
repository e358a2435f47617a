//! `bbs demo`: the whole flow on a built-in default, a real trained LSTM
//! matrix (silero-vad's `lstm_cell.weight_hh`, 512 x 128, MIT licence, shipped
//! in `data/silero-vad/`) on the default configuration.

use crate::flow;
use anyhow::{Context, Result};
use bbs_compress::write_npy_atomic;
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
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let weights = out.join("silero_vad_16k.safetensors");
    bbs_compress::write_bytes_atomic(&weights, SILERO_VAD)?;

    // 1. prune
    let csb_path = out.join("lstm_weight_hh.csb");
    let pruned = flow::prune_to_csb(&flow::PruneRequest {
        weights: &weights,
        tensor: Some(DEMO_TENSOR),
        sparsity: DEMO_SPARSITY,
        banks: cfg.banks,
        format: cfg.format(),
        output: &csb_path,
        pruned_out: Some(&out.join("lstm_weight_hh_pruned.npy")),
        mask_out: Some(&out.join("lstm_weight_hh_mask.npy")),
    })?;
    let csb = pruned.csb;

    // 2. simulate
    let x_path = out.join("x.npy");
    write_npy_atomic(&x_path, &demo_input(csb.cols))?;
    let x = flow::fixed_vector(&bbs_compress::read_vector(&x_path)?, &cfg).0;
    let sim = simulate_spmv(&cfg, &csb, &x)?;
    let y = ndarray::Array1::from_iter(sim.output.iter().map(|&v| v as i32));
    write_npy_atomic(&out.join("y_sim.npy"), &y)?;
    let report = serde_json::to_string_pretty(&sim.report)?;
    bbs_compress::write_bytes_atomic(&out.join("sim.json"), format!("{report}\n").as_bytes())?;

    // 3. generate, 4. verify
    let hdl_dir = out.join("hdl");
    let design = bbs_hdlgen::generate(&cfg)?;
    bbs_hdlgen::write_design(&design, &hdl_dir)?;
    let verdict = match verilator::version() {
        Some(version) => {
            let build = flow::build_rtl(&cfg, &hdl_dir)?;
            let (_, v) = flow::cosimulate(&cfg, &build, &csb, &x, &hdl_dir.join("run"))?;
            Some((version, v))
        }
        None => None,
    };

    let r = &sim.report;
    println!(
        "bbs demo: silero-vad {DEMO_TENSOR} ({}x{}) on configuration '{}'",
        csb.rows, csb.cols, cfg.name
    );
    println!(
        "  pruned    {} banks x {} kept of {}: sparsity {:.1}%",
        csb.banks,
        csb.slots,
        csb.bank_size,
        pruned.achieved_sparsity * 100.0
    );
    println!(
        "  simulated {} PEs x {} multipliers: {} cycles (compute bound {:.0}), utilization {:.1}%",
        cfg.pes,
        cfg.banks,
        r.cycles.total,
        r.compute_bound,
        r.utilization * 100.0
    );
    match &verdict {
        Some((version, v)) => println!(
            "  verified  {version}: program load x; spmv; store y: bit-exact {}, RTL {} cycles vs simulator {} ({:.2}% error)",
            if v.bit_exact { "yes" } else { "NO" },
            v.rtl_cycles,
            v.sim_cycles,
            v.cycle_error_pct
        ),
        None => println!(
            "  verified  skipped: Verilator is not installed (apt-get install verilator, or run the README's test command)"
        ),
    }
    println!("  files     {}", out.display());
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
