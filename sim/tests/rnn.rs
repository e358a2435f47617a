//! LSTM and GRU sequences on the accelerator: bit-exact against the plain
//! fixed-point reference, close to the float reference, and the ESE LSTM
//! within its analytic bound.

use bbs_sim::isa::{EwOp, Instr, Region};
use bbs_sim::machine::{Machine, Program, ProgramError};
use bbs_sim::rnn::{float_sequence, reference_sequence, run_sequence, NetworkError};
use bbs_sim::{workloads, Config};
use std::path::PathBuf;

fn config(name: &str) -> Config {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../hw/configs")
        .join(format!("{name}.toml"));
    Config::from_file(&path).unwrap()
}

#[test]
fn sequences_are_bit_exact_against_the_reference_and_close_to_float() {
    for cfg_name in ["default", "odd"] {
        let cfg = config(cfg_name);
        for name in ["small-lstm", "small-gru", "stacked-lstm"] {
            let net = workloads::network(name, &cfg, 0.75, 1).unwrap();
            let frames = workloads::frames(&cfg, net.input(), 6, 2);
            let run = run_sequence(&cfg, &net, &frames).unwrap();
            let reference = reference_sequence(&cfg, &net, &frames);
            assert_eq!(run.outputs, reference, "{cfg_name} / {name}");
            // Against float: the error of Q(W.F) arithmetic and the PWL activations.
            let float = float_sequence(&cfg, &net, &frames);
            let one = (1i64 << cfg.frac_bits) as f64;
            let err = run
                .outputs
                .iter()
                .flatten()
                .zip(float.iter().flatten())
                .map(|(&q, &f)| (q as f64 / one - f).abs())
                .fold(0.0, f64::max);
            eprintln!("{cfg_name} / {name}: max |fixed - float| over 6 frames = {err:.5}");
            let bound = if cfg.frac_bits >= 12 { 0.02 } else { 0.08 };
            assert!(err < bound, "{cfg_name} / {name}: error {err}");
            // The state is carried: frames differ.
            assert_ne!(run.outputs[0], run.outputs[5]);
            // Every frame runs the same program: the same cycles.
            assert!(run.frames.iter().all(|f| f.cycles == run.frames[0].cycles));
        }
    }
}

#[test]
fn ese_lstm_frame_latency_within_its_bound() {
    let cfg = config("ese-a10");
    let net = workloads::network("ese-lstm", &cfg, 0.875, 1).unwrap();
    let frames = workloads::frames(&cfg, net.input(), 1, 2);
    let run = run_sequence(&cfg, &net, &frames).unwrap();
    let r = &run.frames[0];
    let nnz: usize = net
        .matrices()
        .iter()
        .map(|m| m.rows * m.slots * m.banks)
        .sum();
    let bound = nnz as f64 / (cfg.pes * cfg.banks) as f64;
    eprintln!(
        "ese-lstm on ese-a10: {} cycles = {:.2} us at {} MHz (PE {} / EWOP {} / ACT {} / DMA {}), compute bound {bound:.0}",
        r.cycles,
        r.cycles as f64 / cfg.host.clock_mhz as f64,
        cfg.host.clock_mhz,
        r.units.pe,
        r.units.ewop,
        r.units.act,
        r.units.dma
    );
    assert!(r.units.pe as f64 >= bound);
    // PE time is the bound plus, per SpMxV, start + vector load + drain + the lockstep tail.
    let overhead: u64 = net
        .matrices()
        .iter()
        .map(|m| 1 + m.bank_size as u64 + bbs_sim::arch::timing::drain(&cfg) + m.slots as u64)
        .sum();
    assert!(
        (r.units.pe as f64) <= bound + overhead as f64,
        "{} > {bound} + {overhead}",
        r.units.pe
    );
    assert_eq!(run.outputs, reference_sequence(&cfg, &net, &frames));
}

fn tiny_program() -> (Config, Machine) {
    let cfg = Config::default();
    let net = workloads::network("small-lstm", &cfg, 0.75, 1).unwrap();
    let m = Machine::new(&cfg, net.matrices()).unwrap();
    (cfg, m)
}

