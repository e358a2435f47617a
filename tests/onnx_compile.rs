//! `bbs compile` on ONNX graphs built here: LSTM and GRU nodes (stacked,
//! forward and reverse) with shape-only nodes between them and host steps
//! around them, whose outputs from `bbs run` match a straightforward float
//! implementation of ONNX's own operator definitions (gate orders i,o,f,c
//! and z,r,h); and the graphs bbs refuses, each with a one-line error naming
//! the node, exit 1, nothing written.

use bbs_compress::onnx::fixture::{model, Data, Graph, Node, Tensor};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
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

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Random weights in (-0.5, 0.5).
struct Weights(rand_chacha::ChaCha8Rng);

impl Weights {
    fn new(seed: u64) -> Weights {
        Weights(rand_chacha::ChaCha8Rng::seed_from_u64(seed))
    }
    fn take(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.0.random_range(-0.5..0.5)).collect()
    }
}

/// One ONNX recurrent node's weights: W [1, G*H, I], R [1, G*H, H], B [1, 2*G*H].
struct Rnn {
    lstm: bool,
    input: usize,
    hidden: usize,
    w: Vec<f32>,
    r: Vec<f32>,
    b: Vec<f32>,
}

impl Rnn {
    fn new(lstm: bool, input: usize, hidden: usize, rng: &mut Weights) -> Rnn {
        let g = if lstm { 4 } else { 3 };
        Rnn {
            lstm,
            input,
            hidden,
            w: rng.take(g * hidden * input),
            r: rng.take(g * hidden * hidden),
            b: rng.take(2 * g * hidden),
        }
    }
    fn gates(&self) -> usize {
        if self.lstm {
            4
        } else {
            3
        }
    }
    fn tensors(&self, prefix: &str) -> Vec<Tensor> {
        let (g, h, i) = (self.gates() as i64, self.hidden as i64, self.input as i64);
        vec![
            Tensor::f32(&format!("{prefix}_W"), &[1, g * h, i], &self.w),
            Tensor::f32(&format!("{prefix}_R"), &[1, g * h, h], &self.r),
            Tensor::f32(&format!("{prefix}_B"), &[1, 2 * g * h], &self.b),
        ]
    }
    /// Row `row` of `m` (rows x cols) times `x`.
    fn dot(m: &[f32], row: usize, x: &[f64]) -> f64 {
        let cols = x.len();
        m[row * cols..(row + 1) * cols]
            .iter()
            .zip(x)
            .map(|(&w, &v)| f64::from(w) * v)
            .sum()
    }
    /// ONNX's LSTM (gates i,o,f,c) or GRU (z,r,h, linear_before_reset = 1)
    /// over `xs`, forward or in reverse; Y in the input's time order.
    fn run(&self, xs: &[Vec<f64>], reverse: bool) -> Vec<Vec<f64>> {
        let h_n = self.hidden;
        let gh = self.gates() * h_n;
        let (wb, rb) = self.b.split_at(gh);
        let mut h = vec![0.0; h_n];
        let mut c = vec![0.0; h_n];
        let mut ys = vec![Vec::new(); xs.len()];
        let order: Vec<usize> = if reverse {
            (0..xs.len()).rev().collect()
        } else {
            (0..xs.len()).collect()
        };
        for t in order {
            let x = &xs[t];
            let wx = |row: usize| Self::dot(&self.w, row, x) + f64::from(wb[row]);
            let rh = |row: usize| Self::dot(&self.r, row, &h) + f64::from(rb[row]);
            let mut next = vec![0.0; h_n];
            for j in 0..h_n {
                if self.lstm {
                    let gate = |k: usize| wx(k * h_n + j) + rh(k * h_n + j);
                    let (i, o, f, cc) = (
                        sigmoid(gate(0)),
                        sigmoid(gate(1)),
                        sigmoid(gate(2)),
                        gate(3).tanh(),
                    );
                    c[j] = f * c[j] + i * cc;
                    next[j] = o * c[j].tanh();
                } else {
                    let z = sigmoid(wx(j) + rh(j));
                    let r = sigmoid(wx(h_n + j) + rh(h_n + j));
                    let n = (wx(2 * h_n + j) + r * rh(2 * h_n + j)).tanh();
                    next[j] = (1.0 - z) * n + z * h[j];
                }
            }
            h = next;
            ys[t] = h.clone();
        }
        ys
    }
}

fn axes(name: &str) -> Tensor {
    Tensor {
        name: name.into(),
        dims: vec![1],
        data_type: bbs_compress::onnx::data_type::INT64,
        data: Data::Int64(vec![1]),
    }
}

fn input_sequence(frames: usize, features: usize) -> Array2<f32> {
    Array2::from_shape_fn((frames, features), |(t, j)| {
        (0.8 * (0.37 * t as f64 + 0.11 * j as f64).sin()) as f32
    })
}

fn rows(x: &Array2<f32>) -> Vec<Vec<f64>> {
    x.rows()
        .into_iter()
        .map(|r| r.iter().map(|&v| f64::from(v)).collect())
        .collect()
}

