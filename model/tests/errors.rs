//! Validation: every refusal is reported before any work, with the offending values.

use qtrain_model::{gemm, gemm_scalar, GemmParams, Matrix, ModelError, Rounding};

fn both(
    a: &Matrix,
    ta: bool,
    b: &Matrix,
    tb: bool,
    c: Option<&Matrix>,
    p: &GemmParams,
) -> ModelError {
    let e1 = gemm_scalar(a, ta, b, tb, c, p).unwrap_err();
    let e2 = gemm(a, ta, b, tb, c, p).unwrap_err();
    assert_eq!(e1, e2);
    e1
}

fn params(fl_a: u8, fl_b: u8, fl_c: u8) -> GemmParams {
    GemmParams::from_seed(1, fl_a, fl_b, fl_c, Rounding::Nearest)
}

#[test]
fn bad_fl() {
    let a = Matrix::zeros(2, 2);
    let e = both(&a, false, &a, false, None, &params(16, 0, 0));
    assert_eq!(
        e,
        ModelError::BadFl {
            which: 'A',
            value: 16
        }
    );
    assert!(e.to_string().contains("FL_A = 16"), "{e}");
    let e = both(&a, false, &a, false, None, &params(0, 0, 200));
    assert!(
        e.to_string().contains("FL_C = 200") && e.to_string().contains("0..=15"),
        "{e}"
    );
}

#[test]
fn inner_dimension_mismatch_names_both_shapes() {
    let a = Matrix::zeros(3, 4);
    let b = Matrix::zeros(5, 6);
    let e = both(&a, false, &b, false, None, &params(8, 8, 8));
    assert!(
        e.to_string().contains("op(A) is 3x4") && e.to_string().contains("op(B) is 5x6"),
        "{e}"
    );
    // Transposes change op() shapes: A^T is 4x3, B^T is 6x5.
    let e = both(&a, true, &b, true, None, &params(8, 8, 8));
    assert!(
        e.to_string().contains("op(A) is 4x3") && e.to_string().contains("op(B) is 6x5"),
        "{e}"
    );
    // ...and can make it valid: A^T (4x3) · B' (3x2).
    let b2 = Matrix::zeros(3, 2);
    assert!(gemm(&a, true, &b2, false, None, &params(8, 8, 8)).is_ok());
}

#[test]
fn accumulator_shape_mismatch() {
    let a = Matrix::zeros(3, 4);
    let b = Matrix::zeros(4, 5);
    let c = Matrix::zeros(5, 3);
    let e = both(&a, false, &b, false, Some(&c), &params(8, 8, 8));
    assert!(
        e.to_string().contains("C_in is 5x3") && e.to_string().contains("is 3x5"),
        "{e}"
    );
}

#[test]
fn k_zero_and_empty_outputs() {
    let e = both(
        &Matrix::zeros(3, 0),
        false,
        &Matrix::zeros(0, 2),
        false,
        None,
        &params(1, 1, 1),
    );
    assert_eq!(e, ModelError::EmptyInnerDim { m: 3, n: 2 });
    assert!(e.to_string().contains("K = 0"), "{e}");
    let e = both(
        &Matrix::zeros(0, 3),
        false,
        &Matrix::zeros(3, 2),
        false,
        None,
        &params(1, 1, 1),
    );
    assert_eq!(e, ModelError::EmptyOutput { m: 0, n: 2 });
}

#[test]
fn accumulate_with_negative_shift() {
    let a = Matrix::zeros(2, 2);
    let c = Matrix::zeros(2, 2);
    let e = both(&a, false, &a, false, Some(&c), &params(3, 4, 8));
    assert_eq!(
        e,
        ModelError::AccumulateNegativeShift {
            fl_a: 3,
            fl_b: 4,
            fl_c: 8,
            shift: -1
        }
    );
    assert!(e.to_string().contains("s = 3 + 4 - 8 = -1"), "{e}");
    // s = 0 is allowed, and without accumulation s < 0 is fine.
    assert!(gemm(&a, false, &a, false, Some(&c), &params(4, 4, 8)).is_ok());
    assert!(gemm(&a, false, &a, false, None, &params(3, 4, 8)).is_ok());
}

#[test]
fn data_length_mismatch() {
    let e = Matrix::new(2, 3, vec![0; 5]).unwrap_err();
    assert_eq!(
        e,
        ModelError::DataLength {
            rows: 2,
            cols: 3,
            expected: 6,
            len: 5
        }
    );
    assert!(
        e.to_string().contains("2x3") && e.to_string().contains("got 5"),
        "{e}"
    );
    assert!(Matrix::new(2, 3, vec![0; 6]).is_ok());
}

#[test]
fn zero_lfsr_states() {
    let a = Matrix::zeros(1, 1);
    let mut p = params(1, 1, 1);
    p.row_state = 0;
    assert_eq!(
        both(&a, false, &a, false, None, &p),
        ModelError::ZeroLfsrState { which: 'A' }
    );
    p.row_state = 1;
    p.col_state = 0;
    assert_eq!(
        both(&a, false, &a, false, None, &p),
        ModelError::ZeroLfsrState { which: 'B' }
    );
}

#[test]
fn rounding_names_and_codes() {
    for r in Rounding::ALL {
        assert_eq!(r.to_string().parse::<Rounding>(), Ok(r));
        assert_eq!(Rounding::from_code(r as u8), Some(r));
    }
    assert_eq!("nearest".parse::<Rounding>(), Ok(Rounding::Nearest));
    assert_eq!(Rounding::Stochastic as u8, 2);
    assert_eq!(Rounding::from_code(3), None);
    let e = "Nearest".parse::<Rounding>().unwrap_err();
    assert!(e.to_string().contains("\"Nearest\""), "{e}");
}
