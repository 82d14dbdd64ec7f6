//! qtrain bitstream flows (yosys + nextpnr) for the iCEBreaker and the ULX3S.
//!
//! Not built yet: this crate is an empty shell until the bitstream issue lands.
//! Nothing here pretends to work.
