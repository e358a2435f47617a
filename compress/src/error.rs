//! The crate's error type. Every message is one line that names the file
//! and/or the field or tensor, then the problem, so a CLI can print it as is.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// All failures of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system I/O failure on a file or directory.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        /// What was being attempted, e.g. "cannot read".
        action: &'static str,
        source: std::io::Error,
    },

    /// A parameter (not a file) is out of range, e.g. `sparsity`, `banks`.
    #[error("{name}: {msg}")]
    Param { name: String, msg: String },

    /// A weight matrix passed in memory holds NaN or an infinity.
    #[error("weights: {value} at (row {row}, col {col}); weights must be finite")]
    NonFiniteWeight { row: usize, col: usize, value: f32 },

    /// The file as a whole is unusable (unknown extension, malformed container).
    #[error("{}: {msg}", path.display())]
    File { path: PathBuf, msg: String },

    /// One tensor inside a file is unusable (shape, dtype, NaN/Inf, ...).
    #[error("{}: tensor '{tensor}' {msg}", path.display())]
    Tensor {
        path: PathBuf,
        tensor: String,
        msg: String,
    },

    /// A tensor name was not given and could not be inferred, or does not
    /// exist; or the file holds no tensor at all.
    #[error("{}: {}", path.display(), describe_missing(wanted, available))]
    TensorNotFound {
        path: PathBuf,
        wanted: Option<String>,
        available: Vec<String>,
    },

    /// A CSB file does not start with the CSB magic bytes.
    #[error("{}: not a CSB file (bad magic bytes)", path.display())]
    BadMagic { path: PathBuf },

    /// A CSB file of a version this reader does not know.
    #[error("{}: unsupported CSB version {version} (this reader knows version 1)", path.display())]
    UnsupportedVersion { path: PathBuf, version: u16 },

    /// A CSB file shorter than its header says it must be.
    #[error("{}: truncated: {expected} bytes expected, {actual} present", path.display())]
    Truncated {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },

    /// A CSB file longer than its header says it must be.
    #[error("{}: {extra} trailing bytes after the {expected} bytes the header describes", path.display())]
    TrailingBytes {
        path: PathBuf,
        expected: u64,
        extra: u64,
    },

    /// The CRC32 stored in a CSB file does not match its contents.
    #[error("{}: checksum mismatch (file is corrupted)", path.display())]
    ChecksumMismatch { path: PathBuf },

    /// An output refused or not written as planned (`crate::output`): the
    /// message names the option and the file.
    #[error("{0}")]
    Output(String),

    /// A CSB header or payload that fails a consistency rule.
    #[error("{}: inconsistent CSB: {msg}", path.display())]
    InvalidCsb { path: PathBuf, msg: String },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

fn describe_missing(wanted: &Option<String>, available: &[String]) -> String {
    match wanted {
        Some(name) => format!(
            "no tensor named '{name}'; available: {}",
            list_names(available)
        ),
        None if available.is_empty() => "holds no tensors".to_string(),
        None => format!(
            "holds several tensors; name the one to use; available: {}",
            list_names(available)
        ),
    }
}

fn list_names(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_string()
    } else {
        names.join(", ")
    }
}

/// How a name from outside the program (a path, a tensor, layer or
/// configuration name) appears in a message or a status line: control
/// characters (a newline, an ANSI escape) are escaped (`\n`, `\u{1b}`), so
/// a message stays one line and nothing reaches the terminal as a command.
/// Everything else is kept as it is. Every name the program echoes goes
/// through here (or through [`shown_path`]).
pub fn shown(name: &str) -> Cow<'_, str> {
    if name.chars().any(char::is_control) {
        Cow::Owned(
            name.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(name)
    }
}

/// [`shown`] for a path (lossy where it is not UTF-8, like `Path::display`).
pub fn shown_path(path: &Path) -> String {
    shown(&path.to_string_lossy()).into_owned()
}

/// Longest message kept from another library: parsers may echo a whole
/// (possibly hostile, megabyte-long) header back in their error.
const MAX_MSG_CHARS: usize = 300;

/// Messages from other libraries may span lines and run long; ours must not.
pub(crate) fn one_line(s: impl std::fmt::Display) -> String {
    let joined = s
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if joined.chars().count() <= MAX_MSG_CHARS {
        joined
    } else {
        let mut cut: String = joined.chars().take(MAX_MSG_CHARS).collect();
        cut.push_str("...");
        cut
    }
}

impl Error {
    pub fn io(path: &Path, action: &'static str, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }

    pub(crate) fn param(name: &str, msg: impl std::fmt::Display) -> Error {
        Error::Param {
            name: name.to_string(),
            msg: one_line(msg),
        }
    }

    pub(crate) fn file(path: &Path, msg: impl std::fmt::Display) -> Error {
        Error::File {
            path: path.to_path_buf(),
            msg: one_line(msg),
        }
    }

    pub(crate) fn tensor(path: &Path, tensor: &str, msg: impl std::fmt::Display) -> Error {
        Error::Tensor {
            path: path.to_path_buf(),
            tensor: tensor.to_string(),
            msg: one_line(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_and_caps() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
        let long = one_line("x".repeat(10_000));
        assert_eq!(long.len(), MAX_MSG_CHARS + 3);
        assert!(long.ends_with("..."));
    }

    #[test]
    fn shown_escapes_control_characters_only() {
        assert_eq!(shown("plain name/x.npy"), "plain name/x.npy");
        assert_eq!(shown("a\nerror: b"), "a\\nerror: b");
        assert_eq!(shown("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(shown("tab\there"), "tab\\there");
        assert_eq!(shown_path(Path::new("d/a\rb")), "d/a\\rb");
        // Escaping twice changes nothing more.
        assert_eq!(shown(&shown("a\nb")), shown("a\nb"));
    }

    #[test]
    fn display_is_one_line_and_names_things() {
        let e = Error::TensorNotFound {
            path: "m.npz".into(),
            wanted: None,
            available: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            e.to_string(),
            "m.npz: holds several tensors; name the one to use; available: a, b"
        );
        let e = Error::TensorNotFound {
            path: "m.npz".into(),
            wanted: None,
            available: vec![],
        };
        assert_eq!(e.to_string(), "m.npz: holds no tensors");
        let e = Error::TensorNotFound {
            path: "m.npz".into(),
            wanted: Some("w".into()),
            available: vec![],
        };
        assert_eq!(
            e.to_string(),
            "m.npz: no tensor named 'w'; available: (none)"
        );
        let e = Error::tensor(
            Path::new("weights.npy"),
            "x",
            "is 1-D with shape [5]; a 2-D matrix is needed",
        );
        assert_eq!(
            e.to_string(),
            "weights.npy: tensor 'x' is 1-D with shape [5]; a 2-D matrix is needed"
        );
    }
}
