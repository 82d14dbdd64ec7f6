//! qtrain gateware in rust-hdl: the GEMM core of docs/architecture.md, whose
//! microarchitecture is described in docs/hardware.md.
//!
//! One block per module: [`lfsr::Lfsr`] (random words), [`convert::Convert`] (rounding and
//! saturation), [`column_convert::ColumnConvert`] (the converter at the head of each array
//! column), [`macc::Macc`] (the PE), [`array::Array`], [`controller::Controller`] with its
//! [`drain::Drain`], and the top [`core::GemmCore`]. [`link`] holds the device side of the
//! host link (so far the UART byte layer). [`gemm_core_verilog`] returns the Verilog of a
//! supported shape; its top module is called `top`.

#![warn(missing_docs)]

/// One clock cycle of a block under rust-hdl's simulator, for the unit tests beside each
/// block: inputs settle with the clock low, then the rising edge, then the falling one.
#[cfg(test)]
macro_rules! clock_cycle {
    ($uut:expr) => {
        for clk in [false, true, false] {
            $uut.clock.next = rust_hdl::prelude::Clock { clk };
            assert!(
                rust_hdl::prelude::simulate($uut, 1000),
                "the block did not settle"
            );
        }
    };
}

pub mod array;
pub mod column_convert;
pub mod controller;
pub mod convert;
pub mod core;
pub mod core_bench;
pub mod device;
pub mod drain;
pub mod dsp_window;
pub mod extend;
pub mod lfsr;
pub mod link;
pub mod macc;
pub mod ram;
pub mod rtlsim;
pub mod verilog;

/// The rust-hdl version this crate is built with, for test benches that drive its blocks.
pub use rust_hdl;

pub use crate::core::{GemmCore, SCRATCH_ADDR_BITS};
pub use device::{DeviceGeometry, DeviceTop, GeometryError};
pub use link::echo::uart_echo_verilog;
pub use rtlsim::{simulate_gemm, simulate_gemm_acc};
pub use verilog::{
    core_bench_verilog, core_verilog_sized, core_verilog_with_windows_in_dsps, device_top_verilog,
    device_top_verilog_sized, gemm_core_verilog, is_generated, HdlError, BENCH_ONLY_SHAPES,
    BOARD_SHAPES, SUPPORTED_SHAPES, VERILATOR_LINT_CONFIG,
};
