//! The MLP on an [`Accelerator`]: every tensor of the training step lives in device memory,
//! and every matrix product, bias add, ReLU, ReLU mask and weight update runs on the device.
//! The host writes the input images and the gradient of the loss with respect to the logits,
//! and reads the logits: that is all that crosses the link in a step.
//!
//! One step for a batch of `rows` images, layer `l` mapping `H_l` (rows x in) to `Z_l`:
//!
//! | where | what | formats (FL) |
//! |---|---|---|
//! | host | pixels / 255 quantized (nearest) into `H_0` | a |
//! | device | `Z_l = H_l·W_l`, then `Z_l += b_l` (BIAS_ADD) | a·w -> a |
//! | device | `H_(l+1) = relu(Z_l)` for hidden layers | a |
//! | host | read logits `Z_L`, softmax and cross-entropy in f64, `dZ_L = p - onehot` quantized | g |
//! | device | `dH_l = dZ_l·W_l^T` (before `W_l` changes) | g·w -> g |
//! | device | `dW_l = H_l^T·dZ_l`, `db_l = 1^T·dZ_l` (a GEMM with a row of ones) | a·g -> dw |
//! | device | UPDATE `W_l <- Q(W_l - eta·dW_l)`, same for `b_l`, `eta = lr / rows` | w |
//! | device | `dZ_(l-1) = relu_mask(H_l, dH_l)` | g |
//!
//! The gradients are those of the *summed* loss; the 1/rows of the mean is in `eta`, so the
//! small per-image factor never costs gradient bits.

use anyhow::{bail, ensure, Context};
use qtrain_driver::accelerator::Accelerator;
use qtrain_driver::device::{GemmDescriptor, Tensor, UpdateDescriptor, VectorOp};
use qtrain_model::{dequantize, quantize, seed_states, splitmix64, Rounding, UpdateParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::weight_grid::WeightGrid;
use super::{DenseF32, MlpShape};
use crate::train::device::{Arena, TrainingBoard};
use crate::train::loss::{softmax_xent, BatchOutcome};
use crate::train::methods::{Counters, Params};

/// Fraction bits of each kind of tensor (numerics §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Formats {
    /// Weights and biases.
    pub w: u8,
    /// Activations: inputs, pre-activations, hidden outputs, logits.
    pub a: u8,
    /// Gradients with respect to activations.
    pub g: u8,
    /// Gradients with respect to weights and biases.
    pub dw: u8,
}

/// How a fixed-point method trains the MLP on the device: the formats and the rounding of
/// each kind of conversion. Methods that quantize differently (other grids, clamps, rounding
/// per tensor) describe themselves with this and reuse the device code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedScheme {
    /// Formats.
    pub fl: Formats,
    /// Rounding of every GEMM's output conversion.
    pub gemm_rounding: Rounding,
    /// Rounding of the host's quantization of the logits' gradient.
    pub grad_rounding: Rounding,
    /// Rounding of the weight update.
    pub update_rounding: Rounding,
}

/// The FL of the row of ones that sums the bias gradient: 1.0 is exact at any FL <= 14.
const FL_ONES: u8 = 14;

/// Device buffers of one dense layer.
struct Layer {
    inputs: usize,
    outputs: usize,
    w: Tensor,
    b: Tensor,
    /// Pre-activation, rows x outputs.
    z: Tensor,
    /// Its gradient.
    dz: Tensor,
}

/// The MLP in device memory; see the module documentation for the step.
pub struct DeviceMlp {
    board: TrainingBoard,
    scheme: FixedScheme,
    lr: f64,
    batch: usize,
    classes: usize,
    /// The input, then each hidden layer's output: `h[l]` feeds layer `l`.
    h: Vec<Tensor>,
    ones: Tensor,
    layers: Vec<Layer>,
    /// Scratch for `dH_l` (rows x in), `dW_l` and `db_l`, reused by every layer.
    dh_addr: u32,
    dw_addr: u32,
    db_addr: u32,
    /// Pixel value -> input word.
    pixel_lut: [i16; 256],
    plan_words: u64,
    /// The grid and clamp of every weight matrix's UPDATE (biases keep the full grid).
    weight_grid: WeightGrid,
}

