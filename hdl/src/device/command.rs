//! `CommandEngine<R, C>`: executes one decoded frame at a time, with the device memory and the
//! execution units (docs/protocol.md §2, §5; driver/src/device/engine.rs is the reference).

use super::command_decode::{action, kept_byte, status, CommandDecode, DESC_BITS, FETCH_BYTES};

const _: () = assert!(FETCH_BYTES < 64, "the kept-byte lookup is 64 bits");
use super::gemm_unit::GemmUnit;
use super::range_check::RangeCheck;
use super::response::{ResponseBytes, BODY_CAPS, BODY_CYCLES, BODY_NONE, BODY_STATUS};
use super::vector_unit::VectorUnit;
use super::{DeviceGeometry, BUF_ADDR_BITS as BB, MEM_ADDR_BITS as MB};
use crate::extend::ZeroExtend;
use crate::ram::SizedRam;
use rust_hdl::prelude::*;

// Engine states (plain codes: Verilator -Wall rejects rust-hdl enums).
/// Waiting for a frame.
pub const ST_IDLE: u64 = 0;
/// Reading the header and descriptor bytes into the descriptor register.
pub const ST_FETCH: u64 = 1;
/// Seq memory lookup; counting the command.
pub const ST_DECIDE: u64 = 2;
/// Sending the remembered response again.
pub const ST_REPLAY: u64 = 3;
/// The range and overlap checks ([`RangeCheck`]).
pub const ST_RANGE: u64 = 4;
/// Final status; dispatch.
pub const ST_CHECK: u64 = 5;
/// WRITE: frame bytes into memory.
pub const ST_WRITE: u64 = 6;
/// READ: memory into the response body.
pub const ST_READ: u64 = 7;
/// Starting an execution unit.
pub const ST_START: u64 = 8;
/// Waiting for the unit.
pub const ST_WAIT: u64 = 9;
/// Writing the response header (and fixed body) into the transmit buffer.
pub const ST_RESP: u64 = 10;
/// Sending the response; seq memory update; releasing the frame.
pub const ST_SEND: u64 = 11;
/// Waiting for the receiver to drop the released frame.
pub const ST_GAP: u64 = 12;

