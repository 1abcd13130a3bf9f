//! The map view: the library's 2-d layout as a zoomable, pannable cloud of
//! points, drawn on the GPU (`map_render`), with hover, click, double-click,
//! hover-audition and lasso selection.
//!
//! The view knows points, colours and ids; what a click *means* (select,
//! play, audition) goes back to the app as [`MapEvent`]s, so the view stays
//! independent of the player and the library.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use egui::{Color32, Pos2, Rect, Sense, Shape, Stroke, Vec2};

use super::map_render::{MapPaint, MapRenderer, PointCloud, PointsCallback, ViewTransform};

/// How long the pointer rests on a point before hover-audition starts: long
/// enough that sweeping across the map does not fire a burst of excerpts.
const AUDITION_DELAY: Duration = Duration::from_millis(450);

/// Hover picks the nearest point within this many screen points.
const HOVER_RADIUS_PT: f32 = 8.0;

/// Zoom limits (1 = the whole layout fits the view).
const ZOOM_RANGE: (f32, f32) = (0.5, 400.0);

/// What the user did on the map this frame.
#[derive(Debug, Clone, PartialEq)]
pub enum MapEvent {
    /// A click on a point.
    Select(i64),
    /// A double-click on a point.
    Play(i64),
    /// The pointer has rested on a point (hover-audition is on).
    Audition(i64),
    /// The pointer left the auditioned point.
    StopAudition,
    /// A lasso (shift + drag) closed around these tracks.
    Lasso(Vec<i64>),
    /// A click on empty space.
    ClearSelection,
}

/// A uniform grid over the layout for hover lookups: finding the point under
/// the cursor among 100k must not scan them all every frame.
#[derive(Debug, Default)]
struct PointGrid {
    min: [f32; 2],
    cell: f32,
    cols: usize,
    rows: usize,
    cells: Vec<Vec<u32>>,
}

