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

mod plots;
mod window;
mod worker;

use std::path::Path;
use std::time::Duration;

use crossbeam_channel::{Receiver, TryRecvError};
use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, Vec2};

use super::embed_job::{EmbedProgress, embed_missing};
use super::job::{self, Polled, Reply};
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
