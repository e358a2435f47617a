//! `bbs prune --out-dir` on whole models: every output is there, named as in
//! the input, deterministic, and bad input leaves nothing behind.

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

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn fails(o: &Output, needle: &str, absent: &Path) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ") && err.contains(needle),
        "'{needle}' missing from: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!absent.exists(), "{} was left behind", absent.display());
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(files(&p));
        } else {
            v.push(p);
        }
    }
    v.sort();
    v
}

#[test]
fn whole_safetensors_model_gives_csb_manifest_pruned_model_masks_and_report() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    ok(&bbs(&[
        "prune",
        SILERO,
        "--tensor",
        "lstm_cell.*",
        "--banks",
        "8",
        "--out-dir",
        s(&out),
        "--compare",
        "-q",
    ]));
    for f in [
        "manifest.json",
        "pruned.safetensors",
        "masks.safetensors",
        "report.json",
        "report.md",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let names: Vec<&str> = manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lstm_cell.weight_hh", "lstm_cell.weight_ih"]);
    for e in manifest.as_array().unwrap() {
        let csb = bbs_compress::Csb::read(&out.join(e["csb"].as_str().unwrap())).unwrap();
        assert_eq!((csb.rows, csb.cols, csb.banks, csb.slots), (512, 128, 8, 4));
    }
    // The pruned model keeps every tensor and name; the pruned ones are 75% zero.
    let before = bbs_compress::list_tensors(Path::new(SILERO)).unwrap();
    let after = bbs_compress::list_tensors(&out.join("pruned.safetensors")).unwrap();
    assert_eq!(before, after);
    let hh =
        bbs_compress::read_matrix(&out.join("pruned.safetensors"), Some("lstm_cell.weight_hh"))
            .unwrap();
    assert_eq!(hh.iter().filter(|v| **v == 0.0).count(), 512 * 128 * 3 / 4);
    let dense = bbs_compress::read_matrix(&out.join("pruned.safetensors"), Some("conv1.weight"));
    assert!(
        dense.is_err(),
        "conv1.weight is 3-D and must stay untouched"
    );

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let layer = &report["layers"][0];
    let patterns: Vec<&str> = layer["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pattern"].as_str().unwrap())
        .collect();
    assert_eq!(patterns[0], "BBS (8 banks)");
    assert!(patterns.len() >= 4, "{patterns:?}");
    let bbs_err = layer["patterns"][0]["relative_frobenius_error"]
        .as_f64()
        .unwrap();
    assert!(bbs_err > 0.0 && bbs_err < 1.0);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| lstm_cell.weight_ih | 512x128 | BBS (8 banks) |"),
        "{md}"
    );
}

#[test]
fn same_input_gives_byte_identical_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for out in [&a, &b] {
        ok(&bbs(&[
            "prune",
            SILERO,
            "--tensor",
            "lstm_cell.*",
            "--out-dir",
            s(out),
            "--plot",
            "-q",
        ]));
    }
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa.len(), fb.len());
    assert!(fa.iter().any(|p| p.extension().is_some_and(|e| e == "svg")));
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(
            std::fs::read(x).unwrap(),
            std::fs::read(y).unwrap(),
            "{} differs",
            x.display()
        );
    }
}

#[test]
fn layer_rules_set_sparsity_banks_and_skip() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("layers.toml");
    std::fs::write(
        &rules,
        "[defaults]\nsparsity = 0.5\n[[layer]]\nname = \"*weight_hh\"\nsparsity = 0.875\nbanks = 4\n[[layer]]\nname = \"lstm_cell.weight_ih\"\nskip = true\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    ok(&bbs(&[
        "prune",
        SILERO,
        "--tensor",
        "lstm_cell.*",
        "--layers",
        s(&rules),
        "--out-dir",
        s(&out),
        "-q",
    ]));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let m = manifest.as_array().unwrap();
    assert_eq!(m.len(), 1, "the skipped layer has no CSB");
    assert_eq!(m[0]["banks"], 4);
    assert_eq!(m[0]["slots"], 4); // 32 columns per bank, 12.5% kept
    let ih =
        bbs_compress::read_matrix(&out.join("pruned.safetensors"), Some("lstm_cell.weight_ih"))
            .unwrap();
    let orig = bbs_compress::read_matrix(Path::new(SILERO), Some("lstm_cell.weight_ih")).unwrap();
    assert_eq!(ih, orig, "a skipped layer stays dense");
}

