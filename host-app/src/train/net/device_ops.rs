//! Matrix products and their element-wise companions on an [`Accelerator`] for methods whose
//! tensors live on the host between operations (bc, bcgd, wage): the operands are written,
//! the device computes, the results are read back. Every call streams: it runs in row tiles
//! (and K slices) that fit the board's `mem_words`, so a network of any size runs on any
//! board whose largest single piece fits, and the bits do not depend on the tiling.
//!
//! Why the tiling cannot change the bits:
//! - a row tile starting at row `i0` gets the LFSR states jumped by `i0` words
//!   (numerics §5, "Offsets"), so every output element sees the random word of the whole GEMM;
//! - K is sliced only at multiples of [`K_SLICE`] (or the board's `max_k` if smaller: a
//!   capability, not the memory), the first slice written and the others accumulated
//!   (numerics §6), slice `i` with the seed `splitmix64(seed, i)`; the memory only decides
//!   how many rows go in a tile.

use anyhow::{bail, ensure};
use qtrain_driver::accelerator::Accelerator;
use qtrain_driver::device::{GemmDescriptor, Tensor, VectorOp};
use qtrain_model::{splitmix64, GemmParams, Rounding};

use crate::train::device::TrainingBoard;

/// The longest K of one piece: small enough that a piece of the CNN's widest weight
/// gradient (a 512 x 16 slice of B) fits a board of 16K words, long enough that the slices
/// of a batch's weight gradient stay few (72 for the first convolution at batch 64).
pub const K_SLICE: usize = 512;

/// What runs on the device after a forward product, or masks an input gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// Nothing.
    Identity,
    /// RELU forward, RELU_MASK backward (numerics §7.2).
    Relu,
    /// QRELU forward, QRELU_MASK backward (numerics §7.3) with step `alpha` (a raw word in
    /// the format of the pre-activation) and `2^bits - 1` levels.
    Qrelu {
        /// The step α as a raw word.
        alpha: i16,
        /// Bits of the quantized ReLU.
        bits: u8,
    },
}

/// One product `C = op(A)·op(B)`: its shape, formats, rounding and seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Product {
    /// Rows of C.
    pub m: usize,
    /// The summed dimension.
    pub k: usize,
    /// Columns of C.
    pub n: usize,
    /// FL of A, B and C.
    pub fl: (u8, u8, u8),
    /// Rounding of C's conversion.
    pub rounding: Rounding,
    /// Seed of the LFSR states (numerics §5).
    pub seed: u64,
}

/// A board used one product at a time; see the module documentation.
pub struct DeviceOps {
    /// The board.
    pub board: TrainingBoard,
    mem_words: u64,
    max_k: usize,
}

/// Row-major transpose of a `rows x cols` block.
pub fn transpose(x: &[i16], rows: usize, cols: usize) -> Vec<i16> {
    let mut t = vec![0i16; x.len()];
    for (i, row) in x.chunks_exact(cols).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            t[j * rows + i] = v;
        }
    }
    t
}

impl DeviceOps {
    /// Wraps a board; checks that it runs the vector commands `ops` (codes 0x30..).
    pub fn new(board: TrainingBoard, ops: &[u8]) -> anyhow::Result<DeviceOps> {
        let caps = board.board.capabilities();
        if let Some(op) = ops.iter().find(|&&c| caps.ops & (1 << (c - 0x30)) == 0) {
            bail!(
                "the board does not implement {} (0x{op:02x}), which this method needs",
                qtrain_driver::device::code_name(*op)
            );
        }
        Ok(DeviceOps {
            mem_words: u64::from(caps.mem_words),
            max_k: (caps.max_k as usize).clamp(1, K_SLICE),
            board,
        })
    }

    /// The longest K slice.
    fn k_slice(&self, k: usize) -> usize {
        k.min(self.max_k)
    }

