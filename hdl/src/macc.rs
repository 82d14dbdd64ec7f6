//! The MACC processing element of the output-stationary array.

use crate::convert::Convert;
use crate::extend::MulS16;
use rust_hdl::prelude::*;

/// One processing element: signed 16 x 16 multiply, 48-bit wrapping accumulate, conversion
/// of the finished accumulator, and one stage of the column's result shift chain.
///
/// The operands and sidebands arrive from the array's pipeline registers (the array passes
/// `a`/`ra`/`first`/`last` right and `b`/`cb` down, one register per PE), so that the edge PEs
/// have no dangling outputs. Timing, for a beat present on the inputs in cycle `t`:
/// - `acc` holds the sum including that beat from `t + 1` (`first` restarts the sum);
/// - if the beat is `last`, the conversion of `acc` with `r = ra ^ cb` starts in `t + 1`
///   (stage 1) and `result` shows it in `t + 3` (see [`Convert`]);
/// - otherwise `result` takes `chain_in` (the result of the PE below), so finished results
///   move up the column one PE per cycle.
#[derive(LogicBlock, Default)]
pub struct Macc {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Element of op(A) (two's complement).
    pub a: Signal<In, Bits<16>>,
    /// Element of op(B) (two's complement).
    pub b: Signal<In, Bits<16>>,
    /// This beat starts a new dot product (the accumulator restarts from it).
    pub first: Signal<In, Bit>,
    /// This beat ends the dot product: convert it.
    pub last: Signal<In, Bit>,
    /// Row word `ra(i)` (meaningful on the `last` beat).
    pub ra: Signal<In, Bits<16>>,
    /// Column word `cb(j)` (meaningful on the `last` beat).
    pub cb: Signal<In, Bits<16>>,
    /// Conversion shift `s` (6-bit two's complement).
    pub shift: Signal<In, Bits<6>>,
    /// Rounding mode code (see [`Convert`]).
    pub rounding: Signal<In, Bits<2>>,
    /// Result register of the PE below (zero for the bottom row).
    pub chain_in: Signal<In, Bits<16>>,
    /// This PE's result register (the converted word, or one passing through).
    pub result: Signal<Out, Bits<16>>,
    mul: MulS16,
    conv: Convert,
    acc: DFF<Bits<48>>,
    pending: DFF<Bit>,
    converted: DFF<Bit>,
    rword: DFF<Bits<16>>,
    out: DFF<Bits<16>>,
}

impl Logic for Macc {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, acc, pending, converted, rword, out);
        self.conv.clock.next = self.clock.val();
        self.mul.a.next = self.a.val();
        self.mul.b.next = self.b.val();
        if self.first.val() {
            self.acc.d.next = self.mul.p.val();
        } else {
            self.acc.d.next = self.acc.q.val() + self.mul.p.val();
        }
        self.pending.d.next = self.last.val();
        self.converted.d.next = self.pending.q.val();
        self.rword.d.next = self.ra.val() ^ self.cb.val();
        self.conv.acc.next = self.acc.q.val();
        self.conv.shift.next = self.shift.val();
        self.conv.rounding.next = self.rounding.val();
        self.conv.r.next = self.rword.q.val();
        if self.converted.q.val() {
            self.out.d.next = self.conv.q.val();
        } else {
            self.out.d.next = self.chain_in.val();
        }
        self.result.next = self.out.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qtrain_model::{convert, wrap48, Rounding};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn tick(uut: &mut Macc) {
        // Inputs settle before the rising edge, as in a real testbench.
        assert!(simulate(uut, 100));
        uut.clock.next = Clock { clk: true };
        assert!(simulate(uut, 100));
        uut.clock.next = Clock { clk: false };
        assert!(simulate(uut, 100));
    }

    #[test]
    fn back_to_back_dot_products_match_model() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut uut = Macc::default();
        uut.connect_all();
        uut.shift.next = bits(9);
        uut.rounding.next = bits(2);
        uut.chain_in.next = bits(0x5A5A);
        // Dot products of lengths 1, 5, 1 and 3 streamed without gaps, then idle beats.
        struct Beat {
            a: i16,
            b: i16,
            first: bool,
            last: bool,
            ra: u16,
            cb: u16,
        }
        let mut beats = vec![];
        let mut expected = vec![]; // (cycle the result is visible, value)
        for len in [1usize, 5, 1, 3] {
            let (ra, cb) = (rng.gen::<u16>(), rng.gen::<u16>());
            let mut acc = 0i64;
            for k in 0..len {
                let (a, b) = (rng.gen::<i16>(), rng.gen::<i16>());
                acc = wrap48(acc + i64::from(a) * i64::from(b));
                beats.push(Beat {
                    a,
                    b,
                    first: k == 0,
                    last: k == len - 1,
                    ra,
                    cb,
                });
            }
            expected.push((
                beats.len() - 1 + 3,
                convert(acc, 9, Rounding::Stochastic, ra ^ cb),
            ));
        }
        let mut seen = vec![];
        for cycle in 0..beats.len() + 4 {
            let idle = Beat {
                a: 0,
                b: 0,
                first: false,
                last: false,
                ra: 0,
                cb: 0,
            };
            let beat = beats.get(cycle).unwrap_or(&idle);
            uut.a.next = bits(beat.a as u16 as u64);
            uut.b.next = bits(beat.b as u16 as u64);
            uut.first.next = beat.first;
            uut.last.next = beat.last;
            uut.ra.next = bits(beat.ra as u64);
            uut.cb.next = bits(beat.cb as u64);
            assert!(simulate(&mut uut, 100));
            seen.push(uut.result.val().to_u16() as i16);
            tick(&mut uut);
        }
        let result_cycles: Vec<usize> = expected.iter().map(|e| e.0).collect();
        for &(cycle, want) in &expected {
            assert_eq!(seen[cycle], want, "cycle {cycle}");
            // Without a new conversion the register takes the chain input next.
            if cycle + 1 < seen.len() && !result_cycles.contains(&(cycle + 1)) {
                assert_eq!(seen[cycle + 1], 0x5A5A, "cycle {}", cycle + 1);
            }
        }
    }
}
