use super::*;
use qtrain_model::{Rounding, UpdateParams};

fn small() -> DeviceEngine {
    DeviceEngine::new(EngineConfig {
        mem_words: 1024,
        max_k: 64,
        max_body: 256,
        ..EngineConfig::default()
    })
}

fn run(e: &mut DeviceEngine, cmd: &Command) -> (StatusCode, Vec<u8>) {
    e.execute(cmd.code(), &cmd.encode())
}

fn write(e: &mut DeviceEngine, addr: u32, words: &[i16]) {
    for (i, chunk) in words.chunks(100).enumerate() {
        let cmd = Command::Write {
            addr: addr + 100 * i as u32,
            words: chunk.to_vec(),
        };
        assert_eq!(run(e, &cmd).0, StatusCode::Ok);
    }
}

fn pattern(n: usize, salt: i32) -> Vec<i16> {
    (0..n as i32)
        .map(|i| ((i * 7919 + salt * 31) % 2001 - 1000) as i16)
        .collect()
}

#[test]
fn write_then_read_and_range_checks() {
    let mut e = small();
    write(&mut e, 1020, &[1, -2, 3, -4]);
    let (s, body) = run(
        &mut e,
        &Command::Read {
            addr: 1021,
            count: 3,
        },
    );
    assert_eq!(s, StatusCode::Ok);
    assert_eq!(body, vec![0xFE, 0xFF, 3, 0, 0xFC, 0xFF]);
    let before = e.memory().to_vec();
    let cmd = Command::Write {
        addr: 1022,
        words: vec![9, 9, 9],
    };
    assert_eq!(run(&mut e, &cmd).0, StatusCode::OutOfRange);
    assert_eq!(e.memory(), &before[..], "a rejected WRITE changes nothing");
    let cmd = Command::Read {
        addr: 1022,
        count: 3,
    };
    assert_eq!(run(&mut e, &cmd).0, StatusCode::OutOfRange);
    assert_eq!(
        run(&mut e, &Command::Read { addr: 0, count: 0 }).0,
        StatusCode::BadArgument
    );
    assert_eq!(
        run(
            &mut e,
            &Command::Read {
                addr: 0,
                count: 129
            }
        )
        .0,
        StatusCode::BadArgument
    );
    assert_eq!(
        e.execute(code::WRITE, &[0; 258]).0,
        StatusCode::BadLength,
        "over max_body"
    );
    assert_eq!(e.execute(0x7F, &[]).0, StatusCode::UnknownCommand);
    assert_eq!(
        e.execute(code::READ | code::RESPONSE, &[]).0,
        StatusCode::UnknownCommand
    );
    assert_eq!(
        run(&mut e, &Command::Hello { version: 2 }).0,
        StatusCode::BadVersion
    );
}

#[test]
fn a_repeated_seq_is_answered_from_memory_until_hello() {
    let mut e = small();
    let w = |v: i16| {
        Frame::new(
            code::WRITE,
            7,
            0,
            Command::Write {
                addr: 5,
                words: vec![v],
            }
            .encode(),
        )
    };
    let first = e.handle_frame(&w(11));
    assert_eq!(first.header.kind, code::WRITE | code::RESPONSE);
    assert_eq!(first.header.status, 0);
    assert_eq!(e.handle_frame(&w(22)), first, "same seq: replayed");
    assert_eq!(e.memory()[5], 11, "and not executed again");
    assert_eq!(e.status().commands, 1);
    let hello = Frame::new(code::HELLO, 7, 0, vec![1]);
    let caps = e.handle_frame(&hello);
    assert_eq!(Capabilities::decode(&caps.body), Ok(e.capabilities()));
    e.handle_frame(&w(33));
    assert_eq!(e.memory()[5], 33, "HELLO forgot the seq");
    let reset = Frame::new(code::RESET, 7, 0, vec![]);
    assert_eq!(e.handle_frame(&reset).header.status, 0);
    assert_eq!(e.status().commands, 0, "RESET clears counters");
    e.handle_frame(&w(44));
    assert_eq!(e.memory()[5], 44, "RESET forgot the seq");
}

#[test]
fn status_counts_commands_errors_and_cycles() {
    let mut e = small();
    e.note_frame_error(&FrameError::BadCrc);
    e.note_frame_error(&FrameError::TooShort(3));
    write(&mut e, 0, &[1]);
    assert_eq!(e.execute(0x7F, &[]).0, StatusCode::UnknownCommand);
    let (s, body) = run(&mut e, &Command::Status);
    assert_eq!(s, StatusCode::Ok);
    let st = DeviceStatus::decode(&body).unwrap();
    assert_eq!(st.commands, 3, "WRITE, the unknown command, STATUS");
    assert_eq!(st.last_status, StatusCode::UnknownCommand as u8);
    assert_eq!((st.crc_errors, st.frame_errors), (1, 1));
}

