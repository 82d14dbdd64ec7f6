//! The methods on the CNN (`--model cnn`): `float32` on the host and `fixed` on the device,
//! with the same options, initial weights and data order as on the MLP.

use anyhow::{bail, ensure, Context};

use qtrain_model::Rounding;

use super::{Counters, MethodConfig, Params, Trainer};
use crate::train::device::TrainingBoard;
use crate::train::loss::BatchOutcome;
use crate::train::net::cnn::{self, CnnShape};
use crate::train::net::device_cnn::DeviceCnn;
use crate::train::net::device_mlp::FixedScheme;
use crate::train::net::host_net::Topology;
use crate::train::net::weight_grid::WeightGrid;
use crate::train::net::DenseF32;

/// Everything a CNN method is built from.
pub struct CnnBuildArgs<'a> {
    /// The network.
    pub shape: &'a CnnShape,
    /// The initial parameters ([`cnn::init_cnn`]), common to all methods.
    pub init: &'a [DenseF32],
    /// Largest batch.
    pub batch: usize,
    /// Learning rate of the mean loss.
    pub lr: f64,
    /// The board, for methods that use one.
    pub board: Option<TrainingBoard>,
}

/// Builds the CNN trainer of `method`; methods not written for the CNN are refused.
pub fn build_cnn(method: &MethodConfig, args: CnnBuildArgs) -> anyhow::Result<Box<dyn Trainer>> {
    Ok(match method {
        MethodConfig::Float32 => Box::new(Float32Cnn::new(*args.shape, args.init, args.lr)),
        MethodConfig::Fixed(cfg) => {
            let what = format!(
                "fixed 16-bit on the device (im2col, pooling and col2im on the host, exact): FL \
                 w/a/g/dw = {}/{}/{}/{}, rounding {}",
                cfg.fl.w, cfg.fl.a, cfg.fl.g, cfg.fl.dw, cfg.rounding
            );
            Box::new(FixedCnn::new(cfg.scheme(), None, what, args)?)
        }
        MethodConfig::R(cfg) | MethodConfig::Sr(cfg) => {
            let rounding = if matches!(method, MethodConfig::R(_)) {
                Rounding::Nearest
            } else {
                Rounding::Stochastic
            };
            let grid = cfg.grid.device_grid(cfg.fl.w)?;
            let what = format!(
                "{}-bit weights (step 2^{}) updated on the device with {rounding} rounding, no \
                 float copy; FL w/a/g/dw = {}/{}/{}/{}",
                cfg.grid.bits, cfg.grid.delta_log2, cfg.fl.w, cfg.fl.a, cfg.fl.g, cfg.fl.dw
            );
            let scheme = FixedScheme {
                fl: cfg.fl,
                gemm_rounding: Rounding::Nearest,
                grad_rounding: Rounding::Nearest,
                update_rounding: rounding,
            };
            Box::new(FixedCnn::new(scheme, Some(grid), what, args)?)
        }
        MethodConfig::Bc(_) | MethodConfig::Bcgd(_) | MethodConfig::Wage(_) => super::host_rules(
            method,
            Topology::Cnn(*args.shape),
            args.init,
            args.batch,
            args.lr,
            args.board,
        )?,
    })
}

/// The `f32` CNN on the host.
pub struct Float32Cnn {
    shape: CnnShape,
    layers: Vec<DenseF32>,
    lr: f32,
    pixel: [f32; 256],
}

impl Float32Cnn {
    /// Starts from `init` with learning rate `lr` (of the mean loss).
    pub fn new(shape: CnnShape, init: &[DenseF32], lr: f64) -> Float32Cnn {
        Float32Cnn {
            shape,
            layers: init.to_vec(),
            lr: lr as f32,
            pixel: std::array::from_fn(|p| p as f32 / 255.0),
        }
    }

    fn forward(&self, pixels: &[u8], rows: usize) -> cnn::CnnActivations {
        let x: Vec<f32> = pixels.iter().map(|&p| self.pixel[usize::from(p)]).collect();
        cnn::forward(&self.shape, &self.layers, &x, rows)
    }
}

impl Trainer for Float32Cnn {
    fn train_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        _: u64,
    ) -> anyhow::Result<BatchOutcome> {
        let act = self.forward(pixels, labels.len());
        let (outcome, grad) = cnn::outcome(&self.shape, &act, labels);
        cnn::backward_and_step(&self.shape, &mut self.layers, &act, &grad, self.lr);
        Ok(outcome)
    }

    fn eval_batch(&mut self, pixels: &[u8], labels: &[u8], _: u64) -> anyhow::Result<BatchOutcome> {
        let act = self.forward(pixels, labels.len());
        Ok(cnn::outcome(&self.shape, &act, labels).0)
    }

    fn params(&mut self) -> anyhow::Result<Params> {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect();
        Ok(Params::F32 {
            tensors: self
                .layers
                .iter()
                .flat_map(|l| [bits(&l.w), bits(&l.b)])
                .collect(),
        })
    }

    fn set_params(&mut self, p: &Params) -> anyhow::Result<()> {
        let Params::F32 { tensors } = p else {
            bail!("a fixed-point checkpoint cannot be loaded into the float32 network");
        };
        ensure!(
            tensors.len() == 2 * self.layers.len(),
            "checkpoint has {} tensors, the CNN {}",
            tensors.len(),
            2 * self.layers.len()
        );
        for (layer, pair) in self.layers.iter_mut().zip(tensors.chunks_exact(2)) {
            ensure!(
                pair[0].len() == layer.w.len() && pair[1].len() == layer.b.len(),
                "checkpoint layer shapes differ from the CNN"
            );
            layer.w = pair[0].iter().map(|&b| f32::from_bits(b)).collect();
            layer.b = pair[1].iter().map(|&b| f32::from_bits(b)).collect();
        }
        Ok(())
    }

    fn counters(&mut self) -> anyhow::Result<Counters> {
        Ok(Counters::default())
    }

    fn describe(&self) -> String {
        "float32 on the host (f32 SGD, im2col + single-threaded SGEMM)".into()
    }
}

/// The CNN with its weights as words on the device: `fixed` (any word), `r` and `sr` (the
/// weights on a grid, updated onto it).
pub struct FixedCnn {
    net: DeviceCnn,
    what: String,
}

impl FixedCnn {
    /// Lays the CNN out on the board and writes the initial weights (moved to `grid`'s
    /// nearest points if there is one); `what` describes the method for the log.
    pub fn new(
        scheme: FixedScheme,
        grid: Option<WeightGrid>,
        what: String,
        args: CnnBuildArgs,
    ) -> anyhow::Result<FixedCnn> {
        let board = args
            .board
            .context("this method runs on a device: it needs a --backend")?;
        let mut net = DeviceCnn::new(board, args.shape, scheme, args.init, args.batch, args.lr)?;
        if let Some(g) = grid {
            net.set_weight_grid(g)?;
        }
        Ok(FixedCnn { net, what })
    }
}

impl Trainer for FixedCnn {
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
        format!(
            "{}, {} words of device memory",
            self.what,
            self.net.plan_words()
        )
    }
}
