//! `GemmUnit<R, C>`: a whole GEMM from device memory to device memory on one [`GemmCore`]
//! (docs/hardware.md, "GEMM unit").

use super::piece_plan::PiecePlanner;
use crate::controller::dimension_mask;
use crate::core::{GemmCore, SCRATCH_ADDR_BITS, TARGET_A, TARGET_B, TARGET_C};
use crate::extend::ZeroExtend;
use crate::lfsr::Lfsr;
use qtrain_model::{LFSR_A_MASK, LFSR_B_MASK};
use rust_hdl::prelude::*;

const AB: usize = SCRATCH_ADDR_BITS;

// Unit phases (plain codes: Verilator -Wall rejects rust-hdl enums).
const IDLE: u64 = 0;
const PLAN: u64 = 1;
const PIECE: u64 = 2;
const SETUP: u64 = 3;
const STREAM: u64 = 4;
const RUN: u64 = 5;
const WAIT: u64 = 6;
const TAIL: u64 = 7;

// What a stream moves: the three loads use the core's `wr_target` codes, the drain is the 4th.
const DRAIN: u64 = 3;

/// Runs `C = op(A) · op(B)` (or `+ C` with `accumulate`) from device memory to device memory,
/// cutting M and N into pieces that fit the core's scratchpads ([`super::piece_plan`] gives
/// their sizes; docs/hardware.md, "GEMM unit", the schedule).
///
/// Pieces go row piece by row piece, column pieces inner. Per piece the unit streams, one
/// word per cycle through the memory's one-cycle read: op(A) of the row piece (only in its
/// first column piece: the core does not modify A), op(B) of the column piece (skipped when
/// all of N is one piece and it is already loaded), `C_in` with `accumulate`; then runs the
/// core and streams C back out. The row and column LFSRs hold the words of the piece's first
/// row and column from its loads until its drain, which steps them on to the next piece's
/// (the column LFSR once per word of the first row of C, the row LFSR once per row of C in a
/// row piece's last column piece), so each piece starts from the words of its first row and
/// column, as in the whole GEMM.
#[derive(LogicBlock)]
pub struct GemmUnit<const R: usize, const C: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// One-cycle pulse while not busy: run the GEMM the descriptor describes.
    pub start: Signal<In, Bit>,
    /// High from the cycle after `start` until the last word of C is written.
    pub busy: Signal<Out, Bit>,
    /// Cycles `busy` was high for the last GEMM (counts up during a GEMM).
    pub cycles: Signal<Out, Bits<32>>,
    /// Memory word address read this cycle.
    pub mem_rd_addr: Signal<Out, Bits<32>>,
    /// The word at the address presented in the previous cycle.
    pub mem_rd_data: Signal<In, Bits<16>>,
    /// Write `mem_wr_data` at `mem_wr_addr` at the next edge.
    pub mem_wr_en: Signal<Out, Bit>,
    /// Memory word address to write.
    pub mem_wr_addr: Signal<Out, Bits<32>>,
    /// The word to write.
    pub mem_wr_data: Signal<Out, Bits<16>>,
    /// Address of A (K x M when `trans_a`, else M x K).
    pub a_addr: Signal<In, Bits<32>>,
    /// Address of B (N x K when `trans_b`, else K x N).
    pub b_addr: Signal<In, Bits<32>>,
    /// Address of C (M x N).
    pub c_addr: Signal<In, Bits<32>>,
    /// Row stride of A as stored.
    pub a_stride: Signal<In, Bits<16>>,
    /// Row stride of B as stored.
    pub b_stride: Signal<In, Bits<16>>,
    /// Row stride of C.
    pub c_stride: Signal<In, Bits<16>>,
    /// Rows of op(A) and C.
    pub m: Signal<In, Bits<16>>,
    /// Reduction length (1..=the scratchpad bank size).
    pub k: Signal<In, Bits<16>>,
    /// Columns of op(B) and C.
    pub n: Signal<In, Bits<16>>,
    /// op(A) = A^T.
    pub trans_a: Signal<In, Bit>,
    /// op(B) = B^T.
    pub trans_b: Signal<In, Bit>,
    /// C = op(A) · op(B) + C (C is read first).
    pub accumulate: Signal<In, Bit>,
    /// Format of A.
    pub fl_a: Signal<In, Bits<4>>,
    /// Format of B.
    pub fl_b: Signal<In, Bits<4>>,
    /// Format of C.
    pub fl_c: Signal<In, Bits<4>>,
    /// 0 truncate, 1 nearest, 2 stochastic.
    pub rounding: Signal<In, Bits<2>>,
    /// LFSR A state of row 0.
    pub row_state: Signal<In, Bits<32>>,
    /// LFSR B state of column 0.
    pub col_state: Signal<In, Bits<32>>,
    core: GemmCore<R, C>,
    planner: PiecePlanner<R, C>,
    lfsr_a: Lfsr,
    lfsr_b: Lfsr,
    ext_as: ZeroExtend<16, 32>,
    ext_bs: ZeroExtend<16, 32>,
    ext_cs: ZeroExtend<16, 32>,
    ext_np: ZeroExtend<16, 32>,
    state: DFF<Bits<3>>,
    mode: DFF<Bits<2>>,
    cycle_count: DFF<Bits<32>>,
    // Piece sequencing: rows and columns left from the piece's first, its size, its C-bank
    // row stride (column tiles), and column tiles left.
    m_left: DFF<Bits<16>>,
    n_left: DFF<Bits<16>>,
    mp: DFF<Bits<16>>,
    np: DFF<Bits<16>>,
    nblk: DFF<Bits<16>>,
    tiles_left: DFF<Bits<16>>,
    j_first: DFF<Bit>,
    i_first: DFF<Bit>,
    // Memory address of the next row of A / column of B to load, of the piece's C[i0][j0],
    // and of C[i0 + Mp][0] (found while draining a row piece's first column piece).
    a_next: DFF<Bits<32>>,
    b_next: DFF<Bits<32>>,
    c_piece: DFF<Bits<32>>,
    c_next_row: DFF<Bits<32>>,
    // The drain is in its piece's first row of C (where the column LFSR steps).
    first_line: DFF<Bit>,
    // The stream: a 2-D walk, `outer` lines of `inner` words; memory address = line base +
    // index * istep, line bases ostep apart; scratchpad address = sp_hi + sp_lo in `bank`.
    s_addr: DFF<Bits<32>>,
    s_line: DFF<Bits<32>>,
    s_istep: DFF<Bits<32>>,
    s_ostep: DFF<Bits<32>>,
    s_inner: DFF<Bits<16>>,
    s_inner_last: DFF<Bits<16>>,
    s_outer_left: DFF<Bits<16>>,
    s_bank: DFF<Bits<8>>,
    s_sp_hi: DFF<Bits<AB>>,
    s_sp_lo: DFF<Bits<AB>>,
    // The word read from memory reaches the core a cycle later, as does a word read from C.
    ld_valid: DFF<Bit>,
    ld_target: DFF<Bits<2>>,
    ld_bank: DFF<Bits<8>>,
    ld_addr: DFF<Bits<AB>>,
    st_valid: DFF<Bit>,
    st_addr: DFF<Bits<32>>,
    sp: Signal<Local, Bits<AB>>,
    line_end: Signal<Local, Bit>,
    bank_last: Signal<Local, Bits<8>>,
    load_b: Signal<Local, Bit>,
    next_line: Signal<Local, Bits<32>>,
    ph_idle: Constant<Bits<3>>,
    ph_plan: Constant<Bits<3>>,
    ph_piece: Constant<Bits<3>>,
    ph_setup: Constant<Bits<3>>,
    ph_stream: Constant<Bits<3>>,
    ph_run: Constant<Bits<3>>,
    ph_wait: Constant<Bits<3>>,
    ph_tail: Constant<Bits<3>>,
    md_a: Constant<Bits<2>>,
    md_b: Constant<Bits<2>>,
    md_c: Constant<Bits<2>>,
    md_drain: Constant<Bits<2>>,
    rows_last: Constant<Bits<8>>,
    cols_last: Constant<Bits<8>>,
    zero8: Constant<Bits<8>>,
    one8: Constant<Bits<8>>,
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    // The bits the piece counters need ([`GemmUnit::with_dimension_limit`]).
    dim_mask: Constant<Bits<16>>,
    zero32: Constant<Bits<32>>,
    one32: Constant<Bits<32>>,
    zero_sp: Constant<Bits<AB>>,
    one_sp: Constant<Bits<AB>>,
}

