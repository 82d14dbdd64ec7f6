//! The device's framing blocks (hdl/src/link: Crc32, FrameRx, FrameTx), simulated by rust-hdl,
//! against the host's link layer (driver/src/link): the same CRC, the same verdict on every
//! block of a byte stream (frames, garbage, damage), and the same bytes on the wire.

use qtrain_driver::link::cobs;
use qtrain_driver::link::crc::crc32;
use qtrain_driver::link::frame::max_wire_len;
use qtrain_driver::link::{Frame, FrameDecoder, FrameError, MAX_BODY};
use qtrain_hdl::link::crc32::{Crc32, CRC32_RESIDUE};
use qtrain_hdl::link::frame_rx::FrameRx;
use qtrain_hdl::link::frame_tx::FrameTx;
use qtrain_hdl::link::uart_rx::UartRx;
use qtrain_hdl::link::uart_tx::UartTx;
use qtrain_hdl::link::{MAX_BLOCK_LEN, MAX_DECODED_LEN};
use qtrain_hdl::rust_hdl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One clock cycle of a block whose clock port is `clock`.
macro_rules! cycle {
    ($uut:expr) => {
        for clk in [false, true, false] {
            $uut.clock.next = Clock { clk };
            assert!(simulate($uut, 1000), "did not settle");
        }
    };
}

/// Header + body of `frame` as the host encodes them: its wire bytes, COBS-decoded by the host,
/// without the CRC.
fn raw(frame: &Frame) -> Vec<u8> {
    let wire = frame.encode();
    let mut decoded = cobs::decode(&wire[1..wire.len() - 1]).unwrap();
    decoded.truncate(decoded.len() - 4);
    decoded
}

/// The wire bytes of a frame with an arbitrary (possibly inconsistent) header + body `raw`.
fn wire_of_raw(raw: &[u8]) -> Vec<u8> {
    let mut content = raw.to_vec();
    content.extend(crc32(raw).to_le_bytes());
    let mut wire = vec![0];
    cobs::encode(&content, &mut wire);
    wire.push(0);
    wire
}

/// A body of `len` bytes of one of the kinds that matter to COBS.
fn body(rng: &mut ChaCha8Rng, len: usize) -> Vec<u8> {
    match rng.gen_range(0..5) {
        0 => vec![0; len],
        1 => vec![0xFF; len],
        // Zero-free runs that cross the 254-byte block edges.
        2 => (0..len).map(|i| (i % 255 + 1) as u8).collect(),
        3 => (0..len)
            .map(|_| if rng.gen_bool(0.02) { 0 } else { 0xFF })
            .collect(),
        _ => (0..len).map(|_| rng.gen()).collect(),
    }
}

fn random_frame(rng: &mut ChaCha8Rng, max_len: usize) -> Frame {
    let len = rng.gen_range(0..=max_len);
    Frame::new(rng.gen(), rng.gen(), rng.gen(), body(rng, len))
}

#[test]
fn crc32_block_matches_the_host_crc() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut uut = Crc32::default();
    uut.connect_all();
    let mut inputs: Vec<Vec<u8>> = vec![b"123456789".to_vec(), vec![]];
    inputs.extend((0..40).map(|_| {
        let len = rng.gen_range(0..200);
        (0..len).map(|_| rng.gen()).collect()
    }));
    for data in &inputs {
        uut.init.next = true;
        cycle!(&mut uut);
        uut.init.next = false;
        for &b in data {
            uut.data.next = bits(b as u64);
            if rng.gen_bool(0.2) {
                // An idle cycle with a byte on `data` that must not be folded in.
                uut.enable.next = false;
                cycle!(&mut uut);
            }
            uut.enable.next = true;
            cycle!(&mut uut);
        }
        uut.enable.next = false;
        assert_eq!(uut.crc.val().to_u32(), crc32(data), "{data:?}");
    }
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    // The receiver's shortcut: a message followed by its CRC leaves the residue.
    for data in &inputs {
        let mut with_crc = data.clone();
        with_crc.extend(crc32(data).to_le_bytes());
        assert_eq!(crc32(&with_crc), CRC32_RESIDUE);
    }
}

