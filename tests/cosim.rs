//! The co-simulation matrix: every small reference configuration of
//! `hw/configs/` plus the configurations below (16 in all: 1 to 64 PEs, 2 to
//! 32 banks including 3, 5, 6, 10 and 12, 8-, 12- and 16-bit values, EWOP
//! widths 1 to 32 and latencies 0 to 4, host links of 1 to 16 elements per
//! beat), crossed with three workloads:
//!
//! - SpMxV on a real trained matrix (silero-vad's LSTM `weight_hh`, 75% BBS),
//!   as the program `load x; spmv; store y`;
//! - three frames of an LSTM (`small-lstm`: 64 inputs, 128 cells), the state
//!   carried from frame to frame;
//! - three frames of a GRU (`small-gru`: 64 inputs, 128 hidden).
//!
//! Each configuration's design is linted (`verilator -Wall`), compiled by
//! iverilog, and built once by Verilator; every workload runs on that build.
//! Everything the program stores must equal the simulator's output bit for
//! bit, and the cycle counts must agree within 1% (they are in fact equal);
//! the table is printed. Every other run loads the matrices through the
//! run-time load port instead of `$readmemh` (the `$readmemh` files then hold
//! zeros, so a broken port shows).
//!
//! Under `CI=true` a missing Verilator fails the test; elsewhere it is skipped
//! with a message (the README's test command installs it).

use bbs::flow::{self, Verification};
use bbs_compress::{prune_bbs, read_matrix, Csb};
use bbs_hdlgen::memfiles::spmv_program;
use bbs_hdlgen::program::MatrixLoad;
use bbs_sim::{workloads, Config};
use std::path::{Path, PathBuf};

const SILERO: &str = "data/silero-vad/silero_vad_16k.safetensors";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Configurations small enough to build in Verilator within CI's time: the
/// large ones (e.g. `ese-a10`, 1024 multipliers) are simulated, not co-simulated.
const MAX_MULTIPLIERS: usize = 256;

fn reference_configs() -> Vec<Config> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("hw/configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| Config::from_file(p).unwrap())
        .filter(|c| {
            let small = c.pes * c.banks <= MAX_MULTIPLIERS;
            if !small {
                eprintln!(
                    "not co-simulated (over {MAX_MULTIPLIERS} multipliers): {}",
                    c.name
                );
            }
            small
        })
        .collect()
}

/// `(name, pes, banks, value_width, frac_bits, mult_stages, adder_stages,
/// ewop lanes, ewop latency, link bytes per cycle, link latency)`.
type Shape = (
    &'static str,
    usize,
    usize,
    u32,
    u32,
    u32,
    u32,
    usize,
    u32,
    u32,
    u32,
);

const MATRIX_SHAPES: [Shape; 12] = [
    ("m1x2-q8", 1, 2, 8, 5, 1, 0, 1, 0, 1, 0),
    ("m2x3-q8", 2, 3, 8, 6, 1, 1, 2, 1, 3, 5),
    ("m4x4-q16", 4, 4, 16, 12, 2, 1, 4, 0, 8, 2),
    ("m5x5-q16", 5, 5, 16, 12, 2, 2, 3, 2, 6, 1),
    ("m7x12-q8", 7, 12, 8, 4, 1, 1, 16, 4, 16, 9),
    ("m32x2-q16", 32, 2, 16, 12, 2, 0, 8, 3, 16, 64),
    ("m64x2-q8", 64, 2, 8, 5, 1, 1, 32, 1, 32, 3),
    ("m2x32-q16", 2, 32, 16, 12, 2, 2, 1, 0, 2, 0),
    ("m12x10-q16", 12, 10, 16, 11, 3, 0, 5, 2, 4, 7),
    ("m6x8-q12", 6, 8, 12, 8, 1, 2, 6, 1, 12, 4),
    ("m16x4-q8", 16, 4, 8, 6, 2, 1, 16, 2, 8, 16),
    ("m3x16-q16", 3, 16, 16, 13, 1, 1, 2, 3, 16, 2),
];

