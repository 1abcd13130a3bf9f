//! What the fine-tuning window draws with egui's painter: the P@k table, the
//! cosine histogram, the live loss / P@10 plot and a map's scatter.

use super::*;

/// The held-out P@k table (the paper's Table II for this library).
pub(super) fn precision_table(ui: &mut egui::Ui, table: &PrecisionTable) {
    if table.rows.is_empty() {
        ui.weak("Too few tagged tracks for a held-out evaluation (P@k needs at least 8).");
        return;
    }
    ui.label(format!(
        "Precision of similar-track search on {} held-out tracks (share of the k nearest that share a tag):",
        table.held_out_tracks
    ));
    let fmt = |v: &Option<f64>| v.map_or_else(|| "—".to_owned(), |p| format!("{p:.3}"));
    egui::Grid::new("finetune_precision").striped(true).spacing([14.0, 2.0]).show(ui, |ui| {
        ui.strong("Task");
        ui.strong("Queries");
        for k in &table.ks {
            ui.strong(format!("P@{k} before"));
            ui.strong(format!("P@{k} after"));
            ui.strong("Change");
        }
        ui.end_row();
        for r in &table.rows {
            ui.label(&r.task);
            ui.label(r.queries.to_string());
            for (b, a) in r.before.iter().zip(&r.after) {
                ui.label(fmt(b));
                ui.label(fmt(a));
                match (b, a) {
                    (Some(b), Some(a)) => {
                        let d = a - b;
                        let color = if d > 0.0005 {
                            POSITIVE_COLOR
                        } else if d < -0.0005 {
                            NEGATIVE_COLOR
                        } else {
                            ui.visuals().text_color()
                        };
                        ui.colored_label(color, format!("{d:+.3}"));
                    }
                    _ => {
                        ui.label("—");
                    }
                }
            }
            ui.end_row();
        }
    });
    ui.weak(format!("before = {}, after = {}", table.before_version, table.after_version));
}

/// Allocates a plot `height_pt` tall (the available width, at least
/// `min_width_pt`, at most 600) on the panel's dark background. Returns its
/// painter, the whole area's response (its rect for labels, hover text) and the plot inside it, inset by
/// `inset_min` at the top left and `inset_max` at the bottom right (for axes).
pub(super) fn plot_area(
    ui: &mut egui::Ui,
    min_width_pt: f32,
    height_pt: f32,
    inset_min: Vec2,
    inset_max: Vec2,
) -> (egui::Painter, egui::Response, Rect) {
    let width = ui.available_width().clamp(min_width_pt, 600.0);
    let (response, painter) = ui.allocate_painter(Vec2::new(width, height_pt), Sense::hover());
    let rect = response.rect;
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    (painter, response, Rect::from_min_max(rect.min + inset_min, rect.max - inset_max))
}

/// The pairwise cosine histogram with the two thresholds marked.
pub(super) fn draw_histogram(ui: &mut egui::Ui, h: &CosineHistogram, upper: f32, lower: f32) {
    let (painter, response, plot) =
        plot_area(ui, 200.0, HISTOGRAM_HEIGHT_PT, Vec2::new(6.0, 16.0), Vec2::new(6.0, 16.0));
    let rect = response.rect;
    let visuals = ui.visuals();
    let x_of = |c: f32| {
        plot.left()
            + (c - CosineHistogram::MIN_COS) / (CosineHistogram::MAX_COS - CosineHistogram::MIN_COS)
                * plot.width()
    };
    let max = h.counts.iter().copied().max().unwrap_or(0).max(1) as f32;
    for (i, &n) in h.counts.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let (a, b) = h.bin_range(i);
        let top = plot.bottom() - n as f32 / max * plot.height();
        let mid = 0.5 * (a + b);
        let color = if mid >= upper {
            POSITIVE_COLOR
        } else if mid < lower {
            NEGATIVE_COLOR
        } else {
            visuals.weak_text_color()
        };
        painter.rect_filled(
            Rect::from_min_max(Pos2::new(x_of(a) + 0.5, top), Pos2::new(x_of(b) - 0.5, plot.bottom())),
            0.0,
            color,
        );
    }
    let text = visuals.text_color();
    let font = FontId::proportional(11.0);
    painter
        .line_segment([plot.left_bottom(), plot.right_bottom()], Stroke::new(1.0, visuals.weak_text_color()));
    for c in [-1.0f32, 0.0, 1.0] {
        painter.text(
            Pos2::new(x_of(c), plot.bottom() + 2.0),
            Align2::CENTER_TOP,
            format!("{c}"),
            font.clone(),
            text,
        );
    }
    for (c, label, color) in [(lower, "negative <", NEGATIVE_COLOR), (upper, "positive ≥", POSITIVE_COLOR)]
    {
        let x = x_of(c);
        painter
            .line_segment([Pos2::new(x, plot.top()), Pos2::new(x, plot.bottom())], Stroke::new(1.5, color));
        painter.text(
            Pos2::new(x, rect.top() + 2.0),
            Align2::CENTER_TOP,
            format!("{label} {c:.2}"),
            font.clone(),
            color,
        );
    }
    response.on_hover_text(format!("{} pairs; the tallest bin holds {max:.0}", h.total()));
}