/// The learning rate `lr / rows` as `eta_q · 2^-fl_eta` with the most bits the UPDATE
/// command allows (numerics §7.4: `eta_q` < 2^16, `0 <= fl_g + fl_eta - fl_w <= 30`).
pub fn eta_words(lr: f64, rows: usize, fl_w: u8, fl_g: u8) -> anyhow::Result<(u16, u8)> {
    eta_words_on_grid(lr, rows, fl_w, fl_g, 0)
}

/// [`eta_words`] for an UPDATE onto a grid of shift `grid_shift`, which needs
/// `s + grid_shift <= 30` (numerics §7.4).
pub fn eta_words_on_grid(
    lr: f64,
    rows: usize,
    fl_w: u8,
    fl_g: u8,
    grid_shift: u8,
) -> anyhow::Result<(u16, u8)> {
    let eta = lr / rows as f64;
    for fl_eta in (0..=qtrain_model::MAX_FL_ETA).rev() {
        let s = i32::from(fl_g) + i32::from(fl_eta) - i32::from(fl_w);
        if s + i32::from(grid_shift) > qtrain_model::MAX_UPDATE_SHIFT {
            continue;
        }
        if s < 0 {
            break;
        }
        let q = (eta * f64::from(fl_eta).exp2()).round();
        if (1.0..=65535.0).contains(&q) {
            return Ok((q as u16, fl_eta));
        }
    }
    bail!(
        "learning rate {lr} over a batch of {rows} (step {eta:e}) cannot be written as \
         eta_q·2^-fl_eta for weights at FL {fl_w} and weight gradients at FL {fl_g}"
    )
}

impl DeviceMlp {
    /// Lays the network out in the board's memory, checks that it fits and that the board
    /// can run every command of the step, then writes the initial weights (quantized to
    /// nearest). Nothing is sent before all the checks pass.
    pub fn new(
        board: TrainingBoard,
        shape: &MlpShape,
        scheme: FixedScheme,
        init: &[DenseF32],
        batch: usize,
        lr: f64,
    ) -> anyhow::Result<DeviceMlp> {
        let caps = board.board.capabilities();
        ensure!(
            (1..=usize::from(u16::MAX)).contains(&batch),
            "--batch {batch} is outside 1..=65535"
        );
        let needed_ops = [0x30u8, 0x31, 0x32, 0x35];
        if let Some(op) = needed_ops
            .iter()
            .find(|&&c| caps.ops & (1 << (c - 0x30)) == 0)
        {
            bail!(
                "the board does not implement {} (0x{op:02x}), which training needs",
                qtrain_driver::device::code_name(*op)
            );
        }
        let max_k = shape
            .widths
            .iter()
            .copied()
            .chain([batch])
            .max()
            .unwrap_or(0);
        ensure!(
            max_k as u64 <= u64::from(caps.max_k),
            "array/memory too small for this network: a GEMM of the step has K = {max_k} but \
             the board's max K is {}",
            caps.max_k
        );
        for fl in [scheme.fl.w, scheme.fl.a, scheme.fl.g, scheme.fl.dw] {
            qtrain_model::check_fl('?', fl).context("a format of --fl*")?;
        }
        for rows in [1, batch] {
            eta_words(lr, rows, scheme.fl.w, scheme.fl.dw)?;
        }

        let mut arena = Arena::default();
        let mut h = vec![arena.tensor("input", batch, shape.inputs())];
        let ones = arena.tensor("ones", 1, batch);
        let mut layers = Vec::new();
        let n = shape.layers().len();
        for (l, (inputs, outputs)) in shape.layers().into_iter().enumerate() {
            layers.push(Layer {
                inputs,
                outputs,
                w: arena.tensor(format!("W{}", l + 1), inputs, outputs),
                b: arena.tensor(format!("b{}", l + 1), 1, outputs),
                z: arena.tensor(format!("Z{}", l + 1), batch, outputs),
                dz: arena.tensor(format!("dZ{}", l + 1), batch, outputs),
            });
            if l + 1 < n {
                h.push(arena.tensor(format!("H{}", l + 1), batch, outputs));
            }
        }
        let largest = |f: &dyn Fn(&Layer) -> usize| layers.iter().map(f).max().unwrap_or(1);
        let hidden_in = layers.iter().skip(1).map(|l| l.inputs).max().unwrap_or(1);
        let dh_addr = arena.tensor("dH scratch", batch, hidden_in).addr;
        let dw_addr = arena
            .tensor("dW scratch", 1, largest(&|l| l.inputs * l.outputs))
            .addr;
        let db_addr = arena.tensor("db scratch", 1, largest(&|l| l.outputs)).addr;
        arena.check_fits(
            caps.mem_words,
            &format!("the MLP {:?} with --batch {batch}", shape.widths),
        )?;

        let pixel_lut = std::array::from_fn(|p| {
            quantize(p as f64 / 255.0, scheme.fl.a, Rounding::Nearest, &mut || 0)
        });
        let mut mlp = DeviceMlp {
            board,
            scheme,
            lr,
            batch,
            classes: shape.classes(),
            h,
            ones,
            layers,
            dh_addr,
            dw_addr,
            db_addr,
            pixel_lut,
            plan_words: arena.words(),
            weight_grid: WeightGrid::FULL,
        };
        let one = quantize(1.0, FL_ONES, Rounding::Nearest, &mut || 0);
        mlp.board.board.write(mlp.ones.addr, &vec![one; batch])?;
        let q = |v: &[f32]| -> Vec<i16> {
            v.iter()
                .map(|&x| quantize(f64::from(x), scheme.fl.w, Rounding::Nearest, &mut || 0))
                .collect()
        };
        let tensors = init.iter().flat_map(|d| [q(&d.w), q(&d.b)]).collect();
        mlp.set_params(&Params::Fixed { tensors })?;
        Ok(mlp)
    }

