//! The fixed-point arithmetic shared by the simulator, the reference and the RTL.
//!
//! Values (weights and the input vector) are two's-complement Q(W.F): `W` bits,
//! `F` of them fraction. The datapath is:
//!
//! 1. each multiplier forms the exact `2W`-bit product (`2F` fraction bits);
//! 2. the adder tree sums the `K` products exactly (`2W + ceil(log2 K)` bits);
//! 3. the accumulator adds the tree sum into an `A`-bit register, **wrapping**
//!    modulo `2^A` (the configuration requires `A >= 2W + ceil(log2 K)`, so a
//!    single word never overflows; a long row can, and then wraps, as the RTL does);
//! 4. the finished row is narrowed back to Q(W.F): add `2^(F-1)` (round half up),
//!    arithmetic shift right by `F`, saturate to `[-2^(W-1), 2^(W-1) - 1]`.
//!
//! Everything here works on `i64`/`i128` so a reader can recompute any output by hand.

/// Reduce `v` to a signed `bits`-wide two's-complement value (wrap-around).
pub fn wrap(v: i128, bits: u32) -> i64 {
    debug_assert!((1..=64).contains(&bits));
    let shift = 128 - bits;
    ((v << shift) >> shift) as i64
}

/// Narrow an accumulator value to the output format: round half up, shift by
/// `frac`, saturate to `width` bits.
pub fn round_shift_saturate(acc: i64, frac: u32, width: u32) -> i64 {
    let half = if frac == 0 { 0 } else { 1i128 << (frac - 1) };
    let shifted = (acc as i128 + half) >> frac;
    let max = (1i128 << (width - 1)) - 1;
    let min = -(1i128 << (width - 1));
    shifted.clamp(min, max) as i64
}

/// Number of bits needed to count `0..n` as an address (at least 1).
pub fn clog2(n: usize) -> u32 {
    if n <= 1 {
        1
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

/// `ceil(log2(n))` with `ceil_log2(1) == 0`: the levels of an `n`-input adder tree.
pub fn ceil_log2(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_is_modular() {
        assert_eq!(wrap(127, 8), 127);
        assert_eq!(wrap(128, 8), -128);
        assert_eq!(wrap(-129, 8), 127);
        assert_eq!(wrap(1 << 40, 40), 0);
        assert_eq!(wrap(-1, 64), -1);
    }

    #[test]
    fn rounding_is_half_up_then_saturating() {
        // Q.4 output: 0x18 = 1.5 in 8 fraction bits of the product domain
        assert_eq!(round_shift_saturate(24, 4, 8), 2); // 1.5 -> 2
        assert_eq!(round_shift_saturate(-24, 4, 8), -1); // -1.5 -> -1 (half up)
        assert_eq!(round_shift_saturate(-25, 4, 8), -2);
        assert_eq!(round_shift_saturate(10_000, 4, 8), 127);
        assert_eq!(round_shift_saturate(-10_000, 4, 8), -128);
        assert_eq!(round_shift_saturate(5, 0, 8), 5);
    }

    #[test]
    fn log_helpers() {
        assert_eq!(clog2(1), 1);
        assert_eq!(clog2(2), 1);
        assert_eq!(clog2(3), 2);
        assert_eq!(clog2(64), 6);
        assert_eq!(clog2(65), 7);
        assert_eq!(ceil_log2(1), 0);
        assert_eq!(ceil_log2(6), 3);
        assert_eq!(ceil_log2(8), 3);
    }
}
