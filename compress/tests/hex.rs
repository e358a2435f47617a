//! `$readmemh` export: word packing and row-to-PE placement.

use bbs_compress::{pack_word, prune_bbs, write_matrix_hex, Csb, QFormat};
use ndarray::Array2;

fn csb(rows: usize) -> Csb {
    // Row r has distinct, row-identifying values so misplaced rows show up.
    let w = Array2::from_shape_fn((rows, 8), |(r, c)| {
        let v = (r * 8 + c) as f32 / 8.0 - 3.0;
        if (r + c) % 3 == 0 {
            0.0
        } else {
            v
        }
    });
    let p = prune_bbs(&w.view(), 2, 0.5).unwrap();
    Csb::from_pruned(&p, QFormat::new(8, 3).unwrap()).0
}

#[test]
fn known_word() {
    assert_eq!(pack_word(&[-1, 2], &[5, 1], 8, 3), "0d02ff");
    // K=4, W=4, IW=2: digits = ceil(4 * 6 / 4) = 6.
    // values -8, 7, 0, -1 -> 0xf078 ; indices 3,0,2,1 -> 0b01_10_00_11 << 16
    assert_eq!(pack_word(&[-8, 7, 0, -1], &[3, 0, 2, 1], 4, 2), "63f078");
}

#[test]
fn rows_go_to_pe_r_mod_p() {
    let c = csb(7);
    assert_eq!(c.slots, 2);
    let dir = tempfile::tempdir().unwrap();
    let paths = write_matrix_hex(&c, 3, 2, dir.path()).unwrap();
    assert_eq!(paths.len(), 3);
    let digits = (2 * (8 + 2usize)).div_ceil(4);
    for (p, path) in paths.iter().enumerate() {
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            format!("pe{p}_mat.hex")
        );
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let rows: Vec<usize> = (p..7).step_by(3).collect();
        assert_eq!(lines.len(), rows.len() * c.slots, "pe {p}");
        for (local, &r) in rows.iter().enumerate() {
            for s in 0..c.slots {
                let (v, i) = c.word(r, s);
                let line = lines[local * c.slots + s];
                assert_eq!(line.len(), digits);
                assert_eq!(line, pack_word(v, i, 8, 2), "pe {p} row {r} slot {s}");
                // Decode the value of bank 0 back out of the line.
                let n = u64::from_str_radix(line, 16).unwrap();
                assert_eq!((n & 0xff) as u8 as i8 as i32, v[0]);
            }
        }
    }
}

#[test]
fn idle_pes_get_one_zero_line() {
    let c = csb(2);
    let dir = tempfile::tempdir().unwrap();
    let paths = write_matrix_hex(&c, 4, 3, dir.path().join("sub").as_path()).unwrap();
    assert_eq!(paths.len(), 4);
    for path in &paths[2..] {
        assert_eq!(std::fs::read_to_string(path).unwrap(), "000000\n");
    }
    assert_eq!(
        std::fs::read_to_string(&paths[0]).unwrap().lines().count(),
        2
    );
}

#[test]
fn errors() {
    let c = csb(3);
    let dir = tempfile::tempdir().unwrap();
    // bank_size 4 needs 2 index bits.
    let e = write_matrix_hex(&c, 2, 1, dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("index_width:"), "{e}");
    let e = write_matrix_hex(&c, 2, 40, dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("index_width:"), "{e}");
    let e = write_matrix_hex(&c, 0, 2, dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("pes:"), "{e}");
    let mut bad = c.clone();
    bad.indices[0] = 9;
    assert!(write_matrix_hex(&bad, 1, 4, dir.path()).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
