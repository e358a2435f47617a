//! What every fuzz target checks: the input, written to a file with the
//! format's extension, is read by every reader of that format, which must
//! return Ok or an error of one line naming the file, never panic, hang or
//! allocate hugely (libFuzzer's `-timeout` and `-malloc_limit_mb`, set by
//! `scripts/fuzz.sh`, catch the last two). Whatever reads is written back
//! with `write_like` and must read back the same.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bbs_compress::{list_tensors, read_matrices, read_matrix, read_vector, write_like, Csb};

/// A directory of this process's own, on tmpfs when there is one.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("bbs-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

fn check_error(p: &Path, e: &bbs_compress::Error) {
    let msg = e.to_string();
    assert!(!msg.contains('\n'), "not one line: {msg}");
    assert!(
        msg.starts_with(&p.display().to_string()),
        "does not name the file: {msg}"
    );
}

/// Runs the readers of `ext` ("npy", "npz", "safetensors", "onnx", "csb")
/// on `data`.
pub fn check(ext: &str, data: &[u8]) {
    let p = scratch().join(format!("in.{ext}"));
    std::fs::write(&p, data).unwrap();
    if ext == "csb" {
        let from_file = Csb::read(&p);
        let from_bytes = Csb::from_bytes(data, &p);
        match (&from_file, &from_bytes) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b);
                assert!(a.rows * a.cols <= bbs_compress::csb::MAX_DENSE);
                assert_eq!(
                    a.to_bytes(),
                    data,
                    "a CSB file that reads writes back the same"
                );
            }
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string());
                check_error(&p, a);
            }
            _ => panic!("Csb::read {from_file:?} but Csb::from_bytes {from_bytes:?}"),
        }
        return;
    }
    let all = read_matrices(&p, &[]);
    if let Err(e) = &all {
        check_error(&p, e);
    }
    for r in [
        read_matrix(&p, None).map(drop),
        read_matrix(&p, Some("w")).map(drop),
        read_matrices(&p, &["w*".to_string()]).map(drop),
        list_tensors(&p).map(drop),
    ] {
        if let Err(e) = r {
            check_error(&p, &e);
        }
    }
    if ext == "npy" {
        if let Err(e) = read_vector(&p) {
            check_error(&p, &e);
        }
    }
    let Ok(ms) = all else { return };
    if ms.is_empty() {
        return;
    }
    // Whatever reads is written back, and reads back the same.
    let out_dir = scratch().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(format!("in.{ext}"));
    let replace: Vec<_> = ms
        .iter()
        .map(|m| (m.name.clone(), m.matrix.clone()))
        .collect();
    write_like(&p, &out, &replace).unwrap_or_else(|e| panic!("write_like: {e}"));
    let back = read_matrices(&out, &[]).unwrap_or_else(|e| panic!("re-read: {e}"));
    assert_eq!(back.len(), ms.len());
    for (a, b) in ms.iter().zip(&back) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.matrix, b.matrix, "{}", a.name);
    }
}
