//! `verilator --lint-only -Wall` on the generated Verilog of the blocks and of every supported
//! core shape. Skipped (reported on stderr) when verilator is not on PATH.

use qtrain_hdl::column_convert::ColumnConvert;
use qtrain_hdl::convert::Convert;
use qtrain_hdl::lfsr::Lfsr;
use rust_hdl::prelude::*;
use std::path::PathBuf;
use std::process::Command;

fn verilator_available() -> bool {
    Command::new("verilator").arg("--version").output().is_ok()
}

/// Lints `verilog` (top module `top`) and returns verilator's complaints, if any.
fn lint(name: &str, verilog: &str) -> Option<String> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("lint-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    // The file is named after its top module so that DECLFILENAME has nothing to say.
    let file = dir.join("top.v");
    std::fs::write(&file, verilog).unwrap();
    let config = dir.join("waivers.vlt");
    std::fs::write(&config, qtrain_hdl::VERILATOR_LINT_CONFIG).unwrap();
    let out = Command::new("verilator")
        .args(["--lint-only", "-Wall", "--top-module", "top"])
        .arg(&config)
        .arg(&file)
        .output()
        .expect("run verilator");
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    if out.status.success() && !text.contains("%Warning") && !text.contains("%Error") {
        None
    } else {
        Some(text)
    }
}

fn assert_clean(name: &str, verilog: &str) {
    if let Some(report) = lint(name, verilog) {
        panic!("verilator -Wall complains about {name}:\n{report}");
    }
}

#[test]
fn blocks_lint_clean() {
    if !verilator_available() {
        eprintln!("SKIPPED: verilator not on PATH");
        return;
    }
    let mut convert = Convert::default();
    convert.connect_all();
    assert_clean("convert", &generate_verilog(&convert));
    let mut head = ColumnConvert::default();
    head.connect_all();
    assert_clean("column_convert", &generate_verilog(&head));
    let mut lfsr = Lfsr::new(qtrain_model::LFSR_A_MASK);
    lfsr.connect_all();
    assert_clean("lfsr", &generate_verilog(&lfsr));
    let mut array = qtrain_hdl::array::Array::<2, 3>::default();
    array.connect_all();
    assert_clean("array", &generate_verilog(&array));
    let mut drain = qtrain_hdl::drain::Drain::<3, 4>::default();
    drain.connect_all();
    assert_clean("drain", &generate_verilog(&drain));
    let mut uart_rx = qtrain_hdl::link::uart_rx::UartRx::default();
    uart_rx.connect_all();
    assert_clean("uart_rx", &generate_verilog(&uart_rx));
    let mut uart_tx = qtrain_hdl::link::uart_tx::UartTx::default();
    uart_tx.connect_all();
    assert_clean("uart_tx", &generate_verilog(&uart_tx));
    let mut crc32 = qtrain_hdl::link::crc32::Crc32::default();
    crc32.connect_all();
    assert_clean("crc32", &generate_verilog(&crc32));
    let mut frame_rx = qtrain_hdl::link::frame_rx::FrameRx::default();
    frame_rx.connect_all();
    assert_clean("frame_rx", &generate_verilog(&frame_rx));
    let mut frame_tx = qtrain_hdl::link::frame_tx::FrameTx::default();
    frame_tx.connect_all();
    assert_clean("frame_tx", &generate_verilog(&frame_tx));
}

#[test]
fn every_supported_core_lints_clean() {
    if !verilator_available() {
        eprintln!("SKIPPED: verilator not on PATH");
        return;
    }
    for &(r, c) in qtrain_hdl::SUPPORTED_SHAPES
        .iter()
        .chain(qtrain_hdl::BOARD_SHAPES)
    {
        let verilog = qtrain_hdl::gemm_core_verilog(r, c).unwrap();
        assert_clean(&format!("core{r}x{c}"), &verilog);
    }
}

#[test]
fn gemm_unit_lints_clean() {
    if !verilator_available() {
        eprintln!("SKIPPED: verilator not on PATH");
        return;
    }
    let mut unit = qtrain_hdl::device::gemm_unit::GemmUnit::<2, 2>::default();
    unit.connect_all();
    assert_clean("gemm_unit2x2", &generate_verilog(&unit));
    let mut unit = qtrain_hdl::device::gemm_unit::GemmUnit::<3, 5>::default();
    unit.connect_all();
    assert_clean("gemm_unit3x5", &generate_verilog(&unit));
    let mut planner = qtrain_hdl::device::piece_plan::PiecePlanner::<8, 8>::new(14);
    planner.connect_all();
    assert_clean("piece_planner", &generate_verilog(&planner));
}

#[test]
fn every_supported_device_top_lints_clean() {
    if !verilator_available() {
        eprintln!("SKIPPED: verilator not on PATH");
        return;
    }
    for &(r, c) in qtrain_hdl::SUPPORTED_SHAPES
        .iter()
        .chain(qtrain_hdl::BOARD_SHAPES)
    {
        let verilog = qtrain_hdl::device_top_verilog(r, c).unwrap();
        assert_clean(&format!("device{r}x{c}"), &verilog);
    }
}

#[test]
fn vector_unit_lints_clean() {
    if !verilator_available() {
        eprintln!("SKIPPED: verilator not on PATH");
        return;
    }
    let mut unit = qtrain_hdl::device::vector_unit::VectorUnit::default();
    unit.connect_all();
    assert_clean("vector_unit", &generate_verilog(&unit));
    let mut level = qtrain_hdl::device::qrelu_level::QreluLevel::default();
    level.connect_all();
    assert_clean("qrelu_level", &generate_verilog(&level));
    let mut mul = qtrain_hdl::extend::MulU16S16::default();
    mul.connect_all();
    assert_clean("mul_u16_s16", &generate_verilog(&mul));
}

#[test]
fn sized_devices_and_cores_lint_clean() {
    if !verilator_available() {
        eprintln!("SKIPPED: verilator not on PATH");
        return;
    }
    // Memories below their address range (the unused address bits) and at it.
    let small = qtrain_hdl::DeviceGeometry::new(4096, 256, 512).unwrap();
    let verilog = qtrain_hdl::device_top_verilog_sized(2, 2, &small).unwrap();
    assert_clean("device2x2_small", &verilog);
    let verilog = qtrain_hdl::core_verilog_sized(3, 5, 64).unwrap();
    assert_clean("core3x5_small", &verilog);
    // The iCEBreaker's GEMM-only device, and the core bench of `qtrain synth --top core`.
    let lean = qtrain_hdl::DeviceGeometry::new(1024, 256, 512)
        .unwrap()
        .gemm_only()
        .with_windows_in_dsps();
    let verilog = qtrain_hdl::device_top_verilog_sized(1, 1, &lean).unwrap();
    assert_clean("device1x1_gemm_only", &verilog);
    for (r, c) in [(8, 1), (2, 2)] {
        let verilog = qtrain_hdl::core_bench_verilog(r, c, 256).unwrap();
        assert_clean(&format!("core_bench{r}x{c}"), &verilog);
    }
    let mut ram = qtrain_hdl::ram::SizedRam::<Bits<16>, 14>::new(1024);
    ram.connect_all();
    assert_clean("sized_ram", &generate_verilog(&ram));
}
