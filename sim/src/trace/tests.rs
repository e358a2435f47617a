//! The trace against the simulator's timelines and its own rules.

use super::*;
use crate::arch::{timing, CtrlState, SeqState};
use crate::config::MatrixStorage;
use crate::isa::{EwOp, Instr, Region};
use crate::machine::{Machine, Program, RunReport};
use crate::spmv::CycleBreakdown;
use bbs_compress::{Csb, QFormat};
use std::collections::VecDeque;

fn matrix(rows: usize, banks: usize, bank_size: usize, slots: usize) -> Csb {
    Csb {
        rows,
        cols: banks * bank_size,
        banks,
        bank_size,
        slots,
        format: QFormat { width: 8, frac: 5 },
        values: vec![1; rows * slots * banks],
        indices: (0..rows * slots * banks)
            .map(|i| (i % bank_size) as u16)
            .collect(),
    }
}

fn cfg(pes: usize) -> Config {
    Config {
        name: "t".into(),
        pes,
        banks: 2,
        value_width: 8,
        frac_bits: 5,
        acc_width: 17,
        max_rows: 16,
        max_cols: 16,
        max_slots: 4,
        ..Config::default()
    }
}

#[test]
fn follows_the_timeline() {
    // 5 rows on 2 PEs: 3 local rows, PE 0 has all of them.
    let cfg = cfg(2);
    let csb = matrix(5, 2, 3, 2);
    let t = spmv_trace(&cfg, &csb).unwrap();
    let drain = timing::drain(&cfg);
    assert_eq!(t.cycles, CycleBreakdown::new(1, 3, 6, drain));
    assert_eq!(t.cycle_count(), 11 + drain as usize);
    let state = &t.signal("state_q").unwrap().values;
    let mut want = vec![0, 1, 1, 1, 2, 2, 2, 2, 2, 2];
    want.extend(vec![3; drain as usize]);
    want.push(4);
    assert_eq!(state, &want);
    assert_eq!(t.signal("done_o").unwrap().values.iter().sum::<u64>(), 1);
    assert_eq!(t.signal("vec_we_q").unwrap().values[2..5], [1, 1, 1]);
    assert_eq!(t.signal("vec_waddr_q").unwrap().values[2..5], [0, 1, 2]);
    assert_eq!(
        t.signal("mat_addr_q").unwrap().values[4..10],
        [0, 1, 2, 3, 4, 5]
    );
    assert_eq!(
        t.signal("slot_q").unwrap().values[4..10],
        [0, 1, 0, 1, 0, 1]
    );
    assert_eq!(
        t.signal("last_o").unwrap().values[4..10],
        [0, 1, 0, 1, 0, 1]
    );
    // PE 0 writes its three rows (0, 2, 4) `drain` cycles after each row's
    // last word: the last one in the cycle before done.
    let wr = &t.signal("wr_en_q").unwrap().values;
    let wr_row = &t.signal("wr_row_q").unwrap().values;
    let writes: Vec<(usize, u64)> = (0..t.cycle_count())
        .filter(|&c| wr[c] == 1)
        .map(|c| (c, wr_row[c]))
        .collect();
    let d = drain as usize;
    assert_eq!(writes, [(5 + d, 0), (7 + d, 1), (9 + d, 2)]);
    assert_eq!(9 + d, t.cycles.total as usize - 1);
}

#[test]
fn pe0_writes_each_of_its_rows_once() {
    // On 3 PEs, PE 0 holds rows 0, 3, ...: one row of 2, two rows of 4.
    for (rows, writes) in [(2, 1), (4, 2), (6, 2), (7, 3)] {
        let t = spmv_trace(&cfg(3), &matrix(rows, 2, 2, 1)).unwrap();
        let wr = &t.signal("wr_en_q").unwrap().values;
        assert_eq!(wr.iter().sum::<u64>(), writes, "{rows} rows");
        // After the last local row, row_base is past the matrix.
        let row_ok = &t.signal("row_ok_i").unwrap().values;
        assert_eq!(row_ok[t.cycles.total as usize], 0, "{rows} rows");
    }
}

