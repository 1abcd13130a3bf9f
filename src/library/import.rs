//! The import pipeline: folder → new/changed/moved files → decoded clips →
//! log-mel features → the store, incrementally and resumably.
//!
//! Shape (DESIGN §6): one scanner thread decides per file what to do from the
//! stored size, mtime and fingerprint; decode/feature workers (one per core)
//! turn files into clips and features; one writer thread applies results in
//! batched transactions. Channels are bounded, so memory stays flat however
//! large the library. Every file's outcome is written before it counts as
//! done, so a run killed at any point resumes by simply running again:
//! finished files are then unchanged, the rest is processed, and the `UNIQUE`
//! path column makes duplicates impossible.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::audio::clips::clip_starts_s;
use crate::audio::decode::AudioFile;
use crate::features::{LogMel, MelExtractor};
use crate::jobs::{CancelToken, worker_count};
use crate::library::embed::clip_features;
use crate::library::fingerprint::fingerprint_file;
use crate::library::model_stage::{ModelBatcher, model_row};
use crate::library::names::names_from_path;
use crate::library::scan::{FoundFile, ScanItem, ScanOptions, walk};
use crate::model::infer::Embedder;
use crate::store::{
    ClipRow, ImportCounts, KnownFile, ModelOutput, RunStatus, Store, TrackRecord, WriteOp, is_disk_full,
};
use crate::{Error, Result};

