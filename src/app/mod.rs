//! The desktop window (eframe + egui, wgpu renderer).
//!
//! The only place in tuneatlas that knows about egui, eframe or rfd. It is a
//! thin layer: panels draw from state and start work; the work itself (import,
//! store queries) is the core library's, run on named background threads whose
//! results come back over channels and wake the window. Each panel lives in
//! its own file:
//!
//! - `import_ui`: folder field, folder picker, import progress and summary;
//! - `library_ui`: the virtualised, filterable track table and track details;
//! - `errors_ui`: the list of files that could not be imported;
//! - `library_load`: reading the library off the UI thread;
//! - `state`: what is remembered between sessions.

mod errors_ui;
mod format;
mod import_ui;
mod library_load;
mod library_ui;
mod state;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use crate::store::FileErrorRow;

use errors_ui::ErrorsWindow;
use import_ui::{ImportPanel, ImportUiEvent};
use library_load::Loader;
use library_ui::LibraryView;
use state::UiState;

/// Storage key of [`UiState`] in eframe's persisted storage.
const STATE_KEY: &str = "tuneatlas-ui-state";

/// How long closing the window waits for a running import to record itself
/// as cancelled before the process exits anyway (what was committed is kept).
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// Opens the window on the library at `db` and returns when it is closed.
/// Fails only when no window can be opened (no display, no graphics adapter);
/// everything that goes wrong later is shown inside the window.
pub fn run(db: PathBuf) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("tuneatlas")
            .with_app_id("tuneatlas")
            .with_inner_size([1200.0, 760.0])
            .with_min_inner_size([640.0, 400.0]),
        renderer: eframe::Renderer::Wgpu,
        persist_window: true,
        ..Default::default()
    };
    eframe::run_native("tuneatlas", options, Box::new(move |cc| Ok(Box::new(TuneAtlasApp::new(cc, db)))))
        .map_err(|e| anyhow!("cannot open the tuneatlas window: {e}"))
}

/// Where the library data stands.
#[derive(Debug)]
enum LoadState {
    /// A load runs in the background.
    Loading(Loader),
    /// The data shown is current.
    Ready,
    /// The library could not be read; the message says why.
    Failed(String),
}

/// The application: persisted UI state, the panels, and the library data.
struct TuneAtlasApp {
    db: PathBuf,
    state: UiState,
    load: LoadState,
    /// True once a load has succeeded (tells "empty library" from "not read yet").
    loaded_once: bool,
    library: LibraryView,
    errors: Vec<FileErrorRow>,
    import: ImportPanel,
    errors_window: ErrorsWindow,
}

impl TuneAtlasApp {
    fn new(cc: &eframe::CreationContext<'_>, db: PathBuf) -> Self {
        let state: UiState =
            cc.storage.and_then(|storage| eframe::get_value(storage, STATE_KEY)).unwrap_or_default();
        cc.egui_ctx.set_theme(state.theme());
        cc.egui_ctx.set_fonts(fonts_with_symbols());
        let mut app = TuneAtlasApp {
            import: ImportPanel::new(db.clone()),
            db,
            state,
            load: LoadState::Ready,
            loaded_once: false,
            library: LibraryView::default(),
            errors: Vec::new(),
            errors_window: ErrorsWindow::default(),
        };
        app.reload(&cc.egui_ctx);
        app
    }

    /// Starts reading the library again (after an import, or on request).
    fn reload(&mut self, ctx: &egui::Context) {
        self.load = match Loader::spawn(self.db.clone(), ctx.clone()) {
            Ok(loader) => LoadState::Loading(loader),
            Err(message) => LoadState::Failed(message),
        };
    }