#[test]
fn size_limits_match_the_host() {
    assert_eq!(MAX_BLOCK_LEN, max_wire_len());
    assert_eq!(MAX_DECODED_LEN, 8 + MAX_BODY + 4);
}

/// Drives a FrameRx as the command engine would: each frame is read out and released as soon
/// as it is ready (no bytes arrive meanwhile, as the engine is fast compared to the UART).
struct Receiver {
    uut: FrameRx,
    frames: Vec<Vec<u8>>,
}

impl Receiver {
    fn new() -> Receiver {
        let mut uut = FrameRx::default();
        uut.connect_all();
        Receiver {
            uut,
            frames: vec![],
        }
    }

    /// Feeds one byte, then `gap` idle cycles; takes a frame that became ready.
    fn push(&mut self, byte: u8, gap: usize, take: bool) {
        self.uut.byte_valid.next = true;
        self.uut.byte_data.next = bits(byte as u64);
        cycle!(&mut self.uut);
        self.uut.byte_valid.next = false;
        for _ in 0..gap {
            cycle!(&mut self.uut);
        }
        if take && self.uut.frame_ready.val() {
            let frame = self.read();
            self.frames.push(frame);
            self.release();
        }
    }

    fn feed(&mut self, bytes: &[u8], rng: &mut ChaCha8Rng, take: bool) {
        for &b in bytes {
            let gap = if rng.gen_bool(0.7) {
                0
            } else {
                rng.gen_range(1..4)
            };
            self.push(b, gap, take);
        }
    }

    fn read(&mut self) -> Vec<u8> {
        let len = self.uut.frame_len.val().to_u64() as usize;
        (0..len)
            .map(|i| {
                self.uut.rd_addr.next = bits(i as u64);
                cycle!(&mut self.uut);
                self.uut.rd_data.val().to_u64() as u8
            })
            .collect()
    }

    fn release(&mut self) {
        self.uut.frame_release.next = true;
        cycle!(&mut self.uut);
        self.uut.frame_release.next = false;
        assert!(!self.uut.frame_ready.val());
    }

    fn counters(&self) -> (u16, u16, u16) {
        (
            self.uut.crc_errors.val().to_u16(),
            self.uut.frame_errors.val().to_u16(),
            self.uut.overruns.val().to_u16(),
        )
    }
}

/// What the host's decoder (with the software device's error counting) makes of `stream`:
/// the accepted frames, CRC errors, other errors.
fn host_verdict(stream: &[u8]) -> (Vec<Frame>, u16, u16) {
    let mut frames = vec![];
    let (mut crc_errors, mut frame_errors) = (0, 0);
    for result in FrameDecoder::new().push(stream) {
        match result {
            Ok(frame) => frames.push(frame),
            Err(FrameError::BadCrc) => crc_errors += 1,
            Err(_) => frame_errors += 1,
        }
    }
    (frames, crc_errors, frame_errors)
}