fn gemm_desc(trans_a: bool, trans_b: bool, accumulate: bool) -> GemmDescriptor {
    // M = 5, K = 7, N = 3, every operand stored with padding in its stride.
    GemmDescriptor {
        a: Tensor { addr: 0, stride: 9 },
        b: Tensor {
            addr: 100,
            stride: 8,
        },
        c: Tensor {
            addr: 200,
            stride: 4,
        },
        m: 5,
        k: 7,
        n: 3,
        trans_a,
        trans_b,
        accumulate,
        fl_a: 10,
        fl_b: 9,
        fl_c: 12,
        rounding: Rounding::Stochastic,
        row_state: 0x1234_5678,
        col_state: 0x9ABC_DEF1,
    }
}

#[test]
fn gemm_matches_the_model_with_strides_transposes_and_accumulation() {
    for flags in 0..8u8 {
        let g = gemm_desc(flags & 1 != 0, flags & 2 != 0, flags & 4 != 0);
        let mut e = small();
        let init = pattern(1024, i32::from(flags));
        for (i, chunk) in init.chunks(100).enumerate() {
            write(&mut e, (i * 100) as u32, chunk);
        }
        let (ar, ac) = if g.trans_a { (7, 5) } else { (5, 7) };
        let (br, bc) = if g.trans_b { (3, 7) } else { (7, 3) };
        let get = |t: Tensor, r: usize, c: usize| {
            Matrix::from_fn(r, c, |i, j| {
                init[t.addr as usize + i * usize::from(t.stride) + j]
            })
        };
        let (a, b, c0) = (get(g.a, ar, ac), get(g.b, br, bc), get(g.c, 5, 3));
        let p = GemmParams {
            fl_a: 10,
            fl_b: 9,
            fl_c: 12,
            rounding: Rounding::Stochastic,
            row_state: g.row_state,
            col_state: g.col_state,
        };
        let want = qtrain_model::gemm_scalar(
            &a,
            g.trans_a,
            &b,
            g.trans_b,
            g.accumulate.then_some(&c0),
            &p,
        )
        .unwrap();
        let (s, body) = run(&mut e, &Command::Gemm(g));
        assert_eq!(s, StatusCode::Ok, "flags {flags}");
        assert_eq!(body.len(), 4);
        let mem = e.memory();
        for i in 0..5 {
            for j in 0..4 {
                let got = mem[200 + i * 4 + j];
                if j < 3 {
                    assert_eq!(got, want.get(i, j), "flags {flags} C[{i}][{j}]");
                } else {
                    assert_eq!(got, init[200 + i * 4 + j], "padding untouched");
                }
            }
        }
    }
}

#[test]
fn rejected_gemms_change_nothing() {
    let mut e = small();
    write(&mut e, 0, &pattern(200, 3));
    let before = e.memory().to_vec();
    let ok = gemm_desc(false, false, false);
    let cases: Vec<(GemmDescriptor, StatusCode)> = vec![
        (GemmDescriptor { fl_a: 16, ..ok }, StatusCode::BadArgument),
        (GemmDescriptor { m: 0, ..ok }, StatusCode::BadArgument),
        (GemmDescriptor { k: 0, ..ok }, StatusCode::BadArgument),
        (
            GemmDescriptor { row_state: 0, ..ok },
            StatusCode::BadArgument,
        ),
        (
            GemmDescriptor {
                a: Tensor { addr: 0, stride: 6 },
                ..ok
            },
            StatusCode::BadArgument,
        ),
        (
            GemmDescriptor {
                accumulate: true,
                fl_a: 1,
                fl_b: 1,
                fl_c: 3,
                ..ok
            },
            StatusCode::BadArgument,
        ),
        (
            GemmDescriptor {
                k: 65,
                a: Tensor {
                    addr: 0,
                    stride: 65,
                },
                ..ok
            },
            StatusCode::OutOfRange,
        ),
        (
            GemmDescriptor {
                c: Tensor {
                    addr: 1014,
                    stride: 4,
                },
                ..ok
            },
            StatusCode::OutOfRange,
        ),
    ];
    for (g, want) in cases {
        assert_eq!(run(&mut e, &Command::Gemm(g)).0, want, "{g:?}");
        assert_eq!(e.memory(), &before[..]);
    }
}

