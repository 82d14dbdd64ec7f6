//! The conversion of a 48-bit accumulator to a 16-bit word (numerics §4), two stages.

use crate::extend::ZeroExtend;
use rust_hdl::prelude::*;

/// Rounding-mode code for nearest (ties towards +inf) on the `rounding` input.
pub const ROUND_NEAREST: u64 = 1;
/// Rounding-mode code for stochastic rounding; 0 is truncate (and 3 behaves as truncate).
pub const ROUND_STOCHASTIC: u64 = 2;

/// Cycles from `Convert`'s inputs to its output.
pub const CONVERT_LATENCY: usize = 1;

/// Converts `acc` with shift `s` (6-bit two's complement, -15..=30), the rounding mode and
/// the random word `r` into the saturated 16-bit `q` (numerics §4).
///
/// Two stages, latency [`CONVERT_LATENCY`] = 1: the inputs of cycle `t` give `q` in cycle
/// `t + 1` (`q` is combinational from the stage register).
///
/// The numerics' `sat16((acc + u) >> s)` is computed without a 48-bit sum. With `y = acc >> s`
/// and `f = acc mod 2^s`, `(acc + u) >> s = y + c` where the carry `c = [f + u >= 2^s]` (every
/// `u` is below `2^s`). Writing `g` for the top 16 bits of the `s`-bit fraction
/// (`floor(f · 2^16 / 2^s)`), `c = [g + r' >= 2^16]` with `r' = r` (stochastic), `0x8000`
/// (nearest) or 0 (truncate): `u` and `g` are aligned to the same bits and everything below
/// them is a multiple of the other's step, so it cannot carry on its own. So one 32-bit
/// window of the accumulator, `{y[15:0], g}`, plus `r'` gives `y + c` in its upper half. The
/// result saturates unless `acc[47 : s + 15]` are all equal (then `y` fits 16 bits), or `y + c`
/// overflows at `0x7FFF`. For `s <= 0` the same rule holds with `y = acc << -s` and `g = 0`.
///
/// Stage 1 selects the window (one 64-bit right shift, or a 16-bit left shift for `s < 0`)
/// and tests the range with a mask; stage 2 adds `r'` on 32 bits and saturates.
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
    acc_ext: ZeroExtend<48, 64>,
    left_ext: ZeroExtend<16, 32>,
    radd_ext: ZeroExtend<16, 32>,
    zero48: Constant<Bits<48>>,
    ones48: Constant<Bits<48>>,
    zero6: Constant<Bits<6>>,
    fifteen6: Constant<Bits<6>>,
    sixteen6: Constant<Bits<6>>,
    zero16: Constant<Bits<16>>,
    half16: Constant<Bits<16>>,
    q_max: Constant<Bits<16>>,
    q_min: Constant<Bits<16>>,
    mode_nearest: Constant<Bits<2>>,
    mode_stochastic: Constant<Bits<2>>,
    // {acc, 16 zero bits}: window bit i is bit s + i of it.
    padded: Signal<Local, Bits<64>>,
    win_src: Signal<Local, Bits<64>>,
    left: Signal<Local, Bits<6>>,
    // acc[15:0] << -s, the whole result of s < 0 when it fits.
    widened: Signal<Local, Bits<16>>,
    // Bits at or above s + 15 (those that must all equal the sign for y to fit 16 bits).
    mask: Signal<Local, Bits<48>>,
    sign_fill: Signal<Local, Bits<48>>,
    win_sum: Signal<Local, Bits<32>>,
    // Stage register.
    st_win: DFF<Bits<32>>,
    st_radd: DFF<Bits<16>>,
    st_fits: DFF<Bit>,
    st_neg: DFF<Bit>,
}

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
            acc_ext: Default::default(),
            left_ext: Default::default(),
            radd_ext: Default::default(),
            zero48: Constant::new(bits(0)),
            ones48: Constant::new(bits(ones48)),
            zero6: Constant::new(bits(0)),
            fifteen6: Constant::new(bits(15)),
            sixteen6: Constant::new(bits(16)),
            zero16: Constant::new(bits(0)),
            half16: Constant::new(bits(0x8000)),
            q_max: Constant::new(bits(0x7FFF)),
            q_min: Constant::new(bits(0x8000)),
            mode_nearest: Constant::new(bits(ROUND_NEAREST)),
            mode_stochastic: Constant::new(bits(ROUND_STOCHASTIC)),
            padded: Default::default(),
            win_src: Default::default(),
            left: Default::default(),
            widened: Default::default(),
            mask: Default::default(),
            sign_fill: Default::default(),
            win_sum: Default::default(),
            st_win: Default::default(),
            st_radd: Default::default(),
            st_fits: Default::default(),
            st_neg: Default::default(),
        }
    }
}

impl Logic for Convert {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, st_win, st_radd, st_fits, st_neg);
        // ---- Stage 1: the window {y[15:0], g}, the range test and r'.
        self.acc_ext.inp.next = self.acc.val();
        self.padded.next = self.acc_ext.out.val() << self.sixteen6.val();
        self.left.next = self.zero6.val() - self.shift.val();
        self.widened.next = self.acc.val().get_bits::<16>(0) << self.left.val();
        self.left_ext.inp.next = self.widened.val();
        self.win_src.next = self.padded.val() >> self.shift.val();
        self.st_win.d.next = self.win_src.val().get_bits::<32>(0);
        if self.shift.val().get_bit(5) {
            self.st_win.d.next = self.left_ext.out.val() << self.sixteen6.val();
        }
        self.mask.next = self.ones48.val() << (self.shift.val() + self.fifteen6.val());
        self.sign_fill.next = self.zero48.val();
        if self.acc.val().get_bit(47) {
            self.sign_fill.next = self.ones48.val();
        }
        self.st_fits.d.next =
            ((self.acc.val() ^ self.sign_fill.val()) & self.mask.val()) == self.zero48.val();
        self.st_neg.d.next = self.acc.val().get_bit(47);
        self.st_radd.d.next = self.zero16.val();
        if self.rounding.val() == self.mode_nearest.val() {
            self.st_radd.d.next = self.half16.val();
        }
        if self.rounding.val() == self.mode_stochastic.val() {
            self.st_radd.d.next = self.r.val();
        }

        // ---- Stage 2: y + c in the upper half of the sum, then saturate.
        self.radd_ext.inp.next = self.st_radd.q.val();
        self.win_sum.next = self.st_win.q.val() + self.radd_ext.out.val();
        if !self.st_fits.q.val() {
            if self.st_neg.q.val() {
                self.q.next = self.q_min.val();
            } else {
                self.q.next = self.q_max.val();
            }
        } else if !self.st_win.q.val().get_bit(31) && self.win_sum.val().get_bit(31) {
            // y = 0x7FFF rounded up.
            self.q.next = self.q_max.val();
        } else {
            self.q.next = self.win_sum.val().get_bits::<16>(16);
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
