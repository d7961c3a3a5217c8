//! ROC curve as a PNG: FAR on a log axis, TAR on a linear one.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::Context as _;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::metrics::RocPoint;

const WIDTH: u32 = 800;
const HEIGHT: u32 = 600;
/// Left end of the FAR axis; the curve below it is cut off.
const FAR_MIN: f64 = 1e-4;
/// Bottom of the TAR axis, unless the visible curve goes lower.
const TAR_MIN: f64 = 0.8;

/// Family name under which the font is registered with plotters. Deliberately not
/// `"sans-serif"`, plotters' default: any text left on a default style fails loudly in tests
/// instead of silently needing a font.
const FONT_FAMILY: &str = "facegate-plot";

/// Where common systems keep a plain sans-serif TTF; the first that loads wins.
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans-fonts/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Draws `points` (from [`super::metrics::roc`]) into an 800x600 PNG at `path`, whatever its extension.
///
/// Titles and axis labels need a TTF font from [`FONT_PATHS`]; without one the axes and the
/// curve are drawn without any text.
pub fn write_roc_png(points: &[RocPoint], title: &str, path: &Path) -> anyhow::Result<()> {
    draw(points, title, path, font())
}

/// The registered font family, loading a font file on first use.
fn font() -> Option<&'static str> {
    static FONT: OnceLock<Option<&'static str>> = OnceLock::new();
    *FONT.get_or_init(|| {
        for path in FONT_PATHS {
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            // plotters keeps fonts for the life of the process and wants `'static` bytes; this
            // runs once per process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, bytes).is_ok() {
                return Some(FONT_FAMILY);
            }
        }
        tracing::warn!("no TTF font found; ROC plots are drawn without text");
        None
    })
}

fn draw(points: &[RocPoint], title: &str, path: &Path, font: Option<&str>) -> anyhow::Result<()> {
    let curve = visible_curve(points);
    let tar_min = tar_axis_min(&curve);

    let mut pixels = vec![0_u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut builder = ChartBuilder::on(&root);
        builder.margin(20);
        if let Some(family) = font {
            builder
                .caption(title, (family, 24))
                .x_label_area_size(50)
                .y_label_area_size(70);
        }
        // Start a hair below FAR_MIN: plotters places log ticks from `ceil(log10(start))`, and
        // log10(1e-4) comes out as -3.9999..., which would lose the 1e-4 tick.
        let far_axis = (FAR_MIN * (1.0 - 1e-9))..1.0;
        let mut chart = builder.build_cartesian_2d(far_axis.log_scale(), tar_min..1.0_f64)?;

        let mut mesh = chart.configure_mesh();
        match font {
            Some(family) => {
                mesh.x_desc("FAR (false accept rate)")
                    .y_desc("TAR (true accept rate)")
                    .x_labels(5)
                    .x_label_formatter(&|far| far_label(*far))
                    .y_label_formatter(&|tar| format!("{tar:.2}"))
                    .label_style((family, 14))
                    .axis_desc_style((family, 16));
            }
            None => {
                // Axes carry labels, which need a font: draw only the grid, framed below.
                mesh.disable_axes();
            }
        }
        mesh.draw()?;
        if font.is_none() {
            let area = chart.plotting_area().strip_coord_spec();
            let (w, h) = area.dim_in_pixel();
            let frame = [(0, 0), (w as i32 - 1, h as i32 - 1)];
            area.draw(&Rectangle::new(frame, BLACK.stroke_width(1)))?;
        }

        chart.draw_series(LineSeries::new(curve, BLUE.stroke_width(2)))?;
        root.present()?;
    }

    let image = image::RgbImage::from_raw(WIDTH, HEIGHT, pixels)
        .context("plot buffer has the wrong size")?;
    image
        .save_with_format(path, image::ImageFormat::Png)
        .with_context(|| format!("cannot write ROC plot {}", path.display()))
}

/// The part of the curve that the FAR axis shows, as (FAR, TAR).
///
/// Points left of [`FAR_MIN`] (including the FAR 0 start, which a log axis cannot place) are
/// dropped, except the last of them, which is moved onto the left edge so that the curve starts
/// there at the TAR reached just below [`FAR_MIN`].
fn visible_curve(points: &[RocPoint]) -> Vec<(f64, f64)> {
    let hidden = points.iter().take_while(|p| p.far < FAR_MIN).count();
    let edge = hidden
        .checked_sub(1)
        .map(|last| (FAR_MIN, points[last].tar));
    edge.into_iter()
        .chain(points[hidden..].iter().map(|p| (p.far, p.tar)))
        .collect()
}

