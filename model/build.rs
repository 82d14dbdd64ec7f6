//! Enables the AVX-512 VNNI GEMM kernel when the compiler is new enough to have the
//! AVX-512 intrinsics stable (Rust 1.89); older compilers build the AVX2 path only.

use std::process::Command;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(qtrain_avx512)");
    println!("cargo:rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| {
            v.split_whitespace()
                .nth(1)?
                .split('.')
                .nth(1)?
                .parse::<u32>()
                .ok()
        });
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo:rustc-cfg=qtrain_avx512");
    }
}
