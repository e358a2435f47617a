//! CSB reader/writer: round trip, determinism, and one test per rejection.

use std::path::Path;

use bbs_compress::{prune_bbs, Csb, Error, QFormat};
use ndarray::array;

const P: &str = "m.csb";

fn sample() -> Csb {
    // rows 3, cols 10, banks 4 -> bank_size 3, slots 2 (bank 3 has padding).
    let w = array![
        [0.5f32, -1.25, 0.0, 2.0, 0.75, -0.5, 1.0, 0.25, -3.0, 1.5],
        [-0.25, 0.0, 0.5, -1.0, 1.75, 0.0, 0.125, -2.5, 0.0, 0.0],
        [3.5, -3.5, 1.0, -1.0, 0.5, -0.5, 0.25, -0.25, 2.0, -2.0],
    ];
    let p = prune_bbs(&w.view(), 4, 0.4).unwrap();
    Csb::from_pruned(&p, QFormat::new(12, 6).unwrap()).0
}

/// Rewrites the CRC so only the consistency checks can object.
fn fix_crc(b: &mut [u8]) {
    b[36..40].fill(0);
    let crc = crc32fast::hash(b);
    b[36..40].copy_from_slice(&crc.to_le_bytes());
}

fn read(b: &[u8]) -> Result<Csb, Error> {
    Csb::from_bytes(b, Path::new(P))
}

/// Offset of value `i` and of index `i` in the sample's file (2-byte values).
fn value_at(c: &Csb, i: usize) -> usize {
    let _ = c;
    40 + 2 * i
}
fn index_at(c: &Csb, i: usize) -> usize {
    40 + 2 * c.values.len() + 2 * i
}

#[test]
fn header_layout_and_roundtrip() {
    let c = sample();
    c.validate().unwrap();
    let b = c.to_bytes();
    assert_eq!(&b[..8], b"BBSCSB\0\x1a");
    assert_eq!(u16::from_le_bytes([b[8], b[9]]), 1);
    assert_eq!(u16::from_le_bytes([b[10], b[11]]), 40);
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    assert_eq!(
        [u32_at(12), u32_at(16), u32_at(20), u32_at(24), u32_at(28)],
        [3, 10, 4, 3, 2]
    );
    assert_eq!(&b[32..36], &[12, 6, 2, 2]);
    assert_eq!(b.len(), 40 + 24 * 2 + 24 * 2);
    assert_eq!(read(&b).unwrap(), c);
    assert_eq!(c.to_bytes(), b, "deterministic");
    assert_eq!(c.nnz_slots(), 24);
}