#[test]
fn vector_ops_match_the_model() {
    let mut e = small();
    let x = pattern(24, 1);
    let d = pattern(24, 2);
    // X (4 x 5, stride 6) at 0, D at 30, bias at 60, outputs at 100.
    write(&mut e, 0, &x);
    write(&mut e, 30, &d);
    write(&mut e, 60, &[3, -4, 5, -6, 7]);
    let xt = Tensor { addr: 0, stride: 6 };
    let dt = Tensor {
        addr: 30,
        stride: 6,
    };
    let yt = Tensor {
        addr: 100,
        stride: 5,
    };
    let xm = Matrix::from_fn(4, 5, |i, j| x[i * 6 + j]);
    let dm = Matrix::from_fn(4, 5, |i, j| d[i * 6 + j]);
    let read_y = |e: &DeviceEngine| Matrix::from_fn(4, 5, |i, j| e.memory()[100 + i * 5 + j]);
    let (r, c) = (4, 5);
    let ops: Vec<(VectorOp, Matrix)> = vec![
        (
            VectorOp::BiasAdd {
                x: xt,
                y: yt,
                rows: r,
                cols: c,
                b_addr: 60,
                fl_x: 4,
                fl_b: 6,
            },
            qtrain_model::bias_add(&xm, &[3, -4, 5, -6, 7], 4, 6).unwrap(),
        ),
        (
            VectorOp::Relu {
                x: xt,
                y: yt,
                rows: r,
                cols: c,
            },
            qtrain_model::relu(&xm),
        ),
        (
            VectorOp::ReluMask {
                x: xt,
                d: dt,
                y: yt,
                rows: r,
                cols: c,
            },
            qtrain_model::relu_mask(&xm, &dm).unwrap(),
        ),
        (
            VectorOp::Qrelu {
                x: xt,
                y: yt,
                rows: r,
                cols: c,
                alpha: 100,
                bits: 2,
            },
            qtrain_model::qrelu(&xm, 100, 2).unwrap(),
        ),
        (
            VectorOp::QreluMask {
                x: xt,
                d: dt,
                y: yt,
                rows: r,
                cols: c,
                alpha: 100,
                bits: 2,
            },
            qtrain_model::qrelu_mask(&xm, &dm, 100, 2).unwrap(),
        ),
    ];
    for (op, want) in ops {
        assert_eq!(
            run(&mut e, &Command::Vector(op)).0,
            StatusCode::Ok,
            "{op:?}"
        );
        assert_eq!(read_y(&e), want, "{op:?}");
    }
    let params = UpdateParams {
        fl_w: 8,
        fl_g: 8,
        fl_eta: 6,
        eta_q: 3,
        rounding: Rounding::Stochastic,
        grid_shift: 0,
        grid_offset: 0,
        w_min: -500,
        w_max: 500,
        row_state: 77,
        col_state: 99,
    };
    let u = UpdateDescriptor {
        w: xt,
        g: dt,
        rows: r,
        cols: c,
        params,
    };
    let want = qtrain_model::update(&xm, &dm, &params).unwrap();
    assert_eq!(
        run(&mut e, &Command::Vector(VectorOp::Update(u))).0,
        StatusCode::Ok
    );
    assert_eq!(Matrix::from_fn(4, 5, |i, j| e.memory()[i * 6 + j]), want);
    // Rejected: bad alpha, bad bits, bad clamp, out of range; nothing changes.
    let before = e.memory().to_vec();
    let bad = [
        VectorOp::Qrelu {
            x: xt,
            y: yt,
            rows: r,
            cols: c,
            alpha: 0,
            bits: 2,
        },
        VectorOp::QreluMask {
            x: xt,
            d: dt,
            y: yt,
            rows: r,
            cols: c,
            alpha: 1,
            bits: 9,
        },
        VectorOp::Update(UpdateDescriptor {
            params: UpdateParams {
                w_min: 1,
                w_max: 0,
                ..params
            },
            ..u
        }),
        VectorOp::Relu {
            x: xt,
            y: Tensor {
                addr: 1020,
                stride: 5,
            },
            rows: r,
            cols: c,
        },
        VectorOp::Relu {
            x: xt,
            y: yt,
            rows: 0,
            cols: c,
        },
    ];
    let want_status = [
        StatusCode::BadArgument,
        StatusCode::BadArgument,
        StatusCode::BadArgument,
        StatusCode::OutOfRange,
        StatusCode::BadArgument,
    ];
    for (op, s) in bad.iter().zip(want_status) {
        assert_eq!(run(&mut e, &Command::Vector(*op)).0, s, "{op:?}");
        assert_eq!(e.memory(), &before[..]);
    }
}

