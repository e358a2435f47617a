//! The machine's fast SpMxV kernel against the reference `simulate_spmv`:
//! every path this CPU has (scalar, AVX2, AVX-512), forced one by one, on
//! random and extreme matrices and vectors.

use bbs_compress::{Csb, QFormat};
use bbs_sim::kernel::{KernelPath, KernelScratch, SpmvKernel};
use bbs_sim::{simulate_spmv, Config};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn config(value_width: u32, frac_bits: u32, acc_width: u32, banks: usize) -> Config {
    let mut cfg = Config {
        name: "kernel".into(),
        banks,
        value_width,
        frac_bits,
        acc_width,
        max_rows: 1 << 12,
        max_cols: 1 << 12,
        max_slots: 64,
        ..Config::default()
    };
    cfg.max_slots = cfg.max_slots.min(cfg.max_cols.div_ceil(banks));
    cfg.validate().expect("a valid test configuration");
    cfg
}

/// How the test fills weights and vector elements.
#[derive(Clone, Copy, Debug)]
enum Fill {
    Random,
    /// -2^(W-1) everywhere: the largest products, the pair sum 2^(2W-1).
    Min,
    /// 2^(W-1) - 1 everywhere.
    Max,
    /// Only the two extremes, mixed.
    Extremes,
}

