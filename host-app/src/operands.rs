//! GEMM operands for the CLI: random ones, or raw 16-bit integers read from text files.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use qtrain_model::{quantize, Matrix, Rounding};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How random operands are drawn.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Distribution {
    /// Every 16-bit pattern equally likely: exercises saturation and the accumulator's range.
    Uniform,
    /// A normal distribution with standard deviation 0.5 quantized (nearest) to the operand's
    /// format: what activations and weights look like in training.
    Normal,
}

/// A `rows` x `cols` matrix of random operands in format `fl`, reproducible from `seed`.
pub fn random_matrix(rows: usize, cols: usize, fl: u8, dist: Distribution, seed: u64) -> Matrix {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data = (0..rows * cols)
        .map(|_| match dist {
            Distribution::Uniform => rng.gen::<i16>(),
            Distribution::Normal => {
                // Box-Muller: two uniforms give one standard normal.
                let u1: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
                let u2: f64 = rng.gen();
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                quantize(0.5 * z, fl, Rounding::Nearest, &mut || 0)
            }
        })
        .collect();
    Matrix { rows, cols, data }
}

/// Reads a matrix of raw two's-complement 16-bit integers: one row per line, values separated
/// by commas or white space; blank lines and lines starting with `#` are ignored.
pub fn read_matrix(path: &Path) -> anyhow::Result<Matrix> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the operand file {}", path.display()))?;
    parse_matrix(&text).with_context(|| format!("in the operand file {}", path.display()))
}

fn parse_matrix(text: &str) -> anyhow::Result<Matrix> {
    let mut rows = 0;
    let mut cols = None;
    let mut data = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let before = data.len();
        for field in line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|f| !f.is_empty())
        {
            let value: i16 = field.parse().with_context(|| {
                format!(
                    "line {}: '{field}' is not a 16-bit integer (-32768..=32767); \
                     operand files hold raw fixed-point words",
                    number + 1
                )
            })?;
            data.push(value);
        }
        let width = data.len() - before;
        match cols {
            None => cols = Some(width),
            Some(c) if c != width => {
                bail!(
                    "line {}: {width} values, but the first row has {c}",
                    number + 1
                )
            }
            Some(_) => {}
        }
        rows += 1;
    }
    let Some(cols) = cols else {
        bail!("no values: the file is empty")
    };
    Ok(Matrix { rows, cols, data })
}

/// Writes a matrix in the format `read_matrix` reads.
pub fn matrix_to_text(m: &Matrix) -> String {
    let mut out = String::new();
    for i in 0..m.rows {
        let row: Vec<String> = m.data[i * m.cols..(i + 1) * m.cols]
            .iter()
            .map(|v| v.to_string())
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// Writes `bytes` to `path` so that a reader never sees a half-written file: a temporary file
/// beside it, flushed, then renamed over the target.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// FNV-1a (64-bit) over C's words, little-endian, row-major: a checksum to compare runs by eye.
pub fn checksum(m: &Matrix) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in &m.data {
        for byte in v.to_le_bytes() {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_round_trips() {
        let m = parse_matrix("# A\n1, -2 3\n\n32767,-32768,0\n").unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.data, vec![1, -2, 3, 32767, -32768, 0]);
        let again = parse_matrix(&matrix_to_text(&m)).unwrap();
        assert_eq!(again.data, m.data);
    }

    #[test]
    fn rejects_bad_files_with_line_numbers() {
        let err = format!("{:#}", parse_matrix("1,2\n3\n").unwrap_err());
        assert!(
            err.contains("line 2") && err.contains("first row has 2"),
            "{err}"
        );
        let err = format!("{:#}", parse_matrix("1,40000\n").unwrap_err());
        assert!(err.contains("line 1") && err.contains("40000"), "{err}");
        assert!(format!("{:#}", parse_matrix("# nothing\n").unwrap_err()).contains("empty"));
    }

    #[test]
    fn random_matrices_are_reproducible_and_in_format() {
        let a = random_matrix(4, 5, 14, Distribution::Normal, 7);
        assert_eq!(
            a.data,
            random_matrix(4, 5, 14, Distribution::Normal, 7).data
        );
        assert_ne!(
            a.data,
            random_matrix(4, 5, 14, Distribution::Normal, 8).data
        );
        // sigma 0.5 at FL 14 is 8192 ulp: not every value can be tiny.
        assert!(a.data.iter().any(|v| v.unsigned_abs() > 1000));
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = std::env::temp_dir().join(format!("qtrain-op-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.txt");
        write_atomically(&p, b"old contents that are longer").unwrap();
        write_atomically(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn checksum_sees_every_word() {
        let a = Matrix {
            rows: 1,
            cols: 2,
            data: vec![1, 2],
        };
        let b = Matrix {
            rows: 1,
            cols: 2,
            data: vec![2, 1],
        };
        assert_ne!(checksum(&a), checksum(&b));
    }
}
