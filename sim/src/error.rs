//! The errors of the Verilator simulation.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong between generating the Verilog and reading C back.
#[derive(Debug, Error)]
pub enum SimError {
    /// A tool needed to build the simulation (verilator, make, a C++ compiler) is not on `PATH`.
    #[error("{0}")]
    ToolMissing(String),
    /// Verilator or the C++ build failed; `log` holds the tail of its output.
    #[error("{stage} failed (command: {command}); build directory {dir}:\n{log}")]
    Build {
        /// `"verilator"` or `"make"`.
        stage: &'static str,
        /// The command line that failed.
        command: String,
        /// The (temporary) build directory, kept for inspection.
        dir: PathBuf,
        /// The last part of the tool's combined stdout and stderr.
        log: String,
    },
    /// No cache directory could be determined.
    #[error(
        "no cache directory: set QTRAIN_CACHE_DIR, XDG_CACHE_HOME or HOME to an absolute path"
    )]
    NoCacheDir,
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The compiled library could not be loaded or lacks the harness API.
    #[error("cannot load the simulation library {path}: {reason}")]
    Load {
        /// The shared library.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// qtrain-hdl could not produce the Verilog of the requested core.
    #[error("cannot generate the Verilog of the {rows}x{cols} GEMM core: {reason}")]
    Hdl {
        /// Array rows.
        rows: usize,
        /// Array columns.
        cols: usize,
        /// The generator's message.
        reason: String,
    },
    /// qtrain-hdl could not produce the Verilog of the requested device top.
    #[error("cannot generate the Verilog of the {rows}x{cols} device top: {reason}")]
    DeviceHdl {
        /// Array rows.
        rows: usize,
        /// Array columns.
        cols: usize,
        /// The generator's message.
        reason: String,
    },
    /// Device simulation options the UART cannot run with.
    #[error("invalid device simulation options: {0}")]
    DeviceOptions(String),
    /// An array shape the harness cannot drive (banks are addressed with 8 bits).
    #[error("unsupported array shape {rows}x{cols}: {reason}")]
    Shape {
        /// Array rows.
        rows: usize,
        /// Array columns.
        cols: usize,
        /// Why.
        reason: String,
    },
    /// The operands or the parameters are not a valid GEMM (see the model's message).
    #[error("invalid GEMM: {0}")]
    Model(#[from] qtrain_model::ModelError),
    /// A dimension does not fit the core's 16-bit `m`/`k`/`n` ports.
    #[error("{name} = {value} does not fit the core's 16-bit port: it must be in 1..=65535")]
    Dimension {
        /// `"M"`, `"K"` or `"N"`.
        name: &'static str,
        /// The offending value.
        value: usize,
    },
    /// The GEMM needs more scratchpad words per bank than a bank holds.
    #[error(
        "the {m}x{k}x{n} GEMM does not fit the {rows}x{cols} core's {scratchpad} scratchpad: \
         it needs {needed} = {formula} words per bank but a bank holds {limit} \
         (2^{addr_bits}); split the GEMM"
    )]
    Capacity {
        /// `"A"`, `"B"` or `"C"`.
        scratchpad: &'static str,
        /// The formula of the per-bank need, e.g. `"ceil(M/R)*K"`.
        formula: &'static str,
        /// Words per bank needed.
        needed: usize,
        /// Words per bank available.
        limit: usize,
        /// Address bits of a bank.
        addr_bits: u32,
        /// Array rows.
        rows: usize,
        /// Array columns.
        cols: usize,
        /// M.
        m: usize,
        /// K.
        k: usize,
        /// N.
        n: usize,
    },
    /// The core did not raise `busy` after `start`.
    #[error("the core did not raise busy after start (m={m}, k={k}, n={n})")]
    NotStarted {
        /// M.
        m: usize,
        /// K.
        k: usize,
        /// N.
        n: usize,
    },
    /// The core was still busy after the cycle limit.
    #[error("the core was still busy after {cycles} cycles (m={m}, k={k}, n={n}); it looks hung")]
    Timeout {
        /// Cycles run before giving up.
        cycles: u64,
        /// M.
        m: usize,
        /// K.
        k: usize,
        /// N.
        n: usize,
    },
}

impl SimError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> SimError {
        SimError::Io {
            context: context.into(),
            source,
        }
    }
}
