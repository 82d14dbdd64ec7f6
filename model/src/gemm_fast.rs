//! The fast GEMM: the same bits as [`crate::gemm_scalar`], computed with 16-bit SIMD.
//!
//! Why it is exact: the result only depends on the sum of the products modulo 2^48
//! (numerics §3), so any order and any grouping may be used as long as every partial sum
//! is exact. The kernel multiplies pairs of 16-bit values and adds the pair sums into 32-bit
//! lanes (AVX-512 VNNI `vpdpwssd`, AVX2 `vpmaddwd` + `vpaddd`, or a portable loop). A lane
//! holds at most `chunk` pair sums, each bounded by `2·max|a|·max|b|`; the chunk length is
//! chosen so that this bound stays below 2^31, so every lane is exact, and each chunk is then
//! widened into 64-bit sums. When the operands are so large that not even a few pairs fit
//! (full 16-bit range), the AVX-512 VNNI kernel switches to `gemm_wide` (wrapping lanes plus
//! a byte-product estimate of the high bits); the other kernels split op(B) exactly as
//! `b = 256·hi + lo` with `lo, hi` in `[-128, 128]`, multiply the halves as separate columns,
//! and form `256·S_hi + S_lo` (modulo 2^64, which is enough for modulo 2^48).
//!
//! Layout (the usual outer-product micro-kernel, see `gemm_kernels`): op(B) is packed in
//! panels of `nr` columns by k-pairs; op(A) is read in place when it is A itself with an even
//! K (a row's consecutive i16 pairs are what the kernel broadcasts), and packed in blocks of
//! `mr` rows otherwise. For each block of rows, the kernel fills `mr` rows of 64-bit sums
//! chunk by chunk (they stay in L1), and the epilogue converts them while they are hot.
//! The packing buffers are kept per thread between calls (see `Scratch`).

use crate::convert::wrap48;
use crate::error::ModelError;
use crate::format::Rounding;
use crate::gemm::{validate_gemm, validate_gemm_shapes, GemmParams, GemmShape};
use crate::gemm_kernels::{APanel, GemmKernel, Kernel};
use crate::gemm_wide::{self, Operands, WideScratch, WIDE_CHUNK_PAIRS};
use crate::matrix::Matrix;
use crate::view::{MatMut, MatRef};

/// Longest chunk of k-pairs between two widenings, for cache reuse of the packed B panel.
const MAX_CHUNK_PAIRS: usize = 128;
/// Below this many k-pairs per chunk, splitting op(B) is cheaper than widening so often.
const MIN_DIRECT_CHUNK_PAIRS: usize = 16;

/// The longest chunk (in k-pairs) whose 32-bit lane sums are exact for these maxima.
fn chunk_pairs(max_a: u32, max_b: u32) -> usize {
    let pair_bound = 2 * u64::from(max_a) * u64::from(max_b);
    if pair_bound == 0 {
        return MAX_CHUNK_PAIRS;
    }
    // A lane holds `chunk` pair sums; the wrapped i32 is exact while their bound is <= i32::MAX.
    ((i32::MAX as u64 / pair_bound) as usize).min(MAX_CHUNK_PAIRS)
}

/// Exact split `b = 256·hi + lo`, `lo = b mod 256` taken in `[-128, 127]`, so `hi` is in `[-128, 128]`.
#[inline]
fn split_hi_lo(b: i16) -> (i16, i16) {
    let lo = i16::from(b as i8);
    let hi = ((i32::from(b) - i32::from(lo)) >> 8) as i16;
    (hi, lo)
}

