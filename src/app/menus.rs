//! The top bar and its menus (library, export, model, theme), the status
//! bar and the welcome page: the app's commands, apart from the panels
//! they act on.

use super::*;

impl TuneAtlasApp {
    pub(super) fn top_bar(&mut self, ui: &mut egui::Ui, show_import: bool) {
        // Right-hand buttons first, so the import controls get exactly the
        // space that is left.
        ui.horizontal(|ui| {
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let (icon, hint) = if self.state.dark_mode {
                    ("◐ Light", "Switch to the light theme (Ctrl+T)")
                } else {
                    ("◑ Dark", "Switch to the dark theme (Ctrl+T)")
                };
                if ui.button(icon).on_hover_text(hint).clicked() {
                    self.toggle_theme(ui.ctx());
                }
                self.errors_window.button(ui, self.snapshot.errors.len());
                if ui.button("↻").on_hover_text("Reload the library from the database").clicked() {
                    self.reload(ui.ctx());
                }
                self.library_menu(ui);
                if !self.library.is_empty() {
                    self.export_menu(ui);
                    ui.toggle_value(&mut self.state.show_details, "Track panel")
                        .on_hover_text("Show the selected track's tags and similar tracks");
                    ui.separator();
                    let map = ui.selectable_value(&mut self.state.view, MainView::Map, "Map");
                    map.on_hover_text("The map of the library (Ctrl+2)");
                    // "Table", not "Library": the "Library" menu sits in the same bar,
                    // and two buttons of one name left people guessing which opens files.
                    let lib = ui.selectable_value(&mut self.state.view, MainView::Library, "Table");
                    lib.on_hover_text("The track table (Ctrl+1)");
                }
                ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                    ui.heading("tuneatlas");
                    ui.separator();
                    if show_import {
                        self.import.controls(ui, &mut self.state.last_folder);
                    }
                });
            });
        });
    }

    pub(super) fn toggle_theme(&mut self, ctx: &egui::Context) {
        self.state.dark_mode = !self.state.dark_mode;
        ctx.set_theme(self.state.theme());
    }

    pub(super) fn library_menu(&mut self, ui: &mut egui::Ui) {
        ui.menu_button("Library", |ui| {
            ui.weak(format!("Open: {}", self.db.display()));
            if ui.button("Demo library").on_hover_text("Open (and import) the bundled demo music").clicked() {
                self.start_demo(ui.ctx());
                ui.close();
            }
            if ui.button("Open library file…").clicked() {
                if let Some(path) = rfd::FileDialog::new()
                    .set_title("Open a tuneatlas library")
                    .add_filter("tuneatlas library", &["db"])
                    .pick_file()
                {
                    self.open_library(ui.ctx(), path);
                }
                ui.close();
            }
            if let Some(default) = crate::config::default_library()
                && self.db != default
                && ui.button("My library").on_hover_text(default.display().to_string()).clicked()
            {
                self.open_library(ui.ctx(), default);
                ui.close();
            }
            if self.snapshot.models.len() > 1 {
                ui.separator();
                ui.weak("Model version");
                for m in self.snapshot.models.clone() {
                    let current = self.snapshot.model_version.as_deref() == Some(m.version.as_str());
                    if ui.radio(current, &m.version).clicked() && !current {
                        let ctx = ui.ctx().clone();
                        self.load = match Loader::spawn(self.db.clone(), Some(m.version.clone()), false, ctx)
                        {
                            Ok(loader) => LoadState::Loading(loader),
                            Err(message) => LoadState::Failed(message),
                        };
                        ui.close();
                    }
                }
            }
            ui.separator();
            if ui
                .button("Fine-tune…")
                .on_hover_text("Teach the model what your own tags mean by similar")
                .clicked()
            {
                self.finetune.open();
                ui.close();
            }
            if ui
                .add_enabled(!self.library.is_empty(), egui::Button::new("Write tags into files…"))
                .on_hover_text("Write the predicted tags (and your own) into the audio files' tag fields")
                .clicked()
            {
                self.tag_writer.open();
                ui.close();
            }
        });
    }

    pub(super) fn export_menu(&mut self, ui: &mut egui::Ui) {
        let busy = self.exporter.is_busy();
        ui.add_enabled_ui(!busy, |ui| {
            ui.menu_button("Export", |ui| {
                let selection = self.library.selected_ids();
                let visible = self.library.visible_ids();
                let version = self.snapshot.model_version.clone();
                let go = |this: &mut Self, ui: &mut egui::Ui, kind: ExportKind, ids: &[i64]| {
                    let rows = this.rows_of(ids);
                    this.exporter.start(ui.ctx(), kind, this.db.clone(), rows, version.clone());
                    ui.close();
                };
                if ui
                    .add_enabled(
                        !selection.is_empty(),
                        egui::Button::new(format!("Selection as playlist ({})…", selection.len())),
                    )
                    .clicked()
                {
                    go(self, ui, ExportKind::M3u, &selection);
                }
                if ui.button(format!("List as playlist ({})…", visible.len())).clicked() {
                    go(self, ui, ExportKind::M3u, &visible);
                }
                ui.separator();
                let all: Vec<i64> = self.snapshot.tracks.iter().map(|t| t.id).collect();
                if ui.button("Library tags as CSV…").clicked() {
                    go(self, ui, ExportKind::TagsCsv, &all);
                }
                if ui.button("Library tags as JSON…").clicked() {
                    go(self, ui, ExportKind::TagsJson, &all);
                }
                if ui
                    .add_enabled(version.is_some(), egui::Button::new("Vectors for the Embedding Projector…"))
                    .on_hover_text("vectors.tsv + metadata.tsv for projector.tensorflow.org")
                    .clicked()
                {
                    go(self, ui, ExportKind::Projector, &all);
                }
            });
        });
    }

    pub(super) fn status_bar(&mut self, ui: &mut egui::Ui) {
        self.import.status(ui);
        if let Some(version) = self.upgrade.status(ui, &self.db, self.import.is_running()) {
            self.show_model_version(ui.ctx(), version);
        }
        if let Some(notice) = self.notice.clone() {
            ui.horizontal(|ui| {
                let color =
                    if notice.error { ui.visuals().error_fg_color } else { ui.visuals().text_color() };
                ui.add(egui::Label::new(egui::RichText::new(&notice.text).color(color)).wrap());
                if ui.small_button("×").on_hover_text("Dismiss").clicked() {
                    self.notice = None;
                }
            });
        }
        ui.horizontal(|ui| {
            match &self.load {
                LoadState::Loading(_) => {
                    ui.spinner();
                    ui.weak("Reading the library…");
                }
                LoadState::Failed(message) => {
                    ui.label(egui::RichText::new(message).color(ui.visuals().error_fg_color).strong());
                }
                LoadState::Ready => {}
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.weak(format!("library: {}", self.db.display()));
                if let Some(v) = &self.snapshot.model_version {
                    ui.weak(format!("model {v} ·"));
                }
            });
        });
    }

    /// The first-run page: what tuneatlas does and how to start.
    pub(super) fn welcome(&mut self, ui: &mut egui::Ui) {
        ui.add_space(ui.available_height() * 0.15);
        ui.vertical_centered(|ui| {
            ui.heading("Welcome to tuneatlas");
            ui.add_space(8.0);
            ui.label(
                "tuneatlas listens to your music and learns how the tracks sound, so you can find \
                 similar tracks, browse a map of your library and tag music by ear.",
            );
            ui.label(
                "Start by importing a music folder. Nothing is copied or changed: files are read where they \
                 are, and importing the same folder again later only processes what changed.",
            );
            ui.add_space(16.0);
        });
        ui.vertical_centered(|ui| {
            ui.set_max_width(900.0);
            self.import.controls(ui, &mut self.state.last_folder);
            ui.add_space(12.0);
            let demo = demo_folder().is_some();
            let button = ui.add_enabled(demo, egui::Button::new("Try the demo library")).on_hover_text(
                "About 60 short excerpts of freely licensed game soundtracks, mapped in a minute",
            );
            if button.clicked() {
                self.start_demo(ui.ctx());
            }
        });
    }
}
