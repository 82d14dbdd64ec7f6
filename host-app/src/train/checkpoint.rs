//! The run's checkpoint: its identity, the epochs done, the parameters and the metrics so
//! far, written atomically after every epoch so that `--resume` finds a whole one.
//!
//! Nothing else is needed to resume bit for bit: every random choice is derived from the seed
//! and the epoch and step it is made in (`seeds`), and the device buffers other than the
//! parameters are overwritten by every step before they are read.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use super::methods::{MethodConfig, Params};
use super::metrics::EpochMetrics;
use crate::operands::write_atomically;

/// Bumped when the layout changes.
pub const FORMAT: u32 = 1;

/// What fixes a run's numbers (apart from how many epochs it runs): a resumed run must
/// agree on all of it. The backend is not part of it: every backend computes the same bits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunIdentity {
    /// `mlp`.
    pub model: String,
    /// Layer widths.
    pub layers: Vec<usize>,
    /// Method and its options.
    pub method: MethodConfig,
    /// Batch size.
    pub batch: usize,
    /// Learning rate of the mean loss.
    pub lr: f64,
    /// Seed.
    pub seed: u64,
    /// Training images used.
    pub train_images: usize,
    /// Test images used.
    pub test_images: usize,
}

/// A checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// [`FORMAT`].
    pub format: u32,
    /// The run.
    pub identity: RunIdentity,
    /// Epochs completed.
    pub epochs_done: u32,
    /// Parameters after them.
    pub params: Params,
    /// Their metrics.
    pub history: Vec<EpochMetrics>,
}

/// The checkpoint file of a run folder.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("checkpoint.json")
}

/// Writes the checkpoint atomically.
pub fn save(dir: &Path, c: &Checkpoint) -> anyhow::Result<()> {
    let text = serde_json::to_vec(c)?;
    write_atomically(&path(dir), &text).with_context(|| format!("writing {}", path(dir).display()))
}

/// Reads the checkpoint of `dir`, if there is one.
pub fn load(dir: &Path) -> anyhow::Result<Option<Checkpoint>> {
    let p = path(dir);
    if !p.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
    let c: Checkpoint = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a qtrain checkpoint", p.display()))?;
    if c.format != FORMAT {
        bail!(
            "{}: checkpoint format {}, this qtrain reads {FORMAT}",
            p.display(),
            c.format
        );
    }
    Ok(Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_exactly() {
        let dir = std::env::temp_dir().join(format!("qtrain-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(load(&dir).unwrap().is_none());
        let c = Checkpoint {
            format: FORMAT,
            identity: RunIdentity {
                model: "mlp".into(),
                layers: vec![4, 3],
                method: MethodConfig::Float32,
                batch: 2,
                lr: 0.1,
                seed: 9,
                train_images: 10,
                test_images: 5,
            },
            epochs_done: 1,
            // Bit patterns a decimal round trip could lose: a NaN payload and a subnormal.
            params: Params::F32 {
                tensors: vec![vec![0x7fc0_1234, 1, 0x8000_0000], vec![3]],
            },
            history: Vec::new(),
        };
        save(&dir, &c).unwrap();
        assert_eq!(load(&dir).unwrap().unwrap(), c);
        std::fs::write(path(&dir), b"{}").unwrap();
        assert!(load(&dir)
            .unwrap_err()
            .to_string()
            .contains("not a qtrain checkpoint"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
