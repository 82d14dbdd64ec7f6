//! `StatusLeds`: what a board's LEDs show.

use rust_hdl::prelude::*;

/// An LED stays lit for 2^20 to 2^21 cycles after the last traffic seen on its serial line
/// (20-40 ms at 50 MHz, long enough to see a single frame).
pub const HOLD_BITS: usize = 20;
/// Width of the heartbeat counter; its top bit toggles every 2^25 cycles (1.1 s at 30 MHz).
/// `update` names the top bit as the literal 25: rust-hdl writes a Rust constant into the
/// Verilog by name, where it would be an undeclared identifier.
pub const BEAT_BITS: usize = 26;
const _: () = assert!(BEAT_BITS == 26);

/// Four status lights, active high: `beat` blinks while the core clock runs, `rx` and `tx` are
/// lit after a low level (a start or data bit) on the host->board and board->host lines, until
/// the end of the next window of `2^HOLD` cycles (the boards use [`HOLD_BITS`]), `locked`
/// follows the PLL lock. While `button` is pressed all four are lit (a lamp test).
///
/// The windows are the heartbeat counter's low `HOLD` bits wrapping, so each light costs two
/// flip-flops (traffic in this window, traffic in the last one) rather than a counter of its
/// own: on the iCE40 that is about 70 logic cells fewer. `HOLD` must be below [`BEAT_BITS`].
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
    rx_now: DFF<Bit>,
    rx_last: DFF<Bit>,
    tx_now: DFF<Bit>,
    tx_last: DFF<Bit>,
    one_beat: Constant<Bits<BEAT_BITS>>,
    // The heartbeat's low HOLD bits, all ones in a window's last cycle.
    window_mask: Constant<Bits<BEAT_BITS>>,
    window_end: Signal<Local, Bit>,
}

impl<const HOLD: usize> Default for StatusLeds<HOLD> {
    fn default() -> Self {
        assert!(
            HOLD < BEAT_BITS,
            "the hold window must be shorter than the heartbeat"
        );
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
            rx_now: Default::default(),
            rx_last: Default::default(),
            tx_now: Default::default(),
            tx_last: Default::default(),
            one_beat: Constant::new(bits(1)),
            window_mask: Constant::new(bits((1u64 << HOLD) - 1)),
            window_end: Default::default(),
        }
    }
}

impl<const HOLD: usize> Logic for StatusLeds<HOLD> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, beat_count, rx_now, rx_last, tx_now, tx_last);
        self.beat_count.d.next = self.beat_count.q.val() + self.one_beat.val();
        self.window_end.next =
            (self.beat_count.q.val() & self.window_mask.val()) == self.window_mask.val();
        if self.window_end.val() {
            self.rx_last.d.next = self.rx_now.q.val() || !self.uart_rx.val();
            self.rx_now.d.next = false;
            self.tx_last.d.next = self.tx_now.q.val() || !self.uart_tx.val();
            self.tx_now.d.next = false;
        } else {
            if !self.uart_rx.val() {
                self.rx_now.d.next = true;
            }
            if !self.uart_tx.val() {
                self.tx_now.d.next = true;
            }
        }
        self.beat.next = self.button.val() || self.beat_count.q.val().get_bit(25);
        self.rx.next = self.button.val() || self.rx_now.q.val() || self.rx_last.q.val();
        self.tx.next = self.button.val() || self.tx_now.q.val() || self.tx_last.q.val();
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
        // Traffic early and late in a window, and in a window's last cycle: the light stays on
        // to the end of the next window, more than 2^6 and at most 2^7 cycles.
        for wait in [3, 60, 63] {
            for _ in 0..wait {
                cycle(&mut uut);
            }
            uut.uart_rx.next = false;
            cycle(&mut uut);
            uut.uart_rx.next = true;
            let mut lit = 0;
            while uut.rx.val() {
                cycle(&mut uut);
                lit += 1;
                assert!(lit <= 1 << 7, "the rx light never goes out");
            }
            assert!(
                lit >= 1 << 6,
                "lit only {lit} cycles after a wait of {wait}"
            );
            assert!(!uut.tx.val());
        }
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
