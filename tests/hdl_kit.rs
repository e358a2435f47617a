//! The hardware-flow kit `bbs hdl` writes beside the RTL (issue 13,
//! docs/hardware-flow.md): the FuseSoC core parses and its lint and sim
//! targets run (Verilator and Icarus, the testbench's output equal to the
//! simulator's); the SDC, XDC and TCL files are deterministic, name every
//! RTL file and the configuration's clock period; `--prefix` renames every
//! module so that two configurations lint together under one top.
//!
//! FuseSoC (`pip install fusesoc`, scripts/test.sh) and Verilator are
//! needed for some tests: without them those tests skip with a message,
//! except under `CI=true`, where a missing tool is a failure.

use bbs_compress::write_npy_atomic;
use ndarray::{Array1, Array2};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config(name: &str) -> PathBuf {
    root().join("hw/configs").join(format!("{name}.toml"))
}

fn bbs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bbs"))
        .args(args)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `bbs hdl --config hw/configs/<cfg>.toml -o dir` plus `extra`.
fn hdl(cfg: &str, dir: &Path, extra: &[&str]) {
    let c = config(cfg);
    let mut args = vec!["hdl", "--config", s(&c), "-o", s(dir)];
    args.extend_from_slice(extra);
    ok(bbs(&args));
}

/// FuseSoC's version when it is installed; otherwise `None` and a skip
/// message, except under `CI=true` (a panic: the test must run in CI).
fn fusesoc_for_test(what: &str) -> Option<String> {
    let version = Command::new("fusesoc")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match version {
        Some(v) => {
            eprintln!("using FuseSoC {v}");
            Some(v)
        }
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true and FuseSoC is not installed: {what} must run in CI")
        }
        None => {
            eprintln!(
                "SKIPPED {what}: FuseSoC is not installed (pip install fusesoc; scripts/test.sh installs it)"
            );
            None
        }
    }
}

/// `fusesoc --cores-root <cores> <args>`, run in `work`; `run` builds
/// under `work/build`. FuseSoC's cache and configuration stay in `work`.
fn fusesoc(cores: &Path, work: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("fusesoc");
    cmd.arg("--cores-root").arg(cores).arg(args[0]);
    if args[0] == "run" {
        cmd.arg("--build-root").arg(work.join("build"));
    }
    cmd.args(&args[1..])
        .env("XDG_CACHE_HOME", work.join("cache"))
        .env("XDG_CONFIG_HOME", work.join("config"))
        .env("XDG_DATA_HOME", work.join("data"))
        .current_dir(work)
        .output()
        .unwrap()
}

