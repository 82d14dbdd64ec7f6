//! Host-side scratchpad layout (docs/architecture.md, "Scratchpad layout"): scattering op(A)
//! and op(B) into banks, gathering C, and the capacity limits.

use qtrain_model::{validate_gemm, GemmParams, GemmShape, Matrix};

use crate::error::SimError;

/// The shape of a core as the loader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Array rows R: the number of A banks.
    pub rows: usize,
    /// Array columns C: the number of B and C banks.
    pub cols: usize,
    /// Address bits of every bank: a bank holds `2^addr_bits` words.
    pub addr_bits: u32,
}

/// The dimensions of a GEMM: op(A) is M x K, op(B) is K x N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

const TARGET_A: u64 = 0;
const TARGET_B: u64 = 1;
const TARGET_C: u64 = 2;

/// Packs one scratchpad write as harness.cpp's `qt_write` expects it.
fn write_word(target: u64, bank: usize, addr: usize, data: i16) -> u64 {
    u64::from(data as u16) | (addr as u64) << 16 | (bank as u64) << 48 | target << 56
}

/// Packs one C read address as harness.cpp's `qt_read` expects it.
fn read_addr(bank: usize, addr: usize) -> u64 {
    addr as u64 | (bank as u64) << 32
}

impl Geometry {
    /// Words per bank.
    pub fn bank_words(&self) -> usize {
        1usize << self.addr_bits
    }

    /// Checks the port widths and the three capacity limits for an M x K x N GEMM.
    pub fn check_fits(&self, m: usize, k: usize, n: usize) -> Result<(), SimError> {
        for (name, value) in [("M", m), ("K", k), ("N", n)] {
            if !(1..=65535).contains(&value) {
                return Err(SimError::Dimension { name, value });
            }
        }
        let limit = self.bank_words();
        let (r, c) = (self.rows, self.cols);
        let needs = [
            ("A", "ceil(M/R)*K", m.div_ceil(r) * k),
            ("B", "ceil(N/C)*K", n.div_ceil(c) * k),
            ("C", "M*ceil(N/C)", m * n.div_ceil(c)),
        ];
        for (scratchpad, formula, needed) in needs {
            if needed > limit {
                return Err(SimError::Capacity {
                    scratchpad,
                    formula,
                    needed,
                    limit,
                    addr_bits: self.addr_bits,
                    rows: r,
                    cols: c,
                    m,
                    k,
                    n,
                });
            }
        }
        Ok(())
    }

    /// Validates the GEMM (numerics: formats, shapes, K, and for accumulation `C_in`'s shape
    /// and `s >= 0`) and its fit in the scratchpads.
    pub(crate) fn dims(
        &self,
        a: &Matrix,
        trans_a: bool,
        b: &Matrix,
        trans_b: bool,
        c_in: Option<&Matrix>,
        p: &GemmParams,
    ) -> Result<Dims, SimError> {
        let GemmShape { m, k, n } = validate_gemm(a, trans_a, b, trans_b, c_in, p)?;
        self.check_fits(m, k, n)?;
        Ok(Dims { m, k, n })
    }

    /// The scratchpad writes that load op(A) and op(B): `op(A)[i][k]` goes to A bank `i mod R`
    /// at `(i div R)·K + k`, `op(B)[k][j]` to B bank `j mod C` at `(j div C)·K + k`.
    pub(crate) fn load_words(
        &self,
        d: Dims,
        a: &Matrix,
        trans_a: bool,
        b: &Matrix,
        trans_b: bool,
    ) -> Vec<u64> {
        let mut words = Vec::with_capacity((d.m + d.n) * d.k);
        for i in 0..d.m {
            let (bank, base) = (i % self.rows, (i / self.rows) * d.k);
            for kk in 0..d.k {
                let v = a.op_get(trans_a, i, kk);
                words.push(write_word(TARGET_A, bank, base + kk, v));
            }
        }
        for j in 0..d.n {
            let (bank, base) = (j % self.cols, (j / self.cols) * d.k);
            for kk in 0..d.k {
                let v = b.op_get(trans_b, kk, j);
                words.push(write_word(TARGET_B, bank, base + kk, v));
            }
        }
        words
    }

