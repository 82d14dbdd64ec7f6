//! The element-wise execution unit of the device (numerics §7): BIAS_ADD, RELU, RELU_MASK,
//! QRELU, QRELU_MASK and UPDATE over strided tensors in device memory.

use crate::convert::{Convert, ROUND_NEAREST};
use crate::device::qrelu_level::QreluLevel;
use crate::extend::{MulU16S16, SignExtend, ZeroExtend};
use crate::lfsr::Lfsr;
use qtrain_model::{LFSR_A_MASK, LFSR_B_MASK};
use rust_hdl::prelude::*;

/// `op` code of BIAS_ADD (command code 0x30 minus 0x30).
pub const OP_BIAS_ADD: u64 = 0;
/// `op` code of RELU.
pub const OP_RELU: u64 = 1;
/// `op` code of RELU_MASK.
pub const OP_RELU_MASK: u64 = 2;
/// `op` code of QRELU.
pub const OP_QRELU: u64 = 3;
/// `op` code of QRELU_MASK.
pub const OP_QRELU_MASK: u64 = 4;
/// `op` code of UPDATE.
pub const OP_UPDATE: u64 = 5;

// Phases of the per-element sequence (plain codes: Verilator -Wall rejects rust-hdl enums).
const IDLE: u64 = 0;
// Read X of the first element.
const READ_X: u64 = 1;
// Read D (or b, or G); X arrives.
const READ_D: u64 = 2;
// D arrives: the element is computed or its conversion/division starts; pointers advance.
const CAPTURE: u64 = 3;
// The conversion's first stage (BIAS_ADD, UPDATE).
const CONVERT: u64 = 4;
// The conversion's result: grid and clamp (UPDATE).
const FINISH: u64 = 5;
// Waiting for the QRELU division.
const DIVIDE: u64 = 6;
// Write Y; read X of the next element.
const WRITE: u64 = 7;

