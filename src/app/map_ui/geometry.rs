//! The map view's plane geometry, apart from its state: fitting the layout
//! into the view clear of the legend, the legend's corners, the hover grid
//! and the lasso test. Pure functions of rectangles and points, so they are
//! unit-tested without a window.

use egui::{Pos2, Rect, Vec2};

/// The legend's distance from the map's edges.
pub(super) const LEGEND_INSET_PT: f32 = 8.0;

/// A map this small (layout units) is fitted as if it were this large, so
/// one point or a few on one spot are not magnified without bound.
pub(super) const MIN_FIT_EXTENT: f32 = 0.2;

/// A corner of the map, where the legend sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    /// Top right: the legend's place while the map is fitted.
    TopRight,
    /// Top left.
    TopLeft,
    /// Bottom right.
    BottomRight,
    /// Bottom left.
    BottomLeft,
}

impl Corner {
    /// In order of preference when several cover equally few points.
    pub(super) const ALL: [Corner; 4] =
        [Corner::TopRight, Corner::TopLeft, Corner::BottomRight, Corner::BottomLeft];

    /// A box of `size` in this corner of `rect`, inset from its edges.
    pub(super) fn place(self, rect: Rect, size: Vec2) -> Rect {
        let inner = rect.shrink(LEGEND_INSET_PT);
        let min = match self {
            Corner::TopRight => egui::pos2(inner.right() - size.x, inner.top()),
            Corner::TopLeft => inner.left_top(),
            Corner::BottomRight => inner.right_bottom() - size,
            Corner::BottomLeft => egui::pos2(inner.left(), inner.bottom() - size.y),
        };
        Rect::from_min_size(min, size)
    }
}

/// A uniform grid over the layout for hover lookups: finding the point under
/// the cursor among 100k must not scan them all every frame.
#[derive(Debug, Default)]
pub(super) struct PointGrid {
    min: [f32; 2],
    cell: f32,
    cols: usize,
    rows: usize,
    cells: Vec<Vec<u32>>,
}

impl PointGrid {
    pub(super) fn build(positions: &[[f32; 2]]) -> PointGrid {
        if positions.is_empty() {
            return PointGrid::default();
        }
        let (mut min, mut max) = ([f32::MAX; 2], [f32::MIN; 2]);
        for p in positions {
            for k in 0..2 {
                min[k] = min[k].min(p[k]);
                max[k] = max[k].max(p[k]);
            }
        }
        // About 4 points per cell on average.
        let side = ((positions.len() as f32 / 4.0).sqrt().ceil() as usize).clamp(1, 512);
        let extent = (max[0] - min[0]).max(max[1] - min[1]).max(1e-6);
        let cell = extent / side as f32;
        let cols = ((max[0] - min[0]) / cell).floor() as usize + 1;
        let rows = ((max[1] - min[1]) / cell).floor() as usize + 1;
        let mut cells = vec![Vec::new(); cols * rows];
        for (i, p) in positions.iter().enumerate() {
            let c = (((p[0] - min[0]) / cell) as usize).min(cols - 1);
            let r = (((p[1] - min[1]) / cell) as usize).min(rows - 1);
            cells[r * cols + c].push(i as u32);
        }
        PointGrid { min, cell, cols, rows, cells }
    }

    /// The index of the point nearest `at` within `radius` (layout units).
    pub(super) fn nearest(&self, positions: &[[f32; 2]], at: [f32; 2], radius: f32) -> Option<usize> {
        if self.cells.is_empty() {
            return None;
        }
        let span = (radius / self.cell).ceil() as i64;
        let c0 = ((at[0] - self.min[0]) / self.cell).floor() as i64;
        let r0 = ((at[1] - self.min[1]) / self.cell).floor() as i64;
        let mut best: Option<(usize, f32)> = None;
        for r in (r0 - span).max(0)..=(r0 + span).min(self.rows as i64 - 1) {
            for c in (c0 - span).max(0)..=(c0 + span).min(self.cols as i64 - 1) {
                for &i in &self.cells[r as usize * self.cols + c as usize] {
                    let p = positions[i as usize];
                    let d2 = (p[0] - at[0]).powi(2) + (p[1] - at[1]).powi(2);
                    if d2 <= radius * radius && best.is_none_or(|(_, b)| d2 < b) {
                        best = Some((i as usize, d2));
                    }
                }
            }
        }
        best.map(|(i, _)| i)
    }
}

/// The bounding box of layout positions (`None` without any).
pub(super) fn bounds_of(positions: &[[f32; 2]]) -> Option<Rect> {
    let first = positions.first()?;
    let mut bounds = Rect::from_min_max(Pos2::new(first[0], first[1]), Pos2::new(first[0], first[1]));
    for p in positions {
        bounds.extend_with(Pos2::new(p[0], p[1]));
    }
    Some(bounds)
}

