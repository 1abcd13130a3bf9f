//! The map's region labels in the window: computed off the UI thread by the
//! core ([`crate::map::region_labels`], the rule `tuneatlas map` prints
//! too) and drawn over the points on a plate, at a fixed screen size so
//! they read the same at every zoom.
//!
//! Labels are placed greedily, largest region first: one that would
//! overlap a label already placed, the legend, or the map's edge is left
//! out for this frame (zooming in spreads the regions and brings it back).

use std::sync::Arc;

use crossbeam_channel::Receiver;
use egui::{Align2, Color32, FontId, Pos2, Rect, Stroke, Vec2};

use super::job::{self, Polled};
use crate::browse::LibrarySnapshot;
use crate::map::{LabelSource, RegionLabel, region_labels};

/// The labels' text size in screen points, whatever the zoom.
const LABEL_FONT_PT: f32 = 13.0;

/// Space between a label's text and its plate's edge.
const PLATE_PADDING: Vec2 = Vec2::new(6.0, 3.0);

/// How opaque a plate is: enough to read the text over dense points, not
/// so much that the points under it vanish.
const PLATE_ALPHA: u8 = 215;

/// A label drawn this frame.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownLabel {
    /// Its index in the view's labels.
    pub index: usize,
    /// Its text.
    pub text: String,
    /// Its plate on screen.
    pub rect: Rect,
}

/// Which of the `plates` (screen rectangles, in priority order) are drawn:
/// each one that lies inside `bounds`, clear of `avoid` and of every plate
/// drawn before it.
fn place(plates: &[Rect], bounds: Rect, avoid: Option<Rect>) -> Vec<bool> {
    let mut placed: Vec<Rect> = Vec::with_capacity(plates.len());
    plates
        .iter()
        .map(|plate| {
            let fits = bounds.contains_rect(*plate)
                && avoid.is_none_or(|a| !a.intersects(*plate))
                && placed.iter().all(|p| !p.intersects(*plate));
            if fits {
                placed.push(*plate);
            }
            fits
        })
        .collect()
}

/// Draws the labels whose plates fit (see [`place`]), each centred on its
/// `anchors` entry (the region's centre on screen); returns those drawn.
pub(super) fn draw(
    ui: &egui::Ui,
    painter: &egui::Painter,
    labels: &[RegionLabel],
    anchors: &[Pos2],
    bounds: Rect,
    avoid: Option<Rect>,
) -> Vec<ShownLabel> {
    let visuals = ui.visuals();
    let text_color = visuals.strong_text_color();
    let fill = {
        let [r, g, b, _] = visuals.window_fill.to_array();
        Color32::from_rgba_unmultiplied(r, g, b, PLATE_ALPHA)
    };
    let stroke = Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color);
    let font = FontId::proportional(LABEL_FONT_PT);
    let texts: Vec<String> = labels.iter().map(RegionLabel::text).collect();
    let galleys: Vec<_> =
        texts.iter().map(|t| painter.layout_no_wrap(t.clone(), font.clone(), text_color)).collect();
    let plates: Vec<Rect> = galleys
        .iter()
        .zip(anchors)
        .map(|(g, at)| Rect::from_center_size(*at, g.size() + 2.0 * PLATE_PADDING))
        .collect();
    let mut shown = Vec::new();
    for (index, ((galley, plate), fits)) in
        galleys.into_iter().zip(&plates).zip(place(&plates, bounds, avoid)).enumerate()
    {
        if !fits {
            continue;
        }
        painter.rect(*plate, 4.0, fill, stroke, egui::StrokeKind::Inside);
        let text_at = Align2::CENTER_CENTER.anchor_size(plate.center(), galley.size()).min;
        painter.galley(text_at, galley, text_color);
        shown.push(ShownLabel { index, text: texts[index].clone(), rect: *plate });
    }
    shown
}

/// A label's hover text: the region's size and why each tag names it.
pub(super) fn explain(region: &RegionLabel) -> String {
    let mut lines = vec![format!("A region of {} tracks that stands out on:", region.track_ids.len())];
    for t in &region.tags {
        lines.push(match &t.source {
            LabelSource::Predicted { category } => format!(
                "{} ({category}): mean score {:.2} here, {:.2} across the map ({:.1}×)",
                t.tag,
                t.region_mean,
                t.library_mean,
                t.lift()
            ),
            LabelSource::User { set } => format!(
                "{} (your {set}): {:.0} % of these tracks, {:.0} % across the map",
                t.tag,
                t.region_mean * 100.0,
                t.library_mean * 100.0
            ),
        });
    }
    lines.join("\n")
}

/// The labels being computed for one set of map points, on `ta-gui-labels`.
pub(super) struct LabelsJob {
    rx: Receiver<Vec<RegionLabel>>,
    /// The map points' generation they are for ([`super::map_ui::MapView::set_points`]).
    pub(super) generation: u64,
}

impl LabelsJob {
    /// Starts naming the regions of `points` (map coordinates as the layout
    /// stores them) with the tags of `snapshot`.
    pub(super) fn spawn(
        ctx: &egui::Context,
        snapshot: Arc<LibrarySnapshot>,
        points: Vec<(i64, [f32; 2])>,
        generation: u64,
    ) -> Result<LabelsJob, String> {
        let rx = job::spawn("ta-gui-labels", ctx, move |reply| {
            reply.send(region_labels(&points, &snapshot.tags, &snapshot.user_tags));
        })
        .map_err(|e| format!("cannot start the labels thread: {e}"))?;
        Ok(LabelsJob { rx, generation })
    }

    /// The labels once computed (`Some(Err)` when the thread died).
    pub(super) fn poll(&self) -> Option<Result<Vec<RegionLabel>, String>> {
        match job::poll(&self.rx) {
            Polled::Message(labels) => Some(Ok(labels)),
            Polled::Nothing => None,
            Polled::Gone => Some(Err("the labels thread stopped unexpectedly".to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plate(x: f32, y: f32) -> Rect {
        Rect::from_center_size(Pos2::new(x, y), Vec2::new(80.0, 20.0))
    }

    #[test]
    fn labels_that_would_overlap_an_earlier_one_the_legend_or_the_edge_are_left_out() {
        let bounds = Rect::from_min_size(Pos2::ZERO, Vec2::new(400.0, 300.0));
        let legend = Rect::from_min_size(Pos2::new(300.0, 0.0), Vec2::new(100.0, 100.0));
        let plates = [
            plate(100.0, 100.0), // placed
            plate(150.0, 110.0), // overlaps the first
            plate(100.0, 125.0), // just clear of the first (20 high, 25 apart)
            plate(320.0, 50.0),  // under the legend
            plate(20.0, 200.0),  // over the left edge
            plate(300.0, 250.0), // placed
        ];
        assert_eq!(place(&plates, bounds, Some(legend)), [true, false, true, false, false, true]);
        // Without the legend the fourth fits.
        assert!(place(&plates, bounds, None)[3]);
    }
}
