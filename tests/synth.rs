//! Yosys synthesis of the smallest reference configuration (`hw/configs/tiny.toml`,
//! a few seconds): the report parses and the design maps to DSPs, flip-flops
//! and LUTs, and the simulator's Xilinx estimate is within 20% of Yosys for
//! DSPs, block RAMs, logic LUTs, flip-flops and LUTRAM LUTs; the table is
//! printed (run with `--nocapture` to see it; docs/synthesis.md has the
//! measured numbers).
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
    println!(
        "{version}\n{}estimate LUTRAM LUTs: {}",
        yosys::comparison_table(&report, &est),
        est.lutram_luts
    );
    assert_eq!(report.target, "xilinx");
    assert_eq!(report.top, "bbs_top");
    assert!(report.tool.starts_with("Yosys"), "{}", report.tool);
    assert!(report.dsps > 0, "no DSPs: {:?}", report.cells);
    assert!(report.flip_flops > 0, "no flip-flops: {:?}", report.cells);
    assert!(report.luts > 0, "no LUTs: {:?}", report.cells);
    assert!(report.block_rams > 0.0, "no block RAMs: {:?}", report.cells);
    // tiny has one multiplier per bank, 8 x 8 bits: one DSP48E1 each.
    assert_eq!(report.dsps as usize, est.multipliers);
    // The Xilinx estimate (LUTRAM for memories <= 128 deep, multiplier stages
    // in the DSP48s) is within 20% of Yosys (docs/synthesis.md: 0%, +1%, +9%,
    // -10% with Yosys 0.23), and so is the distributed RAM.
    let within = |name: &str, yosys: f64, estimate: f64| {
        let error = (estimate - yosys) / yosys;
        assert!(
            error.abs() <= 0.2,
            "{name}: estimate {estimate} vs yosys {yosys} ({:+.1}%)",
            100.0 * error
        );
    };
    within("DSPs", report.dsps as f64, est.dsp_blocks as f64);
    within("block RAMs", report.block_rams, est.block_rams as f64);
    within("LUTs (logic)", report.luts as f64, est.luts as f64);
    within("flip-flops", report.flip_flops as f64, est.registers as f64);
    within(
        "LUTRAM LUTs",
        report.lutram_luts as f64,
        est.lutram_luts as f64,
    );
}
