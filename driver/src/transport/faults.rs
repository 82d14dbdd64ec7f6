//! Seeded fault injection for the memory transport.
//!
//! Faults come in two kinds. Byte faults (corrupt, drop, duplicate, truncate) model a noisy
//! or overrun UART line and are applied to payload bytes only, never to USB framing, since
//! USB itself is CRC-protected. Transfer faults (stall, timeout, unplug) model what libusb
//! reports. Every decision comes from one seeded RNG, so a failing run replays exactly.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Per-transfer probabilities of each fault, each in `0.0..=1.0`.
///
/// Each probability is drawn independently per transfer, so one transfer can suffer
/// several byte faults at once. Byte faults only hit transfers that carry payload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultConfig {
    /// XOR one payload byte with a random non-zero value.
    pub corrupt: f64,
    /// Remove one payload byte.
    pub drop: f64,
    /// Repeat one payload byte.
    pub duplicate: f64,
    /// Cut the payload at a random point (possibly to nothing).
    pub truncate: f64,
    /// Halt the endpoint: this and later transfers on it fail until `clear_halt`.
    pub stall: f64,
    /// Fail the transfer with a timeout; nothing is delivered in either direction.
    pub timeout: f64,
    /// Unplug the device: this and every later call fails with `NoDevice`.
    pub unplug: f64,
}

impl FaultConfig {
    /// No faults at all.
    pub fn none() -> FaultConfig {
        FaultConfig::default()
    }

    /// Checks that every probability is a number in `0.0..=1.0`.
    pub fn validate(&self) -> Result<(), String> {
        let all = [
            ("corrupt", self.corrupt),
            ("drop", self.drop),
            ("duplicate", self.duplicate),
            ("truncate", self.truncate),
            ("stall", self.stall),
            ("timeout", self.timeout),
            ("unplug", self.unplug),
        ];
        for (name, p) in all {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("fault probability {name} = {p} is outside 0..=1"));
            }
        }
        Ok(())
    }
}

/// A fault that makes a whole transfer fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferFault {
    /// The endpoint halts.
    Stall,
    /// The transfer times out.
    Timeout,
    /// The device disappears.
    Unplug,
}

/// How many faults of each kind were injected so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Bytes corrupted.
    pub corrupted: u64,
    /// Bytes dropped.
    pub dropped: u64,
    /// Bytes duplicated.
    pub duplicated: u64,
    /// Payloads truncated.
    pub truncated: u64,
    /// Stalls injected.
    pub stalls: u64,
    /// Timeouts injected.
    pub timeouts: u64,
    /// Unplugs injected.
    pub unplugs: u64,
}

impl FaultStats {
    /// The total number of injected faults of any kind.
    pub fn total(&self) -> u64 {
        self.corrupted
            + self.dropped
            + self.duplicated
            + self.truncated
            + self.stalls
            + self.timeouts
            + self.unplugs
    }
}

/// Draws faults from a seeded RNG according to a [`FaultConfig`].
#[derive(Clone, Debug)]
pub struct FaultInjector {
    rng: ChaCha8Rng,
    config: FaultConfig,
    stats: FaultStats,
}

impl FaultInjector {
    /// An injector with the given seed and probabilities; panics on an invalid config,
    /// since that is a bug in the test that built it.
    pub fn new(seed: u64, config: FaultConfig) -> FaultInjector {
        if let Err(e) = config.validate() {
            panic!("invalid FaultConfig: {e}");
        }
        FaultInjector {
            rng: ChaCha8Rng::seed_from_u64(seed),
            config,
            stats: FaultStats::default(),
        }
    }

    /// An injector that never injects anything.
    pub fn disabled() -> FaultInjector {
        FaultInjector::new(0, FaultConfig::none())
    }

    /// The probabilities in force.
    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// Replaces the probabilities, keeping the RNG stream and the statistics.
    pub fn set_config(&mut self, config: FaultConfig) {
        if let Err(e) = config.validate() {
            panic!("invalid FaultConfig: {e}");
        }
        self.config = config;
    }

    /// What was injected so far.
    pub fn stats(&self) -> FaultStats {
        self.stats
    }

    /// Decides whether the next transfer fails as a whole. Unplug is checked first because
    /// it dominates: an unplugged device cannot also stall.
    pub fn transfer_fault(&mut self) -> Option<TransferFault> {
        if self.draw(self.config.unplug) {
            self.stats.unplugs += 1;
            Some(TransferFault::Unplug)
        } else if self.draw(self.config.stall) {
            self.stats.stalls += 1;
            Some(TransferFault::Stall)
        } else if self.draw(self.config.timeout) {
            self.stats.timeouts += 1;
            Some(TransferFault::Timeout)
        } else {
            None
        }
    }

