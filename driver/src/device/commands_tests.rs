use super::*;
use qtrain_model::UpdateParams;

fn t(addr: u32, stride: u16) -> Tensor {
    Tensor { addr, stride }
}

fn gemm() -> GemmDescriptor {
    GemmDescriptor {
        a: t(0x0403_0201, 0x0605),
        b: t(0x0A09_0807, 0x0C0B),
        c: t(0x100F_0E0D, 0x1211),
        m: 0x1413,
        k: 0x1615,
        n: 0x1817,
        trans_a: true,
        trans_b: false,
        accumulate: true,
        fl_a: 14,
        fl_b: 13,
        fl_c: 12,
        rounding: Rounding::Stochastic,
        row_state: 0xDEAD_BEEF,
        col_state: 0x0102_0304,
    }
}

fn update() -> UpdateDescriptor {
    UpdateDescriptor {
        w: t(0x10, 3),
        g: t(0x20, 4),
        rows: 5,
        cols: 6,
        params: UpdateParams {
            fl_w: 7,
            fl_g: 8,
            fl_eta: 9,
            eta_q: 0xABCD,
            rounding: Rounding::Nearest,
            grid_shift: 1,
            grid_offset: -2,
            w_min: -3,
            w_max: 0x7FFF,
            row_state: 0x1122_3344,
            col_state: 0x5566_7788,
        },
    }
}

/// Every command with its body, written out by hand from protocol.md §5.
fn cases() -> Vec<(Command, Vec<u8>)> {
    vec![
        (Command::Hello { version: 1 }, vec![1]),
        (Command::Capabilities, vec![]),
        (Command::Status, vec![]),
        (Command::Reset, vec![]),
        (
            Command::Write {
                addr: 0x0102_0304,
                words: vec![-1, 0x1234],
            },
            vec![4, 3, 2, 1, 0xFF, 0xFF, 0x34, 0x12],
        ),
        (
            Command::Read {
                addr: 0x10,
                count: 0x0203,
            },
            vec![0x10, 0, 0, 0, 3, 2],
        ),
        (
            Command::Gemm(gemm()),
            vec![
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 0x13, 0x14, 0x15,
                0x16, 0x17, 0x18, 0b101, 14, 13, 12, 2, 0, 0, 0, 0xEF, 0xBE, 0xAD, 0xDE, 4, 3, 2,
                1,
            ],
        ),
        (
            Command::Vector(VectorOp::BiasAdd {
                x: t(1, 2),
                y: t(3, 4),
                rows: 5,
                cols: 6,
                b_addr: 7,
                fl_x: 8,
                fl_b: 9,
            }),
            vec![
                1, 0, 0, 0, 2, 0, 3, 0, 0, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0, 0, 8, 9,
            ],
        ),
        (
            Command::Vector(VectorOp::Relu {
                x: t(1, 2),
                y: t(3, 4),
                rows: 5,
                cols: 0x0106,
            }),
            vec![1, 0, 0, 0, 2, 0, 3, 0, 0, 0, 4, 0, 5, 0, 6, 1],
        ),
        (
            Command::Vector(VectorOp::ReluMask {
                x: t(1, 2),
                d: t(3, 4),
                y: t(5, 6),
                rows: 7,
                cols: 8,
            }),
            vec![
                1, 0, 0, 0, 2, 0, 3, 0, 0, 0, 4, 0, 5, 0, 0, 0, 6, 0, 7, 0, 8, 0,
            ],
        ),
        (
            Command::Vector(VectorOp::Qrelu {
                x: t(1, 2),
                y: t(3, 4),
                rows: 5,
                cols: 6,
                alpha: 0x0203,
                bits: 4,
            }),
            vec![1, 0, 0, 0, 2, 0, 3, 0, 0, 0, 4, 0, 5, 0, 6, 0, 3, 2, 4, 0],
        ),
        (
            Command::Vector(VectorOp::QreluMask {
                x: t(1, 2),
                d: t(3, 4),
                y: t(5, 6),
                rows: 7,
                cols: 8,
                alpha: -2,
                bits: 8,
            }),
            vec![
                1, 0, 0, 0, 2, 0, 3, 0, 0, 0, 4, 0, 5, 0, 0, 0, 6, 0, 7, 0, 8, 0, 0xFE, 0xFF, 8, 0,
            ],
        ),
        (
            Command::Vector(VectorOp::Update(update())),
            vec![
                0x10, 0, 0, 0, 3, 0, 0x20, 0, 0, 0, 4, 0, 5, 0, 6, 0, 7, 8, 9, 1, 0xCD, 0xAB, 1, 0,
                0xFE, 0xFF, 0xFD, 0xFF, 0xFF, 0x7F, 0, 0, 0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66,
                0x55,
            ],
        ),
    ]
}

