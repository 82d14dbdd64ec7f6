//! qtrain host driver, layered as openFPGALoader is: `transport` (USB bulk and control
//! transfers), `ftdi` (the FTDI UART bridge), `link` (framing, retries) and `device` (typed
//! commands), behind one `Accelerator` API.
//!
//! Built so far: [`transport`] (the `Transport` trait, a libusb backend and an in-memory
//! backend with seeded fault injection), [`ftdi`] (the FTDI UART bridge over a transport)
//! and the link's framing ([`link`]). The link's retry layer, the device commands and the
//! `Accelerator` API come with the board-and-link issue; nothing here pretends to them yet.

pub mod ftdi;
pub mod link;
pub mod transport;
