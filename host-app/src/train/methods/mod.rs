//! Training methods: how a network's arithmetic is done. Each method is a [`Trainer`] built
//! by [`build`] from its [`MethodConfig`]; adding one (r, sr, bc, bcgd, wage, ...) is a
//! variant of [`MethodConfig`], its options in `commands/train.rs`, and a module here.
//!
//! - `float32`: the baseline, on the host in `f32` with plain SGD ([`float32`]).
//! - `fixed`: Gupta et al. (ICML 2015), every tensor 16-bit fixed point on the device
//!   ([`fixed`]).
//! - `r`, `sr`, `bc`: quantized weights as Li et al. (NIPS 2017) compare them ([`li`]).
//! - `bcgd`: blended coarse gradient descent (Yin et al. 2019) ([`bcgd`]).
//! - `wage`: Wu et al. (ICLR 2018) ([`wage`]).

pub mod bcgd;
pub mod bcgd_quant;
pub mod cnn;
pub mod fixed;
pub mod float32;
pub mod li;
pub mod wage;

use serde::{Deserialize, Serialize};

use super::device::TrainingBoard;
use super::loss::BatchOutcome;
use super::net::host_net::Topology;
use super::net::{DenseF32, MlpShape};

/// A method with its options: part of a run's identity (a resumed run must match it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum MethodConfig {
    /// The `f32` host baseline.
    Float32,
    /// 16-bit fixed point on the device.
    Fixed(fixed::FixedConfig),
    /// Quantized weights, update rounded to nearest on the device (Li et al. 2017).
    R(li::GridConfig),
    /// Quantized weights, update rounded stochastically on the device (Li et al. 2017).
    Sr(li::GridConfig),
    /// BinaryConnect: float shadow weights on the host (Li et al. 2017).
    Bc(li::BcConfig),
    /// Blended coarse gradient descent: float shadow weights on the host (Yin et al. 2019).
    Bcgd(bcgd::BcgdConfig),
    /// WAGE, integers everywhere (Wu et al. 2018).
    Wage(wage::WageConfig),
}

impl MethodConfig {
    /// The name `--method` takes.
    pub fn name(&self) -> &'static str {
        match self {
            MethodConfig::Float32 => "float32",
            MethodConfig::Fixed(_) => "fixed",
            MethodConfig::R(_) => "r",
            MethodConfig::Sr(_) => "sr",
            MethodConfig::Bc(_) => "bc",
            MethodConfig::Bcgd(_) => "bcgd",
            MethodConfig::Wage(_) => "wage",
        }
    }

    /// Whether the method runs on a board (and so needs one opened).
    pub fn uses_device(&self) -> bool {
        !matches!(self, MethodConfig::Float32)
    }
}

/// A network's trainable parameters as the method holds them: `[W1, b1, W2, b2, ...]`,
/// each row-major.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Params {
    /// `f32` values stored as their bit patterns, so that a checkpoint restores them exactly.
    F32 {
        /// The bit patterns.
        tensors: Vec<Vec<u32>>,
    },
    /// Raw 16-bit fixed-point words.
    Fixed {
        /// The words.
        tensors: Vec<Vec<i16>>,
    },
}

impl Params {
    /// Number of parameters.
    fn count(&self) -> usize {
        match self {
            Params::F32 { tensors } => tensors.iter().map(Vec::len).sum(),
            Params::Fixed { tensors } => tensors.iter().map(Vec::len).sum(),
        }
    }

    /// The fraction of parameters whose stored value differs from `before`'s (None if the
    /// two are not of the same network).
    pub fn changed_fraction(&self, before: &Params) -> Option<f64> {
        fn count<T: PartialEq>(a: &[Vec<T>], b: &[Vec<T>]) -> Option<usize> {
            if a.len() != b.len() || a.iter().zip(b).any(|(x, y)| x.len() != y.len()) {
                return None;
            }
            Some(
                a.iter()
                    .zip(b)
                    .map(|(x, y)| x.iter().zip(y).filter(|(p, q)| p != q).count())
                    .sum(),
            )
        }
        let changed = match (self, before) {
            (Params::F32 { tensors: a }, Params::F32 { tensors: b }) => count(a, b),
            (Params::Fixed { tensors: a }, Params::Fixed { tensors: b }) => count(a, b),
            _ => None,
        }?;
        Some(changed as f64 / self.count().max(1) as f64)
    }
}

/// What a board counted: cumulative since the trainer was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Device cycles (None when the backend counts none, as the software engine).
    pub device_cycles: Option<u64>,
    /// Bytes of frames on the link (None for methods that use no board).
    pub link_bytes: Option<u64>,
}

/// A method training one network. Batches are given as raw pixels (`rows x inputs`, 0..=255)
/// and labels; `seed` fixes every random choice the step makes.
pub trait Trainer {
    /// One SGD step on the batch's mean loss; the outcome is that of the forward pass
    /// before the step.
    fn train_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        seed: u64,
    ) -> anyhow::Result<BatchOutcome>;
    /// Loss and accuracy without training.
    fn eval_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        seed: u64,
    ) -> anyhow::Result<BatchOutcome>;
    /// A copy of the parameters on the host.
    fn params(&mut self) -> anyhow::Result<Params>;
    /// Replaces the parameters (resuming from a checkpoint).
    fn set_params(&mut self, p: &Params) -> anyhow::Result<()>;
    /// The board's counters.
    fn counters(&mut self) -> anyhow::Result<Counters>;
    /// One line on where and how it runs, for the log.
    fn describe(&self) -> String;
}

