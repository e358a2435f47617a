//! The simulator's trace against the RTL's waveform: for two reference
//! configurations and a real pruned matrix (silero-vad's LSTM `weight_hh`),
//! the generated design is built with `verilator --trace`, run with `+vcd`, and
//! every control signal of `bbs_sim::trace::spmv_trace` is compared with
//! Verilator's `dump.vcd` at every rising clock edge from the one that samples
//! `start_i` to the one that first sees `done_o`. The trace's own VCD is read
//! back the same way and must give the same samples at the same times.
//!
//! Under `CI=true` a missing Verilator fails the test; elsewhere it is skipped
//! with a message.

use bbs::flow;
use bbs_compress::{prune_bbs, read_matrix, Csb};
use bbs_hdlgen::{memfiles, verilator};
use bbs_sim::trace::{self, SpmvTrace, VcdSamples};
use bbs_sim::Config;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Instant;

const SILERO: &str = "data/silero-vad/silero_vad_16k.safetensors";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn verilator_or_skip() -> bool {
    match verilator::version() {
        Some(v) => {
            eprintln!("using {v}");
            true
        }
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true and Verilator is not installed: the VCD comparison must run in CI")
        }
        None => {
            eprintln!(
                "SKIPPED: Verilator is not installed; run the README's test command to install it"
            );
            false
        }
    }
}

/// silero-vad's `lstm_cell.weight_hh` (512 x 128) pruned to 75% for `cfg`, and
/// a fixed input vector.
fn matrix_for(cfg: &Config) -> (Csb, Vec<i64>) {
    let w = read_matrix(&root().join(SILERO), Some("lstm_cell.weight_hh")).unwrap();
    let pruned = prune_bbs(&w.view(), cfg.banks, 0.75).unwrap();
    let (csb, _) = Csb::from_pruned(&pruned, cfg.format());
    cfg.check_matrix(&csb).unwrap();
    let x: Vec<f32> = (0..csb.cols)
        .map(|j| (0.9 * (0.37 * j as f64 + 0.1).sin()) as f32)
        .collect();
    let v = bbs_compress::Vector::Float(ndarray::Array1::from(x));
    (csb, flow::fixed_vector(&v, cfg).0)
}

/// The trace's signals, then the controller's `start_i`.
fn sample(bytes: impl std::io::BufRead, t: &SpmvTrace) -> VcdSamples {
    let mut paths: Vec<Vec<&str>> = t.signals.iter().map(|s| s.path()).collect();
    paths.push([trace::CTRL_SCOPE, &["start_i"]].concat());
    trace::sample_vcd(bytes, trace::CLOCK, &paths).unwrap()
}

/// Compare the samples from edge `start` on with the trace; returns the
/// mismatches, at most a few per signal.
fn mismatches(t: &SpmvTrace, s: &VcdSamples, start: usize, what: &str) -> Vec<String> {
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
        let bad: Vec<String> = (0..t.cycle_count())
            .filter(|&c| s.values[i].get(start + c).copied().flatten() != Some(sig.values[c]))
            .take(3)
            .map(|c| {
                format!(
                    "{what}: {} at cycle {c}: {:?}, the trace has {}",
                    sig.dotted(),
                    s.values[i].get(start + c),
                    sig.values[c]
                )
            })
            .collect();
        out.extend(bad);
    }
    out
}

#[test]
fn simulator_trace_matches_verilator_waveform() {
    if !verilator_or_skip() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut compared = 0;
    for name in ["tiny", "odd"] {
        let began = Instant::now();
        let cfg = Config::from_file(&root().join(format!("hw/configs/{name}.toml"))).unwrap();
        let (csb, x) = matrix_for(&cfg);
        let t = trace::spmv_trace(&cfg, &csb).unwrap();
        assert_eq!(
            t.cycles,
            bbs_sim::simulate_spmv(&cfg, &csb, &x)
                .unwrap()
                .report
                .cycles
        );

        let dir = work.path().join(name);
        let design = bbs_hdlgen::generate(&cfg).unwrap();
        bbs_hdlgen::write_design(&design, &dir).unwrap();
        let binary = verilator::build_with(&design, &dir, &dir.join("obj_dir"), true)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let run_dir = dir.join("run");
        std::fs::create_dir_all(&run_dir).unwrap();
        memfiles::write_run_files(&cfg, &csb, &x, &run_dir).unwrap();
        let rtl = verilator::run_with(&binary, &run_dir, &["vcd"])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rtl.cycles, t.cycles.total, "{name}: cycles");

        let dump = std::fs::File::open(run_dir.join("dump.vcd")).unwrap();
        let rtl_samples = sample(BufReader::new(dump), &t);
        // The edge that samples start_i, and the first after it that sees done_o.
        let start_i = rtl_samples.index("tb_bbs.dut.u_ctrl.start_i").unwrap();
        let start = rtl_samples.values[start_i]
            .iter()
            .position(|&v| v == Some(1))
            .unwrap_or_else(|| panic!("{name}: start_i never sampled high"));
        let done = rtl_samples.index("tb_bbs.dut.u_ctrl.done_o").unwrap();
        let end = (start..rtl_samples.edge_times.len())
            .find(|&k| rtl_samples.values[done][k] == Some(1))
            .unwrap_or_else(|| panic!("{name}: done_o never sampled high"));
        assert_eq!(
            end - start,
            t.cycles.total as usize,
            "{name}: start to done"
        );
        assert_eq!(
            start as u64, t.start_edge,
            "{name}: the testbench's start edge"
        );
        assert_eq!(
            rtl_samples.timescale,
            Some((1, trace::TimescaleUnit::NS)),
            "{name}: timescale"
        );
        assert_eq!(
            rtl_samples.edge_times[start],
            trace::edge_time_ns(t.start_edge),
            "{name}: time of the start edge"
        );
        failures.extend(mismatches(&t, &rtl_samples, start, &format!("{name} RTL")));
        // The comparison does see a difference: PE 0's write one cycle late.
        let mut late = t.clone();
        let wr = late
            .signals
            .iter_mut()
            .find(|s| s.name == "wr_en_q")
            .unwrap();
        wr.values.rotate_right(1);
        assert!(!mismatches(&late, &rtl_samples, start, "late").is_empty());

        // The trace's VCD, read back the same way, lines up with the RTL's.
        let mut ours = Vec::new();
        trace::write_vcd(&t, &mut ours).unwrap();
        // (It has no start_i: the trace starts from the edge that samples it.)
        let paths: Vec<Vec<&str>> = t.signals.iter().map(|s| s.path()).collect();
        let our_samples = trace::sample_vcd(&ours[..], trace::CLOCK, &paths).unwrap();
        assert_eq!(our_samples.timescale, rtl_samples.timescale);
        assert_eq!(
            our_samples.edge_times[..],
            rtl_samples.edge_times[..=end],
            "{name}: edge times"
        );
        failures.extend(mismatches(
            &t,
            &our_samples,
            start,
            &format!("{name} trace VCD"),
        ));

        compared += t.cycle_count() * t.signals.len();
        println!(
            "{name}: {} x {} matrix, {} cycles x {} signals compared with Verilator's VCD ({:.1} s)",
            csb.rows,
            csb.cols,
            t.cycle_count(),
            t.signals.len(),
            began.elapsed().as_secs_f64()
        );
    }
    assert!(
        failures.is_empty(),
        "trace mismatches:\n{}",
        failures.join("\n")
    );
    println!("{compared} signal-cycles identical");
}
