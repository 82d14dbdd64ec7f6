//! `RangeCheck`: the ranges and overlaps of a command's tensors, one multiplier and one pair of
//! comparators for all of them (docs/protocol.md §3; driver/src/device/engine.rs is the
//! reference).

use super::command_decode::status;
use super::MEM_ADDR_BITS as MB;
use crate::extend::ZeroExtend;
use rust_hdl::prelude::*;

/// Bits of an in-range tensor end (at most the memory size, `2^MB` words) ...
const ME: usize = MB + 1;
/// ... and of what lies above them in the 34-bit end. (`update` slices with the literal 17:
/// hdl_gen would write the constant's name into the Verilog.)
const MH: usize = 34 - ME;
const _: () = assert!(ME == 17 && MH == 17);

/// Cycles from the `start` pulse to `done`.
pub const RANGE_CHECK_CYCLES: usize = 7;

/// Checks the (up to three) tensors [`super::command_decode::CommandDecode`] describes, and
/// BIAS_ADD's bias vector, in the protocol's order: the decoder's own status `pre`, then the
/// ranges (and GEMM's `k_oor`: OUT_OF_RANGE), then the overlaps of the output (slot 2) with
/// each input (BAD_ARGUMENT), then the bias vector's range and overlap.
///
/// A tensor of `rows` x `cols` with row stride `stride` at `addr` spans
/// `[addr, end)`, `end = addr + (rows - 1) * stride + cols`, and is in range when
/// `end <= mem_words`. One end is computed per cycle (one multiplier), the output's first; it
/// is kept for the overlap tests, and every other end is checked in the cycle after it is
/// computed, so one comparator pair serves both inputs:
///
/// | cycle after `start` | computes the end of | checks |
/// |---|---|---|
/// | 0 | slot 2 (the output) | |
/// | 1 | | slot 2's range; keeps its end |
/// | 2 | slot 0 | |
/// | 3 | slot 1 | slot 0's range and overlap |
/// | 4 | | slot 1's range and overlap |
///
/// and the verdict is registered in cycle 5, so `verdict` holds from cycle 6 (`done`,
/// [`RANGE_CHECK_CYCLES`] after the pulse) until the next `start`. Each cycle's tensor
/// (address, rows, stride, columns) is selected a cycle ahead and registered. Both registers
/// keep the decoder's outputs, combinational from the descriptor, out of the long paths: into
/// the engine's dispatch (the iCEBreaker device's critical path at 20.16 MHz) and into the
/// end's multiply and adds (the next one, at 20.64 MHz). The decoder's outputs must hold
/// from `start` until `done`. Ends keep their low 17 bits and a flag for anything above: an end
/// beyond the memory is out of range however far beyond, and an overlap only counts when
/// every end is in range, so the overlap compares look at the memory's address bits only.
#[derive(LogicBlock)]
pub struct RangeCheck {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Start the checks of the command the decoder describes (one-cycle pulse).
    pub start: Signal<In, Bit>,
    /// `verdict` is the command's status (from `RANGE_CHECK_CYCLES` after `start`).
    pub done: Signal<Out, Bit>,
    /// The status code of the checks.
    pub verdict: Signal<Out, Bits<8>>,
    /// The decoder's status so far.
    pub pre: Signal<In, Bits<8>>,
    /// GEMM `k` above the device's limit.
    pub k_oor: Signal<In, Bit>,
    /// The tensor slot is in use (slot 2, the output, whenever another slot is).
    pub t_used: Vec<Signal<In, Bit>>,
    /// First word of the tensor (zero-extended to 34 bits).
    pub t_addr: Vec<Signal<In, Bits<34>>>,
    /// Row stride.
    pub t_stride: Vec<Signal<In, Bits<16>>>,
    /// Rows minus one.
    pub t_rowsm1: Vec<Signal<In, Bits<16>>>,
    /// Columns.
    pub t_cols: Vec<Signal<In, Bits<16>>>,
    /// An input may be the output itself (same address and stride).
    pub in_place_ok: Signal<In, Bit>,
    /// Check the bias vector too.
    pub bias: Signal<In, Bit>,
    /// The bias vector's first word, its low 17 bits.
    pub b_addr: Signal<In, Bits<17>>,
    /// One past the bias vector's last word.
    pub b_end: Signal<In, Bits<34>>,
    ext_cols: ZeroExtend<16, 18>,
    phase: DFF<Bits<3>>,
    // The end computed last cycle: its low 17 bits, whether anything lies above them, and
    // its tensor's use, in-place permission and `addr < end of slot 2`.
    last_end: DFF<Bits<ME>>,
    last_big: DFF<Bit>,
    used: DFF<Bit>,
    same: DFF<Bit>,
    below_out: DFF<Bit>,
    // The output's end.
    out_end: DFF<Bits<ME>>,
    oor: DFF<Bit>,
    overlap: DFF<Bit>,
    verdict_reg: DFF<Bits<8>>,
    // This cycle's tensor and the sums of its end.
    // (The address's low 17 bits, and whether any bit above them is set.)
    m_addr: Signal<Local, Bits<18>>,
    m_high: Signal<Local, Bit>,
    m_rowsm1: Signal<Local, Bits<16>>,
    m_stride: Signal<Local, Bits<16>>,
    m_used: Signal<Local, Bit>,
    m_cols: Signal<Local, Bits<16>>,
    next_phase: Signal<Local, Bits<3>>,
    // The selected tensor, registered.
    r_addr: DFF<Bits<18>>,
    r_high: DFF<Bit>,
    r_rowsm1: DFF<Bits<16>>,
    r_stride: DFF<Bits<16>>,
    r_cols: DFF<Bits<16>>,
    r_used: DFF<Bit>,
    prod: Signal<Local, Bits<32>>,
    addr_prod: Signal<Local, Bits<18>>,
    end_sum: Signal<Local, Bits<18>>,
    // The end of last cycle lies outside the memory.
    outside: Signal<Local, Bit>,
    b_oor: Signal<Local, Bit>,
    b_overlap: Signal<Local, Bit>,
    ph_out: Constant<Bits<3>>,
    ph_keep: Constant<Bits<3>>,
    ph_in1: Constant<Bits<3>>,
    ph_last: Constant<Bits<3>>,
    ph_done: Constant<Bits<3>>,
    one3: Constant<Bits<3>>,
    st_ok: Constant<Bits<8>>,
    st_oor: Constant<Bits<8>>,
    st_bad_arg: Constant<Bits<8>>,
    mem_words: Constant<Bits<ME>>,
    zero_high: Constant<Bits<MH>>,
    zero15: Constant<Bits<15>>,
    low17: Constant<Bits<18>>,
    zero17: Constant<Bits<ME>>,
    // The memory size is a power of two, 2^b: an end is above it when a bit above b is set,
    // or bit b and any bit below it; in-range ends and addresses fit b + 1 bits.
    mem_bit: Constant<Bits<ME>>,
    above_mem: Constant<Bits<ME>>,
    below_mem: Constant<Bits<ME>>,
    in_range_mask: Constant<Bits<ME>>,
}

