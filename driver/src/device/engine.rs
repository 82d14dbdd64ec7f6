//! The device side of the protocol in plain software: the reference the HDL command engine
//! is checked against.
//!
//! It decodes a command, checks it (length, then arguments, then address ranges, then
//! overlaps of outputs with inputs, as protocol.md §5 orders them: a rejected command changes
//! nothing), runs it with the model's arithmetic on a flat word memory, and
//! keeps the seq memory that makes retries idempotent (protocol.md §2).

use qtrain_model::{GemmParams, MatMut, MatRef, Matrix};

use super::commands::{
    code, Capabilities, Command, DeviceStatus, GemmDescriptor, Tensor, UpdateDescriptor, VectorOp,
};
use super::wire::StatusCode;
use crate::link::{Frame, FrameError, PROTOCOL_VERSION};

/// The shape and limits of an emulated device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Words of device memory.
    pub mem_words: u32,
    /// PE array rows (only enters the cycle estimate).
    pub rows: u8,
    /// PE array columns (only enters the cycle estimate).
    pub cols: u8,
    /// Largest command body accepted, at most 4096.
    pub max_body: u16,
    /// Largest GEMM K.
    pub max_k: u32,
    /// Reported clock.
    pub clock_hz: u32,
    /// Reported baud.
    pub baud: u32,
    /// The vector commands implemented (CAPABILITIES `ops`, bit `c - 0x30` for command `c`);
    /// the others are UNKNOWN_COMMAND, as on a GEMM-only device.
    pub ops: u32,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            mem_words: 1 << 16,
            rows: 4,
            cols: 4,
            max_body: 4096,
            max_k: 4096,
            clock_hz: 12_000_000,
            baud: 3_000_000,
            ops: ALL_VECTOR_OPS,
        }
    }
}

/// Every vector command (0x30..=0x35) is implemented.
pub const ALL_VECTOR_OPS: u32 = 0x3F;

/// Whether `kind` is a vector command missing from `ops`.
fn missing_vector_op(ops: u32, kind: u8) -> bool {
    (code::BIAS_ADD..=code::UPDATE).contains(&kind) && ops & (1 << (kind - code::BIAS_ADD)) == 0
}

/// What the software engine reports for cycles and `busy_cycles`: it models results, not time.
const NO_CYCLES: u32 = 0;

/// A software device: memory, counters and the seq memory.
#[derive(Clone, Debug)]
pub struct DeviceEngine {
    caps: Capabilities,
    mem: Vec<i16>,
    status: DeviceStatus,
    /// The seq and response frame of the last command executed.
    last: Option<(u16, Frame)>,
}

type Outcome = Result<Vec<u8>, StatusCode>;

impl DeviceEngine {
    /// A device with zeroed memory.
    ///
    /// # Panics
    /// If `max_body` exceeds the protocol's 4096 bytes or is too small for a GEMM descriptor.
    pub fn new(cfg: EngineConfig) -> DeviceEngine {
        assert!(
            (64..=crate::link::MAX_BODY as u16).contains(&cfg.max_body),
            "max_body {} is outside 64..=4096",
            cfg.max_body
        );
        DeviceEngine {
            caps: Capabilities {
                protocol: PROTOCOL_VERSION,
                hw_major: 0,
                hw_minor: 1,
                rows: cfg.rows,
                cols: cfg.cols,
                max_body: cfg.max_body,
                mem_words: cfg.mem_words,
                max_k: cfg.max_k,
                clock_hz: cfg.clock_hz,
                baud: cfg.baud,
                ops: cfg.ops & ALL_VECTOR_OPS,
            },
            mem: vec![0; cfg.mem_words as usize],
            status: DeviceStatus::default(),
            last: None,
        }
    }

    /// What CAPABILITIES answers.
    pub fn capabilities(&self) -> Capabilities {
        self.caps
    }

    /// The whole device memory.
    pub fn memory(&self) -> &[i16] {
        &self.mem
    }

    /// The counters STATUS would report now.
    pub fn status(&self) -> DeviceStatus {
        self.status
    }

