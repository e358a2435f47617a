//! What the command line shares: the named values (`--device`, `--target`,
//! `--model`, `--workload`) as clap `ValueEnum`s, the parsers of numbers and
//! patterns, and the one-line rendering of clap's errors.
//!
//! Every bad input gets one `error:` line naming the option and exit code 1
//! (README), so clap's own multi-line errors (usage, tips, "For more
//! information") are rendered here from the error's kind and context
//! ([`one_line`]). Which options go with which form of a command is declared
//! to clap (`conflicts_with`, argument groups); [`WORDING`] only words the
//! resulting conflict and missing-argument errors as the commands always
//! have ("--frames: only with --workload"). Numbers accept a leading minus
//! (`allow_negative_numbers`), so `--banks -1` is a range error naming
//! `--banks`, not an unknown argument.

use bbs_sim::resources::Device;
use clap::error::{ContextKind, ContextValue, ErrorKind};

/// `--device`: the device family of a resource estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceName {
    /// Intel Arria 10: M20K, MLAB, 18x19 DSP blocks.
    IntelM20k,
    /// Xilinx UltraScale: RAMB36/RAMB18, LUTRAM, DSP48E2.
    XilinxRamb36,
}

impl DeviceName {
    pub fn device(self) -> Device {
        match self {
            DeviceName::IntelM20k => Device::IntelM20k,
            DeviceName::XilinxRamb36 => Device::XilinxRamb36,
        }
    }

    /// The name on the command line (`intel-m20k`).
    pub fn name(self) -> &'static str {
        device_name(self.device())
    }
}

/// The `--device` name of a device.
pub fn device_name(device: Device) -> &'static str {
    match device {
        Device::IntelM20k => "intel-m20k",
        Device::XilinxRamb36 => "xilinx-ramb36",
    }
}

/// `--workload`: the built-in networks of [`bbs_sim::workloads`], in the
/// order of [`bbs_sim::workloads::NAMES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    EseLstm,
    SmallLstm,
    SmallGru,
    StackedLstm,
}

impl Workload {
    /// The name [`bbs_sim::workloads::network`] takes (`small-lstm`).
    pub fn name(self) -> &'static str {
        match self {
            Workload::EseLstm => "ese-lstm",
            Workload::SmallLstm => "small-lstm",
            Workload::SmallGru => "small-gru",
            Workload::StackedLstm => "stacked-lstm",
        }
    }
}

/// `bbs hdl --prefix`: a Verilog identifier ([`bbs_hdlgen::check_prefix`]).
pub fn prefix(text: &str) -> Result<String, String> {
    bbs_hdlgen::check_prefix(text)?;
    Ok(text.to_string())
}

/// `bbs synth --target`: the Yosys flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SynthTarget {
    /// synth_xilinx, 7-series.
    Xilinx,
    /// synth_intel_alm, Cyclone 10 GX.
    Intel,
}

impl SynthTarget {
    pub fn target(self) -> bbs_hdlgen::yosys::Target {
        match self {
            SynthTarget::Xilinx => bbs_hdlgen::yosys::Target::Xilinx,
            SynthTarget::Intel => bbs_hdlgen::yosys::Target::Intel,
        }
    }
}

/// `bbs eval --model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalModel {
    G2p,
    Silero,
    All,
}

/// A whole number >= 0; a negative one is a range error.
pub fn count(text: &str) -> Result<u64, String> {
    let v: i128 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number"))?;
    u64::try_from(v).map_err(|_| {
        if v < 0 {
            format!("{v} is negative")
        } else {
            format!("{v} is too large")
        }
    })
}

/// [`count`] as a `usize`.
pub fn count_usize(text: &str) -> Result<usize, String> {
    let v = count(text)?;
    usize::try_from(v).map_err(|_| format!("{v} is too large"))
}

/// A whole number >= 1.
pub fn at_least_1(text: &str) -> Result<usize, String> {
    let v: i128 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number"))?;
    if v < 1 {
        return Err(format!("{v} must be at least 1"));
    }
    usize::try_from(v).map_err(|_| format!("{v} is too large"))
}