fn rtl_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("rtl"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The kit's files (not the RTL, the testbench or the memory images).
const KIT: [&str; 5] = [
    "bbs.core",
    "constraints/bbs_top.sdc",
    "constraints/bbs_top.xdc",
    "quartus.tcl",
    "vivado.tcl",
];

#[test]
fn scripts_and_constraints_are_deterministic_and_name_every_rtl_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    hdl("default", &a, &[]);
    hdl("default", &b, &[]);
    // `--prefix bbs` is the default design, kit and all.
    let c = dir.path().join("c");
    hdl("default", &c, &["--prefix", "bbs"]);
    for f in KIT {
        let one = read(&a.join(f));
        assert_eq!(one, read(&b.join(f)), "{f}: two runs differ");
        assert_eq!(one, read(&c.join(f)), "{f}: --prefix bbs differs");
    }
    let rtl = rtl_files(&a);
    assert_eq!(rtl.len(), 12, "{rtl:?}");
    for f in ["bbs.core", "quartus.tcl", "vivado.tcl"] {
        let t = read(&a.join(f));
        for r in &rtl {
            assert!(t.contains(&format!("rtl/{r}")), "{f} does not name rtl/{r}");
        }
        // Every memory image the RTL opens, from mem/ (an empty program's).
        for m in ["program.hex", "vmem_b7.hex", "pe7_mat.hex"] {
            assert!(t.contains(&format!("mem/{m}")), "{f} does not name mem/{m}");
            assert!(a.join("mem").join(m).is_file(), "mem/{m} not written");
        }
        assert!(t.contains("bbs_top"), "{f}: no top");
    }
    // The default configuration's 200 MHz clock: 5 ns, on clk_i.
    let sdc = read(&a.join("constraints/bbs_top.sdc"));
    assert!(
        sdc.contains("create_clock -name clk_i -period 5.000 [get_ports {clk_i}]"),
        "{sdc}"
    );
    let xdc = read(&a.join("constraints/bbs_top.xdc"));
    assert!(
        xdc.contains("create_clock -name clk_i -period 5.000 [get_ports clk_i]"),
        "{xdc}"
    );
    let quartus = read(&a.join("quartus.tcl"));
    for line in [
        "set_global_assignment -name DEVICE 10AX115N2F40E1SG",
        "set_global_assignment -name FAMILY \"Arria 10\"",
        "set_global_assignment -name TOP_LEVEL_ENTITY bbs_top",
        "set_global_assignment -name SDC_FILE [file join $here constraints/bbs_top.sdc]",
        "set_instance_assignment -name VIRTUAL_PIN ON -to {s_axis_tdata_i[*]}",
        "set_instance_assignment -name VIRTUAL_PIN ON -to done_o",
        "execute_flow -compile",
    ] {
        assert!(quartus.contains(line), "quartus.tcl lacks: {line}");
    }
    assert!(!quartus.contains("VIRTUAL_PIN ON -to clk_i"));
    let vivado = read(&a.join("vivado.tcl"));
    for line in [
        "-part xcku060-ffva1156-2-e",
        "set_property top bbs_top [current_fileset]",
        "add_files -fileset constrs_1 -norecurse [file join $here constraints/bbs_top.xdc]",
        "-mode out_of_context",
    ] {
        assert!(vivado.contains(line), "vivado.tcl lacks: {line}");
    }
    // docs/hardware-flow.md shows this core as it is generated.
    let doc = read(&root().join("docs/hardware-flow.md"));
    assert!(
        doc.contains(&format!("```yaml\n{}```", read(&a.join("bbs.core")))),
        "docs/hardware-flow.md does not show the generated default core"
    );
    // The header names the configuration.
    for f in KIT {
        assert!(
            read(&a.join(f)).contains("for configuration 'default':"),
            "{f}: header"
        );
    }

    // Another clock and other devices.
    let cfg = dir.path().join("fast.toml");
    std::fs::write(
        &cfg,
        read(&config("tiny")).replace("clock_mhz = 200", "clock_mhz = 300"),
    )
    .unwrap();
    let d = dir.path().join("d");
    ok(bbs(&[
        "hdl",
        "--config",
        s(&cfg),
        "-o",
        s(&d),
        "--quartus-family",
        "Cyclone 10 GX",
        "--quartus-device",
        "10CX220YF780E5G",
        "--vivado-part",
        "xc7a200tfbg676-2",
    ]));
    assert!(read(&d.join("constraints/bbs_top.sdc")).contains("-period 3.333 "));
    assert!(read(&d.join("constraints/bbs_top.xdc")).contains("-period 3.333 "));
    let q = read(&d.join("quartus.tcl"));
    assert!(q.contains("-name FAMILY \"Cyclone 10 GX\"") && q.contains("DEVICE 10CX220YF780E5G"));
    assert!(read(&d.join("vivado.tcl")).contains("-part xc7a200tfbg676-2"));
    let core = read(&d.join("bbs.core"));
    assert!(core.contains("device: 10CX220YF780E5G") && core.contains("part: xc7a200tfbg676-2"));
}

