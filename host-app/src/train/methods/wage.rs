//! `--method wage`: WAGE (Wu et al., "Training and Inference with Integers in Deep Neural
//! Networks", ICLR 2018) on the host, with `k_W, k_A, k_G, k_E` bits (default 2-8-8-8):
//!
//! - `σ(k) = 2^(1-k)`, `Q(x, k) = clip(σ(k)·round(x/σ(k)), -1 + σ(k), 1 - σ(k))` (eq. 4),
//!   `Shift(x) = 2^round(log2 x)` (eq. 5);
//! - weights are stored at `k_G` bits and used at `k_W` bits, `W_q = Q(W, k_W)` (eq. 6), with
//!   a constant layer scale `α = max(Shift(L_min / L), 1)`, `L = sqrt(6 / n_in)`,
//!   `L_min = β·σ(k_W)`, β = 1.5, instead of batch norm (eq. 7, 8);
//! - activations `a = Q(relu(x·W_q / α), k_A)` (eq. 9; the logits are left unquantized for the
//!   softmax);
//! - errors `e_q = Q(e / Shift(max|e|), k_E)` (eq. 10), the straight-through derivative of
//!   `Q_A`, and `∂/∂x = e_q·W_q^T / α`;
//! - gradients `g = x^T·e_q`, `ΔW = σ(k_G)·sgn(g_s)·(⌊|g_s|⌋ + Bernoulli(|g_s| - ⌊|g_s|⌋))`
//!   with `g_s = η·g / Shift(max|g|)` (eq. 11, 12), `W <- clip(W - ΔW, -1 + σ(k_G),
//!   1 - σ(k_G))` (eq. 13): plain SGD with the learning rate η = `--lr`.
//!
//! There are no biases (they stay zero) and no momentum, as in WAGE.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Counters, Params, Trainer};
use crate::train::loss::{softmax_xent, BatchOutcome};
use crate::train::net::mlp::sgemm;
use crate::train::net::DenseF32;

/// Bits of weights, activations, gradients and errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WageConfig {
    /// `k_W`.
    pub w: u8,
    /// `k_A`.
    pub a: u8,
    /// `k_G`.
    pub g: u8,
    /// `k_E`.
    pub e: u8,
}

/// `σ(k) = 2^(1-k)`, the step of a k-bit number in (-1, 1).
pub fn sigma(k: u8) -> f32 {
    (1.0 - f32::from(k)).exp2()
}

/// `Q(x, k)`: nearest multiple of σ(k) (ties away from zero), clipped to `±(1 - σ(k))`.
pub fn q(x: f32, k: u8) -> f32 {
    let s = sigma(k);
    (s * (x / s).round()).clamp(-1.0 + s, 1.0 - s)
}

/// `Shift(x) = 2^round(log2 x)`, the power of two nearest to x on a log scale.
pub fn shift(x: f32) -> f32 {
    x.log2().round().exp2()
}

/// `Q_E`: the errors scaled by the power of two nearest their largest magnitude, quantized.
pub fn q_error(e: &mut [f32], k: u8) {
    let max = e.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if max > 0.0 {
        let s = shift(max);
        e.iter_mut().for_each(|v| *v = q(*v / s, k));
    }
}

/// `Q_G`: the weight change `σ(k)·SR(η·g / Shift(max|g|))`, stochastic rounding to
/// integers with `draw()` in [0, 1).
pub fn q_grad(g: &[f32], k: u8, lr: f32, mut draw: impl FnMut() -> f32) -> Vec<f32> {
    let max = g.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if max == 0.0 {
        return vec![0.0; g.len()];
    }
    let scale = lr / shift(max);
    g.iter()
        .map(|&v| {
            let gs = (v * scale).abs();
            let whole = gs.floor() + f32::from(u8::from(draw() < gs - gs.floor()));
            sigma(k) * v.signum() * whole
        })
        .collect()
}

/// The WAGE trainer.
pub struct Wage {
    layers: Vec<DenseF32>,
    /// Layer scales α.
    alpha: Vec<f32>,
    bits: WageConfig,
    lr: f32,
    pixel: [f32; 256],
}

