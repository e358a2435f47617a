//! Waveforms from the simulator, with the generated RTL's signal names, and a
//! VCD reader to compare them with the RTL's own dump.
//!
//! [`program_trace`] expands the timelines of a program's runs
//! ([`RunReport::timeline`], one run per frame, state carried) into the
//! registers and control outputs of the sequencer (`u_seq`, `bbs_seq.v`), the
//! PE array's controller (`u_ctrl`, `bbs_ctrl.v`) and PE 0's write-back
//! (`u_pe0`, `bbs_pe.v`), at every rising clock edge of the testbench
//! `tb_bbs`, from its first edge to the edge that sees the last run's
//! `done_o`. The values follow the RTL's documented next-state rules (the
//! templates' header comments), stepped edge by edge; the instruction
//! boundaries they give are checked against the timelines, so a trace exists
//! only when the RTL and the simulator agree on every instruction's cycles.
//! [`spmv_trace`] is the controller alone for one SpMxV, from reset.
//!
//! [`write_vcd`] writes either as a VCD whose scopes, names, widths and times
//! are those of `tb_bbs`'s dump, so both can be viewed side by side;
//! [`sample_vcd`] reads any VCD back at the rising clock edges;
//! [`write_bank_reads_csv`] lists every vector-bank read of every SpMxV.
//! `docs/trace.md` describes the signals and the timing.

use crate::arith::clog2;
use crate::config::{Config, ConfigError, MatrixStorage};
use crate::isa::{EwOp, Instr};
use crate::machine::{Machine, Program, ProgramError, RunReport};
use crate::spmv::{CycleBreakdown, SimError};
use bbs_compress::Csb;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Write};
use vcd::{Command, IdCode, ScopeItem, Value};

/// The `vcd` crate's time units, as [`VcdSamples::timescale`] gives them.
pub use vcd::TimescaleUnit;

/// The sequencer's scope in `tb_bbs`'s dump.
pub const SEQ_SCOPE: &[&str] = &["tb_bbs", "dut", "u_seq"];
/// The PE array controller's scope in `tb_bbs`'s dump.
pub const CTRL_SCOPE: &[&str] = &["tb_bbs", "dut", "u_ctrl"];
/// PE 0's scope in `tb_bbs`'s dump.
pub const PE0_SCOPE: &[&str] = &["tb_bbs", "dut", "u_pe0"];
/// The testbench's clock.
pub const CLOCK: &[&str] = &["tb_bbs", "clk_i"];
/// One clock period in ns: `tb_bbs` toggles the clock every 5 ns, so rising
/// edge `k` (counted from 0) is at `k * 10 + 5` ns.
pub const CLOCK_PERIOD_NS: u64 = 10;

/// Rising edges from the one that first sees a run's `done_o` to the one that
/// samples the next run's start: `tb_bbs` leaves its wait loop at the next
/// falling edge, waits one more, and writes CTRL at the falling edge after.
pub const TB_RUN_GAP: u64 = 3;

/// The rising edge at which `tb_bbs`'s first start is sampled: three edges in
/// reset, then (with matrices written through the load port) one edge per
/// word and PE plus one to release the port, then NINSTR, then CTRL.
/// `port_words` is `Some(words per PE)` for the load port, `None` when the
/// matrix memories are preloaded (`$readmemh`).
pub fn tb_first_start_edge(cfg: &Config, port_words: Option<usize>) -> u64 {
    let port = port_words.map_or(0, |w| (cfg.pes * w) as u64 + 1);
    3 + port + 2
}

/// Matrix-memory words per PE that the matrices take, one after another (the
/// word count the testbench writes through the load port).
pub fn matrix_words(cfg: &Config, matrices: &[Csb]) -> usize {
    matrices
        .iter()
        .map(|m| m.rows.div_ceil(cfg.pes) * m.slots)
        .sum()
}

/// Time of rising edge `edge`, in ns.
pub fn edge_time_ns(edge: u64) -> u64 {
    edge * CLOCK_PERIOD_NS + CLOCK_PERIOD_NS / 2
}

/// `state_q` of `bbs_ctrl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CtrlState {
    Idle = 0,
    Load = 1,
    Compute = 2,
    Drain = 3,
    Done = 4,
}

/// `state_q` of `bbs_seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SeqState {
    Idle = 0,
    Fetch = 1,
    Load = 2,
    Store = 3,
    Spmv = 4,
    Issue = 5,
    Wait = 6,
    Done = 7,
}

/// One traced signal: where it is, how wide, and its value at every edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceSignal {
    /// The RTL scope, e.g. [`CTRL_SCOPE`].
    pub scope: &'static [&'static str],
    /// The RTL name within the scope.
    pub name: &'static str,
    /// Bits, as the RTL declares it.
    pub width: u32,
    /// `values[k]`: the value sampled at rising edge `k` (what the flops
    /// clocked by it see: the value the edge before set).
    pub values: Vec<u64>,
}

impl TraceSignal {
    /// The full hierarchical path, e.g. `["tb_bbs", "dut", "u_ctrl", "state_q"]`.
    pub fn path(&self) -> Vec<&'static str> {
        let mut p = self.scope.to_vec();
        p.push(self.name);
        p
    }

    /// The path joined with dots.
    pub fn dotted(&self) -> String {
        self.path().join(".")
    }
}

