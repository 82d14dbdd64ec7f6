//! Statistical tests of stochastic rounding in the model's GEMM, on the real LFSR streams.
//!
//! Draws: each output element `(i, j)` of a GEMM gets its own word `r(i, j)`; different
//! seeds give different words. Row `i` of every test GEMM holds one exact value
//! `int_i + f_i / 2^s` in all its columns, so one GEMM yields many draws per value.
//! Within one GEMM the words are pairwise independent (numerics §5, and tests/lfsr.rs),
//! which is all a mean, a variance or a binomial count needs. All seeds are fixed, so the
//! tests are deterministic; the stated significance is the probability that a correct
//! implementation would fail for a random choice of seeds.

use qtrain_model::{gemm, gemm_scalar, GemmParams, Matrix, Rounding};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Largest shift these GEMMs can express (see `exact_value_gemm`).
const MAX_TEST_SHIFT: i32 = 28;

/// C (via `gemm`) for values `ints[i] + fracs[i] / 2^s`, `cols` columns, seed `seed`.
///
/// op(A) row i is `[f_i mod 2^14, f_i >> 14]`, op(B) rows are all 1 and all 2^14, and C_in
/// holds `int_i`, so `acc(i, j) = int_i · 2^s + f_i` exactly.
fn exact_value_gemm(seed: u64, s: i32, ints: &[i16], fracs: &[u32], cols: usize) -> Matrix {
    assert!((0..=MAX_TEST_SHIFT).contains(&s));
    let m = fracs.len();
    let a = Matrix::from_fn(m, 2, |i, k| {
        assert!(u64::from(fracs[i]) < 1u64 << s);
        (if k == 0 {
            fracs[i] & 0x3FFF
        } else {
            fracs[i] >> 14
        }) as i16
    });
    let b = Matrix::from_fn(2, cols, |k, _| if k == 0 { 1 } else { 1 << 14 });
    let c_in = Matrix::from_fn(m, cols, |i, _| ints[i]);
    // FL_C = 2, FL_A + FL_B = s + 2.
    let sum = (s + 2) as u8;
    let p = GemmParams::from_seed(
        seed,
        sum.min(15),
        sum - sum.min(15),
        2,
        Rounding::Stochastic,
    );
    assert_eq!(p.shift(), s);
    gemm(&a, false, &b, false, Some(&c_in), &p).unwrap()
}

/// P(round up) the spec promises: `f / 2^s` for s <= 16, `floor(f / 2^(s-16)) / 2^16` beyond.
fn p_up(s: i32, f: u32) -> f64 {
    if s <= 16 {
        f64::from(f) / 2f64.powi(s)
    } else {
        f64::from(f >> (s - 16)) / 65536.0
    }
}

/// Counts of round-ups per row over `seeds` GEMMs of `cols` columns.
fn up_counts(first_seed: u64, seeds: u64, s: i32, fracs: &[u32], cols: usize) -> Vec<u64> {
    let ints: Vec<i16> = (0..fracs.len()).map(|i| (i % 7) as i16 - 3).collect();
    let mut ups = vec![0u64; fracs.len()];
    for seed in first_seed..first_seed + seeds {
        let c = exact_value_gemm(seed, s, &ints, fracs, cols);
        for (i, up) in ups.iter_mut().enumerate() {
            for &q in c.row(i) {
                let d = i32::from(q) - i32::from(ints[i]);
                assert!(d == 0 || d == 1, "SR moved {} by {d}", ints[i]);
                *up += d as u64;
            }
        }
    }
    ups
}

