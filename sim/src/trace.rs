//! A waveform of one SpMxV from the simulator, with the generated RTL's signal
//! names, and a VCD reader to compare it with the RTL's own dump.
//!
//! [`spmv_trace`] steps the controller of `docs/architecture.md` cycle by cycle
//! through the simulator's timeline (start 1, load `bank_size`, compute
//! `ceil(R / P) * n`, drain `3 + mult_stages + adder_stages`) and records the
//! controller and datapath-control signals as `bbs_ctrl` and PE 0 of the RTL
//! hold them. [`write_vcd`] writes them as a VCD whose scopes, names, widths
//! and times are those of the testbench `tb_bbs`'s dump, so both can be viewed
//! side by side; [`sample_vcd`] reads any VCD back at the rising clock edges.
//! `docs/trace.md` describes the signals and the timing.

use crate::arith::clog2;
use crate::config::Config;
use crate::spmv::{CycleBreakdown, SimError};
use bbs_compress::Csb;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Write};
use vcd::{Command, IdCode, ScopeItem, Value};

/// The `vcd` crate's time units, as [`VcdSamples::timescale`] gives them.
pub use vcd::TimescaleUnit;

/// The controller's scope in `tb_bbs`'s dump.
pub const CTRL_SCOPE: &[&str] = &["tb_bbs", "dut", "u_ctrl"];
/// PE 0's scope in `tb_bbs`'s dump.
pub const PE0_SCOPE: &[&str] = &["tb_bbs", "dut", "u_pe0"];
/// The testbench's clock.
pub const CLOCK: &[&str] = &["tb_bbs", "clk_i"];
/// One clock period in ns: `tb_bbs` toggles the clock every 5 ns, so rising
/// edge `k` (counted from 0) is at `k * 10 + 5` ns.
pub const CLOCK_PERIOD_NS: u64 = 10;

/// Rising edges before `tb_bbs` samples `start_i`: it holds reset for three
/// cycles, writes the vector one word per cycle (`bank_size` words) and raises
/// `start_i` on the next falling edge.
pub fn tb_start_edge(bank_size: usize) -> u64 {
    3 + bank_size as u64 + 1
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

/// One traced signal: where it is, how wide, and its value at every cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceSignal {
    /// The RTL scope, e.g. [`CTRL_SCOPE`].
    pub scope: &'static [&'static str],
    /// The RTL name within the scope.
    pub name: &'static str,
    /// Bits, as the RTL declares it.
    pub width: u32,
    /// `values[c]`: the value sampled at the rising edge of cycle `c`.
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

/// The control signals of one SpMxV, cycle by cycle.
///
/// Cycle `c` is rising edge `start_edge + c`; cycle 0 samples `start_i`, the
/// last cycle (`cycles.total`) is the first to sample `done_o`. A signal's value
/// at cycle `c` is the one the flops see at that edge, i.e. the value set at
/// the edge before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpmvTrace {
    pub config: String,
    pub cycles: CycleBreakdown,
    /// The rising edge (from the start of `tb_bbs`'s run) of cycle 0; only
    /// [`write_vcd`]'s times depend on it.
    pub start_edge: u64,
    pub signals: Vec<TraceSignal>,
}

impl SpmvTrace {
    /// Cycles traced: `cycles.total + 1`.
    pub fn cycle_count(&self) -> usize {
        self.cycles.total as usize + 1
    }

    pub fn signal(&self, name: &str) -> Option<&TraceSignal> {
        self.signals.iter().find(|s| s.name == name)
    }
}

/// Bit widths of the traced registers, as `bbs-hdlgen`'s `RtlParams` derives them.
struct Widths {
    index: u32,
    mat_addr: u32,
    slots: u32,
    local_row: u32,
    row_base: u32,
    drain: u32,
}

