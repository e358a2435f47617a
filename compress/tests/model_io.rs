//! Whole-model reading and writing: read_matrices, write_like, write_masks on
//! .npy/.npz/.safetensors/.onnx files built in a temp directory, and on real
//! trained weights (see "real weights" below).

use std::collections::HashMap;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use approx::{assert_abs_diff_eq, assert_relative_eq};
use bbs_compress::onnx::data_type as dt;
use bbs_compress::onnx::fixture::{Data, Graph, Node, Tensor};
use bbs_compress::{
    list_tensors, read_matrices, read_matrix, write_like, write_masks, DType, NamedMatrix,
};
use half::{bf16, f16};
use ndarray::{array, Array2};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};

// ---------------------------------------------------------------- helpers ----

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn one_line(e: impl std::fmt::Display) -> String {
    let e = e.to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    e
}

fn names(ms: &[NamedMatrix]) -> Vec<&str> {
    ms.iter().map(|m| m.name.as_str()).collect()
}

fn get<'a>(ms: &'a [NamedMatrix], name: &str) -> &'a NamedMatrix {
    ms.iter().find(|m| m.name == name).unwrap()
}

/// Matrix with distinct, exactly representable (f16, bf16) values.
fn mat(rows: usize, cols: usize, seed: f32) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        seed + (r * cols + c) as f32 * 0.25 - 2.0
    })
}

fn le_f32(a: &Array2<f32>) -> Vec<u8> {
    a.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn le_f16(a: &Array2<f32>) -> Vec<u8> {
    a.iter()
        .flat_map(|&v| f16::from_f32(v).to_le_bytes())
        .collect()
}

fn le_bf16(a: &Array2<f32>) -> Vec<u8> {
    a.iter()
        .flat_map(|&v| bf16::from_f32(v).to_le_bytes())
        .collect()
}

/// A .npy image: `descr` like "<f4", shape, raw data in the stated order.
fn npy_bytes(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape_s = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape_s}, }}",
        if fortran { "True" } else { "False" }
    );
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn npz_file(path: &Path, members: &[(&str, Vec<u8>)]) {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    for (name, bytes) in members {
        w.start_file(format!("{name}.npy"), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    std::fs::write(path, w.finish().unwrap().into_inner()).unwrap();
}

fn npz_members(path: &Path) -> HashMap<String, Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut a = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut out = HashMap::new();
    for i in 0..a.len() {
        let mut f = a.by_index(i).unwrap();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        out.insert(f.name().to_string(), b);
    }
    out
}

fn st_file(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, d, sh, b)| (n.to_string(), TensorView::new(*d, sh.clone(), b).unwrap()))
        .collect();
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    std::fs::write(path, safetensors::serialize(views, Some(meta)).unwrap()).unwrap();
}

/// Byte ranges where `a` and `b` (same length) differ, as (first, last+1).
fn diff_span(a: &[u8], b: &[u8]) -> Option<(usize, usize)> {
    assert_eq!(a.len(), b.len());
    let first = a.iter().zip(b).position(|(x, y)| x != y)?;
    let last = a.iter().zip(b).rposition(|(x, y)| x != y).unwrap();
    Some((first, last + 1))
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("bytes present")
}

fn mm(name: &str, a: &str, b: &str) -> Node {
    Node::new("MatMul", name, &[a, b])
}

/// A model with MatMul, Gemm (transB), an LSTM and a GRU, a subgraph, a
/// bias, a Conv weight, an int64 shape and an unused 2-D float tensor.
fn onnx_model(dir: &Path) -> (PathBuf, Graph) {
    let h = 2;
    let sub = Graph {
        nodes: vec![mm("inner_mm", "x", "sub_b")],
        initializers: vec![Tensor::f32("inner_w", &[2, 2], &[1.0, 2.0, 3.0, 4.0])],
        ..Graph::default()
    };
    let mut if_node = Node::new("If", "branch", &["cond"]);
    if_node.graphs.push(("then_branch".into(), sub));
    let g = Graph {
        nodes: vec![
            mm("fc1", "x", "mm_b"),
            Node::new("Gemm", "fc2", &["x", "gemm_b", "gemm_c"]).int("transB", 1),
            Node::new("LSTM", "lstm", &["x", "lstm_W", "lstm_R", "lstm_B"])
                .int("hidden_size", h)
                .string("direction", "bidirectional"),
            Node::new("GRU", "gru", &["x", "gru_W", "gru_R"]).int("hidden_size", h),
            Node::new("Conv", "conv", &["x", "conv_w"]),
            Node::new("Reshape", "reshape", &["x", "shape"]),
            if_node,
        ],
        initializers: vec![
            Tensor::f32("mm_b", &[4, 3], &vals(&mat(4, 3, 0.0))),
            Tensor::f32("gemm_b", &[3, 4], &vals(&mat(3, 4, 1.0))),
            Tensor::f32("gemm_c", &[1, 3], &[0.5, 0.5, 0.5]),
            Tensor::f32("lstm_W", &[2, 8, 3], &vals(&mat(16, 3, 2.0))),
            Tensor::f32("lstm_R", &[2, 8, 2], &vals(&mat(16, 2, 3.0))),
            Tensor::f32("lstm_B", &[2, 16], &[0.0; 32]),
            Tensor::f32("gru_W", &[1, 6, 3], &vals(&mat(6, 3, 4.0))),
            Tensor::f32("gru_R", &[1, 6, 2], &vals(&mat(6, 2, 5.0))),
            Tensor::f32("conv_w", &[2, 1, 3], &[1.0; 6]),
            Tensor {
                name: "shape".into(),
                dims: vec![2],
                data_type: dt::INT64,
                data: Data::Int64(vec![4, 3]),
            },
            Tensor::f32("extra", &[2, 2], &[9.0, 8.0, 7.0, 6.0]),
            Tensor::f32("sub_b", &[3, 2], &vals(&mat(3, 2, 6.0))),
        ],
        ..Graph::default()
    };
    let p = dir.join("m.onnx");
    std::fs::write(&p, bbs_compress::onnx::fixture::model(&g)).unwrap();
    (p, g)
}

