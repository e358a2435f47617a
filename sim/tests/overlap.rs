//! The overlapped machine (`[overlap]`, docs/architecture.md): every step
//! of the ablation computes the serialized machine's values bit for bit,
//! its cycles are those of the cycle model, each technique only ever
//! shortens the frame, the waits the generator derives always validate,
//! a program whose waits would race is refused naming the instruction and
//! field, and impossible switch combinations are refused naming the field.

use bbs_sim::isa::{EwOp, Instr, Region};
use bbs_sim::machine::{Machine, Program};
use bbs_sim::overlap::{Hazard, Wait};
use bbs_sim::report::ablation::steps;
use bbs_sim::rnn::{reference_sequence, run_sequence, Compiled, Network};
use bbs_sim::{workloads, Config, MatrixStorage, Overlap};
use std::path::PathBuf;

fn config(name: &str) -> Config {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../hw/configs")
        .join(format!("{name}.toml"));
    Config::from_file(&path).unwrap()
}

fn with(cfg: &Config, overlap: &Overlap) -> Config {
    Config {
        overlap: overlap.clone(),
        ..cfg.clone()
    }
}

/// `cfg` with a vector memory that holds `net`'s program, as the ablation
/// sizes it (the overlapped steps may need more words than ese-a10 has);
/// `None` where bank-interleaved vectors are refused because the network's
/// vectors do not fill whole bank rows (only `odd`'s 6 banks, here).
fn fitted(cfg: &Config, net: &Network) -> Option<Config> {
    if !cfg.overlap.units {
        return Some(cfg.clone());
    }
    match bbs_sim::overlap::compile::fit_memory(net, cfg) {
        Ok(c) => Some(c),
        Err(e @ bbs_sim::rnn::NetworkError::Shape { .. }) if cfg.overlap.interleaved => {
            assert_eq!(cfg.name, "odd", "{e}");
            assert!(
                e.to_string().contains("is not a multiple of banks (6)"),
                "{e}"
            );
            None
        }
        Err(e) => panic!("{}: {e}", cfg.name),
    }
}

/// The machine and program `net` compiles to on `cfg`.
fn compiled(cfg: &Config, net: &Network) -> (Machine, Program) {
    let Compiled {
        program, matrices, ..
    } = net.compile(cfg).unwrap();
    (Machine::new(cfg, matrices).unwrap(), program)
}

/// The built-in workloads on the small reference configurations and the ESE
/// LSTM on ese-a10, at every step of the ablation.
fn cases() -> Vec<(Config, &'static str, f64)> {
    let mut v = Vec::new();
    for cfg in ["default", "odd"] {
        for w in ["small-lstm", "small-gru", "stacked-lstm"] {
            v.push((config(cfg), w, 0.75));
        }
    }
    v.push((config("ese-a10"), "ese-lstm", 0.875));
    v
}

#[test]
fn every_step_is_bit_exact_and_runs_the_cycle_models_frames() {
    for (base, workload, sparsity) in cases() {
        for (step, overlap) in steps() {
            let cfg = with(&base, &overlap);
            let what = format!("{} / {workload} / {step}", base.name);
            let net = workloads::network(workload, &cfg, sparsity, 1).unwrap();
            let Some(cfg) = fitted(&cfg, &net) else {
                continue;
            };
            let frames = workloads::frames(&cfg, net.input(), 3, 7);
            let run = run_sequence(&cfg, &net, &frames).unwrap();
            assert_eq!(
                run.outputs,
                reference_sequence(&cfg, &net, &frames),
                "{what}"
            );
            let (machine, program) = compiled(&cfg, &net);
            machine
                .validate(&program)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let model = machine.frame_cycles(&program, frames.len());
            let ran: Vec<u64> = run.frames.iter().map(|f| f.cycles).collect();
            assert_eq!(ran, model, "{what}");
            if overlap.units {
                // Frames overlap: the steady state is no longer than frame 0.
                assert!(model[2] <= model[0], "{what}: {model:?}");
            } else {
                assert!(model.iter().all(|&c| c == model[0]), "{what}: {model:?}");
            }
        }
    }
}

