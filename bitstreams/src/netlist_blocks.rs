//! Where the logic goes: the per-block breakdown of the flat, mapped netlist (yosys
//! `write_json`) that report.json carries when a design does not fit.
//!
//! Flip-flops and RAM/DSP cells keep the name of the register or memory they implement
//! (`device.device.engine.gemm.planner.rem.q_SB_DFFE_Q_3`), so they belong to the block
//! their name gives. LUTs and carries are named after nets and belong to the block of the
//! first register, RAM or DSP their output reaches. Counting the flattened netlist, after
//! constants have propagated across blocks, makes the blocks add up to the design.
//!
//! On the iCE40 a logic cell holds one LUT4, one carry and one flip-flop, but a flip-flop only
//! shares a cell with the LUT that drives nothing but its D input, and a carry only with the
//! LUT that adds the same two bits (or one that computes one of its operands for it alone).
//! The others take a cell of their own: `lone_ffs` and `lone_carries` count them, and
//! `luts + lone_ffs + lone_carries` estimates the block's packed logic cells (the iCEBreaker
//! device: 6,008 estimated, 6,066 packed by nextpnr, which also spends cells on carry-chain
//! legalisation).

use crate::boards::Family;
use crate::report::CellCounts;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// One block of the breakdown: a register path prefix with everything below it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BlockUsage {
    /// The instance path below the device (`engine`, `engine.gemm.core`, ...), or below the
    /// board top for what lies outside the device (`status`, `pll`).
    pub block: String,
    /// Depth of `block` (1: a direct child).
    pub depth: usize,
    /// Cells of the block and everything below it.
    pub cells: CellCounts,
    /// iCE40: flip-flops that share no logic cell with a LUT (0 on the ECP5).
    pub lone_ffs: u64,
    /// iCE40: carries that share no logic cell with a LUT (0 on the ECP5).
    pub lone_carries: u64,
    /// iCE40: `luts + lone_ffs + lone_carries`, the block's share of the packed logic cells.
    pub logic_cells: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Lut,
    Carry,
    /// ECP5 wide-function multiplexers (PFUMX, L6MUX21): logic between LUTs, not a sink.
    Mux,
    Other,
}

fn kind(family: Family, cell_type: &str) -> Kind {
    match (family, cell_type) {
        (Family::Ice40, "SB_LUT4") | (Family::Ecp5, "LUT4") => Kind::Lut,
        (Family::Ice40, "SB_CARRY") | (Family::Ecp5, "CCU2C") => Kind::Carry,
        (Family::Ecp5, "PFUMX" | "L6MUX21") => Kind::Mux,
        _ => Kind::Other,
    }
}

/// The block path a cell name gives: the name's dot-separated parts without the ones yosys
/// made up (`$auto$...`, `q_SB_DFFE_Q_3`), below `root` when the name starts with it.
fn block_path(name: &str, root: &[&str]) -> Vec<String> {
    let parts: Vec<&str> = name
        .trim_start_matches('\\')
        .split('.')
        .filter(|p| {
            !p.is_empty() && !p.starts_with('$') && !p.contains("_SB_") && !p.contains("_TRELLIS_")
        })
        .collect();
    let rest = if parts.starts_with(root) {
        &parts[root.len()..]
    } else {
        &parts[..]
    };
    rest.iter().map(|p| p.to_string()).collect()
}

struct Cell<'a> {
    name: &'a str,
    cell_type: &'a str,
    inputs: HashMap<&'a str, Vec<i64>>,
    outputs: Vec<i64>,
}

/// A connection's bits: nets as their numbers, the constants yosys writes as strings ("0",
/// "1", "x", "z") as negative codes, so that a LUT and a carry fed the same constant match.
fn net_bits(v: &Value) -> Vec<i64> {
    let bit = |b: &Value| match (b.as_i64(), b.as_str()) {
        (Some(n), _) => n,
        (None, Some("0")) => -1,
        (None, Some("1")) => -2,
        (None, Some("x")) => -3,
        _ => -4,
    };
    v.as_array()
        .map(|a| a.iter().map(bit).collect())
        .unwrap_or_default()
}