#[test]
fn bad_prefixes_and_device_names_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (args, needle) in [
        (
            vec!["--prefix", "2fast"],
            "--prefix: '2fast' is not a Verilog identifier",
        ),
        (
            vec!["--prefix", "a-b"],
            "--prefix: 'a-b' is not a Verilog identifier",
        ),
        (vec!["--prefix", ""], "--prefix"),
        (vec!["--vivado-part", "x;rm"], "--vivado-part 'x;rm'"),
        (
            vec!["--quartus-device", "[exec]"],
            "--quartus-device '[exec]'",
        ),
    ] {
        let mut a = vec!["hdl", "-o", s(&out)];
        a.extend_from_slice(&args);
        let o = bbs(&a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(!out.exists(), "{args:?}: wrote {}", out.display());
    }
    // --model takes a `bbs compile` directory only.
    let o = bbs(&["hdl", "--model", s(dir.path()), "-o", s(&out)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not a `bbs compile` directory"), "{err}");
    assert!(!out.exists(), "wrote {}", out.display());
    // An input inside what the command writes is refused before anything is.
    let cfg = dir.path().join("out2/constraints/bbs_top.sdc");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(&cfg, read(&config("tiny"))).unwrap();
    let out2 = dir.path().join("out2");
    let o = bbs(&["hdl", "--config", s(&cfg), "-o", s(&out2)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
    assert!(!out2.join("rtl").exists() && !out2.join("bbs.core").exists());
}

/// Every configuration in hw/ (serialized and overlapped machines), with a
/// prefix: no module keeps its `bbs_` name and the files are named after
/// their modules; the design lints clean on its own. The lint skips the
/// ESE-sized designs (10 to 25 s each, the same templates as default and
/// mini-overlap, which are linted).
#[test]
fn a_prefix_renames_every_module() {
    let mut configs: Vec<PathBuf> = Vec::new();
    for d in ["hw/configs", "hw/synth"] {
        for e in std::fs::read_dir(root().join(d)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                configs.push(p);
            }
        }
    }
    configs.sort();
    let lint = bbs_hdlgen::verilator::available_for_test("lint of prefixed designs");
    let dir = tempfile::tempdir().unwrap();
    for path in &configs {
        let cfg = bbs_sim::Config::from_file(path).unwrap();
        let design = bbs_hdlgen::generate_prefixed(&cfg, "m2").unwrap();
        let plain = bbs_hdlgen::generate(&cfg).unwrap();
        assert_eq!(design.files.len(), plain.files.len());
        assert_eq!(design.top, "m2_top");
        assert_eq!(design.tb, "tb_m2");
        for f in &design.files {
            let stem = f.path.file_stem().unwrap().to_string_lossy();
            assert!(
                stem.starts_with("m2_") || stem == "tb_m2",
                "{}: {}",
                cfg.name,
                f.path.display()
            );
            assert!(
                f.contents.contains(&format!("module {stem}")),
                "{}: {} does not hold module {stem}",
                cfg.name,
                f.path.display()
            );
            // No module or instance keeps a bbs_ name (comments naming
            // bbs_sim's Rust items may).
            for line in f
                .contents
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
            {
                let code = line.split("//").next().unwrap();
                for word in code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                    assert!(
                        !(word.starts_with("bbs_") || word == "tb_bbs"),
                        "{}: {}: '{word}' in: {line}",
                        cfg.name,
                        f.path.display()
                    );
                }
            }
        }
        if lint && !cfg.name.starts_with("ese-") {
            let d = dir.path().join(&cfg.name);
            bbs_hdlgen::write_design(&design, &d).unwrap();
            bbs_hdlgen::verilator::lint(&design, &d)
                .unwrap_or_else(|e| panic!("{}: {e}", cfg.name));
        }
    }
}

const TWO_MODELS: &str = "\
module two_models (
  input  wire clk_i,
  input  wire rst_ni,
  output wire busy_o
);
  wire a_busy, b_busy;
  A_TOP u_a (.clk_i(clk_i), .rst_ni(rst_ni), .busy_o(a_busy));
  B_TOP u_b (.clk_i(clk_i), .rst_ni(rst_ni), .busy_o(b_busy));
  assign busy_o = a_busy | b_busy;
endmodule
";

/// `verilator --lint-only -Wall` of a hand-written top holding `a_top`
/// and `b_top` with every file of both designs (the host ports other than
/// the clock and reset left open: -Wno-PINMISSING).
fn lint_two(dir: &Path, a: &Path, b: &Path, a_top: &str, b_top: &str) -> Output {
    let top = dir.join("two_models.v");
    std::fs::write(
        &top,
        TWO_MODELS.replace("A_TOP", a_top).replace("B_TOP", b_top),
    )
    .unwrap();
    let mut files = vec![top];
    for d in [a, b] {
        for f in rtl_files(d) {
            files.push(d.join("rtl").join(f));
        }
    }
    Command::new("verilator")
        .args([
            "--lint-only",
            "-Wall",
            "-Wno-PINMISSING",
            "--top-module",
            "two_models",
        ])
        .args(&files)
        .output()
        .unwrap()
}

#[test]
fn two_prefixed_configurations_lint_in_one_netlist() {
    if !bbs_hdlgen::verilator::available_for_test("two prefixed designs in one netlist") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    hdl("tiny", &a, &["--prefix", "a"]);
    hdl("default", &b, &["--prefix", "b"]);
    assert!(a.join("rtl/a_top.v").is_file() && b.join("rtl/b_top.v").is_file());
    assert!(a.join("tb/tb_a.v").is_file() && a.join("a.core").is_file());
    // Each opens its own memory images (a_*.hex, b_*.hex), written beside it:
    // one directory, or one netlist, holds both models' contents.
    for (d, p) in [(&a, "a_"), (&b, "b_")] {
        for f in rtl_files(d) {
            let text = read(&d.join("rtl").join(&f));
            for name in bbs_hdlgen::yosys::init_files(&text) {
                assert!(name.starts_with(p), "{f} opens {name}");
                assert!(d.join("mem").join(&name).is_file(), "{name} not written");
            }
        }
    }
    let o = lint_two(dir.path(), &a, &b, "a_top", "b_top");
    let t = text(&o);
    assert!(
        o.status.success() && !t.contains("%Warning") && !t.contains("%Error"),
        "{t}"
    );

    // The same two configurations without prefixes: every module twice.
    let (c, d) = (dir.path().join("c"), dir.path().join("d"));
    hdl("tiny", &c, &[]);
    hdl("default", &d, &[]);
    let o = lint_two(dir.path(), &c, &d, "bbs_top", "bbs_top");
    let t = text(&o);
    assert!(
        !o.status.success(),
        "unprefixed designs linted together:\n{t}"
    );
    assert!(
        t.contains("Duplicate declaration of module: 'bbs_top'"),
        "{t}"
    );
}

#[test]
fn fusesoc_parses_the_core_and_lints_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("kit");
    hdl("default", &kit, &[]);
    let core = read(&kit.join("bbs.core"));
    assert!(core.starts_with("CAPI=2:\n"), "{core}");
    let vlnv = "bbs:accelerator:default:0.1.0";
    assert!(core.contains(&format!("\nname: {vlnv}\n")), "{core}");
    if fusesoc_for_test("the FuseSoC core").is_none() {
        return;
    }
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let shown = text(&ok(fusesoc(&kit, &work, &["core", "show", vlnv])));
    assert!(shown.contains(&format!("Name:        {vlnv}")), "{shown}");
    for target in ["default", "lint", "sim", "synth-quartus", "synth-vivado"] {
        assert!(
            shown.lines().any(|l| l.starts_with(&format!("{target} "))),
            "no target {target} in:\n{shown}"
        );
    }
    // A broken core is refused (so the check above can fail).
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        broken.join("bbs.core"),
        core.replace("targets:", "targets: [oops"),
    )
    .unwrap();
    let o = fusesoc(&broken, &work, &["core", "show", vlnv]);
    assert!(
        !o.status.success() || !text(&o).contains(&format!("Name:        {vlnv}")),
        "a broken core parsed:\n{}",
        text(&o)
    );

    if !bbs_hdlgen::verilator::available_for_test("FuseSoC's lint target") {
        return;
    }
    ok(fusesoc(&kit, &work, &["run", "--target", "lint", vlnv]));
    // The lint target lints the files the core names: a warning fails it.
    let pe = kit.join("rtl/bbs_pe.v");
    std::fs::write(
        &pe,
        read(&pe).replace("endmodule", "  wire lint_bait;\nendmodule"),
    )
    .unwrap();
    let o = fusesoc(&kit, &work, &["run", "--target", "lint", vlnv]);
    assert!(
        !o.status.success(),
        "lint passed an unused wire:\n{}",
        text(&o)
    );
    assert!(text(&o).contains("lint_bait"), "{}", text(&o));
}

