//! `qtrain experiment NAME`: one paper's experiment, its training runs in parallel, its
//! results as `results.md`, `results.csv` and SVG plots in `--out` (docs/experiments.md).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::commands::board::Backend;
use crate::experiment::{self, pool, Experiment, Options};

/// Arguments of `qtrain experiment`.
#[derive(Args, Debug)]
pub struct ExperimentArgs {
    /// The experiment.
    #[arg(value_enum)]
    pub name: Experiment,
    /// The reduced version (minutes on 2 cores) that checks the qualitative orderings and
    /// exits with status 1 if one fails.
    #[arg(long)]
    pub quick: bool,
    /// Board of the device methods (host methods run on the host).
    #[arg(long, value_enum, default_value = "model")]
    pub backend: Backend,
    /// Output folder [default: runs/experiments/NAME, or runs/experiments/NAME-quick]. Each
    /// training run has its folder in OUT/runs; a run already there with the same settings is
    /// resumed or reused, so an interrupted experiment continues where it stopped.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Training runs at a time [default: the available cores].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Seeds per configuration [default: the experiment's, 3 for MNIST runs].
    #[arg(long)]
    pub seeds: Option<u64>,
    /// MNIST folder [default: as for `qtrain train`].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Only this network, for experiments that train several (gupta: mlp and cnn).
    #[arg(long, value_parser = ["mlp", "cnn"])]
    pub model: Option<String>,
}

/// `qtrain experiment`.
pub fn experiment(args: ExperimentArgs) -> anyhow::Result<i32> {
    anyhow::ensure!(
        matches!(args.backend, Backend::Model | Backend::Sim),
        "--backend: experiments run on model or sim"
    );
    anyhow::ensure!(args.jobs != Some(0), "--jobs must be at least 1");
    anyhow::ensure!(args.seeds != Some(0), "--seeds must be at least 1");
    let name = args
        .name
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs/experiments").join(if args.quick {
            format!("{name}-quick")
        } else {
            name.clone()
        })
    });
    let command = std::iter::once("qtrain".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let opts = Options {
        quick: args.quick,
        backend: args.backend,
        out: out.clone(),
        jobs: args.jobs.unwrap_or_else(pool::default_jobs),
        seeds: args.seeds,
        data: args.data,
        model: args.model,
        command,
    };
    let start = std::time::Instant::now();
    let report = experiment::run(args.name, &opts)?;
    println!("{}", report.markdown());
    println!(
        "wrote {}/results.md, results.csv and {} plot(s) in {:.1} s",
        out.display(),
        report.plots.len(),
        start.elapsed().as_secs_f64()
    );
    if !report.passed() {
        let failed = report.checks.iter().filter(|c| !c.passed).count();
        println!("{failed} check(s) FAILED");
        if args.quick {
            return Ok(1);
        }
    }
    Ok(0)
}
