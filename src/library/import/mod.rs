//! The import pipeline: folder → new/changed/moved files → decoded clips →
//! log-mel features → the store, incrementally and resumably.
//!
//! Shape (ARCHITECTURE.md §6): one scanner thread decides per file what to do from the
//! stored size, mtime and fingerprint; decode/feature workers (one per core)
//! turn files into clips and features; one writer thread applies results in
//! batched transactions. Channels are bounded, so memory stays flat however
//! large the library. Every file's outcome is written before it counts as
//! done, so a run killed at any point resumes by simply running again:
//! finished files are then unchanged, the rest is processed, and the `UNIQUE`
//! path column makes duplicates impossible.

mod scanner;
mod worker;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::features::{LogMel, MelExtractor};
use crate::jobs::{CancelToken, quiet_caught_panics, worker_count};
use crate::library::model_stage::{ModelBatcher, model_row};
use crate::library::scan::{FoundFile, ScanItem, ScanOptions, walk};
use crate::library::shard::Shard;
use crate::model::infer::Embedder;
use crate::store::{
    ImportCounts, ImportLock, ModelOutput, RunStatus, Store, TrackRecord, WhenBusy, WriteOp, lock_path,
};
use crate::{Error, Result};
use scanner::Scanner;
use worker::{FileLimits, decode_worker};
use writer::{WriterTally, writer_loop};

/// The walk reports its running count every this many audio files (the
/// exact total follows in [`ImportEvent::ScanFinished`]).
const FOUND_EVENT_EVERY: usize = 16;

/// The default [`ImportOptions::file_time_limit`]: far beyond what any real
/// file needs (seconds, even for hours of audio), short enough that a stuck
/// file is noticed.
pub const DEFAULT_FILE_TIME_LIMIT: Duration = Duration::from_secs(180);

/// Knobs for an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// How to walk the folder.
    pub scan: ScanOptions,
    /// Decode/feature worker threads (default: one per core).
    pub n_workers: usize,
    /// Most writes per transaction; larger is faster, smaller loses less work
    /// to a power cut.
    pub batch_max_ops: usize,
    /// Longest a finished file waits before its batch is committed.
    pub batch_max_wait: Duration,
    /// Decode every file from the start instead of seeking to each clip
    /// window. Slower; exists so the benchmark can show what seeking saves,
    /// and as a way out should a format's seeking misbehave.
    pub decode_through: bool,
    /// Longest one file may take to fingerprint, decode and turn into
    /// features. A file that takes longer is reported and the import goes
    /// on without waiting for it, so one pathological file can never hang an
    /// import.
    pub file_time_limit: Duration,
    /// What to do when another import is running on the same library:
    /// refuse (the default, so a window can say so at once) or wait.
    pub when_busy: WhenBusy,
    /// Import only this shard of the folder (see [`Shard`]); the other
    /// files are walked past and never opened.
    pub shard: Option<Shard>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            scan: ScanOptions::default(),
            n_workers: worker_count(),
            batch_max_ops: 64,
            batch_max_wait: Duration::from_millis(500),
            decode_through: false,
            file_time_limit: DEFAULT_FILE_TIME_LIMIT,
            when_busy: WhenBusy::Refuse,
            shard: None,
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Imported for the first time.
    New,
    /// Content changed since the last import; re-processed, id kept.
    Updated,
    /// Recognised by fingerprint under a new path; id and data kept.
    Moved {
        /// Where it used to be.
        from: PathBuf,
    },
    /// Size and mtime unchanged: nothing to do.
    Unchanged,
    /// Failed before and unchanged since: not retried (see `tuneatlas errors`).
    KnownBad,
    /// Could not be imported, with the reason.
    Failed(String),
    /// A problem met while walking (unreadable folder, symlink loop).
    Skipped(String),
}

/// Progress of an import, streamed to the caller as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportEvent {
    /// The walk has found `n_found` audio files so far (sent every few files).
    Found {
        /// Audio files found so far.
        n_found: usize,
    },
    /// The walk is complete; the total is now final.
    ScanFinished {
        /// Audio files found in all.
        n_found: usize,
    },
    /// A worker started decoding this file (for "current file" displays).
    Started {
        /// The file.
        path: PathBuf,
    },
    /// A file is settled and its result committed to the store.
    Done {
        /// The file.
        path: PathBuf,
        /// What happened.
        outcome: Outcome,
    },
}

