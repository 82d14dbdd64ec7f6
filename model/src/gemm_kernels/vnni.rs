//! The AVX-512 VNNI micro-kernel (12 x 32 blocks) and its raw-lane variants.

use super::{APanel, WideChunk};
use std::arch::asm;
use std::arch::x86_64::*;

pub(super) const MR: usize = 12;
pub(super) const NR: usize = 32;

pub(super) fn detected() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vnni")
}

/// The inner loop: for each step, B's two vectors in zmm0/zmm1, each row's 4-byte word
/// broadcast into zmm2/zmm3, and `$insn acc, row, b` into the 24 accumulators zmm8..zmm31
/// (row r, vector v in zmm(8 + 2r + v)). Assembly because, given the intrinsics, LLVM spills
/// some of the 24 accumulators and splits `vpdpwssd` into `vpmaddwd` + `vpaddd`, which halves
/// the throughput.
macro_rules! vnni_loop {
    ($insn:literal, $acc:ident, $bp:expr, $a0:expr, $a4:expr, $a8:expr, $rs:expr, $ts:expr, $steps:expr) => {
        asm!(
            "2:",
            "vmovdqu64 zmm0, [{bp}]",
            "vmovdqu64 zmm1, [{bp} + 64]",
            "vpbroadcastd zmm2, dword ptr [{a0}]",
            concat!($insn, " zmm8, zmm2, zmm0"),
            concat!($insn, " zmm9, zmm2, zmm1"),
            "vpbroadcastd zmm3, dword ptr [{a0} + {rs}]",
            concat!($insn, " zmm10, zmm3, zmm0"),
            concat!($insn, " zmm11, zmm3, zmm1"),
            "vpbroadcastd zmm2, dword ptr [{a0} + 2*{rs}]",
            concat!($insn, " zmm12, zmm2, zmm0"),
            concat!($insn, " zmm13, zmm2, zmm1"),
            "vpbroadcastd zmm3, dword ptr [{a0} + {rs3}]",
            concat!($insn, " zmm14, zmm3, zmm0"),
            concat!($insn, " zmm15, zmm3, zmm1"),
            "vpbroadcastd zmm2, dword ptr [{a4}]",
            concat!($insn, " zmm16, zmm2, zmm0"),
            concat!($insn, " zmm17, zmm2, zmm1"),
            "vpbroadcastd zmm3, dword ptr [{a4} + {rs}]",
            concat!($insn, " zmm18, zmm3, zmm0"),
            concat!($insn, " zmm19, zmm3, zmm1"),
            "vpbroadcastd zmm2, dword ptr [{a4} + 2*{rs}]",
            concat!($insn, " zmm20, zmm2, zmm0"),
            concat!($insn, " zmm21, zmm2, zmm1"),
            "vpbroadcastd zmm3, dword ptr [{a4} + {rs3}]",
            concat!($insn, " zmm22, zmm3, zmm0"),
            concat!($insn, " zmm23, zmm3, zmm1"),
            "vpbroadcastd zmm2, dword ptr [{a8}]",
            concat!($insn, " zmm24, zmm2, zmm0"),
            concat!($insn, " zmm25, zmm2, zmm1"),
            "vpbroadcastd zmm3, dword ptr [{a8} + {rs}]",
            concat!($insn, " zmm26, zmm3, zmm0"),
            concat!($insn, " zmm27, zmm3, zmm1"),
            "vpbroadcastd zmm2, dword ptr [{a8} + 2*{rs}]",
            concat!($insn, " zmm28, zmm2, zmm0"),
            concat!($insn, " zmm29, zmm2, zmm1"),
            "vpbroadcastd zmm3, dword ptr [{a8} + {rs3}]",
            concat!($insn, " zmm30, zmm3, zmm0"),
            concat!($insn, " zmm31, zmm3, zmm1"),
            "add {bp}, 128",
            "add {a0}, {ts}",
            "add {a4}, {ts}",
            "add {a8}, {ts}",
            "dec {n}",
            "jnz 2b",
            bp = inout(reg) $bp => _,
            a0 = inout(reg) $a0 => _,
            a4 = inout(reg) $a4 => _,
            a8 = inout(reg) $a8 => _,
            rs = in(reg) $rs,
            rs3 = in(reg) 3 * $rs,
            ts = in(reg) $ts,
            n = inout(reg) $steps => _,
            out("zmm0") _,
            out("zmm1") _,
            out("zmm2") _,
            out("zmm3") _,
            inout("zmm8") $acc[0],
            inout("zmm9") $acc[1],
            inout("zmm10") $acc[2],
            inout("zmm11") $acc[3],
            inout("zmm12") $acc[4],
            inout("zmm13") $acc[5],
            inout("zmm14") $acc[6],
            inout("zmm15") $acc[7],
            inout("zmm16") $acc[8],
            inout("zmm17") $acc[9],
            inout("zmm18") $acc[10],
            inout("zmm19") $acc[11],
            inout("zmm20") $acc[12],
            inout("zmm21") $acc[13],
            inout("zmm22") $acc[14],
            inout("zmm23") $acc[15],
            inout("zmm24") $acc[16],
            inout("zmm25") $acc[17],
            inout("zmm26") $acc[18],
            inout("zmm27") $acc[19],
            inout("zmm28") $acc[20],
            inout("zmm29") $acc[21],
            inout("zmm30") $acc[22],
            inout("zmm31") $acc[23],
            options(nostack, readonly),
        )
    };
}

