//! `GemmUnit` against `qtrain_model::gemm`, with a word-addressed memory model in the test.

use super::*;
use qtrain_model::{gemm, GemmParams, Matrix, Rounding};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MEM_WORDS: usize = 4096;

/// One GEMM descriptor, with the layout of its operands in memory.
#[derive(Clone, Debug)]
struct Desc {
    m: usize,
    k: usize,
    n: usize,
    trans_a: bool,
    trans_b: bool,
    accumulate: bool,
    a_addr: usize,
    a_stride: usize,
    b_addr: usize,
    b_stride: usize,
    c_addr: usize,
    c_stride: usize,
    p: GemmParams,
}

impl Desc {
    /// A random GEMM of the given shape and flags, its operands at random places in memory with
    /// row strides up to 3 words longer than the rows.
    fn random(rng: &mut ChaCha8Rng, (m, k, n): (usize, usize, usize), flags: u8) -> Desc {
        let (trans_a, trans_b, accumulate) = (flags & 1 != 0, flags & 2 != 0, flags & 4 != 0);
        let (a_rows, a_cols) = if trans_a { (k, m) } else { (m, k) };
        let (b_rows, b_cols) = if trans_b { (n, k) } else { (k, n) };
        let a_stride = a_cols + rng.gen_range(0..4);
        let b_stride = b_cols + rng.gen_range(0..4);
        let c_stride = n + rng.gen_range(0..4);
        let a_addr = rng.gen_range(0..16);
        let b_addr = a_addr + a_rows * a_stride + rng.gen_range(0..16);
        let c_addr = b_addr + b_rows * b_stride + rng.gen_range(0..16);
        assert!(c_addr + m * c_stride < MEM_WORDS, "test GEMM too large");
        let rounding =
            [Rounding::Truncate, Rounding::Nearest, Rounding::Stochastic][rng.gen_range(0..3)];
        // Mostly shifts of 16 or more: random 16-bit operands then give results that mostly
        // do not saturate, and every element depends on its whole random word. s >= 0 when
        // accumulating, as numerics §6 requires; otherwise sometimes any fl_c.
        let fl_a = rng.gen_range(8..16);
        let fl_b = rng.gen_range(8..16);
        let fl_c = if accumulate || rng.gen_bool(0.8) {
            rng.gen_range(0..=(fl_a + fl_b - 16))
        } else {
            rng.gen_range(0..16)
        };
        let p = GemmParams::from_seed(rng.gen(), fl_a, fl_b, fl_c, rounding);
        Desc {
            m,
            k,
            n,
            trans_a,
            trans_b,
            accumulate,
            a_addr,
            a_stride,
            b_addr,
            b_stride,
            c_addr,
            c_stride,
            p,
        }
    }
}

fn matrix_at(mem: &[i16], addr: usize, stride: usize, rows: usize, cols: usize) -> Matrix {
    let data = (0..rows)
        .flat_map(|i| (0..cols).map(move |j| mem[addr + i * stride + j]))
        .collect();
    Matrix::new(rows, cols, data).unwrap()
}

/// What memory must hold after the GEMM: `mem` with C replaced by the model's result.
fn expected(mem: &[i16], d: &Desc) -> Vec<i16> {
    let (a_rows, a_cols) = if d.trans_a { (d.k, d.m) } else { (d.m, d.k) };
    let (b_rows, b_cols) = if d.trans_b { (d.n, d.k) } else { (d.k, d.n) };
    let a = matrix_at(mem, d.a_addr, d.a_stride, a_rows, a_cols);
    let b = matrix_at(mem, d.b_addr, d.b_stride, b_rows, b_cols);
    let c_in = d
        .accumulate
        .then(|| matrix_at(mem, d.c_addr, d.c_stride, d.m, d.n));
    let c = gemm(&a, d.trans_a, &b, d.trans_b, c_in.as_ref(), &d.p).unwrap();
    let mut want = mem.to_vec();
    for i in 0..d.m {
        for j in 0..d.n {
            want[d.c_addr + i * d.c_stride + j] = c.get(i, j);
        }
    }
    want
}

