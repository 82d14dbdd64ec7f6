//! A device built for a small geometry (4,096 words of memory, 256-word scratchpad banks,
//! 512-byte bodies) against the software device engine configured with the same limits:
//! CAPABILITIES, every limit's status code, random commands and GEMMs the small scratchpad cuts
//! into many pieces, with identical responses (timing masked) and memory; and the same for the
//! GEMM-only build of those sizes (no vector unit), whose vector commands are all unknown.

mod conformance;

use conformance::{open, random_sequence, Pair};
use qtrain_driver::device::{code, Command, GemmDescriptor, Tensor};
use qtrain_driver::{engine_config, SimBoard};
use qtrain_hdl::device::piece_plan::plan_pieces;
use qtrain_model::Rounding;
use qtrain_sim::{DeviceGeometry, DeviceSimOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ROWS: usize = 2;
const COLS: usize = 2;

fn small() -> DeviceGeometry {
    DeviceGeometry::new(4096, 256, 512).expect("a valid geometry")
}

/// The small device and the engine configured from the geometry (not from what the device
/// says): CAPABILITIES must agree, field for field.
fn open_pair() -> Option<Pair> {
    open_pair_of(small())
}

/// [`open_pair`] for any geometry of the small sizes (with or without the vector unit).
fn open_pair_of(geometry: DeviceGeometry) -> Option<Pair> {
    let options = DeviceSimOptions {
        geometry,
        ..DeviceSimOptions::default()
    };
    let sim: SimBoard = open(ROWS, COLS, options.clone())?;
    let config = engine_config(
        &geometry,
        ROWS as u8,
        COLS as u8,
        options.clock_hz,
        options.baud(),
    );
    let caps = qtrain_driver::accelerator::Accelerator::capabilities(&sim);
    let pair = Pair::with_config(sim, config);
    assert_eq!(caps, pair.model.capabilities());
    assert_eq!(
        (caps.mem_words, caps.max_k, caps.max_body, caps.ops),
        (4096, 256, 512, geometry.ops())
    );
    Some(pair)
}

/// A GEMM of random formats on tensors placed one after another from word 0.
fn gemm_at(
    rng: &mut ChaCha8Rng,
    (m, k, n): (u16, u16, u16),
    trans: (bool, bool),
) -> GemmDescriptor {
    let (a_rows, a_cols) = if trans.0 { (k, m) } else { (m, k) };
    let (b_rows, b_cols) = if trans.1 { (n, k) } else { (k, n) };
    let a = Tensor {
        addr: 0,
        stride: a_cols,
    };
    let b_addr = u32::from(a_rows) * u32::from(a_cols);
    let b = Tensor {
        addr: b_addr,
        stride: b_cols,
    };
    let c = Tensor {
        addr: b_addr + u32::from(b_rows) * u32::from(b_cols),
        stride: n + 1,
    };
    let accumulate = rng.gen_bool(0.5);
    let (fl_a, fl_b) = (rng.gen_range(6..=12), rng.gen_range(6..=12));
    GemmDescriptor {
        a,
        b,
        c,
        m,
        k,
        n,
        trans_a: trans.0,
        trans_b: trans.1,
        accumulate,
        fl_a,
        fl_b,
        fl_c: rng.gen_range(0..=(fl_a + fl_b).min(15)),
        rounding: Rounding::ALL[rng.gen_range(0..3)],
        row_state: rng.gen::<u32>() | 1,
        col_state: rng.gen::<u32>() | 1,
    }
}

/// Commands that only the small limits reject (the SIM device would run them).
fn beyond_the_limits() -> Vec<(u8, Vec<u8>, &'static str)> {
    let mut k_too_long = Command::Gemm(GemmDescriptor {
        a: Tensor {
            addr: 0,
            stride: 257,
        },
        b: Tensor {
            addr: 300,
            stride: 1,
        },
        c: Tensor {
            addr: 600,
            stride: 1,
        },
        m: 1,
        k: 257,
        n: 1,
        trans_a: false,
        trans_b: false,
        accumulate: false,
        fl_a: 8,
        fl_b: 8,
        fl_c: 8,
        rounding: Rounding::Nearest,
        row_state: 1,
        col_state: 1,
    })
    .encode();
    let write = |words: usize| {
        Command::Write {
            addr: 0,
            words: vec![7; words],
        }
        .encode()
    };
    let mut out = vec![
        (
            code::WRITE,
            write(255),
            "WRITE of a 514-byte body: BAD_LENGTH",
        ),
        // The protocol's largest frame, longer than the receive buffer: still a frame.
        (
            code::WRITE,
            write(2046),
            "WRITE of a 4096-byte body: BAD_LENGTH",
        ),
        (
            code::CAPABILITIES,
            vec![0; 600],
            "CAPABILITIES with 600 bytes: BAD_LENGTH",
        ),
        (
            code::READ,
            Command::Read {
                addr: 0,
                count: 257,
            }
            .encode(),
            "READ of 257 words: BAD_ARGUMENT",
        ),
        (
            code::READ,
            Command::Read {
                addr: 4000,
                count: 97,
            }
            .encode(),
            "READ past word 4096: OUT_OF_RANGE",
        ),
        (
            code::GEMM,
            k_too_long.clone(),
            "GEMM with K = 257: OUT_OF_RANGE",
        ),
    ];
    // K beyond max_k and a tensor past the end: K's check comes first (OUT_OF_RANGE either
    // way); with a bad argument as well, BAD_ARGUMENT wins.
    k_too_long[24] |= 0x08;
    out.push((code::GEMM, k_too_long, "GEMM with K = 257 and a bad flag"));
    out
}

#[test]
fn limits_of_a_small_geometry_match_the_engine() {
    let Some(mut pair) = open_pair() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    // Exactly at each limit: accepted.
    let words: Vec<i16> = (0..254).map(|_| rng.gen()).collect();
    let at_limit = Command::Write {
        addr: 4096 - 254,
        words,
    };
    pair.command(&at_limit)
        .expect("a 512-byte WRITE at the top");
    let read = Command::Read {
        addr: 4096 - 256,
        count: 256,
    };
    pair.command(&read).expect("a 256-word READ");
    let fill: Vec<i16> = (0..1200).map(|_| rng.gen_range(-900..900)).collect();
    for (i, chunk) in fill.chunks(254).enumerate() {
        let w = Command::Write {
            addr: (i * 254) as u32,
            words: chunk.to_vec(),
        };
        pair.command(&w).expect("fill");
    }
    let g = gemm_at(&mut rng, (2, 256, 3), (false, true));
    pair.command(&Command::Gemm(g)).expect("K = max_k");
    // M and N as large as the memory holds beside their operands: 11 of the 13 bits the GEMM
    // unit's piece counters keep for a 4,096-word memory (`with_dimension_limit`).
    for dims in [(1, 1, 2000), (1300, 1, 1)] {
        let g = gemm_at(&mut rng, dims, (false, false));
        pair.command(&Command::Gemm(g)).expect("a long GEMM");
    }
    for (kind, body, what) in beyond_the_limits() {
        assert!(pair.check(kind, body, what).is_err(), "{what} was accepted");
    }
    // The long frame left the receiver in order: the next command runs.
    pair.command(&Command::Status)
        .expect("STATUS after the long frames");
    pair.same_memory(0, 4096);
}

#[test]
fn random_commands_on_a_small_geometry_match_the_engine() {
    let Some(mut pair) = open_pair() else { return };
    random_sequence(&mut pair, "2x2 small", 22, 120, beyond_the_limits());
}

/// The GEMM-only device with its converter windows in DSP multipliers (the iCEBreaker's
/// build): every vector command is UNKNOWN_COMMAND on both sides, everything else as before.
#[test]
fn random_commands_on_a_gemm_only_device_match_the_engine() {
    let Some(mut pair) = open_pair_of(small().gemm_only().with_windows_in_dsps()) else {
        return;
    };
    assert_eq!(pair.model.capabilities().ops, 0);
    random_sequence(
        &mut pair,
        "2x2 small GEMM-only",
        24,
        120,
        beyond_the_limits(),
    );
}

#[test]
fn gemms_cut_by_the_small_scratchpad_match_the_engine() {
    let Some(mut pair) = open_pair() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let data: Vec<i16> = (0..3600).map(|_| rng.gen_range(-600..600)).collect();
    for (i, chunk) in data.chunks(254).enumerate() {
        let w = Command::Write {
            addr: (i * 254) as u32,
            words: chunk.to_vec(),
        };
        pair.command(&w).expect("operands");
    }
    for (shape, trans) in [
        ((7, 200, 9), (false, false)),
        ((9, 256, 5), (true, false)),
        ((7, 60, 9), (false, true)),
        ((40, 17, 21), (true, true)),
    ] {
        let (m, k, n) = shape;
        let plan = plan_pieces(ROWS, COLS, 256, usize::from(k), usize::from(n));
        let pieces = usize::from(m).div_ceil(plan.mp_max as usize)
            * usize::from(n).div_ceil(plan.np_max as usize);
        assert!(pieces > 1, "{shape:?} fits one piece: {plan:?}");
        let g = gemm_at(&mut rng, shape, trans);
        pair.command(&Command::Gemm(g)).expect("the GEMM runs");
        pair.same_memory(g.c.addr, u32::from(m) * u32::from(n + 1));
    }
}
