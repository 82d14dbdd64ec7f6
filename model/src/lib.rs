//! Bit-exact reference model (see docs/numerics.md).
