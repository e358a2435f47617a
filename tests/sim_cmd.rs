//! `bbs sim --workload`: the report, the per-layer CSV and the plots land in
//! --out-dir; bad options and configurations that cannot hold the workload
//! fail with one `error:` line naming the option or field, exit code 1, and
//! no output directory.

use approx::assert_abs_diff_eq;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What `--out-dir` gets in the workload form.
const OUT_FILES: [&str; 5] = [
    "report.json",
    "layers.csv",
    "utilization.svg",
    "stalls.svg",
    "timeline.svg",
];

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
    for f in OUT_FILES {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // Nothing but the five files (no staging directory left behind).
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 5);
    // Each is listed as written, then the --json file.
    let wrote: Vec<&str> = stdout.lines().filter(|l| l.starts_with("wrote ")).collect();
    let mut want: Vec<String> = OUT_FILES
        .iter()
        .map(|f| format!("wrote {}", out.join(f).display()))
        .collect();
    want.push(format!("wrote {}", json.display()));
    assert_eq!(wrote, want);
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
    for f in ["utilization.svg", "stalls.svg", "timeline.svg"] {
        let svg = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(svg.starts_with("<svg"), "{f}");
        roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{f}: {e}"));
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
    for f in OUT_FILES {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between two identical runs"
        );
    }
    // Without --baselines the CSV has one bbs row per SpMxV (W_ih x, W_hh h).
    let csv = std::fs::read_to_string(a.join("layers.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3);
    assert!(csv.lines().nth(1).unwrap().contains(",bbs,"));
}

/// `timeline.svg`: frame 0 of `report.json`'s timeline, one lane per unit,
/// a bar per instruction (two per spmv: vector load, then the PEs).
#[test]
fn workload_form_draws_the_frame_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lstm");
    let o = bbs(&[
        "sim",
        "--workload",
        "small-lstm",
        "--frames",
        "2",
        "--out-dir",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let listed = format!("wrote {}", out.join("timeline.svg").display());
    assert!(stdout.lines().any(|l| l == listed), "{stdout}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let timeline = r["timeline"].as_array().unwrap();
    let spmvs = timeline.iter().filter(|t| t["op"] == "spmv").count();
    assert!(spmvs > 0);
    let cycles = r["frames"][0]["cycles"].as_u64().unwrap();

    let svg = std::fs::read_to_string(out.join("timeline.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let root = doc.root_element();
    assert!(root.has_tag_name("svg"));
    let view: Vec<f64> = root
        .attribute("viewBox")
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    let lanes: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("lane"))
        .collect();
    let names: Vec<&str> = lanes
        .iter()
        .map(|l| {
            l.children()
                .find(|n| n.has_tag_name("text"))
                .unwrap()
                .text()
                .unwrap()
        })
        .collect();
    assert_eq!(
        names,
        ["DMA in", "DMA out", "vector load", "PEs", "EWOP", "ACT"]
    );
    let num = |n: &roxmltree::Node, a: &str| -> f64 { n.attribute(a).unwrap().parse().unwrap() };
    let mut bars = 0;
    let mut drawn: Vec<u64> = Vec::new();
    let mut busy = 0.0;
    for lane in &lanes {
        let band = lane
            .children()
            .find(|n| n.attribute("class") == Some("band"))
            .unwrap();
        for bar in lane
            .children()
            .filter(|n| n.has_tag_name("rect") && n.attribute("class") == Some("span"))
        {
            bars += 1;
            let (x, w) = (num(&bar, "x"), num(&bar, "width"));
            let (y, h) = (num(&bar, "y"), num(&bar, "height"));
            // Inside the plot (the lane's band) and the picture.
            assert!(x >= num(&band, "x") && x + w <= num(&band, "x") + num(&band, "width") + 1e-9);
            assert!(y >= num(&band, "y") && y + h <= num(&band, "y") + num(&band, "height"));
            assert!(x + w <= view[2] && y + h <= view[3]);
            let tip = bar.first_element_child().unwrap().text().unwrap();
            let index: usize = tip
                .strip_prefix("instruction ")
                .and_then(|t| t.split(':').next())
                .unwrap()
                .parse()
                .unwrap();
            let op = timeline[index]["op"].as_str().unwrap();
            assert!(tip.contains(&format!(": {op}")), "{tip}");
            // The bar's cycles, as the tooltip says them.
            let n: u64 = tip
                .rsplit('(')
                .next()
                .and_then(|t| t.strip_suffix(" cycles)"))
                .unwrap()
                .parse()
                .unwrap();
            drawn.push(n);
        }
        let pct = lane
            .children()
            .find(|n| n.attribute("class") == Some("busy"))
            .unwrap()
            .text()
            .unwrap();
        busy += pct.strip_suffix('%').unwrap().parse::<f64>().unwrap();
    }
    assert_eq!(bars, timeline.len() + spmvs);
    // Instructions run one after another: the bars tile the frame.
    assert_eq!(drawn.iter().sum::<u64>(), cycles);
    assert!((busy - 100.0).abs() < 0.35, "{busy}");
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

/// Prune the shipped Silero VAD LSTM cell into `dir` (two 512 x 128 layers).
fn prune_silero(dir: &Path) {
    let o = bbs(&[
        "prune",
        "data/silero-vad/silero_vad_16k.safetensors",
        "--tensor",
        "lstm_cell.*",
        "--out-dir",
        s(dir),
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A copy of the default configuration with some lines replaced.
fn config_with(dir: &Path, file: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = bbs_sim::Config::default().to_toml();
    for (from, to) in edits {
        assert!(text.contains(from), "{text}");
        text = text.replace(from, to);
    }
    let p = dir.join(file);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn model_form_runs_every_pruned_layer_like_one_spmv() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("silero");
    prune_silero(&model);
    let out = dir.path().join("out");
    let o = bbs(&[
        "sim",
        "--model",
        s(&model),
        "--baselines",
        "--out-dir",
        s(&out),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("all layers once:"), "{stdout}");
    assert!(stdout.contains("| scheme |"), "{stdout}");
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["layers.csv", "report.json"]);

    let text = std::fs::read_to_string(out.join("report.json")).unwrap();
    assert!(
        !text.contains(s(dir.path())),
        "a path leaked into the report"
    );
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["report_version"], 1);
    assert_eq!(r["model"]["name"], "silero");
    let layers = r["layers"].as_array().unwrap();
    let names: Vec<&str> = layers.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["lstm_cell.weight_hh", "lstm_cell.weight_ih"]);
    assert!(r["skipped"].as_array().unwrap().is_empty());

    // Each layer's cycles equal `bbs sim M.csb X.npy` on the same vector.
    let cfg = bbs_sim::Config::default();
    let mut total = 0;
    for l in layers {
        assert_eq!(l["shape"], serde_json::json!([512, 128]));
        assert_eq!(l["banks"], 8);
        let cols = l["shape"][1].as_u64().unwrap() as usize;
        let x = ndarray::Array1::from(bbs_sim::report::model_input(&cfg, cols, 1));
        let xp = dir.path().join("x.npy");
        bbs_compress::write_npy_atomic(&xp, &x).unwrap();
        let json = dir.path().join("one.json");
        let csb = model.join(l["csb"].as_str().unwrap());
        let o = bbs(&["sim", s(&csb), s(&xp), "--json", s(&json)]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let one: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(l["cycles"], one["cycles"], "{}", l["name"]);
        assert_eq!(l["slots"], one["slots"]);
        assert_eq!(l["compute_bound"], one["compute_bound"]);
        total += l["cycles"]["total"].as_u64().unwrap();
    }
    assert_eq!(r["total"]["cycles"], total);
    let us = r["total"]["microseconds"].as_f64().unwrap();
    assert_abs_diff_eq!(us, total as f64 / cfg.host.clock_mhz as f64, epsilon = 1e-9);
    // With on-chip matrices the bbs baseline is the simulated time.
    assert_eq!(r["baselines"]["frame"][0]["scheme"], "bbs");
    assert_eq!(r["baselines"]["frame"][0]["cycles"], total);

    // Two layers x four schemes.
    let csv = std::fs::read_to_string(out.join("layers.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 4, "{csv}");
    assert!(csv
        .lines()
        .nth(1)
        .unwrap()
        .contains("lstm_cell.weight_hh,bbs,"));
}

#[test]
fn model_form_fails_cleanly_or_skips_unfit_layers() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("silero");
    prune_silero(&model);
    let out = dir.path().join("out");
    let o = s(&out);

    // No manifest, a malformed one.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_fails(
        &bbs(&["sim", "--model", s(&empty), "--out-dir", o]),
        &["manifest.json", "cannot read"],
        &[&out],
    );
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("manifest.json"), "{\"layers\": 1}").unwrap();
    assert_fails(
        &bbs(&["sim", "--model", s(&bad), "--out-dir", o]),
        &["manifest.json", "not a `bbs prune` manifest"],
        &[&out],
    );

    // A configuration that cannot hold the layers: banks differ, too few rows.
    let b16 = config_with(dir.path(), "b16.toml", &[("banks = 8", "banks = 16")]);
    assert_fails(
        &bbs(&[
            "sim",
            "--model",
            s(&model),
            "--config",
            s(&b16),
            "--out-dir",
            o,
        ]),
        &["lstm_cell.weight_hh", "banks", "--skip-unfit"],
        &[&out],
    );
    let rows = config_with(
        dir.path(),
        "rows.toml",
        &[("max_rows = 1024", "max_rows = 256")],
    );
    assert_fails(
        &bbs(&[
            "sim",
            "--model",
            s(&model),
            "--config",
            s(&rows),
            "--out-dir",
            o,
        ]),
        &["lstm_cell.weight_hh", "max_rows"],
        &[&out],
    );
    // Not even with --skip-unfit when nothing is left.
    assert_fails(
        &bbs(&[
            "sim",
            "--model",
            s(&model),
            "--config",
            s(&b16),
            "--skip-unfit",
            "--out-dir",
            o,
        ]),
        &["no layer left", "banks"],
        &[&out],
    );

    // A third layer pruned to 16 banks: an error, or skipped with --skip-unfit.
    let odd = model.join("csb/odd16.csb");
    let p = bbs(&[
        "prune",
        "data/silero-vad/silero_vad_16k.safetensors",
        "--tensor",
        "lstm_cell.weight_hh",
        "--banks",
        "16",
        "-o",
        s(&odd),
        "-q",
    ]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    let manifest = model.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    m.as_array_mut().unwrap().push(serde_json::json!({
        "name": "odd16", "shape": [512, 128], "csb": "csb/odd16.csb",
        "sparsity": 0.75, "banks": 16, "bank_size": 8, "slots": 2
    }));
    std::fs::write(&manifest, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    assert_fails(
        &bbs(&["sim", "--model", s(&model), "--out-dir", o]),
        &["odd16", "banks"],
        &[&out],
    );
    let run = bbs(&["sim", "--model", s(&model), "--skip-unfit", "--out-dir", o]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["model"]["layers"], 3);
    assert_eq!(r["layers"].as_array().unwrap().len(), 2);
    assert_eq!(r["skipped"][0]["name"], "odd16");
    assert_eq!(r["skipped"][0]["field"], "banks");
    std::fs::remove_dir_all(&out).unwrap();

    // Mixed forms.
    assert_fails(
        &bbs(&["sim", "--model", s(&model), "--workload", "small-lstm"]),
        &["--model", "--workload"],
        &[],
    );
    assert_fails(
        &bbs(&["sim", "--model", s(&model), "--frames", "2"]),
        &["--frames"],
        &[],
    );
    assert_fails(
        &bbs(&["sim", "--workload", "small-lstm", "--skip-unfit"]),
        &["--skip-unfit", "--model"],
        &[],
    );
    assert!(!out.exists());
}

#[test]
fn a_configuration_over_the_device_budget_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let big = config_with(
        dir.path(),
        "big.toml",
        &[
            ("pes = 8", "pes = 256"),
            ("banks = 8", "banks = 64"),
            ("max_slots = 16", "max_slots = 8"),
        ],
    );
    let out = dir.path().join("out");
    let o = s(&out);
    assert_fails(
        &bbs(&[
            "sim",
            "--workload",
            "small-lstm",
            "--config",
            s(&big),
            "--out-dir",
            o,
        ]),
        &[
            // 16384 PE multipliers, 8 EWOP lanes and 53 vector-port address
            // multiplies (sim/src/resources.rs), two per DSP block.
            "dsp_blocks: 8223 needed, 1518 available",
            "block_rams: ",
            "Arria 10 GX1150",
            "--device intel-m20k",
            "--no-budget",
        ],
        &[&out],
    );
    assert_fails(
        &bbs(&[
            "sim",
            "--workload",
            "small-lstm",
            "--config",
            s(&big),
            "--device",
            "xilinx-ramb36",
            "--out-dir",
            o,
        ]),
        &[
            "dsp_blocks: ",
            "2760 available",
            "XCKU060",
            "--device xilinx-ramb36",
        ],
        &[&out],
    );
    let model = dir.path().join("silero");
    prune_silero(&model);
    assert_fails(
        &bbs(&[
            "sim",
            "--model",
            s(&model),
            "--config",
            s(&big),
            "--out-dir",
            o,
        ]),
        &["dsp_blocks: 8223 needed", "Arria 10 GX1150"],
        &[&out],
    );
    // --no-budget runs it and reports the overrun.
    let run = bbs(&[
        "sim",
        "--workload",
        "small-lstm",
        "--frames",
        "1",
        "--config",
        s(&big),
        "--no-budget",
        "--out-dir",
        o,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["resources"]["fits_budget"], false);
    assert_eq!(r["resources"]["over_budget"][0]["resource"], "dsp_blocks");
    // The one-SpMxV form has no budget check.
    assert_fails(
        &bbs(&["sim", "m.csb", "x.npy", "--no-budget"]),
        &["--no-budget", "--workload or --model"],
        &[],
    );
}

#[test]
fn a_configuration_over_the_logic_budget_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // A 2^20-word vector memory: distributed RAM (a combinational read) and
    // its read muxes, far more logic than either device has, and no more DSP
    // blocks or block RAM than the default's.
    let big = config_with(
        dir.path(),
        "big.toml",
        &[("vector_words = 16384", "vector_words = 1048576")],
    );
    let out = dir.path().join("out");
    let o = s(&out);
    for (device, needles) in [
        (
            "intel-m20k",
            ["427200 available", "Arria 10 GX1150", "--device intel-m20k"],
        ),
        (
            "xilinx-ramb36",
            ["331680 available", "XCKU060", "--device xilinx-ramb36"],
        ),
    ] {
        let run = bbs(&[
            "sim",
            "--workload",
            "small-lstm",
            "--config",
            s(&big),
            "--device",
            device,
            "--out-dir",
            o,
        ]);
        assert_fails(&run, &needles, &[&out]);
        let line = String::from_utf8_lossy(&run.stderr).into_owned();
        // Logic only: the line names no other resource.
        assert!(line.starts_with("error: logic: "), "{line}");
        assert!(
            !line.contains("dsp_blocks") && !line.contains("block_rams"),
            "{line}"
        );
        assert!(line.contains("does not fit (--no-budget"), "{line}");
    }
    // --no-budget runs it and reports the overrun, logic alone.
    let run = bbs(&[
        "sim",
        "--workload",
        "small-lstm",
        "--frames",
        "1",
        "--config",
        s(&big),
        "--no-budget",
        "--out-dir",
        o,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("427200 ALMs): logic "), "{stdout}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let res = &r["resources"];
    assert_eq!(res["fits_budget"], false);
    assert_eq!(res["budget"]["logic"], 427_200);
    let over = res["over_budget"].as_array().unwrap();
    assert_eq!(over.len(), 1, "{over:?}");
    assert_eq!(over[0]["resource"], "logic");
    assert_eq!(over[0]["needed"], res["estimate"]["logic"]);
    assert_eq!(over[0]["available"], 427_200);
}

/// `(state_q of u_seq, start_i of u_seq, state_q of u_ctrl)` of a `--vcd` file at every edge.
fn vcd_states(path: &Path) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
    use bbs_sim::trace;
    let bytes = std::fs::read(path).unwrap();
    let paths: Vec<Vec<&str>> = vec![
        [trace::SEQ_SCOPE, &["state_q"]].concat(),
        [trace::SEQ_SCOPE, &["start_i"]].concat(),
        [trace::CTRL_SCOPE, &["state_q"]].concat(),
    ];
    let s = trace::sample_vcd(&bytes[..], trace::CLOCK, &paths).unwrap();
    let col = |i: usize| -> Vec<u64> { s.values[i].iter().map(|v| v.unwrap()).collect() };
    (col(0), col(1), col(2))
}

#[test]
fn traces_cover_the_whole_program() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f);
    // A workload: every frame, deterministic.
    for run in ["a", "b"] {
        let o = bbs(&[
            "sim",
            "--workload",
            "small-gru",
            "--frames",
            "2",
            "--json",
            s(&p(&format!("{run}.json"))),
            "--vcd",
            s(&p(&format!("{run}.vcd"))),
            "--bram-trace",
            s(&p(&format!("{run}.csv"))),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    for f in ["vcd", "csv"] {
        assert_eq!(
            std::fs::read(p(&format!("a.{f}"))).unwrap(),
            std::fs::read(p(&format!("b.{f}"))).unwrap(),
            "{f} differs between two identical runs"
        );
    }
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("a.json")).unwrap()).unwrap();
    let cycles: Vec<u64> = r["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cycles"].as_u64().unwrap())
        .collect();
    let (seq, start, ctrl) = vcd_states(&p("a.vcd"));
    // Frame 0 starts at edge 5, frame 1 three edges after frame 0's done edge.
    let starts: Vec<usize> = (0..start.len()).filter(|&k| start[k] == 1).collect();
    let second = 5 + cycles[0] as usize + 3;
    assert_eq!(starts, [5, second]);
    assert_eq!(seq.len(), second + cycles[1] as usize + 1);
    assert_eq!(seq[second - 1], 7, "DONE between frames");
    assert_eq!(*seq.last().unwrap(), 7);
    // Two SpMxVs per frame: the controller goes LOAD, COMPUTE, DRAIN, DONE four times.
    let loads = (1..ctrl.len())
        .filter(|&k| ctrl[k] == 1 && ctrl[k - 1] != 1)
        .count();
    assert_eq!(loads, 4);
    let csv = std::fs::read_to_string(p("a.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("cycle,pe,bank,address"));
    assert!(csv.lines().count() > 1000);

    // One SpMxV: the program load x; spmv; store y.
    let w = ndarray::Array2::from_shape_fn((20, 16), |(i, j)| ((i * 7 + j * 3) % 11) as f32 - 5.0);
    let pruned = bbs_compress::prune_bbs(&w.view(), 8, 0.5).unwrap();
    let (csb, _) = bbs_compress::Csb::from_pruned(
        &pruned,
        bbs_compress::QFormat {
            width: 16,
            frac: 12,
        },
    );
    csb.write(&p("m.csb")).unwrap();
    bbs_compress::write_npy_atomic(&p("x.npy"), &ndarray::Array1::from(vec![0.25f32; 16])).unwrap();
    let o = bbs(&[
        "sim",
        s(&p("m.csb")),
        s(&p("x.npy")),
        "--vcd",
        s(&p("one.vcd")),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (seq, start, ctrl) = vcd_states(&p("one.vcd"));
    assert_eq!(start.iter().sum::<u64>(), 1);
    // Dispatch load (2), spmv (4), store (3), then DONE.
    let mut states: Vec<u64> = seq.clone();
    states.dedup();
    assert_eq!(states, [0, 2, 1, 4, 1, 3, 7]);
    let mut phases = ctrl.clone();
    phases.dedup();
    assert_eq!(phases, [0, 1, 2, 3, 4]);

    // Refused: a model, and matrices streamed from DRAM (the RTL has none).
    let vcd = p("no.vcd");
    assert_fails(
        &bbs(&["sim", "--model", s(dir.path()), "--vcd", s(&vcd)]),
        &["--vcd", "not a model"],
        &[&vcd],
    );
    let dram = config_with(
        dir.path(),
        "dram.toml",
        &[("matrix = \"onchip\"", "matrix = \"dram\"")],
    );
    let json = p("dram.json");
    assert_fails(
        &bbs(&[
            "sim",
            "--workload",
            "small-gru",
            "--frames",
            "1",
            "--config",
            s(&dram),
            "--json",
            s(&json),
            "--vcd",
            s(&vcd),
        ]),
        &["dram", "small-gru"],
        &[&vcd, &json],
    );
}

/// The overlapped machine: `bbs sim` reports its steady-state frame and the
/// ablation; `--vcd` writes its issue stage (every unit's `advance` and
/// `head_valid` in `tb_bbs.dut`, one start per frame and instruction);
/// `--bram-trace` (the serialized machine's bank reads) is refused naming
/// `overlap.units`, before anything is written.
#[test]
fn the_overlapped_machine_simulates_and_traces_its_issue_stage() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = bbs_sim::Config {
        overlap: bbs_sim::config::Overlap::all(),
        ..bbs_sim::Config::default()
    };
    let cfg_path = dir.path().join("overlap.toml");
    std::fs::write(&cfg_path, cfg.to_toml()).unwrap();
    let cfg = cfg_path;
    let o = bbs(&["sim", "--workload", "small-lstm", "--config", s(&cfg)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("frame 0:") && out.contains("steady state"),
        "{out}"
    );
    assert!(
        out.contains("next frame's input product ahead") && out.contains("<- this configuration"),
        "{out}"
    );
    assert!(out.contains("resources ("), "{out}");

    let vcd = dir.path().join("t.vcd");
    let o = bbs(&[
        "sim",
        "--workload",
        "small-lstm",
        "--config",
        s(&cfg),
        "--frames",
        "3",
        "--vcd",
        s(&vcd),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&vcd).unwrap();
    assert!(
        text.contains("$scope module dut $end")
            && text.contains("$var wire 6 \" advance $end")
            && text.contains("$var wire 6 # head_valid $end"),
        "{text}"
    );
    let paths = [
        vec!["tb_bbs", "dut", "advance"],
        vec!["tb_bbs", "dut", "head_valid"],
    ];
    let samples =
        bbs_sim::trace::sample_vcd(text.as_bytes(), bbs_sim::trace::CLOCK, &paths).unwrap();
    // Every unit starts something; the DMA in (unit 0) first, at the start
    // edge; at the end no unit has anything left.
    let advance: Vec<u64> = samples.values[0].iter().map(|v| v.unwrap()).collect();
    let start = advance.iter().position(|&a| a != 0).unwrap();
    assert_eq!((start, advance[start] & 1), (6, 1));
    assert_eq!(advance.iter().fold(0, |a, &b| a | b), 0b111111);
    assert_eq!(samples.values[1].last().copied().flatten(), Some(0));

    let csv = dir.path().join("b.csv");
    let o = bbs(&[
        "sim",
        "--workload",
        "small-lstm",
        "--config",
        s(&cfg),
        "--vcd",
        s(&vcd.with_extension("2.vcd")),
        "--bram-trace",
        s(&csv),
    ]);
    assert_fails(
        &o,
        &["--bram-trace", "overlap.units"],
        &[&csv, &vcd.with_extension("2.vcd")],
    );
}

/// An overlapped configuration whose vector-memory part is too small for
/// the network: one line naming the part's field and what it needs, exit
/// 1, no report written; `bbs hdl` writes `vmem_p<q>_b<b>.hex`-reading RTL
/// for the same configuration (the parts are the hardware's).
#[test]
fn a_vector_memory_part_too_small_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = bbs_sim::Config {
        overlap: bbs_sim::config::Overlap::all(),
        ..bbs_sim::Config::default()
    };
    cfg.memory.vector_words = 4096;
    cfg.overlap.regions = Some(bbs_sim::RegionWords {
        dma: 512,
        pe: 512,
        act: 768,
        ewop: 2304,
    });
    let cfg_path = dir.path().join("small-pe.toml");
    std::fs::write(&cfg_path, cfg.to_toml()).unwrap();
    let json = dir.path().join("r.json");
    let o = bbs(&[
        "sim",
        "--workload",
        "small-lstm",
        "--config",
        s(&cfg_path),
        "--json",
        s(&json),
    ]);
    assert_fails(
        &o,
        &[
            "overlap.regions.pe",
            "needs 1024 words of the PE array's part",
            "gives it 512",
        ],
        &[&json],
    );
    let rtl = dir.path().join("rtl");
    let o = bbs(&["hdl", "--config", s(&cfg_path), "-o", s(&rtl)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let vmem = std::fs::read_to_string(rtl.join("rtl/bbs_vmem.v")).unwrap();
    assert!(vmem.contains("vmem_p1_b0.hex") && vmem.contains("written by the PE array"));
}
