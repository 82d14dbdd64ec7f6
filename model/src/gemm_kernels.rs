//! The GEMM micro-kernels: exact 32-bit lane sums of 16-bit products, widened into 64 bits.
//!
//! Every kernel computes the same thing: for an `mr x nr` block of C and one chunk of
//! k-pairs, `out[r][c] += Σ_t a[t][r]·b[t][c]` where each `a[t][r]` and `b[t][c]` is a pair
//! of 16-bit values and `·` is the 2-term dot product. The caller bounds the chunk so that
//! every 32-bit lane sum is exact (see `gemm_fast`); the kernels may then wrap freely.
//!
//! Layout (produced by `gemm_fast::pack_into`): `a` gives row `r`'s pair
//! `(a[i][2t], a[i][2t+1])` through an [`APanel`] (packed, or op(A) itself when its rows are
//! contiguous), broadcast by the kernel; `b` holds `nr` pairs per k-pair (column `c`'s
//! `(b[2t][j], b[2t+1][j])`, the lanes of the vectors).

/// `run(a, b, out, ldo)` of a [`Kernel`].
pub(crate) type KernelFn = fn(a: APanel<'_>, b: &[[i16; 2]], out: &mut [i64], ldo: usize);

/// The A operand of one kernel call: the pair of row `r` at k-pair `t` is
/// `pairs[t * t_stride + r * r_stride]`, for `t < steps` and `r < mr`.
#[derive(Clone, Copy)]
pub(crate) struct APanel<'a> {
    /// The backing pairs (packed, or op(A) itself when its rows are contiguous in K).
    pub pairs: &'a [[i16; 2]],
    /// Distance between consecutive k-pairs of one row.
    pub t_stride: usize,
    /// Distance between consecutive rows at one k-pair.
    pub r_stride: usize,
    /// Number of k-pairs.
    pub steps: usize,
}

impl APanel<'_> {
    /// Checks that every element the kernel reads is inside `pairs`.
    fn check(&self, mr: usize) {
        if self.steps > 0 {
            let last = (self.steps - 1) * self.t_stride + (mr - 1) * self.r_stride;
            assert!(last < self.pairs.len(), "A panel out of bounds");
        }
    }
}

/// One micro-kernel: the function and the block shape its packing must use.
#[derive(Clone, Copy)]
pub(crate) struct Kernel {
    /// Rows of C per block.
    pub mr: usize,
    /// Columns of C per block.
    pub nr: usize,
    /// `run(a, b, out, ldo)`: accumulates the block over `a.steps` k-pairs into `out`
    /// (row stride `ldo`); `b` holds `a.steps * nr` pairs.
    pub run: KernelFn,
    /// The raw-lane kernels of the full-range path, when this kernel has them.
    pub wide: Option<WideKernel>,
}

/// The operands of one chunk of the full-range path (see `gemm_wide`) for one block.
pub(crate) struct WideChunk<'a> {
    /// A's word pairs (as for [`Kernel::run`]).
    pub a_words: APanel<'a>,
    /// B's word pairs, `a_words.steps * nr`.
    pub b_words: &'a [[i16; 2]],
    /// A's bytes `hi(a) + 128` (unsigned), four k per element, in memory order.
    pub a_bytes: APanel<'a>,
    /// B's bytes `hi(b)` (signed), four k per element, `a_bytes.steps * nr`.
    pub b_bytes: &'a [[i16; 2]],
    /// `Σ hi(b)` over the chunk, per column of the block.
    pub column_sums: &'a [i32],
}

/// Kernel of the full-range path: `run(chunk, out, ldo)` adds the exact sums of one chunk
/// (from wrapping word lanes and the byte estimate, see `gemm_wide`) into `out`.
#[derive(Clone, Copy)]
pub(crate) struct WideKernel {
    /// The function.
    pub run: fn(chunk: &WideChunk<'_>, out: &mut [i64], ldo: usize),
}

/// Which micro-kernel [`crate::gemm_with_kernel`] uses. All give the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GemmKernel {
    /// Plain Rust loops (auto-vectorized by LLVM); runs everywhere.
    Portable,
    /// x86-64 AVX2: `vpmaddwd` + `vpaddd`, 6 x 16 blocks.
    Avx2,
    /// x86-64 AVX-512 VNNI: `vpdpwssd` on 512-bit vectors, 12 x 32 blocks.
    Avx512Vnni,
}

