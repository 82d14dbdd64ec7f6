//! The Verilated device top (SimBoard) against the software device engine (what ModelBoard
//! runs), command for command: bit-identical responses (GEMM `cycles` and STATUS
//! `busy_cycles` are timing and masked) and identical memory, plus the link's recovery from
//! corrupted bytes on the simulated UART.

mod conformance;

use conformance::{open, random_gemm, random_sequence, Pair, REGION};
use qtrain_driver::device::{Command, GemmDescriptor, Tensor};
use qtrain_driver::transport::{FaultConfig, FaultInjector};
use qtrain_model::Rounding;
use qtrain_sim::DeviceSimOptions;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The random sequence on the `rows x cols` device of the simulation's geometry.
fn random_sim_sequence(rows: usize, cols: usize, seed: u64, steps: usize) {
    let Some(sim) = open(rows, cols, DeviceSimOptions::default()) else {
        return;
    };
    let mut pair = Pair::new(sim);
    random_sequence(&mut pair, &format!("{rows}x{cols}"), seed, steps, vec![]);
}

#[test]
fn random_commands_match_the_engine_2x2() {
    random_sim_sequence(2, 2, 1, 120);
}

#[test]
#[ignore = "several minutes: more shapes and longer sequences"]
fn random_commands_match_the_engine_all_shapes() {
    for (i, &(r, c)) in qtrain_hdl::SUPPORTED_SHAPES.iter().enumerate() {
        random_sim_sequence(r, c, 100 + i as u64, 400);
    }
}

#[test]
fn a_gemm_cut_into_pieces_matches_the_engine() {
    let Some(sim) = open(2, 2, DeviceSimOptions::default()) else {
        return;
    };
    let mut pair = Pair::new(sim);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    // ceil(M/R) * K = 2 * 8200 exceeds a 16384-word A bank: the unit must cut M.
    let (m, k, n) = (3u16, 8200u16, 2u16);
    let a: Vec<i16> = (0..u32::from(m) * u32::from(k))
        .map(|_| rng.gen_range(-500..500))
        .collect();
    let b: Vec<i16> = (0..u32::from(k) * u32::from(n))
        .map(|_| rng.gen_range(-500..500))
        .collect();
    let b_addr = a.len() as u32;
    let c_addr = b_addr + b.len() as u32;
    for (base, data) in [(0u32, &a), (b_addr, &b)] {
        for (i, chunk) in data.chunks(2000).enumerate() {
            pair.command(&Command::Write {
                addr: base + (i * 2000) as u32,
                words: chunk.to_vec(),
            })
            .expect("write operands");
        }
    }
    for accumulate in [false, true] {
        let g = GemmDescriptor {
            a: Tensor { addr: 0, stride: k },
            b: Tensor {
                addr: b_addr,
                stride: n,
            },
            c: Tensor {
                addr: c_addr,
                stride: n,
            },
            m,
            k,
            n,
            trans_a: false,
            trans_b: false,
            accumulate,
            fl_a: 8,
            fl_b: 8,
            fl_c: 6,
            rounding: Rounding::Stochastic,
            row_state: 0xACE1,
            col_state: 0xBEEF,
        };
        pair.command(&Command::Gemm(g)).expect("the GEMM runs");
    }
    pair.same_memory(c_addr, u32::from(m) * u32::from(n));
}

#[test]
fn corrupted_bytes_are_retried_and_the_results_still_match() {
    let Some(mut sim) = open(2, 2, DeviceSimOptions::default()) else {
        return;
    };
    sim.set_faults(Some(FaultInjector::new(
        5,
        FaultConfig {
            corrupt: 0.1,
            drop: 0.02,
            ..FaultConfig::none()
        },
    )));
    let mut pair = Pair::new(sim);
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    for _ in 0..12 {
        let n = rng.gen_range(1..=64);
        let addr = rng.gen_range(0..REGION - n);
        let words: Vec<i16> = (0..n).map(|_| rng.gen()).collect();
        let w = Command::Write { addr, words };
        pair.command(&w).expect("write survives the faults");
        let g = random_gemm(&mut rng, 6);
        let _ = pair.command(&Command::Gemm(g));
    }
    let injected = pair.sim.faults().expect("installed").stats();
    let link = pair.sim.link_stats();
    assert!(injected.corrupted > 0, "{injected:?}");
    assert!(link.retries > 0 && link.timeouts > 0, "{link:?}");
    // Retries are answered from the device's seq memory, so nothing ran twice: the final
    // memory is what the fault-free engine computed.
    pair.sim.set_faults(None);
    pair.same_memory(0, REGION);
    // The device counted the corrupted frames it dropped.
    let status = {
        use qtrain_driver::accelerator::Accelerator;
        pair.sim.status().expect("status")
    };
    assert!(status.crc_errors + status.frame_errors > 0, "{status:?}");
}
