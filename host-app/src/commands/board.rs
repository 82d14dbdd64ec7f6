//! `qtrain devices`, `qtrain ping` and `qtrain gemm`: talking to a board through the driver's
//! `Accelerator` API.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use qtrain_driver::accelerator::{Accelerator, ModelBoard, UsbBoard};
use qtrain_driver::device::{DeviceEngine, EngineConfig, EnginePlug, GemmDescriptor, Tensor};
use qtrain_driver::ftdi::{self, Ftdi, UartConfig};
use qtrain_driver::link::LinkConfig;
use qtrain_driver::transport::rusb::{udev_hint, RusbTransport};
use qtrain_driver::transport::{FaultInjector, FtdiPeer, MemoryTransport};
use qtrain_driver::SimBoard;
use qtrain_model::{GemmParams, Matrix};
use qtrain_sim::DeviceSimOptions;

use crate::array_shape::ArrayShape;

use crate::gemm_spec::{GemmSpec, Operand};
use crate::operands;

/// Which board to talk to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The reference device engine in this process.
    Model,
    /// The first attached board over USB.
    Usb,
    /// The Verilated device top behind a simulated UART (cycle-accurate; see --array).
    Sim,
    /// The whole USB stack against an emulated FTDI bridge and device engine (for tests).
    Emulated,
}

/// Arguments of `qtrain ping`.
#[derive(Args)]
pub struct PingArgs {
    /// Board to talk to.
    #[arg(long, value_enum, default_value = "usb")]
    backend: Backend,
    /// Array shape of the simulated device (--backend sim, default 4x4) or of the model's
    /// capabilities (--backend model).
    #[arg(long)]
    array: Option<ArrayShape>,
}

/// Arguments of `qtrain gemm`.
#[derive(Args)]
pub struct GemmArgs {
    /// Board to run on.
    #[arg(long, value_enum, default_value = "usb")]
    backend: Backend,
    /// Array shape of the simulated device (--backend sim, default 4x4) or of the model's
    /// capabilities (--backend model). Results do not depend on it.
    #[arg(long)]
    array: Option<ArrayShape>,
    /// Rows of op(A) and C.
    #[arg(long, default_value_t = 64)]
    m: usize,
    /// Columns of op(A), rows of op(B).
    #[arg(long, default_value_t = 64)]
    k: usize,
    /// Columns of op(B) and C.
    #[arg(long, default_value_t = 64)]
    n: usize,
    #[command(flatten)]
    pub spec: GemmSpec,
}

/// `qtrain devices`: lists attached boards, or says why there are none. Exit 0 either way.
pub fn devices() -> anyhow::Result<i32> {
    match ftdi::list_devices() {
        Ok(list) if list.is_empty() => {
            println!("no qtrain board attached (looked for iCEBreaker 0403:6010, ULX3S 0403:6015)");
            if let Some(hint) = ftdi::empty_list_hint() {
                println!("{hint}");
            }
            println!(
                "if a board is plugged in but not listed or not openable: {}",
                udev_hint()
            );
        }
        Ok(list) => {
            for d in list {
                println!("{d}");
            }
        }
        Err(e) => println!("cannot list USB devices: {e}"),
    }
    Ok(0)
}

/// Opens a board of the given kind; HELLO has been exchanged when it returns.
pub fn open(backend: Backend) -> anyhow::Result<Box<dyn Accelerator>> {
    open_with(backend, None)
}

/// The array a simulated device gets without `--array`: builds quickly, and is the shape the
/// model reports by default.
pub const DEFAULT_SIM_ARRAY: ArrayShape = ArrayShape { rows: 4, cols: 4 };

