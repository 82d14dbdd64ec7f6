//! The device harness's UART against the hardware UART of the echo top.

use qtrain_sim::{DeviceSimOptions, SimDevice, SimError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn echo(clocks_per_bit: u16) -> Option<SimDevice> {
    let options = DeviceSimOptions {
        clocks_per_bit,
        clock_hz: 48_000_000,
        ..DeviceSimOptions::default()
    };
    match SimDevice::echo(options) {
        Ok(d) => Some(d),
        Err(SimError::ToolMissing(why)) => {
            eprintln!("SKIPPED: {why}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn random_bytes_come_back_at_the_line_rate() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for cpb in [4u16, 7, 16] {
        let Some(mut dev) = echo(cpb) else { return };
        let sent: Vec<u8> = (0..500).map(|_| rng.gen()).collect();
        dev.send(&sent);
        assert_eq!(dev.pending_host_bytes(), 500);
        let frame = 10 * u64::from(cpb);
        let got = dev.run(1000 * frame, sent.len());
        assert_eq!(got, sent, "{cpb} clocks per bit");
        let c = dev.counters();
        // Back to back both ways: the host's stream takes exactly one frame time per byte,
        // and the echo lags it by about one frame.
        assert_eq!(c.host_to_device_cycles, 500 * frame, "{cpb}");
        assert_eq!(c.bytes_to_device, 500);
        assert_eq!(c.bytes_from_device, 500);
        assert!(c.cycles <= 502 * frame, "{} cycles at {cpb}", c.cycles);
        assert!(c.device_to_host_cycles >= 499 * frame, "{c:?}");
        assert_eq!(c.framing_errors, 0);
        assert!(c.link_busy_cycles <= c.cycles && c.link_busy_cycles >= 500 * frame);
        assert_eq!(dev.pending_host_bytes(), 0);
    }
}

#[test]
fn runs_stop_at_the_byte_asked_for_and_resume_cleanly() {
    let Some(mut dev) = echo(5) else { return };
    let sent = [1u8, 2, 0, 7, 8, 0, 9];
    dev.send(&sent);
    let mut buf = [0u8; 64];
    let (n, _) = dev.run_into(1_000_000, &mut buf, Some(0));
    assert_eq!(&buf[..n], &[1, 2, 0]);
    let (n, _) = dev.run_into(1_000_000, &mut buf, Some(0));
    assert_eq!(&buf[..n], &[7, 8, 0]);
    // A bounded run returns early with what came so far, the rest follows.
    let (n, cycles) = dev.run_into(3, &mut buf, Some(0));
    assert_eq!((n, cycles), (0, 3));
    let rest = dev.run_until_quiet(1_000_000, 200);
    assert_eq!(rest, [9]);
    // Quiet means no more cycles than the idle window once everything is through.
    let before = dev.cycles();
    assert!(dev.run_until_quiet(1_000_000, 200).is_empty());
    assert_eq!(dev.cycles() - before, 200);
    let c = dev.counters();
    assert_eq!(c.link_idle_cycles() + c.link_busy_cycles, c.cycles);
}
