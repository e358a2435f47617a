//! The simulator's whole-program trace against the RTL's waveform. On two
//! reference configurations (`tiny`: 1 PE x 2, `odd`: 3 PEs x 6) the
//! generated design is built with `verilator --trace` and runs, with `+vcd`,
//! three programs: SpMxV on a real pruned matrix (silero-vad's LSTM
//! `weight_hh`, 75%) as `load x; spmv; store y`, and two frames each of
//! `small-lstm` and `small-gru` (state carried). For each run:
//!
//! (`small-gru` on `odd` writes its matrices through the run-time load port,
//! which delays the first start.)
//!
//! - the start edge of every frame is found in Verilator's `dump.vcd` (the
//!   edges where the testbench writes 1 to CTRL: `tb_bbs.reg_we`, `reg_addr`,
//!   `reg_wdata`) and must be where `bbs_sim::trace::program_trace` puts it,
//!   and the first edge after it that sees `u_seq.done_o` must be the frame's
//!   cycles later;
//! - every signal of the trace (`u_seq`, `u_ctrl`, `u_pe0`) must have the
//!   dump's width and value at every rising edge of every frame (aligned on
//!   the frame's start edge), and at every edge before the first frame and
//!   between frames;
//! - the trace's own VCD, read back the same way, gives the same samples at
//!   the same times;
//! - a trace with one signal delayed by a cycle is caught.
//!
//! Under `CI=true` a missing Verilator fails the test; elsewhere it is skipped
//! with a message.

use bbs::flow;
use bbs_compress::{prune_bbs, read_matrix, Csb};
use bbs_hdlgen::memfiles::spmv_program;
use bbs_hdlgen::program::MatrixLoad;
use bbs_sim::machine::Program;
use bbs_sim::trace::{self, ProgramTrace, VcdSamples, SEQ_SCOPE};
use bbs_sim::{workloads, Config};
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Instant;

const SILERO: &str = "data/silero-vad/silero_vad_16k.safetensors";
const FRAMES: usize = 2;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Case {
    name: String,
    matrices: Vec<Csb>,
    program: Program,
    inputs: Vec<Vec<i64>>,
    runs: usize,
}

/// SpMxV on silero-vad's `lstm_cell.weight_hh` (512 x 128, 75%), then
/// `FRAMES` frames of small-lstm and small-gru.
fn cases(cfg: &Config) -> Vec<Case> {
    let w = read_matrix(&root().join(SILERO), Some("lstm_cell.weight_hh")).unwrap();
    let pruned = prune_bbs(&w.view(), cfg.banks, 0.75).unwrap();
    let (csb, _) = Csb::from_pruned(&pruned, cfg.format());
    let x: Vec<f32> = (0..csb.cols)
        .map(|j| (0.9 * (0.37 * j as f64 + 0.1).sin()) as f32)
        .collect();
    let v = bbs_compress::Vector::Float(ndarray::Array1::from(x));
    let mut out = vec![Case {
        name: "spmv".into(),
        program: spmv_program(cfg, &csb),
        matrices: vec![csb],
        inputs: vec![flow::fixed_vector(&v, cfg).0],
        runs: 1,
    }];
    for name in ["small-lstm", "small-gru"] {
        let net = workloads::network(name, cfg, 0.75, 11).unwrap();
        out.push(Case {
            name: format!("{name} x{FRAMES}"),
            program: net.program(cfg).unwrap(),
            matrices: net.matrices(),
            inputs: workloads::frames(cfg, net.input(), FRAMES, 5),
            runs: FRAMES,
        });
    }
    out
}

/// The trace's signals, then the testbench's register-write port.
fn sample(bytes: impl std::io::BufRead, t: &ProgramTrace) -> VcdSamples {
    let mut paths: Vec<Vec<&str>> = t.signals.iter().map(|s| s.path()).collect();
    for name in ["reg_we", "reg_addr", "reg_wdata"] {
        paths.push(vec!["tb_bbs", name]);
    }
    trace::sample_vcd(bytes, trace::CLOCK, &paths).unwrap()
}

