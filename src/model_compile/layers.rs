//! The recurrent layers of a PyTorch-style state dict, found by tensor
//! names, and how a model stores their rows.

use anyhow::{bail, Result};
use bbs_compress::{list_tensors, read_matrix, read_named_vector, Vector};
use bbs_sim::workloads::{FloatKind, FloatLayer};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The names one family of state dicts gives a layer's tensors.
struct Names {
    w_ih: &'static str,
    w_hh: &'static str,
    b_ih: &'static str,
    b_hh: &'static str,
    w_hr: Option<&'static str>,
}

const FAMILIES: [Names; 2] = [
    Names {
        w_ih: "weight_ih",
        w_hh: "weight_hh",
        b_ih: "bias_ih",
        b_hh: "bias_hh",
        w_hr: Some("weight_hr"),
    },
    Names {
        w_ih: "w_ih",
        w_hh: "w_hh",
        b_ih: "b_ih",
        b_hh: "b_hh",
        w_hr: None,
    },
];

/// The tensors of one layer, by role.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LayerTensors {
    /// A dense layer's matrix.
    pub w_ih: String,
    /// Empty for a dense layer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub w_hh: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b_ih: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b_hh: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub w_hr: Option<String>,
    /// How the model stores these matrices against the machine's rows, so
    /// that `--pruned` can reuse a `bbs prune` result of it.
    #[serde(skip)]
    pub stored: StoredRows,
}

/// How a layer's stored matrix (as `bbs prune` prunes it, row by row) maps
/// to the machine's rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum StoredRows {
    /// Row r of the tensor is the machine's row r (state dicts: PyTorch's
    /// gate order is the machine's).
    #[default]
    AsIs,
    /// An ONNX `LSTM`/`GRU`'s W and R: the machine's gate block g is the
    /// tensor's block `order[g]` (ONNX orders the gates i,o,f,c and z,r,h).
    /// Each row is pruned on its own, so reordering whole rows is exact.
    GateBlocks { order: Vec<usize>, hidden: usize },
    /// A tensor whose rows are not the machine's, and why.
    Other(String),
    /// No tensor: the `size` x `size` identity through which a standalone
    /// `Sigmoid`/`Tanh` reaches the ACT unit, pruned to one slot per bank
    /// (all it holds) whatever `--sparsity` says.
    Identity { size: usize },
}

