//! The FTDI USB-to-UART bridge, driven directly over a [`Transport`] (no libftdi).
//!
//! An FTDI channel is configured with vendor control requests and moves UART bytes over a
//! pair of bulk endpoints. Every IN packet starts with two status bytes (modem status, line
//! status) that are not UART data; they are stripped per packet, since a transfer carries
//! several packets. See docs/driver.md for the request details.

pub mod baud;
pub mod list;

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

pub use baud::{best_divisor, BaudError, BaudSetting};
pub use list::{empty_list_hint, list_devices, Board, FtdiDevice, ListError};

use crate::transport::{ControlSetup, Transport, TransportError};

/// bmRequestType of a vendor request to the device.
pub const REQTYPE_OUT: u8 = 0x40;
/// bmRequestType of a vendor request from the device.
pub const REQTYPE_IN: u8 = 0xC0;

/// Reset or purge (wValue: [`RESET_SIO`], [`RESET_PURGE_RX`], [`RESET_PURGE_TX`]).
pub const SIO_RESET: u8 = 0x00;
/// Flow control (wIndex high byte: 0 = none).
pub const SIO_SET_FLOW_CTRL: u8 = 0x02;
/// Baud divisor (see [`baud`]).
pub const SIO_SET_BAUDRATE: u8 = 0x03;
/// Data bits, parity, stop bits, break.
pub const SIO_SET_DATA: u8 = 0x04;
/// Reads the two status bytes.
pub const SIO_POLL_MODEM_STATUS: u8 = 0x05;
/// Latency timer in ms: how long the chip holds a partial IN packet.
pub const SIO_SET_LATENCY: u8 = 0x09;
/// Reads the latency timer.
pub const SIO_GET_LATENCY: u8 = 0x0A;
/// Bit-bang / MPSSE mode (wValue = mode << 8 | pin mask).
pub const SIO_SET_BITMODE: u8 = 0x0B;

/// wValue of [`SIO_RESET`]: reset the channel.
pub const RESET_SIO: u16 = 0;
/// wValue of [`SIO_RESET`]: purge the chip's receive buffer.
pub const RESET_PURGE_RX: u16 = 1;
/// wValue of [`SIO_RESET`]: purge the chip's transmit buffer.
pub const RESET_PURGE_TX: u16 = 2;
/// wValue of [`SIO_SET_DATA`]: 8 data bits, no parity, 1 stop bit.
pub const LINE_8N1: u16 = 0x0008;
/// wValue of [`SIO_SET_BITMODE`]: plain UART.
pub const BITMODE_RESET: u16 = 0x0000;

/// Line-status bits in the second status byte of each IN packet.
pub mod line_status {
    /// Receive overrun: the chip's buffer was full and UART bytes were lost.
    pub const OVERRUN: u8 = 0x02;
    /// Parity error.
    pub const PARITY: u8 = 0x04;
    /// Framing error: a stop bit was not where it should be (noise, wrong baud).
    pub const FRAMING: u8 = 0x08;
    /// Break received.
    pub const BREAK: u8 = 0x10;
}

/// The FTDI chips on the supported boards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Chip {
    /// FT2232H: high speed, two channels, 12 MHz baud base (iCEBreaker).
    Ft2232h,
    /// FT231X: full speed, one channel, 3 MHz baud base (ULX3S).
    Ft231x,
}

impl Chip {
    /// The default USB VID:PID.
    pub fn vid_pid(self) -> (u16, u16) {
        match self {
            Chip::Ft2232h => (0x0403, 0x6010),
            Chip::Ft231x => (0x0403, 0x6015),
        }
    }

    /// The chip with this VID:PID, if supported.
    pub fn from_vid_pid(vid: u16, pid: u16) -> Option<Chip> {
        [Chip::Ft2232h, Chip::Ft231x]
            .into_iter()
            .find(|c| c.vid_pid() == (vid, pid))
    }

    /// Whether the chip has the 12 MHz baud base (bit 17 of the divisor).
    pub fn is_h_series(self) -> bool {
        matches!(self, Chip::Ft2232h)
    }

