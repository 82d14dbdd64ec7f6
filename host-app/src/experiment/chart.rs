//! Line charts of means over seeds with ±1 standard deviation bars, as SVG text.

use plotters::prelude::*;

/// One curve: a name and points `(x, mean, sd)`.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points in x order.
    pub points: Vec<(f64, f64, f64)>,
}

/// One chart of a figure.
pub struct Panel {
    /// Caption.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Plot log10 of the x values (the label says so).
    pub log_x: bool,
    /// Plot log10 of the y values (the label says so).
    pub log_y: bool,
    /// The curves.
    pub series: Vec<Series>,
}

fn draw_err(e: impl std::fmt::Debug) -> anyhow::Error {
    anyhow::anyhow!("drawing the plot: {e:?}")
}

fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad, hi + pad)
}

/// The SVG text of a figure with `panels` side by side (at most 3 per row).
pub fn svg(title: &str, panels: &[Panel]) -> anyhow::Result<String> {
    let cols = panels.len().clamp(1, 3);
    let rows = panels.len().div_ceil(cols).max(1);
    let mut out = String::new();
    {
        let size = (460 * cols as u32, 380 * rows as u32 + 30);
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let root = root.titled(title, ("sans-serif", 18)).map_err(draw_err)?;
        for (panel, area) in panels.iter().zip(root.split_evenly((rows, cols))) {
            draw_panel(panel, &area)?;
        }
        root.present().map_err(draw_err)?;
    }
    Ok(out)
}

fn draw_panel<DB: DrawingBackend>(
    p: &Panel,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let tx = |v: f64| if p.log_x { v.log10() } else { v };
    let ty = |v: f64| if p.log_y { v.max(1e-300).log10() } else { v };
    let pts = p.series.iter().flat_map(|s| s.points.iter());
    let xs = span(pts.clone().map(|&(x, _, _)| tx(x)));
    let ys =
        span(pts.flat_map(|&(_, m, sd)| [ty(m - sd.min(m.abs() * 0.999).max(0.0)), ty(m + sd)]));
    let label = |l: &str, log: bool| {
        if log {
            format!("log10 {l}")
        } else {
            l.to_string()
        }
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 14))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(xs.0..xs.1, ys.0..ys.1)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc(label(&p.x_label, p.log_x))
        .y_desc(label(&p.y_label, p.log_y))
        .draw()
        .map_err(draw_err)?;
    for (i, s) in p.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let line: Vec<(f64, f64)> = s.points.iter().map(|&(x, m, _)| (tx(x), ty(m))).collect();
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
            .map_err(draw_err)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], color));
        chart
            .draw_series(
                line.iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
            )
            .map_err(draw_err)?;
        // ±1 sd bars; on a log axis the lower end stays above zero.
        let bars = s.points.iter().filter(|p| p.2 > 0.0).map(|&(x, m, sd)| {
            let lo = if p.log_y {
                (m - sd).max(m * 1e-3)
            } else {
                m - sd
            };
            PathElement::new(vec![(tx(x), ty(lo)), (tx(x), ty(m + sd))], color)
        });
        chart.draw_series(bars).map_err(draw_err)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 11))
        .draw()
        .map_err(draw_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_panel_and_series() {
        let series = |name: &str| Series {
            name: name.into(),
            points: vec![(1.0, 0.5, 0.1), (2.0, 0.25, 0.0), (4.0, 0.125, 0.05)],
        };
        let panels = [
            Panel {
                title: "linear".into(),
                x_label: "epoch".into(),
                y_label: "error".into(),
                log_x: false,
                log_y: false,
                series: vec![series("curve A"), series("curve B")],
            },
            Panel {
                title: "logarithmic".into(),
                x_label: "delta".into(),
                y_label: "gap".into(),
                log_x: true,
                log_y: true,
                series: vec![series("curve C")],
            },
        ];
        let s = svg("figure", &panels).unwrap();
        assert!(s.starts_with("<svg"));
        for text in [
            "figure",
            "linear",
            "logarithmic",
            "curve A",
            "curve C",
            "log10 gap",
        ] {
            assert!(s.contains(text), "{text} missing");
        }
        assert!(s.matches("<polyline").count() >= 3);
    }
}
