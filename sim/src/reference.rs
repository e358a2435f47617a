//! A plain, obviously-correct reference for y = W x in the accelerator's
//! fixed-point arithmetic: a dense double loop with exact `i128` sums, wrapped to
//! the accumulator width once at the end (wrapping is modular, so this equals the
//! hardware's per-cycle wrapping), then narrowed. It shares nothing with the
//! simulator but the two helpers in [`crate::arith`].

use crate::arith::{round_shift_saturate, wrap};
use crate::config::Config;
use ndarray::Array2;

/// `w` is the dense fixed-point matrix (`Csb::to_dense_fixed`), `x` the
/// fixed-point input of length `w.ncols()`.
pub fn reference_spmv(cfg: &Config, w: &Array2<i64>, x: &[i64]) -> Vec<i64> {
    reference_spmv_counted(cfg, w, x, &mut Overflows::default())
}

/// How often fixed-point arithmetic left its format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Overflows {
    /// SpMxV sums that overflowed the `acc_width` accumulator (they wrap).
    pub wrapped: u64,
    /// SpMxV results saturated to the value format.
    pub spmv_saturated: u64,
    /// Element-wise results (sums, products, the cell state) saturated.
    pub elementwise_saturated: u64,
}

/// [`reference_spmv`], counting wrapped sums and saturated results into `o`.
pub fn reference_spmv_counted(
    cfg: &Config,
    w: &Array2<i64>,
    x: &[i64],
    o: &mut Overflows,
) -> Vec<i64> {
    assert_eq!(
        w.ncols(),
        x.len(),
        "reference: vector length must match the matrix"
    );
    w.rows()
        .into_iter()
        .map(|row| {
            let exact: i128 = row
                .iter()
                .zip(x)
                .map(|(&a, &b)| a as i128 * b as i128)
                .sum();
            let acc = wrap(exact, cfg.acc_width);
            o.wrapped += u64::from(acc as i128 != exact);
            let y = round_shift_saturate(acc, cfg.frac_bits, cfg.value_width);
            o.spmv_saturated += u64::from(y != round_shift_saturate(acc, cfg.frac_bits, 64));
            y
        })
        .collect()
}
