//! 10,000 command exchanges through the fault injector (corrupt, dropped, duplicated and
//! truncated bytes, stalls, timeouts). Every command must end in the right result, possibly
//! after retries, or in a clear lost-link error; never in a wrong result. Every READ is checked
//! against a shadow `ModelBoard`, and the non-idempotent commands (accumulating GEMMs, UPDATEs)
//! prove that a retried command takes effect exactly once.

mod common;

use qtrain_driver::accelerator::{AccelError, Accelerator, ModelBoard};
use qtrain_driver::device::{Command, EngineConfig, GemmDescriptor, Tensor};
use qtrain_driver::link::LinkError;
use qtrain_driver::transport::FaultConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn config() -> EngineConfig {
    EngineConfig {
        mem_words: 2048,
        max_body: 512,
        max_k: 8,
        ..EngineConfig::default()
    }
}

fn noisy() -> FaultConfig {
    FaultConfig {
        corrupt: 0.03,
        drop: 0.03,
        duplicate: 0.03,
        truncate: 0.03,
        stall: 0.01,
        timeout: 0.01,
        unplug: 0.0,
    }
}

/// A command whose repetition would show: C += A·B, or an UPDATE with a nonzero step.
fn accumulating_gemm<R: Rng>(rng: &mut R) -> Command {
    Command::Gemm(GemmDescriptor {
        a: Tensor { addr: 0, stride: 4 },
        b: Tensor {
            addr: 16,
            stride: 4,
        },
        c: Tensor {
            addr: 32,
            stride: 4,
        },
        m: 4,
        k: 4,
        n: 4,
        trans_a: false,
        trans_b: false,
        accumulate: true,
        fl_a: 0,
        fl_b: 0,
        fl_c: 0,
        rounding: qtrain_model::Rounding::Nearest,
        row_state: rng.gen_range(1..=u32::MAX),
        col_state: 1,
    })
}

/// What one faulted run saw.
struct Summary {
    lost: u32,
    retries: u64,
    reads_checked: u32,
    injected: qtrain_driver::transport::FaultStats,
}

/// `exchanges` random commands through a link with `faults`, each checked against the shadow.
fn faulted_run(seed: u64, faults: FaultConfig, exchanges: u32) -> Summary {
    let noisy = || faults.clone();
    let cfg = config();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut usb = common::usb_board(cfg, seed, noisy()).expect("HELLO gets through");
    let mut shadow = ModelBoard::new(cfg);
    shadow.hello().unwrap();
    // Small operands for the accumulation check: C grows by A·B each time, without saturating.
    let small: Vec<i16> = (0..48).map(|i| (i % 5) as i16 - 2).collect();
    usb.write(0, &small).unwrap();
    shadow.write(0, &small).unwrap();

    let (mut oks, mut rejected, mut lost, mut reads_checked) = (0u32, 0u32, 0u32, 0u32);
    let (mut lost_applied, mut lost_not_applied) = (0u32, 0u32);
    for step in 0..exchanges {
        let cmd = if rng.gen_ratio(1, 10) {
            accumulating_gemm(&mut rng)
        } else {
            common::random_command(&mut rng, cfg.mem_words, cfg.max_body, true)
        };
        let got = usb.execute(&cmd);
        match got {
            Err(AccelError::Link(LinkError::Lost {
                command, attempts, ..
            })) => {
                // Clear error: it names the command and the attempts. Now find out, on a clean
                // line, whether the command took effect, and check it did so once or not at all.
                assert_eq!(command, cmd.name());
                assert_eq!(attempts, 6);
                lost += 1;
                common::faults(&mut usb).set_config(FaultConfig::none());
                let device = usb.read(0, cfg.mem_words as usize).unwrap();
                let mut after = shadow.clone();
                let changes = after.execute(&cmd).is_ok()
                    && after.engine().memory() != shadow.engine().memory();
                if changes && device[..] == after.engine().memory()[..] {
                    lost_applied += 1;
                    shadow = after;
                } else {
                    assert_eq!(
                        device[..],
                        shadow.engine().memory()[..],
                        "step {step}: {cmd:?} took partial or repeated effect"
                    );
                    lost_not_applied += 1;
                }
                common::faults(&mut usb).set_config(noisy());
                continue;
            }
            Err(AccelError::Link(other)) => panic!("step {step}: unexpected link error {other}"),
            _ => {}
        }
        let want = shadow.execute(&cmd);
        assert_eq!(got, want, "step {step}: {cmd:?}");
        if matches!(cmd, Command::Read { .. }) && got.is_ok() {
            reads_checked += 1;
        }
        if got.is_ok() {
            oks += 1;
        } else {
            rejected += 1;
        }
    }
    // Whole memories agree at the end: nothing was applied twice or lost silently.
    common::faults(&mut usb).set_config(FaultConfig::none());
    assert_eq!(
        common::far_engine(&mut usb).memory(),
        shadow.engine().memory()
    );
    let link = usb.link_mut().stats();
    let injected = common::faults(&mut usb).stats();
    println!(
        "faults: {exchanges} commands ({oks} ok, {rejected} rejected by the device, {lost} lost \
         [{lost_applied} had taken effect once, {lost_not_applied} had no effect]), {reads_checked} reads \
         checked; link {link:?}; injected {injected:?}"
    );
    Summary {
        lost,
        retries: link.retries,
        reads_checked,
        injected,
    }
}

