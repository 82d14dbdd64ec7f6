//! The same GemmCore under rust-hdl's own simulator (its `Simulation` API), for comparison.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use qtrain_hdl::GemmCore;
use qtrain_model::{GemmParams, Matrix, Rounding};
use rust_hdl::prelude::*;

/// What the testbench hands back: C and the clock cycles it waited for.
type Outcome = Arc<Mutex<Option<(Vec<i16>, u64)>>>;

/// One GEMM (`a` is op(A), `b` is op(B)) on `GemmCore<R, C>` in rust-hdl's simulator.
/// Returns C, the simulated cycles and the wall time in seconds.
fn run<const R: usize, const C: usize>(
    a: &Matrix,
    b: &Matrix,
    p: GemmParams,
) -> (Matrix, u64, f64) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let outcome: Outcome = Arc::new(Mutex::new(None));
    let mut sim = Simulation::<GemmCore<R, C>>::new();
    sim.add_clock(5, |x: &mut Box<GemmCore<R, C>>| {
        x.clock.next = !x.clock.val()
    });
    let (a, b, out) = (a.clone(), b.clone(), outcome.clone());
    sim.add_testbench(move |mut sim: Sim<GemmCore<R, C>>| {
        let mut x = sim.init()?;
        let mut cycles = 0u64;
        let mut writes = Vec::new();
        for i in 0..m {
            for kk in 0..k {
                writes.push((false, i % R, (i / R) * k + kk, a.get(i, kk)));
            }
        }
        for j in 0..n {
            for kk in 0..k {
                writes.push((true, j % C, (j / C) * k + kk, b.get(kk, j)));
            }
        }
        for (target, bank, addr, v) in writes {
            x.wr_en.next = true;
            x.wr_target.next = bits(u64::from(target));
            x.wr_bank.next = bits(bank as u64);
            x.wr_addr.next = bits(addr as u64);
            x.wr_data.next = bits(u64::from(v as u16));
            wait_clock_cycle!(sim, clock, x);
            cycles += 1;
        }
        x.wr_en.next = false;
        x.m.next = bits(m as u64);
        x.k.next = bits(k as u64);
        x.n.next = bits(n as u64);
        x.fl_a.next = bits(p.fl_a.into());
        x.fl_b.next = bits(p.fl_b.into());
        x.fl_c.next = bits(p.fl_c.into());
        x.rounding.next = bits(p.rounding as u64);
        x.row_state.next = bits(p.row_state.into());
        x.col_state.next = bits(p.col_state.into());
        x.start.next = true;
        wait_clock_cycle!(sim, clock, x);
        cycles += 1;
        x.start.next = false;
        while x.busy.val() {
            wait_clock_cycle!(sim, clock, x);
            cycles += 1;
        }
        let stride = n.div_ceil(C);
        let mut c = Vec::with_capacity(m * n);
        for i in 0..m {
            for j in 0..n {
                x.rd_bank.next = bits((j % C) as u64);
                x.rd_addr.next = bits((i * stride + j / C) as u64);
                wait_clock_cycle!(sim, clock, x);
                cycles += 1;
                c.push(x.rd_data.val().to_u16() as i16);
            }
        }
        *out.lock().unwrap() = Some((c, cycles));
        sim.done(x)
    });
    let mut uut = GemmCore::<R, C>::default();
    uut.connect_all();
    let start = Instant::now();
    sim.run(Box::new(uut), u64::MAX / 2)
        .expect("rust-hdl simulation failed");
    let secs = start.elapsed().as_secs_f64();
    let (c, cycles) = outcome.lock().unwrap().take().expect("testbench finished");
    (Matrix::new(m, n, c).unwrap(), cycles, secs)
}

fn measure<const R: usize, const C: usize>(k: usize) {
    let (m, n) = (8, 8);
    let a = Matrix::from_fn(m, k, |i, j| {
        ((i * 7919 + j * 104_729) % 65_536) as u16 as i16
    });
    let b = Matrix::from_fn(k, n, |i, j| ((i * 31 + j * 65_521) % 65_536) as u16 as i16);
    let p = GemmParams::from_seed(5, 14, 14, 14, Rounding::Stochastic);
    let (c, cycles, secs) = run::<R, C>(&a, &b, p);
    let want = qtrain_model::gemm(&a, false, &b, false, None, &p).unwrap();
    assert_eq!(c, want, "rust-hdl simulation disagrees with the model");
    println!(
        "rust-hdl {R}x{C}: GEMM {m}x{k}x{n}: {cycles} cycles in {secs:.2} s: {:.0} simulated \
         cycles/s, {:.0} MAC/s",
        cycles as f64 / secs,
        (m * n * k) as f64 / secs
    );
}

/// Measures rust-hdl's simulator on the 4x4 and 8x8 cores with GEMMs of about `cycles`
/// cycles (mostly loading: 16 per unit of K).
pub fn bench(cycles: usize) {
    let k = (cycles / 16).max(1);
    measure::<4, 4>(k);
    measure::<8, 8>(k);
}
