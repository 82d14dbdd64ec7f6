//! `qtrain gen verilog`: write the Verilog of the GEMM core or of the whole device.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::array_shape::ArrayShape;

#[derive(Subcommand)]
pub enum GenCommand {
    /// Write the Verilog of the GEMM core (array, controller, scratchpads) for one array shape,
    /// or with `--top device` of the whole device (UART, framing, command engine, memory).
    Verilog {
        /// Array shape, rows x columns (e.g. 8x8).
        #[arg(long, default_value = "8x8")]
        array: ArrayShape,
        /// Which top: the GEMM core alone, or the device a board runs (docs/device.md).
        #[arg(long, value_enum, default_value_t = Top::Core)]
        top: Top,
        /// Output file ("-" for standard output).
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// The design `gen verilog` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Top {
    /// The GEMM core (`GemmCore`), as the Verilator simulation of `qtrain sim gemm` runs it.
    Core,
    /// The device (`DeviceTop`): what a board runs and what `--backend sim` simulates.
    Device,
}

pub fn run(cmd: GenCommand) -> anyhow::Result<i32> {
    match cmd {
        GenCommand::Verilog { array, top, output } => {
            let (verilog, what) = match top {
                Top::Core => (
                    qtrain_hdl::gemm_core_verilog(array.rows, array.cols)?,
                    "GEMM core",
                ),
                Top::Device => (
                    qtrain_hdl::device_top_verilog(array.rows, array.cols)?,
                    "device",
                ),
            };
            if output.as_os_str() == "-" {
                print!("{verilog}");
            } else {
                crate::operands::write_atomically(&output, verilog.as_bytes())
                    .with_context(|| format!("writing {}", output.display()))?;
                eprintln!(
                    "wrote the {array} {what} ({} lines of Verilog, top module `top`) to {}",
                    verilog.lines().count(),
                    output.display()
                );
            }
            Ok(0)
        }
    }
}
