//! `qtrain synth`: build a board's bitstream (yosys, nextpnr, icepack / ecppack) and its
//! report.json (docs/bitstreams.md).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use qtrain_bitstreams::boards::{Board, GeometryPreset};
use qtrain_bitstreams::flow::{self, BuildConfig, Outcome, Placer, Top};
use qtrain_bitstreams::tools::find_toolchain_here;

use crate::array_shape::ArrayShape;

/// `qtrain synth` arguments.
#[derive(Args)]
pub struct SynthArgs {
    /// The board: icebreaker or ulx3s.
    #[arg(long)]
    pub board: String,
    /// Array shape, rows x columns (default: the board's preset); with `--top core` also the
    /// bench-only shapes 4x2 and 8x1.
    #[arg(long, value_parser = ArrayShape::parse_any)]
    pub array: Option<ArrayShape>,
    /// Core clock in MHz (default: the board's preset); the PLL gets as close as it can and the
    /// report states what it makes.
    #[arg(long)]
    pub freq: Option<f64>,
    /// nextpnr placer seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// nextpnr placer (default: static on the ECP5, whose 12x12 device routes in minutes with
    /// it and in well over an hour with heap; heap on the iCE40, the only analytical placer of
    /// Debian's nextpnr-ice40). A non-default placer is named in the output directory.
    #[arg(long, value_enum)]
    pub placer: Option<PlacerArg>,
    /// Device memory words (a power of two; default: the board's preset).
    #[arg(long)]
    pub mem_words: Option<usize>,
    /// Words per scratchpad bank, the largest GEMM K (a power of two; default: the preset).
    #[arg(long)]
    pub scratch_words: Option<usize>,
    /// Largest command body in bytes (default: the board's preset).
    #[arg(long)]
    pub max_body: Option<usize>,
    /// Build the vector unit (true) or a GEMM-only device (false) (default: the preset; the
    /// iCEBreaker's is GEMM-only).
    #[arg(long)]
    pub vector_unit: Option<bool>,
    /// Take the column heads' converter windows with DSP multipliers (true, three per column)
    /// or shifters (false) (default: the preset; the iCEBreaker's uses DSPs).
    #[arg(long)]
    pub windows_in_dsps: Option<bool>,
    /// The design: `device` (what a board runs) or `core` (the GEMM core alone in a measurement
    /// bench, for its area and Fmax; not a usable bitstream).
    #[arg(long, value_enum, default_value_t = TopArg::Device)]
    pub top: TopArg,
    /// Seconds nextpnr may take to place and route before the build stops as `does_not_route`
    /// (default: 900 on the iCE40, 3600 on the ECP5).
    #[arg(long)]
    pub place_route_limit: Option<u64>,
    /// Output root: the build goes to DIR/<board>/<config>/.
    #[arg(long, default_value = "bitstreams")]
    pub out: PathBuf,
}

/// `--top`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TopArg {
    /// The device.
    Device,
    /// The GEMM core in a measurement bench.
    Core,
}

/// `--placer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlacerArg {
    /// HeAP (analytical) with annealing refinement.
    Heap,
    /// The electrostatic placer with annealing refinement.
    Static,
    /// Simulated annealing alone.
    Sa,
}

/// The configuration the arguments ask for.
pub fn config(args: &SynthArgs) -> anyhow::Result<BuildConfig> {
    let board: &'static Board = Board::by_name(&args.board)?;
    let mut cfg = BuildConfig::preset(board);
    cfg.top = match args.top {
        TopArg::Device => Top::Device,
        TopArg::Core => Top::Core,
    };
    if let Some(a) = args.array {
        let generated = qtrain_hdl::is_generated(a.rows, a.cols);
        let bench_only = qtrain_hdl::BENCH_ONLY_SHAPES.contains(&(a.rows, a.cols));
        anyhow::ensure!(
            generated || (cfg.top == Top::Core && bench_only),
            "array shape {a} is not generated; supported shapes: {}{}",
            crate::array_shape::supported_list(),
            if cfg.top == Top::Core {
                ", and with --top core 4x2, 8x1"
            } else {
                ""
            }
        );
        cfg.rows = a.rows;
        cfg.cols = a.cols;
    }
    if let Some(f) = args.freq {
        anyhow::ensure!(
            f.is_finite() && f > 0.0,
            "--freq {f} must be a positive number of MHz"
        );
        cfg.freq_mhz = f;
    }
    cfg.seed = args.seed;
    if let Some(p) = args.placer {
        cfg.placer = match p {
            PlacerArg::Heap => Placer::Heap,
            PlacerArg::Static => Placer::Static,
            PlacerArg::Sa => Placer::Sa,
        };
    }
    if let Some(limit) = args.place_route_limit {
        anyhow::ensure!(limit > 0, "--place-route-limit must be at least 1 second");
        cfg.place_route_limit_s = limit;
    }
    let p = board.preset.geometry;
    cfg.geometry = GeometryPreset {
        mem_words: args.mem_words.unwrap_or(p.mem_words),
        scratch_words: args.scratch_words.unwrap_or(p.scratch_words),
        max_body: args.max_body.unwrap_or(p.max_body),
        vector_unit: args.vector_unit.unwrap_or(p.vector_unit),
        windows_in_dsps: args.windows_in_dsps.unwrap_or(p.windows_in_dsps),
    };
    cfg.geometry.device_geometry()?;
    Ok(cfg)
}

