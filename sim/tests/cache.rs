//! The build cache under concurrency, and the harness on a design small enough to reason about.
//!
//! Two processes and two threads ask for the same design at once, in an empty cache: all must
//! get the same library, built once, with nothing half-built left behind.

use std::path::PathBuf;
use std::process::Command;

use qtrain_model::{GemmParams, Matrix, Rounding};
use qtrain_sim::{SimCore, SimError, SimOptions};

/// A 1x1 "core" with the contract's ports and trivial behaviour: `busy` is high for the one
/// cycle after `start`, `cycles` reads 7, and C reads back `0x1234 ^ {bank, addr}`.
const TINY: &str = "
module top(
  input wire clock, input wire start,
  input wire [15:0] m, input wire [15:0] k, input wire [15:0] n,
  input wire [3:0] fl_a, input wire [3:0] fl_b, input wire [3:0] fl_c,
  input wire [1:0] rounding, input wire [31:0] row_state, input wire [31:0] col_state,
  input wire accumulate, output reg busy, output wire [31:0] cycles,
  input wire wr_en, input wire [1:0] wr_target, input wire [7:0] wr_bank,
  input wire [3:0] wr_addr, input wire [15:0] wr_data,
  input wire [7:0] rd_bank, input wire [3:0] rd_addr, output reg [15:0] rd_data);
  assign cycles = 32'd7;
  initial busy = 1'b0;
  always @(posedge clock) begin
    busy <= start && !busy;
    rd_data <= 16'h1234 ^ {rd_bank, 4'b0, rd_addr};
  end
endmodule
";

const CHILD_ENV: &str = "QTRAIN_CACHE_TEST_CHILD";

fn open_tiny() -> Result<SimCore, SimError> {
    SimCore::from_verilog(TINY, 1, 1, 4, SimOptions::default())
}

#[test]
fn concurrent_builders_share_one_library() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let core = open_tiny().expect("child build");
        println!("LIB={}", core.library_path().display());
        return;
    }
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"));
    let cache: PathBuf =
        std::env::temp_dir().join(format!("qtrain-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    std::fs::create_dir_all(&cache).unwrap();
    // This binary has this one test, so nothing else reads the variable meanwhile.
    std::env::set_var("QTRAIN_CACHE_DIR", &cache);

    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "concurrent_builders_share_one_library",
                    "--nocapture",
                ])
                .env(CHILD_ENV, "1")
                .env("QTRAIN_CACHE_DIR", &cache)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let threads: Vec<_> = (0..2).map(|_| std::thread::spawn(open_tiny)).collect();
    let mut cores = Vec::new();
    for t in threads {
        match t.join().unwrap() {
            Ok(core) => cores.push(core),
            Err(SimError::ToolMissing(msg)) if !ci => {
                eprintln!("SKIPPED (Verilator test without Verilator): {msg}");
                return;
            }
            Err(e) => panic!("build failed: {e}"),
        }
    }
    let mut libs: Vec<PathBuf> = cores.iter().map(|c| c.library_path().to_owned()).collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lib = text
            .lines()
            .find_map(|l| l.strip_prefix("LIB="))
            .unwrap_or_else(|| panic!("no LIB= line in:\n{text}"));
        libs.push(PathBuf::from(lib));
    }
    assert!(
        libs.iter().all(|l| l == &libs[0]),
        "different libraries: {libs:?}"
    );
    assert!(libs[0].starts_with(&cache));
    let entries: Vec<String> = std::fs::read_dir(cache.join("verilator"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "expected one finished build and no temporaries or locks: {entries:?}"
    );

    // The harness drives the ports as the contract says: C[0][j] comes from bank 0, address
    // j (0x1234 ^ j), and compute_cycles is the core's `cycles` output.
    let a = Matrix::new(1, 1, vec![3]).unwrap();
    let b = Matrix::new(1, 3, vec![1, 2, 3]).unwrap();
    let p = GemmParams::from_seed(1, 0, 0, 0, Rounding::Truncate);
    for core in &mut cores {
        let out = core.gemm(&a, false, &b, false, &p).unwrap();
        assert_eq!(out.c.data, vec![0x1234, 0x1235, 0x1236]);
        assert_eq!(out.compute_cycles, 7);
        assert_eq!(out.load_cycles, 4);
        // Four writes, the start tick, one busy tick, three reads.
        assert_eq!(out.total_cycles, 9);
        assert_eq!(core.cycles(), 9);
    }
    drop(cores);
    std::fs::remove_dir_all(&cache).unwrap();
}
