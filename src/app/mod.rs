//! The desktop window (eframe + egui, wgpu renderer).
//!
//! The only place in tuneatlas that knows about egui, eframe or rfd. It is a
//! thin layer: panels draw from state and start work; the work itself (import,
//! store queries, map layout, playback) is the core library's, run on named
//! background threads whose results come back over channels and wake the
//! window. Each panel lives in its own file:
//!
//! - `import_ui`: folder field, folder picker, import progress and summary;
//! - `library_ui`: the virtualised, filterable, multi-select track table;
//! - `map_ui` (+ `map_render`, `map_colors`, `map_job`, `map_labels`): the
//!   t-SNE map drawn by a WGSL point shader, its colouring, its background
//!   layout and its regions' labels;
//! - `track_ui`: the selected track's tags, user tags and similar tracks;
//! - `player_ui`: the player bar over the core's player thread;
//! - `export_ui`: playlists, tags and projector exports;
//! - `playlist_ui`: the list made from a selection ("similar to these",
//!   "smooth path"), playable and saved as M3U;
//! - `actions`: what the track panel, the selection and the keys ask for,
//!   carried out with the core's functions;
//! - `errors_ui`: the list of files that could not be imported;
//! - `tag_write_ui`: writing the predicted tags into the files;
//! - `finetune` (`worker`, `window`, `plots`): fine-tuning on the user's
//!   tags, its LSI preview and results;
//! - `menus`: the top bar's menus, the status bar and the welcome page;
//! - `map_panel`: the map view around the map (colouring, legend, states);
//! - `capture`: start-up timings and screenshots for tests and benchmarks;
//! - `library_load`: reading the library snapshot off the UI thread;
//! - `job`: the named-thread + channel + repaint pattern every panel's
//!   background work uses;
//! - `state`: what is remembered between sessions.

mod actions;
mod capture;
mod embed_job;
mod errors_ui;
mod export_ui;
mod finetune;
mod format;
mod import_ui;
mod job;
mod library_load;
mod library_ui;
mod map_colors;
mod map_job;
mod map_labels;
mod map_panel;
mod map_render;
mod map_ui;
mod menus;
mod player_ui;
mod playlist_ui;
mod state;
mod tag_write_ui;
mod track_ui;
mod upgrade_ui;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::browse::LibrarySnapshot;
use crate::map::MapOutcome;
use crate::store::{Store, TagSource, TrackRow};

use capture::{Capture, StartupClock};
use errors_ui::ErrorsWindow;
use export_ui::{ExportKind, Exporter};
use import_ui::{ImportPanel, ImportUiEvent};
use library_load::{Loaded, Loader};
use library_ui::{LibraryView, RowExtras, TableEvent};
use map_colors::{ColorBy, Legend};
use map_job::MapJob;
use map_labels::LabelsJob;
use map_ui::{MapEvent, MapView};
use player_ui::PlayerBar;
use playlist_ui::{Playlist, PlaylistAction, PlaylistPanel};
use state::{MainView, UiState};
use track_ui::{SIMILAR_K, SONG_PATH_STEPS, TrackAction, TrackPanel};

/// Storage key of [`UiState`] in eframe's persisted storage.
const STATE_KEY: &str = "tuneatlas-ui-state";

/// How long closing the window waits for a running import to record itself
/// as cancelled before the process exits anyway (what was committed is kept).
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// While an import runs, the library is re-read this often so new tracks
/// show up in the table and on the map without waiting for the end.
const RELOAD_DURING_IMPORT: Duration = Duration::from_secs(20);

/// How many true nearest neighbours the map rings around the selection.
const MAP_NEIGHBOURS: usize = 10;

/// Tracks in a radio queue.
const RADIO_LENGTH: usize = 30;

