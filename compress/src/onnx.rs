//! ONNX models: the weight initializers, read by walking the protobuf wire
//! format directly, and patched in place for writing.
//!
//! Only the fields needed are decoded (field numbers from `onnx/onnx.proto`):
//!
//! | message        | fields read                                                        |
//! |----------------|--------------------------------------------------------------------|
//! | ModelProto     | graph = 7                                                          |
//! | GraphProto     | node = 1, initializer = 5                                          |
//! | NodeProto      | input = 1, name = 3, op_type = 4, attribute = 5, domain = 7        |
//! | AttributeProto | name = 1, i = 3, s = 4, g = 6, graphs = 11                         |
//! | TensorProto    | dims = 1, data_type = 2, float_data = 4, int32_data = 5, name = 8, |
//! |                | raw_data = 9, double_data = 10, data_location = 14                 |
//!
//! Every other field is skipped. Subgraphs (`If`, `Loop`, `Scan` bodies) are
//! walked too, because exporters often put the nodes that use a main-graph
//! initializer inside them.
//!
//! Writing never re-encodes the model: each replaced initializer's data bytes
//! are spliced into the original file (same length for `raw_data`,
//! `float_data` and `double_data`). Only FLOAT16/BFLOAT16 values kept in
//! `int32_data` (varints, whose length depends on the value) change length;
//! then that one field is re-encoded and the length prefixes of the messages
//! enclosing it are rewritten. Everything else stays byte for byte.
//!
//! The reading and writing entry points are [`crate::read_matrices`] and
//! [`crate::write_like`]; this module also has [`fixture`], a small model
//! builder for tests.

use std::borrow::Cow;
use std::path::Path;

use crate::error::{Error, Result};
use crate::weights::{cand_of, tensor_err, Cand, Dt, GateInfo, Src, TensorRef};

/// ONNX `TensorProto.DataType` values this crate reads, and a few others.
pub mod data_type {
    pub const FLOAT: i32 = 1;
    pub const UINT8: i32 = 2;
    pub const INT8: i32 = 3;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const FLOAT16: i32 = 10;
    pub const DOUBLE: i32 = 11;
    pub const BFLOAT16: i32 = 16;
}

/// The ONNX name of a `TensorProto.DataType` value.
pub fn data_type_name(t: i32) -> String {
    const NAMES: [&str; 29] = [
        "UNDEFINED",
        "FLOAT",
        "UINT8",
        "INT8",
        "UINT16",
        "INT16",
        "INT32",
        "INT64",
        "STRING",
        "BOOL",
        "FLOAT16",
        "DOUBLE",
        "UINT32",
        "UINT64",
        "COMPLEX64",
        "COMPLEX128",
        "BFLOAT16",
        "FLOAT8E4M3FN",
        "FLOAT8E4M3FNUZ",
        "FLOAT8E5M2",
        "FLOAT8E5M2FNUZ",
        "UINT4",
        "INT4",
        "FLOAT4E2M1",
        "FLOAT8E8M0",
        "UINT2",
        "INT2",
        "FLOAT6E2M3",
        "FLOAT6E3M2",
    ];
    usize::try_from(t)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("data type {t}"), |n| n.to_string())
}

fn dt_of(t: i32) -> Option<Dt> {
    match t {
        data_type::FLOAT => Some(Dt::F32),
        data_type::DOUBLE => Some(Dt::F64),
        data_type::FLOAT16 => Some(Dt::F16),
        data_type::BFLOAT16 => Some(Dt::BF16),
        _ => None,
    }
}

/// Nesting limit for subgraphs, so a hostile file cannot exhaust the stack.
const MAX_GRAPH_DEPTH: usize = 32;

// ------------------------------------------------------------ wire format ----

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// One field of a message, with absolute byte offsets into the file.
#[derive(Clone, Copy, Debug)]
struct Field {
    num: u64,
    wire: u8,
    /// Where the tag starts.
    start: usize,
    /// Where the length varint starts (length-delimited fields; else = `val.0`).
    len_start: usize,
    /// The value: varint bytes, fixed bytes, or a length-delimited content.
    val: (usize, usize),
    /// The varint's value (varint fields only).
    varint: u64,
}

impl Field {
    fn container(&self) -> Container {
        Container {
            len_start: self.len_start,
            len_end: self.val.0,
            content_end: self.val.1,
        }
    }
}