/// [`open`], with the array shape of a simulated device (or of the model's capabilities).
/// USB and emulated boards have their own array; `array` is refused for them.
pub fn open_with(
    backend: Backend,
    array: Option<ArrayShape>,
) -> anyhow::Result<Box<dyn Accelerator>> {
    if array.is_some() && matches!(backend, Backend::Usb | Backend::Emulated) {
        bail!("--array applies to --backend sim and model; a {backend:?} board has its own");
    }
    match backend {
        Backend::Model => {
            let mut config = EngineConfig::default();
            if let Some(a) = array {
                config.rows = a.rows as u8;
                config.cols = a.cols as u8;
            }
            let mut board = ModelBoard::new(config);
            board.hello()?;
            Ok(Box::new(board))
        }
        Backend::Sim => {
            let a = array.unwrap_or(DEFAULT_SIM_ARRAY);
            let board = SimBoard::new(a.rows, a.cols, DeviceSimOptions::default())
                .with_context(|| format!("opening the simulated {a} device"))?;
            Ok(Box::new(board))
        }
        Backend::Emulated => {
            let plug = EnginePlug::new(DeviceEngine::new(EngineConfig::default()));
            let chip = ftdi::Chip::Ft2232h;
            let peer = FtdiPeer::new(chip, ftdi::Channel::B, plug);
            let transport = MemoryTransport::new(peer, FaultInjector::disabled());
            let uart = Ftdi::open(
                transport,
                chip,
                ftdi::Channel::B,
                &UartConfig::new(12_000_000),
            )?;
            Ok(Box::new(UsbBoard::connect(uart, link_config(12_000_000))?))
        }
        Backend::Usb => {
            let list = ftdi::list_devices()?;
            let Some(dev) = list.first() else {
                bail!(
                    "no qtrain board attached (run `qtrain devices`); {}",
                    udev_hint()
                );
            };
            let (chip, channel, baud) = (
                dev.board.chip(),
                dev.board.uart_channel(),
                dev.board.max_baud(),
            );
            let transport =
                RusbTransport::open(dev.vid, dev.pid, dev.serial.as_deref(), channel.interface())
                    .with_context(|| format!("opening {dev}"))?;
            let uart = Ftdi::open(transport, chip, channel, &UartConfig::new(baud))?;
            let board = UsbBoard::connect(uart, link_config(baud)).with_context(|| {
                format!("saying HELLO to {dev} (is the qtrain bitstream loaded?)")
            })?;
            Ok(Box::new(board))
        }
    }
}

fn link_config(baud: u32) -> LinkConfig {
    LinkConfig {
        baud,
        ..LinkConfig::default()
    }
}

/// `qtrain ping`: HELLO, CAPABILITIES, and the round-trip time of a small exchange.
pub fn ping(args: PingArgs) -> anyhow::Result<i32> {
    let start = Instant::now();
    let mut board = open_with(args.backend, args.array)?;
    let hello = start.elapsed();
    let caps = board.hello()?;
    let rounds = 10;
    let t = Instant::now();
    for _ in 0..rounds {
        board.status()?;
    }
    let rtt = t.elapsed() / rounds;
    println!(
        "board: protocol {}, hardware {}.{}, {}x{} array, {} words of memory, max K {}, \
         max body {} bytes, clock {} Hz, baud {}, vector ops 0x{:02x}",
        caps.protocol,
        caps.hw_major,
        caps.hw_minor,
        caps.rows,
        caps.cols,
        caps.mem_words,
        caps.max_k,
        caps.max_body,
        caps.clock_hz,
        caps.baud,
        caps.ops
    );
    println!("connect + HELLO: {}", fmt_duration(hello));
    println!(
        "round trip (STATUS, mean of {rounds}): {}",
        fmt_duration(rtt)
    );
    Ok(0)
}