/// How the window starts.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// The library file to open.
    pub db: PathBuf,
    /// True when `db` was named by the user (`--db`, `TUNEATLAS_DB`); else
    /// the library opened last is reopened.
    pub db_explicit: bool,
    /// Open an audio output (false: `--no-audio`, and the tests).
    pub audio: bool,
    /// Open the bundled demo library (importing it the first time).
    pub demo: bool,
    /// Save a screenshot of the window here once the library is shown, then
    /// close (the Xvfb test and the README picture).
    pub screenshot: Option<PathBuf>,
    /// Print how long the start took (first frame, library, map) and close
    /// once settled (`tuneatlas bench startup`).
    pub startup_report: bool,
    /// When the process started (the start of the cold-start clock).
    pub started_at: Instant,
}

/// Opens the window and returns when it is closed. Fails only when no window
/// can be opened (no display, no graphics adapter); everything that goes
/// wrong later is shown inside the window.
pub fn run(options: AppOptions) -> anyhow::Result<()> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("tuneatlas")
            .with_app_id("tuneatlas")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([720.0, 480.0]),
        renderer: eframe::Renderer::Wgpu,
        persist_window: true,
        ..Default::default()
    };
    eframe::run_native("tuneatlas", native, Box::new(move |cc| Ok(Box::new(TuneAtlasApp::new(cc, options)))))
        .map_err(|e| {
            let hint = if matches!(e, eframe::Error::Wgpu(_)) {
                "\nNo graphics adapter could draw the window. Install a GPU driver, or Mesa's software \
                 one (Debian/Ubuntu: sudo apt-get install mesa-vulkan-drivers libvulkan1). Everything \
                 else works without one: `tuneatlas import FOLDER`, `tuneatlas similar`, `tuneatlas map`, \
                 `tuneatlas play` (see `tuneatlas --help`)."
            } else {
                ""
            };
            anyhow!("cannot open the tuneatlas window: {e}{hint}")
        })
}

pub use crate::config::{demo_db, demo_folder};
pub use map_render::{
    MapDrawFigures, OffscreenMap, PointCloud, RendererKind, ViewTransform, bench_map_draw, synthetic_cloud,
};
pub use map_ui::MapFigures;

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

/// Where the map stands.
#[derive(Debug, Clone, PartialEq)]
enum MapState {
    /// Nothing embedded yet.
    NoVectors,
    /// A layout is being computed (see `map_job`).
    Computing,
    /// Shown; the line says how it was obtained.
    Ready(String),
    /// The layout failed or was cancelled.
    Failed(String),
}

/// A short message at the bottom of the window (export done, tag failed).
#[derive(Debug, Clone)]
struct Notice {
    text: String,
    error: bool,
}

/// The application: persisted UI state, the panels, and the library data.
pub struct TuneAtlasApp {
    db: PathBuf,
    state: UiState,
    load: LoadState,
    /// True once a load has succeeded (tells "empty library" from "not read yet").
    loaded_once: bool,
    snapshot: Arc<LibrarySnapshot>,
    /// Bumped whenever `snapshot` is replaced (caches key on it).
    generation: u64,
    library: LibraryView,
    map: MapArea,
    track_panel: TrackPanel,
    selection: Selection,
    import: ImportPanel,
    last_reload: Instant,
    errors_window: ErrorsWindow,
    exporter: Exporter,
    /// The list made from the last selection action.
    playlist: PlaylistPanel,
    finetune: finetune::FineTunePanel,
    /// The offer to re-embed with a newer built-in model.
    upgrade: upgrade_ui::UpgradePanel,
    player: PlayerBar,
    notice: Option<Notice>,
    capture: Capture,
    tag_writer: tag_write_ui::TagWritePanel,
}

/// The map view with its background layout and colouring.
struct MapArea {
    view: MapView,
    /// The layout being computed, if any.
    job: Option<MapJob>,
    /// The regions' labels being computed, if any.
    labels_job: Option<LabelsJob>,
    state: MapState,
    legend: Option<Legend>,
}

impl MapArea {
    fn new(generation: u64) -> MapArea {
        MapArea {
            view: MapView::new(generation),
            job: None,
            labels_job: None,
            state: MapState::NoVectors,
            legend: None,
        }
    }
}

