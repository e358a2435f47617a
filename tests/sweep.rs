//! `bbs sweep` end to end on small sweeps of `small-lstm`: the CSV's shape
//! and order, latency against PEs, the Pareto front, determinism, recorded
//! (non-fatal) infeasible points, and clean refusals of bad options.

use approx::abs_diff_eq;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const COLUMNS: [&str; 20] = [
    "name",
    "pes",
    "banks",
    "sparsity",
    "max_rows",
    "max_cols",
    "max_slots",
    "cycles",
    "latency_us",
    "multiplier_utilization",
    "macs",
    "multipliers",
    "dsp_blocks",
    "block_rams",
    "logic",
    "resource_share",
    "fits_budget",
    "feasible",
    "pareto",
    "reason",
];

fn bbs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bbs"))
        .args(args)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Run a sweep of small-lstm into `out` with extra options; it must succeed.
fn sweep(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["sweep", "--workload", "small-lstm", "-q", "-o", s(out)];
    args.extend_from_slice(extra);
    let o = bbs(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// Split one CSV line, honouring double-quoted fields.
fn split_csv(line: &str) -> Vec<String> {
    let (mut fields, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

type Row = BTreeMap<String, String>;

fn read_csv(dir: &Path) -> (Vec<String>, Vec<Row>) {
    let text = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    let mut lines = text.lines();
    let header = split_csv(lines.next().unwrap());
    let rows = lines
        .map(|l| {
            let f = split_csv(l);
            assert_eq!(f.len(), header.len(), "row '{l}'");
            header.iter().cloned().zip(f).collect()
        })
        .collect();
    (header, rows)
}

fn num<T: std::str::FromStr>(r: &Row, col: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    r[col]
        .parse()
        .unwrap_or_else(|e| panic!("{col} = '{}': {e:?}", r[col]))
}

#[test]
fn csv_has_one_row_per_point_in_order_with_fixed_columns() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    let o = sweep(
        &out,
        &[
            "--pes",
            "8,2,4,1",
            "--banks",
            "8,4",
            "--sparsity",
            "0.75,0.5",
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("16 points, 16 feasible"), "{stdout}");
    assert!(
        stdout.starts_with("small-lstm on the overlapped machine, "),
        "{stdout}"
    );
    assert!(stdout.contains("Pareto set at sparsity 0.5"), "{stdout}");

    let (header, rows) = read_csv(&out);
    assert_eq!(header, COLUMNS);
    assert_eq!(rows.len(), 16);
    // Sorted by sparsity, then banks, then PEs, whatever the option order.
    let mut expected = Vec::new();
    for sp in ["0.5", "0.75"] {
        for k in [4, 8] {
            for p in [1, 2, 4, 8] {
                expected.push(format!("p{p}-k{k}-s{sp}"));
            }
        }
    }
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str()).collect();
    assert_eq!(names, expected);
    for r in &rows {
        let (p, k): (usize, usize) = (num(r, "pes"), num(r, "banks"));
        assert_eq!(num::<usize>(r, "multipliers"), p * k);
        // Q16: two multipliers per Arria 10 DSP block, the PEs', the 8
        // EWOP lanes' two each and, on the overlapped machine (the sweep's
        // default), the 8 ACT lanes' slope multiplies.
        assert_eq!(num::<usize>(r, "dsp_blocks"), (p * k + 24).div_ceil(2));
        let cycles: u64 = num(r, "cycles");
        let us: f64 = num(r, "latency_us");
        assert!(
            abs_diff_eq!(us, cycles as f64 / 200.0, epsilon = 1e-3),
            "{r:?}"
        );
        let u: f64 = num(r, "multiplier_utilization");
        assert!(u > 0.0 && u <= 1.0, "{r:?}");
        // small-lstm's gate matrices are 512 x 64 and 512 x 128: the
        // default's 1024 x 512 already holds them.
        assert_eq!(num::<usize>(r, "max_rows"), 1024);
        assert_eq!(num::<usize>(r, "max_cols"), 512);
        assert_eq!(r["feasible"], "true");
        assert_eq!(r["reason"], "");
        // Arria 10 ALMs: the vector memory's MLAB banks and the logic, tens of thousands.
        let logic: usize = num(r, "logic");
        assert!((10_000..427_200).contains(&logic), "{r:?}");
    }

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(json["sweep_version"], 3);
    assert_eq!(json["machine"], "overlapped");
    assert_eq!(json["workload"], "small-lstm");
    assert_eq!(json["points"].as_array().unwrap().len(), 16);
    assert_eq!(json["budget"]["dsp_blocks"], 1518);
    assert_eq!(json["budget"]["block_rams"], 2713);
    assert_eq!(json["budget"]["logic"], 427_200);
    for (p, r) in json["points"].as_array().unwrap().iter().zip(&rows) {
        assert_eq!(p["logic"].to_string(), r["logic"], "{r:?}");
    }
    let svg = std::fs::read_to_string(out.join("pareto.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("sparsity 0.75"));
    // Nothing but the three files (the staging directory is gone).
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["pareto.svg", "sweep.csv", "sweep.json"]);
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 1, "a staging directory was left behind");
}

/// The cycles of every point of a sweep, by (banks, sparsity), sorted by PEs.
fn cycles_by_group(out: &Path) -> BTreeMap<(String, String), Vec<(usize, u64)>> {
    let (_, rows) = read_csv(out);
    let mut groups: BTreeMap<(String, String), Vec<(usize, u64)>> = BTreeMap::new();
    for r in &rows {
        groups
            .entry((r["banks"].clone(), r["sparsity"].clone()))
            .or_default()
            .push((num(r, "pes"), num(r, "cycles")));
    }
    for v in groups.values_mut() {
        v.sort();
    }
    groups
}

/// More PEs: on the serialized machine every frame is shorter; on the
/// overlapped one (the default) never longer, and at every point at most
/// the serialized frame, half the points or more well below it.
#[test]
fn latency_falls_as_pes_grow() {
    let dir = tempfile::tempdir().unwrap();
    let grid = [
        "--pes",
        "1,2,3,4,8,16,32",
        "--banks",
        "2,8",
        "--sparsity",
        "0.5,0.875",
    ];
    let (on, off) = (dir.path().join("on"), dir.path().join("off"));
    sweep(&on, &grid);
    sweep(&off, &[&grid[..], &["--overlap", "off"]].concat());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(off.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(json["machine"], "serialized");
    let (on, off) = (cycles_by_group(&on), cycles_by_group(&off));
    assert_eq!(off.len(), 4);
    for (key, v) in &off {
        for w in v.windows(2) {
            assert!(
                w[1].1 < w[0].1,
                "serialized {key:?}: {} PEs take {} cycles, {} PEs {}",
                w[0].0,
                w[0].1,
                w[1].0,
                w[1].1
            );
        }
    }
    let mut much_faster = 0;
    for (key, v) in &on {
        assert!(
            v.windows(2).all(|w| w[1].1 <= w[0].1),
            "overlapped {key:?}: {v:?}"
        );
        for (&(pes, c_on), &(_, c_off)) in v.iter().zip(&off[key]) {
            assert!(c_on <= c_off, "{key:?} {pes} PEs: {c_on} > {c_off}");
            much_faster += usize::from(4 * c_on < 3 * c_off);
        }
    }
    // (With one or two PEs the frame is bound by the PE array either way.)
    assert!(much_faster >= 14, "{much_faster} of 28 points 25% faster");
}

/// `bbs sim --workload small-lstm --sparsity 0.75` into `out` (its report.json), on `config`.
fn sim_report(out: &Path, config: Option<&Path>) -> serde_json::Value {
    let mut args = vec![
        "sim",
        "--workload",
        "small-lstm",
        "--sparsity",
        "0.75",
        "--frames",
        "1",
        "--out-dir",
        s(out),
    ];
    if let Some(c) = config {
        args.extend_from_slice(&["--config", s(c)]);
    }
    let o = bbs(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

/// The one row of a one-point sweep (p8-k8-s0.75, the default's PEs and banks).
fn one_point(out: &Path, extra: &[&str]) -> Row {
    let grid = ["--pes", "8", "--banks", "8", "--sparsity", "0.75"];
    sweep(out, &[&grid[..], extra].concat());
    let (_, mut rows) = read_csv(out);
    assert_eq!(rows.len(), 1);
    rows.remove(0)
}

fn machine(out: &Path) -> String {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    json["machine"].as_str().unwrap().to_string()
}

/// The sweep's numbers are `bbs sim --workload`'s: `--overlap off` gives
/// frame 0 of the serialized machine, `--overlap on` the steady-state frame
/// of the machine with every overlap technique (the ablation's last row),
/// cycles and multiplier utilization alike.
#[test]
fn a_point_is_what_bbs_sim_workload_reports_on_each_machine() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("default.toml");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/hw/configs/default.toml"),
        &base,
    )
    .unwrap();
    let overlapped = dir.path().join("overlapped.toml");
    let mut text = std::fs::read_to_string(&base).unwrap();
    text.push_str(
        "\n[overlap]\nunits = true\nvector_buffers = 2\nchaining = true\n\
         act_unit = true\ninput_ahead = true\n",
    );
    std::fs::write(&overlapped, text).unwrap();

    let serial = sim_report(&dir.path().join("sim-serial"), Some(&base));
    let frame0 = &serial["frames"][0];
    let off = one_point(&dir.path().join("off"), &["--overlap", "off"]);
    assert_eq!(off["cycles"], frame0["cycles"].to_string(), "{off:?}");
    assert_eq!(off["macs"], frame0["macs"].to_string(), "{off:?}");
    let u: f64 = num(&off, "multiplier_utilization");
    let sim_u = frame0["multiplier_utilization"].as_f64().unwrap();
    assert!(abs_diff_eq!(u, sim_u, epsilon = 1e-6), "{u} vs {sim_u}");
    assert_eq!(machine(&dir.path().join("off")), "serialized");

    let all = sim_report(&dir.path().join("sim-overlap"), Some(&overlapped));
    let steady = &all["steady_frame"];
    let rows = all["ablation"].as_array().unwrap().clone();
    let row = |step: &str| {
        rows.iter()
            .find(|r| r["step"] == step)
            .unwrap_or_else(|| panic!("no ablation row {step}"))
            .clone()
    };
    let ahead = row("+ next frame's input product ahead");
    assert_eq!(steady["cycles"], ahead["cycles"]);
    let on = one_point(&dir.path().join("on"), &[]);
    assert_eq!(on["cycles"], steady["cycles"].to_string(), "{on:?}");
    let u: f64 = num(&on, "multiplier_utilization");
    let sim_u = steady["multipliers_busy"].as_f64().unwrap();
    assert!(abs_diff_eq!(u, sim_u, epsilon = 1e-6), "{u} vs {sim_u}");
    assert_eq!(machine(&dir.path().join("on")), "overlapped");
    // The steady state of the overlapped machine is shorter than frame 0
    // of the serialized one here (900 and 384 cycles when this was written).
    assert!(num::<u64>(&on, "cycles") < num::<u64>(&off, "cycles"));

    // `--overlap interleaved`: the ablation's last row, the machine with
    // bank-interleaved vectors and the two-wide load.
    let il = one_point(&dir.path().join("il"), &["--overlap", "interleaved"]);
    let wide = row("+ two-wide vector load");
    assert_eq!(il["cycles"], wide["cycles"].to_string(), "{il:?}");
    assert!(num::<u64>(&il, "cycles") <= num::<u64>(&on, "cycles"));
    assert_eq!(
        machine(&dir.path().join("il")),
        "overlapped, bank-interleaved"
    );
    // A point whose vectors do not fill whole bank rows is infeasible, and
    // says why (small-lstm's 128 cells on 6 banks).
    let odd = dir.path().join("il-odd");
    sweep(
        &odd,
        &[
            "--pes",
            "8",
            "--banks",
            "6",
            "--sparsity",
            "0.75",
            "--overlap",
            "interleaved",
        ],
    );
    let (_, rows6) = read_csv(&odd);
    assert_eq!(rows6[0]["feasible"], "false", "{:?}", rows6[0]);
    assert!(
        rows6[0]["reason"].contains("is not a multiple of banks (6)"),
        "{:?}",
        rows6[0]
    );

    // The flag, not the base's [overlap], picks the machine.
    let o = one_point(
        &dir.path().join("base-on-flag-off"),
        &["--config", s(&overlapped), "--overlap", "off"],
    );
    assert_eq!(o["cycles"], off["cycles"]);
    let o = one_point(
        &dir.path().join("base-off-flag-on"),
        &["--config", s(&base)],
    );
    assert_eq!(o["cycles"], on["cycles"]);
}

/// Matrices streamed from DRAM: the overlapped machine does not exist, so
/// both settings of `--overlap` schedule the serialized machine, and say so.
#[test]
fn a_dram_base_runs_serialized_either_way() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("dram.toml");
    let mut text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/hw/configs/default.toml"
    ))
    .unwrap();
    text.push_str(
        "\n[memory]\nmatrix = \"dram\"\ndram_bytes_per_cycle = 64\n\
         vector_words = 16384\ninstruction_words = 256\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let (on, off) = (dir.path().join("on"), dir.path().join("off"));
    let r_on = one_point(&on, &["--config", s(&cfg)]);
    let r_off = one_point(&off, &["--config", s(&cfg), "--overlap", "off"]);
    assert_eq!(r_on, r_off);
    assert_eq!(machine(&on), "serialized");
    assert_eq!(machine(&off), "serialized");
    let sim = sim_report(&dir.path().join("sim"), Some(&cfg));
    assert_eq!(r_on["cycles"], sim["frames"][0]["cycles"].to_string());
    // Streaming the matrices is slower than holding them on chip.
    let onchip = one_point(&dir.path().join("onchip"), &["--overlap", "off"]);
    assert!(num::<u64>(&r_on, "cycles") > num::<u64>(&onchip, "cycles"));
}

#[test]
fn pareto_front_is_exactly_the_non_dominated_feasible_points() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    // A small DSP budget puts the big points over it: they must not count.
    let (bd, bb, bl) = (40u128, 300u128, 427_200u128);
    sweep(
        &out,
        &[
            "--pes",
            "1,2,3,4,6,8,12,16",
            "--banks",
            "2,4,8,16",
            "--sparsity",
            "0.5,0.875",
            "--budget-dsp",
            "40",
            "--budget-bram",
            "300",
        ],
    );
    let (_, rows) = read_csv(&out);
    assert_eq!(rows.len(), 64);
    // (sparsity, cycles, exact resource key = share * bd * bb, pareto)
    let mut feasible = Vec::new();
    let mut over = 0;
    for r in &rows {
        let (d, b, l): (u128, u128, u128) =
            (num(r, "dsp_blocks"), num(r, "block_rams"), num(r, "logic"));
        let fits = d <= bd && b <= bb && l <= bl;
        assert_eq!(r["fits_budget"], fits.to_string(), "{r:?}");
        assert_eq!(r["feasible"], fits.to_string(), "{r:?}");
        let share: f64 = num(r, "resource_share");
        let exact = (d as f64 / bd as f64)
            .max(b as f64 / bb as f64)
            .max(l as f64 / bl as f64);
        assert!(abs_diff_eq!(share, exact, epsilon = 1e-6), "{r:?}");
        if fits {
            feasible.push((
                r["sparsity"].clone(),
                num::<u64>(r, "cycles"),
                (d * bb * bl).max(b * bd * bl).max(l * bd * bb),
                r["pareto"] == "true",
                r["name"].clone(),
            ));
        } else {
            over += 1;
            assert_eq!(r["pareto"], "false", "{r:?}");
            assert!(r["reason"].starts_with("over budget: "), "{r:?}");
        }
    }
    assert!(
        over > 0 && !feasible.is_empty(),
        "the budget must split the points"
    );
    let dominates = |a: &(String, u64, u128, bool, String),
                     b: &(String, u64, u128, bool, String)| {
        a.0 == b.0 && a.1 <= b.1 && a.2 <= b.2 && (a.1 < b.1 || a.2 < b.2)
    };
    let mut front = 0;
    for p in &feasible {
        let dominated = feasible.iter().any(|q| dominates(q, p));
        assert_eq!(
            p.3, !dominated,
            "{}: pareto {} but dominated {}",
            p.4, p.3, dominated
        );
        front += p.3 as usize;
    }
    assert!(front >= 2, "a front of {front} points");

    // The JSON lists the same front per sparsity.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    let listed: usize = json["pareto"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["points"].as_array().unwrap().len())
        .sum();
    assert_eq!(listed, front);
}

#[test]
fn a_logic_budget_puts_points_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    let args = ["--pes", "1,4", "--banks", "2,8", "--sparsity", "0.5"];
    // --budget-logic 1: every point is over on logic, and on nothing else.
    for device in ["intel-m20k", "xilinx-ramb36"] {
        let mut extra = vec!["--device", device, "--budget-logic", "1"];
        extra.extend_from_slice(&args);
        let o = sweep(&out, &extra);
        let stdout = String::from_utf8_lossy(&o.stdout);
        let unit = if device == "intel-m20k" {
            "1 ALMs"
        } else {
            "1 CLB LUTs"
        };
        assert!(stdout.contains(unit), "{stdout}");
        assert!(
            stdout.contains("4 points, 0 feasible (4 over budget, 0 failed)"),
            "{stdout}"
        );
        let (_, rows) = read_csv(&out);
        assert_eq!(rows.len(), 4);
        for r in &rows {
            let logic: usize = num(r, "logic");
            assert!(logic > 1, "{r:?}");
            assert_eq!(r["fits_budget"], "false", "{r:?}");
            assert_eq!(r["feasible"], "false", "{r:?}");
            assert_eq!(r["pareto"], "false", "{r:?}");
            assert_eq!(
                r["reason"],
                format!("over budget: logic: {logic} needed, 1 available"),
                "{r:?}"
            );
            // The logic is the tightest resource: the share is logic / 1.
            let share: f64 = num(r, "resource_share");
            assert!(abs_diff_eq!(share, logic as f64, epsilon = 1e-6), "{r:?}");
            // It still simulated.
            assert!(!r["cycles"].is_empty(), "{r:?}");
        }
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap())
                .unwrap();
        assert_eq!(json["budget"]["logic"], 1);
        assert!(json["pareto"][0]["points"].as_array().unwrap().is_empty());
    }
    // A budget between the points' logic splits them: the ones within it are feasible.
    let mut extra = vec!["--budget-logic", "1"];
    extra.extend_from_slice(&args);
    sweep(&out, &extra);
    let (_, rows) = read_csv(&out);
    let logic: Vec<usize> = rows.iter().map(|r| num::<usize>(r, "logic")).collect();
    let between = (logic.iter().min().unwrap() + logic.iter().max().unwrap())
        .div_ceil(2)
        .to_string();
    let mut extra = vec!["--budget-logic", between.as_str()];
    extra.extend_from_slice(&args);
    sweep(&out, &extra);
    let (_, rows) = read_csv(&out);
    let fits: Vec<bool> = rows
        .iter()
        .map(|r| num::<usize>(r, "logic") <= between.parse::<usize>().unwrap())
        .collect();
    assert!(fits.contains(&true) && fits.contains(&false), "{rows:?}");
    for (r, f) in rows.iter().zip(fits) {
        assert_eq!(r["feasible"], f.to_string(), "{r:?}");
        assert_eq!(r["reason"].starts_with("over budget: logic: "), !f, "{r:?}");
    }
}

