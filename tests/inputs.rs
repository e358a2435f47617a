//! Inputs that attack the readers: a `.npy` header nested deep enough to
//! take the parser hours, a tiny CSB file that claims a 16 GiB matrix, an
//! npz member that inflates far past the size its header declares, special
//! files (a FIFO, a symlink to /dev/zero) given as any input, oversized text
//! inputs, and empty containers. Each must give one `error:` line naming
//! the file, exit code 1, no output file, within a few seconds.
//!
//! Every run is bounded: the program is killed after [`LIMIT`] (a hang is a
//! failure, not a stuck test) and runs under a 4 GiB address-space limit (a
//! reader that reads without bound fails rather than exhausting the machine).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bbs_compress::{write_npy_atomic, Csb, QFormat};
use ndarray::{Array1, Array2};

/// How long one run may take. The fixed readers answer in milliseconds
/// (a debug build on a loaded machine included).
const LIMIT: Duration = Duration::from_secs(10);

struct Run {
    /// `None`: killed at [`LIMIT`], or by a signal.
    code: Option<i32>,
    stderr: String,
    took: Duration,
}

/// Runs `bbs args` with a time bound and an address-space bound.
fn bbs(args: &[&str]) -> Run {
    let start = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4194304 2>/dev/null; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_bbs"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read stderr on a thread so a chatty child cannot block on a full pipe.
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = start.elapsed();
    Run {
        code: status.and_then(|s| s.code()),
        stderr: reader.join().unwrap(),
        took,
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Exit code 1 within [`LIMIT`], one `error:` line containing every
/// `needle`, none of `outputs` on disk.
#[track_caller]
fn assert_fails(run: &Run, needles: &[&str], outputs: &[&Path]) {
    let stderr = &run.stderr;
    assert!(
        run.took < LIMIT,
        "killed after {:?} (a hang): {stderr}",
        run.took
    );
    assert_eq!(run.code, Some(1), "stderr: {stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("warning:"))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for n in needles {
        assert!(lines[0].contains(n), "'{n}' missing from: {}", lines[0]);
    }
    for p in outputs {
        assert!(!p.exists(), "{} was left behind", p.display());
    }
}

#[track_caller]
fn assert_succeeds(run: &Run) {
    assert!(run.took < LIMIT, "killed after {:?} (a hang)", run.took);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
}

fn matrix(dir: &Path, name: &str, rows: usize, cols: usize) -> PathBuf {
    let p = dir.join(name);
    let a = Array2::from_shape_fn((rows, cols), |(r, c)| {
        ((r * 31 + c * 17) % 23) as f32 / 10.0 - 1.1
    });
    write_npy_atomic(&p, &a).unwrap();
    p
}

fn vector(dir: &Path, name: &str, len: usize) -> PathBuf {
    let p = dir.join(name);
    write_npy_atomic(&p, &Array1::from_shape_fn(len, |i| (i as f32 * 0.1).sin())).unwrap();
    p
}

/// A pruned 64 x 32 matrix in CSB, for the default configuration.
fn csb(dir: &Path) -> PathBuf {
    let w = matrix(dir, "w.npy", 64, 32);
    let out = dir.join("w.csb");
    assert_succeeds(&bbs(&["prune", s(&w), "--sparsity", "0.75", "-o", s(&out)]));
    out
}

/// A `.npy` (version 1) image with the header `dict` and the data `data`.
fn npy_with_header(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.to_string();
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// The header of a little-endian f32 array of `shape` (a Python tuple).
fn f32_header(shape: &str) -> String {
    format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}")
}

/// A header whose shape value is `open` nested `depth` times: a 200-byte file.
fn nested_npy(open: char, depth: usize) -> Vec<u8> {
    let close = if open == '[' { ']' } else { '}' };
    let value = format!(
        "{}{}",
        open.to_string().repeat(depth),
        close.to_string().repeat(depth)
    );
    let bytes = npy_with_header(
        &format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {value}}}"),
        &[0; 16],
    );
    assert!(bytes.len() < 200);
    bytes
}

// ------------------------------------------------------------ zip by hand ----

