//! The bitstream flow: Verilog and constraints -> yosys -> nextpnr -> packer, with the fit and
//! timing checks and report.json.

use crate::boards::{Board, Family, GeometryPreset};
use crate::dsp_clock::tie_idle_dsp_clocks;
use crate::link::{choose_link, LinkSettings};
use crate::netlist_blocks::{flat_breakdown, BlockUsage};
use crate::pll::{ecp5_pll, ice40_pll, Ecp5PllSettings, PllError};
use crate::report::{
    parse_nextpnr_report, parse_stat, stat_cells, CellCounts, ClockTiming, DspProof, NextpnrReport,
    Usage,
};
use crate::tool_run::{run_tool, run_tool_limited};
use crate::tools::{version_of, Toolchain};
use crate::top::{rename_device, BoardTop};
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The instance path of the device (or core bench) in a board top: the top's `device` block,
/// whose Verilog instantiates the design as `device`.
const DEVICE_PATH: [&str; 2] = ["device", "device"];
/// Levels of the breakdown below the device.
const BREAKDOWN_DEPTH: usize = 4;

/// The design in the board top.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Top {
    /// The device: link, command engine, memory, GEMM unit (and the vector unit unless the
    /// geometry is GEMM-only). What a board runs.
    #[default]
    Device,
    /// The GEMM core alone in a measurement bench (`qtrain_hdl::core_bench`): its area and
    /// Fmax on the board, with scratchpad banks of the geometry's `scratch_words`
    /// (docs/performance.md). Not a usable bitstream.
    Core,
}

/// nextpnr's placer (`--placer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Placer {
    /// HeAP, an analytical placer with simulated-annealing refinement: nextpnr's own default,
    /// and the only analytical placer of Debian's nextpnr-ice40 0.4.
    Heap,
    /// The electrostatic placer, with the same refinement (the pinned YoWASP nextpnr-ecp5
    /// 0.11.1 has it; Debian's nextpnr-ice40 0.4 does not). On the ECP5 it leaves the router
    /// far less congestion: the 12x12 device routes in about 4 minutes instead of well over
    /// an hour with HeAP (docs/performance.md).
    Static,
    /// Simulated annealing alone: slow, for comparison.
    Sa,
}

impl Placer {
    /// The value of nextpnr's `--placer`.
    pub fn nextpnr_name(self) -> &'static str {
        match self {
            Placer::Heap => "heap",
            Placer::Static => "static",
            Placer::Sa => "sa",
        }
    }

    /// The placer a family's builds use unless asked otherwise: the static placer where the
    /// pinned nextpnr has it and it was measured to help (ECP5), HeAP elsewhere.
    pub const fn default_for(family: Family) -> Placer {
        match family {
            Family::Ice40 => Placer::Heap,
            Family::Ecp5 => Placer::Static,
        }
    }
}

/// What to build.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BuildConfig {
    /// The design: the device, or the core bench.
    pub top: Top,
    /// The board.
    #[serde(serialize_with = "board_name")]
    pub board: &'static Board,
    /// Array rows.
    pub rows: usize,
    /// Array columns.
    pub cols: usize,
    /// Requested core clock, MHz.
    pub freq_mhz: f64,
    /// nextpnr's placer seed.
    pub seed: u64,
    /// nextpnr's placer (default: [`Placer::default_for`] the board's family).
    pub placer: Placer,
    /// Device memory sizes.
    pub geometry: GeometryPreset,
    /// Wall-clock seconds nextpnr may take to place and route before the build stops with
    /// [`Outcome::DoesNotRoute`]: a design that packs into nearly every logic cell can leave
    /// the router ripping up the same few congested wires for ever.
    pub place_route_limit_s: u64,
}

/// The default [`BuildConfig::place_route_limit_s`] of a family: several times the longest
/// place and route measured (iCE40 device ~1 min; ECP5 12x12 device ~15 min on 2 cores with
/// the static placer).
pub const fn default_place_route_limit_s(family: Family) -> u64 {
    match family {
        Family::Ice40 => 900,
        Family::Ecp5 => 3600,
    }
}

