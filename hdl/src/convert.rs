//! The conversion of a 48-bit accumulator to a 16-bit word (numerics §4), two stages.

use crate::dsp_window::DspWindow;
use crate::extend::{SignExtend, ZeroExtend};
use rust_hdl::prelude::*;

/// Rounding-mode code for nearest (ties towards +inf) on the `rounding` input.
pub const ROUND_NEAREST: u64 = 1;
/// Rounding-mode code for stochastic rounding; 0 is truncate (and 3 behaves as truncate).
pub const ROUND_STOCHASTIC: u64 = 2;

/// Cycles from `Convert`'s inputs to its output.
pub const CONVERT_LATENCY: usize = 1;

/// Converts `acc + cin · 2^s` with shift `s` (6-bit two's complement, -15..=30), the rounding
/// mode and the random word `r` into the saturated 16-bit `q` (numerics §4, and §6 for `cin`).
///
/// Two stages, latency [`CONVERT_LATENCY`] = 1: the inputs of cycle `t` give `q` in cycle
/// `t + 1` (`q` is combinational from the stage register).
///
/// The numerics' `sat16((x + u) >> s)` is computed without a 48-bit sum. With `y = x >> s`
/// and `f = x mod 2^s`, `(x + u) >> s = y + c` where the carry `c = [f + u >= 2^s]` (every
/// `u` is below `2^s`). Writing `g` for the top 16 bits of the `s`-bit fraction
/// (`floor(f · 2^16 / 2^s)`), `c = [g + r' >= 2^16]` with `r' = r` (stochastic), `0x8000`
/// (nearest) or 0 (truncate): `u` and `g` are aligned to the same bits and everything below
/// them is a multiple of the other's step, so it cannot carry on its own. For `s <= 0` the
/// same rule holds with `y = x << -s` and `g = 0`.
///
/// `C_in` is added after the shift, not before it: `cin · 2^s` has no bits below `2^s`, so
/// `(acc + cin · 2^s) >> s = (acc >> s) + cin` and the fraction is `acc`'s. This is the
/// numerics' `wrap_48(acc + cin · 2^s)` whenever that sum does not wrap, which needs
/// `|acc| < 3 · 2^45` ([`MAX_ACC_WITH_CIN`]; every GEMM of the core has `|acc| < 2^46`, see
/// there). Then `y = acc >> s`: if it does not fit 17 bits, neither `y + cin + c` nor the
/// result fits 16 and the sign of `acc` decides; if it does, the 34-bit sum
/// `{y[16:0], g} + {sext(cin), r'}` holds `y + cin + c` exactly in its upper 18 bits, which
/// saturate to 16.
///
/// Stage 1 selects the 33-bit window `{y[16:0], g}` of `acc` (one 64-bit right shift, or a
/// 17-bit left shift for `s < 0`), tests with a mask that `y` fits 17 bits, and registers
/// `cin` and `r'`; stage 2 adds on 34 bits and saturates. `C_in` costs one 16-bit register
/// and two bits of the adder, where a 48-bit `cin << s` and a 48-bit add would cost 150
/// logic cells per column on an iCE40.
#[derive(LogicBlock)]
pub struct Convert {
    /// Clock (for the register between the two stages).
    pub clock: Signal<In, Clock>,
    /// The accumulator (two's complement, 48 bits). With a non-zero `cin`,
    /// `|acc| < `[`MAX_ACC_WITH_CIN`].
    pub acc: Signal<In, Bits<48>>,
    /// `C_in` (two's complement), added as `cin · 2^s` (0 when not accumulating; a non-zero
    /// `cin` needs `s >= 0`, numerics §6).
    pub cin: Signal<In, Bits<16>>,
    /// `s = FL_A + FL_B - FL_C`, two's complement on 6 bits.
    pub shift: Signal<In, Bits<6>>,
    /// 0 truncate, 1 nearest, 2 stochastic (3 = truncate).
    pub rounding: Signal<In, Bits<2>>,
    /// The random word for stochastic rounding.
    pub r: Signal<In, Bits<16>>,
    /// The converted, saturated word (two's complement) of the previous cycle's inputs.
    pub q: Signal<Out, Bits<16>>,
    acc_ext: ZeroExtend<48, 79>,
    dsp_window: DspWindow,
    // Take the window from `dsp_window` (three multipliers) instead of the shifter; a
    // construction constant, so synthesis keeps only one of the two.
    window_in_dsps: Constant<Bit>,
    win_ext: SignExtend<33, 34>,
    cin_ext: SignExtend<16, 34>,
    radd_ext: ZeroExtend<16, 34>,
    zero48: Constant<Bits<48>>,
    ones48: Constant<Bits<48>>,
    fifteen6: Constant<Bits<6>>,
    thirtyone7: Constant<Bits<7>>,
    sixteen6: Constant<Bits<6>>,
    zero16: Constant<Bits<16>>,
    half16: Constant<Bits<16>>,
    q_max: Constant<Bits<16>>,
    q_min: Constant<Bits<16>>,
    zero2: Constant<Bits<2>>,
    three2: Constant<Bits<2>>,
    mode_nearest: Constant<Bits<2>>,
    mode_stochastic: Constant<Bits<2>>,
    // {acc, 16 zero bits}: window bit i is bit s + i of it.
    padded: Signal<Local, Bits<79>>,
    win_src: Signal<Local, Bits<79>>,
    amount: Signal<Local, Bits<6>>,
    // Bits at or above s + 16 (those that must all equal the sign for y to fit 17 bits).
    mask: Signal<Local, Bits<48>>,
    sign_fill: Signal<Local, Bits<48>>,
    win_sum: Signal<Local, Bits<34>>,
    // Bits 17..15 of y + cin + c (sum bits 33..31): it fits 16 bits when they are equal.
    total: Signal<Local, Bits<3>>,
    // Stage register.
    st_win: DFF<Bits<33>>,
    st_radd: DFF<Bits<16>>,
    st_cin: DFF<Bits<16>>,
    st_fits: DFF<Bit>,
    st_neg: DFF<Bit>,
}

