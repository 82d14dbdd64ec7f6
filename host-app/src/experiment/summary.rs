//! Summaries shared by the MNIST experiments: per-configuration tables of the final epoch
//! over seeds, curves per epoch, and the samples the checks compare.

use super::chart::Series;
use super::report::table;
use super::runner::{groups, RunConfig, RunResult};
use super::stats::Stats;
use crate::train::metrics::EpochMetrics;

/// The final test errors of the runs `select` picks, in seed order (so that two
/// configurations' samples pair by seed).
pub fn final_errors(results: &[RunResult], select: impl Fn(&RunConfig) -> bool) -> Vec<f64> {
    let mut v: Vec<(u64, f64)> = results
        .iter()
        .filter(|r| select(&r.config))
        .map(|r| (r.config.seed, r.last().test_error))
        .collect();
    v.sort_by_key(|p| p.0);
    v.into_iter().map(|p| p.1).collect()
}

/// Whether the run has all the tags `want`.
pub fn has(c: &RunConfig, want: &[(&str, &str)]) -> bool {
    want.iter().all(|(k, v)| c.tag(k) == Some(*v))
}

/// Mean and sd of `f` per epoch over `runs` (which share their epochs).
pub fn curve(runs: &[&RunResult], f: impl Fn(&EpochMetrics) -> f64) -> Vec<(f64, f64, f64)> {
    let epochs = runs.iter().map(|r| r.epochs.len()).min().unwrap_or(0);
    (0..epochs)
        .map(|e| {
            let s = Stats::of(&runs.iter().map(|r| f(&r.epochs[e])).collect::<Vec<_>>());
            (f64::from(runs[0].epochs[e].epoch), s.mean, s.sd)
        })
        .collect()
}

/// One series per configuration among `results` that `select` picks: `f` per epoch, named by
/// the tags in `name_keys`.
pub fn curves(
    results: &[RunResult],
    select: impl Fn(&RunConfig) -> bool,
    name_keys: &[&str],
    f: impl Fn(&EpochMetrics) -> f64 + Copy,
) -> Vec<Series> {
    groups(results)
        .into_iter()
        .filter(|(_, runs)| select(&runs[0].config))
        .map(|(_, runs)| Series {
            name: name_keys
                .iter()
                .filter_map(|k| runs[0].config.tag(k).map(|v| format!("{k} {v}")))
                .collect::<Vec<_>>()
                .join(", "),
            points: curve(&runs, f),
        })
        .collect()
}

/// A table with a row per configuration: its tags in `keys`, then the last epoch's test
/// error, training loss and fraction of weights changed, each mean ± sd over seeds, and the
/// test error after the first epoch.
pub fn final_table(results: &[RunResult], keys: &[&str]) -> String {
    let mut headers: Vec<&str> = keys.to_vec();
    headers.extend([
        "seeds",
        "test error % (epoch 1)",
        "test error % (last)",
        "train loss (last)",
        "weights changed % (last epoch)",
    ]);
    let rows: Vec<Vec<String>> = groups(results)
        .into_iter()
        .map(|(_, runs)| {
            let c = &runs[0].config;
            let stat = |f: &dyn Fn(&RunResult) -> f64| {
                Stats::of(&runs.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            let mut row: Vec<String> = keys
                .iter()
                .map(|k| c.tag(k).unwrap_or("").to_string())
                .collect();
            let loss = stat(&|r| r.last().loss);
            row.extend([
                runs.len().to_string(),
                stat(&|r| r.epochs[0].test_error).pct(),
                stat(&|r| r.last().test_error).pct(),
                if loss.n > 1 {
                    format!("{:.4} ± {:.4}", loss.mean, loss.sd)
                } else {
                    format!("{:.4}", loss.mean)
                },
                stat(&|r| r.last().weights_changed).pct(),
            ]);
            row
        })
        .collect();
    table(&headers, &rows)
}
