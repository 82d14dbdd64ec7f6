//! [`CoreBench`]: the GEMM core alone on a board, for area and timing measurements
//! (`qtrain synth --top core`, docs/performance.md).
//!
//! The core has about 200 input and 50 output bits, more than a board's package pins, and a
//! core whose ports are left unconnected would be optimised away. The bench feeds every input
//! from one shift register filled from one pin, registers every output, and folds the
//! registered outputs into one pin through a registered XOR, so that synthesis keeps the whole
//! core and every path into and out of it starts and ends at a register next to it, as inside
//! the device (the fold's XOR tree must not lengthen the core's paths: the host read port's
//! `rd_data` is combinational from a block RAM).

use crate::core::{GemmCore, SCRATCH_ADDR_BITS as AB};
use crate::extend::ZeroExtend;
use rust_hdl::prelude::*;

/// Input bits of [`GemmCore`]: start, m, k, n, three formats, rounding, two LFSR states,
/// accumulate, and the host port's write and read signals.
pub const CORE_INPUT_BITS: usize =
    1 + 3 * 16 + 3 * 4 + 2 + 2 * 32 + 1 + (1 + 2 + 8 + AB + 16) + (8 + AB);

/// `GemmCore<R, C>` between a serial-in shift register and registered, XOR-folded outputs.
///
/// Its ports carry the UART's names because the board top wires a device's `clock`, `uart_rx`
/// and `uart_tx` to the board's oscillator and UART pins; the bench takes the device's place
/// there. It computes nothing useful: it is a measurement harness, not a product design.
#[derive(LogicBlock)]
pub struct CoreBench<const R: usize, const C: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// The serial input: one bit shifts into the input register per cycle.
    pub uart_rx: Signal<In, Bit>,
    /// The XOR of every core output, registered.
    pub uart_tx: Signal<Out, Bit>,
    core: GemmCore<R, C>,
    inputs: DFF<Bits<CORE_INPUT_BITS>>,
    out_busy: DFF<Bit>,
    out_cycles: DFF<Bits<32>>,
    out_rd_data: DFF<Bits<16>>,
    folded: DFF<Bit>,
    serial_in: ZeroExtend<1, CORE_INPUT_BITS>,
}

impl<const R: usize, const C: usize> CoreBench<R, C> {
    /// The bench around a core with scratchpad banks of `scratch_words` words.
    pub fn new(scratch_words: usize) -> Self {
        CoreBench {
            clock: Default::default(),
            uart_rx: Default::default(),
            uart_tx: Default::default(),
            core: GemmCore::with_scratch_words(scratch_words),
            inputs: Default::default(),
            out_busy: Default::default(),
            out_cycles: Default::default(),
            out_rd_data: Default::default(),
            folded: Default::default(),
            serial_in: Default::default(),
        }
    }
}

impl<const R: usize, const C: usize> Logic for CoreBench<R, C> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            inputs,
            out_busy,
            out_cycles,
            out_rd_data,
            folded
        );
        self.core.clock.next = self.clock.val();
        self.serial_in.inp.next = self.uart_rx.val().into();
        self.inputs.d.next = (self.inputs.q.val() << 1) | self.serial_in.out.val();
        self.core.start.next = self.inputs.q.val().get_bit(0);
        self.core.m.next = self.inputs.q.val().get_bits::<16>(1);
        self.core.k.next = self.inputs.q.val().get_bits::<16>(17);
        self.core.n.next = self.inputs.q.val().get_bits::<16>(33);
        self.core.fl_a.next = self.inputs.q.val().get_bits::<4>(49);
        self.core.fl_b.next = self.inputs.q.val().get_bits::<4>(53);
        self.core.fl_c.next = self.inputs.q.val().get_bits::<4>(57);
        self.core.rounding.next = self.inputs.q.val().get_bits::<2>(61);
        self.core.row_state.next = self.inputs.q.val().get_bits::<32>(63);
        self.core.col_state.next = self.inputs.q.val().get_bits::<32>(95);
        self.core.accumulate.next = self.inputs.q.val().get_bit(127);
        self.core.wr_en.next = self.inputs.q.val().get_bit(128);
        self.core.wr_target.next = self.inputs.q.val().get_bits::<2>(129);
        self.core.wr_bank.next = self.inputs.q.val().get_bits::<8>(131);
        // Literal widths: hdl_gen writes a constant's name, not its value, into the Verilog.
        self.core.wr_addr.next = self.inputs.q.val().get_bits::<14>(139);
        self.core.wr_data.next = self.inputs.q.val().get_bits::<16>(153);
        self.core.rd_bank.next = self.inputs.q.val().get_bits::<8>(169);
        self.core.rd_addr.next = self.inputs.q.val().get_bits::<14>(177);
        self.out_busy.d.next = self.core.busy.val();
        self.out_cycles.d.next = self.core.cycles.val();
        self.out_rd_data.d.next = self.core.rd_data.val();
        self.folded.d.next =
            self.out_busy.q.val() ^ self.out_cycles.q.val().xor() ^ self.out_rd_data.q.val().xor();
        self.uart_tx.next = self.folded.q.val();
    }
}

// The field offsets in `update` are written for 14-bit scratchpad addresses.
const _: () = assert!(AB == 14);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_cover_the_register_exactly() {
        // The last field (rd_addr) ends at the register's top bit.
        assert_eq!(163 + 2 * AB, CORE_INPUT_BITS);
    }

    #[test]
    fn bits_shifted_in_reach_the_core_ports() {
        let mut bench = CoreBench::<1, 1>::new(16);
        bench.connect_all();
        // Shift in m = 0x00A5 (bits 1..17 of the register), the rest zero: the first bit in
        // ends up at the top, so the register's bit i is the bit shifted in at cycle N-1-i.
        let mut word = [false; CORE_INPUT_BITS];
        for b in 0..16 {
            word[1 + b] = (0x00A5 >> b) & 1 == 1;
        }
        for i in (0..CORE_INPUT_BITS).rev() {
            bench.uart_rx.next = word[i];
            assert!(simulate(&mut bench, 100));
            clock_cycle!(&mut bench);
        }
        assert!(simulate(&mut bench, 100));
        assert_eq!(bench.core.m.val(), bits(0x00A5));
        assert_eq!(bench.core.k.val(), bits(0));
        assert!(!bench.core.start.val());
    }

    #[test]
    fn the_bench_generates_with_its_ports() {
        let mut bench = CoreBench::<2, 2>::new(256);
        bench.connect_all();
        let v = generate_verilog(&bench);
        assert!(
            v.contains("module top(clock,uart_rx,uart_tx);"),
            "{}",
            &v[..200]
        );
        assert_eq!(v.matches("reg [15:0] mem [0:255];").count(), 6);
    }
}
