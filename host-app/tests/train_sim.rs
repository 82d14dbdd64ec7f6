//! `qtrain train --backend sim`: a training run on the Verilated device (UART, framing, command
//! engine, GEMM array, vector unit) ends with exactly the numbers of the model backend.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn data_dir() -> Option<String> {
    let dir = std::env::var_os("QTRAIN_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist"));
    let found = dir.join("t10k-labels-idx1-ubyte.gz").exists();
    if !found {
        eprintln!("SKIPPED: no MNIST folder (set QTRAIN_DATA)");
    }
    found.then(|| dir.display().to_string())
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

fn train(data: &str, out: &Path, backend: &[&str]) {
    train_method(
        data,
        out,
        &[
            "--method",
            "fixed",
            "--rounding",
            "stochastic",
            "--lr",
            "0.3",
        ],
        "2",
        "48",
        backend,
    );
}

fn train_method(
    data: &str,
    out: &Path,
    method: &[&str],
    epochs: &str,
    images: &str,
    backend: &[&str],
) {
    let out_s = out.display().to_string();
    let mut args = vec!["train", "--data", data, "--out", &out_s];
    args.extend_from_slice(method);
    args.extend_from_slice(&[
        "--layers",
        "784,12,10",
        "--batch",
        "8",
        "--epochs",
        epochs,
        "--train-images",
        images,
        "--test-images",
        "16",
        "--seed",
        "5",
        "--array",
        "2x2",
    ]);
    args.extend_from_slice(backend);
    let out = Command::new(env!("CARGO_BIN_EXE_qtrain"))
        .args(&args)
        .output()
        .expect("the qtrain binary runs");
    assert!(
        out.status.success(),
        "qtrain {args:?}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn checkpoint(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("checkpoint.json")).unwrap()).unwrap()
}

/// An epoch's numbers that are results, not timing. (`link_bytes` is traffic, not a result:
/// a board with a clock is also asked for its STATUS after each epoch, 48 bytes more.)
fn results(epoch: &Value) -> Vec<Value> {
    [
        "loss",
        "train_error",
        "test_error",
        "test_loss",
        "weights_changed",
    ]
    .iter()
    .map(|k| epoch[*k].clone())
    .collect()
}

#[test]
fn sim_backend_trains_bit_identically_to_the_model() {
    let Some(data) = data_dir() else { return };
    if !verilator_present() {
        return;
    }
    let base = std::env::temp_dir().join(format!("qtrain-train-sim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (model_dir, sim_dir) = (base.join("model"), base.join("sim"));
    train(
        &data,
        &model_dir,
        &["--backend", "model", "--mem-words", "65536"],
    );
    train(&data, &sim_dir, &["--backend", "sim"]);
    let (m, s) = (checkpoint(&model_dir), checkpoint(&sim_dir));
    assert_eq!(
        m["params"], s["params"],
        "parameters differ between model and sim"
    );
    let (mh, sh) = (
        m["history"].as_array().unwrap(),
        s["history"].as_array().unwrap(),
    );
    assert_eq!(mh.len(), 2);
    assert_eq!(sh.len(), 2);
    for (me, se) in mh.iter().zip(sh) {
        assert_eq!(results(me), results(se));
        // The simulated device counts its clock; the software engine has none.
        assert!(me["device_cycles"].is_null(), "{me}");
        assert!(se["device_cycles"].as_u64().unwrap() > 0, "{se}");
    }
    std::fs::remove_dir_all(&base).unwrap();
}

/// Every quantized method runs its products (and r/sr their updates, bcgd its QRELU and
/// QRELU_MASK) on the simulated device with the numbers of the model backend: one short
/// epoch each.
#[test]
fn every_quantized_method_trains_identically_on_sim_and_model() {
    let Some(data) = data_dir() else { return };
    if !verilator_present() {
        return;
    }
    let base = std::env::temp_dir().join(format!("qtrain-train-sim-m-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let methods: [&[&str]; 5] = [
        &["--method", "r", "--weight-bits", "4", "--lr", "0.3"],
        &["--method", "sr", "--lr", "0.3"],
        &["--method", "bc", "--lr", "0.3"],
        &["--method", "bcgd", "--weight-bits", "2", "--lr", "0.3"],
        &["--method", "wage", "--lr", "8"],
    ];
    for (i, method) in methods.iter().enumerate() {
        let (model_dir, sim_dir) = (base.join(format!("m{i}")), base.join(format!("s{i}")));
        train_method(
            &data,
            &model_dir,
            method,
            "1",
            "24",
            &["--backend", "model", "--mem-words", "65536"],
        );
        train_method(&data, &sim_dir, method, "1", "24", &["--backend", "sim"]);
        let (m, s) = (checkpoint(&model_dir), checkpoint(&sim_dir));
        assert_eq!(m["params"], s["params"], "{method:?}: parameters differ");
        let (mh, sh) = (&m["history"][0], &s["history"][0]);
        assert_eq!(results(mh), results(sh), "{method:?}");
        assert!(sh["device_cycles"].as_u64().unwrap() > 0, "{sh}");
    }
    std::fs::remove_dir_all(&base).unwrap();
}
