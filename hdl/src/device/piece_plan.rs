//! The piece planner of the GEMM unit: how many rows and columns of C one run of the core may
//! cover so that op(A), op(B) and C of the piece fit the core's scratchpads
//! (docs/architecture.md, "Scratchpad layout").

use crate::extend::ZeroExtend;
use rust_hdl::prelude::*;

/// The largest pieces of an `m x k x n` GEMM (the same for every piece but the last in each
/// dimension, which takes what is left).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PiecePlan {
    /// Rows of C per piece (at most 65535).
    pub mp_max: u32,
    /// Columns of C per piece, clamped to 65535 (a larger value would change nothing: N <= 65535).
    pub np_max: u32,
    /// Column tiles (`C` columns each) per piece: `ceil(np_max / C)`, the C-bank row stride.
    pub tn: u32,
    /// Column tiles of the whole GEMM: `ceil(n / C)`.
    pub nt: u32,
}

/// The plan the hardware computes, for a `rows x cols` core with `cap` words per scratchpad bank
/// and `1 <= k <= cap`, `1 <= n <= 65535`:
///
/// - `qk = floor(cap / k)`: tiles of `k` words that fit one A or B bank;
/// - column tiles per piece `tn = min(qk, ceil(n / cols))`, so `np_max = tn * cols`;
/// - rows per piece `mp_max = min(qk * rows, floor(cap / tn))`, so that `ceil(Mp / rows) * k`,
///   `ceil(Np / cols) * k` and `Mp * ceil(Np / cols)` are all at most `cap`.
///
/// Columns are favoured (a whole row of tiles when it fits) because op(A) is loaded once per
/// row piece and op(B) once per piece unless all of N fits one piece.
pub fn plan_pieces(rows: usize, cols: usize, cap: usize, k: usize, n: usize) -> PiecePlan {
    let qk = cap / k;
    let nt = n.div_ceil(cols);
    let tn = qk.min(nt);
    let mp_max = (qk * rows).min(cap / tn);
    PiecePlan {
        mp_max: mp_max as u32,
        np_max: (tn * cols).min(u16::MAX as usize) as u32,
        tn: tn as u32,
        nt: nt as u32,
    }
}

/// Cycles [`PiecePlanner`] is busy after `start`: three divisions of 17 cycles.
pub const PLAN_CYCLES: usize = 3 * (DIV_STEPS + 1);

const DIV_STEPS: usize = 16;

const IDLE: u64 = 0;
const DIV_K: u64 = 1;
const DIV_N: u64 = 2;
const DIV_T: u64 = 3;

