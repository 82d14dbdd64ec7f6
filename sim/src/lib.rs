//! The qtrain GEMM core simulated by Verilator, driven from Rust.
//!
//! The core's Verilog (from `qtrain-hdl`, or any text with the same top-level ports, see
//! docs/architecture.md) is compiled by Verilator, together with a small C++ harness
//! (`harness/harness.cpp`), into a shared library **at run time**: any supported array shape
//! works, and the workspace builds on machines without Verilator. Libraries are cached under
//! `$QTRAIN_CACHE_DIR`, else `$XDG_CACHE_HOME/qtrain`, else `~/.cache/qtrain`, keyed by a hash
//! of the Verilog, the harness, the Verilator version and the build flags; the first use of a
//! design takes a few seconds to build, later ones load instantly.
//!
//! [`SimDevice`] simulates the whole device top (UART, framing, command engine, GEMM array)
//! the same way, inside `harness/device_harness.cpp`, which plays the host's UART.
//!
//! [`GateNetlist`] synthesizes a core with yosys for iCE40 or ECP5 and hands the mapped
//! netlist, behind the vendor cells' simulation models, to [`SimCore::from_verilog`]: the
//! gate-level check (testbenches/tests/gate_level.rs).
//!
//! ```no_run
//! use qtrain_model::{GemmParams, Matrix, Rounding};
//! use qtrain_sim::{SimCore, SimOptions};
//!
//! let mut core = SimCore::new(4, 4, SimOptions::default())?;
//! let a = Matrix::from_fn(5, 7, |i, j| (i * 7 + j) as i16);
//! let b = Matrix::from_fn(7, 3, |i, j| (i + j) as i16);
//! let p = GemmParams::from_seed(42, 8, 8, 8, Rounding::Stochastic);
//! let out = core.gemm(&a, false, &b, false, &p)?;
//! assert_eq!(out.c, qtrain_model::gemm(&a, false, &b, false, None, &p)?);
//! println!("{} compute cycles", out.compute_cycles);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod cache;
mod core;
mod device;
mod device_ffi;
mod error;
mod ffi;
mod gate;
mod gate_models;
mod layout;
mod toolchain;

pub use crate::cache::cache_dir;
pub use crate::core::{SimCore, SimGemm, SimOptions};
pub use crate::device::{DeviceSimOptions, LinkCounters, SimDevice};
pub use crate::error::SimError;
pub use crate::gate::{GateNetlist, GateTarget, Yosys, YOSYS_MISSING};
pub use crate::layout::Geometry;
pub use crate::toolchain::{verilator_version, VERILATOR_MISSING};
/// The memory sizes a [`SimDevice`] is built with ([`DeviceSimOptions::geometry`]).
pub use qtrain_hdl::{DeviceGeometry, GeometryError};
