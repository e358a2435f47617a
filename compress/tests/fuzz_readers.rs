//! Fuzzing the model readers: for .npy, .npz, .safetensors and .onnx, a valid
//! small file is truncated at every length, mutated at random (single bytes,
//! several bytes, inserted and deleted runs, runs of nested brackets) and
//! replaced by random bytes after the format's magic prefix; ONNX also gets
//! random but well-formed models. `read_matrices` and `read_matrix` must
//! return Ok or Err, never panic, and never make a huge allocation (a
//! counting allocator records the largest request). Whenever a file reads,
//! `write_like` with the matrices read must succeed and read back the same.
//!
//! CSB files get the same mutations (`Csb::read` must agree with
//! `Csb::from_bytes`); `.npy` headers get random Python literals nested at
//! random depths, with strings that hide brackets and quotes (the nesting
//! bound must hold exactly); npz members inflate past their header; and
//! every format is also given as a special file (a FIFO, /dev/zero, a
//! directory, a symlink), which must be refused, or read like its target.
//!
//! `PROPTEST_CASES` raises every case count (for a long campaign).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use bbs_compress::onnx::data_type as dt;
use bbs_compress::onnx::fixture::{self, Data, Graph, Node, Tensor};
use bbs_compress::{prune_bbs, read_matrices, read_matrix, write_like, Csb, NamedMatrix, QFormat};
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
        ..Graph::default()
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
        ..Graph::default()
    };
    fixture::model(&g)
}

fn valid_csb() -> Vec<u8> {
    let w = ndarray::Array2::from_shape_fn((3, 10), |(r, c)| {
        ((r * 7 + c * 3) % 11) as f32 * 0.25 - 1.25
    });
    let p = prune_bbs(&w.view(), 4, 0.4).unwrap();
    Csb::from_pruned(&p, QFormat::new(12, 6).unwrap())
        .0
        .to_bytes()
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
        "csb" => {
            let v = valid_csb();
            let magic = v[..10].to_vec();
            (v, magic, 1)
        }
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
            "csb" => "csb",
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

/// Reads `bytes` as a CSB file and as bytes: the two must agree, an error
/// must be one line naming the file. Returns whether the file reads.
fn check_csb(dir: &Path, bytes: &[u8]) -> bool {
    let p = dir.join("in.csb");
    std::fs::write(&p, bytes).unwrap();
    let from_file = Csb::read(&p);
    let from_bytes = Csb::from_bytes(bytes, &p);
    match (&from_file, &from_bytes) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("Csb::read {from_file:?}, Csb::from_bytes {from_bytes:?}"),
    }
    match from_file {
        Ok(c) => {
            assert!(c.rows * c.cols <= bbs_compress::csb::MAX_DENSE);
            // Whatever reads writes back to the same bytes.
            assert_eq!(c.to_bytes(), bytes);
            true
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "one line: {msg}");
            assert!(msg.starts_with(&p.display().to_string()), "{msg}");
            false
        }
    }
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
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(cases, |n: u32| n.max(cases));
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
    /// `depth` opening brackets of one kind, then as many closing ones
    /// (or none).
    Nest(usize, usize, u8, bool),
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
            Mutation::Nest(i, depth, open, closed) => {
                let close = match open {
                    b'[' => b']',
                    b'(' => b')',
                    _ => b'}',
                };
                let mut run = vec![*open; *depth];
                if *closed {
                    run.resize(2 * *depth, close);
                }
                // Mostly where a .npy header is.
                let i = i % (b.len().min(128) + 1);
                b.splice(i..i, run);
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
        1 => (any::<usize>(), 1usize..40, prop::sample::select(vec![b'[', b'(', b'{']), any::<bool>())
            .prop_map(|(i, d, o, c)| Mutation::Nest(i, d, o, c)),
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
        let ok = if f.ext == "csb" {
            check_csb(d, b)
        } else {
            check(d, f.ext, b, &trips)
        };
        if ok {
            readable.fetch_add(1, Ordering::Relaxed);
        }
    };

    // The valid file reads, with the expected number of matrices.
    let p = d.join(format!("valid.{}", f.ext));
    std::fs::write(&p, &f.valid).unwrap();
    if f.ext == "csb" {
        Csb::read(&p).unwrap();
    } else {
        assert_eq!(read_matrices(&p, &[]).unwrap().len(), f.matrices, "{ext}");
    }
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
fn fuzz_csb() {
    assert!(fuzz_format("csb") > 6000);
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
            ..Graph::default()
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
                    ..Graph::default()
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
                ..Graph::default()
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
                ..Graph::default()
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
            ..Graph::default()
        };
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("deep.onnx");
    std::fs::write(&p, fixture::model(&g)).unwrap();
    let e = read_matrices(&p, &[]).unwrap_err().to_string();
    assert!(e.contains("nested more than"), "{e}");
}

