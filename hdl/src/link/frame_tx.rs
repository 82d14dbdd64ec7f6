//! The frame transmitter: sends the response in its buffer as 0x00, COBS(frame, CRC-32 LE),
//! 0x00 (docs/protocol.md section 1), byte for byte what the host's encoder produces.

use super::crc32::Crc32;
use super::{CRC_LEN, FRAME_BUF_ADDR_BITS as AB};
use crate::ram::SizedRam;
use rust_hdl::prelude::*;

// Transmitter states (plain codes: Verilator -Wall rejects rust-hdl enums).
/// Waiting for `send`.
const IDLE: u64 = 0;
/// Offering the leading delimiter.
const LEAD: u64 = 1;
/// One cycle for the block's first byte to come out of the buffer.
const PRIME: u64 = 2;
/// Looking for the end of the COBS block, one byte per cycle.
const SCAN: u64 = 3;
/// Offering the block's code byte.
const CODE: u64 = 4;
/// Offering the block's data bytes.
const DATA: u64 = 5;
/// Offering the trailing delimiter.
const TRAIL: u64 = 6;

/// Sends the `len` bytes of its buffer (header + body, written through `wr_*`) as one frame.
///
/// On `send` (while not `busy`) it offers on `byte_data`/`byte_valid`, each byte until an edge
/// with `byte_ready`: 0x00, the COBS encoding of the buffer's first `len` bytes followed by
/// their CRC-32 (little-endian), and 0x00. The CRC bytes are never stored: positions `len..len
/// + 4` of the frame read the CRC register.
///
/// COBS needs each block's length before its data, so each block is found by a scan ahead
/// (one byte per cycle, after one cycle to prime the buffer's read port), which also folds
/// the bytes into the CRC: the scans visit every position once and in order, and all the
/// header and body bytes are folded before the scan reaches the CRC bytes. The block is then
/// sent, the data bytes read again from the buffer. A scan of a full 254-byte block takes 255
/// cycles, run while the UART sends the previous byte; a data byte needs two cycles (one to
/// fetch it) between handshakes. The buffer is only read, so pulsing `send` again replays the
/// same frame. `len` must be at most 8187 (the engine sends at most 8 + 4096).
#[derive(LogicBlock)]
pub struct FrameTx {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Write `wr_data` at `wr_addr` at the next edge.
    pub wr_en: Signal<In, Bit>,
    /// Buffer address to write (header at 0..8, body from 8).
    pub wr_addr: Signal<In, Bits<AB>>,
    /// Byte to write.
    pub wr_data: Signal<In, Bits<8>>,
    /// One-cycle pulse while not busy: send the first `len` bytes as a frame.
    pub send: Signal<In, Bit>,
    /// Header + body bytes, valid with `send`.
    pub len: Signal<In, Bits<AB>>,
    /// A frame is being sent.
    pub busy: Signal<Out, Bit>,
    /// The byte offered to the UART.
    pub byte_data: Signal<Out, Bits<8>>,
    /// `byte_data` holds a byte.
    pub byte_valid: Signal<Out, Bit>,
    /// The UART takes the byte at the next edge.
    pub byte_ready: Signal<In, Bit>,
    buffer: SizedRam<Bits<8>, AB>,
    checksum: Crc32,
    state: DFF<Bits<3>>,
    len_reg: DFF<Bits<AB>>,
    // Frame bytes: header, body and CRC.
    total: DFF<Bits<AB>>,
    // The position presented to the buffer, and the one whose byte it returns now.
    addr: DFF<Bits<AB>>,
    data_pos: DFF<Bits<AB>>,
    // The block being scanned or sent: its first data position, data bytes so far (scan),
    // the position after its data, where the next block starts, and its code byte.
    start: DFF<Bits<AB>>,
    run: DFF<Bits<8>>,
    block_end: DFF<Bits<AB>>,
    next_start: DFF<Bits<AB>>,
    code: DFF<Bits<8>>,
    // The block ends the frame.
    last: DFF<Bit>,
    // The frame byte at `data_pos`.
    frame_byte: Signal<Local, Bits<8>>,
    crc_index: Signal<Local, Bits<AB>>,
    idle: Constant<Bits<3>>,
    lead: Constant<Bits<3>>,
    prime: Constant<Bits<3>>,
    scan: Constant<Bits<3>>,
    code_state: Constant<Bits<3>>,
    data_state: Constant<Bits<3>>,
    trail: Constant<Bits<3>>,
    zero8: Constant<Bits<8>>,
    one8: Constant<Bits<8>>,
    full_run: Constant<Bits<8>>,
    ff8: Constant<Bits<8>>,
    zero_a: Constant<Bits<AB>>,
    one_a: Constant<Bits<AB>>,
    two_a: Constant<Bits<AB>>,
    crc_len: Constant<Bits<AB>>,
}

