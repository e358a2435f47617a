//! The overlapped machine's issue stage as the RTL holds it: one issue
//! list per unit and a wait table (docs/architecture.md, "The overlapped
//! machine in RTL"). The hardware generator writes these as `$readmemh`
//! files; the list walk and the wait rule are [`super::schedule`]'s.

use super::access::{Access, Lane};
use super::{issue_order, Wait};
use crate::config::Config;
use crate::machine::{Program, ProgramError};

/// Waits the issue stage checks per instruction (the generator's programs
/// need at most 3, [`super::waits::reduce`]).
pub const MAX_WAITS: usize = 4;
/// Bits of a frame number: one start runs at most `2^16 - 1` frames.
pub const FRAME_WIDTH: usize = 16;
/// Bits of a start cycle; waits compare ages modulo `2^16` (the validator
/// refuses a wait whose instruction starts that long after its anchor).
pub const STAMP_WIDTH: usize = 16;
/// Bits of a wait's `after`.
pub const AFTER_WIDTH: usize = 16;
/// Instructions of an overlapped program at most (the issue stage keeps
/// start cycles per instruction): `memory.instruction_words` is refused above.
pub const MAX_INSTRUCTIONS: usize = 4096;

/// The units with an issue list, in the RTL's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssueUnit {
    DmaIn,
    DmaOut,
    VectorLoad,
    Pe,
    Elementwise,
    Act,
}

impl IssueUnit {
    pub const ALL: [IssueUnit; 6] = [
        IssueUnit::DmaIn,
        IssueUnit::DmaOut,
        IssueUnit::VectorLoad,
        IssueUnit::Pe,
        IssueUnit::Elementwise,
        IssueUnit::Act,
    ];

    /// The list's file name.
    pub fn file(self) -> &'static str {
        match self {
            IssueUnit::DmaIn => "issue_in.hex",
            IssueUnit::DmaOut => "issue_out.hex",
            IssueUnit::VectorLoad => "issue_vload.hex",
            IssueUnit::Pe => "issue_pe.hex",
            IssueUnit::Elementwise => "issue_ew.hex",
            IssueUnit::Act => "issue_act.hex",
        }
    }

    fn takes(self, a: &Access) -> bool {
        match self {
            IssueUnit::DmaIn => a.lane == Lane::DmaIn,
            IssueUnit::DmaOut => a.lane == Lane::DmaOut,
            IssueUnit::VectorLoad | IssueUnit::Pe => a.lane == Lane::VectorLoad,
            IssueUnit::Elementwise => a.lane == Lane::Elementwise,
            IssueUnit::Act => a.lane == Lane::Act,
        }
    }
}

/// Bits of an instruction index in the issue stage.
pub fn instr_width(cfg: &Config) -> usize {
    crate::arith::clog2(cfg.memory.instruction_words) as usize
}

/// Bits of an [`IssueUnit`] number in a wait-table entry.
pub const UNIT_WIDTH: usize = 3;

/// Bits of one wait-table entry ([`wait_entry`]): valid, anchor unit,
/// instruction, previous frame, gates write, after.
pub fn wait_entry_width(cfg: &Config) -> usize {
    3 + UNIT_WIDTH + instr_width(cfg) + AFTER_WIDTH
}

/// The units with an issue list on `cfg`: the first five of
/// [`IssueUnit::ALL`], and ACT with `overlap.act_unit`.
pub fn issue_units(cfg: &Config) -> &'static [IssueUnit] {
    &IssueUnit::ALL[..5 + usize::from(cfg.overlap.units && cfg.overlap.act_unit)]
}

/// Words of a unit's issue list memory: three lengths and up to three
/// segments of `memory.instruction_words` entries.
pub fn list_depth(cfg: &Config) -> usize {
    3 + 3 * cfg.memory.instruction_words
}

/// A unit's issue list: `[P, B, E]`, then the prologue (the entries the
/// first frame issues ahead), the body (the unit's part of the issue
/// order) and the epilogue (the last frame's own entries). An entry is
/// `next_frame << 15 | instruction`.
pub fn issue_list(unit: IssueUnit, acc: &[Access], p: &Program) -> Vec<u16> {
    let body: Vec<u16> = issue_order(&p.issue, acc.len())
        .iter()
        .filter(|s| unit.takes(&acc[s.instr]))
        .map(|s| ((s.next_frame as u16) << 15) | s.instr as u16)
        .collect();
    let pro: Vec<u16> = body.iter().copied().filter(|e| e >> 15 == 1).collect();
    let epi: Vec<u16> = body.iter().copied().filter(|e| e >> 15 == 0).collect();
    let mut list = vec![pro.len() as u16, body.len() as u16, epi.len() as u16];
    list.extend(pro);
    list.extend(body);
    list.extend(epi);
    list
}

