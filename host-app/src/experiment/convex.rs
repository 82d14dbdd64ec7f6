//! The convex case of Li et al. (NIPS 2017, "Training Quantized Nets: A Deeper
//! Understanding", §4): SGD with quantized weights on a strongly convex problem, the weights
//! on the grid `Δ·Z^d`.
//!
//! - SR (their eq. 3 with stochastic rounding): `w <- Q_s(w - α_t·g(w))`, no float copy;
//!   Theorem 1 bounds `E f(w̄) - f* <= (1 + log(T+1))G²/(2μ(T+1)) + √d·Δ·G/2`: a floor that
//!   grows with Δ and does not fall with the learning rate.
//! - R: the same with deterministic rounding `Q_d` (nearest); it stops moving as soon as
//!   `|α·g| < Δ/2`.
//! - BC (their eq. 4): float weights `w_r <- w_r - α_t·g(Q_d(w_r))`, the gradient taken at the
//!   quantized weights. For a quadratic `f` (Lipschitz constant of the Hessian 0), their
//!   bound has no Δ term: BC's averaged quantized iterate reaches the exact minimizer, not only
//!   the nearest grid point.
//!
//! `g` is the gradient of one sample drawn uniformly (SGD with batch 1) and
//! `α_t = 1/(μ(t + t0))` (their step size, shifted by `t0 = ⌈L/μ⌉` so the first steps are
//! stable). Reported errors are `f(w) - f(w*)` at the last iterate and at the mean of the
//! iterates of the last half of the run.

// Dense d x d linear algebra on row-major slices: index arithmetic reads clearer than
// iterator chains here.
#![allow(clippy::needless_range_loop)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A finite-sum strongly convex objective `f(w) = (1/n) Σ f_i(w)` with its exact minimizer.
pub trait Problem: Sync {
    /// Dimension.
    fn dim(&self) -> usize;
    /// Number of samples.
    fn samples(&self) -> usize;
    /// Adds `∇f_i(w)` to `g`.
    fn add_grad(&self, i: usize, w: &[f64], g: &mut [f64]);
    /// `f(w)`.
    fn value(&self, w: &[f64]) -> f64;
    /// The exact minimizer.
    fn minimizer(&self) -> &[f64];
    /// Strong convexity μ and smoothness L (bounds).
    fn mu_l(&self) -> (f64, f64);
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Solves `A x = b` for a symmetric positive definite `A` (row-major `d x d`) by Cholesky.
fn solve_spd(a: &[f64], b: &[f64]) -> Vec<f64> {
    let d = b.len();
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s = a[i * d + j] - (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum::<f64>();
            l[i * d + j] = if i == j { s.sqrt() } else { s / l[j * d + j] };
        }
    }
    let mut y = vec![0.0; d];
    for i in 0..d {
        y[i] = (b[i] - (0..i).map(|k| l[i * d + k] * y[k]).sum::<f64>()) / l[i * d + i];
    }
    let mut x = vec![0.0; d];
    for i in (0..d).rev() {
        x[i] = (y[i] - (i + 1..d).map(|k| l[k * d + i] * x[k]).sum::<f64>()) / l[i * d + i];
    }
    x
}

/// Largest and smallest eigenvalue of a symmetric positive semidefinite matrix (power
/// iteration, then on `λ_max·I - A`).
fn extreme_eigenvalues(a: &[f64], d: usize) -> (f64, f64) {
    let power = |shift: f64, sign: f64| {
        let mut v = vec![1.0 / (d as f64).sqrt(); d];
        let mut lambda = 0.0;
        for _ in 0..500 {
            let mut u: Vec<f64> = (0..d)
                .map(|i| shift * v[i] + sign * dot(&a[i * d..(i + 1) * d], &v))
                .collect();
            lambda = dot(&u, &v);
            let norm = dot(&u, &u).sqrt();
            u.iter_mut().for_each(|x| *x /= norm);
            v = u;
        }
        lambda
    };
    let max = power(0.0, 1.0);
    (max - power(max, -1.0), max)
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    let v: f64 = rng.gen();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Samples `x_i ~ N(0, I_d)` and a planted `w_true ~ U[-1, 1]^d`.
fn design(n: usize, d: usize, seed: u64) -> (Vec<f64>, Vec<f64>, ChaCha8Rng) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = (0..n * d).map(|_| normal(&mut rng)).collect();
    let w = (0..d).map(|_| rng.gen_range(-1.0..1.0)).collect();
    (x, w, rng)
}

