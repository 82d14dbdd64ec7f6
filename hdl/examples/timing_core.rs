//! Prints the Verilog of `GemmCore<R, C>` with small scratch banks (any generated shape,
//! `qtrain_hdl::core_verilog_sized`) for the ad-hoc timing and area measurements of
//! docs/performance.md (`qtrain synth --top core` now does them in the board flow):
//! `cargo run -p qtrain-hdl --example timing_core -- 12 12 1024 > core.v`
//! (rows, columns, words per scratch bank; 1,024 by default, one ECP5 DP16KD per bank).

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments are numbers"))
        .collect();
    let (shape, words) = match args[..] {
        [r, c] => ((r, c), 1024),
        [r, c, w] => ((r, c), w),
        _ => ((0, 0), 0),
    };
    let v = qtrain_hdl::core_verilog_sized(shape.0, shape.1, words).unwrap_or_else(|e| {
        eprintln!("timing_core: {e}\nusage: timing_core ROWS COLS [WORDS]");
        std::process::exit(2);
    });
    print!("{v}");
}