/// The closing report of an import.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    /// The run's id in `import_runs`.
    pub run_id: i64,
    /// Finished or cancelled.
    pub status: RunStatus,
    /// New / updated / moved / unchanged / failed / missing.
    pub counts: ImportCounts,
    /// Files unchanged since an earlier failure (included in `counts.unchanged`).
    pub n_known_bad: usize,
    /// Files that failed in this run, with reasons.
    pub failures: Vec<(PathBuf, String)>,
    /// Walk problems (unreadable folders, symlink loops), with reasons.
    pub skipped: Vec<(PathBuf, String)>,
    /// Regular files that are not audio (cover art, playlists...).
    pub n_not_audio: usize,
    /// The model version tracks were embedded with (none without a model stage).
    pub model_version: Option<String>,
    /// Things the user should know, e.g. "GPU failed, continued on the CPU".
    pub notices: Vec<String>,
    /// The shard imported, when only one was.
    pub shard: Option<Shard>,
    /// Files (and walk problems) left to the other shards.
    pub n_other_shards: usize,
    /// Wall time of the run.
    pub elapsed_s: f64,
}

/// A file a worker must decode.
struct Job {
    found: FoundFile,
    fingerprint: Option<Vec<u8>>,
    known: bool,
}

/// A decoded file: what gets stored, plus the features the model stage eats.
struct Processed {
    record: TrackRecord,
    /// One log-mel per clip, in clip order. Consumed by the model stage.
    features: Vec<LogMel>,
}

/// A decoded track on its way through the model stage.
struct ToEmbed {
    record: TrackRecord,
    path: PathBuf,
    outcome: Outcome,
}

enum WriterMsg {
    /// A settled file: `op` to write (none for known-bad files) and its outcome.
    Ready {
        op: Option<WriteOp>,
        path: PathBuf,
        outcome: Outcome,
    },
    ScanDone {
        complete: bool,
        n_not_audio: usize,
    },
}

/// Imports `root` into `store` (see module docs), reporting progress through
/// `on_event` on the calling thread. Bad files are reported and skipped; the
/// call fails only when nothing could be done (root unreadable, database
/// unwritable or full).
pub fn import_folder(
    store: &mut Store,
    root: &Path,
    options: &ImportOptions,
    cancel: &CancelToken,
    on_event: impl FnMut(&ImportEvent),
) -> Result<ImportSummary> {
    import_folder_with(store, root, options, None, cancel, on_event)
}

/// [`import_folder`] with a model stage: every new or changed track is also
/// embedded by `embedder`, and its vectors and tag scores are written in the
/// same transaction as the track itself.
///
/// Takes the library's import lock first (see [`ImportLock`]); with
/// [`WhenBusy::Wait`] it waits for another import to finish.
pub fn import_folder_with(
    store: &mut Store,
    root: &Path,
    options: &ImportOptions,
    embedder: Option<&mut Embedder>,
    cancel: &CancelToken,
    on_event: impl FnMut(&ImportEvent),
) -> Result<ImportSummary> {
    let lock = ImportLock::acquire(store.path(), options.when_busy, cancel, |holder| {
        tracing::info!("waiting for the other import on this library to finish: {holder}");
    })?;
    import_folder_locked(store, &lock, root, options, embedder, cancel, on_event)
}