/// The command engine between `FrameRx` and `FrameTx` (/tmp/device-spec.md "CommandEngine").
///
/// A frame goes IDLE -> FETCH (48 bytes, 49 cycles) -> DECIDE, then either REPLAY (same seq as
/// the last command: the transmit buffer still holds its response) or RANGE (6 cycles) ->
/// CHECK -> the command's own states -> RESP (header and fixed body into the transmit
/// buffer) -> SEND -> GAP -> IDLE. The checks run in engine.rs's order: the decoder's
/// length, code, argument and version checks, then the ranges, then the overlaps (spans:
/// `[addr, addr + (rows-1)*stride + cols)`), then BIAS_ADD's bias vector (range, overlap).
#[derive(LogicBlock)]
pub struct CommandEngine<const R: usize, const C: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Reported in CAPABILITIES.
    pub clock_hz: Signal<In, Bits<32>>,
    /// Reported in CAPABILITIES.
    pub baud: Signal<In, Bits<32>>,
    /// FrameRx: a validated frame waits.
    pub frame_ready: Signal<In, Bit>,
    /// FrameRx: header + body bytes.
    pub frame_len: Signal<In, Bits<BB>>,
    /// FrameRx: read address.
    pub rd_addr: Signal<Out, Bits<BB>>,
    /// FrameRx: the byte at `rd_addr` of the previous cycle.
    pub rd_data: Signal<In, Bits<8>>,
    /// FrameRx: done with the frame (one-cycle pulse).
    pub frame_release: Signal<Out, Bit>,
    /// FrameRx counter (STATUS).
    pub crc_errors: Signal<In, Bits<16>>,
    /// FrameRx counter (STATUS).
    pub frame_errors: Signal<In, Bits<16>>,
    /// FrameRx counter (STATUS).
    pub overruns: Signal<In, Bits<16>>,
    /// FrameRx: clear the counters (RESET).
    pub clear_counters: Signal<Out, Bit>,
    /// FrameTx: write a response byte.
    pub wr_en: Signal<Out, Bit>,
    /// FrameTx: buffer address.
    pub wr_addr: Signal<Out, Bits<BB>>,
    /// FrameTx: the byte.
    pub wr_data: Signal<Out, Bits<8>>,
    /// FrameTx: send the buffer (one-cycle pulse).
    pub send: Signal<Out, Bit>,
    /// FrameTx: header + body bytes to send.
    pub len: Signal<Out, Bits<BB>>,
    /// FrameTx is sending.
    pub tx_busy: Signal<In, Bit>,
    memory: SizedRam<Bits<16>, MB>,
    gemm: GemmUnit<R, C>,
    vector: VectorUnit,
    decode: CommandDecode,
    resp: ResponseBytes,
    range: RangeCheck,
    ext_byte: ZeroExtend<8, DESC_BITS>,
    ext_len: ZeroExtend<BB, 16>,
    ext_word: ZeroExtend<8, 16>,
    state: DFF<Bits<4>>,
    idx: DFF<Bits<BB>>,
    keep: DFF<Bit>,
    kept_bytes: Constant<Bits<64>>,
    desc: DFF<Bits<DESC_BITS>>,
    status: DFF<Bits<8>>,
    sel: DFF<Bits<2>>,
    hdr_len: DFF<Bits<16>>,
    tx_len: DFF<Bits<BB>>,
    resp_last: DFF<Bits<BB>>,
    commands: DFF<Bits<32>>,
    last_status: DFF<Bits<8>>,
    busy_cycles: DFF<Bits<64>>,
    // The counter's enable and clear, registered: a counter whose controls are flip-flops maps
    // to one LUT per bit (the clear is the register's synchronous reset); otherwise 64 to 126
    // LUTs, depending on the build. It counts one cycle behind the state.
    busy_count: DFF<Bit>,
    busy_clear: DFF<Bit>,
    last_valid: DFF<Bit>,
    last_seq: DFF<Bits<16>>,
    last_len: DFF<Bits<BB>>,
    wvalid: DFF<Bit>,
    whi: DFF<Bit>,
    word: DFF<Bits<16>>,
    maddr: DFF<Bits<MB>>,
    e_rd_addr: DFF<Bits<MB>>,
    e_wr_en: DFF<Bit>,
    e_wr_addr: DFF<Bits<MB>>,
    e_wr_data: DFF<Bits<16>>,
    words_left: DFF<Bits<16>>,
    rphase: DFF<Bits<2>>,
    s_idle: Constant<Bits<4>>,
    s_fetch: Constant<Bits<4>>,
    s_decide: Constant<Bits<4>>,
    s_replay: Constant<Bits<4>>,
    s_range: Constant<Bits<4>>,
    s_check: Constant<Bits<4>>,
    s_write: Constant<Bits<4>>,
    s_read: Constant<Bits<4>>,
    s_start: Constant<Bits<4>>,
    s_wait: Constant<Bits<4>>,
    s_resp: Constant<Bits<4>>,
    s_send: Constant<Bits<4>>,
    s_gap: Constant<Bits<4>>,
    a_caps: Constant<Bits<3>>,
    a_status: Constant<Bits<3>>,
    a_reset: Constant<Bits<3>>,
    a_write: Constant<Bits<3>>,
    a_read: Constant<Bits<3>>,
    a_gemm: Constant<Bits<3>>,
    body_none: Constant<Bits<2>>,
    body_caps: Constant<Bits<2>>,
    body_status: Constant<Bits<2>>,
    body_cycles: Constant<Bits<2>>,
    st_ok: Constant<Bits<8>>,
    k_status: Constant<Bits<8>>,
    k_rmask: Constant<Bits<8>>,
    k_qmask: Constant<Bits<8>>,
    k_update: Constant<Bits<8>>,
    b0: Constant<Bits<BB>>,
    b1: Constant<Bits<BB>>,
    b8: Constant<Bits<BB>>,
    b12: Constant<Bits<BB>>,
    b_fetch: Constant<Bits<BB>>,
    b_last_caps: Constant<Bits<BB>>,
    b_last_status: Constant<Bits<BB>>,
    b_last_cycles: Constant<Bits<BB>>,
    b_last_header: Constant<Bits<BB>>,
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    zero32: Constant<Bits<32>>,
    zero64: Constant<Bits<64>>,
    one32: Constant<Bits<32>>,
    one64: Constant<Bits<64>>,
    one_m: Constant<Bits<MB>>,
    zero8: Constant<Bits<8>>,
    ph0: Constant<Bits<2>>,
    ph1: Constant<Bits<2>>,
    ph2: Constant<Bits<2>>,
}

