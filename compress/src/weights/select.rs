//! Choosing tensors: every format turns its tensors into candidates
//! ([`Cand`]: a usable matrix and where its bytes are, or why it is not one),
//! and the readers and [`super::rewrite`] pick among them by exact name or
//! glob here, so selection and its errors are the same for every format.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};

use super::decode::{matrix_check, to_matrix, to_matrix_at};
use super::tensor::{not_found, DType, Dt, GateInfo, NamedMatrix, TensorRef};

/// A tensor that [`read_matrices`](crate::read_matrices) or
/// [`write_like`](crate::write_like) may select.
pub(crate) struct Cand<'a> {
    pub name: String,
    /// ONNX split tensors (`W[0]`) also answer to their initializer's name.
    pub base: Option<String>,
    /// Not a usable matrix: the error, and whether reading all tensors must
    /// fail on it (`true`: a corrupt tensor or unreadable weight) or skip it
    /// (`false`: a vector, an integer table, ...).
    pub status: std::result::Result<Src<'a>, (Error, bool)>,
}

impl Cand<'_> {
    pub(crate) fn err(name: &str, e: Error, hard: bool) -> Self {
        Cand {
            name: name.to_string(),
            base: None,
            status: Err((e, hard)),
        }
    }
}

/// A usable matrix and where its bytes are.
pub(crate) struct Src<'a> {
    pub tref: TensorRef<'a>,
    pub gates: Option<GateInfo>,
    pub role: Option<String>,
    /// The npz member index or ONNX initializer index (0 otherwise).
    pub unit: usize,
    /// Where the tensor's data starts: in the file (npy, safetensors), in the
    /// npz member, or in the ONNX initializer's data.
    pub offset: usize,
}

pub(crate) fn cand_of<'a>(t: TensorRef<'a>, path: &Path, unit: usize, offset: usize) -> Cand<'a> {
    match matrix_check(&t, path) {
        Ok(()) => Cand {
            name: t.name.clone(),
            base: None,
            status: Ok(Src {
                tref: t,
                gates: None,
                role: None,
                unit,
                offset,
            }),
        },
        Err(e) => Cand::err(&t.name, e, false),
    }
}

/// Shell-style name matching, as `--tensor` and layer rules use it:
/// `*` matches any run of characters, `?` any one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == s[si])) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether [`select_matrices`] may choose the tensor `name` by `select`:
/// every tensor when `select` is empty, else those an entry names or matches.
/// (What is chosen also depends on the tensor: this is all a reader needs
/// to know which tensors' data to read.)
pub(crate) fn selected(select: &[String], name: &str) -> bool {
    select.is_empty() || select.iter().any(|p| glob_match(p, name))
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

pub(crate) fn usable_names(cands: &[Cand]) -> Vec<String> {
    cands
        .iter()
        .filter(|c| c.status.is_ok())
        .map(|c| c.name.clone())
        .collect()
}

/// Picks the candidates `select` asks for (all when empty) and decodes them.
/// With `file` (the mapped file the candidates' data and offsets are in),
/// the data is read from the file rather than through the mapping.
pub(crate) fn select_matrices(
    path: &Path,
    mut cands: Vec<Cand>,
    select: &[String],
    file: Option<&File>,
) -> Result<Vec<NamedMatrix>> {
    cands.sort_by(|a, b| a.name.cmp(&b.name));
    let mut chosen = vec![false; cands.len()];
    if select.is_empty() {
        for (c, cand) in chosen.iter_mut().zip(&cands) {
            *c = !matches!(cand.status, Err((_, false)));
        }
    }
    for pattern in select {
        if is_glob(pattern) {
            let mut any = false;
            for (c, cand) in chosen.iter_mut().zip(&cands) {
                if glob_match(pattern, &cand.name) && !matches!(cand.status, Err((_, false))) {
                    *c = true;
                    any = true;
                }
            }
            if !any {
                return Err(Error::file(
                    path,
                    format!(
                        "pattern '{pattern}' matches no 2-D floating-point tensor; available: {}",
                        usable_names(&cands).join(", ")
                    ),
                ));
            }
        } else {
            let mut any = false;
            for (c, cand) in chosen.iter_mut().zip(&cands) {
                if &cand.name == pattern || cand.base.as_ref() == Some(pattern) {
                    *c = true;
                    any = true;
                }
            }
            if !any {
                return Err(not_found(path, Some(pattern), &usable_names(&cands)));
            }
        }
    }
    let mut out = Vec::new();
    for (cand, chosen) in cands.into_iter().zip(chosen) {
        if !chosen {
            continue;
        }
        let src = cand.status.map_err(|(e, _)| e)?;
        let matrix = match file {
            Some(f) => to_matrix_at(&src.tref, path, f, src.offset)?,
            None => to_matrix(&src.tref, path)?,
        };
        out.push(NamedMatrix {
            name: cand.name,
            dtype: DType::of(*src.tref.dtype.as_ref().unwrap_or(&Dt::F32)),
            matrix,
            gates: src.gates,
            role: src.role,
        });
    }
    Ok(out)
}

/// Chooses a member by name, or the only one when no name is given.
pub(crate) fn pick(
    path: &Path,
    wanted: Option<&str>,
    members: &[(String, String)],
) -> Result<(String, String)> {
    let found = match wanted {
        Some(w) => members.iter().find(|(n, full)| n == w || full == w),
        None if members.len() == 1 => members.first(),
        None => None,
    };
    found
        .cloned()
        .ok_or_else(|| not_found(path, wanted, members.iter().map(|(n, _)| n)))
}
