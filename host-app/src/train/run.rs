//! The training loop: epochs of shuffled batches, a test pass, metrics, checkpoint and plot
//! after each epoch, and `--resume`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::checkpoint::{self, Checkpoint, RunIdentity};
use super::device::TrainingBoard;
use super::loss::BatchOutcome;
use super::methods::cnn::{build_cnn as build_cnn_trainer, CnnBuildArgs};
use super::methods::{self, BuildArgs, Counters, Trainer};
use super::metrics::{self, EpochMetrics};
use super::mnist::{Dataset, Mnist};
use super::net::cnn::{init_cnn, CnnShape};
use super::net::{init_mlp, MlpShape};
use super::{plot, seeds};

/// A run as `qtrain train` sets it up.
pub struct RunSpec {
    /// What fixes the numbers.
    pub identity: RunIdentity,
    /// Epochs to have done when the run ends.
    pub epochs: u32,
    /// Run folder.
    pub out: PathBuf,
    /// Continue the run in `out`.
    pub resume: bool,
    /// Where it runs, for the log.
    pub backend_name: String,
}

/// The images of `set` at `order` as one row-major block of pixels and their labels.
fn gather(set: &Dataset, order: &[usize]) -> (Vec<u8>, Vec<u8>) {
    let mut pixels = Vec::with_capacity(order.len() * set.features());
    let mut labels = Vec::with_capacity(order.len());
    for &i in order {
        pixels.extend_from_slice(set.image(i));
        labels.push(set.labels[i]);
    }
    (pixels, labels)
}

/// The order of the training images in epoch `epoch` (0-based).
pub fn epoch_order(seed: u64, epoch: u32, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng =
        ChaCha8Rng::seed_from_u64(seeds::derive(seed, &[seeds::SHUFFLE, u64::from(epoch)]));
    order.shuffle(&mut rng);
    order
}

/// Loss and error of the trainer on all of `set`, in batches of `batch`, in order.
pub fn evaluate(
    trainer: &mut dyn Trainer,
    set: &Dataset,
    batch: usize,
    seed: u64,
    epoch: u32,
) -> anyhow::Result<BatchOutcome> {
    let mut total = BatchOutcome::default();
    let idx: Vec<usize> = (0..set.len()).collect();
    for (i, chunk) in idx.chunks(batch).enumerate() {
        let (pixels, labels) = gather(set, chunk);
        let s = seeds::derive(seed, &[seeds::EVAL, u64::from(epoch), i as u64]);
        total.add(trainer.eval_batch(&pixels, &labels, s)?);
    }
    Ok(total)
}

/// One pass of training over `order`; `tick` is called after each batch.
pub fn train_epoch(
    trainer: &mut dyn Trainer,
    set: &Dataset,
    order: &[usize],
    batch: usize,
    seed: u64,
    epoch: u32,
    mut tick: impl FnMut(&BatchOutcome),
) -> anyhow::Result<BatchOutcome> {
    let mut total = BatchOutcome::default();
    for (i, chunk) in order.chunks(batch).enumerate() {
        let (pixels, labels) = gather(set, chunk);
        let s = seeds::derive(seed, &[seeds::STEP, u64::from(epoch), i as u64]);
        total.add(trainer.train_batch(&pixels, &labels, s)?);
        tick(&total);
    }
    Ok(total)
}

