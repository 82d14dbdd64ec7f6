//! [`SimBoard`]: the Verilated device top behind the host's real link code.
//!
//! The third [`Accelerator`]: commands go through the same [`Link`] session (framing, seq
//! numbers, timeouts, retries) as a [`crate::accelerator::UsbBoard`]'s, over a [`BytePipe`]
//! that turns bytes into UART waveforms for a [`SimDevice`] and back. Time on this pipe is the
//! simulation's: `now()` is `cycles / clock_hz`, and waiting for a response simulates the
//! device for the cycles the deadline allows, so timeouts, retries and every counter are
//! deterministic and independent of the host's speed.

use std::time::{Duration, Instant};

use qtrain_sim::{DeviceGeometry, DeviceSimOptions, LinkCounters, SimDevice, SimError};

use crate::accelerator::{AccelError, Accelerator};
use crate::device::{code, Capabilities, Command, EngineConfig, VectorOp};
use crate::link::{BytePipe, Link, LinkConfig, LinkStats, PipeError};
use crate::transport::faults::{FaultInjector, TransferFault};

/// Why a [`SimBoard`] could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SimBoardError {
    /// The simulation could not be built or loaded.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The device did not answer HELLO as it should.
    #[error("the simulated device failed HELLO: {0}")]
    Hello(#[from] AccelError),
}

/// The link settings of a [`SimBoard`], in simulated time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimLinkConfig {
    /// Retries of the same frame after the first attempt.
    pub retries: u32,
    /// The fixed part of every timeout: the device's decode and response latency.
    pub base_timeout: Duration,
}

impl Default for SimLinkConfig {
    fn default() -> SimLinkConfig {
        SimLinkConfig {
            retries: 5,
            // 48,000 cycles at 48 MHz: far above the engine's per-frame latency, short enough
            // that a lost response costs little simulation.
            base_timeout: Duration::from_millis(1),
        }
    }
}

/// Cycle counters of a [`SimBoard`], all since it was opened (HELLO included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimCounters {
    /// Device clock cycles simulated.
    pub total_cycles: u64,
    /// Cycles with a byte on either UART line.
    pub link_busy_cycles: u64,
    /// Cycles with a host byte on the line to the device.
    pub host_to_device_cycles: u64,
    /// Cycles with a device byte on the line to the host.
    pub device_to_host_cycles: u64,
    /// Cycles with both lines idle: the device decoding, executing and encoding (the time a
    /// stop-and-wait host spends waiting for the device rather than for the wire).
    pub device_cycles: u64,
    /// The sum of the `cycles` the device reported in GEMM responses.
    pub gemm_cycles: u64,
}

/// The byte pipe into the simulated UART, with optional fault injection on both directions.
pub struct SimPipe {
    device: SimDevice,
    faults: Option<FaultInjector>,
    epoch: Instant,
    clock_hz: u64,
    rx: Vec<u8>,
}

impl SimPipe {
    fn new(device: SimDevice) -> SimPipe {
        let clock_hz = u64::from(device.options().clock_hz);
        SimPipe {
            device,
            faults: None,
            epoch: Instant::now(),
            clock_hz,
            rx: vec![0; 4096],
        }
    }

    /// The simulated device.
    pub fn device(&self) -> &SimDevice {
        &self.device
    }

    /// Cycles that `d` lasts at the device clock, rounded up, at least one (so that every
    /// wait makes progress).
    fn cycles_for(&self, d: Duration) -> u64 {
        let c = (d.as_nanos() * u128::from(self.clock_hz)).div_ceil(1_000_000_000);
        u64::try_from(c).unwrap_or(u64::MAX).max(1)
    }

    fn transfer_fault(&mut self) -> Result<(), PipeError> {
        match self.faults.as_mut().and_then(FaultInjector::transfer_fault) {
            None => Ok(()),
            Some(TransferFault::Unplug) => Err(PipeError::Fatal("simulated unplug".into())),
            Some(f) => Err(PipeError::Transient(format!("injected {f:?}"))),
        }
    }
}

