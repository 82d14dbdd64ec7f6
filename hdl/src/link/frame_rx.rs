//! The frame receiver: COBS decoding, CRC and header checks of docs/protocol.md section 1, on
//! the byte stream from [`super::uart_rx::UartRx`], into a buffer the command engine reads.

use super::crc32::{Crc32, CRC32_RESIDUE};
use super::{FRAME_BUF_ADDR_BITS as AB, HEADER_LEN, MAX_BLOCK_LEN, MAX_DECODED_LEN};
use crate::ram::SizedRam;
use rust_hdl::prelude::*;

// Receiver states (plain codes: Verilator -Wall rejects rust-hdl enums).
/// In a block (or between blocks): decoding.
const RECEIVE: u64 = 0;
/// A validated frame waits for `frame_release`; bytes are dropped.
const PENDING: u64 = 1;
/// After `frame_release` in the middle of a block that began while pending: wait for a delimiter.
const SKIP: u64 = 2;

/// Decodes frames (docs/protocol.md section 1) from a byte stream, one byte per clock.
///
/// Bytes are taken on every edge with `byte_valid` high (`byte_ready` is always high: what
/// cannot be kept is dropped and counted). Between delimiters (0x00) the COBS code bytes are
/// decoded on the fly: each byte in yields at most one decoded byte (a code byte the zero
/// its predecessor implied, a data byte itself), which is written to the buffer and folded
/// into the CRC in the same cycle. At the delimiter the block is judged from registers in
/// that same cycle: empty blocks are skipped; then, first failure wins, more than
/// [`MAX_BLOCK_LEN`] encoded bytes, a COBS error (the last code points past the delimiter),
/// fewer than 12 decoded bytes, a CRC mismatch (`crc_errors`), more than [`MAX_DECODED_LEN`]
/// decoded bytes, a version other than 1, and a length field that disagrees with the body
/// all count in `frame_errors`. This is the host's `FrameDecoder` verdict (with the device's
/// size limit), so the counters move as the software device's do.
///
/// A good frame raises `frame_ready` and sets `frame_len` (header + body) until `frame_release`;
/// meanwhile `rd_data` is the byte at the `rd_addr` of the previous cycle (header at 0..8, body
/// from 8). Every byte that arrives while a frame is pending is dropped and counted in
/// `overruns`, and so is each rising edge of `uart_overrun`. A block that began while a frame
/// was pending is dropped entirely: after `frame_release`, reception resumes at once if the last
/// dropped byte was a delimiter (or nothing came), else at the next delimiter.
///
/// The counters saturate at 0xFFFF; `clear_counters` zeroes them (and wins over an event in
/// the same cycle).
#[derive(LogicBlock)]
pub struct FrameRx {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// A byte from the UART.
    pub byte_data: Signal<In, Bits<8>>,
    /// `byte_data` holds a byte.
    pub byte_valid: Signal<In, Bit>,
    /// Always high.
    pub byte_ready: Signal<Out, Bit>,
    /// The UART's overrun flag (pulse or level: each rising edge counts once).
    pub uart_overrun: Signal<In, Bit>,
    /// A validated frame waits in the buffer.
    pub frame_ready: Signal<Out, Bit>,
    /// Header + body bytes of the waiting frame.
    pub frame_len: Signal<Out, Bits<AB>>,
    /// Buffer address to read.
    pub rd_addr: Signal<In, Bits<AB>>,
    /// The buffer byte at the previous cycle's `rd_addr`.
    pub rd_data: Signal<Out, Bits<8>>,
    /// One-cycle pulse: the engine is done with the frame. (Not `release`: that is a Verilog
    /// keyword, and rust-hdl does not escape port names.)
    pub frame_release: Signal<In, Bit>,
    /// Blocks dropped for a CRC mismatch.
    pub crc_errors: Signal<Out, Bits<16>>,
    /// Blocks dropped for any other reason (COBS, size, version, length).
    pub frame_errors: Signal<Out, Bits<16>>,
    /// Bytes dropped while a frame was pending, plus UART overruns.
    pub overruns: Signal<Out, Bits<16>>,
    /// Zero the three counters at the next edge.
    pub clear_counters: Signal<In, Bit>,
    buffer: SizedRam<Bits<8>, AB>,
    checksum: Crc32,
    state: DFF<Bits<2>>,
    // Data bytes left in the current COBS run; 0: the next byte is a code byte.
    remaining: DFF<Bits<8>>,
    // The previous code was below 0xFF: a zero is due before the next run.
    zero_due: DFF<Bit>,
    // Encoded bytes of the block so far (up to MAX_BLOCK_LEN).
    encoded: DFF<Bits<AB>>,
    // More than MAX_BLOCK_LEN encoded bytes came: the rest of the block is ignored.
    too_long: DFF<Bit>,
    // Decoded bytes written so far.
    decoded: DFF<Bits<AB>>,
    version: DFF<Bits<8>>,
    length_lo: DFF<Bits<8>>,
    length_hi: DFF<Bits<8>>,
    frame_len_reg: DFF<Bits<AB>>,
    // While pending: the last dropped byte was not a delimiter.
    mid_block: DFF<Bit>,
    overrun_seen: DFF<Bit>,
    crc_count: DFF<Bits<16>>,
    frame_count: DFF<Bits<16>>,
    overrun_count: DFF<Bits<16>>,
    // Per-cycle decisions.
    emit: Signal<Local, Bit>,
    emit_byte: Signal<Local, Bits<8>>,
    body_len: Signal<Local, Bits<AB>>,
    crc_event: Signal<Local, Bit>,
    frame_event: Signal<Local, Bit>,
    drop_event: Signal<Local, Bit>,
    uart_event: Signal<Local, Bit>,
    mid_next: Signal<Local, Bit>,
    receive: Constant<Bits<2>>,
    pending: Constant<Bits<2>>,
    skip: Constant<Bits<2>>,
    zero8: Constant<Bits<8>>,
    one8: Constant<Bits<8>>,
    ff8: Constant<Bits<8>>,
    zero3: Constant<Bits<3>>,
    zero_a: Constant<Bits<AB>>,
    one_a: Constant<Bits<AB>>,
    four_a: Constant<Bits<AB>>,
    five_a: Constant<Bits<AB>>,
    frame_overhead: Constant<Bits<AB>>,
    min_decoded: Constant<Bits<AB>>,
    max_decoded: Constant<Bits<AB>>,
    max_block: Constant<Bits<AB>>,
    crc_len: Constant<Bits<AB>>,
    residue: Constant<Bits<32>>,
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    two16: Constant<Bits<16>>,
    max16: Constant<Bits<16>>,
    almost_max16: Constant<Bits<16>>,
    // The address bits at and above the buffer's size (a power of two): a decoded byte fits
    // while they are all zero. A mask rather than `decoded <= last`, which is constant (and
    // lint-flagged) when the buffer spans every address.
    buf_high: Constant<Bits<AB>>,
}

