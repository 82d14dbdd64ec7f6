//! `qtrain train` and `qtrain bench train` as a user runs them, on the MNIST folder of the
//! development machine (`../shared/data/mnist` beside the repository, or `$QTRAIN_DATA`).
//! Runs are small (a few thousand images) so that the whole file takes seconds.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("QTRAIN_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist"));
    dir.join("t10k-labels-idx1-ubyte.gz")
        .exists()
        .then_some(dir)
}

/// The data folder, or None (and a note) when this machine has no MNIST.
fn data() -> Option<String> {
    let d = data_dir();
    if d.is_none() {
        eprintln!("SKIPPED: no MNIST folder (set QTRAIN_DATA)");
    }
    d.map(|d| d.display().to_string())
}

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

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qtrain-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Trains with `extra` arguments into `out`; panics with the output on failure.
fn train(data: &str, out: &Path, extra: &[&str]) -> String {
    let out_s = out.display().to_string();
    let mut args = vec!["train", "--data", data, "--out", &out_s];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = qtrain(&args);
    assert_eq!(code, 0, "qtrain {args:?}\n{stdout}\n{stderr}");
    stdout
}

fn checkpoint(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("checkpoint.json")).unwrap()).unwrap()
}

/// The numbers of a run's history, without its wall times.
fn numbers(c: &Value) -> Vec<Vec<Value>> {
    c["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            [
                "epoch",
                "loss",
                "train_error",
                "test_error",
                "test_loss",
                "weights_changed",
                "link_bytes",
            ]
            .iter()
            .map(|k| e[*k].clone())
            .collect()
        })
        .collect()
}

fn join<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
    a.iter().chain(b).copied().collect()
}

const SMALL: [&str; 6] = [
    "--train-images",
    "1000",
    "--test-images",
    "300",
    "--batch",
    "32",
];

