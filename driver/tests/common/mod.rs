//! Shared builders: a `UsbBoard` whose far side is a `DeviceEngine` behind an emulated FT2232H,
//! over the in-memory transport with seeded faults.

#![allow(dead_code)]

use qtrain_driver::accelerator::{AccelError, UsbBoard};
use qtrain_driver::device::{DeviceEngine, EngineConfig, EnginePlug};
use qtrain_driver::ftdi::{Channel, Chip, Ftdi, UartConfig};
use qtrain_driver::link::LinkConfig;
use qtrain_driver::transport::{FaultConfig, FaultInjector, FtdiPeer, MemoryTransport};

/// The transport of an emulated board.
pub type Emulated = MemoryTransport<FtdiPeer<EnginePlug>>;

/// A connected board over a faulty (or clean) emulated USB link, behind an FT2232H.
pub fn usb_board(
    config: EngineConfig,
    seed: u64,
    faults: FaultConfig,
) -> Result<UsbBoard<Emulated>, AccelError> {
    usb_board_on(Chip::Ft2232h, config, seed, faults)
}

/// As [`usb_board`], behind a given bridge chip (its UART channel and top baud).
pub fn usb_board_on(
    chip: Chip,
    config: EngineConfig,
    seed: u64,
    faults: FaultConfig,
) -> Result<UsbBoard<Emulated>, AccelError> {
    let (channel, baud) = match chip {
        Chip::Ft2232h => (Channel::B, 12_000_000),
        Chip::Ft231x => (Channel::A, 3_000_000),
    };
    let plug = EnginePlug::new(DeviceEngine::new(config));
    let peer = FtdiPeer::new(chip, channel, plug);
    let transport = MemoryTransport::new(peer, FaultInjector::new(seed, faults));
    let ftdi = Ftdi::open(transport, chip, channel, &UartConfig::new(baud))
        .expect("the emulated chip opens");
    UsbBoard::connect(
        ftdi,
        LinkConfig {
            baud,
            ..LinkConfig::default()
        },
    )
}

/// The device engine at the far end of an emulated board.
pub fn far_engine(board: &mut UsbBoard<Emulated>) -> &DeviceEngine {
    board
        .link_mut()
        .pipe_mut()
        .transport()
        .peer_mut()
        .device()
        .engine()
}

/// The fault injector of an emulated board.
pub fn faults(board: &mut UsbBoard<Emulated>) -> &mut FaultInjector {
    board.link_mut().pipe_mut().transport().faults()
}

use qtrain_driver::device::{Command, GemmDescriptor, Tensor, UpdateDescriptor, VectorOp};
use qtrain_model::{Rounding, UpdateParams};
use rand::Rng;

/// A random placement of a `rows x cols` tensor; with `bad` it runs past the end of memory.
fn tensor<R: Rng>(rng: &mut R, mem: u32, rows: u16, cols: u16, bad: bool) -> Tensor {
    let stride = cols + rng.gen_range(0..3u16);
    let span = u32::from(rows - 1) * u32::from(stride) + u32::from(cols);
    let addr = if bad {
        mem - span + rng.gen_range(1..=span)
    } else {
        rng.gen_range(0..=mem - span)
    };
    Tensor { addr, stride }
}

fn rounding<R: Rng>(rng: &mut R) -> Rounding {
    Rounding::ALL[rng.gen_range(0..3)]
}