impl Default for FrameRx {
    /// A receiver with the full `2^FRAME_BUF_ADDR_BITS`-byte buffer.
    fn default() -> FrameRx {
        FrameRx::new(1 << AB)
    }
}

impl FrameRx {
    /// A receiver whose buffer holds `buffer_bytes` bytes (a power of two, at least 64, at most
    /// `2^FRAME_BUF_ADDR_BITS`). Frames up to the protocol's largest are still received and
    /// checked whole, but only their first `buffer_bytes` bytes are kept: a device with a small
    /// buffer has a small `max_body`, and answers a longer frame BAD_LENGTH from its header alone.
    pub fn new(buffer_bytes: usize) -> FrameRx {
        assert!(
            buffer_bytes.is_power_of_two() && (64..=1 << AB).contains(&buffer_bytes),
            "a receive buffer of {buffer_bytes} bytes"
        );
        let a = |v: usize| Constant::new(bits(v as u64));
        FrameRx {
            clock: Default::default(),
            byte_data: Default::default(),
            byte_valid: Default::default(),
            byte_ready: Default::default(),
            uart_overrun: Default::default(),
            frame_ready: Default::default(),
            frame_len: Default::default(),
            rd_addr: Default::default(),
            rd_data: Default::default(),
            frame_release: Default::default(),
            crc_errors: Default::default(),
            frame_errors: Default::default(),
            overruns: Default::default(),
            clear_counters: Default::default(),
            buffer: SizedRam::new(buffer_bytes).with_collisions_undefined(),
            checksum: Default::default(),
            state: Default::default(),
            remaining: Default::default(),
            zero_due: Default::default(),
            encoded: Default::default(),
            too_long: Default::default(),
            decoded: Default::default(),
            version: Default::default(),
            length_lo: Default::default(),
            length_hi: Default::default(),
            frame_len_reg: Default::default(),
            mid_block: Default::default(),
            overrun_seen: Default::default(),
            crc_count: Default::default(),
            frame_count: Default::default(),
            overrun_count: Default::default(),
            emit: Default::default(),
            emit_byte: Default::default(),
            body_len: Default::default(),
            crc_event: Default::default(),
            frame_event: Default::default(),
            drop_event: Default::default(),
            uart_event: Default::default(),
            mid_next: Default::default(),
            receive: Constant::new(bits(RECEIVE)),
            pending: Constant::new(bits(PENDING)),
            skip: Constant::new(bits(SKIP)),
            zero8: Constant::new(bits(0)),
            one8: Constant::new(bits(1)),
            ff8: Constant::new(bits(0xFF)),
            zero3: Constant::new(bits(0)),
            zero_a: a(0),
            one_a: a(1),
            four_a: a(4),
            five_a: a(5),
            frame_overhead: a(HEADER_LEN + super::CRC_LEN),
            min_decoded: a(HEADER_LEN + super::CRC_LEN),
            max_decoded: a(MAX_DECODED_LEN),
            max_block: a(MAX_BLOCK_LEN),
            crc_len: a(super::CRC_LEN),
            residue: Constant::new(bits(CRC32_RESIDUE as u64)),
            zero16: Constant::new(bits(0)),
            one16: Constant::new(bits(1)),
            two16: Constant::new(bits(2)),
            max16: Constant::new(bits(0xFFFF)),
            almost_max16: Constant::new(bits(0xFFFE)),
            buf_high: a(((1 << AB) - 1) & !(buffer_bytes - 1)),
        }
    }
}