/// Memories sized for the workloads: 512 x 192 matrices at 75% sparsity (two
/// GRU matrices share the matrix memory), a 2048-element vector memory.
fn matrix_configs() -> Vec<Config> {
    MATRIX_SHAPES
        .iter()
        .map(
            |&(name, pes, banks, w, f, mult, adder, lanes, lat, link, link_lat)| {
                let mut c = Config {
                    name: name.into(),
                    pes,
                    banks,
                    value_width: w,
                    frac_bits: f,
                    acc_width: 2 * w + banks.next_power_of_two().trailing_zeros() + 4,
                    max_rows: 512,
                    max_cols: 192,
                    max_slots: 192usize.div_ceil(banks).div_ceil(4) * 2,
                    ..Config::default()
                };
                c.pipeline.mult_stages = mult;
                c.pipeline.adder_stages = adder;
                c.ewop.lanes = lanes;
                c.ewop.latency = lat;
                c.memory.vector_words = 2048;
                c.memory.instruction_words = 32;
                c.host.link_bytes_per_cycle = link;
                c.host.link_latency = link_lat;
                c.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
                c
            },
        )
        .collect()
}

/// One program to run on a configuration.
struct Workload {
    name: String,
    matrices: Vec<Csb>,
    program: bbs_sim::machine::Program,
    inputs: Vec<Vec<i64>>,
    runs: usize,
}

const FRAMES: usize = 3;

fn workloads_for(cfg: &Config) -> Vec<Workload> {
    let silero = read_matrix(&root().join(SILERO), Some("lstm_cell.weight_hh")).unwrap();
    let pruned = prune_bbs(&silero.view(), cfg.banks, 0.75).unwrap();
    let (csb, _) = Csb::from_pruned(&pruned, cfg.format());
    let hidden: Vec<f32> = (0..csb.cols)
        .map(|j| (0.9 * (0.37 * j as f64 + 0.1).sin()) as f32)
        .collect();
    let x = flow::fixed_vector(
        &bbs_compress::Vector::Float(ndarray::Array1::from(hidden)),
        cfg,
    )
    .0;
    let mut v = vec![Workload {
        name: "spmv silero weight_hh 75%".into(),
        program: spmv_program(cfg, &csb),
        matrices: vec![csb],
        inputs: vec![x],
        runs: 1,
    }];
    for name in ["small-lstm", "small-gru"] {
        let net = workloads::network(name, cfg, 0.75, 11).unwrap();
        // The machine's own program: with overlap.units, in cell blocks,
        // with the issue order and waits of bbs_sim::overlap::compile.
        let compiled = match net.compile(cfg) {
            Ok(c) => c,
            // Bank-interleaved vectors need every vector the machine writes
            // and an SpMxV loads to fill whole bank rows: on other banks
            // only the SpMxV runs (its input the host pads).
            Err(e @ bbs_sim::rnn::NetworkError::Shape { .. }) if cfg.overlap.interleaved => {
                eprintln!("{name} not on {}: {e}", cfg.name);
                continue;
            }
            Err(e) => panic!("{name} on {}: {e}", cfg.name),
        };
        v.push(Workload {
            name: format!("{name} x{FRAMES} frames"),
            program: compiled.program,
            matrices: compiled.matrices,
            inputs: workloads::frames(cfg, net.input(), FRAMES, 5),
            runs: FRAMES,
        });
    }
    v
}

