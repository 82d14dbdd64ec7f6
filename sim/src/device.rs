//! [`SimDevice`]: the whole device top (UART, framing, command engine, GEMM array) simulated
//! by Verilator, fed the bytes a host would put on the UART.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::cache::{ensure_library, TraceFormat, DEVICE_HARNESS_SOURCE};
use crate::device_ffi::{DeviceInstance, DeviceLib};
use crate::error::SimError;
use crate::toolchain::Toolchain;
use qtrain_hdl::DeviceGeometry;

/// The UART rates a [`SimDevice`] runs at, the memory sizes it is built with, and whether to
/// trace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSimOptions {
    /// Core clock cycles per UART bit, at least `qtrain_hdl::link::MIN_CLOCKS_PER_BIT`.
    pub clocks_per_bit: u16,
    /// The clock the device reports (CAPABILITIES) and that simulated time is measured in.
    pub clock_hz: u32,
    /// Write a waveform of every simulated cycle to this file: FST if it ends in `.fst`, VCD
    /// otherwise. Tracing uses a separately cached build and is much slower.
    pub trace: Option<PathBuf>,
    /// The sizes of the device's memories ([`SimDevice::new`] builds the device top of this
    /// geometry; a board's geometry reproduces that board's limits in simulation).
    pub geometry: DeviceGeometry,
}

impl Default for DeviceSimOptions {
    /// The iCEBreaker's link: 12 Mbaud from a 48 MHz core clock, 4 clocks per bit.
    fn default() -> DeviceSimOptions {
        DeviceSimOptions {
            clocks_per_bit: 4,
            clock_hz: 48_000_000,
            trace: None,
            geometry: DeviceGeometry::SIM,
        }
    }
}

impl DeviceSimOptions {
    /// The line rate these options give: `clock_hz / clocks_per_bit`.
    pub fn baud(&self) -> u32 {
        self.clock_hz / u32::from(self.clocks_per_bit.max(1))
    }

    fn check(&self) -> Result<(), SimError> {
        let min = qtrain_hdl::link::MIN_CLOCKS_PER_BIT;
        if self.clocks_per_bit < min {
            return Err(SimError::DeviceOptions(format!(
                "clocks_per_bit = {} is below the UART's minimum of {min}",
                self.clocks_per_bit
            )));
        }
        if self.clock_hz < u32::from(self.clocks_per_bit) {
            return Err(SimError::DeviceOptions(format!(
                "clock_hz = {} is below clocks_per_bit = {}: the baud rate would be 0",
                self.clock_hz, self.clocks_per_bit
            )));
        }
        Ok(())
    }
}

/// Cycle counters of a [`SimDevice`], all since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Clock cycles simulated.
    pub cycles: u64,
    /// Cycles with a host byte on `uart_rx`.
    pub host_to_device_cycles: u64,
    /// Cycles with a device byte on `uart_tx`.
    pub device_to_host_cycles: u64,
    /// Cycles with either line carrying a byte.
    pub link_busy_cycles: u64,
    /// Device bytes whose stop bit was low.
    pub framing_errors: u64,
    /// Host bytes put on the line completely.
    pub bytes_to_device: u64,
    /// Device bytes received.
    pub bytes_from_device: u64,
}

impl LinkCounters {
    /// Cycles with both lines idle: the device decoding, executing or encoding (or waiting).
    pub fn link_idle_cycles(&self) -> u64 {
        self.cycles - self.link_busy_cycles
    }

    /// The counters accumulated since `earlier` (a snapshot of the same device).
    pub fn since(&self, earlier: &LinkCounters) -> LinkCounters {
        LinkCounters {
            cycles: self.cycles - earlier.cycles,
            host_to_device_cycles: self.host_to_device_cycles - earlier.host_to_device_cycles,
            device_to_host_cycles: self.device_to_host_cycles - earlier.device_to_host_cycles,
            link_busy_cycles: self.link_busy_cycles - earlier.link_busy_cycles,
            framing_errors: self.framing_errors - earlier.framing_errors,
            bytes_to_device: self.bytes_to_device - earlier.bytes_to_device,
            bytes_from_device: self.bytes_from_device - earlier.bytes_from_device,
        }
    }
}

