//! The overlapped machine's vector memory split by writer.
//!
//! Its units write at the same time: the DMA in, the PE array, the EWOP
//! lanes and (with `overlap.act_unit`) the ACT lanes. A bank that two of
//! them could write would need a write port for each, and a memory with
//! several write ports is a register file (Yosys mapped the overlapped mini's
//! four-writer vector memory, before this split, to flip-flops and 11k
//! LUTs). So each writer
//! owns a part of the address space: the part is its own memory, banked like
//! the serialized machine's, with one write port per bank. Every unit reads
//! every part.
//!
//! The parts, in address order: DMA in, PE array, ACT (with
//! `overlap.act_unit`), EWOP. Every part but the last starts and ends on a
//! bank row (a multiple of [`VectorMemory::banks`]), so element `e` is in
//! bank `e % banks` of whichever part holds it. `overlap.regions` sets the
//! sizes; without it the split is [`DEFAULT_SIXTEENTHS`] of
//! `memory.vector_words`, in whole bank rows, the EWOP part taking the rest.
//!
//! The program generator lays a network out so that each region is written
//! by one unit ([`super::compile`]); the validator refuses a program whose
//! instruction writes outside its unit's part
//! ([`crate::machine::Machine::validate`]). Values loaded with the program
//! (biases, initial states) may sit in any part.
//!
//! The run ports (EWOP a and b, store, ACT) read every word; the SpMxV
//! vector load's `banks` ports read only the first words of each part,
//! `overlap.loadable` of them (all without it). Each read port is a copy of
//! a bank in distributed RAM, so a part whose vectors are never loaded
//! (gate sums, activations, cell state: most of an LSTM's words) costs a
//! fraction of one the vector load reads. In the RTL each part is then two
//! memories with the one writer ([`WriterRegions::banked`]).

use crate::arch::VectorMemory;
use crate::config::{Config, ConfigError};
use crate::isa::{Instr, Region};

/// The units that write the vector memory, in the RTL's write-group order
/// (`templates/overlap/bbs_vmem.v`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Writer {
    DmaIn,
    Pe,
    Elementwise,
    Act,
}

impl Writer {
    /// The RTL's write-group number.
    pub fn group(self) -> usize {
        self as usize
    }
    pub fn describe(self) -> &'static str {
        match self {
            Writer::DmaIn => "the DMA in",
            Writer::Pe => "the PE array",
            Writer::Elementwise => "the EWOP lanes",
            Writer::Act => "the ACT lanes",
        }
    }
    /// Whose part: "the PE array's", "the EWOP lanes'".
    pub fn possessive(self) -> &'static str {
        match self {
            Writer::DmaIn => "the DMA in's",
            Writer::Pe => "the PE array's",
            Writer::Elementwise => "the EWOP lanes'",
            Writer::Act => "the ACT lanes'",
        }
    }
    /// Its field in `overlap.regions`.
    pub fn field(self) -> &'static str {
        match self {
            Writer::DmaIn => "overlap.regions.dma",
            Writer::Pe => "overlap.regions.pe",
            Writer::Elementwise => "overlap.regions.ewop",
            Writer::Act => "overlap.regions.act",
        }
    }
    /// The unit that writes `instr`'s destination (`store` writes none).
    pub fn of(instr: &Instr, cfg: &Config) -> Option<Writer> {
        match instr {
            Instr::Load { .. } => Some(Writer::DmaIn),
            Instr::Spmv { .. } => Some(Writer::Pe),
            Instr::Ewop { .. } => Some(Writer::Elementwise),
            Instr::Act { .. } if cfg.overlap.act_unit => Some(Writer::Act),
            Instr::Act { .. } => Some(Writer::Elementwise),
            Instr::Store { .. } => None,
        }
    }
}

/// A writer's field in `overlap.loadable`.
pub fn loadable_field(w: Writer) -> &'static str {
    match w {
        Writer::DmaIn => "overlap.loadable.dma",
        Writer::Pe => "overlap.loadable.pe",
        Writer::Elementwise => "overlap.loadable.ewop",
        Writer::Act => "overlap.loadable.act",
    }
}