#[test]
fn rtl_matches_simulator_on_the_configuration_matrix() {
    if !bbs_hdlgen::verilator::available_for_test("the co-simulation") {
        return;
    }
    let mut configs = reference_configs();
    assert!(configs.len() >= 3, "need the reference configurations");
    configs.extend(matrix_configs());
    let work = tempfile::tempdir().unwrap();
    let mut table = Vec::new();
    let mut failures = Vec::new();
    let mut port_loads = 0;
    let mut run_index = 0usize;
    for cfg in &configs {
        let dir = work.path().join(&cfg.name);
        let build = flow::build_rtl(cfg, &dir).unwrap_or_else(|e| panic!("{}: {e:#}", cfg.name));
        iverilog_compiles(&dir);
        for (i, w) in workloads_for(cfg).iter().enumerate() {
            let load = if run_index % 2 == 1 {
                port_loads += 1;
                MatrixLoad::Port
            } else {
                MatrixLoad::Init
            };
            run_index += 1;
            let (sim, v) = flow::cosimulate_program(
                cfg,
                &build,
                &w.matrices,
                &w.program,
                &w.inputs,
                w.runs,
                load,
                &dir.join(format!("run{i}")),
                &[],
            )
            .unwrap_or_else(|e| panic!("{} / {}: {e:#}", cfg.name, w.name));
            // A comparison of constant outputs would prove little.
            let mut distinct = sim.stored.clone();
            distinct.sort_unstable();
            distinct.dedup();
            if !v.bit_exact || v.cycle_error_pct > 1.0 || distinct.len() < 8 {
                failures.push(format!("{} / {}: {v:?}", cfg.name, w.name));
            }
            table.push((w.name.clone(), load, v));
        }
        // The build directory is large; the next configuration does not need it.
        let _ = std::fs::remove_dir_all(dir.join("obj_dir"));
    }
    print_table(&table);
    assert!(
        failures.is_empty(),
        "co-simulation failures:\n{}",
        failures.join("\n")
    );
    assert!(configs.len() >= 12 && table.len() >= 36);
    assert!(port_loads >= 12);
    for (pes, banks) in [(1, 2), (64, 2), (2, 32), (3, 6), (5, 5)] {
        assert!(
            configs.iter().any(|c| c.pes == pes && c.banks == banks),
            "the matrix lost {pes} x {banks}"
        );
    }
}

fn iverilog_compiles(dir: &Path) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("rtl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let out = match std::process::Command::new("iverilog")
        .args(["-g2005", "-o"])
        .arg(dir.join("iverilog.out"))
        .args(&files)
        .arg(dir.join("tb/tb_bbs.v"))
        .output()
    {
        Ok(out) => out,
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true and iverilog is not installed")
        }
        Err(_) => {
            eprintln!("SKIPPED iverilog: not installed");
            return;
        }
    };
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "iverilog on {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn print_table(rows: &[(String, MatrixLoad, Verification)]) {
    println!("| configuration | workload | matrices | bit-exact | values | sim cycles | RTL cycles | error |");
    println!("|---|---|---|---|---:|---:|---:|---:|");
    for (name, load, v) in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2}% |",
            v.config,
            name,
            match load {
                MatrixLoad::Init => "$readmemh",
                MatrixLoad::Port => "load port",
            },
            if v.bit_exact { "yes" } else { "NO" },
            v.rows,
            v.sim_cycles,
            v.rtl_cycles,
            v.cycle_error_pct
        );
    }
}

/// `cfg` as the overlapped machine with `overlap`: room for the chained
/// programs' instructions (small-lstm in cell blocks has 69) and regions.
fn overlapped(cfg: &Config, overlap: &bbs_sim::Overlap, tag: &str) -> Config {
    let mut c = cfg.clone();
    c.name = format!("{}-{tag}", cfg.name);
    c.overlap = overlap.clone();
    c.memory.instruction_words = 128;
    // Double-buffered regions and the next frame's input part take room.
    c.memory.vector_words = c.memory.vector_words.max(4096);
    c.validate().unwrap_or_else(|e| panic!("{}: {e}", c.name));
    c
}

