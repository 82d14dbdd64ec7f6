//! Board tops: oscillator -> PLL -> the device (`DeviceTop`, built by `qtrain_hdl` with the
//! board's geometry) with its link constants tied off, and the status LEDs; the pin
//! constraints (PCF / LPF) generated from the same blocks by rust-hdl-fpga-support.
//!
//! The device is generated once per array shape and geometry by
//! `qtrain_hdl::device_top_verilog_sized`; its top module `top` is renamed `qtrain_device`
//! (and its submodules `top$...` to `qtrain_device$...`) so that it sits below the board's own
//! rust-hdl top, which is named `top` too.

use crate::boards::{Board, Family, Pin};
use crate::link::LinkSettings;
use crate::status_leds::{StatusLeds, HOLD_BITS};
use rust_hdl::prelude::*;
use rust_hdl_fpga_support::toolchains::{ecp5::generate_lpf, icestorm::generate_pcf};

/// What the LEDs show, in the order of a board's `leds` (a board with fewer LEDs shows the
/// first ones; the iCEBreaker's red LED shows traffic in either direction, see
/// [`IcebreakerTop`]).
pub const LED_MEANINGS: [&str; 4] = [
    "heartbeat: blinks while the core clock runs",
    "host -> board traffic (lit ~20 ms after each low bit)",
    "board -> host traffic",
    "PLL locked",
];

/// The module name the device's top is renamed to.
pub const DEVICE_MODULE: &str = "qtrain_device";

/// A PLL as an opaque block: its Verilog body (an SB_PLL40_PAD or EHXPLLL instance) uses the
/// module ports `clock_in`, `clock_out` and `locked`.
#[derive(LogicBlock)]
pub struct ClockPll {
    /// The oscillator.
    pub clock_in: Signal<In, Clock>,
    /// The core clock.
    pub clock_out: Signal<Out, Clock>,
    /// High once the PLL has locked.
    pub locked: Signal<Out, Bit>,
    _code: String,
}

impl ClockPll {
    /// A PLL whose instance is `code`.
    pub fn new(code: String) -> ClockPll {
        ClockPll {
            clock_in: Default::default(),
            clock_out: Signal::new_with_default(Clock::default()),
            locked: Signal::new_with_default(false),
            _code: code,
        }
    }
}

impl Logic for ClockPll {
    // A vendor primitive: nothing to simulate in rust-hdl.
    fn update(&mut self) {}

    fn connect(&mut self) {
        self.clock_out.connect();
        self.locked.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Wrapper(Wrapper {
            code: self._code.clone(),
            cores: String::new(),
        })
    }
}

/// The device (module [`DEVICE_MODULE`]) with its `clocks_per_bit`, `clock_hz` and `baud`
/// inputs tied to the board's [`LinkSettings`]; or, for a measurement bench in the device's
/// place (`qtrain synth --top core`), the same module with only `clock`, `uart_rx`, `uart_tx`.
#[derive(LogicBlock)]
pub struct DeviceCore {
    /// The core clock.
    pub clock: Signal<In, Clock>,
    /// Host -> board serial line.
    pub uart_rx: Signal<In, Bit>,
    /// Board -> host serial line.
    pub uart_tx: Signal<Out, Bit>,
    _link: LinkSettings,
    _link_ports: bool,
}

impl DeviceCore {
    /// The device with `link`'s constants (`link_ports`), or a design with the three serial
    /// ports only.
    pub fn new(link: LinkSettings, link_ports: bool) -> DeviceCore {
        DeviceCore {
            clock: Default::default(),
            uart_rx: Default::default(),
            uart_tx: Signal::new_with_default(true),
            _link: link,
            _link_ports: link_ports,
        }
    }
}

impl Logic for DeviceCore {
    // Simulated by the sim crate (DeviceTop itself), not through this wrapper.
    fn update(&mut self) {}

    fn connect(&mut self) {
        self.uart_tx.connect();
    }

    fn hdl(&self) -> Verilog {
        let constants = if self._link_ports {
            format!(
                ", .clocks_per_bit(16'd{}), .clock_hz(32'd{}), .baud(32'd{})",
                self._link.clocks_per_bit, self._link.clock_hz, self._link.baud
            )
        } else {
            String::new()
        };
        Verilog::Wrapper(Wrapper {
            code: format!(
                "{DEVICE_MODULE} device(.clock(clock), .uart_rx(uart_rx), .uart_tx(uart_tx){constants});"
            ),
            cores: String::new(),
        })
    }
}

