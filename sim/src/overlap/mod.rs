//! The overlapped machine: units that work at the same time wherever the
//! data allows (docs/architecture.md, "The overlapped machine").
//!
//! - [`access`]: when an instruction touches each vector-memory element,
//!   relative to its start (the per-element form of [`crate::arch::timing`]);
//! - [`waits`]: the program generator's hazard pass, which writes into every
//!   instruction the earlier instructions it waits for;
//! - [`schedule`]: the cycle model (each unit in program order, waits obeyed)
//!   and the validator's check that no read overtakes its write.
//!
//! With `overlap.units = false` none of this runs: the machine is the
//! serialized one, instruction after instruction.

pub mod access;
pub mod compile;
pub mod schedule;
pub mod waits;

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
/// may be negative: a consumer that reads an element late in its run may
/// start before the producer has written it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wait {
    pub instr: usize,
    /// The instruction of the previous frame (the program is a frame loop).
    pub previous_frame: bool,
    pub hazard: Hazard,
    pub after: i64,
}