/// `cfg` whose vector load reads only the DMA part and the words the
/// recurrent workloads load (`overlap.loadable`): the vector memory's parts
/// split in two, most banks without load ports.
fn loads_only_what_is_loaded(cfg: &Config) -> Config {
    use bbs_sim::overlap::regions::{Writer, WriterRegions};
    let parts = WriterRegions::new(cfg).unwrap();
    let mut l = bbs_sim::RegionWords {
        dma: parts.of(Writer::DmaIn).unwrap().len,
        pe: 0,
        act: 0,
        ewop: 0,
    };
    for name in ["small-lstm", "small-gru"] {
        let net = workloads::network(name, cfg, 0.75, 11).unwrap();
        let fitted = bbs_sim::overlap::compile::fit_memory(&net, cfg).unwrap();
        assert_eq!(
            fitted.overlap.regions, cfg.overlap.regions,
            "{name} fits {}",
            cfg.name
        );
        let f = fitted.overlap.loadable.unwrap();
        l.pe = l.pe.max(f.pe);
        l.ewop = l.ewop.max(f.ewop);
    }
    let mut c = cfg.clone();
    c.overlap.loadable = Some(l);
    assert!(
        WriterRegions::new(&c)
            .unwrap()
            .banked()
            .iter()
            .any(|p| !p.loads),
        "{}: some part has no load ports",
        c.name
    );
    c
}

/// The overlapped machine's RTL against the simulator, to the cycle and bit
/// for bit: every technique on, on the reference configurations `default`
/// and `odd` (its vector load reading only the words the programs load:
/// [`loads_only_what_is_loaded`]) and one of the matrix's (5 x 5 PEs with three EWOP lanes and
/// a private bank depth that is not a power of two);
/// and, on the default configuration, the first ablation step (concurrent
/// units alone: one private copy, ACT on the EWOP lanes, program order),
/// the third (chaining, ACT still on the EWOP lanes) and the last two
/// (every technique with bank-interleaved vectors: the vector load a run
/// port, one and two positions a cycle into sub-banks; with the SpMxV too,
/// so the host's interleaved input and the RTL's stores in element order
/// are checked, and two frames of stacked-lstm: [`last_frame_workload`]). On default, a program whose overlap is tempting but wrong
/// also runs ([`racing_store`]). `BBS_COSIM_ALL=1`
/// (`scripts/cosim-overlap.sh`) runs every configuration of the matrix and
/// every step, and every configuration whose banks divide the workloads'
/// vectors also with bank-interleaved vectors ([`interleaved_matrix`]).
#[test]
fn overlapped_rtl_matches_simulator() {
    if !bbs_hdlgen::verilator::available_for_test("the overlapped co-simulation") {
        return;
    }
    let all = std::env::var("BBS_COSIM_ALL").as_deref() == Ok("1");
    let ci = ["default", "odd", "m5x5-q16"];
    let mut configs: Vec<Config> = reference_configs()
        .iter()
        .chain(matrix_configs().iter())
        .filter(|c| all || ci.contains(&c.name.as_str()))
        .map(|c| overlapped(c, &bbs_sim::Overlap::all(), "ov"))
        .map(|c| {
            if c.name.starts_with("odd") {
                loads_only_what_is_loaded(&c)
            } else {
                c
            }
        })
        .collect();
    let default = Config::default();
    for (k, (_, overlap)) in bbs_sim::report::ablation::steps()
        .into_iter()
        .enumerate()
        .skip(1)
    {
        // Steps with bank-interleaved vectors are every technique plus them
        // (with room for stacked-lstm: [`last_frame_workload`]).
        if all || k == 1 || k == 3 || overlap.interleaved {
            let mut c = overlapped(&default, &overlap, &format!("step{k}"));
            if overlap.interleaved {
                c.memory.vector_words = 8192;
            }
            configs.push(c);
        }
    }
    let interleaved: Vec<(usize, usize)> = configs
        .iter()
        .filter(|c| c.overlap.interleaved)
        .map(|c| (c.banks, c.overlap.load_width))
        .collect();
    assert!(
        interleaved.contains(&(8, 1)) && interleaved.contains(&(8, 2)),
        "the ablation's last steps are default with bank-interleaved vectors, one and two wide: {interleaved:?}"
    );
    if all {
        configs.extend(interleaved_matrix());
    }
    let work = tempfile::tempdir().unwrap();
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for (n, cfg) in configs.iter().enumerate() {
        let dir = work.path().join(&cfg.name);
        let build = flow::build_rtl(cfg, &dir).unwrap_or_else(|e| panic!("{}: {e:#}", cfg.name));
        if n == 0 {
            iverilog_compiles(&dir);
            racing_store(cfg, &build, &dir);
        }
        // The ablation steps run the recurrent workloads only (but for the
        // interleaved ones: their SpMxV's input is interleaved by the host).
        let mut workloads = workloads_for(cfg);
        if cfg.name.contains("-step") && cfg.overlap.interleaved {
            workloads.push(last_frame_workload(cfg));
        }
        let skip = usize::from(cfg.name.contains("-step") && !cfg.overlap.interleaved);
        for (i, w) in workloads.iter().enumerate().skip(skip) {
            let load = if i == 1 {
                MatrixLoad::Port
            } else {
                MatrixLoad::Init
            };
            let (sim, v) = flow::cosimulate_program(
                cfg,
                &build,
                &w.matrices,
                &w.program,
                &w.inputs,
                w.runs,
                load,
                &dir.join(format!("run{i}")),
                &[],
            )
            .unwrap_or_else(|e| panic!("{} / {}: {e:#}", cfg.name, w.name));
            let mut distinct = sim.stored.clone();
            distinct.sort_unstable();
            distinct.dedup();
            if !v.bit_exact || v.rtl_cycles != v.sim_cycles || distinct.len() < 8 {
                failures.push(format!("{} / {}: {v:?}", cfg.name, w.name));
            }
            if let Err(e) = issue_matches(cfg, &build, w, &dir.join(format!("run{i}"))) {
                failures.push(format!("{} / {}: {e}", cfg.name, w.name));
            }
            table.push((w.name.clone(), load, v));
        }
        let _ = std::fs::remove_dir_all(dir.join("obj_dir"));
    }
    print_table(&table);
    assert!(
        failures.is_empty(),
        "overlapped co-simulation failures:\n{}",
        failures.join("\n")
    );
    assert!(table.len() >= 3 * 3 + 2 * 2 + 2 * 4, "{} runs", table.len());
}

