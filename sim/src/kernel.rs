//! The machine's functional SpMxV: the outputs of [`crate::spmv::simulate_spmv`]
//! (bit for bit) without its report, fast enough for whole-model evaluations.
//!
//! A [`SpmvKernel`] is prepared once per matrix ([`crate::machine::Machine::new`])
//! and then runs every SpMxV instruction on that matrix without allocating:
//! the source vector goes into a zero-padded copy in a [`KernelScratch`]
//! (checked against the value format, as the reference does), the rows are
//! summed exactly modulo 2^64, and each sum is wrapped to `acc_width` bits and
//! narrowed (round half up, shift, saturate) as [`crate::arith`] defines.
//!
//! Paths ([`KernelPath`]), chosen at run time by what the CPU has:
//!
//! - `scalar`: any value width up to 32 bits; products in i64, read straight
//!   from the CSB arrays (absolute column = bank base + bank index).
//! - `avx2`: the same over 8 entries at a time: `vpgatherdd` fetches the
//!   vector elements, `vpmuldq` forms exact 64-bit products (any width up to
//!   32 bits), 64-bit lanes accumulate.
//! - `avx512`: value widths up to 16 bits and banks of at most 64 columns.
//!   A bank of the vector, as 16-bit words, fits one (32 columns) or two
//!   (64) zmm registers, so `vpermw`/`vpermi2w` looks up 32 entries at once
//!   without touching memory. The weights are laid out per group of 16 rows,
//!   bank and pair of slots, so that `vpmaddwd` sums a row's two slots into
//!   one 32-bit lane: lane `j` is row `16 g + j`. A pair sum is at most
//!   2^31 (both products (-2^15)^2), one more than i32 holds, so each lane
//!   is taken minus one (exact in i32) and the count of pairs is added back
//!   at the end. The lanes accumulate in 32 bits twice: wrapping, and the
//!   high halves (`p >> 16`) exactly; since the low halves sum to less
//!   than 2^32 (at most 2^15 pairs a row), the two give the exact sum.
//!
//! A matrix the fast paths cannot trust (an index outside its bank, a value
//! outside the format, inconsistent lengths: only a hand-built [`Csb`]) runs
//! on the reference itself, so every path agrees with it on every input.

use crate::config::Config;
use crate::spmv::{simulate_spmv, SimError};
use bbs_compress::Csb;
use rayon::prelude::*;

/// How a kernel computes its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelPath {
    /// [`simulate_spmv`] itself (a matrix the other paths cannot take).
    Reference,
    Scalar,
    Avx2,
    Avx512,
}

impl KernelPath {
    pub fn name(self) -> &'static str {
        match self {
            KernelPath::Reference => "reference",
            KernelPath::Scalar => "scalar",
            KernelPath::Avx2 => "avx2",
            KernelPath::Avx512 => "avx512",
        }
    }
}

/// The narrowing of a finished row: wrap to `acc_width` bits, round half
/// up, shift by `frac`, saturate to `width` bits
/// (`round_shift_saturate(wrap(acc, A), F, W)` without i128).
#[derive(Clone, Copy, Debug)]
struct Finish {
    /// `64 - acc_width`: the wrap is `(acc << s) >> s`.
    wrap_shift: u32,
    frac: u32,
    min: i64,
    max: i64,
}

impl Finish {
    fn new(cfg: &Config) -> Finish {
        Finish {
            wrap_shift: 64 - cfg.acc_width,
            frac: cfg.frac_bits,
            min: -(1i64 << (cfg.value_width - 1)),
            max: (1i64 << (cfg.value_width - 1)) - 1,
        }
    }

    #[inline(always)]
    fn apply(&self, acc: i64) -> i64 {
        let a = (acc << self.wrap_shift) >> self.wrap_shift;
        // floor((a + 2^(F-1)) / 2^F) = floor(a / 2^F) + bit F-1 of a.
        let q = if self.frac == 0 {
            a
        } else {
            (a >> self.frac) + ((a >> (self.frac - 1)) & 1)
        };
        q.clamp(self.min, self.max)
    }
}

