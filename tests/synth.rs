//! Yosys synthesis of two small whole machines against the simulator's
//! resource estimate (docs/synthesis.md has the measured table):
//!
//! - `tiny` (`hw/configs/tiny.toml`): one PE, one EWOP lane, one element per
//!   beat, so its 2048-element vector memory has one write port and maps to
//!   distributed RAM;
//! - `mini` (`hw/synth/mini.toml`): two PEs, two lanes, two elements per
//!   beat, so its 256-element vector memory has two write ports and is built
//!   of two banks of distributed RAM with one write port each (bbs_vmem.v),
//!   as in every larger configuration; no register file.
//!
//! - `mini-overlap` (`hw/synth/mini-overlap.toml`): mini with every overlap
//!   technique on: the issue stage (issue lists, wait table, start-cycle
//!   tables) and a vector memory in one part per writer, each of
//!   distributed RAM with one write port, the EWOP part split in the words
//!   the vector load reads and the rest (`overlap.loadable`).
//!
//! tiny and mini are synthesized for Xilinx (`synth_xilinx`) and Intel
//! (`synth_intel_alm`), mini-overlap for Xilinx (Yosys's Intel flow takes
//! over ten minutes on it: docs/synthesis.md), two runs at a time. The
//! estimate must be within 20% of Yosys for DSPs, block RAMs, logic LUTs,
//! flip-flops and LUTRAM LUTs on Xilinx, and for DSPs, block RAMs,
//! flip-flops and LUTRAM on Intel; Intel logic LUTs are printed, not
//! asserted (the estimate's LUT rules are LUT6-oriented and Yosys's Intel
//! flow spends more: docs/synthesis.md). Run with `--nocapture` to see the tables.
//!
//! Under `CI=true` a missing Yosys fails the test; elsewhere it is skipped
//! with a message (scripts/test.sh installs it).

