//! Simulation speed of the GEMM core: Verilator through the Rust API, and for comparison
//! rust-hdl's own event-driven simulator on the same design.
//!
//! `cargo bench -p qtrain-sim --bench throughput` (release build). Prints plain lines.

use std::time::{Duration, Instant};

use qtrain_model::{GemmParams, Matrix, Rounding};
use qtrain_sim::{SimCore, SimOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod rust_hdl_sim;

fn random(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Matrix {
    Matrix::from_fn(rows, cols, |_, _| rng.gen())
}

/// The largest GEMM with K = 256 and M = N that fits the core, capped at 128.
fn bench_dims(core: &SimCore) -> (usize, usize, usize) {
    let k = 256;
    let mut mn = 128;
    while core.check_fits(mn, k, mn).is_err() {
        mn -= core.rows().max(core.cols());
    }
    (mn, k, mn)
}

fn verilator(rows: usize, cols: usize, min_time: Duration) {
    let built = Instant::now();
    let mut core = match SimCore::new(rows, cols, SimOptions::default()) {
        Ok(core) => core,
        Err(e) => {
            println!("verilator {rows}x{cols}: not measured: {e}");
            return;
        }
    };
    println!(
        "verilator {rows}x{cols}: library ready in {:.1} s ({})",
        built.elapsed().as_secs_f64(),
        core.library_path().display()
    );
    let (m, k, n) = bench_dims(&core);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let a = random(&mut rng, m, k);
    let b = random(&mut rng, k, n);
    let p = GemmParams::from_seed(7, 14, 14, 14, Rounding::Stochastic);
    let want = qtrain_model::gemm(&a, false, &b, false, None, &p).unwrap();
    let warm = core.gemm(&a, false, &b, false, &p).unwrap();
    assert_eq!(warm.c, want, "the simulated core disagrees with the model");

    let (mut runs, mut cycles, mut compute) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < min_time {
        let out = core.gemm(&a, false, &b, false, &p).unwrap();
        runs += 1;
        cycles += out.total_cycles;
        compute += out.compute_cycles;
    }
    let secs = start.elapsed().as_secs_f64();
    let macs = (m * n * k) as f64 * runs as f64;
    println!(
        "verilator {rows}x{cols}: GEMM {m}x{k}x{n}: {} cycles each ({} computing, {} loading, \
         {} reading C), {runs} runs in {secs:.2} s",
        warm.total_cycles,
        warm.compute_cycles,
        warm.load_cycles,
        warm.total_cycles - warm.compute_cycles - warm.load_cycles
    );
    println!(
        "verilator {rows}x{cols}: {:.2} M simulated cycles/s, {:.1} M MAC/s, {:.1} ms per GEMM \
         ({:.0}% of cycles computing, array utilization {:.0}%)",
        cycles as f64 / secs / 1e6,
        macs / secs / 1e6,
        secs * 1e3 / runs as f64,
        100.0 * compute as f64 / cycles as f64,
        100.0 * (m * n * k) as f64 / (warm.compute_cycles as f64 * (rows * cols) as f64)
    );
}

fn main() {
    // Under `cargo test --benches` the harness passes no `--bench`; keep that run short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let min_time = Duration::from_secs(if quick { 0 } else { 3 });
    verilator(8, 8, min_time);
    if !quick {
        verilator(4, 4, min_time);
    }
    rust_hdl_sim::bench(if quick { 20 } else { 2_000 });
}