/// Runs `d` on a `GemmUnit<R, C>` with banks of `2^cap_bits` words against `mem` (one-cycle
/// reads, writes at the edge) and returns the unit's `cycles`. Checks that the unit writes
/// only while busy and that `busy` falls within a generous bound.
fn run<const R: usize, const C: usize>(cap_bits: usize, mem: &mut [i16], d: &Desc) -> u64 {
    let mut uut = GemmUnit::<R, C>::with_capacity_bits(cap_bits);
    uut.connect_all();
    uut.a_addr.next = bits(d.a_addr as u64);
    uut.b_addr.next = bits(d.b_addr as u64);
    uut.c_addr.next = bits(d.c_addr as u64);
    uut.a_stride.next = bits(d.a_stride as u64);
    uut.b_stride.next = bits(d.b_stride as u64);
    uut.c_stride.next = bits(d.c_stride as u64);
    uut.m.next = bits(d.m as u64);
    uut.k.next = bits(d.k as u64);
    uut.n.next = bits(d.n as u64);
    uut.trans_a.next = d.trans_a;
    uut.trans_b.next = d.trans_b;
    uut.accumulate.next = d.accumulate;
    uut.fl_a.next = bits(u64::from(d.p.fl_a));
    uut.fl_b.next = bits(u64::from(d.p.fl_b));
    uut.fl_c.next = bits(u64::from(d.p.fl_c));
    uut.rounding.next = bits(d.p.rounding as u64);
    uut.row_state.next = bits(u64::from(d.p.row_state));
    uut.col_state.next = bits(u64::from(d.p.col_state));
    // A few idle cycles first: nothing may be written before start.
    for _ in 0..3 {
        assert!(simulate(&mut uut, 1000));
        assert!(!uut.busy.val() && !uut.mem_wr_en.val());
        clock_cycle!(&mut uut);
    }
    uut.start.next = true;
    let limit = 100_000 + 20 * gemm_unit_cycles(R, C, 1 << cap_bits, d.m, d.k, d.n, true);
    let mut cycle = 0u64;
    let mut done_at = None;
    loop {
        let busy = uut.busy.val();
        let rd = uut.mem_rd_addr.val().to_u64() as usize & 0xFFFF;
        let we = uut.mem_wr_en.val();
        let wa = uut.mem_wr_addr.val().to_u64() as usize & 0xFFFF;
        let wd = uut.mem_wr_data.val().to_u16() as i16;
        if cycle > 0 && !busy {
            assert!(!we, "write while not busy");
            done_at.get_or_insert(cycle);
            if cycle >= done_at.unwrap() + 3 {
                break;
            }
        }
        clock_cycle!(&mut uut);
        uut.start.next = false;
        if we {
            mem[wa] = wd;
        }
        uut.mem_rd_data.next = bits(u64::from(mem.get(rd).copied().unwrap_or(0) as u16));
        cycle += 1;
        assert!(cycle < limit, "busy for more than {limit} cycles");
    }
    uut.cycles.val().to_u64()
}

fn check<const R: usize, const C: usize>(
    cap_bits: usize,
    seed: u64,
    shape: (usize, usize, usize),
    flags: u8,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut d = Desc::random(&mut rng, shape, flags);
    if seed.is_multiple_of(2) {
        // Half the runs round stochastically whatever the draw: the words of every element,
        // hence each piece's LFSR start states, must then be right.
        d.p.rounding = Rounding::Stochastic;
    }
    let mut mem: Vec<i16> = (0..MEM_WORDS).map(|_| rng.gen()).collect();
    let want = expected(&mem, &d);
    let saturated = (0..d.m)
        .flat_map(|i| (0..d.n).map(move |j| (i, j)))
        .filter(|&(i, j)| matches!(want[d.c_addr + i * d.c_stride + j], i16::MAX | i16::MIN))
        .count();
    // A C that is all saturated would not show whether C_in or the random words were used
    // (the shifts of 16 and more are chosen to avoid that).
    assert!(
        saturated < d.m * d.n || d.m * d.n == 1 || d.p.shift() < 16,
        "test GEMM saturates: {d:?}"
    );
    let cycles = run::<R, C>(cap_bits, &mut mem, &d);
    let bad: Vec<usize> = (0..MEM_WORDS).filter(|&x| mem[x] != want[x]).collect();
    assert!(
        bad.is_empty(),
        "{R}x{C} unit, cap 2^{cap_bits}, {d:?}: {} words differ, first at {} (got {}, want {})",
        bad.len(),
        bad[0],
        mem[bad[0]],
        want[bad[0]]
    );
    let (m, k, n) = shape;
    assert_eq!(
        cycles,
        gemm_unit_cycles(R, C, 1 << cap_bits, m, k, n, d.accumulate),
        "{R}x{C} unit, cap 2^{cap_bits}, {d:?}"
    );
}

