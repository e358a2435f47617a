//! Verilog generation for a [`bbs_sim::Config`], and the files and tools that
//! run the generated design in Verilator against the simulator.
//!
//! The flow is Calyx-like: [`generate`] validates the configuration, derives
//! every width once ([`params::RtlParams`]) and renders one askama template per
//! module (one module per file). [`write_design`] writes the whole set
//! atomically. [`memfiles`] writes the `$readmemh` inputs of one run, and
//! [`verilator`] lints, builds and runs the design.

pub mod memfiles;
pub mod params;
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
    pub top: &'static str,
    pub files: Vec<GeneratedFile>,
}

impl Design {
    pub fn rtl_files(&self) -> impl Iterator<Item = &GeneratedFile> {
        self.files.iter().filter(|f| f.path.starts_with("rtl"))
    }
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
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
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

fn render<T: Template>(name: &'static str, t: &T) -> Result<String, HdlError> {
    let mut text = t
        .render()
        .map_err(|source| HdlError::Render { name, source })?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Generate the design for `cfg`. Nothing is written; an invalid
/// configuration fails here, before any output exists.
pub fn generate(cfg: &Config) -> Result<Design, HdlError> {
    cfg.validate()?;
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
    add(
        "rtl",
        "bbs_top",
        "bbs_top: the BBS SpMxV accelerator",
        &|p| render("bbs_top", &TopTpl { p }),
    )?;
    add("rtl", "bbs_ctrl", "bbs_ctrl: the control FSM", &|p| {
        render("bbs_ctrl", &CtrlTpl { p })
    })?;
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
        top: "bbs_top",
        files,
    })
}

/// Write a design under `out_dir` (as `out_dir/rtl/*.v`, `out_dir/tb/*.v`).
/// Files go to a temporary directory beside `out_dir` first and are renamed
/// into place, so a failure never leaves a partial design.
pub fn write_design(design: &Design, out_dir: &Path) -> Result<Vec<PathBuf>, HdlError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| HdlError::Io { path, source }
    };
    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let staging = tempfile::Builder::new()
        .prefix(".bbs-hdl-")
        .tempdir_in(out_dir)
        .map_err(io(out_dir))?;
    let mut written = Vec::new();
    for f in &design.files {
        let path = staging.path().join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, &f.contents).map_err(io(&path))?;
    }
    for sub in ["rtl", "tb"] {
        let target = out_dir.join(sub);
        if target.exists() {
            std::fs::remove_dir_all(&target).map_err(io(&target))?;
        }
        std::fs::rename(staging.path().join(sub), &target).map_err(io(&target))?;
    }
    for f in &design.files {
        written.push(out_dir.join(&f.path));
    }
    Ok(written)
}
