//! `qtrain devices`, `qtrain ping` and `qtrain gemm` as a user runs them.

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

fn checksum_line(out: &str) -> String {
    out.lines()
        .find(|l| l.starts_with("C checksum"))
        .unwrap_or_else(|| panic!("no checksum line in:\n{out}"))
        .to_string()
}

const GEMM: [&str; 10] = [
    "--m", "7", "--k", "19", "--n", "9", "--fl", "14", "--seed", "5",
];

#[test]
fn board_gemm_checksum_equals_the_simulated_arrays() {
    let mut board_args = vec!["gemm", "--backend", "model", "--rounding", "stochastic"];
    board_args.extend(GEMM);
    let (code, model_out, err) = qtrain(&board_args);
    assert_eq!(code, 0, "{model_out}\n{err}");
    assert!(model_out.contains("bit-exact: yes"), "{model_out}");
    board_args[2] = "emulated";
    let (code, usb_out, err) = qtrain(&board_args);
    assert_eq!(code, 0, "{usb_out}\n{err}");
    assert_eq!(checksum_line(&model_out), checksum_line(&usb_out));

    if Command::new("verilator").arg("--version").output().is_err() {
        eprintln!("SKIPPED the comparison with `qtrain sim gemm`: Verilator is not installed");
        return;
    }
    let mut sim_args = vec!["sim", "gemm", "--array", "2x4", "--rounding", "stochastic"];
    sim_args.extend(GEMM);
    let (code, sim_out, err) = qtrain(&sim_args);
    assert_eq!(code, 0, "{sim_out}\n{err}");
    assert_eq!(checksum_line(&sim_out), checksum_line(&model_out));
}

#[test]
fn sim_board_gemm_checksum_equals_the_model_board() {
    if Command::new("verilator").arg("--version").output().is_err() {
        eprintln!("SKIPPED: Verilator is not installed");
        return;
    }
    let mut args = vec!["gemm", "--backend", "model", "--rounding", "stochastic"];
    args.extend(GEMM);
    let (code, model_out, err) = qtrain(&args);
    assert_eq!(code, 0, "{model_out}\n{err}");
    args[2] = "sim";
    args.extend(["--array", "2x2"]);
    let (code, sim_out, err) = qtrain(&args);
    assert_eq!(code, 0, "{sim_out}\n{err}");
    assert!(sim_out.contains("bit-exact: yes"), "{sim_out}");
    assert!(sim_out.contains("device cycles: "), "{sim_out}");
    assert_eq!(checksum_line(&sim_out), checksum_line(&model_out));
    let (code, out, err) = qtrain(&["ping", "--backend", "sim", "--array", "2x2"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("2x2 array") && out.contains("round trip"),
        "{out}"
    );
}

#[test]
fn missing_boards_are_explained() {
    let (code, out, err) = qtrain(&["devices"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.is_empty());
    let (code, out, err) = qtrain(&["ping", "--backend", "model"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("4x4 array") && out.contains("round trip"),
        "{out}"
    );
}
