//! The converter at the head of one array column: turns each 48-bit accumulator that leaves
//! the column into its 16-bit word of C (numerics §4), with `r = ra(i) ^ cb(j)` (numerics §5),
//! with `C_in · 2^s` added for an accumulating GEMM (numerics §6).

use crate::convert::{Convert, CONVERT_LATENCY, MAX_ACC_WITH_CIN};
use rust_hdl::prelude::*;

/// Cycles from an accumulator on [`ColumnConvert`]'s `acc` input to its word on `q`: the
/// [`Convert`]'s.
pub const HEAD_LATENCY: usize = CONVERT_LATENCY;

/// One column head: the column word register and a [`Convert`] whose output feeds the column's
/// C bank.
///
/// All results of a column have the same column `j` of C, so its word `cb(j)` is loaded once
/// per tile (`load_cb` high in cycle `t` makes `cb` the column word from `t + 1`), while the
/// row word `ra(i)` comes with each accumulator. An `acc`, `ra` and `cin` present in cycle `t`
/// give `q = convert(x, s, rounding, ra ^ cb)` in cycle `t + HEAD_LATENCY`, where
/// `x = acc + (sext(cin) << s)` with `accumulate` (numerics §6, `s >= 0`) and `x = acc`
/// without.
///
/// The converter adds `C_in` after its shift (see [`Convert`]), exactly for
/// `|acc| < `[`MAX_ACC_WITH_CIN`]; a core's sums stay below `2^46` because its K is at most
/// 65,535 and every product is at most `2^30` in magnitude ([`CORE_ACC_BOUND`]). So the
/// accumulator comes straight from the top PE's result register and `C_in` straight from the
/// C bank's output, in the same cycle, into the converter's stage register. Before, a 48-bit
/// `C_in << s` and a 48-bit add in front of the converter took two more stages and 224 logic
/// cells per column on an iCE40 (the 1x1 device's head: 724 -> 500).
#[derive(LogicBlock)]
pub struct ColumnConvert {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// The accumulator leaving the column (two's complement, 48 bits).
    pub acc: Signal<In, Bits<48>>,
    /// The row word `ra(i)` of that accumulator's row of C.
    pub ra: Signal<In, Bits<16>>,
    /// `C_in` at that accumulator's element (two's complement; used with `accumulate`).
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
    col_word: DFF<Bits<16>>,
    zero16: Constant<Bits<16>>,
}

/// The largest `|acc|` a core's GEMM produces: K <= 65,535 products of at most `2^30`.
pub const CORE_ACC_BOUND: i64 = 65_535 << 30;
const _: () = assert!(CORE_ACC_BOUND < MAX_ACC_WITH_CIN);

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
            col_word: Default::default(),
            zero16: Constant::new(bits(0)),
        }
    }
}

impl ColumnConvert {
    /// This head with its converter's window in DSP multipliers
    /// ([`Convert::with_window_in_dsps`]).
    pub fn with_window_in_dsps(mut self) -> Self {
        self.conv = self.conv.with_window_in_dsps();
        self
    }
}

