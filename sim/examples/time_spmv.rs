//! Time the simulator on one SpMxV, in process: used by
//! `scripts/bench_sim_vs_verilator.py` to compare with the Verilator build of
//! the generated design on the same configuration, matrix and vector.
//!
//! Usage: time_spmv CONFIG.toml MATRIX.csb VECTOR.npy [REPEATS]
//! Prints `cycles <n>`, `seconds_per_run <t>` (outputs and cycles, as
//! `bbs sim`) and `seconds_per_timing_run <t>` (cycles only, `spmv_cycles`).

use bbs_compress::{read_vector, Csb, Vector};
use bbs_sim::{simulate_spmv, spmv_cycles, Config};
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: time_spmv CONFIG.toml MATRIX.csb VECTOR.npy [REPEATS]".into());
    }
    let cfg = Config::from_file(Path::new(&args[1]))?;
    let csb = Csb::read(Path::new(&args[2]))?;
    let x: Vec<i64> = match read_vector(Path::new(&args[3]))? {
        Vector::Fixed(v) => v.to_vec(),
        Vector::Float(v) => v.iter().map(|&f| cfg.format().quantize(f).0).collect(),
    };
    let repeats: usize = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let first = simulate_spmv(&cfg, &csb, &x)?;
    let start = Instant::now();
    for _ in 0..repeats {
        std::hint::black_box(simulate_spmv(&cfg, &csb, std::hint::black_box(&x))?);
    }
    let per_run = start.elapsed().as_secs_f64() / repeats as f64;
    let timing_repeats = repeats * 1000;
    let start = Instant::now();
    for _ in 0..timing_repeats {
        std::hint::black_box(spmv_cycles(
            std::hint::black_box(&cfg),
            std::hint::black_box(&csb),
        ));
    }
    let per_timing_run = start.elapsed().as_secs_f64() / timing_repeats as f64;
    assert_eq!(spmv_cycles(&cfg, &csb), first.report.cycles);
    println!("cycles {}", first.report.cycles.total);
    println!("seconds_per_run {per_run:.9}");
    println!("seconds_per_timing_run {per_timing_run:.12}");
    Ok(())
}
