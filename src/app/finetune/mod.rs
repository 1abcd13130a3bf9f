//! The "Fine-tune…" window (ARCHITECTURE.md §4): teach the model what the user's own
//! tags mean by "similar".
//!
//! A thin layer over the core: the settings become a
//! [`FineTuneConfig`]; the LSI preview ([`LsiView`]: topics, pairwise cosine
//! histogram, warnings) is recomputed on the `ta-gui-lsi` thread whenever
//! the tag sets, topics or thresholds change; Start runs [`fine_tune_or_cpu`]
//! (a real GPU if there is one, else the CPU) on the `ta-gui-finetune`
//! thread, which then re-embeds the library
//! with the new version (`embed_library`, as `tuneatlas finetune` does).
//! Events come back over a channel: feature progress, the loss of every
//! step and the validation P@10 (a live plot drawn with egui's painter),
//! then the held-out P@k table. Bad tags and cancellation are messages in
//! the window, never a silent no-op; a cancelled run writes no model.
//! Afterwards the user can show the new version, compare its map with the
//! parent's side by side, go back to the parent, or delete the new version.

use std::path::Path;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TryRecvError, unbounded};
use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, Vec2};

use super::embed_job::{EmbedProgress, embed_missing};
use super::*;
use crate::jobs::CancelToken;
use crate::model::backend::{DeviceChoice, select_device};
use crate::store::RunStatus;
use crate::train::features::CacheProgress;
use crate::train::finetune::eval::PrecisionTable;
use crate::train::finetune::{
    FineTuneConfig, FineTuneEvent, FineTuneRequest, TaggedTracks, TrainLayers, fine_tune_or_cpu,
};
use crate::train::lsi_view::{CosineHistogram, LsiView, LsiViewSettings, default_topics};
use crate::train::trainer::TrainEvent;
use crate::train::versions::{bundle_of_version, delete_version};

/// While a run is under way the window redraws at least this often (the
/// elapsed stage text and spinners move even between events).
const TICK_INTERVAL: Duration = Duration::from_millis(250);

/// Height of the loss / P@10 plot, in points.
const PLOT_HEIGHT_PT: f32 = 170.0;

/// Height of the cosine histogram, in points.
const HISTOGRAM_HEIGHT_PT: f32 = 120.0;

/// Size of one map in the side-by-side comparison, in points.
const COMPARE_MAP_PT: f32 = 420.0;

/// Learning rates offered (Adam; the CLI's default is 1e-3).
const LEARNING_RATES: [f64; 5] = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2];

/// Colour of the training loss line.
const LOSS_COLOR: Color32 = Color32::from_rgb(66, 146, 245);
/// Colour of the validation P@10 points.
const VALID_COLOR: Color32 = Color32::from_rgb(245, 130, 48);
/// Histogram bars of positive pairs.
const POSITIVE_COLOR: Color32 = Color32::from_rgb(60, 180, 75);
/// Histogram bars of negative pairs.
const NEGATIVE_COLOR: Color32 = Color32::from_rgb(230, 60, 75);

/// What the user set in the window (mirrors [`FineTuneConfig`]).
#[derive(Debug, Clone, PartialEq)]
struct Settings {
    /// Ticked tag sets (none ticked: every set).
    sets: Vec<String>,
    /// Use the default topic count.
    topics_auto: bool,
    /// The topic count when not automatic.
    topics: usize,
    positive_min_cos: f32,
    negative_max_cos: f32,
    batch_tracks: usize,
    layers: TrainLayers,
    learning_rate: f64,
    epochs: usize,
    patience_epochs: usize,
}

impl Default for Settings {
    fn default() -> Self {
        let d = FineTuneConfig::default();
        Settings {
            sets: Vec::new(),
            topics_auto: true,
            topics: 4,
            positive_min_cos: d.positive_min_cos,
            negative_max_cos: d.negative_max_cos,
            batch_tracks: d.batch_tracks,
            layers: d.layers,
            learning_rate: d.learning_rate,
            epochs: d.epochs,
            patience_epochs: d.patience_epochs,
        }
    }
}

