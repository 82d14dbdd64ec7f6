//! `qtrain`: the command-line tool of the qtrain accelerator.

mod array_shape;
mod commands;
mod experiment;
mod gemm_spec;
mod operands;
mod train;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "qtrain",
    version,
    about = "qtrain: low-precision training on open FPGA hardware"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Cycle-accurate simulation of the accelerator under Verilator.
    Sim {
        #[command(subcommand)]
        what: commands::sim::SimCommand,
    },
    /// Generate hardware descriptions.
    Gen {
        #[command(subcommand)]
        what: commands::gen::GenCommand,
    },
    /// List the attached boards (iCEBreaker, ULX3S), or say why none is found.
    Devices,
    /// Say HELLO to a board: its capabilities and the round-trip time.
    Ping(commands::board::PingArgs),
    /// Run one GEMM with random operands on a board and check it against the model.
    Gemm(commands::board::GemmArgs),
    /// Train a network on MNIST (float32 on the host, or fixed point on a board).
    Train(Box<commands::train::TrainArgs>),
    /// Run a paper's experiment: its training runs in parallel, a table, a CSV and plots.
    Experiment(commands::experiment::ExperimentArgs),
    /// Build a board's bitstream (yosys, nextpnr) and its report (docs/bitstreams.md).
    Synth(commands::synth::SynthArgs),
    /// Load a bitstream into an attached board (openFPGALoader or iceprog).
    Program(commands::program::ProgramArgs),
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: commands::train::BenchCommand,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sim { what } => commands::sim::run(what),
        Command::Gen { what } => commands::gen::run(what),
        Command::Devices => commands::board::devices(),
        Command::Ping(args) => commands::board::ping(args),
        Command::Gemm(args) => commands::board::gemm(args),
        Command::Train(args) => commands::train::train(*args),
        Command::Bench { what } => commands::train::bench(what),
        Command::Synth(args) => commands::synth::run(args),
        Command::Program(args) => commands::program::run(args),
        Command::Experiment(args) => commands::experiment::experiment(args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("qtrain: error: {err:#}");
            std::process::exit(2);
        }
    }
}
