//! Gate-level simulation: a core's Verilog synthesized by yosys for a real FPGA family, the
//! mapped netlist simulated under Verilator with the vendor cells' simulation models.
//!
//! [`GateNetlist::synthesize`] runs `synth_ice40 -dsp` or `synth_ecp5` and writes the mapped
//! design with `write_verilog -noattr`; the netlist keeps the top module's name and ports, so
//! [`GateNetlist::sim_core`] hands it (behind the cell models) to [`SimCore::from_verilog`]
//! and the usual harness drives it. A synthesis result is cached like a Verilator build
//! (`<cache>/gate/<key>/`, keyed by the Verilog, the script and the yosys version).
//!
//! This guards against synthesis changing behaviour (yosys has had pre/post-synthesis
//! mismatches, e.g. in its iCE40 DSP inference).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime};

use crate::cache::{cache_dir, fnv1a128, run};
use crate::core::{SimCore, SimOptions};
use crate::error::SimError;
use crate::gate_models::{dp16kd_model, mult18x18d_model};
use crate::toolchain::which;

/// The message for a missing yosys.
pub const YOSYS_MISSING: &str = "yosys not found on PATH: install it with `apt-get install yosys` \
     (Debian/Ubuntu; 0.23 or later), or set QTRAIN_YOSYS to the yosys executable";

/// An FPGA family whose mapped netlists can be simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GateTarget {
    /// Lattice iCE40 (`synth_ice40 -dsp`: LUT4s, SB_CARRY, SB_DFF*, SB_RAM40_4K, SB_MAC16).
    Ice40,
    /// Lattice ECP5 (`synth_ecp5`: LUT4, CCU2C, TRELLIS_FF, DP16KD, MULT18X18D, ...).
    Ecp5,
}

impl GateTarget {
    /// Both families.
    pub const ALL: [GateTarget; 2] = [GateTarget::Ice40, GateTarget::Ecp5];

    /// The family's name in yosys (`ice40`, `ecp5`): its share subdirectory.
    pub fn name(self) -> &'static str {
        match self {
            GateTarget::Ice40 => "ice40",
            GateTarget::Ecp5 => "ecp5",
        }
    }

    /// The synthesis command, as `qtrain synth` runs it for a board of this family.
    pub fn synth_command(self) -> &'static str {
        match self {
            GateTarget::Ice40 => "synth_ice40 -dsp -top top",
            GateTarget::Ecp5 => "synth_ecp5 -top top",
        }
    }

    /// The cell that holds a multiplier in this family.
    pub fn dsp_cell(self) -> &'static str {
        match self {
            GateTarget::Ice40 => "SB_MAC16",
            GateTarget::Ecp5 => "MULT18X18D",
        }
    }

    fn script(self) -> String {
        format!(
            "read_verilog rtl.v\n{}\ntee -q -o stat.txt stat\nwrite_verilog -noattr netlist.v\n",
            self.synth_command()
        )
    }
}

impl std::fmt::Display for GateTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A yosys installation: the executable, its version and its share directory (which holds
/// the cell simulation models, `<datdir>/<family>/cells_sim.v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Yosys {
    /// The executable.
    pub path: PathBuf,
    /// The first line of `yosys -V`, e.g. `Yosys 0.23 (git sha1 7ce5011c24b)`.
    pub version: String,
    /// The share directory (`yosys-config --datdir`).
    pub datdir: PathBuf,
}

