//! qtrain host driver, layered as openFPGALoader is: `transport` (USB bulk and control
//! transfers), `ftdi` (the FTDI UART bridge), `link` (framing, retries) and `device` (typed
//! commands), behind one [`accelerator::Accelerator`] API.
//!
//! - [`transport`]: the `Transport` trait, a libusb backend and an in-memory backend with
//!   seeded fault injection and an emulated FTDI chip.
//! - [`ftdi`]: the FTDI UART bridge over a transport.
//! - [`link`]: COBS/CRC framing and the retrying stop-and-wait session of docs/protocol.md §2.
//! - [`device`]: the typed commands of protocol.md §5 and [`device::DeviceEngine`], the device
//!   side in software (the reference for the HDL command engine), with a UART plug for it.
//! - [`accelerator`]: `ModelBoard` (the engine in process) and `UsbBoard` (a board over USB).
//! - [`sim_board`]: `SimBoard`, the Verilated device top (UART, framing, command engine,
//!   GEMM array) behind the same link session as a USB board, cycle-accurate in simulated time.

pub mod accelerator;
pub mod device;
pub mod ftdi;
pub mod link;
pub mod sim_board;
pub mod transport;

pub use sim_board::{engine_config, SimBoard, SimBoardError, SimCounters, SimLinkConfig};
