//! The converter at the head of one array column: turns each 48-bit accumulator that leaves
//! the column into its 16-bit word of C (numerics §4), with `r = ra(i) ^ cb(j)` (numerics §5),
//! after adding `C_in · 2^s` for an accumulating GEMM (numerics §6).

use crate::convert::{Convert, CONVERT_LATENCY};
use crate::extend::SignExtend;
use rust_hdl::prelude::*;

/// Cycles from an accumulator on [`ColumnConvert`]'s `acc` input to its word on `q`: the
/// accumulate stage, then the [`Convert`].
pub const HEAD_LATENCY: usize = CONVERT_LATENCY + 1;

/// Cycles by which an accumulator's `C_in` on the `cin` input leads the accumulator on `acc`:
/// the input register and the shift stage.
pub const CIN_LEAD: usize = 2;

/// One column head: the column word register, the `C_in` stages, the accumulate stage, and a
/// [`Convert`] whose output feeds the column's C bank.
///
/// All results of a column have the same column `j` of C, so its word `cb(j)` is loaded once
/// per tile (`load_cb` high in cycle `t` makes `cb` the column word from `t + 1`), while the
/// row word `ra(i)` comes with each accumulator. An `acc` and `ra` present in cycle `t`, with
/// `cin` present in cycle `t - CIN_LEAD`, give `q = convert(x, s, rounding, ra ^ cb)` in cycle
/// `t + HEAD_LATENCY`, where `x = wrap48(acc + (sext(cin) << s))` with `accumulate`
/// (numerics §6, `s >= 0`) and `x = acc` without.
///
/// `C_in` goes through two stages ahead of its accumulator, one operation each: the input
/// register (`cin` comes straight from a block RAM's output, whose clock-to-out is 5.8 ns on an
/// ECP5 DP16KD) and the shift stage (`sext(cin) << s`, or 0 without `accumulate`). The
/// accumulator, which comes from the top PE's result register, then meets it in the
/// accumulate stage (the 48-bit add alone, registering `x` in front of the converter); `q`
/// comes straight from the converter's second stage. Block RAM, shift and add in one stage
/// were the core's critical path on the ECP5-85F (62 MHz); shift and add in one stage, the
/// iCE40's (27.9 MHz for an 8x1 core on the UP5K); block RAM and shift in one stage, the
/// ECP5's again (76.5 MHz for the 4x4 core). Reading `C_in` early (the drain issues its read
/// [`CIN_LEAD`] cycles before the sum arrives) instead of delaying the sum to meet it saves two
/// 48-bit and two 16-bit registers per column: 128 logic cells on an iCE40, where a register
/// fed straight by another register takes a logic cell of its own.
#[derive(LogicBlock)]
pub struct ColumnConvert {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// The accumulator leaving the column (two's complement, 48 bits).
    pub acc: Signal<In, Bits<48>>,
    /// The row word `ra(i)` of that accumulator's row of C.
    pub ra: Signal<In, Bits<16>>,
    /// `C_in` at the element of the accumulator that arrives [`CIN_LEAD`] cycles later (two's
    /// complement; used with `accumulate`).
    pub cin: Signal<In, Bits<16>>,
    /// Add `C_in · 2^s` to every accumulator (held for the whole GEMM; needs `s >= 0`).
    pub accumulate: Signal<In, Bit>,
    /// Load `cb` as the column word (once per tile, before its first accumulator).
    pub load_cb: Signal<In, Bit>,
    /// The column word `cb(j)`, taken when `load_cb` is high.
    pub cb: Signal<In, Bits<16>>,
    /// Conversion shift `s` (6-bit two's complement).
    pub shift: Signal<In, Bits<6>>,
    /// Rounding mode code (see [`Convert`]).
    pub rounding: Signal<In, Bits<2>>,
    /// The converted word (two's complement).
    pub q: Signal<Out, Bits<16>>,
    conv: Convert,
    cin_ext: SignExtend<16, 48>,
    col_word: DFF<Bits<16>>,
    in_cin: DFF<Bits<16>>,
    // The shift stage: sext(cin) << s with accumulate, else 0.
    sh_cin: DFF<Bits<48>>,
    sum: DFF<Bits<48>>,
    r: DFF<Bits<16>>,
    zero48: Constant<Bits<48>>,
}

impl Default for ColumnConvert {
    fn default() -> Self {
        ColumnConvert {
            clock: Default::default(),
            acc: Default::default(),
            ra: Default::default(),
            cin: Default::default(),
            accumulate: Default::default(),
            load_cb: Default::default(),
            cb: Default::default(),
            shift: Default::default(),
            rounding: Default::default(),
            q: Default::default(),
            conv: Default::default(),
            cin_ext: Default::default(),
            col_word: Default::default(),
            in_cin: Default::default(),
            sh_cin: Default::default(),
            sum: Default::default(),
            r: Default::default(),
            zero48: Constant::new(bits(0)),
        }
    }
}

