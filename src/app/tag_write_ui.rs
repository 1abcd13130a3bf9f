//! The window's "Write tags into files…" (Library menu): the model's
//! predicted tags, and if asked the user's own, written into the audio
//! files' own tag fields by [`write_tags`] — the function `tuneatlas tags
//! write` runs — on a background thread (`ta-gui-tagwrite`), with progress,
//! Cancel, a preview (the dry run) and, at the end, every file that was
//! refused or failed with its reason.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::TuneAtlasApp;
use super::job::{self, Polled, Reply};
use crate::jobs::CancelToken;
use crate::library::tag_write::DEFAULT_MIN_SCORE;
use crate::library::{FileOutcome, TagWriteEvent, TagWriteOptions, TagWriteSummary, write_tags};
use crate::model::heads::TagCategory;
use crate::store::{RunStatus, Store};

/// Lines of a preview shown at most (the rest is counted).
const PREVIEW_LINES: usize = 200;

/// What the writing thread reports.
enum Msg {
    Total(usize),
    Done { path: PathBuf, described: String, outcome: FileOutcome },
    Finished(Result<TagWriteSummary, String>),
}

/// A run in flight.
struct Running {
    rx: Receiver<Msg>,
    cancel: CancelToken,
    dry_run: bool,
    total: usize,
    done: usize,
    /// Dry run: what would be written, per file.
    preview: Vec<String>,
}

/// How the last run ended.
struct LastRun {
    headline: String,
    error: bool,
    /// Dry run: "tags: path" per file that would be written.
    preview: Vec<String>,
    /// "refused"/"failed", the file, the reason.
    problems: Vec<(&'static str, PathBuf, String)>,
}

/// The window's state: its options, the run in flight, the last outcome.
pub struct TagWritePanel {
    /// Whether the window is shown.
    pub(super) open: bool,
    /// Genre, style, mood, theme: which categories to write.
    categories: [bool; 4],
    min_score: f32,
    user_tags: bool,
    only_selection: bool,
    running: Option<Running>,
    last: Option<LastRun>,
}

impl Default for TagWritePanel {
    fn default() -> Self {
        TagWritePanel {
            open: false,
            categories: [true; 4],
            min_score: DEFAULT_MIN_SCORE,
            user_tags: false,
            only_selection: false,
            running: None,
            last: None,
        }
    }
}

impl TagWritePanel {
    /// Shows the window.
    pub fn open(&mut self) {
        self.open = true;
    }

    fn options(&self, dry_run: bool) -> TagWriteOptions {
        TagWriteOptions {
            categories: TagCategory::ALL
                .into_iter()
                .zip(self.categories)
                .filter(|(_, on)| *on)
                .map(|(c, _)| c)
                .collect(),
            min_score: self.min_score,
            user_tags: self.user_tags,
            dry_run,
            ..TagWriteOptions::default()
        }
    }

    fn start(&mut self, ctx: &egui::Context, db: &Path, ids: Vec<i64>, version: String, dry_run: bool) {
        let cancel = CancelToken::new();
        let options = self.options(dry_run);
        let (db, job_cancel) = (db.to_path_buf(), cancel.clone());
        let spawned = job::spawn("ta-gui-tagwrite", ctx, move |reply| {
            run(&db, &ids, &version, &options, &job_cancel, &reply);
        });
        match spawned {
            Ok(rx) => {
                self.last = None;
                self.running = Some(Running { rx, cancel, dry_run, total: 0, done: 0, preview: Vec::new() });
            }
            Err(e) => {
                self.last = Some(LastRun {
                    headline: format!("Cannot start writing tags: {e}"),
                    error: true,
                    preview: Vec::new(),
                    problems: Vec::new(),
                })
            }
        }
    }

