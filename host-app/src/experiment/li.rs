//! `qtrain experiment li`: Li et al. (NIPS 2017), "Training Quantized Nets: A Deeper
//! Understanding". On MNIST: R vs SR vs BC with binary and 4-bit weights, SR at three batch
//! sizes, and the fraction of (binary) weights that flip per epoch; on synthetic convex
//! problems ([`convex`](super::convex)): the error floor against Δ of SR and BC.

use super::chart::{Panel, Series};
use super::convex::{self, LeastSquares, Logistic, Problem, Rule};
use super::report::{csv, table, Report};
use super::runner::{groups, RunConfig, RunResult};
use super::stats::{below, Stats};
use super::summary::{curves, final_errors, final_table, has};
use super::{chart, pool, Options};
use crate::commands::train::DEFAULT_FL;
use crate::train::methods::li::{BcConfig, GridConfig};
use crate::train::methods::MethodConfig;
use crate::train::net::weight_grid::GridSpec;

/// Learning rate of the MNIST runs (the one docs/training.md reports r/sr/bc at).
const LR: f64 = 0.3;

fn grid(bits: u8) -> GridSpec {
    GridSpec {
        bits,
        delta_log2: GridSpec::default_delta_log2(bits),
    }
}

fn method(name: &str, bits: u8) -> MethodConfig {
    let g = GridConfig {
        grid: grid(bits),
        fl: DEFAULT_FL,
    };
    match name {
        "R" => MethodConfig::R(g),
        "SR" => MethodConfig::Sr(g),
        _ => MethodConfig::Bc(BcConfig { grid: grid(bits) }),
    }
}

fn configs(opts: &Options, epochs: u32) -> Vec<RunConfig> {
    let mut out = Vec::new();
    let seeds = opts.seeds(3);
    let mut add = |part: &str, name: &str, bits: u8, batch: usize, signs: bool| {
        for &seed in &seeds {
            out.push(RunConfig {
                model: "mlp",
                method: method(name, bits),
                batch,
                lr: LR,
                seed,
                epochs,
                tags: vec![
                    ("part", part.to_string()),
                    ("method", name.to_string()),
                    ("batch", batch.to_string()),
                ],
                sign_changes: signs,
            });
        }
    };
    for name in ["R", "SR", "BC"] {
        add("binary", name, 1, 64, true);
    }
    for name in ["R", "SR", "BC"] {
        add("4-bit", name, 4, 64, false);
    }
    for batch in [16, 256] {
        add("batch", "SR", 1, batch, false);
    }
    out
}