/// Compiles `graph`, runs `x` and returns the outputs and the manifest.
fn compile_and_run(
    work: &Path,
    name: &str,
    graph: &Graph,
    x: &Array2<f32>,
    extra: &[&str],
) -> (Array2<f32>, serde_json::Value) {
    let onnx = work.join(format!("{name}.onnx"));
    std::fs::write(&onnx, model(graph)).unwrap();
    let dir = work.join(name);
    let mut args = vec!["compile", s(&onnx), "-o", s(&dir)];
    args.extend(extra);
    let said = ok(&bbs(&args));
    assert!(said.contains("instructions per frame"), "{said}");
    let xp = work.join(format!("{name}.x.npy"));
    bbs_compress::write_npy_atomic(&xp, x).unwrap();
    let y = work.join(format!("{name}.y.npy"));
    let r = work.join(format!("{name}.r.json"));
    ok(&bbs(&[
        "run",
        s(&dir),
        s(&xp),
        "-o",
        s(&y),
        "--json",
        s(&r),
    ]));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&r).unwrap()).unwrap();
    assert_eq!(report["bit_exact_vs_reference"], true);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    (bbs_compress::read_matrix(&y, None).unwrap(), manifest)
}

fn max_error(a: &Array2<f32>, b: &[Vec<f64>]) -> f64 {
    assert_eq!(a.nrows(), b.len());
    a.rows()
        .into_iter()
        .zip(b)
        .flat_map(|(r, e)| {
            assert_eq!(r.len(), e.len());
            r.iter()
                .zip(e)
                .map(|(&x, &y)| (f64::from(x) - y).abs())
                .collect::<Vec<_>>()
        })
        .fold(0.0, f64::max)
}

/// X -> LSTM 'enc' (16 -> 16, initial_h a ConstantOfShape of zeros) ->
/// Squeeze -> MatMul 'mid' + Add + Sigmoid (16 -> 16) -> GRU 'dec' (16 ->
/// 24) -> Squeeze -> Gemm 'head' (24 -> 5, transB, alpha) + Tanh ->
/// LogSoftmax: the recurrent and the dense layers on the accelerator, the
/// log-softmax on the host.
struct Stacked {
    lstm: Rnn,
    gru: Rnn,
    mid_w: Vec<f32>,
    mid_b: Vec<f32>,
    head_w: Vec<f32>,
    head_b: Vec<f32>,
}

impl Stacked {
    fn new(seed: u64) -> Stacked {
        let mut rng = Weights::new(seed);
        Stacked {
            lstm: Rnn::new(true, 16, 16, &mut rng),
            gru: Rnn::new(false, 16, 24, &mut rng),
            mid_w: rng.take(16 * 16),
            mid_b: rng.take(16),
            head_w: rng.take(5 * 24),
            head_b: rng.take(5),
        }
    }

    fn graph(&self) -> Graph {
        let mut initializers = self.lstm.tensors("enc");
        initializers.extend(self.gru.tensors("dec"));
        initializers.push(axes("axes"));
        initializers.push(Tensor::f32("mid_W", &[16, 16], &self.mid_w));
        initializers.push(Tensor::f32("mid_b", &[16], &self.mid_b));
        initializers.push(Tensor::f32("head_W", &[5, 24], &self.head_w));
        initializers.push(Tensor::f32("head_b", &[5], &self.head_b));
        Graph {
            nodes: vec![
                Node::new("Shape", "shape", &["x"]).outputs(&["x_shape"]),
                Node::new("ConstantOfShape", "zeros", &["x_shape"]).outputs(&["h0"]),
                Node::new("LSTM", "enc", &["x", "enc_W", "enc_R", "enc_B", "", "h0"])
                    .int("hidden_size", 16)
                    .outputs(&["enc_y", "enc_h", "enc_c"]),
                Node::new("Squeeze", "sq1", &["enc_y", "axes"]).outputs(&["enc_s"]),
                Node::new("MatMul", "mid", &["enc_s", "mid_W"]).outputs(&["mid_p"]),
                Node::new("Add", "mid_bias", &["mid_p", "mid_b"]).outputs(&["mid_s"]),
                Node::new("Sigmoid", "mid_act", &["mid_s"]).outputs(&["mid_y"]),
                Node::new("GRU", "dec", &["mid_y", "dec_W", "dec_R", "dec_B"])
                    .int("hidden_size", 24)
                    .int("linear_before_reset", 1)
                    .outputs(&["dec_y"]),
                Node::new("Squeeze", "sq2", &["dec_y", "axes"]).outputs(&["dec_s"]),
                Node::new("Gemm", "head", &["dec_s", "head_W", "head_b"])
                    .int("transB", 1)
                    .float("alpha", 0.5)
                    .outputs(&["logits"]),
                Node::new("Tanh", "act", &["logits"]).outputs(&["t"]),
                Node::new("LogSoftmax", "prob", &["t"])
                    .int("axis", -1)
                    .outputs(&["y"]),
            ],
            initializers,
            inputs: vec!["x".into()],
            outputs: vec!["y".into()],
        }
    }