/// Compare the samples with the trace on `edges` of the trace, the samples
/// taken `shift` edges later (the dump's start edge minus the trace's);
/// returns how many signal-cycles were compared and the mismatches, at most a
/// few per signal.
fn compare(
    t: &ProgramTrace,
    s: &VcdSamples,
    edges: std::ops::RangeInclusive<usize>,
    shift: isize,
    what: &str,
) -> (usize, Vec<String>) {
    let mut out = Vec::new();
    for (i, sig) in t.signals.iter().enumerate() {
        assert_eq!(s.paths[i], sig.dotted());
        if s.widths[i] != sig.width {
            out.push(format!(
                "{what}: {} is {} bits, the trace has {}",
                sig.dotted(),
                s.widths[i],
                sig.width
            ));
        }
        let bad: Vec<String> = edges
            .clone()
            .filter(|&e| {
                let k = e.checked_add_signed(shift);
                k.and_then(|k| s.values[i].get(k).copied().flatten()) != Some(sig.values[e])
            })
            .take(3)
            .map(|e| {
                format!(
                    "{what}: {} at edge {e}: {:?}, the trace has {}",
                    sig.dotted(),
                    e.checked_add_signed(shift)
                        .and_then(|k| s.values[i].get(k).copied().flatten()),
                    sig.values[e]
                )
            })
            .collect();
        out.extend(bad);
    }
    (edges.count() * t.signals.len(), out)
}

/// Edges at which the testbench's write of 1 to CTRL (the start) is sampled.
fn start_edges(s: &VcdSamples) -> Vec<usize> {
    let col = |name: &str| &s.values[s.index(&format!("tb_bbs.{name}")).unwrap()];
    let (we, addr, wdata) = (col("reg_we"), col("reg_addr"), col("reg_wdata"));
    (0..s.edge_times.len())
        .filter(|&k| we[k] == Some(1) && addr[k] == Some(0) && wdata[k].is_some_and(|v| v & 1 == 1))
        .collect()
}

