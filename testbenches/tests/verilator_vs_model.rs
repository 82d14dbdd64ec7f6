//! The Verilated GEMM core against the reference model, bit for bit.
//!
//! Every test draws GEMMs that aim at the corners of docs/numerics.md (each shift class, each
//! rounding mode, saturation, full-range operands, transposes, K = 1, K >= 300, M or N = 1,
//! dimensions that are not multiples of the array) and checks that the simulated core returns
//! exactly the model's C, and likewise for accumulating GEMMs (`C = op(A)·op(B) + C_in`,
//! s >= 0). The CI-sized suite runs a little over 4,000 GEMMs; the long run is
//!
//! ```sh
//! QTRAIN_LONG_GEMMS=100000 cargo test --release -p qtrain-testbenches \
//!     --test verilator_vs_model -- --ignored long_run --nocapture
//! ```
//!
//! (`QTRAIN_LONG_SEED=<n>` changes the draw, `QTRAIN_LONG_SHAPES=2x4,8x8` restricts the shapes.)
//!
//! Without Verilator these tests skip with a message, except under CI (`CI=true`), where they
//! fail.

use std::collections::HashMap;

use qtrain_hdl::controller::gemm_cycles;
use qtrain_model::{GemmParams, Matrix, Rounding};
use qtrain_sim::{SimCore, SimError};
use qtrain_testbenches::{
    first_mismatch, random_dims, verilator_core, CaseSpec, GemmCase, ShiftClass, ValueDist,
    SUPPORTED_SHAPES,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The shapes named by the issue; every other supported shape gets a smaller sweep.
const MAIN_SHAPES: [(usize, usize); 3] = [(2, 4), (4, 4), (8, 8)];
/// Random GEMMs per main shape in the CI suite.
const CI_GEMMS_PER_MAIN_SHAPE: usize = 650;
/// Random GEMMs per other supported shape in the CI suite.
const CI_GEMMS_PER_OTHER_SHAPE: usize = 150;

/// What a sweep exercised, so that a test can insist it covered what it claims to.
#[derive(Default, Debug)]
struct Tally {
    gemms: usize,
    classes: HashMap<ShiftClass, usize>,
    roundings: HashMap<Rounding, usize>,
    transposes: [usize; 4],
    saturated: usize,
    k_one: usize,
    k_large: usize,
    m_or_n_one: usize,
    ragged: usize,
    /// Whether some core in the tally was bigger than 1x1, so that ragged dimensions exist.
    ragged_possible: bool,
}

impl Tally {
    fn record(&mut self, core: &SimCore, case: &GemmCase, c: &Matrix) {
        let (m, k, n) = case.dims();
        self.gemms += 1;
        *self
            .classes
            .entry(ShiftClass::of(case.params.shift()))
            .or_default() += 1;
        *self.roundings.entry(case.params.rounding).or_default() += 1;
        self.transposes[usize::from(case.trans_a) * 2 + usize::from(case.trans_b)] += 1;
        self.saturated += c
            .data
            .iter()
            .filter(|&&v| v == i16::MAX || v == i16::MIN)
            .count();
        self.k_one += usize::from(k == 1);
        self.k_large += usize::from(k >= 300);
        self.m_or_n_one += usize::from(m == 1 || n == 1);
        self.ragged += usize::from(m % core.rows() != 0 || n % core.cols() != 0);
        self.ragged_possible |= core.rows() * core.cols() > 1;
    }

    fn merge(&mut self, other: Tally) {
        self.gemms += other.gemms;
        for (k, v) in other.classes {
            *self.classes.entry(k).or_default() += v;
        }
        for (k, v) in other.roundings {
            *self.roundings.entry(k).or_default() += v;
        }
        for i in 0..4 {
            self.transposes[i] += other.transposes[i];
        }
        self.saturated += other.saturated;
        self.k_one += other.k_one;
        self.k_large += other.k_large;
        self.m_or_n_one += other.m_or_n_one;
        self.ragged += other.ragged;
        self.ragged_possible |= other.ragged_possible;
    }

    /// Fails unless every corner was hit at least once.
    fn assert_covers_everything(&self, what: &str) {
        self.assert_covers(what, &ShiftClass::ALL);
    }

    /// Fails unless every corner was hit at least once, among the given shift classes.
    fn assert_covers(&self, what: &str, classes: &[ShiftClass]) {
        for &class in classes {
            assert!(
                self.classes.get(&class).is_some_and(|&n| n > 0),
                "{what}: no {class:?} shift: {self:?}"
            );
        }
        for r in Rounding::ALL {
            assert!(
                self.roundings.get(&r).is_some_and(|&n| n > 0),
                "{what}: no {r:?} rounding: {self:?}"
            );
        }
        assert!(
            self.transposes.iter().all(|&n| n > 0),
            "{what}: a transpose combination is missing: {self:?}"
        );
        assert!(self.saturated > 0, "{what}: nothing saturated: {self:?}");
        assert!(
            self.k_one > 0 && self.k_large > 0,
            "{what}: K = 1 or K >= 300 missing: {self:?}"
        );
        assert!(
            self.m_or_n_one > 0,
            "{what}: M = 1 or N = 1 missing: {self:?}"
        );
        assert!(
            self.ragged > 0 || !self.ragged_possible,
            "{what}: no dimension off the array's multiples: {self:?}"
        );
    }
}

/// Runs one case on the core and panics with a full report unless C is bit-identical to the
/// model's. Returns the (checked) result.
fn check_case(core: &mut SimCore, case: &GemmCase, tally: &mut Tally) -> Matrix {
    let got = core
        .gemm(&case.a, case.trans_a, &case.b, case.trans_b, &case.params)
        .unwrap_or_else(|e| {
            panic!(
                "{}x{} core failed on {}: {e}",
                core.rows(),
                core.cols(),
                case.describe()
            )
        });
    let want = case.expected();
    if let Some(report) =
        first_mismatch(&want, &got.c, &case.a, case.trans_a, &case.b, case.trans_b)
    {
        panic!(
            "the Verilated {}x{} core disagrees with the model on {}\n{report}",
            core.rows(),
            core.cols(),
            case.describe()
        );
    }
    tally.record(core, case, &want);
    got.c
}

/// Shrinks M and N (never K, so that large-K cases survive) until the GEMM fits the core.
fn fit(core: &SimCore, (mut m, k, mut n): (usize, usize, usize)) -> (usize, usize, usize) {
    let words = core.geometry().bank_words();
    let per_bank = (words / k).max(1);
    m = m.min(per_bank * core.rows());
    n = n.min(per_bank * core.cols());
    while core.check_fits(m, k, n).is_err() && (m > 1 || n > 1) {
        if m >= n {
            m = m.div_ceil(2)
        } else {
            n = n.div_ceil(2)
        }
    }
    (m, k, n)
}

/// The i-th case of a sweep: shift class, rounding and value distribution cycle so that every
/// combination recurs; dimensions and transposes are random.
fn sweep_spec(
    i: usize,
    rng: &mut ChaCha8Rng,
    core: &SimCore,
    max_mn: usize,
    max_k: usize,
) -> CaseSpec {
    let (m, k, n) = fit(
        core,
        random_dims(rng, core.rows(), core.cols(), max_mn, max_k),
    );
    CaseSpec {
        m,
        k,
        n,
        shift: ShiftClass::ALL[i % 5],
        rounding: Rounding::ALL[(i / 5) % 3],
        dist: ValueDist::ALL[(i / 15) % 3],
        trans_a: rng.gen(),
        trans_b: rng.gen(),
    }
}

/// `count` random GEMMs on one core; `None` when Verilator is absent outside CI.
fn sweep(rows: usize, cols: usize, count: usize, seed: u64) -> Option<Tally> {
    let mut core = verilator_core(rows, cols)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((rows as u64) << 32 | cols as u64));
    let mut tally = Tally::default();
    for i in 0..count {
        let spec = sweep_spec(i, &mut rng, &core, 40, 400);
        let case = GemmCase::generate(&spec, &mut rng);
        check_case(&mut core, &case, &mut tally);
    }
    Some(tally)
}

