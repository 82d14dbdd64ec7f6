//! Finding the boards: every attached FTDI bridge of a supported kind.

use std::fmt;

use rusb::UsbContext;

use super::{Channel, Chip};
use crate::transport::rusb::{udev_hint, UDEV_RULE, UDEV_RULE_PATH};

/// The boards the driver knows, by their bridge chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Board {
    /// iCEBreaker (iCE40UP5K): FT2232H, UART on channel B.
    IceBreaker,
    /// ULX3S (ECP5): FT231X, single channel.
    Ulx3s,
}

impl Board {
    /// The board whose bridge has this VID:PID.
    pub fn from_vid_pid(vid: u16, pid: u16) -> Option<Board> {
        match Chip::from_vid_pid(vid, pid)? {
            Chip::Ft2232h => Some(Board::IceBreaker),
            Chip::Ft231x => Some(Board::Ulx3s),
        }
    }

    /// The bridge chip.
    pub fn chip(self) -> Chip {
        match self {
            Board::IceBreaker => Chip::Ft2232h,
            Board::Ulx3s => Chip::Ft231x,
        }
    }

    /// The channel wired to the FPGA's UART (channel A of the FT2232H programs the flash).
    pub fn uart_channel(self) -> Channel {
        match self {
            Board::IceBreaker => Channel::B,
            Board::Ulx3s => Channel::A,
        }
    }

    /// The highest baud the bridge reaches.
    pub fn max_baud(self) -> u32 {
        match self {
            Board::IceBreaker => 12_000_000,
            Board::Ulx3s => 3_000_000,
        }
    }
}

impl fmt::Display for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Board::IceBreaker => "iCEBreaker",
            Board::Ulx3s => "ULX3S",
        })
    }
}

/// One attached board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FtdiDevice {
    /// USB vendor ID.
    pub vid: u16,
    /// USB product ID.
    pub pid: u16,
    /// USB bus number.
    pub bus: u8,
    /// USB device address on the bus.
    pub address: u8,
    /// The serial number, when the device could be opened to read it.
    pub serial: Option<String>,
    /// Why the serial number could not be read (usually permissions).
    pub serial_error: Option<String>,
    /// Which board this bridge belongs to.
    pub board: Board,
}

impl fmt::Display for FtdiDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:04x}:{:04x} bus {:03} address {:03}",
            self.board, self.vid, self.pid, self.bus, self.address
        )?;
        match (&self.serial, &self.serial_error) {
            (Some(s), _) => write!(f, " serial {s}"),
            (None, Some(e)) => write!(f, " (serial unreadable: {e})"),
            (None, None) => Ok(()),
        }
    }
}

/// USB enumeration failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot enumerate USB devices: {reason}\n{hint}")]
pub struct ListError {
    /// What libusb said.
    pub reason: String,
    /// What to do about it.
    pub hint: String,
}

/// Every attached iCEBreaker or ULX3S bridge, in bus order.
///
/// Enumeration itself needs only read access to /dev/bus/usb (or sysfs); reading a serial
/// number needs the device opened, which a missing udev rule forbids, so that failure is
/// reported per device rather than failing the whole list.
pub fn list_devices() -> Result<Vec<FtdiDevice>, ListError> {
    let context = rusb::Context::new().map_err(enumeration_error)?;
    let devices = context.devices().map_err(enumeration_error)?;
    let mut found = Vec::new();
    for device in devices.iter() {
        let Ok(desc) = device.device_descriptor() else {
            continue;
        };
        let Some(board) = Board::from_vid_pid(desc.vendor_id(), desc.product_id()) else {
            continue;
        };
        let (serial, serial_error) = match device.open() {
            Ok(handle) => match handle.read_serial_number_string_ascii(&desc) {
                Ok(s) => (Some(s), None),
                Err(e) => (None, Some(e.to_string())),
            },
            Err(rusb::Error::Access) => (
                None,
                Some(format!(
                    "access denied; add the udev rule {UDEV_RULE} to {UDEV_RULE_PATH}"
                )),
            ),
            Err(e) => (None, Some(e.to_string())),
        };
        found.push(FtdiDevice {
            vid: desc.vendor_id(),
            pid: desc.product_id(),
            bus: device.bus_number(),
            address: device.address(),
            serial,
            serial_error,
            board,
        });
    }
    found.sort_by_key(|d| (d.bus, d.address));
    Ok(found)
}

/// Why an empty [`list_devices`] result may be wrong rather than "no board plugged in":
/// on Linux, a missing /dev/bus/usb (typical in containers) hides every device.
pub fn empty_list_hint() -> Option<String> {
    let usbfs = std::path::Path::new("/dev/bus/usb");
    (cfg!(target_os = "linux") && !usbfs.exists()).then(|| {
        "/dev/bus/usb does not exist, so no USB device can be opened here; in a container, \
         pass it in (e.g. `docker run --device /dev/bus/usb ...`)"
            .to_string()
    })
}

fn enumeration_error(e: rusb::Error) -> ListError {
    let hint = match e {
        rusb::Error::Access => udev_hint(),
        rusb::Error::NotFound | rusb::Error::NoDevice | rusb::Error::Io | rusb::Error::Other => {
            format!(
                "libusb found no usable USB subsystem: check that /dev/bus/usb exists (in a \
                 container, pass it in, e.g. `--device /dev/bus/usb`) and is readable; if it \
                 is there but not readable, {}",
                udev_hint()
            )
        }
        _ => udev_hint(),
    };
    ListError {
        reason: e.to_string(),
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boards_map_to_their_bridges() {
        assert_eq!(Board::from_vid_pid(0x0403, 0x6010), Some(Board::IceBreaker));
        assert_eq!(Board::from_vid_pid(0x0403, 0x6015), Some(Board::Ulx3s));
        assert_eq!(Board::from_vid_pid(0x0403, 0x6001), None);
        assert_eq!(Board::IceBreaker.uart_channel(), Channel::B);
        assert_eq!(Board::Ulx3s.chip(), Chip::Ft231x);
    }

    #[test]
    fn access_error_explains_the_udev_rule() {
        let e = enumeration_error(rusb::Error::Access);
        let text = e.to_string();
        assert!(text.contains(r#"ATTRS{idVendor}=="0403""#), "{text}");
        assert!(text.contains(UDEV_RULE_PATH), "{text}");
    }
}