#[test]
fn each_technique_only_shortens_the_steady_frame() {
    for (base, workload, sparsity) in cases() {
        let steady: Vec<u64> = steps()
            .iter()
            .filter_map(|(_, overlap)| {
                let cfg = with(&base, overlap);
                let net = workloads::network(workload, &cfg, sparsity, 1).unwrap();
                let cfg = fitted(&cfg, &net)?;
                let (machine, program) = compiled(&cfg, &net);
                Some(*machine.frame_cycles(&program, 8).last().unwrap())
            })
            .collect();
        let what = format!("{} / {workload}: {steady:?}", base.name);
        assert!(steady.windows(2).all(|w| w[1] <= w[0]), "{what}");
        // The whole overlapped machine is much faster than the serialized.
        assert!(
            (*steady.last().unwrap() as f64) < 0.75 * steady[0] as f64,
            "{what}"
        );
    }
}

/// Chaining reorders an LSTM's gate rows into cell blocks: the compiled
/// matrices hold the network's rows, only in another order.
#[test]
fn chaining_only_reorders_rows() {
    let cfg = with(&config("default"), &Overlap::all());
    let net = workloads::network("small-lstm", &cfg, 0.75, 1).unwrap();
    let c = net.compile(&cfg).unwrap();
    assert!(c.block < 128, "one block of the whole layer: {}", c.block);
    let original = net.matrices();
    for (m, &src) in c.matrices.iter().zip(&c.source) {
        let rows = |csb: &bbs_compress::Csb| -> Vec<Vec<i64>> {
            let d = csb.to_dense_fixed();
            d.rows().into_iter().map(|r| r.to_vec()).collect()
        };
        let mut got = rows(m);
        let mut want = rows(&original[src]);
        assert_ne!(got, want[..got.len()], "rows not reordered");
        got.sort();
        want.sort();
        if got.len() == want.len() {
            assert_eq!(got, want);
        } else {
            // One of two pieces of W_ih: its rows are among the matrix's.
            assert!(got.iter().all(|r| want.binary_search(r).is_ok()));
        }
    }
}

/// The first wait of `hazard` kind in the program, as (instruction, index).
fn find_wait(p: &Program, hazard: Hazard, same_frame: bool) -> (usize, usize) {
    p.waits
        .iter()
        .enumerate()
        .find_map(|(i, ws)| {
            ws.iter()
                .position(|w| w.hazard == hazard && w.previous_frame != same_frame)
                .map(|k| (i, k))
        })
        .unwrap_or_else(|| panic!("no {hazard:?} wait"))
}

/// Drop one wait and let the instruction start as early as its unit
/// allows: the validator must catch the race the wait prevented.
fn without_wait(p: &Program, (i, k): (usize, usize)) -> (Program, Wait) {
    let mut bad = p.clone();
    let w = bad.waits[i].remove(k);
    (bad, w)
}

#[test]
fn a_program_whose_waits_race_is_refused_naming_instruction_and_field() {
    let cfg = with(&config("default"), &Overlap::all());
    let net = workloads::network("small-lstm", &cfg, 0.75, 1).unwrap();
    let (machine, program) = compiled(&cfg, &net);
    machine.validate(&program).unwrap();

    // A read before its producer's write: removing a RAW wait races
    // (unless another wait or the unit's order implies it).
    let mut raw_refused = 0;
    for (i, ws) in program.waits.iter().enumerate() {
        for (k, w) in ws.iter().enumerate() {
            if w.hazard != Hazard::Raw || w.previous_frame {
                continue;
            }
            let (bad, w) = without_wait(&program, (i, k));
            if let Err(e) = machine.validate(&bad) {
                let e = e.to_string();
                assert!(
                    e.starts_with(&format!("instruction {i} ({}.", bad.instrs[i].name())),
                    "{e}"
                );
                // The producer named is the awaited one or, when its wait
                // stood for earlier ones of the same unit (waits::reduce),
                // one of those.
                let named: usize = e
                    .split("before instruction ")
                    .nth(1)
                    .and_then(|t| t.split(' ').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("{e}"));
                assert!(
                    named <= w.instr && e.contains("its waits let the read overtake the write"),
                    "{e}"
                );
                let _ = w;
                assert_eq!(e.lines().count(), 1);
                raw_refused += 1;
            }
        }
    }
    // (A wait implied by another one, or by its unit's order, may be dropped
    // safely; most are not.)
    assert!(raw_refused > 10, "{raw_refused} RAW waits guarded anything");

    // The ACT right after the first block's bias add reads what the add writes.
    let act = program
        .instrs
        .iter()
        .position(|i| i.name() == "act")
        .unwrap();
    let k = program.waits[act]
        .iter()
        .position(|w| w.hazard == Hazard::Raw && !w.previous_frame && w.instr == act - 1)
        .unwrap();
    let (bad, _) = without_wait(&program, (act, k));
    let e = machine.validate(&bad).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "instruction {act} (act.src): frame 0: reads element"
        )),
        "{e}"
    );
}

