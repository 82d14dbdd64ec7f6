//! The PLLs between a board's oscillator and the device clock.
//!
//! iCE40: rust-hdl-fpga-support's `ICE40PLLBlock<FIN, FOUT>` picks the SB_PLL40_CORE dividers
//! (icepll's search); its frequencies are type parameters, so [`ice40_pll`] dispatches the
//! whole-MHz targets it supports and reads back the frequency its dividers really make. The
//! instance is then turned into an SB_PLL40_PAD (same dividers, reference from the package
//! pin): on the UP5K the one PLL sits on the site of pin 35's IO, which is where the
//! iCEBreaker's oscillator arrives, so a core PLL cannot be placed beside that pin (nextpnr:
//! "PLL couldn't be placed anywhere ... Did you mean to use a PAD PLL?", YosysHQ/nextpnr#448).
//! ECP5: [`ecp5_pll`] searches the EHXPLLL dividers and [`Ecp5PllSettings::verilog`] writes the
//! instance.

use rust_hdl::prelude::*;
use rust_hdl_fpga_support::lattice::ice40::ice_pll::ICE40PLLBlock;

/// A PLL target the hardware cannot make.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PllError {
    /// No divider setting comes within [`MAX_PLL_ERROR`] of the target.
    #[error(
        "no {family} PLL setting makes {target_mhz} MHz from {fin_mhz} MHz (within {}%); {hint}",
        MAX_PLL_ERROR * 100.0
    )]
    Unreachable {
        /// `iCE40` or `ECP5`.
        family: &'static str,
        /// The oscillator, MHz.
        fin_mhz: f64,
        /// The requested clock, MHz.
        target_mhz: f64,
        /// What the PLL can do.
        hint: String,
    },
}

/// The largest relative error between a requested and a made PLL frequency that is accepted:
/// the report and CAPABILITIES then state the frequency really made.
pub const MAX_PLL_ERROR: f64 = 0.01;

/// EHXPLLL dividers: CLKOP = fin / `clki_div` * `clkfb_div` (feedback from CLKOP), with the VCO
/// at CLKOP * `clkop_div`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Ecp5PllSettings {
    /// Oscillator, Hz.
    pub fin_hz: u64,
    /// Input divider (1..=128).
    pub clki_div: u32,
    /// Feedback divider (1..=80).
    pub clkfb_div: u32,
    /// Output divider (1..=128).
    pub clkop_div: u32,
}

// The EHXPLLL's operating ranges (Lattice TN1263, "ECP5 and ECP5-5G sysCLOCK PLL/DLL Design and
// Usage Guide", and FPGA-DS-02012 table "sysCLOCK PLL Timing"): PFD 3.125-400 MHz, VCO 400-800
// MHz, outputs 3.125-400 MHz.
const ECP5_PFD_MHZ: (f64, f64) = (3.125, 400.0);
const ECP5_VCO_MHZ: (f64, f64) = (400.0, 800.0);
const ECP5_OUT_MHZ: (f64, f64) = (3.125, 400.0);

impl Ecp5PllSettings {
    /// The CLKOP frequency these dividers make, Hz.
    pub fn fout_hz(&self) -> f64 {
        self.fin_hz as f64 / self.clki_div as f64 * self.clkfb_div as f64
    }

    /// The VCO frequency, Hz.
    pub fn vco_hz(&self) -> f64 {
        self.fout_hz() * self.clkop_div as f64
    }

    /// Whether every internal frequency is inside the EHXPLLL's ranges.
    pub fn in_range(&self) -> bool {
        let inside = |hz: f64, (lo, hi): (f64, f64)| hz >= lo * 1e6 && hz <= hi * 1e6;
        (1..=128).contains(&self.clki_div)
            && (1..=80).contains(&self.clkfb_div)
            && (1..=128).contains(&self.clkop_div)
            && inside(self.fin_hz as f64 / self.clki_div as f64, ECP5_PFD_MHZ)
            && inside(self.vco_hz(), ECP5_VCO_MHZ)
            && inside(self.fout_hz(), ECP5_OUT_MHZ)
    }

