//! The simulator's outputs equal the plain dense reference bit for bit, for
//! random shapes, sparsities, fixed-point formats and configurations.

use bbs_compress::{prune_bbs, Csb};
use bbs_sim::reference::reference_spmv;
use bbs_sim::{simulate_spmv, Config, Pipeline, SimError};
use proptest::prelude::*;

fn config(pes: usize, banks: usize, width: u32, frac: u32, guard: u32, cols: usize) -> Config {
    Config {
        name: "prop".into(),
        pes,
        banks,
        value_width: width,
        frac_bits: frac,
        // As narrow as allowed plus `guard` bits, so wrap-around is exercised too.
        acc_width: 2 * width + bbs_sim::arith::ceil_log2(banks) + guard,
        max_rows: 64,
        max_cols: cols.max(banks),
        max_slots: cols.max(banks).div_ceil(banks),
        pipeline: Pipeline {
            mult_stages: 1,
            adder_stages: 0,
        },
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn simulator_equals_reference(
        rows in 1usize..40,
        cols in 1usize..40,
        banks_seed in 0usize..8,
        pes in 1usize..6,
        width in 4u32..17,
        frac_seed in 0u32..16,
        guard in 0u32..6,
        sparsity in 0.0f64..0.95,
        seed in any::<u64>(),
    ) {
        let banks = 1 + banks_seed % cols.min(8);
        let frac = frac_seed % width;
        let cfg = config(pes, banks, width, frac, guard, cols);
        cfg.validate().unwrap();
        // A cheap deterministic spread of values in about [-4, 4).
        let mut state = seed | 1;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 8000) as f32 / 1000.0 - 4.0
        };
        let w = ndarray::Array2::from_shape_simple_fn((rows, cols), &mut next);
        let pruned = prune_bbs(&w.view(), banks, sparsity).unwrap();
        let (csb, _) = Csb::from_pruned(&pruned, cfg.format());
        let fmt = cfg.format();
        let x: Vec<i64> = (0..cols).map(|_| fmt.quantize(next()).0).collect();

        let run = simulate_spmv(&cfg, &csb, &x).unwrap();
        prop_assert_eq!(&run.output, &reference_spmv(&cfg, &csb.to_dense_fixed(), &x));

        // The cycle count is the compute bound plus the fixed overheads, never more.
        let c = &run.report.cycles;
        let bound = (rows.div_ceil(pes) * csb.slots) as u64;
        prop_assert_eq!(c.total, c.start + c.load + c.compute + c.drain);
        prop_assert_eq!(c.compute, bound);
        prop_assert!(c.total <= bound + 1 + csb.bank_size as u64 + bbs_sim::arch::timing::drain(&cfg));
        prop_assert!(run.report.utilization > 0.0 && run.report.utilization <= 1.0);
    }
}

#[test]
fn wrong_vector_length_and_out_of_range_inputs_are_refused() {
    let cfg = config(2, 2, 8, 4, 0, 8);
    let w = ndarray::Array2::from_shape_fn((4, 8), |(r, c)| (r * 8 + c) as f32 / 16.0);
    let (csb, _) = Csb::from_pruned(&prune_bbs(&w.view(), 2, 0.5).unwrap(), cfg.format());
    match simulate_spmv(&cfg, &csb, &[0; 7]) {
        Err(SimError::VectorLength {
            got: 7,
            expected: 8,
        }) => {}
        other => panic!("{other:?}"),
    }
    let err = simulate_spmv(&cfg, &csb, &[0, 0, 300, 0, 0, 0, 0, 0]).unwrap_err();
    assert!(err.to_string().contains("element 2"), "{err}");
    let mut other = cfg.clone();
    other.banks = 4;
    other.acc_width = 18;
    other.max_slots = 2;
    let err = simulate_spmv(&other, &csb, &[0; 8]).unwrap_err();
    assert!(err.to_string().starts_with("banks:"), "{err}");
}

#[test]
fn known_small_case_by_hand() {
    // 1 x 4 matrix, 2 banks, keep 1 per bank, Q8.4: row [1.0, -2.0 | 0.5, 0.25]
    // keeps -2.0 (bank 0) and 0.5 (bank 1). x = [1, 1, 2, 2] -> y = -2 + 1 = -1.0 = -16 in Q8.4.
    let cfg = config(1, 2, 8, 4, 0, 4);
    let w = ndarray::arr2(&[[1.0f32, -2.0, 0.5, 0.25]]);
    let (csb, _) = Csb::from_pruned(&prune_bbs(&w.view(), 2, 0.5).unwrap(), cfg.format());
    let run = simulate_spmv(&cfg, &csb, &[16, 16, 32, 32]).unwrap();
    assert_eq!(run.output, vec![-16]);
    // start 1 + load 2 + compute 1 + drain (3 + 1 + 0)
    assert_eq!(run.report.cycles.total, 8);
}