/// A random command for a device with `mem` words and `max_body` bytes. With `errors`, some
/// commands are out of range or have arguments outside their domain.
pub fn random_command<R: Rng>(rng: &mut R, mem: u32, max_body: u16, errors: bool) -> Command {
    let bad = errors && rng.gen_bool(0.1);
    let dim = |rng: &mut R| rng.gen_range(1..=8u16);
    match rng.gen_range(0..10) {
        0..=2 => {
            let n = rng.gen_range(1..=(usize::from(max_body) - 4) / 2);
            let addr = if bad {
                mem - rng.gen_range(0..n as u32)
            } else {
                rng.gen_range(0..=mem - n as u32)
            };
            let words = (0..n)
                .map(|_| rng.gen::<i16>() >> rng.gen_range(0..15))
                .collect();
            Command::Write { addr, words }
        }
        3..=4 => {
            let count = rng.gen_range(1..=max_body / 2);
            let addr = if bad {
                mem - rng.gen_range(0..u32::from(count))
            } else {
                rng.gen_range(0..=mem - u32::from(count))
            };
            Command::Read { addr, count }
        }
        5..=6 => {
            let (m, k, n) = (dim(rng), dim(rng), dim(rng));
            let (trans_a, trans_b) = (rng.gen(), rng.gen());
            let (ar, ac) = if trans_a { (k, m) } else { (m, k) };
            let (br, bc) = if trans_b { (n, k) } else { (k, n) };
            let fl_a = rng.gen_range(0..=15);
            let fl_b = rng.gen_range(0..=15);
            let fl_c = rng.gen_range(0..=15u8);
            let c_bad = bad && rng.gen();
            Command::Gemm(GemmDescriptor {
                a: tensor(rng, mem, ar, ac, false),
                b: tensor(rng, mem, br, bc, false),
                c: tensor(rng, mem, m, n, c_bad),
                m,
                k,
                n,
                trans_a,
                trans_b,
                accumulate: rng.gen(),
                fl_a,
                fl_b,
                fl_c: if bad { fl_c + 1 } else { fl_c.min(fl_a + fl_b) },
                rounding: rounding(rng),
                row_state: rng.gen_range(1..=u32::MAX),
                col_state: rng.gen_range(1..=u32::MAX),
            })
        }
        7 => {
            let (rows, cols) = (dim(rng), dim(rng));
            let fl_w = rng.gen_range(0..=15);
            let fl_g = rng.gen_range(0..=15);
            let lo = (i32::from(fl_w) - i32::from(fl_g)).max(0);
            let hi = (30 + i32::from(fl_w) - i32::from(fl_g)).min(31);
            let fl_eta = rng.gen_range(lo..=hi) as u8;
            let s = i32::from(fl_g) + i32::from(fl_eta) - i32::from(fl_w);
            let grid_shift = rng.gen_range(0..=(30 - s).min(15) as u8);
            let a = rng.gen::<i16>() >> 4;
            let b = rng.gen::<i16>() >> 4;
            let params = UpdateParams {
                fl_w,
                fl_g,
                fl_eta,
                eta_q: rng.gen(),
                rounding: rounding(rng),
                grid_shift: if bad { 16 } else { grid_shift },
                grid_offset: rng.gen::<i16>() >> 8,
                w_min: a.min(b),
                w_max: a.max(b),
                row_state: rng.gen_range(1..=u32::MAX),
                col_state: rng.gen_range(1..=u32::MAX),
            };
            Command::Vector(VectorOp::Update(UpdateDescriptor {
                w: tensor(rng, mem, rows, cols, false),
                g: tensor(rng, mem, rows, cols, false),
                rows,
                cols,
                params,
            }))
        }
        _ => {
            let (rows, cols) = (dim(rng), dim(rng));
            let x = tensor(rng, mem, rows, cols, false);
            let d = tensor(rng, mem, rows, cols, false);
            let y = tensor(rng, mem, rows, cols, bad);
            let alpha = rng.gen_range(1..=4000);
            let bits = rng.gen_range(1..=8);
            Command::Vector(match rng.gen_range(0..5) {
                0 => VectorOp::BiasAdd {
                    x,
                    y,
                    rows,
                    cols,
                    b_addr: rng.gen_range(0..mem - u32::from(cols)),
                    fl_x: rng.gen_range(0..=15),
                    fl_b: rng.gen_range(0..=15),
                },
                1 => VectorOp::Relu { x, y, rows, cols },
                2 => VectorOp::ReluMask {
                    x,
                    d,
                    y,
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
                _ => VectorOp::QreluMask {
                    x,
                    d,
                    y,
                    rows,
                    cols,
                    alpha,
                    bits,
                },
            })
        }
    }
}
