//! `GemmCore<R, C>`: the top level the simulation and the board drive.

use crate::array::Array;
use crate::controller::Controller;
use crate::extend::ZeroExtend;
use crate::ram::SizedRam;
use rust_hdl::prelude::*;

/// Cycles between an accepted `start` and the controller's own start: the core latches the
/// configuration ports first, so that the controller's logic depends on registers only (its
/// next state never waits on the ports, which also keeps the simulators from re-evaluating
/// the controller whenever a port changes).
pub const LAUNCH_CYCLES: usize = 1;

/// Address bits of every scratchpad bank: at most 16,384 words of 16 bits per bank, the
/// default (a 4 x 4 core holds a 256 x 256 x 256 GEMM); a board's banks may be smaller
/// ([`GemmCore::with_scratch_words`]).
pub const SCRATCH_ADDR_BITS: usize = 14;

const AB: usize = SCRATCH_ADDR_BITS;

/// `wr_target` code of the A scratchpad.
pub const TARGET_A: u64 = 0;
/// `wr_target` code of the B scratchpad.
pub const TARGET_B: u64 = 1;
/// `wr_target` code of the C scratchpad (`C_in` of an accumulating GEMM).
pub const TARGET_C: u64 = 2;

/// The GEMM core: an `R x C` output-stationary array, its controller, and the banked A, B
/// and C scratchpads (docs/architecture.md). The ports are the contract with the harness.
#[derive(LogicBlock)]
pub struct GemmCore<const R: usize, const C: usize> {
    /// The clock.
    pub clock: Signal<In, Clock>,
    /// One-cycle pulse while `busy` is low: start a GEMM.
    pub start: Signal<In, Bit>,
    /// Rows of op(A) and C (1..=65535).
    pub m: Signal<In, Bits<16>>,
    /// Reduction length (1..=65535).
    pub k: Signal<In, Bits<16>>,
    /// Columns of op(B) and C (1..=65535).
    pub n: Signal<In, Bits<16>>,
    /// Format of A.
    pub fl_a: Signal<In, Bits<4>>,
    /// Format of B.
    pub fl_b: Signal<In, Bits<4>>,
    /// Format of C.
    pub fl_c: Signal<In, Bits<4>>,
    /// 0 truncate, 1 nearest, 2 stochastic.
    pub rounding: Signal<In, Bits<2>>,
    /// Start state of LFSR A (nonzero).
    pub row_state: Signal<In, Bits<32>>,
    /// Start state of LFSR B (nonzero).
    pub col_state: Signal<In, Bits<32>>,
    /// Accumulate: `C = op(A) · op(B) + C_in`, with `C_in` read from the C scratchpad (loaded
    /// through `wr_*` with target C before `start`) and overwritten by the result. Requires
    /// `s = fl_a + fl_b - fl_c >= 0` (numerics §6).
    pub accumulate: Signal<In, Bit>,
    /// High from the cycle after `start` until every element of C is written.
    pub busy: Signal<Out, Bit>,
    /// Cycles `busy` was high during the last GEMM (counts up during a GEMM).
    pub cycles: Signal<Out, Bits<32>>,
    /// Write one word into the A, B or C scratchpad this cycle (idle core only).
    pub wr_en: Signal<In, Bit>,
    /// 0 = A, 1 = B, 2 = C (3 writes nothing).
    pub wr_target: Signal<In, Bits<2>>,
    /// Bank to write.
    pub wr_bank: Signal<In, Bits<8>>,
    /// Address in that bank.
    pub wr_addr: Signal<In, Bits<AB>>,
    /// The word to write.
    pub wr_data: Signal<In, Bits<16>>,
    /// C bank to read.
    pub rd_bank: Signal<In, Bits<8>>,
    /// Address in that bank.
    pub rd_addr: Signal<In, Bits<AB>>,
    /// The word at (`rd_bank`, `rd_addr`) as of the previous clock edge.
    pub rd_data: Signal<Out, Bits<16>>,
    ctrl: Controller<R, C>,
    array: Array<R, C>,
    a_bank: Vec<SizedRam<Bits<16>, AB>>,
    b_bank: Vec<SizedRam<Bits<16>, AB>>,
    c_bank: Vec<SizedRam<Bits<16>, AB>>,
    bank_id: Vec<Constant<Bits<8>>>,
    zero16: Constant<Bits<16>>,
    target_a: Constant<Bits<2>>,
    target_b: Constant<Bits<2>>,
    target_c: Constant<Bits<2>>,
    one32: Constant<Bits<32>>,
    zero32: Constant<Bits<32>>,
    ext_a: ZeroExtend<4, 6>,
    ext_b: ZeroExtend<4, 6>,
    ext_c: ZeroExtend<4, 6>,
    // The configuration of an accepted `start`, and the controller's launch pulse a cycle
    // later: the controller never reads a port directly (see `LAUNCH_CYCLES`).
    launch: DFF<Bit>,
    cfg_m: DFF<Bits<16>>,
    cfg_k: DFF<Bits<16>>,
    cfg_n: DFF<Bits<16>>,
    cfg_row: DFF<Bits<32>>,
    cfg_col: DFF<Bits<32>>,
    cfg_acc: DFF<Bit>,
    // Set by `with_held_config`: the controller reads m, k, n and the LFSR states straight
    // from the ports, and the cfg registers above go unused (synthesis removes them).
    config_held: Constant<Bit>,
    accept: Signal<Local, Bit>,
    shift: DFF<Bits<6>>,
    rounding_reg: DFF<Bits<2>>,
    cycle_count: DFF<Bits<32>>,
    rd_bank_reg: DFF<Bits<8>>,
}

