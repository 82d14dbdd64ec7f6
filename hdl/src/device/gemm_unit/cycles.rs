//! The cycle count of [`super::GemmUnit`]: its schedule, phase by phase.

use crate::controller::gemm_cycles;
use crate::device::piece_plan::{plan_pieces, PLAN_CYCLES};

/// The value of `cycles` after an `m x k x n` GEMM on a `GemmUnit<rows, cols>` with banks of
/// `cap` words: the schedule of [`super::GemmUnit`] counted phase by phase.
pub fn gemm_unit_cycles(
    rows: usize,
    cols: usize,
    cap: usize,
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
) -> u64 {
    let phases = gemm_unit_phases(rows, cols, cap, m, k, n, accumulate);
    phases.plan + phases.load + phases.compute + phases.drain + phases.overhead
}

/// Where the cycles of a GEMM on the unit go (see [`gemm_unit_cycles`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnitPhases {
    /// Piece planning.
    pub plan: u64,
    /// Streaming op(A), op(B) and `C_in` into the scratchpads.
    pub load: u64,
    /// The core's runs (its `cycles` per piece, plus the start cycle).
    pub compute: u64,
    /// Streaming C out.
    pub drain: u64,
    /// Per-piece and per-stream bookkeeping cycles.
    pub overhead: u64,
    /// Pieces.
    pub pieces: u64,
}

/// [`gemm_unit_cycles`] split by phase.
pub fn gemm_unit_phases(
    rows: usize,
    cols: usize,
    cap: usize,
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
) -> UnitPhases {
    let plan = plan_pieces(rows, cols, cap, k, n);
    let (mp_max, np_max) = (plan.mp_max as usize, plan.np_max as usize);
    // The planning cycles, plus the cycle that sees the planner done.
    let mut t = UnitPhases {
        plan: PLAN_CYCLES as u64 + 1,
        ..Default::default()
    };
    let mut i0 = 0;
    while i0 < m {
        let mp = mp_max.min(m - i0);
        let mut j0 = 0;
        while j0 < n {
            let np = np_max.min(n - j0);
            let load_a = j0 == 0;
            let load_b = i0 == 0 || np_max < n;
            let streams = [(load_a, mp * k), (load_b, np * k), (accumulate, mp * np)];
            for (on, words) in streams {
                if on {
                    t.load += words as u64;
                    t.overhead += 1;
                }
            }
            t.compute += gemm_cycles(rows, cols, mp, k, np) + 2;
            t.drain += (mp * np) as u64;
            // PIECE, the drain's SETUP and the TAIL.
            t.overhead += 3;
            t.pieces += 1;
            j0 += np;
        }
        i0 += mp;
    }
    t
}