// ------------------------------------------------- nested .npy headers ----

/// A Python literal as `.npy` header values are written, for the header
/// parser: nested lists, tuples, dicts and sets of numbers, booleans, None,
/// strings and bytes. Strings hold brackets, quotes, escapes and `\N{...}`
/// escapes with quotes inside, so a nesting check that misreads where a
/// string ends is caught.
#[derive(Clone, Debug)]
enum Py {
    Int(i64),
    Float(f64),
    Word(&'static str),
    Str(Vec<Piece>, u8),
    Bytes(Vec<Piece>),
    List(Vec<Py>),
    Tuple(Vec<Py>),
    Dict(Vec<(Py, Py)>),
    Set(Vec<Py>),
}

/// One piece of a string or bytes literal.
#[derive(Clone, Debug)]
enum Piece {
    /// Characters written as they are (none a quote, backslash or newline).
    Text(String),
    /// `\'`, `\"` or `\\`.
    Escaped(u8),
    /// `\N{...}` with any characters but `}` (strings only; in bytes, `\N`
    /// is an unknown escape of two characters and `{` a plain one).
    Named(String),
}

impl Py {
    /// Bracket depth as the parser sees it.
    fn depth(&self) -> usize {
        let max = |v: &[Py]| v.iter().map(Py::depth).max().unwrap_or(0);
        match self {
            Py::List(v) | Py::Tuple(v) | Py::Set(v) => 1 + max(v),
            Py::Dict(kv) => {
                1 + kv
                    .iter()
                    .map(|(k, v)| k.depth().max(v.depth()))
                    .max()
                    .unwrap_or(0)
            }
            _ => 0,
        }
    }

    fn write(&self, out: &mut String) {
        let seq = |out: &mut String, v: &[Py], open: &str, close: &str, trailing: bool| {
            out.push_str(open);
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                x.write(out);
            }
            if trailing {
                out.push(',');
            }
            out.push_str(close);
        };
        match self {
            Py::Int(i) => out.push_str(&i.to_string()),
            Py::Float(f) => out.push_str(&format!("{f:?}")),
            Py::Word(w) => out.push_str(w),
            Py::Str(pieces, q) => {
                out.push(*q as char);
                for p in pieces {
                    p.write(out, false);
                }
                out.push(*q as char);
            }
            Py::Bytes(pieces) => {
                out.push_str("b'");
                for p in pieces {
                    p.write(out, true);
                }
                out.push('\'');
            }
            Py::List(v) => seq(out, v, "[", "]", false),
            Py::Tuple(v) => seq(out, v, "(", ")", v.len() == 1),
            Py::Set(v) => seq(out, v, "{", "}", false),
            Py::Dict(kv) => {
                out.push('{');
                for (i, (k, v)) in kv.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    k.write(out);
                    out.push_str(": ");
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

impl Piece {
    fn write(&self, out: &mut String, bytes: bool) {
        match self {
            Piece::Text(t) => out.push_str(t),
            Piece::Escaped(c) => {
                out.push('\\');
                out.push(*c as char);
            }
            Piece::Named(n) if bytes => {
                // `\N` and `{`, then the name with its quotes escaped.
                out.push_str("\\N{");
                for c in n.chars() {
                    if c == '\'' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
            Piece::Named(n) => {
                out.push_str("\\N{");
                out.push_str(n);
                out.push('}');
            }
        }
    }
}

fn piece() -> impl Strategy<Value = Piece> {
    let text = prop::collection::vec(
        prop::sample::select(vec![
            'a', ' ', '[', ']', '(', ')', '{', '}', ',', ':', 'N', 'b', '<',
        ]),
        1..6,
    )
    .prop_map(|v| Piece::Text(v.into_iter().collect()));
    let named = prop::collection::vec(
        prop::sample::select(vec!['A', ' ', '\'', '"', '[', '(', '{', ']', '\\']),
        0..5,
    )
    .prop_map(|v| Piece::Named(v.into_iter().collect()));
    prop_oneof![
        4 => text,
        2 => prop::sample::select(vec![b'\'', b'"', b'\\']).prop_map(Piece::Escaped),
        2 => named,
    ]
}

fn leaf() -> impl Strategy<Value = Py> {
    prop_oneof![
        (0i64..5000).prop_map(Py::Int),
        (-4.0f64..4.0).prop_map(Py::Float),
        prop::sample::select(vec!["True", "False", "None"]).prop_map(Py::Word),
        (
            prop::collection::vec(piece(), 0..4),
            prop::sample::select(vec![b'\'', b'"'])
        )
            .prop_map(|(p, q)| Py::Str(p, q)),
        prop::collection::vec(piece(), 0..4).prop_map(Py::Bytes),
    ]
}

/// Random trees (mostly shallow), and chains of containers of every kind
/// with leaves beside them, 0 to 11 deep: deep enough to pass the bound
/// often, shallow enough that a misjudged header still parses in a moment.
fn py() -> impl Strategy<Value = Py> {
    let tree = leaf().prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Py::List),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Py::Tuple),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Py::Set),
            prop::collection::vec((inner.clone(), inner), 0..3).prop_map(Py::Dict),
        ]
    });
    let level = (0u8..4, prop::collection::vec(leaf(), 0..3), any::<bool>());
    let chain = (prop::collection::vec(level, 0..12), leaf()).prop_map(|(levels, core)| {
        let mut v = core;
        for (kind, mut items, last) in levels.into_iter().rev() {
            if kind == 3 {
                let mut kv: Vec<(Py, Py)> = items.into_iter().map(|x| (x.clone(), x)).collect();
                let at = if last { kv.len() } else { 0 };
                kv.insert(at, (Py::Int(0), v));
                v = Py::Dict(kv);
                continue;
            }
            let at = if last { items.len() } else { 0 };
            items.insert(at, v);
            v = match kind {
                0 => Py::List(items),
                1 => Py::Tuple(items),
                _ => Py::Set(items),
            };
        }
        v
    });
    prop_oneof![tree, chain]
}