/// MNIST part: tables, curves and checks.
fn mnist(opts: &Options, report: &mut Report) -> anyhow::Result<()> {
    let (train, test, epochs) = opts.pick((Some(4000), Some(2000), 2), (None, None, 5));
    let data = opts.data(train, test)?;
    let results = opts.runner(&data).run_all(&configs(opts, epochs))?;
    report.csv = super::runner::epochs_csv(&results);
    let part = |p: &'static str| move |c: &RunConfig| c.tag("part") == Some(p);
    let sel = |p: &str| -> Vec<RunResult> {
        results
            .iter()
            .filter(|r| r.config.tag("part") == Some(p))
            .cloned()
            .collect()
    };
    report.sections.push(format!(
        "{}MLP 784-256-10, lr {LR}, binary weights Δ = 2^-4, 4-bit weights Δ = 2^-6 \
         (grid ±2^-3); R and SR keep no float copy (update on the device), BC keeps f32 \
         shadow weights. Errors in %, mean ± sd over seeds.\n\n## Binary weights\n\n{}\n\
         ## 4-bit weights\n\n{}\n",
        opts.scale_note(&data, epochs, opts.seeds(3).len()),
        final_table(&sel("binary"), &["method", "batch"]),
        final_table(&sel("4-bit"), &["method", "batch"]),
    ));
    // SR at three batch sizes: batch 64 is the binary part's SR run.
    let mut batch: Vec<RunResult> = sel("batch");
    batch.extend(
        sel("binary")
            .into_iter()
            .filter(|r| r.config.tag("method") == Some("SR")),
    );
    batch.sort_by_key(|r| r.config.batch);
    report.sections.push(format!(
        "## SR (binary) at three batch sizes (same lr and epochs: fewer steps with larger batches)\n\n{}",
        final_table(&batch, &["method", "batch"])
    ));
    // Li et al.'s measure: the fraction of quantized weights that flip in an epoch.
    let mut rows = Vec::new();
    let mut flip_series = Vec::new();
    for (_, runs) in groups(&results) {
        if runs[0].sign_changed.is_empty() {
            continue;
        }
        let name = runs[0].config.tag("method").unwrap_or_default().to_string();
        let pts: Vec<(f64, f64, f64)> = (0..runs[0].sign_changed.len())
            .map(|e| {
                let s = Stats::of(&runs.iter().map(|r| r.sign_changed[e]).collect::<Vec<_>>());
                ((e + 1) as f64, 100.0 * s.mean, 100.0 * s.sd)
            })
            .collect();
        let mut row = vec![name.clone()];
        row.extend(pts.iter().map(|p| format!("{:.3} ± {:.3}", p.1, p.2)));
        rows.push(row);
        flip_series.push(Series { name, points: pts });
    }
    let heads: Vec<String> = (1..=epochs).map(|e| format!("epoch {e}")).collect();
    let mut headers = vec!["method"];
    headers.extend(heads.iter().map(String::as_str));
    report.sections.push(format!(
        "## Binary weights that flip per epoch (% of weight-matrix entries; for BC the signs \
         of its shadow weights, i.e. its binary weights)\n\n{}",
        table(&headers, &rows)
    ));
    let pct = |e: &crate::train::metrics::EpochMetrics| 100.0 * e.test_error;
    let panel = |title: &str, series, y: &str, log_y| Panel {
        title: title.into(),
        x_label: "epoch".into(),
        y_label: y.into(),
        log_x: false,
        log_y,
        series,
    };
    report.plots.push((
        "li-mnist.svg".into(),
        chart::svg(
            "Li et al.: R vs SR vs BC on MNIST (mean ± sd over seeds)",
            &[
                panel(
                    "binary weights",
                    curves(&results, part("binary"), &["method"], pct),
                    "test error (%)",
                    false,
                ),
                panel(
                    "4-bit weights",
                    curves(&results, part("4-bit"), &["method"], pct),
                    "test error (%)",
                    false,
                ),
                panel(
                    "SR, binary, by batch size",
                    curves(
                        &results,
                        |c| c.tag("method") == Some("SR") && c.tag("part") != Some("4-bit"),
                        &["batch"],
                        pct,
                    ),
                    "test error (%)",
                    false,
                ),
                panel(
                    "binary weights flipped per epoch",
                    flip_series,
                    "flipped (%)",
                    true,
                ),
            ],
        )?,
    ));
    let err = |p: &str, m: &str| final_errors(&results, |c| has(c, &[("part", p), ("method", m)]));
    // 5 points = 100 of 2,000 test images: far above one run's binomial sd (about 1 point),
    // and the three methods are tens of points apart at this scale.
    report.checks.push(below(
        "binary weights: BC's final test error below SR's",
        &err("binary", "BC"),
        &err("binary", "SR"),
        0.05,
    ));
    report.checks.push(below(
        "binary weights: SR's final test error below R's",
        &err("binary", "SR"),
        &err("binary", "R"),
        0.05,
    ));
    report.checks.push(below(
        "4-bit weights: SR's final test error below R's",
        &err("4-bit", "SR"),
        &err("4-bit", "R"),
        0.02,
    ));
    Ok(())
}

/// One convex run's identity.
struct ConvexRun {
    problem: usize,
    rule: Rule,
    delta_log2: i32,
    seed: u64,
}

