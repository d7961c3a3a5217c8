//! Small image operations shared by the models' pre-processing.

use std::borrow::Cow;

use fast_image_resize::images::Image as FirImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

/// How a resize samples the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// Two-by-two bilinear sampling with half-pixel centres (OpenCV `INTER_LINEAR`).
    Bilinear,
    /// Area averaging when shrinking, bilinear when enlarging (OpenCV `INTER_AREA`).
    Area,
}

/// Resizes an RGB image to exactly `width` x `height`.
pub fn resize(src: &RgbImage, width: u32, height: u32, interpolation: Interpolation) -> RgbImage {
    if src.dimensions() == (width, height) {
        return src.clone();
    }
    if interpolation == Interpolation::Area && width <= src.width() && height <= src.height() {
        return resize_area(src, width, height);
    }
    let alg = ResizeAlg::Interpolation(FilterType::Bilinear);
    let mut dst = FirImage::new(width, height, PixelType::U8x3);
    Resizer::new()
        .resize(src, &mut dst, &ResizeOptions::new().resize_alg(alg))
        .expect("source and destination are both U8x3");
    RgbImage::from_raw(width, height, dst.into_vec()).expect("buffer has width*height*3 bytes")
}

/// For each destination pixel along one axis, the source pixels it covers and the share of
/// each, when `src_len` pixels shrink to `dst_len`: exact area averaging with fractional
/// edge pixels, as OpenCV's `INTER_AREA`. (A box filter, e.g. fast_image_resize's
/// `FilterType::Box`, gives each source pixel whose centre falls inside a weight of one
/// instead, which moved MTCNN O-Net landmarks by up to 1.7 px on LFW photos.)
fn area_taps(src_len: u32, dst_len: u32) -> Vec<Vec<(usize, f32)>> {
    let scale = f64::from(src_len) / f64::from(dst_len);
    (0..dst_len)
        .map(|d| {
            let start = f64::from(d) * scale;
            let end = (start + scale).min(f64::from(src_len));
            let first = start.floor() as u32;
            let last = (end.ceil() as u32).min(src_len);
            (first..last)
                .filter_map(|s| {
                    let overlap = end.min(f64::from(s + 1)) - start.max(f64::from(s));
                    (overlap > 1e-9).then_some((s as usize, (overlap / scale) as f32))
                })
                .collect()
        })
        .collect()
}

/// Shrinks by area averaging (both sides no larger than the source's).
fn resize_area(src: &RgbImage, width: u32, height: u32) -> RgbImage {
    let columns = area_taps(src.width(), width);
    let rows = area_taps(src.height(), height);
    let (sw, dw) = (src.width() as usize, width as usize);
    let raw = src.as_raw();
    // Horizontal pass into floats, then vertical, rounding once at the end.
    let mut across = vec![0.0f32; src.height() as usize * dw * 3];
    for (line, out) in raw
        .chunks_exact(sw * 3)
        .zip(across.chunks_exact_mut(dw * 3))
    {
        for (taps, px) in columns.iter().zip(out.chunks_exact_mut(3)) {
            for &(sx, w) in taps {
                for c in 0..3 {
                    px[c] += w * f32::from(line[sx * 3 + c]);
                }
            }
        }
    }
    let mut out = RgbImage::new(width, height);
    for (taps, line) in rows.iter().zip(out.chunks_exact_mut(dw * 3)) {
        for (i, v) in line.iter_mut().enumerate() {
            let sum: f32 = taps
                .iter()
                .map(|&(sy, w)| w * across[sy * dw * 3 + i])
                .sum();
            *v = sum.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Copies the inclusive integer rectangle `[x1..=x2] x [y1..=y2]` out of `src`, filling
/// with black where it lies outside the image.
pub fn crop_zero_filled(src: &RgbImage, x1: i64, y1: i64, x2: i64, y2: i64) -> RgbImage {
    let w = (x2 - x1 + 1).max(1) as u32;
    let h = (y2 - y1 + 1).max(1) as u32;
    let mut out = RgbImage::new(w, h);
    let (sw, sh) = (i64::from(src.width()), i64::from(src.height()));
    for oy in 0..h {
        let sy = y1 + i64::from(oy);
        if sy < 0 || sy >= sh {
            continue;
        }
        for ox in 0..w {
            let sx = x1 + i64::from(ox);
            if sx >= 0 && sx < sw {
                out.put_pixel(ox, oy, *src.get_pixel(sx as u32, sy as u32));
            }
        }
    }
    out
}

/// `src` shrunk (by area) so that its longer side is at most `side`, and how many of its
/// pixels one of the copy's spans; `src` itself and 1 when it already fits.
pub fn fit_within(src: &RgbImage, side: u32) -> (Cow<'_, RgbImage>, f64) {
    let longest = src.width().max(src.height());
    if longest <= side {
        return (Cow::Borrowed(src), 1.0);
    }
    let s = f64::from(side) / f64::from(longest);
    let (w, h) = (
        (f64::from(src.width()) * s).round().max(1.0) as u32,
        (f64::from(src.height()) * s).round().max(1.0) as u32,
    );
    (
        Cow::Owned(resize(src, w, h, Interpolation::Area)),
        f64::from(src.width()) / f64::from(w),
    )
}

/// Copies the rectangle at `(x, y)` of size `w` x `h`, which must lie inside `src`.
pub fn crop(src: &RgbImage, x: u32, y: u32, w: u32, h: u32) -> RgbImage {
    image::imageops::crop_imm(src, x, y, w.max(1), h.max(1)).to_image()
}

/// A copy of `src` with a black border of `pad` pixels on every side.
pub fn pad(src: &RgbImage, pad: u32) -> RgbImage {
    let mut out = RgbImage::new(src.width() + 2 * pad, src.height() + 2 * pad);
    image::imageops::replace(&mut out, src, i64::from(pad), i64::from(pad));
    out
}

/// Channel order of a model's input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

/// Per-channel normalisation `(v - mean[c]) / std[c]`, with `mean` and `std` given in the
/// tensor's channel order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalize {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalize {
    pub const fn uniform(mean: f32, std: f32) -> Self {
        Self {
            mean: [mean; 3],
            std: [std; 3],
        }
    }
}

/// Writes `src` into `out` (length `3*w*h`) as planar CHW floats.
pub fn write_chw(src: &RgbImage, order: ChannelOrder, norm: Normalize, out: &mut [f32]) {
    let plane = (src.width() * src.height()) as usize;
    assert_eq!(out.len(), 3 * plane, "tensor size matches the image");
    let map = match order {
        ChannelOrder::Rgb => [0, 1, 2],
        ChannelOrder::Bgr => [2, 1, 0],
    };
    let scale = norm.std.map(|s| 1.0 / s);
    for (i, px) in src.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (f32::from(px.0[map[c]]) - norm.mean[c]) * scale[c];
        }
    }
}

