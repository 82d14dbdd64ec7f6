//! The `qtrain` binary as a user runs it.

use std::process::Command;

fn qtrain(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_qtrain"))
        .args(args)
        .output()
        .expect("the qtrain binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn verilator_present() -> bool {
    let present = Command::new("verilator").arg("--version").output().is_ok();
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"));
    assert!(
        present || !ci,
        "Verilator is missing in CI: scripts/install-tools should have installed it"
    );
    if !present {
        eprintln!("SKIPPED: Verilator is not installed (apt-get install verilator)");
    }
    present
}

#[test]
fn sim_gemm_is_bit_exact_and_reports_cycles() {
    if !verilator_present() {
        return;
    }
    let (code, out, err) = qtrain(&[
        "sim",
        "gemm",
        "--array",
        "2x4",
        "--m",
        "7",
        "--k",
        "19",
        "--n",
        "9",
        "--fl-a",
        "12",
        "--fl-b",
        "13",
        "--fl-c",
        "10",
        "--rounding",
        "stochastic",
        "--seed",
        "5",
        "--dist",
        "uniform",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("shift 15"), "{out}");
    assert!(out.lines().any(|l| l == "bit-exact: yes"), "{out}");
    let cycles = out
        .lines()
        .find(|l| l.starts_with("cycles: "))
        .expect("a cycles line");
    let computing: u64 = cycles["cycles: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(computing > 19, "{cycles}");
    assert!(out.contains("M cycles/s"), "{out}");
}

#[test]
fn sim_gemm_reads_operand_files_and_writes_c() {
    if !verilator_present() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("qtrain-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A is stored transposed (K x M = 3 x 2); B is K x N = 3 x 2. FL 0 and truncation make
    // C the plain integer product, worked out by hand.
    std::fs::write(dir.join("a.txt"), "1,4\n2,5\n3,6\n").unwrap();
    std::fs::write(dir.join("b.txt"), "7 8\n9 10\n11 12\n").unwrap();
    let c = dir.join("c.txt");
    let (code, out, err) = qtrain(&[
        "sim",
        "gemm",
        "--array",
        "2x2",
        "--fl",
        "0",
        "--rounding",
        "truncate",
        "--trans-a",
        "--a",
        dir.join("a.txt").to_str().unwrap(),
        "--b",
        dir.join("b.txt").to_str().unwrap(),
        "--c-out",
        c.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("GEMM 2x3x2"), "{out}");
    assert_eq!(std::fs::read_to_string(&c).unwrap(), "58,64\n139,154\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_arguments_get_clear_errors() {
    let (code, _, err) = qtrain(&["sim", "gemm", "--array", "5x5"]);
    assert_ne!(code, 0);
    assert!(err.contains("supported shapes"), "{err}");
    let (code, _, err) = qtrain(&["sim", "gemm", "--array", "2x2", "--fl", "16"]);
    assert_ne!(code, 0);
    assert!(err.to_lowercase().contains("fl"), "{err}");
    let (code, _, err) = qtrain(&["sim", "gemm", "--a", "/nonexistent/a.txt"]);
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/a.txt"), "{err}");
}

#[test]
fn gen_verilog_writes_the_core() {
    let path = std::env::temp_dir().join(format!("qtrain-gen-{}.v", std::process::id()));
    let (code, _, err) = qtrain(&[
        "gen",
        "verilog",
        "--array",
        "2x2",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let verilog = std::fs::read_to_string(&path).unwrap();
    assert!(verilog.contains("module top"), "no top module");
    for port in ["clock", "start", "row_state", "rd_data"] {
        assert!(verilog.contains(port), "port {port} missing");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn gen_verilog_writes_the_device() {
    let path = std::env::temp_dir().join(format!("qtrain-gen-dev-{}.v", std::process::id()));
    let (code, _, err) = qtrain(&[
        "gen",
        "verilog",
        "--array",
        "2x2",
        "--top",
        "device",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("2x2 device"), "{err}");
    let verilog = std::fs::read_to_string(&path).unwrap();
    assert!(verilog.contains("module top"), "no top module");
    for port in ["uart_rx", "uart_tx", "clocks_per_bit", "clock_hz", "baud"] {
        assert!(verilog.contains(port), "port {port} missing");
    }
    std::fs::remove_file(&path).unwrap();
    let (code, _, err) = qtrain(&[
        "gen", "verilog", "--array", "7x7", "--top", "device", "-o", "-",
    ]);
    assert_ne!(code, 0, "an unsupported shape must fail");
    assert!(err.contains("7x7") || err.contains("7 x 7"), "{err}");
}
