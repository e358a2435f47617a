//! Fixed-point sigmoid and tanh for the ACT unit (and its relu, `max(x, 0)`,
//! which needs no table): piecewise linear over
//! `[-8, 8)` in 128 segments of 1/8, secant-fitted (continuous at the knots),
//! saturating outside. The same tables are generated into the RTL.
//!
//! For an input `x` (Q(W.F) integer): clamp to the table range, segment
//! `s = floor((x - x_min) / step)`, offset `d = x - knot[s]`, then
//! `y = base[s] + round_half_up(slope[s] * d >> F)`, saturated to W bits.
//! `base` is a Q(W.F) integer, the knot's quantized function value; `slope` is
//! `(base[s+1] - base[s]) << (F - log2 step)`, so each segment ends exactly on
//! the next knot (continuous and monotone). Slopes need at most W + 2 bits.
//!
//! Measured error against the float functions over every Q16.12 input
//! (`tests::error_bounds`): sigmoid < 4e-4, tanh < 1.6e-3 (the PWL error
//! plus one half LSB of rounding).

use bbs_compress::QFormat;
use serde::{Deserialize, Serialize};

/// Table range `[-RANGE, RANGE)` and number of segments.
pub const RANGE: f64 = 8.0;
pub const SEGMENTS: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActFn {
    Sigmoid,
    Tanh,
    /// `max(x, 0)`: exact in every format, no table.
    Relu,
}

impl ActFn {
    pub fn float(self, x: f64) -> f64 {
        match self {
            ActFn::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            ActFn::Tanh => x.tanh(),
            ActFn::Relu => x.max(0.0),
        }
    }

    /// The name in programs, reports and manifests.
    pub fn name(self) -> &'static str {
        match self {
            ActFn::Sigmoid => "sigmoid",
            ActFn::Tanh => "tanh",
            ActFn::Relu => "relu",
        }
    }
}

/// The ACT unit's functions in one format: the sigmoid and tanh tables,
/// and relu.
#[derive(Clone, Debug, PartialEq)]
pub struct ActUnit {
    pub sigmoid: ActTable,
    pub tanh: ActTable,
}

impl ActUnit {
    pub fn new(format: QFormat) -> ActUnit {
        ActUnit {
            sigmoid: ActTable::new(ActFn::Sigmoid, format),
            tanh: ActTable::new(ActFn::Tanh, format),
        }
    }

    /// `func`'s table, if it has one (relu has none).
    pub fn table(&self, func: ActFn) -> Option<&ActTable> {
        match func {
            ActFn::Sigmoid => Some(&self.sigmoid),
            ActFn::Tanh => Some(&self.tanh),
            ActFn::Relu => None,
        }
    }

    /// `func` of a Q(W.F) integer in the format's range.
    #[inline]
    pub fn eval(&self, func: ActFn, x: i64) -> i64 {
        match self.table(func) {
            Some(t) => t.eval(x),
            None => x.max(0),
        }
    }
}

/// Signed bits of the widest slope of the sigmoid and tanh tables in
/// `format` (at least 2): the width of the RTL's slope ROM, which the
/// generator emits and the resource estimate counts.
pub fn slope_width(format: QFormat) -> u32 {
    let signed_bits = |v: i64| 65 - (if v < 0 { !v } else { v }).leading_zeros();
    [ActFn::Sigmoid, ActFn::Tanh]
        .iter()
        .flat_map(|&f| ActTable::new(f, format).slope)
        .map(signed_bits)
        .max()
        .unwrap_or(2)
        .max(2)
}

/// The quantized table of one function in one format.
#[derive(Clone, Debug, PartialEq)]
pub struct ActTable {
    pub func: ActFn,
    pub format: QFormat,
    /// First knot, as a Q(W.F) integer (the most negative representable value if the range is wider).
    pub x_min: i64,
    /// Segment width, as a Q(W.F) integer (a power of two).
    pub step: i64,
    /// log2(step): the segment index is `(x - x_min) >> step_log2`.
    pub step_log2: u32,
    pub base: Vec<i64>,
    pub slope: Vec<i64>,
}

impl ActTable {
    /// The table of sigmoid or tanh (relu has none: [`ActUnit::eval`]).
    pub fn new(func: ActFn, format: QFormat) -> ActTable {
        assert_ne!(func, ActFn::Relu, "relu has no table");
        let one = 1i64 << format.frac;
        // The segment width in LSBs: 1/8, at least one LSB.
        let step = (one / 8).max(1);
        let step_log2 = step.trailing_zeros();
        let x_min = ((-RANGE * one as f64) as i64).max(format.min());
        let q = |s: i64| {
            format
                .quantize(func.float((x_min + s * step) as f64 / one as f64) as f32)
                .0
        };
        let (mut base, mut slope) = (Vec::with_capacity(SEGMENTS), Vec::with_capacity(SEGMENTS));
        for s in 0..SEGMENTS as i64 {
            // The slope is chosen so the segment ends exactly on the next
            // knot's value: continuous, and monotone like the function.
            let (q0, q1) = (q(s), q(s + 1));
            base.push(q0);
            slope.push((q1 - q0) << (format.frac - step_log2));
        }
        ActTable {
            func,
            format,
            x_min,
            step,
            step_log2,
            base,
            slope,
        }
    }

    /// Largest input inside the table; inputs above it use the last segment's end value.
    pub fn x_max(&self) -> i64 {
        self.x_min + SEGMENTS as i64 * self.step - 1
    }