impl BytePipe for SimPipe {
    fn write_all(&mut self, data: &[u8], _timeout: Duration) -> Result<(), PipeError> {
        self.transfer_fault()?;
        // The host's UART buffers the whole frame, as an FTDI chip does; the bytes go on the
        // line while the link waits for the response.
        match self.faults.as_mut() {
            Some(f) => {
                let mut wire = data.to_vec();
                f.mangle(&mut wire);
                self.device.send(&wire);
            }
            None => self.device.send(data),
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PipeError> {
        self.transfer_fault()?;
        let max = self.cycles_for(timeout);
        // Room for a duplicated byte; stopping at each 0x00 hands the link one frame at a
        // time, so it never waits for cycles past the response it wants.
        let cap = buf.len().saturating_sub(1).clamp(1, self.rx.len());
        let (n, _) = self.device.run_into(max, &mut self.rx[..cap], Some(0));
        let mut got = self.rx[..n].to_vec();
        if let Some(f) = self.faults.as_mut() {
            f.mangle(&mut got);
        }
        let n = got.len().min(buf.len());
        buf[..n].copy_from_slice(&got[..n]);
        Ok(n)
    }

    fn now(&mut self) -> Instant {
        let ns = u128::from(self.device.cycles()) * 1_000_000_000 / u128::from(self.clock_hz);
        self.epoch + Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}

/// The Verilated device top as an [`Accelerator`], cycle-accurate, over the real link session.
pub struct SimBoard {
    link: Link<SimPipe>,
    caps: Capabilities,
    gemm_cycles: u64,
}

impl SimBoard {
    /// Builds (or loads from the cache) the `rows x cols` device top and opens a session: HELLO.
    pub fn new(
        rows: usize,
        cols: usize,
        options: DeviceSimOptions,
    ) -> Result<SimBoard, SimBoardError> {
        let device = SimDevice::new(rows, cols, options)?;
        SimBoard::connect(device, SimLinkConfig::default())
    }

    /// Opens a session on a simulated device: HELLO, which also learns the capabilities.
    pub fn connect(device: SimDevice, config: SimLinkConfig) -> Result<SimBoard, SimBoardError> {
        let link_config = LinkConfig {
            retries: config.retries,
            base_timeout: config.base_timeout,
            baud: device.options().baud(),
        };
        let mut board = SimBoard {
            link: Link::new(SimPipe::new(device), link_config),
            // Only HELLO's own frame is sent before the real limits are known.
            caps: Capabilities {
                max_body: 64,
                ..Capabilities::default()
            },
            gemm_cycles: 0,
        };
        board.caps = board.hello()?;
        Ok(board)
    }

    /// Puts `faults` (or nothing) between the host and the simulated UART: byte faults hit
    /// each write and each chunk read, transfer faults fail the pipe call as a USB error would.
    pub fn set_faults(&mut self, faults: Option<FaultInjector>) {
        self.link.pipe_mut().faults = faults;
    }

    /// The fault injector, if any (for its statistics).
    pub fn faults(&mut self) -> Option<&mut FaultInjector> {
        self.link.pipe_mut().faults.as_mut()
    }

    /// The simulated device (its options and raw UART counters).
    pub fn device(&mut self) -> &SimDevice {
        self.link.pipe_mut().device()
    }

    /// The link's counters (exchanges, retries, timeouts, bad frames).
    pub fn link_stats(&self) -> LinkStats {
        self.link.stats()
    }

    /// The cycle counters so far.
    pub fn counters(&mut self) -> SimCounters {
        let c: LinkCounters = self.link.pipe_mut().device().counters();
        SimCounters {
            total_cycles: c.cycles,
            link_busy_cycles: c.link_busy_cycles,
            host_to_device_cycles: c.host_to_device_cycles,
            device_to_host_cycles: c.device_to_host_cycles,
            device_cycles: c.link_idle_cycles(),
            gemm_cycles: self.gemm_cycles,
        }
    }

    /// Simulated time so far at the device clock.
    pub fn elapsed(&mut self) -> Duration {
        let c = self.counters().total_cycles;
        let hz = u64::from(self.link.pipe_mut().device().options().clock_hz);
        Duration::from_nanos(
            u64::try_from(u128::from(c) * 1_000_000_000 / u128::from(hz)).unwrap_or(u64::MAX),
        )
    }

    /// Sends any command code with any body (even invalid ones) and returns the OK body;
    /// `response_len` only sizes the timeout. HELLO responses update the capabilities and GEMM
    /// responses the cycle counter, as through [`Accelerator::execute`].
    pub fn execute_raw(
        &mut self,
        kind: u8,
        body: Vec<u8>,
        response_len: usize,
        exec_bound: Duration,
    ) -> Result<Vec<u8>, AccelError> {
        let body = self.link.exchange(kind, body, response_len, exec_bound)?;
        match kind {
            code::HELLO => {
                if let Ok(caps) = Capabilities::decode(&body) {
                    self.caps = caps;
                }
            }
            code::GEMM => {
                if let Ok(b) = <[u8; 4]>::try_from(body.as_slice()) {
                    self.gemm_cycles += u64::from(u32::from_le_bytes(b));
                }
            }
            _ => {}
        }
        Ok(body)
    }

    /// How long a command may run on the device: generous multiples of the GEMM unit's and
    /// the vector unit's schedules (simulated time is free unless a response is lost).
    pub fn exec_bound(&self, cmd: &Command) -> Duration {
        let elements = |rows: u16, cols: u16| u64::from(rows) * u64::from(cols);
        let cycles = match cmd {
            Command::Gemm(g) => {
                let (m, k, n) = (u64::from(g.m), u64::from(g.k), u64::from(g.n));
                2 * m * k * n + 64 * m * n + 4 * (m * k + k * n)
            }
            Command::Vector(VectorOp::BiasAdd { rows, cols, .. })
            | Command::Vector(VectorOp::Relu { rows, cols, .. })
            | Command::Vector(VectorOp::ReluMask { rows, cols, .. })
            | Command::Vector(VectorOp::Qrelu { rows, cols, .. })
            | Command::Vector(VectorOp::QreluMask { rows, cols, .. }) => {
                64 * elements(*rows, *cols)
            }
            Command::Vector(VectorOp::Update(u)) => 64 * elements(u.rows, u.cols),
            Command::Write { words, .. } => 8 * words.len() as u64,
            Command::Read { count, .. } => 8 * u64::from(*count),
            _ => 0,
        };
        let hz = f64::from(self.caps.clock_hz.max(1_000_000));
        Duration::from_secs_f64(cycles as f64 / hz)
    }
}

/// The software device's configuration that matches a `rows x cols` device built for
/// `geometry` (CAPABILITIES `mem_words`, `max_k`, `max_body` and `ops`, and every limit they set), so
/// that a [`crate::device::DeviceEngine`] answers as that device does.
pub fn engine_config(
    geometry: &DeviceGeometry,
    rows: u8,
    cols: u8,
    clock_hz: u32,
    baud: u32,
) -> EngineConfig {
    EngineConfig {
        mem_words: geometry.mem_words() as u32,
        rows,
        cols,
        max_body: geometry.max_body() as u16,
        max_k: geometry.max_k() as u32,
        clock_hz,
        baud,
        ops: geometry.ops(),
    }
}

/// The body length of the OK response to `cmd`, for the timeout.
fn response_len(cmd: &Command) -> usize {
    match cmd {
        Command::Read { count, .. } => 2 * usize::from(*count),
        Command::Hello { .. } | Command::Capabilities => 28,
        Command::Status => 24,
        Command::Gemm(_) => 4,
        _ => 0,
    }
}

impl Accelerator for SimBoard {
    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn execute(&mut self, cmd: &Command) -> Result<Vec<u8>, AccelError> {
        let bound = self.exec_bound(cmd);
        self.execute_raw(cmd.code(), cmd.encode(), response_len(cmd), bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boards_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<SimBoard>();
    }

    #[test]
    fn engine_config_carries_the_geometry() {
        let g = DeviceGeometry::new(4096, 256, 512).unwrap();
        let cfg = engine_config(&g, 2, 3, 48_000_000, 12_000_000);
        assert_eq!(
            (cfg.mem_words, cfg.max_k, cfg.max_body, cfg.rows, cfg.cols),
            (4096, 256, 512, 2, 3)
        );
        let caps = crate::device::DeviceEngine::new(cfg).capabilities();
        assert_eq!(
            (caps.mem_words, caps.max_k, caps.max_body, caps.ops),
            (4096, 256, 512, 0x3F)
        );
        let lean = engine_config(&g.gemm_only(), 2, 3, 48_000_000, 12_000_000);
        assert_eq!(lean.ops, 0);
        assert_eq!(crate::device::DeviceEngine::new(lean).capabilities().ops, 0);
    }

    #[test]
    fn response_lengths_follow_the_protocol() {
        assert_eq!(response_len(&Command::Read { addr: 0, count: 9 }), 18);
        assert_eq!(response_len(&Command::Status), 24);
        assert_eq!(response_len(&Command::Capabilities), 28);
        assert_eq!(response_len(&Command::Reset), 0);
    }
}
