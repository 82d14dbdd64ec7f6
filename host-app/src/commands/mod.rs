//! One module per top-level command.

pub mod board;
pub mod experiment;
pub mod gen;
pub mod program;
pub mod sim;
pub mod synth;
pub mod train;
pub mod train_methods;
