//! `bbs sim --workload`: the report, the per-layer CSV and the plots land in
//! --out-dir; bad options and configurations that cannot hold the workload
//! fail with one `error:` line naming the option or field, exit code 1, and
//! no output directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bbs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bbs"))
        .args(args)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn assert_fails(out: &Output, needles: &[&str], absent: &[&Path]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(lines[0].contains(n), "'{n}' missing from: {}", lines[0]);
    }
    for p in absent {
        assert!(!p.exists(), "{} was left behind", p.display());
    }
}

#[test]
fn workload_form_writes_report_csv_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/gru");
    let json = dir.path().join("r.json");
    let o = bbs(&[
        "sim",
        "--workload",
        "small-gru",
        "--frames",
        "2",
        "--seed",
        "3",
        "--sparsity",
        "0.75",
        "--baselines",
        "--device",
        "xilinx-ramb36",
        "--out-dir",
        s(&out),
        "--json",
        s(&json),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("bit-exact"), "{stdout}");
    assert!(stdout.contains("| scheme |"), "{stdout}");
    assert!(stdout.contains("RAMB36 blocks"), "{stdout}");
    for f in ["report.json", "layers.csv", "utilization.svg", "stalls.svg"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // Nothing but the four files (no staging directory left behind).
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 4);
    assert_eq!(std::fs::read_dir(out.parent().unwrap()).unwrap().count(), 1);

    let text = std::fs::read_to_string(out.join("report.json")).unwrap();
    assert_eq!(text, std::fs::read_to_string(&json).unwrap());
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["report_version"], 1);
    assert_eq!(r["config_name"], "default");
    assert_eq!(r["workload"]["name"], "small-gru");
    assert_eq!(r["workload"]["frames"], 2);
    assert_eq!(r["workload"]["seed"], 3);
    assert_eq!(r["frames"].as_array().unwrap().len(), 2);
    assert_eq!(r["accuracy"]["bit_exact"], true);
    assert_eq!(r["resources"]["device"], "XilinxRamb36");
    let schemes: Vec<&str> = r["baselines"]["frame"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["scheme"].as_str().unwrap())
        .collect();
    assert_eq!(schemes, ["bbs", "dense", "unstructured", "block"]);
    assert_eq!(
        r["baselines"]["frame"][0]["cycles"],
        r["frames"][0]["cycles"]
    );
    // No machine paths in the report.
    assert!(
        !text.contains(s(dir.path())),
        "a path leaked into the report"
    );

    // Two SpMxVs (W_ih, W_hh) x four schemes.
    let csv = std::fs::read_to_string(out.join("layers.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("layer,matrix,name,scheme,"));
    assert_eq!(lines.len(), 1 + 2 * 4, "{csv}");
    let columns = lines[0].split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == columns));
    for f in ["utilization.svg", "stalls.svg"] {
        let svg = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(svg.starts_with("<svg"), "{f}");
    }
    let stalls = std::fs::read_to_string(out.join("stalls.svg")).unwrap();
    for label in [
        "bank conflict",
        "load imbalance",
        "unstructured",
        "block 4x4",
    ] {
        assert!(stalls.contains(label), "{label} missing from stalls.svg");
    }
}

#[test]
fn the_same_run_gives_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for d in [&a, &b] {
        let o = bbs(&[
            "sim",
            "--workload",
            "small-lstm",
            "--frames",
            "1",
            "--out-dir",
            s(d),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    for f in ["report.json", "layers.csv", "utilization.svg", "stalls.svg"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between two identical runs"
        );
    }
    // Without --baselines the CSV has one bbs row per SpMxV.
    let csv = std::fs::read_to_string(a.join("layers.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2);
    assert!(csv.lines().nth(1).unwrap().contains(",bbs,"));
}

#[test]
fn bad_workload_input_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = s(&out);
    assert_fails(
        &bbs(&["sim", "--workload", "transformer", "--out-dir", o]),
        &["--workload", "transformer", "small-lstm"],
        &[&out],
    );
    assert_fails(
        &bbs(&[
            "sim",
            "--workload",
            "small-lstm",
            "--frames",
            "0",
            "--out-dir",
            o,
        ]),
        &["--frames"],
        &[&out],
    );
    assert_fails(
        &bbs(&[
            "sim",
            "--workload",
            "small-lstm",
            "--sparsity",
            "1.5",
            "--out-dir",
            o,
        ]),
        &["--sparsity"],
        &[&out],
    );
    assert_fails(
        &bbs(&[
            "sim",
            "--workload",
            "small-lstm",
            "--device",
            "asic",
            "--out-dir",
            o,
        ]),
        &["--device", "asic"],
        &[&out],
    );
    // Configurations whose memories cannot hold the workload.
    let base = bbs_sim::Config::default().to_toml();
    let cases = [
        ("rows.toml", "max_rows = 1024", "max_rows = 256", "max_rows"),
        ("slots.toml", "max_slots = 16", "max_slots = 1", "max_slots"),
        (
            "vector.toml",
            "vector_words = 16384",
            "vector_words = 500",
            "memory.vector_words",
        ),
    ];
    for (file, from, to, field) in cases {
        let cfg = dir.path().join(file);
        assert!(base.contains(from), "{base}");
        std::fs::write(&cfg, base.replace(from, to)).unwrap();
        assert_fails(
            &bbs(&[
                "sim",
                "--workload",
                "small-lstm",
                "--config",
                s(&cfg),
                "--out-dir",
                o,
            ]),
            &[field, "small-lstm"],
            &[&out],
        );
    }
    // Mixed forms.
    assert_fails(
        &bbs(&["sim", "m.csb", "x.npy", "--frames", "2"]),
        &["--frames", "--workload"],
        &[],
    );
    assert_fails(
        &bbs(&["sim", "m.csb", "--workload", "small-lstm"]),
        &["--workload"],
        &[],
    );
    assert_fails(&bbs(&["sim"]), &["--workload"], &[]);
    // Nothing at all was written, not even a staging directory.
    let left: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|x| x.to_str()) != Some("toml"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
