//! Reading what the tools wrote (yosys `stat -json`, the `$mul` list, nextpnr's `--report`)
//! into the numbers report.json carries.

use crate::boards::{Board, Family};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Cell counts of a mapped netlist, by the resources they use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CellCounts {
    /// LUT4s (ECP5: logic LUT4s plus two per CCU2C carry cell, what nextpnr counts as
    /// TRELLIS_COMB before packing; iCE40: SB_LUT4).
    pub luts: u64,
    /// Flip-flops (SB_DFF* / TRELLIS_FF).
    pub ffs: u64,
    /// iCE40 carry cells (SB_CARRY), which share the logic cell of a LUT.
    pub carries: u64,
    /// DSP multipliers (SB_MAC16 / MULT18X18D).
    pub dsps: u64,
    /// Block RAMs (SB_RAM40_4K / DP16KD).
    pub brams: u64,
    /// SPRAMs (SB_SPRAM256KA).
    pub sprams: u64,
}

impl CellCounts {
    /// Counts the cells of a `num_cells_by_type` map.
    pub fn from_cells(family: Family, cells: &BTreeMap<String, u64>) -> CellCounts {
        let get = |name: &str| cells.get(name).copied().unwrap_or(0);
        let sum_prefix = |prefix: &str| {
            cells
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(_, v)| *v)
                .sum::<u64>()
        };
        match family {
            Family::Ice40 => CellCounts {
                luts: get("SB_LUT4"),
                ffs: sum_prefix("SB_DFF"),
                carries: get("SB_CARRY"),
                dsps: get("SB_MAC16"),
                brams: get("SB_RAM40_4K"),
                sprams: get("SB_SPRAM256KA"),
            },
            Family::Ecp5 => CellCounts {
                luts: get("LUT4") + 2 * get("CCU2C"),
                ffs: get("TRELLIS_FF"),
                carries: get("CCU2C"),
                dsps: get("MULT18X18D"),
                brams: get("DP16KD"),
                sprams: 0,
            },
        }
    }

    /// The resources these cells need beyond what `board` has, in words (empty: it may fit;
    /// nextpnr has the last word, since packing can still fail).
    pub fn shortfalls(&self, board: &Board) -> Vec<String> {
        let r = &board.resources;
        let (lut_name, dsp_name, bram_name) = match board.family {
            Family::Ice40 => ("SB_LUT4 (one per logic cell)", "SB_MAC16", "SB_RAM40_4K"),
            Family::Ecp5 => ("LUT4s", "MULT18X18D", "DP16KD"),
        };
        let mut out = Vec::new();
        let mut check = |what: &str, used: u64, avail: u64| {
            if used > avail {
                out.push(format!(
                    "{what}: {used} used, {avail} available ({:.0} %)",
                    100.0 * used as f64 / avail as f64
                ));
            }
        };
        check(lut_name, self.luts, r.luts);
        check("flip-flops", self.ffs, r.ffs);
        check(dsp_name, self.dsps, r.dsps);
        check(bram_name, self.brams, r.brams);
        check("SB_SPRAM256KA", self.sprams, r.sprams);
        out
    }
}

/// A `used / available` pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Used.
    pub used: u64,
    /// Available on the device.
    pub available: u64,
}

/// The `num_cells_by_type` of one module of a yosys `stat -json` output (`\top` or any).
pub fn stat_cells(stat: &Value, module: &str) -> Option<BTreeMap<String, u64>> {
    let cells = stat.get("modules")?.get(module)?.get("num_cells_by_type")?;
    Some(
        cells
            .as_object()?
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
            .collect(),
    )
}

/// A yosys `stat -json` output, parsed; the text before the JSON (yosys writes its log lines
/// into `tee -o` files too) is skipped.
///
/// Yosys 0.23 prints the design hierarchy of a `-noflatten` design as plain text into the
/// middle of its `stat -json` output (instance names and counts, one per line); every line of
/// real JSON there starts with a quote or a bracket, so the text lines are dropped first.
pub fn parse_stat(text: &str) -> Result<Value, String> {
    let start = text.find('{').ok_or("no JSON in the yosys stat output")?;
    let json: String = text[start..]
        .lines()
        .filter(|line| {
            let t = line.trim_start();
            t.is_empty() || t.starts_with(['"', '{', '}', '[', ']'])
        })
        .flat_map(|line| [line, "\n"])
        .collect();
    serde_json::from_str(&json).map_err(|e| format!("yosys stat JSON: {e}"))
}