    /// Evaluate on a Q(W.F) integer.
    ///
    /// `round_shift_saturate(slope * d, F, 64)` is computed as
    /// `(v >> F) + bit F-1 of v` (the same value: the 64-bit saturation
    /// never bites on a right shift), and `base + r` saturating in i64 then
    /// clamped to the format (the same as the exact sum clamped): no i128.
    #[inline]
    pub fn eval(&self, x: i64) -> i64 {
        let f = self.format;
        let x = x.clamp(self.x_min, self.x_max());
        let s = ((x - self.x_min) >> self.step_log2) as usize;
        let d = x - (self.x_min + ((s as i64) << self.step_log2));
        let v = self.slope[s] * d;
        let r = if f.frac == 0 {
            v
        } else {
            (v >> f.frac) + ((v >> (f.frac - 1)) & 1)
        };
        self.base[s].saturating_add(r).clamp(f.min(), f.max())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::round_shift_saturate;

    fn max_error(func: ActFn, fmt: QFormat) -> f64 {
        let t = ActTable::new(func, fmt);
        let one = (1i64 << fmt.frac) as f64;
        (fmt.min()..=fmt.max())
            .map(|x| (t.eval(x) as f64 / one - func.float(x as f64 / one)).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn relu_is_exact_and_the_tables_are_the_unit_s() {
        let fmt = QFormat::new(8, 5).unwrap();
        let unit = ActUnit::new(fmt);
        for x in fmt.min()..=fmt.max() {
            assert_eq!(unit.eval(ActFn::Relu, x), x.max(0));
            assert_eq!(unit.eval(ActFn::Sigmoid, x), unit.sigmoid.eval(x));
            assert_eq!(unit.eval(ActFn::Tanh, x), unit.tanh.eval(x));
        }
        assert!(unit.table(ActFn::Relu).is_none());
        assert_eq!(ActFn::Relu.float(-0.5), 0.0);
        assert_eq!(ActFn::Relu.name(), "relu");
    }

    #[test]
    fn error_bounds() {
        let q16 = QFormat::new(16, 12).unwrap();
        let s = max_error(ActFn::Sigmoid, q16);
        let t = max_error(ActFn::Tanh, q16);
        eprintln!("max error sigmoid {s}, tanh {t}");
        assert!(s < 4e-4, "sigmoid {s}");
        assert!(t < 1.6e-3, "tanh {t}");
        // Coarser formats: the error is dominated by the LSB.
        let q8 = QFormat::new(8, 5).unwrap();
        assert!(max_error(ActFn::Sigmoid, q8) < 0.04);
        assert!(max_error(ActFn::Tanh, q8) < 0.05);
    }

    /// `eval` as first written, with i128 and the shared rounding.
    fn eval_i128(t: &ActTable, x: i64) -> i64 {
        let f = t.format;
        let x = x.clamp(t.x_min, t.x_max());
        let s = ((x - t.x_min) >> t.step_log2) as usize;
        let d = x - (t.x_min + ((s as i64) << t.step_log2));
        let y = t.base[s] as i128 + round_shift_saturate(t.slope[s] * d, f.frac, 64) as i128;
        y.clamp(f.min() as i128, f.max() as i128) as i64
    }

    #[test]
    fn eval_matches_the_i128_formula() {
        for (w, frac) in [
            (16, 12),
            (8, 5),
            (8, 0),
            (12, 1),
            (20, 16),
            (32, 16),
            (32, 28),
        ] {
            let fmt = QFormat::new(w, frac).unwrap();
            for func in [ActFn::Sigmoid, ActFn::Tanh] {
                let t = ActTable::new(func, fmt);
                // Every input of the narrow formats; a sweep and the ends of the wide ones.
                let step = ((fmt.max() - fmt.min()) >> 16).max(1);
                let xs = (fmt.min()..=fmt.max()).step_by(step as usize).chain([
                    fmt.min(),
                    fmt.max(),
                    -1,
                    0,
                    1,
                    i64::MIN / 4,
                    i64::MAX / 4,
                ]);
                for x in xs {
                    assert_eq!(t.eval(x), eval_i128(&t, x), "{func:?} Q{w}.{frac} x={x}");
                }
            }
        }
    }

    #[test]
    fn saturates_and_is_monotone() {
        let fmt = QFormat::new(16, 12).unwrap();
        for func in [ActFn::Sigmoid, ActFn::Tanh] {
            let t = ActTable::new(func, fmt);
            let ys: Vec<i64> = (fmt.min()..=fmt.max()).map(|x| t.eval(x)).collect();
            assert!(ys.windows(2).all(|w| w[0] <= w[1]), "{func:?} not monotone");
        }
        let sig = ActTable::new(ActFn::Sigmoid, fmt);
        assert_eq!(sig.eval(0), 2048); // 0.5
        assert_eq!(sig.eval(fmt.max()), 4095); // sigmoid(8) = 0.99966
        assert_eq!(sig.eval(fmt.min()), 1); // sigmoid(-8) = 3.4e-4 -> 1 LSB
        let tanh = ActTable::new(ActFn::Tanh, fmt);
        assert_eq!(tanh.eval(0), 0);
        assert_eq!(tanh.eval(fmt.max()), 4096);
        assert_eq!(tanh.eval(fmt.min()), -4096);
    }
}