/// A stream of good frames, back to back or after garbage, with damaged and truncated ones.
fn stream(rng: &mut ChaCha8Rng, events: usize, max_body: usize) -> Vec<u8> {
    let mut out = vec![];
    for _ in 0..events {
        let frame = random_frame(rng, max_body);
        let wire = frame.encode();
        match rng.gen_range(0..8) {
            0 => {
                // Garbage (zeros included, so it splits into blocks) before the frame.
                let len = rng.gen_range(1..40);
                out.extend((0..len).map(|_| if rng.gen_bool(0.1) { 0 } else { rng.gen() }));
                out.extend(wire);
            }
            1 => {
                // A flipped bit: a CRC error, a COBS error or a split block.
                let mut bad = wire;
                let at = rng.gen_range(1..bad.len() - 1);
                bad[at] ^= 1 << rng.gen_range(0..8);
                out.extend(bad);
            }
            2 => {
                // Truncated: the next frame's leading delimiter ends it.
                let cut = rng.gen_range(1..wire.len() - 1);
                out.extend(&wire[..cut]);
            }
            3 => {
                // Wrong version or wrong length field, with a good CRC.
                let mut r = raw(&frame);
                if rng.gen_bool(0.5) {
                    r[0] = rng.gen_range(2..=255);
                } else {
                    r[4] ^= 1 << rng.gen_range(0..8);
                }
                out.extend(wire_of_raw(&r));
            }
            4 => {
                // Too short to be a frame.
                let r: Vec<u8> = (0..rng.gen_range(0..12)).map(|_| rng.gen()).collect();
                out.push(0);
                cobs::encode(&r, &mut out);
                out.push(0);
            }
            _ => out.extend(wire),
        }
    }
    out
}

fn check_stream(stream: &[u8], rng: &mut ChaCha8Rng) {
    let (frames, crc_errors, frame_errors) = host_verdict(stream);
    let mut rx = Receiver::new();
    rx.feed(stream, rng, true);
    assert_eq!(rx.frames.len(), frames.len());
    for (n, (got, want)) in rx.frames.iter().zip(&frames).enumerate() {
        assert_eq!(got, &raw(want), "frame {n}");
    }
    assert_eq!(rx.counters(), (crc_errors, frame_errors, 0));
}

#[test]
fn frame_rx_agrees_with_the_host_decoder() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let s = stream(&mut rng, 60, 300);
    check_stream(&s, &mut rng);

    // The largest bodies, of every kind.
    let mut s = vec![];
    for _ in 0..4 {
        let len = rng.gen_range(MAX_BODY - 300..=MAX_BODY);
        let f = Frame::new(rng.gen(), rng.gen(), 0, body(&mut rng, len));
        s.extend(f.encode());
    }
    s.extend(Frame::new(1, 2, 0, vec![0; MAX_BODY]).encode());
    s.extend(Frame::new(1, 3, 0, vec![0xFF; MAX_BODY]).encode());
    check_stream(&s, &mut rng);
}

#[test]
#[ignore = "long: about a minute in release"]
fn frame_rx_agrees_with_the_host_decoder_on_a_long_stream() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let s = stream(&mut rng, 300, MAX_BODY);
    check_stream(&s, &mut rng);
}

#[test]
fn over_long_blocks_are_frame_errors_and_the_next_frame_comes_through() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let good = Frame::new(0x11, 7, 0, body(&mut rng, 100));
    for garbage_len in [MAX_BLOCK_LEN, MAX_BLOCK_LEN + 1, MAX_BLOCK_LEN + 300] {
        let mut s: Vec<u8> = (0..garbage_len).map(|_| rng.gen_range(1..=255)).collect();
        s.extend(good.encode());
        check_stream(&s, &mut rng);
    }
}

#[test]
fn bodies_over_the_device_limit_are_frame_errors() {
    // A consistent frame whose body exceeds MAX_BODY still fits the host decoder's block limit
    // when it has enough zeros; the host decoder accepts it, the device (spec: decoded size
    // above 8 + 4096 + 4) counts a frame error.
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let len = MAX_BODY + 10;
    let mut r = raw(&Frame::new(0x10, 1, 0, vec![]));
    r[4..6].copy_from_slice(&(len as u16).to_le_bytes());
    r.extend((0..len).map(|i| if i % 100 == 0 { 0 } else { 0x5A }));
    let wire = wire_of_raw(&r);
    assert_eq!(host_verdict(&wire).0.len(), 1, "the host decoder takes it");
    let mut rx = Receiver::new();
    rx.feed(&wire, &mut rng, true);
    assert!(rx.frames.is_empty());
    assert_eq!(rx.counters(), (0, 1, 0));
}