/// The unit whose start-cycle table keeps the anchor a wait names: the PE
/// array for an spmv's write anchor, else the unit that dispatches the
/// instruction (an spmv's read anchor is its vector load).
pub fn anchor_unit(acc: &[Access], j: usize, of_write: bool) -> IssueUnit {
    if of_write {
        return IssueUnit::Pe;
    }
    match acc[j].lane {
        Lane::DmaIn => IssueUnit::DmaIn,
        Lane::DmaOut => IssueUnit::DmaOut,
        Lane::VectorLoad | Lane::Pe => IssueUnit::VectorLoad,
        Lane::Elementwise => IssueUnit::Elementwise,
        Lane::Act => IssueUnit::Act,
    }
}

/// One wait as the table holds it:
/// `{valid, anchor unit, instruction, previous_frame, gates_write, after}`.
/// The anchor unit ([`anchor_unit`]) says which start-cycle table to read;
/// an instruction other than `spmv` has one anchor (gates_write is then
/// 0), and `after` is at least 1.
pub fn wait_entry(cfg: &Config, acc: &[Access], i: usize, w: &Wait) -> u64 {
    let (gates_write, of_write) = super::waits::anchors(acc, i, w);
    let unit = anchor_unit(acc, w.instr, of_write) as u64;
    let after = w.after.max(1) as u64;
    let iw = instr_width(cfg);
    (1 << (AFTER_WIDTH + 2 + iw + UNIT_WIDTH))
        | (unit << (AFTER_WIDTH + 2 + iw))
        | ((w.instr as u64) << (AFTER_WIDTH + 2))
        | ((w.previous_frame as u64) << (AFTER_WIDTH + 1))
        | ((gates_write as u64) << AFTER_WIDTH)
        | after
}

/// Check that the issue stage can hold a validated program's waits: at
/// most [`MAX_WAITS`] per instruction, each `after` within [`AFTER_WIDTH`] bits.
pub fn check(p: &Program) -> Result<(), ProgramError> {
    for (i, ws) in p.waits.iter().enumerate() {
        let name = p.instrs[i].name();
        if ws.len() > MAX_WAITS {
            return Err(ProgramError::Invalid {
                index: i,
                name,
                field: "wait",
                message: format!(
                    "{} waits; the issue stage checks at most {MAX_WAITS} per instruction",
                    ws.len()
                ),
            });
        }
        if let Some(w) = ws.iter().find(|w| w.after >= 1 << AFTER_WIDTH) {
            return Err(ProgramError::Invalid {
                index: i,
                name,
                field: "wait",
                message: format!(
                    "waits {} cycles for instruction {}; the issue stage counts up to {}",
                    w.after,
                    w.instr,
                    (1u64 << AFTER_WIDTH) - 1
                ),
            });
        }
    }
    Ok(())
}

/// One start by the overlapped machine's issue stage: unit `unit` (its
/// number among [`issue_units`], the RTL's `advance[unit]`) takes
/// instruction `instr` of frame `frame` in cycle `cycle` since the start
/// (the PE array: the SpMxV's first compute cycle, after its vector load).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dispatch {
    pub cycle: i64,
    pub unit: usize,
    pub instr: usize,
    pub frame: usize,
}

/// Every start of `frames` frames of `program` on the overlapped machine of
/// `machine`, in the cycle model ([`super::schedule::Scheduler`]), by cycle
/// then unit: what the RTL's issue stage does, cycle by cycle.
pub fn dispatches(
    machine: &crate::machine::Machine,
    program: &Program,
    frames: usize,
) -> Vec<Dispatch> {
    let program = machine.with_waits(program.clone());
    let acc = machine.accesses(&program);
    let units = issue_units(machine.config());
    let mut scheduler = super::schedule::Scheduler::new(
        acc.clone(),
        program.waits.clone(),
        &program.issue,
        machine.config().overlap.vector_buffers,
    );
    let mut out = Vec::new();
    for frame in 0..frames {
        // The last frame of a start issues nothing ahead (the epilogue).
        let t = if frame + 1 == frames {
            scheduler.last_frame()
        } else {
            scheduler.next_frame()
        };
        for (instr, a) in acc.iter().enumerate() {
            for (unit, u) in units.iter().enumerate() {
                if u.takes(a) {
                    let cycle = if *u == IssueUnit::Pe {
                        t.write_at[instr]
                    } else {
                        t.read_at[instr]
                    };
                    out.push(Dispatch {
                        cycle,
                        unit,
                        instr,
                        frame,
                    });
                }
            }
        }
    }
    out.sort_unstable();
    out
}
