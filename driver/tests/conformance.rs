//! Random command sequences give identical results on the in-process `ModelBoard` and on a
//! `UsbBoard` whose device is the same engine behind the emulated FTDI chip: framing, the
//! link and the UART plug add nothing and lose nothing.

mod common;

use qtrain_driver::accelerator::{Accelerator, ModelBoard};
use qtrain_driver::device::{Command, EngineConfig};
use qtrain_driver::ftdi::Chip;
use qtrain_driver::transport::FaultConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn config() -> EngineConfig {
    EngineConfig {
        mem_words: 4096,
        max_body: 512,
        max_k: 8,
        ..EngineConfig::default()
    }
}

#[test]
fn random_sequences_agree_on_model_and_usb_boards() {
    random_sequences_agree(Chip::Ft2232h);
}

#[test]
fn random_sequences_agree_behind_a_full_speed_ft231x() {
    // 64-byte packets: every response spans several IN packets.
    random_sequences_agree(Chip::Ft231x);
}

fn random_sequences_agree(chip: Chip) {
    let cfg = config();
    let mut ok = 0;
    let mut rejected = 0;
    for seed in 0..8u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut usb = common::usb_board_on(chip, cfg, seed, FaultConfig::none()).unwrap();
        let mut model = ModelBoard::new(cfg);
        // The USB board said HELLO when it connected.
        assert_eq!(model.hello().unwrap(), usb.capabilities());
        for step in 0..300 {
            let cmd = if rng.gen_ratio(1, 50) {
                [Command::Status, Command::Reset, Command::Capabilities][rng.gen_range(0..3)]
                    .clone()
            } else {
                common::random_command(&mut rng, cfg.mem_words, cfg.max_body, true)
            };
            let a = model.execute(&cmd);
            let b = usb.execute(&cmd);
            assert_eq!(a, b, "seed {seed} step {step}: {cmd:?}");
            if a.is_ok() {
                ok += 1;
            } else {
                rejected += 1;
            }
        }
        assert_eq!(
            model.engine().memory(),
            common::far_engine(&mut usb).memory(),
            "seed {seed}: memories differ"
        );
        assert_eq!(model.status().unwrap(), usb.status().unwrap());
        assert_eq!(
            usb.link_mut().stats().retries,
            0,
            "a clean link never retries"
        );
    }
    // Both outcomes must really have been exercised.
    assert!(ok > 1500 && rejected > 100, "ok {ok}, rejected {rejected}");
}

#[test]
fn large_writes_and_reads_are_split_by_max_body() {
    let cfg = config();
    let mut usb = common::usb_board(cfg, 1, FaultConfig::none()).unwrap();
    let mut model = ModelBoard::new(cfg);
    let words: Vec<i16> = (0..3000).map(|i| (i * 37 - 20_000) as i16).collect();
    usb.write(500, &words).unwrap();
    model.write(500, &words).unwrap();
    assert_eq!(usb.read(500, 3000).unwrap(), words);
    assert_eq!(model.read(500, 3000).unwrap(), words);
    // (512 - 4) / 2 = 254 words per WRITE, 256 per READ, plus HELLO.
    let writes = 3000usize.div_ceil(254);
    let reads = 3000usize.div_ceil(256);
    assert_eq!(
        usb.link_mut().stats().exchanges as usize,
        1 + writes + reads
    );
    let err = usb.write(4000, &words).unwrap_err();
    assert!(err.to_string().contains("OUT_OF_RANGE"), "{err}");
}
