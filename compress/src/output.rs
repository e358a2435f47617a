//! The output layer: every file and directory the program writes goes
//! through an [`OutputPlan`], so a command's outputs are all written or none
//! is, and no output ever replaces one of its inputs.
//!
//! 1. **Plan.** A command declares what it reads ([`OutputPlan::input`]) and
//!    what it writes: files ([`OutputPlan::file`]) and directories
//!    ([`OutputPlan::dir`], with the files it will hold, [`OutputPlan::part`]).
//! 2. **Check** ([`OutputPlan::check`], before any work, and again when
//!    publishing): two outputs must not be the same file, an output must not
//!    be an input, and a file output must not lie inside a directory output.
//!    Files are compared by their real path (symbolic links followed, `..`
//!    resolved) and, when they exist, by device and inode, so another name
//!    of the same file (a hard link, a symlink) is caught too.
//! 3. **Stage.** Every output is written in full first ([`OutputPlan::write`],
//!    [`OutputPlan::dest`]): a file to a temporary file of a short fixed-length
//!    name (`.bbs-XXXXXX.tmp`, so a target name of 255 bytes still works)
//!    beside its target; a directory's files to a staging directory
//!    (`.bbs-XXXXXX`) beside the directory when it does not exist yet, or
//!    inside it when it does.
//! 4. **Publish** ([`OutputPlan::publish`]): each staged file is renamed over
//!    its target, one rename per target, the old target kept as a backup
//!    (`.bbs-XXXXXX.old`, a hard link) until every target is in place; a new
//!    directory is renamed into place whole. On any failure the backups are
//!    put back, the new files removed, and the previous contents of every
//!    target are as they were. Dropping a plan that was not published
//!    removes everything it staged.
//!
//! **Existing files.** A file output replaces the file; when the target is a
//! symbolic link, the file it names is replaced and the link kept. A
//! directory output gets exactly the files the command writes, each
//! replacing the file of the same name; every other file in it (yours, or an
//! earlier run's) is left as it is.
//!
//! **Devices and pipes.** A target that is not a regular file (`/dev/null`,
//! `/dev/stdout`, a terminal, a named pipe) is never renamed over: its bytes
//! are staged in an anonymous temporary file and written to it in place, last,
//! once everything else is published (a device cannot take its bytes back, so
//! nothing else can fail after it). Two outputs may name the same device.
//!
//! The module depends on nothing but [`crate::error`] and the formats' own
//! writers, so every writer of this crate ([`crate::Csb::write`], `.npy`,
//! [`crate::write_like`], [`crate::write_masks`], `$readmemh` hex) and of the
//! program goes through it: alone ([`Dest::path`]: a plan of one file,
//! published at once) or as one output of a command's plan.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};

use ndarray::{Array, Dimension};
use ndarray_npy::{WritableElement, WriteNpyExt};

use crate::error::{one_line, Error, Result};

/// What is at a path now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Missing,
    /// A regular file (or, inside a directory output, an entry that is
    /// replaced as it is: a symbolic link).
    Regular,
    Dir,
    /// A device, a named pipe, a socket: written in place.
    Special,
}

/// Where a path is, for the checks.
#[derive(Clone, Debug)]
struct Place {
    /// As given, for messages and for writing.
    given: PathBuf,
    /// Absolute, symlinks followed and `..` resolved as far as the path exists.
    real: PathBuf,
    kind: Kind,
    /// (device, inode) when it exists.
    id: Option<(u64, u64)>,
}

impl Place {
    fn same_file(&self, other: &Place) -> bool {
        self.real == other.real || (self.id.is_some() && self.id == other.id)
    }
}

fn file_id(m: &fs::Metadata) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        None
    }
}

fn kind_of(m: &fs::Metadata) -> Kind {
    let t = m.file_type();
    if t.is_file() {
        Kind::Regular
    } else if t.is_dir() {
        Kind::Dir
    } else {
        Kind::Special
    }
}

/// `path` made absolute with the longest existing ancestor canonicalized
/// (symlinks and `..` resolved), the rest appended as given.
fn real_path(path: &Path) -> PathBuf {
    if let Ok(c) = fs::canonicalize(path) {
        return c;
    }
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    while let (Some(parent), Some(name)) = (cur.parent(), cur.file_name()) {
        rest.push(name.to_os_string());
        cur = parent;
        if let Ok(mut out) = fs::canonicalize(cur) {
            out.extend(rest.iter().rev());
            return out;
        }
    }
    abs
}