#[test]
fn same_input_gives_byte_identical_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--pes",
        "1,3,8",
        "--banks",
        "4,16",
        "--sparsity",
        "0.5,0.75",
        "--seed",
        "7",
    ];
    for overlap in ["on", "off"] {
        let a = dir.path().join(format!("a-{overlap}"));
        let b = dir.path().join(format!("b-{overlap}"));
        let args = [&args[..], &["--overlap", overlap]].concat();
        sweep(&a, &args);
        // A different thread count must not change a byte either.
        let mut cmd = vec!["sweep", "--workload", "small-lstm", "-q", "-o", s(&b)];
        cmd.extend_from_slice(&args);
        let o = Command::new(env!("CARGO_BIN_EXE_bbs"))
            .args(&cmd)
            .env("RAYON_NUM_THREADS", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for f in ["sweep.csv", "sweep.json", "pareto.svg"] {
            assert_eq!(
                std::fs::read(a.join(f)).unwrap(),
                std::fs::read(b.join(f)).unwrap(),
                "--overlap {overlap}: {f} differs"
            );
        }
    }
}

#[test]
fn infeasible_points_are_recorded_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    // Too little vector memory for small-lstm: on the serialized machine
    // every point fails, the sweep does not. (The overlapped machine's
    // vector memory is sized to the program: below.)
    let cfg = dir.path().join("small-vmem.toml");
    std::fs::write(
        &cfg,
        "name = \"small-vmem\"\npes = 8\nbanks = 8\nvalue_width = 16\nfrac_bits = 12\n\
         acc_width = 40\nmax_rows = 1024\nmax_cols = 512\nmax_slots = 16\n\
         [pipeline]\nmult_stages = 2\nadder_stages = 1\n\
         [memory]\nmatrix = \"onchip\"\ndram_bytes_per_cycle = 64\nvector_words = 100\ninstruction_words = 256\n",
    )
    .unwrap();
    let out = dir.path().join("sw");
    let grid = [
        "--config",
        s(&cfg),
        "--pes",
        "2,4",
        "--banks",
        "4",
        "--sparsity",
        "0.5",
    ];
    let o = sweep(&out, &[&grid[..], &["--overlap", "off"]].concat());
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 points, 0 feasible"));
    let (_, rows) = read_csv(&out);
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r["feasible"], "false");
        assert_eq!(r["pareto"], "false");
        assert_eq!(r["cycles"], "");
        assert!(r["reason"].contains("memory.vector_words"), "{r:?}");
        // The resources are still estimated.
        assert!(!r["dsp_blocks"].is_empty());
    }
    let o = sweep(&out, &grid);
    assert!(o.status.success());
    let (_, rows) = read_csv(&out);
    for r in &rows {
        assert!(!r["cycles"].is_empty(), "{r:?}");
    }
}