fn constrain(signal_pins: &[Pin], board: &Board, port: &str) -> Vec<PinConstraint> {
    let mut out = Vec::new();
    for (i, pin) in signal_pins.iter().enumerate() {
        out.push(PinConstraint {
            index: i,
            constraint: Constraint::Location(pin.site.to_string()),
        });
        if board.family == Family::Ecp5 {
            let name = if signal_pins.len() == 1 {
                port.to_string()
            } else {
                format!("{port}[{i}]")
            };
            out.push(PinConstraint {
                index: i,
                constraint: Constraint::Kind(SignalType::LowVoltageCMOS_3v3),
            });
            if let Some(pull) = pin.pull {
                out.push(PinConstraint {
                    index: i,
                    constraint: Constraint::Custom(format!(
                        "IOBUF PORT \"{name}\" PULLMODE={pull}"
                    )),
                });
            }
        }
    }
    out
}

fn place<D: Direction, T: Synth>(
    signal: &mut Signal<D, T>,
    pins: &[Pin],
    board: &Board,
    port: &str,
) {
    for c in constrain(pins, board, port) {
        signal.add_constraint(c);
    }
}

fn clock_constraint(board: &Board) -> PinConstraint {
    let mhz = board.clock_hz as f64 / 1e6;
    match board.family {
        Family::Ice40 => PinConstraint {
            index: 0,
            constraint: Constraint::Custom(format!("set_frequency clk {mhz}")),
        },
        Family::Ecp5 => PinConstraint {
            index: 0,
            constraint: Constraint::Timing(Timing::Periodic(PeriodicTiming {
                net: "clk".into(),
                period_nanoseconds: 1e3 / mhz,
                duty_cycle: 50.0,
            })),
        },
    }
}

/// The iCEBreaker's top: red LED = link traffic either way, green LED = heartbeat; the button
/// (active low) lights both.
#[derive(LogicBlock)]
pub struct IcebreakerTop {
    /// 12 MHz oscillator.
    pub clk: Signal<In, Clock>,
    /// From the FT2232H (channel B TXD).
    pub uart_rx: Signal<In, Bit>,
    /// To the FT2232H (channel B RXD).
    pub uart_tx: Signal<Out, Bit>,
    /// LEDR_N, LEDG_N (active low).
    pub leds: Signal<Out, Bits<2>>,
    /// BTN_N (active low).
    pub button: Signal<In, Bit>,
    pll: ClockPll,
    device: DeviceCore,
    status: StatusLeds<HOLD_BITS>,
}

impl Logic for IcebreakerTop {
    #[hdl_gen]
    fn update(&mut self) {
        self.pll.clock_in.next = self.clk.val();
        self.device.clock.next = self.pll.clock_out.val();
        self.status.clock.next = self.pll.clock_out.val();
        self.device.uart_rx.next = self.uart_rx.val();
        self.uart_tx.next = self.device.uart_tx.val();
        self.status.uart_rx.next = self.uart_rx.val();
        self.status.uart_tx.next = self.device.uart_tx.val();
        self.status.locked.next = self.pll.locked.val();
        self.status.button.next = !self.button.val();
        // Active low: a 0 bit lights the LED.
        self.leds.next = !((bit_cast::<2, 1>(self.status.beat.val().into()) << 1)
            | bit_cast::<2, 1>((self.status.rx.val() || self.status.tx.val()).into()));
    }
}

/// The ULX3S's top: LEDs 0-3 as [`LED_MEANINGS`], 4-7 off; the FIRE2 button lights 0-3.
#[derive(LogicBlock)]
pub struct Ulx3sTop {
    /// 25 MHz oscillator.
    pub clk: Signal<In, Clock>,
    /// From the FT231X (its TXD).
    pub uart_rx: Signal<In, Bit>,
    /// To the FT231X (its RXD).
    pub uart_tx: Signal<Out, Bit>,
    /// led[0..7], active high.
    pub leds: Signal<Out, Bits<8>>,
    /// FIRE2, active high.
    pub button: Signal<In, Bit>,
    pll: ClockPll,
    device: DeviceCore,
    status: StatusLeds<HOLD_BITS>,
}

