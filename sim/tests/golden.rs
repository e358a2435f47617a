//! Golden snapshots of the simulator's JSON reports (`sim/tests/snapshots/`).
//! A change of any cycle count, utilization, resource estimate or output
//! error shows up as a snapshot diff; review it and accept it with
//! `INSTA_UPDATE=always cargo test -p bbs-sim --test golden` (or `cargo insta
//! review`) when it is intended. The bbs version is left out so a release
//! does not churn them, and the float-reference errors are rounded to 6
//! significant digits so a libm difference in the last bit does not either.

use bbs_compress::{prune_bbs, Csb};
use bbs_sim::report::{run_workload, WorkloadOptions};
use bbs_sim::resources::Device;
use bbs_sim::{simulate_spmv, Config};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde_json::Value;
use std::path::PathBuf;

fn config(name: &str) -> Config {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../hw/configs")
        .join(format!("{name}.toml"));
    Config::from_file(&path).unwrap()
}

fn round6(v: &mut Value) {
    if let Some(x) = v.as_f64() {
        if x != 0.0 {
            let digits = 5 - x.abs().log10().floor() as i32;
            let scale = 10f64.powi(digits);
            *v = Value::from((x * scale).round() / scale);
        }
    }
}

/// The report as JSON without `bbs_version`, float errors rounded.
fn golden<T: serde::Serialize>(report: &T) -> Value {
    let mut v = serde_json::to_value(report).unwrap();
    let obj = v.as_object_mut().unwrap();
    assert!(obj.remove("bbs_version").is_some());
    if let Some(acc) = obj.get_mut("accuracy") {
        round6(&mut acc["max_abs_error"]);
        round6(&mut acc["mean_abs_error"]);
    }
    v
}

fn workload(cfg: &str, name: &str, frames: usize, baselines: bool) -> Value {
    let opts = WorkloadOptions {
        workload: name.into(),
        sparsity: 0.875,
        frames,
        seed: 1,
        baselines,
        device: Device::IntelM20k,
    };
    let run = run_workload(&config(cfg), &opts).unwrap();
    let v = golden(&run.report);
    assert_eq!(v["report_version"], 1);
    v
}

#[test]
fn default_small_lstm() {
    insta::assert_json_snapshot!(
        "default_small_lstm",
        workload("default", "small-lstm", 4, false)
    );
}

#[test]
fn odd_small_gru() {
    insta::assert_json_snapshot!("odd_small_gru", workload("odd", "small-gru", 4, false));
}

#[test]
fn ese_a10_ese_lstm_with_baselines() {
    let v = workload("ese-a10", "ese-lstm", 2, true);
    // The BBS row of the baselines is the simulated frame (on-chip matrices).
    assert_eq!(
        v["baselines"]["frame"][0]["cycles"],
        v["frames"][0]["cycles"]
    );
    insta::assert_json_snapshot!("ese_a10_ese_lstm_with_baselines", v);
}

/// `bbs sim M.csb X.npy --json` on the tiny configuration: one SpMxV of a
/// fixed random 40 x 30 matrix at 75% sparsity.
#[test]
fn tiny_one_spmv() {
    let cfg = config("tiny");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let normal = Normal::new(0.0f32, 0.5).unwrap();
    let w = ndarray::Array2::from_shape_simple_fn((40, 30), || normal.sample(&mut rng));
    let pruned = prune_bbs(&w.view(), cfg.banks, 0.75).unwrap();
    let (csb, _) = Csb::from_pruned(&pruned, cfg.format());
    let fmt = cfg.format();
    let x: Vec<i64> = (0..30)
        .map(|_| fmt.quantize(normal.sample(&mut rng).clamp(-0.9, 0.9)).0)
        .collect();
    let run = simulate_spmv(&cfg, &csb, &x).unwrap();
    assert_eq!(
        run.output,
        bbs_sim::reference::reference_spmv(&cfg, &csb.to_dense_fixed(), &x)
    );
    insta::assert_json_snapshot!("tiny_one_spmv", golden(&run.report));
}
