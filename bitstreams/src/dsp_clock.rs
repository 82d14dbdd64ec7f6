//! The clock pin of a combinational iCE40 DSP block, tied to the design's clock before
//! nextpnr runs.
//!
//! yosys maps a multiplier without registers to an SB_MAC16 whose `CLK` is the constant 0.
//! nextpnr-ice40 (0.4) then treats its ground net as a clock and must route it to the DSP's
//! clock pin; in a device that has given its eight global buffers to other nets it never
//! manages to (router1 rips up thousands of arcs without end, router2 stalls at one overused
//! wire). Measured on the iCEBreaker device at 94 % of the logic cells: with the four
//! combinational SB_MAC16 clocked by the core clock it routes in about a minute. The pin is
//! unused when no register of the block is enabled, so the netlist's function is unchanged;
//! only such blocks are touched.

use crate::netlist_blocks::is_top_module;
use serde_json::Value;
use std::collections::HashMap;

/// The SB_MAC16 parameters that enable a register (the output selects' value 1 is the
/// accumulator register).
const REGISTER_PARAMS: [&str; 8] = [
    "A_REG",
    "B_REG",
    "C_REG",
    "D_REG",
    "TOP_8x8_MULT_REG",
    "BOT_8x8_MULT_REG",
    "PIPELINE_16x16_MULT_REG1",
    "PIPELINE_16x16_MULT_REG2",
];

fn param_is(cell: &Value, name: &str, value: u64) -> bool {
    cell.get("parameters")
        .and_then(|p| p.get(name))
        .and_then(Value::as_str)
        .and_then(|s| u64::from_str_radix(s, 2).ok())
        == Some(value)
}

fn combinational(cell: &Value) -> bool {
    REGISTER_PARAMS.iter().all(|p| param_is(cell, p, 0))
        && !param_is(cell, "TOPOUTPUT_SELECT", 1)
        && !param_is(cell, "BOTOUTPUT_SELECT", 1)
}

/// Connects the `CLK` of every combinational SB_MAC16 whose clock is a constant to the net that
/// clocks most flip-flops of the top module of `netlist` (yosys `write_json`). Returns how many
/// it connected.
pub fn tie_idle_dsp_clocks(netlist: &mut Value) -> Result<usize, String> {
    let modules = netlist
        .get_mut("modules")
        .and_then(Value::as_object_mut)
        .ok_or("no modules in the netlist JSON")?;
    let top = modules
        .values_mut()
        .find(|m| is_top_module(m))
        .ok_or("no top module in the netlist JSON")?;
    let cells = top
        .get_mut("cells")
        .and_then(Value::as_object_mut)
        .ok_or("no cells in the top module")?;
    let mut clocks: HashMap<String, usize> = HashMap::new();
    for cell in cells.values() {
        let is_ff = cell
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("SB_DFF"));
        if let (true, Some(c)) = (is_ff, cell.pointer("/connections/C/0")) {
            if c.is_u64() {
                *clocks.entry(c.to_string()).or_default() += 1;
            }
        }
    }
    let Some(clock) = clocks.into_iter().max_by_key(|(_, n)| *n).map(|(c, _)| c) else {
        return Ok(0);
    };
    let clock: Value = serde_json::from_str(&clock).map_err(|e| e.to_string())?;
    let mut tied = 0;
    for cell in cells.values_mut() {
        if cell.get("type").and_then(Value::as_str) != Some("SB_MAC16") || !combinational(cell) {
            continue;
        }
        if let Some(pin) = cell.pointer_mut("/connections/CLK") {
            if pin.get(0).is_some_and(Value::is_string) {
                *pin = Value::Array(vec![clock.clone()]);
                tied += 1;
            }
        }
    }
    Ok(tied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_combinational_dsps_with_a_constant_clock_are_tied() {
        let zeros = r#""A_REG": "0", "B_REG": "0", "C_REG": "0", "D_REG": "0",
            "TOP_8x8_MULT_REG": "0", "BOT_8x8_MULT_REG": "0",
            "PIPELINE_16x16_MULT_REG1": "0", "PIPELINE_16x16_MULT_REG2": "0",
            "TOPOUTPUT_SELECT": "11", "BOTOUTPUT_SELECT": "11""#;
        let registered = zeros.replace(
            r#""PIPELINE_16x16_MULT_REG2": "0""#,
            r#""PIPELINE_16x16_MULT_REG2": "1""#,
        );
        let text = format!(
            r#"{{"modules": {{"top": {{"attributes": {{"top": "1"}}, "cells": {{
              "ff1": {{"type": "SB_DFF", "connections": {{"C": [7], "D": [1], "Q": [2]}}}},
              "ff2": {{"type": "SB_DFFE", "connections": {{"C": [7], "D": [3], "Q": [4]}}}},
              "ff3": {{"type": "SB_DFF", "connections": {{"C": [9], "D": [5], "Q": [6]}}}},
              "comb": {{"type": "SB_MAC16", "parameters": {{{zeros}}}, "connections": {{"CLK": ["0"]}}}},
              "piped": {{"type": "SB_MAC16", "parameters": {{{registered}}}, "connections": {{"CLK": ["0"]}}}},
              "clocked": {{"type": "SB_MAC16", "parameters": {{{zeros}}}, "connections": {{"CLK": [9]}}}}
            }}}}}}}}"#
        );
        let mut netlist: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(tie_idle_dsp_clocks(&mut netlist), Ok(1));
        let clk = |c: &str| {
            netlist
                .pointer(&format!("/modules/top/cells/{c}/connections/CLK"))
                .cloned()
        };
        assert_eq!(clk("comb"), Some(serde_json::json!([7])));
        assert_eq!(clk("piped"), Some(serde_json::json!(["0"])));
        assert_eq!(clk("clocked"), Some(serde_json::json!([9])));
    }
}
