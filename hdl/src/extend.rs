//! Width-changing leaf primitives with hand-written Verilog.
//!
//! rust-hdl has no concatenation: widening a signal with `bit_cast` emits `x & WIDE_MASK`,
//! which Verilator's `-Wall` flags (WIDTH) because the operands differ in width. These tiny
//! blocks emit the width change as an explicit concatenation instead, and a signed 16 x 16
//! multiply whose operands are sign-extended by the Verilog rules (not by a cast that
//! rust-hdl would wrap in a self-determined `$signed(...)`, which would truncate the product).

use rust_hdl::prelude::*;

/// Zero-extends an `N`-bit input to `M >= N` bits (combinational).
#[derive(LogicBlock, Default)]
pub struct ZeroExtend<const N: usize, const M: usize> {
    /// The narrow input.
    pub inp: Signal<In, Bits<N>>,
    /// The input with `M - N` zero bits on top.
    pub out: Signal<Out, Bits<M>>,
}

impl<const N: usize, const M: usize> Logic for ZeroExtend<N, M> {
    fn update(&mut self) {
        self.out.next = bit_cast::<M, N>(self.inp.val());
    }
    fn connect(&mut self) {
        self.out.connect();
    }
    fn hdl(&self) -> Verilog {
        assert!(M > N, "ZeroExtend needs M > N");
        Verilog::Custom(format!("always @(*) out = {{{}'b0, inp}};", M - N))
    }
}

/// Sign-extends an `N`-bit two's-complement input to `M > N` bits (combinational).
#[derive(LogicBlock, Default)]
pub struct SignExtend<const N: usize, const M: usize> {
    /// The narrow input (two's complement).
    pub inp: Signal<In, Bits<N>>,
    /// The same value on `M` bits.
    pub out: Signal<Out, Bits<M>>,
}

impl<const N: usize, const M: usize> Logic for SignExtend<N, M> {
    fn update(&mut self) {
        let low = bit_cast::<M, N>(self.inp.val());
        self.out.next = if self.inp.val().get_bit(N - 1) {
            low | !bit_cast::<M, N>(Bits::<N>::mask())
        } else {
            low
        };
    }
    fn connect(&mut self) {
        self.out.connect();
    }
    fn hdl(&self) -> Verilog {
        assert!(M > N, "SignExtend needs M > N");
        Verilog::Custom(format!(
            "always @(*) out = {{{{{}{{inp[{}]}}}}, inp}};",
            M - N,
            N - 1
        ))
    }
}

/// Exact signed 16 x 16 product, delivered sign-extended on 48 bits (combinational).
///
/// One DSP multiplier on an FPGA; simulated with native integers (rust-hdl's own `Signed`
/// multiply goes through big integers and dominates simulation time).
#[derive(LogicBlock, Default)]
pub struct MulS16 {
    /// Multiplicand (two's complement).
    pub a: Signal<In, Bits<16>>,
    /// Multiplier (two's complement).
    pub b: Signal<In, Bits<16>>,
    /// `a * b`, exact, two's complement on 48 bits.
    pub p: Signal<Out, Bits<48>>,
}

impl Logic for MulS16 {
    fn update(&mut self) {
        let a = self.a.val().to_u16() as i16 as i64;
        let b = self.b.val().to_u16() as i16 as i64;
        self.p.next = bits::<48>(((a * b) as u64) & ((1u64 << 48) - 1));
    }
    fn connect(&mut self) {
        self.p.connect();
    }
    fn hdl(&self) -> Verilog {
        // Both operands signed, 48-bit context: Verilog sign-extends them before multiplying.
        Verilog::Custom("always @(*) p = $signed(a) * $signed(b);".into())
    }
}

/// Exact product of an unsigned 16-bit `a` and a signed 16-bit `b`, delivered sign-extended
/// on 48 bits (combinational). One DSP multiplier; the vector unit's `eta_q * G`.
#[derive(LogicBlock, Default)]
pub struct MulU16S16 {
    /// Multiplicand (unsigned).
    pub a: Signal<In, Bits<16>>,
    /// Multiplier (two's complement).
    pub b: Signal<In, Bits<16>>,
    /// `a * b`, exact, two's complement on 48 bits.
    pub p: Signal<Out, Bits<48>>,
}

impl Logic for MulU16S16 {
    fn update(&mut self) {
        let a = self.a.val().to_u16() as i64;
        let b = self.b.val().to_u16() as i16 as i64;
        self.p.next = bits::<48>(((a * b) as u64) & ((1u64 << 48) - 1));
    }
    fn connect(&mut self) {
        self.p.connect();
    }
    fn hdl(&self) -> Verilog {
        // A zero on top makes `a` a positive signed operand; in the 48-bit context Verilog
        // sign-extends both before multiplying.
        Verilog::Custom("always @(*) p = $signed({1'b0, a}) * $signed(b);".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle<B: Block>(uut: &mut B) {
        uut.connect_all();
        assert!(simulate(uut, 100));
    }

    #[test]
    fn sign_extend_negative_and_positive() {
        let mut uut = SignExtend::<16, 48>::default();
        for v in [0x8000u64, 0x7FFF, 0xFFFF, 0x1234] {
            uut.inp.next = bits(v);
            settle(&mut uut);
            let want = v as u16 as i16 as i64 as u64 & ((1 << 48) - 1);
            assert_eq!(uut.out.val(), bits::<48>(want), "value {v:#x}");
        }
    }

    #[test]
    fn zero_extend_keeps_value() {
        let mut uut = ZeroExtend::<4, 6>::default();
        for v in 0..16u64 {
            uut.inp.next = bits(v);
            settle(&mut uut);
            assert_eq!(uut.out.val(), bits::<6>(v));
        }
    }

    #[test]
    fn mul_extremes() {
        let mut uut = MulS16::default();
        for (a, b) in [
            (-32768i64, -32768i64),
            (-32768, 32767),
            (-1, 1),
            (123, -456),
        ] {
            uut.a.next = bits(a as u64 & 0xFFFF);
            uut.b.next = bits(b as u64 & 0xFFFF);
            settle(&mut uut);
            assert_eq!(uut.p.val(), bits::<48>((a * b) as u64 & ((1 << 48) - 1)));
        }
    }

    #[test]
    fn mul_unsigned_by_signed_extremes() {
        let mut uut = MulU16S16::default();
        for (a, b) in [
            (65535i64, -32768i64),
            (65535, 32767),
            (0, -1),
            (1, -1),
            (40000, -3),
        ] {
            uut.a.next = bits(a as u64);
            uut.b.next = bits(b as u64 & 0xFFFF);
            settle(&mut uut);
            assert_eq!(uut.p.val(), bits::<48>((a * b) as u64 & ((1 << 48) - 1)));
        }
    }

    #[test]
    fn verilog_is_a_concatenation() {
        let v = generate_verilog_unchecked(&SignExtend::<32, 48>::default());
        assert!(v.contains("{{16{inp[31]}}, inp}"), "{v}");
    }
}