/// A set of signals sampled at consecutive rising edges from edge 0, as
/// [`write_vcd`] writes them.
pub trait Waveform {
    /// A line for the VCD's `$comment`.
    fn comment(&self) -> String;
    /// Every signal has one value per edge, edges `0..edges`.
    fn signals(&self) -> &[TraceSignal];
}

/// The controller signals of one SpMxV, cycle by cycle.
///
/// Cycle `c` is rising edge `c`; cycle 0 samples `start_i`, the last cycle
/// (`cycles.total`) is the first to sample `done_o`. In a program the same
/// cycles start at the spmv instruction's dispatch edge
/// ([`ProgramTrace::spmvs`]).
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
    /// The dispatch edge, which starts `bbs_ctrl` ([`SpmvTrace`]'s cycle 0).
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

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Program(#[from] ProgramError),
    #[error("memory.matrix = \"dram\" is simulated only: the RTL the trace follows has on-chip matrix memories")]
    Dram,
    #[error("trace: {0}")]
    Invalid(String),
    #[error("trace: run {run}, instruction {index} ({op}): {message}")]
    Timeline {
        run: usize,
        index: usize,
        op: &'static str,
        message: String,
    },
}

/// Bit widths of the traced registers and ports, as `bbs-hdlgen`'s
/// `RtlParams` derives them.
struct Widths {
    index: u32,
    mat_addr: u32,
    slots: u32,
    local_row: u32,
    row_base: u32,
    drain: u32,
    rows: u32,
    vec_words: u32,
    pc: u32,
    off: u32,
    vaddr: u32,
    vlen: u32,
}

impl Widths {
    fn new(cfg: &Config) -> Widths {
        let rows_w = clog2(cfg.max_rows + 1);
        let words = cfg.memory.vector_words;
        Widths {
            index: cfg.index_width(),
            mat_addr: clog2(cfg.matrix_depth()),
            slots: clog2(cfg.max_slots + 1),
            local_row: clog2(cfg.rows_per_pe()),
            row_base: clog2(cfg.rows_per_pe() * cfg.pes + 1).max(rows_w + 1),
            drain: clog2(cfg.drain_cycles() as usize),
            rows: rows_w,
            vec_words: cfg.index_width() + 1,
            pc: clog2(cfg.memory.instruction_words + 1),
            off: clog2(words + cfg.ewop.lanes.max(cfg.beat_elements()) + 1),
            vaddr: clog2(words),
            vlen: clog2(words + 1),
        }
    }
}

fn mask(v: u64, width: u32) -> u64 {
    if width >= 64 {
        v
    } else {
        v & ((1u64 << width) - 1)
    }
}

fn bit(b: bool) -> u64 {
    b as u64
}

/// The instruction word's fields as `bbs_seq` decodes them
/// (`hdlgen/src/program.rs`: fields an instruction does not use are 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Fields {
    op: u64,
    func: u64,
    a: u64,
    b: u64,
    d: u64,
    len: u64,
    rows: u64,
    slots: u64,
    bank: u64,
    mat: u64,
}

const OP_LOAD: u64 = 0;
const OP_STORE: u64 = 1;
const OP_SPMV: u64 = 2;