impl Settings {
    fn config(&self) -> FineTuneConfig {
        FineTuneConfig {
            sets: self.sets.clone(),
            layers: self.layers,
            epochs: self.epochs,
            learning_rate: self.learning_rate,
            batch_tracks: self.batch_tracks,
            positive_min_cos: self.positive_min_cos,
            negative_max_cos: self.negative_max_cos,
            topics: (!self.topics_auto).then_some(self.topics),
            patience_epochs: self.patience_epochs,
            ..FineTuneConfig::default()
        }
    }

    fn preview_key(&self, generation: u64) -> PreviewKey {
        PreviewKey {
            sets: self.sets.clone(),
            topics: (!self.topics_auto).then_some(self.topics),
            positive_min_cos: self.positive_min_cos,
            negative_max_cos: self.negative_max_cos,
            generation,
        }
    }
}

/// What the LSI preview depends on.
#[derive(Debug, Clone, PartialEq)]
struct PreviewKey {
    sets: Vec<String>,
    topics: Option<usize>,
    positive_min_cos: f32,
    negative_max_cos: f32,
    /// The library snapshot's generation (tags changed: recompute).
    generation: u64,
}

/// One tag set with how much of the library it covers.
#[derive(Debug, Clone, PartialEq)]
struct SetInfo {
    name: String,
    tracks: usize,
    tags: usize,
}

/// What the preview thread sends back.
#[derive(Debug)]
struct PreviewOut {
    sets: Vec<SetInfo>,
    default_topics: Option<usize>,
    view: Result<LsiView, String>,
}

/// A preview being computed.
struct PreviewJob {
    key: PreviewKey,
    rx: Receiver<PreviewOut>,
}

/// The new version, once training finished.
#[derive(Debug, Clone)]
struct Trained {
    version: String,
    parent: String,
    table: PrecisionTable,
    line: String,
}

/// How re-embedding ended.
#[derive(Debug, Clone, PartialEq)]
enum EmbedEnd {
    Done(String),
    Cancelled(String),
    Failed(String),
}

/// What the run thread tells the window.
#[derive(Debug)]
enum RunMsg {
    Event(FineTuneEvent),
    /// Training failed or was cancelled; the thread ends.
    Failed {
        message: String,
    },
    Trained(Box<Trained>),
    EmbedTotal(usize),
    EmbedStep {
        failed: bool,
    },
    Notice(String),
    /// Re-embedding ended; the thread ends.
    Embedded(EmbedEnd),
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Preparing,
    Training,
    Embedding,
    Finished,
}

/// A run (under way or over) as the window shows it.
struct RunView {
    rx: Option<Receiver<RunMsg>>,
    cancel: CancelToken,
    stage: Stage,
    parent: String,
    features: Option<CacheProgress>,
    summary: Option<String>,
    notices: Vec<String>,
    total_steps: usize,
    steps_done: usize,
    /// What trains (a real GPU through wgpu, else the CPU).
    device: Option<String>,
    /// (step, loss) of every step.
    loss: Vec<[f64; 2]>,
    /// (step, validation P@10).
    valid: Vec<[f64; 2]>,
    /// The starting model's validation P@10.
    baseline: Option<f64>,
    /// Why training produced nothing (bad tags, cancel, failure).
    error: Option<String>,
    trained: Option<Trained>,
    embed_total: usize,
    embed_done: usize,
    embed_failed: usize,
    embed_end: Option<EmbedEnd>,
    /// The new version was deleted.
    deleted: bool,
}

impl RunView {
    fn new(rx: Receiver<RunMsg>, cancel: CancelToken, parent: String, stage: Stage) -> RunView {
        RunView {
            rx: Some(rx),
            cancel,
            stage,
            parent,
            features: None,
            summary: None,
            notices: Vec::new(),
            total_steps: 0,
            steps_done: 0,
            device: None,
            loss: Vec::new(),
            valid: Vec::new(),
            baseline: None,
            error: None,
            trained: None,
            embed_total: 0,
            embed_done: 0,
            embed_failed: 0,
            embed_end: None,
            deleted: false,
        }
    }

    fn is_running(&self) -> bool {
        self.rx.is_some()
    }

