//! `bbs compile` and `bbs run` on trained networks: silero-vad's LSTM cell
//! (safetensors, `lstm_cell.*`), g2p-en's encoder GRU (npz, `enc_w_ih`
//! naming, two networks in one file), a two-layer `nn.LSTM` state dict
//! (`rnn.weight_ih_l0`, `_l1`) written here, on the serialized and the
//! overlapped machine; and the bad inputs: one line, exit 1, nothing
//! written.

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bbs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bbs"))
        .args(args)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn assert_fails(out: &Output, needles: &[&str], absent: &[&Path]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(lines[0].contains(n), "'{n}' missing from: {}", lines[0]);
    }
    for p in absent {
        assert!(!p.exists(), "{} was left behind", p.display());
    }
}

/// `frames x features` values in (-1, 1).
fn sequence(path: &Path, frames: usize, features: usize) {
    let x = Array2::from_shape_fn((frames, features), |(t, j)| {
        (0.8 * (0.37 * t as f64 + 0.11 * j as f64).sin()) as f32
    });
    bbs_compress::write_npy_atomic(path, &x).unwrap();
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Compile `model` into `dir`, run `frames` frames, check the report.
fn compile_and_run(
    model: &Path,
    extra: &[&str],
    dir: &Path,
    frames: usize,
) -> (serde_json::Value, serde_json::Value) {
    let mut args = vec!["compile", s(model), "-o", s(dir)];
    args.extend(extra);
    let said = ok(&bbs(&args));
    assert!(said.contains("instructions per frame"), "{said}");
    let manifest = json(&dir.join("manifest.json"));
    let input = manifest["input"].as_u64().unwrap() as usize;
    let x = dir.with_extension("x.npy");
    sequence(&x, frames, input);
    let (y, r) = (dir.with_extension("y.npy"), dir.with_extension("r.json"));
    let said = ok(&bbs(&["run", s(dir), s(&x), "-o", s(&y), "--json", s(&r)]));
    assert!(
        said.contains("bit-exact with the fixed-point reference"),
        "{said}"
    );
    let report = json(&r);
    assert_eq!(report["bit_exact_vs_reference"], true);
    assert_eq!(report["frames"], frames);
    let out = bbs_compress::read_matrix(&y, None).unwrap();
    assert_eq!(
        out.dim(),
        (frames, manifest["output"].as_u64().unwrap() as usize)
    );
    assert!(out.iter().any(|&v| v != 0.0));
    // The same run, the same bytes.
    let y2 = dir.with_extension("y2.npy");
    ok(&bbs(&["run", s(dir), s(&x), "-o", s(&y2)]));
    assert_eq!(std::fs::read(&y).unwrap(), std::fs::read(&y2).unwrap());
    (manifest, report)
}

#[test]
fn silero_lstm_cell_compiles_and_runs_bit_exact() {
    let work = tempfile::tempdir().unwrap();
    let model = root().join("data/silero-vad/silero_vad_16k.safetensors");
    let (m, r) = compile_and_run(&model, &["--sparsity", "0.5"], &work.path().join("vad"), 6);
    assert_eq!(m["layers"].as_array().unwrap().len(), 1);
    let l = &m["layers"][0];
    assert_eq!(
        (
            l["kind"].as_str(),
            l["input"].as_u64(),
            l["hidden"].as_u64()
        ),
        (Some("lstm"), Some(128), Some(128))
    );
    assert_eq!(l["tensors"]["w_hh"], "lstm_cell.weight_hh");
    assert_eq!(l["tensors"]["b_ih"], "lstm_cell.bias_ih");
    assert_eq!(l["biases"]["bias"].as_array().unwrap().len(), 512);
    // The serialized machine: every frame alike, the manifest's.
    let cycles: Vec<u64> = r["frame_cycles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert!(
        cycles
            .iter()
            .all(|&c| c == m["steady_frame_cycles"].as_u64().unwrap()),
        "{cycles:?}"
    );
    // Q3.12 arithmetic with PWL sigmoid/tanh stays close to float.
    let e = r["max_abs_error_vs_float"].as_f64().unwrap();
    assert!(e > 0.0 && e < 0.05, "{e}");

    // The overlapped machine: frames overlap, the same outputs.
    let mut cfg = bbs_sim::Config {
        name: "default-ov".into(),
        overlap: bbs_sim::Overlap::all(),
        ..bbs_sim::Config::default()
    };
    cfg.memory.vector_words = 4096;
    cfg.memory.instruction_words = 128;
    let cfg_path = work.path().join("ov.toml");
    std::fs::write(&cfg_path, cfg.to_toml()).unwrap();
    let dir = work.path().join("vad-ov");
    let (mo, ro) = compile_and_run(
        &model,
        &["--sparsity", "0.5", "--config", s(&cfg_path)],
        &dir,
        6,
    );
    assert!(
        mo["steady_frame_cycles"].as_u64() < m["steady_frame_cycles"].as_u64(),
        "{mo}"
    );
    assert!(ro["total_cycles"].as_u64() < r["total_cycles"].as_u64());
    let (a, b) = (
        std::fs::read(work.path().join("vad.y.npy")).unwrap(),
        std::fs::read(work.path().join("vad-ov.y.npy")).unwrap(),
    );
    assert_eq!(a, b, "the overlapped machine computes the same values");
    assert!(mo.get("interleaved").is_none(), "{mo}");

    // Bank-interleaved vectors: the same values again, no slower, and the
    // manifest says how the host lays out the input and output words.
    cfg.name = "default-il".into();
    cfg.overlap = bbs_sim::Overlap::interleaved();
    let il_path = work.path().join("il.toml");
    std::fs::write(&il_path, cfg.to_toml()).unwrap();
    let (mi, _) = compile_and_run(
        &model,
        &["--sparsity", "0.5", "--config", s(&il_path)],
        &work.path().join("vad-il"),
        6,
    );
    assert!(
        mi["steady_frame_cycles"].as_u64() <= mo["steady_frame_cycles"].as_u64(),
        "{mi}"
    );
    assert_eq!(mi["interleaved"]["banks"], 8, "{mi}");
    assert_eq!(mi["interleaved"]["input_words"], 128, "{mi}");
    assert_eq!(mi["interleaved"]["output_words"], 128, "{mi}");
    assert_eq!(
        std::fs::read(work.path().join("vad-il.y.npy")).unwrap(),
        a,
        "bank-interleaved vectors compute the same values"
    );
}

#[test]
fn g2p_encoder_gru_compiles_by_prefix() {
    let work = tempfile::tempdir().unwrap();
    let model = root().join("data/cache/g2p_en/checkpoint20.npz");
    if !model.exists() {
        // scripts/fetch-data.sh fetches it (the README's test command runs it).
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "{} is missing",
            model.display()
        );
        eprintln!(
            "skipped: {} is missing (scripts/fetch-data.sh)",
            model.display()
        );
        return;
    }
    let dir = work.path().join("enc");
    let o = bbs(&["compile", s(&model), "-o", s(&dir)]);
    assert_fails(
        &o,
        &["several prefixes", "\"dec_\"", "\"enc_\"", "--prefix"],
        &[&dir],
    );
    let (m, r) = compile_and_run(&model, &["--prefix", "enc_"], &dir, 4);
    let l = &m["layers"][0];
    assert_eq!(l["kind"], "gru");
    assert_eq!(l["tensors"]["w_ih"], "enc_w_ih");
    assert_eq!(
        l["biases"]["b_hh"].as_array().unwrap().len(),
        3 * l["hidden"].as_u64().unwrap() as usize
    );
    assert!(r["max_abs_error_vs_float"].as_f64().unwrap() < 0.05, "{r}");
}