fn vals(a: &Array2<f32>) -> Vec<f32> {
    a.iter().copied().collect()
}

fn onnx_file(dir: &Path, name: &str, g: &Graph) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bbs_compress::onnx::fixture::model(g)).unwrap();
    p
}

// ------------------------------------------------------------------ reading ----

#[test]
fn npz_returns_every_2d_float_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.npz");
    let (a, b, c) = (mat(3, 4, 0.0), mat(2, 2, 1.0), mat(2, 3, 2.0));
    npz_file(
        &p,
        &[
            ("w1", npy_bytes("<f4", false, &[3, 4], &le_f32(&a))),
            (
                "w2",
                npy_bytes(
                    "<f8",
                    false,
                    &[2, 2],
                    &b.iter()
                        .flat_map(|&v| (v as f64).to_le_bytes())
                        .collect::<Vec<_>>(),
                ),
            ),
            ("w3", npy_bytes("<f2", false, &[2, 3], &le_f16(&c))),
            ("bias", npy_bytes("<f4", false, &[4], &[0; 16])),
            ("table", npy_bytes("<i4", false, &[2, 2], &[0; 16])),
        ],
    );
    let ms = read_matrices(&p, &[]).unwrap();
    assert_eq!(names(&ms), ["w1", "w2", "w3"]);
    assert_eq!(get(&ms, "w1").matrix, a);
    assert_eq!(get(&ms, "w2").matrix, b);
    assert_eq!(get(&ms, "w3").matrix, c);
    let dtypes: Vec<DType> = ms.iter().map(|m| m.dtype).collect();
    assert_eq!(dtypes, [DType::F32, DType::F64, DType::F16]);
    assert!(ms.iter().all(|m| m.gates.is_none() && m.role.is_none()));

    // Named explicitly, the skipped ones are errors saying why.
    let e = one_line(read_matrices(&p, &s(&["bias"])).unwrap_err());
    assert!(e.contains("tensor 'bias' is 1-D"), "{e}");
    let e = one_line(read_matrices(&p, &s(&["table"])).unwrap_err());
    assert!(e.contains("tensor 'table'") && e.contains("I32"), "{e}");
}

#[test]
fn npy_is_one_matrix_named_after_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("layer.npy");
    let a = mat(2, 5, 0.0);
    std::fs::write(&p, npy_bytes("<f4", false, &[2, 5], &le_f32(&a))).unwrap();
    let ms = read_matrices(&p, &[]).unwrap();
    assert_eq!(names(&ms), ["layer"]);
    assert_eq!(ms[0].matrix, a);
    assert_eq!(read_matrices(&p, &s(&["lay*"])).unwrap().len(), 1);
}

#[test]
fn safetensors_returns_every_2d_float_tensor_converted() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.safetensors");
    let (a, b, c, d) = (
        mat(2, 3, 0.0),
        mat(3, 2, 1.0),
        mat(4, 2, 2.0),
        mat(1, 3, 3.0),
    );
    st_file(
        &p,
        &[
            ("enc.weight", Dtype::F32, vec![2, 3], le_f32(&a)),
            ("enc.bias", Dtype::F32, vec![3], vec![0; 12]),
            ("dec.weight", Dtype::F16, vec![3, 2], le_f16(&b)),
            ("dec.proj", Dtype::BF16, vec![4, 2], le_bf16(&c)),
            (
                "head",
                Dtype::F64,
                vec![1, 3],
                d.iter().flat_map(|&v| (v as f64).to_le_bytes()).collect(),
            ),
            ("ids", Dtype::I64, vec![2, 2], vec![0; 32]),
        ],
    );
    let ms = read_matrices(&p, &[]).unwrap();
    assert_eq!(names(&ms), ["dec.proj", "dec.weight", "enc.weight", "head"]);
    let got: Vec<(DType, Array2<f32>)> = ms.iter().map(|m| (m.dtype, m.matrix.clone())).collect();
    assert_eq!(
        got,
        [
            (DType::BF16, c),
            (DType::F16, b),
            (DType::F32, a),
            (DType::F64, d)
        ]
    );
}

