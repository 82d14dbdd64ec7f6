//! The tile sequencer: streams op(A) and op(B) tiles through the array and drains C.

use crate::column_convert::HEAD_LATENCY;
use crate::core::LAUNCH_CYCLES;
use crate::drain::Drain;
use crate::lfsr::Lfsr;
use crate::macc::MACC_LATENCY;
use crate::SCRATCH_ADDR_BITS as AB;
use qtrain_model::{LFSR_A_MASK, LFSR_B_MASK};
use rust_hdl::prelude::*;

// Controller phases. Plain 3-bit codes rather than a rust-hdl enum: the enum's register
// emits a 64-bit initial value and unused enum parameters, which Verilator -Wall rejects.
/// Phase: waiting for `start`.
pub const PHASE_IDLE: u64 = 0;
/// Phase: computing `ceil(N / C)` (16 cycles of restoring division).
pub const PHASE_DIVIDE: u64 = 1;
/// Phase: computing `R * ceil(N / C)` by repeated addition (R cycles).
pub const PHASE_SCALE: u64 = 2;
/// Phase: streaming tiles.
pub const PHASE_RUN: u64 = 3;
/// Phase: waiting for the last results to reach the C scratchpad.
pub const PHASE_FLUSH: u64 = 4;

/// The count the flush phase starts from: the last beat of the last tile is issued in cycle
/// `t`, the flush phase lasts cycles `t + 1 ..= t + 1 + F`, and the last C write (row R-1 of
/// column C-1) happens in its final cycle `t + 2R + C + P + L`, with `L` = [`HEAD_LATENCY`]
/// and `P` = [`MACC_LATENCY`].
pub const fn flush_cycles(rows: usize, cols: usize) -> usize {
    2 * rows + cols + HEAD_LATENCY + MACC_LATENCY - 1
}

/// The shortest tile period (beats between tile starts) the array allows: a tile's sums leave
/// a column in `2R - 1` cycles (row words handed out every other cycle) and its column words
/// take `C` cycles.
pub const fn min_tile_period(rows: usize, cols: usize) -> usize {
    let chain = 2 * rows - 1;
    if chain > cols {
        chain
    } else {
        cols
    }
}

/// The value of the `cycles` port after an `m x k x n` GEMM on an `rows x cols` core: the
/// cycles `busy` is high (docs/hardware.md derives it).
pub const fn gemm_cycles(rows: usize, cols: usize, m: usize, k: usize, n: usize) -> u64 {
    let tiles = m.div_ceil(rows) * n.div_ceil(cols);
    let period = if k > min_tile_period(rows, cols) {
        k
    } else {
        min_tile_period(rows, cols)
    };
    (16 + MACC_LATENCY + LAUNCH_CYCLES + HEAD_LATENCY + 3 * rows + cols + k + (tiles - 1) * period)
        as u64
}

