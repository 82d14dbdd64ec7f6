//! [`UartEcho`]: every byte received is sent back. A bring-up design for a board's UART (and
//! the first design the Verilator device harness was developed against).

use rust_hdl::prelude::*;

use super::uart_rx::UartRx;
use super::uart_tx::UartTx;

/// UART loopback in logic: [`UartRx`] feeds [`UartTx`] through their valid/ready handshake.
///
/// With both ends at the same bit rate the transmitter keeps up with a back-to-back stream
/// (one byte waits in the receiver while the previous one is on the line), so a host sees its
/// bytes come back unchanged, delayed by about one frame.
#[derive(LogicBlock, Default)]
pub struct UartEcho {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// The serial line from the host (idle high).
    pub uart_rx: Signal<In, Bit>,
    /// The serial line to the host (idle high).
    pub uart_tx: Signal<Out, Bit>,
    /// Clock cycles per bit, both directions.
    pub clocks_per_bit: Signal<In, Bits<16>>,
    rx: UartRx,
    tx: UartTx,
}

impl Logic for UartEcho {
    #[hdl_gen]
    fn update(&mut self) {
        clock!(self, clock, rx, tx);
        self.rx.clocks_per_bit.next = self.clocks_per_bit.val();
        self.tx.clocks_per_bit.next = self.clocks_per_bit.val();
        self.rx.rx.next = self.uart_rx.val();
        self.uart_tx.next = self.tx.tx.val();
        self.tx.data.next = self.rx.data.val();
        self.tx.valid.next = self.rx.valid.val();
        self.rx.ready.next = self.tx.ready.val();
        self.rx.clear_errors.next = false;
    }
}

/// The Verilog of [`UartEcho`], top module `top` (ports `clock`, `uart_rx`, `uart_tx`,
/// `clocks_per_bit`).
pub fn uart_echo_verilog() -> String {
    let mut echo = UartEcho::default();
    echo.connect_all();
    generate_verilog(&echo)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line levels of `bytes` sent back to back at `cpb` clocks per bit, then idle.
    fn line(bytes: &[u8], cpb: usize) -> Vec<bool> {
        let mut out = vec![true; 2 * cpb];
        for &b in bytes {
            let frame = (u16::from(b) << 1) | (1 << 9);
            for i in 0..10 {
                out.extend(std::iter::repeat_n(frame >> i & 1 == 1, cpb));
            }
        }
        out.extend(std::iter::repeat_n(true, 14 * cpb));
        out
    }

    #[test]
    fn a_back_to_back_stream_comes_back_unchanged() {
        let cpb = 5;
        let sent: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37) ^ 0xA5).collect();
        let mut uut = UartEcho::default();
        uut.connect_all();
        uut.clocks_per_bit.next = bits(cpb as u64);
        let mut echoed = vec![];
        for level in line(&sent, cpb) {
            uut.uart_rx.next = level;
            clock_cycle!(&mut uut);
            echoed.push(uut.uart_tx.val());
        }
        // Decode what came back with an independent sampler: start edge, then mid-bit samples.
        let mut got = vec![];
        let mut t = 0;
        while t < echoed.len() {
            if echoed[t] {
                t += 1;
                continue;
            }
            let mid = |i: usize| echoed.get(t + cpb / 2 + i * cpb).copied();
            let byte = (1..=8).fold(0u8, |acc, i| {
                acc | (u8::from(mid(i).expect("frame cut off")) << (i - 1))
            });
            assert_eq!(mid(9), Some(true), "stop bit of byte {}", got.len());
            got.push(byte);
            t += cpb / 2 + 9 * cpb;
        }
        assert_eq!(got, sent);
    }

    #[test]
    fn the_verilog_has_the_documented_ports() {
        let v = uart_echo_verilog();
        for port in ["clock", "uart_rx", "uart_tx", "clocks_per_bit"] {
            assert!(v.contains(port), "{port}");
        }
        assert!(v.contains("module top"));
    }
}
