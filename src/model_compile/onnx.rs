//! `bbs compile MODEL.onnx`: an ONNX graph with `LSTM`/`GRU` nodes as the
//! accelerator's network plus the steps the host computes in float around it
//! (docs/compile.md, "ONNX graphs").
//!
//! The graph is walked as a chain from its one input: each tensor feeds one
//! node (besides `Shape` nodes, which read only its shape). Recurrent nodes
//! become the machine's layers, in ONNX's gate orders converted to the
//! machine's (LSTM i,o,f,c -> i,f,g,o; GRU z,r,h -> r,z,n; `B` split into the
//! input and recurrent biases). Shape-only nodes (`Squeeze`, `Unsqueeze`,
//! `Reshape`, `Transpose`, `Flatten`, `Identity`, `Dropout`) pass through: a
//! sequence is frames x features whatever its axes are called. Dense layers
//! (`Gemm`, `MatMul`, with a following bias `Add` and `Sigmoid`/`Tanh`/`Relu`)
//! between, right before or right after the recurrent layers run on the
//! accelerator too, and so does an activation right after a recurrent layer
//! (an identity layer); element-wise arithmetic with a constant after a
//! recurrent layer is folded into the next linear layer. The rest of the
//! chain before and after that span (a scaling, `Softmax`, dense layers
//! beyond a host step) runs on the host and is listed in the manifest.
//! Anything else is refused naming the node and its op type.

use anyhow::{anyhow, bail, Result};
use bbs_compress::onnx::{read_graph, Graph, GraphNode};
use bbs_sim::act::ActFn;
use bbs_sim::workloads::{FloatKind, FloatLayer};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{LayerTensors, StoredRows};

/// Element-wise arithmetic with a constant.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

/// What a host step computes on one frame's features.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum HostOp {
    /// `y = W x + b`; `W` (outputs x inputs) is the `.npy` file `weight` of
    /// the compiled directory.
    Dense {
        inputs: usize,
        outputs: usize,
        weight: String,
        bias: Vec<f32>,
    },
    /// `y = x (func) c`, or `c (func) x` with `constant_first`; `c` is one
    /// value or one per feature.
    Elementwise {
        func: Binary,
        constant: Vec<f32>,
        constant_first: bool,
    },
    Relu,
    Sigmoid,
    Tanh,
    /// Over the frame's features.
    Softmax,
    LogSoftmax,
}

/// One node of the graph the host computes in float.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HostStep {
    /// The ONNX node, e.g. `Gemm 'fc'`.
    pub node: String,
    #[serde(flatten)]
    pub op: HostOp,
    /// A dense step's weight (from the graph, or read back from `weight`).
    #[serde(skip)]
    pub matrix: Option<Array2<f32>>,
    /// A dense step's weight initializer, by name.
    #[serde(skip)]
    pub tensor: Option<String>,
    /// How that initializer's rows are the step's output rows.
    #[serde(skip)]
    pub stored: StoredRows,
}

impl HostStep {
    /// The step on one frame.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        match &self.op {
            HostOp::Dense { bias, .. } => {
                let w = self
                    .matrix
                    .as_ref()
                    .expect("a dense step's weight is loaded");
                w.rows()
                    .into_iter()
                    .zip(bias)
                    .map(|(row, &b)| {
                        row.iter()
                            .zip(x)
                            .map(|(&w, &v)| f64::from(w) * v)
                            .sum::<f64>()
                            + f64::from(b)
                    })
                    .collect()
            }
            HostOp::Elementwise {
                func,
                constant,
                constant_first,
            } => x
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let c = f64::from(constant[if constant.len() == 1 { 0 } else { i }]);
                    let (a, b) = if *constant_first { (c, v) } else { (v, c) };
                    match func {
                        Binary::Add => a + b,
                        Binary::Sub => a - b,
                        Binary::Mul => a * b,
                        Binary::Div => a / b,
                    }
                })
                .collect(),
            HostOp::Relu => x.iter().map(|&v| v.max(0.0)).collect(),
            HostOp::Sigmoid => x.iter().map(|&v| 1.0 / (1.0 + (-v).exp())).collect(),
            HostOp::Tanh => x.iter().map(|&v| v.tanh()).collect(),
            HostOp::Softmax | HostOp::LogSoftmax => {
                let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = x.iter().map(|&v| (v - m).exp()).sum();
                if self.op == HostOp::Softmax {
                    x.iter().map(|&v| (v - m).exp() / sum).collect()
                } else {
                    x.iter().map(|&v| v - m - sum.ln()).collect()
                }
            }
        }
    }
}