fn read_varint(buf: &[u8], pos: &mut usize, end: usize) -> std::result::Result<u64, String> {
    let at = *pos;
    let mut v = 0u64;
    for i in 0..10 {
        if *pos >= end {
            return Err(format!("truncated varint at byte {at}"));
        }
        let b = buf[*pos];
        *pos += 1;
        if i == 9 && b > 1 {
            return Err(format!("varint longer than 64 bits at byte {at}"));
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(format!("varint longer than 64 bits at byte {at}"))
}

/// The fields of the message in `buf[start..end]`.
struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

fn fields(buf: &[u8], (start, end): (usize, usize)) -> Fields<'_> {
    Fields {
        buf,
        pos: start,
        end,
    }
}

impl Fields<'_> {
    fn next_field(&mut self) -> std::result::Result<Field, String> {
        let start = self.pos;
        let tag = read_varint(self.buf, &mut self.pos, self.end)?;
        let (num, wire) = (tag >> 3, (tag & 7) as u8);
        if num == 0 {
            return Err(format!("field number 0 at byte {start}"));
        }
        let len_start = self.pos;
        let mut varint = 0;
        let val_len = match wire {
            VARINT => {
                varint = read_varint(self.buf, &mut self.pos, self.end)?;
                let n = self.pos - len_start;
                self.pos = len_start;
                n as u64
            }
            FIXED64 => 8,
            FIXED32 => 4,
            LEN => read_varint(self.buf, &mut self.pos, self.end)?,
            w => {
                return Err(format!(
                    "unsupported protobuf wire type {w} (field {num}) at byte {start}"
                ))
            }
        };
        let val_start = self.pos;
        let val_end = usize::try_from(val_len)
            .ok()
            .and_then(|n| val_start.checked_add(n))
            .filter(|&e| e <= self.end)
            .ok_or_else(|| {
                format!(
                    "field {num} at byte {start} claims {val_len} bytes, only {} remain",
                    self.end - val_start
                )
            })?;
        self.pos = val_end;
        Ok(Field {
            num,
            wire,
            start,
            len_start,
            val: (val_start, val_end),
            varint,
        })
    }
}

impl Iterator for Fields<'_> {
    type Item = std::result::Result<Field, String>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        let r = self.next_field();
        if r.is_err() {
            self.pos = self.end;
        }
        Some(r)
    }
}

fn want_wire(f: &Field, wire: u8, what: &str) -> std::result::Result<(), String> {
    if f.wire == wire {
        Ok(())
    } else {
        Err(format!(
            "{what} (field {}) at byte {} has wire type {}, expected {wire}",
            f.num, f.start, f.wire
        ))
    }
}

fn string(buf: &[u8], f: &Field) -> String {
    String::from_utf8_lossy(&buf[f.val.0..f.val.1]).into_owned()
}

fn encode_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

// ------------------------------------------------------------------ model ----

/// A length-delimited field that encloses something to be rewritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Container {
    len_start: usize,
    len_end: usize,
    content_end: usize,
}

/// Where one data-carrying field of a tensor lies.
#[derive(Clone, Copy, Debug)]
struct Loc {
    start: usize,
    wire: u8,
    val: (usize, usize),
}

/// One initializer, not yet decoded.
#[derive(Debug)]
pub(crate) struct Init {
    pub name: String,
    pub dims: Vec<i64>,
    pub data_type: i32,
    pub external: bool,
    raw: Option<Loc>,
    float_data: Vec<Loc>,
    int32_data: Vec<Loc>,
    double_data: Vec<Loc>,
    /// The enclosing length-delimited fields, outermost first, ending with
    /// the initializer's own field.
    chain: Vec<Container>,
}

#[derive(Debug, Default)]
struct Attr {
    name: String,
    i: Option<i64>,
    s: Option<String>,
}

#[derive(Debug, Default)]
struct Node {
    op: String,
    name: String,
    domain: String,
    inputs: Vec<String>,
    attrs: Vec<Attr>,
}

impl Node {
    fn int(&self, name: &str) -> Option<i64> {
        self.attrs.iter().rev().find(|a| a.name == name)?.i
    }
    fn string(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .rev()
            .find(|a| a.name == name)?
            .s
            .as_deref()
    }
    fn label(&self) -> String {
        format!("{} '{}'", self.op, self.name)
    }
}

