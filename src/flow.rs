//! Steps that chain the crates together.

use anyhow::{bail, Context, Result};
use bbs_compress::{Csb, Vector};
use bbs_hdlgen::program::{MatrixLoad, RunFiles};
use bbs_hdlgen::verilator::{self, RtlRun};
use bbs_sim::machine::{Machine, Program};
use bbs_sim::Config;
use serde::Serialize;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

/// The fixed-point input vector: float inputs are quantized to the
/// configuration's format (round to nearest, ties away from zero, saturate);
/// integer inputs are taken as fixed-point already. Returns the vector and how
/// many elements saturated.
pub fn fixed_vector(v: &Vector, cfg: &Config) -> (Vec<i64>, usize) {
    match v {
        Vector::Float(a) => {
            let fmt = cfg.format();
            let mut saturated = 0;
            let x = a
                .iter()
                .map(|&f| {
                    let (q, sat) = fmt.quantize(f);
                    saturated += sat as usize;
                    q
                })
                .collect();
            (x, saturated)
        }
        Vector::Fixed(a) => (a.to_vec(), 0),
    }
}

/// One co-simulation: the simulator and the Verilator build of the generated
/// design on the same configuration, program and inputs.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub config: String,
    /// Elements the program stored (all runs).
    pub rows: usize,
    pub bit_exact: bool,
    /// Stored elements whose RTL value differs from the simulator's.
    pub mismatched_rows: usize,
    pub sim_cycles: u64,
    pub rtl_cycles: u64,
    /// `|rtl - sim| / rtl`, in percent.
    pub cycle_error_pct: f64,
}

impl Verification {
    pub fn compare(
        cfg: &Config,
        sim_output: &[i64],
        sim_cycles: u64,
        rtl: &RtlRun,
    ) -> Verification {
        let mismatched_rows = if sim_output.len() == rtl.output.len() {
            sim_output
                .iter()
                .zip(&rtl.output)
                .filter(|(a, b)| a != b)
                .count()
        } else {
            sim_output.len().max(rtl.output.len())
        };
        Verification {
            config: cfg.name.clone(),
            rows: sim_output.len(),
            bit_exact: mismatched_rows == 0,
            mismatched_rows,
            sim_cycles,
            rtl_cycles: rtl.cycles,
            cycle_error_pct: (rtl.cycles as f64 - sim_cycles as f64).abs()
                / rtl.cycles.max(1) as f64
                * 100.0,
        }
    }
}

/// A Verilator build of one configuration's design, reusable for many runs.
pub struct RtlBuild {
    pub design_dir: PathBuf,
    pub binary: PathBuf,
}

/// Generate the design into `dir`, lint it with `-Wall`, and build the testbench.
pub fn build_rtl(cfg: &Config, dir: &Path) -> Result<RtlBuild> {
    build_rtl_with(cfg, dir, false)
}

/// [`build_rtl`], optionally with `--trace` (the testbench dumps `dump.vcd` under `+vcd`).
pub fn build_rtl_with(cfg: &Config, dir: &Path, trace: bool) -> Result<RtlBuild> {
    let design = bbs_hdlgen::generate(cfg)?;
    bbs_hdlgen::write_design(&design, dir)?;
    build_design(&design, dir, trace)
}

/// Lint and build a design already written to `dir` (`dir/obj_dir` gets the build).
pub fn build_design(design: &bbs_hdlgen::Design, dir: &Path, trace: bool) -> Result<RtlBuild> {
    // The binary runs in its run directory: give it a path that works from there.
    let dir = &std::path::absolute(dir).with_context(|| dir.display().to_string())?;
    verilator::lint(design, dir)?;
    let binary = verilator::build_with(design, dir, &dir.join("obj_dir"), trace)?;
    Ok(RtlBuild {
        design_dir: dir.to_path_buf(),
        binary,
    })
}

