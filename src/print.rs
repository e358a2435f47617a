//! Everything the program prints goes through here: reports and status
//! lines on stdout ([`out`], [`say!`](crate::say)), warnings on stderr
//! ([`warn`]) and the one `error:` line of a failure ([`error`]).
//!
//! * **A closed stdout ends the run; it never panics.** Before a command
//!   prints, it says whether stdout is its output ([`stdout_is_output`]):
//!   true when the printed text is the result (`bbs sim M X` with no output
//!   file, `verify`'s comparison, `eval`'s table); false when it only
//!   reports files written. When stdout cannot be written (the reader of a
//!   pipe has gone, `> /dev/full`), a status report stops quietly on a
//!   closed pipe (exit 0; the files are written) and fails on any other
//!   error; an output fails on any error, with one `error: stdout: ...` line
//!   and exit code 1. Either way nothing more is printed on stdout.
//! * **Failures to write stderr are ignored**: there is nowhere left to say them.
//! * **Names are escaped**: the error line, warnings and status lines pass
//!   through [`bbs_compress::shown`], so a newline or an ANSI escape in a
//!   path, a configuration name or a layer name cannot split a line, forge
//!   another `error:` line or reach the terminal. Report text keeps its
//!   newlines and tabs and escapes every other control character.

use bbs_compress::shown;
use std::borrow::Cow;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_IS_OUTPUT: AtomicBool = AtomicBool::new(true);
static STDOUT_DONE: AtomicBool = AtomicBool::new(false);

/// Whether the text printed on stdout is the command's output (true, the
/// default) or only reports files written (false).
pub fn stdout_is_output(yes: bool) {
    STDOUT_IS_OUTPUT.store(yes, Ordering::Relaxed);
}

/// stdout could not be written and its text was the output.
#[derive(Debug)]
pub struct StdoutError(std::io::Error);

impl std::fmt::Display for StdoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stdout: cannot write: {}", self.0)
    }
}

impl std::error::Error for StdoutError {}

/// Report text with every control character but newlines and tabs escaped.
fn printable(text: &str) -> Cow<'_, str> {
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        text.split('\n')
            .map(|line| {
                line.split('\t')
                    .map(|part| shown(part).into_owned())
                    .collect::<Vec<_>>()
                    .join("\t")
            })
            .collect::<Vec<_>>()
            .join("\n")
            .into()
    } else {
        Cow::Borrowed(text)
    }
}

/// Print `text` on stdout as it is (it holds its own newlines).
pub fn out(text: &str) -> Result<(), StdoutError> {
    if STDOUT_DONE.load(Ordering::Relaxed) {
        return Ok(());
    }
    let text = printable(text);
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) => {
            STDOUT_DONE.store(true, Ordering::Relaxed);
            if e.kind() == std::io::ErrorKind::BrokenPipe
                && !STDOUT_IS_OUTPUT.load(Ordering::Relaxed)
            {
                Ok(())
            } else {
                Err(StdoutError(e))
            }
        }
    }
}

/// Print one line on stdout, like `println!`: `say!("wrote {}", name)?`.
#[macro_export]
macro_rules! say {
    () => {
        $crate::print::out("\n")
    };
    ($($arg:tt)*) => {
        $crate::print::out(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `wrote PATH` (the path escaped).
pub fn wrote(path: &std::path::Path) -> Result<(), StdoutError> {
    out(&format!("wrote {}\n", bbs_compress::shown_path(path)))
}

/// One line on stderr, escaped; a failure to write it is ignored.
pub fn warn(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", shown(line));
}

/// The one `error:` line of `e` (its causes joined by `: `, escaped), and
/// under it, indented, the output of a tool that failed (Verilator, Yosys).
pub fn error(e: &anyhow::Error) {
    let (line, detail) = error_text(e);
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
    for l in detail.lines().filter(|l| !l.trim().is_empty()) {
        let _ = writeln!(stderr, "  {}", printable(l).replace('\t', " "));
    }
}

/// The error line and a tool's output (empty when there is none).
pub fn error_text(e: &anyhow::Error) -> (String, String) {
    use bbs_hdlgen::verilator::VerilatorError;
    use bbs_hdlgen::yosys::SynthError;
    let mut parts: Vec<String> = Vec::new();
    let mut detail = String::new();
    for cause in e.chain() {
        let text = match (
            cause.downcast_ref::<VerilatorError>(),
            cause.downcast_ref::<SynthError>(),
        ) {
            (Some(VerilatorError::Failed { step, dir, output }), _) => {
                detail = output.clone();
                format!("verilator {step} failed in {dir}")
            }
            (
                _,
                Some(SynthError::Failed {
                    config,
                    step,
                    message,
                }),
            ) => {
                let (first, rest) = message.split_once('\n').unwrap_or((message, ""));
                detail = rest.to_string();
                format!("configuration '{config}': {step}: {first}")
            }
            _ => cause.to_string(),
        };
        // A cause its parent's message already ends with (thiserror's
        // `{source}`) is not said twice.
        if parts.last().is_some_and(|p| p.ends_with(&text)) {
            continue;
        }
        parts.push(text);
    }
    (format!("error: {}", shown(&parts.join(": "))), detail)
}

/// A progress bar on stderr for `len` steps labelled `what`; hidden with
/// `quiet` or when stderr is not a terminal (logs and pipes stay clean).
pub fn progress(len: usize, quiet: bool, what: &str) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use std::io::IsTerminal;
    let pb = ProgressBar::new(len as u64);
    if quiet || !std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    } else {
        pb.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        pb.set_message(what.to_string());
    }
    pb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_text_keeps_lines_and_tabs_only() {
        assert_eq!(printable("a\n\tb\n"), "a\n\tb\n");
        assert_eq!(printable("x\u{1b}[2Jy\n"), "x\\u{1b}[2Jy\n");
        assert_eq!(printable("a\rb"), "a\\rb");
    }

    #[test]
    fn the_error_line_is_one_line_without_repeats() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = anyhow::Error::new(bbs_compress::Error::io(
            std::path::Path::new("a\nerror: forged"),
            "cannot read",
            io,
        ));
        let (line, detail) = error_text(&e);
        assert_eq!(
            line,
            "error: a\\nerror: forged: cannot read: entity not found"
        );
        assert!(detail.is_empty());
        let e = anyhow::Error::new(bbs_hdlgen::verilator::VerilatorError::Failed {
            step: "lint",
            dir: "d".into(),
            output: "%Warning: x\n%Error: y\n".into(),
        })
        .context("verify");
        let (line, detail) = error_text(&e);
        assert_eq!(line, "error: verify: verilator lint failed in d");
        assert_eq!(detail, "%Warning: x\n%Error: y\n");
    }
}
