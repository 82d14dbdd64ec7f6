//! Frames: an 8-byte header, a body and a CRC-32, COBS-encoded and ended by a zero byte
//! (docs/protocol.md). `FrameDecoder` turns an arbitrary byte stream, garbage included, into
//! frames and errors; it never panics and resynchronizes at the next delimiter.

use super::cobs::{self, CobsError, DELIMITER};
use super::crc::crc32;

/// The protocol version in every header.
pub const PROTOCOL_VERSION: u8 = 1;
/// Header bytes before the body.
pub const HEADER_LEN: usize = 8;
/// CRC bytes after the body.
pub const CRC_LEN: usize = 4;
/// The largest body the protocol allows (a device may accept less: see its capabilities).
pub const MAX_BODY: usize = 4096;

/// The fixed header of every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Protocol version ([`PROTOCOL_VERSION`]).
    pub version: u8,
    /// Command code; a response has the command's code with the top bit set.
    pub kind: u8,
    /// Sequence number chosen by the host; the response echoes it.
    pub seq: u16,
    /// Status code of a response; 0 in commands.
    pub status: u8,
    /// Reserved, 0.
    pub flags: u8,
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header.
    pub header: Header,
    /// The body (at most [`MAX_BODY`] bytes).
    pub body: Vec<u8>,
}

/// Why bytes between two delimiters are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// COBS decoding failed.
    Cobs(CobsError),
    /// Fewer bytes than a header and a CRC.
    TooShort(usize),
    /// More bytes than the largest frame before a delimiter came.
    TooLong,
    /// The header's length field disagrees with the bytes received.
    LengthMismatch {
        /// Length in the header.
        declared: usize,
        /// Body bytes actually present.
        actual: usize,
    },
    /// The CRC does not match: the frame was corrupted.
    BadCrc,
    /// A protocol version this host does not speak.
    BadVersion(u8),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Cobs(CobsError::ZeroInBlock) => write!(f, "COBS block contains a zero"),
            FrameError::Cobs(CobsError::Truncated) => write!(f, "COBS block is truncated"),
            FrameError::TooShort(n) => {
                write!(f, "frame of {n} bytes is shorter than header and CRC")
            }
            FrameError::TooLong => write!(f, "no delimiter within the largest frame size"),
            FrameError::LengthMismatch { declared, actual } => {
                write!(
                    f,
                    "header declares a {declared}-byte body but {actual} bytes came"
                )
            }
            FrameError::BadCrc => write!(f, "CRC mismatch"),
            FrameError::BadVersion(v) => {
                write!(f, "protocol version {v}, expected {PROTOCOL_VERSION}")
            }
        }
    }
}

impl std::error::Error for FrameError {}

impl Frame {
    /// A frame with this header and body.
    pub fn new(kind: u8, seq: u16, status: u8, body: Vec<u8>) -> Frame {
        Frame {
            header: Header {
                version: PROTOCOL_VERSION,
                kind,
                seq,
                status,
                flags: 0,
            },
            body,
        }
    }

    /// The bytes on the wire: a delimiter, COBS(header, body, CRC), a delimiter. The leading
    /// delimiter ends whatever partial garbage the receiver holds, so a frame that follows noise
    /// is not glued to it; the receiver skips the empty block it makes.
    ///
    /// # Panics
    /// If the body is longer than [`MAX_BODY`] (a caller bug: split larger transfers).
    pub fn encode(&self) -> Vec<u8> {
        assert!(
            self.body.len() <= MAX_BODY,
            "frame body of {} bytes exceeds {MAX_BODY}",
            self.body.len()
        );
        let h = &self.header;
        let len = self.body.len() as u16;
        let mut raw = Vec::with_capacity(HEADER_LEN + self.body.len() + CRC_LEN);
        raw.extend_from_slice(&[h.version, h.kind]);
        raw.extend_from_slice(&h.seq.to_le_bytes());
        raw.extend_from_slice(&len.to_le_bytes());
        raw.extend_from_slice(&[h.status, h.flags]);
        raw.extend_from_slice(&self.body);
        raw.extend_from_slice(&crc32(&raw).to_le_bytes());
        let mut wire = Vec::with_capacity(cobs::max_encoded_len(raw.len()) + 2);
        wire.push(DELIMITER);
        cobs::encode(&raw, &mut wire);
        wire.push(DELIMITER);
        wire
    }

    /// Decodes the bytes between two delimiters.
    pub fn decode(block: &[u8]) -> Result<Frame, FrameError> {
        let raw = cobs::decode(block).map_err(FrameError::Cobs)?;
        if raw.len() < HEADER_LEN + CRC_LEN {
            return Err(FrameError::TooShort(raw.len()));
        }
        let (content, crc) = raw.split_at(raw.len() - CRC_LEN);
        if crc32(content).to_le_bytes() != crc {
            return Err(FrameError::BadCrc);
        }
        if content[0] != PROTOCOL_VERSION {
            return Err(FrameError::BadVersion(content[0]));
        }
        let declared = u16::from_le_bytes([content[4], content[5]]) as usize;
        let body = &content[HEADER_LEN..];
        if declared != body.len() {
            return Err(FrameError::LengthMismatch {
                declared,
                actual: body.len(),
            });
        }
        Ok(Frame {
            header: Header {
                version: content[0],
                kind: content[1],
                seq: u16::from_le_bytes([content[2], content[3]]),
                status: content[6],
                flags: content[7],
            },
            body: body.to_vec(),
        })
    }
}

