//! The MACC processing element of the output-stationary array.

use crate::extend::{MulS16, SignExtend};
use rust_hdl::prelude::*;

/// Cycles from a `last` beat on [`Macc`]'s inputs to the result register that holds its
/// finished sum: the product register, the accumulate, then the result register.
pub const MACC_LATENCY: usize = 3;

/// One processing element: signed 16 x 16 multiply, 48-bit wrapping accumulate, and one
/// stage of the column's result chain, which carries finished 48-bit accumulators up to the
/// column head (where [`crate::column_convert::ColumnConvert`] rounds them).
///
/// The operands and sidebands arrive from the array's pipeline registers (the array passes
/// `a`/`first`/`last` right and `b` down, one register per PE), so that the edge PEs have no
/// dangling outputs. The product is registered (with its `first`/`last` flags) before the
/// accumulate, so the multiplier and the 48-bit adder sit in different cycles (the DSP's own
/// output register on an FPGA). Timing, for a beat present on the inputs in cycle `t`
/// ([`MACC_LATENCY`] = 3):
/// - the accumulator holds the sum including that beat in `t + 2` (`first` restarts the
///   sum, so the next dot product may start in `t + 1` and overwrite it in `t + 3`);
/// - if the beat is `last`, `result` shows the finished sum (wrapped to 48 bits) in `t + 3`,
///   copied from the accumulator in its one cycle there;
/// - otherwise `result` takes `chain_in` (the result of the PE below), so finished sums
///   move up the column one PE per cycle.
///
/// The result register copies the accumulator rather than the adder's output (which would
/// save the cycle) because on an iCE40 a logic cell's flip-flop can only take a LUT output
/// that feeds nothing else: an adder feeding both registers leaves the 48 accumulator
/// flip-flops in logic cells of their own, 48 cells per PE (docs/performance.md).
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
    /// This beat ends the dot product: its sum goes to the result register.
    pub last: Signal<In, Bit>,
    /// Result register of the PE below (zero for the bottom row).
    pub chain_in: Signal<In, Bits<48>>,
    /// This PE's result register (its finished sum, or one passing through).
    pub result: Signal<Out, Bits<48>>,
    mul: MulS16,
    // |a · b| <= 2^30: 32 bits hold every product.
    prod: DFF<Bits<32>>,
    prod_first: DFF<Bit>,
    prod_last: DFF<Bit>,
    // The accumulator holds a finished sum this cycle.
    acc_last: DFF<Bit>,
    prod_ext: SignExtend<32, 48>,
    sum: Signal<Local, Bits<48>>,
    acc: DFF<Bits<48>>,
    out: DFF<Bits<48>>,
}

impl Logic for Macc {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, prod, prod_first, prod_last, acc_last, acc, out);
        self.mul.a.next = self.a.val();
        self.mul.b.next = self.b.val();
        self.prod.d.next = self.mul.p.val().get_bits::<32>(0);
        self.prod_first.d.next = self.first.val();
        self.prod_last.d.next = self.last.val();
        self.prod_ext.inp.next = self.prod.q.val();
        if self.prod_first.q.val() {
            self.sum.next = self.prod_ext.out.val();
        } else {
            self.sum.next = self.acc.q.val() + self.prod_ext.out.val();
        }
        self.acc.d.next = self.sum.val();
        self.acc_last.d.next = self.prod_last.q.val();
        if self.acc_last.q.val() {
            self.out.d.next = self.acc.q.val();
        } else {
            self.out.d.next = self.chain_in.val();
        }
        self.result.next = self.out.q.val();
    }
}

/// The 48-bit two's-complement encoding of `x` (which must fit 48 bits), for test benches.
pub fn bits48(x: i64) -> Bits<48> {
    bits((x as u64) & ((1u64 << 48) - 1))
}

/// The value of a 48-bit two's-complement signal, for test benches.
pub fn value48(x: Bits<48>) -> i64 {
    ((x.to_u64() << 16) as i64) >> 16
}

#[cfg(test)]
mod tests {
    use super::*;
    use qtrain_model::wrap48;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn back_to_back_dot_products_match_model() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut uut = Macc::default();
        uut.connect_all();
        let chain = -0x1234_5678_9ABC_i64;
        uut.chain_in.next = bits48(chain);
        // Dot products of lengths 1, 5, 1 and 3 streamed without gaps, then idle beats.
        let mut beats = vec![]; // (a, b, first, last)
        let mut expected = vec![]; // (cycle the result is visible, value)
        for len in [1usize, 5, 1, 3] {
            let mut acc = 0i64;
            for k in 0..len {
                let (a, b) = (rng.gen::<i16>(), rng.gen::<i16>());
                acc = wrap48(acc + i64::from(a) * i64::from(b));
                beats.push((a, b, k == 0, k == len - 1));
            }
            expected.push((beats.len() - 1 + MACC_LATENCY, acc));
        }
        let mut seen = vec![];
        for cycle in 0..beats.len() + 3 {
            let (a, b, first, last) = beats.get(cycle).copied().unwrap_or((0, 0, false, false));
            uut.a.next = bits(u64::from(a as u16));
            uut.b.next = bits(u64::from(b as u16));
            uut.first.next = first;
            uut.last.next = last;
            assert!(simulate(&mut uut, 100));
            seen.push(value48(uut.result.val()));
            clock_cycle!(&mut uut);
        }
        let result_cycles: Vec<usize> = expected.iter().map(|e| e.0).collect();
        for &(cycle, want) in &expected {
            assert_eq!(seen[cycle], want, "cycle {cycle}");
            // Without a new result the register takes the chain input next.
            if cycle + 1 < seen.len() && !result_cycles.contains(&(cycle + 1)) {
                assert_eq!(seen[cycle + 1], chain, "cycle {}", cycle + 1);
            }
        }
    }

    #[test]
    fn sums_wrap_at_48_bits() {
        let mut uut = Macc::default();
        uut.connect_all();
        uut.chain_in.next = bits48(0);
        // 2^17 + 5 products of (-32768)^2 = 2^30 each: 2^47 + 5·2^30, which wraps.
        let len = (1usize << 17) + 5;
        uut.a.next = bits(0x8000);
        uut.b.next = bits(0x8000);
        for k in 0..len {
            uut.first.next = k == 0;
            uut.last.next = k == len - 1;
            clock_cycle!(&mut uut);
        }
        uut.last.next = false;
        for _ in 1..MACC_LATENCY {
            clock_cycle!(&mut uut);
        }
        let want = wrap48((len as i64) << 30);
        assert!(want < 0, "the test must overflow");
        assert_eq!(value48(uut.result.val()), want);
    }
}