#[test]
fn program_trace_matches_verilator_waveform() {
    if !bbs_hdlgen::verilator::available_for_test("the VCD comparison") {
        return;
    }
    let began = Instant::now();
    let work = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut total = 0usize;
    let mut cases_run = 0;
    for name in ["tiny", "odd"] {
        let cfg = Config::from_file(&root().join(format!("hw/configs/{name}.toml"))).unwrap();
        let dir = work.path().join(name);
        let t0 = Instant::now();
        let build =
            flow::build_rtl_with(&cfg, &dir, true).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        println!("{name}: traced build {:.1} s", t0.elapsed().as_secs_f64());
        for (i, c) in cases(&cfg).iter().enumerate() {
            let t0 = Instant::now();
            // One program writes its matrices through the load port, which
            // moves the first start later.
            let load = if name == "odd" && i == 2 {
                MatrixLoad::Port
            } else {
                MatrixLoad::Init
            };
            let what = format!("{name} / {} ({load:?})", c.name);
            let run_dir = dir.join(format!("run{i}"));
            let (sim, v) = flow::cosimulate_program(
                &cfg,
                &build,
                &c.matrices,
                &c.program,
                &c.inputs,
                c.runs,
                load,
                &run_dir,
                &["vcd"],
            )
            .unwrap_or_else(|e| panic!("{what}: {e:#}"));
            assert!(v.bit_exact && v.sim_cycles == v.rtl_cycles, "{what}: {v:?}");
            let t = trace::program_trace(
                &cfg,
                &c.matrices,
                &c.program,
                &sim.reports,
                trace::tb_first_start_edge(
                    &cfg,
                    (load == MatrixLoad::Port)
                        .then(|| bbs_sim::arch::placement::total_words(&cfg, &c.matrices)),
                ),
            )
            .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(t.runs.len(), c.runs);

            let dump = std::fs::File::open(run_dir.join("dump.vcd")).unwrap();
            let rtl = sample(BufReader::new(dump), &t);
            assert_eq!(
                rtl.timescale,
                Some((1, trace::TimescaleUnit::NS)),
                "{what}: timescale"
            );
            // Every frame's start edge, found in the dump, is the trace's.
            let starts = start_edges(&rtl);
            let want: Vec<usize> = t.runs.iter().map(|r| r.start_edge as usize).collect();
            assert_eq!(starts, want, "{what}: start edges");
            let done = rtl.index("tb_bbs.dut.u_seq.done_o").unwrap();
            let mut compared = 0;
            let mut prev_end = 0;
            for (r, (span, &start)) in t.runs.iter().zip(&starts).enumerate() {
                assert_eq!(
                    rtl.edge_times[start],
                    trace::edge_time_ns(span.start_edge),
                    "{what}: time of run {r}'s start"
                );
                let end = (start + 1..rtl.edge_times.len())
                    .find(|&k| rtl.values[done][k] == Some(1))
                    .unwrap_or_else(|| panic!("{what}: run {r}: done_o never seen"));
                assert_eq!(
                    (end - start) as u64,
                    span.cycles,
                    "{what}: run {r}: start to done"
                );
                // The run, aligned on its start edge in the dump.
                let s0 = span.start_edge as usize;
                let shift = start as isize - s0 as isize;
                let (n, bad) = compare(
                    &t,
                    &rtl,
                    s0..=span.done_edge() as usize,
                    shift,
                    &format!("{what} run {r}"),
                );
                compared += n;
                failures.extend(bad);
                // Reset and idle before the first run; DONE between runs.
                if s0 > prev_end + 1 {
                    let (n, bad) = compare(
                        &t,
                        &rtl,
                        prev_end + usize::from(r > 0)..=s0 - 1,
                        0,
                        &format!("{what} before run {r}"),
                    );
                    compared += n;
                    failures.extend(bad);
                }
                prev_end = span.done_edge() as usize;
            }
            assert_eq!(compared, t.edge_count() * t.signals.len(), "{what}");

            // The comparison does see a difference: the sequencer's offset
            // one cycle late.
            let mut late = t.clone();
            let off = late
                .signals
                .iter_mut()
                .find(|s| s.scope == SEQ_SCOPE && s.name == "off_q")
                .unwrap();
            off.values.rotate_right(1);
            let (_, bad) = compare(&late, &rtl, 0..=t.edge_count() - 1, 0, "late");
            assert!(!bad.is_empty(), "{what}: a late off_q went unnoticed");

            // The trace's VCD, read back the same way, lines up with the RTL's.
            let mut ours = Vec::new();
            trace::write_vcd(&t, &mut ours).unwrap();
            let paths: Vec<Vec<&str>> = t.signals.iter().map(|s| s.path()).collect();
            let mine = trace::sample_vcd(&ours[..], trace::CLOCK, &paths).unwrap();
            assert_eq!(mine.timescale, rtl.timescale);
            assert_eq!(
                mine.edge_times[..],
                rtl.edge_times[..t.edge_count()],
                "{what}: edge times"
            );
            let (_, bad) = compare(
                &t,
                &mine,
                0..=t.edge_count() - 1,
                0,
                &format!("{what} trace VCD"),
            );
            failures.extend(bad);

            println!(
                "{what}: {} run(s), {} edges x {} signals = {compared} signal-cycles compared with Verilator's VCD ({:.1} s)",
                t.runs.len(),
                t.edge_count(),
                t.signals.len(),
                t0.elapsed().as_secs_f64()
            );
            total += compared;
            cases_run += 1;
        }
        // The build directory is large; the next configuration does not need it.
        let _ = std::fs::remove_dir_all(dir.join("obj_dir"));
    }
    assert!(
        failures.is_empty(),
        "trace mismatches:\n{}",
        failures.join("\n")
    );
    assert_eq!(cases_run, 6);
    println!(
        "{total} signal-cycles identical in {cases_run} programs ({:.1} s)",
        began.elapsed().as_secs_f64()
    );
}

