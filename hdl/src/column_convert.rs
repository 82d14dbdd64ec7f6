//! The converter at the head of one array column: turns each 48-bit accumulator that leaves
//! the column into its 16-bit word of C (numerics §4), with `r = ra(i) ^ cb(j)` (numerics §5).

use crate::convert::{Convert, CONVERT_LATENCY};
use rust_hdl::prelude::*;

/// Cycles from an accumulator on [`ColumnConvert`]'s `acc` input to its word on `q`.
pub const HEAD_LATENCY: usize = CONVERT_LATENCY + 1;

/// One column head: the column word register, the random word `ra ^ cb`, a [`Convert`] and
/// the output register that feeds the column's C bank.
///
/// All results of a column have the same column `j` of C, so its word `cb(j)` is loaded once
/// per tile (`load_cb` high in cycle `t` makes `cb` the column word from `t + 1`), while the
/// row word `ra(i)` comes with each accumulator. An `acc` and `ra` present in cycle `t` give
/// `q = convert(acc, s, rounding, ra ^ cb)` in cycle `t + HEAD_LATENCY`.
///
/// This is the one place where a column's results are rounded, which is also where an
/// accumulating GEMM would add `C_in · 2^s` (read from the same column's C bank) to `acc`.
#[derive(LogicBlock, Default)]
pub struct ColumnConvert {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// The accumulator leaving the column (two's complement, 48 bits).
    pub acc: Signal<In, Bits<48>>,
    /// The row word `ra(i)` of that accumulator's row of C.
    pub ra: Signal<In, Bits<16>>,
    /// Load `cb` as the column word (once per tile, before its first accumulator).
    pub load_cb: Signal<In, Bit>,
    /// The column word `cb(j)`, taken when `load_cb` is high.
    pub cb: Signal<In, Bits<16>>,
    /// Conversion shift `s` (6-bit two's complement).
    pub shift: Signal<In, Bits<6>>,
    /// Rounding mode code (see [`Convert`]).
    pub rounding: Signal<In, Bits<2>>,
    /// The converted word (two's complement), registered.
    pub q: Signal<Out, Bits<16>>,
    conv: Convert,
    col_word: DFF<Bits<16>>,
    out: DFF<Bits<16>>,
}

impl Logic for ColumnConvert {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, col_word, out);
        self.conv.clock.next = self.clock.val();
        if self.load_cb.val() {
            self.col_word.d.next = self.cb.val();
        }
        self.conv.acc.next = self.acc.val();
        self.conv.shift.next = self.shift.val();
        self.conv.rounding.next = self.rounding.val();
        self.conv.r.next = self.ra.val() ^ self.col_word.q.val();
        self.out.d.next = self.conv.q.val();
        self.q.next = self.out.q.val();
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
        // word is loaded in the cycle before each tile's first result and only then.
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let mut uut = ColumnConvert::default();
        uut.connect_all();
        for (shift, rounding) in [
            (9, Rounding::Stochastic),
            (20, Rounding::Stochastic),
            (-3, Rounding::Nearest),
            (16, Rounding::Truncate),
        ] {
            uut.shift.next = bits((shift as u64) & 0x3F);
            uut.rounding.next = bits(rounding as u64);
            // Inputs (acc, ra, load_cb, cb) per cycle; expected (cycle, q).
            let mut expected = vec![];
            let mut seen = vec![];
            for _tile in 0..3 {
                let cb = rng.gen::<u16>();
                let mut inputs = vec![(0i64, rng.gen::<u16>(), true, cb)];
                for row in 0..3 {
                    let acc = wrap48(rng.gen::<i64>() >> rng.gen_range(0..40));
                    let ra = rng.gen::<u16>();
                    // The column word input changes after the load: it must be ignored.
                    inputs.push((acc, ra, false, rng.gen()));
                    expected.push((
                        seen.len() + inputs.len() - 1 + HEAD_LATENCY,
                        convert(acc, shift, rounding, ra ^ cb),
                    ));
                    if row < 2 {
                        inputs.push((rng.gen::<i64>() >> 16, rng.gen(), false, rng.gen()));
                    }
                }
                for (acc, ra, load, cbin) in inputs {
                    uut.acc.next = bits((acc as u64) & ((1 << 48) - 1));
                    uut.ra.next = bits(u64::from(ra));
                    uut.load_cb.next = load;
                    uut.cb.next = bits(u64::from(cbin));
                    assert!(simulate(&mut uut, 100));
                    seen.push(uut.q.val().to_u16() as i16);
                    clock_cycle!(&mut uut);
                }
            }
            for _ in 0..HEAD_LATENCY {
                uut.load_cb.next = false;
                assert!(simulate(&mut uut, 100));
                seen.push(uut.q.val().to_u16() as i16);
                clock_cycle!(&mut uut);
            }
            for &(at, want) in &expected {
                assert_eq!(seen[at], want, "s = {shift}, {rounding}, cycle {at}");
            }
        }
    }
}
