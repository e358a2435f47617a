//! Weight readers and atomic writers on small files in a temp directory.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use bbs_compress::{
    list_tensors, read_matrix, read_npz_vector, read_vector, write_bytes_atomic, write_npy_atomic,
    Error, Vector,
};
use ndarray::{array, Array1, Array2, Array3};
use ndarray_npy::{write_npy, NpzWriter};
use safetensors::{tensor::TensorView, Dtype};

fn err(path: &Path, tensor: Option<&str>) -> String {
    let e = read_matrix(path, tensor).unwrap_err().to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    e
}

fn npz(dir: &Path, name: &str, members: &[(&str, Array2<f32>)]) -> PathBuf {
    let path = dir.join(name);
    let mut w = NpzWriter::new(File::create(&path).unwrap());
    for (n, a) in members {
        w.add_array(*n, a).unwrap();
    }
    w.finish().unwrap();
    path
}

fn safetensors_file(
    dir: &Path,
    name: &str,
    tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)],
) -> PathBuf {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let bytes = safetensors::serialize(views, None::<HashMap<String, String>>).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn npy_f32_and_f64() {
    let dir = tempfile::tempdir().unwrap();
    let a = array![[1.0f32, -2.5], [0.0, 3.25], [7.0, 8.0]];
    let p = dir.path().join("w.npy");
    write_npy(&p, &a).unwrap();
    assert_eq!(read_matrix(&p, None).unwrap(), a);
    assert_eq!(read_matrix(&p, Some("ignored")).unwrap(), a);
    assert_eq!(
        list_tensors(&p).unwrap(),
        vec![("w".to_string(), vec![3, 2])]
    );

    let p64 = dir.path().join("w64.npy");
    write_npy(&p64, &a.mapv(|x| x as f64 + 0.5)).unwrap();
    assert_eq!(read_matrix(&p64, None).unwrap(), a.mapv(|x| x + 0.5));
}

#[test]
fn npy_fortran_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let p = dir.path().join("f.npy");
    write_npy(&p, &a.t().as_standard_layout().t()).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    assert!(String::from_utf8_lossy(&bytes[..128]).contains("'fortran_order': True"));
    assert_eq!(read_matrix(&p, None).unwrap(), a);
}

#[test]
fn non_2d_rejected_with_shape() {
    let dir = tempfile::tempdir().unwrap();
    let p1 = dir.path().join("x.npy");
    write_npy(&p1, &Array1::<f32>::zeros(5)).unwrap();
    let e = err(&p1, None);
    assert!(
        e.contains("tensor 'x' is 1-D with shape [5]; a 2-D matrix is needed"),
        "{e}"
    );
    assert!(e.starts_with(&p1.display().to_string()), "{e}");
    let p3 = dir.path().join("y.npy");
    write_npy(&p3, &Array3::<f32>::zeros((2, 3, 4))).unwrap();
    let e = err(&p3, None);
    assert!(e.contains("3-D with shape [2, 3, 4]"), "{e}");
    let pe = dir.path().join("e.npy");
    write_npy(&pe, &Array2::<f32>::zeros((0, 4))).unwrap();
    assert!(err(&pe, None).contains("empty"));
}

#[test]
fn nan_and_inf_rejected_with_location() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Array2::<f32>::ones((3, 4));
    a[(1, 2)] = f32::NAN;
    let p = npz(dir.path(), "m.npz", &[("layer1", a.clone())]);
    let e = err(&p, Some("layer1"));
    assert!(
        e.contains("tensor 'layer1'") && e.contains("NaN") && e.contains("(row 1, col 2)"),
        "{e}"
    );
    a[(1, 2)] = 1.0;
    a[(2, 0)] = f32::INFINITY;
    let p = dir.path().join("inf.npy");
    write_npy(&p, &a).unwrap();
    let e = err(&p, None);
    assert!(e.contains("inf") && e.contains("(row 2, col 0)"), "{e}");
    // f64 beyond the f32 range becomes Inf and is refused too.
    let p = dir.path().join("big.npy");
    write_npy(&p, &array![[1e300f64]]).unwrap();
    assert!(err(&p, None).contains("row 0, col 0"));
}

#[test]
fn npz_member_selection() {
    let dir = tempfile::tempdir().unwrap();
    let a = array![[1.0f32, 2.0]];
    let b = array![[3.0f32], [4.0]];
    let p = npz(dir.path(), "two.npz", &[("b", b.clone()), ("a", a.clone())]);
    assert_eq!(read_matrix(&p, Some("a")).unwrap(), a);
    assert_eq!(read_matrix(&p, Some("b")).unwrap(), b);
    let e = err(&p, None);
    assert!(
        e.contains("name the one to use") && e.contains("available: a, b"),
        "{e}"
    );
    let e = err(&p, Some("c"));
    assert!(
        e.contains("no tensor named 'c'") && e.contains("available: a, b"),
        "{e}"
    );
    assert_eq!(
        list_tensors(&p).unwrap(),
        vec![("a".to_string(), vec![1, 2]), ("b".to_string(), vec![2, 1])]
    );
    let one = npz(dir.path(), "one.npz", &[("only", a.clone())]);
    assert_eq!(read_matrix(&one, None).unwrap(), a);
}