#[test]
fn globs_select_and_unmatched_patterns_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.safetensors");
    let t = |n: &'static str| (n, Dtype::F32, vec![2, 2], le_f32(&mat(2, 2, 0.0)));
    st_file(
        &p,
        &[
            t("layer1.weight"),
            t("layer2.weight"),
            t("layer10.weight"),
            t("layer1.proj"),
            ("layer1.bias", Dtype::F32, vec![2], vec![0; 8]),
        ],
    );
    let sel = |v: &[&str]| {
        read_matrices(&p, &s(v))
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        sel(&["layer*.weight"]),
        ["layer1.weight", "layer10.weight", "layer2.weight"]
    );
    assert_eq!(sel(&["layer?.weight"]), ["layer1.weight", "layer2.weight"]);
    // A glob that also matches a vector skips it; overlapping selections
    // give each tensor once.
    assert_eq!(
        sel(&["layer1.*", "layer1.proj"]),
        ["layer1.proj", "layer1.weight"]
    );
    assert_eq!(sel(&["*"]).len(), 4);

    let e = one_line(read_matrices(&p, &s(&["layer1.*", "conv*"])).unwrap_err());
    assert!(
        e.contains("pattern 'conv*' matches no 2-D floating-point tensor")
            && e.contains(&p.display().to_string()),
        "{e}"
    );
    let e = one_line(read_matrices(&p, &s(&["*.bias"])).unwrap_err());
    assert!(e.contains("pattern '*.bias'"), "{e}");
    let e = one_line(read_matrices(&p, &s(&["layer3.weight"])).unwrap_err());
    assert!(
        e.contains("no tensor named 'layer3.weight'") && e.contains("available: layer1.proj"),
        "{e}"
    );
}

#[test]
fn onnx_returns_weights_with_roles_and_skips_biases() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = onnx_model(dir.path());
    let ms = read_matrices(&p, &[]).unwrap();
    assert_eq!(
        names(&ms),
        [
            "extra",
            "gemm_b",
            "gru_R[0]",
            "gru_W[0]",
            "inner_w",
            "lstm_R[0]",
            "lstm_R[1]",
            "lstm_W[0]",
            "lstm_W[1]",
            "mm_b",
            "sub_b",
        ]
    );
    assert_eq!(get(&ms, "mm_b").matrix, mat(4, 3, 0.0));
    assert_eq!(get(&ms, "gemm_b").matrix, mat(3, 4, 1.0));
    assert!(ms.iter().all(|m| m.dtype == DType::F32));
    let role = |n| get(&ms, n).role.clone().unwrap_or_default();
    assert!(
        role("mm_b").contains("MatMul 'fc1' input 1"),
        "{}",
        role("mm_b")
    );
    assert!(
        role("gemm_b").contains("transB=1, [out, in]"),
        "{}",
        role("gemm_b")
    );
    // Used inside an If branch.
    assert!(
        role("sub_b").contains("MatMul 'inner_mm'"),
        "{}",
        role("sub_b")
    );
    assert!(get(&ms, "extra").role.is_none());

    assert_eq!(read_matrix(&p, Some("gemm_b")).unwrap(), mat(3, 4, 1.0));
    let e = one_line(read_matrix(&p, Some("conv_w")).unwrap_err());
    assert!(e.contains("tensor 'conv_w' is 3-D"), "{e}");
    let e = one_line(read_matrix(&p, Some("gemm_c")).unwrap_err());
    assert!(e.contains("tensor 'gemm_c' is a bias"), "{e}");
    let listed = list_tensors(&p).unwrap();
    assert_eq!(listed.len(), 13);
    assert!(listed.contains(&("lstm_W".to_string(), vec![2, 8, 3])));
}

#[test]
fn onnx_lstm_and_gru_are_split_per_direction_with_gates() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = onnx_model(dir.path());
    let ms = read_matrices(&p, &s(&["lstm_W", "gru_*"])).unwrap();
    assert_eq!(
        names(&ms),
        ["gru_R[0]", "gru_W[0]", "lstm_W[0]", "lstm_W[1]"]
    );
    let w = mat(16, 3, 2.0);
    for d in 0..2 {
        let m = get(&ms, &format!("lstm_W[{d}]"));
        assert_eq!(m.matrix, w.slice(ndarray::s![d * 8..(d + 1) * 8, ..]));
        let g = m.gates.as_ref().unwrap();
        assert_eq!((g.op.as_str(), g.hidden, g.direction), ("LSTM", 2, d));
        assert_eq!(g.gates, ["i", "o", "f", "c"]);
        assert!(m
            .role
            .as_ref()
            .unwrap()
            .contains(&format!("direction {d} of 2")));
    }
    let gru = get(&ms, "gru_R[0]");
    assert_eq!(gru.matrix, mat(6, 2, 5.0));
    let g = gru.gates.as_ref().unwrap();
    assert_eq!((g.op.as_str(), g.hidden, g.direction), ("GRU", 2, 0));
    assert_eq!(g.gates, ["z", "r", "h"]);

    // A hidden size that does not fit the tensor is an error naming it.
    let g = Graph {
        nodes: vec![Node::new("LSTM", "l", &["x", "W", "R"]).int("hidden_size", 3)],
        initializers: vec![
            Tensor::f32("W", &[1, 8, 1], &[0.0; 8]),
            Tensor::f32("R", &[1, 8, 2], &[0.0; 16]),
        ],
        ..Graph::default()
    };
    let p = onnx_file(dir.path(), "bad.onnx", &g);
    let e = one_line(read_matrices(&p, &[]).unwrap_err());
    assert!(
        e.contains("tensor 'R'") && e.contains("hidden size 3"),
        "{e}"
    );
}