    /// Takes the thread's messages; true when re-embedding just ended
    /// (the library should be re-read: it has a new version).
    fn drain(&mut self) -> bool {
        let Some(rx) = self.rx.take() else { return false };
        let mut embedded = false;
        let mut ended = false;
        loop {
            match rx.try_recv() {
                Ok(msg) => match msg {
                    RunMsg::Event(e) => self.on_event(e),
                    RunMsg::Failed { message } => {
                        self.error = Some(message);
                        self.stage = Stage::Finished;
                        ended = true;
                    }
                    RunMsg::Trained(t) => {
                        self.trained = Some(*t);
                        self.stage = Stage::Embedding;
                    }
                    RunMsg::EmbedTotal(n) => {
                        self.embed_total = n;
                        self.embed_done = 0;
                        self.embed_failed = 0;
                    }
                    RunMsg::EmbedStep { failed } => {
                        self.embed_done += 1;
                        self.embed_failed += usize::from(failed);
                    }
                    RunMsg::Notice(n) => self.notices.push(n),
                    RunMsg::Embedded(end) => {
                        self.embed_end = Some(end);
                        self.stage = Stage::Finished;
                        embedded = true;
                        ended = true;
                    }
                },
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    if self.stage != Stage::Finished {
                        self.error = Some("the fine-tuning thread stopped unexpectedly".to_owned());
                        self.stage = Stage::Finished;
                    }
                    ended = true;
                    break;
                }
            }
        }
        if !ended {
            self.rx = Some(rx);
        }
        embedded
    }

    fn on_event(&mut self, e: FineTuneEvent) {
        match e {
            FineTuneEvent::Prepared { summary } => {
                // A new attempt (the CPU after a failed GPU run) plots afresh.
                self.loss.clear();
                self.valid.clear();
                self.steps_done = 0;
                self.summary = Some(summary);
                self.stage = Stage::Training;
            }
            FineTuneEvent::Features(p) => self.features = Some(p),
            FineTuneEvent::Baseline(m) => {
                self.baseline = m.iter().find(|(k, _)| k == "valid_p10").map(|(_, v)| *v);
                if let Some(p) = self.baseline {
                    self.valid.push([0.0, p]);
                }
            }
            FineTuneEvent::Train(TrainEvent::Started { total_steps, device, .. }) => {
                self.total_steps = total_steps;
                self.device = Some(device);
            }
            FineTuneEvent::Train(TrainEvent::Step { step, total_steps, loss, .. }) => {
                self.total_steps = total_steps;
                self.steps_done = step;
                self.loss.push([step as f64, f64::from(loss)]);
            }
            FineTuneEvent::Train(TrainEvent::Validation { step, metrics }) => {
                if let Some((_, p)) = metrics.iter().find(|(k, _)| k == "valid_p10") {
                    self.valid.push([step as f64, *p]);
                }
            }
            FineTuneEvent::Train(TrainEvent::Checkpoint { .. }) => {}
            FineTuneEvent::Notice(n) => self.notices.push(n),
        }
    }
}

/// One side of the map comparison.
struct MapSide {
    version: String,
    job: Option<MapJob>,
    points: Vec<(i64, [f32; 2])>,
    error: Option<String>,
}

/// The parent's and the new version's maps side by side.
struct Compare {
    sides: [MapSide; 2],
    hovered: Option<i64>,
    open: bool,
}

/// What the window asks the app to do.
#[derive(Debug, Clone, PartialEq)]
enum Action {
    /// Show (reload with) this model version.
    ShowVersion(String),
    /// Re-read the library (a version appeared or went).
    Reload,
}

/// The fine-tuning window's state and its background work.
#[derive(Default)]
pub struct FineTunePanel {
    open: bool,
    settings: Settings,
    sets: Vec<SetInfo>,
    sets_known: bool,
    default_topics: Option<usize>,
    preview: Option<Result<LsiView, String>>,
    preview_key: Option<PreviewKey>,
    preview_job: Option<PreviewJob>,
    /// Why Start did nothing (shown in red; e.g. an import is running).
    message: Option<String>,
    run: Option<RunView>,
    compare: Option<Compare>,
    confirm_delete: bool,
    deleting: Option<Receiver<Result<usize, String>>>,
}

impl FineTunePanel {
    /// Opens the window (the menu item).
    pub fn open(&mut self) {
        self.open = true;
    }

    /// True while fine-tuning or re-embedding runs.
    pub fn is_running(&self) -> bool {
        self.run.as_ref().is_some_and(RunView::is_running)
    }

