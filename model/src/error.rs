//! The errors of the model, reported before any work is done.

use thiserror::Error;

/// Everything the model can refuse to compute, with the offending values in the message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModelError {
    /// A fractional length outside `0..=15` (numerics §1).
    #[error("FL_{which} = {value} is out of range: a fractional length must be in 0..=15")]
    BadFl {
        /// Which operand's format: `'A'`, `'B'` or `'C'` (or `'?'` for a bare value).
        which: char,
        /// The rejected value.
        value: u8,
    },
    /// `op(A)` is M x K but `op(B)` is K' x N with K != K'.
    #[error(
        "dimension mismatch: op(A) is {a_rows}x{a_cols} but op(B) is {b_rows}x{b_cols}; \
         the columns of op(A) must equal the rows of op(B)"
    )]
    InnerDimMismatch {
        /// Rows of op(A) (M).
        a_rows: usize,
        /// Columns of op(A) (K).
        a_cols: usize,
        /// Rows of op(B) (K').
        b_rows: usize,
        /// Columns of op(B) (N).
        b_cols: usize,
    },
    /// The accumulated C does not have the shape of the product.
    #[error("dimension mismatch: C_in is {c_rows}x{c_cols} but op(A)·op(B) is {m}x{n}")]
    AccumulatorShapeMismatch {
        /// Rows of `C_in`.
        c_rows: usize,
        /// Columns of `C_in`.
        c_cols: usize,
        /// Rows of the product (M).
        m: usize,
        /// Columns of the product (N).
        n: usize,
    },
    /// K = 0: numerics §6 makes this an error rather than an empty sum.
    #[error("K = 0: op(A) is {m}x0 and op(B) is 0x{n}; a GEMM needs K >= 1")]
    EmptyInnerDim {
        /// Rows of op(A).
        m: usize,
        /// Columns of op(B).
        n: usize,
    },
    /// M = 0 or N = 0: numerics §6 requires M, N >= 1.
    #[error("empty output: op(A)·op(B) would be {m}x{n}; a GEMM needs M >= 1 and N >= 1")]
    EmptyOutput {
        /// Rows of the product.
        m: usize,
        /// Columns of the product.
        n: usize,
    },
    /// Accumulation with `s = FL_A + FL_B - FL_C < 0` is undefined (numerics §6).
    #[error(
        "accumulation needs s = FL_A + FL_B - FL_C >= 0, got s = {fl_a} + {fl_b} - {fl_c} = {shift}"
    )]
    AccumulateNegativeShift {
        /// FL_A.
        fl_a: u8,
        /// FL_B.
        fl_b: u8,
        /// FL_C.
        fl_c: u8,
        /// The resulting shift.
        shift: i32,
    },
    /// A strided view whose stride is below its width, or whose span runs past its storage.
    #[error(
        "bad view: {rows}x{cols} with row stride {stride} does not fit in {len} words \
         (the stride must be at least the columns)"
    )]
    BadView {
        /// Rows of the view.
        rows: usize,
        /// Columns of the view.
        cols: usize,
        /// Its row stride.
        stride: usize,
        /// Words of storage it was given.
        len: usize,
    },
    /// `Matrix::new` was given a buffer of the wrong length.
    #[error("data length mismatch: a {rows}x{cols} matrix needs {expected} elements, got {len}")]
    DataLength {
        /// Requested rows.
        rows: usize,
        /// Requested columns.
        cols: usize,
        /// `rows * cols`.
        expected: usize,
        /// Length of the buffer given.
        len: usize,
    },
    /// An LFSR start state of zero would stay zero forever (numerics §5).
    #[error("LFSR {which} start state is 0; start states must be nonzero")]
    ZeroLfsrState {
        /// `'A'` (row generator) or `'B'` (column generator).
        which: char,
    },
    /// [`crate::gemm_with_kernel`] was asked for a kernel this CPU or build cannot run.
    #[error("GEMM kernel {0} is not available on this CPU or in this build")]
    KernelUnavailable(String),
    /// A string that names no rounding mode.
    #[error("unknown rounding mode {0:?}: expected \"truncate\", \"nearest\" or \"stochastic\"")]
    UnknownRounding(String),
    /// Two tensors of one vector operation differ in shape (numerics §7).
    #[error(
        "shape mismatch: {what} is {rows}x{cols} but the operation is on {want_rows}x{want_cols}"
    )]
    ShapeMismatch {
        /// Which operand.
        what: &'static str,
        /// Its rows.
        rows: usize,
        /// Its columns.
        cols: usize,
        /// Rows expected.
        want_rows: usize,
        /// Columns expected.
        want_cols: usize,
    },
    /// The update shift `s = FL_G + FL_eta - FL_W` (or `s + g`) is outside `0..=30` (numerics §7.4).
    #[error("update shift {what} = {value} is outside 0..=30 (s = FL_G + FL_eta - FL_W, g = grid shift)")]
    UpdateShift {
        /// `"s"` or `"s + g"`.
        what: &'static str,
        /// The rejected value.
        value: i32,
    },
    /// An update parameter outside its domain (FL_eta > 31, grid shift > 15).
    #[error("update parameter {what} = {value} is outside 0..={max}")]
    UpdateParam {
        /// Which parameter.
        what: &'static str,
        /// The rejected value.
        value: u32,
        /// Its largest legal value.
        max: u32,
    },
    /// The quantized ReLU needs `1 <= bits <= 8` (numerics §7.3).
    #[error("qrelu bits = {0} is outside 1..=8")]
    QreluBits(u8),
    /// The quantized ReLU needs a step `alpha > 0` (numerics §7.3).
    #[error("qrelu alpha = {0} must be > 0")]
    QreluAlpha(i16),
    /// The update's clamp is empty.
    #[error("update clamp is empty: w_min = {w_min} > w_max = {w_max}")]
    ClampOrder {
        /// Lower bound.
        w_min: i16,
        /// Upper bound.
        w_max: i16,
    },
}
