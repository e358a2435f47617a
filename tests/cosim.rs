//! Co-simulation: for every reference configuration in `hw/configs/` and three
//! matrices (two real trained silero-vad LSTM matrices and a random one), the
//! generated Verilog is linted with `verilator -Wall`, built once per
//! configuration with `verilator --binary`, run on each matrix, and checked
//! against the simulator: outputs bit for bit, cycle counts within 1%.
//!
//! Under `CI=true` a missing Verilator fails the test; elsewhere it is skipped
//! with a message (the README's test command installs it).

use bbs::flow::{self, Verification};
use bbs_compress::{prune_bbs, read_matrix, Csb};
use bbs_sim::Config;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use std::path::{Path, PathBuf};

const SILERO: &str = "data/silero-vad/silero_vad_16k.safetensors";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Configurations small enough to build in Verilator within CI's time: the
/// large ones (e.g. `ese-a10`, 1024 multipliers) are simulated, not co-simulated.
const MAX_MULTIPLIERS: usize = 256;

fn reference_configs() -> Vec<Config> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("hw/configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| Config::from_file(p).unwrap())
        .filter(|c| {
            let small = c.pes * c.banks <= MAX_MULTIPLIERS;
            if !small {
                eprintln!(
                    "not co-simulated (over {MAX_MULTIPLIERS} multipliers): {}",
                    c.name
                );
            }
            small
        })
        .collect()
}

struct Case {
    name: &'static str,
    weights: ndarray::Array2<f32>,
    sparsity: f64,
    input: Vec<f32>,
}

fn cases() -> Vec<Case> {
    let silero = root().join(SILERO);
    let hidden: Vec<f32> = (0..128)
        .map(|j| (0.9 * (0.37 * j as f64 + 0.1).sin()) as f32)
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let normal = Normal::new(0.0f32, 0.5).unwrap();
    let random = ndarray::Array2::from_shape_simple_fn((100, 77), || normal.sample(&mut rng));
    let random_x: Vec<f32> = (0..77).map(|_| normal.sample(&mut rng)).collect();
    vec![
        Case {
            name: "silero weight_hh 75%",
            weights: read_matrix(&silero, Some("lstm_cell.weight_hh")).unwrap(),
            sparsity: 0.75,
            input: hidden.clone(),
        },
        Case {
            name: "silero weight_ih 87.5%",
            weights: read_matrix(&silero, Some("lstm_cell.weight_ih")).unwrap(),
            sparsity: 0.875,
            input: hidden.iter().map(|v| -v * 0.5).collect(),
        },
        Case {
            name: "random 100x77 50%",
            weights: random,
            sparsity: 0.5,
            input: random_x,
        },
    ]
}

/// Prune for this configuration's banks and format; `None` if it does not fit.
fn matrix_for(cfg: &Config, case: &Case) -> Option<(Csb, Vec<i64>)> {
    let pruned = prune_bbs(&case.weights.view(), cfg.banks, case.sparsity).unwrap();
    let (csb, _) = Csb::from_pruned(&pruned, cfg.format());
    cfg.check_matrix(&csb).ok()?;
    let v = bbs_compress::Vector::Float(ndarray::Array1::from(case.input.clone()));
    Some((csb, flow::fixed_vector(&v, cfg).0))
}

fn verilator_or_skip() -> bool {
    match bbs_hdlgen::verilator::version() {
        Some(v) => {
            eprintln!("using {v}");
            true
        }
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true and Verilator is not installed: the co-simulation must run in CI")
        }
        None => {
            eprintln!(
                "SKIPPED: Verilator is not installed; run the README's test command to install it"
            );
            false
        }
    }
}

#[test]
fn rtl_matches_simulator_on_every_reference_configuration() {
    if !verilator_or_skip() {
        return;
    }
    let configs = reference_configs();
    assert!(
        configs.len() >= 3,
        "need at least 3 reference configurations"
    );
    let cases = cases();
    let work = tempfile::tempdir().unwrap();
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for cfg in &configs {
        let dir = work.path().join(&cfg.name);
        let build = flow::build_rtl(cfg, &dir).unwrap_or_else(|e| panic!("{}: {e:#}", cfg.name));
        if Path::new("/usr/bin/iverilog").exists() || which("iverilog") {
            iverilog_compiles(&dir);
        }
        for (i, case) in cases.iter().enumerate() {
            let (csb, x) = matrix_for(cfg, case)
                .unwrap_or_else(|| panic!("{} does not fit {}", case.name, cfg.name));
            let (_, v) = flow::cosimulate(cfg, &build, &csb, &x, &dir.join(format!("run{i}")))
                .unwrap_or_else(|e| panic!("{} / {}: {e:#}", cfg.name, case.name));
            if !v.bit_exact || v.cycle_error_pct > 1.0 {
                failures.push(format!("{} / {}: {v:?}", cfg.name, case.name));
            }
            table.push((case.name, v));
        }
    }
    print_table(&table);
    assert!(
        failures.is_empty(),
        "co-simulation failures:\n{}",
        failures.join("\n")
    );
    assert!(table.len() >= 9);
}

fn which(tool: &str) -> bool {
    std::process::Command::new(tool).arg("-V").output().is_ok()
}

fn iverilog_compiles(dir: &Path) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("rtl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let out = std::process::Command::new("iverilog")
        .args(["-g2005", "-o"])
        .arg(dir.join("iverilog.out"))
        .args(&files)
        .arg(dir.join("tb/tb_bbs.v"))
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "iverilog: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn print_table(rows: &[(&str, Verification)]) {
    println!("| configuration | matrix | bit-exact | sim cycles | RTL cycles | error |");
    println!("|---|---|---|---|---|---|");
    for (name, v) in rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.2}% |",
            v.config,
            name,
            if v.bit_exact { "yes" } else { "NO" },
            v.sim_cycles,
            v.rtl_cycles,
            v.cycle_error_pct
        );
    }
}