/// The AVX-512 layout: per group of 16 rows, per bank, per pair of slots,
/// 32 16-bit words; word `2 j + t` is row `16 g + j`, slot `2 p + t`
/// (zero weight where that row or slot does not exist).
#[derive(Clone, Debug)]
struct PermLayout {
    /// 32 (banks of up to 32 columns: one register) or 64 (two).
    table_words: usize,
    slot_pairs: usize,
    weights: Vec<i16>,
    /// Bank indices (below 64), one byte each: the layout is read from
    /// memory every SpMxV, so its size sets the speed.
    indices: Vec<u8>,
}

/// One matrix, prepared for the machine's SpMxV instructions.
#[derive(Clone, Debug)]
pub struct SpmvKernel {
    rows: usize,
    cols: usize,
    banks: usize,
    bank_size: usize,
    /// Entries per row (`slots * banks`).
    row_len: usize,
    /// Per position in a row, the first column of its bank.
    bases: Vec<u32>,
    finish: Finish,
    perm: Option<PermLayout>,
    /// The fastest path this CPU runs for this matrix.
    path: KernelPath,
    /// Whether the fast paths may read the matrix ([`trusted`]).
    trusted: bool,
    /// The reference's configuration, for [`KernelPath::Reference`].
    cfg: Config,
    /// Split the rows over rayon's threads from this many multiply-adds on.
    parallel_macs: Option<usize>,
}

/// The multiply-adds from which a SpMxV's rows are split over rayon's
/// threads. Measured on the 2-core development machine (AVX-512 path, 16
/// banks of 64 columns, 8 slots): 0.5M multiply-adds take 24 us in one
/// thread and 22.5 us split, 2M 107 us and 86 us, 8M 700 us and 435 us;
/// ESE's matrices (at most 0.26M) were 2-8x slower split, a rayon hand-off
/// costing several microseconds.
pub const PARALLEL_MACS: usize = 1 << 21;

/// Per-machine buffers the kernels reuse: the padded source vector.
#[derive(Clone, Debug, Default)]
pub struct KernelScratch {
    x64: Vec<i64>,
    x32: Vec<i32>,
    x16: Vec<i16>,
}

fn cpu_has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn cpu_has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the fast paths may read this matrix: consistent lengths, every
/// index inside its bank, every value inside the format (what
/// [`Csb::validate`] checks entry by entry, without its cost).
fn trusted(cfg: &Config, csb: &Csb) -> bool {
    let n = csb.rows * csb.slots * csb.banks;
    let fmt = cfg.format();
    if csb.values.len() != n
        || csb.indices.len() != n
        || csb.banks * csb.bank_size < csb.cols
        || csb.cols == 0
        || cfg.value_width > 32
    {
        return false;
    }
    // Folds rather than `all`: without the early exit they vectorize.
    let (lo, hi) = (fmt.min() as i32, fmt.max() as i32);
    let bank_size = csb.bank_size.min(u16::MAX as usize + 1);
    let bad_index = csb
        .indices
        .iter()
        .fold(false, |bad, &i| bad | (i as usize >= bank_size));
    let bad_value = csb
        .values
        .iter()
        .fold(false, |bad, &v| bad | (v < lo) | (v > hi));
    !bad_index && !bad_value
}

impl SpmvKernel {
    /// Prepare `csb` for `cfg` (which the machine has validated and checked
    /// the matrix against).
    pub fn new(cfg: &Config, csb: &Csb) -> SpmvKernel {
        let row_len = csb.slots * csb.banks;
        let bases = (0..row_len)
            .map(|p| ((p % csb.banks) * csb.bank_size) as u32)
            .collect();
        let mut k = SpmvKernel {
            rows: csb.rows,
            cols: csb.cols,
            banks: csb.banks,
            bank_size: csb.bank_size,
            row_len,
            bases,
            finish: Finish::new(cfg),
            perm: None,
            path: KernelPath::Reference,
            trusted: trusted(cfg, csb),
            cfg: cfg.clone(),
            parallel_macs: Some(PARALLEL_MACS),
        };
        if !k.trusted {
            return k;
        }
        // The AVX-512 sums are exact for up to 2^15 pairs of slots a row
        // (the configuration allows at most 64 x 32).
        if cfg.value_width <= 16
            && csb.bank_size <= 64
            && csb.banks * csb.slots.div_ceil(2) <= 1 << 15
        {
            k.perm = Some(perm_layout(csb));
        }
        k.path = if k.perm.is_some() && cpu_has_avx512() {
            KernelPath::Avx512
        } else if cpu_has_avx2() {
            KernelPath::Avx2
        } else {
            KernelPath::Scalar
        };
        k
    }

