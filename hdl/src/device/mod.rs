//! The device behind the host link (docs/protocol.md): the command engine with the device
//! memory and its execution units, and the device top that puts the UART and framing around it.
//!
//! The constants are the largest sizes (the address widths, and [`DeviceGeometry::SIM`]); a
//! device is built for a [`DeviceGeometry`] that fixes the sizes its board can hold.

pub mod command;
pub mod command_decode;
pub mod gemm_unit;
pub mod geometry;
pub mod piece_plan;
pub mod qrelu_level;
pub mod range_check;
pub mod response;
pub mod top;
pub mod vector_unit;

/// Address bits of the device memory: at most 65,536 words of 16 bits.
pub const MEM_ADDR_BITS: usize = 16;
/// Address bits of the receive and transmit frame buffers: 8,192 bytes, room for a header, the
/// largest body and the CRC.
pub const BUF_ADDR_BITS: usize = 13;
/// The largest command body any device accepts (the protocol's limit).
pub const DEVICE_MAX_BODY: usize = 4096;
/// The largest GEMM K of any device: one row of op(A) per A bank of the core's scratchpad, at
/// most `2^SCRATCH_ADDR_BITS` words.
pub const DEVICE_MAX_K: usize = 1 << crate::SCRATCH_ADDR_BITS;
/// The most words of device memory (`2^MEM_ADDR_BITS`).
pub const MEM_WORDS: usize = 1 << MEM_ADDR_BITS;

pub use command::CommandEngine;
pub use geometry::{DeviceGeometry, GeometryError};
pub use top::DeviceTop;