/// Executes one element-wise command of numerics §7 over a `rows x cols` row-major tensor, one
/// element at a time, through the memory master interface (one synchronous read and one
/// write per cycle).
///
/// Each element is read (X, then D / b / G), computed and written before the next element's
/// D is read; the write of element `e` shares its cycle with the read of X of element `e + 1`
/// (a different word: strides are at least `cols`, and Y is X or shares no word with it).
/// Cycles per element: RELU and RELU_MASK 3, BIAS_ADD and UPDATE 5, QRELU and QRELU_MASK
/// `bits + 4`; plus one cycle per command. BIAS_ADD and UPDATE share one [`Convert`]:
/// `sat16(X + align(b))` is `convert(X · 2^k + b · 2^p, k, nearest)` with `k = max(0, -d)`,
/// `p = max(0, d)`, `d = FL_X - FL_b`, because `X · 2^k` is a multiple of `2^k`.
#[derive(LogicBlock)]
pub struct VectorUnit {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// One-cycle pulse while not busy: run the command described by the inputs.
    pub start: Signal<In, Bit>,
    /// High from the cycle after `start` until the last write is done.
    pub busy: Signal<Out, Bit>,
    /// Word address read this cycle.
    pub mem_rd_addr: Signal<Out, Bits<32>>,
    /// The word at the `mem_rd_addr` of the previous cycle.
    pub mem_rd_data: Signal<In, Bits<16>>,
    /// Write `mem_wr_data` at `mem_wr_addr` at the next edge.
    pub mem_wr_en: Signal<Out, Bit>,
    /// Write address.
    pub mem_wr_addr: Signal<Out, Bits<32>>,
    /// Write data.
    pub mem_wr_data: Signal<Out, Bits<16>>,
    /// The command code minus 0x30 (see `OP_*`).
    pub op: Signal<In, Bits<3>>,
    /// X (UPDATE: W).
    pub x_addr: Signal<In, Bits<32>>,
    /// Row stride of X.
    pub x_stride: Signal<In, Bits<16>>,
    /// D (UPDATE: G).
    pub d_addr: Signal<In, Bits<32>>,
    /// Row stride of D.
    pub d_stride: Signal<In, Bits<16>>,
    /// Y (UPDATE: W again).
    pub y_addr: Signal<In, Bits<32>>,
    /// Row stride of Y.
    pub y_stride: Signal<In, Bits<16>>,
    /// BIAS_ADD's bias vector, one word per column.
    pub b_addr: Signal<In, Bits<32>>,
    /// Rows of the tensors (>= 1).
    pub rows: Signal<In, Bits<16>>,
    /// Columns of the tensors (>= 1).
    pub cols: Signal<In, Bits<16>>,
    /// BIAS_ADD: FL of X and Y.
    pub fl_x: Signal<In, Bits<4>>,
    /// BIAS_ADD: FL of b.
    pub fl_b: Signal<In, Bits<4>>,
    /// QRELU step (raw, positive).
    pub alpha: Signal<In, Bits<16>>,
    /// QRELU bits, 1..=8.
    pub bits: Signal<In, Bits<4>>,
    /// UPDATE: FL of W.
    pub fl_w: Signal<In, Bits<4>>,
    /// UPDATE: FL of G.
    pub fl_g: Signal<In, Bits<4>>,
    /// UPDATE: FL of eta.
    pub fl_eta: Signal<In, Bits<5>>,
    /// UPDATE: rounding code (see [`Convert`]).
    pub rounding: Signal<In, Bits<2>>,
    /// UPDATE: the learning rate's raw unsigned word.
    pub eta_q: Signal<In, Bits<16>>,
    /// UPDATE: grid shift g.
    pub grid_shift: Signal<In, Bits<4>>,
    /// UPDATE: grid offset o (raw).
    pub grid_offset: Signal<In, Bits<16>>,
    /// UPDATE: lower clamp (raw).
    pub w_min: Signal<In, Bits<16>>,
    /// UPDATE: upper clamp (raw).
    pub w_max: Signal<In, Bits<16>>,
    /// UPDATE: LFSR A start state (row words).
    pub row_state: Signal<In, Bits<32>>,
    /// UPDATE: LFSR B start state (column words).
    pub col_state: Signal<In, Bits<32>>,
    state: DFF<Bits<3>>,
    row: DFF<Bits<16>>,
    col: DFF<Bits<16>>,
    x_row: DFF<Bits<32>>,
    x_el: DFF<Bits<32>>,
    d_row: DFF<Bits<32>>,
    d_el: DFF<Bits<32>>,
    y_row: DFF<Bits<32>>,
    y_el: DFF<Bits<32>>,
    // The element in flight: its Y address, whether it is the last, X, D, random word.
    y_wr: DFF<Bits<32>>,
    last: DFF<Bit>,
    xv: DFF<Bits<16>>,
    dv: DFF<Bits<16>>,
    r_el: DFF<Bits<16>>,
    acc: DFF<Bits<48>>,
    shift: DFF<Bits<6>>,
    round: DFF<Bits<2>>,
    result: DFF<Bits<16>>,
    row_lfsr: Lfsr,
    col_lfsr: Lfsr,
    conv: Convert,
    level: QreluLevel,
    mul: MulU16S16,
    x_stride32: ZeroExtend<16, 32>,
    d_stride32: ZeroExtend<16, 32>,
    y_stride32: ZeroExtend<16, 32>,
    x48: SignExtend<16, 48>,
    d48: SignExtend<16, 48>,
    o48: SignExtend<16, 48>,
    q32: SignExtend<16, 32>,
    o32: SignExtend<16, 32>,
    min32: SignExtend<16, 32>,
    max32: SignExtend<16, 32>,
    fl_x6: ZeroExtend<4, 6>,
    fl_b6: ZeroExtend<4, 6>,
    fl_w6: ZeroExtend<4, 6>,
    fl_g6: ZeroExtend<4, 6>,
    fl_eta6: ZeroExtend<5, 6>,
    g6: ZeroExtend<4, 6>,
    d_step: Signal<Local, Bits<32>>,
    end_col: Signal<Local, Bit>,
    end_row: Signal<Local, Bit>,
    // BIAS_ADD: shifts of X (k) and of b (p); UPDATE: s.
    k_shift: Signal<Local, Bits<6>>,
    p_shift: Signal<Local, Bits<6>>,
    s_shift: Signal<Local, Bits<6>>,
    grid: Signal<Local, Bits<32>>,
    op_bias: Constant<Bits<3>>,
    op_relu: Constant<Bits<3>>,
    op_relu_mask: Constant<Bits<3>>,
    op_qrelu: Constant<Bits<3>>,
    op_qrelu_mask: Constant<Bits<3>>,
    op_update: Constant<Bits<3>>,
    st_idle: Constant<Bits<3>>,
    st_read_x: Constant<Bits<3>>,
    st_read_d: Constant<Bits<3>>,
    st_capture: Constant<Bits<3>>,
    st_convert: Constant<Bits<3>>,
    st_finish: Constant<Bits<3>>,
    st_divide: Constant<Bits<3>>,
    st_write: Constant<Bits<3>>,
    zero6: Constant<Bits<6>>,
    nearest: Constant<Bits<2>>,
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    zero32: Constant<Bits<32>>,
    one32: Constant<Bits<32>>,
    sign32: Constant<Bits<32>>,
    // False in a GEMM-only device: the unit never leaves IDLE, so synthesis removes it.
    enabled: Constant<Bit>,
}

