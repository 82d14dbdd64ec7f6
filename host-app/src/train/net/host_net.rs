//! A network (the MLP or the CNN) whose parameters a method keeps on the host (float shadow
//! weights, learned ReLU steps, per-tensor scales) while every matrix product, bias add,
//! activation and activation mask runs on the device through [`DeviceOps`], streamed to fit
//! the board's memory. The method says, through [`Rules`], which words the device sees
//! (weights on their grid, formats of every product) and what the host does in between
//! (the update, WAGE's scalings); the topology code here is shared by bc, bcgd and wage.
//!
//! One step, layer `l` mapping its input words `X_l` to `Z_l`:
//!
//! | where | what |
//! |---|---|
//! | host | pixels quantized to the method's input format; CNN: `im2col` (a gather) |
//! | device | `Z_l = X_l·Wq_l` (+ `b_l`, BIAS_ADD), hidden: `H_l = act(Z_l)` (RELU or QRELU) |
//! | host | method fix-up of `H_l` (WAGE's clip); CNN: max pool, `im2col` (selections, gathers) |
//! | host | logits -> softmax, cross-entropy and its gradient (f64) -> `dZ_L` words (method) |
//! | device | `dW_l = X_l^T·dZ_l` (K sliced at the board's max K), `dX_l = dZ_l·Wq_l^T` |
//! | host | `db_l` = exact column sums of `dZ_l`; CNN: `col2im` (exact, saturating), unpool |
//! | device | `dZ_(l-1) = act_mask(Z_(l-1), dH_(l-1))` (RELU_MASK or QRELU_MASK) |
//! | host | method fix-up of `dZ_(l-1)` (WAGE's error scaling); the update of `l` (method) |

use anyhow::ensure;
use qtrain_driver::accelerator::Accelerator;
use qtrain_model::{splitmix64, Rounding};

use super::cnn::CnnShape;
use super::device_ops::{transpose, Act, DeviceOps, Product};
use super::im2col::{col2im_words, im2col};
use super::pool::{max_pool, max_unpool};
use super::MlpShape;
use crate::train::device::TrainingBoard;
use crate::train::loss::{softmax_xent, BatchOutcome};
use crate::train::methods::{Counters, Params, Trainer};

/// Raw 16-bit words and their fraction bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Words {
    /// The words.
    pub v: Vec<i16>,
    /// Their FL.
    pub fl: u8,
}

impl Words {
    /// The value of word `i`.
    pub fn value(&self, i: usize) -> f64 {
        f64::from(self.v[i]) * (-f64::from(self.fl)).exp2()
    }
}

/// The network a [`HostNet`] trains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topology {
    /// Dense layers with an activation between them.
    Mlp(MlpShape),
    /// The LeNet-like CNN.
    Cnn(CnnShape),
}

impl Topology {
    /// `(inputs, outputs)` of each weight matrix.
    pub fn layers(&self) -> Vec<(usize, usize)> {
        match self {
            Topology::Mlp(s) => s.layers(),
            Topology::Cnn(s) => s.layers().to_vec(),
        }
    }

    /// Rows of layer `l`'s products for a batch of `rows` images.
    fn rows(&self, l: usize, rows: usize) -> usize {
        match self {
            Topology::Cnn(s) if l == 0 => rows * s.conv1().positions(),
            Topology::Cnn(s) if l == 1 => rows * s.conv2().positions(),
            _ => rows,
        }
    }

    fn classes(&self) -> usize {
        self.layers().last().map_or(1, |l| l.1)
    }
}

