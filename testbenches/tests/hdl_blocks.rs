//! The rust-hdl blocks of `qtrain-hdl`, simulated by rust-hdl, against the reference model.
//!
//! Small blocks get many random cases (the LFSR word stream, the conversion over every shift,
//! rounding mode and corner of the accumulator, the PE over dot products, the column head over
//! streams of results with their row and column words); the whole core runs a few small
//! GEMMs, since rust-hdl's simulator is slow for large designs.

use qtrain_hdl::column_convert::{ColumnConvert, CORE_ACC_BOUND, HEAD_LATENCY};
use qtrain_hdl::controller::gemm_cycles;
use qtrain_hdl::convert::{simulate_convert, Convert};
use qtrain_hdl::lfsr::Lfsr;
use qtrain_hdl::macc::{bits48, value48, Macc, MACC_LATENCY};
use qtrain_hdl::rust_hdl::prelude::*;
use qtrain_hdl::{simulate_gemm, simulate_gemm_acc};
use qtrain_model::{
    convert, gemm, wrap48, GemmParams, Lfsr as ModelLfsr, Matrix, Rounding, LFSR_A_MASK,
    LFSR_B_MASK,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One clock cycle: inputs settle with the clock low, then the rising edge.
fn cycle<B: Block>(uut: &mut B, clock: impl Fn(&mut B, bool)) {
    assert!(simulate(uut, 1000), "did not settle");
    clock(uut, true);
    assert!(simulate(uut, 1000), "did not settle");
    clock(uut, false);
    assert!(simulate(uut, 1000), "did not settle");
}

#[test]
fn lfsr_word_streams_match_model() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let clock = |u: &mut Lfsr, v: bool| u.clock.next = Clock { clk: v };
    for mask in [LFSR_A_MASK, LFSR_B_MASK] {
        for _ in 0..4 {
            let seed = rng.gen::<u32>() | 1;
            let mut uut = Lfsr::new(mask);
            uut.connect_all();
            uut.load.next = true;
            uut.load_state.next = bits(u64::from(seed));
            cycle(&mut uut, clock);
            uut.load.next = false;
            uut.advance.next = true;
            let mut model = ModelLfsr::new(seed, mask);
            for n in 0..500 {
                assert_eq!(
                    uut.word.val().to_u16(),
                    model.next_word(),
                    "mask {mask:#x} word {n}"
                );
                cycle(&mut uut, clock);
            }
            assert_eq!(uut.state.val().to_u32(), model.state);
        }
    }
}

/// A random accumulator that often sits near a boundary that matters to the conversion.
fn interesting_acc(rng: &mut ChaCha8Rng, shift: i32) -> i64 {
    let s = shift.max(0) as u32;
    match rng.gen_range(0..6) {
        // Anywhere in the 48-bit range.
        0 => wrap48(rng.gen::<i64>()),
        // Near the edges of the 16-bit output range after the shift.
        1 => {
            let edge: i64 = if rng.gen() { 32767 } else { -32768 };
            let base = if shift <= 0 {
                edge >> (-shift)
            } else {
                edge << s
            };
            wrap48(base + rng.gen_range(-3i64 << s..=3i64 << s))
        }
        // Exact ties: the dropped fraction is one half.
        2 if s >= 1 => wrap48((rng.gen_range(-40_000i64..40_000) << s) + (1 << (s - 1))),
        // Small values (the common case in training).
        3 => rng.gen_range(-(1i64 << (s + 16))..(1i64 << (s + 16))),
        // The very ends of the accumulator, where acc + u needs the 49th bit.
        4 => {
            if rng.gen() {
                (1 << 47) - 1 - rng.gen_range(0..1 << 31)
            } else {
                -(1 << 47) + rng.gen_range(0..1 << 31)
            }
        }
        _ => wrap48(rng.gen::<i32>() as i64),
    }
}

