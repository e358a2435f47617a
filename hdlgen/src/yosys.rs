//! Synthesize a generated design with Yosys and count what it maps to.
//!
//! The design is written into a temporary directory and synthesized there,
//! flattened, with one of Yosys 0.23's FPGA flows (see [`Target`]); the
//! flattened netlist's cell counts come from `tee -o stat.json stat -json`
//! and are summed into a [`SynthReport`]. `docs/synthesis.md` lists what is
//! counted as what. Yosys's JSON is read, and the report written, through
//! serde_json with derived types: `creator` is the top-level key only, and
//! escapes (surrogate pairs included) are decoded as JSON defines them.
//!
//! The PEs' matrix memories, the instruction buffer and the vector memory
//! name a `$readmemh` file (`INIT_FILE("pe0_mat.hex")`, and the top's
//! `IMEM_INIT = "program.hex"` and `VMEM_INIT = "vmem.hex"`) that Yosys must
//! be able to open. All three are written at run time in this flow
//! (`mat_we_i`, `imem_we_i`, `load` instructions), so an empty file of each
//! name is written beside the design: the memories get no initial contents
//! and stay writable, and the templates need no synthesis-only switch.

use crate::{generate, Design, HdlError};
use bbs_sim::resources::ResourceEstimate;
use bbs_sim::Config;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The FPGA flow: Xilinx 7-series, or an Intel family with M20K and
/// variable-precision DSP blocks (Cyclone 10 GX, the Arria 10's fabric).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `synth_xilinx -flatten` (7-series: LUT6, RAMB36E1/RAMB18E1, DSP48E1).
    Xilinx,
    /// `synth_intel_alm -family cyclone10gx` (ALUTs, M20K, 18x18/27x27 multipliers).
    Intel,
}

impl Target {
    pub fn name(&self) -> &'static str {
        match self {
            Target::Xilinx => "xilinx",
            Target::Intel => "intel",
        }
    }

    /// The Yosys synthesis command for top module `top`.
    pub fn command(&self, top: &str) -> String {
        match self {
            Target::Xilinx => format!("synth_xilinx -flatten -top {top}"),
            Target::Intel => format!("synth_intel_alm -family cyclone10gx -top {top}"),
        }
    }

    /// The simulator's device model closest to this flow's primitives.
    pub fn device(&self) -> bbs_sim::resources::Device {
        match self {
            Target::Xilinx => bbs_sim::resources::Device::XilinxRamb36,
            Target::Intel => bbs_sim::resources::Device::IntelM20k,
        }
    }
}

/// What Yosys mapped a design to; see `docs/synthesis.md`. Serialized
/// (`to_json`, `bbs synth -o`) with its fields in this order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SynthReport {
    /// Yosys's version line, from `stat -json`'s `creator`.
    pub tool: String,
    /// `"xilinx"` or `"intel"`.
    pub target: String,
    pub top: String,
    /// Logic LUTs: `LUT1`..`LUT6` (Xilinx); `MISTRAL_ALUT2`..`6` and
    /// `MISTRAL_ALUT_ARITH` (Intel, half-ALMs). Inverter cells are not counted.
    pub luts: u64,
    /// LUTs used as memory: `RAM32M`/`RAM64M` 4 each, `RAM*X1*` 1 per 64 bits
    /// (Xilinx); one per `MISTRAL_MLAB` 32x1 cell (Intel).
    pub lutram_luts: u64,
    /// `FD*` (Xilinx), `MISTRAL_FF` (Intel).
    pub flip_flops: u64,
    /// RAMB36 equivalents (`RAMB36E*` 1, `RAMB18E*` 0.5) on Xilinx; M20K
    /// (`altsyncram` cells of the cyclone10gx flow) on Intel.
    #[serde(serialize_with = "whole_or_fraction")]
    pub block_rams: f64,
    /// `DSP48E*` slices (Xilinx); DSP blocks on Intel: `MISTRAL_MUL27X27` 1,
    /// two `MISTRAL_MUL18X18` or three `MISTRAL_MUL9X9` per block.
    pub dsps: u64,
    /// Every cell type of the flattened netlist and its count.
    pub cells: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("yosys is not installed (Debian: apt-get install yosys)")]
    Missing,
    #[error(transparent)]
    Hdl(#[from] HdlError),
    #[error("configuration '{config}': {step}: {message}")]
    Failed {
        config: String,
        step: String,
        message: String,
    },
}

