//! Decoding and the argument checks of one command, combinational.

use super::DeviceGeometry;
use rust_hdl::prelude::*;

/// Bits of the descriptor register: the command's kind and seq (header bytes 1..4) and body
/// bytes 0..30 and 32..40 (bytes 30 and 31 are reserved in every command that has them).
pub const DESC_BITS: usize = 328;

/// Whether the frame byte at `addr` goes into the descriptor register.
pub fn kept_byte(addr: usize) -> bool {
    (1..4).contains(&addr) || (8..38).contains(&addr) || (40..48).contains(&addr)
}

/// Frame bytes the engine reads before decoding (header and the longest descriptor).
pub const FETCH_BYTES: usize = 48;

/// Status codes (protocol.md §3).
pub mod status {
    /// OK.
    pub const OK: u64 = 0;
    /// BAD_LENGTH.
    pub const BAD_LENGTH: u64 = 1;
    /// UNKNOWN_COMMAND.
    pub const UNKNOWN_COMMAND: u64 = 2;
    /// OUT_OF_RANGE.
    pub const OUT_OF_RANGE: u64 = 3;
    /// BAD_ARGUMENT.
    pub const BAD_ARGUMENT: u64 = 4;
    /// BAD_VERSION.
    pub const BAD_VERSION: u64 = 6;
}

/// What the engine does with a command that passed every check.
pub mod action {
    /// Nothing but the response (unknown or rejected commands).
    pub const NONE: u64 = 0;
    /// Answer the capabilities (HELLO, CAPABILITIES).
    pub const CAPS: u64 = 1;
    /// Answer the counters.
    pub const STATUS: u64 = 2;
    /// Clear counters and seq memory.
    pub const RESET: u64 = 3;
    /// Copy words from the frame into memory.
    pub const WRITE: u64 = 4;
    /// Copy words from memory into the response.
    pub const READ: u64 = 5;
    /// Run the GEMM unit.
    pub const GEMM: u64 = 6;
    /// Run the vector unit.
    pub const VECTOR: u64 = 7;
}