/// The largest `|acc|` that [`Convert`] takes with a non-zero `cin`: below it,
/// `acc + cin · 2^s` (at most `2^45` in magnitude) does not wrap 48 bits.
pub const MAX_ACC_WITH_CIN: i64 = 3 << 45;

impl Default for Convert {
    fn default() -> Self {
        let ones48 = (1u64 << 48) - 1;
        Convert {
            clock: Default::default(),
            acc: Default::default(),
            cin: Default::default(),
            shift: Default::default(),
            rounding: Default::default(),
            r: Default::default(),
            q: Default::default(),
            acc_ext: Default::default(),
            dsp_window: Default::default(),
            window_in_dsps: Constant::new(false),
            win_ext: Default::default(),
            cin_ext: Default::default(),
            radd_ext: Default::default(),
            zero48: Constant::new(bits(0)),
            ones48: Constant::new(bits(ones48)),
            fifteen6: Constant::new(bits(15)),
            thirtyone7: Constant::new(bits(31)),
            sixteen6: Constant::new(bits(16)),
            zero16: Constant::new(bits(0)),
            half16: Constant::new(bits(0x8000)),
            q_max: Constant::new(bits(0x7FFF)),
            q_min: Constant::new(bits(0x8000)),
            zero2: Constant::new(bits(0)),
            three2: Constant::new(bits(3)),
            mode_nearest: Constant::new(bits(ROUND_NEAREST)),
            mode_stochastic: Constant::new(bits(ROUND_STOCHASTIC)),
            padded: Default::default(),
            win_src: Default::default(),
            amount: Default::default(),
            mask: Default::default(),
            sign_fill: Default::default(),
            win_sum: Default::default(),
            total: Default::default(),
            st_win: Default::default(),
            st_radd: Default::default(),
            st_cin: Default::default(),
            st_fits: Default::default(),
            st_neg: Default::default(),
        }
    }
}

impl Convert {
    /// The same converter with its window taken by three 16 x 16 multipliers ([`DspWindow`])
    /// instead of a 79-bit shifter: for boards with DSP blocks to spare and few logic cells.
    pub fn with_window_in_dsps(mut self) -> Self {
        self.window_in_dsps = Constant::new(true);
        self
    }
}