/// Runs the flow; exit code 0 when the bitstream meets timing with every multiplier in a DSP,
/// 1 when it does not fit, does not route within the limit or misses timing (report.json
/// says why).
pub fn run(args: SynthArgs) -> anyhow::Result<i32> {
    let cfg = config(&args)?;
    let tools = find_toolchain_here(cfg.board.family)?;
    // Check the clocking before any tool runs, so that a bad --freq fails at once.
    flow::clocking(&cfg)?;
    let dir = args.out.join(cfg.board.name).join(cfg.dir_name());
    eprintln!(
        "synth: {}{} {}x{} at {} MHz into {} (yosys: {}, nextpnr: {})",
        if cfg.top == Top::Core {
            "core bench on "
        } else {
            ""
        },
        cfg.board.title,
        cfg.rows,
        cfg.cols,
        cfg.freq_mhz,
        dir.display(),
        tools.yosys.path.display(),
        tools.nextpnr.path.display()
    );
    let report =
        flow::run(&cfg, &tools, &dir).with_context(|| format!("building {}", dir.display()))?;
    let s = &report.synthesis;
    eprintln!(
        "synth: LUT4 {}/{}, FF {}/{}, DSP {}/{}, BRAM {}/{}; {} multipliers, {} in DSPs: {}",
        s.luts.used,
        s.luts.available,
        s.ffs.used,
        s.ffs.available,
        s.dsps.used,
        s.dsps.available,
        s.brams.used,
        s.brams.available,
        report.dsp_proof.multipliers.len(),
        report.dsp_proof.dsp_cells,
        if report.dsp_proof.every_multiplier_in_dsp {
            "all"
        } else {
            "NOT all"
        }
    );
    if let Some(t) = &report.timing {
        for c in &t.clocks {
            eprintln!(
                "synth: clock {}: {:.2} MHz achieved, {:.2} MHz target",
                c.name, c.achieved_mhz, t.target_mhz
            );
        }
    }
    let report_path = dir.join("report.json");
    match report.outcome {
        Outcome::Ok => {
            println!(
                "{}",
                dir.join(report.bitstream.as_deref().unwrap_or_default())
                    .display()
            );
            eprintln!("synth: ok; report: {}", report_path.display());
            Ok(0)
        }
        _ => {
            eprintln!("qtrain: synth failed: {}", report.reason);
            eprintln!("synth: report: {}", report_path.display());
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        synth: SynthArgs,
    }

    fn config_of(args: &[&str]) -> BuildConfig {
        let cli = Cli::try_parse_from(std::iter::once("synth").chain(args.iter().copied()))
            .expect("the arguments parse");
        config(&cli.synth).expect("a buildable configuration")
    }

    #[test]
    fn the_placer_defaults_by_family_and_a_chosen_one_names_the_build() {
        let ulx = config_of(&["--board", "ulx3s"]);
        assert_eq!(ulx.placer, Placer::Static);
        let ice = config_of(&["--board", "icebreaker"]);
        assert_eq!(ice.placer, Placer::Heap);
        let heap = config_of(&["--board", "ulx3s", "--placer", "heap"]);
        assert_eq!(heap.placer, Placer::Heap);
        assert!(
            heap.dir_name().ends_with("-heap-seed1"),
            "{}",
            heap.dir_name()
        );
        assert_ne!(heap.dir_name(), ulx.dir_name());
        let ice_static = config_of(&["--board", "icebreaker", "--placer", "static"]);
        assert!(ice_static.dir_name().ends_with("-static-seed1"));
        assert!(Cli::try_parse_from(["synth", "--board", "ulx3s", "--placer", "fast"]).is_err());
    }
}
