//! The bytes of a response frame's header and fixed-size body, by index.

use super::DeviceGeometry;
use rust_hdl::prelude::*;

/// Body selector: no body (an error, or a command whose body is written elsewhere).
pub const BODY_NONE: u64 = 0;
/// Body selector: the 28-byte CAPABILITIES body (also HELLO's).
pub const BODY_CAPS: u64 = 1;
/// Body selector: the 24-byte STATUS body.
pub const BODY_STATUS: u64 = 2;
/// Body selector: GEMM's 4-byte `cycles`.
pub const BODY_CYCLES: u64 = 3;

/// Protocol version and hardware version (CAPABILITIES; `ops` comes from the geometry).
const PROTOCOL: u8 = 1;
const HW_MAJOR: u8 = 0;
const HW_MINOR: u8 = 1;

/// Byte `idx` of `header (8 bytes) ++ body`, where the body is chosen by `sel`
/// (protocol.md §1 header, §5 CAPABILITIES and STATUS layouts), combinational.
///
/// rust-hdl has no concatenation, and building the 288-bit frame from shifted, widened
/// fields would trip Verilator's WIDTH lint on every field; so this leaf block writes the
/// frame as one Verilog concatenation and simulates it with plain integers.
#[derive(LogicBlock)]
pub struct ResponseBytes {
    /// Byte index, 0..36.
    pub idx: Signal<In, Bits<6>>,
    /// The command's kind (the response sets bit 7).
    pub kind: Signal<In, Bits<8>>,
    /// The command's seq.
    pub seq: Signal<In, Bits<16>>,
    /// Status code.
    pub status: Signal<In, Bits<8>>,
    /// Body length of the header's `length` field.
    pub body_len: Signal<In, Bits<16>>,
    /// Which fixed body follows the header (`BODY_*`).
    pub sel: Signal<In, Bits<2>>,
    /// CAPABILITIES `clock_hz`.
    pub clock_hz: Signal<In, Bits<32>>,
    /// CAPABILITIES `baud`.
    pub baud: Signal<In, Bits<32>>,
    /// STATUS `last_status`.
    pub last_status: Signal<In, Bits<8>>,
    /// STATUS `commands`.
    pub commands: Signal<In, Bits<32>>,
    /// STATUS `busy_cycles`.
    pub busy_cycles: Signal<In, Bits<64>>,
    /// STATUS `crc_errors`.
    pub crc_errors: Signal<In, Bits<16>>,
    /// STATUS `frame_errors`.
    pub frame_errors: Signal<In, Bits<16>>,
    /// STATUS `overruns`.
    pub overruns: Signal<In, Bits<16>>,
    /// GEMM `cycles`.
    pub cycles: Signal<In, Bits<32>>,
    /// The byte at `idx`.
    pub data: Signal<Out, Bits<8>>,
    _rows: u8,
    _cols: u8,
    _geometry: DeviceGeometry,
}

impl ResponseBytes {
    /// The responder of an array of `rows x cols` PEs (CAPABILITIES `rows`, `cols`) in a
    /// device of `geometry` (CAPABILITIES `max_body`, `mem_words`, `max_k`).
    pub fn new(rows: u8, cols: u8, geometry: DeviceGeometry) -> ResponseBytes {
        ResponseBytes {
            idx: Default::default(),
            kind: Default::default(),
            seq: Default::default(),
            status: Default::default(),
            body_len: Default::default(),
            sel: Default::default(),
            clock_hz: Default::default(),
            baud: Default::default(),
            last_status: Default::default(),
            commands: Default::default(),
            busy_cycles: Default::default(),
            crc_errors: Default::default(),
            frame_errors: Default::default(),
            overruns: Default::default(),
            cycles: Default::default(),
            data: Default::default(),
            _rows: rows,
            _cols: cols,
            _geometry: geometry,
        }
    }

    fn body(&self) -> Vec<u8> {
        let mut b = vec![];
        match self.sel.val().to_u64() {
            BODY_CAPS => {
                b.extend([PROTOCOL, HW_MAJOR, HW_MINOR, self._rows, self._cols, 0]);
                b.extend((self._geometry.max_body() as u16).to_le_bytes());
                b.extend((self._geometry.mem_words() as u32).to_le_bytes());
                b.extend((self._geometry.max_k() as u32).to_le_bytes());
                b.extend(self.clock_hz.val().to_u32().to_le_bytes());
                b.extend(self.baud.val().to_u32().to_le_bytes());
                b.extend(self._geometry.ops().to_le_bytes());
            }
            BODY_STATUS => {
                b.extend([0, self.last_status.val().to_u8(), 0, 0]);
                b.extend(self.commands.val().to_u32().to_le_bytes());
                b.extend(self.busy_cycles.val().to_u64().to_le_bytes());
                b.extend(self.crc_errors.val().to_u16().to_le_bytes());
                b.extend(self.frame_errors.val().to_u16().to_le_bytes());
                b.extend(self.overruns.val().to_u16().to_le_bytes());
                b.extend([0, 0]);
            }
            BODY_CYCLES => b.extend(self.cycles.val().to_u32().to_le_bytes()),
            _ => {}
        }
        b
    }
}

impl Logic for ResponseBytes {
    fn update(&mut self) {
        let idx = self.idx.val().to_u64() as usize;
        let v = if idx < 8 {
            let seq = self.seq.val().to_u16().to_le_bytes();
            let len = self.body_len.val().to_u16().to_le_bytes();
            let header = [
                PROTOCOL,
                self.kind.val().to_u8() | 0x80,
                seq[0],
                seq[1],
                len[0],
                len[1],
                self.status.val().to_u8(),
                0,
            ];
            header[idx]
        } else {
            self.body().get(idx - 8).copied().unwrap_or(0)
        };
        self.data.next = bits(u64::from(v));
    }

    fn connect(&mut self) {
        self.data.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "\
wire [63:0] header = {{8'h00, status, body_len, seq, kind | 8'h80, 8'h{PROTOCOL:02x}}};
wire [223:0] caps = {{32'h{ops:x}, baud, clock_hz, 32'd{max_k}, 32'd{mem_words}, 16'd{max_body},
    8'h00, 8'd{cols}, 8'd{rows}, 8'd{HW_MINOR}, 8'd{HW_MAJOR}, 8'd{PROTOCOL}}};
wire [191:0] stat = {{16'h0000, overruns, frame_errors, crc_errors, busy_cycles, commands,
    16'h0000, last_status, 8'h00}};
reg [223:0] body;
always @(*) begin
    case (sel)
        2'd{BODY_CAPS}: body = caps;
        2'd{BODY_STATUS}: body = {{32'h0, stat}};
        2'd{BODY_CYCLES}: body = {{192'h0, cycles}};
        default: body = 224'h0;
    endcase
end
wire [287:0] frame_bytes = {{body, header}};
always @(*) data = frame_bytes[{{idx, 3'b000}} +: 8];
",
            max_k = self._geometry.max_k(),
            mem_words = self._geometry.mem_words(),
            max_body = self._geometry.max_body(),
            ops = self._geometry.ops(),
            rows = self._rows,
            cols = self._cols,
        ))
    }
}