/// A frame count: at least 1, at most [`bbs_sim::workloads::MAX_FRAMES`].
pub fn frames(text: &str) -> Result<usize, String> {
    let v = at_least_1(text).map_err(|e| {
        if e.ends_with("is too large") {
            format!(
                "{} is more than {} (the most one run simulates)",
                text.trim(),
                bbs_sim::workloads::MAX_FRAMES
            )
        } else {
            e
        }
    })?;
    if v > bbs_sim::workloads::MAX_FRAMES {
        return Err(format!(
            "{v} is more than {} (the most one run simulates)",
            bbs_sim::workloads::MAX_FRAMES
        ));
    }
    Ok(v)
}

/// A number (range checks are the command's).
pub fn number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))
}

/// A sparsity in [0, 1).
pub fn sparsity(text: &str) -> Result<f64, String> {
    let v = number(text)?;
    if !v.is_finite() || !(0.0..1.0).contains(&v) {
        return Err(format!("{v} is outside [0, 1)"));
    }
    Ok(v)
}

/// `bbs prune --pattern`: bbs, unstructured, global, nm:N:M, block:B, row.
pub fn pattern(text: &str) -> Result<crate::model_prune::Product, String> {
    crate::model_prune::Product::parse(text).map_err(|e| {
        let m = format!("{e:#}");
        // The pattern parser names its field; the option is named already.
        m.strip_prefix("pattern: ").map(str::to_string).unwrap_or(m)
    })
}

/// How a conflict or a missing argument of a command is worded: `(command,
/// arguments, others, message)`. A conflict between one of `arguments` and
/// one of `others` (either way round) gets `message`, with `{}` replaced by
/// the argument; a missing-argument error whose missing arguments are all in
/// `arguments` (`others` empty) gets `message`. Positional arguments are
/// named by their value names (`CSB`). clap decides what is refused; this
/// only says it as the commands always have.
pub const WORDING: &[(&str, &[&str], &[&str], &str)] = &[
    // bbs sim: three forms, M.csb X.npy, --workload and --model.
    (
        "sim",
        &["--model"],
        &["--workload"],
        "--model: runs a pruned model; give either --workload or --model",
    ),
    (
        "sim",
        &["--vcd", "--bram-trace"],
        &["--model"],
        "{}: traces one SpMxV (M.csb X.npy) or a workload (--workload), not a model",
    ),
    (
        "sim",
        &["--workload"],
        &["CSB", "INPUT"],
        "--workload: runs a named workload; it takes no CSB matrix or input vector",
    ),
    (
        "sim",
        &["--model"],
        &["CSB", "INPUT"],
        "--model: runs every layer of a pruned model; it takes no CSB matrix or input vector",
    ),
    (
        "sim",
        &["--sparsity", "--frames"],
        &["CSB", "INPUT"],
        "{}: only with --workload",
    ),
    (
        "sim",
        &["--sparsity", "--frames"],
        &["--model"],
        "{}: only with --workload (a pruned model has its own sparsity)",
    ),
    (
        "sim",
        &["--seed", "--baselines", "--device", "--out-dir", "--no-budget"],
        &["CSB", "INPUT"],
        "{}: only with --workload or --model",
    ),
    (
        "sim",
        &["--skip-unfit"],
        &["CSB", "INPUT", "--workload"],
        "--skip-unfit: only with --model",
    ),
    (
        "sim",
        &["--output"],
        &["--workload"],
        "-o/--output: only for one SpMxV (M.csb X.npy); use --out-dir or --json with --workload",
    ),
    (
        "sim",
        &["--output"],
        &["--model"],
        "-o/--output: only for one SpMxV (M.csb X.npy); use --out-dir or --json with --model",
    ),
    // bbs prune: -o (one matrix) or --out-dir (a whole model).
    (
        "prune",
        &["--output", "--out-dir"],
        &[],
        "give -o FILE.csb (one matrix) or --out-dir DIR (whole model)",
    ),
    (
        "prune",
        &["--pruned", "--mask"],
        &["--out-dir"],
        "{}: only with -o (one matrix)",
    ),
    (
        "prune",
        &["--compare", "--plot"],
        &["--output"],
        "{}: only with --out-dir (whole model)",
    ),
    (
        "prune",
        &["--layers"],
        &["--output"],
        "-o writes one matrix as CSB (one --tensor, pattern bbs); use --out-dir for whole models and other patterns",
    ),
    (
        "prune",
        &["--schedule-from", "--schedule-steps", "--step"],
        &[],
        "--schedule-from, --schedule-steps and --step go together (gradual pruning)",
    ),
    // bbs hdl: --csb and --input go together.
    (
        "hdl",
        &["--csb", "--input"],
        &[],
        "--csb and --input go together (the testbench's matrix and vector)",
    ),
    // bbs verify: M.csb X.npy or --workload.
    (
        "verify",
        &["CSB", "INPUT"],
        &[],
        "verify: give M.csb X.npy, or --workload NAME",
    ),
    (
        "verify",
        &["--workload"],
        &["CSB", "INPUT"],
        "--workload: runs a built-in workload; it takes no CSB matrix or input vector",
    ),
    (
        "verify",
        &["--frames", "--sparsity"],
        &["CSB", "INPUT"],
        "{}: only with --workload",
    ),
];

