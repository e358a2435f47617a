//! Verilog generation for a [`bbs_sim::Config`], and the files and tools that
//! run the generated design in Verilator against the simulator.
//!
//! The flow is Calyx-like: [`generate`] validates the configuration, derives
//! every width once ([`params::RtlParams`]) and renders one askama template per
//! module (one module per file). [`write_design`] writes the whole set
//! all or nothing. [`memfiles`] writes the `$readmemh` inputs of one run, and
//! [`verilator`] lints, builds and runs the design.

pub mod kit;
pub mod memfiles;
pub mod params;
pub mod program;
pub mod verilator;
pub mod yosys;

use askama::Template;
use bbs_sim::{Config, ConfigError};
use params::RtlParams;
use std::path::{Path, PathBuf};

/// One generated file, relative to the output directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: PathBuf,
    pub contents: String,
}

/// A generated design: synthesizable RTL under `rtl/`, the testbench under `tb/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Design {
    /// The module prefix: `bbs` unless [`generate_prefixed`] was given another.
    pub prefix: String,
    /// The synthesizable top module, `<prefix>_top`.
    pub top: String,
    /// The testbench's module, `tb_<prefix>` (in `tb/tb_<prefix>.v`).
    pub tb: String,
    pub files: Vec<GeneratedFile>,
}

impl Design {
    pub fn rtl_files(&self) -> impl Iterator<Item = &GeneratedFile> {
        self.files.iter().filter(|f| f.path.starts_with("rtl"))
    }

    /// The testbench's file, relative to the output directory.
    pub fn tb_path(&self) -> PathBuf {
        Path::new("tb").join(format!("{}.v", self.tb))
    }
}

/// The module prefix of the default design.
pub const DEFAULT_PREFIX: &str = "bbs";

/// Every module the generator can write, as `bbs_<name>`: a prefix `P`
/// renames `bbs_<name>` to `P_<name>` and `tb_bbs` to `tb_P`.
const MODULES: [&str; 17] = [
    "top",
    "seq",
    "regs",
    "vmem",
    "vbank",
    "ewop",
    "act_lut",
    "ctrl",
    "pe",
    "adder_tree",
    "delay",
    "ram",
    "issue",
    "waits",
    "unit",
    "pe_issue",
    "rotate",
];

/// Checks a module prefix: a Verilog identifier of letters, digits and `_`
/// that starts with a letter or `_` (no `$`, no escaped identifiers: it
/// also names files and the FuseSoC core), at most 64 characters.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    let mut chars = prefix.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    };
    if !ok {
        return Err(format!(
            "'{prefix}' is not a Verilog identifier (a letter or _, then letters, digits or _)"
        ));
    }
    if prefix.len() > 64 {
        return Err(format!("'{prefix}' is longer than 64 characters"));
    }
    Ok(())
}

/// `text` with every whole identifier `bbs_<module>` (one of `MODULES`)
/// replaced by `<prefix>_<module>` and `tb_bbs` by `tb_<prefix>`: module
/// names, instantiations and the comments that name them. Identifiers
/// that merely contain one (`u_bbs_pe`, `bbs_sim`) are left alone.
/// The memory image `name` (`program.hex`) as a design of `prefix` opens
/// it (`a_program.hex`): two prefixed designs in one netlist, or one
/// simulation directory, load their own images. The default prefix keeps
/// the name.
pub fn memory_file_name(prefix: &str, name: &str) -> String {
    if prefix == DEFAULT_PREFIX {
        name.to_string()
    } else {
        format!("{prefix}_{name}")
    }
}

