//! `--method float32`: the baseline, on the host in `f32` with plain SGD.

use super::{Counters, Params, Trainer};
use crate::train::loss::BatchOutcome;
use crate::train::net::{mlp, DenseF32};

/// The `f32` MLP trainer.
pub struct Float32 {
    layers: Vec<DenseF32>,
    lr: f32,
    /// Pixel value -> input.
    pixel: [f32; 256],
}

impl Float32 {
    /// Starts from `init` with learning rate `lr` (of the mean loss).
    pub fn new(init: &[DenseF32], lr: f64) -> Float32 {
        Float32 {
            layers: init.to_vec(),
            lr: lr as f32,
            pixel: std::array::from_fn(|p| p as f32 / 255.0),
        }
    }

    fn forward(&self, pixels: &[u8], rows: usize) -> mlp::Activations {
        let x = pixels.iter().map(|&p| self.pixel[usize::from(p)]).collect();
        mlp::forward(&self.layers, x, rows)
    }
}

impl Trainer for Float32 {
    fn train_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        _seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        let act = self.forward(pixels, labels.len());
        let (outcome, grad) = mlp::outcome(&self.layers, &act, labels);
        mlp::backward_and_step(&mut self.layers, &act, &grad, self.lr);
        Ok(outcome)
    }

    fn eval_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        _seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        let act = self.forward(pixels, labels.len());
        Ok(mlp::outcome(&self.layers, &act, labels).0)
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
            anyhow::bail!("a fixed-point checkpoint cannot be loaded into the float32 network");
        };
        anyhow::ensure!(
            tensors.len() == 2 * self.layers.len(),
            "checkpoint has {} tensors, the network {}",
            tensors.len(),
            2 * self.layers.len()
        );
        for (layer, pair) in self.layers.iter_mut().zip(tensors.chunks_exact(2)) {
            anyhow::ensure!(
                pair[0].len() == layer.w.len() && pair[1].len() == layer.b.len(),
                "checkpoint layer shapes differ from the network"
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
        "float32 on the host (f32 SGD, single-threaded SGEMM)".into()
    }
}
