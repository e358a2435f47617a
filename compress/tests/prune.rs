//! Pruning: the slide example, per-bank counts, brute-force top-n, ties,
//! padding, and parameter errors.

use approx::assert_abs_diff_eq;
use bbs_compress::{kept_per_bank, prune_bbs, Csb, Error, QFormat};
use ndarray::{array, Array2};

/// Deterministic pseudo-random weights (xorshift) with deliberate repeats.
fn weights(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut s = seed | 1;
    Array2::from_shape_fn((rows, cols), |_| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        // Coarse values so equal magnitudes (ties) are common.
        ((s % 17) as f32 - 8.0) / 4.0
    })
}

#[test]
fn slide_example() {
    let (a, b, c, d, e, f, g, h) = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0);
    let w = array![[a, 0.0, b, 0.0, c, 0.0, d, 0.0, e, 0.0, 0.0, f, 0.0, g, h, 0.0f32]];
    let p = prune_bbs(&w.view(), 4, 0.5).unwrap();
    assert_eq!((p.banks, p.bank_size, p.slots), (4, 4, 2));
    assert_eq!(p.kept, vec![0, 0, 0, 1, 2, 2, 3, 2]);
    let (csb, stats) = Csb::from_pruned(&p, QFormat::new(8, 0).unwrap());
    assert_eq!(csb.values, vec![1, 3, 5, 7, 2, 4, 6, 8]);
    assert_eq!(csb.indices, vec![0, 0, 0, 1, 2, 2, 3, 2]);
    assert_eq!(stats.saturated, 0);
    assert_eq!(csb.word(0, 1), (&[2, 4, 6, 8][..], &[2, 2, 3, 2][..]));
    assert_eq!(p.pruned(), w, "nothing nonzero was pruned");
}

#[test]
fn kept_per_bank_table() {
    assert_eq!(kept_per_bank(16, 0.875), 2);
    assert_eq!(kept_per_bank(16, 0.0), 16);
    assert_eq!(kept_per_bank(16, 0.5), 8);
    assert_eq!(kept_per_bank(10, 0.95), 1);
    assert_eq!(kept_per_bank(3, 0.34), 2);
    assert_eq!(kept_per_bank(1, 0.9), 1);
}

#[test]
fn every_bank_keeps_the_n_largest() {
    for (seed, (rows, cols, banks, sp)) in [
        (3, 37, 4, 0.75),
        (5, 16, 4, 0.5),
        (4, 10, 4, 0.6),
        (2, 64, 8, 0.9),
        (6, 9, 9, 0.3),
        (3, 13, 1, 0.2),
    ]
    .into_iter()
    .enumerate()
    {
        let w = weights(rows, cols, seed as u64 + 11);
        let p = prune_bbs(&w.view(), banks, sp).unwrap();
        let bs = cols.div_ceil(banks);
        let n = kept_per_bank(bs, sp);
        assert_eq!((p.bank_size, p.slots), (bs, n));
        assert_eq!(p.kept.len(), rows * n * banks);
        for r in 0..rows {
            for b in 0..banks {
                let mut got: Vec<usize> = (0..n)
                    .map(|s| p.kept[(r * n + s) * banks + b] as usize)
                    .collect();
                assert!(got.windows(2).all(|x| x[0] < x[1]), "ascending");
                // Brute force: full sort by (|w| desc, col asc), padding = 0.
                let mag = |j: usize| {
                    let c = b * bs + j;
                    if c < cols {
                        w[(r, c)].abs()
                    } else {
                        0.0
                    }
                };
                let mut all: Vec<usize> = (0..bs).collect();
                all.sort_by(|&x, &y| mag(y).partial_cmp(&mag(x)).unwrap().then(x.cmp(&y)));
                let mut want = all[..n].to_vec();
                want.sort();
                got.sort();
                assert_eq!(got, want, "row {r} bank {b}");
                let min_kept = want.iter().map(|&j| mag(j)).fold(f32::INFINITY, f32::min);
                let max_dropped = all[n..].iter().map(|&j| mag(j)).fold(0.0, f32::max);
                assert!(min_kept >= max_dropped);
            }
        }
        // `pruned` keeps exactly the kept real entries.
        let mask = p.mask();
        for ((r, c), &x) in p.pruned().indexed_iter() {
            if mask[(r, c)] == 1 {
                assert_eq!(x, w[(r, c)]);
            } else {
                assert_eq!(x, 0.0);
            }
        }
    }
}