/// The selected track and what follows from it.
#[derive(Debug, Default)]
struct Selection {
    /// The track shown in the track panel and ringed on the map.
    track: Option<i64>,
    /// Its true nearest neighbours (ringed on the map).
    neighbours: Vec<i64>,
    /// Where a song path starts, once chosen.
    path_start: Option<i64>,
}

impl TuneAtlasApp {
    /// Builds the app inside eframe (or a test harness): restores the UI
    /// state, installs the map renderer when the window renders with wgpu,
    /// starts the player thread and the first library load.
    pub fn new(cc: &eframe::CreationContext<'_>, options: AppOptions) -> Self {
        let mut state: UiState =
            cc.storage.and_then(|storage| eframe::get_value(storage, STATE_KEY)).unwrap_or_default();
        cc.egui_ctx.set_theme(state.theme());
        cc.egui_ctx.set_fonts(fonts_with_symbols());
        map_ui::install_renderer(&cc.egui_ctx, cc.wgpu_render_state.as_ref());
        let db = if options.demo {
            demo_db(&options.db)
        } else if options.db_explicit {
            options.db.clone()
        } else {
            state.last_db.clone().filter(|p| p.is_file()).unwrap_or_else(|| options.db.clone())
        };
        state.last_db = Some(db.clone());
        let player = PlayerBar::new(options.audio, &cc.egui_ctx, state.volume);
        let mut app = TuneAtlasApp {
            import: ImportPanel::new(db.clone()),
            db,
            state,
            load: LoadState::Ready,
            loaded_once: false,
            snapshot: Arc::new(LibrarySnapshot::default()),
            generation: 0,
            library: LibraryView::default(),
            map: MapArea::new(1),
            track_panel: TrackPanel::default(),
            selection: Selection::default(),
            last_reload: Instant::now(),
            errors_window: ErrorsWindow::default(),
            exporter: Exporter::default(),
            playlist: PlaylistPanel::default(),
            finetune: finetune::FineTunePanel::default(),
            upgrade: upgrade_ui::UpgradePanel::default(),
            player,
            notice: None,
            tag_writer: tag_write_ui::TagWritePanel::default(),
            capture: Capture {
                screenshot: options.screenshot,
                screenshot_rx: None,
                frames_ready: 0,
                startup: StartupClock {
                    started_at: options.started_at,
                    report: options.startup_report,
                    first_frame_ms: None,
                    library_ms: None,
                    embedding_ms: None,
                    map_ms: None,
                },
            },
        };
        if options.demo {
            app.start_demo(&cc.egui_ctx);
        }
        app.reload(&cc.egui_ctx);
        app
    }

    /// True when no background work that changes what is shown is under
    /// way (library load, map layout, import): what tests and the
    /// `--screenshot` option wait for.
    pub fn is_settled(&self) -> bool {
        self.loaded_once
            && matches!(self.load, LoadState::Ready)
            && self.map.job.is_none()
            && self.map.labels_job.is_none()
            && !self.import.is_running()
    }

    /// What the map showed on the last frame (points in view, under the
    /// legend, region labels): what `tests/it/gui.rs` checks.
    pub fn map_figures(&self) -> MapFigures {
        self.map.view.figures()
    }

    /// The tracks of the playlist window (`None` before a selection action
    /// made one): what `tests/it/gui.rs` compares with the core's functions.
    pub fn shown_playlist(&self) -> Option<Vec<i64>> {
        self.playlist.ids().map(<[i64]>::to_vec)
    }

    /// Saves the playlist window's list to `path` as its "Save as M3U…"
    /// button does once a file is chosen (the tests cannot click through a
    /// file dialog); returns the line the status bar would show.
    pub fn save_playlist_as_m3u(&self, path: &Path) -> Result<String, String> {
        let version = self.snapshot.model_version.as_deref();
        export_ui::export(ExportKind::M3u, &self.db, &self.playlist_rows(), version, path)
    }

