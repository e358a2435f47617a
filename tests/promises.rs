//! The README's promise about bad input and outputs, class by class, on the
//! `bbs` program: a closed or full stdout ends the run without a panic;
//! outputs are all or nothing; no output overwrites an input; devices and
//! pipes are written in place, never renamed over; `--frames` is bounded;
//! names are escaped in every line; output names of 255 bytes work; options
//! outside their form are refused; a matrix that does not fit the
//! configuration is blamed on the matrix or the configuration's field.
//!
//! Device nodes: as root (CI), the tests make their own `/dev/null` and
//! `/dev/full` (`mknod`) and their own `/dev/stdout` (a symlink to
//! `/proc/self/fd/1`) in a temporary directory, which a program that
//! renames over its output could replace; as another user they use the
//! system's, which such a program cannot replace (it fails instead). The
//! system's `/dev/null` and `/dev/stdout` are used as root too, but only
//! once a device of the test's own has survived the same command.

use bbs_compress::write_npy_atomic;
use ndarray::{Array1, Array2};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bbs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bbs"))
        .args(args)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 1, exactly one line on stderr, starting `error: ` and holding
/// every needle, no panic, no raw control character.
fn one_error_line(o: &Output, needles: &[&str]) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err:?}");
    assert!(lines[0].starts_with("error: "), "{err:?}");
    assert!(
        !lines[0].chars().any(char::is_control),
        "a raw control character in: {err:?}"
    );
    for n in needles {
        assert!(lines[0].contains(n), "'{n}' missing from: {err:?}");
    }
    lines[0].to_string()
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", stderr(o));
}

/// The files a directory holds, sorted (temporary names included).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A character device like `/dev/<name>` (major 1, `minor`): made in `dir`
/// as root, the system's otherwise.
fn device(dir: &Path, name: &str, minor: u32) -> PathBuf {
    if is_root() {
        let p = dir.join(name);
        let made = Command::new("mknod")
            .arg(&p)
            .args(["c", "1", &minor.to_string()])
            .status()
            .unwrap();
        assert!(made.success(), "mknod {}", p.display());
        p
    } else {
        PathBuf::from("/dev").join(name)
    }
}