impl Yosys {
    /// `$QTRAIN_YOSYS` or `yosys` on `PATH`, with its share directory from
    /// `$QTRAIN_YOSYS_DATDIR`, `yosys-config --datdir`, or `<prefix>/share/yosys` beside the
    /// executable. Remembered for the process once found.
    ///
    /// # Errors
    /// [`SimError::ToolMissing`] (saying what to install) when yosys or its share directory
    /// cannot be found.
    pub fn find() -> Result<Yosys, SimError> {
        static FOUND: OnceLock<Yosys> = OnceLock::new();
        if let Some(y) = FOUND.get() {
            return Ok(y.clone());
        }
        let name = std::env::var("QTRAIN_YOSYS")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "yosys".into());
        let path = which(name.trim()).ok_or_else(|| SimError::ToolMissing(YOSYS_MISSING.into()))?;
        let out = Command::new(&path)
            .arg("-V")
            .output()
            .map_err(|e| SimError::io(format!("running {} -V", path.display()), e))?;
        let version = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        if !out.status.success() || !version.starts_with("Yosys") {
            return Err(SimError::ToolMissing(format!(
                "{} -V did not report a version (exit {}, output {version:?}); {YOSYS_MISSING}",
                path.display(),
                out.status
            )));
        }
        let datdir = datdir_for(&path).ok_or_else(|| {
            SimError::ToolMissing(format!(
                "found {} but not its share directory with ice40/cells_sim.v: set \
                 QTRAIN_YOSYS_DATDIR to it (`yosys-config --datdir` prints it)",
                path.display()
            ))
        })?;
        Ok(FOUND
            .get_or_init(|| Yosys {
                path,
                version,
                datdir,
            })
            .clone())
    }

    /// The cell simulation models of `target`, as one Verilog text that precedes a netlist.
    ///
    /// # Errors
    /// When the models cannot be read.
    pub fn cell_models(&self, target: GateTarget) -> Result<String, SimError> {
        let dir = self.datdir.join(target.name());
        let text = read_inlining_includes(&dir.join("cells_sim.v"), 0)?;
        Ok(match target {
            // Verilator 5.006 cannot parse the models' default values for vector input ports;
            // every input of a mapped cell is connected in the netlist, so none is needed.
            GateTarget::Ice40 => format!("`define NO_ICE40_DEFAULT_ASSIGNMENTS\n{text}"),
            // yosys 0.23 has no behaviour for MULT18X18D and DP16KD: ours replace its
            // behaviourless DP16KD (see gate_models.rs).
            GateTarget::Ecp5 => format!(
                "{}\n{}\n{}",
                without_module(&text, "DP16KD"),
                mult18x18d_model(),
                dp16kd_model()
            ),
        })
    }
}