fn k<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(bits(v))
}

impl RangeCheck {
    /// The checks of a device memory of `mem_words` words (a power of two, at most `2^16`).
    pub fn new(mem_words: usize) -> RangeCheck {
        let mem_words = mem_words as u64;
        assert!(mem_words.is_power_of_two() && mem_words <= 1 << MB);
        RangeCheck {
            clock: Default::default(),
            start: Default::default(),
            done: Default::default(),
            verdict: Default::default(),
            pre: Default::default(),
            k_oor: Default::default(),
            t_used: (0..3).map(|_| Default::default()).collect(),
            t_addr: (0..3).map(|_| Default::default()).collect(),
            t_stride: (0..3).map(|_| Default::default()).collect(),
            t_rowsm1: (0..3).map(|_| Default::default()).collect(),
            t_cols: (0..3).map(|_| Default::default()).collect(),
            in_place_ok: Default::default(),
            bias: Default::default(),
            b_addr: Default::default(),
            b_end: Default::default(),
            ext_cols: Default::default(),
            phase: Default::default(),
            last_end: Default::default(),
            last_big: Default::default(),
            used: Default::default(),
            same: Default::default(),
            below_out: Default::default(),
            out_end: Default::default(),
            oor: Default::default(),
            overlap: Default::default(),
            verdict_reg: Default::default(),
            m_addr: Default::default(),
            m_high: Default::default(),
            m_rowsm1: Default::default(),
            m_stride: Default::default(),
            m_used: Default::default(),
            m_cols: Default::default(),
            next_phase: Default::default(),
            r_addr: Default::default(),
            r_high: Default::default(),
            r_rowsm1: Default::default(),
            r_stride: Default::default(),
            r_cols: Default::default(),
            r_used: Default::default(),
            prod: Default::default(),
            addr_prod: Default::default(),
            end_sum: Default::default(),
            outside: Default::default(),
            b_oor: Default::default(),
            b_overlap: Default::default(),
            ph_out: k(0),
            ph_keep: k(1),
            ph_in1: k(3),
            ph_last: k(4),
            ph_done: k(RANGE_CHECK_CYCLES as u64 - 1),
            one3: k(1),
            st_ok: k(status::OK),
            st_oor: k(status::OUT_OF_RANGE),
            st_bad_arg: k(status::BAD_ARGUMENT),
            mem_words: k(mem_words),
            zero_high: k(0),
            zero15: k(0),
            low17: k((1 << 17) - 1),
            zero17: k(0),
            mem_bit: k(mem_words),
            above_mem: k(((1 << ME) - 1) & !(2 * mem_words - 1)),
            below_mem: k(mem_words - 1),
            in_range_mask: k(2 * mem_words - 1),
        }
    }
}