/// The walk reports its running count every this many audio files (the
/// exact total follows in [`ImportEvent::ScanFinished`]).
const FOUND_EVENT_EVERY: usize = 16;

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
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            scan: ScanOptions::default(),
            n_workers: worker_count(),
            batch_max_ops: 64,
            batch_max_wait: Duration::from_millis(500),
            decode_through: false,
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
pub fn import_folder_with(
    store: &mut Store,
    root: &Path,
    options: &ImportOptions,
    mut embedder: Option<&mut Embedder>,
    cancel: &CancelToken,
    mut on_event: impl FnMut(&ImportEvent),
) -> Result<ImportSummary> {
    let started = Instant::now();
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
    let run_id = store.begin_run(&root)?;
    // Stops every stage on cancel *or* on a fatal writer error.
    let stop = cancel.child();
    let n_workers = options.n_workers.max(1);
    let (job_tx, job_rx) = bounded::<Job>(n_workers * 2);
    let (write_tx, write_rx) = bounded::<WriterMsg>(n_workers * 4);
    let (event_tx, event_rx) = bounded::<ImportEvent>(1024);
    let (model_tx, model_rx) = bounded::<(ToEmbed, Vec<LogMel>)>(n_workers * 2);
    let model_tx = embedder.is_some().then_some(model_tx);
    let mut notices: Vec<String> = Vec::new();

    let writer_result = std::thread::scope(|scope| -> Result<Result<WriterTally>> {
        let spawn_err = |e: std::io::Error| Error::Invalid(format!("cannot start a thread: {e}"));
        // The walk runs ahead of the decoders (its queue holds only paths), so
        // the total — and with it a real progress bar and ETA — is known early.
        let (item_tx, item_rx) = crossbeam_channel::unbounded::<ScanItem>();
        {
            let (stop, root, event_tx) = (stop.clone(), root.clone(), event_tx.clone());
            let scan_options = options.scan.clone();
            std::thread::Builder::new()
                .name("ta-walk".into())
                .spawn_scoped(scope, move || {
                    let mut n_found = 0usize;
                    walk(&root, &scan_options, &stop, |item| {
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
        let decode_through = options.decode_through;
        for i in 0..n_workers {
            let (stop, root, job_rx, write_tx, event_tx) =
                (stop.clone(), root.clone(), job_rx.clone(), write_tx.clone(), event_tx.clone());
            let model_tx = model_tx.clone();
            std::thread::Builder::new()
                .name(format!("ta-decode-{i}"))
                .spawn_scoped(scope, move || {
                    let out =
                        Outputs { write_tx: &write_tx, model_tx: model_tx.as_ref(), event_tx: &event_tx };
                    decode_worker(&root, decode_through, &stop, &job_rx, &out)
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

/// The scanner's state: the stored library, indexed for the decisions it makes.
struct Scanner {
    by_path: HashMap<PathBuf, KnownFile>,
    by_fingerprint: HashMap<Vec<u8>, Vec<KnownFile>>,
    known_errors: HashMap<PathBuf, (Option<u64>, Option<i64>)>,
    job_tx: Sender<Job>,
    write_tx: Sender<WriterMsg>,
    n_not_audio: usize,
}

impl Scanner {
    fn new(
        known: Vec<KnownFile>,
        known_errors: HashMap<PathBuf, (Option<u64>, Option<i64>)>,
        job_tx: Sender<Job>,
        write_tx: Sender<WriterMsg>,
    ) -> Self {
        let mut by_fingerprint: HashMap<Vec<u8>, Vec<KnownFile>> = HashMap::new();
        for k in &known {
            by_fingerprint.entry(k.fingerprint.clone()).or_default().push(k.clone());
        }
        let by_path = known.into_iter().map(|k| (k.path.clone(), k)).collect();
        Scanner { by_path, by_fingerprint, known_errors, job_tx, write_tx, n_not_audio: 0 }
    }

    fn ready(&self, op: WriteOp, path: PathBuf, outcome: Outcome) {
        // A closed channel means the writer stopped on a fatal error; the
        // stop token ends the walk right after.
        let _ = self.write_tx.send(WriterMsg::Ready { op: Some(op), path, outcome });
    }

    fn handle(&mut self, item: ScanItem) {
        let found = match item {
            ScanItem::Audio(found) => found,
            ScanItem::NotAudio => {
                self.n_not_audio += 1;
                return;
            }
            ScanItem::Problem { path, reason } => {
                let op = WriteOp::Failed {
                    path: path.clone(),
                    size_bytes: None,
                    mtime_ns: None,
                    reason: reason.clone(),
                };
                self.ready(op, path, Outcome::Skipped(reason));
                return;
            }
        };
        if let Some(k) = self.by_path.get(&found.path) {
            if k.size_bytes == found.size_bytes && k.mtime_ns == found.mtime_ns {
                self.ready(WriteOp::Seen { id: k.id }, found.path, Outcome::Unchanged);
            } else {
                let _ = self.job_tx.send(Job { found, fingerprint: None, known: true });
            }
            return;
        }
        if let Some((size, mtime)) = self.known_errors.get(&found.path)
            && *size == Some(found.size_bytes)
            && *mtime == Some(found.mtime_ns)
        {
            let _ = self.write_tx.send(WriterMsg::Ready {
                op: None,
                path: found.path,
                outcome: Outcome::KnownBad,
            });
            return;
        }
        let fingerprint = match fingerprint_file(&found.path) {
            Ok(fp) => fp,
            Err(e) => {
                let reason = reason_of(&e);
                let op = WriteOp::Failed {
                    path: found.path.clone(),
                    size_bytes: Some(found.size_bytes),
                    mtime_ns: Some(found.mtime_ns),
                    reason: reason.clone(),
                };
                self.ready(op, found.path, Outcome::Failed(reason));
                return;
            }
        };
        // Moved: a stored track with this content whose old path is gone.
        if let Some(candidates) = self.by_fingerprint.get_mut(&fingerprint)
            && let Some(i) = candidates.iter().position(|k| !k.path.exists())
        {
            let old = candidates.swap_remove(i);
            let op = WriteOp::Moved {
                id: old.id,
                path: found.path.clone(),
                size_bytes: found.size_bytes,
                mtime_ns: found.mtime_ns,
            };
            self.ready(op, found.path, Outcome::Moved { from: old.path });
            return;
        }
        let _ = self.job_tx.send(Job { found, fingerprint: Some(fingerprint), known: false });
    }

    fn finish(self, complete: bool) {
        let _ = self.write_tx.send(WriterMsg::ScanDone { complete, n_not_audio: self.n_not_audio });
    }
}

/// The message for a user: the core error's text without the path (the
/// summary prints the path beside it).
fn reason_of(e: &Error) -> String {
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

fn decode_worker(
    root: &Path,
    decode_through: bool,
    stop: &CancelToken,
    jobs: &Receiver<Job>,
    out: &Outputs<'_>,
) {
    let mel = MelExtractor::new();
    for job in jobs.iter() {
        if stop.is_cancelled() {
            continue; // drain so the scanner never blocks on a full channel
        }
        let path = job.found.path.clone();
        let _ = out.event_tx.send(ImportEvent::Started { path: path.clone() });
        // A decoder bug must cost one file, not the import.
        let result = catch_unwind(AssertUnwindSafe(|| process_file(&job, root, decode_through, &mel)))
            .unwrap_or_else(|_| {
                Err(Error::decode("the decoder crashed on this file (please report it)", &path))
            });
        let outcome = if job.known { Outcome::Updated } else { Outcome::New };
        let sent = match (result, out.model_tx) {
            (Ok(processed), Some(model_tx)) => model_tx
                .send((ToEmbed { record: processed.record, path, outcome }, processed.features))
                .is_ok(),
            (Ok(processed), None) => out
                .write_tx
                .send(WriterMsg::Ready {
                    op: Some(WriteOp::Upsert(Box::new(processed.record))),
                    path,
                    outcome,
                })
                .is_ok(),
            (Err(e), _) => {
                let reason = reason_of(&e);
                let op = WriteOp::Failed {
                    path: path.clone(),
                    size_bytes: Some(job.found.size_bytes),
                    mtime_ns: Some(job.found.mtime_ns),
                    reason: reason.clone(),
                };
                out.write_tx
                    .send(WriterMsg::Ready { op: Some(op), path, outcome: Outcome::Failed(reason) })
                    .is_ok()
            }
        };
        if !sent {
            return;
        }
    }
}

/// RMS level of a clip in dBFS, floored at -200 so silence stores as a number.
fn rms_db(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return -200.0;
    }
    let mean_square =
        samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / samples.len() as f64;
    if mean_square <= 1e-20 { -200.0 } else { (10.0 * mean_square.log10()).max(-200.0) }
}

fn process_file(job: &Job, root: &Path, decode_through: bool, mel: &MelExtractor) -> Result<Processed> {
    let path = &job.found.path;
    let fingerprint = match &job.fingerprint {
        Some(fp) => fp.clone(),
        None => fingerprint_file(path)?,
    };
    let mut audio = AudioFile::open(path)?;
    let info = audio.info().clone();
    let starts_s = clip_starts_s(info.duration_s);
    let mut clip_rows = Vec::with_capacity(starts_s.len());
    let mut features = Vec::with_capacity(starts_s.len());
    for (i, (start_s, (samples, mel))) in
        starts_s.iter().zip(clip_features(&mut audio, &starts_s, decode_through, mel)?).enumerate()
    {
        clip_rows.push(ClipRow { clip_index: i as u32, start_s: *start_s, rms_db: rms_db(&samples) });
        features.push(mel);
    }
    let mut tags = info.tags.clone();
    let untitled = tags.title.as_deref().is_none_or(|t| t.trim().is_empty());
    if untitled {
        let guessed = names_from_path(path, root);
        tags.title = Some(guessed.title);
        tags.artist = tags.artist.or(guessed.artist);
        tags.album = tags.album.or(guessed.album);
        tags.track_number = tags.track_number.or(guessed.track_number);
    }
    Ok(Processed {
        record: TrackRecord {
            path: path.clone(),
            size_bytes: job.found.size_bytes,
            mtime_ns: job.found.mtime_ns,
            fingerprint,
            tags,
            names_from_path: untitled,
            duration_s: info.duration_s,
            container: info.container.clone(),
            codec: info.codec.clone(),
            sample_rate_hz: info.sample_rate_hz,
            channels: info.channels,
            clips: clip_rows,
            model_output: None,
        },
        features,
    })
}

struct WriterTally {
    status: RunStatus,
    counts: ImportCounts,
    n_known_bad: usize,
    failures: Vec<(PathBuf, String)>,
    skipped: Vec<(PathBuf, String)>,
    n_not_audio: usize,
}

fn writer_loop(
    store: &mut Store,
    root: &Path,
    run_id: i64,
    options: &ImportOptions,
    stop: &CancelToken,
    rx: &Receiver<WriterMsg>,
    event_tx: &Sender<ImportEvent>,
) -> Result<WriterTally> {
    let mut tally = WriterTally {
        status: RunStatus::Finished,
        counts: ImportCounts::default(),
        n_known_bad: 0,
        failures: vec![],
        skipped: vec![],
        n_not_audio: 0,
    };
    let mut batch: Vec<WriteOp> = Vec::new();
    let mut pending: Vec<(PathBuf, Outcome)> = Vec::new();
    let mut batch_started = Instant::now();
    let mut scan_complete = false;
    let mut fatal: Option<Error> = None;

    let mut flush = |batch: &mut Vec<WriteOp>,
                     pending: &mut Vec<(PathBuf, Outcome)>,
                     tally: &mut WriterTally,
                     fatal: &mut Option<Error>| {
        if fatal.is_some() || (batch.is_empty() && pending.is_empty()) {
            batch.clear();
            pending.clear();
            return;
        }
        if let Err(e) = store.write_batch(run_id, batch) {
            stop.cancel();
            *fatal = Some(if is_disk_full(&e) {
                Error::DbOpen {
                    reason: "the disk is full; nothing more was written".into(),
                    path: store.path().into(),
                }
            } else {
                e
            });
            batch.clear();
            pending.clear();
            return;
        }
        batch.clear();
        for (path, outcome) in pending.drain(..) {
            let c = &mut tally.counts;
            match &outcome {
                Outcome::New => c.new += 1,
                Outcome::Updated => c.updated += 1,
                Outcome::Moved { .. } => c.moved += 1,
                Outcome::Unchanged => c.unchanged += 1,
                Outcome::KnownBad => {
                    c.unchanged += 1;
                    tally.n_known_bad += 1;
                }
                Outcome::Failed(reason) => {
                    c.failed += 1;
                    tally.failures.push((path.clone(), reason.clone()));
                }
                Outcome::Skipped(reason) => tally.skipped.push((path.clone(), reason.clone())),
            }
            let _ = event_tx.send(ImportEvent::Done { path, outcome });
        }
    };

    loop {
        let timeout = options.batch_max_wait.saturating_sub(batch_started.elapsed());
        match rx.recv_timeout(if batch.is_empty() && pending.is_empty() {
            options.batch_max_wait
        } else {
            timeout
        }) {
            Ok(WriterMsg::Ready { op, path, outcome }) => {
                if pending.is_empty() {
                    batch_started = Instant::now();
                }
                // Known-bad files need no write; they only count.
                batch.extend(op);
                pending.push((path, outcome));
                if batch.len() >= options.batch_max_ops {
                    flush(&mut batch, &mut pending, &mut tally, &mut fatal);
                }
            }
            Ok(WriterMsg::ScanDone { complete, n_not_audio }) => {
                scan_complete = complete;
                tally.n_not_audio = n_not_audio;
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                flush(&mut batch, &mut pending, &mut tally, &mut fatal);
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
    }
    flush(&mut batch, &mut pending, &mut tally, &mut fatal);
    if let Some(e) = fatal {
        return Err(e);
    }
    if scan_complete && !stop.is_cancelled() {
        tally.counts.missing = store.mark_missing(root, run_id)?;
    } else {
        tally.status = RunStatus::Cancelled;
    }
    store.finish_run(run_id, tally.status, &tally.counts)?;
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_levels() {
        assert_eq!(rms_db(&[0.0; 100]), -200.0);
        assert!((rms_db(&[1.0; 100])).abs() < 1e-9);
        assert!((rms_db(&[0.5, -0.5]) - 20.0 * 0.5f64.log10()).abs() < 1e-9);
    }
}
