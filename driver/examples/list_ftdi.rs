//! Lists the attached iCEBreaker / ULX3S bridges, or explains why it cannot.
//!
//! `cargo run -p qtrain-driver --example list_ftdi`

use std::process::ExitCode;

fn main() -> ExitCode {
    match qtrain_driver::ftdi::list_devices() {
        Ok(devices) if devices.is_empty() => {
            println!("no iCEBreaker (0403:6010) or ULX3S (0403:6015) attached");
            if let Some(hint) = qtrain_driver::ftdi::empty_list_hint() {
                println!("{hint}");
            }
            ExitCode::SUCCESS
        }
        Ok(devices) => {
            for d in devices {
                println!("{d}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
