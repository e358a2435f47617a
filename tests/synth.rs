//! Yosys synthesis of the smallest reference configuration (`hw/configs/tiny.toml`,
//! a few seconds): the report parses and the design maps to DSPs, flip-flops
//! and LUTs; the table beside the simulator's estimate is printed (run with
//! `--nocapture` to see it; docs/synthesis.md has the measured numbers).
//!
//! Under `CI=true` a missing Yosys fails the test; elsewhere it is skipped
//! with a message (scripts/test.sh installs it).

use bbs_hdlgen::yosys::{self, Target};
use bbs_sim::Config;
use std::path::PathBuf;
use std::time::Duration;

#[test]
fn tiny_synthesizes_for_xilinx() {
    let Some(version) = yosys::version() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "CI=true and yosys is not installed: the synthesis test cannot be skipped in CI"
            );
        }
        eprintln!("skipped: yosys is not installed (Debian: apt-get install yosys)");
        return;
    };
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hw/configs/tiny.toml");
    let cfg = Config::from_file(&path).unwrap();
    let report = yosys::synthesize_config(&cfg, Target::Xilinx, Duration::from_secs(300))
        .unwrap_or_else(|e| panic!("{e}"));
    let est = bbs_sim::resources::estimate(&cfg, Target::Xilinx.device()).unwrap();
    println!("{version}\n{}", yosys::comparison_table(&report, &est));
    assert_eq!(report.target, "xilinx");
    assert_eq!(report.top, "bbs_top");
    assert!(report.tool.starts_with("Yosys"), "{}", report.tool);
    assert!(report.dsps > 0, "no DSPs: {:?}", report.cells);
    assert!(report.flip_flops > 0, "no flip-flops: {:?}", report.cells);
    assert!(report.luts > 0, "no LUTs: {:?}", report.cells);
    assert!(report.block_rams > 0.0, "no block RAMs: {:?}", report.cells);
    // tiny has one multiplier per bank, 8 x 8 bits: one DSP48E1 each.
    assert_eq!(report.dsps as usize, est.multipliers);
}