impl GemmKernel {
    /// All kernels, slowest first.
    pub const ALL: [GemmKernel; 3] = [
        GemmKernel::Portable,
        GemmKernel::Avx2,
        GemmKernel::Avx512Vnni,
    ];

    /// Whether this CPU (and this build) can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            GemmKernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            GemmKernel::Avx2 => std::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            GemmKernel::Avx512Vnni => vnni::detected(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The fastest kernel available here.
    pub fn best() -> GemmKernel {
        GemmKernel::ALL
            .into_iter()
            .rev()
            .find(|k| k.is_available())
            .unwrap_or(GemmKernel::Portable)
    }

    /// The kernel's function and block shape; `None` when not available.
    pub(crate) fn kernel(self) -> Option<Kernel> {
        if !self.is_available() {
            return None;
        }
        match self {
            GemmKernel::Portable => Some(Kernel {
                mr: PORTABLE_MR,
                nr: PORTABLE_NR,
                run: kernel_portable,
                wide: None,
            }),
            #[cfg(target_arch = "x86_64")]
            GemmKernel::Avx2 => Some(Kernel {
                mr: avx2::MR,
                nr: avx2::NR,
                run: avx2::kernel,
                wide: None,
            }),
            #[cfg(target_arch = "x86_64")]
            GemmKernel::Avx512Vnni => Some(Kernel {
                mr: vnni::MR,
                nr: vnni::NR,
                run: vnni::kernel,
                wide: Some(WideKernel { run: vnni::wide }),
            }),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

const PORTABLE_MR: usize = 6;
const PORTABLE_NR: usize = 16;

/// The portable kernel, written as fixed-size loops over i32 lanes so that LLVM can
/// vectorize the column loop.
fn kernel_portable(a: APanel<'_>, b: &[[i16; 2]], out: &mut [i64], ldo: usize) {
    a.check(PORTABLE_MR);
    assert_eq!(b.len(), a.steps * PORTABLE_NR);
    let mut acc = [[0i32; PORTABLE_NR]; PORTABLE_MR];
    for (t, bp) in b.chunks_exact(PORTABLE_NR).enumerate() {
        let row_pairs = &a.pairs[t * a.t_stride..];
        for (r, row) in acc.iter_mut().enumerate() {
            // The row's pair repeated in every lane: both operands are then interleaved
            // (even, odd) i16 vectors, the multiply-add-pairs pattern LLVM maps to
            // `pmaddwd` (x86) or widening multiplies (NEON).
            let splat = [row_pairs[r * a.r_stride]; PORTABLE_NR];
            for ((lane, &[a0, a1]), &[b0, b1]) in row.iter_mut().zip(&splat).zip(bp) {
                // Wrapping: the chunk bound keeps the true sum in range; wrapping only
                // spares the overflow checks of debug builds.
                let pair =
                    (i32::from(a0) * i32::from(b0)).wrapping_add(i32::from(a1) * i32::from(b1));
                *lane = lane.wrapping_add(pair);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (o, &v) in out[r * ldo..r * ldo + PORTABLE_NR].iter_mut().zip(row) {
            *o = o.wrapping_add(i64::from(v));
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::APanel;
    use std::arch::x86_64::*;

    pub(super) const MR: usize = 6;
    pub(super) const NR: usize = 16;

    /// 6 rows x 2 vectors of 8 lanes: 12 accumulators, 2 B vectors and 1 broadcast fit the
    /// 16 ymm registers.
    pub(super) fn kernel(a: APanel<'_>, b: &[[i16; 2]], out: &mut [i64], ldo: usize) {
        a.check(MR);
        assert_eq!(b.len(), a.steps * NR);
        assert!(out.len() >= (MR - 1) * ldo + NR);
        // The detection result is cached, so checking per call costs one load.
        assert!(std::is_x86_feature_detected!("avx2"));
        // SAFETY: the asserts above establish AVX2 and the bounds `kernel_avx2` relies on.
        unsafe { kernel_avx2(a, b.as_ptr(), out.as_mut_ptr(), ldo) }
    }

    /// # Safety
    /// AVX2 must be available; `a` must pass `APanel::check(MR)`, `b` must hold
    /// `a.steps * NR` pairs, and `out` must be valid for `MR` rows of `NR` elements at stride `ldo`.
    #[target_feature(enable = "avx2")]
    unsafe fn kernel_avx2(a: APanel<'_>, b: *const [i16; 2], out: *mut i64, ldo: usize) {
        let mut acc = [[_mm256_setzero_si256(); 2]; MR];
        let a_base = a.pairs.as_ptr() as *const i32;
        for t in 0..a.steps {
            // SAFETY: t < steps keeps these reads inside the panels (caller contract);
            // the loads are unaligned ones.
            let (b0, b1, ap) = unsafe {
                let bp = b.add(t * NR) as *const __m256i;
                (
                    _mm256_loadu_si256(bp),
                    _mm256_loadu_si256(bp.add(1)),
                    a_base.add(t * a.t_stride),
                )
            };
            for (r, row) in acc.iter_mut().enumerate() {
                // SAFETY: t < steps and r < MR: inside the panel (checked by the caller);
                // read_unaligned because an [i16; 2] is only 2-byte aligned.
                let av = _mm256_set1_epi32(unsafe { ap.add(r * a.r_stride).read_unaligned() });
                row[0] = _mm256_add_epi32(row[0], _mm256_madd_epi16(av, b0));
                row[1] = _mm256_add_epi32(row[1], _mm256_madd_epi16(av, b1));
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (v, &x) in row.iter().enumerate() {
                let halves = [
                    _mm256_cvtepi32_epi64(_mm256_castsi256_si128(x)),
                    _mm256_cvtepi32_epi64(_mm256_extracti128_si256::<1>(x)),
                ];
                for (h, wide) in halves.into_iter().enumerate() {
                    // SAFETY: r < MR and v * 8 + h * 4 + 4 <= NR: inside the caller's block.
                    unsafe {
                        let p = out.add(r * ldo + v * 8 + h * 4) as *mut __m256i;
                        _mm256_storeu_si256(p, _mm256_add_epi64(_mm256_loadu_si256(p), wide));
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_is_always_available_and_best_is_available() {
        assert!(GemmKernel::Portable.is_available());
        assert!(GemmKernel::best().is_available());
        for k in GemmKernel::ALL {
            assert_eq!(k.kernel().is_some(), k.is_available());
        }
    }

    #[test]
    fn panel_check_rejects_out_of_bounds_reads() {
        let pairs = [[0i16; 2]; 24];
        let ok = APanel {
            pairs: &pairs,
            t_stride: 6,
            r_stride: 1,
            steps: 4,
        };
        ok.check(6);
        let too_far = APanel { steps: 5, ..ok };
        assert!(std::panic::catch_unwind(|| too_far.check(6)).is_err());
        let rows_too_far = APanel {
            t_stride: 1,
            r_stride: 5,
            steps: 1,
            ..ok
        };
        assert!(std::panic::catch_unwind(|| rows_too_far.check(6)).is_err());
    }

    /// One kernel call by hand: 6 rows x 16 columns, 2 k-pairs, against the plain formula.
    #[test]
    fn portable_kernel_computes_the_block() {
        let a: Vec<[i16; 2]> = (0..12).map(|i| [i as i16 - 5, 3 * i as i16]).collect();
        let b: Vec<[i16; 2]> = (0..32).map(|i| [7 - i as i16, i as i16 * 11]).collect();
        let mut out = vec![1i64; 6 * 20];
        let panel = APanel {
            pairs: &a,
            t_stride: 6,
            r_stride: 1,
            steps: 2,
        };
        kernel_portable(panel, &b, &mut out, 20);
        for r in 0..6 {
            for c in 0..16 {
                let want: i64 = (0..2)
                    .map(|t| {
                        let [a0, a1] = a[t * 6 + r];
                        let [b0, b1] = b[t * 16 + c];
                        i64::from(a0) * i64::from(b0) + i64::from(a1) * i64::from(b1)
                    })
                    .sum();
                assert_eq!(out[r * 20 + c], 1 + want, "({r}, {c})");
            }
            assert!(out[r * 20 + 16..r * 20 + 20].iter().all(|&x| x == 1));
        }
    }
}