#[test]
fn two_writers_in_flight_and_a_write_before_a_read_are_refused() {
    let cfg = with(&config("default"), &Overlap::all());
    let net = workloads::network("small-lstm", &cfg, 0.75, 1).unwrap();
    let (machine, program) = compiled(&cfg, &net);

    // Two writers of one region: a load and a copy into the same region.
    // Each unit writes only its own part of the vector memory, so the copy
    // is refused before any timing is looked at (two writers in flight can
    // then only come from an issue order that lets a unit's next-frame
    // instruction overtake its own: overlap::schedule's tests).
    let dma = bbs_sim::overlap::regions::WriterRegions::new(&cfg)
        .unwrap()
        .of(bbs_sim::overlap::regions::Writer::DmaIn)
        .unwrap();
    let (r, pre) = (Region::new(0, 8), Region::new(8, 8));
    let racing = Program {
        instrs: vec![
            Instr::Load { dst: r },
            Instr::Ewop {
                func: EwOp::Copy,
                a: pre,
                b: pre,
                dst: r,
            },
            Instr::Store { src: r },
        ],
        preloaded: vec![(pre, vec![0; 8])],
        waits: vec![vec![]; 3],
        ..Program::default()
    };
    let bare = Machine::new(&cfg, vec![]).unwrap();
    let e = bare.validate(&racing).unwrap_err().to_string();
    assert_eq!(dma.base, 0);
    assert!(
        e.starts_with("instruction 1 (ewop.dst): writes 0..8, outside the EWOP lanes' part")
            && e.contains("overlap.regions.ewop")
            && e.contains("each part has one writer"),
        "{e}"
    );

    // Drop every write-after-read wait of one instruction: a write lands
    // before an earlier instruction has read the old value.
    let mut war = 0;
    for i in 0..program.instrs.len() {
        let mut bad = program.clone();
        let before = bad.waits[i].len();
        bad.waits[i].retain(|w| w.hazard != Hazard::War);
        if bad.waits[i].len() == before {
            continue;
        }
        if let Err(e) = machine.validate(&bad) {
            let e = e.to_string();
            assert!(e.starts_with(&format!("instruction {i} (")), "{e}");
            assert!(e.contains("the read would see the new value"), "{e}");
            war += 1;
        }
    }
    assert!(war > 0, "no WAR wait guarded anything");

    // A wait on an instruction that does not come before it.
    let (i, _) = find_wait(&program, Hazard::Raw, true);
    let mut bad = program.clone();
    bad.waits[i].push(Wait {
        instr: i,
        previous_frame: false,
        hazard: Hazard::Raw,
        after: 0,
    });
    let e = machine.validate(&bad).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("instruction {i} ("))
            && e.contains(".wait): waits for instruction")
            && e.contains("which is not issued before it"),
        "{e}"
    );
}

/// The overlapped program without its waits races: the units would start
/// everything at once. The serialized program is refused too: it updates
/// regions in place, written by several units.
#[test]
fn a_program_without_waits_is_refused_by_the_overlapped_machine() {
    let cfg = config("default");
    let net = workloads::network("small-lstm", &cfg, 0.75, 1).unwrap();
    let program = net.program(&cfg).unwrap();
    let overlapped = with(&cfg, &Overlap::all());
    let e = Machine::new(&overlapped, net.matrices())
        .unwrap()
        .validate(&program)
        .unwrap_err()
        .to_string();
    assert!(e.contains("each part has one writer"), "{e}");
    let (machine, mut unwaited) = compiled(&overlapped, &net);
    unwaited.waits = vec![vec![]; unwaited.instrs.len()];
    let e = machine.validate(&unwaited).unwrap_err().to_string();
    assert!(
        e.contains("its waits let the read overtake the write"),
        "{e}"
    );
    // And it is fine on the serialized machine.
    Machine::new(&cfg, net.matrices())
        .unwrap()
        .validate(&program)
        .unwrap();
}