#[cfg(unix)]
fn is_char_device(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(p).unwrap().file_type().is_char_device()
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// A 64 x 32 float matrix.
    fn weights(&self) -> PathBuf {
        let p = self.path("w.npy");
        let a = Array2::from_shape_fn((64, 32), |(r, c)| {
            ((r * 31 + c * 17) % 23) as f32 / 10.0 - 1.1
        });
        write_npy_atomic(&p, &a).unwrap();
        p
    }
    /// The matrix pruned to CSB (8 banks).
    fn csb(&self) -> PathBuf {
        let w = self.weights();
        let out = self.path("w.csb");
        ok(&bbs(&["prune", s(&w), "-o", s(&out)]));
        out
    }
    /// A vector of 32.
    fn vector(&self) -> PathBuf {
        let p = self.path("x.npy");
        write_npy_atomic(&p, &Array1::from_shape_fn(32, |i| (i as f32 * 0.1).sin())).unwrap();
        p
    }
    /// The default configuration with `edits` applied.
    fn config(&self, file: &str, edits: &[(&str, &str)]) -> PathBuf {
        let mut text = bbs_sim::Config::default().to_toml();
        for (from, to) in edits {
            assert!(text.contains(from), "{text}");
            text = text.replace(from, to);
        }
        let p = self.path(file);
        std::fs::write(&p, text).unwrap();
        p
    }
    /// No temporary file or staging directory left in the fixture's directory.
    fn no_leftovers(&self) {
        let left: Vec<String> = names(self.dir.path())
            .into_iter()
            .filter(|n| n.starts_with(".bbs-") || n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

/// Run `bbs args` with a stdout whose reader has already gone.
fn with_closed_stdout(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bbs"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

// 2. A closed or full stdout.

#[test]
fn a_closed_stdout_ends_the_run_without_a_panic() {
    let f = Fixture::new();
    let (csb, x) = (f.csb(), f.vector());
    // The printed report is the output: a failure, said in one line.
    let o = with_closed_stdout(&["sim", s(&csb), s(&x)]);
    one_error_line(&o, &["stdout", "Broken pipe"]);
    // The printed text only reports the files written: they are written, exit 0.
    let json = f.path("r.json");
    let o = with_closed_stdout(&["sim", s(&csb), s(&x), "--json", s(&json)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&json)
        .unwrap()
        .contains("\"cycles\""));
    let out = f.path("again.csb");
    let o = with_closed_stdout(&["prune", s(&f.weights()), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(out.exists());
    f.no_leftovers();
}

#[test]
fn a_full_stdout_is_one_error_line() {
    let f = Fixture::new();
    let (csb, x) = (f.csb(), f.vector());
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_bbs"))
        .args(["sim", s(&csb), s(&x)])
        .stdout(full)
        .output()
        .unwrap();
    one_error_line(&o, &["stdout", "No space left on device"]);
}

// 3. All or nothing.

#[test]
fn a_later_output_failing_leaves_no_earlier_one() {
    let f = Fixture::new();
    let (w, csb, x) = (f.weights(), f.csb(), f.vector());
    let full = device(f.dir.path(), "full", 7);

    // prune -o C --pruned P --mask <a device that fails>: C keeps its old
    // contents, P is not written.
    let (c, p) = (f.path("c.csb"), f.path("p.npy"));
    std::fs::write(&c, "old contents").unwrap();
    let o = bbs(&[
        "prune",
        s(&w),
        "-o",
        s(&c),
        "--pruned",
        s(&p),
        "--mask",
        s(&full),
    ]);
    one_error_line(&o, &["full", "No space left on device"]);
    assert_eq!(std::fs::read_to_string(&c).unwrap(), "old contents");
    assert!(!p.exists());

    // sim -o Y --json J --vcd <fails>.
    let (y, j) = (f.path("y.npy"), f.path("j.json"));
    std::fs::write(&y, "old y").unwrap();
    let o = bbs(&[
        "sim",
        s(&csb),
        s(&x),
        "-o",
        s(&y),
        "--json",
        s(&j),
        "--vcd",
        s(&full),
    ]);
    one_error_line(&o, &["full"]);
    assert_eq!(std::fs::read_to_string(&y).unwrap(), "old y");
    assert!(!j.exists());

    // sim --workload --out-dir D --json <a directory>: refused before anything.
    let (d, taken) = (f.path("d"), f.path("taken"));
    std::fs::create_dir(&taken).unwrap();
    let o = bbs(&[
        "sim",
        "--workload",
        "small-lstm",
        "--frames",
        "1",
        "--out-dir",
        s(&d),
        "--json",
        s(&taken),
    ]);
    one_error_line(&o, &["--json", "is a directory"]);
    assert!(!d.exists());
    assert!(names(&taken).is_empty());
    assert!(is_char_device(&full));
    f.no_leftovers();
}

#[test]
fn a_directory_output_is_all_or_nothing() {
    let f = Fixture::new();
    // sweep -o D where one of its files cannot be replaced (a directory has
    // its name): the others keep their old contents.
    let d = f.path("sweep");
    std::fs::create_dir_all(d.join("sweep.json")).unwrap();
    std::fs::write(d.join("sweep.csv"), "old csv").unwrap();
    let o = bbs(&[
        "sweep",
        "--workload",
        "small-lstm",
        "--pes",
        "8",
        "--banks",
        "8",
        "--sparsity",
        "0.75",
        "-q",
        "-o",
        s(&d),
    ]);
    one_error_line(&o, &["sweep.json", "directory"]);
    assert_eq!(
        std::fs::read_to_string(d.join("sweep.csv")).unwrap(),
        "old csv"
    );
    assert_eq!(names(&d), ["sweep.csv", "sweep.json"]);

    // prune --out-dir D: the same.
    let silero = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/silero-vad/silero_vad_16k.safetensors"
    );
    let m = f.path("model");
    std::fs::create_dir_all(m.join("report.json")).unwrap();
    std::fs::write(m.join("manifest.json"), "old manifest").unwrap();
    let o = bbs(&[
        "prune",
        silero,
        "--tensor",
        "lstm_cell.*",
        "-q",
        "--out-dir",
        s(&m),
    ]);
    one_error_line(&o, &["report.json", "directory"]);
    assert_eq!(
        std::fs::read_to_string(m.join("manifest.json")).unwrap(),
        "old manifest"
    );
    assert_eq!(names(&m), ["manifest.json", "report.json"]);
    f.no_leftovers();
}

#[test]
fn hdl_keeps_the_files_it_does_not_write() {
    let f = Fixture::new();
    let (csb, x) = (f.csb(), f.vector());
    let d = f.path("hdl");
    std::fs::create_dir_all(d.join("rtl")).unwrap();
    std::fs::write(d.join("rtl/user.v"), "// mine").unwrap();
    std::fs::write(d.join("rtl/bbs_top.v"), "// old top").unwrap();
    // run/ cannot be made: a file has its name.
    std::fs::write(d.join("run"), "in the way").unwrap();
    let args = ["hdl", "-o", s(&d), "--csb", s(&csb), "--input", s(&x)];
    one_error_line(&bbs(&args), &["run"]);
    assert_eq!(
        std::fs::read_to_string(d.join("rtl/user.v")).unwrap(),
        "// mine"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("rtl/bbs_top.v")).unwrap(),
        "// old top"
    );
    assert_eq!(names(&d), ["rtl", "run"]);
    assert_eq!(names(&d.join("rtl")), ["bbs_top.v", "user.v"]);
    // Once it can, the design replaces its own files and keeps the user's.
    std::fs::remove_file(d.join("run")).unwrap();
    ok(&bbs(&args));
    assert_eq!(
        std::fs::read_to_string(d.join("rtl/user.v")).unwrap(),
        "// mine"
    );
    assert!(std::fs::read_to_string(d.join("rtl/bbs_top.v"))
        .unwrap()
        .contains("module bbs_top"));
    assert!(d.join("run/program.hex").exists() && d.join("tb/tb_bbs.v").exists());
    assert!(!names(&d).iter().any(|n| n.starts_with(".bbs-")));
}

// 4. No output overwrites an input.

#[test]
fn no_output_overwrites_an_input() {
    let f = Fixture::new();
    let (w, csb, x) = (f.weights(), f.csb(), f.vector());
    let cfg = f.config("c.toml", &[]);
    let read = |p: &Path| std::fs::read(p).unwrap();
    let (w0, csb0, x0, cfg0) = (read(&w), read(&csb), read(&x), read(&cfg));
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (vec!["prune", s(&w), "-o", s(&w)], &["-o", "WEIGHTS"]),
        (vec!["decode", s(&csb), "-o", s(&csb)], &["-o", "CSB"]),
        (vec!["sim", s(&csb), s(&x), "-o", s(&x)], &["-o", "INPUT"]),
        (
            vec![
                "sim",
                s(&csb),
                s(&x),
                "--config",
                s(&cfg),
                "--json",
                s(&cfg),
            ],
            &["--json", "--config"],
        ),
        (
            vec![
                "sim",
                "--workload",
                "small-gru",
                "--config",
                s(&cfg),
                "--out-dir",
                f.dir.path().to_str().unwrap(),
                "--json",
                s(&cfg),
            ],
            &["--json", "--config"],
        ),
    ];
    for (args, needles) in &cases {
        one_error_line(&bbs(args), needles);
    }
    // -o F --pruned F: F would end up the .npy.
    let fo = f.path("f.out");
    one_error_line(
        &bbs(&["prune", s(&w), "-o", s(&fo), "--pruned", s(&fo)]),
        &["--pruned", "also the -o output"],
    );
    assert!(!fo.exists());
    // Other names of the same file: a hard link, a symbolic link, `..`.
    #[cfg(unix)]
    {
        let hard = f.path("hard.npy");
        std::fs::hard_link(&w, &hard).unwrap();
        one_error_line(&bbs(&["prune", s(&w), "-o", s(&hard)]), &["WEIGHTS"]);
        let soft = f.path("soft.csb");
        std::os::unix::fs::symlink(&csb, &soft).unwrap();
        one_error_line(&bbs(&["decode", s(&csb), "-o", s(&soft)]), &["CSB"]);
        std::fs::create_dir(f.path("sub")).unwrap();
        let dotdot = f.path("sub/../x.npy");
        one_error_line(
            &bbs(&["sim", s(&csb), s(&x), "--json", s(&dotdot)]),
            &["INPUT"],
        );
    }
    assert_eq!(read(&w), w0);
    assert_eq!(read(&csb), csb0);
    assert_eq!(read(&x), x0);
    assert_eq!(read(&cfg), cfg0);
    f.no_leftovers();
}

// 5. Devices and pipes are written in place.

#[cfg(unix)]
#[test]
fn devices_and_pipes_are_written_in_place() {
    let f = Fixture::new();
    let (csb, x) = (f.csb(), f.vector());
    let null = device(f.dir.path(), "null", 3);
    ok(&bbs(&["sim", s(&csb), s(&x), "-o", s(&null)]));
    ok(&bbs(&["decode", s(&csb), "-o", s(&null)]));
    assert!(is_char_device(&null), "{} was replaced", null.display());
    // Two outputs may name the same device.
    ok(&bbs(&[
        "sim",
        s(&csb),
        s(&x),
        "-o",
        s(&null),
        "--json",
        s(&null),
    ]));
    assert!(is_char_device(&null));
    // The system's own, now that a device of ours survived (a program that
    // renames over its output has failed above, before it could replace it).
    ok(&bbs(&["decode", s(&csb), "-o", "/dev/null"]));
    assert!(
        is_char_device(Path::new("/dev/null")),
        "/dev/null was replaced"
    );

    // stdout (a pipe here).
    let stdout = if is_root() {
        let p = f.path("stdout");
        std::os::unix::fs::symlink("/proc/self/fd/1", &p).unwrap();
        p
    } else {
        PathBuf::from("/dev/stdout")
    };
    let o = bbs(&["decode", s(&csb), "-o", s(&stdout)]);
    ok(&o);
    assert!(o.stdout.starts_with(b"\x93NUMPY"), "{:?}", &o.stdout[..16]);
    assert!(std::fs::symlink_metadata(&stdout)
        .unwrap()
        .file_type()
        .is_symlink());
    let o = bbs(&["decode", s(&csb), "-o", "/dev/stdout"]);
    ok(&o);
    assert!(o.stdout.starts_with(b"\x93NUMPY"));
    assert!(std::fs::symlink_metadata("/dev/stdout")
        .unwrap()
        .file_type()
        .is_symlink());

    // A named pipe.
    let fifo = f.path("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // Reading and writing, so that the open neither blocks nor sees an end.
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    ok(&bbs(&["decode", s(&csb), "-o", s(&fifo)]));
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "the pipe was replaced"
    );
    let mut magic = [0u8; 6];
    std::io::Read::read_exact(&mut reader, &mut magic).unwrap();
    assert_eq!(&magic, b"\x93NUMPY");
    f.no_leftovers();
}

// 7. --frames is bounded and streams.

#[test]
fn absurd_frame_counts_are_a_quick_error() {
    let f = Fixture::new();
    let unused = f.path("unused");
    for args in [
        &[
            "sim",
            "--workload",
            "small-lstm",
            "--frames",
            "1000000000000",
        ][..],
        &[
            "verify",
            "--workload",
            "small-lstm",
            "--frames",
            "1000000000000",
            "-o",
            s(&unused),
        ],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bbs"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{args:?} still running after 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: --frames: 1000000000000 is more than"),
            "{err}"
        );
    }
}

#[test]
fn many_frames_give_the_same_report_per_frame() {
    let f = Fixture::new();
    let j = f.path("r.json");
    ok(&bbs(&[
        "sim",
        "--workload",
        "small-gru",
        "--frames",
        "40",
        "--json",
        s(&j),
    ]));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&j).unwrap()).unwrap();
    let frames = r["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 40);
    for (i, fr) in frames.iter().enumerate() {
        assert_eq!(fr["frame"], i);
        assert_eq!(fr["cycles"], frames[0]["cycles"]);
    }
    assert_eq!(r["accuracy"]["values"], 40 * 128);
}