impl Logic for Ulx3sTop {
    #[hdl_gen]
    fn update(&mut self) {
        self.pll.clock_in.next = self.clk.val();
        self.device.clock.next = self.pll.clock_out.val();
        self.status.clock.next = self.pll.clock_out.val();
        self.device.uart_rx.next = self.uart_rx.val();
        self.uart_tx.next = self.device.uart_tx.val();
        self.status.uart_rx.next = self.uart_rx.val();
        self.status.uart_tx.next = self.device.uart_tx.val();
        self.status.locked.next = self.pll.locked.val();
        self.status.button.next = self.button.val();
        self.leds.next = bit_cast::<8, 1>(self.status.beat.val().into())
            | (bit_cast::<8, 1>(self.status.rx.val().into()) << 1)
            | (bit_cast::<8, 1>(self.status.tx.val().into()) << 2)
            | (bit_cast::<8, 1>(self.status.lock.val().into()) << 3);
    }
}

/// A board top, ready for Verilog and constraint generation.
pub enum BoardTop {
    /// The iCEBreaker.
    Icebreaker(Box<IcebreakerTop>),
    /// The ULX3S.
    Ulx3s(Box<Ulx3sTop>),
}

macro_rules! pins_of {
    ($top:expr, $board:expr) => {{
        let b = $board;
        place(&mut $top.clk, &[b.clock_pin], b, "clk");
        $top.clk.add_constraint(clock_constraint(b));
        place(&mut $top.uart_rx, &[b.uart_rx], b, "uart_rx");
        place(&mut $top.uart_tx, &[b.uart_tx], b, "uart_tx");
        place(&mut $top.leds, b.leds, b, "leds");
        place(&mut $top.button, &[b.button], b, "button");
    }};
}

impl BoardTop {
    /// The top of `board` with the PLL instance `pll_code` and the device's `link` constants,
    /// its pins constrained from the board file.
    pub fn new(board: &Board, pll_code: String, link: LinkSettings) -> BoardTop {
        BoardTop::with_design(board, pll_code, link, true)
    }

    /// [`Self::new`]; `link_ports = false` for a design in the device's place that has only
    /// `clock`, `uart_rx` and `uart_tx` (the core bench).
    pub fn with_design(
        board: &Board,
        pll_code: String,
        link: LinkSettings,
        link_ports: bool,
    ) -> BoardTop {
        match board.family {
            Family::Ice40 => {
                let mut top = Box::new(IcebreakerTop {
                    clk: Default::default(),
                    uart_rx: Default::default(),
                    uart_tx: Default::default(),
                    leds: Default::default(),
                    button: Default::default(),
                    pll: ClockPll::new(pll_code),
                    device: DeviceCore::new(link, link_ports),
                    status: Default::default(),
                });
                assert_eq!(board.leds.len(), 2, "the iCEBreaker top drives two LEDs");
                pins_of!(top, board);
                top.connect_all();
                BoardTop::Icebreaker(top)
            }
            Family::Ecp5 => {
                let mut top = Box::new(Ulx3sTop {
                    clk: Default::default(),
                    uart_rx: Default::default(),
                    uart_tx: Default::default(),
                    leds: Default::default(),
                    button: Default::default(),
                    pll: ClockPll::new(pll_code),
                    device: DeviceCore::new(link, link_ports),
                    status: Default::default(),
                });
                assert_eq!(board.leds.len(), 8, "the ULX3S top drives eight LEDs");
                pins_of!(top, board);
                top.connect_all();
                BoardTop::Ulx3s(top)
            }
        }
    }

    /// The board top's Verilog (module `top`); the device module comes separately
    /// ([`rename_device`]).
    pub fn verilog(&self) -> String {
        match self {
            BoardTop::Icebreaker(t) => generate_verilog(t.as_ref()),
            BoardTop::Ulx3s(t) => generate_verilog(t.as_ref()),
        }
    }

    /// The pin constraints: a PCF for nextpnr-ice40 or an LPF for nextpnr-ecp5.
    pub fn constraints(&self) -> String {
        match self {
            BoardTop::Icebreaker(t) => generate_pcf(t.as_ref()),
            BoardTop::Ulx3s(t) => generate_lpf(t.as_ref()),
        }
    }
}