/// Every string literal naming a memory image (`"pe0_mat.hex"`) in `text`,
/// renamed by [`memory_file_name`].
fn rename_memory_files(text: &str, prefix: &str) -> String {
    if prefix == DEFAULT_PREFIX {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(q) = rest.find('"') {
        out.push_str(&rest[..=q]);
        rest = &rest[q + 1..];
        let Some(end) = rest.find('"') else { break };
        let literal = &rest[..end];
        let is_image = literal.ends_with(".hex")
            && literal
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if is_image {
            out.push_str(&memory_file_name(prefix, literal));
        } else {
            out.push_str(literal);
        }
        out.push('"');
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn rename_modules(text: &str, prefix: &str) -> String {
    if prefix == DEFAULT_PREFIX {
        return text.to_string();
    }
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut rest = text;
    while let Some(start) = rest.find(is_ident) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail.find(|c: char| !is_ident(c)).unwrap_or(tail.len());
        let word = &tail[..end];
        match word.strip_prefix("bbs_") {
            Some(m) if MODULES.contains(&m) => {
                out.push_str(prefix);
                out.push('_');
                out.push_str(m);
            }
            _ if word == "tb_bbs" => {
                out.push_str("tb_");
                out.push_str(prefix);
            }
            _ => out.push_str(word),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[derive(Debug, thiserror::Error)]
pub enum HdlError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("template {name}: {source}")]
    Render {
        name: &'static str,
        source: askama::Error,
    },
    /// Writing the design's files failed (the message names the file).
    #[error(transparent)]
    Output(#[from] bbs_compress::Error),
    /// A bad module prefix ([`check_prefix`]'s message).
    #[error("module prefix {0}")]
    Prefix(String),
    /// A bad option of the hardware-flow kit ([`kit`]).
    #[error("{0}")]
    Kit(String),
}

macro_rules! module_template {
    ($ty:ident, $file:literal) => {
        #[derive(Template)]
        #[template(path = $file, escape = "none")]
        struct $ty<'a> {
            p: &'a RtlParams,
        }
    };
}

module_template!(RamTpl, "bbs_ram.v");
module_template!(DelayTpl, "bbs_delay.v");
module_template!(TreeTpl, "bbs_adder_tree.v");
module_template!(PeTpl, "bbs_pe.v");
module_template!(CtrlTpl, "bbs_ctrl.v");
module_template!(TopTpl, "bbs_top.v");
module_template!(TbTpl, "tb_bbs.v");
module_template!(SeqTpl, "bbs_seq.v");
module_template!(RegsTpl, "bbs_regs.v");
module_template!(VmemTpl, "bbs_vmem.v");
module_template!(VbankTpl, "bbs_vbank.v");
module_template!(EwopTpl, "bbs_ewop.v");
module_template!(ActLutTpl, "bbs_act_lut.v");
module_template!(OvTopTpl, "overlap/bbs_top.v");
module_template!(OvIssueTpl, "overlap/bbs_issue.v");
module_template!(OvWaitsTpl, "overlap/bbs_waits.v");
module_template!(OvUnitTpl, "overlap/bbs_unit.v");
module_template!(OvPeIssueTpl, "overlap/bbs_pe_issue.v");
module_template!(OvVmemTpl, "overlap/bbs_vmem.v");
module_template!(OvRotateTpl, "overlap/bbs_rotate.v");

/// Renders one module from the parameters.
type Render = dyn Fn(&RtlParams) -> Result<String, HdlError>;

fn render<T: Template>(name: &'static str, t: &T) -> Result<String, HdlError> {
    let mut text = t
        .render()
        .map_err(|source| HdlError::Render { name, source })?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Whether the generator builds `cfg`'s machine: a valid configuration
/// with on-chip matrices (the serialized machine, or the overlapped one
/// with `overlap.units`). Commands that need the RTL (`hdl`, `verify`,
/// `synth`, traces with RTL signal names) check this first.
pub fn check_supported(cfg: &Config) -> Result<(), HdlError> {
    cfg.validate()?;
    if cfg.memory.matrix == bbs_sim::config::MatrixStorage::Dram {
        return Err(ConfigError::Invalid {
            field: "memory.matrix",
            message: "\"dram\" is simulated only: the generator builds on-chip matrix memories (use \"onchip\")".into(),
        }
        .into());
    }
    Ok(())
}

/// Generate the design for `cfg`. Nothing is written; an invalid
/// configuration fails here, before any output exists.
pub fn generate(cfg: &Config) -> Result<Design, HdlError> {
    generate_prefixed(cfg, DEFAULT_PREFIX)
}

/// [`generate`] with every module named `<prefix>_<module>` instead of
/// `bbs_<module>` (files too: `rtl/<prefix>_top.v`, `tb/tb_<prefix>.v`), so
/// that designs of two configurations can share one netlist. The prefix
/// `bbs` gives exactly [`generate`]'s design.
pub fn generate_prefixed(cfg: &Config, prefix: &str) -> Result<Design, HdlError> {
    check_prefix(prefix).map_err(HdlError::Prefix)?;
    let design = generate_default(cfg)?;
    let files = design
        .files
        .into_iter()
        .map(|f| {
            let name = f.path.file_name().unwrap_or_default().to_string_lossy();
            let stem = name.strip_suffix(".v").unwrap_or(&name);
            GeneratedFile {
                path: f
                    .path
                    .with_file_name(format!("{}.v", rename_modules(stem, prefix))),
                contents: rename_memory_files(&rename_modules(&f.contents, prefix), prefix),
            }
        })
        .collect();
    Ok(Design {
        prefix: prefix.to_string(),
        top: format!("{prefix}_top"),
        tb: format!("tb_{prefix}"),
        files,
    })
}

fn generate_default(cfg: &Config) -> Result<Design, HdlError> {
    check_supported(cfg)?;
    let mut files = Vec::new();
    let mut add = |dir: &str,
                   name: &'static str,
                   doc: &str,
                   f: &dyn Fn(&RtlParams) -> Result<String, HdlError>|
     -> Result<(), HdlError> {
        let p = RtlParams::new(cfg, doc);
        files.push(GeneratedFile {
            path: Path::new(dir).join(format!("{name}.v")),
            contents: f(&p)?,
        });
        Ok(())
    };
    if cfg.overlap.units {
        add(
            "rtl",
            "bbs_top",
            "bbs_top: the BBS accelerator, overlapped",
            &|p| render("bbs_top", &OvTopTpl { p }),
        )?;
        add(
            "rtl",
            "bbs_issue",
            "bbs_issue: one unit's issue list",
            &|p| render("bbs_issue", &OvIssueTpl { p }),
        )?;
        add(
            "rtl",
            "bbs_waits",
            "bbs_waits: the issue stage's hazard check",
            &|p| render("bbs_waits", &OvWaitsTpl { p }),
        )?;
        add(
            "rtl",
            "bbs_unit",
            "bbs_unit: a unit that runs over a vector",
            &|p| render("bbs_unit", &OvUnitTpl { p }),
        )?;
        add(
            "rtl",
            "bbs_pe_issue",
            "bbs_pe_issue: the PE array's issue",
            &|p| render("bbs_pe_issue", &OvPeIssueTpl { p }),
        )?;
        add(
            "rtl",
            "bbs_rotate",
            "bbs_rotate: a rotation by a variable number of words",
            &|p| render("bbs_rotate", &OvRotateTpl { p }),
        )?;
    } else {
        add("rtl", "bbs_top", "bbs_top: the BBS accelerator", &|p| {
            render("bbs_top", &TopTpl { p })
        })?;
        add(
            "rtl",
            "bbs_seq",
            "bbs_seq: the instruction buffer and sequencer",
            &|p| render("bbs_seq", &SeqTpl { p }),
        )?;
    }
    add(
        "rtl",
        "bbs_regs",
        "bbs_regs: the host's register block",
        &|p| render("bbs_regs", &RegsTpl { p }),
    )?;
    // Both machines' vector memories are built of single-write-port banks.
    let vmem: &Render = if cfg.overlap.units {
        &|p| render("bbs_vmem", &OvVmemTpl { p })
    } else {
        &|p| render("bbs_vmem", &VmemTpl { p })
    };
    let vbank: &Render = &|p| render("bbs_vbank", &VbankTpl { p });
    add("rtl", "bbs_vmem", "bbs_vmem: the vector memory", vmem)?;
    add(
        "rtl",
        "bbs_vbank",
        "bbs_vbank: one bank of the vector memory",
        vbank,
    )?;
    add("rtl", "bbs_ewop", "bbs_ewop: the EWOP and ACT unit", &|p| {
        render("bbs_ewop", &EwopTpl { p })
    })?;
    add(
        "rtl",
        "bbs_act_lut",
        "bbs_act_lut: sigmoid and tanh tables",
        &|p| render("bbs_act_lut", &ActLutTpl { p }),
    )?;
    if !cfg.overlap.units {
        add(
            "rtl",
            "bbs_ctrl",
            "bbs_ctrl: the PE array's SpMxV controller",
            &|p| render("bbs_ctrl", &CtrlTpl { p }),
        )?;
    }
    add(
        "rtl",
        "bbs_pe",
        "bbs_pe: one SpMxV processing element",
        &|p| render("bbs_pe", &PeTpl { p }),
    )?;
    add(
        "rtl",
        "bbs_adder_tree",
        "bbs_adder_tree: the PE's adder tree",
        &|p| render("bbs_adder_tree", &TreeTpl { p }),
    )?;
    add("rtl", "bbs_delay", "bbs_delay: pipeline registers", &|p| {
        render("bbs_delay", &DelayTpl { p })
    })?;
    add(
        "rtl",
        "bbs_ram",
        "bbs_ram: simple dual-port block RAM",
        &|p| render("bbs_ram", &RamTpl { p }),
    )?;
    add("tb", "tb_bbs", "tb_bbs: testbench for bbs_top", &|p| {
        render("tb_bbs", &TbTpl { p })
    })?;
    Ok(Design {
        prefix: DEFAULT_PREFIX.to_string(),
        top: "bbs_top".to_string(),
        tb: "tb_bbs".to_string(),
        files,
    })
}

impl Design {
    /// Stage the design's files (`rtl/*.v`, `tb/*.v`) into directory output
    /// `dir` of `plan`; they are written when the plan is published.
    pub fn stage(
        &self,
        plan: &mut bbs_compress::OutputPlan,
        dir: bbs_compress::Out,
    ) -> Result<(), HdlError> {
        for f in &self.files {
            let rel = f.path.to_string_lossy();
            plan.write_in(dir, &rel, f.contents.as_bytes())?;
        }
        Ok(())
    }
}

/// Write a design under `out_dir` (as `out_dir/rtl/*.v`, `out_dir/tb/*.v`),
/// all or nothing, through [`bbs_compress::OutputPlan`]: each file replaces
/// the file of its name; other files in `out_dir` (and in its `rtl/` and
/// `tb/`) are left as they are. Returns the files written.
pub fn write_design(design: &Design, out_dir: &Path) -> Result<Vec<PathBuf>, HdlError> {
    let mut plan = bbs_compress::OutputPlan::new();
    let dir = plan.dir("", out_dir)?;
    design.stage(&mut plan, dir)?;
    plan.publish()?;
    Ok(design.files.iter().map(|f| out_dir.join(&f.path)).collect())
}
