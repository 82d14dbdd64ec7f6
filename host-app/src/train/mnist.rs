//! MNIST in its IDX format (gzip-compressed or raw), read strictly: a file whose header
//! disagrees with its contents is an error, never a silently short data set.
//!
//! IDX: a big-endian header `0x00 0x00 type ndims`, then `ndims` big-endian u32 dimensions,
//! then the elements row-major. MNIST uses type 0x08 (unsigned byte): images are
//! `count x rows x cols`, labels `count`.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// IDX element type of unsigned bytes, the only one MNIST uses.
const IDX_UBYTE: u8 = 0x08;
/// The gzip magic number.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A decoded IDX file of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idx {
    /// The dimensions from the header.
    pub dims: Vec<u32>,
    /// The elements, row-major; exactly the product of `dims`.
    pub data: Vec<u8>,
}

/// Parses an IDX file of unsigned bytes from its (decompressed) bytes.
pub fn parse_idx(bytes: &[u8]) -> anyhow::Result<Idx> {
    if bytes.len() < 4 {
        bail!("{} bytes: too short for an IDX header", bytes.len());
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        bail!(
            "bad magic {:02x} {:02x} {:02x} {:02x}: not an IDX file (it starts 00 00 08 <ndims>)",
            bytes[0],
            bytes[1],
            bytes[2],
            bytes[3]
        );
    }
    if bytes[2] != IDX_UBYTE {
        bail!(
            "IDX element type 0x{:02x} is not supported (MNIST uses 0x08, unsigned bytes)",
            bytes[2]
        );
    }
    let ndims = usize::from(bytes[3]);
    if ndims == 0 {
        bail!("IDX header with 0 dimensions");
    }
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        bail!(
            "truncated header: {ndims} dimensions need {header} bytes, the file has {}",
            bytes.len()
        );
    }
    let dims: Vec<u32> = bytes[4..header]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let want = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)))
        .filter(|&n| n <= usize::MAX as u64)
        .with_context(|| format!("dimensions {dims:?} overflow"))? as usize;
    let have = bytes.len() - header;
    if have < want {
        bail!("truncated: dimensions {dims:?} need {want} data bytes, the file has {have}");
    }
    if have > want {
        bail!(
            "dimensions {dims:?} need {want} data bytes but the file has {have}: {} bytes too many",
            have - want
        );
    }
    Ok(Idx {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// The bytes of a file, gunzipped if they start with the gzip magic.
pub fn read_maybe_gzip(path: &Path) -> anyhow::Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if raw.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .with_context(|| format!("decompressing {} (corrupt gzip?)", path.display()))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// A labelled set of grey images.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Image rows.
    pub rows: usize,
    /// Image columns.
    pub cols: usize,
    /// Pixels, `len() x rows x cols`, 0 (white) to 255.
    pub pixels: Vec<u8>,
    /// One label per image, 0..=9.
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image.
    pub fn features(&self) -> usize {
        self.rows * self.cols
    }

    /// Image `i`'s pixels.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * self.features()..(i + 1) * self.features()]
    }

    /// The first `n` images (all of them if there are fewer).
    pub fn truncated(mut self, n: usize) -> Dataset {
        let n = n.min(self.len());
        self.labels.truncate(n);
        self.pixels.truncate(n * self.features());
        self
    }

    /// Builds a set from decoded image and label files, checking that they agree.
    pub fn from_idx(images: Idx, labels: Idx) -> anyhow::Result<Dataset> {
        let [count, rows, cols] = images.dims[..] else {
            bail!(
                "images: {} dimensions {:?}, expected 3 (count, rows, columns)",
                images.dims.len(),
                images.dims
            );
        };
        let [n_labels] = labels.dims[..] else {
            bail!(
                "labels: {} dimensions {:?}, expected 1 (count)",
                labels.dims.len(),
                labels.dims
            );
        };
        if count != n_labels {
            bail!("{count} images but {n_labels} labels");
        }
        if let Some(i) = labels.data.iter().position(|&l| l > 9) {
            bail!("label {i} is {}, not a digit 0..=9", labels.data[i]);
        }
        Ok(Dataset {
            rows: rows as usize,
            cols: cols as usize,
            pixels: images.data,
            labels: labels.data,
        })
    }
}

/// The training and test sets of an MNIST folder.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// `train-*` files.
    pub train: Dataset,
    /// `t10k-*` files.
    pub test: Dataset,
}

/// The file `stem` in `dir`, compressed (`stem.gz`) or not.
fn find(dir: &Path, stem: &str) -> anyhow::Result<PathBuf> {
    let gz = dir.join(format!("{stem}.gz"));
    let raw = dir.join(stem);
    if gz.is_file() {
        Ok(gz)
    } else if raw.is_file() {
        Ok(raw)
    } else {
        bail!(
            "{} has neither {stem}.gz nor {stem} (MNIST in IDX format)",
            dir.display()
        )
    }
}

fn load_pair(dir: &Path, prefix: &str) -> anyhow::Result<Dataset> {
    let img_path = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let lbl_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = parse_idx(&read_maybe_gzip(&img_path)?)
        .with_context(|| format!("in {}", img_path.display()))?;
    let labels = parse_idx(&read_maybe_gzip(&lbl_path)?)
        .with_context(|| format!("in {}", lbl_path.display()))?;
    Dataset::from_idx(images, labels).with_context(|| {
        format!(
            "{} and {} do not fit together",
            img_path.display(),
            lbl_path.display()
        )
    })
}