/// The controller of `GemmCore<R, C>` (see docs/hardware.md for the schedule).
///
/// Tiles are `R x C` blocks of C, visited row-tile by row-tile (column tiles inner). Each tile
/// is `K` beats (beat `k` reads address `tile_base + k` in every A and B bank) followed by idle
/// beats up to the tile period `max(K, 2R - 1, C)`. The per-bank read addresses pass through a
/// chain of registers, one per bank, which skews row `p` by `p` cycles and column `q` by `q`.
/// Finished tiles go to a [`Drain`], whose row events also pace the LFSRs' words here.
#[derive(LogicBlock)]
pub struct Controller<const R: usize, const C: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Start pulse (ignored while busy). `m`, `k`, `n` must then stay stable until `busy`
    /// falls (the core feeds them from its configuration latch); the LFSR states are read
    /// with the pulse only.
    pub start: Signal<In, Bit>,
    /// Rows of op(A) and C.
    pub m: Signal<In, Bits<16>>,
    /// The reduction length.
    pub k: Signal<In, Bits<16>>,
    /// Columns of op(B) and C.
    pub n: Signal<In, Bits<16>>,
    /// Start state of LFSR A (row words).
    pub row_state: Signal<In, Bits<32>>,
    /// Start state of LFSR B (column words); must hold while busy (the generator is reloaded
    /// from it at the end of every row tile).
    pub col_state: Signal<In, Bits<32>>,
    /// High while a GEMM runs.
    pub busy: Signal<Out, Bit>,
    /// Read address of A bank `p`.
    pub a_addr: Vec<Signal<Out, Bits<AB>>>,
    /// Read address of B bank `q`.
    pub b_addr: Vec<Signal<Out, Bits<AB>>>,
    /// Row `p` feed: first beat (aligned with A bank `p`'s read data).
    pub row_first: Vec<Signal<Out, Bit>>,
    /// Row `p` feed: last beat.
    pub row_last: Vec<Signal<Out, Bit>>,
    /// The row word (LFSR A) of the sum that reaches column 0's head next cycle.
    pub row_word: Signal<Out, Bits<16>>,
    /// Marks a tile one cycle before its row 0 sum reaches column 0's head; column `q` takes
    /// `col_word` `q + 1` cycles after the mark.
    pub col_load: Signal<Out, Bit>,
    /// The current column word (LFSR B).
    pub col_word: Signal<Out, Bits<16>>,
    /// Write enable of C bank `q` (data comes from the array's column `q`).
    pub c_we: Vec<Signal<Out, Bit>>,
    /// Write address of C bank `q`.
    pub c_addr: Vec<Signal<Out, Bits<AB>>>,
    /// Read address of C bank `q` (`C_in` of an accumulating GEMM; the bank's read data must
    /// reach the array's `c_in[q]` one cycle later).
    pub c_rd_addr: Vec<Signal<Out, Bits<AB>>>,
    lfsr_a: Lfsr,
    lfsr_b: Lfsr,
    phase: DFF<Bits<3>>,
    idle: Constant<Bits<3>>,
    divide: Constant<Bits<3>>,
    scale: Constant<Bits<3>>,
    run: Constant<Bits<3>>,
    flush: Constant<Bits<3>>,
    cnt: DFF<Bits<16>>,
    row_base: DFF<Bits<32>>,
    capture_row: DFF<Bit>,
    div_num: DFF<Bits<16>>,
    div_rem: DFF<Bits<16>>,
    div_quo: DFF<Bits<16>>,
    nb: DFF<Bits<AB>>,
    rnb: DFF<Bits<AB>>,
    // The tile period minus one, `max(K, 2R - 1, C) - 1`: kk's last value in a tile.
    period: DFF<Bits<16>>,
    // kk < K: this beat reads operands (a flag kept beside kk instead of a 16-bit compare).
    in_k: DFF<Bit>,
    kk: DFF<Bits<16>>,
    rows_left: DFF<Bits<16>>,
    cols_left: DFF<Bits<16>>,
    // `cols_left <= C` (the tile ends its row tile), registered with `cols_left` so that the
    // issue logic starts from a flip-flop rather than a 16-bit compare (the iCE40 8x1 core's
    // critical path ran through it into the LFSR enables).
    rowend: DFF<Bit>,
    a_base: DFF<Bits<AB>>,
    b_base: DFF<Bits<AB>>,
    c_base: DFF<Bits<AB>>,
    c_row: DFF<Bits<AB>>,
    // Skew chains: stage p holds what bank p reads this cycle.
    ach_addr: Vec<DFF<Bits<AB>>>,
    ach_first: Vec<DFF<Bit>>,
    ach_last: Vec<DFF<Bit>>,
    bch_addr: Vec<DFF<Bits<AB>>>,
    // Feed flags, one cycle after the chain (the RAM read latency).
    f_first: Vec<DFF<Bit>>,
    f_last: Vec<DFF<Bit>>,
    // Column words of the current tile: index of the next one, and whether any are left.
    cw_idx: DFF<Bits<16>>,
    cw_busy: DFF<Bit>,
    cw_rowend: DFF<Bit>,
    drain: Drain<R, C>,
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    // The bits M, N and K need ([`Controller::with_dimension_limit`]).
    dim_mask: Constant<Bits<16>>,
    rows16: Constant<Bits<16>>,
    cols16: Constant<Bits<16>>,
    two_cols16: Constant<Bits<16>>,
    cols_minus1: Constant<Bits<16>>,
    min_period16: Constant<Bits<16>>,
    flush16: Constant<Bits<16>>,
    div_steps16: Constant<Bits<16>>,
    // With C a power of two, ceil(N / C) - 1 is a shift of N - 1 and the divider's registers
    // go unread (synthesis removes them); the sequence keeps its cycles either way.
    cols_pow2: Constant<Bit>,
    cols_log2: Constant<Bits<16>>,
    quo_shifted: Signal<Local, Bits<16>>,
    quo: Signal<Local, Bits<16>>,
    zero_a: Constant<Bits<AB>>,
    one_a: Constant<Bits<AB>>,
    rem2: Signal<Local, Bits<16>>,
    iss_first: Signal<Local, Bit>,
    iss_last: Signal<Local, Bit>,
    iss_rowend: Signal<Local, Bit>,
    // Rows of the issued tile, 1..=R (the drain takes R <= 128; 9 bits hold 256).
    iss_rows: Signal<Local, Bits<9>>,
    // K - 1, registered at start (K holds for the whole GEMM): the last beat's compare then
    // starts from a register, not from a 16-bit subtraction (the iCE40 8x1 core's critical
    // path once the column head was pipelined).
    k_minus1: DFF<Bits<16>>,
    cw_now: Signal<Local, Bits<16>>,
    cw_rowend_now: Signal<Local, Bit>,
}

