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
use crate::view::{MatMut, MatRef};

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
    let mut data = Vec::with_capacity(x.data.len());
    for row in x.data.chunks_exact(x.cols.max(1)) {
        data.extend(
            row.iter()
                .zip(&aligned)
                .map(|(&v, &a)| sat16(i128::from(i64::from(v) + a))),
        );
    }
    Ok(Matrix {
        rows: x.rows,
        cols: x.cols,
        data,
    })
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
    let mut out = w.clone();
    update_into(out.view_mut(), g.view(), p)?;
    Ok(out)
}

/// [`update`] on strided views, W updated in place: the device engine's form, which copies
/// nothing out of device memory.
pub fn update_into(mut w: MatMut<'_>, g: MatRef<'_>, p: &UpdateParams) -> Result<(), ModelError> {
    p.validate()?;
    if (g.rows, g.cols) != (w.rows, w.cols) {
        return Err(ModelError::ShapeMismatch {
            what: "G",
            rows: g.rows,
            cols: g.cols,
            want_rows: w.rows,
            want_cols: w.cols,
        });
    }
    let ra = Lfsr::new(p.row_state, LFSR_A_MASK).words(w.rows);
    let cb = Lfsr::new(p.col_state, LFSR_B_MASK).words(w.cols);
    let kernel = UpdateKernel::new(p);
    for (i, &row_word) in ra.iter().enumerate() {
        kernel.row(w.row_mut(i), g.row(i), &cb, row_word);
    }
    Ok(())
}

/// [`UpdateParams::update_one`] with everything that does not depend on the element worked
/// out once: the update is the hot loop of a training step, and re-deriving the shift and
/// rounding addend per element cost about a third of it. Valid only for validated params,
/// whose bounds (numerics §7.4) keep the conversion argument inside 48 bits, so
/// [`convert`]'s range checks cannot fire and are left out.
struct UpdateKernel {
    /// `s`.
    shift: u32,
    /// `s + g`, the conversion shift.
    conv_shift: u32,
    /// `g`.
    grid_shift: u32,
    /// `o`.
    offset: i64,
    /// `o · 2^s`.
    offset_scaled: i64,
    eta: i64,
    /// The addend when it does not depend on the random word (truncate, nearest, or no shift).
    fixed_addend: i64,
    /// The random word's bits that enter the addend: all of them for stochastic rounding
    /// with a shift, none otherwise.
    r_mask: u16,
    /// The addend of stochastic rounding is `(r >> r_right) << r_left` (numerics §4).
    r_right: u32,
    r_left: u32,
    w_min: i64,
    w_max: i64,
}

impl UpdateKernel {
    fn new(p: &UpdateParams) -> UpdateKernel {
        let shift = p.shift() as u32;
        let grid_shift = u32::from(p.grid_shift);
        let conv_shift = shift + grid_shift;
        let offset = i64::from(p.grid_offset);
        let (fixed_addend, r_mask) = match p.rounding {
            _ if conv_shift == 0 => (0, 0),
            Rounding::Truncate => (0, 0),
            Rounding::Nearest => (1i64 << (conv_shift - 1), 0),
            Rounding::Stochastic => (0, u16::MAX),
        };
        UpdateKernel {
            shift,
            conv_shift,
            grid_shift,
            offset,
            offset_scaled: offset << shift,
            eta: i64::from(p.eta_q),
            fixed_addend,
            r_mask,
            r_right: 16 - conv_shift.min(16),
            r_left: conv_shift.saturating_sub(16),
            w_min: i64::from(p.w_min),
            w_max: i64::from(p.w_max),
        }
    }

