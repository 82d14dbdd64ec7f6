//! `qtrain program`: load a bitstream into a board with openFPGALoader (or iceprog for the
//! iCEBreaker).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};
use clap::Args;
use qtrain_bitstreams::boards::{Board, Family};
use qtrain_bitstreams::flow::BuildConfig;
use qtrain_bitstreams::tools::which_in;

/// `qtrain program` arguments.
#[derive(Args)]
pub struct ProgramArgs {
    /// The board: icebreaker or ulx3s.
    #[arg(long)]
    pub board: String,
    /// The bitstream (default: the preset build under bitstreams/<board>/).
    #[arg(long)]
    pub bitstream: Option<PathBuf>,
}

/// The USB ID of each board's programming interface, for the "is it attached" hint.
fn usb_id(board: &Board) -> &'static str {
    match board.family {
        Family::Ice40 => "0403:6010 (FT2232H)",
        Family::Ecp5 => "0403:6015 (FT231X)",
    }
}

/// The programmer command line for `board` and `bitstream`, from the tools on `path`.
pub fn programmer(
    board: &Board,
    bitstream: &str,
    path: &std::ffi::OsStr,
) -> anyhow::Result<Command> {
    if let Some(loader) = which_in("openFPGALoader", path) {
        let mut c = Command::new(loader);
        c.args(["-b", board.loader_board, bitstream]);
        return Ok(c);
    }
    if board.family == Family::Ice40 {
        if let Some(iceprog) = which_in("iceprog", path) {
            let mut c = Command::new(iceprog);
            c.arg(bitstream);
            return Ok(c);
        }
    }
    bail!(
        "no programmer found on the PATH: install openFPGALoader (Debian: `apt-get install \
         openfpgaloader`{}; scripts/install-tools does it)",
        if board.family == Family::Ice40 {
            ", or iceprog from fpga-icestorm"
        } else {
            ""
        }
    )
}

pub fn run(args: ProgramArgs) -> anyhow::Result<i32> {
    let board = Board::by_name(&args.board)?;
    let bitstream = match args.bitstream {
        Some(b) => b,
        None => {
            let file = match board.family {
                Family::Ice40 => "top.bin",
                Family::Ecp5 => "top.bit",
            };
            PathBuf::from("bitstreams")
                .join(board.name)
                .join(BuildConfig::preset(board).dir_name())
                .join(file)
        }
    };
    if !bitstream.is_file() {
        bail!(
            "no bitstream at {}: build one with `qtrain synth --board {}` or pass --bitstream",
            bitstream.display(),
            board.name
        );
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut cmd = programmer(board, &bitstream.to_string_lossy(), &path)?;
    eprintln!("program: {cmd:?}");
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let tail: Vec<&str> = text
            .lines()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bail!(
            "programming the {} failed ({}): {}\nIs the board attached? `lsusb` should list {}.",
            board.title,
            out.status,
            tail.join(" | "),
            usb_id(board)
        );
    }
    eprint!("{text}");
    eprintln!(
        "program: {} loaded into the {}",
        bitstream.display(),
        board.title
    );
    Ok(0)
}
