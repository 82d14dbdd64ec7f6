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
//! for bc. bc keeps its float weights on the host and runs every product on the device
//! ([`crate::train::net::host_net`]).

use anyhow::Context;
use qtrain_model::Rounding;
use serde::{Deserialize, Serialize};

use super::{BuildArgs, Counters, Params, Trainer};
use crate::train::loss::BatchOutcome;
use crate::train::net::device_mlp::{DeviceMlp, FixedScheme, Formats};
use crate::train::net::device_ops::Act;
use crate::train::net::host_net::{HostNet, HostTrainer, Rules, Topology, Words};
use crate::train::net::weight_grid::GridSpec;
use crate::train::net::DenseF32;

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

/// The formats of bc's device words: the weights' grid points at FL 14 (exact, checked),
/// activations at FL 10, activation gradients at FL 14, weight gradients at FL 10, the
/// defaults of `--method fixed`.
pub const BC_FORMATS: Formats = Formats {
    w: 14,
    a: 10,
    g: 14,
    dw: 10,
};

/// BinaryConnect: float shadow weights on the host, every product on the device with the
/// quantized weights.
pub struct BcRules {
    /// The float weights (clipped to the grid's span) and biases.
    layers: Vec<DenseF32>,
    grid: GridSpec,
    lr: f64,
}

impl BcRules {
    /// Starts from the common initial weights, clipped to the grid's span; errors if the
    /// grid's points are not words at FL 14.
    pub fn new(config: &BcConfig, init: &[DenseF32], lr: f64) -> anyhow::Result<BcRules> {
        config.grid.device_grid(BC_FORMATS.w)?;
        let mut layers = init.to_vec();
        for l in &mut layers {
            l.w.iter_mut().for_each(|w| *w = config.grid.clip(*w));
        }
        Ok(BcRules {
            layers,
            grid: config.grid,
            lr,
        })
    }
}

/// `x` as a word at `fl`, rounded to nearest.
pub(crate) fn word(x: f64, fl: u8) -> i16 {
    qtrain_model::quantize(x, fl, Rounding::Nearest, &mut || 0)
}

impl Rules for BcRules {
    fn input_fl(&self) -> u8 {
        BC_FORMATS.a
    }

    fn weights(&self, l: usize) -> Words {
        // Grid points are exact words at FL 14 (checked in `new`).
        Words {
            v: self.layers[l]
                .w
                .iter()
                .map(|&w| word(f64::from(self.grid.quantize(w)), BC_FORMATS.w))
                .collect(),
            fl: BC_FORMATS.w,
        }
    }

    fn bias(&self, l: usize) -> Option<Words> {
        Some(Words {
            v: self.layers[l]
                .b
                .iter()
                .map(|&b| word(f64::from(b), BC_FORMATS.w))
                .collect(),
            fl: BC_FORMATS.w,
        })
    }

    fn z_fl(&self, _: usize, _: u8, _: u8) -> u8 {
        BC_FORMATS.a
    }

    fn act(&self, _: usize, _: u8) -> Act {
        Act::Relu
    }

    fn top_grad(&mut self, grad: &[f64], _: u64) -> Words {
        Words {
            v: grad.iter().map(|&g| word(g, BC_FORMATS.g)).collect(),
            fl: BC_FORMATS.g,
        }
    }

    fn dx_fl(&self, _: usize, _: u8, _: u8) -> u8 {
        BC_FORMATS.g
    }

    fn dw_fl(&self, _: usize, _: &Words, _: &Words) -> u8 {
        BC_FORMATS.dw
    }

    fn update(&mut self, l: usize, _: &Words, dw: &Words, db: &[f64], rows: usize, _: u64) {
        let eta = self.lr / rows as f64;
        let layer = &mut self.layers[l];
        for (i, w) in layer.w.iter_mut().enumerate() {
            *w = self.grid.clip((f64::from(*w) - eta * dw.value(i)) as f32);
        }
        for (b, g) in layer.b.iter_mut().zip(db) {
            *b = (f64::from(*b) - eta * g) as f32;
        }
    }

    fn params(&self) -> Params {
        super::f32_params(&self.layers, &[])
    }

    fn set_params(&mut self, p: &Params) -> anyhow::Result<()> {
        super::set_f32_params(&mut self.layers, &mut [], p)
    }

    fn describe(&self) -> String {
        format!(
            "BinaryConnect: f32 shadow weights on the host, {}-bit weights of step 2^{} in the \
             passes; FL w/a/g/dw = 14/10/14/10",
            self.grid.bits, self.grid.delta_log2
        )
    }
}

