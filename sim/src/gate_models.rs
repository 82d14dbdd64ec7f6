//! Simulation models of vendor cells that yosys ships only as black boxes.
//!
//! yosys 0.23 declares two ECP5 cells without behaviour: MULT18X18D (a black box in
//! `ecp5/cells_bb.v`, "FIXME: Create sim models") and DP16KD (parameters only, in
//! `ecp5/cells_sim.v`, so every read returns 0). The ECP5 gate-level check needs both, so
//! these models cover exactly the configurations `synth_ecp5` instantiates, as its
//! `dsp_map.v`, `brams_map.v` and `brams.txt` describe them:
//! - MULT18X18D: a combinational 18 x 18 multiplier (every register bypassed, `C` and the
//!   cascade unused) whose operands are signed when `SIGNEDA` / `SIGNEDB` are high;
//! - DP16KD: 1,024 x 18 on both ports (x18 mode: `AD[13:4]` addresses a word, `AD[1:0]` are
//!   the byte enables of bits 8:0 and 17:9), unregistered outputs, any of the three write
//!   modes, zero initial contents.
//!
//! Any other configuration stops the simulation at time zero instead of being simulated
//! wrongly. Being written from the same description yosys maps to, they check the mapping and
//! everything around these two cells, not the cells' own silicon behaviour.

/// The register parameters of MULT18X18D; each must be `"NONE"` (bypassed) for this model.
const REGISTER_PARAMS: [&str; 5] = [
    "REG_INPUTA_CLK",
    "REG_INPUTB_CLK",
    "REG_INPUTC_CLK",
    "REG_PIPELINE_CLK",
    "REG_OUTPUT_CLK",
];

