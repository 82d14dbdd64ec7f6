//! What `qtrain synth` writes before any tool runs: configuration names, the board top around
//! the device or the core bench, the iCE40 PLL. Fast; no tools needed.

use qtrain_bitstreams::boards::{icebreaker::ICEBREAKER, ulx3s::ULX3S};
use qtrain_bitstreams::flow::{clocking, generate, nextpnr_args, BuildConfig, Placer, Top};

#[test]
fn configuration_names_say_what_was_built() {
    let ice = BuildConfig::preset(&ICEBREAKER);
    assert_eq!(
        ice.dir_name(),
        "1x1-24mhz-mem1024-k256-body512-gemm-only-dspwin-seed1"
    );
    let ulx = BuildConfig::preset(&ULX3S);
    assert_eq!(ulx.dir_name(), "12x12-30mhz-mem32768-k1024-body4096-seed1");
    let core = BuildConfig {
        top: Top::Core,
        rows: 8,
        cols: 1,
        freq_mhz: 30.0,
        ..ice
    };
    assert_eq!(core.dir_name(), "core-8x1-30mhz-k256-seed1");
}

#[test]
fn the_icebreaker_device_is_gemm_only_behind_a_pad_pll() {
    let cfg = BuildConfig::preset(&ICEBREAKER);
    let (verilog, pcf) = generate(&cfg, &clocking(&cfg).unwrap()).unwrap();
    assert!(verilog.contains("SB_PLL40_PAD") && verilog.contains(".PACKAGEPIN(clock_in)"));
    assert!(!verilog.contains("SB_PLL40_CORE"));
    assert!(
        verilog.contains(".clocks_per_bit(16'd"),
        "the device gets its link constants"
    );
    // CAPABILITIES ops = 0: no vector unit.
    assert!(verilog.contains("wire [223:0] caps = {32'h0, baud"), "ops");
    assert!(pcf.contains("set_io clk 35"));
}

#[test]
fn the_core_bench_takes_the_device_socket_without_link_constants() {
    for board in [&ICEBREAKER, &ULX3S] {
        let cfg = BuildConfig {
            top: Top::Core,
            rows: 2,
            cols: 4,
            ..BuildConfig::preset(board)
        };
        let (verilog, _) = generate(&cfg, &clocking(&cfg).unwrap()).unwrap();
        assert!(
            verilog.contains(
                "qtrain_device device(.clock(clock), .uart_rx(uart_rx), .uart_tx(uart_tx));"
            ),
            "{}",
            board.name
        );
        assert!(verilog.contains("module qtrain_device(clock,uart_rx,uart_tx);"));
        assert!(!verilog.contains("clocks_per_bit"));
    }
    let cfg = BuildConfig {
        top: Top::Core,
        rows: 5,
        cols: 7,
        ..BuildConfig::preset(&ULX3S)
    };
    let err = generate(&cfg, &clocking(&cfg).unwrap()).unwrap_err();
    assert!(err.to_string().contains("8x1"), "{err}");
}

#[test]
fn nextpnr_places_each_family_with_its_placer_for_the_board_clock() {
    let ulx = BuildConfig::preset(&ULX3S);
    let args = nextpnr_args(&ulx, &clocking(&ulx).unwrap()).join(" ");
    assert!(
        args.starts_with("--85k --package CABGA381 --speed 6 "),
        "{args}"
    );
    assert!(
        args.contains("--freq 30 --seed 1 --placer static"),
        "{args}"
    );
    assert!(
        args.ends_with("--lpf board.lpf --textcfg top.config"),
        "{args}"
    );
    let ice = BuildConfig::preset(&ICEBREAKER);
    let args = nextpnr_args(&ice, &clocking(&ice).unwrap()).join(" ");
    assert!(args.contains("--freq 24 --seed 1 --placer heap"), "{args}");
    assert!(args.ends_with("--pcf board.pcf --asc top.asc"), "{args}");
    let sa = BuildConfig {
        placer: Placer::Sa,
        seed: 7,
        ..ice
    };
    let args = nextpnr_args(&sa, &clocking(&sa).unwrap()).join(" ");
    assert!(args.contains("--seed 7 --placer sa"), "{args}");
}