#[test]
fn random_gemms_2x4() {
    if let Some(t) = sweep(2, 4, CI_GEMMS_PER_MAIN_SHAPE, 0x2024) {
        t.assert_covers_everything("2x4");
    }
}

#[test]
fn random_gemms_4x4() {
    if let Some(t) = sweep(4, 4, CI_GEMMS_PER_MAIN_SHAPE, 0x4044) {
        t.assert_covers_everything("4x4");
    }
}

#[test]
fn random_gemms_8x8() {
    if let Some(t) = sweep(8, 8, CI_GEMMS_PER_MAIN_SHAPE, 0x8088) {
        t.assert_covers_everything("8x8");
    }
}

/// The boards' larger shapes (`BOARD_SHAPES`: the ECP5's 12x12) against the model, with as
/// many random GEMMs as the other non-main shapes get.
#[test]
fn random_gemms_board_shapes() {
    for &(rows, cols) in qtrain_testbenches::BOARD_SHAPES {
        if let Some(t) = sweep(rows, cols, CI_GEMMS_PER_OTHER_SHAPE, 0x1212) {
            t.assert_covers_everything(&format!("{rows}x{cols}"));
        }
    }
}

#[test]
fn random_gemms_every_other_supported_shape() {
    for &(rows, cols) in SUPPORTED_SHAPES {
        if MAIN_SHAPES.contains(&(rows, cols)) {
            continue;
        }
        if let Some(t) = sweep(rows, cols, CI_GEMMS_PER_OTHER_SHAPE, 0x0707) {
            t.assert_covers_everything(&format!("{rows}x{cols}"));
        }
    }
}

