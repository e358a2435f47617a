//! Fuzzing the model readers: for .npy, .npz, .safetensors and .onnx, a valid
//! small file is truncated at every length, mutated at random (single bytes,
//! several bytes, inserted and deleted runs) and replaced by random bytes
//! after the format's magic prefix; ONNX also gets random but well-formed
//! models. `read_matrices` and `read_matrix` must return Ok or Err, never
//! panic, and never make a huge allocation (a counting allocator records the
//! largest request). Whenever a file reads, `write_like` with the matrices
//! read must succeed and read back the same.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use bbs_compress::onnx::data_type as dt;
use bbs_compress::onnx::fixture::{self, Data, Graph, Node, Tensor};
use bbs_compress::{read_matrices, read_matrix, write_like, NamedMatrix};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

// ------------------------------------------------------ allocation guard ----

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        System.alloc_zeroed(l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LARGEST.fetch_max(new, Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// No input here is larger than a few KiB; the harness and proptest need
/// far less than this.
const ALLOC_LIMIT: usize = 16 << 20;

fn assert_no_huge_allocation(what: &str) {
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest < ALLOC_LIMIT,
        "{what}: an allocation of {largest} bytes was made"
    );
}

// --------------------------------------------------------------- fixtures ----

fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f32s(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| (i as f32 * 0.5 - 1.0).to_le_bytes())
        .collect()
}

fn f16s(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| half::f16::from_f32(i as f32 * 0.25).to_le_bytes())
        .collect()
}

fn valid_npy() -> Vec<u8> {
    npy("<f4", "(3, 4)", &f32s(12))
}

fn valid_npz() -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    for (name, bytes) in [
        ("w.npy", npy("<f4", "(2, 3)", &f32s(6))),
        ("h.npy", npy("<f2", "(2, 2)", &f16s(4))),
        ("b.npy", npy("<f4", "(3,)", &f32s(3))),
    ] {
        w.start_file(name, opts).unwrap();
        w.write_all(&bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn valid_safetensors() -> Vec<u8> {
    use safetensors::{tensor::TensorView, Dtype};
    let (a, h, b) = (f32s(6), f16s(4), f32s(3));
    let bf: Vec<u8> = (0..4)
        .flat_map(|i| half::bf16::from_f32(i as f32).to_le_bytes())
        .collect();
    let views = vec![
        ("w", TensorView::new(Dtype::F32, vec![2, 3], &a).unwrap()),
        ("h", TensorView::new(Dtype::F16, vec![2, 2], &h).unwrap()),
        ("g", TensorView::new(Dtype::BF16, vec![1, 4], &bf).unwrap()),
        ("b", TensorView::new(Dtype::F32, vec![3], &b).unwrap()),
    ];
    let meta = std::collections::HashMap::from([("k".to_string(), "v".to_string())]);
    safetensors::serialize(views, Some(meta)).unwrap()
}

fn floats(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 * 0.5 - 1.0).collect()
}

fn valid_onnx() -> Vec<u8> {
    let sub = Graph {
        nodes: vec![Node::new("MatMul", "inner", &["x", "h"])],
        initializers: vec![Tensor {
            name: "h".into(),
            dims: vec![2, 2],
            data_type: dt::FLOAT16,
            data: Data::Int32(vec![0x3c00, 0x4000, 0, 0xbc00]),
        }],
    };
    let mut if_node = Node::new("If", "if", &["c"]);
    if_node.graphs.push(("then_branch".into(), sub));
    let g = Graph {
        nodes: vec![
            Node::new("MatMul", "fc", &["x", "w"]),
            Node::new("Gemm", "g", &["x", "d", "c"]).int("transB", 1),
            Node::new("LSTM", "l", &["x", "W", "R", "B"])
                .int("hidden_size", 1)
                .string("direction", "bidirectional"),
            if_node,
        ],
        initializers: vec![
            Tensor::f32("w", &[2, 3], &floats(6)),
            Tensor {
                name: "d".into(),
                dims: vec![1, 2],
                data_type: dt::DOUBLE,
                data: Data::Doubles(vec![0.5, -1.5]),
            },
            Tensor::f32("c", &[1, 1], &[0.0]),
            Tensor {
                name: "W".into(),
                dims: vec![2, 4, 2],
                data_type: dt::FLOAT,
                data: Data::Floats(floats(16)),
            },
            Tensor::f32("R", &[2, 4, 1], &floats(8)),
            Tensor::f32("B", &[2, 8], &floats(16)),
        ],
    };
    fixture::model(&g)
}

// ------------------------------------------------------------ the checker ----

struct Format {
    ext: &'static str,
    valid: Vec<u8>,
    /// What random garbage starts with.
    magic: Vec<u8>,
    /// How many matrices the valid file holds.
    matrices: usize,
}

fn formats(ext: &str) -> Format {
    let (valid, magic, matrices) = match ext {
        "npy" => (valid_npy(), b"\x93NUMPY\x01\x00".to_vec(), 1),
        "npz" => (valid_npz(), b"PK\x03\x04".to_vec(), 2),
        "safetensors" => (valid_safetensors(), Vec::new(), 3),
        _ => {
            let v = valid_onnx();
            let magic = v[..4].to_vec();
            (v, magic, 7)
        }
    };
    Format {
        ext: match ext {
            "npy" => "npy",
            "npz" => "npz",
            "safetensors" => "safetensors",
            _ => "onnx",
        },
        valid,
        magic,
        matrices,
    }
}

fn same(a: &[NamedMatrix], b: &[NamedMatrix]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.name == y.name && x.dtype == y.dtype && x.matrix == y.matrix)
}