/// A zip archive of `(name, method, crc32, uncompressed size, data)` members
/// (`method` 0 stored, 8 deflate), written by hand so that a member can lie.
fn zip(members: &[(&str, u16, u32, u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for &(name, method, crc, size, data) in members {
        let offset = out.len() as u32;
        let fields = |sig: &[u8], central: bool| {
            let mut h = sig.to_vec();
            if central {
                h.extend_from_slice(&20u16.to_le_bytes()); // made by
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // needed
            h.extend_from_slice(&0u16.to_le_bytes()); // flags
            h.extend_from_slice(&method.to_le_bytes());
            h.extend_from_slice(&[0, 0, 0x21, 0]); // time, date (1980-01-01)
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra
            if central {
                h.extend_from_slice(&[0; 6]); // comment, disk, internal attributes
                h.extend_from_slice(&0u32.to_le_bytes()); // external attributes
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend_from_slice(&fields(b"PK\x03\x04", false));
        out.extend_from_slice(data);
        central.extend_from_slice(&fields(b"PK\x01\x02", true));
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0; 4]);
    let n = members.len() as u16;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// Raw deflate (one fixed-Huffman block) of `prefix` followed by `zeros`
/// (at least 1) zero bytes: literals for the prefix and a zero, then
/// matches of 258 bytes at distance 1. About 160:1.
fn deflate_bomb(prefix: &[u8], zeros: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// `len` bits of `v`, least significant first.
        fn put(&mut self, v: u32, len: u32) {
            self.acc |= u64::from(v) << self.n;
            self.n += len;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code: most significant bit first.
        fn code(&mut self, code: u32, len: u32) {
            let rev = code.reverse_bits() >> (32 - len);
            self.put(rev, len);
        }
        fn literal(&mut self, b: u8) {
            if b < 144 {
                self.code(0x30 + u32::from(b), 8);
            } else {
                self.code(0x190 + u32::from(b) - 144, 9);
            }
        }
    }
    assert!(zeros >= 1);
    let mut w = Bits {
        out: Vec::new(),
        acc: 0,
        n: 0,
    };
    w.put(1, 1); // final block
    w.put(1, 2); // fixed Huffman
    for &b in prefix {
        w.literal(b);
    }
    w.literal(0);
    // 258 zeros per match (length code 285, 8 bits 11000101; distance code 0).
    // The first match starts one byte in: the literal zero above is its source.
    let matches = (zeros - 1) / 258;
    for _ in 0..matches {
        w.code(0b1100_0101, 8);
        w.code(0, 5);
    }
    for _ in 0..(zeros - 1) % 258 {
        w.literal(0);
    }
    w.code(0, 7); // end of block
    if w.n > 0 {
        w.out.push(w.acc as u8);
    }
    w.out
}

/// An npz of the good 4 x 8 member `a` and a deflated member `bomb` whose
/// header declares 8 x 8 f32 (256 bytes) but which inflates to `gib` GiB.
fn bomb_npz(dir: &Path, gib: usize) -> PathBuf {
    let good: Vec<u8> = npy_with_header(
        &f32_header("(4, 8)"),
        &(0..32)
            .flat_map(|i| (i as f32 * 0.25 - 3.0).to_le_bytes())
            .collect::<Vec<_>>(),
    );
    let head = npy_with_header(&f32_header("(8, 8)"), &[]);
    let bomb = deflate_bomb(&head, gib << 30);
    // Sizes and CRC of the bomb are lies; nothing should read far enough to notice.
    let bytes = zip(&[
        ("a.npy", 0, crc32(&good), good.len() as u32, &good),
        ("bomb.npy", 8, 0, 256 + head.len() as u32, &bomb),
    ]);
    let p = dir.join("bomb.npz");
    std::fs::write(&p, bytes).unwrap();
    p
}

/// CRC-32 (IEEE), bit by bit: only small members are summed here.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[cfg(unix)]
fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success());
}

// ------------------------------------------------------------------ tests ----

/// Issue class 1: `[`/`{` nested 24 deep in a 200-byte header took the
/// header parser minutes (it doubles per level) before any check ran.
#[test]
fn a_deeply_nested_npy_header_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good_csb = csb(d);
    for open in ['[', '{'] {
        let nested = d.join("nested.npy");
        std::fs::write(&nested, nested_npy(open, 24)).unwrap();
        let out = d.join("out.csb");
        // prune: the weights.
        assert_fails(
            &bbs(&["prune", s(&nested), "-o", s(&out)]),
            &["nested.npy", "nested"],
            &[&out],
        );
        // An npz member.
        let npz = d.join("nested.npz");
        let member = nested_npy(open, 24);
        std::fs::write(
            &npz,
            zip(&[("w.npy", 0, crc32(&member), member.len() as u32, &member)]),
        )
        .unwrap();
        assert_fails(
            &bbs(&["prune", s(&npz), "--tensor", "w", "-o", s(&out)]),
            &["nested.npz", "'w'", "nested"],
            &[&out],
        );
        // sim: the input vector.
        let y = d.join("y.npy");
        assert_fails(
            &bbs(&["sim", s(&good_csb), s(&nested), "-o", s(&y)]),
            &["nested.npy", "nested"],
            &[&y],
        );
        // hdl --input.
        let hdl = d.join("hdl");
        assert_fails(
            &bbs(&[
                "hdl",
                "-o",
                s(&hdl),
                "--csb",
                s(&good_csb),
                "--input",
                s(&nested),
            ]),
            &["nested.npy", "nested"],
            &[&hdl],
        );
    }
}

/// Issue class 6: a 262 KB CSB file of shape 1 x 4294967295 passed every
/// rule; `decode` then allocated and wrote 16 GiB (`--fixed`: 32 GiB, and aborted).
#[test]
fn a_csb_file_expanding_past_the_bound_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let big = Csb {
        rows: 1,
        cols: u32::MAX as usize,
        banks: 65536,
        bank_size: 65536,
        slots: 1,
        format: QFormat::new(16, 12).unwrap(),
        values: vec![0; 65536],
        indices: vec![0; 65536],
    };
    let p = d.join("big.csb");
    std::fs::write(&p, big.to_bytes()).unwrap();
    assert!(std::fs::metadata(&p).unwrap().len() < 300_000);
    let out = d.join("x.npy");
    for extra in [&[][..], &["--fixed"][..]] {
        let mut args = vec!["decode", s(&p), "-o", s(&out)];
        args.extend_from_slice(extra);
        assert_fails(&bbs(&args), &["big.csb", "4294967295"], &[&out]);
    }
    let x = vector(d, "x.npy", 16);
    let y = d.join("y.npy");
    assert_fails(
        &bbs(&["sim", s(&p), s(&x), "-o", s(&y)]),
        &["big.csb", "4294967295"],
        &[&y],
    );
}

/// Issue class 8: an npz member whose header declares 8 x 8 (256 bytes) but
/// which inflates to 1 GiB was inflated whole before the mismatch was seen.
#[test]
fn an_npz_member_inflating_past_its_header_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let npz = bomb_npz(d, 1);
    let out = d.join("out.csb");
    assert_fails(
        &bbs(&["prune", s(&npz), "--tensor", "bomb", "-o", s(&out)]),
        &["bomb.npz", "'bomb'", "inflates past"],
        &[&out],
    );
    // Every member is read when none is selected: the bomb stops it too.
    let model = d.join("model");
    assert_fails(
        &bbs(&["prune", s(&npz), "--out-dir", s(&model)]),
        &["bomb.npz", "'bomb'", "inflates past"],
        &[&model],
    );
}