impl Logic for FrameRx {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            state,
            remaining,
            zero_due,
            encoded,
            too_long,
            decoded,
            version,
            length_lo,
            length_hi,
            frame_len_reg,
            mid_block,
            overrun_seen,
            crc_count,
            frame_count,
            overrun_count
        );
        clock!(self, clock, checksum);
        self.buffer.read_clock.next = self.clock.val();
        self.buffer.write_clock.next = self.clock.val();
        self.buffer.read_address.next = self.rd_addr.val();
        self.rd_data.next = self.buffer.read_data.val();
        self.byte_ready.next = true;
        self.frame_ready.next = self.state.q.val() == self.pending.val();
        self.frame_len.next = self.frame_len_reg.q.val();
        self.crc_errors.next = self.crc_count.q.val();
        self.frame_errors.next = self.frame_count.q.val();
        self.overruns.next = self.overrun_count.q.val();

        self.emit.next = false;
        self.emit_byte.next = self.byte_data.val();
        self.crc_event.next = false;
        self.frame_event.next = false;
        self.drop_event.next = false;
        self.checksum.init.next = false;
        self.body_len.next = self.decoded.q.val() - self.frame_overhead.val();

        if self.state.q.val() == self.receive.val() {
            if self.byte_valid.val() && self.byte_data.val() == self.zero8.val() {
                // The delimiter: judge the block, then start the next one.
                if self.too_long.q.val() {
                    self.frame_event.next = true;
                } else if self.encoded.q.val() == self.zero_a.val() {
                    // An empty block: senders flush with it.
                } else if self.remaining.q.val() != self.zero8.val()
                    || self.decoded.q.val() < self.min_decoded.val()
                {
                    self.frame_event.next = true;
                } else if self.checksum.crc.val() != self.residue.val() {
                    self.crc_event.next = true;
                } else if self.decoded.q.val() > self.max_decoded.val()
                    || self.version.q.val() != self.one8.val()
                    || self.length_lo.q.val() != self.body_len.val().get_bits::<8>(0)
                    || self.length_hi.q.val().get_bits::<5>(0)
                        != self.body_len.val().get_bits::<5>(8)
                    || self.length_hi.q.val().get_bits::<3>(5) != self.zero3.val()
                {
                    self.frame_event.next = true;
                } else {
                    self.state.d.next = self.pending.val();
                    self.frame_len_reg.d.next = self.decoded.q.val() - self.crc_len.val();
                    self.mid_block.d.next = false;
                }
                self.remaining.d.next = self.zero8.val();
                self.zero_due.d.next = false;
                self.encoded.d.next = self.zero_a.val();
                self.too_long.d.next = false;
                self.decoded.d.next = self.zero_a.val();
                self.checksum.init.next = true;
            } else if self.byte_valid.val() && !self.too_long.q.val() {
                if self.encoded.q.val() == self.max_block.val() {
                    self.too_long.d.next = true;
                } else {
                    self.encoded.d.next = self.encoded.q.val() + self.one_a.val();
                    if self.remaining.q.val() == self.zero8.val() {
                        // A code byte: the zero the previous run implied, then a new run.
                        self.emit.next = self.zero_due.q.val();
                        self.emit_byte.next = self.zero8.val();
                        self.zero_due.d.next = self.byte_data.val() != self.ff8.val();
                        self.remaining.d.next = self.byte_data.val() - self.one8.val();
                    } else {
                        self.emit.next = true;
                        self.remaining.d.next = self.remaining.q.val() - self.one8.val();
                    }
                }
            }
        } else if self.state.q.val() == self.pending.val() {
            self.drop_event.next = self.byte_valid.val();
        } else if self.byte_valid.val() && self.byte_data.val() == self.zero8.val() {
            self.state.d.next = self.receive.val();
        }

        // While pending, remember whether a block began; `frame_release` resumes accordingly.
        self.mid_next.next = self.mid_block.q.val();
        if self.byte_valid.val() {
            self.mid_next.next = self.byte_data.val() != self.zero8.val();
        }
        if self.state.q.val() == self.pending.val() {
            self.mid_block.d.next = self.mid_next.val();
            if self.frame_release.val() {
                if self.mid_next.val() {
                    self.state.d.next = self.skip.val();
                } else {
                    self.state.d.next = self.receive.val();
                }
            }
        }

        // The decoded byte: into the buffer and the CRC; header fields the checks need.
        self.buffer.write_address.next = self.decoded.q.val();
        self.buffer.write_data.next = self.emit_byte.val();
        self.buffer.write_enable.next =
            self.emit.val() && ((self.decoded.q.val() & self.buf_high.val()) == self.zero_a.val());
        self.checksum.data.next = self.emit_byte.val();
        self.checksum.enable.next = self.emit.val();
        if self.emit.val() {
            self.decoded.d.next = self.decoded.q.val() + self.one_a.val();
            if self.decoded.q.val() == self.zero_a.val() {
                self.version.d.next = self.emit_byte.val();
            }
            if self.decoded.q.val() == self.four_a.val() {
                self.length_lo.d.next = self.emit_byte.val();
            }
            if self.decoded.q.val() == self.five_a.val() {
                self.length_hi.d.next = self.emit_byte.val();
            }
        }

        // Counters.
        self.overrun_seen.d.next = self.uart_overrun.val();
        self.uart_event.next = self.uart_overrun.val() && !self.overrun_seen.q.val();
        if self.clear_counters.val() {
            self.crc_count.d.next = self.zero16.val();
            self.frame_count.d.next = self.zero16.val();
            self.overrun_count.d.next = self.zero16.val();
        } else {
            if self.crc_event.val() && self.crc_count.q.val() != self.max16.val() {
                self.crc_count.d.next = self.crc_count.q.val() + self.one16.val();
            }
            if self.frame_event.val() && self.frame_count.q.val() != self.max16.val() {
                self.frame_count.d.next = self.frame_count.q.val() + self.one16.val();
            }
            if self.drop_event.val() && self.uart_event.val() {
                if self.overrun_count.q.val() < self.almost_max16.val() {
                    self.overrun_count.d.next = self.overrun_count.q.val() + self.two16.val();
                } else {
                    self.overrun_count.d.next = self.max16.val();
                }
            } else if (self.drop_event.val() || self.uart_event.val())
                && self.overrun_count.q.val() != self.max16.val()
            {
                self.overrun_count.d.next = self.overrun_count.q.val() + self.one16.val();
            }
        }
    }
}