fn value(rng: &mut ChaCha8Rng, fmt: QFormat, fill: Fill) -> i64 {
    match fill {
        Fill::Random => rng.random_range(fmt.min()..=fmt.max()),
        Fill::Min => fmt.min(),
        Fill::Max => fmt.max(),
        Fill::Extremes => {
            if rng.random_bool(0.5) {
                fmt.min()
            } else {
                fmt.max()
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn matrix(
    rng: &mut ChaCha8Rng,
    cfg: &Config,
    rows: usize,
    cols: usize,
    slots: usize,
    fill: Fill,
) -> Csb {
    let banks = cfg.banks;
    let bank_size = cols.div_ceil(banks);
    let n = rows * slots * banks;
    let fmt = cfg.format();
    Csb {
        rows,
        cols,
        banks,
        bank_size,
        slots,
        format: fmt,
        values: (0..n).map(|_| value(rng, fmt, fill) as i32).collect(),
        indices: (0..n)
            .map(|_| rng.random_range(0..bank_size) as u16)
            .collect(),
    }
}

/// Every available path of the kernel gives the reference's outputs (and
/// the fast ones are present where this CPU has them).
fn check(cfg: &Config, csb: &Csb, x: &[i64]) {
    let want = simulate_spmv(cfg, csb, x)
        .expect("the reference runs")
        .output;
    let mut kernel = SpmvKernel::new(cfg, csb);
    let paths = kernel.available_paths();
    assert!(paths.contains(&KernelPath::Scalar), "{paths:?}");
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            assert!(paths.contains(&KernelPath::Avx2), "{paths:?}");
        }
        let perm = cfg.value_width <= 16 && csb.bank_size <= 64;
        if perm
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
        {
            assert!(paths.contains(&KernelPath::Avx512), "{paths:?}");
            assert_eq!(kernel.path(), KernelPath::Avx512);
        }
    }
    let mut scratch = KernelScratch::default();
    // Rows split over rayon's threads (at least two tasks, whatever the
    // size), and never split.
    for (&path, parallel) in paths.iter().flat_map(|p| [(p, Some(0)), (p, None)]) {
        kernel.set_parallel(parallel);
        let mut out = vec![i64::MIN; csb.rows];
        kernel
            .run_path(path, csb, x, &mut out, &mut scratch)
            .expect("the kernel runs");
        assert_eq!(
            out,
            want,
            "path {} (split {parallel:?}) on Q{}.{} A={} {} x {} in {} banks of {}, {} slots",
            path.name(),
            cfg.value_width,
            cfg.frac_bits,
            cfg.acc_width,
            csb.rows,
            csb.cols,
            csb.banks,
            csb.bank_size,
            csb.slots
        );
        // The same through set_path + run, as the machine uses it.
        assert!(kernel.set_path(path));
        let mut again = vec![0; csb.rows];
        kernel.run(csb, x, &mut again, &mut scratch).unwrap();
        assert_eq!(again, want, "run on {}", path.name());
    }
}

/// The (value_width, frac_bits, acc_width) combinations the configuration
/// admits for `banks`: the narrowest accumulator, 32, 40 and 64 bits
/// (32-bit values only with one bank: 2 x 32 guard bits need all 64).
fn formats(banks: usize) -> Vec<(u32, u32, u32)> {
    let log2k = if banks <= 1 {
        0
    } else {
        usize::BITS - (banks - 1).leading_zeros()
    };
    let mut v = vec![];
    for (w, f) in [
        (8, 5),
        (12, 0),
        (16, 12),
        (16, 0),
        (24, 20),
        (29, 10),
        (32, 16),
    ] {
        let need = 2 * w + log2k;
        for a in [need, 32, 40, 64] {
            if a >= need && need <= 64 && !v.contains(&(w, f, a)) {
                v.push((w, f, a));
            }
        }
    }
    v
}

#[test]
fn extreme_values_on_every_path() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    // (banks, cols, rows, slots): odd bank sizes, rows not a multiple of
    // 8 or 16, banks from 1 to 64, bank sizes on both sides of 32 and 64.
    let shapes: [(usize, usize, usize, usize); 10] = [
        (1, 1, 1, 1),
        (4, 10, 17, 3),
        (8, 256, 33, 32),
        (16, 153, 40, 2),
        (16, 512, 16, 4),
        (16, 1024, 9, 8),
        (16, 1040, 5, 65),
        (3, 98, 23, 7),
        (64, 64 * 33, 3, 33),
        (5, 500, 31, 64),
    ];
    for (banks, cols, rows, slots) in shapes {
        for (w, f, a) in formats(banks) {
            let cfg = config(w, f, a, banks);
            let slots = slots.min(cols.div_ceil(banks)).min(cfg.max_slots);
            for fill in [Fill::Min, Fill::Max, Fill::Extremes, Fill::Random] {
                let csb = matrix(&mut rng, &cfg, rows, cols, slots, fill);
                for xfill in [Fill::Min, Fill::Max, Fill::Extremes, Fill::Random] {
                    let x: Vec<i64> = (0..cols)
                        .map(|_| value(&mut rng, cfg.format(), xfill))
                        .collect();
                    check(&cfg, &csb, &x);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn random_matrices_on_every_path(
        banks in 1usize..=32,
        bank_size in 1usize..=80,
        rows in 1usize..=70,
        slot_frac in 0.0f64..=1.0,
        fmt_pick in 0usize..64,
        extremes in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let formats = formats(banks);
        let (w, f, a) = formats[fmt_pick % formats.len()];
        let cfg = config(w, f, a, banks);
        let cols = (banks * bank_size).min(cfg.max_cols);
        let bank_size = cols.div_ceil(banks);
        let slots = ((slot_frac * bank_size as f64).ceil() as usize).clamp(1, bank_size).min(cfg.max_slots);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let fill = if extremes { Fill::Extremes } else { Fill::Random };
        let csb = matrix(&mut rng, &cfg, rows, cols, slots, fill);
        let x: Vec<i64> = (0..cols).map(|_| value(&mut rng, cfg.format(), fill)).collect();
        check(&cfg, &csb, &x);
    }
}

#[test]
fn an_untrusted_matrix_runs_on_the_reference() {
    let cfg = config(16, 12, 40, 4);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut csb = matrix(&mut rng, &cfg, 5, 16, 2, Fill::Random);
    // An index outside its bank reads the next bank in the reference.
    csb.indices[0] = 5;
    let kernel = SpmvKernel::new(&cfg, &csb);
    assert_eq!(kernel.path(), KernelPath::Reference);
    assert_eq!(kernel.available_paths(), vec![KernelPath::Reference]);
    let x: Vec<i64> = (0..16).map(|i| i * 100 - 700).collect();
    let mut out = vec![0; 5];
    kernel
        .run(&csb, &x, &mut out, &mut KernelScratch::default())
        .unwrap();
    assert_eq!(out, simulate_spmv(&cfg, &csb, &x).unwrap().output);
}

#[test]
fn vector_errors_match_the_reference() {
    let cfg = config(8, 4, 20, 2);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let csb = matrix(&mut rng, &cfg, 3, 6, 2, Fill::Random);
    let kernel = SpmvKernel::new(&cfg, &csb);
    let mut scratch = KernelScratch::default();
    for x in [vec![1i64; 5], vec![0, 0, 0, 128, 0, -200]] {
        let want = simulate_spmv(&cfg, &csb, &x).unwrap_err().to_string();
        for path in kernel.available_paths() {
            let got = kernel
                .run_path(path, &csb, &x, &mut [0; 3], &mut scratch)
                .unwrap_err()
                .to_string();
            assert_eq!(got, want, "{}", path.name());
        }
    }
}

/// The EWOP and ACT loops at every instruction-set level against their
/// element-by-element definitions.
#[test]
fn elementwise_on_every_level() {
    use bbs_sim::act::{ActFn, ActTable};
    use bbs_sim::arith::round_shift_saturate;
    use bbs_sim::elementwise::{self, Simd};
    use bbs_sim::isa::EwOp;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let levels = Simd::available();
    assert_eq!(levels[0], Simd::Baseline);
    assert!(levels.contains(&Simd::best()));
    for (w, f) in [
        (16, 12),
        (16, 0),
        (8, 5),
        (12, 1),
        (24, 20),
        (32, 16),
        (32, 31),
    ] {
        let fmt = QFormat::new(w, f).unwrap();
        for fill in [Fill::Random, Fill::Extremes, Fill::Min, Fill::Max] {
            // 67 elements: whole vectors and a tail at every width.
            let a: Vec<i64> = (0..67).map(|_| value(&mut rng, fmt, fill)).collect();
            let b: Vec<i64> = (0..67).map(|_| value(&mut rng, fmt, fill)).collect();
            for func in [EwOp::Add, EwOp::Sub, EwOp::Mul, EwOp::Copy] {
                let want: Vec<i64> = a
                    .iter()
                    .zip(&b)
                    .map(|(&x, &y)| match func {
                        EwOp::Add => (x + y).clamp(fmt.min(), fmt.max()),
                        EwOp::Sub => (x - y).clamp(fmt.min(), fmt.max()),
                        EwOp::Mul => round_shift_saturate(x * y, f, w),
                        EwOp::Copy => x.clamp(fmt.min(), fmt.max()),
                    })
                    .collect();
                for &simd in &levels {
                    let mut out = a.clone();
                    elementwise::ewop(simd, func, fmt, &mut out, &b);
                    assert_eq!(out, want, "{func:?} Q{w}.{f} {fill:?} {simd:?}");
                }
            }
            // Inputs far outside the table's range too.
            let xs: Vec<i64> = a
                .iter()
                .chain(&[i64::from(i32::MIN) * 4, 1 << 40])
                .copied()
                .collect();
            for func in [ActFn::Sigmoid, ActFn::Tanh] {
                let t = ActTable::new(func, fmt);
                let want: Vec<i64> = xs.iter().map(|&x| t.eval(x)).collect();
                for &simd in &levels {
                    let mut out = xs.clone();
                    elementwise::act(simd, &t, &mut out);
                    assert_eq!(out, want, "{func:?} Q{w}.{f} {fill:?} {simd:?}");
                }
            }
        }
    }
}

/// The machine's in-place EWOP and ACT against a model that computes every
/// result before writing it: sources equal to the destination, apart from
/// it, the same region twice, and an ACT whose source half overlaps its
/// destination; on every SpMxV path (each with its EWOP/ACT level).
#[test]
fn elementwise_instructions_in_place_match_copy_then_write() {
    use bbs_sim::act::{ActFn, ActTable};
    use bbs_sim::arith::round_shift_saturate;
    use bbs_sim::isa::{EwOp, Instr, Region};
    use bbs_sim::machine::{Machine, Program};
    use std::collections::VecDeque;
    let cfg = config(16, 12, 40, 4);
    let fmt = cfg.format();
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let n = 37;
    let r = |i: usize| Region::new(i * n, n);
    let data: Vec<Vec<i64>> = (0..4)
        .map(|_| {
            (0..n)
                .map(|_| value(&mut rng, fmt, Fill::Extremes) / 3)
                .collect()
        })
        .collect();
    let ew = |func, a, b, dst| Instr::Ewop { func, a, b, dst };
    let mut instrs = vec![
        ew(EwOp::Add, r(0), r(1), r(0)),
        ew(EwOp::Mul, r(1), r(0), r(0)),
        ew(EwOp::Sub, r(2), r(2), r(2)),
        ew(EwOp::Mul, r(3), r(3), r(4)),
        ew(EwOp::Add, r(1), r(3), r(5)),
        ew(EwOp::Copy, r(5), r(5), r(6)),
        ew(EwOp::Sub, r(6), r(1), r(1)),
        Instr::Act {
            func: ActFn::Tanh,
            src: r(4),
            dst: r(4),
        },
        Instr::Act {
            func: ActFn::Sigmoid,
            src: r(5),
            dst: r(7),
        },
        // Half overlapping, both ways.
        Instr::Act {
            func: ActFn::Tanh,
            src: Region::new(7 * n, n),
            dst: Region::new(7 * n + 10, n),
        },
        Instr::Act {
            func: ActFn::Sigmoid,
            src: Region::new(7 * n + 10, n),
            dst: Region::new(7 * n + 3, n),
        },
    ];
    instrs.push(Instr::Store {
        src: Region::new(0, 9 * n),
    });
    let program = Program {
        instrs: instrs.clone(),
        preloaded: (0..9)
            .map(|i| (r(i), data.get(i).cloned().unwrap_or(vec![0; n])))
            .collect(),
        ..Program::default()
    };
    // The model: read everything, then write.
    let mut mem = vec![0i64; 9 * n];
    for (i, d) in data.iter().enumerate() {
        mem[i * n..(i + 1) * n].copy_from_slice(d);
    }
    let (sig, tanh) = (
        ActTable::new(ActFn::Sigmoid, fmt),
        ActTable::new(ActFn::Tanh, fmt),
    );
    for instr in &instrs {
        let (dst, out): (Region, Vec<i64>) = match *instr {
            Instr::Ewop { func, a, b, dst } => (
                dst,
                (0..dst.len)
                    .map(|i| {
                        let (x, y) = (mem[a.base + i], mem[b.base + i]);
                        match func {
                            EwOp::Add => (x + y).clamp(fmt.min(), fmt.max()),
                            EwOp::Sub => (x - y).clamp(fmt.min(), fmt.max()),
                            EwOp::Mul => round_shift_saturate(x * y, fmt.frac, fmt.width),
                            EwOp::Copy => x.clamp(fmt.min(), fmt.max()),
                        }
                    })
                    .collect(),
            ),
            Instr::Act { func, src, dst } => {
                let t = if func == ActFn::Sigmoid { &sig } else { &tanh };
                (
                    dst,
                    mem[src.base..src.end()]
                        .iter()
                        .map(|&x| t.eval(x))
                        .collect(),
                )
            }
            _ => continue,
        };
        mem[dst.base..dst.end()].copy_from_slice(&out);
    }
    let csb = matrix(&mut rng, &cfg, 4, 8, 1, Fill::Random);
    let probe = SpmvKernel::new(&cfg, &csb);
    for path in probe.available_paths() {
        let mut m = Machine::new(&cfg, vec![csb.clone()]).unwrap();
        assert!(m.set_kernel_path(path));
        m.validate(&program).unwrap();
        m.preload(&program);
        let run = m.run(&program, &mut VecDeque::new()).unwrap();
        assert_eq!(run.outputs, vec![mem.clone()], "{}", path.name());
    }
}