    /// Cancels a running fine-tune or re-embedding and waits up to `wait`
    /// for its thread to end, so closing the window leaves no scratch
    /// folder behind and the current model untouched (the run writes its
    /// model only once training finished).
    pub fn shutdown(&mut self, wait: std::time::Duration) {
        let Some(run) = &mut self.run else { return };
        let Some(rx) = run.rx.take() else { return };
        run.cancel.cancel();
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            // The thread's sender goes when it ends: a disconnect (or the deadline) ends the wait.
            if rx.recv_timeout(left).is_err() {
                break;
            }
        }
    }

    /// Recomputes the preview when its inputs changed and none is under way.
    fn refresh_preview(&mut self, ctx: &egui::Context, db: &Path, generation: u64) {
        if let Some(job) = &self.preview_job {
            match job.rx.try_recv() {
                Ok(out) => {
                    self.preview_key = Some(job.key.clone());
                    self.preview_job = None;
                    if !self.sets_known {
                        self.sets_known = true;
                        self.settings.sets =
                            out.sets.iter().filter(|s| s.tracks > 0).map(|s| s.name.clone()).collect();
                    }
                    self.sets = out.sets;
                    self.default_topics = out.default_topics;
                    if let (Some(d), true) = (out.default_topics, self.settings.topics_auto) {
                        self.settings.topics = d;
                    }
                    self.preview = Some(out.view);
                }
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    self.preview_job = None;
                    self.preview = Some(Err("the preview thread stopped unexpectedly".to_owned()));
                }
            }
        }
        let key = self.settings.preview_key(generation);
        if self.preview_key.as_ref() == Some(&key) {
            return;
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (db, job_key, ctx) = (db.to_path_buf(), key.clone(), ctx.clone());
        let spawned = std::thread::Builder::new().name("ta-gui-lsi".into()).spawn(move || {
            let _ = tx.send(compute_preview(&db, &job_key));
            ctx.request_repaint();
        });
        match spawned {
            Ok(_) => self.preview_job = Some(PreviewJob { key, rx }),
            Err(e) => {
                self.preview_key = Some(key);
                self.preview = Some(Err(format!("cannot start the preview thread: {e}")));
            }
        }
    }

    /// True when the preview, computed on every training track (not a
    /// sample), shows that a run would find no triplets: Start would only
    /// fail after the feature extraction.
    fn preview_blocks(&self) -> bool {
        matches!(&self.preview, Some(Ok(v)) if v.blocks_training() && v.n_pair_tracks == v.n_tracks)
    }

    /// Starts fine-tuning `parent` (the version shown; `None`: built-in).
    fn start(&mut self, ctx: &egui::Context, db: &Path, parent: Option<String>) {
        self.message = None;
        self.confirm_delete = false;
        self.compare = None;
        let (tx, rx) = unbounded();
        let cancel = CancelToken::new();
        let parent_name = parent.clone().unwrap_or_else(|| "the built-in model".to_owned());
        let (db, cfg, job_cancel, job_ctx) =
            (db.to_path_buf(), self.settings.config(), cancel.clone(), ctx.clone());
        let spawned = std::thread::Builder::new()
            .name("ta-gui-finetune".into())
            .spawn(move || run_thread(&db, parent, cfg, &job_cancel, &tx, &job_ctx));
        match spawned {
            Ok(_) => self.run = Some(RunView::new(rx, cancel, parent_name, Stage::Preparing)),
            Err(e) => self.message = Some(format!("cannot start the fine-tuning thread: {e}")),
        }
    }

    /// Re-embeds the library with the run's new version (after a cancel).
    fn resume_embedding(&mut self, ctx: &egui::Context, db: &Path) {
        let Some(run) = &mut self.run else { return };
        let Some(trained) = &run.trained else { return };
        let (tx, rx) = unbounded();
        let cancel = CancelToken::new();
        let (db, version, job_cancel, job_ctx) =
            (db.to_path_buf(), trained.version.clone(), cancel.clone(), ctx.clone());
        let spawned = std::thread::Builder::new().name("ta-gui-reembed".into()).spawn(move || {
            let end = embed_thread(&db, &version, &job_cancel, &tx, &job_ctx);
            let _ = tx.send(RunMsg::Embedded(end));
            job_ctx.request_repaint();
        });
        match spawned {
            Ok(_) => {
                run.rx = Some(rx);
                run.cancel = cancel;
                run.stage = Stage::Embedding;
                run.embed_end = None;
            }
            Err(e) => self.message = Some(format!("cannot start re-embedding: {e}")),
        }
    }

    /// Deletes the run's new version on the `ta-gui-delete` thread.
    fn delete(&mut self, ctx: &egui::Context, db: &Path, version: String) {
        self.compare = None; // its map jobs must not write a layout meanwhile
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (db, ctx) = (db.to_path_buf(), ctx.clone());
        let spawned = std::thread::Builder::new().name("ta-gui-delete".into()).spawn(move || {
            let result = Store::open(&db)
                .and_then(|mut store| delete_version(&mut store, &db, &version))
                .map_err(|e| e.to_string());
            let _ = tx.send(result);
            ctx.request_repaint();
        });
        match spawned {
            Ok(_) => self.deleting = Some(rx),
            Err(e) => self.message = Some(format!("cannot start deleting: {e}")),
        }
    }

    /// Takes finished background work; returns what the app must do.
    fn poll(&mut self, ctx: &egui::Context) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Some(run) = &mut self.run {
            if run.drain() {
                actions.push(Action::Reload);
            }
            if run.is_running() {
                ctx.request_repaint_after(TICK_INTERVAL);
            }
        }
        if let Some(rx) = &self.deleting {
            match rx.try_recv() {
                Ok(result) => {
                    self.deleting = None;
                    match result {
                        Ok(n) => {
                            if let Some(run) = &mut self.run {
                                run.deleted = true;
                                run.notices
                                    .push(format!("Deleted the new version and its {n} track vectors."));
                            }
                            actions.push(Action::Reload);
                        }
                        Err(e) => self.message = Some(format!("The version could not be deleted: {e}")),
                    }
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => self.deleting = None,
            }
        }
        if let Some(compare) = &mut self.compare {
            for side in &mut compare.sides {
                if let Some(job) = &mut side.job
                    && let Some(result) = job.poll()
                {
                    side.job = None;
                    match result {
                        Ok(map) => {
                            side.points =
                                map.layout.points().iter().map(|c| (c.track_id, [c.x, -c.y])).collect();
                        }
                        Err(e) => side.error = Some(e),
                    }
                }
            }
        }
        actions
    }
}

