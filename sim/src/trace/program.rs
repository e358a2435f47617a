//! The sequencer (`bbs_seq`) stepped edge by edge over every run of a
//! program, driving the controller of `ctrl.rs`, with the testbench's host
//! answering loads and stores; the instruction boundaries it finds are
//! checked against the simulator's timelines.

use super::ctrl::Ctrl;
use super::{
    bit, mask, push, signals_from, TraceError, TraceSignal, Waveform, SEQ_SCOPE, TB_RUN_GAP,
};
use crate::arch::{placement, timing, InstrFields, Opcode, SeqState, Widths};
use crate::config::{Config, MatrixStorage};
use crate::isa::Instr;
use crate::machine::{Machine, Program, RunReport};
use crate::spmv::CycleBreakdown;
use bbs_compress::Csb;

/// One run (frame) of a program in the testbench's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunSpan {
    /// The rising edge that samples the start (CTRL written): the timeline's cycle 0.
    pub start_edge: u64,
    /// The run's cycles ([`RunReport::cycles`]).
    pub cycles: u64,
}

impl RunSpan {
    /// The first edge that sees `done_o`: `start_edge + cycles`.
    pub fn done_edge(&self) -> u64 {
        self.start_edge + self.cycles
    }
}

/// One spmv instruction of one run in the testbench's time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpmvSpan {
    pub run: usize,
    /// The instruction's index in the program.
    pub index: usize,
    pub matrix: usize,
    /// The dispatch edge, which starts `bbs_ctrl` ([`super::SpmvTrace`]'s cycle 0).
    pub start_edge: u64,
    pub cycles: CycleBreakdown,
}

/// The sequencer, the controller and PE 0's write-back over every run of a
/// program, at every rising edge of `tb_bbs` from edge 0 to the last run's
/// done edge.
///
/// Before the first start the registers hold their reset values (all zero)
/// and `n_instr_i` is 0 until NINSTR is written, the edge before the start.
/// Between runs the sequencer sits in DONE for [`TB_RUN_GAP`] edges (the
/// done edge, two idle edges, then the start edge, which still samples DONE);
/// nothing else changes there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramTrace {
    pub config: String,
    pub instructions: usize,
    pub runs: Vec<RunSpan>,
    pub spmvs: Vec<SpmvSpan>,
    pub signals: Vec<TraceSignal>,
}

impl ProgramTrace {
    /// Edges traced: the last done edge + 1.
    pub fn edge_count(&self) -> usize {
        self.signals.first().map_or(0, |s| s.values.len())
    }

    /// The signal `name` in `scope` (e.g. [`SEQ_SCOPE`], `"state_q"`).
    pub fn signal(&self, scope: &[&str], name: &str) -> Option<&TraceSignal> {
        self.signals
            .iter()
            .find(|s| s.scope == scope && s.name == name)
    }
}

impl Waveform for ProgramTrace {
    fn comment(&self) -> String {
        let runs: Vec<String> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                format!(
                    "run {i} start edge {} done edge {} ({} cycles)",
                    r.start_edge,
                    r.done_edge(),
                    r.cycles
                )
            })
            .collect();
        format!(
            "configuration {}: a program of {} instructions, {} run(s): {}",
            self.config,
            self.instructions,
            self.runs.len(),
            runs.join(", ")
        )
    }
    fn signals(&self) -> &[TraceSignal] {
        &self.signals
    }
}

/// `bbs_seq`'s registers between two rising edges.
#[derive(Clone, Copy, Debug)]
struct SeqRegs {
    state: SeqState,
    pc: u64,
    /// The instruction in `instr_q`: `None` after reset (all zero).
    instr: Option<usize>,
    off: u64,
    wait: u64,
}

const SEQ_SIGNALS: usize = 26;
/// The index of `state_q` in [`seq_declare`].
const SEQ_STATE: usize = 2;

fn seq_declare(w: &Widths) -> [(&'static [&'static str], &'static str, usize); SEQ_SIGNALS] {
    [
        (SEQ_SCOPE, "start_i", 1),
        (SEQ_SCOPE, "n_instr_i", w.pc),
        (SEQ_SCOPE, "state_q", w.seq_state),
        (SEQ_SCOPE, "pc_q", w.pc),
        (SEQ_SCOPE, "off_q", w.off),
        (SEQ_SCOPE, "wait_q", w.wait),
        (SEQ_SCOPE, "busy_o", 1),
        (SEQ_SCOPE, "done_o", 1),
        (SEQ_SCOPE, "op_o", w.op),
        (SEQ_SCOPE, "func_o", w.func),
        (SEQ_SCOPE, "a_o", w.vaddr),
        (SEQ_SCOPE, "b_o", w.vaddr),
        (SEQ_SCOPE, "d_o", w.vaddr),
        (SEQ_SCOPE, "len_o", w.vlen),
        (SEQ_SCOPE, "rows_o", w.rows),
        (SEQ_SCOPE, "slots_o", w.slots),
        (SEQ_SCOPE, "bank_o", w.vec_words),
        (SEQ_SCOPE, "mat_o", w.mat_addr),
        (SEQ_SCOPE, "spmv_start_o", 1),
        (SEQ_SCOPE, "spmv_last_i", 1),
        (SEQ_SCOPE, "ew_issue_o", 1),
        (SEQ_SCOPE, "s_axis_tready_o", 1),
        (SEQ_SCOPE, "s_axis_tvalid_i", 1),
        (SEQ_SCOPE, "m_axis_tvalid_o", 1),
        (SEQ_SCOPE, "m_axis_tready_i", 1),
        (SEQ_SCOPE, "m_axis_tlast_o", 1),
    ]
}

