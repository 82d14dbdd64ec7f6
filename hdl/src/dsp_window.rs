//! The converter's 33-bit window taken with three 16 x 16 multipliers instead of a barrel
//! shifter: for boards whose DSP blocks are spare and whose logic cells are not (the iCE40UP5K).

use rust_hdl::prelude::*;

/// The window `{y[16:0], g}` of [`crate::convert::Convert`]: `floor(acc · 2^(16 - s)) mod 2^33`
/// for a shift `s` in -15..=30 (6-bit two's complement), combinational.
///
/// With `l = -s mod 16` and `m = 2^l`, the three unsigned products `acc[16t + 15 : 16t] · m`
/// (`t` = 0, 1, 2) give `P = acc · 2^l` modulo `2^48` after one 33-bit add, and the window is
/// `P` at a multiple of 16 bits: `{P[16:0], 16 zeros}` for `s <= 0`, `P[32:0]` for `1 <= s <= 16`
/// and `P[48:16]` for `s >= 17`. The top product is unsigned although `acc` is signed: the two
/// differ by `2^48 · m` for negative `acc`, which leaves bit 48 unchanged whenever `m` is even,
/// and `P[48]` is only read for `s >= 17`, where `l = 32 - s >= 2`.
///
/// On the iCEBreaker's 1x1 device this saves 205 logic cells (5,185 -> 4,980 packed) for 3
/// SB_MAC16.
#[derive(LogicBlock, Default)]
pub struct DspWindow {
    /// The accumulator (two's complement).
    pub acc: Signal<In, Bits<48>>,
    /// `s`, two's complement on 6 bits, -15..=30.
    pub shift: Signal<In, Bits<6>>,
    /// The window.
    pub win: Signal<Out, Bits<33>>,
}

impl Logic for DspWindow {
    fn update(&mut self) {
        // The same steps as the Verilog below, on native integers.
        let acc = self.acc.val().to_u64();
        let s = self.shift.val().to_u64();
        let l = s.wrapping_neg() & 15;
        let m = 1u64 << l;
        let part = |t: u64| ((acc >> (16 * t)) & 0xFFFF) * m;
        let (p0, p1, p2) = (part(0), part(1), part(2));
        let hi = (((p1 >> 16) << 16) | (p0 >> 16)) + (((p2 & 0x1_FFFF) << 16) | (p1 & 0xFFFF));
        let hi = hi & ((1 << 33) - 1);
        let negative_or_zero = s & 0x20 != 0 || s == 0;
        let win = if negative_or_zero {
            ((hi & 1) << 32) | ((p0 & 0xFFFF) << 16)
        } else if s <= 16 {
            ((hi & 0x1_FFFF) << 16) | (p0 & 0xFFFF)
        } else {
            hi
        };
        self.win.next = bits(win);
    }
    fn connect(&mut self) {
        self.win.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "\
wire [3:0] l = 4'd0 - shift[3:0];
wire [15:0] m = 16'd1 << l;
wire [31:0] p0 = acc[15:0] * m;
wire [31:0] p1 = acc[31:16] * m;
// Only p2[16:0] reaches the window (bits 32..48 of the scaled accumulator).
/* verilator lint_off UNUSEDSIGNAL */
wire [31:0] p2 = acc[47:32] * m;
/* verilator lint_on UNUSEDSIGNAL */
wire [32:0] hi = {1'b0, p1[31:16], p0[31:16]} + {p2[16:0], p1[15:0]};
always @(*) begin
    if (shift[5] || shift == 6'd0) win = {hi[0], p0[15:0], 16'd0};
    else if (shift <= 6'd16) win = {hi[16:0], p0[15:0]};
    else win = hi;
end
"
            .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn window_is_the_scaled_accumulator_for_every_shift() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut uut = DspWindow::default();
        uut.connect_all();
        for i in 0..20_000 {
            let s = rng.gen_range(-15i64..=30);
            let acc = match i % 3 {
                0 => (rng.gen::<i64>() << 16) >> 16,
                1 => rng.gen_range(-(1i64 << (s.max(0) + 17))..(1i64 << (s.max(0) + 17))),
                _ => [-1i64, 0, 1, -(1 << 47), (1 << 47) - 1][rng.gen_range(0..5)],
            };
            uut.acc.next = bits((acc as u64) & ((1 << 48) - 1));
            uut.shift.next = bits((s as u64) & 0x3F);
            assert!(simulate(&mut uut, 10));
            // floor(acc · 2^(16 - s)) mod 2^33, on 128 bits.
            let scaled = if s <= 16 {
                i128::from(acc) << (16 - s)
            } else {
                i128::from(acc) >> (s - 16)
            };
            let want = (scaled as u128 & ((1 << 33) - 1)) as u64;
            assert_eq!(uut.win.val().to_u64(), want, "acc {acc} s {s}");
        }
    }
}