    /// Puts every weight matrix on `grid` from now on: its UPDATEs round onto the grid and
    /// clamp to it, and the present weights are moved to their nearest grid point (biases
    /// stay on the ordinary fixed-point grid).
    pub fn set_weight_grid(&mut self, grid: WeightGrid) -> anyhow::Result<()> {
        for rows in [1, self.batch] {
            eta_words_on_grid(
                self.lr,
                rows,
                self.scheme.fl.w,
                self.scheme.fl.dw,
                grid.grid_shift,
            )?;
        }
        self.weight_grid = grid;
        let Params::Fixed { mut tensors } = self.params()? else {
            bail!("a device network holds fixed-point words");
        };
        for w in tensors.iter_mut().step_by(2) {
            w.iter_mut().for_each(|x| *x = grid.snap(*x));
        }
        self.set_params(&Params::Fixed { tensors })
    }

    /// Words of device memory the plan uses.
    pub fn plan_words(&self) -> u64 {
        self.plan_words
    }

    fn gemm(&mut self, g: GemmDescriptor) -> anyhow::Result<()> {
        self.board.board.gemm(&g)?;
        Ok(())
    }

    /// A GEMM descriptor with the scheme's rounding and the LFSR states of `seed`.
    #[allow(clippy::too_many_arguments)]
    fn desc(
        a: Tensor,
        b: Tensor,
        c: Tensor,
        (m, k, n): (usize, usize, usize),
        (trans_a, trans_b): (bool, bool),
        (fl_a, fl_b, fl_c): (u8, u8, u8),
        rounding: Rounding,
        seed: u64,
    ) -> GemmDescriptor {
        let (row_state, col_state) = seed_states(seed);
        GemmDescriptor {
            a,
            b,
            c,
            m: m as u16,
            k: k as u16,
            n: n as u16,
            trans_a,
            trans_b,
            accumulate: false,
            fl_a,
            fl_b,
            fl_c,
            rounding,
            row_state,
            col_state,
        }
    }