#[test]
fn impossible_switch_combinations_are_refused_naming_the_field() {
    let base = config("default");
    let refused = |overlap: Overlap, matrix: MatrixStorage, field: &str, needle: &str| {
        let mut cfg = with(&base, &overlap);
        cfg.memory.matrix = matrix;
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains(field) && e.contains(needle), "{e}");
        // From a TOML file too: the same one-line error.
        let text = cfg.to_toml();
        let e = Config::from_toml_str(&text, "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{e}");
    };
    let needs_units = "needs overlap.units = true";
    let on = MatrixStorage::Onchip;
    for (field, overlap) in [
        (
            "overlap.vector_buffers",
            Overlap {
                vector_buffers: 2,
                ..Overlap::default()
            },
        ),
        (
            "overlap.chaining",
            Overlap {
                chaining: true,
                ..Overlap::default()
            },
        ),
        (
            "overlap.act_unit",
            Overlap {
                act_unit: true,
                ..Overlap::default()
            },
        ),
        (
            "overlap.input_ahead",
            Overlap {
                input_ahead: true,
                ..Overlap::default()
            },
        ),
    ] {
        refused(overlap, on, field, needs_units);
    }
    refused(
        Overlap {
            units: true,
            vector_buffers: 3,
            ..Overlap::default()
        },
        on,
        "overlap.vector_buffers",
        "3 is not 1 or 2",
    );
    refused(
        Overlap {
            interleaved: true,
            ..Overlap::default()
        },
        on,
        "overlap.interleaved",
        needs_units,
    );
    refused(
        Overlap {
            load_width: 3,
            ..Overlap::interleaved()
        },
        on,
        "overlap.load_width",
        "3 is not 1, 2 or 4",
    );
    refused(
        Overlap {
            load_width: 2,
            ..Overlap::all()
        },
        on,
        "overlap.load_width",
        "needs overlap.interleaved",
    );
    refused(
        Overlap {
            loadable: Some(bbs_sim::RegionWords {
                dma: 64,
                pe: 0,
                act: 0,
                ewop: 0,
            }),
            ..Overlap::interleaved()
        },
        on,
        "overlap.loadable",
        "not with overlap.interleaved",
    );
    refused(
        Overlap::all(),
        MatrixStorage::Dram,
        "overlap.units",
        "keeps its matrices on chip",
    );
    // The issue stage keeps start cycles per instruction word.
    let mut big = with(&base, &Overlap::all());
    big.memory.instruction_words = 4097;
    let e = big.validate().unwrap_err().to_string();
    assert!(
        e.contains("memory.instruction_words") && e.contains("4097 is over 4096"),
        "{e}"
    );
    big.overlap = Overlap::default();
    big.validate().unwrap();
}

/// The program generator drops the waits the issue stage keeps anyway (a
/// unit issues in order): the schedule is the one of every wait found, to
/// the cycle, over six frames, and the wait table stays small (a reader of
/// a vector written in 16 cell blocks had 16 waits and more).
#[test]
fn reduced_waits_keep_the_schedule_and_stay_few() {
    use bbs_sim::overlap::schedule::Scheduler;
    use bbs_sim::overlap::waits::derive_all;
    for (base, workload, sparsity) in cases() {
        for (step, overlap) in steps().into_iter().skip(1) {
            let cfg = with(&base, &overlap);
            let what = format!("{} / {workload} / {step}", base.name);
            let net = workloads::network(workload, &cfg, sparsity, 1).unwrap();
            let Some(cfg) = fitted(&cfg, &net) else {
                continue;
            };
            let (m, p) = compiled(&cfg, &net);
            let acc = m.accesses(&p);
            let all = derive_all(
                &acc,
                cfg.memory.vector_words,
                cfg.overlap.chaining,
                &p.issue,
            );
            let (mut full, mut reduced) = (
                Scheduler::new(
                    acc.clone(),
                    all.clone(),
                    &p.issue,
                    cfg.overlap.vector_buffers,
                ),
                Scheduler::new(acc, p.waits.clone(), &p.issue, cfg.overlap.vector_buffers),
            );
            for f in 0..6 {
                assert_eq!(full.next_frame(), reduced.next_frame(), "{what}: frame {f}");
            }
            let most = p.waits.iter().map(Vec::len).max().unwrap();
            let before = all.iter().map(Vec::len).max().unwrap();
            assert!(
                most <= bbs_sim::overlap::MAX_WAITS,
                "{what}: an instruction has {most} waits (of {before})"
            );
        }
    }
}

