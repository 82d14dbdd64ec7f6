//! The device CNN against the same step written directly with the model's functions and the
//! host's gathers: the layout, strides, transposes, K slices and seeds of every command are
//! what the module documents.

use qtrain_driver::accelerator::ModelBoard;
use qtrain_driver::device::EngineConfig;
use qtrain_model::{
    bias_add, gemm, quantize, relu, relu_mask, seed_states, splitmix64, update, GemmParams, Matrix,
    Rounding, UpdateParams,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::train::device::CountingBoard;
use crate::train::net::cnn::init_cnn;
use crate::train::net::device_mlp::Formats;

const FL: Formats = Formats {
    w: 14,
    a: 10,
    g: 14,
    dw: 10,
};

/// 14x14 images, 3x3 kernels, 2 and 3 channels, 4 classes: every step of the LeNet CNN on
/// a small scale (144 and 16 positions per image).
const SMALL: CnnShape = CnnShape {
    side: 14,
    k: 3,
    c1: 2,
    c2: 3,
    classes: 4,
};

/// The board's max K: small, so that the weight gradients of both convolutions are sliced.
const MAX_K: usize = 64;

fn scheme(rounding: Rounding) -> FixedScheme {
    FixedScheme {
        fl: FL,
        gemm_rounding: rounding,
        grad_rounding: rounding,
        update_rounding: rounding,
    }
}

fn board(max_k: usize) -> TrainingBoard {
    let mut b = ModelBoard::new(EngineConfig {
        mem_words: 1 << 16,
        max_k: max_k as u32,
        ..EngineConfig::default()
    });
    b.hello().unwrap();
    TrainingBoard {
        board: CountingBoard::new(Box::new(b)),
        counts_cycles: false,
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

fn mat(rows: usize, cols: usize, data: Vec<i16>) -> Matrix {
    assert_eq!(data.len(), rows * cols);
    Matrix { rows, cols, data }
}

fn rows_of(m: &Matrix, r0: usize, n: usize) -> Matrix {
    mat(n, m.cols, m.data[r0 * m.cols..(r0 + n) * m.cols].to_vec())
}

/// `Z = X·W + b`, ReLU if `relu`.
fn layer(x: &Matrix, w: &Matrix, b: &[i16], relu_too: bool, rnd: Rounding, seed: u64) -> Matrix {
    let p = params((FL.a, FL.w, FL.a), rnd, seed);
    let z = bias_add(&gemm(x, false, w, false, None, &p).unwrap(), b, FL.a, FL.w).unwrap();
    if relu_too {
        relu(&z)
    } else {
        z
    }
}

/// dW and db in K slices of MAX_K, then both UPDATEs: the new (W, b).
#[allow(clippy::too_many_arguments)]
fn weight_step(
    x: &Matrix,
    dz: &Matrix,
    (w, b): (&Matrix, &[i16]),
    l: usize,
    rows: usize,
    seed: u64,
    lr: f64,
    rnd: Rounding,
) -> (Vec<i16>, Vec<i16>) {
    let k = x.rows;
    let mut dw: Option<Matrix> = None;
    let mut db: Option<Matrix> = None;
    for (i, k0) in (0..k).step_by(MAX_K).enumerate() {
        let kc = MAX_K.min(k - k0);
        let (xs, ds) = (rows_of(x, k0, kc), rows_of(dz, k0, kc));
        let pw = params(
            (FL.a, FL.g, FL.dw),
            rnd,
            splitmix64(op_seed(seed, l, 1), i as u64),
        );
        dw = Some(gemm(&xs, true, &ds, false, dw.as_ref(), &pw).unwrap());
        let ones = mat(1, kc, vec![1 << 14; kc]);
        let pb = params(
            (14, FL.g, FL.dw),
            rnd,
            splitmix64(op_seed(seed, l, 2), i as u64),
        );
        db = Some(gemm(&ones, false, &ds, false, db.as_ref(), &pb).unwrap());
    }
    let (eta_q, fl_eta) = eta_words(lr, rows, FL.w, FL.dw).unwrap();
    let up = |s: u64| {
        let (row_state, col_state) = seed_states(s);
        UpdateParams {
            fl_w: FL.w,
            fl_g: FL.dw,
            fl_eta,
            eta_q,
            rounding: rnd,
            grid_shift: 0,
            grid_offset: 0,
            w_min: i16::MIN,
            w_max: i16::MAX,
            row_state,
            col_state,
        }
    };
    let new_w = update(w, &dw.unwrap(), &up(op_seed(seed, l, 3)))
        .unwrap()
        .data;
    let bm = mat(1, b.len(), b.to_vec());
    let new_b = update(&bm, &db.unwrap(), &up(op_seed(seed, l, 4)))
        .unwrap()
        .data;
    (new_w, new_b)
}

/// One training step of the reference: returns the new `[W1, b1, W2, b2, W3, b3]`.
fn reference_step(
    p: &[Vec<i16>],
    pixels: &[u8],
    labels: &[u8],
    seed: u64,
    lr: f64,
    rnd: Rounding,
) -> Vec<Vec<i16>> {
    let s = SMALL;
    let rows = labels.len();
    let (c1, c2) = (s.conv1(), s.conv2());
    let dims = s.layers();
    let w: Vec<Matrix> = (0..3)
        .map(|l| mat(dims[l].0, dims[l].1, p[2 * l].clone()))
        .collect();
    let b = |l: usize| p[2 * l + 1].as_slice();
    let fwd = splitmix64(seed, 0);
    let x: Vec<i16> = pixels
        .iter()
        .map(|&v| quantize(f64::from(v) / 255.0, FL.a, Rounding::Nearest, &mut || 0))
        .collect();
    let (m1, m2) = (rows * c1.positions(), rows * c2.positions());
    let cols1 = mat(m1, c1.patch(), im2col(&x, rows, &c1));
    let h1 = layer(&cols1, &w[0], b(0), true, rnd, splitmix64(fwd, 0));
    let (p1, arg1) = max_pool(&h1.data, rows, (c1.out_h(), c1.out_w(), c1.c_out));
    let cols2 = mat(m2, c2.patch(), im2col(&p1, rows, &c2));
    let h2 = layer(&cols2, &w[1], b(1), true, rnd, splitmix64(fwd, 1));
    let (p2, arg2) = max_pool(&h2.data, rows, (c2.out_h(), c2.out_w(), c2.c_out));
    let x3 = mat(rows, s.fc_inputs(), p2);
    let z3 = layer(&x3, &w[2], b(2), false, rnd, splitmix64(fwd, 2));
    let logits: Vec<f64> = z3.data.iter().map(|&q| dequantize(q, FL.a)).collect();
    let (_, grad) = softmax_xent(&logits, labels, s.classes);
    let mut rng = ChaCha8Rng::seed_from_u64(splitmix64(seed, 1));
    let dz3 = mat(
        rows,
        s.classes,
        grad.iter()
            .map(|&g| quantize(g, FL.g, rnd, &mut || rng.gen::<u16>()))
            .collect(),
    );
    let pg = |l: usize| params((FL.g, FL.w, FL.g), rnd, op_seed(seed, l, 0));
    let mut out = vec![Vec::new(); 6];

    let dx3 = gemm(&dz3, false, &w[2], true, None, &pg(2)).unwrap();
    (out[4], out[5]) = weight_step(&x3, &dz3, (&w[2], b(2)), 2, rows, seed, lr, rnd);
    let dh2 = mat(m2, c2.c_out, max_unpool(&dx3.data, &arg2, m2 * c2.c_out, 0));
    let dz2 = relu_mask(&h2, &dh2).unwrap();
    let dcols2 = gemm(&dz2, false, &w[1], true, None, &pg(1)).unwrap();
    (out[2], out[3]) = weight_step(&cols2, &dz2, (&w[1], b(1)), 1, rows, seed, lr, rnd);
    let dp1 = col2im_words(&dcols2.data, rows, &c2);
    let dh1 = mat(m1, c1.c_out, max_unpool(&dp1, &arg1, m1 * c1.c_out, 0));
    let dz1 = relu_mask(&h1, &dh1).unwrap();
    (out[0], out[1]) = weight_step(&cols1, &dz1, (&w[0], b(0)), 0, rows, seed, lr, rnd);
    out
}

#[test]
fn a_device_step_is_the_model_step() {
    let init = init_cnn(&SMALL, 5);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for rnd in [Rounding::Stochastic, Rounding::Nearest] {
        let mut cnn = DeviceCnn::new(board(MAX_K), &SMALL, scheme(rnd), &init, 3, 0.5).unwrap();
        // K of the first convolution's weight gradient is 432 (7 slices of 64), of the second
        // 48; a short last batch (2 of 3 rows) exercises partly used buffers.
        for rows in [3, 2, 3] {
            let pixels: Vec<u8> = (0..rows * SMALL.inputs()).map(|_| rng.gen()).collect();
            let labels: Vec<u8> = (0..rows).map(|_| rng.gen_range(0..4)).collect();
            let Params::Fixed { tensors } = cnn.params().unwrap() else {
                panic!("fixed parameters")
            };
            let seed = 91 + rows as u64;
            let want = reference_step(&tensors, &pixels, &labels, seed, 0.5, rnd);
            cnn.train_batch(&pixels, &labels, seed).unwrap();
            let Params::Fixed { tensors: got } = cnn.params().unwrap() else {
                panic!("fixed parameters")
            };
            assert_eq!(got, want, "{rnd} rows {rows}");
            for l in 0..6 {
                assert_ne!(
                    got[l], tensors[l],
                    "{rnd}: the step left tensor {l} unchanged"
                );
            }
        }
    }
}

#[test]
fn plans_that_do_not_fit_are_refused() {
    let shape = CnnShape::LENET;
    let init = init_cnn(&shape, 1);
    let err = DeviceCnn::new(
        board(4096),
        &shape,
        scheme(Rounding::Nearest),
        &init,
        64,
        0.1,
    )
    .err()
    .expect("the LeNet plan does not fit 64k words")
    .to_string();
    assert!(
        err.contains("array/memory too small for this network") && err.contains("C1 (im2col)"),
        "{err}"
    );
    let err = DeviceCnn::new(
        board(4096),
        &shape,
        scheme(Rounding::Nearest),
        &init,
        200,
        0.1,
    )
    .err()
    .expect("200 images of 576 positions exceed a 16-bit dimension")
    .to_string();
    assert!(err.contains("at most 113"), "{err}");
}