/// Set sizes and the LSI view for `key` (the preview thread's work).
fn compute_preview(db: &Path, key: &PreviewKey) -> PreviewOut {
    let store = match Store::open_read_only(db) {
        Ok(s) => s,
        Err(e) => return PreviewOut { sets: Vec::new(), default_topics: None, view: Err(e.to_string()) },
    };
    let mut sets = Vec::new();
    for name in store.tag_sets().unwrap_or_default() {
        let rows = store.all_user_tags(Some(&name)).unwrap_or_default();
        let mut tracks: Vec<i64> = rows.iter().map(|r| r.0).collect();
        tracks.dedup();
        let mut tags: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
        tags.sort_unstable();
        tags.dedup();
        sets.push(SetInfo { name, tracks: tracks.len(), tags: tags.len() });
    }
    let settings = LsiViewSettings {
        topics: key.topics,
        positive_min_cos: key.positive_min_cos,
        negative_max_cos: key.negative_max_cos,
        ..LsiViewSettings::default()
    };
    match TaggedTracks::read(&store, &key.sets) {
        Ok(tagged) => PreviewOut {
            sets,
            default_topics: Some(default_topics(&tagged)),
            view: LsiView::of_tagged(&tagged, &settings).map_err(|e| e.to_string()),
        },
        Err(e) => PreviewOut { sets, default_topics: None, view: Err(e.to_string()) },
    }
}