/// The issue stage keeps each instruction's start cycles for two frames; a
/// wait that holds an instruction back so long that the instruction it
/// names runs two frames further is refused, naming both.
#[test]
fn a_wait_outliving_two_frames_of_stamps_is_refused() {
    let cfg = with(&config("default"), &Overlap::all());
    let net = workloads::network("small-lstm", &cfg, 0.75, 1).unwrap();
    let (m, mut p) = compiled(&cfg, &net);
    let load = p.instrs.iter().position(|i| i.name() == "load").unwrap();
    let store = p.instrs.iter().rposition(|i| i.name() == "store").unwrap();
    p.waits[store].push(Wait {
        instr: load,
        previous_frame: true,
        hazard: Hazard::War,
        after: 5000,
    });
    let e = m.validate(&p).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("instruction {store} (store.wait): frame "))
            && e.contains(&format!("waits for instruction {load} of frame"))
            && e.contains("keeps two frames of start cycles"),
        "{e}"
    );
}

/// The issue stage checks at most `MAX_WAITS` waits per instruction and
/// counts `after` in 16 bits: a program past either is refused, naming the
/// instruction and field.
#[test]
fn waits_the_issue_stage_cannot_hold_are_refused() {
    let cfg = with(&config("default"), &Overlap::all());
    let net = workloads::network("small-gru", &cfg, 0.75, 1).unwrap();
    let (m, p) = compiled(&cfg, &net);
    let i = p.waits.iter().position(|w| !w.is_empty()).unwrap();
    let mut many = p.clone();
    let w = many.waits[i][0];
    while many.waits[i].len() <= bbs_sim::overlap::MAX_WAITS {
        many.waits[i].push(w);
    }
    let e = m.validate(&many).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("instruction {i} ("))
            && e.contains(".wait): ")
            && e.contains("at most 4 per instruction"),
        "{e}"
    );
    let mut long = p.clone();
    long.waits[i][0].after = 70_000;
    let e = m.validate(&long).unwrap_err().to_string();
    assert!(e.contains(".wait): ") && e.contains("70000"), "{e}");
}