/// Escapes what a Python string escapes: in the generator, quotes and
/// backslashes of `Str` text only ever come from `Escaped` pieces, and
/// `Named` pieces keep their quotes (the parser reads `\N{...}` whole).
fn header_of(value: &Py, as_shape: bool) -> (String, usize) {
    let mut v = String::new();
    value.write(&mut v);
    if as_shape {
        (
            format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {v}, }}"),
            1 + value.depth(),
        )
    } else {
        (v, value.depth())
    }
}

#[test]
fn fuzz_npy_header_nesting() {
    let dir = scratch();
    let d = dir.path();
    let (tried, deep) = (AtomicUsize::new(0), AtomicUsize::new(0));
    runner(3000)
        .run(
            &(py(), any::<bool>(), any::<bool>()),
            |(value, as_shape, npz)| {
                let (header, depth) = header_of(&value, as_shape);
                tried.fetch_add(1, Ordering::Relaxed);
                let image = {
                    let mut h = header.clone();
                    h.push('\n');
                    let mut out = b"\x93NUMPY\x01\x00".to_vec();
                    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
                    out.extend_from_slice(h.as_bytes());
                    out
                };
                let p = if npz {
                    use std::io::Write;
                    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
                    w.start_file("w.npy", zip::write::SimpleFileOptions::default())
                        .unwrap();
                    w.write_all(&image).unwrap();
                    let p = d.join("h.npz");
                    std::fs::write(&p, w.finish().unwrap().into_inner()).unwrap();
                    p
                } else {
                    let p = d.join("h.npy");
                    std::fs::write(&p, &image).unwrap();
                    p
                };
                let e = read_matrices(&p, &[])
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                let nested = e
                    .as_ref()
                    .err()
                    .is_some_and(|m| m.contains("nested more than"));
                prop_assert_eq!(
                    nested,
                    depth > 4 && header.len() < 10_000,
                    "depth {} header {} gave {:?}",
                    depth,
                    header,
                    e
                );
                if nested {
                    deep.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            },
        )
        .unwrap();
    let (n, deep) = (tried.into_inner(), deep.into_inner());
    eprintln!("fuzz npy headers: {n} headers, {deep} of them nested too deep");
    assert!(deep > n / 10 && deep < n * 9 / 10, "{deep} of {n}");
    assert_no_huge_allocation("npy headers");
}

// ------------------------------------------------------- special files ----

/// What an input path is.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Regular,
    /// A symlink to a regular file: read like the file.
    Symlink,
    Fifo,
    /// A symlink to /dev/zero.
    DevZero,
    /// /dev/null itself, through a symlink.
    DevNull,
    Directory,
    /// A symlink to nothing.
    Dangling,
}