/// [`import_folder_with`] for a caller that took the library's import lock
/// itself, e.g. to tell its user whom it is waiting for.
pub fn import_folder_locked(
    store: &mut Store,
    lock: &ImportLock,
    root: &Path,
    options: &ImportOptions,
    mut embedder: Option<&mut Embedder>,
    cancel: &CancelToken,
    mut on_event: impl FnMut(&ImportEvent),
) -> Result<ImportSummary> {
    if lock.path() != lock_path(store.path()) {
        return Err(Error::Invalid(format!(
            "the import lock held is not this library's: {}",
            crate::text::shown(lock.path())
        )));
    }
    let started = Instant::now();
    quiet_caught_panics();
    let root = root.canonicalize().map_err(Error::io("open folder", root))?;
    if !root.is_dir() {
        return Err(Error::Invalid(format!("not a folder: {}", root.display())));
    }
    let known = store.known_files()?;
    let known_errors: HashMap<PathBuf, (Option<u64>, Option<i64>)> =
        store.known_errors()?.into_iter().map(|e| (e.path, (e.size_bytes, e.mtime_ns))).collect();
    if let Some(e) = embedder.as_deref() {
        store.register_model(&model_row(e))?;
    }
    let model_version = embedder.as_deref().map(|e| e.model_version().to_string());
    store.close_dead_runs(lock)?;
    let run_id = store.begin_shard_run(&root, options.shard.map(|s| s.to_string()).as_deref())?;
    // Stops every stage on cancel *or* on a fatal writer error.
    let stop = cancel.child();
    let n_workers = options.n_workers.max(1);
    let (job_tx, job_rx) = bounded::<Job>(n_workers * 2);
    let (write_tx, write_rx) = bounded::<WriterMsg>(n_workers * 4);
    let (event_tx, event_rx) = bounded::<ImportEvent>(1024);
    let (model_tx, model_rx) = bounded::<(ToEmbed, Vec<LogMel>)>(n_workers * 2);
    let model_tx = embedder.is_some().then_some(model_tx);
    let mut notices: Vec<String> = Vec::new();
    let mut n_other_shards = 0usize;

    let writer_result = std::thread::scope(|scope| -> Result<Result<WriterTally>> {
        let spawn_err = |e: std::io::Error| Error::Invalid(format!("cannot start a thread: {e}"));
        // The walk runs ahead of the decoders (its queue holds only paths), so
        // the total — and with it a real progress bar and ETA — is known early.
        let (item_tx, item_rx) = crossbeam_channel::unbounded::<ScanItem>();
        {
            let (stop, root, event_tx) = (stop.clone(), root.clone(), event_tx.clone());
            let (scan_options, shard) = (options.scan.clone(), options.shard);
            let n_other_shards = &mut n_other_shards;
            std::thread::Builder::new()
                .name("ta-walk".into())
                .spawn_scoped(scope, move || {
                    let mut n_found = 0usize;
                    walk(&root, &scan_options, &stop, |item| {
                        if let Some(shard) = shard {
                            let path = match &item {
                                ScanItem::Audio(found) => &found.path,
                                ScanItem::Problem { path, .. } | ScanItem::NotAudio(path) => path,
                            };
                            if !shard.owns(&root, path) {
                                *n_other_shards += 1;
                                return;
                            }
                        }
                        if matches!(item, ScanItem::Audio(_)) {
                            n_found += 1;
                            if n_found.is_multiple_of(FOUND_EVENT_EVERY) {
                                let _ = event_tx.send(ImportEvent::Found { n_found });
                            }
                        }
                        let _ = item_tx.send(item);
                    });
                    if !stop.is_cancelled() {
                        let _ = event_tx.send(ImportEvent::ScanFinished { n_found });
                    }
                })
                .map_err(spawn_err)?;
        }
        {
            let (stop, write_tx) = (stop.clone(), write_tx.clone());
            std::thread::Builder::new()
                .name("ta-scan".into())
                .spawn_scoped(scope, move || {
                    let mut scanner = Scanner::new(known, known_errors, job_tx, write_tx);
                    for item in item_rx.iter() {
                        if stop.is_cancelled() {
                            break;
                        }
                        scanner.handle(item);
                    }
                    scanner.finish(!stop.is_cancelled());
                })
                .map_err(spawn_err)?;
        }
        let mel = std::sync::Arc::new(MelExtractor::new());
        for i in 0..n_workers {
            let (stop, root, job_rx, write_tx, event_tx) =
                (stop.clone(), root.clone(), job_rx.clone(), write_tx.clone(), event_tx.clone());
            let (model_tx, mel) = (model_tx.clone(), mel.clone());
            let limits = FileLimits { decode_through: options.decode_through, time: options.file_time_limit };
            std::thread::Builder::new()
                .name(format!("ta-worker-{i}"))
                .spawn_scoped(scope, move || {
                    let out =
                        Outputs { write_tx: &write_tx, model_tx: model_tx.as_ref(), event_tx: &event_tx };
                    decode_worker(i, &root, limits, &mel, &stop, &job_rx, &out)
                })
                .map_err(spawn_err)?;
        }
        drop(model_tx);
        let model_thread = match embedder.take() {
            Some(embedder) => {
                let write_tx = write_tx.clone();
                Some(
                    std::thread::Builder::new()
                        .name("ta-model".into())
                        .spawn_scoped(scope, move || model_loop(embedder, &model_rx, &write_tx))
                        .map_err(spawn_err)?,
                )
            }
            None => None,
        };
        drop((job_rx, write_tx));
        let writer = {
            let (stop, root, event_tx) = (stop.clone(), root.clone(), event_tx.clone());
            let options = options.clone();
            let store = &mut *store;
            std::thread::Builder::new()
                .name("ta-writer".into())
                .spawn_scoped(scope, move || {
                    writer_loop(store, &root, run_id, &options, &stop, &write_rx, &event_tx)
                })
                .map_err(spawn_err)?
        };
        drop(event_tx);
        for event in event_rx.iter() {
            on_event(&event);
        }
        if let Some(t) = model_thread {
            notices = t.join().map_err(|_| Error::Invalid("the model thread panicked".into()))?;
        }
        writer.join().map_err(|_| Error::Invalid("the import writer thread panicked".into()))
    });

    let tally = match writer_result {
        Ok(Ok(tally)) => tally,
        Ok(Err(e)) | Err(e) => {
            // Record the failure if the database still takes writes; the
            // original error is what the user needs to see either way.
            let _ = store.finish_run(run_id, RunStatus::Failed, &ImportCounts::default());
            return Err(e);
        }
    };
    Ok(ImportSummary {
        run_id,
        status: tally.status,
        counts: tally.counts,
        n_known_bad: tally.n_known_bad,
        failures: tally.failures,
        skipped: tally.skipped,
        n_not_audio: tally.n_not_audio,
        model_version,
        notices,
        shard: options.shard,
        n_other_shards,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

/// Where a decode worker sends its results.
struct Outputs<'a> {
    write_tx: &'a Sender<WriterMsg>,
    /// Set when a model stage runs: decoded tracks go there first.
    model_tx: Option<&'a Sender<(ToEmbed, Vec<LogMel>)>>,
    event_tx: &'a Sender<ImportEvent>,
}

/// How long the model stage waits for more clips before running a partial batch.
const MODEL_IDLE_FLUSH: Duration = Duration::from_millis(50);

/// The model stage of an import: batches decoded tracks through the DPNN and
/// passes them on to the writer with their vectors. A track the model fails
/// on is still stored (without vectors, which `tuneatlas embed` fills in
/// later), so a model problem never loses the import. Returns the notices.
fn model_loop(
    embedder: &mut Embedder,
    rx: &Receiver<(ToEmbed, Vec<LogMel>)>,
    write_tx: &Sender<WriterMsg>,
) -> Vec<String> {
    let mut batcher = ModelBatcher::new(embedder);
    let version = batcher.model_version();
    let mut notices = Vec::new();
    let mut failures_noted = 0usize;
    loop {
        let (finished, last) = match rx.recv_timeout(if batcher.is_empty() {
            Duration::from_secs(3600)
        } else {
            MODEL_IDLE_FLUSH
        }) {
            Ok((item, features)) => (batcher.push(item, features), false),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => (batcher.flush(), false),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => (batcher.flush(), true),
        };
        if let Some(n) = batcher.take_notice() {
            notices.push(n);
        }
        for (mut item, result) in finished {
            match result {
                Ok(embedding) => {
                    item.record.model_output =
                        Some(ModelOutput { model_version: version.clone(), embedding });
                }
                Err(e) => {
                    failures_noted += 1;
                    if failures_noted <= 5 {
                        notices.push(format!("stored without vectors ({e}): {}", item.path.display()));
                    }
                }
            }
            let msg = WriterMsg::Ready {
                op: Some(WriteOp::Upsert(Box::new(item.record))),
                path: item.path,
                outcome: item.outcome,
            };
            if write_tx.send(msg).is_err() {
                return notices;
            }
        }
        if last {
            break;
        }
    }
    if failures_noted > 5 {
        notices.push(format!(
            "{} tracks in all were stored without vectors; run `tuneatlas embed`",
            failures_noted
        ));
    }
    notices
}

/// The message for a user: the core error's text without the path (the
/// summary prints the path beside it).
pub(crate) fn reason_of(e: &Error) -> String {
    match e {
        Error::Decode { reason, .. } => reason.clone(),
        Error::Io { op, source, .. } => {
            if source.kind() == std::io::ErrorKind::PermissionDenied {
                format!("{op}: permission denied")
            } else {
                format!("{op}: {source}")
            }
        }
        other => other.to_string(),
    }
}
