//! The map view: the library's 2-d layout as a zoomable, pannable cloud of
//! points, drawn on the GPU (`map_render`), with hover, click, double-click,
//! hover-audition, lasso selection and the regions' labels (`map_labels`).
//!
//! The view knows points, colours and ids; what a click *means* (select,
//! play, audition) goes back to the app as [`MapEvent`]s, so the view stays
//! independent of the player and the library.
//!
//! **Fit:** until the user zooms or pans, the view fits the whole map into
//! whatever space it has, every frame — so opening the track panel or
//! resizing the window never leaves points hidden — keeping the legend's
//! corner clear of points. Once the user has zoomed or panned, the view is
//! theirs; *Fit* (or a double-click on empty space) hands it back. The
//! legend then moves to the corner that covers the fewest points.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use egui::{Color32, Pos2, Rect, Sense, Shape, Stroke, Vec2};

mod geometry;

use super::map_labels::{self, ShownLabel};
use super::map_render::{MapPaint, MapRenderer, PointCloud, PointsCallback, ViewTransform};
use crate::map::RegionLabel;
use geometry::{Corner, PointGrid, bounds_of, fit_view, point_in_polygon};

/// How long the pointer rests on a point before hover-audition starts: long
/// enough that sweeping across the map does not fire a burst of excerpts.
const AUDITION_DELAY: Duration = Duration::from_millis(450);

/// Hover picks the nearest point within this many screen points.
const HOVER_RADIUS_PT: f32 = 8.0;

/// Zoom limits (1 = the layout's [-1, 1]² square fits the view's shorter side).
const ZOOM_RANGE: (f32, f32) = (0.2, 400.0);

/// Space kept between the fitted map's outermost points and the view's
/// edges (a point's disc and its selection rings: up to 15 points).
const FIT_MARGIN_PT: f32 = 18.0;

/// A selected track closer than this to the view's edge counts as out of
/// view (the table's selection then re-centres the map on it).
const FOCUS_MARGIN_PT: f32 = 24.0;