#[cfg(unix)]
fn materialize(dir: &Path, ext: &str, kind: Kind, bytes: &[u8]) -> std::path::PathBuf {
    use std::os::unix::fs::symlink;
    let p = dir.join(format!("k.{ext}"));
    let target = dir.join(format!("target.{ext}"));
    for q in [&p, &target] {
        let _ = std::fs::remove_file(q);
        let _ = std::fs::remove_dir(q);
    }
    match kind {
        Kind::Regular => std::fs::write(&p, bytes).unwrap(),
        Kind::Symlink => {
            std::fs::write(&target, bytes).unwrap();
            symlink(&target, &p).unwrap();
        }
        Kind::Fifo => {
            let st = std::process::Command::new("mkfifo")
                .arg(&p)
                .status()
                .unwrap();
            assert!(st.success());
        }
        Kind::DevZero => symlink("/dev/zero", &p).unwrap(),
        Kind::DevNull => symlink("/dev/null", &p).unwrap(),
        Kind::Directory => std::fs::create_dir(&p).unwrap(),
        Kind::Dangling => symlink(dir.join("nowhere"), &p).unwrap(),
    }
    p
}

/// Every reader on `p`: results as strings, with the path made generic.
fn read_all(p: &Path, ext: &str) -> Vec<String> {
    let generic = |r: String| r.replace(&p.display().to_string(), "<path>");
    if ext == "csb" {
        return vec![generic(format!(
            "{:?}",
            Csb::read(p).map_err(|e| e.to_string())
        ))];
    }
    let mut out = vec![
        generic(format!(
            "{:?}",
            read_matrices(p, &[])
                .map(|m| m.len())
                .map_err(|e| e.to_string())
        )),
        generic(format!(
            "{:?}",
            read_matrix(p, None)
                .map(|m| m.dim())
                .map_err(|e| e.to_string())
        )),
        generic(format!(
            "{:?}",
            bbs_compress::list_tensors(p).map_err(|e| e.to_string())
        )),
    ];
    if ext == "npy" {
        out.push(generic(format!(
            "{:?}",
            bbs_compress::read_vector(p)
                .map(|v| v.len())
                .map_err(|e| e.to_string())
        )));
    }
    out
}

#[cfg(unix)]
#[test]
fn fuzz_file_kinds() {
    let dir = scratch();
    let d = dir.path();
    let exts = ["npy", "npz", "safetensors", "onnx", "csb"];
    let kind = prop::sample::select(vec![
        Kind::Regular,
        Kind::Symlink,
        Kind::Symlink,
        Kind::Fifo,
        Kind::DevZero,
        Kind::DevNull,
        Kind::Directory,
        Kind::Dangling,
    ]);
    let tried = AtomicUsize::new(0);
    runner(400)
        .run(
            &(
                prop::sample::select(exts.to_vec()),
                kind,
                prop::collection::vec(mutation(), 0..3),
            ),
            |(ext, kind, muts)| {
                tried.fetch_add(1, Ordering::Relaxed);
                let f = formats(ext);
                let bytes = apply(&f.valid, &muts);
                let p = materialize(d, ext, kind, &bytes);
                let got = read_all(&p, ext);
                match kind {
                    Kind::Regular | Kind::Symlink => {
                        let plain = materialize(d, ext, Kind::Regular, &bytes);
                        prop_assert_eq!(&got, &read_all(&plain, ext));
                    }
                    _ => {
                        let why = match kind {
                            Kind::Fifo => "not a regular file (a FIFO)",
                            Kind::DevZero | Kind::DevNull => {
                                "not a regular file (a character device)"
                            }
                            Kind::Directory => "Is a directory",
                            _ => "No such file or directory",
                        };
                        for r in &got {
                            prop_assert!(r.starts_with("Err(\"<path>: cannot read: "), "{}", r);
                            prop_assert!(r.contains(why), "{:?}: {}", kind, r);
                        }
                    }
                }
                Ok(())
            },
        )
        .unwrap();
    eprintln!("fuzz file kinds: {} inputs", tried.into_inner());
    assert_no_huge_allocation("file kinds");
}

// --------------------------------------------- npz members that inflate ----

/// Raw deflate (one fixed-Huffman block) of `prefix`, then `zeros` (at
/// least 1) zero bytes: literals, then matches of 258 at distance 1.
fn deflate_zeros(prefix: &[u8], zeros: usize) -> Vec<u8> {
    let (mut out, mut acc, mut n) = (Vec::new(), 0u64, 0u32);
    let mut put = |v: u32, len: u32, out: &mut Vec<u8>| {
        acc |= u64::from(v) << n;
        n += len;
        while n >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            n -= 8;
        }
    };
    // Huffman codes go most significant bit first.
    let code = |c: u32, len: u32| (c.reverse_bits() >> (32 - len), len);
    let literal = |b: u8| {
        if b < 144 {
            code(0x30 + u32::from(b), 8)
        } else {
            code(0x190 + u32::from(b) - 144, 9)
        }
    };
    put(1, 1, &mut out);
    put(1, 2, &mut out);
    for &b in prefix.iter().chain(&[0]) {
        let (v, l) = literal(b);
        put(v, l, &mut out);
    }
    for _ in 0..(zeros - 1) / 258 {
        let (v, l) = code(0b1100_0101, 8);
        put(v, l, &mut out);
        put(0, 5, &mut out);
    }
    for _ in 0..(zeros - 1) % 258 {
        let (v, l) = literal(0);
        put(v, l, &mut out);
    }
    let (v, l) = code(0, 7);
    put(v, l, &mut out);
    put(0, 7, &mut out); // flush the last partial byte
    out
}

