//! The UART transmitter (8N1) with a valid/ready byte input.

use rust_hdl::prelude::*;

/// Sends bytes as 8N1 frames: a start bit (low), the 8 data bits LSB first, a stop bit (high),
/// each `clocks_per_bit` cycles long; the line idles high.
///
/// A byte is taken at a clock edge where `valid` and `ready` are both high; `ready` is high
/// while the line idles and in the last cycle of a stop bit, so back-to-back bytes follow each
/// other without idle time (the next start bit begins the cycle after the stop bit's last).
/// `clocks_per_bit` must be at least [`super::MIN_CLOCKS_PER_BIT`] and must not change while a
/// frame is on the line.
#[derive(LogicBlock)]
pub struct UartTx {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Clock cycles per bit.
    pub clocks_per_bit: Signal<In, Bits<16>>,
    /// The byte to send.
    pub data: Signal<In, Bits<8>>,
    /// `data` holds a byte to send.
    pub valid: Signal<In, Bit>,
    /// The transmitter takes a byte at the next edge if `valid`.
    pub ready: Signal<Out, Bit>,
    /// The serial line (a register output: no glitches).
    pub tx: Signal<Out, Bit>,
    busy: DFF<Bit>,
    // The last cycle of the stop bit.
    done: Signal<Local, Bit>,
    // Bit of the frame on the line: 0 start, 1..=8 data, 9 stop.
    index: DFF<Bits<4>>,
    // Cycles left in the current bit, minus one.
    count: DFF<Bits<16>>,
    // The data bits not yet on the line, next one in bit 0.
    shift: DFF<Bits<8>>,
    // The line, inverted: registers power up at 0 and the line must power up idle (high).
    line_n: DFF<Bit>,
    one16: Constant<Bits<16>>,
    zero16: Constant<Bits<16>>,
    one4: Constant<Bits<4>>,
    zero4: Constant<Bits<4>>,
    last_data: Constant<Bits<4>>,
    stop: Constant<Bits<4>>,
}

impl Default for UartTx {
    fn default() -> UartTx {
        UartTx {
            clock: Default::default(),
            clocks_per_bit: Default::default(),
            data: Default::default(),
            valid: Default::default(),
            ready: Default::default(),
            tx: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            index: Default::default(),
            count: Default::default(),
            shift: Default::default(),
            line_n: Default::default(),
            one16: Constant::new(bits(1)),
            zero16: Constant::new(bits(0)),
            one4: Constant::new(bits(1)),
            zero4: Constant::new(bits(0)),
            last_data: Constant::new(bits(8)),
            stop: Constant::new(bits(9)),
        }
    }
}

impl Logic for UartTx {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, busy, index, count, shift, line_n);
        self.tx.next = !self.line_n.q.val();
        self.done.next = self.busy.q.val()
            && self.index.q.val() == self.stop.val()
            && self.count.q.val() == self.zero16.val();
        self.ready.next = !self.busy.q.val() || self.done.val();
        if !self.busy.q.val() || self.done.val() {
            self.busy.d.next = self.valid.val();
            if self.valid.val() {
                self.index.d.next = self.zero4.val();
                self.count.d.next = self.clocks_per_bit.val() - self.one16.val();
                self.shift.d.next = self.data.val();
                self.line_n.d.next = true;
            }
        } else if self.count.q.val() != self.zero16.val() {
            self.count.d.next = self.count.q.val() - self.one16.val();
        } else {
            self.count.d.next = self.clocks_per_bit.val() - self.one16.val();
            self.index.d.next = self.index.q.val() + self.one4.val();
            if self.index.q.val() == self.last_data.val() {
                self.line_n.d.next = false;
            } else {
                self.line_n.d.next = !self.shift.q.val().get_bit(0);
                self.shift.d.next = self.shift.q.val() >> 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of `bytes` sent back to back, as the spec says: 10 bits of `cpb` cycles each.
    fn frames(bytes: &[u8], cpb: usize) -> Vec<bool> {
        let mut line = vec![];
        for &b in bytes {
            let bits = std::iter::once(false)
                .chain((0..8).map(|i| b >> i & 1 == 1))
                .chain(std::iter::once(true));
            for level in bits {
                line.extend(std::iter::repeat_n(level, cpb));
            }
        }
        line
    }

    #[test]
    fn back_to_back_bytes_are_exact_frames() {
        for cpb in [4usize, 9] {
            let bytes = [0x00u8, 0xFF, 0x55, 0xA3, 0x01, 0x80];
            let mut uut = UartTx::default();
            uut.connect_all();
            uut.clocks_per_bit.next = bits(cpb as u64);
            assert!(simulate(&mut uut, 100));
            let mut next = 0;
            let mut line = vec![];
            let mut accepted_at = vec![];
            for cycle in 0..(bytes.len() * 10 * cpb + 2 * cpb + 5) {
                // The byte is offered from cycle 3 on; the line idles high until it is taken.
                let valid = cycle >= 3 && next < bytes.len();
                uut.valid.next = valid;
                uut.data.next = bits(bytes[next.min(bytes.len() - 1)] as u64);
                // (`ready` is a register output: its value is current before the edge.)
                if valid && uut.ready.val() {
                    accepted_at.push(cycle);
                    next += 1;
                }
                for clk in [false, true, false] {
                    uut.clock.next = Clock { clk };
                    assert!(simulate(&mut uut, 100));
                }
                line.push(uut.tx.val());
            }
            assert_eq!(accepted_at[0], 3, "{cpb}");
            let mut want = vec![true; 3];
            want.extend(frames(&bytes, cpb));
            want.resize(line.len(), true);
            assert_eq!(line, want, "{cpb} clocks per bit");
            assert!(uut.ready.val());
        }
    }
}