/// The `ta-gui-finetune` thread: fine-tune, then re-embed the library.
fn run_thread(
    db: &Path,
    parent: Option<String>,
    cfg: FineTuneConfig,
    cancel: &CancelToken,
    tx: &Sender<RunMsg>,
    ctx: &egui::Context,
) {
    let send = |m: RunMsg| {
        let _ = tx.send(m);
        ctx.request_repaint();
    };
    let trained = (|| {
        let mut store = Store::open(db)?;
        let req = FineTuneRequest::for_library(db, bundle_of_version(db, parent.as_deref())?, cfg, None);
        // A real GPU trains through wgpu (the CPU if it fails); without one
        // (or with only a software adapter such as lavapipe, ~30× slower
        // here) the CPU does.
        let device = select_device(DeviceChoice::Auto)?;
        fine_tune_or_cpu(&mut store, &req, &device, cancel, &mut |e| send(RunMsg::Event(e.clone())))
    })();
    let outcome = match trained {
        Ok(o) => o,
        Err(e) => {
            let message = match e {
                crate::Error::Cancelled => format!(
                    "Fine-tuning cancelled: no model was written; {} is unchanged and still in use.",
                    parent.as_deref().unwrap_or("the built-in model")
                ),
                crate::Error::BadTags(problem) => format!("Cannot fine-tune on these tags: {problem}."),
                other => format!("Fine-tuning failed: {other}"),
            };
            send(RunMsg::Failed { message });
            return;
        }
    };
    let steps_line = format!(
        "Trained {} steps in {:.0} s{}{}.",
        outcome.steps,
        outcome.train_seconds,
        outcome.stopped_early_at.map_or(String::new(), |s| format!(", stopped early after step {s}")),
        match outcome.best_step {
            Some(0) => ", no step beat the starting model (its weights are kept)".to_owned(),
            Some(s) => format!(", kept the weights of step {s}"),
            None => String::new(),
        }
    );
    let version = outcome.card.version.clone();
    send(RunMsg::Trained(Box::new(Trained {
        version: version.clone(),
        parent: outcome.card.provenance.parent.clone().unwrap_or_default(),
        table: outcome.table,
        line: steps_line,
    })));
    let end = embed_thread(db, &version, cancel, tx, ctx);
    send(RunMsg::Embedded(end));
}

/// Re-embeds every track without a vector for `version` (resumable).
fn embed_thread(
    db: &Path,
    version: &str,
    cancel: &CancelToken,
    tx: &Sender<RunMsg>,
    ctx: &egui::Context,
) -> EmbedEnd {
    let send = |m: RunMsg| {
        let _ = tx.send(m);
        ctx.request_repaint();
    };
    let result = embed_missing(db, Some(&crate::config::model_dir(db, version)), cancel, |p| {
        send(match p {
            EmbedProgress::Total(n) => RunMsg::EmbedTotal(n),
            EmbedProgress::Step { failed } => RunMsg::EmbedStep { failed },
            EmbedProgress::Notice(n) => RunMsg::Notice(n),
        });
    });
    match result {
        Ok(s) if s.status == RunStatus::Cancelled => EmbedEnd::Cancelled(format!(
            "Re-embedding cancelled after {} tracks; the new version is kept and re-embedding can resume.",
            s.n_embedded
        )),
        Ok(s) => EmbedEnd::Done(format!(
            "Re-embedded {} tracks with {} in {:.0} s{}.",
            s.n_embedded,
            s.model_version,
            s.elapsed_s,
            if s.failures.is_empty() { String::new() } else { format!(" ({} failed)", s.failures.len()) }
        )),
        Err(crate::Error::Cancelled) => EmbedEnd::Cancelled(
            "Re-embedding cancelled; the new version is kept and re-embedding can resume.".to_owned(),
        ),
        Err(e) => EmbedEnd::Failed(format!("Re-embedding failed: {e}")),
    }
}

impl TuneAtlasApp {
    /// Draws the fine-tuning window (when open) and the map comparison, and
    /// carries out what they ask (switch version, reload).
    pub(super) fn finetune_window(&mut self, ctx: &egui::Context) {
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
    pub(super) fn show_model_version(&mut self, ctx: &egui::Context, version: String) {
        self.load = match Loader::spawn(self.db.clone(), Some(version), false, ctx.clone()) {
            Ok(loader) => LoadState::Loading(loader),
            Err(message) => LoadState::Failed(message),
        };
    }

    fn finetune_contents(&mut self, ui: &mut egui::Ui) -> Vec<Action> {
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

    fn finetune_settings(&mut self, ui: &mut egui::Ui) {
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

    fn lsi_preview(&mut self, ui: &mut egui::Ui) {
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

    fn run_section(&mut self, ui: &mut egui::Ui) -> Vec<Action> {
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
    fn compare_window(&mut self, ctx: &egui::Context) {
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

/// The held-out P@k table (the paper's Table II for this library).
fn precision_table(ui: &mut egui::Ui, table: &PrecisionTable) {
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
fn plot_area(
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
fn draw_histogram(ui: &mut egui::Ui, h: &CosineHistogram, upper: f32, lower: f32) {
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
fn draw_training_plot(
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
fn draw_scatter(
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
