//! The random-word generator: a 32-bit Galois LFSR that advances 16 steps per clock
//! (numerics §5). "One step" of this block is one 16-bit word.

use rust_hdl::prelude::*;

/// Steps of the Galois LFSR per word (numerics §5).
pub const STEPS_PER_WORD: usize = 16;

/// A 32-bit right-shifting Galois LFSR producing one 16-bit word per clock.
///
/// `word` is `state & 0xFFFF`; on a clock edge with `load` high the state becomes
/// `load_state`, else with `advance` high it becomes `step^16(state)`, else it holds.
#[derive(LogicBlock)]
pub struct Lfsr {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Load `load_state` at the next edge (has priority over `advance`).
    pub load: Signal<In, Bit>,
    /// The state to load (must be nonzero).
    pub load_state: Signal<In, Bits<32>>,
    /// Advance one word (16 LFSR steps) at the next edge.
    pub advance: Signal<In, Bit>,
    /// The current word: `state & 0xFFFF`.
    pub word: Signal<Out, Bits<16>>,
    /// The current 32-bit state.
    pub state: Signal<Out, Bits<32>>,
    mask: Constant<Bits<32>>,
    state_reg: DFF<Bits<32>>,
    // stage[i] is the state after i single steps; the chain is a fixed XOR network.
    stage: Vec<Signal<Local, Bits<32>>>,
}

impl Lfsr {
    /// A generator with the Galois feedback `mask` (e.g. `qtrain_model::LFSR_A_MASK`).
    pub fn new(mask: u32) -> Lfsr {
        Lfsr {
            clock: Default::default(),
            load: Default::default(),
            load_state: Default::default(),
            advance: Default::default(),
            word: Default::default(),
            state: Default::default(),
            mask: Constant::new(bits(mask as u64)),
            state_reg: Default::default(),
            stage: (0..=STEPS_PER_WORD).map(|_| Default::default()).collect(),
        }
    }
}

impl Logic for Lfsr {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, state_reg);
        self.stage[0].next = self.state_reg.q.val();
        for i in 0..STEPS_PER_WORD {
            if self.stage[i].val().get_bit(0) {
                self.stage[i + 1].next = (self.stage[i].val() >> 1) ^ self.mask.val();
            } else {
                self.stage[i + 1].next = self.stage[i].val() >> 1;
            }
        }
        // A one-iteration loop: rust-hdl's Verilog generator resolves indices that name only
        // loop variables and literals.
        for end in STEPS_PER_WORD..(STEPS_PER_WORD + 1) {
            if self.load.val() {
                self.state_reg.d.next = self.load_state.val();
            } else if self.advance.val() {
                self.state_reg.d.next = self.stage[end].val();
            }
        }
        self.state.next = self.state_reg.q.val();
        self.word.next = self.state_reg.q.val().get_bits::<16>(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qtrain_model::{Lfsr as ModelLfsr, LFSR_A_MASK, LFSR_B_MASK};

    fn check_words(mask: u32, seed: u32) {
        let mut uut = Lfsr::new(mask);
        uut.connect_all();
        uut.load.next = true;
        uut.load_state.next = bits(seed as u64);
        clock_cycle!(&mut uut);
        uut.load.next = false;
        let mut model = ModelLfsr::new(seed, mask);
        for n in 0..50 {
            // Every third cycle holds: the word must not move.
            uut.advance.next = n % 3 != 2;
            assert!(simulate(&mut uut, 100));
            assert_eq!(uut.state.val().to_u32(), model.state, "word {n}");
            if n % 3 != 2 {
                assert_eq!(uut.word.val().to_u16(), model.next_word());
            } else {
                assert_eq!(uut.word.val().to_u16(), (model.state & 0xFFFF) as u16);
            }
            clock_cycle!(&mut uut);
        }
    }

    #[test]
    fn words_match_model_a() {
        check_words(LFSR_A_MASK, 0xDEAD_BEEF);
    }

    #[test]
    fn words_match_model_b() {
        check_words(LFSR_B_MASK, 1);
    }
}