#[test]
fn other_patterns_and_the_gradual_schedule() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("nm");
    ok(&bbs(&[
        "prune",
        SILERO,
        "--tensor",
        "lstm_cell.weight_hh",
        "--pattern",
        "nm:2:4",
        "--out-dir",
        s(&out),
        "-q",
    ]));
    assert!(!out.join("manifest.json").exists(), "N:M writes no CSB");
    let w = bbs_compress::read_matrix(&out.join("pruned.safetensors"), Some("lstm_cell.weight_hh"))
        .unwrap();
    for row in w.rows() {
        for group in row.as_slice().unwrap().chunks(4) {
            assert_eq!(group.iter().filter(|v| **v != 0.0).count(), 2);
        }
    }
    // Step 0 of a schedule from 0.5 to 0.875 over 10 steps prunes 50%; the last step 87.5%.
    for (step, zeros) in [("0", 512 * 128 / 2), ("10", 512 * 128 * 7 / 8)] {
        let out = tmp.path().join(format!("step{step}"));
        ok(&bbs(&[
            "prune",
            SILERO,
            "--tensor",
            "lstm_cell.weight_hh",
            "--sparsity",
            "0.875",
            "--schedule-from",
            "0.5",
            "--schedule-steps",
            "10",
            "--step",
            step,
            "--out-dir",
            s(&out),
            "-q",
        ]));
        let w =
            bbs_compress::read_matrix(&out.join("pruned.safetensors"), Some("lstm_cell.weight_hh"))
                .unwrap();
        assert_eq!(
            w.iter().filter(|v| **v == 0.0).count(),
            zeros,
            "step {step}"
        );
    }
}

#[test]
fn bad_input_leaves_no_output_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    fails(
        &bbs(&[
            "prune",
            SILERO,
            "--tensor",
            "nothing*",
            "--out-dir",
            s(&out),
        ]),
        "nothing*",
        &out,
    );
    let rules = tmp.path().join("bad.toml");
    std::fs::write(&rules, "[[layer]]\nname = \"x\"\nsparsity = \"high\"\n").unwrap();
    fails(
        &bbs(&["prune", SILERO, "--layers", s(&rules), "--out-dir", s(&out)]),
        "bad.toml",
        &out,
    );
    fails(
        &bbs(&[
            "prune",
            SILERO,
            "--tensor",
            "lstm_cell.*",
            "--sparsity",
            "0.5",
            "--schedule-from",
            "0.9",
            "--schedule-steps",
            "4",
            "--step",
            "1",
            "--out-dir",
            s(&out),
        ]),
        "backwards",
        &out,
    );
    fails(
        &bbs(&[
            "prune",
            SILERO,
            "--tensor",
            "lstm_cell.*",
            "--banks",
            "200",
            "--out-dir",
            s(&out),
        ]),
        "banks",
        &out,
    );
    fails(
        &bbs(&["prune", SILERO, "--pattern", "zigzag", "--out-dir", s(&out)]),
        "zigzag",
        &out,
    );
    fails(&bbs(&["prune", SILERO]), "--out-dir", &out);
    // An output directory that cannot be created: under a regular file.
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let nowhere = file.join("out");
    fails(
        &bbs(&[
            "prune",
            SILERO,
            "--tensor",
            "lstm_cell.*",
            "--out-dir",
            s(&nowhere),
        ]),
        "plain-file",
        &nowhere,
    );
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "only bad.toml and plain-file remain: {leftovers:?}"
    );
}
