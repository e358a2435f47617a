//! Writes a seed corpus for each target: small valid files of every
//! format, as the readers' tests build them, into `corpus/<target>/`.

use std::io::Write;
use std::path::Path;

use bbs_compress::onnx::data_type as dt;
use bbs_compress::onnx::fixture::{self, Data, Graph, Node, Tensor};
use bbs_compress::{prune_bbs, Csb, QFormat};

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

fn npz(members: &[(&str, Vec<u8>)], method: zip::CompressionMethod) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(zip::DateTime::default());
    for (name, bytes) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let put = |target: &str, name: &str, bytes: Vec<u8>| {
        let d = root.join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), bytes).unwrap();
    };
    let f16: Vec<u8> = (0..4)
        .flat_map(|i| half::f16::from_f32(i as f32 * 0.25).to_le_bytes())
        .collect();
    put("npy", "f32", npy("<f4", "(3, 4)", &f32s(12)));
    put("npy", "f64be", npy(">f8", "(2, 2)", &[0x3f; 32]));
    put("npy", "f16", npy("<f2", "(2, 2)", &f16));
    put("npy", "vec", npy("<i4", "(4,)", &[1; 16]));
    let members = [
        ("w.npy", npy("<f4", "(2, 3)", &f32s(6))),
        ("h.npy", npy("<f2", "(2, 2)", &f16)),
        ("b.npy", npy("<f4", "(3,)", &f32s(3))),
    ];
    put(
        "npz",
        "stored",
        npz(&members, zip::CompressionMethod::Stored),
    );
    put(
        "npz",
        "deflated",
        npz(&members, zip::CompressionMethod::Deflated),
    );
    {
        use safetensors::{tensor::TensorView, Dtype};
        let (a, b) = (f32s(6), f32s(3));
        let views = vec![
            ("w", TensorView::new(Dtype::F32, vec![2, 3], &a).unwrap()),
            ("h", TensorView::new(Dtype::F16, vec![2, 2], &f16).unwrap()),
            ("b", TensorView::new(Dtype::F32, vec![3], &b).unwrap()),
        ];
        put(
            "safetensors",
            "st",
            safetensors::serialize(views, None).unwrap(),
        );
    }
    let g = Graph {
        nodes: vec![
            Node::new("MatMul", "fc", &["x", "w"]),
            Node::new("LSTM", "l", &["x", "W", "R"]).int("hidden_size", 1),
        ],
        initializers: vec![
            Tensor::f32("w", &[2, 3], &[0.5, -1.0, 2.0, 0.0, 1.5, -0.25]),
            Tensor {
                name: "W".into(),
                dims: vec![1, 4, 2],
                data_type: dt::FLOAT16,
                data: Data::Int32((0..8).map(|i| 0x3c00 + i).collect()),
            },
            Tensor::f32("R", &[1, 4, 1], &[0.5, 0.25, -0.5, 1.0]),
        ],
        ..Graph::default()
    };
    put("onnx", "model", fixture::model(&g));
    let w = ndarray::Array2::from_shape_fn((3, 10), |(r, c)| {
        ((r * 7 + c * 3) % 11) as f32 * 0.25 - 1.25
    });
    for (banks, sparsity, width) in [(4, 0.4, 12), (2, 0.75, 8), (5, 0.0, 16)] {
        let p = prune_bbs(&w.view(), banks, sparsity).unwrap();
        let csb = Csb::from_pruned(&p, QFormat::new(width, width / 2).unwrap()).0;
        put("csb", &format!("b{banks}w{width}"), csb.to_bytes());
    }
    println!("seeds in {}", root.display());
}
