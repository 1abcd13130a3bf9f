//! The offer to re-embed a library with a newer built-in model.
//!
//! Why: vectors are stored per model version and never mixed, so after an
//! update whose built-in model improved, a library keeps showing the old
//! model's map, tags and neighbours. Switching silently would hide that
//! the whole library must be decoded again (minutes on a large one); never
//! switching would keep the better model from the user. So the status bar
//! says which model the library shows and which one is built in, and offers
//! to re-embed in the background (`embed_library`, resumable: closing the
//! app keeps what was written). The old vectors stay; the view switches to
//! the new model once every track has its vector.

use std::path::Path;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::embed_job::{EmbedProgress, embed_missing};
use super::job::{self, Reply};
use crate::browse::LibrarySnapshot;
use crate::jobs::CancelToken;
use crate::library::EmbedSummary;
use crate::store::RunStatus;
use crate::train::versions::{BuiltinUpgrade, builtin_upgrade};

/// What the re-embedding thread reports.
#[derive(Debug)]
enum UpgradeMsg {
    Total(usize),
    Step { failed: bool },
    Notice(String),
    Finished(Result<EmbedSummary, String>),
}

/// A running re-embedding.
struct UpgradeJob {
    rx: Receiver<UpgradeMsg>,
    cancel: CancelToken,
    to: String,
    total: Option<usize>,
    done: usize,
    failed: usize,
    started: Instant,
}

/// The status-bar offer and its background job.
#[derive(Default)]
pub struct UpgradePanel {
    offer: Option<BuiltinUpgrade>,
    /// The offer the user dismissed (not shown again this session).
    dismissed: Option<BuiltinUpgrade>,
    job: Option<UpgradeJob>,
    /// How the last job ended: (text, is an error).
    last: Option<(String, bool)>,
}

impl UpgradePanel {
    /// Re-reads whether `snapshot` (of the library at `db`) shows an
    /// earlier built-in model. Called whenever a snapshot is installed.
    pub fn refresh(&mut self, db: &Path, snapshot: &LibrarySnapshot) {
        let Ok(builtin) = crate::model::record::embedded_card() else {
            self.offer = None;
            return;
        };
        self.offer = builtin_upgrade(db, &snapshot.models, snapshot.model_version.as_deref(), &builtin);
    }

    /// Draws the offer, the progress or the outcome in the status bar.
    /// Returns the version to show once a re-embedding finished.
    pub fn status(&mut self, ui: &mut egui::Ui, db: &Path, import_running: bool) -> Option<String> {
        let finished = self.poll();
        if let Some(job) = &self.job {
            ui.horizontal(|ui| {
                let total = job.total.unwrap_or(0);
                let fraction = if total == 0 { 0.0 } else { job.done as f32 / total as f32 };
                ui.spinner();
                ui.label(format!("Re-embedding with {}: {} of {} tracks", job.to, job.done, total));
                if job.failed > 0 {
                    ui.colored_label(ui.visuals().warn_fg_color, format!("{} failed", job.failed));
                }
                ui.add(egui::ProgressBar::new(fraction).desired_width(200.0).show_percentage());
                if ui
                    .button("Cancel")
                    .on_hover_text("Stop; what was embedded is kept and the next run resumes")
                    .clicked()
                {
                    job.cancel.cancel();
                }
            });
            ui.ctx().request_repaint_after(Duration::from_millis(250));
            return finished;
        }
        if let Some((text, error)) = self.last.clone() {
            ui.horizontal(|ui| {
                let color = if error { ui.visuals().error_fg_color } else { ui.visuals().text_color() };
                ui.add(egui::Label::new(egui::RichText::new(text).color(color)).wrap());
                if ui.small_button("×").on_hover_text("Dismiss").clicked() {
                    self.last = None;
                }
            });
        }
        let offer = self.offer.clone().filter(|o| self.dismissed.as_ref() != Some(o));
        if let Some(offer) = offer {
            ui.horizontal(|ui| {
                ui.label(format!(
                    "This library shows {}; the built-in model is now {}.",
                    offer.from, offer.to
                ));
                let start = ui
                    .add_enabled(!import_running, egui::Button::new(format!("Re-embed with {}", offer.to)))
                    .on_hover_text(
                        "Decode every track again and embed it with the new model, in the background. \
                         The current vectors stay; the view switches when all tracks are done.",
                    )
                    .on_disabled_hover_text("Wait for the import to finish");
                if start.clicked() {
                    self.start(ui.ctx(), db, offer.to.clone());
                }
                if ui.small_button("Not now").clicked() {
                    self.dismissed = Some(offer);
                }
            });
        }
        finished
    }