impl<const R: usize, const C: usize> Default for GemmUnit<R, C> {
    /// Scratchpad banks of the full `2^SCRATCH_ADDR_BITS` words.
    fn default() -> Self {
        Self::new(1 << SCRATCH_ADDR_BITS)
    }
}

impl<const R: usize, const C: usize> GemmUnit<R, C> {
    /// A unit whose core has scratchpad banks of `2^cap_bits` words (`cap_bits <=
    /// SCRATCH_ADDR_BITS`), so that tests can force many pieces on small GEMMs. K must then be
    /// at most `2^cap_bits`.
    pub fn with_capacity_bits(cap_bits: usize) -> Self {
        assert!(cap_bits <= SCRATCH_ADDR_BITS);
        Self::new(1 << cap_bits)
    }

    /// This unit for GEMMs whose M, N and K are at most `limit` (a power of two), as on a
    /// device whose memory and banks are no larger: the piece counters (rows and columns left,
    /// piece sizes, tiles, stream positions), and the core's, then keep `log2(limit) + 1`
    /// bits, the rest constant zero for synthesis to drop (on the iCEBreaker's 1,024-word
    /// device, 5 of 16 bits in each of fifteen counters).
    pub fn with_dimension_limit(mut self, limit: usize) -> Self {
        self.dim_mask = Constant::new(bits(dimension_mask(limit)));
        self.core = self.core.with_dimension_limit(limit);
        self
    }

