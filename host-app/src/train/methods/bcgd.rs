//! `--method bcgd`: blended coarse gradient descent (Yin et al. 2019; Xin, SIAM News): the
//! float weights, biases and α on the host, every product and the quantized ReLU (QRELU,
//! QRELU_MASK) on the device ([`crate::train::net::host_net`]). Per layer, float weights `w_f`, their projection `Q(w_f)` (used by the
//! forward and backward passes) and a learnable resolution α of the quantized ReLU
//! `σ(x, α)` of the hidden outputs. One step:
//!
//! - `w_f <- (1 - ρ)·w_f + ρ·Q(w_f) - η·∇̃f(Q(w_f))`, the coarse gradient taken through the
//!   straight-through derivative of σ in x;
//! - `α <- α - η·∂̃f/∂α`, with σ's 2- or 3-valued coarse partial derivative in α.

use serde::{Deserialize, Serialize};

use super::bcgd_quant::{levels, project_levels, qrelu_dalpha};
use super::li::word;
use super::Params;
use crate::train::net::device_ops::Act;
use crate::train::net::host_net::{Rules, Words};
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
    /// α's learning rate as a multiple of the weights' (0 freezes α at its initial value).
    /// Left out of saved settings when 1, so runs saved before the option still resume.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub alpha_lr: f64,
}

fn one() -> f64 {
    1.0
}

fn is_one(x: &f64) -> bool {
    *x == 1.0
}

impl BcgdConfig {
    /// The initial α: the ReLU's top level `L·α` at 4, a little above where the hidden
    /// pre-activations of the He-initialized network reach.
    pub fn initial_alpha(&self) -> f32 {
        4.0 / levels(self.act_bits)
    }
}

/// Formats of bcgd's device words: activations at FL 8 (range ±128: with QRELU outputs up
/// to `L·α` and ternary weights, logits passed ±32 and 2-bit runs at FL 10 diverged),
/// activation gradients at FL 14, weight gradients at FL 7 (a batch sum of activations up to
/// `L·α` times gradients up to 1). The projected weights `δ_q·q` at FL 14, or lower when
/// `δ_q·max|q|` would not fit 16 bits; biases at FL 8.
const FL: crate::train::net::device_mlp::Formats = crate::train::net::device_mlp::Formats {
    w: 14,
    a: 8,
    g: 14,
    dw: 7,
};

/// BCGD's parameters and rules: float weights and biases, α per hidden layer.
pub struct BcgdRules {
    layers: Vec<DenseF32>,
    /// α of each hidden layer's quantized ReLU.
    alpha: Vec<f32>,
    config: BcgdConfig,
    lr: f64,
    /// Images of the step being trained (the 1/B of the mean loss).
    rows: usize,
}

/// `Q(w)` of a layer as device words: `δ_q·q` at `fl`, with `δ_q` the word nearest δ (at
/// least 1), so that the projection the passes use is exactly a set of words.
pub fn projected_words(w: &[f32], bits: u8) -> Words {
    let (delta, q) = project_levels(w, bits);
    let top = q.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0).max(1);
    let mut fl = FL.w;
    let mut dq;
    loop {
        dq = (delta * f64::from(fl).exp2()).round().max(1.0) as i64;
        if dq * i64::from(top) <= i64::from(i16::MAX) || fl == 0 {
            break;
        }
        fl -= 1;
    }
    Words {
        v: q.iter()
            .map(|&v| (dq * i64::from(v)).clamp(-32768, 32767) as i16)
            .collect(),
        fl,
    }
}

impl BcgdRules {
    /// Starts from the common initial weights and α.
    pub fn new(config: &BcgdConfig, init: &[DenseF32], lr: f64) -> BcgdRules {
        BcgdRules {
            layers: init.to_vec(),
            alpha: vec![config.initial_alpha(); init.len().saturating_sub(1)],
            config: *config,
            lr,
            rows: 1,
        }
    }

    /// α of hidden layer `l` as the QRELU step word at FL a (at least one step).
    fn alpha_word(&self, l: usize) -> i16 {
        word(f64::from(self.alpha[l]), FL.a).max(1)
    }
}

