//! The face-crop rule shared by the packaged analysis models (`align*Image` in the
//! package's JavaScript).

use facegate_core::BoundingBox;
use image::RgbImage;

use crate::imgproc;

/// An integer rectangle `(x, y, w, h)` in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// The detector box truncated to integers as `(x, y, |w|, |h|)`.
fn int_box(b: BoundingBox) -> (f64, f64, f64, f64) {
    let (x1, y1) = (f64::from(b.x1.trunc()), f64::from(b.y1.trunc()));
    let (x2, y2) = (f64::from(b.x2.trunc()), f64::from(b.y2.trunc()));
    (x1, y1, (x2 - x1).abs().max(1.0), (y2 - y1).abs().max(1.0))
}

/// The box scaled about its centre by `min(scale, (H-1)/h, (W-1)/w)`, shifted back inside
/// the image where it overflows, truncated to integers.
pub fn scaled_rect(width: u32, height: u32, bbox: BoundingBox, scale: f64) -> Rect {
    let (x, y, bw, bh) = int_box(bbox);
    let (fw, fh) = (f64::from(width), f64::from(height));
    let scale = scale.min((fh - 1.0) / bh).min((fw - 1.0) / bw);
    let (nw, nh) = (bw * scale, bh * scale);
    let (cx, cy) = (x + bw / 2.0, y + bh / 2.0);
    let (mut l, mut t, mut r, mut b) = (cx - nw / 2.0, cy - nh / 2.0, cx + nw / 2.0, cy + nh / 2.0);
    if l < 0.0 {
        r -= l;
        l = 0.0;
    }
    if t < 0.0 {
        b -= t;
        t = 0.0;
    }
    if r > fw - 1.0 {
        l -= r - fw + 1.0;
        r = fw - 1.0;
    }
    if b > fh - 1.0 {
        t -= b - fh + 1.0;
        b = fh - 1.0;
    }
    clamp_rect(
        width,
        height,
        l.trunc().max(0.0),
        t.trunc().max(0.0),
        (r - l).trunc().min(fw - 1.0),
        (b - t).trunc().min(fh - 1.0),
    )
}

/// Keeps a rectangle inside the image with at least one pixel.
pub fn clamp_rect(width: u32, height: u32, x: f64, y: f64, w: f64, h: f64) -> Rect {
    let x = (x.max(0.0) as u32).min(width - 1);
    let y = (y.max(0.0) as u32).min(height - 1);
    Rect {
        x,
        y,
        w: (w.max(1.0) as u32).min(width - x),
        h: (h.max(1.0) as u32).min(height - y),
    }
}

/// Crops `rect` and resizes it to `size` x `size` (bilinear).
pub fn crop_resized(image: &RgbImage, rect: Rect, size: u32) -> RgbImage {
    let crop = imgproc::crop(image, rect.x, rect.y, rect.w, rect.h);
    imgproc::resize(&crop, size, size, imgproc::Interpolation::Bilinear)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_rect_grows_about_the_centre_and_stays_inside() {
        let r = scaled_rect(200, 200, BoundingBox::new(80.0, 80.0, 120.0, 120.0), 2.0);
        assert_eq!(
            r,
            Rect {
                x: 60,
                y: 60,
                w: 80,
                h: 80
            }
        );
        let r = scaled_rect(200, 200, BoundingBox::new(0.0, 0.0, 40.0, 40.0), 2.0);
        assert_eq!((r.x, r.y, r.w, r.h), (0, 0, 80, 80));
        let r = scaled_rect(100, 100, BoundingBox::new(10.0, 10.0, 90.0, 90.0), 2.7);
        assert!(r.x + r.w <= 100 && r.y + r.h <= 100);
    }
}