impl Default for VectorUnit {
    fn default() -> Self {
        VectorUnit::new(true)
    }
}

impl VectorUnit {
    /// The unit; `enabled = false` builds one that ignores `start` and stays idle, with
    /// constant outputs, so that synthesis leaves none of its logic (a GEMM-only device,
    /// [`crate::device::DeviceGeometry::gemm_only`]).
    pub fn new(enabled: bool) -> Self {
        let c3 = |v: u64| Constant::new(bits(v));
        VectorUnit {
            clock: Default::default(),
            start: Default::default(),
            busy: Default::default(),
            mem_rd_addr: Default::default(),
            mem_rd_data: Default::default(),
            mem_wr_en: Default::default(),
            mem_wr_addr: Default::default(),
            mem_wr_data: Default::default(),
            op: Default::default(),
            x_addr: Default::default(),
            x_stride: Default::default(),
            d_addr: Default::default(),
            d_stride: Default::default(),
            y_addr: Default::default(),
            y_stride: Default::default(),
            b_addr: Default::default(),
            rows: Default::default(),
            cols: Default::default(),
            fl_x: Default::default(),
            fl_b: Default::default(),
            alpha: Default::default(),
            bits: Default::default(),
            fl_w: Default::default(),
            fl_g: Default::default(),
            fl_eta: Default::default(),
            rounding: Default::default(),
            eta_q: Default::default(),
            grid_shift: Default::default(),
            grid_offset: Default::default(),
            w_min: Default::default(),
            w_max: Default::default(),
            row_state: Default::default(),
            col_state: Default::default(),
            state: Default::default(),
            row: Default::default(),
            col: Default::default(),
            x_row: Default::default(),
            x_el: Default::default(),
            d_row: Default::default(),
            d_el: Default::default(),
            y_row: Default::default(),
            y_el: Default::default(),
            y_wr: Default::default(),
            last: Default::default(),
            xv: Default::default(),
            dv: Default::default(),
            r_el: Default::default(),
            acc: Default::default(),
            shift: Default::default(),
            round: Default::default(),
            result: Default::default(),
            row_lfsr: Lfsr::new(LFSR_A_MASK),
            col_lfsr: Lfsr::new(LFSR_B_MASK),
            conv: Default::default(),
            level: Default::default(),
            mul: Default::default(),
            x_stride32: Default::default(),
            d_stride32: Default::default(),
            y_stride32: Default::default(),
            x48: Default::default(),
            d48: Default::default(),
            o48: Default::default(),
            q32: Default::default(),
            o32: Default::default(),
            min32: Default::default(),
            max32: Default::default(),
            fl_x6: Default::default(),
            fl_b6: Default::default(),
            fl_w6: Default::default(),
            fl_g6: Default::default(),
            fl_eta6: Default::default(),
            g6: Default::default(),
            d_step: Default::default(),
            end_col: Default::default(),
            end_row: Default::default(),
            k_shift: Default::default(),
            p_shift: Default::default(),
            s_shift: Default::default(),
            grid: Default::default(),
            op_bias: c3(OP_BIAS_ADD),
            op_relu: c3(OP_RELU),
            op_relu_mask: c3(OP_RELU_MASK),
            op_qrelu: c3(OP_QRELU),
            op_qrelu_mask: c3(OP_QRELU_MASK),
            op_update: c3(OP_UPDATE),
            st_idle: c3(IDLE),
            st_read_x: c3(READ_X),
            st_read_d: c3(READ_D),
            st_capture: c3(CAPTURE),
            st_convert: c3(CONVERT),
            st_finish: c3(FINISH),
            st_divide: c3(DIVIDE),
            st_write: c3(WRITE),
            zero6: Constant::new(bits(0)),
            nearest: Constant::new(bits(ROUND_NEAREST)),
            zero16: Constant::new(bits(0)),
            one16: Constant::new(bits(1)),
            zero32: Constant::new(bits(0)),
            one32: Constant::new(bits(1)),
            sign32: Constant::new(bits(0x8000_0000)),
            enabled: Constant::new(enabled),
        }
    }
}

