//! The R x C output-stationary systolic array with its column heads.

use crate::column_convert::ColumnConvert;
use crate::macc::Macc;
use rust_hdl::prelude::*;

/// An `R x C` grid of [`Macc`] PEs with the pipeline registers between them, and one
/// [`ColumnConvert`] at the head (top) of each column.
///
/// Row `p` is fed on the left (`a_in[p]`, `first_in[p]`, `last_in[p]`), column `q` on the top
/// (`b_in[q]`). Each input passes through one register per PE (`a` right, `b` down), so a
/// value fed to row `p` in cycle `t` reaches PE `(p, q)` in cycle `t + 1 + q`, and one fed to
/// column `q` reaches PE `(p, q)` in cycle `t + 1 + p`. The caller skews the feeds (row `p`
/// and column `q` delayed by `p` and `q` cycles) so that matching operands meet.
///
/// Finished 48-bit sums climb each column one PE per cycle and reach the column head from the
/// top PE's result register. The heads are fed along the top edge, one register per column:
/// the row word `ra_in` of cycle `t` reaches head `q` in `t + 1 + q`, together with whatever
/// sum column `q` delivers then, and `cb_load_in` of cycle `t` makes head `q` take the
/// broadcast column word `cb_in` of cycle `t + 1 + q`. `c_in[q]` must hold `C_in` of the sum
/// that reaches head `q` in the same cycle (used with `accumulate`). `c_out[q]` is head `q`'s
/// converted word, [`crate::column_convert::HEAD_LATENCY`] cycles after the sum reached the
/// head.
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
    /// Column feeds: elements of op(B).
    pub b_in: Vec<Signal<In, Bits<16>>>,
    /// The row word of the sums that reach the heads, one column per cycle later.
    pub ra_in: Signal<In, Bits<16>>,
    /// Marks the start of a tile at the heads: head `q` loads its column word `q + 1` cycles
    /// later.
    pub cb_load_in: Signal<In, Bit>,
    /// The column word, broadcast to all heads (each takes it when its load mark arrives).
    pub cb_in: Signal<In, Bits<16>>,
    /// Conversion shift (6-bit two's complement), held for the whole GEMM.
    pub shift: Signal<In, Bits<6>>,
    /// Rounding mode code, held for the whole GEMM.
    pub rounding: Signal<In, Bits<2>>,
    /// Accumulating GEMM (held for the whole GEMM): head `q` adds `c_in[q] · 2^shift`.
    pub accumulate: Signal<In, Bit>,
    /// `C_in` of the element whose sum reaches head `q` in the same cycle.
    pub c_in: Vec<Signal<In, Bits<16>>>,
    /// The converted words leaving each column head.
    pub c_out: Vec<Signal<Out, Bits<16>>>,
    pe: Vec<Macc>,
    head: Vec<ColumnConvert>,
    a_reg: Vec<DFF<Bits<16>>>,
    first_reg: Vec<DFF<Bit>>,
    last_reg: Vec<DFF<Bit>>,
    b_reg: Vec<DFF<Bits<16>>>,
    ra_reg: Vec<DFF<Bits<16>>>,
    cb_load_reg: Vec<DFF<Bit>>,
    zero48: Constant<Bits<48>>,
}

fn many<T: Default>(n: usize) -> Vec<T> {
    (0..n).map(|_| T::default()).collect()
}

impl<const R: usize, const C: usize> Array<R, C> {
    /// This array with every head's converter window in DSP multipliers
    /// ([`crate::convert::Convert::with_window_in_dsps`]): three more per column.
    pub fn with_windows_in_dsps(mut self) -> Self {
        self.head = self
            .head
            .into_iter()
            .map(ColumnConvert::with_window_in_dsps)
            .collect();
        self
    }
}

impl<const R: usize, const C: usize> Default for Array<R, C> {
    fn default() -> Self {
        assert!(R >= 1 && C >= 1, "the array needs at least one PE");
        Array {
            clock: Default::default(),
            a_in: many(R),
            first_in: many(R),
            last_in: many(R),
            b_in: many(C),
            ra_in: Default::default(),
            cb_load_in: Default::default(),
            cb_in: Default::default(),
            shift: Default::default(),
            rounding: Default::default(),
            accumulate: Default::default(),
            c_in: many(C),
            c_out: many(C),
            pe: many(R * C),
            head: many(C),
            a_reg: many(R * C),
            first_reg: many(R * C),
            last_reg: many(R * C),
            b_reg: many(R * C),
            ra_reg: many(C),
            cb_load_reg: many(C),
            zero48: Constant::new(bits(0)),
        }
    }
}

impl<const R: usize, const C: usize> Logic for Array<R, C> {
    #[hdl_gen]
    fn update(&mut self) {
        for i in 0..(R * C) {
            self.a_reg[i].clock.next = self.clock.val();
            self.first_reg[i].clock.next = self.clock.val();
            self.last_reg[i].clock.next = self.clock.val();
            self.b_reg[i].clock.next = self.clock.val();
            self.pe[i].clock.next = self.clock.val();
            self.pe[i].a.next = self.a_reg[i].q.val();
            self.pe[i].first.next = self.first_reg[i].q.val();
            self.pe[i].last.next = self.last_reg[i].q.val();
            self.pe[i].b.next = self.b_reg[i].q.val();
        }
        for cc in C..(C + 1) {
            for p in 0..R {
                self.a_reg[p * cc].d.next = self.a_in[p].val();
                self.first_reg[p * cc].d.next = self.first_in[p].val();
                self.last_reg[p * cc].d.next = self.last_in[p].val();
                for q in 1..C {
                    self.a_reg[p * cc + q].d.next = self.a_reg[p * cc + q - 1].q.val();
                    self.first_reg[p * cc + q].d.next = self.first_reg[p * cc + q - 1].q.val();
                    self.last_reg[p * cc + q].d.next = self.last_reg[p * cc + q - 1].q.val();
                }
            }
            for q in 0..C {
                self.b_reg[q].d.next = self.b_in[q].val();
                for p in 1..R {
                    self.b_reg[p * cc + q].d.next = self.b_reg[p * cc + q - cc].q.val();
                }
                for p in 0..(R - 1) {
                    self.pe[p * cc + q].chain_in.next = self.pe[p * cc + cc + q].result.val();
                }
                for bottom in (R - 1)..R {
                    self.pe[bottom * cc + q].chain_in.next = self.zero48.val();
                }
            }
        }
        // Column heads.
        self.ra_reg[0].d.next = self.ra_in.val();
        self.cb_load_reg[0].d.next = self.cb_load_in.val();
        for q in 1..C {
            self.ra_reg[q].d.next = self.ra_reg[q - 1].q.val();
            self.cb_load_reg[q].d.next = self.cb_load_reg[q - 1].q.val();
        }
        for q in 0..C {
            self.ra_reg[q].clock.next = self.clock.val();
            self.cb_load_reg[q].clock.next = self.clock.val();
            self.head[q].clock.next = self.clock.val();
            self.head[q].acc.next = self.pe[q].result.val();
            self.head[q].ra.next = self.ra_reg[q].q.val();
            self.head[q].load_cb.next = self.cb_load_reg[q].q.val();
            self.head[q].cb.next = self.cb_in.val();
            self.head[q].shift.next = self.shift.val();
            self.head[q].rounding.next = self.rounding.val();
            self.head[q].accumulate.next = self.accumulate.val();
            self.head[q].cin.next = self.c_in[q].val();
            self.c_out[q].next = self.head[q].q.val();
        }
    }
}
