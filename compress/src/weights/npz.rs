//! `.npz`: a zip archive of `.npy` members (stored or deflated, as
//! `numpy.savez` and `numpy.savez_compressed` write them). Members are read
//! as raw bytes, so each `.npy` header is checked by [`super::npy`] before
//! anything is allocated from it; rewriting copies the untouched members raw.
//!
//! A member is inflated as a stream, never past the size its `.npy` header
//! declares (plus [`TRAILING_SLACK`]): a member that inflates further is an
//! error as soon as it does, so a zip bomb costs no more memory than the
//! tensor it claims to be. Members a reader does not need (not selected,
//! not replaced) are inflated only as far as their header.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use crate::error::{one_line, Error, Result};

use super::npy::{head_tensor, header_end, npy_tensor, parse_head, NpyHead};
use super::select::{cand_of, Cand};
use super::tensor::tensor_err;

/// Bytes past a member's declared size that are still read, so that a
/// member with a little garbage after its data is reported with the exact
/// count, as a `.npy` file is; a member inflating further is stopped.
pub(crate) const TRAILING_SLACK: usize = 64 << 10;

/// (name without ".npy", name inside the archive), sorted by name.
pub(crate) fn npz_members(archive: &zip::ZipArchive<Cursor<&[u8]>>) -> Vec<(String, String)> {
    let mut members: Vec<(String, String)> = archive
        .file_names()
        .filter(|n| !n.ends_with('/'))
        .map(|n| {
            (
                n.strip_suffix(".npy").unwrap_or(n).to_string(),
                n.to_string(),
            )
        })
        .collect();
    members.sort();
    members
}

pub(crate) fn open_npz<'a>(
    bytes: &'a [u8],
    path: &Path,
) -> Result<zip::ZipArchive<Cursor<&'a [u8]>>> {
    zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        Error::file(
            path,
            format!("not a readable .npz archive: {}", one_line(e)),
        )
    })
}

/// One member: its bytes (the whole `.npy` image, or only its header).
pub(crate) struct Member {
    /// Without ".npy".
    pub name: String,
    /// Inside the archive.
    pub full: String,
    pub bytes: Vec<u8>,
    /// Whether the data was read too.
    pub whole: bool,
}

/// Reads member `full` (called `name`) of `archive`: its `.npy` header and,
/// when `whole`, its data, streaming, up to the size the header declares
/// plus [`TRAILING_SLACK`]. A member that inflates further is an error at
/// that point. A member whose header is unusable is read no further than
/// it; the member comes back with its parsed header, or the error that
/// makes it unusable (its header's, or that it inflates past its cap).
pub(crate) fn read_npz_member(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    path: &Path,
    name: &str,
    full: &str,
    whole: bool,
) -> Result<(Member, Result<NpyHead>)> {
    let member_err = |e: &dyn std::fmt::Display| {
        let hint = if e.to_string().to_lowercase().contains("compression") {
            " (supported: stored and deflate, as numpy.savez and numpy.savez_compressed write)"
        } else {
            ""
        };
        tensor_err(path, name, format!("cannot be read: {}{hint}", one_line(e)))
    };
    let file = archive.by_name(full).map_err(|e| member_err(&e))?;
    let (bytes, head) = read_capped(file, path, name, whole).map_err(|e| member_err(&e))?;
    let member = Member {
        name: name.to_string(),
        full: full.to_string(),
        bytes,
        whole,
    };
    Ok((member, head))
}

/// The streaming read of [`read_npz_member`] from any reader: the `.npy`
/// image's first 12 bytes, its header (at most its declared length, itself
/// bounded by [`super::npy::MAX_HEADER_LEN`]), then, when `whole` and the
/// header is usable, its data: at most the declared length plus
/// [`TRAILING_SLACK`] bytes, and one more to know that there are more: a
/// member with more is an error (in place of its header, whose bytes alone
/// are kept). Nothing is allocated ahead of the bytes that arrive.
pub(crate) fn read_capped(
    mut r: impl Read,
    path: &Path,
    name: &str,
    whole: bool,
) -> std::io::Result<(Vec<u8>, Result<NpyHead>)> {
    let mut buf = Vec::new();
    // Reads until `buf` holds `upto` bytes or the member ends.
    let mut fill = |buf: &mut Vec<u8>, upto: usize| {
        let more = upto.saturating_sub(buf.len()) as u64;
        (&mut r).take(more).read_to_end(buf).map(drop)
    };
    fill(&mut buf, 12)?;
    if let Some(end) = header_end(&buf) {
        fill(&mut buf, end)?;
    }
    let head = parse_head(&buf, path, name);
    if let (true, Ok(h)) = (whole, &head) {
        if let Some(need) = h.data_len {
            let total = h.data_start.saturating_add(need);
            let cap = total.saturating_add(TRAILING_SLACK);
            fill(&mut buf, cap.saturating_add(1))?;
            if buf.len() > cap {
                buf.truncate(h.data_start);
                buf.shrink_to_fit();
                let over = tensor_err(
                    path,
                    name,
                    format!(
                        "inflates past the {total} bytes its .npy header declares \
                         (reading stopped after {cap})"
                    ),
                );
                return Ok((buf, Err(over)));
            }
        }
    }
    Ok((buf, head))
}

/// Every member of an npz archive, sorted by name, with its parsed header:
/// read whole when `whole(name)`, else only as far as its header.
pub(crate) type Members = (Vec<Member>, Vec<Result<NpyHead>>);

