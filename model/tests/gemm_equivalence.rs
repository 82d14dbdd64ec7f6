//! `gemm` (every available kernel) against the readable `gemm_scalar`: same bits for all inputs.

use proptest::prelude::*;
use qtrain_model::{
    gemm, gemm_into, gemm_scalar, gemm_with_kernel, GemmKernel, GemmParams, MatMut, MatRef, Matrix,
    Rounding,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How the operands are drawn.
#[derive(Debug, Clone, Copy)]
enum Range {
    /// Uniform over all of i16, including -32768.
    Full,
    /// Uniform in `[-limit, limit]`.
    Limited(i16),
    /// Only -32768 and 32767: the worst case for every intermediate bound.
    Extremes,
}

fn random_matrix(rng: &mut ChaCha8Rng, rows: usize, cols: usize, range: Range) -> Matrix {
    Matrix::from_fn(rows, cols, |_, _| match range {
        Range::Full => rng.gen(),
        Range::Limited(l) => rng.gen_range(-l..=l),
        Range::Extremes => {
            if rng.gen() {
                i16::MIN
            } else {
                i16::MAX
            }
        }
    })
}

/// The stored operand whose op() is `rows x cols`.
fn operand(rng: &mut ChaCha8Rng, rows: usize, cols: usize, trans: bool, range: Range) -> Matrix {
    if trans {
        random_matrix(rng, cols, rows, range)
    } else {
        random_matrix(rng, rows, cols, range)
    }
}

#[allow(clippy::too_many_arguments)]
fn check_all_kernels(
    a: &Matrix,
    ta: bool,
    b: &Matrix,
    tb: bool,
    c_in: Option<&Matrix>,
    p: &GemmParams,
) -> Result<(), TestCaseError> {
    let want = gemm_scalar(a, ta, b, tb, c_in, p).unwrap();
    prop_assert_eq!(&gemm(a, ta, b, tb, c_in, p).unwrap(), &want);
    for kernel in GemmKernel::ALL.into_iter().filter(|k| k.is_available()) {
        let got = gemm_with_kernel(kernel, a, ta, b, tb, c_in, p).unwrap();
        prop_assert_eq!(&got, &want, "kernel {:?}", kernel);
    }
    Ok(())
}

/// (FL_A, FL_B, FL_C) covering each shift class: s < 0, s = 0, 0 < s < 16, s = 16, s > 16,
/// and the extremes -15 and 30.
const FORMATS: [(u8, u8, u8); 9] = [
    (0, 0, 15),
    (3, 2, 9),
    (7, 8, 15),
    (4, 4, 7),
    (12, 12, 12),
    (8, 8, 0),
    (14, 12, 7),
    (15, 15, 0),
    (15, 15, 15),
];

fn range_strategy() -> impl Strategy<Value = Range> {
    prop_oneof![
        Just(Range::Full),
        Just(Range::Extremes),
        (1i16..=4095).prop_map(Range::Limited),
        (4096i16..=32767).prop_map(Range::Limited),
        Just(Range::Limited(1)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn fast_gemm_equals_scalar(
        m in 1usize..70, k in 1usize..70, n in 1usize..70,
        ta: bool, tb: bool,
        fmt in 0usize..FORMATS.len(),
        rounding_code in 0u8..3,
        accumulate: bool,
        range_a in range_strategy(), range_b in range_strategy(),
        seed: u64,
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (fl_a, fl_b, fl_c) = FORMATS[fmt];
        let rounding = Rounding::from_code(rounding_code).unwrap();
        let p = GemmParams::from_seed(seed, fl_a, fl_b, fl_c, rounding);
        let a = operand(&mut rng, m, k, ta, range_a);
        let b = operand(&mut rng, k, n, tb, range_b);
        // Accumulation is only defined for s >= 0.
        let c_in = (accumulate && p.shift() >= 0).then(|| random_matrix(&mut rng, m, n, Range::Full));
        check_all_kernels(&a, ta, &b, tb, c_in.as_ref(), &p)?;
    }
}

/// Every shift -15..=30 and every rounding on one mid-sized, odd-shaped GEMM.
#[test]
fn every_shift_and_rounding() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for shift in -15i32..=30 {
        // FL_A + FL_B - FL_C = shift with all three in 0..=15.
        let fl_c = (15 - shift).clamp(0, 15) as u8;
        let sum = (shift + i32::from(fl_c)) as u8;
        let (fl_a, fl_b) = (sum.min(15), sum - sum.min(15));
        for rounding in Rounding::ALL {
            for range in [Range::Full, Range::Limited(300)] {
                let p = GemmParams::from_seed(rng.gen(), fl_a, fl_b, fl_c, rounding);
                assert_eq!(p.shift(), shift);
                let a = random_matrix(&mut rng, 13, 37, range);
                let b = random_matrix(&mut rng, 37, 29, range);
                let c_in = (shift >= 0).then(|| random_matrix(&mut rng, 13, 29, Range::Full));
                check_all_kernels(&a, false, &b, false, c_in.as_ref(), &p).unwrap();
            }
        }
    }
}

/// K far beyond 131,071 with extreme operands: the 48-bit accumulator wraps, and every kernel
/// must wrap exactly like the scalar loop.
#[test]
fn forced_wrap() {
    let k = 300_000;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // Row 0 is all -32768 against columns of -32768: the sum is k·2^30, far beyond 2^47.
    let mut a = random_matrix(&mut rng, 3, k, Range::Extremes);
    let mut b = random_matrix(&mut rng, k, 2, Range::Extremes);
    a.data[..k].fill(i16::MIN);
    for kk in 0..k {
        b.set(kk, 0, i16::MIN);
    }
    for (fl, rounding) in [
        (0u8, Rounding::Truncate),
        (15, Rounding::Stochastic),
        (7, Rounding::Nearest),
    ] {
        let p = GemmParams::from_seed(99, 15, 15, fl, rounding);
        let want = gemm_scalar(&a, false, &b, false, None, &p).unwrap();
        // The wrapped value differs from the saturated true value (which would be 32767).
        let true_acc = (k as i128) << 30;
        let wrapped = ((true_acc << 80) >> 80) as i64;
        assert_eq!(wrapped, qtrain_model::wrap48((k as i64) << 30));
        assert_eq!(
            want.get(0, 0),
            qtrain_model::convert(wrapped, p.shift(), rounding, {
                let (ra, cb) = p.random_words(1, 1);
                ra[0] ^ cb[0]
            })
        );
        check_all_kernels(&a, false, &b, false, None, &p).unwrap();
    }
}

/// Shapes around every kernel's block sizes, with several seeds.
#[test]
fn block_edges() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for &(m, k, n) in &[
        (1, 1, 1),
        (12, 2, 32),
        (13, 3, 33),
        (11, 257, 31),
        (25, 64, 65),
        (6, 300, 16),
        (70, 1, 70),
    ] {
        for range in [Range::Full, Range::Limited(4095), Range::Extremes] {
            let p = GemmParams::from_seed(rng.gen(), 10, 9, 8, Rounding::Stochastic);
            let a = random_matrix(&mut rng, m, k, range);
            let b = random_matrix(&mut rng, k, n, range);
            check_all_kernels(&a, false, &b, false, None, &p).unwrap();
        }
    }
}

/// Operands that maximize the error of the full-range path's byte estimate
/// (`|a·b - 2^16·hi(a)·hi(b)|` close to 2^24 per product) over whole chunks and beyond,
/// in both transposes: the estimate must still pin the exact sum.
#[test]
fn worst_case_for_the_full_range_estimate() {
    // hi = -128 with lo = 255, and hi = 127 with lo = 255: the largest cross terms of each sign.
    let worst = [-32513i16, 32767, -32768, 32512];
    for &(x, y) in &[(0usize, 0usize), (0, 1), (1, 0), (2, 3), (3, 2)] {
        for k in [1, 4, 123, 124, 125, 248, 1001] {
            let a = Matrix::from_fn(13, k, |i, _| if i % 2 == 0 { worst[x] } else { worst[y] });
            let b = Matrix::from_fn(k, 33, |_, j| if j % 3 == 0 { worst[y] } else { worst[x] });
            let p = GemmParams::from_seed(k as u64, 15, 15, 0, Rounding::Stochastic);
            check_all_kernels(&a, false, &b, false, None, &p).unwrap();
            let (at, bt) = (a.transpose(), b.transpose());
            check_all_kernels(&at, true, &bt, true, None, &p).unwrap();
        }
    }
}

/// `m` placed in a buffer at `offset` with row stride `cols + pad`, the padding and the words
/// around it filled with `fill` (so a view that read them would show).
fn embed(m: &Matrix, offset: usize, pad: usize, fill: i16) -> (Vec<i16>, usize) {
    let stride = m.cols + pad;
    let mut buf = vec![fill; offset + m.rows * stride + 3];
    for i in 0..m.rows {
        buf[offset + i * stride..][..m.cols].copy_from_slice(m.row(i));
    }
    (buf, stride)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// `gemm_into` on strided views (odd and even strides, the padding full of extreme words,
    /// C written in place over C_in) gives `gemm`'s bits and leaves every other word alone.
    #[test]
    fn strided_gemm_into_equals_gemm(
        m in 1usize..40, k in 1usize..40, n in 1usize..40,
        ta: bool, tb: bool,
        fmt in 0usize..FORMATS.len(),
        rounding_code in 0u8..3,
        accumulate: bool,
        range_a in range_strategy(), range_b in range_strategy(),
        pads in (0usize..4, 0usize..4, 0usize..4),
        offsets in (0usize..3, 0usize..3, 0usize..3),
        seed: u64,
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (fl_a, fl_b, fl_c) = FORMATS[fmt];
        let rounding = Rounding::from_code(rounding_code).unwrap();
        let p = GemmParams::from_seed(seed, fl_a, fl_b, fl_c, rounding);
        let a = operand(&mut rng, m, k, ta, range_a);
        let b = operand(&mut rng, k, n, tb, range_b);
        let accumulate = accumulate && p.shift() >= 0;
        let c_in = random_matrix(&mut rng, m, n, Range::Full);
        let want = gemm(&a, ta, &b, tb, accumulate.then_some(&c_in), &p).unwrap();
        let (abuf, a_stride) = embed(&a, offsets.0, pads.0, i16::MIN);
        let (bbuf, b_stride) = embed(&b, offsets.1, pads.1, i16::MAX);
        let (mut cbuf, c_stride) = embed(&c_in, offsets.2, pads.2, 7);
        let before = cbuf.clone();
        let av = MatRef::new(a.rows, a.cols, a_stride, &abuf[offsets.0..]).unwrap();
        let bv = MatRef::new(b.rows, b.cols, b_stride, &bbuf[offsets.1..]).unwrap();
        let cv = MatMut::new(m, n, c_stride, &mut cbuf[offsets.2..]).unwrap();
        gemm_into(av, ta, bv, tb, cv, accumulate, &p).unwrap();
        for (w, (&got, &old)) in cbuf.iter().zip(&before).enumerate() {
            let inside = w >= offsets.2 && (w - offsets.2) % c_stride < n && (w - offsets.2) / c_stride < m;
            if inside {
                let (i, j) = ((w - offsets.2) / c_stride, (w - offsets.2) % c_stride);
                prop_assert_eq!(got, want.get(i, j), "C({}, {})", i, j);
            } else {
                prop_assert_eq!(got, old, "word {} outside C changed", w);
            }
        }
    }
}

#[test]
fn gemm_into_refuses_a_wrong_output_shape() {
    let a = Matrix::zeros(2, 3);
    let b = Matrix::zeros(3, 4);
    let mut c = Matrix::zeros(2, 5);
    let p = GemmParams::from_seed(1, 8, 8, 8, Rounding::Nearest);
    assert!(gemm_into(a.view(), false, b.view(), false, c.view_mut(), false, &p).is_err());
}
