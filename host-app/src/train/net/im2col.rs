//! Convolutions as matrix products: `im2col` lays every receptive field of a batch out as one
//! row, so that a convolution is `cols · W`, and `col2im` sums the gradient of those rows back
//! onto the input positions they were copied from. Tensors are NHWC, row-major: image, row,
//! column, channel. Both are pure data movement (plus exact sums for `col2im`), so the same
//! code serves `f32` values and raw 16-bit fixed-point words.

/// A valid (unpadded, stride 1) square convolution of `h x w x c_in` images with `k x k`
/// kernels into `c_out` channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv {
    /// Input rows.
    pub h: usize,
    /// Input columns.
    pub w: usize,
    /// Input channels.
    pub c_in: usize,
    /// Kernel side.
    pub k: usize,
    /// Output channels.
    pub c_out: usize,
}

impl Conv {
    /// Output rows.
    pub fn out_h(&self) -> usize {
        self.h + 1 - self.k
    }

    /// Output columns.
    pub fn out_w(&self) -> usize {
        self.w + 1 - self.k
    }

    /// Values of one input image.
    pub fn in_len(&self) -> usize {
        self.h * self.w * self.c_in
    }

    /// Output positions per image: the rows of `cols` one image contributes.
    pub fn positions(&self) -> usize {
        self.out_h() * self.out_w()
    }

    /// Length of a receptive field, `k·k·c_in`: the columns of `cols`, the rows of `W`.
    pub fn patch(&self) -> usize {
        self.k * self.k * self.c_in
    }
}

/// The `(images·positions) x patch` matrix of receptive fields of `x` (`images` NHWC
/// images). Row `(n, oy, ox)` holds `x[n, oy + ky, ox + kx, ci]` at column `(ky, kx, ci)`.
pub fn im2col<T: Copy>(x: &[T], images: usize, conv: &Conv) -> Vec<T> {
    assert_eq!(x.len(), images * conv.in_len(), "im2col input size");
    let (w, c, k) = (conv.w, conv.c_in, conv.k);
    let mut cols = Vec::with_capacity(images * conv.positions() * conv.patch());
    for img in x.chunks_exact(conv.in_len()) {
        for oy in 0..conv.out_h() {
            for ox in 0..conv.out_w() {
                for ky in 0..k {
                    // One kernel row is k·c_in consecutive values of the image row.
                    let start = ((oy + ky) * w + ox) * c;
                    cols.extend_from_slice(&img[start..start + k * c]);
                }
            }
        }
    }
    cols
}

/// The adjoint of [`im2col`]: every element of `dcols` is added (with `add`, starting from
/// `zero`) to the input position it was copied from.
pub fn col2im<T: Copy, A: Copy>(
    dcols: &[T],
    images: usize,
    conv: &Conv,
    zero: A,
    add: impl Fn(A, T) -> A,
) -> Vec<A> {
    assert_eq!(
        dcols.len(),
        images * conv.positions() * conv.patch(),
        "col2im input size"
    );
    let (w, c, k) = (conv.w, conv.c_in, conv.k);
    let mut dx = vec![zero; images * conv.in_len()];
    let mut rows = dcols.chunks_exact(conv.patch());
    for img in dx.chunks_exact_mut(conv.in_len()) {
        for oy in 0..conv.out_h() {
            for ox in 0..conv.out_w() {
                let row = rows.next().expect("sizes checked above");
                for ky in 0..k {
                    let start = ((oy + ky) * w + ox) * c;
                    let src = &row[ky * k * c..(ky + 1) * k * c];
                    for (d, &s) in img[start..start + k * c].iter_mut().zip(src) {
                        *d = add(*d, s);
                    }
                }
            }
        }
    }
    dx
}

