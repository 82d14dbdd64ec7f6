//! `--method r`, `sr` and `bc`: the three ways of training quantized weights compared by Li
//! et al., "Training Quantized Nets: A Deeper Understanding" (NIPS 2017). The weights live on
//! a grid of step Δ: binary `{-Δ, +Δ}` or k-bit uniform (`--weight-bits`).
//!
//! - `r` (deterministic rounding, their eq. 3 with `Q_d`): `W <- Q_d(W - η·∇f(W))`, the
//!   update rounded to the nearest grid point, with no float copy: one device UPDATE onto the
//!   grid (numerics §7.4) with round-to-nearest.
//! - `sr` (stochastic rounding, eq. 3 with `Q_s`): the same UPDATE with stochastic rounding,
//!   so `E[W_new] = W - η·∇f(W)` inside the grid's span.
//! - `bc` (BinaryConnect, eq. 4): float weights `W_r` on the host, `W_r <- clip(W_r -
//!   η·∇f(Q(W_r)))`, the gradient taken at the quantized weights `Q(W_r)` that the forward
//!   and backward passes use.
//!
//! Biases are not quantized (the paper quantizes weights): 16-bit fixed point for r/sr, f32
//! for bc.

use anyhow::Context;
use qtrain_model::Rounding;
use serde::{Deserialize, Serialize};

use super::{BuildArgs, Counters, Params, Trainer};
use crate::train::loss::BatchOutcome;
use crate::train::net::device_mlp::{DeviceMlp, FixedScheme, Formats};
use crate::train::net::weight_grid::GridSpec;
use crate::train::net::{mlp, DenseF32};

/// The options of `--method r` and `--method sr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridConfig {
    /// The weight grid.
    pub grid: GridSpec,
    /// Formats of the 16-bit words on the device (weights hold grid values at FL `w`).
    pub fl: Formats,
}

/// r or sr: a [`DeviceMlp`] whose weight UPDATEs land on the grid.
pub struct GridFixed {
    net: DeviceMlp,
    config: GridConfig,
    rounding: Rounding,
}

impl GridFixed {
    /// Lays the network out, writes the initial weights moved to their nearest grid point.
    /// `rounding` is that of the weight update (nearest: r; stochastic: sr); every other
    /// conversion rounds to nearest, so the two methods differ only in the update.
    pub fn new(config: &GridConfig, rounding: Rounding, args: BuildArgs) -> anyhow::Result<Self> {
        let grid = config.grid.device_grid(config.fl.w)?;
        let board = args
            .board
            .context("--method r/sr runs on a device: it needs a --backend")?;
        let scheme = FixedScheme {
            fl: config.fl,
            gemm_rounding: Rounding::Nearest,
            grad_rounding: Rounding::Nearest,
            update_rounding: rounding,
        };
        let mut net = DeviceMlp::new(board, args.shape, scheme, args.init, args.batch, args.lr)?;
        net.set_weight_grid(grid)?;
        Ok(GridFixed {
            net,
            config: *config,
            rounding,
        })
    }
}

impl Trainer for GridFixed {
    fn train_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        self.net.train_batch(pixels, labels, seed)
    }

    fn eval_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        self.net.eval_batch(pixels, labels, seed)
    }

    fn params(&mut self) -> anyhow::Result<Params> {
        self.net.params()
    }

    fn set_params(&mut self, p: &Params) -> anyhow::Result<()> {
        self.net.set_params(p)
    }

    fn counters(&mut self) -> anyhow::Result<Counters> {
        self.net.counters()
    }

    fn describe(&self) -> String {
        let g = self.config.grid;
        format!(
            "{}-bit weights (step 2^{}) updated on the device with {} rounding, no float copy; \
             FL w/a/g/dw = {}/{}/{}/{}, {} words of device memory",
            g.bits,
            g.delta_log2,
            self.rounding,
            self.config.fl.w,
            self.config.fl.a,
            self.config.fl.g,
            self.config.fl.dw,
            self.net.plan_words()
        )
    }
}

/// The options of `--method bc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BcConfig {
    /// The weight grid of the forward and backward passes.
    pub grid: GridSpec,
}

/// BinaryConnect on the host in f32.
pub struct Bc {
    /// The float weights (clipped to the grid's span) and biases.
    layers: Vec<DenseF32>,
    grid: GridSpec,
    lr: f32,
    pixel: [f32; 256],
}

impl Bc {
    /// Starts from the common initial weights, clipped to the grid's span.
    pub fn new(config: &BcConfig, init: &[DenseF32], lr: f64) -> Bc {
        let mut layers = init.to_vec();
        for l in &mut layers {
            l.w.iter_mut().for_each(|w| *w = config.grid.clip(*w));
        }
        Bc {
            layers,
            grid: config.grid,
            lr: lr as f32,
            pixel: std::array::from_fn(|p| p as f32 / 255.0),
        }
    }

    /// The network with quantized weights, as the passes see it.
    fn quantized(&self) -> Vec<DenseF32> {
        self.layers
            .iter()
            .map(|l| DenseF32 {
                w: l.w.iter().map(|&w| self.grid.quantize(w)).collect(),
                ..l.clone()
            })
            .collect()
    }

    fn input(&self, pixels: &[u8]) -> Vec<f32> {
        pixels.iter().map(|&p| self.pixel[usize::from(p)]).collect()
    }
}

impl Trainer for Bc {
    fn train_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        _seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        let q = self.quantized();
        let act = mlp::forward(&q, self.input(pixels), labels.len());
        let (outcome, grad) = mlp::outcome(&q, &act, labels);
        let eta = self.lr / labels.len() as f32;
        for (layer, (dw, db)) in self.layers.iter_mut().zip(mlp::gradients(&q, &act, &grad)) {
            for (w, g) in layer.w.iter_mut().zip(&dw) {
                *w = self.grid.clip(*w - eta * g);
            }
            for (b, g) in layer.b.iter_mut().zip(&db) {
                *b -= eta * g;
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
        let q = self.quantized();
        let act = mlp::forward(&q, self.input(pixels), labels.len());
        Ok(mlp::outcome(&q, &act, labels).0)
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
        format!(
            "BinaryConnect on the host (f32 shadow weights, {}-bit weights of step 2^{} in the passes)",
            self.grid.bits, self.grid.delta_log2
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::net::{init_mlp, MlpShape};

    #[test]
    fn bc_steps_the_float_weights_with_the_gradient_at_the_quantized_ones() {
        let shape = MlpShape::new(vec![6, 5, 3]).unwrap();
        let init = init_mlp(&shape, 2);
        let grid = GridSpec {
            bits: 1,
            delta_log2: -1,
        };
        let mut bc = Bc::new(&BcConfig { grid }, &init, 0.5);
        let before = bc.layers.clone();
        let q = bc.quantized();
        assert!(q.iter().all(|l| l.w.iter().all(|w| w.abs() == 0.5)));
        let pixels: Vec<u8> = (0..12).map(|i| (i * 37 % 256) as u8).collect();
        let labels = [1, 2];
        bc.train_batch(&pixels, &labels, 0).unwrap();
        let act = mlp::forward(&q, bc.input(&pixels), 2);
        let (_, grad) = mlp::outcome(&q, &act, &labels);
        let grads = mlp::gradients(&q, &act, &grad);
        for l in 0..2 {
            for (i, &w0) in before[l].w.iter().enumerate() {
                let want = (w0 - 0.25 * grads[l].0[i]).clamp(-0.5, 0.5);
                assert_eq!(bc.layers[l].w[i], want);
            }
        }
    }
}