#[test]
fn programs_that_read_before_writing_or_do_not_fit_are_refused() {
    let (cfg, m) = tiny_program();
    let r = |b, l| Region::new(b, l);
    let bad = |instrs: Vec<Instr>| {
        m.validate(&Program {
            instrs,
            preloaded: vec![],
            ..Program::default()
        })
        .unwrap_err()
        .to_string()
    };

    let e = bad(vec![Instr::Ewop {
        func: EwOp::Add,
        a: r(0, 4),
        b: r(4, 4),
        dst: r(8, 4),
    }]);
    assert!(
        e.contains("instruction 0 (ewop.a)") && e.contains("before anything writes it"),
        "{e}"
    );
    let e = bad(vec![
        Instr::Load { dst: r(0, 192) },
        Instr::Spmv {
            matrix: 3,
            src: r(0, 192),
            dst: r(200, 512),
        },
    ]);
    assert!(e.contains("instruction 1 (spmv.matrix)"), "{e}");
    let e = bad(vec![
        Instr::Load { dst: r(0, 100) },
        Instr::Spmv {
            matrix: 0,
            src: r(0, 100),
            dst: r(200, 512),
        },
    ]);
    assert!(e.contains("spmv.src") && e.contains("64 columns"), "{e}");
    let e = bad(vec![Instr::Load {
        dst: r(cfg.memory.vector_words - 2, 4),
    }]);
    assert!(e.contains("load.dst") && e.contains("outside"), "{e}");
    let e = bad(vec![
        Instr::Load { dst: r(0, 8) },
        Instr::Ewop {
            func: EwOp::Mul,
            a: r(0, 8),
            b: r(0, 8),
            dst: r(4, 8),
        },
    ]);
    assert!(e.contains("overlaps dst"), "{e}");
    let e = bad(vec![
        Instr::Load { dst: r(0, 8) };
        cfg.memory.instruction_words + 1
    ]);
    assert!(e.contains("memory.instruction_words"), "{e}");
}

#[test]
fn networks_that_do_not_fit_are_refused_naming_the_field() {
    let mut cfg = Config::default();
    cfg.memory.vector_words = 1000;
    let net = workloads::network("small-lstm", &cfg, 0.75, 1).unwrap();
    let e = run_sequence(&cfg, &net, &[]).unwrap_err();
    assert!(matches!(e, NetworkError::VectorMemory { .. }));
    assert!(e.to_string().starts_with("memory.vector_words"), "{e}");

    // Dense, W_hh's 128 columns in 8 banks need 16 slots.
    let cfg = Config {
        max_slots: 8,
        ..Config::default()
    };
    let dense = workloads::network("small-lstm", &cfg, 0.0, 1);
    let e = dense
        .map(|n| run_sequence(&cfg, &n, &[]))
        .unwrap()
        .unwrap_err();
    assert!(e.to_string().starts_with("max_slots"), "{e}");

    let e = workloads::network("big-lstm", &cfg, 0.5, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("big-lstm") && e.contains("ese-lstm"), "{e}");

    let net = workloads::network("small-lstm", &cfg, 0.75, 1).unwrap();
    let mut m = Machine::new(&cfg, net.matrices()).unwrap();
    let p = net.program(&cfg).unwrap();
    m.preload(&p);
    let e = m.run(&p, &mut Default::default()).unwrap_err();
    assert!(matches!(e, ProgramError::NoInput { index: 0 }), "{e}");
}

#[test]
fn timing_only_cycles_equal_the_functional_run() {
    for cfg in [Config::default(), {
        let mut c = Config {
            name: "narrow".into(),
            ..Config::default()
        };
        c.ewop.lanes = 3;
        c.ewop.latency = 0;
        c.host.link_bytes_per_cycle = 5;
        c.memory.matrix = bbs_sim::MatrixStorage::Dram;
        c.memory.dram_bytes_per_cycle = 4;
        c
    }] {
        for name in ["small-lstm", "small-gru", "stacked-lstm"] {
            let net = bbs_sim::workloads::network(name, &cfg, 0.75, 3).unwrap();
            let program = net.program(&cfg).unwrap();
            let mut m = Machine::new(&cfg, net.matrices()).unwrap();
            m.validate(&program).unwrap();
            m.preload(&program);
            let mut inputs = bbs_sim::workloads::frames(&cfg, net.input(), 1, 1)
                .into_iter()
                .collect();
            let run = m.run(&program, &mut inputs).unwrap();
            assert_eq!(
                m.program_cycles(&program),
                run.cycles,
                "{name} on {}",
                cfg.name
            );
            assert_eq!(
                run.timeline.iter().map(|t| t.cycles).sum::<u64>(),
                run.cycles
            );
        }
    }
}