#[test]
fn main_shapes_are_supported() {
    for shape in MAIN_SHAPES {
        assert!(
            SUPPORTED_SHAPES.contains(&shape),
            "{shape:?} missing from SUPPORTED_SHAPES"
        );
    }
}

/// Hand-picked dimensions at the edges of every supported array, in every shift class and
/// rounding mode, with extreme operands.
#[test]
fn edge_dimensions_on_every_shape() {
    for &(rows, cols) in SUPPORTED_SHAPES {
        let Some(mut core) = verilator_core(rows, cols) else {
            return;
        };
        let mut rng = ChaCha8Rng::seed_from_u64(0xED6E + (rows * 100 + cols) as u64);
        let (r, c) = (rows, cols);
        let dims = [
            (1, 1, 1),
            (1, 1, c + 1),
            (r + 1, 1, 1),
            (1, 301, 1),
            (r + r / 2 + 1, 333, c + 1),
            (2 * r + 1, 7, 1),
            (1, 5, 3 * c - 1),
            (r, 64, c),
            (3 * r, 17, 2 * c),
        ];
        let mut tally = Tally::default();
        for (idx, &d) in dims.iter().enumerate() {
            let (m, k, n) = fit(&core, d);
            for (ci, shift) in ShiftClass::ALL.into_iter().enumerate() {
                for rounding in Rounding::ALL {
                    let spec = CaseSpec {
                        m,
                        k,
                        n,
                        shift,
                        rounding,
                        dist: ValueDist::ALL[(idx + ci) % 3],
                        trans_a: idx % 2 == 1,
                        trans_b: (idx / 2) % 2 == 1,
                    };
                    let case = GemmCase::generate(&spec, &mut rng);
                    check_case(&mut core, &case, &mut tally);
                }
            }
        }
        tally.assert_covers_everything(&format!("edges of {rows}x{cols}"));
    }
}

