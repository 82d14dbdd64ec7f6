//! The boards' default (preset) builds, into bitstreams/<board>/<config>/ of the repository:
//! long (see docs/bitstreams.md for the wall times), so `#[ignore]`d; scripts/build-bitstreams
//! runs them (and .ci/run calls that).
//!
//! ULX3S: the preset (the 12x12 device, 144 PEs, the PE goal) must fit, meet timing and
//! have every multiplier in a DSP.
//! iCEBreaker: the preset (the GEMM-only 1x1 device, its converter window in DSPs) must fit,
//! meet timing at 24 MHz and have every multiplier in a DSP too. Its 8x1 core
//! bench (`--top core`) must fit with all 8 SB_MAC16 as PEs and meet the 30 MHz goal (35.52 MHz
//! at seed 1, docs/performance.md).

use qtrain_bitstreams::boards::{icebreaker::ICEBREAKER, ulx3s::ULX3S, Board};
use qtrain_bitstreams::flow::{self, BuildConfig, Outcome, Report, Top};
use qtrain_bitstreams::tools::find_toolchain_here;

fn build(board: &'static Board) -> Report {
    build_config(BuildConfig::preset(board))
}

fn build_config(cfg: BuildConfig) -> Report {
    let board = cfg.board;
    let tools =
        find_toolchain_here(board.family).expect("scripts/install-tools installs the tools");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join(board.name).join(cfg.dir_name());
    let report = flow::run(&cfg, &tools, &dir).expect("the tools run");
    eprintln!(
        "{}: {:?} in {:.0} s: {}",
        board.name, report.outcome, report.wall_seconds.total, report.reason
    );
    report
}

/// The multipliers of the design that belong to PEs (by their hierarchical names).
fn pe_multipliers(r: &Report) -> usize {
    r.dsp_proof
        .multipliers
        .iter()
        .filter(|m| m.contains("pe$"))
        .count()
}

#[test]
#[ignore = "minutes of yosys and nextpnr: run by scripts/build-bitstreams"]
fn ulx3s_default_build_meets_timing_with_every_multiplier_in_a_dsp() {
    let r = build(&ULX3S);
    assert_eq!(r.outcome, Outcome::Ok, "{}", r.reason);
    let t = r.timing.as_ref().unwrap();
    assert!(t.met && t.target_mhz >= ULX3S.preset.freq_mhz * 0.99);
    assert!(r.dsp_proof.every_multiplier_in_dsp);
    let pes = r.config.rows * r.config.cols;
    assert!(pes >= 144, "the ECP5-85F goal is at least 144 PEs");
    assert_eq!(pe_multipliers(&r), pes);
    let placed = r.placed.as_ref().expect("nextpnr ran");
    let mults = placed["MULT18X18D"];
    assert!(
        mults.used <= mults.available && mults.used >= pes as u64,
        "{mults:?}"
    );
    eprintln!(
        "ULX3S {}x{}: {} of {} MULT18X18D, {:.2} MHz routed (target {})",
        r.config.rows,
        r.config.cols,
        mults.used,
        mults.available,
        t.clocks[0].achieved_mhz,
        t.target_mhz
    );
}

#[test]
#[ignore = "a minute of yosys and nextpnr: run by scripts/build-bitstreams"]
fn icebreaker_default_build_meets_timing_with_every_multiplier_in_a_dsp() {
    let r = build(&ICEBREAKER);
    assert_eq!(r.outcome, Outcome::Ok, "{}", r.reason);
    // The preset is the GEMM-only device with its converter window in DSPs, packed into the
    // UP5K's logic cells; more cells than LUT4s, because flip-flops that share no LUT take
    // cells of their own.
    assert!(!r.config.geometry.vector_unit && r.config.geometry.windows_in_dsps);
    let placed = r.placed.as_ref().expect("nextpnr ran");
    let lc = placed["ICESTORM_LC"];
    assert!(lc.used <= lc.available && lc.available == 5280, "{lc:?}");
    assert!(lc.used > r.synthesis.luts.used, "{lc:?}");
    // The PE, the converter window's three and the range check's address multiply.
    assert_eq!(placed["ICESTORM_DSP"].used, 5);
    assert!(r.dsp_proof.every_multiplier_in_dsp);
    assert_eq!(pe_multipliers(&r), 1);
    let timing = r.timing.as_ref().expect("routed");
    assert!(timing.met && timing.target_mhz == 24.0, "{timing:?}");
    assert!(r.bitstream.is_some());
}

/// A place and route past its limit stops with `does_not_route`, the fill and the breakdown
/// (the limit exists for designs that pack into nearly every cell: the iCEBreaker device before
/// its DSP clocks were tied, docs/bitstreams.md).
#[test]
#[ignore = "half a minute of yosys: run by scripts/build-bitstreams"]
fn icebreaker_build_past_its_place_and_route_limit_is_stopped() {
    let cfg = BuildConfig {
        place_route_limit_s: 1,
        ..BuildConfig::preset(&ICEBREAKER)
    };
    // Not into bitstreams/icebreaker/: the preset's directory belongs to its own build.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("stopped")
        .join(cfg.dir_name());
    let tools = find_toolchain_here(cfg.board.family).expect("scripts/install-tools");
    let r = flow::run(&cfg, &tools, &dir).expect("the tools run");
    assert_eq!(r.outcome, Outcome::DoesNotRoute, "{}", r.reason);
    assert!(
        r.reason.contains("stopped after 1 s") && r.reason.contains("logic cells used"),
        "{}",
        r.reason
    );
    assert!(r.bitstream.is_none() && r.timing.is_none());
    let estimate: u64 = r
        .breakdown
        .iter()
        .filter(|b| b.depth == 1)
        .map(|b| b.logic_cells)
        .sum();
    let lc = r.placed.as_ref().expect("the packing-only run")["ICESTORM_LC"];
    assert!(
        estimate.abs_diff(lc.used) * 50 <= lc.used,
        "estimate {estimate}, packed {}",
        lc.used
    );
}

#[test]
#[ignore = "half a minute of yosys and nextpnr: run by scripts/build-bitstreams"]
fn icebreaker_8x1_core_bench_holds_all_eight_dsps_as_pes() {
    let cfg = BuildConfig {
        top: Top::Core,
        rows: 8,
        cols: 1,
        freq_mhz: 30.0,
        ..BuildConfig::preset(&ICEBREAKER)
    };
    let r = build_config(cfg);
    assert_eq!(r.outcome, Outcome::Ok, "{}", r.reason);
    let placed = r.placed.as_ref().expect("nextpnr ran");
    let lc = placed["ICESTORM_LC"];
    assert!(lc.used <= lc.available, "{lc:?}");
    assert_eq!(placed["ICESTORM_DSP"].used, 8);
    assert!(r.dsp_proof.every_multiplier_in_dsp);
    assert_eq!(pe_multipliers(&r), 8);
    let t = r.timing.as_ref().expect("timing");
    eprintln!(
        "iCE40 8x1 core: {} of {} LCs, {:.2} MHz (goal 30)",
        lc.used, lc.available, t.clocks[0].achieved_mhz
    );
}
