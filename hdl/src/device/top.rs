//! `DeviceTop<R, C>`: the whole device behind one UART.

use super::command::CommandEngine;
use super::DeviceGeometry;
use crate::link::frame_rx::FrameRx;
use crate::link::frame_tx::FrameTx;
use crate::link::uart_rx::UartRx;
use crate::link::uart_tx::UartTx;
use rust_hdl::prelude::*;

/// UART in -> [`FrameRx`] -> [`CommandEngine`] -> [`FrameTx`] -> UART out.
///
/// The receiver's error flags are cleared as soon as they rise, so that every overrun reaches
/// `FrameRx` as a new rising edge (it counts them in STATUS `overruns`); a UART framing error
/// needs no count of its own, since the frame it hits fails its CRC or COBS check.
#[derive(LogicBlock)]
pub struct DeviceTop<const R: usize, const C: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Serial input from the host (idle high).
    pub uart_rx: Signal<In, Bit>,
    /// Serial output to the host (idle high).
    pub uart_tx: Signal<Out, Bit>,
    /// Clock cycles per UART bit.
    pub clocks_per_bit: Signal<In, Bits<16>>,
    /// The clock frequency CAPABILITIES reports.
    pub clock_hz: Signal<In, Bits<32>>,
    /// The baud rate CAPABILITIES reports.
    pub baud: Signal<In, Bits<32>>,
    uart_in: UartRx,
    frame_rx: FrameRx,
    engine: CommandEngine<R, C>,
    frame_tx: FrameTx,
    uart_out: UartTx,
}

impl<const R: usize, const C: usize> Default for DeviceTop<R, C> {
    /// The device of [`DeviceGeometry::SIM`].
    fn default() -> Self {
        Self::new(&DeviceGeometry::SIM)
    }
}

impl<const R: usize, const C: usize> DeviceTop<R, C> {
    /// The device of `geometry`: memory, scratchpad banks and frame buffers of its sizes.
    pub fn new(geometry: &DeviceGeometry) -> Self {
        let buffer = geometry.frame_buffer_bytes();
        DeviceTop {
            clock: Default::default(),
            uart_rx: Default::default(),
            uart_tx: Default::default(),
            clocks_per_bit: Default::default(),
            clock_hz: Default::default(),
            baud: Default::default(),
            uart_in: Default::default(),
            frame_rx: FrameRx::new(buffer),
            engine: CommandEngine::new(geometry),
            frame_tx: FrameTx::new(buffer),
            uart_out: Default::default(),
        }
    }
}

impl<const R: usize, const C: usize> Logic for DeviceTop<R, C> {
    #[hdl_gen]
    fn update(&mut self) {
        clock!(self, clock, uart_in, frame_rx, engine, frame_tx, uart_out);
        self.uart_in.clocks_per_bit.next = self.clocks_per_bit.val();
        self.uart_out.clocks_per_bit.next = self.clocks_per_bit.val();
        self.uart_in.rx.next = self.uart_rx.val();
        self.uart_tx.next = self.uart_out.tx.val();
        self.uart_in.clear_errors.next =
            self.uart_in.overrun.val() || self.uart_in.frame_error.val();

        self.frame_rx.byte_data.next = self.uart_in.data.val();
        self.frame_rx.byte_valid.next = self.uart_in.valid.val();
        self.uart_in.ready.next = self.frame_rx.byte_ready.val();
        self.frame_rx.uart_overrun.next = self.uart_in.overrun.val();

        self.engine.clock_hz.next = self.clock_hz.val();
        self.engine.baud.next = self.baud.val();
        self.engine.frame_ready.next = self.frame_rx.frame_ready.val();
        self.engine.frame_len.next = self.frame_rx.frame_len.val();
        self.frame_rx.rd_addr.next = self.engine.rd_addr.val();
        self.engine.rd_data.next = self.frame_rx.rd_data.val();
        self.frame_rx.frame_release.next = self.engine.frame_release.val();
        self.engine.crc_errors.next = self.frame_rx.crc_errors.val();
        self.engine.frame_errors.next = self.frame_rx.frame_errors.val();
        self.engine.overruns.next = self.frame_rx.overruns.val();
        self.frame_rx.clear_counters.next = self.engine.clear_counters.val();

        self.frame_tx.wr_en.next = self.engine.wr_en.val();
        self.frame_tx.wr_addr.next = self.engine.wr_addr.val();
        self.frame_tx.wr_data.next = self.engine.wr_data.val();
        self.frame_tx.send.next = self.engine.send.val();
        self.frame_tx.len.next = self.engine.len.val();
        self.engine.tx_busy.next = self.frame_tx.busy.val();

        self.uart_out.data.next = self.frame_tx.byte_data.val();
        self.uart_out.valid.next = self.frame_tx.byte_valid.val();
        self.frame_tx.byte_ready.next = self.uart_out.ready.val();
    }
}
