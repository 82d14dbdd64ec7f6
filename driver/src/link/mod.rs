//! The link layer: COBS framing, CRC-32 and the frame format of docs/protocol.md.

pub mod cobs;
pub mod crc;
pub mod frame;

pub use frame::{Frame, FrameDecoder, FrameError, Header, MAX_BODY, PROTOCOL_VERSION};