fn board_name<S: serde::Serializer>(b: &&'static Board, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(b.name)
}

impl BuildConfig {
    /// The board's preset.
    pub fn preset(board: &'static Board) -> BuildConfig {
        BuildConfig {
            top: Top::Device,
            board,
            rows: board.preset.rows,
            cols: board.preset.cols,
            freq_mhz: board.preset.freq_mhz,
            seed: 1,
            placer: Placer::default_for(board.family),
            geometry: board.preset.geometry,
            place_route_limit_s: default_place_route_limit_s(board.family),
        }
    }

    /// The directory name of this configuration under `bitstreams/<board>/`: a placer other
    /// than the family's default is named too, so that a comparison build does not overwrite
    /// the default one.
    pub fn dir_name(&self) -> String {
        let placer = if self.placer == Placer::default_for(self.board.family) {
            String::new()
        } else {
            format!("-{}", self.placer.nextpnr_name())
        };
        if self.top == Top::Core {
            return format!(
                "core-{}x{}-{}mhz-k{}{placer}-seed{}",
                self.rows, self.cols, self.freq_mhz, self.geometry.scratch_words, self.seed
            );
        }
        format!(
            "{}x{}-{}mhz-mem{}-k{}-body{}{}{}{placer}-seed{}",
            self.rows,
            self.cols,
            self.freq_mhz,
            self.geometry.mem_words,
            self.geometry.scratch_words,
            self.geometry.max_body,
            if self.geometry.vector_unit {
                ""
            } else {
                "-gemm-only"
            },
            if self.geometry.windows_in_dsps {
                "-dspwin"
            } else {
                ""
            },
            self.seed
        )
    }
}

/// The clocking of a build: the PLL and the link constants it leads to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Clocking {
    /// The board oscillator, Hz.
    pub oscillator_hz: u64,
    /// What the PLL really makes, Hz.
    pub core_hz: f64,
    /// ECP5 dividers (None on iCE40, whose dividers rust-hdl-fpga-support chose: see pll.v).
    pub ecp5_pll: Option<Ecp5PllSettings>,
    /// The UART constants.
    pub link: LinkSettings,
    #[serde(skip)]
    pll_code: String,
}

/// Why a build stopped.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The configuration cannot be built at all (bad clock, geometry, shape).
    #[error("{0}")]
    Config(String),
    /// A tool failed; its log is in the output directory.
    #[error("{tool} failed ({status}); see {log}{tail}")]
    Tool {
        /// The tool.
        tool: String,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: String,
        /// The last error lines of its log.
        tail: String,
    },
    /// A tool ran past its time limit and was stopped; its log is in the output directory.
    #[error("{tool} did not finish within {limit_s} s and was stopped; see {log}")]
    TimeLimit {
        /// The tool.
        tool: String,
        /// The limit, seconds.
        limit_s: u64,
        /// Its log file.
        log: String,
    },
    /// Writing the outputs failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<PllError> for FlowError {
    fn from(e: PllError) -> Self {
        FlowError::Config(e.to_string())
    }
}

/// The clocking for `cfg`: the PLL nearest `freq_mhz` and the fastest link it supports.
pub fn clocking(cfg: &BuildConfig) -> Result<Clocking, FlowError> {
    let b = cfg.board;
    let (pll_code, core_hz, ecp5) = match b.family {
        Family::Ice40 => {
            let (code, hz) = ice40_pll(cfg.freq_mhz)?;
            (code, hz, None)
        }
        Family::Ecp5 => {
            let s = ecp5_pll(b.clock_hz, cfg.freq_mhz * 1e6)?;
            (s.verilog(), s.fout_hz(), Some(s))
        }
    };
    let link = choose_link(core_hz.round() as u64, b.max_baud).ok_or_else(|| {
        FlowError::Config(format!(
            "no baud up to {} divides {:.3} MHz within the UART's margin; pick another --freq",
            b.max_baud,
            core_hz / 1e6
        ))
    })?;
    Ok(Clocking {
        oscillator_hz: b.clock_hz,
        core_hz,
        ecp5_pll: ecp5,
        link,
        pll_code,
    })
}

