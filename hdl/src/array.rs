//! The R x C output-stationary systolic array.

use crate::macc::Macc;
use rust_hdl::prelude::*;

/// An `R x C` grid of [`Macc`] PEs with the pipeline registers between them.
///
/// Row `p` is fed on the left (`a_in[p]`, `first_in[p]`, `last_in[p]`, and the broadcast row
/// word `ra_in`); column `q` on the top (`b_in[q]` and the broadcast column word `cb_in`). Each
/// input passes through one register per PE (`a` right, `b` down), so a value fed to row `p`
/// in cycle `t` reaches PE `(p, q)` in cycle `t + 1 + q`, and one fed to column `q` reaches
/// PE `(p, q)` in cycle `t + 1 + p`. The caller skews the feeds (row `p` and column `q`
/// delayed by `p` and `q` cycles) so that matching operands meet.
///
/// Results leave at the top: `c_out[q]` is the result register of PE `(0, q)`. A result
/// converted at PE `(p, q)` appears there `p` cycles after it appeared at `(p, q)`.
///
/// The PEs live in one flat vector indexed `p * C + q`, because rust-hdl's Verilog generator
/// resolves only one level of `[...]` per name and cannot evaluate a const generic inside an
/// index. The update therefore binds `cc = C` with a one-iteration loop, so that index
/// expressions name only loop variables.
#[derive(LogicBlock)]
pub struct Array<const R: usize, const C: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Row feeds: elements of op(A).
    pub a_in: Vec<Signal<In, Bits<16>>>,
    /// Row feeds: first beat of a tile.
    pub first_in: Vec<Signal<In, Bit>>,
    /// Row feeds: last beat of a tile.
    pub last_in: Vec<Signal<In, Bit>>,
    /// The row word, taken by whichever row carries its last beat.
    pub ra_in: Signal<In, Bits<16>>,
    /// Column feeds: elements of op(B).
    pub b_in: Vec<Signal<In, Bits<16>>>,
    /// The column word, taken by whichever column carries its last beat.
    pub cb_in: Signal<In, Bits<16>>,
    /// Conversion shift (6-bit two's complement), held for the whole GEMM.
    pub shift: Signal<In, Bits<6>>,
    /// Rounding mode code, held for the whole GEMM.
    pub rounding: Signal<In, Bits<2>>,
    /// Top of each column's result chain.
    pub c_out: Vec<Signal<Out, Bits<16>>>,
    pe: Vec<Macc>,
    a_reg: Vec<DFF<Bits<16>>>,
    ra_reg: Vec<DFF<Bits<16>>>,
    first_reg: Vec<DFF<Bit>>,
    last_reg: Vec<DFF<Bit>>,
    b_reg: Vec<DFF<Bits<16>>>,
    cb_reg: Vec<DFF<Bits<16>>>,
    zero16: Constant<Bits<16>>,
}

fn many<T: Default>(n: usize) -> Vec<T> {
    (0..n).map(|_| T::default()).collect()
}

impl<const R: usize, const C: usize> Default for Array<R, C> {
    fn default() -> Self {
        assert!(R >= 1 && C >= 1, "the array needs at least one PE");
        Array {
            clock: Default::default(),
            a_in: many(R),
            first_in: many(R),
            last_in: many(R),
            ra_in: Default::default(),
            b_in: many(C),
            cb_in: Default::default(),
            shift: Default::default(),
            rounding: Default::default(),
            c_out: many(C),
            pe: many(R * C),
            a_reg: many(R * C),
            ra_reg: many(R * C),
            first_reg: many(R * C),
            last_reg: many(R * C),
            b_reg: many(R * C),
            cb_reg: many(R * C),
            zero16: Constant::new(bits(0)),
        }
    }
}

impl<const R: usize, const C: usize> Logic for Array<R, C> {
    #[hdl_gen]
    fn update(&mut self) {
        for i in 0..(R * C) {
            self.a_reg[i].clock.next = self.clock.val();
            self.ra_reg[i].clock.next = self.clock.val();
            self.first_reg[i].clock.next = self.clock.val();
            self.last_reg[i].clock.next = self.clock.val();
            self.b_reg[i].clock.next = self.clock.val();
            self.cb_reg[i].clock.next = self.clock.val();
            self.pe[i].clock.next = self.clock.val();
            self.pe[i].shift.next = self.shift.val();
            self.pe[i].rounding.next = self.rounding.val();
            self.pe[i].a.next = self.a_reg[i].q.val();
            self.pe[i].ra.next = self.ra_reg[i].q.val();
            self.pe[i].first.next = self.first_reg[i].q.val();
            self.pe[i].last.next = self.last_reg[i].q.val();
            self.pe[i].b.next = self.b_reg[i].q.val();
            self.pe[i].cb.next = self.cb_reg[i].q.val();
        }
        for cc in C..(C + 1) {
            for p in 0..R {
                self.a_reg[p * cc].d.next = self.a_in[p].val();
                self.ra_reg[p * cc].d.next = self.ra_in.val();
                self.first_reg[p * cc].d.next = self.first_in[p].val();
                self.last_reg[p * cc].d.next = self.last_in[p].val();
                for q in 1..C {
                    self.a_reg[p * cc + q].d.next = self.a_reg[p * cc + q - 1].q.val();
                    self.ra_reg[p * cc + q].d.next = self.ra_reg[p * cc + q - 1].q.val();
                    self.first_reg[p * cc + q].d.next = self.first_reg[p * cc + q - 1].q.val();
                    self.last_reg[p * cc + q].d.next = self.last_reg[p * cc + q - 1].q.val();
                }
            }
            for q in 0..C {
                self.b_reg[q].d.next = self.b_in[q].val();
                self.cb_reg[q].d.next = self.cb_in.val();
                for p in 1..R {
                    self.b_reg[p * cc + q].d.next = self.b_reg[p * cc + q - cc].q.val();
                    self.cb_reg[p * cc + q].d.next = self.cb_reg[p * cc + q - cc].q.val();
                }
                for p in 0..(R - 1) {
                    self.pe[p * cc + q].chain_in.next = self.pe[p * cc + cc + q].result.val();
                }
                for bottom in (R - 1)..R {
                    self.pe[bottom * cc + q].chain_in.next = self.zero16.val();
                }
                self.c_out[q].next = self.pe[q].result.val();
            }
        }
    }
}
