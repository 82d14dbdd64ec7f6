//! GEMM parameters, validation, the readable scalar GEMM and the overflow bound (numerics §3, §6).

use crate::convert::{convert, wrap48, ACC_BITS};
use crate::error::ModelError;
use crate::format::{check_fl, Rounding};
use crate::lfsr::{seed_states, Lfsr, LFSR_A_MASK, LFSR_B_MASK};
use crate::matrix::Matrix;

/// Everything about a GEMM except its operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmParams {
    /// Fractional length of A.
    pub fl_a: u8,
    /// Fractional length of B.
    pub fl_b: u8,
    /// Fractional length of C (and of `C_in` when accumulating).
    pub fl_c: u8,
    /// The rounding of the single conversion per output element.
    pub rounding: Rounding,
    /// Start state of LFSR A: row `i` uses word `i` of this stream.
    pub row_state: u32,
    /// Start state of LFSR B: column `j` uses word `j` of this stream.
    pub col_state: u32,
}

impl GemmParams {
    /// Parameters with the LFSR start states derived from `seed` ([`seed_states`]).
    pub fn from_seed(seed: u64, fl_a: u8, fl_b: u8, fl_c: u8, rounding: Rounding) -> GemmParams {
        let (row_state, col_state) = seed_states(seed);
        GemmParams {
            fl_a,
            fl_b,
            fl_c,
            rounding,
            row_state,
            col_state,
        }
    }

    /// The conversion shift `s = FL_A + FL_B - FL_C`.
    pub fn shift(&self) -> i32 {
        i32::from(self.fl_a) + i32::from(self.fl_b) - i32::from(self.fl_c)
    }

    /// Checks the formats and the LFSR states.
    pub fn validate(&self) -> Result<(), ModelError> {
        check_fl('A', self.fl_a)?;
        check_fl('B', self.fl_b)?;
        check_fl('C', self.fl_c)?;
        if self.row_state == 0 {
            return Err(ModelError::ZeroLfsrState { which: 'A' });
        }
        if self.col_state == 0 {
            return Err(ModelError::ZeroLfsrState { which: 'B' });
        }
        Ok(())
    }

    /// The parameters of the sub-block starting at row `i0`, column `j0` of this GEMM's output:
    /// same formats, LFSR states advanced by `i0` and `j0` words (numerics §5, "Offsets").
    pub fn offset(&self, i0: u64, j0: u64) -> GemmParams {
        let mut row = Lfsr::new(self.row_state, LFSR_A_MASK);
        let mut col = Lfsr::new(self.col_state, LFSR_B_MASK);
        row.jump_words(i0);
        col.jump_words(j0);
        GemmParams {
            row_state: row.state,
            col_state: col.state,
            ..*self
        }
    }

    /// The `m` row words and `n` column words of this GEMM.
    pub fn random_words(&self, m: usize, n: usize) -> (Vec<u16>, Vec<u16>) {
        (
            Lfsr::new(self.row_state, LFSR_A_MASK).words(m),
            Lfsr::new(self.col_state, LFSR_B_MASK).words(n),
        )
    }
}

/// The checked shape `(M, K, N)` of a GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmShape {
    /// Rows of op(A) and C.
    pub m: usize,
    /// Columns of op(A), rows of op(B).
    pub k: usize,
    /// Columns of op(B) and C.
    pub n: usize,
}

/// Validates a GEMM (formats, shapes, K, accumulation) and returns its shape.
pub fn validate_gemm(
    a: &Matrix,
    trans_a: bool,
    b: &Matrix,
    trans_b: bool,
    c_in: Option<&Matrix>,
    p: &GemmParams,
) -> Result<GemmShape, ModelError> {
    validate_gemm_shapes(
        a.op_shape(trans_a),
        b.op_shape(trans_b),
        c_in.map(|c| (c.rows, c.cols)),
        p,
    )
}