/// Everything a method is built from.
pub struct BuildArgs<'a> {
    /// The network.
    pub shape: &'a MlpShape,
    /// The initial parameters, common to all methods.
    pub init: &'a [DenseF32],
    /// Largest batch.
    pub batch: usize,
    /// Learning rate of the mean loss.
    pub lr: f64,
    /// The board, for methods that use one.
    pub board: Option<TrainingBoard>,
}

/// Builds the trainer of `method`. Fails, before any work on a board, if the method cannot
/// run this network there.
pub fn build(method: &MethodConfig, args: BuildArgs) -> anyhow::Result<Box<dyn Trainer>> {
    Ok(match method {
        MethodConfig::Float32 => Box::new(float32::Float32::new(args.init, args.lr)),
        MethodConfig::Fixed(cfg) => Box::new(fixed::Fixed::new(cfg, args)?),
        MethodConfig::R(cfg) => Box::new(li::GridFixed::new(
            cfg,
            qtrain_model::Rounding::Nearest,
            args,
        )?),
        MethodConfig::Sr(cfg) => Box::new(li::GridFixed::new(
            cfg,
            qtrain_model::Rounding::Stochastic,
            args,
        )?),
        MethodConfig::Bc(_) | MethodConfig::Bcgd(_) | MethodConfig::Wage(_) => host_rules(
            method,
            Topology::Mlp(args.shape.clone()),
            args.init,
            args.batch,
            args.lr,
            args.board,
        )?,
    })
}

/// The trainer of a method that keeps its parameters on the host and runs its products on
/// the board (bc, bcgd, wage), for either topology.
pub(crate) fn host_rules(
    method: &MethodConfig,
    topo: Topology,
    init: &[DenseF32],
    batch: usize,
    lr: f64,
    board: Option<TrainingBoard>,
) -> anyhow::Result<Box<dyn Trainer>> {
    Ok(match method {
        MethodConfig::Bc(cfg) => li::host_trainer(
            board,
            topo,
            batch,
            false,
            li::BcRules::new(cfg, init, lr)?,
            "bc",
        )?,
        MethodConfig::Bcgd(cfg) => li::host_trainer(
            board,
            topo,
            batch,
            true,
            bcgd::BcgdRules::new(cfg, init, lr),
            "bcgd",
        )?,
        MethodConfig::Wage(cfg) => li::host_trainer(
            board,
            topo,
            batch,
            false,
            wage::WageRules::new(cfg, init, lr)?,
            "wage",
        )?,
        other => anyhow::bail!(
            "--method {} does not keep its parameters on the host",
            other.name()
        ),
    })
}

/// `[W1, b1, W2, b2, ..., extra...]` of host `f32` layers as bit patterns.
pub(crate) fn f32_params(layers: &[DenseF32], extra: &[Vec<f32>]) -> Params {
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect();
    Params::F32 {
        tensors: layers
            .iter()
            .flat_map(|l| [bits(&l.w), bits(&l.b)])
            .chain(extra.iter().map(|e| bits(e)))
            .collect(),
    }
}

/// The inverse of [`f32_params`]: checks the shapes and restores the values exactly.
pub(crate) fn set_f32_params(
    layers: &mut [DenseF32],
    extra: &mut [Vec<f32>],
    p: &Params,
) -> anyhow::Result<()> {
    let Params::F32 { tensors } = p else {
        anyhow::bail!("a fixed-point checkpoint cannot be loaded into a host f32 network");
    };
    let want = 2 * layers.len() + extra.len();
    anyhow::ensure!(
        tensors.len() == want,
        "checkpoint has {} tensors, the network {want}",
        tensors.len()
    );
    let (pairs, rest) = tensors.split_at(2 * layers.len());
    let mut dst: Vec<&mut Vec<f32>> = layers
        .iter_mut()
        .flat_map(|l| [&mut l.w, &mut l.b])
        .collect();
    dst.extend(extra.iter_mut());
    for (d, s) in dst.into_iter().zip(pairs.iter().chain(rest)) {
        anyhow::ensure!(
            d.len() == s.len(),
            "checkpoint tensor shapes differ from the network"
        );
        *d = s.iter().map(|&b| f32::from_bits(b)).collect();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_fraction_counts_differences() {
        let a = Params::Fixed {
            tensors: vec![vec![1, 2, 3], vec![4]],
        };
        let b = Params::Fixed {
            tensors: vec![vec![1, 0, 3], vec![5]],
        };
        assert_eq!(b.changed_fraction(&a), Some(0.5));
        assert_eq!(a.changed_fraction(&a), Some(0.0));
        let f = Params::F32 {
            tensors: vec![vec![0; 4]],
        };
        assert_eq!(f.changed_fraction(&a), None);
        // -0.0 and 0.0 are different stored values.
        let g = Params::F32 {
            tensors: vec![vec![0, 0x8000_0000, 0, 0]],
        };
        assert_eq!(g.changed_fraction(&f), Some(0.25));
    }
}
