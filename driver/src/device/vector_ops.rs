//! The bodies of the element-wise commands (protocol.md §5, numerics §7).

use super::commands::{code, exact, rounding, Tensor, UPDATE_LEN};
use super::wire::{Reader, StatusCode, Writer};

/// The element-wise commands of numerics §7 (codes 0x30..=0x35).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorOp {
    /// BIAS_ADD: Y = X + align(b).
    BiasAdd {
        /// Input.
        x: Tensor,
        /// Output.
        y: Tensor,
        /// Shape rows.
        rows: u16,
        /// Shape columns.
        cols: u16,
        /// The bias vector, one word per column.
        b_addr: u32,
        /// Format of X and Y.
        fl_x: u8,
        /// Format of b.
        fl_b: u8,
    },
    /// RELU.
    Relu {
        /// Input.
        x: Tensor,
        /// Output.
        y: Tensor,
        /// Shape rows.
        rows: u16,
        /// Shape columns.
        cols: u16,
    },
    /// RELU_MASK: Y = D where X > 0.
    ReluMask {
        /// Pre-activation.
        x: Tensor,
        /// Incoming gradient.
        d: Tensor,
        /// Output.
        y: Tensor,
        /// Shape rows.
        rows: u16,
        /// Shape columns.
        cols: u16,
    },
    /// QRELU with `2^bits - 1` levels of `alpha`.
    Qrelu {
        /// Input.
        x: Tensor,
        /// Output.
        y: Tensor,
        /// Shape rows.
        rows: u16,
        /// Shape columns.
        cols: u16,
        /// Step (raw word, > 0).
        alpha: i16,
        /// Bits, 1..=8.
        bits: u8,
    },
    /// QRELU_MASK: Y = D where 0 < X <= L·alpha.
    QreluMask {
        /// Pre-activation.
        x: Tensor,
        /// Incoming gradient.
        d: Tensor,
        /// Output.
        y: Tensor,
        /// Shape rows.
        rows: u16,
        /// Shape columns.
        cols: u16,
        /// Step (raw word, > 0).
        alpha: i16,
        /// Bits, 1..=8.
        bits: u8,
    },
    /// UPDATE: W <- clamp(Q(W - eta·G)).
    Update(UpdateDescriptor),
}

/// The UPDATE descriptor (protocol.md §5, numerics §7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpdateDescriptor {
    /// W, updated in place.
    pub w: Tensor,
    /// The gradient, same shape.
    pub g: Tensor,
    /// Shape rows.
    pub rows: u16,
    /// Shape columns.
    pub cols: u16,
    /// The arithmetic (formats, eta, grid, clamp, LFSR states).
    pub params: qtrain_model::UpdateParams,
}

impl VectorOp {
    /// The command code.
    pub fn code(&self) -> u8 {
        match self {
            VectorOp::BiasAdd { .. } => code::BIAS_ADD,
            VectorOp::Relu { .. } => code::RELU,
            VectorOp::ReluMask { .. } => code::RELU_MASK,
            VectorOp::Qrelu { .. } => code::QRELU,
            VectorOp::QreluMask { .. } => code::QRELU_MASK,
            VectorOp::Update(_) => code::UPDATE,
        }
    }
}

