//! Comparison patterns, the gradual schedule and the per-layer metrics:
//! exact counts, agreement with `prune_bbs`, tie rules, hand-computed
//! metrics, parse errors and properties over random shapes.

use approx::{abs_diff_eq, assert_abs_diff_eq};
use bbs_compress::{
    apply_mask, global_unstructured_masks, kept_per_bank, layer_metrics, prune_bbs, prune_mask,
    Error, Pattern, Schedule,
};
use ndarray::{array, Array2, ArrayView2};
use proptest::prelude::*;

/// Deterministic pseudo-random weights (xorshift); coarse values so ties occur.
fn weights(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut s = seed | 1;
    Array2::from_shape_fn((rows, cols), |_| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s % 33) as f32 - 16.0) / 8.0
    })
}

fn count(mask: &Array2<bool>) -> usize {
    mask.iter().filter(|&&k| k).count()
}

fn round_half_up(x: f64) -> usize {
    (x + 1e-9 + 0.5).floor() as usize
}

#[test]
fn unstructured_keeps_exact_count() {
    let w = weights(13, 29, 7);
    for s in [0.0, 0.3, 0.5, 0.875, 0.99] {
        let m = prune_mask(&w.view(), &Pattern::Unstructured, s).unwrap();
        assert_eq!(count(&m), round_half_up((1.0 - s) * 377.0), "s = {s}");
    }
}

#[test]
fn row_balanced_keeps_exact_count_per_row() {
    let w = weights(9, 20, 3);
    for s in [0.0, 0.25, 0.7, 0.9] {
        let m = prune_mask(&w.view(), &Pattern::RowBalanced, s).unwrap();
        let want = round_half_up((1.0 - s) * 20.0);
        for row in m.rows() {
            assert_eq!(row.iter().filter(|&&k| k).count(), want, "s = {s}");
        }
    }
}

#[test]
fn bbs_keeps_exact_count_per_bank_and_matches_prune_bbs() {
    for (rows, cols, banks, s) in [
        (8, 64, 16, 0.875),
        (5, 30, 4, 0.5),
        (3, 10, 3, 0.6),
        (4, 7, 7, 0.3),
    ] {
        let w = weights(rows, cols, (rows * cols) as u64);
        let mask = prune_mask(&w.view(), &Pattern::Bbs { banks }, s).unwrap();
        let p = prune_bbs(&w.view(), banks, s).unwrap();
        assert_eq!(apply_mask(&w.view(), &mask), p.pruned());
        assert_eq!(mask, p.mask().mapv(|x| x == 1));
        let n = kept_per_bank(p.bank_size, s);
        for row in mask.rows() {
            for b in 0..banks {
                let lo = b * p.bank_size;
                let hi = ((b + 1) * p.bank_size).min(cols);
                let real = hi.saturating_sub(lo);
                let kept = (lo..hi).filter(|&c| row[c]).count();
                assert_eq!(kept, n.min(real), "shape {rows}x{cols}, bank {b}");
            }
        }
    }
}

/// Large enough that `prune_bbs` splits the rows over several parallel tasks:
/// the result must equal a plain serial sort-based reference.
#[test]
fn parallel_prune_bbs_matches_serial_reference() {
    let (rows, cols, banks, s) = (300, 250, 8, 0.8);
    let w = weights(rows, cols, 99);
    let p = prune_bbs(&w.view(), banks, s).unwrap();
    let bank_size = cols.div_ceil(banks);
    let n = kept_per_bank(bank_size, s);
    assert_eq!((p.bank_size, p.slots), (bank_size, n));
    let mut want_pruned = Array2::<f32>::zeros((rows, cols));
    let mut want_kept = vec![0u16; rows * n * banks];
    for r in 0..rows {
        for b in 0..banks {
            let mut cand: Vec<(f32, usize)> = (0..bank_size)
                .map(|j| (w.get((r, b * bank_size + j)).map_or(0.0, |x| x.abs()), j))
                .collect();
            cand.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
            let mut chosen: Vec<usize> = cand[..n].iter().map(|c| c.1).collect();
            chosen.sort_unstable();
            for (slot, &j) in chosen.iter().enumerate() {
                want_kept[(r * n + slot) * banks + b] = j as u16;
                let c = b * bank_size + j;
                if c < cols {
                    want_pruned[(r, c)] = w[(r, c)];
                }
            }
        }
    }
    assert_eq!(p.kept, want_kept);
    assert_eq!(p.pruned(), want_pruned);
}

