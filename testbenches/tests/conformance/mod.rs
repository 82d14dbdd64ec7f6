//! What the SimBoard conformance tests share: a SimBoard and the software device engine fed
//! the same commands, random valid commands, and the commands each status code must come back
//! for. Each test file uses a part of it.
#![allow(dead_code)]

use qtrain_driver::accelerator::{AccelError, Accelerator};
use qtrain_driver::device::{
    code, code_name, Command, DeviceEngine, EngineConfig, GemmDescriptor, StatusCode, Tensor,
    UpdateDescriptor, VectorOp,
};
use qtrain_driver::{SimBoard, SimBoardError};
use qtrain_model::{Rounding, UpdateParams};
use qtrain_sim::{DeviceSimOptions, SimError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Words of memory the random commands use (tensors, reads, writes); out-of-range commands
/// aim at the top of memory instead, and fail before writing.
pub const REGION: u32 = 3000;

/// The SimBoard of a shape built with `options`; `None` (reported) without Verilator.
pub fn open(rows: usize, cols: usize, options: DeviceSimOptions) -> Option<SimBoard> {
    match SimBoard::new(rows, cols, options) {
        Ok(b) => Some(b),
        Err(SimBoardError::Sim(SimError::ToolMissing(why))) => {
            eprintln!("SKIPPED: {why}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// The SimBoard and the reference engine, fed the same commands.
pub struct Pair {
    pub sim: SimBoard,
    pub model: DeviceEngine,
    pub mem_words: u32,
}

impl Pair {
    /// The pair of a SimBoard and an engine configured as its CAPABILITIES say.
    pub fn new(sim: SimBoard) -> Pair {
        let caps = sim.capabilities();
        let config = EngineConfig {
            mem_words: caps.mem_words,
            rows: caps.rows,
            cols: caps.cols,
            max_body: caps.max_body,
            max_k: caps.max_k,
            clock_hz: caps.clock_hz,
            baud: caps.baud,
            ops: caps.ops,
        };
        Pair::with_config(sim, config)
    }

    /// The pair of a SimBoard and an engine configured with `config`.
    pub fn with_config(sim: SimBoard, config: EngineConfig) -> Pair {
        let mut model = DeviceEngine::new(config);
        // The SimBoard's session began with HELLO; the engine counts it too.
        let hello = Command::Hello { version: 1 };
        assert_eq!(
            model.execute(code::HELLO, &hello.encode()).0,
            StatusCode::Ok
        );
        Pair {
            sim,
            model,
            mem_words: config.mem_words,
        }
    }

    /// Runs one raw command on both and asserts the same outcome; returns it.
    pub fn check(&mut self, kind: u8, body: Vec<u8>, what: &str) -> Result<Vec<u8>, AccelError> {
        let bound = std::time::Duration::from_millis(50);
        let got = self.sim.execute_raw(kind, body.clone(), 4096, bound);
        let (status, want) = self.model.execute(kind, &body);
        let want = match status {
            StatusCode::Ok => Ok(want),
            status => Err(AccelError::Device {
                command: code_name(kind),
                status,
            }),
        };
        let (got, want) = (mask(kind, got), mask(kind, want));
        assert_eq!(got, want, "{what}");
        got
    }

    pub fn command(&mut self, cmd: &Command) -> Result<Vec<u8>, AccelError> {
        let what = format!("{cmd:?}");
        self.check(cmd.code(), cmd.encode(), &what)
    }

    /// Reads `[addr, addr + n)` from the SimBoard and compares it with the engine's memory.
    pub fn same_memory(&mut self, addr: u32, n: u32) {
        let got = self.sim.read(addr, n as usize).expect("read back");
        let want = &self.model.memory()[addr as usize..(addr + n) as usize];
        let first = got.iter().zip(want).position(|(a, b)| a != b);
        assert!(
            first.is_none(),
            "memory differs first at word {}",
            addr as usize + first.unwrap_or(0)
        );
    }
}

/// Zeroes what is timing rather than result: GEMM `cycles`, STATUS `busy_cycles`.
pub fn mask(kind: u8, r: Result<Vec<u8>, AccelError>) -> Result<Vec<u8>, AccelError> {
    r.map(|mut body| {
        match kind {
            code::GEMM if body.len() == 4 => body.fill(0),
            code::STATUS if body.len() == 24 => body[8..16].fill(0),
            _ => {}
        }
        body
    })
}

/// Places `rows x cols` tensors in the region one after another, with random padding.
pub struct Placer<'a> {
    pub rng: &'a mut ChaCha8Rng,
    pub next: u32,
}

impl Placer<'_> {
    pub fn tensor(&mut self, rows: u16, cols: u16) -> Tensor {
        let stride = cols + [0, 0, 1, 3][self.rng.gen_range(0..4)];
        let t = Tensor {
            addr: self.next,
            stride,
        };
        self.next +=
            (u32::from(rows) - 1) * u32::from(stride) + u32::from(cols) + self.rng.gen_range(0..4);
        t
    }
}

pub fn rounding(rng: &mut ChaCha8Rng) -> Rounding {
    Rounding::ALL[rng.gen_range(0..3)]
}

pub fn random_gemm(rng: &mut ChaCha8Rng, max_dim: u16) -> GemmDescriptor {
    let (m, k, n) = (
        rng.gen_range(1..=max_dim),
        rng.gen_range(1..=max_dim),
        rng.gen_range(1..=max_dim),
    );
    let (trans_a, trans_b) = (rng.gen_bool(0.5), rng.gen_bool(0.5));
    let start = rng.gen_range(0..200);
    let mut p = Placer { rng, next: start };
    let a = if trans_a {
        p.tensor(k, m)
    } else {
        p.tensor(m, k)
    };
    let b = if trans_b {
        p.tensor(n, k)
    } else {
        p.tensor(k, n)
    };
    let c = p.tensor(m, n);
    let fl_a = rng.gen_range(4..=14);
    let fl_b = rng.gen_range(4..=14);
    let accumulate = rng.gen_bool(0.3);
    // With accumulate the shift FL_A + FL_B - FL_C must not be negative.
    let fl_c = if accumulate {
        rng.gen_range(0..=(fl_a + fl_b).min(15))
    } else {
        rng.gen_range(0..=15)
    };
    GemmDescriptor {
        a,
        b,
        c,
        m,
        k,
        n,
        trans_a,
        trans_b,
        accumulate,
        fl_a,
        fl_b,
        fl_c,
        rounding: rounding(rng),
        row_state: rng.gen::<u32>() | 1,
        col_state: rng.gen::<u32>() | 1,
    }
}

pub fn random_vector(rng: &mut ChaCha8Rng) -> VectorOp {
    let rows = rng.gen_range(1..=9);
    let cols = rng.gen_range(1..=9);
    let start = rng.gen_range(0..200);
    let mut p = Placer { rng, next: start };
    let x = p.tensor(rows, cols);
    let d = p.tensor(rows, cols);
    let b_addr = p.next;
    p.next += u32::from(cols);
    let y_other = p.tensor(rows, cols);
    // In place half of the time (y == x), as training does.
    let y = if rng.gen_bool(0.5) { x } else { y_other };
    let alpha = rng.gen_range(1..=600);
    let bits = rng.gen_range(1..=8);
    match rng.gen_range(0..6) {
        0 => VectorOp::BiasAdd {
            x,
            y,
            rows,
            cols,
            b_addr,
            fl_x: rng.gen_range(0..=15),
            fl_b: rng.gen_range(0..=15),
        },
        1 => VectorOp::Relu { x, y, rows, cols },
        2 => VectorOp::ReluMask {
            x,
            d,
            y: y_other,
            rows,
            cols,
        },
        3 => VectorOp::Qrelu {
            x,
            y,
            rows,
            cols,
            alpha,
            bits,
        },
        4 => VectorOp::QreluMask {
            x,
            d,
            y: y_other,
            rows,
            cols,
            alpha,
            bits,
        },
        _ => {
            let fl_w: u8 = rng.gen_range(6..=14);
            let fl_g: u8 = rng.gen_range(6..=14);
            let fl_eta = rng.gen_range(fl_w.saturating_sub(fl_g)..=fl_w.saturating_sub(fl_g) + 6);
            let w_min = rng.gen_range(-20000..0);
            VectorOp::Update(UpdateDescriptor {
                w: x,
                g: d,
                rows,
                cols,
                params: UpdateParams {
                    fl_w,
                    fl_g,
                    fl_eta,
                    eta_q: rng.gen_range(1..=u16::MAX),
                    rounding: rounding(rng),
                    grid_shift: rng.gen_range(0..=3),
                    grid_offset: rng.gen_range(-4..=4),
                    w_min,
                    w_max: rng.gen_range(0..20000),
                    row_state: rng.gen::<u32>() | 1,
                    col_state: rng.gen::<u32>() | 1,
                },
            })
        }
    }
}

/// Commands each status code must come back for, identically on both boards.
pub fn invalid_commands(rng: &mut ChaCha8Rng, mem_words: u32) -> Vec<(u8, Vec<u8>, &'static str)> {
    let mut g = random_gemm(rng, 4);
    let ok_gemm = g;
    let mut out = vec![
        (
            code::READ,
            vec![0; 5],
            "READ with a 5-byte body: BAD_LENGTH",
        ),
        (
            code::WRITE,
            vec![0; 5],
            "WRITE with an odd body: BAD_LENGTH",
        ),
        (code::STATUS, vec![1], "STATUS with a body: BAD_LENGTH"),
        (code::GEMM, vec![0; 39], "GEMM with 39 bytes: BAD_LENGTH"),
        (0x7F, vec![], "code 0x7F: UNKNOWN_COMMAND"),
        (0x36, vec![0; 8], "code 0x36: UNKNOWN_COMMAND"),
        (code::HELLO, vec![2], "HELLO version 2: BAD_VERSION"),
    ];
    out.push((
        code::READ,
        Command::Read {
            addr: mem_words - 3,
            count: 4,
        }
        .encode(),
        "READ past the end: OUT_OF_RANGE",
    ));
    out.push((
        code::WRITE,
        Command::Write {
            addr: mem_words - 1,
            words: vec![1, 2],
        }
        .encode(),
        "WRITE past the end: OUT_OF_RANGE",
    ));
    out.push((
        code::READ,
        Command::Read { addr: 0, count: 0 }.encode(),
        "READ of 0 words: BAD_ARGUMENT",
    ));
    g.c.addr = mem_words - 1;
    out.push((
        code::GEMM,
        Command::Gemm(g).encode(),
        "GEMM with C past the end",
    ));
    g = ok_gemm;
    g.k = 0;
    out.push((code::GEMM, Command::Gemm(g).encode(), "GEMM with K = 0"));
    g = ok_gemm;
    g.c = g.a;
    out.push((code::GEMM, Command::Gemm(g).encode(), "GEMM with C over A"));
    g = ok_gemm;
    g.fl_a = 16;
    out.push((code::GEMM, Command::Gemm(g).encode(), "GEMM with FL_A = 16"));
    g = ok_gemm;
    g.row_state = 0;
    out.push((
        code::GEMM,
        Command::Gemm(g).encode(),
        "GEMM with a zero LFSR state",
    ));
    let mut flags = Command::Gemm(ok_gemm).encode();
    flags[24] |= 0x08;
    out.push((code::GEMM, flags, "GEMM with an unknown flag"));
    let mut rnd = Command::Gemm(ok_gemm).encode();
    rnd[28] = 3;
    out.push((code::GEMM, rnd, "GEMM with rounding 3"));
    let x = Tensor {
        addr: 10,
        stride: 4,
    };
    out.push((
        code::QRELU,
        Command::Vector(VectorOp::Qrelu {
            x,
            y: x,
            rows: 2,
            cols: 4,
            alpha: 0,
            bits: 3,
        })
        .encode(),
        "QRELU with alpha 0",
    ));
    out.push((
        code::RELU,
        Command::Vector(VectorOp::Relu {
            x,
            y: Tensor {
                addr: 12,
                stride: 4,
            },
            rows: 2,
            cols: 4,
        })
        .encode(),
        "RELU with Y partly over X",
    ));
    out.push((
        code::RELU,
        Command::Vector(VectorOp::Relu {
            x,
            y: Tensor {
                addr: mem_words - 4,
                stride: 4,
            },
            rows: 2,
            cols: 4,
        })
        .encode(),
        "RELU with Y past the end",
    ));
    out
}

/// `steps` random commands (valid ones, and the [`invalid_commands`] plus `extra_invalid`) on
/// both, then the memory compared; `label` names the run in messages.
pub fn random_sequence(
    pair: &mut Pair,
    label: &str,
    seed: u64,
    steps: usize,
    extra_invalid: Vec<(u8, Vec<u8>, &'static str)>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Random contents first, so that every operation computes on non-zero data.
    let init: Vec<i16> = (0..REGION).map(|_| rng.gen_range(-3000..3000)).collect();
    let per = 2000.min((usize::from(pair.model.capabilities().max_body) - 4) / 2);
    for (i, chunk) in init.chunks(per).enumerate() {
        pair.command(&Command::Write {
            addr: (i * per) as u32,
            words: chunk.to_vec(),
        })
        .expect("initial write");
    }
    let mut invalid = invalid_commands(&mut rng, pair.mem_words);
    invalid.extend(extra_invalid);
    let mut ok = [0usize; 256];
    for step in 0..steps {
        let cmd = match rng.gen_range(0..100) {
            0..=11 => {
                let n = rng.gen_range(1..=200);
                let addr = rng.gen_range(0..REGION - n);
                Command::Write {
                    addr,
                    words: (0..n).map(|_| rng.gen()).collect(),
                }
            }
            12..=19 => {
                let n = rng.gen_range(1..=200);
                Command::Read {
                    addr: rng.gen_range(0..REGION - n),
                    count: n as u16,
                }
            }
            20..=49 => Command::Gemm(random_gemm(&mut rng, 12)),
            50..=79 => Command::Vector(random_vector(&mut rng)),
            80..=84 => Command::Status,
            85..=86 => Command::Reset,
            87..=88 => Command::Capabilities,
            _ => {
                let (kind, body, what) = invalid[rng.gen_range(0..invalid.len())].clone();
                let r = pair.check(kind, body, &format!("step {step}: {what}"));
                assert!(r.is_err(), "step {step}: {what} was accepted");
                continue;
            }
        };
        if pair.command(&cmd).is_ok() {
            ok[usize::from(cmd.code())] += 1;
        }
    }
    // Every kind of command the device implements succeeded at least once, or the sequence
    // proved little; a vector command it lacks never did.
    let ops = pair.model.capabilities().ops;
    for c in [
        code::WRITE,
        code::READ,
        code::GEMM,
        code::STATUS,
        code::RELU,
        code::UPDATE,
    ] {
        let missing =
            (code::BIAS_ADD..=code::UPDATE).contains(&c) && ops & (1 << (c - code::BIAS_ADD)) == 0;
        if missing {
            assert_eq!(
                ok[usize::from(c)],
                0,
                "{} ran without the unit",
                code_name(c)
            );
        } else {
            assert!(ok[usize::from(c)] > 0, "no successful {}", code_name(c));
        }
    }
    // Each invalid command once more, in order, so every status code is seen.
    for (kind, body, what) in invalid {
        assert!(pair.check(kind, body, what).is_err(), "{what} was accepted");
    }
    pair.same_memory(0, REGION + 400);
    let top = pair.mem_words - 64;
    pair.same_memory(top, 64);
    let c = pair.sim.counters();
    assert!(
        c.gemm_cycles > 0 && c.device_cycles > 0 && c.link_busy_cycles > 0,
        "{c:?}"
    );
    eprintln!(
        "{label} seed {seed}: {c:?}, link {:?}",
        pair.sim.link_stats()
    );
}
