//! The `--array RxC` argument.

use std::fmt;
use std::str::FromStr;

/// Rows x columns of the systolic array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayShape {
    pub rows: usize,
    pub cols: usize,
}

impl ArrayShape {
    /// `RxC` with positive R and C, whether or not that shape is generated (`qtrain synth
    /// --top core` also builds the bench-only shapes; the flow says which it takes).
    pub fn parse_any(s: &str) -> Result<ArrayShape, String> {
        let (r, c) = s
            .split_once(['x', 'X'])
            .ok_or_else(|| format!("array shape '{s}' is not of the form RxC, e.g. 8x8"))?;
        let parse = |t: &str| {
            t.trim()
                .parse::<usize>()
                .ok()
                .filter(|&v| v >= 1)
                .ok_or_else(|| format!("array shape '{s}': '{t}' is not a positive whole number"))
        };
        Ok(ArrayShape {
            rows: parse(r)?,
            cols: parse(c)?,
        })
    }
}

impl FromStr for ArrayShape {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shape = ArrayShape::parse_any(s)?;
        if !qtrain_hdl::is_generated(shape.rows, shape.cols) {
            return Err(format!(
                "array shape {shape} is not generated; supported shapes: {}",
                supported_list()
            ));
        }
        Ok(shape)
    }
}

impl fmt::Display for ArrayShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.rows, self.cols)
    }
}

/// The supported shapes as a readable list.
pub fn supported_list() -> String {
    qtrain_hdl::SUPPORTED_SHAPES
        .iter()
        .chain(qtrain_hdl::BOARD_SHAPES)
        .map(|(r, c)| format!("{r}x{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_supported_and_rejects_others() {
        assert_eq!(
            "8x8".parse::<ArrayShape>().unwrap(),
            ArrayShape { rows: 8, cols: 8 }
        );
        assert_eq!(
            "2X4".parse::<ArrayShape>().unwrap(),
            ArrayShape { rows: 2, cols: 4 }
        );
        assert!("8".parse::<ArrayShape>().unwrap_err().contains("RxC"));
        assert!("0x4"
            .parse::<ArrayShape>()
            .unwrap_err()
            .contains("positive"));
        assert!("99x99"
            .parse::<ArrayShape>()
            .unwrap_err()
            .contains("supported shapes"));
    }
}
