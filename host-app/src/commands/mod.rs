//! One module per top-level command.

pub mod board;
pub mod gen;
pub mod sim;
pub mod train;
pub mod train_methods;
