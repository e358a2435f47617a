//! The accelerator's instruction stream: what the controller executes from
//! its instruction buffer. Instructions run one after another; each names
//! regions of the vector memory (element addresses).

use crate::act::ActFn;
use serde::{Deserialize, Serialize};

/// `len` consecutive elements of the vector memory from `base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub base: usize,
    pub len: usize,
}

impl Region {
    pub fn new(base: usize, len: usize) -> Region {
        Region { base, len }
    }
    pub fn end(&self) -> usize {
        self.base + self.len
    }
    /// The sub-region `[offset, offset + len)` of this one.
    pub fn slice(&self, offset: usize, len: usize) -> Region {
        debug_assert!(offset + len <= self.len);
        Region::new(self.base + offset, len)
    }
}

/// Element-wise operations of the EWOP unit, in Q(W.F) with saturation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EwOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`, rounded half up back to F fraction bits
    Mul,
    /// `a` (b unused)
    Copy,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Instr {
    /// DMA from the host into the vector memory (the next input of the host queue).
    Load { dst: Region },
    /// DMA from the vector memory to the host.
    Store { src: Region },
    /// `dst = W[matrix] * src` on the PE array.
    Spmv {
        matrix: usize,
        src: Region,
        dst: Region,
    },
    /// `dst = a op b` on the EWOP unit.
    Ewop {
        func: EwOp,
        a: Region,
        b: Region,
        dst: Region,
    },
    /// `dst = f(src)` on the ACT unit.
    Act {
        func: ActFn,
        src: Region,
        dst: Region,
    },
}

impl Instr {
    pub fn name(&self) -> &'static str {
        match self {
            Instr::Load { .. } => "load",
            Instr::Store { .. } => "store",
            Instr::Spmv { .. } => "spmv",
            Instr::Ewop { .. } => "ewop",
            Instr::Act { .. } => "act",
        }
    }

    /// The regions read, with the field that names each.
    pub fn reads(&self) -> Vec<(&'static str, Region)> {
        match *self {
            Instr::Load { .. } => vec![],
            Instr::Store { src } => vec![("src", src)],
            Instr::Spmv { src, .. } => vec![("src", src)],
            Instr::Ewop {
                func: EwOp::Copy,
                a,
                ..
            } => vec![("a", a)],
            Instr::Ewop { a, b, .. } => vec![("a", a), ("b", b)],
            Instr::Act { src, .. } => vec![("src", src)],
        }
    }

    /// The region written, if any.
    pub fn writes(&self) -> Option<Region> {
        match *self {
            Instr::Load { dst }
            | Instr::Spmv { dst, .. }
            | Instr::Ewop { dst, .. }
            | Instr::Act { dst, .. } => Some(dst),
            Instr::Store { .. } => None,
        }
    }
}