/// The text of a Verilog file with its `` `include "file" `` lines replaced by the files (from
/// the same directory), so that the whole text can be handed to Verilator as one source.
fn read_inlining_includes(path: &Path, depth: usize) -> Result<String, SimError> {
    let text = fs::read_to_string(path)
        .map_err(|e| SimError::io(format!("reading {}", path.display()), e))?;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let included = line
            .trim()
            .strip_prefix("`include")
            .map(|rest| rest.trim().trim_matches('"'))
            .filter(|name| !name.is_empty() && depth < 8);
        match (included, path.parent()) {
            (Some(name), Some(dir)) => {
                out.push_str(&read_inlining_includes(&dir.join(name), depth + 1)?)
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    Ok(out)
}

/// `text` without the module called `name` (from its `module` line to its `endmodule`).
fn without_module(text: &str, name: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut skipping = false;
    for line in text.lines() {
        let t = line.trim_start();
        if !skipping
            && t.strip_prefix("module ").is_some_and(|rest| {
                rest.trim_start().starts_with(name)
                    && rest.trim_start()[name.len()..].starts_with(['(', ' ', '#'])
            })
        {
            skipping = true;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
        if skipping && t.starts_with("endmodule") {
            skipping = false;
        }
    }
    out
}

/// Whether `dir` holds the cell models this module needs.
fn is_datdir(dir: &Path) -> bool {
    dir.join("ice40").join("cells_sim.v").is_file()
}

fn datdir_for(yosys: &Path) -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("QTRAIN_YOSYS_DATDIR") {
        let d = PathBuf::from(d);
        return is_datdir(&d).then_some(d);
    }
    let beside = yosys.parent().map(|p| p.join("yosys-config"));
    let config = beside
        .filter(|p| p.is_file())
        .or_else(|| which("yosys-config"));
    if let Some(config) = config {
        if let Ok(out) = Command::new(config).arg("--datdir").output() {
            let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if out.status.success() && is_datdir(&d) {
                return Some(d);
            }
        }
    }
    // yosys itself looks for `../share/yosys` relative to its (resolved) executable.
    let real = fs::canonicalize(yosys).ok()?;
    let d = real.parent()?.parent()?.join("share").join("yosys");
    is_datdir(&d).then_some(d)
}

/// A mapped netlist of one design for one family, and what it is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct GateNetlist {
    target: GateTarget,
    netlist: String,
    cells: BTreeMap<String, usize>,
    dir: PathBuf,
    synth_seconds: Option<f64>,
}

impl GateNetlist {
    /// Synthesizes `rtl` (top module `top`) for `target`, or loads the cached result of an
    /// identical earlier run (same Verilog, script and yosys version).
    ///
    /// # Errors
    /// [`SimError::ToolMissing`] without yosys; [`SimError::Build`] (stage `"yosys"`, with the
    /// tail of its log) when synthesis fails; I/O errors of the cache.
    pub fn synthesize(rtl: &str, target: GateTarget) -> Result<GateNetlist, SimError> {
        let yosys = Yosys::find()?;
        // One synthesis at a time per process: a second request for the same design (tests
        // run in parallel) then finds the first one's result in the cache instead of
        // repeating a minute of CPU.
        static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let script = target.script();
        let key = fnv1a128(&[rtl.as_bytes(), script.as_bytes(), yosys.version.as_bytes()]);
        let root = cache_dir()?.join("gate");
        let dir = root.join(format!("{key:032x}-{}", target.name()));
        let mut synth_seconds = None;
        if !dir.join("netlist.v").is_file() {
            let tmp = root.join(format!(
                ".tmp-{key:032x}-{}-{}",
                std::process::id(),
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0)
            ));
            fs::create_dir_all(&tmp)
                .map_err(|e| SimError::io(format!("creating {}", tmp.display()), e))?;
            let write = |name: &str, text: &str| {
                let p = tmp.join(name);
                fs::write(&p, text).map_err(|e| SimError::io(format!("writing {}", p.display()), e))
            };
            write("rtl.v", rtl)?;
            write("synth.ys", &script)?;
            let started = Instant::now();
            let mut cmd = Command::new(&yosys.path);
            cmd.current_dir(&tmp)
                .args(["-q", "-l", "yosys.log", "-s", "synth.ys"]);
            run("yosys", &mut cmd, &tmp)?;
            synth_seconds = Some(started.elapsed().as_secs_f64());
            if fs::rename(&tmp, &dir).is_err() && !dir.join("netlist.v").is_file() {
                return Err(SimError::io(
                    format!("renaming {} to {}", tmp.display(), dir.display()),
                    std::io::Error::other("rename failed"),
                ));
            }
            // A concurrent run that got there first leaves ours behind.
            let _ = fs::remove_dir_all(&tmp);
        }
        let read = |name: &str| {
            let p = dir.join(name);
            fs::read_to_string(&p).map_err(|e| SimError::io(format!("reading {}", p.display()), e))
        };
        let netlist = read("netlist.v")?;
        let cells = parse_stat(&read("stat.txt")?);
        Ok(GateNetlist {
            target,
            netlist,
            cells,
            dir,
            synth_seconds,
        })
    }

    /// The family it was mapped to.
    pub fn target(&self) -> GateTarget {
        self.target
    }

    /// The mapped netlist (`write_verilog -noattr`).
    pub fn netlist(&self) -> &str {
        &self.netlist
    }

    /// Cells of the top module by type, from yosys's `stat`.
    pub fn cells(&self) -> &BTreeMap<String, usize> {
        &self.cells
    }

    /// Cells of one type (0 if none).
    pub fn cell_count(&self, cell: &str) -> usize {
        self.cells.get(cell).copied().unwrap_or(0)
    }

    /// The cache directory holding the netlist, `stat.txt` and `yosys.log`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Seconds yosys ran, if this call synthesized (`None` when loaded from the cache).
    pub fn synth_seconds(&self) -> Option<f64> {
        self.synth_seconds
    }

    /// The same netlist with its text replaced, e.g. by a deliberately broken copy (to show
    /// that the check catches a wrong netlist). The cell counts are kept as they were.
    pub fn with_netlist(&self, netlist: String) -> GateNetlist {
        GateNetlist {
            netlist,
            ..self.clone()
        }
    }

    /// The cell models followed by the netlist: the Verilog that Verilator simulates.
    ///
    /// # Errors
    /// When yosys or its cell models cannot be found.
    pub fn simulation_verilog(&self) -> Result<String, SimError> {
        let models = Yosys::find()?.cell_models(self.target)?;
        Ok(format!("{models}\n{}", self.netlist))
    }

    /// The netlist (a GEMM core with `rows x cols` PEs and `2^addr_bits`-word banks) under
    /// Verilator, driven by the same harness as the RTL: see [`SimCore::from_verilog`].
    ///
    /// # Errors
    /// As [`GateNetlist::simulation_verilog`] and [`SimCore::from_verilog`].
    pub fn sim_core(&self, rows: usize, cols: usize, addr_bits: u32) -> Result<SimCore, SimError> {
        SimCore::from_verilog(
            &self.simulation_verilog()?,
            rows,
            cols,
            addr_bits,
            SimOptions::default(),
        )
    }
}

