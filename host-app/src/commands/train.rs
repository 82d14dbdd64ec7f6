//! `qtrain train` (train a network on MNIST) and `qtrain bench train` (the fixed-point
//! device path's epoch time against the `f32` host path).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, ensure};
use clap::{Args, Subcommand, ValueEnum};
use qtrain_model::Rounding;

use crate::array_shape::ArrayShape;
use crate::commands::board::Backend;
use crate::train::checkpoint::RunIdentity;
use crate::train::device::open_board;
use crate::train::methods::fixed::FixedConfig;
use crate::train::methods::{self, BuildArgs, MethodConfig};
use crate::train::mnist::{default_data_dir, Mnist};
use crate::train::net::cnn::CnnShape;
use crate::train::net::device_mlp::Formats;
use crate::train::net::{init_mlp, MlpShape};
use crate::train::run::{self, RunSpec};

/// Networks `--model` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Model {
    /// Dense layers with ReLU (`--layers`).
    Mlp,
    /// The LeNet-like CNN: conv 5x5 1->8, ReLU, max pool, conv 5x5 8->16, ReLU, max pool,
    /// dense 256->10 (`--layers` does not apply).
    Cnn,
}

/// Methods `--method` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// f32 on the host, plain SGD: the baseline.
    Float32,
    /// 16-bit fixed point on the device (Gupta et al. 2015).
    Fixed,
    /// Quantized weights, update rounded to nearest on the device, no float copy (Li et al. 2017).
    R,
    /// Quantized weights, update rounded stochastically on the device (Li et al. 2017).
    Sr,
    /// BinaryConnect: f32 shadow weights on the host, quantized passes on the device (Li et al. 2017).
    Bc,
    /// Blended coarse gradient descent with quantized ReLU on the device, shadow weights on the host (Yin et al. 2019).
    Bcgd,
    /// WAGE: 2-8-8-8-bit weights, activations, gradients and errors; products on the device (Wu et al. 2018).
    Wage,
}

/// Rounding modes a training method takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TrainRounding {
    /// Round to nearest (ties up).
    Nearest,
    /// Stochastic rounding with the device's LFSR words.
    Stochastic,
}

impl From<TrainRounding> for Rounding {
    fn from(r: TrainRounding) -> Rounding {
        match r {
            TrainRounding::Nearest => Rounding::Nearest,
            TrainRounding::Stochastic => Rounding::Stochastic,
        }
    }
}

/// The formats without --fl options (docs/training.md explains the choice): weights and
/// activation gradients live in [-2, 2) and take FL 14; activations (logits reach 10 and
/// more) and weight gradients (sums over the batch) need the range of FL 10 (+-32).
pub const DEFAULT_FL: Formats = Formats {
    w: 14,
    a: 10,
    g: 14,
    dw: 10,
};

/// Options of the fixed-point methods.
#[derive(Args, Clone, Debug, Default)]
pub struct FixedArgs {
    /// Fraction bits (of 16) of every kind of tensor; without it each kind takes its own
    /// default (--fl-w 14, --fl-a 10, --fl-g 14, --fl-dw 10), and --fl-* override either way
    #[arg(long)]
    pub fl: Option<u8>,
    /// Fraction bits of weights and biases [default: 14]
    #[arg(long)]
    pub fl_w: Option<u8>,
    /// Fraction bits of activations: inputs, pre-activations, hidden outputs, logits [default: 10]
    #[arg(long)]
    pub fl_a: Option<u8>,
    /// Fraction bits of gradients with respect to activations [default: 14]
    #[arg(long)]
    pub fl_g: Option<u8>,
    /// Fraction bits of gradients with respect to weights and biases [default: 10]
    #[arg(long)]
    pub fl_dw: Option<u8>,
    /// Rounding of every conversion (GEMM outputs, gradients, weight update) [default: stochastic]
    #[arg(long, value_enum)]
    pub rounding: Option<TrainRounding>,
}

impl FixedArgs {
    pub(crate) fn given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let opts = [
            ("--fl", self.fl.is_some()),
            ("--fl-w", self.fl_w.is_some()),
            ("--fl-a", self.fl_a.is_some()),
            ("--fl-g", self.fl_g.is_some()),
            ("--fl-dw", self.fl_dw.is_some()),
            ("--rounding", self.rounding.is_some()),
        ];
        for (name, set) in opts {
            if set {
                v.push(name);
            }
        }
        v
    }

    /// The configuration of `--method fixed`.
    pub fn config(&self) -> anyhow::Result<FixedConfig> {
        let fl = Formats {
            w: self.fl_w.or(self.fl).unwrap_or(DEFAULT_FL.w),
            a: self.fl_a.or(self.fl).unwrap_or(DEFAULT_FL.a),
            g: self.fl_g.or(self.fl).unwrap_or(DEFAULT_FL.g),
            dw: self.fl_dw.or(self.fl).unwrap_or(DEFAULT_FL.dw),
        };
        for (name, v) in [("w", fl.w), ("a", fl.a), ("g", fl.g), ("dw", fl.dw)] {
            ensure!(
                v <= 15,
                "--fl-{name} {v}: a 16-bit word has at most 15 fraction bits"
            );
        }
        Ok(FixedConfig {
            fl,
            rounding: self.rounding.unwrap_or(TrainRounding::Stochastic).into(),
        })
    }
}

