//! Importing from the window: the folder field, the folder picker, and the
//! progress of a running import.
//!
//! The import itself is the core's [`import_folder_with`] (with the built-in
//! model, so tracks arrive with vectors and tags); here it only gets its
//! own thread (`ta-gui-import`) and its own `Store` on the same database file
//! (SQLite's WAL lets the window keep reading meanwhile). Progress events come
//! back over a channel and wake the UI; the window never blocks on the import.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::jobs::CancelToken;
use crate::library::{ImportEvent, ImportOptions, ImportSummary, Outcome, import_folder_with};
use crate::model::backend::DeviceChoice;
use crate::model::infer::Embedder;
use crate::store::{RunStatus, Store};
use crossbeam_channel::{Receiver, TryRecvError};

use super::format::{clock, eta_s, file_name};
use super::job::{self, Polled, Reply};

/// At most this often the import thread wakes the UI; more would only burn
/// frames (a scan reports thousands of files per second).
const WAKE_INTERVAL: Duration = Duration::from_millis(50);

/// While an import runs the UI redraws at least this often, so elapsed time
/// ticks even while one long file is being decoded.
const TICK_INTERVAL: Duration = Duration::from_millis(250);

/// What the import thread tells the window.
#[derive(Debug)]
enum ImportMsg {
    /// A progress event from the core.
    Event(ImportEvent),
    /// The import is over: its summary, or why nothing could be done.
    Finished(Result<ImportSummary, String>),
}

/// A running import as the window sees it.
#[derive(Debug)]
struct ImportJob {
    root: PathBuf,
    rx: Receiver<ImportMsg>,
    cancel: CancelToken,
    started: Instant,
    n_found: usize,
    scanning: bool,
    n_done: usize,
    n_failed: usize,
    current: Option<PathBuf>,
}

/// How the last import ended, for the status line.
#[derive(Debug, Clone, PartialEq)]
pub enum LastImport {
    /// It ran (to the end, or until cancelled): the summary line.
    Summary {
        /// The one-line summary.
        line: String,
        /// True when some files failed (the line is then drawn as a warning).
        any_failed: bool,
    },
    /// Nothing could be done (folder unreadable, database unwritable...).
    Error(String),
    /// A remark that is not a failure (e.g. the folder picker gave nothing).
    Note(String),
}

/// What happened in this frame that the rest of the window must react to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportUiEvent {
    /// Nothing of note.
    None,
    /// An import just ended: the library should be reloaded.
    Finished,
}

/// The import controls and their background work.
#[derive(Debug)]
pub struct ImportPanel {
    db: PathBuf,
    job: Option<ImportJob>,
    last: Option<LastImport>,
    picker: Option<Receiver<Option<PathBuf>>>,
}

impl ImportPanel {
    /// Controls that import into the library at `db`.
    pub fn new(db: PathBuf) -> Self {
        ImportPanel { db, job: None, last: None, picker: None }
    }