impl Rules for BcgdRules {
    fn input_fl(&self) -> u8 {
        FL.a
    }

    fn weights(&self, l: usize) -> Words {
        projected_words(&self.layers[l].w, self.config.weight_bits)
    }

    fn bias(&self, l: usize) -> Option<Words> {
        Some(Words {
            v: self.layers[l]
                .b
                .iter()
                .map(|&b| word(f64::from(b), FL.a))
                .collect(),
            fl: FL.a,
        })
    }

    fn z_fl(&self, _: usize, _: u8, _: u8) -> u8 {
        FL.a
    }

    fn act(&self, l: usize, _: u8) -> Act {
        Act::Qrelu {
            alpha: self.alpha_word(l),
            bits: self.config.act_bits,
        }
    }

    fn top_grad(&mut self, grad: &[f64], _: u64) -> Words {
        let classes = self.layers.last().map_or(1, |l| l.outputs);
        self.rows = grad.len() / classes;
        Words {
            v: grad.iter().map(|&g| word(g, FL.g)).collect(),
            fl: FL.g,
        }
    }

    fn dx_fl(&self, _: usize, _: u8, _: u8) -> u8 {
        FL.g
    }

    /// The α step (Xin eq. 3): `∂f/∂α = Σ dH·∂σ/∂α` at the pre-activations, with the α the
    /// device used.
    fn finish_mask(&mut self, l: usize, dz: Words, z: &Words, dh: &Words) -> Words {
        let a = f64::from(self.alpha_word(l)) * (-f64::from(FL.a)).exp2();
        let (bits, valued) = (self.config.act_bits, self.config.alpha_grad);
        let dalpha: f64 = (0..dh.v.len())
            .map(|i| {
                dh.value(i) * f64::from(qrelu_dalpha(z.value(i) as f32, a as f32, bits, valued))
            })
            .sum();
        let eta = self.config.alpha_lr * self.lr / self.rows as f64;
        // α is a resolution: it stays positive.
        self.alpha[l] = ((f64::from(self.alpha[l]) - eta * dalpha) as f32).max(1e-4);
        dz
    }

    fn dw_fl(&self, _: usize, _: &Words, _: &Words) -> u8 {
        FL.dw
    }

    /// `w_f <- (1 - ρ)·w_f + ρ·Q(w_f) - η·dW`, `b <- b - η·db`.
    fn update(&mut self, l: usize, q: &Words, dw: &Words, db: &[f64], rows: usize, _: u64) {
        let eta = self.lr / rows as f64;
        let rho = self.config.rho;
        let layer = &mut self.layers[l];
        for (i, w) in layer.w.iter_mut().enumerate() {
            *w = ((1.0 - rho) * f64::from(*w) + rho * q.value(i) - eta * dw.value(i)) as f32;
        }
        for (b, g) in layer.b.iter_mut().zip(db) {
            *b = (f64::from(*b) - eta * g) as f32;
        }
    }

    fn params(&self) -> Params {
        super::f32_params(&self.layers, std::slice::from_ref(&self.alpha))
    }

    fn set_params(&mut self, p: &Params) -> anyhow::Result<()> {
        let mut extra = [self.alpha.clone()];
        super::set_f32_params(&mut self.layers, &mut extra, p)?;
        let [alpha] = extra;
        self.alpha = alpha;
        Ok(())
    }