    /// Whether requests carry the channel in wIndex's low byte.
    pub fn is_multi_channel(self) -> bool {
        matches!(self, Chip::Ft2232h)
    }

    /// Bulk wMaxPacketSize: 512 at high speed, 64 at full speed.
    pub fn packet_size(self) -> usize {
        match self {
            Chip::Ft2232h => 512,
            Chip::Ft231x => 64,
        }
    }
}

impl fmt::Display for Chip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Chip::Ft2232h => "FT2232H",
            Chip::Ft231x => "FT231X",
        })
    }
}

/// A channel (interface) of the chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Channel A (interface 0).
    A,
    /// Channel B (interface 1).
    B,
}

impl Channel {
    /// The channel number requests carry in wIndex (A = 1, B = 2).
    pub fn index(self) -> u16 {
        match self {
            Channel::A => 1,
            Channel::B => 2,
        }
    }

    /// The USB interface number to claim.
    pub fn interface(self) -> u8 {
        match self {
            Channel::A => 0,
            Channel::B => 1,
        }
    }
}

/// The (IN, OUT) bulk endpoints of a channel.
pub fn endpoints(chip: Chip, channel: Channel) -> Result<(u8, u8), FtdiError> {
    match (chip, channel) {
        (_, Channel::A) => Ok((0x81, 0x02)),
        (Chip::Ft2232h, Channel::B) => Ok((0x83, 0x04)),
        (Chip::Ft231x, Channel::B) => Err(FtdiError::NoSuchChannel { chip, channel }),
    }
}

/// What can go wrong in the FTDI layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FtdiError {
    /// The USB transfer failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The baud is out of reach.
    #[error(transparent)]
    Baud(#[from] BaudError),
    /// The chip has no such channel.
    #[error("{chip} has no channel {channel:?}")]
    NoSuchChannel {
        /// The chip.
        chip: Chip,
        /// The channel asked for.
        channel: Channel,
    },
    /// The latency timer must be 1..=255 ms.
    #[error("latency timer {0} ms is outside 1..=255")]
    InvalidLatency(u8),
    /// Fewer bytes arrived than asked for before the deadline.
    #[error("UART read timed out with {got} of {wanted} bytes")]
    ReadTimeout {
        /// Bytes received (they are in the caller's buffer).
        got: usize,
        /// Bytes asked for.
        wanted: usize,
    },
    /// The chip did not take all the bytes before the deadline.
    #[error("UART write timed out after {written} of {wanted} bytes")]
    WriteTimeout {
        /// Bytes the chip accepted.
        written: usize,
        /// Bytes to write.
        wanted: usize,
    },
}

/// UART settings for [`Ftdi::open`]. The frame format is always 8N1, without flow control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UartConfig {
    /// The baud to run at (within 3 % of one the chip can make).
    pub baud: u32,
    /// The latency timer: the longest the chip holds a partial packet before sending it.
    /// Stop-and-wait exchanges pay it once per response, hence the 1 ms default.
    pub latency_ms: u8,
    /// Timeout of each control request.
    pub control_timeout: Duration,
}

impl UartConfig {
    /// `baud` with a 1 ms latency timer and 1 s control timeouts.
    pub fn new(baud: u32) -> UartConfig {
        UartConfig {
            baud,
            latency_ms: 1,
            control_timeout: Duration::from_secs(1),
        }
    }
}

/// Line errors and packet counts seen in the IN status bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineStats {
    /// Packets that reported a receive overrun.
    pub overrun: u64,
    /// Packets that reported a parity error.
    pub parity: u64,
    /// Packets that reported a framing error.
    pub framing: u64,
    /// Packets that reported a break.
    pub breaks: u64,
    /// IN packets seen.
    pub packets: u64,
    /// IN packets that carried no data.
    pub empty_packets: u64,
}