/// The installed Yosys's version line, or `None` when it is not on PATH.
pub fn version() -> Option<String> {
    let out = Command::new("yosys").arg("-V").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Generate the design of `cfg` and synthesize it for `target`; Yosys is
/// killed after `timeout`.
pub fn synthesize_config(
    cfg: &Config,
    target: Target,
    timeout: Duration,
) -> Result<SynthReport, SynthError> {
    let design = generate(cfg)?;
    synthesize(&design, &cfg.name, target, timeout)
}

/// Synthesize `design` (of configuration `config`, for error messages) in a
/// temporary directory.
pub fn synthesize(
    design: &Design,
    config: &str,
    target: Target,
    timeout: Duration,
) -> Result<SynthReport, SynthError> {
    let fail = |step: &str, message: String| SynthError::Failed {
        config: config.to_string(),
        step: step.to_string(),
        message,
    };
    let dir = tempfile::Builder::new()
        .prefix("bbs-synth-")
        .tempdir()
        .map_err(|e| fail("temporary directory", e.to_string()))?;
    let mut script = String::new();
    for f in design.rtl_files() {
        let path = dir.path().join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| fail("write design", format!("{}: {e}", parent.display())))?;
        }
        std::fs::write(&path, &f.contents)
            .map_err(|e| fail("write design", format!("{}: {e}", path.display())))?;
        for name in init_files(&f.contents) {
            let hex = dir.path().join(&name);
            std::fs::write(&hex, "")
                .map_err(|e| fail("write design", format!("{}: {e}", hex.display())))?;
        }
        script.push_str(&format!("read_verilog {}\n", f.path.display()));
    }
    script.push_str(&target.command(&design.top));
    script.push_str("\ntee -q -o stat.json stat -json\n");
    std::fs::write(dir.path().join("synth.ys"), &script)
        .map_err(|e| fail("write design", e.to_string()))?;

    run_yosys(dir.path(), timeout).map_err(|(step, message)| fail(&step, message))?;
    let stat = std::fs::read_to_string(dir.path().join("stat.json"))
        .map_err(|e| fail("stat -json", format!("stat.json: {e}")))?;
    parse_stat(&stat, target, &design.top).map_err(|m| fail("stat -json", m))
}

/// Every non-empty `$readmemh` file name the RTL names: the literals passed
/// as `INIT_FILE("name")` (the PEs' matrix memories, the overlapped
/// machine's issue lists) or `WAIT_FILE("name")` (its wait table) and the string defaults
/// of `parameter X_INIT = "name"` (the top's `IMEM_INIT` and `VMEM_INIT`,
/// which it passes on to the instruction buffer and the vector memory).
pub fn init_files(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut push = |name: &str| {
        if !name.is_empty() && !name.contains('/') && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    };
    for key in ["INIT_FILE(\"", "WAIT_FILE(\""] {
        let mut rest = text;
        while let Some(at) = rest.find(key) {
            rest = &rest[at + key.len()..];
            if let Some(end) = rest.find('"') {
                push(&rest[..end]);
            }
        }
    }
    for line in text.lines() {
        let Some(decl) = line.trim_start().strip_prefix("parameter ") else {
            continue;
        };
        let Some((lhs, rhs)) = decl.split_once('=') else {
            continue;
        };
        let ident = lhs.split_whitespace().last().unwrap_or("");
        if !(ident.ends_with("INIT") || ident.ends_with("INIT_FILE")) {
            continue;
        }
        if let Some(body) = rhs.trim_start().strip_prefix('"') {
            if let Some(end) = body.find('"') {
                push(&body[..end]);
            }
        }
    }
    names
}

/// Run `yosys -s synth.ys` in `dir`; on failure (step, message) where the
/// step is the Yosys pass that was running.
fn run_yosys(dir: &Path, timeout: Duration) -> Result<(), (String, String)> {
    let log_path = dir.join("yosys.log");
    let out = File::create(dir.join("yosys.out")).map_err(|e| ("start".into(), e.to_string()))?;
    let err = out
        .try_clone()
        .map_err(|e| ("start".into(), e.to_string()))?;
    let mut child = Command::new("yosys")
        .current_dir(dir)
        .args(["-q", "-l", "yosys.log", "-s", "synth.ys"])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                (
                    "start".into(),
                    "yosys is not installed (Debian: apt-get install yosys)".into(),
                )
            } else {
                ("start".into(), e.to_string())
            }
        })?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err((
                    last_pass(&log),
                    format!("yosys timed out after {} s", timeout.as_secs()),
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(("wait".into(), e.to_string())),
        }
    };
    if !status.success() {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let out = std::fs::read_to_string(dir.join("yosys.out")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err((
            last_pass(&log),
            format!(
                "yosys failed ({status}):\n{}\n{}",
                out.trim(),
                tail.join("\n")
            ),
        ));
    }
    Ok(())
}