/// `overlap.regions`: the parts add up to `memory.vector_words`, every part
/// but the EWOP one ends on a bank row, an ACT part only with ACT lanes,
/// none empty; without it the default split; a network too large for a
/// part is refused naming the part's field, and `fit_memory` sizes the
/// parts to the program.
#[test]
fn vector_memory_parts_are_checked_naming_the_field() {
    use bbs_sim::overlap::regions::{Writer, WriterRegions};
    use bbs_sim::RegionWords;
    let mut cfg = with(&config("default"), &Overlap::all());
    cfg.memory.vector_words = 4096;
    // Default: 2/16, 5/16, 3/16 of the bank rows, the EWOP lanes the rest.
    let parts = WriterRegions::new(&cfg).unwrap();
    let split: Vec<(Writer, usize, usize)> = parts
        .parts
        .iter()
        .map(|(w, r)| (*w, r.base, r.len))
        .collect();
    assert_eq!(
        split,
        [
            (Writer::DmaIn, 0, 512),
            (Writer::Pe, 512, 1280),
            (Writer::Act, 1792, 768),
            (Writer::Elementwise, 2560, 1536)
        ]
    );
    let bad = |r: RegionWords, act_unit: bool, field: &str, why: &str| {
        let mut c = cfg.clone();
        c.overlap.act_unit = act_unit;
        c.overlap.regions = Some(r);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(field) && e.contains(why), "{e}");
        // The same from TOML.
        let e = Config::from_toml_str(&c.to_toml(), "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(field) && e.contains(why), "{e}");
    };
    let r = |dma, pe, act, ewop| RegionWords { dma, pe, act, ewop };
    bad(
        r(512, 1280, 768, 1024),
        true,
        "overlap.regions",
        "add up to 3584 words, memory.vector_words is 4096",
    );
    bad(
        r(500, 1292, 768, 1536),
        true,
        "overlap.regions.dma",
        "500 is not a multiple of the vector memory's 8 banks",
    );
    bad(
        r(512, 1280, 768, 1536),
        false,
        "overlap.regions.act",
        "overlap.act_unit is off",
    );
    bad(
        r(0, 1792, 768, 1536),
        true,
        "overlap.regions.dma",
        "must be at least 1 word",
    );
    let mut serial = config("default");
    serial.overlap.regions = Some(r(512, 1280, 768, 1536));
    let e = serial.validate().unwrap_err().to_string();
    assert!(
        e.contains("overlap.regions") && e.contains("needs overlap.units"),
        "{e}"
    );
    // The EWOP part may end anywhere; a valid split is used as given.
    let mut ok = cfg.clone();
    ok.overlap.regions = Some(r(64, 1024, 512, 2496));
    assert_eq!(
        WriterRegions::new(&ok)
            .unwrap()
            .of(Writer::Elementwise)
            .unwrap()
            .base,
        1600
    );

    // small-lstm writes 1024 PE results: a PE part of 512 is too small.
    let net = workloads::network("small-lstm", &cfg, 0.75, 1).unwrap();
    let mut small = cfg.clone();
    small.overlap.regions = Some(r(512, 512, 768, 2304));
    let e = net.compile(&small).unwrap_err().to_string();
    assert_eq!(
        e,
        "overlap.regions.pe: the network needs 1024 words of the PE array's part of the vector memory, the configuration gives it 512"
    );
    // fit_memory sizes every part to what the program writes.
    let fitted = bbs_sim::overlap::compile::fit_memory(&net, &small).unwrap();
    let f = fitted.overlap.regions.unwrap();
    assert_eq!((f.dma, f.pe, f.act), (64, 1024, 512));
    assert_eq!(fitted.memory.vector_words, f.dma + f.pe + f.act + f.ewop);
    let (machine, program) = compiled(&fitted, &net);
    machine.validate(&program).unwrap();
}

/// `overlap.loadable`: the vector load reads the first words of each part
/// (each at most its part, on a bank row unless the whole part, an ACT
/// share only with ACT lanes, not all zero); the program generator puts
/// the vectors its SpMxVs load there, the validator refuses a load of any
/// other word naming `src` and the field, a network that loads more is
/// refused naming the field, and `fit_memory` sets it to what the program
/// loads.
#[test]
fn the_vector_load_reads_only_its_words() {
    use bbs_sim::isa::{Instr, Region};
    use bbs_sim::overlap::regions::{Writer, WriterRegions};
    use bbs_sim::RegionWords;
    let mut cfg = with(&config("default"), &Overlap::all());
    cfg.memory.vector_words = 4096;
    let r = |dma, pe, act, ewop| RegionWords { dma, pe, act, ewop };
    let bad = |l: RegionWords, field: &str, why: &str| {
        let mut c = cfg.clone();
        c.overlap.loadable = Some(l);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(field) && e.contains(why), "{e}");
    };
    bad(
        r(520, 0, 0, 64),
        "overlap.loadable.dma",
        "520 is more than the part's 512 words",
    );
    bad(
        r(64, 12, 0, 64),
        "overlap.loadable.pe",
        "12 is not a multiple of the vector memory's 8 banks",
    );
    bad(r(0, 0, 0, 0), "overlap.loadable", "no word");
    let mut no_act = cfg.clone();
    no_act.overlap.act_unit = false;
    no_act.overlap.loadable = Some(r(64, 0, 8, 64));
    let e = no_act.validate().unwrap_err().to_string();
    assert!(e.contains("overlap.loadable.act"), "{e}");

    // Each part in two where it is split, in address order.
    let mut split = cfg.clone();
    split.overlap.loadable = Some(r(512, 0, 0, 128));
    let banked: Vec<(Writer, usize, usize, bool)> = WriterRegions::new(&split)
        .unwrap()
        .banked()
        .iter()
        .map(|p| (p.writer, p.region.base, p.region.len, p.loads))
        .collect();
    assert_eq!(
        banked,
        [
            (Writer::DmaIn, 0, 512, true),
            (Writer::Pe, 512, 1280, false),
            (Writer::Act, 1792, 768, false),
            (Writer::Elementwise, 2560, 128, true),
            (Writer::Elementwise, 2688, 1408, false),
        ]
    );

    // small-lstm loads its input (DMA) and h (EWOP): there, first.
    let net = workloads::network("small-lstm", &cfg, 0.75, 1).unwrap();
    let (machine, program) = compiled(&split, &net);
    machine.validate(&program).unwrap();
    let loads: Vec<Region> = program
        .instrs
        .iter()
        .filter_map(|i| match i {
            Instr::Spmv { src, .. } => Some(*src),
            _ => None,
        })
        .collect();
    assert!(
        loads
            .iter()
            .all(|s| s.end() <= 512 || (2560..2688).contains(&s.base)),
        "{loads:?}"
    );
    // The same SpMxV loading a word with no load port is refused.
    let i = program
        .instrs
        .iter()
        .position(|i| matches!(i, Instr::Spmv { src, .. } if src.base >= 2560))
        .unwrap();
    let mut moved = program.clone();
    if let Instr::Spmv { src, .. } = &mut moved.instrs[i] {
        // A region the program wrote before (the EWOP part's rest).
        *src = Region::new(2688, src.len);
    }
    let e = machine.validate(&moved).unwrap_err().to_string();
    assert!(
        e.contains(".src): ")
            && e.contains("past the words of the EWOP lanes' part the vector load reads (2560..2688, overlap.loadable.ewop)"),
        "{e}"
    );
    // Fewer loadable words than the program loads: refused at compile.
    let mut tight = cfg.clone();
    tight.overlap.loadable = Some(r(512, 0, 0, 64));
    let e = net.compile(&tight).unwrap_err().to_string();
    assert_eq!(
        e,
        "overlap.loadable.ewop: the network's SpMxVs load 128 words of the EWOP lanes' part of the vector memory, the configuration lets the vector load read 64"
    );
    // fit_memory: just what the program loads, in bank rows.
    let fitted = bbs_sim::overlap::compile::fit_memory(&net, &cfg).unwrap();
    assert_eq!(fitted.overlap.regions, None);
    assert_eq!(fitted.overlap.loadable, Some(r(64, 0, 0, 128)));
    let (machine, program) = compiled(&fitted, &net);
    machine.validate(&program).unwrap();
}