fn many<T: Default>(n: usize) -> Vec<T> {
    (0..n).map(|_| T::default()).collect()
}

fn c16(v: usize) -> Constant<Bits<16>> {
    Constant::new(bits(v as u64))
}

impl<const R: usize, const C: usize> Default for Controller<R, C> {
    fn default() -> Self {
        assert!((1..=128).contains(&R) && (1..=128).contains(&C));
        Controller {
            clock: Default::default(),
            start: Default::default(),
            m: Default::default(),
            k: Default::default(),
            n: Default::default(),
            row_state: Default::default(),
            col_state: Default::default(),
            busy: Default::default(),
            a_addr: many(R),
            b_addr: many(C),
            row_first: many(R),
            row_last: many(R),
            row_word: Default::default(),
            col_load: Default::default(),
            col_word: Default::default(),
            c_we: many(C),
            c_addr: many(C),
            c_rd_addr: many(C),
            lfsr_a: Lfsr::new(LFSR_A_MASK),
            lfsr_b: Lfsr::new(LFSR_B_MASK),
            phase: Default::default(),
            idle: Constant::new(bits(PHASE_IDLE)),
            divide: Constant::new(bits(PHASE_DIVIDE)),
            scale: Constant::new(bits(PHASE_SCALE)),
            run: Constant::new(bits(PHASE_RUN)),
            flush: Constant::new(bits(PHASE_FLUSH)),
            cnt: Default::default(),
            row_base: Default::default(),
            capture_row: Default::default(),
            div_num: Default::default(),
            div_rem: Default::default(),
            div_quo: Default::default(),
            nb: Default::default(),
            rnb: Default::default(),
            period: Default::default(),
            in_k: Default::default(),
            kk: Default::default(),
            rows_left: Default::default(),
            cols_left: Default::default(),
            rowend: Default::default(),
            a_base: Default::default(),
            b_base: Default::default(),
            c_base: Default::default(),
            c_row: Default::default(),
            ach_addr: many(R),
            ach_first: many(R),
            ach_last: many(R),
            bch_addr: many(C),
            f_first: many(R),
            f_last: many(R),
            cw_idx: Default::default(),
            cw_busy: Default::default(),
            cw_rowend: Default::default(),
            drain: Default::default(),
            zero16: c16(0),
            one16: c16(1),
            dim_mask: c16(0xFFFF),
            rows16: c16(R),
            cols16: c16(C),
            two_cols16: c16(2 * C),
            cols_minus1: c16(C - 1),
            min_period16: c16(min_tile_period(R, C)),
            flush16: c16(flush_cycles(R, C)),
            div_steps16: c16(16),
            cols_pow2: Constant::new(C.is_power_of_two()),
            cols_log2: c16(C.trailing_zeros() as usize),
            quo_shifted: Default::default(),
            quo: Default::default(),
            zero_a: Constant::new(bits(0)),
            one_a: Constant::new(bits(1)),
            rem2: Default::default(),
            iss_first: Default::default(),
            iss_last: Default::default(),
            iss_rowend: Default::default(),
            iss_rows: Default::default(),
            k_minus1: Default::default(),
            cw_now: Default::default(),
            cw_rowend_now: Default::default(),
        }
    }
}

