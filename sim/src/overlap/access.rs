//! When an instruction touches each element of the vector memory, relative
//! to its own start: the per-element form of the cycle formulas of
//! [`crate::arch::timing`]. The schedule ([`super::schedule`]) places these
//! in time; the wait derivation ([`super::waits`]) and the validator
//! ([`super::schedule::check`]) compare them element by element.
//!
//! Every instruction has a *read anchor* (the cycle its reads are counted
//! from) and a *write anchor* (its writes). They are the same cycle, the
//! instruction's dispatch cycle, except for `spmv`, whose reads are the
//! vector load (from its dispatch on the vector-load unit) and whose writes
//! are the PE results (from its first compute cycle on the PE array).
//! A value written in cycle `t` is readable from cycle `t + 1`.

use crate::arch::timing;
use crate::config::Config;
use crate::isa::{EwOp, Instr};
use bbs_compress::Csb;

/// The unit an instruction occupies (an `spmv` occupies two, one after the other).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lane {
    DmaIn,
    DmaOut,
    /// The copy of an SpMxV's source vector into the PEs' private banks.
    VectorLoad,
    Pe,
    /// EWOP instructions, and ACT ones unless `overlap.act_unit`: the
    /// element-wise unit's lanes.
    Elementwise,
    /// ACT instructions on their own lanes (`overlap.act_unit`).
    Act,
}

/// One element touched at `offset` cycles after the anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Touch {
    pub element: u32,
    pub offset: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Access {
    /// The unit of the read anchor (for `spmv` the vector load, then the PEs).
    pub lane: Lane,
    /// Per read field, the elements read and when, from the read anchor.
    pub reads: Vec<(&'static str, Vec<Touch>)>,
    /// The elements written and when, from the write anchor.
    pub writes: Vec<Touch>,
    /// Cycles the read anchor's unit is held (dispatch included); for
    /// `spmv`, the vector load's `1 + bank_size`.
    pub busy: u64,
    /// `spmv` only: cycles the PE array issues words (`ceil(rows / pes) * slots`),
    /// counted from the write anchor; its private vector copy is read until then.
    pub pe_busy: u64,
    /// From the write anchor to the cycle after the last write (or the last
    /// read, for a `store`): the instruction's end.
    pub end: u64,
    /// The instruction's cycles in the serialized machine ([`crate::arch::timing`]).
    pub serial: u64,
}

impl Access {
    pub fn is_spmv(&self) -> bool {
        self.lane == Lane::VectorLoad
    }
    /// The last read's offset plus one: a writer that starts its writes
    /// then (from this instruction's read anchor) cannot overtake a read.
    pub fn read_end(&self) -> u64 {
        self.reads
            .iter()
            .flat_map(|(_, t)| t.iter())
            .map(|t| t.offset as u64 + 1)
            .max()
            .unwrap_or(0)
    }
}

fn run(base: usize, len: usize, offset: impl Fn(usize) -> u64) -> Vec<Touch> {
    (0..len)
        .map(|i| Touch {
            element: (base + i) as u32,
            offset: offset(i) as u32,
        })
        .collect()
}

/// The accesses of one validated instruction.
pub fn access(cfg: &Config, matrices: &[Csb], instr: &Instr) -> Access {
    let lat = cfg.host.link_latency as u64;
    let beat = cfg.beat_elements() as u64;
    let lanes = cfg.ewop.lanes as u64;
    let ew_lat = cfg.ewop.latency as u64;
    match *instr {
        Instr::Load { dst } => {
            let serial = timing::dma(cfg, dst.len);
            Access {
                lane: Lane::DmaIn,
                reads: vec![],
                // Beat k arrives `link_latency` cycles after the request
                // (the dispatch cycle) and is written in cycle 1 + lat + k.
                writes: run(dst.base, dst.len, |i| 1 + lat + i as u64 / beat),
                busy: serial,
                pe_busy: 0,
                end: serial,
                serial,
            }
        }
        Instr::Store { src } => {
            let serial = timing::dma(cfg, src.len);
            Access {
                lane: Lane::DmaOut,
                // Beat k is read as the host accepts it, in cycle 1 + lat + k.
                reads: vec![("src", run(src.base, src.len, |i| 1 + lat + i as u64 / beat))],
                writes: vec![],
                busy: serial,
                pe_busy: 0,
                end: serial,
                serial,
            }
        }
        Instr::Spmv { matrix, src, dst } => {
            let m = &matrices[matrix];
            let b = timing::spmv(cfg, m);
            // Matrices streamed from DRAM (serialized machine only) compute longer.
            let compute = timing::spmv_instr(cfg, m) - b.start - b.load - b.drain;
            let bank_size = m.bank_size;
            let slots = m.slots as u64;
            let drain = timing::drain(cfg);
            let pes = cfg.pes;
            // Strided: element `bank * bank_size + j` goes into private
            // bank `bank` in load cycle j (cycle 1 + j after dispatch).
            // Interleaved: the words `[j * run, (j + 1) * run)` in load
            // cycle j, `run = banks * load_width`.
            let run_words = cfg.banks * cfg.overlap.load_width;
            let load_cycle = |e: usize| {
                if cfg.overlap.interleaved {
                    e / run_words
                } else {
                    e % bank_size
                }
            };
            let reads = (0..src.len)
                .map(|e| Touch {
                    element: (src.base + e) as u32,
                    offset: (1 + load_cycle(e)) as u32,
                })
                .collect();
            // Row r is local row r / pes of PE r % pes: its last word issues
            // in compute cycle (local + 1) * slots - 1 and its result is
            // written `drain` cycles later, less the one the next reader takes.
            let writes = run(dst.base, dst.len, |r| {
                ((r / pes) as u64 + 1) * slots + drain - 1
            });
            Access {
                lane: Lane::VectorLoad,
                reads: vec![("src", reads)],
                writes,
                busy: b.start + b.load,
                pe_busy: compute,
                end: compute + b.drain,
                serial: b.start + b.load + compute + b.drain,
            }
        }
        Instr::Ewop { func, a, b, dst } => {
            let serial = timing::elementwise(cfg, dst.len);
            let at = |i: usize| 1 + i as u64 / lanes;
            let mut reads = vec![("a", run(a.base, a.len, at))];
            if func != EwOp::Copy {
                reads.push(("b", run(b.base, b.len, at)));
            }
            Access {
                lane: Lane::Elementwise,
                reads,
                writes: run(dst.base, dst.len, |i| at(i) + ew_lat),
                busy: serial - ew_lat,
                pe_busy: 0,
                end: serial,
                serial,
            }
        }
        Instr::Act { src, dst, .. } => {
            let serial = timing::elementwise(cfg, dst.len);
            let at = |i: usize| 1 + i as u64 / lanes;
            Access {
                lane: if cfg.overlap.act_unit {
                    Lane::Act
                } else {
                    Lane::Elementwise
                },
                reads: vec![("src", run(src.base, src.len, at))],
                writes: run(dst.base, dst.len, |i| at(i) + ew_lat),
                busy: serial - ew_lat,
                pe_busy: 0,
                end: serial,
                serial,
            }
        }
    }
}