/// A small float network with a dense layer first (its 42 inputs are not a
/// multiple of default's 8 banks: the host pads the interleaved input), an
/// LSTM, a GRU and a dense output layer of 10 (sent to the host in order).
fn mixed_network(cfg: &Config) -> Network {
    use bbs_sim::workloads::{network_from_float, FloatKind, FloatLayer};
    let mut seed = 0x2545_f491_u64;
    let mut m = |rows: usize, cols: usize| {
        ndarray::Array2::from_shape_fn((rows, cols), |_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 0.8
        })
    };
    let v = |n: usize, k: f32| {
        (0..n)
            .map(|i| ((i as f32) * 0.37).sin() * k)
            .collect::<Vec<f32>>()
    };
    let layers = vec![
        FloatLayer::dense(m(64, 42), v(64, 0.2), Some(bbs_sim::act::ActFn::Tanh)),
        FloatLayer {
            kind: FloatKind::Lstm,
            w_ih: m(128, 64),
            w_hh: m(128, 32),
            b_ih: v(128, 0.1),
            b_hh: v(128, 0.05),
            w_hr: None,
        },
        FloatLayer {
            kind: FloatKind::Gru,
            w_ih: m(48, 32),
            w_hh: m(48, 16),
            b_ih: v(48, 0.1),
            b_hh: v(48, -0.1),
            w_hr: None,
        },
        FloatLayer::dense(m(10, 16), v(10, 0.3), None),
    ];
    network_from_float("mixed", cfg, 0.5, &layers).unwrap()
}

