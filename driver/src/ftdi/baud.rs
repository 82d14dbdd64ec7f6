//! The FTDI baud-rate divisor.
//!
//! An FTDI UART divides a base clock by `n + f/8` where `n` is 14 bits and `f` is coded in
//! three bits at positions 14..=16 (the chip's fraction codes are not in numeric order).
//! The base is 3 MHz (48 MHz / 16) on every chip; H-series chips (FT2232H) can also use
//! 12 MHz (120 MHz / 10), selected by bit 17. Divisors below 2 are special: the encoded
//! value 0 means divide by 1, the value 1 means divide by 1.5, nothing else below 2 exists.

use super::Chip;

/// The 3 MHz base every FTDI chip has.
pub const BASE_3MHZ: u32 = 3_000_000;
/// The 12 MHz base of H-series chips.
pub const BASE_12MHZ: u32 = 12_000_000;
/// The largest baud error accepted: beyond about 3 % an 8N1 receiver samples the wrong
/// bit by the end of a frame.
pub const MAX_BAUD_ERROR: f64 = 0.03;

/// Bit 17 of the encoded divisor: use the 12 MHz base (H-series only).
const CLOCK_12MHZ_BIT: u32 = 1 << 17;
/// The largest divisor, in eighths: 16383 + 7/8.
const MAX_EIGHTHS: u32 = 0x1FFFF;
/// The chip's code for each fraction of eighths 0/8..=7/8.
const FRACTION_CODE: [u32; 8] = [0, 3, 2, 4, 1, 5, 6, 7];

/// A chosen divisor and what it achieves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BaudSetting {
    /// The baud asked for.
    pub requested: u32,
    /// The base clock divided: [`BASE_3MHZ`] or [`BASE_12MHZ`].
    pub base: u32,
    /// The divisor in eighths (8 = divide by 1.0, 12 = 1.5, 833 = 104.125).
    pub eighths: u32,
    /// The 18-bit value the chip is sent (integer, fraction code, clock bit).
    pub encoded: u32,
    /// The baud the line actually runs at, rounded to an integer.
    pub achieved: u32,
    /// `(achieved - requested) / requested`, from the exact ratio.
    pub error: f64,
}

impl BaudSetting {
    /// The divisor as a number (base / divisor = achieved baud).
    pub fn divisor(&self) -> f64 {
        f64::from(self.eighths) / 8.0
    }

    /// wValue and wIndex of the SIO_SET_BAUDRATE request for `channel_index` (A = 1).
    ///
    /// Multi-channel chips need the channel in wIndex's low byte, so bits 16 and 17 of the
    /// encoded value move to wIndex's high byte; single-channel chips take them in wIndex.
    pub fn request_words(&self, chip: Chip, channel_index: u16) -> (u16, u16) {
        let value = (self.encoded & 0xFFFF) as u16;
        let index = if chip.is_multi_channel() {
            (((self.encoded >> 8) & 0xFF00) as u16) | channel_index
        } else {
            (self.encoded >> 16) as u16
        };
        (value, index)
    }
}

/// Why no divisor fits.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("{chip} cannot run at {requested} baud: the nearest is {best} baud ({error_percent:+.2} %), beyond the ±3 % an 8N1 UART tolerates")]
pub struct BaudError {
    /// The chip.
    pub chip: Chip,
    /// The baud asked for.
    pub requested: u32,
    /// The nearest baud it can do.
    pub best: u32,
    /// That baud's error in percent.
    pub error_percent: f64,
}

fn encode(base: u32, eighths: u32) -> u32 {
    let divisor = match eighths {
        8 => 0,
        12 => 1,
        _ => (eighths >> 3) | (FRACTION_CODE[(eighths & 7) as usize] << 14),
    };
    if base == BASE_12MHZ {
        divisor | CLOCK_12MHZ_BIT
    } else {
        divisor
    }
}

fn setting(requested: u32, base: u32, eighths: u32) -> BaudSetting {
    let num = 8 * u64::from(base);
    let achieved = ((num + u64::from(eighths) / 2) / u64::from(eighths)) as u32;
    let exact = num as f64 / f64::from(eighths);
    BaudSetting {
        requested,
        base,
        eighths,
        encoded: encode(base, eighths),
        achieved,
        error: (exact - f64::from(requested)) / f64::from(requested),
    }
}

