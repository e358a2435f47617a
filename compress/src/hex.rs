//! Words for `$readmemh`: fields packed into a bit vector, printed as hex.
//! The one bit packer of the project: CSB matrix-memory words
//! ([`pack_word`]), instruction words and host-link beats (`bbs-sim`'s
//! `arch::encoding`, `bbs-hdlgen`'s run files) are all built with [`HexWord`].

use bitvec::prelude::*;

/// A word of a fixed number of bits, filled field by field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HexWord {
    bits: BitVec<u64, Lsb0>,
}

impl HexWord {
    /// `width` zero bits.
    pub fn new(width: usize) -> HexWord {
        HexWord {
            bits: bitvec![u64, Lsb0; 0; width],
        }
    }

    /// Bits in the word.
    pub fn width(&self) -> usize {
        self.bits.len()
    }

    /// Write the low `width` (at most 64) bits of `value` at bit `lsb`.
    /// Bits past the word's end are dropped.
    pub fn put(&mut self, lsb: usize, width: usize, value: u64) {
        debug_assert!(width <= 64);
        let end = (lsb + width).min(self.bits.len());
        if lsb < end {
            self.bits[lsb..end].store_le(value & low_mask(end - lsb));
        }
    }

    /// Set one bit.
    pub fn set(&mut self, bit: usize, value: bool) {
        self.bits.set(bit, value);
    }

    /// `ceil(width / 4)` lowercase hex digits, most significant first, zero-padded.
    pub fn to_hex(&self) -> String {
        let bits = self.bits.as_bitslice();
        (0..bits.len().div_ceil(4))
            .rev()
            .map(|d| {
                let end = (4 * d + 4).min(bits.len());
                let nibble: u8 = bits[4 * d..end].load_le();
                char::from_digit(nibble as u32, 16).expect("a nibble")
            })
            .collect()
    }
}

fn low_mask(bits: usize) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

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
    let k = values.len().max(indices.len());
    let (w, iw) = (width.min(64) as usize, index_width.min(64) as usize);
    let mut word = HexWord::new(k * (w + iw));
    for b in 0..k {
        let v = values.get(b).copied().unwrap_or(0) as i64 as u64;
        word.put(b * w, w, v);
        let i = indices.get(b).copied().unwrap_or(0) as u64;
        word.put(k * w + b * iw, iw, i);
    }
    word.to_hex()
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
    fn fields_past_the_end_are_dropped() {
        let mut w = HexWord::new(6);
        w.put(4, 8, 0xff);
        w.set(0, true);
        assert_eq!(w.to_hex(), "31");
        assert_eq!(HexWord::new(0).to_hex(), "");
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