/// Reads every member of an npz archive ([`Members`]).
pub(crate) fn npz_read(bytes: &[u8], path: &Path, whole: impl Fn(&str) -> bool) -> Result<Members> {
    let mut archive = open_npz(bytes, path)?;
    let (mut members, mut heads) = (Vec::new(), Vec::new());
    for (name, full) in npz_members(&archive) {
        let w = whole(&name);
        let (member, head) = read_npz_member(&mut archive, path, &name, &full, w)?;
        members.push(member);
        heads.push(head);
    }
    Ok((members, heads))
}

/// The members read by [`npz_read`] as candidates: `unit` is the member's
/// index, `offset` where its data starts in the member. A member that is
/// not a valid `.npy` fails reading them all. A member read only as far as
/// its header is a candidate without data: it tells what the member is,
/// and must be read whole before it is decoded.
pub(crate) fn candidates<'a>(
    members: &'a [Member],
    heads: Vec<Result<NpyHead>>,
    path: &Path,
) -> Vec<Cand<'a>> {
    members
        .iter()
        .zip(heads)
        .enumerate()
        .map(|(i, (m, head))| {
            let tensor = head.and_then(|h| {
                let offset = h.data_start;
                let t = if m.whole {
                    npy_tensor(&m.bytes, h, path, &m.name)?
                } else {
                    head_tensor(h, &m.name)
                };
                Ok((t, offset))
            });
            match tensor {
                Ok((t, offset)) => cand_of(t, path, i, offset),
                Err(e) => Cand::err(&m.name, e, true),
            }
        })
        .collect()
}

/// The archive with the members named in `changed` (by their name in the
/// archive) replaced, stored uncompressed; the others copied raw.
pub(crate) fn rewrite_npz(
    bytes: &[u8],
    path: &Path,
    changed: &BTreeMap<String, Vec<u8>>,
) -> Result<Vec<u8>> {
    let zerr = |e: &dyn std::fmt::Display| {
        Error::file(
            path,
            format!("cannot rewrite the .npz archive: {}", one_line(e)),
        )
    };
    let mut archive = open_npz(bytes, path)?;
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let file = archive.by_index_raw(i).map_err(|e| zerr(&e))?;
        match changed.get(file.name()) {
            None => w.raw_copy_file(file).map_err(|e| zerr(&e))?,
            Some(data) => {
                let mut opts = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored)
                    .last_modified_time(file.last_modified().unwrap_or_default())
                    .large_file(data.len() as u64 >= u64::from(u32::MAX));
                if let Some(mode) = file.unix_mode() {
                    opts = opts.unix_permissions(mode);
                }
                let name = file.name().to_string();
                drop(file);
                w.start_file(name, opts).map_err(|e| zerr(&e))?;
                w.write_all(data).map_err(|e| zerr(&e))?;
            }
        }
    }
    Ok(w.finish().map_err(|e| zerr(&e))?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A reader that counts the bytes it hands out.
    struct Counting<'c, R> {
        inner: R,
        count: &'c Cell<u64>,
    }

    impl<R: Read> Read for Counting<'_, R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.count.set(self.count.get() + n as u64);
            Ok(n)
        }
    }

    /// An 8 x 8 f32 header (64 bytes, padded), then `data`.
    fn member(data: impl Read) -> (usize, impl Read) {
        let mut h = "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 8), }".to_string();
        while (10 + h.len() + 1) & 63 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut head = b"\x93NUMPY\x01\x00".to_vec();
        head.extend_from_slice(&(h.len() as u16).to_le_bytes());
        head.extend_from_slice(h.as_bytes());
        (head.len(), Cursor::new(head).chain(data))
    }

    fn run(data: impl Read, whole: bool) -> (std::result::Result<Vec<u8>, String>, u64, usize) {
        let count = Cell::new(0);
        let (head_len, r) = member(data);
        let r = Counting {
            inner: r,
            count: &count,
        };
        let got = match read_capped(r, Path::new("m.npz"), "w", whole).unwrap() {
            (bytes, Ok(_)) => Ok(bytes),
            (bytes, Err(e)) => {
                assert_eq!(bytes.len(), head_len);
                Err(e.to_string())
            }
        };
        (got, count.get(), head_len)
    }

    #[test]
    fn a_member_is_read_no_further_than_its_cap() {
        // An endless member: reading stops one byte past the cap.
        let (got, read, head_len) = run(std::io::repeat(0), true);
        let total = head_len + 256;
        let cap = total + TRAILING_SLACK;
        assert_eq!(
            got.unwrap_err(),
            format!(
                "m.npz: tensor 'w' inflates past the {total} bytes its .npy header declares (reading stopped after {cap})"
            )
        );
        assert_eq!(read, cap as u64 + 1);
        // Exactly the declared size, and a little more: read to the end.
        for extra in [0, 3, TRAILING_SLACK] {
            let (got, read, _) = run(std::io::repeat(0).take((256 + extra) as u64), true);
            assert_eq!(got.unwrap().len(), total + extra);
            assert_eq!(read, (total + extra) as u64);
        }
        // Not needed whole: the header only.
        let (got, read, _) = run(std::io::repeat(0), false);
        assert_eq!(got.unwrap().len(), head_len);
        assert_eq!(read, head_len as u64);
    }
}