impl Logic for ColumnConvert {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, col_word);
        self.conv.clock.next = self.clock.val();
        if self.load_cb.val() {
            self.col_word.d.next = self.cb.val();
        }
        self.conv.acc.next = self.acc.val();
        self.conv.cin.next = self.zero16.val();
        if self.accumulate.val() {
            self.conv.cin.next = self.cin.val();
        }
        self.conv.shift.next = self.shift.val();
        self.conv.rounding.next = self.rounding.val();
        self.conv.r.next = self.ra.val() ^ self.col_word.q.val();
        self.q.next = self.conv.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qtrain_model::{convert, Rounding};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Drives `(acc, ra, cin, load_cb, cb)` per cycle and returns `q` per cycle.
    fn run(
        uut: &mut ColumnConvert,
        inputs: &[(i64, u16, i16, bool, u16)],
        rng: &mut ChaCha8Rng,
    ) -> Vec<i16> {
        let mut seen = vec![];
        for t in 0..inputs.len() + HEAD_LATENCY {
            // Past the inputs the buses hold junk: it must not matter.
            let (acc, ra, cin, load, cb) = inputs.get(t).copied().unwrap_or_else(|| {
                (
                    rng.gen::<i64>() >> 20,
                    rng.gen(),
                    rng.gen(),
                    false,
                    rng.gen(),
                )
            });
            uut.acc.next = bits((acc as u64) & ((1 << 48) - 1));
            uut.ra.next = bits(u64::from(ra));
            uut.cin.next = bits(u64::from(cin as u16));
            uut.load_cb.next = load;
            uut.cb.next = bits(u64::from(cb));
            assert!(simulate(uut, 100));
            seen.push(uut.q.val().to_u16() as i16);
            clock_cycle!(uut);
        }
        seen
    }

    #[test]
    fn streams_of_results_two_cycles_apart_match_model() {
        // Tiles of 3 results, one every other cycle, as they leave a column of 3 PEs; the column
        // word is loaded in the cycle before each tile's first result and only then. With
        // accumulate, each result's C_in comes in its cycle, and the cycles between the results
        // carry other C_in words, which must not leak into the results.
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
            // Inputs (acc, ra, cin, load_cb, cb) per cycle; expected (cycle, q).
            let mut expected = vec![];
            let mut inputs = vec![];
            for _tile in 0..3 {
                let cb = rng.gen::<u16>();
                inputs.push((0i64, rng.gen::<u16>(), rng.gen::<i16>(), true, cb));
                for row in 0..3 {
                    let acc =
                        rng.gen_range(-CORE_ACC_BOUND..=CORE_ACC_BOUND) >> rng.gen_range(0..40);
                    let ra = rng.gen::<u16>();
                    let cin = rng.gen::<i16>() >> rng.gen_range(0..16);
                    let x = if accumulate {
                        acc + (i64::from(cin) << shift)
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
                        let junk = (
                            rng.gen::<i64>() >> 16,
                            rng.gen(),
                            rng.gen(),
                            false,
                            rng.gen(),
                        );
                        inputs.push(junk);
                    }
                }
            }
            let seen = run(&mut uut, &inputs, &mut rng);
            for &(at, want) in &expected {
                assert_eq!(
                    seen[at], want,
                    "s = {shift}, {rounding}, accumulate {accumulate}, cycle {at}"
                );
            }
        }
    }

    #[test]
    fn accumulate_at_the_core_bound() {
        // The largest sums a core produces, with the largest C_in of either sign at s = 30
        // (where C_in · 2^s is 2^45): saturated, or just in range where the C_in pulls
        // y = acc >> s = +-65,535 back (y = -65,536 just below the bound stays out).
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut uut = ColumnConvert::default();
        uut.connect_all();
        uut.shift.next = bits(30);
        uut.rounding.next = bits(Rounding::Truncate as u64);
        uut.accumulate.next = true;
        let cases = [
            (CORE_ACC_BOUND, i16::MAX),
            (CORE_ACC_BOUND, i16::MIN),
            (-CORE_ACC_BOUND, i16::MAX),
            (-CORE_ACC_BOUND, i16::MIN),
            (CORE_ACC_BOUND - 1, i16::MIN),
            (-CORE_ACC_BOUND - 1, i16::MAX),
        ];
        let inputs: Vec<_> = cases
            .iter()
            .map(|&(acc, cin)| (acc, 0, cin, false, 0))
            .collect();
        let seen = run(&mut uut, &inputs, &mut rng);
        let want: Vec<i16> = cases
            .iter()
            .map(|&(acc, cin)| convert(acc + (i64::from(cin) << 30), 30, Rounding::Truncate, 0))
            .collect();
        assert_eq!(seen[HEAD_LATENCY..], want[..]);
        assert_eq!(want, [32767, 32767, -32768, -32768, 32766, -32768]);
    }
}
