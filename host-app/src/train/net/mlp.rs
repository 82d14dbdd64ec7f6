//! The MLP in `f32` on the host: the float baseline's forward pass, backward pass and plain
//! SGD step, with `matrixmultiply`'s single-threaded SGEMM (the device path is one thread too,
//! so their epoch times compare like for like).

use super::DenseF32;
use crate::train::loss::{softmax_xent, BatchOutcome};

/// `C = alpha·op(A)·op(B) + beta·C` on row-major slices; `op(A)` is `m x k`, `op(B)` `k x n`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    trans_a: bool,
    b: &[f32],
    trans_b: bool,
    beta: f32,
    c: &mut [f32],
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    // Row-major strides of the stored matrices; a transpose swaps them.
    let (rsa, csa) = if trans_a { (1, m) } else { (k, 1) };
    let (rsb, csb) = if trans_b { (1, k) } else { (n, 1) };
    // SAFETY: the asserts above keep every index the strides reach inside the slices, and
    // `c` is a distinct &mut, so it aliases neither input.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// The activations of a forward pass: `h[0]` is the input, `h[l + 1]` layer `l`'s output
/// (after ReLU for hidden layers, the logits for the last).
pub struct Activations {
    rows: usize,
    h: Vec<Vec<f32>>,
}

/// Forward pass of `rows` images `x` (`rows x inputs`).
pub fn forward(layers: &[DenseF32], x: Vec<f32>, rows: usize) -> Activations {
    let mut h = vec![x];
    for (l, layer) in layers.iter().enumerate() {
        let mut z = vec![0.0f32; rows * layer.outputs];
        for row in z.chunks_exact_mut(layer.outputs) {
            row.copy_from_slice(&layer.b);
        }
        sgemm(
            rows,
            layer.inputs,
            layer.outputs,
            &h[l],
            false,
            &layer.w,
            false,
            1.0,
            &mut z,
        );
        if l + 1 < layers.len() {
            z.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        h.push(z);
    }
    Activations { rows, h }
}

impl Activations {
    /// The logits, `rows x classes`.
    pub fn logits(&self) -> &[f32] {
        self.h.last().expect("a network has layers")
    }
}

/// Loss and accuracy of a forward pass against `labels`.
pub fn outcome(layers: &[DenseF32], act: &Activations, labels: &[u8]) -> (BatchOutcome, Vec<f64>) {
    let classes = layers.last().expect("a network has layers").outputs;
    let logits: Vec<f64> = act.logits().iter().map(|&v| f64::from(v)).collect();
    softmax_xent(&logits, labels, classes)
}

/// The gradients of the summed loss with respect to each layer's weights and bias,
/// `(dW, db)` per layer, where `grad` is the gradient with respect to the logits.
pub fn gradients(
    layers: &[DenseF32],
    act: &Activations,
    grad: &[f64],
) -> Vec<(Vec<f32>, Vec<f32>)> {
    let rows = act.rows;
    let mut dz: Vec<f32> = grad.iter().map(|&g| g as f32).collect();
    let mut out = Vec::with_capacity(layers.len());
    for l in (0..layers.len()).rev() {
        let (inputs, outputs) = (layers[l].inputs, layers[l].outputs);
        let below = (l > 0).then(|| {
            let mut dh = vec![0.0f32; rows * inputs];
            sgemm(
                rows,
                outputs,
                inputs,
                &dz,
                false,
                &layers[l].w,
                true,
                0.0,
                &mut dh,
            );
            // ReLU: the output is positive exactly where the pre-activation is.
            for (d, &h) in dh.iter_mut().zip(&act.h[l]) {
                if h <= 0.0 {
                    *d = 0.0;
                }
            }
            dh
        });
        let mut dw = vec![0.0f32; inputs * outputs];
        sgemm(
            inputs, rows, outputs, &act.h[l], true, &dz, false, 0.0, &mut dw,
        );
        let db = (0..outputs)
            .map(|j| dz.iter().skip(j).step_by(outputs).sum())
            .collect();
        out.push((dw, db));
        if let Some(dh) = below {
            dz = dh;
        }
    }
    out.reverse();
    out
}

/// One SGD step on the mean loss of the batch: `W <- W - (lr / rows)·dL_sum/dW`, where
/// `grad` is the gradient of the summed loss with respect to the logits.
pub fn backward_and_step(layers: &mut [DenseF32], act: &Activations, grad: &[f64], lr: f32) {
    let eta = lr / act.rows as f32;
    // Every gradient uses the weights before the step, as backpropagation requires.
    let grads = gradients(layers, act, grad);
    for (layer, (dw, db)) in layers.iter_mut().zip(grads) {
        for (w, g) in layer.w.iter_mut().zip(&dw) {
            *w -= eta * g;
        }
        for (b, g) in layer.b.iter_mut().zip(&db) {
            *b -= eta * g;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::net::{init_mlp, MlpShape};

    fn loss(layers: &[DenseF32], x: &[f32], labels: &[u8]) -> f64 {
        let act = forward(layers, x.to_vec(), labels.len());
        outcome(layers, &act, labels).0.loss_sum
    }

    #[test]
    fn gradients_match_finite_differences() {
        let shape = MlpShape::new(vec![5, 4, 3]).unwrap();
        let layers = init_mlp(&shape, 11);
        let x: Vec<f32> = (0..10).map(|i| (i as f32 * 0.37).sin()).collect();
        let labels = [2, 0];
        let act = forward(&layers, x.clone(), 2);
        let (_, grad) = outcome(&layers, &act, &labels);
        // With lr = rows the step subtracts exactly the gradient of the summed loss.
        let mut stepped = layers.clone();
        backward_and_step(&mut stepped, &act, &grad, 2.0);
        let h = 1e-2f32;
        for l in 0..2 {
            for idx in [0, 3, 7] {
                let analytic = f64::from(layers[l].w[idx] - stepped[l].w[idx]);
                let mut plus = layers.clone();
                plus[l].w[idx] += h;
                let mut minus = layers.clone();
                minus[l].w[idx] -= h;
                let numeric =
                    (loss(&plus, &x, &labels) - loss(&minus, &x, &labels)) / (2.0 * f64::from(h));
                assert!(
                    (numeric - analytic).abs() < 2e-3,
                    "layer {l} w[{idx}]: {numeric} vs {analytic}"
                );
            }
            let analytic = f64::from(layers[l].b[1] - stepped[l].b[1]);
            let mut plus = layers.clone();
            plus[l].b[1] += h;
            let mut minus = layers.clone();
            minus[l].b[1] -= h;
            let numeric =
                (loss(&plus, &x, &labels) - loss(&minus, &x, &labels)) / (2.0 * f64::from(h));
            assert!(
                (numeric - analytic).abs() < 2e-3,
                "layer {l} b: {numeric} vs {analytic}"
            );
        }
    }
}
