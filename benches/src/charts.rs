//! SVG charts of the benchmark tools' results, drawn with `plotters` (SVG backend only, no
//! fonts or bitmaps): hit-ratio curves from the `hit_ratio` tool and latency bars from
//! criterion's estimates (`latency_chart`). The charts in `benches/charts/` are these functions'
//! output, committed so the README can show them.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

/// The policies' colours, the same in every chart; others are grey.
fn colour(policy: &str) -> RGBColor {
    match policy {
        "OPT" => RGBColor(0, 0, 0),
        "LRU" => RGBColor(150, 150, 150),
        p if p.starts_with("memokit") => RGBColor(214, 39, 40),
        p if p.starts_with("moka") => RGBColor(31, 119, 180),
        p if p.starts_with("quick_cache") => RGBColor(44, 160, 44),
        p if p.starts_with("hashbrown") => RGBColor(90, 90, 90),
        p if p.starts_with("cached-sharded") => RGBColor(148, 103, 189),
        _ => RGBColor(188, 160, 100),
    }
}

/// One chart of the grid: hit ratio (%) against capacity for each policy on one workload.
#[derive(Debug, Clone)]
pub struct Curves {
    /// The workload's name, the panel's title.
    pub title: String,
    /// The capacities (entries) measured, smallest first.
    pub capacities: Vec<u64>,
    /// Per policy, its hit ratio (%) at each capacity.
    pub series: Vec<(String, Vec<f64>)>,
}

/// "250", "10k", "1.5k".
fn entries(x: f64) -> String {
    if x >= 1_000.0 {
        let k = x / 1_000.0;
        if k.fract() == 0.0 {
            format!("{k:.0}k")
        } else {
            format!("{k:.1}k")
        }
    } else {
        format!("{x:.0}")
    }
}

/// "75 ns", "1.2 µs".
fn nanos(x: f64) -> String {
    if x >= 1_000.0 {
        format!("{:.1} µs", x / 1_000.0)
    } else {
        format!("{x:.0} ns")
    }
}

/// Draws a legend of `labels` in a row across `area`.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    labels: &[&str],
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let (width, height) = area.dim_in_pixel();
    let step = (width as i32 - 40) / labels.len().max(1) as i32;
    let y = height as i32 / 2;
    for (i, label) in labels.iter().enumerate() {
        let x = 40 + i as i32 * step;
        area.draw(&PathElement::new(
            vec![(x, y), (x + 28, y)],
            colour(label).stroke_width(3),
        ))?;
        area.draw(&Text::new(
            label.to_string(),
            (x + 34, y - 7),
            ("sans-serif", 15).into_font(),
        ))?;
    }
    Ok(())
}

/// Writes a grid of hit-ratio curves, `columns` panels wide, to the SVG file `path`.
pub fn hit_ratio_curves(
    path: &Path,
    title: &str,
    footnote: &str,
    panels: &[Curves],
    columns: usize,
) -> Result<(), Box<dyn Error>> {
    const PANEL: (u32, u32) = (330, 250);
    let rows = panels.len().div_ceil(columns).max(1);
    let size = (PANEL.0 * columns as u32, PANEL.1 * rows as u32 + 90);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let (head, rest) = root.split_vertically(64);
    let (body, foot) = rest.split_vertically(size.1 - 64 - 26);
    head.draw(&Text::new(
        title.to_string(),
        (12, 8),
        ("sans-serif", 19).into_font(),
    ))?;
    let mut policies: Vec<&str> = Vec::new();
    for panel in panels {
        for (p, _) in &panel.series {
            if !policies.contains(&p.as_str()) {
                policies.push(p);
            }
        }
    }
    legend(&head.split_vertically(30).1, &policies)?;
    foot.draw(&Text::new(
        footnote.to_string(),
        (12, 4),
        ("sans-serif", 12).into_font().color(&RGBColor(90, 90, 90)),
    ))?;
    for (panel, area) in panels.iter().zip(body.split_evenly((rows, columns))) {
        let (first, last) = match (panel.capacities.first(), panel.capacities.last()) {
            (Some(&f), Some(&l)) => (f as f64, l as f64),
            _ => continue,
        };
        let pad = ((last - first) * 0.04).max(1.0);
        // From a round number under the lowest curve: the gaps between policies are the point.
        let (low, top) = panel
            .series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold((100.0, 1.0), |(lo, hi): (f64, f64), v| {
                (lo.min(v), hi.max(v))
            });
        let bottom = ((low - (top - low) * 0.1) / 5.0).floor().max(0.0) * 5.0;
        let mut chart = ChartBuilder::on(&area)
            .caption(&panel.title, ("sans-serif", 16))
            .margin(6)
            .x_label_area_size(22)
            .y_label_area_size(34)
            .build_cartesian_2d(
                first - pad..last + pad,
                bottom..(top + (top - bottom) * 0.08).min(100.0),
            )?;
        chart
            .configure_mesh()
            .x_labels(5)
            .y_labels(5)
            .x_label_formatter(&|x| entries(*x))
            .y_label_formatter(&|y| format!("{y:.0}%"))
            .light_line_style(RGBColor(238, 238, 238))
            .label_style(("sans-serif", 11))
            .draw()?;
        for (policy, values) in &panel.series {
            let points: Vec<(f64, f64)> = panel
                .capacities
                .iter()
                .map(|&c| c as f64)
                .zip(values.iter().copied())
                .collect();
            let width = if policy == "memokit" { 3 } else { 2 };
            let style = colour(policy).stroke_width(width);
            if policy == "OPT" {
                chart.draw_series(DashedLineSeries::new(points.clone(), 6, 4, style))?;
            } else {
                chart.draw_series(LineSeries::new(points.clone(), style))?;
            }
            chart.draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, 3, colour(policy).filled())),
            )?;
        }
    }
    root.present()?;
    Ok(())
}