impl Default for FrameTx {
    /// A transmitter with the full `2^FRAME_BUF_ADDR_BITS`-byte buffer.
    fn default() -> FrameTx {
        FrameTx::new(1 << AB)
    }
}

impl FrameTx {
    /// A transmitter whose buffer holds `buffer_bytes` bytes (a power of two, at least 64, at
    /// most `2^FRAME_BUF_ADDR_BITS`); `len` must then be at most `buffer_bytes`.
    pub fn new(buffer_bytes: usize) -> FrameTx {
        assert!(
            buffer_bytes.is_power_of_two() && (64..=1 << AB).contains(&buffer_bytes),
            "a transmit buffer of {buffer_bytes} bytes"
        );
        let c3 = |v: u64| Constant::new(bits(v));
        FrameTx {
            clock: Default::default(),
            wr_en: Default::default(),
            wr_addr: Default::default(),
            wr_data: Default::default(),
            send: Default::default(),
            len: Default::default(),
            busy: Default::default(),
            byte_data: Default::default(),
            byte_valid: Default::default(),
            byte_ready: Default::default(),
            buffer: SizedRam::new(buffer_bytes).with_collisions_undefined(),
            checksum: Default::default(),
            state: Default::default(),
            len_reg: Default::default(),
            total: Default::default(),
            addr: Default::default(),
            data_pos: Default::default(),
            start: Default::default(),
            run: Default::default(),
            block_end: Default::default(),
            next_start: Default::default(),
            code: Default::default(),
            last: Default::default(),
            frame_byte: Default::default(),
            crc_index: Default::default(),
            idle: c3(IDLE),
            lead: c3(LEAD),
            prime: c3(PRIME),
            scan: c3(SCAN),
            code_state: c3(CODE),
            data_state: c3(DATA),
            trail: c3(TRAIL),
            zero8: Constant::new(bits(0)),
            one8: Constant::new(bits(1)),
            // A run of 254 data bytes fills a block (code 0xFF): the scan stops at the 254th.
            full_run: Constant::new(bits(253)),
            ff8: Constant::new(bits(0xFF)),
            zero_a: Constant::new(bits(0)),
            one_a: Constant::new(bits(1)),
            two_a: Constant::new(bits(2)),
            crc_len: Constant::new(bits(CRC_LEN as u64)),
        }
    }
}