#[test]
fn a_frame_arriving_while_one_is_pending_is_dropped_and_counted() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let frames: Vec<Frame> = (0..3).map(|_| random_frame(&mut rng, 200)).collect();
    let wires: Vec<Vec<u8>> = frames.iter().map(Frame::encode).collect();
    let mut rx = Receiver::new();
    rx.feed(&wires[0], &mut rng, false);
    assert!(rx.uut.frame_ready.val());
    rx.feed(&wires[1], &mut rng, false);
    assert_eq!(rx.counters(), (0, 0, wires[1].len() as u16));
    assert_eq!(rx.read(), raw(&frames[0]));
    rx.release();
    rx.feed(&wires[2], &mut rng, true);
    assert_eq!(rx.frames, [raw(&frames[2])]);
}

/// Drives a FrameTx: loads `raw`, sends it with a consumer ready with probability `p_ready`,
/// checking that an offered byte stays until taken; returns the bytes and the cycles used.
fn transmit(tx: &mut FrameTx, raw: &[u8], rng: &mut ChaCha8Rng, p_ready: f64) -> (Vec<u8>, u64) {
    for (i, &b) in raw.iter().enumerate() {
        tx.wr_en.next = true;
        tx.wr_addr.next = bits(i as u64);
        tx.wr_data.next = bits(b as u64);
        cycle!(tx);
    }
    tx.wr_en.next = false;
    send(tx, raw.len(), rng, p_ready)
}

fn send(tx: &mut FrameTx, len: usize, rng: &mut ChaCha8Rng, p_ready: f64) -> (Vec<u8>, u64) {
    assert!(!tx.busy.val());
    tx.send.next = true;
    tx.len.next = bits(len as u64);
    cycle!(tx);
    tx.send.next = false;
    let (mut out, mut held, mut cycles) = (vec![], None, 1);
    while tx.busy.val() {
        let ready = rng.gen_bool(p_ready);
        tx.byte_ready.next = ready;
        assert!(simulate(tx, 1000));
        let (valid, data) = (tx.byte_valid.val(), tx.byte_data.val().to_u64() as u8);
        if let Some(h) = held {
            assert!(valid && data == h, "offered byte {} withdrawn", out.len());
        }
        held = (valid && !ready).then_some(data);
        if valid && ready {
            out.push(data);
        }
        cycle!(tx);
        cycles += 1;
        assert!(cycles < 100_000, "stuck");
    }
    (out, cycles)
}

#[test]
fn frame_tx_bytes_equal_the_host_encoder() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut tx = FrameTx::default();
    tx.connect_all();
    let mut frames: Vec<Frame> = (0..24).map(|_| random_frame(&mut rng, 600)).collect();
    frames.push(Frame::new(0x91, 0xFFFF, 0, vec![0xFF; MAX_BODY]));
    frames.push(Frame::new(0x91, 0, 4, vec![0; MAX_BODY]));
    for (n, frame) in frames.iter().enumerate() {
        let p_ready = [1.0, 0.5, 0.05][n % 3];
        let (wire, _) = transmit(&mut tx, &raw(frame), &mut rng, p_ready);
        assert_eq!(wire, frame.encode(), "frame {n}");
        let decoded = FrameDecoder::new().push(&wire);
        assert_eq!(decoded, [Ok(frame.clone())]);
        // A replay sends the same bytes without rewriting the buffer.
        let (again, _) = send(&mut tx, raw(frame).len(), &mut rng, 0.7);
        assert_eq!(again, wire, "replay of frame {n}");
    }
}

