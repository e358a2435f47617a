//! The baseline schedules: BBS agrees with the cycle-exact simulator, the
//! unstructured, dense and block schedules follow their documented rules, and
//! every multiplier-slot is accounted for.

use approx::assert_abs_diff_eq;
use bbs_compress::{prune_bbs, prune_mask, Csb, Pattern};
use bbs_sim::baselines::{compare, schedule, schedule_block, Scheme, SchemeReport};
use bbs_sim::{simulate_spmv, Config, Pipeline};
use ndarray::Array2;
use proptest::prelude::*;

fn config(pes: usize, banks: usize, max_rows: usize, max_cols: usize) -> Config {
    let max_cols = max_cols.max(banks);
    Config {
        name: "baseline".into(),
        pes,
        banks,
        value_width: 8,
        frac_bits: 4,
        acc_width: 2 * 8 + bbs_sim::arith::ceil_log2(banks) + 4,
        max_rows,
        max_cols,
        max_slots: max_cols.div_ceil(banks),
        pipeline: Pipeline {
            mult_stages: 1,
            adder_stages: 0,
        },
        ..Config::default()
    }
}

/// A cheap deterministic generator of values in about [-4, 4).
fn rng(seed: u64) -> impl FnMut() -> f32 {
    let mut state = seed | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 8000) as f32 / 1000.0 - 4.0
    }
}

fn random_matrix(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    Array2::from_shape_simple_fn((rows, cols), rng(seed))
}

/// Every multiplier-slot of every cycle is useful work or a documented stall.
fn assert_accounted(cfg: &Config, r: &SchemeReport) {
    let (p, k) = (cfg.pes as u64, cfg.banks as u64);
    let s = &r.stalls;
    assert_eq!(
        p * k * r.cycles,
        r.nnz as u64
            + k * (s.bank_conflict + s.load_imbalance)
            + s.underfill_slots
            + p * k * (s.vector_load + s.pipeline),
        "{r:?}"
    );
    assert_eq!(r.cycles, s.vector_load + r.compute_cycles + s.pipeline);
    assert_eq!(r.per_pe_busy.len(), cfg.pes);
    assert_eq!(r.compute_cycles, *r.per_pe_busy.iter().max().unwrap());
    assert_eq!(s.vector_load, 1 + r.cols.div_ceil(cfg.banks) as u64);
    assert_eq!(s.pipeline, bbs_sim::arch::timing::drain(cfg));
}

#[test]
fn bbs_cycles_equal_the_simulator() {
    // (pes, banks, rows, cols, sparsity): P not dividing R, K not dividing C, dense BBS.
    let cases = [
        (3, 4, 10, 13, 0.6),
        (8, 8, 64, 64, 0.875),
        (2, 6, 7, 20, 0.3),
        (5, 3, 17, 9, 0.9),
        (1, 2, 5, 5, 0.0),
        (4, 5, 9, 7, 0.5),
    ];
    for (i, &(pes, banks, rows, cols, sparsity)) in cases.iter().enumerate() {
        let cfg = config(pes, banks, rows, cols);
        let w = random_matrix(rows, cols, 17 + i as u64);
        let pruned = prune_bbs(&w.view(), banks, sparsity).unwrap();
        let (csb, _) = Csb::from_pruned(&pruned, cfg.format());
        let sim = simulate_spmv(&cfg, &csb, &vec![0; cols]).unwrap().report;
        let from_kept = pruned.mask().mapv(|x| x != 0);
        let from_values = pruned.pruned().mapv(|x| x != 0.0);
        for mask in [from_kept, from_values] {
            let r = schedule(&cfg, &mask.view(), Scheme::Bbs).unwrap();
            assert_eq!(r.cycles, sim.cycles.total, "case {i}");
            assert_eq!(r.compute_cycles, sim.cycles.compute, "case {i}");
            let busy: Vec<u64> = sim.pe.iter().map(|s| s.busy_cycles).collect();
            assert_eq!(r.per_pe_busy, busy, "case {i}");
            // Lockstep BBS: never a conflict; the only idling is the missing
            // last rows when P does not divide R.
            assert_eq!(r.stalls.bank_conflict, 0);
            let missing = (rows.div_ceil(pes) * pes - rows) as u64;
            assert_eq!(r.stalls.load_imbalance, missing * csb.slots as u64);
            assert_eq!(r.nnz, mask.iter().filter(|&&m| m).count());
            assert_accounted(&cfg, &r);
        }
    }
}

