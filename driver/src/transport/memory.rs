//! An in-process transport: a [`Peer`] plays the device, a [`FaultInjector`] plays the
//! hostile world between them, and a virtual clock makes timeouts free.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::faults::{FaultInjector, TransferFault};
use super::{ControlSetup, Transport, TransportError};

/// The device side of a [`MemoryTransport`].
pub trait Peer {
    /// Handles a host-to-device control transfer.
    fn control_out(&mut self, setup: ControlSetup, data: &[u8]) -> Result<(), TransportError>;

    /// Handles a device-to-host control transfer of at most `len` bytes.
    fn control_in(&mut self, setup: ControlSetup, len: usize) -> Result<Vec<u8>, TransportError>;

    /// Receives a bulk OUT transfer (already passed through the byte faults).
    fn bulk_out(&mut self, endpoint: u8, data: Vec<u8>) -> Result<(), TransportError>;

    /// Produces a bulk IN transfer of at most `max_len` bytes. A peer that frames its
    /// payload (as FTDI does with status bytes) applies `faults.mangle` to the payload
    /// alone, before framing it.
    fn bulk_in(
        &mut self,
        endpoint: u8,
        max_len: usize,
        faults: &mut FaultInjector,
    ) -> Result<Vec<u8>, TransportError>;

    /// wMaxPacketSize of the bulk endpoints.
    fn max_packet_size(&self) -> usize;

    /// Virtual time one bulk IN transfer takes (for FTDI: the latency timer).
    fn poll_interval(&self) -> Duration {
        Duration::from_millis(1)
    }
}

/// A [`Transport`] whose device is a [`Peer`] in the same process.
///
/// Transfer faults (stall, timeout, unplug) hit bulk transfers only: control transfers
/// configure the bridge once at open, and faulting them would only test that open fails.
/// An unplug, injected or requested with [`MemoryTransport::unplug`], fails every later
/// call, control transfers included.
pub struct MemoryTransport<P: Peer> {
    peer: P,
    faults: FaultInjector,
    halted: HashSet<u8>,
    unplugged: bool,
    epoch: Instant,
    elapsed: Duration,
}

impl<P: Peer> MemoryTransport<P> {
    /// Connects `peer` through `faults`.
    pub fn new(peer: P, faults: FaultInjector) -> MemoryTransport<P> {
        MemoryTransport {
            peer,
            faults,
            halted: HashSet::new(),
            unplugged: false,
            epoch: Instant::now(),
            elapsed: Duration::ZERO,
        }
    }

    /// The device behind the transport.
    pub fn peer(&self) -> &P {
        &self.peer
    }

    /// The device behind the transport, mutably (to script it between transfers).
    pub fn peer_mut(&mut self) -> &mut P {
        &mut self.peer
    }

    /// The fault injector (for its statistics, or to change its probabilities).
    pub fn faults(&mut self) -> &mut FaultInjector {
        &mut self.faults
    }

    /// Unplugs the device now.
    pub fn unplug(&mut self) {
        self.unplugged = true;
    }

    /// Plugs the device back in, with all endpoints un-halted.
    pub fn replug(&mut self) {
        self.unplugged = false;
        self.halted.clear();
    }

    /// Virtual time spent so far (simulated timeouts and poll intervals).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    fn check_present(&self) -> Result<(), TransportError> {
        if self.unplugged {
            Err(TransportError::NoDevice("memory peer unplugged".into()))
        } else {
            Ok(())
        }
    }

    fn bulk_preamble(&mut self, endpoint: u8, timeout: Duration) -> Result<(), TransportError> {
        self.check_present()?;
        if self.halted.contains(&endpoint) {
            return Err(TransportError::Stall { endpoint });
        }
        match self.faults.transfer_fault() {
            None => Ok(()),
            Some(TransferFault::Unplug) => {
                self.unplugged = true;
                self.check_present()
            }
            Some(TransferFault::Stall) => {
                self.halted.insert(endpoint);
                Err(TransportError::Stall { endpoint })
            }
            Some(TransferFault::Timeout) => {
                self.elapsed += timeout;
                Err(TransportError::Timeout)
            }
        }
    }
}

impl<P: Peer> Transport for MemoryTransport<P> {
    fn bulk_out(
        &mut self,
        endpoint: u8,
        data: &[u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        self.bulk_preamble(endpoint, timeout)?;
        let mut wire = data.to_vec();
        self.faults.mangle(&mut wire);
        self.peer.bulk_out(endpoint, wire)?;
        // The host saw its whole buffer accepted: line faults are invisible to it.
        Ok(data.len())
    }

    fn bulk_in(
        &mut self,
        endpoint: u8,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        self.bulk_preamble(endpoint, timeout)?;
        let data = self.peer.bulk_in(endpoint, buf.len(), &mut self.faults)?;
        if data.len() > buf.len() {
            return Err(TransportError::Other(format!(
                "peer overflowed a {}-byte buffer with {} bytes",
                buf.len(),
                data.len()
            )));
        }
        self.elapsed += self.peer.poll_interval().min(timeout);
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }

    fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
        _timeout: Duration,
    ) -> Result<usize, TransportError> {
        self.check_present()?;
        self.peer.control_out(setup, data)?;
        Ok(data.len())
    }

    fn control_in(
        &mut self,
        setup: ControlSetup,
        buf: &mut [u8],
        _timeout: Duration,
    ) -> Result<usize, TransportError> {
        self.check_present()?;
        let data = self.peer.control_in(setup, buf.len())?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }

    fn clear_halt(&mut self, endpoint: u8) -> Result<(), TransportError> {
        self.check_present()?;
        self.halted.remove(&endpoint);
        Ok(())
    }

    fn max_packet_size(&self) -> usize {
        self.peer.max_packet_size()
    }

    fn now(&self) -> Instant {
        self.epoch + self.elapsed
    }
}
