//! Prints the Verilog of `GemmCore<R, C>` with small scratch banks for the timing and area
//! measurements of docs/performance.md, including shapes [`qtrain_hdl::gemm_core_verilog`]
//! does not list (12 x 12, the ECP5-85F goal):
//! `cargo run -p qtrain-hdl --example timing_core -- 12 12 1024 > core.v`
//! (rows, columns, words per scratch bank; 1,024 by default, one ECP5 DP16KD per bank).

use qtrain_hdl::rust_hdl::prelude::*;
use qtrain_hdl::GemmCore;

fn core<const R: usize, const C: usize>(words: usize) -> String {
    let mut core = GemmCore::<R, C>::with_scratch_words(words);
    core.connect_all();
    generate_verilog(&core)
}

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
    let v = match shape {
        (1, 1) => core::<1, 1>(words),
        (2, 2) => core::<2, 2>(words),
        (2, 4) => core::<2, 4>(words),
        (4, 4) => core::<4, 4>(words),
        (8, 8) => core::<8, 8>(words),
        (12, 12) => core::<12, 12>(words),
        _ => {
            eprintln!(
                "usage: timing_core ROWS COLS [WORDS] (1x1, 2x2, 2x4, 4x4, 8x8 or 12x12; \
                 WORDS a power of two up to 16384)"
            );
            std::process::exit(2);
        }
    };
    print!("{v}");
}
