//! `.npy`: NumPy's array file. The header is checked here for its length
//! and nesting ([`MAX_HEADER_LEN`], [`MAX_HEADER_NESTING`]), then parsed by
//! ndarray-npy once it is known to be in memory; the data is checked against
//! the shape and dtype the header claims, then borrowed as it is. `.npz`
//! members are `.npy` images too, so [`super::npz`] parses them here.

use std::borrow::Cow;
use std::path::Path;

use crate::error::{one_line, Result};

use super::file::{file_stem, offset_in};
use super::select::{cand_of, Cand};
use super::tensor::{tensor_err, Dt, TensorRef};

const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// The longest `.npy` header read, in bytes: NumPy's own reader refuses
/// longer ones (its `max_header_size`) unless told to trust the file. A
/// header of a plain array is about 120 bytes.
pub(crate) const MAX_HEADER_LEN: usize = 10_000;

/// How deep brackets (`[`, `(`, `{`, outside strings) may nest in a `.npy`
/// header. A plain array's header nests 2 deep (the dict, the shape tuple).
/// The parser's time grows exponentially with the depth, so this is
/// checked before it runs.
pub(crate) const MAX_HEADER_NESTING: usize = 4;

/// What the header of a `.npy` image says.
pub(crate) struct NpyHead {
    pub shape: Vec<usize>,
    dtype: std::result::Result<Dt, String>,
    big_endian: bool,
    fortran: bool,
    /// Where the data starts.
    pub data_start: usize,
    /// The data bytes the shape and dtype call for, when the dtype's size is
    /// known (an unsupported dtype's data is never looked at).
    pub data_len: Option<usize>,
}

/// Where the header of a `.npy` image that starts with `prefix` (its first
/// 12 bytes, or all of it when shorter) ends, when it has a supported
/// version and a header of at most [`MAX_HEADER_LEN`] bytes. `None`: the
/// prefix is all [`parse_head`] needs to report what is wrong.
pub(crate) fn header_end(prefix: &[u8]) -> Option<usize> {
    if prefix.len() < 10 || &prefix[..6] != NPY_MAGIC {
        return None;
    }
    let (len_bytes, header_len) = match prefix[6] {
        1 => (2usize, u16::from_le_bytes([prefix[8], prefix[9]]) as usize),
        2 | 3 if prefix.len() >= 12 => (
            4,
            u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]) as usize,
        ),
        _ => return None,
    };
    (header_len <= MAX_HEADER_LEN).then_some(8 + len_bytes + header_len)
}

/// Whether brackets (`[`, `(`, `{`) nest at most `limit` deep in `header`,
/// outside string literals. Strings are delimited as the parser delimits
/// them (a PEG: `'...'`, `"..."`, `b'...'`; a backslash escapes the next
/// character, and in a string but not in bytes `\N{...}` runs to its `}`),
/// so no bracket the parser would see is taken for part of a string.
fn nesting_within(header: &[u8], limit: usize) -> bool {
    let (mut depth, mut i) = (0usize, 0usize);
    while i < header.len() {
        match header[i] {
            b'[' | b'(' | b'{' => {
                depth += 1;
                if depth > limit {
                    return false;
                }
            }
            b']' | b')' | b'}' => depth = depth.saturating_sub(1),
            q @ (b'\'' | b'"') => {
                let bytes_literal = i > 0 && matches!(header[i - 1], b'b' | b'B');
                i += 1;
                // To the closing quote; an unclosed string runs to the end.
                while i < header.len() && header[i] != q {
                    if header[i] != b'\\' {
                        i += 1;
                        continue;
                    }
                    let named = (!bytes_literal && header[i + 1..].starts_with(b"N{"))
                        .then(|| header[i + 3..].iter().position(|&c| c == b'}'))
                        .flatten();
                    i += match named {
                        Some(end) => 3 + end + 1,
                        None => 2,
                    };
                }
            }
            _ => {}
        }
        i += 1;
    }
    true
}

