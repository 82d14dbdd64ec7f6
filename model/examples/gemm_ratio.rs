//! Prints the single-thread throughput of `qtrain_model::gemm` (stochastic rounding) against
//! `matrixmultiply::sgemm` on the same shapes, measured in one run (median of repetitions).
//!
//! Run with `cargo run -p qtrain-model --release --example gemm_ratio`.

use std::time::Instant;

use qtrain_model::{gemm, gemm_with_kernel, GemmKernel, GemmParams, Matrix, Rounding};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Shapes as (M, K, N).
const SHAPES: [(usize, usize, usize); 2] = [(256, 256, 256), (784, 256, 64)];
const REPS: usize = 31;

/// Median wall times in seconds of `REPS` runs of `f` and of `g`, interleaved so that both
/// see the same machine load (after one warm-up each).
fn median_secs_pair(mut f: impl FnMut(), mut g: impl FnMut()) -> (f64, f64) {
    f();
    g();
    let time = |h: &mut dyn FnMut()| {
        let start = Instant::now();
        h();
        start.elapsed().as_secs_f64()
    };
    let (mut tf, mut tg): (Vec<f64>, Vec<f64>) =
        (0..REPS).map(|_| (time(&mut f), time(&mut g))).unzip();
    tf.sort_by(f64::total_cmp);
    tg.sort_by(f64::total_cmp);
    (tf[REPS / 2], tg[REPS / 2])
}

fn sgemm(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    // SAFETY: a is m x k, b is k x n, c is m x n, all row-major and of exactly those lengths.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(2015);
    println!("best kernel on this CPU: {:?}", GemmKernel::best());
    for (label, lim) in [
        ("small-range |x| < 2^12", 4095i16),
        ("full-range", i16::MAX),
    ] {
        println!("operands {label}:");
        for (m, k, n) in SHAPES {
            let mut random = |rows, cols| {
                Matrix::from_fn(rows, cols, |_, _| {
                    if lim == i16::MAX {
                        rng.gen::<i16>()
                    } else {
                        rng.gen_range(-lim..=lim)
                    }
                })
            };
            let a = random(m, k);
            let b = random(k, n);
            let p = GemmParams::from_seed(7, 12, 12, 12, Rounding::Stochastic);
            let af: Vec<f32> = a.data.iter().map(|&x| f32::from(x)).collect();
            let bf: Vec<f32> = b.data.iter().map(|&x| f32::from(x)).collect();
            let mut cf = vec![0f32; m * n];
            let (tq, tf) = median_secs_pair(
                || {
                    std::hint::black_box(gemm(&a, false, &b, false, None, &p).unwrap());
                },
                || {
                    sgemm(m, k, n, &af, &bf, &mut cf);
                    std::hint::black_box(&cf);
                },
            );
            let macs = (m * k * n) as f64;
            let (gq, gf) = (macs / tq / 1e9, macs / tf / 1e9);
            println!(
                "{m}x{k}x{n}: qtrain {gq:.1} GMAC/s, f32 sgemm {gf:.1} GMAC/s, ratio {:.2}",
                gq / gf
            );
            // The slower kernels, for machines without the best one (same interleaving).
            for kernel in GemmKernel::ALL {
                if kernel == GemmKernel::best() || !kernel.is_available() {
                    continue;
                }
                let (tk, tf) = median_secs_pair(
                    || {
                        let c = gemm_with_kernel(kernel, &a, false, &b, false, None, &p).unwrap();
                        std::hint::black_box(c);
                    },
                    || {
                        sgemm(m, k, n, &af, &bf, &mut cf);
                        std::hint::black_box(&cf);
                    },
                );
                let (gk, gf) = (macs / tk / 1e9, macs / tf / 1e9);
                println!(
                    "    kernel {kernel:?}: {gk:.1} GMAC/s, ratio {:.2}",
                    gk / gf
                );
            }
        }
    }
}