/// Least squares `f(w) = (1/2n) Σ (x_i·w - y_i)²`, `y = X·w_true + 0.5·noise`.
pub struct LeastSquares {
    x: Vec<f64>,
    y: Vec<f64>,
    d: usize,
    w_star: Vec<f64>,
    mu_l: (f64, f64),
}

impl LeastSquares {
    /// A random instance with `n` samples in dimension `d`.
    pub fn new(n: usize, d: usize, seed: u64) -> LeastSquares {
        let (x, w_true, mut rng) = design(n, d, seed);
        let y: Vec<f64> = (0..n)
            .map(|i| dot(&x[i * d..(i + 1) * d], &w_true) + 0.5 * normal(&mut rng))
            .collect();
        let mut a = vec![0.0; d * d];
        let mut b = vec![0.0; d];
        for i in 0..n {
            let xi = &x[i * d..(i + 1) * d];
            for r in 0..d {
                b[r] += xi[r] * y[i] / n as f64;
                for c in 0..d {
                    a[r * d + c] += xi[r] * xi[c] / n as f64;
                }
            }
        }
        LeastSquares {
            w_star: solve_spd(&a, &b),
            mu_l: extreme_eigenvalues(&a, d),
            x,
            y,
            d,
        }
    }
}

impl Problem for LeastSquares {
    fn dim(&self) -> usize {
        self.d
    }
    fn samples(&self) -> usize {
        self.y.len()
    }
    fn add_grad(&self, i: usize, w: &[f64], g: &mut [f64]) {
        let xi = &self.x[i * self.d..(i + 1) * self.d];
        let r = dot(xi, w) - self.y[i];
        g.iter_mut().zip(xi).for_each(|(g, x)| *g += r * x);
    }
    fn value(&self, w: &[f64]) -> f64 {
        let n = self.samples();
        (0..n)
            .map(|i| (dot(&self.x[i * self.d..(i + 1) * self.d], w) - self.y[i]).powi(2))
            .sum::<f64>()
            / (2 * n) as f64
    }
    fn minimizer(&self) -> &[f64] {
        &self.w_star
    }
    fn mu_l(&self) -> (f64, f64) {
        self.mu_l
    }
}

/// L2-regularized logistic regression `f(w) = (1/n) Σ log(1 + e^(-y_i x_i·w)) + (λ/2)|w|²`,
/// labels `y_i = ±1` drawn from the logistic model of `w_true`.
pub struct Logistic {
    x: Vec<f64>,
    y: Vec<f64>,
    d: usize,
    lambda: f64,
    w_star: Vec<f64>,
    mu_l: (f64, f64),
}

