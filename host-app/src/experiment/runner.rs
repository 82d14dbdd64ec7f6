//! Training runs of an experiment: each one a `qtrain train` run in its own folder under
//! `--out/runs/`, run through the training library's run API, many at a time.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::pool;
use crate::commands::board::Backend;
use crate::commands::train::CNN_MODEL_MEM_WORDS;
use crate::operands::write_atomically;
use crate::train::checkpoint::{self, RunIdentity};
use crate::train::device::open_board;
use crate::train::methods::MethodConfig;
use crate::train::methods::Params;
use crate::train::metrics::EpochMetrics;
use crate::train::mnist::Mnist;
use crate::train::net::cnn::CnnShape;
use crate::train::net::{init_mlp, MlpShape};
use crate::train::run::{self, RunSpec};

/// The MLP of the experiments (the training default).
pub const MLP: [usize; 3] = [784, 256, 10];

/// One training run of an experiment.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// `"mlp"` or `"cnn"`.
    pub model: &'static str,
    /// The method and its options.
    pub method: MethodConfig,
    /// Batch size.
    pub batch: usize,
    /// Learning rate.
    pub lr: f64,
    /// Seed of the initial weights, the data order and the roundings.
    pub seed: u64,
    /// Epochs.
    pub epochs: u32,
    /// What the experiment varies, as (column, value): the CSV columns and the grouping keys.
    pub tags: Vec<(&'static str, String)>,
    /// Also measure, per epoch, the fraction of weight-matrix entries whose sign changed
    /// (for binary weights: the fraction of quantized weights that flipped, Li et al.'s
    /// measure, also for BC's float shadow weights; the run is then stepped one epoch at a
    /// time through `--resume`, which is bit-identical to running straight through).
    pub sign_changes: bool,
}

impl RunConfig {
    /// The run's folder name: its tags and seed.
    pub fn label(&self) -> String {
        let mut s: String = self
            .tags
            .iter()
            .map(|(k, v)| format!("{k}-{v}_"))
            .collect::<String>()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '.'
                }
            })
            .collect();
        s.push_str(&format!("seed-{}", self.seed));
        s
    }

    /// The value of tag `key`.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The tags without the seed: runs that differ only in seed share it.
    pub fn group(&self) -> Vec<(&'static str, String)> {
        self.tags.clone()
    }
}

/// A finished run: its configuration and per-epoch metrics.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// What ran.
    pub config: RunConfig,
    /// One entry per epoch.
    pub epochs: Vec<EpochMetrics>,
    /// With [`RunConfig::sign_changes`]: per epoch, the fraction of weight-matrix entries
    /// whose sign changed in it.
    pub sign_changed: Vec<f64>,
}

impl RunResult {
    /// The last epoch's metrics.
    pub fn last(&self) -> &EpochMetrics {
        self.epochs.last().expect("a run has at least one epoch")
    }
}

/// Where and with what the runs of an experiment run.
pub struct Runner<'a> {
    /// The data, already cut to the experiment's image counts.
    pub data: &'a Mnist,
    /// Board of the device methods.
    pub backend: Backend,
    /// Experiment folder; runs go to `runs/<label>` in it.
    pub out: PathBuf,
    /// Concurrent runs.
    pub jobs: usize,
}

impl Runner<'_> {
    /// Runs every configuration (at most `jobs` at a time) and returns their results in the
    /// order given. A run whose folder already holds a checkpoint with the same settings is
    /// resumed (or, when done, read back): an interrupted experiment continues where it was.
    pub fn run_all(&self, configs: &[RunConfig]) -> anyhow::Result<Vec<RunResult>> {
        let started = std::time::Instant::now();
        let results = pool::map(configs, self.jobs, |i, c| {
            let r = self
                .run_one(c)
                .with_context(|| format!("run {} ({})", i + 1, c.label()))?;
            eprintln!(
                "[{}/{}] {}: test error {:.2}% ({:.0} s into the experiment)",
                i + 1,
                configs.len(),
                c.label(),
                100.0 * r.last().test_error,
                started.elapsed().as_secs_f64()
            );
            Ok(r)
        })?;
        Ok(results)
    }

    fn spec(&self, c: &RunConfig, epochs: u32) -> RunSpec {
        let layers = match c.model {
            "cnn" => CnnShape::LENET.widths(),
            _ => MLP.to_vec(),
        };
        let dir = self.out.join("runs").join(c.label());
        RunSpec {
            identity: RunIdentity {
                model: c.model.into(),
                layers,
                method: c.method.clone(),
                batch: c.batch,
                lr: c.lr,
                seed: c.seed,
                train_images: self.data.train.len(),
                test_images: self.data.test.len(),
            },
            epochs,
            resume: checkpoint::path(&dir).exists(),
            out: dir,
            backend_name: format!("the {:?} backend", self.backend),
        }
    }

    fn train(&self, c: &RunConfig, epochs: u32) -> anyhow::Result<RunSpec> {
        let spec = self.spec(c, epochs);
        let (backend, uses_device) = (self.backend, c.method.uses_device());
        let mem = (c.model == "cnn" && backend == Backend::Model).then_some(CNN_MODEL_MEM_WORDS);
        run::run(&spec, self.data, || {
            if uses_device {
                open_board(backend, mem, None).map(Some)
            } else {
                Ok(None)
            }
        })?;
        Ok(spec)
    }

    fn run_one(&self, c: &RunConfig) -> anyhow::Result<RunResult> {
        let mut sign_changed = Vec::new();
        let spec = if c.sign_changes {
            anyhow::ensure!(c.model == "mlp", "sign changes are measured on the MLP");
            let dir = self.spec(c, c.epochs).out;
            let saved = dir.join("sign_changes.json");
            if saved.exists() {
                sign_changed = serde_json::from_slice(&std::fs::read(&saved)?)?;
            }
            let shape = MlpShape::new(MLP.to_vec())?;
            let mut before = match checkpoint::load(&dir)? {
                None => init_mlp(&shape, c.seed)
                    .iter()
                    .map(|l| signs_f32(&l.w))
                    .collect(),
                Some(cp) => {
                    anyhow::ensure!(
                        cp.epochs_done as usize == sign_changed.len(),
                        "{} holds {} epochs but sign changes for {}: remove the folder",
                        dir.display(),
                        cp.epochs_done,
                        sign_changed.len()
                    );
                    weight_signs(&cp.params)
                }
            };
            for e in sign_changed.len() as u32 + 1..=c.epochs {
                self.train(c, e)?;
                let cp = checkpoint::load(&dir)?.context("the run left no checkpoint")?;
                let now = weight_signs(&cp.params);
                sign_changed.push(flipped_fraction(&before, &now));
                write_atomically(&saved, &serde_json::to_vec(&sign_changed)?)?;
                before = now;
            }
            self.spec(c, c.epochs)
        } else {
            self.train(c, c.epochs)?
        };
        Ok(RunResult {
            config: c.clone(),
            epochs: read_metrics(&spec.out)?,
            sign_changed,
        })
    }
}