/// The closest divisor to `baud` on one base clock, whatever its error.
///
/// Panics if `baud` is 0.
pub fn divisor_for_base(base: u32, baud: u32) -> BaudSetting {
    assert!(baud > 0, "baud must be positive");
    let ideal = 8 * u64::from(base) / u64::from(baud);
    let legal = |e: u64| e.clamp(16, u64::from(MAX_EIGHTHS)) as u32;
    // The ideal lies between floor and floor + 1, each clamped into the continuous range
    // 2.0..=16383.875; the special divisors 1.0 and 1.5 cover the gap below.
    let candidates = [8, 12, legal(ideal), legal(ideal + 1)];
    candidates
        .into_iter()
        .map(|e| setting(baud, base, e))
        .min_by(|a, b| a.error.abs().total_cmp(&b.error.abs()))
        .expect("candidates is not empty")
}

/// The best divisor for `baud` on `chip`, trying every base clock the chip has and
/// rejecting a result more than [`MAX_BAUD_ERROR`] off.
pub fn best_divisor(chip: Chip, baud: u32) -> Result<BaudSetting, BaudError> {
    let mut best = divisor_for_base(BASE_3MHZ, baud.max(1));
    if chip.is_h_series() {
        let fast = divisor_for_base(BASE_12MHZ, baud.max(1));
        // On a tie the 12 MHz base wins: its finer steps keep the rounding symmetric.
        if fast.error.abs() <= best.error.abs() {
            best = fast;
        }
    }
    if baud == 0 || best.error.abs() > MAX_BAUD_ERROR {
        return Err(BaudError {
            chip,
            requested: baud,
            best: best.achieved,
            error_percent: best.error * 100.0,
        });
    }
    Ok(best)
}