/// What a method decides about a step on the device. Layers are numbered from 0; the last
/// one produces the logits and has no activation.
pub trait Rules {
    /// FL of the input pixels `p / 255` (quantized to nearest).
    fn input_fl(&self) -> u8;
    /// The weights the passes use, as words.
    fn weights(&self, l: usize) -> Words;
    /// The bias as words (None: the method has no biases).
    fn bias(&self, l: usize) -> Option<Words>;
    /// FL of `Z_l = X_l·Wq_l`.
    fn z_fl(&self, l: usize, fl_x: u8, fl_w: u8) -> u8;
    /// The activation of hidden layer `l`, for pre-activations at `fl_z`.
    fn act(&self, l: usize, fl_z: u8) -> Act;
    /// Host work on a hidden layer's activation words; returns the FL the next layer reads
    /// them at.
    fn finish_act(&self, _l: usize, _h: &mut [i16], fl_z: u8) -> u8 {
        fl_z
    }
    /// FL at which the logit words are read.
    fn logits_fl(&self, fl_z: u8) -> u8 {
        fl_z
    }
    /// The words of `dZ` of the last layer from the loss gradient (f64, summed loss).
    fn top_grad(&mut self, grad: &[f64], seed: u64) -> Words;
    /// FL of `dX_l = dZ_l·Wq_l^T`.
    fn dx_fl(&self, l: usize, fl_dz: u8, fl_w: u8) -> u8;
    /// Host work on the masked gradient `dZ_l` of hidden layer `l` (from `dH_l` and its
    /// pre-activation `Z_l`); returns the words the layer's backward pass uses.
    fn finish_mask(&mut self, _l: usize, dz: Words, _z: &Words, _dh: &Words) -> Words {
        dz
    }
    /// FL of `dW_l = X_l^T·dZ_l`.
    fn dw_fl(&self, l: usize, x: &Words, dz: &Words) -> u8;
    /// The update of layer `l` from `dW_l` and the bias gradient (summed loss, batch of
    /// `rows` images), given the weights `wq` the step's passes used; `seed` is the step's
    /// seed for layer `l`.
    fn update(&mut self, l: usize, wq: &Words, dw: &Words, db: &[f64], rows: usize, seed: u64);
    /// The parameters as the method holds them.
    fn params(&self) -> Params;
    /// Restores them.
    fn set_params(&mut self, p: &Params) -> anyhow::Result<()>;
    /// For the log.
    fn describe(&self) -> String;
}

/// A forward pass: what the backward pass needs.
struct Pass {
    rows: usize,
    /// Inputs of each layer's product.
    x: Vec<Words>,
    /// The weights of each layer's product.
    w: Vec<Words>,
    /// Pre-activations.
    z: Vec<Words>,
    /// Max-pool choices of the CNN's two pooling layers.
    arg: Vec<Vec<u32>>,
    logits: Vec<f64>,
}

/// The topology on a board; see the module documentation.
pub struct HostNet {
    ops: DeviceOps,
    topo: Topology,
    batch: usize,
}

impl HostNet {
    /// Checks, before any work, that the board runs the commands `acts` need and that one
    /// piece of every product of a batch of `batch` fits its memory.
    pub fn new(
        board: TrainingBoard,
        topo: Topology,
        batch: usize,
        qrelu: bool,
    ) -> anyhow::Result<HostNet> {
        let ops: &[u8] = if qrelu {
            &[0x30, 0x33, 0x34]
        } else {
            &[0x30, 0x31, 0x32]
        };
        let ops = DeviceOps::new(board, ops)?;
        ensure!(
            (1..=usize::from(u16::MAX)).contains(&batch),
            "--batch {batch} is outside 1..=65535"
        );
        for (l, (i, o)) in topo.layers().into_iter().enumerate() {
            let what = format!("layer {} ({i} x {o})", l + 1);
            // Forward and weight-gradient products (K = inputs, K = rows) and the input
            // gradient (K = outputs, N = inputs).
            ops.check_fits(&what, i, o)?;
            ops.check_fits(&what, topo.rows(l, batch), o)?;
            ops.check_fits(&what, o, i)?;
        }
        Ok(HostNet { ops, topo, batch })
    }

