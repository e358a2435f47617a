//! The hardware-flow kit `bbs hdl` writes beside the RTL: a FuseSoC core
//! file (CAPI2: the RTL, the testbench and the memory images as filesets;
//! lint, simulation and synthesis targets), the clock constraints at the
//! configuration's clock (SDC for Quartus, XDC for Vivado) and a Quartus
//! and a Vivado project script (TCL). Like the RTL, every file is an askama
//! template (`templates/kit/`) rendered from the configuration and the
//! design; the same inputs always give the same bytes.

use crate::program::{MatrixLoad, RunFiles};
use crate::{Design, GeneratedFile, HdlError};
use askama::Template;
use bbs_sim::machine::Program;
use bbs_sim::Config;
use std::path::{Path, PathBuf};

/// The Quartus family and device of the kit when none is given: the Arria
/// 10 GX1150 of the BBS paper (and of `bbs sim`'s Intel budget).
pub const QUARTUS_FAMILY: &str = "Arria 10";
pub const QUARTUS_DEVICE: &str = "10AX115N2F40E1SG";
/// The Vivado part when none is given: ESE's XCKU060 (`bbs sim`'s Xilinx budget).
pub const VIVADO_PART: &str = "xcku060-ffva1156-2-e";

/// The devices the synthesis scripts and targets name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KitOptions {
    pub quartus_family: String,
    pub quartus_device: String,
    pub vivado_part: String,
}

impl Default for KitOptions {
    fn default() -> Self {
        KitOptions {
            quartus_family: QUARTUS_FAMILY.to_string(),
            quartus_device: QUARTUS_DEVICE.to_string(),
            vivado_part: VIVADO_PART.to_string(),
        }
    }
}

impl KitOptions {
    /// Each name must be something a TCL script and a YAML file can hold
    /// unquoted: letters, digits, `-`, `_`, `.` (and spaces in the family,
    /// "Arria 10"), not empty.
    pub fn check(&self) -> Result<(), HdlError> {
        let fields = [
            ("--quartus-family", &self.quartus_family, true),
            ("--quartus-device", &self.quartus_device, false),
            ("--vivado-part", &self.vivado_part, false),
        ];
        for (flag, value, spaces) in fields {
            let ok = !value.trim().is_empty()
                && value == value.trim()
                && value.chars().all(|c| {
                    c.is_ascii_alphanumeric() || "-_.".contains(c) || (spaces && c == ' ')
                });
            if !ok {
                return Err(HdlError::Kit(format!(
                    "{flag} '{value}': letters, digits, '-', '_' and '.' only{}",
                    if spaces { " (and spaces)" } else { "" }
                )));
            }
        }
        Ok(())
    }
}

/// The memory images of a design when no run is given: the `$readmemh`
/// files of an empty program (every memory zero, the testbench runs no
/// instruction), so that every file the RTL and the testbench name exists
/// and the synthesis tools find their memories' (empty) contents.
pub fn blank_memories(cfg: &Config) -> Vec<(String, String)> {
    RunFiles {
        cfg,
        matrices: &[],
        program: &Program::default(),
        inputs: &[],
        runs: 1,
        matrix_load: MatrixLoad::Init,
    }
    .files()
}

/// One memory image in the kit: where it is (relative to the output
/// directory) and the name the `$readmemh` opens.
struct Mem {
    path: String,
    name: String,
}

struct Port {
    name: String,
    bus: bool,
}

/// What the kit's templates see.
struct KitParams {
    file_doc: String,
    bbs_version: &'static str,
    cfg_name: String,
    config_lines: Vec<String>,
    vlnv: String,
    description: String,
    top: String,
    tb: String,
    project: String,
    rtl: Vec<String>,
    tb_file: String,
    /// The images the RTL opens (the synthesis scripts' files too).
    mem: Vec<Mem>,
    /// The testbench's own (`run.hex`, `in.hex`, ...).
    tb_mem: Vec<Mem>,
    clock_mhz: u32,
    period_ns: String,
    sdc: String,
    xdc: String,
    /// The top's ports but the clock: virtual pins in Quartus.
    ports: Vec<Port>,
    quartus_family: String,
    quartus_device: String,
    vivado_part: String,
}