/// The board top and device Verilog (one file) and the pin constraints.
pub fn generate(cfg: &BuildConfig, clk: &Clocking) -> Result<(String, String), FlowError> {
    let geometry = cfg
        .geometry
        .device_geometry()
        .map_err(|e| FlowError::Config(e.to_string()))?;
    let device = match cfg.top {
        Top::Device => qtrain_hdl::device_top_verilog_sized(cfg.rows, cfg.cols, &geometry),
        Top::Core => qtrain_hdl::core_bench_verilog(cfg.rows, cfg.cols, geometry.scratch_words()),
    }
    .map_err(|e| FlowError::Config(e.to_string()))?;
    let top = BoardTop::with_design(
        cfg.board,
        clk.pll_code.clone(),
        clk.link,
        cfg.top == Top::Device,
    );
    let verilog = format!(
        "// qtrain board top for {} ({}); generated by `qtrain synth`, do not edit.\n{}\n{}",
        cfg.board.title,
        cfg.dir_name(),
        top.verilog(),
        rename_device(&device)
    );
    Ok((verilog, top.constraints()))
}

/// How the build ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Bitstream written, timing met, every multiplier in a DSP.
    Ok,
    /// The design needs more of some resource than the device has.
    DoesNotFit,
    /// Packed, but nextpnr did not finish placing and routing within
    /// [`BuildConfig::place_route_limit_s`].
    DoesNotRoute,
    /// Placed and routed, but some clock misses its target.
    TimingFailed,
    /// Some multiplier was built from logic.
    MultiplierInLogic,
}

/// Tool versions and flavours.
#[derive(Clone, Debug, Serialize)]
pub struct ToolVersion {
    /// The executable.
    pub path: PathBuf,
    /// native / yowasp.
    pub flavour: crate::tools::Flavour,
    /// Its version line.
    pub version: String,
}

/// Wall-clock seconds per step.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WallTimes {
    /// Verilog generation.
    pub generate: f64,
    /// yosys (flattened synthesis).
    pub yosys: f64,
    /// nextpnr's packer alone (iCE40, before the fit check).
    pub nextpnr_pack: Option<f64>,
    /// nextpnr.
    pub nextpnr: Option<f64>,
    /// icepack / ecppack.
    pub pack: Option<f64>,
    /// Everything.
    pub total: f64,
}

/// report.json.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// How it ended.
    pub outcome: Outcome,
    /// Why, in words (empty when `ok`).
    pub reason: String,
    /// The board's name.
    pub board: &'static str,
    /// Its FPGA.
    pub part: &'static str,
    /// What was built.
    pub config: BuildConfig,
    /// PLL and link.
    pub clocking: Clocking,
    /// yosys / nextpnr / packer versions.
    pub tools: std::collections::BTreeMap<String, ToolVersion>,
    /// Resources after synthesis (yosys), against the device.
    pub synthesis: Utilization,
    /// nextpnr's own utilization (after packing), when it ran: on the iCE40 from a packing-only
    /// run before placement, so it is there even when the design does not fit (ICESTORM_LC
    /// counts logic cells, each a LUT4, a carry and a flip-flop packed together).
    pub placed: Option<std::collections::BTreeMap<String, Usage>>,
    /// Fmax per clock (nextpnr), when it ran.
    pub timing: Option<Timing>,
    /// The multiplier proof.
    pub dsp_proof: DspProof,
    /// Per-block resources of the flattened netlist, with the iCE40's lone flip-flops and
    /// carries (when the design does not fit; [`crate::netlist_blocks`]).
    pub breakdown: Vec<BlockUsage>,
    /// The bitstream file name (in the output directory), when written.
    pub bitstream: Option<String>,
    /// Wall times, seconds.
    pub wall_seconds: WallTimes,
}

/// Synthesis utilization.
#[derive(Clone, Debug, Serialize)]
pub struct Utilization {
    /// LUT4s (iCE40: logic cells as SB_LUT4s; a logic cell also holds a FF and a carry).
    pub luts: Usage,
    /// Flip-flops.
    pub ffs: Usage,
    /// DSP multipliers.
    pub dsps: Usage,
    /// Block RAMs.
    pub brams: Usage,
    /// SPRAMs.
    pub sprams: Usage,
    /// iCE40 SB_CARRY / ECP5 CCU2C cells.
    pub carries: u64,
}