    fn describe(&self) -> String {
        let c = self.config;
        let alpha = if c.alpha_lr == 0.0 {
            "a fixed α".to_string()
        } else if c.alpha_lr == 1.0 {
            format!("learned α ({}-valued coarse derivative)", c.alpha_grad)
        } else {
            format!(
                "learned α ({}-valued coarse derivative, {} x the weights' learning rate)",
                c.alpha_grad, c.alpha_lr
            )
        };
        format!(
            "BCGD: f32 shadow weights and α on the host, {}-bit weight projections, {}-bit QRELU \
             with {alpha}, ρ = {:e}",
            c.weight_bits, c.act_bits, c.rho
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::methods::li::tests::{by_hand, net, LABELS, PIXELS};

    /// The blended step `w_f <- (1 - ρ)·w_f + ρ·Q(w_f) - η·∇f(Q(w_f))`, with the 1-bit
    /// projection `Q(w) = mean|w|·sign(w)` and the gradient computed here by hand.
    #[test]
    fn the_blended_update_of_the_float_weights() {
        let w0 = [
            0.3f32, -0.2, 0.1, -0.6, 0.05, 0.2, 0.4, -0.1, 0.0, 0.2, -0.3, 0.45,
        ];
        let init = [DenseF32 {
            inputs: 4,
            outputs: 3,
            w: w0.to_vec(),
            b: vec![0.0; 3],
        }];
        let cfg = BcgdConfig {
            weight_bits: 1,
            act_bits: 4,
            rho: 0.25,
            alpha_grad: 3,
            alpha_lr: 1.0,
        };
        let mut rules = BcgdRules::new(&cfg, &init, 1.0);
        let mean = w0.iter().map(|w| f64::from(w.abs())).sum::<f64>() / 12.0;
        // δ = mean|w|, rounded to the nearest word at FL 14.
        let mean = (mean * 16384.0).round() / 16384.0;
        let q: Vec<f64> = w0
            .iter()
            .map(|&w| if w >= 0.0 { mean } else { -mean })
            .collect();
        let words = rules.weights(0);
        assert_eq!(words.fl, 14);
        assert_eq!(
            words.v,
            q.iter().map(|&v| (v * 16384.0) as i16).collect::<Vec<_>>()
        );
        let (_, _, dw) = by_hand(&q, &[0.0; 3]);
        net(vec![4, 3], true)
            .train_batch(&mut rules, &PIXELS, &LABELS, 9)
            .unwrap();
        let eta = 0.5;
        for i in 0..12 {
            let want = 0.75 * f64::from(w0[i]) + 0.25 * q[i] - eta * dw[i];
            let got = f64::from(rules.layers[i / 12].w[i]);
            assert!((got - want).abs() < eta * 1e-2, "w{i}: {got} vs {want}");
        }
    }

    /// The α step of Xin eq. 3 from pre-activations and incoming gradients, both coarse
    /// derivatives: 3-valued `0 / 2^(b-1) / L`, 2-valued `0 / L`, on `x <= 0`,
    /// `0 < x <= L·α`, `x > L·α`.
    #[test]
    fn the_alpha_step_uses_the_coarse_derivative() {
        let init = crate::train::net::init_mlp(
            &crate::train::net::MlpShape::new(vec![4, 2, 3]).unwrap(),
            1,
        );
        // (derivative, its middle value, α's learning-rate multiple): 0 must freeze α.
        for (valued, mid, alpha_lr) in [
            (3u8, 2.0, 1.0),
            (2, 0.0, 1.0),
            (3, 2.0, 0.25),
            (3, 2.0, 0.0),
        ] {
            let cfg = BcgdConfig {
                weight_bits: 1,
                act_bits: 2,
                rho: 0.0,
                alpha_grad: valued,
                alpha_lr,
            };
            let mut rules = BcgdRules::new(&cfg, &init, 0.02);
            rules.alpha[0] = 0.5; // L·α = 1.5; exact at FL 8 (128).
            rules.rows = 2;
            // x = -1, 0.25, 1.5, 2 (FL 8) with incoming gradients 1, ~2, 1.5, 1 (FL 14).
            let z = Words {
                v: vec![-256, 64, 384, 512],
                fl: 8,
            };
            let dh = Words {
                v: vec![16384, 32767, 24576, 16384],
                fl: 14,
            };
            rules.finish_mask(0, dh.clone(), &z, &dh);
            // ∂f/∂α = 0·1 + mid·(~2) + mid·1.5 + L·1 with L = 3.
            let d = mid * (dh.value(1) + dh.value(2)) + 3.0 * dh.value(3);
            let want = 0.5 - alpha_lr * 0.01 * d;
            assert!(
                (f64::from(rules.alpha[0]) - want).abs() < 1e-6,
                "{valued}-valued, α lr x{alpha_lr}"
            );
            assert_eq!(
                rules.act(0, 8),
                Act::Qrelu {
                    alpha: word(want, 8).max(1),
                    bits: 2
                }
            );
        }
    }
}
