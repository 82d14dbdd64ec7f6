//! Readable reports of where two results of the same GEMM differ.

use std::fmt::Write;

use crate::Matrix;

/// How many operand elements a report lists before eliding the rest.
const SHOWN: usize = 48;

/// Compares two results of `C = op(A) · op(B)` and describes the first element (in row-major
/// order) that differs: its indices, the expected and actual words (decimal and hex), how many
/// elements differ in all, and the row of op(A) and column of op(B) that produced it.
/// Returns `None` when the matrices are identical.
pub fn first_mismatch(
    expected: &Matrix,
    actual: &Matrix,
    a: &Matrix,
    trans_a: bool,
    b: &Matrix,
    trans_b: bool,
) -> Option<String> {
    if (expected.rows, expected.cols) != (actual.rows, actual.cols) {
        return Some(format!(
            "C has the wrong shape: expected {}x{}, got {}x{}",
            expected.rows, expected.cols, actual.rows, actual.cols
        ));
    }
    let diffs = expected
        .data
        .iter()
        .zip(&actual.data)
        .filter(|(e, a)| e != a)
        .count();
    let first = expected
        .data
        .iter()
        .zip(&actual.data)
        .position(|(e, a)| e != a)?;
    let (i, j) = (first / expected.cols, first % expected.cols);
    let (e, g) = (expected.data[first], actual.data[first]);
    let mut report = format!(
        "C[{i}][{j}] differs: expected {e} ({:#06x}), got {g} ({:#06x}); \
         {diffs} of {} elements of the {}x{} result differ",
        e as u16,
        g as u16,
        expected.data.len(),
        expected.rows,
        expected.cols
    );
    let (m, k) = a.op_shape(trans_a);
    let (kb, n) = b.op_shape(trans_b);
    if k == kb && i < m && j < n {
        let row: Vec<i16> = (0..k).map(|kk| a.op_get(trans_a, i, kk)).collect();
        let col: Vec<i16> = (0..k).map(|kk| b.op_get(trans_b, kk, j)).collect();
        let _ = write!(
            report,
            "\n  op(A) row {i} (K = {k}{}): {}\n  op(B) column {j} (K = {k}{}): {}",
            if trans_a { ", A transposed" } else { "" },
            list(&row),
            if trans_b { ", B transposed" } else { "" },
            list(&col)
        );
    } else {
        let _ = write!(
            report,
            "\n  (operands op(A) {m}x{k} and op(B) {kb}x{n} do not match this C)"
        );
    }
    Some(report)
}

fn list(v: &[i16]) -> String {
    let shown: Vec<String> = v.iter().take(SHOWN).map(i16::to_string).collect();
    let more = v.len().saturating_sub(SHOWN);
    if more == 0 {
        format!("[{}]", shown.join(", "))
    } else {
        format!("[{}, … {more} more]", shown.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rows: usize, cols: usize, data: &[i16]) -> Matrix {
        Matrix::new(rows, cols, data.to_vec()).unwrap()
    }

    #[test]
    fn identical_results_have_no_report() {
        let a = m(2, 2, &[1, 2, 3, 4]);
        assert_eq!(first_mismatch(&a, &a.clone(), &a, false, &a, false), None);
    }

    #[test]
    fn reports_first_difference_with_operands() {
        let a = m(2, 3, &[1, 2, 3, 4, 5, 6]);
        let b = m(3, 2, &[7, 8, 9, 10, 11, -32768]);
        let expected = m(2, 2, &[58, 64, 139, 154]);
        let actual = m(2, 2, &[58, 64, -1, 0]);
        let r = first_mismatch(&expected, &actual, &a, false, &b, false).unwrap();
        assert!(
            r.starts_with("C[1][0] differs: expected 139 (0x008b), got -1 (0xffff)"),
            "{r}"
        );
        assert!(r.contains("2 of 4 elements"), "{r}");
        assert!(r.contains("op(A) row 1 (K = 3): [4, 5, 6]"), "{r}");
        assert!(r.contains("op(B) column 0 (K = 3): [7, 9, 11]"), "{r}");
    }

    #[test]
    fn transposed_operands_are_read_through_op() {
        // A is stored 3x2, op(A) = A^T is 2x3; B stored 2x3, op(B) = B^T is 3x2.
        let a = m(3, 2, &[1, 4, 2, 5, 3, 6]);
        let b = m(2, 3, &[7, 9, 11, 8, 10, 12]);
        let expected = m(2, 2, &[58, 64, 139, 154]);
        let actual = m(2, 2, &[58, 65, 139, 154]);
        let r = first_mismatch(&expected, &actual, &a, true, &b, true).unwrap();
        assert!(r.starts_with("C[0][1] differs: expected 64"), "{r}");
        assert!(
            r.contains("op(A) row 0 (K = 3, A transposed): [1, 2, 3]"),
            "{r}"
        );
        assert!(
            r.contains("op(B) column 1 (K = 3, B transposed): [8, 10, 12]"),
            "{r}"
        );
    }

    #[test]
    fn long_operands_are_elided_and_shapes_checked() {
        let k = 100;
        let a = Matrix::from_fn(1, k, |_, j| j as i16);
        let b = Matrix::from_fn(k, 1, |_, _| 1);
        let r = first_mismatch(&m(1, 1, &[0]), &m(1, 1, &[1]), &a, false, &b, false).unwrap();
        assert!(r.contains("47, … 52 more]"), "{r}");
        let r = first_mismatch(&m(1, 1, &[0]), &m(1, 2, &[0, 0]), &a, false, &b, false).unwrap();
        assert_eq!(r, "C has the wrong shape: expected 1x1, got 1x2");
    }
}