#[test]
fn safetensors_dtypes() {
    let dir = tempfile::tempdir().unwrap();
    let vals = [1.5f32, -2.0, 0.25, 3.0, 0.0, -0.5];
    let f32b: Vec<u8> = vals.iter().flat_map(|x| x.to_le_bytes()).collect();
    let f64b: Vec<u8> = vals
        .iter()
        .flat_map(|&x| (x as f64).to_le_bytes())
        .collect();
    let f16b: Vec<u8> = vals
        .iter()
        .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
        .collect();
    let bf16b: Vec<u8> = vals
        .iter()
        .flat_map(|&x| half::bf16::from_f32(x).to_le_bytes())
        .collect();
    let i32b: Vec<u8> = (0..6i32).flat_map(|x| x.to_le_bytes()).collect();
    let p = safetensors_file(
        dir.path(),
        "m.safetensors",
        &[
            ("w32", Dtype::F32, vec![2, 3], f32b.clone()),
            ("w64", Dtype::F64, vec![2, 3], f64b),
            ("w16", Dtype::F16, vec![3, 2], f16b),
            ("wbf", Dtype::BF16, vec![2, 3], bf16b),
            ("ints", Dtype::I32, vec![2, 3], i32b),
            ("vec", Dtype::F32, vec![6], f32b),
        ],
    );
    let want = Array2::from_shape_vec((2, 3), vals.to_vec()).unwrap();
    assert_eq!(read_matrix(&p, Some("w32")).unwrap(), want);
    assert_eq!(read_matrix(&p, Some("w64")).unwrap(), want);
    assert_eq!(read_matrix(&p, Some("wbf")).unwrap(), want);
    assert_eq!(
        read_matrix(&p, Some("w16")).unwrap(),
        want.into_shape_with_order((3, 2)).unwrap()
    );
    let e = err(&p, Some("ints"));
    assert!(e.contains("tensor 'ints'") && e.contains("I32"), "{e}");
    let e = err(&p, Some("vec"));
    assert!(e.contains("1-D with shape [6]"), "{e}");
    let e = err(&p, None);
    assert!(
        e.contains("available: ints, vec, w16, w32, w64, wbf"),
        "{e}"
    );
    let e = err(&p, Some("nope"));
    assert!(
        e.contains("no tensor named 'nope'") && e.contains("w32"),
        "{e}"
    );
    let names: Vec<String> = list_tensors(&p)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["ints", "vec", "w16", "w32", "w64", "wbf"]);
}

#[test]
fn missing_unreadable_and_unknown_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("absent.npy");
    let e = read_matrix(&p, None).unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
    assert!(e.to_string().contains(&p.display().to_string()), "{e}");
    let p = dir.path().join("w.txt");
    std::fs::write(&p, "1 2 3").unwrap();
    assert!(err(&p, None).contains("unsupported file type '.txt'"));
    let p = dir.path().join("junk.safetensors");
    std::fs::write(&p, b"\x05\0\0\0\0\0\0\0{}").unwrap();
    assert!(err(&p, None).contains("junk.safetensors"));
    let p = dir.path().join("junk.npz");
    std::fs::write(&p, b"PK not really").unwrap();
    assert!(err(&p, None).contains("npz"));
}

#[test]
fn truncated_and_lying_npy_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.npy");
    write_npy(&p, &Array2::<f32>::ones((4, 4))).unwrap();
    let full = std::fs::read(&p).unwrap();
    for cut in [3, 9, 20, full.len() - 60, full.len() - 1] {
        std::fs::write(&p, &full[..cut]).unwrap();
        let e = err(&p, None);
        assert!(e.contains("t.npy"), "{e}");
    }
    let mut extra = full.clone();
    extra.extend_from_slice(&[0; 4]);
    std::fs::write(&p, &extra).unwrap();
    assert!(err(&p, None).contains("unexpected bytes"));
    // A header claiming a terabyte of data must fail fast, not allocate.
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1024), }";
    let mut lying = b"\x93NUMPY\x01\x00".to_vec();
    let mut h = header.to_string();
    // Pad so magic + version + length + header + newline is a multiple of 64.
    let pad = (64 - (10 + h.len() + 1) % 64) % 64;
    h.push_str(&" ".repeat(pad));
    h.push('\n');
    lying.extend_from_slice(&(h.len() as u16).to_le_bytes());
    lying.extend_from_slice(h.as_bytes());
    lying.extend_from_slice(&[0; 16]);
    std::fs::write(&p, &lying).unwrap();
    assert!(err(&p, None).contains("truncated"));
    // An unsupported dtype is named.
    let p = dir.path().join("u.npy");
    write_npy(&p, &Array2::<u16>::zeros((2, 2))).unwrap();
    let e = err(&p, None);
    assert!(e.contains("<u2"), "{e}");
}

