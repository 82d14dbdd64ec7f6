//! The element-wise operations of a training step (numerics §7), on raw 16-bit tensors.
//!
//! Every function takes whole [`Matrix`] values and returns a new one; the device engine
//! gathers strided tensors into matrices, calls these, and scatters the result back, so the
//! arithmetic lives in exactly one place.

use crate::convert::convert;
use crate::error::ModelError;
use crate::format::{check_fl, sat16, Rounding};
use crate::lfsr::{Lfsr, LFSR_A_MASK, LFSR_B_MASK};
use crate::matrix::Matrix;

/// Largest shift of the update: `s` and `s + g` must both be in `0..=MAX_UPDATE_SHIFT`.
pub const MAX_UPDATE_SHIFT: i32 = 30;
/// Largest `FL_eta` of the learning rate.
pub const MAX_FL_ETA: u8 = 31;
/// Largest grid shift `g` of the update's result grid.
pub const MAX_GRID_SHIFT: u8 = 15;

fn same_shape(what: &'static str, t: &Matrix, like: &Matrix) -> Result<(), ModelError> {
    if t.rows == like.rows && t.cols == like.cols {
        Ok(())
    } else {
        Err(ModelError::ShapeMismatch {
            what,
            rows: t.rows,
            cols: t.cols,
            want_rows: like.rows,
            want_cols: like.cols,
        })
    }
}

fn map2(x: &Matrix, d: &Matrix, f: impl Fn(i16, i16) -> i16) -> Matrix {
    let data = x.data.iter().zip(&d.data).map(|(&a, &b)| f(a, b)).collect();
    Matrix {
        rows: x.rows,
        cols: x.cols,
        data,
    }
}

/// `b` aligned to the format of X (numerics §7.1): `d = FL_X - FL_b`, exact for `d >= 0`,
/// rounded to nearest with ties towards +∞ for `d < 0`.
pub fn align_bias(b: i16, fl_x: u8, fl_b: u8) -> i64 {
    let d = i32::from(fl_x) - i32::from(fl_b);
    let b = i64::from(b);
    if d >= 0 {
        b << d
    } else {
        (b + (1 << (-d - 1))) >> -d
    }
}

/// Bias add (numerics §7.1): `Y[i][j] = sat16(X[i][j] + align(b[j]))`, one bias word per column.
pub fn bias_add(x: &Matrix, b: &[i16], fl_x: u8, fl_b: u8) -> Result<Matrix, ModelError> {
    check_fl('X', fl_x)?;
    check_fl('b', fl_b)?;
    if b.len() != x.cols {
        return Err(ModelError::ShapeMismatch {
            what: "bias vector",
            rows: 1,
            cols: b.len(),
            want_rows: 1,
            want_cols: x.cols,
        });
    }
    let aligned: Vec<i64> = b.iter().map(|&v| align_bias(v, fl_x, fl_b)).collect();
    Ok(Matrix::from_fn(x.rows, x.cols, |i, j| {
        sat16(i128::from(i64::from(x.get(i, j)) + aligned[j]))
    }))
}

/// ReLU (numerics §7.2): `max(x, 0)`.
pub fn relu(x: &Matrix) -> Matrix {
    map2(x, x, |v, _| v.max(0))
}

/// ReLU's backward mask (numerics §7.2): `D` where `X > 0`, else 0.
pub fn relu_mask(x: &Matrix, d: &Matrix) -> Result<Matrix, ModelError> {
    same_shape("D", d, x)?;
    Ok(map2(x, d, |xv, dv| if xv > 0 { dv } else { 0 }))
}

fn check_qrelu(alpha: i16, bits: u8) -> Result<i64, ModelError> {
    if !(1..=8).contains(&bits) {
        return Err(ModelError::QreluBits(bits));
    }
    if alpha <= 0 {
        return Err(ModelError::QreluAlpha(alpha));
    }
    Ok((1i64 << bits) - 1)
}

/// The quantized ReLU of one raw value (numerics §7.3): `sat16(level · α)` with
/// `level = 0` for `x <= 0`, else `min(L, ceil(x / α))`, `L = 2^bits - 1`.
fn qrelu_one(x: i16, alpha: i64, levels: i64) -> i16 {
    let x = i64::from(x);
    if x <= 0 {
        return 0;
    }
    let level = ((x + alpha - 1) / alpha).min(levels);
    sat16(i128::from(level * alpha))
}

/// Quantized ReLU with `2^bits - 1` levels of step `alpha` (numerics §7.3).
pub fn qrelu(x: &Matrix, alpha: i16, bits: u8) -> Result<Matrix, ModelError> {
    let levels = check_qrelu(alpha, bits)?;
    let a = i64::from(alpha);
    Ok(map2(x, x, |v, _| qrelu_one(v, a, levels)))
}

