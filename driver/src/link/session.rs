//! The host side of protocol.md §2: stop-and-wait exchanges with seq numbers, timeouts and
//! bounded retries of the same frame, over any byte pipe (an FTDI UART, or a test double).

use std::time::{Duration, Instant};

use super::frame::{Frame, FrameDecoder};
use crate::device::code::RESPONSE;
use crate::device::{code_name, StatusCode};
use crate::ftdi::{Ftdi, FtdiError};
use crate::transport::{Transport, TransportError};

/// Why a byte pipe failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PipeError {
    /// Worth a retry (a USB timeout, a stall that was cleared).
    Transient(String),
    /// Retrying cannot help (the device is gone, access denied).
    Fatal(String),
}

/// A bidirectional byte stream with deadlines: what the link needs from the layer below.
pub trait BytePipe {
    /// Sends all of `data`.
    fn write_all(&mut self, data: &[u8], timeout: Duration) -> Result<(), PipeError>;
    /// Reads what arrives first, waiting up to `timeout`; 0 means nothing came in time.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PipeError>;
    /// The clock the deadlines are measured on.
    fn now(&mut self) -> Instant;
}

impl<T: Transport> Ftdi<T> {
    fn pipe_error(&mut self, err: FtdiError) -> PipeError {
        match err {
            FtdiError::Transport(TransportError::Stall { endpoint }) => {
                // A halted endpoint stays halted until cleared; clear it so the retry can pass.
                match self.transport().clear_halt(endpoint) {
                    Ok(()) => PipeError::Transient(format!("endpoint 0x{endpoint:02x} stalled")),
                    Err(e) => PipeError::Fatal(format!("clearing a stall failed: {e}")),
                }
            }
            FtdiError::Transport(TransportError::Timeout) | FtdiError::WriteTimeout { .. } => {
                PipeError::Transient(err.to_string())
            }
            other => PipeError::Fatal(other.to_string()),
        }
    }
}

impl<T: Transport> BytePipe for Ftdi<T> {
    fn write_all(&mut self, data: &[u8], timeout: Duration) -> Result<(), PipeError> {
        Ftdi::write_all(self, data, timeout).map_err(|e| self.pipe_error(e))
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PipeError> {
        Ftdi::read(self, buf, timeout).map_err(|e| self.pipe_error(e))
    }
    fn now(&mut self) -> Instant {
        self.transport().now()
    }
}

/// Retry and timeout settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// Retries of the same frame after the first attempt.
    pub retries: u32,
    /// The fixed part of every timeout (USB latency, scheduling).
    pub base_timeout: Duration,
    /// The line rate, for the transfer-time part of the timeout.
    pub baud: u32,
}

impl Default for LinkConfig {
    fn default() -> LinkConfig {
        LinkConfig {
            retries: 5,
            base_timeout: Duration::from_millis(100),
            baud: 3_000_000,
        }
    }
}

/// What the link has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Exchanges that got their response.
    pub exchanges: u64,
    /// Frames sent again.
    pub retries: u64,
    /// Attempts that ended without a response before the deadline.
    pub timeouts: u64,
    /// Attempts cut short by a transient pipe error.
    pub pipe_errors: u64,
    /// Valid frames that did not answer the command in flight (late or duplicated).
    pub stale: u64,
    /// Blocks that were not valid frames.
    pub bad_frames: u64,
}

/// Why an exchange failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// No valid response after every retry.
    #[error("lost link: no response to {command} (seq {seq}) after {attempts} attempts; last problem: {last}")]
    Lost {
        /// The command.
        command: &'static str,
        /// Its seq.
        seq: u16,
        /// Attempts made.
        attempts: u32,
        /// What went wrong the last time.
        last: String,
    },
    /// The pipe failed in a way retrying cannot fix.
    #[error("link failed during {command}: {reason}")]
    Pipe {
        /// The command.
        command: &'static str,
        /// What the pipe said.
        reason: String,
    },
    /// The device answered with an error status.
    #[error("device rejected {command}: {status}")]
    Device {
        /// The command.
        command: &'static str,
        /// The status it answered.
        status: StatusCode,
    },
    /// The device answered with a status byte protocol.md does not define.
    #[error("device answered {command} with unknown status {status}")]
    UnknownStatus {
        /// The command.
        command: &'static str,
        /// The raw status byte.
        status: u8,
    },
}

