//! Host-side quantization (numerics §2).

use qtrain_model::{check_fl, dequantize, quantize, quantize_f32, ModelError, Rounding};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use Rounding::{Nearest, Stochastic, Truncate};

/// A generator that must not be called.
fn no_rng() -> impl FnMut() -> u16 {
    || panic!("the generator was called for a deterministic rounding")
}

fn q(x: f64, fl: u8, r: Rounding) -> i16 {
    quantize(x, fl, r, &mut no_rng())
}

fn sr(x: f64, fl: u8, word: u16) -> i16 {
    let mut calls = 0;
    let out = quantize(x, fl, Stochastic, &mut || {
        calls += 1;
        word
    });
    assert_eq!(calls, 1, "stochastic rounding draws exactly one word");
    out
}

#[test]
fn nearest_ties_towards_plus_infinity() {
    assert_eq!(q(0.5, 0, Nearest), 1);
    assert_eq!(q(-0.5, 0, Nearest), 0);
    assert_eq!(q(-1.5, 0, Nearest), -1);
    assert_eq!(q(2.5, 0, Nearest), 3);
    assert_eq!(q(1.0 / 32.0, 4, Nearest), 1); // half an ulp of FL = 4
    assert_eq!(q(-1.0 / 32.0, 4, Nearest), 0);
    assert_eq!(q(0.3, 8, Nearest), 77); // 76.8
    assert_eq!(q(-0.3, 8, Nearest), -77);
    // Values where a naive floor(t + 0.5) in f64 would round the wrong way.
    assert_eq!(q(0.5 - 2f64.powi(-54), 0, Nearest), 0);
    assert_eq!(q(-(2f64.powi(-60)), 0, Nearest), 0);
}

#[test]
fn truncate_is_floor() {
    assert_eq!(q(0.9, 0, Truncate), 0);
    assert_eq!(q(-0.1, 0, Truncate), -1);
    assert_eq!(q(-(2f64.powi(-60)), 0, Truncate), -1);
    assert_eq!(q(1.99, 14, Truncate), 32604); // 32604.16
    assert_eq!(q(-1.99, 14, Truncate), -32605);
    assert_eq!(q(3.0, 2, Truncate), 12);
}

#[test]
fn saturation_and_special_values() {
    for r in [Truncate, Nearest] {
        assert_eq!(q(1e9, 8, r), 32767);
        assert_eq!(q(-1e9, 8, r), -32768);
        assert_eq!(q(f64::INFINITY, 3, r), 32767);
        assert_eq!(q(f64::NEG_INFINITY, 3, r), -32768);
        assert_eq!(q(f64::MAX, 15, r), 32767);
        assert_eq!(q(f64::NAN, 7, r), 0);
        assert_eq!(q(-128.001, 8, r), -32768);
        assert_eq!(q(-128.0, 8, r), -32768);
        assert_eq!(q(2.0, 14, r), 32767);
    }
    assert_eq!(q(127.998, 8, Nearest), 32767); // 32767.49 rounds to 32767
    assert_eq!(q(127.999, 8, Nearest), 32767); // 32767.74 rounds to 32768, saturates
    assert_eq!(sr(f64::NAN, 7, 0xFFFF), 0);
    assert_eq!(sr(1e9, 0, 0xFFFF), 32767);
    assert_eq!(sr(-1e9, 0, 0), -32768);
    // Rounds up to 32768 first, then saturates.
    assert_eq!(sr(32767.5, 0, 0xFFFF), 32767);
}

#[test]
fn stochastic_uses_the_top_16_fraction_bits() {
    // 0.25: up iff 16384 + r >= 65536.
    assert_eq!(sr(0.25, 0, 49151), 0);
    assert_eq!(sr(0.25, 0, 49152), 1);
    // -0.25 = -1 + 0.75: up (to 0) iff 49152 + r >= 65536.
    assert_eq!(sr(-0.25, 0, 16383), -1);
    assert_eq!(sr(-0.25, 0, 16384), 0);
    // A fraction below 2^-16 never rounds up; exactly 2^-16 rounds up only for r = 0xFFFF.
    assert_eq!(sr(2f64.powi(-20), 0, 0xFFFF), 0);
    assert_eq!(sr(2f64.powi(-16), 0, 0xFFFE), 0);
    assert_eq!(sr(2f64.powi(-16), 0, 0xFFFF), 1);
    // Exact values never move.
    assert_eq!(sr(5.0, 3, 0xFFFF), 40);
    assert_eq!(sr(-5.0, 3, 0xFFFF), -40);
}

/// Over many draws the mean of SR(x) · 2^-FL is x, within 5 standard errors
/// (a false failure has probability below 1e-6 per case).
#[test]
fn stochastic_quantize_is_unbiased() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let draws = 200_000;
    for &(x, fl) in &[
        (0.3, 0u8),
        (-0.3, 0),
        (1.0 / 3.0, 8),
        (-2.6, 10),
        (0.0001, 14),
    ] {
        let t: f64 = x * f64::from(1u32 << fl);
        let p = t - t.floor();
        let sum: f64 = (0..draws)
            .map(|_| f64::from(quantize(x, fl, Stochastic, &mut || rng.gen())))
            .sum();
        let mean = sum / f64::from(draws);
        let se = (p * (1.0 - p) / f64::from(draws)).sqrt();
        // The 16-bit fraction resolution adds a bias below 2^-16, far below 5 SE here.
        assert!(
            (mean - t).abs() <= 5.0 * se + 2f64.powi(-16),
            "x = {x}, FL = {fl}: mean {mean} vs {t} (SE {se})"
        );
    }
}

#[test]
fn dequantize_is_exact_and_round_trips() {
    for fl in 0..=15u8 {
        for v in [i16::MIN, -12345, -1, 0, 1, 777, i16::MAX] {
            let x = dequantize(v, fl);
            assert_eq!(x * f64::from(1u32 << fl), f64::from(v));
            for r in [Truncate, Nearest] {
                assert_eq!(q(x, fl, r), v);
                assert_eq!(quantize_f32(x as f32, fl, r, &mut no_rng()), v);
            }
            assert_eq!(sr(x, fl, 0xFFFF), v);
        }
    }
}

#[test]
fn f32_matches_f64() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for _ in 0..10_000 {
        let x: f32 = rng.gen_range(-300.0..300.0);
        let fl = rng.gen_range(0..=15u8);
        let word: u16 = rng.gen();
        for r in Rounding::ALL {
            assert_eq!(
                quantize_f32(x, fl, r, &mut || word),
                quantize(f64::from(x), fl, r, &mut || word)
            );
        }
    }
}

#[test]
fn fl_validation() {
    assert!(check_fl('A', 15).is_ok());
    assert_eq!(
        check_fl('B', 16),
        Err(ModelError::BadFl {
            which: 'B',
            value: 16
        })
    );
    assert!(std::panic::catch_unwind(|| q(1.0, 16, Truncate)).is_err());
    assert!(std::panic::catch_unwind(|| dequantize(1, 16)).is_err());
}