#[test]
fn every_command_encodes_to_its_fixed_bytes_and_back() {
    for (cmd, bytes) in cases() {
        assert_eq!(cmd.encode(), bytes, "{}", cmd.name());
        assert_eq!(Command::decode(cmd.code(), &bytes), Ok(cmd.clone()));
    }
}

#[test]
fn wrong_lengths_are_bad_length() {
    for (cmd, bytes) in cases() {
        let mut longer = bytes.clone();
        longer.push(0);
        let shorter = &bytes[..bytes.len().saturating_sub(1)];
        if let Command::Write { .. } = cmd {
            // A WRITE of any even number of words is valid; one extra byte is not.
            assert_eq!(
                Command::decode(cmd.code(), &longer),
                Err(StatusCode::BadLength)
            );
            assert_eq!(
                Command::decode(cmd.code(), &bytes[..4]),
                Err(StatusCode::BadLength),
                "a WRITE needs at least one word"
            );
            continue;
        }
        assert_eq!(
            Command::decode(cmd.code(), &longer),
            Err(StatusCode::BadLength),
            "{}",
            cmd.name()
        );
        if !bytes.is_empty() {
            assert_eq!(
                Command::decode(cmd.code(), shorter),
                Err(StatusCode::BadLength),
                "{}",
                cmd.name()
            );
        }
    }
}

#[test]
fn unknown_codes_and_bad_enums() {
    assert_eq!(Command::decode(0x05, &[]), Err(StatusCode::UnknownCommand));
    assert_eq!(
        Command::decode(0x36, &[0; 16]),
        Err(StatusCode::UnknownCommand)
    );
    let mut g = Command::Gemm(gemm()).encode();
    g[28] = 3;
    assert_eq!(
        Command::decode(code::GEMM, &g),
        Err(StatusCode::BadArgument)
    );
    let mut g = Command::Gemm(gemm()).encode();
    g[24] = 0x08;
    assert_eq!(
        Command::decode(code::GEMM, &g),
        Err(StatusCode::BadArgument)
    );
}

#[test]
fn capabilities_and_status_bodies() {
    let caps = Capabilities {
        protocol: 1,
        hw_major: 2,
        hw_minor: 3,
        rows: 4,
        cols: 8,
        max_body: 0x1000,
        mem_words: 0x0001_0000,
        max_k: 0x0400,
        clock_hz: 12_000_000,
        baud: 3_000_000,
        ops: 0x3F,
    };
    let b = caps.encode();
    assert_eq!(b.len(), CAPABILITIES_LEN);
    assert_eq!(&b[..8], &[1, 2, 3, 4, 8, 0, 0x00, 0x10]);
    assert_eq!(&b[8..12], &[0, 0, 1, 0]);
    assert_eq!(Capabilities::decode(&b), Ok(caps));
    let st = DeviceStatus {
        busy: false,
        last_status: 4,
        commands: 0x0102_0304,
        busy_cycles: 0x0A0B_0C0D_0E0F_1011,
        crc_errors: 7,
        frame_errors: 8,
        overruns: 9,
    };
    let b = st.encode();
    assert_eq!(
        b,
        vec![
            0, 4, 0, 0, 4, 3, 2, 1, 0x11, 0x10, 0x0F, 0x0E, 0x0D, 0x0C, 0x0B, 0x0A, 7, 0, 8, 0, 9,
            0, 0, 0
        ]
    );
    assert_eq!(DeviceStatus::decode(&b), Ok(st));
    assert_eq!(DeviceStatus::decode(&b[1..]), Err(StatusCode::BadLength));
}
