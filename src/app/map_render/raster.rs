//! The splat renderer's CPU side (`splat.rs` says why the CPU): drawing
//! the map's discs into an RGBA image, exactly as the quads of
//! `shaders/map_points.wgsl` would blend them over transparent black, up to
//! a 1/32 px snap of the centres.
//!
//! What makes 100,000 discs fit a frame on two cores:
//! - **Stamps.** A disc's coverage (its antialiased edge) depends only on
//!   where its centre lies within a pixel; with centres snapped to 1/16 px,
//!   256 precomputed stamps per radius replace a square root per pixel.
//! - **Tiles, front to back.** The image is drawn tile by tile (64 × 64 px,
//!   in L1), each tile's discs copied into one list in reverse point order
//!   and blended *behind* what is already there; a bit per pixel marks the
//!   opaque ones, so the many discs hidden under later ones (a dense map
//!   covers each pixel many times) cost one test per row.
//! - **Bands.** Each thread owns a band of tile rows, from finding its
//!   discs to the last pixel: no shared state, no atomics, and a result that
//!   does not depend on the number of threads.

use std::sync::OnceLock;

use super::{PointCloud, ViewTransform};

/// How the image's bytes encode colour: as the render target stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    /// A plain target (egui's usual swapchain): the bytes are the sRGB
    /// values themselves and blending happens on them, so the CPU blends
    /// on the bytes too.
    Gamma,
    /// An sRGB target: the GPU blends in linear light, so the CPU does as
    /// well, and the image is an sRGB texture that decodes back on sampling.
    Srgb,
}

impl Encoding {
    /// `rgb` (straight sRGB) at alpha `a8` (0–255), premultiplied, as the
    /// image stores it.
    #[inline(always)]
    fn premultiply(self, rgb: [u8; 3], a8: u8) -> [u8; 4] {
        match self {
            Encoding::Gamma => {
                let c = |v: u8| div255(u32::from(v) * u32::from(a8));
                [c(rgb[0]), c(rgb[1]), c(rgb[2]), a8]
            }
            Encoding::Srgb => {
                let lut = srgb_luts();
                let alpha = f32::from(a8) / 255.0;
                let c = |v: u8| lut.encode(lut.decode[usize::from(v)] * alpha);
                [c(rgb[0]), c(rgb[1]), c(rgb[2]), a8]
            }
        }
    }

    /// `src` blended over `dst` (both premultiplied), as the GPU blends
    /// egui's premultiplied colours: `src + dst · (1 − src alpha)`. The
    /// shading runs front to back, so `src` is what lies in front.
    #[inline(always)]
    fn over(self, src: [u8; 4], dst: [u8; 4]) -> [u8; 4] {
        if src[3] == 255 || dst[3] == 0 {
            return src;
        }
        let keep = 255 - u32::from(src[3]);
        let a = src[3].saturating_add(div255(u32::from(dst[3]) * keep));
        match self {
            Encoding::Gamma => {
                let c = |i: usize| src[i].saturating_add(div255(u32::from(dst[i]) * keep));
                [c(0), c(1), c(2), a]
            }
            Encoding::Srgb => {
                let lut = srgb_luts();
                let keep = keep as f32 / 255.0;
                let c = |i: usize| {
                    lut.encode(lut.decode[usize::from(src[i])] + lut.decode[usize::from(dst[i])] * keep)
                };
                [c(0), c(1), c(2), a]
            }
        }
    }
}

/// `x / 255`, rounded to nearest, for `x ≤ 255²`: exact, without a division.
#[inline(always)]
fn div255(x: u32) -> u8 {
    let x = x + 128;
    ((x + (x >> 8)) >> 8) as u8
}

/// A value in 0–1 as an 8-bit unorm, rounded as a GPU writes it.
#[inline(always)]
fn unorm8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
}

