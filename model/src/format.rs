//! The 16-bit `<IL, FL>` number format and host-side quantization (numerics §1, §2).

use std::fmt;
use std::str::FromStr;

use crate::error::ModelError;

/// Largest fractional length of the 16-bit format.
pub const MAX_FL: u8 = 15;

/// How a value that does not fit the target resolution is rounded (numerics §4).
///
/// The discriminants are the hardware's 2-bit `rounding` port encoding.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Floor (towards -inf).
    Truncate = 0,
    /// Nearest, ties towards +inf.
    Nearest = 1,
    /// Round up with probability equal to the dropped fraction.
    Stochastic = 2,
}

impl Rounding {
    /// All modes, in encoding order.
    pub const ALL: [Rounding; 3] = [Rounding::Truncate, Rounding::Nearest, Rounding::Stochastic];

    /// The lower-case name used by [`FromStr`] and [`fmt::Display`].
    pub fn name(self) -> &'static str {
        match self {
            Rounding::Truncate => "truncate",
            Rounding::Nearest => "nearest",
            Rounding::Stochastic => "stochastic",
        }
    }

    /// Decodes the 2-bit hardware encoding; 3 is not a mode.
    pub fn from_code(code: u8) -> Option<Rounding> {
        Rounding::ALL.get(usize::from(code)).copied()
    }
}

impl fmt::Display for Rounding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Rounding {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rounding::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| ModelError::UnknownRounding(s.to_string()))
    }
}

/// Checks that `fl` is a valid fractional length (`0..=15`); `which` names the operand in the error.
pub fn check_fl(which: char, fl: u8) -> Result<(), ModelError> {
    if fl <= MAX_FL {
        Ok(())
    } else {
        Err(ModelError::BadFl { which, value: fl })
    }
}

/// `sat16`: clamps to the 16-bit two's-complement range.
pub fn sat16(x: i128) -> i16 {
    x.clamp(i128::from(i16::MIN), i128::from(i16::MAX)) as i16
}

/// Quantizes `x` to `<16 - fl, fl>` (numerics §2).
///
/// `rng` is called exactly once when `rounding` is stochastic (and never otherwise) and must
/// return a uniform 16-bit word. NaN gives 0, ±inf saturate.
///
/// # Panics
/// If `fl > 15`; use [`check_fl`] on untrusted values first.
pub fn quantize(x: f64, fl: u8, rounding: Rounding, rng: &mut impl FnMut() -> u16) -> i16 {
    assert!(fl <= MAX_FL, "FL = {fl} is out of range 0..=15");
    if x.is_nan() {
        if rounding == Rounding::Stochastic {
            // Keep the number of draws independent of the value.
            rng();
        }
        return 0;
    }
    // Both scalings are by powers of two, hence exact; beyond +-2^16 the result saturates
    // whatever the rounding, which also keeps every later step in exact integer range.
    let t = x * f64::from(1u32 << fl);
    let add = match rounding {
        Rounding::Truncate => 0,
        Rounding::Nearest => 1 << 15,
        Rounding::Stochastic => i64::from(rng()),
    };
    if t >= 65536.0 {
        return i16::MAX;
    }
    if t <= -65536.0 {
        return i16::MIN;
    }
    // floor(t + add / 2^16) == floor((floor(t * 2^16) + add) / 2^16) because `add` is an
    // integer: the same add-then-shift rule as the array (numerics §4), and no float
    // addition that could round.
    let g = (t * 65536.0).floor() as i64;
    sat16(i128::from((g + add) >> 16))
}

/// [`quantize`] for an `f32` input (widening to `f64` is exact).
///
/// # Panics
/// If `fl > 15`.
pub fn quantize_f32(x: f32, fl: u8, rounding: Rounding, rng: &mut impl FnMut() -> u16) -> i16 {
    quantize(f64::from(x), fl, rounding, rng)
}

/// The value `q · 2^-fl` represented by `q`; exact in `f64` (and in `f32` after casting).
///
/// # Panics
/// If `fl > 15`.
pub fn dequantize(q: i16, fl: u8) -> f64 {
    assert!(fl <= MAX_FL, "FL = {fl} is out of range 0..=15");
    f64::from(q) / f64::from(1u32 << fl)
}