/// Sums that overflow 16 bits in both directions, for s <= 0 where nothing is dropped and for
/// s > 0 with every rounding; the model must say they saturate, and the core must agree.
#[test]
fn saturation_both_ways() {
    let Some(mut core) = verilator_core(4, 4) else {
        return;
    };
    let mut tally = Tally::default();
    for (fl_a, fl_b, fl_c) in [(0, 0, 15), (0, 0, 0), (8, 8, 15), (15, 15, 15), (15, 15, 0)] {
        for rounding in Rounding::ALL {
            for (av, bv, want) in [
                (-32768, -32768, i16::MAX),
                (-32768, 32767, i16::MIN),
                (32767, 32767, i16::MAX),
            ] {
                let case = GemmCase {
                    a: Matrix::from_fn(5, 9, |_, _| av),
                    trans_a: false,
                    b: Matrix::from_fn(9, 6, |_, _| bv),
                    trans_b: false,
                    params: GemmParams::from_seed(99, fl_a, fl_b, fl_c, rounding),
                    seed: 99,
                    dist: ValueDist::Extreme,
                };
                let c = check_case(&mut core, &case, &mut tally);
                // |sum| >= 9 * (2^30 - 2^15) > 2^33, which overflows 16 bits for any s <= 16.
                if case.params.shift() <= 16 {
                    assert!(
                        c.data.iter().all(|&v| v == want),
                        "{}: {:?}",
                        case.describe(),
                        &c.data[..4]
                    );
                }
            }
        }
    }
}

/// numerics §5: the result does not depend on the array shape. The same GEMMs on every
/// supported shape give one and the same C (which is also the model's).
#[test]
fn results_do_not_depend_on_array_shape() {
    let mut cores: Vec<SimCore> = Vec::new();
    for &(rows, cols) in SUPPORTED_SHAPES {
        let Some(core) = verilator_core(rows, cols) else {
            return;
        };
        cores.push(core);
    }
    assert!(
        cores.len() >= 3,
        "need several shapes to compare, have {}",
        cores.len()
    );
    let mut rng = ChaCha8Rng::seed_from_u64(0x5A9E);
    let mut tally = Tally::default();
    for i in 0..45 {
        let spec = sweep_spec(i, &mut rng, &cores[0], 24, 320);
        let case = GemmCase::generate(&spec, &mut rng);
        let (m, k, n) = case.dims();
        let results: Vec<(String, Matrix)> = cores
            .iter_mut()
            .filter(|core| core.check_fits(m, k, n).is_ok())
            .map(|core| {
                (
                    format!("{}x{}", core.rows(), core.cols()),
                    check_case(core, &case, &mut tally),
                )
            })
            .collect();
        assert!(
            results.len() >= 2,
            "case {i} fits fewer than two shapes: {}",
            case.describe()
        );
        let (first_shape, first) = &results[0];
        for (shape, c) in &results[1..] {
            if let Some(r) = first_mismatch(first, c, &case.a, case.trans_a, &case.b, case.trans_b)
            {
                panic!(
                    "{first_shape} and {shape} differ on {}\n{r}",
                    case.describe()
                );
            }
        }
    }
    assert!(tally
        .roundings
        .get(&Rounding::Stochastic)
        .is_some_and(|&n| n > 0));
}

/// The shift classes an accumulating GEMM allows (numerics §6: s >= 0).
const ACC_SHIFTS: [ShiftClass; 4] = [
    ShiftClass::Zero,
    ShiftClass::Small,
    ShiftClass::Sixteen,
    ShiftClass::Large,
];
/// Random accumulating GEMMs per supported shape in the CI suite: every combination of
/// accumulating shift class, rounding and operand distribution once.
const CI_ACC_GEMMS_PER_SHAPE: usize = 36;

