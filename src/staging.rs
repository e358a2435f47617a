//! All-or-nothing output directories: everything is written into a hidden
//! staging directory beside the output directory and moved in only when all
//! of it exists, so a failure never leaves a half-written result.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub struct Staging {
    dir: tempfile::TempDir,
    out_dir: PathBuf,
}

impl Staging {
    /// A staging directory for `out_dir` (created beside it, on the same file system).
    pub fn new(out_dir: &Path) -> Result<Staging> {
        let parent = match out_dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
        let dir = tempfile::Builder::new()
            .prefix(".bbs-staging-")
            .tempdir_in(&parent)
            .with_context(|| format!("{}: cannot write", parent.display()))?;
        Ok(Staging {
            dir,
            out_dir: out_dir.to_path_buf(),
        })
    }

    /// Where to write (for writers that take a path).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write `bytes` to `rel` (which may contain directories).
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        let p = self.dir.path().join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)
                .with_context(|| format!("{}: cannot create", d.display()))?;
        }
        std::fs::write(&p, bytes).with_context(|| format!("{}: cannot write", p.display()))
    }

    /// Move every staged file into the output directory.
    pub fn commit(self) -> Result<()> {
        let st = self.dir.path();
        std::fs::create_dir_all(&self.out_dir)
            .with_context(|| format!("{}: cannot create", self.out_dir.display()))?;
        for entry in walk(st)? {
            let dest = self
                .out_dir
                .join(entry.strip_prefix(st).expect("inside staging"));
            if let Some(d) = dest.parent() {
                std::fs::create_dir_all(d)
                    .with_context(|| format!("{}: cannot create", d.display()))?;
            }
            std::fs::rename(&entry, &dest)
                .with_context(|| format!("{}: cannot write", dest.display()))?;
        }
        Ok(())
    }
}

/// Write `files` (name, contents) into `dir`, all or nothing.
pub fn write_dir_atomic(dir: &Path, files: &[(&str, String)]) -> Result<()> {
    let st = Staging::new(dir)?;
    for (name, text) in files {
        st.write(name, text.as_bytes())?;
    }
    st.commit()
}

fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("{}: cannot read", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            files.extend(walk(&p)?);
        } else {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}