    /// This unit with its core's converter windows in DSP multipliers
    /// ([`GemmCore::with_windows_in_dsps`]).
    pub fn with_windows_in_dsps(mut self) -> Self {
        self.core = self.core.with_windows_in_dsps();
        self
    }

    /// A unit whose core has scratchpad banks of `scratch_words` words (a power of two, at
    /// most `2^SCRATCH_ADDR_BITS`), with pieces planned for that size. K must be at most
    /// `scratch_words`.
    pub fn new(scratch_words: usize) -> Self {
        assert!(
            scratch_words.is_power_of_two() && scratch_words <= 1 << SCRATCH_ADDR_BITS,
            "scratchpad banks of {scratch_words} words"
        );
        let cap_bits = scratch_words.trailing_zeros() as usize;
        let c3 = |x: u64| Constant::new(bits(x));
        let c2 = |x: u64| Constant::new(bits(x));
        GemmUnit {
            clock: Default::default(),
            start: Default::default(),
            busy: Default::default(),
            cycles: Default::default(),
            mem_rd_addr: Default::default(),
            mem_rd_data: Default::default(),
            mem_wr_en: Default::default(),
            mem_wr_addr: Default::default(),
            mem_wr_data: Default::default(),
            a_addr: Default::default(),
            b_addr: Default::default(),
            c_addr: Default::default(),
            a_stride: Default::default(),
            b_stride: Default::default(),
            c_stride: Default::default(),
            m: Default::default(),
            k: Default::default(),
            n: Default::default(),
            trans_a: Default::default(),
            trans_b: Default::default(),
            accumulate: Default::default(),
            fl_a: Default::default(),
            fl_b: Default::default(),
            fl_c: Default::default(),
            rounding: Default::default(),
            row_state: Default::default(),
            col_state: Default::default(),
            core: GemmCore::with_scratch_words(scratch_words).with_held_config(),
            planner: PiecePlanner::new(cap_bits),
            lfsr_a: Lfsr::new(LFSR_A_MASK),
            lfsr_b: Lfsr::new(LFSR_B_MASK),
            ext_as: Default::default(),
            ext_bs: Default::default(),
            ext_cs: Default::default(),
            ext_np: Default::default(),
            state: Default::default(),
            mode: Default::default(),
            cycle_count: Default::default(),
            m_left: Default::default(),
            n_left: Default::default(),
            mp: Default::default(),
            np: Default::default(),
            nblk: Default::default(),
            tiles_left: Default::default(),
            j_first: Default::default(),
            i_first: Default::default(),
            a_next: Default::default(),
            b_next: Default::default(),
            c_piece: Default::default(),
            c_next_row: Default::default(),
            first_line: Default::default(),
            s_addr: Default::default(),
            s_line: Default::default(),
            s_istep: Default::default(),
            s_ostep: Default::default(),
            s_inner: Default::default(),
            s_inner_last: Default::default(),
            s_outer_left: Default::default(),
            s_bank: Default::default(),
            s_sp_hi: Default::default(),
            s_sp_lo: Default::default(),
            ld_valid: Default::default(),
            ld_target: Default::default(),
            ld_bank: Default::default(),
            ld_addr: Default::default(),
            st_valid: Default::default(),
            st_addr: Default::default(),
            sp: Default::default(),
            line_end: Default::default(),
            bank_last: Default::default(),
            load_b: Default::default(),
            next_line: Default::default(),
            ph_idle: c3(IDLE),
            ph_plan: c3(PLAN),
            ph_piece: c3(PIECE),
            ph_setup: c3(SETUP),
            ph_stream: c3(STREAM),
            ph_run: c3(RUN),
            ph_wait: c3(WAIT),
            ph_tail: c3(TAIL),
            md_a: c2(TARGET_A),
            md_b: c2(TARGET_B),
            md_c: c2(TARGET_C),
            md_drain: c2(DRAIN),
            rows_last: Constant::new(bits(R as u64 - 1)),
            cols_last: Constant::new(bits(C as u64 - 1)),
            zero8: Constant::new(bits(0)),
            one8: Constant::new(bits(1)),
            zero16: Constant::new(bits(0)),
            one16: Constant::new(bits(1)),
            dim_mask: Constant::new(bits(0xFFFF)),
            zero32: Constant::new(bits(0)),
            one32: Constant::new(bits(1)),
            zero_sp: Constant::new(bits(0)),
            one_sp: Constant::new(bits(1)),
        }
    }
}