/// Splits a bulk IN transfer into its packets, appends their UART payload to `out` and
/// counts the status bytes in `stats`. Only the last packet may be short; a packet of
/// under two bytes is not FTDI framing and is discarded.
pub fn strip_status(raw: &[u8], packet_size: usize, out: &mut VecDeque<u8>, stats: &mut LineStats) {
    for packet in raw.chunks(packet_size) {
        if packet.len() < 2 {
            continue;
        }
        let line = packet[1];
        stats.packets += 1;
        stats.overrun += u64::from(line & line_status::OVERRUN != 0);
        stats.parity += u64::from(line & line_status::PARITY != 0);
        stats.framing += u64::from(line & line_status::FRAMING != 0);
        stats.breaks += u64::from(line & line_status::BREAK != 0);
        if packet.len() == 2 {
            stats.empty_packets += 1;
        }
        out.extend(&packet[2..]);
    }
}

/// IN transfers ask for this many packets at once.
const PACKETS_PER_READ: usize = 16;
/// OUT transfers carry at most this many bytes.
const WRITE_CHUNK: usize = 16 * 1024;

/// One open FTDI UART channel.
pub struct Ftdi<T: Transport> {
    transport: Option<T>,
    chip: Chip,
    channel: Channel,
    ep_in: u8,
    ep_out: u8,
    packet_size: usize,
    baud: BaudSetting,
    control_timeout: Duration,
    stats: LineStats,
    pending: VecDeque<u8>,
    scratch: Vec<u8>,
}

impl<T: Transport> Ftdi<T> {
    /// Configures `channel` of `chip` behind `transport`: reset, purge both buffers, no
    /// flow control, the baud divisor, 8N1, the latency timer, plain UART mode.
    pub fn open(
        transport: T,
        chip: Chip,
        channel: Channel,
        config: &UartConfig,
    ) -> Result<Ftdi<T>, FtdiError> {
        let (ep_in, ep_out) = endpoints(chip, channel)?;
        if config.latency_ms == 0 {
            return Err(FtdiError::InvalidLatency(config.latency_ms));
        }
        let baud = best_divisor(chip, config.baud)?;
        let packet_size = transport.max_packet_size();
        let mut ftdi = Ftdi {
            transport: Some(transport),
            chip,
            channel,
            ep_in,
            ep_out,
            packet_size,
            baud,
            control_timeout: config.control_timeout,
            stats: LineStats::default(),
            pending: VecDeque::new(),
            scratch: vec![0; packet_size * PACKETS_PER_READ],
        };
        let ch = channel.index();
        ftdi.request(SIO_RESET, RESET_SIO, ch)?;
        ftdi.request(SIO_RESET, RESET_PURGE_RX, ch)?;
        ftdi.request(SIO_RESET, RESET_PURGE_TX, ch)?;
        ftdi.request(SIO_SET_FLOW_CTRL, 0, ch)?;
        let (value, index) = baud.request_words(chip, ch);
        ftdi.request(SIO_SET_BAUDRATE, value, index)?;
        ftdi.request(SIO_SET_DATA, LINE_8N1, ch)?;
        ftdi.request(SIO_SET_LATENCY, u16::from(config.latency_ms), ch)?;
        ftdi.request(SIO_SET_BITMODE, BITMODE_RESET, ch)?;
        Ok(ftdi)
    }

    fn t(&mut self) -> &mut T {
        self.transport
            .as_mut()
            .expect("the transport is only taken by close, which consumes the Ftdi")
    }

    fn request(&mut self, request: u8, value: u16, index: u16) -> Result<(), FtdiError> {
        let setup = ControlSetup {
            request_type: REQTYPE_OUT,
            request,
            value,
            index,
        };
        let timeout = self.control_timeout;
        self.t().control_out(setup, &[], timeout)?;
        Ok(())
    }

    /// The chip.
    pub fn chip(&self) -> Chip {
        self.chip
    }

    /// The channel.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The divisor in use, with the achieved baud and its error.
    pub fn baud(&self) -> BaudSetting {
        self.baud
    }

    /// Line errors and packet counts so far.
    pub fn line_stats(&self) -> LineStats {
        self.stats
    }

    /// The transport underneath (to clear a halt, or to script a memory peer).
    pub fn transport(&mut self) -> &mut T {
        self.t()
    }