fn fmt_duration(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// The operands and parameters `qtrain sim gemm` uses for the same arguments.
pub fn operands(args: &GemmArgs) -> (Matrix, Matrix, GemmParams) {
    let spec = &args.spec;
    let a = spec.random_operand(Operand::A, args.m, args.k);
    let b = spec.random_operand(Operand::B, args.k, args.n);
    (a, b, spec.params())
}

/// Runs the GEMM of `args` on `board`: operands written, GEMM, C read back.
pub fn board_gemm(board: &mut dyn Accelerator, args: &GemmArgs) -> anyhow::Result<(Matrix, u32)> {
    let (a, b, p) = operands(args);
    p.validate()?;
    let caps = board.capabilities();
    let dims = [("M", args.m), ("K", args.k), ("N", args.n)];
    for (name, v) in dims {
        if v == 0 || v > usize::from(u16::MAX) {
            bail!("{name} = {v} is outside 1..=65535");
        }
    }
    if args.k as u64 > u64::from(caps.max_k) {
        bail!("K = {} exceeds the board's max K {}", args.k, caps.max_k);
    }
    let words = a.data.len() + b.data.len() + args.m * args.n;
    if words as u64 > u64::from(caps.mem_words) {
        bail!(
            "A, B and C need {words} words but the board has {}",
            caps.mem_words
        );
    }
    let (a_addr, b_addr) = (0u32, a.data.len() as u32);
    let c_addr = b_addr + b.data.len() as u32;
    board.write(a_addr, &a.data).context("writing A")?;
    board.write(b_addr, &b.data).context("writing B")?;
    let d = GemmDescriptor {
        a: Tensor {
            addr: a_addr,
            stride: a.cols as u16,
        },
        b: Tensor {
            addr: b_addr,
            stride: b.cols as u16,
        },
        c: Tensor {
            addr: c_addr,
            stride: args.n as u16,
        },
        m: args.m as u16,
        k: args.k as u16,
        n: args.n as u16,
        trans_a: args.spec.trans_a,
        trans_b: args.spec.trans_b,
        accumulate: false,
        fl_a: p.fl_a,
        fl_b: p.fl_b,
        fl_c: p.fl_c,
        rounding: p.rounding,
        row_state: p.row_state,
        col_state: p.col_state,
    };
    let cycles = board.gemm(&d).context("GEMM")?;
    let c = board.read(c_addr, args.m * args.n).context("reading C")?;
    Ok((
        Matrix {
            rows: args.m,
            cols: args.n,
            data: c,
        },
        cycles,
    ))
}

/// `qtrain gemm`: random operands on the board, C checked against the reference model.
pub fn gemm(args: GemmArgs) -> anyhow::Result<i32> {
    let mut board = open_with(args.backend, args.array)?;
    let t = Instant::now();
    let (c, cycles) = board_gemm(board.as_mut(), &args)?;
    let secs = t.elapsed().as_secs_f64();
    let (a, b, p) = operands(&args);
    let want = qtrain_model::gemm(&a, args.spec.trans_a, &b, args.spec.trans_b, None, &p)?;
    println!(
        "GEMM {}x{}x{} (MxKxN) on {:?}: FL a/b/c = {}/{}/{} (shift {}), rounding {}, seed {}",
        args.m,
        args.k,
        args.n,
        args.backend,
        p.fl_a,
        p.fl_b,
        p.fl_c,
        p.shift(),
        p.rounding,
        args.spec.seed
    );
    if cycles == 0 {
        println!(
            "device cycles: not counted by this backend; write, GEMM and read back in {secs:.3} s"
        );
    } else {
        println!("device cycles: {cycles}; write, GEMM and read back in {secs:.3} s");
    }
    println!("C checksum (FNV-1a 64): {:016x}", operands::checksum(&c));
    if c == want {
        println!("bit-exact: yes");
        Ok(0)
    } else {
        let (i, j) = (0..c.rows)
            .flat_map(|i| (0..c.cols).map(move |j| (i, j)))
            .find(|&(i, j)| c.get(i, j) != want.get(i, j))
            .expect("unequal matrices differ somewhere");
        println!(
            "bit-exact: NO (first difference at C[{i}][{j}]: board {}, model {})",
            c.get(i, j),
            want.get(i, j)
        );
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        gemm: GemmArgs,
    }

    fn args(extra: &[&str]) -> GemmArgs {
        let mut v = vec!["x"];
        v.extend_from_slice(extra);
        Cli::parse_from(v).gemm
    }

    #[test]
    fn model_and_emulated_usb_boards_give_the_model_gemm() {
        let a = args(&[
            "--m",
            "13",
            "--k",
            "30",
            "--n",
            "7",
            "--seed",
            "9",
            "--trans-b",
        ]);
        let (x, y, p) = operands(&a);
        let want = qtrain_model::gemm(&x, false, &y, true, None, &p).unwrap();
        for backend in [Backend::Model, Backend::Emulated] {
            let mut board = open(backend).unwrap();
            // The software engine behind both models results, not time: it counts no cycles.
            let (c, cycles) = board_gemm(board.as_mut(), &a).unwrap();
            assert_eq!(c, want, "{backend:?}");
            assert_eq!(cycles, 0);
            assert_eq!(operands::checksum(&c), operands::checksum(&want));
        }
    }

    #[test]
    fn array_is_refused_for_boards_that_have_their_own() {
        let err = open_with(Backend::Emulated, Some(DEFAULT_SIM_ARRAY))
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("--array"), "{err}");
        let model = open_with(Backend::Model, Some(ArrayShape { rows: 2, cols: 4 })).unwrap();
        assert_eq!(
            (model.capabilities().rows, model.capabilities().cols),
            (2, 4)
        );
    }

    #[test]
    fn oversized_gemms_are_refused_before_sending() {
        let mut board = open(Backend::Model).unwrap();
        let err = board_gemm(
            board.as_mut(),
            &args(&["--k", "5000", "--m", "1", "--n", "1"]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("max K"), "{err}");
        let err = board_gemm(
            board.as_mut(),
            &args(&["--m", "300", "--k", "200", "--n", "300"]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("words"), "{err}");
    }
}