impl<const R: usize, const C: usize> Logic for GemmUnit<R, C> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            state,
            mode,
            cycle_count,
            m_left,
            n_left,
            mp,
            np,
            nblk,
            tiles_left,
            j_first,
            i_first,
            a_next,
            b_next,
            c_piece,
            c_next_row,
            first_line,
            s_addr,
            s_line,
            s_istep,
            s_ostep,
            s_inner,
            s_inner_last,
            s_outer_left,
            s_bank,
            s_sp_hi,
            s_sp_lo,
            ld_valid,
            ld_target,
            ld_bank,
            ld_addr,
            st_valid,
            st_addr
        );
        self.core.clock.next = self.clock.val();
        self.planner.clock.next = self.clock.val();
        self.lfsr_a.clock.next = self.clock.val();
        self.lfsr_b.clock.next = self.clock.val();
        self.ext_as.inp.next = self.a_stride.val();
        self.ext_bs.inp.next = self.b_stride.val();
        self.ext_cs.inp.next = self.c_stride.val();
        self.ext_np.inp.next = self.np.q.val();

        self.busy.next = self.state.q.val() != self.ph_idle.val();
        self.cycles.next = self.cycle_count.q.val();
        if self.state.q.val() != self.ph_idle.val() {
            self.cycle_count.d.next = self.cycle_count.q.val() + self.one32.val();
        }

        // ---- The core: the piece's configuration, loads and drain reads.
        self.core.m.next = self.mp.q.val();
        self.core.k.next = self.k.val();
        self.core.n.next = self.np.q.val();
        self.core.fl_a.next = self.fl_a.val();
        self.core.fl_b.next = self.fl_b.val();
        self.core.fl_c.next = self.fl_c.val();
        self.core.rounding.next = self.rounding.val();
        self.core.accumulate.next = self.accumulate.val();
        // The generators hold the piece's first row and column words from its loads until its
        // drain, which steps them on to the next piece's (see `update`'s drain).
        self.core.row_state.next = self.lfsr_a.state.val();
        self.core.col_state.next = self.lfsr_b.state.val();
        self.core.start.next = self.state.q.val() == self.ph_run.val();
        self.core.wr_en.next = self.ld_valid.q.val();
        self.core.wr_target.next = self.ld_target.q.val();
        self.core.wr_bank.next = self.ld_bank.q.val();
        self.core.wr_addr.next = self.ld_addr.q.val();
        self.core.wr_data.next = self.mem_rd_data.val();
        self.sp.next = self.s_sp_hi.q.val() + self.s_sp_lo.q.val();
        self.core.rd_bank.next = self.s_bank.q.val();
        self.core.rd_addr.next = self.sp.val();

        // ---- Memory: loads read at the stream address, the drain writes a cycle after its
        // read of the core's C bank.
        self.mem_rd_addr.next = self.s_addr.q.val();
        self.mem_wr_en.next = self.st_valid.q.val();
        self.mem_wr_addr.next = self.st_addr.q.val();
        self.mem_wr_data.next = self.core.rd_data.val();
        self.ld_valid.d.next = false;
        self.st_valid.d.next = false;

        // ---- Planner and LFSRs.
        self.planner.start.next = false;
        self.planner.k.next = self.k.val();
        self.planner.n.next = self.n.val();
        self.lfsr_a.load.next = false;
        self.lfsr_a.advance.next = false;
        self.lfsr_a.load_state.next = self.row_state.val();
        self.lfsr_b.load.next = false;
        self.lfsr_b.advance.next = false;
        self.lfsr_b.load_state.next = self.col_state.val();

        // op(B) needs no reload when all of N is one piece, after the first row piece.
        self.load_b.next = self.i_first.q.val() || (self.planner.np_max.val() < self.n.val());
        self.line_end.next = self.s_inner.q.val() == self.s_inner_last.q.val();
        self.next_line.next = self.s_line.q.val() + self.s_ostep.q.val();
        self.bank_last.next = self.cols_last.val();
        if self.mode.q.val() == self.md_a.val() {
            self.bank_last.next = self.rows_last.val();
        }

        if self.state.q.val() == self.ph_idle.val() {
            if self.start.val() {
                self.state.d.next = self.ph_plan.val();
                self.planner.start.next = true;
                self.cycle_count.d.next = self.zero32.val();
                self.lfsr_a.load.next = true;
                self.lfsr_b.load.next = true;
                self.m_left.d.next = self.m.val() & self.dim_mask.val();
                self.n_left.d.next = self.n.val() & self.dim_mask.val();
                self.j_first.d.next = true;
                self.i_first.d.next = true;
                self.a_next.d.next = self.a_addr.val();
                self.b_next.d.next = self.b_addr.val();
                self.c_piece.d.next = self.c_addr.val();
            }
        } else if self.state.q.val() == self.ph_plan.val() {
            if !self.planner.busy.val() {
                self.tiles_left.d.next = self.planner.nt.val() & self.dim_mask.val();
                self.state.d.next = self.ph_piece.val();
            }
        } else if self.state.q.val() == self.ph_piece.val() {
            self.mp.d.next = self.m_left.q.val();
            if self.planner.mp_max.val() < self.m_left.q.val() {
                self.mp.d.next = self.planner.mp_max.val() & self.dim_mask.val();
            }
            self.np.d.next = self.n_left.q.val();
            if self.planner.np_max.val() < self.n_left.q.val() {
                self.np.d.next = self.planner.np_max.val() & self.dim_mask.val();
            }
            self.nblk.d.next = self.tiles_left.q.val();
            if self.planner.tn.val() < self.tiles_left.q.val() {
                self.nblk.d.next = self.planner.tn.val() & self.dim_mask.val();
            }
            self.state.d.next = self.ph_setup.val();
            if self.j_first.q.val() {
                self.mode.d.next = self.md_a.val();
            } else {
                self.mode.d.next = self.md_b.val();
            }
        } else if self.state.q.val() == self.ph_setup.val() {
            self.state.d.next = self.ph_stream.val();
            self.s_inner.d.next = self.zero16.val();
            self.s_bank.d.next = self.zero8.val();
            self.s_sp_hi.d.next = self.zero_sp.val();
            self.s_sp_lo.d.next = self.zero_sp.val();
            self.first_line.d.next = true;
            if self.mode.q.val() == self.md_a.val() {
                // op(A)[i][k] is A[i][k], or A[k][i] when transposed.
                self.s_addr.d.next = self.a_next.q.val();
                self.s_line.d.next = self.a_next.q.val();
                self.s_inner_last.d.next = (self.k.val() - self.one16.val()) & self.dim_mask.val();
                self.s_outer_left.d.next = self.mp.q.val();
                if self.trans_a.val() {
                    self.s_istep.d.next = self.ext_as.out.val();
                    self.s_ostep.d.next = self.one32.val();
                } else {
                    self.s_istep.d.next = self.one32.val();
                    self.s_ostep.d.next = self.ext_as.out.val();
                }
            } else if self.mode.q.val() == self.md_b.val() {
                // op(B)[k][j] is B[k][j], or B[j][k] when transposed.
                self.s_addr.d.next = self.b_next.q.val();
                self.s_line.d.next = self.b_next.q.val();
                self.s_inner_last.d.next = (self.k.val() - self.one16.val()) & self.dim_mask.val();
                self.s_outer_left.d.next = self.np.q.val();
                if self.trans_b.val() {
                    self.s_istep.d.next = self.one32.val();
                    self.s_ostep.d.next = self.ext_bs.out.val();
                } else {
                    self.s_istep.d.next = self.ext_bs.out.val();
                    self.s_ostep.d.next = self.one32.val();
                }
            } else {
                // C_in in and C out walk the piece of C row by row.
                self.s_addr.d.next = self.c_piece.q.val();
                self.s_line.d.next = self.c_piece.q.val();
                self.s_inner_last.d.next =
                    (self.np.q.val() - self.one16.val()) & self.dim_mask.val();
                self.s_outer_left.d.next = self.mp.q.val();
                self.s_istep.d.next = self.one32.val();
                self.s_ostep.d.next = self.ext_cs.out.val();
            }
        } else if self.state.q.val() == self.ph_stream.val() {
            if self.mode.q.val() == self.md_drain.val() {
                self.st_valid.d.next = true;
                self.st_addr.d.next = self.s_addr.q.val();
            } else {
                self.ld_valid.d.next = true;
                self.ld_target.d.next = self.mode.q.val();
                self.ld_bank.d.next = self.s_bank.q.val();
                self.ld_addr.d.next = self.sp.val();
            }
            // The drain steps the column LFSR once per word of the piece's first row (Np
            // words: on to the next column piece's first word) ...
            self.lfsr_b.advance.next =
                (self.mode.q.val() == self.md_drain.val()) && self.first_line.q.val();
            if self.line_end.val() {
                self.first_line.d.next = false;
                self.s_inner.d.next = self.zero16.val();
                self.s_line.d.next = self.next_line.val();
                self.s_addr.d.next = self.next_line.val();
                self.s_outer_left.d.next =
                    (self.s_outer_left.q.val() - self.one16.val()) & self.dim_mask.val();
                self.s_sp_lo.d.next = self.zero_sp.val();
                if (self.mode.q.val() == self.md_a.val()) || (self.mode.q.val() == self.md_b.val())
                {
                    // A line of op(A) / op(B) goes to the next bank; a full set of banks moves
                    // on by K words.
                    if self.s_bank.q.val() == self.bank_last.val() {
                        self.s_bank.d.next = self.zero8.val();
                        self.s_sp_hi.d.next = self.s_sp_hi.q.val() + self.k.val().get_bits::<AB>(0);
                    } else {
                        self.s_bank.d.next = self.s_bank.q.val() + self.one8.val();
                    }
                } else {
                    // A row of C moves on by ceil(Np / C) words in every bank.
                    self.s_bank.d.next = self.zero8.val();
                    self.s_sp_hi.d.next =
                        self.s_sp_hi.q.val() + self.nblk.q.val().get_bits::<AB>(0);
                }
                // ... and, in a row piece's last column piece, the row LFSR once per row (Mp rows:
                // on to the next row piece's first word). After the last column piece the
                // column LFSR is reloaded with column 0's state instead.
                self.lfsr_a.advance.next = (self.mode.q.val() == self.md_drain.val())
                    && (self.n_left.q.val() == self.np.q.val());
                if self.s_outer_left.q.val() == self.one16.val() {
                    // The stream's last word: what comes next.
                    if self.mode.q.val() == self.md_a.val() {
                        self.a_next.d.next = self.next_line.val();
                        if self.load_b.val() {
                            self.mode.d.next = self.md_b.val();
                            self.state.d.next = self.ph_setup.val();
                        } else if self.accumulate.val() {
                            self.mode.d.next = self.md_c.val();
                            self.state.d.next = self.ph_setup.val();
                        } else {
                            self.state.d.next = self.ph_run.val();
                        }
                    } else if self.mode.q.val() == self.md_b.val() {
                        self.b_next.d.next = self.next_line.val();
                        if self.accumulate.val() {
                            self.mode.d.next = self.md_c.val();
                            self.state.d.next = self.ph_setup.val();
                        } else {
                            self.state.d.next = self.ph_run.val();
                        }
                    } else if self.mode.q.val() == self.md_c.val() {
                        self.state.d.next = self.ph_run.val();
                    } else {
                        if self.j_first.q.val() {
                            self.c_next_row.d.next = self.next_line.val();
                        }
                        self.state.d.next = self.ph_tail.val();
                    }
                }
            } else {
                self.s_inner.d.next =
                    (self.s_inner.q.val() + self.one16.val()) & self.dim_mask.val();
                self.s_addr.d.next = self.s_addr.q.val() + self.s_istep.q.val();
                if (self.mode.q.val() == self.md_a.val()) || (self.mode.q.val() == self.md_b.val())
                {
                    self.s_sp_lo.d.next = self.s_sp_lo.q.val() + self.one_sp.val();
                } else if self.s_bank.q.val() == self.bank_last.val() {
                    self.s_bank.d.next = self.zero8.val();
                    self.s_sp_lo.d.next = self.s_sp_lo.q.val() + self.one_sp.val();
                } else {
                    self.s_bank.d.next = self.s_bank.q.val() + self.one8.val();
                }
            }
        } else if self.state.q.val() == self.ph_run.val() {
            self.state.d.next = self.ph_wait.val();
        } else if self.state.q.val() == self.ph_wait.val() {
            if !self.core.busy.val() {
                self.mode.d.next = self.md_drain.val();
                self.state.d.next = self.ph_setup.val();
            }
        } else {
            // The drain's last word is being written: on to the next piece.
            self.state.d.next = self.ph_piece.val();
            if self.n_left.q.val() == self.np.q.val() {
                if self.m_left.q.val() == self.mp.q.val() {
                    self.state.d.next = self.ph_idle.val();
                }
                self.m_left.d.next = (self.m_left.q.val() - self.mp.q.val()) & self.dim_mask.val();
                self.n_left.d.next = self.n.val() & self.dim_mask.val();
                self.tiles_left.d.next = self.planner.nt.val() & self.dim_mask.val();
                self.j_first.d.next = true;
                self.i_first.d.next = false;
                self.b_next.d.next = self.b_addr.val();
                self.c_piece.d.next = self.c_next_row.q.val();
                self.lfsr_b.load.next = true;
            } else {
                self.n_left.d.next = (self.n_left.q.val() - self.np.q.val()) & self.dim_mask.val();
                self.tiles_left.d.next =
                    (self.tiles_left.q.val() - self.nblk.q.val()) & self.dim_mask.val();
                self.j_first.d.next = false;
                self.c_piece.d.next = self.c_piece.q.val() + self.ext_np.out.val();
            }
        }
    }
}

mod cycles;
pub use cycles::{gemm_unit_cycles, gemm_unit_phases, UnitPhases};

#[cfg(test)]
mod tests;
