//! VCD files: the simulator's waveforms written with the RTL's scopes,
//! names and times, and any VCD (Verilator's too) sampled back at the
//! rising clock edges, so the two can be compared signal by signal.

use super::{edge_time_ns, TimescaleUnit, TraceSignal, Waveform, CLOCK, CLOCK_PERIOD_NS};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use vcd::{Command, IdCode, ScopeItem, Value};

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