    /// The EHXPLLL instance, inside a module whose ports are `clock_in`, `clock_out`, `locked`.
    pub fn verilog(&self) -> String {
        format!(
            "(* FREQUENCY_PIN_CLKI=\"{fin}\" *)
(* FREQUENCY_PIN_CLKOP=\"{fout}\" *)
(* ICP_CURRENT=\"12\" *) (* LPF_RESISTOR=\"8\" *) (* MFG_ENABLE_FILTEROPAMP=\"1\" *) (* MFG_GMCREF_SEL=\"2\" *)
EHXPLLL #(
    .PLLRST_ENA(\"DISABLED\"),
    .INTFB_WAKE(\"DISABLED\"),
    .STDBY_ENABLE(\"DISABLED\"),
    .DPHASE_SOURCE(\"DISABLED\"),
    .OUTDIVIDER_MUXA(\"DIVA\"),
    .OUTDIVIDER_MUXB(\"DIVB\"),
    .OUTDIVIDER_MUXC(\"DIVC\"),
    .OUTDIVIDER_MUXD(\"DIVD\"),
    .CLKI_DIV({clki}),
    .CLKOP_ENABLE(\"ENABLED\"),
    .CLKOP_DIV({clkop}),
    .CLKOP_CPHASE({cphase}),
    .CLKOP_FPHASE(0),
    .FEEDBK_PATH(\"CLKOP\"),
    .CLKFB_DIV({clkfb})
) pll (
    .RST(1'b0),
    .STDBY(1'b0),
    .CLKI(clock_in),
    .CLKOP(clock_out),
    .CLKFB(clock_out),
    .CLKINTFB(),
    .PHASESEL0(1'b0),
    .PHASESEL1(1'b0),
    .PHASEDIR(1'b1),
    .PHASESTEP(1'b1),
    .PHASELOADREG(1'b1),
    .PLLWAKESYNC(1'b0),
    .ENCLKOP(1'b0),
    .LOCK(locked)
);
",
            fin = mhz_text(self.fin_hz as f64),
            fout = mhz_text(self.fout_hz()),
            clki = self.clki_div,
            clkop = self.clkop_div,
            // With CLKOP as its own feedback the phase is irrelevant; DIV - 1 is 0 degrees.
            cphase = self.clkop_div - 1,
            clkfb = self.clkfb_div,
        )
    }
}

fn mhz_text(hz: f64) -> String {
    let s = format!("{:.6}", hz / 1e6);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The EHXPLLL dividers whose CLKOP is closest to `target_hz` (ties: the VCO nearest the middle
/// of its range, where the loop is most comfortable).
pub fn ecp5_pll(fin_hz: u64, target_hz: f64) -> Result<Ecp5PllSettings, PllError> {
    let mut best: Option<(f64, f64, Ecp5PllSettings)> = None;
    for clki_div in 1..=128 {
        for clkfb_div in 1..=80 {
            for clkop_div in 1..=128 {
                let s = Ecp5PllSettings {
                    fin_hz,
                    clki_div,
                    clkfb_div,
                    clkop_div,
                };
                if !s.in_range() {
                    continue;
                }
                let err = (s.fout_hz() - target_hz).abs();
                let vco_off = (s.vco_hz() - 600e6).abs();
                let better = match &best {
                    None => true,
                    Some((e, v, _)) => err < *e - 1e-3 || (err <= *e + 1e-3 && vco_off < *v),
                };
                if better {
                    best = Some((err, vco_off, s));
                }
            }
        }
    }
    match best {
        Some((err, _, s)) if err <= target_hz * MAX_PLL_ERROR => Ok(s),
        _ => Err(PllError::Unreachable {
            family: "ECP5",
            fin_mhz: fin_hz as f64 / 1e6,
            target_mhz: target_hz / 1e6,
            hint: format!(
                "CLKOP = fin / CLKI_DIV * CLKFB_DIV with the PFD in {:?} MHz and the VCO in {:?} MHz",
                ECP5_PFD_MHZ, ECP5_VCO_MHZ
            ),
        }),
    }
}

/// The PLL instance for `FIN -> FOUT` with rust-hdl-fpga-support's dividers, as an
/// SB_PLL40_PAD, and the frequency its dividers make.
fn ice40_of<const FIN: u64, const FOUT: u64>() -> (String, f64) {
    let block = ICE40PLLBlock::<FIN, FOUT>::default();
    let code = match block.hdl() {
        Verilog::Custom(code) => code,
        _ => unreachable!("ICE40PLLBlock writes custom Verilog"),
    };
    let code = ice40_pad_pll(&code)
        .expect("ICE40PLLBlock writes an SB_PLL40_CORE fed through REFERENCECLK");
    let hz = ice40_pll_output_hz(FIN as f64, &code)
        .expect("ICE40PLLBlock's instance names its DIVR, DIVF and DIVQ");
    (code, hz)
}

/// An SB_PLL40_CORE instance as the SB_PLL40_PAD with the same parameters, its reference
/// (`REFERENCECLK`) taken straight from the package pin (`PACKAGEPIN`); `None` when the
/// instance is not a core PLL with a reference input.
pub fn ice40_pad_pll(core_instance: &str) -> Option<String> {
    if core_instance.matches("SB_PLL40_CORE").count() != 1
        || core_instance.matches(".REFERENCECLK(").count() != 1
    {
        return None;
    }
    Some(
        core_instance
            .replace("SB_PLL40_CORE", "SB_PLL40_PAD")
            .replace(".REFERENCECLK(", ".PACKAGEPIN("),
    )
}

/// The whole-MHz iCE40 PLL targets [`ice40_pll`] supports (the PLL's 16 MHz minimum up to
/// well beyond what the UP5K's logic closes at).
pub const ICE40_PLL_MHZ: std::ops::RangeInclusive<u32> = 16..=80;

macro_rules! ice40_dispatch {
    ($fin:expr, $mhz:expr, $($m:literal)*) => {
        match $mhz {
            $($m => Some(ice40_of::<$fin, { $m * 1_000_000 }>()),)*
            _ => None,
        }
    };
}

/// The SB_PLL40_PAD instance for a 12 MHz oscillator and a whole-MHz target in
/// [`ICE40_PLL_MHZ`] (a module body with ports `clock_in`, `clock_out`, `locked`), and the
/// frequency it really makes, Hz.
pub fn ice40_pll(target_mhz: f64) -> Result<(String, f64), PllError> {
    let unreachable = || PllError::Unreachable {
        family: "iCE40",
        fin_mhz: 12.0,
        target_mhz,
        hint: format!(
            "whole MHz from {} to {} are supported",
            ICE40_PLL_MHZ.start(),
            ICE40_PLL_MHZ.end()
        ),
    };
    if target_mhz.fract() != 0.0 || !ICE40_PLL_MHZ.contains(&(target_mhz as u32)) {
        return Err(unreachable());
    }
    let made = ice40_dispatch!(12_000_000, target_mhz as u32,
        16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40
        41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60
        61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80)
    .ok_or_else(unreachable)?;
    if (made.1 - target_mhz * 1e6).abs() > target_mhz * 1e6 * MAX_PLL_ERROR {
        return Err(unreachable());
    }
    Ok(made)
}

/// The output frequency of an SB_PLL40_CORE instance in SIMPLE feedback, read from its
/// parameters: fin * (DIVF + 1) / ((DIVR + 1) * 2^DIVQ).
pub fn ice40_pll_output_hz(fin_hz: f64, instance: &str) -> Option<f64> {
    let param = |name: &str| -> Option<u64> {
        let at = instance.find(&format!(".{name}("))? + name.len() + 2;
        let text = &instance[at..at + instance[at..].find(')')?];
        verilog_number(text)
    };
    if !instance.contains("\"SIMPLE\"") {
        return None;
    }
    let (r, f, q) = (param("DIVR")?, param("DIVF")?, param("DIVQ")?);
    Some(fin_hz * (f + 1) as f64 / ((r + 1) as f64 * (1u64 << q) as f64))
}

/// A Verilog integer literal: `12`, `32'd12`, `7'h4f`, `3'b101`.
fn verilog_number(text: &str) -> Option<u64> {
    let text = text.trim().replace('_', "");
    match text.split_once('\'') {
        None => text.parse().ok(),
        Some((_, rest)) => {
            let rest = rest.trim_start_matches(['s', 'S']);
            let (radix, digits) = rest.split_at(1);
            let radix = match radix {
                "d" | "D" => 10,
                "h" | "H" => 16,
                "b" | "B" => 2,
                "o" | "O" => 8,
                _ => return None,
            };
            u64::from_str_radix(digits, radix).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecp5_makes_exact_multiples_of_the_oscillator_in_range() {
        for mhz in [25.0, 50.0, 75.0, 100.0, 125.0] {
            let s = ecp5_pll(25_000_000, mhz * 1e6).unwrap();
            assert_eq!(s.fout_hz(), mhz * 1e6, "{s:?}");
            assert!(s.in_range(), "{s:?}");
        }
    }

    #[test]
    fn ecp5_settings_are_the_closest_in_range() {
        // Brute force over what the search may return: nothing in range is closer.
        for target in [30.0e6, 37.5e6, 41.0e6, 62.5e6, 90.0e6] {
            let s = ecp5_pll(25_000_000, target).unwrap();
            let err = (s.fout_hz() - target).abs();
            for clki_div in 1..=8 {
                for clkfb_div in 1..=80 {
                    let f = 25e6 / clki_div as f64 * clkfb_div as f64;
                    let reachable = (1..=128).any(|clkop_div| {
                        Ecp5PllSettings {
                            fin_hz: 25_000_000,
                            clki_div,
                            clkfb_div,
                            clkop_div,
                        }
                        .in_range()
                    });
                    assert!(
                        !reachable || (f - target).abs() >= err - 1e-3,
                        "{target} {f}"
                    );
                }
            }
            assert!(err <= target * MAX_PLL_ERROR);
        }
    }

    #[test]
    fn ecp5_rejects_what_it_cannot_make() {
        assert!(ecp5_pll(25_000_000, 1e6).is_err());
        assert!(ecp5_pll(25_000_000, 900e6).is_err());
        // 48 MHz is 2.3 % from the nearest (46.875 = 25 / 8 * 15) with the PFD at its minimum.
        assert!(ecp5_pll(25_000_000, 48e6).is_err());
    }

    #[test]
    fn ecp5_instance_carries_the_dividers() {
        let s = ecp5_pll(25_000_000, 50e6).unwrap();
        let v = s.verilog();
        assert!(v.contains(&format!(".CLKI_DIV({})", s.clki_div)));
        assert!(v.contains(&format!(".CLKFB_DIV({})", s.clkfb_div)));
        assert!(v.contains(&format!(".CLKOP_DIV({})", s.clkop_div)));
        assert!(v.contains("FREQUENCY_PIN_CLKOP=\"50\""));
    }

    #[test]
    fn ice40_output_frequency_is_read_back_from_the_instance() {
        // icepll -i 12 -o 30: DIVR 0, DIVF 79, DIVQ 5 -> 12 * 80 / 32 = 30 MHz.
        let inst = ".FEEDBACK_PATH(\"SIMPLE\"), .DIVR(4'b0000), .DIVF(7'd79), .DIVQ(3'h5)";
        assert_eq!(ice40_pll_output_hz(12e6, inst), Some(30e6));
        assert_eq!(ice40_pll_output_hz(12e6, ".DIVR(0)"), None);
    }

    #[test]
    fn ice40_pll_hits_its_targets() {
        for mhz in [16.0, 24.0, 30.0, 48.0] {
            let (code, hz) = ice40_pll(mhz).unwrap();
            assert!(code.contains("SB_PLL40_PAD") && code.contains(".PACKAGEPIN(clock_in)"));
            assert!(!code.contains("SB_PLL40_CORE") && !code.contains("REFERENCECLK"));
            assert!(
                (hz - mhz * 1e6).abs() <= mhz * 1e6 * MAX_PLL_ERROR,
                "{mhz}: {hz}"
            );
        }
        assert!(ice40_pll(12.0).is_err());
        assert!(ice40_pll(30.5).is_err());
    }

    #[test]
    fn only_a_core_pll_with_a_reference_becomes_a_pad_pll() {
        let core = "SB_PLL40_CORE #(.DIVR(0)) uut (.REFERENCECLK(clock_in), .PLLOUTCORE(o));";
        assert_eq!(
            ice40_pad_pll(core).as_deref(),
            Some("SB_PLL40_PAD #(.DIVR(0)) uut (.PACKAGEPIN(clock_in), .PLLOUTCORE(o));")
        );
        assert_eq!(ice40_pad_pll("SB_PLL40_PAD uut (.PACKAGEPIN(c));"), None);
        assert_eq!(ice40_pad_pll("SB_PLL40_CORE uut (.BYPASS(1'b0));"), None);
    }
}
