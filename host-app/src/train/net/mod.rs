//! Network shapes and their initial weights, shared by every method so that all of them start
//! from the same draw.

pub mod cnn;
pub mod device_cnn;
pub mod device_mlp;
pub mod device_ops;
pub mod host_net;
pub mod im2col;
pub mod mlp;
pub mod pool;
pub mod weight_grid;

use anyhow::bail;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::seeds;

/// A multilayer perceptron: widths of the input, the hidden layers and the output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MlpShape {
    /// `[inputs, hidden..., classes]`, at least two entries.
    pub widths: Vec<usize>,
}

impl MlpShape {
    /// Checks the widths: at least an input and an output, none zero, none above what a
    /// 16-bit dimension field can name.
    pub fn new(widths: Vec<usize>) -> anyhow::Result<MlpShape> {
        if widths.len() < 2 {
            bail!("--layers needs at least an input and an output width, e.g. 784,256,10");
        }
        if let Some(w) = widths
            .iter()
            .find(|&&w| w == 0 || w > usize::from(u16::MAX))
        {
            bail!("layer width {w} is outside 1..=65535");
        }
        Ok(MlpShape { widths })
    }

    /// `(inputs, outputs)` of each dense layer.
    pub fn layers(&self) -> Vec<(usize, usize)> {
        self.widths.windows(2).map(|w| (w[0], w[1])).collect()
    }

    /// Input width.
    pub fn inputs(&self) -> usize {
        self.widths[0]
    }

    /// Output width (classes).
    pub fn classes(&self) -> usize {
        *self.widths.last().expect("at least two widths")
    }

    /// Trainable parameters (weights and biases).
    pub fn parameter_count(&self) -> usize {
        self.layers().iter().map(|(i, o)| i * o + o).sum()
    }
}

/// One dense layer's parameters in `f32`: `w` is `inputs x outputs` row-major, so that a
/// batch `X` (rows x inputs) maps to `X·W + b`.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseF32 {
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// Weights, `inputs x outputs`.
    pub w: Vec<f32>,
    /// Bias, one per output.
    pub b: Vec<f32>,
}

/// He-normal weights (standard deviation `sqrt(2 / inputs)`, suited to ReLU) and zero
/// biases, drawn from `seed` alone: every method starts from these values (the fixed-point
/// ones quantize them once).
pub fn init_mlp(shape: &MlpShape, seed: u64) -> Vec<DenseF32> {
    init_layers(&shape.layers(), seed)
}

/// He-normal weights and zero biases of layers given as `(inputs, outputs)` (for a
/// convolution: `(k·k·c_in, c_out)`), layer `l` drawn from `seed` and `l` alone.
pub fn init_layers(layers: &[(usize, usize)], seed: u64) -> Vec<DenseF32> {
    layers
        .iter()
        .enumerate()
        .map(|(l, &(inputs, outputs))| {
            let mut rng = ChaCha8Rng::seed_from_u64(seeds::derive(seed, &[seeds::INIT, l as u64]));
            let std = (2.0 / inputs as f64).sqrt();
            let w = (0..inputs * outputs)
                .map(|_| (std * standard_normal(&mut rng)) as f32)
                .collect();
            DenseF32 {
                inputs,
                outputs,
                w,
                b: vec![0.0; outputs],
            }
        })
        .collect()
}

/// Box-Muller: one standard normal from two uniforms.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_checked() {
        assert!(MlpShape::new(vec![784]).is_err());
        assert!(MlpShape::new(vec![784, 0, 10]).is_err());
        assert!(MlpShape::new(vec![784, 70_000, 10]).is_err());
        let s = MlpShape::new(vec![784, 256, 10]).unwrap();
        assert_eq!(s.layers(), vec![(784, 256), (256, 10)]);
        assert_eq!(s.parameter_count(), 784 * 256 + 256 + 256 * 10 + 10);
    }

    #[test]
    fn init_is_reproducible_and_he_scaled() {
        let s = MlpShape::new(vec![400, 30, 10]).unwrap();
        let a = init_mlp(&s, 3);
        assert_eq!(a, init_mlp(&s, 3));
        assert_ne!(a, init_mlp(&s, 4));
        let w = &a[0].w;
        let var = w.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / w.len() as f64;
        // 12,000 draws: the sample variance is within a few percent of 2/400.
        assert!((var / (2.0 / 400.0) - 1.0).abs() < 0.05, "{var}");
        assert!(a.iter().all(|l| l.b.iter().all(|&b| b == 0.0)));
    }
}