    /// Picks up finished background work. Called first thing every frame.
    fn poll(&mut self, ctx: &egui::Context) {
        if let LoadState::Loading(loader) = &self.load
            && let Some(result) = loader.poll()
        {
            self.load = match result {
                Ok(data) => {
                    self.library.set_rows(data.tracks);
                    self.errors = data.errors;
                    self.loaded_once = true;
                    LoadState::Ready
                }
                Err(message) => LoadState::Failed(message),
            };
        }
        if self.import.poll(ctx, &mut self.state.last_folder) == ImportUiEvent::Finished {
            self.reload(ctx);
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui, show_import: bool) {
        // Right-hand buttons first, so the import controls get exactly the
        // space that is left.
        ui.horizontal(|ui| {
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let (icon, hint) = if self.state.dark_mode {
                    ("◐ Light", "Switch to the light theme")
                } else {
                    ("◑ Dark", "Switch to the dark theme")
                };
                if ui.button(icon).on_hover_text(hint).clicked() {
                    self.state.dark_mode = !self.state.dark_mode;
                    ui.ctx().set_theme(self.state.theme());
                }
                self.errors_window.button(ui, self.errors.len());
                if ui.button("↻").on_hover_text("Reload the library from the database").clicked() {
                    self.reload(ui.ctx());
                }
                if !self.library.is_empty() {
                    ui.toggle_value(&mut self.state.show_details, "Details")
                        .on_hover_text("Show the selected track's path and tags");
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

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        self.import.status(ui);
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
            });
        });
    }

    /// The first-run page: what tuneatlas does and how to start.
    fn welcome(&mut self, ui: &mut egui::Ui) {
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
        });
    }
}

/// Shown instead of the library when the database cannot be read at all.
fn cannot_read(ui: &mut egui::Ui, message: &str) {
    ui.add_space(ui.available_height() * 0.15);
    ui.vertical_centered(|ui| {
        ui.heading("The library cannot be opened");
        ui.add_space(8.0);
        ui.label(egui::RichText::new(message).color(ui.visuals().error_fg_color));
        ui.add_space(8.0);
        ui.label(
            "Check that the folder exists and is writable, or start tuneatlas with --db PATH \
             to use another library file. ↻ (top right) tries again.",
        );
    });
}

/// egui's default fonts, with the bundled monospace font (Hack) also as the
/// last fallback of proportional text: it brings arrows and geometric shapes
/// (↻ ▲ ▼ ◐) that the proportional font lacks, without shipping an emoji font.
fn fonts_with_symbols() -> egui::FontDefinitions {
    let mut fonts = egui::FontDefinitions::default();
    if fonts.font_data.contains_key("Hack")
        && let Some(family) = fonts.families.get_mut(&egui::FontFamily::Proportional)
    {
        family.push("Hack".to_owned());
    }
    fonts
}

impl eframe::App for TuneAtlasApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.poll(&ctx);
        let welcome = self.loaded_once && self.library.is_empty() && !self.import.is_running();
        egui::Panel::top("top_bar").show(ui, |ui| {
            ui.add_space(2.0);
            self.top_bar(ui, !welcome);
            ui.add_space(2.0);
        });
        egui::Panel::bottom("status_bar").show(ui, |ui| {
            ui.add_space(2.0);
            self.status_bar(ui);
            ui.add_space(2.0);
        });
        if self.state.show_details && !self.library.is_empty() {
            egui::Panel::right("details").default_size(320.0).min_size(200.0).show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| self.library.details(ui));
            });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if welcome {
                self.welcome(ui);
            } else if !self.loaded_once {
                match &self.load {
                    LoadState::Loading(_) => {
                        ui.centered_and_justified(|ui| ui.spinner());
                    }
                    LoadState::Failed(message) => cannot_read(ui, message),
                    LoadState::Ready => {}
                }
            } else {
                self.library.filter_bar(ui);
                ui.add_space(4.0);
                self.library.table(ui);
            }
        });
        self.errors_window.show(&ctx, &self.errors);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STATE_KEY, &self.state);
    }

    fn on_exit(&mut self) {
        self.import.shutdown(SHUTDOWN_WAIT);
    }
}
