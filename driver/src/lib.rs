//! qtrain host driver: transport, FTDI, link framing and device commands behind one
//! `Accelerator` API.
//!
//! Not built yet: this crate is an empty shell until the board-and-link issue lands.
//! Nothing here pretends to work.
