//! Link throughput on the simulated board (SimBoard): WRITE and READ payload rates as a
//! fraction of the UART line rate, and where the cycles of a GEMM-heavy sequence go.
//!
//! `cargo bench -p qtrain-driver --bench link [-- RxC]` (default 4x4). Every figure is in
//! simulated cycles, so it does not depend on the machine; the wall time is printed as well.

use std::time::Instant;

use qtrain_driver::accelerator::Accelerator;
use qtrain_driver::device::{GemmDescriptor, Tensor};
use qtrain_driver::{SimBoard, SimCounters};
use qtrain_model::Rounding;
use qtrain_sim::DeviceSimOptions;

fn delta(after: SimCounters, before: SimCounters) -> SimCounters {
    SimCounters {
        total_cycles: after.total_cycles - before.total_cycles,
        link_busy_cycles: after.link_busy_cycles - before.link_busy_cycles,
        host_to_device_cycles: after.host_to_device_cycles - before.host_to_device_cycles,
        device_to_host_cycles: after.device_to_host_cycles - before.device_to_host_cycles,
        device_cycles: after.device_cycles - before.device_cycles,
        gemm_cycles: after.gemm_cycles - before.gemm_cycles,
    }
}

fn main() {
    let shape = std::env::args()
        .skip(1)
        .find(|a| a.contains('x') && !a.starts_with('-'))
        .unwrap_or_else(|| "4x4".into());
    let (r, c) = shape.split_once('x').expect("RxC");
    let (rows, cols): (usize, usize) = (r.parse().expect("rows"), c.parse().expect("cols"));
    let options = DeviceSimOptions::default();
    let cpb = u64::from(options.clocks_per_bit);
    let baud = options.baud();
    let wall = Instant::now();
    let mut board = SimBoard::new(rows, cols, options).expect("the simulated device opens");
    let built = wall.elapsed();
    println!(
        "SimBoard {rows}x{cols}, {} clocks per bit ({baud} baud at {} Hz); opened in {:.1} s",
        cpb,
        board.capabilities().clock_hz,
        built.as_secs_f64()
    );
    // A byte on the line is 10 bits (8N1): the ideal payload rate is one byte per 10 bits.
    let line_cycles = |bytes: u64| bytes * 10 * cpb;

    let words: Vec<i16> = (0..32_768).map(|i| (i * 7919 % 65_521) as i16).collect();
    let t = Instant::now();
    let before = board.counters();
    board.write(0, &words).expect("write");
    let w = delta(board.counters(), before);
    let payload = 2 * words.len() as u64;
    println!(
        "WRITE {} words in {}-byte bodies: {} cycles, payload at {:.1}% of the line rate \
         (host->device line busy {:.1}%, device idle {:.1}%) [{:.2} s wall, {:.2} Mcycles/s]",
        words.len(),
        board.capabilities().max_body,
        w.total_cycles,
        100.0 * line_cycles(payload) as f64 / w.total_cycles as f64,
        100.0 * w.host_to_device_cycles as f64 / w.total_cycles as f64,
        100.0 * w.device_cycles as f64 / w.total_cycles as f64,
        t.elapsed().as_secs_f64(),
        w.total_cycles as f64 / t.elapsed().as_secs_f64() / 1e6
    );

    let t = Instant::now();
    let before = board.counters();
    let back = board.read(0, words.len()).expect("read");
    let rd = delta(board.counters(), before);
    assert_eq!(back, words, "read back what was written");
    println!(
        "READ {} words: {} cycles, payload at {:.1}% of the line rate (device->host line busy \
         {:.1}%, device idle {:.1}%) [{:.2} s wall, {:.2} Mcycles/s]",
        words.len(),
        rd.total_cycles,
        100.0 * line_cycles(payload) as f64 / rd.total_cycles as f64,
        100.0 * rd.device_to_host_cycles as f64 / rd.total_cycles as f64,
        100.0 * rd.device_cycles as f64 / rd.total_cycles as f64,
        t.elapsed().as_secs_f64(),
        rd.total_cycles as f64 / t.elapsed().as_secs_f64() / 1e6
    );

    // GEMM-heavy: operands written once, then many GEMMs over them, C read back once.
    let (m, k, n) = (64u16, 64u16, 64u16);
    let t = Instant::now();
    let before = board.counters();
    let a_words = u32::from(m) * u32::from(k);
    board
        .write(
            0,
            &words[..(a_words + u32::from(k) * u32::from(n)) as usize],
        )
        .expect("operands");
    let gemms = 8;
    for i in 0..gemms {
        let g = GemmDescriptor {
            a: Tensor { addr: 0, stride: k },
            b: Tensor {
                addr: a_words,
                stride: n,
            },
            c: Tensor {
                addr: 2 * a_words,
                stride: n,
            },
            m,
            k,
            n,
            trans_a: i % 2 == 1,
            trans_b: i % 4 >= 2,
            accumulate: false,
            fl_a: 12,
            fl_b: 12,
            fl_c: 12,
            rounding: Rounding::Stochastic,
            row_state: 0xACE1 + i,
            col_state: 0x1234 + i,
        };
        board.gemm(&g).expect("gemm");
    }
    board
        .read(2 * a_words, usize::from(m) * usize::from(n))
        .expect("C");
    let g = delta(board.counters(), before);
    let pct = |x: u64| 100.0 * x as f64 / g.total_cycles as f64;
    println!(
        "GEMM-heavy ({gemms} GEMMs {m}x{k}x{n}, operands written once, C read once): {} cycles: \
         GEMM compute {:.1}% ({} cycles reported), link busy {:.1}%, device busy with the link \
         idle {:.1}% (compute + decode/encode), so compute / link-wait = {:.2} \
         [{:.2} s wall, {:.2} Mcycles/s]",
        g.total_cycles,
        pct(g.gemm_cycles),
        g.gemm_cycles,
        pct(g.link_busy_cycles),
        pct(g.device_cycles),
        g.gemm_cycles as f64 / g.link_busy_cycles as f64,
        t.elapsed().as_secs_f64(),
        g.total_cycles as f64 / t.elapsed().as_secs_f64() / 1e6
    );
    println!("link stats: {:?}", board.link_stats());
}
