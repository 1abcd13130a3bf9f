//! `tuneatlas embed`: (re-)embed the stored library with a model version,
//! without scanning. Each track's stored clip grid is decoded again, turned
//! into log-mels and run through the model; vectors and tags are written per
//! batch in one transaction, so the job is resumable — a rerun embeds only
//! the tracks that still have no vector for this model version, and vectors
//! of other model versions are never touched.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use crate::audio::decode::AudioFile;
use crate::features::{LogMel, MelExtractor};
use crate::jobs::{CancelToken, worker_count};
use crate::library::model_stage::{ModelBatcher, model_row};
use crate::model::infer::Embedder;
use crate::store::{Embedding, RunStatus, Store};
use crate::{Error, Result};

/// Progress of an embed job.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbedEvent {
    /// How many tracks this run will embed.
    Total {
        /// Tracks without a vector for the model version.
        n_tracks: usize,
    },
    /// A track is done (written) or failed.
    Done {
        /// The file.
        path: PathBuf,
        /// `None` when stored, else why not.
        error: Option<String>,
    },
    /// Something the user should know (e.g. the GPU failed and the job
    /// continues on the CPU).
    Notice(String),
}

/// The closing report of an embed job.
#[derive(Debug, Clone)]
pub struct EmbedSummary {
    /// The model version embedded with.
    pub model_version: String,
    /// Finished or cancelled.
    pub status: RunStatus,
    /// Tracks that got vectors in this run.
    pub n_embedded: usize,
    /// Tracks that failed, with reasons (they keep no vector and are retried next run).
    pub failures: Vec<(PathBuf, String)>,
    /// Notices raised during the run.
    pub notices: Vec<String>,
    /// Wall time.
    pub elapsed_s: f64,
}

/// Files that failed, with reasons.
type Failures = Vec<(PathBuf, String)>;

struct Work {
    track_id: i64,
    path: PathBuf,
    starts_s: Vec<f64>,
}

/// Decodes `starts_s` of the file at `path` and computes one log-mel per clip:
/// the feature half of the pipeline, shared by import and embed.
pub(crate) fn clip_features(
    audio: &mut AudioFile,
    starts_s: &[f64],
    decode_through: bool,
    mel: &MelExtractor,
) -> Result<Vec<(Vec<f32>, LogMel)>> {
    let clips = if decode_through {
        audio.read_clips_decode_through(starts_s)?
    } else {
        audio.read_clips(starts_s)?
    };
    Ok(clips
        .into_iter()
        .map(|samples| {
            let features = mel.compute(&samples);
            (samples, features)
        })
        .collect())
}