/// The default split in sixteenths of the vector memory: DMA in, PE array,
/// ACT (with `overlap.act_unit`); the EWOP lanes take the rest. An LSTM of
/// `n` cells writes `8n` PE results (both products), `4n` activations and
/// `7n` element-wise results, and its `4n` biases go where there is room; a
/// GRU writes `6n`, `3n` and `11n`; a layer's input or an SpMxV's vector
/// comes in by DMA.
pub const DEFAULT_SIXTEENTHS: [usize; 3] = [2, 5, 3];

/// Each writer's part of the vector memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterRegions {
    /// In address order, each with its part.
    pub parts: Vec<(Writer, Region)>,
    /// Of each part (same order), the words at its start the vector load
    /// reads.
    pub loadable: Vec<usize>,
}

/// One memory of the overlapped machine's vector memory: a writer's part,
/// or the piece of it the vector load reads or the rest
/// ([`WriterRegions::banked`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BankedPart {
    pub writer: Writer,
    pub region: Region,
    /// The vector load reads it (its banks have the load ports).
    pub loads: bool,
}

impl WriterRegions {
    /// The split of `cfg` (`overlap.units` on): `overlap.regions` checked,
    /// or the default.
    pub fn new(cfg: &Config) -> Result<WriterRegions, ConfigError> {
        let invalid = |field, message| ConfigError::Invalid { field, message };
        let vm = VectorMemory::new(cfg);
        let act = cfg.overlap.act_unit;
        let words = cfg.memory.vector_words;
        let sizes: Vec<(Writer, usize)> = match cfg.overlap.regions {
            Some(r) => {
                if !act && r.act != 0 {
                    return Err(invalid(
                        "overlap.regions.act",
                        format!(
                            "is {} but overlap.act_unit is off: the EWOP lanes write the activations",
                            r.act
                        ),
                    ));
                }
                let mut v = vec![(Writer::DmaIn, r.dma), (Writer::Pe, r.pe)];
                if act {
                    v.push((Writer::Act, r.act));
                }
                v.push((Writer::Elementwise, r.ewop));
                let sum: usize = v.iter().map(|(_, n)| n).sum();
                if sum != words {
                    return Err(invalid(
                        "overlap.regions",
                        format!("the parts add up to {sum} words, memory.vector_words is {words}"),
                    ));
                }
                v
            }
            None => {
                let rows = words / vm.banks;
                let mut v = vec![
                    (Writer::DmaIn, DEFAULT_SIXTEENTHS[0]),
                    (Writer::Pe, DEFAULT_SIXTEENTHS[1]),
                ];
                if act {
                    v.push((Writer::Act, DEFAULT_SIXTEENTHS[2]));
                }
                let mut v: Vec<(Writer, usize)> = v
                    .into_iter()
                    .map(|(w, s)| (w, (rows * s / 16).max(1) * vm.banks))
                    .collect();
                let taken: usize = v.iter().map(|(_, n)| n).sum();
                if taken + vm.banks > words {
                    return Err(invalid(
                        "memory.vector_words",
                        format!(
                            "{words} is too small to split among the overlapped machine's {} writers in rows of {} elements",
                            v.len() + 1,
                            vm.banks
                        ),
                    ));
                }
                v.push((Writer::Elementwise, words - taken));
                v
            }
        };
        let last = sizes.len() - 1;
        let mut parts = Vec::with_capacity(sizes.len());
        let mut base = 0;
        for (k, (w, n)) in sizes.into_iter().enumerate() {
            if n == 0 {
                return Err(invalid(w.field(), "must be at least 1 word".into()));
            }
            if k != last && n % vm.banks != 0 {
                return Err(invalid(
                    w.field(),
                    format!(
                        "{n} is not a multiple of the vector memory's {} banks (every part but the EWOP one ends on a bank row)",
                        vm.banks
                    ),
                ));
            }
            parts.push((w, Region::new(base, n)));
            base += n;
        }
        let loadable = match cfg.overlap.loadable {
            None => parts.iter().map(|(_, r)| r.len).collect(),
            Some(l) => {
                if !act && l.act != 0 {
                    return Err(invalid(
                        "overlap.loadable.act",
                        format!("is {} but overlap.act_unit is off", l.act),
                    ));
                }
                let mut v = Vec::with_capacity(parts.len());
                for (w, r) in &parts {
                    let n = match w {
                        Writer::DmaIn => l.dma,
                        Writer::Pe => l.pe,
                        Writer::Act => l.act,
                        Writer::Elementwise => l.ewop,
                    };
                    let field = loadable_field(*w);
                    if n > r.len {
                        return Err(invalid(
                            field,
                            format!(
                                "{n} is more than the part's {} words ({})",
                                r.len,
                                w.field()
                            ),
                        ));
                    }
                    if n != r.len && n % vm.banks != 0 {
                        return Err(invalid(
                            field,
                            format!(
                                "{n} is not a multiple of the vector memory's {} banks (the words the vector load reads end on a bank row, or with the part)",
                                vm.banks
                            ),
                        ));
                    }
                    v.push(n);
                }
                if v.iter().all(|&n| n == 0) {
                    return Err(invalid(
                        "overlap.loadable",
                        "gives the vector load no word to read".into(),
                    ));
                }
                v
            }
        };
        Ok(WriterRegions { parts, loadable })
    }

