//! The CNN ([`super::cnn`]) on an [`Accelerator`]: every matrix product (forward
//! convolutions as `im2col` GEMMs, the input and weight gradients, the dense layer), bias
//! add, ReLU, ReLU mask and weight update runs on the device. The host does only what moves
//! or selects words: `im2col` (a gather), 2x2 max pooling and its backward pass (selections)
//! and `col2im` (sums of words of one format, exact in `i32`, saturated to 16 bits once at
//! the end), plus the loss as for the MLP. So the host steps add no rounding.
//!
//! One step for a batch of `rows` images (`P1 = 576`, `P2 = 64` output positions per image):
//!
//! | where | what | formats (FL) |
//! |---|---|---|
//! | host | pixels / 255 quantized (nearest), `im2col` -> `C1` (rows·P1 x 25), WRITE | a |
//! | device | `Z1 = C1·W1`, `+= b1`, ReLU in place | a·w -> a |
//! | host | READ `Z1`, max pool -> `P1`, `im2col` -> `C2` (rows·P2 x 200), WRITE | a |
//! | device | `Z2 = C2·W2`, `+= b2`, ReLU in place | a·w -> a |
//! | host | READ `Z2`, max pool -> `X3` (rows x 256), WRITE | a |
//! | device | `Z3 = X3·W3 + b3`: the logits | a·w -> a |
//! | host | READ logits, softmax and cross-entropy in f64, `dZ3 = p - onehot` quantized, WRITE | g |
//! | device | `dX3 = dZ3·W3^T`; `dW3 = X3^T·dZ3`, `db3 = 1^T·dZ3`; UPDATE `W3`, `b3` | g·w -> g, a·g -> dw, w |
//! | host | READ `dX3`, unpool -> `dH2`, WRITE | g |
//! | device | `dZ2 = relu_mask(Z2, dH2)`; `dC2 = dZ2·W2^T`; `dW2`, `db2`; UPDATE | g, g·w -> g, a·g -> dw, w |
//! | host | READ `dC2`, `col2im` (exact sums, saturating) and unpool -> `dH1`, WRITE | g |
//! | device | `dZ1 = relu_mask(Z1, dH1)`; `dW1 = C1^T·dZ1`, `db1`; UPDATE | g, a·g -> dw, w |
//!
//! A weight-gradient GEMM sums over `rows·positions` (36,864 for the first convolution at
//! batch 64), more than a board's `max_k`: it is split into slices of at most `max_k` rows,
//! the first written, the others accumulated (`accumulate`, numerics §6), each slice with its
//! own LFSR seeds. Input gradients use the weights before their update, as in the MLP.