/// Round trips (`write_like`, then read again) per fuzz run: each one syncs
/// a file to disk, so they are rationed.
const ROUND_TRIPS: usize = 250;

/// Runs the readers on `bytes`; panics (which proptest reports with the
/// shrunk input) if a reader panics or a read/write round trip fails.
/// Returns whether matrices were read; `round_trips` is the budget left.
fn check(dir: &Path, ext: &str, bytes: &[u8], round_trips: &AtomicUsize) -> bool {
    let p = dir.join(format!("in.{ext}"));
    std::fs::write(&p, bytes).unwrap();
    let all = read_matrices(&p, &[]);
    let _ = read_matrices(&p, &["*".to_string(), "w".to_string()]);
    let _ = read_matrix(&p, None);
    let _ = read_matrix(&p, Some("w"));
    if let Err(e) = &all {
        let msg = e.to_string();
        assert!(!msg.contains('\n'), "one line: {msg}");
        assert!(
            msg.starts_with(&p.display().to_string()),
            "names the file: {msg}"
        );
    }
    // Writing from a broken file must fail cleanly too.
    let out_w = dir.join(format!("w.{ext}"));
    let targets: &[(&str, (usize, usize))] = match ext {
        "npy" => &[("in", (3, 4))],
        _ => &[("w", (2, 3)), ("t0", (2, 3))],
    };
    for &(name, shape) in targets {
        let w = [(name.to_string(), ndarray::Array2::<f32>::zeros(shape))];
        if write_like(&p, &out_w, &w).is_ok() {
            // Other tensors may still be broken; this one reads back.
            let back = if ext == "npy" {
                read_matrix(&out_w, None)
            } else {
                read_matrix(&out_w, Some(name))
            };
            let back = back.unwrap_or_else(|e| panic!("re-read: {e}"));
            assert!(back.iter().all(|&v| v == 0.0));
        }
    }
    let Ok(ms) = all else { return false };
    if ms.is_empty() {
        return false;
    }
    let budget =
        round_trips.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    if budget.is_ok() {
        // Same file name in another directory: a .npy tensor is named after it.
        let out_dir = dir.join("out");
        std::fs::create_dir_all(&out_dir).unwrap();
        let out = out_dir.join(format!("in.{ext}"));
        let replace: Vec<_> = ms
            .iter()
            .map(|m| (m.name.clone(), m.matrix.clone()))
            .collect();
        write_like(&p, &out, &replace).unwrap_or_else(|e| panic!("write_like: {e}"));
        let back = read_matrices(&out, &[]).unwrap_or_else(|e| panic!("re-read: {e}"));
        assert!(same(&ms, &back), "round trip changed the matrices");
        if ext == "npy" || ext == "safetensors" {
            assert_eq!(std::fs::read(&out).unwrap(), bytes, "identity rewrite");
        }
    }
    true
}

/// A scratch directory, on tmpfs when there is one: `write_like` syncs its
/// output to disk, which on a real disk costs more than the parsing.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::Builder::new().prefix("bbs-fuzz").tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        // ChaCha, the default, dominates the run time in a debug build.
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..Config::default()
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