/// Bank-interleaved vectors only move elements: every layer kind gives the
/// values of the serialized program and of the overlapped machine without
/// them, in element order at the host, in fewer or as many cycles.
#[test]
fn interleaved_vectors_keep_every_value_of_every_layer_kind() {
    let base = config("default");
    let mut runs = Vec::new();
    for overlap in [
        Overlap::default(),
        Overlap::all(),
        Overlap {
            load_width: 1,
            ..Overlap::interleaved()
        },
        Overlap::interleaved(),
        Overlap {
            load_width: 4,
            ..Overlap::interleaved()
        },
    ] {
        let cfg = with(&base, &overlap);
        let net = mixed_network(&cfg);
        let cfg = fitted(&cfg, &net).unwrap();
        let frames = workloads::frames(&cfg, net.input(), 4, 3);
        let run = run_sequence(&cfg, &net, &frames).unwrap();
        assert_eq!(
            run.outputs,
            reference_sequence(&cfg, &net, &frames),
            "{overlap:?}"
        );
        assert_eq!(run.outputs[0].len(), 10);
        let (machine, program) = compiled(&cfg, &net);
        machine.validate(&program).unwrap();
        if overlap.interleaved {
            // The host pads the 42 inputs to 6 bank rows (8 banks of 6);
            // the output layer goes to the host in row order.
            let il = program.host.load.expect("interleaved input");
            assert_eq!((il.len, il.words()), (42, 48));
            assert_eq!(program.host.store, None);
            let load = program
                .instrs
                .iter()
                .find_map(|i| match i {
                    Instr::Load { dst } => Some(*dst),
                    _ => None,
                })
                .unwrap();
            assert_eq!(load.len, 48);
        } else {
            assert_eq!(program.host, bbs_sim::arch::HostLayout::default());
        }
        let steady = *machine.frame_cycles(&program, 8).last().unwrap();
        runs.push((overlap.interleaved, overlap.load_width, steady));
    }
    // Overlapped, interleaved with loads 1, 2 and 4 wide: never slower.
    let steady: Vec<u64> = runs[1..].iter().map(|r| r.2).collect();
    assert!(steady.windows(2).all(|w| w[1] <= w[0]), "{runs:?}");
}

/// With bank-interleaved vectors, an input whose length is not a multiple
/// of the banks is padded by the host (and its SpMxV reads the padded run),
/// while a vector the machine writes must fill whole bank rows.
#[test]
fn interleaved_hosts_pad_and_produced_vectors_fill_bank_rows() {
    let mut cfg = with(&config("default"), &Overlap::interleaved());
    cfg.banks = 6;
    cfg.max_cols = cfg.max_cols.max(64);
    let net = workloads::network("small-lstm", &cfg, 0.75, 1).unwrap();
    let e = net.compile(&cfg).unwrap_err().to_string();
    assert!(
        e.contains("layer 0") && e.contains("(128) is not a multiple of banks (6)"),
        "{e}"
    );
    // The interleaved words of a 153-element input on 32 banks: 160, the
    // 7 padding words zero, every element once.
    let il = bbs_sim::arch::Interleave::new(153, 32);
    let v: Vec<i64> = (1..=153).collect();
    let w = il.to_words(&v);
    assert_eq!(w.len(), 160);
    assert_eq!(w.iter().filter(|&&x| x == 0).count(), 7);
    assert_eq!(il.from_words(&w), v);
}

/// The interleaved vector load starts on a vector while its producer still
/// writes it: tempting to start it earlier still. Without its RAW wait on
/// the producer (the ESE projection's load on the last cell block's `h =
/// o * tanh(c)`), the validator refuses the program, naming the load.
#[test]
fn a_chained_interleaved_load_without_its_wait_is_refused() {
    let mut base = config("ese-a10");
    base.banks = 32;
    base.max_slots = base.max_slots.min(base.bank_depth());
    let cfg = with(&base, &Overlap::interleaved());
    let net = workloads::network("ese-lstm", &cfg, 0.875, 1).unwrap();
    let cfg = fitted(&cfg, &net).unwrap();
    let (machine, program) = compiled(&cfg, &net);
    machine.validate(&program).unwrap();
    // The projection: the last spmv of the frame.
    let proj = program
        .instrs
        .iter()
        .rposition(|i| matches!(i, Instr::Spmv { .. }))
        .unwrap();
    let k = program.waits[proj]
        .iter()
        .position(|w| w.hazard == Hazard::Raw && !w.previous_frame)
        .expect("the projection's load waits for its input");
    let (bad, w) = without_wait(&program, (proj, k));
    assert!(matches!(
        program.instrs[w.instr],
        Instr::Ewop {
            func: EwOp::Mul,
            ..
        }
    ));
    let e = machine.validate(&bad).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "instruction {proj} (spmv.src): frame 0: reads element"
        )) && e.contains("its waits let the read overtake the write"),
        "{e}"
    );
}