    /// Counts a block the receiver dropped (CRC errors apart from other framing errors).
    pub fn note_frame_error(&mut self, err: &FrameError) {
        let counter = match err {
            FrameError::BadCrc => &mut self.status.crc_errors,
            _ => &mut self.status.frame_errors,
        };
        *counter = counter.saturating_add(1);
    }

    /// Answers one command frame. A repeat of the last seq gets the remembered response
    /// without executing again; HELLO and RESET always execute and leave nothing remembered,
    /// so a restarted host's HELLO can never be answered from a stale seq.
    pub fn handle_frame(&mut self, frame: &Frame) -> Frame {
        let kind = frame.header.kind;
        let seq = frame.header.seq;
        let always = kind == code::HELLO || kind == code::RESET;
        if !always {
            if let Some((last_seq, response)) = &self.last {
                if *last_seq == seq {
                    return response.clone();
                }
            }
        }
        let (status, body) = self.execute(kind, &frame.body);
        let response = Frame::new(kind | code::RESPONSE, seq, status as u8, body);
        let forgets = always && status == StatusCode::Ok;
        if forgets {
            self.last = None;
        } else {
            self.last = Some((seq, response.clone()));
        }
        response
    }

    /// Decodes and runs one command body without the seq memory (a [`crate::accelerator::ModelBoard`]
    /// calls this directly). Returns the status and the response body (empty unless OK).
    pub fn execute(&mut self, kind: u8, body: &[u8]) -> (StatusCode, Vec<u8>) {
        // Counted first, so STATUS includes itself and RESET leaves zero behind.
        self.status.commands = self.status.commands.wrapping_add(1);
        let outcome = if kind & code::RESPONSE != 0 {
            Err(StatusCode::UnknownCommand)
        } else if body.len() > usize::from(self.caps.max_body) {
            Err(StatusCode::BadLength)
        } else if missing_vector_op(self.caps.ops, kind) {
            Err(StatusCode::UnknownCommand)
        } else {
            Command::decode(kind, body).and_then(|cmd| self.run(&cmd))
        };
        self.finish(kind, outcome)
    }

    /// [`Self::execute`] of `cmd.code()` and `cmd.encode()`, with the same status, response
    /// and counters, but WRITE and READ run without encoding and decoding their body: those
    /// carry a training step's tensors, and the byte round trip was a large part of the
    /// model backend's time.
    pub fn execute_command(&mut self, cmd: &Command) -> (StatusCode, Vec<u8>) {
        let body_len = match cmd {
            Command::Write { words, .. } => 4 + 2 * words.len(),
            Command::Read { .. } => 6,
            other => return self.execute(other.code(), &other.encode()),
        };
        self.status.commands = self.status.commands.wrapping_add(1);
        let outcome = if body_len > usize::from(self.caps.max_body) {
            Err(StatusCode::BadLength)
        } else if matches!(cmd, Command::Write { words, .. } if words.is_empty()) {
            // What decoding the 4-byte body of an empty WRITE answers.
            Err(StatusCode::BadLength)
        } else {
            self.run(cmd)
        };
        self.finish(cmd.code(), outcome)
    }

    /// Records the outcome of a command of `kind` in the counters; returns its status and body.
    fn finish(&mut self, kind: u8, outcome: Outcome) -> (StatusCode, Vec<u8>) {
        let status = match &outcome {
            Ok(_) => StatusCode::Ok,
            Err(s) => *s,
        };
        if kind != code::STATUS {
            self.status.last_status = status as u8;
        }
        (status, outcome.unwrap_or_default())
    }