#[test]
fn nm_2_4_keeps_two_in_every_group_of_four() {
    let w = weights(6, 24, 11);
    let mask = prune_mask(&w.view(), &Pattern::NM { n: 2, m: 4 }, 0.0).unwrap();
    for row in mask.rows() {
        for g in 0..6 {
            let kept = (4 * g..4 * g + 4).filter(|&c| row[c]).count();
            assert_eq!(kept, 2);
        }
    }
    // The caller's sparsity is ignored.
    let other = prune_mask(&w.view(), &Pattern::NM { n: 2, m: 4 }, 0.9).unwrap();
    assert_eq!(mask, other);
    // A row that is not a multiple of M: the last group (3 real columns) keeps 2.
    let w = weights(4, 11, 5);
    let mask = prune_mask(&w.view(), &Pattern::NM { n: 2, m: 4 }, 0.5).unwrap();
    for row in mask.rows() {
        assert_eq!(row.iter().filter(|&&k| k).count(), 6);
        assert_eq!((8..11).filter(|&c| row[c]).count(), 2);
    }
    // 1:1 keeps everything; 3:4 keeps 3 per group.
    let all = prune_mask(&w.view(), &Pattern::NM { n: 1, m: 1 }, 0.5).unwrap();
    assert!(all.iter().all(|&k| k));
    let m34 = prune_mask(&w.view(), &Pattern::NM { n: 3, m: 4 }, 0.0).unwrap();
    assert_eq!(count(&m34), 4 * (3 + 3 + 3));
}

#[test]
fn block_masks_are_constant_per_block_and_keep_whole_blocks() {
    // 10 x 13 with 4x4 blocks: 3 x 4 = 12 blocks, edge blocks partial.
    let w = weights(10, 13, 17);
    for s in [0.0, 0.5, 0.75, 0.9] {
        let mask = prune_mask(&w.view(), &Pattern::Block { size: 4 }, s).unwrap();
        let mut kept_blocks = 0;
        let mut kept_entries = 0;
        for br in 0..3 {
            for bc in 0..4 {
                let cells: Vec<bool> = (4 * br..(4 * br + 4).min(10))
                    .flat_map(|r| (4 * bc..(4 * bc + 4).min(13)).map(move |c| (r, c)))
                    .map(|rc| mask[rc])
                    .collect();
                assert!(cells.iter().all(|&k| k == cells[0]), "block ({br}, {bc})");
                if cells[0] {
                    kept_blocks += 1;
                    kept_entries += cells.len();
                }
            }
        }
        assert_eq!(kept_blocks, round_half_up((1.0 - s) * 12.0), "s = {s}");
        assert_eq!(count(&mask), kept_entries);
    }
}

#[test]
fn block_ranks_by_frobenius_norm() {
    // Block 0 has the largest single entry, block 1 the larger norm.
    let w = array![[5.0f32, 0.0, 3.0, 3.0], [0.0, 0.0, 3.0, 3.0]];
    let mask = prune_mask(&w.view(), &Pattern::Block { size: 2 }, 0.5).unwrap();
    assert_eq!(
        mask,
        array![[false, false, true, true], [false, false, true, true]]
    );
    // An edge block counts only its real entries (norm 4 > 3.9).
    let w = array![[3.9f32, 0.0, 4.0]];
    let mask = prune_mask(&w.view(), &Pattern::Block { size: 2 }, 0.5).unwrap();
    assert_eq!(mask, array![[false, false, true]]);
}