/// Computes [`plan_pieces`] for an `R x C` core with `2^cap_bits` words per bank in
/// [`PLAN_CYCLES`] cycles, with three 16-step restoring divisions on one 16-bit datapath.
///
/// Each step shifts the next dividend bit into the remainder and the quotient bit into the
/// dividend's register, so one register holds what is left of the dividend and the quotient
/// so far. `ceil(n / C)` divides `n + C - 1`, which may take 17 bits; its quotient fits 16 bits,
/// so the division starts one step in, with the top dividend bit already in the remainder.
/// Each division also accumulates `quotient * R` and `quotient * C` (doubling and adding `R` or
/// `C` with each quotient bit), so no multiplier is needed; with `R = 1` or `C = 1` the
/// quotient is used instead and synthesis drops the accumulator. Every quantity fits its width:
/// quotients are at most 65,535, products at most `2^14 * 256` (`K >= 1`) or
/// `n + C - 1 < 2^17`.
///
/// `k` and `n` must hold while `busy`; the outputs are valid once `busy` has fallen after a
/// `start`.
#[derive(LogicBlock)]
pub struct PiecePlanner<const R: usize, const C: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// One-cycle pulse while not busy: plan for `k` and `n`.
    pub start: Signal<In, Bit>,
    /// Reduction length, 1..=capacity.
    pub k: Signal<In, Bits<16>>,
    /// Columns of C, 1..=65535.
    pub n: Signal<In, Bits<16>>,
    /// High from the cycle after `start` until the plan is ready.
    pub busy: Signal<Out, Bit>,
    /// See [`PiecePlan::mp_max`].
    pub mp_max: Signal<Out, Bits<16>>,
    /// See [`PiecePlan::np_max`].
    pub np_max: Signal<Out, Bits<16>>,
    /// See [`PiecePlan::tn`].
    pub tn: Signal<Out, Bits<16>>,
    /// See [`PiecePlan::nt`].
    pub nt: Signal<Out, Bits<16>>,
    phase: DFF<Bits<2>>,
    cnt: DFF<Bits<5>>,
    rem: DFF<Bits<16>>,
    // The dividend's bits not yet used (high end), the quotient's so far (low end).
    dq: DFF<Bits<16>>,
    divisor: DFF<Bits<16>>,
    quo_r: DFF<Bits<24>>,
    quo_c: DFF<Bits<24>>,
    qk: DFF<Bits<16>>,
    qk_r: DFF<Bits<24>>,
    qk_c: DFF<Bits<24>>,
    nt_reg: DFF<Bits<16>>,
    tn_reg: DFF<Bits<16>>,
    tn_c: DFF<Bits<24>>,
    mp_out: DFF<Bits<16>>,
    np_out: DFF<Bits<16>>,
    // (rem << 1) | the dividend's next bit, and whether the divisor goes into it.
    trial: Signal<Local, Bits<17>>,
    goes: Signal<Local, Bit>,
    diff: Signal<Local, Bits<16>>,
    // quotient * R and * C as the division stands (the quotient itself for R or C = 1).
    times_r: Signal<Local, Bits<24>>,
    times_c: Signal<Local, Bits<24>>,
    // n + C - 1, the dividend of ceil(n / C).
    n_plus: Signal<Local, Bits<17>>,
    tn_next: Signal<Local, Bits<16>>,
    tn_c_next: Signal<Local, Bits<24>>,
    ext_rem: ZeroExtend<16, 17>,
    ext_div: ZeroExtend<16, 17>,
    ext_quo: ZeroExtend<16, 24>,
    ext_nt_in: ZeroExtend<16, 17>,
    rows_is_one: Constant<Bit>,
    cols_is_one: Constant<Bit>,
    rows24: Constant<Bits<24>>,
    cols24: Constant<Bits<24>>,
    cap: Constant<Bits<16>>,
    cols16: Constant<Bits<16>>,
    cols_minus1: Constant<Bits<17>>,
    max16: Constant<Bits<24>>,
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    one17: Constant<Bits<17>>,
    zero24: Constant<Bits<24>>,
    steps: Constant<Bits<5>>,
    zero5: Constant<Bits<5>>,
    one5: Constant<Bits<5>>,
    idle: Constant<Bits<2>>,
    div_k: Constant<Bits<2>>,
    div_n: Constant<Bits<2>>,
    div_t: Constant<Bits<2>>,
}

impl<const R: usize, const C: usize> PiecePlanner<R, C> {
    /// A planner for scratchpad banks of `2^cap_bits` words (`cap_bits <= 14`).
    pub fn new(cap_bits: usize) -> Self {
        assert!(cap_bits <= 14 && (1..=256).contains(&R) && (1..=256).contains(&C));
        PiecePlanner {
            clock: Default::default(),
            start: Default::default(),
            k: Default::default(),
            n: Default::default(),
            busy: Default::default(),
            mp_max: Default::default(),
            np_max: Default::default(),
            tn: Default::default(),
            nt: Default::default(),
            phase: Default::default(),
            cnt: Default::default(),
            rem: Default::default(),
            dq: Default::default(),
            divisor: Default::default(),
            quo_r: Default::default(),
            quo_c: Default::default(),
            qk: Default::default(),
            qk_r: Default::default(),
            qk_c: Default::default(),
            nt_reg: Default::default(),
            tn_reg: Default::default(),
            tn_c: Default::default(),
            mp_out: Default::default(),
            np_out: Default::default(),
            trial: Default::default(),
            goes: Default::default(),
            diff: Default::default(),
            times_r: Default::default(),
            times_c: Default::default(),
            n_plus: Default::default(),
            tn_next: Default::default(),
            tn_c_next: Default::default(),
            ext_rem: Default::default(),
            ext_div: Default::default(),
            ext_quo: Default::default(),
            ext_nt_in: Default::default(),
            rows_is_one: Constant::new(R == 1),
            cols_is_one: Constant::new(C == 1),
            rows24: Constant::new(bits(R as u64)),
            cols24: Constant::new(bits(C as u64)),
            cap: Constant::new(bits(1 << cap_bits)),
            cols16: Constant::new(bits(C as u64)),
            cols_minus1: Constant::new(bits(C as u64 - 1)),
            max16: Constant::new(bits(u16::MAX as u64)),
            zero16: Constant::new(bits(0)),
            one16: Constant::new(bits(1)),
            one17: Constant::new(bits(1)),
            zero24: Constant::new(bits(0)),
            steps: Constant::new(bits(DIV_STEPS as u64)),
            zero5: Constant::new(bits(0)),
            one5: Constant::new(bits(1)),
            idle: Constant::new(bits(IDLE)),
            div_k: Constant::new(bits(DIV_K)),
            div_n: Constant::new(bits(DIV_N)),
            div_t: Constant::new(bits(DIV_T)),
        }
    }
}