/// Issue class 8: a whole-model prune of one member inflated every member,
/// the unselected ones too (here: 2 GiB of them).
#[test]
fn unselected_npz_members_are_not_inflated() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let npz = bomb_npz(d, 2);
    let model = d.join("model");
    assert_succeeds(&bbs(&[
        "prune",
        s(&npz),
        "--out-dir",
        s(&model),
        "--tensor",
        "a",
        "--banks",
        "2",
        "-q",
    ]));
    assert!(model.join("manifest.json").exists());
}

/// Issue class 9: a FIFO blocked every reader forever, and a symlink to
/// /dev/zero was read until memory ran out, as weights, CSB, vector,
/// --config, --layers or a `sim --model` manifest.
#[cfg(unix)]
#[test]
fn special_files_are_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = matrix(d, "w.npy", 8, 16);
    let good_csb = csb(d);
    let x = vector(d, "x.npy", 32);
    for kind in ["fifo", "zero"] {
        let special = |name: &str| {
            let p = d.join(format!("{kind}-{name}"));
            if kind == "fifo" {
                mkfifo(&p);
            } else {
                std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
            }
            p
        };
        let what = if kind == "fifo" {
            "a FIFO"
        } else {
            "a character device"
        };
        let out = d.join("out.csb");
        let y = d.join("y.npy");

        let weights = special("w.npy");
        assert_fails(
            &bbs(&["prune", s(&weights), "-o", s(&out)]),
            &[s(&weights), "not a regular file", what],
            &[&out],
        );
        let npz = special("m.npz");
        assert_fails(
            &bbs(&["prune", s(&npz), "--out-dir", s(&d.join("m"))]),
            &[s(&npz), "not a regular file"],
            &[&d.join("m")],
        );
        let csb_in = special("m.csb");
        assert_fails(
            &bbs(&["decode", s(&csb_in), "-o", s(&y)]),
            &[s(&csb_in), "not a regular file", what],
            &[&y],
        );
        let vec_in = special("x.npy");
        assert_fails(
            &bbs(&["sim", s(&good_csb), s(&vec_in), "-o", s(&y)]),
            &[s(&vec_in), "not a regular file"],
            &[&y],
        );
        let config = special("c.toml");
        assert_fails(
            &bbs(&["prune", s(&w), "--config", s(&config), "-o", s(&out)]),
            &[s(&config), "not a regular file", what],
            &[&out],
        );
        assert_fails(
            &bbs(&["sim", s(&good_csb), s(&x), "--config", s(&config)]),
            &[s(&config), "not a regular file"],
            &[],
        );
        let layers = special("l.toml");
        let model = d.join("model");
        assert_fails(
            &bbs(&[
                "prune",
                s(&w),
                "--out-dir",
                s(&model),
                "--layers",
                s(&layers),
            ]),
            &[s(&layers), "not a regular file", what],
            &[&model],
        );
        // A `bbs prune --out-dir` result whose manifest is the special file.
        let m = d.join(format!("{kind}-model"));
        std::fs::create_dir(&m).unwrap();
        let manifest = m.join("manifest.json");
        if kind == "fifo" {
            mkfifo(&manifest);
        } else {
            std::os::unix::fs::symlink("/dev/zero", &manifest).unwrap();
        }
        assert_fails(
            &bbs(&["sim", "--model", s(&m)]),
            &["manifest.json", "not a regular file"],
            &[],
        );
    }
    // A symlink to a regular file is fine.
    let link = d.join("link.npy");
    std::os::unix::fs::symlink(&w, &link).unwrap();
    let out = d.join("linked.csb");
    assert_succeeds(&bbs(&["prune", s(&link), "--banks", "4", "-o", s(&out)]));
    assert!(out.exists());
}

