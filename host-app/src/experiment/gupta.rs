//! `qtrain experiment gupta`: Gupta et al. (ICML 2015), "Deep Learning with Limited
//! Numerical Precision": 16-bit fixed point (WL 16) with FL fraction bits, rounding to
//! nearest against stochastic rounding, against `float32`, for several learning rates.
//!
//! FL is the format of the weights and of the activation gradients (`--fl-w FL --fl-g FL`);
//! activations and weight gradients keep FL 10 (range ±32), because a uniform FL of 12 or 14
//! saturates them on this network (docs/training.md), which would measure range, not
//! rounding. The weight update rounds at FL_w, so FL sets how small an update can be kept.

use super::chart::Panel;
use super::report::Report;
use super::runner::{RunConfig, RunResult};
use super::stats::{below, close, Check};
use super::summary::{curves, final_errors, final_table, has};
use super::{chart, Options};
use crate::train::methods::fixed::FixedConfig;
use crate::train::methods::MethodConfig;
use crate::train::net::device_mlp::Formats;
use qtrain_model::Rounding;

/// The FLs of the full version.
pub const FLS: [u8; 4] = [8, 10, 12, 14];

fn configs(opts: &Options, model: &'static str, epochs: u32) -> Vec<RunConfig> {
    let fls: &[u8] = opts.pick(&[8, 14], &FLS);
    let lrs: &[f64] = match (opts.quick, model) {
        (true, _) => &[0.01, 0.1],
        (false, "mlp") => &[0.01, 0.1, 0.3],
        (false, _) => &[0.01, 0.1],
    };
    let mut out = Vec::new();
    for &lr in lrs {
        let mut methods = vec![(MethodConfig::Float32, "-".to_string(), "float32")];
        for &fl in fls {
            for (rounding, name) in [(Rounding::Nearest, "RN"), (Rounding::Stochastic, "SR")] {
                let cfg = FixedConfig {
                    fl: Formats {
                        w: fl,
                        a: 10,
                        g: fl,
                        dw: 10,
                    },
                    rounding,
                };
                methods.push((MethodConfig::Fixed(cfg), fl.to_string(), name));
            }
        }
        for (method, fl, rounding) in methods {
            for &seed in &opts.seeds(3) {
                out.push(RunConfig {
                    model,
                    method: method.clone(),
                    batch: 64,
                    lr,
                    seed,
                    epochs,
                    tags: vec![
                        ("model", model.to_string()),
                        ("lr", lr.to_string()),
                        ("fl", fl.clone()),
                        ("rounding", rounding.to_string()),
                    ],
                    sign_changes: false,
                });
            }
        }
    }
    out
}

/// The checks on `model` (labelled `name`): at FL 8, where rounding to nearest loses the small
/// updates, stochastic rounding does better (at the learning rates `fl8_lrs`); at FL 14
/// stochastic rounding matches float32 (at `lrs`).
fn checks(
    results: &[RunResult],
    model: &str,
    name: &str,
    fl8_lrs: &[&str],
    lrs: &[&str],
) -> Vec<Check> {
    let err = |lr: &str, fl: &str, r: &str| {
        final_errors(results, |c| {
            has(
                c,
                &[("model", model), ("lr", lr), ("fl", fl), ("rounding", r)],
            )
        })
    };
    let mut v = Vec::new();
    for &lr in fl8_lrs {
        // 2 points: 40 of 2,000 test images, about 2.5 binomial sds of one run's error.
        v.push(below(
            format!("{name}, FL 8, lr {lr}: SR's final test error below RN's"),
            &err(lr, "8", "SR"),
            &err(lr, "8", "RN"),
            0.02,
        ));
    }
    for &lr in lrs {
        // 1.5 points: the seed-to-seed spread of one configuration on 2,000 test images.
        v.push(close(
            format!("{name}, FL 14, lr {lr}: SR's final test error within 1.5 points of float32"),
            &err(lr, "14", "SR"),
            &err(lr, "-", "float32"),
            0.015,
        ));
    }
    v
}

/// Runs the experiment.
pub fn run(opts: &Options) -> anyhow::Result<Report> {
    let (train, test, epochs) = opts.pick((Some(4000), Some(2000), 2), (None, None, 5));
    let data = opts.data(train, test)?;
    let models: Vec<&'static str> = opts
        .pick(&["mlp"][..], &["mlp", "cnn"][..])
        .iter()
        .copied()
        .filter(|m| opts.model.as_deref().is_none_or(|want| want == *m))
        .collect();
    anyhow::ensure!(
        !models.is_empty(),
        "--model: gupta runs mlp and cnn (the quick version mlp)"
    );
    let mut configs_all = Vec::new();
    for &m in &models {
        configs_all.extend(configs(opts, m, if m == "cnn" { 3 } else { epochs }));
    }
    let results = opts.runner(&data).run_all(&configs_all)?;

    let mut report = Report {
        title: "Gupta et al. 2015: 16-bit fixed point, round to nearest vs stochastic".into(),
        command: opts.command.clone(),
        csv: super::runner::epochs_csv(&results),
        ..Report::default()
    };
    report.sections.push(format!(
        "{}FL: fraction bits of weights and activation gradients (activations and weight \
         gradients FL 10); WL 16; batch 64; MLP 784-256-10{}. Errors in %, mean ± sd over seeds.\n",
        opts.scale_note(&data, epochs, opts.seeds(3).len()),
        if models.contains(&"cnn") {
            ", CNN (3 epochs)"
        } else {
            ""
        },
    ));
    for &m in &models {
        let mine: Vec<RunResult> = results
            .iter()
            .filter(|r| r.config.model == m)
            .cloned()
            .collect();
        report.sections.push(format!(
            "## {m}\n\n{}",
            final_table(&mine, &["lr", "fl", "rounding"])
        ));
        let mut lrs: Vec<String> = Vec::new();
        for r in &mine {
            let lr = r.config.tag("lr").unwrap_or_default().to_string();
            if !lrs.contains(&lr) {
                lrs.push(lr);
            }
        }
        let panels: Vec<Panel> = lrs
            .iter()
            .map(|lr| Panel {
                title: format!("{m}, lr {lr}"),
                x_label: "epoch".into(),
                y_label: "test error (%)".into(),
                log_x: false,
                log_y: false,
                series: curves(
                    &mine,
                    |c| c.tag("lr") == Some(lr),
                    &["fl", "rounding"],
                    |e| 100.0 * e.test_error,
                ),
            })
            .collect();
        let name = format!("gupta-{m}.svg");
        report.plots.push((
            name,
            chart::svg(
                &format!("Gupta et al.: {m}, test error per epoch (mean ± sd over seeds)"),
                &panels,
            )?,
        ));
    }
    if models.contains(&"mlp") {
        let lrs = ["0.01", "0.1"];
        report.checks = checks(&results, "mlp", "MLP", &lrs, &lrs);
    }
    if models.contains(&"cnn") {
        // On the CNN, RN at FL 8 fails outright at lr 0.01 (the paper's case: updates below
        // half a step); at lr 0.1 the updates are large enough for RN, and the papers claim no
        // gap there (docs/experiments.md has the numbers).
        report
            .checks
            .extend(checks(&results, "cnn", "CNN", &["0.01"], &["0.01", "0.1"]));
    }
    Ok(report)
}
