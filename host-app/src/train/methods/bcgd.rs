//! `--method bcgd`: blended coarse gradient descent (Yin et al. 2019; Xin, SIAM News) on the
//! host in f32. Per layer, float weights `w_f`, their projection `Q(w_f)` (used by the
//! forward and backward passes) and a learnable resolution α of the quantized ReLU
//! `σ(x, α)` of the hidden outputs. One step:
//!
//! - `w_f <- (1 - ρ)·w_f + ρ·Q(w_f) - η·∇̃f(Q(w_f))`, the coarse gradient taken through the
//!   straight-through derivative of σ in x;
//! - `α <- α - η·∂̃f/∂α`, with σ's 2- or 3-valued coarse partial derivative in α.

use serde::{Deserialize, Serialize};

use super::bcgd_quant::{project, qrelu, qrelu_dalpha, qrelu_dx};
use super::{Counters, Params, Trainer};
use crate::train::loss::{softmax_xent, BatchOutcome};
use crate::train::net::mlp::sgemm;
use crate::train::net::DenseF32;

/// The options of `--method bcgd`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BcgdConfig {
    /// Weight bits of the projection.
    pub weight_bits: u8,
    /// Bits of the quantized ReLU.
    pub act_bits: u8,
    /// The blending factor ρ.
    pub rho: f64,
    /// 2 or 3: which coarse derivative in α.
    pub alpha_grad: u8,
}

impl BcgdConfig {
    /// The initial α: the ReLU's top level `L·α` at 4, a little above where the hidden
    /// pre-activations of the He-initialized network reach.
    pub fn initial_alpha(&self) -> f32 {
        4.0 / super::bcgd_quant::levels(self.act_bits)
    }
}

/// The BCGD trainer.
pub struct Bcgd {
    layers: Vec<DenseF32>,
    /// α of each hidden layer's quantized ReLU.
    alpha: Vec<f32>,
    config: BcgdConfig,
    lr: f32,
    pixel: [f32; 256],
}

/// A forward pass: inputs of each layer and hidden pre-activations.
struct Pass {
    rows: usize,
    /// `h[l]` feeds layer `l`.
    h: Vec<Vec<f32>>,
    /// Pre-activations of the hidden layers.
    z: Vec<Vec<f32>>,
    logits: Vec<f32>,
}

impl Bcgd {
    /// Starts from the common initial weights.
    pub fn new(config: &BcgdConfig, init: &[DenseF32], lr: f64) -> Bcgd {
        Bcgd {
            layers: init.to_vec(),
            alpha: vec![config.initial_alpha(); init.len().saturating_sub(1)],
            config: *config,
            lr: lr as f32,
            pixel: std::array::from_fn(|p| p as f32 / 255.0),
        }
    }

    fn projected(&self) -> Vec<Vec<f32>> {
        self.layers
            .iter()
            .map(|l| project(&l.w, self.config.weight_bits))
            .collect()
    }

    fn forward(&self, wq: &[Vec<f32>], pixels: &[u8], rows: usize) -> Pass {
        let mut h = vec![pixels
            .iter()
            .map(|&p| self.pixel[usize::from(p)])
            .collect::<Vec<f32>>()];
        let mut z = Vec::new();
        let n = self.layers.len();
        for (l, layer) in self.layers.iter().enumerate() {
            let mut out = vec![0.0f32; rows * layer.outputs];
            for row in out.chunks_exact_mut(layer.outputs) {
                row.copy_from_slice(&layer.b);
            }
            sgemm(
                rows,
                layer.inputs,
                layer.outputs,
                &h[l],
                false,
                &wq[l],
                false,
                1.0,
                &mut out,
            );
            if l + 1 == n {
                return Pass {
                    rows,
                    h,
                    z,
                    logits: out,
                };
            }
            let a = self.alpha[l];
            h.push(
                out.iter()
                    .map(|&x| qrelu(x, a, self.config.act_bits))
                    .collect(),
            );
            z.push(out);
        }
        unreachable!("a network has at least one layer")
    }

    fn outcome(&self, pass: &Pass, labels: &[u8]) -> (BatchOutcome, Vec<f64>) {
        let logits: Vec<f64> = pass.logits.iter().map(|&v| f64::from(v)).collect();
        softmax_xent(&logits, labels, self.layers.last().map_or(1, |l| l.outputs))
    }
}

