//! The 48-bit accumulator and its conversion to 16 bits (numerics §3, §4).

use crate::format::Rounding;

/// Width of the MACC accumulator.
pub const ACC_BITS: u32 = 48;

/// Smallest legal conversion shift (`FL_A = FL_B = 0`, `FL_C = 15`).
pub const MIN_SHIFT: i32 = -15;
/// Largest legal conversion shift (`FL_A = FL_B = 15`, `FL_C = 0`).
pub const MAX_SHIFT: i32 = 30;

/// `wrap_48`: the value of the low 48 bits of `x` read as two's complement.
#[inline]
pub fn wrap48(x: i64) -> i64 {
    (x << (64 - ACC_BITS)) >> (64 - ACC_BITS)
}

/// The addend `u` of numerics §4 for a shift `s >= 1`.
#[inline]
pub fn rounding_addend(shift: i32, rounding: Rounding, r: u16) -> i64 {
    debug_assert!((1..=MAX_SHIFT).contains(&shift));
    match rounding {
        Rounding::Truncate => 0,
        Rounding::Nearest => 1 << (shift - 1),
        Rounding::Stochastic if shift <= 16 => i64::from(r >> (16 - shift)),
        Rounding::Stochastic => i64::from(r) << (shift - 16),
    }
}

/// Converts an accumulator to the 16-bit format of C (numerics §4).
///
/// `acc` is the (already wrapped) 48-bit accumulator, `shift` is `s = FL_A + FL_B - FL_C`,
/// `r` the random word of the element (ignored unless `rounding` is stochastic and `s >= 1`).
///
/// # Panics
/// If `shift` is outside `-15..=30` or `acc` is not a 48-bit value.
#[inline]
pub fn convert(acc: i64, shift: i32, rounding: Rounding, r: u16) -> i16 {
    assert!(
        (MIN_SHIFT..=MAX_SHIFT).contains(&shift),
        "shift {shift} is out of range -15..=30"
    );
    assert!(wrap48(acc) == acc, "accumulator {acc} does not fit 48 bits");
    // |acc| <= 2^47: shifted left by at most 15, or with an addend below 2^47, it fits an i64.
    let q = if shift <= 0 {
        acc << -shift
    } else {
        (acc + rounding_addend(shift, rounding, r)) >> shift
    };
    q.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16
}