#[test]
fn bbs_without_remainder_rows_has_no_imbalance() {
    let cfg = config(4, 4, 16, 32);
    let pruned = prune_bbs(&random_matrix(16, 32, 5).view(), 4, 0.75).unwrap();
    let r = schedule(&cfg, &pruned.mask().mapv(|x| x != 0).view(), Scheme::Bbs).unwrap();
    assert_eq!(r.stalls.bank_conflict, 0);
    assert_eq!(r.stalls.load_imbalance, 0);
    assert_eq!(r.stalls.underfill_slots, 0);
    assert_eq!(r.per_pe_busy, vec![4 * 2; 4]);
    assert_eq!(r.cycles, 1 + 8 + 4 * 2 + bbs_sim::arch::timing::drain(&cfg));
}

fn mask_from_rows(cols: usize, rows: &[&[usize]]) -> Array2<bool> {
    let mut m = Array2::from_elem((rows.len(), cols), false);
    for (r, cs) in rows.iter().enumerate() {
        for &c in cs.iter() {
            m[[r, c]] = true;
        }
    }
    m
}

#[test]
fn hand_built_unstructured_example() {
    // P = 2, K = 4, banks interleaved c % 4.
    // Row 0 (PE 0): {0, 1, 4, 8} -> banks 0, 1, 0, 0: one word, 3 cycles, 2 conflict.
    // Row 1 (PE 1): {2, 3, 5, 6} -> banks 2, 3, 1, 2: 2 cycles, 1 conflict;
    //               {7}: 1 cycle, 3 idle slots.
    // Row 2 (PE 0): empty: 1 cycle, 4 idle slots.
    let cfg = config(2, 4, 8, 12);
    let mask = mask_from_rows(9, &[&[0, 1, 4, 8], &[2, 3, 5, 6, 7], &[]]);
    let r = schedule(&cfg, &mask.view(), Scheme::Unstructured).unwrap();
    assert_eq!(r.nnz, 9);
    assert_eq!(r.per_pe_busy, vec![4, 3]);
    assert_eq!(r.compute_cycles, 4);
    assert_eq!(r.stalls.bank_conflict, 3);
    assert_eq!(r.stalls.load_imbalance, 1);
    assert_eq!(r.stalls.underfill_slots, 7);
    assert_eq!(r.stalls.underfill, 2); // 7 / 4 rounded
    assert_eq!(r.stalls.vector_load, 1 + 3);
    assert_eq!(r.stalls.pipeline, 4);
    assert_eq!(r.cycles, 1 + 3 + 4 + 4);
    assert_eq!(r.matrix_words_per_pe, 2);
    assert_abs_diff_eq!(r.utilization, 9.0 / (8.0 * 12.0), epsilon = 1e-12);
    assert_accounted(&cfg, &r);
}

#[test]
fn dense_is_rows_per_pe_times_words_without_conflicts() {
    let (pes, banks, rows, cols) = (4, 8, 13, 30);
    let cfg = config(pes, banks, rows, cols);
    let all = Array2::from_elem((rows, cols), true);
    let random = random_matrix(rows, cols, 3).mapv(|x| x > 1.0);
    for mask in [all, random] {
        let r = schedule(&cfg, &mask.view(), Scheme::Dense).unwrap();
        let compute = (rows.div_ceil(pes) * cols.div_ceil(banks)) as u64;
        assert_eq!(r.compute_cycles, compute);
        assert_eq!(
            r.cycles,
            1 + cols.div_ceil(banks) as u64 + compute + bbs_sim::arch::timing::drain(&cfg)
        );
        assert_eq!(r.stalls.bank_conflict, 0);
        assert_eq!(r.nnz, rows * cols);
        assert_eq!(r.mask_nnz, mask.iter().filter(|&&m| m).count());
        // 32 slots per row hold 30 columns; PE 0 has one row more than the others.
        assert_eq!(r.stalls.underfill_slots, rows as u64 * 2);
        assert_eq!(r.stalls.load_imbalance, 3 * 4);
        assert_accounted(&cfg, &r);
    }
}

