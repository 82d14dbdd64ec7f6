//! The device side of training: which board runs it, what crosses its link, and where each
//! tensor lives in its memory.

use anyhow::bail;
use qtrain_driver::accelerator::{AccelError, Accelerator, ModelBoard};
use qtrain_driver::device::{Capabilities, Command, EngineConfig, Tensor};

use crate::array_shape::ArrayShape;
use crate::commands::board::{self, Backend};

/// Device memory of the model backend unless `--mem-words` says otherwise: room for the
/// 784-256-10 MLP (203k words of weights) with its gradients and a batch of 256.
pub const MODEL_MEM_WORDS: u32 = 1 << 20;

/// A board opened for training and what it can tell about itself.
pub struct TrainingBoard {
    /// The board, counting the bytes of every exchange.
    pub board: CountingBoard,
    /// Whether its GEMM and STATUS cycle counts are real (the software engine counts none).
    pub counts_cycles: bool,
}

/// Opens the board of `backend` for training: the one place a new backend is added.
///
/// `model` is a [`ModelBoard`] with `mem_words` of memory and the `array` shape in its
/// capabilities; `sim` is the Verilated device with the `array` shape (4x4 without one);
/// USB and emulated boards are opened as `qtrain gemm` opens them, and must already have the
/// array they are asked for.
pub fn open_board(
    backend: Backend,
    mem_words: Option<u32>,
    array: Option<ArrayShape>,
) -> anyhow::Result<TrainingBoard> {
    let (inner, counts_cycles): (Box<dyn Accelerator>, bool) = match backend {
        Backend::Model => {
            let mut config = EngineConfig {
                mem_words: mem_words.unwrap_or(MODEL_MEM_WORDS),
                ..EngineConfig::default()
            };
            if let Some(a) = array {
                config.rows = a.rows as u8;
                config.cols = a.cols as u8;
            }
            let mut b = ModelBoard::new(config);
            b.hello()?;
            (Box::new(b), false)
        }
        other => {
            if mem_words.is_some() {
                bail!("--mem-words sets the model backend's memory; a {other:?} board has its own");
            }
            // A simulated device is built with the array asked for; real boards have theirs.
            let b = if other == Backend::Sim {
                board::open_with(other, array)?
            } else {
                board::open(other)?
            };
            if let Some(a) = array {
                let caps = b.capabilities();
                if (usize::from(caps.rows), usize::from(caps.cols)) != (a.rows, a.cols) {
                    bail!(
                        "--array {a}: the board has a {}x{} array",
                        caps.rows,
                        caps.cols
                    );
                }
            }
            // The emulated board runs the software engine behind the USB stack: no clock.
            (b, other != Backend::Emulated)
        }
    };
    Ok(TrainingBoard {
        board: CountingBoard::new(inner),
        counts_cycles,
    })
}

/// Frame header (8 bytes) and CRC (4 bytes) around every body (protocol.md §1).
const FRAME_OVERHEAD: u64 = 12;

/// A board that counts the bytes its exchanges put on the link: header, body and CRC of each
/// command and response frame (COBS stuffing and the delimiters, under 1% more, not counted).
/// For the model backend this is what a real link would have carried.
pub struct CountingBoard {
    inner: Box<dyn Accelerator>,
    bytes: u64,
}

impl CountingBoard {
    /// Wraps a board; the count starts at 0.
    pub fn new(inner: Box<dyn Accelerator>) -> CountingBoard {
        CountingBoard { inner, bytes: 0 }
    }

    /// Bytes counted so far.
    pub fn link_bytes(&self) -> u64 {
        self.bytes
    }
}

impl Accelerator for CountingBoard {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn execute(&mut self, cmd: &Command) -> Result<Vec<u8>, AccelError> {
        let request = match cmd {
            // Skips encoding the largest bodies a second time just to measure them.
            Command::Write { words, .. } => 4 + 2 * words.len(),
            other => other.encode().len(),
        };
        let body = self.inner.execute(cmd)?;
        self.bytes += 2 * FRAME_OVERHEAD + request as u64 + body.len() as u64;
        Ok(body)
    }
}

/// A named block of device memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// What it holds.
    pub name: String,
    /// First word.
    pub addr: u32,
    /// Words.
    pub words: u64,
}

/// Lays tensors out one after another from word 0, remembering what each block is for, so
/// that a plan that does not fit can say what takes the room.
#[derive(Clone, Debug, Default)]
pub struct Arena {
    regions: Vec<Region>,
    next: u64,
}

impl Arena {
    /// Reserves `rows x cols` words (stride `cols`) and returns the tensor.
    pub fn tensor(&mut self, name: impl Into<String>, rows: usize, cols: usize) -> Tensor {
        let words = (rows * cols) as u64;
        let addr = u32::try_from(self.next).unwrap_or(u32::MAX);
        self.regions.push(Region {
            name: name.into(),
            addr,
            words,
        });
        self.next += words;
        Tensor {
            addr,
            stride: u16::try_from(cols).unwrap_or(u16::MAX),
        }
    }

    /// Words reserved in all.
    pub fn words(&self) -> u64 {
        self.next
    }

    /// Errors, before anything is sent, if the plan does not fit `mem_words`.
    pub fn check_fits(&self, mem_words: u32, what: &str) -> anyhow::Result<()> {
        if self.next <= u64::from(mem_words) {
            return Ok(());
        }
        let mut big: Vec<&Region> = self.regions.iter().collect();
        big.sort_by_key(|r| std::cmp::Reverse(r.words));
        let list: Vec<String> = big
            .iter()
            .take(4)
            .map(|r| format!("{} {}", r.name, r.words))
            .collect();
        bail!(
            "array/memory too small for this network: {what} needs {} words of device memory \
             (largest: {}), the device has {mem_words}; use a smaller --batch or --layers, or \
             (model backend) a larger --mem-words",
            self.next,
            list.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_lays_out_and_refuses_what_does_not_fit() {
        let mut a = Arena::default();
        let x = a.tensor("x", 2, 3);
        let y = a.tensor("y", 4, 5);
        assert_eq!((x.addr, x.stride, y.addr, y.stride), (0, 3, 6, 5));
        assert_eq!(a.words(), 26);
        assert!(a.check_fits(26, "t").is_ok());
        let err = a.check_fits(25, "the test").unwrap_err().to_string();
        assert!(
            err.contains("array/memory too small for this network"),
            "{err}"
        );
        assert!(err.contains("26 words") && err.contains("y 20"), "{err}");
    }

    #[test]
    fn counting_board_counts_frames() {
        let mut b = open_board(Backend::Model, Some(1024), None).unwrap();
        let before = b.board.link_bytes();
        b.board.board_write_for_test();
        // WRITE of 3 words: 12 + 4 + 6 out, 12 back; READ of 3: 12 + 6 out, 12 + 6 back.
        assert_eq!(b.board.link_bytes() - before, 34 + 36);
        assert!(!b.counts_cycles);
    }

    impl CountingBoard {
        fn board_write_for_test(&mut self) {
            self.write(10, &[1, 2, 3]).unwrap();
            assert_eq!(self.read(10, 3).unwrap(), vec![1, 2, 3]);
        }
    }
}