/// Timing against the PLL's frequency.
#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    /// The core clock the design must run at, MHz.
    pub target_mhz: f64,
    /// Every clock nextpnr analysed.
    pub clocks: Vec<ClockTiming>,
    /// Every clock reached `target_mhz` (and its own constraint).
    pub met: bool,
}

/// The per-block breakdown of the build's flat netlist (for a design that does not fit or
/// does not route).
fn breakdown(dir: &Path, family: Family) -> Result<Vec<BlockUsage>, FlowError> {
    let netlist: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("netlist.json"))?)
            .map_err(|e| FlowError::Config(format!("netlist.json: {e}")))?;
    flat_breakdown(family, &netlist, &DEVICE_PATH, BREAKDOWN_DEPTH).map_err(FlowError::Config)
}

fn synth_command(family: Family) -> &'static str {
    match family {
        Family::Ice40 => "synth_ice40 -dsp -top top",
        Family::Ecp5 => "synth_ecp5 -top top",
    }
}

/// The yosys script: synthesis split around its `coarse` step (which maps multipliers to DSPs)
/// to list the multipliers of the flattened design before any mapping, and to dump the cells
/// that could still hold one after it (see [`DspProof`]). The list is taken from an optimized
/// copy of the design (`design -save` / `-load`: the synthesis itself is unchanged), so that
/// logic which cannot act, such as the constant-disabled vector unit of a GEMM-only device with
/// its UPDATE multiplier, is not counted as a multiplier the DSPs must hold.
pub fn yosys_script(family: Family) -> String {
    let synth = synth_command(family);
    format!(
        "read_verilog design.v
{synth} -run :coarse
proc
flatten
design -save flat
opt
tee -q -o muls.txt select -list t:$mul
design -load flat
{synth} -run coarse:map_ram
tee -q -o muls_left.il dump t:$mul t:$macc t:$__soft_mul
{synth} -run map_ram:
tee -q -o stat.json stat -json
tee -q -o stat.txt stat
write_json netlist.json
"
    )
}

/// The constraints file a build writes for its family's nextpnr.
fn constraints_file(family: Family) -> &'static str {
    match family {
        Family::Ice40 => "board.pcf",
        Family::Ecp5 => "board.lpf",
    }
}

/// nextpnr's arguments for a build, run in its output directory: the part, the clock to
/// meet, the seed and placer, the constraints and the outputs the packer and the report read.
pub fn nextpnr_args(cfg: &BuildConfig, clk: &Clocking) -> Vec<String> {
    let b = cfg.board;
    let mut args = vec![
        b.nextpnr_device.to_string(),
        "--package".into(),
        b.nextpnr_package.into(),
    ];
    if let Some(s) = b.speed_grade {
        args.extend(["--speed".into(), s.to_string()]);
    }
    let freq = format!("{}", clk.core_hz / 1e6);
    let seed = cfg.seed.to_string();
    let placer = cfg.placer.nextpnr_name();
    let rest: [&str; 13] = [
        "--json",
        "netlist.json",
        "--freq",
        &freq,
        "--seed",
        &seed,
        "--placer",
        placer,
        "--report",
        "nextpnr-report.json",
        "--timing-allow-fail",
        "-l",
        "nextpnr.log",
    ];
    args.extend(rest.iter().map(|a| a.to_string()));
    let cons = constraints_file(b.family);
    let outputs: [&str; 4] = match b.family {
        Family::Ice40 => ["--pcf", cons, "--asc", "top.asc"],
        Family::Ecp5 => ["--lpf", cons, "--textcfg", "top.config"],
    };
    args.extend(outputs.iter().map(|a| a.to_string()));
    args
}

