//! Prints the Verilog of a supported core shape: `cargo run -p qtrain-hdl --example
//! core_verilog -- 8 8 > top.v` (rows, then columns; 4 x 4 without arguments).

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("shape arguments are numbers"))
        .collect();
    let (rows, cols) = match args[..] {
        [] => (4, 4),
        [r, c] => (r, c),
        _ => panic!("usage: core_verilog [ROWS COLS]"),
    };
    match qtrain_hdl::gemm_core_verilog(rows, cols) {
        Ok(v) => print!("{v}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