    fn run(&mut self, cmd: &Command) -> Outcome {
        match cmd {
            Command::Hello { version } => {
                if *version != PROTOCOL_VERSION {
                    return Err(StatusCode::BadVersion);
                }
                Ok(self.caps.encode())
            }
            Command::Capabilities => Ok(self.caps.encode()),
            Command::Status => Ok(self.status.encode()),
            Command::Reset => {
                self.status = DeviceStatus::default();
                Ok(Vec::new())
            }
            Command::Write { addr, words } => {
                let start = self.range(*addr, words.len() as u64)?;
                self.mem[start..start + words.len()].copy_from_slice(words);
                Ok(Vec::new())
            }
            Command::Read { addr, count } => {
                let n = usize::from(*count);
                if n == 0 || n > usize::from(self.caps.max_body) / 2 {
                    return Err(StatusCode::BadArgument);
                }
                let start = self.range(*addr, n as u64)?;
                let mut body = Vec::with_capacity(2 * n);
                for v in &self.mem[start..start + n] {
                    body.extend_from_slice(&v.to_le_bytes());
                }
                Ok(body)
            }
            Command::Gemm(g) => self.gemm(g),
            Command::Vector(op) => self.vector(op),
        }
    }

    /// Checks that `n` words from `addr` lie in memory; returns the start index.
    fn range(&self, addr: u32, n: u64) -> Result<usize, StatusCode> {
        if u64::from(addr) + n > u64::from(self.caps.mem_words) {
            return Err(StatusCode::OutOfRange);
        }
        Ok(addr as usize)
    }

    /// Checks a `rows x cols` tensor's arguments (dimensions >= 1, stride >= cols).
    fn shape_ok(t: Tensor, rows: usize, cols: usize) -> Result<(), StatusCode> {
        if rows == 0 || cols == 0 || usize::from(t.stride) < cols {
            return Err(StatusCode::BadArgument);
        }
        Ok(())
    }

    /// Checks that a tensor whose shape passed [`Self::shape_ok`] lies in memory.
    fn tensor_in_range(&self, t: Tensor, rows: usize, cols: usize) -> Result<(), StatusCode> {
        let span = (rows as u64 - 1) * u64::from(t.stride) + cols as u64;
        self.range(t.addr, span).map(|_| ())
    }

