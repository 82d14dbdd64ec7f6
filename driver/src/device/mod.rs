//! The device layer: the typed commands of docs/protocol.md §5 ([`commands`]) and a software
//! device that executes them ([`engine`]), the reference for the HDL command engine.

pub mod commands;
pub mod engine;
pub mod plug;
pub mod vector_ops;
pub mod wire;

pub use commands::{
    code, code_name, Capabilities, Command, DeviceStatus, GemmDescriptor, Tensor, UpdateDescriptor,
    VectorOp,
};
pub use engine::{DeviceEngine, EngineConfig};
pub use plug::EnginePlug;
pub use wire::StatusCode;