pub(super) fn encode_vector(op: &VectorOp, w: &mut Writer) {
    match *op {
        VectorOp::BiasAdd {
            x,
            y,
            rows,
            cols,
            b_addr,
            fl_x,
            fl_b,
        } => {
            x.put(w);
            y.put(w);
            w.u16(rows).u16(cols).u32(b_addr).u8(fl_x).u8(fl_b);
        }
        VectorOp::Relu { x, y, rows, cols } => {
            x.put(w);
            y.put(w);
            w.u16(rows).u16(cols);
        }
        VectorOp::ReluMask {
            x,
            d,
            y,
            rows,
            cols,
        } => {
            x.put(w);
            d.put(w);
            y.put(w);
            w.u16(rows).u16(cols);
        }
        VectorOp::Qrelu {
            x,
            y,
            rows,
            cols,
            alpha,
            bits,
        } => {
            x.put(w);
            y.put(w);
            w.u16(rows).u16(cols).i16(alpha).u8(bits).u8(0);
        }
        VectorOp::QreluMask {
            x,
            d,
            y,
            rows,
            cols,
            alpha,
            bits,
        } => {
            x.put(w);
            d.put(w);
            y.put(w);
            w.u16(rows).u16(cols).i16(alpha).u8(bits).u8(0);
        }
        VectorOp::Update(u) => {
            let p = &u.params;
            u.w.put(w);
            u.g.put(w);
            w.u16(u.rows).u16(u.cols);
            w.u8(p.fl_w).u8(p.fl_g).u8(p.fl_eta).u8(p.rounding as u8);
            w.u16(p.eta_q).u8(p.grid_shift).u8(0).i16(p.grid_offset);
            w.i16(p.w_min).i16(p.w_max).u16(0);
            w.u32(p.row_state).u32(p.col_state);
        }
    }
}

pub(super) fn decode_vector(kind: u8, b: &[u8]) -> Result<VectorOp, StatusCode> {
    let mut r = Reader(b);
    Ok(match kind {
        code::BIAS_ADD => {
            exact(b, 22)?;
            VectorOp::BiasAdd {
                x: Tensor::get(&mut r),
                y: Tensor::get(&mut r),
                rows: r.u16(),
                cols: r.u16(),
                b_addr: r.u32(),
                fl_x: r.u8(),
                fl_b: r.u8(),
            }
        }
        code::RELU => {
            exact(b, 16)?;
            VectorOp::Relu {
                x: Tensor::get(&mut r),
                y: Tensor::get(&mut r),
                rows: r.u16(),
                cols: r.u16(),
            }
        }
        code::RELU_MASK => {
            exact(b, 22)?;
            VectorOp::ReluMask {
                x: Tensor::get(&mut r),
                d: Tensor::get(&mut r),
                y: Tensor::get(&mut r),
                rows: r.u16(),
                cols: r.u16(),
            }
        }
        code::QRELU => {
            exact(b, 20)?;
            VectorOp::Qrelu {
                x: Tensor::get(&mut r),
                y: Tensor::get(&mut r),
                rows: r.u16(),
                cols: r.u16(),
                alpha: r.i16(),
                bits: r.u8(),
            }
        }
        code::QRELU_MASK => {
            exact(b, 26)?;
            VectorOp::QreluMask {
                x: Tensor::get(&mut r),
                d: Tensor::get(&mut r),
                y: Tensor::get(&mut r),
                rows: r.u16(),
                cols: r.u16(),
                alpha: r.i16(),
                bits: r.u8(),
            }
        }
        code::UPDATE => {
            exact(b, UPDATE_LEN)?;
            let (w, g) = (Tensor::get(&mut r), Tensor::get(&mut r));
            let (rows, cols) = (r.u16(), r.u16());
            let (fl_w, fl_g, fl_eta) = (r.u8(), r.u8(), r.u8());
            let rnd = rounding(r.u8())?;
            let eta_q = r.u16();
            let grid_shift = r.u8();
            r.u8();
            let (grid_offset, w_min, w_max) = (r.i16(), r.i16(), r.i16());
            r.u16();
            let params = qtrain_model::UpdateParams {
                fl_w,
                fl_g,
                fl_eta,
                eta_q,
                rounding: rnd,
                grid_shift,
                grid_offset,
                w_min,
                w_max,
                row_state: r.u32(),
                col_state: r.u32(),
            };
            VectorOp::Update(UpdateDescriptor {
                w,
                g,
                rows,
                cols,
                params,
            })
        }
        _ => return Err(StatusCode::UnknownCommand),
    })
}