/// Whether each entry is negative.
fn signs_f32(w: &[f32]) -> Vec<bool> {
    w.iter().map(|x| x.is_sign_negative()).collect()
}

/// The signs of the weight matrices (`[W1, b1, W2, b2, ...]`: the even tensors; BCGD's extra
/// α tensor, odd in count, is left out).
fn weight_signs(p: &Params) -> Vec<Vec<bool>> {
    match p {
        Params::F32 { tensors } => tensors
            .chunks_exact(2)
            .map(|t| t[0].iter().map(|b| b >> 31 == 1).collect())
            .collect(),
        Params::Fixed { tensors } => tensors
            .chunks_exact(2)
            .map(|t| t[0].iter().map(|w| *w < 0).collect())
            .collect(),
    }
}

/// The fraction of entries whose sign differs.
fn flipped_fraction(a: &[Vec<bool>], b: &[Vec<bool>]) -> f64 {
    let total: usize = a.iter().map(Vec::len).sum();
    let flipped: usize = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.iter().zip(y).filter(|(p, q)| p != q).count())
        .sum();
    flipped as f64 / total.max(1) as f64
}

/// The per-epoch metrics a run wrote into `dir/metrics.json`.
pub fn read_metrics(dir: &Path) -> anyhow::Result<Vec<EpochMetrics>> {
    #[derive(serde::Deserialize)]
    struct File {
        epochs: Vec<EpochMetrics>,
    }
    let path = dir.join("metrics.json");
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let f: File =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))?;
    anyhow::ensure!(!f.epochs.is_empty(), "{} has no epochs", path.display());
    Ok(f.epochs)
}

/// What a configuration is tagged with: (column, value) pairs.
pub type Tags = Vec<(&'static str, String)>;

/// Runs that share their tags (differ only in seed), with those tags.
pub type Group<'a> = (Tags, Vec<&'a RunResult>);

/// Results grouped by their tags (runs that differ only in seed), in first-seen order.
pub fn groups(results: &[RunResult]) -> Vec<Group<'_>> {
    let mut out: Vec<Group<'_>> = Vec::new();
    for r in results {
        let key = r.config.group();
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(r),
            None => out.push((key, vec![r])),
        }
    }
    out
}

/// Every run's every epoch as CSV rows: the tags, seed, epoch and the metrics (no wall
/// times, so that the file is the same however the runs were scheduled).
pub fn epochs_csv(results: &[RunResult]) -> String {
    let mut keys: Vec<&'static str> = Vec::new();
    for r in results {
        for (k, _) in &r.config.tags {
            if !keys.contains(k) {
                keys.push(k);
            }
        }
    }
    let mut headers: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    headers.extend(
        [
            "model",
            "method",
            "batch",
            "lr",
            "seed",
            "epoch",
            "loss",
            "train_error",
            "test_error",
            "test_loss",
            "weights_changed",
        ]
        .map(String::from),
    );
    let mut rows = Vec::new();
    for r in results {
        let c = &r.config;
        for e in &r.epochs {
            let mut row: Vec<String> = keys
                .iter()
                .map(|k| c.tag(k).unwrap_or_default().to_string())
                .collect();
            row.extend([
                c.model.to_string(),
                c.method.name().to_string(),
                c.batch.to_string(),
                c.lr.to_string(),
                c.seed.to_string(),
                e.epoch.to_string(),
                e.loss.to_string(),
                e.train_error.to_string(),
                e.test_error.to_string(),
                e.test_loss.to_string(),
                e.weights_changed.to_string(),
            ]);
            rows.push(row);
        }
    }
    super::report::csv(&headers, &rows)
}
