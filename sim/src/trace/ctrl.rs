//! The PE array's SpMxV controller (`bbs_ctrl`) and PE 0's tag pipeline and
//! write-back, stepped edge by edge by the RTL's next-state rules; alone for
//! one SpMxV ([`spmv_trace`]) or driven by the sequencer (`program.rs`).

use super::{bit, mask, push, signals_from, TraceSignal, Waveform, CTRL_SCOPE, PE0_SCOPE};
use crate::arch::{timing, CtrlState, InstrFields, Opcode, Widths};
use crate::config::Config;
use crate::spmv::{CycleBreakdown, SimError};
use bbs_compress::Csb;
use std::collections::VecDeque;

/// The controller signals of one SpMxV, cycle by cycle.
///
/// Cycle `c` is rising edge `c`; cycle 0 samples `start_i`, the last cycle
/// (`cycles.total`) is the first to sample `done_o`. In a program the same
/// cycles start at the spmv instruction's dispatch edge
/// ([`super::ProgramTrace::spmvs`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpmvTrace {
    pub config: String,
    pub cycles: CycleBreakdown,
    pub signals: Vec<TraceSignal>,
}

impl SpmvTrace {
    /// Cycles traced: `cycles.total + 1`.
    pub fn cycle_count(&self) -> usize {
        self.cycles.total as usize + 1
    }

    /// The signal `name` (the controller's first, then PE 0's).
    pub fn signal(&self, name: &str) -> Option<&TraceSignal> {
        self.signals.iter().find(|s| s.name == name)
    }
}

impl Waveform for SpmvTrace {
    fn comment(&self) -> String {
        format!(
            "configuration {}: one SpMxV from reset, cycles start {} load {} compute {} drain {} total {}",
            self.config,
            self.cycles.start,
            self.cycles.load,
            self.cycles.compute,
            self.cycles.drain,
            self.cycles.total
        )
    }
    fn signals(&self) -> &[TraceSignal] {
        &self.signals
    }
}

/// The controller's registers between two rising edges.
#[derive(Clone, Copy, Debug)]
struct CtrlRegs {
    state: CtrlState,
    vec_raddr: u64,
    vec_we: bool,
    vec_waddr: u64,
    mat_addr: u64,
    slot: u64,
    local_row: u64,
    row_base: u64,
    drain: u64,
}

/// What an issued word carries down PE 0's pipeline to its accumulator.
#[derive(Clone, Copy, Debug, Default)]
struct Tag {
    valid: bool,
    last: bool,
    row_ok: bool,
    local_row: u64,
}

/// `bbs_ctrl` and PE 0's tag pipeline and write-back, stepped edge by edge.
/// Its inputs are `start_i` and the executing instruction's fields (`rows_i`,
/// `slots_i`, `vec_words_i`, `mat_base_i`).
pub(super) struct Ctrl<'a> {
    w: &'a Widths,
    pes: u64,
    drain_cycles: u64,
    regs: CtrlRegs,
    /// PE 0's tags in flight: issue to accumulate takes `2 + mult + adder` cycles.
    tags: VecDeque<Tag>,
    wr_en: bool,
    wr_row: u64,
}

pub(super) const CTRL_SIGNALS: usize = 16;
pub(super) const PE0_SIGNALS: usize = 3;