#[test]
fn one_long_row_unbalances_unstructured() {
    let (pes, banks, rows, cols) = (4, 4, 16, 64);
    let cfg = config(pes, banks, rows, cols);
    let pruned = prune_bbs(&random_matrix(rows, cols, 11).view(), banks, 0.75).unwrap();
    let bbs_mask = pruned.mask().mapv(|x| x != 0);
    let bbs = schedule(&cfg, &bbs_mask.view(), Scheme::Bbs).unwrap();
    assert_eq!(bbs.nnz, 256);

    // The same 256 nonzeros: row 0 full, the other 192 spread over 15 rows.
    let mut mask = Array2::from_elem((rows, cols), false);
    mask.row_mut(0).fill(true);
    let mut next = rng(23);
    for r in 1..rows {
        let want = if r <= 12 { 13 } else { 12 };
        let mut have = 0;
        while have < want {
            let c = ((next() + 4.0) * 1000.0) as usize % cols;
            if !mask[[r, c]] {
                mask[[r, c]] = true;
                have += 1;
            }
        }
    }
    let un = schedule(&cfg, &mask.view(), Scheme::Unstructured).unwrap();
    assert_eq!(un.nnz, bbs.nnz);
    assert!(un.stalls.load_imbalance > 0, "{un:?}");
    assert!(un.utilization < bbs.utilization, "{un:?} vs {bbs:?}");
    assert!(un.cycles > bbs.cycles);
    assert_accounted(&cfg, &un);
}

#[test]
fn blocks_conflict_only_across_blocks() {
    let cfg = config(1, 4, 4, 8);
    // 2 x 2 blocks at columns 0-1 and 4-5: banks 0, 1, 0, 1 -> 2 cycles per row.
    let apart = mask_from_rows(8, &[&[0, 1, 4, 5], &[0, 1, 4, 5]]);
    // ... at columns 0-1 and 2-3: banks 0, 1, 2, 3 -> 1 cycle per row.
    let adjacent = mask_from_rows(8, &[&[0, 1, 2, 3], &[0, 1, 2, 3]]);
    let a = schedule_block(&cfg, &apart.view(), 2).unwrap();
    let b = schedule_block(&cfg, &adjacent.view(), 2).unwrap();
    assert_eq!((a.compute_cycles, a.stalls.bank_conflict), (4, 2));
    assert_eq!((b.compute_cycles, b.stalls.bank_conflict), (2, 0));
    assert_eq!(a.block_size, Some(2));
    // Detection finds the same size and the same schedule as Unstructured.
    let detected = schedule(&cfg, &apart.view(), Scheme::Block).unwrap();
    assert_eq!(detected.block_size, Some(2));
    let un = schedule(&cfg, &apart.view(), Scheme::Unstructured).unwrap();
    assert_eq!(detected.cycles, un.cycles);
    assert_eq!(detected.stalls, un.stalls);
}