    /// The path [`SpmvKernel::run`] takes.
    pub fn path(&self) -> KernelPath {
        self.path
    }

    /// Every path this kernel can take on this CPU (for tests and benchmarks).
    pub fn available_paths(&self) -> Vec<KernelPath> {
        [
            KernelPath::Reference,
            KernelPath::Scalar,
            KernelPath::Avx2,
            KernelPath::Avx512,
        ]
        .into_iter()
        .filter(|&p| self.is_available(p))
        .collect()
    }

    fn is_available(&self, path: KernelPath) -> bool {
        let fast = self.trusted;
        match path {
            KernelPath::Reference => true,
            KernelPath::Scalar => fast,
            KernelPath::Avx2 => fast && cpu_has_avx2(),
            KernelPath::Avx512 => fast && self.perm.is_some() && cpu_has_avx512(),
        }
    }

    /// Use `path` from now on; `false` (and no change) if it is not available.
    pub fn set_path(&mut self, path: KernelPath) -> bool {
        let ok = self.is_available(path);
        if ok {
            self.path = path;
        }
        ok
    }

    /// Split the rows over rayon's threads (in at least two tasks) from
    /// `least` multiply-adds on ([`PARALLEL_MACS`] by default); `None`:
    /// never.
    pub fn set_parallel(&mut self, least: Option<usize>) {
        self.parallel_macs = least;
    }

    /// `out = W x` as [`simulate_spmv`] computes it; `csb` must be the
    /// matrix the kernel was prepared from.
    pub fn run(
        &self,
        csb: &Csb,
        x: &[i64],
        out: &mut [i64],
        scratch: &mut KernelScratch,
    ) -> Result<(), SimError> {
        self.run_path(self.path, csb, x, out, scratch)
    }

    /// [`SpmvKernel::run`] on a given path; panics if the path is not
    /// available ([`SpmvKernel::available_paths`]).
    pub fn run_path(
        &self,
        path: KernelPath,
        csb: &Csb,
        x: &[i64],
        out: &mut [i64],
        scratch: &mut KernelScratch,
    ) -> Result<(), SimError> {
        self.load_path(path, x, scratch)?;
        self.compute_path(path, csb, scratch, out)
    }

    /// The first half of [`SpmvKernel::run`]: check `x` and copy it into
    /// `scratch`. The output may then overwrite `x`'s storage.
    pub fn load(&self, x: &[i64], scratch: &mut KernelScratch) -> Result<(), SimError> {
        self.load_path(self.path, x, scratch)
    }

    /// The second half of [`SpmvKernel::run`], on the vector [`SpmvKernel::load`] copied.
    pub fn compute(
        &self,
        csb: &Csb,
        scratch: &KernelScratch,
        out: &mut [i64],
    ) -> Result<(), SimError> {
        self.compute_path(self.path, csb, scratch, out)
    }

    fn check_path(&self, path: KernelPath) {
        assert!(
            self.is_available(path),
            "kernel path {} is not available",
            path.name()
        );
    }

