//! Verilog generation for the supported core and device shapes, and the Verilator lint waivers.

use crate::core::{GemmCore, SCRATCH_ADDR_BITS};
use crate::core_bench::CoreBench;
use crate::device::{DeviceGeometry, DeviceTop, GeometryError};
use rust_hdl::prelude::*;

/// The array shapes `(rows, cols)` that [`gemm_core_verilog`] generates (and the tests lint
/// and simulate).
pub const SUPPORTED_SHAPES: &[(usize, usize)] =
    &[(1, 1), (2, 2), (2, 4), (3, 5), (4, 4), (4, 8), (8, 8)];

/// Shapes generated for the boards beyond [`SUPPORTED_SHAPES`]: 12x12 is the ECP5-85F's
/// 144-PE goal. The same parametric blocks as every other shape; too large for the tests that
/// loop over every shape, so they have their own lint and Verilator tests (hdl/tests/lint.rs,
/// testbenches/tests/verilator_vs_model.rs).
pub const BOARD_SHAPES: &[(usize, usize)] = &[(12, 12)];

/// Shapes [`core_bench_verilog`] generates beyond the generated ones: the tall iCE40UP5K
/// arrays of 8 PEs (8 SB_MAC16), measured for area and timing only (not simulated: the
/// array's blocks are the same parametric ones as in every tested shape).
pub const BENCH_ONLY_SHAPES: &[(usize, usize)] = &[(4, 2), (8, 1)];

/// Whether `(rows, cols)` is generated: one of [`SUPPORTED_SHAPES`] or [`BOARD_SHAPES`].
pub fn is_generated(rows: usize, cols: usize) -> bool {
    SUPPORTED_SHAPES
        .iter()
        .chain(BOARD_SHAPES)
        .any(|&s| s == (rows, cols))
}

/// Verilator configuration (a `.vlt` file) with the lint waivers the generated Verilog needs,
/// each narrowed to the signals it is about. Pass it on the command line before the Verilog file.
pub const VERILATOR_LINT_CONFIG: &str = "`verilator_config
// rust-hdl writes all modules of a design into one file (named after the top module `top`),
// so every other module's name differs from the file name. Nothing to fix in the design.
lint_off -rule DECLFILENAME
// The command engine validated every address against the 16-bit device memory before it
// starts a unit, so the upper bits of a unit's 32-bit memory addresses are zero and unread.
lint_off -rule UNUSEDSIGNAL -file \"*\" -match \"*mem_rd_addr*\"
lint_off -rule UNUSEDSIGNAL -file \"*\" -match \"*mem_wr_addr*\"
// FrameTx reads `byte_ready` and UartTx reads `valid` in the same combinational block that
// drives their `byte_valid` and `ready`, so Verilator sees a loop through the device top's UartTx
// `ready` wire; neither output depends on the other's input (both come from registers).
lint_off -rule UNOPTFLAT -file \"*\" -match \"*uart_out$ready*\"
// Convert keeps only the low 32 bits of its 64-bit window shift and the upper half of its 32-bit sum.
lint_off -rule UNUSEDSIGNAL -file \"*\" -match \"*'win_s*\"
// The PE registers 32 bits of its 48-bit product (|a · b| <= 2^30).
lint_off -rule UNUSEDSIGNAL -file \"*\" -match \"*'mul$p'[47:32]*\"
// The vector unit takes its random words from its Lfsr blocks' `word`, never their `state`.
lint_off -rule UNUSEDSIGNAL -file \"*\" -match \"*_lfsr$state*\"
// The GEMM unit starts each piece from its Lfsr blocks' `state` (never their `word`) and
// counts its own cycles (not the core's).
lint_off -rule UNUSEDSIGNAL -file \"*\" -match \"*lfsr_?$word*\"
lint_off -rule UNUSEDSIGNAL -file \"*\" -match \"*core$cycles*\"
// The controller reloads its column generator from `col_state` (held for the whole GEMM), so it
// never reads that generator's `state`.
lint_off -rule UNUSEDSIGNAL -file \"*\" -match \"*'lfsr_b$state'*\"
// The controller's ceil(N / C) - 1 (16 bits) sizes C-bank rows, which a GEMM that fits the
// scratchpad keeps below 2^14.
lint_off -rule UNUSEDSIGNAL -file \"*\" -match \"*'quo'[15:14]*\"
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
    /// A memory size the hardware cannot have.
    #[error(transparent)]
    Geometry(#[from] GeometryError),
}

