//! The plot of `bench/compare.sh`: `run -d` wall time against the number of containers
//! already running, one colour per system, as an SVG (plotters' SVG backend: no fonts or
//! system libraries needed, text stays text).
//!
//!   berth-bench-plot --out FILE.svg [--title TEXT] NAME=RESULTS...
//!
//! RESULTS is a per-system result file of `bench/compare.sh`; only its `scale I MS` lines
//! are read (`MS` may be `fail`, which is skipped). Every run is a faint point; the line is
//! the median of each block of `BLOCK` consecutive runs, drawn at the block's middle. The y
//! axis is logarithmic because the systems differ by more than an order of magnitude.

use std::path::PathBuf;

use anyhow::{anyhow, bail, ensure, Context, Result};
use plotters::prelude::*;

/// Runs per point of the median line.
const BLOCK: u32 = 10;
/// Containers per result file at most (`bench/compare.sh` allows 1,000 for Berth).
const MAX_POINTS: usize = 10_000;
const SIZE: (u32, u32) = (960, 600);

/// One system's samples: (container number, ms).
struct Series {
    name: String,
    points: Vec<(u32, f64)>,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, title, inputs) = parse_args(&args)?;
    let mut series = Vec::new();
    for (name, file) in inputs {
        let text = std::fs::read_to_string(&file).with_context(|| {
            format!(
                "reading {}: is it a compare.sh result file?",
                file.display()
            )
        })?;
        let points = parse_scale(&text)?;
        if points.is_empty() {
            eprintln!(
                "{}: no `scale` lines, {name} is left out of the plot",
                file.display()
            );
            continue;
        }
        series.push(Series { name, points });
    }
    ensure!(
        !series.is_empty(),
        "no input file has `scale I MS` lines: nothing to plot"
    );
    draw(&out, &title, &series)?;
    println!("wrote {}", out.display());
    Ok(())
}

type Inputs = Vec<(String, PathBuf)>;

fn parse_args(args: &[String]) -> Result<(PathBuf, String, Inputs)> {
    let usage = "usage: berth-bench-plot --out FILE.svg [--title TEXT] NAME=RESULTS...";
    let (mut out, mut title, mut inputs) = (
        None,
        String::from("run -d as containers accumulate"),
        Vec::new(),
    );
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => {
                out = Some(PathBuf::from(
                    it.next()
                        .ok_or_else(|| anyhow!("--out needs a file; {usage}"))?,
                ))
            }
            "--title" => {
                title = it
                    .next()
                    .ok_or_else(|| anyhow!("--title needs text; {usage}"))?
                    .clone()
            }
            s => match s.split_once('=') {
                Some((name, file)) if !name.is_empty() && !file.is_empty() => {
                    inputs.push((name.to_string(), PathBuf::from(file)))
                }
                _ => bail!("unexpected argument {s:?}; {usage}"),
            },
        }
    }
    let out = out.ok_or_else(|| anyhow!("--out is required; {usage}"))?;
    ensure!(!inputs.is_empty(), "no NAME=RESULTS given; {usage}");
    Ok((out, title, inputs))
}

/// The `scale I MS` lines of a result file, in file order; `fail` samples are skipped.
fn parse_scale(text: &str) -> Result<Vec<(u32, f64)>> {
    let mut points = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first() != Some(&"scale") {
            continue;
        }
        ensure!(f.len() == 3, "line {}: {line:?} is not `scale I MS`", n + 1);
        if f[2] == "fail" {
            continue;
        }
        let i: u32 = f[1]
            .parse()
            .with_context(|| format!("line {}: I {:?} is not a count", n + 1, f[1]))?;
        let ms: f64 = f[2]
            .parse()
            .with_context(|| format!("line {}: MS {:?} is not a number", n + 1, f[2]))?;
        ensure!(
            ms.is_finite() && ms > 0.0,
            "line {}: MS {ms} must be positive",
            n + 1
        );
        points.push((i, ms));
        ensure!(
            points.len() <= MAX_POINTS,
            "more than {MAX_POINTS} scale lines"
        );
    }
    Ok(points)
}