fn kb<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(bits(v))
}

impl<const R: usize, const C: usize> Default for CommandEngine<R, C> {
    /// The engine of [`DeviceGeometry::SIM`].
    fn default() -> Self {
        Self::new(&DeviceGeometry::SIM)
    }
}

impl<const R: usize, const C: usize> CommandEngine<R, C> {
    /// The engine of a device of `geometry`: its memory, the GEMM unit's scratchpad banks,
    /// and the limits it checks and reports in CAPABILITIES.
    pub fn new(geometry: &DeviceGeometry) -> Self {
        let mem_words = geometry.mem_words() as u64;
        assert!(mem_words.is_power_of_two() && mem_words <= 1 << MB);
        assert!(
            R <= 255 && C <= 255,
            "CAPABILITIES reports rows and cols in a byte"
        );
        CommandEngine {
            clock: Default::default(),
            clock_hz: Default::default(),
            baud: Default::default(),
            frame_ready: Default::default(),
            frame_len: Default::default(),
            rd_addr: Default::default(),
            rd_data: Default::default(),
            frame_release: Default::default(),
            crc_errors: Default::default(),
            frame_errors: Default::default(),
            overruns: Default::default(),
            clear_counters: Default::default(),
            wr_en: Default::default(),
            wr_addr: Default::default(),
            wr_data: Default::default(),
            send: Default::default(),
            len: Default::default(),
            tx_busy: Default::default(),
            memory: SizedRam::new(geometry.mem_words()).with_collisions_undefined(),
            gemm: {
                let unit = GemmUnit::new(geometry.scratch_words())
                    .with_dimension_limit(geometry.mem_words().max(geometry.scratch_words()));
                if geometry.windows_in_dsps() {
                    unit.with_windows_in_dsps()
                } else {
                    unit
                }
            },
            vector: VectorUnit::new(geometry.vector_unit()),
            decode: CommandDecode::new(geometry),
            resp: ResponseBytes::new(R as u8, C as u8, *geometry),
            range: RangeCheck::new(geometry.mem_words()),
            ext_byte: Default::default(),
            ext_len: Default::default(),
            ext_word: Default::default(),
            state: Default::default(),
            idx: Default::default(),
            keep: Default::default(),
            kept_bytes: Constant::new(bits(
                (0..FETCH_BYTES + 1)
                    .filter(|&i| kept_byte(i))
                    .fold(0, |m, i| m | 1 << i),
            )),
            desc: Default::default(),
            status: Default::default(),
            sel: Default::default(),
            hdr_len: Default::default(),
            tx_len: Default::default(),
            resp_last: Default::default(),
            commands: Default::default(),
            last_status: Default::default(),
            busy_cycles: Default::default(),
            busy_count: Default::default(),
            busy_clear: Default::default(),
            last_valid: Default::default(),
            last_seq: Default::default(),
            last_len: Default::default(),
            wvalid: Default::default(),
            whi: Default::default(),
            word: Default::default(),
            maddr: Default::default(),
            e_rd_addr: Default::default(),
            e_wr_en: Default::default(),
            e_wr_addr: Default::default(),
            e_wr_data: Default::default(),
            words_left: Default::default(),
            rphase: Default::default(),
            s_idle: kb(ST_IDLE),
            s_fetch: kb(ST_FETCH),
            s_decide: kb(ST_DECIDE),
            s_replay: kb(ST_REPLAY),
            s_range: kb(ST_RANGE),
            s_check: kb(ST_CHECK),
            s_write: kb(ST_WRITE),
            s_read: kb(ST_READ),
            s_start: kb(ST_START),
            s_wait: kb(ST_WAIT),
            s_resp: kb(ST_RESP),
            s_send: kb(ST_SEND),
            s_gap: kb(ST_GAP),
            a_caps: kb(action::CAPS),
            a_status: kb(action::STATUS),
            a_reset: kb(action::RESET),
            a_write: kb(action::WRITE),
            a_read: kb(action::READ),
            a_gemm: kb(action::GEMM),
            body_none: kb(BODY_NONE),
            body_caps: kb(BODY_CAPS),
            body_status: kb(BODY_STATUS),
            body_cycles: kb(BODY_CYCLES),
            st_ok: kb(status::OK),
            k_status: kb(0x03),
            k_rmask: kb(0x32),
            k_qmask: kb(0x34),
            k_update: kb(0x35),
            b0: kb(0),
            b1: kb(1),
            b8: kb(8),
            b12: kb(12),
            b_fetch: kb(FETCH_BYTES as u64),
            b_last_caps: kb(8 + 28 - 1),
            b_last_status: kb(8 + 24 - 1),
            b_last_cycles: kb(8 + 4 - 1),
            b_last_header: kb(8 - 1),
            zero16: kb(0),
            one16: kb(1),
            zero32: kb(0),
            zero64: kb(0),
            one32: kb(1),
            one64: kb(1),
            one_m: kb(1),
            zero8: kb(0),
            ph0: kb(0),
            ph1: kb(1),
            ph2: kb(2),
        }
    }
}