fn apply(valid: &[u8], muts: &[Mutation]) -> Vec<u8> {
    let mut b = valid.to_vec();
    for m in muts {
        let n = b.len().max(1);
        match m {
            Mutation::Set(i, v) => {
                if !b.is_empty() {
                    let i = i % n;
                    b[i] = *v;
                }
            }
            Mutation::Insert(i, bytes) => {
                let i = i % (b.len() + 1);
                b.splice(i..i, bytes.iter().copied());
            }
            Mutation::Delete(i, len) => {
                let i = i % n;
                let end = (i + len).min(b.len());
                if i < end {
                    b.drain(i..end);
                }
            }
        }
    }
    b
}

/// Bytes that matter to parsers: boundaries, small and huge lengths.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        prop::sample::select(vec![
            0u8, 1, 2, 0x7f, 0x80, 0xff, b'(', b')', b',', b'{', b'}', b'"', b'['
        ])
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<usize>(), byte()).prop_map(|(i, v)| Mutation::Set(i, v)),
        1 => (any::<usize>(), prop::collection::vec(byte(), 1..9)).prop_map(|(i, v)| Mutation::Insert(i, v)),
        1 => (any::<usize>(), 1usize..17).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

/// Single-byte mutations, multi-byte mutations and garbage per format.
const SINGLE: u32 = 2500;
const MULTI: u32 = 2500;
const GARBAGE: u32 = 1500;

fn fuzz_format(ext: &str) -> usize {
    let f = formats(ext);
    let dir = scratch();
    let d = dir.path();
    let tried = AtomicUsize::new(0);
    let readable = AtomicUsize::new(0);
    let trips = AtomicUsize::new(ROUND_TRIPS);
    let check = |b: &[u8]| {
        tried.fetch_add(1, Ordering::Relaxed);
        if check(d, f.ext, b, &trips) {
            readable.fetch_add(1, Ordering::Relaxed);
        }
    };

    // The valid file reads, with the expected number of matrices.
    let p = d.join(format!("valid.{}", f.ext));
    std::fs::write(&p, &f.valid).unwrap();
    assert_eq!(read_matrices(&p, &[]).unwrap().len(), f.matrices, "{ext}");
    check(&f.valid);

    // (a) Every truncation.
    for len in 0..f.valid.len() {
        check(&f.valid[..len]);
    }
    // (b) Random single- and multi-byte mutations.
    let valid = f.valid.clone();
    runner(SINGLE)
        .run(&(any::<usize>(), byte()), |(i, v)| {
            let mut b = valid.clone();
            let i = i % b.len();
            b[i] = v;
            check(&b);
            Ok(())
        })
        .unwrap();
    runner(MULTI)
        .run(&prop::collection::vec(mutation(), 2..12), |muts| {
            check(&apply(&valid, &muts));
            Ok(())
        })
        .unwrap();
    // (c) Random bytes after the magic prefix (for safetensors: a header
    // length that fits, then JSON-ish bytes).
    let magic = f.magic.clone();
    let st = ext == "safetensors";
    runner(GARBAGE)
        .run(
            &(0u64..400, prop::collection::vec(byte(), 0..400)),
            |(hlen, tail)| {
                let mut b = magic.clone();
                if st {
                    b.extend_from_slice(&hlen.to_le_bytes());
                    b.push(b'{');
                }
                b.extend_from_slice(&tail);
                check(&b);
                Ok(())
            },
        )
        .unwrap();
    let (n, ok) = (
        tried.load(Ordering::Relaxed),
        readable.load(Ordering::Relaxed),
    );
    eprintln!(
        "fuzz {ext}: {n} inputs from a {}-byte file, {ok} of them still readable",
        f.valid.len()
    );
    assert_no_huge_allocation(ext);
    n
}

#[test]
fn fuzz_npy() {
    assert!(fuzz_format("npy") > 6000);
}

#[test]
fn fuzz_npz() {
    assert!(fuzz_format("npz") > 6000);
}

#[test]
fn fuzz_safetensors() {
    assert!(fuzz_format("safetensors") > 6000);
}

#[test]
fn fuzz_onnx() {
    assert!(fuzz_format("onnx") > 6000);
}

// ------------------------------------------- random well-formed ONNX models ----