/// Runs one accumulating case and panics with a full report unless C is bit-identical to the
/// model's; accumulation must not change the cycle count either. Returns the checked result.
fn check_acc_case(core: &mut SimCore, case: &GemmCase, c_in: &Matrix, tally: &mut Tally) -> Matrix {
    let (m, k, n) = case.dims();
    let got = core
        .gemm_acc(
            &case.a,
            case.trans_a,
            &case.b,
            case.trans_b,
            Some(c_in),
            &case.params,
        )
        .unwrap_or_else(|e| {
            panic!(
                "{}x{} core failed on {} + C_in: {e}",
                core.rows(),
                core.cols(),
                case.describe()
            )
        });
    let want = qtrain_model::gemm(
        &case.a,
        case.trans_a,
        &case.b,
        case.trans_b,
        Some(c_in),
        &case.params,
    )
    .expect("generated accumulating cases are valid");
    if let Some(report) =
        first_mismatch(&want, &got.c, &case.a, case.trans_a, &case.b, case.trans_b)
    {
        panic!(
            "the Verilated {}x{} core disagrees with the model on {} + C_in {:?}\n{report}",
            core.rows(),
            core.cols(),
            case.describe(),
            &c_in.data[..c_in.data.len().min(8)]
        );
    }
    assert_eq!(
        got.compute_cycles,
        gemm_cycles(core.rows(), core.cols(), m, k, n),
        "accumulating {}",
        case.describe()
    );
    assert_eq!(got.load_cycles, ((m + n) * k + m * n) as u64);
    tally.record(core, case, &want);
    got.c
}

/// Accumulating GEMMs on every supported shape: every accumulating shift class, rounding and
/// operand distribution, random transposes, K = 1 and K >= 300, ragged M and N, and `C_in`
/// drawn like the operands (full range, typical magnitudes, the extremes).
#[test]
fn accumulating_gemms_on_every_shape() {
    let mut all = Tally::default();
    for &(rows, cols) in SUPPORTED_SHAPES {
        let Some(mut core) = verilator_core(rows, cols) else {
            return;
        };
        let mut rng = ChaCha8Rng::seed_from_u64(0xACC0 ^ ((rows as u64) << 8 | cols as u64));
        let mut tally = Tally::default();
        for i in 0..CI_ACC_GEMMS_PER_SHAPE {
            let spec = CaseSpec {
                shift: ACC_SHIFTS[i % 4],
                rounding: Rounding::ALL[(i / 4) % 3],
                dist: ValueDist::ALL[(i / 12) % 3],
                ..sweep_spec(i, &mut rng, &core, 40, 400)
            };
            let case = GemmCase::generate(&spec, &mut rng);
            let (m, _, n) = case.dims();
            let c_in = ValueDist::ALL[rng.gen_range(0..3)].matrix(&mut rng, m, n);
            check_acc_case(&mut core, &case, &c_in, &mut tally);
        }
        all.merge(tally);
    }
    all.assert_covers("accumulating GEMMs", &ACC_SHIFTS);
}