/// The initializers and nodes of the main graph and all its subgraphs.
#[derive(Debug, Default)]
pub(crate) struct Model {
    pub inits: Vec<Init>,
    nodes: Vec<Node>,
}

type Msg<T> = std::result::Result<T, String>;

/// Parses the parts of a model this crate needs. The message says what is wrong
/// and where (byte offset); the caller adds the path.
pub(crate) fn parse(buf: &[u8]) -> Msg<Model> {
    let mut model = Model::default();
    let mut graphs = 0;
    let mut chain = Vec::new();
    for f in fields(buf, (0, buf.len())) {
        let f = f?;
        if f.num == 7 {
            want_wire(&f, LEN, "ModelProto.graph")?;
            graphs += 1;
            chain.push(f.container());
            parse_graph(buf, &f, &mut model, &mut chain, 0)?;
            chain.pop();
        }
    }
    if graphs == 0 {
        return Err("no graph (field 7 of ModelProto) found; not an ONNX model".into());
    }
    Ok(model)
}

fn parse_graph(
    buf: &[u8],
    g: &Field,
    model: &mut Model,
    chain: &mut Vec<Container>,
    depth: usize,
) -> Msg<()> {
    if depth > MAX_GRAPH_DEPTH {
        return Err(format!(
            "subgraphs nested more than {MAX_GRAPH_DEPTH} deep at byte {}",
            g.start
        ));
    }
    for f in fields(buf, g.val) {
        let f = f?;
        match f.num {
            1 => {
                want_wire(&f, LEN, "GraphProto.node")?;
                chain.push(f.container());
                let node = parse_node(buf, &f, model, chain, depth)?;
                chain.pop();
                model.nodes.push(node);
            }
            5 => {
                want_wire(&f, LEN, "GraphProto.initializer")?;
                chain.push(f.container());
                let init = parse_tensor(buf, &f, chain)?;
                chain.pop();
                model.inits.push(init);
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_node(
    buf: &[u8],
    n: &Field,
    model: &mut Model,
    chain: &mut Vec<Container>,
    depth: usize,
) -> Msg<Node> {
    let mut node = Node::default();
    for f in fields(buf, n.val) {
        let f = f?;
        match f.num {
            1 => {
                want_wire(&f, LEN, "NodeProto.input")?;
                node.inputs.push(string(buf, &f));
            }
            3 => {
                want_wire(&f, LEN, "NodeProto.name")?;
                node.name = string(buf, &f);
            }
            4 => {
                want_wire(&f, LEN, "NodeProto.op_type")?;
                node.op = string(buf, &f);
            }
            7 => {
                want_wire(&f, LEN, "NodeProto.domain")?;
                node.domain = string(buf, &f);
            }
            5 => {
                want_wire(&f, LEN, "NodeProto.attribute")?;
                chain.push(f.container());
                let attr = parse_attr(buf, &f, model, chain, depth)?;
                chain.pop();
                node.attrs.push(attr);
            }
            _ => {}
        }
    }
    Ok(node)
}

fn parse_attr(
    buf: &[u8],
    a: &Field,
    model: &mut Model,
    chain: &mut Vec<Container>,
    depth: usize,
) -> Msg<Attr> {
    let mut attr = Attr::default();
    for f in fields(buf, a.val) {
        let f = f?;
        match f.num {
            1 => {
                want_wire(&f, LEN, "AttributeProto.name")?;
                attr.name = string(buf, &f);
            }
            3 => {
                want_wire(&f, VARINT, "AttributeProto.i")?;
                attr.i = Some(f.varint as i64);
            }
            4 => {
                want_wire(&f, LEN, "AttributeProto.s")?;
                attr.s = Some(string(buf, &f));
            }
            6 | 11 => {
                want_wire(&f, LEN, "AttributeProto.g")?;
                chain.push(f.container());
                parse_graph(buf, &f, model, chain, depth + 1)?;
                chain.pop();
            }
            _ => {}
        }
    }
    Ok(attr)
}

fn parse_tensor(buf: &[u8], t: &Field, chain: &[Container]) -> Msg<Init> {
    let mut init = Init {
        name: String::new(),
        dims: Vec::new(),
        data_type: 0,
        external: false,
        raw: None,
        float_data: Vec::new(),
        int32_data: Vec::new(),
        double_data: Vec::new(),
        chain: chain.to_vec(),
    };
    for f in fields(buf, t.val) {
        let f = f?;
        let loc = Loc {
            start: f.start,
            wire: f.wire,
            val: f.val,
        };
        match f.num {
            1 => match f.wire {
                VARINT => init.dims.push(f.varint as i64),
                LEN => {
                    let mut pos = f.val.0;
                    while pos < f.val.1 {
                        init.dims.push(read_varint(buf, &mut pos, f.val.1)? as i64);
                    }
                }
                _ => want_wire(&f, VARINT, "TensorProto.dims")?,
            },
            2 => {
                want_wire(&f, VARINT, "TensorProto.data_type")?;
                init.data_type = f.varint as i32;
            }
            4 => init.float_data.push(loc),
            5 => init.int32_data.push(loc),
            8 => {
                want_wire(&f, LEN, "TensorProto.name")?;
                init.name = string(buf, &f);
            }
            9 => {
                want_wire(&f, LEN, "TensorProto.raw_data")?;
                init.raw = Some(loc);
            }
            10 => init.double_data.push(loc),
            14 => {
                want_wire(&f, VARINT, "TensorProto.data_location")?;
                init.external = f.varint == 1;
            }
            _ => {}
        }
    }
    Ok(init)
}

impl Init {
    /// The elements as contiguous little-endian bytes of the element type.
    /// The caller has checked that the data type is one of [`dt_of`]'s.
    fn data<'a>(&self, buf: &'a [u8]) -> Msg<Cow<'a, [u8]>> {
        if let Some(raw) = self.raw {
            return Ok(Cow::Borrowed(&buf[raw.val.0..raw.val.1]));
        }
        match self.data_type {
            data_type::FLOAT => fixed(buf, &self.float_data, 4, "float_data"),
            data_type::DOUBLE => fixed(buf, &self.double_data, 8, "double_data"),
            _ => {
                let mut out = Vec::new();
                for v in varints(buf, &self.int32_data)? {
                    out.extend_from_slice(&(v as u16).to_le_bytes());
                }
                Ok(Cow::Owned(out))
            }
        }
    }

    /// Edits that replace the data with `new` (same length as [`Init::data`]).
    fn data_edits(&self, new: &[u8]) -> Vec<Edit> {
        let spans: Vec<(usize, usize)> = if let Some(raw) = self.raw {
            vec![raw.val]
        } else if self.data_type == data_type::FLOAT {
            self.float_data.iter().map(|l| l.val).collect()
        } else if self.data_type == data_type::DOUBLE {
            self.double_data.iter().map(|l| l.val).collect()
        } else {
            // FLOAT16/BFLOAT16 bits as int32 varints: one packed field
            // replaces them all.
            let mut payload = Vec::new();
            for c in new.chunks_exact(2) {
                encode_varint(u64::from(u16::from_le_bytes([c[0], c[1]])), &mut payload);
            }
            let mut field = vec![(5 << 3) | LEN];
            encode_varint(payload.len() as u64, &mut field);
            field.extend_from_slice(&payload);
            let mut edits: Vec<Edit> = self
                .int32_data
                .iter()
                .map(|l| Edit {
                    start: l.start,
                    end: l.val.1,
                    bytes: Vec::new(),
                })
                .collect();
            match edits.first_mut() {
                Some(first) => first.bytes = field,
                None => {
                    // No elements at all: nothing to replace.
                }
            }
            return edits;
        };
        let mut rest = new;
        spans
            .into_iter()
            .map(|(s, e)| {
                let (head, tail) = rest.split_at((e - s).min(rest.len()));
                rest = tail;
                Edit {
                    start: s,
                    end: e,
                    bytes: head.to_vec(),
                }
            })
            .collect()
    }
}

/// Concatenates packed (or unpacked) fixed-width values.
fn fixed<'a>(buf: &'a [u8], locs: &[Loc], width: usize, what: &str) -> Msg<Cow<'a, [u8]>> {
    let single = if width == 4 { FIXED32 } else { FIXED64 };
    for l in locs {
        let n = l.val.1 - l.val.0;
        if !(l.wire == LEN && n % width == 0 || l.wire == single) {
            return Err(format!(
                "{what} at byte {} is not a list of {width}-byte values",
                l.start
            ));
        }
    }
    Ok(match locs {
        [one] => Cow::Borrowed(&buf[one.val.0..one.val.1]),
        _ => Cow::Owned(
            locs.iter()
                .flat_map(|l| &buf[l.val.0..l.val.1])
                .copied()
                .collect(),
        ),
    })
}

