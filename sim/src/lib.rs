//! Verilator simulation of the GEMM core.