    fn gather(&self, t: Tensor, rows: usize, cols: usize) -> Matrix {
        let stride = usize::from(t.stride);
        let base = t.addr as usize;
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            let start = base + i * stride;
            data.extend_from_slice(&self.mem[start..start + cols]);
        }
        Matrix { rows, cols, data }
    }

    fn scatter(&mut self, t: Tensor, m: &Matrix) {
        let stride = usize::from(t.stride);
        let base = t.addr as usize;
        for i in 0..m.rows {
            let start = base + i * stride;
            self.mem[start..start + m.cols].copy_from_slice(m.row(i));
        }
    }

    fn gemm(&mut self, g: &GemmDescriptor) -> Outcome {
        let (m, k, n) = (usize::from(g.m), usize::from(g.k), usize::from(g.n));
        let (ar, ac) = if g.trans_a { (k, m) } else { (m, k) };
        let (br, bc) = if g.trans_b { (n, k) } else { (k, n) };
        Self::shape_ok(g.a, ar, ac)?;
        Self::shape_ok(g.b, br, bc)?;
        Self::shape_ok(g.c, m, n)?;
        let params = GemmParams {
            fl_a: g.fl_a,
            fl_b: g.fl_b,
            fl_c: g.fl_c,
            rounding: g.rounding,
            row_state: g.row_state,
            col_state: g.col_state,
        };
        params.validate().map_err(|_| StatusCode::BadArgument)?;
        if g.accumulate && params.shift() < 0 {
            return Err(StatusCode::BadArgument);
        }
        if k as u64 > u64::from(self.caps.max_k) {
            return Err(StatusCode::OutOfRange);
        }
        self.tensor_in_range(g.a, ar, ac)?;
        self.tensor_in_range(g.b, br, bc)?;
        self.tensor_in_range(g.c, m, n)?;
        // C is written while A and B are still read, so it may share no word with them.
        let c_region = Region::of(g.c, m, n);
        if c_region.overlaps(Region::of(g.a, ar, ac)) || c_region.overlaps(Region::of(g.b, br, bc))
        {
            return Err(StatusCode::BadArgument);
        }
        // Computed where the tensors lie: no copy in or out of device memory.
        let (c, inputs) = split_output(&mut self.mem, c_region);
        let a = inputs.view(g.a, ar, ac);
        let b = inputs.view(g.b, br, bc);
        let c = MatMut::new(m, n, c_region.stride, c).map_err(|_| StatusCode::BadArgument)?;
        qtrain_model::gemm_into(a, g.trans_a, b, g.trans_b, c, g.accumulate, &params)
            .map_err(|_| StatusCode::BadArgument)?;
        // The software engine has no clock: it reports 0 cycles rather than a guess. Cycle
        // counts are timing, not results; boards that count them report them here.
        Ok(NO_CYCLES.to_le_bytes().to_vec())
    }

    fn vector(&mut self, op: &VectorOp) -> Outcome {
        let bad = |_| StatusCode::BadArgument;
        let (y_tensor, y) = match *op {
            VectorOp::BiasAdd {
                x,
                y,
                rows,
                cols,
                b_addr,
                fl_x,
                fl_b,
            } => {
                let (r, c) = (usize::from(rows), usize::from(cols));
                self.check(&[x, y], r, c)?;
                if fl_x > qtrain_model::MAX_FL || fl_b > qtrain_model::MAX_FL {
                    return Err(StatusCode::BadArgument);
                }
                self.ranges(&[x, y], r, c)?;
                let start = self.range(b_addr, c as u64)?;
                let bias = Region::of(
                    Tensor {
                        addr: b_addr,
                        stride: cols,
                    },
                    1,
                    c,
                );
                if Region::of(y, r, c).overlaps(bias) {
                    return Err(StatusCode::BadArgument);
                }
                let b = self.mem[start..start + c].to_vec();
                let out = qtrain_model::bias_add(&self.gather(x, r, c), &b, fl_x, fl_b);
                (y, out.map_err(bad)?)
            }
            VectorOp::Relu { x, y, rows, cols } => {
                let (r, c) = (usize::from(rows), usize::from(cols));
                self.check(&[x, y], r, c)?;
                self.ranges(&[x, y], r, c)?;
                (y, qtrain_model::relu(&self.gather(x, r, c)))
            }
            VectorOp::ReluMask {
                x,
                d,
                y,
                rows,
                cols,
            } => {
                let (r, c) = (usize::from(rows), usize::from(cols));
                self.check(&[x, d, y], r, c)?;
                self.ranges(&[x, d, y], r, c)?;
                let out = qtrain_model::relu_mask(&self.gather(x, r, c), &self.gather(d, r, c));
                (y, out.map_err(bad)?)
            }
            VectorOp::Qrelu {
                x,
                y,
                rows,
                cols,
                alpha,
                bits,
            } => {
                let (r, c) = (usize::from(rows), usize::from(cols));
                self.check(&[x, y], r, c)?;
                check_qrelu(alpha, bits)?;
                self.ranges(&[x, y], r, c)?;
                let out = qtrain_model::qrelu(&self.gather(x, r, c), alpha, bits);
                (y, out.map_err(bad)?)
            }
            VectorOp::QreluMask {
                x,
                d,
                y,
                rows,
                cols,
                alpha,
                bits,
            } => {
                let (r, c) = (usize::from(rows), usize::from(cols));
                self.check(&[x, d, y], r, c)?;
                check_qrelu(alpha, bits)?;
                self.ranges(&[x, d, y], r, c)?;
                let (xm, dm) = (self.gather(x, r, c), self.gather(d, r, c));
                let out = qtrain_model::qrelu_mask(&xm, &dm, alpha, bits);
                (y, out.map_err(bad)?)
            }
            VectorOp::Update(u) => return self.update(&u).map(|()| Vec::new()),
        };
        self.scatter(y_tensor, &y);
        Ok(Vec::new())
    }

    /// The weight update, in place in device memory.
    fn update(&mut self, u: &UpdateDescriptor) -> Result<(), StatusCode> {
        let (r, c) = (usize::from(u.rows), usize::from(u.cols));
        self.check(&[u.w, u.g], r, c)?;
        u.params.validate().map_err(|_| StatusCode::BadArgument)?;
        self.ranges(&[u.g, u.w], r, c)?;
        let bad = |_| StatusCode::BadArgument;
        // G may be W itself (the range check allows an output equal to an input): then G is
        // read from a copy, as the device reads each word before it writes it.
        let g_copy = (u.g == u.w).then(|| self.gather(u.g, r, c));
        let w_region = Region::of(u.w, r, c);
        let (w, inputs) = split_output(&mut self.mem, w_region);
        let w = MatMut::new(r, c, w_region.stride, w).map_err(bad)?;
        let g = match &g_copy {
            Some(g) => g.view(),
            None => inputs.view(u.g, r, c),
        };
        qtrain_model::update_into(w, g, &u.params).map_err(bad)
    }

    fn check(&self, ts: &[Tensor], rows: usize, cols: usize) -> Result<(), StatusCode> {
        ts.iter().try_for_each(|&t| Self::shape_ok(t, rows, cols))
    }

    /// Checks that the tensors (the output last) lie in memory, and that the output shares no
    /// word with an input unless it is that very tensor (in place).
    fn ranges(&self, ts: &[Tensor], rows: usize, cols: usize) -> Result<(), StatusCode> {
        ts.iter()
            .try_for_each(|&t| self.tensor_in_range(t, rows, cols))?;
        let (&out, inputs) = ts.split_last().expect("every operation has an output");
        let out_region = Region::of(out, rows, cols);
        for &t in inputs {
            if t != out && out_region.overlaps(Region::of(t, rows, cols)) {
                return Err(StatusCode::BadArgument);
            }
        }
        Ok(())
    }
}

