//! `qtrain sim gemm`: one GEMM on the Verilated array, checked against the reference model.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use qtrain_model::Matrix;
use qtrain_sim::{SimCore, SimOptions};

use crate::array_shape::ArrayShape;
use crate::gemm_spec::{stored_dims, GemmSpec, Operand};
use crate::operands;

#[derive(Subcommand)]
pub enum SimCommand {
    /// Run one GEMM C = op(A)·op(B) on the cycle-accurate Verilator simulation of the array and
    /// check it bit for bit against the reference model.
    Gemm(GemmArgs),
}

#[derive(Args)]
pub struct GemmArgs {
    /// Array shape, rows x columns.
    #[arg(long, default_value = "8x8")]
    array: ArrayShape,
    /// Rows of op(A) and C (default 64, or from --a).
    #[arg(long)]
    m: Option<usize>,
    /// Columns of op(A), rows of op(B) (default 64, or from --a/--b).
    #[arg(long)]
    k: Option<usize>,
    /// Columns of op(B) and C (default 64, or from --b).
    #[arg(long)]
    n: Option<usize>,
    #[command(flatten)]
    spec: GemmSpec,
    /// Read A from a file of raw 16-bit integers (one row per line) instead of drawing it.
    #[arg(long)]
    a: Option<PathBuf>,
    /// Read B from a file of raw 16-bit integers instead of drawing it.
    #[arg(long)]
    b: Option<PathBuf>,
    /// Write C (raw 16-bit integers, one row per line) to this file.
    #[arg(long)]
    c_out: Option<PathBuf>,
    /// Write a VCD waveform of the whole simulation to this file (slower).
    #[arg(long)]
    vcd: Option<PathBuf>,
}

pub fn run(cmd: SimCommand) -> anyhow::Result<i32> {
    match cmd {
        SimCommand::Gemm(args) => sim_gemm(args),
    }
}

/// Operand `which`: read from `file` (checked against the dimensions given) or drawn.
fn operand(
    spec: &GemmSpec,
    which: Operand,
    file: &Option<PathBuf>,
    (rows, cols): (Option<usize>, Option<usize>),
) -> anyhow::Result<Matrix> {
    let Some(path) = file else {
        return Ok(spec.random_operand(which, rows.unwrap_or(64), cols.unwrap_or(64)));
    };
    let m = operands::read_matrix(path)?;
    let (op_rows, op_cols) = stored_dims(m.rows, m.cols, spec.transposed(which));
    for (given, actual, what) in [(rows, op_rows, "rows"), (cols, op_cols, "columns")] {
        if let Some(g) = given {
            if g != actual {
                bail!(
                    "op({which:?}) from {} has {actual} {what}, but the command line says {g}",
                    path.display()
                );
            }
        }
    }
    Ok(m)
}

fn sim_gemm(args: GemmArgs) -> anyhow::Result<i32> {
    let spec = &args.spec;
    let params = spec.params();
    params.validate()?;
    let (fl_a, fl_b, fl_c) = (params.fl_a, params.fl_b, params.fl_c);

    let a = operand(spec, Operand::A, &args.a, (args.m, args.k))?;
    let (m, k) = stored_dims(a.rows, a.cols, spec.trans_a);
    let b = operand(spec, Operand::B, &args.b, (Some(k), args.n))?;
    let (_, n) = stored_dims(b.rows, b.cols, spec.trans_b);

    println!(
        "GEMM {m}x{k}x{n} (MxKxN) on the {} array: FL a/b/c = {fl_a}/{fl_b}/{fl_c} (shift {}), rounding {}, seed {}",
        args.array,
        params.shift(),
        spec.rounding,
        spec.seed
    );
    if qtrain_model::may_overflow(&a, spec.trans_a, &b, None, &params) {
        println!(
            "warning: K·max|a|·max|b| exceeds 2^47: this GEMM can wrap the 48-bit accumulator \
             (bit-exact still, but not the true dot product; see docs/numerics.md §3)"
        );
    }

    let expected = qtrain_model::gemm(&a, spec.trans_a, &b, spec.trans_b, None, &params)?;

    let build = Instant::now();
    let mut core = SimCore::new(
        args.array.rows,
        args.array.cols,
        SimOptions {
            trace: args.vcd.clone(),
        },
    )
    .context("starting the Verilator simulation")?;
    let build_secs = build.elapsed().as_secs_f64();
    if build_secs > 1.0 {
        println!("built the Verilator model in {build_secs:.1} s (cached for next time)");
    }

    let run = Instant::now();
    let result = core.gemm(&a, spec.trans_a, &b, spec.trans_b, &params)?;
    let secs = run.elapsed().as_secs_f64();
    let macs = (m * k * n) as f64;
    println!(
        "cycles: {} computing (start to done), {} loading A and B, {} reading C back, {} in all",
        result.compute_cycles,
        result.load_cycles,
        result.total_cycles - result.compute_cycles - result.load_cycles,
        result.total_cycles
    );
    println!(
        "array utilization: {:.1}% of {} PEs over the computing cycles",
        100.0 * macs / (result.compute_cycles as f64 * (args.array.rows * args.array.cols) as f64),
        args.array.rows * args.array.cols
    );
    println!(
        "simulated {} cycles in {secs:.3} s: {:.2} M cycles/s, {:.1} M MACs/s",
        result.total_cycles,
        result.total_cycles as f64 / secs / 1e6,
        macs / secs / 1e6
    );
    if let Some(vcd) = &args.vcd {
        println!("waveform: {}", vcd.display());
    }
    println!(
        "C checksum (FNV-1a 64): {:016x}",
        operands::checksum(&result.c)
    );
    if let Some(path) = &args.c_out {
        operands::write_atomically(path, operands::matrix_to_text(&result.c).as_bytes())
            .with_context(|| format!("writing C to {}", path.display()))?;
    }

    match qtrain_model::first_mismatch(&expected, &result.c, &a, spec.trans_a, &b, spec.trans_b) {
        None => {
            println!("bit-exact: yes");
            Ok(0)
        }
        Some(report) => {
            println!("bit-exact: no");
            println!("first mismatch (expected = model, got = simulation): {report}");
            Ok(1)
        }
    }
}