/// One group of latency bars: a benchmark and each implementation's time per operation (ns).
#[derive(Debug, Clone)]
pub struct Bars {
    /// The benchmark, the panel's title.
    pub title: String,
    /// Per implementation, nanoseconds per operation.
    pub values: Vec<(String, f64)>,
}

/// Writes one panel of horizontal bars per group, stacked, on a log scale of nanoseconds, to
/// the SVG file `path`.
pub fn latency_bars(
    path: &Path,
    title: &str,
    footnote: &str,
    groups: &[Bars],
) -> Result<(), Box<dyn Error>> {
    const ROW: u32 = 26;
    let heights: Vec<u32> = groups
        .iter()
        .map(|g| ROW * g.values.len() as u32 + 64)
        .collect();
    let size = (900, heights.iter().sum::<u32>() + 70);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let (head, mut rest) = root.split_vertically(40);
    head.draw(&Text::new(
        title.to_string(),
        (12, 10),
        ("sans-serif", 19).into_font(),
    ))?;
    let (lowest, highest) = groups
        .iter()
        .flat_map(|g| g.values.iter().map(|(_, v)| *v))
        .fold((f64::MAX, 1.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let range = (lowest.min(highest) / 2.0).max(0.1)..highest * 4.0;
    for (group, height) in groups.iter().zip(&heights) {
        let (area, below) = rest.split_vertically(*height);
        rest = below;
        let rows = group.values.len() as f64;
        let mut chart = ChartBuilder::on(&area)
            .caption(&group.title, ("sans-serif", 15))
            .margin(6)
            .x_label_area_size(22)
            .y_label_area_size(10)
            .build_cartesian_2d(range.clone().log_scale(), 0.0..rows)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(8)
            .x_label_formatter(&|x| nanos(*x))
            .light_line_style(RGBColor(238, 238, 238))
            .label_style(("sans-serif", 11))
            .draw()?;
        for (i, (name, ns)) in group.values.iter().enumerate() {
            let y = rows - i as f64;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(range.start, y - 0.8), (*ns, y - 0.2)],
                colour(name).mix(0.85).filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("{name}  {ns:.1} ns"),
                (*ns * 1.08, y - 0.3),
                ("sans-serif", 12).into_font(),
            )))?;
        }
    }
    rest.draw(&Text::new(
        footnote.to_string(),
        (12, 6),
        ("sans-serif", 12).into_font().color(&RGBColor(90, 90, 90)),
    ))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_read_as_entries() {
        assert_eq!(entries(250.0), "250");
        assert_eq!(entries(10_000.0), "10k");
        assert_eq!(entries(2_500.0), "2.5k");
        assert_eq!(nanos(75.2), "75 ns");
        assert_eq!(nanos(1_234.0), "1.2 µs");
    }

    #[test]
    fn both_charts_write_svg_with_every_label() {
        let dir = std::env::temp_dir().join(format!("memokit-charts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let curves = dir.join("curves.svg");
        let panel = Curves {
            title: "ZIPF-1.0".into(),
            capacities: vec![1_000, 5_000],
            series: vec![
                ("OPT".into(), vec![40.0, 60.0]),
                ("memokit".into(), vec![30.0, 50.0]),
            ],
        };
        hit_ratio_curves(&curves, "Hit ratio", "note", &[panel], 4).unwrap();
        let svg = std::fs::read_to_string(&curves).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("ZIPF-1.0") && svg.contains("memokit"));
        let bars = dir.join("bars.svg");
        let group = Bars {
            title: "hit_latency".into(),
            values: vec![("memokit".into(), 17.5), ("moka".into(), 950.0)],
        };
        latency_bars(&bars, "Latency", "note", &[group]).unwrap();
        let svg = std::fs::read_to_string(&bars).unwrap();
        assert!(svg.contains("hit_latency") && svg.contains("moka  950.0 ns"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