impl<const R: usize, const C: usize> Logic for PiecePlanner<R, C> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, phase, cnt, rem, dq, divisor, quo_r, quo_c, qk, qk_r, qk_c, nt_reg,
            tn_reg, tn_c, mp_out, np_out
        );
        self.busy.next = self.phase.q.val() != self.idle.val();
        self.mp_max.next = self.mp_out.q.val();
        self.np_max.next = self.np_out.q.val();
        self.tn.next = self.tn_reg.q.val();
        self.nt.next = self.nt_reg.q.val();

        self.ext_rem.inp.next = self.rem.q.val();
        self.ext_div.inp.next = self.divisor.q.val();
        self.trial.next = self.ext_rem.out.val() << 1;
        if self.dq.q.val().get_bit(15) {
            self.trial.next = (self.ext_rem.out.val() << 1) | self.one17.val();
        }
        self.goes.next = self.trial.val() >= self.ext_div.out.val();
        // The remainder after a subtraction is below the divisor: 16 bits, wrapping is exact.
        self.diff.next = self.trial.val().get_bits::<16>(0) - self.divisor.q.val();
        self.ext_quo.inp.next = self.dq.q.val();
        self.times_r.next = self.quo_r.q.val();
        if self.rows_is_one.val() {
            self.times_r.next = self.ext_quo.out.val();
        }
        self.times_c.next = self.quo_c.q.val();
        if self.cols_is_one.val() {
            self.times_c.next = self.ext_quo.out.val();
        }
        self.ext_nt_in.inp.next = self.n.val();
        self.n_plus.next = self.ext_nt_in.out.val() + self.cols_minus1.val();

        // tn = min(qk, nt) as soon as the second quotient is final.
        self.tn_next.next = self.dq.q.val();
        self.tn_c_next.next = self.times_c.val();
        if self.qk.q.val() < self.dq.q.val() {
            self.tn_next.next = self.qk.q.val();
            self.tn_c_next.next = self.qk_c.q.val();
        }

        if self.phase.q.val() == self.idle.val() {
            if self.start.val() {
                // floor(cap / k).
                self.phase.d.next = self.div_k.val();
                self.rem.d.next = self.zero16.val();
                self.dq.d.next = self.cap.val();
                self.divisor.d.next = self.k.val();
                self.quo_r.d.next = self.zero24.val();
                self.quo_c.d.next = self.zero24.val();
                self.cnt.d.next = self.steps.val();
            }
        } else if self.cnt.q.val() != self.zero5.val() {
            // One quotient bit per cycle, most significant first.
            self.rem.d.next = self.trial.val().get_bits::<16>(0);
            if self.goes.val() {
                self.rem.d.next = self.diff.val();
            }
            self.dq.d.next = self.dq.q.val() << 1;
            self.quo_r.d.next = self.quo_r.q.val() << 1;
            self.quo_c.d.next = self.quo_c.q.val() << 1;
            if self.goes.val() {
                self.dq.d.next = (self.dq.q.val() << 1) | self.one16.val();
                self.quo_r.d.next = (self.quo_r.q.val() << 1) + self.rows24.val();
                self.quo_c.d.next = (self.quo_c.q.val() << 1) + self.cols24.val();
            }
            self.cnt.d.next = self.cnt.q.val() - self.one5.val();
        } else {
            // A quotient is final: keep it and set up the next division.
            self.quo_r.d.next = self.zero24.val();
            self.quo_c.d.next = self.zero24.val();
            self.cnt.d.next = self.steps.val();
            if self.phase.q.val() == self.div_k.val() {
                // ceil(n / C) = floor((n + C - 1) / C): bit 16 of the dividend starts in the
                // remainder (the quotient's bit 16 is 0).
                self.qk.d.next = self.dq.q.val();
                self.qk_r.d.next = self.times_r.val();
                self.qk_c.d.next = self.times_c.val();
                self.phase.d.next = self.div_n.val();
                self.rem.d.next = self.zero16.val();
                if self.n_plus.val().get_bit(16) {
                    self.rem.d.next = self.one16.val();
                }
                self.dq.d.next = self.n_plus.val().get_bits::<16>(0);
                self.divisor.d.next = self.cols16.val();
            } else if self.phase.q.val() == self.div_n.val() {
                // floor(cap / tn).
                self.nt_reg.d.next = self.dq.q.val();
                self.tn_reg.d.next = self.tn_next.val();
                self.tn_c.d.next = self.tn_c_next.val();
                self.phase.d.next = self.div_t.val();
                self.rem.d.next = self.zero16.val();
                self.dq.d.next = self.cap.val();
                self.divisor.d.next = self.tn_next.val();
            } else {
                self.phase.d.next = self.idle.val();
                self.mp_out.d.next = self.dq.q.val();
                if self.qk_r.q.val() < self.ext_quo.out.val() {
                    self.mp_out.d.next = self.qk_r.q.val().get_bits::<16>(0);
                }
                self.np_out.d.next = self.tn_c.q.val().get_bits::<16>(0);
                if self.tn_c.q.val() > self.max16.val() {
                    self.np_out.d.next = self.max16.val().get_bits::<16>(0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn run<const R: usize, const C: usize>(cap_bits: usize, k: usize, n: usize) -> PiecePlan {
        let mut uut = PiecePlanner::<R, C>::new(cap_bits);
        uut.connect_all();
        uut.k.next = bits(k as u64);
        uut.n.next = bits(n as u64);
        uut.start.next = true;
        clock_cycle!(&mut uut);
        uut.start.next = false;
        let mut busy = 0;
        while uut.busy.val() {
            clock_cycle!(&mut uut);
            busy += 1;
        }
        assert_eq!(busy, PLAN_CYCLES, "k {k}, n {n}");
        PiecePlan {
            mp_max: uut.mp_max.val().to_u32(),
            np_max: uut.np_max.val().to_u32(),
            tn: uut.tn.val().to_u32(),
            nt: uut.nt.val().to_u32(),
        }
    }

    fn check<const R: usize, const C: usize>(cap_bits: usize, k: usize, n: usize) {
        let want = plan_pieces(R, C, 1 << cap_bits, k, n);
        assert_eq!(run::<R, C>(cap_bits, k, n), want, "{R}x{C}, k {k}, n {n}");
    }

    #[test]
    fn hardware_plan_matches_the_function() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (k, n) in [
            (1, 1),
            (1, 65535),
            (16384, 65535),
            (16384, 1),
            (5000, 300),
            (3, 7),
        ] {
            check::<2, 2>(14, k, n);
            check::<3, 5>(14, k, n);
            // Products past 16 bits (qk * R up to 2^22), n + C - 1 past 16 bits.
            check::<12, 12>(14, k, n);
            check::<256, 7>(14, k, n);
            check::<1, 256>(14, k, n);
        }
        for _ in 0..20 {
            let k = rng.gen_range(1..=16384);
            let n = rng.gen_range(1..=65535);
            check::<8, 8>(14, k, n);
            check::<1, 1>(14, k, n);
        }
        check::<2, 2>(4, 3, 9);
        check::<2, 2>(4, 16, 9);
    }

    #[test]
    fn plans_respect_the_scratchpad_capacity() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for _ in 0..20_000 {
            let (rows, cols) = (rng.gen_range(1..=16), rng.gen_range(1..=16));
            let cap = 1 << rng.gen_range(2..=14);
            let k = rng.gen_range(1..=cap);
            let n = rng.gen_range(1..=65535);
            let p = plan_pieces(rows, cols, cap, k, n);
            let (mp, np) = (p.mp_max as usize, p.np_max as usize);
            assert!(mp >= 1 && np >= 1);
            assert!(mp.div_ceil(rows) * k <= cap, "A: {p:?}");
            assert!(np.div_ceil(cols) * k <= cap, "B: {p:?}");
            assert!(mp * np.div_ceil(cols) <= cap, "C: {p:?}");
            assert!(np.div_ceil(cols) <= p.tn as usize);
            // Nothing is left on the table in the dimension planned first.
            assert!(np >= n || p.tn as usize == cap / k);
        }
    }
}