/// One link: a pipe, the next seq, a frame decoder and counters.
pub struct Link<P: BytePipe> {
    pipe: P,
    config: LinkConfig,
    seq: u16,
    decoder: FrameDecoder,
    stats: LinkStats,
    buf: Vec<u8>,
}

impl<P: BytePipe> Link<P> {
    /// A link over `pipe`; the first command gets seq 0.
    pub fn new(pipe: P, config: LinkConfig) -> Link<P> {
        Link {
            pipe,
            config,
            seq: 0,
            decoder: FrameDecoder::new(),
            stats: LinkStats::default(),
            buf: vec![0; 4096],
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// The pipe underneath.
    pub fn pipe_mut(&mut self) -> &mut P {
        &mut self.pipe
    }

    /// The seq the next command will carry.
    pub fn next_seq(&self) -> u16 {
        self.seq
    }

    /// The settings.
    pub fn config(&self) -> LinkConfig {
        self.config
    }

    /// How long to wait for a response (protocol.md §2): the base, the bytes both ways at
    /// 10 bits per byte, and the command's execution bound.
    pub fn timeout(&self, wire_bytes: usize, exec_bound: Duration) -> Duration {
        let line = Duration::from_secs_f64(wire_bytes as f64 * 10.0 / f64::from(self.config.baud));
        self.config.base_timeout + line + exec_bound
    }

    /// Sends command `kind` with `body` and returns the body of its OK response. The same
    /// frame (same seq) is sent again after a timeout or a transient error, at most
    /// `retries` times; responses to other seqs or kinds are discarded.
    pub fn exchange(
        &mut self,
        kind: u8,
        body: Vec<u8>,
        response_body: usize,
        exec_bound: Duration,
    ) -> Result<Vec<u8>, LinkError> {
        let command = code_name(kind);
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let wire = Frame::new(kind, seq, 0, body).encode();
        let timeout = self.timeout(wire.len() + 2 * (response_body + 16), exec_bound);
        let attempts = self.config.retries + 1;
        let mut last = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                self.stats.retries += 1;
            }
            match self.attempt(&wire, kind | RESPONSE, seq, timeout) {
                Ok(Some(frame)) => {
                    self.stats.exchanges += 1;
                    return match StatusCode::from_u8(frame.header.status) {
                        Some(StatusCode::Ok) => Ok(frame.body),
                        Some(status) => Err(LinkError::Device { command, status }),
                        None => Err(LinkError::UnknownStatus {
                            command,
                            status: frame.header.status,
                        }),
                    };
                }
                Ok(None) => {
                    self.stats.timeouts += 1;
                    last = format!("no response within {timeout:?}");
                }
                Err(PipeError::Transient(e)) => {
                    self.stats.pipe_errors += 1;
                    last = e;
                }
                Err(PipeError::Fatal(reason)) => return Err(LinkError::Pipe { command, reason }),
            }
        }
        Err(LinkError::Lost {
            command,
            seq,
            attempts,
            last,
        })
    }

    /// One send and wait; `None` when the deadline passed without the response.
    fn attempt(
        &mut self,
        wire: &[u8],
        want_kind: u8,
        seq: u16,
        timeout: Duration,
    ) -> Result<Option<Frame>, PipeError> {
        self.pipe.write_all(wire, timeout)?;
        let deadline = self.pipe.now() + timeout;
        loop {
            let now = self.pipe.now();
            if now >= deadline {
                return Ok(None);
            }
            let n = self.pipe.read(&mut self.buf, deadline - now)?;
            if n == 0 {
                continue;
            }
            let mut found = None;
            for result in self.decoder.push(&self.buf[..n]) {
                match result {
                    Ok(f)
                        if found.is_none() && f.header.kind == want_kind && f.header.seq == seq =>
                    {
                        found = Some(f)
                    }
                    Ok(_) => self.stats.stale += 1,
                    Err(_) => self.stats.bad_frames += 1,
                }
            }
            if found.is_some() {
                return Ok(found);
            }
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
