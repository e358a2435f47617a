//! `$readmemh` words: CSB word packing (the PEs' matrix-memory layout is
//! tested in `bbs-hdlgen`, which writes it).

use bbs_compress::pack_word;

#[test]
fn known_word() {
    assert_eq!(pack_word(&[-1, 2], &[5, 1], 8, 3), "0d02ff");
    // K=4, W=4, IW=2: digits = ceil(4 * 6 / 4) = 6.
    // values -8, 7, 0, -1 -> 0xf078 ; indices 3,0,2,1 -> 0b01_10_00_11 << 16
    assert_eq!(pack_word(&[-8, 7, 0, -1], &[3, 0, 2, 1], 4, 2), "63f078");
}

#[test]
fn missing_entries_count_as_zero() {
    // Two values, one index: K = 2, the second index is 0.
    assert_eq!(
        pack_word(&[1, 1], &[3], 4, 2),
        pack_word(&[1, 1], &[3, 0], 4, 2)
    );
}
