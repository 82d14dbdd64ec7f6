//! The UART settings a board's device is built with.

use qtrain_hdl::link::{clocks_per_bit, MIN_CLOCKS_PER_BIT};

/// Bauds tried, fastest first. Both FTDI chips make each of them exactly (FT2232H: 12 MHz /
/// n; FT231X: 3 MHz / n with eighths), so the only error left is the device's clock divider.
pub const BAUD_CANDIDATES: [u64; 9] = [
    12_000_000, 6_000_000, 4_000_000, 3_000_000, 2_000_000, 1_500_000, 1_000_000, 500_000, 115_200,
];

/// The largest accepted bit-rate error of the device's divider. The receiver samples mid-bit
/// and tolerates about 2 % between the two ends at 4 clocks per bit (docs/hardware.md, "Link");
/// the other half of that budget is left to the FTDI's own divider and the oscillators.
pub const MAX_BAUD_ERROR: f64 = 0.01;

/// The device's link constants (DeviceTop's `clocks_per_bit`, `clock_hz` and `baud` ports).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct LinkSettings {
    /// The core clock CAPABILITIES reports, Hz (the PLL's output, rounded).
    pub clock_hz: u64,
    /// The baud CAPABILITIES reports (what the host must open the port at).
    pub baud: u64,
    /// Core clock cycles per bit.
    pub clocks_per_bit: u16,
    /// Relative error of `clock_hz / clocks_per_bit` against `baud`.
    pub baud_error: f64,
}

/// The fastest candidate baud at most `max_baud` that a core clock of `clock_hz` divides to
/// within [`MAX_BAUD_ERROR`] with at least [`MIN_CLOCKS_PER_BIT`] cycles per bit.
pub fn choose_link(clock_hz: u64, max_baud: u64) -> Option<LinkSettings> {
    BAUD_CANDIDATES
        .into_iter()
        .filter(|&b| b <= max_baud)
        .find_map(|baud| {
            let (cpb, err) = clocks_per_bit(clock_hz, baud)?;
            (cpb >= MIN_CLOCKS_PER_BIT && err.abs() <= MAX_BAUD_ERROR).then_some(LinkSettings {
                clock_hz,
                baud,
                clocks_per_bit: cpb,
                baud_error: err,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_fastest_baud_within_the_error_budget() {
        // 48 MHz: 12 Mbaud at exactly 4 clocks per bit on the FT2232H, 3 Mbaud on the FT231X.
        let l = choose_link(48_000_000, 12_000_000).unwrap();
        assert_eq!((l.baud, l.clocks_per_bit), (12_000_000, 4));
        let l = choose_link(48_000_000, 3_000_000).unwrap();
        assert_eq!((l.baud, l.clocks_per_bit), (3_000_000, 16));
        // 50 MHz / 3 Mbaud is 16.67 clocks per bit (2 % off): 2 Mbaud (25) is exact.
        let l = choose_link(50_000_000, 3_000_000).unwrap();
        assert_eq!((l.baud, l.clocks_per_bit), (2_000_000, 25));
        for clock in [
            16_000_000u64,
            24_000_000,
            30_000_000,
            62_500_000,
            100_000_000,
        ] {
            let l = choose_link(clock, 3_000_000).unwrap();
            assert!(l.baud_error.abs() <= MAX_BAUD_ERROR);
            assert!(l.clocks_per_bit >= MIN_CLOCKS_PER_BIT);
            let (cpb, _) = clocks_per_bit(clock, l.baud).unwrap();
            assert_eq!(cpb, l.clocks_per_bit);
            // Nothing faster would have done.
            for &faster in BAUD_CANDIDATES
                .iter()
                .filter(|&&b| b > l.baud && b <= 3_000_000)
            {
                assert!(clocks_per_bit(clock, faster)
                    .is_none_or(|(c, e)| c < MIN_CLOCKS_PER_BIT || e.abs() > MAX_BAUD_ERROR));
            }
        }
    }
}