    /// Words of one tile row and the fixed part (B slice and bias) of a product with
    /// `extra` more `n`-wide tensors per row (activation output, mask input and output).
    fn tile_rows(&self, k: usize, n: usize, extra: usize) -> usize {
        let ks = self.k_slice(k) as u64;
        let fixed = ks * n as u64 + n as u64;
        let per_row = ks + (1 + extra as u64) * n as u64;
        let rows = self.mem_words.saturating_sub(fixed) / per_row;
        rows.min(u64::from(u16::MAX)) as usize
    }

    /// Errors, before any work, if one piece of a product of shape `(k, n)` does not fit:
    /// a row tile of one row with a K slice of B.
    pub fn check_fits(&self, what: &str, k: usize, n: usize) -> anyhow::Result<()> {
        ensure!(
            n <= usize::from(u16::MAX),
            "{what}: a GEMM dimension of {n} exceeds 65535"
        );
        if self.tile_rows(k, n, 2) == 0 {
            let ks = self.k_slice(k) as u64;
            bail!(
                "array/memory too small for this network: {what} needs at least {} words of \
                 device memory for one piece (a {ks} x {n} slice of B, a bias, one row of A, C \
                 and two {n}-wide rows), the device has {}",
                ks * n as u64 + n as u64 + ks + 3 * n as u64,
                self.mem_words
            );
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn gemm_tile(
        &mut self,
        (a, b, c): (Tensor, Tensor, Tensor),
        (m, k, n): (usize, usize, usize),
        p: &Product,
        accumulate: bool,
        slice: usize,
        i0: usize,
        multi_slice: bool,
    ) -> anyhow::Result<()> {
        let seed = if multi_slice {
            splitmix64(p.seed, slice as u64)
        } else {
            p.seed
        };
        let g =
            GemmParams::from_seed(seed, p.fl.0, p.fl.1, p.fl.2, p.rounding).offset(i0 as u64, 0);
        self.board.board.gemm(&GemmDescriptor {
            a,
            b,
            c,
            m: m as u16,
            k: k as u16,
            n: n as u16,
            trans_a: false,
            trans_b: false,
            accumulate,
            fl_a: p.fl.0,
            fl_b: p.fl.1,
            fl_c: p.fl.2,
            rounding: p.rounding,
            row_state: g.row_state,
            col_state: g.col_state,
        })?;
        Ok(())
    }

    /// `C = A·B` (A `m x k`, B `k x n`, both row-major), then `+ bias` (BIAS_ADD, the bias in
    /// format `fl_bias`) and `act` on the device; returns C (after the bias) and `act(C)`
    /// (None for [`Act::Identity`]).
    pub fn forward(
        &mut self,
        a: &[i16],
        b: &[i16],
        bias: Option<(&[i16], u8)>,
        p: &Product,
        act: Act,
    ) -> anyhow::Result<(Vec<i16>, Option<Vec<i16>>)> {
        let (m, k, n) = (p.m, p.k, p.n);
        ensure!(a.len() == m * k && b.len() == k * n, "operand sizes");
        let tile = self.tile_rows(k, n, 2);
        ensure!(
            tile >= 1,
            "a product of K = {k}, N = {n} does not fit the device memory"
        );
        let slices: Vec<usize> = (0..k).step_by(self.max_k).collect();
        let ks = self.k_slice(k);
        let b_t = Tensor {
            addr: 0,
            stride: n as u16,
        };
        let bias_addr = (ks * n) as u32;
        let a_addr = bias_addr + n as u32;
        if let Some((bv, _)) = bias {
            self.board.board.write(bias_addr, bv)?;
        }
        if slices.len() == 1 {
            self.board.board.write(0, b)?;
        }
        let mut z = Vec::with_capacity(m * n);
        let mut h = (act != Act::Identity).then(|| Vec::with_capacity(m * n));
        for i0 in (0..m).step_by(tile) {
            let rows = tile.min(m - i0);
            let c_t = Tensor {
                addr: a_addr + (rows * ks) as u32,
                stride: n as u16,
            };
            let h_t = Tensor {
                addr: c_t.addr + (rows * n) as u32,
                stride: n as u16,
            };
            for (s, &k0) in slices.iter().enumerate() {
                let kc = ks.min(k - k0);
                let a_block: Vec<i16> = a[i0 * k..(i0 + rows) * k]
                    .chunks_exact(k)
                    .flat_map(|r| &r[k0..k0 + kc])
                    .copied()
                    .collect();
                let a_sl = Tensor {
                    addr: a_addr,
                    stride: kc as u16,
                };
                self.board.board.write(a_addr, &a_block)?;
                if slices.len() > 1 {
                    self.board.board.write(0, &b[k0 * n..(k0 + kc) * n])?;
                }
                self.gemm_tile(
                    (a_sl, b_t, c_t),
                    (rows, kc, n),
                    p,
                    s > 0,
                    s,
                    i0,
                    slices.len() > 1,
                )?;
            }
            let (r16, c16) = (rows as u16, n as u16);
            if let Some((_, fl_b)) = bias {
                self.board.board.vector(&VectorOp::BiasAdd {
                    x: c_t,
                    y: c_t,
                    rows: r16,
                    cols: c16,
                    b_addr: bias_addr,
                    fl_x: p.fl.2,
                    fl_b,
                })?;
            }
            z.extend(self.board.board.read(c_t.addr, rows * n)?);
            if let Some(h) = h.as_mut() {
                let op = match act {
                    Act::Relu => VectorOp::Relu {
                        x: c_t,
                        y: h_t,
                        rows: r16,
                        cols: c16,
                    },
                    Act::Qrelu { alpha, bits } => VectorOp::Qrelu {
                        x: c_t,
                        y: h_t,
                        rows: r16,
                        cols: c16,
                        alpha,
                        bits,
                    },
                    Act::Identity => unreachable!("no output without an activation"),
                };
                self.board.board.vector(&op)?;
                h.extend(self.board.board.read(h_t.addr, rows * n)?);
            }
        }
        Ok((z, h))
    }

    /// `C = A·B` on the device (A `m x k`, B `k x n`, row-major).
    pub fn product(&mut self, a: &[i16], b: &[i16], p: &Product) -> anyhow::Result<Vec<i16>> {
        Ok(self.forward(a, b, None, p, Act::Identity)?.0)
    }

    /// The masked gradient `act_mask(x, d)` (RELU_MASK or QRELU_MASK) of `rows x cols`
    /// tensors on the device, in row tiles that fit.
    pub fn mask(
        &mut self,
        x: &[i16],
        d: &[i16],
        cols: usize,
        act: Act,
    ) -> anyhow::Result<Vec<i16>> {
        ensure!(
            x.len() == d.len() && cols >= 1 && x.len().is_multiple_of(cols),
            "mask sizes"
        );
        let m = x.len() / cols;
        let tile = ((self.mem_words / (2 * cols as u64)) as usize).min(usize::from(u16::MAX));
        ensure!(
            tile >= 1,
            "a {cols}-wide mask does not fit the device memory"
        );
        let mut y = Vec::with_capacity(x.len());
        for i0 in (0..m).step_by(tile) {
            let rows = tile.min(m - i0);
            let x_t = Tensor {
                addr: 0,
                stride: cols as u16,
            };
            let d_t = Tensor {
                addr: (rows * cols) as u32,
                stride: cols as u16,
            };
            self.board
                .board
                .write(x_t.addr, &x[i0 * cols..(i0 + rows) * cols])?;
            self.board
                .board
                .write(d_t.addr, &d[i0 * cols..(i0 + rows) * cols])?;
            let (r16, c16) = (rows as u16, cols as u16);
            // The result overwrites the gradient: it is no longer needed.
            let op = match act {
                Act::Relu => VectorOp::ReluMask {
                    x: x_t,
                    d: d_t,
                    y: d_t,
                    rows: r16,
                    cols: c16,
                },
                Act::Qrelu { alpha, bits } => VectorOp::QreluMask {
                    x: x_t,
                    d: d_t,
                    y: d_t,
                    rows: r16,
                    cols: c16,
                    alpha,
                    bits,
                },
                Act::Identity => bail!("a mask needs an activation"),
            };
            self.board.board.vector(&op)?;
            y.extend(self.board.board.read(d_t.addr, rows * cols)?);
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::board::Backend;
    use crate::train::device::open_board;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn ops(mem: u32) -> DeviceOps {
        DeviceOps::new(
            open_board(Backend::Model, Some(mem), None).unwrap(),
            &[0x30, 0x31, 0x32, 0x33, 0x34],
        )
        .unwrap()
    }

    fn words(n: usize, rng: &mut ChaCha8Rng, lim: i16) -> Vec<i16> {
        (0..n).map(|_| rng.gen_range(-lim..=lim)).collect()
    }

    /// Tiles and K slices give the bits of one whole product computed by the model, for
    /// both roundings, with a bias and each activation and mask.
    #[test]
    fn streamed_products_equal_the_whole_product() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // K = 1300 is three slices, the second and third accumulated.
        for &(m, k, n) in &[(37, 25, 8), (9, 1300, 3)] {
            let a = words(m * k, &mut rng, 300);
            let b = words(k * n, &mut rng, 300);
            let bias = words(n, &mut rng, 1000);
            let mask_x = words(m * n, &mut rng, 2000);
            for rounding in [Rounding::Nearest, Rounding::Stochastic] {
                let p = Product {
                    m,
                    k,
                    n,
                    fl: (8, 9, 6),
                    rounding,
                    seed: 99,
                };
                for act in [Act::Relu, Act::Qrelu { alpha: 37, bits: 3 }] {
                    let big = ops(1 << 22)
                        .forward(&a, &b, Some((&bias, 5)), &p, act)
                        .unwrap();
                    // Room for a few rows per tile only.
                    let ks = K_SLICE.min(k);
                    let mem = (ks * (n + 1) + n + 6 * (ks + 3 * n)) as u32;
                    let small = ops(mem).forward(&a, &b, Some((&bias, 5)), &p, act).unwrap();
                    assert_eq!(big, small, "{m}x{k}x{n} {rounding:?} {act:?}");
                    let d = &big.0;
                    let whole = ops(1 << 22).mask(&mask_x, d, n, act).unwrap();
                    let tiled = ops((4 * n) as u32).mask(&mask_x, d, n, act).unwrap();
                    assert_eq!(whole, tiled);
                    let want: Vec<i16> = mask_x
                        .iter()
                        .zip(d)
                        .map(|(&x, &g)| {
                            let top = match act {
                                Act::Qrelu { alpha, bits } => {
                                    ((1i32 << bits) - 1) * i32::from(alpha)
                                }
                                _ => i32::MAX,
                            };
                            if x > 0 && i32::from(x) <= top {
                                g
                            } else {
                                0
                            }
                        })
                        .collect();
                    assert_eq!(whole, want);
                }
                // Against the model's GEMM directly (one slice: the whole product).
                if k <= K_SLICE {
                    let (z, _) = ops(1 << 22)
                        .forward(&a, &b, None, &p, Act::Identity)
                        .unwrap();
                    let ma = qtrain_model::Matrix::new(m, k, a.clone()).unwrap();
                    let mb = qtrain_model::Matrix::new(k, n, b.clone()).unwrap();
                    let gp = GemmParams::from_seed(99, 8, 9, 6, rounding);
                    let want = qtrain_model::gemm(&ma, false, &mb, false, None, &gp).unwrap();
                    assert_eq!(z, want.data);
                }
            }
        }
    }

    #[test]
    fn a_piece_that_cannot_fit_is_refused_before_any_work() {
        let o = ops(1000);
        let err = o
            .check_fits("the test layer", 200, 16)
            .unwrap_err()
            .to_string();
        assert!(err.contains("array/memory too small"), "{err}");
        assert!(o.check_fits("small", 20, 16).is_ok());
        assert_eq!(transpose(&[1, 2, 3, 4, 5, 6], 2, 3), vec![1, 4, 2, 5, 3, 6]);
    }
}