    /// Writes the images and runs the forward pass; returns the logits.
    fn forward(&mut self, pixels: &[u8], rows: usize, seed: u64) -> anyhow::Result<Vec<f64>> {
        ensure!(
            rows >= 1 && rows <= self.batch,
            "batch of {rows} images, planned for {}",
            self.batch
        );
        let x: Vec<i16> = pixels
            .iter()
            .map(|&p| self.pixel_lut[usize::from(p)])
            .collect();
        self.board.board.write(self.h[0].addr, &x)?;
        let fl = self.scheme.fl;
        let n = self.layers.len();
        for l in 0..n {
            let (inputs, outputs, w, b, z) = {
                let ly = &self.layers[l];
                (ly.inputs, ly.outputs, ly.w, ly.b, ly.z)
            };
            let d = Self::desc(
                self.h[l],
                w,
                z,
                (rows, inputs, outputs),
                (false, false),
                (fl.a, fl.w, fl.a),
                self.scheme.gemm_rounding,
                splitmix64(seed, l as u64),
            );
            self.gemm(d)?;
            let dims = (rows as u16, outputs as u16);
            self.board.board.vector(&VectorOp::BiasAdd {
                x: z,
                y: z,
                rows: dims.0,
                cols: dims.1,
                b_addr: b.addr,
                fl_x: fl.a,
                fl_b: fl.w,
            })?;
            if l + 1 < n {
                self.board.board.vector(&VectorOp::Relu {
                    x: z,
                    y: self.h[l + 1],
                    rows: dims.0,
                    cols: dims.1,
                })?;
            }
        }
        let logits = self
            .board
            .board
            .read(self.layers[n - 1].z.addr, rows * self.classes)?;
        Ok(logits.iter().map(|&q| dequantize(q, fl.a)).collect())
    }

    fn update(
        &mut self,
        w: Tensor,
        g: Tensor,
        rows: usize,
        shape: (usize, usize),
        grid: WeightGrid,
        seed: u64,
    ) -> anyhow::Result<()> {
        let fl = self.scheme.fl;
        let (eta_q, fl_eta) = eta_words_on_grid(self.lr, rows, fl.w, fl.dw, grid.grid_shift)?;
        let (row_state, col_state) = seed_states(seed);
        self.board
            .board
            .vector(&VectorOp::Update(UpdateDescriptor {
                w,
                g,
                rows: shape.0 as u16,
                cols: shape.1 as u16,
                params: UpdateParams {
                    fl_w: fl.w,
                    fl_g: fl.dw,
                    fl_eta,
                    eta_q,
                    rounding: self.scheme.update_rounding,
                    grid_shift: grid.grid_shift,
                    grid_offset: grid.grid_offset,
                    w_min: grid.w_min,
                    w_max: grid.w_max,
                    row_state,
                    col_state,
                },
            }))?;
        Ok(())
    }

