//! The UART receiver (8N1) with a valid/ready byte output and sticky error flags.

use rust_hdl::prelude::*;

// Receiver phases (plain codes, as in the controller: Verilator -Wall rejects rust-hdl enums).
const IDLE: u64 = 0;
const START: u64 = 1;
const BITS: u64 = 2;
const BREAK: u64 = 3;

/// Receives 8N1 frames (start bit low, 8 data bits LSB first, stop bit high).
///
/// `rx` goes through a two-flop synchronizer. A falling edge on the idle line starts a frame;
/// the start bit is sampled again half a bit later (`clocks_per_bit / 2` cycles) and the
/// frame is dropped if the line is high by then, so a glitch shorter than half a bit does not
/// start a byte. Every bit is then sampled once, `clocks_per_bit` cycles after the previous
/// sample (mid-bit). At the stop bit's sample the receiver is ready for the next start edge.
///
/// A byte is presented on `data` with `valid` high until an edge where `ready` is high. A
/// byte completed while the previous one is still waiting is dropped and sets `overrun`; a
/// stop bit sampled low drops the byte, sets `frame_error`, and the receiver then waits for the
/// line to go high (so a break yields one error, not a stream of zero bytes). Both flags stay
/// set until `clear_errors`. `clocks_per_bit` must be at least [`super::MIN_CLOCKS_PER_BIT`]
/// and must not change during a frame.
#[derive(LogicBlock)]
pub struct UartRx {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Clock cycles per bit.
    pub clocks_per_bit: Signal<In, Bits<16>>,
    /// The serial line (asynchronous).
    pub rx: Signal<In, Bit>,
    /// The received byte, while `valid`.
    pub data: Signal<Out, Bits<8>>,
    /// A received byte waits on `data`.
    pub valid: Signal<Out, Bit>,
    /// The consumer takes `data` at the next edge if `valid`.
    pub ready: Signal<In, Bit>,
    /// A frame had a low stop bit (sticky).
    pub frame_error: Signal<Out, Bit>,
    /// A byte was lost because the previous one was not taken in time (sticky).
    pub overrun: Signal<Out, Bit>,
    /// Clears both error flags at the next edge (a flag raised in the same cycle stays set).
    pub clear_errors: Signal<In, Bit>,
    // The synchronizer, inverted: registers power up at 0 and the line idles high.
    sync1_n: DFF<Bit>,
    sync2_n: DFF<Bit>,
    line: Signal<Local, Bit>,
    phase: DFF<Bits<2>>,
    // Cycles to the next sample, minus one.
    count: DFF<Bits<16>>,
    // Data bits sampled so far (8: the next sample is the stop bit).
    index: DFF<Bits<4>>,
    // Data bits arrive LSB first: each enters at the top and moves down.
    shift: DFF<Bits<8>>,
    out_data: DFF<Bits<8>>,
    out_valid: DFF<Bit>,
    frame_err: DFF<Bit>,
    overrun_err: DFF<Bit>,
    idle: Constant<Bits<2>>,
    start: Constant<Bits<2>>,
    bits_phase: Constant<Bits<2>>,
    break_phase: Constant<Bits<2>>,
    one16: Constant<Bits<16>>,
    zero16: Constant<Bits<16>>,
    one4: Constant<Bits<4>>,
    zero4: Constant<Bits<4>>,
    stop: Constant<Bits<4>>,
    top_bit: Constant<Bits<8>>,
}

impl Default for UartRx {
    fn default() -> UartRx {
        UartRx {
            clock: Default::default(),
            clocks_per_bit: Default::default(),
            rx: Default::default(),
            data: Default::default(),
            valid: Default::default(),
            ready: Default::default(),
            frame_error: Default::default(),
            overrun: Default::default(),
            clear_errors: Default::default(),
            sync1_n: Default::default(),
            sync2_n: Default::default(),
            line: Default::default(),
            phase: Default::default(),
            count: Default::default(),
            index: Default::default(),
            shift: Default::default(),
            out_data: Default::default(),
            out_valid: Default::default(),
            frame_err: Default::default(),
            overrun_err: Default::default(),
            idle: Constant::new(bits(IDLE)),
            start: Constant::new(bits(START)),
            bits_phase: Constant::new(bits(BITS)),
            break_phase: Constant::new(bits(BREAK)),
            one16: Constant::new(bits(1)),
            zero16: Constant::new(bits(0)),
            one4: Constant::new(bits(1)),
            zero4: Constant::new(bits(0)),
            stop: Constant::new(bits(8)),
            top_bit: Constant::new(bits(0x80)),
        }
    }
}

