//! `qtrain experiment wage`: WAGE 2-8-8-8 (Wu et al., ICLR 2018) on the LeNet-like CNN, where
//! the training library has the CNN for `--method wage`, else on the MLP (and the report
//! says so), with float32 on the same network as the reference.

use super::chart::Panel;
use super::report::Report;
use super::runner::RunConfig;
use super::stats::below;
use super::summary::{curves, final_errors, final_table, has};
use super::{chart, Options};
use crate::commands::board::Backend;
use crate::commands::train::CNN_MODEL_MEM_WORDS;
use crate::train::device::open_board;
use crate::train::methods::cnn::{build_cnn, CnnBuildArgs};
use crate::train::methods::wage::WageConfig;
use crate::train::methods::MethodConfig;
use crate::train::net::cnn::{init_cnn, CnnShape};

const WAGE: WageConfig = WageConfig {
    w: 2,
    a: 8,
    g: 8,
    e: 8,
};

/// Whether the training library trains the CNN with WAGE (asked of it, not assumed), on a
/// model board when the method runs on one.
fn cnn_has_wage() -> bool {
    let shape = CnnShape::LENET;
    let init = init_cnn(&shape, 1);
    let method = MethodConfig::Wage(WAGE);
    let board = if method.uses_device() {
        match open_board(Backend::Model, Some(CNN_MODEL_MEM_WORDS), None) {
            Ok(b) => Some(b),
            Err(_) => return false,
        }
    } else {
        None
    };
    build_cnn(
        &method,
        CnnBuildArgs {
            shape: &shape,
            init: &init,
            batch: 8,
            lr: 1.0,
            board,
        },
    )
    .is_ok()
}

/// Runs the experiment.
pub fn run(opts: &Options) -> anyhow::Result<Report> {
    let model: &'static str = if cnn_has_wage() { "cnn" } else { "mlp" };
    let (train, test, epochs) = opts.pick((Some(4000), Some(2000), 2), (None, None, 5));
    let data = opts.data(train, test)?;
    let mut configs = Vec::new();
    // WAGE's η is in units of the gradient grid (they used 8); float32 at the training default.
    for (method, name, lr) in [
        (MethodConfig::Float32, "float32", 0.1),
        (MethodConfig::Wage(WAGE), "wage 2-8-8-8", 8.0),
        (MethodConfig::Wage(WAGE), "wage 2-8-8-8", 1.0),
    ] {
        for &seed in &opts.seeds(3) {
            configs.push(RunConfig {
                model,
                method: method.clone(),
                batch: 64,
                lr,
                seed,
                epochs,
                tags: vec![("method", name.to_string()), ("lr", lr.to_string())],
                sign_changes: false,
            });
        }
    }
    let results = opts.runner(&data).run_all(&configs)?;
    let mut report = Report {
        title: format!(
            "WAGE 2-8-8-8 (Wu et al. 2018) on the {}",
            model.to_uppercase()
        ),
        command: opts.command.clone(),
        csv: super::runner::epochs_csv(&results),
        ..Report::default()
    };
    let note = if model == "cnn" {
        "The LeNet-like CNN (docs/training.md).".to_string()
    } else {
        "**On the MLP 784-256-10**: this build's training library does not train the CNN with \
         `--method wage` yet (`qtrain train --model cnn --method wage` is refused); the \
         experiment switches to the CNN by itself once it does."
            .to_string()
    };
    report.sections.push(format!(
        "{}{note} Batch 64, plain SGD, no momentum; η = lr for WAGE. Errors in %, mean ± sd over seeds.\n\n{}",
        opts.scale_note(&data, epochs, opts.seeds(3).len()),
        final_table(&results, &["method", "lr"])
    ));
    report.plots.push((
        "wage.svg".into(),
        chart::svg(
            "WAGE 2-8-8-8: test error per epoch (mean ± sd over seeds)",
            &[Panel {
                title: model.to_uppercase(),
                x_label: "epoch".into(),
                y_label: "test error (%)".into(),
                log_x: false,
                log_y: false,
                series: curves(
                    &results,
                    |_| true,
                    &["method", "lr"],
                    |e| 100.0 * e.test_error,
                ),
            }],
        )?,
    ));
    // Only that it learns (chance is 90%). At the quick scale (4,000 images, 2 epochs) the
    // paper's eta = 8 reached 11-13% on the CNN over three seeds and eta = 1, which learns
    // much more slowly, 28-37%; the bounds leave room for other seeds without admitting a
    // net that does not learn (the clip-derivative bug of docs/training.md gave ~50%).
    for (lr, bound) in [("8", 0.25), ("1", 0.6)] {
        report.checks.push(below(
            format!(
                "WAGE 2-8-8-8, η = {lr}, {model}: final test error below {:.0}%",
                100.0 * bound
            ),
            &final_errors(&results, |c| {
                has(c, &[("method", "wage 2-8-8-8"), ("lr", lr)])
            }),
            &vec![bound; opts.seeds(3).len()],
            0.0,
        ));
    }
    Ok(report)
}
