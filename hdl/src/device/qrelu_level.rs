//! The quantized ReLU of one raw value (numerics §7.3) by a sequential restoring division.

use crate::extend::ZeroExtend;
use rust_hdl::prelude::*;

/// `y = sat16(min(L, ceil(x / α)) · α)` (0 for `x <= 0`) and `pass = 0 < x <= L·α`, with
/// `L = 2^bits - 1`, computed one quotient bit per clock.
///
/// For `x > 0`, `ceil(x / α) = q + 1` with `q = floor((x - 1) / α)`. Restoring division of
/// `x - 1` by `α` over only the low `bits` quotient bits yields `a = min(L, q)` (the greedy
/// choice of bits maximizes `a` subject to `a · α <= x - 1`, a downward-closed condition) and
/// the remainder `rem = x - 1 - a · α`. Then
/// - `a < L`: `q = a`, the level is `a + 1` and `y = (x - 1 - rem) + α`, `pass` is true;
/// - `a = L`: `q >= L`, the level is `L` and `y = L · α = x - 1 - rem`, `pass` is false
///   (`x > L · α` exactly when `q >= L`).
///
/// No multiplier is needed, and `y` before saturation is below `2^16`.
///
/// `start` (one cycle, with `x`, `alpha`, `bits` valid in that cycle) begins a division;
/// `done` is high `bits + 1` cycles later, for one cycle, and `y` and `pass` are valid from
/// then until the next `start`. `alpha` must be positive and `bits` in `1..=8`.
#[derive(LogicBlock)]
pub struct QreluLevel {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Begin a division of `x` (sampled at the next edge).
    pub start: Signal<In, Bit>,
    /// The input (two's complement).
    pub x: Signal<In, Bits<16>>,
    /// The step `α` (raw, positive).
    pub alpha: Signal<In, Bits<16>>,
    /// Levels are `2^bits - 1`, `1..=8`.
    pub bits: Signal<In, Bits<4>>,
    /// The result is ready this cycle.
    pub done: Signal<Out, Bit>,
    /// `qrelu(x)`.
    pub y: Signal<Out, Bits<16>>,
    /// `0 < x <= L · α` (the straight-through mask).
    pub pass: Signal<Out, Bit>,
    xm1_ext: ZeroExtend<16, 24>,
    alpha_ext: ZeroExtend<16, 24>,
    // The partial remainder and the current multiple `α · 2^b` of the divisor.
    rem: DFF<Bits<24>>,
    divisor: DFF<Bits<24>>,
    // One-hot: the quotient bit decided next; 0 once all are decided.
    qbit: DFF<Bits<8>>,
    quo: DFF<Bits<8>>,
    levels: DFF<Bits<8>>,
    xm1: DFF<Bits<16>>,
    alpha_r: DFF<Bits<16>>,
    positive: DFF<Bit>,
    running: DFF<Bit>,
    at_top: Signal<Local, Bit>,
    y_pre: Signal<Local, Bits<16>>,
    one4: Constant<Bits<4>>,
    eight4: Constant<Bits<4>>,
    zero8: Constant<Bits<8>>,
    one8: Constant<Bits<8>>,
    ones8: Constant<Bits<8>>,
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    max16: Constant<Bits<16>>,
}

impl Default for QreluLevel {
    fn default() -> Self {
        QreluLevel {
            clock: Default::default(),
            start: Default::default(),
            x: Default::default(),
            alpha: Default::default(),
            bits: Default::default(),
            done: Default::default(),
            y: Default::default(),
            pass: Default::default(),
            xm1_ext: Default::default(),
            alpha_ext: Default::default(),
            rem: Default::default(),
            divisor: Default::default(),
            qbit: Default::default(),
            quo: Default::default(),
            levels: Default::default(),
            xm1: Default::default(),
            alpha_r: Default::default(),
            positive: Default::default(),
            running: Default::default(),
            at_top: Default::default(),
            y_pre: Default::default(),
            one4: Constant::new(bits(1)),
            eight4: Constant::new(bits(8)),
            zero8: Constant::new(bits(0)),
            one8: Constant::new(bits(1)),
            ones8: Constant::new(bits(0xFF)),
            zero16: Constant::new(bits(0)),
            one16: Constant::new(bits(1)),
            max16: Constant::new(bits(0x7FFF)),
        }
    }
}

