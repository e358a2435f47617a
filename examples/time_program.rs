//! Time the simulator on the same program the Verilator build runs, in
//! process: used by `scripts/bench_sim_vs_verilator.py`.
//!
//! Usage:
//!   time_program CONFIG.toml spmv MATRIX.csb VECTOR.npy [REPEATS]
//!   time_program CONFIG.toml workload NAME FRAMES SPARSITY [REPEATS]
//! (the workload's weights and frames use seed 1, as `bbs verify --workload`).
//! Prints `cycles <n>` (all frames), `seconds_per_run <t>` (a whole run with
//! outputs: machine set-up, preload, every frame) and
//! `seconds_per_timing_run <t>` (cycles only, `Machine::frame_cycles`).

use bbs::flow;
use bbs_compress::Csb;
use bbs_sim::machine::{Machine, Program};
use bbs_sim::{workloads, Config};
use std::path::Path;
use std::time::Instant;

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
    let first = flow::simulate_program(&cfg, &matrices, &program, &inputs, runs)?;
    let start = Instant::now();
    for _ in 0..repeats {
        std::hint::black_box(flow::simulate_program(
            &cfg,
            std::hint::black_box(&matrices),
            &program,
            &inputs,
            runs,
        )?);
    }
    let per_run = start.elapsed().as_secs_f64() / repeats as f64;
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
    Ok(())
}