fn softplus(z: f64) -> f64 {
    if z > 30.0 {
        z
    } else {
        z.exp().ln_1p()
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Logistic {
    /// A random instance with `n` samples in dimension `d` and regularization `lambda`.
    pub fn new(n: usize, d: usize, lambda: f64, seed: u64) -> Logistic {
        let (x, w_true, mut rng) = design(n, d, seed);
        let y = (0..n)
            .map(|i| {
                let p = sigmoid(dot(&x[i * d..(i + 1) * d], &w_true));
                if rng.gen::<f64>() < p {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        let mut p = Logistic {
            x,
            y,
            d,
            lambda,
            w_star: vec![0.0; d],
            mu_l: (0.0, 0.0),
        };
        // Newton's method to machine precision (the objective is smooth and strongly convex).
        let mut w = vec![0.0; d];
        for _ in 0..50 {
            let (g, h) = p.grad_hessian(&w);
            let step = solve_spd(&h, &g);
            w.iter_mut().zip(&step).for_each(|(w, s)| *w -= s);
            if dot(&step, &step).sqrt() < 1e-14 {
                break;
            }
        }
        let mut cov = vec![0.0; d * d];
        for i in 0..n {
            let xi = &p.x[i * d..(i + 1) * d];
            for r in 0..d {
                for c in 0..d {
                    cov[r * d + c] += xi[r] * xi[c] / n as f64;
                }
            }
        }
        let (_, h) = p.grad_hessian(&w);
        let (mu, _) = extreme_eigenvalues(&h, d);
        let (_, max_cov) = extreme_eigenvalues(&cov, d);
        p.mu_l = (mu.max(lambda), lambda + max_cov / 4.0);
        p.w_star = w;
        p
    }

    fn grad_hessian(&self, w: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (d, n) = (self.d, self.samples());
        let mut g: Vec<f64> = w.iter().map(|w| self.lambda * w).collect();
        let mut h = vec![0.0; d * d];
        for r in 0..d {
            h[r * d + r] = self.lambda;
        }
        for i in 0..n {
            let xi = &self.x[i * d..(i + 1) * d];
            let s = sigmoid(-self.y[i] * dot(xi, w));
            for r in 0..d {
                g[r] -= self.y[i] * s * xi[r] / n as f64;
                for c in 0..d {
                    h[r * d + c] += s * (1.0 - s) * xi[r] * xi[c] / n as f64;
                }
            }
        }
        (g, h)
    }
}

impl Problem for Logistic {
    fn dim(&self) -> usize {
        self.d
    }
    fn samples(&self) -> usize {
        self.y.len()
    }
    fn add_grad(&self, i: usize, w: &[f64], g: &mut [f64]) {
        let xi = &self.x[i * self.d..(i + 1) * self.d];
        let s = sigmoid(-self.y[i] * dot(xi, w));
        for ((g, x), w) in g.iter_mut().zip(xi).zip(w) {
            *g += self.lambda * w - self.y[i] * s * x;
        }
    }
    fn value(&self, w: &[f64]) -> f64 {
        let n = self.samples();
        (0..n)
            .map(|i| softplus(-self.y[i] * dot(&self.x[i * self.d..(i + 1) * self.d], w)))
            .sum::<f64>()
            / n as f64
            + 0.5 * self.lambda * dot(w, w)
    }
    fn minimizer(&self) -> &[f64] {
        &self.w_star
    }
    fn mu_l(&self) -> (f64, f64) {
        self.mu_l
    }
}

/// The update rules compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Stochastic rounding of the update, weights on the grid.
    Sr,
    /// Rounding of the update to nearest, weights on the grid.
    R,
    /// BinaryConnect: float weights, gradient at their nearest grid point.
    Bc,
}

impl Rule {
    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Sr => "SR",
            Rule::R => "R",
            Rule::Bc => "BC",
        }
    }
}

/// Nearest grid point `Q_d` (ties away from zero; ties have probability zero here).
pub fn round_nearest(w: f64, delta: f64) -> f64 {
    (w / delta).round() * delta
}

/// Stochastic rounding `Q_s`: the grid point below with probability `1 - frac`, above with
/// probability `frac`, so that `E[Q_s(w)] = w`.
pub fn round_stochastic(w: f64, delta: f64, u: f64) -> f64 {
    let s = w / delta;
    let lo = s.floor();
    (if u < s - lo { lo + 1.0 } else { lo }) * delta
}

/// What a run of a rule reached.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Floor {
    /// `f(w_T) - f*` at the last iterate (for BC its quantized weights).
    pub last: f64,
    /// `f(w̄) - f*` at the mean of the (quantized) iterates of the last half.
    pub averaged: f64,
}

/// Runs `steps` SGD steps of `rule` on grid step `delta` from `w = 0`, drawing samples and
/// rounding from `seed`.
pub fn run(problem: &dyn Problem, rule: Rule, delta: f64, steps: u64, seed: u64) -> Floor {
    let d = problem.dim();
    let (mu, l) = problem.mu_l();
    let t0 = (l / mu).ceil();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = vec![0.0; d]; // the grid weights (SR, R) or the float weights (BC)
    let mut q = vec![0.0; d]; // the weights the gradient is taken at
    let mut g = vec![0.0; d];
    let mut sum = vec![0.0; d];
    let tail = steps / 2;
    for t in 0..steps {
        let alpha = 1.0 / (mu * (t as f64 + t0));
        match rule {
            Rule::Bc => q
                .iter_mut()
                .zip(&w)
                .for_each(|(q, w)| *q = round_nearest(*w, delta)),
            Rule::Sr | Rule::R => q.copy_from_slice(&w),
        }
        if t >= steps - tail {
            sum.iter_mut().zip(&q).for_each(|(s, q)| *s += q);
        }
        g.iter_mut().for_each(|g| *g = 0.0);
        problem.add_grad(rng.gen_range(0..problem.samples()), &q, &mut g);
        for (w, g) in w.iter_mut().zip(&g) {
            let v = *w - alpha * g;
            *w = match rule {
                Rule::Bc => v,
                Rule::R => round_nearest(v, delta),
                Rule::Sr => round_stochastic(v, delta, rng.gen()),
            };
        }
    }
    let f_star = problem.value(problem.minimizer());
    let last: Vec<f64> = match rule {
        Rule::Bc => w.iter().map(|w| round_nearest(*w, delta)).collect(),
        _ => w,
    };
    let mean: Vec<f64> = sum.iter().map(|s| s / tail.max(1) as f64).collect();
    Floor {
        last: problem.value(&last) - f_star,
        averaged: problem.value(&mean) - f_star,
    }
}

/// `f(Q_d(w*)) - f*`: the error of the grid point nearest the minimizer.
pub fn nearest_grid_error(problem: &dyn Problem, delta: f64) -> f64 {
    let q: Vec<f64> = problem
        .minimizer()
        .iter()
        .map(|w| round_nearest(*w, delta))
        .collect();
    problem.value(&q) - problem.value(problem.minimizer())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grad(p: &dyn Problem, w: &[f64]) -> Vec<f64> {
        let mut g = vec![0.0; p.dim()];
        for i in 0..p.samples() {
            p.add_grad(i, w, &mut g);
        }
        g.iter().map(|g| g / p.samples() as f64).collect()
    }

    #[test]
    fn minimizers_have_zero_gradient_and_gradients_match_differences() {
        let ls = LeastSquares::new(200, 5, 3);
        let lg = Logistic::new(200, 5, 0.05, 4);
        for p in [&ls as &dyn Problem, &lg] {
            let g = grad(p, p.minimizer());
            assert!(dot(&g, &g).sqrt() < 1e-10, "{g:?}");
            let w: Vec<f64> = (0..5).map(|i| 0.3 * i as f64 - 0.5).collect();
            let g = grad(p, &w);
            for k in 0..5 {
                let h = 1e-6;
                let (mut a, mut b) = (w.clone(), w.clone());
                a[k] += h;
                b[k] -= h;
                let fd = (p.value(&a) - p.value(&b)) / (2.0 * h);
                assert!((fd - g[k]).abs() < 1e-6, "component {k}: {fd} vs {}", g[k]);
            }
            let (mu, l) = p.mu_l();
            assert!(mu > 0.0 && mu <= l);
        }
    }

    #[test]
    fn stochastic_rounding_is_unbiased_and_on_the_grid() {
        let delta = 0.25;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for w in [0.3, -0.3, 1.0, -0.124] {
            let n = 200_000;
            let mut mean = 0.0;
            for _ in 0..n {
                let q = round_stochastic(w, delta, rng.gen());
                assert_eq!((q / delta).fract(), 0.0);
                assert!((q - w).abs() < delta);
                mean += q / n as f64;
            }
            // sd of one draw is at most delta/2: 5 standard errors.
            assert!(
                (mean - w).abs() < 5.0 * 0.5 * delta / (n as f64).sqrt(),
                "{w}: {mean}"
            );
        }
        assert_eq!(round_stochastic(0.5, delta, 0.99), 0.5);
        assert_eq!(round_nearest(0.3, delta), 0.25);
    }

    #[test]
    fn r_freezes_once_steps_are_below_half_a_grid_step() {
        // With a grid step far above every α·g, R never leaves its starting point 0.
        let p = LeastSquares::new(100, 3, 5);
        let f = run(&p, Rule::R, 64.0, 2000, 1);
        assert_eq!(f.last, p.value(&[0.0; 3]) - p.value(p.minimizer()));
    }

    #[test]
    fn bc_averages_to_the_minimizer_of_a_quadratic_beyond_the_grid() {
        // Li et al.: for a quadratic, BC's averaged quantized weights reach w* itself, far
        // closer than the nearest grid point; SR stays further away on the same grid.
        let p = LeastSquares::new(400, 4, 7);
        let delta = 0.25;
        let grid = nearest_grid_error(&p, delta);
        let bc = run(&p, Rule::Bc, delta, 200_000, 2);
        let sr = run(&p, Rule::Sr, delta, 200_000, 2);
        assert!(bc.averaged < grid / 10.0, "bc {bc:?}, grid {grid}");
        assert!(bc.averaged < sr.averaged, "bc {bc:?}, sr {sr:?}");
    }
}
