//! Output files, written atomically: a temporary file beside the target is
//! filled, synced and renamed into place, so a reader never sees a
//! half-written file and a failure leaves nothing behind (the temporary file
//! is removed by its drop).
//!
//! Every file this crate writes goes through here: CSB ([`crate::Csb::write`]),
//! `$readmemh` hex, `.npy`, whole models ([`crate::write_like`]) and masks.
//! The module depends on nothing but [`crate::error`] on purpose: it is the
//! place where the output layer (plan the outputs, check them against the
//! inputs, stage, publish, roll back) is meant to grow, without the weight
//! readers or any format in the way.

use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::{Array, Dimension};
use ndarray_npy::{WritableElement, WriteNpyExt};

use crate::error::{one_line, Error, Result};

/// Creates a temporary file next to `path`, lets `fill` write it, then renames
/// it over `path`. On any error the temporary file is removed (by its drop).
pub(crate) fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::result::Result<(), String>,
) -> Result<()> {
    write_atomic_with(path, |f| {
        fill(f).map_err(|msg| Error::file(path, format!("cannot write: {msg}")))
    })
}

/// [`write_atomic`] with a `fill` that returns this crate's errors, passed on as they are.
pub(crate) fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::file(path, "output path has no file name"))?;
    let dir: PathBuf = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(file_name);
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // NamedTempFile defaults to 0600; ask for 0666 so the umask decides, as
    // for any ordinary file the user creates.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(&dir).map_err(|e| {
        // tempfile appends the random temp name; the OS error alone is clearer.
        let e = e
            .raw_os_error()
            .map_or(e, std::io::Error::from_raw_os_error);
        Error::io(path, "cannot create a temporary file beside it", e)
    })?;
    fill(tmp.as_file_mut())?;
    tmp.as_file_mut()
        .flush()
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io(path, "cannot write", e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(path, "cannot rename the temporary file into place", e.error))?;
    Ok(())
}

/// Writes `a` as `.npy` atomically: a temporary file in the same directory is
/// renamed into place, so readers never see a half-written file and a failure
/// leaves nothing behind.
pub fn write_npy_atomic<A: WritableElement, D: Dimension>(
    path: &Path,
    a: &Array<A, D>,
) -> Result<()> {
    write_atomic(path, |f| {
        let mut w = std::io::BufWriter::new(f);
        a.write_npy(&mut w).map_err(one_line)?;
        w.flush().map_err(one_line)
    })
}

/// Writes `bytes` atomically, like [`write_npy_atomic`].
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |f| f.write_all(bytes).map_err(one_line))
}