/// The core's sim target runs the testbench on `bbs hdl --csb --input`'s
/// memory images, in Verilator and in Icarus, and prints what the
/// simulator computes: the same y = W x and the same cycle count.
#[test]
fn fusesoc_sim_target_matches_the_simulator() {
    if fusesoc_for_test("FuseSoC's sim target").is_none()
        || !bbs_hdlgen::verilator::available_for_test("FuseSoC's sim target")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = Array2::from_shape_fn((24, 16), |(r, c)| ((r * 16 + c) as f32 * 0.37).sin());
    write_npy_atomic(&d.join("w.npy"), &w).unwrap();
    let x = Array1::from_shape_fn(16, |i| (i as f32 * 0.3).cos() * 0.9);
    write_npy_atomic(&d.join("x.npy"), &x).unwrap();
    let tiny = config("tiny");
    let (wp, xp, csb) = (d.join("w.npy"), d.join("x.npy"), d.join("w.csb"));
    ok(bbs(&[
        "prune",
        s(&wp),
        "--config",
        s(&tiny),
        "--sparsity",
        "0.5",
        "-o",
        s(&csb),
    ]));
    let kit = d.join("kit");
    hdl(
        "tiny",
        &kit,
        &["--prefix", "vad", "--csb", s(&csb), "--input", s(&xp)],
    );

    let cfg = bbs_sim::Config::from_file(&tiny).unwrap();
    let c = bbs_compress::Csb::read(&csb).unwrap();
    let xv = bbs::flow::load_vector(&xp, &cfg).unwrap();
    let program = bbs_hdlgen::memfiles::spmv_program(&cfg, &c);
    let sim = bbs::flow::simulate_program(&cfg, &[c], &program, &[xv], 1).unwrap();
    assert_eq!(sim.stored.len(), 24);

    let vlnv = "bbs:accelerator:vad_tiny:0.1.0";
    let work = d.join("work");
    std::fs::create_dir_all(&work).unwrap();
    for tool in ["verilator", "icarus"] {
        if tool == "icarus" && Command::new("iverilog").arg("-V").output().is_err() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true and iverilog is not installed"
            );
            eprintln!("SKIPPED the sim target in Icarus: iverilog is not installed");
            continue;
        }
        let o = ok(fusesoc(
            &kit,
            &work,
            &["run", "--target", "sim", "--tool", tool, vlnv],
        ));
        let rtl = bbs_hdlgen::verilator::parse_output(&text(&o))
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert_eq!(
            rtl.output, sim.stored,
            "{tool}: y differs from the simulator"
        );
        assert_eq!(rtl.cycles, sim.cycles, "{tool}: cycles differ");
    }
}

