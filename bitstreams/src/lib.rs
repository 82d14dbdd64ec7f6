//! qtrain bitstream flows (yosys + nextpnr) for the iCEBreaker and the ULX3S.
//!
//! - [`boards`]: the boards, declaratively (pins, oscillator, UART, resources, presets);
//! - [`pll`], [`link`], [`status_leds`], [`top`]: the board top around the device and its
//!   pin constraints;
//! - [`tools`]: finding yosys, nextpnr and the packers (native or YoWASP);
//! - [`flow`], [`report`]: running them, the fit / timing / DSP checks and report.json.
//!
//! docs/bitstreams.md is the user's guide.

pub mod boards;
pub mod dsp_clock;
pub mod flow;
pub mod link;
pub mod netlist_blocks;
pub mod pll;
pub mod report;
pub mod status_leds;
pub mod tool_run;
pub mod tools;
pub mod top;
