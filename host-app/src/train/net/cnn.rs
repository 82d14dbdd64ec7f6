//! The LeNet-like CNN (`--model cnn`) and its `f32` forward and backward passes on the host.
//!
//! For 28x28 MNIST images with the default channels (8, 16):
//!
//! | layer | output (per image) | parameters |
//! |---|---|---|
//! | conv 5x5, 1 -> 8, valid, + bias, ReLU | 24x24x8 | 25·8 + 8 |
//! | max pool 2x2, stride 2 | 12x12x8 | |
//! | conv 5x5, 8 -> 16, valid, + bias, ReLU | 8x8x16 | 200·16 + 16 |
//! | max pool 2x2, stride 2 | 4x4x16 = 256 | |
//! | fully connected 256 -> 10 (+ bias): the logits | 10 | 256·10 + 10 |
//!
//! 5,994 parameters, about 0.33 million multiply-adds per image forward. Each convolution is
//! a matrix product of its `im2col` receptive fields (`(images·positions) x k·k·c_in`) with
//! its weights (`k·k·c_in x c_out`), so the parameters have the same `[W, b]` layout as dense
//! layers ([`DenseF32`]) and every method's parameter handling carries over.

use super::im2col::{col2im, im2col, Conv};
use super::mlp::sgemm;
use super::pool::{max_pool, max_unpool};
use super::{init_layers, DenseF32};
use crate::train::loss::{softmax_xent, BatchOutcome};

/// The CNN's shape: the image side, kernel side, channels of the two convolutions, classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CnnShape {
    /// Image side (28 for MNIST).
    pub side: usize,
    /// Kernel side of both convolutions.
    pub k: usize,
    /// Channels of the first convolution.
    pub c1: usize,
    /// Channels of the second convolution.
    pub c2: usize,
    /// Classes.
    pub classes: usize,
}

impl CnnShape {
    /// The network of the module documentation for 28x28 images: 5x5 kernels, 8 and 16
    /// channels, 10 classes.
    pub const LENET: CnnShape = CnnShape {
        side: 28,
        k: 5,
        c1: 8,
        c2: 16,
        classes: 10,
    };

    /// How a run's identity names it (`layers` of the checkpoint): channels from the input
    /// to the classes.
    pub fn widths(&self) -> Vec<usize> {
        vec![1, self.c1, self.c2, self.classes]
    }

    /// The first convolution.
    pub fn conv1(&self) -> Conv {
        Conv {
            h: self.side,
            w: self.side,
            c_in: 1,
            k: self.k,
            c_out: self.c1,
        }
    }

    /// Side of the first pooled map.
    fn side1(&self) -> usize {
        self.conv1().out_h() / 2
    }

    /// The second convolution, on the first pooled map.
    pub fn conv2(&self) -> Conv {
        Conv {
            h: self.side1(),
            w: self.side1(),
            c_in: self.c1,
            k: self.k,
            c_out: self.c2,
        }
    }

    /// Inputs of the dense layer: the second pooled map.
    pub fn fc_inputs(&self) -> usize {
        let c = self.conv2();
        (c.out_h() / 2) * (c.out_w() / 2) * self.c2
    }

    /// `(inputs, outputs)` of the three weight matrices.
    pub fn layers(&self) -> [(usize, usize); 3] {
        let (c1, c2) = (self.conv1(), self.conv2());
        [
            (c1.patch(), c1.c_out),
            (c2.patch(), c2.c_out),
            (self.fc_inputs(), self.classes),
        ]
    }

    /// Trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.layers().iter().map(|(i, o)| i * o + o).sum()
    }

    /// Pixels per image.
    pub fn inputs(&self) -> usize {
        self.side * self.side
    }
}

/// He-normal weights (fan-in `k·k·c_in` for a convolution) and zero biases from `seed`.
pub fn init_cnn(shape: &CnnShape, seed: u64) -> Vec<DenseF32> {
    init_layers(&shape.layers(), seed)
}