/// The straight-through mask of the quantized ReLU (numerics §7.3): `D` where
/// `0 < X <= L·α` (exact product), else 0.
pub fn qrelu_mask(x: &Matrix, d: &Matrix, alpha: i16, bits: u8) -> Result<Matrix, ModelError> {
    let levels = check_qrelu(alpha, bits)?;
    same_shape("D", d, x)?;
    let top = levels * i64::from(alpha);
    Ok(map2(x, d, |xv, dv| {
        let xv = i64::from(xv);
        if xv > 0 && xv <= top {
            dv
        } else {
            0
        }
    }))
}

/// Everything about a scaled update (numerics §7.4) except its tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateParams {
    /// Fractional length of W.
    pub fl_w: u8,
    /// Fractional length of the gradient G.
    pub fl_g: u8,
    /// The learning rate is `eta_q · 2^-fl_eta`; `0..=31`.
    pub fl_eta: u8,
    /// The learning rate's raw unsigned word.
    pub eta_q: u16,
    /// Rounding of the one conversion per element.
    pub rounding: Rounding,
    /// Grid shift `g` in `0..=15`: results lie on `{o + k · 2^g}`.
    pub grid_shift: u8,
    /// Grid offset `o` (raw word).
    pub grid_offset: i16,
    /// Lower clamp (raw word).
    pub w_min: i16,
    /// Upper clamp (raw word).
    pub w_max: i16,
    /// LFSR A start state: row `i` of W uses its word `i`.
    pub row_state: u32,
    /// LFSR B start state: column `j` of W uses its word `j`.
    pub col_state: u32,
}

impl UpdateParams {
    /// The shift `s = FL_G + FL_eta - FL_W`.
    pub fn shift(&self) -> i32 {
        i32::from(self.fl_g) + i32::from(self.fl_eta) - i32::from(self.fl_w)
    }

    /// Checks every field's domain (numerics §7.4).
    pub fn validate(&self) -> Result<(), ModelError> {
        check_fl('W', self.fl_w)?;
        check_fl('G', self.fl_g)?;
        if self.fl_eta > MAX_FL_ETA {
            return Err(ModelError::UpdateParam {
                what: "FL_eta",
                value: u32::from(self.fl_eta),
                max: u32::from(MAX_FL_ETA),
            });
        }
        if self.grid_shift > MAX_GRID_SHIFT {
            return Err(ModelError::UpdateParam {
                what: "grid shift g",
                value: u32::from(self.grid_shift),
                max: u32::from(MAX_GRID_SHIFT),
            });
        }
        let s = self.shift();
        if !(0..=MAX_UPDATE_SHIFT).contains(&s) {
            return Err(ModelError::UpdateShift {
                what: "s",
                value: s,
            });
        }
        let sg = s + i32::from(self.grid_shift);
        if sg > MAX_UPDATE_SHIFT {
            return Err(ModelError::UpdateShift {
                what: "s + g",
                value: sg,
            });
        }
        if self.w_min > self.w_max {
            return Err(ModelError::ClampOrder {
                w_min: self.w_min,
                w_max: self.w_max,
            });
        }
        if self.row_state == 0 {
            return Err(ModelError::ZeroLfsrState { which: 'A' });
        }
        if self.col_state == 0 {
            return Err(ModelError::ZeroLfsrState { which: 'B' });
        }
        Ok(())
    }

    /// The updated value of one weight `w` with gradient `g` and random word `r` (numerics §7.4).
    pub fn update_one(&self, w: i16, g: i16, r: u16) -> i16 {
        let s = self.shift();
        let gs = i32::from(self.grid_shift);
        let o = i64::from(self.grid_offset);
        // |t| < 2^46 and |o · 2^s| <= 2^45, so the argument of convert fits 48 bits.
        let t = (i64::from(w) << s) - i64::from(self.eta_q) * i64::from(g);
        let k = convert(t - (o << s), s + gs, self.rounding, r);
        let y = o + (i64::from(k) << gs);
        y.clamp(i64::from(self.w_min), i64::from(self.w_max)) as i16
    }
}

/// The scaled update `W <- clamp(Q(W - η·G))` (numerics §7.4); returns the new W.
pub fn update(w: &Matrix, g: &Matrix, p: &UpdateParams) -> Result<Matrix, ModelError> {
    p.validate()?;
    same_shape("G", g, w)?;
    let ra = Lfsr::new(p.row_state, LFSR_A_MASK).words(w.rows);
    let cb = Lfsr::new(p.col_state, LFSR_B_MASK).words(w.cols);
    Ok(Matrix::from_fn(w.rows, w.cols, |i, j| {
        p.update_one(w.get(i, j), g.get(i, j), ra[i] ^ cb[j])
    }))
}
