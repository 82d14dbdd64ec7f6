//! `--method wage`: WAGE (Wu et al., "Training and Inference with Integers in Deep Neural
//! Networks", ICLR 2018), every product on the device ([`crate::train::net::host_net`]),
//! with `k_W, k_A, k_G, k_E` bits (default 2-8-8-8):
//!
//! - `σ(k) = 2^(1-k)`, `Q(x, k) = clip(σ(k)·round(x/σ(k)), -1 + σ(k), 1 - σ(k))` (eq. 4),
//!   `Shift(x) = 2^round(log2 x)` (eq. 5);
//! - weights are stored at `k_G` bits and used at `k_W` bits, `W_q = Q(W, k_W)` (eq. 6), with
//!   a constant layer scale `α = max(Shift(L_min / L), 1)`, `L = sqrt(6 / n_in)`,
//!   `L_min = β·σ(k_W)`, β = 1.5, instead of batch norm (eq. 7, 8);
//! - activations `a = Q(relu(x·W_q / α), k_A)` (eq. 9; the logits are left unquantized for the
//!   softmax);
//! - errors `e_q = Q(e / Shift(max|e|), k_E)` (eq. 10), the straight-through derivative of
//!   `Q_A`'s rounding (0 where its ReLU or its clip at `1 - σ(k_A)` saturates), and
//!   `∂/∂x = e_q·W_q^T / α`;
//! - gradients `g = x^T·e_q`, `ΔW = σ(k_G)·sgn(g_s)·(⌊|g_s|⌋ + Bernoulli(|g_s| - ⌊|g_s|⌋))`
//!   with `g_s = η·g / Shift(max|g|)` (eq. 11, 12), `W <- clip(W - ΔW, -1 + σ(k_G),
//!   1 - σ(k_G))` (eq. 13): plain SGD with the learning rate η = `--lr`.
//!
//! There are no biases (they stay zero) and no momentum, as in WAGE.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::Params;
use crate::train::net::device_ops::Act;
use crate::train::net::host_net::{Rules, Words};
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

/// FL of the input pixels: `p / 255` rounded to nearest at 2^-14 (WAGE feeds the images
/// unquantized; this is the one rounding of the forward pass that WAGE does not have).
const FL_INPUT: u8 = 14;

/// WAGE's parameters and rules. Every quantity WAGE puts on a grid of step `σ(k) = 2^(1-k)`
/// is a device word at FL `k - 1`, and each layer scale `α = 2^a` is folded into the
/// formats: the product `x·W_q` converted to FL `k_A - 1 - a` *is* `x·W_q/α` at FL `k_A - 1`.
pub struct WageRules {
    layers: Vec<DenseF32>,
    /// `log2` of the layer scales α.
    alpha_log2: Vec<u8>,
    bits: WageConfig,
    lr: f32,
}

impl WageRules {
    /// Starts from the common He-normal draw scaled by `max(L_min, L)/L` (so that its
    /// spread is WAGE's uniform `[-max(L_min, L), max(L_min, L)]` one), stored at `k_G` bits.
    /// Errors if a layer scale does not fit the activation format (`α <= 2^(k_A - 1)`).
    pub fn new(bits: &WageConfig, init: &[DenseF32], lr: f64) -> anyhow::Result<WageRules> {
        let l_min = 1.5 * sigma(bits.w);
        let mut alpha_log2 = Vec::new();
        let layers = init
            .iter()
            .map(|l| {
                let lim = (6.0 / l.inputs as f32).sqrt();
                alpha_log2.push(shift(l_min / lim).max(1.0).log2() as u8);
                let scale = l_min.max(lim) / lim;
                DenseF32 {
                    w: l.w.iter().map(|&w| q(w * scale, bits.g)).collect(),
                    b: vec![0.0; l.outputs],
                    ..*l
                }
            })
            .collect();
        anyhow::ensure!(
            bits.w <= 16 && bits.a <= 16 && bits.e <= 16 && bits.g <= 16,
            "WAGE bit widths above 16 do not fit a word"
        );
        if let Some(a) = alpha_log2.iter().find(|&&a| a + 1 > bits.a) {
            anyhow::bail!(
                "--wage-bits: a layer scale 2^{a} needs k_A >= {} (the scaled product's format)",
                a + 1
            );
        }
        Ok(WageRules {
            layers,
            alpha_log2,
            bits: *bits,
            lr: lr as f32,
        })
    }

    /// The layer scales α.
    pub fn alpha(&self) -> Vec<f32> {
        self.alpha_log2
            .iter()
            .map(|&a| f32::from(a).exp2())
            .collect()
    }

    fn last(&self, l: usize) -> bool {
        l + 1 == self.layers.len()
    }
}

/// Values on WAGE's grid of step σ(k) (`|x| < 1`) as words at FL `k - 1`: exact.
fn grid_words(x: &[f32], k: u8) -> Words {
    let fl = k - 1;
    Words {
        v: x.iter()
            .map(|&v| (v * f32::from(fl).exp2()) as i16)
            .collect(),
        fl,
    }
}

