//! The arguments `qtrain sim gemm` and `qtrain gemm` share: formats, rounding, seed,
//! transposes and how random operands are drawn. One definition, so that the same arguments
//! give the same operands, and hence the same C, on every backend.

use clap::Args;
use qtrain_model::{GemmParams, Matrix, Rounding};

use crate::operands::{self, Distribution};

/// Which operand of `C = op(A)·op(B)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    A,
    B,
}

/// Formats, rounding, seed and transposes of one GEMM.
#[derive(Args, Clone, Debug)]
pub struct GemmSpec {
    /// Fraction bits of A, B and C (0..=15); --fl-a/--fl-b/--fl-c override it per matrix.
    #[arg(long, default_value_t = 14)]
    pub fl: u8,
    #[arg(long)]
    pub fl_a: Option<u8>,
    #[arg(long)]
    pub fl_b: Option<u8>,
    #[arg(long)]
    pub fl_c: Option<u8>,
    /// Rounding of the one conversion per output element: truncate, nearest or stochastic.
    #[arg(long, default_value = "stochastic")]
    pub rounding: Rounding,
    /// Seed of the stochastic rounding and of random operands.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Use A^T: A is stored K x M.
    #[arg(long)]
    pub trans_a: bool,
    /// Use B^T: B is stored N x K.
    #[arg(long)]
    pub trans_b: bool,
    /// Distribution of random operands.
    #[arg(long, value_enum, default_value = "normal")]
    pub dist: Distribution,
}

impl GemmSpec {
    /// The GEMM's formats, rounding and LFSR start states.
    pub fn params(&self) -> GemmParams {
        GemmParams::from_seed(
            self.seed,
            self.fl_a.unwrap_or(self.fl),
            self.fl_b.unwrap_or(self.fl),
            self.fl_c.unwrap_or(self.fl),
            self.rounding,
        )
    }

    /// Whether this operand is used transposed.
    pub fn transposed(&self, which: Operand) -> bool {
        match which {
            Operand::A => self.trans_a,
            Operand::B => self.trans_b,
        }
    }

    /// A random operand whose op() is `rows x cols`, stored transposed when asked, in its
    /// format, drawn from `seed ^ 0xA` (A) or `seed ^ 0xB` (B).
    pub fn random_operand(&self, which: Operand, rows: usize, cols: usize) -> Matrix {
        let p = self.params();
        let (fl, salt) = match which {
            Operand::A => (p.fl_a, 0xA),
            Operand::B => (p.fl_b, 0xB),
        };
        let (r, c) = stored_dims(rows, cols, self.transposed(which));
        operands::random_matrix(r, c, fl, self.dist, self.seed ^ salt)
    }
}

/// The stored shape of an operand whose op() is `rows x cols` (and the op() shape of a stored
/// one: the map is its own inverse).
pub fn stored_dims(rows: usize, cols: usize, trans: bool) -> (usize, usize) {
    if trans {
        (cols, rows)
    } else {
        (rows, cols)
    }
}
