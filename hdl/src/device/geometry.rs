//! [`DeviceGeometry`]: the sizes of the device's memories, chosen per board at construction.

use super::{BUF_ADDR_BITS, DEVICE_MAX_BODY, DEVICE_MAX_K, MEM_WORDS};
use crate::link::{CRC_LEN, HEADER_LEN};

/// The smallest `max_body` a device may have: the software device (driver `DeviceEngine`)
/// needs room for the longest command descriptor (40 bytes) and a useful READ.
pub const MIN_MAX_BODY: usize = 64;

/// The sizes of the device's memories: device memory, scratchpad banks and frame buffers.
///
/// They are construction values, not type parameters: the address ports keep their widest
/// widths (16-bit memory, 14-bit scratchpad and 13-bit buffer addresses) and only the depth of
/// each memory and the limits the command engine checks change. A board picks the geometry
/// that fits its block RAM; [`DeviceGeometry::SIM`] is the largest one, what the simulations
/// and every test use unless they ask for another.
///
/// What it changes, and where CAPABILITIES reports it:
/// - `mem_words`: words of device memory (`mem_words`; OUT_OF_RANGE beyond it);
/// - `scratch_words`: words per scratchpad bank (`max_k`: a GEMM's K must fit one A bank;
///   OUT_OF_RANGE beyond it), and the pieces the GEMM unit cuts a GEMM into;
/// - `max_body`: the largest command body (`max_body`; BAD_LENGTH beyond it, and READ of more
///   than `max_body / 2` words is BAD_ARGUMENT); the frame buffers hold one frame of it;
/// - `vector_unit`: whether the device has the vector unit (`ops`: 0x3F with it, 0 without).
///   A GEMM-only device ([`Self::gemm_only`]) answers UNKNOWN_COMMAND to every vector command
///   and leaves the unit's logic out of the netlist: it is what a board too small for the
///   whole device (the iCE40UP5K) can still hold.
/// - `windows_in_dsps`: the converters at the GEMM core's column heads take their window with
///   three DSP multipliers each instead of a shifter ([`Self::with_windows_in_dsps`]; the same
///   results): for a board with DSP blocks to spare and few logic cells (the iCE40UP5K).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceGeometry {
    mem_words: usize,
    scratch_words: usize,
    max_body: usize,
    vector_unit: bool,
    windows_in_dsps: bool,
}

/// Why a [`DeviceGeometry`] cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GeometryError {
    /// `mem_words` is not a power of two in `2..=65536`.
    #[error("mem_words = {0} must be a power of two from 2 to 65536 (16-bit word addresses)")]
    MemWords(usize),
    /// `scratch_words` is not a power of two in `2..=16384`.
    #[error(
        "scratch_words = {0} must be a power of two from 2 to 16384 (14-bit scratchpad addresses)"
    )]
    ScratchWords(usize),
    /// `max_body` is outside `64..=4096`.
    #[error(
        "max_body = {0} must be from 64 (the longest descriptor) to 4096 (the protocol's limit)"
    )]
    MaxBody(usize),
}

impl DeviceGeometry {
    /// The largest geometry: 65,536 words of memory, 16,384-word scratchpad banks and 4096-byte
    /// bodies (8 KB frame buffers). What `--backend sim`, `SimBoard` and the tests use.
    pub const SIM: DeviceGeometry = DeviceGeometry {
        mem_words: MEM_WORDS,
        scratch_words: DEVICE_MAX_K,
        max_body: DEVICE_MAX_BODY,
        vector_unit: true,
        windows_in_dsps: false,
    };

    /// CAPABILITIES `ops` of a device with the vector unit: every vector command 0x30..=0x35.
    pub const ALL_VECTOR_OPS: u32 = 0x3F;

    /// A geometry with the vector unit, checked: both word counts powers of two within the
    /// address widths, `max_body` in `64..=4096`.
    pub fn new(
        mem_words: usize,
        scratch_words: usize,
        max_body: usize,
    ) -> Result<DeviceGeometry, GeometryError> {
        let pow2_in = |v: usize, max: usize| v.is_power_of_two() && (2..=max).contains(&v);
        if !pow2_in(mem_words, MEM_WORDS) {
            return Err(GeometryError::MemWords(mem_words));
        }
        if !pow2_in(scratch_words, DEVICE_MAX_K) {
            return Err(GeometryError::ScratchWords(scratch_words));
        }
        if !(MIN_MAX_BODY..=DEVICE_MAX_BODY).contains(&max_body) {
            return Err(GeometryError::MaxBody(max_body));
        }
        Ok(DeviceGeometry {
            mem_words,
            scratch_words,
            max_body,
            vector_unit: true,
            windows_in_dsps: false,
        })
    }

    /// The same sizes without the vector unit: a device that runs GEMMs and the memory and
    /// housekeeping commands only (CAPABILITIES `ops` = 0).
    pub const fn gemm_only(self) -> DeviceGeometry {
        DeviceGeometry {
            vector_unit: false,
            ..self
        }
    }

    /// The same device with the column heads' converter windows in DSP multipliers (three per
    /// column of the array; see [`crate::convert::Convert::with_window_in_dsps`]).
    pub const fn with_windows_in_dsps(self) -> DeviceGeometry {
        DeviceGeometry {
            windows_in_dsps: true,
            ..self
        }
    }

    /// Whether the converter windows are in DSP multipliers.
    pub const fn windows_in_dsps(&self) -> bool {
        self.windows_in_dsps
    }