/// sRGB ⇄ linear by table: a disc's edge pixels need it per pixel on an
/// sRGB target, where `powf` would dominate the frame.
struct SrgbLuts {
    /// sRGB byte → linear 0–1.
    decode: [f32; 256],
    /// Linear 0–1 in 4,096 steps → sRGB byte (finer than any byte step of
    /// the dark end, where sRGB is steepest).
    encode: Vec<u8>,
}

const ENCODE_STEPS: usize = 4096;

impl SrgbLuts {
    fn encode(&self, linear: f32) -> u8 {
        self.encode[(linear.clamp(0.0, 1.0) * (ENCODE_STEPS - 1) as f32 + 0.5) as usize]
    }
}

fn srgb_luts() -> &'static SrgbLuts {
    static LUTS: OnceLock<SrgbLuts> = OnceLock::new();
    LUTS.get_or_init(|| {
        let mut decode = [0.0; 256];
        for (i, d) in decode.iter_mut().enumerate() {
            let c = i as f32 / 255.0;
            *d = if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) };
        }
        let encode = (0..ENCODE_STEPS)
            .map(|i| {
                let l = i as f32 / (ENCODE_STEPS - 1) as f32;
                unorm8(if l <= 0.003_130_8 { l * 12.92 } else { 1.055 * l.powf(1.0 / 2.4) - 0.055 })
            })
            .collect();
        SrgbLuts { decode, encode }
    })
}

/// A point's centre in image pixels (y down), where the quads' clip-space
/// centre lands in the viewport.
fn center_px(p: [f32; 2], view: &ViewTransform, grid: [u32; 2]) -> [f32; 2] {
    let clip = [p[0] * view.scale[0] + view.offset[0], p[1] * view.scale[1] + view.offset[1]];
    [(clip[0] + 1.0) * 0.5 * grid[0] as f32, (1.0 - clip[1]) * 0.5 * grid[1] as f32]
}

/// Sub-pixel steps per pixel that disc centres are snapped to: a disc's
/// coverage then comes from one of `SUBPIXEL_STEPS²` precomputed stamps
/// instead of a square root per pixel. The snap moves a centre by at most
/// 1/32 px, which changes an edge pixel's coverage by at most 0.045.
const SUBPIXEL_STEPS: i32 = 16;

/// Added before snapping a centre so that the value is non-negative (a
/// centre as far as a stamp's side left of the image), then taken away.
const SNAP_BIAS_PX: i32 = 1024;

/// Side of the square tiles the image is drawn in, in pixels: a tile's
/// pixels (16 KB) stay in the core's L1 cache while all the discs that
/// touch it are drawn, instead of each disc fetching its rows from memory.
const TILE_PX: usize = 64;

// A tile row's opaque pixels are the bits of one `u64` (`draw_disc`).
const _: () = assert!(TILE_PX == u64::BITS as usize);

/// Every disc's coverage at one radius, per sub-pixel position of its
/// centre: `side × side` bytes per stamp (the antialiased edge of
/// `shaders/map_points.wgsl`: full up to half a pixel inside the radius,
/// none from half a pixel outside), and per stamp row the first and last
/// covered column (`first > last`: none).
pub(super) struct Stamps {
    /// The radius they were made for (its bits: the cache key).
    radius_bits: u32,
    /// Pixels from the centre's pixel to the stamp's first row or column.
    lead: i32,
    side: usize,
    coverage: Vec<u8>,
    rows: Vec<[u8; 2]>,
}

/// The largest radius drawn, in pixels: a stamp row stores its columns in
/// a byte, and the map's own points stay under 30 px.
const MAX_RADIUS_PX: f32 = 100.0;