impl Mnist {
    /// Loads `train-{images,labels}` and `t10k-{images,labels}` from `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Mnist> {
        let train = load_pair(dir, "train")?;
        let test = load_pair(dir, "t10k")?;
        if (train.rows, train.cols) != (test.rows, test.cols) {
            bail!(
                "training images are {}x{} but test images {}x{}",
                train.rows,
                train.cols,
                test.rows,
                test.cols
            );
        }
        Ok(Mnist { train, test })
    }
}

/// Where the data is when `--data` is not given: `$QTRAIN_DATA`, else `shared/data/mnist`
/// beside the repository (the layout of the development machine), else the same path
/// relative to the working directory.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    let mut tried = Vec::new();
    if let Some(dir) = std::env::var_os("QTRAIN_DATA") {
        return Ok(PathBuf::from(dir));
    }
    // host-app/ lives in the repository, so the repository's parent is two levels up.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in [
        repo.join("../shared/data/mnist"),
        PathBuf::from("../shared/data/mnist"),
    ] {
        if dir.is_dir() {
            return Ok(dir);
        }
        tried.push(dir.display().to_string());
    }
    bail!(
        "no MNIST folder found (tried {}); pass --data DIR or set QTRAIN_DATA",
        tried.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An IDX file of unsigned bytes with these dimensions and data.
    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, IDX_UBYTE, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    fn err(bytes: &[u8]) -> String {
        format!("{:#}", parse_idx(bytes).unwrap_err())
    }

    #[test]
    fn parses_what_it_is_given() {
        let data: Vec<u8> = (0..24).collect();
        let f = parse_idx(&idx(&[2, 3, 4], &data)).unwrap();
        assert_eq!(f.dims, vec![2, 3, 4]);
        assert_eq!(f.data, data);
        let set = Dataset::from_idx(f, parse_idx(&idx(&[2], &[7, 1])).unwrap()).unwrap();
        assert_eq!((set.len(), set.rows, set.cols), (2, 3, 4));
        assert_eq!(set.image(1), &data[12..]);
        assert_eq!(set.clone().truncated(1).pixels, &data[..12]);
    }

    #[test]
    fn malformed_files_say_what_is_wrong() {
        assert!(err(&[0, 0]).contains("too short"));
        assert!(err(&[1, 2, 8, 1, 0, 0, 0, 0]).contains("bad magic"));
        assert!(err(&[0, 0, 0x0d, 1, 0, 0, 0, 0]).contains("type 0x0d"));
        assert!(err(&[0, 0, 8, 3, 0, 0, 0, 1]).contains("truncated header"));
        assert!(err(&idx(&[2, 2], &[1, 2, 3])).contains("truncated"));
        assert!(err(&idx(&[2], &[1, 2, 3])).contains("1 bytes too many"));
        assert!(err(&idx(&[u32::MAX, u32::MAX, u32::MAX], &[])).contains("overflow"));
    }

    #[test]
    fn images_and_labels_must_agree() {
        let images = || parse_idx(&idx(&[2, 1, 1], &[0, 0])).unwrap();
        let e = |l: Idx| format!("{:#}", Dataset::from_idx(images(), l).unwrap_err());
        assert!(e(parse_idx(&idx(&[3], &[0, 0, 0])).unwrap()).contains("2 images but 3 labels"));
        assert!(e(parse_idx(&idx(&[2], &[0, 10])).unwrap()).contains("label 1 is 10"));
        assert!(e(parse_idx(&idx(&[1, 2], &[0, 1])).unwrap()).contains("expected 1"));
        let flat = parse_idx(&idx(&[2], &[0, 0])).unwrap();
        let err = Dataset::from_idx(flat.clone(), flat).unwrap_err();
        assert!(err.to_string().contains("expected 3"), "{err}");
    }

    #[test]
    fn gzip_and_raw_files_read_the_same() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("qtrain-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = idx(&[3], &[1, 2, 3]);
        std::fs::write(dir.join("raw"), &bytes).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&bytes).unwrap();
        let packed = gz.finish().unwrap();
        std::fs::write(dir.join("packed"), &packed).unwrap();
        assert_eq!(read_maybe_gzip(&dir.join("raw")).unwrap(), bytes);
        assert_eq!(read_maybe_gzip(&dir.join("packed")).unwrap(), bytes);
        // A gzip stream cut short is an error, not a short file.
        std::fs::write(dir.join("cut"), &packed[..packed.len() - 6]).unwrap();
        assert!(read_maybe_gzip(&dir.join("cut")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest! {
        /// Every strict prefix of a well-formed file, and every file with bytes appended, is
        /// rejected: the header always pins the exact size.
        #[test]
        fn wrong_sizes_are_rejected(
            dims in proptest::collection::vec(1u32..5, 1..4),
            cut in any::<prop::sample::Index>(),
            extra in 1usize..10,
        ) {
            let n: u32 = dims.iter().product();
            let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let good = idx(&dims, &data);
            prop_assert_eq!(parse_idx(&good).unwrap().data, data);
            let len = cut.index(good.len());
            prop_assert!(parse_idx(&good[..len]).is_err());
            let mut long = good.clone();
            long.extend(std::iter::repeat_n(0, extra));
            prop_assert!(parse_idx(&long).is_err());
        }

        /// A header whose count disagrees with the data is rejected whichever way it is off.
        #[test]
        fn lying_counts_are_rejected(count in 1u32..50, claimed in 1u32..50) {
            prop_assume!(count != claimed);
            let mut f = idx(&[count, 2, 2], &vec![0; 4 * count as usize]);
            f[4..8].copy_from_slice(&claimed.to_be_bytes());
            prop_assert!(parse_idx(&f).is_err());
        }
    }
}
