//! Where data sits in the machine's memories.
//!
//! **Matrix memories.** Row `r` of a matrix runs on PE `r % pes` as local row
//! `r / pes`; a PE's words for one matrix are its local rows' CSB words in
//! order (slot `s` of local row `j` is word `j * slots + s`), padded to
//! `ceil(rows / pes) * slots` so all PEs agree on where the next matrix
//! starts. Matrices share each PE's matrix memory one after another, in the
//! order given ([`place`]); the program names a matrix by its index and the
//! instruction word carries its first address.
//!
//! **Vector memory.** `memory.vector_words` elements in [`VectorMemory::banks`]
//! banks, element `e` in bank `e % banks`, row `e / banks`: one bank per write
//! port (PEs, EWOP lanes, DMA beat elements) rounded up to a power of two, so
//! every write burst (a run of consecutive elements) touches each bank at most
//! once and each bank needs a single write port (distributed RAM).

use crate::config::{Config, ConfigError};
use bbs_compress::Csb;

/// Matrix-memory words per PE that a matrix of `rows` rows and `slots`
/// nonzeros per bank takes on `pes` PEs: `ceil(rows / pes) * slots`. It is
/// also the compute phase of an SpMxV: one word per PE per cycle.
pub fn matrix_words(pes: usize, rows: usize, slots: usize) -> usize {
    rows.div_ceil(pes) * slots
}

/// [`matrix_words`] of `csb` on `cfg`.
pub fn words(cfg: &Config, csb: &Csb) -> usize {
    matrix_words(cfg.pes, csb.rows, csb.slots)
}

/// Matrix-memory words per PE that `matrices` take, one after another.
pub fn total_words(cfg: &Config, matrices: &[Csb]) -> usize {
    matrices.iter().map(|m| words(cfg, m)).sum()
}

/// Where a matrix lives in every PE's matrix memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatrixPlacement {
    /// First word, the same in every PE.
    pub base: usize,
    /// Words per PE, [`words`].
    pub words: usize,
    pub slots: usize,
    pub bank_size: usize,
}

/// The placement of `matrices`, one after another from word 0.
pub fn place(cfg: &Config, matrices: &[Csb]) -> Vec<MatrixPlacement> {
    let mut base = 0;
    matrices
        .iter()
        .map(|m| {
            let p = MatrixPlacement {
                base,
                words: words(cfg, m),
                slots: m.slots,
                bank_size: m.bank_size,
            };
            base += p.words;
            p
        })
        .collect()
}

/// Check that `matrices` fit every PE's matrix memory together.
pub fn check_fits(cfg: &Config, matrices: &[Csb]) -> Result<(), ConfigError> {
    let words = total_words(cfg, matrices);
    if words > cfg.matrix_depth() {
        return Err(ConfigError::Invalid {
            field: "max_slots",
            message: format!(
                "the matrices need {words} matrix-memory words per PE, the configuration holds {} (ceil(max_rows / pes) * max_slots)",
                cfg.matrix_depth()
            ),
        });
    }
    Ok(())
}

/// The vector memory's banks and ports (`templates/bbs_vmem.v`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorMemory {
    /// Elements in all.
    pub words: usize,
    /// Banks: the write ports rounded up to a power of two.
    pub banks: usize,
    /// Rows of each bank, `ceil(words / banks)`.
    pub bank_depth: usize,
    /// Read ports A: the SpMxV load (one per PE bank), EWOP `a`, ACT, store.
    pub ports_a: usize,
    /// Read ports B: EWOP `b`.
    pub ports_b: usize,
    /// Write ports: the PEs' results, the EWOP lanes, a DMA beat's elements.
    pub ports_w: usize,
}

impl VectorMemory {
    pub fn new(cfg: &Config) -> VectorMemory {
        let beat = cfg.beat_elements();
        let ports_w = cfg.pes.max(cfg.ewop.lanes).max(beat);
        // The interleaved vector load reads a run of `banks * load_width`
        // words a cycle: each in a bank of its own.
        let load_run = if cfg.overlap.interleaved {
            cfg.banks * cfg.overlap.load_width
        } else {
            cfg.banks
        };
        let banks = if cfg.overlap.interleaved {
            ports_w.max(load_run)
        } else {
            ports_w
        }
        .next_power_of_two();
        VectorMemory {
            words: cfg.memory.vector_words,
            banks,
            bank_depth: cfg.memory.vector_words.div_ceil(banks),
            ports_a: load_run.max(cfg.ewop.lanes).max(beat),
            ports_b: cfg.ewop.lanes,
            ports_w,
        }
    }

    /// The bank that holds element `e`.
    pub fn bank(&self, e: usize) -> usize {
        e % self.banks
    }

    /// The row of its bank that holds element `e`.
    pub fn row(&self, e: usize) -> usize {
        e / self.banks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bbs_compress::QFormat;

    fn csb(rows: usize, cols: usize, slots: usize) -> Csb {
        let (banks, bank_size) = (4, cols / 4);
        Csb {
            rows,
            cols,
            banks,
            bank_size,
            slots,
            format: QFormat {
                width: 16,
                frac: 12,
            },
            values: vec![1; rows * slots * banks],
            indices: vec![0; rows * slots * banks],
        }
    }

    #[test]
    fn matrices_follow_one_another() {
        let cfg = Config::default(); // 8 PEs
        let (a, b) = (csb(20, 16, 2), csb(8, 16, 1));
        let p = place(&cfg, &[a.clone(), b.clone()]);
        assert_eq!(p[0].base, 0);
        assert_eq!(p[0].words, 3 * 2, "ceil(20 / 8) rows of 2 slots");
        assert_eq!(p[1].base, 6);
        assert_eq!(p[1].words, 1);
        assert_eq!(total_words(&cfg, &[a, b]), 7);
    }

    #[test]
    fn vector_memory_banks_cover_the_write_ports() {
        let mut cfg = Config {
            pes: 5,
            ..Config::default()
        };
        cfg.ewop.lanes = 3;
        let v = VectorMemory::new(&cfg);
        assert_eq!(v.ports_w, 8, "8 beat elements of Q16 in 16 bytes");
        assert_eq!(v.banks, 8);
        assert_eq!((v.bank(13), v.row(13)), (5, 1));
        cfg.host.link_bytes_per_cycle = 2;
        assert_eq!(VectorMemory::new(&cfg).banks, 8, "5 PEs round up to 8");
    }
}