/// Initializer names, given in order over the whole model; nodes pick
/// inputs from these (and "x", which is no initializer).
const NAMES: [&str; 9] = ["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "x"];

/// Elements as the data type stores them: mostly consistent with the dims,
/// sometimes not.
fn data_for(ty: i32, numel: usize, fit: bool, bytes: Vec<u8>) -> Data {
    let n = if fit { numel } else { bytes.len() % 23 };
    let vals = |k: usize| (0..n).map(move |i| ((i * 7 + k) % 13) as f32 * 0.25 - 1.5);
    match (ty, bytes.first().copied().unwrap_or(0) % 3) {
        (_, 0) if !fit => Data::Raw(bytes),
        (dt::FLOAT, 1) => Data::Floats(vals(1).collect()),
        (dt::DOUBLE, 1) => Data::Doubles(vals(2).map(f64::from).collect()),
        (dt::FLOAT16, 1) => Data::Int32(
            vals(3)
                .map(|v| i32::from(half::f16::from_f32(v).to_bits()))
                .collect(),
        ),
        (dt::BFLOAT16, 1) => Data::Int32(
            vals(4)
                .map(|v| i32::from(half::bf16::from_f32(v).to_bits()))
                .collect(),
        ),
        (dt::INT64, 1) => Data::Int64((0..n as i64).collect()),
        (dt::FLOAT, _) => Data::Raw(vals(5).flat_map(f32::to_le_bytes).collect()),
        (dt::DOUBLE, _) => Data::Raw(vals(6).flat_map(|v| f64::from(v).to_le_bytes()).collect()),
        (dt::FLOAT16, _) => Data::Raw(
            vals(7)
                .flat_map(|v| half::f16::from_f32(v).to_le_bytes())
                .collect(),
        ),
        (dt::BFLOAT16, _) => Data::Raw(
            vals(8)
                .flat_map(|v| half::bf16::from_f32(v).to_le_bytes())
                .collect(),
        ),
        _ => Data::Raw(bytes),
    }
}

fn tensor() -> impl Strategy<Value = Tensor> {
    let dim = prop_oneof![
        40 => 1i64..5,
        1 => Just(0i64),
        1 => Just(-1i64),
        1 => Just(1i64 << 40),
        1 => Just(i64::MAX),
    ];
    let ty = prop::sample::select(vec![
        dt::FLOAT,
        dt::FLOAT,
        dt::FLOAT,
        dt::FLOAT,
        dt::FLOAT16,
        dt::BFLOAT16,
        dt::DOUBLE,
        dt::INT64,
        99,
    ]);
    (
        prop::collection::vec(dim, 1..4),
        ty,
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.02),
        prop::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(dims, data_type, fit, external, bytes)| {
            let numel = dims
                .iter()
                .try_fold(1usize, |a, &d| usize::try_from(d).ok()?.checked_mul(a))
                .filter(|&n| n <= 4096);
            let data = if external {
                Data::External("x.bin".into())
            } else {
                data_for(data_type, numel.unwrap_or(0), fit && numel.is_some(), bytes)
            };
            Tensor {
                name: String::new(),
                dims,
                data_type,
                data,
            }
        })
}

fn node() -> impl Strategy<Value = Node> {
    let op = prop::sample::select(vec![
        "MatMul", "MatMul", "MatMul", "Gemm", "Gemm", "Relu", "Relu", "Conv", "LSTM", "GRU",
    ]);
    let inputs = prop::collection::vec(prop::sample::select(NAMES.to_vec()), 0..5);
    let dir = prop::sample::select(vec!["forward", "reverse", "bidirectional"]);
    (op, inputs, prop::option::of(-1i64..4), dir, 0i64..2).prop_map(
        |(op, mut inputs, hidden, dir, trans)| {
            // Most recurrent nodes get their X input first, like real ones.
            if matches!(op, "LSTM" | "GRU") && trans == 0 {
                inputs.insert(0, "x");
            }
            let mut n = Node::new(op, "n", &inputs);
            if let Some(h) = hidden {
                n = n.int("hidden_size", h);
            }
            n.int("transB", trans).string("direction", dir)
        },
    )
}

fn graph() -> impl Strategy<Value = Graph> {
    let flat = (
        prop::collection::vec(node(), 0..5),
        prop::collection::vec(tensor(), 0..5),
    )
        .prop_map(|(nodes, initializers)| Graph {
            nodes,
            initializers,
        });
    flat.prop_recursive(2, 8, 2, |inner| {
        (
            prop::collection::vec(node(), 0..4),
            prop::collection::vec(tensor(), 0..4),
            inner,
        )
            .prop_map(|(mut nodes, initializers, sub)| {
                let mut n = Node::new("If", "if", &["x"]);
                n.graphs.push(("then_branch".into(), sub));
                nodes.push(n);
                Graph {
                    nodes,
                    initializers,
                }
            })
    })
}