/// The 16-bit mask that keeps the bits of a count up to `limit` (a power of two) and the
/// count `limit` itself: `log2(limit) + 1` bits, all 16 from `2^15` on.
pub fn dimension_mask(limit: usize) -> u64 {
    assert!(limit.is_power_of_two(), "a dimension limit of {limit}");
    ((2 * limit as u64) - 1).min(0xFFFF)
}

impl<const R: usize, const C: usize> Controller<R, C> {
    /// This controller for GEMMs whose M, N and K are at most `limit` (a power of two): its
    /// row, column and beat counters keep `log2(limit) + 1` bits (see
    /// [`crate::core::GemmCore::with_dimension_limit`]).
    pub fn with_dimension_limit(mut self, limit: usize) -> Self {
        self.dim_mask = Constant::new(bits(dimension_mask(limit)));
        self
    }
}

impl<const R: usize, const C: usize> Logic for Controller<R, C> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            k_minus1,
            phase,
            cnt,
            row_base,
            capture_row,
            div_num,
            div_rem,
            div_quo,
            nb,
            rnb,
            period,
            in_k,
            kk,
            rows_left,
            cols_left,
            rowend,
            a_base,
            b_base,
            c_base,
            c_row,
            cw_idx,
            cw_busy,
            cw_rowend
        );
        self.busy.next = self.phase.q.val() != self.idle.val();

        // ---- Issue: which beat the banks read this cycle (before the skew chains).
        self.iss_first.next = false;
        self.iss_last.next = false;
        self.iss_rowend.next = self.rowend.q.val();
        self.iss_rows.next = self.rows16.val().get_bits::<9>(0);
        if self.rows_left.q.val() < self.rows16.val() {
            self.iss_rows.next = self.rows_left.q.val().get_bits::<9>(0);
        }
        if self.phase.q.val() == self.run.val() && self.in_k.q.val() {
            self.iss_first.next = self.kk.q.val() == self.zero16.val();
            self.iss_last.next = self.kk.q.val() == self.k_minus1.q.val();
        }

        // ---- Sequencer.
        self.quo_shifted.next = (self.n.val() - self.one16.val()) >> self.cols_log2.val();
        self.quo.next = self.div_quo.q.val();
        if self.cols_pow2.val() {
            self.quo.next = self.quo_shifted.val();
        }
        self.rem2.next = self.div_rem.q.val() << 1;
        if self.div_num.q.val().get_bit(15) {
            self.rem2.next = (self.div_rem.q.val() << 1) + self.one16.val();
        }
        if self.phase.q.val() == self.idle.val() {
            if self.start.val() {
                self.k_minus1.d.next = (self.k.val() - self.one16.val()) & self.dim_mask.val();
                self.phase.d.next = self.divide.val();
                self.cnt.d.next = self.div_steps16.val();
                self.div_num.d.next = self.n.val() - self.one16.val();
                self.div_rem.d.next = self.zero16.val();
                self.div_quo.d.next = self.zero16.val();
                self.period.d.next = self.min_period16.val() - self.one16.val();
                if self.k.val() > self.min_period16.val() {
                    self.period.d.next = (self.k.val() - self.one16.val()) & self.dim_mask.val();
                }
                // K >= 1: the first beat reads operands.
                self.in_k.d.next = true;
                self.rows_left.d.next = self.m.val() & self.dim_mask.val();
                self.cols_left.d.next = self.n.val() & self.dim_mask.val();
                self.rowend.d.next = self.n.val() <= self.cols16.val();
                self.kk.d.next = self.zero16.val();
                self.a_base.d.next = self.zero_a.val();
                self.b_base.d.next = self.zero_a.val();
                self.c_base.d.next = self.zero_a.val();
                self.c_row.d.next = self.zero_a.val();
            }
        } else if self.phase.q.val() == self.divide.val() {
            // ceil(N / C) = floor((N - 1) / C) + 1, one quotient bit per cycle.
            self.div_num.d.next = self.div_num.q.val() << 1;
            if self.rem2.val() >= self.cols16.val() {
                self.div_rem.d.next = self.rem2.val() - self.cols16.val();
                self.div_quo.d.next = (self.div_quo.q.val() << 1) + self.one16.val();
            } else {
                self.div_rem.d.next = self.rem2.val();
                self.div_quo.d.next = self.div_quo.q.val() << 1;
            }
            self.cnt.d.next = self.cnt.q.val() - self.one16.val();
            if self.cnt.q.val() == self.one16.val() {
                self.phase.d.next = self.scale.val();
                self.cnt.d.next = self.rows16.val();
                self.rnb.d.next = self.zero_a.val();
            }
        } else if self.phase.q.val() == self.scale.val() {
            self.nb.d.next = self.quo.val().get_bits::<AB>(0) + self.one_a.val();
            self.rnb.d.next =
                self.rnb.q.val() + self.quo.val().get_bits::<AB>(0) + self.one_a.val();
            self.cnt.d.next = self.cnt.q.val() - self.one16.val();
            if self.cnt.q.val() == self.one16.val() {
                self.phase.d.next = self.run.val();
            }
        } else if self.phase.q.val() == self.run.val() {
            // The beat after the K-th reads nothing until the next tile starts.
            if self.iss_last.val() {
                self.in_k.d.next = false;
            }
            if self.iss_last.val()
                && self.iss_rowend.val()
                && self.rows_left.q.val() <= self.rows16.val()
            {
                self.phase.d.next = self.flush.val();
                self.cnt.d.next = self.flush16.val();
            } else if self.kk.q.val() == self.period.q.val() {
                self.kk.d.next = self.zero16.val();
                self.in_k.d.next = true;
                if self.iss_rowend.val() {
                    self.rows_left.d.next =
                        (self.rows_left.q.val() - self.rows16.val()) & self.dim_mask.val();
                    self.cols_left.d.next = self.n.val() & self.dim_mask.val();
                    self.rowend.d.next = self.n.val() <= self.cols16.val();
                    self.a_base.d.next = self.a_base.q.val() + self.k.val().get_bits::<AB>(0);
                    self.b_base.d.next = self.zero_a.val();
                    self.c_row.d.next = self.c_row.q.val() + self.rnb.q.val();
                    self.c_base.d.next = self.c_row.q.val() + self.rnb.q.val();
                } else {
                    self.cols_left.d.next =
                        (self.cols_left.q.val() - self.cols16.val()) & self.dim_mask.val();
                    // cols_left - C <= C, with cols_left > C here.
                    self.rowend.d.next = self.cols_left.q.val() <= self.two_cols16.val();
                    self.b_base.d.next = self.b_base.q.val() + self.k.val().get_bits::<AB>(0);
                    self.c_base.d.next = self.c_base.q.val() + self.one_a.val();
                }
            } else {
                self.kk.d.next = (self.kk.q.val() + self.one16.val()) & self.dim_mask.val();
            }
        } else if self.phase.q.val() == self.flush.val() {
            self.cnt.d.next = self.cnt.q.val() - self.one16.val();
            if self.cnt.q.val() == self.zero16.val() {
                self.phase.d.next = self.idle.val();
            }
        } else {
            self.phase.d.next = self.idle.val();
        }

        // ---- Skew chains and feed flags.
        for p in 0..R {
            self.ach_addr[p].clock.next = self.clock.val();
            self.ach_first[p].clock.next = self.clock.val();
            self.ach_last[p].clock.next = self.clock.val();
            self.f_first[p].clock.next = self.clock.val();
            self.f_last[p].clock.next = self.clock.val();
            self.f_first[p].d.next = self.ach_first[p].q.val();
            self.f_last[p].d.next = self.ach_last[p].q.val();
            self.a_addr[p].next = self.ach_addr[p].q.val();
            self.row_first[p].next = self.f_first[p].q.val();
            self.row_last[p].next = self.f_last[p].q.val();
        }
        self.ach_addr[0].d.next = self.a_base.q.val() + self.kk.q.val().get_bits::<AB>(0);
        self.ach_first[0].d.next = self.iss_first.val();
        self.ach_last[0].d.next = self.iss_last.val();
        for p in 1..R {
            self.ach_addr[p].d.next = self.ach_addr[p - 1].q.val();
            self.ach_first[p].d.next = self.ach_first[p - 1].q.val();
            self.ach_last[p].d.next = self.ach_last[p - 1].q.val();
        }
        for q in 0..C {
            self.bch_addr[q].clock.next = self.clock.val();
            self.b_addr[q].next = self.bch_addr[q].q.val();
        }
        self.bch_addr[0].d.next = self.b_base.q.val() + self.kk.q.val().get_bits::<AB>(0);
        for q in 1..C {
            self.bch_addr[q].d.next = self.bch_addr[q - 1].q.val();
        }

        // ---- Drain: replays each tile's rows as events (docs/hardware.md).
        self.drain.clock.next = self.clock.val();
        self.drain.tile_last.next = self.iss_last.val();
        self.drain.tile_rowend.next = self.iss_rowend.val();
        self.drain.tile_cbase.next = self.c_base.q.val();
        self.drain.tile_rows.next = self.iss_rows.val();
        self.drain.stride.next = self.nb.q.val();
        self.col_load.next = self.drain.col_load.val();
        for q in 0..C {
            self.c_we[q].next = self.drain.c_we[q].val();
            self.c_addr[q].next = self.drain.c_addr[q].val();
            self.c_rd_addr[q].next = self.drain.c_rd_addr[q].val();
        }

        // ---- Random words. LFSR A shows the word of each row of a tile in that row's `ev`
        // cycle and steps right after it; after the tile's last row it either rewinds to the
        // row tile's first word (the next tile has the same rows) or, after the last column
        // tile, steps once more to the next row tile's first word, which is saved as its start.
        self.lfsr_a.clock.next = self.clock.val();
        self.lfsr_b.clock.next = self.clock.val();
        self.row_word.next = self.lfsr_a.word.val();
        self.col_word.next = self.lfsr_b.word.val();
        self.lfsr_a.advance.next = false;
        self.lfsr_a.load.next = false;
        self.lfsr_a.load_state.next = self.row_base.q.val();
        self.capture_row.d.next = false;
        if self.drain.ev.val() {
            if !self.drain.ev_lastrow.val() {
                self.lfsr_a.advance.next = true;
            } else if self.drain.ev_rowend.val() {
                self.lfsr_a.advance.next = true;
                self.capture_row.d.next = true;
            } else if !self.capture_row.q.val() {
                // (When the start is being captured this very cycle, at a tile period of one
                // cycle, the generator already holds it.)
                self.lfsr_a.load.next = true;
            }
        }
        if self.capture_row.q.val() {
            self.row_base.d.next = self.lfsr_a.state.val();
        }
        // LFSR B shows column q's word in cycle ev_first + q and steps after each; after the
        // last column it holds the next column tile's first word, or, at the end of a row
        // tile, reloads column 0's.
        self.cw_now.next = self.cw_idx.q.val();
        self.cw_rowend_now.next = self.cw_rowend.q.val();
        if self.drain.ev_first.val() {
            self.cw_now.next = self.zero16.val();
            self.cw_rowend_now.next = self.drain.ev_rowend.val();
            self.cw_rowend.d.next = self.drain.ev_rowend.val();
        }
        self.cw_busy.d.next = false;
        self.lfsr_b.advance.next = false;
        self.lfsr_b.load.next = false;
        // Column 0's word is the seed itself: `col_state` holds for the whole GEMM.
        self.lfsr_b.load_state.next = self.col_state.val();
        if self.drain.ev_first.val() || self.cw_busy.q.val() {
            if self.cw_now.val() != self.cols_minus1.val() {
                self.lfsr_b.advance.next = true;
                self.cw_busy.d.next = true;
                self.cw_idx.d.next = self.cw_now.val() + self.one16.val();
            } else if self.cw_rowend_now.val() {
                self.lfsr_b.load.next = true;
            } else {
                self.lfsr_b.advance.next = true;
            }
        }
        if self.phase.q.val() == self.idle.val() && self.start.val() {
            self.lfsr_a.load.next = true;
            self.lfsr_a.load_state.next = self.row_state.val();
            self.lfsr_b.load.next = true;
            self.lfsr_b.load_state.next = self.col_state.val();
        }
        if self.phase.q.val() == self.divide.val() && self.cnt.q.val() == self.div_steps16.val() {
            // The row seed, as loaded: the row generator is rewound to it later.
            self.row_base.d.next = self.lfsr_a.state.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Runs the controller alone and returns, per C bank, how often each address was written,
    /// the per-cycle A read addresses, and the busy cycles.
    fn run<const R: usize, const C: usize>(
        m: usize,
        k: usize,
        n: usize,
    ) -> (Vec<BTreeMap<u64, usize>>, Vec<Vec<u64>>, u64) {
        let mut uut = Controller::<R, C>::default();
        uut.connect_all();
        uut.m.next = bits(m as u64);
        uut.k.next = bits(k as u64);
        uut.n.next = bits(n as u64);
        uut.row_state.next = bits(1);
        uut.col_state.next = bits(1);
        uut.start.next = true;
        clock_cycle!(&mut uut);
        uut.start.next = false;
        let mut writes = vec![BTreeMap::new(); C];
        let mut a_reads = vec![];
        let mut busy = 0;
        while uut.busy.val() {
            busy += 1;
            for (q, bank) in writes.iter_mut().enumerate() {
                if uut.c_we[q].val() {
                    *bank.entry(uut.c_addr[q].val().to_u64()).or_insert(0) += 1;
                }
            }
            a_reads.push(uut.a_addr.iter().map(|s| s.val().to_u64()).collect());
            clock_cycle!(&mut uut);
            assert!(busy < 100_000);
        }
        (writes, a_reads, busy)
    }

    #[test]
    fn every_element_of_c_is_written_once_in_its_layout_slot() {
        for (m, k, n) in [(5, 3, 7), (1, 1, 1), (4, 9, 8), (3, 1, 2)] {
            let (writes, _, busy) = run::<2, 4>(m, k, n);
            let blocks = n.div_ceil(4);
            for (q, bank) in writes.iter().enumerate() {
                // Columns j >= N of a ragged tile land in padding slots; rows i >= M never.
                let want: BTreeMap<u64, usize> = (0..m)
                    .flat_map(|i| (0..blocks).map(move |b| ((i * blocks + b) as u64, 1)))
                    .collect();
                assert_eq!(bank, &want, "{m}x{k}x{n}, bank {q}");
            }
            // The core is busy for the launch cycle(s) too.
            assert_eq!(
                busy + LAUNCH_CYCLES as u64,
                gemm_cycles(2, 4, m, k, n),
                "{m}x{k}x{n}"
            );
        }
    }

    #[test]
    fn bank_reads_are_skewed_one_cycle_per_row() {
        let (_, a_reads, _) = run::<3, 5>(3, 40, 5);
        // Somewhere in the stream, bank p shows what bank 0 showed p cycles earlier.
        let mut checked = 0;
        for t in 2..a_reads.len() {
            for p in 1..3 {
                assert_eq!(a_reads[t][p], a_reads[t - p][0], "cycle {t}, bank {p}");
                checked += 1;
            }
        }
        assert!(checked > 50);
    }
}
