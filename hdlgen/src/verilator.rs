//! Lint, build and run a generated design with Verilator, and read back what
//! the testbench printed.

use crate::Design;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum VerilatorError {
    #[error("verilator is not installed (Debian: apt-get install verilator)")]
    Missing,
    #[error("verilator {step} failed in {dir}:\n{output}")]
    Failed {
        step: &'static str,
        dir: String,
        output: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("testbench output in {dir}: {message}")]
    Output { dir: String, message: String },
}

/// What the testbench printed: the output vector and the cycle count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtlRun {
    pub output: Vec<i64>,
    pub cycles: u64,
}

/// The installed Verilator's version line, or `None` when it is not on PATH.
pub fn version() -> Option<String> {
    let out = Command::new("verilator").arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// For tests that need Verilator: `true` when it is installed; otherwise a
/// skip message and `false`, except under `CI=true`, where a missing
/// Verilator is a failure (a panic naming `what`), never a skip.
pub fn available_for_test(what: &str) -> bool {
    match version() {
        Some(v) => {
            eprintln!("using {v}");
            true
        }
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true and Verilator is not installed: {what} must run in CI")
        }
        None => {
            eprintln!(
                "SKIPPED {what}: Verilator is not installed; run the README's test command to install it"
            );
            false
        }
    }
}

fn run_checked(
    cmd: &mut Command,
    step: &'static str,
    dir: &Path,
) -> Result<String, VerilatorError> {
    let out = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            VerilatorError::Missing
        } else {
            VerilatorError::Io {
                path: dir.display().to_string(),
                source: e,
            }
        }
    })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(VerilatorError::Failed {
            step,
            dir: dir.display().to_string(),
            output: text,
        });
    }
    Ok(text)
}

fn rtl_paths(design: &Design, design_dir: &Path) -> Vec<PathBuf> {
    design
        .rtl_files()
        .map(|f| design_dir.join(&f.path))
        .collect()
}

/// `verilator --lint-only -Wall` on the synthesizable files; any warning fails.
pub fn lint(design: &Design, design_dir: &Path) -> Result<(), VerilatorError> {
    let mut cmd = Command::new("verilator");
    cmd.args(["--lint-only", "-Wall", "--top-module", &design.top])
        .args(rtl_paths(design, design_dir));
    let text = run_checked(&mut cmd, "lint", design_dir)?;
    if text.contains("%Warning") || text.contains("%Error") {
        return Err(VerilatorError::Failed {
            step: "lint",
            dir: design_dir.display().to_string(),
            output: text,
        });
    }
    Ok(())
}

/// Build the testbench and the design into `build_dir` with `verilator --binary`;
/// returns the simulator executable. One build serves every matrix and vector
/// of the configuration: they are read at run time from the run directory.
pub fn build(
    design: &Design,
    design_dir: &Path,
    build_dir: &Path,
) -> Result<PathBuf, VerilatorError> {
    build_with(design, design_dir, build_dir, false)
}

/// [`build`], optionally with `--trace`: a traced build writes `dump.vcd` into
/// the run directory when run with the plusarg `+vcd` (see [`run_with`] and
/// `docs/trace.md`). Tracing makes the build about 1.7 times slower, so only
/// ask for it when the waveform is wanted; a traced build compiles its C++
/// without optimization (about 20% faster to build), as a waveform run is one
/// short SpMxV.
pub fn build_with(
    design: &Design,
    design_dir: &Path,
    build_dir: &Path,
    trace: bool,
) -> Result<PathBuf, VerilatorError> {
    let mut cmd = Command::new("verilator");
    cmd.args(["--binary", "-j", "2", "--top-module", &design.tb])
        // The testbench's `#5` is half a 10 ns clock period; its dump counts ns.
        .args(["--timescale", "1ns/1ns"]);
    if trace {
        cmd.args([
            "--trace",
            "-MAKEFLAGS",
            "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0",
        ]);
    }
    cmd
        // The testbench assigns integers to narrow registers on purpose; the
        // RTL itself is held to -Wall by `lint`.
        .args(["-Wno-WIDTH", "-Mdir"])
        .arg(build_dir)
        .args(["-o", &format!("V{}", design.tb)])
        .args(rtl_paths(design, design_dir))
        .arg(design_dir.join(design.tb_path()));
    run_checked(&mut cmd, "build", design_dir)?;
    Ok(build_dir.join(format!("V{}", design.tb)))
}

/// Run a built testbench in `run_dir` (which holds the `.hex` files of
/// [`crate::memfiles::write_run_files`]) and parse its output.
pub fn run(binary: &Path, run_dir: &Path) -> Result<RtlRun, VerilatorError> {
    run_with(binary, run_dir, &[])
}

/// [`run`] with extra plusargs, each given without its `+` (e.g. `"vcd"`
/// makes a [`build_with`]`(.., true)` binary dump `run_dir/dump.vcd`).
pub fn run_with(
    binary: &Path,
    run_dir: &Path,
    plusargs: &[&str],
) -> Result<RtlRun, VerilatorError> {
    let mut cmd = Command::new(binary);
    cmd.current_dir(run_dir)
        .args(plusargs.iter().map(|a| format!("+{a}")));
    let text = run_checked(&mut cmd, "run", run_dir)?;
    parse_output(&text).map_err(|message| VerilatorError::Output {
        dir: run_dir.display().to_string(),
        message,
    })
}

/// Parse `OUT <index> <value>` and `CYCLES <n>` lines; `TIMEOUT` and
/// `ERROR` lines (the testbench's own checks) fail.
pub fn parse_output(text: &str) -> Result<RtlRun, String> {
    let mut output = Vec::new();
    let mut cycles = None;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("OUT") => {
                let row: usize = words
                    .next()
                    .and_then(|w| w.parse().ok())
                    .ok_or_else(|| format!("bad line '{line}'"))?;
                let value: i64 = words
                    .next()
                    .and_then(|w| w.parse().ok())
                    .ok_or_else(|| format!("bad line '{line}'"))?;
                if row != output.len() {
                    return Err(format!("row {row} out of order"));
                }
                output.push(value);
            }
            Some("CYCLES") => {
                cycles = words.next().and_then(|w| w.parse().ok());
            }
            Some("TIMEOUT") | Some("ERROR") => return Err(line.to_string()),
            _ => {}
        }
    }
    let cycles = cycles.ok_or_else(|| format!("no CYCLES line in:\n{text}"))?;
    Ok(RtlRun { output, cycles })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_testbench_output() {
        let run = parse_output("- V e r i l a t i o n\nOUT 0 -3\nOUT 1 7\nCYCLES 42\n").unwrap();
        assert_eq!(
            run,
            RtlRun {
                output: vec![-3, 7],
                cycles: 42
            }
        );
        assert!(parse_output("OUT 1 7\nCYCLES 1").is_err());
        assert!(parse_output("OUT 0 7\n").is_err());
        assert!(parse_output("TIMEOUT after 9 cycles\nCYCLES 3").is_err());
    }
}