    /// One row of W, in place: `w[j]` from `w[j]`, `g[j]` and the random word
    /// `row_word ^ col_words[j]`.
    /// The same integer arithmetic in every variant: the vector ones only let the compiler
    /// use wider registers for it.
    fn row(&self, w: &mut [i16], g: &[i16], col_words: &[u16], row_word: u16) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512dq")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512vl")
            {
                // SAFETY: the features the function enables were detected just above.
                return unsafe { self.row_avx512(w, g, col_words, row_word) };
            }
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: as above.
                return unsafe { self.row_avx2(w, g, col_words, row_word) };
            }
        }
        self.row_body(w, g, col_words, row_word);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
    unsafe fn row_avx512(&self, w: &mut [i16], g: &[i16], cb: &[u16], rw: u16) {
        self.row_body(w, g, cb, rw);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn row_avx2(&self, w: &mut [i16], g: &[i16], cb: &[u16], rw: u16) {
        self.row_body(w, g, cb, rw);
    }

    #[inline(always)]
    fn row_body(&self, w: &mut [i16], g: &[i16], cb: &[u16], rw: u16) {
        let n = w.len();
        // Equal lengths up front let the loop run without bounds checks, hence vectorize.
        let (g, cb) = (&g[..n], &cb[..n]);
        for j in 0..n {
            w[j] = self.apply(w[j], g[j], rw ^ cb[j]);
        }
    }

    #[inline(always)]
    fn apply(&self, w: i16, g: i16, r: u16) -> i16 {
        let t = (i64::from(w) << self.shift) - self.eta * i64::from(g);
        let addend =
            self.fixed_addend + ((i64::from(r & self.r_mask) >> self.r_right) << self.r_left);
        let q = (t - self.offset_scaled + addend) >> self.conv_shift;
        let k = q.clamp(i64::from(i16::MIN), i64::from(i16::MAX));
        let y = self.offset + (k << self.grid_shift);
        y.clamp(self.w_min, self.w_max) as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lfsr::splitmix64;

    /// The hoisted kernel must give `update_one`'s bits for every field combination,
    /// including the extreme words and every rounding, shift and grid.
    #[test]
    fn update_matches_update_one_everywhere() {
        let mut n = 0u64;
        let mut next = || {
            n += 1;
            splitmix64(0x5EED, n)
        };
        let roundings = [Rounding::Truncate, Rounding::Nearest, Rounding::Stochastic];
        let mut checked = 0;
        for case in 0..3000 {
            let fl_w = (next() % 16) as u8;
            let fl_g = (next() % 16) as u8;
            let fl_eta = (next() % 32) as u8;
            let grid_shift = (next() % 16) as u8;
            let (a, b) = (next() as i16, next() as i16);
            let p = UpdateParams {
                fl_w,
                fl_g,
                fl_eta,
                eta_q: next() as u16,
                rounding: roundings[case % 3],
                grid_shift,
                grid_offset: next() as i16,
                w_min: if case % 4 == 0 { i16::MIN } else { a.min(b) },
                w_max: if case % 4 == 0 { i16::MAX } else { a.max(b) },
                row_state: (next() as u32) | 1,
                col_state: (next() as u32) | 2,
            };
            if p.validate().is_err() {
                continue;
            }
            let (rows, cols) = (1 + (next() % 4) as usize, 1 + (next() % 40) as usize);
            let word = |v: u64| match v % 8 {
                0 => i16::MIN,
                1 => i16::MAX,
                2 => 0,
                _ => (v >> 8) as i16,
            };
            let w = Matrix::from_fn(rows, cols, |_, _| word(next()));
            let g = Matrix::from_fn(rows, cols, |_, _| word(next()));
            let ra = Lfsr::new(p.row_state, LFSR_A_MASK).words(rows);
            let cb = Lfsr::new(p.col_state, LFSR_B_MASK).words(cols);
            let want = Matrix::from_fn(rows, cols, |i, j| {
                p.update_one(w.get(i, j), g.get(i, j), ra[i] ^ cb[j])
            });
            assert_eq!(update(&w, &g, &p).unwrap(), want, "{p:?}");
            checked += 1;
        }
        assert!(checked > 500, "only {checked} valid parameter sets drawn");
    }
}