/// The most bytes a frame can take on the wire, both delimiters included.
pub fn max_wire_len() -> usize {
    cobs::max_encoded_len(HEADER_LEN + MAX_BODY + CRC_LEN) + 2
}

/// Counts of what a decoder has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Frames decoded.
    pub frames: u64,
    /// Blocks between delimiters that were not frames.
    pub errors: u64,
    /// Bytes thrown away while resynchronizing after an over-long block.
    pub discarded: u64,
}

/// Turns a byte stream into frames, resynchronizing at each delimiter.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    block: Vec<u8>,
    overflowed: bool,
    stats: DecoderStats,
}

impl FrameDecoder {
    /// A decoder waiting for the start of a frame.
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// What the decoder has seen so far.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    /// Forgets a partly received block (after a timeout, before a retry).
    pub fn reset(&mut self) {
        self.block.clear();
        self.overflowed = false;
    }

    /// Feeds bytes; returns each complete block's outcome in order. Empty blocks (two
    /// delimiters in a row, which senders use to flush a receiver) are skipped silently.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<Frame, FrameError>> {
        let mut out = Vec::new();
        for &byte in bytes {
            if byte != DELIMITER {
                if self.block.len() < max_wire_len() {
                    self.block.push(byte);
                } else {
                    self.overflowed = true;
                    self.stats.discarded += 1;
                }
                continue;
            }
            if self.overflowed {
                self.stats.discarded += self.block.len() as u64;
                self.stats.errors += 1;
                out.push(Err(FrameError::TooLong));
            } else if !self.block.is_empty() {
                let result = Frame::decode(&self.block);
                match result {
                    Ok(_) => self.stats.frames += 1,
                    Err(_) => self.stats.errors += 1,
                }
                out.push(result);
            }
            self.reset();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(seq: u16, len: usize) -> Frame {
        Frame::new(
            0x10,
            seq,
            0,
            (0..len).map(|i| (i * 7 % 256) as u8).collect(),
        )
    }

    #[test]
    fn round_trip_and_stream() {
        let frames: Vec<Frame> = [0, 1, 200, 1000, MAX_BODY]
            .iter()
            .map(|&n| sample(n as u16, n))
            .collect();
        let wire: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        let mut dec = FrameDecoder::new();
        // Byte-at-a-time and all-at-once give the same frames.
        let one_by_one: Vec<_> = wire.iter().flat_map(|b| dec.push(&[*b])).collect();
        let decoded: Vec<Frame> = one_by_one.into_iter().map(Result::unwrap).collect();
        assert_eq!(decoded, frames);
        assert_eq!(dec.stats().frames, frames.len() as u64);
    }

    #[test]
    fn resynchronizes_after_garbage() {
        let good = sample(9, 40);
        let mut wire = vec![0x13, 0x37, 0xFF, 0x00, 0x42];
        wire.extend(good.encode());
        let results = FrameDecoder::new().push(&wire);
        assert_eq!(results.len(), 3, "{results:?}");
        assert!(results[0].is_err() && results[1].is_err());
        assert_eq!(results[2].as_ref().unwrap(), &good);
    }

    #[test]
    fn detects_corruption_and_truncation() {
        let mut wire = sample(3, 100).encode();
        wire[20] ^= 0x04;
        let r = FrameDecoder::new().push(&wire);
        assert!(
            matches!(r[0], Err(FrameError::BadCrc) | Err(FrameError::Cobs(_))),
            "{r:?}"
        );
        let wire = sample(3, 100).encode();
        let mut cut = wire[..wire.len() - 10].to_vec();
        cut.push(0);
        assert!(FrameDecoder::new().push(&cut)[0].is_err());
    }

    #[test]
    fn over_long_block_is_dropped_then_recovers() {
        let mut wire = vec![0x55; max_wire_len() + 100];
        wire.push(0);
        wire.extend(sample(1, 8).encode());
        let mut dec = FrameDecoder::new();
        let r = dec.push(&wire);
        assert_eq!(r[0], Err(FrameError::TooLong));
        assert_eq!(r[1].as_ref().unwrap(), &sample(1, 8));
        assert!(dec.stats().discarded >= 100);
    }

    proptest! {
        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let mut dec = FrameDecoder::new();
            let _ = dec.push(&bytes);
        }

        #[test]
        fn frames_survive_any_prefix_of_garbage(
            garbage in proptest::collection::vec(any::<u8>(), 0..300),
            body in proptest::collection::vec(any::<u8>(), 0..300),
            seq in any::<u16>(),
        ) {
            let frame = Frame::new(0x20, seq, 0, body);
            let mut wire = garbage;
            wire.push(0);
            wire.extend(frame.encode());
            let results = FrameDecoder::new().push(&wire);
            prop_assert_eq!(results.last().unwrap().as_ref().unwrap(), &frame);
        }
    }
}