/// `prefix0, prefix1, ..., prefix{n-1}`.
fn pins(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{prefix}{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `{prefix{n-1}, ..., prefix0}`: the pins as one vector, most significant first.
fn bus(prefix: &str, n: usize) -> String {
    let bits: Vec<String> = (0..n).rev().map(|i| format!("{prefix}{i}")).collect();
    format!("{{{}}}", bits.join(", "))
}

/// The Verilog of the combinational MULT18X18D model, with the port list of yosys's black box.
pub(crate) fn mult18x18d_model() -> String {
    let mut v = String::from(
        "// qtrain-sim: combinational MULT18X18D for gate-level simulation (see gate_models.rs)\n\
         module MULT18X18D(\n",
    );
    let inputs = [
        pins("A", 18),
        pins("B", 18),
        pins("C", 18),
        "SIGNEDA, SIGNEDB, SOURCEA, SOURCEB".into(),
        pins("CLK", 4),
        pins("CE", 4),
        pins("RST", 4),
        pins("SRIA", 18),
        pins("SRIB", 18),
    ];
    for group in inputs {
        v.push_str(&format!("    input {group},\n"));
    }
    for group in [
        pins("SROA", 18),
        pins("SROB", 18),
        pins("ROA", 18),
        pins("ROB", 18),
        pins("ROC", 18),
        pins("P", 36),
    ] {
        v.push_str(&format!("    output {group},\n"));
    }
    v.push_str("    output SIGNEDP\n);\n");
    for p in REGISTER_PARAMS {
        v.push_str(&format!("    parameter {p} = \"NONE\";\n"));
    }
    // The other parameters of the black box are accepted and do not matter when every
    // register is bypassed.
    for p in ["INPUTA", "INPUTB", "INPUTC", "PIPELINE", "OUTPUT"] {
        v.push_str(&format!(
            "    parameter REG_{p}_CE = \"CE0\";\n    parameter REG_{p}_RST = \"RST0\";\n"
        ));
    }
    v.push_str(
        "    parameter [127:0] CLK0_DIV = \"ENABLED\";\n\
         \x20   parameter [127:0] CLK1_DIV = \"ENABLED\";\n\
         \x20   parameter [127:0] CLK2_DIV = \"ENABLED\";\n\
         \x20   parameter [127:0] CLK3_DIV = \"ENABLED\";\n\
         \x20   parameter HIGHSPEED_CLK = \"NONE\";\n\
         \x20   parameter [127:0] GSR = \"ENABLED\";\n\
         \x20   parameter CAS_MATCH_REG = \"FALSE\";\n\
         \x20   parameter [127:0] SOURCEB_MODE = \"B_SHIFT\";\n\
         \x20   parameter [127:0] MULT_BYPASS = \"DISABLED\";\n\
         \x20   parameter [127:0] RESETMODE = \"SYNC\";\n",
    );
    let bypassed: Vec<String> = REGISTER_PARAMS
        .iter()
        .map(|p| format!("{p} != \"NONE\""))
        .collect();
    v.push_str(&format!(
        "    initial if ({} || MULT_BYPASS != \"DISABLED\") begin\n\
         \x20       $display(\"MULT18X18D model: only the combinational configuration is modelled\");\n\
         \x20       $fatal(1);\n\
         \x20   end\n",
        bypassed.join(" || ")
    ));
    v.push_str(&format!(
        "    wire [17:0] a = {};\n    wire [17:0] b = {};\n",
        bus("A", 18),
        bus("B", 18)
    ));
    v.push_str(
        "    wire [35:0] ea = {{18{SIGNEDA & a[17]}}, a};\n\
         \x20   wire [35:0] eb = {{18{SIGNEDB & b[17]}}, b};\n\
         \x20   wire [35:0] p = ea * eb;\n",
    );
    v.push_str(&format!("    assign {} = p;\n", bus("P", 36)));
    v.push_str("    assign SIGNEDP = SIGNEDA | SIGNEDB;\n");
    v.push_str(&format!(
        "    assign {} = a;\n    assign {} = b;\n    assign {} = {};\n",
        bus("ROA", 18),
        bus("ROB", 18),
        bus("ROC", 18),
        bus("C", 18)
    ));
    v.push_str(&format!(
        "    assign {} = a;\n    assign {} = b;\nendmodule\n",
        bus("SROA", 18),
        bus("SROB", 18)
    ));
    v
}

/// The Verilog of the DP16KD model (x18 on both ports), with the port list of yosys's cell.
pub(crate) fn dp16kd_model() -> String {
    let mut v = String::from(
        "// qtrain-sim: DP16KD in x18 mode for gate-level simulation (see gate_models.rs)\n\
         module DP16KD(\n",
    );
    for p in ["A", "B"] {
        v.push_str(&format!(
            "    input {},\n    input {},\n    input CE{p}, OCE{p}, CLK{p}, WE{p}, RST{p},\n    \
             input CS{p}2, CS{p}1, CS{p}0,\n    output {}{}\n",
            pins(&format!("DI{p}"), 18),
            pins(&format!("AD{p}"), 14),
            pins(&format!("DO{p}"), 18),
            if p == "A" { "," } else { "" }
        ));
    }
    v.push_str(");\n");
    for p in ["A", "B"] {
        v.push_str(&format!(
            "    parameter DATA_WIDTH_{p} = 18;\n    parameter REGMODE_{p} = \"NOREG\";\n    \
             parameter CSDECODE_{p} = \"0b000\";\n    parameter WRITEMODE_{p} = \"NORMAL\";\n    \
             parameter CLK{p}MUX = \"CLK{p}\";\n"
        ));
    }
    v.push_str(
        "    parameter RESETMODE = \"SYNC\";\n    parameter ASYNC_RESET_RELEASE = \"SYNC\";\n    \
         parameter GSR = \"ENABLED\";\n    parameter INIT_DATA = \"STATIC\";\n    \
         parameter WID = 0;\n",
    );
    let inits: Vec<String> = (0..64).map(|i| format!("INITVAL_{i:02X}")).collect();
    for name in &inits {
        v.push_str(&format!("    parameter [319:0] {name} = 320'h0;\n"));
    }
    v.push_str(&format!(
        "    initial if (DATA_WIDTH_A != 18 || DATA_WIDTH_B != 18 || REGMODE_A != \"NOREG\" ||\n\
         \x20       REGMODE_B != \"NOREG\" || CSDECODE_A != \"0b000\" || CSDECODE_B != \"0b000\" ||\n\
         \x20       ({}) != 320'h0) begin\n\
         \x20       $display(\"DP16KD model: only x18 ports, NOREG, CSDECODE 0b000 and zero contents are modelled\");\n\
         \x20       $fatal(1);\n\
         \x20   end\n",
        inits.join(" | ")
    ));
    v.push_str("    reg [17:0] mem [0:1023];\n    integer i;\n");
    v.push_str("    initial for (i = 0; i < 1024; i = i + 1) mem[i] = 18'h0;\n");
    for p in ["A", "B"] {
        v.push_str(&format!(
            "    wire [13:0] ad{l} = {ad};\n    wire [17:0] di{l} = {di};\n    \
             reg [17:0] do{l} = 18'h0;\n    assign {dout} = do{l};\n    \
             wire clk{l} = (CLK{p}MUX == \"INV\") ? ~CLK{p} : CLK{p};\n    \
             wire sel{l} = CE{p} && {{CS{p}2, CS{p}1, CS{p}0}} == 3'b000;\n    \
             always @(posedge clk{l}) begin\n        \
             if (RST{p}) do{l} <= 18'h0;\n        \
             else if (sel{l}) begin\n            \
             if (!WE{p} || WRITEMODE_{p} == \"READBEFOREWRITE\") do{l} <= mem[ad{l}[13:4]];\n            \
             else if (WRITEMODE_{p} == \"WRITETHROUGH\")\n                \
             do{l} <= {{ad{l}[1] ? di{l}[17:9] : mem[ad{l}[13:4]][17:9], ad{l}[0] ? di{l}[8:0] : mem[ad{l}[13:4]][8:0]}};\n        \
             end\n        \
             if (sel{l} && WE{p}) begin\n            \
             if (ad{l}[0]) mem[ad{l}[13:4]][8:0] <= di{l}[8:0];\n            \
             if (ad{l}[1]) mem[ad{l}[13:4]][17:9] <= di{l}[17:9];\n        \
             end\n    end\n",
            l = p.to_lowercase(),
            ad = bus(&format!("AD{p}"), 14),
            di = bus(&format!("DI{p}"), 18),
            dout = bus(&format!("DO{p}"), 18),
        ));
    }
    v.push_str("endmodule\n");
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_declares_every_pin_of_the_black_box_once() {
        let v = mult18x18d_model();
        for pin in [
            "A17", "B0", "C9", "SIGNEDB", "CLK3", "RST0", "SRIB17", "P35", "SIGNEDP",
        ] {
            let decl = v
                .lines()
                .take_while(|l| !l.starts_with(");"))
                .filter(|l| l.split([' ', ',']).any(|w| w == pin))
                .count();
            assert_eq!(decl, 1, "{pin} in\n{v}");
        }
        assert!(v.contains("wire [35:0] p = ea * eb;"));
        assert!(v.contains("$fatal"));
    }
}