/// A two-layer `nn.LSTM(16, 24, num_layers=2)` state dict with random
/// weights in (-scale, scale).
fn stacked_lstm(path: &Path, scale: f32) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut npz = ndarray_npy::NpzWriter::new(std::fs::File::create(path).unwrap());
    let (input, hidden) = (16, 24);
    for (k, cols) in [(0, input), (1, hidden)] {
        let mut m = |rows: usize, cols: usize| {
            Array2::from_shape_fn((rows, cols), |_| rng.random_range(-scale..scale))
        };
        let (w_ih, w_hh) = (m(4 * hidden, cols), m(4 * hidden, hidden));
        let b = m(2, 4 * hidden);
        npz.add_array(format!("rnn.weight_ih_l{k}"), &w_ih).unwrap();
        npz.add_array(format!("rnn.weight_hh_l{k}"), &w_hh).unwrap();
        npz.add_array(format!("rnn.bias_ih_l{k}"), &b.row(0).to_owned())
            .unwrap();
        npz.add_array(format!("rnn.bias_hh_l{k}"), &b.row(1).to_owned())
            .unwrap();
    }
    // Not recurrent: ignored.
    npz.add_array("head.weight", &Array2::<f32>::zeros((3, hidden)))
        .unwrap();
    npz.finish().unwrap();
}

