//! `qtrain experiment NAME`: the experiments of the papers qtrain reproduces, each one
//! command that runs its training runs in parallel and writes `results.md`, `results.csv`
//! and SVG plots (docs/experiments.md).
//!
//! - [`gupta`]: 16-bit fixed point, round to nearest vs stochastic rounding (Gupta et al. 2015).
//! - [`li`]: R vs SR vs BC with binary and k-bit weights, batch sizes, weight changes, and the
//!   convex case ([`convex`]) (Li et al. 2017).
//! - [`bcgd`]: blending and the α gradient of BCGD (Yin et al. 2019).
//! - [`wage`]: WAGE 2-8-8-8 (Wu et al. 2018).

pub mod bcgd;
pub mod chart;
pub mod convex;
pub mod gupta;
pub mod li;
pub mod pool;
pub mod report;
pub mod runner;
pub mod stats;
pub mod summary;
pub mod wage;

use std::path::PathBuf;

use anyhow::ensure;

use crate::commands::board::Backend;
use crate::train::mnist::{default_data_dir, Mnist};
use report::Report;
use runner::Runner;

/// How an experiment is run.
pub struct Options {
    /// The reduced version for CI, with its checks.
    pub quick: bool,
    /// Board of the device methods.
    pub backend: Backend,
    /// Output folder.
    pub out: PathBuf,
    /// Concurrent training runs.
    pub jobs: usize,
    /// Seeds per configuration (None: the experiment's default).
    pub seeds: Option<u64>,
    /// MNIST folder (None: as `qtrain train` finds it).
    pub data: Option<PathBuf>,
    /// Only this network, for experiments that run several (None: all of them).
    pub model: Option<String>,
    /// The command line, for the report.
    pub command: String,
}

impl Options {
    /// Seeds `1..=n`, `n` from `--seeds` or the default of the experiment.
    pub fn seeds(&self, default: u64) -> Vec<u64> {
        (1..=self.seeds.unwrap_or(default)).collect()
    }

    /// A value for the quick or the full version.
    pub fn pick<T>(&self, quick: T, full: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }

    /// MNIST cut to `train` and `test` images (None: all).
    pub fn data(&self, train: Option<usize>, test: Option<usize>) -> anyhow::Result<Mnist> {
        let dir = match &self.data {
            Some(d) => d.clone(),
            None => default_data_dir()?,
        };
        let mut data = Mnist::load(&dir)?;
        ensure!(
            !data.train.is_empty() && !data.test.is_empty(),
            "{}: no images",
            dir.display()
        );
        if let Some(n) = train {
            data.train = data.train.truncated(n);
        }
        if let Some(n) = test {
            data.test = data.test.truncated(n);
        }
        Ok(data)
    }

    /// A runner of training runs on `data` into this experiment's folder.
    pub fn runner<'a>(&self, data: &'a Mnist) -> Runner<'a> {
        Runner {
            data,
            backend: self.backend,
            out: self.out.clone(),
            jobs: self.jobs,
        }
    }

    /// A line on the scale of the run, for the report.
    pub fn scale_note(&self, data: &Mnist, epochs: u32, seeds: usize) -> String {
        format!(
            "{} version: {} training images, {} test images, {} epochs, {} seeds per configuration, backend {:?}.\n",
            if self.quick { "Quick (CI)" } else { "Full" },
            data.train.len(),
            data.test.len(),
            epochs,
            seeds,
            self.backend
        )
    }
}

/// The experiments by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Experiment {
    /// 16-bit fixed point, FL 8/10/12/14 x nearest/stochastic vs float32 (Gupta et al. 2015).
    Gupta,
    /// R vs SR vs BC with binary and k-bit weights, batch sizes, weight changes, the convex
    /// case (Li et al. 2017).
    Li,
    /// BCGD 1W4A with and without blending, 2- vs 3-valued alpha gradient (Yin et al. 2019).
    Bcgd,
    /// WAGE 2-8-8-8 (Wu et al. 2018).
    Wage,
}

/// Runs `experiment`, writes its files into `opts.out` and returns its report.
pub fn run(experiment: Experiment, opts: &Options) -> anyhow::Result<Report> {
    let report = match experiment {
        Experiment::Gupta => gupta::run(opts)?,
        Experiment::Li => li::run(opts)?,
        Experiment::Bcgd => bcgd::run(opts)?,
        Experiment::Wage => wage::run(opts)?,
    };
    report.write(&opts.out)?;
    Ok(report)
}