#[test]
fn global_unstructured_keeps_largest_across_layers() {
    let big = weights(8, 8, 1);
    let tiny = weights(8, 8, 2).mapv(|x| x * 1e-3);
    let layers = [big.view(), tiny.view()];
    let masks = global_unstructured_masks(&layers, 0.5).unwrap();
    assert_eq!(masks.len(), 2);
    assert_eq!(count(&masks[0]) + count(&masks[1]), 64);
    assert!(
        count(&masks[1]) < count(&masks[0]),
        "the tiny layer loses more"
    );
    // Every kept weight is at least as large as every pruned one, globally.
    let kept_min = layers
        .iter()
        .zip(&masks)
        .flat_map(|(l, m)| l.iter().zip(m).filter(|(_, &k)| k).map(|(x, _)| x.abs()))
        .fold(f32::INFINITY, f32::min);
    let pruned_max = layers
        .iter()
        .zip(&masks)
        .flat_map(|(l, m)| l.iter().zip(m).filter(|(_, &k)| !k).map(|(x, _)| x.abs()))
        .fold(0.0f32, f32::max);
    assert!(kept_min >= pruned_max);
    // One layer alone is per-layer unstructured.
    let one = global_unstructured_masks(&[big.view()], 0.7).unwrap();
    let per_layer = prune_mask(&big.view(), &Pattern::Unstructured, 0.7).unwrap();
    assert_eq!(one[0], per_layer);
}

#[test]
fn ties_go_to_the_lower_index() {
    let ones = Array2::<f32>::ones((2, 4));
    let v = ones.view();
    let m = prune_mask(&v, &Pattern::Unstructured, 0.5).unwrap();
    assert_eq!(
        m,
        array![[true, true, true, true], [false, false, false, false]]
    );
    let m = prune_mask(&v, &Pattern::RowBalanced, 0.75).unwrap();
    assert_eq!(
        m,
        array![[true, false, false, false], [true, false, false, false]]
    );
    let m = prune_mask(&v, &Pattern::Block { size: 2 }, 0.5).unwrap();
    assert_eq!(
        m,
        array![[true, true, false, false], [true, true, false, false]]
    );
    let m = prune_mask(&v, &Pattern::NM { n: 1, m: 2 }, 0.0).unwrap();
    assert_eq!(
        m,
        array![[true, false, true, false], [true, false, true, false]]
    );
    let m = prune_mask(&v, &Pattern::Bbs { banks: 1 }, 0.5).unwrap();
    assert_eq!(
        m,
        array![[true, true, false, false], [true, true, false, false]]
    );
    // Sign does not matter, only the magnitude.
    let w = array![[1.0f32, -2.0, 2.0, -1.0]];
    let m = prune_mask(&w.view(), &Pattern::RowBalanced, 0.75).unwrap();
    assert_eq!(m, array![[false, true, false, false]]);
    // Global: the earlier layer wins a tie.
    let masks = global_unstructured_masks(&[v, v], 0.5).unwrap();
    assert!(masks[0].iter().all(|&k| k));
    assert!(masks[1].iter().all(|&k| !k));
}

#[test]
fn apply_mask_zeroes_pruned_entries() {
    let w = array![[1.0f32, 2.0], [3.0, 4.0]];
    let m = array![[true, false], [false, true]];
    assert_eq!(apply_mask(&w.view(), &m), array![[1.0f32, 0.0], [0.0, 4.0]]);
    // A mask of another shape: missing entries count as pruned.
    let small = array![[true]];
    assert_eq!(
        apply_mask(&w.view(), &small),
        array![[1.0f32, 0.0], [0.0, 0.0]]
    );
}

/// Tolerance for metrics computed in f64 from a few small exact values.
const EPS: f64 = 1e-12;

