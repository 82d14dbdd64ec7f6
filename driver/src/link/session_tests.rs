use super::*;
use crate::device::code;
use crate::link::FrameDecoder;

/// A pipe whose far side is a script: it sees each frame written and queues reply bytes.
struct ScriptPipe<F: FnMut(&Frame, usize) -> Vec<u8>> {
    reply: F,
    sent: Vec<Vec<u8>>,
    rx: Vec<u8>,
    clock: Instant,
}

impl<F: FnMut(&Frame, usize) -> Vec<u8>> ScriptPipe<F> {
    fn new(reply: F) -> Self {
        ScriptPipe {
            reply,
            sent: Vec::new(),
            rx: Vec::new(),
            clock: Instant::now(),
        }
    }
}

impl<F: FnMut(&Frame, usize) -> Vec<u8>> BytePipe for ScriptPipe<F> {
    fn write_all(&mut self, data: &[u8], _timeout: Duration) -> Result<(), PipeError> {
        let frames = FrameDecoder::new().push(data);
        let frame = frames[0].clone().expect("the link sends valid frames");
        let bytes = (self.reply)(&frame, self.sent.len());
        self.sent.push(data.to_vec());
        self.rx.extend(bytes);
        Ok(())
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PipeError> {
        if self.rx.is_empty() {
            // Nothing will come: the whole wait passes.
            self.clock += timeout;
            return Ok(0);
        }
        let n = buf.len().min(self.rx.len());
        buf[..n].copy_from_slice(&self.rx[..n]);
        self.rx.drain(..n);
        Ok(n)
    }
    fn now(&mut self) -> Instant {
        self.clock
    }
}

fn response(f: &Frame, status: u8, body: Vec<u8>) -> Vec<u8> {
    Frame::new(f.header.kind | code::RESPONSE, f.header.seq, status, body).encode()
}

#[test]
fn stale_and_foreign_responses_are_discarded() {
    let pipe = ScriptPipe::new(|f: &Frame, _| {
        let mut out = Frame::new(
            f.header.kind | 0x80,
            f.header.seq.wrapping_sub(1),
            0,
            vec![9],
        )
        .encode();
        out.extend(Frame::new(code::WRITE | 0x80, f.header.seq, 0, vec![8]).encode());
        out.extend([0x00, 0x13, 0x37, 0x00]);
        out.extend(response(f, 0, vec![1, 2]));
        out
    });
    let mut link = Link::new(pipe, LinkConfig::default());
    let body = link
        .exchange(code::STATUS, vec![], 24, Duration::ZERO)
        .unwrap();
    assert_eq!(body, vec![1, 2]);
    let s = link.stats();
    assert_eq!((s.stale, s.bad_frames, s.retries), (2, 1, 0));
}

#[test]
fn retries_resend_the_same_frame_then_report_a_lost_link() {
    let pipe = ScriptPipe::new(|_: &Frame, _| Vec::new());
    let mut link = Link::new(pipe, LinkConfig::default());
    let err = link
        .exchange(code::GEMM, vec![0; 40], 4, Duration::from_millis(3))
        .unwrap_err();
    match &err {
        LinkError::Lost {
            command,
            seq,
            attempts,
            ..
        } => assert_eq!((*command, *seq, *attempts), ("GEMM", 0, 6)),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("no response to GEMM"), "{err}");
    let sent = &link.pipe_mut().sent;
    assert_eq!(sent.len(), 6);
    assert!(sent.iter().all(|s| s == &sent[0]), "same bytes, same seq");
    assert_eq!(link.next_seq(), 1, "a lost command still used up its seq");
}

#[test]
fn a_late_answer_to_the_first_attempt_is_accepted_on_the_second() {
    // The first attempt gets nothing; the second gets the answer.
    let pipe = ScriptPipe::new(|f: &Frame, n| {
        if n == 0 {
            Vec::new()
        } else {
            response(f, 0, vec![])
        }
    });
    let mut link = Link::new(pipe, LinkConfig::default());
    link.exchange(code::RESET, vec![], 0, Duration::ZERO)
        .unwrap();
    assert_eq!(link.stats().retries, 1);
    assert_eq!(link.stats().timeouts, 1);
}

#[test]
fn device_statuses_become_typed_errors_and_seq_wraps() {
    let pipe = ScriptPipe::new(|f: &Frame, _| match f.header.kind {
        code::READ => response(f, StatusCode::OutOfRange as u8, vec![]),
        code::GEMM => response(f, 77, vec![]),
        _ => response(f, 0, vec![]),
    });
    let mut link = Link::new(pipe, LinkConfig::default());
    link.seq = u16::MAX;
    let err = link
        .exchange(code::READ, vec![0; 6], 2, Duration::ZERO)
        .unwrap_err();
    assert_eq!(
        err,
        LinkError::Device {
            command: "READ",
            status: StatusCode::OutOfRange
        }
    );
    assert_eq!(err.to_string(), "device rejected READ: OUT_OF_RANGE (3)");
    assert_eq!(link.next_seq(), 0, "seq wraps at 2^16");
    let err = link
        .exchange(code::GEMM, vec![0; 40], 4, Duration::ZERO)
        .unwrap_err();
    assert!(matches!(err, LinkError::UnknownStatus { status: 77, .. }));
    assert_eq!(link.next_seq(), 1);
}

#[test]
fn timeout_grows_with_bytes_and_execution_bound() {
    let link = Link::new(
        ScriptPipe::new(|_: &Frame, _| Vec::new()),
        LinkConfig {
            retries: 5,
            base_timeout: Duration::from_millis(10),
            baud: 1_000_000,
        },
    );
    // 1000 bytes at 10 bits each, 1 Mbaud: 10 ms.
    assert_eq!(
        link.timeout(1000, Duration::from_millis(5)),
        Duration::from_millis(25)
    );
}
