//! Every configuration the simulator accepts generates lint-clean Verilog:
//! random valid configurations (a fixed seed, so a failure reproduces) across
//! the whole range of every field, each generated, linted with
//! `verilator --lint-only -Wall` and compiled by Icarus. Edge cases such as
//! 1 bank, 2-bit values, 32-bit values with a 64-bit accumulator, a 1-word
//! instruction buffer or an EWOP unit without pipeline registers are where
//! width arithmetic in the templates goes wrong. About half of them are the
//! overlapped machine (`overlap.units`, the other switches at random), about
//! half of those with bank-interleaved vectors (`overlap.interleaved`, the
//! vector load 1, 2 or 4 wide).
//!
//! Under `CI=true` a missing Verilator fails the test; elsewhere it is skipped.

use bbs_sim::Config;
use rand::{Rng, SeedableRng};

const CASES: usize = 24;

fn random_config(rng: &mut rand_chacha::ChaCha8Rng, i: usize) -> Config {
    let banks = rng.random_range(1..=32usize);
    let value_width = *[2u32, 3, 4, 8, 12, 16, 24, 32]
        .get(rng.random_range(0..8usize))
        .unwrap();
    let frac_bits = rng.random_range(0..value_width);
    let guard = if banks <= 1 {
        0
    } else {
        usize::BITS - (banks - 1).leading_zeros()
    };
    let need = 2 * value_width + guard;
    let max_cols = rng.random_range(banks..=banks * 40);
    let bank = max_cols.div_ceil(banks);
    let mut c = Config {
        name: format!("random{i}"),
        pes: rng.random_range(1..=40usize),
        banks,
        value_width,
        frac_bits,
        acc_width: rng.random_range(need.min(64)..=64u32.min(need + 8)),
        max_rows: rng.random_range(1..=600usize),
        max_cols,
        max_slots: rng.random_range(1..=bank),
        ..Config::default()
    };
    c.pipeline.mult_stages = rng.random_range(1..=4);
    c.pipeline.adder_stages = rng.random_range(0..=3);
    c.ewop.lanes = rng.random_range(1..=20);
    c.ewop.latency = rng.random_range(0..=16);
    c.memory.vector_words = rng.random_range(1..=3000);
    c.memory.instruction_words = rng.random_range(1..=70);
    c.host.link_bytes_per_cycle = rng.random_range(1..=64);
    c.host.link_latency = rng.random_range(0..=100);
    c
}

#[test]
fn random_valid_configurations_generate_lint_clean_verilog() {
    if !bbs_hdlgen::verilator::available_for_test("the random-configuration lint") {
        return;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    // The machine (serialized, or overlapped with random switches) from a
    // stream of its own, so the shapes stay those of the serialized cases.
    let mut machine = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    // Bank-interleaved vectors and the vector load's width from a third
    // stream, so the other draws stay as they were.
    let mut vector_load = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut interleaved = 0;
    let mut overlapped = 0;
    let work = tempfile::tempdir().unwrap();
    let mut linted = 0;
    let mut i = 0;
    while linted < CASES {
        let mut cfg = random_config(&mut rng, i);
        i += 1;
        if machine.random_bool(0.5) {
            cfg.overlap = bbs_sim::Overlap {
                units: true,
                vector_buffers: machine.random_range(1..=2),
                chaining: machine.random_bool(0.5),
                act_unit: machine.random_bool(0.5),
                input_ahead: machine.random_bool(0.5),
                interleaved: false,
                load_width: 1,
                regions: None,
                loadable: None,
            };
            if vector_load.random_bool(0.5) {
                cfg.overlap.interleaved = true;
                cfg.overlap.load_width = [1, 2, 4][vector_load.random_range(0..3usize)];
            }
        }
        if cfg.validate().is_err() {
            continue;
        }
        let dir = work.path().join(&cfg.name);
        let design = bbs_hdlgen::generate(&cfg).unwrap_or_else(|e| panic!("{}: {e}", cfg.name));
        bbs_hdlgen::write_design(&design, &dir).unwrap();
        if let Err(e) = bbs_hdlgen::verilator::lint(&design, &dir) {
            panic!("{}:\n{}\n{e}", cfg.name, cfg.to_toml());
        }
        if let Ok(out) = std::process::Command::new("iverilog")
            .args(["-g2005", "-o"])
            .arg(dir.join("a.out"))
            .args(design.files.iter().map(|f| dir.join(&f.path)))
            .output()
        {
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "iverilog on {}:\n{}\n{}",
                cfg.name,
                cfg.to_toml(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        linted += 1;
        overlapped += usize::from(cfg.overlap.units);
        interleaved += usize::from(cfg.overlap.interleaved);
    }
    eprintln!(
        "{linted} random configurations lint-clean ({overlapped} overlapped, {interleaved} of them bank-interleaved; {i} drawn)"
    );
    assert!(overlapped >= CASES / 4, "{overlapped} overlapped");
    assert!(interleaved >= 2, "{interleaved} bank-interleaved");
}