/// The proof that every multiplier sits in a DSP block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DspProof {
    /// The `$mul` cells of the flattened design before any mapping (yosys `select -list t:$mul`
    /// after `proc; flatten`).
    pub multipliers: Vec<String>,
    /// DSP multiplier cells after synthesis.
    pub dsp_cells: u64,
    /// Multipliers left after the DSP mapping step (`$mul`, `$__soft_mul`, and `$macc` cells
    /// with a product term), i.e. ones that would be built from LUTs.
    pub left_in_logic: Vec<String>,
    /// `left_in_logic` is empty and there are at least as many DSP cells as multipliers.
    pub every_multiplier_in_dsp: bool,
}

impl DspProof {
    /// From the `select -list t:$mul` output before mapping, the RTLIL `dump` of the
    /// multiplier-like cells after the DSP mapping, and the final DSP count.
    pub fn new(mul_list: &str, left_dump: &str, dsp_cells: u64) -> DspProof {
        let multipliers = cell_list(mul_list);
        let left_in_logic = multipliers_in_dump(left_dump);
        let every = left_in_logic.is_empty() && dsp_cells >= multipliers.len() as u64;
        DspProof {
            multipliers,
            dsp_cells,
            left_in_logic,
            every_multiplier_in_dsp: every,
        }
    }
}

/// The cell names of a yosys `select -list` output (`module/cell` lines).
pub fn cell_list(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.contains('/') && !l.starts_with("yosys") && !l.starts_with('-'))
        .map(|l| l.to_string())
        .collect()
}