#[test]
fn stacked_lstm_layers_chain() {
    let work = tempfile::tempdir().unwrap();
    let model = work.path().join("stacked.npz");
    stacked_lstm(&model, 0.4);
    let (m, r) = compile_and_run(&model, &[], &work.path().join("st"), 5);
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(
        (layers[0]["input"].as_u64(), layers[1]["input"].as_u64()),
        (Some(16), Some(24))
    );
    assert_eq!(layers[1]["tensors"]["w_hh"], "rnn.weight_hh_l1");
    assert!(r["max_abs_error_vs_float"].as_f64().unwrap() < 0.05, "{r}");
    let sum = |r: &serde_json::Value, field: &str| -> u64 {
        r["overflows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o[field].as_u64().unwrap())
            .sum()
    };
    assert_eq!(r["overflows"].as_array().unwrap().len(), 2);
    // Pruning costs more than the fixed point: against the dense trained
    // network the error is larger; unpruned, it is the fixed point's alone.
    assert!(
        r["max_abs_error_vs_dense"].as_f64() > r["max_abs_error_vs_float"].as_f64(),
        "{r}"
    );
    let (_, unpruned) = compile_and_run(&model, &["--sparsity", "0"], &work.path().join("st0"), 5);
    let e = unpruned["max_abs_error_vs_dense"].as_f64().unwrap();
    assert!(e < 0.02, "{unpruned}");
    assert_eq!(sum(&r, "elementwise_saturated"), 0, "{r}");
    // Weights 20 times larger: gate sums past Q3.12's +-8 saturate.
    let loud = work.path().join("loud.npz");
    stacked_lstm(&loud, 8.0);
    let (_, r) = compile_and_run(&loud, &[], &work.path().join("loud"), 5);
    assert!(
        sum(&r, "elementwise_saturated") + sum(&r, "spmv_saturated") > 0,
        "{r}"
    );
}

#[test]
fn bad_models_and_inputs_fail_cleanly() {
    let work = tempfile::tempdir().unwrap();
    let model = root().join("data/silero-vad/silero_vad_16k.safetensors");
    let dir = work.path().join("vad");
    // No recurrent layer in the file.
    let plain = work.path().join("w.npy");
    bbs_compress::write_npy_atomic(&plain, &Array2::<f32>::zeros((4, 4))).unwrap();
    assert_fails(
        &bbs(&["compile", s(&plain), "-o", s(&dir)]),
        &["w.npy", "holds no recurrent layer"],
        &[&dir],
    );
    // A sparsity out of [0, 1).
    assert_fails(
        &bbs(&["compile", s(&model), "--sparsity", "1", "-o", s(&dir)]),
        &["--sparsity", "not in [0, 1)"],
        &[&dir],
    );
    // A prefix that is not there.
    assert_fails(
        &bbs(&["compile", s(&model), "--prefix", "enc_", "-o", s(&dir)]),
        &["--prefix \"enc_\"", "\"lstm_cell.\""],
        &[&dir],
    );
    // Too large for the configuration: the field and what it needs.
    let mut small = bbs_sim::Config::default();
    small.memory.vector_words = 512;
    let small_path = work.path().join("small.toml");
    std::fs::write(&small_path, small.to_toml()).unwrap();
    assert_fails(
        &bbs(&[
            "compile",
            s(&model),
            "--config",
            s(&small_path),
            "-o",
            s(&dir),
        ]),
        &["memory.vector_words", "needs", "512"],
        &[&dir],
    );

    ok(&bbs(&["compile", s(&model), "-o", s(&dir)]));
    let (x, y) = (work.path().join("x.npy"), work.path().join("y.npy"));
    sequence(&x, 3, 100);
    assert_fails(
        &bbs(&["run", s(&dir), s(&x), "-o", s(&y)]),
        &["x.npy", "100 features per frame, the network takes 128"],
        &[&y],
    );
    let mut nan = Array2::<f32>::zeros((2, 128));
    nan[[1, 5]] = f32::NAN;
    bbs_compress::write_npy_atomic(&x, &nan).unwrap();
    assert_fails(
        &bbs(&["run", s(&dir), s(&x), "-o", s(&y)]),
        &["x.npy"],
        &[&y],
    );
    assert_fails(
        &bbs(&["run", s(work.path()), s(&x), "-o", s(&y)]),
        &["not a `bbs compile` directory"],
        &[&y],
    );
}

/// `bbs verify --model DIR --frames 2`: silero-vad's compiled LSTM on the
/// generated RTL in Verilator, bit-exact, 0 cycles of error.
#[test]
fn a_compiled_model_verifies_on_verilator() {
    if !bbs_hdlgen::verilator::available_for_test("bbs verify --model") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let model = root().join("data/silero-vad/silero_vad_16k.safetensors");
    let dir = work.path().join("vad");
    ok(&bbs(&[
        "compile",
        s(&model),
        "-o",
        s(&dir),
        "--sparsity",
        "0.5",
    ]));
    let build = work.path().join("build");
    let out = ok(&bbs(&[
        "verify",
        "--model",
        s(&dir),
        "--frames",
        "2",
        "-o",
        s(&build),
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["config"], "default");
    assert_eq!(v["bit_exact"], true, "{v}");
    assert_eq!(v["rows"], 2 * 128, "{v}");
    assert_eq!(v["rtl_cycles"], v["sim_cycles"], "{v}");
    let manifest = json(&dir.join("manifest.json"));
    assert_eq!(
        v["sim_cycles"],
        2 * manifest["steady_frame_cycles"].as_u64().unwrap()
    );
    // The compiled directory's memory images are the ones the verified
    // run loaded.
    for f in ["program.hex", "pe0_mat.hex", "pe7_mat.hex", "vmem_b0.hex"] {
        assert_eq!(
            std::fs::read(dir.join("hex").join(f)).unwrap(),
            std::fs::read(build.join("run").join(f)).unwrap(),
            "{f}"
        );
    }
    // --model takes its configuration from the directory.
    let o = bbs(&[
        "verify",
        "--model",
        s(&dir),
        "--config",
        "x.toml",
        "-o",
        s(&build),
    ]);
    assert_eq!(o.status.code(), Some(1));
}

/// `--calibrate X.npy`: from the most fraction bits down, the first choice
/// under which no weight, input or result leaves the format on X (silero's
/// gate sums pass Q3.12's +-8 on this sequence, so it takes Q4.11); the
/// run on the same sequence then counts no overflow. A sequence of the
/// wrong width is refused.
#[test]
fn calibrate_picks_the_fraction_bits_that_keep_values_in_range() {
    let work = tempfile::tempdir().unwrap();
    let model = root().join("data/silero-vad/silero_vad_16k.safetensors");
    let x = work.path().join("x.npy");
    sequence(&x, 6, 128);
    let dir = work.path().join("cal");
    let said = ok(&bbs(&[
        "compile",
        s(&model),
        "-o",
        s(&dir),
        "--sparsity",
        "0.5",
        "--calibrate",
        s(&x),
    ]));
    assert!(said.contains("--calibrate: frac_bits"), "{said}");
    let m = json(&dir.join("manifest.json"));
    let tried = m["calibration"].as_array().unwrap();
    let cfg = bbs_sim::Config::from_file(&dir.join("config.toml")).unwrap();
    let chosen = tried.last().unwrap();
    assert_eq!(chosen["frac_bits"].as_u64(), Some(u64::from(cfg.frac_bits)));
    assert_eq!(chosen["results_overflowed"], 0);
    assert_eq!(chosen["weights_saturated"], 0);
    // Every choice with more fraction bits had something out of range.
    for t in &tried[..tried.len() - 1] {
        let n = t["weights_saturated"].as_u64().unwrap()
            + t["inputs_saturated"].as_u64().unwrap()
            + t["results_overflowed"].as_u64().unwrap();
        assert!(n > 0, "{t}");
        assert!(t["frac_bits"].as_u64() > chosen["frac_bits"].as_u64());
    }
    let r = work.path().join("r.json");
    ok(&bbs(&["run", s(&dir), s(&x), "--json", s(&r)]));
    let o = &json(&r)["overflows"][0];
    assert_eq!(
        (
            o["wrapped"].as_u64(),
            o["spmv_saturated"].as_u64(),
            o["elementwise_saturated"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );

    let narrow = work.path().join("narrow.npy");
    sequence(&narrow, 2, 64);
    let dir2 = work.path().join("cal2");
    assert_fails(
        &bbs(&[
            "compile",
            s(&model),
            "-o",
            s(&dir2),
            "--calibrate",
            s(&narrow),
        ]),
        &["narrow.npy", "64 features per frame, the network takes 128"],
        &[&dir2],
    );
}

/// `--layers`: per-matrix sparsity by tensor name (the `bbs prune --layers`
/// format; `skip` keeps a matrix dense), recorded in the manifest; a rule
/// with other banks than the machine's is refused naming the tensor.
#[test]
fn layers_set_each_matrix_sparsity() {
    let work = tempfile::tempdir().unwrap();
    let model = work.path().join("stacked.npz");
    stacked_lstm(&model, 0.4);
    let rules = work.path().join("layers.toml");
    std::fs::write(
        &rules,
        "[defaults]\nsparsity = 0.5\n\n[[layer]]\nname = \"rnn.weight_hh_*\"\nsparsity = 0.875\n\n[[layer]]\nname = \"rnn.weight_ih_l1\"\nskip = true\n",
    )
    .unwrap();
    let (m, _) = compile_and_run(&model, &["--layers", s(&rules)], &work.path().join("st"), 3);
    let sp = |k: usize, role: &str| m["layers"][k]["sparsity"][role].as_f64().unwrap();
    assert_eq!(
        (sp(0, "w_ih"), sp(0, "w_hh"), sp(1, "w_ih"), sp(1, "w_hh")),
        (0.5, 0.875, 0.0, 0.875)
    );
    // The CSB files follow: layer 1's w_ih kept every weight.
    let dense = bbs_compress::Csb::read(&work.path().join("st/layer1.w_ih.csb")).unwrap();
    let pruned = bbs_compress::Csb::read(&work.path().join("st/layer1.w_hh.csb")).unwrap();
    assert_eq!(dense.slots, dense.bank_size, "dense keeps every slot");
    assert!(pruned.slots < dense.slots);

    std::fs::write(
        &rules,
        "[[layer]]\nname = \"rnn.weight_hh_l0\"\nbanks = 4\n",
    )
    .unwrap();
    let dir = work.path().join("bad");
    assert_fails(
        &bbs(&["compile", s(&model), "--layers", s(&rules), "-o", s(&dir)]),
        &[
            "layers.toml",
            "rnn.weight_hh_l0",
            "banks = 4",
            "configuration's (8)",
        ],
        &[&dir],
    );
}

/// `--pruned DIR`: the matrices of a `bbs prune --out-dir` result, byte for
/// byte, their sparsity in the manifest (the slots kept per bank); a result
/// pruned with other banks than the configuration's is refused naming the
/// file.
#[test]
fn pruned_results_are_reused_as_they_are() {
    let work = tempfile::tempdir().unwrap();
    let model = root().join("data/silero-vad/silero_vad_16k.safetensors");
    let pruned = work.path().join("pruned");
    ok(&bbs(&[
        "prune",
        s(&model),
        "--out-dir",
        s(&pruned),
        "--sparsity",
        "0.6",
        "--tensor",
        "lstm_cell.weight_*",
        "-q",
    ]));
    let dir = work.path().join("vad");
    let (m, _) = compile_and_run(&model, &["--pruned", s(&pruned)], &dir, 3);
    // 16-column banks keep ceil(0.4 * 16) = 7.
    assert_eq!(
        m["layers"][0]["sparsity"]["w_hh"].as_f64(),
        Some(1.0 - 7.0 / 16.0)
    );
    assert_eq!(
        std::fs::read(dir.join("layer0.w_hh.csb")).unwrap(),
        std::fs::read(pruned.join("csb/lstm_cell.weight_hh.csb")).unwrap()
    );

    let other = work.path().join("other");
    ok(&bbs(&[
        "prune",
        s(&model),
        "--out-dir",
        s(&other),
        "--banks",
        "4",
        "--tensor",
        "lstm_cell.weight_*",
        "-q",
    ]));
    let bad = work.path().join("bad");
    assert_fails(
        &bbs(&["compile", s(&model), "--pruned", s(&other), "-o", s(&bad)]),
        &[
            "lstm_cell.weight_ih.csb",
            "4 banks",
            "'default' has 8 banks",
        ],
        &[&bad],
    );
}