/// The last `N. Executing PASS ...` of a Yosys log, as `yosys PASS`.
fn last_pass(log: &str) -> String {
    log.lines()
        .rev()
        .find_map(|l| {
            let (num, rest) = l.split_once(". Executing ")?;
            if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
                return None;
            }
            let pass = rest.split_whitespace().next()?;
            Some(format!("yosys {}", pass.to_lowercase()))
        })
        .unwrap_or_else(|| "yosys".to_string())
}

/// LUTs of one Xilinx distributed-RAM primitive (a LUT6 holds 64 bits).
fn xilinx_lutram_luts(cell: &str) -> Option<u64> {
    Some(match cell {
        "RAM32M" | "RAM64M" => 4,
        "RAM32M16" | "RAM64M8" | "RAM32X16DR8" | "RAM64X8SW" => 8,
        "RAM32X1S" | "RAM64X1S" => 1,
        "RAM32X1D" | "RAM64X1D" | "RAM128X1S" => 2,
        "RAM128X1D" | "RAM256X1S" => 4,
        "RAM256X1D" | "RAM512X1S" => 8,
        _ => return None,
    })
}

/// What `stat -json` writes (Yosys 0.23), as far as the report reads it;
/// other keys are ignored.
#[derive(Deserialize)]
struct Stat {
    /// Yosys's version line: the top-level `creator` only.
    creator: String,
    /// Per-module tables, by module name (`\\bbs_top`).
    #[serde(default)]
    modules: BTreeMap<String, StatModule>,
    /// The whole design's table (present when a top module is known).
    design: Option<StatModule>,
}

#[derive(Deserialize)]
struct StatModule {
    num_cells_by_type: BTreeMap<String, u64>,
}

/// Build the report from `stat -json` of a flattened design.
pub fn parse_stat(json: &str, target: Target, top: &str) -> Result<SynthReport, String> {
    let stat: Stat = serde_json::from_str(json).map_err(|e| e.to_string())?;
    // The whole design's table; a flattened design has one module, whose
    // table is the same.
    let cells = match (stat.design, stat.modules.len()) {
        (Some(design), _) => design.num_cells_by_type,
        (None, 1) => stat.modules.into_values().next().unwrap().num_cells_by_type,
        (None, 0) => return Err("no \"num_cells_by_type\" table".into()),
        (None, n) => {
            return Err(format!(
                "no \"design\" table and {n} modules (not flattened?)"
            ))
        }
    };
    let tool = stat.creator;
    let count = |f: &dyn Fn(&str) -> bool| -> u64 {
        cells.iter().filter(|(k, _)| f(k)).map(|(_, v)| *v).sum()
    };
    let report = match target {
        Target::Xilinx => SynthReport {
            luts: count(&|c| matches!(c, "LUT1" | "LUT2" | "LUT3" | "LUT4" | "LUT5" | "LUT6")),
            lutram_luts: cells
                .iter()
                .filter_map(|(k, v)| xilinx_lutram_luts(k).map(|l| l * v))
                .sum(),
            flip_flops: count(&|c| c.starts_with("FD")),
            block_rams: count(&|c| c.starts_with("RAMB36")) as f64
                + 0.5 * count(&|c| c.starts_with("RAMB18")) as f64,
            dsps: count(&|c| c.starts_with("DSP48")),
            tool,
            target: target.name().into(),
            top: top.into(),
            cells,
        },
        Target::Intel => SynthReport {
            luts: count(&|c| c.starts_with("MISTRAL_ALUT")),
            lutram_luts: count(&|c| c == "MISTRAL_MLAB"),
            flip_flops: count(&|c| c == "MISTRAL_FF"),
            block_rams: count(&|c| c == "altsyncram" || c == "__MISTRAL_M20K_SDP") as f64,
            dsps: count(&|c| c == "MISTRAL_MUL27X27")
                + count(&|c| c == "MISTRAL_MUL18X18").div_ceil(2)
                + count(&|c| c == "MISTRAL_MUL9X9").div_ceil(3),
            tool,
            target: target.name().into(),
            top: top.into(),
            cells,
        },
    };
    Ok(report)
}