/// `Some(f::<R, C>(arg))` for the generated shapes ([`SUPPORTED_SHAPES`] and
/// [`BOARD_SHAPES`], which this list must match) and any extra `(R, C)` given; `None` otherwise.
macro_rules! by_shape {
    ($rows:expr, $cols:expr, $f:ident($arg:expr) $(, ($r:literal, $c:literal))*) => {
        match ($rows, $cols) {
            (1, 1) => Some($f::<1, 1>($arg)),
            (2, 2) => Some($f::<2, 2>($arg)),
            (2, 4) => Some($f::<2, 4>($arg)),
            (3, 5) => Some($f::<3, 5>($arg)),
            (4, 4) => Some($f::<4, 4>($arg)),
            (4, 8) => Some($f::<4, 8>($arg)),
            (8, 8) => Some($f::<8, 8>($arg)),
            (12, 12) => Some($f::<12, 12>($arg)),
            $(($r, $c) => Some($f::<$r, $c>($arg)),)*
            _ => None,
        }
    };
}

fn verilog_of<const R: usize, const C: usize>(scratch_words: usize) -> String {
    let mut core = GemmCore::<R, C>::with_scratch_words(scratch_words);
    core.connect_all();
    generate_verilog(&core)
}

fn verilog_with_windows_in_dsps_of<const R: usize, const C: usize>(scratch_words: usize) -> String {
    let mut core = GemmCore::<R, C>::with_scratch_words(scratch_words).with_windows_in_dsps();
    core.connect_all();
    generate_verilog(&core)
}

fn device_verilog_of<const R: usize, const C: usize>(geometry: &DeviceGeometry) -> String {
    let mut top = DeviceTop::<R, C>::new(geometry);
    top.connect_all();
    generate_verilog(&top)
}

/// Scratchpad banks hold a power of two from 2 to `2^SCRATCH_ADDR_BITS` words.
fn check_scratch_words(scratch_words: usize) -> Result<(), HdlError> {
    if scratch_words.is_power_of_two() && (2..=1 << SCRATCH_ADDR_BITS).contains(&scratch_words) {
        Ok(())
    } else {
        Err(GeometryError::ScratchWords(scratch_words).into())
    }
}

