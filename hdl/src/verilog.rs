//! Verilog generation for the supported core shapes, and the Verilator lint waivers.

use crate::core::GemmCore;
use rust_hdl::prelude::*;

/// The array shapes `(rows, cols)` that [`gemm_core_verilog`] generates (and the tests lint
/// and simulate).
pub const SUPPORTED_SHAPES: &[(usize, usize)] =
    &[(1, 1), (2, 2), (2, 4), (3, 5), (4, 4), (4, 8), (8, 8)];

/// Verilator configuration (a `.vlt` file) with the only lint waiver the generated Verilog
/// needs. Pass it on the command line before the Verilog file.
pub const VERILATOR_LINT_CONFIG: &str = "`verilator_config
// rust-hdl writes all modules of a design into one file (named after the top module `top`),
// so every other module's name differs from the file name. Nothing to fix in the design.
lint_off -rule DECLFILENAME
";

/// Errors of the HDL generator.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HdlError {
    /// The requested array shape is not one of [`SUPPORTED_SHAPES`].
    #[error("unsupported array shape {rows}x{cols}; supported shapes: {supported}")]
    UnsupportedShape {
        /// Requested rows.
        rows: usize,
        /// Requested columns.
        cols: usize,
        /// The supported shapes, as text.
        supported: String,
    },
    /// A GEMM given to the rust-hdl simulation driver has impossible dimensions.
    #[error("bad GEMM for the core: {0}")]
    Dimensions(String),
    /// The rust-hdl simulation went wrong.
    #[error("rust-hdl simulation: {0}")]
    Simulation(String),
}

fn verilog_of<const R: usize, const C: usize>() -> String {
    let mut core = GemmCore::<R, C>::default();
    core.connect_all();
    generate_verilog(&core)
}

/// The Verilog of `GemmCore<rows, cols>` as rust-hdl generates it. The top module is named
/// `top` (rust-hdl's convention) and has exactly the ports of docs/architecture.md.
pub fn gemm_core_verilog(rows: usize, cols: usize) -> Result<String, HdlError> {
    Ok(match (rows, cols) {
        (1, 1) => verilog_of::<1, 1>(),
        (2, 2) => verilog_of::<2, 2>(),
        (2, 4) => verilog_of::<2, 4>(),
        (3, 5) => verilog_of::<3, 5>(),
        (4, 4) => verilog_of::<4, 4>(),
        (4, 8) => verilog_of::<4, 8>(),
        (8, 8) => verilog_of::<8, 8>(),
        _ => {
            return Err(HdlError::UnsupportedShape {
                rows,
                cols,
                supported: SUPPORTED_SHAPES
                    .iter()
                    .map(|(r, c)| format!("{r}x{c}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_shape_generates() {
        for &(r, c) in SUPPORTED_SHAPES {
            assert!(gemm_core_verilog(r, c).is_ok(), "{r}x{c}");
        }
    }

    #[test]
    fn unsupported_shape_lists_the_supported_ones() {
        let err = gemm_core_verilog(5, 7).unwrap_err().to_string();
        assert!(
            err.contains("5x7") && err.contains("4x4") && err.contains("8x8"),
            "{err}"
        );
    }
}
