//! One module per top-level command.

pub mod gen;
pub mod sim;
