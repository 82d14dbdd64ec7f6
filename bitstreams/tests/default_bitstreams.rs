//! The boards' default (preset) builds, into bitstreams/<board>/<config>/ of the repository:
//! long (see docs/bitstreams.md for the wall times), so `#[ignore]`d; scripts/build-bitstreams
//! runs them (and .ci/run calls that).
//!
//! ULX3S: the preset must fit, meet timing and have every multiplier in a DSP.
//! iCEBreaker: the GEMM-only device packs into 98 % of the UP5K's logic cells but does not
//! route; the build must stop at its place-and-route limit and say so with the numbers and the
//! per-block breakdown (docs/bitstreams.md, "iCEBreaker"). Its 8x1 core
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
    assert_eq!(pe_multipliers(&r), pes);
}

/// Seconds the CI gives the iCEBreaker preset's place and route: it packs into 98 % of the
/// logic cells, and nextpnr's router then rips up the same few congested wires without end
/// (router1 stalls at ~900 unrouted arcs within 80 s; router2 at 3 overused wires).
const ICEBREAKER_CI_LIMIT_S: u64 = 300;

#[test]
#[ignore = "minutes of yosys and nextpnr: run by scripts/build-bitstreams"]
fn icebreaker_default_build_packs_and_reports_why_it_does_not_route() {
    let cfg = BuildConfig {
        place_route_limit_s: ICEBREAKER_CI_LIMIT_S,
        ..BuildConfig::preset(&ICEBREAKER)
    };
    let r = build_config(cfg);
    // The preset is the GEMM-only device, and its packed logic cells fit the UP5K.
    assert!(!r.config.geometry.vector_unit);
    let lc = r.placed.as_ref().expect("the packing-only run")["ICESTORM_LC"];
    assert!(lc.used <= lc.available && lc.available == 5280, "{lc:?}");
    // More logic cells than LUT4s: flip-flops that share no LUT take cells of their own.
    assert!(lc.used > r.synthesis.luts.used, "{lc:?}");
    // Routing is what fails: stopped at the limit, which the reason states with the fill.
    assert_eq!(r.outcome, Outcome::DoesNotRoute, "{}", r.reason);
    assert!(
        r.reason
            .contains(&format!("after {ICEBREAKER_CI_LIMIT_S} s"))
            && r.reason.contains("logic cells used")
            && r.reason.contains("still routing"),
        "{}",
        r.reason
    );
    assert!(r.bitstream.is_none());
    // The breakdown names the blocks, and their logic-cell estimates (LUTs plus lone
    // flip-flops and carries) add up to within 2 % of what the packer counted.
    assert!(
        r.breakdown.iter().any(|b| b.block == "engine"),
        "{:?}",
        r.breakdown
    );
    let estimate: u64 = r
        .breakdown
        .iter()
        .filter(|b| b.depth == 1)
        .map(|b| b.logic_cells)
        .sum();
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