#[test]
fn metrics_hand_computed_2x4() {
    // ||W||^2 = 16 + 9 + 0 + 1 + 4 + 0 + 4 + 1 = 35; sum |W| = 13.
    let w = array![[4.0f32, -3.0, 0.0, 1.0], [2.0, 0.0, -2.0, 1.0]];
    let v = w.view();

    // Row-balanced, 2 per row: keeps 4, -3 | 2, -2; prunes 0, 1 | 0, 1.
    let p = Pattern::RowBalanced;
    let mask = prune_mask(&v, &p, 0.5).unwrap();
    assert_eq!(
        mask,
        array![[true, true, false, false], [true, false, true, false]]
    );
    let m = layer_metrics(&v, &mask, &p, 2);
    assert_abs_diff_eq!(m.achieved_sparsity, 0.5, epsilon = EPS);
    assert_abs_diff_eq!(
        m.relative_frobenius_error,
        (2.0f64 / 35.0).sqrt(),
        epsilon = EPS
    );
    assert_abs_diff_eq!(m.retained_magnitude_share, 11.0 / 13.0, epsilon = EPS);
    assert_eq!(m.dense_bytes, 16);
    // 4 values * 2 B + 4 indices * 2 bits = 1 B, no row pointers.
    assert_eq!((m.sparse_bytes, m.index_bytes), (9, 1));
    assert_abs_diff_eq!(m.index_overhead, 1.0 / 8.0, epsilon = EPS);

    // The same mask stored as CSR: + (2 + 1) 32-bit row pointers.
    let m = layer_metrics(&v, &mask, &Pattern::Unstructured, 2);
    assert_eq!((m.sparse_bytes, m.index_bytes), (21, 13));
    assert_abs_diff_eq!(m.index_overhead, 13.0 / 8.0, epsilon = EPS);

    // 2:4: 2 groups-of-4 slots per row -> 4 values, 2-bit indices.
    let p = Pattern::NM { n: 2, m: 4 };
    let mask = prune_mask(&v, &p, 0.0).unwrap();
    let m = layer_metrics(&v, &mask, &p, 2);
    assert_eq!((m.sparse_bytes, m.index_bytes), (9, 1));

    // BBS, 2 banks of 2, one kept per bank: 4, 1 | 2, -2.
    let p = Pattern::Bbs { banks: 2 };
    let mask = prune_mask(&v, &p, 0.5).unwrap();
    assert_eq!(
        mask,
        array![[true, false, false, true], [true, false, true, false]]
    );
    let m = layer_metrics(&v, &mask, &p, 2);
    assert_abs_diff_eq!(m.achieved_sparsity, 0.5, epsilon = EPS);
    assert_abs_diff_eq!(
        m.relative_frobenius_error,
        (10.0f64 / 35.0).sqrt(),
        epsilon = EPS
    );
    assert_abs_diff_eq!(m.retained_magnitude_share, 9.0 / 13.0, epsilon = EPS);
    // 2 rows * 1 slot * 2 banks = 4 values (8 B), 4 one-bit indices -> 1 B.
    assert_eq!((m.dense_bytes, m.sparse_bytes, m.index_bytes), (16, 9, 1));

    // Block 2x2: norms^2 29 (left) and 6 (right); the left block is kept.
    let p = Pattern::Block { size: 2 };
    let mask = prune_mask(&v, &p, 0.5).unwrap();
    assert_eq!(
        mask,
        array![[true, true, false, false], [true, true, false, false]]
    );
    let m = layer_metrics(&v, &mask, &p, 2);
    assert_abs_diff_eq!(
        m.relative_frobenius_error,
        (6.0f64 / 35.0).sqrt(),
        epsilon = EPS
    );
    assert_abs_diff_eq!(m.retained_magnitude_share, 9.0 / 13.0, epsilon = EPS);
    // 1 block * 4 values * 2 B; one 1-bit block index (1 B) + 2 pointers (8 B).
    assert_eq!((m.sparse_bytes, m.index_bytes), (17, 9));
    assert_abs_diff_eq!(m.index_overhead, 9.0 / 8.0, epsilon = EPS);
}