impl Logic for UartRx {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            sync1_n,
            sync2_n,
            phase,
            count,
            index,
            shift,
            out_data,
            out_valid,
            frame_err,
            overrun_err
        );
        self.sync1_n.d.next = !self.rx.val();
        self.sync2_n.d.next = self.sync1_n.q.val();
        self.line.next = !self.sync2_n.q.val();
        self.data.next = self.out_data.q.val();
        self.valid.next = self.out_valid.q.val();
        self.frame_error.next = self.frame_err.q.val();
        self.overrun.next = self.overrun_err.q.val();
        if self.out_valid.q.val() && self.ready.val() {
            self.out_valid.d.next = false;
        }
        if self.clear_errors.val() {
            self.frame_err.d.next = false;
            self.overrun_err.d.next = false;
        }
        if self.phase.q.val() == self.idle.val() {
            if !self.line.val() {
                self.phase.d.next = self.start.val();
                self.count.d.next = (self.clocks_per_bit.val() >> 1) - self.one16.val();
            }
        } else if self.phase.q.val() == self.start.val() {
            if self.count.q.val() != self.zero16.val() {
                self.count.d.next = self.count.q.val() - self.one16.val();
            } else if self.line.val() {
                // Too short for a start bit: a glitch.
                self.phase.d.next = self.idle.val();
            } else {
                self.phase.d.next = self.bits_phase.val();
                self.count.d.next = self.clocks_per_bit.val() - self.one16.val();
                self.index.d.next = self.zero4.val();
            }
        } else if self.phase.q.val() == self.bits_phase.val() {
            if self.count.q.val() != self.zero16.val() {
                self.count.d.next = self.count.q.val() - self.one16.val();
            } else if self.index.q.val() != self.stop.val() {
                self.count.d.next = self.clocks_per_bit.val() - self.one16.val();
                self.index.d.next = self.index.q.val() + self.one4.val();
                if self.line.val() {
                    self.shift.d.next = (self.shift.q.val() >> 1) | self.top_bit.val();
                } else {
                    self.shift.d.next = self.shift.q.val() >> 1;
                }
            } else if self.line.val() {
                self.phase.d.next = self.idle.val();
                if self.out_valid.q.val() && !self.ready.val() {
                    self.overrun_err.d.next = true;
                } else {
                    self.out_data.d.next = self.shift.q.val();
                    self.out_valid.d.next = true;
                }
            } else {
                self.frame_err.d.next = true;
                self.phase.d.next = self.break_phase.val();
            }
        } else if self.line.val() {
            self.phase.d.next = self.idle.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// What the receiver did over a run.
    #[derive(Default)]
    struct Seen {
        bytes: Vec<u8>,
        frame_error: bool,
        overrun: bool,
    }

    /// Feeds `line` to the receiver, one level per clock cycle, taking every byte at once
    /// (or never, with `take` false).
    fn receive(cpb: u16, line: &[bool], take: bool) -> (UartRx, Seen) {
        let mut uut = UartRx::default();
        uut.connect_all();
        uut.clocks_per_bit.next = bits(cpb as u64);
        uut.ready.next = take;
        let mut seen = Seen::default();
        for &level in line {
            uut.rx.next = level;
            for clk in [false, true, false] {
                uut.clock.next = Clock { clk };
                assert!(simulate(&mut uut, 100));
            }
            if uut.valid.val() && take {
                seen.bytes.push(uut.data.val().to_u64() as u8);
            }
            seen.frame_error |= uut.frame_error.val();
            seen.overrun |= uut.overrun.val();
        }
        (uut, seen)
    }

    /// The line of a sender whose bit lasts `bit_time` cycles (not necessarily an integer):
    /// each frame's start edge falls at a random fractional time, frames are separated by a
    /// random idle gap of 0 to 2 bits, and `stop` is the level sent as stop bit.
    fn waveform(rng: &mut ChaCha8Rng, bytes: &[u8], bit_time: f64, stop: bool) -> Vec<bool> {
        let mut edges = vec![]; // (time, level)
        let mut t = 3.0 * bit_time + rng.gen::<f64>();
        for &b in bytes {
            edges.push((t, false));
            for i in 0..8 {
                edges.push((t + (1 + i) as f64 * bit_time, b >> i & 1 == 1));
            }
            edges.push((t + 9.0 * bit_time, stop));
            edges.push((t + 10.0 * bit_time, true));
            t += (10.0 + 2.0 * rng.gen::<f64>()) * bit_time;
        }
        let cycles = (t + 3.0 * bit_time) as usize;
        let mut level = true;
        let mut next = 0;
        (0..cycles)
            .map(|c| {
                while next < edges.len() && edges[next].0 <= c as f64 {
                    level = edges[next].1;
                    next += 1;
                }
                level
            })
            .collect()
    }

    #[test]
    fn decodes_senders_two_percent_off() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for cpb in [4u16, 7, 16] {
            for rate in [0.98, 1.0, 1.02] {
                let bytes: Vec<u8> = (0..100).map(|_| rng.gen()).collect();
                let line = waveform(&mut rng, &bytes, cpb as f64 * rate, true);
                let (_, seen) = receive(cpb, &line, true);
                assert_eq!(seen.bytes, bytes, "{cpb} clocks per bit, rate {rate}");
                assert!(!seen.frame_error && !seen.overrun, "{cpb}, {rate}");
            }
        }
        // The skew is real: 6 % off at 4 clocks per bit is beyond the margin.
        for rate in [0.94, 1.06] {
            let bytes: Vec<u8> = (0..100).map(|_| rng.gen()).collect();
            let line = waveform(&mut rng, &bytes, 4.0 * rate, true);
            let (_, seen) = receive(4, &line, true);
            assert_ne!(seen.bytes, bytes, "rate {rate}");
        }
    }

    #[test]
    fn glitches_shorter_than_half_a_bit_start_nothing() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for cpb in [7u16, 16] {
            let mut line = vec![true; 3 * cpb as usize];
            for width in 1..(cpb as usize).div_ceil(2) {
                line.extend(std::iter::repeat_n(false, width));
                line.extend(std::iter::repeat_n(true, 2 * cpb as usize));
            }
            // Then a real byte, which must still be received in full.
            line.extend(waveform(&mut rng, &[0x5A], cpb as f64, true));
            let (_, seen) = receive(cpb, &line, true);
            assert_eq!(seen.bytes, [0x5A], "{cpb} clocks per bit");
            assert!(!seen.frame_error, "{cpb}");
        }
    }

    #[test]
    fn a_low_stop_bit_is_a_framing_error() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let cpb = 8;
        let mut line = waveform(&mut rng, &[0x81], cpb as f64, false);
        let bad_end = line.len();
        line.extend(waveform(&mut rng, &[0x3C], cpb as f64, true));
        let (_, seen) = receive(cpb, &line[..bad_end], true);
        assert!(seen.frame_error && seen.bytes.is_empty());
        // The next good frame is received; the flag stays until cleared.
        let (mut uut, seen) = receive(cpb, &line, true);
        assert_eq!(seen.bytes, [0x3C]);
        assert!(uut.frame_error.val());
        uut.clear_errors.next = true;
        for clk in [false, true, false] {
            uut.clock.next = Clock { clk };
            assert!(simulate(&mut uut, 100));
        }
        assert!(!uut.frame_error.val());

        // A break (the line low for many bits) is one error, not a stream of zero bytes.
        let mut line = vec![true; 20];
        line.extend(std::iter::repeat_n(false, 40 * cpb as usize));
        line.extend(waveform(&mut rng, &[0x11], cpb as f64, true));
        let (_, seen) = receive(cpb, &line, true);
        assert!(seen.frame_error);
        assert_eq!(seen.bytes, [0x11]);
    }

    #[test]
    fn a_byte_not_taken_in_time_is_an_overrun() {
        let mut rng = ChaCha8Rng::seed_from_u64(10);
        let cpb = 5;
        let line = waveform(&mut rng, &[0xA7], cpb as f64, true);
        let (uut, seen) = receive(cpb, &line, false);
        assert!(uut.valid.val() && uut.data.val() == bits(0xA7) && !seen.overrun);
        let line = waveform(&mut rng, &[0xA7, 0x42], cpb as f64, true);
        let (uut, seen) = receive(cpb, &line, false);
        // The first byte is kept, the second lost.
        assert!(uut.valid.val() && uut.data.val() == bits(0xA7) && seen.overrun);
        assert!(!seen.frame_error);
    }
}