    /// True while an import runs.
    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    /// Drains messages from the background threads; call once per frame
    /// before drawing. `folder` receives a folder chosen in the picker.
    pub fn poll(&mut self, ctx: &egui::Context, folder: &mut String) -> ImportUiEvent {
        if let Some(rx) = &self.picker {
            match rx.try_recv() {
                Ok(choice) => {
                    match choice {
                        Some(path) => *folder = path.display().to_string(),
                        // Cancelled, or no portal/zenity to show a dialog at all.
                        None => {
                            self.last = Some(LastImport::Note(
                                "No folder chosen. If no dialog appeared, type the folder path instead."
                                    .to_owned(),
                            ))
                        }
                    }
                    self.picker = None;
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => self.picker = None,
            }
        }
        let Some(job) = &mut self.job else { return ImportUiEvent::None };
        let finished = job.drain();
        match finished {
            Some(result) => {
                self.last = Some(match result {
                    Ok(summary) => summary_line(&summary),
                    Err(reason) => LastImport::Error(format!("Import failed: {reason}")),
                });
                self.job = None;
                ImportUiEvent::Finished
            }
            None => {
                ctx.request_repaint_after(TICK_INTERVAL);
                ImportUiEvent::None
            }
        }
    }

    /// The folder row: path field, "Choose folder…", "Import". `folder` is the
    /// persisted text of the field.
    pub fn controls(&mut self, ui: &mut egui::Ui, folder: &mut String) {
        ui.horizontal(|ui| {
            ui.label("Music folder:");
            // Leave room for the two buttons after the field.
            let field_width = (ui.available_width() - 200.0).clamp(120.0, 640.0);
            let field = ui.add(
                egui::TextEdit::singleline(folder)
                    .hint_text("/path/to/music")
                    .desired_width(field_width)
                    .interactive(!self.is_running()),
            );
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let picking = self.picker.is_some();
            if ui
                .add_enabled(!self.is_running() && !picking, egui::Button::new("Choose folder…"))
                .on_hover_text("Open the system folder picker (or type the path in the field)")
                .clicked()
            {
                self.open_picker(ui.ctx(), folder);
            }
            let import = ui.add_enabled(!self.is_running(), egui::Button::new("Import")).on_hover_text(
                "Add the folder's music to the library; re-importing only processes what changed",
            );
            if (import.clicked() || enter) && !self.is_running() {
                self.start(ui.ctx(), folder);
            }
            if self.picker.is_some() {
                ui.spinner().on_hover_text("Waiting for the folder picker…");
            }
        });
    }

    /// The status area: progress of a running import, else how the last one
    /// ended. Draws nothing when there is nothing to say.
    pub fn status(&mut self, ui: &mut egui::Ui) {
        if let Some(job) = &self.job {
            job.progress_ui(ui);
            return;
        }
        let Some(last) = &self.last else { return };
        let (text, color) = match last {
            LastImport::Summary { line, any_failed: true } => {
                (egui::RichText::new(line), ui.visuals().warn_fg_color)
            }
            LastImport::Summary { line, any_failed: false } => {
                (egui::RichText::new(line), ui.visuals().text_color())
            }
            LastImport::Error(message) => {
                (egui::RichText::new(message).strong(), ui.visuals().error_fg_color)
            }
            LastImport::Note(message) => (egui::RichText::new(message), ui.visuals().weak_text_color()),
        };
        let dismiss = ui
            .horizontal(|ui| {
                ui.add(egui::Label::new(text.color(color)).wrap());
                ui.small_button("×").on_hover_text("Dismiss").clicked()
            })
            .inner;
        if dismiss {
            self.last = None;
        }
    }

    /// Asks a running import to stop and waits (briefly) for it to record the
    /// run as cancelled, so closing the window mid-import leaves a tidy
    /// database. What was committed is kept; importing again resumes.
    pub fn shutdown(&mut self, wait: Duration) {
        if let Some(job) = &self.job {
            job.cancel.cancel();
            let deadline = Instant::now() + wait;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match job.rx.recv_timeout(left) {
                    Ok(ImportMsg::Finished(_)) | Err(_) => break,
                    Ok(ImportMsg::Event(_)) => {}
                }
            }
        }
        self.job = None;
    }

    fn open_picker(&mut self, ctx: &egui::Context, folder: &str) {
        let start_dir = expand_home(folder.trim()).filter(|p| p.is_dir());
        let (tx, rx) = crossbeam_channel::bounded(1);
        let ctx = ctx.clone();
        let pick = move || {
            let mut dialog = rfd::FileDialog::new().set_title("Choose a music folder");
            if let Some(dir) = start_dir {
                dialog = dialog.set_directory(dir);
            }
            // `None` also when no portal/zenity exists: the text field still works.
            let _ = tx.send(dialog.pick_folder());
            ctx.request_repaint();
        };
        // macOS wants dialogs on the main thread; elsewhere a thread keeps the
        // window drawing while the dialog is open.
        if cfg!(target_os = "macos") {
            pick();
            self.picker = Some(rx);
            return;
        }
        match std::thread::Builder::new().name("ta-gui-dialog".into()).spawn(pick) {
            Ok(_) => self.picker = Some(rx),
            Err(e) => self.last = Some(LastImport::Error(format!("cannot open the folder picker: {e}"))),
        }
    }