#[test]
fn onnx_unsupported_dtype_and_external_data_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let g = Graph {
        nodes: vec![mm("fc", "x", "w_int")],
        initializers: vec![Tensor {
            name: "w_int".into(),
            dims: vec![2, 2],
            data_type: dt::INT64,
            data: Data::Int64(vec![1, 2, 3, 4]),
        }],
        ..Graph::default()
    };
    let p = onnx_file(dir.path(), "int.onnx", &g);
    let e = one_line(read_matrices(&p, &[]).unwrap_err());
    assert!(
        e.contains("tensor 'w_int'") && e.contains("INT64") && e.contains("int.onnx"),
        "{e}"
    );

    let g = Graph {
        nodes: vec![mm("fc", "x", "w_ext")],
        initializers: vec![Tensor {
            name: "w_ext".into(),
            dims: vec![2, 2],
            data_type: dt::FLOAT,
            data: Data::External("weights.bin".into()),
        }],
        ..Graph::default()
    };
    let p = onnx_file(dir.path(), "ext.onnx", &g);
    let e = one_line(read_matrices(&p, &[]).unwrap_err());
    assert!(
        e.contains("tensor 'w_ext'") && e.contains("external"),
        "{e}"
    );
}

#[test]
fn onnx_truncated_or_not_onnx_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = onnx_model(dir.path());
    let bytes = std::fs::read(&p).unwrap();
    let t = dir.path().join("cut.onnx");
    for len in [0, 1, 5, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&t, &bytes[..len]).unwrap();
        let e = one_line(read_matrices(&t, &[]).unwrap_err());
        assert!(e.starts_with(&t.display().to_string()), "{e}");
        assert!(read_matrix(&t, None).is_err());
    }
    std::fs::write(&t, b"{\"not\": \"onnx\"}").unwrap();
    let e = one_line(read_matrices(&t, &[]).unwrap_err());
    assert!(e.contains("not a readable ONNX model"), "{e}");
}

#[test]
fn onnx_float16_bfloat16_double_storage_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let a = mat(2, 3, 0.0);
    let bits = |f: fn(f32) -> u16| a.iter().map(|&v| i32::from(f(v))).collect::<Vec<_>>();
    let g = Graph {
        nodes: vec![
            mm("m1", "x", "h_raw"),
            mm("m2", "x", "h_int"),
            mm("m3", "x", "b_int"),
            mm("m4", "x", "f_data"),
            mm("m5", "x", "d_data"),
        ],
        initializers: vec![
            Tensor {
                name: "h_raw".into(),
                dims: vec![2, 3],
                data_type: dt::FLOAT16,
                data: Data::Raw(le_f16(&a)),
            },
            Tensor {
                name: "h_int".into(),
                dims: vec![2, 3],
                data_type: dt::FLOAT16,
                data: Data::Int32(bits(|v| f16::from_f32(v).to_bits())),
            },
            Tensor {
                name: "b_int".into(),
                dims: vec![2, 3],
                data_type: dt::BFLOAT16,
                data: Data::Int32(bits(|v| bf16::from_f32(v).to_bits())),
            },
            Tensor {
                name: "f_data".into(),
                dims: vec![2, 3],
                data_type: dt::FLOAT,
                data: Data::Floats(a.iter().copied().collect()),
            },
            Tensor {
                name: "d_data".into(),
                dims: vec![2, 3],
                data_type: dt::DOUBLE,
                data: Data::Doubles(a.iter().map(|&v| v as f64 + 1e-12).collect()),
            },
        ],
        ..Graph::default()
    };
    let p = onnx_file(dir.path(), "kinds.onnx", &g);
    let ms = read_matrices(&p, &[]).unwrap();
    let got: Vec<(&str, DType)> = ms.iter().map(|m| (m.name.as_str(), m.dtype)).collect();
    assert_eq!(
        got,
        [
            ("b_int", DType::BF16),
            ("d_data", DType::F64),
            ("f_data", DType::F32),
            ("h_int", DType::F16),
            ("h_raw", DType::F16),
        ]
    );
    for m in &ms {
        assert_eq!(m.matrix, a, "{}", m.name);
    }

    // Replace all five: representable values come back exactly, in the
    // original dtype; the f64 keeps its precision where unchanged.
    let mut new = a.clone();
    new[(0, 0)] = 0.0;
    new[(1, 2)] = -0.125;
    let out = dir.path().join("kinds_out.onnx");
    let replace: Vec<(String, Array2<f32>)> =
        ms.iter().map(|m| (m.name.clone(), new.clone())).collect();
    write_like(&p, &out, &replace).unwrap();
    let back = read_matrices(&out, &[]).unwrap();
    for (m, b) in ms.iter().zip(&back) {
        assert_eq!((&b.name, b.dtype), (&m.name, m.dtype));
        assert_eq!(b.matrix, new, "{}", b.name);
    }
    let bytes = std::fs::read(&out).unwrap();
    let d_kept = (a[(0, 1)] as f64 + 1e-12).to_le_bytes();
    assert!(bytes.windows(8).any(|w| w == d_kept), "f64 precision kept");
    assert!(bytes.windows(8).any(|w| w == (-0.125f64).to_le_bytes()));
    // Writing is deterministic.
    let out2 = dir.path().join("kinds_out2.onnx");
    write_like(&p, &out2, &replace).unwrap();
    assert_eq!(std::fs::read(&out2).unwrap(), bytes);
}

// ------------------------------------------------------------------ writing ----