    /// Applies byte faults to one transfer's payload in place.
    pub fn mangle(&mut self, bytes: &mut Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        if self.draw(self.config.corrupt) {
            let i = self.rng.gen_range(0..bytes.len());
            bytes[i] ^= self.rng.gen_range(1..=255u8);
            self.stats.corrupted += 1;
        }
        if self.draw(self.config.drop) && !bytes.is_empty() {
            let i = self.rng.gen_range(0..bytes.len());
            bytes.remove(i);
            self.stats.dropped += 1;
        }
        if self.draw(self.config.duplicate) && !bytes.is_empty() {
            let i = self.rng.gen_range(0..bytes.len());
            bytes.insert(i, bytes[i]);
            self.stats.duplicated += 1;
        }
        if self.draw(self.config.truncate) && !bytes.is_empty() {
            let keep = self.rng.gen_range(0..bytes.len());
            bytes.truncate(keep);
            self.stats.truncated += 1;
        }
    }

    fn draw(&mut self, p: f64) -> bool {
        // Skipping the RNG for p = 0 keeps a fault-free run's stream independent of which
        // fault kinds exist, so adding a kind later does not reshuffle old seeds.
        p > 0.0 && self.rng.gen_bool(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_injector_changes_nothing() {
        let mut f = FaultInjector::disabled();
        let mut data: Vec<u8> = (0..=255).collect();
        let orig = data.clone();
        for _ in 0..1000 {
            assert_eq!(f.transfer_fault(), None);
            f.mangle(&mut data);
        }
        assert_eq!(data, orig);
        assert_eq!(f.stats().total(), 0);
    }

    #[test]
    fn same_seed_same_faults() {
        let cfg = FaultConfig {
            corrupt: 0.3,
            drop: 0.2,
            duplicate: 0.2,
            truncate: 0.1,
            stall: 0.05,
            timeout: 0.05,
            unplug: 0.0,
        };
        let run = |seed| {
            let mut f = FaultInjector::new(seed, cfg.clone());
            let mut out = Vec::new();
            for i in 0..200u32 {
                let mut d: Vec<u8> = i.to_le_bytes().repeat(8);
                let tf = f.transfer_fault();
                f.mangle(&mut d);
                out.push((tf, d));
            }
            (out, f.stats())
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7).0, run(8).0);
    }

    #[test]
    fn each_byte_fault_does_what_it_says() {
        let orig: Vec<u8> = (1..=100).collect();
        let only = |c: FaultConfig| {
            let mut f = FaultInjector::new(3, c);
            let mut d = orig.clone();
            f.mangle(&mut d);
            (d, f.stats())
        };
        let (d, s) = only(FaultConfig {
            corrupt: 1.0,
            ..FaultConfig::none()
        });
        assert_eq!(d.len(), orig.len());
        assert_eq!(d.iter().zip(&orig).filter(|(a, b)| a != b).count(), 1);
        assert_eq!(s.corrupted, 1);

        let (d, s) = only(FaultConfig {
            drop: 1.0,
            ..FaultConfig::none()
        });
        assert_eq!(d.len(), orig.len() - 1);
        assert!(d.iter().all(|b| orig.contains(b)));
        assert_eq!(s.dropped, 1);

        let (d, _) = only(FaultConfig {
            duplicate: 1.0,
            ..FaultConfig::none()
        });
        assert_eq!(d.len(), orig.len() + 1);
        let mut dedup = d.clone();
        dedup.dedup();
        assert_eq!(dedup, orig);

        let (d, s) = only(FaultConfig {
            truncate: 1.0,
            ..FaultConfig::none()
        });
        assert!(d.len() < orig.len());
        assert_eq!(&orig[..d.len()], &d[..]);
        assert_eq!(s.truncated, 1);
    }

    #[test]
    fn rates_match_probabilities() {
        let mut f = FaultInjector::new(
            11,
            FaultConfig {
                timeout: 0.1,
                ..FaultConfig::none()
            },
        );
        let n = 20_000;
        let hits = (0..n)
            .filter(|_| f.transfer_fault() == Some(TransferFault::Timeout))
            .count();
        // 0.1 · 20000 = 2000, standard deviation ≈ 42: ±250 is about 6 sigma.
        assert!((1750..=2250).contains(&hits), "{hits} timeouts");
    }

    #[test]
    #[should_panic(expected = "outside 0..=1")]
    fn invalid_probability_is_rejected() {
        FaultInjector::new(
            0,
            FaultConfig {
                stall: 1.5,
                ..FaultConfig::none()
            },
        );
    }
}