impl<'a> Ctrl<'a> {
    pub(super) fn new(cfg: &Config, w: &'a Widths) -> Ctrl<'a> {
        let acc_stage = timing::accumulate_stage(cfg) as usize;
        Ctrl {
            w,
            pes: cfg.pes as u64,
            drain_cycles: timing::drain(cfg),
            regs: CtrlRegs {
                state: CtrlState::Idle,
                vec_raddr: 0,
                vec_we: false,
                vec_waddr: 0,
                mat_addr: 0,
                slot: 0,
                local_row: 0,
                row_base: 0,
                drain: 0,
            },
            // After reset nothing valid is in flight.
            tags: vec![Tag::default(); acc_stage].into(),
            wr_en: false,
            wr_row: 0,
        }
    }

    /// `(ctrl scope, name, width)` of [`Ctrl::sample`]'s values, then PE 0's.
    pub(super) fn declare(
        w: &Widths,
    ) -> [(&'static [&'static str], &'static str, usize); CTRL_SIGNALS + PE0_SIGNALS] {
        [
            (CTRL_SCOPE, "start_i", 1),
            (CTRL_SCOPE, "state_q", w.ctrl_state),
            (CTRL_SCOPE, "busy_o", 1),
            (CTRL_SCOPE, "done_o", 1),
            (CTRL_SCOPE, "last_cycle_o", 1),
            (CTRL_SCOPE, "vec_raddr_q", w.index),
            (CTRL_SCOPE, "vec_we_q", 1),
            (CTRL_SCOPE, "vec_waddr_q", w.index),
            (CTRL_SCOPE, "issue_valid_o", 1),
            (CTRL_SCOPE, "mat_addr_q", w.mat_addr),
            (CTRL_SCOPE, "slot_q", w.slots),
            (CTRL_SCOPE, "local_row_q", w.local_row),
            (CTRL_SCOPE, "row_base_q", w.row_base),
            (CTRL_SCOPE, "first_o", 1),
            (CTRL_SCOPE, "last_o", 1),
            (CTRL_SCOPE, "drain_q", w.drain),
            (PE0_SCOPE, "row_ok_i", 1),
            (PE0_SCOPE, "wr_en_q", 1),
            (PE0_SCOPE, "wr_row_q", w.local_row),
        ]
    }

    /// `slot_q == slots_i - 1` (in `slots_w` bits: a field of 0 never matches).
    fn slot_last(&self, f: &InstrFields) -> bool {
        self.regs.slot == mask(f.slots.wrapping_sub(1), self.w.slots)
    }

    /// PE 0's global row `row_base_q + 0` exists.
    fn row_ok(&self, f: &InstrFields) -> bool {
        self.regs.row_base < f.rows
    }

    /// `last_cycle_o`: the last drain cycle.
    pub(super) fn last_cycle(&self) -> bool {
        self.regs.state == CtrlState::Drain && self.regs.drain == self.drain_cycles - 1
    }

    pub(super) fn sample(&self, start: bool, f: &InstrFields) -> [u64; CTRL_SIGNALS + PE0_SIGNALS] {
        let c = &self.regs;
        [
            bit(start),
            c.state as u64,
            bit(!matches!(c.state, CtrlState::Idle | CtrlState::Done)),
            bit(c.state == CtrlState::Done),
            bit(self.last_cycle()),
            c.vec_raddr,
            bit(c.vec_we),
            c.vec_waddr,
            bit(c.state == CtrlState::Compute),
            c.mat_addr,
            c.slot,
            c.local_row,
            c.row_base,
            bit(c.slot == 0),
            bit(self.slot_last(f)),
            c.drain,
            bit(self.row_ok(f)),
            bit(self.wr_en),
            self.wr_row,
        ]
    }

    /// One rising edge, with `start_i` and the instruction fields it sees.
    pub(super) fn step(&mut self, start: bool, f: &InstrFields) {
        let w = self.w;
        let c = self.regs;
        let mut n = c;
        // The vector memory answers one cycle after the read: the PEs' banks
        // are written the cycle after.
        n.vec_we = c.state == CtrlState::Load;
        n.vec_waddr = c.vec_raddr;
        match c.state {
            CtrlState::Idle | CtrlState::Done => {
                if start {
                    n.state = CtrlState::Load;
                    n.vec_raddr = 0;
                }
            }
            CtrlState::Load => {
                // One vector word per cycle, `vec_words_i` (the bank size) cycles.
                n.vec_raddr = mask(c.vec_raddr + 1, w.index);
                if c.vec_raddr == mask(f.bank.wrapping_sub(1), w.vec_words) {
                    n.state = CtrlState::Compute;
                    n.mat_addr = mask(f.mat, w.mat_addr);
                    n.slot = 0;
                    n.local_row = 0;
                    n.row_base = 0;
                }
            }
            CtrlState::Compute => {
                // One CSB word per cycle: slot s of local row j is word base + j * n + s.
                n.mat_addr = mask(c.mat_addr + 1, w.mat_addr);
                if self.slot_last(f) {
                    n.slot = 0;
                    n.local_row = mask(c.local_row + 1, w.local_row);
                    n.row_base = mask(c.row_base + self.pes, w.row_base);
                    if n.row_base >= f.rows {
                        n.state = CtrlState::Drain;
                        n.drain = 0;
                    }
                } else {
                    n.slot = mask(c.slot + 1, w.slots);
                }
            }
            CtrlState::Drain => {
                n.drain = mask(c.drain + 1, w.drain);
                if self.last_cycle() {
                    n.state = CtrlState::Done;
                }
            }
        }
        // PE 0: the tag issued now enters the pipeline, the oldest one reaches
        // the accumulator, and the write enable and row follow one cycle later.
        let issued = Tag {
            valid: c.state == CtrlState::Compute,
            last: self.slot_last(f),
            row_ok: self.row_ok(f),
            local_row: c.local_row,
        };
        self.tags.push_back(issued);
        let acc = self.tags.pop_front().unwrap_or_default();
        self.wr_en = acc.valid && acc.last && acc.row_ok;
        self.wr_row = acc.local_row;
        self.regs = n;
    }
}

/// The controller and datapath-control signals of one SpMxV of `csb` on
/// `cfg`, from the cycle `start_i` is sampled to the first cycle that sees
/// `done_o`, starting from reset, with the spmv instruction's fields (matrix
/// at address 0) on the controller's inputs throughout. The signals do not
/// depend on the input vector.
pub fn spmv_trace(cfg: &Config, csb: &Csb) -> Result<SpmvTrace, SimError> {
    cfg.validate()?;
    cfg.check_matrix(csb)?;
    let time = timing::spmv(cfg, csb);
    let w = Widths::new(cfg);
    let mut ctrl = Ctrl::new(cfg, &w);
    let f = InstrFields {
        op: Opcode::Spmv.code(),
        len: csb.cols as u64,
        rows: csb.rows as u64,
        slots: csb.slots as u64,
        bank: csb.bank_size as u64,
        ..InstrFields::default()
    };
    let mut signals = signals_from(&Ctrl::declare(&w), time.total as usize + 1);
    for cycle in 0..=time.total {
        push(&mut signals, ctrl.sample(cycle == 0, &f));
        // done_o is first seen exactly at the end of the timeline.
        debug_assert_eq!(ctrl.regs.state == CtrlState::Done, cycle == time.total);
        ctrl.step(cycle == 0, &f);
    }
    Ok(SpmvTrace {
        config: cfg.name.clone(),
        cycles: time,
        signals,
    })
}
