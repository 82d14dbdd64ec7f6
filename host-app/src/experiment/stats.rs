//! Means and spreads over seeds, and the qualitative checks an experiment makes on them.

use std::fmt::Write;

/// Summary of one quantity over repeated runs (seeds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Number of values.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Sample standard deviation (0 for a single value).
    pub sd: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Stats {
    /// The summary of `values` (all NaN when there are none).
    pub fn of(values: &[f64]) -> Stats {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Stats {
            n,
            mean,
            sd: var.sqrt(),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }

    /// Standard error of the mean.
    pub fn se(&self) -> f64 {
        self.sd / (self.n as f64).sqrt()
    }

    /// `mean ± sd` of a fraction, in percent with two decimals (just the mean for one run).
    pub fn pct(&self) -> String {
        if self.n > 1 {
            format!("{:.2} ± {:.2}", 100.0 * self.mean, 100.0 * self.sd)
        } else {
            format!("{:.2}", 100.0 * self.mean)
        }
    }

    /// `mean ± sd` in scientific notation.
    pub fn sci(&self) -> String {
        if self.n > 1 {
            format!("{:.2e} ± {:.1e}", self.mean, self.sd)
        } else {
            format!("{:.2e}", self.mean)
        }
    }
}

/// How many standard errors the gap of a check must exceed: a one-sided test at about 2.3%
/// false-alarm rate if the mean difference were normal with this spread (with 3 to 5 seeds a
/// t quantile would be larger; the margins in use are far wider, see docs/experiments.md).
pub const Z: f64 = 2.0;

/// One qualitative claim checked on the measured numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// The claim, e.g. "SR below RN at FL 8, lr 0.01 (test error)".
    pub claim: String,
    /// The numbers it was decided on.
    pub detail: String,
    /// Whether the numbers support it.
    pub passed: bool,
}

/// Differences `b_i - a_i` of paired samples (the same seed: the same initial weights, data
/// order and draws wherever the two runs make the same choices).
fn paired(a: &[f64], b: &[f64]) -> Stats {
    Stats::of(&a.iter().zip(b).map(|(a, b)| b - a).collect::<Vec<_>>())
}

/// A failed check when the samples do not pair (a configuration missing or of other seeds).
fn unpaired(claim: &str, a: &[f64], b: &[f64]) -> Option<Check> {
    (a.len() != b.len() || a.is_empty()).then(|| Check {
        claim: claim.to_string(),
        detail: format!("no paired samples ({} vs {} runs)", a.len(), b.len()),
        passed: false,
    })
}

/// The claim that `a` is below `b` on average over paired runs: the mean difference
/// `mean(b - a)` exceeds `max(min_gap, Z·se)`, `se` the standard error of the differences.
/// `min_gap` is the smallest difference that means something for the quantity (e.g. a few
/// dozen test images).
pub fn below(claim: impl Into<String>, a: &[f64], b: &[f64], min_gap: f64) -> Check {
    let claim = claim.into();
    if let Some(c) = unpaired(&claim, a, b) {
        return c;
    }
    let (sa, sb, d) = (Stats::of(a), Stats::of(b), paired(a, b));
    let margin = min_gap.max(Z * d.se());
    Check {
        claim,
        detail: format!(
            "{:.4} (sd {:.4}) vs {:.4} (sd {:.4}), n {}: mean paired gap {:.4} (sd {:.4}), needed > {:.4} (max of {min_gap} and {Z} se)",
            sa.mean, sa.sd, sb.mean, sb.sd, sa.n, d.mean, d.sd, margin
        ),
        passed: d.mean > margin,
    }
}

/// The claim that `a` and `b` agree within `tol` on average over paired runs:
/// `|mean(b - a)| + Z·se < tol`.
pub fn close(claim: impl Into<String>, a: &[f64], b: &[f64], tol: f64) -> Check {
    let claim = claim.into();
    if let Some(c) = unpaired(&claim, a, b) {
        return c;
    }
    let (sa, sb, d) = (Stats::of(a), Stats::of(b), paired(a, b));
    let bound = d.mean.abs() + Z * d.se();
    Check {
        claim,
        detail: format!(
            "{:.4} (sd {:.4}) vs {:.4} (sd {:.4}), n {}: |mean paired difference| + {Z} se = {:.4}, allowed < {tol}",
            sa.mean, sa.sd, sb.mean, sb.sd, sa.n, bound
        ),
        passed: bound < tol,
    }
}

/// The checks as a markdown list.
pub fn checks_markdown(checks: &[Check]) -> String {
    let mut s = String::new();
    for c in checks {
        let _ = writeln!(
            s,
            "- **{}** {}: {}",
            if c.passed { "PASS" } else { "FAIL" },
            c.claim,
            c.detail
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_known_values() {
        let s = Stats::of(&[1.0, 2.0, 3.0, 6.0]);
        assert_eq!(s.n, 4);
        assert!((s.mean - 3.0).abs() < 1e-12);
        assert!((s.sd - (14.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!((s.min, s.max), (1.0, 6.0));
        assert_eq!(Stats::of(&[0.25]).sd, 0.0);
        assert_eq!(Stats::of(&[0.25]).pct(), "25.00");
    }

    #[test]
    fn below_needs_the_paired_gap_to_exceed_noise_and_the_minimum() {
        assert!(below("x", &[0.10, 0.11, 0.12], &[0.30, 0.31, 0.29], 0.01).passed);
        // Gaps of +0.3, -0.1, +0.1: mean 0.1 within 2 standard errors (0.23).
        assert!(!below("x", &[0.0, 0.4, 0.3], &[0.3, 0.3, 0.4], 0.01).passed);
        // Consistent, but smaller than the minimum meaningful gap.
        assert!(!below("x", &[0.100, 0.200], &[0.104, 0.204], 0.01).passed);
        assert!(!below("x", &[0.30, 0.31], &[0.10, 0.11], 0.0).passed);
        // Samples that do not pair fail instead of comparing something else.
        assert!(!below("x", &[0.1, 0.1], &[0.3], 0.0).passed);
        assert!(!close("x", &[], &[], 1.0).passed);
    }

    #[test]
    fn close_needs_the_difference_and_its_noise_inside_the_tolerance() {
        assert!(close("x", &[0.10, 0.20, 0.30], &[0.101, 0.199, 0.302], 0.01).passed);
        assert!(!close("x", &[0.10, 0.20, 0.30], &[0.12, 0.22, 0.32], 0.01).passed);
        // Small mean difference but large disagreement per seed.
        assert!(!close("x", &[0.10, 0.20, 0.30], &[0.13, 0.17, 0.30], 0.01).passed);
    }
}