/// Appends to `out` the packing of `rows` vectors of length `k` (rows of op(A), or columns of
/// op(B)) for the kernel: for each block of `mr` vectors, for each k-pair `t`, `mr` pairs
/// `(x[v][2t], x[v][2t+1])`. Element `(v, kk)` is `map(src[v * v_stride + kk * k_stride])`;
/// vectors past `rows` and depth past `k` are zero.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pack_into(
    out: &mut Vec<[i16; 2]>,
    src: &[i16],
    v_stride: usize,
    k_stride: usize,
    rows: usize,
    k: usize,
    mr: usize,
    map: impl Fn(i16) -> i16,
) {
    let pairs = k.div_ceil(2);
    let blocks = rows.div_ceil(mr);
    let start = out.len();
    out.resize(start + blocks * pairs * mr, [0; 2]);
    let out = &mut out[start..];
    let full_pairs = k / 2;
    // Row-major storage makes one of the two strides 1; each case reads its source in order.
    if k_stride == 1 {
        // Each vector is contiguous in k: walk the block's `mr` vectors side by side so that
        // the output is written in order.
        for blk in 0..blocks {
            let out_blk = &mut out[blk * pairs * mr..][..pairs * mr];
            let block_rows = mr.min(rows - blk * mr);
            let vecs: Vec<&[i16]> = (0..block_rows)
                .map(|r| &src[(blk * mr + r) * v_stride..][..k])
                .collect();
            for (t, dst) in out_blk.chunks_exact_mut(mr).enumerate().take(full_pairs) {
                for (d, vec) in dst.iter_mut().zip(&vecs) {
                    let pair = &vec[2 * t..2 * t + 2];
                    *d = [map(pair[0]), map(pair[1])];
                }
            }
            if full_pairs < pairs {
                // Odd K: the last pair's second element is padding.
                for (d, vec) in out_blk[full_pairs * mr..].iter_mut().zip(&vecs) {
                    *d = [map(vec[k - 1]), 0];
                }
            }
        }
    } else {
        assert_eq!(v_stride, 1, "one of the strides of a row-major matrix is 1");
        // Consecutive vectors are adjacent: interleave two source k-rows at a time.
        for t in 0..pairs {
            let k0 = 2 * t * k_stride;
            for blk in 0..blocks {
                let block_rows = mr.min(rows - blk * mr);
                let dst = &mut out[(blk * pairs + t) * mr..][..block_rows];
                let row0 = &src[k0 + blk * mr..][..block_rows];
                if t < full_pairs {
                    let row1 = &src[k0 + k_stride + blk * mr..][..block_rows];
                    for ((d, &x), &y) in dst.iter_mut().zip(row0).zip(row1) {
                        *d = [map(x), map(y)];
                    }
                } else {
                    for (d, &x) in dst.iter_mut().zip(row0) {
                        *d = [map(x), 0];
                    }
                }
            }
        }
    }
}

/// Buffers reused from one GEMM to the next on a thread: fresh multi-megabyte allocations
/// cost page faults that are a sizeable part of a 256^3 GEMM. Dropped after a GEMM that
/// made them larger than [`SCRATCH_KEEP_BYTES`].
#[derive(Default)]
struct Scratch {
    a: Vec<[i16; 2]>,
    b: Vec<[i16; 2]>,
    sums: Vec<i64>,
    acc: Vec<i64>,
    wide: WideScratch,
}

/// Largest scratch kept alive on a thread between GEMMs.
const SCRATCH_KEEP_BYTES: usize = 32 << 20;

