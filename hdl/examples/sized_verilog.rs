//! Prints the Verilog of a device top or a bare core with chosen memory sizes, for synthesis
//! experiments: `sized_verilog device ROWS COLS MEM_WORDS SCRATCH_WORDS MAX_BODY` or
//! `sized_verilog core ROWS COLS SCRATCH_WORDS`.

use qtrain_hdl::{core_verilog_sized, device_top_verilog_sized, DeviceGeometry};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(args.get(i).ok_or("missing argument")?.parse()?)
    };
    let verilog = match args.first().map(String::as_str) {
        Some("device") => {
            let g = DeviceGeometry::new(num(3)?, num(4)?, num(5)?)?;
            device_top_verilog_sized(num(1)?, num(2)?, &g)?
        }
        Some("core") => core_verilog_sized(num(1)?, num(2)?, num(3)?)?,
        _ => {
            return Err(
                "usage: sized_verilog device R C MEM SCRATCH MAX_BODY | core R C SCRATCH".into(),
            )
        }
    };
    print!("{verilog}");
    Ok(())
}
