//! `qtrain_model::gemm` (stochastic rounding) against `matrixmultiply::sgemm` on the same
//! shapes, single thread. For a one-line ratio per shape see `examples/gemm_ratio.rs`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use qtrain_model::{gemm, gemm_scalar, GemmParams, Matrix, Rounding};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// (M, K, N)
const SHAPES: [(usize, usize, usize); 2] = [(256, 256, 256), (784, 256, 64)];

fn random(rng: &mut ChaCha8Rng, rows: usize, cols: usize, full_range: bool) -> Matrix {
    Matrix::from_fn(rows, cols, |_, _| {
        if full_range {
            rng.gen()
        } else {
            rng.gen_range(-4095..=4095)
        }
    })
}

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut group = c.benchmark_group("gemm");
    group.sample_size(20);
    for (m, k, n) in SHAPES {
        let shape = format!("{m}x{k}x{n}");
        group.throughput(Throughput::Elements((m * k * n) as u64));
        for full in [false, true] {
            let a = random(&mut rng, m, k, full);
            let b = random(&mut rng, k, n, full);
            let p = GemmParams::from_seed(3, 12, 12, 12, Rounding::Stochastic);
            let label = if full {
                "qtrain_full_range"
            } else {
                "qtrain_small_range"
            };
            group.bench_with_input(BenchmarkId::new(label, &shape), &(), |bch, _| {
                bch.iter(|| gemm(&a, false, &b, false, None, &p).unwrap())
            });
        }
        let af: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let bf: Vec<f32> = (0..k * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let mut cf = vec![0f32; m * n];
        group.bench_with_input(BenchmarkId::new("f32_sgemm", &shape), &(), |bch, _| {
            bch.iter(|| {
                // SAFETY: row-major m x k, k x n and m x n buffers of exactly those sizes.
                unsafe {
                    matrixmultiply::sgemm(
                        m,
                        k,
                        n,
                        1.0,
                        af.as_ptr(),
                        k as isize,
                        1,
                        bf.as_ptr(),
                        n as isize,
                        1,
                        0.0,
                        cf.as_mut_ptr(),
                        n as isize,
                        1,
                    );
                }
                cf[0]
            })
        });
    }
    // The readable triple loop, for scale (one small shape only).
    let a = random(&mut rng, 64, 64, true);
    let b = random(&mut rng, 64, 64, true);
    let p = GemmParams::from_seed(3, 12, 12, 12, Rounding::Stochastic);
    group.throughput(Throughput::Elements(64 * 64 * 64));
    group.bench_function("scalar_reference/64x64x64", |bch| {
        bch.iter(|| gemm_scalar(&a, false, &b, false, None, &p).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