/// FrameTx -> UartTx -> UartRx -> FrameRx at `cpb` clocks per bit; returns the cycles each
/// frame took from `send` to `frame_ready`.
fn loopback(frames: &[Frame], cpb: u16) -> Vec<u64> {
    let mut ftx = FrameTx::default();
    let mut utx = UartTx::default();
    let mut urx = UartRx::default();
    let mut frx = FrameRx::default();
    ftx.connect_all();
    utx.connect_all();
    urx.connect_all();
    frx.connect_all();
    utx.clocks_per_bit.next = bits(cpb as u64);
    urx.clocks_per_bit.next = bits(cpb as u64);
    let mut took = vec![];
    for frame in frames {
        let r = raw(frame);
        for (i, &b) in r.iter().enumerate() {
            ftx.wr_en.next = true;
            ftx.wr_addr.next = bits(i as u64);
            ftx.wr_data.next = bits(b as u64);
            cycle!(&mut ftx);
        }
        ftx.wr_en.next = false;
        ftx.send.next = true;
        ftx.len.next = bits(r.len() as u64);
        let mut cycles = 0u64;
        while !frx.frame_ready.val() {
            // Wires between the blocks; every output read here is a register output or a
            // function of its own block's registers, current before the edge.
            utx.data.next = ftx.byte_data.val();
            utx.valid.next = ftx.byte_valid.val();
            ftx.byte_ready.next = utx.ready.val();
            urx.rx.next = utx.tx.val();
            frx.byte_data.next = urx.data.val();
            frx.byte_valid.next = urx.valid.val();
            urx.ready.next = frx.byte_ready.val();
            frx.uart_overrun.next = urx.overrun.val();
            for clk in [false, true, false] {
                ftx.clock.next = Clock { clk };
                utx.clock.next = Clock { clk };
                urx.clock.next = Clock { clk };
                frx.clock.next = Clock { clk };
                assert!(simulate(&mut ftx, 1000) && simulate(&mut utx, 1000));
                assert!(simulate(&mut urx, 1000) && simulate(&mut frx, 1000));
            }
            ftx.send.next = false;
            cycles += 1;
            assert!(cycles < 20 * cpb as u64 * (r.len() as u64 + 100), "stuck");
        }
        took.push(cycles);
        // The delimiter was taken at the last edge; the UART side stays frozen while the
        // frame is read out.
        frx.byte_valid.next = false;
        let len = frx.frame_len.val().to_u64() as usize;
        let got: Vec<u8> = (0..len)
            .map(|i| {
                frx.rd_addr.next = bits(i as u64);
                cycle!(&mut frx);
                frx.rd_data.val().to_u64() as u8
            })
            .collect();
        assert_eq!(got, r);
        frx.frame_release.next = true;
        cycle!(&mut frx);
        frx.frame_release.next = false;
        assert_eq!(
            (
                frx.crc_errors.val().to_u16(),
                frx.frame_errors.val().to_u16()
            ),
            (0, 0)
        );
        assert_eq!(frx.overruns.val().to_u16(), 0);
    }
    took
}

#[test]
fn frames_survive_frame_tx_uart_frame_rx() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let frames = vec![
        Frame::new(0x81, 1, 0, vec![]),
        Frame::new(0x91, 2, 0, body(&mut rng, 40)),
        Frame::new(0x91, 3, 0, vec![0x77; 600]),
        Frame::new(0x91, 4, 0, vec![0; 100]),
    ];
    for cpb in [4u16, 7] {
        let took = loopback(&frames, cpb);
        for (frame, &cycles) in frames.iter().zip(&took) {
            // The line time of the frame's bytes, up to its trailing delimiter (received by
            // UartRx in the middle of its stop bit); FrameTx may add little on top.
            let wire = frame.encode().len() as u64;
            let line = 10 * cpb as u64 * wire;
            assert!(cycles >= line - 10 * cpb as u64, "{cycles} < {line}");
            let blocks = wire / 254 + 1;
            assert!(
                cycles <= line + 300 * blocks + 40,
                "cpb {cpb}: {cycles} cycles for {wire} wire bytes ({line} line cycles)"
            );
            eprintln!(
                "cpb {cpb}: {wire} wire bytes in {cycles} cycles ({:.3} of line time)",
                cycles as f64 / line as f64
            );
        }
    }
}