use anyhow::{bail, ensure, Context};
use qtrain_driver::accelerator::Accelerator;
use qtrain_driver::device::{GemmDescriptor, Tensor, UpdateDescriptor, VectorOp};
use qtrain_model::{dequantize, quantize, seed_states, splitmix64, Rounding, UpdateParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::cnn::CnnShape;
use super::device_mlp::{eta_words, eta_words_on_grid, FixedScheme};
use super::im2col::{col2im_words, im2col};
use super::pool::{max_pool, max_unpool};
use super::weight_grid::WeightGrid;
use super::DenseF32;
use crate::train::device::{Arena, TrainingBoard};
use crate::train::loss::{softmax_xent, BatchOutcome};
use crate::train::methods::{Counters, Params};

/// The FL of the row of ones that sums the bias gradient: 1.0 is exact at any FL <= 14.
pub const FL_ONES: u8 = 14;

/// The seed of backward operation `k` of layer `l` (0-based) in the step of `seed`:
/// `k` = 0 input gradient, 1 weight gradient, 2 bias gradient, 3 and 4 the UPDATEs.
pub fn op_seed(seed: u64, l: usize, k: u64) -> u64 {
    splitmix64(seed, 2 + 8 * l as u64 + k)
}

/// Device buffers of the step; see the module documentation.
struct Buffers {
    cols1: Tensor,
    z1: Tensor,
    dz1: Tensor,
    cols2: Tensor,
    z2: Tensor,
    dz2: Tensor,
    dcols2: Tensor,
    x3: Tensor,
    z3: Tensor,
    dz3: Tensor,
    dx3: Tensor,
    /// `dH1` and `dH2` in turn.
    dh_addr: u32,
    ones: Tensor,
    w: [Tensor; 3],
    b: [Tensor; 3],
    dw_addr: u32,
    db_addr: u32,
}

/// The CNN in device memory.
pub struct DeviceCnn {
    board: TrainingBoard,
    shape: CnnShape,
    scheme: FixedScheme,
    lr: f64,
    batch: usize,
    /// The longest K of one GEMM: the board's `max_k`.
    max_k: usize,
    buf: Buffers,
    pixel_lut: [i16; 256],
    plan_words: u64,
    /// The grid and clamp of every weight matrix's UPDATE (biases keep the full grid).
    weight_grid: WeightGrid,
}

/// What the backward pass needs from the host side of the forward pass.
struct Forward {
    logits: Vec<f64>,
    arg1: Vec<u32>,
    arg2: Vec<u32>,
}

impl DeviceCnn {
    /// Lays the network out in the board's memory, checks that it fits and that the board
    /// runs every command of the step, then writes the initial weights (quantized to nearest).
    pub fn new(
        board: TrainingBoard,
        shape: &CnnShape,
        scheme: FixedScheme,
        init: &[DenseF32],
        batch: usize,
        lr: f64,
    ) -> anyhow::Result<DeviceCnn> {
        let caps = board.board.capabilities();
        let (c1, c2) = (shape.conv1(), shape.conv2());
        let (m1, m2) = (batch * c1.positions(), batch * c2.positions());
        ensure!(
            batch >= 1 && m1 <= usize::from(u16::MAX),
            "--batch {batch}: the CNN's first convolution has {} positions per image and a \
             GEMM dimension is at most 65535, so the batch is at most {}",
            c1.positions(),
            usize::from(u16::MAX) / c1.positions()
        );
        for op in [0x30u8, 0x31, 0x32, 0x35] {
            if caps.ops & (1 << (op - 0x30)) == 0 {
                bail!(
                    "the board does not implement {} (0x{op:02x}), which training needs",
                    qtrain_driver::device::code_name(op)
                );
            }
        }
        let max_k = caps.max_k as usize;
        let widest = shape
            .layers()
            .iter()
            .map(|&(i, o)| i.max(o))
            .max()
            .unwrap_or(1);
        ensure!(
            max_k >= 1 && widest <= max_k,
            "array/memory too small for this network: a GEMM of the CNN has K = {widest} but \
             the board's max K is {max_k}"
        );
        for fl in [scheme.fl.w, scheme.fl.a, scheme.fl.g, scheme.fl.dw] {
            qtrain_model::check_fl('?', fl).context("a format of --fl*")?;
        }
        for rows in [1, batch] {
            eta_words(lr, rows, scheme.fl.w, scheme.fl.dw)?;
        }
        let layers = shape.layers();
        ensure!(
            init.len() == 3
                && init
                    .iter()
                    .zip(&layers)
                    .all(|(d, &(i, o))| (d.inputs, d.outputs) == (i, o)),
            "the initial weights are not those of the CNN"
        );

        let mut a = Arena::default();
        let fc = shape.fc_inputs();
        let buf = Buffers {
            cols1: a.tensor("C1 (im2col)", m1, c1.patch()),
            z1: a.tensor("Z1", m1, c1.c_out),
            dz1: a.tensor("dZ1", m1, c1.c_out),
            cols2: a.tensor("C2 (im2col)", m2, c2.patch()),
            z2: a.tensor("Z2", m2, c2.c_out),
            dz2: a.tensor("dZ2", m2, c2.c_out),
            dcols2: a.tensor("dC2", m2, c2.patch()),
            x3: a.tensor("X3", batch, fc),
            z3: a.tensor("Z3", batch, shape.classes),
            dz3: a.tensor("dZ3", batch, shape.classes),
            dx3: a.tensor("dX3", batch, fc),
            dh_addr: a
                .tensor("dH scratch", 1, (m1 * c1.c_out).max(m2 * c2.c_out))
                .addr,
            ones: a.tensor("ones", 1, m1.min(max_k)),
            w: std::array::from_fn(|l| a.tensor(format!("W{}", l + 1), layers[l].0, layers[l].1)),
            b: std::array::from_fn(|l| a.tensor(format!("b{}", l + 1), 1, layers[l].1)),
            dw_addr: a
                .tensor(
                    "dW scratch",
                    1,
                    layers.iter().map(|(i, o)| i * o).max().unwrap_or(1),
                )
                .addr,
            db_addr: a
                .tensor(
                    "db scratch",
                    1,
                    layers.iter().map(|l| l.1).max().unwrap_or(1),
                )
                .addr,
        };
        a.check_fits(
            caps.mem_words,
            &format!("the CNN {:?} with --batch {batch}", shape.widths()),
        )?;
        let pixel_lut = std::array::from_fn(|p| {
            quantize(p as f64 / 255.0, scheme.fl.a, Rounding::Nearest, &mut || 0)
        });
        let mut cnn = DeviceCnn {
            board,
            shape: *shape,
            scheme,
            lr,
            batch,
            max_k,
            buf,
            pixel_lut,
            plan_words: a.words(),
            weight_grid: WeightGrid::FULL,
        };
        let one = quantize(1.0, FL_ONES, Rounding::Nearest, &mut || 0);
        let ones_len = m1.min(max_k);
        cnn.board
            .board
            .write(cnn.buf.ones.addr, &vec![one; ones_len])?;
        let q = |v: &[f32]| -> Vec<i16> {
            v.iter()
                .map(|&x| quantize(f64::from(x), scheme.fl.w, Rounding::Nearest, &mut || 0))
                .collect()
        };
        let tensors = init.iter().flat_map(|d| [q(&d.w), q(&d.b)]).collect();
        cnn.set_params(&Params::Fixed { tensors })?;
        Ok(cnn)
    }

    /// Words of device memory the plan uses.
    pub fn plan_words(&self) -> u64 {
        self.plan_words
    }

    /// A GEMM with the scheme's rounding and the LFSR states of `seed`.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        &mut self,
        (a, b, c): (Tensor, Tensor, Tensor),
        (m, k, n): (usize, usize, usize),
        (trans_a, trans_b): (bool, bool),
        accumulate: bool,
        (fl_a, fl_b, fl_c): (u8, u8, u8),
        seed: u64,
    ) -> anyhow::Result<()> {
        let (row_state, col_state) = seed_states(seed);
        self.board.board.gemm(&GemmDescriptor {
            a,
            b,
            c,
            m: m as u16,
            k: k as u16,
            n: n as u16,
            trans_a,
            trans_b,
            accumulate,
            fl_a,
            fl_b,
            fl_c,
            rounding: self.scheme.gemm_rounding,
            row_state,
            col_state,
        })?;
        Ok(())
    }

    /// `Z = X·W_l + b_l` for `m` rows, then ReLU in place if `relu`.
    fn layer_forward(
        &mut self,
        l: usize,
        (x, z): (Tensor, Tensor),
        m: usize,
        relu: bool,
        seed: u64,
    ) -> anyhow::Result<()> {
        let (inputs, outputs) = self.shape.layers()[l];
        let fl = self.scheme.fl;
        let (w, b) = (self.buf.w[l], self.buf.b[l]);
        self.gemm(
            (x, w, z),
            (m, inputs, outputs),
            (false, false),
            false,
            (fl.a, fl.w, fl.a),
            seed,
        )?;
        let (rows, cols) = (m as u16, outputs as u16);
        self.board.board.vector(&VectorOp::BiasAdd {
            x: z,
            y: z,
            rows,
            cols,
            b_addr: b.addr,
            fl_x: fl.a,
            fl_b: fl.w,
        })?;
        if relu {
            self.board.board.vector(&VectorOp::Relu {
                x: z,
                y: z,
                rows,
                cols,
            })?;
        }
        Ok(())
    }

    fn read(&mut self, t: Tensor, words: usize) -> anyhow::Result<Vec<i16>> {
        Ok(self.board.board.read(t.addr, words)?)
    }

    fn forward(&mut self, pixels: &[u8], rows: usize, seed: u64) -> anyhow::Result<Forward> {
        ensure!(
            rows >= 1 && rows <= self.batch,
            "batch of {rows} images, planned for {}",
            self.batch
        );
        let s = self.shape;
        let (c1, c2) = (s.conv1(), s.conv2());
        ensure!(
            pixels.len() == rows * s.inputs(),
            "{} pixels for {rows} images of {}",
            pixels.len(),
            s.inputs()
        );
        let b = &self.buf;
        let (cols1, z1, cols2, z2, x3, z3) = (b.cols1, b.z1, b.cols2, b.z2, b.x3, b.z3);
        let x: Vec<i16> = pixels
            .iter()
            .map(|&p| self.pixel_lut[usize::from(p)])
            .collect();
        self.board.board.write(cols1.addr, &im2col(&x, rows, &c1))?;
        let (m1, m2) = (rows * c1.positions(), rows * c2.positions());
        self.layer_forward(0, (cols1, z1), m1, true, splitmix64(seed, 0))?;
        let h1 = self.read(z1, m1 * c1.c_out)?;
        let (p1, arg1) = max_pool(&h1, rows, (c1.out_h(), c1.out_w(), c1.c_out));
        self.board
            .board
            .write(cols2.addr, &im2col(&p1, rows, &c2))?;
        self.layer_forward(1, (cols2, z2), m2, true, splitmix64(seed, 1))?;
        let h2 = self.read(z2, m2 * c2.c_out)?;
        let (p2, arg2) = max_pool(&h2, rows, (c2.out_h(), c2.out_w(), c2.c_out));
        self.board.board.write(x3.addr, &p2)?;
        self.layer_forward(2, (x3, z3), rows, false, splitmix64(seed, 2))?;
        let logits = self.read(z3, rows * s.classes)?;
        let fl_a = self.scheme.fl.a;
        Ok(Forward {
            logits: logits.iter().map(|&q| dequantize(q, fl_a)).collect(),
            arg1,
            arg2,
        })
    }

    /// `dW_l = X^T·dZ` and `db_l = 1^T·dZ` over `k` rows, in slices of at most `max_k`
    /// rows, then the UPDATEs of `W_l` and `b_l`.
    fn weight_step(
        &mut self,
        l: usize,
        (x, dz): (Tensor, Tensor),
        k: usize,
        rows: usize,
        seed: u64,
    ) -> anyhow::Result<()> {
        let (inputs, outputs) = self.shape.layers()[l];
        let fl = self.scheme.fl;
        let dw = Tensor {
            addr: self.buf.dw_addr,
            stride: outputs as u16,
        };
        let db = Tensor {
            addr: self.buf.db_addr,
            stride: outputs as u16,
        };
        for (i, k0) in (0..k).step_by(self.max_k).enumerate() {
            let kc = self.max_k.min(k - k0);
            let slice = |t: Tensor| Tensor {
                addr: t.addr + (k0 * usize::from(t.stride)) as u32,
                stride: t.stride,
            };
            self.gemm(
                (slice(x), slice(dz), dw),
                (inputs, kc, outputs),
                (true, false),
                i > 0,
                (fl.a, fl.g, fl.dw),
                splitmix64(op_seed(seed, l, 1), i as u64),
            )?;
            let ones = Tensor {
                addr: self.buf.ones.addr,
                stride: kc as u16,
            };
            self.gemm(
                (ones, slice(dz), db),
                (1, kc, outputs),
                (false, false),
                i > 0,
                (FL_ONES, fl.g, fl.dw),
                splitmix64(op_seed(seed, l, 2), i as u64),
            )?;
        }
        let (w, b) = (self.buf.w[l], self.buf.b[l]);
        let grid = self.weight_grid;
        self.update(w, dw, rows, (inputs, outputs), grid, op_seed(seed, l, 3))?;
        self.update(
            b,
            db,
            rows,
            (1, outputs),
            WeightGrid::FULL,
            op_seed(seed, l, 4),
        )
    }

    /// Puts every weight matrix on `grid` from now on (r, sr): its UPDATEs round onto the
    /// grid and clamp to it, and the present weights move to their nearest grid point
    /// (biases stay on the ordinary fixed-point grid).
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

    /// `dZ = relu_mask(H, dH)` with `dH` written to the scratch first.
    fn masked(&mut self, h: Tensor, dh: &[i16], dz: Tensor) -> anyhow::Result<()> {
        let d = Tensor {
            addr: self.buf.dh_addr,
            stride: h.stride,
        };
        self.board.board.write(d.addr, dh)?;
        self.board.board.vector(&VectorOp::ReluMask {
            x: h,
            d,
            y: dz,
            rows: (dh.len() / usize::from(h.stride)) as u16,
            cols: h.stride,
        })?;
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
        let f = self.forward(pixels, rows, splitmix64(seed, 0))?;
        let s = self.shape;
        let (c1, c2) = (s.conv1(), s.conv2());
        let (outcome, grad) = softmax_xent(&f.logits, labels, s.classes);
        let fl = self.scheme.fl;
        let mut rng = ChaCha8Rng::seed_from_u64(splitmix64(seed, 1));
        let rnd = self.scheme.grad_rounding;
        let dz3: Vec<i16> = grad
            .iter()
            .map(|&g| quantize(g, fl.g, rnd, &mut || rng.gen::<u16>()))
            .collect();
        let b = &self.buf;
        let (x3, dz3_t, dx3, z2, dz2, cols2, dcols2, z1, dz1, cols1) = (
            b.x3, b.dz3, b.dx3, b.z2, b.dz2, b.cols2, b.dcols2, b.z1, b.dz1, b.cols1,
        );
        self.board.board.write(dz3_t.addr, &dz3)?;
        let (w2, w3) = (self.buf.w[1], self.buf.w[2]);
        let fc = s.fc_inputs();

        self.gemm(
            (dz3_t, w3, dx3),
            (rows, s.classes, fc),
            (false, true),
            false,
            (fl.g, fl.w, fl.g),
            op_seed(seed, 2, 0),
        )?;
        self.weight_step(2, (x3, dz3_t), rows, rows, seed)?;
        let dp2 = self.read(dx3, rows * fc)?;
        let (m1, m2) = (rows * c1.positions(), rows * c2.positions());
        let dh2 = max_unpool(&dp2, &f.arg2, m2 * c2.c_out, 0);
        self.masked(z2, &dh2, dz2)?;

        self.gemm(
            (dz2, w2, dcols2),
            (m2, c2.c_out, c2.patch()),
            (false, true),
            false,
            (fl.g, fl.w, fl.g),
            op_seed(seed, 1, 0),
        )?;
        self.weight_step(1, (cols2, dz2), m2, rows, seed)?;
        let dc2 = self.read(dcols2, m2 * c2.patch())?;
        let dp1 = col2im_words(&dc2, rows, &c2);
        let dh1 = max_unpool(&dp1, &f.arg1, m1 * c1.c_out, 0);
        self.masked(z1, &dh1, dz1)?;
        self.weight_step(0, (cols1, dz1), m1, rows, seed)?;
        Ok(outcome)
    }

    /// Loss and accuracy of a batch without training.
    pub fn eval_batch(
        &mut self,
        pixels: &[u8],
        labels: &[u8],
        seed: u64,
    ) -> anyhow::Result<BatchOutcome> {
        let f = self.forward(pixels, labels.len(), seed)?;
        Ok(softmax_xent(&f.logits, labels, self.shape.classes).0)
    }

    /// The weights and biases, read back from the device.
    pub fn params(&mut self) -> anyhow::Result<Params> {
        let mut tensors = Vec::new();
        for (l, (i, o)) in self.shape.layers().into_iter().enumerate() {
            let (w, b) = (self.buf.w[l], self.buf.b[l]);
            tensors.push(self.read(w, i * o)?);
            tensors.push(self.read(b, o)?);
        }
        Ok(Params::Fixed { tensors })
    }

    /// Writes weights and biases to the device.
    pub fn set_params(&mut self, p: &Params) -> anyhow::Result<()> {
        let Params::Fixed { tensors } = p else {
            bail!("a float checkpoint cannot be loaded into a fixed-point network");
        };
        ensure!(
            tensors.len() == 6,
            "checkpoint has {} tensors, the CNN 6",
            tensors.len()
        );
        for (l, ((i, o), pair)) in self
            .shape
            .layers()
            .into_iter()
            .zip(tensors.chunks_exact(2))
            .enumerate()
        {
            ensure!(
                pair[0].len() == i * o && pair[1].len() == o,
                "checkpoint layer {} has the wrong shape",
                l + 1
            );
            let (w, b) = (self.buf.w[l], self.buf.b[l]);
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
#[path = "device_cnn_tests.rs"]
mod tests;
