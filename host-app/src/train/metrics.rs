//! Per-epoch metrics of a run, written as `metrics.json` and `metrics.csv` in the run folder.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::operands::write_atomically;

/// One epoch's numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: u32,
    /// Mean training cross-entropy over the epoch's batches (each measured before its step).
    pub loss: f64,
    /// Training error over the epoch's batches, measured the same way.
    pub train_error: f64,
    /// Error on the test set after the epoch.
    pub test_error: f64,
    /// Mean cross-entropy on the test set after the epoch.
    pub test_loss: f64,
    /// Fraction of parameters (weights and biases) whose stored value changed in the epoch.
    pub weights_changed: f64,
    /// Wall time of the epoch: training and testing (not checkpointing).
    pub wall_seconds: f64,
    /// Wall time of the training steps alone.
    pub train_seconds: f64,
    /// Device cycles of the epoch, when the backend counts them (the software engine of the
    /// `model` backend does not: null).
    pub device_cycles: Option<u64>,
    /// Bytes of frames that crossed (for `model`: would have crossed) the link in the epoch;
    /// null for methods that run on the host.
    pub link_bytes: Option<u64>,
}

/// Column names of `metrics.csv`, in order.
pub const CSV_HEADER: &str = "epoch,loss,train_error,test_error,test_loss,weights_changed,wall_seconds,train_seconds,device_cycles,link_bytes";

fn opt(v: Option<u64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The CSV text: a header, then one row per epoch (empty cells for absent counters).
pub fn to_csv(epochs: &[EpochMetrics]) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    for e in epochs {
        out.push_str(&format!(
            "{},{},{},{},{},{},{:.3},{:.3},{},{}\n",
            e.epoch,
            e.loss,
            e.train_error,
            e.test_error,
            e.test_loss,
            e.weights_changed,
            e.wall_seconds,
            e.train_seconds,
            opt(e.device_cycles),
            opt(e.link_bytes)
        ));
    }
    out
}

/// Writes `metrics.json` (`{"run": ..., "epochs": [...]}`) and `metrics.csv`, each atomically.
pub fn write(dir: &Path, run: &serde_json::Value, epochs: &[EpochMetrics]) -> anyhow::Result<()> {
    let json = serde_json::json!({ "run": run, "epochs": epochs });
    let text = serde_json::to_string_pretty(&json)?;
    write_atomically(&dir.join("metrics.json"), text.as_bytes())
        .with_context(|| format!("writing {}/metrics.json", dir.display()))?;
    write_atomically(&dir.join("metrics.csv"), to_csv(epochs).as_bytes())
        .with_context(|| format!("writing {}/metrics.csv", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_row_per_epoch_and_blank_absent_counters() {
        let e = EpochMetrics {
            epoch: 1,
            loss: 0.5,
            train_error: 0.25,
            test_error: 0.125,
            test_loss: 0.4,
            weights_changed: 1.0,
            wall_seconds: 2.0,
            train_seconds: 1.5,
            device_cycles: None,
            link_bytes: Some(42),
        };
        let csv = to_csv(&[e.clone(), EpochMetrics { epoch: 2, ..e }]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].split(',').count(), lines[1].split(',').count());
        assert_eq!(lines[1], "1,0.5,0.25,0.125,0.4,1,2.000,1.500,,42");
        assert!(lines[2].starts_with("2,"));
    }
}