#[test]
fn vectors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.npy");
    write_npy(&p, &array![0.5f32, -1.0, 2.0]).unwrap();
    assert_eq!(
        read_vector(&p).unwrap(),
        Vector::Float(array![0.5, -1.0, 2.0])
    );
    write_npy(&p, &array![[1i16], [-2], [3]]).unwrap();
    assert_eq!(read_vector(&p).unwrap(), Vector::Fixed(array![1, -2, 3]));
    write_npy(&p, &array![[1.0f64, 2.0]]).unwrap();
    assert_eq!(read_vector(&p).unwrap(), Vector::Float(array![1.0, 2.0]));
    write_npy(&p, &array![7i8, -8]).unwrap();
    assert_eq!(read_vector(&p).unwrap(), Vector::Fixed(array![7, -8]));
    write_npy(&p, &array![i64::MIN, 5i64]).unwrap();
    assert_eq!(read_vector(&p).unwrap(), Vector::Fixed(array![i64::MIN, 5]));
    write_npy(&p, &Array2::<f32>::zeros((2, 3))).unwrap();
    let e = read_vector(&p).unwrap_err().to_string();
    assert!(e.contains("shape [2, 3]"), "{e}");
    write_npy(&p, &array![1.0f32, f32::NAN]).unwrap();
    let e = read_vector(&p).unwrap_err().to_string();
    assert!(e.contains("tensor 'x'") && e.contains("index 1"), "{e}");
    write_npy(&p, &Array1::<f32>::zeros(0)).unwrap();
    assert!(read_vector(&p).unwrap_err().to_string().contains("empty"));
    let q = dir.path().join("x.npz");
    assert!(read_vector(&q).unwrap_err().to_string().contains(".npy"));
}

#[test]
fn atomic_writes() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no").join("such");
    let target = missing.join("a.npy");
    let e = write_npy_atomic(&target, &array![[1.0f32]]).unwrap_err();
    assert!(e.to_string().contains("a.npy"), "{e}");
    assert!(!missing.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert!(write_bytes_atomic(&target, b"x").is_err());
    assert!(!missing.exists());

    let ok = dir.path().join("b.npy");
    let a = array![[1.0f32, 2.0], [3.0, 4.0]];
    write_npy_atomic(&ok, &a).unwrap();
    write_npy_atomic(&ok, &a).unwrap(); // overwrite works
    assert_eq!(read_matrix(&ok, None).unwrap(), a);
    write_bytes_atomic(&dir.path().join("t.txt"), b"hello\n").unwrap();
    assert_eq!(std::fs::read(dir.path().join("t.txt")).unwrap(), b"hello\n");
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["b.npy", "t.txt"], "no temporary files left");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Same mode as a file created the ordinary way (umask applies), not
        // the 0600 of a temporary file.
        let plain = dir.path().join("plain");
        File::create(&plain).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&ok), mode(&plain));
        std::fs::remove_file(plain).unwrap();
    }
}

/// `numpy.savez_compressed` writes deflated members: they read like stored ones.
#[test]
fn compressed_npz_reads_like_stored() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let a = ndarray::Array2::from_shape_fn((3, 4), |(r, c)| (r * 4 + c) as f32 / 7.0);
    let npy = dir.path().join("w.npy");
    bbs_compress::write_npy_atomic(&npy, &a).unwrap();
    let path = dir.path().join("c.npz");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("w.npy", opts).unwrap();
    zip.write_all(&std::fs::read(&npy).unwrap()).unwrap();
    zip.finish().unwrap();
    assert_eq!(bbs_compress::read_matrix(&path, Some("w")).unwrap(), a);
    let all = bbs_compress::read_matrices(&path, &[]).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].matrix, a);
}

/// A 1-D member of an npz (the g2p checkpoint's biases) through the bounded
/// npz reader: its values; a missing member names those there.
#[test]
fn npz_vectors_are_read_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.npz");
    let mut w = NpzWriter::new(File::create(&path).unwrap());
    w.add_array("b", &array![1.5f32, -2.0, 0.25]).unwrap();
    w.add_array("w", &Array2::<f32>::zeros((2, 2))).unwrap();
    w.finish().unwrap();
    match read_npz_vector(&path, "b").unwrap() {
        Vector::Float(v) => assert_eq!(v, array![1.5f32, -2.0, 0.25]),
        Vector::Fixed(_) => panic!("floats expected"),
    }
    let e = read_npz_vector(&path, "c").unwrap_err().to_string();
    assert!(
        e.contains("'c'") && e.contains('b') && !e.contains('\n'),
        "{e}"
    );
    let e = read_npz_vector(&path, "w").unwrap_err().to_string();
    assert!(e.contains("a vector"), "{e}");
}