impl SynthReport {
    /// The report as a JSON object (pretty, one field per line, in the
    /// struct's order), with a closing newline.
    pub fn to_json(&self) -> String {
        let text = serde_json::to_string_pretty(self).expect("a report serializes");
        format!("{text}\n")
    }
}

/// A whole block-RAM count as an integer (`4`, as Yosys counts them), a
/// fractional one as a float (`3.5`).
fn whole_or_fraction<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && *v >= 0.0 && *v <= u64::MAX as f64 {
        s.serialize_u64(*v as u64)
    } else {
        s.serialize_f64(*v)
    }
}

/// A Markdown table of the report beside the simulator's estimate, with the
/// estimate's error relative to Yosys per resource.
pub fn comparison_table(report: &SynthReport, est: &ResourceEstimate) -> String {
    let rel = |yosys: f64, estimate: f64| {
        if yosys == 0.0 {
            if estimate == 0.0 {
                "0%".to_string()
            } else {
                "n/a".to_string()
            }
        } else {
            format!("{:+.0}%", 100.0 * (estimate - yosys) / yosys)
        }
    };
    let rows = [
        ("DSPs", report.dsps as f64, est.dsp_blocks as f64),
        ("block RAMs", report.block_rams, est.block_rams as f64),
        ("LUTs (logic)", report.luts as f64, est.luts as f64),
        ("flip-flops", report.flip_flops as f64, est.registers as f64),
        (
            "LUTRAM LUTs",
            report.lutram_luts as f64,
            est.lutram_luts as f64,
        ),
    ];
    let mut out = format!(
        "| resource | yosys ({}) | estimate ({}) | estimate error |\n|---|---:|---:|---:|\n",
        report.target,
        est.device.label()
    );
    for (name, y, e) in rows {
        out.push_str(&format!("| {name} | {y} | {e} | {} |\n", rel(y, e)));
    }
    let modes: Vec<String> = est
        .memories
        .iter()
        .map(|m| format!("{} {}x{} {}", m.name, m.depth, m.width, m.mode))
        .collect();
    out.push_str(&format!(
        "\nEstimated memories: {}. The block RAMs include {} block(s) for small memories (<= 1 kbit per instance); {} SpMxV multiplier(s).\n",
        modes.join(", "),
        est.small_blocks,
        est.multipliers
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = r#"{
   "creator": "Yosys 0.23 (git sha1 7ce5011c24b)",
   "invocation": "stat -json ",
   "modules": {
      "\\bbs_top": {
         "num_cells": 9,
         "num_cells_by_type": {
            "DSP48E1": 2,
            "FDRE": 3,
            "LUT2": 1,
            "LUT6": 1
         }
      }
   },
      "design": {
         "num_cells":         12,
         "num_cells_by_type": {
            "DSP48E1": 2,
            "FDRE": 3,
            "FDSE": 1,
            "INV": 4,
            "LUT2": 1,
            "LUT6": 1,
            "RAM64M": 2,
            "RAMB18E1": 1,
            "RAMB36E1": 3
         }
      }
}
"#;

    #[test]
    fn counts_xilinx_cells() {
        let r = parse_stat(STAT, Target::Xilinx, "bbs_top").unwrap();
        assert_eq!(r.tool, "Yosys 0.23 (git sha1 7ce5011c24b)");
        assert_eq!((r.luts, r.lutram_luts, r.flip_flops, r.dsps), (2, 8, 4, 2));
        assert_eq!(r.block_rams, 3.5);
        assert_eq!(r.cells["INV"], 4);
        assert!(r.to_json().contains("\"block_rams\": 3.5"));
    }

    #[test]
    fn counts_intel_cells() {
        let stat = r#"{ "creator": "Yosys", "design": { "num_cells_by_type": {
            "MISTRAL_ALUT4": 5, "MISTRAL_ALUT_ARITH": 3, "MISTRAL_FF": 7,
            "MISTRAL_MUL18X18": 3, "MISTRAL_MLAB": 20, "altsyncram": 4 } } }"#;
        let r = parse_stat(stat, Target::Intel, "bbs_top").unwrap();
        assert_eq!((r.luts, r.lutram_luts, r.flip_flops, r.dsps), (8, 20, 7, 2));
        assert_eq!(r.block_rams, 4.0);
    }

    #[test]
    fn finds_init_files_and_failing_pass() {
        let text = "module bbs_top #(\n  parameter IMEM_INIT = \"program.hex\",\n  parameter VMEM_INIT = \"vmem.hex\"\n) ();\n  parameter INIT_FILE = \"\"\n  parameter NAME = \"not_a_file\"\n.INIT_FILE(\"pe0_mat.hex\")\n.INIT_FILE(INIT_FILE)\n.INIT_FILE(\"\")\n.INIT_FILE(\"pe1_mat.hex\")";
        assert_eq!(
            init_files(text),
            vec!["pe0_mat.hex", "pe1_mat.hex", "program.hex", "vmem.hex"]
        );
        let log = "1. Executing Verilog-2005 frontend: rtl/a.v\n2.3. Executing HIERARCHY pass (managing design hierarchy).\nERROR: x";
        assert_eq!(last_pass(log), "yosys hierarchy");
    }

    /// Only the top-level `creator` names the tool: one inside a module (or
    /// before the top-level one in the text) is not taken.
    #[test]
    fn creator_is_the_top_level_key() {
        let stat = r#"{ "modules": { "\\m": { "creator": "not this",
            "num_cells_by_type": { "LUT6": 1 } } },
            "creator": "Yosys 0.23", "design": { "num_cells_by_type": { "LUT6": 1 } } }"#;
        let r = parse_stat(stat, Target::Xilinx, "m").unwrap();
        assert_eq!(r.tool, "Yosys 0.23");
        let nested_only = r#"{ "design": { "creator": "Yosys", "num_cells_by_type": {} } }"#;
        let e = parse_stat(nested_only, Target::Xilinx, "m").unwrap_err();
        assert!(e.contains("creator"), "{e}");
    }

    /// `\u` escapes follow JSON: a surrogate pair is one character, in the
    /// tool line and in cell names, and is written back as the character.
    #[test]
    fn unicode_escapes_decode_as_json() {
        let stat = r#"{ "creator": "Yosys \ud83d\ude00 \u00e9\t1", "design": {
            "num_cells_by_type": { "LUT\ud83d\ude00": 2, "LUT6": 1 } } }"#;
        let r = parse_stat(stat, Target::Xilinx, "m").unwrap();
        assert_eq!(r.tool, "Yosys \u{1F600} \u{e9}\t1");
        assert_eq!(r.cells["LUT\u{1F600}"], 2);
        assert_eq!(r.luts, 1);
        let back: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(back["tool"], "Yosys \u{1F600} \u{e9}\t1");
        // A lone surrogate is not valid JSON text: refused, not replaced.
        let lone = r#"{ "creator": "\ud83d", "design": { "num_cells_by_type": {} } }"#;
        assert!(parse_stat(lone, Target::Xilinx, "m").is_err());
    }

    /// The report's JSON as `bbs synth -o` has always written it: fields in
    /// this order, a whole block-RAM count as an integer.
    #[test]
    fn report_json_layout() {
        let r = parse_stat(STAT, Target::Xilinx, "bbs_top").unwrap();
        let json = r.to_json();
        assert!(json.starts_with("{\n  \"tool\": \"Yosys 0.23 (git sha1 7ce5011c24b)\",\n  \"target\": \"xilinx\",\n  \"top\": \"bbs_top\",\n  \"luts\": 2,\n  \"lutram_luts\": 8,\n  \"flip_flops\": 4,\n  \"block_rams\": 3.5,\n  \"dsps\": 2,\n  \"cells\": {\n    \"DSP48E1\": 2,\n"), "{json}");
        assert!(json.ends_with("    \"RAMB36E1\": 3\n  }\n}\n"), "{json}");
        let whole = SynthReport {
            block_rams: 4.0,
            ..r.clone()
        };
        assert!(whole.to_json().contains("\"block_rams\": 4,\n"));
    }

    /// Without a `design` table the one module's table is taken; several
    /// modules and no `design` table is an error, as is malformed JSON.
    #[test]
    fn single_module_table_and_bad_json() {
        let one = r#"{ "creator": "Yosys", "modules": { "\\t": { "num_cells_by_type": { "FDRE": 3 } } } }"#;
        assert_eq!(parse_stat(one, Target::Xilinx, "t").unwrap().flip_flops, 3);
        let two = r#"{ "creator": "Yosys", "modules": { "\\a": { "num_cells_by_type": {} }, "\\b": { "num_cells_by_type": {} } } }"#;
        assert!(parse_stat(two, Target::Xilinx, "t").is_err());
        assert!(parse_stat("{ \"creator\": ", Target::Xilinx, "t").is_err());
    }
}