/// [`col2im`] on raw 16-bit words of one format: the sums are exact in `i32` and saturate to
/// the 16-bit range only at the end (as the device's conversions do).
pub fn col2im_words(dcols: &[i16], images: usize, conv: &Conv) -> Vec<i16> {
    col2im(dcols, images, conv, 0i32, |a, s| a + i32::from(s))
        .into_iter()
        .map(|v| v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A direct convolution, `y[n, oy, ox, co] = sum x[n, oy+ky, ox+kx, ci]·w[ky, kx, ci, co]`.
    fn direct(x: &[f64], images: usize, conv: &Conv, wt: &[f64]) -> Vec<f64> {
        let mut y = vec![0.0; images * conv.positions() * conv.c_out];
        for n in 0..images {
            for oy in 0..conv.out_h() {
                for ox in 0..conv.out_w() {
                    for co in 0..conv.c_out {
                        let mut s = 0.0;
                        for ky in 0..conv.k {
                            for kx in 0..conv.k {
                                for ci in 0..conv.c_in {
                                    let xi = ((n * conv.h + oy + ky) * conv.w + ox + kx)
                                        * conv.c_in
                                        + ci;
                                    let wi =
                                        ((ky * conv.k + kx) * conv.c_in + ci) * conv.c_out + co;
                                    s += x[xi] * wt[wi];
                                }
                            }
                        }
                        y[((n * conv.out_h() + oy) * conv.out_w() + ox) * conv.c_out + co] = s;
                    }
                }
            }
        }
        y
    }

    fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|t| a[i * k + t] * b[t * n + j]).sum();
            }
        }
        c
    }

    fn random(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
    }

    const CONVS: [Conv; 3] = [
        Conv {
            h: 6,
            w: 5,
            c_in: 2,
            k: 3,
            c_out: 4,
        },
        Conv {
            h: 4,
            w: 4,
            c_in: 1,
            k: 4,
            c_out: 2,
        },
        Conv {
            h: 7,
            w: 7,
            c_in: 3,
            k: 2,
            c_out: 1,
        },
    ];

    #[test]
    fn im2col_times_weights_is_the_direct_convolution() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for conv in CONVS {
            let images = 3;
            let x = random(&mut rng, images * conv.in_len());
            let wt = random(&mut rng, conv.patch() * conv.c_out);
            let cols = im2col(&x, images, &conv);
            let y = matmul(
                &cols,
                &wt,
                images * conv.positions(),
                conv.patch(),
                conv.c_out,
            );
            let want = direct(&x, images, &conv, &wt);
            for (a, b) in y.iter().zip(&want) {
                assert!((a - b).abs() < 1e-12, "{conv:?}: {a} vs {b}");
            }
        }
    }

    /// `col2im` is the adjoint of `im2col`: `<im2col(x), d> = <x, col2im(d)>` for all x, d,
    /// which is what makes it the backward pass of the gather.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for conv in CONVS {
            let images = 2;
            let x = random(&mut rng, images * conv.in_len());
            let d = random(&mut rng, images * conv.positions() * conv.patch());
            let lhs: f64 = im2col(&x, images, &conv)
                .iter()
                .zip(&d)
                .map(|(a, b)| a * b)
                .sum();
            let back = col2im(&d, images, &conv, 0.0, |a, s| a + s);
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "{conv:?}: {lhs} vs {rhs}");
        }
    }

    /// The input gradient of a convolution, `col2im(dY · W^T)`, against the direct formula
    /// `dx[n, y, x, ci] = sum over (ky, kx, co) of dY[n, y-ky, x-kx, co]·w[ky, kx, ci, co]`.
    #[test]
    fn col2im_gives_the_direct_input_gradient() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for conv in CONVS {
            let images = 2;
            let dy = random(&mut rng, images * conv.positions() * conv.c_out);
            let wt = random(&mut rng, conv.patch() * conv.c_out);
            let mut wt_t = vec![0.0; wt.len()];
            for p in 0..conv.patch() {
                for co in 0..conv.c_out {
                    wt_t[co * conv.patch() + p] = wt[p * conv.c_out + co];
                }
            }
            let dcols = matmul(
                &dy,
                &wt_t,
                images * conv.positions(),
                conv.c_out,
                conv.patch(),
            );
            let dx = col2im(&dcols, images, &conv, 0.0, |a, s| a + s);
            for n in 0..images {
                for y in 0..conv.h {
                    for x in 0..conv.w {
                        for ci in 0..conv.c_in {
                            let mut s = 0.0;
                            for ky in 0..conv.k {
                                for kx in 0..conv.k {
                                    let (Some(oy), Some(ox)) =
                                        (y.checked_sub(ky), x.checked_sub(kx))
                                    else {
                                        continue;
                                    };
                                    if oy >= conv.out_h() || ox >= conv.out_w() {
                                        continue;
                                    }
                                    for co in 0..conv.c_out {
                                        s += dy[((n * conv.out_h() + oy) * conv.out_w() + ox)
                                            * conv.c_out
                                            + co]
                                            * wt[((ky * conv.k + kx) * conv.c_in + ci)
                                                * conv.c_out
                                                + co];
                                    }
                                }
                            }
                            let got = dx[((n * conv.h + y) * conv.w + x) * conv.c_in + ci];
                            assert!((got - s).abs() < 1e-12, "{conv:?}: {got} vs {s}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn word_col2im_sums_exactly_and_saturates() {
        let conv = CONVS[0];
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let d: Vec<i16> = (0..2 * conv.positions() * conv.patch())
            .map(|_| rng.gen_range(-3000..3000))
            .collect();
        let wide = col2im(&d, 2, &conv, 0i64, |a, s| a + i64::from(s));
        let words = col2im_words(&d, 2, &conv);
        for (w, x) in words.iter().zip(&wide) {
            assert_eq!(i64::from(*w), (*x).clamp(-32768, 32767));
        }
        let big = vec![i16::MAX; d.len()];
        // Every input is covered at least once, some up to 9 times: the wide sums exceed the
        // range and the words saturate.
        assert!(col2im_words(&big, 2, &conv).iter().all(|&v| v == i16::MAX));
        let wide_big = col2im(&big, 2, &conv, 0i64, |a, s| a + i64::from(s));
        assert!(wide_big.iter().any(|&v| v > 4 * 32767));
    }
}