#[test]
fn write_like_npy_keeps_header_order_and_byte_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = mat(2, 3, 0.0);
    // Fortran order, big-endian f8 with values f32 cannot hold exactly.
    let fdata: Vec<u8> = a
        .t()
        .iter()
        .flat_map(|&v| (v as f64 + 1e-9).to_be_bytes())
        .collect();
    let p = dir.path().join("w.npy");
    let orig = npy_bytes(">f8", true, &[2, 3], &fdata);
    std::fs::write(&p, &orig).unwrap();
    let m = read_matrices(&p, &[]).unwrap().remove(0);
    assert_eq!((m.name.as_str(), m.dtype), ("w", DType::F64));
    let mut new = m.matrix.clone();
    new[(0, 2)] = 0.0;
    let out = dir.path().join("out.npy");
    write_like(&p, &out, &[("w".into(), new.clone())]).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes.len(), orig.len());
    let header = orig.len() - fdata.len();
    assert_eq!(bytes[..header], orig[..header]);
    // (0, 2) is element 4 in Fortran order; only it changed.
    let (lo, hi) = diff_span(&orig, &bytes).unwrap();
    assert!(lo >= header + 4 * 8 && hi <= header + 5 * 8, "{lo}..{hi}");
    assert_eq!(&bytes[header + 32..header + 40], 0.0f64.to_be_bytes());
    assert_eq!(read_matrix(&out, None).unwrap(), new);
}

#[test]
fn write_like_npz_keeps_other_members_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.npz");
    let (a, b) = (mat(3, 4, 0.0), mat(2, 2, 1.0));
    let ma = npy_bytes("<f4", false, &[3, 4], &le_f32(&a));
    let mb = npy_bytes("<f2", false, &[2, 2], &le_f16(&b));
    let mv = npy_bytes("<f4", false, &[3], &[1; 12]);
    npz_file(
        &p,
        &[("a", ma.clone()), ("b", mb.clone()), ("v", mv.clone())],
    );
    let mut nb = b.clone();
    nb[(1, 1)] = 0.0;
    nb[(0, 0)] = 0.333; // rounds to the nearest f16
    let out = dir.path().join("o.npz");
    write_like(&p, &out, &[("b".into(), nb.clone())]).unwrap();
    let members = npz_members(&out);
    assert_eq!(members.len(), 3);
    assert_eq!(members["a.npy"], ma);
    assert_eq!(members["v.npy"], mv);
    let header = mb.len() - 8;
    assert_eq!(members["b.npy"][..header], mb[..header]);
    let mut want = nb.clone();
    want[(0, 0)] = f16::from_f32(0.333).to_f32();
    assert_eq!(&members["b.npy"][header..], &le_f16(&want)[..]);
    let back = read_matrices(&out, &[]).unwrap();
    assert_eq!(back[1].matrix, want);
    assert_eq!(back[1].dtype, DType::F16);
    assert_eq!(back[0].matrix, a);
    // Deterministic, and the output is an ordinary stored zip.
    let out2 = dir.path().join("o2.npz");
    write_like(&p, &out2, &[("b".into(), nb)]).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&out2).unwrap());
}

#[test]
fn write_like_safetensors_changes_only_the_replaced_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.safetensors");
    let (a, b, c) = (mat(2, 3, 0.0), mat(3, 2, 1.0), mat(4, 2, 2.0));
    st_file(
        &p,
        &[
            ("a", Dtype::F32, vec![2, 3], le_f32(&a)),
            ("b", Dtype::F16, vec![3, 2], le_f16(&b)),
            ("c", Dtype::BF16, vec![4, 2], le_bf16(&c)),
            ("ids", Dtype::I64, vec![3], vec![7; 24]),
        ],
    );
    let orig = std::fs::read(&p).unwrap();
    let (nb, nc) = (b.mapv(|v| if v > 0.0 { v } else { 0.0 }), c.mapv(|v| -v));
    let out = dir.path().join("o.safetensors");
    write_like(
        &p,
        &out,
        &[("c".into(), nc.clone()), ("b".into(), nb.clone())],
    )
    .unwrap();
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes.len(), orig.len());
    let header = 8 + u64::from_le_bytes(orig[..8].try_into().unwrap()) as usize;
    assert_eq!(bytes[..header], orig[..header], "header and metadata kept");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("a").unwrap().data(), &le_f32(&a)[..]);
    assert_eq!(st.tensor("ids").unwrap().data(), &[7; 24][..]);
    assert_eq!(st.tensor("b").unwrap().dtype(), Dtype::F16);
    assert_eq!(st.tensor("b").unwrap().data(), &le_f16(&nb)[..]);
    assert_eq!(st.tensor("c").unwrap().dtype(), Dtype::BF16);
    assert_eq!(st.tensor("c").unwrap().data(), &le_bf16(&nc)[..]);
    let back = read_matrices(&out, &s(&["b", "c"])).unwrap();
    assert_eq!((back[0].matrix.clone(), back[1].matrix.clone()), (nb, nc));
}

#[test]
fn write_like_onnx_splices_only_the_replaced_data() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = onnx_model(dir.path());
    let orig = std::fs::read(&p).unwrap();
    let before = read_matrices(&p, &[]).unwrap();
    let new_mm = mat(4, 3, 0.0).mapv(|v| if v.abs() < 1.0 { 0.0 } else { v });
    let out = dir.path().join("o.onnx");
    write_like(&p, &out, &[("mm_b".into(), new_mm.clone())]).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    let at = find(&orig, &le_f32(&mat(4, 3, 0.0)));
    let (lo, hi) = diff_span(&orig, &bytes).unwrap();
    assert!(
        lo >= at && hi <= at + 48,
        "{lo}..{hi} outside {at}..{}",
        at + 48
    );
    let after = read_matrices(&out, &[]).unwrap();
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.name, a.name);
        if a.name == "mm_b" {
            assert_eq!(a.matrix, new_mm);
        } else {
            assert_eq!(a.matrix, b.matrix, "{}", a.name);
        }
    }

    // One direction of a bidirectional LSTM: the other is untouched.
    let zeros = Array2::<f32>::zeros((8, 3));
    write_like(&p, &out, &[("lstm_W[1]".into(), zeros.clone())]).unwrap();
    let ms = read_matrices(&out, &s(&["lstm_W"])).unwrap();
    assert_eq!(ms[0].matrix, mat(16, 3, 2.0).slice(ndarray::s![0..8, ..]));
    assert_eq!(ms[1].matrix, zeros);
    let (lo, hi) = diff_span(&orig, &std::fs::read(&out).unwrap()).unwrap();
    let at = find(&orig, &le_f32(&mat(16, 3, 2.0)));
    assert!(lo >= at + 8 * 3 * 4 && hi <= at + 16 * 3 * 4, "{lo}..{hi}");
}