/// Decodes packed (or unpacked) varints.
fn varints(buf: &[u8], locs: &[Loc]) -> Msg<Vec<u64>> {
    let mut out = Vec::new();
    for l in locs {
        let mut pos = l.val.0;
        match l.wire {
            VARINT | LEN => {
                while pos < l.val.1 {
                    out.push(read_varint(buf, &mut pos, l.val.1)?);
                }
            }
            _ => {
                return Err(format!(
                    "int32_data at byte {} is not a list of varints",
                    l.start
                ))
            }
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------ edits ----

/// Replace `buf[start..end]` with `bytes`.
#[derive(Debug)]
pub(crate) struct Edit {
    start: usize,
    end: usize,
    bytes: Vec<u8>,
}

/// Applies disjoint edits. Containers whose content changes length get their
/// length prefix rewritten, innermost first (a rewritten prefix may itself
/// change length, which the next container out accounts for).
fn apply_edits(buf: &[u8], mut edits: Vec<Edit>, mut containers: Vec<Container>) -> Vec<u8> {
    containers.sort_by_key(|c| (c.content_end - c.len_end, c.len_start));
    containers.dedup();
    for c in containers {
        let delta: i64 = edits
            .iter()
            .filter(|e| e.start >= c.len_end && e.end <= c.content_end)
            .map(|e| e.bytes.len() as i64 - (e.end - e.start) as i64)
            .sum();
        if delta != 0 {
            let len = (c.content_end - c.len_end) as i64 + delta;
            let mut bytes = Vec::new();
            encode_varint(len as u64, &mut bytes);
            edits.push(Edit {
                start: c.len_start,
                end: c.len_end,
                bytes,
            });
        }
    }
    edits.sort_by_key(|e| e.start);
    let mut out = Vec::with_capacity(buf.len());
    let mut pos = 0;
    for e in edits {
        out.extend_from_slice(&buf[pos..e.start]);
        out.extend_from_slice(&e.bytes);
        pos = e.end;
    }
    out.extend_from_slice(&buf[pos..]);
    out
}

// ------------------------------------------------------------- candidates ----

/// How a node uses an initializer.
enum Use {
    /// MatMul A/B, Gemm A/B.
    Weight(String),
    /// LSTM/GRU W or R: `[num_directions, gates * hidden, cols]`.
    Recurrent {
        label: String,
        lstm: bool,
        hidden: Option<i64>,
        bidirectional: bool,
    },
    /// Biases, initial states and the like of the ops above.
    Other,
}

fn uses_of(model: &Model) -> std::collections::HashMap<&str, Vec<Use>> {
    let mut uses: std::collections::HashMap<&str, Vec<Use>> = Default::default();
    for node in &model.nodes {
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            continue;
        }
        for (i, input) in node.inputs.iter().enumerate() {
            if input.is_empty() {
                continue;
            }
            let u = match (node.op.as_str(), i) {
                ("MatMul", 0) => Use::Weight(format!("{} input 0 (A)", node.label())),
                ("MatMul", 1) => {
                    Use::Weight(format!("{} input 1 (B, [in, out]: y = x B)", node.label()))
                }
                ("Gemm", 0 | 1) => {
                    let (which, t) = if i == 0 {
                        ("A", node.int("transA").unwrap_or(0))
                    } else {
                        ("B", node.int("transB").unwrap_or(0))
                    };
                    let layout = match (i, t != 0) {
                        (1, true) => ", [out, in]",
                        (1, false) => ", [in, out]",
                        _ => "",
                    };
                    Use::Weight(format!(
                        "{} input {i} ({which}, trans{which}={t}{layout})",
                        node.label()
                    ))
                }
                ("LSTM" | "GRU", 1 | 2) => Use::Recurrent {
                    label: format!(
                        "{} input {i} ({})",
                        node.label(),
                        if i == 1 { "W" } else { "R" }
                    ),
                    lstm: node.op == "LSTM",
                    hidden: node.int("hidden_size"),
                    bidirectional: node.string("direction") == Some("bidirectional"),
                },
                ("Gemm" | "LSTM" | "GRU", _) => Use::Other,
                _ => continue,
            };
            uses.entry(input.as_str()).or_default().push(u);
        }
    }
    uses
}

fn dims_usize(init: &Init, path: &Path) -> Result<Vec<usize>> {
    init.dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| {
            tensor_err(
                path,
                &init.name,
                format!("has a negative dimension in {:?}", init.dims),
            )
        })
}

/// `(name, shape)` of every initializer, for [`crate::list_tensors`].
pub(crate) fn list(model: &Model, path: &Path) -> Result<Vec<(String, Vec<usize>)>> {
    model
        .inits
        .iter()
        .map(|i| Ok((i.name.clone(), dims_usize(i, path)?)))
        .collect()
}

/// Every initializer that could be a weight matrix, as candidates for
/// selection: weights of MatMul/Gemm, LSTM/GRU W and R split per direction,
/// and any other 2-D floating-point initializer not used as a bias or state
/// of those ops. `unit` is the index into `model.inits`; `offset` is where the
/// candidate's bytes start in that initializer's data.
pub(crate) fn candidates<'a>(model: &Model, buf: &'a [u8], path: &Path) -> Vec<Cand<'a>> {
    let uses = uses_of(model);
    let mut count: std::collections::HashMap<&str, usize> = Default::default();
    for i in &model.inits {
        *count.entry(i.name.as_str()).or_default() += 1;
    }
    let mut out = Vec::new();
    for (unit, init) in model.inits.iter().enumerate() {
        let name = init.name.as_str();
        let u = uses.get(name).map(Vec::as_slice).unwrap_or(&[]);
        let recurrent = u.iter().find(|u| matches!(u, Use::Recurrent { .. }));
        let weight: Vec<&str> = u
            .iter()
            .filter_map(|u| match u {
                Use::Weight(l) => Some(l.as_str()),
                _ => None,
            })
            .collect();
        let other = u.iter().any(|u| matches!(u, Use::Other));
        // Weights must be readable; anything else is skipped quietly when it
        // is not a float matrix. Past those checks, every error is fatal.
        let hard = recurrent.is_some() || !weight.is_empty();
        let soft = |e: Error| Cand::err(name, e, false);
        let fail = |e: Error| Cand::err(name, e, true);
        let dims = match dims_usize(init, path) {
            Ok(d) => d,
            Err(e) => {
                out.push(fail(e));
                continue;
            }
        };
        if !hard && (other || dims.len() != 2) {
            out.push(soft(tensor_err(
                path,
                name,
                if other {
                    "is a bias or state input, not a weight matrix".to_string()
                } else {
                    format!(
                        "is {}-D with shape {dims:?}; a 2-D matrix is needed",
                        dims.len()
                    )
                },
            )));
            continue;
        }
        let Some(dt) = dt_of(init.data_type) else {
            let e = tensor_err(
                path,
                name,
                format!(
                    "has unsupported ONNX data type {}; supported: FLOAT, FLOAT16, BFLOAT16, DOUBLE",
                    data_type_name(init.data_type)
                ),
            );
            out.push(Cand::err(name, e, hard));
            continue;
        };
        if count[name] > 1 {
            out.push(fail(tensor_err(
                path,
                name,
                "is defined by more than one initializer",
            )));
            continue;
        }
        if init.external {
            out.push(fail(tensor_err(
                path,
                name,
                "is stored in an external data file (data_location=EXTERNAL); only models with embedded weights are supported",
            )));
            continue;
        }
        let data = match init.data(buf) {
            Ok(d) => d,
            Err(msg) => {
                out.push(fail(tensor_err(path, name, msg)));
                continue;
            }
        };
        let tref = |n: String, shape: Vec<usize>, data: Cow<'a, [u8]>| TensorRef {
            name: n,
            shape,
            dtype: Ok(dt),
            big_endian: false,
            fortran: false,
            data,
        };
        if let Some(Use::Recurrent {
            label,
            lstm,
            hidden,
            bidirectional,
        }) = recurrent
        {
            match split_recurrent(init, &dims, *lstm, *hidden, *bidirectional, dt, &data) {
                Ok((h, per_dir)) => {
                    let dirs = dims[0];
                    let gates: Vec<String> = if *lstm {
                        ["i", "o", "f", "c"].map(String::from).to_vec()
                    } else {
                        ["z", "r", "h"].map(String::from).to_vec()
                    };
                    for d in 0..dirs {
                        let bytes = match &data {
                            Cow::Borrowed(b) => Cow::Borrowed(&b[d * per_dir..(d + 1) * per_dir]),
                            Cow::Owned(b) => Cow::Owned(b[d * per_dir..(d + 1) * per_dir].to_vec()),
                        };
                        let n = format!("{name}[{d}]");
                        out.push(Cand {
                            name: n.clone(),
                            base: Some(name.to_string()),
                            status: Ok(Src {
                                tref: tref(n, dims[1..].to_vec(), bytes),
                                gates: Some(GateInfo {
                                    op: if *lstm { "LSTM" } else { "GRU" }.to_string(),
                                    gates: gates.clone(),
                                    hidden: h,
                                    direction: d,
                                }),
                                role: Some(format!("{label}, direction {d} of {dirs}")),
                                unit,
                                offset: d * per_dir,
                            }),
                        });
                    }
                }
                Err(msg) => out.push(fail(tensor_err(path, name, msg))),
            }
            continue;
        }
        // Not 2-D, or empty: skipped unless named.
        let mut cand = cand_of(tref(name.to_string(), dims, data), path, unit, 0);
        if let Ok(src) = &mut cand.status {
            src.role = (!weight.is_empty()).then(|| weight.join("; "));
        }
        out.push(cand);
    }
    out
}

