//! The vector unit against the model: a memory model answers the unit's reads one cycle late
//! and applies its writes; the whole memory afterwards must equal what qtrain_model computes.

use super::*;
use qtrain_model::{bias_add, qrelu, qrelu_mask, relu, relu_mask, update, Matrix, Rounding};
use qtrain_model::{UpdateParams, MAX_FL_ETA, MAX_GRID_SHIFT, MAX_UPDATE_SHIFT};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MEM_WORDS: usize = 1 << 16;

/// A tensor placement: address and row stride.
#[derive(Clone, Copy, Debug)]
struct Place {
    addr: usize,
    stride: usize,
}

impl Place {
    fn words(&self, rows: usize, cols: usize) -> impl Iterator<Item = usize> + '_ {
        (0..rows).flat_map(move |i| (0..cols).map(move |j| self.addr + i * self.stride + j))
    }

    fn gather(&self, mem: &[i16], rows: usize, cols: usize) -> Matrix {
        Matrix::from_fn(rows, cols, |i, j| mem[self.addr + i * self.stride + j])
    }

    fn scatter(&self, mem: &mut [i16], m: &Matrix) {
        for i in 0..m.rows {
            for j in 0..m.cols {
                mem[self.addr + i * self.stride + j] = m.get(i, j);
            }
        }
    }
}

/// One command for the unit.
#[derive(Clone, Copy, Debug)]
struct Cmd {
    op: u64,
    x: Place,
    d: Place,
    y: Place,
    b_addr: usize,
    rows: usize,
    cols: usize,
    fl_x: u8,
    fl_b: u8,
    alpha: i16,
    bits: u8,
    p: UpdateParams,
}

impl Cmd {
    /// What the model makes of `mem` (the device engine's gather / compute / scatter).
    fn expected(&self, mem: &[i16]) -> Vec<i16> {
        let (r, c) = (self.rows, self.cols);
        let x = self.x.gather(mem, r, c);
        let d = self.d.gather(mem, r, c);
        let y = match self.op {
            OP_BIAS_ADD => {
                let b = &mem[self.b_addr..self.b_addr + c];
                bias_add(&x, b, self.fl_x, self.fl_b).unwrap()
            }
            OP_RELU => relu(&x),
            OP_RELU_MASK => relu_mask(&x, &d).unwrap(),
            OP_QRELU => qrelu(&x, self.alpha, self.bits).unwrap(),
            OP_QRELU_MASK => qrelu_mask(&x, &d, self.alpha, self.bits).unwrap(),
            OP_UPDATE => update(&x, &d, &self.p).unwrap(),
            _ => unreachable!(),
        };
        let mut out = mem.to_vec();
        self.y.scatter(&mut out, &y);
        out
    }

    fn drive(&self, uut: &mut VectorUnit) {
        let b32 = |v: usize| bits::<32>(v as u64);
        let b16 = |v: usize| bits::<16>(v as u64);
        let w16 = |v: i16| bits::<16>(u64::from(v as u16));
        let p = &self.p;
        uut.op.next = bits(self.op);
        uut.x_addr.next = b32(self.x.addr);
        uut.x_stride.next = b16(self.x.stride);
        uut.d_addr.next = b32(self.d.addr);
        uut.d_stride.next = b16(self.d.stride);
        uut.y_addr.next = b32(self.y.addr);
        uut.y_stride.next = b16(self.y.stride);
        uut.b_addr.next = b32(self.b_addr);
        uut.rows.next = b16(self.rows);
        uut.cols.next = b16(self.cols);
        uut.fl_x.next = bits(u64::from(self.fl_x));
        uut.fl_b.next = bits(u64::from(self.fl_b));
        uut.alpha.next = w16(self.alpha);
        uut.bits.next = bits(u64::from(self.bits));
        uut.fl_w.next = bits(u64::from(p.fl_w));
        uut.fl_g.next = bits(u64::from(p.fl_g));
        uut.fl_eta.next = bits(u64::from(p.fl_eta));
        uut.rounding.next = bits(p.rounding as u64);
        uut.eta_q.next = bits(u64::from(p.eta_q));
        uut.grid_shift.next = bits(u64::from(p.grid_shift));
        uut.grid_offset.next = w16(p.grid_offset);
        uut.w_min.next = w16(p.w_min);
        uut.w_max.next = w16(p.w_max);
        uut.row_state.next = bits(u64::from(p.row_state));
        uut.col_state.next = bits(u64::from(p.col_state));
    }
}

