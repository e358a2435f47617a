//! The `bbs` program on good and bad input: every bad input gets a one-line
//! error naming the file or field, exit code 1, and no output file.

use bbs_compress::write_npy_atomic;
use ndarray::{Array1, Array2, Array3};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SILERO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/silero-vad/silero_vad_16k.safetensors"
);

fn bbs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bbs"))
        .args(args)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Assert a clean failure: exit code 1, one `error:` line containing every
/// `needle`, no panic, and none of `outputs` on disk.
fn assert_fails(out: &Output, needles: &[&str], outputs: &[&Path]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("warning:"))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(lines[0].contains(n), "'{n}' missing from: {}", lines[0]);
    }
    for p in outputs {
        assert!(!p.exists(), "{} was left behind", p.display());
    }
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn matrix(&self, name: &str, rows: usize, cols: usize) -> PathBuf {
        let p = self.path(name);
        let a = Array2::from_shape_fn((rows, cols), |(r, c)| {
            ((r * 31 + c * 17) % 23) as f32 / 10.0 - 1.1
        });
        write_npy_atomic(&p, &a).unwrap();
        p
    }
    fn vector(&self, name: &str, len: usize) -> PathBuf {
        let p = self.path(name);
        write_npy_atomic(&p, &Array1::from_shape_fn(len, |i| (i as f32 * 0.1).sin())).unwrap();
        p
    }
    /// A pruned 64 x 32 matrix in CSB, for the default configuration.
    fn csb(&self) -> PathBuf {
        let w = self.matrix("w.npy", 64, 32);
        let out = self.path("w.csb");
        let o = bbs(&["prune", s(&w), "--sparsity", "0.75", "-o", s(&out)]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out
    }
}