/// A Verilated device top behind a simulated host UART.
///
/// Host bytes queued with [`SimDevice::send`] go onto `uart_rx` as 8N1 frames, back to back,
/// `clocks_per_bit` cycles per bit; `uart_tx` is sampled mid-bit and decoded into the bytes
/// the `run*` methods return. Nothing is simulated outside those calls, so simulated time
/// (`cycles()`) is independent of the host's speed. It is `Send`; one call at a time.
pub struct SimDevice {
    instance: DeviceInstance,
    options: DeviceSimOptions,
    shape: Option<(usize, usize)>,
}

impl std::fmt::Debug for SimDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDevice")
            .field("shape", &self.shape)
            .field("options", &self.options)
            .field("library", &self.instance.library().path())
            .field("counters", &self.counters())
            .finish()
    }
}

impl SimDevice {
    /// The `rows x cols` device top generated by qtrain-hdl (`device_top_verilog_sized`) for
    /// `options.geometry`.
    ///
    /// The first use of a shape (or of tracing) builds it, which takes a while; later uses,
    /// in any process, load it from the cache (see the crate documentation).
    ///
    /// # Errors
    /// [`SimError::DeviceOptions`] for rates the UART cannot run, [`SimError::ToolMissing`]
    /// without Verilator, make or a C++ compiler, [`SimError::DeviceHdl`] for an unsupported
    /// shape; build and load errors otherwise.
    pub fn new(rows: usize, cols: usize, options: DeviceSimOptions) -> Result<SimDevice, SimError> {
        options.check()?;
        Toolchain::find()?;
        let verilog = device_verilog(rows, cols, &options.geometry)?;
        let mut dev = SimDevice::from_verilog(&verilog, options)?;
        dev.shape = Some((rows, cols));
        Ok(dev)
    }

    /// The UART echo top (`qtrain_hdl::uart_echo_verilog`): every byte sent comes back.
    /// A bring-up tool, and the reference for the harness's own UART timing.
    pub fn echo(options: DeviceSimOptions) -> Result<SimDevice, SimError> {
        options.check()?;
        Toolchain::find()?;
        SimDevice::from_verilog(&qtrain_hdl::uart_echo_verilog(), options)
    }

    /// Simulates `verilog`, whose top module `top` has the ports `clock`, `uart_rx`,
    /// `uart_tx`, `clocks_per_bit` and optionally `clock_hz` and `baud` (set from `options`).
    pub fn from_verilog(verilog: &str, options: DeviceSimOptions) -> Result<SimDevice, SimError> {
        options.check()?;
        let trace = options.trace.as_deref();
        let lib_path = ensure_library(
            DEVICE_HARNESS_SOURCE,
            verilog,
            trace.map(TraceFormat::for_path),
        )?;
        let lib = DeviceLib::load(&lib_path)?;
        let instance = DeviceInstance::new(
            lib,
            trace,
            options.clocks_per_bit,
            options.clock_hz,
            options.baud(),
        )?;
        Ok(SimDevice {
            instance,
            options,
            shape: None,
        })
    }

    /// The options the device runs with.
    pub fn options(&self) -> &DeviceSimOptions {
        &self.options
    }

    /// `(rows, cols)` of the array, for a device built by [`SimDevice::new`].
    pub fn shape(&self) -> Option<(usize, usize)> {
        self.shape
    }

    /// The shared library this device runs in (inside the cache directory).
    pub fn library_path(&self) -> &Path {
        self.instance.library().path()
    }

    /// Queues `bytes` for the host's UART; they go on the line during the next `run*` calls.
    pub fn send(&mut self, bytes: &[u8]) {
        self.instance.send(bytes);
    }

    /// Host bytes not yet completely on the line.
    pub fn pending_host_bytes(&self) -> u64 {
        self.instance.pending()
    }