impl Scratch {
    fn bytes(&self) -> usize {
        4 * (self.a.capacity() + self.b.capacity())
            + 8 * (self.sums.capacity() + self.acc.capacity())
            + self.wide.bytes()
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// `C = op(A)·op(B) (+ C_in)`: bit-identical to [`crate::gemm_scalar`] for every input
/// (numerics §6), using the fastest packed 16-bit SIMD kernel this CPU has
/// ([`GemmKernel::best`]). Single-threaded.
pub fn gemm(
    a: &Matrix,
    trans_a: bool,
    b: &Matrix,
    trans_b: bool,
    c_in: Option<&Matrix>,
    p: &GemmParams,
) -> Result<Matrix, ModelError> {
    gemm_with_kernel(GemmKernel::best(), a, trans_a, b, trans_b, c_in, p)
}

/// [`gemm`] with a chosen micro-kernel (to test and compare them); errors with
/// [`ModelError::KernelUnavailable`] if this CPU cannot run it.
pub fn gemm_with_kernel(
    kernel: GemmKernel,
    a: &Matrix,
    trans_a: bool,
    b: &Matrix,
    trans_b: bool,
    c_in: Option<&Matrix>,
    p: &GemmParams,
) -> Result<Matrix, ModelError> {
    let GemmShape { m, n, .. } = validate_gemm(a, trans_a, b, trans_b, c_in, p)?;
    let kern = kernel
        .kernel()
        .ok_or(ModelError::KernelUnavailable(format!("{kernel:?}")))?;
    let mut c = match c_in {
        Some(c_in) => c_in.clone(),
        None => Matrix::zeros(m, n),
    };
    let (a, b) = (a.view(), b.view());
    run_packed(
        &kern,
        a,
        trans_a,
        b,
        trans_b,
        c.view_mut(),
        c_in.is_some(),
        p,
    );
    Ok(c)
}

/// `C = op(A)·op(B)`, or `C += op(A)·op(B)` with `accumulate` (C's words are then the
/// accumulated `C_in`), on strided views, writing C in place: [`gemm`]'s bits without copying
/// the operands out of (or the result into) the memory they live in.
pub fn gemm_into(
    a: MatRef<'_>,
    trans_a: bool,
    b: MatRef<'_>,
    trans_b: bool,
    c: MatMut<'_>,
    accumulate: bool,
    p: &GemmParams,
) -> Result<(), ModelError> {
    let GemmShape { m, n, .. } = validate_gemm_shapes(
        a.op_shape(trans_a),
        b.op_shape(trans_b),
        accumulate.then_some((c.rows, c.cols)),
        p,
    )?;
    if (c.rows, c.cols) != (m, n) {
        return Err(ModelError::AccumulatorShapeMismatch {
            c_rows: c.rows,
            c_cols: c.cols,
            m,
            n,
        });
    }
    let kernel = GemmKernel::best();
    let kern = kernel
        .kernel()
        .ok_or(ModelError::KernelUnavailable(format!("{kernel:?}")))?;
    run_packed(&kern, a, trans_a, b, trans_b, c, accumulate, p);
    Ok(())
}

/// [`gemm_packed`] with this thread's scratch buffers.
#[allow(clippy::too_many_arguments)]
fn run_packed(
    kern: &Kernel,
    a: MatRef<'_>,
    trans_a: bool,
    b: MatRef<'_>,
    trans_b: bool,
    c: MatMut<'_>,
    accumulate: bool,
    p: &GemmParams,
) {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        gemm_packed(kern, a, trans_a, b, trans_b, c, accumulate, p, &mut scratch);
        if scratch.bytes() > SCRATCH_KEEP_BYTES {
            *scratch = Scratch::default();
        }
    });
}

