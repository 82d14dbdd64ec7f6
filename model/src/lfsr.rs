//! The two 32-bit Galois LFSRs, their seeding, and GF(2) step matrices for jumps (numerics §5).

/// Galois mask of LFSR A (row words), polynomial `x^32 + x^22 + x^2 + x + 1`.
pub const LFSR_A_MASK: u32 = 0x8020_0003;
/// Galois mask of LFSR B (column words), polynomial `x^32 + x^31 + x^30 + x^10 + 1`.
pub const LFSR_B_MASK: u32 = 0xE000_0200;
/// Generator steps per 16-bit word (one hardware clock).
pub const STEPS_PER_WORD: u32 = 16;

/// One step of the right-shifting Galois LFSR with feedback `mask`.
#[inline]
pub fn lfsr_step(state: u32, mask: u32) -> u32 {
    // `0u32.wrapping_sub(1) = all ones` selects the mask without a branch.
    (state >> 1) ^ (mask & 0u32.wrapping_sub(state & 1))
}

/// A 32-bit right-shifting Galois LFSR (numerics §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lfsr {
    /// The current state; never 0 for a working generator.
    pub state: u32,
    /// The Galois feedback mask ([`LFSR_A_MASK`] or [`LFSR_B_MASK`]).
    pub mask: u32,
}

impl Lfsr {
    /// A generator at `state` with feedback `mask`. A zero state is kept as is (it is a fixed
    /// point); [`seed_states`] never produces one.
    pub fn new(state: u32, mask: u32) -> Lfsr {
        Lfsr { state, mask }
    }

    /// Advances one step.
    #[inline]
    pub fn step(&mut self) {
        self.state = lfsr_step(self.state, self.mask);
    }

    /// Returns the current word (`state & 0xFFFF`), then advances 16 steps.
    #[inline]
    pub fn next_word(&mut self) -> u16 {
        let w = self.state as u16;
        for _ in 0..STEPS_PER_WORD {
            self.step();
        }
        w
    }

    /// Advances `16 * n` steps (n words) in O(log n) matrix operations.
    pub fn jump_words(&mut self, n: u64) {
        self.state = word_matrix(self.mask).pow(n).apply(self.state);
    }

    /// The next `n` words, as [`next_word`](Self::next_word) would return them.
    pub fn words(&mut self, n: usize) -> Vec<u16> {
        (0..n).map(|_| self.next_word()).collect()
    }
}

/// The `n`-th output (n >= 1) of SplitMix64 started at `seed`.
pub fn splitmix64(seed: u64, n: u64) -> u64 {
    let mut x = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The start states `(sA, sB)` of a GEMM with this 64-bit seed (zero replaced by 1).
pub fn seed_states(seed: u64) -> (u32, u32) {
    let nonzero = |z: u64| match z as u32 {
        0 => 1,
        s => s,
    };
    (nonzero(splitmix64(seed, 1)), nonzero(splitmix64(seed, 2)))
}

/// A 32x32 matrix over GF(2), stored by columns: bit `r` of `cols[c]` is entry (r, c).
///
/// Column storage makes `apply` a XOR of the columns selected by the vector's bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gf2Matrix32 {
    /// Column `c` is the image of the basis vector `1 << c`.
    pub cols: [u32; 32],
}

impl Gf2Matrix32 {
    /// The identity.
    pub fn identity() -> Gf2Matrix32 {
        let mut cols = [0u32; 32];
        for (c, col) in cols.iter_mut().enumerate() {
            *col = 1 << c;
        }
        Gf2Matrix32 { cols }
    }

    /// The matrix of a linear map, from the images of the 32 basis vectors.
    pub fn from_fn(f: impl Fn(u32) -> u32) -> Gf2Matrix32 {
        let mut cols = [0u32; 32];
        for (c, col) in cols.iter_mut().enumerate() {
            *col = f(1 << c);
        }
        Gf2Matrix32 { cols }
    }

    /// Matrix-vector product.
    #[inline]
    pub fn apply(&self, v: u32) -> u32 {
        let mut out = 0;
        let mut bits = v;
        while bits != 0 {
            out ^= self.cols[bits.trailing_zeros() as usize];
            bits &= bits - 1;
        }
        out
    }

    /// The product `self · rhs` (apply `rhs` first).
    pub fn mul(&self, rhs: &Gf2Matrix32) -> Gf2Matrix32 {
        let mut cols = [0u32; 32];
        for (out, col) in cols.iter_mut().zip(rhs.cols.iter()) {
            *out = self.apply(*col);
        }
        Gf2Matrix32 { cols }
    }

    /// `self^e` by square-and-multiply.
    pub fn pow(&self, mut e: u64) -> Gf2Matrix32 {
        let mut result = Gf2Matrix32::identity();
        let mut base = *self;
        while e != 0 {
            if e & 1 == 1 {
                result = result.mul(&base);
            }
            base = base.mul(&base);
            e >>= 1;
        }
        result
    }

    /// The rank over GF(2) (Gaussian elimination on the columns).
    pub fn rank(&self) -> u32 {
        let mut cols = self.cols;
        let mut rank = 0;
        for bit in 0..32 {
            let pivot_mask = 1u32 << bit;
            let Some(p) = (rank as usize..32).find(|&i| cols[i] & pivot_mask != 0) else {
                continue;
            };
            cols.swap(rank as usize, p);
            let pivot = cols[rank as usize];
            for (i, c) in cols.iter_mut().enumerate() {
                if i != rank as usize && *c & pivot_mask != 0 {
                    *c ^= pivot;
                }
            }
            rank += 1;
        }
        rank
    }
}

/// The matrix of one generator step.
pub fn step_matrix(mask: u32) -> Gf2Matrix32 {
    Gf2Matrix32::from_fn(|v| lfsr_step(v, mask))
}

/// The matrix of one word (16 steps).
pub fn word_matrix(mask: u32) -> Gf2Matrix32 {
    step_matrix(mask).pow(u64::from(STEPS_PER_WORD))
}
