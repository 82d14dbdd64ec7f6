//! The `Accelerator` API: one trait for every board, over the commands of protocol.md §5.
//!
//! - [`ModelBoard`] runs a [`DeviceEngine`] in process (fast; the reference).
//! - [`UsbBoard`] talks to a device through an FTDI UART ([`Ftdi`]) with the retrying [`Link`].
//! - [`crate::SimBoard`] runs the Verilated device top behind the same [`Link`], in simulated time.

use std::time::Duration;

use crate::device::{
    code, Capabilities, Command, DeviceEngine, DeviceStatus, EngineConfig, GemmDescriptor,
    StatusCode, VectorOp,
};
use crate::ftdi::Ftdi;
use crate::link::{Link, LinkConfig, LinkError, PROTOCOL_VERSION};
use crate::transport::Transport;

/// Why a board operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccelError {
    /// The device rejected the command.
    #[error("device rejected {command}: {status}")]
    Device {
        /// The command.
        command: &'static str,
        /// Its status.
        status: StatusCode,
    },
    /// The link failed (lost after retries, or the USB device went away).
    #[error(transparent)]
    Link(LinkError),
    /// A response that does not fit its command.
    #[error("malformed response to {command}: {why}")]
    Protocol {
        /// The command.
        command: &'static str,
        /// What is wrong.
        why: String,
    },
    /// A request the host refuses before sending anything.
    #[error("{0}")]
    Argument(String),
}

impl From<LinkError> for AccelError {
    fn from(e: LinkError) -> AccelError {
        match e {
            // The same rejection reads the same from every board.
            LinkError::Device { command, status } => AccelError::Device { command, status },
            other => AccelError::Link(other),
        }
    }
}

/// A qtrain device: memory of 16-bit words, GEMM and the vector operations.
pub trait Accelerator {
    /// What the device reported at connection.
    fn capabilities(&self) -> Capabilities;

    /// Runs one command and returns the body of its OK response.
    fn execute(&mut self, cmd: &Command) -> Result<Vec<u8>, AccelError>;

    /// HELLO: (re)starts the session and returns the capabilities.
    fn hello(&mut self) -> Result<Capabilities, AccelError> {
        let body = self.execute(&Command::Hello {
            version: PROTOCOL_VERSION,
        })?;
        Capabilities::decode(&body).map_err(|_| malformed("HELLO", body.len()))
    }

    /// Writes `words` from word address `addr`, in as many WRITEs as `max_body` needs.
    fn write(&mut self, addr: u32, words: &[i16]) -> Result<(), AccelError> {
        let per = (usize::from(self.capabilities().max_body) - 4) / 2;
        for (i, chunk) in words.chunks(per).enumerate() {
            let at = offset(addr, i * per)?;
            self.execute(&Command::Write {
                addr: at,
                words: chunk.to_vec(),
            })?;
        }
        Ok(())
    }

    /// Reads `count` words from word address `addr`, in as many READs as `max_body` needs.
    fn read(&mut self, addr: u32, count: usize) -> Result<Vec<i16>, AccelError> {
        let per = usize::from(self.capabilities().max_body) / 2;
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let n = per.min(count - out.len());
            let at = offset(addr, out.len())?;
            let body = self.execute(&Command::Read {
                addr: at,
                count: n as u16,
            })?;
            if body.len() != 2 * n {
                return Err(malformed("READ", body.len()));
            }
            out.extend(
                body.chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]])),
            );
        }
        Ok(out)
    }

    /// Runs a GEMM; returns the device cycles it reports.
    fn gemm(&mut self, d: &GemmDescriptor) -> Result<u32, AccelError> {
        let body = self.execute(&Command::Gemm(*d))?;
        let b: [u8; 4] = body
            .as_slice()
            .try_into()
            .map_err(|_| malformed("GEMM", body.len()))?;
        Ok(u32::from_le_bytes(b))
    }

    /// Runs a vector operation.
    fn vector(&mut self, op: &VectorOp) -> Result<(), AccelError> {
        self.execute(&Command::Vector(*op)).map(|_| ())
    }

    /// The device's counters.
    fn status(&mut self) -> Result<DeviceStatus, AccelError> {
        let body = self.execute(&Command::Status)?;
        DeviceStatus::decode(&body).map_err(|_| malformed("STATUS", body.len()))
    }

    /// Clears the counters and the seq memory (memory is kept).
    fn reset(&mut self) -> Result<(), AccelError> {
        self.execute(&Command::Reset).map(|_| ())
    }
}