/// The convex part: error floors against Δ for SR, R and BC.
fn convex_part(opts: &Options, report: &mut Report) -> anyhow::Result<()> {
    let (steps, deltas, seeds): (u64, Vec<i32>, u64) = opts.pick(
        (1 << 15, vec![-1, -3, -5], 5),
        (1 << 18, (1..=7).map(|k| -k).collect(), 10),
    );
    let seeds = opts.seeds.unwrap_or(seeds).max(2);
    let problems: Vec<(&str, Box<dyn Problem>)> = vec![
        ("least squares", Box::new(LeastSquares::new(1000, 10, 1))),
        (
            "logistic regression",
            Box::new(Logistic::new(1000, 10, 0.1, 1)),
        ),
    ];
    let mut runs = Vec::new();
    for problem in 0..problems.len() {
        for rule in [Rule::R, Rule::Sr, Rule::Bc] {
            for &delta_log2 in &deltas {
                for seed in 1..=seeds {
                    runs.push(ConvexRun {
                        problem,
                        rule,
                        delta_log2,
                        seed,
                    });
                }
            }
        }
    }
    let floors = pool::map(&runs, opts.jobs, |_, r| {
        Ok(convex::run(
            problems[r.problem].1.as_ref(),
            r.rule,
            f64::from(r.delta_log2).exp2(),
            steps,
            r.seed,
        ))
    })?;
    let mut csv_rows = Vec::new();
    for (r, f) in runs.iter().zip(&floors) {
        csv_rows.push(vec![
            problems[r.problem].0.to_string(),
            r.rule.name().into(),
            f64::from(r.delta_log2).exp2().to_string(),
            r.seed.to_string(),
            f.last.to_string(),
            f.averaged.to_string(),
        ]);
    }
    let convex_csv = csv(
        &[
            "problem",
            "rule",
            "delta",
            "seed",
            "last_gap",
            "averaged_gap",
        ]
        .map(String::from),
        &csv_rows,
    );
    report.extra_files.push(("convex.csv".into(), convex_csv));
    let sample = |p: usize, rule: Rule, d: i32, avg: bool| -> Vec<f64> {
        runs.iter()
            .zip(&floors)
            .filter(|(r, _)| r.problem == p && r.rule == rule && r.delta_log2 == d)
            .map(|(_, f)| if avg { f.averaged } else { f.last })
            .collect()
    };
    let mut panels = Vec::new();
    let mut text = format!(
        "## The convex case\n\nd = 10, n = 1000 samples (x ~ N(0, I)), SGD with one sample per step, \
         α_t = 1/(μ(t + ⌈L/μ⌉)), {steps} steps, from w = 0, {seeds} seeds (sampling and rounding) on \
         one instance per problem. `f(w) - f*` at the last iterate and at the mean of the last half's \
         iterates (BC: its quantized weights Q(w_r)); \"grid\" is `f(Q(w*)) - f*`, the nearest grid \
         point to the minimizer. Mean ± sd over seeds.\n\n"
    );
    for (p, (pname, problem)) in problems.iter().enumerate() {
        let mut rows = Vec::new();
        for &d in &deltas {
            let delta = f64::from(d).exp2();
            let mut row = vec![
                format!("2^{d}"),
                format!(
                    "{:.2e}",
                    convex::nearest_grid_error(problem.as_ref(), delta)
                ),
            ];
            for rule in [Rule::R, Rule::Sr, Rule::Bc] {
                for avg in [false, true] {
                    row.push(Stats::of(&sample(p, rule, d, avg)).sci());
                }
            }
            rows.push(row);
        }
        text.push_str(&format!(
            "### {pname}\n\n{}\n",
            table(
                &[
                    "Δ",
                    "grid",
                    "R last",
                    "R averaged",
                    "SR last",
                    "SR averaged",
                    "BC last",
                    "BC averaged"
                ],
                &rows
            )
        ));
        let mut series = vec![Series {
            name: "nearest grid point".into(),
            points: deltas
                .iter()
                .map(|&d| {
                    let delta = f64::from(d).exp2();
                    (
                        delta,
                        convex::nearest_grid_error(problem.as_ref(), delta),
                        0.0,
                    )
                })
                .collect(),
        }];
        for rule in [Rule::Sr, Rule::Bc] {
            for avg in [false, true] {
                series.push(Series {
                    name: format!("{} {}", rule.name(), if avg { "averaged" } else { "last" }),
                    points: deltas
                        .iter()
                        .map(|&d| {
                            let s = Stats::of(&sample(p, rule, d, avg));
                            (f64::from(d).exp2(), s.mean, s.sd)
                        })
                        .collect(),
                });
            }
        }
        panels.push(Panel {
            title: pname.to_string(),
            x_label: "Δ".into(),
            y_label: "f(w) - f*".into(),
            log_x: true,
            log_y: true,
            series,
        });
    }
    report.sections.push(text);
    report.plots.push((
        "li-convex.svg".into(),
        chart::svg(
            "Li et al.: error floor against Δ (mean ± sd over seeds)",
            &panels,
        )?,
    ));

    // Checks on log10 of the gaps: a min_gap of 0.3 is a factor of 2, of 1.0 a factor of 10.
    let log = |v: Vec<f64>| {
        v.into_iter()
            .map(|x| x.max(1e-300).log10())
            .collect::<Vec<_>>()
    };
    let (small, large) = (*deltas.last().expect("deltas"), deltas[0]);
    let ls = problems[0].1.as_ref();
    for &d in &deltas[..deltas.len() - 1] {
        report.checks.push(below(
            format!(
                "least squares, Δ = 2^{d}: BC's averaged error below SR's by a factor of 2 (log10)"
            ),
            &log(sample(0, Rule::Bc, d, true)),
            &log(sample(0, Rule::Sr, d, true)),
            0.3,
        ));
    }
    let grid = vec![convex::nearest_grid_error(ls, f64::from(large).exp2()); seeds as usize];
    report.checks.push(below(
        format!("least squares, Δ = 2^{large}: BC's averaged error 10x below the nearest grid point's (it reaches w*, not the grid) (log10)"),
        &log(sample(0, Rule::Bc, large, true)),
        &log(grid),
        1.0,
    ));
    report.checks.push(below(
        format!("least squares: SR's last-iterate floor grows with Δ (2^{small} below 2^{large} by a factor of 2) (log10)"),
        &log(sample(0, Rule::Sr, small, false)),
        &log(sample(0, Rule::Sr, large, false)),
        0.3,
    ));
    Ok(())
}

/// Runs the experiment.
pub fn run(opts: &Options) -> anyhow::Result<Report> {
    let mut report = Report {
        title: "Li et al. 2017: R vs SR vs BC, batch size, weight flips, the convex case".into(),
        command: opts.command.clone(),
        ..Report::default()
    };
    mnist(opts, &mut report)?;
    convex_part(opts, &mut report)?;
    Ok(report)
}