/// Embeds every stored track that has no vector for `embedder`'s model
/// version yet (see module docs).
pub fn embed_library(
    store: &mut Store,
    embedder: &mut Embedder,
    cancel: &CancelToken,
    mut on_event: impl FnMut(&EmbedEvent),
) -> Result<EmbedSummary> {
    let started = Instant::now();
    let model_version = embedder.model_version().to_string();
    store.register_model(&model_row(embedder))?;
    let todo = store.tracks_without_vectors(&model_version)?;
    let mut work = Vec::with_capacity(todo.len());
    for id in &todo {
        let Some(track) = store.track(*id)? else { continue };
        let starts_s = store.clips(*id)?.into_iter().map(|c| c.start_s).collect();
        work.push(Work { track_id: *id, path: track.path, starts_s });
    }
    on_event(&EmbedEvent::Total { n_tracks: work.len() });
    let stop = cancel.child();
    let n_workers = worker_count();
    let (work_tx, work_rx) = bounded::<Work>(n_workers * 2);
    let (feat_tx, feat_rx) = bounded::<(Work, Result<Vec<LogMel>>)>(n_workers * 2);
    let (write_tx, write_rx) = bounded::<(Work, Result<Embedding>)>(256);
    let (event_tx, event_rx) = bounded::<EmbedEvent>(1024);

    let result = std::thread::scope(|scope| -> Result<(usize, Failures, Vec<String>)> {
        let spawn_err = |e: std::io::Error| Error::Invalid(format!("cannot start a thread: {e}"));
        {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("ta-embed-feed".into())
                .spawn_scoped(scope, move || {
                    for w in work {
                        if stop.is_cancelled() || work_tx.send(w).is_err() {
                            break;
                        }
                    }
                })
                .map_err(spawn_err)?;
        }
        for i in 0..n_workers {
            let (stop, work_rx, feat_tx) = (stop.clone(), work_rx.clone(), feat_tx.clone());
            std::thread::Builder::new()
                .name(format!("ta-decode-{i}"))
                .spawn_scoped(scope, move || feature_worker(&stop, &work_rx, &feat_tx))
                .map_err(spawn_err)?;
        }
        drop((work_rx, feat_tx));
        {
            let (stop, event_tx) = (stop.clone(), event_tx.clone());
            let embedder = &mut *embedder;
            std::thread::Builder::new()
                .name("ta-model".into())
                .spawn_scoped(scope, move || model_loop(embedder, &stop, &feat_rx, &write_tx, &event_tx))
                .map_err(spawn_err)?;
        }
        let writer = {
            let (stop, event_tx) = (stop.clone(), event_tx.clone());
            let (store, version) = (&mut *store, model_version.clone());
            std::thread::Builder::new()
                .name("ta-writer".into())
                .spawn_scoped(scope, move || embed_writer(store, &version, &stop, &write_rx, &event_tx))
                .map_err(spawn_err)?
        };
        drop(event_tx);
        let mut notices = Vec::new();
        for event in event_rx.iter() {
            if let EmbedEvent::Notice(n) = &event {
                notices.push(n.clone());
            }
            on_event(&event);
        }
        let (n, failures) =
            writer.join().map_err(|_| Error::Invalid("the embed writer thread panicked".into()))??;
        Ok((n, failures, notices))
    });
    let (n_embedded, failures, notices) = result?;
    Ok(EmbedSummary {
        model_version,
        status: if stop.is_cancelled() { RunStatus::Cancelled } else { RunStatus::Finished },
        n_embedded,
        failures,
        notices,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

fn feature_worker(
    stop: &CancelToken,
    work_rx: &Receiver<Work>,
    feat_tx: &Sender<(Work, Result<Vec<LogMel>>)>,
) {
    let mel = MelExtractor::new();
    for w in work_rx.iter() {
        if stop.is_cancelled() {
            continue;
        }
        let path = w.path.clone();
        let features = catch_unwind(AssertUnwindSafe(|| -> Result<Vec<LogMel>> {
            let mut audio = AudioFile::open(&w.path)?;
            Ok(clip_features(&mut audio, &w.starts_s, false, &mel)?.into_iter().map(|(_, f)| f).collect())
        }))
        .unwrap_or_else(|_| Err(Error::decode("the decoder crashed on this file (please report it)", &path)));
        if feat_tx.send((w, features)).is_err() {
            return;
        }
    }
}

/// How long the model stage waits for more clips before running a partial batch.
const IDLE_FLUSH: Duration = Duration::from_millis(50);

fn model_loop(
    embedder: &mut Embedder,
    stop: &CancelToken,
    feat_rx: &Receiver<(Work, Result<Vec<LogMel>>)>,
    write_tx: &Sender<(Work, Result<Embedding>)>,
    event_tx: &Sender<EmbedEvent>,
) {
    let mut batcher = ModelBatcher::new(embedder);
    loop {
        let finished = match feat_rx.recv_timeout(if batcher.is_empty() {
            Duration::from_secs(3600)
        } else {
            IDLE_FLUSH
        }) {
            Ok((w, Ok(features))) if !stop.is_cancelled() => batcher.push(w, features),
            Ok((w, Ok(_))) => vec![(w, Err(Error::Cancelled))],
            Ok((w, Err(e))) => vec![(w, Err(e))],
            Err(RecvTimeoutError::Timeout) => batcher.flush(),
            Err(RecvTimeoutError::Disconnected) => {
                let rest = batcher.flush();
                for item in rest {
                    let _ = write_tx.send(item);
                }
                break;
            }
        };
        if let Some(n) = batcher.take_notice() {
            let _ = event_tx.send(EmbedEvent::Notice(n));
        }
        for item in finished {
            if write_tx.send(item).is_err() {
                return;
            }
        }
    }
    if let Some(n) = batcher.take_notice() {
        let _ = event_tx.send(EmbedEvent::Notice(n));
    }
}

fn embed_writer(
    store: &mut Store,
    model_version: &str,
    stop: &CancelToken,
    rx: &Receiver<(Work, Result<Embedding>)>,
    event_tx: &Sender<EmbedEvent>,
) -> Result<(usize, Failures)> {
    let mut n_embedded = 0;
    let mut failures = Vec::new();
    let mut batch: Vec<(i64, Embedding)> = Vec::new();
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut flush = |batch: &mut Vec<(i64, Embedding)>, paths: &mut Vec<PathBuf>| -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        if let Err(e) = store.write_embeddings(model_version, batch) {
            stop.cancel();
            return Err(e);
        }
        n_embedded += batch.len();
        batch.clear();
        for path in paths.drain(..) {
            let _ = event_tx.send(EmbedEvent::Done { path, error: None });
        }
        Ok(())
    };
    let mut fatal = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok((w, Ok(embedding))) => {
                batch.push((w.track_id, embedding));
                paths.push(w.path);
                if batch.len() >= 64
                    && let Err(e) = flush(&mut batch, &mut paths)
                {
                    fatal = Some(e);
                }
            }
            Ok((_, Err(Error::Cancelled))) => {}
            Ok((w, Err(e))) => {
                let reason = match &e {
                    Error::Decode { reason, .. } => reason.clone(),
                    other => other.to_string(),
                };
                let _ = event_tx.send(EmbedEvent::Done { path: w.path.clone(), error: Some(reason.clone()) });
                failures.push((w.path, reason));
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = flush(&mut batch, &mut paths) {
                    fatal = Some(e);
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if fatal.is_some() {
            // Keep draining so the other stages can finish; nothing more is written.
            batch.clear();
            paths.clear();
        }
    }
    if let Some(e) = fatal {
        return Err(e);
    }
    flush(&mut batch, &mut paths)?;
    Ok((n_embedded, failures))
}
