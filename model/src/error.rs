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
}