/// Applies `steps` in order to one frame.
pub fn apply_all(steps: &[HostStep], x: Vec<f64>) -> Vec<f64> {
    steps.iter().fold(x, |x, s| s.apply(&x))
}

/// The graph's parts outside the accelerator's layers (manifest `host`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Host {
    /// Every recurrent layer runs backwards in time (`direction =
    /// "reverse"`): the host feeds the frames last first and puts the
    /// outputs back in order.
    #[serde(default)]
    pub reverse: bool,
    /// Steps before the first recurrent layer, in order.
    #[serde(default)]
    pub before: Vec<HostStep>,
    /// Steps after the last recurrent layer.
    #[serde(default)]
    pub after: Vec<HostStep>,
    /// Shape-only nodes passed through.
    #[serde(default)]
    pub pass_through: Vec<String>,
    /// Element-wise steps with a constant folded into the next layer's
    /// input weights and bias (`Mul 's' into GRU 'dec'`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folded: Vec<String>,
}

impl Host {
    pub fn is_empty(&self) -> bool {
        *self == Host::default()
    }

    /// The sequence the first layer takes, from the graph's input `x`
    /// (frames x features): in the layers' time order, through the steps
    /// before them.
    pub fn to_layers(&self, x: &Array2<f32>) -> Vec<Vec<f64>> {
        let mut rows: Vec<Vec<f64>> = x
            .rows()
            .into_iter()
            .map(|r| apply_all(&self.before, r.iter().map(|&v| f64::from(v)).collect()))
            .collect();
        if self.reverse {
            rows.reverse();
        }
        rows
    }

    /// [`Host::to_layers`] as a matrix.
    pub fn to_accelerator(&self, x: &Array2<f32>) -> Array2<f32> {
        let rows = self.to_layers(x);
        let cols = rows.first().map_or(0, Vec::len);
        Array2::from_shape_fn((rows.len(), cols), |(t, j)| rows[t][j] as f32)
    }

    /// The graph's outputs from the last layer's: through the steps after
    /// them, in the input's time order.
    pub fn from_layers(&self, y: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
        let mut out: Vec<Vec<f64>> = y.into_iter().map(|r| apply_all(&self.after, r)).collect();
        if self.reverse {
            out.reverse();
        }
        out
    }
}

/// An ONNX graph read as a network.
pub struct Imported {
    pub layers: Vec<FloatLayer>,
    /// The initializers of each layer (`W[0]`, `R[0]`, ... as `bbs prune`
    /// names an ONNX recurrent weight's directions).
    pub tensors: Vec<LayerTensors>,
    pub host: Host,
    /// Features per frame of the graph's input and output.
    pub input: usize,
    pub output: usize,
}

/// Whether `path` is an ONNX graph with `LSTM`/`GRU` nodes (else a state
/// dict is looked for by tensor names).
pub fn is_recurrent_graph(path: &Path) -> Result<bool> {
    if path.extension().and_then(|e| e.to_str()) != Some("onnx") {
        return Ok(false);
    }
    let g = read_graph(path)?;
    Ok(g.nodes.iter().any(is_recurrent))
}

fn is_default_domain(n: &GraphNode) -> bool {
    n.domain.is_empty() || n.domain == "ai.onnx"
}

fn is_recurrent(n: &GraphNode) -> bool {
    is_default_domain(n) && matches!(n.op.as_str(), "LSTM" | "GRU")
}

/// Nodes that only move axes: a frame's features stay what they are.
const PASS_THROUGH: [&str; 7] = [
    "Squeeze",
    "Unsqueeze",
    "Reshape",
    "Transpose",
    "Flatten",
    "Identity",
    "Dropout",
];

/// Ops that compute shapes from shapes and constants.
const SHAPE_OPS: [&str; 12] = [
    "Shape",
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Concat",
    "Slice",
    "Cast",
    "Reshape",
    "ConstantOfShape",
    "Expand",
    "Constant",
    "Identity",
];

const HOST_OPS: &str =
    "Gemm, MatMul, Add, Sub, Mul, Div (with a constant), Relu, Sigmoid, Tanh, Softmax, LogSoftmax";

struct Walk<'a> {
    g: &'a Graph,
    /// Tensors computed from shapes and constants only.
    static_: BTreeSet<&'a str>,
}

