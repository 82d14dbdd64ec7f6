//! `qtrain gen verilog`: write the GEMM core's Verilog.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::array_shape::ArrayShape;

#[derive(Subcommand)]
pub enum GenCommand {
    /// Write the Verilog of the GEMM core (array, controller, scratchpads) for one array shape.
    Verilog {
        /// Array shape, rows x columns (e.g. 8x8).
        #[arg(long, default_value = "8x8")]
        array: ArrayShape,
        /// Output file ("-" for standard output).
        #[arg(short, long)]
        output: PathBuf,
    },
}

pub fn run(cmd: GenCommand) -> anyhow::Result<i32> {
    match cmd {
        GenCommand::Verilog { array, output } => {
            let verilog = qtrain_hdl::gemm_core_verilog(array.rows, array.cols)?;
            if output.as_os_str() == "-" {
                print!("{verilog}");
            } else {
                crate::operands::write_atomically(&output, verilog.as_bytes())
                    .with_context(|| format!("writing {}", output.display()))?;
                eprintln!(
                    "wrote the {array} GEMM core ({} lines of Verilog, top module `top`) to {}",
                    verilog.lines().count(),
                    output.display()
                );
            }
            Ok(0)
        }
    }
}