/// Test drivers shared with the transmitter's tests.
#[cfg(test)]
pub(crate) mod harness {
    use super::*;
    use rand::Rng;
    use rand_chacha::ChaCha8Rng;

    /// Offers `byte` for one cycle, then idles for `gap` cycles.
    pub(crate) fn push(uut: &mut FrameRx, byte: u8, gap: usize) {
        uut.byte_valid.next = true;
        uut.byte_data.next = bits(byte as u64);
        assert!(simulate(uut, 1000));
        assert!(uut.byte_ready.val());
        clock_cycle!(uut);
        uut.byte_valid.next = false;
        for _ in 0..gap {
            clock_cycle!(uut);
        }
    }

    /// Feeds `bytes` with random idle gaps of 0 to 2 cycles, leaving any frame pending.
    pub(crate) fn feed(uut: &mut FrameRx, bytes: &[u8], rng: &mut ChaCha8Rng) {
        for &b in bytes {
            let gap = rng.gen_range(0..3);
            push(uut, b, gap);
        }
    }

    /// Feeds `bytes` like [`feed`] and takes each frame as soon as it is ready.
    pub(crate) fn feed_taking(
        uut: &mut FrameRx,
        bytes: &[u8],
        rng: &mut ChaCha8Rng,
    ) -> Vec<Vec<u8>> {
        let mut frames = vec![];
        for &b in bytes {
            let gap = rng.gen_range(0..3);
            push(uut, b, gap);
            frames.extend(take_frame(uut));
        }
        frames
    }