#[test]
fn fuzz_npz_members_inflating_past_their_header() {
    let dir = scratch();
    let d = dir.path();
    let tried = AtomicUsize::new(0);
    let slack = 64 << 10;
    runner(150)
        .run(
            &(
                1usize..40,
                1usize..40,
                prop_oneof![0usize..8, 0usize..(64 << 20)],
            ),
            |(rows, cols, extra)| {
                tried.fetch_add(1, Ordering::Relaxed);
                let head = npy("<f4", &format!("({rows}, {cols})"), &[]);
                let zeros = rows * cols * 4 + extra;
                // A deflated member of the declared data plus `extra` bytes,
                // its zip sizes and CRC taken from a stored copy's header
                // (they are lies for the deflated data; nothing reads that far).
                use std::io::Write;
                let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
                w.start_file(
                    "w.npy",
                    zip::write::SimpleFileOptions::default()
                        .compression_method(zip::CompressionMethod::Stored),
                )
                .unwrap();
                w.write_all(&head).unwrap();
                let stored = w.finish().unwrap().into_inner();
                let bomb = deflate_zeros(&head, zeros);
                let p = d.join("b.npz");
                std::fs::write(&p, rezip_deflated(&stored, &bomb, head.len() + zeros)).unwrap();
                let got = read_matrix(&p, Some("w"))
                    .map(|m| m.dim())
                    .map_err(|e| e.to_string());
                match extra {
                    0 => {
                        // The CRC is wrong: the end of the member is reached.
                        let e = got.unwrap_err();
                        prop_assert!(e.contains("checksum"), "{}", e);
                    }
                    x if x <= slack => {
                        let e = got.unwrap_err();
                        prop_assert!(
                            e.contains("checksum") || e.contains("unexpected bytes"),
                            "{}",
                            e
                        );
                    }
                    _ => {
                        let e = got.unwrap_err();
                        prop_assert!(e.contains("inflates past"), "{}", e);
                    }
                }
                // Listing reads no data at all.
                let listed = bbs_compress::list_tensors(&p).map_err(|e| e.to_string());
                prop_assert_eq!(listed, Ok(vec![("w".to_string(), vec![rows, cols])]));
                Ok(())
            },
        )
        .unwrap();
    eprintln!("fuzz npz inflation: {} archives", tried.into_inner());
    assert_no_huge_allocation("npz inflation");
}

/// `stored`, a one-member zip archive written stored, with the member's
/// data replaced by the raw deflate stream `deflated` (method 8) of
/// `size` bytes; sizes patched, the CRC left as it was.
fn rezip_deflated(stored: &[u8], deflated: &[u8], size: usize) -> Vec<u8> {
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize;
    // Local header: 30 bytes, the name, the extra field, then the data.
    let (name_len, extra_len) = (u16_at(stored, 26), u16_at(stored, 28));
    let data_at = 30 + name_len + extra_len;
    let old_len = u32_at(stored, 18);
    let mut local = stored[..data_at].to_vec();
    local[8..10].copy_from_slice(&8u16.to_le_bytes());
    local[18..22].copy_from_slice(&(deflated.len() as u32).to_le_bytes());
    local[22..26].copy_from_slice(&(size as u32).to_le_bytes());
    let mut out = local;
    out.extend_from_slice(deflated);
    let cd_at = out.len();
    let mut central = stored[data_at + old_len..].to_vec();
    // Central directory entry, then the end record.
    central[10..12].copy_from_slice(&8u16.to_le_bytes());
    central[20..24].copy_from_slice(&(deflated.len() as u32).to_le_bytes());
    central[24..28].copy_from_slice(&(size as u32).to_le_bytes());
    let entry_len = 46 + u16_at(&central, 28) + u16_at(&central, 30) + u16_at(&central, 32);
    let end = entry_len;
    central[end + 16..end + 20].copy_from_slice(&(cd_at as u32).to_le_bytes());
    out.extend_from_slice(&central);
    out
}
