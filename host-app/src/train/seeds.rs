//! Every random choice of a run is derived from its seed and *where* it is made (epoch,
//! step, operation), never from a generator carried along: a resumed run therefore draws
//! exactly what the uninterrupted run draws, with no generator state to checkpoint.

use qtrain_model::splitmix64;

/// Domain of the initial weights.
pub const INIT: u64 = 1;
/// Domain of an epoch's data order.
pub const SHUFFLE: u64 = 2;
/// Domain of a training step's rounding (device LFSR seeds and host stochastic rounding).
pub const STEP: u64 = 3;
/// Domain of an evaluation batch's rounding.
pub const EVAL: u64 = 4;

/// A 64-bit seed for the place named by `path` within the run of `seed`.
pub fn derive(seed: u64, path: &[u64]) -> u64 {
    path.iter()
        .fold(splitmix64(seed, 0x0071_7261_696e), |acc, &p| {
            splitmix64(acc, p.wrapping_add(1))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_get_distinct_seeds() {
        let seeds = [
            derive(1, &[STEP, 0, 0]),
            derive(1, &[STEP, 0, 1]),
            derive(1, &[STEP, 1, 0]),
            derive(2, &[STEP, 0, 0]),
            derive(1, &[EVAL, 0, 0]),
            derive(1, &[STEP, 0]),
        ];
        for (i, a) in seeds.iter().enumerate() {
            for b in &seeds[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(derive(1, &[STEP, 0, 0]), seeds[0]);
    }
}