#[test]
fn prune_decode_sim_hdl_happy_path() {
    let f = Fixture::new();
    let csb = f.csb();
    let dense = f.path("dense.npy");
    let o = bbs(&["decode", s(&csb), "-o", s(&dense)]);
    assert!(o.status.success());
    let back: Array2<f32> = ndarray_npy_read(&dense);
    assert_eq!(back.dim(), (64, 32));
    // 75% sparsity with 8 banks of 4 columns: exactly one kept per bank.
    assert_eq!(back.iter().filter(|v| **v != 0.0).count(), 64 * 8);

    let x = f.vector("x.npy", 32);
    let (y, json) = (f.path("y.npy"), f.path("r.json"));
    let o = bbs(&["sim", s(&csb), s(&x), "-o", s(&y), "--json", s(&json)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // start 1 + load 4 + compute ceil(64/8) * 1 + drain 6
    assert_eq!(report["cycles"]["total"], 19);
    assert_eq!(report["report_version"], 1);
    assert!(y.exists());

    let hdl = f.path("hdl");
    let o = bbs(&["hdl", "-o", s(&hdl), "--csb", s(&csb), "--input", s(&x)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for file in [
        "rtl/bbs_top.v",
        "rtl/bbs_pe.v",
        "tb/tb_bbs.v",
        "run/pe0_mat.hex",
        "run/program.hex",
        "run/in.hex",
        "run/vmem_b0.hex",
        "rtl/bbs_seq.v",
        "rtl/bbs_ewop.v",
        "run/run.hex",
    ] {
        assert!(hdl.join(file).exists(), "{file}");
    }
}

fn ndarray_npy_read(p: &Path) -> Array2<f32> {
    bbs_compress::read_matrix(p, None).unwrap()
}

#[test]
fn prune_refuses_bad_weights_and_parameters() {
    let f = Fixture::new();
    let out = f.path("out.csb");
    let w = f.matrix("w.npy", 8, 16);

    let missing = f.path("nope.npy");
    assert_fails(
        &bbs(&["prune", s(&missing), "-o", s(&out)]),
        &["nope.npy"],
        &[&out],
    );

    assert_fails(
        &bbs(&["prune", SILERO, "--tensor", "lstm.weight", "-o", s(&out)]),
        &["silero_vad_16k.safetensors", "lstm.weight"],
        &[&out],
    );
    assert_fails(
        &bbs(&["prune", SILERO, "--tensor", "conv1.bias", "-o", s(&out)]),
        &["conv1.bias", "128"],
        &[&out],
    );

    let cube = f.path("cube.npy");
    write_npy_atomic(&cube, &Array3::<f32>::zeros((2, 3, 4))).unwrap();
    assert_fails(
        &bbs(&["prune", s(&cube), "-o", s(&out)]),
        &["cube.npy"],
        &[&out],
    );

    let vec1 = f.vector("v.npy", 16);
    assert_fails(
        &bbs(&["prune", s(&vec1), "-o", s(&out)]),
        &["v.npy"],
        &[&out],
    );

    let nan = f.path("nan.npy");
    let mut a = Array2::<f32>::zeros((4, 8));
    a[[2, 3]] = f32::NAN;
    write_npy_atomic(&nan, &a).unwrap();
    assert_fails(
        &bbs(&["prune", s(&nan), "-o", s(&out)]),
        &["nan.npy"],
        &[&out],
    );
    a[[2, 3]] = f32::INFINITY;
    write_npy_atomic(&nan, &a).unwrap();
    assert_fails(
        &bbs(&["prune", s(&nan), "-o", s(&out)]),
        &["nan.npy"],
        &[&out],
    );

    for bad in ["1.0", "-0.1", "NaN"] {
        assert_fails(
            &bbs(&["prune", s(&w), "--sparsity", bad, "-o", s(&out)]),
            &["sparsity"],
            &[&out],
        );
    }
    assert_fails(
        &bbs(&["prune", s(&w), "--banks", "32", "-o", s(&out)]),
        &["banks"],
        &[&out],
    );

    let truncated = f.path("trunc.npy");
    let bytes = std::fs::read(&w).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 7]).unwrap();
    assert_fails(
        &bbs(&["prune", s(&truncated), "-o", s(&out)]),
        &["trunc.npy"],
        &[&out],
    );

    // An unwritable output: nothing appears, the error names the path.
    let nowhere = f.path("no/such/dir/out.csb");
    assert_fails(
        &bbs(&["prune", s(&w), "-o", s(&nowhere)]),
        &["out.csb"],
        &[&nowhere],
    );
}

#[test]
fn banks_that_do_not_divide_the_row_pad_it() {
    // 10 columns in 4 banks: padded to 12, banks of 3 columns.
    let f = Fixture::new();
    let w = f.matrix("w.npy", 6, 10);
    let out = f.path("w.csb");
    let o = bbs(&[
        "prune",
        s(&w),
        "--banks",
        "4",
        "--sparsity",
        "0.5",
        "-o",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csb = bbs_compress::Csb::read(&out).unwrap();
    assert_eq!((csb.cols, csb.banks, csb.bank_size), (10, 4, 3));
}

#[test]
fn decode_refuses_corrupted_and_truncated_csb() {
    let f = Fixture::new();
    let csb = f.csb();
    let bytes = std::fs::read(&csb).unwrap();
    let out = f.path("d.npy");

    let bad = f.path("bad.csb");
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    std::fs::write(&bad, &flipped).unwrap();
    assert_fails(
        &bbs(&["decode", s(&bad), "-o", s(&out)]),
        &["bad.csb"],
        &[&out],
    );

    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    assert_fails(
        &bbs(&["decode", s(&bad), "-o", s(&out)]),
        &["bad.csb"],
        &[&out],
    );

    std::fs::write(&bad, b"not a csb file").unwrap();
    assert_fails(
        &bbs(&["decode", s(&bad), "-o", s(&out)]),
        &["bad.csb"],
        &[&out],
    );
}

#[test]
fn sim_refuses_bad_vectors_and_configurations() {
    let f = Fixture::new();
    let csb = f.csb();
    let y = f.path("y.npy");

    let short = f.vector("short.npy", 31);
    assert_fails(
        &bbs(&["sim", s(&csb), s(&short), "-o", s(&y)]),
        &["short.npy", "31", "32"],
        &[&y],
    );

    let nan = f.path("nan.npy");
    write_npy_atomic(&nan, &Array1::from(vec![f32::NAN; 32])).unwrap();
    assert_fails(
        &bbs(&["sim", s(&csb), s(&nan), "-o", s(&y)]),
        &["nan.npy"],
        &[&y],
    );

    let x = f.vector("x.npy", 32);
    let cfg = f.path("bad.toml");
    std::fs::write(&cfg, Config::default_toml().replace("pes = 8", "pes = 0")).unwrap();
    assert_fails(
        &bbs(&["sim", s(&csb), s(&x), "--config", s(&cfg), "-o", s(&y)]),
        &["pes"],
        &[&y],
    );

    std::fs::write(
        &cfg,
        Config::default_toml().replace("banks = 8", "banks = 4"),
    )
    .unwrap();
    assert_fails(
        &bbs(&["sim", s(&csb), s(&x), "--config", s(&cfg), "-o", s(&y)]),
        &["banks"],
        &[&y],
    );

    std::fs::write(&cfg, "pes = [").unwrap();
    assert_fails(
        &bbs(&["sim", s(&csb), s(&x), "--config", s(&cfg), "-o", s(&y)]),
        &["bad.toml"],
        &[&y],
    );

    let missing = f.path("missing.toml");
    assert_fails(
        &bbs(&["sim", s(&csb), s(&x), "--config", s(&missing)]),
        &["missing.toml"],
        &[],
    );
}

#[test]
fn hdl_refuses_an_impossible_configuration_before_writing() {
    let f = Fixture::new();
    let cfg = f.path("c.toml");
    std::fs::write(
        &cfg,
        Config::default_toml().replace("acc_width = 40", "acc_width = 20"),
    )
    .unwrap();
    let out = f.path("hdl");
    assert_fails(
        &bbs(&["hdl", "--config", s(&cfg), "-o", s(&out)]),
        &["acc_width"],
        &[&out],
    );

    // A matrix that does not fit: refused before the design is written.
    let csb = f.csb();
    let x = f.vector("x.npy", 31);
    assert_fails(
        &bbs(&["hdl", "-o", s(&out), "--csb", s(&csb), "--input", s(&x)]),
        &["x.npy"],
        &[&out],
    );

    // Matrices streamed from DRAM are simulated, not generated.
    std::fs::write(
        &cfg,
        Config::default_toml().replace("matrix = \"onchip\"", "matrix = \"dram\""),
    )
    .unwrap();
    assert_fails(
        &bbs(&["hdl", "--config", s(&cfg), "-o", s(&out)]),
        &["memory.matrix", "dram"],
        &[&out],
    );

    // verify: an unknown workload or zero frames, before anything is built.
    assert_fails(
        &bbs(&["verify", "--workload", "nope", "-o", s(&out)]),
        &["nope", "small-lstm"],
        &[&out],
    );
    assert_fails(
        &bbs(&[
            "verify",
            "--workload",
            "small-gru",
            "--frames",
            "0",
            "-o",
            s(&out),
        ]),
        &["--frames"],
        &[&out],
    );
}

struct Config;
impl Config {
    fn default_toml() -> String {
        bbs_sim::Config::default().to_toml()
    }
}

/// `bbs verify --workload` with a relative output directory (the Verilator
/// binary runs from the run directory, so its path must not be relative).
#[test]
fn verify_workload_with_a_relative_output_directory() {
    if !bbs_hdlgen::verilator::available_for_test("verify with a relative directory") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("hw/configs/tiny.toml");
    let o = Command::new(env!("CARGO_BIN_EXE_bbs"))
        .current_dir(dir.path())
        .args(["verify", "--workload", "small-gru", "--frames", "2"])
        .args(["--config", s(&cfg), "-o", "out"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["bit_exact"], true);
    assert_eq!(v["rows"], 2 * 128);
    assert_eq!(v["sim_cycles"], v["rtl_cycles"]);
}

/// Usage errors found by clap (bad or missing values, unknown or
/// conflicting options) are one `error:` line naming the option, exit code
/// 1, like every other bad input; negative numbers are values (a range
/// error naming the option), not unknown options.
#[test]
fn usage_errors_are_one_line_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_bbs"))
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let cases: &[(&[&str], &[&str])] = &[
        // Negative numbers.
        (
            &["prune", "w.npy", "--banks", "-1", "-o", "x.csb"],
            &["error: --banks: -1 is negative"],
        ),
        (
            &["sim", "--workload", "small-lstm", "--frames", "-2"],
            &["error: --frames: -2 must be at least 1"],
        ),
        (
            &["sim", "--workload", "small-lstm", "--sparsity", "-0.5"],
            &["error: --sparsity: -0.5 is outside [0, 1)"],
        ),
        (
            &["sim", "--workload", "small-lstm", "--seed", "-1"],
            &["error: --seed: -1 is negative"],
        ),
        (
            &["verify", "--workload", "small-gru", "--frames", "-1", "-o", "d"],
            &["error: --frames: -1 must be at least 1"],
        ),
        (
            &["sweep", "-o", "d", "--banks", "-1"],
            &["error: --banks: -1 is outside 1..=64"],
        ),
        (
            &["sweep", "-o", "d", "--budget-dsp", "-5"],
            &["error: --budget-dsp: -5 must be at least 1"],
        ),
        (
            &["synth", "--timeout", "-5"],
            &["error: --timeout: -5 is negative"],
        ),
        (&["eval", "--words", "-5"], &["error: --words: -5 is negative"]),
        (
            &["prune", "w.npy", "--banks", "many", "-o", "x.csb"],
            &["error: --banks: 'many' is not a whole number"],
        ),
        // Named values: the message the commands always printed.
        (
            &["sim", "--workload", "small-lstm", "--device", "asic"],
            &["error: --device: 'asic' is not one of intel-m20k, xilinx-ramb36"],
        ),
        (
            &["synth", "--target", "altera"],
            &["error: --target: 'altera' is not one of xilinx, intel"],
        ),
        (
            &["eval", "--model", "bert"],
            &["error: --model: 'bert' is not one of g2p, silero, all"],
        ),
        (
            &["sweep", "-o", "d", "--workload", "huge"],
            &["error: --workload: 'huge' is not one of ese-lstm, small-lstm, small-gru, stacked-lstm"],
        ),
        (
            &["prune", "w.npy", "--pattern", "nm:2", "--out-dir", "d"],
            &["error: --pattern: ", "'nm:2'", "nm:<n>:<m>"],
        ),
        (
            &["sim", "--workload", "small-lstm", "--device"],
            &["error: --device: needs a value, one of intel-m20k, xilinx-ramb36"],
        ),
        // Unknown options and commands, with clap's suggestion.
        (
            &["sim", "--frams", "2"],
            &["error: unexpected argument '--frams'", "'--frames'"],
        ),
        (&["simulate"], &["error: unrecognized command 'simulate'"]),
        // Conflicts, repeats and missing arguments.
        (
            &["prune", "w.npy", "-o", "x", "--out-dir", "y"],
            &["error: --output: cannot be used with --out-dir"],
        ),
        (
            &["prune", "w.npy", "-o", "x", "--compare"],
            &["error: --compare: only with --out-dir"],
        ),
        (
            &["prune", "w.npy", "--out-dir", "y", "--pruned", "p.npy"],
            &["error: --pruned: only with -o"],
        ),
        (
            &["prune", "w.npy", "-o", "x", "--layers", "l.toml"],
            &["error: -o writes one matrix", "--out-dir"],
        ),
        (
            &["prune", "w.npy", "-o", "x", "--schedule-from", "0.5"],
            &["--schedule-from", "--schedule-steps", "--step"],
        ),
        (
            &["hdl", "-o", "d", "--csb", "m.csb"],
            &["error: --csb and --input go together"],
        ),
        (&["decode", "m.csb"], &["error: missing --output"]),
        (
            &["sim", "--workload", "small-lstm", "--frames", "2", "--frames", "3"],
            &["error: --frames: given more than once"],
        ),
        (
            &["verify", "-o", "d"],
            &["error: verify: give M.csb X.npy, or --workload NAME"],
        ),
        (
            &["verify", "m.csb", "x.npy", "--frames", "2", "-o", "d"],
            &["error: --frames: only with --workload"],
        ),
        (
            &["verify", "m.csb", "x.npy", "--workload", "small-gru", "-o", "d"],
            &["error: --workload: runs a built-in workload; it takes no CSB matrix"],
        ),
        (
            &["sim", "--workload", "small-lstm", "-o", "y.npy"],
            &["error: -o/--output: only for one SpMxV", "with --workload"],
        ),
        (
            &["sim", "--model", "m", "-o", "y.npy"],
            &["error: -o/--output: only for one SpMxV", "with --model"],
        ),
        (
            &["sim", "m.csb", "x.npy", "--model", "m"],
            &["error: --model: runs every layer of a pruned model; it takes no CSB matrix"],
        ),
        (
            &["sim", "--model", "m", "--bram-trace", "b.csv"],
            &["error: --bram-trace: traces one SpMxV", "not a model"],
        ),
    ];
    for (args, needles) in cases {
        let o = run(args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(o.stdout.is_empty(), "{args:?}");
        for n in *needles {
            assert!(stderr.contains(n), "{args:?}: '{n}' missing from: {stderr}");
        }
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // --help and --version print on stdout and succeed.
    for args in [&["--version"][..], &["sim", "--help"], &["help", "sweep"]] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(o.stderr.is_empty(), "{args:?}");
        assert!(!o.stdout.is_empty(), "{args:?}");
    }
    let o = run(&["sim", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(
        help.contains("xilinx-ramb36") && help.contains("stacked-lstm"),
        "{help}"
    );
}

/// `bbs hdl` on the overlapped machine: its own top and issue-stage modules
/// instead of the sequencer and the PE controller, and with a matrix and an
/// input the run files carry an issue list per unit and the wait table.
#[test]
fn hdl_writes_the_overlapped_machine() {
    let f = Fixture::new();
    let cfg = f.path("ov.toml");
    let ov = bbs_sim::Config {
        overlap: bbs_sim::config::Overlap::all(),
        ..bbs_sim::Config::default()
    };
    std::fs::write(&cfg, ov.to_toml()).unwrap();
    let csb = f.csb();
    let x = f.vector("x.npy", 32);
    let out = f.path("hdl");
    let o = bbs(&[
        "hdl",
        "--config",
        s(&cfg),
        "-o",
        s(&out),
        "--csb",
        s(&csb),
        "--input",
        s(&x),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for m in [
        "bbs_top",
        "bbs_issue",
        "bbs_waits",
        "bbs_unit",
        "bbs_pe_issue",
        "bbs_vmem",
    ] {
        assert!(out.join(format!("rtl/{m}.v")).is_file(), "{m}");
    }
    for gone in ["bbs_seq", "bbs_ctrl"] {
        assert!(!out.join(format!("rtl/{gone}.v")).exists(), "{gone}");
    }
    let top = std::fs::read_to_string(out.join("rtl/bbs_top.v")).unwrap();
    assert!(top.contains("the BBS accelerator, overlapped"));
    for file in [
        "issue_in.hex",
        "issue_out.hex",
        "issue_vload.hex",
        "issue_pe.hex",
        "issue_ew.hex",
        "issue_act.hex",
        "waits.hex",
    ] {
        assert!(out.join("run").join(file).is_file(), "{file}");
    }
    // load; spmv; store: one entry in each of the DMA and SpMxV lists
    // (three lengths, then prologue, body, epilogue).
    let pe = std::fs::read_to_string(out.join("run/issue_pe.hex")).unwrap();
    assert_eq!(
        pe.lines().collect::<Vec<_>>(),
        ["0000", "0001", "0001", "0001", "0001"]
    );
    // The store waits for the spmv's results.
    let waits = std::fs::read_to_string(out.join("run/waits.hex")).unwrap();
    assert_eq!(waits.lines().count(), 3);
    assert!(!waits
        .lines()
        .nth(2)
        .unwrap()
        .trim_start_matches('0')
        .is_empty());
}
