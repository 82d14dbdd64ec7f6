//! The conversion of a 48-bit accumulator to a 16-bit word (numerics §4), combinational.

use crate::extend::ZeroExtend;
use rust_hdl::prelude::*;

/// Rounding-mode code for nearest (ties towards +inf) on the `rounding` input.
pub const ROUND_NEAREST: u64 = 1;
/// Rounding-mode code for stochastic rounding; 0 is truncate (and 3 behaves as truncate).
pub const ROUND_STOCHASTIC: u64 = 2;

/// Converts `acc` with shift `s` (6-bit two's complement, -15..=30), the rounding mode and
/// the random word `r` into the saturated 16-bit `q` (numerics §4).
///
/// Two stages, latency [`CONVERT_LATENCY`] = 1: the inputs of cycle `t` give `q` in cycle
/// `t + 1` (`q` is combinational from the stage register). Stage 1 forms `u` and the sum
/// `acc + u`, and the whole `s <= 0` result; stage 2 shifts the sum right and saturates. The sum is formed on 48 bits; it can only leave the 48-bit range
/// upwards (u >= 0), and then the true result is at least `2^47 >> 30 = 2^17`, so that case
/// saturates to +32767 directly. This is the same value as the 49-bit sum of the spec.
#[derive(LogicBlock)]
pub struct Convert {
    /// Clock (for the register between the two stages).
    pub clock: Signal<In, Clock>,
    /// The accumulator (two's complement, 48 bits).
    pub acc: Signal<In, Bits<48>>,
    /// `s = FL_A + FL_B - FL_C`, two's complement on 6 bits.
    pub shift: Signal<In, Bits<6>>,
    /// 0 truncate, 1 nearest, 2 stochastic (3 = truncate).
    pub rounding: Signal<In, Bits<2>>,
    /// The random word for stochastic rounding.
    pub r: Signal<In, Bits<16>>,
    /// The converted, saturated word (two's complement) of the previous cycle's inputs.
    pub q: Signal<Out, Bits<16>>,
    r_ext: ZeroExtend<16, 48>,
    zero48: Constant<Bits<48>>,
    one48: Constant<Bits<48>>,
    ones48: Constant<Bits<48>>,
    // All ones in the bits a value that fits 16 signed bits leaves above bit 14.
    ones_above15: Constant<Bits<48>>,
    zero6: Constant<Bits<6>>,
    one6: Constant<Bits<6>>,
    fifteen6: Constant<Bits<6>>,
    sixteen6: Constant<Bits<6>>,
    q_max: Constant<Bits<16>>,
    q_min: Constant<Bits<16>>,
    mode_nearest: Constant<Bits<2>>,
    mode_stochastic: Constant<Bits<2>>,
    u: Signal<Local, Bits<48>>,
    sum: Signal<Local, Bits<48>>,
    shifted: Signal<Local, Bits<48>>,
    above: Signal<Local, Bits<48>>,
    left: Signal<Local, Bits<6>>,
    dropped: Signal<Local, Bits<6>>,
    // The low 16 bits of acc << left (only those survive when acc << left fits 16 bits).
    widened: Signal<Local, Bits<16>>,
    non_positive: Signal<Local, Bit>,
    left_result: Signal<Local, Bits<16>>,
    // Stage register.
    st_sum: DFF<Bits<48>>,
    st_shift: DFF<Bits<6>>,
    st_overflow: DFF<Bit>,
    st_non_positive: DFF<Bit>,
    st_left_result: DFF<Bits<16>>,
}

/// Cycles from `Convert`'s inputs to its output.
pub const CONVERT_LATENCY: usize = 1;

impl Default for Convert {
    fn default() -> Self {
        let ones48 = (1u64 << 48) - 1;
        Convert {
            clock: Default::default(),
            acc: Default::default(),
            shift: Default::default(),
            rounding: Default::default(),
            r: Default::default(),
            q: Default::default(),
            r_ext: Default::default(),
            zero48: Constant::new(bits(0)),
            one48: Constant::new(bits(1)),
            ones48: Constant::new(bits(ones48)),
            ones_above15: Constant::new(bits(ones48 >> 15)),
            zero6: Constant::new(bits(0)),
            one6: Constant::new(bits(1)),
            fifteen6: Constant::new(bits(15)),
            sixteen6: Constant::new(bits(16)),
            q_max: Constant::new(bits(0x7FFF)),
            q_min: Constant::new(bits(0x8000)),
            mode_nearest: Constant::new(bits(ROUND_NEAREST)),
            mode_stochastic: Constant::new(bits(ROUND_STOCHASTIC)),
            u: Default::default(),
            sum: Default::default(),
            shifted: Default::default(),
            above: Default::default(),
            left: Default::default(),
            dropped: Default::default(),
            widened: Default::default(),
            non_positive: Default::default(),
            left_result: Default::default(),
            st_sum: Default::default(),
            st_shift: Default::default(),
            st_overflow: Default::default(),
            st_non_positive: Default::default(),
            st_left_result: Default::default(),
        }
    }
}