/// Device memory around an output's span: the words before it and after it, where the inputs
/// of an operation lie (an input may share no word with the output's span).
struct Inputs<'a> {
    before: &'a [i16],
    after: &'a [i16],
    /// Address of `after[0]`.
    after_addr: usize,
}

impl<'a> Inputs<'a> {
    /// The view of an input tensor that passed the range and overlap checks.
    fn view(&self, t: Tensor, rows: usize, cols: usize) -> MatRef<'a> {
        let addr = t.addr as usize;
        let data = if addr < self.before.len() {
            &self.before[addr..]
        } else {
            &self.after[addr - self.after_addr..]
        };
        MatRef::new(rows, cols, usize::from(t.stride), data)
            .expect("the range check keeps an input inside the memory around the output")
    }
}

/// Splits device memory into the output's span (from its first word) and what lies around it.
fn split_output(mem: &mut [i16], out: Region) -> (&mut [i16], Inputs<'_>) {
    let (before, rest) = mem.split_at_mut(out.addr);
    let (span, after) = rest.split_at_mut(out.end() - out.addr);
    (
        span,
        Inputs {
            before,
            after,
            after_addr: out.end(),
        },
    )
}

/// The span of a tensor placement that passed the range check.
#[derive(Clone, Copy, Debug)]
struct Region {
    addr: usize,
    stride: usize,
    rows: usize,
    cols: usize,
}

impl Region {
    fn of(t: Tensor, rows: usize, cols: usize) -> Region {
        Region {
            addr: t.addr as usize,
            stride: usize::from(t.stride),
            rows,
            cols,
        }
    }

    fn end(&self) -> usize {
        self.addr + (self.rows - 1) * self.stride + self.cols
    }

    /// Whether the two spans intersect. Spans, not words: two strided tensors that interleave
    /// in each other's padding count as overlapping. The device checks this with two
    /// comparisons; a word-exact test would need a search the command engine should not carry.
    fn overlaps(&self, other: Region) -> bool {
        self.addr < other.end() && other.addr < self.end()
    }
}

fn check_qrelu(alpha: i16, bits: u8) -> Result<(), StatusCode> {
    if alpha <= 0 || !(1..=8).contains(&bits) {
        return Err(StatusCode::BadArgument);
    }
    Ok(())
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
