//! Declarative board descriptions: the FPGA, its oscillator, the UART to the host, LEDs, a
//! button, IO standards, the resources the report compares against, and each board's presets.
//!
//! In the spirit of amaranth-boards: a board is data, not code. The board tops
//! ([`crate::top`]) turn it into pin constraints and the flow ([`crate::flow`]) into tool
//! arguments.

pub mod icebreaker;
pub mod ulx3s;

use std::fmt;

/// The FPGA family, which selects the yosys, nextpnr and packer flavours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Lattice iCE40 (yosys `synth_ice40`, nextpnr-ice40, icepack).
    Ice40,
    /// Lattice ECP5 (yosys `synth_ecp5`, nextpnr-ecp5, ecppack).
    Ecp5,
}

/// One package pin with how it is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Pin {
    /// The package site: a pin number on the iCE40 SG48, a ball on the ECP5 BGA.
    pub site: &'static str,
    /// The signal is active low (the LED lights, or the button reads pressed, at 0).
    pub active_low: bool,
    /// ECP5 pull mode (`UP`, `DOWN`, `NONE`); `None` keeps the device default. iCE40 pins
    /// have no pull configuration in a PCF, so the iCEBreaker leaves it `None`.
    pub pull: Option<&'static str>,
}

impl Pin {
    /// An active-high pin without pull configuration.
    pub const fn high(site: &'static str) -> Pin {
        Pin {
            site,
            active_low: false,
            pull: None,
        }
    }

    /// An active-low pin without pull configuration.
    pub const fn low(site: &'static str) -> Pin {
        Pin {
            site,
            active_low: true,
            pull: None,
        }
    }

    /// The same pin with an ECP5 pull mode.
    pub const fn pulled(self, pull: &'static str) -> Pin {
        Pin {
            site: self.site,
            active_low: self.active_low,
            pull: Some(pull),
        }
    }
}

/// Resources of the device, what nextpnr reports as "available".
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Resources {
    /// Logic cells (iCE40: one LUT4 + one FF each) or LUT4s (ECP5: two per slice).
    pub luts: u64,
    /// Flip-flops.
    pub ffs: u64,
    /// Multiplier blocks (SB_MAC16 / MULT18X18D).
    pub dsps: u64,
    /// Block RAMs (SB_RAM40_4K of 4 kbit / DP16KD of 18 kbit).
    pub brams: u64,
    /// Single-port 256 kbit RAMs (iCE40UP only; 0 elsewhere).
    pub sprams: u64,
}

/// The memory sizes a board's device is built with (see `qtrain_hdl::device::DeviceGeometry`):
/// what fits the board's block RAM next to the array's scratch banks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GeometryPreset {
    /// Device memory words (CAPABILITIES `mem_words`).
    pub mem_words: usize,
    /// Words per scratch bank (CAPABILITIES `max_k`).
    pub scratch_words: usize,
    /// Largest command body in bytes (CAPABILITIES `max_body`).
    pub max_body: usize,
    /// Whether the device has the vector unit (CAPABILITIES `ops`); without it, a GEMM-only
    /// device.
    pub vector_unit: bool,
    /// Whether the column heads' converter windows are in DSP multipliers (three per column)
    /// instead of shifters: for a board with DSPs to spare and few logic cells.
    pub windows_in_dsps: bool,
}

impl GeometryPreset {
    /// The device geometry these sizes make, checked.
    pub fn device_geometry(&self) -> Result<qtrain_hdl::DeviceGeometry, qtrain_hdl::GeometryError> {
        let g = qtrain_hdl::DeviceGeometry::new(self.mem_words, self.scratch_words, self.max_body)?;
        let g = if self.vector_unit { g } else { g.gemm_only() };
        Ok(if self.windows_in_dsps {
            g.with_windows_in_dsps()
        } else {
            g
        })
    }
}