    fn load_path(
        &self,
        path: KernelPath,
        x: &[i64],
        scratch: &mut KernelScratch,
    ) -> Result<(), SimError> {
        self.check_path(path);
        if path == KernelPath::Reference {
            // The reference checks the vector itself.
            scratch.x64.clear();
            scratch.x64.extend_from_slice(x);
            return Ok(());
        }
        if x.len() != self.cols {
            return Err(SimError::VectorLength {
                got: x.len(),
                expected: self.cols,
            });
        }
        let fmt = self.cfg.format();
        let (lo, hi) = x
            .iter()
            .fold((0i64, 0i64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        if lo < fmt.min() || hi > fmt.max() {
            let (index, &value) = x
                .iter()
                .enumerate()
                .find(|(_, &v)| v < fmt.min() || v > fmt.max())
                .expect("an element out of range");
            return Err(SimError::VectorRange {
                index,
                value,
                width: fmt.width,
                frac: fmt.frac,
            });
        }
        if path == KernelPath::Avx512 {
            let tw = self.perm.as_ref().expect("available").table_words;
            scratch.x16.clear();
            scratch.x16.resize(self.banks * tw, 0);
            for (b, chunk) in x.chunks(self.bank_size).enumerate() {
                for (d, &v) in scratch.x16[b * tw..].iter_mut().zip(chunk) {
                    *d = v as i16;
                }
            }
        } else {
            scratch.x32.clear();
            scratch.x32.extend(x.iter().map(|&v| v as i32));
            scratch.x32.resize(self.banks * self.bank_size, 0);
        }
        Ok(())
    }

    fn compute_path(
        &self,
        path: KernelPath,
        csb: &Csb,
        scratch: &KernelScratch,
        out: &mut [i64],
    ) -> Result<(), SimError> {
        self.check_path(path);
        assert_eq!(out.len(), self.rows, "one output per row");
        if path == KernelPath::Reference {
            let run = simulate_spmv(&self.cfg, csb, &scratch.x64)?;
            out.copy_from_slice(&run.output);
            return Ok(());
        }
        assert_eq!(
            (csb.rows, csb.cols, csb.banks, csb.slots * csb.banks),
            (self.rows, self.cols, self.banks, self.row_len),
            "the kernel's matrix"
        );
        match path {
            KernelPath::Reference => unreachable!("handled above"),
            KernelPath::Scalar | KernelPath::Avx2 => {
                assert_eq!(scratch.x32.len(), self.banks * self.bank_size)
            }
            KernelPath::Avx512 => assert_eq!(
                scratch.x16.len(),
                self.banks * self.perm.as_ref().expect("available").table_words
            ),
        }
        let macs = self.rows * self.row_len;
        match self.parallel_macs {
            Some(least) if macs >= least && self.rows > 16 => {
                // Whole groups of 16 rows per task (the AVX-512 layout's unit).
                let tasks = rayon::current_num_threads().max(2);
                let chunk = self.rows.div_ceil(tasks).next_multiple_of(16);
                out.par_chunks_mut(chunk)
                    .enumerate()
                    .for_each(|(i, o)| self.rows_on(path, csb, scratch, i * chunk, o));
            }
            _ => self.rows_on(path, csb, scratch, 0, out),
        }
        Ok(())
    }

    /// Rows `first..first + out.len()` on `path` (`first` a multiple of 16).
    fn rows_on(
        &self,
        path: KernelPath,
        csb: &Csb,
        scratch: &KernelScratch,
        first: usize,
        out: &mut [i64],
    ) {
        debug_assert!(first.is_multiple_of(16) && first + out.len() <= self.rows);
        match path {
            KernelPath::Reference => unreachable!("not split"),
            KernelPath::Scalar => self.scalar(csb, &scratch.x32, first, out),
            KernelPath::Avx2 => {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the path is available, so the CPU has AVX2; the
                // matrix is trusted (every index inside its bank, lengths
                // consistent), `x32` holds `banks * bank_size` elements and
                // the rows exist (checked by the caller).
                unsafe {
                    x86::gather_avx2(self, csb, &scratch.x32, first, out)
                };
            }
            KernelPath::Avx512 => {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the path is available, so the CPU has AVX-512F
                // and BW; the layout holds whole 32-word blocks of whole
                // groups, `x16` `banks * table_words` words (checked by the
                // caller) and `first` starts a group.
                unsafe {
                    x86::perm_avx512(
                        self,
                        self.perm.as_ref().expect("available"),
                        &scratch.x16,
                        first,
                        out,
                    )
                };
            }
        }
    }

    fn scalar(&self, csb: &Csb, x32: &[i32], first: usize, out: &mut [i64]) {
        let n = self.row_len;
        for ((o, vals), idxs) in out
            .iter_mut()
            .zip(csb.values[first * n..].chunks_exact(n))
            .zip(csb.indices[first * n..].chunks_exact(n))
        {
            let mut acc = 0i64;
            for ((&v, &i), &base) in vals.iter().zip(idxs).zip(&self.bases) {
                acc = acc.wrapping_add(v as i64 * x32[(base + i as u32) as usize] as i64);
            }
            *o = self.finish.apply(acc);
        }
    }
}

fn perm_layout(csb: &Csb) -> PermLayout {
    let (rows, banks, slots) = (csb.rows, csb.banks, csb.slots);
    let table_words = if csb.bank_size <= 32 { 32 } else { 64 };
    let slot_pairs = slots.div_ceil(2);
    let groups = rows.div_ceil(16);
    let len = groups * banks * slot_pairs * 32;
    let mut weights = vec![0i16; len];
    let mut indices = vec![0u8; len];
    let per_group = banks * slot_pairs * 32;
    let per_row = slots * banks;
    // Group by group: the group's 16 rows and its part of the layout stay
    // in the L1 cache while the entries move.
    for ((w, ix), (vals, idxs)) in weights
        .chunks_exact_mut(per_group)
        .zip(indices.chunks_exact_mut(per_group))
        .zip(
            csb.values
                .chunks(16 * per_row)
                .zip(csb.indices.chunks(16 * per_row)),
        )
    {
        for (j, (rv, ri)) in vals
            .chunks_exact(per_row)
            .zip(idxs.chunks_exact(per_row))
            .enumerate()
        {
            for (s, (sv, si)) in rv
                .chunks_exact(banks)
                .zip(ri.chunks_exact(banks))
                .enumerate()
            {
                let at = (s / 2) * 32 + 2 * j + s % 2;
                for (b, (&v, &i)) in sv.iter().zip(si).enumerate() {
                    let d = at + b * slot_pairs * 32;
                    w[d] = v as i16;
                    ix[d] = i as u8;
                }
            }
        }
    }
    debug_assert_eq!(weights.len(), len);
    PermLayout {
        table_words,
        slot_pairs,
        weights,
        indices,
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Finish, PermLayout, SpmvKernel};
    use bbs_compress::Csb;
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU has AVX2; `k` was prepared from the trusted `csb`; `x32`
    /// holds `banks * bank_size` elements.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn gather_avx2(
        k: &SpmvKernel,
        csb: &Csb,
        x32: &[i32],
        first: usize,
        out: &mut [i64],
    ) {
        let n = k.row_len;
        let full = n / 8 * 8;
        let xp = x32.as_ptr();
        let bases = k.bases.as_ptr();
        for (r, o) in (first..).zip(out.iter_mut()) {
            let vals = csb.values.as_ptr().add(r * n);
            let idxs = csb.indices.as_ptr().add(r * n);
            let mut acc = _mm256_setzero_si256();
            let mut c = 0;
            while c < full {
                let i16s = _mm_loadu_si128(idxs.add(c) as *const __m128i);
                let col = _mm256_add_epi32(
                    _mm256_cvtepu16_epi32(i16s),
                    _mm256_loadu_si256(bases.add(c) as *const __m256i),
                );
                let xv = _mm256_i32gather_epi32::<4>(xp, col);
                let w = _mm256_loadu_si256(vals.add(c) as *const __m256i);
                let even = _mm256_mul_epi32(xv, w);
                let odd = _mm256_mul_epi32(_mm256_srli_epi64::<32>(xv), _mm256_srli_epi64::<32>(w));
                acc = _mm256_add_epi64(acc, _mm256_add_epi64(even, odd));
                c += 8;
            }
            let mut lanes = [0i64; 4];
            _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc);
            let mut sum = lanes[0]
                .wrapping_add(lanes[1])
                .wrapping_add(lanes[2])
                .wrapping_add(lanes[3]);
            while c < n {
                let col = *bases.add(c) + *idxs.add(c) as u32;
                sum = sum.wrapping_add(*vals.add(c) as i64 * *xp.add(col as usize) as i64);
                c += 1;
            }
            *o = k.finish.apply(sum);
        }
    }