    /// Starts importing the folder typed in `folder` (also the demo button's
    /// way in); a bad path is reported in the status line.
    pub fn start(&mut self, ctx: &egui::Context, folder: &mut String) {
        let text = folder.trim().to_owned();
        let Some(root) = expand_home(&text) else {
            self.last =
                Some(LastImport::Error("Type a folder path or use “Choose folder…” first.".to_owned()));
            return;
        };
        if !root.is_dir() {
            self.last = Some(LastImport::Error(format!("Not a folder: {}", root.display())));
            return;
        }
        *folder = text;
        match ImportJob::spawn(self.db.clone(), root, ctx.clone()) {
            Ok(job) => {
                self.last = None;
                self.job = Some(job);
            }
            Err(message) => self.last = Some(LastImport::Error(message)),
        }
    }
}

impl ImportJob {
    fn spawn(db: PathBuf, root: PathBuf, ctx: egui::Context) -> Result<ImportJob, String> {
        let cancel = CancelToken::new();
        let rx = {
            let (root, cancel) = (root.clone(), cancel.clone());
            job::spawn("ta-gui-import", &ctx, move |reply| import_thread(&db, &root, &cancel, &reply))
                .map_err(|e| format!("cannot start the import thread: {e}"))?
        };
        Ok(ImportJob {
            root,
            rx,
            cancel,
            started: Instant::now(),
            n_found: 0,
            scanning: true,
            n_done: 0,
            n_failed: 0,
            current: None,
        })
    }

    /// Applies every queued event; returns the result once the import is over.
    fn drain(&mut self) -> Option<Result<ImportSummary, String>> {
        loop {
            match job::poll(&self.rx) {
                Polled::Message(ImportMsg::Event(event)) => self.apply(event),
                Polled::Message(ImportMsg::Finished(result)) => return Some(result),
                Polled::Nothing => return None,
                Polled::Gone => {
                    return Some(Err("the import thread stopped unexpectedly".to_owned()));
                }
            }
        }
    }

    fn apply(&mut self, event: ImportEvent) {
        match event {
            ImportEvent::Found { n_found } => self.n_found = self.n_found.max(n_found),
            ImportEvent::ScanFinished { n_found } => {
                self.n_found = n_found;
                self.scanning = false;
            }
            ImportEvent::Started { path } => self.current = Some(path),
            ImportEvent::Done { outcome, .. } => {
                self.n_done += 1;
                if matches!(outcome, Outcome::Failed(_)) {
                    self.n_failed += 1;
                }
            }
        }
    }

    fn progress_ui(&self, ui: &mut egui::Ui) {
        let elapsed_s = self.started.elapsed().as_secs_f64();
        let fraction = if self.n_found == 0 { 0.0 } else { self.n_done as f32 / self.n_found as f32 };
        let counts = if self.scanning {
            format!("{} / {}+ files (still scanning)", self.n_done, self.n_found)
        } else {
            format!("{} / {} files", self.n_done, self.n_found)
        };
        ui.horizontal(|ui| {
            let cancelling = self.cancel.is_cancelled();
            let label = if cancelling { "Cancelling…" } else { "Cancel" };
            if ui
                .add_enabled(!cancelling, egui::Button::new(label))
                .on_hover_text(
                    "Stop after the files in progress; what is done is kept, importing again resumes",
                )
                .clicked()
            {
                self.cancel.cancel();
            }
            // The scanner is throttled by the workers (bounded channels), so on
            // a big library the total is known only near the end: the rate is
            // shown throughout, the ETA once the total is final.
            let eta = match eta_s(elapsed_s, self.n_done, self.n_found, !self.scanning) {
                Some(s) => clock(s),
                None => "–".to_owned(),
            };
            let rate = if elapsed_s > 0.5 { self.n_done as f64 / elapsed_s } else { 0.0 };
            let mut times = format!("{rate:.1} files/s   elapsed {}   ETA {eta}", clock(elapsed_s));
            if self.n_failed > 0 {
                times.push_str(&format!("   {} failed", self.n_failed));
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(times);
                ui.add(egui::ProgressBar::new(fraction).text(counts).animate(self.scanning));
            });
        });
        ui.horizontal(|ui| {
            ui.weak(format!("Importing {}", self.root.display()));
            if let Some(current) = &self.current {
                ui.label("—");
                ui.label(file_name(current)).on_hover_text(current.display().to_string());
            }
        });
    }
}