/// Decodes the descriptor register (layout [`DESC_BITS`]) and runs the checks that need no
/// multiplication: the body length (BAD_LENGTH), the command code (UNKNOWN_COMMAND), the
/// argument domains (BAD_ARGUMENT), HELLO's version (BAD_VERSION), GEMM's `k > max_k`. It also
/// describes the tensors whose ranges and overlaps the engine checks next: up to three, the
/// output always in slot 2 (a tensor of `rows` x `cols` with stride `stride` at `addr`; WRITE and
/// READ are one row of their word count), plus BIAS_ADD's bias vector.
#[derive(LogicBlock)]
pub struct CommandDecode {
    /// The descriptor register.
    pub desc: Signal<In, Bits<DESC_BITS>>,
    /// Body length in bytes.
    pub body_len: Signal<In, Bits<16>>,
    /// The command code.
    pub kind: Signal<Out, Bits<8>>,
    /// The command's seq.
    pub seq: Signal<Out, Bits<16>>,
    /// HELLO or RESET: always executed, never answered from the seq memory.
    pub always_run: Signal<Out, Bit>,
    /// Status of the checks so far, in protocol order (0 when all passed).
    pub pre: Signal<Out, Bits<8>>,
    /// What to do when every check passes (`action::*`).
    pub action: Signal<Out, Bits<3>>,
    /// Response body length when every check passes.
    pub resp_len: Signal<Out, Bits<16>>,
    /// GEMM `k` above the device's `max_k` (OUT_OF_RANGE).
    pub k_oor: Signal<Out, Bit>,
    /// The tensor slot is in use.
    pub t_used: Vec<Signal<Out, Bit>>,
    /// First word of the tensor (zero-extended to 34 bits).
    pub t_addr: Vec<Signal<Out, Bits<34>>>,
    /// Row stride.
    pub t_stride: Vec<Signal<Out, Bits<16>>>,
    /// Rows minus one.
    pub t_rowsm1: Vec<Signal<Out, Bits<16>>>,
    /// Columns.
    pub t_cols: Vec<Signal<Out, Bits<16>>>,
    /// An input may be the output itself (vector commands; a GEMM's C may share nothing).
    pub in_place_ok: Signal<Out, Bit>,
    /// BIAS_ADD: check the bias vector too.
    pub bias: Signal<Out, Bit>,
    /// The bias vector's first word, its low 17 bits (all the overlap test needs: it counts
    /// only once the bias vector is in range).
    pub b_addr: Signal<Out, Bits<17>>,
    /// One past the bias vector's last word.
    pub b_end: Signal<Out, Bits<34>>,
    // Fields at their body offsets (`h` 16 bits, `k` 8 bits, `x` 34-bit zero-extended address).
    x0: Signal<Local, Bits<34>>,
    x6: Signal<Local, Bits<34>>,
    x12: Signal<Local, Bits<34>>,
    cols14: Signal<Local, Bits<34>>,
    h4: Signal<Local, Bits<16>>,
    h10: Signal<Local, Bits<16>>,
    h12: Signal<Local, Bits<16>>,
    h14: Signal<Local, Bits<16>>,
    h16: Signal<Local, Bits<16>>,
    h18: Signal<Local, Bits<16>>,
    h20: Signal<Local, Bits<16>>,
    h22: Signal<Local, Bits<16>>,
    h26: Signal<Local, Bits<16>>,
    h28: Signal<Local, Bits<16>>,
    k0: Signal<Local, Bits<8>>,
    k16: Signal<Local, Bits<8>>,
    k17: Signal<Local, Bits<8>>,
    k18: Signal<Local, Bits<8>>,
    k19: Signal<Local, Bits<8>>,
    k20: Signal<Local, Bits<8>>,
    k21: Signal<Local, Bits<8>>,
    k22: Signal<Local, Bits<8>>,
    k24: Signal<Local, Bits<8>>,
    k25: Signal<Local, Bits<8>>,
    k26: Signal<Local, Bits<8>>,
    k27: Signal<Local, Bits<8>>,
    k28: Signal<Local, Bits<8>>,
    row_state: Signal<Local, Bits<32>>,
    col_state: Signal<Local, Bits<32>>,
    // Shared by the vector commands: shape, and whether it is bad.
    vrows: Signal<Local, Bits<16>>,
    vcols: Signal<Local, Bits<16>>,
    vshape_bad: Signal<Local, Bit>,
    known: Signal<Local, Bit>,
    bad_len: Signal<Local, Bit>,
    bad_arg: Signal<Local, Bit>,
    // GEMM: op(A) is M x K, A as stored ar x ac; B as stored br x bc.
    ar: Signal<Local, Bits<16>>,
    ac: Signal<Local, Bits<16>>,
    br: Signal<Local, Bits<16>>,
    bc: Signal<Local, Bits<16>>,
    // UPDATE: s = FL_G + FL_eta - FL_W.
    shift: Signal<Local, Bits<8>>,
    mask32: Constant<Bits<34>>,
    mask16: Constant<Bits<34>>,
    k_hello: Constant<Bits<8>>,
    k_caps: Constant<Bits<8>>,
    k_status: Constant<Bits<8>>,
    k_reset: Constant<Bits<8>>,
    k_write: Constant<Bits<8>>,
    k_read: Constant<Bits<8>>,
    k_gemm: Constant<Bits<8>>,
    k_bias: Constant<Bits<8>>,
    k_relu: Constant<Bits<8>>,
    k_rmask: Constant<Bits<8>>,
    k_qrelu: Constant<Bits<8>>,
    k_qmask: Constant<Bits<8>>,
    k_update: Constant<Bits<8>>,
    st_bad_length: Constant<Bits<8>>,
    st_unknown: Constant<Bits<8>>,
    st_bad_arg: Constant<Bits<8>>,
    st_bad_version: Constant<Bits<8>>,
    st_ok: Constant<Bits<8>>,
    act_none: Constant<Bits<3>>,
    act_caps: Constant<Bits<3>>,
    act_status: Constant<Bits<3>>,
    act_reset: Constant<Bits<3>>,
    act_write: Constant<Bits<3>>,
    act_read: Constant<Bits<3>>,
    act_gemm: Constant<Bits<3>>,
    act_vector: Constant<Bits<3>>,
    len0: Constant<Bits<16>>,
    len1: Constant<Bits<16>>,
    len4: Constant<Bits<16>>,
    len6: Constant<Bits<16>>,
    len16: Constant<Bits<16>>,
    len20: Constant<Bits<16>>,
    len22: Constant<Bits<16>>,
    len24: Constant<Bits<16>>,
    len26: Constant<Bits<16>>,
    len28: Constant<Bits<16>>,
    len40: Constant<Bits<16>>,
    max_body: Constant<Bits<16>>,
    max_read: Constant<Bits<16>>,
    max_k: Constant<Bits<16>>,
    // The device has the vector unit: without it the vector commands are unknown.
    vector_unit: Constant<Bit>,
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    zero32: Constant<Bits<32>>,
    zero8: Constant<Bits<8>>,
    one8: Constant<Bits<8>>,
    two8: Constant<Bits<8>>,
    eight8: Constant<Bits<8>>,
    fifteen8: Constant<Bits<8>>,
    thirty8: Constant<Bits<8>>,
    thirty_one8: Constant<Bits<8>>,
    flag_mask: Constant<Bits<8>>,
    sign16: Constant<Bits<16>>,
}