/// The method configuration from `--method` and its options; options of another method are
/// an error.
pub fn method_config(method: Method, fixed: &FixedArgs) -> anyhow::Result<MethodConfig> {
    match method {
        Method::Float32 => {
            let given = fixed.given();
            if !given.is_empty() {
                bail!(
                    "{} only apply to fixed-point methods, not --method float32",
                    given.join(", ")
                );
            }
            Ok(MethodConfig::Float32)
        }
        Method::Fixed => Ok(MethodConfig::Fixed(fixed.config()?)),
        other => bail!("--method {other:?} takes more options: use train_methods::config"),
    }
}

/// Arguments of `qtrain train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// MNIST folder (IDX files, gzip or raw) [default: $QTRAIN_DATA, else
    /// ../shared/data/mnist beside the repository]
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Network.
    #[arg(long, value_enum, default_value = "mlp")]
    pub model: Model,
    /// Widths of the MLP: inputs, hidden layers, classes.
    #[arg(long, value_delimiter = ',', default_value = "784,256,10")]
    pub layers: Vec<usize>,
    /// Training method.
    #[arg(long, value_enum, default_value = "fixed")]
    pub method: Method,
    #[command(flatten)]
    pub fixed: FixedArgs,
    #[command(flatten)]
    pub quant: super::train_methods::QuantArgs,
    /// Board of the fixed-point methods (float32 runs on the host).
    #[arg(long, value_enum, default_value = "model")]
    pub backend: Backend,
    /// PE array of the model backend's capabilities; other boards must have this shape.
    #[arg(long)]
    pub array: Option<ArrayShape>,
    /// Words of device memory of the model backend [default: 1048576].
    #[arg(long)]
    pub mem_words: Option<u32>,
    /// Epochs (in all, counting those of a resumed run).
    #[arg(long, default_value_t = 5)]
    pub epochs: u32,
    /// Images per SGD step.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Learning rate of the mean loss over the batch.
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    /// Seed of the initial weights, the data order and every rounding.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Use only the first N training images.
    #[arg(long)]
    pub train_images: Option<usize>,
    /// Use only the first N test images.
    #[arg(long)]
    pub test_images: Option<usize>,
    /// Run folder: checkpoint.json, metrics.json, metrics.csv, curves.svg.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out.
    #[arg(long)]
    pub resume: bool,
}