/// Builds a method that keeps its parameters on the host around a board.
pub(crate) fn host_trainer<R: Rules + 'static>(
    board: Option<crate::train::device::TrainingBoard>,
    topo: Topology,
    batch: usize,
    qrelu: bool,
    rules: R,
    name: &'static str,
) -> anyhow::Result<Box<dyn Trainer>> {
    let board = board.with_context(|| {
        format!("--method {name} runs its products on a device: it needs a --backend")
    })?;
    let net = HostNet::new(board, topo, batch, qrelu)?;
    Ok(Box::new(HostTrainer::new(net, rules, name)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::commands::board::Backend;
    use crate::train::device::open_board;
    use crate::train::loss::softmax_xent;
    use crate::train::net::MlpShape;

    /// A one-layer network (4 pixels -> 3 classes) on a model board.
    pub(crate) fn net(widths: Vec<usize>, qrelu: bool) -> HostNet {
        let board = open_board(Backend::Model, Some(1 << 14), None).unwrap();
        HostNet::new(
            board,
            Topology::Mlp(MlpShape::new(widths).unwrap()),
            2,
            qrelu,
        )
        .unwrap()
    }

    /// Pixels 0 and 255 are 0 and 1 exactly at every FL.
    pub(crate) const PIXELS: [u8; 8] = [255, 0, 255, 255, 0, 255, 0, 255];
    pub(crate) const LABELS: [u8; 2] = [2, 0];

    /// `dL/dZ` of the summed loss and `dW = X^T·dZ` in f64 for weights `w` (4 x 3) and
    /// biases `b`.
    pub(crate) fn by_hand(w: &[f64], b: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let x: Vec<f64> = PIXELS.iter().map(|&p| f64::from(p) / 255.0).collect();
        let mut z = vec![0.0; 6];
        for r in 0..2 {
            for j in 0..3 {
                z[r * 3 + j] = b[j] + (0..4).map(|i| x[r * 4 + i] * w[i * 3 + j]).sum::<f64>();
            }
        }
        let (_, g) = softmax_xent(&z, &LABELS, 3);
        let mut dw = vec![0.0; 12];
        for i in 0..4 {
            for j in 0..3 {
                dw[i * 3 + j] = (0..2).map(|r| x[r * 4 + i] * g[r * 3 + j]).sum();
            }
        }
        (z, g, dw)
    }

    /// BinaryConnect (Li et al. eq. 4): `W_r <- clip(W_r - η·∇f(Q(W_r)))` with the gradient
    /// at the binary weights, computed here by hand in f64; the device's roundings (the
    /// gradient at FL 14, dW at FL 10) bound the difference.
    #[test]
    fn bc_steps_the_float_weights_with_the_gradient_at_the_binary_ones() {
        let grid = GridSpec {
            bits: 1,
            delta_log2: -1,
        };
        let w0 = [
            0.3f32, -0.2, 0.1, -0.6, 0.05, 0.2, 0.4, -0.1, 0.0, 0.2, -0.3, 0.45,
        ];
        let init = [DenseF32 {
            inputs: 4,
            outputs: 3,
            w: w0.to_vec(),
            b: vec![0.1, 0.0, -0.1],
        }];
        let mut rules = BcRules::new(&BcConfig { grid }, &init, 1.0).unwrap();
        // Q(W_r) = 0.5·sign(W_r) (sign(0) = +).
        let q: Vec<f64> = w0
            .iter()
            .map(|&w| if w >= 0.0 { 0.5 } else { -0.5 })
            .collect();
        assert_eq!(
            rules.weights(0).v,
            q.iter().map(|&v| (v * 16384.0) as i16).collect::<Vec<_>>()
        );
        let (_, g, dw) = by_hand(&q, &[0.1, 0.0, -0.1]);
        net(vec![4, 3], false)
            .train_batch(&mut rules, &PIXELS, &LABELS, 3)
            .unwrap();
        let eta = 0.5; // lr / rows
        for i in 0..12 {
            // The float weights start clipped to the grid's span.
            let start = f64::from(w0[i]).clamp(-0.5, 0.5);
            let want = (start - eta * dw[i]).clamp(-0.5, 0.5);
            let got = f64::from(rules.layers[0].w[i]);
            assert!((got - want).abs() < eta * 2e-3, "w{i}: {got} vs {want}");
        }
        for j in 0..3 {
            let want = [0.1, 0.0, -0.1][j] - eta * (g[j] + g[3 + j]);
            let got = f64::from(rules.layers[0].b[j]);
            assert!((got - want).abs() < 1e-3, "b{j}: {got} vs {want}");
        }
    }
}