/// Names the initializers t0, t1, ... over the whole tree (a name repeats
/// once the list runs out, which is an error case too).
fn name_initializers(g: &mut Graph, next: &mut usize) {
    for t in &mut g.initializers {
        t.name = NAMES[*next % (NAMES.len() - 1)].to_string();
        *next += 1;
    }
    for n in &mut g.nodes {
        for (_, sub) in &mut n.graphs {
            name_initializers(sub, next);
        }
    }
}

#[test]
fn fuzz_onnx_random_models() {
    let dir = scratch();
    let tried = AtomicUsize::new(0);
    let readable = AtomicUsize::new(0);
    let trips = AtomicUsize::new(ROUND_TRIPS);
    runner(3000)
        .run(&graph(), |mut g| {
            tried.fetch_add(1, Ordering::Relaxed);
            name_initializers(&mut g, &mut 0);
            if check(dir.path(), "onnx", &fixture::model(&g), &trips) {
                readable.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap();
    let (n, ok) = (tried.into_inner(), readable.into_inner());
    eprintln!("fuzz onnx (random models): {n} inputs, {ok} of them readable");
    assert!(
        ok > n / 10,
        "the generator should often make readable models: {ok}/{n}"
    );
    assert_no_huge_allocation("random onnx models");
}

// ------------------------------------------------------- lying headers ----

#[test]
fn lying_headers_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let huge = "(1099511627776, 1099511627776)";
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("npy", npy("<f4", huge, &f32s(4))),
        ("npy", npy("<f4", "(4294967296, 4294967296)", &f32s(4))),
        ("npz", {
            use std::io::Write;
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            w.start_file(
                "w.npy",
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored),
            )
            .unwrap();
            w.write_all(&npy("<f8", huge, &f32s(4))).unwrap();
            w.finish().unwrap().into_inner()
        }),
        ("safetensors", {
            let h = br#"{"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,16]}}"#;
            let mut b = (h.len() as u64).to_le_bytes().to_vec();
            b.extend_from_slice(h);
            b.extend_from_slice(&[0; 16]);
            b
        }),
        ("safetensors", {
            // A header length far beyond the file.
            let mut b = (1u64 << 60).to_le_bytes().to_vec();
            b.extend_from_slice(b"{}");
            b
        }),
        (
            "onnx",
            fixture::model(&Graph {
                nodes: vec![Node::new("MatMul", "m", &["x", "w"])],
                initializers: vec![Tensor {
                    name: "w".into(),
                    dims: vec![1 << 40, 1 << 40],
                    data_type: dt::FLOAT,
                    data: Data::Raw(vec![0; 16]),
                }],
            }),
        ),
        (
            "onnx",
            fixture::model(&Graph {
                nodes: vec![Node::new("LSTM", "l", &["x", "W", "R"]).int("hidden_size", 1 << 40)],
                initializers: vec![Tensor {
                    name: "W".into(),
                    dims: vec![1, 4 << 40, 1 << 20],
                    data_type: dt::FLOAT16,
                    data: Data::Int32(vec![0; 4]),
                }],
            }),
        ),
        ("onnx", {
            // A graph field whose length varint claims 2^62 bytes.
            let mut b = vec![0x3a];
            b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f]);
            b
        }),
    ];
    for (ext, bytes) in cases {
        let p = d.join(format!("lie.{ext}"));
        std::fs::write(&p, &bytes).unwrap();
        let e = read_matrices(&p, &[]).unwrap_err().to_string();
        assert!(!e.contains('\n') && e.contains("lie."), "{e}");
        assert!(read_matrix(&p, None).is_err());
        eprintln!("{ext}: {e}");
    }
    assert_no_huge_allocation("lying headers");
}

#[test]
fn deeply_nested_onnx_subgraphs_are_refused() {
    let mut g = Graph::default();
    for _ in 0..200 {
        let mut n = Node::new("If", "if", &["x"]);
        n.graphs.push(("then_branch".into(), g));
        g = Graph {
            nodes: vec![n],
            initializers: vec![],
        };
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("deep.onnx");
    std::fs::write(&p, fixture::model(&g)).unwrap();
    let e = read_matrices(&p, &[]).unwrap_err().to_string();
    assert!(e.contains("nested more than"), "{e}");
}
