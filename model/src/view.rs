//! Strided views of 16-bit matrices: a tensor as it lies in device memory (row `i` starts
//! `i · stride` words after the first element). The device engine computes on its memory
//! through these, so a GEMM or an update costs no copy in or out.

use crate::error::ModelError;
use crate::matrix::Matrix;

/// Words a `rows x cols` tensor with row stride `stride` spans (0 when empty).
fn span(rows: usize, cols: usize, stride: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1).checked_mul(stride)?.checked_add(cols)
}

fn check(rows: usize, cols: usize, stride: usize, len: usize) -> Result<(), ModelError> {
    let bad = || ModelError::BadView {
        rows,
        cols,
        stride,
        len,
    };
    if rows > 0 && stride < cols {
        return Err(bad());
    }
    match span(rows, cols, stride) {
        Some(words) if words <= len => Ok(()),
        _ => Err(bad()),
    }
}

/// A read-only `rows x cols` view: element `(i, j)` is `data[i * stride + j]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Words from one row's start to the next (at least `cols`).
    pub stride: usize,
    /// The storage, from element `(0, 0)`; at least the span of the view long.
    pub data: &'a [i16],
}

impl<'a> MatRef<'a> {
    /// A view; errors if `stride < cols` or `data` is shorter than the view's span.
    pub fn new(
        rows: usize,
        cols: usize,
        stride: usize,
        data: &'a [i16],
    ) -> Result<MatRef<'a>, ModelError> {
        check(rows, cols, stride, data.len())?;
        Ok(MatRef {
            rows,
            cols,
            stride,
            data,
        })
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &'a [i16] {
        &self.data[i * self.stride..][..self.cols]
    }

    /// `(rows, cols)` of `op(self)`.
    pub fn op_shape(&self, trans: bool) -> (usize, usize) {
        if trans {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    /// The largest magnitude of an element of the view (32768 for `i16::MIN`).
    pub fn max_abs(&self) -> u32 {
        let (lo, hi) = (0..self.rows)
            .flat_map(|i| self.row(i))
            .fold((0i16, 0i16), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        (-i32::from(lo)).max(i32::from(hi)) as u32
    }

    /// The view's elements as a dense matrix.
    pub fn to_matrix(&self) -> Matrix {
        let mut data = Vec::with_capacity(self.rows * self.cols);
        for i in 0..self.rows {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data,
        }
    }
}

/// A writable `rows x cols` view: element `(i, j)` is `data[i * stride + j]`.
#[derive(Debug)]
pub struct MatMut<'a> {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Words from one row's start to the next (at least `cols`).
    pub stride: usize,
    /// The storage, from element `(0, 0)`; at least the span of the view long.
    pub data: &'a mut [i16],
}

impl<'a> MatMut<'a> {
    /// A view; errors if `stride < cols` or `data` is shorter than the view's span.
    pub fn new(
        rows: usize,
        cols: usize,
        stride: usize,
        data: &'a mut [i16],
    ) -> Result<MatMut<'a>, ModelError> {
        check(rows, cols, stride, data.len())?;
        Ok(MatMut {
            rows,
            cols,
            stride,
            data,
        })
    }

    /// Row `i`.
    pub fn row_mut(&mut self, i: usize) -> &mut [i16] {
        &mut self.data[i * self.stride..][..self.cols]
    }

    /// Row `i`, read-only.
    pub fn row(&self, i: usize) -> &[i16] {
        &self.data[i * self.stride..][..self.cols]
    }

    /// The same view, read-only.
    pub fn as_ref(&self) -> MatRef<'_> {
        MatRef {
            rows: self.rows,
            cols: self.cols,
            stride: self.stride,
            data: self.data,
        }
    }
}

impl Matrix {
    /// The whole matrix as a view.
    pub fn view(&self) -> MatRef<'_> {
        MatRef {
            rows: self.rows,
            cols: self.cols,
            stride: self.cols,
            data: &self.data,
        }
    }

    /// The whole matrix as a writable view.
    pub fn view_mut(&mut self) -> MatMut<'_> {
        MatMut {
            rows: self.rows,
            cols: self.cols,
            stride: self.cols,
            data: &mut self.data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_check_their_span() {
        let data = [1i16, 2, 3, 4, 5, 6, 7];
        let v = MatRef::new(2, 3, 4, &data).unwrap();
        assert_eq!(v.row(1), &[5, 6, 7]);
        assert_eq!(v.to_matrix().data, vec![1, 2, 3, 5, 6, 7]);
        assert_eq!(v.max_abs(), 7);
        assert!(MatRef::new(2, 3, 5, &data).is_err(), "span 8 > 7 words");
        assert!(MatRef::new(2, 3, 2, &data).is_err(), "stride below cols");
        assert!(MatRef::new(0, 3, 0, &data).is_ok());
        let mut d = data;
        let mut m = MatMut::new(2, 2, 5, &mut d).unwrap();
        m.row_mut(1).copy_from_slice(&[-8, 9]);
        assert_eq!(m.as_ref().max_abs(), 9);
        assert_eq!(d, [1, 2, 3, 4, 5, -8, 9]);
    }

    #[test]
    fn max_abs_ignores_the_padding_between_rows() {
        let data = [1i16, i16::MIN, 2];
        assert_eq!(MatRef::new(2, 1, 2, &data).unwrap().max_abs(), 2);
        assert_eq!(MatRef::new(1, 2, 2, &data).unwrap().max_abs(), 32768);
    }
}
