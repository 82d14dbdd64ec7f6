//! Shared helpers for the cross-level test benches.