#[test]
fn file_roundtrip_is_atomic_and_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.csb");
    let c = sample();
    c.write(&path).unwrap();
    assert_eq!(Csb::read(&path).unwrap(), c);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("w.csb")],
        "no temp files left"
    );
    let e = Csb::read(&dir.path().join("nope.csb"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope.csb"), "{e}");
}

#[test]
fn negative_values_are_sign_extended() {
    let c = sample();
    let b = c.to_bytes();
    let i = c.values.iter().position(|&v| v < 0).unwrap();
    let raw = i16::from_le_bytes([b[value_at(&c, i)], b[value_at(&c, i) + 1]]);
    assert_eq!(raw as i32, c.values[i]);
}

#[test]
fn bad_magic() {
    let mut b = sample().to_bytes();
    b[0] = b'X';
    let e = read(&b).unwrap_err();
    assert!(matches!(e, Error::BadMagic { .. }), "{e}");
    assert_eq!(e.to_string(), "m.csb: not a CSB file (bad magic bytes)");
    assert!(matches!(
        read(b"hello world, not csb at all, really, no.......").unwrap_err(),
        Error::BadMagic { .. }
    ));
}

#[test]
fn bad_version() {
    let mut b = sample().to_bytes();
    b[8] = 2;
    fix_crc(&mut b);
    let e = read(&b).unwrap_err();
    assert!(
        matches!(e, Error::UnsupportedVersion { version: 2, .. }),
        "{e}"
    );
}

#[test]
fn checksum_mismatch() {
    let c = sample();
    let mut b = c.to_bytes();
    b[index_at(&c, 0)] ^= 0x01;
    let e = read(&b).unwrap_err();
    assert!(matches!(e, Error::ChecksumMismatch { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "m.csb: checksum mismatch (file is corrupted)"
    );
}

#[test]
fn truncated_and_trailing() {
    let b = sample().to_bytes();
    for len in [0, 5, 39, 40, b.len() - 1] {
        let e = read(&b[..len]).unwrap_err();
        assert!(matches!(e, Error::Truncated { .. }), "len {len}: {e}");
    }
    let mut t = b.clone();
    t.push(0);
    let e = read(&t).unwrap_err();
    assert!(matches!(e, Error::TrailingBytes { extra: 1, .. }), "{e}");
}

fn invalid(b: &[u8]) -> String {
    match read(b).unwrap_err() {
        Error::InvalidCsb { msg, .. } => msg,
        other => panic!("expected InvalidCsb, got {other}"),
    }
}

#[test]
fn wrong_bank_size() {
    let mut b = sample().to_bytes();
    b[24] = 4; // bank_size 3 -> 4; payload length does not depend on it
    fix_crc(&mut b);
    let m = invalid(&b);
    assert!(m.contains("bank_size 4") && m.contains("ceil"), "{m}");
}

#[test]
fn index_out_of_range() {
    let c = sample();
    let mut b = c.to_bytes();
    // slot 1 of row 0, bank 0: index must be < 3
    let at = index_at(&c, 4);
    b[at] = 3;
    b[at + 1] = 0;
    fix_crc(&mut b);
    let m = invalid(&b);
    assert!(m.contains("index 3 >= bank_size 3"), "{m}");
}

#[test]
fn indices_not_ascending() {
    let c = sample();
    let mut b = c.to_bytes();
    let (s0, s1) = (c.indices[0], c.indices[4]);
    b[index_at(&c, 0)] = s1 as u8;
    b[index_at(&c, 4)] = s0 as u8;
    fix_crc(&mut b);
    let m = invalid(&b);
    assert!(m.contains("does not ascend"), "{m}");
}

#[test]
fn nonzero_padding_value() {
    let c = sample();
    // Find an entry at a padding column (bank 3, index >= 1).
    let i = (0..c.values.len())
        .find(|&i| i % 4 == 3 && 3 * 3 + c.indices[i] as usize >= 10)
        .unwrap();
    let mut b = c.to_bytes();
    b[value_at(&c, i)] = 1;
    fix_crc(&mut b);
    let m = invalid(&b);
    assert!(m.contains("padding column"), "{m}");
}

#[test]
fn value_out_of_width() {
    let c = sample();
    let mut b = c.to_bytes();
    // 12-bit values: 0x0800 = 2048 is out of range although it fits 2 bytes.
    b[value_at(&c, 0)] = 0x00;
    b[value_at(&c, 0) + 1] = 0x08;
    fix_crc(&mut b);
    let m = invalid(&b);
    assert!(m.contains("outside [-2048, 2047]"), "{m}");
}

#[test]
fn header_field_rules() {
    let base = sample().to_bytes();
    let cases: &[(usize, u8, &str)] = &[
        (32, 33, "value_width"),
        (33, 12, "frac_bits"),
        (34, 3, "value_bytes"),
        (35, 4, "index_bytes"),
        (10, 41, "header_len"),
    ];
    for &(off, val, want) in cases {
        let mut b = base.clone();
        b[off] = val;
        fix_crc(&mut b);
        let e = read(&b).unwrap_err().to_string();
        assert!(e.contains(want), "offset {off}: {e}");
    }
    // Rules whose violation changes the payload length: build the file from a
    // modified struct (to_bytes does not validate) so the length is right.
    let c = sample();
    let mut rows0 = c.clone();
    rows0.rows = 0;
    rows0.values.clear();
    rows0.indices.clear();
    let mut banks0 = rows0.clone();
    banks0.rows = 3;
    banks0.banks = 0;
    let mut slots0 = banks0.clone();
    slots0.banks = 4;
    slots0.slots = 0;
    let mut cols0 = c.clone();
    cols0.cols = 0;
    cols0.bank_size = 0;
    let mut slots4 = c.clone();
    slots4.slots = 4;
    slots4.values = vec![0; 3 * 4 * 4];
    slots4.indices = (0..48).map(|i| ((i / 4) % 4) as u16).collect();
    for (bad, want) in [
        (rows0, "rows is 0"),
        (banks0, "banks is 0"),
        (slots0, "slots is 0"),
        (cols0, "cols is 0"),
        (slots4, "slots 4 exceeds bank_size 3"),
    ] {
        assert!(bad.validate().unwrap_err().contains(want));
        let e = read(&bad.to_bytes()).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn huge_header_does_not_allocate() {
    let mut b = sample().to_bytes();
    for off in [12, 20, 28] {
        b[off..off + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    }
    fix_crc(&mut b);
    assert!(read(&b).is_err());
}

#[test]
fn write_refuses_invalid_struct() {
    let mut c = sample();
    c.indices[0] = 7;
    let dir = tempfile::tempdir().unwrap();
    let e = c.write(&dir.path().join("x.csb")).unwrap_err().to_string();
    assert!(e.contains("x.csb") && e.contains("index 7"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn malformed_in_memory_struct_does_not_panic() {
    let mut c = sample();
    c.values.truncate(5);
    assert!(c.validate().is_err());
    assert_eq!(c.word(2, 1), (&[][..], &[][..]));
    assert_eq!(c.word(99, 0), (&[][..], &[][..]));
    let _ = c.to_dense_fixed();
    c.rows = usize::MAX;
    c.cols = usize::MAX;
    assert_eq!(c.to_dense_f32().dim(), (0, 0));
    assert!(c.validate().is_err());
    assert!(read(&c.to_bytes()).is_err());
}

#[test]
fn dense_views() {
    let c = sample();
    let f = c.to_dense_fixed();
    let d = c.to_dense_f32();
    assert_eq!(f.dim(), (3, 10));
    assert_eq!(f[(0, 8)], -192); // -3.0 in Q(12, 6)
    for (x, &v) in d.iter().zip(f.iter()) {
        assert_eq!(*x, v as f32 / 64.0);
    }
}

/// A matrix of `rows x cols` with one zero entry per bank of 65536 columns:
/// the smallest file that claims that shape.
fn wide(rows: usize, cols: usize) -> Csb {
    let banks = cols.div_ceil(65536);
    Csb {
        rows,
        cols,
        banks,
        bank_size: cols.div_ceil(banks),
        slots: 1,
        format: QFormat::new(16, 12).unwrap(),
        values: vec![0; rows * banks],
        indices: vec![0; rows * banks],
    }
}

#[test]
fn the_matrix_size_is_bounded() {
    use bbs_compress::csb::MAX_DENSE;
    // 262 KB that would expand to 16 GiB as f32.
    let big = wide(1, u32::MAX as usize);
    let b = big.to_bytes();
    assert_eq!(b.len(), 262_184);
    let e = read(&b).unwrap_err().to_string();
    assert_eq!(
        e,
        "m.csb: inconsistent CSB: shape [1, 4294967295] has 4294967295 weights, \
         more than the 268435456 (2^28) a CSB matrix may have"
    );
    // Refused from the header, before the length: a truncated file says the same.
    assert_eq!(read(&b[..40]).unwrap_err().to_string(), e);
    assert_eq!(
        big.validate().unwrap_err(),
        e["m.csb: inconsistent CSB: ".len()..]
    );
    let dir = tempfile::tempdir().unwrap();
    assert!(big.write(&dir.path().join("big.csb")).is_err());
    // The bound is inclusive.
    let edge = wide(1, MAX_DENSE);
    edge.validate().unwrap();
    let p = dir.path().join("edge.csb");
    edge.write(&p).unwrap();
    assert_eq!(Csb::read(&p).unwrap(), edge);
    let over = wide(2, MAX_DENSE / 2 + 1);
    assert!(over
        .validate()
        .unwrap_err()
        .contains("more than the 268435456"));
}

#[test]
fn reading_a_file_checks_like_reading_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(P);
    let b = sample().to_bytes();
    // Every truncation, and trailing bytes, give the errors of from_bytes
    // (with the file's name).
    let mut cases: Vec<Vec<u8>> = (0..b.len()).map(|n| b[..n].to_vec()).collect();
    cases.push([&b[..], &[0; 5]].concat());
    cases.push(b.clone());
    for bytes in cases {
        std::fs::write(&p, &bytes).unwrap();
        let from_file = Csb::read(&p).map_err(|e| e.to_string());
        let from_bytes = Csb::from_bytes(&bytes, &p).map_err(|e| e.to_string());
        assert_eq!(from_file, from_bytes, "{} bytes", bytes.len());
    }
    // A file far longer than its header says is refused from the header
    // and its size, without being read.
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(1 << 30).unwrap();
    drop(f);
    let mut f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    std::io::Write::write_all(&mut f, &b).unwrap();
    drop(f);
    let e = Csb::read(&p).unwrap_err();
    assert!(
        matches!(e, Error::TrailingBytes { extra, .. } if extra == (1 << 30) - b.len() as u64),
        "{e}"
    );
}

#[cfg(unix)]
#[test]
fn special_files_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("z.csb");
    std::os::unix::fs::symlink("/dev/zero", &z).unwrap();
    let e = Csb::read(&z).unwrap_err().to_string();
    assert!(
        e.contains("z.csb: cannot read: not a regular file (a character device)"),
        "{e}"
    );
}
