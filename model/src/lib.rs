//! Bit-exact reference model of qtrain's 16-bit fixed-point arithmetic.
//!
//! The arithmetic is specified in `docs/numerics.md`; this crate is that page in code:
//! the number format and host-side quantization ([`quantize`]), the 48-bit accumulator and its
//! conversion ([`convert`]), the LFSR random words ([`Lfsr`], [`seed_states`]) and the GEMM,
//! both as a readable triple loop ([`gemm_scalar`]) and as a fast packed/SIMD kernel ([`gemm`])
//! that produces the same bits for every input.

#![warn(missing_docs)]

mod convert;
mod error;
mod format;
mod gemm;
mod gemm_fast;
mod gemm_kernels;
mod gemm_wide;
mod lfsr;
mod matrix;
mod mismatch;
mod vector;
mod view;

pub use convert::{convert, rounding_addend, wrap48, ACC_BITS, MAX_SHIFT, MIN_SHIFT};
pub use error::ModelError;
pub use format::{check_fl, dequantize, quantize, quantize_f32, sat16, Rounding, MAX_FL};
pub use gemm::{
    gemm_scalar, max_abs_product_sum_bound, may_overflow, validate_gemm, validate_gemm_shapes,
    GemmParams, GemmShape,
};
pub use gemm_fast::{gemm, gemm_into, gemm_with_kernel};
pub use gemm_kernels::GemmKernel;
pub use lfsr::{
    lfsr_step, seed_states, splitmix64, step_matrix, word_matrix, Gf2Matrix32, Lfsr, LFSR_A_MASK,
    LFSR_B_MASK, STEPS_PER_WORD,
};
pub use matrix::Matrix;
pub use mismatch::first_mismatch;
pub use vector::{
    align_bias, bias_add, qrelu, qrelu_mask, relu, relu_mask, update, update_into, UpdateParams,
    MAX_FL_ETA, MAX_GRID_SHIFT, MAX_UPDATE_SHIFT,
};
pub use view::{MatMut, MatRef};