#[test]
fn outputs_may_overlap_inputs_only_in_place() {
    let mut e = small();
    write(&mut e, 0, &pattern(300, 4));
    let x = Tensor {
        addr: 0,
        stride: 10,
    };
    let relu = |y: Tensor| {
        Command::Vector(VectorOp::Relu {
            x,
            y,
            rows: 4,
            cols: 5,
        })
    };
    // In place: fine. In the other tensor's padding: its span intersects X's, so rejected
    // (protocol.md §5 compares spans).
    assert_eq!(run(&mut e, &relu(x)).0, StatusCode::Ok);
    let interleaved = Tensor {
        addr: 5,
        stride: 10,
    };
    assert_eq!(run(&mut e, &relu(interleaved)).0, StatusCode::BadArgument);
    // Right after X's span ends (X spans words 0..35): disjoint, fine.
    let after = Tensor {
        addr: 35,
        stride: 10,
    };
    assert_eq!(run(&mut e, &relu(after)).0, StatusCode::Ok);
    let before = e.memory().to_vec();
    // Shifted by one word: shares words with X without being X.
    assert_eq!(
        run(
            &mut e,
            &relu(Tensor {
                addr: 1,
                stride: 10
            })
        )
        .0,
        StatusCode::BadArgument
    );
    assert_eq!(
        run(
            &mut e,
            &relu(Tensor {
                addr: 0,
                stride: 11
            })
        )
        .0,
        StatusCode::BadArgument
    );
    // A GEMM's C may not touch A or B, even when it has A's exact placement.
    let g = gemm_desc(false, false, false);
    let c_on_a = GemmDescriptor {
        c: Tensor {
            addr: 30,
            stride: 4,
        },
        ..g
    };
    assert_eq!(
        run(&mut e, &Command::Gemm(c_on_a)).0,
        StatusCode::BadArgument
    );
    let c_is_b = GemmDescriptor {
        c: Tensor {
            addr: 100,
            stride: 8,
        },
        m: 7,
        ..g
    };
    assert_eq!(
        run(&mut e, &Command::Gemm(c_is_b)).0,
        StatusCode::BadArgument
    );
    // BIAS_ADD's output may not cover the bias vector.
    let bias = VectorOp::BiasAdd {
        x,
        y: Tensor {
            addr: 100,
            stride: 5,
        },
        rows: 4,
        cols: 5,
        b_addr: 112,
        fl_x: 0,
        fl_b: 0,
    };
    assert_eq!(
        run(&mut e, &Command::Vector(bias)).0,
        StatusCode::BadArgument
    );
    // UPDATE: G overlapping W partially.
    let params = UpdateParams {
        fl_w: 8,
        fl_g: 8,
        fl_eta: 0,
        eta_q: 1,
        rounding: Rounding::Nearest,
        grid_shift: 0,
        grid_offset: 0,
        w_min: i16::MIN,
        w_max: i16::MAX,
        row_state: 1,
        col_state: 1,
    };
    let u = UpdateDescriptor {
        w: x,
        g: Tensor {
            addr: 30,
            stride: 10,
        },
        rows: 4,
        cols: 5,
        params,
    };
    assert_eq!(
        run(&mut e, &Command::Vector(VectorOp::Update(u))).0,
        StatusCode::BadArgument
    );
    assert_eq!(e.memory(), &before[..], "rejected overlaps change nothing");
}

