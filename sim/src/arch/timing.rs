//! The cycle formulas of the machine: how many cycles each instruction takes,
//! counted from its dispatch cycle. The simulator's cycle model
//! ([`crate::machine::Machine`]), the whole-program trace, the baselines and
//! the reports all call these; the RTL (`templates/bbs_seq.v`,
//! `templates/bbs_ctrl.v`) has exactly these counts, which the co-simulation
//! checks; `docs/architecture.md` ("Cycle model") states them.
//!
//! | instruction | cycles |
//! |---|---|
//! | `load`, `store` | [`dma`]: `1 + link_latency + ceil(len / beat_elements)` |
//! | `spmv` | [`spmv`]: `1 + bank_size + ceil(rows / pes) * slots + drain` |
//! | `ewop`, `act` | [`elementwise`]: `1 + ceil(len / ewop.lanes) + ewop.latency` |
//!
//! The leading 1 is the dispatch cycle: the sequencer reads and decodes the
//! instruction (for `spmv` it is the controller's start cycle).

use super::placement::words as placement_words;
use crate::config::{Config, MatrixStorage};
use bbs_compress::Csb;
use serde::Serialize;

/// The cycle in which the sequencer reads and decodes an instruction.
pub const DISPATCH: u64 = 1;

/// The phases of one SpMxV, as `bbs_ctrl` runs them.
///
/// | phase   | cycles                     | what happens |
/// |---------|----------------------------|--------------|
/// | start   | 1                          | the controller sees `start_i` and leaves IDLE (the dispatch cycle) |
/// | load    | `bank_size`                | one vector-memory word (one element per bank) is copied into every PE's private banks per cycle |
/// | compute | `ceil(rows / pes) * slots` | every PE issues one CSB word per cycle; rows are interleaved, row r on PE r % pes |
/// | drain   | [`drain`]                  | matrix read, vector-bank read, multiplier and adder stages, accumulate, output write |
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CycleBreakdown {
    pub start: u64,
    pub load: u64,
    pub compute: u64,
    pub drain: u64,
    pub total: u64,
}

impl CycleBreakdown {
    pub fn new(start: u64, load: u64, compute: u64, drain: u64) -> Self {
        CycleBreakdown {
            start,
            load,
            compute,
            drain,
            total: start + load + compute + drain,
        }
    }
}

/// Cycles from the last matrix word issued to the result being readable:
/// matrix read, vector-bank read, multiplier stages, adder stages,
/// accumulate, and the output-buffer write.
pub fn drain(cfg: &Config) -> u64 {
    3 + cfg.pipeline.mult_stages as u64 + cfg.pipeline.adder_stages as u64
}

/// Pipeline stage (cycles after a word is issued) at which the accumulator
/// adds it: matrix read, vector-bank read, `mult_stages`, `adder_stages`.
pub fn accumulate_stage(cfg: &Config) -> u64 {
    2 + cfg.pipeline.mult_stages as u64 + cfg.pipeline.adder_stages as u64
}

/// The timeline of one SpMxV of `csb` on on-chip matrix memories. The caller
/// has checked the matrix against the configuration.
pub fn spmv(cfg: &Config, csb: &Csb) -> CycleBreakdown {
    CycleBreakdown::new(
        DISPATCH,
        load_cycles(cfg, csb.bank_size),
        placement_words(cfg, csb) as u64,
        drain(cfg),
    )
}

/// The compute phase of one SpMxV when the matrix streams from DRAM
/// (`memory.matrix = "dram"`): at least one CSB word per PE per cycle, and at
/// least the matrix's bytes over `dram_bytes_per_cycle`.
pub fn spmv_compute_dram(cfg: &Config, csb: &Csb) -> u64 {
    let word_bytes = (cfg.matrix_word_width() as u64).div_ceil(8);
    let bytes = (csb.rows * csb.slots) as u64 * word_bytes;
    (placement_words(cfg, csb) as u64).max(bytes.div_ceil(cfg.memory.dram_bytes_per_cycle as u64))
}

/// Cycles of the vector load of a vector of `bank_size` positions per bank:
/// one position a cycle, or `overlap.load_width` into the sub-banks.
pub fn load_cycles(cfg: &Config, bank_size: usize) -> u64 {
    bank_size.div_ceil(cfg.overlap.load_width.max(1)) as u64
}

/// Total cycles of an `spmv` instruction on `cfg`'s matrix storage.
pub fn spmv_instr(cfg: &Config, csb: &Csb) -> u64 {
    let c = spmv(cfg, csb);
    let compute = match cfg.memory.matrix {
        MatrixStorage::Onchip => c.compute,
        MatrixStorage::Dram => spmv_compute_dram(cfg, csb),
    };
    c.start + c.load + compute + c.drain
}

/// A `load` or `store` of `len` elements: dispatch, the host's answer after
/// `link_latency` cycles, then one beat of `beat_elements` elements per cycle.
pub fn dma(cfg: &Config, len: usize) -> u64 {
    DISPATCH + cfg.host.link_latency as u64 + (len as u64).div_ceil(cfg.beat_elements() as u64)
}

/// An `ewop` or `act` of `len` elements: dispatch, one issue cycle per
/// `ewop.lanes` elements, then `ewop.latency` cycles for the last results.
pub fn elementwise(cfg: &Config, len: usize) -> u64 {
    DISPATCH + (len as u64).div_ceil(cfg.ewop.lanes as u64) + cfg.ewop.latency as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_drain_and_accumulate_stage() {
        let cfg = Config::default();
        assert_eq!(drain(&cfg), 6);
        assert_eq!(accumulate_stage(&cfg), 5);
    }

    #[test]
    fn breakdown_sums_its_phases() {
        let c = CycleBreakdown::new(1, 16, 256, 6);
        assert_eq!(c.total, 279);
    }

    #[test]
    fn dma_and_elementwise_round_up_partial_beats_and_issues() {
        let cfg = Config::default(); // 16 bytes per cycle, Q16: 8 elements per beat; 8 lanes
        assert_eq!(dma(&cfg, 17), 1 + 64 + 3);
        assert_eq!(elementwise(&cfg, 17), 1 + 3 + 3);
    }
}