fn err(r: Result<SchemeReport, bbs_sim::BaselineError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn bad_inputs_are_errors_naming_the_field() {
    let cfg = config(2, 4, 8, 16);
    let empty = Array2::from_elem((0, 5), true);
    for scheme in Scheme::ALL {
        let e = err(schedule(&cfg, &empty.view(), scheme));
        assert!(e.starts_with("mask:") && e.contains("empty"), "{e}");
    }
    let tall = Array2::from_elem((9, 4), true);
    let e = err(schedule(&cfg, &tall.view(), Scheme::Dense));
    assert!(e.starts_with("mask:") && e.contains("max_rows"), "{e}");
    let wide = Array2::from_elem((2, 17), true);
    let e = err(schedule(&cfg, &wide.view(), Scheme::Unstructured));
    assert!(e.starts_with("mask:") && e.contains("max_cols"), "{e}");

    // Unbalanced for BBS: row 1, bank 2 keeps 2, every other bank 1.
    let mut unbalanced = mask_from_rows(16, &[&[0, 4, 8, 12], &[1, 5, 9, 12]]);
    unbalanced[[1, 10]] = true;
    let e = err(schedule(&cfg, &unbalanced.view(), Scheme::Bbs));
    assert!(
        e.starts_with("mask:") && e.contains("bank-balanced") && e.contains("row 1, bank 2"),
        "{e}"
    );
    let none = Array2::from_elem((2, 16), false);
    let e = err(schedule(&cfg, &none.view(), Scheme::Bbs));
    assert!(e.starts_with("mask:"), "{e}");

    let e = err(schedule_block(&cfg, &unbalanced.view(), 0));
    assert!(e.starts_with("block:"), "{e}");
    let e = err(schedule_block(&cfg, &unbalanced.view(), 2));
    assert!(e.starts_with("mask:") && e.contains("2 x 2"), "{e}");
    let e = err(schedule(&cfg, &unbalanced.view(), Scheme::Block));
    assert!(e.starts_with("mask:") && e.contains("blocks"), "{e}");

    let mut bad = cfg.clone();
    bad.pes = 0;
    let e = err(schedule(&bad, &unbalanced.view(), Scheme::Dense));
    assert!(e.starts_with("pes:"), "{e}");

    let e = compare(
        &cfg,
        &[
            (Scheme::Dense, unbalanced.clone()),
            (Scheme::Bbs, unbalanced.clone()),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("masks[1] (Bbs): mask:"), "{e}");
}

/// A mask of random aligned `b x b` blocks, with the first block kept.
fn block_mask(rows: usize, cols: usize, b: usize, density: f64, seed: u64) -> Array2<bool> {
    let (br, bc) = (rows.div_ceil(b), cols.div_ceil(b));
    let mut next = rng(seed);
    let mut keep: Vec<bool> = (0..br * bc)
        .map(|_| (((next() + 4.0) / 8.0) as f64) < density)
        .collect();
    keep[0] = true;
    Array2::from_shape_fn((rows, cols), |(r, c)| keep[r / b * bc + c / b])
}

fn check_bounds(r: &SchemeReport) {
    assert!(r.utilization > 0.0 && r.utilization <= 1.0, "{r:?}");
    assert!(r.cycles as f64 >= r.compute_bound, "{r:?}");
    assert!(r.compute_cycles as f64 >= r.compute_bound, "{r:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn random_masks_stay_within_bounds(
        rows in 1usize..30,
        cols in 1usize..40,
        pes in 1usize..6,
        banks in 1usize..9,
        b in 1usize..5,
        density in 0.0f64..1.0,
        seed in any::<u64>(),
    ) {
        let cfg = config(pes, banks, rows, cols);
        let mut next = rng(seed);
        let mut mask = Array2::from_shape_simple_fn((rows, cols), || {
            (((next() + 4.0) / 8.0) as f64) < density
        });
        mask[[0, 0]] = true;
        let un = schedule(&cfg, &mask.view(), Scheme::Unstructured).unwrap();
        let dense = schedule(&cfg, &mask.view(), Scheme::Dense).unwrap();
        for r in [&un, &dense] {
            check_bounds(r);
            assert_accounted(&cfg, r);
        }
        prop_assert!(dense.stalls.bank_conflict == 0);
        prop_assert!(un.cycles <= dense.cycles + un.stalls.bank_conflict);

        let blocks = block_mask(rows, cols, b, density, seed ^ 0x5a5a);
        let given = schedule_block(&cfg, &blocks.view(), b).unwrap();
        check_bounds(&given);
        assert_accounted(&cfg, &given);
        let as_un = schedule(&cfg, &blocks.view(), Scheme::Unstructured).unwrap();
        prop_assert_eq!(given.cycles, as_un.cycles);
        let uniform = blocks.iter().all(|&m| m);
        if let Ok(detected) = schedule(&cfg, &blocks.view(), Scheme::Block) {
            // The detected size is a multiple of the one used to build the mask
            // (a uniform mask is one block of the larger dimension).
            if !uniform {
                prop_assert_eq!(detected.block_size.unwrap() % b, 0);
            }
            prop_assert_eq!(detected.cycles, given.cycles);
        } else {
            prop_assert_eq!(b, 1);
        }
    }

    #[test]
    fn bbs_equals_the_simulator_on_random_matrices(
        rows in 1usize..30,
        cols in 1usize..40,
        pes in 1usize..6,
        banks_seed in 0usize..8,
        sparsity in 0.0f64..0.95,
        seed in any::<u64>(),
    ) {
        let banks = 1 + banks_seed % cols.min(8);
        let cfg = config(pes, banks, rows, cols);
        let pruned = prune_bbs(&random_matrix(rows, cols, seed).view(), banks, sparsity).unwrap();
        let (csb, _) = Csb::from_pruned(&pruned, cfg.format());
        let sim = simulate_spmv(&cfg, &csb, &vec![0; cols]).unwrap().report;
        let r = schedule(&cfg, &pruned.mask().mapv(|x| x != 0).view(), Scheme::Bbs).unwrap();
        prop_assert_eq!(r.cycles, sim.cycles.total);
        prop_assert_eq!(r.stalls.bank_conflict, 0);
        check_bounds(&r);
        assert_accounted(&cfg, &r);
    }
}

fn row(r: &SchemeReport) -> String {
    let s = &r.stalls;
    format!(
        "{:<12} nnz {:>6}  cycles {:>5}  compute {:>5}  bound {:>7.1}  util {:.3}  eff {:.3}  conflict {:>5}  imbalance {:>5}  underfill {:>4}  load {:>3}  drain {}  words/PE {:>5} fits {}",
        r.scheme.label(),
        r.nnz,
        r.cycles,
        r.compute_cycles,
        r.compute_bound,
        r.utilization,
        r.effective_utilization,
        s.bank_conflict,
        s.load_imbalance,
        s.underfill,
        s.vector_load,
        s.pipeline,
        r.matrix_words_per_pe,
        r.fits_matrix_memory,
    )
}

/// The default configuration on a random 512 x 512 matrix at 87.5% sparsity:
/// BBS (8 banks), unstructured and 4 x 4 blocks with the same nonzero count,
/// and dense. `cargo test -- --nocapture` prints the table.
#[test]
fn default_config_comparison() {
    let cfg = Config::default();
    let w = random_matrix(512, 512, 2019);
    let bbs = prune_bbs(&w.view(), cfg.banks, 0.875)
        .unwrap()
        .mask()
        .mapv(|x| x != 0);
    let un = prune_mask(&w.view(), &Pattern::Unstructured, 0.875).unwrap();
    let block = prune_mask(&w.view(), &Pattern::Block { size: 4 }, 0.875).unwrap();
    let reports = compare(
        &cfg,
        &[
            (Scheme::Bbs, bbs),
            (Scheme::Unstructured, un),
            (Scheme::Block, block.clone()),
            (Scheme::Dense, Array2::from_elem((512, 512), true)),
        ],
    )
    .unwrap();
    for r in &reports {
        println!("{}", row(r));
        assert_accounted(&cfg, r);
    }
    let [bbs, un, blk, dense] = &reports[..] else {
        unreachable!("compare returns one report per entry")
    };
    assert_eq!(bbs.cycles, 1 + 64 + 64 * 8 + 6);
    assert_eq!(dense.cycles, 1 + 64 + 64 * 64 + 6);
    for r in [un, blk] {
        assert_eq!(r.nnz, bbs.nnz);
        assert!(r.cycles > bbs.cycles, "{r:?}");
        assert!(r.utilization < bbs.utilization);
        assert!(r.stalls.bank_conflict > 0);
    }
    assert_eq!(blk.block_size.map(|b| b % 4), Some(0));
    let given = schedule_block(&cfg, &block.view(), 4).unwrap();
    assert_eq!(given.cycles, blk.cycles);
}
