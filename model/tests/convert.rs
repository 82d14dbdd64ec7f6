//! `convert` and `wrap48` against cases computed by hand from numerics §3-§4.

use qtrain_model::{convert, wrap48, Rounding};
use Rounding::{Nearest, Stochastic, Truncate};

#[test]
fn wrap48_sign_extends_the_low_48_bits() {
    assert_eq!(wrap48(0), 0);
    assert_eq!(wrap48((1 << 47) - 1), (1 << 47) - 1);
    assert_eq!(wrap48(1 << 47), -(1 << 47));
    assert_eq!(wrap48(1 << 48), 0);
    assert_eq!(wrap48(-(1 << 47)), -(1 << 47));
    assert_eq!(wrap48(-(1 << 47) - 1), (1 << 47) - 1);
    assert_eq!(wrap48(0x1234_5678_9ABC_DEF0), 0x5678_9ABC_DEF0);
    assert_eq!(wrap48(0x1234_9678_9ABC_DEF0), 0x9678_9ABC_DEF0 - (1 << 48));
}

/// s = 4: 23 / 16 = 1.4375, dropped fraction f = 7 of 16.
#[test]
fn positive_value_each_mode() {
    assert_eq!(convert(23, 4, Truncate, 0xFFFF), 1);
    assert_eq!(convert(23, 4, Nearest, 0xFFFF), 1);
    // Up iff 7 + (r >> 12) >= 16, i.e. r >= 9 << 12 = 36864.
    assert_eq!(convert(23, 4, Stochastic, 36863), 1);
    assert_eq!(convert(23, 4, Stochastic, 36864), 2);
    assert_eq!(convert(23, 4, Stochastic, 0), 1);
    assert_eq!(convert(23, 4, Stochastic, 0xFFFF), 2);
}

/// s = 4: -23 / 16 = -1.4375 = -2 + 9/16.
#[test]
fn negative_value_each_mode() {
    assert_eq!(convert(-23, 4, Truncate, 0), -2);
    assert_eq!(convert(-23, 4, Nearest, 0), -1);
    // Up iff 9 + (r >> 12) >= 16, i.e. r >= 7 << 12 = 28672.
    assert_eq!(convert(-23, 4, Stochastic, 28671), -2);
    assert_eq!(convert(-23, 4, Stochastic, 28672), -1);
}

#[test]
fn ties_go_towards_plus_infinity() {
    assert_eq!(convert(24, 4, Nearest, 0), 2); // 1.5
    assert_eq!(convert(-24, 4, Nearest, 0), -1); // -1.5
    assert_eq!(convert(8, 4, Nearest, 0), 1); // 0.5
    assert_eq!(convert(-8, 4, Nearest, 0), 0); // -0.5
    assert_eq!(convert(3, 1, Nearest, 0), 2); // 1.5 with s = 1
    assert_eq!(convert(-3, 1, Nearest, 0), -1); // -1.5 with s = 1
                                                // Just below a tie rounds down, just above rounds up.
    assert_eq!(convert(-9, 4, Nearest, 0), -1); // -0.5625
    assert_eq!(convert(7, 4, Nearest, 0), 0); // 0.4375
                                              // Truncation of the same ties is the floor.
    assert_eq!(convert(24, 4, Truncate, 0), 1);
    assert_eq!(convert(-24, 4, Truncate, 0), -2);
    assert_eq!(convert(-8, 4, Truncate, 0), -1);
}

#[test]
fn stochastic_threshold_at_small_and_16_bit_shifts() {
    // s = 1: 1.5 rounds up iff the top bit of r is set.
    assert_eq!(convert(3, 1, Stochastic, 0x7FFF), 1);
    assert_eq!(convert(3, 1, Stochastic, 0x8000), 2);
    // s = 16: u = r itself; 1.5 rounds up iff r >= 0x8000.
    assert_eq!(convert(0x1_8000, 16, Stochastic, 0x7FFF), 1);
    assert_eq!(convert(0x1_8000, 16, Stochastic, 0x8000), 2);
    // s = 16, f = 1: rounds up only for r = 0xFFFF.
    assert_eq!(convert(0x1_0001, 16, Stochastic, 0xFFFE), 1);
    assert_eq!(convert(0x1_0001, 16, Stochastic, 0xFFFF), 2);
    // An exact value never rounds up.
    assert_eq!(convert(0x3_0000, 16, Stochastic, 0xFFFF), 3);
}