/// The subdirectories of a work directory (`verify -o`, the demo's `hdl/`)
/// that are the program's and Verilator's: no input may lie inside them.
pub const WORK_SUBDIRS: [&str; 4] = ["rtl", "tb", "run", "obj_dir"];

/// What the simulator did with a program: everything stored, all runs' cycles.
#[derive(Clone, Debug)]
pub struct ProgramRun {
    pub stored: Vec<i64>,
    pub cycles: u64,
    pub reports: Vec<bbs_sim::machine::RunReport>,
}

/// Run `program` `runs` times on the simulator (state carried), taking
/// `inputs` in order: one start of `runs` frames ([`Machine::run_last`]
/// for the last).
pub fn simulate_program(
    cfg: &Config,
    matrices: &[Csb],
    program: &Program,
    inputs: &[Vec<i64>],
    runs: usize,
) -> Result<ProgramRun> {
    let mut machine = Machine::new(cfg, matrices.to_vec())?;
    let program = &machine.with_waits(program.clone());
    machine.validate(program)?;
    machine.preload(program);
    let mut queue: VecDeque<Vec<i64>> = inputs.iter().cloned().collect();
    let mut stored = Vec::new();
    let mut reports = Vec::with_capacity(runs);
    for k in 0..runs {
        // The runs are one start of the RTL (FRAMES = runs): its last frame
        // issues nothing ahead for a frame after it.
        let r = if k + 1 == runs {
            machine.run_last(program, &mut queue)?
        } else {
            machine.run(program, &mut queue)?
        };
        stored.extend(r.outputs.iter().flatten());
        reports.push(r);
    }
    Ok(ProgramRun {
        stored,
        cycles: reports.iter().map(|r| r.cycles).sum(),
        reports,
    })
}

/// Simulate a program, run it on the RTL in `run_dir` with the same inputs
/// (in element order: the run's files lay them out as `program.host` says),
/// and compare everything stored (the RTL's stores reordered to element
/// order, [`bbs_hdlgen::program::host_outputs`]) and the cycles. `plusargs` go to the
/// testbench (e.g. `"vcd"`).
#[allow(clippy::too_many_arguments)]
pub fn cosimulate_program(
    cfg: &Config,
    build: &RtlBuild,
    matrices: &[Csb],
    program: &Program,
    inputs: &[Vec<i64>],
    runs: usize,
    matrix_load: MatrixLoad,
    run_dir: &Path,
    plusargs: &[&str],
) -> Result<(ProgramRun, Verification)> {
    // The program as the overlapped machine runs it (with its waits).
    let program = &Machine::new(cfg, matrices.to_vec())?.with_waits(program.clone());
    let sim = simulate_program(cfg, matrices, program, inputs, runs)?;
    RunFiles {
        cfg,
        matrices,
        program,
        inputs,
        runs,
        matrix_load,
    }
    .write(run_dir)?;
    let mut rtl = verilator::run_with(&build.binary, run_dir, plusargs)?;
    // The simulator's outputs are in element order; the RTL's stores send
    // words as the vector memory holds them (bank-interleaved with
    // `overlap.interleaved`): the host reorders them.
    rtl.output = bbs_hdlgen::program::host_outputs(program, runs, &rtl.output);
    let v = Verification::compare(cfg, &sim.stored, sim.cycles, &rtl);
    Ok((sim, v))
}

/// `y = W x` as a program (load, spmv, store) on the simulator and the RTL.
pub fn cosimulate(
    cfg: &Config,
    build: &RtlBuild,
    csb: &Csb,
    x: &[i64],
    run_dir: &Path,
) -> Result<(ProgramRun, Verification)> {
    let program = bbs_hdlgen::memfiles::spmv_program(cfg, csb);
    let (sim, v) = cosimulate_program(
        cfg,
        build,
        std::slice::from_ref(csb),
        &program,
        &[x.to_vec()],
        1,
        MatrixLoad::Init,
        run_dir,
        &[],
    )
    .with_context(|| run_dir.display().to_string())?;
    if sim.stored.len() != csb.rows {
        bail!(
            "{}: the simulator stored {} values, the matrix has {} rows",
            run_dir.display(),
            sim.stored.len(),
            csb.rows
        );
    }
    Ok((sim, v))
}