#[test]
fn spmv_vcd_round_trips_and_is_deterministic() {
    let t = spmv_trace(&cfg(2), &matrix(5, 2, 3, 2)).unwrap();
    let mut a = Vec::new();
    write_vcd(&t, &mut a).unwrap();
    let mut b = Vec::new();
    write_vcd(&t, &mut b).unwrap();
    assert_eq!(a, b);
    let paths: Vec<Vec<&str>> = t.signals.iter().map(|s| s.path()).collect();
    let s = sample_vcd(&a[..], CLOCK, &paths).unwrap();
    assert_eq!(s.timescale, Some((1, TimescaleUnit::NS)));
    assert_eq!(s.edge_times.len(), t.cycle_count());
    assert_eq!(s.edge_times[3], edge_time_ns(3));
    for (i, sig) in t.signals.iter().enumerate() {
        assert_eq!(s.widths[i], sig.width, "{}", sig.name);
        let got: Vec<u64> = s.values[i].iter().map(|v| v.unwrap()).collect();
        assert_eq!(got, sig.values, "{}", sig.name);
    }
}

/// Q8.5, 2 elements per host beat, answered 2 cycles late; 2 EWOP lanes, 2 stages.
fn machine_cfg() -> Config {
    let mut c = cfg(2);
    c.host.link_bytes_per_cycle = 2;
    c.host.link_latency = 2;
    c.ewop.lanes = 2;
    c.ewop.latency = 2;
    c.memory.vector_words = 64;
    c.memory.instruction_words = 8;
    c
}

/// load x; y = A x; y = sigmoid(y); z = B x; z = y[..3] + z; store z.
fn program() -> (Vec<Csb>, Program) {
    let x = Region::new(0, 6);
    let y = Region::new(6, 5);
    let z = Region::new(11, 3);
    let instrs = vec![
        Instr::Load { dst: x },
        Instr::Spmv {
            matrix: 0,
            src: x,
            dst: y,
        },
        Instr::Act {
            func: crate::act::ActFn::Sigmoid,
            src: y,
            dst: y,
        },
        Instr::Spmv {
            matrix: 1,
            src: x,
            dst: z,
        },
        Instr::Ewop {
            func: EwOp::Add,
            a: y.slice(0, 3),
            b: z,
            dst: z,
        },
        Instr::Store { src: z },
    ];
    (
        vec![matrix(5, 2, 3, 2), matrix(3, 2, 3, 1)],
        Program {
            instrs,
            preloaded: vec![],
            ..Program::default()
        },
    )
}

fn runs(cfg: &Config, mats: &[Csb], p: &Program, n: usize) -> Vec<RunReport> {
    let mut m = Machine::new(cfg, mats.to_vec()).unwrap();
    m.validate(p).unwrap();
    let mut inputs: VecDeque<Vec<i64>> = (0..n).map(|r| vec![r as i64 + 1; 6]).collect();
    (0..n).map(|_| m.run(p, &mut inputs).unwrap()).collect()
}