/// What the backward pass needs of a forward pass.
pub struct CnnActivations {
    rows: usize,
    cols1: Vec<f32>,
    /// ReLU outputs of the first convolution, `(rows·576) x c1`.
    h1: Vec<f32>,
    arg1: Vec<u32>,
    cols2: Vec<f32>,
    h2: Vec<f32>,
    arg2: Vec<u32>,
    /// The pooled second map, `rows x fc_inputs`.
    p2: Vec<f32>,
    logits: Vec<f32>,
}

/// `X·W + b` for `rows` rows, with ReLU if `relu`.
fn dense(x: &[f32], rows: usize, layer: &DenseF32, relu: bool) -> Vec<f32> {
    let mut z = vec![0.0f32; rows * layer.outputs];
    for row in z.chunks_exact_mut(layer.outputs) {
        row.copy_from_slice(&layer.b);
    }
    sgemm(
        rows,
        layer.inputs,
        layer.outputs,
        x,
        false,
        &layer.w,
        false,
        1.0,
        &mut z,
    );
    if relu {
        z.iter_mut().for_each(|v| *v = v.max(0.0));
    }
    z
}

/// Forward pass of `rows` images `x` (`rows x side²`, values already scaled).
pub fn forward(shape: &CnnShape, layers: &[DenseF32], x: &[f32], rows: usize) -> CnnActivations {
    let (c1, c2) = (shape.conv1(), shape.conv2());
    let cols1 = im2col(x, rows, &c1);
    let h1 = dense(&cols1, rows * c1.positions(), &layers[0], true);
    let (p1, arg1) = max_pool(&h1, rows, (c1.out_h(), c1.out_w(), c1.c_out));
    let cols2 = im2col(&p1, rows, &c2);
    let h2 = dense(&cols2, rows * c2.positions(), &layers[1], true);
    let (p2, arg2) = max_pool(&h2, rows, (c2.out_h(), c2.out_w(), c2.c_out));
    let logits = dense(&p2, rows, &layers[2], false);
    CnnActivations {
        rows,
        cols1,
        h1,
        arg1,
        cols2,
        h2,
        arg2,
        p2,
        logits,
    }
}

/// Loss and accuracy of a forward pass, and the gradient of the summed loss by the logits.
pub fn outcome(shape: &CnnShape, act: &CnnActivations, labels: &[u8]) -> (BatchOutcome, Vec<f64>) {
    let logits: Vec<f64> = act.logits.iter().map(|&v| f64::from(v)).collect();
    softmax_xent(&logits, labels, shape.classes)
}

/// `dX = dZ·W^T` (`rows x inputs`).
fn input_grad(dz: &[f32], rows: usize, layer: &DenseF32) -> Vec<f32> {
    let mut dx = vec![0.0f32; rows * layer.inputs];
    sgemm(
        rows,
        layer.outputs,
        layer.inputs,
        dz,
        false,
        &layer.w,
        true,
        0.0,
        &mut dx,
    );
    dx
}

/// `W <- W - eta·X^T·dZ`, `b <- b - eta·1^T·dZ`.
fn step(layer: &mut DenseF32, x: &[f32], dz: &[f32], rows: usize, eta: f32) {
    let (inputs, outputs) = (layer.inputs, layer.outputs);
    let mut dw = vec![0.0f32; inputs * outputs];
    sgemm(inputs, rows, outputs, x, true, dz, false, 0.0, &mut dw);
    for (w, g) in layer.w.iter_mut().zip(&dw) {
        *w -= eta * g;
    }
    let mut db = vec![0.0f32; outputs];
    for row in dz.chunks_exact(outputs) {
        for (d, g) in db.iter_mut().zip(row) {
            *d += g;
        }
    }
    for (b, g) in layer.b.iter_mut().zip(&db) {
        *b -= eta * g;
    }
}

/// Zeroes `d` where the ReLU output `h` is not positive.
fn relu_mask(d: &mut [f32], h: &[f32]) {
    for (d, &h) in d.iter_mut().zip(h) {
        if h <= 0.0 {
            *d = 0.0;
        }
    }
}