impl<const R: usize, const C: usize> Logic for CommandEngine<R, C> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            state,
            idx,
            keep,
            desc,
            status,
            sel,
            hdr_len,
            tx_len,
            resp_last,
            commands,
            last_status,
            busy_cycles,
            busy_count,
            busy_clear,
            last_valid,
            last_seq,
            last_len,
            wvalid,
            whi,
            word,
            maddr,
            e_rd_addr,
            e_wr_en,
            e_wr_addr,
            e_wr_data,
            words_left,
            rphase
        );
        self.gemm.clock.next = self.clock.val();
        self.vector.clock.next = self.clock.val();

        // The decoder sees the descriptor register; the body length comes from FrameRx.
        self.decode.desc.next = self.desc.q.val();
        self.ext_len.inp.next = self.frame_len.val() - self.b8.val();
        self.decode.body_len.next = self.ext_len.out.val();

        // Memory: a unit's master ports while it runs, the engine's own registers otherwise.
        self.memory.read_clock.next = self.clock.val();
        self.memory.write_clock.next = self.clock.val();
        if self.gemm.busy.val() {
            self.memory.read_address.next = self.gemm.mem_rd_addr.val().get_bits::<MB>(0);
            self.memory.write_enable.next = self.gemm.mem_wr_en.val();
            self.memory.write_address.next = self.gemm.mem_wr_addr.val().get_bits::<MB>(0);
            self.memory.write_data.next = self.gemm.mem_wr_data.val();
        } else if self.vector.busy.val() {
            self.memory.read_address.next = self.vector.mem_rd_addr.val().get_bits::<MB>(0);
            self.memory.write_enable.next = self.vector.mem_wr_en.val();
            self.memory.write_address.next = self.vector.mem_wr_addr.val().get_bits::<MB>(0);
            self.memory.write_data.next = self.vector.mem_wr_data.val();
        } else {
            self.memory.read_address.next = self.e_rd_addr.q.val();
            self.memory.write_enable.next = self.e_wr_en.q.val();
            self.memory.write_address.next = self.e_wr_addr.q.val();
            self.memory.write_data.next = self.e_wr_data.q.val();
        }
        self.gemm.mem_rd_data.next = self.memory.read_data.val();
        self.vector.mem_rd_data.next = self.memory.read_data.val();

        // The units' descriptors come straight from the descriptor register, which holds
        // still until the next frame is fetched (body offsets as in command_decode).
        self.gemm.a_addr.next = self.desc.q.val().get_bits::<32>(24);
        self.gemm.a_stride.next = self.desc.q.val().get_bits::<16>(56);
        self.gemm.b_addr.next = self.desc.q.val().get_bits::<32>(72);
        self.gemm.b_stride.next = self.desc.q.val().get_bits::<16>(104);
        self.gemm.c_addr.next = self.desc.q.val().get_bits::<32>(120);
        self.gemm.c_stride.next = self.desc.q.val().get_bits::<16>(152);
        self.gemm.m.next = self.desc.q.val().get_bits::<16>(168);
        self.gemm.k.next = self.desc.q.val().get_bits::<16>(184);
        self.gemm.n.next = self.desc.q.val().get_bits::<16>(200);
        self.gemm.trans_a.next = self.desc.q.val().get_bit(216);
        self.gemm.trans_b.next = self.desc.q.val().get_bit(217);
        self.gemm.accumulate.next = self.desc.q.val().get_bit(218);
        self.gemm.fl_a.next = self.desc.q.val().get_bits::<4>(224);
        self.gemm.fl_b.next = self.desc.q.val().get_bits::<4>(232);
        self.gemm.fl_c.next = self.desc.q.val().get_bits::<4>(240);
        self.gemm.rounding.next = self.desc.q.val().get_bits::<2>(248);
        self.gemm.row_state.next = self.desc.q.val().get_bits::<32>(264);
        self.gemm.col_state.next = self.desc.q.val().get_bits::<32>(296);

        self.vector.op.next = self.desc.q.val().get_bits::<3>(0);
        self.vector.x_addr.next = self.desc.q.val().get_bits::<32>(24);
        self.vector.x_stride.next = self.desc.q.val().get_bits::<16>(56);
        self.vector.d_addr.next = self.desc.q.val().get_bits::<32>(72);
        self.vector.d_stride.next = self.desc.q.val().get_bits::<16>(104);
        self.vector.b_addr.next = self.desc.q.val().get_bits::<32>(152);
        self.vector.fl_x.next = self.desc.q.val().get_bits::<4>(184);
        self.vector.fl_b.next = self.desc.q.val().get_bits::<4>(192);
        self.vector.fl_w.next = self.desc.q.val().get_bits::<4>(152);
        self.vector.fl_g.next = self.desc.q.val().get_bits::<4>(160);
        self.vector.fl_eta.next = self.desc.q.val().get_bits::<5>(168);
        self.vector.rounding.next = self.desc.q.val().get_bits::<2>(176);
        self.vector.eta_q.next = self.desc.q.val().get_bits::<16>(184);
        self.vector.grid_shift.next = self.desc.q.val().get_bits::<4>(200);
        self.vector.grid_offset.next = self.desc.q.val().get_bits::<16>(216);
        self.vector.w_min.next = self.desc.q.val().get_bits::<16>(232);
        self.vector.w_max.next = self.desc.q.val().get_bits::<16>(248);
        self.vector.row_state.next = self.desc.q.val().get_bits::<32>(264);
        self.vector.col_state.next = self.desc.q.val().get_bits::<32>(296);
        if (self.decode.kind.val() == self.k_rmask.val())
            || (self.decode.kind.val() == self.k_qmask.val())
        {
            self.vector.y_addr.next = self.desc.q.val().get_bits::<32>(120);
            self.vector.y_stride.next = self.desc.q.val().get_bits::<16>(152);
            self.vector.rows.next = self.desc.q.val().get_bits::<16>(168);
            self.vector.cols.next = self.desc.q.val().get_bits::<16>(184);
            self.vector.alpha.next = self.desc.q.val().get_bits::<16>(200);
            self.vector.bits.next = self.desc.q.val().get_bits::<4>(216);
        } else {
            if self.decode.kind.val() == self.k_update.val() {
                self.vector.y_addr.next = self.desc.q.val().get_bits::<32>(24);
                self.vector.y_stride.next = self.desc.q.val().get_bits::<16>(56);
            } else {
                self.vector.y_addr.next = self.desc.q.val().get_bits::<32>(72);
                self.vector.y_stride.next = self.desc.q.val().get_bits::<16>(104);
            }
            self.vector.rows.next = self.desc.q.val().get_bits::<16>(120);
            self.vector.cols.next = self.desc.q.val().get_bits::<16>(136);
            self.vector.alpha.next = self.desc.q.val().get_bits::<16>(152);
            self.vector.bits.next = self.desc.q.val().get_bits::<4>(168);
        }

        // The response bytes.
        self.resp.idx.next = self.idx.q.val().get_bits::<6>(0);
        self.resp.kind.next = self.decode.kind.val();
        self.resp.seq.next = self.decode.seq.val();
        self.resp.status.next = self.status.q.val();
        self.resp.body_len.next = self.hdr_len.q.val();
        self.resp.sel.next = self.sel.q.val();
        self.resp.clock_hz.next = self.clock_hz.val();
        self.resp.baud.next = self.baud.val();
        self.resp.last_status.next = self.last_status.q.val();
        self.resp.commands.next = self.commands.q.val();
        self.resp.busy_cycles.next = self.busy_cycles.q.val();
        self.resp.crc_errors.next = self.crc_errors.val();
        self.resp.frame_errors.next = self.frame_errors.val();
        self.resp.overruns.next = self.overruns.val();
        self.resp.cycles.next = self.gemm.cycles.val();

        // RANGE: the checks of the decoded command.
        self.range.clock.next = self.clock.val();
        self.range.start.next = false;
        self.range.pre.next = self.decode.pre.val();
        self.range.k_oor.next = self.decode.k_oor.val();
        for i in 0..3 {
            self.range.t_used[i].next = self.decode.t_used[i].val();
            self.range.t_addr[i].next = self.decode.t_addr[i].val();
            self.range.t_stride[i].next = self.decode.t_stride[i].val();
            self.range.t_rowsm1[i].next = self.decode.t_rowsm1[i].val();
            self.range.t_cols[i].next = self.decode.t_cols[i].val();
        }
        self.range.in_place_ok.next = self.decode.in_place_ok.val();
        self.range.bias.next = self.decode.bias.val();
        self.range.b_addr.next = self.decode.b_addr.val();
        self.range.b_end.next = self.decode.b_end.val();

        // Defaults of the pulses and the buffer ports.
        self.rd_addr.next = self.idx.q.val();
        self.frame_release.next = false;
        self.clear_counters.next = false;
        self.wr_en.next = false;
        self.wr_addr.next = self.idx.q.val();
        self.wr_data.next = self.resp.data.val();
        self.send.next = false;
        self.len.next = self.tx_len.q.val();
        self.gemm.start.next = false;
        self.vector.start.next = false;
        self.keep.d.next = false;
        self.e_wr_en.d.next = false;
        self.ext_byte.inp.next = self.rd_data.val();
        self.ext_word.inp.next = self.rd_data.val();

        self.busy_count.d.next = self.state.q.val() != self.s_idle.val();
        self.busy_clear.d.next = false;
        if self.busy_clear.q.val() {
            self.busy_cycles.d.next = self.zero64.val();
        } else if self.busy_count.q.val() {
            self.busy_cycles.d.next = self.busy_cycles.q.val() + self.one64.val();
        }

        if self.state.q.val() == self.s_idle.val() {
            if self.frame_ready.val() {
                self.idx.d.next = self.b0.val();
                self.state.d.next = self.s_fetch.val();
            }
        } else if self.state.q.val() == self.s_fetch.val() {
            // Byte idx-1 arrives while byte idx is addressed. Which bytes the descriptor keeps
            // (`kept_byte`) is looked up by the index (below 64 while fetching), not compared
            // with the ends of each range.
            self.keep.d.next = ((self.kept_bytes.val() >> self.idx.q.val().get_bits::<6>(0))
                & self.one64.val())
                != self.zero64.val();
            if self.keep.q.val() {
                self.desc.d.next = (self.desc.q.val() >> 8) | (self.ext_byte.out.val() << 320);
            }
            if self.idx.q.val() == self.b_fetch.val() {
                self.state.d.next = self.s_decide.val();
            } else {
                self.idx.d.next = self.idx.q.val() + self.b1.val();
            }
        } else if self.state.q.val() == self.s_decide.val() {
            if !self.decode.always_run.val()
                && self.last_valid.q.val()
                && (self.decode.seq.val() == self.last_seq.q.val())
            {
                self.tx_len.d.next = self.last_len.q.val();
                self.state.d.next = self.s_replay.val();
            } else {
                self.commands.d.next = self.commands.q.val() + self.one32.val();
                self.range.start.next = true;
                self.state.d.next = self.s_range.val();
            }
        } else if self.state.q.val() == self.s_replay.val() {
            if !self.tx_busy.val() {
                self.send.next = true;
                self.frame_release.next = true;
                self.state.d.next = self.s_gap.val();
            }
        } else if self.state.q.val() == self.s_range.val() {
            if self.range.done.val() {
                self.state.d.next = self.s_check.val();
            }
        } else if self.state.q.val() == self.s_check.val() {
            // The transmit buffer may still be on the wire (a retry's replay).
            if !self.tx_busy.val() {
                self.status.d.next = self.range.verdict.val();
                if self.decode.kind.val() != self.k_status.val() {
                    self.last_status.d.next = self.range.verdict.val();
                }
                self.idx.d.next = self.b0.val();
                self.sel.d.next = self.body_none.val();
                self.hdr_len.d.next = self.zero16.val();
                self.tx_len.d.next = self.b8.val();
                self.resp_last.d.next = self.b_last_header.val();
                self.state.d.next = self.s_resp.val();
                if self.range.verdict.val() == self.st_ok.val() {
                    self.hdr_len.d.next = self.decode.resp_len.val();
                    self.tx_len.d.next =
                        self.decode.resp_len.val().get_bits::<BB>(0) + self.b8.val();
                    if self.decode.action.val() == self.a_caps.val() {
                        self.sel.d.next = self.body_caps.val();
                        self.resp_last.d.next = self.b_last_caps.val();
                    } else if self.decode.action.val() == self.a_status.val() {
                        self.sel.d.next = self.body_status.val();
                        self.resp_last.d.next = self.b_last_status.val();
                    } else if self.decode.action.val() == self.a_reset.val() {
                        self.commands.d.next = self.zero32.val();
                        self.last_status.d.next = self.zero8.val();
                        self.busy_clear.d.next = true;
                        self.clear_counters.next = true;
                    } else if self.decode.action.val() == self.a_write.val() {
                        self.idx.d.next = self.b12.val();
                        self.wvalid.d.next = false;
                        self.whi.d.next = false;
                        self.maddr.d.next = self.decode.t_addr[2].val().get_bits::<MB>(0);
                        self.state.d.next = self.s_write.val();
                    } else if self.decode.action.val() == self.a_read.val() {
                        self.idx.d.next = self.b8.val();
                        self.e_rd_addr.d.next = self.decode.t_addr[2].val().get_bits::<MB>(0);
                        self.words_left.d.next = self.decode.t_cols[2].val();
                        self.rphase.d.next = self.ph0.val();
                        self.state.d.next = self.s_read.val();
                    } else if self.decode.action.val() == self.a_gemm.val() {
                        self.sel.d.next = self.body_cycles.val();
                        self.resp_last.d.next = self.b_last_cycles.val();
                        self.state.d.next = self.s_start.val();
                    } else {
                        self.state.d.next = self.s_start.val();
                    }
                }
            }
        } else if self.state.q.val() == self.s_write.val() {
            // Body bytes 4.. (frame bytes 12..) are the words, low byte first; byte idx-1
            // arrives while byte idx is addressed.
            self.wvalid.d.next = self.idx.q.val() < self.frame_len.val();
            if self.idx.q.val() < self.frame_len.val() {
                self.idx.d.next = self.idx.q.val() + self.b1.val();
            }
            if self.wvalid.q.val() {
                self.word.d.next = (self.word.q.val() >> 8) | (self.ext_word.out.val() << 8);
                self.whi.d.next = !self.whi.q.val();
                if self.whi.q.val() {
                    self.e_wr_en.d.next = true;
                    self.e_wr_addr.d.next = self.maddr.q.val();
                    self.e_wr_data.d.next =
                        (self.word.q.val() >> 8) | (self.ext_word.out.val() << 8);
                    self.maddr.d.next = self.maddr.q.val() + self.one_m.val();
                }
            } else if self.idx.q.val() >= self.frame_len.val() {
                self.idx.d.next = self.b0.val();
                self.state.d.next = self.s_resp.val();
            }
        } else if self.state.q.val() == self.s_read.val() {
            // Three cycles a word: the address settles, then the low and the high byte.
            if self.rphase.q.val() == self.ph0.val() {
                self.rphase.d.next = self.ph1.val();
            } else if self.rphase.q.val() == self.ph1.val() {
                self.wr_en.next = true;
                self.wr_data.next = self.memory.read_data.val().get_bits::<8>(0);
                self.idx.d.next = self.idx.q.val() + self.b1.val();
                self.rphase.d.next = self.ph2.val();
            } else {
                self.wr_en.next = true;
                self.wr_data.next = self.memory.read_data.val().get_bits::<8>(8);
                self.idx.d.next = self.idx.q.val() + self.b1.val();
                self.e_rd_addr.d.next = self.e_rd_addr.q.val() + self.one_m.val();
                self.words_left.d.next = self.words_left.q.val() - self.one16.val();
                self.rphase.d.next = self.ph0.val();
                if self.words_left.q.val() == self.one16.val() {
                    self.idx.d.next = self.b0.val();
                    self.state.d.next = self.s_resp.val();
                }
            }
        } else if self.state.q.val() == self.s_start.val() {
            if self.decode.action.val() == self.a_gemm.val() {
                self.gemm.start.next = true;
            } else {
                self.vector.start.next = true;
            }
            self.state.d.next = self.s_wait.val();
        } else if self.state.q.val() == self.s_wait.val() {
            if !self.gemm.busy.val() && !self.vector.busy.val() {
                self.idx.d.next = self.b0.val();
                self.state.d.next = self.s_resp.val();
            }
        } else if self.state.q.val() == self.s_resp.val() {
            self.wr_en.next = true;
            if self.idx.q.val() == self.resp_last.q.val() {
                self.state.d.next = self.s_send.val();
            } else {
                self.idx.d.next = self.idx.q.val() + self.b1.val();
            }
        } else if self.state.q.val() == self.s_send.val() {
            self.send.next = true;
            self.frame_release.next = true;
            // HELLO and RESET that succeed leave nothing to replay (protocol.md §2).
            self.last_valid.d.next =
                !(self.decode.always_run.val() && (self.status.q.val() == self.st_ok.val()));
            self.last_seq.d.next = self.decode.seq.val();
            self.last_len.d.next = self.tx_len.q.val();
            self.state.d.next = self.s_gap.val();
        } else if !self.frame_ready.val() {
            self.state.d.next = self.s_idle.val();
        }
    }
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