macro_rules! kit_template {
    ($ty:ident, $file:literal) => {
        #[derive(Template)]
        #[template(path = $file, escape = "none")]
        struct $ty<'a> {
            p: &'a KitParams,
        }
    };
}

kit_template!(CoreTpl, "kit/bbs.core");
kit_template!(SdcTpl, "kit/bbs.sdc");
kit_template!(XdcTpl, "kit/bbs.xdc");
kit_template!(QuartusTpl, "kit/quartus.tcl");
kit_template!(VivadoTpl, "kit/vivado.tcl");

/// A FuseSoC VLNV part: the characters FuseSoC accepts (`[A-Za-z0-9_.-]`),
/// anything else as `_`.
fn vlnv_part(s: &str) -> String {
    let part: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if part.is_empty() {
        "unnamed".to_string()
    } else {
        part
    }
}

/// The core's VLNV: `bbs:accelerator:<configuration>:<bbs version>`, the
/// name `<prefix>_<configuration>` when the design has a prefix.
pub fn vlnv(cfg: &Config, design: &Design) -> String {
    let name = if design.prefix == crate::DEFAULT_PREFIX {
        vlnv_part(&cfg.name)
    } else {
        format!("{}_{}", design.prefix, vlnv_part(&cfg.name))
    };
    format!("bbs:accelerator:{name}:{}", env!("CARGO_PKG_VERSION"))
}

/// The kit's file names, relative to the output directory.
pub fn core_path(design: &Design) -> PathBuf {
    PathBuf::from(format!("{}.core", design.prefix))
}

/// The clock period in ns with three decimals (200 MHz: `5.000`).
pub fn period_ns(clock_mhz: u32) -> String {
    format!("{:.3}", 1000.0 / clock_mhz as f64)
}

/// The ports of the design's top module, from its generated text.
fn top_ports(design: &Design) -> Vec<Port> {
    let top = design
        .rtl_files()
        .find(|f| f.path.file_stem().is_some_and(|s| *s == *design.top))
        .map(|f| f.contents.as_str())
        .unwrap_or("");
    let head = top
        .split_once(&format!("module {}", design.top))
        .map_or("", |(_, rest)| rest);
    let mut ports = Vec::new();
    for line in head.lines() {
        let line = line.trim();
        if line.starts_with(");") {
            break;
        }
        if !(line.starts_with("input") || line.starts_with("output")) {
            continue;
        }
        let decl = line.trim_end_matches(',');
        if let Some(name) = decl.split_whitespace().last() {
            ports.push(Port {
                name: name.to_string(),
                bus: decl.contains('['),
            });
        }
    }
    ports
}

