//! The device MLP against the same step written directly with the model's functions: the
//! layout, strides, transposes and seeds of every command are what the module documents.

use qtrain_model::{
    bias_add, gemm, quantize, relu, relu_mask, seed_states, splitmix64, update, GemmParams, Matrix,
    Rounding, UpdateParams,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::commands::board::Backend;
use crate::train::device::open_board;
use crate::train::net::init_mlp;
use crate::train::net::weight_grid::GridSpec;

const FL: Formats = Formats {
    w: 14,
    a: 10,
    g: 14,
    dw: 10,
};

fn scheme(rounding: Rounding) -> FixedScheme {
    FixedScheme {
        fl: FL,
        gemm_rounding: rounding,
        grad_rounding: rounding,
        update_rounding: rounding,
    }
}

fn params(fl: (u8, u8, u8), rounding: Rounding, seed: u64) -> GemmParams {
    let (row_state, col_state) = seed_states(seed);
    GemmParams {
        fl_a: fl.0,
        fl_b: fl.1,
        fl_c: fl.2,
        rounding,
        row_state,
        col_state,
    }
}

/// One training step of the reference: returns the new `[W1, b1, W2, b2, ...]`.
fn reference_step(
    layers: &[(Matrix, Vec<i16>)],
    x: Matrix,
    labels: &[u8],
    seed: u64,
    lr: f64,
    rnd: Rounding,
    grid: WeightGrid,
) -> Vec<Vec<i16>> {
    let rows = x.rows;
    let fwd = splitmix64(seed, 0);
    let mut h = vec![x];
    let mut zs = Vec::new();
    for (l, (w, b)) in layers.iter().enumerate() {
        let p = params((FL.a, FL.w, FL.a), rnd, splitmix64(fwd, l as u64));
        let z = bias_add(
            &gemm(&h[l], false, w, false, None, &p).unwrap(),
            b,
            FL.a,
            FL.w,
        )
        .unwrap();
        if l + 1 < layers.len() {
            h.push(relu(&z));
        }
        zs.push(z);
    }
    let classes = layers.last().unwrap().1.len();
    let logits: Vec<f64> = zs
        .last()
        .unwrap()
        .data
        .iter()
        .map(|&q| dequantize(q, FL.a))
        .collect();
    let (_, grad) = softmax_xent(&logits, labels, classes);
    let mut rng = ChaCha8Rng::seed_from_u64(splitmix64(seed, 1));
    let mut dz = Matrix {
        rows,
        cols: classes,
        data: grad
            .iter()
            .map(|&g| quantize(g, FL.g, rnd, &mut || rng.gen::<u16>()))
            .collect(),
    };
    let ones = Matrix {
        rows: 1,
        cols: rows,
        data: vec![1 << 14; rows],
    };
    let mut out = vec![Vec::new(); 2 * layers.len()];
    for l in (0..layers.len()).rev() {
        let op = |k: u64| splitmix64(seed, 2 + 8 * l as u64 + k);
        let (w, b) = &layers[l];
        let dh = (l > 0).then(|| {
            gemm(
                &dz,
                false,
                w,
                true,
                None,
                &params((FL.g, FL.w, FL.g), rnd, op(0)),
            )
            .unwrap()
        });
        let dw = gemm(
            &h[l],
            true,
            &dz,
            false,
            None,
            &params((FL.a, FL.g, FL.dw), rnd, op(1)),
        )
        .unwrap();
        let db = gemm(
            &ones,
            false,
            &dz,
            false,
            None,
            &params((14, FL.g, FL.dw), rnd, op(2)),
        )
        .unwrap();
        let up = |seed: u64, grid: WeightGrid| {
            let (eta_q, fl_eta) =
                eta_words_on_grid(lr, rows, FL.w, FL.dw, grid.grid_shift).unwrap();
            let (row_state, col_state) = seed_states(seed);
            UpdateParams {
                fl_w: FL.w,
                fl_g: FL.dw,
                fl_eta,
                eta_q,
                rounding: rnd,
                grid_shift: grid.grid_shift,
                grid_offset: grid.grid_offset,
                w_min: grid.w_min,
                w_max: grid.w_max,
                row_state,
                col_state,
            }
        };
        out[2 * l] = update(w, &dw, &up(op(3), grid)).unwrap().data;
        let bm = Matrix {
            rows: 1,
            cols: b.len(),
            data: b.clone(),
        };
        out[2 * l + 1] = update(&bm, &db, &up(op(4), WeightGrid::FULL)).unwrap().data;
        if let Some(dh) = dh {
            dz = relu_mask(&h[l], &dh).unwrap();
        }
    }
    out
}

#[test]
fn a_device_step_is_the_model_step() {
    let shape = MlpShape::new(vec![12, 7, 5, 3]).unwrap();
    let init = init_mlp(&shape, 5);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // The ordinary grid, and the binary and 3-bit weight grids of --method r/sr.
    let grids = [
        WeightGrid::FULL,
        GridSpec {
            bits: 1,
            delta_log2: -3,
        }
        .device_grid(FL.w)
        .unwrap(),
        GridSpec {
            bits: 3,
            delta_log2: -4,
        }
        .device_grid(FL.w)
        .unwrap(),
    ];
    for (rnd, grid) in [Rounding::Stochastic, Rounding::Nearest]
        .into_iter()
        .flat_map(|r| grids.map(|g| (r, g)))
    {
        let board = open_board(Backend::Model, Some(4096), None).unwrap();
        let mut mlp = DeviceMlp::new(board, &shape, scheme(rnd), &init, 4, 0.5).unwrap();
        if grid != WeightGrid::FULL {
            mlp.set_weight_grid(grid).unwrap();
            let Params::Fixed { tensors } = mlp.params().unwrap() else {
                panic!("fixed parameters")
            };
            for w in tensors.iter().step_by(2).flatten() {
                assert_eq!(grid.snap(*w), *w, "initial weights on the grid");
            }
        }
        // A short last batch (3 of 4 rows) exercises the strides of a partly used buffer.
        for rows in [4, 3] {
            let pixels: Vec<u8> = (0..rows * 12).map(|_| rng.gen()).collect();
            let labels: Vec<u8> = (0..rows).map(|_| rng.gen_range(0..3)).collect();
            let Params::Fixed { tensors } = mlp.params().unwrap() else {
                panic!("fixed parameters")
            };
            let layers: Vec<(Matrix, Vec<i16>)> = tensors
                .chunks_exact(2)
                .zip(shape.layers())
                .map(|(p, (i, o))| {
                    (
                        Matrix {
                            rows: i,
                            cols: o,
                            data: p[0].clone(),
                        },
                        p[1].clone(),
                    )
                })
                .collect();
            let x = Matrix {
                rows,
                cols: 12,
                data: pixels
                    .iter()
                    .map(|&p| quantize(f64::from(p) / 255.0, FL.a, Rounding::Nearest, &mut || 0))
                    .collect(),
            };
            let want = reference_step(&layers, x, &labels, 77 + rows as u64, 0.5, rnd, grid);
            mlp.train_batch(&pixels, &labels, 77 + rows as u64).unwrap();
            let Params::Fixed { tensors: got } = mlp.params().unwrap() else {
                panic!("fixed parameters")
            };
            assert_eq!(got, want, "{rnd} {grid:?} rows {rows}");
            assert_ne!(got, tensors, "the step changed nothing");
        }
    }
}

#[test]
fn plans_that_do_not_fit_are_refused_before_any_write() {
    let shape = MlpShape::new(vec![784, 256, 10]).unwrap();
    let init = init_mlp(&shape, 1);
    let board = open_board(Backend::Model, Some(1 << 16), None).unwrap();
    let err = DeviceMlp::new(board, &shape, scheme(Rounding::Stochastic), &init, 64, 0.1)
        .err()
        .expect("203k weights do not fit 64k words")
        .to_string();
    assert!(
        err.contains("array/memory too small for this network"),
        "{err}"
    );
    assert!(err.contains("W1 200704"), "{err}");
}

#[test]
fn eta_takes_the_most_bits_the_update_allows() {
    let (q, fl) = eta_words(0.1, 64, 14, 10).unwrap();
    // 0.1/64 · 2^25 = 52,429 is the largest eta_q below 2^16.
    assert_eq!((q, fl), (52_429, 25));
    let eta = f64::from(q) / f64::from(fl).exp2();
    assert!((eta / (0.1 / 64.0) - 1.0).abs() < 1e-4);
    // A step of 2 needs eta_q = 2^(fl_eta + 1), so fl_eta <= 14, but s >= 0 needs fl_eta >= 4.
    let (q, fl) = eta_words(2.0, 1, 14, 10).unwrap();
    assert_eq!(f64::from(q) / f64::from(fl).exp2(), 2.0);
    assert!(eta_words(1e-12, 64, 14, 10).is_err());
    assert!(eta_words(1e6, 1, 14, 10).is_err());
}