#[test]
fn metrics_edge_cases() {
    // Kept zeros count as kept; an all-zero matrix has error 0 and share 1.
    let z = Array2::<f32>::zeros((2, 3));
    let mask = Array2::from_elem((2, 3), true);
    let m = layer_metrics(&z.view(), &mask, &Pattern::Unstructured, 4);
    assert_eq!(m.achieved_sparsity, 0.0);
    assert_eq!(m.relative_frobenius_error, 0.0);
    assert_eq!(m.retained_magnitude_share, 1.0);
    // Nothing kept, CSR: only row pointers are stored.
    let none = Array2::from_elem((2, 3), false);
    let m = layer_metrics(&z.view(), &none, &Pattern::Unstructured, 4);
    assert_eq!(m.achieved_sparsity, 1.0);
    assert_eq!((m.sparse_bytes, m.index_bytes), (12, 12));
    assert!(m.index_overhead.is_infinite());
    // Out-of-range pattern parameters and a mismatched mask do not panic.
    let w = weights(3, 5, 9);
    let small = array![[true]];
    for p in [
        Pattern::Bbs { banks: 0 },
        Pattern::Bbs { banks: 99 },
        Pattern::NM { n: 0, m: 0 },
        Pattern::Block { size: 0 },
    ] {
        let m = layer_metrics(&w.view(), &small, &p, 2);
        assert_eq!(m.dense_bytes, 30);
    }
}

#[test]
fn schedule_cubic() {
    let s = Schedule::new(0.1, 0.9, 10).unwrap();
    assert_eq!(s.sparsity_at(0), 0.1);
    assert_eq!(s.sparsity_at(10), 0.9);
    assert_eq!(s.sparsity_at(1000), 0.9);
    let mut prev = s.sparsity_at(0);
    for t in 1..=12 {
        let x = s.sparsity_at(t);
        assert!(x >= prev, "step {t}: {x} < {prev}");
        assert!((0.1..=0.9).contains(&x));
        prev = x;
    }
    // s_t = final + (initial - final) * (1 - t/steps)^3.
    let s = Schedule::new(0.0, 0.8, 4).unwrap();
    assert_abs_diff_eq!(s.sparsity_at(2), 0.8 - 0.8 * 0.125, epsilon = EPS);
    assert_abs_diff_eq!(s.sparsity_at(1), 0.8 - 0.8 * 0.421875, epsilon = EPS);
    // Constant and single-step schedules.
    let c = Schedule::new(0.5, 0.5, 3).unwrap();
    assert!((0..5).all(|t| c.sparsity_at(t) == 0.5));
    let one = Schedule::new(0.2, 0.7, 1).unwrap();
    assert_eq!((one.sparsity_at(0), one.sparsity_at(1)), (0.2, 0.7));
}

#[test]
fn schedule_refuses_bad_parameters() {
    let msg = |r: bbs_compress::Result<Schedule>| r.unwrap_err().to_string();
    let e = msg(Schedule::new(0.9, 0.5, 10));
    assert!(e.starts_with("initial:") && e.contains("backwards"), "{e}");
    assert!(msg(Schedule::new(0.0, 1.0, 10)).starts_with("final:"));
    assert!(msg(Schedule::new(-0.1, 0.5, 10)).starts_with("initial:"));
    assert!(msg(Schedule::new(f64::NAN, 0.5, 10)).starts_with("initial:"));
    assert!(msg(Schedule::new(0.1, f64::INFINITY, 10)).starts_with("final:"));
    assert!(msg(Schedule::new(0.1, 0.5, 0)).starts_with("steps:"));
}

