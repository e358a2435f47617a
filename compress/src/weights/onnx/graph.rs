//! The main graph of an ONNX model as plain data: its nodes in file order
//! (inputs, outputs, attributes), its input and output names, and its
//! constants (initializers and `Constant` nodes) with float values decoded
//! to f32. `bbs compile` walks this to find the recurrent layers and the
//! steps around them; nothing here decides what runs where.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::weights::decode::elem_to_f32;

use super::proto::{self, Init};
use super::{data_type_name, dt_of, open_onnx};

/// One attribute's value (the kinds `bbs compile` reads).
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Int(i64),
    Float(f32),
    String(String),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Strings(Vec<String>),
    Tensor,
    Graph,
    /// A list attribute with no elements, or a kind not read.
    Empty,
}

#[derive(Clone, Debug)]
pub struct GraphNode {
    pub name: String,
    pub op: String,
    /// Empty for the default `ai.onnx` domain.
    pub domain: String,
    /// Empty names are omitted optional inputs.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<(String, AttrValue)>,
}

impl GraphNode {
    /// `LSTM 'name'` (op type and node name), for messages.
    pub fn label(&self) -> String {
        format!("{} '{}'", self.op, crate::shown(&self.name))
    }
    pub fn attr(&self, name: &str) -> Option<&AttrValue> {
        self.attrs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.attr(name)? {
            AttrValue::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn float(&self, name: &str) -> Option<f32> {
        match self.attr(name)? {
            AttrValue::Float(f) => Some(*f),
            _ => None,
        }
    }
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.attr(name)? {
            AttrValue::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn strings(&self, name: &str) -> Option<&[String]> {
        match self.attr(name)? {
            AttrValue::Strings(s) => Some(s),
            _ => None,
        }
    }
    pub fn ints(&self, name: &str) -> Option<&[i64]> {
        match self.attr(name)? {
            AttrValue::Ints(s) => Some(s),
            AttrValue::Empty => Some(&[]),
            _ => None,
        }
    }
    /// The `i`-th input, `None` when absent or omitted (empty name).
    pub fn input(&self, i: usize) -> Option<&str> {
        self.inputs
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// A constant tensor: an initializer or a `Constant` node's value.
#[derive(Clone, Debug)]
pub struct Constant {
    pub dims: Vec<usize>,
    /// Row-major values as f32 for floating-point tensors; for any other
    /// type, why not (its ONNX data type), so shape tensors can exist
    /// without being decoded.
    pub values: std::result::Result<Vec<f32>, String>,
}

/// The main graph of an ONNX model.
#[derive(Clone, Debug)]
pub struct Graph {
    pub path: PathBuf,
    /// Main-graph nodes in file order (subgraph bodies are not included).
    pub nodes: Vec<GraphNode>,
    /// The graph's inputs that are not initializers: what a user feeds.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub constants: BTreeMap<String, Constant>,
    /// `ConstantOfShape` outputs and their fill value (0 without `value`;
    /// absent when the value is not floating point).
    pub fills: BTreeMap<String, f32>,
}

impl Graph {
    pub fn constant(&self, name: &str) -> Option<&Constant> {
        self.constants.get(name)
    }
    /// The constant's float values, or an error naming the node and input.
    pub fn floats(&self, node: &GraphNode, name: &str) -> Result<(&[usize], &[f32])> {
        let c = self.constant(name).ok_or_else(|| {
            Error::file(
                &self.path,
                format!(
                    "node {}: input '{}' is computed in the graph, not a constant",
                    node.label(),
                    crate::shown(name)
                ),
            )
        })?;
        match &c.values {
            Ok(v) => Ok((&c.dims, v)),
            Err(why) => Err(Error::file(
                &self.path,
                format!(
                    "node {}: input '{}' is {why}, not floating point",
                    node.label(),
                    crate::shown(name)
                ),
            )),
        }
    }
}

fn constant(init: &Init, buf: &[u8], path: &Path) -> Result<Constant> {
    let dims = init
        .dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| {
            Error::tensor(
                path,
                &crate::shown(&init.name),
                format!("has a negative dimension in {:?}", init.dims),
            )
        })?;
    let values = match dt_of(init.data_type) {
        None => Err(data_type_name(init.data_type)),
        Some(_) if init.external => Err("stored in an external data file".to_string()),
        Some(dt) => {
            let data = init
                .data(buf)
                .map_err(|m| Error::tensor(path, &crate::shown(&init.name), m))?;
            let n: usize = dims.iter().product();
            if data.len() != n * dt.size() {
                return Err(Error::tensor(
                    path,
                    &crate::shown(&init.name),
                    format!(
                        "holds {} data bytes, which does not match shape {dims:?} of {}",
                        data.len(),
                        data_type_name(init.data_type)
                    ),
                ));
            }
            Ok(data
                .chunks_exact(dt.size())
                .map(|b| elem_to_f32(dt, false, b))
                .collect())
        }
    };
    Ok(Constant { dims, values })
}

fn attr_value(a: &proto::Attr) -> AttrValue {
    if let Some(i) = a.i {
        AttrValue::Int(i)
    } else if let Some(f) = a.f {
        AttrValue::Float(f)
    } else if let Some(s) = &a.s {
        AttrValue::String(s.clone())
    } else if !a.ints.is_empty() {
        AttrValue::Ints(a.ints.clone())
    } else if !a.floats.is_empty() {
        AttrValue::Floats(a.floats.clone())
    } else if !a.strings.is_empty() {
        AttrValue::Strings(a.strings.clone())
    } else if a.t.is_some() {
        AttrValue::Tensor
    } else if a.graph {
        AttrValue::Graph
    } else {
        AttrValue::Empty
    }
}

/// Reads the main graph of the ONNX model at `path`.
pub fn read_graph(path: &Path) -> Result<Graph> {
    let buf = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    let model = open_onnx(&buf, path)?;
    let mut constants = BTreeMap::new();
    for init in &model.inits {
        constants.insert(init.name.clone(), constant(init, &buf, path)?);
    }
    let mut nodes = Vec::new();
    let mut fills = BTreeMap::new();
    for n in model.nodes.iter().filter(|n| n.main) {
        let value = n.attr("value").and_then(|a| a.t.as_ref());
        let default_domain = n.domain.is_empty() || n.domain == "ai.onnx";
        match (n.op.as_str(), value, n.outputs.first()) {
            ("Constant", Some(t), Some(out)) if default_domain => {
                constants.insert(out.clone(), constant(t, &buf, path)?);
            }
            ("ConstantOfShape", _, Some(out)) if default_domain => {
                let fill = match value {
                    None => Some(0.0),
                    Some(t) => match constant(t, &buf, path)?.values {
                        Ok(v) if v.len() == 1 => Some(v[0]),
                        _ => None,
                    },
                };
                if let Some(f) = fill {
                    fills.insert(out.clone(), f);
                }
            }
            _ => {}
        }
        nodes.push(GraphNode {
            name: n.name.clone(),
            op: n.op.clone(),
            domain: n.domain.clone(),
            inputs: n.inputs.clone(),
            outputs: n.outputs.clone(),
            attrs: n
                .attrs
                .iter()
                .map(|a| (a.name.clone(), attr_value(a)))
                .collect(),
        });
    }
    let inputs = model
        .inputs
        .iter()
        .filter(|i| !model.inits.iter().any(|t| &t.name == *i))
        .cloned()
        .collect();
    Ok(Graph {
        path: path.to_path_buf(),
        nodes,
        inputs,
        outputs: model.outputs.clone(),
        constants,
        fills,
    })
}
