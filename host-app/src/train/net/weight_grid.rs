//! Weight grids of the quantized-weight methods (Li et al., NIPS 2017): binary weights
//! `{-Δ, +Δ}` and k-bit uniform weights `{-2^(k-1)·Δ, ..., (2^(k-1) - 1)·Δ}`, both as the
//! device's UPDATE grid (numerics §7.4: `{o + k·2^g}` clamped to `[w_min, w_max]`, in raw
//! words of the weight format) and as the same quantizer on host floats.

use anyhow::{ensure, Context};

/// An UPDATE result grid in raw words: `{grid_offset + k·2^grid_shift}` clamped to
/// `[w_min, w_max]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightGrid {
    /// `g`: the grid step is `2^g` raw words.
    pub grid_shift: u8,
    /// `o`, a raw word on the grid.
    pub grid_offset: i16,
    /// Lower clamp.
    pub w_min: i16,
    /// Upper clamp.
    pub w_max: i16,
}

/// The quantized-weight grid of a method: `bits` (1 = binary) and the step
/// `Δ = 2^delta_log2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GridSpec {
    /// Weight bits: 1 is binary `{-Δ, +Δ}`, k >= 2 the two's-complement k-bit grid.
    pub bits: u8,
    /// `log2 Δ`.
    pub delta_log2: i8,
}

impl GridSpec {
    /// The default step: `Δ = 2^-4` for binary weights (the size of a He-normal weight of a
    /// 784-wide layer, σ = 0.05) and `2^-(k + 2)` for k bits, whose grid then spans
    /// `±2^-3`, about 2.5 σ.
    pub fn default_delta_log2(bits: u8) -> i8 {
        if bits <= 1 {
            -4
        } else {
            -(bits.min(64) as i8) - 2
        }
    }

    /// Δ as a float.
    pub fn delta(&self) -> f64 {
        f64::from(self.delta_log2).exp2()
    }

    /// The smallest and largest grid values, in units of Δ.
    pub fn level_range(&self) -> (f64, f64) {
        if self.bits <= 1 {
            (-1.0, 1.0)
        } else {
            let h = f64::from(self.bits - 1).exp2();
            (-h, h - 1.0)
        }
    }

    /// The grid point nearest to `x` (ties up; binary: `Δ·sign(x)` with sign(0) = +1).
    pub fn quantize(&self, x: f32) -> f32 {
        let d = self.delta();
        let x = f64::from(x);
        let level = if self.bits <= 1 {
            if x >= 0.0 {
                1.0
            } else {
                -1.0
            }
        } else {
            let (lo, hi) = self.level_range();
            (x / d + 0.5).floor().clamp(lo, hi)
        };
        (level * d) as f32
    }

    /// `x` clamped to the grid's span (BinaryConnect's clip of the float weights).
    pub fn clip(&self, x: f32) -> f32 {
        let (lo, hi) = self.level_range();
        let d = self.delta();
        f64::from(x).clamp(lo * d, hi * d) as f32
    }

    /// The device grid for weights stored at `fl_w` fraction bits; fails when Δ is not a
    /// whole number of weight steps or the grid does not fit a 16-bit word.
    pub fn device_grid(&self, fl_w: u8) -> anyhow::Result<WeightGrid> {
        let (bits, d) = (self.bits, self.delta_log2);
        ensure!(
            (1..=15).contains(&bits),
            "--weight-bits {bits}: 1 to 15 bits fit a 16-bit word"
        );
        // Δ in raw words is 2^e.
        let e = i32::from(d) + i32::from(fl_w);
        ensure!(
            e >= 0,
            "--delta 2^{d} is finer than a weight step (2^-{fl_w}): raise it or --fl-w"
        );
        let too_coarse = || {
            format!(
                "--delta 2^{d} with --weight-bits {bits} does not fit 16-bit weights at FL {fl_w}"
            )
        };
        if bits == 1 {
            ensure!(e < 15, "{}", too_coarse());
            let delta = 1i16 << e;
            Ok(WeightGrid {
                grid_shift: (e + 1) as u8,
                grid_offset: -delta,
                w_min: -delta,
                w_max: delta,
            })
        } else {
            ensure!(e + i32::from(bits) - 1 <= 15, "{}", too_coarse());
            let lo = -(1i32 << (e + i32::from(bits) - 1));
            let hi = -lo - (1 << e);
            Ok(WeightGrid {
                grid_shift: e as u8,
                grid_offset: 0,
                w_min: i16::try_from(lo).context("grid bottom")?,
                w_max: i16::try_from(hi).context("grid top")?,
            })
        }
    }
}