/// Runs `cmd` on `uut` against `mem` (a synchronous-read memory model) and returns the cycles
/// from the start pulse to the fall of busy. Checks the interface rules on the way: busy
/// rises the cycle after start, writes only while busy, and only to words of Y, each once.
fn run(uut: &mut VectorUnit, cmd: &Cmd, mem: &mut [i16]) -> usize {
    cmd.drive(uut);
    let y_words: std::collections::HashSet<usize> = cmd.y.words(cmd.rows, cmd.cols).collect();
    let mut written = std::collections::HashSet::new();
    let mut read_data = 0u16;
    let limit = 20 * cmd.rows * cmd.cols + 10;
    let mut cycle = 0;
    loop {
        uut.start.next = cycle == 0;
        uut.mem_rd_data.next = bits(u64::from(read_data));
        assert!(simulate(uut, 1000), "the unit did not settle");
        let busy = uut.busy.val();
        if cycle == 0 {
            assert!(!busy, "busy before start");
        } else if !busy {
            assert!(!uut.mem_wr_en.val(), "write while not busy");
            break;
        }
        assert!(cycle < limit, "busy for more than {limit} cycles: {cmd:?}");
        let rd = uut.mem_rd_addr.val().to_u32() as usize;
        let wr = uut.mem_wr_en.val().then(|| {
            let a = uut.mem_wr_addr.val().to_u32() as usize;
            (a, uut.mem_wr_data.val().to_u16() as i16)
        });
        clock_cycle!(uut);
        // Read-before-write at the same edge, as a block RAM in read-first mode.
        read_data = mem[rd % MEM_WORDS] as u16;
        if let Some((a, v)) = wr {
            assert!(y_words.contains(&a), "write outside Y at {a}: {cmd:?}");
            assert!(written.insert(a), "second write of {a}: {cmd:?}");
            mem[a] = v;
        }
        cycle += 1;
    }
    assert_eq!(written.len(), y_words.len(), "not every word of Y written");
    cycle
}

fn new_unit() -> VectorUnit {
    let mut uut = VectorUnit::default();
    uut.connect_all();
    uut
}

/// A value with its share of the extremes and of small numbers.
fn word(rng: &mut ChaCha8Rng) -> i16 {
    match rng.gen_range(0..10) {
        0 => [i16::MIN, i16::MAX, 0, 1, -1][rng.gen_range(0..5)],
        1..=3 => rng.gen_range(-64..=64),
        _ => rng.gen(),
    }
}

fn fill(rng: &mut ChaCha8Rng, mem: &mut [i16]) {
    mem.iter_mut().for_each(|w| *w = word(rng));
}

/// Places X, D, Y and b with random gaps, from a random base or against the top of memory;
/// Y is X itself when `in_place`.
fn layout(rng: &mut ChaCha8Rng, rows: usize, cols: usize, in_place: bool) -> [Place; 4] {
    let mut stride = || cols + [0, 0, 1, 3][rng.gen_range(0..4usize)];
    let strides = [stride(), stride(), stride(), cols];
    let gaps: [usize; 4] = std::array::from_fn(|_| rng.gen_range(0..3));
    let span = |n: usize| {
        let r = if n == 3 { 1 } else { rows };
        (r - 1) * strides[n] + cols
    };
    let total: usize = (0..4).map(|n| span(n) + gaps[n]).sum();
    let mut next = if rng.gen_range(0..4) == 0 {
        MEM_WORDS - total
    } else {
        rng.gen_range(0..=MEM_WORDS - total)
    };
    let mut places = [Place { addr: 0, stride: 0 }; 4];
    for n in 0..4 {
        places[n] = Place {
            addr: next,
            stride: strides[n],
        };
        next += span(n) + gaps[n];
    }
    if in_place {
        places[2] = places[0];
    }
    places
}