// 11. Names are escaped.

#[test]
fn names_cannot_split_or_color_a_line() {
    let f = Fixture::new();
    let (w, csb, x) = (f.weights(), f.csb(), f.vector());
    let evil = "a\nerror: forged\u{1b}[31m";
    // A path.
    let p = f.path(&format!("{evil}.csb"));
    let line = one_error_line(&bbs(&["sim", s(&p), s(&x)]), &["forged"]);
    assert!(line.contains("a\\nerror: forged\\u{1b}[31m.csb"), "{line}");
    // A configuration name.
    let cfg = f.config(
        "evil.toml",
        &[(
            "name = \"default\"",
            "name = \"a\\nerror: forged\\u001b[2J\"",
        )],
    );
    let line = one_error_line(
        &bbs(&["sim", s(&csb), s(&x), "--config", s(&cfg)]),
        &["name"],
    );
    assert!(line.contains("a\\nerror: forged\\u{1b}[2J"), "{line}");
    // A manifest's layer name.
    let silero = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/silero-vad/silero_vad_16k.safetensors"
    );
    let m = f.path("model");
    ok(&bbs(&[
        "prune",
        silero,
        "--tensor",
        "lstm_cell.weight_hh",
        "-q",
        "--out-dir",
        s(&m),
    ]));
    let manifest = m.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text
        .replace(
            "\"lstm_cell.weight_hh\"",
            "\"lstm\\nerror: forged\\u001b[31m\"",
        )
        .replace("\"csb/lstm_cell.weight_hh.csb\"", "null");
    std::fs::write(&manifest, text).unwrap();
    let line = one_error_line(&bbs(&["sim", "--model", s(&m)]), &["no csb file"]);
    assert!(line.contains("lstm\\nerror: forged\\u{1b}[31m"), "{line}");
    // A status line.
    let out = f.path("o\nut\u{1b}[1m.csb");
    let o = bbs(&["prune", s(&w), "-o", s(&out)]);
    ok(&o);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert_eq!(text.lines().count(), 2, "{text:?}");
    assert!(text.ends_with("o\\nut\\u{1b}[1m.csb\n"), "{text:?}");
    assert!(out.exists());
}