    /// The track ids of the similar-track list the track panel shows (`None`
    /// before it has shown one): what `tests/it/gui.rs` compares with
    /// `tuneatlas similar` for the same track.
    pub fn shown_similar_ids(&self) -> Option<Vec<i64>> {
        self.track_panel.shown_similar_ids()
    }

    /// Switches to another library file (the demo, or one chosen by the user).
    fn open_library(&mut self, ctx: &egui::Context, db: PathBuf) {
        if self.import.is_running() {
            self.notify("Wait for the import to finish (or cancel it) before switching libraries.", true);
            return;
        }
        self.map.job = None;
        self.map.labels_job = None;
        self.map.state = MapState::NoVectors;
        self.playlist = PlaylistPanel::default();
        self.selection.track = None;
        self.selection.neighbours.clear();
        self.selection.path_start = None;
        self.loaded_once = false;
        self.state.last_db = Some(db.clone());
        self.import = ImportPanel::new(db.clone());
        self.db = db;
        self.library = LibraryView::default();
        self.map.view = MapView::new(1);
        self.reload(ctx);
    }

    /// Opens the demo library and imports the bundled demo folder into it
    /// (the first time; later only what changed, i.e. nothing).
    fn start_demo(&mut self, ctx: &egui::Context) {
        let Some(folder) = demo_folder() else {
            self.notify("The demo library is not installed (assets/demo is missing).", true);
            return;
        };
        let demo = demo_db(&self.db);
        if self.db != demo {
            self.open_library(ctx, demo);
        }
        let mut text = folder.display().to_string();
        self.import.start(ctx, &mut text);
        self.state.view = MainView::Map;
    }

    /// Starts reading the library again (after an import, or on request).
    fn reload(&mut self, ctx: &egui::Context) {
        self.last_reload = Instant::now();
        let version = self.snapshot.model_version.clone();
        self.load = match Loader::spawn(self.db.clone(), version, !self.loaded_once, ctx.clone()) {
            Ok(loader) => LoadState::Loading(loader),
            Err(message) => LoadState::Failed(message),
        };
    }

    fn notify(&mut self, text: impl Into<String>, error: bool) {
        self.notice = Some(Notice { text: text.into(), error });
    }

    /// Installs a freshly loaded snapshot: table rows, map points (from the
    /// cached layout, placing or recomputing in the background as needed).
    fn set_snapshot(&mut self, ctx: &egui::Context, snapshot: LibrarySnapshot) {
        let extras = snapshot
            .tracks
            .iter()
            .map(|t| RowExtras {
                genre: snapshot.tags.top_tag(t.id, "genre").map(|(g, _)| g.to_owned()).unwrap_or_default(),
                mood: snapshot.tags.top_tag(t.id, "mood").map(|(m, _)| m.to_owned()).unwrap_or_default(),
                user_tags: snapshot.user_tag_line(t.id),
            })
            .collect();
        self.library.set_rows(snapshot.tracks.clone(), extras);
        let version_changed = snapshot.model_version != self.snapshot.model_version;
        self.upgrade.refresh(&self.db, &snapshot);
        self.snapshot = Arc::new(snapshot);
        self.generation += 1;
        if version_changed {
            self.map.view = MapView::new(self.generation);
        }
        self.refresh_neighbours();
        self.start_map(ctx, false);
    }

    /// Lays out the map for the snapshot's model version in the background.
    fn start_map(&mut self, ctx: &egui::Context, force: bool) {
        let Some(version) = self.snapshot.model_version.clone() else {
            self.map.state = MapState::NoVectors;
            return;
        };
        if !self.snapshot.embedding_loaded {
            // The first step of a staged load: the vectors are on their way.
            self.map.state = MapState::Computing;
            return;
        }
        if self.snapshot.index.is_none() {
            self.map.state = MapState::NoVectors;
            return;
        }
        match MapJob::spawn(self.db.clone(), version, force, ctx.clone()) {
            Ok(job) => {
                self.map.job = Some(job);
                if self.map.view.len() == 0 {
                    self.map.state = MapState::Computing;
                }
            }
            Err(message) => self.map.state = MapState::Failed(message),
        }
    }