/// Parses the header of an in-memory .npy image (the data need not be
/// there): magic, version, the header's length (at most
/// [`MAX_HEADER_LEN`]) and nesting (at most [`MAX_HEADER_NESTING`]), then
/// the header itself.
pub(crate) fn parse_head(bytes: &[u8], path: &Path, name: &str) -> Result<NpyHead> {
    let bad = |msg: String| tensor_err(path, name, msg);
    if bytes.len() < 10 || &bytes[..6] != NPY_MAGIC {
        return Err(bad(if bytes.starts_with(NPY_MAGIC) {
            "is a truncated .npy (header cut short)".to_string()
        } else {
            "is not a .npy array (bad magic bytes)".to_string()
        }));
    }
    let (len_bytes, header_len) = match bytes[6] {
        1 => (2usize, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
        2 | 3 if bytes.len() >= 12 => (
            4,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        2 | 3 => return Err(bad("is a truncated .npy (header cut short)".into())),
        v => return Err(bad(format!("has unsupported .npy version {v}"))),
    };
    if header_len > MAX_HEADER_LEN {
        return Err(bad(format!(
            "has a .npy header of {header_len} bytes; at most {MAX_HEADER_LEN} are read"
        )));
    }
    let data_start = (8 + len_bytes)
        .checked_add(header_len)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| bad("is a truncated .npy (header cut short)".into()))?;
    // The parser below takes time exponential in the nesting depth.
    if !nesting_within(&bytes[8 + len_bytes..data_start], MAX_HEADER_NESTING) {
        return Err(bad(format!(
            "has a .npy header nested more than {MAX_HEADER_NESTING} deep"
        )));
    }
    // The header is now known to be in memory, short and shallow, so
    // ndarray-npy's parser can neither allocate more than the file holds nor
    // take long.
    let header = ndarray_npy::npy::header::Header::from_reader(&mut &bytes[..data_start])
        .map_err(|e| bad(format!("has a malformed .npy header: {}", one_line(e))))?;
    // Structured dtypes are not strings; they are reported by their repr.
    let (dtype, big_endian) = match header.type_descriptor.as_string() {
        Some(descr) => parse_descr(descr),
        None => (Err(header.type_descriptor.to_string()), false),
    };
    let numel = header
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d));
    // Unsupported dtypes still get their length checked when the item size is known.
    let data_len = match &dtype {
        Ok(dt) => Some(
            numel
                .and_then(|n| n.checked_mul(dt.size()))
                .ok_or_else(|| bad(format!("has an impossible shape {:?}", header.shape)))?,
        ),
        Err(_) => None,
    };
    Ok(NpyHead {
        shape: header.shape,
        dtype,
        big_endian,
        fortran: header.layout.is_fortran(),
        data_start,
        data_len,
    })
}

/// The tensor of a .npy image whose header is `head`: its data is checked
/// to have exactly the length the header calls for.
pub(crate) fn npy_tensor<'a>(
    bytes: &'a [u8],
    head: NpyHead,
    path: &Path,
    name: &str,
) -> Result<TensorRef<'a>> {
    let data = &bytes[head.data_start.min(bytes.len())..];
    if let Some(need) = head.data_len {
        if data.len() < need {
            return Err(tensor_err(
                path,
                name,
                format!(
                    "is truncated: shape {:?} needs {need} data bytes, the file has {}",
                    head.shape,
                    data.len()
                ),
            ));
        }
        if data.len() > need {
            return Err(tensor_err(
                path,
                name,
                format!("has {} unexpected bytes after its data", data.len() - need),
            ));
        }
    }
    Ok(TensorRef {
        name: name.to_string(),
        shape: head.shape,
        dtype: head.dtype,
        big_endian: head.big_endian,
        fortran: head.fortran,
        data: Cow::Borrowed(data),
    })
}

/// The tensor a header describes, without its data (empty): enough to know
/// whether it is a usable matrix, never to decode it.
pub(crate) fn head_tensor(head: NpyHead, name: &str) -> TensorRef<'static> {
    TensorRef {
        name: name.to_string(),
        shape: head.shape,
        dtype: head.dtype,
        big_endian: head.big_endian,
        fortran: head.fortran,
        data: Cow::Borrowed(&[]),
    }
}

/// Parses an in-memory .npy image. The data slice it returns has exactly the
/// length the header's shape and dtype call for.
pub(crate) fn parse_npy<'a>(bytes: &'a [u8], path: &Path, name: &str) -> Result<TensorRef<'a>> {
    let head = parse_head(bytes, path, name)?;
    npy_tensor(bytes, head, path, name)
}