impl<const R: usize, const C: usize> Default for GemmCore<R, C> {
    /// Banks of the full `2^SCRATCH_ADDR_BITS` words.
    fn default() -> Self {
        Self::with_scratch_words(1 << AB)
    }
}

impl<const R: usize, const C: usize> GemmCore<R, C> {
    /// A core whose scratchpad banks hold `words` words each (a power of two, at most
    /// `2^SCRATCH_ADDR_BITS`). The ports keep their widths; a GEMM must fit the banks as
    /// docs/architecture.md "Scratchpad layout" describes, with `words` for the bank size.
    pub fn with_scratch_words(words: usize) -> Self {
        assert!(R <= 256 && C <= 256, "banks are addressed with 8 bits");
        let banks = |n: usize| {
            (0..n)
                .map(|_| SizedRam::new(words).with_collisions_undefined())
                .collect()
        };
        GemmCore {
            clock: Default::default(),
            start: Default::default(),
            m: Default::default(),
            k: Default::default(),
            n: Default::default(),
            fl_a: Default::default(),
            fl_b: Default::default(),
            fl_c: Default::default(),
            rounding: Default::default(),
            row_state: Default::default(),
            col_state: Default::default(),
            accumulate: Default::default(),
            busy: Default::default(),
            cycles: Default::default(),
            wr_en: Default::default(),
            wr_target: Default::default(),
            wr_bank: Default::default(),
            wr_addr: Default::default(),
            wr_data: Default::default(),
            rd_bank: Default::default(),
            rd_addr: Default::default(),
            rd_data: Default::default(),
            ctrl: Default::default(),
            array: Default::default(),
            a_bank: banks(R),
            b_bank: banks(C),
            c_bank: banks(C),
            bank_id: (0..R.max(C))
                .map(|i| Constant::new(bits(i as u64)))
                .collect(),
            zero16: Constant::new(bits(0)),
            target_a: Constant::new(bits(TARGET_A)),
            target_b: Constant::new(bits(TARGET_B)),
            target_c: Constant::new(bits(TARGET_C)),
            one32: Constant::new(bits(1)),
            zero32: Constant::new(bits(0)),
            ext_a: Default::default(),
            ext_b: Default::default(),
            ext_c: Default::default(),
            launch: Default::default(),
            cfg_m: Default::default(),
            cfg_k: Default::default(),
            cfg_n: Default::default(),
            cfg_row: Default::default(),
            cfg_col: Default::default(),
            cfg_acc: Default::default(),
            config_held: Constant::new(false),
            accept: Default::default(),
            shift: Default::default(),
            rounding_reg: Default::default(),
            cycle_count: Default::default(),
            rd_bank_reg: Default::default(),
        }
    }

    /// This core without its copy of `m`, `k`, `n`, `row_state` and `col_state`: the caller
    /// promises to hold those ports from `start` until `busy` falls, as [`GemmUnit`] does
    /// (its piece registers change only between core runs). Timing and results are those of
    /// the latching core; 112 flip-flops fewer, which on the iCE40 means 112 logic cells
    /// (they share no LUT).
    ///
    /// [`GemmUnit`]: crate::device::gemm_unit::GemmUnit
    pub fn with_held_config(mut self) -> Self {
        self.config_held = Constant::new(true);
        self
    }

