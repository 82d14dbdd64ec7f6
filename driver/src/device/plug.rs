//! A [`DeviceEngine`] behind a UART: the far side of the emulated FTDI chip, so the whole host
//! stack (Ftdi, Link, commands) can be tested over the memory transport.

use std::collections::VecDeque;

use super::engine::DeviceEngine;
use crate::link::FrameDecoder;
use crate::transport::UartDevice;

/// Parses command frames from the UART bytes, runs them on the engine, queues the responses.
pub struct EnginePlug {
    engine: DeviceEngine,
    decoder: FrameDecoder,
    tx: VecDeque<u8>,
}

impl EnginePlug {
    /// A plug in front of `engine`.
    pub fn new(engine: DeviceEngine) -> EnginePlug {
        EnginePlug {
            engine,
            decoder: FrameDecoder::new(),
            tx: VecDeque::new(),
        }
    }

    /// The engine (to inspect memory and counters in tests).
    pub fn engine(&self) -> &DeviceEngine {
        &self.engine
    }
}

impl UartDevice for EnginePlug {
    fn receive(&mut self, bytes: &[u8]) {
        for result in self.decoder.push(bytes) {
            match result {
                Ok(frame) => {
                    let response = self.engine.handle_frame(&frame);
                    self.tx.extend(response.encode());
                }
                Err(e) => self.engine.note_frame_error(&e),
            }
        }
    }

    fn transmit(&mut self, max: usize) -> Vec<u8> {
        let n = max.min(self.tx.len());
        self.tx.drain(..n).collect()
    }
}