#[test]
fn a_quick_run_learns_and_writes_its_folder() {
    let Some(data) = data() else { return };
    let out = fresh_dir("quick");
    let start = std::time::Instant::now();
    let stdout = train(
        &data,
        &out,
        &[
            "--method",
            "fixed",
            "--epochs",
            "1",
            "--train-images",
            "2000",
            "--test-images",
            "1000",
            "--lr",
            "0.3",
        ],
    );
    assert!(start.elapsed().as_secs() < 60, "took {:?}", start.elapsed());
    assert!(stdout.contains("test error:"), "{stdout}");
    let metrics: Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let e = &metrics["epochs"][0];
    // Ten classes: chance is 90% error; one epoch of 2,000 images gets far below that.
    let test_error = e["test_error"].as_f64().unwrap();
    assert!(test_error < 0.3, "{e}");
    assert!(e["weights_changed"].as_f64().unwrap() > 0.1, "{e}");
    // The software engine counts no cycles; the link bytes are counted on the host.
    assert!(e["device_cycles"].is_null(), "{e}");
    assert!(e["link_bytes"].as_u64().unwrap() > 2000 * 784 * 2, "{e}");
    assert_eq!(metrics["run"]["identity"]["method"]["name"], "fixed");
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .contains(&format!("{test_error}")),
        "{csv}"
    );
    let svg = std::fs::read_to_string(out.join("curves.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<polyline"));
    // Not a terminal: no progress bar on stderr.
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn resume_ends_bit_identical_to_an_uninterrupted_run() {
    let Some(data) = data() else { return };
    for method in [
        &["--method", "fixed"][..],
        &["--method", "fixed", "--rounding", "nearest"],
        &["--method", "float32"],
    ] {
        let whole = fresh_dir("whole");
        let parts = fresh_dir("parts");
        let again = fresh_dir("again");
        let mut args: Vec<&str> = method.to_vec();
        args.extend_from_slice(&SMALL);
        let with = |extra: &[&'static str]| join(&args, extra);
        train(&data, &whole, &with(&["--epochs", "3"]));
        train(&data, &parts, &with(&["--epochs", "1"]));
        let stdout = train(&data, &parts, &with(&["--epochs", "3", "--resume"]));
        assert!(stdout.contains("resuming after epoch 1"), "{stdout}");
        train(&data, &again, &with(&["--epochs", "3"]));
        let (a, b, c) = (checkpoint(&whole), checkpoint(&parts), checkpoint(&again));
        assert_eq!(a["epochs_done"], 3);
        assert_eq!(
            a["params"], b["params"],
            "{method:?}: resumed parameters differ"
        );
        assert_eq!(numbers(&a), numbers(&b), "{method:?}");
        // The same seed gives the same numbers on every run.
        assert_eq!(a["params"], c["params"], "{method:?}");
        assert_eq!(numbers(&a), numbers(&c), "{method:?}");
        for d in [whole, parts, again] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }
}

#[test]
fn seeds_and_rounding_change_the_numbers() {
    let Some(data) = data() else { return };
    let runs: Vec<Value> = [
        &["--seed", "1"][..],
        &["--seed", "2"],
        &["--seed", "1", "--rounding", "nearest"],
    ]
    .iter()
    .map(|extra| {
        let out = fresh_dir("seed");
        let mut args = vec!["--method", "fixed", "--epochs", "1"];
        args.extend_from_slice(&SMALL);
        args.extend_from_slice(extra);
        train(&data, &out, &args);
        let c = checkpoint(&out);
        std::fs::remove_dir_all(out).unwrap();
        c
    })
    .collect();
    assert_ne!(runs[0]["params"], runs[1]["params"]);
    assert_ne!(runs[0]["params"], runs[2]["params"]);
}

#[test]
fn the_emulated_usb_board_trains_the_same_bits_as_the_model() {
    let Some(data) = data() else { return };
    let small = [
        "--method",
        "fixed",
        "--layers",
        "784,16,10",
        "--batch",
        "8",
        "--epochs",
        "1",
        "--train-images",
        "64",
        "--test-images",
        "16",
    ];
    let model = fresh_dir("on-model");
    let usb = fresh_dir("on-usb");
    train(&data, &model, &small);
    let mut args = small.to_vec();
    args.extend_from_slice(&["--backend", "emulated"]);
    train(&data, &usb, &args);
    let (a, b) = (checkpoint(&model), checkpoint(&usb));
    assert_eq!(a["params"], b["params"]);
    assert_eq!(numbers(&a), numbers(&b));
    for d in [model, usb] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

fn refused(args: &[&str], needle: &str) {
    let (code, stdout, stderr) = qtrain(args);
    assert_ne!(code, 0, "{args:?} succeeded:\n{stdout}");
    assert!(
        stderr.contains(needle),
        "{args:?}: wanted '{needle}' in:\n{stderr}"
    );
}

#[test]
fn bad_arguments_are_refused_before_any_work() {
    let Some(data) = data() else { return };
    let out = fresh_dir("bad");
    let o = out.display().to_string();
    let base = ["train", "--data", data.as_str(), "--out", o.as_str()];
    let with = |extra: &[&'static str]| join(&base, extra);
    refused(&with(&["--method", "sgd"]), "invalid value 'sgd'");
    refused(
        &with(&["--method", "float32", "--fl", "12"]),
        "--fl only apply to fixed-point methods",
    );
    refused(
        &with(&["--method", "float32", "--backend", "usb"]),
        "runs on the host",
    );
    refused(&with(&["--fl-a", "16"]), "at most 15 fraction bits");
    refused(
        &with(&["--mem-words", "100000"]),
        "array/memory too small for this network",
    );
    refused(
        &with(&["--backend", "emulated"]),
        "array/memory too small for this network",
    );
    refused(
        &with(&["--backend", "sim", "--mem-words", "65536"]),
        "--mem-words sets the model backend's memory",
    );
    refused(&with(&["--layers", "100,10"]), "784 pixels");
    refused(&with(&["--layers", "784,30,7"]), "10 classes");
    refused(&with(&["--lr", "0"]), "positive");
    refused(&with(&["--lr", "1e-12"]), "cannot be written as eta_q");
    refused(&with(&["--resume"]), "holds no checkpoint");
    refused(
        &["train", "--data", "/nonexistent", "--out", &o],
        "/nonexistent",
    );
    assert!(!out.join("checkpoint.json").exists());
    // A run folder is never silently overwritten, and a resume must match the run.
    let mut small = vec![
        "--epochs",
        "1",
        "--train-images",
        "100",
        "--test-images",
        "10",
    ];
    train(&data, &out, &small);
    refused(&with(&small), "already holds a run");
    small.extend_from_slice(&["--resume", "--seed", "9"]);
    refused(&with(&small), "different settings");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bench_prints_the_ratio() {
    let Some(data) = data() else { return };
    let (code, stdout, stderr) = qtrain(&[
        "bench",
        "train",
        "--data",
        &data,
        "--train-images",
        "640",
        "--repeats",
        "2",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // Two timed epochs of each path, then the ratios of the fastest of each.
    assert_eq!(
        stdout.matches(" s CPU for 640 images").count(),
        4,
        "{stdout}"
    );
    let line = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("epoch time ratio fixed (model backend) / float32, fastest of 2 each: ")
        })
        .unwrap_or_else(|| panic!("no ratio in:\n{stdout}"));
    let ratios: Vec<f64> = line
        .split(',')
        .map(|part| part.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ratios.len(), 2, "{line}");
    assert!(ratios.iter().all(|r| *r > 0.0 && r.is_finite()), "{line}");
}

#[test]
fn the_cnn_trains_with_both_methods() {
    let Some(data) = data() else { return };
    for method in ["float32", "fixed"] {
        let out = fresh_dir(&format!("cnn-{method}"));
        let stdout = train(
            &data,
            &out,
            &[
                "--model",
                "cnn",
                "--method",
                method,
                "--epochs",
                "1",
                "--train-images",
                "1600",
                "--test-images",
                "300",
                "--batch",
                "32",
                "--lr",
                "0.3",
            ],
        );
        assert!(stdout.contains("5994 parameters"), "{stdout}");
        let c = checkpoint(&out);
        assert_eq!(c["identity"]["model"], "cnn");
        assert_eq!(c["identity"]["layers"], serde_json::json!([1, 8, 16, 10]));
        let e = &c["history"][0];
        // 50 steps on 1,600 images: far from converged, but well below chance (90%).
        assert!(e["test_error"].as_f64().unwrap() < 0.5, "{method}: {e}");
        assert!(
            e["weights_changed"].as_f64().unwrap() > 0.5,
            "{method}: {e}"
        );
        std::fs::remove_dir_all(&out).unwrap();
    }
    let out = fresh_dir("cnn-bad");
    let o = out.display().to_string();
    let base = ["train", "--data", data.as_str(), "--out", o.as_str()];
    refused(
        &join(&base, &["--model", "cnn", "--layers", "784,30,10"]),
        "--model cnn has a fixed shape",
    );
    refused(
        &join(&base, &["--model", "cnn", "--batch", "200"]),
        "the batch is at most 113",
    );
    refused(
        &join(&base, &["--model", "cnn", "--mem-words", "1000000"]),
        "array/memory too small for this network",
    );
}

/// A one-epoch run of a quantized-training method on a few hundred images: it completes with
/// a finite loss and writes its metrics; returns the checkpoint.
fn quick_method_run(data: &str, name: &str, method: &[&str]) -> Value {
    let out = fresh_dir(name);
    let args = join(
        method,
        &[
            "--epochs",
            "1",
            "--train-images",
            "400",
            "--test-images",
            "200",
            "--batch",
            "32",
            "--lr",
            "0.3",
        ],
    );
    let stdout = train(data, &out, &args);
    assert!(stdout.contains("test error:"), "{stdout}");
    let metrics: Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let e = &metrics["epochs"][0];
    for k in ["loss", "test_loss", "train_error", "test_error"] {
        let v = e[k].as_f64().unwrap_or(f64::NAN);
        assert!(v.is_finite(), "{name}: {k} = {e}");
    }
    assert_eq!(metrics["run"]["identity"]["method"]["name"], method[1]);
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    checkpoint(&out)
}

#[test]
fn quantized_methods_complete_a_quick_run() {
    let Some(data) = data() else { return };
    let runs: [(&str, &[&str]); 10] = [
        ("m-r", &["--method", "r"]),
        ("m-sr", &["--method", "sr"]),
        (
            "m-r4",
            &[
                "--method",
                "r",
                "--weight-bits",
                "4",
                "--delta",
                "0.0078125",
            ],
        ),
        ("m-bc", &["--method", "bc"]),
        ("m-bc3", &["--method", "bc", "--weight-bits", "3"]),
        ("m-bcgd", &["--method", "bcgd"]),
        (
            "m-bcgd2",
            &[
                "--method",
                "bcgd",
                "--weight-bits",
                "2",
                "--act-bits",
                "2",
                "--alpha-grad",
                "2",
            ],
        ),
        (
            "m-bcgd3",
            &["--method", "bcgd", "--weight-bits", "3", "--rho", "0.01"],
        ),
        ("m-wage", &["--method", "wage"]),
        ("m-wage4", &["--method", "wage", "--wage-bits", "4,8,8,8"]),
    ];
    for (name, method) in runs {
        let c = quick_method_run(&data, name, method);
        let tensors = c["params"]["tensors"].as_array().unwrap();
        if method[1] == "r" {
            // The weights never leave the grid: binary 2^-4 is ±1024 at FL 14; 4 bits of
            // 2^-7 are multiples of 128 in [-1024, 896].
            let four = method.len() > 2;
            for w in tensors
                .iter()
                .step_by(2)
                .flat_map(|t| t.as_array().unwrap())
            {
                let w = w.as_i64().unwrap();
                if four {
                    assert!(w % 128 == 0 && (-1024..=896).contains(&w), "{name}: {w}");
                } else {
                    assert!(w == 1024 || w == -1024, "{name}: {w}");
                }
            }
        }
    }
}

#[test]
fn sr_is_deterministic_and_stays_on_its_grid() {
    let Some(data) = data() else { return };
    let a = quick_method_run(&data, "sr-a", &["--method", "sr", "--seed", "7"]);
    let b = quick_method_run(&data, "sr-b", &["--method", "sr", "--seed", "7"]);
    let c = quick_method_run(&data, "sr-c", &["--method", "sr", "--seed", "8"]);
    assert_eq!(numbers(&a), numbers(&b));
    assert_eq!(a["params"], b["params"]);
    assert_ne!(a["params"], c["params"]);
    let tensors = a["params"]["tensors"].as_array().unwrap();
    let w: Vec<i64> = tensors
        .iter()
        .step_by(2)
        .flat_map(|t| t.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()))
        .collect();
    assert!(w.iter().all(|&x| x == 1024 || x == -1024));
    // Stochastic rounding flips some binary weights in one epoch; nearest flips fewer.
    assert!(a["history"][0]["weights_changed"].as_f64().unwrap() > 0.0);
}

#[test]
fn quantized_method_options_are_checked() {
    let Some(data) = data() else { return };
    let out = fresh_dir("m-bad");
    let o = out.display().to_string();
    let base = ["train", "--data", &data, "--out", &o, "--epochs", "1"];
    let cases: [(&[&str], &str); 13] = [
        (
            &["--method", "sr", "--rounding", "nearest"],
            "--rounding does not apply",
        ),
        (&["--method", "r", "--delta", "0.1"], "power of two"),
        (&["--method", "r", "--rho", "0.1"], "--rho"),
        (&["--method", "bcgd", "--delta", "0.5"], "--delta"),
        (&["--method", "bcgd", "--alpha-grad", "4"], "--alpha-grad 4"),
        (&["--method", "bcgd", "--alpha-lr=-1"], "--alpha-lr -1"),
        (
            &["--method", "sr", "--alpha-lr", "0"],
            "--alpha-lr do not apply",
        ),
        (
            &["--method", "bc", "--fl-a", "12"],
            "--fl-a do not apply to --method bc",
        ),
        (
            &["--method", "wage", "--mem-words", "100"],
            "array/memory too small",
        ),
        (
            &["--method", "fixed", "--weight-bits", "2"],
            "--weight-bits",
        ),
        (
            &["--method", "r", "--weight-bits", "8", "--delta", "0.5"],
            "does not fit",
        ),
        (
            &["--method", "wage", "--wage-bits", "2,8,8"],
            "four bit widths",
        ),
        (&["--method", "wage", "--rho", "0.1"], "--rho"),
    ];
    for (extra, needle) in cases {
        refused(&join(&base, extra), needle);
    }
}

#[test]
fn quantized_methods_resume_bit_identical() {
    let Some(data) = data() else { return };
    for method in [
        &["--method", "sr", "--weight-bits", "3"][..],
        &[
            "--method",
            "r",
            "--weight-bits",
            "8",
            "--delta",
            "0.0009765625",
        ],
        &["--method", "bc"],
        &["--model", "cnn", "--method", "bcgd"],
        &["--model", "cnn", "--method", "sr"],
        &["--method", "bcgd", "--weight-bits", "2"],
        &["--method", "wage", "--lr", "4"],
    ] {
        let whole = fresh_dir("m-whole");
        let parts = fresh_dir("m-parts");
        let mut args: Vec<&str> = method.to_vec();
        args.extend_from_slice(&[
            "--train-images",
            "300",
            "--test-images",
            "100",
            "--batch",
            "32",
        ]);
        let with = |extra: &[&'static str]| join(&args, extra);
        train(&data, &whole, &with(&["--epochs", "2"]));
        train(&data, &parts, &with(&["--epochs", "1"]));
        train(&data, &parts, &with(&["--epochs", "2", "--resume"]));
        let (a, b) = (checkpoint(&whole), checkpoint(&parts));
        assert_eq!(
            a["params"], b["params"],
            "{method:?}: resumed parameters differ"
        );
        assert_eq!(numbers(&a), numbers(&b), "{method:?}");
        for d in [whole, parts] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }
}

#[test]
fn a_resumed_cnn_run_ends_bit_identical() {
    let Some(data) = data() else { return };
    for method in ["fixed", "float32", "wage"] {
        let whole = fresh_dir(&format!("cnn-whole-{method}"));
        let parts = fresh_dir(&format!("cnn-parts-{method}"));
        let args = [
            "--model",
            "cnn",
            "--method",
            method,
            "--train-images",
            "256",
            "--test-images",
            "100",
            "--batch",
            "32",
        ];
        let with = |extra: &[&'static str]| join(&args, extra);
        train(&data, &whole, &with(&["--epochs", "2"]));
        train(&data, &parts, &with(&["--epochs", "1"]));
        let stdout = train(&data, &parts, &with(&["--epochs", "2", "--resume"]));
        assert!(stdout.contains("resuming after epoch 1"), "{stdout}");
        let (a, b) = (checkpoint(&whole), checkpoint(&parts));
        assert_eq!(a["epochs_done"], 2);
        assert_eq!(
            a["params"], b["params"],
            "{method}: resumed parameters differ"
        );
        assert_eq!(numbers(&a), numbers(&b), "{method}");
        for d in [whole, parts] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }
}

/// r, sr, bc, bcgd and wage train the CNN; the host-parameter methods (bc, bcgd, wage)
/// stream their products through a 16K-word board with the numbers of a 4M-word one.
#[test]
fn quantized_methods_train_the_cnn_and_stream_through_a_small_board() {
    let Some(data) = data() else { return };
    for m in ["r", "sr", "bc", "bcgd", "wage"] {
        let big = quick_method_run(
            &data,
            &format!("cnn-{m}"),
            &["--method", m, "--model", "cnn"],
        );
        if matches!(m, "bc" | "bcgd" | "wage") {
            let small = quick_method_run(
                &data,
                &format!("cnn-{m}-16k"),
                &["--method", m, "--model", "cnn", "--mem-words", "16384"],
            );
            assert_eq!(big["params"], small["params"], "{m}: 16K words differ");
            // Link bytes differ (smaller pieces, more frames); the results do not.
            let results = |c: &Value| -> Vec<Vec<Value>> {
                numbers(c)
                    .into_iter()
                    .map(|mut e| {
                        e.pop();
                        e
                    })
                    .collect()
            };
            assert_eq!(results(&big), results(&small), "{m}");
        }
    }
    // One piece of the first convolution's weight gradient (a 512 x 8 slice of B, ...)
    // cannot fit 2K words: refused before any work.
    let out = fresh_dir("cnn-bc-2k");
    let (code, _, stderr) = qtrain(&join(
        &[
            "train",
            "--data",
            &data,
            "--out",
            &out.display().to_string(),
        ],
        &["--model", "cnn", "--method", "bc", "--mem-words", "2048"],
    ));
    assert_ne!(code, 0);
    assert!(stderr.contains("array/memory too small"), "{stderr}");
    assert!(!out.join("checkpoint.json").exists());
}