fn k8(v: u64) -> Constant<Bits<8>> {
    Constant::new(bits(v))
}

fn k16(v: u64) -> Constant<Bits<16>> {
    Constant::new(bits(v))
}

fn k3(v: u64) -> Constant<Bits<3>> {
    Constant::new(bits(v))
}

impl Default for CommandDecode {
    /// The checks of [`DeviceGeometry::SIM`].
    fn default() -> Self {
        Self::new(&DeviceGeometry::SIM)
    }
}

impl CommandDecode {
    /// The checks of a device of `geometry`: BAD_LENGTH beyond its `max_body`, BAD_ARGUMENT
    /// for a READ of more than `max_body / 2` words, OUT_OF_RANGE for a K beyond its `max_k`.
    pub fn new(geometry: &DeviceGeometry) -> Self {
        CommandDecode {
            desc: Default::default(),
            body_len: Default::default(),
            kind: Default::default(),
            seq: Default::default(),
            always_run: Default::default(),
            pre: Default::default(),
            action: Default::default(),
            resp_len: Default::default(),
            k_oor: Default::default(),
            t_used: (0..3).map(|_| Default::default()).collect(),
            t_addr: (0..3).map(|_| Default::default()).collect(),
            t_stride: (0..3).map(|_| Default::default()).collect(),
            t_rowsm1: (0..3).map(|_| Default::default()).collect(),
            t_cols: (0..3).map(|_| Default::default()).collect(),
            in_place_ok: Default::default(),
            bias: Default::default(),
            b_addr: Default::default(),
            b_end: Default::default(),
            x0: Default::default(),
            x6: Default::default(),
            x12: Default::default(),
            cols14: Default::default(),
            h4: Default::default(),
            h10: Default::default(),
            h12: Default::default(),
            h14: Default::default(),
            h16: Default::default(),
            h18: Default::default(),
            h20: Default::default(),
            h22: Default::default(),
            h26: Default::default(),
            h28: Default::default(),
            k0: Default::default(),
            k16: Default::default(),
            k17: Default::default(),
            k18: Default::default(),
            k19: Default::default(),
            k20: Default::default(),
            k21: Default::default(),
            k22: Default::default(),
            k24: Default::default(),
            k25: Default::default(),
            k26: Default::default(),
            k27: Default::default(),
            k28: Default::default(),
            row_state: Default::default(),
            col_state: Default::default(),
            vrows: Default::default(),
            vcols: Default::default(),
            vshape_bad: Default::default(),
            known: Default::default(),
            bad_len: Default::default(),
            bad_arg: Default::default(),
            ar: Default::default(),
            ac: Default::default(),
            br: Default::default(),
            bc: Default::default(),
            shift: Default::default(),
            mask32: Constant::new(bits(0xFFFF_FFFF)),
            mask16: Constant::new(bits(0xFFFF)),
            k_hello: k8(0x01),
            k_caps: k8(0x02),
            k_status: k8(0x03),
            k_reset: k8(0x04),
            k_write: k8(0x10),
            k_read: k8(0x11),
            k_gemm: k8(0x20),
            k_bias: k8(0x30),
            k_relu: k8(0x31),
            k_rmask: k8(0x32),
            k_qrelu: k8(0x33),
            k_qmask: k8(0x34),
            k_update: k8(0x35),
            st_bad_length: k8(status::BAD_LENGTH),
            st_unknown: k8(status::UNKNOWN_COMMAND),
            st_bad_arg: k8(status::BAD_ARGUMENT),
            st_bad_version: k8(status::BAD_VERSION),
            st_ok: k8(status::OK),
            act_none: k3(action::NONE),
            act_caps: k3(action::CAPS),
            act_status: k3(action::STATUS),
            act_reset: k3(action::RESET),
            act_write: k3(action::WRITE),
            act_read: k3(action::READ),
            act_gemm: k3(action::GEMM),
            act_vector: k3(action::VECTOR),
            len0: k16(0),
            len1: k16(1),
            len4: k16(4),
            len6: k16(6),
            len16: k16(16),
            len20: k16(20),
            len22: k16(22),
            len24: k16(24),
            len26: k16(26),
            len28: k16(28),
            len40: k16(40),
            max_body: k16(geometry.max_body() as u64),
            max_read: k16(geometry.max_body() as u64 / 2),
            max_k: k16(geometry.max_k() as u64),
            vector_unit: Constant::new(geometry.vector_unit()),
            zero16: k16(0),
            one16: k16(1),
            zero32: Constant::new(bits(0)),
            zero8: k8(0),
            one8: k8(1),
            two8: k8(2),
            eight8: k8(8),
            fifteen8: k8(15),
            thirty8: k8(30),
            thirty_one8: k8(31),
            flag_mask: k8(0xF8),
            sign16: k16(0x8000),
        }
    }
}

