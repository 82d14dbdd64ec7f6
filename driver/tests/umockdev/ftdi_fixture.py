#!/usr/bin/python3
"""An emulated FT2232H behind umockdev, with a loopback plug on its UART.

Run under umockdev-wrapper (which LD_PRELOADs libumockdev-preload):

    umockdev-wrapper /usr/bin/python3 ftdi_fixture.py --log LOG -- COMMAND [ARGS...]

The script builds a umockdev testbed holding one USB device 0403:6010 (bus 1, address 2,
serial QT0001) and answers the usbfs ioctls libusb sends to /dev/bus/usb/001/002, then runs
COMMAND, which inherits the testbed, and exits with its status. The emulation:

- vendor control requests of an FTDI chip (reset/purge, flow control, baud divisor, line
  settings, latency timer, bitmode), logged with the baud decoded independently of the
  Rust code under test;
- bulk OUT on 0x02/0x04 fills a loopback buffer; bulk IN on 0x81/0x83 answers with
  512-byte packets, each starting with the two status bytes (modem 0x31, line 0x60), ending
  with a short packet as the chip does;
- ftdi_sio bound to both interfaces until detached (USBDEVFS_IOCTL DISCONNECT), so that the
  driver's detach / reattach path runs;
- fault modes set by a test-only vendor request 0xF0 (wValue: 0 normal, 1 hold IN URBs so
  they time out and are discarded, 2 stall the next bulk OUT with EPIPE, 3 unplug: every
  later ioctl fails with ENODEV, while URBs already completed or killed can still be reaped).

Each notable event is appended to the log file, one per line, for the test to check.
"""

import errno
import os
import struct
import subprocess
import sys
import threading
import traceback

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

VID, PID = 0x0403, 0x6010
BUS, ADDR = 1, 2
SERIAL = "QT0001"
DEVNODE = "/dev/bus/usb/%03d/%03d" % (BUS, ADDR)
PACKET = 512
MODEM_STATUS, LINE_IDLE = 0x31, 0x60
TEST_REQUEST = 0xF0

# ioctl numbers, from the _IOC encoding of asm-generic/ioctl.h.
_IOC_WRITE, _IOC_READ = 1, 2


def _ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (ord("U") << 8) | nr


URB_SIZE = 56  # struct usbdevfs_urb on LP64, without iso descriptors
PTR = struct.calcsize("P")
USBDEVFS_GETDRIVER = _ioc(_IOC_WRITE, 8, 4 + 256)
USBDEVFS_SUBMITURB = _ioc(_IOC_READ, 10, URB_SIZE)
USBDEVFS_DISCARDURB = _ioc(0, 11, 0)
USBDEVFS_REAPURB = _ioc(_IOC_WRITE, 12, PTR)
USBDEVFS_REAPURBNDELAY = _ioc(_IOC_WRITE, 13, PTR)
USBDEVFS_CLAIMINTERFACE = _ioc(_IOC_READ, 15, 4)
USBDEVFS_RELEASEINTERFACE = _ioc(_IOC_READ, 16, 4)
USBDEVFS_IOCTL = _ioc(_IOC_READ | _IOC_WRITE, 18, 8 + PTR)
USBDEVFS_RESET = _ioc(0, 20, 0)
USBDEVFS_CLEAR_HALT = _ioc(_IOC_READ, 21, 4)
USBDEVFS_DISCONNECT = _ioc(0, 22, 0)
USBDEVFS_CONNECT = _ioc(0, 23, 0)
USBDEVFS_GET_CAPABILITIES = _ioc(_IOC_READ, 26, 4)

URB_TYPE_CONTROL, URB_TYPE_BULK = 2, 3
CAP_ZERO_PACKET, CAP_BULK_CONTINUATION, CAP_NO_PACKET_SIZE_LIM = 0x01, 0x02, 0x04
CAP_REAP_AFTER_DISCONNECT = 0x10
CAPABILITIES = (
    CAP_ZERO_PACKET | CAP_BULK_CONTINUATION | CAP_NO_PACKET_SIZE_LIM | CAP_REAP_AFTER_DISCONNECT
)

# The FTDI fraction codes, indexed by code, giving eighths.
CODE_TO_EIGHTHS = {0: 0, 1: 4, 2: 2, 3: 1, 4: 3, 5: 5, 6: 6, 7: 7}


