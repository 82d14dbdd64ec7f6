//! `qtrain experiment NAME --quick` as CI runs it: each quick experiment trains its small
//! runs on MNIST (`../shared/data/mnist` beside the repository, or `$QTRAIN_DATA`), writes its
//! files, and its qualitative checks (several seeds, margins in docs/experiments.md) pass.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn data_dir() -> Option<String> {
    let dir = std::env::var_os("QTRAIN_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist"));
    if dir.join("t10k-labels-idx1-ubyte.gz").exists() {
        Some(dir.display().to_string())
    } else {
        eprintln!("SKIPPED: no MNIST folder (set QTRAIN_DATA)");
        None
    }
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
    let dir = std::env::temp_dir().join(format!("qtrain-exp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `qtrain experiment NAME --quick` with `extra` and checks its files and checks.
fn quick(name: &str, plots: &[&str], extra: &[&str]) -> (PathBuf, String) {
    let Some(data) = data_dir() else {
        return (PathBuf::new(), String::new());
    };
    let out = fresh_dir(name);
    let out_s = out.display().to_string();
    let mut args = vec![
        "experiment",
        name,
        "--quick",
        "--data",
        &data,
        "--out",
        &out_s,
        "--jobs",
        "2",
    ];
    args.extend_from_slice(extra);
    let t = Instant::now();
    let (code, stdout, stderr) = qtrain(&args);
    eprintln!(
        "qtrain experiment {name} --quick: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(code, 0, "qtrain {args:?}\n{stdout}\n{stderr}");
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.contains("## Checks") && md.contains("**PASS**"), "{md}");
    assert!(!md.contains("**FAIL**"), "{md}");
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(
        csv.lines().count() > 2 && csv.starts_with(name_column(name)),
        "{csv}"
    );
    for p in plots {
        let svg = std::fs::read_to_string(out.join(p)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<polyline"), "{p}");
        assert!(
            md.contains(&format!("]({p})")),
            "{p} not linked from results.md"
        );
    }
    (out, md)
}

/// The first CSV column of each experiment (its first tag).
fn name_column(name: &str) -> &'static str {
    match name {
        "gupta" => "model,",
        "li" => "part,",
        "bcgd" | "wage" => "method,",
        _ => unreachable!(),
    }
}

#[test]
fn gupta_quick_sr_beats_nearest_where_nearest_fails_and_matches_float_at_fl14() {
    let (_, md) = quick("gupta", &["gupta-mlp.svg"], &[]);
    if md.is_empty() {
        return;
    }
    assert!(
        md.contains("FL 8, lr 0.01: SR's final test error below RN's"),
        "{md}"
    );
}

#[test]
fn li_quick_orders_bc_sr_r_and_the_convex_floors() {
    let (out, md) = quick("li", &["li-mnist.svg", "li-convex.svg"], &[]);
    if md.is_empty() {
        return;
    }
    assert!(
        md.contains("BC's final test error below SR's")
            && md.contains("SR's last-iterate floor grows")
    );
    let convex = std::fs::read_to_string(out.join("convex.csv")).unwrap();
    assert!(convex.starts_with("problem,rule,delta,seed,last_gap,averaged_gap"));
}

#[test]
fn bcgd_quick_runs_and_is_the_same_for_any_number_of_jobs() {
    let (out, md) = quick("bcgd", &["bcgd.svg"], &[]);
    if md.is_empty() {
        return;
    }
    // The same experiment with one worker, from scratch: byte-identical results.
    let data = data_dir().unwrap();
    let serial = fresh_dir("bcgd-serial");
    let serial_s = serial.display().to_string();
    let (code, stdout, stderr) = qtrain(&[
        "experiment",
        "bcgd",
        "--quick",
        "--data",
        &data,
        "--out",
        &serial_s,
        "--jobs",
        "1",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for f in ["results.csv", "bcgd.svg"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(serial.join(f)).unwrap(),
            "{f} differs between --jobs 2 and --jobs 1"
        );
    }
}

#[test]
fn wage_quick_runs() {
    quick("wage", &["wage.svg"], &[]);
}

#[test]
fn bad_arguments_are_refused_before_any_work() {
    for (args, msg) in [
        (vec!["experiment", "gupta", "--jobs", "0"], "--jobs"),
        (vec!["experiment", "gupta", "--backend", "usb"], "--backend"),
        (vec!["experiment", "gupta", "--seeds", "0"], "--seeds"),
    ] {
        let (code, stdout, stderr) = qtrain(&args);
        assert_eq!(code, 2, "{args:?}: {stdout}");
        assert!(stderr.contains(msg), "{args:?}: {stderr}");
    }
    let (code, _, stderr) = qtrain(&["experiment", "nosuch"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("invalid value"), "{stderr}");
}
