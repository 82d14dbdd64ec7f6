//! An emulated FTDI UART bridge, as a [`Peer`] for the memory transport.
//!
//! It answers the vendor control requests the `ftdi` layer sends (and logs them so tests
//! can check the open sequence), frames every IN packet with the two status bytes as the
//! chip does, and hands the UART payload to a [`UartDevice`] on the far side of the line.

use std::collections::VecDeque;
use std::time::Duration;

use super::faults::FaultInjector;
use super::memory::Peer;
use super::{ControlSetup, TransportError};
use crate::ftdi::{self, Channel, Chip};

/// What sits on the far side of the emulated UART (a device model, or a loopback plug).
pub trait UartDevice {
    /// Bytes the host sent, in order, after line faults.
    fn receive(&mut self, bytes: &[u8]);
    /// Up to `max` bytes the device sends towards the host.
    fn transmit(&mut self, max: usize) -> Vec<u8>;
}

/// A loopback plug: every byte received is sent back.
#[derive(Clone, Debug, Default)]
pub struct Loopback {
    pending: VecDeque<u8>,
}

impl UartDevice for Loopback {
    fn receive(&mut self, bytes: &[u8]) {
        self.pending.extend(bytes);
    }
    fn transmit(&mut self, max: usize) -> Vec<u8> {
        let n = max.min(self.pending.len());
        self.pending.drain(..n).collect()
    }
}

/// Modem status byte: CTS and DSR asserted, as a bridge with nothing attached reports.
const MODEM_STATUS: u8 = 0x31;
/// Line status byte with no error: transmitter holding and shift registers empty.
const LINE_IDLE: u8 = 0x60;

/// An emulated FTDI chip with one UART channel wired to `D`.
pub struct FtdiPeer<D: UartDevice> {
    chip: Chip,
    channel: Channel,
    device: D,
    /// Bytes received from the UART, waiting for the host's next IN transfer.
    rx_fifo: VecDeque<u8>,
    control_log: Vec<(ControlSetup, Vec<u8>)>,
    latency_ms: u8,
    line_errors: u8,
    baud: Option<u32>,
}

impl<D: UartDevice> FtdiPeer<D> {
    /// An emulated `chip` whose `channel` is wired to `device`.
    pub fn new(chip: Chip, channel: Channel, device: D) -> FtdiPeer<D> {
        FtdiPeer {
            chip,
            channel,
            device,
            rx_fifo: VecDeque::new(),
            control_log: Vec::new(),
            latency_ms: 16,
            line_errors: 0,
            baud: None,
        }
    }

    /// Every control transfer received so far, with its OUT data.
    pub fn control_log(&self) -> &[(ControlSetup, Vec<u8>)] {
        &self.control_log
    }

    /// The device on the far side of the UART.
    pub fn device(&mut self) -> &mut D {
        &mut self.device
    }

    /// Sets line-status error bits (0x02 overrun, 0x04 parity, 0x08 framing, 0x10 break)
    /// to report in the next IN packet, as the chip reports an error once.
    pub fn inject_line_errors(&mut self, bits: u8) {
        self.line_errors |= bits;
    }

    /// The latency timer last set by the host, in ms.
    pub fn latency_ms(&self) -> u8 {
        self.latency_ms
    }

    /// The baud the host's last divisor request programs, decoded as the chip would.
    pub fn baud(&self) -> Option<u32> {
        self.baud
    }

    fn check_index(&self, setup: ControlSetup) -> Result<(), TransportError> {
        if setup.index & 0xFF != self.channel.index() {
            return Err(TransportError::Stall { endpoint: 0 });
        }
        Ok(())
    }
}

