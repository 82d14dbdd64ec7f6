//! Random GEMM test cases that cover the corners of numerics.md on purpose.

use qtrain_model::{GemmParams, Matrix, Rounding};
use rand::Rng;

/// The classes of the conversion shift `s = FL_A + FL_B - FL_C` that the conversion treats
/// differently (numerics §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShiftClass {
    /// `s < 0`: shift left and saturate.
    Negative,
    /// `s = 0`: saturate only.
    Zero,
    /// `0 < s < 16`: the random word is shifted right.
    Small,
    /// `s = 16`: the random word is used as is.
    Sixteen,
    /// `s > 16`: the random word is shifted left.
    Large,
}

impl ShiftClass {
    /// Every class.
    pub const ALL: [ShiftClass; 5] = [
        ShiftClass::Negative,
        ShiftClass::Zero,
        ShiftClass::Small,
        ShiftClass::Sixteen,
        ShiftClass::Large,
    ];

    /// The class of a shift.
    pub fn of(shift: i32) -> ShiftClass {
        match shift {
            s if s < 0 => ShiftClass::Negative,
            0 => ShiftClass::Zero,
            s if s < 16 => ShiftClass::Small,
            16 => ShiftClass::Sixteen,
            _ => ShiftClass::Large,
        }
    }

    /// Random `(fl_a, fl_b, fl_c)`, each in `0..=15`, whose shift is in this class.
    pub fn pick(self, rng: &mut impl Rng) -> (u8, u8, u8) {
        loop {
            let (fa, fb, fc) = (
                rng.gen_range(0..16),
                rng.gen_range(0..16),
                rng.gen_range(0..16),
            );
            let s = i32::from(fa) + i32::from(fb) - i32::from(fc);
            if ShiftClass::of(s) == self {
                return (fa, fb, fc);
            }
        }
    }
}

/// How operand values are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueDist {
    /// Every 16-bit pattern equally likely.
    Full,
    /// Uniform in `[-2^b, 2^b)` with `b` drawn per matrix from `0..=14`: typical magnitudes.
    Scaled,
    /// Mostly the extremes (-32768, 32767, -32767) with some 0 and ±1: drives saturation and
    /// the largest products.
    Extreme,
}

impl ValueDist {
    /// Every distribution.
    pub const ALL: [ValueDist; 3] = [ValueDist::Full, ValueDist::Scaled, ValueDist::Extreme];

    /// A random `rows x cols` matrix.
    pub fn matrix(self, rng: &mut impl Rng, rows: usize, cols: usize) -> Matrix {
        match self {
            ValueDist::Full => Matrix::from_fn(rows, cols, |_, _| rng.gen()),
            ValueDist::Scaled => {
                let half = 1i32 << rng.gen_range(0..=14);
                Matrix::from_fn(rows, cols, |_, _| rng.gen_range(-half..half) as i16)
            }
            ValueDist::Extreme => {
                const PICKS: [i16; 8] = [-32768, -32768, 32767, 32767, -32767, 0, 1, -1];
                Matrix::from_fn(rows, cols, |_, _| PICKS[rng.gen_range(0..PICKS.len())])
            }
        }
    }
}

/// What a case should look like; the operand values and the seed are drawn by
/// [`GemmCase::generate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseSpec {
    /// Rows of op(A) and C.
    pub m: usize,
    /// Columns of op(A), rows of op(B).
    pub k: usize,
    /// Columns of op(B) and C.
    pub n: usize,
    /// The class of the conversion shift.
    pub shift: ShiftClass,
    /// The rounding mode.
    pub rounding: Rounding,
    /// How the operand values are drawn.
    pub dist: ValueDist,
    /// Store A transposed (op(A) = A^T).
    pub trans_a: bool,
    /// Store B transposed (op(B) = B^T).
    pub trans_b: bool,
}

/// A complete GEMM: operands as stored, transposes and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemmCase {
    /// A as stored (K x M when `trans_a`).
    pub a: Matrix,
    /// Whether op(A) = A^T.
    pub trans_a: bool,
    /// B as stored (N x K when `trans_b`).
    pub b: Matrix,
    /// Whether op(B) = B^T.
    pub trans_b: bool,
    /// Formats, rounding and LFSR start states.
    pub params: GemmParams,
    /// The seed the LFSR states were derived from.
    pub seed: u64,
    /// How the operands were drawn.
    pub dist: ValueDist,
}

impl GemmCase {
    /// Draws the operands, formats and seed of a case matching `spec`.
    pub fn generate(spec: &CaseSpec, rng: &mut impl Rng) -> GemmCase {
        let (ar, ac) = if spec.trans_a {
            (spec.k, spec.m)
        } else {
            (spec.m, spec.k)
        };
        let (br, bc) = if spec.trans_b {
            (spec.n, spec.k)
        } else {
            (spec.k, spec.n)
        };
        let a = spec.dist.matrix(rng, ar, ac);
        let b = spec.dist.matrix(rng, br, bc);
        let (fl_a, fl_b, fl_c) = spec.shift.pick(rng);
        let seed = rng.gen();
        GemmCase {
            a,
            trans_a: spec.trans_a,
            b,
            trans_b: spec.trans_b,
            params: GemmParams::from_seed(seed, fl_a, fl_b, fl_c, spec.rounding),
            seed,
            dist: spec.dist,
        }
    }