    /// The memories of the vector memory in address order: each part, or
    /// its words the vector load reads and the rest (none empty).
    pub fn banked(&self) -> Vec<BankedPart> {
        let mut v = Vec::new();
        for ((writer, r), &n) in self.parts.iter().zip(&self.loadable) {
            for (region, loads) in [
                (Region::new(r.base, n), true),
                (Region::new(r.base + n, r.len - n), false),
            ] {
                if region.len > 0 {
                    v.push(BankedPart {
                        writer: *writer,
                        region,
                        loads,
                    });
                }
            }
        }
        v
    }

    /// Why the SpMxV `instr` may not load its vector `src`, if it may not:
    /// the vector load reads the first `overlap.loadable` words of a part.
    pub fn refuse_load(&self, instr: &Instr) -> Option<String> {
        let Instr::Spmv { src, .. } = *instr else {
            return None;
        };
        let k = self
            .parts
            .iter()
            .position(|(_, r)| (r.base..r.end()).contains(&src.base))?;
        let (w, part) = self.parts[k];
        let n = self.loadable[k];
        if src.end() <= part.base + n {
            return None;
        }
        Some(format!(
            "loads {}..{}, past the words of {} part the vector load reads ({}..{}, {}): its other words have no load ports",
            src.base,
            src.end(),
            w.possessive(),
            part.base,
            part.base + n,
            loadable_field(w)
        ))
    }

    /// The part `w` owns (every configuration has a DMA, PE and EWOP part;
    /// an ACT part only with `overlap.act_unit`).
    pub fn of(&self, w: Writer) -> Option<Region> {
        self.parts.iter().find(|(x, _)| *x == w).map(|(_, r)| *r)
    }

    /// The part holding element `e`.
    pub fn holding(&self, e: usize) -> Option<(Writer, Region)> {
        self.parts
            .iter()
            .copied()
            .find(|(_, r)| (r.base..r.end()).contains(&e))
    }

    /// Why `instr` may not write `dst`, if it may not: its unit writes only
    /// its own part.
    pub fn refuse_write(&self, instr: &Instr, cfg: &Config) -> Option<String> {
        let w = Writer::of(instr, cfg)?;
        let dst = instr.writes()?;
        let part = self
            .of(w)
            .expect("every writer of a configuration has a part");
        if dst.base >= part.base && dst.end() <= part.end() {
            return None;
        }
        Some(format!(
            "writes {}..{}, outside {} part of the vector memory ({}..{}, {}): each part has one writer",
            dst.base,
            dst.end(),
            w.possessive(),
            part.base,
            part.end(),
            w.field()
        ))
    }
}
