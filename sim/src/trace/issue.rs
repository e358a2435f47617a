//! The overlapped machine's issue stage, edge by edge: for every unit with
//! an issue list (`overlap::tables::issue_units`: DMA in, DMA out, vector
//! load, PE array, EWOP, ACT), `advance` (the unit starts its head
//! instruction in this cycle) and `head_valid` (its list has an instruction
//! left), as `bbs_top` (templates/overlap/bbs_top.v) names them in
//! `tb_bbs.dut`, one bit per unit. The starts are the cycle model's
//! ([`crate::overlap::tables::dispatches`]); the testbench runs every
//! frame from one start. Edge 0 has the reset state (no unit valid): in
//! the RTL it samples the registers before the reset acts (Verilator's
//! zeros, unknown in a four-state simulator).

use super::{TraceError, TraceSignal, Waveform};
use crate::config::Config;
use crate::machine::{Machine, Program};
use crate::overlap::tables::{self, Dispatch};
use bbs_compress::Csb;

/// `bbs_top`'s scope in `tb_bbs`'s dump.
pub const TOP_SCOPE: &[&str] = &["tb_bbs", "dut"];

/// The issue stage's waveform over one start of `frames` frames.
#[derive(Clone, Debug, PartialEq)]
pub struct IssueTrace {
    /// `advance` and `head_valid`, from edge 0.
    pub signals: Vec<TraceSignal>,
    /// The edge that samples the start.
    pub start_edge: u64,
    /// Cycles from the start to the edge that sees the last frame done.
    pub cycles: u64,
    pub dispatches: Vec<Dispatch>,
}

impl IssueTrace {
    pub fn edge_count(&self) -> usize {
        self.signals.first().map_or(0, |s| s.values.len())
    }
}

impl Waveform for IssueTrace {
    fn comment(&self) -> String {
        format!(
            "overlapped machine: start edge {}, {} cycles, {} starts",
            self.start_edge,
            self.cycles,
            self.dispatches.len()
        )
    }
    fn signals(&self) -> &[TraceSignal] {
        &self.signals
    }
}

/// The issue stage of `cfg` (`overlap.units`) running `frames` frames of
/// `program` from one start sampled at `start_edge`, up to the edge that
/// sees the last frame done (or one past the last start, if later).
pub fn issue_trace(
    cfg: &Config,
    matrices: &[Csb],
    program: &Program,
    frames: usize,
    start_edge: u64,
) -> Result<IssueTrace, TraceError> {
    if !cfg.overlap.units {
        return Err(TraceError::Invalid(
            "the issue stage is the overlapped machine's (overlap.units)".into(),
        ));
    }
    let machine = Machine::new(cfg, matrices.to_vec())?;
    // A program written without waits gets the compiler's.
    let program = machine.with_waits(program.clone());
    machine.validate(&program)?;
    let dispatches = tables::dispatches(&machine, &program, frames);
    let cycles: u64 = machine.frame_cycles(&program, frames).iter().sum();
    let units = tables::issue_units(cfg).len();
    let last = dispatches.iter().map(|d| d.cycle).max().unwrap_or(0);
    let edges = (start_edge + cycles.max(last as u64 + 1)) as usize + 1;
    let mut advance = vec![0u64; edges];
    let mut valid = vec![0u64; edges];
    for d in &dispatches {
        let at = start_edge as usize + d.cycle as usize;
        advance[at] |= 1 << d.unit;
    }
    for u in 0..units {
        if let Some(end) = dispatches
            .iter()
            .filter(|d| d.unit == u)
            .map(|d| d.cycle)
            .max()
        {
            let from = start_edge as usize;
            for v in &mut valid[from..=from + end as usize] {
                *v |= 1 << u;
            }
        }
    }
    let signal = |name, values| TraceSignal {
        scope: TOP_SCOPE,
        name,
        width: units as u32,
        values,
    };
    Ok(IssueTrace {
        signals: vec![signal("advance", advance), signal("head_valid", valid)],
        start_edge,
        cycles,
        dispatches,
    })
}
