//! 1BitSquared iCEBreaker v1.0: iCE40UP5K-SG48, 12 MHz oscillator, FT2232H whose channel B is
//! the UART to the host.
//!
//! Pins from the board's reference constraint file, YosysHQ/icestorm
//! `examples/icebreaker/icebreaker.pcf` (CLK 35, RX 6, TX 9, BTN_N 10, LEDR_N 11, LEDG_N 37),
//! which the schematic (icebreaker v1.0e) agrees with. Both LEDs and the button are active low.

use super::{Board, Family, GeometryPreset, Pin, Preset, Resources};

/// The two on-board LEDs: red (LEDR_N) and green (LEDG_N), active low.
const LEDS: [Pin; 2] = [Pin::low("11"), Pin::low("37")];

/// The iCEBreaker.
pub const ICEBREAKER: Board = Board {
    name: "icebreaker",
    title: "iCEBreaker (iCE40UP5K-SG48)",
    family: Family::Ice40,
    part: "iCE40UP5K-SG48",
    nextpnr_device: "--up5k",
    nextpnr_package: "sg48",
    speed_grade: None,
    io_standard: "SB_LVCMOS",
    clock_pin: Pin::high("35"),
    clock_hz: 12_000_000,
    // The FT2232H's channel B TXD drives FPGA pin 6; FPGA pin 9 drives its RXD.
    uart_rx: Pin::high("6"),
    uart_tx: Pin::high("9"),
    uart_chip: "FT2232H (channel B)",
    max_baud: 12_000_000,
    leds: &LEDS,
    button: Pin::low("10"),
    resources: Resources {
        luts: 5280,
        ffs: 5280,
        dsps: 8,
        brams: 30,
        sprams: 4,
    },
    // The whole device does not fit the UP5K (docs/bitstreams.md, "iCEBreaker"): this is the
    // smallest build, GEMM-only (no vector unit), with the converter's window in 3 of the
    // SB_MAC16 the single PE leaves free.
    preset: Preset {
        rows: 1,
        cols: 1,
        freq_mhz: 24.0,
        geometry: GeometryPreset {
            vector_unit: false,
            mem_words: 1024,
            scratch_words: 256,
            max_body: 512,
            windows_in_dsps: true,
        },
    },
    loader_board: "ice40_generic",
};