fn malformed(command: &'static str, len: usize) -> AccelError {
    AccelError::Protocol {
        command,
        why: format!("unexpected body of {len} bytes"),
    }
}

fn offset(addr: u32, words: usize) -> Result<u32, AccelError> {
    u32::try_from(words)
        .ok()
        .and_then(|w| addr.checked_add(w))
        .ok_or_else(|| AccelError::Argument(format!("address {addr} + {words} overflows 32 bits")))
}

/// The reference board: a [`DeviceEngine`] called directly, no framing.
#[derive(Clone, Debug)]
pub struct ModelBoard {
    engine: DeviceEngine,
}

impl ModelBoard {
    /// A board with a fresh engine.
    pub fn new(config: EngineConfig) -> ModelBoard {
        ModelBoard {
            engine: DeviceEngine::new(config),
        }
    }

    /// The engine (memory and counters).
    pub fn engine(&self) -> &DeviceEngine {
        &self.engine
    }
}

impl Accelerator for ModelBoard {
    fn capabilities(&self) -> Capabilities {
        self.engine.capabilities()
    }

    fn execute(&mut self, cmd: &Command) -> Result<Vec<u8>, AccelError> {
        let (status, body) = self.engine.execute_command(cmd);
        match status {
            StatusCode::Ok => Ok(body),
            status => Err(AccelError::Device {
                command: cmd.name(),
                status,
            }),
        }
    }
}

/// A board behind an FTDI UART: commands go through the retrying [`Link`].
pub struct UsbBoard<T: Transport> {
    link: Link<Ftdi<T>>,
    caps: Capabilities,
}

impl<T: Transport> UsbBoard<T> {
    /// Opens a session on an opened UART: HELLO, which also learns the capabilities.
    pub fn connect(ftdi: Ftdi<T>, config: LinkConfig) -> Result<UsbBoard<T>, AccelError> {
        let mut board = UsbBoard {
            link: Link::new(ftdi, config),
            // Only HELLO's own frame is sent before the real limits are known.
            caps: Capabilities {
                max_body: 64,
                ..Capabilities::default()
            },
        };
        board.caps = board.hello()?;
        Ok(board)
    }

    /// The link (its counters, the UART, the transport).
    pub fn link_mut(&mut self) -> &mut Link<Ftdi<T>> {
        &mut self.link
    }

    /// How long a command may run on the device, pessimistically: every MAC a cycle of its
    /// own plus a few cycles per word loaded, drained and read back (docs/device.md, GEMM
    /// unit), and for vector commands 16 cycles per element (the slowest, QRELU with 8 bits,
    /// takes 12).
    fn exec_bound(&self, cmd: &Command) -> Duration {
        let elements = |rows: u16, cols: u16| u64::from(rows) * u64::from(cols);
        let work = match cmd {
            Command::Gemm(g) => {
                let (m, k, n) = (u64::from(g.m), u64::from(g.k), u64::from(g.n));
                m * k * n + 2 * (m * k + k * n) + 4 * m * n + 4096
            }
            Command::Vector(VectorOp::BiasAdd { rows, cols, .. })
            | Command::Vector(VectorOp::Relu { rows, cols, .. })
            | Command::Vector(VectorOp::ReluMask { rows, cols, .. })
            | Command::Vector(VectorOp::Qrelu { rows, cols, .. })
            | Command::Vector(VectorOp::QreluMask { rows, cols, .. }) => {
                16 * elements(*rows, *cols) + 64
            }
            Command::Vector(VectorOp::Update(u)) => 16 * elements(u.rows, u.cols) + 64,
            _ => 0,
        };
        let hz = f64::from(self.caps.clock_hz.max(1_000_000));
        Duration::from_secs_f64(work as f64 / hz)
    }
}

impl<T: Transport> Accelerator for UsbBoard<T> {
    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn execute(&mut self, cmd: &Command) -> Result<Vec<u8>, AccelError> {
        let response_len = match cmd {
            Command::Read { count, .. } => 2 * usize::from(*count),
            Command::Hello { .. } | Command::Capabilities => 28,
            Command::Status => 24,
            Command::Gemm(_) => 4,
            _ => 0,
        };
        let bound = self.exec_bound(cmd);
        let body = self
            .link
            .exchange(cmd.code(), cmd.encode(), response_len, bound)?;
        if cmd.code() == code::HELLO {
            if let Ok(caps) = Capabilities::decode(&body) {
                self.caps = caps;
            }
        }
        Ok(body)
    }
}