/// The view that shows all of `bounds` (layout units) inside `rect`,
/// `margin` from its edges, with a legend of `legend` size in the top-right
/// corner covering none of it: the map is fitted beside the legend or below
/// it, whichever leaves it larger. Returns the layout point at the centre
/// of `rect` and the screen points per layout unit.
pub(super) fn fit_view(bounds: Rect, rect: Rect, legend: Option<Vec2>, margin: f32) -> ([f32; 2], f32) {
    let mut areas = Vec::with_capacity(2);
    match legend {
        Some(size) => {
            let reserve = size + Vec2::splat(LEGEND_INSET_PT);
            let mut beside = rect;
            beside.max.x -= reserve.x;
            let mut below = rect;
            below.min.y += reserve.y;
            areas.extend([beside, below]);
        }
        None => areas.push(rect),
    }
    let extent = Vec2::new(bounds.width().max(MIN_FIT_EXTENT), bounds.height().max(MIN_FIT_EXTENT));
    let fits = areas.into_iter().map(|a| a.shrink(margin)).filter(|a| a.width() > 0.0 && a.height() > 0.0);
    let best = fits
        .map(|a| (a, (a.width() / extent.x).min(a.height() / extent.y)))
        .max_by(|x, y| x.1.total_cmp(&y.1));
    // A view too small for any margin: fit the whole rect.
    let (area, scale) = best.unwrap_or((rect, (rect.width() / extent.x).min(rect.height() / extent.y)));
    let offset = (area.center() - rect.center()) / scale;
    let c = bounds.center();
    ([c.x - offset.x, c.y - offset.y], scale)
}

/// Even-odd rule: whether `p` lies inside the closed polygon.
pub(super) fn point_in_polygon(p: [f32; 2], polygon: &[[f32; 2]]) -> bool {
    let mut inside = false;
    let mut j = polygon.len() - 1;
    for i in 0..polygon.len() {
        let (a, b) = (polygon[i], polygon[j]);
        if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0] {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_finds_the_nearest_point_and_nothing_out_of_reach() {
        let positions: Vec<[f32; 2]> = (0..1000)
            .map(|i| [((i * 37) % 101) as f32 / 50.0 - 1.0, ((i * 53) % 97) as f32 / 48.0 - 1.0])
            .collect();
        let grid = PointGrid::build(&positions);
        for at in [[0.1f32, 0.2f32], [-0.9, 0.95], [0.5, -0.5]] {
            let brute = positions
                .iter()
                .enumerate()
                .min_by(|a, b| {
                    let da = (a.1[0] - at[0]).powi(2) + (a.1[1] - at[1]).powi(2);
                    let db = (b.1[0] - at[0]).powi(2) + (b.1[1] - at[1]).powi(2);
                    da.total_cmp(&db)
                })
                .map(|(i, _)| i);
            assert_eq!(grid.nearest(&positions, at, 0.2), brute);
        }
        assert_eq!(grid.nearest(&positions, [5.0, 5.0], 0.1), None);
    }

    /// Where a fitted layout point lands on screen.
    fn on_screen(rect: Rect, (center, scale): ([f32; 2], f32), p: Pos2) -> Pos2 {
        rect.center() + Vec2::new((p.x - center[0]) * scale, (p.y - center[1]) * scale)
    }

    #[test]
    fn a_fit_shows_every_point_clear_of_the_legend_and_uses_the_better_side() {
        let bounds = Rect::from_min_max(Pos2::new(-1.0, -0.8), Pos2::new(1.0, 0.8));
        let legend = Vec2::new(180.0, 200.0);
        // A wide view: the map goes beside the legend. A narrow one: below it.
        for (size, beside) in [(Vec2::new(1200.0, 600.0), true), (Vec2::new(500.0, 900.0), false)] {
            let rect = Rect::from_min_size(Pos2::new(30.0, 50.0), size);
            let view = fit_view(bounds, rect, Some(legend), 10.0);
            let legend_rect = Corner::TopRight.place(rect, legend);
            let corners =
                [bounds.left_top(), bounds.right_top(), bounds.left_bottom(), bounds.right_bottom()];
            for corner in corners {
                let at = on_screen(rect, view, corner);
                assert!(rect.shrink(9.9).contains(at), "{corner:?} → {at:?} outside {rect:?}");
            }
            let map_on_screen = Rect::from_two_pos(
                on_screen(rect, view, bounds.left_top()),
                on_screen(rect, view, bounds.right_bottom()),
            );
            assert!(
                !map_on_screen.intersects(legend_rect),
                "{map_on_screen:?} under the legend {legend_rect:?}"
            );
            let right_of_map = rect.right() - map_on_screen.right();
            assert_eq!(right_of_map >= legend.x, beside, "{size:?}: {map_on_screen:?}");
            // The map fills the space it was given along one axis.
            let limited = (map_on_screen.width()
                - (size.x - 20.0 - if beside { legend.x + 8.0 } else { 0.0 }))
            .abs()
            .min(
                (map_on_screen.height() - (size.y - 20.0 - if beside { 0.0 } else { legend.y + 8.0 })).abs(),
            );
            assert!(limited < 0.5, "{size:?}: {map_on_screen:?}");
        }
        // Without a legend the map is centred.
        let rect = Rect::from_min_size(Pos2::ZERO, Vec2::new(800.0, 600.0));
        let view = fit_view(bounds, rect, None, 10.0);
        let centre = on_screen(rect, view, bounds.center());
        assert!((centre - rect.center()).length() < 1e-3);
        // One point is not magnified without bound.
        let dot = Rect::from_min_max(Pos2::new(0.3, 0.3), Pos2::new(0.3, 0.3));
        let (_, scale) = fit_view(dot, rect, None, 10.0);
        assert!((scale - 580.0 / MIN_FIT_EXTENT).abs() < 1e-3, "{scale}");
    }

    #[test]
    fn lasso_polygons_contain_what_they_enclose() {
        let square = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        assert!(point_in_polygon([0.5, 0.5], &square));
        assert!(!point_in_polygon([1.5, 0.5], &square));
        let l_shape = [[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [1.0, 1.0], [1.0, 2.0], [0.0, 2.0]];
        assert!(point_in_polygon([0.5, 1.5], &l_shape));
        assert!(!point_in_polygon([1.5, 1.5], &l_shape));
    }
}