/// Checks an LSTM/GRU W or R tensor; returns (hidden size, bytes per direction).
fn split_recurrent(
    init: &Init,
    dims: &[usize],
    lstm: bool,
    hidden: Option<i64>,
    bidirectional: bool,
    dt: Dt,
    data: &[u8],
) -> Msg<(usize, usize)> {
    let (op, g) = if lstm { ("LSTM", 4) } else { ("GRU", 3) };
    let &[dirs, rows, cols] = dims else {
        return Err(format!(
            "feeds {op} as W or R and must be 3-D [num_directions, {g}*hidden, cols], not {dims:?}"
        ));
    };
    let want_dirs = if bidirectional { 2 } else { 1 };
    if dirs != want_dirs {
        return Err(format!(
            "has {dirs} directions (shape {dims:?}); the {op} node has {want_dirs}"
        ));
    }
    let h = match hidden {
        Some(h) => usize::try_from(h).map_err(|_| format!("feeds an {op} with hidden_size {h}"))?,
        None => rows / g,
    };
    if h == 0 || h.checked_mul(g) != Some(rows) || cols == 0 {
        return Err(format!(
            "has shape {dims:?}, which does not fit an {op} with {g} gates of hidden size {h}"
        ));
    }
    let per_dir = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(dt.size()))
        .ok_or_else(|| format!("has an impossible shape {dims:?}"))?;
    if per_dir.checked_mul(dirs) != Some(data.len()) {
        return Err(format!(
            "holds {} data bytes, which does not match shape {dims:?} of {}",
            data.len(),
            data_type_name(init.data_type)
        ));
    }
    Ok((h, per_dir))
}