#[test]
fn program_trace_follows_the_timelines() {
    let cfg = machine_cfg();
    let (mats, p) = program();
    let reports = runs(&cfg, &mats, &p, 2);
    let first = tb_first_start_edge(&cfg, None);
    assert_eq!(first, 5);
    let t = program_trace(&cfg, &mats, &p, &reports, first).unwrap();
    assert_eq!(t.runs[0].start_edge, 5);
    assert_eq!(t.runs[1].start_edge, t.runs[0].done_edge() + TB_RUN_GAP);
    assert_eq!(t.edge_count() as u64, t.runs[1].done_edge() + 1);
    let seq = |name| &t.signal(SEQ_SCOPE, name).unwrap().values;
    let ctrl = |name| &t.signal(CTRL_SCOPE, name).unwrap().values;
    let (state, pc, off) = (seq("state_q"), seq("pc_q"), seq("off_q"));
    // Reset values, then the start; between runs DONE.
    assert!(state[..5].iter().all(|&s| s == SeqState::Idle as u64));
    assert_eq!(seq("n_instr_i")[4..6], [0, 6]);
    let gap = t.runs[0].done_edge() as usize..=t.runs[1].start_edge as usize;
    assert!(state[gap.clone()]
        .iter()
        .all(|&s| s == SeqState::Done as u64));
    assert_eq!(pc[gap.clone()], [6, 6, 6, 6]);
    let starts: Vec<usize> = (0..t.edge_count())
        .filter(|&e| seq("start_i")[e] == 1)
        .collect();
    assert_eq!(starts, [5, *gap.end()]);
    for (r, span) in t.runs.iter().enumerate() {
        for timing in &reports[r].timeline {
            let d = (span.start_edge + timing.start) as usize;
            let end = d + timing.cycles as usize;
            // Dispatch: FETCH (or IDLE/DONE for the first instruction) and the
            // pc; the instruction's own state until its last cycle.
            assert_eq!(pc[d + 1], timing.index as u64, "run {r} {timing:?}");
            assert_eq!(off[d + 1], 0, "run {r} {timing:?}");
            let own = match timing.op {
                "load" => SeqState::Load,
                "store" => SeqState::Store,
                "spmv" => SeqState::Spmv,
                _ => SeqState::Issue,
            } as u64;
            assert_eq!(state[d + 1], own, "run {r} {timing:?}");
            let after = if timing.index == 5 {
                SeqState::Done
            } else {
                SeqState::Fetch
            } as u64;
            assert_eq!(state[end], after, "run {r} {timing:?}");
            assert!(state[d + 1..end].iter().all(|&s| s != after));
        }
    }
    // The load: 6 elements in 3 beats of 2, the first 2 cycles after the ask.
    let d = t.runs[1].start_edge as usize;
    assert_eq!(state[d + 1..d + 6], [2, 2, 2, 2, 2]);
    assert_eq!(seq("s_axis_tvalid_i")[d + 1..d + 7], [0, 0, 1, 1, 1, 0]);
    assert_eq!(off[d + 1..d + 7], [0, 0, 0, 2, 4, 6]);
    // The act: 5 elements on 2 lanes (3 issue cycles), then 2 cycles of wait.
    let act = (t.runs[0].start_edge + reports[0].timeline[2].start) as usize;
    assert_eq!(state[act + 1..act + 7], [5, 5, 5, 6, 6, 1]);
    assert_eq!(off[act + 1..act + 7], [0, 2, 4, 6, 6, 6]);
    assert_eq!(seq("wait_q")[act + 4..act + 7], [0, 1, 2]);
    assert_eq!(seq("op_o")[act + 1], 4);
    // Two spmvs per run; the second matrix starts after the first's 3 x 2 words.
    assert_eq!(t.spmvs.len(), 4);
    let s = &t.spmvs[1];
    let issue = (s.start_edge + 1 + s.cycles.load) as usize;
    assert_eq!(ctrl("state_q")[issue], CtrlState::Compute as u64);
    assert_eq!(ctrl("mat_addr_q")[issue..issue + 2], [6, 7]);
    // Before that, it still holds where the first matrix ended.
    assert_eq!(ctrl("mat_addr_q")[issue - 1], 6);
    assert_eq!(seq("mat_o")[issue], 6);
    assert_eq!(seq("rows_o")[issue], 3);
}

#[test]
fn program_spmv_is_the_spmv_trace() {
    let cfg = machine_cfg();
    let (mats, p) = program();
    let reports = runs(&cfg, &mats, &p, 1);
    let t = program_trace(&cfg, &mats, &p, &reports, 5).unwrap();
    let s = &t.spmvs[0];
    let alone = spmv_trace(&cfg, &mats[0]).unwrap();
    assert_eq!(s.cycles, alone.cycles);
    let d = s.start_edge as usize;
    for sig in &alone.signals {
        let got = &t.signal(sig.scope, sig.name).unwrap().values[d..d + alone.cycle_count()];
        // At the dispatch edge the previous instruction (a load) is still
        // in instr_q: slots_i and rows_i are 0.
        let from = if matches!(sig.name, "last_o" | "row_ok_i") {
            assert_eq!(got[0], 0, "{}", sig.name);
            1
        } else {
            0
        };
        assert_eq!(got[from..], sig.values[from..], "{}", sig.name);
    }
}

