//! The device behind the host link (docs/protocol.md): the command engine with the device
//! memory and its execution units, and the device top that puts the UART and framing around it.
//!
//! The constants are the device's side of CAPABILITIES and size its buffers; the execution
//! units may reference them.

pub mod command;
pub mod command_decode;
pub mod gemm_unit;
pub mod piece_plan;
pub mod qrelu_level;
pub mod response;
pub mod top;
pub mod vector_unit;

/// Address bits of the device memory: 65,536 words of 16 bits (CAPABILITIES `mem_words`).
pub const MEM_ADDR_BITS: usize = 16;
/// Address bits of the receive and transmit frame buffers: 8,192 bytes, room for a header, the
/// largest body and the CRC.
pub const BUF_ADDR_BITS: usize = 13;
/// The largest command body the device accepts (CAPABILITIES `max_body`).
pub const DEVICE_MAX_BODY: usize = 4096;
/// The largest GEMM K (CAPABILITIES `max_k`): one row of op(A) per A bank of the core's
/// scratchpad, `2^SCRATCH_ADDR_BITS`.
pub const DEVICE_MAX_K: usize = 1 << crate::SCRATCH_ADDR_BITS;
/// Words of device memory (CAPABILITIES `mem_words`).
pub const MEM_WORDS: usize = 1 << MEM_ADDR_BITS;

pub use command::CommandEngine;
pub use top::DeviceTop;
