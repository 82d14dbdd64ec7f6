//! The learning curves as an SVG: error (train and test) and loss per epoch.

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

use super::metrics::EpochMetrics;
use crate::operands::write_atomically;

fn draw_err(e: impl std::fmt::Debug) -> anyhow::Error {
    anyhow::anyhow!("drawing the plot: {e:?}")
}

/// The SVG text of the curves, titled `title`.
pub fn svg(title: &str, epochs: &[EpochMetrics]) -> anyhow::Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (1000, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let root = root.titled(title, ("sans-serif", 18)).map_err(draw_err)?;
        let (left, right) = root.split_horizontally(500);
        let last = epochs.last().map_or(1, |e| e.epoch).max(1);
        let x = 0f64..f64::from(last);
        let pct = |v: f64| 100.0 * v;
        let max_err = epochs
            .iter()
            .flat_map(|e| [pct(e.train_error), pct(e.test_error)])
            .fold(1.0f64, f64::max);
        let mut chart = ChartBuilder::on(&left)
            .caption("error (%)", ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(45)
            .build_cartesian_2d(x.clone(), 0f64..max_err * 1.05)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .draw()
            .map_err(draw_err)?;
        let series = |f: &dyn Fn(&EpochMetrics) -> f64| -> Vec<(f64, f64)> {
            epochs.iter().map(|e| (f64::from(e.epoch), f(e))).collect()
        };
        chart
            .draw_series(LineSeries::new(series(&|e| pct(e.train_error)), &BLUE))
            .map_err(draw_err)?
            .label("train")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], BLUE));
        chart
            .draw_series(LineSeries::new(series(&|e| pct(e.test_error)), &RED))
            .map_err(draw_err)?
            .label("test")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], RED));
        chart
            .configure_series_labels()
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()
            .map_err(draw_err)?;
        let max_loss = epochs
            .iter()
            .flat_map(|e| [e.loss, e.test_loss])
            .fold(0.1f64, f64::max);
        let mut chart = ChartBuilder::on(&right)
            .caption("cross-entropy", ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(45)
            .build_cartesian_2d(x, 0f64..max_loss * 1.05)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(LineSeries::new(series(&|e| e.loss), &BLUE))
            .map_err(draw_err)?
            .label("train")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], BLUE));
        chart
            .draw_series(LineSeries::new(series(&|e| e.test_loss), &RED))
            .map_err(draw_err)?
            .label("test")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], RED));
        chart
            .configure_series_labels()
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(out)
}

/// Writes `curves.svg` in the run folder.
pub fn write(dir: &Path, title: &str, epochs: &[EpochMetrics]) -> anyhow::Result<()> {
    let text = svg(title, epochs)?;
    write_atomically(&dir.join("curves.svg"), text.as_bytes())
        .with_context(|| format!("writing {}/curves.svg", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_an_svg_with_both_panels() {
        let e = |epoch, err| EpochMetrics {
            epoch,
            loss: 0.5,
            train_error: err,
            test_error: err,
            test_loss: 0.4,
            weights_changed: 1.0,
            wall_seconds: 1.0,
            train_seconds: 1.0,
            device_cycles: None,
            link_bytes: None,
        };
        let s = svg("a run", &[e(1, 0.2), e(2, 0.1)]).unwrap();
        assert!(s.starts_with("<svg"), "{}", &s[..40.min(s.len())]);
        assert!(s.contains("error (%)") && s.contains("cross-entropy") && s.contains("a run"));
        assert!(s.contains("<polyline"));
    }
}
