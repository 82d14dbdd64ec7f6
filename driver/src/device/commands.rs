//! The typed commands of protocol.md §5 and their bodies, byte for byte.
//!
//! Decoding only checks what the bytes themselves can say (the body's length, a rounding or
//! flag byte that names nothing); ranges and domains are the engine's business, since they
//! depend on the device.

use qtrain_model::Rounding;

use super::vector_ops::{decode_vector, encode_vector};
pub use super::vector_ops::{UpdateDescriptor, VectorOp};
use super::wire::{Reader, StatusCode, Writer};

/// Command codes (the `kind` of a command frame; responses set bit 7).
pub mod code {
    /// HELLO.
    pub const HELLO: u8 = 0x01;
    /// CAPABILITIES.
    pub const CAPABILITIES: u8 = 0x02;
    /// STATUS.
    pub const STATUS: u8 = 0x03;
    /// RESET.
    pub const RESET: u8 = 0x04;
    /// WRITE.
    pub const WRITE: u8 = 0x10;
    /// READ.
    pub const READ: u8 = 0x11;
    /// GEMM.
    pub const GEMM: u8 = 0x20;
    /// BIAS_ADD.
    pub const BIAS_ADD: u8 = 0x30;
    /// RELU.
    pub const RELU: u8 = 0x31;
    /// RELU_MASK.
    pub const RELU_MASK: u8 = 0x32;
    /// QRELU.
    pub const QRELU: u8 = 0x33;
    /// QRELU_MASK.
    pub const QRELU_MASK: u8 = 0x34;
    /// UPDATE.
    pub const UPDATE: u8 = 0x35;
    /// Bit 7 marks a response.
    pub const RESPONSE: u8 = 0x80;
}

/// A tensor in device memory: its first word and its row stride in words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tensor {
    /// Word address of element (0, 0).
    pub addr: u32,
    /// Words from one row to the next.
    pub stride: u16,
}

impl Tensor {
    pub(super) fn put(&self, w: &mut Writer) {
        w.u32(self.addr).u16(self.stride);
    }
    pub(super) fn get(r: &mut Reader) -> Tensor {
        Tensor {
            addr: r.u32(),
            stride: r.u16(),
        }
    }
}

/// The CAPABILITIES response (28 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Protocol version.
    pub protocol: u8,
    /// Hardware major version.
    pub hw_major: u8,
    /// Hardware minor version.
    pub hw_minor: u8,
    /// PE array rows.
    pub rows: u8,
    /// PE array columns.
    pub cols: u8,
    /// Largest frame body the device accepts.
    pub max_body: u16,
    /// Words of device memory.
    pub mem_words: u32,
    /// Largest K of a GEMM.
    pub max_k: u32,
    /// Core clock.
    pub clock_hz: u32,
    /// UART baud.
    pub baud: u32,
    /// Bit `c - 0x30` for each vector command `c` implemented.
    pub ops: u32,
}

/// Body length of CAPABILITIES.
pub const CAPABILITIES_LEN: usize = 28;
/// Body length of STATUS.
pub const STATUS_LEN: usize = 24;
/// Body length of a GEMM descriptor.
pub const GEMM_LEN: usize = 40;
/// Body length of an UPDATE descriptor.
pub const UPDATE_LEN: usize = 40;

impl Capabilities {
    /// The 28-byte body.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(self.protocol).u8(self.hw_major).u8(self.hw_minor);
        w.u8(self.rows).u8(self.cols).u8(0).u16(self.max_body);
        w.u32(self.mem_words).u32(self.max_k).u32(self.clock_hz);
        w.u32(self.baud).u32(self.ops);
        w.0
    }
    /// Parses a 28-byte body.
    pub fn decode(b: &[u8]) -> Result<Capabilities, StatusCode> {
        exact(b, CAPABILITIES_LEN)?;
        let mut r = Reader(b);
        let (protocol, hw_major, hw_minor, rows, cols) = (r.u8(), r.u8(), r.u8(), r.u8(), r.u8());
        r.u8();
        Ok(Capabilities {
            protocol,
            hw_major,
            hw_minor,
            rows,
            cols,
            max_body: r.u16(),
            mem_words: r.u32(),
            max_k: r.u32(),
            clock_hz: r.u32(),
            baud: r.u32(),
            ops: r.u32(),
        })
    }
}

