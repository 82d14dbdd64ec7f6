//! Shared helpers for the cross-level test benches: random GEMM cases that aim at the corners
//! of numerics.md ([`cases`]), readable mismatch reports ([`first_mismatch`]) and the policy
//! for a missing Verilator ([`verilator_core`]).

#![warn(missing_docs)]

pub mod cases;

pub use cases::{random_dims, CaseSpec, GemmCase, ShiftClass, ValueDist};
pub use qtrain_hdl::{BOARD_SHAPES, SUPPORTED_SHAPES};
pub use qtrain_model::first_mismatch;

use qtrain_sim::{SimCore, SimError, SimOptions};

/// Whether we run under CI (`CI` set to anything but empty, `0` or `false`), where a missing
/// tool is a failure rather than a reason to skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE"))
}

/// The Verilated `rows x cols` core, or `None` (after printing why) when Verilator is not
/// installed and we are not in CI.
///
/// # Panics
/// In CI when Verilator is missing, and everywhere on any other error (a failed build is a bug).
pub fn verilator_core(rows: usize, cols: usize) -> Option<SimCore> {
    match SimCore::new(rows, cols, SimOptions::default()) {
        Ok(core) => Some(core),
        Err(SimError::ToolMissing(msg)) if !in_ci() => {
            eprintln!("SKIPPED (Verilator test without Verilator): {msg}");
            None
        }
        Err(e) => panic!("cannot simulate the {rows}x{cols} core under Verilator: {e}"),
    }
}