#[test]
fn convert_matches_model_on_random_and_corner_cases() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut uut = Convert::default();
    uut.connect_all();
    let (mut saturated, mut ties, mut non_positive) = (0, 0, 0);
    for _ in 0..60_000 {
        let shift = rng.gen_range(-15..=30);
        let acc = interesting_acc(&mut rng, shift);
        let rounding = Rounding::ALL[rng.gen_range(0..3)];
        let r = rng.gen::<u16>();
        let want = convert(acc, shift, rounding, r);
        let got = simulate_convert(&mut uut, acc, 0, shift, rounding as u8, r);
        assert_eq!(got, want, "acc={acc} s={shift} {rounding} r={r:#06x}");
        saturated += usize::from(want == i16::MAX || want == i16::MIN);
        ties += usize::from(shift >= 1 && acc.rem_euclid(1 << shift) == 1 << (shift - 1));
        non_positive += usize::from(shift <= 0);
    }
    // The draw must really have covered the corners it aims at.
    assert!(
        saturated > 1000 && ties > 1000 && non_positive > 1000,
        "{saturated} {ties} {non_positive}"
    );
}

#[test]
fn pe_dot_products_match_model() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut uut = Macc::default();
    uut.connect_all();
    let clock = |u: &mut Macc, v: bool| u.clock.next = Clock { clk: v };
    let chain = wrap48(rng.gen::<i64>());
    uut.chain_in.next = bits48(chain);
    for trial in 0..20 {
        let len = rng.gen_range(1..40);
        // Operand ranges from tiny to full scale, so sums of both signs and all magnitudes.
        let range = 1i32 << rng.gen_range(1..=15);
        let mut acc = 0i64;
        for k in 0..len {
            let a = rng.gen_range(-range..range) as i16;
            let b = rng.gen_range(-range..range) as i16;
            acc = wrap48(acc + i64::from(a) * i64::from(b));
            uut.a.next = bits(u64::from(a as u16));
            uut.b.next = bits(u64::from(b as u16));
            uut.first.next = k == 0;
            uut.last.next = k == len - 1;
            cycle(&mut uut, clock);
        }
        // The finished sum is in the result register MACC_LATENCY cycles after the last beat,
        // then the register goes back to passing the chain along.
        uut.first.next = false;
        uut.last.next = false;
        for _ in 1..MACC_LATENCY {
            cycle(&mut uut, clock);
        }
        assert_eq!(value48(uut.result.val()), acc, "trial {trial}, K = {len}");
        cycle(&mut uut, clock);
        assert_eq!(value48(uut.result.val()), chain, "trial {trial}");
    }
}

