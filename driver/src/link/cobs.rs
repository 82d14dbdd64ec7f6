//! Consistent Overhead Byte Stuffing: frames end with a 0x00 byte that never occurs inside
//! them, so a receiver that lost its place resynchronizes at the next zero.
//!
//! Encoding replaces every zero with the distance to the next one; a block of 254 non-zero
//! bytes gets a code byte of 0xFF and no implied zero. Overhead: one byte per 254, plus one.

/// The frame delimiter on the wire.
pub const DELIMITER: u8 = 0x00;

/// The most bytes `encode` produces for `len` input bytes (without the delimiter).
pub fn max_encoded_len(len: usize) -> usize {
    len + len / 254 + 1
}

/// Appends the COBS encoding of `data` to `out` (no delimiter).
pub fn encode(data: &[u8], out: &mut Vec<u8>) {
    let mut code_at = out.len();
    out.push(0); // placeholder for the first code byte
    let mut code: u8 = 1;
    for &byte in data {
        if byte == 0 {
            out[code_at] = code;
            code_at = out.len();
            out.push(0);
            code = 1;
        } else {
            out.push(byte);
            code += 1;
            if code == 0xFF {
                out[code_at] = code;
                code_at = out.len();
                out.push(0);
                code = 1;
            }
        }
    }
    out[code_at] = code;
}

/// Why a COBS block could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CobsError {
    /// A zero byte inside the encoded block (the delimiter must not be passed in).
    ZeroInBlock,
    /// A code byte points past the end of the block: the frame was truncated or corrupted.
    Truncated,
}

/// Decodes one COBS block (without its delimiter).
pub fn decode(block: &[u8]) -> Result<Vec<u8>, CobsError> {
    let mut out = Vec::with_capacity(block.len());
    let mut i = 0;
    while i < block.len() {
        let code = block[i];
        if code == 0 {
            return Err(CobsError::ZeroInBlock);
        }
        let end = i + code as usize;
        if end > block.len() {
            return Err(CobsError::Truncated);
        }
        let run = &block[i + 1..end];
        if run.contains(&0) {
            return Err(CobsError::ZeroInBlock);
        }
        out.extend_from_slice(run);
        // A code below 0xFF stands for a zero after its run, except at the very end.
        if code != 0xFF && end < block.len() {
            out.push(0);
        }
        i = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(data: &[u8]) -> Vec<u8> {
        let mut enc = Vec::new();
        encode(data, &mut enc);
        assert!(
            !enc.contains(&0),
            "encoding of {data:?} contains a zero: {enc:?}"
        );
        assert!(enc.len() <= max_encoded_len(data.len()));
        decode(&enc).unwrap()
    }

    #[test]
    fn known_vectors() {
        let cases: &[(&[u8], &[u8])] = &[
            (&[], &[1]),
            (&[0], &[1, 1]),
            (&[0, 0], &[1, 1, 1]),
            (&[0x11, 0x22, 0x00, 0x33], &[3, 0x11, 0x22, 2, 0x33]),
            (&[0x11, 0x00, 0x00, 0x00], &[2, 0x11, 1, 1, 1]),
        ];
        for (raw, enc) in cases {
            let mut out = Vec::new();
            encode(raw, &mut out);
            assert_eq!(&out, enc, "encoding {raw:?}");
            assert_eq!(decode(enc).unwrap(), *raw, "decoding {enc:?}");
        }
    }

    #[test]
    fn long_runs_without_zeros() {
        for len in [253, 254, 255, 508, 509, 1000] {
            let data: Vec<u8> = (0..len).map(|i| (i % 255 + 1) as u8).collect();
            assert_eq!(round_trip(&data), data, "len {len}");
        }
    }

    #[test]
    fn rejects_truncation_and_zeros() {
        assert_eq!(decode(&[5, 1, 2]), Err(CobsError::Truncated));
        assert_eq!(decode(&[3, 1, 0]), Err(CobsError::ZeroInBlock));
        assert_eq!(decode(&[0]), Err(CobsError::ZeroInBlock));
    }

    proptest! {
        #[test]
        fn round_trips(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
            prop_assert_eq!(round_trip(&data), data);
        }

        #[test]
        fn decode_never_panics(block in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode(&block);
        }
    }
}
