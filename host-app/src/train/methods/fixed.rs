//! `--method fixed`: Gupta et al. (ICML 2015). Weights, activations and gradients are 16-bit
//! fixed point; every GEMM, bias add, ReLU and weight update runs on the device, with one
//! rounding mode (`nearest` or `stochastic`) for every conversion, and no float copy of the
//! weights anywhere.

use anyhow::Context;
use qtrain_model::Rounding;
use serde::{Deserialize, Serialize};

use super::{BuildArgs, Counters, Params, Trainer};
use crate::train::loss::BatchOutcome;
use crate::train::net::device_mlp::{DeviceMlp, FixedScheme, Formats};

/// The options of `--method fixed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedConfig {
    /// Fraction bits per kind of tensor.
    pub fl: Formats,
    /// The rounding of every conversion: GEMM outputs, the output gradient, the update.
    #[serde(with = "rounding_name")]
    pub rounding: Rounding,
}

impl FixedConfig {
    /// The device scheme: one rounding mode everywhere.
    pub fn scheme(&self) -> FixedScheme {
        FixedScheme {
            fl: self.fl,
            gemm_rounding: self.rounding,
            grad_rounding: self.rounding,
            update_rounding: self.rounding,
        }
    }
}

/// `Rounding` by its name in JSON.
pub mod rounding_name {
    use qtrain_model::Rounding;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the name.
    pub fn serialize<S: Serializer>(r: &Rounding, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(r.name())
    }

    /// Reads a name.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Rounding, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The fixed-point trainer: a [`DeviceMlp`] with one rounding mode.
pub struct Fixed {
    net: DeviceMlp,
    config: FixedConfig,
}

impl Fixed {
    /// Lays the network out on the board and writes the initial weights.
    pub fn new(config: &FixedConfig, args: BuildArgs) -> anyhow::Result<Fixed> {
        let board = args
            .board
            .context("--method fixed runs on a device: it needs a --backend")?;
        let net = DeviceMlp::new(
            board,
            args.shape,
            config.scheme(),
            args.init,
            args.batch,
            args.lr,
        )?;
        Ok(Fixed {
            net,
            config: *config,
        })
    }
}

impl Trainer for Fixed {
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
        let f = self.config.fl;
        format!(
            "fixed 16-bit on the device: FL w/a/g/dw = {}/{}/{}/{}, rounding {}, {} words of device memory",
            f.w,
            f.a,
            f.g,
            f.dw,
            self.config.rounding,
            self.net.plan_words()
        )
    }
}