#[test]
fn parse_and_label() {
    let cases = [
        ("bbs:8", Pattern::Bbs { banks: 8 }, "BBS (8 banks)"),
        ("unstructured", Pattern::Unstructured, "unstructured"),
        ("nm:2:4", Pattern::NM { n: 2, m: 4 }, "2:4"),
        ("block:4", Pattern::Block { size: 4 }, "block 4x4"),
        ("row", Pattern::RowBalanced, "row-balanced"),
        (" BBS:16 ", Pattern::Bbs { banks: 16 }, "BBS (16 banks)"),
    ];
    for (text, pattern, label) in cases {
        let p = Pattern::parse(text).unwrap();
        assert_eq!(p, pattern, "{text}");
        assert_eq!(p.label(), label);
    }
}

#[test]
fn parse_errors_name_the_field() {
    for (text, field) in [
        ("", "pattern"),
        ("blob", "pattern"),
        ("bbs", "pattern"),
        ("bbs:8:2", "pattern"),
        ("row:3", "pattern"),
        ("nm:2", "pattern"),
        ("bbs:0", "banks"),
        ("bbs:x", "banks"),
        ("bbs:-1", "banks"),
        ("nm:0:4", "n"),
        ("nm:5:4", "n"),
        ("nm:2:0", "m"),
        ("nm:1:100000", "m"),
        ("block:0", "block size"),
        ("block:1.5", "block size"),
    ] {
        let e = Pattern::parse(text).unwrap_err();
        assert!(
            matches!(&e, Error::Param { name, .. } if name == field),
            "{text}: {e}"
        );
        let s = e.to_string();
        assert!(!s.contains('\n'));
    }
}

#[test]
fn prune_mask_refuses_bad_input() {
    let w = weights(4, 8, 1);
    let v = w.view();
    let param = |r: bbs_compress::Result<Array2<bool>>| match r {
        Err(Error::Param { name, .. }) => name,
        other => panic!("expected a parameter error, got {other:?}"),
    };
    for s in [f64::NAN, f64::INFINITY, -0.1, 1.0] {
        for p in [
            Pattern::Unstructured,
            Pattern::RowBalanced,
            Pattern::Block { size: 2 },
            Pattern::NM { n: 2, m: 4 },
            Pattern::Bbs { banks: 2 },
        ] {
            assert_eq!(param(prune_mask(&v, &p, s)), "sparsity");
        }
    }
    assert_eq!(
        param(prune_mask(&v, &Pattern::Bbs { banks: 0 }, 0.5)),
        "banks"
    );
    assert_eq!(
        param(prune_mask(&v, &Pattern::Bbs { banks: 9 }, 0.5)),
        "banks"
    );
    assert_eq!(param(prune_mask(&v, &Pattern::NM { n: 3, m: 2 }, 0.5)), "n");
    assert_eq!(param(prune_mask(&v, &Pattern::NM { n: 0, m: 2 }, 0.5)), "n");
    assert_eq!(param(prune_mask(&v, &Pattern::NM { n: 0, m: 0 }, 0.5)), "m");
    assert_eq!(
        param(prune_mask(&v, &Pattern::Block { size: 0 }, 0.5)),
        "block size"
    );

    let empty = Array2::<f32>::zeros((0, 4));
    for p in [
        Pattern::Unstructured,
        Pattern::RowBalanced,
        Pattern::Block { size: 2 },
        Pattern::NM { n: 2, m: 4 },
        Pattern::Bbs { banks: 2 },
    ] {
        assert_eq!(
            param(prune_mask(&empty.view(), &p, 0.5)),
            "weights",
            "{p:?}"
        );
        let mut bad = w.clone();
        bad[(2, 5)] = f32::NAN;
        match prune_mask(&bad.view(), &p, 0.5) {
            Err(Error::NonFiniteWeight { row: 2, col: 5, .. }) => {}
            other => panic!("{p:?}: {other:?}"),
        }
    }

    // Global: the layer is named.
    let mut bad = w.clone();
    bad[(0, 1)] = f32::NEG_INFINITY;
    let e = global_unstructured_masks(&[v, bad.view()], 0.5).unwrap_err();
    assert!(e.to_string().starts_with("layers[1]:"), "{e}");
    let e = global_unstructured_masks(&[v, empty.view()], 0.5).unwrap_err();
    assert!(e.to_string().starts_with("layers[1]:"), "{e}");
    let e = global_unstructured_masks(&[], 0.5).unwrap_err();
    assert!(e.to_string().starts_with("layers:"), "{e}");
    let e = global_unstructured_masks(&[v], 1.0).unwrap_err();
    assert!(e.to_string().starts_with("sparsity:"), "{e}");
}