/// [`validate_gemm`] from the shapes alone: `op_a` and `op_b` are `(rows, cols)` of op(A) and
/// op(B), `c_in` the shape of the accumulated C if any.
pub fn validate_gemm_shapes(
    op_a: (usize, usize),
    op_b: (usize, usize),
    c_in: Option<(usize, usize)>,
    p: &GemmParams,
) -> Result<GemmShape, ModelError> {
    p.validate()?;
    let (m, k) = op_a;
    let (kb, n) = op_b;
    if k != kb {
        return Err(ModelError::InnerDimMismatch {
            a_rows: m,
            a_cols: k,
            b_rows: kb,
            b_cols: n,
        });
    }
    if k == 0 {
        return Err(ModelError::EmptyInnerDim { m, n });
    }
    if m == 0 || n == 0 {
        return Err(ModelError::EmptyOutput { m, n });
    }
    if let Some((c_rows, c_cols)) = c_in {
        if (c_rows, c_cols) != (m, n) {
            return Err(ModelError::AccumulatorShapeMismatch {
                c_rows,
                c_cols,
                m,
                n,
            });
        }
        if p.shift() < 0 {
            return Err(ModelError::AccumulateNegativeShift {
                fl_a: p.fl_a,
                fl_b: p.fl_b,
                fl_c: p.fl_c,
                shift: p.shift(),
            });
        }
    }
    Ok(GemmShape { m, k, n })
}

/// `C = op(A)·op(B) (+ C_in)`, written as the plain triple loop of numerics §6.
///
/// This is the specification in code; [`crate::gemm`] computes the same bits faster.
// Index loops on purpose: they read like the formula of numerics §6.
#[allow(clippy::needless_range_loop)]
pub fn gemm_scalar(
    a: &Matrix,
    trans_a: bool,
    b: &Matrix,
    trans_b: bool,
    c_in: Option<&Matrix>,
    p: &GemmParams,
) -> Result<Matrix, ModelError> {
    let GemmShape { m, k, n } = validate_gemm(a, trans_a, b, trans_b, c_in, p)?;
    let s = p.shift();
    let (row_words, col_words) = p.random_words(m, n);
    let mut c = Matrix::zeros(m, n);
    for i in 0..m {
        for j in 0..n {
            let init = c_in.map_or(0, |c| i64::from(c.get(i, j)) << s);
            let mut acc = init;
            for kk in 0..k {
                let prod =
                    i64::from(a.op_get(trans_a, i, kk)) * i64::from(b.op_get(trans_b, kk, j));
                acc = wrap48(acc + prod);
            }
            let r = row_words[i] ^ col_words[j];
            c.set(i, j, convert(wrap48(acc), s, p.rounding, r));
        }
    }
    Ok(c)
}

/// A static bound on `|init + Σ a_k·b_k|` for every output element:
/// `K · max|A| · max|B| + max|C_in| · 2^s` (the second term only when accumulating, `s >= 0`).
pub fn max_abs_product_sum_bound(
    a: &Matrix,
    b: &Matrix,
    k: usize,
    c_in: Option<&Matrix>,
    shift: i32,
) -> u128 {
    let products = k as u128 * u128::from(a.max_abs()) * u128::from(b.max_abs());
    let init = c_in.map_or(0, |c| u128::from(c.max_abs()) << shift.max(0));
    products + init
}

/// Whether the 48-bit accumulator of this GEMM can wrap (the bound exceeds `2^47 - 1`).
///
/// `false` guarantees every accumulator is the true sum; `true` only means it is possible.
/// The shape is not validated; K is taken from op(A).
pub fn may_overflow(
    a: &Matrix,
    trans_a: bool,
    b: &Matrix,
    c_in: Option<&Matrix>,
    p: &GemmParams,
) -> bool {
    let k = a.op_shape(trans_a).1;
    max_abs_product_sum_bound(a, b, k, c_in, p.shift()) > (1u128 << (ACC_BITS - 1)) - 1
}