#[test]
fn ten_thousand_faulted_exchanges_never_give_a_wrong_result() {
    let s = faulted_run(2026, noisy(), 10_000);
    let i = s.injected;
    assert!(i.corrupted > 100 && i.dropped > 100 && i.duplicated > 100 && i.truncated > 100);
    assert!(i.stalls > 10 && i.timeouts > 10);
    assert!(s.retries > 500, "faults must force retries");
    assert!(s.reads_checked > 1000);
}

#[test]
fn lost_commands_took_effect_once_or_not_at_all() {
    // A line so bad that some commands exhaust their retries: each is then checked on a clean
    // line to have changed memory exactly as one execution would, or not at all.
    let terrible = FaultConfig {
        corrupt: 0.25,
        drop: 0.25,
        duplicate: 0.25,
        truncate: 0.25,
        stall: 0.02,
        timeout: 0.02,
        unplug: 0.0,
    };
    let s = faulted_run(99, terrible, 2_000);
    assert!(s.lost > 20, "the line must lose some commands: {}", s.lost);
}

#[test]
fn a_dead_line_is_a_clear_lost_link_error() {
    let cfg = config();
    let mut usb = common::usb_board(cfg, 3, FaultConfig::none()).unwrap();
    common::faults(&mut usb).set_config(FaultConfig {
        timeout: 1.0,
        ..FaultConfig::none()
    });
    let err = usb.write(0, &[1, 2, 3]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("lost link") && msg.contains("WRITE") && msg.contains("6 attempts"),
        "{msg}"
    );
    assert_eq!(common::far_engine(&mut usb).memory()[..3], [0, 0, 0]);
}

#[test]
fn an_unplugged_board_fails_at_once() {
    let cfg = config();
    let mut usb = common::usb_board(cfg, 3, FaultConfig::none()).unwrap();
    usb.link_mut().pipe_mut().transport().unplug();
    let err = usb.read(0, 4).unwrap_err();
    assert!(
        matches!(
            err,
            AccelError::Link(LinkError::Pipe {
                command: "READ",
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("unplugged"), "{err}");
}

#[test]
fn responses_lost_on_the_way_back_do_not_repeat_the_command() {
    // Every IN transfer is truncated at first, so responses die and the host retries the
    // same seq; the device must answer from its seq memory.
    let cfg = config();
    let mut usb = common::usb_board(cfg, 5, FaultConfig::none()).unwrap();
    usb.write(0, &[1; 48]).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let cmd = accumulating_gemm(&mut rng);
    common::faults(&mut usb).set_config(FaultConfig {
        truncate: 0.3,
        ..FaultConfig::none()
    });
    usb.execute(&cmd).unwrap();
    common::faults(&mut usb).set_config(FaultConfig::none());
    assert!(
        usb.link_mut().stats().retries > 0,
        "the test must force retries"
    );
    // C = C + A·B once: 1 plus the sum of 4 products 1·1 (twice would give 9).
    assert_eq!(usb.read(32, 16).unwrap(), vec![5; 16]);
    let executed = common::far_engine(&mut usb).status().commands;
    // HELLO, WRITE, GEMM, READ.
    assert_eq!(executed, 4);
}