#[test]
fn write_like_onnx_int32_data_rewrites_lengths_around_it() {
    let dir = tempfile::tempdir().unwrap();
    // f16 bit patterns as varints inside a subgraph's initializer: a new
    // value changes the varint length, so every enclosing length changes.
    let small = Array2::from_shape_vec((2, 2), vec![0.0, 0.0, 0.0, 0.0]).unwrap();
    let sub = Graph {
        nodes: vec![mm("inner", "x", "h")],
        initializers: vec![Tensor {
            name: "h".into(),
            dims: vec![2, 2],
            data_type: dt::FLOAT16,
            data: Data::Int32(vec![0; 4]),
        }],
        ..Graph::default()
    };
    let mut if_node = Node::new("If", "if", &["c"]);
    if_node.graphs.push(("then_branch".into(), sub));
    let g = Graph {
        nodes: vec![if_node, mm("outer", "x", "w")],
        initializers: vec![Tensor::f32("w", &[1, 2], &[1.5, 2.5])],
        ..Graph::default()
    };
    let p = onnx_file(dir.path(), "h.onnx", &g);
    assert_eq!(read_matrix(&p, Some("h")).unwrap(), small);
    let new = array![[1.0f32, -2.0], [65504.0, 0.5]];
    let out = dir.path().join("o.onnx");
    write_like(&p, &out, &[("h".into(), new.clone())]).unwrap();
    let ms = read_matrices(&out, &[]).unwrap();
    assert_eq!(names(&ms), ["h", "w"]);
    assert_eq!(ms[0].matrix, new);
    assert_eq!(ms[1].matrix, array![[1.5f32, 2.5]]);
    let mut want_model = g.clone();
    let bits = new
        .iter()
        .map(|&v| i32::from(f16::from_f32(v).to_bits()))
        .collect();
    want_model.nodes[0].graphs[0].1.initializers[0].data = Data::Int32(bits);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        bbs_compress::onnx::fixture::model(&want_model),
        "same bytes as a model built with the new values"
    );
}

#[test]
fn write_like_errors_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.safetensors");
    st_file(
        &p,
        &[
            ("a", Dtype::F32, vec![2, 3], le_f32(&mat(2, 3, 0.0))),
            ("h", Dtype::F16, vec![1, 2], le_f16(&mat(1, 2, 0.0))),
            ("v", Dtype::F32, vec![3], vec![0; 12]),
        ],
    );
    let (onnx, _) = onnx_model(dir.path());
    // Raw data shorter than the dims say.
    let short = onnx_file(
        dir.path(),
        "short.onnx",
        &Graph {
            nodes: vec![mm("fc", "x", "w")],
            initializers: vec![Tensor::f32("w", &[2, 3], &[1.0, 2.0])],
            ..Graph::default()
        },
    );
    let out = dir.path().join("o.safetensors");
    let out_onnx = dir.path().join("o.onnx");
    type Case<'a> = (&'a Path, &'a Path, Vec<(String, Array2<f32>)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            &p,
            &out,
            vec![("a".into(), mat(3, 2, 0.0))],
            "tensor 'a' has shape [2, 3]; the replacement has shape [3, 2]",
        ),
        (
            &p,
            &out,
            vec![("zz".into(), mat(2, 3, 0.0))],
            "no tensor named 'zz'",
        ),
        (
            &p,
            &out,
            vec![("v".into(), mat(1, 3, 0.0))],
            "tensor 'v' is 1-D",
        ),
        (
            &p,
            &out,
            vec![("a".into(), mat(2, 3, 0.0)), ("a".into(), mat(2, 3, 0.0))],
            "tensor 'a' is replaced twice",
        ),
        (
            &p,
            &out,
            vec![("h".into(), array![[1e6f32, 0.0]])],
            "tensor 'h' replacement value 1000000 at (row 0, col 0) does not fit F16",
        ),
        (
            &p,
            &out,
            vec![("a".into(), mat(2, 3, 0.0).mapv(|v| v / 0.0))],
            "is not finite",
        ),
        (
            &onnx,
            &out_onnx,
            vec![("lstm_W[0]".into(), mat(8, 2, 0.0))],
            "tensor 'lstm_W[0]' has shape [8, 3]",
        ),
        (
            &onnx,
            &out_onnx,
            vec![("lstm_W".into(), mat(8, 3, 0.0))],
            "no tensor named 'lstm_W'",
        ),
        (
            &onnx,
            &out_onnx,
            vec![("conv_w".into(), mat(2, 3, 0.0))],
            "tensor 'conv_w' is 3-D",
        ),
        (
            &onnx,
            &out,
            vec![("mm_b".into(), mat(4, 3, 0.0))],
            "output must have the input's extension '.onnx'",
        ),
        (
            &short,
            &out_onnx,
            vec![("w".into(), mat(2, 3, 0.0))],
            "tensor 'w' holds 8 data bytes, which does not match shape [2, 3]",
        ),
    ];
    for (input, output, replace, want) in cases {
        let e = one_line(write_like(input, output, &replace).unwrap_err());
        assert!(e.contains(want), "{e}\nwanted: {want}");
        assert!(!out.exists() && !out_onnx.exists(), "{want}: no output");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn unwritable_output_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.npy");
    std::fs::write(
        &p,
        npy_bytes("<f4", false, &[1, 2], &le_f32(&mat(1, 2, 0.0))),
    )
    .unwrap();
    let out = dir.path().join("missing").join("o.npy");
    let e = one_line(write_like(&p, &out, &[("m".into(), mat(1, 2, 0.0))]).unwrap_err());
    assert!(e.contains(&out.display().to_string()), "{e}");
    let e = one_line(write_masks(&dir.path().join("missing/masks.safetensors"), &[]).unwrap_err());
    assert!(e.contains("masks.safetensors"), "{e}");
}