impl Logic for RangeCheck {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            phase,
            last_end,
            last_big,
            used,
            same,
            below_out,
            out_end,
            oor,
            overlap,
            verdict_reg,
            r_addr,
            r_high,
            r_rowsm1,
            r_stride,
            r_cols,
            r_used
        );

        // The tensor of the next cycle, registered (so the decoder's combinational outputs end
        // in these registers, not in the end's multiply and adds): the output first, then the
        // inputs. (Each address's high bits are tested before the multiplexer: one bit to
        // select, not seventeen.)
        self.next_phase.next = self.phase.q.val();
        if self.start.val() {
            self.next_phase.next = self.ph_out.val();
        } else if self.phase.q.val() != self.ph_done.val() {
            self.next_phase.next = self.phase.q.val() + self.one3.val();
        }
        self.m_addr.next = self.t_addr[0].val().get_bits::<18>(0) & self.low17.val();
        self.m_high.next = self.t_addr[0].val().get_bits::<17>(17) != self.zero_high.val();
        self.m_rowsm1.next = self.t_rowsm1[0].val();
        self.m_stride.next = self.t_stride[0].val();
        self.m_cols.next = self.t_cols[0].val();
        self.m_used.next = self.t_used[0].val();
        if self.next_phase.val() == self.ph_out.val() {
            self.m_addr.next = self.t_addr[2].val().get_bits::<18>(0) & self.low17.val();
            self.m_high.next = self.t_addr[2].val().get_bits::<17>(17) != self.zero_high.val();
            self.m_rowsm1.next = self.t_rowsm1[2].val();
            self.m_stride.next = self.t_stride[2].val();
            self.m_cols.next = self.t_cols[2].val();
            self.m_used.next = self.t_used[2].val();
        } else if self.next_phase.val() == self.ph_in1.val() {
            self.m_addr.next = self.t_addr[1].val().get_bits::<18>(0) & self.low17.val();
            self.m_high.next = self.t_addr[1].val().get_bits::<17>(17) != self.zero_high.val();
            self.m_rowsm1.next = self.t_rowsm1[1].val();
            self.m_stride.next = self.t_stride[1].val();
            self.m_cols.next = self.t_cols[1].val();
            self.m_used.next = self.t_used[1].val();
        }

        self.r_addr.d.next = self.m_addr.val();
        self.r_high.d.next = self.m_high.val();
        self.r_rowsm1.d.next = self.m_rowsm1.val();
        self.r_stride.d.next = self.m_stride.val();
        self.r_cols.d.next = self.m_cols.val();
        self.r_used.d.next = self.m_used.val();
        self.ext_cols.inp.next = self.r_cols.q.val();

        // Its end: the low 17 bits of address, rows x stride and columns, added on 18 bits;
        // the end is above 17 bits if the address or the product is, or either add carries
        // into bit 17.
        self.prod.next = self.r_rowsm1.q.val() * self.r_stride.q.val();
        self.addr_prod.next =
            self.r_addr.q.val() + (self.prod.val().get_bits::<18>(0) & self.low17.val());
        self.end_sum.next = (self.addr_prod.val() & self.low17.val()) + self.ext_cols.out.val();
        self.last_end.d.next = self.end_sum.val().get_bits::<17>(0);
        self.last_big.d.next = self.r_high.q.val()
            || (self.prod.val().get_bits::<15>(17) != self.zero15.val())
            || self.addr_prod.val().get_bit(17)
            || self.end_sum.val().get_bit(17);
        self.used.d.next = self.r_used.q.val();
        // An input may overlap the output only by being it; the other half of the overlap
        // test, `addr of slot 2 < end`, waits for the end.
        self.same.d.next = self.in_place_ok.val()
            && ((self.r_addr.q.val().get_bits::<17>(0) & self.in_range_mask.val())
                == (self.t_addr[2].val().get_bits::<17>(0) & self.in_range_mask.val()))
            && (self.r_stride.q.val() == self.t_stride[2].val());
        self.below_out.d.next = (self.r_addr.q.val().get_bits::<17>(0) & self.in_range_mask.val())
            < (self.out_end.q.val() & self.in_range_mask.val());

        // Last cycle's end.
        self.outside.next = self.last_big.q.val()
            || ((self.last_end.q.val() & self.above_mem.val()) != self.zero17.val())
            || (((self.last_end.q.val() & self.mem_bit.val()) != self.zero17.val())
                && ((self.last_end.q.val() & self.below_mem.val()) != self.zero17.val()));
        if self.phase.q.val() == self.ph_keep.val() {
            self.out_end.d.next = self.last_end.q.val();
            if self.used.q.val() && self.outside.val() {
                self.oor.d.next = true;
            }
        }
        if (self.phase.q.val() == self.ph_in1.val()) || (self.phase.q.val() == self.ph_last.val()) {
            if self.used.q.val() && self.outside.val() {
                self.oor.d.next = true;
            }
            if self.used.q.val()
                && !self.same.q.val()
                && self.below_out.q.val()
                && ((self.t_addr[2].val().get_bits::<17>(0) & self.in_range_mask.val())
                    < (self.last_end.q.val() & self.in_range_mask.val()))
            {
                self.overlap.d.next = true;
            }
        }

        self.done.next = self.phase.q.val() == self.ph_done.val();
        if self.start.val() {
            self.phase.d.next = self.ph_out.val();
            self.oor.d.next = false;
            self.overlap.d.next = false;
        } else if self.phase.q.val() != self.ph_done.val() {
            self.phase.d.next = self.phase.q.val() + self.one3.val();
        }

        // The bias vector, once the output's end is kept.
        self.b_oor.next = self.bias.val()
            && ((self.b_end.val().get_bits::<17>(17) != self.zero_high.val())
                || (self.b_end.val().get_bits::<17>(0) > self.mem_words.val()));
        self.b_overlap.next = self.bias.val()
            && (self.t_addr[2].val().get_bits::<17>(0) < self.b_end.val().get_bits::<17>(0))
            && (self.b_addr.val() < self.out_end.q.val());
        self.verdict.next = self.verdict_reg.q.val();
        if self.pre.val() != self.st_ok.val() {
            self.verdict_reg.d.next = self.pre.val();
        } else if self.k_oor.val() || self.oor.q.val() {
            self.verdict_reg.d.next = self.st_oor.val();
        } else if self.overlap.q.val() {
            self.verdict_reg.d.next = self.st_bad_arg.val();
        } else if self.b_oor.val() {
            self.verdict_reg.d.next = self.st_oor.val();
        } else if self.b_overlap.val() {
            self.verdict_reg.d.next = self.st_bad_arg.val();
        } else {
            self.verdict_reg.d.next = self.st_ok.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[derive(Clone, Copy, Debug)]
    struct Tensor {
        used: bool,
        addr: u64,
        stride: u64,
        rows_m1: u64,
        cols: u64,
    }

    impl Tensor {
        fn end(&self) -> u64 {
            self.addr + self.rows_m1 * self.stride + self.cols
        }
    }

    #[derive(Debug)]
    struct Case {
        pre: u64,
        k_oor: bool,
        t: [Tensor; 3],
        in_place_ok: bool,
        bias: Option<(u64, u64)>,
    }

    /// The checks in full-width integers, in the protocol's order.
    fn verdict(c: &Case, mem: u64) -> u64 {
        let out = c.t[2];
        let oor = c.k_oor || c.t.iter().any(|t| t.used && t.end() > mem);
        let overlap = c.t[..2].iter().any(|t| {
            t.used
                && !(c.in_place_ok && t.addr == out.addr && t.stride == out.stride)
                && t.addr < out.end()
                && out.addr < t.end()
        });
        if c.pre != status::OK {
            c.pre
        } else if oor {
            status::OUT_OF_RANGE
        } else if overlap {
            status::BAD_ARGUMENT
        } else if let Some((b_addr, b_end)) = c.bias {
            if b_end > mem {
                status::OUT_OF_RANGE
            } else if out.addr < b_end && b_addr < out.end() {
                status::BAD_ARGUMENT
            } else {
                status::OK
            }
        } else {
            status::OK
        }
    }

    fn tensor(rng: &mut ChaCha8Rng, mem: u64) -> Tensor {
        let used = rng.gen_ratio(7, 8);
        match rng.gen_range(0..12) {
            // Small tensors anywhere in the memory, often touching its end.
            0..=9 => {
                let cols = rng.gen_range(1..=8);
                let stride = rng.gen_range(cols..=cols + 4);
                let rows_m1 = rng.gen_range(0..4);
                let span = rows_m1 * stride + cols;
                let addr = if rng.gen_ratio(1, 3) {
                    mem - span + u64::from(rng.gen_ratio(1, 4))
                } else {
                    rng.gen_range(0..=mem - span)
                };
                Tensor {
                    used,
                    addr,
                    stride,
                    rows_m1,
                    cols,
                }
            }
            // Anything 16- and 32-bit fields can hold.
            10 => Tensor {
                used,
                addr: u64::from(rng.gen::<u32>()) >> rng.gen_range(0..32),
                stride: u64::from(rng.gen::<u16>()),
                rows_m1: u64::from(rng.gen::<u16>()) >> rng.gen_range(0..16),
                cols: u64::from(rng.gen::<u16>()).max(1),
            },
            // Ends just past 2^17, where the 17-bit sums wrap.
            _ => {
                let cols = rng.gen_range(1..=4);
                Tensor {
                    used,
                    addr: (1 << 17) - cols + rng.gen_range(0..2),
                    stride: 1,
                    rows_m1: 0,
                    cols,
                }
            }
        }
    }

    fn run(uut: &mut RangeCheck, c: &Case) -> (u64, usize) {
        uut.pre.next = bits(c.pre);
        uut.k_oor.next = c.k_oor;
        for (i, t) in c.t.iter().enumerate() {
            uut.t_used[i].next = t.used;
            uut.t_addr[i].next = bits(t.addr);
            uut.t_stride[i].next = bits(t.stride);
            uut.t_rowsm1[i].next = bits(t.rows_m1);
            uut.t_cols[i].next = bits(t.cols);
        }
        uut.in_place_ok.next = c.in_place_ok;
        uut.bias.next = c.bias.is_some();
        let (b_addr, b_end) = c.bias.unwrap_or((0, 0));
        uut.b_addr.next = bits(b_addr & 0x1FFFF);
        uut.b_end.next = bits(b_end);
        uut.start.next = true;
        clock_cycle!(uut);
        uut.start.next = false;
        let mut cycles = 1;
        while !uut.done.val() {
            assert!(cycles < 20, "no done");
            clock_cycle!(uut);
            cycles += 1;
        }
        (uut.verdict.val().to_u64(), cycles)
    }

    #[test]
    fn verdicts_match_full_width_checks() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for mem in [1024u64, 1 << 16] {
            let mut uut = RangeCheck::new(mem as usize);
            uut.connect_all();
            let mut seen = [0usize; 7];
            for n in 0..4000 {
                let mut t = [
                    tensor(&mut rng, mem),
                    tensor(&mut rng, mem),
                    tensor(&mut rng, mem),
                ];
                // The decoder always puts a command's output in slot 2.
                t[2].used |= t[0].used || t[1].used;
                // In-place updates: an input that is the output.
                let in_place_ok = rng.gen();
                if rng.gen_ratio(1, 4) {
                    let i = rng.gen_range(0..2);
                    t[i].addr = t[2].addr;
                    t[i].stride = t[2].stride;
                }
                let bias = rng.gen_ratio(1, 4).then(|| {
                    let b_addr = rng.gen_range(0..mem + 2);
                    (b_addr, b_addr + rng.gen_range(1..64))
                });
                let c = Case {
                    pre: if rng.gen_ratio(1, 16) {
                        status::BAD_LENGTH
                    } else {
                        status::OK
                    },
                    k_oor: rng.gen_ratio(1, 32),
                    t,
                    in_place_ok,
                    bias,
                };
                let want = verdict(&c, mem);
                let (got, cycles) = run(&mut uut, &c);
                assert_eq!(got, want, "case {n}, memory {mem}: {c:?}");
                assert_eq!(cycles, RANGE_CHECK_CYCLES, "case {n}");
                seen[want as usize] += 1;
            }
            // Every verdict is exercised, each many times.
            for code in [
                status::OK,
                status::BAD_LENGTH,
                status::OUT_OF_RANGE,
                status::BAD_ARGUMENT,
            ] {
                assert!(seen[code as usize] > 100, "memory {mem}: verdicts {seen:?}");
            }
        }
    }
}
