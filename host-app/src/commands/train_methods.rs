//! The options of the quantized-training methods of `qtrain train` (r, sr, bc, bcgd, wage)
//! and their checks: each option is refused by the methods it does not apply to.

use anyhow::{bail, ensure};
use clap::Args;

use super::train::{FixedArgs, Method};
use crate::train::methods::bcgd::BcgdConfig;
use crate::train::methods::li::{BcConfig, GridConfig};
use crate::train::methods::wage::WageConfig;
use crate::train::methods::MethodConfig;
use crate::train::net::weight_grid::GridSpec;

/// Options of the quantized-weight methods.
#[derive(Args, Clone, Debug, Default)]
pub struct QuantArgs {
    /// Weight bits of r, sr and bc: 1 is binary {-delta, +delta}, k >= 2 the k-bit grid
    /// {-2^(k-1), ..., 2^(k-1) - 1}·delta [default: 1]
    #[arg(long)]
    pub weight_bits: Option<u8>,
    /// Weight grid step of r, sr and bc, a power of two [default: 2^-4 for 1 bit,
    /// 2^-(k+2) for k bits]
    #[arg(long)]
    pub delta: Option<f64>,
    /// BCGD's blending factor rho [default: 1e-5]
    #[arg(long)]
    pub rho: Option<f64>,
    /// Bits b of BCGD's quantized ReLU (2^b - 1 levels) [default: 4]
    #[arg(long)]
    pub act_bits: Option<u8>,
    /// BCGD's coarse derivative of the quantized ReLU in alpha: 2- or 3-valued [default: 3]
    #[arg(long)]
    pub alpha_grad: Option<u8>,
    /// BCGD's learning rate of alpha as a multiple of the weights' (0 keeps alpha at its
    /// initial value) [default: 1]
    #[arg(long)]
    pub alpha_lr: Option<f64>,
    /// WAGE's bits of weights, activations, gradients and errors [default: 2,8,8,8]
    #[arg(long, value_delimiter = ',')]
    pub wage_bits: Option<Vec<u8>>,
}

impl QuantArgs {
    fn given(&self) -> Vec<&'static str> {
        [
            ("--weight-bits", self.weight_bits.is_some()),
            ("--delta", self.delta.is_some()),
            ("--rho", self.rho.is_some()),
            ("--act-bits", self.act_bits.is_some()),
            ("--alpha-grad", self.alpha_grad.is_some()),
            ("--alpha-lr", self.alpha_lr.is_some()),
            ("--wage-bits", self.wage_bits.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, set)| set.then_some(n))
        .collect()
    }

    /// Those of `names` that were given.
    fn given_of(&self, names: &[&str]) -> Vec<&'static str> {
        self.given()
            .into_iter()
            .filter(|n| names.contains(n))
            .collect()
    }

    fn grid(&self) -> anyhow::Result<GridSpec> {
        let bits = self.weight_bits.unwrap_or(1);
        ensure!(
            (1..=15).contains(&bits),
            "--weight-bits {bits}: 1 to 15 bits fit a 16-bit word"
        );
        let delta_log2 = match self.delta {
            None => GridSpec::default_delta_log2(bits),
            Some(d) => {
                let e = d.log2().round();
                ensure!(
                    d.is_finite() && d > 0.0 && e.exp2() == d && (-30.0..=8.0).contains(&e),
                    "--delta {d} must be a power of two (e.g. 0.0625 = 2^-4)"
                );
                e as i8
            }
        };
        Ok(GridSpec { bits, delta_log2 })
    }
}

/// Options of bcgd and wage, which r, sr and bc refuse.
const BCGD_ONLY: &[&str] = &[
    "--rho",
    "--act-bits",
    "--alpha-grad",
    "--alpha-lr",
    "--wage-bits",
];

fn refuse(given: &[&str], method: &str) -> anyhow::Result<()> {
    if !given.is_empty() {
        bail!("{} do not apply to --method {method}", given.join(", "));
    }
    Ok(())
}

