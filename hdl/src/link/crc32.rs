//! CRC-32/ISO-HDLC one byte per clock, as the host computes it (driver/src/link/crc.rs):
//! reflected polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF.

use rust_hdl::prelude::*;

/// The reflected CRC-32 polynomial.
pub const CRC32_POLY: u32 = 0xEDB8_8320;

/// What [`Crc32::crc`] shows after a message followed by its own CRC (little-endian): the
/// receiver feeds everything and compares against this instead of holding back four bytes.
pub const CRC32_RESIDUE: u32 = 0x2144_DF1C;

/// Folds one byte per clock into a CRC-32/ISO-HDLC.
///
/// `crc` is the CRC of the bytes fed since the last `init` (final xor applied), so it reads
/// 0 right after `init` and after power-up. At an edge with `init` high the CRC restarts (and
/// `data` is ignored); else with `enable` high `data` is folded in.
#[derive(LogicBlock)]
pub struct Crc32 {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// The next byte.
    pub data: Signal<In, Bits<8>>,
    /// Fold `data` in at the next edge.
    pub enable: Signal<In, Bit>,
    /// Restart at the next edge (priority over `enable`).
    pub init: Signal<In, Bit>,
    /// The CRC of the bytes fed so far.
    pub crc: Signal<Out, Bits<32>>,
    // The shift register, complemented: registers power up at 0 and the CRC starts at all ones,
    // and the complement is also the final xor, so this register is the CRC itself.
    crc_reg: DFF<Bits<32>>,
    // stage[i]: the (uncomplemented) shift register after i of the byte's bits.
    stage: Vec<Signal<Local, Bits<32>>>,
    poly: Constant<Bits<32>>,
    zero: Constant<Bits<32>>,
}

impl Default for Crc32 {
    fn default() -> Crc32 {
        Crc32 {
            clock: Default::default(),
            data: Default::default(),
            enable: Default::default(),
            init: Default::default(),
            crc: Default::default(),
            crc_reg: Default::default(),
            stage: (0..=8).map(|_| Default::default()).collect(),
            poly: Constant::new(bits(CRC32_POLY as u64)),
            zero: Constant::new(bits(0)),
        }
    }
}

impl Logic for Crc32 {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, crc_reg);
        self.stage[0].next = !self.crc_reg.q.val();
        // Bits enter LSB first; a fixed XOR network of eight one-bit steps.
        for i in 0..8 {
            if self.stage[i].val().get_bit(0) ^ self.data.val().get_bit(i) {
                self.stage[i + 1].next = (self.stage[i].val() >> 1) ^ self.poly.val();
            } else {
                self.stage[i + 1].next = self.stage[i].val() >> 1;
            }
        }
        // A one-iteration loop: rust-hdl's Verilog generator resolves indices that name only
        // loop variables and literals.
        for last in 8..9 {
            if self.init.val() {
                self.crc_reg.d.next = self.zero.val();
            } else if self.enable.val() {
                self.crc_reg.d.next = !self.stage[last].val();
            }
        }
        self.crc.next = self.crc_reg.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Feeds `bytes` one per cycle (with an idle cycle after every third, which must not
    /// change the CRC) after an `init`, and returns the CRC.
    fn run(uut: &mut Crc32, bytes: &[u8]) -> u32 {
        uut.init.next = true;
        uut.enable.next = true;
        uut.data.next = bits(0xA5);
        clock_cycle!(uut);
        uut.init.next = false;
        assert_eq!(uut.crc.val().to_u32(), 0);
        for (n, &b) in bytes.iter().enumerate() {
            uut.data.next = bits(b as u64);
            uut.enable.next = true;
            clock_cycle!(uut);
            if n % 3 == 2 {
                let held = uut.crc.val();
                uut.enable.next = false;
                uut.data.next = bits(0x5A);
                clock_cycle!(uut);
                assert_eq!(uut.crc.val(), held);
            }
        }
        uut.crc.val().to_u32()
    }

    #[test]
    fn check_value_and_residue() {
        let mut uut = Crc32::default();
        uut.connect_all();
        // The published check value of CRC-32/ISO-HDLC.
        assert_eq!(run(&mut uut, b"123456789"), 0xCBF4_3926);
        assert_eq!(run(&mut uut, b""), 0);
        // A message followed by its CRC always leaves the residue, whatever the message.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for len in [0usize, 1, 7, 64] {
            let mut msg: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let crc = run(&mut uut, &msg);
            msg.extend(crc.to_le_bytes());
            assert_eq!(run(&mut uut, &msg), CRC32_RESIDUE, "len {len}");
            msg[0] ^= 0x10;
            assert_ne!(run(&mut uut, &msg), CRC32_RESIDUE, "len {len}");
        }
    }
}