impl Logic for FrameTx {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, state, len_reg, total, addr, data_pos, start, run, block_end, next_start,
            code, last
        );
        clock!(self, clock, checksum);
        self.buffer.read_clock.next = self.clock.val();
        self.buffer.write_clock.next = self.clock.val();
        self.buffer.write_address.next = self.wr_addr.val();
        self.buffer.write_data.next = self.wr_data.val();
        self.buffer.write_enable.next = self.wr_en.val();
        self.buffer.read_address.next = self.addr.q.val();
        self.data_pos.d.next = self.addr.q.val();

        // Past the stored bytes come the CRC's, least significant first.
        self.crc_index.next = self.data_pos.q.val() - self.len_reg.q.val();
        if self.data_pos.q.val() < self.len_reg.q.val() {
            self.frame_byte.next = self.buffer.read_data.val();
        } else if self.crc_index.val() == self.zero_a.val() {
            self.frame_byte.next = self.checksum.crc.val().get_bits::<8>(0);
        } else if self.crc_index.val() == self.one_a.val() {
            self.frame_byte.next = self.checksum.crc.val().get_bits::<8>(8);
        } else if self.crc_index.val() == self.two_a.val() {
            self.frame_byte.next = self.checksum.crc.val().get_bits::<8>(16);
        } else {
            self.frame_byte.next = self.checksum.crc.val().get_bits::<8>(24);
        }

        self.busy.next = self.state.q.val() != self.idle.val();
        self.byte_valid.next = false;
        self.byte_data.next = self.zero8.val();
        self.checksum.init.next = false;
        self.checksum.enable.next = false;
        self.checksum.data.next = self.frame_byte.val();

        if self.state.q.val() == self.idle.val() {
            if self.send.val() {
                self.state.d.next = self.lead.val();
                self.len_reg.d.next = self.len.val();
                self.total.d.next = self.len.val() + self.crc_len.val();
                self.checksum.init.next = true;
                self.start.d.next = self.zero_a.val();
                self.addr.d.next = self.zero_a.val();
                self.run.d.next = self.zero8.val();
            }
        } else if self.state.q.val() == self.lead.val() {
            self.byte_valid.next = true;
            if self.byte_ready.val() {
                self.state.d.next = self.prime.val();
            }
        } else if self.state.q.val() == self.prime.val() {
            self.addr.d.next = self.addr.q.val() + self.one_a.val();
            self.state.d.next = self.scan.val();
        } else if self.state.q.val() == self.scan.val() {
            // `byte` is the frame byte at start + run (= data_pos).
            if self.data_pos.q.val() == self.total.q.val() {
                self.code.d.next = self.run.q.val() + self.one8.val();
                self.last.d.next = true;
                self.block_end.d.next = self.data_pos.q.val();
                self.addr.d.next = self.start.q.val();
                self.state.d.next = self.code_state.val();
            } else {
                self.checksum.enable.next = self.data_pos.q.val() < self.len_reg.q.val();
                self.last.d.next = false;
                self.next_start.d.next = self.data_pos.q.val() + self.one_a.val();
                if self.frame_byte.val() == self.zero8.val() {
                    self.code.d.next = self.run.q.val() + self.one8.val();
                    self.block_end.d.next = self.data_pos.q.val();
                    self.addr.d.next = self.start.q.val();
                    self.state.d.next = self.code_state.val();
                } else if self.run.q.val() == self.full_run.val() {
                    self.code.d.next = self.ff8.val();
                    self.run.d.next = self.run.q.val() + self.one8.val();
                    self.block_end.d.next = self.data_pos.q.val() + self.one_a.val();
                    self.addr.d.next = self.start.q.val();
                    self.state.d.next = self.code_state.val();
                } else {
                    self.run.d.next = self.run.q.val() + self.one8.val();
                    self.addr.d.next = self.addr.q.val() + self.one_a.val();
                }
            }
        } else if self.state.q.val() == self.code_state.val() {
            self.byte_valid.next = true;
            self.byte_data.next = self.code.q.val();
            if self.byte_ready.val() {
                if self.code.q.val() != self.one8.val() {
                    self.state.d.next = self.data_state.val();
                } else if self.last.q.val() {
                    self.state.d.next = self.trail.val();
                } else {
                    self.start.d.next = self.next_start.q.val();
                    self.addr.d.next = self.next_start.q.val();
                    self.run.d.next = self.zero8.val();
                    self.state.d.next = self.prime.val();
                }
            }
        } else if self.state.q.val() == self.data_state.val() {
            // The byte is valid once the buffer returned the presented position.
            self.byte_valid.next = self.data_pos.q.val() == self.addr.q.val();
            self.byte_data.next = self.frame_byte.val();
            if self.data_pos.q.val() == self.addr.q.val() && self.byte_ready.val() {
                if self.addr.q.val() + self.one_a.val() != self.block_end.q.val() {
                    self.addr.d.next = self.addr.q.val() + self.one_a.val();
                } else if self.last.q.val() {
                    self.state.d.next = self.trail.val();
                } else {
                    self.start.d.next = self.next_start.q.val();
                    self.addr.d.next = self.next_start.q.val();
                    self.run.d.next = self.zero8.val();
                    self.state.d.next = self.prime.val();
                }
            }
        } else {
            self.byte_valid.next = true;
            if self.byte_ready.val() {
                self.state.d.next = self.idle.val();
            }
        }
    }
}

/// Test drivers shared with the receiver's tests.
#[cfg(test)]
pub(crate) mod harness {
    use super::*;
    use rand::Rng;
    use rand_chacha::ChaCha8Rng;

    /// Writes `frame` (header + body) into the buffer, one byte per cycle.
    pub(crate) fn load(uut: &mut FrameTx, frame: &[u8]) {
        for (i, &b) in frame.iter().enumerate() {
            uut.wr_en.next = true;
            uut.wr_addr.next = bits(i as u64);
            uut.wr_data.next = bits(b as u64);
            clock_cycle!(uut);
        }
        uut.wr_en.next = false;
    }