impl Trainer for Bcgd {
    fn train_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        _seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        let wq = self.projected();
        let pass = self.forward(&wq, pixels, labels.len());
        let (outcome, grad) = self.outcome(&pass, labels);
        let rows = pass.rows;
        let eta = self.lr / rows as f32;
        let rho = self.config.rho as f32;
        let bits = self.config.act_bits;
        let mut dz: Vec<f32> = grad.iter().map(|&g| g as f32).collect();
        for l in (0..self.layers.len()).rev() {
            let (inputs, outputs) = (self.layers[l].inputs, self.layers[l].outputs);
            let mut dw = vec![0.0f32; inputs * outputs];
            sgemm(
                inputs, rows, outputs, &pass.h[l], true, &dz, false, 0.0, &mut dw,
            );
            let below = (l > 0).then(|| {
                let mut dh = vec![0.0f32; rows * inputs];
                sgemm(
                    rows, outputs, inputs, &dz, false, &wq[l], true, 0.0, &mut dh,
                );
                let (zb, a) = (&pass.z[l - 1], self.alpha[l - 1]);
                let dalpha: f32 = dh
                    .iter()
                    .zip(zb)
                    .map(|(&d, &x)| d * qrelu_dalpha(x, a, bits, self.config.alpha_grad))
                    .sum();
                dh.iter_mut()
                    .zip(zb)
                    .for_each(|(d, &x)| *d *= qrelu_dx(x, a, bits));
                (dh, dalpha)
            });
            let layer = &mut self.layers[l];
            for ((w, &q), g) in layer.w.iter_mut().zip(&wq[l]).zip(&dw) {
                *w = (1.0 - rho) * *w + rho * q - eta * g;
            }
            for (j, b) in layer.b.iter_mut().enumerate() {
                let g: f32 = dz.iter().skip(j).step_by(outputs).sum();
                *b -= eta * g;
            }
            if let Some((dh, dalpha)) = below {
                // α is a resolution: it stays positive.
                self.alpha[l - 1] = (self.alpha[l - 1] - eta * dalpha).max(1e-4);
                dz = dh;
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
        let wq = self.projected();
        let pass = self.forward(&wq, pixels, labels.len());
        Ok(self.outcome(&pass, labels).0)
    }

    fn params(&mut self) -> anyhow::Result<Params> {
        Ok(super::f32_params(
            &self.layers,
            std::slice::from_ref(&self.alpha),
        ))
    }

    fn set_params(&mut self, p: &Params) -> anyhow::Result<()> {
        let mut extra = [self.alpha.clone()];
        super::set_f32_params(&mut self.layers, &mut extra, p)?;
        let [alpha] = extra;
        self.alpha = alpha;
        Ok(())
    }

    fn counters(&mut self) -> anyhow::Result<Counters> {
        Ok(Counters::default())
    }

    fn describe(&self) -> String {
        let c = self.config;
        format!(
            "BCGD on the host (f32): {}-bit weight projections, {}-bit quantized ReLU with learned α \
             ({}-valued coarse derivative), ρ = {:e}",
            c.weight_bits, c.act_bits, c.alpha_grad, c.rho
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::net::{init_mlp, MlpShape};

    fn loss(b: &Bcgd, wq: &[Vec<f32>], pixels: &[u8], labels: &[u8]) -> f64 {
        let pass = b.forward(wq, pixels, labels.len());
        b.outcome(&pass, labels).0.loss_sum
    }

    /// With ρ = 0 and a 1-layer network the step is plain SGD at the projected weights; the
    /// blend with ρ = 1 and no gradient moves the float weights onto the projection.
    #[test]
    fn blend_and_coarse_gradient() {
        let shape = MlpShape::new(vec![4, 3]).unwrap();
        let init = init_mlp(&shape, 5);
        let pixels = [10u8, 200, 30, 0, 255, 1, 2, 3];
        let labels = [0u8, 2];
        let cfg = BcgdConfig {
            weight_bits: 1,
            act_bits: 2,
            rho: 1.0,
            alpha_grad: 3,
        };
        let mut b = Bcgd::new(&cfg, &init, 1e-30);
        let wq = b.projected();
        b.train_batch(&pixels, &labels, 0).unwrap();
        assert_eq!(b.layers[0].w, wq[0]);

        let mut b = Bcgd::new(&BcgdConfig { rho: 0.0, ..cfg }, &init, 2.0);
        let wq = b.projected();
        let before = b.layers[0].w.clone();
        let h = 1e-2f32;
        let numeric: Vec<f64> = [0, 5, 11]
            .iter()
            .map(|&i| {
                let (mut plus, mut minus) = (wq.clone(), wq.clone());
                plus[0][i] += h;
                minus[0][i] -= h;
                (loss(&b, &plus, &pixels, &labels) - loss(&b, &minus, &pixels, &labels))
                    / f64::from(2.0 * h)
            })
            .collect();
        b.train_batch(&pixels, &labels, 0).unwrap();
        for (k, i) in [0, 5, 11].into_iter().enumerate() {
            // lr = rows: the step subtracts the gradient of the summed loss.
            let analytic = f64::from(before[i] - b.layers[0].w[i]);
            assert!(
                (numeric[k] - analytic).abs() < 2e-3,
                "{i}: {} vs {analytic}",
                numeric[k]
            );
        }
    }
}