    /// The scratchpad writes that load `C_in` of an accumulating GEMM: `C_in[i][j]` goes where
    /// the core reads and writes `C[i][j]` (see [`Geometry::c_addresses`]).
    pub(crate) fn c_in_words(&self, d: Dims, c_in: &Matrix) -> Vec<u64> {
        let stride = d.n.div_ceil(self.cols);
        let mut words = Vec::with_capacity(d.m * d.n);
        for i in 0..d.m {
            for j in 0..d.n {
                let (bank, addr) = (j % self.cols, i * stride + j / self.cols);
                words.push(write_word(TARGET_C, bank, addr, c_in.get(i, j)));
            }
        }
        words
    }

    /// The C read addresses in row-major order of C: `C[i][j]` is in bank `j mod C` at
    /// `i·ceil(N/C) + j div C`.
    pub(crate) fn c_addresses(&self, d: Dims) -> Vec<u64> {
        let stride = d.n.div_ceil(self.cols);
        let mut addrs = Vec::with_capacity(d.m * d.n);
        for i in 0..d.m {
            for j in 0..d.n {
                addrs.push(read_addr(j % self.cols, i * stride + j / self.cols));
            }
        }
        addrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qtrain_model::{ModelError, Rounding};
    use std::collections::HashMap;

    fn params() -> GemmParams {
        GemmParams::from_seed(1, 14, 14, 14, Rounding::Stochastic)
    }

    const G: Geometry = Geometry {
        rows: 2,
        cols: 4,
        addr_bits: 10,
    };

    fn decode(w: u64) -> (u64, usize, usize, i16) {
        (
            w >> 56,
            ((w >> 48) & 0xff) as usize,
            ((w >> 16) & 0xffff_ffff) as usize,
            w as u16 as i16,
        )
    }

    fn numbered(rows: usize, cols: usize) -> Matrix {
        Matrix::from_fn(rows, cols, |i, j| (i * 100 + j) as i16 - 300)
    }

    #[test]
    fn operands_land_where_the_contract_says() {
        // op(A) 5x3 given transposed, op(B) 3x7 given plain.
        let a = numbered(3, 5);
        let b = numbered(3, 7);
        let d = G.dims(&a, true, &b, false, None, &params()).unwrap();
        assert_eq!(d, Dims { m: 5, k: 3, n: 7 });
        let mut mem: HashMap<(u64, usize, usize), i16> = HashMap::new();
        for w in G.load_words(d, &a, true, &b, false) {
            let (t, bank, addr, v) = decode(w);
            assert!(
                mem.insert((t, bank, addr), v).is_none(),
                "address written twice"
            );
        }
        assert_eq!(mem.len(), (5 + 7) * 3);
        for i in 0..5 {
            for k in 0..3 {
                assert_eq!(mem[&(0, i % 2, (i / 2) * 3 + k)], a.get(k, i));
            }
        }
        for k in 0..3 {
            for j in 0..7 {
                assert_eq!(mem[&(1, j % 4, (j / 4) * 3 + k)], b.get(k, j));
            }
        }
    }

    #[test]
    fn transposed_b_and_negative_values_round_trip() {
        let a = Matrix::from_fn(2, 2, |i, j| if i == j { -32768 } else { 32767 });
        let b = numbered(5, 2); // op(B) = B^T is 2x5
        let d = G.dims(&a, false, &b, true, None, &params()).unwrap();
        let words = G.load_words(d, &a, false, &b, true);
        let (_, _, _, v) = decode(words[0]);
        assert_eq!(v, -32768);
        let b_words: Vec<_> = words
            .iter()
            .map(|&w| decode(w))
            .filter(|w| w.0 == 1)
            .collect();
        // op(B)[1][4] = B[4][1] lives in bank 0 at (4 div 4)*2 + 1.
        assert!(b_words.contains(&(1, 0, 3, b.get(4, 1))));
    }

    #[test]
    fn c_addresses_are_distinct_and_follow_the_contract() {
        let d = Dims { m: 3, k: 1, n: 9 };
        let addrs = G.c_addresses(d);
        assert_eq!(addrs.len(), 27);
        let set: std::collections::HashSet<_> = addrs.iter().collect();
        assert_eq!(set.len(), 27);
        // C[2][6]: bank 6 mod 4 = 2, address 2*ceil(9/4) + 6 div 4 = 7.
        assert_eq!(addrs[2 * 9 + 6], 7 | 2 << 32);
    }

    #[test]
    fn c_in_lands_where_c_is_read_back() {
        let d = Dims { m: 3, k: 1, n: 9 };
        let c_in = numbered(3, 9);
        let words = G.c_in_words(d, &c_in);
        let reads = G.c_addresses(d);
        assert_eq!(words.len(), reads.len());
        for (idx, (&w, &r)) in words.iter().zip(&reads).enumerate() {
            let (t, bank, addr, v) = decode(w);
            assert_eq!(t, 2, "target C");
            assert_eq!(read_addr(bank, addr), r);
            assert_eq!(v, c_in.get(idx / 9, idx % 9));
        }
    }

    #[test]
    fn accumulation_checks_c_in_and_the_shift() {
        let (a, b) = (numbered(2, 3), numbered(3, 4));
        assert!(G
            .dims(&a, false, &b, false, Some(&numbered(2, 4)), &params())
            .is_ok());
        assert!(matches!(
            G.dims(&a, false, &b, false, Some(&numbered(4, 2)), &params()),
            Err(SimError::Model(ModelError::AccumulatorShapeMismatch { .. }))
        ));
        let negative = GemmParams::from_seed(1, 4, 4, 9, Rounding::Nearest);
        assert!(matches!(
            G.dims(&a, false, &b, false, Some(&numbered(2, 4)), &negative),
            Err(SimError::Model(ModelError::AccumulateNegativeShift { .. }))
        ));
    }

    #[test]
    fn capacity_limits_name_the_scratchpad() {
        // 1024 words per bank.
        assert!(G.check_fits(2048, 1, 1).is_err()); // C: 2048 * 1
        assert!(G.check_fits(1024, 1, 4).is_ok());
        let err = G.check_fits(4, 513, 1).unwrap_err();
        assert!(matches!(
            err,
            SimError::Capacity {
                scratchpad: "A",
                needed: 1026,
                ..
            }
        ));
        assert!(err.to_string().contains("ceil(M/R)*K"), "{err}");
        assert!(err.to_string().contains("1024"), "{err}");
        let err = G.check_fits(1, 300, 16).unwrap_err();
        assert!(matches!(
            err,
            SimError::Capacity {
                scratchpad: "B",
                needed: 1200,
                ..
            }
        ));
        let err = G.check_fits(1, 65536, 1).unwrap_err();
        assert!(matches!(err, SimError::Dimension { name: "K", .. }));
    }

    #[test]
    fn mismatched_and_empty_operands_are_rejected() {
        let a = numbered(2, 3);
        let b = numbered(4, 2);
        assert!(matches!(
            G.dims(&a, false, &b, false, None, &params()),
            Err(SimError::Model(ModelError::InnerDimMismatch { .. }))
        ));
        let empty = Matrix::zeros(2, 0);
        let b0 = Matrix::zeros(0, 2);
        assert!(matches!(
            G.dims(&empty, false, &b0, false, None, &params()),
            Err(SimError::Model(ModelError::EmptyInnerDim { .. }))
        ));
    }
}