    /// The float model, straight from ONNX's operator definitions.
    fn expected(&self, x: &Array2<f32>) -> Vec<Vec<f64>> {
        let enc = self.lstm.run(&rows(x), false);
        let mid: Vec<Vec<f64>> = enc
            .iter()
            .map(|h| {
                (0..16)
                    .map(|o| {
                        let v: f64 = (0..16)
                            .map(|i| f64::from(self.mid_w[i * 16 + o]) * h[i])
                            .sum();
                        sigmoid(v + f64::from(self.mid_b[o]))
                    })
                    .collect()
            })
            .collect();
        self.gru
            .run(&mid, false)
            .iter()
            .map(|h| {
                let t: Vec<f64> = (0..5)
                    .map(|o| {
                        (0.5 * Rnn::dot(&self.head_w, o, h) + f64::from(self.head_b[o])).tanh()
                    })
                    .collect();
                let m = t.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = m + t.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                t.iter().map(|v| v - lse).collect()
            })
            .collect()
    }
}

/// The default configuration with every overlap technique and room for
/// the stacked graph's program.
fn overlapped_config(work: &Path) -> PathBuf {
    let mut cfg = bbs_sim::Config {
        name: "default-ov".into(),
        overlap: bbs_sim::Overlap::all(),
        ..bbs_sim::Config::default()
    };
    cfg.memory.vector_words = 4096;
    cfg.memory.instruction_words = 128;
    let path = work.join("ov.toml");
    std::fs::write(&path, cfg.to_toml()).unwrap();
    path
}

#[test]
fn stacked_graph_with_dense_layers_matches_onnx_float_semantics() {
    let work = tempfile::tempdir().unwrap();
    let net = Stacked::new(7);
    let graph = net.graph();
    let x = input_sequence(12, 16);
    let expected = net.expected(&x);
    let (out, manifest) = compile_and_run(work.path(), "stacked", &graph, &x, &["--sparsity", "0"]);
    assert_eq!(out.dim(), (12, 5));
    let e = max_error(&out, &expected);
    // Q3.12 with PWL sigmoid/tanh: the fixed point's error alone.
    eprintln!("stacked graph, unpruned, Q3.12: max |error| {e:.5} against the ONNX float model");
    assert!(e < 0.01, "max |error| {e} against the ONNX float model");
    let layers = manifest["layers"].as_array().unwrap();
    let kinds: Vec<&str> = layers.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["lstm", "dense", "gru", "dense"]);
    assert_eq!(
        (layers[1]["act"].as_str(), layers[3]["act"].as_str()),
        (Some("sigmoid"), Some("tanh"))
    );
    assert_eq!(layers[1]["tensors"]["w_ih"], "mid_W");
    assert_eq!(layers[2]["tensors"]["w_hh"], "dec_R[0]");
    let host = &manifest["host"];
    assert_eq!(host["after"].as_array().unwrap().len(), 1);
    assert_eq!(host["after"][0]["node"], "LogSoftmax 'prob'");
    assert_eq!(host["pass_through"][0], "Squeeze 'sq1'");
    assert_eq!(
        (manifest["input"].as_u64(), manifest["output"].as_u64()),
        (Some(16), Some(5))
    );
    // The overlapped machine: the same values, fewer cycles per frame.
    let ov = overlapped_config(work.path());
    let (out_ov, m_ov) = compile_and_run(
        work.path(),
        "stacked-ov",
        &graph,
        &x,
        &["--sparsity", "0", "--config", s(&ov)],
    );
    assert_eq!(out, out_ov);
    assert!(m_ov["steady_frame_cycles"].as_u64() < manifest["steady_frame_cycles"].as_u64());
    // The steady-state frame as a Gantt chart: every unit's lane, the dense
    // layer's SpMxV among the bars.
    let svg = work.path().join("ov.svg");
    let xp = work.path().join("stacked-ov.x.npy");
    ok(&bbs(&[
        "run",
        s(&work.path().join("stacked-ov")),
        s(&xp),
        "--timeline",
        s(&svg),
    ]));
    let text = std::fs::read_to_string(&svg).unwrap();
    roxmltree::Document::parse(&text).unwrap();
    for needle in ["frame 11", "layer1.w", "layer2.w_hh", "vector load", "ACT"] {
        assert!(text.contains(needle), "{needle} missing from the timeline");
    }
    // Pruned to half: bigger error, same shapes, still bit-exact (checked
    // by `run`).
    let (half, _) = compile_and_run(work.path(), "half", &graph, &x, &["--sparsity", "0.5"]);
    assert!(max_error(&half, &expected) > e);
}

/// A compiled graph on the generated RTL, bit for bit and cycle for cycle,
/// serialized and overlapped: [`Activations`], whose Tanh and Relu run on
/// the ACT unit through identity layers and whose Gemm + Relu is a dense
/// layer (relu is the ACT unit's table-free operation).
#[test]
fn a_compiled_onnx_graph_verifies_on_verilator() {
    if !bbs_hdlgen::verilator::available_for_test("bbs verify --model (ONNX)") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let onnx = work.path().join("acts.onnx");
    std::fs::write(&onnx, model(&Activations::new(3).graph())).unwrap();
    let ov = overlapped_config(work.path());
    for (name, extra) in [("ser", vec![]), ("ov", vec!["--config", s(&ov)])] {
        let dir = work.path().join(name);
        let mut args = vec!["compile", s(&onnx), "-o", s(&dir), "--sparsity", "0.5"];
        args.extend(extra);
        ok(&bbs(&args));
        let build = work.path().join(format!("{name}-build"));
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
        assert_eq!(v["bit_exact"], true, "{name}: {v}");
        assert_eq!(v["rows"], 2 * 6, "{name}: {v}");
        assert_eq!(v["rtl_cycles"], v["sim_cycles"], "{name}: {v}");
    }
}