    /// Whether the device has the vector unit.
    pub const fn vector_unit(&self) -> bool {
        self.vector_unit
    }

    /// CAPABILITIES `ops`: bit `c - 0x30` for each vector command `c` the device runs.
    pub const fn ops(&self) -> u32 {
        if self.vector_unit {
            Self::ALL_VECTOR_OPS
        } else {
            0
        }
    }

    /// Words of device memory (CAPABILITIES `mem_words`).
    pub const fn mem_words(&self) -> usize {
        self.mem_words
    }

    /// Words per scratchpad bank of the GEMM core.
    pub const fn scratch_words(&self) -> usize {
        self.scratch_words
    }

    /// The largest GEMM K (CAPABILITIES `max_k`): one row of op(A) per A bank.
    pub const fn max_k(&self) -> usize {
        self.scratch_words
    }

    /// The largest command body in bytes (CAPABILITIES `max_body`).
    pub const fn max_body(&self) -> usize {
        self.max_body
    }

    /// Bytes of each frame buffer (receive and transmit): the power of two that holds the
    /// header, the largest body and the CRC (8,192 for [`Self::SIM`]).
    pub const fn frame_buffer_bytes(&self) -> usize {
        (HEADER_LEN + self.max_body + CRC_LEN).next_power_of_two()
    }

    /// Bits of memory the device of an `rows x cols` array holds: device memory, the
    /// `rows + 2 * cols` scratchpad banks and the two frame buffers.
    pub const fn memory_bits(&self, rows: usize, cols: usize) -> usize {
        16 * self.mem_words
            + 16 * (rows + 2 * cols) * self.scratch_words
            + 2 * 8 * self.frame_buffer_bytes()
    }
}

impl Default for DeviceGeometry {
    /// [`DeviceGeometry::SIM`].
    fn default() -> DeviceGeometry {
        DeviceGeometry::SIM
    }
}

impl std::fmt::Display for DeviceGeometry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "memory {} words, scratchpad banks of {} words, bodies up to {} bytes",
            self.mem_words, self.scratch_words, self.max_body
        )?;
        if !self.vector_unit {
            write!(f, ", GEMM only (no vector unit)")?;
        }
        if self.windows_in_dsps {
            write!(f, ", converter windows in DSPs")?;
        }
        Ok(())
    }
}

// The frame buffers' address ports are BUF_ADDR_BITS wide; the largest buffer must fit.
const _: () = assert!(DeviceGeometry::SIM.frame_buffer_bytes() <= 1 << BUF_ADDR_BITS);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_is_todays_device() {
        let g = DeviceGeometry::SIM;
        assert_eq!(
            (g.mem_words(), g.scratch_words(), g.max_k(), g.max_body()),
            (65_536, 16_384, 16_384, 4096)
        );
        assert_eq!(g.frame_buffer_bytes(), 8192);
        assert_eq!(DeviceGeometry::new(65_536, 16_384, 4096), Ok(g));
        assert_eq!(DeviceGeometry::default(), g);
        assert!(g.vector_unit());
        assert_eq!(g.ops(), 0x3F);
    }

    #[test]
    fn gemm_only_keeps_the_sizes_and_reports_no_ops() {
        let g = DeviceGeometry::new(1024, 256, 512).unwrap();
        let lean = g.gemm_only();
        assert!(!lean.vector_unit());
        assert_eq!(lean.ops(), 0);
        assert_eq!(
            (lean.mem_words(), lean.max_k(), lean.max_body()),
            (1024, 256, 512)
        );
        assert_ne!(lean, g);
        assert!(lean.to_string().ends_with("GEMM only (no vector unit)"));
        assert!(!g.to_string().contains("GEMM only"));
    }

    #[test]
    fn sizes_are_checked() {
        assert_eq!(
            DeviceGeometry::new(3000, 256, 512),
            Err(GeometryError::MemWords(3000))
        );
        assert_eq!(
            DeviceGeometry::new(1 << 17, 256, 512),
            Err(GeometryError::MemWords(1 << 17))
        );
        assert_eq!(
            DeviceGeometry::new(4096, 1 << 15, 512),
            Err(GeometryError::ScratchWords(1 << 15))
        );
        assert_eq!(
            DeviceGeometry::new(4096, 0, 512),
            Err(GeometryError::ScratchWords(0))
        );
        assert_eq!(
            DeviceGeometry::new(4096, 256, 63),
            Err(GeometryError::MaxBody(63))
        );
        assert_eq!(
            DeviceGeometry::new(4096, 256, 4097),
            Err(GeometryError::MaxBody(4097))
        );
        let err = DeviceGeometry::new(4096, 100, 512).unwrap_err().to_string();
        assert!(err.contains("scratch_words = 100"), "{err}");
    }

    #[test]
    fn buffers_hold_one_frame_of_the_largest_body() {
        let g = DeviceGeometry::new(4096, 256, 512).unwrap();
        assert_eq!(g.frame_buffer_bytes(), 1024);
        let g = DeviceGeometry::new(4096, 256, 1012).unwrap();
        assert_eq!(g.frame_buffer_bytes(), 1024);
        let g = DeviceGeometry::new(4096, 256, 1013).unwrap();
        assert_eq!(g.frame_buffer_bytes(), 2048);
        // 2x2: 4096 + 6 * 256 words of 16 bits, two 1 KB buffers.
        let g = DeviceGeometry::new(4096, 256, 512).unwrap();
        assert_eq!(g.memory_bits(2, 2), 16 * (4096 + 6 * 256) + 16 * 1024);
    }
}
