//! `.npz`: a zip archive of `.npy` members (stored or deflated, as
//! `numpy.savez` and `numpy.savez_compressed` write them). Members are read
//! as raw bytes, so each `.npy` header is size-checked by [`super::npy`]
//! before anything is allocated from it; rewriting copies the untouched
//! members raw.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use crate::error::{one_line, Error, Result};

use super::file::offset_in;
use super::npy::parse_npy;
use super::select::{cand_of, Cand};
use super::tensor::tensor_err;

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

pub(crate) fn read_npz_member(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    path: &Path,
    name: &str,
    full: &str,
) -> Result<Vec<u8>> {
    let member_err = |e: &dyn std::fmt::Display| {
        let hint = if e.to_string().to_lowercase().contains("compression") {
            " (supported: stored and deflate, as numpy.savez and numpy.savez_compressed write)"
        } else {
            ""
        };
        tensor_err(path, name, format!("cannot be read: {}{hint}", one_line(e)))
    };
    let mut file = archive.by_name(full).map_err(|e| member_err(&e))?;
    // No size hint is trusted: the buffer grows only as real bytes arrive.
    let mut buf = Vec::new();
    file.read_to_end(&mut buf).map_err(|e| member_err(&e))?;
    Ok(buf)
}

/// Reads every member of an npz archive: (name, bytes), sorted by name.
pub(crate) fn npz_all(bytes: &[u8], path: &Path) -> Result<Vec<(String, String, Vec<u8>)>> {
    let mut archive = open_npz(bytes, path)?;
    let mut out = Vec::new();
    for (name, full) in npz_members(&archive) {
        let member = read_npz_member(&mut archive, path, &name, &full)?;
        out.push((name, full, member));
    }
    Ok(out)
}

/// The members read by [`npz_all`] as candidates: `unit` is the member's
/// index, `offset` where its data starts in the member. A member that is
/// not a valid `.npy` fails reading them all.
pub(crate) fn candidates<'a>(
    members: &'a [(String, String, Vec<u8>)],
    path: &Path,
) -> Vec<Cand<'a>> {
    members
        .iter()
        .enumerate()
        .map(|(i, (name, _, b))| match parse_npy(b, path, name) {
            Ok(t) => {
                let offset = offset_in(b, &t.data);
                cand_of(t, path, i, offset)
            }
            Err(e) => Cand::err(name, e, true),
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
