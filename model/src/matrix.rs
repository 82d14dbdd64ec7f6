//! A dense row-major matrix of 16-bit fixed-point words.

use crate::error::ModelError;

/// A `rows x cols` matrix of raw 16-bit words, row-major (`data[i * cols + j]`).
///
/// The format (FL) is not stored: each GEMM names the formats of its operands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns (also the row stride).
    pub cols: usize,
    /// The elements, row after row; `data.len() == rows * cols`.
    pub data: Vec<i16>,
}

impl Matrix {
    /// A matrix from row-major data; errors if `data.len() != rows * cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<i16>) -> Result<Matrix, ModelError> {
        let expected = rows.checked_mul(cols);
        if expected != Some(data.len()) {
            return Err(ModelError::DataLength {
                rows,
                cols,
                expected: expected.unwrap_or(usize::MAX),
                len: data.len(),
            });
        }
        Ok(Matrix { rows, cols, data })
    }

    /// The all-zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Matrix {
        Matrix {
            rows,
            cols,
            data: vec![0; rows * cols],
        }
    }

    /// A matrix whose element `(i, j)` is `f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> i16) -> Matrix {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Matrix { rows, cols, data }
    }

    /// Element `(i, j)`.
    ///
    /// # Panics
    /// If `i >= rows` or `j >= cols`.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> i16 {
        assert!(
            i < self.rows && j < self.cols,
            "index ({i}, {j}) out of a {}x{} matrix",
            self.rows,
            self.cols
        );
        self.data[i * self.cols + j]
    }

    /// Sets element `(i, j)`.
    ///
    /// # Panics
    /// If `i >= rows` or `j >= cols`.
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, v: i16) {
        assert!(
            i < self.rows && j < self.cols,
            "index ({i}, {j}) out of a {}x{} matrix",
            self.rows,
            self.cols
        );
        self.data[i * self.cols + j] = v;
    }

    /// Row `i` as a slice.
    pub fn row(&self, i: usize) -> &[i16] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The transpose, as a new matrix.
    pub fn transpose(&self) -> Matrix {
        Matrix::from_fn(self.cols, self.rows, |i, j| self.data[j * self.cols + i])
    }

    /// `(rows, cols)` of `op(self)`: swapped when `trans`.
    pub fn op_shape(&self, trans: bool) -> (usize, usize) {
        if trans {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    /// Element `(i, j)` of `op(self)`.
    #[inline]
    pub fn op_get(&self, trans: bool, i: usize, j: usize) -> i16 {
        if trans {
            self.get(j, i)
        } else {
            self.get(i, j)
        }
    }

    /// The largest `|x|` over the elements (32768 for -32768), 0 when empty.
    pub fn max_abs(&self) -> u32 {
        // Min and max in i16 (which vectorizes well), then the larger magnitude.
        let (lo, hi) = self
            .data
            .iter()
            .fold((0i16, 0i16), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        (-i32::from(lo)).max(i32::from(hi)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_abs_counts_the_most_negative_value() {
        assert_eq!(Matrix::zeros(0, 3).max_abs(), 0);
        assert_eq!(Matrix::new(1, 3, vec![3, -7, 5]).unwrap().max_abs(), 7);
        assert_eq!(
            Matrix::new(1, 2, vec![i16::MIN, 1]).unwrap().max_abs(),
            32768
        );
        assert_eq!(
            Matrix::new(1, 2, vec![i16::MAX, -5]).unwrap().max_abs(),
            32767
        );
    }

    #[test]
    fn transpose_and_op_access() {
        let m = Matrix::from_fn(2, 3, |i, j| (10 * i + j) as i16);
        let t = m.transpose();
        assert_eq!((t.rows, t.cols), (3, 2));
        for i in 0..2 {
            for j in 0..3 {
                assert_eq!(t.get(j, i), m.get(i, j));
                assert_eq!(m.op_get(true, j, i), m.get(i, j));
            }
        }
        assert_eq!(m.op_shape(true), (3, 2));
        assert_eq!(m.row(1), &[10, 11, 12]);
    }
}