fn progress(len: u64, epoch: u32, epochs: u32) -> ProgressBar {
    if !std::io::stderr().is_terminal() || !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} images, {msg} ({eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{}/{epochs}", epoch + 1));
    bar
}

fn delta(now: Option<u64>, before: Option<u64>) -> Option<u64> {
    now.map(|n| n - before.unwrap_or(0))
}

/// The trainer of `--model cnn` (the LeNet-like CNN, `id.layers` naming its channels) and
/// its parameter count.
fn build_cnn(
    id: &RunIdentity,
    board: Option<TrainingBoard>,
) -> anyhow::Result<(Box<dyn Trainer>, usize)> {
    let shape = CnnShape::LENET;
    if id.layers != shape.widths() {
        bail!(
            "the CNN has channels {:?}; the run asks for {:?}",
            shape.widths(),
            id.layers
        );
    }
    let init = init_cnn(&shape, id.seed);
    let args = CnnBuildArgs {
        shape: &shape,
        init: &init,
        batch: id.batch,
        lr: id.lr,
        board,
    };
    Ok((
        build_cnn_trainer(&id.method, args)?,
        shape.parameter_count(),
    ))
}

/// Runs (or resumes) a training run; prints one line per epoch on stdout.
pub fn run(
    spec: &RunSpec,
    data: &Mnist,
    open_board: impl FnOnce() -> anyhow::Result<Option<TrainingBoard>>,
) -> anyhow::Result<()> {
    let id = &spec.identity;
    std::fs::create_dir_all(&spec.out)
        .with_context(|| format!("creating the run folder {}", spec.out.display()))?;
    let previous = checkpoint::load(&spec.out)?;
    let resumed = match (previous, spec.resume) {
        (Some(_), false) => bail!(
            "{} already holds a run (checkpoint.json): pass --resume to continue it, or another --out",
            spec.out.display()
        ),
        (None, true) => bail!("--resume: {} holds no checkpoint to continue", spec.out.display()),
        (None, false) => None,
        (Some(c), true) => {
            if c.identity != *id {
                bail!(
                    "--resume: the run in {} was started with different settings:\n  it:   {}\n  now:  {}",
                    spec.out.display(),
                    serde_json::to_string(&c.identity)?,
                    serde_json::to_string(id)?
                );
            }
            Some(c)
        }
    };

    let (mut trainer, parameter_count) = if id.model == "cnn" {
        build_cnn(id, open_board()?)?
    } else {
        let shape = MlpShape::new(id.layers.clone())?;
        let init = init_mlp(&shape, id.seed);
        let board = open_board()?;
        let trainer = methods::build(
            &id.method,
            BuildArgs {
                shape: &shape,
                init: &init,
                batch: id.batch,
                lr: id.lr,
                board,
            },
        )?;
        (trainer, shape.parameter_count())
    };
    let (mut history, done) = match &resumed {
        Some(c) => {
            trainer.set_params(&c.params)?;
            (c.history.clone(), c.epochs_done)
        }
        None => (Vec::new(), 0),
    };
    println!(
        "training {} {:?} ({} parameters) with {} on {}: {} epochs of {} images (batch {}, lr {}, seed {}), test on {}",
        id.model,
        id.layers,
        parameter_count,
        trainer.describe(),
        if id.method.uses_device() { spec.backend_name.as_str() } else { "the host" },
        spec.epochs,
        data.train.len(),
        id.batch,
        id.lr,
        id.seed,
        data.test.len()
    );
    if done > 0 {
        println!("resuming after epoch {done}");
    }
    let title = format!(
        "{} {:?}, {}, batch {}, lr {}, seed {}",
        id.model,
        id.layers,
        id.method.name(),
        id.batch,
        id.lr,
        id.seed
    );
    let run_json = serde_json::json!({
        "identity": id,
        "backend": spec.backend_name,
        "notes": "loss and train_error are measured on each batch before its step; \
                  device_cycles is null when the backend counts no cycles (the model backend's \
                  software engine); link_bytes counts frame headers, bodies and CRCs (for the \
                  model backend: what a link would have carried), null on the host",
    });

    let mut params = trainer.params()?;
    let mut counters: Counters = trainer.counters()?;
    for epoch in done..spec.epochs {
        let start = Instant::now();
        let order = epoch_order(id.seed, epoch, data.train.len());
        let bar = progress(order.len() as u64, epoch, spec.epochs);
        let train = train_epoch(
            trainer.as_mut(),
            &data.train,
            &order,
            id.batch,
            id.seed,
            epoch,
            |t| {
                bar.set_position(t.images as u64);
                bar.set_message(format!(
                    "loss {:.4}, error {:.2}%",
                    t.mean_loss(),
                    100.0 * t.error()
                ));
            },
        )?;
        bar.finish_and_clear();
        let train_seconds = start.elapsed().as_secs_f64();
        let test = evaluate(trainer.as_mut(), &data.test, id.batch, id.seed, epoch)?;
        let wall_seconds = start.elapsed().as_secs_f64();
        // Read back before the counters, so that every epoch counts its own read-back.
        let new_params = trainer.params()?;
        let now = trainer.counters()?;
        let m = EpochMetrics {
            epoch: epoch + 1,
            loss: train.mean_loss(),
            train_error: train.error(),
            test_error: test.error(),
            test_loss: test.mean_loss(),
            weights_changed: new_params.changed_fraction(&params).unwrap_or(f64::NAN),
            wall_seconds,
            train_seconds,
            device_cycles: delta(now.device_cycles, counters.device_cycles),
            link_bytes: delta(now.link_bytes, counters.link_bytes),
        };
        println!(
            "epoch {}/{}: loss {:.4}, train error {:.2}%, test error {:.2}%, weights changed {:.1}%, {:.1} s",
            m.epoch,
            spec.epochs,
            m.loss,
            100.0 * m.train_error,
            100.0 * m.test_error,
            100.0 * m.weights_changed,
            m.wall_seconds
        );
        history.push(m);
        params = new_params;
        counters = now;
        checkpoint::save(
            &spec.out,
            &Checkpoint {
                format: checkpoint::FORMAT,
                identity: id.clone(),
                epochs_done: epoch + 1,
                params: params.clone(),
                history: history.clone(),
            },
        )?;
        metrics::write(&spec.out, &run_json, &history)?;
        plot::write(&spec.out, &title, &history)?;
    }
    if done >= spec.epochs {
        println!("{} epochs were already done", done);
        metrics::write(&spec.out, &run_json, &history)?;
        plot::write(&spec.out, &title, &history)?;
    }
    if let Some(last) = history.last() {
        println!("test error: {:.2}%", 100.0 * last.test_error);
    }
    Ok(())
}