    /// Reads the latency timer back from the chip.
    pub fn latency_ms(&mut self) -> Result<u8, FtdiError> {
        let setup = ControlSetup {
            request_type: REQTYPE_IN,
            request: SIO_GET_LATENCY,
            value: 0,
            index: self.channel.index(),
        };
        let mut buf = [0u8; 1];
        let timeout = self.control_timeout;
        let n = self.t().control_in(setup, &mut buf, timeout)?;
        if n != 1 {
            return Err(TransportError::Other(format!("latency read returned {n} bytes")).into());
        }
        Ok(buf[0])
    }

    /// Discards everything buffered in both directions, in the chip and here.
    pub fn purge(&mut self) -> Result<(), FtdiError> {
        let ch = self.channel.index();
        self.request(SIO_RESET, RESET_PURGE_RX, ch)?;
        self.request(SIO_RESET, RESET_PURGE_TX, ch)?;
        self.pending.clear();
        Ok(())
    }

    /// Sends all of `data`, or fails with how much the chip took.
    pub fn write_all(&mut self, data: &[u8], timeout: Duration) -> Result<(), FtdiError> {
        let deadline = self.t().now() + timeout;
        let mut written = 0;
        while written < data.len() {
            let now = self.t().now();
            if now >= deadline && written > 0 {
                return Err(FtdiError::WriteTimeout {
                    written,
                    wanted: data.len(),
                });
            }
            let end = data.len().min(written + WRITE_CHUNK);
            let ep = self.ep_out;
            let remaining = deadline.saturating_duration_since(now);
            match self.t().bulk_out(ep, &data[written..end], remaining) {
                Ok(n) => written += n,
                Err(TransportError::Timeout) => {
                    return Err(FtdiError::WriteTimeout {
                        written,
                        wanted: data.len(),
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Reads whatever UART bytes arrive first, waiting up to `timeout` for at least one;
    /// returns 0 if none came.
    pub fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, FtdiError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let deadline = self.t().now() + timeout;
        loop {
            if !self.pending.is_empty() {
                let n = buf.len().min(self.pending.len());
                for (dst, src) in buf.iter_mut().zip(self.pending.drain(..n)) {
                    *dst = src;
                }
                return Ok(n);
            }
            let remaining = deadline.saturating_duration_since(self.t().now());
            let ep = self.ep_in;
            let mut scratch = std::mem::take(&mut self.scratch);
            let got = self.t().bulk_in(ep, &mut scratch, remaining);
            let result = match got {
                Ok(n) => {
                    strip_status(
                        &scratch[..n],
                        self.packet_size,
                        &mut self.pending,
                        &mut self.stats,
                    );
                    Ok(())
                }
                // The chip sends status packets even when idle, so a USB timeout is rare;
                // the deadline check below turns it into "nothing arrived".
                Err(TransportError::Timeout) => Ok(()),
                Err(e) => Err(e),
            };
            self.scratch = scratch;
            result?;
            if self.pending.is_empty() && self.t().now() >= deadline {
                return Ok(0);
            }
        }
    }

    /// Fills `buf` completely, or fails with how much arrived before `timeout`.
    pub fn read_exact(&mut self, buf: &mut [u8], timeout: Duration) -> Result<(), FtdiError> {
        let deadline = self.t().now() + timeout;
        let mut got = 0;
        while got < buf.len() {
            let remaining = deadline.saturating_duration_since(self.t().now());
            let n = self.read(&mut buf[got..], remaining)?;
            if n == 0 {
                return Err(FtdiError::ReadTimeout {
                    got,
                    wanted: buf.len(),
                });
            }
            got += n;
        }
        Ok(())
    }

    /// Puts the chip back in plain UART mode and hands back the transport.
    pub fn close(mut self) -> Result<T, FtdiError> {
        let ch = self.channel.index();
        let reset = self.request(SIO_SET_BITMODE, BITMODE_RESET, ch);
        let transport = self
            .transport
            .take()
            .expect("the transport is present until close");
        reset.map(|_| transport)
    }
}

impl<T: Transport> Drop for Ftdi<T> {
    fn drop(&mut self) {
        if self.transport.is_some() {
            // Best effort, as in close; the device may be gone.
            let _ = self.request(SIO_SET_BITMODE, BITMODE_RESET, self.channel.index());
        }
    }
}

#[cfg(test)]
#[path = "ftdi/tests.rs"]
mod tests;
