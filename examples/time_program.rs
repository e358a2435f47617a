//! Time the simulator on the same program the Verilator build runs, in
//! process: used by `scripts/bench_sim_vs_verilator.py`.
//!
//! Usage:
//!   time_program CONFIG.toml spmv MATRIX.csb VECTOR.npy [REPEATS]
//!   time_program CONFIG.toml workload NAME FRAMES SPARSITY [REPEATS]
//! (the workload's weights and frames use seed 1, as `bbs verify --workload`).
//! Prints `cycles <n>` (all frames), `seconds_per_run <t>` (a whole run with
//! outputs: machine set-up, preload, every frame),
//! `seconds_per_timing_run <t>` (cycles only, `Machine::frame_cycles`),
//! `seconds_per_setup <t>` (`Machine::new`, which prepares the SpMxV
//! kernels, with_waits, validate, preload), `seconds_per_frame <t>` (one
//! frame with outputs on a machine already set up: `Machine::run`, the
//! program's frames over and over, the median of 5 batches) and `kernel <path>` (the SpMxV kernel
//! path of the matrices, `bbs_sim::kernel`).
//!
//! `BBS_KERNEL=reference|scalar|avx2|avx512` forces a kernel path where the
//! matrix and the CPU allow it. Every run's stored outputs are checked
//! against the same program on the reference path (`simulate_spmv`).

use bbs::flow;
use bbs_compress::Csb;
use bbs_sim::kernel::KernelPath;
use bbs_sim::machine::{Machine, Program};
use bbs_sim::{workloads, Config};
use std::collections::VecDeque;
use std::path::Path;
use std::time::Instant;

/// What `flow::simulate_program` does, with the kernel path forced: the
/// stored outputs and the cycles.
fn simulate(
    cfg: &Config,
    matrices: &[Csb],
    program: &Program,
    inputs: &[Vec<i64>],
    runs: usize,
    path: Option<KernelPath>,
) -> Result<(Vec<i64>, u64), Box<dyn std::error::Error>> {
    let mut machine = Machine::new(cfg, matrices.to_vec())?;
    if let Some(p) = path {
        machine.set_kernel_path(p);
    }
    let program = &machine.with_waits(program.clone());
    machine.validate(program)?;
    machine.preload(program);
    let mut queue: VecDeque<Vec<i64>> = inputs.iter().cloned().collect();
    let (mut stored, mut cycles) = (Vec::new(), 0);
    for _ in 0..runs {
        let r = machine.run(program, &mut queue)?;
        stored.extend(r.outputs.iter().flatten());
        cycles += r.cycles;
    }
    Ok((stored, cycles))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: time_program CONFIG.toml (spmv MATRIX.csb VECTOR.npy | workload NAME FRAMES SPARSITY) [REPEATS]";
    if args.len() < 5 {
        return Err(usage.into());
    }
    let cfg = Config::from_file(Path::new(&args[1]))?;
    let (matrices, program, inputs, runs, rest): (Vec<Csb>, Program, Vec<Vec<i64>>, usize, usize) =
        match args[2].as_str() {
            "spmv" => {
                let csb = Csb::read(Path::new(&args[3]))?;
                let x = flow::load_vector(Path::new(&args[4]), &cfg)?;
                let p = bbs_hdlgen::memfiles::spmv_program(&cfg, &csb);
                (vec![csb], p, vec![x], 1, 5)
            }
            "workload" if args.len() >= 6 => {
                let frames: usize = args[4].parse()?;
                let sparsity: f64 = args[5].parse()?;
                let net = workloads::network(&args[3], &cfg, sparsity, 1)?;
                let c = net.compile(&cfg)?;
                let inputs = workloads::frames(&cfg, net.input(), frames, 1);
                (c.matrices, c.program, inputs, frames, 6)
            }
            _ => return Err(usage.into()),
        };
    let repeats: usize = args
        .get(rest)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200);
    let path = match std::env::var("BBS_KERNEL") {
        Ok(name) => Some(match name.as_str() {
            "reference" => KernelPath::Reference,
            "scalar" => KernelPath::Scalar,
            "avx2" => KernelPath::Avx2,
            "avx512" => KernelPath::Avx512,
            other => return Err(format!("BBS_KERNEL={other}: not a kernel path").into()),
        }),
        Err(_) => None,
    };
    let first = flow::simulate_program(&cfg, &matrices, &program, &inputs, runs)?;
    let reference = simulate(
        &cfg,
        &matrices,
        &program,
        &inputs,
        runs,
        Some(KernelPath::Reference),
    )?;
    let fast = simulate(&cfg, &matrices, &program, &inputs, runs, path)?;
    assert_eq!(
        first.stored, reference.0,
        "the machine against the reference path"
    );
    assert_eq!(
        fast, reference,
        "the kernel path against the reference path"
    );
    let start = Instant::now();
    for _ in 0..repeats {
        std::hint::black_box(simulate(
            &cfg,
            std::hint::black_box(&matrices),
            &program,
            &inputs,
            runs,
            path,
        )?);
    }
    let per_run = start.elapsed().as_secs_f64() / repeats as f64;

    // The set-up alone, then frames on a machine already set up.
    let start = Instant::now();
    for _ in 0..repeats {
        let mut m = Machine::new(&cfg, std::hint::black_box(&matrices).to_vec())?;
        if let Some(p) = path {
            m.set_kernel_path(p);
        }
        let p = m.with_waits(program.clone());
        m.validate(&p)?;
        m.preload(&p);
        std::hint::black_box(&m);
    }
    let per_setup = start.elapsed().as_secs_f64() / repeats as f64;
    let mut m = Machine::new(&cfg, matrices.clone())?;
    if let Some(p) = path {
        m.set_kernel_path(p);
    }
    let mut kernels: Vec<&str> = m.kernel_paths().iter().map(|k| k.name()).collect();
    kernels.sort_unstable();
    kernels.dedup();
    let p = m.with_waits(program.clone());
    m.validate(&p)?;
    m.preload(&p);
    // The median of 5 batches: this machine is shared.
    let frames = (repeats * runs).max(1);
    let mut queue: VecDeque<Vec<i64>> = VecDeque::new();
    let mut batches = Vec::with_capacity(5);
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..frames {
            if queue.is_empty() {
                queue.extend(inputs.iter().cloned());
            }
            std::hint::black_box(m.run(&p, &mut queue)?);
        }
        batches.push(start.elapsed().as_secs_f64() / frames as f64);
    }
    batches.sort_by(f64::total_cmp);
    let per_frame = batches[2];

    let machine = Machine::new(&cfg, matrices.clone())?;
    // Every frame's cycles (frames overlap on the overlapped machine).
    let cycles = |m: &Machine| -> u64 {
        m.frame_cycles(std::hint::black_box(&program), runs)
            .iter()
            .sum()
    };
    let timing_repeats = repeats * 100;
    let start = Instant::now();
    for _ in 0..timing_repeats {
        std::hint::black_box(cycles(std::hint::black_box(&machine)));
    }
    let per_timing_run = start.elapsed().as_secs_f64() / timing_repeats as f64;
    assert_eq!(cycles(&machine), first.cycles);
    println!("cycles {}", first.cycles);
    println!("seconds_per_run {per_run:.9}");
    println!("seconds_per_timing_run {per_timing_run:.12}");
    println!("seconds_per_setup {per_setup:.9}");
    println!("seconds_per_frame {per_frame:.9}");
    println!("kernel {}", kernels.join(","));
    Ok(())
}