impl Logic for VectorUnit {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, state, row, col, x_row, x_el, d_row, d_el, y_row, y_el, y_wr, last, xv,
            dv, r_el, acc, shift, round, result
        );
        self.row_lfsr.clock.next = self.clock.val();
        self.col_lfsr.clock.next = self.clock.val();
        self.conv.clock.next = self.clock.val();
        self.level.clock.next = self.clock.val();

        // ---- Width changes and the per-command constants of the arithmetic.
        self.x_stride32.inp.next = self.x_stride.val();
        self.d_stride32.inp.next = self.d_stride.val();
        self.y_stride32.inp.next = self.y_stride.val();
        self.x48.inp.next = self.xv.q.val();
        self.d48.inp.next = self.mem_rd_data.val();
        self.o48.inp.next = self.grid_offset.val();
        self.q32.inp.next = self.conv.q.val();
        self.o32.inp.next = self.grid_offset.val();
        self.min32.inp.next = self.w_min.val();
        self.max32.inp.next = self.w_max.val();
        self.fl_x6.inp.next = self.fl_x.val();
        self.fl_b6.inp.next = self.fl_b.val();
        self.fl_w6.inp.next = self.fl_w.val();
        self.fl_g6.inp.next = self.fl_g.val();
        self.fl_eta6.inp.next = self.fl_eta.val();
        self.g6.inp.next = self.grid_shift.val();
        // BIAS_ADD reads b[j] for every row: its "D" has stride 0.
        self.d_step.next = self.d_stride32.out.val();
        if self.op.val() == self.op_bias.val() {
            self.d_step.next = self.zero32.val();
        }
        self.k_shift.next = self.zero6.val();
        self.p_shift.next = self.fl_x6.out.val() - self.fl_b6.out.val();
        if self.fl_x.val() < self.fl_b.val() {
            self.k_shift.next = self.fl_b6.out.val() - self.fl_x6.out.val();
            self.p_shift.next = self.zero6.val();
        }
        self.s_shift.next = self.fl_g6.out.val() + self.fl_eta6.out.val() - self.fl_w6.out.val();
        self.mul.a.next = self.eta_q.val();
        self.mul.b.next = self.mem_rd_data.val();
        self.end_col.next = self.col.q.val() == self.cols.val() - self.one16.val();
        self.end_row.next = self.row.q.val() == self.rows.val() - self.one16.val();

        // ---- r(i, j) = ra(i) ^ cb(j): the row generator moves once per row, the column one
        // restarts from col_state each row and moves once per column.
        self.row_lfsr.load.next = false;
        self.row_lfsr.load_state.next = self.row_state.val();
        self.row_lfsr.advance.next = false;
        self.col_lfsr.load.next = false;
        self.col_lfsr.load_state.next = self.col_state.val();
        self.col_lfsr.advance.next = false;

        // The conversion's inputs come from registers (its first stage is a full cycle).
        self.conv.acc.next = self.acc.q.val();
        self.conv.cin.next = self.zero16.val();
        self.conv.shift.next = self.shift.q.val();
        self.conv.rounding.next = self.round.q.val();
        self.conv.r.next = self.r_el.q.val();
        self.level.start.next = false;
        self.level.x.next = self.xv.q.val();
        self.level.alpha.next = self.alpha.val();
        self.level.bits.next = self.bits.val();
        self.grid.next = self.o32.out.val() + (self.q32.out.val() << self.grid_shift.val());

        self.busy.next = self.state.q.val() != self.st_idle.val();
        self.mem_rd_addr.next = self.x_el.q.val();
        self.mem_wr_en.next = false;
        self.mem_wr_addr.next = self.y_wr.q.val();
        self.mem_wr_data.next = self.result.q.val();

        if self.state.q.val() == self.st_idle.val() {
            if self.start.val() && self.enabled.val() {
                self.row.d.next = self.zero16.val();
                self.col.d.next = self.zero16.val();
                self.x_row.d.next = self.x_addr.val();
                self.x_el.d.next = self.x_addr.val();
                self.y_row.d.next = self.y_addr.val();
                self.y_el.d.next = self.y_addr.val();
                self.d_row.d.next = self.d_addr.val();
                self.d_el.d.next = self.d_addr.val();
                if self.op.val() == self.op_bias.val() {
                    self.d_row.d.next = self.b_addr.val();
                    self.d_el.d.next = self.b_addr.val();
                }
                self.row_lfsr.load.next = true;
                self.col_lfsr.load.next = true;
                self.state.d.next = self.st_read_x.val();
            }
        } else if self.state.q.val() == self.st_read_x.val() {
            self.state.d.next = self.st_read_d.val();
        } else if self.state.q.val() == self.st_read_d.val() {
            self.mem_rd_addr.next = self.d_el.q.val();
            self.xv.d.next = self.mem_rd_data.val();
            self.state.d.next = self.st_capture.val();
        } else if self.state.q.val() == self.st_capture.val() {
            // The element's addresses are all used: move every pointer to the next one.
            self.y_wr.d.next = self.y_el.q.val();
            self.last.d.next = self.end_col.val() && self.end_row.val();
            self.dv.d.next = self.mem_rd_data.val();
            self.r_el.d.next = self.row_lfsr.word.val() ^ self.col_lfsr.word.val();
            if self.end_col.val() {
                self.col.d.next = self.zero16.val();
                self.row.d.next = self.row.q.val() + self.one16.val();
                self.x_row.d.next = self.x_row.q.val() + self.x_stride32.out.val();
                self.x_el.d.next = self.x_row.q.val() + self.x_stride32.out.val();
                self.d_row.d.next = self.d_row.q.val() + self.d_step.val();
                self.d_el.d.next = self.d_row.q.val() + self.d_step.val();
                self.y_row.d.next = self.y_row.q.val() + self.y_stride32.out.val();
                self.y_el.d.next = self.y_row.q.val() + self.y_stride32.out.val();
                self.row_lfsr.advance.next = true;
                self.col_lfsr.load.next = true;
            } else {
                self.col.d.next = self.col.q.val() + self.one16.val();
                self.x_el.d.next = self.x_el.q.val() + self.one32.val();
                self.d_el.d.next = self.d_el.q.val() + self.one32.val();
                self.y_el.d.next = self.y_el.q.val() + self.one32.val();
                self.col_lfsr.advance.next = true;
            }
            self.state.d.next = self.st_write.val();
            self.result.d.next = self.xv.q.val();
            if self.op.val() == self.op_relu.val() {
                if self.xv.q.val().get_bit(15) {
                    self.result.d.next = self.zero16.val();
                }
            } else if self.op.val() == self.op_relu_mask.val() {
                self.result.d.next = self.zero16.val();
                if !self.xv.q.val().get_bit(15) && self.xv.q.val() != self.zero16.val() {
                    self.result.d.next = self.mem_rd_data.val();
                }
            } else if self.op.val() == self.op_qrelu.val()
                || self.op.val() == self.op_qrelu_mask.val()
            {
                self.level.start.next = true;
                self.state.d.next = self.st_divide.val();
            } else if self.op.val() == self.op_bias.val() {
                self.acc.d.next = (self.x48.out.val() << self.k_shift.val())
                    + (self.d48.out.val() << self.p_shift.val());
                self.shift.d.next = self.k_shift.val();
                self.round.d.next = self.nearest.val();
                self.state.d.next = self.st_convert.val();
            } else if self.op.val() == self.op_update.val() {
                // t - o·2^s = (W - o)·2^s - eta_q·G, exact on 48 bits (numerics §7.4).
                self.acc.d.next = ((self.x48.out.val() - self.o48.out.val()) << self.s_shift.val())
                    - self.mul.p.val();
                self.shift.d.next = self.s_shift.val() + self.g6.out.val();
                self.round.d.next = self.rounding.val();
                self.state.d.next = self.st_convert.val();
            }
        } else if self.state.q.val() == self.st_convert.val() {
            self.state.d.next = self.st_finish.val();
        } else if self.state.q.val() == self.st_finish.val() {
            self.result.d.next = self.conv.q.val();
            if self.op.val() == self.op_update.val() {
                // Signed comparisons as unsigned ones with the sign bits flipped.
                self.result.d.next = self.grid.val().get_bits::<16>(0);
                if (self.grid.val() ^ self.sign32.val())
                    < (self.min32.out.val() ^ self.sign32.val())
                {
                    self.result.d.next = self.w_min.val();
                }
                if (self.grid.val() ^ self.sign32.val())
                    > (self.max32.out.val() ^ self.sign32.val())
                {
                    self.result.d.next = self.w_max.val();
                }
            }
            self.state.d.next = self.st_write.val();
        } else if self.state.q.val() == self.st_divide.val() {
            if self.level.done.val() {
                self.result.d.next = self.level.y.val();
                if self.op.val() == self.op_qrelu_mask.val() {
                    self.result.d.next = self.zero16.val();
                    if self.level.pass.val() {
                        self.result.d.next = self.dv.q.val();
                    }
                }
                self.state.d.next = self.st_write.val();
            }
        } else {
            // WRITE (the one remaining code): the read of the next X goes out at the same time.
            self.mem_wr_en.next = true;
            if self.last.q.val() {
                self.state.d.next = self.st_idle.val();
            } else {
                self.state.d.next = self.st_read_d.val();
            }
        }
        // A constant next state: synthesis folds the state register, then everything it gates.
        if !self.enabled.val() {
            self.state.d.next = self.st_idle.val();
        }
    }
}

#[cfg(test)]
#[path = "vector_unit_tests.rs"]
mod tests;