impl Logic for Convert {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, st_win, st_radd, st_cin, st_fits, st_neg);
        // ---- Stage 1: the window {y[16:0], g}, the range test, cin and r'.
        // Window bit i is bit s + 15 + i of {acc, 31 zero bits}: one right shift by
        // s + 15 = 0..=45 covers the left shifts (s < 0) too.
        self.acc_ext.inp.next = self.acc.val();
        self.padded.next = self.acc_ext.out.val() << self.thirtyone7.val();
        self.amount.next = self.shift.val() + self.fifteen6.val();
        self.win_src.next = self.padded.val() >> self.amount.val();
        self.dsp_window.acc.next = self.acc.val();
        self.dsp_window.shift.next = self.shift.val();
        self.st_win.d.next = self.win_src.val().get_bits::<33>(0);
        if self.window_in_dsps.val() {
            self.st_win.d.next = self.dsp_window.win.val();
        }
        self.mask.next = self.ones48.val() << (self.shift.val() + self.sixteen6.val());
        self.sign_fill.next = self.zero48.val();
        if self.acc.val().get_bit(47) {
            self.sign_fill.next = self.ones48.val();
        }
        self.st_fits.d.next =
            ((self.acc.val() ^ self.sign_fill.val()) & self.mask.val()) == self.zero48.val();
        self.st_neg.d.next = self.acc.val().get_bit(47);
        self.st_cin.d.next = self.cin.val();
        self.st_radd.d.next = self.zero16.val();
        if self.rounding.val() == self.mode_nearest.val() {
            self.st_radd.d.next = self.half16.val();
        }
        if self.rounding.val() == self.mode_stochastic.val() {
            self.st_radd.d.next = self.r.val();
        }

        // ---- Stage 2: y + cin + c in the upper 18 bits of the sum, then saturate.
        self.win_ext.inp.next = self.st_win.q.val();
        self.cin_ext.inp.next = self.st_cin.q.val();
        self.radd_ext.inp.next = self.st_radd.q.val();
        self.win_sum.next = self.win_ext.out.val()
            + ((self.cin_ext.out.val() << self.sixteen6.val()) | self.radd_ext.out.val());
        self.total.next = self.win_sum.val().get_bits::<3>(31);
        if !self.st_fits.q.val() {
            if self.st_neg.q.val() {
                self.q.next = self.q_min.val();
            } else {
                self.q.next = self.q_max.val();
            }
        } else if self.total.val().get_bit(2) {
            // Negative: it fits 16 bits unless bits 17..15 are not all ones.
            if self.total.val().get_bits::<2>(0) == self.three2.val() {
                self.q.next = self.win_sum.val().get_bits::<16>(16);
            } else {
                self.q.next = self.q_min.val();
            }
        } else if self.total.val().get_bits::<2>(0) == self.zero2.val() {
            self.q.next = self.win_sum.val().get_bits::<16>(16);
        } else {
            self.q.next = self.q_max.val();
        }
    }
}
/// Drives a connected [`Convert`] in rust-hdl's simulator for one clock and returns its output
/// for `acc + cin · 2^shift` (simulation helper for tests).
pub fn simulate_convert(
    uut: &mut Convert,
    acc: i64,
    cin: i16,
    shift: i32,
    rounding: u8,
    r: u16,
) -> i16 {
    uut.acc.next = bits((acc as u64) & ((1u64 << 48) - 1));
    uut.cin.next = bits(u64::from(cin as u16));
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
    use qtrain_model::{convert, wrap48, Rounding};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn edge_cases_match_model() {
        for mut uut in [Convert::default(), Convert::default().with_window_in_dsps()] {
            uut.connect_all();
            edge_cases_of(&mut uut);
        }
    }

    fn edge_cases_of(uut: &mut Convert) {
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
                        let got = simulate_convert(uut, acc, 0, shift, code, r);
                        let want = convert(acc, shift, mode, r);
                        assert_eq!(got, want, "acc={acc} s={shift} mode={code} r={r:#x}");
                    }
                }
            }
        }
    }

    #[test]
    fn cin_added_after_the_shift_matches_model() {
        for mut uut in [Convert::default(), Convert::default().with_window_in_dsps()] {
            uut.connect_all();
            cin_cases_of(&mut uut);
        }
    }

    fn cin_cases_of(uut: &mut Convert) {
        // Every shift C_in may use (s >= 0), accumulators up to MAX_ACC_WITH_CIN in
        // magnitude and at the edges where y + cin crosses the 16- and 17-bit ranges.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut saturated, mut near_edge) = (0, 0);
        for _ in 0..20_000 {
            let shift = rng.gen_range(0..=30);
            let cin = match rng.gen_range(0..4) {
                0 => i16::MAX,
                1 => i16::MIN,
                _ => rng.gen::<i16>() >> rng.gen_range(0..16),
            };
            let acc = match rng.gen_range(0..4) {
                0 => rng.gen_range(1 - MAX_ACC_WITH_CIN..MAX_ACC_WITH_CIN),
                // y + cin near +-2^15 (the 16-bit edge), or y = acc >> s near +-2^16 (the
                // edge of the 17-bit test).
                1 | 2 => {
                    let y = if rng.gen() {
                        [32767i64, -32768][rng.gen_range(0..2)] - i64::from(cin)
                    } else {
                        [65535i64, -65536][rng.gen_range(0..2)]
                    } + rng.gen_range(-2..=2);
                    (y << shift) + rng.gen_range(0..1i64 << shift)
                }
                _ => {
                    let small = (1i64 << (shift + 17)).min(MAX_ACC_WITH_CIN);
                    rng.gen_range(1 - small..small)
                }
            };
            assert!(acc.abs() < MAX_ACC_WITH_CIN);
            let (code, mode) = [
                (0, Rounding::Truncate),
                (1, Rounding::Nearest),
                (2, Rounding::Stochastic),
            ][rng.gen_range(0..3)];
            let r = rng.gen::<u16>();
            let want = convert(wrap48(acc + (i64::from(cin) << shift)), shift, mode, r);
            let got = simulate_convert(uut, acc, cin, shift, code, r);
            assert_eq!(
                got, want,
                "acc={acc} cin={cin} s={shift} mode={code} r={r:#x}"
            );
            saturated += usize::from(want == i16::MAX || want == i16::MIN);
            let y = (acc >> shift) + i64::from(cin);
            near_edge += usize::from((y.abs() - 32768).abs() <= 2);
        }
        assert!(
            saturated > 2000 && near_edge > 2000,
            "{saturated} {near_edge}"
        );
    }
}