#[test]
fn reverse_gru_with_a_host_step_before_matches_onnx_float_semantics() {
    let work = tempfile::tempdir().unwrap();
    let mut rng = Weights::new(11);
    let gru = Rnn::new(false, 8, 16, &mut rng);
    let mut initializers = gru.tensors("g");
    initializers.push(Tensor::f32("half", &[1], &[0.5]));
    initializers.push(axes("axes"));
    let graph = Graph {
        nodes: vec![
            Node::new("Mul", "scale", &["half", "x"]).outputs(&["xs"]),
            Node::new("GRU", "g", &["xs", "g_W", "g_R", "g_B"])
                .int("hidden_size", 16)
                .int("linear_before_reset", 1)
                .string("direction", "reverse")
                .outputs(&["g_y"]),
            Node::new("Squeeze", "sq", &["g_y", "axes"]).outputs(&["y"]),
        ],
        initializers,
        inputs: vec!["x".into()],
        outputs: vec!["y".into()],
    };
    let x = input_sequence(10, 8);
    let scaled: Vec<Vec<f64>> = rows(&x)
        .into_iter()
        .map(|r| r.into_iter().map(|v| 0.5 * v).collect())
        .collect();
    let expected = gru.run(&scaled, true);
    let (out, manifest) = compile_and_run(work.path(), "rev", &graph, &x, &["--sparsity", "0"]);
    let e = max_error(&out, &expected);
    eprintln!("reverse GRU, unpruned, Q3.12: max |error| {e:.5} against the ONNX float model");
    assert!(e < 0.01, "max |error| {e} against the ONNX float model");
    // Run forward it would be far off: the direction is honoured.
    assert!(max_error(&out, &gru.run(&scaled, false)) > 10.0 * e.max(0.005));
    assert_eq!(manifest["host"]["reverse"], true);
    assert_eq!(manifest["host"]["before"][0]["op"], "elementwise");
    assert_eq!(manifest["host"]["before"][0]["constant_first"], true);
}

/// One GRU node `g` (8 -> 8) between `x` and `y`, changed by `edit`.
fn one_gru(edit: impl FnOnce(&mut Graph)) -> Graph {
    let mut rng = Weights::new(1);
    let gru = Rnn::new(false, 8, 8, &mut rng);
    let mut g = Graph {
        nodes: vec![Node::new("GRU", "g", &["x", "g_W", "g_R", "g_B"])
            .int("hidden_size", 8)
            .int("linear_before_reset", 1)
            .outputs(&["y"])],
        initializers: gru.tensors("g"),
        inputs: vec!["x".into()],
        outputs: vec!["y".into()],
    };
    edit(&mut g);
    g
}

