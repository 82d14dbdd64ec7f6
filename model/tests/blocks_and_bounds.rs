//! Sub-block GEMMs with offset LFSR states (numerics §5 "Offsets") and the static overflow
//! bound the host warns with (numerics §3).

use qtrain_model::{
    gemm, gemm_scalar, max_abs_product_sum_bound, may_overflow, GemmParams, Matrix, Rounding,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Matrix {
    Matrix::from_fn(rows, cols, |_, _| rng.gen())
}

/// Splitting a GEMM into sub-blocks, each with `offset(i0, j0)` states, gives exactly the
/// bits of the whole GEMM: what the host does for GEMMs larger than the device.
#[test]
fn sub_blocks_with_offset_states_match_the_whole() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (m, k, n) = (37, 21, 45);
    let a = random(&mut rng, m, k);
    let b = random(&mut rng, k, n);
    for rounding in Rounding::ALL {
        let p = GemmParams::from_seed(rng.gen(), 12, 11, 9, rounding);
        let whole = gemm(&a, false, &b, false, None, &p).unwrap();
        for &(i0, mi, j0, nj) in &[
            (0, 37, 0, 45),
            (5, 10, 7, 30),
            (36, 1, 44, 1),
            (16, 21, 0, 16),
        ] {
            let a_rows = Matrix::from_fn(mi, k, |i, kk| a.get(i0 + i, kk));
            let b_cols = Matrix::from_fn(k, nj, |kk, j| b.get(kk, j0 + j));
            let q = p.offset(i0 as u64, j0 as u64);
            let block = gemm(&a_rows, false, &b_cols, false, None, &q).unwrap();
            assert_eq!(
                block,
                gemm_scalar(&a_rows, false, &b_cols, false, None, &q).unwrap()
            );
            for i in 0..mi {
                for j in 0..nj {
                    assert_eq!(
                        block.get(i, j),
                        whole.get(i0 + i, j0 + j),
                        "{rounding} ({i0}+{i}, {j0}+{j})"
                    );
                }
            }
        }
    }
}

#[test]
fn overflow_bound_at_the_documented_limit() {
    // K = 131,071 products of (-32768)·(-32768) = 2^30: the largest K that cannot wrap.
    let k = 131_071;
    let a = Matrix::from_fn(1, k + 1, |_, _| i16::MIN);
    let b = Matrix::from_fn(k + 1, 1, |_, _| i16::MIN);
    let a_k = Matrix::from_fn(1, k, |_, _| i16::MIN);
    let b_k = Matrix::from_fn(k, 1, |_, _| i16::MIN);
    let p = GemmParams::from_seed(1, 15, 15, 0, Rounding::Truncate);
    assert_eq!(
        max_abs_product_sum_bound(&a_k, &b_k, k, None, p.shift()),
        (k as u128) << 30
    );
    assert!(!may_overflow(&a_k, false, &b_k, None, &p));
    assert!(may_overflow(&a, false, &b, None, &p));
    // Below the limit the result is the saturated true value; one more product wraps the
    // accumulator to exactly -2^47, which converts to the most negative word.
    assert_eq!(
        gemm(&a_k, false, &b_k, false, None, &p).unwrap().get(0, 0),
        i16::MAX
    );
    assert_eq!(
        gemm(&a, false, &b, false, None, &p).unwrap().get(0, 0),
        i16::MIN
    );
    assert_eq!(
        gemm_scalar(&a, false, &b, false, None, &p)
            .unwrap()
            .get(0, 0),
        i16::MIN
    );
}

#[test]
fn overflow_bound_counts_the_accumulated_term() {
    let a = Matrix::from_fn(2, 3, |_, _| 100);
    let b = Matrix::from_fn(3, 2, |_, _| -7);
    let c = Matrix::from_fn(2, 2, |i, _| if i == 0 { -300 } else { 5 });
    // s = 20: 3·100·7 + 300·2^20.
    assert_eq!(
        max_abs_product_sum_bound(&a, &b, 3, Some(&c), 20),
        2100 + (300 << 20)
    );
    let p = GemmParams::from_seed(1, 15, 15, 10, Rounding::Nearest);
    assert!(!may_overflow(&a, false, &b, Some(&c), &p));
    // A maximal C_in at s = 30 plus full-range products: 2^45 + K·2^30 > 2^47 - 1 for K large.
    let big_c = Matrix::from_fn(1, 1, |_, _| i16::MIN);
    let k = 131_071 - (1 << 15) + 1;
    let a = Matrix::from_fn(1, k, |_, _| i16::MIN);
    let b = Matrix::from_fn(k, 1, |_, _| i16::MIN);
    let p = GemmParams::from_seed(1, 15, 15, 0, Rounding::Nearest);
    assert_eq!(p.shift(), 30);
    assert!(may_overflow(&a, false, &b, Some(&big_c), &p));
    let a1 = Matrix::from_fn(1, k - 1, |_, _| i16::MIN);
    let b1 = Matrix::from_fn(k - 1, 1, |_, _| i16::MIN);
    assert!(!may_overflow(&a1, false, &b1, Some(&big_c), &p));
}
