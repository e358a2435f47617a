//! Waveforms from the simulator, with the generated RTL's signal names, and a
//! VCD reader to compare them with the RTL's own dump.
//!
//! [`program_trace`] expands the timelines of a program's runs
//! ([`crate::machine::RunReport::timeline`], one run per frame, state carried) into the
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

//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the signal type, the testbench's clock and start edges, errors |
//! | `ctrl.rs` | `bbs_ctrl` and PE 0's write-back stepped edge by edge; [`spmv_trace`] |
//! | `program.rs` | `bbs_seq` stepped edge by edge over a program's runs; [`program_trace`] |
//! | `issue.rs` | the overlapped machine's issue stage (each unit's starts); [`issue_trace`] |
//! | `vcd_io.rs` | [`write_vcd`] and [`sample_vcd`] |
//! | `bank_reads.rs` | [`write_bank_reads_csv`] |
//!
//! Widths, state encodings, instruction fields and cycle counts all come
//! from [`crate::arch`], as the templates' do.

use crate::config::{Config, ConfigError};
use crate::machine::ProgramError;

mod bank_reads;
mod ctrl;
mod issue;
mod program;
#[cfg(test)]
mod tests;
mod vcd_io;

pub use bank_reads::write_bank_reads_csv;
pub use ctrl::{spmv_trace, SpmvTrace};
pub use issue::{issue_trace, IssueTrace, TOP_SCOPE};
pub use program::{program_trace, ProgramTrace, RunSpan, SpmvSpan};
pub use vcd_io::{sample_vcd, write_vcd, VcdError, VcdSamples};

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
/// word and PE plus one to release the port, then NINSTR, (on the
/// overlapped machine FRAMES,) then CTRL.
/// `port_words` is `Some(words per PE)` for the load port, `None` when the
/// matrix memories are preloaded (`$readmemh`).
pub fn tb_first_start_edge(cfg: &Config, port_words: Option<usize>) -> u64 {
    let port = port_words.map_or(0, |w| (cfg.pes * w) as u64 + 1);
    3 + port + 2 + u64::from(cfg.overlap.units)
}

/// Time of rising edge `edge`, in ns.
pub fn edge_time_ns(edge: u64) -> u64 {
    edge * CLOCK_PERIOD_NS + CLOCK_PERIOD_NS / 2
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

fn mask(v: u64, width: usize) -> u64 {
    if width >= 64 {
        v
    } else {
        v & ((1u64 << width) - 1)
    }
}

fn bit(b: bool) -> u64 {
    b as u64
}

fn signals_from(
    decl: &[(&'static [&'static str], &'static str, usize)],
    edges: usize,
) -> Vec<TraceSignal> {
    decl.iter()
        .map(|&(scope, name, width)| TraceSignal {
            scope,
            name,
            width: width as u32,
            values: Vec::with_capacity(edges),
        })
        .collect()
}

fn push(signals: &mut [TraceSignal], values: impl IntoIterator<Item = u64>) {
    for (s, v) in signals.iter_mut().zip(values) {
        s.values.push(v);
    }
}