/// What `bbs prune` does for one matrix.
pub struct PruneRequest<'a> {
    pub weights: &'a Path,
    pub tensor: Option<&'a str>,
    pub sparsity: f64,
    pub banks: usize,
    pub format: bbs_compress::QFormat,
    /// Keep the pruning (for `--pruned` and `--mask`); without it the CSB
    /// takes over the pruning's memory.
    pub keep_pruned: bool,
}

pub struct PruneSummary {
    pub csb: Csb,
    pub achieved_sparsity: f64,
    /// Kept weights that did not fit the fixed-point format.
    pub saturated: usize,
    /// The pruning, when asked for ([`PruneRequest::keep_pruned`]).
    pub pruned: Option<bbs_compress::BbsPruned>,
}

/// Read, prune and quantize one matrix; nothing is written (the caller
/// stages the CSB, and the pruned matrix and mask, in its output plan).
pub fn prune_to_csb(req: &PruneRequest) -> Result<PruneSummary> {
    // A little-endian f32 .npy is pruned straight from the mapped file, and
    // checked for NaN/Inf by the pruning's own pass over it: only when that
    // fails is the reader's check run, whose error comes first.
    let w = bbs_compress::read_matrix_data_deferred(req.weights, req.tensor)?;
    let pruned = match bbs_compress::prune_bbs(&w.view(), req.banks, req.sparsity) {
        Ok(p) => p,
        Err(e) => {
            w.check_finite()?;
            return Err(e).with_context(|| req.weights.display().to_string());
        }
    };
    drop(w);
    let achieved_sparsity = pruned.achieved_sparsity();
    let (csb, stats, pruned) = if req.keep_pruned {
        let (csb, stats) = Csb::from_pruned(&pruned, req.format);
        (csb, stats, Some(pruned))
    } else {
        let (csb, stats) = Csb::from_pruned_owned(pruned, req.format);
        (csb, stats, None)
    };
    Ok(PruneSummary {
        achieved_sparsity,
        saturated: stats.saturated,
        csb,
        pruned,
    })
}

/// One SpMxV checked before it runs, each mismatch blamed where it lies:
/// a matrix that does not fit the configuration names the CSB file and the
/// configuration's field; a vector of the wrong length or range names the
/// vector's file.
pub fn check_spmv(
    cfg: &Config,
    config: Option<&Path>,
    csb_path: &Path,
    csb: &Csb,
    input: &Path,
    x: &[i64],
) -> Result<bbs_sim::SpmvRun> {
    cfg.check_matrix(csb).with_context(|| {
        format!(
            "{}: does not fit the configuration {}",
            csb_path.display(),
            match config {
                Some(p) => p.display().to_string(),
                None => format!("'{}' (built in)", cfg.name),
            }
        )
    })?;
    bbs_sim::simulate_spmv(cfg, csb, x).with_context(|| input.display().to_string())
}

/// The configuration at `path`, or the built-in default; errors name the file or the field.
pub fn load_config(path: Option<&Path>) -> Result<Config> {
    Ok(match path {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    })
}

/// An input vector .npy in the configuration's fixed-point format (see
/// [`fixed_vector`]); saturated elements are reported on stderr.
pub fn load_vector(path: &Path, cfg: &Config) -> Result<Vec<i64>> {
    let v = bbs_compress::read_vector(path)?;
    let (x, saturated) = fixed_vector(&v, cfg);
    if saturated > 0 {
        crate::print::warn(&format!(
            "warning: {}: {saturated} element(s) saturated to Q{}.{}",
            path.display(),
            cfg.value_width,
            cfg.frac_bits
        ));
    }
    Ok(x)
}
