//! The ESE LSTM itself on Verilator: `bbs verify --workload ese-lstm --config
//! hw/configs/ese-a10.toml --frames 2` builds the 1024-multiplier design
//! (64 PEs x 16) and runs two frames of the ESE program, state carried: every
//! stored value bit-exact against the simulator and the same cycles (about
//! three minutes on two cores, most of it the Verilator build;
//! `scripts/verify-ese.sh` runs the same outside the tests). Beside it the
//! overlapped machine `hw/configs/ese-a10-overlap.toml` runs its own program
//! (frames overlapping, every technique on) the same way (about two
//! minutes: its vector load reads only the words the program loads, which
//! keeps the model small).
//!
//! Under `CI=true` a missing Verilator fails the test; elsewhere it is skipped
//! with a message.

use bbs_sim::rnn::run_sequence;
use bbs_sim::{workloads, Config};
use std::path::PathBuf;
use std::process::Command;

const FRAMES: usize = 2;

/// `bbs verify --workload ese-lstm --config hw/configs/<name>.toml --frames
/// 2`, its report checked: both frames' 1024 outputs bit-exact, the RTL's
/// cycles the simulator's.
fn verify_ese(name: &str) -> serde_json::Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = root.join(format!("hw/configs/{name}.toml"));
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bbs"))
        .args(["verify", "--workload", "ese-lstm", "--config"])
        .arg(&config)
        .args(["--frames", &FRAMES.to_string(), "-o"])
        .arg(work.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    eprintln!("{v}");
    assert_eq!(v["config"], name);
    assert_eq!(v["bit_exact"], true, "{v}");
    assert_eq!(v["mismatched_rows"], 0, "{v}");
    // Both frames' outputs (512 values each) were compared.
    assert_eq!(v["rows"], 1024, "{v}");
    assert_eq!(v["cycle_error_pct"], 0.0, "{v}");
    assert_eq!(v["rtl_cycles"], v["sim_cycles"], "{v}");
    v
}

#[test]
fn the_ese_frame_is_bit_exact_with_zero_cycle_error_on_verilator() {
    if !bbs_hdlgen::verilator::available_for_test("the ESE verification") {
        return;
    }
    let v = verify_ese("ese-a10");
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hw/configs/ese-a10.toml");

    // The simulator's cycles are the ESE frame's, twice (the serialized
    // machine runs every frame in the same cycles).
    let cfg = Config::from_file(&config).unwrap();
    let net = workloads::network("ese-lstm", &cfg, 0.875, 1).unwrap();
    let frames = workloads::frames(&cfg, net.input(), FRAMES, 1);
    let run = run_sequence(&cfg, &net, &frames).unwrap();
    let total: u64 = run.frames.iter().map(|f| f.cycles).sum();
    assert_eq!(v["sim_cycles"], total, "{v}");
}

/// The overlapped ESE machine: its frames overlap, so two frames take less
/// than twice the first.
#[test]
fn the_overlapped_ese_frames_are_bit_exact_with_zero_cycle_error_on_verilator() {
    if !bbs_hdlgen::verilator::available_for_test("the overlapped ESE verification") {
        return;
    }
    let v = verify_ese("ese-a10-overlap");
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hw/configs/ese-a10-overlap.toml");
    let cfg = Config::from_file(&config).unwrap();
    let net = workloads::network("ese-lstm", &cfg, 0.875, 1).unwrap();
    let frames = workloads::frames(&cfg, net.input(), 1, 1);
    let one = run_sequence(&cfg, &net, &frames).unwrap();
    let first: u64 = one.frames.iter().map(|f| f.cycles).sum();
    let both = v["sim_cycles"].as_u64().unwrap();
    assert!(
        first < both && both < 2 * first,
        "{first} then {both} cycles for two frames"
    );
}