#[test]
fn column_head_converts_with_row_and_column_words() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut uut = ColumnConvert::default();
    uut.connect_all();
    let clock = |u: &mut ColumnConvert, v: bool| u.clock.next = Clock { clk: v };
    for tile in 0..600 {
        let shift = rng.gen_range(-15..=30);
        let rounding = Rounding::ALL[tile % 3];
        // Accumulation (numerics §6) needs s >= 0; then C_in · 2^s is added to each sum, whose
        // magnitude a core keeps within CORE_ACC_BOUND (the near-limit sums of
        // `interesting_acc` are clamped to it).
        let accumulate = shift >= 0 && tile % 2 == 0;
        uut.shift.next = bits((shift as u64) & 0x3F);
        uut.rounding.next = bits(rounding as u64);
        uut.accumulate.next = accumulate;
        let cb = rng.gen::<u16>();
        // Results arrive back to back here (closer than in the array): the head is pipelined.
        // Row r's sum and C_in are driven in cycle r + 1; the column word is loaded in cycle 0.
        let rows = rng.gen_range(1..=8);
        let mut want = vec![];
        let mut feed = vec![];
        for _ in 0..rows {
            let mut acc = interesting_acc(&mut rng, shift);
            if accumulate {
                acc = acc.clamp(-CORE_ACC_BOUND, CORE_ACC_BOUND);
            }
            let ra = rng.gen::<u16>();
            let c_in = match rng.gen_range(0..4) {
                0 => i16::MAX,
                1 => i16::MIN,
                _ => rng.gen::<i16>() >> rng.gen_range(0..16),
            };
            let x = if accumulate {
                wrap48(acc + (i64::from(c_in) << shift))
            } else {
                acc
            };
            want.push(convert(x, shift, rounding, ra ^ cb));
            feed.push((acc, ra, c_in));
        }
        let mut got = vec![];
        for t in 0..1 + rows + HEAD_LATENCY - 1 {
            // Around the rows C_in is whatever the C bank read last: it must not matter.
            let row = t.checked_sub(1).and_then(|r| feed.get(r));
            let c_in = row.map_or(rng.gen::<i16>(), |f| f.2);
            uut.cin.next = bits(u64::from(c_in as u16));
            uut.load_cb.next = t == 0;
            // The column word input is only read when loading.
            uut.cb.next = bits(u64::from(if t == 0 { cb } else { rng.gen() }));
            if let Some(&(acc, ra, _)) = row {
                uut.acc.next = bits48(acc);
                uut.ra.next = bits(u64::from(ra));
            }
            cycle(&mut uut, clock);
            if t >= HEAD_LATENCY {
                got.push(uut.q.val().to_u16() as i16);
            }
        }
        assert_eq!(
            got, want,
            "tile {tile}: s = {shift}, {rounding}, accumulate {accumulate}, cb = {cb:#06x}"
        );
    }
}

fn random(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Matrix {
    Matrix::new(rows, cols, (0..rows * cols).map(|_| rng.gen()).collect()).unwrap()
}

#[test]
fn tiny_core_gemms_match_model() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    // (trans_a, trans_b, fl_a, fl_b, fl_c, rounding)
    let cases = [
        (false, false, 12, 13, 11, Rounding::Stochastic),
        (true, false, 8, 8, 8, Rounding::Nearest),
        (false, true, 0, 0, 15, Rounding::Truncate),
        (true, true, 15, 15, 0, Rounding::Stochastic),
    ];
    for (n, &(ta, tb, fa, fb, fc, rounding)) in cases.iter().enumerate() {
        let (m, k, nn) = (3, 2 + n, 3);
        let a = if ta {
            random(&mut rng, k, m)
        } else {
            random(&mut rng, m, k)
        };
        let b = if tb {
            random(&mut rng, nn, k)
        } else {
            random(&mut rng, k, nn)
        };
        let p = GemmParams::from_seed(100 + n as u64, fa, fb, fc, rounding);
        let want = gemm(&a, ta, &b, tb, None, &p).unwrap();
        let op_a = if ta { a.transpose() } else { a.clone() };
        let op_b = if tb { b.transpose() } else { b.clone() };
        let (got, cycles) = simulate_gemm::<2, 2>(&op_a, &op_b, &p).unwrap();
        assert_eq!(got.data, want.data, "case {n}");
        assert_eq!(u64::from(cycles), gemm_cycles(2, 2, m, k, nn));
    }
}