impl Widths {
    fn new(cfg: &Config) -> Widths {
        let rows_w = clog2(cfg.max_rows + 1);
        Widths {
            index: cfg.index_width(),
            mat_addr: clog2(cfg.matrix_depth()),
            slots: clog2(cfg.max_slots + 1),
            local_row: clog2(cfg.rows_per_pe()),
            row_base: clog2(cfg.rows_per_pe() * cfg.pes + 1).max(rows_w + 1),
            drain: clog2(cfg.drain_cycles() as usize),
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

/// The controller's registers between two rising edges.
#[derive(Clone, Copy, Debug)]
struct Ctrl {
    state: CtrlState,
    /// Cycles spent in `state` so far (the phase's position on the timeline).
    in_phase: u64,
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

/// The controller and PE 0's write-back, one SpMxV on one matrix.
struct Machine<'a> {
    cfg: &'a Config,
    w: Widths,
    time: CycleBreakdown,
    slots: u64,
    rows: u64,
    ctrl: Ctrl,
    /// PE 0's tags in flight: issue to accumulate takes `2 + mult + adder` cycles.
    tags: VecDeque<Tag>,
    wr_en: bool,
    wr_row: u64,
}

impl Machine<'_> {
    fn last_slot(&self) -> bool {
        self.ctrl.slot == self.slots - 1
    }

    fn row_ok(&self) -> bool {
        // PE 0 works on global row row_base + 0.
        self.ctrl.row_base < self.rows
    }

    /// One rising edge: `start` is `start_i` at that edge.
    fn step(&mut self, start: bool) {
        let c = self.ctrl;
        let mut n = c;
        n.in_phase = c.in_phase + 1;
        // The vector memory answers one cycle after the read: the PEs' banks
        // are written the cycle after.
        n.vec_we = c.state == CtrlState::Load;
        n.vec_waddr = c.vec_raddr;
        let enter = |n: &mut Ctrl, state| {
            n.state = state;
            n.in_phase = 0;
        };
        match c.state {
            CtrlState::Idle | CtrlState::Done => {
                if start {
                    enter(&mut n, CtrlState::Load);
                    n.vec_raddr = 0;
                }
            }
            CtrlState::Load => {
                // One vector word per cycle, `bank_size` cycles.
                n.vec_raddr = mask(c.vec_raddr + 1, self.w.index);
                if c.in_phase + 1 == self.time.load {
                    enter(&mut n, CtrlState::Compute);
                    n.mat_addr = 0;
                    n.slot = 0;
                    n.local_row = 0;
                    n.row_base = 0;
                }
            }
            CtrlState::Compute => {
                // One CSB word per cycle: slot s of local row j is word j * n + s.
                n.mat_addr = mask(c.mat_addr + 1, self.w.mat_addr);
                if self.last_slot() {
                    n.slot = 0;
                    n.local_row = mask(c.local_row + 1, self.w.local_row);
                    n.row_base = mask(c.row_base + self.cfg.pes as u64, self.w.row_base);
                } else {
                    n.slot = c.slot + 1;
                }
                if c.in_phase + 1 == self.time.compute {
                    enter(&mut n, CtrlState::Drain);
                    n.drain = 0;
                }
            }
            CtrlState::Drain => {
                n.drain = mask(c.drain + 1, self.w.drain);
                if c.in_phase + 1 == self.time.drain {
                    enter(&mut n, CtrlState::Done);
                }
            }
        }
        // PE 0: the tag issued now enters the pipeline, the oldest one reaches
        // the accumulator, and the write enable and row follow one cycle later.
        let issued = Tag {
            valid: c.state == CtrlState::Compute,
            last: self.last_slot(),
            row_ok: self.row_ok(),
            local_row: c.local_row,
        };
        self.tags.push_back(issued);
        let acc = self.tags.pop_front().unwrap_or_default();
        self.wr_en = acc.valid && acc.last && acc.row_ok;
        self.wr_row = acc.local_row;
        self.ctrl = n;
    }
}

/// The controller and datapath-control signals of one SpMxV of `csb` on `cfg`,
/// from the cycle `start_i` is sampled to the first cycle that sees `done_o`,
/// starting from reset (as `tb_bbs` does). The signals do not depend on the
/// input vector.
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
    let acc_stage = 2 + cfg.pipeline.mult_stages as usize + cfg.pipeline.adder_stages as usize;
    let mut m = Machine {
        cfg,
        time: time.clone(),
        slots: csb.slots as u64,
        rows: csb.rows as u64,
        ctrl: Ctrl {
            state: CtrlState::Idle,
            in_phase: 0,
            vec_raddr: 0,
            vec_we: false,
            vec_waddr: 0,
            mat_addr: 0,
            slot: 0,
            local_row: 0,
            row_base: 0,
            drain: 0,
        },
        // Before the start nothing valid is in flight.
        tags: vec![Tag::default(); acc_stage].into(),
        wr_en: false,
        wr_row: 0,
        w,
    };

    let bit = |b: bool| b as u64;
    let w = &m.w;
    let mut signals: Vec<TraceSignal> = [
        (CTRL_SCOPE, "state_q", 3),
        (CTRL_SCOPE, "busy_o", 1),
        (CTRL_SCOPE, "done_o", 1),
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
    .into_iter()
    .map(|(scope, name, width)| TraceSignal {
        scope,
        name,
        width,
        values: Vec::with_capacity(time.total as usize + 1),
    })
    .collect();

    for cycle in 0..=time.total {
        let c = m.ctrl;
        let sample = [
            c.state as u64,
            bit(!matches!(c.state, CtrlState::Idle | CtrlState::Done)),
            bit(c.state == CtrlState::Done),
            c.vec_raddr,
            bit(c.vec_we),
            c.vec_waddr,
            bit(c.state == CtrlState::Compute),
            c.mat_addr,
            c.slot,
            c.local_row,
            c.row_base,
            bit(c.slot == 0),
            bit(m.last_slot()),
            c.drain,
            bit(m.row_ok()),
            bit(m.wr_en),
            m.wr_row,
        ];
        for (s, v) in signals.iter_mut().zip(sample) {
            s.values.push(v);
        }
        // done_o is first seen exactly at the end of the timeline.
        debug_assert_eq!(c.state == CtrlState::Done, cycle == time.total);
        m.step(cycle == 0);
    }
    Ok(SpmvTrace {
        config: cfg.name.clone(),
        start_edge: tb_start_edge(csb.bank_size),
        cycles: time,
        signals,
    })
}

fn vector(v: u64, width: u32) -> impl Iterator<Item = Value> {
    (0..width)
        .rev()
        .map(move |b| Value::from(b < 64 && (v >> b) & 1 == 1))
}

/// Write `trace` as a VCD: timescale 1 ns, the clock `tb_bbs.clk_i` (period
/// [`CLOCK_PERIOD_NS`]), the controller's signals in `tb_bbs.dut.u_ctrl` and
/// PE 0's in `tb_bbs.dut.u_pe0`. Every change is at the rising edge that makes
/// it, at the times of `tb_bbs`'s own dump (cycle `c` is the edge
/// `trace.start_edge + c`); the file ends at the edge that first sees `done_o`.
/// The same trace always gives the same bytes.
pub fn write_vcd(trace: &SpmvTrace, w: impl Write) -> std::io::Result<()> {
    let mut out = vcd::Writer::new(w);
    out.version(&format!(
        "bbs-sim {} (simulator trace)",
        env!("CARGO_PKG_VERSION")
    ))?;
    out.comment(&format!(
        "configuration {}: cycles start {} load {} compute {} drain {} total {}",
        trace.config,
        trace.cycles.start,
        trace.cycles.load,
        trace.cycles.compute,
        trace.cycles.drain,
        trace.cycles.total
    ))?;
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
    let mut ids = Vec::with_capacity(trace.signals.len());
    for s in &trace.signals {
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
    for (s, &id) in trace.signals.iter().zip(&ids) {
        change(&mut out, id, s, s.values[0])?;
    }
    out.end()?;
    // Values before cycle 0 are those of cycle 0 (reset, then idle).
    let last_edge = trace.start_edge + trace.cycles.total;
    for edge in 0..=last_edge {
        out.timestamp(edge_time_ns(edge))?;
        out.change_scalar(clk, Value::V1)?;
        // The edge of cycle c sets the values cycle c + 1 samples.
        if edge >= trace.start_edge && edge < last_edge {
            let c = (edge - trace.start_edge) as usize;
            for (s, &id) in trace.signals.iter().zip(&ids) {
                if s.values[c + 1] != s.values[c] {
                    change(&mut out, id, s, s.values[c + 1])?;
                }
            }
        }
        if edge < last_edge {
            out.timestamp(edge_time_ns(edge) + CLOCK_PERIOD_NS / 2)?;
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
    fn vcd_round_trips_and_is_deterministic() {
        let t = spmv_trace(&cfg(2), &matrix(5, 2, 3, 2)).unwrap();
        let mut a = Vec::new();
        write_vcd(&t, &mut a).unwrap();
        let mut b = Vec::new();
        write_vcd(&t, &mut b).unwrap();
        assert_eq!(a, b);
        let paths: Vec<Vec<&str>> = t.signals.iter().map(|s| s.path()).collect();
        let s = sample_vcd(&a[..], CLOCK, &paths).unwrap();
        let start = t.start_edge as usize;
        assert_eq!(s.timescale, Some((1, TimescaleUnit::NS)));
        assert_eq!(s.edge_times.len(), start + t.cycle_count());
        assert_eq!(s.edge_times[start], edge_time_ns(t.start_edge));
        for (i, sig) in t.signals.iter().enumerate() {
            assert_eq!(s.widths[i], sig.width, "{}", sig.name);
            let got: Vec<u64> = s.values[i][start..].iter().map(|v| v.unwrap()).collect();
            assert_eq!(got, sig.values, "{}", sig.name);
        }
    }

    #[test]
    fn rejects_a_matrix_that_does_not_fit() {
        assert!(spmv_trace(&cfg(1), &matrix(17, 2, 3, 2)).is_err());
    }
}
