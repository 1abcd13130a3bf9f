//! The map view's panel: the map itself (`map_ui`), its colour-by
//! controls, the labels toggle, legend, status line and the states before a
//! map exists.

use super::*;

impl TuneAtlasApp {
    pub(super) fn map_panel(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label("Colour by");
            let current = match &self.state.color_by {
                ColorBy::Category(c) => format!("top {c}"),
                ColorBy::Tag(_, t) => t.clone(),
                ColorBy::UserSet(set) => format!("your {set}"),
            };
            let mut changed = false;
            let combo = egui::ComboBox::from_id_salt("color_by").selected_text(current).show_ui(ui, |ui| {
                for category in ["genre", "style", "mood", "theme"] {
                    let value = ColorBy::Category(category.to_owned());
                    changed |= ui
                        .selectable_value(&mut self.state.color_by, value, format!("top {category}"))
                        .changed();
                }
                let sets = map_colors::user_sets(&self.snapshot.user_tags);
                if !sets.is_empty() {
                    ui.separator();
                }
                for set in sets {
                    let label = format!("your tags: {set}");
                    changed |=
                        ui.selectable_value(&mut self.state.color_by, ColorBy::UserSet(set), label).changed();
                }
                ui.separator();
                for (category, tag) in self.snapshot.tags.tags.clone() {
                    let value = ColorBy::Tag(category.clone(), tag.clone());
                    changed |= ui
                        .selectable_value(&mut self.state.color_by, value, format!("{category}: {tag}"))
                        .changed();
                }
            });
            // Named for screen readers (and found by the GUI tests) by its label.
            combo.response.labelled_by(label.id);
            if changed {
                self.recolor();
            }
            ui.checkbox(&mut self.state.hover_audition, "Hover to listen")
                .on_hover_text("Play a few seconds of a track when the pointer rests on it");
            ui.checkbox(&mut self.state.map_labels, "Labels")
                .on_hover_text("Name the map's regions by the tags that set them apart from the rest of the library");
            if ui
                .button("Fit")
                .on_hover_text(
                    "Show the whole map, fitted to the space it has until you zoom or pan (or double-click empty space)",
                )
                .clicked()
            {
                self.map.view.reset_view();
            }
            let busy = self.map.job.is_some();
            if ui
                .add_enabled(!busy, egui::Button::new("Recompute"))
                .on_hover_text("Lay the map out again from scratch (t-SNE)")
                .clicked()
            {
                self.start_map(ui.ctx(), true);
            }
            ui.weak("scroll: zoom · drag: pan · shift+drag: lasso · double-click: play");
        });
        match &self.map.state {
            MapState::Ready(line) => {
                ui.weak(line);
            }
            MapState::Failed(line) if self.map.view.len() > 0 => {
                ui.label(egui::RichText::new(line).color(ui.visuals().warn_fg_color));
            }
            _ => {}
        }
        if let Some(job) = &self.map.job {
            let mut cancel = false;
            ui.horizontal(|ui| {
                match job.progress.and_then(|p| p.fraction()) {
                    Some(f) => {
                        ui.add(egui::ProgressBar::new(f as f32).desired_width(240.0).show_percentage());
                    }
                    None => {
                        ui.spinner();
                    }
                }
                ui.label(job.describe());
                cancel = ui.button("Cancel").clicked();
            });
            if cancel {
                job.cancel();
            }
        }
        match &self.map.state {
            MapState::NoVectors => {
                ui.add_space(20.0);
                ui.vertical_centered(|ui| {
                    ui.weak("No track has been embedded yet: the map appears once an import with the model has run.");
                });
                return;
            }
            MapState::Computing if self.map.view.len() == 0 => {
                ui.add_space(20.0);
                ui.vertical_centered(|ui| ui.weak("The map is being computed…"));
                return;
            }
            MapState::Failed(message) if self.map.view.len() == 0 => {
                ui.label(egui::RichText::new(message).color(ui.visuals().error_fg_color));
                return;
            }
            _ => {}
        }
        let legend = self.map.legend.clone();
        let snapshot = self.snapshot.clone();
        let rows: std::collections::HashMap<i64, &TrackRow> =
            snapshot.tracks.iter().map(|t| (t.id, t)).collect();
        let label = |id: i64| -> String {
            let Some(row) = rows.get(&id) else { return format!("track {id}") };
            let mut text = row.title.clone();
            if let Some(artist) = &row.artist {
                text.push_str(&format!("\n{artist}"));
            }
            let tops: Vec<String> = ["genre", "mood"]
                .iter()
                .filter_map(|c| snapshot.tags.top_tag(id, c).map(|(t, s)| format!("{t} {:.0}%", s * 100.0)))
                .collect();
            if !tops.is_empty() {
                text.push_str(&format!("\n{}", tops.join(" · ")));
            }
            text
        };
        let events = egui::Frame::NONE
            .show(ui, |ui| {
                let events = self.map.view.show(
                    ui,
                    self.selection.track,
                    &self.selection.neighbours,
                    &label,
                    self.state.hover_audition,
                    self.state.map_labels,
                );
                let drawn = legend.as_ref().map(|legend| draw_legend(ui, legend, &self.map.view));
                self.map.view.set_legend(ui.ctx(), drawn);
                events
            })
            .inner;
        for event in events {
            match event {
                MapEvent::Select(id) => {
                    self.select(Some(id));
                    self.library.select_id(Some(id));
                }
                MapEvent::Play(id) => self.play(&[id]),
                MapEvent::Audition(id) => {
                    if let Some(row) = self.library.row(id).cloned() {
                        self.player.audition(&row);
                    }
                }
                MapEvent::StopAudition => self.player.stop_audition(),
                MapEvent::Lasso(ids) => {
                    if !ids.is_empty() {
                        self.library.select_ids(&ids);
                        self.select(ids.first().copied());
                        self.notify(
                            format!("{} tracks selected: play them with Enter or Space; the track panel plays similar tracks, orders them as a smooth path and tags them; Export saves them.", ids.len()),
                            false,
                        );
                    }
                }
                MapEvent::ClearSelection => {
                    self.select(None);
                    self.library.select_id(None);
                }
            }
        }
    }
}

