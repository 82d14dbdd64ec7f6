//! The lowest layer: USB bulk and control transfers behind the [`Transport`] trait.
//!
//! Two backends: [`rusb::RusbTransport`] talks to a real (or umockdev-emulated) device
//! through libusb, and [`memory::MemoryTransport`] runs an in-process peer device with
//! seeded fault injection so that the layers above can be tested against thousands of
//! faulted exchanges without hardware and without waiting for real timeouts.

pub mod faults;
pub mod ftdi_peer;
pub mod memory;
pub mod rusb;

use std::time::{Duration, Instant};

pub use faults::{FaultConfig, FaultInjector, FaultStats};
pub use ftdi_peer::{FtdiPeer, Loopback, UartDevice};
pub use memory::{MemoryTransport, Peer};
pub use rusb::RusbTransport;

/// The first eight bytes of a control transfer, minus the length (which the data gives).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ControlSetup {
    /// bmRequestType: direction, type and recipient (0x40 vendor out, 0xC0 vendor in).
    pub request_type: u8,
    /// bRequest.
    pub request: u8,
    /// wValue.
    pub value: u16,
    /// wIndex.
    pub index: u16,
}

/// Why a transfer failed. Each variant asks for a different reaction from the caller: a
/// timeout is retried, a stall needs [`Transport::clear_halt`], a missing device needs
/// the user, denied access needs a udev rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The transfer did not complete within its timeout. For an OUT transfer an unknown
    /// prefix of the data may have been sent.
    #[error("USB transfer timed out")]
    Timeout,
    /// The endpoint answered STALL (libusb's pipe error); it stays halted until cleared.
    #[error("USB endpoint 0x{endpoint:02x} stalled (pipe error)")]
    Stall {
        /// The endpoint address, 0 for the control endpoint.
        endpoint: u8,
    },
    /// The device is not there: never found, or unplugged while open.
    #[error("USB device not found or unplugged: {0}")]
    NoDevice(String),
    /// The OS refused to open or claim the device.
    #[error("access to USB device {device} denied; {hint}")]
    AccessDenied {
        /// Which device (VID:PID and bus/address when known).
        device: String,
        /// What the user can do about it.
        hint: String,
    },
    /// Anything else libusb or the peer reported.
    #[error("USB error: {0}")]
    Other(String),
}

/// A USB device as the layers above see it: bulk endpoints and the control endpoint.
///
/// Timeouts are per call. Implementations must not retry on their own: retrying is the
/// link layer's decision, made with knowledge of what the bytes mean.
pub trait Transport {
    /// Writes `data` to the bulk OUT `endpoint`; returns how many bytes were accepted.
    fn bulk_out(
        &mut self,
        endpoint: u8,
        data: &[u8],
        timeout: Duration,
    ) -> Result<usize, TransportError>;

    /// Reads from the bulk IN `endpoint` into `buf`; the transfer ends at the first short
    /// packet, so `buf` should be a multiple of [`Transport::max_packet_size`].
    fn bulk_in(
        &mut self,
        endpoint: u8,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError>;

    /// A control transfer from host to device carrying `data` (often empty).
    fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
        timeout: Duration,
    ) -> Result<usize, TransportError>;

    /// A control transfer from device to host; returns how many bytes landed in `buf`.
    fn control_in(
        &mut self,
        setup: ControlSetup,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError>;

    /// Clears a halted (stalled) endpoint.
    fn clear_halt(&mut self, endpoint: u8) -> Result<(), TransportError>;

    /// wMaxPacketSize of the bulk endpoints: 512 at high speed, 64 at full speed.
    fn max_packet_size(&self) -> usize;

    /// The clock deadlines are measured on. Real transports use the wall clock; the memory
    /// transport runs a virtual one so that simulated timeouts cost no real time.
    fn now(&self) -> Instant {
        Instant::now()
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn bulk_out(&mut self, ep: u8, data: &[u8], t: Duration) -> Result<usize, TransportError> {
        (**self).bulk_out(ep, data, t)
    }
    fn bulk_in(&mut self, ep: u8, buf: &mut [u8], t: Duration) -> Result<usize, TransportError> {
        (**self).bulk_in(ep, buf, t)
    }
    fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
        t: Duration,
    ) -> Result<usize, TransportError> {
        (**self).control_out(setup, data, t)
    }
    fn control_in(
        &mut self,
        setup: ControlSetup,
        buf: &mut [u8],
        t: Duration,
    ) -> Result<usize, TransportError> {
        (**self).control_in(setup, buf, t)
    }
    fn clear_halt(&mut self, endpoint: u8) -> Result<(), TransportError> {
        (**self).clear_halt(endpoint)
    }
    fn max_packet_size(&self) -> usize {
        (**self).max_packet_size()
    }
    fn now(&self) -> Instant {
        (**self).now()
    }
}