/// One SGD step on the mean loss: `W <- W - (lr / rows)·dL_sum/dW`, `grad` being the
/// gradient of the summed loss by the logits. Every input gradient is computed with the
/// weights before their update.
pub fn backward_and_step(
    shape: &CnnShape,
    layers: &mut [DenseF32],
    act: &CnnActivations,
    grad: &[f64],
    lr: f32,
) {
    let rows = act.rows;
    let eta = lr / rows as f32;
    let (c1, c2) = (shape.conv1(), shape.conv2());
    let dz3: Vec<f32> = grad.iter().map(|&g| g as f32).collect();
    let dp2 = input_grad(&dz3, rows, &layers[2]);
    step(&mut layers[2], &act.p2, &dz3, rows, eta);

    let mut dz2 = max_unpool(&dp2, &act.arg2, act.h2.len(), 0.0);
    relu_mask(&mut dz2, &act.h2);
    let rows2 = rows * c2.positions();
    let dcols2 = input_grad(&dz2, rows2, &layers[1]);
    step(&mut layers[1], &act.cols2, &dz2, rows2, eta);

    let dp1 = col2im(&dcols2, rows, &c2, 0.0f32, |a, s| a + s);
    let mut dz1 = max_unpool(&dp1, &act.arg1, act.h1.len(), 0.0);
    relu_mask(&mut dz1, &act.h1);
    step(&mut layers[0], &act.cols1, &dz1, rows * c1.positions(), eta);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small CNN (14x14 images, 3x3 kernels, 2 and 3 channels, 4 classes) keeps the finite
    /// differences quick; it has every step of the LeNet one.
    const SMALL: CnnShape = CnnShape {
        side: 14,
        k: 3,
        c1: 2,
        c2: 3,
        classes: 4,
    };

    fn loss(layers: &[DenseF32], x: &[f32], labels: &[u8]) -> f64 {
        let act = forward(&SMALL, layers, x, labels.len());
        outcome(&SMALL, &act, labels).0.loss_sum
    }

    #[test]
    fn lenet_shape() {
        let s = CnnShape::LENET;
        assert_eq!(s.layers(), [(25, 8), (200, 16), (256, 10)]);
        assert_eq!(s.parameter_count(), 5_994);
        assert_eq!(s.conv2().positions(), 64);
        assert_eq!(SMALL.layers(), [(9, 2), (18, 3), (12, 4)]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let layers = init_cnn(&SMALL, 7);
        let rows = 3;
        let x: Vec<f32> = (0..rows * SMALL.inputs())
            .map(|i| ((i as f32 * 0.61).sin() + 1.0) * 0.5)
            .collect();
        let labels = [1, 3, 0];
        let act = forward(&SMALL, &layers, &x, rows);
        let (_, grad) = outcome(&SMALL, &act, &labels);
        // With lr = rows the step subtracts exactly the gradient of the summed loss.
        let mut stepped = layers.clone();
        backward_and_step(&SMALL, &mut stepped, &act, &grad, rows as f32);
        let h = 1e-2f32;
        let mut checked = 0;
        for l in 0..3 {
            let n = layers[l].w.len();
            for idx in [0, n / 3, n / 2, n - 1] {
                let analytic = f64::from(layers[l].w[idx] - stepped[l].w[idx]);
                let mut plus = layers.clone();
                plus[l].w[idx] += h;
                let mut minus = layers.clone();
                minus[l].w[idx] -= h;
                let numeric =
                    (loss(&plus, &x, &labels) - loss(&minus, &x, &labels)) / (2.0 * f64::from(h));
                assert!(
                    (numeric - analytic).abs() < 3e-3 * (1.0 + analytic.abs()),
                    "layer {l} w[{idx}]: {numeric} vs {analytic}"
                );
                checked += usize::from(analytic != 0.0);
            }
            for j in 0..layers[l].outputs {
                let analytic = f64::from(layers[l].b[j] - stepped[l].b[j]);
                let mut plus = layers.clone();
                plus[l].b[j] += h;
                let mut minus = layers.clone();
                minus[l].b[j] -= h;
                let numeric =
                    (loss(&plus, &x, &labels) - loss(&minus, &x, &labels)) / (2.0 * f64::from(h));
                assert!(
                    (numeric - analytic).abs() < 3e-3 * (1.0 + analytic.abs()),
                    "layer {l} b[{j}]: {numeric} vs {analytic}"
                );
            }
        }
        // The check is not vacuous: most of the sampled weights have a gradient.
        assert!(checked >= 8, "{checked}");
    }
}