/// The overlapped machine's issue stage against Verilator's waveform: on
/// `default` with every overlap technique, three frames each of small-lstm
/// and small-gru (their own programs, frames overlapping), every unit's
/// `advance` and `head_valid` (`tb_bbs.dut`) at every edge from the first
/// in reset to the edge that sees the last frame done; the start edge is where
/// `tb_first_start_edge` puts it; the trace's own VCD reads back the same;
/// a start one cycle late is caught.
#[test]
fn issue_trace_matches_verilator_waveform() {
    if !bbs_hdlgen::verilator::available_for_test("the overlapped VCD comparison") {
        return;
    }
    let mut cfg = Config {
        name: "default-ov".into(),
        overlap: bbs_sim::Overlap::all(),
        ..Config::default()
    };
    cfg.memory.instruction_words = 128;
    cfg.memory.vector_words = 4096;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("default-ov");
    let build = flow::build_rtl_with(&cfg, &dir, true).unwrap_or_else(|e| panic!("{e:#}"));
    let mut failures = Vec::new();
    for (i, name) in ["small-lstm", "small-gru"].into_iter().enumerate() {
        let net = workloads::network(name, &cfg, 0.75, 11).unwrap();
        let compiled = net.compile(&cfg).unwrap();
        let inputs = workloads::frames(&cfg, net.input(), 3, 5);
        let run_dir = dir.join(format!("run{i}"));
        let (_, v) = flow::cosimulate_program(
            &cfg,
            &build,
            &compiled.matrices,
            &compiled.program,
            &inputs,
            3,
            MatrixLoad::Init,
            &run_dir,
            &["vcd"],
        )
        .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert!(v.bit_exact && v.sim_cycles == v.rtl_cycles, "{name}: {v:?}");
        let t = trace::issue_trace(
            &cfg,
            &compiled.matrices,
            &compiled.program,
            3,
            trace::tb_first_start_edge(&cfg, None),
        )
        .unwrap();
        assert_eq!(t.cycles, v.sim_cycles, "{name}");
        let mut paths: Vec<Vec<&str>> = t.signals.iter().map(|s| s.path()).collect();
        for n in ["reg_we", "reg_addr", "reg_wdata"] {
            paths.push(vec!["tb_bbs", n]);
        }
        let dump = std::fs::File::open(run_dir.join("dump.vcd")).unwrap();
        let rtl = trace::sample_vcd(BufReader::new(dump), trace::CLOCK, &paths).unwrap();
        assert_eq!(
            start_edges(&rtl),
            [t.start_edge as usize],
            "{name}: start edge"
        );
        let edges = t.edge_count();
        let compare = |values: &dyn Fn(usize, usize) -> Option<u64>, what: &str| -> Vec<String> {
            let mut bad = Vec::new();
            for (k, s) in t.signals.iter().enumerate() {
                // Edge 0 samples the registers before the reset acts
                // (Verilator's zeros; the trace gives the reset state).
                bad.extend(
                    (1..edges)
                        .filter(|&e| values(k, e) != Some(s.values[e]))
                        .take(3)
                        .map(|e| {
                            format!(
                                "{name} {what}: {} at edge {e}: {:?}, the trace has {:#b}",
                                s.dotted(),
                                values(k, e),
                                s.values[e]
                            )
                        }),
                );
            }
            bad
        };
        let from_rtl = |k: usize, e: usize| rtl.values[k].get(e).copied().flatten();
        failures.extend(compare(&from_rtl, "RTL"));
        assert!(
            t.dispatches.len() > 3 * compiled.program.instrs.len(),
            "{name}"
        );
        // Our own VCD reads back the same.
        let mut ours = Vec::new();
        trace::write_vcd(&t, &mut ours).unwrap();
        let own: Vec<Vec<&str>> = t.signals.iter().map(|s| s.path()).collect();
        let mine = trace::sample_vcd(&ours[..], trace::CLOCK, &own).unwrap();
        let from_mine = |k: usize, e: usize| mine.values[k].get(e).copied().flatten();
        failures.extend(compare(&from_mine, "trace VCD"));
        // A unit starting one cycle late is seen.
        let mut late = t.clone();
        late.signals[0].values.rotate_right(1);
        let late_seen = (1..edges).any(|e| from_rtl(0, e) != Some(late.signals[0].values[e]));
        assert!(late_seen, "{name}: a late advance went unnoticed");
        println!(
            "{name}: {} starts, {edges} edges x {} signals compared with Verilator's VCD",
            t.dispatches.len(),
            t.signals.len()
        );
    }
    assert!(
        failures.is_empty(),
        "issue-stage mismatches:\n{}",
        failures.join("\n")
    );
}