/// What the map shows, measured on the last frame: what the GUI tests check
/// (every point in view after a resize, none under the legend, labels).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MapFigures {
    /// The map's area on screen (`None` before it was drawn).
    pub area: Option<Rect>,
    /// Where the legend was drawn (`None`: no legend).
    pub legend: Option<Rect>,
    /// Points on the map.
    pub points: usize,
    /// Points whose centre lies inside the map's area on screen.
    pub points_in_view: usize,
    /// Points whose centre lies under the legend.
    pub points_under_legend: usize,
    /// True while the view fits itself to its area (the user has not zoomed
    /// or panned since the last fit).
    pub fitted: bool,
    /// The text of every region label computed for the map, largest region first.
    pub labels: Vec<String>,
    /// The labels drawn (the others would overlap one of these, the legend,
    /// or lie outside the view, or labels are hidden).
    pub labels_shown: Vec<String>,
    /// Screen rectangles of the labels drawn.
    pub label_rects: Vec<Rect>,
}

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
    /// The points' bounding box in layout units (what a fit shows).
    bounds: Option<Rect>,
    /// True until the user zooms or pans: the view then fits the map into
    /// its area every frame.
    fitted: bool,
    /// The map's area on screen in the last frame.
    last_rect: Option<Rect>,
    /// The legend as last drawn (`None`: no legend).
    legend: Option<Rect>,
    /// The legend's corner, and the view it was chosen for.
    legend_corner: (Corner, [f32; 8]),
    /// Bumped by every [`MapView::set_points`]: labels are computed for one
    /// set of points.
    points_generation: u64,
    /// The regions' labels for the current points.
    labels: Vec<RegionLabel>,
    /// The labels drawn in the last frame.
    shown_labels: Vec<ShownLabel>,
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
            bounds: None,
            fitted: true,
            last_rect: None,
            legend: None,
            legend_corner: (Corner::TopRight, [f32::NAN; 8]),
            points_generation: 0,
            labels: Vec::new(),
            shown_labels: Vec::new(),
            lasso: Vec::new(),
            hovered: None,
            hover_started: None,
            auditioning: None,
        }
    }

    /// Replaces the points (a new layout). A fitted view fits the new points;
    /// one the user zoomed or panned stays where it was, so new tracks
    /// appearing do not jolt the map. The old labels go (they named other
    /// points); returns the generation new labels must be computed for.
    pub fn set_points(&mut self, points: Vec<(i64, [f32; 2])>, colors: Vec<Color32>) -> u64 {
        self.ids = points.iter().map(|(id, _)| *id).collect();
        self.positions = points.iter().map(|(_, p)| *p).collect();
        self.index_of = self.ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        self.grid = PointGrid::build(&self.positions);
        self.bounds = bounds_of(&self.positions);
        self.hovered = None;
        self.labels.clear();
        self.shown_labels.clear();
        self.points_generation += 1;
        self.set_colors(colors);
        self.points_generation
    }

    /// Installs the regions' labels computed for the points of `generation`
    /// (ignored when the points have changed since).
    pub fn set_labels(&mut self, generation: u64, labels: Vec<RegionLabel>) {
        if generation == self.points_generation {
            self.labels = labels;
        }
    }

    /// Records where the legend was drawn (`None`: there is none), so the
    /// next frames keep points and labels clear of it. Asks for another
    /// frame when its size changed: the fit depends on it.
    pub fn set_legend(&mut self, ctx: &egui::Context, legend: Option<Rect>) {
        if legend.map(|r| r.size()) != self.legend.map(|r| r.size()) {
            ctx.request_repaint();
        }
        self.legend = legend;
    }

    /// Where the legend goes this frame, for a legend of `size` (the top-left
    /// corner of its box).
    pub fn legend_pos(&self, size: Vec2) -> Pos2 {
        let rect = self.last_rect.unwrap_or(Rect::ZERO);
        self.legend_corner.0.place(rect, size).min
    }

    /// The figures of the last frame (see [`MapFigures`]).
    pub fn figures(&self) -> MapFigures {
        let mut figures = MapFigures {
            area: self.last_rect,
            legend: self.legend,
            points: self.positions.len(),
            fitted: self.fitted,
            labels: self.labels.iter().map(RegionLabel::text).collect(),
            labels_shown: self.shown_labels.iter().map(|l| l.text.clone()).collect(),
            label_rects: self.shown_labels.iter().map(|l| l.rect).collect(),
            ..MapFigures::default()
        };
        if let Some(rect) = self.last_rect {
            for p in &self.positions {
                let at = self.to_screen(rect, *p);
                figures.points_in_view += usize::from(rect.contains(at));
                figures.points_under_legend += usize::from(self.legend.is_some_and(|l| l.contains(at)));
            }
        }
        figures
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

    /// Back to the whole map, fitted to the view from now on (until the
    /// user zooms or pans again).
    pub fn reset_view(&mut self) {
        self.fitted = true;
        if let Some(rect) = self.last_rect {
            self.fit(rect);
        }
    }

    /// Brings a track (e.g. one selected in the table) into view: centres
    /// the view on it when it is off screen, and leaves the view alone when
    /// it can already be seen (a fitted map shows every track).
    pub fn focus(&mut self, track_id: i64) {
        let Some(&i) = self.index_of.get(&track_id) else { return };
        let visible = match self.last_rect {
            _ if self.fitted => true,
            Some(rect) => rect.shrink(FOCUS_MARGIN_PT).contains(self.to_screen(rect, self.positions[i])),
            None => false,
        };
        if !visible {
            self.center = self.positions[i];
            self.fitted = false;
        }
    }

    /// Fits the whole map into `rect`, clear of the legend's corner.
    fn fit(&mut self, rect: Rect) {
        let Some(bounds) = self.bounds else { return };
        let (center, scale) = fit_view(bounds, rect, self.legend.map(|l| l.size()), FIT_MARGIN_PT);
        let unit = self.pixels_per_unit_at_zoom(rect, 1.0);
        if unit > 0.0 && scale.is_finite() && scale > 0.0 {
            self.center = center;
            self.zoom = scale / unit;
        }
    }

    /// Places the legend: in the top-right corner while the map is fitted
    /// (the fit keeps it clear), else in the corner covering the fewest
    /// points — chosen again only when the view has changed and no drag is
    /// under way, so it does not hop about while the user pans.
    fn place_legend(&mut self, rect: Rect, dragging: bool) {
        let Some(size) = self.legend.map(|l| l.size()) else { return };
        if self.fitted {
            self.legend_corner = (Corner::TopRight, [f32::NAN; 8]);
            return;
        }
        let key = [
            self.center[0],
            self.center[1],
            self.zoom,
            rect.width(),
            rect.height(),
            rect.left(),
            size.x,
            size.y,
        ];
        if dragging || key == self.legend_corner.1 {
            return;
        }
        let covered = |corner: Corner| {
            let area = corner.place(rect, size);
            self.positions.iter().filter(|p| area.contains(self.to_screen(rect, **p))).count()
        };
        let current = covered(self.legend_corner.0);
        let best = Corner::ALL.into_iter().map(|c| (covered(c), c)).min_by_key(|(n, _)| *n);
        if let Some((n, corner)) = best
            && n < current
        {
            self.legend_corner.0 = corner;
        }
        self.legend_corner.1 = key;
    }

    /// Screen points per layout unit for a view of `rect`.
    fn pixels_per_unit(&self, rect: Rect) -> f32 {
        self.pixels_per_unit_at_zoom(rect, self.zoom)
    }

    fn pixels_per_unit_at_zoom(&self, rect: Rect, zoom: f32) -> f32 {
        0.5 * rect.width().min(rect.height()) * zoom * 0.92
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
    /// `label` gives a point's hover text; `audition` turns hover-audition on;
    /// `show_labels` draws the regions' labels.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        selected: Option<i64>,
        neighbours: &[i64],
        label: &dyn Fn(i64) -> String,
        audition: bool,
        show_labels: bool,
    ) -> Vec<MapEvent> {
        let mut events = Vec::new();
        let (rect, response) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 4.0, ui.visuals().extreme_bg_color);

        self.handle_view_input(ui, rect, &response);
        if self.fitted {
            self.fit(rect);
        }
        self.last_rect = Some(rect);
        self.place_legend(rect, response.dragged());
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

        // Labels, over the points and rings, clear of the legend.
        self.shown_labels = if show_labels {
            let legend = self.legend.map(|l| self.legend_corner.0.place(rect, l.size()));
            let anchors: Vec<Pos2> =
                self.labels.iter().map(|l| self.to_screen(rect, [l.center[0], -l.center[1]])).collect();
            map_labels::draw(ui, &painter, &self.labels, &anchors, rect, legend)
        } else {
            Vec::new()
        };

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
        } else if let Some(pos) = response.hover_pos()
            && let Some(shown) = self.shown_labels.iter().find(|l| l.rect.contains(pos))
            && let Some(region) = self.labels.get(shown.index)
        {
            let text = map_labels::explain(region);
            response.clone().on_hover_ui_at_pointer(|ui| {
                ui.label(text);
            });
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
                if d != Vec2::ZERO {
                    self.fitted = false;
                }
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
                self.fitted = false;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_refits_on_resize_until_the_user_zooms_and_fit_hands_it_back() {
        let mut view = MapView::new(1);
        let points: Vec<(i64, [f32; 2])> =
            (0..50).map(|i| (i, [(i as f32 * 0.37).sin(), (i as f32 * 0.91).cos() * 0.6])).collect();
        view.set_points(points, Vec::new());
        let in_view = |view: &MapView| view.figures().points_in_view;
        for width in [1000.0, 600.0, 400.0] {
            let rect = Rect::from_min_size(Pos2::ZERO, Vec2::new(width, 500.0));
            view.fit(rect);
            view.last_rect = Some(rect);
            assert_eq!(in_view(&view), 50, "width {width}");
        }
        // The user zooms in: a resize keeps their view.
        view.fitted = false;
        view.zoom *= 4.0;
        view.focus(0);
        assert!(in_view(&view) < 50);
        view.reset_view();
        assert!(view.fitted);
        assert_eq!(in_view(&view), 50);
    }
}