#[test]
fn a_narrow_base_accumulator_grows_with_the_banks() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = concat!(env!("CARGO_MANIFEST_DIR"), "/hw/configs/tiny.toml");
    let out = dir.path().join("sw");
    sweep(
        &out,
        &[
            "--config",
            tiny,
            "--pes",
            "2",
            "--banks",
            "2,16",
            "--sparsity",
            "0.75",
        ],
    );
    let (_, rows) = read_csv(&out);
    assert!(rows.iter().all(|r| r["feasible"] == "true"), "{rows:?}");
}

/// Exit code 1, one `error:` line naming the option, no output directory.
fn assert_refused(extra: &[&str], needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out: PathBuf = dir.path().join("sw");
    let mut args = vec!["sweep", "-o", s(&out)];
    args.extend_from_slice(extra);
    let o = bbs(&args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{extra:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{extra:?}: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "'{needle}' missing: {stderr}");
    assert!(!out.exists(), "{extra:?} left {}", out.display());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn bad_options_are_refused_naming_the_option() {
    assert_refused(&["--pes", "0"], "--pes");
    assert_refused(&["--pes", "4,-8"], "--pes");
    assert_refused(&["--pes", "300"], "--pes");
    assert_refused(&["--banks", "4,,8"], "--banks");
    assert_refused(&["--banks", "65"], "--banks");
    assert_refused(&["--sparsity", "1.5"], "--sparsity");
    assert_refused(&["--sparsity", "0.5,nan"], "--sparsity");
    assert_refused(&["--sparsity", "-0.5"], "--sparsity");
    assert_refused(&["--workload", "huge-lstm"], "--workload");
    assert_refused(&["--device", "xilinx"], "--device");
    assert_refused(&["--overlap", "maybe"], "--overlap");
    assert_refused(&["--budget-dsp", "0"], "--budget-dsp");
    assert_refused(&["--budget-bram", "many"], "--budget-bram");
    assert_refused(&["--budget-logic", "0"], "--budget-logic");
    assert_refused(&["--budget-logic", "-1"], "--budget-logic");
    assert_refused(&["--config", "/nonexistent/base.toml"], "--config");
}

/// `--shard I/N` runs part I of N; `bbs sweep merge` joins the parts into
/// the single run's outputs, byte for byte, whatever the order of the
/// directories and whether a part is empty. Bad shards and incomplete or
/// mixed merges are refused with one line, nothing written.
#[test]
fn shards_merge_into_the_single_run_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--pes",
        "1,2,4,8",
        "--banks",
        "2,4",
        "--sparsity",
        "0.5,0.875",
        "--seed",
        "3",
    ];
    let one = dir.path().join("one");
    sweep(&one, &args);
    for parts in [2usize, 3, 20] {
        let mut dirs = Vec::new();
        let mut total = 0;
        for i in (0..parts).rev() {
            let d = dir.path().join(format!("p{parts}-{i}"));
            let shard = format!("{i}/{parts}");
            sweep(&d, &[&args[..], &["--shard", &shard]].concat());
            assert!(
                !d.join("sweep.csv").exists(),
                "a shard writes only its part"
            );
            let doc: serde_json::Value =
                serde_json::from_slice(&std::fs::read(d.join("sweep-shard.json")).unwrap())
                    .unwrap();
            total += doc["points"].as_array().unwrap().len();
            dirs.push(d);
        }
        assert_eq!(total, 16, "{parts} parts cover the grid once");
        let merged = dir.path().join(format!("merged{parts}"));
        let mut cmd = vec!["sweep", "merge", "-o", s(&merged)];
        cmd.extend(dirs.iter().map(|d| s(d)));
        let o = bbs(&cmd);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for f in ["sweep.csv", "sweep.json", "pareto.svg"] {
            assert_eq!(
                std::fs::read(one.join(f)).unwrap(),
                std::fs::read(merged.join(f)).unwrap(),
                "{parts} parts: {f} differs from the single run"
            );
        }
    }
    let refused = |cmd: &[&str], needle: &str| {
        let o = bbs(cmd);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{cmd:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "'{needle}' missing: {stderr}");
    };
    let out = dir.path().join("bad");
    for shard in ["2/2", "1", "a/b", "0/0", "-1/2"] {
        let mut cmd = vec![
            "sweep",
            "--workload",
            "small-lstm",
            "-o",
            s(&out),
            "--shard",
            shard,
        ];
        cmd.extend_from_slice(&args);
        refused(&cmd, "--shard");
    }
    let p = |n: usize, i: usize| dir.path().join(format!("p{n}-{i}"));
    let (a, b, c) = (p(3, 0), p(3, 1), p(3, 2));
    refused(
        &["sweep", "merge", "-o", s(&out), s(&a), s(&b)],
        "part 2/3 is missing",
    );
    refused(
        &["sweep", "merge", "-o", s(&out), s(&a), s(&a), s(&b), s(&c)],
        "both are part 0/3",
    );
    // Another sweep's part (other PEs) does not join these.
    let other = dir.path().join("other");
    sweep(&other, &["--pes", "1,2", "--shard", "1/3"]);
    refused(
        &["sweep", "merge", "-o", s(&out), s(&a), s(&other), s(&c)],
        "part of another sweep",
    );
    refused(
        &["sweep", "merge", "-o", s(&out), s(&one)],
        "sweep-shard.json",
    );
    assert!(!out.exists());
}
