//! ONNX models: the weight initializers, read by walking the protobuf wire
//! format directly, and patched in place for writing.
//!
//! This module says what the initializers are: which of them are weight
//! matrices, from the nodes that use them (MatMul/Gemm inputs; LSTM/GRU W
//! and R, split per direction with their gate layout; any other 2-D float
//! initializer not used as a bias or state), as candidates for
//! [`crate::read_matrices`] and [`crate::write_like`]. The wire format, the
//! few messages and fields read, and the in-place patching are in
//! `proto.rs`, which knows nothing of weights; [`fixture`] builds small
//! models for tests.

use std::borrow::Cow;
use std::path::Path;

use crate::error::{Error, Result};

use super::select::{cand_of, Cand, Src};
use super::tensor::{tensor_err, Dt, GateInfo, TensorRef};

pub mod data_type;
pub mod fixture;
mod graph;
mod proto;

pub use graph::{read_graph, AttrValue, Constant, Graph, GraphNode};

pub(crate) use proto::{patch, Model};
use proto::{Init, Msg};

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

/// Parses `bytes` as an ONNX model, with the path in the error.
pub(crate) fn open_onnx(bytes: &[u8], path: &Path) -> Result<Model> {
    proto::parse(bytes)
        .map_err(|msg| Error::file(path, format!("not a readable ONNX model: {msg}")))
}

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