/// The 24 lane-sum accumulators over `a.steps` steps: `vpdpbusd` (unsigned bytes of `a`
/// times signed bytes of `b`) when `BYTES`, else `vpdpwssd` (signed words).
///
/// # Safety
/// AVX-512F/BW/VNNI must be available; `a` must pass `APanel::check(MR)` and `b` must point
/// to `a.steps * NR` readable words.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn accumulate<const BYTES: bool>(a: APanel<'_>, b: *const [i16; 2]) -> [__m512i; 2 * MR] {
    let mut acc = [_mm512_setzero_si512(); 2 * MR];
    if a.steps == 0 {
        return acc;
    }
    let word = std::mem::size_of::<[i16; 2]>();
    let rs = a.r_stride * word;
    let ts = a.t_stride * word;
    let a0 = a.pairs.as_ptr();
    // SAFETY: the loop reads, for t < steps, the 2 x 64 bytes of B at t * 128 and the 4-byte
    // words at a0 + t * t_stride + r * r_stride for r < 12 (rows 4 and 8 through a4 and a8):
    // inside the panels by the caller's contract (`APanel::check`, B's length). It writes
    // only the named registers and the flags.
    unsafe {
        let (a4, a8) = (a0.add(4 * a.r_stride), a0.add(8 * a.r_stride));
        if BYTES {
            vnni_loop!("vpdpbusd", acc, b, a0, a4, a8, rs, ts, a.steps);
        } else {
            vnni_loop!("vpdpwssd", acc, b, a0, a4, a8, rs, ts, a.steps);
        }
    }
    acc
}

fn check(a: &APanel<'_>, b: &[[i16; 2]]) {
    a.check(MR);
    assert_eq!(b.len(), a.steps * NR);
    assert!(detected());
}

/// 12 rows x 2 vectors of 16 lanes of signed-word products, widened into `out`.
pub(super) fn kernel(a: APanel<'_>, b: &[[i16; 2]], out: &mut [i64], ldo: usize) {
    check(&a, b);
    assert!(out.len() >= (MR - 1) * ldo + NR);
    // SAFETY: `check` and the assert above establish the CPU features and the bounds relied on.
    unsafe { kernel_widen(a, b.as_ptr(), out.as_mut_ptr(), ldo) }
}

/// # Safety
/// As [`accumulate`]; `out` must be valid for `MR` rows of `NR` elements at stride `ldo`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn kernel_widen(a: APanel<'_>, b: *const [i16; 2], out: *mut i64, ldo: usize) {
    // SAFETY: forwarded caller contract.
    let acc = unsafe { accumulate::<false>(a, b) };
    for (i, &x) in acc.iter().enumerate() {
        let (r, v) = (i / 2, i % 2);
        let halves = [
            _mm512_cvtepi32_epi64(_mm512_castsi512_si256(x)),
            _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(x)),
        ];
        for (h, wide) in halves.into_iter().enumerate() {
            // SAFETY: r < MR and v * 16 + h * 8 + 8 <= NR: inside the caller's block.
            unsafe {
                let p = out.add(r * ldo + v * 16 + h * 8) as *mut __m512i;
                _mm512_storeu_si512(p, _mm512_add_epi64(_mm512_loadu_si512(p), wide));
            }
        }
    }
}

/// One chunk of the full-range path, added into `out` (see `gemm_wide`).
pub(super) fn wide(c: &WideChunk<'_>, out: &mut [i64], ldo: usize) {
    check(&c.a_words, c.b_words);
    check(&c.a_bytes, c.b_bytes);
    assert_eq!(c.column_sums.len(), NR);
    assert!(out.len() >= (MR - 1) * ldo + NR);
    // SAFETY: the checks above establish the CPU features and the bounds relied on.
    unsafe { wide_combine(c, out.as_mut_ptr(), ldo) }
}

/// # Safety
/// As [`accumulate`] for both operand pairs; `out` must be valid for `MR` rows of `NR`
/// elements at stride `ldo`; `column_sums` must hold `NR` values.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn wide_combine(c: &WideChunk<'_>, out: *mut i64, ldo: usize) {
    // SAFETY: forwarded caller contract.
    let (exact_low, t) = unsafe {
        (
            accumulate::<false>(c.a_words, c.b_words.as_ptr()),
            accumulate::<true>(c.a_bytes, c.b_bytes.as_ptr()),
        )
    };
    // SAFETY: column_sums holds NR = 2 x 16 values.
    let col = unsafe {
        let p = c.column_sums.as_ptr() as *const __m512i;
        [_mm512_loadu_si512(p), _mm512_loadu_si512(p.add(1))]
    };
    for i in 0..2 * MR {
        let (r, v) = (i / 2, i % 2);
        // Σ hi(a)·hi(b) = T - 128 · Σ hi(b); small, so exact in 32 bits.
        let est_hi = _mm512_sub_epi32(t[i], _mm512_slli_epi32::<7>(col[v]));
        // wrap_32(S - S') from the wrapped lanes: S' = est_hi · 2^16.
        let diff = _mm512_sub_epi32(exact_low[i], _mm512_slli_epi32::<16>(est_hi));
        let halves = [
            (_mm512_castsi512_si256(est_hi), _mm512_castsi512_si256(diff)),
            (
                _mm512_extracti64x4_epi64::<1>(est_hi),
                _mm512_extracti64x4_epi64::<1>(diff),
            ),
        ];
        for (h, (e, d)) in halves.into_iter().enumerate() {
            let s = _mm512_add_epi64(
                _mm512_slli_epi64::<16>(_mm512_cvtepi32_epi64(e)),
                _mm512_cvtepi32_epi64(d),
            );
            // SAFETY: r < MR and v * 16 + h * 8 + 8 <= NR: inside the caller's block.
            unsafe {
                let p = out.add(r * ldo + v * 16 + h * 8) as *mut __m512i;
                _mm512_storeu_si512(p, _mm512_add_epi64(_mm512_loadu_si512(p), s));
            }
        }
    }
}