#[test]
fn masks_are_u8_safetensors_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let m1 = array![[true, false, true], [false, false, true]];
    let m2 = array![[false], [true]];
    let masks = vec![
        ("z.weight".to_string(), m1.clone()),
        ("a.weight".to_string(), m2.clone()),
    ];
    let p = dir.path().join("masks.safetensors");
    write_masks(&p, &masks).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("z.weight").unwrap();
    assert_eq!((t.dtype(), t.shape()), (Dtype::U8, &[2, 3][..]));
    assert_eq!(t.data(), &[1, 0, 1, 0, 0, 1]);
    assert_eq!(st.tensor("a.weight").unwrap().data(), &[0, 1]);
    // A transposed (non-standard layout) mask is written in logical order.
    let p2 = dir.path().join("m2.safetensors");
    let masks_t = vec![
        ("z.weight".to_string(), m1.t().to_owned().reversed_axes()),
        ("a.weight".to_string(), m2),
    ];
    write_masks(&p2, &masks_t).unwrap();
    assert_eq!(std::fs::read(&p2).unwrap(), bytes);
    let e = one_line(write_masks(&p2, &[("x".into(), m1.clone()), ("x".into(), m1)]).unwrap_err());
    assert!(e.contains("tensor 'x' is given twice"), "{e}");
}

// ------------------------------------------------------------- real weights ----
//
// Trained weights rather than made-up ones: silero-vad's LSTM from the
// committed `data/silero-vad/silero_vad_16k.safetensors`, also put into an
// ONNX model built here, and g2p-en's GRU checkpoint, which
// `scripts/fetch-data.sh` (run by `scripts/test.sh`) puts in `data/cache/`.
// Pinned values were computed from the raw bytes with Python's standard
// library (struct, json, zipfile), independently of these readers.

/// `rel` in the repository (the workspace root, one above this crate).
fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate is inside the workspace")
        .join(rel)
}

/// A file that `scripts/fetch-data.sh` fetches into `data/cache/`, or
/// `None` after printing SKIPPED when it has not run; under `CI=true` a
/// missing file fails the test, so CI never passes without checking.
fn fetched(rel: &str) -> Option<PathBuf> {
    let p = repo_file("data/cache").join(rel);
    if p.is_file() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{} missing under CI; run scripts/fetch-data.sh first",
            p.display()
        );
    }
    println!(
        "SKIPPED: {} missing; run scripts/fetch-data.sh",
        p.display()
    );
    None
}

const SILERO: &str = "data/silero-vad/silero_vad_16k.safetensors";

/// silero-vad's LSTM weights, `[weight_hh, weight_ih]`, after checking them
/// against the values pinned from the file's bytes.
fn silero_lstm() -> Vec<NamedMatrix> {
    let ms = read_matrices(&repo_file(SILERO), &s(&["lstm_cell.weight_*"])).unwrap();
    assert_eq!(names(&ms), ["lstm_cell.weight_hh", "lstm_cell.weight_ih"]);
    assert!(ms
        .iter()
        .all(|m| m.matrix.dim() == (512, 128) && m.dtype == DType::F32));
    let first_ih = [
        -0.03884525f32,
        -0.12794992,
        -0.16813071,
        0.18689056,
        -0.109257534,
    ];
    let first_hh = [
        0.061375894f32,
        0.18134257,
        0.04792845,
        -0.395547,
        0.50151366,
    ];
    for (m, first, sum) in [
        (&ms[1].matrix, first_ih, 670.1897309952063),
        (&ms[0].matrix, first_hh, -251.09834341293003),
    ] {
        for (c, want) in first.iter().enumerate() {
            assert_relative_eq!(m[(0, c)], want, max_relative = 1e-7);
        }
        let got: f64 = m.iter().map(|&v| f64::from(v)).sum();
        assert_abs_diff_eq!(got, sum, epsilon = 1e-9);
    }
    ms
}

