//! Runs whole GEMMs on [`GemmCore`] in rust-hdl's own simulator (slow: for small GEMMs).

use crate::core::{GemmCore, SCRATCH_ADDR_BITS, TARGET_A, TARGET_B, TARGET_C};
use crate::HdlError;
use qtrain_model::{GemmParams, Matrix};
use rust_hdl::prelude::*;

/// Upper bound on the cycles of one simulated GEMM before [`simulate_gemm`] gives up.
const MAX_CYCLES: u32 = 10_000_000;

fn tick<const R: usize, const C: usize>(core: &mut GemmCore<R, C>) -> Result<(), HdlError> {
    // Inputs settle with the clock low, then the rising edge, then the falling one.
    for clk in [false, true, false] {
        core.clock.next = Clock { clk };
        if !simulate(core, 10_000) {
            return Err(HdlError::Simulation("the core did not settle".into()));
        }
    }
    Ok(())
}

fn write<const R: usize, const C: usize>(
    core: &mut GemmCore<R, C>,
    target: u64,
    bank: usize,
    addr: usize,
    value: i16,
) -> Result<(), HdlError> {
    core.wr_en.next = true;
    core.wr_target.next = bits(target);
    core.wr_bank.next = bits(bank as u64);
    core.wr_addr.next = bits(addr as u64);
    core.wr_data.next = bits(value as u16 as u64);
    tick(core)?;
    core.wr_en.next = false;
    Ok(())
}

/// Computes `C = op_a · op_b` on a fresh `GemmCore<R, C>` in rust-hdl's simulator: fills the
/// A and B scratchpads per docs/architecture.md through the write port, pulses `start`,
/// waits for `busy` to fall and reads C back through the read port. `op_a` is M x K and
/// `op_b` K x N (transpose them before the call for the transposed GEMMs).
///
/// Returns C and the core's `cycles` output.
pub fn simulate_gemm<const R: usize, const C: usize>(
    op_a: &Matrix,
    op_b: &Matrix,
    p: &GemmParams,
) -> Result<(Matrix, u32), HdlError> {
    simulate_gemm_acc::<R, C>(op_a, op_b, None, p)
}

/// [`simulate_gemm`] with the accumulate option: with `c_in` (M x N), loads it into the C
/// scratchpad and computes `C = op_a · op_b + c_in` (numerics §6, which needs
/// `s = fl_a + fl_b - fl_c >= 0`).
pub fn simulate_gemm_acc<const R: usize, const C: usize>(
    op_a: &Matrix,
    op_b: &Matrix,
    c_in: Option<&Matrix>,
    p: &GemmParams,
) -> Result<(Matrix, u32), HdlError> {
    simulate_gemm_on(GemmCore::<R, C>::default(), op_a, op_b, c_in, p)
}

/// [`simulate_gemm_acc`] on a given core (fresh, with full-size banks): the ports hold their
/// values from `start` until `busy` falls, so a core built `with_held_config` runs it too.
pub fn simulate_gemm_on<const R: usize, const C: usize>(
    mut core: GemmCore<R, C>,
    op_a: &Matrix,
    op_b: &Matrix,
    c_in: Option<&Matrix>,
    p: &GemmParams,
) -> Result<(Matrix, u32), HdlError> {
    let (m, k, n) = (op_a.rows, op_a.cols, op_b.cols);
    if let Some(c) = c_in {
        if (c.rows, c.cols) != (m, n) {
            return Err(HdlError::Dimensions(format!(
                "C_in is {}x{} but C is {m}x{n}",
                c.rows, c.cols
            )));
        }
        if p.shift() < 0 {
            return Err(HdlError::Dimensions(format!(
                "accumulation needs s = fl_a + fl_b - fl_c >= 0, got {}",
                p.shift()
            )));
        }
    }
    let capacity = 1usize << SCRATCH_ADDR_BITS;
    let fits = |x: usize| (1..=u16::MAX as usize).contains(&x);
    if op_b.rows != k || !fits(m) || !fits(k) || !fits(n) {
        return Err(HdlError::Dimensions(format!(
            "op(A) is {m}x{k} and op(B) is {}x{n}; need matching K and every dimension in 1..=65535",
            op_b.rows
        )));
    }
    if m.div_ceil(R) * k > capacity || n.div_ceil(C) * k > capacity || m * n.div_ceil(C) > capacity
    {
        return Err(HdlError::Dimensions(format!(
            "{m}x{k}x{n} does not fit {R}x{C} scratchpads of {capacity} words per bank"
        )));
    }
    core.connect_all();
    for i in 0..m {
        for kk in 0..k {
            write(
                &mut core,
                TARGET_A,
                i % R,
                (i / R) * k + kk,
                op_a.get(i, kk),
            )?;
        }
    }
    for j in 0..n {
        for kk in 0..k {
            write(
                &mut core,
                TARGET_B,
                j % C,
                (j / C) * k + kk,
                op_b.get(kk, j),
            )?;
        }
    }
    let blocks = n.div_ceil(C);
    if let Some(c) = c_in {
        for i in 0..m {
            for j in 0..n {
                write(&mut core, TARGET_C, j % C, i * blocks + j / C, c.get(i, j))?;
            }
        }
    }
    core.accumulate.next = c_in.is_some();
    core.m.next = bits(m as u64);
    core.k.next = bits(k as u64);
    core.n.next = bits(n as u64);
    core.fl_a.next = bits(u64::from(p.fl_a));
    core.fl_b.next = bits(u64::from(p.fl_b));
    core.fl_c.next = bits(u64::from(p.fl_c));
    core.rounding.next = bits(p.rounding as u64);
    core.row_state.next = bits(u64::from(p.row_state));
    core.col_state.next = bits(u64::from(p.col_state));
    core.start.next = true;
    tick(&mut core)?;
    core.start.next = false;
    let mut waited = 0;
    while core.busy.val() {
        tick(&mut core)?;
        waited += 1;
        if waited > MAX_CYCLES {
            return Err(HdlError::Simulation(format!(
                "busy still high after {MAX_CYCLES} cycles"
            )));
        }
    }
    let mut data = Vec::with_capacity(m * n);
    for i in 0..m {
        for j in 0..n {
            core.rd_bank.next = bits((j % C) as u64);
            core.rd_addr.next = bits((i * blocks + j / C) as u64);
            tick(&mut core)?;
            data.push(core.rd_data.val().to_u16() as i16);
        }
    }
    let c = Matrix::new(m, n, data).map_err(|e| HdlError::Simulation(e.to_string()))?;
    Ok((c, core.cycles.val().to_u32()))
}
