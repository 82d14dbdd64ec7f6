//! The link layer: COBS framing, CRC-32 and the frame format of docs/protocol.md, and the
//! host side of its exchanges (seq numbers, timeouts, retries) in [`session`].

pub mod cobs;
pub mod crc;
pub mod frame;
pub mod session;

pub use frame::{Frame, FrameDecoder, FrameError, Header, MAX_BODY, PROTOCOL_VERSION};
pub use session::{BytePipe, Link, LinkConfig, LinkError, LinkStats, PipeError};