    /// Takes the thread's messages; true when a run that wrote files ended
    /// (the library must be read again).
    fn poll(&mut self) -> bool {
        let Some(running) = &mut self.running else { return false };
        let mut end = None;
        loop {
            match job::poll(&running.rx) {
                Polled::Message(Msg::Total(n)) => running.total = n,
                Polled::Message(Msg::Done { path, described, outcome }) => {
                    running.done += 1;
                    if outcome == FileOutcome::WouldWrite && running.preview.len() < PREVIEW_LINES {
                        running.preview.push(format!("{described}: {}", crate::text::shown(&path)));
                    }
                }
                Polled::Message(Msg::Finished(result)) => end = Some(result),
                Polled::Nothing => break,
                Polled::Gone => {
                    end = end.or_else(|| Some(Err("the tag writing stopped unexpectedly".to_owned())));
                    break;
                }
            }
        }
        let Some(result) = end else { return false };
        let Some(running) = self.running.take() else { return false };
        let mut wrote = false;
        self.last = Some(match result {
            Ok(summary) => {
                wrote = !summary.dry_run && summary.n_written > 0;
                let mut problems: Vec<(&'static str, PathBuf, String)> = Vec::new();
                for (path, reason) in summary.refused.iter() {
                    problems.push(("refused", path.clone(), reason.clone()));
                }
                for (path, reason) in summary.failed.iter() {
                    problems.push(("failed", path.clone(), reason.clone()));
                }
                LastRun {
                    headline: format!("{summary}."),
                    error: !summary.failed.is_empty() || summary.status == RunStatus::Cancelled,
                    preview: running.preview,
                    problems,
                }
            }
            Err(message) => LastRun {
                headline: format!("Writing tags failed: {message}"),
                error: true,
                preview: Vec::new(),
                problems: Vec::new(),
            },
        });
        wrote
    }

    /// Cancels a running write and waits up to `wait` for the file in
    /// progress to be finished (closing the window).
    pub fn shutdown(&mut self, wait: Duration) {
        let Some(running) = &self.running else { return };
        running.cancel.cancel();
        let deadline = Instant::now() + wait;
        while let Ok(msg) = running.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if matches!(msg, Msg::Finished(_)) {
                break;
            }
        }
    }