/// The unencoded path must answer exactly what the encoded one does, rejections and counters
/// included, or the model backend would stop being the reference.
#[test]
fn execute_command_answers_as_execute_of_the_encoded_body() {
    let cmds = [
        Command::Write {
            addr: 10,
            words: pattern(126, 1),
        },
        Command::Write {
            addr: 10,
            words: pattern(127, 2),
        },
        Command::Write {
            addr: 10,
            words: Vec::new(),
        },
        Command::Write {
            addr: 1000,
            words: pattern(30, 3),
        },
        Command::Write {
            addr: u32::MAX,
            words: pattern(1, 4),
        },
        Command::Read { addr: 8, count: 20 },
        Command::Read { addr: 0, count: 0 },
        Command::Read {
            addr: 0,
            count: 129,
        },
        Command::Read {
            addr: 1020,
            count: 5,
        },
        Command::Read {
            addr: 10,
            count: 128,
        },
        Command::Status,
        Command::Hello { version: 2 },
    ];
    let (mut encoded, mut direct) = (small(), small());
    for cmd in &cmds {
        let want = run(&mut encoded, cmd);
        assert_eq!(direct.execute_command(cmd), want, "{}", cmd.name());
        assert_eq!(direct.status(), encoded.status(), "{}", cmd.name());
        assert_eq!(direct.memory(), encoded.memory(), "{}", cmd.name());
    }
    // The cases above reach every status the two paths decide differently.
    let status_of = |cmd: &Command| run(&mut small(), cmd).0;
    assert_eq!(status_of(&cmds[1]), StatusCode::BadLength);
    assert_eq!(status_of(&cmds[2]), StatusCode::BadLength);
    assert_eq!(status_of(&cmds[3]), StatusCode::OutOfRange);
    assert_eq!(status_of(&cmds[7]), StatusCode::BadArgument);
}

/// UPDATE with G the very tensor W (allowed: an output may equal an input) reads every G
/// word before W's word is written, as the device does: `W <- Q(W - η·W)`.
#[test]
fn update_with_g_equal_to_w_reads_g_before_writing() {
    let mut e = small();
    let (rows, cols, stride) = (3usize, 7usize, 9u16);
    let words = pattern(usize::from(stride) * rows, 5);
    write(&mut e, 40, &words);
    let w = Tensor { addr: 40, stride };
    let wm = Matrix::from_fn(rows, cols, |i, j| words[i * usize::from(stride) + j]);
    let params = UpdateParams {
        fl_w: 8,
        fl_g: 8,
        fl_eta: 4,
        eta_q: 5,
        rounding: Rounding::Stochastic,
        grid_shift: 0,
        grid_offset: 0,
        w_min: i16::MIN,
        w_max: i16::MAX,
        row_state: 3,
        col_state: 8,
    };
    let want = qtrain_model::update(&wm, &wm, &params).unwrap();
    let u = UpdateDescriptor {
        w,
        g: w,
        rows: rows as u16,
        cols: cols as u16,
        params,
    };
    assert_eq!(
        run(&mut e, &Command::Vector(VectorOp::Update(u))).0,
        StatusCode::Ok
    );
    let got = Matrix::from_fn(rows, cols, |i, j| {
        e.memory()[40 + i * usize::from(stride) + j]
    });
    assert_eq!(got, want);
    // The padding between rows is untouched.
    for i in 0..rows {
        let pad = 40 + i * usize::from(stride) + cols;
        assert_eq!(
            &e.memory()[pad..pad + 2],
            &words[i * usize::from(stride) + cols..][..2]
        );
    }
}

#[test]
fn a_device_without_vector_ops_answers_unknown_command_and_still_runs_gemms() {
    let mut e = DeviceEngine::new(EngineConfig {
        mem_words: 1024,
        max_k: 64,
        max_body: 256,
        ops: 1 << (code::RELU - code::BIAS_ADD),
        ..EngineConfig::default()
    });
    assert_eq!(e.capabilities().ops, 0b10);
    let x = pattern(20, 3);
    write(&mut e, 0, &x);
    let t = |addr| Tensor { addr, stride: 5 };
    let relu = VectorOp::Relu {
        x: t(0),
        y: t(100),
        rows: 4,
        cols: 5,
    };
    let mask = VectorOp::ReluMask {
        x: t(0),
        d: t(0),
        y: t(200),
        rows: 4,
        cols: 5,
    };
    let before = e.memory().to_vec();
    assert_eq!(
        run(&mut e, &Command::Vector(mask)).0,
        StatusCode::UnknownCommand
    );
    assert_eq!(
        e.memory(),
        &before[..],
        "a rejected command changes nothing"
    );
    // Unknown comes after the body limit, as on the hardware's decoder.
    assert_eq!(e.execute(code::UPDATE, &[0; 257]).0, StatusCode::BadLength);
    assert_eq!(
        e.execute(code::UPDATE, &[0; 40]).0,
        StatusCode::UnknownCommand
    );
    assert_eq!(run(&mut e, &Command::Vector(relu)).0, StatusCode::Ok);
    assert_eq!(
        e.memory()[100..120],
        x.iter().map(|&v| v.max(0)).collect::<Vec<_>>()[..]
    );
    let (status, _) = run(&mut e, &Command::Gemm(gemm_desc(false, false, false)));
    assert_eq!(status, StatusCode::Ok);
}
