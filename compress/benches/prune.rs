//! Pruning a 4096 x 4096 f32 matrix at 87.5% sparsity: BBS (16 banks), and
//! for comparison unstructured magnitude pruning and 4x4 blocks. BBS runs
//! on rayon's global pool and on a one-thread pool.
//!
//! Run: `cargo bench -p bbs-compress --bench prune`.

use std::hint::black_box;

use bbs_compress::{prune_bbs, prune_mask, Pattern};
use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N: usize = 4096;
const SPARSITY: f64 = 0.875;

fn matrix() -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(0x0BB5);
    Array2::from_shape_simple_fn((N, N), || rng.random_range(-1.0f32..1.0))
}

fn bench(c: &mut Criterion) {
    let w = matrix();
    let mut g = c.benchmark_group("prune_4096x4096_s0.875");
    g.sample_size(10);
    g.bench_function("bbs_16_banks", |b| {
        b.iter(|| prune_bbs(black_box(&w.view()), 16, SPARSITY).unwrap())
    });
    // The same on a one-thread pool: what the row parallelism buys.
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    g.bench_function("bbs_16_banks_1_thread", |b| {
        b.iter(|| one.install(|| prune_bbs(black_box(&w.view()), 16, SPARSITY).unwrap()))
    });
    g.bench_function("bbs_16_banks_mask", |b| {
        b.iter(|| prune_mask(black_box(&w.view()), &Pattern::Bbs { banks: 16 }, SPARSITY).unwrap())
    });
    g.bench_function("unstructured", |b| {
        b.iter(|| prune_mask(black_box(&w.view()), &Pattern::Unstructured, SPARSITY).unwrap())
    });
    g.bench_function("block_4", |b| {
        b.iter(|| prune_mask(black_box(&w.view()), &Pattern::Block { size: 4 }, SPARSITY).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