/// The cells of an RTLIL dump that multiply: every `$mul` / `$__soft_mul`, and every `$macc`
/// whose CONFIG has a port with both operands (a product; a port with one operand is a plain
/// summand). Any other multiply-accumulate cell type (newer yosys' `$macc_v2`) counts as a
/// multiplier, so that the proof can only err on the side of failing.
pub fn multipliers_in_dump(dump: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    let mut config: Option<String> = None;
    for line in dump.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("cell") => {
                let ty = words.next().unwrap_or_default().to_string();
                let name = words.next().unwrap_or_default().to_string();
                current = Some((ty, name));
                config = None;
            }
            Some("parameter") if current.is_some() => {
                let (name, value) = (words.next(), words.next());
                if name == Some("\\CONFIG") {
                    config = value.map(str::to_string);
                }
            }
            Some("end") => {
                if let Some((ty, name)) = current.take() {
                    let multiplies = match ty.as_str() {
                        "$mul" | "$__soft_mul" => true,
                        "$macc" => config.as_deref().is_none_or(macc_has_product),
                        t => t.starts_with("$macc"),
                    };
                    if multiplies {
                        out.push(name);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether a `$macc` CONFIG constant (RTLIL `N'bits`, most significant bit first) has a port
/// that multiplies: both an A and a B operand of at least 2 bits. A product with a 1-bit factor
/// is a gated copy (AND gates), which yosys' `mul2dsp` leaves beside the DSP as the sign
/// correction of a signed x unsigned multiply; it is not a multiplier. The layout (yosys kernel/macc.h): 4 bits of `num_bits`, then
/// per port `is_signed`, `do_subtract`, `size_a` and `size_b` of `num_bits` each, least
/// significant bit first throughout.
pub fn macc_has_product(config: &str) -> bool {
    let Some((_, bits)) = config.split_once('\'') else {
        return true;
    };
    let lsb_first: Vec<bool> = bits.chars().rev().map(|c| c == '1').collect();
    let field = |at: usize, n: usize| {
        (0..n).fold(0usize, |v, i| {
            v | (usize::from(*lsb_first.get(at + i).unwrap_or(&false)) << i)
        })
    };
    let num_bits = field(0, 4);
    if num_bits == 0 {
        return false;
    }
    let mut at = 4;
    while at + 2 + 2 * num_bits <= lsb_first.len() {
        let size_a = field(at + 2, num_bits);
        let size_b = field(at + 2 + num_bits, num_bits);
        if size_a > 1 && size_b > 1 {
            return true;
        }
        at += 2 + 2 * num_bits;
    }
    false
}

/// One clock's timing from nextpnr's report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClockTiming {
    /// The clock net.
    pub name: String,
    /// Fmax nextpnr achieved, MHz.
    pub achieved_mhz: f64,
    /// The constraint nextpnr worked to, MHz.
    pub constraint_mhz: f64,
    /// `achieved_mhz >= constraint_mhz`.
    pub met: bool,
}

/// What a nextpnr `--report` JSON says.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NextpnrReport {
    /// Resource name -> used / available, as nextpnr names them (ICESTORM_LC, TRELLIS_COMB,
    /// DP16KD, ...).
    pub utilization: BTreeMap<String, Usage>,
    /// Per clock.
    pub clocks: Vec<ClockTiming>,
}

/// Parses a nextpnr `--report` JSON.
pub fn parse_nextpnr_report(text: &str) -> Result<NextpnrReport, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("nextpnr report JSON: {e}"))?;
    let mut utilization = BTreeMap::new();
    for (k, u) in v
        .get("utilization")
        .and_then(Value::as_object)
        .ok_or("nextpnr report without utilization")?
    {
        let num = |f: &str| u.get(f).and_then(Value::as_u64);
        if let (Some(used), Some(available)) = (num("used"), num("available")) {
            utilization.insert(k.clone(), Usage { used, available });
        }
    }
    let mut clocks = Vec::new();
    for (name, c) in v
        .get("fmax")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let num = |f: &str| c.get(f).and_then(Value::as_f64);
        if let (Some(achieved), Some(constraint)) = (num("achieved"), num("constraint")) {
            clocks.push(ClockTiming {
                name: name.clone(),
                achieved_mhz: achieved,
                constraint_mhz: constraint,
                met: achieved >= constraint,
            });
        }
    }
    Ok(NextpnrReport {
        utilization,
        clocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boards::{icebreaker::ICEBREAKER, ulx3s::ULX3S};

    const ECP5_STAT: &str = include_str!("../tests/fixtures/yosys_stat_ecp5_2x2.json");
    const ECP5_MULS: &str = include_str!("../tests/fixtures/yosys_mul_ecp5_2x2.txt");
    const ECP5_LEFT: &str = include_str!("../tests/fixtures/yosys_left_ecp5_2x2.il");

    /// An excerpt of yosys 0.23's real `stat -json` of the hierarchical iCEBreaker build, with
    /// the hierarchy text it prints between the modules and the design totals.
    const ICE40_HIER_STAT: &str = include_str!("../tests/fixtures/yosys_stat_ice40_hier_text.json");

    #[test]
    fn stat_json_with_yosys_hierarchy_text_parses() {
        assert!(serde_json::from_str::<Value>(ICE40_HIER_STAT).is_err());
        let stat = parse_stat(ICE40_HIER_STAT).unwrap();
        let device = stat_cells(&stat, "\\qtrain_device").unwrap();
        assert_eq!(device.get("SB_LUT4"), Some(&1));
        let design = &stat["design"]["num_cells_by_type"];
        assert_eq!(design["SB_LUT4"], 13991);
        assert_eq!(design["SB_MAC16"], 3);
    }

    #[test]
    fn ecp5_stat_counts_luts_with_their_carries() {
        let stat = parse_stat(ECP5_STAT).unwrap();
        let cells = stat_cells(&stat, "\\top").unwrap();
        let c = CellCounts::from_cells(Family::Ecp5, &cells);
        // The fixture is the 2x2 device at the SIM geometry (yosys 0.23 synth_ecp5); nextpnr
        // reports the same design as 14,659 LUT4s (11,439 logic + 3,220 carry).
        assert_eq!(c.luts, cells["LUT4"] + 2 * cells["CCU2C"]);
        assert_eq!((c.luts, c.ffs, c.dsps, c.brams), (14_659, 4_298, 6, 168));
        assert!(c.shortfalls(&ULX3S).is_empty());
        // The same cells are far too many for the UP5K, and the reason says which.
        let on_ice = CellCounts {
            luts: c.luts,
            ffs: c.ffs,
            carries: 0,
            dsps: c.dsps,
            brams: c.brams,
            sprams: 0,
        };
        let why = on_ice.shortfalls(&ICEBREAKER).join("; ");
        assert!(
            why.contains("SB_LUT4 (one per logic cell): 14659 used, 5280 available"),
            "{why}"
        );
        assert!(why.contains("SB_RAM40_4K: 168 used, 30 available"), "{why}");
    }

    #[test]
    fn every_multiplier_of_the_2x2_device_is_in_a_dsp() {
        let stat = parse_stat(ECP5_STAT).unwrap();
        let dsps = CellCounts::from_cells(Family::Ecp5, &stat_cells(&stat, "\\top").unwrap()).dsps;
        let proof = DspProof::new(ECP5_MULS, ECP5_LEFT, dsps);
        // Four PEs, the vector unit's UPDATE multiply and the engine's address multiply.
        assert_eq!(proof.multipliers.len(), 6);
        assert_eq!(
            proof
                .multipliers
                .iter()
                .filter(|m| m.contains("array.\\pe$"))
                .count(),
            4
        );
        // Left after the DSP mapping: two three-operand additions, no product.
        assert_eq!(ECP5_LEFT.matches("cell $macc").count(), 2);
        assert!(proof.left_in_logic.is_empty(), "{:?}", proof.left_in_logic);
        assert!(proof.every_multiplier_in_dsp);
        assert!(!DspProof::new(ECP5_MULS, ECP5_LEFT, dsps - 1).every_multiplier_in_dsp);
        let soft = "cell $__soft_mul $x\n  parameter \\A_WIDTH 4\nend\n";
        assert!(!DspProof::new(ECP5_MULS, soft, dsps).every_multiplier_in_dsp);
    }

    #[test]
    fn macc_config_with_a_product_is_a_multiplier() {
        // Encode {num_bits, ports (signed, subtract, size_a, size_b)} as yosys does, LSB first,
        // then print most significant bit first as RTLIL does.
        fn config(num_bits: usize, ports: &[(bool, bool, usize, usize)]) -> String {
            let mut bits: Vec<bool> = (0..4).map(|i| num_bits >> i & 1 == 1).collect();
            for &(s, d, a, b) in ports {
                bits.extend([s, d]);
                bits.extend((0..num_bits).map(|i| a >> i & 1 == 1));
                bits.extend((0..num_bits).map(|i| b >> i & 1 == 1));
            }
            let text: String = bits
                .iter()
                .rev()
                .map(|&b| if b { '1' } else { '0' })
                .collect();
            format!("{}'{text}", bits.len())
        }
        assert!(macc_has_product(&config(
            5,
            &[(true, false, 16, 16), (false, false, 20, 0)]
        )));
        assert!(!macc_has_product(&config(
            6,
            &[(false, false, 34, 0), (false, true, 16, 0)]
        )));
        // What yosys 0.23 left beside the SB_MAC16 of the vector unit's 16 x 17 multiply on the
        // iCE40 (CONFIG copied from its log): a 16 x 1 sign correction plus a 16-bit addend.
        assert!(!macc_has_product("28'0000010000010000110000010101"));
        let dump = format!(
            "module \\top\n  cell $macc $m\n    parameter \\CONFIG {}\n  end\nend\n",
            config(5, &[(false, false, 8, 8)])
        );
        assert_eq!(multipliers_in_dump(&dump), ["$m"]);
    }

    #[test]
    fn nextpnr_report_of_the_small_ulx3s_build() {
        // nextpnr-ecp5 0.11.1 (YoWASP) on the 2x2 device with the 1K-word memory, 25 MHz.
        let r = parse_nextpnr_report(include_str!(
            "../tests/fixtures/nextpnr_report_ecp5_2x2.json"
        ))
        .unwrap();
        assert_eq!(
            r.utilization["MULT18X18D"],
            Usage {
                used: 6,
                available: 156
            }
        );
        assert_eq!(r.utilization["DP16KD"].used, 9);
        assert_eq!(r.clocks.len(), 1);
        let c = &r.clocks[0];
        assert!(c.met && (c.achieved_mhz - 42.29).abs() < 0.01, "{c:?}");
    }
}
