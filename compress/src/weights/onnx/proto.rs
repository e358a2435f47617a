//! The ONNX protobuf, read and patched at the wire level without a
//! protobuf library or generated code: the file is walked field by field
//! with absolute byte offsets, which is what lets writing splice new data
//! into the original bytes. Nothing here knows what a weight is (that is
//! the parent module's business).
//!
//! Only the fields needed are decoded (field numbers from `onnx/onnx.proto`):
//!
//! | message        | fields read                                                        |
//! |----------------|--------------------------------------------------------------------|
//! | ModelProto     | graph = 7                                                          |
//! | GraphProto     | node = 1, initializer = 5, input = 11, output = 12                 |
//! | ValueInfoProto | name = 1                                                           |
//! | NodeProto      | input = 1, output = 2, name = 3, op_type = 4, attribute = 5,       |
//! |                | domain = 7                                                         |
//! | AttributeProto | name = 1, f = 2, i = 3, s = 4, t = 5, g = 6, floats = 7, ints = 8, |
//! |                | strings = 9, graphs = 11                                           |
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

use std::borrow::Cow;

use super::data_type;

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

fn f32_at(buf: &[u8], at: usize) -> f32 {
    f32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

fn string(buf: &[u8], f: &Field) -> String {
    String::from_utf8_lossy(&buf[f.val.0..f.val.1]).into_owned()
}

pub(crate) fn encode_varint(mut v: u64, out: &mut Vec<u8>) {
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
pub(crate) struct Attr {
    pub name: String,
    pub i: Option<i64>,
    pub s: Option<String>,
    pub f: Option<f32>,
    pub ints: Vec<i64>,
    pub floats: Vec<f32>,
    pub strings: Vec<String>,
    /// A TENSOR attribute (`Constant`'s `value`).
    pub t: Option<Init>,
    /// A GRAPH or GRAPHS attribute was present (its nodes are in the model).
    pub graph: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Node {
    pub op: String,
    pub name: String,
    pub domain: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<Attr>,
    /// In the main graph (not in an `If`/`Loop`/`Scan` body).
    pub main: bool,
}

impl Node {
    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        self.attrs.iter().rev().find(|a| a.name == name)?.i
    }
    pub(crate) fn string(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .rev()
            .find(|a| a.name == name)?
            .s
            .as_deref()
    }
    pub(crate) fn label(&self) -> String {
        format!("{} '{}'", self.op, self.name)
    }
    pub(crate) fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().rev().find(|a| a.name == name)
    }
}

/// The initializers and nodes of the main graph and all its subgraphs, and
/// the main graph's input and output names.
#[derive(Debug, Default)]
pub(crate) struct Model {
    pub inits: Vec<Init>,
    pub nodes: Vec<Node>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

pub(crate) type Msg<T> = std::result::Result<T, String>;

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
            11 | 12 if depth == 0 => {
                want_wire(&f, LEN, "GraphProto.input/output")?;
                let mut name = String::new();
                for v in fields(buf, f.val) {
                    let v = v?;
                    if v.num == 1 {
                        want_wire(&v, LEN, "ValueInfoProto.name")?;
                        name = string(buf, &v);
                    }
                }
                if f.num == 11 {
                    model.inputs.push(name);
                } else {
                    model.outputs.push(name);
                }
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
    let mut node = Node {
        main: depth == 0,
        ..Node::default()
    };
    for f in fields(buf, n.val) {
        let f = f?;
        match f.num {
            1 => {
                want_wire(&f, LEN, "NodeProto.input")?;
                node.inputs.push(string(buf, &f));
            }
            2 => {
                want_wire(&f, LEN, "NodeProto.output")?;
                node.outputs.push(string(buf, &f));
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
            2 => {
                want_wire(&f, FIXED32, "AttributeProto.f")?;
                attr.f = Some(f32_at(buf, f.val.0));
            }
            3 => {
                want_wire(&f, VARINT, "AttributeProto.i")?;
                attr.i = Some(f.varint as i64);
            }
            4 => {
                want_wire(&f, LEN, "AttributeProto.s")?;
                attr.s = Some(string(buf, &f));
            }
            5 => {
                want_wire(&f, LEN, "AttributeProto.t")?;
                chain.push(f.container());
                attr.t = Some(parse_tensor(buf, &f, chain)?);
                chain.pop();
            }
            7 => match f.wire {
                FIXED32 => attr.floats.push(f32_at(buf, f.val.0)),
                LEN if (f.val.1 - f.val.0) % 4 == 0 => attr
                    .floats
                    .extend((f.val.0..f.val.1).step_by(4).map(|at| f32_at(buf, at))),
                _ => want_wire(&f, FIXED32, "AttributeProto.floats")?,
            },
            8 => match f.wire {
                VARINT => attr.ints.push(f.varint as i64),
                LEN => {
                    let mut pos = f.val.0;
                    while pos < f.val.1 {
                        attr.ints.push(read_varint(buf, &mut pos, f.val.1)? as i64);
                    }
                }
                _ => want_wire(&f, VARINT, "AttributeProto.ints")?,
            },
            9 => {
                want_wire(&f, LEN, "AttributeProto.strings")?;
                attr.strings.push(string(buf, &f));
            }
            6 | 11 => {
                want_wire(&f, LEN, "AttributeProto.g")?;
                attr.graph = true;
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
    /// The caller has checked that the data type is one of [`super::dt_of`]'s.
    pub(crate) fn data<'a>(&self, buf: &'a [u8]) -> Msg<Cow<'a, [u8]>> {
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
