//! The command engine against the software engine (driver/src/device/engine.rs): the same
//! frames into both, byte-identical responses (but for the timing fields), memory compared
//! through READ commands.

use super::CommandEngine;
use crate::device::DeviceGeometry;
use qtrain_driver::device::{
    code, Command, DeviceEngine, EngineConfig, GemmDescriptor, Tensor, UpdateDescriptor, VectorOp,
};
use qtrain_driver::link::{Frame, FrameError};
use qtrain_model::{Rounding, UpdateParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_hdl::prelude::*;

const CLOCK_HZ: u32 = 25_000_000;
const BAUD: u32 = 3_000_000;

/// The engine with a model of FrameRx (buffer, counters) and FrameTx (buffer) around it, and
/// the software engine beside it.
struct Bench<const R: usize, const C: usize> {
    uut: Box<CommandEngine<R, C>>,
    reference: DeviceEngine,
    tx: Vec<u8>,
    counters: [u16; 3],
    seq: u16,
    /// Cycles of the last command, frame_ready to release.
    cycles: usize,
}

impl<const R: usize, const C: usize> Bench<R, C> {
    fn new() -> Self {
        Self::with_geometry(DeviceGeometry::SIM)
    }

    /// The engine of a device of `geometry`, and the software engine with the same limits.
    fn with_geometry(geometry: DeviceGeometry) -> Self {
        let mut uut = Box::new(CommandEngine::<R, C>::new(&geometry));
        uut.connect_all();
        uut.clock_hz.next = bits(u64::from(CLOCK_HZ));
        uut.baud.next = bits(u64::from(BAUD));
        let reference = DeviceEngine::new(EngineConfig {
            mem_words: geometry.mem_words() as u32,
            rows: R as u8,
            cols: C as u8,
            max_body: geometry.max_body() as u16,
            max_k: geometry.max_k() as u32,
            clock_hz: CLOCK_HZ,
            baud: BAUD,
            ops: geometry.ops(),
        });
        Bench {
            uut,
            reference,
            tx: vec![0; 1 << 13],
            counters: [0; 3],
            seq: 0,
            cycles: 0,
        }
    }

    /// A framing error seen by the receiver, on both sides.
    fn frame_error(&mut self, crc: bool) {
        let (err, i) = if crc {
            (FrameError::BadCrc, 0)
        } else {
            (FrameError::TooShort(3), 1)
        };
        self.reference.note_frame_error(&err);
        self.counters[i] += 1;
    }

    /// Runs one decoded frame (header + body) through the engine; returns its response
    /// (header + body) and checks that the engine releases the frame and goes idle.
    fn run_raw(&mut self, raw: &[u8]) -> Vec<u8> {
        let uut = &mut self.uut;
        uut.frame_ready.next = true;
        uut.frame_len.next = bits(raw.len() as u64);
        uut.tx_busy.next = false;
        let mut rd = 0usize;
        let mut response = None;
        let mut released_at = None;
        for cycle in 0..2_000_000 {
            uut.rd_data.next = bits(u64::from(raw.get(rd).copied().unwrap_or(0)));
            uut.crc_errors.next = bits(u64::from(self.counters[0]));
            uut.frame_errors.next = bits(u64::from(self.counters[1]));
            uut.overruns.next = bits(u64::from(self.counters[2]));
            assert!(simulate(uut.as_mut(), 1000), "the engine did not settle");
            rd = uut.rd_addr.val().to_u64() as usize;
            if uut.wr_en.val() {
                self.tx[uut.wr_addr.val().to_u64() as usize] = uut.wr_data.val().to_u8();
            }
            if uut.send.val() {
                assert!(response.is_none(), "two sends for one frame");
                let len = uut.len.val().to_u64() as usize;
                response = Some(self.tx[..len].to_vec());
            }
            if uut.clear_counters.val() {
                self.counters = [0; 3];
            }
            let release = uut.frame_release.val();
            clock_cycle!(uut.as_mut());
            if release {
                assert!(released_at.is_none(), "two releases for one frame");
                uut.frame_ready.next = false;
                released_at = Some(cycle);
            }
            if released_at.is_some_and(|r| cycle == r + 2) {
                break;
            }
        }
        self.cycles = released_at.expect("the engine never released the frame");
        response.expect("the engine never sent a response")
    }

    /// Sends `kind`/`body` with `seq` to both engines and compares the responses; returns the
    /// response's status and body.
    fn exchange_seq(&mut self, kind: u8, seq: u16, body: &[u8]) -> (u8, Vec<u8>) {
        let mut raw = vec![1, kind];
        raw.extend(seq.to_le_bytes());
        raw.extend((body.len() as u16).to_le_bytes());
        raw.extend([0, 0]);
        raw.extend(body);
        let mut got = self.run_raw(&raw);
        let want = self
            .reference
            .handle_frame(&Frame::new(kind, seq, 0, body.to_vec()));
        let mut expect = vec![1, want.header.kind];
        expect.extend(want.header.seq.to_le_bytes());
        expect.extend((want.body.len() as u16).to_le_bytes());
        expect.extend([want.header.status, 0]);
        expect.extend(&want.body);
        // Timing fields: GEMM cycles and STATUS busy_cycles are the device's own clock.
        if want.header.status == 0 && got.len() == expect.len() {
            let timing = match want.header.kind & !code::RESPONSE {
                code::GEMM => 8..12,
                code::STATUS => 16..24,
                _ => 0..0,
            };
            got[timing.clone()].fill(0);
            expect[timing].fill(0);
        }
        assert_eq!(
            got, expect,
            "kind {kind:#04x} seq {seq} body {body:02x?}: HDL response differs from engine.rs"
        );
        (want.header.status, want.body)
    }

    /// [`Self::exchange_seq`] with the next seq.
    fn exchange(&mut self, kind: u8, body: &[u8]) -> (u8, Vec<u8>) {
        self.seq = self.seq.wrapping_add(1);
        self.exchange_seq(kind, self.seq, body)
    }

    /// A typed command; asserts the status it gets.
    fn command(&mut self, cmd: &Command, status: u8) {
        let (got, _) = self.exchange(cmd.code(), &cmd.encode());
        assert_eq!(got, status, "{cmd:?}");
    }

    /// A typed command with one body byte replaced; asserts the status it gets.
    fn patched(&mut self, cmd: &Command, at: usize, byte: u8, status: u8) {
        let mut body = cmd.encode();
        body[at] = byte;
        let (got, _) = self.exchange(cmd.code(), &body);
        assert_eq!(got, status, "{cmd:?} with byte {at} = {byte}");
    }

    /// Compares `count` words of memory from `addr` (through READ on both sides).
    fn compare_memory(&mut self, addr: u32, count: u32) {
        let mut a = addr;
        while a < addr + count {
            let n = (addr + count - a).min(2048) as u16;
            let (status, _) = self.exchange(code::READ, &read(a, n).encode());
            assert_eq!(status, 0);
            a += u32::from(n);
        }
    }

    /// Writes random words at `addr` on both sides.
    fn fill(&mut self, rng: &mut ChaCha8Rng, addr: u32, count: usize) {
        let words = (0..count).map(|_| rng.gen()).collect();
        self.command(&Command::Write { addr, words }, 0);
    }
}

fn read(addr: u32, count: u16) -> Command {
    Command::Read { addr, count }
}

fn t(addr: u32, stride: u16) -> Tensor {
    Tensor { addr, stride }
}

const OK: u8 = 0;
const UNKNOWN_COMMAND: u8 = 2;
const OUT_OF_RANGE: u8 = 3;
const BAD_ARGUMENT: u8 = 4;
const BAD_VERSION: u8 = 6;

#[test]
fn control_commands_seq_memory_and_link_counters() {
    let mut b = Bench::<1, 1>::new();
    b.command(&Command::Hello { version: 1 }, OK);
    b.command(&Command::Hello { version: 2 }, BAD_VERSION);
    b.exchange(code::HELLO, &[1, 0]);
    b.command(&Command::Capabilities, OK);
    b.exchange(code::CAPABILITIES, &[0]);
    b.frame_error(true);
    b.frame_error(false);
    b.frame_error(false);
    b.command(&Command::Status, OK);
    for kind in [0x00, 0x05, 0x12, 0x21, 0x36, 0x7F, 0x81, 0x83, 0xFF] {
        b.exchange(kind, &[]);
    }
    b.exchange(0x90, &[1, 2, 3]);
    b.command(&Command::Status, OK);
    b.exchange(code::STATUS, &[0, 0]);
    b.command(&Command::Status, OK);

    // A retry (same seq) is answered from memory, whatever its body: not executed again.
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    b.fill(&mut rng, 100, 8);
    let again = Command::Write {
        addr: 100,
        words: vec![7; 8],
    };
    b.exchange_seq(code::WRITE, b.seq, &again.encode());
    b.exchange_seq(code::STATUS, b.seq, &[]);
    b.compare_memory(100, 8);
    // HELLO and RESET always execute; a successful one leaves nothing to replay.
    let s = b.seq;
    b.exchange_seq(code::HELLO, s, &[1]);
    b.exchange_seq(code::CAPABILITIES, s, &[]);
    b.exchange_seq(code::RESET, s + 1, &[]);
    b.exchange_seq(code::RESET, s + 1, &[]);
    b.exchange_seq(code::STATUS, s + 1, &[]);
    b.exchange_seq(code::STATUS, s + 1, &[]);
    // A failed RESET is remembered like any other command.
    b.exchange_seq(code::RESET, s + 2, &[9]);
    b.exchange_seq(code::STATUS, s + 2, &[]);
    b.command(&Command::Reset, OK);
    b.command(&Command::Status, OK);
}

#[test]
fn write_and_read_with_their_rejections() {
    let mut b = Bench::<1, 1>::new();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    b.fill(&mut rng, 0, 2046);
    assert!(b.cycles < 2 * 2046 + 120, "WRITE took {} cycles", b.cycles);
    b.fill(&mut rng, 65535, 1);
    b.fill(&mut rng, 65530, 6);
    b.compare_memory(0, 2046);
    b.compare_memory(65530, 6);
    b.command(&read(0, 2048), OK);
    b.command(&read(65535, 1), OK);
    for (addr, n) in [
        (65535u32, 2usize),
        (65536, 1),
        (u32::MAX, 1),
        (0xFFFF_0000, 3),
    ] {
        let words = (0..n).map(|_| rng.gen()).collect();
        b.command(&Command::Write { addr, words }, OUT_OF_RANGE);
    }
    b.exchange(code::WRITE, &[0, 0, 0, 0]);
    b.exchange(code::WRITE, &[0, 0, 0, 0, 1]);
    b.exchange(code::WRITE, &[0, 0, 0, 0, 1, 2, 3]);
    b.command(&read(0, 0), BAD_ARGUMENT);
    b.command(&read(0, 2049), BAD_ARGUMENT);
    b.command(&read(u32::MAX, 0), BAD_ARGUMENT);
    b.command(&read(65535, 2), OUT_OF_RANGE);
    b.command(&read(u32::MAX, 2), OUT_OF_RANGE);
    b.exchange(code::READ, &[0, 0, 0, 0, 1]);
    b.exchange(code::READ, &[0, 0, 0, 0, 1, 0, 0]);
    b.compare_memory(0, 8);
}

fn gemm(m: u16, k: u16, n: u16) -> GemmDescriptor {
    GemmDescriptor {
        a: t(1000, k),
        b: t(2000, n),
        c: t(3000, n),
        m,
        k,
        n,
        trans_a: false,
        trans_b: false,
        accumulate: false,
        fl_a: 10,
        fl_b: 9,
        fl_c: 8,
        rounding: Rounding::Stochastic,
        row_state: 0x1234_5678,
        col_state: 0x9ABC_DEF0,
    }
}

#[test]
fn gemm_runs_and_every_rejection_matches() {
    let mut b = Bench::<2, 2>::new();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    b.fill(&mut rng, 1000, 64);
    b.fill(&mut rng, 2000, 64);
    b.fill(&mut rng, 3000, 64);
    let g = gemm(3, 4, 3);
    b.command(&Command::Gemm(g), OK);
    b.compare_memory(3000, 16);
    let acc = GemmDescriptor {
        accumulate: true,
        trans_a: true,
        trans_b: true,
        a: t(1000, 3),
        b: t(2000, 5),
        ..gemm(3, 5, 2)
    };
    b.command(&Command::Gemm(acc), OK);
    b.compare_memory(3000, 16);

    let bad = |f: &dyn Fn(&mut GemmDescriptor)| {
        let mut d = gemm(3, 4, 3);
        f(&mut d);
        Command::Gemm(d)
    };
    for (cmd, status) in [
        (bad(&|d| d.m = 0), BAD_ARGUMENT),
        (bad(&|d| d.k = 0), BAD_ARGUMENT),
        (bad(&|d| d.n = 0), BAD_ARGUMENT),
        (bad(&|d| d.a.stride = 3), BAD_ARGUMENT),
        (bad(&|d| d.b.stride = 2), BAD_ARGUMENT),
        (bad(&|d| d.c.stride = 2), BAD_ARGUMENT),
        (bad(&|d| d.fl_a = 16), BAD_ARGUMENT),
        (bad(&|d| d.fl_c = 200), BAD_ARGUMENT),
        (bad(&|d| d.row_state = 0), BAD_ARGUMENT),
        (bad(&|d| d.col_state = 0), BAD_ARGUMENT),
        (
            bad(&|d| {
                d.accumulate = true;
                d.fl_c = 15;
                d.fl_a = 3;
                d.fl_b = 4;
            }),
            BAD_ARGUMENT,
        ),
        (
            bad(&|d| {
                d.m = 1;
                d.k = 16385;
                d.a.stride = 16385;
                d.b.stride = 3;
            }),
            OUT_OF_RANGE,
        ),
        (bad(&|d| d.a.addr = 65530), OUT_OF_RANGE),
        (bad(&|d| d.b.addr = u32::MAX), OUT_OF_RANGE),
        (bad(&|d| d.c.addr = 65536 - 8), OUT_OF_RANGE),
        (bad(&|d| d.c.stride = 40000), OUT_OF_RANGE),
        // The range test keeps 17 bits and a flag for the rest: C exactly 2^17 or 2^32 - 2^17
        // words past A shares A's low bits, and is out of range, not an overlap.
        (
            bad(&|d| {
                d.c = d.a;
                d.c.addr += 1 << 17;
            }),
            OUT_OF_RANGE,
        ),
        (
            bad(&|d| {
                d.c = d.a;
                d.c.addr = d.c.addr.wrapping_sub(1 << 17);
            }),
            OUT_OF_RANGE,
        ),
        // A tensor whose end wraps past 2^17 in the 17-bit sum.
        (bad(&|d| d.a.addr = (1 << 17) - 4), OUT_OF_RANGE),
        (
            bad(&|d| {
                d.b.addr = (1 << 17) - 3000;
                d.b.stride = 60000;
            }),
            OUT_OF_RANGE,
        ),
        // Out of range beats an overlap, and a bad argument beats both.
        (
            bad(&|d| {
                d.c.addr = 1000;
                d.b.addr = 70000;
            }),
            OUT_OF_RANGE,
        ),
        (
            bad(&|d| {
                d.c.addr = 1000;
                d.fl_b = 99;
            }),
            BAD_ARGUMENT,
        ),
        (bad(&|d| d.c = d.a), BAD_ARGUMENT),
        (bad(&|d| d.c.addr = 1011), BAD_ARGUMENT),
        (bad(&|d| d.c.addr = 1012), OK),
        (bad(&|d| d.c.addr = 2000 - 8), BAD_ARGUMENT),
        (bad(&|d| d.c.addr = 2000 - 9), OK),
    ] {
        b.command(&cmd, status);
    }
    let g = Command::Gemm(gemm(2, 2, 2));
    b.patched(&g, 24, 0x08, BAD_ARGUMENT);
    b.patched(&g, 24, 0x80, BAD_ARGUMENT);
    b.patched(&g, 28, 3, BAD_ARGUMENT);
    b.patched(&g, 29, 0xFF, OK);
    b.patched(&g, 31, 0xFF, OK);
    b.exchange(code::GEMM, &g.encode()[..39]);
    b.compare_memory(1000, 2100);
}

/// BIAS_ADD's x, y, rows, cols, b_addr, fl_x, fl_b.
type BiasArgs = (Tensor, Tensor, u16, u16, u32, u8, u8);

fn update(rows: u16, cols: u16) -> UpdateDescriptor {
    UpdateDescriptor {
        w: t(500, cols + 1),
        g: t(600, cols),
        rows,
        cols,
        params: UpdateParams {
            fl_w: 12,
            fl_g: 10,
            fl_eta: 8,
            eta_q: 77,
            rounding: Rounding::Stochastic,
            grid_shift: 1,
            grid_offset: -3,
            w_min: -20000,
            w_max: 20000,
            row_state: 0xACE1_0001,
            col_state: 0x0BAD_F00D,
        },
    }
}

#[test]
fn vector_commands_and_their_rejections() {
    let mut b = Bench::<1, 1>::new();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    b.fill(&mut rng, 0, 800);
    let (x, y, d) = (t(10, 5), t(100, 4), t(200, 6));
    let ok = [
        VectorOp::BiasAdd {
            x,
            y,
            rows: 3,
            cols: 4,
            b_addr: 300,
            fl_x: 9,
            fl_b: 12,
        },
        VectorOp::Relu {
            x,
            y: x,
            rows: 3,
            cols: 4,
        },
        VectorOp::ReluMask {
            x,
            d,
            y,
            rows: 3,
            cols: 4,
        },
        VectorOp::Qrelu {
            x,
            y,
            rows: 2,
            cols: 3,
            alpha: 300,
            bits: 3,
        },
        VectorOp::QreluMask {
            x,
            d,
            y: d,
            rows: 3,
            cols: 4,
            alpha: 1000,
            bits: 2,
        },
        VectorOp::Update(update(3, 4)),
    ];
    for op in ok {
        b.command(&Command::Vector(op), OK);
        b.compare_memory(0, 320);
        b.compare_memory(500, 112);
    }

    let bias = |f: &dyn Fn(&mut BiasArgs)| {
        let mut v = (x, y, 3u16, 4u16, 300u32, 9u8, 12u8);
        f(&mut v);
        Command::Vector(VectorOp::BiasAdd {
            x: v.0,
            y: v.1,
            rows: v.2,
            cols: v.3,
            b_addr: v.4,
            fl_x: v.5,
            fl_b: v.6,
        })
    };
    for (cmd, status) in [
        (bias(&|v| v.2 = 0), BAD_ARGUMENT),
        (bias(&|v| v.3 = 0), BAD_ARGUMENT),
        (bias(&|v| v.0.stride = 3), BAD_ARGUMENT),
        (bias(&|v| v.5 = 16), BAD_ARGUMENT),
        (bias(&|v| v.6 = 16), BAD_ARGUMENT),
        (bias(&|v| v.1.addr = 65534), OUT_OF_RANGE),
        (bias(&|v| v.4 = 65534), OUT_OF_RANGE),
        (bias(&|v| v.1.addr = 12), BAD_ARGUMENT),
        (bias(&|v| v.1 = v.0), OK),
        (bias(&|v| v.4 = 100 + 2 * 4 + 3), BAD_ARGUMENT),
        (bias(&|v| v.4 = 100 + 2 * 4 + 4), OK),
        // engine.rs checks y against x before the bias range.
        (
            bias(&|v| {
                v.1.addr = 12;
                v.4 = 65534;
            }),
            BAD_ARGUMENT,
        ),
    ] {
        b.command(&cmd, status);
    }

    let qrelu = |alpha: i16, bits: u8| {
        Command::Vector(VectorOp::QreluMask {
            x,
            d,
            y,
            rows: 3,
            cols: 4,
            alpha,
            bits,
        })
    };
    for (cmd, status) in [
        (qrelu(0, 3), BAD_ARGUMENT),
        (qrelu(-5, 3), BAD_ARGUMENT),
        (qrelu(5, 0), BAD_ARGUMENT),
        (qrelu(5, 9), BAD_ARGUMENT),
        (qrelu(i16::MAX, 8), OK),
    ] {
        b.command(&cmd, status);
    }
    let mask = |d: Tensor, y: Tensor| {
        Command::Vector(VectorOp::ReluMask {
            x,
            d,
            y,
            rows: 3,
            cols: 4,
        })
    };
    for (cmd, status) in [
        (mask(t(200, 3), y), BAD_ARGUMENT),
        (mask(d, t(100, 3)), BAD_ARGUMENT),
        (mask(d, t(65530, 4)), OUT_OF_RANGE),
        (mask(d, t(200 + 2 * 6 + 3, 4)), BAD_ARGUMENT),
        (mask(d, t(200 + 2 * 6 + 4, 4)), OK),
        (mask(d, x), OK),
        (mask(d, t(10, 6)), BAD_ARGUMENT),
    ] {
        b.command(&cmd, status);
    }

    // Spans, not words: interleaved rows that share no word still overlap.
    let relu = |x: Tensor, y: Tensor| {
        Command::Vector(VectorOp::Relu {
            x,
            y,
            rows: 2,
            cols: 4,
        })
    };
    b.command(&relu(t(400, 8), t(404, 8)), BAD_ARGUMENT);
    b.command(&relu(t(400, 8), t(412, 8)), OK);

    let upd = |f: &dyn Fn(&mut UpdateDescriptor)| {
        let mut u = update(3, 4);
        f(&mut u);
        Command::Vector(VectorOp::Update(u))
    };
    for (cmd, status) in [
        (upd(&|u| u.rows = 0), BAD_ARGUMENT),
        (upd(&|u| u.g.stride = 3), BAD_ARGUMENT),
        (upd(&|u| u.params.fl_w = 16), BAD_ARGUMENT),
        (upd(&|u| u.params.fl_g = 16), BAD_ARGUMENT),
        (upd(&|u| u.params.fl_eta = 32), BAD_ARGUMENT),
        (upd(&|u| u.params.grid_shift = 16), BAD_ARGUMENT),
        (upd(&|u| u.params.fl_w = 15), OK),
        (
            upd(&|u| {
                u.params.fl_w = 15;
                u.params.fl_g = 0;
                u.params.fl_eta = 14;
            }),
            BAD_ARGUMENT,
        ),
        (
            upd(&|u| {
                u.params.fl_w = 0;
                u.params.fl_g = 15;
                u.params.fl_eta = 15;
                u.params.grid_shift = 0;
            }),
            OK,
        ),
        (
            upd(&|u| {
                u.params.fl_w = 0;
                u.params.fl_g = 15;
                u.params.fl_eta = 16;
                u.params.grid_shift = 0;
            }),
            BAD_ARGUMENT,
        ),
        (
            upd(&|u| {
                u.params.fl_w = 0;
                u.params.fl_g = 15;
                u.params.fl_eta = 14;
                u.params.grid_shift = 2;
            }),
            BAD_ARGUMENT,
        ),
        (
            upd(&|u| {
                u.params.w_min = 5;
                u.params.w_max = -5;
            }),
            BAD_ARGUMENT,
        ),
        (
            upd(&|u| {
                u.params.w_min = -5;
                u.params.w_max = -5;
            }),
            OK,
        ),
        (upd(&|u| u.params.row_state = 0), BAD_ARGUMENT),
        (upd(&|u| u.params.col_state = 0), BAD_ARGUMENT),
        (upd(&|u| u.g = u.w), OK),
        (upd(&|u| u.g.addr = 501), BAD_ARGUMENT),
        (upd(&|u| u.w.addr = 65534), OUT_OF_RANGE),
    ] {
        b.command(&cmd, status);
    }
    let u = Command::Vector(VectorOp::Update(update(2, 2)));
    b.patched(&u, 19, 3, BAD_ARGUMENT);
    b.patched(&u, 23, 0xFF, OK);
    b.patched(&u, 30, 0xFF, OK);
    let q = Command::Vector(VectorOp::Qrelu {
        x,
        y,
        rows: 1,
        cols: 1,
        alpha: 1,
        bits: 1,
    });
    b.patched(&q, 19, 0xFF, OK);
    for (kind, len) in [
        (0x30u8, 22usize),
        (0x31, 16),
        (0x32, 22),
        (0x33, 20),
        (0x34, 26),
        (0x35, 40),
    ] {
        b.exchange(kind, &vec![0; len - 1]);
        b.exchange(kind, &vec![0; len + 1]);
    }
    b.compare_memory(0, 800);
}

#[test]
fn a_gemm_only_device_knows_no_vector_command_and_still_runs_gemms() {
    let geometry = DeviceGeometry::new(4096, 256, 512)
        .expect("a valid geometry")
        .gemm_only();
    let mut b = Bench::<1, 1>::with_geometry(geometry);
    let (status, caps) = b.exchange(code::CAPABILITIES, &[]);
    assert_eq!(status, OK);
    assert_eq!(&caps[24..28], &[0, 0, 0, 0], "CAPABILITIES ops");
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    b.fill(&mut rng, 0, 200);
    let (x, y) = (t(10, 5), t(100, 5));
    let ops = [
        VectorOp::BiasAdd {
            x,
            y,
            rows: 3,
            cols: 4,
            b_addr: 150,
            fl_x: 9,
            fl_b: 12,
        },
        VectorOp::Relu {
            x,
            y,
            rows: 3,
            cols: 4,
        },
        VectorOp::ReluMask {
            x,
            d: x,
            y,
            rows: 3,
            cols: 4,
        },
        VectorOp::Qrelu {
            x,
            y,
            rows: 3,
            cols: 4,
            alpha: 40,
            bits: 2,
        },
        VectorOp::QreluMask {
            x,
            d: x,
            y,
            rows: 3,
            cols: 4,
            alpha: 40,
            bits: 2,
        },
    ];
    for op in ops {
        b.command(&Command::Vector(op), UNKNOWN_COMMAND);
    }
    b.command(
        &Command::Vector(VectorOp::Update(update(3, 4))),
        UNKNOWN_COMMAND,
    );
    // The body limit comes first, as for any command.
    let (status, _) = b.exchange(code::UPDATE, &[0; 513]);
    assert_eq!(status, 1, "BAD_LENGTH");
    b.command(&Command::Gemm(gemm(5, 7, 3)), OK);
    // READs of at most max_body / 2 = 256 words.
    b.compare_memory(0, 200);
    b.compare_memory(200, 200);
    b.compare_memory(3000, 15);
}
