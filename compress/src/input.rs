//! Opening input files: every file the toolkit reads (weights, CSB,
//! configurations, layer rules, manifests) is opened here, so every input
//! gets the same two guarantees.
//!
//! - **Regular files only.** A FIFO, a device (a symlink to `/dev/zero`,
//!   say) or a socket is refused before anything is read from it; a symlink
//!   to a regular file is fine. The check is made on the path (so a device
//!   is never even opened) and again on the opened file, which is opened
//!   non-blocking, so that a FIFO swapped in between cannot block the open.
//! - **Bounded reads.** Text inputs are read whole, so they are capped at
//!   [`MAX_TEXT_BYTES`]; binary inputs are never read past the size the
//!   file system reports, and each format checks the sizes its header
//!   claims against that before allocating anything.
//!
//! Errors are [`std::io::Error`]s, so each caller words them as it words any
//! other failure to read its file: `c.toml: cannot read configuration: not
//! a regular file (a FIFO)`.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;

/// The largest text input (TOML configuration, layer rules, JSON manifest)
/// read: 16 MiB.
pub const MAX_TEXT_BYTES: u64 = 16 << 20;

/// What a file that is not a regular file is, for the error.
fn kind(meta: &Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// `Ok` for a regular file; the error for anything else.
fn check_regular(meta: &Metadata) -> io::Result<()> {
    if meta.is_file() {
        return Ok(());
    }
    if meta.is_dir() {
        // The error reading a directory always gave, kept as it was.
        #[cfg(unix)]
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file ({})", kind(meta)),
    ))
}

/// Opens `path` for reading if it is a regular file (after following
/// symlinks), without blocking on a FIFO; returns the file and its length.
pub fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    // On the path first: a device is refused without being opened.
    check_regular(&std::fs::metadata(path)?)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // For a regular file O_NONBLOCK changes nothing; for a FIFO swapped
        // in after the check above, it keeps the open from blocking.
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path)?;
    // Then on the opened file itself, which cannot change any more.
    let meta = file.metadata()?;
    check_regular(&meta)?;
    Ok((file, meta.len()))
}

fn too_large(len: u64, limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "too large: {len} bytes, over the limit of {}",
            size_str(limit)
        ),
    )
}

/// `16 MiB`, or the byte count when it is not a whole number of MiB.
fn size_str(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes & ((1 << 20) - 1) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// The whole of the regular file `path`, if it has at most `limit` bytes.
/// The limit is checked on the file's size before reading and again while
/// reading (a file that grows, or reports no size, cannot get past it).
pub fn read_bounded(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let (file, len) = open_regular(path)?;
    if len > limit {
        return Err(too_large(len, limit));
    }
    let mut buf = Vec::with_capacity(len as usize);
    file.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(too_large(buf.len() as u64, limit));
    }
    Ok(buf)
}

/// A text input (TOML, JSON): [`read_bounded`] to [`MAX_TEXT_BYTES`], as
/// UTF-8. Errors read like [`std::fs::read_to_string`]'s.
pub fn read_text(path: &Path) -> io::Result<String> {
    let bytes = read_bounded(path, MAX_TEXT_BYTES)?;
    String::from_utf8(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_and_symlinks_to_them_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.toml");
        std::fs::write(&p, "x = 1\n").unwrap();
        assert_eq!(read_text(&p).unwrap(), "x = 1\n");
        #[cfg(unix)]
        {
            let l = dir.path().join("l.toml");
            std::os::unix::fs::symlink(&p, &l).unwrap();
            assert_eq!(read_text(&l).unwrap(), "x = 1\n");
            let (_, len) = open_regular(&l).unwrap();
            assert_eq!(len, 6);
        }
    }

    #[test]
    fn the_size_cap_holds() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'a'; 1001]).unwrap();
        assert_eq!(read_bounded(&p, 1001).unwrap().len(), 1001);
        let e = read_bounded(&p, 1000).unwrap_err().to_string();
        assert_eq!(e, "too large: 1001 bytes, over the limit of 1000 bytes");
        assert_eq!(
            too_large(17 << 20, MAX_TEXT_BYTES).to_string(),
            "too large: 17825792 bytes, over the limit of 16 MiB"
        );
    }

    #[test]
    fn bad_utf8_and_missing_files_read_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bin");
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        assert_eq!(
            read_text(&p).unwrap_err().to_string(),
            std::fs::read_to_string(&p).unwrap_err().to_string()
        );
        let missing = dir.path().join("nope");
        assert_eq!(
            read_text(&missing).unwrap_err().to_string(),
            std::fs::read_to_string(&missing).unwrap_err().to_string()
        );
        assert_eq!(
            read_text(dir.path()).unwrap_err().to_string(),
            std::fs::read_to_string(dir.path()).unwrap_err().to_string()
        );
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let st = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(st.success());
        let e = read_text(&fifo).unwrap_err().to_string();
        assert_eq!(e, "not a regular file (a FIFO)");
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let e = open_regular(&zero).unwrap_err().to_string();
        assert_eq!(e, "not a regular file (a character device)");
        assert!(read_bounded(Path::new("/dev/null"), 10).is_err());
    }
}
