//! The libusb backend (through the `rusb` crate, linked against the system libusb so that
//! umockdev's LD_PRELOAD emulation reaches it).

use std::time::Duration;

use ::rusb::{DeviceHandle, GlobalContext, UsbContext};

use super::{ControlSetup, Transport, TransportError};

/// Where to put the udev rule that lets non-root users open FTDI bridges.
pub const UDEV_RULE_PATH: &str = "/etc/udev/rules.d/53-qtrain-ftdi.rules";
/// A udev rule that opens every FTDI (VID 0403) device to all users.
pub const UDEV_RULE: &str = r#"SUBSYSTEM=="usb", ATTRS{idVendor}=="0403", MODE="0666""#;

/// How to fix "access denied", for error messages.
pub fn udev_hint() -> String {
    format!(
        "as root, write the line\n    {UDEV_RULE}\ninto {UDEV_RULE_PATH}, run \
         `udevadm control --reload-rules && udevadm trigger`, then unplug and replug the board"
    )
}

/// Maps a libusb error to the transport's, naming the device and endpoint involved.
pub(crate) fn map_error(e: ::rusb::Error, device: &str, endpoint: u8) -> TransportError {
    match e {
        ::rusb::Error::Timeout => TransportError::Timeout,
        ::rusb::Error::Pipe => TransportError::Stall { endpoint },
        ::rusb::Error::NoDevice | ::rusb::Error::NotFound => {
            TransportError::NoDevice(format!("{device}: {e}"))
        }
        ::rusb::Error::Access => TransportError::AccessDenied {
            device: device.to_string(),
            hint: udev_hint(),
        },
        other => TransportError::Other(format!("{device}: {other}")),
    }
}

/// libusb treats a zero timeout as "wait forever"; a deadline that has run out must not.
fn libusb_timeout(t: Duration) -> Duration {
    t.max(Duration::from_millis(1))
}

/// One claimed interface of a USB device.
///
/// Opening detaches a kernel driver bound to the interface (ftdi_sio, for FTDI bridges) and
/// claims it; dropping releases it and gives it back to the kernel driver.
pub struct RusbTransport {
    handle: DeviceHandle<GlobalContext>,
    interface: u8,
    reattach: bool,
    max_packet: usize,
    name: String,
}

impl RusbTransport {
    /// Opens the first device with this VID:PID (and serial number, when given) and claims
    /// `interface`.
    pub fn open(
        vid: u16,
        pid: u16,
        serial: Option<&str>,
        interface: u8,
    ) -> Result<RusbTransport, TransportError> {
        let wanted = format!("{vid:04x}:{pid:04x}");
        let list = ::rusb::GlobalContext::default()
            .devices()
            .map_err(|e| map_error(e, &wanted, 0))?;
        let mut denied = None;
        for device in list.iter() {
            let Ok(desc) = device.device_descriptor() else {
                continue;
            };
            if desc.vendor_id() != vid || desc.product_id() != pid {
                continue;
            }
            let name = format!(
                "{wanted} (bus {:03} address {:03})",
                device.bus_number(),
                device.address()
            );
            let handle = match device.open() {
                Ok(h) => h,
                Err(e) => {
                    // Keep looking: another board with the same VID:PID may be openable.
                    denied = Some(map_error(e, &name, 0));
                    continue;
                }
            };
            if let Some(want) = serial {
                let got = handle.read_serial_number_string_ascii(&desc).ok();
                if got.as_deref() != Some(want) {
                    continue;
                }
            }
            let max_packet = bulk_packet_size(&device, interface).unwrap_or(64);
            return RusbTransport::claim(handle, interface, max_packet, name);
        }
        Err(denied.unwrap_or_else(|| {
            TransportError::NoDevice(match serial {
                Some(s) => format!("no USB device {wanted} with serial {s:?}"),
                None => format!("no USB device {wanted}"),
            })
        }))
    }

    fn claim(
        handle: DeviceHandle<GlobalContext>,
        interface: u8,
        max_packet: usize,
        name: String,
    ) -> Result<RusbTransport, TransportError> {
        // Platforms without kernel drivers answer NotSupported: nothing to detach there.
        let active = handle.kernel_driver_active(interface).unwrap_or(false);
        if active {
            handle
                .detach_kernel_driver(interface)
                .map_err(|e| map_error(e, &name, 0))?;
        }
        if let Err(e) = handle.claim_interface(interface) {
            if active {
                let _ = handle.attach_kernel_driver(interface);
            }
            return Err(map_error(e, &name, 0));
        }
        Ok(RusbTransport {
            handle,
            interface,
            reattach: active,
            max_packet,
            name,
        })
    }

    /// "VID:PID (bus B address A)", for messages.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// wMaxPacketSize of the first bulk endpoint of `interface` in the active configuration.
fn bulk_packet_size(device: &::rusb::Device<GlobalContext>, interface: u8) -> Option<usize> {
    let config = device.active_config_descriptor().ok()?;
    let iface = config.interfaces().find(|i| i.number() == interface)?;
    let alt = iface.descriptors().next()?;
    let ep = alt
        .endpoint_descriptors()
        .find(|e| e.transfer_type() == ::rusb::TransferType::Bulk)?;
    Some(usize::from(ep.max_packet_size() & 0x7FF))
}

impl Transport for RusbTransport {
    fn bulk_out(
        &mut self,
        endpoint: u8,
        data: &[u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        self.handle
            .write_bulk(endpoint, data, libusb_timeout(timeout))
            .map_err(|e| map_error(e, &self.name, endpoint))
    }

    fn bulk_in(
        &mut self,
        endpoint: u8,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        self.handle
            .read_bulk(endpoint, buf, libusb_timeout(timeout))
            .map_err(|e| map_error(e, &self.name, endpoint))
    }

    fn control_out(
        &mut self,
        s: ControlSetup,
        data: &[u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        self.handle
            .write_control(
                s.request_type,
                s.request,
                s.value,
                s.index,
                data,
                libusb_timeout(timeout),
            )
            .map_err(|e| map_error(e, &self.name, 0))
    }

    fn control_in(
        &mut self,
        s: ControlSetup,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        self.handle
            .read_control(
                s.request_type,
                s.request,
                s.value,
                s.index,
                buf,
                libusb_timeout(timeout),
            )
            .map_err(|e| map_error(e, &self.name, 0))
    }

    fn clear_halt(&mut self, endpoint: u8) -> Result<(), TransportError> {
        self.handle
            .clear_halt(endpoint)
            .map_err(|e| map_error(e, &self.name, endpoint))
    }

    fn max_packet_size(&self) -> usize {
        self.max_packet
    }
}

impl Drop for RusbTransport {
    fn drop(&mut self) {
        // Best effort: after an unplug both calls fail, and there is nobody to tell.
        let _ = self.handle.release_interface(self.interface);
        if self.reattach {
            let _ = self.handle.attach_kernel_driver(self.interface);
        }
    }
}