/// `C_in` that cancels the product sum (the result lands near zero, so the 48-bit addition
/// carries across every bit of a negative sum) or pushes it to the 16-bit limits, for s from
/// 0 to 30 and every rounding.
#[test]
fn accumulate_cancellation_and_limits() {
    for (rows, cols) in [(1, 1), (2, 4), (8, 8)] {
        let Some(mut core) = verilator_core(rows, cols) else {
            return;
        };
        let mut rng = ChaCha8Rng::seed_from_u64(0xCA9C + (rows * 100 + cols) as u64);
        let (mut near_zero, mut saturated) = (0, 0);
        let mut tally = Tally::default();
        for (idx, (fl_a, fl_b, fl_c)) in [
            (8, 7, 15),
            (1, 0, 0),
            (9, 6, 0),
            (8, 8, 0),
            (9, 8, 0),
            (15, 14, 0),
            (15, 15, 0),
        ]
        .into_iter()
        .enumerate()
        {
            for (ri, rounding) in Rounding::ALL.into_iter().enumerate() {
                let (m, k, n) = (rows + 1, [1, 37][idx % 2], cols + 1);
                let s = usize::from(fl_a + fl_b - fl_c);
                // Operands small enough that (sum >> s) fits 16 bits, so that C_in can cancel.
                let half = 1i32 << ((s + 8) / 2).clamp(1, 15);
                let mut draw =
                    |r, c| Matrix::from_fn(r, c, |_, _| rng.gen_range(-half..half) as i16);
                let (trans_a, trans_b) = (idx % 2 == 0, idx % 3 == 0);
                let a = draw(if trans_a { k } else { m }, if trans_a { m } else { k });
                let b = draw(if trans_b { n } else { k }, if trans_b { k } else { n });
                let seed = rng.gen();
                let case = GemmCase {
                    a,
                    trans_a,
                    b,
                    trans_b,
                    params: GemmParams::from_seed(seed, fl_a, fl_b, fl_c, rounding),
                    seed,
                    dist: ValueDist::Scaled,
                };
                let c_in = Matrix::from_fn(m, n, |i, j| {
                    let sum: i64 = (0..k)
                        .map(|kk| {
                            i64::from(case.a.op_get(trans_a, i, kk))
                                * i64::from(case.b.op_get(trans_b, kk, j))
                        })
                        .sum();
                    // Which elements cancel and which go to a limit varies from case to case.
                    match (i * n + j + idx + ri) % 5 {
                        3 => i16::MAX,
                        4 => i16::MIN,
                        d => (-(sum >> s) + d as i64 - 1).clamp(-32768, 32767) as i16,
                    }
                });
                let c = check_acc_case(&mut core, &case, &c_in, &mut tally);
                near_zero += c.data.iter().filter(|v| (-2..=2).contains(*v)).count();
                saturated += c
                    .data
                    .iter()
                    .filter(|&&v| v == i16::MAX || v == i16::MIN)
                    .count();
            }
        }
        assert!(
            near_zero > 30 && saturated > 10,
            "{rows}x{cols}: too few cancellations ({near_zero}) or limits ({saturated})"
        );
        assert!(tally.roundings.len() == 3);
    }
}

/// The cycle accounting adds up and every cycle is counted once.
#[test]
fn cycle_counts_are_consistent() {
    let Some(mut core) = verilator_core(4, 4) else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut small = 0;
    for (m, k, n) in [(1, 1, 1), (4, 16, 4), (9, 33, 13)] {
        let a = ValueDist::Full.matrix(&mut rng, m, k);
        let b = ValueDist::Full.matrix(&mut rng, k, n);
        let p = GemmParams::from_seed(1, 7, 7, 7, Rounding::Stochastic);
        let before = core.cycles();
        let out = core.gemm(&a, false, &b, false, &p).unwrap();
        assert_eq!(core.cycles() - before, out.total_cycles);
        assert_eq!(out.load_cycles, ((m + n) * k) as u64);
        assert!(out.compute_cycles >= k as u64, "{m}x{k}x{n}: {out:?}");
        // Loading, the start pulse, computing and one read per element of C.
        assert!(
            out.total_cycles >= out.load_cycles + out.compute_cycles + (m * n) as u64,
            "{m}x{k}x{n}: {out:?}"
        );
        // More work never takes fewer compute cycles.
        assert!(out.compute_cycles >= small);
        small = out.compute_cycles;
    }
}

