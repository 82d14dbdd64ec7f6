//! The device side of the host link (docs/protocol.md): the UART byte layer,
//! [`uart_rx::UartRx`] and [`uart_tx::UartTx`] (8N1), and the framing on top of their
//! valid/ready byte interfaces: [`frame_rx::FrameRx`] (COBS decoding and the frame checks into a
//! buffer the command engine reads), [`frame_tx::FrameTx`] (the response from a buffer the
//! engine writes, COBS-encoded with its CRC) and the [`crc32::Crc32`] both use. [`echo`] is a
//! bring-up design that loops the UART back.
//!
//! The UART blocks take the bit time as a run-time port, `clocks_per_bit` (core clock cycles
//! per bit), so that a device top ties it to a constant for its board while test benches sweep
//! it.

pub mod crc32;
pub mod echo;
pub mod frame_rx;
pub mod frame_tx;
pub mod uart_rx;
pub mod uart_tx;

/// Address bits of the frame buffers in [`frame_rx::FrameRx`] and [`frame_tx::FrameTx`]: 8192
/// bytes, room for the largest frame (the device's `BUF_ADDR_BITS`).
pub const FRAME_BUF_ADDR_BITS: usize = 13;
/// Header bytes before the body (docs/protocol.md section 1).
pub const HEADER_LEN: usize = 8;
/// CRC bytes after the body.
pub const CRC_LEN: usize = 4;
/// The largest body the device accepts (the device's `DEVICE_MAX_BODY`).
pub const MAX_BODY: usize = 4096;
/// The most decoded bytes (header, body, CRC) a frame can have.
pub const MAX_DECODED_LEN: usize = HEADER_LEN + MAX_BODY + CRC_LEN;
/// The most encoded bytes between two delimiters before a block is dropped as too long: the
/// host decoder's limit (`max_wire_len()` in driver/src/link/frame.rs), so that both drop the
/// same blocks.
pub const MAX_BLOCK_LEN: usize = MAX_DECODED_LEN + MAX_DECODED_LEN / 254 + 1 + 2;

/// The smallest `clocks_per_bit` the UART blocks support. The receiver samples a bit where it
/// thinks its middle is, to within one clock (the start edge is only seen at a clock edge), so
/// at 4 clocks per bit it still tolerates about +-2.5 % between the two ends' bit rates
/// (docs/hardware.md, "Link"); below 4 that margin vanishes.
pub const MIN_CLOCKS_PER_BIT: u16 = 4;

/// Core clock cycles per bit for `baud` at `clock_hz`, rounded to the nearest integer, with the
/// resulting bit-rate error relative to `baud` (positive: the device is faster). `None` when
/// that is below [`MIN_CLOCKS_PER_BIT`] or above 65535.
pub fn clocks_per_bit(clock_hz: u64, baud: u64) -> Option<(u16, f64)> {
    if baud == 0 {
        return None;
    }
    let cpb = (clock_hz + baud / 2) / baud;
    if cpb < MIN_CLOCKS_PER_BIT as u64 || cpb > u16::MAX as u64 {
        return None;
    }
    let error = clock_hz as f64 / (cpb as f64 * baud as f64) - 1.0;
    Some((cpb as u16, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisors_of_the_board_clocks() {
        // iCEBreaker: 12 Mbaud needs a 48 MHz core clock; its 12 MHz oscillator is too slow.
        assert_eq!(clocks_per_bit(48_000_000, 12_000_000), Some((4, 0.0)));
        assert_eq!(clocks_per_bit(12_000_000, 12_000_000), None);
        // ULX3S: 3 Mbaud from the 25 MHz oscillator is 8 clocks per bit but 4 % fast.
        let (cpb, err) = clocks_per_bit(25_000_000, 3_000_000).unwrap();
        assert_eq!(cpb, 8);
        assert!((err - 25.0 / 24.0 + 1.0).abs() < 1e-12);
        assert_eq!(clocks_per_bit(1, 0), None);
        assert_eq!(clocks_per_bit(10_000_000, 100), None);
    }
}

#[cfg(test)]
mod loopback {
    use super::uart_rx::UartRx;
    use super::uart_tx::UartTx;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rust_hdl::prelude::*;

    /// Sends `count` random bytes through UartTx into UartRx, with random pauses on the
    /// sending side and a consumer that is ready half of the time.
    fn loopback(cpb: u16, count: usize, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let sent: Vec<u8> = (0..count).map(|_| rng.gen()).collect();
        let mut tx = UartTx::default();
        let mut rx = UartRx::default();
        tx.connect_all();
        rx.connect_all();
        tx.clocks_per_bit.next = bits(cpb as u64);
        rx.clocks_per_bit.next = bits(cpb as u64);
        // Settle the outputs, so that the test sees `ready` before the first edge.
        assert!(simulate(&mut tx, 100) && simulate(&mut rx, 100));
        let mut next = 0;
        let mut got = vec![];
        let limit = count * 14 * cpb as usize + 100;
        for _ in 0..limit {
            let valid = next < count && rng.gen_bool(0.3);
            let ready = rng.gen_bool(0.5);
            tx.valid.next = valid;
            tx.data.next = bits(sent[next.min(count - 1)] as u64);
            rx.ready.next = ready;
            rx.rx.next = tx.tx.val();
            // (`tx.ready` and `rx.valid` are register outputs, current before the edge.)
            if valid && tx.ready.val() {
                next += 1;
            }
            if ready && rx.valid.val() {
                got.push(rx.data.val().to_u64() as u8);
            }
            for clk in [false, true, false] {
                tx.clock.next = Clock { clk };
                rx.clock.next = Clock { clk };
                assert!(simulate(&mut tx, 100));
                assert!(simulate(&mut rx, 100));
            }
            assert!(!rx.frame_error.val() && !rx.overrun.val(), "{cpb}");
            if got.len() == count {
                break;
            }
        }
        assert_eq!(got, sent, "{cpb} clocks per bit");
    }

    #[test]
    fn random_bytes_survive_tx_to_rx() {
        loopback(4, 300, 1);
        loopback(5, 300, 2);
        loopback(13, 200, 3);
    }
}