impl Logic for Convert {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            st_sum,
            st_shift,
            st_overflow,
            st_non_positive,
            st_left_result
        );
        // ---- Stage 1.
        self.r_ext.inp.next = self.r.val();
        // s >= 1: the addend u of numerics §4.
        self.u.next = self.zero48.val();
        if self.rounding.val() == self.mode_nearest.val() {
            self.u.next = self.one48.val() << (self.shift.val() - self.one6.val());
        }
        if self.rounding.val() == self.mode_stochastic.val() {
            if self.shift.val() <= self.sixteen6.val() {
                self.u.next = self.r_ext.out.val() >> (self.sixteen6.val() - self.shift.val());
            } else {
                self.u.next = self.r_ext.out.val() << (self.shift.val() - self.sixteen6.val());
            }
        }
        self.sum.next = self.acc.val() + self.u.val();
        // s <= 0: q = sat16(acc << left); acc fits iff its bits above 15 - left are all equal.
        self.non_positive.next =
            self.shift.val().get_bit(5) || self.shift.val() == self.zero6.val();
        self.left.next = self.zero6.val() - self.shift.val();
        self.dropped.next = self.fifteen6.val() - self.left.val();
        self.widened.next = self.acc.val().get_bits::<16>(0) << self.left.val();
        if (self.acc.val() >> self.dropped.val()) == self.zero48.val()
            || (self.acc.val() >> self.dropped.val()) == (self.ones48.val() >> self.dropped.val())
        {
            self.left_result.next = self.widened.val();
        } else if self.acc.val().get_bit(47) {
            self.left_result.next = self.q_min.val();
        } else {
            self.left_result.next = self.q_max.val();
        }
        self.st_sum.d.next = self.sum.val();
        self.st_shift.d.next = self.shift.val();
        self.st_overflow.d.next = !self.acc.val().get_bit(47) && self.sum.val().get_bit(47);
        self.st_non_positive.d.next = self.non_positive.val();
        self.st_left_result.d.next = self.left_result.val();

        // ---- Stage 2: arithmetic right shift (the logical one plus the sign fill), saturate.
        self.shifted.next = self.st_sum.q.val() >> self.st_shift.q.val();
        if self.st_sum.q.val().get_bit(47) {
            self.shifted.next = (self.st_sum.q.val() >> self.st_shift.q.val())
                | !(self.ones48.val() >> self.st_shift.q.val());
        }
        self.above.next = self.shifted.val() >> self.fifteen6.val();
        if self.st_non_positive.q.val() {
            self.q.next = self.st_left_result.q.val();
        } else if self.st_overflow.q.val() {
            self.q.next = self.q_max.val();
        } else if self.above.val() == self.zero48.val()
            || self.above.val() == self.ones_above15.val()
        {
            self.q.next = self.shifted.val().get_bits::<16>(0);
        } else if self.shifted.val().get_bit(47) {
            self.q.next = self.q_min.val();
        } else {
            self.q.next = self.q_max.val();
        }
    }
}

/// Drives a connected [`Convert`] in rust-hdl's simulator for one clock and returns its output
/// (simulation helper for tests).
pub fn simulate_convert(uut: &mut Convert, acc: i64, shift: i32, rounding: u8, r: u16) -> i16 {
    uut.acc.next = bits((acc as u64) & ((1u64 << 48) - 1));
    uut.shift.next = bits((shift as u64) & 0x3F);
    uut.rounding.next = bits(rounding as u64);
    uut.r.next = bits(r as u64);
    for clk in [false, true, false] {
        uut.clock.next = Clock { clk };
        assert!(simulate(uut, 100), "convert did not settle");
    }
    uut.q.val().to_u16() as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use qtrain_model::{convert, Rounding};

    #[test]
    fn edge_cases_match_model() {
        let mut uut = Convert::default();
        uut.connect_all();
        let accs = [
            0i64,
            1,
            -1,
            0x7FFF,
            -0x8000,
            0x8000,
            -0x8001,
            (1 << 47) - 1,
            -(1 << 47),
            (1 << 47) - (1 << 20),
            3 << 9,
            -(3 << 9),
            0x1_2345_6789,
        ];
        for &acc in &accs {
            for shift in [-15, -7, -1, 0, 1, 2, 9, 10, 15, 16, 17, 29, 30] {
                for (code, mode) in [
                    (0, Rounding::Truncate),
                    (1, Rounding::Nearest),
                    (2, Rounding::Stochastic),
                ] {
                    for r in [0u16, 1, 0x8000, 0xFFFF, 0x1234] {
                        let got = simulate_convert(&mut uut, acc, shift, code, r);
                        let want = convert(acc, shift, mode, r);
                        assert_eq!(got, want, "acc={acc} s={shift} mode={code} r={r:#x}");
                    }
                }
            }
        }
    }
}