/// The name of an argument as clap renders it in errors: `--frames
/// <FRAMES>` -> `--frames`, `[CSB]` or `<WEIGHTS>` -> `CSB`, `WEIGHTS`.
fn arg_name(rendered: &str) -> String {
    let s = rendered.trim();
    if s.starts_with('-') {
        return s.split_whitespace().next().unwrap_or(s).to_string();
    }
    s.trim_start_matches(['[', '<'])
        .trim_end_matches(['.', ']', '>'])
        .to_string()
}

/// The arguments of a missing-argument entry: `<--output <OUTPUT>|--out-dir
/// <OUT_DIR>>` (a group) or `--input <INPUT>`.
fn missing_names(rendered: &str) -> Vec<String> {
    let s = rendered.trim();
    let inner = match s.strip_prefix('<').and_then(|r| r.strip_suffix('>')) {
        Some(inner) if inner.contains('|') => inner,
        _ => s,
    };
    inner.split('|').map(arg_name).collect()
}

fn strings(err: &clap::Error, kind: ContextKind) -> Vec<String> {
    match err.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        Some(ContextValue::StyledStr(s)) => vec![s.to_string()],
        Some(ContextValue::StyledStrs(v)) => v.iter().map(|s| s.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn string(err: &clap::Error, kind: ContextKind) -> Option<String> {
    strings(err, kind).into_iter().next()
}

fn conflict_wording(command: &str, a: &str, others: &[String]) -> Option<String> {
    for (cmd, args, with, message) in WORDING {
        if *cmd != command || with.is_empty() {
            continue;
        }
        for b in others {
            for (x, y) in [(a, b.as_str()), (b.as_str(), a)] {
                if args.contains(&x) && with.contains(&y) {
                    return Some(message.replace("{}", x));
                }
            }
        }
    }
    None
}

fn missing_wording(command: &str, missing: &[String]) -> Option<String> {
    WORDING
        .iter()
        .find(|(cmd, args, with, _)| {
            *cmd == command
                && with.is_empty()
                && !missing.is_empty()
                && missing.iter().all(|m| args.contains(&m.as_str()))
        })
        .map(|(_, _, _, message)| message.to_string())
}

/// `' (did you mean 'x'?)'` from a suggestion in the error's context.
fn suggestion(err: &clap::Error, kind: ContextKind) -> String {
    match string(err, kind) {
        Some(s) => format!(" (did you mean '{s}'?)"),
        None => String::new(),
    }
}

/// One `error: ...` line for a clap usage error of `command` (the
/// subcommand given, if any); the argument is named first, as in every
/// other error of the program.
pub fn one_line(err: &clap::Error, command: Option<&str>) -> String {
    let command = command.unwrap_or("");
    let arg = string(err, ContextKind::InvalidArg).map(|a| arg_name(&a));
    let value = string(err, ContextKind::InvalidValue);
    let body = match (err.kind(), &arg) {
        (ErrorKind::InvalidValue, Some(arg)) => {
            let valid = strings(err, ContextKind::ValidValue);
            match value.as_deref() {
                Some("") | None if valid.is_empty() => format!("{arg}: needs a value"),
                Some("") | None => format!("{arg}: needs a value, one of {}", valid.join(", ")),
                Some(v) if valid.is_empty() => format!("{arg}: '{v}' is not valid"),
                Some(v) => format!("{arg}: '{v}' is not one of {}", valid.join(", ")),
            }
        }
        (ErrorKind::ValueValidation, Some(arg)) => {
            let why = std::error::Error::source(err)
                .map(|e| e.to_string())
                .unwrap_or_else(|| format!("'{}' is not valid", value.unwrap_or_default()));
            format!("{arg}: {why}")
        }
        (ErrorKind::UnknownArgument, Some(arg)) => {
            let tips = strings(err, ContextKind::Suggested);
            format!(
                "unexpected argument '{arg}'{}{}",
                suggestion(err, ContextKind::SuggestedArg),
                tips.iter().map(|t| format!("; {t}")).collect::<String>()
            )
        }
        (ErrorKind::ArgumentConflict, Some(arg)) => {
            let others: Vec<String> = strings(err, ContextKind::PriorArg)
                .iter()
                .map(|o| arg_name(o))
                .collect();
            if others.is_empty() || others.iter().all(|o| o == arg) {
                format!("{arg}: given more than once")
            } else {
                conflict_wording(command, arg, &others)
                    .unwrap_or_else(|| format!("{arg}: cannot be used with {}", others.join(", ")))
            }
        }
        (ErrorKind::MissingRequiredArgument, _) => {
            // Each entry is an argument or a group (one of several).
            let entries: Vec<Vec<String>> = strings(err, ContextKind::InvalidArg)
                .iter()
                .map(|m| missing_names(m))
                .collect();
            let missing: Vec<String> = entries.iter().flatten().cloned().collect();
            missing_wording(command, &missing).unwrap_or_else(|| {
                let each: Vec<String> = entries.iter().map(|e| e.join(" or ")).collect();
                format!("missing {}", each.join(" and "))
            })
        }
        (ErrorKind::InvalidSubcommand, _) => format!(
            "unrecognized command '{}'{}",
            string(err, ContextKind::InvalidSubcommand).unwrap_or_default(),
            suggestion(err, ContextKind::SuggestedSubcommand)
        ),
        (ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues, Some(arg)) => {
            format!("{arg}: too many values")
        }
        (ErrorKind::TooFewValues, Some(arg)) => format!("{arg}: too few values"),
        _ => first_line(err),
    };
    format!("error: {body}")
}

/// clap's own message, first line, without its `error: `.
fn first_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let line = text.lines().next().unwrap_or("").trim();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn workload_names_are_the_simulators() {
        let ours: Vec<&str> = Workload::value_variants()
            .iter()
            .map(|w| w.name())
            .collect();
        assert_eq!(ours, bbs_sim::workloads::NAMES);
        for w in Workload::value_variants() {
            assert_eq!(w.to_possible_value().unwrap().get_name(), w.name());
        }
        for d in DeviceName::value_variants() {
            assert_eq!(d.to_possible_value().unwrap().get_name(), d.name());
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(count("7"), Ok(7));
        assert_eq!(count("-1"), Err("-1 is negative".into()));
        assert_eq!(count("x"), Err("'x' is not a whole number".into()));
        assert_eq!(at_least_1("0"), Err("0 must be at least 1".into()));
        assert_eq!(at_least_1("-3"), Err("-3 must be at least 1".into()));
        assert_eq!(sparsity("1.5"), Err("1.5 is outside [0, 1)".into()));
        assert_eq!(sparsity("-0.5"), Err("-0.5 is outside [0, 1)".into()));
        assert_eq!(sparsity("NaN"), Err("NaN is outside [0, 1)".into()));
        assert_eq!(sparsity("0.5"), Ok(0.5));
        assert_eq!(frames("1000000"), Ok(1_000_000));
        assert_eq!(
            frames("1000000000000"),
            Err("1000000000000 is more than 1000000 (the most one run simulates)".into())
        );
        assert_eq!(frames("0"), Err("0 must be at least 1".into()));
    }

    #[test]
    fn names_of_rendered_arguments() {
        assert_eq!(arg_name("--frames <FRAMES>"), "--frames");
        assert_eq!(arg_name("--no-budget"), "--no-budget");
        assert_eq!(arg_name("[CSB]"), "CSB");
        assert_eq!(arg_name("<WEIGHTS>"), "WEIGHTS");
        assert_eq!(
            missing_names("<--output <OUTPUT>|--out-dir <OUT_DIR>>"),
            ["--output", "--out-dir"]
        );
        assert_eq!(missing_names("--input <INPUT>"), ["--input"]);
        assert_eq!(missing_names("<INPUT>"), ["INPUT"]);
    }
}