/// The legend's width (its frame adds a margin around it).
const LEGEND_WIDTH: f32 = 170.0;

/// The map legend, in the corner the map view chose for it (see `map_ui`);
/// returns where it was drawn.
fn draw_legend(ui: &egui::Ui, legend: &Legend, view: &MapView) -> egui::Rect {
    // Until it has been drawn once its size is a guess; the view asks for
    // another frame once the size is known.
    let size = ui
        .ctx()
        .memory(|m| m.area_rect(egui::Id::unique("map_legend")))
        .map_or(egui::vec2(LEGEND_WIDTH + 16.0, 120.0), |r| r.size());
    let area = egui::Area::new(egui::Id::unique("map_legend"))
        .fixed_pos(view.legend_pos(size))
        .order(egui::Order::Foreground);
    let shown = area.show(ui.ctx(), |ui| {
        egui::Frame::popup(ui.style()).show(ui, |ui| {
            ui.set_width(LEGEND_WIDTH);
            match legend {
                Legend::Categories(entries) => {
                    for (name, color, count) in entries {
                        ui.horizontal(|ui| {
                            let (r, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                            ui.painter().circle_filled(r.center(), 5.0, *color);
                            ui.label(name);
                            ui.weak(count.to_string());
                        });
                    }
                }
                Legend::Ramp { tag, min, max } => {
                    ui.label(tag);
                    let (r, _) = ui.allocate_exact_size(egui::vec2(160.0, 12.0), egui::Sense::hover());
                    let steps = 32;
                    for k in 0..steps {
                        let x0 = r.left() + r.width() * k as f32 / steps as f32;
                        let x1 = r.left() + r.width() * (k + 1) as f32 / steps as f32;
                        let cell =
                            egui::Rect::from_min_max(egui::pos2(x0, r.top()), egui::pos2(x1, r.bottom()));
                        ui.painter().rect_filled(cell, 0.0, map_colors::ramp(k as f32 / (steps - 1) as f32));
                    }
                    ui.horizontal(|ui| {
                        ui.weak(format!("{:.0}%", min * 100.0));
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                            ui.weak(format!("{:.0}%", max * 100.0));
                        });
                    });
                }
            }
        });
    });
    shown.response.rect
}