    /// This core for GEMMs whose M, N and K are at most `limit` (a power of two), as in a
    /// device whose memory is no larger: the controller's row, column and beat counters keep
    /// `log2(limit) + 1` bits, the rest constant zero for synthesis to drop. A larger GEMM
    /// computes wrong results.
    pub fn with_dimension_limit(mut self, limit: usize) -> Self {
        self.ctrl = self.ctrl.with_dimension_limit(limit);
        self
    }

    /// This core with its column heads' converter windows taken by DSP multipliers, three per
    /// column, instead of shifters ([`crate::convert::Convert::with_window_in_dsps`]): the
    /// same results, about 200 fewer logic cells per column on an iCE40.
    pub fn with_windows_in_dsps(mut self) -> Self {
        self.array = self.array.with_windows_in_dsps();
        self
    }
}

impl<const R: usize, const C: usize> Logic for GemmCore<R, C> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            launch,
            cfg_m,
            cfg_k,
            cfg_n,
            cfg_row,
            cfg_col,
            cfg_acc,
            shift,
            rounding_reg,
            cycle_count,
            rd_bank_reg
        );
        self.ctrl.clock.next = self.clock.val();
        self.array.clock.next = self.clock.val();
        // The whole configuration is latched at start; the controller starts from the latched
        // copy in the next cycle (busy already high).
        self.busy.next = self.ctrl.busy.val() || self.launch.q.val();
        self.accept.next = self.start.val() && !self.ctrl.busy.val() && !self.launch.q.val();
        self.launch.d.next = self.accept.val();
        self.ctrl.start.next = self.launch.q.val();
        self.ctrl.m.next = self.cfg_m.q.val();
        self.ctrl.k.next = self.cfg_k.q.val();
        self.ctrl.n.next = self.cfg_n.q.val();
        self.ctrl.row_state.next = self.cfg_row.q.val();
        self.ctrl.col_state.next = self.cfg_col.q.val();
        if self.config_held.val() {
            self.ctrl.m.next = self.m.val();
            self.ctrl.k.next = self.k.val();
            self.ctrl.n.next = self.n.val();
            self.ctrl.row_state.next = self.row_state.val();
            self.ctrl.col_state.next = self.col_state.val();
        }

        // s = fl_a + fl_b - fl_c on 6 bits.
        self.ext_a.inp.next = self.fl_a.val();
        self.ext_b.inp.next = self.fl_b.val();
        self.ext_c.inp.next = self.fl_c.val();
        if self.accept.val() {
            self.cfg_m.d.next = self.m.val();
            self.cfg_k.d.next = self.k.val();
            self.cfg_n.d.next = self.n.val();
            self.cfg_row.d.next = self.row_state.val();
            self.cfg_col.d.next = self.col_state.val();
            self.cfg_acc.d.next = self.accumulate.val();
            self.shift.d.next = self.ext_a.out.val() + self.ext_b.out.val() - self.ext_c.out.val();
            self.rounding_reg.d.next = self.rounding.val();
            self.cycle_count.d.next = self.zero32.val();
        } else if self.ctrl.busy.val() || self.launch.q.val() {
            self.cycle_count.d.next = self.cycle_count.q.val() + self.one32.val();
        }
        self.cycles.next = self.cycle_count.q.val();
        self.array.shift.next = self.shift.q.val();
        self.array.rounding.next = self.rounding_reg.q.val();
        self.array.accumulate.next = self.cfg_acc.q.val();
        self.array.ra_in.next = self.ctrl.row_word.val();
        self.array.cb_in.next = self.ctrl.col_word.val();
        self.array.cb_load_in.next = self.ctrl.col_load.val();

        // A banks feed the rows, B banks the columns.
        for p in 0..R {
            self.a_bank[p].read_clock.next = self.clock.val();
            self.a_bank[p].write_clock.next = self.clock.val();
            self.a_bank[p].read_address.next = self.ctrl.a_addr[p].val();
            self.a_bank[p].write_address.next = self.wr_addr.val();
            self.a_bank[p].write_data.next = self.wr_data.val();
            self.a_bank[p].write_enable.next = self.wr_en.val()
                && (self.wr_target.val() == self.target_a.val())
                && (self.wr_bank.val() == self.bank_id[p].val());
            self.array.a_in[p].next = self.a_bank[p].read_data.val();
            self.array.first_in[p].next = self.ctrl.row_first[p].val();
            self.array.last_in[p].next = self.ctrl.row_last[p].val();
        }
        for q in 0..C {
            self.b_bank[q].read_clock.next = self.clock.val();
            self.b_bank[q].write_clock.next = self.clock.val();
            self.b_bank[q].read_address.next = self.ctrl.b_addr[q].val();
            self.b_bank[q].write_address.next = self.wr_addr.val();
            self.b_bank[q].write_data.next = self.wr_data.val();
            self.b_bank[q].write_enable.next = self.wr_en.val()
                && (self.wr_target.val() == self.target_b.val())
                && (self.wr_bank.val() == self.bank_id[q].val());
            self.array.b_in[q].next = self.b_bank[q].read_data.val();
        }

        // C banks: while the controller runs, its drain reads C_in and writes the results;
        // otherwise the host port writes C_in and reads C.
        self.rd_bank_reg.d.next = self.rd_bank.val();
        self.rd_data.next = self.zero16.val();
        for q in 0..C {
            self.c_bank[q].read_clock.next = self.clock.val();
            self.c_bank[q].write_clock.next = self.clock.val();
            self.array.c_in[q].next = self.c_bank[q].read_data.val();
            if self.ctrl.busy.val() {
                self.c_bank[q].read_address.next = self.ctrl.c_rd_addr[q].val();
                self.c_bank[q].write_address.next = self.ctrl.c_addr[q].val();
                self.c_bank[q].write_data.next = self.array.c_out[q].val();
                self.c_bank[q].write_enable.next = self.ctrl.c_we[q].val();
            } else {
                self.c_bank[q].read_address.next = self.rd_addr.val();
                self.c_bank[q].write_address.next = self.wr_addr.val();
                self.c_bank[q].write_data.next = self.wr_data.val();
                self.c_bank[q].write_enable.next = self.wr_en.val()
                    && (self.wr_target.val() == self.target_c.val())
                    && (self.wr_bank.val() == self.bank_id[q].val());
            }
            if self.rd_bank_reg.q.val() == self.bank_id[q].val() {
                self.rd_data.next = self.c_bank[q].read_data.val();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::controller::gemm_cycles;
    use crate::rtlsim::{simulate_gemm, simulate_gemm_acc, simulate_gemm_on};
    use qtrain_model::{gemm, GemmParams, Matrix, Rounding};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Matrix {
        Matrix::new(rows, cols, (0..rows * cols).map(|_| rng.gen()).collect()).unwrap()
    }

    /// Runs a random GEMM on an `R x C` core and checks C and `cycles` against the model.
    fn check<const R: usize, const C: usize>(
        seed: u64,
        m: usize,
        k: usize,
        n: usize,
        fl: (u8, u8, u8),
        rounding: Rounding,
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let a = random(&mut rng, m, k);
        let b = random(&mut rng, k, n);
        let p = GemmParams::from_seed(seed, fl.0, fl.1, fl.2, rounding);
        let want = gemm(&a, false, &b, false, None, &p).unwrap();
        let (got, cycles) = simulate_gemm::<R, C>(&a, &b, &p).unwrap();
        assert_eq!(got.data, want.data, "{R}x{C} core, {m}x{k}x{n}");
        assert_eq!(
            u64::from(cycles),
            gemm_cycles(R, C, m, k, n),
            "{R}x{C} core, {m}x{k}x{n}"
        );
    }

    /// Runs a random accumulating GEMM (`C_in` drawn from the whole 16-bit range) and checks
    /// C and `cycles`, which accumulation must not change.
    fn check_acc<const R: usize, const C: usize>(
        seed: u64,
        (m, k, n): (usize, usize, usize),
        fl: (u8, u8, u8),
        rounding: Rounding,
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let a = random(&mut rng, m, k);
        let b = random(&mut rng, k, n);
        let c_in = random(&mut rng, m, n);
        let p = GemmParams::from_seed(seed, fl.0, fl.1, fl.2, rounding);
        let want = gemm(&a, false, &b, false, Some(&c_in), &p).unwrap();
        let (got, cycles) = simulate_gemm_acc::<R, C>(&a, &b, Some(&c_in), &p).unwrap();
        assert_eq!(got.data, want.data, "{R}x{C} core, {m}x{k}x{n} + C_in");
        assert_eq!(u64::from(cycles), gemm_cycles(R, C, m, k, n));
    }

    #[test]
    fn accumulating_gemms_match_model() {
        // s = 0, a middling s, and s = 30 (where C_in · 2^s dominates the sum and most
        // results saturate); partial tiles and K = 1.
        check_acc::<2, 4>(31, (5, 3, 7), (8, 7, 15), Rounding::Stochastic);
        check_acc::<2, 4>(32, (3, 1, 6), (10, 9, 5), Rounding::Nearest);
        check_acc::<3, 5>(33, (4, 2, 11), (15, 15, 0), Rounding::Truncate);
        check_acc::<1, 1>(34, (2, 1, 3), (15, 15, 0), Rounding::Stochastic);
        check_acc::<2, 2>(35, (3, 4, 3), (7, 9, 2), Rounding::Nearest);
    }

    #[test]
    fn a_core_with_held_config_computes_the_same_bits_in_the_same_cycles() {
        // Partial tiles in both dimensions, K above the minimum period, and C_in: every
        // configuration port the held core reads directly matters to the result.
        let mut rng = ChaCha8Rng::seed_from_u64(41);
        let (m, k, n) = (5, 6, 7);
        let a = random(&mut rng, m, k);
        let b = random(&mut rng, k, n);
        let c_in = random(&mut rng, m, n);
        for (seed, c) in [(41, None), (42, Some(&c_in))] {
            let p = GemmParams::from_seed(seed, 9, 8, 6, Rounding::Stochastic);
            let want = gemm(&a, false, &b, false, c, &p).unwrap();
            let core = super::GemmCore::<2, 3>::default().with_held_config();
            let (got, cycles) = simulate_gemm_on(core, &a, &b, c, &p).unwrap();
            assert_eq!(got.data, want.data, "held config, C_in {}", c.is_some());
            assert_eq!(u64::from(cycles), gemm_cycles(2, 3, m, k, n));
        }
    }

    #[test]
    fn a_core_with_a_dimension_limit_computes_gemms_up_to_it() {
        // Dimensions at the limit (16: the counters keep 5 bits) and just below, partial
        // tiles, K above the minimum period; masking the counters one bit narrower fails.
        let mut rng = ChaCha8Rng::seed_from_u64(43);
        for (i, (m, k, n)) in [
            (16, 16, 16),
            (16, 1, 15),
            (1, 16, 16),
            (13, 16, 2),
            (15, 9, 16),
        ]
        .into_iter()
        .enumerate()
        {
            let a = random(&mut rng, m, k);
            let b = random(&mut rng, k, n);
            let c_in = random(&mut rng, m, n);
            let c = (i % 2 == 1).then_some(&c_in);
            let p = GemmParams::from_seed(50 + i as u64, 9, 8, 6, Rounding::Stochastic);
            let want = gemm(&a, false, &b, false, c, &p).unwrap();
            let core = super::GemmCore::<2, 3>::default().with_dimension_limit(16);
            let (got, cycles) = simulate_gemm_on(core, &a, &b, c, &p).unwrap();
            assert_eq!(got.data, want.data, "{m} x {k} x {n}");
            assert_eq!(
                u64::from(cycles),
                gemm_cycles(2, 3, m, k, n),
                "{m} x {k} x {n}"
            );
        }
    }

    #[test]
    fn tiny_gemm_on_2x2_matches_model() {
        check::<2, 2>(11, 3, 2, 3, (12, 13, 11), Rounding::Stochastic);
    }

    #[test]
    fn single_pe_core() {
        check::<1, 1>(1, 2, 1, 3, (8, 8, 8), Rounding::Stochastic);
        check::<1, 1>(2, 3, 4, 2, (15, 15, 0), Rounding::Nearest);
    }

    #[test]
    fn one_cycle_tiles_on_1x1_get_the_right_words() {
        // K = 1 on a 1x1 core: a tile every cycle, so the row-word rewind and the capture of
        // the next row tile's first word fall in the same cycle. s = 16 with stochastic
        // rounding makes every element depend on its whole random word.
        for seed in 0..12 {
            let (m, n) = (2 + seed as usize % 3, 2 + seed as usize / 3);
            check::<1, 1>(seed, m, 1, n, (8, 8, 0), Rounding::Stochastic);
        }
    }

    #[test]
    fn partial_tiles_and_word_rewinds_on_2x4() {
        // Three row tiles (the last partial) and two column tiles (the last partial); K below
        // and above the minimum tile period.
        check::<2, 4>(3, 5, 2, 7, (10, 11, 9), Rounding::Stochastic);
        check::<2, 4>(4, 5, 9, 6, (14, 14, 15), Rounding::Stochastic);
    }

    #[test]
    fn non_power_of_two_core() {
        check::<3, 5>(5, 4, 3, 11, (7, 9, 2), Rounding::Stochastic);
    }

    #[test]
    fn truncate_and_saturating_left_shift() {
        check::<2, 2>(6, 3, 3, 3, (0, 0, 15), Rounding::Truncate);
        check::<2, 2>(7, 2, 5, 3, (3, 2, 5), Rounding::Nearest);
    }
}
