//! The overlapped machine: units that work at the same time wherever the
//! data allows (docs/architecture.md, "The overlapped machine").
//!
//! - [`access`]: when an instruction touches each vector-memory element,
//!   relative to its start (the per-element form of [`crate::arch::timing`]);
//! - [`waits`]: the program generator's hazard pass, which writes into every
//!   instruction the earlier instructions it waits for;
//! - [`schedule`]: the cycle model (each unit in program order, waits obeyed)
//!   and the validator's check that no read overtakes its write;
//! - [`regions`]: the vector memory split among its writers, one writer
//!   per part;
//! - [`tables`]: the issue lists and the wait table as the RTL reads them.
//!
//! With `overlap.units = false` none of this runs: the machine is the
//! serialized one, instruction after instruction.

pub mod access;
pub mod compile;
pub mod regions;
pub mod schedule;
pub mod tables;
pub mod waits;

pub use tables::MAX_WAITS;

use serde::{Deserialize, Serialize};

/// The order a wait keeps between two instructions touching one element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hazard {
    /// Read after write: this instruction's read anchor waits for the
    /// other's write anchor.
    Raw,
    /// Write after read: this instruction's write anchor waits for the
    /// other's read anchor.
    War,
    /// Write after write: write anchor after write anchor.
    Waw,
}

/// One wait of an instruction: its anchor (read or write, by `hazard`) is
/// at least `after` cycles past the other instruction's anchor. `after`
/// may come out zero or negative (a consumer that reads an element late in
/// its run could start with its producer), but the issue stage meets a wait
/// at the earliest one cycle after the anchor it names: it learns of a
/// start from a register ([`schedule`], docs/architecture.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wait {
    pub instr: usize,
    /// The instruction of the previous frame (the program is a frame loop).
    pub previous_frame: bool,
    pub hazard: Hazard,
    pub after: i64,
}

/// One entry of a program's issue order: instruction `instr` of this frame,
/// or, with `next_frame`, of the frame after (software pipelining: the next
/// frame's input product runs while this frame finishes). The machine
/// computes every frame's values in program order; the issue order only
/// says in which order the units take the instructions, and the validator
/// checks that no value read or written comes out different.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub instr: usize,
    pub next_frame: bool,
}

/// The issue order of a program of `n` instructions: `issue`, or program
/// order when it is empty.
pub fn issue_order(issue: &[Issue], n: usize) -> Vec<Issue> {
    if issue.is_empty() {
        (0..n)
            .map(|instr| Issue {
                instr,
                next_frame: false,
            })
            .collect()
    } else {
        issue.to_vec()
    }
}

/// `(frame, instruction)` in the order the units take them over `frames`
/// frames: first the instructions frame 0 issues ahead, then each frame's
/// issue order (its `next_frame` entries belong to the frame after; those
/// of the last frame are left out: no frame follows).
pub fn issue_sequence(issue: &[Issue], n: usize, frames: usize) -> Vec<(usize, usize)> {
    let order = issue_order(issue, n);
    let mut seq: Vec<(usize, usize)> = order
        .iter()
        .filter(|s| s.next_frame)
        .map(|s| (0, s.instr))
        .collect();
    for f in 0..frames {
        for s in &order {
            if !s.next_frame {
                seq.push((f, s.instr));
            } else if f + 1 < frames {
                seq.push((f + 1, s.instr));
            }
        }
    }
    seq
}