    /// One training step on `rows` images; the seed fixes every rounding decision.
    pub fn train_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        let rows = labels.len();
        let logits = self.forward(pixels, rows, splitmix64(seed, 0))?;
        let (outcome, grad) = softmax_xent(&logits, labels, self.classes);
        let fl = self.scheme.fl;
        let mut rng = ChaCha8Rng::seed_from_u64(splitmix64(seed, 1));
        let dz_top: Vec<i16> = grad
            .iter()
            .map(|&g| quantize(g, fl.g, self.scheme.grad_rounding, &mut || rng.gen::<u16>()))
            .collect();
        let n = self.layers.len();
        self.board
            .board
            .write(self.layers[n - 1].dz.addr, &dz_top)?;
        let rnd = self.scheme.gemm_rounding;
        for l in (0..n).rev() {
            let (inputs, outputs, w, b, dz) = {
                let ly = &self.layers[l];
                (ly.inputs, ly.outputs, ly.w, ly.b, ly.dz)
            };
            let op_seed = |k: u64| splitmix64(seed, 2 + 8 * l as u64 + k);
            let dh = Tensor {
                addr: self.dh_addr,
                stride: inputs as u16,
            };
            if l > 0 {
                let d = Self::desc(
                    dz,
                    w,
                    dh,
                    (rows, outputs, inputs),
                    (false, true),
                    (fl.g, fl.w, fl.g),
                    rnd,
                    op_seed(0),
                );
                self.gemm(d)?;
            }
            let dw = Tensor {
                addr: self.dw_addr,
                stride: outputs as u16,
            };
            let d = Self::desc(
                self.h[l],
                dz,
                dw,
                (inputs, rows, outputs),
                (true, false),
                (fl.a, fl.g, fl.dw),
                rnd,
                op_seed(1),
            );
            self.gemm(d)?;
            let db = Tensor {
                addr: self.db_addr,
                stride: outputs as u16,
            };
            let ones = Tensor {
                addr: self.ones.addr,
                stride: rows as u16,
            };
            let d = Self::desc(
                ones,
                dz,
                db,
                (1, rows, outputs),
                (false, false),
                (FL_ONES, fl.g, fl.dw),
                rnd,
                op_seed(2),
            );
            self.gemm(d)?;
            let grid = self.weight_grid;
            self.update(w, dw, rows, (inputs, outputs), grid, op_seed(3))?;
            self.update(b, db, rows, (1, outputs), WeightGrid::FULL, op_seed(4))?;
            if l > 0 {
                self.board.board.vector(&VectorOp::ReluMask {
                    x: self.h[l],
                    d: dh,
                    y: self.layers[l - 1].dz,
                    rows: rows as u16,
                    cols: inputs as u16,
                })?;
            }
        }
        Ok(outcome)
    }

    /// Loss and accuracy of a batch without training.
    pub fn eval_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        let logits = self.forward(pixels, labels.len(), seed)?;
        Ok(softmax_xent(&logits, labels, self.classes).0)
    }

    /// The weights and biases, read back from the device.
    pub fn params(&mut self) -> anyhow::Result<Params> {
        let mut tensors = Vec::new();
        for l in 0..self.layers.len() {
            let ly = &self.layers[l];
            let (w, b, words) = (ly.w, ly.b, (ly.inputs * ly.outputs, ly.outputs));
            tensors.push(self.board.board.read(w.addr, words.0)?);
            tensors.push(self.board.board.read(b.addr, words.1)?);
        }
        Ok(Params::Fixed { tensors })
    }

    /// Writes weights and biases to the device.
    pub fn set_params(&mut self, p: &Params) -> anyhow::Result<()> {
        let Params::Fixed { tensors } = p else {
            bail!("a float checkpoint cannot be loaded into a fixed-point network");
        };
        ensure!(
            tensors.len() == 2 * self.layers.len(),
            "checkpoint has {} tensors, the network {}",
            tensors.len(),
            2 * self.layers.len()
        );
        for (l, pair) in tensors.chunks_exact(2).enumerate() {
            let ly = &self.layers[l];
            let (w, b, words) = (ly.w, ly.b, (ly.inputs * ly.outputs, ly.outputs));
            ensure!(
                pair[0].len() == words.0 && pair[1].len() == words.1,
                "checkpoint layer {} has the wrong shape",
                l + 1
            );
            self.board.board.write(w.addr, &pair[0])?;
            self.board.board.write(b.addr, &pair[1])?;
        }
        Ok(())
    }

    /// Cycles the board counted (None if it counts none) and link bytes so far.
    pub fn counters(&mut self) -> anyhow::Result<Counters> {
        let cycles = if self.board.counts_cycles {
            Some(self.board.board.status()?.busy_cycles)
        } else {
            None
        };
        Ok(Counters {
            device_cycles: cycles,
            link_bytes: Some(self.board.board.link_bytes()),
        })
    }
}

#[cfg(test)]
#[path = "device_mlp_tests.rs"]
mod tests;