#[test]
fn silero_safetensors_rewrite_changes_only_the_pruned_tensor() {
    let input = repo_file(SILERO);
    let ms = silero_lstm();
    let w = &ms[1].matrix;
    let pruned = w.mapv(|v| if v.abs() < 0.05 { 0.0 } else { v });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pruned.safetensors");
    write_like(
        &input,
        &out,
        &[("lstm_cell.weight_ih".into(), pruned.clone())],
    )
    .unwrap();
    let orig = std::fs::read(&input).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    // weight_ih's data starts at byte 710848 (header length + its offset).
    let at = find(&orig, &le_f32(w)[..4096]);
    assert_eq!(at, 710_848);
    let (lo, hi) = diff_span(&orig, &bytes).unwrap();
    assert!(lo >= at && hi <= at + 512 * 128 * 4, "{lo}..{hi}");
    let back = read_matrices(&out, &s(&["lstm_cell.weight_*"])).unwrap();
    assert_eq!(back[1].matrix, pruned);
    assert_eq!(back[0].matrix, ms[0].matrix);
}

#[test]
fn silero_weights_in_an_onnx_model() {
    // The LSTM cell as an exporter writes it out of MatMul/Gemm (as silero's
    // own ONNX export does): weight_ih and weight_hh as [4*hidden, in]
    // initializers of Gemms with transB=1, the biases as their C inputs.
    let ms = silero_lstm();
    let (w_hh, w_ih) = (&ms[0].matrix, &ms[1].matrix);
    let (ih, hh) = ("model.decoder.rnn.weight_ih", "model.decoder.rnn.weight_hh");
    let g = Graph {
        nodes: vec![
            Node::new("Gemm", "/rnn/ih", &["x", ih, "b_ih"]).int("transB", 1),
            Node::new("Gemm", "/rnn/hh", &["h", hh, "b_hh"]).int("transB", 1),
        ],
        initializers: vec![
            Tensor::f32(ih, &[512, 128], &vals(w_ih)),
            Tensor::f32(hh, &[512, 128], &vals(w_hh)),
            Tensor::f32("b_ih", &[512], &[0.0; 512]),
            Tensor::f32("b_hh", &[512], &[0.0; 512]),
        ],
        ..Graph::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let model = onnx_file(dir.path(), "silero_lstm.onnx", &g);
    let read = read_matrices(&model, &[]).unwrap();
    assert_eq!(names(&read), [hh, ih]);
    assert_eq!(&get(&read, ih).matrix, w_ih);
    assert_eq!(&get(&read, hh).matrix, w_hh);
    assert_eq!(
        get(&read, ih).role.as_deref(),
        Some("Gemm '/rnn/ih' input 1 (B, transB=1, [out, in])")
    );
    // Prune one matrix and write the model back: only its bytes change.
    let out = dir.path().join("pruned.onnx");
    let pruned = w_ih.mapv(|v| if v.abs() < 0.05 { 0.0 } else { v });
    write_like(&model, &out, &[(ih.into(), pruned.clone())]).unwrap();
    let orig = std::fs::read(&model).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    let at = find(&orig, &le_f32(w_ih)[..4096]);
    let (lo, hi) = diff_span(&orig, &bytes).unwrap();
    assert!(lo >= at && hi <= at + 512 * 128 * 4, "{lo}..{hi}");
    let back = read_matrices(&out, &s(&["*weight_ih", "*weight_hh"])).unwrap();
    assert_eq!(back[1].matrix, pruned);
    assert_eq!(&back[0].matrix, w_hh);
}

#[test]
fn g2p_npz_checkpoint_when_fetched() {
    let Some(input) = fetched("g2p_en/checkpoint20.npz") else {
        return;
    };
    let ms = read_matrices(&input, &[]).unwrap();
    // The biases (1-D) are skipped; the embeddings are 2-D float tensors too.
    assert_eq!(
        names(&ms),
        ["dec_emb", "dec_w_hh", "dec_w_ih", "enc_emb", "enc_w_hh", "enc_w_ih", "fc_w"]
    );
    for name in ["dec_w_hh", "dec_w_ih", "enc_w_hh", "enc_w_ih"] {
        let m = get(&ms, name);
        assert_eq!(
            (m.matrix.dim(), m.dtype),
            ((768, 256), DType::F32),
            "{name}"
        );
    }
    let first = [
        -0.013355609f32,
        -0.047157045,
        -0.06251084,
        -0.06566623,
        -0.009392965,
    ];
    let w = &get(&ms, "enc_w_ih").matrix;
    for (c, want) in first.iter().enumerate() {
        assert_relative_eq!(w[(0, c)], want, max_relative = 1e-7);
    }
    let sum: f64 = w.iter().map(|&v| f64::from(v)).sum();
    assert_abs_diff_eq!(sum, -117.55227316235144, epsilon = 1e-9);
    // Prune two matrices and write the archive back: the other members are
    // copied as they are, the pruned ones read back as written.
    let pruned: Vec<(String, Array2<f32>)> = ["enc_w_ih", "dec_w_hh"]
        .iter()
        .map(|&n| {
            let m = &get(&ms, n).matrix;
            (
                n.to_string(),
                m.mapv(|v| if v.abs() < 0.05 { 0.0 } else { v }),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pruned.npz");
    write_like(&input, &out, &pruned).unwrap();
    let (before, after) = (npz_members(&input), npz_members(&out));
    assert_eq!(before.len(), after.len());
    for (member, bytes) in &before {
        let replaced = pruned.iter().any(|(n, _)| format!("{n}.npy") == *member);
        assert_eq!(after[member] == *bytes, !replaced, "{member}");
    }
    let back = read_matrices(&out, &[]).unwrap();
    for (n, m) in &pruned {
        assert_eq!(&get(&back, n).matrix, m);
    }
    assert_eq!(get(&back, "enc_w_hh").matrix, get(&ms, "enc_w_hh").matrix);
}