/// Whether a module of a yosys `write_json` netlist is its top (attribute `top` = 1).
pub(crate) fn is_top_module(module: &Value) -> bool {
    module
        .get("attributes")
        .and_then(|a| a.get("top"))
        .is_some_and(|t| t.as_str().is_none_or(|s| s.trim_start_matches('0') == "1"))
}

/// The breakdown of `netlist` (yosys `write_json` of the flattened, mapped design; its top
/// module is the one with the `top` attribute) for blocks at most `max_depth` deep below the
/// instance path `root` (`["device", "device"]` for the device in a board top), largest first.
pub fn flat_breakdown(
    family: Family,
    netlist: &Value,
    root: &[&str],
    max_depth: usize,
) -> Result<Vec<BlockUsage>, String> {
    let modules = netlist
        .get("modules")
        .and_then(Value::as_object)
        .ok_or("no modules in the netlist JSON")?;
    let top = modules
        .values()
        .find(|m| is_top_module(m))
        .ok_or("no top module in the netlist JSON")?;
    let cell_map = top
        .get("cells")
        .and_then(Value::as_object)
        .ok_or("the top module has no cells")?;

    let mut cells = Vec::with_capacity(cell_map.len());
    for (name, c) in cell_map {
        let cell_type = c.get("type").and_then(Value::as_str).unwrap_or("");
        let dirs = c.get("port_directions").and_then(Value::as_object);
        let mut inputs = HashMap::new();
        let mut outputs = Vec::new();
        for (port, bits) in c
            .get("connections")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let dir = dirs
                .and_then(|d| d.get(port))
                .and_then(Value::as_str)
                .unwrap_or("input");
            if dir == "output" {
                outputs.extend(net_bits(bits));
            } else {
                inputs.insert(port.as_str(), net_bits(bits));
            }
        }
        cells.push(Cell {
            name,
            cell_type,
            inputs,
            outputs,
        });
    }
    let mut driver: HashMap<i64, usize> = HashMap::new();
    let mut users: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, c) in cells.iter().enumerate() {
        for &b in &c.outputs {
            driver.insert(b, i);
        }
        for bits in c.inputs.values() {
            for &b in bits.iter().filter(|&&b| b >= 0) {
                users.entry(b).or_default().push(i);
            }
        }
    }

    // Owners: named cells by name, LUTs and carries by the first named cell they reach.
    let named_owner = |i: usize| block_path(cells[i].name, root);
    let comb_owner = |start: usize| -> Vec<String> {
        let mut seen = HashSet::from([start]);
        let mut queue = VecDeque::from([start]);
        while let Some(i) = queue.pop_front() {
            for b in &cells[i].outputs {
                for &u in users.get(b).into_iter().flatten() {
                    if !seen.insert(u) {
                        continue;
                    }
                    if kind(family, cells[u].cell_type) == Kind::Other {
                        return named_owner(u);
                    }
                    queue.push_back(u);
                }
            }
        }
        vec!["(outputs)".to_string()]
    };

    let single_input = |c: &Cell, port: &str| c.inputs.get(port).and_then(|b| b.first()).copied();
    let lone_ff = |c: &Cell| -> bool {
        let Some(d) = single_input(c, "D") else {
            return true;
        };
        let from_lut = driver
            .get(&d)
            .is_some_and(|&j| kind(family, cells[j].cell_type) == Kind::Lut);
        !(from_lut && users.get(&d).map_or(0, Vec::len) == 1)
    };
    // The LUT of an iCE40 adder bit takes the carry's two operands on I1 and I2.
    let lut_operands: HashSet<(i64, i64)> = cells
        .iter()
        .filter(|c| kind(family, c.cell_type) == Kind::Lut)
        .filter_map(|c| Some((single_input(c, "I1")?, single_input(c, "I2")?)))
        .collect();
    // A carry whose operand comes from a LUT that feeds nothing else takes that LUT in.
    let fed_by_own_lut = |b: i64| {
        driver
            .get(&b)
            .is_some_and(|&j| kind(family, cells[j].cell_type) == Kind::Lut)
            && users.get(&b).map_or(0, Vec::len) == 1
    };
    let lone_carry = |c: &Cell| -> bool {
        match (single_input(c, "I0"), single_input(c, "I1")) {
            (Some(a), Some(b)) => {
                !lut_operands.contains(&(a, b)) && !fed_by_own_lut(a) && !fed_by_own_lut(b)
            }
            _ => true,
        }
    };

    #[derive(Default)]
    struct Tally {
        types: BTreeMap<String, u64>,
        lone_ffs: u64,
        lone_carries: u64,
    }
    let mut tallies: BTreeMap<Vec<String>, Tally> = BTreeMap::new();
    for (i, c) in cells.iter().enumerate() {
        let k = kind(family, c.cell_type);
        let path = if k == Kind::Other {
            named_owner(i)
        } else {
            comb_owner(i)
        };
        let ice40 = family == Family::Ice40;
        let is_ff = c.cell_type.starts_with("SB_DFF");
        for depth in 1..=max_depth.min(path.len()) {
            let t = tallies.entry(path[..depth].to_vec()).or_default();
            *t.types.entry(c.cell_type.to_string()).or_insert(0) += 1;
            if ice40 && is_ff && lone_ff(c) {
                t.lone_ffs += 1;
            }
            if ice40 && k == Kind::Carry && lone_carry(c) {
                t.lone_carries += 1;
            }
        }
    }
    let mut out: Vec<BlockUsage> = tallies
        .into_iter()
        .map(|(path, t)| {
            let cells = CellCounts::from_cells(family, &t.types);
            let logic_cells = match family {
                Family::Ice40 => cells.luts + t.lone_ffs + t.lone_carries,
                Family::Ecp5 => 0,
            };
            BlockUsage {
                block: path.join("."),
                depth: path.len(),
                cells,
                lone_ffs: t.lone_ffs,
                lone_carries: t.lone_carries,
                logic_cells,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (b.logic_cells + b.cells.luts)
            .cmp(&(a.logic_cells + a.cells.luts))
            .then(a.block.cmp(&b.block))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cell(t: &str, conns: Value, dirs: Value) -> Value {
        json!({"type": t, "connections": conns, "port_directions": dirs})
    }

    /// `a.x` is fed by a LUT that feeds nothing else (packed); `a.y` takes `a.x` directly
    /// (lone); `b.z` is fed by a LUT whose output also feeds another LUT (lone), and both LUTs
    /// belong to `b`; one carry has its adder LUT, one does not.
    fn netlist() -> Value {
        let lut = |i1: u64, i2: u64, o: u64| {
            cell(
                "SB_LUT4",
                json!({"I0": ["0"], "I1": [i1], "I2": [i2], "I3": ["0"], "O": [o]}),
                json!({"I0": "input", "I1": "input", "I2": "input", "I3": "input", "O": "output"}),
            )
        };
        let ff = |d: u64, q: u64| {
            cell(
                "SB_DFF",
                json!({"C": [1], "D": [d], "Q": [q]}),
                json!({"C": "input", "D": "input", "Q": "output"}),
            )
        };
        let carry = |i0: u64, i1: u64, co: u64| {
            cell(
                "SB_CARRY",
                json!({"CI": ["0"], "I0": [i0], "I1": [i1], "CO": [co]}),
                json!({"CI": "input", "I0": "input", "I1": "input", "CO": "output"}),
            )
        };
        json!({"modules": {"SB_LUT4": {"cells": {}}, "top": {
            "attributes": {"top": "00000000000000000000000000000001"},
            "cells": {
                "l_to_x": lut(2, 3, 10),
                "dev.a.x.q_SB_DFF_Q": ff(10, 11),
                "dev.a.y.q_SB_DFF_Q": ff(11, 12),
                "l_shared": lut(12, 3, 13),
                "l_after": lut(13, 2, 14),
                "dev.b.z.q_SB_DFF_Q_1": ff(13, 15),
                "dev.b.w.q_SB_DFF_Q": ff(14, 16),
                "c_paired": carry(12, 3, 17),
                "c_alone": carry(15, 16, 18),
                "dev.b.v.q_SB_DFF_Q": ff(17, 19),
                "dev.b.u.q_SB_DFF_Q": ff(18, 20),
            }
        }}})
    }

    #[test]
    fn cells_go_to_their_blocks_and_lone_cells_are_counted() {
        let blocks = flat_breakdown(Family::Ice40, &netlist(), &["dev"], 2).unwrap();
        let get = |name: &str| blocks.iter().find(|b| b.block == name).unwrap();
        let a = get("a");
        assert_eq!((a.cells.luts, a.cells.ffs, a.lone_ffs), (1, 2, 1));
        assert_eq!(a.logic_cells, 2);
        let b = get("b");
        assert_eq!((b.cells.luts, b.cells.ffs, b.cells.carries), (2, 4, 2));
        // z (fed by a shared LUT output) and v and u (fed by carries) share no LUT's cell; w's
        // LUT feeds it alone. The carry whose operands no LUT adds stands alone.
        assert_eq!((b.lone_ffs, b.lone_carries), (3, 1));
        assert_eq!(b.logic_cells, 2 + 3 + 1);
        let z = get("b.z");
        assert_eq!((z.depth, z.cells.ffs, z.lone_ffs), (2, 1, 1));
        // Largest first.
        assert_eq!(blocks[0].block, "b");
    }

    #[test]
    fn ecp5_logic_reaches_its_register_through_wide_multiplexers() {
        let io = |ins: &[&str], out: &str| {
            let mut d = serde_json::Map::new();
            for p in ins {
                d.insert(p.to_string(), json!("input"));
            }
            d.insert(out.to_string(), json!("output"));
            Value::Object(d)
        };
        let n = json!({"modules": {"top": {
            "attributes": {"top": 1},
            "cells": {
                "lut_a": cell("LUT4", json!({"A": [2], "Z": [10]}), io(&["A"], "Z")),
                "lut_b": cell("LUT4", json!({"A": [3], "Z": [11]}), io(&["A"], "Z")),
                "mux": cell(
                    "PFUMX",
                    json!({"ALUT": [10], "BLUT": [11], "C0": [4], "Z": [12]}),
                    io(&["ALUT", "BLUT", "C0"], "Z"),
                ),
                "dev.c.r.q_TRELLIS_FF_Q": cell(
                    "TRELLIS_FF",
                    json!({"CLK": [1], "DI": [12], "Q": [13]}),
                    io(&["CLK", "DI"], "Q"),
                ),
            }
        }}});
        let blocks = flat_breakdown(Family::Ecp5, &n, &["dev"], 2).unwrap();
        let c = blocks.iter().find(|b| b.block == "c").unwrap();
        assert_eq!((c.cells.luts, c.cells.ffs), (2, 1));
        assert_eq!(
            (c.lone_ffs, c.logic_cells),
            (0, 0),
            "no packing estimate on the ECP5"
        );
        assert_eq!(blocks.len(), 2, "{blocks:?}");
    }

    #[test]
    fn a_netlist_without_a_top_is_an_error() {
        let err = flat_breakdown(Family::Ice40, &json!({"modules": {}}), &[], 2).unwrap_err();
        assert!(err.contains("no top module"), "{err}");
    }
}
