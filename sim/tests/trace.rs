//! Waveform tracing: `SimOptions::trace` writes a VCD that GTKWave can open (or an FST).
//!
//! The smallest core keeps the two extra (tracing) Verilator builds short.

use std::path::PathBuf;

use qtrain_model::{GemmParams, Matrix, Rounding};
use qtrain_sim::{SimCore, SimError, SimOptions};

/// The core, or `None` (with a message) when Verilator is missing outside CI.
fn core_or_skip(rows: usize, cols: usize, options: SimOptions) -> Option<SimCore> {
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"));
    match SimCore::new(rows, cols, options) {
        Ok(core) => Some(core),
        Err(SimError::ToolMissing(msg)) if !ci => {
            eprintln!("SKIPPED (Verilator test without Verilator): {msg}");
            None
        }
        Err(e) => panic!("cannot simulate the {rows}x{cols} core: {e}"),
    }
}

/// A fresh file path in a directory of its own.
fn scratch_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qtrain-sim-trace-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn vcd_trace_records_every_cycle() {
    let path = scratch_file("core.vcd");
    let options = SimOptions {
        trace: Some(path.clone()),
    };
    let Some(mut core) = core_or_skip(1, 1, options) else {
        return;
    };
    let a = Matrix::from_fn(3, 5, |i, j| (i as i16 - 1) * 1000 + j as i16);
    let b = Matrix::from_fn(5, 6, |i, j| (i * 6 + j) as i16 - 15);
    let p = GemmParams::from_seed(11, 4, 4, 4, Rounding::Stochastic);
    let out = core.gemm(&a, false, &b, false, &p).unwrap();
    assert_eq!(
        out.c,
        qtrain_model::gemm(&a, false, &b, false, None, &p).unwrap()
    );
    let cycles = core.cycles();
    drop(core); // closes the file

    let vcd = std::fs::read_to_string(&path).unwrap();
    assert!(
        vcd.starts_with("$version"),
        "not a VCD: {:?}",
        &vcd[..vcd.len().min(80)]
    );
    assert!(vcd.contains("$enddefinitions"));
    for port in ["clock", "start", "busy", "wr_data", "rd_data"] {
        assert!(
            vcd.lines()
                .any(|l| l.trim_start().starts_with("$var")
                    && l.split_whitespace().nth(4) == Some(port)),
            "port {port} is not traced"
        );
    }
    // Two samples per cycle (both clock edges) after the initial one.
    let stamps = vcd.lines().filter(|l| l.starts_with('#')).count() as u64;
    assert!(
        stamps >= 2 * cycles,
        "{stamps} timestamps for {cycles} cycles"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn fst_trace_is_written_for_fst_paths() {
    let path = scratch_file("core.fst");
    let options = SimOptions {
        trace: Some(path.clone()),
    };
    let Some(mut core) = core_or_skip(1, 1, options) else {
        return;
    };
    let a = Matrix::from_fn(2, 2, |i, j| (i + j) as i16);
    let p = GemmParams::from_seed(1, 0, 0, 0, Rounding::Truncate);
    core.gemm(&a, false, &a, false, &p).unwrap();
    drop(core);
    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.is_empty());
    // FST is binary and starts with its header block (type 0), not with VCD text.
    assert_eq!(bytes[0], 0, "not an FST header");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