/// The model with the data of some initializers replaced. `patches` holds
/// `(init index, byte offset in its data, new bytes)`.
pub(crate) fn patch(buf: &[u8], model: &Model, patches: &[(usize, usize, Vec<u8>)]) -> Vec<u8> {
    let mut by_init: std::collections::BTreeMap<usize, Vec<(usize, &[u8])>> = Default::default();
    for (unit, offset, bytes) in patches {
        by_init.entry(*unit).or_default().push((*offset, bytes));
    }
    let mut edits = Vec::new();
    let mut containers = Vec::new();
    for (unit, parts) in by_init {
        let init = &model.inits[unit];
        // The data was decoded when the candidates were made, so it decodes now.
        let Ok(old) = init.data(buf) else { continue };
        let mut new = old.into_owned();
        for (offset, bytes) in parts {
            new[offset..offset + bytes.len()].copy_from_slice(bytes);
        }
        edits.extend(init.data_edits(&new));
        containers.extend_from_slice(&init.chain);
    }
    apply_edits(buf, edits, containers)
}

// ---------------------------------------------------------------- fixture ----

/// Builds small ONNX models byte by byte, for tests and examples. Only what
/// this crate reads is written (plus `ir_version` and one opset import), so
/// the models load with `onnx.load` but are not meant to run.
pub mod fixture {
    use super::encode_varint;

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
        pub strings: Vec<(String, String)>,
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
    }

    /// A graph: nodes and initializers.
    #[derive(Clone, Debug, Default)]
    pub struct Graph {
        pub nodes: Vec<Node>,
        pub initializers: Vec<Tensor>,
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
}