    fn recolor(&mut self) {
        let (colors, legend) = map_colors::colors(
            self.map.view.ids(),
            &self.snapshot.tags,
            &self.snapshot.user_tags,
            &self.state.color_by,
        );
        self.map.view.set_colors(colors);
        self.map.legend = Some(legend);
    }

    /// Picks up finished background work. Called first thing every frame.
    fn poll(&mut self, ctx: &egui::Context) {
        if let LoadState::Loading(loader) = &self.load
            && let Some(result) = loader.poll()
        {
            match result {
                Loaded::Tracks(snapshot) => {
                    // The table is usable; vectors and tags are still coming.
                    self.set_snapshot(ctx, snapshot);
                    self.capture.startup.library_ms =
                        self.capture.startup.mark(self.capture.startup.library_ms);
                }
                Loaded::Complete(snapshot) => {
                    self.set_snapshot(ctx, snapshot);
                    self.loaded_once = true;
                    self.capture.startup.library_ms =
                        self.capture.startup.mark(self.capture.startup.library_ms);
                    self.capture.startup.embedding_ms =
                        self.capture.startup.mark(self.capture.startup.embedding_ms);
                    self.load = LoadState::Ready;
                }
                Loaded::Failed(message) => self.load = LoadState::Failed(message),
            }
        }
        if let Some(job) = &mut self.map.job
            && let Some(result) = job.poll()
        {
            let cancelled = job.is_cancelled();
            self.map.job = None;
            match result {
                Ok(map) => {
                    let points: Vec<(i64, [f32; 2])> =
                        map.layout.points().iter().map(|c| (c.track_id, [c.x, -c.y])).collect();
                    let how = match map.outcome {
                        MapOutcome::Cached => "cached layout".to_owned(),
                        MapOutcome::Placed { n_new } => {
                            format!("{n_new} new tracks placed by their neighbours")
                        }
                        MapOutcome::Recomputed { .. } => "new t-SNE layout".to_owned(),
                    };
                    let layout_points: Vec<(i64, [f32; 2])> =
                        map.layout.points().iter().map(|c| (c.track_id, [c.x, c.y])).collect();
                    let generation = self.map.view.set_points(points, Vec::new());
                    self.recolor();
                    match LabelsJob::spawn(ctx, self.snapshot.clone(), layout_points, generation) {
                        Ok(job) => self.map.labels_job = Some(job),
                        Err(message) => self.notify(message, true),
                    }
                    self.capture.startup.map_ms = self.capture.startup.mark(self.capture.startup.map_ms);
                    self.map.state = MapState::Ready(format!(
                        "{} tracks · {} · model {}",
                        self.map.view.len(),
                        how,
                        map.model_version
                    ));
                }
                Err(_) if cancelled => {
                    self.map.state = MapState::Failed("Map computation cancelled.".to_owned())
                }
                Err(message) => {
                    self.map.state = MapState::Failed(format!("The map could not be computed: {message}"))
                }
            }
        }
        match self.import.poll(ctx, &mut self.state.last_folder) {
            ImportUiEvent::Finished => self.reload(ctx),
            _ if self.import.is_running()
                && self.last_reload.elapsed() >= RELOAD_DURING_IMPORT
                && matches!(self.load, LoadState::Ready) =>
            {
                self.reload(ctx)
            }
            _ => {}
        }
        if let Some(job) = &self.map.labels_job
            && let Some(result) = job.poll()
        {
            let generation = job.generation;
            self.map.labels_job = None;
            match result {
                Ok(labels) => self.map.view.set_labels(generation, labels),
                Err(message) => self.notify(message, true),
            }
        }
        if let Some(result) = self.exporter.poll() {
            match result {
                Ok(line) => self.notify(line, false),
                Err(line) => self.notify(line, true),
            }
        }
        self.player.poll();
    }

