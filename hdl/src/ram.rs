//! `SizedRam<D, N>`: rust-hdl's `RAM` with a depth chosen at construction instead of `2^N`.
//!
//! The device's memories (device memory, scratchpad banks, frame buffers) must fit each board's
//! block RAM, so their depth is a per-board value (see [`crate::device::DeviceGeometry`]) while
//! the address ports keep the widest width any board uses: the blocks around them do not change
//! shape with the board, only the constants they compare against.

use rust_hdl::prelude::*;

/// A memory of `depth` words of `D` (a power of two, `2..=2^N`) with one synchronous read port
/// and one write port, port for port and cycle for cycle what rust-hdl's `RAM<D, N>` is:
/// `read_data` takes the word at `read_address` at each rising `read_clock` (the old word when
/// the same address is written at that edge), and `write_enable` writes `write_data` at
/// `write_address` at the rising `write_clock`. Unwritten words read as zero.
///
/// Only the low `log2(depth)` address bits select a word, so an address at or above `depth`
/// aliases one below it; every user keeps its addresses below the depth. The Verilog is a plain
/// `reg` array of exactly `depth` words, which yosys maps onto block RAM (DP16KD on ECP5,
/// SB_RAM40_4K on iCE40) of just that size.
#[derive(LogicBlock)]
pub struct SizedRam<D: Synth, const N: usize> {
    /// Address read at the next `read_clock` edge.
    pub read_address: Signal<In, Bits<N>>,
    /// Read clock.
    pub read_clock: Signal<In, Clock>,
    /// The word at the `read_address` of the last `read_clock` edge.
    pub read_data: Signal<Out, D>,
    /// Address written at the next `write_clock` edge.
    pub write_address: Signal<In, Bits<N>>,
    /// Write clock.
    pub write_clock: Signal<In, Clock>,
    /// The word to write.
    pub write_data: Signal<In, D>,
    /// Write at the next `write_clock` edge.
    pub write_enable: Signal<In, Bit>,
    _mem: Vec<D>,
    _collisions_undefined: bool,
}

impl<D: Synth, const N: usize> SizedRam<D, N> {
    /// A zeroed memory of `depth` words.
    ///
    /// # Panics
    /// If `depth` is not a power of two in `2..=2^N`.
    pub fn new(depth: usize) -> Self {
        assert!(
            depth.is_power_of_two() && depth >= 2 && depth.trailing_zeros() as usize <= N,
            "SizedRam depth {depth} must be a power of two in 2..=2^{N}"
        );
        SizedRam {
            read_address: Default::default(),
            read_clock: Default::default(),
            read_data: Default::default(),
            write_address: Default::default(),
            write_clock: Default::default(),
            write_data: Default::default(),
            write_enable: Default::default(),
            _mem: vec![D::default(); depth],
            _collisions_undefined: false,
        }
    }

    /// This memory with the read of a word that is written at the same edge left undefined:
    /// for users whose read data in such a cycle is never used.
    ///
    /// Block RAMs differ on such collisions (yosys assumes nothing of the iCE40's), so for the
    /// read-before-write rule yosys adds a bypass: a register of the written word and of the
    /// collision, and a multiplexer on the read data, about 40 iCE40 logic cells per memory.
    /// Here the Verilog carries `(* no_rw_check *)`, which drops the bypass, and the simulation
    /// model returns a poisoned word on a collision (zero, or the written word when the old
    /// one is zero: never the old word unless old and new are equal, when any block RAM agrees),
    /// so that a user that does read such a word fails its tests against the model.
    pub fn with_collisions_undefined(mut self) -> Self {
        self._collisions_undefined = true;
        self
    }

    /// Words of memory.
    pub fn depth(&self) -> usize {
        self._mem.len()
    }

    /// Address bits that select a word: `log2(depth)`.
    fn used_bits(&self) -> usize {
        self._mem.len().trailing_zeros() as usize
    }

    /// The word index an address selects.
    fn slot(&self, addr: Bits<N>) -> usize {
        addr.index() & (self._mem.len() - 1)
    }
}

impl<D: Synth, const N: usize> Default for SizedRam<D, N> {
    /// The full depth, `2^N` words, as rust-hdl's `RAM<D, N>`.
    fn default() -> Self {
        Self::new(1 << N)
    }
}

impl<D: Synth, const N: usize> Logic for SizedRam<D, N> {
    fn update(&mut self) {
        // Read before write: a read and a write of one address at one edge return the old word.
        if self.read_clock.pos_edge() {
            let slot = self.slot(self.read_address.val());
            self.read_data.next = self._mem[slot];
            let collides = self.write_clock.pos_edge()
                && self.write_enable.val()
                && self.slot(self.write_address.val()) == slot;
            if self._collisions_undefined && collides {
                let old = self._mem[slot];
                self.read_data.next = if old == D::default() {
                    self.write_data.val()
                } else {
                    D::default()
                };
            }
        }
        if self.write_clock.pos_edge() && self.write_enable.val() {
            let slot = self.slot(self.write_address.val());
            self._mem[slot] = self.write_data.val();
        }
    }

    fn connect(&mut self) {
        self.read_data.connect();
    }