    fn forward(
        &mut self,
        rules: &dyn Rules,
        pixels: &[u8],
        rows: usize,
        seed: u64,
    ) -> anyhow::Result<Pass> {
        ensure!(
            rows >= 1 && rows <= self.batch,
            "batch of {rows} images, planned for {}",
            self.batch
        );
        let fl_in = rules.input_fl();
        let lut: Vec<i16> = (0..256)
            .map(|p| {
                qtrain_model::quantize(f64::from(p) / 255.0, fl_in, Rounding::Nearest, &mut || 0)
            })
            .collect();
        let mut input = Words {
            v: pixels.iter().map(|&p| lut[usize::from(p)]).collect(),
            fl: fl_in,
        };
        let layers = self.topo.layers();
        let n = layers.len();
        let (mut xs, mut ws, mut zs, mut args) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (l, &(inputs, outputs)) in layers.iter().enumerate() {
            if let Topology::Cnn(s) = &self.topo {
                if l < 2 {
                    let conv = if l == 0 { s.conv1() } else { s.conv2() };
                    input.v = im2col(&input.v, rows, &conv);
                }
            }
            let m = self.topo.rows(l, rows);
            let w = rules.weights(l);
            let fl_z = rules.z_fl(l, input.fl, w.fl);
            let bias = rules.bias(l);
            let act = if l + 1 < n {
                rules.act(l, fl_z)
            } else {
                Act::Identity
            };
            let p = Product {
                m,
                k: inputs,
                n: outputs,
                fl: (input.fl, w.fl, fl_z),
                rounding: Rounding::Nearest,
                seed: splitmix64(seed, l as u64),
            };
            let (z, h) = self.ops.forward(
                &input.v,
                &w.v,
                bias.as_ref().map(|b| (b.v.as_slice(), b.fl)),
                &p,
                act,
            )?;
            xs.push(input);
            ws.push(w);
            let z = Words { v: z, fl: fl_z };
            if l + 1 == n {
                let fl = rules.logits_fl(fl_z);
                let logits = Words { v: z.v.clone(), fl };
                let logits = (0..logits.v.len()).map(|i| logits.value(i)).collect();
                zs.push(z);
                return Ok(Pass {
                    rows,
                    x: xs,
                    w: ws,
                    z: zs,
                    arg: args,
                    logits,
                });
            }
            let mut h = h.expect("hidden layers have an activation");
            let fl_h = rules.finish_act(l, &mut h, fl_z);
            input = Words { v: h, fl: fl_h };
            if let Topology::Cnn(s) = &self.topo {
                let conv = if l == 0 { s.conv1() } else { s.conv2() };
                let (p, arg) = max_pool(&input.v, rows, (conv.out_h(), conv.out_w(), conv.c_out));
                input.v = p;
                args.push(arg);
            }
            zs.push(z);
        }
        unreachable!("a network has at least one layer")
    }

