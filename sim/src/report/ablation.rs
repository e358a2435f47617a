//! The overlap ablation: one workload's steady-state frame on the serialized
//! machine, then with each overlap technique added in turn, the way the
//! BBS and ESE papers read their ablations (docs/architecture.md).

use super::ReportError;
use crate::config::{Config, Overlap};
use crate::isa::Instr;
use crate::machine::Machine;
use crate::rnn::{Network, NetworkError};
use crate::workloads;
use serde::Serialize;

/// Frames the cycle model runs before it reads the steady-state frame.
pub const STEADY_FRAMES: usize = 8;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AblationRow {
    /// What this row adds to the one before.
    pub step: &'static str,
    pub overlap: Overlap,
    /// Cycles of one steady-state frame (the interval between frames).
    pub cycles: u64,
    pub microseconds: f64,
    /// Multiply-accumulates of a frame over `pes * banks * cycles`.
    pub multipliers_busy: f64,
    /// Instructions of the frame program.
    pub instructions: usize,
    /// The vector memory's words: the overlapped steps' may be more than
    /// the configuration's ([`crate::overlap::compile::fit_memory`]).
    pub vector_words: usize,
}

/// The steps of the ablation, each adding one technique to the one before.
pub fn steps() -> Vec<(&'static str, Overlap)> {
    let mut o = Overlap::default();
    let mut v = vec![("serialized", o.clone())];
    o.units = true;
    v.push(("+ concurrent units (DMA beside compute)", o.clone()));
    o.vector_buffers = 2;
    v.push(("+ double-buffered private vector banks", o.clone()));
    o.chaining = true;
    v.push(("+ chaining (gate rows in cell blocks)", o.clone()));
    o.act_unit = true;
    v.push(("+ activation unit beside the EWOP", o.clone()));
    o.input_ahead = true;
    v.push(("+ next frame's input product ahead", o.clone()));
    o.interleaved = true;
    v.push(("+ bank-interleaved vectors (streamed load)", o.clone()));
    o.load_width = 2;
    v.push(("+ two-wide vector load", o.clone()));
    v
}

/// One steady-state frame of a network on the machine of a configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SteadyFrame {
    /// The interval between frames once they overlap ([`STEADY_FRAMES`]
    /// in); the serialized machine's frame cycles.
    pub cycles: u64,
    /// Multiply-accumulates of a frame on stored CSB weights.
    pub macs: usize,
    /// Instructions of the frame program.
    pub instructions: usize,
}

impl SteadyFrame {
    /// `macs / (pes * banks * cycles)`.
    pub fn multipliers_busy(&self, cfg: &Config) -> f64 {
        self.macs as f64 / ((cfg.pes * cfg.banks) as f64 * self.cycles.max(1) as f64)
    }
}

/// The steady-state frame of `net` on the machine `cfg` describes (its
/// `[overlap]` switches), from the cycle model alone: no data is computed.
pub fn steady_frame_of(cfg: &Config, net: &Network) -> Result<SteadyFrame, NetworkError> {
    let compiled = net.compile(cfg)?;
    let machine = Machine::new(cfg, compiled.matrices.clone())?;
    machine.validate(&compiled.program)?;
    let cycles = *machine
        .frame_cycles(&compiled.program, STEADY_FRAMES)
        .last()
        .expect("frames run");
    let macs: usize = compiled
        .program
        .instrs
        .iter()
        .filter_map(|i| match i {
            Instr::Spmv { matrix, .. } => {
                let m = &compiled.matrices[*matrix];
                Some(m.rows * m.slots * m.banks)
            }
            _ => None,
        })
        .sum();
    Ok(SteadyFrame {
        cycles,
        macs,
        instructions: compiled.program.instrs.len(),
    })
}

/// The steady-state frame of `workload` on `cfg` with `overlap`.
pub fn steady_frame(
    cfg: &Config,
    overlap: &Overlap,
    workload: &str,
    sparsity: f64,
    seed: u64,
) -> Result<AblationRow, ReportError> {
    let mut cfg = cfg.clone();
    cfg.overlap = overlap.clone();
    cfg.validate()?;
    let net = workloads::network(workload, &cfg, sparsity, seed)?;
    if cfg.overlap.units {
        cfg = crate::overlap::compile::fit_memory(&net, &cfg)?;
    }
    let f = steady_frame_of(&cfg, &net)?;
    Ok(AblationRow {
        step: "",
        overlap: overlap.clone(),
        cycles: f.cycles,
        microseconds: f.cycles as f64 / cfg.host.clock_mhz as f64,
        multipliers_busy: f.multipliers_busy(&cfg),
        instructions: f.instructions,
        vector_words: cfg.memory.vector_words,
    })
}

/// Every step of [`steps`] for one workload.
pub fn ablation(
    cfg: &Config,
    workload: &str,
    sparsity: f64,
    seed: u64,
) -> Result<Vec<AblationRow>, ReportError> {
    let mut rows = Vec::new();
    for (step, o) in steps() {
        match steady_frame(cfg, &o, workload, sparsity, seed) {
            Ok(mut row) => {
                row.step = step;
                rows.push(row);
            }
            // Bank-interleaved vectors need every vector the machine
            // writes and an SpMxV loads to fill whole bank rows: for other
            // networks the table ends before those steps.
            Err(ReportError::Network(NetworkError::Shape { .. })) if o.interleaved => break,
            Err(e) => return Err(e),
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each technique shortens the ESE frame, or at worst keeps it.
    #[test]
    fn every_step_of_the_ese_ablation_is_at_least_as_fast_as_the_one_before() {
        let cfg = Config::from_file(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../hw/configs/ese-a10.toml"
        )))
        .unwrap();
        let rows = ablation(&cfg, "ese-lstm", 0.875, 1).unwrap();
        // The serialized machine on W_ih and W_hh pruned apart (1035 with
        // one gate matrix over [x; h]: the extra input SpMxV and bias add).
        assert_eq!(rows[0].cycles, 1111, "the serialized frame");
        for w in rows.windows(2) {
            assert!(
                w[1].cycles <= w[0].cycles,
                "{} then {}",
                w[0].step,
                w[1].step
            );
        }
        // The targets: at most 2.4 us (480 cycles at 200 MHz) per frame,
        // the multipliers busy at least 90% of it.
        let last = rows.last().unwrap();
        assert!(last.cycles <= 480, "{}", last.cycles);
        assert!(last.multipliers_busy >= 0.9, "{}", last.multipliers_busy);
    }

    /// The committed GX1150 machine: at most 1.2 us (240 cycles at 200 MHz)
    /// per steady-state frame of the ESE LSTM, within the GX1150's DSP
    /// blocks, M20K and ALMs by the estimate, its own vector memory split
    /// holding the program.
    #[test]
    fn the_gx1150_machine_runs_an_ese_frame_in_at_most_1_2_us_within_its_budget() {
        let cfg = Config::from_file(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../hw/configs/ese-gx1150.toml"
        )))
        .unwrap();
        let net = workloads::network("ese-lstm", &cfg, 0.875, 1).unwrap();
        let f = steady_frame_of(&cfg, &net).unwrap();
        let us = f.cycles as f64 / f64::from(cfg.host.clock_mhz);
        assert!(us <= 1.2, "{} cycles = {us} us", f.cycles);
        assert!(f.multipliers_busy(&cfg) >= 0.9);
        let est = crate::resources::estimate(&cfg, crate::resources::Device::IntelM20k).unwrap();
        crate::resources::check_budget(&est, &crate::resources::ARRIA10_GX1150)
            .unwrap_or_else(|e| panic!("over the GX1150 budget: {e}"));
    }
}