fn load_data(
    dir: Option<&PathBuf>,
    train: Option<usize>,
    test: Option<usize>,
) -> anyhow::Result<Mnist> {
    let dir = match dir {
        Some(d) => d.clone(),
        None => default_data_dir()?,
    };
    let mut data = Mnist::load(&dir)?;
    for (what, n) in [("--train-images", train), ("--test-images", test)] {
        ensure!(n != Some(0), "{what} 0: there is nothing to use");
    }
    ensure!(
        !data.train.is_empty() && !data.test.is_empty(),
        "{}: the training or the test set has no images",
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

fn check_common(layers: &[usize], batch: usize, lr: f64, data: &Mnist) -> anyhow::Result<MlpShape> {
    let shape = MlpShape::new(layers.to_vec())?;
    ensure!(batch >= 1, "--batch must be at least 1");
    ensure!(
        lr.is_finite() && lr > 0.0,
        "--lr {lr} must be a positive number"
    );
    ensure!(
        shape.inputs() == data.train.features(),
        "--layers starts with {} inputs but the images have {}x{} = {} pixels",
        shape.inputs(),
        data.train.rows,
        data.train.cols,
        data.train.features()
    );
    ensure!(
        shape.classes() == 10,
        "--layers ends with {} outputs; MNIST has 10 classes",
        shape.classes()
    );
    Ok(shape)
}

/// Device memory of the model backend for `--model cnn` unless `--mem-words` says otherwise:
/// the CNN keeps its `im2col` matrices on the device (3.6M words at batch 64).
pub const CNN_MODEL_MEM_WORDS: u32 = 1 << 22;

/// The checks of `--model cnn`; returns the channels that name it in the run's identity.
fn check_cnn(layers: &[usize], batch: usize, lr: f64, data: &Mnist) -> anyhow::Result<Vec<usize>> {
    let shape = CnnShape::LENET;
    ensure!(
        layers == [784, 256, 10],
        "--layers sets the MLP's widths; --model cnn has a fixed shape (channels {:?})",
        shape.widths()
    );
    ensure!(batch >= 1, "--batch must be at least 1");
    ensure!(
        lr.is_finite() && lr > 0.0,
        "--lr {lr} must be a positive number"
    );
    ensure!(
        (data.train.rows, data.train.cols) == (shape.side, shape.side),
        "--model cnn takes {0}x{0} images, these are {1}x{2}",
        shape.side,
        data.train.rows,
        data.train.cols
    );
    Ok(shape.widths())
}

/// `qtrain train`.
pub fn train(args: TrainArgs) -> anyhow::Result<i32> {
    let method = super::train_methods::config(args.method, &args.fixed, &args.quant)?;
    if !method.uses_device()
        && (args.backend != Backend::Model || args.array.is_some() || args.mem_words.is_some())
    {
        bail!(
            "--method {} runs on the host: --backend, --array and --mem-words do not apply",
            method.name()
        );
    }
    ensure!(args.epochs >= 1, "--epochs must be at least 1");
    let data = load_data(args.data.as_ref(), args.train_images, args.test_images)?;
    let (model, layers) = match args.model {
        Model::Mlp => {
            check_common(&args.layers, args.batch, args.lr, &data)?;
            ("mlp", args.layers.clone())
        }
        Model::Cnn => ("cnn", check_cnn(&args.layers, args.batch, args.lr, &data)?),
    };
    let spec = RunSpec {
        identity: RunIdentity {
            model: model.into(),
            layers,
            method: method.clone(),
            batch: args.batch,
            lr: args.lr,
            seed: args.seed,
            train_images: data.train.len(),
            test_images: data.test.len(),
        },
        epochs: args.epochs,
        out: args.out.clone(),
        resume: args.resume,
        backend_name: format!(
            "the {} backend",
            args.backend
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default()
        ),
    };
    let uses_device = method.uses_device();
    let (backend, mut mem, array) = (args.backend, args.mem_words, args.array);
    if args.model == Model::Cnn && backend == Backend::Model && mem.is_none() {
        mem = Some(CNN_MODEL_MEM_WORDS);
    }
    run::run(&spec, &data, || {
        if uses_device {
            open_board(backend, mem, array).map(Some)
        } else {
            Ok(None)
        }
    })?;
    Ok(0)
}

/// `qtrain bench ...`.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Time one training pass of the fixed-point method on the model backend against float32.
    Train(BenchTrainArgs),
}

/// Arguments of `qtrain bench train`.
#[derive(Args, Debug)]
pub struct BenchTrainArgs {
    /// MNIST folder [default: as for `qtrain train`].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Widths of the MLP.
    #[arg(long, value_delimiter = ',', default_value = "784,256,10")]
    pub layers: Vec<usize>,
    #[command(flatten)]
    pub fixed: FixedArgs,
    /// Images per SGD step.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    /// Training images in the timed pass (all of them by default).
    #[arg(long)]
    pub train_images: Option<usize>,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Timed epochs of each path, alternating (the ratio is of the fastest of each).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeats: u32,
}

/// CPU time this thread has used, from Linux's `/proc/thread-self/schedstat` (nanoseconds on
/// the CPU): unlike wall time it does not grow while other processes hold the cores.
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 * 1e-9)
}

/// `qtrain bench train`: epochs of each path, alternately, timed in this process.
pub fn bench(cmd: BenchCommand) -> anyhow::Result<i32> {
    let BenchCommand::Train(args) = cmd;
    let data = load_data(args.data.as_ref(), args.train_images, Some(1))?;
    let shape = check_common(&args.layers, args.batch, args.lr, &data)?;
    let init = init_mlp(&shape, args.seed);
    let order = run::epoch_order(args.seed, 0, data.train.len());
    let fixed = MethodConfig::Fixed(args.fixed.config()?);
    // Alternating the two paths spreads any slow phase of the machine over both, and the
    // fastest epoch of each is the one least disturbed by other processes.
    let mut wall = [f64::INFINITY; 2];
    let mut cpu = [f64::INFINITY; 2];
    for _ in 0..args.repeats {
        for (i, method) in [MethodConfig::Float32, fixed.clone()].iter().enumerate() {
            let board = if method.uses_device() {
                Some(open_board(Backend::Model, None, None)?)
            } else {
                None
            };
            let mut trainer = methods::build(
                method,
                BuildArgs {
                    shape: &shape,
                    init: &init,
                    batch: args.batch,
                    lr: args.lr,
                    board,
                },
            )?;
            let t = Instant::now();
            let c0 = thread_cpu_seconds();
            let out = run::train_epoch(
                trainer.as_mut(),
                &data.train,
                &order,
                args.batch,
                args.seed,
                0,
                |_| {},
            )?;
            let s = t.elapsed().as_secs_f64();
            let c = match (c0, thread_cpu_seconds()) {
                (Some(a), Some(b)) => b - a,
                _ => s,
            };
            println!(
                "{:<60} {:>7.3} s wall, {:>7.3} s CPU for {} images ({:.0} images/s), loss {:.4}",
                trainer.describe(),
                s,
                c,
                out.images,
                out.images as f64 / s,
                out.mean_loss()
            );
            wall[i] = wall[i].min(s);
            cpu[i] = cpu[i].min(c);
        }
    }
    println!(
        "epoch time ratio fixed (model backend) / float32, fastest of {} each: {:.2} wall, {:.2} CPU",
        args.repeats,
        wall[1] / wall[0],
        cpu[1] / cpu[0]
    );
    Ok(0)
}