/// The STATUS response (24 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceStatus {
    /// Executing.
    pub busy: bool,
    /// Status code of the last command executed.
    pub last_status: u8,
    /// Commands executed (retries answered from memory not counted).
    pub commands: u32,
    /// Cycles spent executing.
    pub busy_cycles: u64,
    /// Frames dropped for a CRC mismatch.
    pub crc_errors: u16,
    /// Frames dropped for any other framing error.
    pub frame_errors: u16,
    /// Bytes lost to a full receive buffer.
    pub overruns: u16,
}

impl DeviceStatus {
    /// The 24-byte body.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(u8::from(self.busy)).u8(self.last_status).u16(0);
        w.u32(self.commands).u64(self.busy_cycles);
        w.u16(self.crc_errors)
            .u16(self.frame_errors)
            .u16(self.overruns)
            .u16(0);
        w.0
    }
    /// Parses a 24-byte body.
    pub fn decode(b: &[u8]) -> Result<DeviceStatus, StatusCode> {
        exact(b, STATUS_LEN)?;
        let mut r = Reader(b);
        let busy = r.u8() != 0;
        let last_status = r.u8();
        r.u16();
        Ok(DeviceStatus {
            busy,
            last_status,
            commands: r.u32(),
            busy_cycles: r.u64(),
            crc_errors: r.u16(),
            frame_errors: r.u16(),
            overruns: r.u16(),
        })
    }
}

/// A GEMM (protocol.md §5, numerics §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmDescriptor {
    /// A as stored (K x M when transposed).
    pub a: Tensor,
    /// B as stored (N x K when transposed).
    pub b: Tensor,
    /// C, M x N.
    pub c: Tensor,
    /// Rows of op(A) and C.
    pub m: u16,
    /// Inner dimension.
    pub k: u16,
    /// Columns of op(B) and C.
    pub n: u16,
    /// op(A) = A^T.
    pub trans_a: bool,
    /// op(B) = B^T.
    pub trans_b: bool,
    /// C = op(A)·op(B) + C.
    pub accumulate: bool,
    /// Format of A.
    pub fl_a: u8,
    /// Format of B.
    pub fl_b: u8,
    /// Format of C.
    pub fl_c: u8,
    /// Rounding of the conversion.
    pub rounding: Rounding,
    /// LFSR A start state.
    pub row_state: u32,
    /// LFSR B start state.
    pub col_state: u32,
}

/// One command with its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// HELLO with the host's protocol version.
    Hello {
        /// Protocol version spoken by the host.
        version: u8,
    },
    /// CAPABILITIES.
    Capabilities,
    /// STATUS.
    Status,
    /// RESET.
    Reset,
    /// WRITE `words` at `addr`.
    Write {
        /// First word address.
        addr: u32,
        /// The words (at least one).
        words: Vec<i16>,
    },
    /// READ `count` words at `addr`.
    Read {
        /// First word address.
        addr: u32,
        /// Words to read.
        count: u16,
    },
    /// GEMM.
    Gemm(GemmDescriptor),
    /// A vector operation.
    Vector(VectorOp),
}

pub(super) fn exact(b: &[u8], len: usize) -> Result<(), StatusCode> {
    if b.len() == len {
        Ok(())
    } else {
        Err(StatusCode::BadLength)
    }
}

pub(super) fn rounding(v: u8) -> Result<Rounding, StatusCode> {
    Rounding::from_code(v).ok_or(StatusCode::BadArgument)
}

impl Command {
    /// The command code (the frame's `kind`).
    pub fn code(&self) -> u8 {
        match self {
            Command::Hello { .. } => code::HELLO,
            Command::Capabilities => code::CAPABILITIES,
            Command::Status => code::STATUS,
            Command::Reset => code::RESET,
            Command::Write { .. } => code::WRITE,
            Command::Read { .. } => code::READ,
            Command::Gemm(_) => code::GEMM,
            Command::Vector(op) => op.code(),
        }
    }

