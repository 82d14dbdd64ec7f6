//! The quantizers of BCGD (Yin et al., "Blended coarse gradient descent for full quantization
//! of deep neural networks", 2019; Xin, SIAM News): the weight projections and the quantized
//! ReLU with its coarse partial derivatives.

/// The projection of a layer's weights onto `δ·{0, ±1, ..., ±m}` (`m = 2^(bits-1) - 1`; for
/// one bit `δ·{±1}`), with the scale δ chosen for this layer:
///
/// - 1 bit: `Q(w) = mean(|w|)·sign(w)`, the exact projection onto `{±δ}`;
/// - 2 bits (ternary, `m = 1`): exact: keep the `t` largest `|w|` with
///   `t = argmax (Σ_top-t |w|)^2 / t` and `δ = Σ_top-t |w| / t`;
/// - k >= 3 bits: alternate `q = clamp(round(w/δ), -m, m)` and `δ = <w, q>/<q, q>` (each
///   step lowers `|w - δq|`), from `δ = max|w| / m`.
#[cfg(test)]
pub fn project(w: &[f32], bits: u8) -> Vec<f32> {
    let (delta, q) = project_levels(w, bits);
    q.iter().map(|&v| (f64::from(v) * delta) as f32).collect()
}

/// [`project`] as its scale δ and integer levels `q` (`Q(w) = δ·q`).
pub fn project_levels(w: &[f32], bits: u8) -> (f64, Vec<i32>) {
    if w.is_empty() {
        return (0.0, Vec::new());
    }
    match bits {
        0 | 1 => {
            let delta = w.iter().map(|x| f64::from(x.abs())).sum::<f64>() / w.len() as f64;
            (
                delta,
                w.iter().map(|&x| if x >= 0.0 { 1 } else { -1 }).collect(),
            )
        }
        2 => {
            let mut idx: Vec<usize> = (0..w.len()).collect();
            idx.sort_by(|&a, &b| w[b].abs().total_cmp(&w[a].abs()));
            let (mut best, mut best_t, mut sum, mut best_sum) = (f64::NEG_INFINITY, 0, 0.0, 0.0);
            for (t, &i) in idx.iter().enumerate() {
                sum += f64::from(w[i].abs());
                let score = sum * sum / (t + 1) as f64;
                if score > best {
                    (best, best_t, best_sum) = (score, t + 1, sum);
                }
            }
            let delta = best_sum / best_t as f64;
            let mut q = vec![0i32; w.len()];
            for &i in &idx[..best_t] {
                q[i] = if w[i] >= 0.0 { 1 } else { -1 };
            }
            (delta, q)
        }
        k => {
            let m = f64::from((1u32 << (k.min(16) - 1)) - 1);
            let max = w.iter().map(|x| f64::from(x.abs())).fold(0.0, f64::max);
            if max == 0.0 {
                return (0.0, vec![0; w.len()]);
            }
            let mut delta = max / m;
            let levels = |d: f64| -> Vec<f64> {
                w.iter()
                    .map(|&x| (f64::from(x) / d).round().clamp(-m, m))
                    .collect()
            };
            for _ in 0..20 {
                let q = levels(delta);
                let qq: f64 = q.iter().map(|v| v * v).sum();
                let wq: f64 = q.iter().zip(w).map(|(v, &x)| v * f64::from(x)).sum();
                if qq == 0.0 || wq <= 0.0 {
                    break;
                }
                let next = wq / qq;
                let done = next == delta;
                delta = next;
                if done {
                    break;
                }
            }
            (delta, levels(delta).iter().map(|&v| v as i32).collect())
        }
    }
}

/// Number of positive levels `L = 2^b - 1` of the `b`-bit quantized ReLU.
pub fn levels(bits: u8) -> f32 {
    ((1u32 << bits) - 1) as f32
}

/// The quantized ReLU (Xin eq. 1, numerics §7.3): 0 for `x <= 0`, `k·α` for
/// `(k-1)·α < x <= k·α`, `L·α` above `L·α`.
#[cfg(test)]
pub fn qrelu(x: f32, alpha: f32, bits: u8) -> f32 {
    if x <= 0.0 {
        0.0
    } else {
        (x / alpha).ceil().min(levels(bits)) * alpha
    }
}