fn values(w: &Words) -> Vec<f32> {
    let s = (-f32::from(w.fl)).exp2();
    w.v.iter().map(|&v| f32::from(v) * s).collect()
}

impl Rules for WageRules {
    fn input_fl(&self) -> u8 {
        FL_INPUT
    }

    fn weights(&self, l: usize) -> Words {
        let wq: Vec<f32> = self.layers[l]
            .w
            .iter()
            .map(|&w| q(w, self.bits.w))
            .collect();
        grid_words(&wq, self.bits.w)
    }

    fn bias(&self, _: usize) -> Option<Words> {
        None
    }

    /// Hidden layers: `Q_A` of `x·W_q/α` is the product rounded to FL `k_A - 1 - a`
    /// (nearest; ties upward, which is WAGE's away-from-zero where the ReLU keeps a value),
    /// read at FL `k_A - 1`. The logits: the exact product, read at FL `fl_x + fl_w + a`.
    fn z_fl(&self, l: usize, fl_x: u8, fl_w: u8) -> u8 {
        if self.last(l) {
            fl_x + fl_w
        } else {
            self.bits.a - 1 - self.alpha_log2[l]
        }
    }

    fn act(&self, _: usize, _: u8) -> Act {
        Act::Relu
    }

    /// The clip of `Q_A` at `1 - σ(k_A)` (the device's ReLU only clips below).
    fn finish_act(&self, l: usize, h: &mut [i16], fl_z: u8) -> u8 {
        let top = (1i16 << (self.bits.a - 1)) - 1;
        h.iter_mut().for_each(|v| *v = (*v).min(top));
        fl_z + self.alpha_log2[l]
    }

    fn logits_fl(&self, fl_z: u8) -> u8 {
        fl_z + self.alpha_log2[self.layers.len() - 1]
    }

    fn top_grad(&mut self, grad: &[f64], _: u64) -> Words {
        let mut e: Vec<f32> = grad.iter().map(|&g| g as f32).collect();
        q_error(&mut e, self.bits.e);
        grid_words(&e, self.bits.e)
    }

    /// Exact: `e_q·W_q^T` on the grid `σ(k_E)·σ(k_W)` (saturates only past `±2^(15 - fl)`).
    fn dx_fl(&self, _: usize, fl_dz: u8, fl_w: u8) -> u8 {
        fl_dz + fl_w
    }

    /// `Q_E(dH/α_(l+1))` of the masked gradient: the division is the FL (exact), the
    /// scaling by `Shift(max|·|)` and the rounding to σ(k_E) on the host (exact in f32: the
    /// values are dyadic with few bits). The device's RELU_MASK passes every `z > 0`, but
    /// `Q_A` clips at `1 - σ(k_A)` and the clip's derivative is 0 above it (WAGE's
    /// straight-through estimator covers only the rounding): the error of a saturated unit
    /// is zeroed here. Passing it, the CNN (3-6% of its units saturate) stayed at 46% test
    /// error after 2 epochs instead of 5.7%.
    fn finish_mask(&mut self, l: usize, mut dz: Words, z: &Words, _: &Words) -> Words {
        let top = (1i16 << (self.bits.a - 1)) - 1;
        dz.v.iter_mut()
            .zip(&z.v)
            .filter(|(_, &z)| z > top)
            .for_each(|(d, _)| *d = 0);
        let mut v = values(&Words {
            fl: dz.fl + self.alpha_log2[l + 1],
            ..dz
        });
        q_error(&mut v, self.bits.e);
        grid_words(&v, self.bits.e)
    }

    /// The finest FL that cannot saturate: `|g_ij| <= max|x|·Σ_r |e_rj|`.
    fn dw_fl(&self, l: usize, x: &Words, dz: &Words) -> u8 {
        let max_x = x.v.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
        let n = self.layers[l].outputs;
        let mut sums = vec![0u64; n];
        for row in dz.v.chunks_exact(n) {
            sums.iter_mut()
                .zip(row)
                .for_each(|(s, v)| *s += u64::from(v.unsigned_abs()));
        }
        let bound = f64::from(max_x)
            * (-f64::from(x.fl)).exp2()
            * sums.iter().copied().max().unwrap_or(0) as f64
            * (-f64::from(dz.fl)).exp2();
        let exact = x.fl + dz.fl;
        let mut fl = exact.min(15);
        while fl > 0 && bound >= f64::from(15 - i32::from(fl)).exp2() {
            fl -= 1;
        }
        fl
    }

    fn update(&mut self, l: usize, _: &Words, dw: &Words, _: &[f64], _: usize, seed: u64) {
        let g = values(dw);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let d = q_grad(&g, self.bits.g, self.lr, || rng.gen::<f32>());
        let s = sigma(self.bits.g);
        for (w, d) in self.layers[l].w.iter_mut().zip(&d) {
            *w = (*w - d).clamp(-1.0 + s, 1.0 - s);
        }
    }

    fn params(&self) -> Params {
        super::f32_params(&self.layers, &[])
    }