impl Fields {
    /// `bases[m]`: where matrix `m` starts in every PE's matrix memory.
    fn of(instr: &Instr, matrices: &[Csb], bases: &[usize]) -> Fields {
        let u = |v: usize| v as u64;
        match *instr {
            Instr::Load { dst } => Fields {
                op: OP_LOAD,
                d: u(dst.base),
                len: u(dst.len),
                ..Fields::default()
            },
            Instr::Store { src } => Fields {
                op: OP_STORE,
                a: u(src.base),
                len: u(src.len),
                ..Fields::default()
            },
            Instr::Spmv { matrix, src, dst } => Fields {
                op: OP_SPMV,
                a: u(src.base),
                d: u(dst.base),
                len: u(src.len),
                rows: u(dst.len),
                slots: u(matrices[matrix].slots),
                bank: u(matrices[matrix].bank_size),
                mat: u(bases[matrix]),
                ..Fields::default()
            },
            Instr::Ewop { func, a, b, dst } => Fields {
                op: 3,
                func: match func {
                    EwOp::Add => 0,
                    EwOp::Sub => 1,
                    EwOp::Mul => 2,
                    EwOp::Copy => 3,
                },
                a: u(a.base),
                b: if func == EwOp::Copy { 0 } else { u(b.base) },
                d: u(dst.base),
                len: u(dst.len),
                ..Fields::default()
            },
            Instr::Act { func, src, dst } => Fields {
                op: 4,
                func: match func {
                    crate::act::ActFn::Sigmoid => 0,
                    crate::act::ActFn::Tanh => 1,
                },
                a: u(src.base),
                d: u(dst.base),
                len: u(dst.len),
                ..Fields::default()
            },
        }
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
struct Ctrl<'a> {
    w: &'a Widths,
    pes: u64,
    drain_cycles: u64,
    regs: CtrlRegs,
    /// PE 0's tags in flight: issue to accumulate takes `2 + mult + adder` cycles.
    tags: VecDeque<Tag>,
    wr_en: bool,
    wr_row: u64,
}

const CTRL_SIGNALS: usize = 16;
const PE0_SIGNALS: usize = 3;

impl<'a> Ctrl<'a> {
    fn new(cfg: &Config, w: &'a Widths) -> Ctrl<'a> {
        let acc_stage = 2 + cfg.pipeline.mult_stages as usize + cfg.pipeline.adder_stages as usize;
        Ctrl {
            w,
            pes: cfg.pes as u64,
            drain_cycles: cfg.drain_cycles(),
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
    fn declare(
        w: &Widths,
    ) -> [(&'static [&'static str], &'static str, u32); CTRL_SIGNALS + PE0_SIGNALS] {
        [
            (CTRL_SCOPE, "start_i", 1),
            (CTRL_SCOPE, "state_q", 3),
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
    fn slot_last(&self, f: &Fields) -> bool {
        self.regs.slot == mask(f.slots.wrapping_sub(1), self.w.slots)
    }

    /// PE 0's global row `row_base_q + 0` exists.
    fn row_ok(&self, f: &Fields) -> bool {
        self.regs.row_base < f.rows
    }

    /// `last_cycle_o`: the last drain cycle.
    fn last_cycle(&self) -> bool {
        self.regs.state == CtrlState::Drain && self.regs.drain == self.drain_cycles - 1
    }

    fn sample(&self, start: bool, f: &Fields) -> [u64; CTRL_SIGNALS + PE0_SIGNALS] {
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
    fn step(&mut self, start: bool, f: &Fields) {
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

fn signals_from(
    decl: &[(&'static [&'static str], &'static str, u32)],
    edges: usize,
) -> Vec<TraceSignal> {
    decl.iter()
        .map(|&(scope, name, width)| TraceSignal {
            scope,
            name,
            width,
            values: Vec::with_capacity(edges),
        })
        .collect()
}

fn push(signals: &mut [TraceSignal], values: impl IntoIterator<Item = u64>) {
    for (s, v) in signals.iter_mut().zip(values) {
        s.values.push(v);
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
    let time = CycleBreakdown::new(
        1,
        csb.bank_size as u64,
        (csb.rows.div_ceil(cfg.pes) * csb.slots) as u64,
        cfg.drain_cycles(),
    );
    let w = Widths::new(cfg);
    let mut ctrl = Ctrl::new(cfg, &w);
    let f = Fields {
        op: OP_SPMV,
        len: csb.cols as u64,
        rows: csb.rows as u64,
        slots: csb.slots as u64,
        bank: csb.bank_size as u64,
        ..Fields::default()
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

fn seq_declare(w: &Widths) -> [(&'static [&'static str], &'static str, u32); SEQ_SIGNALS] {
    [
        (SEQ_SCOPE, "start_i", 1),
        (SEQ_SCOPE, "n_instr_i", w.pc),
        (SEQ_SCOPE, "state_q", 4),
        (SEQ_SCOPE, "pc_q", w.pc),
        (SEQ_SCOPE, "off_q", w.off),
        (SEQ_SCOPE, "wait_q", 5),
        (SEQ_SCOPE, "busy_o", 1),
        (SEQ_SCOPE, "done_o", 1),
        (SEQ_SCOPE, "op_o", 3),
        (SEQ_SCOPE, "func_o", 2),
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
/// start is sampled at `first_start_edge` ([`tb_first_start_edge`]).
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
    let mut bases = Vec::with_capacity(matrices.len());
    let mut base = 0;
    for m in matrices {
        bases.push(base);
        base += m.rows.div_ceil(cfg.pes) * m.slots;
    }
    let fields: Vec<Fields> = program
        .instrs
        .iter()
        .map(|i| Fields::of(i, matrices, &bases))
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
        let f = seq.instr.map_or_else(Fields::default, |i| fields[i]);
        let idle_start = matches!(seq.state, SeqState::Idle | SeqState::Done) && start;
        let dispatch = seq.state == SeqState::Fetch || idle_start;
        let empty = idle_start && n_instr_i == 0;
        let fetch_pc = if seq.state == SeqState::Fetch {
            seq.pc
        } else {
            0
        };
        let fetched = fields.get(fetch_pc as usize).copied().unwrap_or_default();
        let spmv_start = dispatch && !empty && fetched.op == OP_SPMV;
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
                s.state = match fetched.op {
                    OP_LOAD => SeqState::Load,
                    OP_STORE => SeqState::Store,
                    OP_SPMV => SeqState::Spmv,
                    _ => SeqState::Issue,
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
                    s.wait = mask(seq.wait + 1, 5);
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
                    cycles: CycleBreakdown::new(
                        1,
                        m.bank_size as u64,
                        (m.rows.div_ceil(cfg.pes) * m.slots) as u64,
                        cfg.drain_cycles(),
                    ),
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

/// Every vector-bank read of every SpMxV of `trace` as CSV lines
/// `cycle,pe,bank,address`: `cycle` is the rising edge at which PE `pe`'s
/// bank `bank` reads `address` (the edge after the word is issued: the
/// matrix memory answers first), in the edges of the trace's VCD. A PE whose
/// row does not exist reads its zero padding word (address 0). Sorted by
/// cycle, PE, bank.
pub fn write_bank_reads_csv(
    cfg: &Config,
    matrices: &[Csb],
    trace: &ProgramTrace,
    mut w: impl Write,
) -> Result<(), TraceError> {
    let io = |e: std::io::Error| TraceError::Invalid(format!("writing the CSV: {e}"));
    writeln!(w, "cycle,pe,bank,address").map_err(io)?;
    let k = cfg.banks;
    let zeros = vec![0u16; k];
    for s in &trace.spmvs {
        let m = matrices.get(s.matrix).ok_or_else(|| {
            TraceError::Invalid(format!(
                "the trace names matrix {}, {} given",
                s.matrix,
                matrices.len()
            ))
        })?;
        let first_issue = s.start_edge + s.cycles.start + s.cycles.load;
        for t in 0..s.cycles.compute {
            let (j, slot) = ((t / m.slots as u64) as usize, (t % m.slots as u64) as usize);
            let edge = first_issue + t + 1;
            for pe in 0..cfg.pes {
                let row = j * cfg.pes + pe;
                let idx = if row < m.rows {
                    m.word(row, slot).1
                } else {
                    &zeros[..]
                };
                for (bank, a) in idx.iter().enumerate() {
                    writeln!(w, "{edge},{pe},{bank},{a}").map_err(io)?;
                }
            }
        }
    }
    w.flush().map_err(io)
}

fn vector(v: u64, width: u32) -> impl Iterator<Item = Value> {
    (0..width)
        .rev()
        .map(move |b| Value::from(b < 64 && (v >> b) & 1 == 1))
}

/// Write `trace` as a VCD: timescale 1 ns, the clock `tb_bbs.clk_i` (period
/// [`CLOCK_PERIOD_NS`], rising edge `k` at [`edge_time_ns`]`(k)`), every
/// signal in its RTL scope (`tb_bbs.dut.u_seq`, `u_ctrl`, `u_pe0`). Every
/// change is at the rising edge that makes it, as in `tb_bbs`'s own dump; the
/// file ends at the last traced edge. The same trace always gives the same
/// bytes.
pub fn write_vcd(trace: &impl Waveform, w: impl Write) -> std::io::Result<()> {
    let signals = trace.signals();
    let edges = signals.first().map_or(0, |s| s.values.len());
    let mut out = vcd::Writer::new(w);
    out.version(&format!(
        "bbs-sim {} (simulator trace)",
        env!("CARGO_PKG_VERSION")
    ))?;
    out.comment(&trace.comment())?;
    out.timescale(1, TimescaleUnit::NS)?;

    // Declare the scopes in order, opening and closing them as the paths change.
    let mut open: Vec<&str> = Vec::new();
    let mut goto = |out: &mut vcd::Writer<_>, scope: &[&'static str]| -> std::io::Result<()> {
        let common = open.iter().zip(scope).take_while(|(a, b)| a == b).count();
        while open.len() > common {
            out.upscope()?;
            open.pop();
        }
        for s in &scope[common..] {
            out.add_module(s)?;
            open.push(s);
        }
        Ok(())
    };
    goto(&mut out, &CLOCK[..CLOCK.len() - 1])?;
    let clk = out.add_wire(1, CLOCK[CLOCK.len() - 1])?;
    let mut ids = Vec::with_capacity(signals.len());
    for s in signals {
        goto(&mut out, s.scope)?;
        ids.push(out.add_wire(s.width, s.name)?);
    }
    goto(&mut out, &[])?;
    out.enddefinitions()?;

    let change = |out: &mut vcd::Writer<_>, id: IdCode, s: &TraceSignal, v: u64| {
        if s.width == 1 {
            out.change_scalar(id, v == 1)
        } else {
            out.change_vector(id, vector(v, s.width))
        }
    };
    out.timestamp(0)?;
    out.begin(vcd::SimulationCommand::Dumpvars)?;
    out.change_scalar(clk, Value::V0)?;
    if edges > 0 {
        for (s, &id) in signals.iter().zip(&ids) {
            change(&mut out, id, s, s.values[0])?;
        }
    }
    out.end()?;
    for edge in 0..edges {
        out.timestamp(edge_time_ns(edge as u64))?;
        out.change_scalar(clk, Value::V1)?;
        // Edge k sets the values edge k + 1 samples.
        if edge + 1 < edges {
            for (s, &id) in signals.iter().zip(&ids) {
                if s.values[edge + 1] != s.values[edge] {
                    change(&mut out, id, s, s.values[edge + 1])?;
                }
            }
            out.timestamp(edge_time_ns(edge as u64) + CLOCK_PERIOD_NS / 2)?;
            out.change_scalar(clk, Value::V0)?;
        }
    }
    out.flush()
}

#[derive(Debug, thiserror::Error)]
pub enum VcdError {
    #[error("reading the VCD: {0}")]
    Io(#[from] std::io::Error),
    #[error("the VCD has no signal {0}")]
    Missing(String),
    #[error("{path}: {width} bits, the reader takes at most 64")]
    TooWide { path: String, width: u32 },
}

/// Signals of a VCD sampled at every rising edge of its clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VcdSamples {
    /// Dotted paths, in the order asked for.
    pub paths: Vec<String>,
    /// Declared widths, same order.
    pub widths: Vec<u32>,
    /// The file's `$timescale`, e.g. `(1, TimescaleUnit::NS)`.
    pub timescale: Option<(u32, TimescaleUnit)>,
    /// The time of every rising edge of the clock, in units of `timescale`.
    pub edge_times: Vec<u64>,
    /// `values[i][k]`: signal `i` just before rising edge `k` (what the flops
    /// see); `None` while it is unknown (`x`/`z`, or not yet dumped).
    pub values: Vec<Vec<Option<u64>>>,
}

impl VcdSamples {
    pub fn index(&self, dotted: &str) -> Option<usize> {
        self.paths.iter().position(|p| p == dotted)
    }
}

/// Find `path` in `items`, also below any enclosing scopes (Verilator wraps the
/// design in `TOP`).
fn find_var<'a>(items: &'a [ScopeItem], path: &[&str]) -> Option<&'a vcd::Var> {
    fn exact<'a>(items: &'a [ScopeItem], path: &[&str]) -> Option<&'a vcd::Var> {
        let (name, scopes) = path.split_last()?;
        let mut items = items;
        for s in scopes {
            items = items.iter().find_map(|i| match i {
                ScopeItem::Scope(sc) if sc.identifier == *s => Some(&sc.items[..]),
                _ => None,
            })?;
        }
        items.iter().find_map(|i| match i {
            ScopeItem::Var(v) if v.reference == *name => Some(v),
            _ => None,
        })
    }
    exact(items, path).or_else(|| {
        items.iter().find_map(|i| match i {
            ScopeItem::Scope(sc) => find_var(&sc.items, path),
            _ => None,
        })
    })
}

fn to_u64(mut values: impl Iterator<Item = Value>) -> Option<u64> {
    values.try_fold(0u64, |acc, v| match v {
        Value::V0 => Some(acc << 1),
        Value::V1 => Some((acc << 1) | 1),
        Value::X | Value::Z => None,
    })
}

/// Read a VCD and sample `signals` (hierarchical paths) at every rising edge
/// (0 to 1) of `clock`: each sample is the value before the changes dumped at
/// the edge's time, i.e. what the flops clocked by that edge see.
pub fn sample_vcd(
    r: impl BufRead,
    clock: &[&str],
    signals: &[Vec<&str>],
) -> Result<VcdSamples, VcdError> {
    let mut parser = vcd::Parser::new(r);
    let header = parser.parse_header()?;
    let var = |path: &[&str]| {
        let v = find_var(&header.items, path).ok_or_else(|| VcdError::Missing(path.join(".")))?;
        if v.size > 64 {
            return Err(VcdError::TooWide {
                path: path.join("."),
                width: v.size,
            });
        }
        Ok(v)
    };
    let clk = var(clock)?.code;
    let mut by_code: HashMap<IdCode, Vec<usize>> = HashMap::new();
    let mut widths = Vec::with_capacity(signals.len());
    for (i, path) in signals.iter().enumerate() {
        let v = var(path)?;
        by_code.entry(v.code).or_default().push(i);
        widths.push(v.size);
    }

    let mut current: Vec<Option<u64>> = vec![None; signals.len()];
    let mut clk_now: Option<u64> = None;
    let mut time = 0u64;
    let mut pending: Vec<(IdCode, Option<u64>)> = Vec::new();
    let mut samples = VcdSamples {
        paths: signals.iter().map(|p| p.join(".")).collect(),
        widths,
        timescale: header.timescale,
        edge_times: Vec::new(),
        values: vec![Vec::new(); signals.len()],
    };
    // Apply the changes of one time step, sampling first if the clock rises.
    let mut flush = |pending: &mut Vec<(IdCode, Option<u64>)>,
                     current: &mut Vec<Option<u64>>,
                     clk_now: &mut Option<u64>,
                     time: u64| {
        let clk_next = pending
            .iter()
            .rev()
            .find(|(id, _)| *id == clk)
            .map(|&(_, v)| v);
        if let Some(next) = clk_next {
            if *clk_now == Some(0) && next == Some(1) {
                samples.edge_times.push(time);
                for (col, v) in samples.values.iter_mut().zip(current.iter()) {
                    col.push(*v);
                }
            }
            *clk_now = next;
        }
        for (id, v) in pending.drain(..) {
            if let Some(idx) = by_code.get(&id) {
                for &i in idx {
                    current[i] = v;
                }
            }
        }
    };
    for cmd in parser {
        match cmd? {
            Command::Timestamp(t) => {
                flush(&mut pending, &mut current, &mut clk_now, time);
                time = t;
            }
            Command::ChangeScalar(id, v) => pending.push((id, to_u64(std::iter::once(v)))),
            Command::ChangeVector(id, v) => pending.push((id, to_u64(v.iter()))),
            _ => {}
        }
    }
    flush(&mut pending, &mut current, &mut clk_now, time);
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::Region;
    use bbs_compress::QFormat;

    fn matrix(rows: usize, banks: usize, bank_size: usize, slots: usize) -> Csb {
        Csb {
            rows,
            cols: banks * bank_size,
            banks,
            bank_size,
            slots,
            format: QFormat { width: 8, frac: 5 },
            values: vec![1; rows * slots * banks],
            indices: (0..rows * slots * banks)
                .map(|i| (i % bank_size) as u16)
                .collect(),
        }
    }

    fn cfg(pes: usize) -> Config {
        Config {
            name: "t".into(),
            pes,
            banks: 2,
            value_width: 8,
            frac_bits: 5,
            acc_width: 17,
            max_rows: 16,
            max_cols: 16,
            max_slots: 4,
            ..Config::default()
        }
    }

    #[test]
    fn follows_the_timeline() {
        // 5 rows on 2 PEs: 3 local rows, PE 0 has all of them.
        let cfg = cfg(2);
        let csb = matrix(5, 2, 3, 2);
        let t = spmv_trace(&cfg, &csb).unwrap();
        let drain = cfg.drain_cycles();
        assert_eq!(t.cycles, CycleBreakdown::new(1, 3, 6, drain));
        assert_eq!(t.cycle_count(), 11 + drain as usize);
        let state = &t.signal("state_q").unwrap().values;
        let mut want = vec![0, 1, 1, 1, 2, 2, 2, 2, 2, 2];
        want.extend(vec![3; drain as usize]);
        want.push(4);
        assert_eq!(state, &want);
        assert_eq!(t.signal("done_o").unwrap().values.iter().sum::<u64>(), 1);
        assert_eq!(t.signal("vec_we_q").unwrap().values[2..5], [1, 1, 1]);
        assert_eq!(t.signal("vec_waddr_q").unwrap().values[2..5], [0, 1, 2]);
        assert_eq!(
            t.signal("mat_addr_q").unwrap().values[4..10],
            [0, 1, 2, 3, 4, 5]
        );
        assert_eq!(
            t.signal("slot_q").unwrap().values[4..10],
            [0, 1, 0, 1, 0, 1]
        );
        assert_eq!(
            t.signal("last_o").unwrap().values[4..10],
            [0, 1, 0, 1, 0, 1]
        );
        // PE 0 writes its three rows (0, 2, 4) `drain` cycles after each row's
        // last word: the last one in the cycle before done.
        let wr = &t.signal("wr_en_q").unwrap().values;
        let wr_row = &t.signal("wr_row_q").unwrap().values;
        let writes: Vec<(usize, u64)> = (0..t.cycle_count())
            .filter(|&c| wr[c] == 1)
            .map(|c| (c, wr_row[c]))
            .collect();
        let d = drain as usize;
        assert_eq!(writes, [(5 + d, 0), (7 + d, 1), (9 + d, 2)]);
        assert_eq!(9 + d, t.cycles.total as usize - 1);
    }

    #[test]
    fn pe0_writes_each_of_its_rows_once() {
        // On 3 PEs, PE 0 holds rows 0, 3, ...: one row of 2, two rows of 4.
        for (rows, writes) in [(2, 1), (4, 2), (6, 2), (7, 3)] {
            let t = spmv_trace(&cfg(3), &matrix(rows, 2, 2, 1)).unwrap();
            let wr = &t.signal("wr_en_q").unwrap().values;
            assert_eq!(wr.iter().sum::<u64>(), writes, "{rows} rows");
            // After the last local row, row_base is past the matrix.
            let row_ok = &t.signal("row_ok_i").unwrap().values;
            assert_eq!(row_ok[t.cycles.total as usize], 0, "{rows} rows");
        }
    }

    #[test]
    fn spmv_vcd_round_trips_and_is_deterministic() {
        let t = spmv_trace(&cfg(2), &matrix(5, 2, 3, 2)).unwrap();
        let mut a = Vec::new();
        write_vcd(&t, &mut a).unwrap();
        let mut b = Vec::new();
        write_vcd(&t, &mut b).unwrap();
        assert_eq!(a, b);
        let paths: Vec<Vec<&str>> = t.signals.iter().map(|s| s.path()).collect();
        let s = sample_vcd(&a[..], CLOCK, &paths).unwrap();
        assert_eq!(s.timescale, Some((1, TimescaleUnit::NS)));
        assert_eq!(s.edge_times.len(), t.cycle_count());
        assert_eq!(s.edge_times[3], edge_time_ns(3));
        for (i, sig) in t.signals.iter().enumerate() {
            assert_eq!(s.widths[i], sig.width, "{}", sig.name);
            let got: Vec<u64> = s.values[i].iter().map(|v| v.unwrap()).collect();
            assert_eq!(got, sig.values, "{}", sig.name);
        }
    }

    /// Q8.5, 2 elements per host beat, answered 2 cycles late; 2 EWOP lanes, 2 stages.
    fn machine_cfg() -> Config {
        let mut c = cfg(2);
        c.host.link_bytes_per_cycle = 2;
        c.host.link_latency = 2;
        c.ewop.lanes = 2;
        c.ewop.latency = 2;
        c.memory.vector_words = 64;
        c.memory.instruction_words = 8;
        c
    }

    /// load x; y = A x; y = sigmoid(y); z = B x; z = y[..3] + z; store z.
    fn program() -> (Vec<Csb>, Program) {
        let x = Region::new(0, 6);
        let y = Region::new(6, 5);
        let z = Region::new(11, 3);
        let instrs = vec![
            Instr::Load { dst: x },
            Instr::Spmv {
                matrix: 0,
                src: x,
                dst: y,
            },
            Instr::Act {
                func: crate::act::ActFn::Sigmoid,
                src: y,
                dst: y,
            },
            Instr::Spmv {
                matrix: 1,
                src: x,
                dst: z,
            },
            Instr::Ewop {
                func: EwOp::Add,
                a: y.slice(0, 3),
                b: z,
                dst: z,
            },
            Instr::Store { src: z },
        ];
        (
            vec![matrix(5, 2, 3, 2), matrix(3, 2, 3, 1)],
            Program {
                instrs,
                preloaded: vec![],
            },
        )
    }

    fn runs(cfg: &Config, mats: &[Csb], p: &Program, n: usize) -> Vec<RunReport> {
        let mut m = Machine::new(cfg, mats.to_vec()).unwrap();
        m.validate(p).unwrap();
        let mut inputs: VecDeque<Vec<i64>> = (0..n).map(|r| vec![r as i64 + 1; 6]).collect();
        (0..n).map(|_| m.run(p, &mut inputs).unwrap()).collect()
    }

    #[test]
    fn program_trace_follows_the_timelines() {
        let cfg = machine_cfg();
        let (mats, p) = program();
        let reports = runs(&cfg, &mats, &p, 2);
        let first = tb_first_start_edge(&cfg, None);
        assert_eq!(first, 5);
        let t = program_trace(&cfg, &mats, &p, &reports, first).unwrap();
        assert_eq!(t.runs[0].start_edge, 5);
        assert_eq!(t.runs[1].start_edge, t.runs[0].done_edge() + TB_RUN_GAP);
        assert_eq!(t.edge_count() as u64, t.runs[1].done_edge() + 1);
        let seq = |name| &t.signal(SEQ_SCOPE, name).unwrap().values;
        let ctrl = |name| &t.signal(CTRL_SCOPE, name).unwrap().values;
        let (state, pc, off) = (seq("state_q"), seq("pc_q"), seq("off_q"));
        // Reset values, then the start; between runs DONE.
        assert!(state[..5].iter().all(|&s| s == SeqState::Idle as u64));
        assert_eq!(seq("n_instr_i")[4..6], [0, 6]);
        let gap = t.runs[0].done_edge() as usize..=t.runs[1].start_edge as usize;
        assert!(state[gap.clone()]
            .iter()
            .all(|&s| s == SeqState::Done as u64));
        assert_eq!(pc[gap.clone()], [6, 6, 6, 6]);
        let starts: Vec<usize> = (0..t.edge_count())
            .filter(|&e| seq("start_i")[e] == 1)
            .collect();
        assert_eq!(starts, [5, *gap.end()]);
        for (r, span) in t.runs.iter().enumerate() {
            for timing in &reports[r].timeline {
                let d = (span.start_edge + timing.start) as usize;
                let end = d + timing.cycles as usize;
                // Dispatch: FETCH (or IDLE/DONE for the first instruction) and the
                // pc; the instruction's own state until its last cycle.
                assert_eq!(pc[d + 1], timing.index as u64, "run {r} {timing:?}");
                assert_eq!(off[d + 1], 0, "run {r} {timing:?}");
                let own = match timing.op {
                    "load" => SeqState::Load,
                    "store" => SeqState::Store,
                    "spmv" => SeqState::Spmv,
                    _ => SeqState::Issue,
                } as u64;
                assert_eq!(state[d + 1], own, "run {r} {timing:?}");
                let after = if timing.index == 5 {
                    SeqState::Done
                } else {
                    SeqState::Fetch
                } as u64;
                assert_eq!(state[end], after, "run {r} {timing:?}");
                assert!(state[d + 1..end].iter().all(|&s| s != after));
            }
        }
        // The load: 6 elements in 3 beats of 2, the first 2 cycles after the ask.
        let d = t.runs[1].start_edge as usize;
        assert_eq!(state[d + 1..d + 6], [2, 2, 2, 2, 2]);
        assert_eq!(seq("s_axis_tvalid_i")[d + 1..d + 7], [0, 0, 1, 1, 1, 0]);
        assert_eq!(off[d + 1..d + 7], [0, 0, 0, 2, 4, 6]);
        // The act: 5 elements on 2 lanes (3 issue cycles), then 2 cycles of wait.
        let act = (t.runs[0].start_edge + reports[0].timeline[2].start) as usize;
        assert_eq!(state[act + 1..act + 7], [5, 5, 5, 6, 6, 1]);
        assert_eq!(off[act + 1..act + 7], [0, 2, 4, 6, 6, 6]);
        assert_eq!(seq("wait_q")[act + 4..act + 7], [0, 1, 2]);
        assert_eq!(seq("op_o")[act + 1], 4);
        // Two spmvs per run; the second matrix starts after the first's 3 x 2 words.
        assert_eq!(t.spmvs.len(), 4);
        let s = &t.spmvs[1];
        let issue = (s.start_edge + 1 + s.cycles.load) as usize;
        assert_eq!(ctrl("state_q")[issue], CtrlState::Compute as u64);
        assert_eq!(ctrl("mat_addr_q")[issue..issue + 2], [6, 7]);
        // Before that, it still holds where the first matrix ended.
        assert_eq!(ctrl("mat_addr_q")[issue - 1], 6);
        assert_eq!(seq("mat_o")[issue], 6);
        assert_eq!(seq("rows_o")[issue], 3);
    }

    #[test]
    fn program_spmv_is_the_spmv_trace() {
        let cfg = machine_cfg();
        let (mats, p) = program();
        let reports = runs(&cfg, &mats, &p, 1);
        let t = program_trace(&cfg, &mats, &p, &reports, 5).unwrap();
        let s = &t.spmvs[0];
        let alone = spmv_trace(&cfg, &mats[0]).unwrap();
        assert_eq!(s.cycles, alone.cycles);
        let d = s.start_edge as usize;
        for sig in &alone.signals {
            let got = &t.signal(sig.scope, sig.name).unwrap().values[d..d + alone.cycle_count()];
            // At the dispatch edge the previous instruction (a load) is still
            // in instr_q: slots_i and rows_i are 0.
            let from = if matches!(sig.name, "last_o" | "row_ok_i") {
                assert_eq!(got[0], 0, "{}", sig.name);
                1
            } else {
                0
            };
            assert_eq!(got[from..], sig.values[from..], "{}", sig.name);
        }
    }

    #[test]
    fn program_vcd_round_trips_and_is_deterministic() {
        let cfg = machine_cfg();
        let (mats, p) = program();
        let reports = runs(&cfg, &mats, &p, 2);
        let t = program_trace(&cfg, &mats, &p, &reports, 5).unwrap();
        let mut a = Vec::new();
        write_vcd(&t, &mut a).unwrap();
        let mut b = Vec::new();
        write_vcd(
            &program_trace(&cfg, &mats, &p, &reports, 5).unwrap(),
            &mut b,
        )
        .unwrap();
        assert_eq!(a, b);
        let paths: Vec<Vec<&str>> = t.signals.iter().map(|s| s.path()).collect();
        let s = sample_vcd(&a[..], CLOCK, &paths).unwrap();
        assert_eq!(s.edge_times.len(), t.edge_count());
        for (i, sig) in t.signals.iter().enumerate() {
            assert_eq!(s.widths[i], sig.width, "{}", sig.dotted());
            let got: Vec<u64> = s.values[i].iter().map(|v| v.unwrap()).collect();
            assert_eq!(got, sig.values, "{}", sig.dotted());
        }
    }

    #[test]
    fn program_trace_refuses_what_the_rtl_does_not_do() {
        let cfg = machine_cfg();
        let (mats, p) = program();
        let reports = runs(&cfg, &mats, &p, 1);
        // A timeline the RTL does not follow.
        let mut late = reports.clone();
        late[0].timeline[3].start += 1;
        let e = program_trace(&cfg, &mats, &p, &late, 5).unwrap_err();
        assert!(e.to_string().contains("instruction 3 (spmv)"), "{e}");
        let mut longer = reports.clone();
        longer[0].cycles += 1;
        assert!(program_trace(&cfg, &mats, &p, &longer, 5).is_err());
        // Matrices streamed from DRAM are simulated only.
        let mut dram = cfg.clone();
        dram.memory.matrix = MatrixStorage::Dram;
        assert!(matches!(
            program_trace(&dram, &mats, &p, &reports, 5),
            Err(TraceError::Dram)
        ));
        let empty = Program::default();
        assert!(program_trace(&cfg, &mats, &empty, &reports, 5).is_err());
        assert!(program_trace(&cfg, &mats, &p, &[], 5).is_err());
        // A report of another program.
        let mut other = p.clone();
        other.instrs.pop();
        assert!(program_trace(&cfg, &mats, &other, &reports, 5).is_err());
    }

    #[test]
    fn bank_reads_follow_the_issue() {
        let cfg = machine_cfg();
        let (mats, p) = program();
        let reports = runs(&cfg, &mats, &p, 1);
        let t = program_trace(&cfg, &mats, &p, &reports, 5).unwrap();
        let mut csv = Vec::new();
        write_bank_reads_csv(&cfg, &mats, &t, &mut csv).unwrap();
        let text = String::from_utf8(csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "cycle,pe,bank,address");
        // A: 3 local rows x 2 slots, B: 2 x 1; 2 PEs x 2 banks each cycle.
        assert_eq!(lines.len(), 1 + (6 + 2) * 2 * 2);
        // The first word issued at the first compute edge is read at the next.
        let s = &t.spmvs[0];
        let issue = s.start_edge + 1 + s.cycles.load;
        let (_, idx) = mats[0].word(0, 0);
        assert_eq!(lines[1], format!("{},0,0,{}", issue + 1, idx[0]));
        // Row 5 does not exist: PE 1's last local row reads the padding word.
        let (_, idx) = mats[0].word(4, 1);
        let tail: Vec<&str> = lines[21..25].to_vec();
        let e = issue + 6;
        assert_eq!(
            tail,
            [
                format!("{e},0,0,{}", idx[0]),
                format!("{e},0,1,{}", idx[1]),
                format!("{e},1,0,0"),
                format!("{e},1,1,0"),
            ]
        );
    }

    #[test]
    fn rejects_a_matrix_that_does_not_fit() {
        assert!(spmv_trace(&cfg(1), &matrix(17, 2, 3, 2)).is_err());
    }
}