impl Wage {
    /// Starts from the common He-normal draw scaled by `max(L_min, L)/L` (so that its
    /// spread is WAGE's uniform `[-max(L_min, L), max(L_min, L)]` one), stored at `k_G` bits.
    pub fn new(bits: &WageConfig, init: &[DenseF32], lr: f64) -> Wage {
        let l_min = 1.5 * sigma(bits.w);
        let mut alpha = Vec::new();
        let layers = init
            .iter()
            .map(|l| {
                let lim = (6.0 / l.inputs as f32).sqrt();
                alpha.push(shift(l_min / lim).max(1.0));
                let scale = l_min.max(lim) / lim;
                DenseF32 {
                    w: l.w.iter().map(|&w| q(w * scale, bits.g)).collect(),
                    b: vec![0.0; l.outputs],
                    ..*l
                }
            })
            .collect();
        Wage {
            layers,
            alpha,
            bits: *bits,
            lr: lr as f32,
            pixel: std::array::from_fn(|p| p as f32 / 255.0),
        }
    }

    /// Forward pass: each layer's input and the logits; the quantized weights.
    fn forward(&self, pixels: &[u8], rows: usize) -> (Vec<Vec<f32>>, Vec<f32>, Vec<Vec<f32>>) {
        let wq: Vec<Vec<f32>> = self
            .layers
            .iter()
            .map(|l| l.w.iter().map(|&w| q(w, self.bits.w)).collect())
            .collect();
        let mut h = vec![pixels
            .iter()
            .map(|&p| self.pixel[usize::from(p)])
            .collect::<Vec<f32>>()];
        let n = self.layers.len();
        for (l, layer) in self.layers.iter().enumerate() {
            let mut z = vec![0.0f32; rows * layer.outputs];
            sgemm(
                rows,
                layer.inputs,
                layer.outputs,
                &h[l],
                false,
                &wq[l],
                false,
                0.0,
                &mut z,
            );
            let a = self.alpha[l];
            if l + 1 == n {
                z.iter_mut().for_each(|v| *v /= a);
                return (h, z, wq);
            }
            h.push(
                z.iter()
                    .map(|&v| q((v / a).max(0.0), self.bits.a))
                    .collect(),
            );
        }
        unreachable!("a network has at least one layer")
    }

    fn classes(&self) -> usize {
        self.layers.last().map_or(1, |l| l.outputs)
    }
}