/// s > 16: only the top 16 dropped bits take part (u = r << (s - 16)).
#[test]
fn stochastic_beyond_16_bits() {
    let s = 20;
    let three = 3i64 << s;
    // Half: up iff (r << 4) >= 2^19, i.e. r >= 0x8000.
    assert_eq!(convert(three + (1 << 19), s, Stochastic, 0x7FFF), 3);
    assert_eq!(convert(three + (1 << 19), s, Stochastic, 0x8000), 4);
    // f = 15 < 2^(s-16): never rounds up, even with r = 0xFFFF (the documented bias).
    assert_eq!(convert(three + 15, s, Stochastic, 0xFFFF), 3);
    // f = 16: rounds up only with r = 0xFFFF.
    assert_eq!(convert(three + 16, s, Stochastic, 0xFFFE), 3);
    assert_eq!(convert(three + 16, s, Stochastic, 0xFFFF), 4);
    // s = 30, the largest shift.
    assert_eq!(convert(1 << 40, 30, Truncate, 0), 1024);
    assert_eq!(convert((1 << 40) + (1 << 29), 30, Nearest, 0), 1025);
    assert_eq!(convert((1 << 40) + (1 << 29) - 1, 30, Nearest, 0), 1024);
    assert_eq!(convert((1 << 40) + (1 << 29), 30, Stochastic, 0x7FFF), 1024);
    assert_eq!(convert((1 << 40) + (1 << 29), 30, Stochastic, 0x8000), 1025);
}

#[test]
fn rounding_then_saturation() {
    // 32767.5 rounds to 32768, then saturates.
    assert_eq!(convert((32767 << 4) + 8, 4, Nearest, 0), 32767);
    // 32767.9375 truncates to 32767 without saturating.
    assert_eq!(convert((32767 << 4) + 15, 4, Truncate, 0), 32767);
    assert_eq!(convert((32767 << 4) + 15, 4, Stochastic, 0xFFFF), 32767);
    // -32768.0625: floor is -32769, saturates; nearest is -32768.
    assert_eq!(convert(-(32768 << 4) - 1, 4, Truncate, 0), -32768);
    assert_eq!(convert(-(32768 << 4) - 1, 4, Nearest, 0), -32768);
    assert_eq!(convert(-(32768 << 4) - 9, 4, Nearest, 0), -32768);
    // The extremes of the 48-bit accumulator.
    for r in Rounding::ALL {
        assert_eq!(convert((1 << 47) - 1, 1, r, 0xFFFF), 32767);
        assert_eq!(convert(-(1 << 47), 1, r, 0), -32768);
        assert_eq!(convert((1 << 47) - 1, 30, r, 0xFFFF), 32767);
        assert_eq!(convert(-(1 << 47), 30, r, 0), -32768);
    }
}

#[test]
fn non_positive_shifts_are_exact_left_shifts_that_saturate() {
    for r in Rounding::ALL {
        for word in [0, 0x1234, 0xFFFF] {
            assert_eq!(convert(5, 0, r, word), 5);
            assert_eq!(convert(-5, 0, r, word), -5);
            assert_eq!(convert(40000, 0, r, word), 32767);
            assert_eq!(convert(-40000, 0, r, word), -32768);
            assert_eq!(convert(4095, -3, r, word), 32760);
            assert_eq!(convert(4096, -3, r, word), 32767);
            assert_eq!(convert(-4096, -3, r, word), -32768);
            assert_eq!(convert(-4097, -3, r, word), -32768);
            assert_eq!(convert(1, -15, r, word), 32767);
            assert_eq!(convert(-1, -15, r, word), -32768);
            assert_eq!(convert(0, -15, r, word), 0);
            // The largest accumulators shifted by the largest left shift still saturate.
            assert_eq!(convert((1 << 47) - 1, -15, r, word), 32767);
            assert_eq!(convert(-(1 << 47), -15, r, word), -32768);
        }
    }
}

#[test]
#[should_panic(expected = "out of range")]
fn shift_above_30_is_rejected() {
    convert(0, 31, Truncate, 0);
}

#[test]
#[should_panic(expected = "out of range")]
fn shift_below_minus_15_is_rejected() {
    convert(0, -16, Truncate, 0);
}

#[test]
#[should_panic(expected = "does not fit 48 bits")]
fn unwrapped_accumulator_is_rejected() {
    convert(1 << 47, 4, Truncate, 0);
}
