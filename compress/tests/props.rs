//! Property tests: CSB agrees with the pruned matrix, round-trips, and the
//! reader returns errors (never panics) on truncated, flipped or random bytes.

use std::path::Path;

use bbs_compress::{prune_bbs, Csb, QFormat};
use ndarray::Array2;
use proptest::prelude::*;

/// (weights, banks, sparsity, format) with small shapes.
fn case() -> impl Strategy<Value = (Array2<f32>, usize, f64, QFormat)> {
    (1usize..6, 1usize..24)
        .prop_flat_map(|(rows, cols)| {
            (
                proptest::collection::vec(
                    prop_oneof![3 => -4.0f32..4.0, 1 => Just(0.0f32), 1 => (-8i32..8).prop_map(|x| x as f32 / 4.0)],
                    rows * cols,
                ),
                Just((rows, cols)),
                1usize..=cols,
                0.0f64..0.99,
                (2u32..=32).prop_flat_map(|w| (Just(w), 0..w)),
            )
        })
        .prop_map(|(data, shape, banks, sp, (w, f))| {
            (
                Array2::from_shape_vec(shape, data).unwrap(),
                banks,
                sp,
                QFormat::new(w, f).unwrap(),
            )
        })
}

fn build(w: &Array2<f32>, banks: usize, sp: f64, q: QFormat) -> Csb {
    let p = prune_bbs(&w.view(), banks, sp).unwrap();
    Csb::from_pruned(&p, q).0
}

const P: &str = "p.csb";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn dense_equals_quantized_pruned((w, banks, sp, q) in case()) {
        let p = prune_bbs(&w.view(), banks, sp).unwrap();
        let (c, stats) = Csb::from_pruned(&p, q);
        prop_assert!(c.validate().is_ok());
        let dense = c.to_dense_fixed();
        prop_assert_eq!(dense.dim(), w.dim());
        let mut sat = 0;
        for (&d, &x) in dense.iter().zip(p.pruned().iter()) {
            let (v, s) = q.quantize(x);
            prop_assert_eq!(d, v);
            sat += (s && x != 0.0) as usize;
        }
        prop_assert!(stats.saturated >= sat);
        // Every bank of every row keeps exactly `slots` distinct entries.
        let m = p.mask();
        for r in 0..p.rows {
            for b in 0..banks {
                let real = (b * p.bank_size..((b + 1) * p.bank_size).min(p.cols))
                    .filter(|&c| m[(r, c)] == 1)
                    .count();
                let pad = (0..p.slots)
                    .filter(|&s| b * p.bank_size + p.kept[(r * p.slots + s) * banks + b] as usize >= p.cols)
                    .count();
                prop_assert_eq!(real + pad, p.slots);
            }
        }
    }

    #[test]
    fn bytes_roundtrip((w, banks, sp, q) in case()) {
        let c = build(&w, banks, sp, q);
        let b = c.to_bytes();
        let back = Csb::from_bytes(&b, Path::new(P)).unwrap();
        prop_assert_eq!(&back, &c);
        prop_assert_eq!(back.to_bytes(), b);
    }

    #[test]
    fn every_truncation_fails((w, banks, sp, q) in case()) {
        let b = build(&w, banks, sp, q).to_bytes();
        for len in 0..b.len() {
            prop_assert!(Csb::from_bytes(&b[..len], Path::new(P)).is_err(), "len {}", len);
        }
    }

    #[test]
    fn any_single_byte_flip_is_caught((w, banks, sp, q) in case(), mask in 1u8..=255) {
        let c = build(&w, banks, sp, q);
        let b = c.to_bytes();
        for i in 0..b.len() {
            let mut f = b.clone();
            f[i] ^= mask;
            match Csb::from_bytes(&f, Path::new(P)) {
                Err(_) => {}
                Ok(got) => prop_assert_eq!(got, c.clone(), "byte {} flip accepted", i),
            }
        }
    }

    #[test]
    fn garbage_never_panics(mut g in proptest::collection::vec(any::<u8>(), 0..200), magic in any::<bool>()) {
        if magic && g.len() >= 10 {
            // Get past the magic and version checks to reach the deeper ones.
            g[..8].copy_from_slice(b"BBSCSB\0\x1a");
            g[8] = 1;
            g[9] = 0;
        }
        prop_assert!(Csb::from_bytes(&g, Path::new(P)).is_err());
    }
}