impl Trainer for Wage {
    fn train_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        let rows = labels.len();
        let (h, logits, wq) = self.forward(pixels, rows);
        let logits64: Vec<f64> = logits.iter().map(|&v| f64::from(v)).collect();
        let (outcome, grad) = softmax_xent(&logits64, labels, self.classes());
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut e: Vec<f32> = grad.iter().map(|&g| g as f32).collect();
        q_error(&mut e, self.bits.e);
        for l in (0..self.layers.len()).rev() {
            let (inputs, outputs) = (self.layers[l].inputs, self.layers[l].outputs);
            let mut g = vec![0.0f32; inputs * outputs];
            sgemm(inputs, rows, outputs, &h[l], true, &e, false, 0.0, &mut g);
            let below = (l > 0).then(|| {
                let mut dh = vec![0.0f32; rows * inputs];
                sgemm(rows, outputs, inputs, &e, false, &wq[l], true, 0.0, &mut dh);
                let a = self.alpha[l];
                // Straight through Q_A and the ReLU: the activation is positive exactly where
                // the pre-activation was (up to values that quantize to zero).
                for (d, &x) in dh.iter_mut().zip(&h[l]) {
                    *d = if x > 0.0 { *d / a } else { 0.0 };
                }
                q_error(&mut dh, self.bits.e);
                dh
            });
            let dw = q_grad(&g, self.bits.g, self.lr, || rng.gen::<f32>());
            let s = sigma(self.bits.g);
            for (w, d) in self.layers[l].w.iter_mut().zip(&dw) {
                *w = (*w - d).clamp(-1.0 + s, 1.0 - s);
            }
            if let Some(dh) = below {
                e = dh;
            }
        }
        Ok(outcome)
    }

    fn eval_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        _seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        let (_, logits, _) = self.forward(pixels, labels.len());
        let logits: Vec<f64> = logits.iter().map(|&v| f64::from(v)).collect();
        Ok(softmax_xent(&logits, labels, self.classes()).0)
    }

    fn params(&mut self) -> anyhow::Result<Params> {
        Ok(super::f32_params(&self.layers, &[]))
    }

    fn set_params(&mut self, p: &Params) -> anyhow::Result<()> {
        super::set_f32_params(&mut self.layers, &mut [], p)
    }

    fn counters(&mut self) -> anyhow::Result<Counters> {
        Ok(Counters::default())
    }

    fn describe(&self) -> String {
        let b = self.bits;
        format!(
            "WAGE {}-{}-{}-{} on the host (f32 arithmetic on quantized values), layer scales {:?}",
            b.w, b.a, b.g, b.e, self.alpha
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_on_grid_points_midpoints_and_the_clip() {
        assert_eq!(sigma(2), 0.5);
        assert_eq!(sigma(8), 1.0 / 128.0);
        // k = 2: the grid {-0.5, 0, 0.5}; midpoints round away from zero; ±1 clips to ±0.5.
        let cases = [
            (0.0, 0.0),
            (0.5, 0.5),
            (0.24, 0.0),
            (0.25, 0.5),
            (-0.25, -0.5),
            (0.9, 0.5),
            (-3.0, -0.5),
        ];
        for (x, y) in cases {
            assert_eq!(q(x, 2), y, "{x}");
        }
        // k = 8: a grid point stays, the top clips to 1 - 1/128.
        assert_eq!(q(3.0 / 128.0, 8), 3.0 / 128.0);
        assert_eq!(q(1.0, 8), 127.0 / 128.0);
        assert_eq!(shift(3.0), 4.0);
        assert_eq!(shift(0.7), 0.5);
        assert_eq!(shift(0.75), 1.0);
    }

    #[test]
    fn error_and_gradient_quantizers() {
        // max |e| = 3 -> Shift = 4: e/4 = [0.75, -0.125, 0.0025] -> 8 bits: 96/128, -16/128, 0.
        let mut e = [3.0, -0.5, 0.01];
        q_error(&mut e, 8);
        assert_eq!(e, [0.75, -0.125, 0.0]);
        // max |g| = 1 -> Shift 1; lr 2: g_s = [2, -1.5, 0.25]. With draw 0.4: 0.5 -> up, 0.25 ->
        // down; σ(8) = 1/128.
        let dw = q_grad(&[1.0, -0.75, 0.125], 8, 2.0, || 0.4);
        assert_eq!(dw, vec![2.0 / 128.0, -2.0 / 128.0, 0.0]);
        let dw = q_grad(&[1.0, -0.75, 0.125], 8, 2.0, || 0.9);
        assert_eq!(dw, vec![2.0 / 128.0, -1.0 / 128.0, 0.0]);
        let dw = q_grad(&[1.0, -0.75, 0.125], 8, 2.0, || 0.1);
        assert_eq!(dw, vec![2.0 / 128.0, -2.0 / 128.0, 1.0 / 128.0]);
        // Unbiased: the mean of many draws is the scaled gradient.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 20_000;
        let mean: f32 = (0..n)
            .map(|_| q_grad(&[1.0, 0.3], 8, 1.0, || rng.gen::<f32>())[1])
            .sum::<f32>()
            / n as f32;
        assert!((mean * 128.0 - 0.3).abs() < 0.02, "{mean}");
    }

    #[test]
    fn layer_scale_and_initial_weights() {
        let shape = crate::train::net::MlpShape::new(vec![784, 10]).unwrap();
        let init = crate::train::net::init_mlp(&shape, 1);
        let w = Wage::new(
            &WageConfig {
                w: 2,
                a: 8,
                g: 8,
                e: 8,
            },
            &init,
            1.0,
        );
        // L = sqrt(6/784) = 0.0875, L_min = 0.75: α = Shift(8.57) = 8.
        assert_eq!(w.alpha, vec![8.0]);
        let s = sigma(8);
        assert!(w.layers[0]
            .w
            .iter()
            .all(|&v| (v / s).fract() == 0.0 && v.abs() <= 1.0 - s));
    }
}