#[test]
fn ties_keep_the_lower_column() {
    let w = array![[1.0f32, -1.0, 1.0, 0.5, 2.0, -2.0, 2.0, -2.0]];
    let p = prune_bbs(&w.view(), 2, 0.5).unwrap();
    assert_eq!(p.kept, vec![0, 0, 1, 1]);
    let zeros = Array2::<f32>::zeros((1, 8));
    let p = prune_bbs(&zeros.view(), 2, 0.75).unwrap();
    assert_eq!(p.kept, vec![0, 0], "all-zero bank keeps its first column");
}

#[test]
fn padding_columns_when_cols_not_divisible() {
    // C=10, K=4: bank_size 3, padded to 12; bank 3 holds column 9 and two padding columns.
    let mut w = Array2::<f32>::zeros((2, 10));
    for c in 0..10 {
        w[(0, c)] = c as f32 + 1.0;
        w[(1, c)] = -(c as f32) - 1.0;
    }
    w[(1, 9)] = 0.0; // a real zero still beats padding (lower column)
    let p = prune_bbs(&w.view(), 4, 0.4).unwrap();
    assert_eq!((p.bank_size, p.slots), (3, 2));
    // bank 3 keeps index 0 (column 9) and index 1 (padding column 10).
    assert_eq!(p.kept[3], 0);
    assert_eq!(p.kept[4 + 3], 1);
    assert_eq!(p.kept[8 + 3], 0);
    assert_eq!(p.kept[12 + 3], 1);
    assert_eq!(p.pruned().dim(), (2, 10));
    let (csb, _) = Csb::from_pruned(&p, QFormat::new(8, 2).unwrap());
    assert_eq!(csb.values[4 + 3], 0, "padding entry is 0");
    csb.validate().unwrap();
    let dense = csb.to_dense_f32();
    assert_eq!(dense.dim(), (2, 10));
    assert_eq!(dense, p.pruned());
}

#[test]
fn parameter_errors() {
    let w = Array2::<f32>::ones((2, 4));
    let e = prune_bbs(&w.view(), 5, 0.5).unwrap_err().to_string();
    assert!(e.contains("banks") && e.contains('4'), "{e}");
    let e = prune_bbs(&w.view(), 0, 0.5).unwrap_err().to_string();
    assert!(e.contains("banks"), "{e}");
    for s in [-0.1, 1.0, 1.2, f64::NAN, f64::INFINITY] {
        let e = prune_bbs(&w.view(), 2, s).unwrap_err();
        assert!(matches!(e, Error::Param { .. }), "{e}");
        assert!(e.to_string().starts_with("sparsity: "), "{e}");
    }
    assert_eq!(
        prune_bbs(&w.view(), 2, 1.2).unwrap_err().to_string(),
        "sparsity: 1.2 is outside [0, 1)"
    );
    let mut bad = w.clone();
    bad[(1, 2)] = f32::NAN;
    let e = prune_bbs(&bad.view(), 2, 0.5).unwrap_err().to_string();
    assert!(e.contains("NaN") && e.contains("row 1, col 2"), "{e}");
    bad[(1, 2)] = f32::NEG_INFINITY;
    assert!(prune_bbs(&bad.view(), 2, 0.5).is_err());
    let empty = Array2::<f32>::zeros((0, 4));
    assert!(prune_bbs(&empty.view(), 2, 0.5).is_err());
}

#[test]
fn achieved_sparsity_counts_zeros() {
    let w = weights(4, 32, 99).mapv(|x| if x == 0.0 { 0.25 } else { x });
    let p = prune_bbs(&w.view(), 4, 0.75).unwrap();
    assert_abs_diff_eq!(p.achieved_sparsity(), 0.75, epsilon = 1e-12);
    assert_eq!(p.mask().iter().filter(|&&m| m == 1).count(), 4 * 32 / 4);
}

#[test]
fn strided_view_input() {
    // A transposed (non-contiguous) view prunes like its owned copy.
    let w = weights(12, 5, 3);
    let t = w.t();
    let owned = t.to_owned();
    assert_eq!(
        prune_bbs(&t, 3, 0.5).unwrap(),
        prune_bbs(&owned.view(), 3, 0.5).unwrap()
    );
}