impl Stamps {
    fn new(radius_px: f32) -> Stamps {
        let reach = radius_px.clamp(0.0, MAX_RADIUS_PX) + 0.5;
        // The pixels whose centres (x + 0.5) lie within the reach of a
        // centre anywhere in the pixel `lead` from the stamp's start.
        let lead = (reach + 0.5).ceil() as i32;
        let side = (2 * lead + 1) as usize;
        let steps = SUBPIXEL_STEPS as usize;
        let mut coverage = vec![0u8; steps * steps * side * side];
        let mut rows = vec![[1u8, 0u8]; steps * steps * side];
        for fy in 0..steps {
            for fx in 0..steps {
                let stamp = fy * steps + fx;
                for j in 0..side {
                    let dy = j as f32 - lead as f32 + 0.5 - fy as f32 / SUBPIXEL_STEPS as f32;
                    for i in 0..side {
                        let dx = i as f32 - lead as f32 + 0.5 - fx as f32 / SUBPIXEL_STEPS as f32;
                        let c = unorm8(reach - (dx * dx + dy * dy).sqrt());
                        coverage[(stamp * side + j) * side + i] = c;
                        if c > 0 {
                            let row = &mut rows[stamp * side + j];
                            if row[0] > row[1] {
                                *row = [i as u8, i as u8];
                            } else {
                                row[1] = i as u8;
                            }
                        }
                    }
                }
            }
        }
        Stamps { radius_bits: radius_px.to_bits(), lead, side, coverage, rows }
    }
}

/// A point's colour as its disc needs it: straight sRGB and alpha, and
/// the premultiplied pixel of its full-coverage interior. Made once per
/// point set ([`paints`]): colours change with the colouring, not with
/// the view.
#[derive(Clone, Copy)]
pub(super) struct Paint {
    rgb: [u8; 3],
    a8: u8,
    solid: [u8; 4],
}

/// The paint of every point of `cloud`, in order.
pub(super) fn paints(cloud: &PointCloud, encoding: Encoding) -> Vec<Paint> {
    cloud
        .colors
        .iter()
        .map(|c| {
            let [r, g, b, a] = c.to_srgba_unmultiplied();
            Paint { rgb: [r, g, b], a8: a, solid: encoding.premultiply([r, g, b], a) }
        })
        .collect()
}

/// One disc to draw: where its stamp lies (the image pixel of the stamp's
/// first row and column, which may lie outside the image), which stamp,
/// and its paint.
#[derive(Clone, Copy)]
struct Disc {
    origin: [i32; 2],
    stamp: u32,
    paint: Paint,
}

/// Fills the tiles' disc list before the discs are sorted into it.
const EMPTY_DISC: Disc =
    Disc { origin: [0; 2], stamp: 0, paint: Paint { rgb: [0; 3], a8: 0, solid: [0; 4] } };

/// Draws the part of `disc` inside the tile `clip` (first and last pixel,
/// x then y, inclusive) behind what `band` (the image's rows from
/// `first_row` on, `w` wide) already holds there. `opaque` marks the
/// tile's opaque pixels, a bit per pixel and a word per row, so that the
/// part of a row already covered is skipped with one test; returns how
/// many of the tile's rows this disc made fully opaque.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the hot loop's state, passed flat
fn draw_disc(
    disc: &Disc,
    stamps: &Stamps,
    band: &mut [[u8; 4]],
    first_row: usize,
    w: usize,
    clip: [[i32; 2]; 2],
    opaque: &mut [u64; TILE_PX],
    encoding: Encoding,
) -> usize {
    let side = stamps.side as i32;
    let [ox, oy] = disc.origin;
    let stamp = disc.stamp as usize * stamps.side;
    let full = span_bits(0, (clip[0][1] - clip[0][0]) as u32);
    let mut filled = 0;
    for y in oy.max(clip[1][0])..=(oy + side - 1).min(clip[1][1]) {
        let j = (y - oy) as usize;
        let [first, last] = stamps.rows[stamp + j];
        let x0 = (ox + i32::from(first)).max(clip[0][0]);
        let x1 = (ox + i32::from(last)).min(clip[0][1]);
        if x0 > x1 {
            continue;
        }
        let mask = &mut opaque[(y - clip[1][0]) as usize];
        let covered = span_bits((x0 - clip[0][0]) as u32, (x1 - clip[0][0]) as u32);
        if *mask & covered == covered {
            continue;
        }
        let row = &mut band[(y as usize - first_row) * w..][x0 as usize..=x1 as usize];
        let covers = &stamps.coverage[(stamp + j) * stamps.side..][(x0 - ox) as usize..=(x1 - ox) as usize];
        let mut bit = 1u64 << (x0 - clip[0][0]);
        for (dst, &cov) in row.iter_mut().zip(covers) {
            if dst[3] != 255 && cov != 0 {
                let paint = &disc.paint;
                let src = if cov == 255 {
                    paint.solid
                } else {
                    encoding.premultiply(paint.rgb, div255(u32::from(cov) * u32::from(paint.a8)))
                };
                *dst = if dst[3] == 0 { src } else { encoding.over(*dst, src) };
                if dst[3] == 255 {
                    *mask |= bit;
                }
            }
            bit <<= 1;
        }
        filled += usize::from(*mask == full);
    }
    filled
}