/// Asserts that within each group no kept entry ranks below a pruned one.
/// An entry is `(magnitude, index, kept)`; rank: magnitude desc, index asc.
fn assert_ranked(group: &[(f64, usize, bool)], what: &str) {
    for &(mk, ik, _) in group.iter().filter(|e| e.2) {
        for &(mp, ip, _) in group.iter().filter(|e| !e.2) {
            assert!(
                mk > mp || (mk == mp && ik < ip),
                "{what}: kept ({mk}, {ik}) ranks below pruned ({mp}, {ip})"
            );
        }
    }
}

/// Column groups of a row: `(start, end)` of each group of `size` columns.
fn column_groups(cols: usize, size: usize) -> Vec<(usize, usize)> {
    (0..cols.div_ceil(size))
        .map(|g| (g * size, ((g + 1) * size).min(cols)))
        .collect()
}

fn check_pattern(w: &ArrayView2<f32>, p: &Pattern, s: f64, mask: &Array2<bool>) {
    let (rows, cols) = w.dim();
    let total = rows * cols;
    let achieved = 1.0 - count(mask) as f64 / total as f64;
    let row_groups = |size: usize| {
        for r in 0..rows {
            for (lo, hi) in column_groups(cols, size) {
                let g: Vec<_> = (lo..hi)
                    .map(|c| (f64::from(w[(r, c)].abs()), c, mask[(r, c)]))
                    .collect();
                assert_ranked(&g, &format!("{p:?} row {r} cols {lo}..{hi}"));
            }
        }
    };
    match *p {
        Pattern::Unstructured => {
            assert_abs_diff_eq!(achieved, s, epsilon = 0.5 / total as f64 + 1e-9);
            let g: Vec<_> = w
                .iter()
                .zip(mask.iter())
                .enumerate()
                .map(|(i, (x, &k))| (f64::from(x.abs()), i, k))
                .collect();
            assert_ranked(&g, "unstructured");
        }
        Pattern::RowBalanced => {
            for row in mask.rows() {
                let d = row.iter().filter(|&&k| k).count() as f64 / cols as f64;
                assert_abs_diff_eq!(1.0 - d, s, epsilon = 0.5 / cols as f64 + 1e-9);
            }
            row_groups(cols);
        }
        Pattern::Bbs { banks } => {
            let bank_size = cols.div_ceil(banks);
            let n = kept_per_bank(bank_size, s);
            // ceil: density between (1 - s) and (1 - s) + 1/bank_size per full bank.
            let d = n as f64 / bank_size as f64;
            assert!(d >= 1.0 - s - 1e-9 && d <= 1.0 - s + 1.0 / bank_size as f64 + 1e-9);
            for row in mask.rows() {
                for (lo, hi) in column_groups(cols, bank_size) {
                    let kept = (lo..hi).filter(|&c| row[c]).count();
                    assert_eq!(kept, n.min(hi - lo));
                }
            }
            row_groups(bank_size);
        }
        Pattern::NM { n, m } => {
            for row in mask.rows() {
                for (lo, hi) in column_groups(cols, m) {
                    let kept = (lo..hi).filter(|&c| row[c]).count();
                    assert_eq!(kept, n.min(hi - lo));
                }
            }
            row_groups(m);
        }
        Pattern::Block { size } => {
            let (br, bc) = (rows.div_ceil(size), cols.div_ceil(size));
            let mut g = Vec::new();
            for i in 0..br {
                for j in 0..bc {
                    let cells: Vec<(usize, usize)> = (i * size..((i + 1) * size).min(rows))
                        .flat_map(|r| (j * size..((j + 1) * size).min(cols)).map(move |c| (r, c)))
                        .collect();
                    let k = mask[cells[0]];
                    assert!(cells.iter().all(|&rc| mask[rc] == k));
                    let norm2: f64 = cells
                        .iter()
                        .map(|&rc| f64::from(w[rc]) * f64::from(w[rc]))
                        .sum();
                    g.push((norm2, i * bc + j, k));
                }
            }
            let kept_blocks = g.iter().filter(|e| e.2).count() as f64;
            let nblocks = (br * bc) as f64;
            assert_abs_diff_eq!(
                1.0 - kept_blocks / nblocks,
                s,
                epsilon = 0.5 / nblocks + 1e-9
            );
            assert_ranked(&g, "blocks");
        }
    }
}