#[test]
fn program_vcd_round_trips_and_is_deterministic() {
    let cfg = machine_cfg();
    let (mats, p) = program();
    let reports = runs(&cfg, &mats, &p, 2);
    let t = program_trace(&cfg, &mats, &p, &reports, 5).unwrap();
    let mut a = Vec::new();
    write_vcd(&t, &mut a).unwrap();
    let mut b = Vec::new();
    write_vcd(
        &program_trace(&cfg, &mats, &p, &reports, 5).unwrap(),
        &mut b,
    )
    .unwrap();
    assert_eq!(a, b);
    let paths: Vec<Vec<&str>> = t.signals.iter().map(|s| s.path()).collect();
    let s = sample_vcd(&a[..], CLOCK, &paths).unwrap();
    assert_eq!(s.edge_times.len(), t.edge_count());
    for (i, sig) in t.signals.iter().enumerate() {
        assert_eq!(s.widths[i], sig.width, "{}", sig.dotted());
        let got: Vec<u64> = s.values[i].iter().map(|v| v.unwrap()).collect();
        assert_eq!(got, sig.values, "{}", sig.dotted());
    }
}

#[test]
fn program_trace_refuses_what_the_rtl_does_not_do() {
    let cfg = machine_cfg();
    let (mats, p) = program();
    let reports = runs(&cfg, &mats, &p, 1);
    // A timeline the RTL does not follow.
    let mut late = reports.clone();
    late[0].timeline[3].start += 1;
    let e = program_trace(&cfg, &mats, &p, &late, 5).unwrap_err();
    assert!(e.to_string().contains("instruction 3 (spmv)"), "{e}");
    let mut longer = reports.clone();
    longer[0].cycles += 1;
    assert!(program_trace(&cfg, &mats, &p, &longer, 5).is_err());
    // Matrices streamed from DRAM are simulated only.
    let mut dram = cfg.clone();
    dram.memory.matrix = MatrixStorage::Dram;
    assert!(matches!(
        program_trace(&dram, &mats, &p, &reports, 5),
        Err(TraceError::Dram)
    ));
    let empty = Program::default();
    assert!(program_trace(&cfg, &mats, &empty, &reports, 5).is_err());
    assert!(program_trace(&cfg, &mats, &p, &[], 5).is_err());
    // A report of another program.
    let mut other = p.clone();
    other.instrs.pop();
    assert!(program_trace(&cfg, &mats, &other, &reports, 5).is_err());
}

#[test]
fn bank_reads_follow_the_issue() {
    let cfg = machine_cfg();
    let (mats, p) = program();
    let reports = runs(&cfg, &mats, &p, 1);
    let t = program_trace(&cfg, &mats, &p, &reports, 5).unwrap();
    let mut csv = Vec::new();
    write_bank_reads_csv(&cfg, &mats, &t, &mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "cycle,pe,bank,address");
    // A: 3 local rows x 2 slots, B: 2 x 1; 2 PEs x 2 banks each cycle.
    assert_eq!(lines.len(), 1 + (6 + 2) * 2 * 2);
    // The first word issued at the first compute edge is read at the next.
    let s = &t.spmvs[0];
    let issue = s.start_edge + 1 + s.cycles.load;
    let (_, idx) = mats[0].word(0, 0);
    assert_eq!(lines[1], format!("{},0,0,{}", issue + 1, idx[0]));
    // Row 5 does not exist: PE 1's last local row reads the padding word.
    let (_, idx) = mats[0].word(4, 1);
    let tail: Vec<&str> = lines[21..25].to_vec();
    let e = issue + 6;
    assert_eq!(
        tail,
        [
            format!("{e},0,0,{}", idx[0]),
            format!("{e},0,1,{}", idx[1]),
            format!("{e},1,0,0"),
            format!("{e},1,1,0"),
        ]
    );
}

#[test]
fn rejects_a_matrix_that_does_not_fit() {
    assert!(spmv_trace(&cfg(1), &matrix(17, 2, 3, 2)).is_err());
}
