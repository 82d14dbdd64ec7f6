//! 2x2 max pooling with stride 2 on NHWC tensors, and its backward pass. Both only select and
//! move values, so on raw 16-bit fixed-point words they are exact: the same code serves the
//! `f32` network and the device network's host steps.

/// The maxima of each 2x2 window of `images` NHWC images (`h x w x c`, `h` and `w` even) and,
/// for each output, the flat index in `x` it came from (the first maximum in row-major window
/// order on ties, so that the choice is the same for every arithmetic).
pub fn max_pool<T: Copy + PartialOrd>(
    x: &[T],
    images: usize,
    (h, w, c): (usize, usize, usize),
) -> (Vec<T>, Vec<u32>) {
    assert!(h % 2 == 0 && w % 2 == 0, "pooling needs even sides");
    assert_eq!(x.len(), images * h * w * c, "pooling input size");
    let out = images * (h / 2) * (w / 2) * c;
    let mut y = Vec::with_capacity(out);
    let mut arg = Vec::with_capacity(out);
    for n in 0..images {
        for oy in 0..h / 2 {
            for ox in 0..w / 2 {
                for ch in 0..c {
                    let at =
                        |dy: usize, dx: usize| ((n * h + 2 * oy + dy) * w + 2 * ox + dx) * c + ch;
                    let mut best = at(0, 0);
                    for i in [at(0, 1), at(1, 0), at(1, 1)] {
                        if x[i] > x[best] {
                            best = i;
                        }
                    }
                    y.push(x[best]);
                    arg.push(best as u32);
                }
            }
        }
    }
    (y, arg)
}

/// The backward pass of [`max_pool`]: each output gradient goes to the input its maximum
/// came from, every other input gets `zero` (windows do not overlap, so nothing is summed).
pub fn max_unpool<T: Copy>(d: &[T], arg: &[u32], len: usize, zero: T) -> Vec<T> {
    assert_eq!(d.len(), arg.len(), "one gradient per pooled value");
    let mut dx = vec![zero; len];
    for (&g, &i) in d.iter().zip(arg) {
        dx[i as usize] = g;
    }
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_the_maximum_and_routes_the_gradient_back() {
        // One 4x2 image with two channels: channel 1 is the negation of channel 0.
        let ch0 = [1, 5, 3, 2, -1, -1, 7, 7];
        let x: Vec<i16> = ch0.iter().flat_map(|&v| [v, -v]).collect();
        let (y, arg) = max_pool(&x, 1, (4, 2, 2));
        // Windows: rows 0-1 {1, 5, 3, 2} and rows 2-3 {-1, -1, 7, 7}.
        assert_eq!(y, vec![5, -1, 7, 1]);
        // Ties take the first in window order: channel 1's second window is {1, 1, -7, -7},
        // and its maximum is taken from row 2, column 0 (flat index 9).
        assert_eq!(arg, vec![2, 1, 12, 9]);
        let dx = max_unpool(&[10i16, 20, 30, 40], &arg, x.len(), 0);
        let mut want = vec![0i16; 16];
        for (i, g) in [(2, 10), (1, 20), (12, 30), (9, 40)] {
            want[i] = g;
        }
        assert_eq!(dx, want);
    }

    #[test]
    fn f32_and_words_choose_the_same_inputs() {
        let words: Vec<i16> = (0..2 * 4 * 6 * 3)
            .map(|i| ((i * 37) % 11) as i16 - 5)
            .collect();
        let floats: Vec<f32> = words.iter().map(|&v| f32::from(v) / 1024.0).collect();
        let (yw, aw) = max_pool(&words, 2, (4, 6, 3));
        let (yf, af) = max_pool(&floats, 2, (4, 6, 3));
        assert_eq!(aw, af);
        assert_eq!(
            yf,
            yw.iter()
                .map(|&v| f32::from(v) / 1024.0)
                .collect::<Vec<_>>()
        );
    }
}
