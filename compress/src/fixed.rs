//! Two's-complement fixed point Q(width, frac): an integer `v` in
//! `[-2^(width-1), 2^(width-1) - 1]` stands for `v / 2^frac`.

use crate::error::{Error, Result};

/// A fixed-point format: `width` total bits (sign included), `frac` of them fractional.
///
/// Deserialization runs the same checks as [`QFormat::new`], so a config file
/// cannot smuggle in a width the hardware generators would choke on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RawQFormat")]
pub struct QFormat {
    pub width: u32,
    pub frac: u32,
}

#[derive(Clone, Copy, serde::Deserialize)]
struct RawQFormat {
    width: u32,
    frac: u32,
}

impl TryFrom<RawQFormat> for QFormat {
    type Error = Error;
    fn try_from(raw: RawQFormat) -> Result<QFormat> {
        QFormat::new(raw.width, raw.frac)
    }
}

impl QFormat {
    /// `2 <= width <= 32` (values are stored as `i32`) and `frac < width`.
    pub fn new(width: u32, frac: u32) -> Result<QFormat> {
        if !(2..=32).contains(&width) {
            return Err(Error::param(
                "value_width",
                format!("{width} is outside 2..=32"),
            ));
        }
        if frac >= width {
            return Err(Error::param(
                "frac_bits",
                format!("{frac} must be less than value_width ({width})"),
            ));
        }
        Ok(QFormat { width, frac })
    }

    /// Same checks as [`QFormat::new`], for a value built with a struct literal.
    pub fn check(&self) -> Result<()> {
        QFormat::new(self.width, self.frac).map(|_| ())
    }

    /// `-2^(width-1)`.
    #[inline]
    pub fn min(&self) -> i64 {
        // Clamp so a hand-built out-of-range width cannot overflow the shift.
        -(1i64 << (self.width.clamp(1, 63) - 1))
    }

    /// `2^(width-1) - 1`.
    #[inline]
    pub fn max(&self) -> i64 {
        (1i64 << (self.width.clamp(1, 63) - 1)) - 1
    }

    /// The scale `2^frac` as f64 (exact for any `frac` we accept).
    fn scale(&self) -> f64 {
        2f64.powi(self.frac.min(1023) as i32)
    }

    /// `round(x * 2^frac)`, ties away from zero (`f64::round`), then saturated to
    /// `[min, max]`. Returns `(value, saturated)`. NaN gives `(0, true)`;
    /// infinities saturate. The product is formed in f64, so it is exact.
    pub fn quantize(&self, x: f32) -> (i64, bool) {
        let y = (x as f64 * self.scale()).round();
        if y.is_nan() {
            (0, true)
        } else if y < self.min() as f64 {
            (self.min(), true)
        } else if y > self.max() as f64 {
            (self.max(), true)
        } else {
            (y as i64, false)
        }
    }

    /// `v / 2^frac`.
    pub fn dequantize(&self, v: i64) -> f32 {
        (v as f64 / self.scale()) as f32
    }
}

impl std::fmt::Display for QFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Q({}, {})", self.width, self.frac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_checks_ranges() {
        assert!(QFormat::new(8, 4).is_ok());
        assert!(QFormat::new(32, 31).is_ok());
        let e = QFormat::new(1, 0).unwrap_err().to_string();
        assert!(e.contains("value_width"), "{e}");
        let e = QFormat::new(33, 0).unwrap_err().to_string();
        assert!(e.contains("value_width"), "{e}");
        let e = QFormat::new(8, 8).unwrap_err().to_string();
        assert!(e.contains("frac_bits"), "{e}");
    }

    #[test]
    fn range_and_rounding() {
        let q = QFormat::new(8, 4).unwrap();
        assert_eq!((q.min(), q.max()), (-128, 127));
        assert_eq!(q.quantize(1.0), (16, false));
        // 0.03125 * 16 = 0.5 -> ties away from zero
        assert_eq!(q.quantize(0.03125), (1, false));
        assert_eq!(q.quantize(-0.03125), (-1, false));
        assert_eq!(q.quantize(100.0), (127, true));
        assert_eq!(q.quantize(-100.0), (-128, true));
        assert_eq!(q.quantize(-8.0), (-128, false));
        assert_eq!(q.quantize(f32::NAN), (0, true));
        assert_eq!(q.quantize(f32::INFINITY), (127, true));
        assert_eq!(q.dequantize(-24), -1.5);
        let q32 = QFormat::new(32, 0).unwrap();
        assert_eq!((q32.min(), q32.max()), (i32::MIN as i64, i32::MAX as i64));
    }

    #[test]
    fn serde_validates() {
        use serde::de::value::{Error as DeError, MapDeserializer};
        use serde::Deserialize;
        let de = |w: u32, f: u32| {
            let pairs = vec![("width", w), ("frac", f)];
            QFormat::deserialize(MapDeserializer::<_, DeError>::new(pairs.into_iter()))
        };
        assert_eq!(de(16, 8).unwrap(), QFormat { width: 16, frac: 8 });
        let e = de(40, 0).unwrap_err().to_string();
        assert!(e.contains("value_width"), "{e}");
    }
}