    /// Makes `track_id` the selected track everywhere.
    fn select(&mut self, track_id: Option<i64>) {
        self.selection.track = track_id;
        self.refresh_neighbours();
    }

    fn refresh_neighbours(&mut self) {
        self.selection.neighbours = match (self.selection.track, &self.snapshot.index) {
            (Some(id), Some(index)) => index
                .top_k_by_id(id, MAP_NEIGHBOURS, |_| true)
                .map(|n| n.into_iter().map(|n| n.track_id).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
    }

    fn title_of(&self, track_id: i64) -> String {
        title_in(&self.library, track_id)
    }

    fn rows_of(&self, ids: &[i64]) -> Vec<TrackRow> {
        ids.iter().filter_map(|id| self.library.row(*id).cloned()).collect()
    }

    /// Plays `ids` in order.
    fn play(&mut self, ids: &[i64]) {
        let rows = self.rows_of(ids);
        self.player.play(&rows);
    }
}

/// "Artist — Title" of a track in the table (its id when unknown).
fn title_in(library: &LibraryView, track_id: i64) -> String {
    match library.row(track_id) {
        Some(row) => match &row.artist {
            Some(artist) => format!("{artist} — {}", row.title),
            None => row.title.clone(),
        },
        None => format!("track {track_id}"),
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
/// (↻ ▲ ▼ ◐ ▶) that the proportional font lacks, without shipping an emoji font.
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
        self.capture.startup.first_frame_ms = self.capture.startup.mark(self.capture.startup.first_frame_ms);
        self.poll(&ctx);
        self.shortcuts(&ctx);
        self.startup_step(&ctx);
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
        if !welcome {
            egui::Panel::bottom("player_bar").show(ui, |ui| {
                ui.add_space(4.0);
                let volume = self.player.show(ui);
                self.state.volume = volume;
                ui.add_space(4.0);
            });
        }
        if self.state.show_details && !self.library.is_empty() {
            egui::Panel::right("track_panel").default_size(340.0).min_size(240.0).show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    let snapshot = self.snapshot.clone();
                    let row = self.selection.track.and_then(|id| self.library.row(id).cloned());
                    match row {
                        None => {
                            ui.weak("Select a track in the library or on the map to see its tags and similar tracks.");
                        }
                        Some(row) => {
                            let selection = self.library.selected_ids();
                            let library = &self.library;
                            let titles = |id: i64| title_in(library, id);
                            self.track_panel.options.per_artist = self.state.per_artist;
                            let actions = self.track_panel.show(
                                ui,
                                &snapshot,
                                self.generation,
                                &row,
                                &selection,
                                self.selection.path_start,
                                &titles,
                            );
                            self.state.per_artist = self.track_panel.options.per_artist;
                            for action in actions {
                                self.apply_track_action(&ctx, action);
                            }
                        }
                    }
                });
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
                    LoadState::Failed(message) => cannot_read(ui, &message.clone()),
                    LoadState::Ready => {}
                }
            } else {
                match self.state.view {
                    MainView::Library => {
                        self.library.filter_bar(ui);
                        ui.add_space(4.0);
                        for event in self.library.table(ui) {
                            match event {
                                TableEvent::Selected(id) => {
                                    self.select(Some(id));
                                    self.map.view.focus(id);
                                }
                                TableEvent::Play(ids) => self.play(&ids),
                            }
                        }
                    }
                    MainView::Map => self.map_panel(ui),
                }
            }
            self.screenshot_step(ui);
        });
        self.errors_window.show(&ctx, &self.snapshot.errors);
        self.playlist_window(&ctx);
        self.finetune_window(&ctx);
        self.tag_write_window(&ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STATE_KEY, &self.state);
    }

    fn on_exit(&mut self) {
        self.import.shutdown(SHUTDOWN_WAIT);
        self.finetune.shutdown(SHUTDOWN_WAIT);
        self.upgrade.shutdown(SHUTDOWN_WAIT);
        self.tag_writer.shutdown(SHUTDOWN_WAIT);
        self.player.shutdown();
    }
}
