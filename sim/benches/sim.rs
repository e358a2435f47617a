//! Simulator speed: one SpMxV of a real trained matrix (silero-vad's LSTM
//! recurrent matrix, 75% BBS) on the default configuration, and one ESE-LSTM
//! frame on the Arria 10 configuration.

use bbs_compress::{prune_bbs, read_matrix, Csb};
use bbs_sim::rnn::run_sequence;
use bbs_sim::{simulate_spmv, workloads, Config};
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn spmv(c: &mut Criterion) {
    let cfg = Config::default();
    let w = read_matrix(
        &root().join("data/silero-vad/silero_vad_16k.safetensors"),
        Some("lstm_cell.weight_hh"),
    )
    .unwrap();
    let (csb, _) = Csb::from_pruned(
        &prune_bbs(&w.view(), cfg.banks, 0.75).unwrap(),
        cfg.format(),
    );
    let x: Vec<i64> = (0..csb.cols)
        .map(|j| ((j * 37) % 4096) as i64 - 2048)
        .collect();
    c.bench_function("spmv silero weight_hh 512x128 75% on default", |b| {
        b.iter(|| simulate_spmv(&cfg, &csb, std::hint::black_box(&x)).unwrap())
    });
}

fn ese_frame(c: &mut Criterion) {
    let cfg = Config::from_file(&root().join("hw/configs/ese-a10.toml")).unwrap();
    let net = workloads::network("ese-lstm", &cfg, 0.875, 1).unwrap();
    let frames = workloads::frames(&cfg, net.input(), 1, 2);
    c.bench_function("ese-lstm frame on ese-a10", |b| {
        b.iter(|| run_sequence(&cfg, &net, &frames).unwrap())
    });
}

criterion_group!(benches, spmv, ese_frame);
criterion_main!(benches);