    /// Sends the first `len` buffered bytes, the consumer ready in each cycle with probability
    /// `p_ready`; returns the bytes and the cycles from `send` to the fall of `busy`. Checks
    /// the handshake: an offered byte stays offered, unchanged, until taken.
    pub(crate) fn send(
        uut: &mut FrameTx,
        len: usize,
        rng: &mut ChaCha8Rng,
        p_ready: f64,
    ) -> (Vec<u8>, usize) {
        assert!(simulate(uut, 1000));
        assert!(!uut.busy.val());
        uut.send.next = true;
        uut.len.next = bits(len as u64);
        clock_cycle!(uut);
        uut.send.next = false;
        let mut out = vec![];
        let mut offered: Option<u8> = None;
        let mut cycles = 1;
        while uut.busy.val() {
            let ready = rng.gen_bool(p_ready);
            uut.byte_ready.next = ready;
            assert!(simulate(uut, 1000));
            let valid = uut.byte_valid.val();
            let data = uut.byte_data.val().to_u64() as u8;
            if let Some(held) = offered {
                assert!(valid && data == held, "byte {} withdrawn", out.len());
            }
            offered = (valid && !ready).then_some(data);
            if valid && ready {
                out.push(data);
            }
            clock_cycle!(uut);
            cycles += 1;
            assert!(cycles < 100 * (len + 10) + 10_000, "stuck");
        }
        (out, cycles)
    }

    /// A header + body with a random header, the length field set, and a body of `body_len`
    /// bytes from `fill`.
    pub(crate) fn frame(
        rng: &mut ChaCha8Rng,
        body_len: usize,
        fill: impl Fn(&mut ChaCha8Rng, usize) -> u8,
    ) -> Vec<u8> {
        let mut f = vec![1, rng.gen(), rng.gen(), rng.gen()];
        f.extend((body_len as u16).to_le_bytes());
        f.extend([rng.gen::<u8>(), rng.gen()]);
        f.extend((0..body_len).map(|i| fill(rng, i)));
        f
    }
}

#[cfg(test)]
mod tests {
    use super::harness::{frame, load, send};
    use super::*;
    use crate::link::frame_rx::harness::{feed, take_frame};
    use crate::link::frame_rx::FrameRx;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn frames_decode_in_frame_rx_and_replay_identically() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let mut tx = FrameTx::default();
        tx.connect_all();
        let mut rx = FrameRx::default();
        rx.connect_all();
        // Lengths around the 254-byte COBS block, zero-heavy and zero-free bodies.
        let cases: Vec<Vec<u8>> = vec![
            frame(&mut rng, 0, |_, _| 0),
            frame(&mut rng, 1, |_, _| 0),
            frame(&mut rng, 40, |r, _| r.gen()),
            frame(&mut rng, 246, |_, _| 0xFF),
            frame(&mut rng, 260, |_, i| (i % 255 + 1) as u8),
            frame(&mut rng, 500, |r, i| {
                if i % 97 == 0 {
                    0
                } else {
                    r.gen_range(1..=255)
                }
            }),
            frame(&mut rng, 64, |_, _| 0),
        ];
        for f in &cases {
            load(&mut tx, f);
            let (wire, _) = send(&mut tx, f.len(), &mut rng, 0.3);
            let (again, _) = send(&mut tx, f.len(), &mut rng, 1.0);
            assert_eq!(wire, again, "a replay differs");
            assert_eq!((wire[0], wire[wire.len() - 1]), (0, 0));
            assert!(!wire[1..wire.len() - 1].contains(&0));
            feed(&mut rx, &wire, &mut rng);
            assert_eq!(take_frame(&mut rx).as_deref(), Some(&f[..]));
            assert_eq!(
                rx.crc_errors.val().to_u64() + rx.frame_errors.val().to_u64(),
                0
            );
        }
    }

    #[test]
    fn a_small_buffer_sends_frames_that_fill_it() {
        // A 64-byte buffer: frames of 64 bytes (and the CRC positions past them) come out
        // whole, with and without zeros.
        let mut rng = ChaCha8Rng::seed_from_u64(22);
        let mut tx = FrameTx::new(64);
        tx.connect_all();
        let mut rx = FrameRx::default();
        rx.connect_all();
        for f in [
            frame(&mut rng, 56, |_, i| (i % 255 + 1) as u8),
            frame(&mut rng, 56, |_, _| 0),
            frame(&mut rng, 55, |r, _| r.gen()),
        ] {
            load(&mut tx, &f);
            let (wire, _) = send(&mut tx, f.len(), &mut rng, 0.5);
            feed(&mut rx, &wire, &mut rng);
            assert_eq!(take_frame(&mut rx).as_deref(), Some(&f[..]));
        }
    }
}