/// Issue class 9: text inputs are read with a size cap.
#[test]
fn an_oversized_text_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = matrix(d, "w.npy", 8, 16);
    let big = d.join("big.toml");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        let line = format!("# {}\n", "x".repeat(1021));
        for _ in 0..(17 << 10) {
            f.write_all(line.as_bytes()).unwrap();
        }
        f.flush().unwrap();
    }
    let out = d.join("out.csb");
    assert_fails(
        &bbs(&["prune", s(&w), "--config", s(&big), "-o", s(&out)]),
        &["big.toml", "16 MiB"],
        &[&out],
    );
    let model = d.join("model");
    assert_fails(
        &bbs(&["prune", s(&w), "--out-dir", s(&model), "--layers", s(&big)]),
        &["big.toml", "16 MiB"],
        &[&model],
    );
}

/// An npz or safetensors file without tensors said it "holds several tensors".
#[test]
fn an_empty_container_says_it_holds_no_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let npz = d.join("empty.npz");
    std::fs::write(&npz, zip(&[])).unwrap();
    let st = d.join("empty.safetensors");
    let mut b = 2u64.to_le_bytes().to_vec();
    b.extend_from_slice(b"{}");
    std::fs::write(&st, b).unwrap();
    let out = d.join("out.csb");
    for p in [&npz, &st] {
        let run = bbs(&["prune", s(p), "-o", s(&out)]);
        assert_fails(&run, &[s(p), "holds no tensors"], &[&out]);
        assert!(!run.stderr.contains("several"), "{}", run.stderr);
    }
}