/// Body of the `ta-gui-import` thread: its own `Store`, the core import, and
/// events forwarded to the window (waking it at most every [`WAKE_INTERVAL`]).
fn import_thread(db: &Path, root: &Path, cancel: &CancelToken, reply: &Reply<ImportMsg>) {
    let result = (|| -> Result<ImportSummary, String> {
        let mut store = Store::open(db).map_err(|e| e.to_string())?;
        // The built-in model on the best device; if it cannot load, the
        // import still runs (vectors can be added later by embedding).
        let mut model_notice = None;
        let mut embedder = match Embedder::open(None, DeviceChoice::Auto) {
            Ok(e) => Some(e),
            Err(e) => {
                model_notice = Some(format!("imported without the model ({e})"));
                None
            }
        };
        let mut last_wake: Option<Instant> = None;
        let summary = import_folder_with(
            &mut store,
            root,
            &ImportOptions::default(),
            embedder.as_mut(),
            cancel,
            |event| {
                reply.send_quietly(ImportMsg::Event(event.clone()));
                if last_wake.is_none_or(|t| t.elapsed() >= WAKE_INTERVAL) {
                    reply.wake();
                    last_wake = Some(Instant::now());
                }
            },
        );
        let mut summary = summary.map_err(|e| e.to_string())?;
        summary.notices.extend(model_notice);
        Ok(summary)
    })();
    reply.send(ImportMsg::Finished(result));
}

/// The status line for a finished or cancelled run: the core's headline
/// (`impl Display for ImportSummary`) and the run's notices.
fn summary_line(s: &ImportSummary) -> LastImport {
    let mut line = s.to_string();
    for notice in &s.notices {
        line.push_str(&format!(" · {notice}"));
    }
    LastImport::Summary { line, any_failed: s.counts.failed > 0 || s.status != RunStatus::Finished }
}

/// The folder field's text as a path: trimmed, `~` expanded; `None` if empty.
fn expand_home(text: &str) -> Option<PathBuf> {
    if text.is_empty() {
        return None;
    }
    if (text == "~" || text.starts_with("~/"))
        && let Some(dirs) = directories::BaseDirs::new()
    {
        return Some(dirs.home_dir().join(text.trim_start_matches('~').trim_start_matches('/')));
    }
    Some(PathBuf::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_is_expanded_and_empty_is_none() {
        assert_eq!(expand_home(""), None);
        assert_eq!(expand_home("/music"), Some(PathBuf::from("/music")));
        if let Some(dirs) = directories::BaseDirs::new() {
            assert_eq!(expand_home("~/Music"), Some(dirs.home_dir().join("Music")));
            assert_eq!(expand_home("~"), Some(dirs.home_dir().to_path_buf()));
        }
    }

    #[test]
    fn progress_counts_follow_events() {
        let (_tx, rx) = crossbeam_channel::unbounded();
        let mut job = ImportJob {
            root: PathBuf::from("/m"),
            rx,
            cancel: CancelToken::new(),
            started: Instant::now(),
            n_found: 0,
            scanning: true,
            n_done: 0,
            n_failed: 0,
            current: None,
        };
        job.apply(ImportEvent::Found { n_found: 2 });
        job.apply(ImportEvent::Started { path: PathBuf::from("/m/a.flac") });
        job.apply(ImportEvent::Done { path: PathBuf::from("/m/a.flac"), outcome: Outcome::New });
        job.apply(ImportEvent::Done {
            path: PathBuf::from("/m/b.mp3"),
            outcome: Outcome::Failed("bad".into()),
        });
        job.apply(ImportEvent::ScanFinished { n_found: 3 });
        assert_eq!((job.n_found, job.n_done, job.n_failed, job.scanning), (3, 2, 1, false));
        assert_eq!(job.current, Some(PathBuf::from("/m/a.flac")));
    }
}
