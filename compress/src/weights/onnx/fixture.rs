//! Builds small ONNX models byte by byte, for tests and examples. Only what
//! this crate reads is written (plus `ir_version` and one opset import), so
//! the models load with `onnx.load` but are not meant to run.

use super::proto::encode_varint;

/// How an initializer's elements are stored.
#[derive(Clone, Debug)]
pub enum Data {
    /// `raw_data`: little-endian bytes.
    Raw(Vec<u8>),
    /// `float_data` (packed).
    Floats(Vec<f32>),
    /// `double_data` (packed).
    Doubles(Vec<f64>),
    /// `int32_data` (packed), e.g. FLOAT16/BFLOAT16 bit patterns.
    Int32(Vec<i32>),
    /// `int64_data` (packed).
    Int64(Vec<i64>),
    /// `data_location = EXTERNAL` with an `external_data` entry.
    External(String),
}

/// An initializer.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub name: String,
    pub dims: Vec<i64>,
    pub data_type: i32,
    pub data: Data,
}

impl Tensor {
    /// A FLOAT tensor in `raw_data`.
    pub fn f32(name: &str, dims: &[i64], values: &[f32]) -> Tensor {
        Tensor {
            name: name.to_string(),
            dims: dims.to_vec(),
            data_type: super::data_type::FLOAT,
            data: Data::Raw(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        }
    }
}

/// A node; attributes are INT or STRING, plus GRAPH subgraphs.
#[derive(Clone, Debug, Default)]
pub struct Node {
    pub op_type: String,
    pub name: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub ints: Vec<(String, i64)>,
    pub floats: Vec<(String, f32)>,
    pub int_lists: Vec<(String, Vec<i64>)>,
    pub strings: Vec<(String, String)>,
    pub string_lists: Vec<(String, Vec<String>)>,
    pub tensors: Vec<(String, Tensor)>,
    pub graphs: Vec<(String, Graph)>,
}

impl Node {
    pub fn new(op_type: &str, name: &str, inputs: &[&str]) -> Node {
        Node {
            op_type: op_type.to_string(),
            name: name.to_string(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![format!("{name}_out")],
            ..Node::default()
        }
    }
    pub fn int(mut self, name: &str, v: i64) -> Node {
        self.ints.push((name.to_string(), v));
        self
    }
    pub fn string(mut self, name: &str, v: &str) -> Node {
        self.strings.push((name.to_string(), v.to_string()));
        self
    }
    pub fn float(mut self, name: &str, v: f32) -> Node {
        self.floats.push((name.to_string(), v));
        self
    }
    pub fn ints(mut self, name: &str, v: &[i64]) -> Node {
        self.int_lists.push((name.to_string(), v.to_vec()));
        self
    }
    pub fn strings(mut self, name: &str, v: &[&str]) -> Node {
        self.string_lists
            .push((name.to_string(), v.iter().map(|s| s.to_string()).collect()));
        self
    }
    /// A TENSOR attribute (`Constant`'s `value`).
    pub fn tensor(mut self, name: &str, t: Tensor) -> Node {
        self.tensors.push((name.to_string(), t));
        self
    }
    /// The node's outputs (default: one, `<name>_out`).
    pub fn outputs(mut self, outputs: &[&str]) -> Node {
        self.outputs = outputs.iter().map(|s| s.to_string()).collect();
        self
    }
}

/// A graph: nodes and initializers, and the names of its inputs and
/// outputs (written as `ValueInfoProto`s without types).
#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub initializers: Vec<Tensor>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

fn tag(num: u32, wire: u8, out: &mut Vec<u8>) {
    encode_varint(u64::from(num) << 3 | u64::from(wire), out);
}
fn bytes(num: u32, b: &[u8], out: &mut Vec<u8>) {
    tag(num, 2, out);
    encode_varint(b.len() as u64, out);
    out.extend_from_slice(b);
}
fn int(num: u32, v: i64, out: &mut Vec<u8>) {
    tag(num, 0, out);
    encode_varint(v as u64, out);
}

fn tensor(t: &Tensor) -> Vec<u8> {
    let mut out = Vec::new();
    if !t.dims.is_empty() {
        let mut p = Vec::new();
        for &d in &t.dims {
            encode_varint(d as u64, &mut p);
        }
        bytes(1, &p, &mut out);
    }
    int(2, i64::from(t.data_type), &mut out);
    match &t.data {
        Data::Floats(v) => bytes(
            4,
            &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
            &mut out,
        ),
        Data::Int32(v) => {
            let mut p = Vec::new();
            for &x in v {
                encode_varint(i64::from(x) as u64, &mut p);
            }
            bytes(5, &p, &mut out);
        }
        Data::Int64(v) => {
            let mut p = Vec::new();
            for &x in v {
                encode_varint(x as u64, &mut p);
            }
            bytes(7, &p, &mut out);
        }
        _ => {}
    }
    bytes(8, t.name.as_bytes(), &mut out);
    match &t.data {
        Data::Raw(b) => bytes(9, b, &mut out),
        Data::Doubles(v) => bytes(
            10,
            &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
            &mut out,
        ),
        Data::External(location) => {
            let mut kv = Vec::new();
            bytes(1, b"location", &mut kv);
            bytes(2, location.as_bytes(), &mut kv);
            bytes(13, &kv, &mut out);
            int(14, 1, &mut out);
        }
        _ => {}
    }
    out
}

fn node(n: &Node) -> Vec<u8> {
    let mut out = Vec::new();
    for i in &n.inputs {
        bytes(1, i.as_bytes(), &mut out);
    }
    for o in &n.outputs {
        bytes(2, o.as_bytes(), &mut out);
    }
    bytes(3, n.name.as_bytes(), &mut out);
    bytes(4, n.op_type.as_bytes(), &mut out);
    for (name, v) in &n.ints {
        let mut a = Vec::new();
        bytes(1, name.as_bytes(), &mut a);
        int(3, *v, &mut a);
        int(20, 2, &mut a);
        bytes(5, &a, &mut out);
    }
    for (name, v) in &n.strings {
        let mut a = Vec::new();
        bytes(1, name.as_bytes(), &mut a);
        bytes(4, v.as_bytes(), &mut a);
        int(20, 3, &mut a);
        bytes(5, &a, &mut out);
    }
    for (name, v) in &n.floats {
        let mut a = Vec::new();
        bytes(1, name.as_bytes(), &mut a);
        tag(2, 5, &mut a);
        a.extend_from_slice(&v.to_le_bytes());
        int(20, 1, &mut a);
        bytes(5, &a, &mut out);
    }
    for (name, v) in &n.int_lists {
        let mut a = Vec::new();
        bytes(1, name.as_bytes(), &mut a);
        let mut p = Vec::new();
        for &x in v {
            encode_varint(x as u64, &mut p);
        }
        bytes(8, &p, &mut a);
        int(20, 7, &mut a);
        bytes(5, &a, &mut out);
    }
    for (name, v) in &n.string_lists {
        let mut a = Vec::new();
        bytes(1, name.as_bytes(), &mut a);
        for s in v {
            bytes(9, s.as_bytes(), &mut a);
        }
        int(20, 8, &mut a);
        bytes(5, &a, &mut out);
    }
    for (name, t) in &n.tensors {
        let mut a = Vec::new();
        bytes(1, name.as_bytes(), &mut a);
        bytes(5, &tensor(t), &mut a);
        int(20, 4, &mut a);
        bytes(5, &a, &mut out);
    }
    for (name, g) in &n.graphs {
        let mut a = Vec::new();
        bytes(1, name.as_bytes(), &mut a);
        bytes(6, &graph(g), &mut a);
        int(20, 5, &mut a);
        bytes(5, &a, &mut out);
    }
    out
}

fn graph(g: &Graph) -> Vec<u8> {
    let mut out = Vec::new();
    for n in &g.nodes {
        bytes(1, &node(n), &mut out);
    }
    bytes(2, b"g", &mut out);
    for t in &g.initializers {
        bytes(5, &tensor(t), &mut out);
    }
    for (num, names) in [(11, &g.inputs), (12, &g.outputs)] {
        for name in names {
            let mut v = Vec::new();
            bytes(1, name.as_bytes(), &mut v);
            bytes(num, &v, &mut out);
        }
    }
    out
}

/// The encoded `ModelProto`.
pub fn model(g: &Graph) -> Vec<u8> {
    let mut out = Vec::new();
    int(1, 8, &mut out);
    bytes(2, b"bbs-compress fixture", &mut out);
    bytes(7, &graph(g), &mut out);
    let mut opset = Vec::new();
    bytes(1, b"", &mut opset);
    int(2, 17, &mut opset);
    bytes(8, &opset, &mut out);
    out
}