impl Logic for CommandDecode {
    #[hdl_gen]
    fn update(&mut self) {
        // Body byte o sits at bit 24 + 8o (o < 30) or 8 + 8o (o >= 32) of the register.
        self.kind.next = self.desc.val().get_bits::<8>(0);
        self.seq.next = self.desc.val().get_bits::<16>(8);
        self.x0.next = self.desc.val().get_bits::<34>(24) & self.mask32.val();
        self.x6.next = self.desc.val().get_bits::<34>(72) & self.mask32.val();
        self.x12.next = self.desc.val().get_bits::<34>(120) & self.mask32.val();
        self.cols14.next = self.desc.val().get_bits::<34>(136) & self.mask16.val();
        self.h4.next = self.desc.val().get_bits::<16>(56);
        self.h10.next = self.desc.val().get_bits::<16>(104);
        self.h12.next = self.desc.val().get_bits::<16>(120);
        self.h14.next = self.desc.val().get_bits::<16>(136);
        self.h16.next = self.desc.val().get_bits::<16>(152);
        self.h18.next = self.desc.val().get_bits::<16>(168);
        self.h20.next = self.desc.val().get_bits::<16>(184);
        self.h22.next = self.desc.val().get_bits::<16>(200);
        self.h26.next = self.desc.val().get_bits::<16>(232);
        self.h28.next = self.desc.val().get_bits::<16>(248);
        self.k0.next = self.desc.val().get_bits::<8>(24);
        self.k16.next = self.desc.val().get_bits::<8>(152);
        self.k17.next = self.desc.val().get_bits::<8>(160);
        self.k18.next = self.desc.val().get_bits::<8>(168);
        self.k19.next = self.desc.val().get_bits::<8>(176);
        self.k20.next = self.desc.val().get_bits::<8>(184);
        self.k21.next = self.desc.val().get_bits::<8>(192);
        self.k22.next = self.desc.val().get_bits::<8>(200);
        self.k24.next = self.desc.val().get_bits::<8>(216);
        self.k25.next = self.desc.val().get_bits::<8>(224);
        self.k26.next = self.desc.val().get_bits::<8>(232);
        self.k27.next = self.desc.val().get_bits::<8>(240);
        self.k28.next = self.desc.val().get_bits::<8>(248);
        self.row_state.next = self.desc.val().get_bits::<32>(264);
        self.col_state.next = self.desc.val().get_bits::<32>(296);

        self.always_run.next =
            (self.kind.val() == self.k_hello.val()) || (self.kind.val() == self.k_reset.val());

        // The vector commands' shape: masks have three tensors, so their shape sits later.
        if (self.kind.val() == self.k_rmask.val()) || (self.kind.val() == self.k_qmask.val()) {
            self.vrows.next = self.h18.val();
            self.vcols.next = self.h20.val();
            self.vshape_bad.next = (self.h18.val() == self.zero16.val())
                || (self.h20.val() == self.zero16.val())
                || (self.h4.val() < self.h20.val())
                || (self.h10.val() < self.h20.val())
                || (self.h16.val() < self.h20.val());
        } else {
            self.vrows.next = self.h12.val();
            self.vcols.next = self.h14.val();
            self.vshape_bad.next = (self.h12.val() == self.zero16.val())
                || (self.h14.val() == self.zero16.val())
                || (self.h4.val() < self.h14.val())
                || (self.h10.val() < self.h14.val());
        }

        // GEMM shapes as stored.
        if self.k24.val().get_bit(0) {
            self.ar.next = self.h20.val();
            self.ac.next = self.h18.val();
        } else {
            self.ar.next = self.h18.val();
            self.ac.next = self.h20.val();
        }
        if self.k24.val().get_bit(1) {
            self.br.next = self.h22.val();
            self.bc.next = self.h20.val();
        } else {
            self.br.next = self.h20.val();
            self.bc.next = self.h22.val();
        }
        self.shift.next = self.k17.val() + self.k18.val() - self.k16.val();

        // Defaults: no tensors, nothing to do.
        self.known.next = true;
        self.bad_len.next = false;
        self.bad_arg.next = false;
        self.action.next = self.act_none.val();
        self.resp_len.next = self.len0.val();
        self.k_oor.next = false;
        self.in_place_ok.next = true;
        self.bias.next = false;
        self.b_addr.next = self.desc.val().get_bits::<17>(152);
        self.b_end.next =
            (self.desc.val().get_bits::<34>(152) & self.mask32.val()) + self.cols14.val();
        for i in 0..3 {
            self.t_used[i].next = false;
            self.t_addr[i].next = self.x0.val();
            self.t_stride[i].next = self.h4.val();
            self.t_rowsm1[i].next = self.vrows.val() - self.one16.val();
            self.t_cols[i].next = self.vcols.val();
        }

        if self.kind.val() == self.k_hello.val() {
            self.bad_len.next = self.body_len.val() != self.len1.val();
            self.action.next = self.act_caps.val();
            self.resp_len.next = self.len28.val();
        } else if self.kind.val() == self.k_caps.val() {
            self.bad_len.next = self.body_len.val() != self.len0.val();
            self.action.next = self.act_caps.val();
            self.resp_len.next = self.len28.val();
        } else if self.kind.val() == self.k_status.val() {
            self.bad_len.next = self.body_len.val() != self.len0.val();
            self.action.next = self.act_status.val();
            self.resp_len.next = self.len24.val();
        } else if self.kind.val() == self.k_reset.val() {
            self.bad_len.next = self.body_len.val() != self.len0.val();
            self.action.next = self.act_reset.val();
        } else if self.kind.val() == self.k_write.val() {
            self.bad_len.next =
                (self.body_len.val() < self.len6.val()) || self.body_len.val().get_bit(0);
            self.action.next = self.act_write.val();
            self.t_used[2].next = true;
            self.t_rowsm1[2].next = self.zero16.val();
            self.t_cols[2].next = (self.body_len.val() - self.len4.val()) >> 1;
        } else if self.kind.val() == self.k_read.val() {
            self.bad_len.next = self.body_len.val() != self.len6.val();
            self.bad_arg.next =
                (self.h4.val() == self.zero16.val()) || (self.h4.val() > self.max_read.val());
            self.action.next = self.act_read.val();
            self.resp_len.next = self.h4.val() + self.h4.val();
            self.t_used[2].next = true;
            self.t_rowsm1[2].next = self.zero16.val();
            self.t_cols[2].next = self.h4.val();
        } else if self.kind.val() == self.k_gemm.val() {
            self.bad_len.next = self.body_len.val() != self.len40.val();
            self.bad_arg.next = ((self.k24.val() & self.flag_mask.val()) != self.zero8.val())
                || (self.k28.val() > self.two8.val())
                || (self.h18.val() == self.zero16.val())
                || (self.h20.val() == self.zero16.val())
                || (self.h22.val() == self.zero16.val())
                || (self.h4.val() < self.ac.val())
                || (self.h10.val() < self.bc.val())
                || (self.h16.val() < self.h22.val())
                || (self.k25.val() > self.fifteen8.val())
                || (self.k26.val() > self.fifteen8.val())
                || (self.k27.val() > self.fifteen8.val())
                || (self.row_state.val() == self.zero32.val())
                || (self.col_state.val() == self.zero32.val())
                || (self.k24.val().get_bit(2)
                    && ((self.k25.val() + self.k26.val()) < self.k27.val()));
            self.k_oor.next = self.h20.val() > self.max_k.val();
            self.action.next = self.act_gemm.val();
            self.resp_len.next = self.len4.val();
            self.in_place_ok.next = false;
            self.t_used[0].next = true;
            self.t_rowsm1[0].next = self.ar.val() - self.one16.val();
            self.t_cols[0].next = self.ac.val();
            self.t_used[1].next = true;
            self.t_addr[1].next = self.x6.val();
            self.t_stride[1].next = self.h10.val();
            self.t_rowsm1[1].next = self.br.val() - self.one16.val();
            self.t_cols[1].next = self.bc.val();
            self.t_used[2].next = true;
            self.t_addr[2].next = self.x12.val();
            self.t_stride[2].next = self.h16.val();
            self.t_rowsm1[2].next = self.h18.val() - self.one16.val();
            self.t_cols[2].next = self.h22.val();
        } else if self.vector_unit.val()
            && ((self.kind.val() == self.k_bias.val())
                || (self.kind.val() == self.k_relu.val())
                || (self.kind.val() == self.k_qrelu.val()))
        {
            if self.kind.val() == self.k_bias.val() {
                self.bad_len.next = self.body_len.val() != self.len22.val();
                self.bad_arg.next = self.vshape_bad.val()
                    || (self.k20.val() > self.fifteen8.val())
                    || (self.k21.val() > self.fifteen8.val());
                self.bias.next = true;
            } else if self.kind.val() == self.k_relu.val() {
                self.bad_len.next = self.body_len.val() != self.len16.val();
                self.bad_arg.next = self.vshape_bad.val();
            } else {
                self.bad_len.next = self.body_len.val() != self.len20.val();
                self.bad_arg.next = self.vshape_bad.val()
                    || ((self.h16.val() & self.sign16.val()) != self.zero16.val())
                    || (self.h16.val() == self.zero16.val())
                    || (self.k18.val() == self.zero8.val())
                    || (self.k18.val() > self.eight8.val());
            }
            self.action.next = self.act_vector.val();
            // X in slot 0, Y (the output) in slot 2.
            self.t_used[0].next = true;
            self.t_used[2].next = true;
            self.t_addr[2].next = self.x6.val();
            self.t_stride[2].next = self.h10.val();
        } else if self.vector_unit.val()
            && ((self.kind.val() == self.k_rmask.val()) || (self.kind.val() == self.k_qmask.val()))
        {
            if self.kind.val() == self.k_rmask.val() {
                self.bad_len.next = self.body_len.val() != self.len22.val();
                self.bad_arg.next = self.vshape_bad.val();
            } else {
                self.bad_len.next = self.body_len.val() != self.len26.val();
                self.bad_arg.next = self.vshape_bad.val()
                    || ((self.h22.val() & self.sign16.val()) != self.zero16.val())
                    || (self.h22.val() == self.zero16.val())
                    || (self.k24.val() == self.zero8.val())
                    || (self.k24.val() > self.eight8.val());
            }
            self.action.next = self.act_vector.val();
            // X, D, and Y (the output).
            self.t_used[0].next = true;
            self.t_used[1].next = true;
            self.t_addr[1].next = self.x6.val();
            self.t_stride[1].next = self.h10.val();
            self.t_used[2].next = true;
            self.t_addr[2].next = self.x12.val();
            self.t_stride[2].next = self.h16.val();
        } else if self.vector_unit.val() && (self.kind.val() == self.k_update.val()) {
            self.bad_len.next = self.body_len.val() != self.len40.val();
            self.bad_arg.next = self.vshape_bad.val()
                || (self.k19.val() > self.two8.val())
                || (self.k16.val() > self.fifteen8.val())
                || (self.k17.val() > self.fifteen8.val())
                || (self.k18.val() > self.thirty_one8.val())
                || (self.k22.val() > self.fifteen8.val())
                || ((self.k17.val() + self.k18.val()) < self.k16.val())
                || (self.shift.val() > self.thirty8.val())
                || ((self.shift.val() + self.k22.val()) > self.thirty8.val())
                || ((self.h26.val() ^ self.sign16.val()) > (self.h28.val() ^ self.sign16.val()))
                || (self.row_state.val() == self.zero32.val())
                || (self.col_state.val() == self.zero32.val());
            self.action.next = self.act_vector.val();
            // G is the input (slot 0), W the output (slot 2) updated in place.
            self.t_used[0].next = true;
            self.t_addr[0].next = self.x6.val();
            self.t_stride[0].next = self.h10.val();
            self.t_used[2].next = true;
        } else {
            self.known.next = false;
        }

        // protocol.md §5's order; ranges and overlaps come later.
        if self.kind.val().get_bit(7) {
            self.pre.next = self.st_unknown.val();
        } else if self.body_len.val() > self.max_body.val() {
            self.pre.next = self.st_bad_length.val();
        } else if !self.known.val() {
            self.pre.next = self.st_unknown.val();
        } else if self.bad_len.val() {
            self.pre.next = self.st_bad_length.val();
        } else if self.bad_arg.val() {
            self.pre.next = self.st_bad_arg.val();
        } else if (self.kind.val() == self.k_hello.val()) && (self.k0.val() != self.one8.val()) {
            self.pre.next = self.st_bad_version.val();
        } else {
            self.pre.next = self.st_ok.val();
        }
    }
}
