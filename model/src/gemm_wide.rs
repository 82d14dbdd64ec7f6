//! The full-range path of the fast GEMM: exact sums from 32-bit lanes that wrap.
//!
//! With full-range operands not even one pair sum `a0·b0 + a1·b1` is guaranteed to fit an
//! i32, so the direct path cannot bound its lanes. Instead, per chunk of k:
//! - the word kernel adds the products into lanes that simply wrap: it yields the exact sum
//!   `S` modulo 2^32;
//! - the byte kernel computes the estimate `S' = 2^16 · Σ hi(a)·hi(b)` (`hi(x) = x >> 8`),
//!   four products per lane per instruction, whose error is below 2^24 per product, hence
//!   below 2^31 over a chunk of at most 124 products ([`WIDE_CHUNK_PAIRS`] pairs);
//! - then `S = S' + wrap_32(S - S')`, and `wrap_32(S - S') = wrap_32(S mod 2^32 - S')` is
//!   known: the estimate fixes the high bits, the wrapped lanes the low ones.
//!
//! The byte kernel multiplies unsigned by signed bytes, so A's byte is `hi(a) + 128` and the
//! estimate subtracts `128 · Σ hi(b)` (per chunk and column, computed when packing).
//! This costs 1.5 word-kernel passes instead of the 2 of the `b = 256·hi + lo` split.

use crate::gemm_kernels::{APanel, WideChunk, WideKernel};

/// k-pairs per chunk of the wide path.
pub(crate) const WIDE_CHUNK_PAIRS: usize = 62;

/// The largest `|a·b - 2^16·hi(a)·hi(b)|` for 16-bit `a`, `b`: with `x = 256·hi(x) + lo(x)`,
/// `lo` in `[0, 255]`, `hi` in `[-128, 127]`, it is `256·|hi(a)·lo(b) + lo(a)·hi(b)| + lo(a)·lo(b)`.
const MAX_ERROR_PER_PRODUCT: i64 = 256 * (128 * 255 * 2) + 255 * 255;

// The estimate must stay strictly within 2^31 of the exact chunk sum.
const _: () = assert!(2 * WIDE_CHUNK_PAIRS as i64 * MAX_ERROR_PER_PRODUCT < 1 << 31);

/// Buffers of the wide path, kept with the other per-thread scratch.
#[derive(Default)]
pub(crate) struct WideScratch {
    /// A's bytes `hi(a) + 128`, in blocks of `mr` rows by quads of k.
    aq: Vec<[i16; 2]>,
    /// B's bytes `hi(b)`, in panels of `nr` columns by quads of k.
    bq: Vec<[i16; 2]>,
    /// `Σ hi(b)` per chunk and column (row stride `ldo`).
    column_sums: Vec<i32>,
}

impl WideScratch {
    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        4 * (self.aq.capacity() + self.bq.capacity() + self.column_sums.capacity())
    }
}

/// Four bytes in memory order, stored in the kernels' 4-byte element type.
fn quad(b: [u8; 4]) -> [i16; 2] {
    [
        i16::from_ne_bytes([b[0], b[1]]),
        i16::from_ne_bytes([b[2], b[3]]),
    ]
}

fn hi(x: i16) -> i8 {
    (x >> 8) as i8
}

/// Packs `map` of `rows` vectors of length `k` as byte quads: for each block of `mr`
/// vectors, for each quad `q`, `mr` words holding k = 4q..4q+3. Padding is `map(0)`, the
/// byte of a zero operand.
#[allow(clippy::too_many_arguments)]
fn pack_quads(
    out: &mut Vec<[i16; 2]>,
    src: &[i16],
    v_stride: usize,
    k_stride: usize,
    rows: usize,
    k: usize,
    mr: usize,
    map: impl Fn(i16) -> u8,
) {
    let quads = k.div_ceil(4);
    let full_quads = k / 4;
    let blocks = rows.div_ceil(mr);
    let pad = map(0);
    out.clear();
    out.resize(blocks * quads * mr, quad([pad; 4]));
    let word = |x: [i16; 4]| quad([map(x[0]), map(x[1]), map(x[2]), map(x[3])]);
    for blk in 0..blocks {
        let block_rows = mr.min(rows - blk * mr);
        let out_blk = &mut out[blk * quads * mr..][..quads * mr];
        if k_stride == 1 {
            // Each vector is contiguous in k: its quads go to every `mr`-th slot.
            for r in 0..block_rows {
                let vec = &src[(blk * mr + r) * v_stride..][..k];
                let mut chunks = vec.chunks_exact(4);
                for (d, x) in out_blk[r..].iter_mut().step_by(mr).zip(&mut chunks) {
                    *d = word([x[0], x[1], x[2], x[3]]);
                }
                let rest = chunks.remainder();
                if !rest.is_empty() {
                    let mut x = [0i16; 4];
                    x[..rest.len()].copy_from_slice(rest);
                    out_blk[full_quads * mr + r] = word(x);
                }
            }
        } else {
            assert_eq!(v_stride, 1, "one of the strides of a row-major matrix is 1");
            // Consecutive vectors are adjacent: combine four source k-rows at a time.
            let zeros = vec![0i16; block_rows];
            for q in 0..quads {
                let row = |i: usize| -> &[i16] {
                    let kk = 4 * q + i;
                    if kk < k {
                        &src[kk * k_stride + blk * mr..][..block_rows]
                    } else {
                        &zeros
                    }
                };
                let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
                let dst = &mut out_blk[q * mr..][..block_rows];
                for (c, d) in dst.iter_mut().enumerate() {
                    *d = word([r0[c], r1[c], r2[c], r3[c]]);
                }
            }
        }
    }
}