    fn set_params(&mut self, p: &Params) -> anyhow::Result<()> {
        super::set_f32_params(&mut self.layers, &mut [], p)
    }

    fn describe(&self) -> String {
        let b = self.bits;
        format!(
            "WAGE {}-{}-{}-{}: grid values as words, layer scales {:?} in the formats",
            b.w,
            b.a,
            b.g,
            b.e,
            self.alpha()
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
        let w = WageRules::new(
            &WageConfig {
                w: 2,
                a: 8,
                g: 8,
                e: 8,
            },
            &init,
            1.0,
        )
        .unwrap();
        // L = sqrt(6/784) = 0.0875, L_min = 0.75: α = Shift(8.57) = 8.
        assert_eq!(w.alpha(), vec![8.0]);
        let s = sigma(8);
        assert!(w.layers[0]
            .w
            .iter()
            .all(|&v| (v / s).fract() == 0.0 && v.abs() <= 1.0 - s));
    }

    /// Regression: the error of a unit whose activation `Q_A` clipped at `1 - σ(k_A)` is 0
    /// (the clip's derivative); the device's mask only removes `z <= 0`.
    #[test]
    fn saturated_units_pass_no_error() {
        let shape = crate::train::net::MlpShape::new(vec![4, 4, 2]).unwrap();
        let init = crate::train::net::init_mlp(&shape, 1);
        let bits = WageConfig {
            w: 2,
            a: 8,
            g: 8,
            e: 8,
        };
        let mut rules = WageRules::new(&bits, &init, 1.0).unwrap();
        let top = (1i16 << (bits.a - 1)) - 1;
        // Pre-activation words of layer 0 (read at FL k_A - 1 after the layer scale): above
        // the clip, at it, inside; the device has already zeroed the error where z <= 0.
        let z = Words {
            v: vec![top + 1, top, 5, 300],
            fl: 7,
        };
        let dz = Words {
            v: vec![64, 64, -32, 16],
            fl: 8,
        };
        let e = rules.finish_mask(0, dz.clone(), &z, &dz);
        assert_eq!(e.fl, bits.e - 1);
        assert_eq!(e.v[0], 0, "saturated above the clip");
        assert_eq!(e.v[3], 0, "saturated above the clip");
        // The surviving errors are Q_E of the unsaturated ones alone: max 64 -> 1 - σ.
        assert_eq!(&e.v[1..3], &[127, -64]);
    }

    /// One WAGE step computed by hand: logits `x·W_q/α` (α = 1 for 4 inputs), errors
    /// `Q_E(p - onehot)`, `g = x^T·e`, `ΔW = σ(8)·SR(η·g/Shift(max|g|))` with the step's
    /// draws, `W <- clip(W - ΔW)`. Every device product is exact here, so the result is equal.
    #[test]
    fn one_step_equals_the_hand_computed_update() {
        use crate::train::methods::li::tests::{net, LABELS, PIXELS};
        let w0 = [
            0.3f32, -0.2, 0.1, -0.6, 0.05, 0.2, 0.4, -0.1, 0.0, 0.2, -0.3, 0.45,
        ];
        let init = [DenseF32 {
            inputs: 4,
            outputs: 3,
            w: w0.to_vec(),
            b: vec![0.0; 3],
        }];
        let bits = WageConfig {
            w: 2,
            a: 8,
            g: 8,
            e: 8,
        };
        let mut rules = WageRules::new(&bits, &init, 4.0).unwrap();
        assert_eq!(rules.alpha(), vec![1.0]);
        let w = rules.layers[0].w.clone();
        let wq: Vec<f32> = w.iter().map(|&v| q(v, 2)).collect();
        let x: Vec<f32> = PIXELS.iter().map(|&p| f32::from(p) / 255.0).collect();
        let mut z = vec![0.0f64; 6];
        for r in 0..2 {
            for j in 0..3 {
                z[r * 3 + j] = (0..4)
                    .map(|i| f64::from(x[r * 4 + i] * wq[i * 3 + j]))
                    .sum();
            }
        }
        let (_, grad) = crate::train::loss::softmax_xent(&z, &LABELS, 3);
        let mut e: Vec<f32> = grad.iter().map(|&g| g as f32).collect();
        q_error(&mut e, 8);
        let g: Vec<f32> = (0..12)
            .map(|k| (0..2).map(|r| x[r * 4 + k / 3] * e[r * 3 + k % 3]).sum())
            .collect();
        let seed = 11;
        let mut rng = ChaCha8Rng::seed_from_u64(qtrain_model::splitmix64(seed, 2 + 3));
        let dw = q_grad(&g, 8, 4.0, || rng.gen::<f32>());
        let s = sigma(8);
        let want: Vec<f32> = w
            .iter()
            .zip(&dw)
            .map(|(v, d)| (v - d).clamp(-1.0 + s, 1.0 - s))
            .collect();
        net(vec![4, 3], false)
            .train_batch(&mut rules, &PIXELS, &LABELS, seed)
            .unwrap();
        assert_eq!(rules.layers[0].w, want);
        assert_ne!(want, w, "the step changes some weights");
    }
}