impl Logic for QreluLevel {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, rem, divisor, qbit, quo, levels, xm1, alpha_r, positive, running);
        self.xm1_ext.inp.next = self.x.val() - self.one16.val();
        self.alpha_ext.inp.next = self.alpha.val();
        if self.start.val() {
            self.rem.d.next = self.xm1_ext.out.val();
            self.divisor.d.next = self.alpha_ext.out.val() << (self.bits.val() - self.one4.val());
            self.qbit.d.next = self.one8.val() << (self.bits.val() - self.one4.val());
            self.quo.d.next = self.zero8.val();
            self.levels.d.next = self.ones8.val() >> (self.eight4.val() - self.bits.val());
            self.xm1.d.next = self.x.val() - self.one16.val();
            self.alpha_r.d.next = self.alpha.val();
            self.positive.d.next = !self.x.val().get_bit(15) && self.x.val() != self.zero16.val();
            self.running.d.next = true;
        } else if self.running.q.val() {
            if self.qbit.q.val() == self.zero8.val() {
                self.running.d.next = false;
            } else {
                if self.rem.q.val() >= self.divisor.q.val() {
                    self.rem.d.next = self.rem.q.val() - self.divisor.q.val();
                    self.quo.d.next = self.quo.q.val() | self.qbit.q.val();
                }
                self.divisor.d.next = self.divisor.q.val() >> 1;
                self.qbit.d.next = self.qbit.q.val() >> 1;
            }
        }
        self.done.next = self.running.q.val() && self.qbit.q.val() == self.zero8.val();
        self.at_top.next = self.quo.q.val() == self.levels.q.val();
        // rem <= x - 1 < 2^15, so its low 16 bits are all of it.
        self.y_pre.next = self.xm1.q.val() - self.rem.q.val().get_bits::<16>(0);
        if !self.at_top.val() {
            self.y_pre.next =
                self.xm1.q.val() - self.rem.q.val().get_bits::<16>(0) + self.alpha_r.q.val();
        }
        self.y.next = self.zero16.val();
        if self.positive.q.val() {
            if self.y_pre.val().get_bit(15) {
                self.y.next = self.max16.val();
            } else {
                self.y.next = self.y_pre.val();
            }
        }
        self.pass.next = self.positive.q.val() && !self.at_top.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qtrain_model::{qrelu, qrelu_mask, Matrix};

    /// Runs one division and checks it against the model's qrelu and qrelu_mask.
    fn check(uut: &mut QreluLevel, x: i16, alpha: i16, nbits: u8) {
        uut.x.next = bits(x as u16 as u64);
        uut.alpha.next = bits(alpha as u16 as u64);
        uut.bits.next = bits(u64::from(nbits));
        uut.start.next = true;
        clock_cycle!(uut);
        uut.start.next = false;
        // The inputs may change after the start cycle.
        uut.x.next = bits(0x5555);
        let mut cycles = 1;
        loop {
            assert!(simulate(uut, 100));
            if uut.done.val() {
                break;
            }
            assert!(cycles <= 9, "no done");
            clock_cycle!(uut);
            cycles += 1;
        }
        assert_eq!(cycles, usize::from(nbits) + 1, "latency");
        let xm = Matrix::from_fn(1, 1, |_, _| x);
        let want_y = qrelu(&xm, alpha, nbits).unwrap().get(0, 0);
        let want_pass = qrelu_mask(&xm, &Matrix::from_fn(1, 1, |_, _| 1), alpha, nbits)
            .unwrap()
            .get(0, 0)
            == 1;
        let ctx = format!("x={x} alpha={alpha} bits={nbits}");
        assert_eq!(uut.y.val().to_u16() as i16, want_y, "{ctx}");
        assert_eq!(uut.pass.val(), want_pass, "{ctx}");
        // Results hold after done.
        clock_cycle!(uut);
        assert!(simulate(uut, 100));
        assert!(!uut.done.val());
        assert_eq!(uut.y.val().to_u16() as i16, want_y, "{ctx} (held)");
    }

    #[test]
    fn edge_values_match_model() {
        let mut uut = QreluLevel::default();
        uut.connect_all();
        let xs = [
            i16::MIN,
            -1,
            0,
            1,
            2,
            3,
            7,
            8,
            255,
            256,
            1000,
            32766,
            i16::MAX,
        ];
        let alphas = [1i16, 2, 3, 7, 128, 129, 255, 256, 4097, 16384, 32767];
        for nbits in 1..=8 {
            for &alpha in &alphas {
                for &x in &xs {
                    check(&mut uut, x, alpha, nbits);
                }
                // Around the top level and its neighbours.
                let top = ((1i64 << nbits) - 1) * i64::from(alpha);
                for x in [
                    top - 1,
                    top,
                    top + 1,
                    top - i64::from(alpha),
                    top + 1 - i64::from(alpha),
                ] {
                    if (1..=32767).contains(&x) {
                        check(&mut uut, x as i16, alpha, nbits);
                    }
                }
            }
        }
    }
}