#[test]
fn tiny_core_accumulating_gemms_match_model() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    // (core, trans_a, trans_b, (m, k, n), fl_a, fl_b, fl_c, rounding): s = 0, small, 16 and
    // 30; K = 1; M and N off the array's multiples; every rounding.
    let cases = [
        (
            (2, 2),
            false,
            false,
            (3, 2, 3),
            8,
            7,
            15,
            Rounding::Stochastic,
        ),
        ((2, 2), true, false, (3, 1, 5), 15, 15, 0, Rounding::Nearest),
        (
            (1, 1),
            false,
            true,
            (2, 3, 3),
            12,
            4,
            0,
            Rounding::Stochastic,
        ),
        ((3, 5), true, true, (4, 2, 7), 9, 9, 3, Rounding::Truncate),
        (
            (2, 4),
            false,
            false,
            (5, 5, 9),
            15,
            15,
            0,
            Rounding::Stochastic,
        ),
    ];
    for (idx, &((r, c), ta, tb, (m, k, n), fa, fb, fc, rounding)) in cases.iter().enumerate() {
        let op_a = random(&mut rng, m, k);
        let op_b = random(&mut rng, k, n);
        // Half the C_in at the limits, where C_in · 2^s dominates the sum.
        let c_in = Matrix::from_fn(m, n, |i, j| match (i + j) % 4 {
            0 => i16::MAX,
            1 => i16::MIN,
            _ => rng.gen(),
        });
        let (a, b) = (
            if ta { op_a.transpose() } else { op_a.clone() },
            if tb { op_b.transpose() } else { op_b.clone() },
        );
        let p = GemmParams::from_seed(200 + idx as u64, fa, fb, fc, rounding);
        let want = gemm(&a, ta, &b, tb, Some(&c_in), &p).unwrap();
        let (got, cycles) = match (r, c) {
            (1, 1) => simulate_gemm_acc::<1, 1>(&op_a, &op_b, Some(&c_in), &p),
            (2, 2) => simulate_gemm_acc::<2, 2>(&op_a, &op_b, Some(&c_in), &p),
            (2, 4) => simulate_gemm_acc::<2, 4>(&op_a, &op_b, Some(&c_in), &p),
            _ => simulate_gemm_acc::<3, 5>(&op_a, &op_b, Some(&c_in), &p),
        }
        .unwrap();
        assert_eq!(got.data, want.data, "case {idx} on {r}x{c}");
        assert_eq!(u64::from(cycles), gemm_cycles(r, c, m, k, n), "case {idx}");
    }
}

#[test]
fn core_results_do_not_depend_on_the_array_shape() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (m, k, n) = (5, 7, 6);
    let a = random(&mut rng, m, k);
    let b = random(&mut rng, k, n);
    let p = GemmParams::from_seed(9, 11, 12, 9, Rounding::Stochastic);
    let want = gemm(&a, false, &b, false, None, &p).unwrap();
    assert_eq!(simulate_gemm::<1, 1>(&a, &b, &p).unwrap().0.data, want.data);
    assert_eq!(simulate_gemm::<2, 4>(&a, &b, &p).unwrap().0.data, want.data);
    assert_eq!(simulate_gemm::<3, 5>(&a, &b, &p).unwrap().0.data, want.data);
    assert_eq!(simulate_gemm::<4, 4>(&a, &b, &p).unwrap().0.data, want.data);
}

#[test]
fn larger_core_gemms_match_model_and_cycle_formula() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    // Back-to-back tiles (K above the minimum tile period) with partial edge tiles.
    let (m, k, n) = (9, 33, 13);
    let a = random(&mut rng, m, k);
    let b = random(&mut rng, k, n);
    let p = GemmParams::from_seed(12, 13, 14, 12, Rounding::Stochastic);
    let want = gemm(&a, false, &b, false, None, &p).unwrap();
    let (got, cycles) = simulate_gemm::<4, 4>(&a, &b, &p).unwrap();
    assert_eq!(got.data, want.data);
    assert_eq!(u64::from(cycles), gemm_cycles(4, 4, m, k, n));
    let (m, k, n) = (10, 20, 17);
    let a = random(&mut rng, m, k);
    let b = random(&mut rng, k, n);
    let p = GemmParams::from_seed(13, 9, 9, 10, Rounding::Nearest);
    let want = gemm(&a, false, &b, false, None, &p).unwrap();
    let (got, cycles) = simulate_gemm::<8, 8>(&a, &b, &p).unwrap();
    assert_eq!(got.data, want.data);
    assert_eq!(u64::from(cycles), gemm_cycles(8, 8, m, k, n));
}