/// Runs the whole flow into `dir` and writes report.json there. `Ok(report)` whatever the
/// outcome (the caller exits non-zero unless `report.outcome` is `Ok`); `Err` when a tool or
/// the configuration failed.
pub fn run(cfg: &BuildConfig, tools: &Toolchain, dir: &Path) -> Result<Report, FlowError> {
    let started = Instant::now();
    fs::create_dir_all(dir)?;
    let mut wall = WallTimes::default();
    let clk = clocking(cfg)?;
    let (verilog, constraints) = generate(cfg, &clk)?;
    let cons_name = constraints_file(cfg.board.family);
    fs::write(dir.join("design.v"), verilog)?;
    fs::write(dir.join(cons_name), constraints)?;
    wall.generate = started.elapsed().as_secs_f64();

    let family = cfg.board.family;
    fs::write(dir.join("synth.ys"), yosys_script(family))?;
    wall.yosys = run_tool(
        dir,
        &tools.yosys,
        &["-q", "-l", "yosys.log", "synth.ys"],
        "yosys.log",
    )?;
    let read = |name: &str| fs::read_to_string(dir.join(name));
    if family == Family::Ice40 {
        // nextpnr-ice40 cannot route a constant to a DSP clock pin (see `dsp_clock`).
        let mut netlist: serde_json::Value = serde_json::from_str(&read("netlist.json")?)
            .map_err(|e| FlowError::Config(format!("netlist.json: {e}")))?;
        if tie_idle_dsp_clocks(&mut netlist).map_err(FlowError::Config)? > 0 {
            let text = serde_json::to_string(&netlist)
                .map_err(|e| FlowError::Config(format!("netlist.json: {e}")))?;
            fs::write(dir.join("netlist.json"), text)?;
        }
    }
    let stat = parse_stat(&read("stat.json")?).map_err(FlowError::Config)?;
    let cells = CellCounts::from_cells(
        family,
        &stat_cells(&stat, "\\top")
            .ok_or_else(|| FlowError::Config("yosys stat has no top".into()))?,
    );
    let dsp_proof = DspProof::new(&read("muls.txt")?, &read("muls_left.il")?, cells.dsps);
    let r = &cfg.board.resources;
    let usage = |used, available| Usage { used, available };
    let synthesis = Utilization {
        luts: usage(cells.luts, r.luts),
        ffs: usage(cells.ffs, r.ffs),
        dsps: usage(cells.dsps, r.dsps),
        brams: usage(cells.brams, r.brams),
        sprams: usage(cells.sprams, r.sprams),
        carries: cells.carries,
    };
    let mut tool_versions = std::collections::BTreeMap::new();
    for t in [&tools.yosys, &tools.nextpnr, &tools.pack] {
        tool_versions.insert(
            format!("{:?}", t.tool).to_lowercase(),
            ToolVersion {
                path: t.path.clone(),
                flavour: t.flavour,
                version: version_of(t),
            },
        );
    }
    let mut report = Report {
        outcome: Outcome::Ok,
        reason: String::new(),
        board: cfg.board.name,
        part: cfg.board.part,
        config: *cfg,
        clocking: clk.clone(),
        tools: tool_versions,
        synthesis,
        placed: None,
        timing: None,
        dsp_proof,
        breakdown: Vec::new(),
        bitstream: None,
        wall_seconds: wall,
    };
    let finish = |mut report: Report| -> Result<Report, FlowError> {
        report.wall_seconds.total = started.elapsed().as_secs_f64();
        fs::write(
            dir.join("report.json"),
            serde_json::to_string_pretty(&report).expect("the report serializes") + "\n",
        )?;
        Ok(report)
    };

    let mut short = cells.shortfalls(cfg.board);
    if family == Family::Ice40 {
        // A logic cell holds one LUT4, one carry and one FF, but not every FF or carry finds a
        // LUT to share with: the packed count, not the LUT4 count, is what must fit.
        let b = cfg.board;
        let args = [
            b.nextpnr_device,
            "--package",
            b.nextpnr_package,
            "--json",
            "netlist.json",
            "--pcf",
            cons_name,
            "--pack-only",
            "--report",
            "pack-report.json",
            "-l",
            "nextpnr_pack.log",
        ];
        report.wall_seconds.nextpnr_pack =
            Some(run_tool(dir, &tools.nextpnr, &args, "nextpnr_pack.log")?);
        let packed = parse_nextpnr_report(&read("pack-report.json")?)
            .map_err(FlowError::Config)?
            .utilization;
        if let Some(lc) = packed.get("ICESTORM_LC") {
            if lc.used > lc.available {
                short.push(format!(
                    "logic cells after packing (ICESTORM_LC): {} used, {} available ({:.0} %)",
                    lc.used,
                    lc.available,
                    100.0 * lc.used as f64 / lc.available as f64
                ));
            }
        }
        report.placed = Some(packed);
    }
    if !short.is_empty() {
        report.breakdown = breakdown(dir, family)?;
        report.outcome = Outcome::DoesNotFit;
        report.reason = format!(
            "the design does not fit the {}: {}",
            cfg.board.part,
            short.join("; ")
        );
        return finish(report);
    }

    let (bitstream, pack_args): (&str, Vec<&str>) = match family {
        Family::Ice40 => ("top.bin", vec!["top.asc", "top.bin"]),
        Family::Ecp5 => ("top.bit", vec!["--compress", "top.config", "top.bit"]),
    };
    let args = nextpnr_args(cfg, &clk);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let limit = cfg.place_route_limit_s;
    match run_tool_limited(dir, &tools.nextpnr, &args, "nextpnr.log", Some(limit)) {
        Ok(seconds) => report.wall_seconds.nextpnr = Some(seconds),
        Err(FlowError::TimeLimit { log, .. }) => {
            report.wall_seconds.nextpnr = Some(limit as f64);
            let log_text = fs::read_to_string(dir.join("nextpnr.log")).unwrap_or_default();
            let phase = if log_text.contains("Routing") {
                "still routing: a design that fills the device this far can leave the router \
                 ripping up the same congested wires without end"
            } else {
                "still placing"
            };
            // iCE40 only: the packing-only run's count (ECP5 builds have none before this run).
            let used = report
                .placed
                .as_ref()
                .and_then(|p| p.get("ICESTORM_LC"))
                .map(|u| {
                    format!(
                        " with {} of {} logic cells used ({:.0} %)",
                        u.used,
                        u.available,
                        100.0 * u.used as f64 / u.available.max(1) as f64
                    )
                })
                .unwrap_or_default();
            report.breakdown = breakdown(dir, family)?;
            report.outcome = Outcome::DoesNotRoute;
            report.reason = format!(
                "nextpnr was stopped after {limit} s{used}, {phase} (see {log}); use a \
                 smaller array or geometry, another --seed, or a larger --place-route-limit"
            );
            return finish(report);
        }
        Err(e) => return Err(e),
    }
    let NextpnrReport {
        utilization,
        clocks,
    } = parse_nextpnr_report(&read("nextpnr-report.json")?).map_err(FlowError::Config)?;
    report.placed = Some(utilization);
    let target_mhz = clk.core_hz / 1e6;
    // Tolerate nextpnr's rounding of the derived constraint (it prints two decimals).
    let met = !clocks.is_empty()
        && clocks
            .iter()
            .all(|c| c.met && c.achieved_mhz >= target_mhz * (1.0 - 1e-4));
    report.timing = Some(Timing {
        target_mhz,
        clocks: clocks.clone(),
        met,
    });
    report.wall_seconds.pack = Some(run_tool(dir, &tools.pack, &pack_args, "pack.log")?);
    report.bitstream = Some(bitstream.to_string());
    if !met {
        report.outcome = Outcome::TimingFailed;
        report.reason = format!(
            "timing not met at {target_mhz:.3} MHz: {}",
            clocks
                .iter()
                .map(|c| format!("{} reaches {:.2} MHz", c.name, c.achieved_mhz))
                .collect::<Vec<_>>()
                .join(", ")
        );
    } else if !report.dsp_proof.every_multiplier_in_dsp {
        report.outcome = Outcome::MultiplierInLogic;
        report.reason = format!(
            "{} multipliers but {} DSP cells; left in logic: {:?}",
            report.dsp_proof.multipliers.len(),
            report.dsp_proof.dsp_cells,
            report.dsp_proof.left_in_logic
        );
    }
    finish(report)
}