fn pattern_for(cols: usize) -> impl Strategy<Value = Pattern> {
    prop_oneof![
        (1usize..=cols).prop_map(|banks| Pattern::Bbs { banks }),
        Just(Pattern::Unstructured),
        (1usize..=8)
            .prop_flat_map(|m| (1usize..=m, Just(m)).prop_map(|(n, m)| Pattern::NM { n, m })),
        (1usize..=5).prop_map(|size| Pattern::Block { size }),
        Just(Pattern::RowBalanced),
    ]
}

fn case() -> impl Strategy<Value = (Array2<f32>, Pattern, f64)> {
    (1usize..9, 1usize..21).prop_flat_map(|(rows, cols)| {
        (
            proptest::collection::vec(
                prop_oneof![3 => -4.0f32..4.0, 1 => Just(0.0f32), 2 => (-8i32..8).prop_map(|x| x as f32 / 4.0)],
                rows * cols,
            )
            .prop_map(move |d| Array2::from_shape_vec((rows, cols), d).unwrap()),
            pattern_for(cols),
            0.0f64..0.99,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn masks_hit_target_and_rank_by_magnitude((w, p, s) in case()) {
        let mask = prune_mask(&w.view(), &p, s).unwrap();
        prop_assert_eq!(mask.dim(), w.dim());
        check_pattern(&w.view(), &p, s, &mask);
        let m = layer_metrics(&w.view(), &mask, &p, 2);
        prop_assert!(abs_diff_eq!(m.achieved_sparsity, 1.0 - count(&mask) as f64 / w.len() as f64, epsilon = EPS));
        prop_assert!((0.0..=1.0 + 1e-12).contains(&m.relative_frobenius_error));
        prop_assert!((0.0..=1.0 + 1e-12).contains(&m.retained_magnitude_share));
        prop_assert_eq!(m.sparse_bytes - m.index_bytes >= 2 * count(&mask), true);
    }

    #[test]
    fn global_ranks_across_layers(
        (a, b) in (1usize..6, 1usize..9).prop_flat_map(|(r, c)| (
            proptest::collection::vec(-4.0f32..4.0, r * c).prop_map(move |d| Array2::from_shape_vec((r, c), d).unwrap()),
            proptest::collection::vec((-8i32..8).prop_map(|x| x as f32 / 64.0), c * 3).prop_map(move |d| Array2::from_shape_vec((c, 3), d).unwrap()),
        )),
        s in 0.0f64..0.99,
    ) {
        let masks = global_unstructured_masks(&[a.view(), b.view()], s).unwrap();
        let total = a.len() + b.len();
        let kept = count(&masks[0]) + count(&masks[1]);
        prop_assert_eq!(kept, round_half_up((1.0 - s) * total as f64));
        let g: Vec<_> = a
            .iter()
            .zip(masks[0].iter())
            .chain(b.iter().zip(masks[1].iter()))
            .enumerate()
            .map(|(i, (x, &k))| (f64::from(x.abs()), i, k))
            .collect();
        assert_ranked(&g, "global");
    }
}