impl PointGrid {
    fn build(positions: &[[f32; 2]]) -> PointGrid {
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
    fn nearest(&self, positions: &[[f32; 2]], at: [f32; 2], radius: f32) -> Option<usize> {
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

/// The map widget's state.
pub struct MapView {
    map_id: u64,
    ids: Vec<i64>,
    positions: Vec<[f32; 2]>,
    index_of: HashMap<i64, usize>,
    cloud: Arc<PointCloud>,
    grid: PointGrid,
    /// Layout point at the centre of the view.
    center: [f32; 2],
    /// 1 = the layout's [-1, 1]² square fits the shorter side of the view.
    zoom: f32,
    lasso: Vec<Pos2>,
    hovered: Option<usize>,
    hover_started: Option<f64>,
    auditioning: Option<usize>,
}

impl MapView {
    /// An empty map; `map_id` tells its GPU buffers apart from another map's.
    pub fn new(map_id: u64) -> MapView {
        MapView {
            map_id,
            ids: Vec::new(),
            positions: Vec::new(),
            index_of: HashMap::new(),
            cloud: Arc::new(PointCloud::default()),
            grid: PointGrid::default(),
            center: [0.0, 0.0],
            zoom: 1.0,
            lasso: Vec::new(),
            hovered: None,
            hover_started: None,
            auditioning: None,
        }
    }

    /// Replaces the points (a new layout). Keeps the view where it was when
    /// the layout only grew, so new tracks appearing do not jolt the map.
    pub fn set_points(&mut self, points: Vec<(i64, [f32; 2])>, colors: Vec<Color32>) {
        self.ids = points.iter().map(|(id, _)| *id).collect();
        self.positions = points.iter().map(|(_, p)| *p).collect();
        self.index_of = self.ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        self.grid = PointGrid::build(&self.positions);
        self.hovered = None;
        self.set_colors(colors);
    }

    /// Recolours the points (a new colouring); `colors` is in point order.
    pub fn set_colors(&mut self, colors: Vec<Color32>) {
        let generation = self.cloud.generation.wrapping_add(1);
        self.cloud = Arc::new(PointCloud { generation, positions: self.positions.clone(), colors });
    }

    /// The track ids in point order (what colours are computed for).
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Back to the whole map.
    pub fn reset_view(&mut self) {
        self.center = [0.0, 0.0];
        self.zoom = 1.0;
    }

    /// Centres the view on a track (e.g. one selected in the table).
    pub fn focus(&mut self, track_id: i64) {
        if let Some(&i) = self.index_of.get(&track_id) {
            self.center = self.positions[i];
        }
    }

    /// Screen points per layout unit for a view of `rect`.
    fn pixels_per_unit(&self, rect: Rect) -> f32 {
        0.5 * rect.width().min(rect.height()) * self.zoom * 0.92
    }

    fn to_screen(&self, rect: Rect, p: [f32; 2]) -> Pos2 {
        let s = self.pixels_per_unit(rect);
        rect.center() + Vec2::new((p[0] - self.center[0]) * s, (p[1] - self.center[1]) * s)
    }

    fn to_layout(&self, rect: Rect, pos: Pos2) -> [f32; 2] {
        let s = self.pixels_per_unit(rect);
        let d = pos - rect.center();
        [self.center[0] + d.x / s, self.center[1] + d.y / s]
    }

    /// Draws the map into the available space and returns what the user did.
    /// `selected` and `neighbours` are ringed (the neighbours are the true
    /// nearest in the 256-d space, so a misleading projection shows itself);
    /// `label` gives a point's hover text; `audition` turns hover-audition on.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        selected: Option<i64>,
        neighbours: &[i64],
        label: &dyn Fn(i64) -> String,
        audition: bool,
    ) -> Vec<MapEvent> {
        let mut events = Vec::new();
        let (rect, response) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 4.0, ui.visuals().extreme_bg_color);

        self.handle_view_input(ui, rect, &response);
        let radius_pt = (3.0 + self.zoom.log2().max(0.0) * 0.8).min(8.0);
        let ppp = ui.ctx().pixels_per_point();

        let has_gpu = gpu_available(ui);
        if has_gpu {
            let s = self.pixels_per_unit(rect);
            // layout → clip space of the rect (y flipped)
            let sx = 2.0 * s / rect.width();
            let sy = -2.0 * s / rect.height();
            let view = ViewTransform {
                scale: [sx, sy],
                offset: [-self.center[0] * sx, -self.center[1] * sy],
                radius_px: radius_pt * ppp,
            };
            let points = PointsCallback { map_id: self.map_id, cloud: self.cloud.clone(), view };
            painter.add(eframe::egui_wgpu::Callback::new_paint_callback(rect, MapPaint { points, rect }));
        } else {
            // No wgpu renderer (should not happen in the app): egui circles,
            // fine for small libraries.
            for (p, c) in self.cloud.positions.iter().zip(&self.cloud.colors) {
                let at = self.to_screen(rect, *p);
                if rect.contains(at) {
                    painter.circle_filled(at, radius_pt, *c);
                }
            }
        }

        // Rings: neighbours, then the selection on top.
        let ring = ui.visuals().strong_text_color();
        for id in neighbours {
            if let Some(&i) = self.index_of.get(id) {
                painter.circle_stroke(
                    self.to_screen(rect, self.positions[i]),
                    radius_pt + 3.0,
                    Stroke::new(1.5, ring),
                );
            }
        }
        if let Some(&i) = selected.and_then(|id| self.index_of.get(&id)) {
            let at = self.to_screen(rect, self.positions[i]);
            painter.circle_stroke(at, radius_pt + 5.0, Stroke::new(2.5, ui.visuals().selection.bg_fill));
            painter.circle_stroke(at, radius_pt + 7.0, Stroke::new(1.0, ring));
        }

        // Hover.
        let hovered = response.hover_pos().and_then(|pos| {
            let radius = HOVER_RADIUS_PT / self.pixels_per_unit(rect);
            self.grid.nearest(&self.positions, self.to_layout(rect, pos), radius)
        });
        let now = ui.input(|i| i.time);
        if hovered != self.hovered {
            self.hovered = hovered;
            self.hover_started = hovered.map(|_| now);
            if self.auditioning.take().is_some() {
                events.push(MapEvent::StopAudition);
            }
        }
        if let Some(i) = hovered {
            let at = self.to_screen(rect, self.positions[i]);
            painter.circle_stroke(at, radius_pt + 2.0, Stroke::new(2.0, ring));
            let text = label(self.ids[i]);
            response.clone().on_hover_ui_at_pointer(|ui| {
                ui.label(text);
            });
            if audition && self.auditioning.is_none() {
                let rested = self.hover_started.map_or(0.0, |t| now - t);
                if rested >= AUDITION_DELAY.as_secs_f64() {
                    self.auditioning = Some(i);
                    events.push(MapEvent::Audition(self.ids[i]));
                } else {
                    ui.ctx().request_repaint_after(AUDITION_DELAY);
                }
            }
        }

        // Clicks.
        if response.double_clicked() {
            if let Some(i) = hovered {
                events.push(MapEvent::Play(self.ids[i]));
            } else {
                self.reset_view();
            }
        } else if response.clicked() {
            match hovered {
                Some(i) => events.push(MapEvent::Select(self.ids[i])),
                None => events.push(MapEvent::ClearSelection),
            }
        }

        // Lasso.
        if self.lasso.len() > 1 {
            let mut outline = self.lasso.clone();
            outline.push(self.lasso[0]);
            painter.add(Shape::line(outline, Stroke::new(1.5, ui.visuals().selection.stroke.color)));
        }
        if response.drag_stopped() && self.lasso.len() > 2 {
            let polygon: Vec<[f32; 2]> = self.lasso.iter().map(|p| self.to_layout(rect, *p)).collect();
            let inside: Vec<i64> = self
                .positions
                .iter()
                .enumerate()
                .filter(|(_, p)| point_in_polygon(**p, &polygon))
                .map(|(i, _)| self.ids[i])
                .collect();
            self.lasso.clear();
            events.push(MapEvent::Lasso(inside));
        }
        events
    }

    /// Scroll to zoom around the pointer, drag to pan, shift + drag to lasso.
    fn handle_view_input(&mut self, ui: &egui::Ui, rect: Rect, response: &egui::Response) {
        let shift = ui.input(|i| i.modifiers.shift);
        if response.drag_started() {
            self.lasso.clear();
        }
        if response.dragged() {
            if shift || !self.lasso.is_empty() {
                if let Some(pos) = response.interact_pointer_pos()
                    && self.lasso.last().is_none_or(|last| last.distance(pos) > 2.0)
                {
                    self.lasso.push(pos);
                }
            } else {
                let s = self.pixels_per_unit(rect);
                let d = response.drag_delta();
                self.center[0] -= d.x / s;
                self.center[1] -= d.y / s;
            }
        }
        if response.hovered() {
            let (scroll, zoom_delta, pointer) =
                ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta(), i.pointer.hover_pos()));
            let factor = zoom_delta * (scroll / 200.0).exp();
            if (factor - 1.0).abs() > 1e-4 {
                let anchor = pointer.map(|p| self.to_layout(rect, p)).unwrap_or(self.center);
                let new_zoom = (self.zoom * factor).clamp(ZOOM_RANGE.0, ZOOM_RANGE.1);
                let k = self.zoom / new_zoom;
                // keep the layout point under the pointer where it is
                self.center[0] = anchor[0] + (self.center[0] - anchor[0]) * k;
                self.center[1] = anchor[1] + (self.center[1] - anchor[1]) * k;
                self.zoom = new_zoom;
            }
        }
    }
}

/// Whether the window renders with wgpu and the point renderer is installed.
fn gpu_available(ui: &egui::Ui) -> bool {
    ui.ctx().data(|d| d.get_temp::<bool>(egui::Id::unique(GPU_FLAG_ID))).unwrap_or(false)
}

/// Key of the "point renderer installed" flag in egui's memory.
const GPU_FLAG_ID: &str = "tuneatlas-map-gpu";

/// Installs the GPU point renderer if the window has wgpu, and remembers
/// whether it did (so the map knows whether to fall back to egui shapes).
pub fn install_renderer(ctx: &egui::Context, render_state: Option<&eframe::egui_wgpu::RenderState>) {
    if let Some(rs) = render_state {
        MapRenderer::install(rs);
    }
    ctx.data_mut(|d| d.insert_temp(egui::Id::unique(GPU_FLAG_ID), render_state.is_some()));
}

/// Even-odd rule: whether `p` lies inside the closed polygon.
fn point_in_polygon(p: [f32; 2], polygon: &[[f32; 2]]) -> bool {
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