/// The bits `first..=last` of a row mask (`last` < 64).
#[inline(always)]
fn span_bits(first: u32, last: u32) -> u64 {
    (u64::MAX >> (63 - last)) & (u64::MAX << first)
}

/// Draws the points at `positions` (layout units) with their `paints`
/// into `pixels` (`grid` pixels, row-major, resized to fit): every point's
/// disc in point order over transparent black (the later point on top),
/// each pixel blended with the point's colour times its coverage (see
/// [`Stamps`], made for the view's radius unless `stamps` already is).
/// The rows are split into `bands` bands of whole tiles, each drawn by its
/// own thread from finding its discs to the last pixel; the result does
/// not depend on `bands`.
#[allow(clippy::too_many_arguments)] // the frame's inputs and the caches it keeps
pub(super) fn shade(
    positions: &[[f32; 2]],
    paints: &[Paint],
    view: &ViewTransform,
    grid: [u32; 2],
    bands: usize,
    encoding: Encoding,
    stamps: &mut Option<Stamps>,
    pixels: &mut Vec<[u8; 4]>,
) {
    let [w, h] = [grid[0] as usize, grid[1] as usize];
    // Cleared band by band in the threads below, not here: 4 MB at 1280 ×
    // 800, every panning frame.
    pixels.resize(w * h, [0; 4]);
    if w == 0 || h == 0 {
        return;
    }
    let stamps = match stamps {
        Some(s) if s.radius_bits == view.radius_px.to_bits() => s,
        _ => stamps.insert(Stamps::new(view.radius_px)),
    };
    let stamps = &*stamps;
    let tiles_x = w.div_ceil(TILE_PX);
    let tiles_y = h.div_ceil(TILE_PX);
    let tile_rows_per_band = tiles_y.div_ceil(bands.clamp(1, tiles_y));
    let rows_per_band = tile_rows_per_band * TILE_PX;
    let draw = |first_row: usize, band: &mut [[u8; 4]]| {
        band.fill([0; 4]);
        let rows = band.len() / w;
        let discs = band_discs(positions, paints, view, grid, stamps, [first_row, first_row + rows - 1]);
        // Each tile's discs, front to back: the last point first, each one
        // blended *behind* what is already there, so that a pixel already
        // opaque (most of a dense map's pixels, many times over) costs one
        // comparison. A counting sort: `starts[t]..starts[t + 1]` of
        // `order`, which holds copies of the discs, not indices: a tile
        // then reads its discs in sequence instead of missing the cache on
        // each. A stamp is far smaller than a tile, so a disc touches at
        // most 2 × 2 tiles.
        let first_tile_row = first_row / TILE_PX;
        let band_tile_rows = rows.div_ceil(TILE_PX);
        let side = stamps.side as i32;
        let tile_span = |d: &Disc| {
            let tile = |v: i32, lo: usize, size: usize| {
                (v.clamp(lo as i32, (lo + size) as i32 - 1) as usize) / TILE_PX
            };
            [
                tile(d.origin[0], 0, w),
                tile(d.origin[0] + side - 1, 0, w),
                tile(d.origin[1], first_row, rows) - first_tile_row,
                tile(d.origin[1] + side - 1, first_row, rows) - first_tile_row,
            ]
        };
        let n_tiles = tiles_x * band_tile_rows;
        let mut starts = vec![0usize; n_tiles + 1];
        for disc in &discs {
            let [x0, x1, y0, y1] = tile_span(disc);
            for ty in y0..=y1 {
                for tx in x0..=x1 {
                    starts[ty * tiles_x + tx + 1] += 1;
                }
            }
        }
        for t in 1..starts.len() {
            starts[t] += starts[t - 1];
        }
        let mut next = starts.clone();
        let mut order = vec![EMPTY_DISC; starts[n_tiles]];
        for disc in discs.iter().rev() {
            let [x0, x1, y0, y1] = tile_span(disc);
            for ty in y0..=y1 {
                for tx in x0..=x1 {
                    let t = ty * tiles_x + tx;
                    order[next[t]] = *disc;
                    next[t] += 1;
                }
            }
        }
        for ty in 0..band_tile_rows {
            let top = (first_tile_row + ty) * TILE_PX;
            let clip_y = [top as i32, ((top + TILE_PX).min(first_row + rows) - 1) as i32];
            let tile_h = (clip_y[1] - clip_y[0] + 1) as usize;
            for tx in 0..tiles_x {
                let t = ty * tiles_x + tx;
                let clip_x = [(tx * TILE_PX) as i32, (((tx + 1) * TILE_PX).min(w) - 1) as i32];
                let mut opaque = [0u64; TILE_PX];
                let mut full_rows = 0;
                for disc in &order[starts[t]..starts[t + 1]] {
                    full_rows +=
                        draw_disc(disc, stamps, band, first_row, w, [clip_x, clip_y], &mut opaque, encoding);
                    if full_rows == tile_h {
                        // Nothing further back can show through.
                        break;
                    }
                }
            }
        }
    };
    std::thread::scope(|scope| {
        let mut chunks = pixels.chunks_mut(rows_per_band * w).enumerate();
        // The first band on this thread, the others on their own.
        let first = chunks.next();
        for (k, band) in chunks {
            let draw = &draw;
            let spawned = std::thread::Builder::new()
                .name("tuneatlas-map-splat".into())
                .spawn_scoped(scope, move || draw(k * rows_per_band, band));
            if let Err(e) = spawned {
                // Cannot happen short of exhausted resources; the band then
                // keeps the last frame's pixels rather than failing the paint.
                tracing::warn!("map splat thread: {e}");
            }
        }
        if let Some((_, band)) = first {
            draw(0, band);
        }
    });
}