/// The median of each block of `BLOCK` consecutive container numbers (1-10, 11-20, ...), at
/// the block's middle.
fn block_medians(points: &[(u32, f64)]) -> Vec<(u32, f64)> {
    let mut blocks: std::collections::BTreeMap<u32, Vec<f64>> = Default::default();
    for &(i, ms) in points {
        blocks
            .entry(i.saturating_sub(1) / BLOCK)
            .or_default()
            .push(ms);
    }
    blocks
        .into_iter()
        .map(|(b, mut v)| {
            v.sort_by(f64::total_cmp);
            let m = if v.len() % 2 == 1 {
                v[v.len() / 2]
            } else {
                (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
            };
            (b * BLOCK + BLOCK.div_ceil(2), m)
        })
        .collect()
}

fn colour(name: &str, k: usize) -> RGBColor {
    match name.to_ascii_lowercase().as_str() {
        "berth" => RGBColor(0x1f, 0x77, 0xb4),
        "docker" => RGBColor(0xd6, 0x27, 0x28),
        "podman" => RGBColor(0x94, 0x67, 0xbd),
        _ => {
            let c = Palette99::pick(k + 3).to_rgba();
            RGBColor(c.0, c.1, c.2)
        }
    }
}

fn draw(out: &std::path::Path, title: &str, series: &[Series]) -> Result<()> {
    let all = series.iter().flat_map(|s| s.points.iter());
    let x_max = all.clone().map(|p| p.0).max().unwrap_or(1).max(10);
    let y_min = all.clone().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let y_max = all.map(|p| p.1).fold(0.0, f64::max);
    let err = |e: DrawingAreaErrorKind<std::io::Error>| anyhow!("drawing {}: {e}", out.display());

    let root = SVGBackend::new(out, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0u32..x_max + 1, (y_min / 1.5..y_max * 1.5).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("containers running, including the new one")
        .y_desc("run -d wall time, ms (log scale)")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(err)?;
    for (k, s) in series.iter().enumerate() {
        let c = colour(&s.name, k);
        chart
            .draw_series(
                s.points
                    .iter()
                    .map(|&p| Circle::new(p, 2, c.mix(0.3).filled())),
            )
            .map_err(err)?;
        let label = format!("{} (median of each {BLOCK})", s.name);
        chart
            .draw_series(LineSeries::new(block_medians(&s.points), c.stroke_width(2)))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_scale_lines_and_skips_failures() {
        let text =
            "version X\nop run_none 1 2 3 0\nscale 1 9.5\nscale 2 fail\nscale 3 11\nmem x 1 1\n";
        assert_eq!(parse_scale(text).unwrap(), vec![(1, 9.5), (3, 11.0)]);
        assert!(parse_scale("scale 1\n").is_err());
        assert!(parse_scale("scale x 3\n").is_err());
        assert!(parse_scale("scale 1 -3\n").is_err());
    }

    #[test]
    fn medians_per_block_at_the_middle() {
        let pts: Vec<(u32, f64)> = (1..=25).map(|i| (i, f64::from(i))).collect();
        // 1-10 -> 5.5, 11-20 -> 15.5, 21-25 -> 23.
        assert_eq!(block_medians(&pts), vec![(5, 5.5), (15, 15.5), (25, 23.0)]);
    }

    #[test]
    fn writes_an_svg_with_every_series() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("p.svg");
        let series = vec![
            Series {
                name: "berth".into(),
                points: (1..=30).map(|i| (i, 10.0 + f64::from(i % 3))).collect(),
            },
            Series {
                name: "docker".into(),
                points: (1..=20).map(|i| (i, 250.0)).collect(),
            },
        ];
        draw(&out, "t", &series).unwrap();
        let svg = std::fs::read_to_string(&out).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        assert!(
            svg.contains("berth (median of each 10)") && svg.contains("docker (median of each 10)")
        );
    }
}