/// Where op(A) and op(B) live: `op(A)[i][kk] = a[i * a_is + kk * a_ks]`,
/// `op(B)[kk][j] = b[kk * b_ks + j * b_js]`.
pub(crate) struct Operands<'a> {
    pub a: &'a [i16],
    pub a_is: usize,
    pub a_ks: usize,
    pub b: &'a [i16],
    pub b_js: usize,
    pub b_ks: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

/// Packs the byte operands and the column sums for blocks of `mr` x `nr`, sums row stride `ldo`.
pub(crate) fn prepare(ws: &mut WideScratch, op: &Operands<'_>, mr: usize, nr: usize, ldo: usize) {
    let Operands {
        a,
        a_is,
        a_ks,
        b,
        b_js,
        b_ks,
        m,
        k,
        n,
    } = *op;
    pack_quads(&mut ws.aq, a, a_is, a_ks, m, k, mr, |x| {
        (i16::from(hi(x)) + 128) as u8
    });
    pack_quads(&mut ws.bq, b, b_js, b_ks, n, k, nr, |x| hi(x) as u8);
    let chunk_k = 2 * WIDE_CHUNK_PAIRS;
    ws.column_sums.clear();
    ws.column_sums.resize(k.div_ceil(chunk_k) * ldo, 0);
    // Read B in storage order whichever way it is transposed.
    if b_js == 1 {
        for kk in 0..k {
            let sums = &mut ws.column_sums[(kk / chunk_k) * ldo..][..n];
            for (s, &x) in sums.iter_mut().zip(&b[kk * b_ks..][..n]) {
                *s += i32::from(hi(x));
            }
        }
    } else {
        for j in 0..n {
            for (chunk, piece) in b[j * b_js..][..k].chunks(chunk_k).enumerate() {
                ws.column_sums[chunk * ldo + j] = piece.iter().map(|&x| i32::from(hi(x))).sum();
            }
        }
    }
}

/// Adds the exact sums (modulo 2^64) of block `blk` (word operand `a`, packed word panels
/// `bp` of `nr` columns) into `sums` (row stride `ldo`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn block_sums(
    wk: &WideKernel,
    ws: &WideScratch,
    a: APanel<'_>,
    bp: &[[i16; 2]],
    blk: usize,
    mr: usize,
    nr: usize,
    sums: &mut [i64],
    ldo: usize,
) {
    let pairs = a.steps;
    let quads = pairs.div_ceil(2);
    for (chunk, t0) in (0..pairs).step_by(WIDE_CHUNK_PAIRS).enumerate() {
        let t1 = (t0 + WIDE_CHUNK_PAIRS).min(pairs);
        // t0 is even, so the chunk's quads are exactly its pairs, two by two.
        let (q0, q1) = (t0 / 2, t1.div_ceil(2));
        let a_words = APanel {
            pairs: &a.pairs[t0 * a.t_stride..],
            steps: t1 - t0,
            ..a
        };
        let a_bytes = APanel {
            pairs: &ws.aq[(blk * quads + q0) * mr..(blk * quads + q1) * mr],
            t_stride: mr,
            r_stride: 1,
            steps: q1 - q0,
        };
        for pnl in 0..ldo / nr {
            let chunk_operands = WideChunk {
                a_words,
                b_words: &bp[(pnl * pairs + t0) * nr..(pnl * pairs + t1) * nr],
                a_bytes,
                b_bytes: &ws.bq[(pnl * quads + q0) * nr..(pnl * quads + q1) * nr],
                column_sums: &ws.column_sums[chunk * ldo + pnl * nr..][..nr],
            };
            (wk.run)(&chunk_operands, &mut sums[pnl * nr..], ldo);
        }
    }
}
