//! Cycle-approximate simulation of one SpMxV, y = W x, on the BBS accelerator.
//!
//! The timeline is [`crate::arch::timing::spmv`] (identical to the generated
//! RTL, see `docs/architecture.md`): start, vector load, compute, drain.
//!
//! All PEs run in lockstep, so a PE whose last local row does not exist idles
//! for that row: that, the load and the drain are the only utilization losses of
//! BBS. There are no bank conflicts by construction.

/// The timeline of one SpMxV without computing it: what [`simulate_spmv`]
/// reports, for design-space exploration and timing-only runs.
pub use crate::arch::timing::{spmv as spmv_cycles, CycleBreakdown};
use crate::arith::{round_shift_saturate, wrap};
use crate::config::{Config, ConfigError};
use bbs_compress::Csb;
use serde::Serialize;

/// Version of the JSON report layout; bump on any change of its fields.
pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("input vector: length {got}, the matrix has {expected} columns")]
    VectorLength { got: usize, expected: usize },
    #[error("input vector: element {index} = {value} does not fit Q{width}.{frac}")]
    VectorRange {
        index: usize,
        value: i64,
        width: u32,
        frac: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeStats {
    pub pe: usize,
    pub rows: usize,
    /// Cycles in which the PE's multipliers work on a real row.
    pub busy_cycles: u64,
    /// `busy_cycles / total cycles`.
    pub utilization: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimReport {
    pub report_version: u32,
    pub bbs_version: &'static str,
    pub config: String,
    pub pes: usize,
    pub banks: usize,
    pub rows: usize,
    pub cols: usize,
    pub bank_size: usize,
    pub slots: usize,
    /// Stored (value, index) pairs: `rows * slots * banks`.
    pub stored_weights: usize,
    pub cycles: CycleBreakdown,
    /// `stored_weights / (pes * banks)`: the cycles if every multiplier worked every cycle.
    pub compute_bound: f64,
    /// Mean of the per-PE utilizations.
    pub utilization: f64,
    pub pe: Vec<PeStats>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SpmvRun {
    /// Fixed-point outputs, Q(value_width.frac_bits), one per matrix row.
    pub output: Vec<i64>,
    pub report: SimReport,
}

/// Simulate y = W x. `x` holds fixed-point inputs in the configuration's format.
pub fn simulate_spmv(cfg: &Config, csb: &Csb, x: &[i64]) -> Result<SpmvRun, SimError> {
    cfg.validate()?;
    cfg.check_matrix(csb)?;
    if x.len() != csb.cols {
        return Err(SimError::VectorLength {
            got: x.len(),
            expected: csb.cols,
        });
    }
    let fmt = cfg.format();
    if let Some((index, &value)) = x
        .iter()
        .enumerate()
        .find(|(_, &v)| v < fmt.min() || v > fmt.max())
    {
        return Err(SimError::VectorRange {
            index,
            value,
            width: fmt.width,
            frac: fmt.frac,
        });
    }

    // The private vector banks: bank b holds columns b*bank_size.., zero-padded.
    let k = csb.banks;
    let mut banks = vec![0i64; k * csb.bank_size];
    banks[..x.len()].copy_from_slice(x);

    let p = cfg.pes;
    let mut output = vec![0i64; csb.rows];
    let mut pe = Vec::with_capacity(p);
    // Where each multiplier's bank starts in `banks`.
    let bases: Vec<usize> = (0..k).map(|b| b * csb.bank_size).collect();
    let row_len = csb.slots * k;
    for pe_index in 0..p {
        let mut rows = 0;
        for r in (pe_index..csb.rows).step_by(p) {
            rows += 1;
            let values = &csb.values[r * row_len..(r + 1) * row_len];
            let indices = &csb.indices[r * row_len..(r + 1) * row_len];
            // Every product is exact in i64 (W <= 32). The adder tree and the
            // A-bit accumulator compute the row's sum modulo 2^A; summing
            // modulo 2^64 (wrapping) and then wrapping to A bits gives the
            // same value, because 2^A divides 2^64.
            let mut acc: i64 = 0;
            for (word_values, word_indices) in values.chunks_exact(k).zip(indices.chunks_exact(k)) {
                for ((&v, &i), &base) in word_values.iter().zip(word_indices).zip(&bases) {
                    acc = acc.wrapping_add(v as i64 * banks[base + i as usize]);
                }
            }
            output[r] = round_shift_saturate(
                wrap(acc as i128, cfg.acc_width),
                cfg.frac_bits,
                cfg.value_width,
            );
        }
        pe.push((pe_index, rows));
    }

    let cycles = spmv_cycles(cfg, csb);
    let pe: Vec<PeStats> = pe
        .into_iter()
        .map(|(pe, rows)| {
            let busy_cycles = (rows * csb.slots) as u64;
            PeStats {
                pe,
                rows,
                busy_cycles,
                utilization: busy_cycles as f64 / cycles.total as f64,
            }
        })
        .collect();
    let utilization = pe.iter().map(|s| s.utilization).sum::<f64>() / p as f64;
    let stored_weights = csb.rows * csb.slots * csb.banks;
    let report = SimReport {
        report_version: REPORT_VERSION,
        bbs_version: env!("CARGO_PKG_VERSION"),
        config: cfg.name.clone(),
        pes: p,
        banks: k,
        rows: csb.rows,
        cols: csb.cols,
        bank_size: csb.bank_size,
        slots: csb.slots,
        stored_weights,
        cycles,
        compute_bound: stored_weights as f64 / (p * k) as f64,
        utilization,
        pe,
    };
    Ok(SpmvRun { output, report })
}