use bbs_hdlgen::yosys::{self, SynthReport, Target};
use bbs_sim::resources::{estimate, ResourceEstimate};
use bbs_sim::Config;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config(path: &str) -> Config {
    Config::from_file(&root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The estimate within 20% of Yosys (both 0 counts as equal).
fn within(what: &str, yosys: f64, estimate: f64) -> Result<(), String> {
    if yosys == 0.0 && estimate == 0.0 {
        return Ok(());
    }
    let error = (estimate - yosys) / yosys;
    if error.abs() <= 0.2 {
        Ok(())
    } else {
        Err(format!(
            "{what}: estimate {estimate} vs yosys {yosys} ({:+.1}%)",
            100.0 * error
        ))
    }
}

/// What must agree within 20% for `target`, as (resource, yosys, estimate).
fn compared(
    target: Target,
    r: &SynthReport,
    e: &ResourceEstimate,
) -> Vec<(&'static str, f64, f64)> {
    let mut v = vec![
        ("DSPs", r.dsps as f64, e.dsp_blocks as f64),
        ("block RAMs", r.block_rams, e.block_rams as f64),
        ("flip-flops", r.flip_flops as f64, e.registers as f64),
        ("LUTRAM LUTs", r.lutram_luts as f64, e.lutram_luts as f64),
    ];
    if target == Target::Xilinx {
        v.push(("LUTs (logic)", r.luts as f64, e.luts as f64));
    }
    v
}

type Run = (String, Target, SynthReport, Duration);

fn synthesize(cfg: &Config, target: Target) -> Run {
    let began = Instant::now();
    let report = yosys::synthesize_config(cfg, target, Duration::from_secs(300))
        .unwrap_or_else(|e| panic!("{} {}: {e}", cfg.name, target.name()));
    (cfg.name.clone(), target, report, began.elapsed())
}

#[test]
fn small_machines_synthesize_within_20_percent_of_the_estimate() {
    let Some(version) = yosys::version() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "CI=true and yosys is not installed: the synthesis test cannot be skipped in CI"
            );
        }
        eprintln!("skipped: yosys is not installed (Debian: apt-get install yosys)");
        return;
    };
    let tiny = config("hw/configs/tiny.toml");
    let mini = config("hw/synth/mini.toml");
    let overlapped = config("hw/synth/mini-overlap.toml");
    // Two runs at a time: the two longest (mini on Intel, the overlapped
    // mini on Xilinx) beside each other.
    let runs: Vec<Run> = std::thread::scope(|s| {
        let long = s.spawn(|| {
            vec![
                synthesize(&mini, Target::Intel),
                synthesize(&tiny, Target::Intel),
            ]
        });
        let rest = s.spawn(|| {
            vec![
                synthesize(&overlapped, Target::Xilinx),
                synthesize(&mini, Target::Xilinx),
                synthesize(&tiny, Target::Xilinx),
            ]
        });
        let mut runs = rest.join().unwrap();
        runs.extend(long.join().unwrap());
        runs
    });
    println!("{version}");
    let mut failures = Vec::new();
    for (name, target, report, took) in &runs {
        let cfg = match name.as_str() {
            "tiny" => &tiny,
            "mini" => &mini,
            _ => &overlapped,
        };
        let est = estimate(cfg, target.device()).unwrap();
        println!(
            "\n{name}, {} ({:.1} s)\n{}",
            target.name(),
            took.as_secs_f64(),
            yosys::comparison_table(report, &est)
        );
        assert_eq!(report.target, target.name());
        assert_eq!(report.top, "bbs_top");
        assert!(report.tool.starts_with("Yosys"), "{}", report.tool);
        assert!(report.dsps > 0, "no DSPs: {:?}", report.cells);
        assert!(report.luts > 0, "no LUTs: {:?}", report.cells);
        assert!(report.block_rams > 0.0, "no block RAMs: {:?}", report.cells);
        assert!(report.lutram_luts > 0, "no LUTRAM: {:?}", report.cells);
        // The vector memory as the estimate maps it, and Yosys agreeing:
        // distributed RAM, never flip-flops: tiny's one bank of 2048 x 8 with
        // 3 read ports, mini's two banks of 128 x 8 with 4 read ports each,
        // the overlapped mini's five memories of two banks (four parts, the
        // EWOP one split; a register file of its 256 x 8 elements would be
        // 2048 flip-flops).
        let parts: Vec<_> = est
            .memories
            .iter()
            .filter(|m| {
                m.name == "vector" || m.name.starts_with("vector_") && m.name != "vector_bank"
            })
            .collect();
        assert!(parts.iter().all(|m| m.mode != "flip-flops"), "{parts:?}");
        let (memories, banks, min_lutram, max_ffs) = match name.as_str() {
            "tiny" => (1, 1, 1024, 2048),
            "mini" => (1, 2, 128, 256 * 8),
            _ => (5, 2, 128, 256 * 8),
        };
        assert_eq!(parts.len(), memories, "{parts:?}");
        assert!(parts.iter().all(|m| m.instances == banks), "{parts:?}");
        assert!(report.lutram_luts >= min_lutram, "{:?}", report.cells);
        assert!(report.flip_flops < max_ffs, "{:?}", report.cells);
        for (what, y, e) in compared(*target, report, &est) {
            if let Err(m) = within(what, y, e) {
                failures.push(format!("{name} {}: {m}", target.name()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "estimate off by more than 20%:\n{}",
        failures.join("\n")
    );
}

#[test]
fn within_fails_past_20_percent() {
    assert!(within("x", 100.0, 120.0).is_ok());
    assert!(within("x", 100.0, 80.0).is_ok());
    assert!(within("x", 0.0, 0.0).is_ok());
    assert!(within("x", 100.0, 121.0).is_err());
    assert!(within("x", 100.0, 79.0).is_err());
    assert!(within("x", 0.0, 1.0).is_err());
}
