//! A weight file's bytes, and the little that every format needs from its
//! path (extension, stem).
//!
//! Files are opened through [`crate::input`] (regular files only: a FIFO or
//! a device is refused), memory-mapped (or read into memory, up to the size
//! the file system reports, when they cannot be mapped), and every format
//! checks each size the file claims against the bytes actually present
//! before anything is allocated from it, so a corrupt header gives an error,
//! never a huge allocation or a panic. Like any reader that maps its input,
//! this assumes a file is not truncated while it is read.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A whole file's bytes: memory-mapped, so only the pages looked at are
/// read (and none copied), or read into memory when the file cannot be
/// mapped.
pub(crate) struct FileBytes {
    file: File,
    data: FileData,
    pub(crate) path: PathBuf,
}

enum FileData {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl FileBytes {
    pub(crate) fn open(path: &Path) -> Result<FileBytes> {
        let cannot = |e| Error::io(path, "cannot read", e);
        let (file, len) = crate::input::open_regular(path).map_err(cannot)?;
        // SAFETY: the mapping is read-only. Its contents change only if the
        // file is modified while it is mapped (and a truncation would raise
        // SIGBUS), which the module documentation rules out, as every
        // memory-mapping reader must.
        let data = match unsafe { memmap2::Mmap::map(&file) } {
            Ok(map) => FileData::Mapped(map),
            Err(_) => {
                let mut buf = Vec::new();
                (&file).take(len).read_to_end(&mut buf).map_err(cannot)?;
                FileData::Read(buf)
            }
        };
        Ok(FileBytes {
            file,
            data,
            path: path.to_path_buf(),
        })
    }

    /// The open file when the bytes are mapped: reading a range from it
    /// instead of through the mapping keeps the file's pages out of this
    /// process's memory.
    pub(crate) fn mapped_file(&self) -> Option<&File> {
        match self.data {
            FileData::Mapped(_) => Some(&self.file),
            FileData::Read(_) => None,
        }
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.data {
            FileData::Mapped(map) => map,
            FileData::Read(buf) => buf,
        }
    }
}

pub(crate) fn read_file(path: &Path) -> Result<FileBytes> {
    FileBytes::open(path)
}

/// Fills `buf` from `file` at byte `offset`.
pub(crate) fn read_at(file: &File, offset: usize, buf: &mut [u8], path: &Path) -> Result<()> {
    let mut f = file;
    f.seek(SeekFrom::Start(offset as u64))
        .and_then(|_| f.read_exact(buf))
        .map_err(|e| Error::io(path, "cannot read", e))
}

pub(crate) fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

pub(crate) fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Where `inner` starts within `outer`, of which it is a subslice.
pub(crate) fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}