/// The live plot: training loss per step (left scale) and validation P@10
/// (right scale, 0–1; the starting model's as a dashed line).
pub(super) fn draw_training_plot(
    ui: &mut egui::Ui,
    loss: &[[f64; 2]],
    valid: &[[f64; 2]],
    baseline: Option<f64>,
    total_steps: usize,
) {
    let (painter, response, plot) =
        plot_area(ui, 240.0, PLOT_HEIGHT_PT, Vec2::new(44.0, 18.0), Vec2::new(40.0, 18.0));
    let rect = response.rect;
    let visuals = ui.visuals();
    let last_step = loss.last().map_or(0.0, |l| l[0]).max(valid.last().map_or(0.0, |v| v[0]));
    let x_max = (total_steps as f64).max(last_step).max(1.0);
    let loss_max = loss.iter().map(|l| l[1]).fold(0.0f64, f64::max).max(1e-6) * 1.1;
    let x_of = |s: f64| plot.left() + (s / x_max) as f32 * plot.width();
    let y_loss = |v: f64| plot.bottom() - (v / loss_max) as f32 * plot.height();
    let y_p = |p: f64| plot.bottom() - p.clamp(0.0, 1.0) as f32 * plot.height();
    let axis = Stroke::new(1.0, visuals.weak_text_color());
    painter.line_segment([plot.left_bottom(), plot.right_bottom()], axis);
    painter.line_segment([plot.left_bottom(), plot.left_top()], axis);
    painter.line_segment([plot.right_bottom(), plot.right_top()], axis);
    let font = FontId::proportional(11.0);
    painter.text(
        plot.left_top() - Vec2::new(4.0, 0.0),
        Align2::RIGHT_TOP,
        format!("{loss_max:.2}"),
        font.clone(),
        LOSS_COLOR,
    );
    painter.text(
        plot.left_bottom() - Vec2::new(4.0, 0.0),
        Align2::RIGHT_BOTTOM,
        "0",
        font.clone(),
        LOSS_COLOR,
    );
    painter.text(plot.right_top() + Vec2::new(4.0, 0.0), Align2::LEFT_TOP, "1", font.clone(), VALID_COLOR);
    painter.text(
        plot.right_bottom() + Vec2::new(4.0, 0.0),
        Align2::LEFT_BOTTOM,
        "0",
        font.clone(),
        VALID_COLOR,
    );
    painter.text(
        plot.center_bottom() + Vec2::new(0.0, 2.0),
        Align2::CENTER_TOP,
        format!("step (of {x_max:.0})"),
        font.clone(),
        visuals.text_color(),
    );
    painter.text(
        rect.left_top() + Vec2::new(4.0, 2.0),
        Align2::LEFT_TOP,
        "— training loss",
        font.clone(),
        LOSS_COLOR,
    );
    painter.text(
        rect.right_top() + Vec2::new(-4.0, 2.0),
        Align2::RIGHT_TOP,
        "● validation P@10",
        font.clone(),
        VALID_COLOR,
    );
    if let Some(b) = baseline {
        let y = y_p(b);
        painter.extend(egui::Shape::dashed_line(
            &[Pos2::new(plot.left(), y), Pos2::new(plot.right(), y)],
            Stroke::new(1.0, VALID_COLOR.gamma_multiply(0.6)),
            4.0,
            4.0,
        ));
    }
    if loss.len() >= 2 {
        let points: Vec<Pos2> = loss.iter().map(|l| Pos2::new(x_of(l[0]), y_loss(l[1]))).collect();
        painter.add(egui::Shape::line(points, Stroke::new(1.5, LOSS_COLOR)));
    } else if let Some(l) = loss.first() {
        painter.circle_filled(Pos2::new(x_of(l[0]), y_loss(l[1])), 2.0, LOSS_COLOR);
    }
    if valid.len() >= 2 {
        let points: Vec<Pos2> = valid.iter().map(|v| Pos2::new(x_of(v[0]), y_p(v[1]))).collect();
        painter.add(egui::Shape::line(points, Stroke::new(1.0, VALID_COLOR)));
    }
    for v in valid {
        painter.circle_filled(Pos2::new(x_of(v[0]), y_p(v[1])), 3.0, VALID_COLOR);
    }
}

/// A square scatter of a map's points; returns the track under the pointer.
pub(super) fn draw_scatter(
    ui: &mut egui::Ui,
    points: &[(i64, [f32; 2])],
    size: f32,
    color_of: &dyn Fn(i64) -> Color32,
    ringed: Option<i64>,
) -> Option<i64> {
    let (response, painter) = ui.allocate_painter(Vec2::splat(size), Sense::hover());
    let rect = response.rect;
    painter.rect_filled(rect, 4.0, ui.visuals().extreme_bg_color);
    if points.is_empty() {
        return None;
    }
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for (_, p) in points {
        for d in 0..2 {
            lo[d] = lo[d].min(p[d]);
            hi[d] = hi[d].max(p[d]);
        }
    }
    let span = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-6);
    let inner = rect.shrink(8.0);
    // One scale for both axes (t-SNE distances are isotropic), centred.
    let pad = [0.5 * (span - (hi[0] - lo[0])), 0.5 * (span - (hi[1] - lo[1]))];
    let at = |p: &[f32; 2]| {
        Pos2::new(
            inner.left() + (p[0] - lo[0] + pad[0]) / span * inner.width(),
            inner.top() + (p[1] - lo[1] + pad[1]) / span * inner.height(),
        )
    };
    let pointer = response.hover_pos();
    let mut nearest: Option<(f32, i64)> = None;
    for (id, p) in points {
        let pos = at(p);
        painter.circle_filled(pos, 3.0, color_of(*id));
        if let Some(ptr) = pointer {
            let d = pos.distance(ptr);
            if d < 8.0 && nearest.is_none_or(|(best, _)| d < best) {
                nearest = Some((d, *id));
            }
        }
    }
    let hovered = nearest.map(|(_, id)| id);
    if let Some(id) = hovered.or(ringed)
        && let Some((_, p)) = points.iter().find(|(i, _)| *i == id)
    {
        painter.circle_stroke(at(p), 6.0, Stroke::new(2.0, ui.visuals().strong_text_color()));
    }
    hovered
}