/// Two frames of `stacked-lstm` (75%): its last frame's projection is where
/// the cycle model once held the frame behind the next frame's input
/// product (issued ahead with `overlap.input_ahead`), which the RTL's last
/// frame of a start never issues (`Scheduler::last_frame`; 1267 cycles in
/// both on default with every technique and a two-wide interleaved load,
/// 1329 by the streaming model).
fn last_frame_workload(cfg: &Config) -> Workload {
    let net = workloads::network("stacked-lstm", cfg, 0.75, 11).unwrap();
    let compiled = net
        .compile(cfg)
        .unwrap_or_else(|e| panic!("stacked-lstm on {}: {e}", cfg.name));
    Workload {
        name: "stacked-lstm x2 frames".into(),
        program: compiled.program,
        matrices: compiled.matrices,
        inputs: workloads::frames(cfg, net.input(), 2, 5),
        runs: 2,
    }
}

/// Every configuration of the matrix but default (the ablation's last
/// steps) with every technique and bank-interleaved vectors, the vector
/// load 2, 4 or 1 wide in turn (`BBS_COSIM_ALL=1` only). Where the banks
/// do not divide the recurrent workloads' vectors (3, 5, 6, 10, 12 banks)
/// only the SpMxV runs, its input padded by the host.
fn interleaved_matrix() -> Vec<Config> {
    reference_configs()
        .iter()
        .chain(matrix_configs().iter())
        .filter(|c| c.name != "default")
        .enumerate()
        .map(|(i, c)| {
            let width = [2, 4, 1][i % 3];
            let overlap = bbs_sim::Overlap {
                load_width: width,
                ..bbs_sim::Overlap::interleaved()
            };
            overlapped(c, &overlap, &format!("il{width}"))
        })
        .collect()
}