    fn start(&mut self, ctx: &egui::Context, db: &Path, to: String) {
        let cancel = CancelToken::new();
        let (db, job_cancel) = (db.to_path_buf(), cancel.clone());
        let spawned =
            job::spawn("ta-gui-upgrade", ctx, move |reply| upgrade_thread(&db, &job_cancel, &reply));
        match spawned {
            Ok(rx) => {
                self.last = None;
                self.job = Some(UpgradeJob {
                    rx,
                    cancel,
                    to,
                    total: None,
                    done: 0,
                    failed: 0,
                    started: Instant::now(),
                });
            }
            Err(e) => self.last = Some((format!("cannot start re-embedding: {e}"), true)),
        }
    }

    /// Takes the job's messages; returns the version to show when it
    /// finished with every track embedded.
    fn poll(&mut self) -> Option<String> {
        let job = self.job.as_mut()?;
        let mut end = None;
        for msg in job.rx.try_iter() {
            match msg {
                UpgradeMsg::Total(n) => job.total = Some(n),
                UpgradeMsg::Step { failed } => {
                    job.done += 1;
                    job.failed += usize::from(failed);
                }
                UpgradeMsg::Notice(n) => tracing::info!("re-embedding: {n}"),
                UpgradeMsg::Finished(result) => end = Some(result),
            }
        }
        let result = end?;
        let job = self.job.take()?;
        match result {
            Ok(s) if s.status == RunStatus::Cancelled => {
                self.last = Some((
                    format!(
                        "Re-embedding cancelled after {} tracks; starting it again resumes where it stopped.",
                        s.n_embedded
                    ),
                    false,
                ));
                None
            }
            Ok(s) => {
                let failed = if s.failures.is_empty() {
                    String::new()
                } else {
                    format!(" ({} could not be decoded and keep no vector)", s.failures.len())
                };
                self.last = Some((
                    format!(
                        "Re-embedded {} tracks with {} in {:.0} s{failed}.",
                        s.n_embedded,
                        s.model_version,
                        job.started.elapsed().as_secs_f64()
                    ),
                    !s.failures.is_empty(),
                ));
                self.offer = None;
                Some(job.to)
            }
            Err(message) => {
                self.last = Some((format!("Re-embedding failed: {message}"), true));
                None
            }
        }
    }

    /// Cancels a running re-embedding and waits up to `wait` for it to
    /// commit its last batch (closing the window).
    pub fn shutdown(&mut self, wait: Duration) {
        let Some(job) = &self.job else { return };
        job.cancel.cancel();
        let deadline = Instant::now() + wait;
        while let Ok(msg) = job.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if matches!(msg, UpgradeMsg::Finished(_)) {
                break;
            }
        }
    }
}

/// The `ta-gui-upgrade` thread: embed every track without a vector for the
/// built-in model.
fn upgrade_thread(db: &Path, cancel: &CancelToken, reply: &Reply<UpgradeMsg>) {
    let result = embed_missing(db, None, cancel, |p| {
        reply.send(match p {
            EmbedProgress::Total(n) => UpgradeMsg::Total(n),
            EmbedProgress::Step { failed } => UpgradeMsg::Step { failed },
            EmbedProgress::Notice(n) => UpgradeMsg::Notice(n),
        });
    });
    reply.send(UpgradeMsg::Finished(result.map_err(|e| e.to_string())));
}