def descriptors():
    """Device descriptor plus configuration 1: two vendor interfaces, two bulk EPs each."""
    dev = struct.pack("<BBHBBBBHHHBBBB", 18, 1, 0x0200, 0, 0, 0, 64, VID, PID, 0x0700, 1, 2, 3, 1)
    body = b""
    for iface, (ep_in, ep_out) in enumerate([(0x81, 0x02), (0x83, 0x04)]):
        body += struct.pack("<BBBBBBBBB", 9, 4, iface, 0, 2, 0xFF, 0xFF, 0xFF, 2)
        body += struct.pack("<BBBBHB", 7, 5, ep_in, 2, PACKET, 0)
        body += struct.pack("<BBBBHB", 7, 5, ep_out, 2, PACKET, 0)
    cfg = struct.pack("<BBHBBBBB", 9, 2, 9 + len(body), 2, 1, 0, 0x80, 250) + body
    return dev + cfg


def decode_baud(value, index):
    """The baud an FT2232H divisor request programs (written from the datasheet rules)."""
    encoded = value | ((index >> 8) << 16)
    base = 12_000_000 if encoded & (1 << 17) else 3_000_000
    integer = encoded & 0x3FFF
    code = (encoded >> 14) & 7
    if encoded & 0x1FFFF == 0:
        eighths = 8
    elif encoded & 0x1FFFF == 1:
        eighths = 12
    else:
        eighths = integer * 8 + CODE_TO_EIGHTHS[code]
    return (8 * base + eighths // 2) // eighths


class Fixture:
    def __init__(self, log_path):
        self.lock = threading.Lock()
        self.log_file = open(log_path, "a", buffering=1)
        self.loopback = bytearray()
        self.completed = []  # (urb, buf, status, actual, data), in completion order
        self.held = []  # IN urbs held back in timeout mode
        self.discarded = []
        self.mode = 0
        self.unplugged = False
        self.halted = set()
        self.driver = {0: "ftdi_sio", 1: "ftdi_sio"}
        self.claimed = set()
        self.latency = 16  # the chip's power-on latency timer, ms

    def log(self, line):
        self.log_file.write(line + "\n")

    # -- the ioctl entry point -------------------------------------------------------

    def handle(self, _handler, client):
        with self.lock:
            try:
                self.dispatch(client, client.get_request())
            except Exception:  # a bug here must show, not hang the client
                traceback.print_exc()
                self.log("fixture-error")
                client.complete(-1, errno.EIO)
        return True

    def dispatch(self, client, req):
        arg = client.get_arg()
        # After an unplug, URBs that completed (or died with the device) can still be
        # reaped, as the kernel allows with USBDEVFS_CAP_REAP_AFTER_DISCONNECT; without
        # that libusb would wait forever for a transfer it cannot cancel.
        if self.unplugged and req not in (USBDEVFS_REAPURB, USBDEVFS_REAPURBNDELAY):
            client.complete(-1, errno.ENODEV)
            return
        if req == USBDEVFS_GET_CAPABILITIES:
            d = arg.resolve(0, 4)
            d.update(0, struct.pack("<I", CAPABILITIES))
            client.complete(0, 0)
        elif req == USBDEVFS_GETDRIVER:
            d = arg.resolve(0, 4 + 256)
            iface = struct.unpack_from("<I", bytes(d.retrieve()))[0]
            name = self.driver.get(iface)
            if name is None:
                client.complete(-1, errno.ENODATA)
            else:
                d.update(4, name.encode() + b"\0")
                client.complete(0, 0)
        elif req == USBDEVFS_IOCTL:
            d = arg.resolve(0, 8 + PTR)
            iface, code = struct.unpack_from("<ii", bytes(d.retrieve()))
            if code == USBDEVFS_DISCONNECT:
                if self.driver.pop(iface, None) is None:
                    client.complete(-1, errno.ENODATA)
                    return
                self.log("detach %d" % iface)
            elif code == USBDEVFS_CONNECT:
                if iface in self.claimed:
                    client.complete(-1, errno.EBUSY)
                    return
                self.driver[iface] = "ftdi_sio"
                self.log("attach %d" % iface)
            else:
                client.complete(-1, errno.ENOTTY)
                return
            client.complete(0, 0)
        elif req in (USBDEVFS_CLAIMINTERFACE, USBDEVFS_RELEASEINTERFACE):
            d = arg.resolve(0, 4)
            iface = struct.unpack("<I", bytes(d.retrieve()))[0]
            if req == USBDEVFS_CLAIMINTERFACE:
                if iface in self.driver:
                    client.complete(-1, errno.EBUSY)  # the kernel driver still holds it
                    return
                self.claimed.add(iface)
                self.log("claim %d" % iface)
            else:
                self.claimed.discard(iface)
                self.log("release %d" % iface)
            client.complete(0, 0)
        elif req == USBDEVFS_CLEAR_HALT:
            d = arg.resolve(0, 4)
            ep = struct.unpack("<I", bytes(d.retrieve()))[0]
            self.halted.discard(ep)
            self.log("clear-halt 0x%02x" % ep)
            client.complete(0, 0)
        elif req == USBDEVFS_RESET:
            client.complete(0, 0)
        elif req == USBDEVFS_SUBMITURB:
            self.submit(client, arg)
        elif req == USBDEVFS_DISCARDURB:
            addr = struct.unpack("<Q", bytes(arg.retrieve())[:8])[0]
            for i, (urb, buf, ep) in enumerate(self.held):
                if urb.client_addr == addr:
                    del self.held[i]
                    self.discarded.append((urb, buf, -errno.ENOENT, 0, b""))
                    self.log("discard 0x%02x" % ep)
                    client.complete(0, 0)
                    return
            client.complete(-1, errno.EINVAL)  # already completed
        elif req in (USBDEVFS_REAPURB, USBDEVFS_REAPURBNDELAY):
            self.reap(client, arg)
        else:
            client.complete(-1, errno.ENOTTY)

    # -- URBs ------------------------------------------------------------------------

    def submit(self, client, arg):
        urb = arg.resolve(0, URB_SIZE)
        raw = bytes(urb.retrieve())
        kind, ep = raw[0], raw[1]
        length = struct.unpack_from("<i", raw, 16 + PTR)[0]
        buf = urb.resolve(16, length) if length > 0 else None
        if kind == URB_TYPE_CONTROL:
            status, data = self.control(bytes(buf.retrieve()))
            self.completed.append((urb, buf, status, len(data), data))
        elif kind == URB_TYPE_BULK and ep & 0x80 == 0:
            if ep not in (0x02, 0x04):
                client.complete(-1, errno.ENOENT)
                return
            if self.mode == 2 or ep in self.halted:
                self.mode = 0
                self.halted.add(ep)
                self.log("stall 0x%02x" % ep)
                self.completed.append((urb, buf, -errno.EPIPE, 0, b""))
            else:
                payload = bytes(buf.retrieve()) if buf else b""
                self.loopback += payload
                self.completed.append((urb, buf, 0, len(payload), b""))
        elif kind == URB_TYPE_BULK:
            if ep not in (0x81, 0x83):
                client.complete(-1, errno.ENOENT)
                return
            if self.mode == 1:
                self.held.append((urb, buf, ep))
            else:
                data = self.in_packets(length)
                self.completed.append((urb, buf, 0, len(data), data))
        else:
            client.complete(-1, errno.EINVAL)
            return
        client.complete(0, 0)

    def reap(self, client, arg):
        if self.unplugged and not (self.discarded or self.completed):
            client.complete(-1, errno.ENODEV)
            return
        queue = self.discarded if self.discarded else self.completed
        if not queue:
            client.complete(-1, errno.EAGAIN)
            return
        urb, buf, status, actual, data = queue.pop(0)
        urb.update(4, struct.pack("<i", status))
        urb.update(16 + PTR + 4, struct.pack("<i", actual))
        if data:
            # Control IN data follows the 8-byte setup packet in the buffer.
            offset = 8 if bytes(urb.retrieve())[0] == URB_TYPE_CONTROL else 0
            buf.update(offset, data)
        d = arg.resolve(0, PTR)
        d.set_ptr(0, urb)
        client.complete(0, 0)

    def in_packets(self, max_len):
        """What the chip sends for one IN transfer: full packets while data lasts, then a
        short one (a status-only packet when there is nothing to send)."""
        out = bytearray()
        while True:
            chunk = self.loopback[: PACKET - 2]
            del self.loopback[: len(chunk)]
            out += bytes([MODEM_STATUS, LINE_IDLE]) + chunk
            if len(chunk) < PACKET - 2 or len(out) + PACKET > max_len:
                return bytes(out)

    def control(self, setup_and_data):
        rtype, req, value, index, length = struct.unpack_from("<BBHHH", setup_and_data)
        if rtype == 0x40 and req == TEST_REQUEST:
            self.mode = value
            self.log("mode %d" % value)
            if value == 3:
                self.unplugged = True
                # The kernel kills every pending URB of a vanished device with ESHUTDOWN.
                for urb, buf, _ep in self.held:
                    self.completed.append((urb, buf, -errno.ESHUTDOWN, 0, b""))
                self.held.clear()
                self.log("unplug")
            return 0, b""
        if rtype == 0x40:
            channel = index & 0xFF
            if channel not in (1, 2):
                return -errno.EPIPE, b""
            if req == 0x00:
                if value in (0, 1):
                    self.loopback.clear()
                self.log("reset %d ch %d" % (value, channel))
            elif req == 0x02:
                self.log("flow 0x%04x ch %d" % (index >> 8, channel))
            elif req == 0x03:
                self.log("baud %d ch %d" % (decode_baud(value, index), channel))
            elif req == 0x04:
                self.log("line 0x%04x ch %d" % (value, channel))
            elif req == 0x09:
                self.latency = value
                self.log("latency %d ch %d" % (value, channel))
            elif req == 0x0B:
                self.log("bitmode 0x%04x ch %d" % (value, channel))
            else:
                return -errno.EPIPE, b""
            return 0, b""
        if rtype == 0xC0 and req == 0x0A:
            return 0, bytes([self.latency])[:length]
        if rtype == 0x80 and req == 6:  # GET_DESCRIPTOR
            return 0, self.string_descriptor(value, length)
        return -errno.EPIPE, b""

    def string_descriptor(self, value, length):
        kind, idx = value >> 8, value & 0xFF
        if kind != 3:
            return b""
        if idx == 0:
            desc = bytes([4, 3, 0x09, 0x04])  # English (US)
        else:
            text = {1: "FTDI", 2: "Dual RS232-HS", 3: SERIAL}.get(idx, "")
            enc = text.encode("utf-16-le")
            desc = bytes([2 + len(enc), 3]) + enc
        return desc[:length]


def main():
    argv = sys.argv[1:]
    if "--" not in argv or argv[0] != "--log":
        sys.exit("usage: ftdi_fixture.py --log LOG -- COMMAND [ARGS...]")
    log_path = argv[1]
    command = argv[argv.index("--") + 1 :]

    # UMockdev.in_mock_environment() judges by the inode of /sys, which some sandboxes
    # make look mocked or not regardless; the preload library is what matters.
    if "umockdev-preload" not in os.environ.get("LD_PRELOAD", ""):
        sys.exit("ftdi_fixture.py must run under umockdev-wrapper")

    testbed = UMockdev.Testbed.new()
    # add_from_string, unlike add_device, also creates the /dev node libusb opens.
    desc = descriptors().hex().upper()
    attrs = {
        "busnum": BUS,
        "devnum": ADDR,
        "dev": "189:%d" % (ADDR - 1),
        "idVendor": "%04x" % VID,
        "idProduct": "%04x" % PID,
        "bcdDevice": "0700",
        "speed": 480,
        "bConfigurationValue": 1,
        "bNumConfigurations": 1,
        "bNumInterfaces": " 2",
        "bMaxPacketSize0": 64,
        "serial": SERIAL,
        "manufacturer": "FTDI",
        "product": "Dual RS232-HS",
        "devpath": 1,
        "maxchild": 0,
    }
    props = {
        "DEVNAME": DEVNODE,
        "DEVTYPE": "usb_device",
        "DRIVER": "usb",
        "PRODUCT": "%x/%x/700" % (VID, PID),
        "TYPE": "0/0/0",
        "BUSNUM": "%03d" % BUS,
        "DEVNUM": "%03d" % ADDR,
        "MAJOR": 189,
        "MINOR": ADDR - 1,
        "SUBSYSTEM": "usb",
    }
    text = "P: /devices/pci0000:00/0000:00:14.0/usb1/1-1\n"
    text += "N: %s=%s\n" % (DEVNODE[len("/dev/"):], desc)
    text += "".join("E: %s=%s\n" % kv for kv in props.items())
    text += "".join("A: %s=%s\n" % kv for kv in attrs.items())
    text += "H: descriptors=%s\n" % desc
    testbed.add_from_string(text)
    syspath = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1"

    fixture = Fixture(log_path)
    handler = UMockdev.IoctlBase()
    handler.connect("handle-ioctl", fixture.handle)
    testbed.attach_ioctl(DEVNODE, handler)
    fixture.log("ready %s" % syspath)

    # The child inherits LD_PRELOAD and UMOCKDEV_DIR, so it sees the testbed; the ioctl
    # handler runs on umockdev's worker thread while this one waits.
    status = subprocess.call(command)
    fixture.log("exit %d" % status)
    sys.exit(status)


if __name__ == "__main__":
    main()