    fn contents(
        &mut self,
        ui: &mut egui::Ui,
        db: &Path,
        model_version: Option<&str>,
        selection: &[i64],
        all: &[i64],
        import_running: bool,
    ) {
        ui.label(
            "Writes the tags the model predicts into the audio files' own tag fields — genres into the \
             genre field, styles, moods and themes into STYLE, MOOD and THEME — with the model version, \
             so other players and taggers see them. The audio itself is never changed, and genres a \
             file already has are kept.",
        );
        ui.add_space(6.0);
        let idle = self.running.is_none();
        ui.add_enabled_ui(idle, |ui| {
            ui.horizontal(|ui| {
                ui.label("Write");
                for (category, on) in TagCategory::ALL.into_iter().zip(self.categories.iter_mut()) {
                    ui.checkbox(on, category.as_str());
                }
            });
            ui.add(egui::Slider::new(&mut self.min_score, 0.05..=0.95).text("least score"))
                .on_hover_text("A predicted tag is written when the model gives it at least this score");
            ui.checkbox(&mut self.user_tags, "Also write my own tags (one field per tag set)");
            ui.horizontal(|ui| {
                ui.radio_value(&mut self.only_selection, false, format!("All tracks ({})", all.len()));
                ui.add_enabled_ui(!selection.is_empty(), |ui| {
                    ui.radio_value(
                        &mut self.only_selection,
                        true,
                        format!("Selected tracks ({})", selection.len()),
                    );
                });
            });
        });
        if selection.is_empty() {
            self.only_selection = false;
        }
        let ids: Vec<i64> = if self.only_selection { selection.to_vec() } else { all.to_vec() };
        ui.add_space(6.0);
        match model_version {
            None => {
                ui.weak("No predicted tags yet: the library has not been embedded by a model.");
            }
            Some(version) if idle => {
                let something = self.categories.iter().any(|c| *c) || self.user_tags;
                let ready = something && !ids.is_empty() && !import_running;
                ui.horizontal(|ui| {
                    let write = ui
                        .add_enabled(ready, egui::Button::new(format!("Write tags into {} files", ids.len())))
                        .on_hover_text(format!("Predicted tags of model {version}"))
                        .on_disabled_hover_text(
                            "Wait for the import to finish, and choose something to write",
                        );
                    if write.clicked() {
                        self.start(ui.ctx(), db, ids.clone(), version.to_owned(), false);
                    }
                    if ui
                        .add_enabled(ready, egui::Button::new("Preview"))
                        .on_hover_text("Show what would be written; write nothing")
                        .clicked()
                    {
                        self.start(ui.ctx(), db, ids.clone(), version.to_owned(), true);
                    }
                });
            }
            Some(_) => {}
        }
        if let Some(running) = &self.running {
            ui.horizontal(|ui| {
                ui.spinner();
                let verb = if running.dry_run { "Looking at" } else { "Writing tags:" };
                ui.label(format!("{verb} {} of {} files", running.done, running.total));
                let fraction =
                    if running.total == 0 { 0.0 } else { running.done as f32 / running.total as f32 };
                ui.add(egui::ProgressBar::new(fraction).desired_width(160.0).show_percentage());
                if ui.button("Cancel").on_hover_text("Stop after the file in progress").clicked() {
                    running.cancel.cancel();
                }
            });
            ui.ctx().request_repaint_after(Duration::from_millis(250));
        }
        if let Some(last) = &self.last {
            ui.add_space(6.0);
            let color = if last.error { ui.visuals().error_fg_color } else { ui.visuals().text_color() };
            ui.add(egui::Label::new(egui::RichText::new(&last.headline).color(color)).wrap());
            if !last.preview.is_empty() || !last.problems.is_empty() {
                egui::ScrollArea::vertical().max_height(220.0).auto_shrink([false, true]).show(ui, |ui| {
                    for line in &last.preview {
                        ui.add(egui::Label::new(egui::RichText::new(line).small()).wrap());
                    }
                    for (kind, path, reason) in &last.problems {
                        let line = format!("{kind}: {reason}: {}", crate::text::shown(path));
                        ui.add(
                            egui::Label::new(
                                egui::RichText::new(line).small().color(ui.visuals().warn_fg_color),
                            )
                            .wrap(),
                        );
                    }
                });
            }
        }
    }
}

impl TuneAtlasApp {
    /// Picks up the tag writing's progress and draws its window (when open);
    /// re-reads the library once files were written (their size and genre changed).
    pub(super) fn tag_write_window(&mut self, ctx: &egui::Context) {
        if self.tag_writer.poll() {
            self.reload(ctx);
        }
        if !self.tag_writer.open {
            return;
        }
        let selection = self.library.selected_ids();
        let all: Vec<i64> = self.snapshot.tracks.iter().map(|t| t.id).collect();
        let model_version = self.snapshot.model_version.clone();
        let import_running = self.import.is_running();
        let mut open = true;
        egui::Window::new("Write tags into files")
            .id(egui::Id::unique("tuneatlas_tag_write_window"))
            .open(&mut open)
            .default_width(560.0)
            .show(ctx, |ui| {
                self.tag_writer.contents(
                    ui,
                    &self.db,
                    model_version.as_deref(),
                    &selection,
                    &all,
                    import_running,
                );
            });
        self.tag_writer.open = open;
    }
}

/// The `ta-gui-tagwrite` thread.
fn run(
    db: &Path,
    ids: &[i64],
    version: &str,
    options: &TagWriteOptions,
    cancel: &CancelToken,
    reply: &Reply<Msg>,
) {
    let result = Store::open(db).and_then(|mut store| {
        write_tags(&mut store, ids, version, options, cancel, |event| match event {
            TagWriteEvent::Total { n_files } => reply.send(Msg::Total(*n_files)),
            TagWriteEvent::Done(report) => reply.send(Msg::Done {
                path: report.path.clone(),
                described: report.tags.describe(),
                outcome: report.outcome.clone(),
            }),
        })
    });
    reply.send(Msg::Finished(result.map_err(|e| e.to_string())));
}