/// Mean of SR(x) within 5 standard errors of x (plus the documented < 2^-16 ulp bias for
/// s > 16), for many fractions and shifts. 5 SE: a correct implementation fails one check
/// with probability 5.7e-7.
#[test]
fn mean_is_unbiased_within_5_standard_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let (cols, seeds) = (256, 12);
    let draws = (cols as u64 * seeds) as f64;
    for s in [1, 2, 3, 5, 8, 12, 15, 16, 17, 20, 24, 28] {
        let one = 1u64 << s;
        let mut fracs: Vec<u32> = vec![0, 1, (one / 3) as u32, (one / 2) as u32, (one - 1) as u32];
        fracs.extend((0..5).map(|_| rng.gen_range(0..one) as u32));
        let ups = up_counts(1000 * s as u64, seeds, s, &fracs, cols);
        for (&f, &u) in fracs.iter().zip(&ups) {
            let x = f64::from(f) / one as f64;
            let p = p_up(s, f);
            let mean = u as f64 / draws;
            if p == 0.0 {
                assert_eq!(u, 0, "s = {s}, f = {f}: a zero chance must never round up");
                continue;
            }
            let se = (p * (1.0 - p) / draws).sqrt();
            assert!(
                (mean - p).abs() <= 5.0 * se,
                "s = {s}, f = {f}: mean {mean}, p {p}, SE {se}"
            );
            // The mean is within 5 SE of x itself: exactly (s <= 16) or up to the bias.
            let bias = x - p;
            if s <= 16 {
                assert_eq!(bias, 0.0);
            } else {
                assert!(
                    (0.0..2f64.powi(-16)).contains(&bias),
                    "s = {s}, f = {f}: bias {bias}"
                );
            }
            assert!((mean - x).abs() <= 5.0 * se + bias);
        }
    }
}

/// ln Γ(df / 2) for a positive integer df, from the factorial formulas (exact up to rounding).
fn ln_gamma_half(df: u32) -> f64 {
    if df & 1 == 0 {
        // Γ(n) = (n - 1)!
        (1..df / 2).map(|i| f64::from(i).ln()).sum()
    } else {
        // Γ(n + 1/2) = sqrt(pi) · Π_{i=1..n} (i - 1/2)
        0.5 * std::f64::consts::PI.ln()
            + (1..=df / 2).map(|i| (f64::from(i) - 0.5).ln()).sum::<f64>()
    }
}

/// The chi-square CDF `P(df/2, x/2)` (regularized lower incomplete gamma, power series).
fn chi2_cdf(x: f64, df: u32) -> f64 {
    let (a, y) = (f64::from(df) / 2.0, x / 2.0);
    // P(a, y) = y^a e^-y / Γ(a + 1) · Σ_n y^n / ((a + 1)···(a + n))
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut n = 1.0;
    while term > 1e-17 * sum {
        term *= y / (a + n);
        sum += term;
        n += 1.0;
    }
    (a * y.ln() - y - (ln_gamma_half(df) + a.ln()) + sum.ln()).exp()
}