#[test]
fn graphs_bbs_cannot_run_are_refused_naming_the_node() {
    let work = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Graph, Vec<&str>)> = vec![
        (
            "bidirectional",
            one_gru(|g| g.nodes[0] = g.nodes[0].clone().string("direction", "bidirectional")),
            vec!["GRU 'g'", "bidirectional"],
        ),
        (
            "clip",
            one_gru(|g| g.nodes[0] = g.nodes[0].clone().float("clip", 3.0)),
            vec!["GRU 'g'", "clip"],
        ),
        (
            "lbr0",
            one_gru(|g| g.nodes[0].ints.retain(|(n, _)| n != "linear_before_reset")),
            vec!["GRU 'g'", "linear_before_reset = 0"],
        ),
        (
            "activations",
            one_gru(|g| g.nodes[0] = g.nodes[0].clone().strings("activations", &["Relu", "Tanh"])),
            vec!["GRU 'g'", "activations"],
        ),
        (
            "conv",
            one_gru(|g| {
                g.nodes
                    .push(Node::new("Conv", "c", &["y", "g_W"]).outputs(&["z"]));
                g.outputs = vec!["z".into()];
            }),
            vec!["Conv 'c'", "op Conv runs neither on the accelerator"],
        ),
        (
            "branch",
            one_gru(|g| {
                g.nodes.push(Node::new("Relu", "a", &["y"]).outputs(&["a"]));
                g.nodes.push(Node::new("Tanh", "b", &["y"]).outputs(&["b"]));
            }),
            vec!["tensor 'y' feeds 2 nodes", "Relu 'a'", "Tanh 'b'"],
        ),
        (
            "state",
            one_gru(|g| {
                g.initializers
                    .push(Tensor::f32("h0", &[1, 1, 8], &[0.5; 8]));
                g.nodes[0].inputs.extend(["".into(), "h0".into()]);
            }),
            vec!["GRU 'g'", "initial_h"],
        ),
        (
            "custom",
            one_gru(|g| {
                let mut n = Node::new("Swish", "s", &["y"]).outputs(&["z"]);
                n.op_type = "Swish".into();
                g.nodes.push(n);
            }),
            vec!["Swish 's'"],
        ),
        (
            "mixed",
            one_gru(|g| {
                let mut rng = Weights::new(2);
                g.initializers
                    .extend(Rnn::new(false, 8, 8, &mut rng).tensors("r"));
                g.nodes[0].outputs = vec!["y0".into()];
                g.nodes.push(
                    Node::new("GRU", "r", &["y0", "r_W", "r_R", "r_B"])
                        .int("linear_before_reset", 1)
                        .string("direction", "reverse")
                        .outputs(&["y"]),
                );
            }),
            vec!["GRU 'r'", "runs reverse while GRU 'g' runs forward"],
        ),
        (
            "between",
            one_gru(|g| {
                let mut rng = Weights::new(2);
                g.initializers
                    .extend(Rnn::new(false, 8, 8, &mut rng).tensors("r"));
                g.nodes[0].outputs = vec!["y0".into()];
                g.nodes
                    .push(Node::new("Softmax", "soft", &["y0"]).outputs(&["y1"]));
                g.nodes.push(
                    Node::new("GRU", "r", &["y1", "r_W", "r_R", "r_B"])
                        .int("linear_before_reset", 1)
                        .outputs(&["y"]),
                );
            }),
            vec!["Softmax 'soft'", "sits between recurrent layers"],
        ),
        (
            "cycle",
            one_gru(|g| {
                g.nodes
                    .push(Node::new("Relu", "loop", &["y"]).outputs(&["y"]));
            }),
            vec!["Relu 'loop'", "cycle"],
        ),
        (
            "shapes",
            one_gru(|g| {
                g.initializers.push(Tensor::f32("w2", &[6, 3], &[0.1; 18]));
                g.nodes
                    .push(Node::new("MatMul", "m", &["y", "w2"]).outputs(&["z"]));
            }),
            vec![
                "MatMul 'm'",
                "takes 6 features per frame, the tensor before it has 8",
            ],
        ),
    ];
    for (name, graph, needles) in cases {
        let onnx = work.path().join(format!("{name}.onnx"));
        std::fs::write(&onnx, model(&graph)).unwrap();
        let dir = work.path().join(name);
        let out = bbs(&["compile", s(&onnx), "-o", s(&dir)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{name}: '{n}' missing from {stderr}");
        }
        assert!(!dir.exists(), "{name}: {} was left behind", dir.display());
    }
    // --prefix is for state dicts; a wrong feature count at run time.
    let onnx = work.path().join("ok.onnx");
    std::fs::write(&onnx, model(&one_gru(|_| {}))).unwrap();
    let dir = work.path().join("ok");
    let out = bbs(&["compile", s(&onnx), "-o", s(&dir), "--prefix", "enc_"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--prefix"));
    ok(&bbs(&["compile", s(&onnx), "-o", s(&dir)]));
    let x: PathBuf = work.path().join("x.npy");
    bbs_compress::write_npy_atomic(&x, &input_sequence(3, 5)).unwrap();
    let out = bbs(&["run", s(&dir), s(&x)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("5 features per frame, the network takes 8"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PyTorch state dict kept as an ONNX file's initializers (no LSTM node:
/// `rnn.weight_ih_l0`, ... by name) compiles to the same network as the
/// same tensors in an `.npz`: the same outputs, byte for byte.
#[test]
fn a_state_dict_in_onnx_initializers_is_the_npz_one() {
    let work = tempfile::tempdir().unwrap();
    let mut rng = Weights::new(5);
    let (input, hidden) = (16usize, 16usize);
    let mut tensors: Vec<(String, Vec<i64>, Vec<f32>)> = Vec::new();
    for (k, cols) in [(0, input), (1, hidden)] {
        let g = 3 * hidden;
        tensors.push((
            format!("rnn.weight_ih_l{k}"),
            vec![g as i64, cols as i64],
            rng.take(g * cols),
        ));
        tensors.push((
            format!("rnn.weight_hh_l{k}"),
            vec![g as i64, hidden as i64],
            rng.take(g * hidden),
        ));
        tensors.push((format!("rnn.bias_ih_l{k}"), vec![g as i64], rng.take(g)));
        tensors.push((format!("rnn.bias_hh_l{k}"), vec![g as i64], rng.take(g)));
    }
    let onnx = work.path().join("sd.onnx");
    let graph = Graph {
        initializers: tensors
            .iter()
            .map(|(n, d, v)| Tensor::f32(n, d, v))
            .collect(),
        ..Graph::default()
    };
    std::fs::write(&onnx, model(&graph)).unwrap();
    let npz = work.path().join("sd.npz");
    let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(&npz).unwrap());
    for (n, d, v) in &tensors {
        let shape: Vec<usize> = d.iter().map(|&x| x as usize).collect();
        w.add_array(
            n.as_str(),
            &ndarray::ArrayD::from_shape_vec(shape, v.clone()).unwrap(),
        )
        .unwrap();
    }
    w.finish().unwrap();
    let x = input_sequence(6, input);
    let xp = work.path().join("x.npy");
    bbs_compress::write_npy_atomic(&xp, &x).unwrap();
    let mut outs = Vec::new();
    for m in [&onnx, &npz] {
        let dir = work.path().join(m.extension().unwrap());
        ok(&bbs(&["compile", s(m), "-o", s(&dir)]));
        let y = dir.with_extension("y.npy");
        ok(&bbs(&["run", s(&dir), s(&xp), "-o", s(&y)]));
        outs.push(std::fs::read(&y).unwrap());
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["layers"][1]["tensors"]["b_hh"], "rnn.bias_hh_l1");
    }
    assert_eq!(outs[0], outs[1]);
}

/// `--pruned DIR` on an ONNX graph: `bbs prune` keeps ONNX's gate order
/// (i,o,f,c; z,r,h) in `W[0]` and `R[0]`; compile reorders whole rows into
/// the machine's order, which is exact because each row is pruned on its
/// own. So the graph compiled from the pruned result is the graph compiled
/// with the same `--sparsity`: the same CSB files, byte for byte (the final
/// Tanh's identity layer too, which no file holds), and the same outputs. A dense weight stored inputs x outputs (`MatMul`'s B) was
/// balanced along the wrong axis, and is refused naming the tensor.
#[test]
fn a_pruned_onnx_graph_is_reused_in_the_machines_gate_order() {
    let work = tempfile::tempdir().unwrap();
    let mut rng = Weights::new(11);
    let lstm = Rnn::new(true, 16, 16, &mut rng);
    let gru = Rnn::new(false, 16, 16, &mut rng);
    let mut initializers = lstm.tensors("enc");
    initializers.extend(gru.tensors("dec"));
    initializers.push(axes("axes"));
    initializers.push(Tensor::f32("mid_W", &[16, 16], &rng.take(16 * 16)));
    initializers.push(Tensor::f32("mid_b", &[16], &rng.take(16)));
    let graph = |dense: Node| Graph {
        nodes: vec![
            Node::new("LSTM", "enc", &["x", "enc_W", "enc_R", "enc_B"])
                .int("hidden_size", 16)
                .outputs(&["enc_y"]),
            Node::new("Squeeze", "sq1", &["enc_y", "axes"]).outputs(&["enc_s"]),
            dense,
            Node::new("Sigmoid", "mid_act", &["mid_p"]).outputs(&["mid_y"]),
            Node::new("GRU", "dec", &["mid_y", "dec_W", "dec_R", "dec_B"])
                .int("hidden_size", 16)
                .int("linear_before_reset", 1)
                .outputs(&["dec_y"]),
            Node::new("Tanh", "out", &["dec_y"]).outputs(&["y"]),
        ],
        initializers: initializers.clone(),
        inputs: vec!["x".into()],
        outputs: vec!["y".into()],
    };
    // Gemm with transB stores W as the machine does: outputs x inputs.
    let rows_out = graph(
        Node::new("Gemm", "mid", &["enc_s", "mid_W", "mid_b"])
            .int("transB", 1)
            .outputs(&["mid_p"]),
    );
    let onnx = work.path().join("net.onnx");
    std::fs::write(&onnx, model(&rows_out)).unwrap();
    let pruned = work.path().join("pruned");
    ok(&bbs(&[
        "prune",
        s(&onnx),
        "--out-dir",
        s(&pruned),
        "--sparsity",
        "0.5",
        "-q",
    ]));
    let x = input_sequence(6, 16);
    let (by_sparsity, _) =
        compile_and_run(work.path(), "net", &rows_out, &x, &["--sparsity", "0.5"]);
    let (reused, manifest) = compile_and_run(
        work.path(),
        "net-pruned",
        &rows_out,
        &x,
        &["--pruned", s(&pruned)],
    );
    assert_eq!(reused, by_sparsity);
    let mut compared = 0;
    for layer in 0..4 {
        for role in ["w_ih", "w_hh", "w"] {
            let file = format!("layer{layer}.{role}.csb");
            let a = work.path().join("net").join(&file);
            if a.exists() {
                assert_eq!(
                    std::fs::read(&a).unwrap(),
                    std::fs::read(work.path().join("net-pruned").join(&file)).unwrap(),
                    "{file}"
                );
                compared += 1;
            }
        }
    }
    assert_eq!(
        compared, 6,
        "the LSTM's and the GRU's W and R, the dense layer's W, the Tanh's identity"
    );
    assert_eq!(
        manifest["layers"][0]["sparsity"]["w_hh"].as_f64(),
        Some(0.5)
    );
    // The unpruned graph is another network: the reuse is not a no-op.
    let (dense, _) = compile_and_run(
        work.path(),
        "net-dense",
        &rows_out,
        &x,
        &["--sparsity", "0"],
    );
    assert_ne!(dense, reused);

    // MatMul's B is inputs x outputs: its pruned rows are not the machine's.
    let rows_in = graph(Node::new("MatMul", "mid", &["enc_s", "mid_W"]).outputs(&["mid_p"]));
    let onnx_in = work.path().join("net-in.onnx");
    std::fs::write(&onnx_in, model(&rows_in)).unwrap();
    let pruned_in = work.path().join("pruned-in");
    ok(&bbs(&[
        "prune",
        s(&onnx_in),
        "--out-dir",
        s(&pruned_in),
        "--sparsity",
        "0.5",
        "-q",
    ]));
    let bad = work.path().join("bad");
    let o = bbs(&[
        "compile",
        s(&onnx_in),
        "--pruned",
        s(&pruned_in),
        "-o",
        s(&bad),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    for needle in ["--pruned: mid_W", "inputs x outputs", "--sparsity"] {
        assert!(err.contains(needle), "{needle} missing from: {err}");
    }
    assert!(!bad.exists());
}

/// `Mul`, `Sub` and `Div` by constants between the recurrent layers and
/// before a dense one are folded into the next layer's input weights and
/// bias (`W (s x + c) + b = (W diag s) x + (W c + b)`), so the graph runs
/// on the accelerator where it would otherwise be refused (a host step
/// between recurrent layers), and its outputs still match ONNX's float
/// semantics. The folded weights are not a `bbs prune` result's, so
/// `--pruned` is refused naming the fold.
#[test]
fn constant_arithmetic_between_layers_folds_into_the_next_layer() {
    let work = tempfile::tempdir().unwrap();
    let mut rng = Weights::new(5);
    let lstm = Rnn::new(true, 8, 8, &mut rng);
    let gru = Rnn::new(false, 8, 8, &mut rng);
    let scale: Vec<f32> = rng.take(8).iter().map(|v| v + 1.0).collect();
    let shift = rng.take(8);
    let head_w = rng.take(4 * 8);
    let mut initializers = lstm.tensors("enc");
    initializers.extend(gru.tensors("dec"));
    initializers.push(axes("axes"));
    initializers.push(Tensor::f32("scale", &[8], &scale));
    initializers.push(Tensor::f32("shift", &[8], &shift));
    initializers.push(Tensor::f32("two", &[1], &[2.0]));
    initializers.push(Tensor::f32("head_W", &[4, 8], &head_w));
    let graph = Graph {
        nodes: vec![
            Node::new("LSTM", "enc", &["x", "enc_W", "enc_R", "enc_B"])
                .int("hidden_size", 8)
                .outputs(&["enc_y"]),
            Node::new("Squeeze", "sq1", &["enc_y", "axes"]).outputs(&["enc_s"]),
            Node::new("Mul", "scale", &["enc_s", "scale"]).outputs(&["scaled"]),
            Node::new("Sub", "shift", &["shift", "scaled"]).outputs(&["shifted"]),
            Node::new("GRU", "dec", &["shifted", "dec_W", "dec_R", "dec_B"])
                .int("hidden_size", 8)
                .int("linear_before_reset", 1)
                .outputs(&["dec_y"]),
            Node::new("Squeeze", "sq2", &["dec_y", "axes"]).outputs(&["dec_s"]),
            Node::new("Div", "half", &["dec_s", "two"]).outputs(&["halved"]),
            Node::new("Gemm", "head", &["halved", "head_W"])
                .int("transB", 1)
                .outputs(&["y"]),
        ],
        initializers,
        inputs: vec!["x".into()],
        outputs: vec!["y".into()],
    };
    let x = input_sequence(10, 8);
    let enc = lstm.run(&rows(&x), false);
    let mid: Vec<Vec<f64>> = enc
        .iter()
        .map(|h| {
            (0..8)
                .map(|j| f64::from(shift[j]) - f64::from(scale[j]) * h[j])
                .collect()
        })
        .collect();
    let expected: Vec<Vec<f64>> = gru
        .run(&mid, false)
        .iter()
        .map(|h| {
            let half: Vec<f64> = h.iter().map(|v| v / 2.0).collect();
            (0..4).map(|o| Rnn::dot(&head_w, o, &half)).collect()
        })
        .collect();
    let (out, manifest) = compile_and_run(work.path(), "folded", &graph, &x, &["--sparsity", "0"]);
    let e = max_error(&out, &expected);
    eprintln!("folded graph, unpruned, Q3.12: max |error| {e:.5} against the ONNX float model");
    assert!(e < 0.01, "max |error| {e} against the ONNX float model");
    let kinds: Vec<&str> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["lstm", "gru", "dense"]);
    assert_eq!(
        manifest["host"]["folded"],
        serde_json::json!([
            "Mul 'scale' into GRU 'dec'",
            "Sub 'shift' into GRU 'dec'",
            "Div 'half' into Gemm 'head'"
        ])
    );
    assert!(manifest["host"]["before"]
        .as_array()
        .is_none_or(Vec::is_empty));
    assert!(manifest["host"]["after"]
        .as_array()
        .is_none_or(Vec::is_empty));

    let onnx = work.path().join("folded.onnx");
    let pruned = work.path().join("pruned");
    ok(&bbs(&["prune", s(&onnx), "--out-dir", s(&pruned), "-q"]));
    let bad = work.path().join("bad");
    let o = bbs(&["compile", s(&onnx), "--pruned", s(&pruned), "-o", s(&bad)]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("dec_W[0] holds the weights before Mul 'scale' was folded"),
        "{err}"
    );
    assert!(!bad.exists());
}

/// X -> GRU 'a' (8 -> 16) -> Tanh 'squash' -> LSTM 'b' (16 -> 16) -> Relu
/// 'rect' -> Gemm 'head' (16 -> 6, transB, a bias) -> Relu 'head_act': the
/// activations right after a recurrent layer run on the ACT unit as
/// identity layers, the last Relu as the dense layer's activation.
struct Activations {
    gru: Rnn,
    lstm: Rnn,
    head_w: Vec<f32>,
    head_b: Vec<f32>,
}

impl Activations {
    fn new(seed: u64) -> Activations {
        let mut rng = Weights::new(seed);
        Activations {
            gru: Rnn::new(false, 8, 16, &mut rng),
            lstm: Rnn::new(true, 16, 16, &mut rng),
            head_w: rng.take(6 * 16),
            head_b: rng.take(6),
        }
    }

    fn graph(&self) -> Graph {
        let mut initializers = self.gru.tensors("a");
        initializers.extend(self.lstm.tensors("b"));
        initializers.push(axes("axes"));
        initializers.push(Tensor::f32("head_W", &[6, 16], &self.head_w));
        initializers.push(Tensor::f32("head_b", &[6], &self.head_b));
        Graph {
            nodes: vec![
                Node::new("GRU", "a", &["x", "a_W", "a_R", "a_B"])
                    .int("hidden_size", 16)
                    .int("linear_before_reset", 1)
                    .outputs(&["a_y"]),
                Node::new("Squeeze", "sq1", &["a_y", "axes"]).outputs(&["a_s"]),
                Node::new("Tanh", "squash", &["a_s"]).outputs(&["a_t"]),
                Node::new("LSTM", "b", &["a_t", "b_W", "b_R", "b_B"])
                    .int("hidden_size", 16)
                    .outputs(&["b_y"]),
                Node::new("Squeeze", "sq2", &["b_y", "axes"]).outputs(&["b_s"]),
                Node::new("Relu", "rect", &["b_s"]).outputs(&["b_r"]),
                Node::new("Gemm", "head", &["b_r", "head_W", "head_b"])
                    .int("transB", 1)
                    .outputs(&["logits"]),
                Node::new("Relu", "head_act", &["logits"]).outputs(&["y"]),
            ],
            initializers,
            inputs: vec!["x".into()],
            outputs: vec!["y".into()],
        }
    }

    fn expected(&self, x: &Array2<f32>) -> Vec<Vec<f64>> {
        let a: Vec<Vec<f64>> = self
            .gru
            .run(&rows(x), false)
            .into_iter()
            .map(|h| h.iter().map(|v| v.tanh()).collect())
            .collect();
        self.lstm
            .run(&a, false)
            .into_iter()
            .map(|h| {
                let r: Vec<f64> = h.iter().map(|v| v.max(0.0)).collect();
                (0..6)
                    .map(|o| (Rnn::dot(&self.head_w, o, &r) + f64::from(self.head_b[o])).max(0.0))
                    .collect()
            })
            .collect()
    }
}

/// `Tanh` and `Relu` right after a recurrent layer run on the ACT unit,
/// each as a dense layer whose matrix is the identity with one slot per
/// bank, whatever `--sparsity` says; a `Relu` after a dense layer is its
/// activation; the outputs match ONNX's float semantics.
#[test]
fn standalone_activations_after_a_recurrent_layer_run_on_the_act_unit() {
    let work = tempfile::tempdir().unwrap();
    let net = Activations::new(9);
    let x = input_sequence(10, 8);
    let expected = net.expected(&x);
    let (out, manifest) =
        compile_and_run(work.path(), "acts", &net.graph(), &x, &["--sparsity", "0"]);
    let e = max_error(&out, &expected);
    eprintln!(
        "activations graph, unpruned, Q3.12: max |error| {e:.5} against the ONNX float model"
    );
    assert!(e < 0.01, "max |error| {e} against the ONNX float model");
    // Relu clips: some outputs are exactly 0, as in the float model.
    assert!(out.iter().any(|&v| v == 0.0) && out.iter().any(|&v| v > 0.0));
    let layers = manifest["layers"].as_array().unwrap();
    let kinds: Vec<(&str, Option<&str>)> = layers
        .iter()
        .map(|l| (l["kind"].as_str().unwrap(), l["act"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("gru", None),
            ("dense", Some("tanh")),
            ("lstm", None),
            ("dense", Some("relu")),
            ("dense", Some("relu"))
        ]
    );
    // 16 columns in 8 banks of 2: one slot of 2 kept, though --sparsity 0.
    assert_eq!(layers[1]["sparsity"]["w_ih"].as_f64(), Some(0.5));
    assert_eq!(layers[0]["sparsity"]["w_ih"].as_f64(), Some(0.0));
    assert!(manifest["host"]["after"]
        .as_array()
        .is_none_or(Vec::is_empty));
}
