//! The fine-tuning window itself: settings, LSI preview, the run with its
//! live plot and P@k table, and the side-by-side map comparison. It only
//! draws state and asks [`FineTunePanel`] (see `worker.rs`) to start work.

use super::plots::*;
use super::*;

impl TuneAtlasApp {
    /// Draws the fine-tuning window (when open) and the map comparison, and
    /// carries out what they ask (switch version, reload).
    pub(in crate::app) fn finetune_window(&mut self, ctx: &egui::Context) {
        let mut actions = self.finetune.poll(ctx);
        if self.finetune.open {
            self.finetune.refresh_preview(ctx, &self.db, self.generation);
            let mut open = true;
            egui::Window::new("Fine-tune the model on your tags")
                .id(egui::Id::unique("tuneatlas_finetune_window"))
                .open(&mut open)
                .default_size([640.0, 720.0])
                .resizable(true)
                .show(ctx, |ui| {
                    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
                        actions.extend(self.finetune_contents(ui));
                    });
                });
            self.finetune.open = open;
        }
        self.compare_window(ctx);
        for action in actions {
            match action {
                Action::ShowVersion(version) => self.show_model_version(ctx, version),
                Action::Reload => self.reload(ctx),
            }
        }
    }

    /// Reloads the library with `version`'s vectors (as the menu's radio
    /// does): a fine-tuned version, its parent, or the built-in model after
    /// re-embedding.
    pub(in crate::app) fn show_model_version(&mut self, ctx: &egui::Context, version: String) {
        self.load = match Loader::spawn(self.db.clone(), Some(version), false, ctx.clone()) {
            Ok(loader) => LoadState::Loading(loader),
            Err(message) => LoadState::Failed(message),
        };
    }

    pub(super) fn finetune_contents(&mut self, ui: &mut egui::Ui) -> Vec<Action> {
        let mut actions = Vec::new();
        let running = self.finetune.is_running();
        let current = self.snapshot.model_version.clone();
        ui.label(format!(
            "Starts from the model shown now ({}). The result is a new model version; this one is never changed.",
            current.as_deref().unwrap_or("the built-in model")
        ));
        ui.add_space(6.0);
        ui.add_enabled_ui(!running, |ui| {
            self.finetune_settings(ui);
        });
        ui.separator();
        self.lsi_preview(ui);
        ui.separator();
        ui.horizontal(|ui| {
            if running {
                let what = match self.finetune.run.as_ref().map(|r| r.stage) {
                    Some(Stage::Embedding) => "Cancel re-embedding",
                    _ => "Cancel",
                };
                if ui.button(what).on_hover_text("Stop; a cancelled training writes no model").clicked()
                    && let Some(run) = &self.finetune.run
                {
                    run.cancel.cancel();
                }
            } else if ui
                .add_enabled(!self.finetune.preview_blocks(), egui::Button::new("Start fine-tuning"))
                .on_hover_text("Extract features, train (on the GPU if there is one, else the CPU), evaluate, then re-embed the library")
                .on_disabled_hover_text(
                    "These tags give no triplets to train on (see the warning above): change the tags, the \
                     thresholds or the topics first",
                )
                .clicked()
            {
                if self.import.is_running() {
                    self.finetune.message =
                        Some("Wait for the import to finish (or cancel it) before fine-tuning.".to_owned());
                } else {
                    let db = self.db.clone();
                    self.finetune.start(ui.ctx(), &db, current.clone());
                }
            }
        });
        if let Some(message) = &self.finetune.message {
            ui.colored_label(ui.visuals().error_fg_color, message);
        }
        if self.finetune.run.is_some() {
            actions.extend(self.run_section(ui));
        }
        actions
    }

    pub(super) fn finetune_settings(&mut self, ui: &mut egui::Ui) {
        let panel = &mut self.finetune;
        ui.strong("Tag sets");
        if panel.sets.iter().all(|s| s.tracks == 0) {
            ui.weak(
                "No user tags yet. Tag tracks in the track panel (select many on the map with the lasso), \
                 or import a CSV with `tuneatlas tag import`.",
            );
        }
        ui.horizontal_wrapped(|ui| {
            for s in &panel.sets {
                let mut on = panel.settings.sets.contains(&s.name);
                let text = format!("{} ({} tracks, {} tags)", s.name, s.tracks, s.tags);
                if ui.checkbox(&mut on, text).changed() {
                    if on {
                        panel.settings.sets.push(s.name.clone());
                        panel.settings.sets.sort();
                    } else {
                        panel.settings.sets.retain(|x| x != &s.name);
                    }
                }
            }
        });
        if panel.settings.sets.is_empty() && panel.sets.len() > 1 {
            ui.weak("None ticked: every set is used.");
        }
        ui.add_space(4.0);
        egui::Grid::new("finetune_settings").num_columns(2).spacing([12.0, 4.0]).show(ui, |ui| {
            let s = &mut panel.settings;
            let label = ui.label("LSI topics");
            ui.horizontal(|ui| {
                let auto = match panel.default_topics {
                    Some(d) => format!("default ({d})"),
                    None => "default".to_owned(),
                };
                if ui.checkbox(&mut s.topics_auto, auto).changed()
                    && s.topics_auto
                    && let Some(d) = panel.default_topics
                {
                    s.topics = d;
                }
                ui.add_enabled(!s.topics_auto, egui::DragValue::new(&mut s.topics).range(1..=256))
                    .labelled_by(label.id)
                    .on_hover_text("More topics: only near-identical tag sets count as similar");
            });
            ui.end_row();
            let label = ui.label("Similar (positive) at cosine ≥");
            ui.add(
                egui::DragValue::new(&mut s.positive_min_cos).range(0.0..=1.0).speed(0.01).max_decimals(2),
            )
            .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Dissimilar (negative) below cosine");
            ui.add(
                egui::DragValue::new(&mut s.negative_max_cos).range(0.0..=1.0).speed(0.01).max_decimals(2),
            )
            .labelled_by(label.id);
            ui.end_row();
            if s.negative_max_cos > s.positive_min_cos {
                s.negative_max_cos = s.positive_min_cos;
            }
            let label = ui.label("Tracks per batch");
            ui.add(egui::DragValue::new(&mut s.batch_tracks).range(2..=4096))
                .labelled_by(label.id)
                .on_hover_text("Paper: 600; capped at the training tracks");
            ui.end_row();
            ui.label("Layers to train");
            ui.horizontal(|ui| {
                ui.radio_value(&mut s.layers, TrainLayers::Heads, "heads only")
                    .on_hover_text("The dense layers: fastest, safest with few tags");
                ui.radio_value(&mut s.layers, TrainLayers::Top, "top layers")
                    .on_hover_text("The dense layers and the last conv block of each stack");
                ui.radio_value(&mut s.layers, TrainLayers::All, "all").on_hover_text("Every layer");
            });
            ui.end_row();
            ui.label("Learning rate");
            egui::ComboBox::from_id_salt("finetune_lr")
                .selected_text(format!("{:e}", s.learning_rate))
                .show_ui(ui, |ui| {
                    for lr in LEARNING_RATES {
                        ui.selectable_value(&mut s.learning_rate, lr, format!("{lr:e}"));
                    }
                });
            ui.end_row();
            let label = ui.label("Epochs");
            ui.add(egui::DragValue::new(&mut s.epochs).range(1..=500)).labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Stop after epochs without better P@10");
            ui.add(egui::DragValue::new(&mut s.patience_epochs).range(0..=100))
                .labelled_by(label.id)
                .on_hover_text("Early stopping on validation precision; 0: never stop early");
            ui.end_row();
        });
    }

    pub(super) fn lsi_preview(&mut self, ui: &mut egui::Ui) {
        let panel = &self.finetune;
        ui.horizontal(|ui| {
            ui.strong("LSI topics of your tags");
            if panel.preview_job.is_some() {
                ui.spinner();
            }
        });
        match &panel.preview {
            None => {
                ui.weak("Computing…");
            }
            Some(Err(message)) => {
                ui.colored_label(ui.visuals().warn_fg_color, message);
            }
            Some(Ok(view)) => {
                ui.weak(format!(
                    "{} tagged tracks ({} train, the rest test and stop early), {} tags, {} topics",
                    view.n_tagged,
                    view.n_tracks,
                    view.n_tags,
                    view.topics.len()
                ));
                for w in &view.warnings {
                    ui.colored_label(ui.visuals().warn_fg_color, w.to_string());
                }
                egui::Grid::new("finetune_topics").striped(true).num_columns(4).spacing([10.0, 2.0]).show(
                    ui,
                    |ui| {
                        ui.strong("Topic");
                        ui.strong("Share");
                        ui.strong("Top positive tags");
                        ui.strong("Top negative tags");
                        ui.end_row();
                        for t in &view.topics {
                            let list = |tags: &[crate::train::lsi_view::TopicTag]| {
                                if tags.is_empty() {
                                    "—".to_owned()
                                } else {
                                    tags.iter()
                                        .map(|t| format!("{} {:+.2}", t.label, t.loading))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                }
                            };
                            ui.label(format!("Topic {}", t.index + 1));
                            ui.label(format!("{:.0}%", t.explained * 100.0));
                            ui.label(list(&t.positive));
                            ui.label(list(&t.negative));
                            ui.end_row();
                        }
                    },
                );
                ui.add_space(6.0);
                ui.label(format!(
                    "Pairwise LSI cosines of {} training tracks ({} pairs, pairs within an album left out): {:.0}% similar \
                     (≥ {:.2}), {:.0}% dissimilar (< {:.2})",
                    view.n_pair_tracks,
                    view.histogram.total(),
                    view.positive_share * 100.0,
                    view.rules.positive_min_cos,
                    view.negative_share * 100.0,
                    view.rules.negative_max_cos
                ));
                draw_histogram(ui, &view.histogram, view.rules.positive_min_cos, view.rules.negative_max_cos);
            }
        }
    }

    pub(super) fn run_section(&mut self, ui: &mut egui::Ui) -> Vec<Action> {
        let mut actions = Vec::new();
        let db = self.db.clone();
        let current = self.snapshot.model_version.clone();
        let Some(run) = &self.finetune.run else { return actions };
        ui.separator();
        ui.weak(format!("Fine-tuning {}", run.parent));
        if let Some(summary) = &run.summary {
            ui.weak(summary);
        }
        if run.stage == Stage::Preparing {
            match &run.features {
                Some(p) => {
                    let f = p.done_tracks as f32 / p.total_tracks.max(1) as f32;
                    ui.label("Extracting log-mel features of the tagged tracks");
                    ui.add(
                        egui::ProgressBar::new(f)
                            .text(format!("{} / {} tracks", p.done_tracks, p.total_tracks))
                            .desired_width(360.0),
                    );
                }
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Reading tags and preparing…");
                    });
                }
            }
        }
        if run.total_steps > 0 || !run.loss.is_empty() {
            let f = run.steps_done as f32 / run.total_steps.max(1) as f32;
            let last = run.loss.last().map_or(String::new(), |l| format!(", loss {:.4}", l[1]));
            let valid = run.valid.last().map_or(String::new(), |v| format!(", validation P@10 {:.3}", v[1]));
            let on = run.device.as_ref().map_or(String::new(), |d| format!(" on {d}"));
            ui.label(format!("Training{on}: step {} of {}{last}{valid}", run.steps_done, run.total_steps));
            if run.stage == Stage::Training {
                ui.add(egui::ProgressBar::new(f).desired_width(360.0));
            }
            draw_training_plot(ui, &run.loss, &run.valid, run.baseline, run.total_steps);
        }
        for n in &run.notices {
            ui.weak(format!("Note: {n}"));
        }
        if let Some(error) = &run.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        let mut resume = false;
        let mut delete = None;
        if let Some(t) = &run.trained {
            ui.add_space(6.0);
            ui.strong(format!("New model version {} (parent {})", t.version, t.parent));
            ui.label(&t.line);
            precision_table(ui, &t.table);
            ui.add_space(6.0);
            match &run.embed_end {
                None => {
                    let f = run.embed_done as f32 / run.embed_total.max(1) as f32;
                    ui.label(format!("Re-embedding the library with {}", t.version));
                    ui.add(
                        egui::ProgressBar::new(f)
                            .text(format!("{} / {} tracks", run.embed_done, run.embed_total))
                            .desired_width(360.0),
                    );
                }
                Some(EmbedEnd::Done(line)) => {
                    ui.label(line);
                }
                Some(EmbedEnd::Cancelled(line)) | Some(EmbedEnd::Failed(line)) => {
                    ui.colored_label(ui.visuals().warn_fg_color, line);
                    if !run.deleted && ui.button("Resume re-embedding").clicked() {
                        resume = true;
                    }
                }
            }
            if run.deleted {
                ui.weak(format!("{} was deleted.", t.version));
            } else if run.embed_end.is_some() && !run.is_running() {
                let showing_new = current.as_deref() == Some(t.version.as_str());
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(!showing_new, egui::Button::new("Show the new version"))
                        .on_hover_text("Switch the library, map and search to the new model")
                        .clicked()
                    {
                        actions.push(Action::ShowVersion(t.version.clone()));
                    }
                    if ui
                        .button("Compare maps")
                        .on_hover_text("The parent's and the new map side by side")
                        .clicked()
                    {
                        let side = |version: &str| MapSide {
                            version: version.to_owned(),
                            job: MapJob::spawn(db.clone(), version.to_owned(), false, ui.ctx().clone()).ok(),
                            points: Vec::new(),
                            error: None,
                        };
                        self.finetune.compare = Some(Compare {
                            sides: [side(&t.parent), side(&t.version)],
                            hovered: None,
                            open: true,
                        });
                    }
                    let showing_parent = current.as_deref() == Some(t.parent.as_str());
                    if ui
                        .add_enabled(!showing_parent, egui::Button::new(format!("Revert to {}", t.parent)))
                        .on_hover_text("Go back to the parent version; the new version's files stay")
                        .clicked()
                    {
                        actions.push(Action::ShowVersion(t.parent.clone()));
                    }
                });
                ui.horizontal(|ui| {
                    let deleting = self.finetune.deleting.is_some();
                    if !self.finetune.confirm_delete {
                        if ui
                            .add_enabled(!deleting, egui::Button::new("Delete this version…"))
                            .on_hover_text("Remove the new model's files, vectors and map")
                            .clicked()
                        {
                            self.finetune.confirm_delete = true;
                        }
                    } else {
                        ui.colored_label(
                            ui.visuals().warn_fg_color,
                            format!("Delete {} with its vectors and map for good?", t.version),
                        );
                        if ui
                            .add_enabled(!deleting, egui::Button::new(format!("Delete {}", t.version)))
                            .clicked()
                        {
                            self.finetune.confirm_delete = false;
                            delete = Some(t.version.clone());
                            if showing_new {
                                actions.push(Action::ShowVersion(t.parent.clone()));
                            }
                        }
                        if ui.button("Keep it").clicked() {
                            self.finetune.confirm_delete = false;
                        }
                    }
                    if deleting {
                        ui.spinner();
                    }
                });
            }
        }
        if resume {
            self.finetune.resume_embedding(ui.ctx(), &db);
        }
        if let Some(version) = delete {
            self.finetune.delete(ui.ctx(), &db, version);
        }
        actions
    }

    /// The parent's and the new version's maps side by side, coloured as
    /// the main map; the track under the pointer is ringed in both.
    pub(super) fn compare_window(&mut self, ctx: &egui::Context) {
        let Some(compare) = &mut self.finetune.compare else { return };
        let ids_union: Vec<i64> = {
            let mut ids: Vec<i64> =
                compare.sides.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect::<Vec<_>>();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let (colors, _) = map_colors::colors(
            &ids_union,
            &self.snapshot.tags,
            &self.snapshot.user_tags,
            &self.state.color_by,
        );
        let color_of = |id: i64| {
            ids_union
                .binary_search(&id)
                .ok()
                .and_then(|i| colors.get(i).copied())
                .unwrap_or(map_colors::NO_DATA)
        };
        let library = &self.library;
        let mut open = compare.open;
        let mut hovered_now = None;
        egui::Window::new("Compare maps")
            .id(egui::Id::unique("tuneatlas_compare_maps"))
            .open(&mut open)
            .default_size([2.0 * COMPARE_MAP_PT + 40.0, COMPARE_MAP_PT + 80.0])
            .resizable(true)
            .show(ctx, |ui| {
                ui.weak("Coloured as the main map (Colour by → \"your tags: …\" shows your own tags); each track keeps its colour in both. Point at a track to find it in the other map.");
                ui.horizontal_top(|ui| {
                    for side in &compare.sides {
                        ui.vertical(|ui| {
                            ui.strong(&side.version);
                            if let Some(e) = &side.error {
                                ui.colored_label(ui.visuals().error_fg_color, e);
                            } else if side.job.is_some() {
                                ui.horizontal(|ui| {
                                    ui.spinner();
                                    ui.label(side.job.as_ref().map_or(String::new(), MapJob::describe));
                                });
                            } else {
                                ui.weak(format!("{} tracks", side.points.len()));
                            }
                            let size = (ui.available_width() - 8.0).clamp(160.0, COMPARE_MAP_PT);
                            if let Some(id) = draw_scatter(ui, &side.points, size, &color_of, compare.hovered) {
                                hovered_now = Some(id);
                            }
                        });
                    }
                });
                if let Some(id) = hovered_now.or(compare.hovered) {
                    ui.label(title_in(library, id));
                }
            });
        compare.hovered = hovered_now;
        compare.open = open;
        if !open {
            self.finetune.compare = None;
        }
    }
}