impl WeightGrid {
    /// The ordinary 16-bit grid: every word, no clamp.
    pub const FULL: WeightGrid = WeightGrid {
        grid_shift: 0,
        grid_offset: 0,
        w_min: i16::MIN,
        w_max: i16::MAX,
    };

    /// The grid point nearest to the raw word `w` (ties up), clamped.
    pub fn snap(&self, w: i16) -> i16 {
        let step = 1i64 << self.grid_shift;
        let o = i64::from(self.grid_offset);
        let k = (i64::from(w) - o + step / 2).div_euclid(step);
        (o + k * step).clamp(i64::from(self.w_min), i64::from(self.w_max)) as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_grid_is_plus_minus_delta() {
        let spec = GridSpec {
            bits: 1,
            delta_log2: -4,
        };
        // Δ = 2^-4 at FL 14 is 1024 raw words; the grid {-1024 + k·2048} clamped to ±1024.
        let g = spec.device_grid(14).unwrap();
        assert_eq!(
            g,
            WeightGrid {
                grid_shift: 11,
                grid_offset: -1024,
                w_min: -1024,
                w_max: 1024
            }
        );
        for (w, want) in [
            (0, 1024),
            (1, 1024),
            (-1, -1024),
            (5000, 1024),
            (-32768, -1024),
        ] {
            assert_eq!(g.snap(w), want, "{w}");
        }
        for w in [1024, -1024] {
            assert_eq!(g.snap(w), w);
        }
        assert_eq!(spec.quantize(0.0), 0.0625);
        assert_eq!(spec.quantize(-1e-9), -0.0625);
        assert_eq!(spec.quantize(3.0), 0.0625);
        assert_eq!(spec.clip(-3.0), -0.0625);
    }

    #[test]
    fn k_bit_grid_rounds_to_nearest_and_clamps() {
        let spec = GridSpec {
            bits: 3,
            delta_log2: -3,
        };
        // Δ = 2^-3 = 2048 words at FL 14; 3 bits: levels -4..=3.
        let g = spec.device_grid(14).unwrap();
        assert_eq!((g.grid_shift, g.grid_offset), (11, 0));
        assert_eq!((g.w_min, g.w_max), (-4 * 2048, 3 * 2048));
        // Midpoints go up, just below goes down, beyond the range clamps.
        assert_eq!(g.snap(1024), 2048);
        assert_eq!(g.snap(1023), 0);
        assert_eq!(g.snap(-1024), 0);
        assert_eq!(g.snap(-1025), -2048);
        assert_eq!(g.snap(32767), 6144);
        assert_eq!(g.snap(-32768), -8192);
        assert_eq!(spec.quantize(0.0625), 0.125);
        assert_eq!(spec.quantize(0.06), 0.0);
        assert_eq!(spec.quantize(-0.3), -0.25);
        assert_eq!(spec.quantize(5.0), 0.375);
        assert_eq!(spec.quantize(-5.0), -0.5);
        // Host and device agree on every raw word.
        for w in (-32768..=32767).step_by(97) {
            let x = w as f32 / 16384.0;
            assert_eq!(spec.quantize(x), g.snap(w as i16) as f32 / 16384.0, "{w}");
        }
    }

    #[test]
    fn grids_that_do_not_fit_are_refused() {
        let fine = GridSpec {
            bits: 1,
            delta_log2: -15,
        };
        assert!(fine.device_grid(14).is_err());
        assert!(fine.device_grid(15).is_ok());
        let wide = GridSpec {
            bits: 8,
            delta_log2: -6,
        };
        // 2^-6 at FL 14 is 2^8 words; 8 bits need 2^15 of range: fits exactly.
        assert_eq!(wide.device_grid(14).unwrap().w_min, i16::MIN);
        assert!(GridSpec { bits: 9, ..wide }.device_grid(14).is_err());
        assert!(GridSpec {
            bits: 1,
            delta_log2: 1
        }
        .device_grid(14)
        .is_err());
    }
}
