//! Radiona ULX3S v3: LFE5U-85F-6BG381C, 25 MHz oscillator, FT231X USB-UART.
//!
//! Pins from the board's reference constraint file, emard/ulx3s
//! `doc/constraints/ulx3s_v20.lpf` (clk_25mhz G2; ftdi_txd M1 and ftdi_rxd L4, named from the
//! FTDI's side; led[0..7] B2 C2 C1 D2 D1 E2 E1 H3; FIRE2 button T1, active high with a
//! pull-down), all LVCMOS33.

use super::{Board, Family, GeometryPreset, Pin, Preset, Resources};

/// The eight user LEDs, active high.
const LEDS: [Pin; 8] = [
    Pin::high("B2"),
    Pin::high("C2"),
    Pin::high("C1"),
    Pin::high("D2"),
    Pin::high("D1"),
    Pin::high("E2"),
    Pin::high("E1"),
    Pin::high("H3"),
];

/// The ULX3S with the 85F part.
pub const ULX3S: Board = Board {
    name: "ulx3s",
    title: "ULX3S (LFE5U-85F-6BG381C)",
    family: Family::Ecp5,
    part: "LFE5U-85F-6BG381C",
    nextpnr_device: "--85k",
    nextpnr_package: "CABGA381",
    speed_grade: Some(6),
    io_standard: "LVCMOS33",
    clock_pin: Pin::high("G2"),
    clock_hz: 25_000_000,
    // FTDI TXD -> FPGA M1; FPGA L4 -> FTDI RXD. A pull-up keeps the line idle (high) while the
    // FTDI is not driving it, so that the receiver does not see a start bit.
    uart_rx: Pin::high("M1").pulled("UP"),
    uart_tx: Pin::high("L4"),
    uart_chip: "FT231X",
    max_baud: 3_000_000,
    leds: &LEDS,
    button: Pin::high("T1").pulled("DOWN"),
    resources: Resources {
        luts: 83_640,
        ffs: 83_640,
        dsps: 156,
        brams: 208,
        sprams: 0,
    },
    // 12x12, 144 PEs (146 of 156 multipliers with UPDATE's and the address multiply), is the
    // largest square array the 85F holds. It closes at 30 MHz (41.78 MHz routed at seed 1) and
    // builds in about 18 minutes with nextpnr's static placer, which CI can afford; with HeAP
    // its routing took well over an hour (docs/performance.md).
    preset: Preset {
        rows: 12,
        cols: 12,
        freq_mhz: 30.0,
        geometry: GeometryPreset {
            vector_unit: true,
            mem_words: 32_768,
            scratch_words: 1024,
            max_body: 4096,
            windows_in_dsps: false,
        },
    },
    loader_board: "ulx3s",
};