/// The body of [`gemm_with_kernel`] after validation, writing into `c` (M x N), which holds
/// `C_in` when accumulating.
#[allow(clippy::too_many_arguments)]
fn gemm_packed(
    kern: &Kernel,
    a: MatRef<'_>,
    trans_a: bool,
    b: MatRef<'_>,
    trans_b: bool,
    mut c: MatMut<'_>,
    accumulate: bool,
    p: &GemmParams,
    scratch: &mut Scratch,
) {
    let (m, n) = (c.rows, c.cols);
    let k = a.op_shape(trans_a).1;
    let (mr, nr) = (kern.mr, kern.nr);
    let (max_a, max_b) = (a.max_abs(), b.max_abs());
    // op(A)[i][kk] and op(B)[kk][j] as strides into the row-major storage.
    let (a_is, a_ks) = if trans_a {
        (1, a.stride)
    } else {
        (a.stride, 1)
    };
    let (b_js, b_ks) = if trans_b {
        (b.stride, 1)
    } else {
        (1, b.stride)
    };
    let Scratch {
        a: ap,
        b: bp,
        sums,
        acc,
        wide: wide_scratch,
    } = scratch;
    ap.clear();
    bp.clear();
    // When op(A) = A and K and the row stride are even, the kernel reads A's rows in place
    // (two i16 = one pair); only a last partial block of rows, which needs padding, is packed.
    let pairs = k.div_ceil(2);
    let direct_blocks = if !trans_a && k & 1 == 0 && a.stride & 1 == 0 {
        m / mr
    } else {
        0
    };
    let direct_words = match direct_blocks {
        0 => 0,
        blocks => (blocks * mr - 1) * a.stride + k,
    };
    let a_direct = as_pairs(&a.data[..direct_words]);
    let a_row_pairs = a.stride / 2;
    let packed_from = direct_blocks * mr;
    pack_into(
        ap,
        &a.data[packed_from * a_is..],
        a_is,
        a_ks,
        m - packed_from,
        k,
        mr,
        |x| x,
    );
    let direct_chunk = chunk_pairs(max_a, max_b);
    let too_wide = direct_chunk < MIN_DIRECT_CHUNK_PAIRS;
    // Too wide for the direct path: the wide path when the kernel has it, else the split.
    let wide = if too_wide { kern.wide } else { None };
    let split = too_wide && wide.is_none();
    // In split mode the `hi` halves are virtual columns 0..n and the `lo` halves start at
    // `lo_offset`, the next panel boundary; |hi|, |lo| <= 128.
    let lo_offset = n.div_ceil(nr) * nr;
    let (nv, chunk) = if wide.is_some() {
        pack_into(bp, b.data, b_js, b_ks, n, k, nr, |x| x);
        (n, WIDE_CHUNK_PAIRS)
    } else if split {
        pack_into(bp, b.data, b_js, b_ks, n, k, nr, |x| split_hi_lo(x).0);
        pack_into(bp, b.data, b_js, b_ks, n, k, nr, |x| split_hi_lo(x).1);
        (2 * lo_offset, chunk_pairs(max_a, 128))
    } else {
        pack_into(bp, b.data, b_js, b_ks, n, k, nr, |x| x);
        (n, direct_chunk)
    };

    let s = p.shift();
    let (row_words, col_words) = p.random_words(m, n);
    let ldo = nv.div_ceil(nr) * nr;
    if wide.is_some() {
        let operands = Operands {
            a: a.data,
            a_is,
            a_ks,
            b: b.data,
            b_js,
            b_ks,
            m,
            k,
            n,
        };
        gemm_wide::prepare(wide_scratch, &operands, mr, nr, ldo);
    }
    sums.clear();
    sums.resize(mr * ldo, 0);
    acc.clear();
    acc.resize(n, 0);
    let convert_row = select_convert_row();
    for blk in 0..m.div_ceil(mr) {
        sums.fill(0);
        let a_panel = if blk < direct_blocks {
            APanel {
                pairs: &a_direct[blk * mr * a_row_pairs..],
                t_stride: 1,
                r_stride: a_row_pairs,
                steps: pairs,
            }
        } else {
            APanel {
                pairs: &ap[(blk - direct_blocks) * pairs * mr..][..pairs * mr],
                t_stride: mr,
                r_stride: 1,
                steps: pairs,
            }
        };
        match &wide {
            Some(wk) => {
                gemm_wide::block_sums(wk, wide_scratch, a_panel, bp, blk, mr, nr, sums, ldo)
            }
            None => block_sums(kern, a_panel, bp, chunk, sums, ldo),
        }
        for r in 0..mr.min(m - blk * mr) {
            let i = blk * mr + r;
            let out = c.row_mut(i);
            let srow = &sums[r * ldo..];
            if split {
                for ((x, &hi), &lo) in acc.iter_mut().zip(srow).zip(&srow[lo_offset..]) {
                    *x = hi.wrapping_mul(256).wrapping_add(lo);
                }
            } else {
                acc.copy_from_slice(&srow[..n]);
            }
            if accumulate {
                // Validation guarantees s >= 0 when accumulating; C_in is read before the
                // row is overwritten.
                for (x, &y) in acc.iter_mut().zip(out.iter()) {
                    *x = x.wrapping_add(i64::from(y) << s);
                }
            }
            convert_row(acc, s, p.rounding, row_words[i], &col_words, out);
        }
    }
}

/// The exact 64-bit sums (modulo 2^64) of one block of `mr` rows against every panel of `bp`,
/// added into `sums` (row stride `ldo`), `chunk` k-pairs per kernel call.
fn block_sums(
    kern: &Kernel,
    a: APanel<'_>,
    bp: &[[i16; 2]],
    chunk: usize,
    sums: &mut [i64],
    ldo: usize,
) {
    let (pairs, nr) = (a.steps, kern.nr);
    for t0 in (0..pairs).step_by(chunk) {
        let t1 = (t0 + chunk).min(pairs);
        let a_chunk = APanel {
            pairs: &a.pairs[t0 * a.t_stride..],
            steps: t1 - t0,
            ..a
        };
        for pnl in 0..ldo / nr {
            let b = &bp[(pnl * pairs + t0) * nr..(pnl * pairs + t1) * nr];
            (kern.run)(a_chunk, b, &mut sums[pnl * nr..], ldo);
        }
    }
}