    /// Runs at most `max_cycles` cycles, stopping early once `stop_after_bytes` bytes came
    /// back; returns the bytes received.
    pub fn run(&mut self, max_cycles: u64, stop_after_bytes: usize) -> Vec<u8> {
        let mut out = vec![0u8; stop_after_bytes];
        let done = self.instance.run(max_cycles, &mut out, None, 0);
        out.truncate(done.bytes);
        out
    }

    /// Runs at most `max_cycles` cycles, receiving into `out`; stops early when `out` is
    /// full or right after `stop_byte` was received. Returns `(bytes received, cycles run)`.
    pub fn run_into(
        &mut self,
        max_cycles: u64,
        out: &mut [u8],
        stop_byte: Option<u8>,
    ) -> (usize, u64) {
        let done = self.instance.run(max_cycles, out, stop_byte, 0);
        (done.bytes, done.cycles)
    }

    /// Runs until every queued host byte is on the line and both lines then stayed idle for
    /// `quiet_cycles` (or `max_cycles` ran out); returns the bytes received.
    pub fn run_until_quiet(&mut self, max_cycles: u64, quiet_cycles: u64) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buf = vec![0u8; 1 << 14];
        let mut left = max_cycles;
        while left > 0 {
            let done = self.instance.run(left, &mut buf, None, quiet_cycles.max(1));
            all.extend_from_slice(&buf[..done.bytes]);
            left -= done.cycles;
            if done.bytes < buf.len() {
                break;
            }
        }
        all
    }

    /// Clock cycles simulated so far.
    pub fn cycles(&self) -> u64 {
        self.instance.counters()[0]
    }

    /// All cycle and byte counters.
    pub fn counters(&self) -> LinkCounters {
        let c = self.instance.counters();
        LinkCounters {
            cycles: c[0],
            host_to_device_cycles: c[1],
            device_to_host_cycles: c[2],
            link_busy_cycles: c[3],
            framing_errors: c[4],
            bytes_to_device: c[5],
            bytes_from_device: c[6],
        }
    }
}

/// qtrain-hdl's device top of a shape and geometry, generated once per process (elaboration
/// is slow and every [`SimDevice::new`] needs the text for its cache key).
fn device_verilog(
    rows: usize,
    cols: usize,
    geometry: &DeviceGeometry,
) -> Result<Arc<String>, SimError> {
    type Generated = HashMap<(usize, usize, DeviceGeometry), Arc<String>>;
    static GENERATED: Mutex<Option<Generated>> = Mutex::new(None);
    let mut map = GENERATED.lock().unwrap_or_else(|p| p.into_inner());
    let map = map.get_or_insert_with(HashMap::new);
    let key = (rows, cols, *geometry);
    if let Some(v) = map.get(&key) {
        return Ok(v.clone());
    }
    let verilog = qtrain_hdl::device_top_verilog_sized(rows, cols, geometry).map_err(|e| {
        SimError::DeviceHdl {
            rows,
            cols,
            reason: e.to_string(),
        }
    })?;
    let verilog = Arc::new(verilog);
    map.insert(key, verilog.clone());
    Ok(verilog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<SimDevice>();
    }

    #[test]
    fn options_below_the_uart_minimum_are_refused_before_building() {
        let slow = DeviceSimOptions {
            clocks_per_bit: 3,
            ..DeviceSimOptions::default()
        };
        let err = SimDevice::echo(slow).unwrap_err();
        assert!(err.to_string().contains("clocks_per_bit = 3"), "{err}");
        assert_eq!(DeviceSimOptions::default().baud(), 12_000_000);
    }

    #[test]
    fn counters_subtract_field_by_field() {
        let a = LinkCounters {
            cycles: 10,
            link_busy_cycles: 4,
            ..LinkCounters::default()
        };
        let b = LinkCounters {
            cycles: 25,
            link_busy_cycles: 9,
            bytes_to_device: 3,
            ..LinkCounters::default()
        };
        let d = b.since(&a);
        assert_eq!(
            (d.cycles, d.link_busy_cycles, d.bytes_to_device),
            (15, 5, 3)
        );
        assert_eq!(d.link_idle_cycles(), 10);
    }
}