/// Stand-ins for the Quartus and Vivado commands the scripts call: each
/// logs its call to `calls.log` and checks that the files it is given
/// exist, so that `tclsh` runs the scripts as the tools would (TCL syntax,
/// paths from the script's own directory, the memory images copied).
const STUB_TOOLS: &str = r#"
set log [open calls.log w]
proc need {path} {
  if {![file exists $path]} { error "missing file: $path" }
}
proc call {args} { puts $::log $args }
proc load_package {args} { call load_package {*}$args }
proc project_new {args} { call project_new {*}$args }
proc set_global_assignment {args} {
  call set_global_assignment {*}$args
  if {[lindex $args 1] in {VERILOG_FILE SDC_FILE}} { need [lindex $args 2] }
}
proc set_instance_assignment {args} { call set_instance_assignment {*}$args }
proc export_assignments {} { call export_assignments }
proc execute_flow {args} { call execute_flow {*}$args }
proc project_close {} { call project_close }
proc create_project {args} { call create_project {*}$args }
proc current_project {} { return proj }
proc current_fileset {} { return sources_1 }
proc get_runs {name} { return $name }
proc get_files {files} { foreach f $files { need $f }; return $files }
proc set_property {args} { call set_property {*}$args }
proc add_files {args} {
  call add_files {*}$args
  foreach f [lindex $args end] { need $f }
}
proc launch_runs {args} { call launch_runs {*}$args }
proc wait_on_run {args} { call wait_on_run {*}$args }
proc get_property {args} { return "100%" }
proc open_run {args} { call open_run {*}$args }
proc report_utilization {args} { call report_utilization {*}$args }
proc report_timing_summary {args} { call report_timing_summary {*}$args }
source [lindex $argv 0]
close $log
"#;