/// Every dispatch of every unit of the overlapped RTL (the testbench's
/// `+issue` log: unit, instruction, frame, cycle from the start) against the
/// cycle model's placement of every instruction of every frame: the issue
/// stage's signals, cycle by cycle.
fn issue_matches(
    cfg: &Config,
    build: &flow::RtlBuild,
    w: &Workload,
    run_dir: &Path,
) -> Result<(), String> {
    let machine = bbs_sim::machine::Machine::new(cfg, w.matrices.clone()).unwrap();
    let expected: Vec<(i64, usize, usize, usize)> =
        bbs_sim::overlap::tables::dispatches(&machine, &w.program, w.runs)
            .iter()
            .map(|d| (d.cycle, d.unit, d.instr, d.frame))
            .collect();
    let out = std::process::Command::new(&build.binary)
        .current_dir(run_dir)
        .arg("+issue")
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let num = |x: Option<&str>| -> i64 { x.and_then(|v| v.parse().ok()).unwrap_or(-1) };
    let start = text
        .lines()
        .find_map(|l| l.strip_prefix("START ").map(|c| num(Some(c))))
        .ok_or("no START line")?;
    let mut got: Vec<(i64, usize, usize, usize)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("ISSUE "))
        .map(|l| {
            let mut f = l.split_whitespace();
            let cycle = num(f.next()) - start;
            let (u, i, fr) = (num(f.next()), num(f.next()), num(f.next()));
            (cycle, u as usize, i as usize, fr as usize)
        })
        .collect();
    got.sort_unstable();
    if got == expected {
        return Ok(());
    }
    let first = got
        .iter()
        .zip(&expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    Err(format!(
        "issue log: {} dispatches in the RTL, {} in the cycle model; first difference at #{first}: RTL {:?}, model {:?}",
        got.len(),
        expected.len(),
        got.get(first),
        expected.get(first)
    ))
}

/// A program where overlap is tempting but wrong: the store without its
/// waits (it would read h while the cell blocks still write it), one frame. The validator refuses it, naming the store's field and the race;
/// run anyway on the overlapped RTL, the store sends values that differ
/// from the fixed-point reference: the hardware does race without its
/// waits, so the waits the co-simulation passes with are what keep it exact.
fn racing_store(cfg: &Config, build: &flow::RtlBuild, dir: &Path) {
    let net = workloads::network("small-lstm", cfg, 0.75, 11).unwrap();
    let bbs_sim::rnn::Compiled {
        program: good,
        matrices,
        ..
    } = net.compile(cfg).unwrap();
    // One frame: a racing program is free to break the issue stage's own
    // bookkeeping across frames too (the validator refuses it), and may hang.
    let inputs = workloads::frames(cfg, net.input(), 1, 5);
    let store = good
        .instrs
        .iter()
        .rposition(|i| i.name() == "store")
        .unwrap();
    let mut racing = good.clone();
    racing.waits[store].clear();

    let machine = bbs_sim::machine::Machine::new(cfg, matrices.clone()).unwrap();
    let e = machine.validate(&racing).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "instruction {store} (store.src): frame 0: reads element"
        )) && e.contains("before instruction")
            && e.contains("its waits let the read overtake the write"),
        "{e}"
    );

    let (sim, v) = flow::cosimulate_program(
        cfg,
        build,
        &matrices,
        &good,
        &inputs,
        1,
        MatrixLoad::Init,
        &dir.join("good"),
        &[],
    )
    .unwrap();
    assert!(v.bit_exact && v.rtl_cycles == v.sim_cycles, "{v:?}");
    let run = dir.join("racing");
    bbs_hdlgen::program::RunFiles {
        cfg,
        matrices: &matrices,
        program: &racing,
        inputs: &inputs,
        runs: 1,
        matrix_load: MatrixLoad::Init,
    }
    .write(&run)
    .unwrap();
    let rtl = bbs_hdlgen::verilator::run_with(&build.binary, &run, &[]).unwrap();
    let output = bbs_hdlgen::program::host_outputs(&racing, 1, &rtl.output);
    assert_eq!(output.len(), sim.stored.len());
    let differ = output
        .iter()
        .zip(&sim.stored)
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        differ > 0,
        "the store without its waits sent the right values: the RTL did not overlap it"
    );
    println!(
        "racing store: refused by the validator; on the RTL {differ} of {} values differ",
        sim.stored.len()
    );
}