impl Logic for ColumnConvert {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, col_word, in_cin, sh_cin, sum, r);
        self.conv.clock.next = self.clock.val();
        if self.load_cb.val() {
            self.col_word.d.next = self.cb.val();
        }
        self.in_cin.d.next = self.cin.val();
        self.cin_ext.inp.next = self.in_cin.q.val();
        self.sh_cin.d.next = self.zero48.val();
        if self.accumulate.val() {
            self.sh_cin.d.next = self.cin_ext.out.val() << self.shift.val();
        }
        // The 48-bit sum wraps exactly like the model's accumulator; |C_in · 2^s| < 2^45.
        self.sum.d.next = self.acc.val() + self.sh_cin.q.val();
        self.r.d.next = self.ra.val() ^ self.col_word.q.val();
        self.conv.acc.next = self.sum.q.val();
        self.conv.shift.next = self.shift.val();
        self.conv.rounding.next = self.rounding.val();
        self.conv.r.next = self.r.q.val();
        self.q.next = self.conv.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qtrain_model::{convert, wrap48, Rounding};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn streams_of_results_two_cycles_apart_match_model() {
        // Tiles of 3 results, one every other cycle, as they leave a column of 3 PEs; the column
        // word is loaded in the cycle before each tile's first result and only then. With
        // accumulate, `C_in` comes CIN_LEAD cycles before each result; large accumulators and s = 30 make the
        // 48-bit sum wrap.
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let mut uut = ColumnConvert::default();
        uut.connect_all();
        for (shift, rounding, accumulate) in [
            (9, Rounding::Stochastic, false),
            (20, Rounding::Stochastic, false),
            (-3, Rounding::Nearest, false),
            (16, Rounding::Truncate, false),
            (0, Rounding::Stochastic, true),
            (0, Rounding::Nearest, true),
            (13, Rounding::Stochastic, true),
            (30, Rounding::Nearest, true),
            (30, Rounding::Stochastic, true),
            (22, Rounding::Truncate, true),
        ] {
            uut.shift.next = bits((shift as u64) & 0x3F);
            uut.rounding.next = bits(rounding as u64);
            uut.accumulate.next = accumulate;
            // Inputs (acc, ra, cin, load_cb, cb) per cycle (each `cin` is driven CIN_LEAD
            // cycles before its `acc`); expected (cycle, q).
            let mut expected = vec![];
            // Idle cycles first, for the first result's C_in to lead it.
            let mut inputs = vec![(0i64, 0u16, 0i16, false, 0u16); CIN_LEAD];
            for _tile in 0..3 {
                let cb = rng.gen::<u16>();
                inputs.push((0i64, rng.gen::<u16>(), rng.gen::<i16>(), true, cb));
                for row in 0..3 {
                    let acc = wrap48(rng.gen::<i64>() >> rng.gen_range(0..40));
                    let ra = rng.gen::<u16>();
                    let cin = rng.gen::<i16>() >> rng.gen_range(0..16);
                    let x = if accumulate {
                        wrap48(acc + (i64::from(cin) << shift))
                    } else {
                        acc
                    };
                    // The column word input changes after the load: it must be ignored.
                    inputs.push((acc, ra, cin, false, rng.gen()));
                    expected.push((
                        inputs.len() - 1 + HEAD_LATENCY,
                        convert(x, shift, rounding, ra ^ cb),
                    ));
                    if row < 2 {
                        inputs.push((
                            rng.gen::<i64>() >> 16,
                            rng.gen(),
                            rng.gen(),
                            false,
                            rng.gen(),
                        ));
                    }
                }
            }
            let mut seen = vec![];
            for t in 0..inputs.len() + HEAD_LATENCY {
                let (acc, ra, _, load, cbin) = inputs.get(t).copied().unwrap_or_default();
                let cin = inputs.get(t + CIN_LEAD).map_or(rng.gen(), |i| i.2);
                uut.acc.next = bits((acc as u64) & ((1 << 48) - 1));
                uut.ra.next = bits(u64::from(ra));
                uut.cin.next = bits(u64::from(cin as u16));
                uut.load_cb.next = load;
                uut.cb.next = bits(u64::from(cbin));
                assert!(simulate(&mut uut, 100));
                seen.push(uut.q.val().to_u16() as i16);
                clock_cycle!(&mut uut);
            }
            for &(at, want) in &expected {
                assert_eq!(
                    seen[at], want,
                    "s = {shift}, {rounding}, accumulate {accumulate}, cycle {at}"
                );
            }
        }
    }

    #[test]
    fn accumulate_wraps_the_sum_at_48_bits() {
        // acc at the top of the 48-bit range plus a positive C_in · 2^30 wraps to a large
        // negative sum, which saturates low; the unwrapped sum would saturate high.
        let mut uut = ColumnConvert::default();
        uut.connect_all();
        uut.shift.next = bits(30);
        uut.rounding.next = bits(Rounding::Truncate as u64);
        uut.accumulate.next = true;
        let acc = (1i64 << 47) - 1;
        let cin = i16::MAX;
        uut.acc.next = bits(acc as u64);
        uut.cin.next = bits(cin as u64);
        for _ in 0..=CIN_LEAD + HEAD_LATENCY {
            assert!(simulate(&mut uut, 100));
            clock_cycle!(&mut uut);
        }
        let want = convert(
            wrap48(acc + (i64::from(cin) << 30)),
            30,
            Rounding::Truncate,
            0,
        );
        assert_eq!(want, i16::MIN);
        assert_eq!(uut.q.val().to_u16() as i16, want);
    }
}