    /// One step on `rows` images; the outcome is that of the forward pass before it.
    pub fn train_batch(
        &mut self,
        rules: &mut dyn Rules,
        pixels: &[u8],
        labels: &[u8],
        seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        let rows = labels.len();
        let pass = self.forward(rules, pixels, rows, splitmix64(seed, 0))?;
        let classes = self.topo.classes();
        let (outcome, grad) = softmax_xent(&pass.logits, labels, classes);
        let mut dz = rules.top_grad(&grad, splitmix64(seed, 1));
        let layers = self.topo.layers();
        for l in (0..layers.len()).rev() {
            let (inputs, outputs) = layers[l];
            let m = self.topo.rows(l, pass.rows);
            let w = &pass.w[l];
            let op_seed = |k: u64| splitmix64(seed, 2 + 8 * l as u64 + k);
            // The input gradient first: it uses the weights before the update.
            let below = if l > 0 {
                let fl_dx = rules.dx_fl(l, dz.fl, w.fl);
                let p = Product {
                    m,
                    k: outputs,
                    n: inputs,
                    fl: (dz.fl, w.fl, fl_dx),
                    rounding: Rounding::Nearest,
                    seed: op_seed(0),
                };
                let wt = transpose(&w.v, inputs, outputs);
                let dx = self.ops.product(&dz.v, &wt, &p)?;
                Some(Words { v: dx, fl: fl_dx })
            } else {
                None
            };
            let x = &pass.x[l];
            let fl_dw = rules.dw_fl(l, x, &dz);
            let p = Product {
                m: inputs,
                k: m,
                n: outputs,
                fl: (x.fl, dz.fl, fl_dw),
                rounding: Rounding::Nearest,
                seed: op_seed(1),
            };
            let dw = self.ops.product(&transpose(&x.v, m, inputs), &dz.v, &p)?;
            let mut db = vec![0i64; outputs];
            for row in dz.v.chunks_exact(outputs) {
                db.iter_mut()
                    .zip(row)
                    .for_each(|(s, &g)| *s += i64::from(g));
            }
            let scale = (-f64::from(dz.fl)).exp2();
            let db: Vec<f64> = db.iter().map(|&s| s as f64 * scale).collect();
            rules.update(
                l,
                w,
                &Words { v: dw, fl: fl_dw },
                &db,
                pass.rows,
                op_seed(3),
            );
            if let Some(mut dh) = below {
                if let Topology::Cnn(s) = &self.topo {
                    let (c1, c2) = (s.conv1(), s.conv2());
                    let (conv, cols) = if l == 2 { (c2, None) } else { (c1, Some(c2)) };
                    if let Some(c) = cols {
                        dh.v = col2im_words(&dh.v, pass.rows, &c);
                    }
                    let len = self.topo.rows(l - 1, pass.rows) * conv.c_out;
                    dh.v = max_unpool(&dh.v, &pass.arg[l - 1], len, 0);
                }
                let z = &pass.z[l - 1];
                let act = rules.act(l - 1, z.fl);
                let masked = self.ops.mask(&z.v, &dh.v, layers[l - 1].1, act)?;
                dz = rules.finish_mask(
                    l - 1,
                    Words {
                        v: masked,
                        fl: dh.fl,
                    },
                    z,
                    &dh,
                );
            }
        }
        Ok(outcome)
    }

    /// Loss and accuracy of a batch without training.
    pub fn eval_batch(
        &mut self,
        rules: &dyn Rules,
        pixels: &[u8],
        labels: &[u8],
        seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        let pass = self.forward(rules, pixels, labels.len(), seed)?;
        Ok(softmax_xent(&pass.logits, labels, self.topo.classes()).0)
    }

    /// Cycles the board counted (None if it counts none) and link bytes so far.
    pub fn counters(&mut self) -> anyhow::Result<Counters> {
        let b = &mut self.ops.board;
        let cycles = if b.counts_cycles {
            Some(b.board.status()?.busy_cycles)
        } else {
            None
        };
        Ok(Counters {
            device_cycles: cycles,
            link_bytes: Some(b.board.link_bytes()),
        })
    }
}

/// A method that keeps its parameters on the host and runs its products on the device.
pub struct HostTrainer<R: Rules> {
    net: HostNet,
    /// The method.
    pub rules: R,
    name: &'static str,
}

impl<R: Rules> HostTrainer<R> {
    /// Pairs a network on a board with a method.
    pub fn new(net: HostNet, rules: R, name: &'static str) -> HostTrainer<R> {
        HostTrainer { net, rules, name }
    }
}

impl<R: Rules> Trainer for HostTrainer<R> {
    fn train_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        self.net.train_batch(&mut self.rules, pixels, labels, seed)
    }

    fn eval_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        self.net.eval_batch(&self.rules, pixels, labels, seed)
    }

    fn params(&mut self) -> anyhow::Result<Params> {
        Ok(self.rules.params())
    }

    fn set_params(&mut self, p: &Params) -> anyhow::Result<()> {
        self.rules.set_params(p)
    }

    fn counters(&mut self) -> anyhow::Result<Counters> {
        self.net.counters()
    }

    fn describe(&self) -> String {
        format!(
            "{} ({}; every product, bias add, activation and mask on the device)",
            self.name,
            self.rules.describe()
        )
    }
}