    fn hdl(&self) -> Verilog {
        let k = self.used_bits();
        // Verilator's -Wall wants an index exactly as wide as the array needs, and every input
        // bit used: the address bits above the depth go into a wire its `*unused*` rule skips.
        let (rd, wr, unused) = if k == N {
            (
                "read_address".to_string(),
                "write_address".to_string(),
                String::new(),
            )
        } else {
            (
                format!("read_address[{}:0]", k - 1),
                format!("write_address[{}:0]", k - 1),
                format!(
                    "wire unused_address_bits = |{{read_address[{hi}:{k}], write_address[{hi}:{k}]}};\n",
                    hi = N - 1
                ),
            )
        };
        Verilog::Custom(format!(
            "\
{attr}reg [{msb}:0] mem [0:{last}];
{unused}
always @(posedge read_clock) begin
   read_data <= mem[{rd}];
end

always @(posedge write_clock) begin
   if (write_enable) begin
      mem[{wr}] <= write_data;
   end
end
",
            attr = if self._collisions_undefined {
                "(* no_rw_check *) "
            } else {
                ""
            },
            msb = D::BITS - 1,
            last = self._mem.len() - 1,
        ))
    }

    fn timing(&self) -> Vec<TimingInfo> {
        vec![
            TimingInfo {
                name: "ram_read".into(),
                clock: "read_clock".into(),
                inputs: vec!["read_address".into()],
                outputs: vec!["read_data".into()],
            },
            TimingInfo {
                name: "ram_write".into(),
                clock: "write_clock".into(),
                inputs: vec![
                    "write_address".into(),
                    "write_data".into(),
                    "write_enable".into(),
                ],
                outputs: vec![],
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A sized memory and rust-hdl's own RAM side by side, fed the same ports.
    #[derive(LogicBlock)]
    struct Pair {
        clock: Signal<In, Clock>,
        rd: Signal<In, Bits<6>>,
        wr: Signal<In, Bits<6>>,
        data: Signal<In, Bits<16>>,
        we: Signal<In, Bit>,
        sized: SizedRam<Bits<16>, 6>,
        reference: RAM<Bits<16>, 6>,
    }

    impl Logic for Pair {
        #[hdl_gen]
        fn update(&mut self) {
            self.sized.read_clock.next = self.clock.val();
            self.sized.write_clock.next = self.clock.val();
            self.sized.read_address.next = self.rd.val();
            self.sized.write_address.next = self.wr.val();
            self.sized.write_data.next = self.data.val();
            self.sized.write_enable.next = self.we.val();
            self.reference.read_clock.next = self.clock.val();
            self.reference.write_clock.next = self.clock.val();
            self.reference.read_address.next = self.rd.val();
            self.reference.write_address.next = self.wr.val();
            self.reference.write_data.next = self.data.val();
            self.reference.write_enable.next = self.we.val();
        }
    }

    fn pair(depth: usize) -> Pair {
        let mut p = Pair {
            clock: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            data: Default::default(),
            we: Default::default(),
            sized: SizedRam::new(depth),
            reference: Default::default(),
        };
        p.connect_all();
        p
    }

    #[test]
    fn full_depth_behaves_as_rust_hdl_ram() {
        // Random reads and writes, same-address read and write included: every read returns
        // what rust-hdl's RAM returns, in the same cycle.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut uut = pair(64);
        for step in 0..2000 {
            uut.rd.next = bits(rng.gen_range(0..64));
            uut.wr.next = if rng.gen_bool(0.2) {
                uut.rd.next
            } else {
                bits(rng.gen_range(0..64))
            };
            uut.data.next = bits(rng.gen::<u16>() as u64);
            uut.we.next = rng.gen_bool(0.5);
            clock_cycle!(&mut uut);
            assert_eq!(
                uut.sized.read_data.val(),
                uut.reference.read_data.val(),
                "step {step}"
            );
        }
    }

    #[test]
    fn smaller_depth_matches_a_vector_model() {
        // A 16-word memory behind 6-bit addresses: below the depth it is a RAM (one-cycle
        // read, read-before-write); the address bits above the depth select nothing.
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut uut = pair(16);
        assert_eq!(uut.sized.depth(), 16);
        let mut model = [0u16; 16];
        for step in 0..2000 {
            let (rd, wr) = (rng.gen_range(0..64usize), rng.gen_range(0..64usize));
            let (data, we) = (rng.gen::<u16>(), rng.gen_bool(0.5));
            uut.rd.next = bits(rd as u64);
            uut.wr.next = bits(wr as u64);
            uut.data.next = bits(u64::from(data));
            uut.we.next = we;
            let want = model[rd % 16];
            if we {
                model[wr % 16] = data;
            }
            clock_cycle!(&mut uut);
            assert_eq!(uut.sized.read_data.val().to_u16(), want, "step {step}");
        }
    }

    #[test]
    fn verilog_declares_exactly_the_depth() {
        let small = SizedRam::<Bits<16>, 14>::new(1024);
        let Verilog::Custom(v) = small.hdl() else {
            panic!("custom Verilog expected")
        };
        assert!(v.contains("reg [15:0] mem [0:1023];"), "{v}");
        assert!(v.contains("mem[read_address[9:0]]"), "{v}");
        assert!(v.contains("read_address[13:10]"), "{v}");
        let full = SizedRam::<Bits<8>, 13>::default();
        let Verilog::Custom(v) = full.hdl() else {
            panic!("custom Verilog expected")
        };
        assert!(v.contains("reg [7:0] mem [0:8191];"), "{v}");
        assert!(
            v.contains("mem[read_address]") && !v.contains("unused"),
            "{v}"
        );
    }

    #[test]
    #[should_panic(expected = "power of two")]
    fn depth_above_the_address_range_is_refused() {
        let _ = SizedRam::<Bits<16>, 4>::new(32);
    }
}