/// The upper `alpha` quantile of chi-square with `df` degrees of freedom, by bisection.
fn chi2_critical(alpha: f64, df: u32) -> f64 {
    let (mut lo, mut hi) = (0.0, f64::from(df) * 10.0 + 100.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if 1.0 - chi2_cdf(mid, df) > alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[test]
fn chi_square_critical_values_match_tables() {
    // Published 0.999 quantiles.
    for (df, table) in [
        (1, 10.828),
        (2, 13.816),
        (10, 29.588),
        (30, 59.703),
        (100, 149.449),
    ] {
        let c = chi2_critical(0.001, df);
        assert!((c - table).abs() < 2e-3, "df {df}: {c} vs {table}");
    }
}

/// Pooled chi-square: Σ (U - n·p)^2 / (n·p·(1-p)) over rows, df = number of rows.
fn chi_square(ups: &[u64], ps: &[f64], n: f64) -> f64 {
    ups.iter()
        .zip(ps)
        .map(|(&u, &p)| (u as f64 - n * p).powi(2) / (n * p * (1.0 - p)))
        .sum()
}

/// P(round up) matches the spec's probability for every fraction, by a chi-square test at
/// significance 0.001 (critical value computed above from the chi-square distribution).
#[test]
fn p_up_matches_the_fraction_chi_square() {
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let (cols, seeds) = (64, 16);
    let n = (cols as u64 * seeds) as f64;
    // s = 8: every nonzero fraction; s = 16 and s = 20: 128 random fractions each.
    let cases: Vec<(i32, Vec<u32>)> = vec![
        (8, (1..256).collect()),
        (16, (0..128).map(|_| rng.gen_range(1..1 << 16)).collect()),
        (
            20,
            (0..128).map(|_| rng.gen_range(1 << 4..1 << 20)).collect(),
        ),
    ];
    for (s, fracs) in cases {
        let ups = up_counts(77 + s as u64, seeds, s, &fracs, cols);
        let ps: Vec<f64> = fracs.iter().map(|&f| p_up(s, f)).collect();
        let stat = chi_square(&ups, &ps, n);
        let df = fracs.len() as u32;
        let critical = chi2_critical(0.001, df);
        eprintln!("s = {s}: chi-square {stat:.1}, df {df}, critical (0.001) {critical:.2}");
        assert!(
            stat < critical,
            "s = {s}: chi-square {stat:.1} >= {critical:.1} (df {df})"
        );
        // A gross error (P(up) off by 2% absolute) must be detectable by the same test.
        let skewed: Vec<f64> = ps.iter().map(|p| (p + 0.02).min(0.999)).collect();
        assert!(
            chi_square(&ups, &skewed, n) > critical,
            "s = {s}: the test has no power"
        );
    }
    // Zero fractions never round up.
    assert!(up_counts(5, 4, 8, &[0; 8], 64).iter().all(|&u| u == 0));
}

/// Pairwise correlation of the rounding decisions of two elements of one GEMM, over many
/// seeds, is ~0: |rho| <= 5 / sqrt(seeds) (5 standard errors of a sample correlation).
/// Pairs cover same row, same column, both different, and the lags 2 and 4 where two
/// words of one stream are not jointly uniform (tests/lfsr.rs).
#[test]
fn rounding_decisions_are_pairwise_uncorrelated() {
    let (m, n, seeds) = (16usize, 16usize, 4000u64);
    let s = 12;
    let f = 1229; // p = 0.30005
    let pairs = [
        ((0, 0), (0, 1)),
        ((0, 0), (0, 2)),
        ((0, 4), (0, 8)),
        ((0, 0), (0, 15)),
        ((0, 0), (1, 0)),
        ((2, 0), (4, 0)),
        ((0, 0), (15, 0)),
        ((0, 0), (1, 1)),
        ((0, 0), (2, 2)),
        ((1, 3), (5, 7)),
        ((3, 5), (12, 9)),
        ((7, 2), (9, 4)),
    ];
    let mut ones = vec![[0u64; 3]; pairs.len()]; // (x, y, x·y) sums
    for seed in 0..seeds {
        let c = exact_value_gemm(9_000 + seed, s, &vec![0; m], &vec![f; m], n);
        for (acc, &((i, j), (k, l))) in ones.iter_mut().zip(&pairs) {
            let (x, y) = (c.get(i, j) as u64, c.get(k, l) as u64);
            acc[0] += x;
            acc[1] += y;
            acc[2] += x * y;
        }
    }
    let tol = 5.0 / (seeds as f64).sqrt();
    for (sums, pair) in ones.iter().zip(&pairs) {
        let nf = seeds as f64;
        let (mx, my) = (sums[0] as f64 / nf, sums[1] as f64 / nf);
        let cov = sums[2] as f64 / nf - mx * my;
        let rho = cov / (mx * (1.0 - mx) * my * (1.0 - my)).sqrt();
        eprintln!("pair {pair:?}: rho = {rho:+.4}");
        assert!(
            rho.abs() <= tol,
            "pair {pair:?}: rho = {rho:.4} (tolerance {tol:.4})"
        );
    }
}

/// What is given up (numerics §5): the words of the four corners of a rectangle XOR to 0.
#[test]
fn four_corner_words_cancel() {
    let p = GemmParams::from_seed(1234, 8, 8, 8, Rounding::Stochastic);
    let (ra, cb) = p.random_words(10, 10);
    let r = |i: usize, j: usize| ra[i] ^ cb[j];
    assert_eq!(r(1, 2) ^ r(1, 7) ^ r(6, 2) ^ r(6, 7), 0);
    assert_ne!(r(1, 2), r(1, 7));
}

/// The statistical GEMMs above go through `gemm`; check that they match the scalar spec too.
#[test]
fn test_gemms_match_the_scalar_model() {
    let fracs = [1u32, 1000, 123_456_789];
    let s = 27;
    let ints = [1i16, -2, 3];
    let c = exact_value_gemm(5, s, &ints, &fracs, 8);
    let a = Matrix::from_fn(3, 2, |i, k| {
        (if k == 0 {
            fracs[i] & 0x3FFF
        } else {
            fracs[i] >> 14
        }) as i16
    });
    let b = Matrix::from_fn(2, 8, |k, _| if k == 0 { 1 } else { 1 << 14 });
    let c_in = Matrix::from_fn(3, 8, |i, _| ints[i]);
    let p = GemmParams::from_seed(5, 15, 14, 2, Rounding::Stochastic);
    assert_eq!(
        c,
        gemm_scalar(&a, false, &b, false, Some(&c_in), &p).unwrap()
    );
}