#[test]
fn oversized_and_invalid_gemms_are_rejected_before_simulating() {
    let Some(mut core) = verilator_core(2, 4) else {
        return;
    };
    let words = core.geometry().bank_words();
    let p = GemmParams::from_seed(3, 8, 8, 8, Rounding::Nearest);
    // ceil(M/R)*K = 2 * words exceeds a bank of A.
    let a = Matrix::zeros(4, words);
    let b = Matrix::zeros(words, 1);
    let before = core.cycles();
    let err = core.gemm(&a, false, &b, false, &p).unwrap_err();
    assert!(
        matches!(
            err,
            SimError::Capacity {
                scratchpad: "A",
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&words.to_string()) && msg.contains("ceil(M/R)*K"),
        "{msg}"
    );
    let bad = GemmParams { row_state: 0, ..p };
    let one = Matrix::zeros(1, 1);
    assert!(matches!(
        core.gemm(&one, false, &one, false, &bad),
        Err(SimError::Model(_))
    ));
    assert!(matches!(
        core.gemm(&Matrix::zeros(2, 3), false, &Matrix::zeros(2, 3), false, &p),
        Err(SimError::Model(_))
    ));
    assert_eq!(
        core.cycles(),
        before,
        "a rejected GEMM must not simulate anything"
    );
}

/// Without Verilator on PATH a test skips with a message, unless `CI=true`, where it fails.
/// Checked by re-running one test of this binary with an empty PATH.
#[test]
fn missing_verilator_skips_locally_and_fails_in_ci() {
    let empty = std::env::temp_dir().join(format!("qtrain-no-tools-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let run = |ci: Option<&str>| {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "saturation_both_ways",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("PATH", &empty)
        .env_remove("CI");
        if let Some(v) = ci {
            cmd.env("CI", v);
        }
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, text) = run(None);
    assert!(ok, "outside CI the test must skip, not fail:\n{text}");
    assert!(
        text.contains("SKIPPED") && text.contains("apt-get install verilator"),
        "{text}"
    );
    assert!(text.contains("1 passed"), "{text}");
    let (ok, text) = run(Some("true"));
    assert!(!ok, "under CI=true a missing Verilator must fail:\n{text}");
    assert!(text.contains("verilator not found on PATH"), "{text}");
    std::fs::remove_dir(&empty).unwrap();
}

/// The long sweep: `QTRAIN_LONG_GEMMS` (default 100,000) random GEMMs spread over every
/// supported shape, on two threads.
#[test]
#[ignore = "long: run with QTRAIN_LONG_GEMMS=100000 ... -- --ignored long_run"]
fn long_run() {
    let total: usize = std::env::var("QTRAIN_LONG_GEMMS")
        .ok()
        .map(|v| v.parse().expect("QTRAIN_LONG_GEMMS must be a number"))
        .unwrap_or(100_000);
    let seed: u64 = std::env::var("QTRAIN_LONG_SEED")
        .ok()
        .map(|v| v.parse().expect("QTRAIN_LONG_SEED must be a number"))
        .unwrap_or(0x10D6);
    // QTRAIN_LONG_SHAPES=2x4,8x8 restricts the run to some shapes.
    let selected: Vec<(usize, usize)> = match std::env::var("QTRAIN_LONG_SHAPES") {
        Ok(list) => list
            .split(',')
            .map(|s| {
                let (r, c) = s.trim().split_once('x').expect("shapes look like 2x4");
                (r.parse().unwrap(), c.parse().unwrap())
            })
            .collect(),
        Err(_) => SUPPORTED_SHAPES.to_vec(),
    };
    for shape in &selected {
        assert!(
            SUPPORTED_SHAPES.contains(shape),
            "{shape:?} is not a supported shape"
        );
    }
    let shapes = &selected[..];
    let per_shape = total.div_ceil(shapes.len());
    let start = std::time::Instant::now();
    let tallies: Vec<Option<Tally>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                s.spawn(move || {
                    let mut t = Tally::default();
                    for (i, &(r, c)) in shapes.iter().enumerate().filter(|(i, _)| i % 2 == w) {
                        t.merge(sweep(r, c, per_shape, seed.wrapping_add(i as u64))?);
                    }
                    Some(t)
                })
            })
            .collect();
        workers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all = Tally::default();
    for t in tallies {
        let Some(t) = t else { return };
        all.merge(t);
    }
    all.assert_covers_everything("long run");
    println!(
        "long run: {} GEMMs over {} shapes bit-identical in {:.1} s ({} saturated outputs)",
        all.gemms,
        shapes.len(),
        start.elapsed().as_secs_f64(),
        all.saturated
    );
}