/// `src` as a planar CHW tensor.
pub fn to_chw(src: &RgbImage, order: ChannelOrder, norm: Normalize) -> Vec<f32> {
    let mut out = vec![0.0; 3 * (src.width() * src.height()) as usize];
    write_chw(src, order, norm, &mut out);
    out
}

/// Grey value as OpenCV's `COLOR_BGR2GRAY` computes it when given an RGB buffer: the
/// packaged models were fed this way, so the weights of red and blue are swapped on purpose.
pub fn grey_swapped(px: image::Rgb<u8>) -> f32 {
    let [r, g, b] = px.0;
    0.114 * f32::from(r) + 0.587 * f32::from(g) + 0.299 * f32::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_outside_is_black() {
        let mut img = RgbImage::new(4, 4);
        img.put_pixel(0, 0, image::Rgb([9, 9, 9]));
        let c = crop_zero_filled(&img, -1, -1, 1, 1);
        assert_eq!(c.dimensions(), (3, 3));
        assert_eq!(c.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(c.get_pixel(1, 1).0, [9, 9, 9]);
    }

    #[test]
    fn chw_orders_channels_and_normalises() {
        let img = RgbImage::from_pixel(2, 1, image::Rgb([10, 20, 30]));
        let t = to_chw(&img, ChannelOrder::Bgr, Normalize::uniform(10.0, 2.0));
        assert_eq!(t, vec![10.0, 10.0, 5.0, 5.0, 0.0, 0.0]);
    }

    #[test]
    fn area_shrink_weighs_partly_covered_pixels() {
        // 3 -> 2 pixels: each output covers one whole source pixel and half of the middle.
        let mut img = RgbImage::new(3, 1);
        for (x, v) in [0u8, 90, 180].into_iter().enumerate() {
            img.put_pixel(x as u32, 0, image::Rgb([v; 3]));
        }
        let r = resize(&img, 2, 1, Interpolation::Area);
        assert_eq!(r.get_pixel(0, 0).0, [30; 3]);
        assert_eq!(r.get_pixel(1, 0).0, [150; 3]);
    }

    #[test]
    fn resize_keeps_a_flat_colour() {
        let img = RgbImage::from_pixel(50, 40, image::Rgb([100, 150, 200]));
        for interp in [Interpolation::Bilinear, Interpolation::Area] {
            let r = resize(&img, 17, 61, interp);
            assert_eq!(r.dimensions(), (17, 61));
            assert!(r.pixels().all(|p| p.0 == [100, 150, 200]));
        }
    }
}