/// The configuration of `method`, with the options that do not apply to it refused.
pub fn config(
    method: Method,
    fixed: &FixedArgs,
    quant: &QuantArgs,
) -> anyhow::Result<MethodConfig> {
    match method {
        Method::Float32 | Method::Fixed => {
            refuse(
                &quant.given(),
                if method == Method::Fixed {
                    "fixed"
                } else {
                    "float32"
                },
            )?;
            super::train::method_config(method, fixed)
        }
        Method::Wage => {
            refuse(&fixed.given(), "wage (its formats follow from --wage-bits)")?;
            let mut others = quant.given();
            others.retain(|n| *n != "--wage-bits");
            refuse(&others, "wage")?;
            let b = quant.wage_bits.clone().unwrap_or_else(|| vec![2, 8, 8, 8]);
            ensure!(
                b.len() == 4 && b.iter().all(|k| (2..=16).contains(k)),
                "--wage-bits {b:?}: four bit widths W,A,G,E, each 2 to 16"
            );
            Ok(MethodConfig::Wage(WageConfig {
                w: b[0],
                a: b[1],
                g: b[2],
                e: b[3],
            }))
        }
        Method::Bcgd => {
            refuse(
                &fixed.given(),
                "bcgd (its device formats are fixed, docs/training.md)",
            )?;
            refuse(
                &quant.given_of(&["--delta"]),
                "bcgd (its weight scale is the projection's)",
            )?;
            refuse(&quant.given_of(&["--wage-bits"]), "bcgd")?;
            let c = BcgdConfig {
                weight_bits: quant.weight_bits.unwrap_or(1),
                act_bits: quant.act_bits.unwrap_or(4),
                rho: quant.rho.unwrap_or(1e-5),
                alpha_grad: quant.alpha_grad.unwrap_or(3),
                alpha_lr: quant.alpha_lr.unwrap_or(1.0),
            };
            ensure!(
                (1..=8).contains(&c.weight_bits),
                "--weight-bits {}: bcgd takes 1 to 8",
                c.weight_bits
            );
            ensure!(
                (1..=8).contains(&c.act_bits),
                "--act-bits {}: 1 to 8 (numerics §7.3)",
                c.act_bits
            );
            ensure!(
                (0.0..=1.0).contains(&c.rho),
                "--rho {} must be in [0, 1]",
                c.rho
            );
            ensure!(
                matches!(c.alpha_grad, 2 | 3),
                "--alpha-grad {}: 2 or 3",
                c.alpha_grad
            );
            ensure!(
                c.alpha_lr.is_finite() && c.alpha_lr >= 0.0,
                "--alpha-lr {}: a multiple of the learning rate, 0 or more",
                c.alpha_lr
            );
            Ok(MethodConfig::Bcgd(c))
        }
        Method::R | Method::Sr => {
            refuse(&quant.given_of(BCGD_ONLY), "r/sr")?;
            let name = if method == Method::R { "r" } else { "sr" };
            if fixed.rounding.is_some() {
                bail!("--rounding does not apply to --method {name}: the method is its update's rounding");
            }
            let c = GridConfig {
                grid: quant.grid()?,
                fl: fixed.config()?.fl,
            };
            c.grid.device_grid(c.fl.w)?;
            Ok(if method == Method::R {
                MethodConfig::R(c)
            } else {
                MethodConfig::Sr(c)
            })
        }
        Method::Bc => {
            let given = fixed.given();
            refuse(
                &given,
                "bc (its device formats are fixed, docs/training.md)",
            )?;
            refuse(&quant.given_of(BCGD_ONLY), "bc")?;
            let grid = quant.grid()?;
            grid.device_grid(crate::train::methods::li::BC_FORMATS.w)?;
            Ok(MethodConfig::Bc(BcConfig { grid }))
        }
    }
}
