//! qtrain gateware (see docs/architecture.md).