/// The device Verilog with its top renamed [`DEVICE_MODULE`] (see the module docs).
pub fn rename_device(device_verilog: &str) -> String {
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    let bytes = device_verilog.as_bytes();
    let mut out = String::with_capacity(device_verilog.len() + 4096);
    let mut done = 0;
    while let Some(off) = device_verilog[done..].find("top") {
        let at = done + off;
        let head = &device_verilog[..at];
        let next = bytes.get(at + 3).copied();
        // Submodules are `top$path$to$block`; a bare `top` is the module itself only where it
        // is declared (`module top(`) and in rust-hdl's `endmodule // top` comment.
        let module_ref = !(at > 0 && is_ident(bytes[at - 1]))
            && (next == Some(b'$')
                || ((head.ends_with("module ") || head.ends_with("endmodule // "))
                    && !next.is_some_and(is_ident)));
        out.push_str(&device_verilog[done..at]);
        out.push_str(if module_ref { DEVICE_MODULE } else { "top" });
        done = at + 3;
    }
    out.push_str(&device_verilog[done..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boards::{icebreaker::ICEBREAKER, ulx3s::ULX3S};
    use crate::link::choose_link;
    use crate::pll::{ecp5_pll, ice40_pll};

    fn link(hz: u64, board: &Board) -> LinkSettings {
        choose_link(hz, board.max_baud).unwrap()
    }

    #[test]
    fn icebreaker_pcf_places_every_port_from_the_board_file() {
        let (pll, hz) = ice40_pll(24.0).unwrap();
        let top = BoardTop::new(&ICEBREAKER, pll, link(hz as u64, &ICEBREAKER));
        let pcf = top.constraints();
        let lines: Vec<&str> = pcf.lines().collect();
        let b = &ICEBREAKER;
        for want in [
            format!("set_io clk {}", b.clock_pin.site),
            format!("set_io uart_rx {}", b.uart_rx.site),
            format!("set_io uart_tx {}", b.uart_tx.site),
            format!("set_io leds[0] {}", b.leds[0].site),
            format!("set_io leds[1] {}", b.leds[1].site),
            format!("set_io button {}", b.button.site),
            "set_frequency clk 12".to_string(),
        ] {
            assert!(lines.contains(&want.as_str()), "{want} missing from\n{pcf}");
        }
        assert_eq!(lines.iter().filter(|l| l.starts_with("set_io")).count(), 6);
    }

    #[test]
    fn ulx3s_lpf_places_every_port_with_its_io_standard() {
        let pll = ecp5_pll(ULX3S.clock_hz, 50e6).unwrap();
        let top = BoardTop::new(&ULX3S, pll.verilog(), link(50_000_000, &ULX3S));
        let lpf = top.constraints();
        let b = &ULX3S;
        let mut ports = vec![
            ("clk".to_string(), b.clock_pin),
            ("uart_rx".to_string(), b.uart_rx),
            ("uart_tx".to_string(), b.uart_tx),
            ("button".to_string(), b.button),
        ];
        ports.extend(
            b.leds
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("leds[{i}]"), *p)),
        );
        for (port, pin) in &ports {
            assert!(
                lpf.contains(&format!("LOCATE COMP \"{port}\" SITE \"{}\";", pin.site)),
                "{port}\n{lpf}"
            );
            assert!(
                lpf.contains(&format!("IOBUF PORT \"{port}\" IO_TYPE=LVCMOS33;")),
                "{port}"
            );
            if let Some(pull) = pin.pull {
                assert!(
                    lpf.contains(&format!("IOBUF PORT \"{port}\" PULLMODE={pull};")),
                    "{port}"
                );
            }
        }
        assert!(lpf.contains("FREQUENCY PORT \"clk\" 25 MHz;"), "{lpf}");
        assert_eq!(lpf.matches("LOCATE COMP").count(), ports.len());
    }

    #[test]
    fn board_verilog_ties_the_link_constants_and_instantiates_the_pll() {
        let l = link(50_000_000, &ULX3S);
        let pll = ecp5_pll(ULX3S.clock_hz, 50e6).unwrap();
        let v = BoardTop::new(&ULX3S, pll.verilog(), l).verilog();
        assert!(v.contains("EHXPLLL"));
        assert!(v.contains(&format!(".clocks_per_bit(16'd{})", l.clocks_per_bit)));
        assert!(v.contains(".clock_hz(32'd50000000)"));
        assert!(v.contains(&format!(".baud(32'd{})", l.baud)));
        assert!(
            v.contains("module top(clk,uart_rx,uart_tx,leds,button);"),
            "{v}"
        );
    }

    #[test]
    fn renaming_touches_module_names_only() {
        let v = "module top(clock,stop);\n    top$engine engine(.a(top_x), .b(stop$y));\nendmodule // top\n\nmodule top$engine(a);\nendmodule // top$engine\n";
        let r = rename_device(v);
        assert_eq!(
            r,
            "module qtrain_device(clock,stop);\n    qtrain_device$engine engine(.a(top_x), .b(stop$y));\nendmodule // qtrain_device\n\nmodule qtrain_device$engine(a);\nendmodule // qtrain_device$engine\n"
        );
    }
}