fn random_params(rng: &mut ChaCha8Rng) -> UpdateParams {
    loop {
        let fl_w = rng.gen_range(0..=15);
        let fl_g = rng.gen_range(0..=15);
        let fl_eta = rng.gen_range(0..=MAX_FL_ETA);
        let s = i32::from(fl_g) + i32::from(fl_eta) - i32::from(fl_w);
        if !(0..=MAX_UPDATE_SHIFT).contains(&s) {
            continue;
        }
        let max_g = (MAX_UPDATE_SHIFT - s).min(i32::from(MAX_GRID_SHIFT)) as u8;
        let grid_shift = [0, max_g, rng.gen_range(0..=max_g)][rng.gen_range(0..3usize)];
        let (a, b) = (word(rng), word(rng));
        let (w_min, w_max) = match rng.gen_range(0..3) {
            0 => (i16::MIN, i16::MAX),
            _ => (a.min(b), a.max(b)),
        };
        let p = UpdateParams {
            fl_w,
            fl_g,
            fl_eta,
            eta_q: [0, 1, u16::MAX, rng.gen()][rng.gen_range(0..4usize)],
            rounding: Rounding::ALL[rng.gen_range(0..3)],
            grid_shift,
            grid_offset: if rng.gen() { 0 } else { word(rng) },
            w_min,
            w_max,
            row_state: rng.gen_range(1..=u32::MAX),
            col_state: rng.gen_range(1..=u32::MAX),
        };
        p.validate().expect("the generator keeps to the domains");
        return p;
    }
}

/// A random command of kind `op` with at most `max_el` elements.
fn random_cmd(rng: &mut ChaCha8Rng, op: u64, max_el: usize) -> Cmd {
    let rows = if rng.gen_range(0..4) == 0 {
        1
    } else {
        rng.gen_range(1..=max_el.min(8))
    };
    let cols = if rng.gen_range(0..4) == 0 {
        1
    } else {
        rng.gen_range(1..=(max_el / rows).max(1))
    };
    // UPDATE always runs in place (the engine sets Y = X = W).
    let in_place = op == OP_UPDATE || rng.gen();
    let [x, d, y, b] = layout(rng, rows, cols, in_place);
    Cmd {
        op,
        x,
        d,
        y,
        b_addr: b.addr,
        rows,
        cols,
        fl_x: rng.gen_range(0..=15),
        fl_b: rng.gen_range(0..=15),
        alpha: match rng.gen_range(0..4) {
            0 => 1,
            1 => i16::MAX,
            2 => rng.gen_range(1..=300),
            _ => rng.gen_range(1..=i16::MAX),
        },
        bits: rng.gen_range(1..=8),
        p: random_params(rng),
    }
}

/// Runs `cmd` from a random memory and compares the whole memory with the model's.
fn check(uut: &mut VectorUnit, rng: &mut ChaCha8Rng, mem: &mut [i16], cmd: &Cmd) -> usize {
    fill(rng, mem);
    let want = cmd.expected(mem);
    let cycles = run(uut, cmd, mem);
    if let Some(at) = (0..MEM_WORDS).find(|&a| mem[a] != want[a]) {
        panic!("word {at}: got {}, want {}; {cmd:?}", mem[at], want[at]);
    }
    cycles
}

#[test]
fn relu_and_relu_mask_match_model() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut uut = new_unit();
    let mut mem = vec![0i16; MEM_WORDS];
    for n in 0..80 {
        let op = [OP_RELU, OP_RELU_MASK][n % 2];
        let cmd = random_cmd(&mut rng, op, 24);
        check(&mut uut, &mut rng, &mut mem, &cmd);
    }
}