impl<D: UartDevice> Peer for FtdiPeer<D> {
    fn control_out(&mut self, setup: ControlSetup, data: &[u8]) -> Result<(), TransportError> {
        self.control_log.push((setup, data.to_vec()));
        if setup.request_type != ftdi::REQTYPE_OUT {
            return Err(TransportError::Stall { endpoint: 0 });
        }
        // A single-channel chip takes divisor bits in wIndex, not a channel number.
        let baud_on_single =
            setup.request == ftdi::SIO_SET_BAUDRATE && !self.chip.is_multi_channel();
        if !baud_on_single {
            self.check_index(setup)?;
        }
        match setup.request {
            ftdi::SIO_RESET => match setup.value {
                ftdi::RESET_SIO => self.rx_fifo.clear(),
                ftdi::RESET_PURGE_RX => self.rx_fifo.clear(),
                // The emulated TX path delivers immediately, so there is nothing to purge.
                ftdi::RESET_PURGE_TX => {}
                _ => return Err(TransportError::Stall { endpoint: 0 }),
            },
            ftdi::SIO_SET_LATENCY => {
                if setup.value == 0 || setup.value > 255 {
                    return Err(TransportError::Stall { endpoint: 0 });
                }
                self.latency_ms = setup.value as u8;
            }
            ftdi::SIO_SET_BAUDRATE => {
                let high = if self.chip.is_multi_channel() {
                    u32::from(setup.index >> 8)
                } else {
                    u32::from(setup.index)
                };
                let encoded = (high << 16) | u32::from(setup.value);
                self.baud = Some(ftdi::baud::decode(self.chip, encoded));
            }
            ftdi::SIO_SET_FLOW_CTRL | ftdi::SIO_SET_DATA | ftdi::SIO_SET_BITMODE => {}
            _ => return Err(TransportError::Stall { endpoint: 0 }),
        }
        Ok(())
    }

    fn control_in(&mut self, setup: ControlSetup, len: usize) -> Result<Vec<u8>, TransportError> {
        self.control_log.push((setup, Vec::new()));
        if setup.request_type != ftdi::REQTYPE_IN {
            return Err(TransportError::Stall { endpoint: 0 });
        }
        self.check_index(setup)?;
        let mut reply = match setup.request {
            ftdi::SIO_GET_LATENCY => vec![self.latency_ms],
            ftdi::SIO_POLL_MODEM_STATUS => vec![MODEM_STATUS, LINE_IDLE],
            _ => return Err(TransportError::Stall { endpoint: 0 }),
        };
        reply.truncate(len);
        Ok(reply)
    }

    fn bulk_out(&mut self, endpoint: u8, data: Vec<u8>) -> Result<(), TransportError> {
        let (_, out_ep) = ftdi::endpoints(self.chip, self.channel)
            .map_err(|e| TransportError::Other(e.to_string()))?;
        if endpoint != out_ep {
            return Err(TransportError::Other(format!(
                "no OUT endpoint 0x{endpoint:02x}"
            )));
        }
        self.device.receive(&data);
        Ok(())
    }

    fn bulk_in(
        &mut self,
        endpoint: u8,
        max_len: usize,
        faults: &mut FaultInjector,
    ) -> Result<Vec<u8>, TransportError> {
        let (in_ep, _) = ftdi::endpoints(self.chip, self.channel)
            .map_err(|e| TransportError::Other(e.to_string()))?;
        if endpoint != in_ep {
            return Err(TransportError::Other(format!(
                "no IN endpoint 0x{endpoint:02x}"
            )));
        }
        let packet = self.chip.packet_size();
        if max_len < packet || !max_len.is_multiple_of(packet) {
            // libusb reports LIBUSB_ERROR_OVERFLOW when a full packet meets a short buffer.
            return Err(TransportError::Other(format!(
                "IN buffer of {max_len} bytes is not a multiple of the {packet}-byte packet"
            )));
        }
        let room = max_len / packet * (packet - 2);
        let want = room.saturating_sub(self.rx_fifo.len());
        let fresh = self.device.transmit(want);
        self.rx_fifo.extend(fresh);
        let n = room.min(self.rx_fifo.len());
        let mut payload: Vec<u8> = self.rx_fifo.drain(..n).collect();
        faults.mangle(&mut payload);
        // A duplicated byte can overfill the transfer: the excess waits for the next one.
        while payload.len() > room {
            let last = payload.pop().expect("payload is longer than room >= 0");
            self.rx_fifo.push_front(last);
        }

        let mut out = Vec::with_capacity(max_len);
        let mut rest = &payload[..];
        loop {
            let k = rest.len().min(packet - 2);
            out.push(MODEM_STATUS);
            out.push(LINE_IDLE | std::mem::take(&mut self.line_errors));
            out.extend_from_slice(&rest[..k]);
            rest = &rest[k..];
            // A short packet ends the transfer, as does a full buffer.
            if k < packet - 2 || out.len() + packet > max_len {
                break;
            }
        }
        Ok(out)
    }

    fn max_packet_size(&self) -> usize {
        self.chip.packet_size()
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.latency_ms))
    }
}