// 12. Long output names.

#[test]
fn output_names_of_255_bytes_work() {
    let f = Fixture::new();
    let (w, csb, x) = (f.weights(), f.csb(), f.vector());
    let name = |ext: &str| f.path(&format!("{}{ext}", "n".repeat(255 - ext.len())));
    ok(&bbs(&["prune", s(&w), "-o", s(&name(".csb"))]));
    ok(&bbs(&["decode", s(&csb), "-o", s(&name(".npy"))]));
    ok(&bbs(&["sim", s(&csb), s(&x), "--json", s(&name(".json"))]));
    // Again, over the files now there.
    ok(&bbs(&["decode", s(&csb), "-o", s(&name(".npy"))]));
    for ext in [".csb", ".npy", ".json"] {
        assert!(name(ext).exists(), "{ext}");
    }
    let d = f.path(&"d".repeat(255));
    ok(&bbs(&[
        "sim",
        "--workload",
        "small-gru",
        "--frames",
        "1",
        "--out-dir",
        s(&d),
    ]));
    assert!(d.join("report.json").exists());
    f.no_leftovers();
}

// 13. Options outside their form.

#[test]
fn options_of_the_other_form_are_refused() {
    let f = Fixture::new();
    let w = f.weights();
    let (p, d) = (f.path("p.npy"), f.path("d"));
    for opt in ["--pruned", "--mask"] {
        one_error_line(
            &bbs(&["prune", s(&w), "--out-dir", s(&d), opt, s(&p)]),
            &[opt, "only with -o"],
        );
    }
    assert!(!p.exists() && !d.exists());
}

// A matrix that does not fit the configuration.

#[test]
fn a_mismatch_is_blamed_on_the_matrix_and_the_field() {
    let f = Fixture::new();
    let (csb, x) = (f.csb(), f.vector());
    let cfg = f.config("four.toml", &[("banks = 8", "banks = 4")]);
    for args in [
        vec!["sim", s(&csb), s(&x), "--config", s(&cfg)],
        vec![
            "hdl",
            "--config",
            s(&cfg),
            "-o",
            s(&f.path("hdl")),
            "--csb",
            s(&csb),
            "--input",
            s(&x),
        ],
    ] {
        let line = one_error_line(&bbs(&args), &[s(&csb), "banks", s(&cfg)]);
        assert!(!line.contains(s(&x)), "the vector is blamed: {line}");
    }
    assert!(!f.path("hdl").exists());
    // A vector of the wrong length is the vector's.
    let short = f.path("short.npy");
    write_npy_atomic(&short, &Array1::from_elem(31, 0.5f32)).unwrap();
    let line = one_error_line(
        &bbs(&["sim", s(&csb), s(&short)]),
        &[s(&short), "length 31"],
    );
    assert!(!line.contains("w.csb"), "{line}");
}