impl StoredRows {
    /// The tensor's row behind each of the machine's `rows` rows.
    pub(super) fn machine_order(&self, rows: usize) -> Option<Vec<usize>> {
        match self {
            StoredRows::GateBlocks { order, hidden } if rows == order.len() * hidden => Some(
                (0..rows)
                    .map(|r| order[r / hidden] * hidden + r % hidden)
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// The recurrent layers of `model` under one prefix, in stacking order.
pub fn find_layers(model: &Path, prefix: Option<&str>) -> Result<Vec<LayerTensors>> {
    let tensors: BTreeMap<String, Vec<usize>> = list_tensors(model)?.into_iter().collect();
    // (prefix, family, layer number or None for a cell).
    let mut found: Vec<(String, usize, Option<usize>)> = Vec::new();
    for name in tensors.keys() {
        for (f, fam) in FAMILIES.iter().enumerate() {
            let Some(at) = name.rfind(fam.w_ih) else {
                continue;
            };
            let (pre, rest) = (&name[..at], &name[at + fam.w_ih.len()..]);
            let layer = if rest.is_empty() {
                None
            } else if let Some(k) = rest.strip_prefix("_l") {
                if k.ends_with("_reverse") {
                    bail!(
                        "{}: tensor {name}: reverse and bidirectional layers are not supported yet",
                        model.display()
                    );
                }
                match k.parse::<usize>() {
                    Ok(k) => Some(k),
                    Err(_) => continue,
                }
            } else {
                continue;
            };
            found.push((pre.to_string(), f, layer));
        }
    }
    let mut prefixes: Vec<&str> = found.iter().map(|(p, _, _)| p.as_str()).collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    let chosen = match prefix {
        Some(p) => {
            if !prefixes.contains(&p) {
                bail!(
                    "{}: --prefix {p:?}: no recurrent layer has it (prefixes: {})",
                    model.display(),
                    shown_prefixes(&prefixes)
                );
            }
            p.to_string()
        }
        None => match prefixes.as_slice() {
            [] => bail!(
                "{}: holds no recurrent layer (tensors named [prefix]weight_ih[_l<k>] or [prefix]w_ih)",
                model.display()
            ),
            [p] => p.to_string(),
            _ => bail!(
                "{}: holds recurrent layers under several prefixes ({}): pick one with --prefix",
                model.display(),
                shown_prefixes(&prefixes)
            ),
        },
    };
    let mut mine: Vec<(usize, Option<usize>)> = found
        .iter()
        .filter(|(p, _, _)| *p == chosen)
        .map(|&(_, f, l)| (f, l))
        .collect();
    mine.sort_by_key(|&(_, l)| l);
    if mine.iter().any(|&(_, l)| l.is_none()) && mine.len() > 1 {
        bail!(
            "{}: prefix {chosen:?} has a cell and numbered layers; name one network",
            model.display()
        );
    }
    let mut out = Vec::new();
    for (k, &(f, l)) in mine.iter().enumerate() {
        if l.is_some_and(|l| l != k) {
            bail!(
                "{}: prefix {chosen:?}: layer {k} is missing ({}{}_l{k})",
                model.display(),
                chosen,
                FAMILIES[f].w_ih
            );
        }
        let fam = &FAMILIES[f];
        let suffix = l.map_or(String::new(), |l| format!("_l{l}"));
        let name = |role: &str| format!("{chosen}{role}{suffix}");
        let present = |role: &str| Some(name(role)).filter(|n| tensors.contains_key(n));
        let w_hh = name(fam.w_hh);
        if !tensors.contains_key(&w_hh) {
            bail!(
                "{}: {} has no {w_hh} beside it",
                model.display(),
                name(fam.w_ih)
            );
        }
        out.push(LayerTensors {
            w_ih: name(fam.w_ih),
            w_hh,
            b_ih: present(fam.b_ih),
            b_hh: present(fam.b_hh),
            w_hr: fam.w_hr.and_then(present),
            stored: StoredRows::AsIs,
        });
    }
    Ok(out)
}

fn shown_prefixes(p: &[&str]) -> String {
    p.iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One layer's float weights, its kind from the shapes.
pub(super) fn read_layer(model: &Path, t: &LayerTensors) -> Result<FloatLayer> {
    let w_ih = read_matrix(model, Some(&t.w_ih))?;
    let w_hh = read_matrix(model, Some(&t.w_hh))?;
    let w_hr = t
        .w_hr
        .as_deref()
        .map(|n| read_matrix(model, Some(n)))
        .transpose()?;
    let hidden = w_hr.as_ref().map_or(w_hh.ncols(), Array2::ncols);
    let rows = w_hh.nrows();
    let kind = match (rows / hidden.max(1), rows % hidden.max(1)) {
        (4, 0) => FloatKind::Lstm,
        (3, 0) if w_hr.is_none() => FloatKind::Gru,
        _ => bail!(
            "{}: {}: {rows} rows are not 4 (LSTM) or 3 (GRU) times the hidden size {hidden}",
            model.display(),
            t.w_hh
        ),
    };
    if w_ih.nrows() != rows {
        bail!(
            "{}: {} has {} rows, {} has {rows}",
            model.display(),
            t.w_ih,
            w_ih.nrows(),
            t.w_hh
        );
    }
    let bias = |name: &Option<String>| -> Result<Vec<f32>> {
        let Some(n) = name else {
            return Ok(vec![0.0; rows]);
        };
        match read_named_vector(model, n)? {
            Vector::Float(v) if v.len() == rows => Ok(v.to_vec()),
            Vector::Float(v) => bail!(
                "{}: {n}: {} values, the layer has {rows} gate rows",
                model.display(),
                v.len()
            ),
            Vector::Fixed(_) => bail!("{}: {n}: not floating point", model.display()),
        }
    };
    Ok(FloatLayer {
        kind,
        b_ih: bias(&t.b_ih)?,
        b_hh: bias(&t.b_hh)?,
        w_ih: w_ih.to_owned(),
        w_hh: w_hh.to_owned(),
        w_hr,
    })
}
