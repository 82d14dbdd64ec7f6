//! Hand-computed cases for the vector operations of numerics §7.

use qtrain_model::{
    bias_add, gemm_scalar, qrelu, qrelu_mask, relu, relu_mask, seed_states, update, update_into,
    GemmParams, MatMut, MatRef, Matrix, ModelError, Rounding, UpdateParams,
};

fn row(v: &[i16]) -> Matrix {
    Matrix::new(1, v.len(), v.to_vec()).unwrap()
}

#[test]
fn bias_add_aligns_left_exactly() {
    // d = FL_X - FL_b = 2: b is multiplied by 4.
    let x = row(&[100, -100, 0]);
    let y = bias_add(&x, &[3, 3, -5], 10, 8).unwrap();
    assert_eq!(y.data, vec![112, -88, -20]);
}

#[test]
fn bias_add_rounds_right_to_nearest_ties_up() {
    // d = -2: align(b) = (b + 2) >> 2; 6/4 = 1.5 -> 2, -6/4 = -1.5 -> -1, 5/4 -> 1, 7/4 -> 2,
    // -7/4 = -1.75 -> -2, -5/4 = -1.25 -> -1.
    let x = row(&[0, 0, 0, 0, 0, 0]);
    let y = bias_add(&x, &[6, -6, 5, 7, -7, -5], 4, 6).unwrap();
    assert_eq!(y.data, vec![2, -1, 1, 2, -2, -1]);
}

#[test]
fn bias_add_saturates_once() {
    let x = row(&[32767, -32768, -1, 1]);
    let y = bias_add(&x, &[1, -1, 1, -1], 0, 0).unwrap();
    assert_eq!(y.data, vec![32767, -32768, 0, 0]);
    // d = 15: b = 1 aligns to 32768, which only fits once x = -1 is added.
    let y = bias_add(&row(&[-1, 0]), &[1, 1], 15, 0).unwrap();
    assert_eq!(y.data, vec![32767, 32767]);
}