/// `x` read as consecutive pairs (a trailing odd element is left out).
fn as_pairs(x: &[i16]) -> &[[i16; 2]] {
    // SAFETY: [i16; 2] has the size of two i16 and the alignment of one, so the first
    // len / 2 pairs of `x` are valid, initialized [i16; 2] values within its allocation,
    // borrowed for the same lifetime.
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<[i16; 2]>(), x.len() / 2) }
}

/// `sat16` as plain min/max, so that it vectorizes. (Scalar `clamp` compiles to branches
/// here, and saturation is data-dependent enough to defeat the branch predictor.)
#[inline(always)]
fn sat16_i64(q: i64) -> i16 {
    q.max(i64::from(i16::MIN)).min(i64::from(i16::MAX)) as i16
}

/// Signature of [`convert_row`] and its CPU-specific instantiations.
type ConvertRow = fn(&[i64], i32, Rounding, u16, &[u16], &mut [i16]);

/// The fastest [`convert_row`] instantiation this CPU runs.
fn select_convert_row() -> ConvertRow {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        return |acc, s, rounding, ra, cb, out| {
            #[target_feature(enable = "avx512f")]
            unsafe fn run(acc: &[i64], s: i32, rd: Rounding, ra: u16, cb: &[u16], out: &mut [i16]) {
                convert_row(acc, s, rd, ra, cb, out)
            }
            // SAFETY: selected only after detecting AVX-512F; `run` has no other precondition.
            unsafe { run(acc, s, rounding, ra, cb, out) }
        };
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        return |acc, s, rounding, ra, cb, out| {
            #[target_feature(enable = "avx2")]
            unsafe fn run(acc: &[i64], s: i32, rd: Rounding, ra: u16, cb: &[u16], out: &mut [i16]) {
                convert_row(acc, s, rd, ra, cb, out)
            }
            // SAFETY: selected only after detecting AVX2; `run` has no other precondition.
            unsafe { run(acc, s, rounding, ra, cb, out) }
        };
    }
    convert_row
}

/// Converts one row of (unwrapped) accumulators: [`crate::convert`] with the rounding mode
/// and shift hoisted out of the loop so that each case is a tight, vectorizable loop.
/// `ra` is the row's word, `cb` the column words.
#[inline(always)]
fn convert_row(acc: &[i64], s: i32, rounding: Rounding, ra: u16, cb: &[u16], out: &mut [i16]) {
    #[inline(always)]
    fn emit(acc: &[i64], cb: &[u16], out: &mut [i16], q: impl Fn(u16, i64) -> i64) {
        for ((o, &x), &c) in out.iter_mut().zip(acc).zip(cb) {
            *o = sat16_i64(q(c, wrap48(x)));
        }
    }
    if s <= 0 {
        // |acc| < 2^47 and -s <= 15: the left shift cannot overflow an i64.
        return emit(acc, cb, out, |_, x| x << -s);
    }
    match rounding {
        Rounding::Truncate => emit(acc, cb, out, |_, x| x >> s),
        Rounding::Nearest => emit(acc, cb, out, |_, x| (x + (1 << (s - 1))) >> s),
        Rounding::Stochastic if s <= 16 => emit(acc, cb, out, |c, x| {
            (x + i64::from((ra ^ c) >> (16 - s))) >> s
        }),
        Rounding::Stochastic => emit(acc, cb, out, |c, x| {
            (x + (i64::from(ra ^ c) << (s - 16))) >> s
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_exact_and_small() {
        for b in i16::MIN..=i16::MAX {
            let (hi, lo) = split_hi_lo(b);
            assert_eq!(i32::from(hi) * 256 + i32::from(lo), i32::from(b));
            assert!(
                (-128..=128).contains(&hi) && (-128..=127).contains(&lo),
                "{b}"
            );
        }
    }

    #[test]
    fn chunk_bound_holds_at_the_extremes() {
        for (ma, mb) in [
            (32768, 32768),
            (32768, 128),
            (4095, 4095),
            (1, 1),
            (0, 5),
            (3, 32768),
        ] {
            let c = chunk_pairs(ma, mb) as u64;
            let pair = 2 * u64::from(ma) * u64::from(mb);
            assert!(c * pair <= i32::MAX as u64, "{ma} {mb}");
            assert!(c == MAX_CHUNK_PAIRS as u64 || (c + 1) * pair > i32::MAX as u64);
        }
        // Full range admits not even one pair: -32768 · -32768 · 2 = 2^31.
        assert_eq!(chunk_pairs(32768, 32768), 0);
    }
}