/// The discs, in point order, of the visible points whose stamps touch
/// the image's `rows` (first and last, inclusive).
fn band_discs(
    positions: &[[f32; 2]],
    paints: &[Paint],
    view: &ViewTransform,
    grid: [u32; 2],
    stamps: &Stamps,
    rows: [usize; 2],
) -> Vec<Disc> {
    let side = stamps.side as i32;
    let [w, h] = [grid[0] as i32, grid[1] as i32];
    let [top, bottom] = [rows[0] as i32, rows[1] as i32];
    // `near` bounds the values, so the truncating cast of a non-negative
    // value is the rounding (`round` is a libm call on baseline x86-64,
    // and this runs per point per frame).
    let snap = |v: f32| {
        (v * SUBPIXEL_STEPS as f32 + (SNAP_BIAS_PX * SUBPIXEL_STEPS) as f32 + 0.5) as i32
            - SNAP_BIAS_PX * SUBPIXEL_STEPS
    };
    let near = |v: f32, lo: i32, hi: i32| v.is_finite() && v > (lo - side) as f32 && v < (hi + side) as f32;
    // About this band's share of the points, plus the discs that straddle.
    let mut discs =
        Vec::with_capacity(positions.len() * (rows[1] - rows[0] + 1) / grid[1].max(1) as usize + 1024);
    for (p, paint) in positions.iter().zip(paints) {
        let [cx, cy] = center_px(*p, view, grid);
        // The band's rows first: most points lie in other bands.
        if !near(cy, top, bottom + 1) || !near(cx, 0, w) || paint.a8 == 0 {
            continue;
        }
        let [sx, sy] = [snap(cx), snap(cy)];
        let origin =
            [sx.div_euclid(SUBPIXEL_STEPS) - stamps.lead, sy.div_euclid(SUBPIXEL_STEPS) - stamps.lead];
        if origin[1] > bottom || origin[1] + side - 1 < top || origin[1] >= h {
            continue;
        }
        let [fx, fy] = [sx.rem_euclid(SUBPIXEL_STEPS), sy.rem_euclid(SUBPIXEL_STEPS)];
        discs.push(Disc { origin, stamp: (fy * SUBPIXEL_STEPS + fx) as u32, paint: *paint });
    }
    discs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(positions: Vec<[f32; 2]>) -> PointCloud {
        let colors = vec![egui::Color32::WHITE; positions.len()];
        PointCloud { generation: 1, positions, colors }
    }

    const VIEW: ViewTransform = ViewTransform { scale: [1.0, -1.0], offset: [0.0, 0.0], radius_px: 3.0 };

    /// The coverage `shaders/map_points.wgsl` gives the pixel at `(x, y)`
    /// for a disc centred at `c`.
    fn coverage(x: usize, y: usize, c: [f32; 2]) -> f32 {
        let d = ((x as f32 + 0.5 - c[0]).powi(2) + (y as f32 + 0.5 - c[1]).powi(2)).sqrt();
        (0.5 - (d - 3.0)).clamp(0.0, 1.0)
    }

    #[test]
    fn a_disc_is_antialiased_as_the_quads_are_and_the_later_point_lies_on_top() {
        // A red and then a blue point 4 px apart on a 40 × 20 image (1 px =
        // 0.05 layout units in x, 0.1 in y): centres on the 1/16 px grid are
        // drawn exactly; others are snapped to it (at most 0.045 of coverage,
        // 12 of 255, on the rim).
        let grid = [40, 20];
        for (shift, tolerance) in [([0.0, 0.0], 1.0), ([0.0011, 0.0033], 12.0)] {
            let red_at = [0.0 + shift[0], 0.0 + shift[1]];
            let blue_at = [0.2 + shift[0], 0.0 + shift[1]];
            let mut c = cloud(vec![red_at, blue_at]);
            c.colors = vec![egui::Color32::RED, egui::Color32::BLUE];
            let mut px = Vec::new();
            shade(
                &c.positions,
                &paints(&c, Encoding::Gamma),
                &VIEW,
                grid,
                1,
                Encoding::Gamma,
                &mut None,
                &mut px,
            );
            let blue_c = center_px(blue_at, &VIEW, grid);
            let red_c = center_px(red_at, &VIEW, grid);
            for y in 0..20 {
                for x in 0..40 {
                    let [r, g, b, a] = px[y * 40 + x];
                    let blue = coverage(x, y, blue_c);
                    let red = coverage(x, y, red_c) * (1.0 - blue);
                    // blue over red over transparent black, premultiplied
                    let want = [red * 255.0, 0.0, blue * 255.0, (blue + red) * 255.0];
                    for (got, want) in [r, g, b, a].into_iter().zip(want) {
                        assert!(
                            (f32::from(got) - want).abs() <= tolerance,
                            "({x}, {y}), shift {shift:?}: {:?} vs {want:?}",
                            px[y * 40 + x]
                        );
                    }
                }
            }
            // Both discs are there, the blue one whole, with soft edges.
            let count = |p: fn(&[u8; 4]) -> bool| px.iter().filter(|v| p(v)).count();
            assert!(count(|v| *v == [0, 0, 255, 255]) > 15, "the blue disc's solid interior");
            assert!(count(|v| *v == [255, 0, 0, 255]) > 3, "what the blue disc leaves of the red one");
            assert!(count(|v| v[3] > 0 && v[3] < 255) > 10, "an antialiased rim");
        }
    }

    #[test]
    fn the_image_does_not_depend_on_how_many_threads_draw_it() {
        let positions: Vec<[f32; 2]> = (0..3000)
            .map(|i| [((i * 37) % 211) as f32 / 105.0 - 1.0, ((i * 53) % 197) as f32 / 98.0 - 1.0])
            .collect();
        let mut c = cloud(positions);
        for (i, colour) in c.colors.iter_mut().enumerate() {
            *colour = egui::Color32::from_rgba_unmultiplied((i * 7) as u8, (i * 13) as u8, 90, 200);
        }
        let grid = [123, 77];
        for encoding in [Encoding::Gamma, Encoding::Srgb] {
            let mut one = Vec::new();
            shade(&c.positions, &paints(&c, encoding), &VIEW, grid, 1, encoding, &mut None, &mut one);
            // One image reused from frame to frame, as the renderer does:
            // each frame starts from transparent black whatever it held.
            let mut other = vec![[7u8; 4]; 5];
            for bands in [2, 3, 4, 200] {
                shade(
                    &c.positions,
                    &paints(&c, encoding),
                    &VIEW,
                    grid,
                    bands,
                    encoding,
                    &mut None,
                    &mut other,
                );
                assert!(one == other, "{bands} bands differ from one ({encoding:?})");
            }
            assert!(one.iter().filter(|p| p[3] > 0).count() > 2000);
        }
    }

    #[test]
    fn an_srgb_target_blends_in_linear_light() {
        // Half-transparent white over nothing: linear 0.5 (sRGB byte 188), alpha 128.
        let half = Encoding::Srgb.premultiply([255, 255, 255], 128);
        assert_eq!(half, [188, 188, 188, 128]);
        assert_eq!(Encoding::Gamma.premultiply([255, 255, 255], 128), [128, 128, 128, 128]);
        // Over opaque black: linear 0.5 again, opaque.
        assert_eq!(Encoding::Srgb.over(half, [0, 0, 0, 255]), [188, 188, 188, 255]);
        assert_eq!(Encoding::Gamma.over([128, 128, 128, 128], [0, 0, 0, 255]), [128, 128, 128, 255]);
        // Opaque colours pass through either way.
        assert_eq!(Encoding::Srgb.premultiply([10, 120, 250], 255), [10, 120, 250, 255]);
    }

    #[test]
    fn transparent_far_and_broken_points_draw_nothing() {
        let mut c = cloud(vec![[0.0, 0.0], [50.0, 0.0], [f32::NAN, 0.0], [0.5, 0.5]]);
        c.colors[0] = egui::Color32::TRANSPARENT;
        c.colors[3] = egui::Color32::GREEN;
        let mut px = Vec::new();
        shade(
            &c.positions,
            &paints(&c, Encoding::Gamma),
            &VIEW,
            [64, 64],
            2,
            Encoding::Gamma,
            &mut None,
            &mut px,
        );
        assert!(px.iter().all(|&v| v[0] == 0 && v[2] == 0), "only the last (green) point is drawn");
        assert!(px.contains(&[0, 255, 0, 255]));
        // An empty viewport is an empty image, not a panic.
        shade(
            &c.positions,
            &paints(&c, Encoding::Gamma),
            &VIEW,
            [0, 10],
            2,
            Encoding::Gamma,
            &mut None,
            &mut px,
        );
        assert!(px.is_empty());
    }
}