#[test]
fn bias_add_every_alignment_matches_model() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut uut = new_unit();
    let mut mem = vec![0i16; MEM_WORDS];
    // d = fl_x - fl_b from -15 to 15, including both ends and 0.
    for d in (-15i32..=15).chain(-15..=15).chain(-15..=15) {
        let mut cmd = random_cmd(&mut rng, OP_BIAS_ADD, 12);
        let base = rng.gen_range(0..=(15 - d.abs())) as u8;
        (cmd.fl_x, cmd.fl_b) = if d >= 0 {
            (base + d as u8, base)
        } else {
            (base, base + (-d) as u8)
        };
        check(&mut uut, &mut rng, &mut mem, &cmd);
    }
}

#[test]
fn qrelu_and_mask_every_bits_match_model() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut uut = new_unit();
    let mut mem = vec![0i16; MEM_WORDS];
    for nbits in 1..=8u8 {
        for alpha in [1i16, 2, 3, 127, 4097, 20000, i16::MAX] {
            for op in [OP_QRELU, OP_QRELU_MASK] {
                let mut cmd = random_cmd(&mut rng, op, 8);
                (cmd.bits, cmd.alpha) = (nbits, alpha);
                check(&mut uut, &mut rng, &mut mem, &cmd);
            }
        }
    }
}

#[test]
fn update_every_rounding_and_grid_matches_model() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut uut = new_unit();
    let mut mem = vec![0i16; MEM_WORDS];
    for n in 0..120 {
        let mut cmd = random_cmd(&mut rng, OP_UPDATE, 16);
        cmd.p.rounding = Rounding::ALL[n % 3];
        check(&mut uut, &mut rng, &mut mem, &cmd);
    }
    // The extremes of the domains: s = 0 and s = 30, g = 15, eta_q = 65535, binary weights.
    let extremes = [
        (15, 0, 15, 0, u16::MAX),
        (0, 15, 15, 0, u16::MAX),
        (0, 0, 15, 15, 1),
        (15, 15, 0, 15, u16::MAX),
        (15, 14, 31, 0, 12345),
    ];
    for (fl_w, fl_g, fl_eta, g, eta_q) in extremes {
        for rounding in Rounding::ALL {
            let mut cmd = random_cmd(&mut rng, OP_UPDATE, 8);
            cmd.p = UpdateParams {
                fl_w,
                fl_g,
                fl_eta,
                eta_q,
                rounding,
                grid_shift: g,
                ..cmd.p
            };
            cmd.p.validate().unwrap();
            check(&mut uut, &mut rng, &mut mem, &cmd);
        }
    }
    let mut cmd = random_cmd(&mut rng, OP_UPDATE, 12);
    cmd.p.grid_shift = 1;
    cmd.p.grid_offset = 1;
    (cmd.p.w_min, cmd.p.w_max) = (-1, 1);
    cmd.p.validate().unwrap();
    check(&mut uut, &mut rng, &mut mem, &cmd);
}

#[test]
fn cycles_per_element() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut uut = new_unit();
    let mut mem = vec![0i16; MEM_WORDS];
    for (op, per_element) in [
        (OP_BIAS_ADD, 5),
        (OP_RELU, 3),
        (OP_RELU_MASK, 3),
        (OP_QRELU, 0),
        (OP_QRELU_MASK, 0),
        (OP_UPDATE, 5),
    ] {
        let mut cmd = random_cmd(&mut rng, op, 12);
        (cmd.rows, cmd.cols) = (3, 4);
        let [x, d, y, b] = layout(&mut rng, 3, 4, op == OP_UPDATE);
        (cmd.x, cmd.d, cmd.y, cmd.b_addr) = (x, d, y, b.addr);
        let per_element = if per_element == 0 {
            usize::from(cmd.bits) + 4
        } else {
            per_element
        };
        let cycles = check(&mut uut, &mut rng, &mut mem, &cmd);
        assert_eq!(cycles, 2 + 12 * per_element, "op {op}");
    }
}

#[test]
#[ignore = "long: a few minutes in release"]
fn many_random_commands_match_model() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut uut = new_unit();
    let mut mem = vec![0i16; MEM_WORDS];
    for n in 0..6000 {
        let op = (n % 6) as u64;
        let cmd = random_cmd(&mut rng, op, 80);
        check(&mut uut, &mut rng, &mut mem, &cmd);
    }
}