/// The configuration `qtrain synth --board X` builds without further options.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Preset {
    /// Array rows.
    pub rows: usize,
    /// Array columns.
    pub cols: usize,
    /// Target core clock in MHz (the PLL gets as close as it can).
    pub freq_mhz: f64,
    /// Device memory sizes.
    pub geometry: GeometryPreset,
}

/// A development board.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Board {
    /// The name `--board` takes.
    pub name: &'static str,
    /// Human-readable name.
    pub title: &'static str,
    /// FPGA family.
    pub family: Family,
    /// Full part number, as printed on the chip.
    pub part: &'static str,
    /// nextpnr's device option (`--up5k`, `--85k`).
    pub nextpnr_device: &'static str,
    /// nextpnr's `--package`.
    pub nextpnr_package: &'static str,
    /// ECP5 speed grade for nextpnr (`--speed`); `None` on iCE40.
    pub speed_grade: Option<u8>,
    /// IO standard of every pin used (`LVCMOS33` for all banks both boards use).
    pub io_standard: &'static str,
    /// The oscillator pin.
    pub clock_pin: Pin,
    /// The oscillator frequency in Hz.
    pub clock_hz: u64,
    /// Host -> FPGA serial line (the USB-UART's TXD).
    pub uart_rx: Pin,
    /// FPGA -> host serial line (the USB-UART's RXD).
    pub uart_tx: Pin,
    /// The USB-UART chip.
    pub uart_chip: &'static str,
    /// The fastest baud the USB-UART supports.
    pub max_baud: u64,
    /// User LEDs, in the order the top drives them (see [`crate::top::LED_MEANINGS`]).
    pub leds: &'static [Pin],
    /// A user button (the top lights all LEDs while it is pressed: a lamp test).
    pub button: Pin,
    /// Device resources.
    pub resources: Resources,
    /// The default configuration.
    pub preset: Preset,
    /// openFPGALoader's `-b` board name.
    pub loader_board: &'static str,
}

impl Board {
    /// Every board, in the order `--help` lists them.
    pub const ALL: [&'static Board; 2] = [&icebreaker::ICEBREAKER, &ulx3s::ULX3S];

    /// The board called `name` (as `--board` takes it).
    pub fn by_name(name: &str) -> Result<&'static Board, UnknownBoard> {
        Board::ALL
            .into_iter()
            .find(|b| b.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownBoard(name.to_string()))
    }
}

/// `--board` named no known board.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct UnknownBoard(pub String);

impl fmt::Display for UnknownBoard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Board::ALL.iter().map(|b| b.name).collect();
        write!(
            f,
            "unknown board '{}'; known boards: {}",
            self.0,
            names.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_resolve_and_unknown_names_list_the_boards() {
        for b in Board::ALL {
            assert_eq!(Board::by_name(b.name).unwrap().name, b.name);
            assert_eq!(Board::by_name(&b.name.to_uppercase()).unwrap().name, b.name);
        }
        let err = Board::by_name("arty").unwrap_err().to_string();
        assert!(err.contains("arty") && err.contains("icebreaker") && err.contains("ulx3s"));
    }

    #[test]
    fn no_board_uses_a_site_twice() {
        for b in Board::ALL {
            let mut sites = vec![
                b.clock_pin.site,
                b.uart_rx.site,
                b.uart_tx.site,
                b.button.site,
            ];
            sites.extend(b.leds.iter().map(|p| p.site));
            let unique: HashSet<_> = sites.iter().collect();
            assert_eq!(unique.len(), sites.len(), "{}: {sites:?}", b.name);
        }
    }

    #[test]
    fn presets_respect_the_dsp_count() {
        // One multiplier per PE, and the PEs' multipliers must all sit in DSP blocks.
        for b in Board::ALL {
            let pes = (b.preset.rows * b.preset.cols) as u64;
            assert!(pes <= b.resources.dsps, "{}: {pes} PEs", b.name);
            assert!(b.preset.geometry.mem_words.is_power_of_two());
            assert!(b.preset.geometry.scratch_words.is_power_of_two());
        }
    }
}