/// The file's one tensor, named after the file stem, as a candidate;
/// `offset` is where its data starts in the file.
pub(crate) fn candidates<'a>(bytes: &'a [u8], path: &Path) -> Result<Vec<Cand<'a>>> {
    let t = parse_npy(bytes, path, &file_stem(path))?;
    let offset = offset_in(bytes, &t.data);
    Ok(vec![cand_of(t, path, 0, offset)])
}

/// Maps a NumPy type string such as `<f4` to a dtype and byte order.
fn parse_descr(descr: &str) -> (std::result::Result<Dt, String>, bool) {
    let unsupported = || (Err(descr.to_string()), false);
    let mut chars = descr.chars();
    let Some(order) = chars.next() else {
        return unsupported();
    };
    let big = match order {
        '<' | '|' => false,
        '>' => true,
        '=' => cfg!(target_endian = "big"),
        _ => return unsupported(),
    };
    let dt = match chars.as_str() {
        "f2" => Dt::F16,
        "f4" => Dt::F32,
        "f8" => Dt::F64,
        "i1" => Dt::I8,
        "i2" => Dt::I16,
        "i4" => Dt::I32,
        "i8" => Dt::I64,
        _ => return unsupported(),
    };
    (Ok(dt), big)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(header: &str) -> Vec<u8> {
        let h = format!("{header}\n");
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out
    }

    fn err(bytes: &[u8]) -> String {
        match parse_head(bytes, Path::new("a.npy"), "a") {
            Ok(_) => panic!("parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        let ok = |h: &str| nesting_within(h.as_bytes(), 4);
        assert!(ok(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"
        ));
        assert!(ok("{'a': [('x', '<f4', (2,))]}"));
        assert!(!ok("{'a': [('x', '<f4', ((2,),))]}"));
        assert!(!ok("[[[[[]]]]]"));
        // Brackets in strings do not count, whichever way they lean.
        assert!(ok("{'[[[[[': ']]]]]', \"((((((\": 1}"));
        assert!(ok("{'\\'[[[[[': 1}"));
        // Closers in a string cannot hide the openers after it.
        assert!(!ok("{']]]]]': [[[[1]]]]}"));
        // An escaped quote does not end a string ...
        assert!(!ok("{'\\'': [[[[1]]]]}"));
        // ... and neither does a quote inside \N{...}, which the parser
        // reads as one escape, while in bytes \N is two characters.
        assert!(!ok("{'\\N{'}': [[[[1]]]]}"));
        assert!(!ok("{b'\\N{': [[[[1]]]], 'x': '}'}"));
        // An unclosed \N{ is an unknown escape.
        assert!(ok("{'\\N{x': 1}"));
    }

    #[test]
    fn headers_are_bounded_before_parsing() {
        let deep = image(&format!(
            "{{'descr': '<f4', 'fortran_order': False, 'shape': {}{}}}",
            "[".repeat(30),
            "]".repeat(30)
        ));
        assert_eq!(
            err(&deep),
            "a.npy: tensor 'a' has a .npy header nested more than 4 deep"
        );
        let long = image(&format!(
            "{{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }}{}",
            " ".repeat(MAX_HEADER_LEN)
        ));
        assert_eq!(
            err(&long),
            format!(
                "a.npy: tensor 'a' has a .npy header of {} bytes; at most 10000 are read",
                long.len() - 10
            )
        );
        // The length is checked before the truncation: 12 bytes are enough.
        assert_eq!(err(&long[..12]), err(&long));
        assert_eq!(header_end(&long[..12]), None);
        // A structured dtype nests 4 deep and is still parsed (and refused
        // later, by its dtype).
        let structured = image(
            "{'descr': [('a', '<f4', (2,)), ('b', '<i4')], 'fortran_order': False, 'shape': (3,), }",
        );
        let h = parse_head(&structured, Path::new("a.npy"), "a").unwrap_or_else(|e| panic!("{e}"));
        assert!(h.dtype.is_err() && h.data_len.is_none());
        assert_eq!(header_end(&structured), Some(structured.len()));
    }
}