impl<'a> Walk<'a> {
    fn err(&self, msg: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("{}: {msg}", self.g.path.display())
    }

    fn is_static(&self, name: &str) -> bool {
        self.g.constant(name).is_some() || self.static_.contains(name)
    }

    /// A zero initial state: absent, an all-zero constant, or a
    /// `ConstantOfShape` of zero (what exporters write for "no state").
    fn zero_state(&self, name: Option<&str>) -> bool {
        let Some(name) = name else { return true };
        if let Some(c) = self.g.constant(name) {
            return c.values.as_ref().is_ok_and(|v| v.iter().all(|&x| x == 0.0));
        }
        self.g.fills.get(name) == Some(&0.0)
    }

    fn floats(&self, n: &GraphNode, i: usize) -> Result<(Vec<usize>, Vec<f32>)> {
        let name = n
            .input(i)
            .ok_or_else(|| self.err(format!("node {}: input {i} is missing", n.label())))?;
        let (dims, v) = self.g.floats(n, name)?;
        Ok((dims.to_vec(), v.to_vec()))
    }
}

/// Reads the ONNX graph at `path` as the accelerator's network and the host
/// steps around it.
pub fn import(path: &Path) -> Result<Imported> {
    let g = read_graph(path)?;
    let mut walk = Walk {
        g: &g,
        static_: BTreeSet::new(),
    };
    for n in &g.nodes {
        let inputs_static = n
            .inputs
            .iter()
            .filter(|i| !i.is_empty())
            .all(|i| walk.is_static(i));
        if n.op == "Shape" || (SHAPE_OPS.contains(&n.op.as_str()) && inputs_static) {
            for o in &n.outputs {
                walk.static_.insert(o.as_str());
            }
        }
    }
    let dynamic: Vec<&String> = g.inputs.iter().filter(|i| !walk.is_static(i)).collect();
    let input = match dynamic.as_slice() {
        [one] => one.as_str(),
        [] => return Err(walk.err("the graph has no input")),
        many => {
            return Err(walk.err(format!(
                "the graph has {} inputs ({}); bbs runs graphs with one input sequence",
                many.len(),
                many.iter()
                    .map(|s| format!("'{}'", bbs_compress::shown(s)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };
    let mut consumers: BTreeMap<&str, Vec<&GraphNode>> = BTreeMap::new();
    for n in &g.nodes {
        for i in n.inputs.iter().filter(|i| !i.is_empty()) {
            consumers.entry(i.as_str()).or_default().push(n);
        }
    }
    let mut cur = input;
    let mut features: Option<usize> = None;
    let mut items: Vec<Item> = Vec::new();
    let mut host = Host::default();
    let mut directions: Vec<(String, bool)> = Vec::new();
    let mut visited: BTreeSet<*const GraphNode> = BTreeSet::new();
    loop {
        let users: Vec<&GraphNode> = consumers
            .get(cur)
            .map(|v| v.iter().copied().filter(|n| n.op != "Shape").collect())
            .unwrap_or_default();
        let n = match users.as_slice() {
            [] => break,
            [n] => *n,
            many => {
                return Err(walk.err(format!(
                "tensor '{}' feeds {} nodes ({}); bbs runs a chain of nodes, each feeding the next",
                bbs_compress::shown(cur),
                many.len(),
                many.iter()
                    .map(|n| n.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
            }
        };
        // A hostile file can make a node its own consumer: never walk one twice.
        if !visited.insert(n as *const GraphNode) {
            return Err(walk.err(format!(
                "node {}: reached twice; the graph has a cycle",
                n.label()
            )));
        }
        if !is_default_domain(n) {
            return Err(walk.err(format!(
                "node {} (domain '{}'): a custom operator; bbs runs ONNX's own LSTM and GRU on the accelerator and {HOST_OPS} on the host",
                n.label(),
                bbs_compress::shown(&n.domain)
            )));
        }
        let position = n.inputs.iter().position(|i| i == cur).unwrap_or(0);
        for (i, other) in n.inputs.iter().enumerate() {
            if i != position && !other.is_empty() && other != cur && !walk.is_static(other) {
                return Err(walk.err(format!(
                    "node {}: input {i} ('{}') is computed from the sequence too; bbs runs a chain of nodes with one sequence input each",
                    n.label(),
                    bbs_compress::shown(other)
                )));
            }
        }
        let op = n.op.as_str();
        if is_recurrent(n) {
            if position != 0 {
                return Err(walk.err(format!(
                    "node {}: the sequence is its input {position}, not X",
                    n.label()
                )));
            }
            let (layer, t, reverse) = recurrent(&walk, n, features)?;
            features = Some(layer.w_hh.nrows() / if layer.kind == FloatKind::Lstm { 4 } else { 3 });
            directions.push((n.label(), reverse));
            items.push(Item::Layer(Box::new(layer), t, n.label()));
            for (k, o) in n.outputs.iter().enumerate().skip(1) {
                if let Some(users) = consumers.get(o.as_str()) {
                    return Err(walk.err(format!(
                        "node {}: its output {k} ('{}', the last state) feeds {}; bbs streams the sequence output Y only",
                        n.label(),
                        bbs_compress::shown(o),
                        users[0].label()
                    )));
                }
            }
        } else if PASS_THROUGH.contains(&op) {
            if position != 0 {
                return Err(walk.err(format!(
                    "node {}: the sequence is its input {position}, not its data input",
                    n.label()
                )));
            }
            host.pass_through.push(n.label());
        } else {
            items.push(Item::Host(host_step(&walk, n, position, &mut features)?));
        }
        cur = n
            .outputs
            .first()
            .map(String::as_str)
            .ok_or_else(|| walk.err(format!("node {} has no output", n.label())))?;
    }
    let Some(first) = items.iter().position(|i| matches!(i, Item::Layer(..))) else {
        return Err(
            walk.err("no LSTM or GRU node on the path from the graph's input to its output")
        );
    };
    host.folded = fold_affine_steps(&mut items, first);
    let last = items
        .iter()
        .rposition(|i| matches!(i, Item::Layer(..)))
        .expect("a layer");
    // The accelerator's span: the recurrent layers, the dense layers
    // between them, and those right before and after them.
    let start = (0..=first)
        .find(|&j| dense_run(&items, j, first).is_some())
        .expect("an empty run decomposes");
    let mut layers = Vec::new();
    let mut tensors = Vec::new();
    let mut i = start;
    while i < items.len() {
        if let Item::Layer(l, t, _) = &items[i] {
            layers.push((**l).clone());
            tensors.push(t.clone());
            i += 1;
        } else if let Some((len, l, t)) = dense_group(&items, i) {
            layers.push(l);
            tensors.push(t);
            i += len;
        } else if let Some((l, t)) = act_after_recurrent(&items, i) {
            layers.push(l);
            tensors.push(t);
            i += 1;
        } else if i < last {
            let Item::Host(h) = &items[i] else {
                unreachable!()
            };
            return Err(walk.err(format!(
                "node {}: runs on the host but sits between recurrent layers; the accelerator runs its layers back to back, with only dense layers (Gemm/MatMul, a bias Add, Sigmoid/Tanh/Relu), activations, constant arithmetic folded into the next layer and shape-only nodes between them",
                h.node
            )));
        } else {
            break;
        }
    }
    let host_step_of = |it: &Item| match it {
        Item::Host(h) => h.clone(),
        Item::Layer(..) => unreachable!("layers are in the span"),
    };
    host.before = items[..start].iter().map(host_step_of).collect();
    host.after = items[i..].iter().map(host_step_of).collect();
    let reverse = directions[0].1;
    if let Some((label, _)) = directions.iter().find(|(_, r)| *r != reverse) {
        return Err(walk.err(format!(
            "node {label}: runs {} while {} runs {}; bbs runs every recurrent layer in one direction (all forward, or all reverse with the host reversing the sequence)",
            if reverse { "forward" } else { "reverse" },
            directions[0].0,
            if reverse { "reverse" } else { "forward" },
        )));
    }
    host.reverse = reverse;
    let input_features = match host.before.first() {
        Some(HostStep {
            op: HostOp::Dense { inputs, .. },
            ..
        }) => *inputs,
        _ => layers[0].w_ih.ncols(),
    };
    Ok(Imported {
        input: input_features,
        output: features.expect("a layer sets the features"),
        layers,
        tensors,
        host,
    })
}

/// The graph's nodes in chain order: a recurrent layer, or a step the host
/// could compute (a dense one may move to the accelerator).
enum Item {
    /// With its node's label.
    Layer(Box<FloatLayer>, LayerTensors, String),
    Host(HostStep),
}

/// A step `y = x op c` with a constant as `y_j = scale_j x_j + shift_j`
/// over `n` features, if it is one (`c / x` is not).
fn affine(op: &HostOp, n: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    let HostOp::Elementwise {
        func,
        constant,
        constant_first,
    } = op
    else {
        return None;
    };
    let c = |j: usize| f64::from(constant[if constant.len() == 1 { 0 } else { j }]);
    let per = |f: &dyn Fn(usize) -> (f64, f64)| -> (Vec<f64>, Vec<f64>) { (0..n).map(f).unzip() };
    Some(match (func, constant_first) {
        (Binary::Add, _) => per(&|j| (1.0, c(j))),
        (Binary::Sub, false) => per(&|j| (1.0, -c(j))),
        (Binary::Sub, true) => per(&|j| (-1.0, c(j))),
        (Binary::Mul, _) => per(&|j| (c(j), 0.0)),
        (Binary::Div, false) => per(&|j| (1.0 / c(j), 0.0)),
        (Binary::Div, true) => return None,
    })
}

/// Folds each `Add`/`Sub`/`Mul`/`Div` by a constant that follows a
/// recurrent layer and feeds a linear one (a recurrent layer's input
/// product, or a dense step) into that layer, as streamlining does in
/// FINN: `W (s x + c) + b = (W diag s) x + (W c + b)`, exact in float and
/// done before pruning, so the pruning sees the weights the machine
/// multiplies by. The step then costs the machine nothing and no longer
/// stands between two accelerated layers. Returns what it folded.
fn fold_affine_steps(items: &mut Vec<Item>, first: usize) -> Vec<String> {
    let mut folded = Vec::new();
    let mut i = items.len().saturating_sub(1);
    while i > first + 1 {
        i -= 1;
        let (head, tail) = items.split_at_mut(i + 1);
        let Item::Host(step) = &head[i] else { continue };
        let (w, bias, into, stored) = match &mut tail[0] {
            Item::Layer(l, t, label) => (&mut l.w_ih, &mut l.b_ih, label.clone(), &mut t.stored),
            Item::Host(HostStep {
                node,
                op: HostOp::Dense { bias, .. },
                matrix: Some(w),
                stored,
                ..
            }) => (w, bias, node.clone(), stored),
            Item::Host(_) => continue,
        };
        let Some((scale, shift)) = affine(&step.op, w.ncols()) else {
            continue;
        };
        for (mut row, b) in w.rows_mut().into_iter().zip(bias.iter_mut()) {
            let moved: f64 = row
                .iter()
                .zip(&shift)
                .map(|(&w, &c)| f64::from(w) * c)
                .sum();
            *b = (f64::from(*b) + moved) as f32;
            for (w, &s) in row.iter_mut().zip(&scale) {
                *w = (f64::from(*w) * s) as f32;
            }
        }
        let label = step.node.clone();
        if scale.iter().any(|&s| s != 1.0) {
            *stored = StoredRows::Other(format!(
                "holds the weights before {label} was folded into them"
            ));
        }
        folded.push(format!("{label} into {into}"));
        items.remove(i);
    }
    folded.reverse();
    folded
}

/// A `Sigmoid`, `Tanh` or `Relu` right after a recurrent layer, as a dense layer
/// whose matrix is the identity: the machine's ACT unit reads what an
/// SpMxV wrote, and the identity, bank-balanced with one slot per bank,
/// costs the PEs a cycle per row block (`x * 1.0` is exact wherever the
/// format holds 1.0, every format with an integer bit).
fn act_after_recurrent(items: &[Item], i: usize) -> Option<(FloatLayer, LayerTensors)> {
    let act = match items.get(i)? {
        Item::Host(HostStep {
            op: HostOp::Sigmoid,
            ..
        }) => ActFn::Sigmoid,
        Item::Host(HostStep {
            op: HostOp::Tanh, ..
        }) => ActFn::Tanh,
        Item::Host(HostStep {
            op: HostOp::Relu, ..
        }) => ActFn::Relu,
        _ => return None,
    };
    let Item::Layer(prev, ..) = items.get(i.checked_sub(1)?)? else {
        return None;
    };
    let n = prev.w_hh.ncols();
    let t = LayerTensors {
        w_ih: String::new(),
        w_hh: String::new(),
        b_ih: None,
        b_hh: None,
        w_hr: None,
        stored: StoredRows::Identity { size: n },
    };
    Some((
        FloatLayer::dense(Array2::eye(n), vec![0.0; n], Some(act)),
        t,
    ))
}

/// A dense layer the accelerator runs from `items[i]`: a dense step, then
/// optionally an `Add` (or `Sub`) of a constant as its bias, then optionally
/// `Sigmoid`, `Tanh` or `Relu`. Returns the items it takes, the layer and its
/// tensor names.
fn dense_group(items: &[Item], i: usize) -> Option<(usize, FloatLayer, LayerTensors)> {
    let Some(Item::Host(HostStep {
        op: HostOp::Dense { bias, .. },
        matrix: Some(w),
        tensor,
        stored,
        ..
    })) = items.get(i)
    else {
        return None;
    };
    let mut bias = bias.clone();
    let mut len = 1;
    if let Some(Item::Host(HostStep {
        op:
            HostOp::Elementwise {
                func: func @ (Binary::Add | Binary::Sub),
                constant,
                constant_first,
            },
        ..
    })) = items.get(i + len)
    {
        if !(*func == Binary::Sub && *constant_first) {
            let sign = if *func == Binary::Sub { -1.0 } else { 1.0 };
            for (j, b) in bias.iter_mut().enumerate() {
                *b += sign * constant[if constant.len() == 1 { 0 } else { j }];
            }
            len += 1;
        }
    }
    let act = match items.get(i + len) {
        Some(Item::Host(HostStep {
            op: HostOp::Sigmoid,
            ..
        })) => Some(ActFn::Sigmoid),
        Some(Item::Host(HostStep {
            op: HostOp::Tanh, ..
        })) => Some(ActFn::Tanh),
        Some(Item::Host(HostStep {
            op: HostOp::Relu, ..
        })) => Some(ActFn::Relu),
        _ => None,
    };
    len += usize::from(act.is_some());
    let t = LayerTensors {
        w_ih: tensor.clone().unwrap_or_default(),
        w_hh: String::new(),
        b_ih: None,
        b_hh: None,
        w_hr: None,
        stored: stored.clone(),
    };
    Some((len, FloatLayer::dense(w.clone(), bias, act), t))
}

/// Whether `items[from..to]` is a run of dense groups (empty included).
fn dense_run(items: &[Item], from: usize, to: usize) -> Option<()> {
    let mut i = from;
    while i < to {
        let (len, ..) = dense_group(items, i)?;
        i += len;
    }
    (i == to).then_some(())
}

/// An `LSTM`/`GRU` node as a layer in the machine's gate order; and whether
/// it runs in reverse.
fn recurrent(
    w: &Walk,
    n: &GraphNode,
    features: Option<usize>,
) -> Result<(FloatLayer, LayerTensors, bool)> {
    let lstm = n.op == "LSTM";
    let gates = if lstm { 4 } else { 3 };
    let label = n.label();
    let bad = |msg: String| w.err(format!("node {label}: {msg}"));
    let reverse = match n.string("direction").unwrap_or("forward") {
        "forward" => false,
        "reverse" => true,
        "bidirectional" => {
            return Err(bad(
                "direction \"bidirectional\" is not supported: its two directions need the whole sequence before the first output (run the reverse direction as its own graph)".into(),
            ))
        }
        d => return Err(bad(format!("direction {d:?} is not forward, reverse or bidirectional"))),
    };
    if n.attr("clip").is_some() {
        return Err(bad(
            "attribute clip: cell clipping is not supported (the machine saturates to its fixed-point format instead)".into(),
        ));
    }
    if n.int("input_forget").unwrap_or(0) != 0 {
        return Err(bad(
            "attribute input_forget = 1 (coupled input and forget gates) is not supported".into(),
        ));
    }
    if !matches!(n.int("layout").unwrap_or(0), 0 | 1) {
        return Err(bad(format!(
            "attribute layout = {} is not 0 or 1",
            n.int("layout").unwrap_or(0)
        )));
    }
    let defaults: &[&str] = if lstm {
        &["Sigmoid", "Tanh", "Tanh"]
    } else {
        &["Sigmoid", "Tanh"]
    };
    if let Some(acts) = n.strings("activations") {
        if acts.len() != defaults.len() || acts.iter().zip(defaults).any(|(a, d)| a != d) {
            return Err(bad(format!(
                "attribute activations {acts:?}: the machine's activation unit computes {defaults:?} only"
            )));
        }
    }
    if !lstm && n.int("linear_before_reset").unwrap_or(0) != 1 {
        return Err(bad(
            "linear_before_reset = 0: the machine computes the candidate as PyTorch does, r * (R_h h + Rb_h) (linear_before_reset = 1); export the GRU with it".into(),
        ));
    }
    if n.input(4).is_some() {
        return Err(bad("input sequence_lens: variable sequence lengths are not supported; bbs runs one sequence at a time".into()));
    }
    for (i, what) in [(5, "initial_h"), (6, "initial_c")] {
        if (i == 5 || lstm) && !w.zero_state(n.input(i)) {
            return Err(bad(format!(
                "input {what}: a nonzero or computed initial state is not supported (the machine starts from zero)"
            )));
        }
    }
    if lstm && n.input(7).is_some() {
        return Err(bad("input P: peephole connections are not supported".into()));
    }
    let (wd, wv) = w.floats(n, 1)?;
    let (rd, rv) = w.floats(n, 2)?;
    let &[1, wrows, cols] = wd.as_slice() else {
        return Err(bad(format!(
            "W has shape {wd:?}, not [1, {gates}*hidden, input]"
        )));
    };
    let hidden = wrows / gates;
    if hidden == 0 || wrows % gates != 0 {
        return Err(bad(format!(
            "W has shape {wd:?}: {wrows} rows are not {gates} gates"
        )));
    }
    if rd != [1, wrows, hidden] {
        return Err(bad(format!(
            "R has shape {rd:?}, not [1, {wrows}, {hidden}]"
        )));
    }
    if let Some(h) = n.int("hidden_size") {
        if usize::try_from(h).ok() != Some(hidden) {
            return Err(bad(format!(
                "hidden_size {h}, but W holds {gates} x {hidden} rows"
            )));
        }
    }
    if let Some(f) = features {
        if f != cols {
            return Err(bad(format!(
                "takes {cols} features per frame, the tensor before it has {f}"
            )));
        }
    }
    let b = match n.input(3) {
        Some(_) => {
            let (bd, bv) = w.floats(n, 3)?;
            if bd != [1, 2 * wrows] {
                return Err(bad(format!("B has shape {bd:?}, not [1, {}]", 2 * wrows)));
            }
            bv
        }
        None => vec![0.0; 2 * wrows],
    };
    // ONNX's gate blocks in the machine's (PyTorch's) order.
    let order: &[usize] = if lstm { &[0, 2, 3, 1] } else { &[1, 0, 2] };
    let rows = |v: &[f32], width: usize| -> Array2<f32> {
        Array2::from_shape_fn((wrows, width), |(r, c)| {
            let (gate, j) = (r / hidden, r % hidden);
            v[(order[gate] * hidden + j) * width + c]
        })
    };
    let bias = |v: &[f32]| -> Vec<f32> {
        (0..wrows)
            .map(|r| v[order[r / hidden] * hidden + r % hidden])
            .collect()
    };
    let name = |i: usize| format!("{}[0]", n.inputs[i]);
    let layer = FloatLayer {
        kind: if lstm {
            FloatKind::Lstm
        } else {
            FloatKind::Gru
        },
        w_ih: rows(&wv, cols),
        w_hh: rows(&rv, hidden),
        b_ih: bias(&b[..wrows]),
        b_hh: bias(&b[wrows..]),
        w_hr: None,
    };
    let t = LayerTensors {
        w_ih: name(1),
        w_hh: name(2),
        b_ih: n.input(3).map(|b| format!("{b}[0][:{wrows}]")),
        b_hh: n.input(3).map(|b| format!("{b}[0][{wrows}:]")),
        w_hr: None,
        stored: StoredRows::GateBlocks {
            order: order.to_vec(),
            hidden,
        },
    };
    Ok((layer, t, reverse))
}

/// A node the host computes, with the features per frame after it.
fn host_step(
    w: &Walk,
    n: &GraphNode,
    position: usize,
    features: &mut Option<usize>,
) -> Result<HostStep> {
    let label = n.label();
    let bad = |msg: String| w.err(format!("node {label}: {msg}"));
    let chain = |f: &mut Option<usize>, needs: usize| -> Result<()> {
        match *f {
            Some(have) if have != needs => Err(bad(format!(
                "takes {needs} features per frame, the tensor before it has {have}"
            ))),
            _ => {
                *f = Some(needs);
                Ok(())
            }
        }
    };
    let op = match n.op.as_str() {
        "MatMul" | "Gemm" => {
            if position != 0 {
                return Err(bad("the sequence must be its first input (A)".into()));
            }
            if n.int("transA").unwrap_or(0) != 0 {
                return Err(bad("transA = 1 is not supported".into()));
            }
            let (bd, bv) = w.floats(n, 1)?;
            let &[r, c] = bd.as_slice() else {
                return Err(bad(format!("B has shape {bd:?}, not a matrix")));
            };
            let trans_b = n.op == "Gemm" && n.int("transB").unwrap_or(0) != 0;
            let alpha = n.float("alpha").unwrap_or(1.0);
            let beta = n.float("beta").unwrap_or(1.0);
            // W is outputs x inputs: B as it is with transB, else B^T.
            let (outs, ins) = if trans_b { (r, c) } else { (c, r) };
            let matrix = Array2::from_shape_fn((outs, ins), |(o, i)| {
                alpha * if trans_b { bv[o * c + i] } else { bv[i * c + o] }
            });
            chain(features, ins)?;
            let bias = match (n.op == "Gemm").then(|| n.input(2)).flatten() {
                None => vec![0.0; outs],
                Some(_) => {
                    let (cd, cv) = w.floats(n, 2)?;
                    if cv.len() == 1 {
                        vec![beta * cv[0]; outs]
                    } else if cv.len() == outs && cd.iter().rev().skip(1).all(|&d| d == 1) {
                        cv.iter().map(|&v| beta * v).collect()
                    } else {
                        return Err(bad(format!("C has shape {cd:?}; one value or {outs} are needed")));
                    }
                }
            };
            *features = Some(outs);
            return Ok(HostStep {
                node: label.clone(),
                op: HostOp::Dense {
                    inputs: ins,
                    outputs: outs,
                    weight: String::new(),
                    bias,
                },
                matrix: Some(matrix),
                tensor: n.input(1).map(str::to_string),
                stored: if !trans_b {
                    StoredRows::Other(format!(
                        "is stored inputs x outputs ({r} x {c}, y = x B): `bbs prune` balanced its rows, the inputs, and the machine's rows are the outputs"
                    ))
                } else if alpha != 1.0 {
                    StoredRows::Other(format!(
                        "is scaled by {label}'s alpha = {alpha}, which a pruned copy does not hold"
                    ))
                } else {
                    StoredRows::AsIs
                },
            });
        }
        "Add" | "Sub" | "Mul" | "Div" => {
            let other = 1 - position.min(1);
            let (cd, cv) = w.floats(n, other)?;
            if cv.len() != 1 {
                if cd.iter().rev().skip(1).any(|&d| d != 1) {
                    return Err(bad(format!(
                        "the constant has shape {cd:?}; one value or one per feature is needed"
                    )));
                }
                chain(features, cv.len())?;
            }
            HostOp::Elementwise {
                func: match n.op.as_str() {
                    "Add" => Binary::Add,
                    "Sub" => Binary::Sub,
                    "Mul" => Binary::Mul,
                    _ => Binary::Div,
                },
                constant: cv,
                constant_first: other == 0,
            }
        }
        "Relu" => HostOp::Relu,
        "Sigmoid" => HostOp::Sigmoid,
        "Tanh" => HostOp::Tanh,
        "Softmax" | "LogSoftmax" => {
            if !matches!(n.int("axis"), None | Some(-1)) {
                return Err(bad("only axis = -1 (over the features) is supported".into()));
            }
            if n.op == "Softmax" {
                HostOp::Softmax
            } else {
                HostOp::LogSoftmax
            }
        }
        other => {
            return Err(bad(format!(
                "op {other} runs neither on the accelerator (LSTM, GRU) nor on the host ({HOST_OPS}; shape-only: {})",
                PASS_THROUGH.join(", ")
            )))
        }
    };
    Ok(HostStep {
        node: label,
        op,
        matrix: None,
        tensor: None,
        stored: StoredRows::AsIs,
    })
}

/// Checks a manifest's host steps after loading: a dense step's weight has
/// the shape it claims.
pub fn check_loaded(steps: &[HostStep]) -> Result<()> {
    for s in steps {
        if let HostOp::Dense {
            inputs,
            outputs,
            bias,
            weight,
        } = &s.op
        {
            let m = s
                .matrix
                .as_ref()
                .ok_or_else(|| anyhow!("{}: weight not loaded", s.node))?;
            if m.dim() != (*outputs, *inputs) || bias.len() != *outputs {
                bail!(
                    "{weight}: {} is {:?} with {} biases, the manifest says {outputs} x {inputs}",
                    s.node,
                    m.dim(),
                    bias.len()
                );
            }
        }
    }
    Ok(())
}