fn slash(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn render<T: Template>(name: &'static str, t: &T) -> Result<String, HdlError> {
    crate::render(name, t)
}

/// The kit of `design` (generated for `cfg`), whose memory images
/// `memories` (the names the `$readmemh`s open) are in the output
/// directory's `mem_dir` (`run` or `mem`). Nothing is written.
pub fn generate(
    cfg: &Config,
    design: &Design,
    mem_dir: &str,
    memories: &[String],
    opts: &KitOptions,
) -> Result<Vec<GeneratedFile>, HdlError> {
    opts.check()?;
    let rtl: Vec<String> = design.rtl_files().map(|f| slash(&f.path)).collect();
    let mut opened = Vec::new();
    for f in design.rtl_files() {
        for name in crate::yosys::init_files(&f.contents) {
            if !opened.contains(&name) {
                opened.push(name);
            }
        }
    }
    let mem = |name: &String| Mem {
        path: format!("{mem_dir}/{name}"),
        name: name.clone(),
    };
    let mut missing: Vec<&String> = opened.iter().filter(|n| !memories.contains(n)).collect();
    if let Some(name) = missing.pop() {
        return Err(HdlError::Kit(format!(
            "the RTL opens {name}, which is not among the memory images"
        )));
    }
    let constraints = |ext: &str| format!("constraints/{}.{ext}", design.top);
    let pes = if cfg.pes == 1 { "PE" } else { "PEs" };
    let params = |file_doc: String| KitParams {
        file_doc,
        bbs_version: env!("CARGO_PKG_VERSION"),
        cfg_name: cfg.name.clone(),
        config_lines: cfg
            .to_toml()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        vlnv: vlnv(cfg, design),
        description: format!(
            "BBS accelerator, configuration '{}': {} {pes} x {} banks at {} MHz",
            cfg.name.replace(['"', '\\'], "_"),
            cfg.pes,
            cfg.banks,
            cfg.host.clock_mhz
        ),
        top: design.top.clone(),
        tb: design.tb.clone(),
        project: design.top.clone(),
        rtl: rtl.clone(),
        tb_file: slash(&design.tb_path()),
        mem: memories
            .iter()
            .filter(|n| opened.contains(n))
            .map(mem)
            .collect(),
        tb_mem: memories
            .iter()
            .filter(|n| !opened.contains(n))
            .map(mem)
            .collect(),
        clock_mhz: cfg.host.clock_mhz,
        period_ns: period_ns(cfg.host.clock_mhz),
        sdc: constraints("sdc"),
        xdc: constraints("xdc"),
        ports: top_ports(design)
            .into_iter()
            .filter(|p| p.name != "clk_i")
            .collect(),
        quartus_family: opts.quartus_family.clone(),
        quartus_device: opts.quartus_device.clone(),
        vivado_part: opts.vivado_part.clone(),
    };
    let core = core_path(design);
    let core_name = slash(&core);
    let p = params(format!(
        "{core_name}: FuseSoC core (CAPI2) of {}",
        design.top
    ));
    let mut files = vec![GeneratedFile {
        path: core,
        contents: render("kit/bbs.core", &CoreTpl { p: &p })?,
    }];
    let p = params(format!(
        "{}: Quartus (Synopsys Design Constraints) clock of {}",
        p.sdc, design.top
    ));
    files.push(GeneratedFile {
        path: PathBuf::from(&p.sdc),
        contents: render("kit/bbs.sdc", &SdcTpl { p: &p })?,
    });
    let p = params(format!(
        "{}: Vivado (Xilinx Design Constraints) clock of {}",
        p.xdc, design.top
    ));
    files.push(GeneratedFile {
        path: PathBuf::from(&p.xdc),
        contents: render("kit/bbs.xdc", &XdcTpl { p: &p })?,
    });
    let p = params(format!("quartus.tcl: Quartus project of {}", design.top));
    files.push(GeneratedFile {
        path: PathBuf::from("quartus.tcl"),
        contents: render("kit/quartus.tcl", &QuartusTpl { p: &p })?,
    });
    let p = params(format!("vivado.tcl: Vivado project of {}", design.top));
    files.push(GeneratedFile {
        path: PathBuf::from("vivado.tcl"),
        contents: render("kit/vivado.tcl", &VivadoTpl { p: &p })?,
    });
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_names() {
        assert_eq!(period_ns(200), "5.000");
        assert_eq!(period_ns(300), "3.333");
        assert_eq!(period_ns(1), "1000.000");
        assert_eq!(vlnv_part("ese a10/x"), "ese_a10_x");
        assert_eq!(vlnv_part(""), "unnamed");
    }

    #[test]
    fn device_names_are_checked() {
        assert!(KitOptions::default().check().is_ok());
        for bad in ["", " x", "a;b", "x[1]", "a\nb"] {
            let o = KitOptions {
                vivado_part: bad.to_string(),
                ..KitOptions::default()
            };
            assert!(o.check().is_err(), "{bad:?}");
        }
        let o = KitOptions {
            quartus_family: "Cyclone 10 GX".into(),
            ..KitOptions::default()
        };
        assert!(o.check().is_ok());
    }
}