/// The cell counts of yosys's `stat` text: the `<type> <count>` lines (or `<count> <type>`, the
/// order of newer versions) that follow `Number of cells`, up to the first blank line.
fn parse_stat(text: &str) -> BTreeMap<String, usize> {
    let mut cells = BTreeMap::new();
    let mut lines = text.lines().skip_while(|l| !l.contains("Number of cells"));
    lines.next();
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (name, count) = match words[..] {
            [a, b] => match (a.parse::<usize>(), b.parse::<usize>()) {
                (Err(_), Ok(n)) => (a, n),
                (Ok(n), Err(_)) => (b, n),
                _ => break,
            },
            _ => break,
        };
        *cells.entry(name.to_string()).or_default() += count;
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parses_both_column_orders() {
        let old = "=== top ===\n\n   Number of wires:   10\n   Number of cells:   7\n     \
                   SB_LUT4     5\n     SB_MAC16    2\n\n   Chip area: 0\n";
        let cells = parse_stat(old);
        assert_eq!(cells.len(), 2);
        assert_eq!(cells["SB_LUT4"], 5);
        assert_eq!(cells["SB_MAC16"], 2);
        let new = "   Number of cells:    7\n         5   LUT4\n         2   MULT18X18D\n\n";
        let cells = parse_stat(new);
        assert_eq!(cells["LUT4"], 5);
        assert_eq!(cells["MULT18X18D"], 2);
        assert!(parse_stat("nothing here").is_empty());
    }

    #[test]
    fn without_module_drops_exactly_that_module() {
        let text = "module DP16KDX(input a);\nendmodule\nmodule DP16KD(\n input b\n);\n  \
                    parameter P = 1;\nendmodule\nmodule LUT4(input c);\nendmodule\n";
        let out = without_module(text, "DP16KD");
        assert!(
            out.contains("module DP16KDX(") && out.contains("module LUT4("),
            "{out}"
        );
        assert!(
            !out.contains("module DP16KD(") && !out.contains("input b"),
            "{out}"
        );
        assert_eq!(out.matches("endmodule").count(), 2, "{out}");
    }

    #[test]
    fn scripts_map_and_write_the_netlist() {
        for t in GateTarget::ALL {
            let s = t.script();
            assert!(s.contains(t.synth_command()), "{s}");
            assert!(s.contains("write_verilog -noattr netlist.v"), "{s}");
        }
        assert!(GateTarget::Ice40.synth_command().contains("-dsp"));
    }
}