    /// The command's name as protocol.md writes it.
    pub fn name(&self) -> &'static str {
        code_name(self.code())
    }

    /// The body, exactly as protocol.md §5 lays it out.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        match self {
            Command::Hello { version } => {
                w.u8(*version);
            }
            Command::Capabilities | Command::Status | Command::Reset => {}
            Command::Write { addr, words } => {
                w.0.reserve_exact(4 + 2 * words.len());
                w.u32(*addr);
                for &v in words {
                    w.i16(v);
                }
            }
            Command::Read { addr, count } => {
                w.u32(*addr).u16(*count);
            }
            Command::Gemm(g) => {
                g.a.put(&mut w);
                g.b.put(&mut w);
                g.c.put(&mut w);
                w.u16(g.m).u16(g.k).u16(g.n);
                let flags =
                    u8::from(g.trans_a) | u8::from(g.trans_b) << 1 | u8::from(g.accumulate) << 2;
                w.u8(flags).u8(g.fl_a).u8(g.fl_b).u8(g.fl_c);
                w.u8(g.rounding as u8).u8(0).u8(0).u8(0);
                w.u32(g.row_state).u32(g.col_state);
            }
            Command::Vector(op) => encode_vector(op, &mut w),
        }
        w.0
    }

    /// Parses a command body; the error is the status the device answers with.
    pub fn decode(kind: u8, b: &[u8]) -> Result<Command, StatusCode> {
        let mut r = Reader(b);
        Ok(match kind {
            code::HELLO => {
                exact(b, 1)?;
                Command::Hello { version: r.u8() }
            }
            code::CAPABILITIES | code::STATUS | code::RESET => {
                exact(b, 0)?;
                match kind {
                    code::CAPABILITIES => Command::Capabilities,
                    code::STATUS => Command::Status,
                    _ => Command::Reset,
                }
            }
            code::WRITE => {
                if b.len() < 6 || !b.len().is_multiple_of(2) {
                    return Err(StatusCode::BadLength);
                }
                let addr = r.u32();
                let words = b[4..]
                    .chunks_exact(2)
                    .map(|p| i16::from_le_bytes([p[0], p[1]]))
                    .collect();
                Command::Write { addr, words }
            }
            code::READ => {
                exact(b, 6)?;
                Command::Read {
                    addr: r.u32(),
                    count: r.u16(),
                }
            }
            code::GEMM => {
                exact(b, GEMM_LEN)?;
                let (a, bt, c) = (
                    Tensor::get(&mut r),
                    Tensor::get(&mut r),
                    Tensor::get(&mut r),
                );
                let (m, k, n) = (r.u16(), r.u16(), r.u16());
                let flags = r.u8();
                if flags & !0x07 != 0 {
                    return Err(StatusCode::BadArgument);
                }
                let (fl_a, fl_b, fl_c) = (r.u8(), r.u8(), r.u8());
                let rnd = rounding(r.u8())?;
                r.u8();
                r.u16();
                Command::Gemm(GemmDescriptor {
                    a,
                    b: bt,
                    c,
                    m,
                    k,
                    n,
                    trans_a: flags & 1 != 0,
                    trans_b: flags & 2 != 0,
                    accumulate: flags & 4 != 0,
                    fl_a,
                    fl_b,
                    fl_c,
                    rounding: rnd,
                    row_state: r.u32(),
                    col_state: r.u32(),
                })
            }
            code::BIAS_ADD..=code::UPDATE => Command::Vector(decode_vector(kind, b)?),
            _ => return Err(StatusCode::UnknownCommand),
        })
    }
}

/// The name of a command code, or "UNKNOWN".
pub fn code_name(kind: u8) -> &'static str {
    match kind & !code::RESPONSE {
        code::HELLO => "HELLO",
        code::CAPABILITIES => "CAPABILITIES",
        code::STATUS => "STATUS",
        code::RESET => "RESET",
        code::WRITE => "WRITE",
        code::READ => "READ",
        code::GEMM => "GEMM",
        code::BIAS_ADD => "BIAS_ADD",
        code::RELU => "RELU",
        code::RELU_MASK => "RELU_MASK",
        code::QRELU => "QRELU",
        code::QRELU_MASK => "QRELU_MASK",
        code::UPDATE => "UPDATE",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
#[path = "commands_tests.rs"]
mod tests;