/// Bottom of the TAR axis: [`TAR_MIN`], or 0 when the visible curve goes below it.
fn tar_axis_min(curve: &[(f64, f64)]) -> f64 {
    if curve.iter().all(|&(_, tar)| tar >= TAR_MIN) {
        TAR_MIN
    } else {
        0.0
    }
}

/// Tick label for a power of ten: `1e-3`, ..., `1`.
fn far_label(far: f64) -> String {
    let label = format!("{far:.0e}");
    if label == "1e0" {
        "1".to_owned()
    } else {
        label
    }
}

#[cfg(test)]
mod tests {
    use super::super::metrics::roc;
    use super::*;

    fn temp_png(name: &str) -> std::path::PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        std::env::temp_dir().join(format!(
            "facegate-roc-{name}-{}-{nanos}.png",
            std::process::id()
        ))
    }

    fn sample_roc() -> Vec<RocPoint> {
        let n = 2000;
        let scores: Vec<f32> = (0..n).map(|i| i as f32 / n as f32).collect();
        // Same-person pairs mostly score high; a few low ones pull the curve around.
        let labels: Vec<bool> = (0..n).map(|i| i > n / 2 || i % 97 == 0).collect();
        roc(&scores, &labels)
    }

    fn assert_png(path: &Path) {
        let bytes = std::fs::read(path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        assert_eq!(image::image_dimensions(path).unwrap(), (WIDTH, HEIGHT));
        // Something beyond the white background was drawn: some blue curve pixels.
        let img = image::open(path).unwrap().to_rgb8();
        let blue = img.pixels().filter(|p| p.0 == [0, 0, 255]).count();
        assert!(blue > 100, "only {blue} curve pixels");
    }

    #[test]
    fn writes_an_800x600_png() {
        let path = temp_png("font");
        write_roc_png(&sample_roc(), "test ROC", &path).unwrap();
        assert_png(&path);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn draws_without_a_font() {
        // No family is registered under this name, so any text drawn would fail.
        let path = temp_png("nofont");
        draw(&sample_roc(), "ignored", &path, None).unwrap();
        assert_png(&path);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn missing_font_family_would_fail() {
        // Guards the test above: text with an unregistered family is an error, not a no-op.
        let path = temp_png("badfont");
        assert!(draw(&sample_roc(), "title", &path, Some("no-such-family")).is_err());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn unwritable_path_is_an_error() {
        let path = Path::new("/nonexistent-dir/roc.png");
        assert!(write_roc_png(&sample_roc(), "t", path).is_err());
    }

    #[test]
    fn visible_curve_starts_on_the_left_edge() {
        let p = |far: f64, tar: f64| RocPoint {
            threshold: 0.0,
            far,
            tar,
        };
        let points = [
            p(0.0, 0.0),
            p(0.0, 0.9),
            p(5e-5, 0.95),
            p(1e-3, 0.97),
            p(1.0, 1.0),
        ];
        assert_eq!(
            visible_curve(&points),
            vec![(FAR_MIN, 0.95), (1e-3, 0.97), (1.0, 1.0)]
        );
        assert!(visible_curve(&[]).is_empty());
        assert!((tar_axis_min(&visible_curve(&points)) - TAR_MIN).abs() < 1e-12);
        // The curve enters the plot at the TAR of the last point left of FAR_MIN: 0.5 here, so
        // the axis must go down to 0.
        let low_start = [p(0.0, 0.0), p(1e-5, 0.5), p(2e-4, 0.85), p(1.0, 1.0)];
        assert_eq!(visible_curve(&low_start)[0], (FAR_MIN, 0.5));
        assert!(tar_axis_min(&visible_curve(&low_start)).abs() < 1e-12);
        // The TAR 0 start point is hidden behind a later one at TAR 0.9: the axis stays short.
        let high_start = [p(0.0, 0.0), p(0.0, 0.9), p(2e-4, 0.95), p(1.0, 1.0)];
        assert!((tar_axis_min(&visible_curve(&high_start)) - TAR_MIN).abs() < 1e-12);
        assert_eq!(far_label(1.0), "1");
        assert_eq!(far_label(1e-3), "1e-3");
    }
}
