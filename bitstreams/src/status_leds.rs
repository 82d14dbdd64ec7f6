//! `StatusLeds`: what a board's LEDs show.

use rust_hdl::prelude::*;

/// Cycles an LED stays lit after the last traffic seen on its serial line (2^20: about 20 ms at
/// 50 MHz, long enough to see a single frame).
pub const HOLD_BITS: usize = 20;
/// Width of the heartbeat counter; its top bit toggles every 2^25 cycles (1.1 s at 30 MHz).
/// `update` names the top bit as the literal 25: rust-hdl writes a Rust constant into the
/// Verilog by name, where it would be an undeclared identifier.
pub const BEAT_BITS: usize = 26;
const _: () = assert!(BEAT_BITS == 26);

/// Four status lights, active high: `beat` blinks while the core clock runs, `rx` and `tx` stay
/// lit `2^HOLD - 1` cycles (the boards use [`HOLD_BITS`]) after a low level (a start or data bit) on the host->board and
/// board->host lines, `locked` follows the PLL lock. While `button` is pressed all four are lit
/// (a lamp test).
#[derive(LogicBlock)]
pub struct StatusLeds<const HOLD: usize> {
    /// The core clock.
    pub clock: Signal<In, Clock>,
    /// The host -> board serial line.
    pub uart_rx: Signal<In, Bit>,
    /// The board -> host serial line.
    pub uart_tx: Signal<In, Bit>,
    /// The PLL's lock output.
    pub locked: Signal<In, Bit>,
    /// The button, high while pressed.
    pub button: Signal<In, Bit>,
    /// Heartbeat.
    pub beat: Signal<Out, Bit>,
    /// Host -> board traffic.
    pub rx: Signal<Out, Bit>,
    /// Board -> host traffic.
    pub tx: Signal<Out, Bit>,
    /// PLL locked.
    pub lock: Signal<Out, Bit>,
    beat_count: DFF<Bits<BEAT_BITS>>,
    rx_hold: DFF<Bits<HOLD>>,
    tx_hold: DFF<Bits<HOLD>>,
    one_beat: Constant<Bits<BEAT_BITS>>,
    one_hold: Constant<Bits<HOLD>>,
    full_hold: Constant<Bits<HOLD>>,
    zero_hold: Constant<Bits<HOLD>>,
}

impl<const HOLD: usize> Default for StatusLeds<HOLD> {
    fn default() -> Self {
        StatusLeds {
            clock: Default::default(),
            uart_rx: Default::default(),
            uart_tx: Default::default(),
            locked: Default::default(),
            button: Default::default(),
            beat: Default::default(),
            rx: Default::default(),
            tx: Default::default(),
            lock: Default::default(),
            beat_count: Default::default(),
            rx_hold: Default::default(),
            tx_hold: Default::default(),
            one_beat: Constant::new(bits(1)),
            one_hold: Constant::new(bits(1)),
            full_hold: Constant::new(bits((1u64 << HOLD) - 1)),
            zero_hold: Constant::new(bits(0)),
        }
    }
}

impl<const HOLD: usize> Logic for StatusLeds<HOLD> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, beat_count, rx_hold, tx_hold);
        self.beat_count.d.next = self.beat_count.q.val() + self.one_beat.val();
        if !self.uart_rx.val() {
            self.rx_hold.d.next = self.full_hold.val();
        } else if self.rx_hold.q.val() != self.zero_hold.val() {
            self.rx_hold.d.next = self.rx_hold.q.val() - self.one_hold.val();
        }
        if !self.uart_tx.val() {
            self.tx_hold.d.next = self.full_hold.val();
        } else if self.tx_hold.q.val() != self.zero_hold.val() {
            self.tx_hold.d.next = self.tx_hold.q.val() - self.one_hold.val();
        }
        self.beat.next = self.button.val() || self.beat_count.q.val().get_bit(25);
        self.rx.next = self.button.val() || (self.rx_hold.q.val() != self.zero_hold.val());
        self.tx.next = self.button.val() || (self.tx_hold.q.val() != self.zero_hold.val());
        self.lock.next = self.button.val() || self.locked.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycle(uut: &mut StatusLeds<6>) {
        for clk in [false, true, false] {
            uut.clock.next = Clock { clk };
            assert!(simulate(uut, 1000), "the block did not settle");
        }
    }

    #[test]
    fn traffic_lights_its_led_for_the_hold_time() {
        let mut uut = StatusLeds::<6>::default();
        uut.connect_all();
        uut.uart_rx.next = true;
        uut.uart_tx.next = true;
        uut.locked.next = true;
        uut.button.next = false;
        cycle(&mut uut);
        assert!(!uut.rx.val() && !uut.tx.val() && uut.lock.val());
        uut.uart_rx.next = false;
        cycle(&mut uut);
        uut.uart_rx.next = true;
        let mut lit = 0;
        while uut.rx.val() {
            cycle(&mut uut);
            lit += 1;
            assert!(lit <= 1 << 6, "the rx light never goes out");
        }
        assert_eq!(lit, (1 << 6) - 1);
        assert!(!uut.tx.val());
        uut.button.next = true;
        cycle(&mut uut);
        assert!(uut.rx.val() && uut.tx.val() && uut.beat.val() && uut.lock.val());
    }

    #[test]
    fn generates_verilog() {
        let mut uut = StatusLeds::<HOLD_BITS>::default();
        uut.connect_all();
        let v = generate_verilog(&uut);
        assert!(v.contains("module top("));
        // Every identifier is declared: no Rust constant leaks into the Verilog by name.
        assert!(
            v.contains("beat_count$q[32'h19]") || v.contains("beat_count$q[25]"),
            "{v}"
        );
        assert!(!v.contains("BITS"), "{v}");
    }
}