#[test]
fn the_project_scripts_run_in_tclsh_with_stand_in_tools() {
    if Command::new("tclsh").arg("/dev/null").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and tclsh is not installed"
        );
        eprintln!("SKIPPED the project scripts: tclsh is not installed (apt-get install tcl)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("kit");
    hdl("tiny", &kit, &["--prefix", "m"]);
    let stub = dir.path().join("stub.tcl");
    std::fs::write(&stub, STUB_TOOLS).unwrap();
    for (script, flow) in [
        ("quartus.tcl", "execute_flow -compile"),
        ("vivado.tcl", "launch_runs impl_1"),
    ] {
        // Run from another directory: the script finds its files itself.
        let work = dir.path().join(script.replace('.', "_"));
        std::fs::create_dir_all(&work).unwrap();
        let o = Command::new("tclsh")
            .arg(&stub)
            .arg(kit.join(script))
            .current_dir(&work)
            .output()
            .unwrap();
        assert!(o.status.success(), "{script}: {}", text(&o));
        let calls = read(&work.join("calls.log"));
        for r in rtl_files(&kit) {
            assert!(
                calls.contains(&format!("rtl/{r}")),
                "{script}: rtl/{r} not added"
            );
        }
        assert!(calls.contains(flow), "{script}: no '{flow}' in:\n{calls}");
        assert!(calls.contains("m_top"), "{script}: top");
    }
    // Quartus opens the $readmemh images in its project directory (a
    // prefixed design's own: m_program.hex).
    for m in ["m_program.hex", "m_pe0_mat.hex", "m_vmem_b0.hex"] {
        assert!(
            kit.join("build/quartus").join(m).is_file(),
            "{m} not copied"
        );
    }
    // A script naming a file that is not there fails under the stand-ins.
    std::fs::remove_file(kit.join("rtl/m_pe.v")).unwrap();
    let o = Command::new("tclsh")
        .arg(&stub)
        .arg(kit.join("vivado.tcl"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        !o.status.success() && text(&o).contains("m_pe.v"),
        "{}",
        text(&o)
    );
}

/// `bbs hdl --model DIR`: a compiled network's design with its own memory
/// images, the ones `bbs compile` wrote into DIR/hex byte for byte, under
/// the prefix's names; two compiled models lint in one netlist.
#[test]
fn two_compiled_models_live_side_by_side() {
    if !bbs_hdlgen::verilator::available_for_test("two compiled models in one netlist") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("data/silero-vad/silero_vad_16k.safetensors");
    let mut kits = Vec::new();
    for (prefix, sparsity) in [("a", "0.75"), ("b", "0.5")] {
        let compiled = dir.path().join(format!("{prefix}-compiled"));
        ok(bbs(&[
            "compile",
            s(&model),
            "--sparsity",
            sparsity,
            "-o",
            s(&compiled),
        ]));
        let kit = dir.path().join(prefix);
        ok(bbs(&[
            "hdl",
            "--model",
            s(&compiled),
            "--prefix",
            prefix,
            "-o",
            s(&kit),
        ]));
        let mut images = 0;
        for e in std::fs::read_dir(compiled.join("hex")).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert_eq!(
                std::fs::read(compiled.join("hex").join(&name)).unwrap(),
                std::fs::read(kit.join("mem").join(format!("{prefix}_{name}"))).unwrap(),
                "{prefix}_{name}"
            );
            images += 1;
        }
        assert!(images > 10, "{images} images");
        kits.push(kit);
    }
    // Different sparsities, different matrices.
    assert_ne!(
        std::fs::read(kits[0].join("mem/a_pe0_mat.hex")).unwrap(),
        std::fs::read(kits[1].join("mem/b_pe0_mat.hex")).unwrap()
    );
    let o = lint_two(dir.path(), &kits[0], &kits[1], "a_top", "b_top");
    let t = text(&o);
    assert!(
        o.status.success() && !t.contains("%Warning") && !t.contains("%Error"),
        "{t}"
    );
}
