//! The machine's EWOP and ACT arithmetic over whole regions, written so the
//! compiler vectorizes it, and compiled once more for AVX2 and for AVX-512
//! (chosen at run time, [`Simd::best`]); every level gives the same values
//! as the element-by-element definitions ([`crate::machine`]'s module
//! documentation, [`ActTable::eval`]).

use crate::act::{ActTable, SEGMENTS};
use crate::isa::EwOp;
use bbs_compress::QFormat;

/// The instruction set a loop is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simd {
    /// The build's baseline (SSE2 on x86-64).
    Baseline,
    Avx2,
    /// AVX-512 F, DQ (64-bit multiplies), VL and BW.
    Avx512,
}

impl Simd {
    /// The widest level this CPU runs.
    pub fn best() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx512dq") && has!("avx512vl") && has!("avx512bw") {
                return Simd::Avx512;
            }
            if has!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::Baseline
    }

    /// Every level this CPU runs, baseline first.
    pub fn available() -> Vec<Simd> {
        let best = Simd::best();
        [Simd::Baseline, Simd::Avx2, Simd::Avx512]
            .into_iter()
            .filter(|&s| match s {
                Simd::Baseline => true,
                Simd::Avx2 => best != Simd::Baseline,
                Simd::Avx512 => best == Simd::Avx512,
            })
            .collect()
    }
}

/// `a = func(a, b)` element by element in `fmt`, in place (add and sub
/// exact then saturated, mul rounded half up to F fraction bits then
/// saturated, copy saturated). `b` is ignored for copy. `simd` must be
/// available.
pub fn ewop(simd: Simd, func: EwOp, fmt: QFormat, a: &mut [i64], b: &[i64]) {
    if func != EwOp::Copy {
        assert_eq!(a.len(), b.len(), "operands of one length");
    }
    match simd {
        Simd::Baseline => ewop_body(func, fmt, a, b),
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => {
            assert!(Simd::best() != Simd::Baseline, "AVX2 is not available");
            // SAFETY: the CPU has AVX2 (checked above).
            unsafe { x86::ewop_avx2(func, fmt, a, b) }
        }
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => {
            assert!(Simd::best() == Simd::Avx512, "AVX-512 is not available");
            // SAFETY: the CPU has AVX-512 F, DQ, VL, BW (checked above).
            unsafe { x86::ewop_avx512(func, fmt, a, b) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        _ => panic!("{simd:?} is not available"),
    }
}

/// `x = max(x, 0)` element by element, in place (the compiler vectorizes it).
pub fn relu(x: &mut [i64]) {
    for v in x {
        *v = (*v).max(0);
    }
}

/// `x = table(x)` element by element, in place. `simd` must be available.
pub fn act(simd: Simd, table: &ActTable, x: &mut [i64]) {
    match simd {
        Simd::Baseline => act_body(table, x),
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => {
            assert!(Simd::best() != Simd::Baseline, "AVX2 is not available");
            // SAFETY: the CPU has AVX2 (checked above).
            unsafe { x86::act_avx2(table, x) }
        }
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => {
            assert!(Simd::best() == Simd::Avx512, "AVX-512 is not available");
            // SAFETY: the CPU has AVX-512 F, DQ, VL, BW (checked above).
            unsafe { x86::act_avx512(table, x) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        _ => panic!("{simd:?} is not available"),
    }
}

#[inline(always)]
fn ewop_body(func: EwOp, fmt: QFormat, a: &mut [i64], b: &[i64]) {
    let (min, max, frac) = (fmt.min(), fmt.max(), fmt.frac);
    match func {
        EwOp::Copy => {
            for o in a.iter_mut() {
                *o = (*o).clamp(min, max);
            }
        }
        EwOp::Add => {
            for (o, &y) in a.iter_mut().zip(b) {
                *o = (*o + y).clamp(min, max);
            }
        }
        EwOp::Sub => {
            for (o, &y) in a.iter_mut().zip(b) {
                *o = (*o - y).clamp(min, max);
            }
        }
        EwOp::Mul => {
            // round_shift_saturate(x * y, F, W) in i64: floor((p + 2^(F-1)) / 2^F)
            // is floor(p / 2^F) plus bit F-1 of p (and p itself for F = 0).
            let half_shift = frac.saturating_sub(1);
            let half_bit = i64::from(frac > 0);
            for (o, &y) in a.iter_mut().zip(b) {
                let p = *o * y;
                *o = ((p >> frac) + ((p >> half_shift) & half_bit)).clamp(min, max);
            }
        }
    }
}

#[inline(always)]
fn act_body(t: &ActTable, xs: &mut [i64]) {
    // ActTable::eval, with the table as fixed-size arrays (the segment
    // index is always below SEGMENTS) and the rounding branch-free.
    let base: &[i64; SEGMENTS] = t.base[..].try_into().expect("SEGMENTS entries");
    let slope: &[i64; SEGMENTS] = t.slope[..].try_into().expect("SEGMENTS entries");
    let (x_min, x_max, step_log2) = (t.x_min, t.x_max(), t.step_log2);
    let f = t.format;
    let (min, max, frac) = (f.min(), f.max(), f.frac);
    let half_shift = frac.saturating_sub(1);
    let half_bit = i64::from(frac > 0);
    for o in xs.iter_mut() {
        let x = (*o).clamp(x_min, x_max);
        let s = ((x - x_min) >> step_log2) as usize & (SEGMENTS - 1);
        let d = x - (x_min + ((s as i64) << step_log2));
        let v = slope[s] * d;
        let r = (v >> frac) + ((v >> half_shift) & half_bit);
        *o = base[s].saturating_add(r).clamp(min, max);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{act_body, ewop_body, ActTable, EwOp, QFormat};

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn ewop_avx2(func: EwOp, fmt: QFormat, a: &mut [i64], b: &[i64]) {
        ewop_body(func, fmt, a, b)
    }

    #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw")]
    pub(super) unsafe fn ewop_avx512(func: EwOp, fmt: QFormat, a: &mut [i64], b: &[i64]) {
        ewop_body(func, fmt, a, b)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn act_avx2(t: &ActTable, xs: &mut [i64]) {
        act_body(t, xs)
    }

    #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw")]
    pub(super) unsafe fn act_avx512(t: &ActTable, xs: &mut [i64]) {
        act_body(t, xs)
    }
}