/// Where a file path leads, symbolic links followed (a dangling one to the
/// file it would create).
fn locate(given: &Path) -> io::Result<Place> {
    let mut p = given.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => match fs::metadata(&p) {
                Ok(t) => {
                    // Through the kernel: /dev/stdout may lead to a pipe,
                    // which has no path.
                    let real = fs::canonicalize(&p).unwrap_or_else(|_| real_path(&p));
                    return Ok(Place {
                        given: given.to_path_buf(),
                        real,
                        kind: kind_of(&t),
                        id: file_id(&t),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let link = fs::read_link(&p)?;
                    p = match p.parent() {
                        Some(d) => d.join(link),
                        None => link,
                    };
                }
                Err(e) => return Err(e),
            },
            Ok(m) => {
                return Ok(Place {
                    given: given.to_path_buf(),
                    real: real_path(&p),
                    kind: kind_of(&m),
                    id: file_id(&m),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Place {
                    given: given.to_path_buf(),
                    real: real_path(&p),
                    kind: Kind::Missing,
                    id: None,
                })
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// An entry of a directory output, as it is (a symbolic link is an entry
/// replaced, not followed).
fn locate_entry(given: &Path) -> io::Result<Place> {
    let real = match (given.parent(), given.file_name()) {
        (Some(d), Some(n)) => real_path(if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        })
        .join(n),
        _ => real_path(given),
    };
    match fs::symlink_metadata(given) {
        Ok(m) => Ok(Place {
            given: given.to_path_buf(),
            real,
            kind: if m.file_type().is_symlink() {
                Kind::Regular
            } else {
                kind_of(&m)
            },
            id: file_id(&m),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Place {
            given: given.to_path_buf(),
            real,
            kind: Kind::Missing,
            id: None,
        }),
        Err(e) => Err(e),
    }
}

/// The directory a path is in (`.` for a bare name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// A relative path of plain names (no `..`, not absolute): what a directory
/// output's files are named by.
fn plain_relative(rel: &str) -> bool {
    !rel.is_empty()
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// An OS error without what tempfile appends (its random temporary name).
fn bare(e: io::Error) -> io::Error {
    e.raw_os_error().map_or(e, io::Error::from_raw_os_error)
}

/// `{option}: {path} {problem}`, or `{path}: {problem}` for a plan of one file.
fn refused(option: &str, path: &Path, problem: impl std::fmt::Display) -> Error {
    Error::Output(if option.is_empty() {
        format!("{}: {problem}", path.display())
    } else {
        format!("{option}: {} {problem}", path.display())
    })
}

/// How another name of the same file is said: ` (b, the same file)`.
fn also(a: &Path, b: &Path) -> String {
    if a == b {
        String::new()
    } else {
        format!(" ({}, the same file)", b.display())
    }
}

/// A handle to one output of an [`OutputPlan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Out(usize);

/// A file output's staged bytes.
enum Staged {
    /// A temporary file beside the target, renamed over it.
    Beside(tempfile::TempPath),
    /// An anonymous temporary file, copied into the device or pipe.
    Aside(File),
}

struct FileTarget {
    option: String,
    place: Place,
    staged: Option<Staged>,
}

/// Where a directory output's files are staged.
struct DirStaging {
    root: PathBuf,
    /// The directory did not exist: the staging directory becomes it, whole.
    fresh: bool,
    /// Parent directories created for it, outermost first.
    made: Vec<PathBuf>,
}

struct DirTarget {
    option: String,
    place: Place,
    /// Files the command will write (relative), for the early check.
    parts: Vec<String>,
    /// Subtrees the command (or a tool it runs) owns whole: no input may be inside.
    owned: Vec<String>,
    staging: Option<DirStaging>,
    /// Files staged (relative), in order.
    files: Vec<String>,
}

enum Target {
    File(FileTarget),
    Dir(DirTarget),
}

/// One step of a publication, undone when a later one fails.
enum Undo {
    /// A staged file renamed over `target`; the old file, if any, in `backup`.
    Replaced {
        target: PathBuf,
        backup: Option<PathBuf>,
    },
    /// A directory created for a file of a directory output.
    MadeDir(PathBuf),
    /// A new directory output renamed into place from its staging directory.
    MovedDir { target: PathBuf, staging: PathBuf },
}

impl Undo {
    fn undo(self) {
        match self {
            Undo::Replaced { target, backup } => {
                let _ = match backup {
                    Some(b) => fs::rename(b, &target),
                    None => fs::remove_file(&target),
                };
            }
            Undo::MadeDir(d) => {
                let _ = fs::remove_dir(d);
            }
            Undo::MovedDir { target, staging } => {
                let _ = fs::rename(target, staging);
            }
        }
    }

    fn commit(self) {
        if let Undo::Replaced {
            backup: Some(b), ..
        } = self
        {
            let _ = fs::remove_file(b);
        }
    }
}

/// The outputs of one command: declared, checked against each other and
/// against the inputs, staged, then published together or not at all (see
/// the [module documentation](self)).
#[derive(Default)]
pub struct OutputPlan {
    inputs: Vec<(String, Place)>,
    targets: Vec<Target>,
}

impl std::fmt::Debug for OutputPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let paths: Vec<&Path> = self
            .targets
            .iter()
            .map(|t| match t {
                Target::File(t) => t.place.given.as_path(),
                Target::Dir(t) => t.place.given.as_path(),
            })
            .collect();
        f.debug_struct("OutputPlan")
            .field("inputs", &self.inputs.len())
            .field("targets", &paths)
            .finish()
    }
}

impl OutputPlan {
    pub fn new() -> OutputPlan {
        OutputPlan::default()
    }

    /// A file or directory the command reads, named `role` in messages (`WEIGHTS`,
    /// `--config`). One that does not exist (yet) is not an input to protect:
    /// its reader reports it.
    pub fn input(&mut self, role: &str, path: &Path) -> &mut Self {
        if let Ok(place) = locate(path) {
            if place.kind != Kind::Missing {
                self.inputs.push((role.to_string(), place));
            }
        }
        self
    }

    /// A file the command writes, given by `option` (`-o`, `--json`). A
    /// directory is refused here; a file in a directory that does not exist,
    /// by [`check`](Self::check).
    pub fn file(&mut self, option: &str, path: &Path) -> Result<Out> {
        if path.file_name().is_none() {
            return Err(refused(option, path, "is not a file name"));
        }
        let place = locate(path).map_err(|e| Error::io(path, "cannot write", e))?;
        if place.kind == Kind::Dir {
            return Err(refused(option, path, "is a directory; give a file name"));
        }
        self.targets.push(Target::File(FileTarget {
            option: option.to_string(),
            place,
            staged: None,
        }));
        Ok(Out(self.targets.len() - 1))
    }

    /// A directory the command writes files into, given by `option`
    /// (`--out-dir`); created with its parents when missing.
    pub fn dir(&mut self, option: &str, path: &Path) -> Result<Out> {
        let place = locate(path).map_err(|e| Error::io(path, "cannot create", e))?;
        if !matches!(place.kind, Kind::Missing | Kind::Dir) {
            return Err(refused(option, path, "is not a directory"));
        }
        self.targets.push(Target::Dir(DirTarget {
            option: option.to_string(),
            place,
            parts: Vec::new(),
            owned: Vec::new(),
            staging: None,
            files: Vec::new(),
        }));
        Ok(Out(self.targets.len() - 1))
    }

    /// Declare a file (relative) that directory output `out` will hold, so
    /// [`check`](Self::check) sees it before it is written.
    pub fn part(&mut self, out: Out, rel: &str) -> &mut Self {
        if let Target::Dir(d) = &mut self.targets[out.0] {
            d.parts.push(rel.to_string());
        }
        self
    }

    /// Declare a subdirectory (relative) of directory output `out` that the
    /// command, or a tool it runs, fills as it likes (a build directory): no
    /// input may lie inside it.
    pub fn owned(&mut self, out: Out, rel: &str) -> &mut Self {
        if let Target::Dir(d) = &mut self.targets[out.0] {
            d.owned.push(rel.to_string());
        }
        self
    }

    /// The path of output `out` (and of its file `rel`, for a directory) as given.
    pub fn target(&self, out: Out, rel: Option<&str>) -> PathBuf {
        let given = match &self.targets[out.0] {
            Target::File(t) => &t.place.given,
            Target::Dir(t) => &t.place.given,
        };
        match rel {
            Some(r) => given.join(r),
            None => given.clone(),
        }
    }

    /// Refuse outputs that are the same file, an output that is an input,
    /// and a file output inside a directory output. Run it before the work;
    /// [`publish`](Self::publish) runs it again with every file staged.
    pub fn check(&self) -> Result<()> {
        // Every output file: (option, place), and the directory outputs.
        let mut files: Vec<(&str, Place)> = Vec::new();
        let mut dirs: Vec<&DirTarget> = Vec::new();
        for t in &self.targets {
            match t {
                Target::File(f) => files.push((&f.option, f.place.clone())),
                Target::Dir(d) => {
                    dirs.push(d);
                    let mut seen = std::collections::BTreeSet::new();
                    for rel in d.parts.iter().chain(&d.files) {
                        if !seen.insert(rel) {
                            continue;
                        }
                        let p = d.place.given.join(rel);
                        let place =
                            locate_entry(&p).map_err(|e| Error::io(&p, "cannot write", e))?;
                        if place.kind == Kind::Dir {
                            return Err(refused(
                                &d.option,
                                &p,
                                "is a directory; it would be a file",
                            ));
                        }
                        files.push((&d.option, place));
                    }
                }
            }
        }
        for (i, (opt, a)) in files.iter().enumerate() {
            if a.kind == Kind::Special {
                continue;
            }
            for (role, input) in &self.inputs {
                if input.kind != Kind::Special && a.same_file(input) {
                    return Err(refused(
                        opt,
                        &a.given,
                        format_args!(
                            "is the input {role}{}; an output never overwrites an input",
                            also(&a.given, &input.given)
                        ),
                    ));
                }
            }
            for (other, b) in &files[..i] {
                if b.kind != Kind::Special && a.same_file(b) {
                    let what = if other == opt {
                        format!("is written twice by {opt}")
                    } else {
                        format!("is also the {other} output{}", also(&a.given, &b.given))
                    };
                    return Err(refused(opt, &a.given, what));
                }
            }
        }
        for d in &dirs {
            for t in &self.targets {
                let Target::File(f) = t else { continue };
                if f.place.kind == Kind::Special {
                    continue;
                }
                if f.place.real == d.place.real {
                    return Err(refused(
                        &f.option,
                        &f.place.given,
                        format_args!("is also the {} directory", d.option),
                    ));
                }
                if f.place.real.starts_with(&d.place.real) {
                    return Err(refused(
                        &f.option,
                        &f.place.given,
                        format_args!(
                            "is inside the {} directory {}",
                            d.option,
                            d.place.given.display()
                        ),
                    ));
                }
            }
            for sub in &d.owned {
                let owned = d.place.real.join(sub);
                for (role, input) in &self.inputs {
                    if input.real.starts_with(&owned) {
                        return Err(refused(
                            &d.option,
                            &d.place.given.join(sub),
                            format_args!(
                                "is written by this command and holds the input {role} {}",
                                input.given.display()
                            ),
                        ));
                    }
                }
            }
        }
        // Last, so that a file inside a directory output still to be made is
        // named as such: a file output's directory must exist.
        for t in &self.targets {
            let Target::File(f) = t else { continue };
            if f.place.kind == Kind::Special {
                continue;
            }
            let dir = dir_of(&f.place.real);
            if !dir.is_dir() {
                return Err(refused(
                    &f.option,
                    &f.place.given,
                    format_args!("cannot be written: no directory {}", dir.display()),
                ));
            }
        }
        Ok(())
    }

    /// Stage the bytes of file output `out`.
    pub fn write(&mut self, out: Out, bytes: &[u8]) -> Result<()> {
        self.dest(out).write_bytes(bytes)
    }

    /// Stage the bytes of the file `rel` of directory output `out`.
    pub fn write_in(&mut self, out: Out, rel: &str, bytes: &[u8]) -> Result<()> {
        self.dest_in(out, rel).write_bytes(bytes)
    }

    /// File output `out` as a destination for a writer.
    pub fn dest(&mut self, out: Out) -> Dest<'_> {
        Dest(DestInner::Planned {
            plan: self,
            out,
            rel: None,
        })
    }

    /// The file `rel` of directory output `out` as a destination for a writer.
    pub fn dest_in(&mut self, out: Out, rel: &str) -> Dest<'_> {
        Dest(DestInner::Planned {
            plan: self,
            out,
            rel: Some(rel.to_string()),
        })
    }

    /// Where a writer that takes a path may write the file `rel` of
    /// directory output `out`: a new file in the staging directory (it is
    /// staged as written; the path is not the target).
    pub fn staged_path_in(&mut self, out: Out, rel: &str) -> Result<PathBuf> {
        let Target::Dir(d) = &mut self.targets[out.0] else {
            return Err(internal("a file is staged with dest, not staged_path_in"));
        };
        let path = d.stage(rel)?;
        d.files.push(rel.to_string());
        Ok(path)
    }

    fn fill(
        &mut self,
        out: Out,
        rel: Option<&str>,
        fill: impl FnOnce(&mut File) -> Result<()>,
    ) -> Result<()> {
        match (&mut self.targets[out.0], rel) {
            (Target::File(t), None) => t.fill(fill),
            (Target::Dir(d), Some(rel)) => {
                let path = d.stage(rel)?;
                let shown = d.place.given.join(rel);
                let mut file = new_file(&path).map_err(|e| Error::io(&shown, "cannot write", e))?;
                fill(&mut file)?;
                file.flush()
                    .and_then(|_| file.sync_all())
                    .map_err(|e| Error::io(&shown, "cannot write", e))?;
                d.files.push(rel.to_string());
                Ok(())
            }
            _ => Err(internal(
                "a file output takes no relative name, a directory output needs one",
            )),
        }
    }

    /// Put every staged output in place, all or nothing (see the [module
    /// documentation](self)): regular files and directories first, one rename
    /// per target, then devices and pipes, written in place. On failure
    /// every target is left as it was (a device keeps what it was given).
    pub fn publish(mut self) -> Result<()> {
        self.check()?;
        for t in &self.targets {
            if let Target::File(f) = t {
                if f.staged.is_none() {
                    return Err(internal(&format!(
                        "{} was planned but not written",
                        f.place.given.display()
                    )));
                }
            }
        }
        let mut done = Vec::new();
        match self.publish_steps(&mut done) {
            Ok(()) => {
                for u in done {
                    u.commit();
                }
                Ok(())
            }
            Err(e) => {
                for u in done.into_iter().rev() {
                    u.undo();
                }
                Err(e)
            }
        }
    }

    fn publish_steps(&mut self, done: &mut Vec<Undo>) -> Result<()> {
        for t in &mut self.targets {
            match t {
                Target::File(f) => {
                    if let Some(Staged::Beside(tmp)) = &f.staged {
                        replace(tmp, &f.place.real, &f.place.given, done)?;
                    }
                }
                Target::Dir(d) => d.publish(done)?,
            }
        }
        for t in &mut self.targets {
            if let Target::File(f) = t {
                if let Some(Staged::Aside(file)) = &mut f.staged {
                    let given = &f.place.given;
                    let mut to = OpenOptions::new()
                        .write(true)
                        .open(given)
                        .map_err(|e| Error::io(given, "cannot write", e))?;
                    file.seek(SeekFrom::Start(0))
                        .and_then(|_| io::copy(file, &mut to))
                        .and_then(|_| to.flush())
                        .map_err(|e| Error::io(given, "cannot write", e))?;
                }
            }
        }
        // Published: the temporary names are gone (renamed); forget them.
        for t in &mut self.targets {
            match t {
                Target::File(f) => {
                    if let Some(Staged::Beside(tmp)) = f.staged.take() {
                        let _ = tmp.keep();
                    }
                }
                Target::Dir(d) => {
                    if let Some(s) = d.staging.take() {
                        if !s.fresh {
                            let _ = fs::remove_dir_all(&s.root);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl Drop for OutputPlan {
    fn drop(&mut self) {
        // Not published (or published and already forgotten): remove what was staged.
        for t in &mut self.targets {
            if let Target::Dir(d) = t {
                if let Some(s) = d.staging.take() {
                    let _ = fs::remove_dir_all(&s.root);
                    for m in s.made.iter().rev() {
                        let _ = fs::remove_dir(m);
                    }
                }
            }
            // A file target's temporary file is removed by its own drop.
        }
    }
}

fn internal(msg: &str) -> Error {
    Error::Output(format!("internal error: {msg}"))
}

/// A new file, readable and writable as the umask allows (like any file
/// the user creates).
fn new_file(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o666);
    }
    o.open(path)
}

/// The tempfile builder of every temporary name: `.bbs-` and six random
/// characters (plus `suffix`), short whatever the target is called.
fn builder(suffix: &str) -> tempfile::Builder<'static, '_> {
    let mut b = tempfile::Builder::new();
    b.prefix(".bbs-").rand_bytes(6).suffix(suffix);
    b
}

/// Rename `staged` over `target` (named `given` in messages), keeping the
/// old target as a backup until the publication is committed.
fn replace(staged: &Path, target: &Path, given: &Path, done: &mut Vec<Undo>) -> Result<()> {
    let dir = dir_of(target);
    let backup = match fs::symlink_metadata(target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(given, "cannot write", e)),
        Ok(m) if m.is_dir() => {
            return Err(Error::Output(format!(
                "{}: is a directory; it would be a file",
                given.display()
            )))
        }
        Ok(_) => Some(backup(target, dir).map_err(|e| Error::io(given, "cannot write", e))?),
    };
    match fs::rename(staged, target) {
        Ok(()) => {
            done.push(Undo::Replaced {
                target: target.to_path_buf(),
                backup,
            });
            Ok(())
        }
        Err(e) => {
            if let Some(b) = backup {
                let _ = fs::rename(b, target);
            }
            Err(Error::io(given, "cannot write", e))
        }
    }
}

/// A backup of `target` under a new temporary name in `dir`: a hard link
/// (the target stays where it is), or where the file system has none, the
/// target itself renamed away.
fn backup(target: &Path, dir: &Path) -> io::Result<PathBuf> {
    if let Ok(link) = builder(".old").make_in(dir, |p| fs::hard_link(target, p)) {
        let (_, path) = link.into_parts();
        return path.keep().map_err(|e| e.error);
    }
    let reserved = builder(".old").tempfile_in(dir).map_err(bare)?;
    let path = reserved.into_temp_path();
    fs::rename(target, &path)?;
    path.keep().map_err(|e| e.error)
}

impl FileTarget {
    fn fill(&mut self, fill: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
        if self.staged.is_some() {
            return Err(internal(&format!(
                "{} is written twice",
                self.place.given.display()
            )));
        }
        let given = &self.place.given;
        if self.place.kind == Kind::Special {
            let mut file =
                tempfile::tempfile().map_err(|e| Error::io(given, "cannot stage its bytes", e))?;
            fill(&mut file)?;
            self.staged = Some(Staged::Aside(file));
            return Ok(());
        }
        let mut b = builder(".tmp");
        // NamedTempFile defaults to 0600; ask for 0666 so the umask decides, as
        // for any ordinary file the user creates.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            b.permissions(fs::Permissions::from_mode(0o666));
        }
        let mut tmp = b
            .tempfile_in(dir_of(&self.place.real))
            .map_err(|e| Error::io(given, "cannot create a temporary file beside it", bare(e)))?;
        fill(tmp.as_file_mut())?;
        tmp.as_file_mut()
            .flush()
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| Error::io(given, "cannot write", e))?;
        self.staged = Some(Staged::Beside(tmp.into_temp_path()));
        Ok(())
    }
}

impl DirTarget {
    /// The staging path of `rel` (its directories created), the staging
    /// directory made on first use.
    fn stage(&mut self, rel: &str) -> Result<PathBuf> {
        if !plain_relative(rel) {
            return Err(internal(&format!("'{rel}' is not a relative file name")));
        }
        if self.files.iter().any(|f| f == rel) {
            return Err(internal(&format!("{rel} is written twice")));
        }
        let given = self.place.given.clone();
        if self.staging.is_none() {
            self.staging = Some(self.make_staging()?);
        }
        let root = &self.staging.as_ref().expect("made above").root;
        let path = root.join(rel);
        if let Some(d) = path.parent() {
            fs::create_dir_all(d).map_err(|e| Error::io(&given, "cannot create", e))?;
        }
        Ok(path)
    }

    fn make_staging(&self) -> Result<DirStaging> {
        let given = &self.place.given;
        let cannot = |e| Error::io(given, "cannot create", bare(e));
        match fs::symlink_metadata(given) {
            // Into the existing directory (through a symlink too): the same
            // file system as its files.
            Ok(_) if given.is_dir() => {
                let root = builder("")
                    .make_in(given, |p| fs::create_dir(p))
                    .map_err(cannot)?;
                let (_, path) = root.into_parts();
                Ok(DirStaging {
                    root: path.keep().map_err(|e| cannot(e.error))?,
                    fresh: false,
                    made: Vec::new(),
                })
            }
            Ok(_) => Err(refused(&self.option, given, "is not a directory")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Beside it, in its parent (created, and removed again when
                // nothing is published).
                let parent = dir_of(given);
                let mut made = Vec::new();
                let mut p = parent;
                while !p.as_os_str().is_empty() && fs::symlink_metadata(p).is_err() {
                    made.push(p.to_path_buf());
                    p = match p.parent() {
                        Some(q) => q,
                        None => break,
                    };
                }
                made.reverse();
                for m in &made {
                    if let Err(e) = fs::create_dir(m) {
                        for m in made.iter().rev() {
                            let _ = fs::remove_dir(m);
                        }
                        return Err(cannot(e));
                    }
                }
                let root = builder("").make_in(parent, |p| fs::create_dir(p));
                let root = match root {
                    Ok(r) => r.into_parts().1.keep().map_err(|e| e.error),
                    Err(e) => Err(e),
                };
                match root {
                    Ok(root) => Ok(DirStaging {
                        root,
                        fresh: true,
                        made,
                    }),
                    Err(e) => {
                        for m in made.iter().rev() {
                            let _ = fs::remove_dir(m);
                        }
                        Err(cannot(e))
                    }
                }
            }
            Err(e) => Err(cannot(e)),
        }
    }

    fn publish(&mut self, done: &mut Vec<Undo>) -> Result<()> {
        let Some(s) = &self.staging else {
            // Nothing was written into it.
            return Ok(());
        };
        let given = &self.place.given;
        if s.fresh {
            return match fs::rename(&s.root, given) {
                Ok(()) => {
                    done.push(Undo::MovedDir {
                        target: given.clone(),
                        staging: s.root.clone(),
                    });
                    Ok(())
                }
                Err(e) => Err(Error::io(given, "cannot create", e)),
            };
        }
        for rel in &self.files {
            let target = given.join(rel);
            // The file's directories inside the output directory.
            let mut missing = Vec::new();
            let mut d = dir_of(&target);
            while d != given.as_path() {
                match fs::symlink_metadata(d) {
                    Ok(m) if m.is_dir() => break,
                    Ok(_) => {
                        return Err(Error::Output(format!(
                            "{}: is not a directory",
                            d.display()
                        )))
                    }
                    Err(_) => missing.push(d.to_path_buf()),
                }
                d = dir_of(d);
            }
            for m in missing.into_iter().rev() {
                fs::create_dir(&m).map_err(|e| Error::io(&m, "cannot create", e))?;
                done.push(Undo::MadeDir(m));
            }
            replace(&s.root.join(rel), &target, &target, done)?;
        }
        Ok(())
    }
}

/// Where one output's bytes go: a path written alone ([`Dest::path`]: a plan
/// of one file, published at once) or an output of a command's
/// [`OutputPlan`] ([`OutputPlan::dest`], [`OutputPlan::dest_in`]).
pub struct Dest<'a>(DestInner<'a>);

enum DestInner<'a> {
    Alone {
        path: &'a Path,
        /// The file the bytes are made from, protected from being the output.
        input: Option<&'a Path>,
    },
    Planned {
        plan: &'a mut OutputPlan,
        out: Out,
        rel: Option<String>,
    },
}

impl<'a> Dest<'a> {
    /// `path` alone, written atomically.
    pub fn path(path: &'a Path) -> Dest<'a> {
        Dest(DestInner::Alone { path, input: None })
    }

    /// `path` alone, made from `input`, which it must not be.
    pub(crate) fn path_from(path: &'a Path, input: &'a Path) -> Dest<'a> {
        Dest(DestInner::Alone {
            path,
            input: Some(input),
        })
    }

    /// The target's path, as given: what messages name.
    pub fn shown(&self) -> PathBuf {
        match &self.0 {
            DestInner::Alone { path, .. } => path.to_path_buf(),
            DestInner::Planned { plan, out, rel } => plan.target(*out, rel.as_deref()),
        }
    }

    /// Stage the file that `fill` writes; alone, publish it.
    pub(crate) fn fill(self, fill: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
        match self.0 {
            DestInner::Alone { path, input } => {
                let mut plan = OutputPlan::new();
                if let Some(i) = input {
                    plan.input("model", i);
                }
                let out = plan.file("", path)?;
                plan.check()?;
                plan.fill(out, None, fill)?;
                plan.publish()
            }
            DestInner::Planned { plan, out, rel } => plan.fill(out, rel.as_deref(), fill),
        }
    }

    /// Stage `bytes`.
    pub fn write_bytes(self, bytes: &[u8]) -> Result<()> {
        let shown = self.shown();
        self.fill(|f| {
            f.write_all(bytes)
                .map_err(|e| Error::io(&shown, "cannot write", e))
        })
    }

    /// Stage what `write` writes, through a buffer (a report serialized as
    /// it is written, never whole in memory).
    pub fn write_with(self, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
        let shown = self.shown();
        self.fill(|f| {
            let mut w = io::BufWriter::new(f);
            write(&mut w)
                .and_then(|_| w.flush())
                .map_err(|e| Error::io(&shown, "cannot write", e))
        })
    }

    /// Stage `a` as `.npy`.
    pub fn write_npy<A: WritableElement, D: Dimension>(self, a: &Array<A, D>) -> Result<()> {
        let shown = self.shown();
        self.fill(|f| {
            let mut w = io::BufWriter::new(f);
            a.write_npy(&mut w)
                .map_err(|e| Error::file(&shown, format!("cannot write: {}", one_line(e))))?;
            w.flush().map_err(|e| Error::io(&shown, "cannot write", e))
        })
    }
}

/// Writes `a` as `.npy` atomically: a temporary file in the same directory is
/// renamed into place, so readers never see a half-written file and a failure
/// leaves nothing behind (a device or pipe is written in place).
pub fn write_npy_atomic<A: WritableElement, D: Dimension>(
    path: &Path,
    a: &Array<A, D>,
) -> Result<()> {
    Dest::path(path).write_npy(a)
}

/// Writes `bytes` atomically, like [`write_npy_atomic`].
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Dest::path(path).write_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn files_are_published_together_or_not_at_all() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        fs::write(&a, "old a").unwrap();
        let mut plan = OutputPlan::new();
        let oa = plan.file("-o", &a).unwrap();
        let ob = plan.file("--json", &b).unwrap();
        plan.check().unwrap();
        plan.write(oa, b"new a").unwrap();
        plan.write(ob, b"new b").unwrap();
        // Nothing is in place before publishing.
        assert_eq!(fs::read_to_string(&a).unwrap(), "old a");
        assert!(!b.exists());
        plan.publish().unwrap();
        assert_eq!(fs::read_to_string(&a).unwrap(), "new a");
        assert_eq!(fs::read_to_string(&b).unwrap(), "new b");
        assert_eq!(names(t.path()), ["a", "b"]);

        // A plan dropped unpublished leaves nothing.
        let mut plan = OutputPlan::new();
        let oc = plan.file("-o", &t.path().join("c")).unwrap();
        plan.write(oc, b"c").unwrap();
        drop(plan);
        assert_eq!(names(t.path()), ["a", "b"]);
    }

    #[test]
    fn a_failure_while_publishing_restores_every_target() {
        let t = tempfile::tempdir().unwrap();
        let (a, d) = (t.path().join("a"), t.path().join("d"));
        fs::write(&a, "old a").unwrap();
        fs::create_dir(&d).unwrap();
        fs::write(d.join("mine.txt"), "user file").unwrap();
        let mut plan = OutputPlan::new();
        let oa = plan.file("-o", &a).unwrap();
        let od = plan.dir("--out-dir", &d).unwrap();
        plan.write(oa, b"new a").unwrap();
        plan.write_in(od, "x.txt", b"x").unwrap();
        plan.write_in(od, "sub/y.txt", b"y").unwrap();
        // Something takes y's directory's name after staging.
        fs::write(d.join("sub"), "in the way").unwrap();
        let e = plan.publish().unwrap_err().to_string();
        assert!(
            e.contains("sub/y.txt") && e.contains("Not a directory"),
            "{e}"
        );
        assert_eq!(fs::read_to_string(&a).unwrap(), "old a");
        assert_eq!(names(&d), ["mine.txt", "sub"]);
        assert_eq!(names(t.path()), ["a", "d"]);
    }

    #[test]
    fn a_new_directory_is_renamed_into_place_whole() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("new").join("out");
        let mut plan = OutputPlan::new();
        let od = plan.dir("--out-dir", &d).unwrap();
        plan.write_in(od, "csb/a.csb", b"a").unwrap();
        plan.write_in(od, "report.json", b"{}").unwrap();
        assert!(!d.exists());
        plan.publish().unwrap();
        assert_eq!(names(&d), ["csb", "report.json"]);
        assert_eq!(names(&t.path().join("new")), ["out"]);

        // Unpublished, even the parent it created goes.
        let e = t.path().join("other").join("out");
        let mut plan = OutputPlan::new();
        let oe = plan.dir("--out-dir", &e).unwrap();
        plan.write_in(oe, "r.json", b"{}").unwrap();
        drop(plan);
        assert_eq!(names(t.path()), ["new"]);
    }

    #[test]
    fn outputs_are_checked_against_inputs_and_each_other() {
        let t = tempfile::tempdir().unwrap();
        let w = t.path().join("w.npy");
        fs::write(&w, "weights").unwrap();
        let check = |f: &dyn Fn(&mut OutputPlan) -> Result<()>| -> String {
            let mut plan = OutputPlan::new();
            plan.input("WEIGHTS", &w);
            match f(&mut plan).and_then(|_| plan.check()) {
                Ok(()) => String::new(),
                Err(e) => e.to_string(),
            }
        };
        let e = check(&|p| p.file("-o", &w).map(drop));
        assert!(
            e.contains("-o: ") && e.contains("is the input WEIGHTS"),
            "{e}"
        );
        #[cfg(unix)]
        {
            let link = t.path().join("link.npy");
            std::os::unix::fs::symlink(&w, &link).unwrap();
            let e = check(&|p| p.file("-o", &link).map(drop));
            assert!(e.contains("is the input WEIGHTS"), "{e}");
            let hard = t.path().join("hard.npy");
            fs::hard_link(&w, &hard).unwrap();
            let e = check(&|p| p.file("-o", &hard).map(drop));
            assert!(e.contains("is the input WEIGHTS"), "{e}");
            let dotdot = t.path().join("sub");
            fs::create_dir(&dotdot).unwrap();
            let e = check(&|p| p.file("-o", &dotdot.join("..").join("w.npy")).map(drop));
            assert!(e.contains("is the input WEIGHTS"), "{e}");
        }
        let out = t.path().join("out.npy");
        let e = check(&|p| {
            p.file("-o", &out)?;
            p.file("--pruned", &out).map(drop)
        });
        assert!(
            e.contains("--pruned: ") && e.contains("is also the -o output"),
            "{e}"
        );
        let d = t.path().join("d");
        let e = check(&|p| {
            p.dir("--out-dir", &d)?;
            p.file("--json", &d.join("r.json")).map(drop)
        });
        assert!(e.contains("is inside the --out-dir directory"), "{e}");
        let e = check(&|p| {
            let o = p.dir("--out-dir", t.path())?;
            p.part(o, "w.npy");
            Ok(())
        });
        assert!(e.contains("is the input WEIGHTS"), "{e}");
        let e = check(&|p| p.file("-o", t.path()).map(drop));
        assert!(e.contains("is a directory"), "{e}");
        let e = check(&|p| p.dir("--out-dir", &w).map(drop));
        assert!(e.contains("is not a directory"), "{e}");
        let e = check(&|p| p.file("-o", &t.path().join("no/such/x.npy")).map(drop));
        assert!(e.contains("no directory"), "{e}");
        assert_eq!(check(&|p| p.file("-o", &out).map(drop)), "");
    }

    #[test]
    fn long_names_get_short_temporary_names() {
        let t = tempfile::tempdir().unwrap();
        let long = t.path().join("n".repeat(255));
        write_bytes_atomic(&long, b"x").unwrap();
        write_bytes_atomic(&long, b"y").unwrap();
        assert_eq!(fs::read(&long).unwrap(), b"y");
        assert_eq!(names(t.path()).len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_target_replaces_the_file_it_names() {
        let t = tempfile::tempdir().unwrap();
        let (file, link) = (t.path().join("real.npy"), t.path().join("link.npy"));
        fs::write(&file, "old").unwrap();
        std::os::unix::fs::symlink("real.npy", &link).unwrap();
        write_bytes_atomic(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&file).unwrap(), "new");
        // A dangling link creates the file it names.
        let dangling = t.path().join("dangling");
        std::os::unix::fs::symlink("made.txt", &dangling).unwrap();
        write_bytes_atomic(&dangling, b"made").unwrap();
        assert_eq!(
            fs::read_to_string(t.path().join("made.txt")).unwrap(),
            "made"
        );
    }
}