    /// `(M, K, N)`.
    pub fn dims(&self) -> (usize, usize, usize) {
        let (m, k) = self.a.op_shape(self.trans_a);
        (m, k, self.b.op_shape(self.trans_b).1)
    }

    /// The reference result, from the model.
    pub fn expected(&self) -> Matrix {
        qtrain_model::gemm(
            &self.a,
            self.trans_a,
            &self.b,
            self.trans_b,
            None,
            &self.params,
        )
        .expect("generated cases are valid GEMMs")
    }

    /// One line naming everything needed to reproduce the case.
    pub fn describe(&self) -> String {
        let (m, k, n) = self.dims();
        let p = &self.params;
        format!(
            "{m}x{k}x{n} (MxKxN), trans_a={}, trans_b={}, FL a/b/c = {}/{}/{} (s = {}), \
             rounding {:?}, seed {:#x} (row_state {:#010x}, col_state {:#010x}), values {:?}",
            self.trans_a,
            self.trans_b,
            p.fl_a,
            p.fl_b,
            p.fl_c,
            p.shift(),
            p.rounding,
            self.seed,
            p.row_state,
            p.col_state,
            self.dist
        )
    }
}

/// Random `(M, K, N)` up to `max_mn` x `max_k` x `max_mn`, biased towards the edges: 1,
/// exact multiples of the array (`rows` x `cols`) and one more or less than them.
pub fn random_dims(
    rng: &mut impl Rng,
    rows: usize,
    cols: usize,
    max_mn: usize,
    max_k: usize,
) -> (usize, usize, usize) {
    let mut edge = |unit: usize, max: usize| -> usize {
        let v = match rng.gen_range(0..8) {
            0 => 1,
            1 => unit * rng.gen_range(1..=4),
            2 => unit * rng.gen_range(1..=4) + 1,
            3 => (unit * rng.gen_range(1..=4)).saturating_sub(1),
            _ => rng.gen_range(1..=max),
        };
        v.clamp(1, max)
    };
    let m = edge(rows, max_mn);
    let n = edge(cols, max_mn);
    let k = match rng.gen_range(0..10) {
        0 => 1,
        1 => rng.gen_range(300..=max_k.max(300)),
        _ => rng.gen_range(1..=max_k.min(64)),
    };
    (m, k.min(max_k), n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn shift_classes_partition_the_shifts() {
        assert_eq!(ShiftClass::of(-15), ShiftClass::Negative);
        assert_eq!(ShiftClass::of(-1), ShiftClass::Negative);
        assert_eq!(ShiftClass::of(0), ShiftClass::Zero);
        assert_eq!(ShiftClass::of(1), ShiftClass::Small);
        assert_eq!(ShiftClass::of(15), ShiftClass::Small);
        assert_eq!(ShiftClass::of(16), ShiftClass::Sixteen);
        assert_eq!(ShiftClass::of(17), ShiftClass::Large);
        assert_eq!(ShiftClass::of(30), ShiftClass::Large);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for class in ShiftClass::ALL {
            for _ in 0..50 {
                let (a, b, c) = class.pick(&mut rng);
                assert!(a <= 15 && b <= 15 && c <= 15);
                let s = i32::from(a) + i32::from(b) - i32::from(c);
                assert_eq!(ShiftClass::of(s), class);
            }
        }
    }

    #[test]
    fn generated_cases_have_the_requested_shape() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
            let spec = CaseSpec {
                m: 3,
                k: 5,
                n: 7,
                shift: ShiftClass::Sixteen,
                rounding: Rounding::Nearest,
                dist: ValueDist::Full,
                trans_a,
                trans_b,
            };
            let case = GemmCase::generate(&spec, &mut rng);
            assert_eq!(case.dims(), (3, 5, 7));
            assert_eq!(case.params.shift(), 16);
            assert_eq!(case.expected().rows, 3);
            assert!(case.describe().contains("3x5x7"));
        }
    }

    #[test]
    fn extreme_values_are_extreme_and_scaled_are_bounded() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x = ValueDist::Extreme.matrix(&mut rng, 20, 20);
        assert!(x.data.contains(&-32768) && x.data.contains(&32767));
        assert!(x
            .data
            .iter()
            .all(|v| [-32768, 32767, -32767, 0, 1, -1].contains(v)));
        let s = ValueDist::Scaled.matrix(&mut rng, 20, 20);
        assert!(s.data.iter().all(|&v| v > -16385 && v < 16384));
    }

    #[test]
    fn random_dims_hit_the_edges_and_respect_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let dims: Vec<_> = (0..2000)
            .map(|_| random_dims(&mut rng, 4, 8, 40, 400))
            .collect();
        assert!(dims.iter().all(|&(m, k, n)| (1..=40).contains(&m)
            && (1..=400).contains(&k)
            && (1..=40).contains(&n)));
        assert!(dims.iter().any(|d| d.0 == 1));
        assert!(dims.iter().any(|d| d.2 == 1));
        assert!(dims.iter().any(|d| d.1 == 1));
        assert!(dims.iter().any(|d| d.1 >= 300));
        assert!(dims.iter().any(|d| d.0 % 4 != 0 && d.0 > 4));
        assert!(dims.iter().any(|d| d.2 == 9));
    }
}