/// The whole-program waveform of `runs` (one [`RunReport`] per run of
/// `program`, in order, as [`Machine::run`] returned them with the state
/// carried) on `cfg` with `matrices`, in the time of `tb_bbs` whose first
/// start is sampled at `first_start_edge` ([`super::tb_first_start_edge`]).
///
/// The sequencer, the controller and PE 0 are stepped edge by edge by the
/// RTL's rules, with the testbench's host answering every load and store
/// `host.link_latency` cycles after it is asked; every instruction's dispatch
/// edge and every run's done edge must fall where the timelines put them,
/// otherwise the trace is refused. The values do not depend on the data.
pub fn program_trace(
    cfg: &Config,
    matrices: &[Csb],
    program: &Program,
    runs: &[RunReport],
    first_start_edge: u64,
) -> Result<ProgramTrace, TraceError> {
    cfg.validate()?;
    if cfg.memory.matrix == MatrixStorage::Dram {
        return Err(TraceError::Dram);
    }
    let n = program.instrs.len();
    if n == 0 {
        return Err(TraceError::Invalid(
            "the program has no instructions".into(),
        ));
    }
    if runs.is_empty() {
        return Err(TraceError::Invalid("no runs to trace".into()));
    }
    // The same checks as the machine: the matrices and the program fit.
    Machine::new(cfg, matrices.to_vec())?.validate(program)?;
    for (r, report) in runs.iter().enumerate() {
        if report.timeline.len() != n {
            return Err(TraceError::Invalid(format!(
                "run {r}: the timeline has {} instructions, the program {n}",
                report.timeline.len()
            )));
        }
        for (i, (t, instr)) in report.timeline.iter().zip(&program.instrs).enumerate() {
            if t.index != i || t.op != instr.name() {
                return Err(TraceError::Invalid(format!(
                    "run {r}: timeline entry {i} is {} {}, the program's instruction {i} is {}",
                    t.op,
                    t.index,
                    instr.name()
                )));
            }
        }
    }

    let w = Widths::new(cfg);
    let placements = placement::place(cfg, matrices);
    let fields: Vec<InstrFields> = program
        .instrs
        .iter()
        .map(|i| InstrFields::of(i, &placements))
        .collect();
    let mut spans = Vec::with_capacity(runs.len());
    let mut start = first_start_edge;
    for report in runs {
        spans.push(RunSpan {
            start_edge: start,
            cycles: report.cycles,
        });
        start += report.cycles + TB_RUN_GAP;
    }
    let last_edge = spans.last().map_or(0, RunSpan::done_edge);
    let edges = last_edge as usize + 1;

    let beat_el = cfg.beat_elements() as u64;
    let lanes = cfg.ewop.lanes as u64;
    let ew_latency = cfg.ewop.latency as u64;
    let link_latency = cfg.host.link_latency as u64;
    let n_instr = n as u64;

    let mut seq = SeqRegs {
        state: SeqState::Idle,
        pc: 0,
        instr: None,
        off: 0,
        wait: 0,
    };
    let mut ctrl = Ctrl::new(cfg, &w);
    // The testbench's host: cycles since the accelerator started asking.
    let (mut in_wait, mut out_wait) = (0u64, 0u64);
    let mut seq_signals = signals_from(&seq_declare(&w), edges);
    let mut ctrl_signals = signals_from(&Ctrl::declare(&w), edges);
    // (edge, instruction) of every dispatch.
    let mut dispatches: Vec<(u64, usize)> = Vec::new();
    let mut next_run = 0;
    for edge in 0..=last_edge {
        let start = next_run < spans.len() && spans[next_run].start_edge == edge;
        if start {
            next_run += 1;
        }
        // NINSTR is written at the edge before the first start.
        let n_instr_i = if edge >= first_start_edge { n_instr } else { 0 };
        let f = seq.instr.map_or_else(InstrFields::default, |i| fields[i]);
        let idle_start = matches!(seq.state, SeqState::Idle | SeqState::Done) && start;
        let dispatch = seq.state == SeqState::Fetch || idle_start;
        let empty = idle_start && n_instr_i == 0;
        let fetch_pc = if seq.state == SeqState::Fetch {
            seq.pc
        } else {
            0
        };
        let fetched = fields.get(fetch_pc as usize).copied().unwrap_or_default();
        let spmv_start = dispatch && !empty && fetched.op == Opcode::Spmv.code();
        let tready = seq.state == SeqState::Load;
        let tvalid = tready && in_wait >= link_latency;
        let mvalid = seq.state == SeqState::Store;
        let mready = mvalid && out_wait >= link_latency;
        let beat_last = mask(seq.off + beat_el, w.off) >= f.len;
        let issue_last = mask(seq.off + lanes, w.off) >= f.len;
        let last_instr = mask(seq.pc + 1, w.pc) == n_instr_i;
        let spmv_last = ctrl.last_cycle();

        push(
            &mut seq_signals,
            [
                bit(start),
                n_instr_i,
                seq.state as u64,
                seq.pc,
                seq.off,
                seq.wait,
                bit(!matches!(seq.state, SeqState::Idle | SeqState::Done)),
                bit(seq.state == SeqState::Done),
                f.op,
                f.func,
                f.a,
                f.b,
                f.d,
                f.len,
                f.rows,
                f.slots,
                f.bank,
                f.mat,
                bit(spmv_start),
                bit(spmv_last),
                bit(seq.state == SeqState::Issue),
                bit(tready),
                bit(tvalid),
                bit(mvalid),
                bit(mready),
                bit(mvalid && beat_last),
            ],
        );
        push(&mut ctrl_signals, ctrl.sample(spmv_start, &f));

        // The sequencer's next state.
        let mut s = seq;
        let next = |s: &mut SeqRegs| {
            s.state = if last_instr {
                SeqState::Done
            } else {
                SeqState::Fetch
            };
            s.pc = mask(seq.pc + 1, w.pc);
        };
        if dispatch {
            if empty {
                s.state = SeqState::Done;
            } else {
                dispatches.push((edge, fetch_pc as usize));
                s.pc = fetch_pc;
                s.instr = Some(fetch_pc as usize);
                s.off = 0;
                s.state = if fetched.op == Opcode::Load.code() {
                    SeqState::Load
                } else if fetched.op == Opcode::Store.code() {
                    SeqState::Store
                } else if fetched.op == Opcode::Spmv.code() {
                    SeqState::Spmv
                } else {
                    SeqState::Issue
                };
            }
        } else {
            match seq.state {
                SeqState::Load | SeqState::Store => {
                    if tvalid || mready {
                        s.off = mask(seq.off + beat_el, w.off);
                        if beat_last {
                            next(&mut s);
                        }
                    }
                }
                SeqState::Spmv => {
                    if spmv_last {
                        next(&mut s);
                    }
                }
                SeqState::Issue => {
                    s.off = mask(seq.off + lanes, w.off);
                    if issue_last {
                        if ew_latency > 0 {
                            s.state = SeqState::Wait;
                            s.wait = 0;
                        } else {
                            next(&mut s);
                        }
                    }
                }
                SeqState::Wait => {
                    s.wait = mask(seq.wait + 1, w.wait);
                    if seq.wait == ew_latency.wrapping_sub(1) {
                        next(&mut s);
                    }
                }
                SeqState::Idle | SeqState::Fetch | SeqState::Done => {}
            }
        }
        ctrl.step(spmv_start, &f);
        // The host: a load's input vector ends with its last beat (tlast), a
        // store's with the beat the accelerator marks last.
        if tready {
            in_wait += 1;
            if tvalid && beat_last {
                in_wait = 0;
            }
        }
        if mvalid {
            out_wait += 1;
            if mready && beat_last {
                out_wait = 0;
            }
        }
        seq = s;
    }

    // The RTL's instruction boundaries must be the timelines'.
    let mut spmvs = Vec::new();
    let mut d = dispatches.iter();
    for (r, (span, report)) in spans.iter().zip(runs).enumerate() {
        for t in &report.timeline {
            let want = span.start_edge + t.start;
            let got = d.next().map(|&(e, _)| e);
            if got != Some(want) {
                return Err(TraceError::Timeline {
                    run: r,
                    index: t.index,
                    op: t.op,
                    message: format!(
                        "the timeline starts it at cycle {} (edge {want}), the RTL's rules at edge {}",
                        t.start,
                        got.map_or("(never)".to_string(), |e| e.to_string())
                    ),
                });
            }
            if let Instr::Spmv { matrix, .. } = program.instrs[t.index] {
                let m = &matrices[matrix];
                spmvs.push(SpmvSpan {
                    run: r,
                    index: t.index,
                    matrix,
                    start_edge: want,
                    cycles: timing::spmv(cfg, m),
                });
            }
        }
        let done = span.done_edge() as usize;
        let state = &seq_signals[SEQ_STATE].values;
        let last = report.timeline.last().expect("a program has instructions");
        if state[done] != SeqState::Done as u64 || state[done - 1] == SeqState::Done as u64 {
            return Err(TraceError::Timeline {
                run: r,
                index: last.index,
                op: last.op,
                message: format!(
                    "the timeline ends the run at cycle {} (edge {done}), the RTL's rules do not",
                    report.cycles
                ),
            });
        }
    }
    let mut signals = seq_signals;
    signals.extend(ctrl_signals);
    Ok(ProgramTrace {
        config: cfg.name.clone(),
        instructions: n,
        runs: spans,
        spmvs,
        signals,
    })
}