fn unsupported(rows: usize, cols: usize) -> HdlError {
    HdlError::UnsupportedShape {
        rows,
        cols,
        supported: SUPPORTED_SHAPES
            .iter()
            .chain(BOARD_SHAPES)
            .map(|(r, c)| format!("{r}x{c}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The Verilog of the whole device, `DeviceTop<rows, cols>` (UART in and out, framing,
/// command engine, memory, GEMM and vector units), as rust-hdl generates it, with the memory
/// sizes of [`DeviceGeometry::SIM`]; the top module is named `top`.
pub fn device_top_verilog(rows: usize, cols: usize) -> Result<String, HdlError> {
    device_top_verilog_sized(rows, cols, &DeviceGeometry::SIM)
}

/// [`device_top_verilog`] for a device of `geometry`: the same module `top` with the same
/// ports, its memories of the geometry's sizes.
pub fn device_top_verilog_sized(
    rows: usize,
    cols: usize,
    geometry: &DeviceGeometry,
) -> Result<String, HdlError> {
    by_shape!(rows, cols, device_verilog_of(geometry)).ok_or_else(|| unsupported(rows, cols))
}

/// The Verilog of `GemmCore<rows, cols>` as rust-hdl generates it, with scratchpad banks of
/// the full `2^SCRATCH_ADDR_BITS` words. The top module is named `top` (rust-hdl's convention)
/// and has exactly the ports of docs/architecture.md.
pub fn gemm_core_verilog(rows: usize, cols: usize) -> Result<String, HdlError> {
    core_verilog_sized(rows, cols, 1 << SCRATCH_ADDR_BITS)
}

/// [`gemm_core_verilog`] with scratchpad banks of `scratch_words` words each (a power of two
/// from 2 to `2^SCRATCH_ADDR_BITS`): the same ports; GEMMs must fit the smaller banks.
pub fn core_verilog_sized(
    rows: usize,
    cols: usize,
    scratch_words: usize,
) -> Result<String, HdlError> {
    check_scratch_words(scratch_words)?;
    by_shape!(rows, cols, verilog_of(scratch_words)).ok_or_else(|| unsupported(rows, cols))
}

/// [`core_verilog_sized`] with the column heads' converter windows in DSP multipliers
/// ([`GemmCore::with_windows_in_dsps`]): the same ports and results.
pub fn core_verilog_with_windows_in_dsps(
    rows: usize,
    cols: usize,
    scratch_words: usize,
) -> Result<String, HdlError> {
    check_scratch_words(scratch_words)?;
    by_shape!(rows, cols, verilog_with_windows_in_dsps_of(scratch_words))
        .ok_or_else(|| unsupported(rows, cols))
}

fn bench_verilog_of<const R: usize, const C: usize>(scratch_words: usize) -> String {
    let mut bench = CoreBench::<R, C>::new(scratch_words);
    bench.connect_all();
    generate_verilog(&bench)
}

/// The Verilog of [`CoreBench`]`<rows, cols>` (the core alone, fed and read through one pin
/// each, for `qtrain synth --top core`) with scratchpad banks of `scratch_words` words; the top
/// module `top` has the ports `clock`, `uart_rx` and `uart_tx`, like the device's.
pub fn core_bench_verilog(
    rows: usize,
    cols: usize,
    scratch_words: usize,
) -> Result<String, HdlError> {
    check_scratch_words(scratch_words)?;
    by_shape!(rows, cols, bench_verilog_of(scratch_words), (4, 2), (8, 1)).ok_or_else(|| {
        let mut err = unsupported(rows, cols);
        if let HdlError::UnsupportedShape { supported, .. } = &mut err {
            supported.push_str(", and for the bench 4x2, 8x1");
        }
        err
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_shape_generates() {
        for &(r, c) in SUPPORTED_SHAPES.iter().chain(BOARD_SHAPES) {
            assert!(is_generated(r, c));
            assert!(gemm_core_verilog(r, c).is_ok(), "{r}x{c}");
        }
        assert!(!is_generated(5, 7));
    }

    #[test]
    fn sized_memories_appear_in_the_verilog() {
        let core = core_verilog_sized(2, 2, 256).unwrap();
        // Two A, two B and two C banks of 256 words, nothing larger.
        assert_eq!(core.matches("reg [15:0] mem [0:255];").count(), 6);
        assert!(!core.contains("[0:16383]"));
        assert!(core_verilog_sized(2, 2, 100).is_err());
        let g = DeviceGeometry::new(4096, 256, 512).unwrap();
        let dev = device_top_verilog_sized(2, 2, &g).unwrap();
        assert_eq!(dev.matches("reg [15:0] mem [0:4095];").count(), 1);
        assert_eq!(dev.matches("reg [15:0] mem [0:255];").count(), 6);
        assert_eq!(dev.matches("reg [7:0] mem [0:1023];").count(), 2);
        // CAPABILITIES reports the geometry.
        assert!(dev.contains("32'd256, 32'd4096, 16'd512"), "caps constants");
    }

    #[test]
    fn the_core_bench_generates_for_every_bench_shape() {
        for &(r, c) in SUPPORTED_SHAPES.iter().chain(BENCH_ONLY_SHAPES) {
            let v = core_bench_verilog(r, c, 256).unwrap();
            assert!(v.contains("module top(clock,uart_rx,uart_tx);"), "{r}x{c}");
        }
        assert!(core_bench_verilog(5, 7, 256)
            .unwrap_err()
            .to_string()
            .contains("8x1"));
        assert!(core_bench_verilog(2, 2, 100).is_err());
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