#[test]
fn bias_add_rejects_wrong_bias_length_and_formats() {
    let x = row(&[1, 2]);
    assert!(matches!(
        bias_add(&x, &[1], 0, 0),
        Err(ModelError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        bias_add(&x, &[1, 1], 16, 0),
        Err(ModelError::BadFl { value: 16, .. })
    ));
}

#[test]
fn relu_and_mask() {
    let x = row(&[-5, 0, 7, -32768, 32767]);
    assert_eq!(relu(&x).data, vec![0, 0, 7, 0, 32767]);
    let d = row(&[10, 20, 30, 40, -50]);
    assert_eq!(relu_mask(&x, &d).unwrap().data, vec![0, 0, 30, 0, -50]);
    assert!(relu_mask(&x, &row(&[1])).is_err());
}

#[test]
fn qrelu_levels_at_exact_boundaries() {
    // alpha = 10, 2 bits: L = 3 levels 10, 20, 30; (k-1)α < x <= kα maps to kα.
    let x = row(&[-3, 0, 1, 10, 11, 20, 21, 30, 31, 1000]);
    let y = qrelu(&x, 10, 2).unwrap();
    assert_eq!(y.data, vec![0, 0, 10, 10, 20, 20, 30, 30, 30, 30]);
    let d = row(&[7; 10]);
    let m = qrelu_mask(&x, &d, 10, 2).unwrap();
    assert_eq!(m.data, vec![0, 0, 7, 7, 7, 7, 7, 7, 0, 0]);
}

#[test]
fn qrelu_saturates_the_level_product() {
    // Level 2 of alpha = 20000 is 40000: saturates to 32767. L·α = 60000 > 32767, so the
    // mask passes every positive value (the comparison is on the exact product).
    let x = row(&[20001, 32767, 1]);
    assert_eq!(qrelu(&x, 20000, 2).unwrap().data, vec![32767, 32767, 20000]);
    let d = row(&[1, 2, 3]);
    assert_eq!(qrelu_mask(&x, &d, 20000, 2).unwrap().data, vec![1, 2, 3]);
    // 8 bits, alpha 1: L = 255.
    let x = row(&[255, 256]);
    assert_eq!(qrelu(&x, 1, 8).unwrap().data, vec![255, 255]);
}

#[test]
fn qrelu_validation() {
    let x = row(&[1]);
    assert_eq!(qrelu(&x, 1, 0), Err(ModelError::QreluBits(0)));
    assert_eq!(qrelu(&x, 1, 9), Err(ModelError::QreluBits(9)));
    assert_eq!(qrelu(&x, 0, 2), Err(ModelError::QreluAlpha(0)));
    assert_eq!(qrelu_mask(&x, &x, -4, 2), Err(ModelError::QreluAlpha(-4)));
    let msg = ModelError::QreluBits(9).to_string();
    assert!(msg.contains("1..=8"), "{msg}");
}

fn params(fl_w: u8, fl_g: u8, fl_eta: u8, eta_q: u16, rounding: Rounding) -> UpdateParams {
    UpdateParams {
        fl_w,
        fl_g,
        fl_eta,
        eta_q,
        rounding,
        grid_shift: 0,
        grid_offset: 0,
        w_min: i16::MIN,
        w_max: i16::MAX,
        row_state: 1,
        col_state: 1,
    }
}

#[test]
fn update_plain_step() {
    // W = 1.0, G = 0.5, eta = 0.25 in FL 8: 1 - 0.125 = 0.875 = 224/256, exactly.
    let p = params(8, 8, 8, 64, Rounding::Nearest);
    let w = update(&row(&[256]), &row(&[128]), &p).unwrap();
    assert_eq!(w.data, vec![224]);
}

#[test]
fn update_ties_and_truncation() {
    // s = 8: eta_q = 1, G = ∓128 gives t = ±128, i.e. ±0.5 ulp of W.
    let w = row(&[0, 0]);
    let g = row(&[-128, 128]);
    let nearest = update(&w, &g, &params(8, 8, 8, 1, Rounding::Nearest)).unwrap();
    assert_eq!(nearest.data, vec![1, 0], "ties go towards +inf");
    let trunc = update(&w, &g, &params(8, 8, 8, 1, Rounding::Truncate)).unwrap();
    assert_eq!(trunc.data, vec![0, -1], "truncation is floor");
}

#[test]
fn update_binary_grid() {
    // g = 1, o = 1, clamp [-1, 1], s = 0, eta = 1: weights stay on {-1, +1}.
    let mut p = params(8, 8, 0, 1, Rounding::Nearest);
    p.grid_shift = 1;
    p.grid_offset = 1;
    p.w_min = -1;
    p.w_max = 1;
    let w = row(&[1, 1, -1, 1, 1, -1]);
    let g = row(&[0, 1, 0, 3, -5, 5]);
    // t = 1, 0, -1, -2, 6, -6 -> grid index (t - 1 + 1) >> 1 = 0, 0, -1, -1, 3, -3
    // -> y = 1, 1, -1, -1, 7, -5 -> clamp.
    assert_eq!(update(&w, &g, &p).unwrap().data, vec![1, 1, -1, -1, 1, -1]);
}

#[test]
fn update_exact_path_ignores_rounding_and_saturates() {
    // s + g = 0: no bits are dropped, whatever the rounding and the seed.
    for seed in 0..20u64 {
        let (row_state, col_state) = seed_states(seed);
        let mut p = params(5, 5, 0, 3, Rounding::Stochastic);
        p.row_state = row_state;
        p.col_state = col_state;
        let w = row(&[100, -32768, 32767, 0]);
        let g = row(&[7, 32767, -32768, 0]);
        let y = update(&w, &g, &p).unwrap();
        assert_eq!(y.data, vec![79, -32768, 32767, 0]);
    }
}

#[test]
fn update_stochastic_is_unbiased() {
    // s = 4: t = 5 means 5/16 of an ulp, so P(y = 1) = 5/16 exactly.
    let w = Matrix::zeros(32, 32);
    let g = Matrix::from_fn(32, 32, |_, _| -5);
    let mut ones = 0u64;
    let mut total = 0u64;
    for seed in 0..100u64 {
        let (row_state, col_state) = seed_states(seed);
        let mut p = params(4, 4, 4, 1, Rounding::Stochastic);
        p.row_state = row_state;
        p.col_state = col_state;
        let y = update(&w, &g, &p).unwrap();
        for &v in &y.data {
            assert!(v == 0 || v == 1, "{v}");
            ones += u64::from(v == 1);
            total += 1;
        }
    }
    let mean = ones as f64 / total as f64;
    let sigma = (5.0 / 16.0 * 11.0 / 16.0 / total as f64).sqrt();
    assert!((mean - 5.0 / 16.0).abs() < 5.0 * sigma, "mean {mean}");
}

#[test]
fn update_random_words_are_those_of_a_gemm_element() {
    // W = 0, eta = 1, G = -X gives t = X: the update converts X(i, j) as a GEMM with B = I
    // converts the accumulator X(i, j), with r(i, j) from the same states.
    let (m, n) = (9, 13);
    let x = Matrix::from_fn(m, n, |i, j| {
        (((i * 7919 + j * 104_729) % 60_000) as i32 - 29_999) as i16
    });
    let eye = Matrix::from_fn(n, n, |i, j| i16::from(i == j));
    let gp = GemmParams::from_seed(42, 10, 0, 3, Rounding::Stochastic);
    let c = gemm_scalar(&x, false, &eye, false, None, &gp).unwrap();
    let mut p = params(3, 7, 3, 1, Rounding::Stochastic);
    p.row_state = gp.row_state;
    p.col_state = gp.col_state;
    let neg = Matrix::from_fn(m, n, |i, j| -x.get(i, j));
    let y = update(&Matrix::zeros(m, n), &neg, &p).unwrap();
    assert_eq!(p.shift(), gp.shift());
    assert_eq!(y.data, c.data);
}

#[test]
fn update_validation() {
    let w = row(&[0]);
    let p = params(8, 8, 8, 1, Rounding::Nearest);
    let mut bad = p;
    bad.fl_w = 15;
    bad.fl_g = 0;
    bad.fl_eta = 0;
    assert_eq!(
        update(&w, &w, &bad),
        Err(ModelError::UpdateShift {
            what: "s",
            value: -15
        })
    );
    let mut bad = p;
    bad.fl_w = 0;
    bad.fl_g = 15;
    bad.fl_eta = 16;
    assert!(matches!(
        update(&w, &w, &bad),
        Err(ModelError::UpdateShift { value: 31, .. })
    ));
    let mut bad = p;
    bad.grid_shift = 15;
    bad.fl_eta = 31;
    bad.fl_w = 15;
    // s = 8 + 31 - 15 = 24, s + g = 39.
    assert!(matches!(
        update(&w, &w, &bad),
        Err(ModelError::UpdateShift {
            what: "s + g",
            value: 39
        })
    ));
    let mut bad = p;
    bad.fl_eta = 32;
    assert!(matches!(
        update(&w, &w, &bad),
        Err(ModelError::UpdateParam { what: "FL_eta", .. })
    ));
    let mut bad = p;
    bad.grid_shift = 16;
    assert!(matches!(
        update(&w, &w, &bad),
        Err(ModelError::UpdateParam { .. })
    ));
    let mut bad = p;
    bad.w_min = 2;
    bad.w_max = 1;
    let err = update(&w, &w, &bad).unwrap_err();
    assert_eq!(err, ModelError::ClampOrder { w_min: 2, w_max: 1 });
    assert!(err.to_string().contains("w_min = 2 > w_max = 1"));
    let mut bad = p;
    bad.row_state = 0;
    assert_eq!(
        update(&w, &w, &bad),
        Err(ModelError::ZeroLfsrState { which: 'A' })
    );
    assert!(matches!(
        update(&w, &row(&[1, 2]), &p),
        Err(ModelError::ShapeMismatch { .. })
    ));
    // s = 30 exactly is legal.
    let mut edge = p;
    edge.fl_w = 0;
    edge.fl_g = 15;
    edge.fl_eta = 15;
    assert!(update(&w, &w, &edge).is_ok());
}

/// `update_into` on strided views in one buffer (as in device memory) gives `update`'s bits,
/// in place, and writes no word outside W.
#[test]
fn strided_update_in_place_equals_update() {
    let mut seed = 0x1234_5678_u64;
    let mut next = || {
        seed = qtrain_model::splitmix64(seed, 1);
        seed
    };
    for case in 0..200 {
        let (rows, cols) = (1 + (next() % 9) as usize, 1 + (next() % 33) as usize);
        let (w_stride, g_stride) = (cols + (next() % 3) as usize, cols + (next() % 3) as usize);
        let rounding = Rounding::ALL[case % 3];
        let mut p = params(12, 14, 10, (next() % 4000) as u16, rounding);
        p.row_state = (next() as u32) | 1;
        p.col_state = (next() as u32) | 1;
        let w = Matrix::from_fn(rows, cols, |_, _| next() as i16);
        let g = Matrix::from_fn(rows, cols, |_, _| next() as i16);
        let want = update(&w, &g, &p).unwrap();
        // W first, then G, in one buffer padded with a marker word.
        let g_at = rows * w_stride + 1;
        let mut buf = vec![-99i16; g_at + rows * g_stride + 2];
        for i in 0..rows {
            buf[i * w_stride..][..cols].copy_from_slice(w.row(i));
            buf[g_at + i * g_stride..][..cols].copy_from_slice(g.row(i));
        }
        let before = buf.clone();
        let (w_part, g_part) = buf.split_at_mut(g_at);
        let gv = MatRef::new(rows, cols, g_stride, g_part).unwrap();
        let wv = MatMut::new(rows, cols, w_stride, w_part).unwrap();
        update_into(wv, gv, &p).unwrap();
        for (k, (&got, &old)) in buf.iter().zip(&before).enumerate() {
            if k < rows * w_stride && k % w_stride < cols {
                assert_eq!(
                    got,
                    want.get(k / w_stride, k % w_stride),
                    "case {case} word {k}"
                );
            } else {
                assert_eq!(got, old, "case {case}: word {k} outside W changed");
            }
        }
    }
}