/// The straight-through coarse derivative with respect to `x`: 1 on `0 < x <= L·α`.
#[cfg(test)]
pub fn qrelu_dx(x: f32, alpha: f32, bits: u8) -> f32 {
    if x > 0.0 && x <= levels(bits) * alpha {
        1.0
    } else {
        0.0
    }
}

/// The coarse partial derivative with respect to α (Xin eq. 3). The 3-valued one is
/// 0 for `x <= 0`, `2^(b-1)` on `0 < x <= L·α`, `L` above; the 2-valued one drops the middle
/// value: 0 for `x <= L·α`, `L` above.
pub fn qrelu_dalpha(x: f32, alpha: f32, bits: u8, valued: u8) -> f32 {
    let top = levels(bits);
    if x > top * alpha {
        top
    } else if valued == 3 && x > 0.0 {
        (1u32 << (bits - 1)) as f32
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bit_is_sign_times_mean_magnitude() {
        assert_eq!(
            project(&[0.5, -1.5, 1.0, 0.0], 1),
            vec![0.75, -0.75, 0.75, 0.75]
        );
    }

    #[test]
    fn ternary_keeps_the_best_support() {
        // t = 1: 9; t = 2: 5.9²/2 = 17.4; t = 3: 6.1²/3 = 12.4; t = 4: 6.2²/4 = 9.6.
        let q = project(&[3.0, -2.9, 0.1, -0.2], 2);
        assert_eq!(q, vec![2.95, -2.95, 0.0, 0.0]);
        // The exact projection is at least as close as any other scale's rounding.
        let w = [0.3f32, -0.05, 0.8, -0.6, 0.1, 0.02];
        let q = project(&w, 2);
        let err = |q: &[f32]| -> f32 { q.iter().zip(&w).map(|(a, b)| (a - b).powi(2)).sum() };
        for d in (1..200).map(|i| i as f32 / 200.0) {
            let other: Vec<f32> = w
                .iter()
                .map(|&x| (x / d).round().clamp(-1.0, 1.0) * d)
                .collect();
            assert!(err(&q) <= err(&other) + 1e-6, "delta {d}");
        }
    }

    #[test]
    fn k_bit_finds_the_integer_grid_and_clamps() {
        assert_eq!(
            project(&[0.0, 1.0, 2.0, 3.0, -3.0], 3),
            vec![0.0, 1.0, 2.0, 3.0, -3.0]
        );
        let q = project(&[0.25, -0.5, 0.75, 0.7, -0.1], 3);
        let d = q.iter().map(|v| v.abs()).fold(0.0f32, f32::max) / 3.0;
        for v in &q {
            let k = v / d;
            assert!(
                (k - k.round()).abs() < 1e-5 && k.abs() <= 3.0 + 1e-5,
                "{q:?}"
            );
        }
    }

    #[test]
    fn qrelu_levels_and_coarse_derivatives() {
        // b = 2: L = 3, α = 0.5: steps at 0, 0.5, 1.0, 1.5.
        let cases = [
            (-1.0, 0.0),
            (0.0, 0.0),
            (0.1, 0.5),
            (0.5, 0.5),
            (0.51, 1.0),
            (1.5, 1.5),
            (9.0, 1.5),
        ];
        for (x, y) in cases {
            assert_eq!(qrelu(x, 0.5, 2), y, "{x}");
        }
        assert_eq!(qrelu_dx(0.0, 0.5, 2), 0.0);
        assert_eq!(qrelu_dx(1.5, 0.5, 2), 1.0);
        assert_eq!(qrelu_dx(1.6, 0.5, 2), 0.0);
        let three: Vec<f32> = [-1.0, 0.3, 1.5, 2.0]
            .iter()
            .map(|&x| qrelu_dalpha(x, 0.5, 2, 3))
            .collect();
        assert_eq!(three, vec![0.0, 2.0, 2.0, 3.0]);
        let two: Vec<f32> = [-1.0, 0.3, 1.5, 2.0]
            .iter()
            .map(|&x| qrelu_dalpha(x, 0.5, 2, 2))
            .collect();
        assert_eq!(two, vec![0.0, 0.0, 0.0, 3.0]);
        // b = 4: the middle value is 2^3 = 8, the top L = 15.
        assert_eq!(qrelu_dalpha(1.0, 0.5, 4, 3), 8.0);
        assert_eq!(qrelu_dalpha(8.0, 0.5, 4, 3), 15.0);
    }
}