    /// The pending frame (header + body), read through `rd_addr`/`rd_data`, then released.
    pub(crate) fn take_frame(uut: &mut FrameRx) -> Option<Vec<u8>> {
        assert!(simulate(uut, 1000));
        if !uut.frame_ready.val() {
            return None;
        }
        let len = uut.frame_len.val().to_u64() as usize;
        let mut out = vec![];
        for i in 0..len {
            uut.rd_addr.next = bits(i as u64);
            clock_cycle!(uut);
            out.push(uut.rd_data.val().to_u64() as u8);
            assert!(uut.frame_ready.val());
        }
        uut.frame_release.next = true;
        clock_cycle!(uut);
        uut.frame_release.next = false;
        assert!(!uut.frame_ready.val());
        Some(out)
    }

    /// The counters: (crc_errors, frame_errors, overruns).
    pub(crate) fn counters(uut: &FrameRx) -> (u16, u16, u16) {
        (
            uut.crc_errors.val().to_u16(),
            uut.frame_errors.val().to_u16(),
            uut.overruns.val().to_u16(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::harness::{counters, feed, feed_taking, push, take_frame};
    use super::*;
    use crate::link::frame_tx::harness::{frame, load, send};
    use crate::link::frame_tx::FrameTx;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The wire bytes of `frames`, from the transmitter block.
    fn wire(frames: &[Vec<u8>], rng: &mut ChaCha8Rng) -> Vec<Vec<u8>> {
        let mut tx = FrameTx::default();
        tx.connect_all();
        frames
            .iter()
            .map(|f| {
                load(&mut tx, f);
                send(&mut tx, f.len(), rng, 1.0).0
            })
            .collect()
    }

    fn rx() -> FrameRx {
        let mut uut = FrameRx::default();
        uut.connect_all();
        uut
    }

    #[test]
    fn damaged_blocks_move_the_right_counter() {
        let mut rng = ChaCha8Rng::seed_from_u64(31);
        let good = frame(&mut rng, 30, |r, _| r.gen_range(1..=255));
        let w = wire(std::slice::from_ref(&good), &mut rng).remove(0);
        let mut uut = rx();
        // A flipped data bit (not a code byte: the run is zero-free) fails the CRC only.
        let mut bad = w.clone();
        bad[20] ^= 0x04;
        assert!(feed_taking(&mut uut, &bad, &mut rng).is_empty());
        assert_eq!(counters(&uut), (1, 0, 0));
        // Truncated: the last code byte points past the delimiter.
        let mut cut = w[..w.len() - 3].to_vec();
        cut.push(0);
        assert!(feed_taking(&mut uut, &cut, &mut rng).is_empty());
        assert_eq!(counters(&uut), (1, 1, 0));
        // Too short, and garbage without a frame; then the good frame still comes through.
        let mut stream = vec![0x03, 0x11, 0x22, 0x00, 0x02, 0x05, 0x00, 0x00];
        stream.extend(&w);
        assert_eq!(
            feed_taking(&mut uut, &stream, &mut rng),
            std::slice::from_ref(&good)
        );
        assert_eq!(counters(&uut), (1, 3, 0));
        // A wrong version and a wrong length field, with valid CRCs.
        let mut v2 = good.clone();
        v2[0] = 2;
        let mut long = good.clone();
        long[4] += 1;
        for w in wire(&[v2, long], &mut rng) {
            assert!(feed_taking(&mut uut, &w, &mut rng).is_empty());
        }
        assert_eq!(counters(&uut), (1, 5, 0));
        uut.clear_counters.next = true;
        clock_cycle!(&mut uut);
        uut.clear_counters.next = false;
        assert_eq!(counters(&uut), (0, 0, 0));
    }

    #[test]
    fn a_frame_arriving_while_one_is_pending_is_dropped() {
        let mut rng = ChaCha8Rng::seed_from_u64(32);
        let frames: Vec<Vec<u8>> = (0..3)
            .map(|n| frame(&mut rng, 10 * n, |r, _| r.gen()))
            .collect();
        let w = wire(&frames, &mut rng);
        let mut uut = rx();
        feed(&mut uut, &w[0], &mut rng);
        assert!(uut.frame_ready.val());
        // Frame 1 arrives whole while frame 0 waits: every byte counted, the frame lost.
        feed(&mut uut, &w[1], &mut rng);
        assert_eq!(counters(&uut), (0, 0, w[1].len() as u16));
        assert_eq!(take_frame(&mut uut).as_deref(), Some(&frames[0][..]));
        // Its last byte was a delimiter: frame 2 is received at once.
        assert_eq!(feed_taking(&mut uut, &w[2], &mut rng), [frames[2].clone()]);

        // Release in the middle of a frame: the rest of that frame is dropped, not decoded.
        feed(&mut uut, &w[0], &mut rng);
        let half = w[1].len() / 2;
        feed(&mut uut, &w[1][..half], &mut rng);
        assert_eq!(take_frame(&mut uut).as_deref(), Some(&frames[0][..]));
        let mut rest = w[1][half..].to_vec();
        rest.extend(&w[2]);
        assert_eq!(feed_taking(&mut uut, &rest, &mut rng), [frames[2].clone()]);
        let dropped = (w[1].len() + half) as u16;
        assert_eq!(counters(&uut), (0, 0, dropped));
    }

    #[test]
    fn uart_overruns_count_once_each_and_counters_saturate() {
        let mut uut = rx();
        // A level held for several cycles is one overrun.
        for level in [true, true, true, false, true, false, false] {
            uut.uart_overrun.next = level;
            clock_cycle!(&mut uut);
        }
        assert_eq!(counters(&uut), (0, 0, 2));
        for _ in 0..0xFFFF {
            for level in [true, false] {
                uut.uart_overrun.next = level;
                clock_cycle!(&mut uut);
            }
        }
        assert_eq!(counters(&uut), (0, 0, 0xFFFF));
        // A too-short block is a frame error; the overrun count stays saturated.
        push(&mut uut, 0x01, 0);
        push(&mut uut, 0x00, 0);
        assert_eq!(counters(&uut), (0, 1, 0xFFFF));
    }
}
