//! `$readmemh` export of the CSB matrix memory of a P-PE accelerator.

use std::path::{Path, PathBuf};

use crate::csb::Csb;
use crate::error::{Error, Result};
use crate::weights::write_bytes_atomic;

/// Packs one CSB word as a lowercase hex line (no newline).
///
/// Bit layout, LSB first, with `K = max(values.len(), indices.len())`
/// (a missing entry counts as 0): bank `b`'s value in two's complement at bits
/// `[b*W, b*W + W)`, then bank `b`'s index at `[K*W + b*IW, K*W + b*IW + IW)`.
/// The line has `ceil(K * (W + IW) / 4)` digits, zero-padded. Values are
/// truncated to `W` bits and indices to `IW` bits. `W` and `IW` are capped at
/// 64 (wider fields would only repeat sign or zero bits); the word itself may
/// be any width (e.g. K = 64, W = 32, IW = 16 gives 3072 bits).
pub fn pack_word(values: &[i32], indices: &[u16], width: u32, index_width: u32) -> String {
    let k = values.len().max(indices.len()) as u64;
    let (w, iw) = (width.min(64) as u64, index_width.min(64) as u64);
    let total_bits = k * (w + iw);
    let digits = total_bits.div_ceil(4);
    let mut bits = vec![0u64; total_bits.div_ceil(64) as usize];
    for b in 0..k {
        let v = values.get(b as usize).copied().unwrap_or(0) as i64 as u64;
        put_bits(&mut bits, b * w, v, w);
        let i = indices.get(b as usize).copied().unwrap_or(0) as u64;
        put_bits(&mut bits, k * w + b * iw, i, iw);
    }
    let mut s = String::with_capacity(digits as usize);
    for d in (0..digits).rev() {
        let bit = d * 4;
        let word = bits.get((bit / 64) as usize).copied().unwrap_or(0);
        // A nibble never straddles two u64s because 64 is a multiple of 4.
        let nibble = (word >> (bit % 64)) & 0xf;
        s.push(char::from_digit(nibble as u32, 16).unwrap_or('0'));
    }
    s
}

/// ORs the low `n` (0..=64) bits of `val` in at bit `pos`; may span two u64s.
fn put_bits(bits: &mut [u64], pos: u64, val: u64, n: u64) {
    if n == 0 {
        return;
    }
    let val = if n >= 64 {
        val
    } else {
        val & ((1u64 << n) - 1)
    };
    let (word, off) = ((pos / 64) as usize, pos % 64);
    if let Some(slot) = bits.get_mut(word) {
        *slot |= val << off;
    }
    if off != 0 && off + n > 64 {
        if let Some(slot) = bits.get_mut(word + 1) {
            *slot |= val >> (64 - off);
        }
    }
}

/// Writes `pe{p}_mat.hex` for `p` in `0..pes` into `dir` (created if missing)
/// and returns their paths in PE order.
///
/// Row `r` lives on PE `r % pes` at local row `r / pes`; PE `p`'s file has
/// one line per word, line `local_row * slots + slot`. A PE without rows gets
/// one all-zero line so `$readmemh` still has something to load.
///
/// Errors: `pes` is 0, `index_width` cannot hold `bank_size - 1` or is above
/// 32, the `Csb`
/// fails [`Csb::validate`], or a file cannot be written.
pub fn write_matrix_hex(
    csb: &Csb,
    pes: usize,
    index_width: u32,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    csb.validate().map_err(|msg| Error::param("csb", msg))?;
    if pes == 0 {
        return Err(Error::param("pes", "must be at least 1"));
    }
    let max_index = (csb.bank_size - 1) as u64;
    if index_width > 32 {
        return Err(Error::param(
            "index_width",
            format!("{index_width} is above 32 bits (indices are at most 16 bits)"),
        ));
    }
    if max_index >> index_width != 0 {
        return Err(Error::param(
            "index_width",
            format!(
                "{index_width} bits cannot hold index {max_index} (bank_size {})",
                csb.bank_size
            ),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "cannot create directory", e))?;
    let width = csb.format.width;
    let zero_line = pack_word(&vec![0; csb.banks], &vec![0; csb.banks], width, index_width);
    let mut paths = Vec::with_capacity(pes);
    for p in 0..pes {
        let mut text = String::new();
        for r in (p..csb.rows).step_by(pes) {
            for s in 0..csb.slots {
                let (values, indices) = csb.word(r, s);
                text.push_str(&pack_word(values, indices, width, index_width));
                text.push('\n');
            }
        }
        if text.is_empty() {
            text.push_str(&zero_line);
            text.push('\n');
        }
        let path = dir.join(format!("pe{p}_mat.hex"));
        write_bytes_atomic(&path, text.as_bytes())?;
        paths.push(path);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_word() {
        // K=2, W=8, IW=3: values -1 (0xff), 2 (0x02) at bits 0..16,
        // indices 5 (0b101) at 16..19 and 1 (0b001) at 19..22.
        // = 0x02ff | 5 << 16 | 1 << 19 = 0x0d02ff, 22 bits -> 6 digits.
        assert_eq!(pack_word(&[-1, 2], &[5, 1], 8, 3), "0d02ff");
    }

    #[test]
    fn wide_word_spans_u64_boundaries() {
        // K=64, W=32, IW=16: 3072 bits, 768 digits.
        let values: Vec<i32> = (0..64).map(|b| if b % 2 == 0 { -1 } else { b }).collect();
        let indices: Vec<u16> = (0..64).map(|b| 0xffff - b as u16).collect();
        let s = pack_word(&values, &indices, 32, 16);
        assert_eq!(s.len(), 768);
        // Decode it back digit by digit.
        let bit = |i: usize| {
            let d = s.as_bytes()[s.len() - 1 - i / 4] as char;
            (d.to_digit(16).unwrap() >> (i % 4)) & 1
        };
        for b in 0..64usize {
            let v: u32 = (0..32).map(|i| bit(b * 32 + i) << i).sum();
            assert_eq!(v as i32, values[b]);
            let ix: u32 = (0..16).map(|i| bit(64 * 32 + b * 16 + i) << i).sum();
            assert_eq!(ix as u16, indices[b]);
        }
    }

    #[test]
    fn odd_widths_straddle() {
        // W=5 over 13 banks puts fields across the 64-bit boundary.
        let values: Vec<i32> = (0..13).map(|b| (b % 16) - 8).collect();
        let s = pack_word(&values, &[0; 13], 5, 4);
        assert_eq!(s.len(), (13 * 9usize).div_ceil(4));
        let n = u128::from_str_radix(&s, 16).unwrap();
        for (b, &v) in values.iter().enumerate() {
            let f = ((n >> (b * 5)) & 0x1f) as i32;
            let f = if f >= 16 { f - 32 } else { f };
            assert_eq!(f, v);
        }
    }
}
