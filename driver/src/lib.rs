//! qtrain host driver, layered as openFPGALoader is: `transport` (USB bulk and control
//! transfers), `ftdi` (the FTDI UART bridge), `link` (framing, retries) and `device` (typed
//! commands), behind one `Accelerator` API.
//!
//! Built so far: the link's framing ([`link`]). The transport, FTDI, device commands and the
//! `Accelerator` API come with the board-and-link issue; nothing here pretends to them yet.

pub mod link;