/// The transpose flags, without and with accumulation.
const PLAIN: [u8; 4] = [0, 1, 2, 3];
const ACCUMULATING: [u8; 4] = [4, 5, 6, 7];

fn one_piece_on_2x2(flag_set: [u8; 4]) {
    for flags in flag_set {
        check::<2, 2>(14, 10 + u64::from(flags), (3, 4, 5), flags);
    }
}

fn many_pieces_on_2x2(flag_set: [u8; 4]) {
    // Banks of 8 words: with K = 5 a piece is one tile of rows and one of columns, so 5 x 7
    // is cut into 3 x 4 pieces.
    let mut rng = ChaCha8Rng::seed_from_u64(7 + u64::from(flag_set[0]));
    for flags in flag_set {
        check::<2, 2>(3, 20 + u64::from(flags), (5, 5, 7), flags);
        // Banks of 16 words, K = 2: all of N is one piece, M is cut in three, and op(B) is
        // loaded once for the three.
        check::<2, 2>(4, 70 + u64::from(flags), (12, 2, 6), flags);
        let shape = (
            rng.gen_range(1..10),
            rng.gen_range(1..=8),
            rng.gen_range(1..10),
        );
        check::<2, 2>(3, 30 + u64::from(flags), shape, flags);
    }
}

fn one_element_per_piece_on_1x1(flag_set: [u8; 4]) {
    // K equal to the capacity: every piece is a single element.
    for flags in flag_set {
        check::<1, 1>(2, 40 + u64::from(flags), (3, 4, 2), flags);
    }
}

fn uneven_pieces_on_2x4(flag_set: [u8; 4]) {
    let mut rng = ChaCha8Rng::seed_from_u64(8 + u64::from(flag_set[0]));
    for flags in flag_set {
        let shape = (
            rng.gen_range(1..12),
            rng.gen_range(1..=16),
            rng.gen_range(1..14),
        );
        check::<2, 4>(4, 50 + u64::from(flags), shape, flags);
    }
}

fn odd_shape_on_3x5(flag_set: [u8; 4]) {
    // Banks wrap at 3 rows and 5 columns; K = 4 in 16-word banks gives 4 tiles per bank.
    for flags in flag_set {
        check::<3, 5>(4, 60 + u64::from(flags), (8, 4, 23), flags);
    }
}

#[test]
fn one_piece() {
    one_piece_on_2x2(PLAIN);
}

#[test]
fn one_piece_accumulating() {
    one_piece_on_2x2(ACCUMULATING);
}

#[test]
fn many_pieces() {
    many_pieces_on_2x2(PLAIN);
}

#[test]
fn many_pieces_accumulating() {
    many_pieces_on_2x2(ACCUMULATING);
}

#[test]
fn one_element_per_piece() {
    one_element_per_piece_on_1x1(PLAIN);
}

#[test]
fn one_element_per_piece_accumulating() {
    one_element_per_piece_on_1x1(ACCUMULATING);
}

#[test]
fn uneven_pieces() {
    uneven_pieces_on_2x4(PLAIN);
}

#[test]
fn uneven_pieces_accumulating() {
    uneven_pieces_on_2x4(ACCUMULATING);
}

#[test]
fn odd_shape() {
    odd_shape_on_3x5(PLAIN);
}

#[test]
fn odd_shape_accumulating() {
    odd_shape_on_3x5(ACCUMULATING);
}

#[test]
fn full_capacity_on_4x4() {
    // Whole GEMMs in one piece on the default 2^14-word banks, several tiles each way.
    check::<4, 4>(14, 80, (32, 24, 20), 3);
    check::<4, 4>(14, 81, (21, 30, 32), 5);
}