    /// Narrow 8 accumulators and store the first `count` of them at `dst`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn finish8(f: &Finish, acc: __m512i, dst: *mut i64, count: usize) {
        let a = _mm512_sra_epi64(
            _mm512_sll_epi64(acc, _mm_cvtsi32_si128(f.wrap_shift as i32)),
            _mm_cvtsi32_si128(f.wrap_shift as i32),
        );
        let q = if f.frac == 0 {
            a
        } else {
            let q = _mm512_sra_epi64(a, _mm_cvtsi32_si128(f.frac as i32));
            let half = _mm512_and_si512(
                _mm512_sra_epi64(a, _mm_cvtsi32_si128(f.frac as i32 - 1)),
                _mm512_set1_epi64(1),
            );
            _mm512_add_epi64(q, half)
        };
        let q = _mm512_max_epi64(
            _mm512_min_epi64(q, _mm512_set1_epi64(f.max)),
            _mm512_set1_epi64(f.min),
        );
        if count >= 8 {
            _mm512_storeu_si512(dst as *mut __m512i, q);
        } else {
            _mm512_mask_storeu_epi64(dst, ((1u32 << count) - 1) as u8, q);
        }
    }

    /// # Safety
    /// The CPU has AVX-512F and BW; `perm` is `k`'s layout; `x16` holds
    /// `banks * table_words` words; `out` has `rows` elements.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn perm_avx512(
        k: &SpmvKernel,
        perm: &PermLayout,
        x16: &[i16],
        first: usize,
        out: &mut [i64],
    ) {
        let banks = k.banks;
        let sp = perm.slot_pairs;
        let tw = perm.table_words;
        let per_group = banks * sp * 32;
        let minus_one = _mm512_set1_epi32(-1);
        // Each lane was taken minus one once per bank and pair of slots.
        let pairs = _mm512_set1_epi64((banks * sp) as i64);
        let table = x16.as_ptr();
        let out_ptr = out.as_mut_ptr();
        let g0 = first / 16;
        for g in g0..(first + out.len()).div_ceil(16) {
            let w = perm.weights.as_ptr().add(g * per_group);
            let ix = perm.indices.as_ptr().add(g * per_group);
            // Per lane j (row 16 g + j), over the pair sums p (each
            // minus one): `wrapped` = sum p mod 2^32, `high` = sum (p >> 16)
            // exactly (at most 2^15 terms of 16 bits).
            let mut wrapped = _mm512_setzero_si512();
            let mut high = _mm512_setzero_si512();
            let mut off = 0;
            for b in 0..banks {
                let t0 = _mm512_loadu_si512(table.add(b * tw) as *const __m512i);
                if tw == 32 {
                    for _ in 0..sp {
                        let i =
                            _mm512_cvtepu8_epi16(_mm256_loadu_si256(ix.add(off) as *const __m256i));
                        let wv = _mm512_loadu_si512(w.add(off) as *const __m512i);
                        let xv = _mm512_permutexvar_epi16(i, t0);
                        let p = _mm512_add_epi32(_mm512_madd_epi16(xv, wv), minus_one);
                        wrapped = _mm512_add_epi32(wrapped, p);
                        high = _mm512_add_epi32(high, _mm512_srai_epi32::<16>(p));
                        off += 32;
                    }
                } else {
                    let t1 = _mm512_loadu_si512(table.add(b * tw + 32) as *const __m512i);
                    for _ in 0..sp {
                        let i =
                            _mm512_cvtepu8_epi16(_mm256_loadu_si256(ix.add(off) as *const __m256i));
                        let wv = _mm512_loadu_si512(w.add(off) as *const __m512i);
                        let xv = _mm512_permutex2var_epi16(t0, i, t1);
                        let p = _mm512_add_epi32(_mm512_madd_epi16(xv, wv), minus_one);
                        wrapped = _mm512_add_epi32(wrapped, p);
                        high = _mm512_add_epi32(high, _mm512_srai_epi32::<16>(p));
                        off += 32;
                    }
                }
            }
            // sum p = 2^16 high + low, where low = sum (p & 0xffff) is in
            // [0, 2^32): low = (wrapped - 2^16 high) mod 2^32.
            let low = _mm512_sub_epi32(wrapped, _mm512_slli_epi32::<16>(high));
            let sum = |h: __m256i, l: __m256i| {
                _mm512_add_epi64(
                    _mm512_add_epi64(
                        _mm512_slli_epi64::<16>(_mm512_cvtepi32_epi64(h)),
                        _mm512_cvtepu32_epi64(l),
                    ),
                    pairs,
                )
            };
            let lo = sum(_mm512_castsi512_si256(high), _mm512_castsi512_si256(low));
            let hi = sum(
                _mm512_extracti64x4_epi64::<1>(high),
                _mm512_extracti64x4_epi64::<1>(low),
            );
            let at = (g - g0) * 16;
            let left = out.len() - at;
            finish8(&k.finish, lo, out_ptr.add(at), left.min(8));
            if left > 8 {
                finish8(&k.finish, hi, out_ptr.add(at + 8), (left - 8).min(8));
            }
        }
    }
}