/// The baud an encoded divisor gives on `chip` (the inverse of [`best_divisor`], used by
/// the emulated chip and the tests).
pub fn decode(chip: Chip, encoded: u32) -> u32 {
    let base = if chip.is_h_series() && encoded & CLOCK_12MHZ_BIT != 0 {
        BASE_12MHZ
    } else {
        BASE_3MHZ
    };
    let code = (encoded >> 14) & 7;
    let frac = FRACTION_CODE
        .iter()
        .position(|&c| c == code)
        .expect("FRACTION_CODE is a permutation of 0..8") as u32;
    let eighths = match encoded & 0x1FFFF {
        0 => 8,
        1 => 12,
        _ => ((encoded & 0x3FFF) << 3) | frac,
    };
    setting(0, base, eighths).achieved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ft2232h_12_mbaud_is_divisor_one_on_12_mhz() {
        let s = best_divisor(Chip::Ft2232h, 12_000_000).unwrap();
        assert_eq!(s.base, BASE_12MHZ);
        assert_eq!(s.divisor(), 1.0);
        // Divide-by-one is the special encoding 0, plus the 12 MHz clock bit.
        assert_eq!(s.encoded, 0x2_0000);
        assert_eq!(s.achieved, 12_000_000);
        assert_eq!(s.error, 0.0);
        // Channel B: the clock bit travels in wIndex's high byte.
        assert_eq!(s.request_words(Chip::Ft2232h, 2), (0x0000, 0x0202));
    }

    #[test]
    fn ft231x_3_mbaud_is_encoded_zero() {
        let s = best_divisor(Chip::Ft231x, 3_000_000).unwrap();
        assert_eq!(
            (s.base, s.eighths, s.encoded, s.achieved),
            (BASE_3MHZ, 8, 0, 3_000_000)
        );
        assert_eq!(s.request_words(Chip::Ft231x, 1), (0, 0));
    }

    #[test]
    fn two_mbaud_uses_the_one_and_a_half_divisor() {
        let s = best_divisor(Chip::Ft231x, 2_000_000).unwrap();
        assert_eq!((s.eighths, s.encoded, s.achieved), (12, 1, 2_000_000));
        let s = best_divisor(Chip::Ft2232h, 8_000_000).unwrap();
        assert_eq!(
            (s.eighths, s.encoded, s.achieved),
            (12, 0x2_0001, 8_000_000)
        );
    }

    #[test]
    fn baud_115200_on_both_chips() {
        // 3 MHz / 115200 = 26.04: divisor 26, 115384.6 baud, +0.16 %.
        let s = best_divisor(Chip::Ft231x, 115_200).unwrap();
        assert_eq!((s.eighths, s.encoded, s.achieved), (26 * 8, 26, 115_385));
        assert!((s.error - 0.001_602_6).abs() < 1e-6, "{}", s.error);
        assert_eq!(s.request_words(Chip::Ft231x, 1), (26, 0));

        // 12 MHz / 115200 = 104.17: divisor 104 + 1/8 (fraction code 3), 115246 baud.
        let s = best_divisor(Chip::Ft2232h, 115_200).unwrap();
        assert_eq!(s.base, BASE_12MHZ);
        assert_eq!(s.eighths, 104 * 8 + 1);
        assert_eq!(s.encoded, 0x2_0000 | (3 << 14) | 104);
        assert_eq!(s.achieved, 115_246);
        assert!(s.error.abs() < 0.0005);
        assert_eq!(s.request_words(Chip::Ft2232h, 2), (0xC068, 0x0202));
    }

    #[test]
    fn fraction_code_high_bit_goes_to_windex() {
        // 3 MHz base, divisor 2 + 3/8: fraction code 4 has bit 16 set.
        let s = divisor_for_base(BASE_3MHZ, 1_263_158);
        assert_eq!(s.eighths, 19);
        assert_eq!(s.encoded, 0x1_0002);
        assert_eq!(s.request_words(Chip::Ft2232h, 1), (0x0002, 0x0101));
        assert_eq!(s.request_words(Chip::Ft231x, 1), (0x0002, 0x0001));
    }

    #[test]
    fn unreachable_bauds_are_rejected() {
        // Between 3 MHz (÷1) and 2 MHz (÷1.5) nothing exists on an FT231X.
        let e = best_divisor(Chip::Ft231x, 2_500_000).unwrap_err();
        assert!(e.error_percent.abs() > 3.0);
        assert!(best_divisor(Chip::Ft231x, 4_000_000).is_err());
        assert!(best_divisor(Chip::Ft2232h, 13_000_000).is_err());
        // The H chip reaches 2.5 Mbaud within 1.05 %: 12 MHz ÷ 4.75 = 2.526 Mbaud.
        let s = best_divisor(Chip::Ft2232h, 2_500_000).unwrap();
        assert!(s.error.abs() < 0.02);
        // Too slow for either base: 3 MHz / 16383.875 = 183.1 baud.
        assert!(best_divisor(Chip::Ft231x, 100).is_err());
        assert!(best_divisor(Chip::Ft231x, 0).is_err());
        // Slow bauds on the H chip fall back to the 3 MHz base.
        let s = best_divisor(Chip::Ft2232h, 300).unwrap();
        assert_eq!(s.base, BASE_3MHZ);
        assert_eq!(s.encoded & (1 << 17), 0);
    }

    #[test]
    fn decode_inverts_encode_across_the_range() {
        for chip in [Chip::Ft231x, Chip::Ft2232h] {
            for baud in (200..12_000_000u32).step_by(9973) {
                if let Ok(s) = best_divisor(chip, baud) {
                    assert_eq!(decode(chip, s.encoded), s.achieved, "{chip} {baud}");
                    assert!(s.error.abs() <= MAX_BAUD_ERROR);
                }
            }
        }
    }

    #[test]
    fn chosen_divisor_is_optimal() {
        // Brute force over every legal divisor on every base: nothing beats the choice.
        for baud in [
            9600u32, 57_600, 230_400, 460_800, 921_600, 1_000_000, 3_000_000,
        ] {
            for chip in [Chip::Ft231x, Chip::Ft2232h] {
                let s = best_divisor(chip, baud).unwrap();
                let bases: &[u32] = if chip.is_h_series() {
                    &[BASE_3MHZ, BASE_12MHZ]
                } else {
                    &[BASE_3MHZ]
                };
                for &base in bases {
                    let lo = (8 * u64::from(base) / u64::from(baud))
                        .saturating_sub(3)
                        .max(16);
                    for e in [8, 12].into_iter().chain(lo as u32..lo as u32 + 6) {
                        let other = setting(baud, base, e.min(MAX_EIGHTHS));
                        assert!(other.error.abs() >= s.error.abs() - 1e-12, "{chip} {baud}");
                    }
                }
            }
        }
    }
}
