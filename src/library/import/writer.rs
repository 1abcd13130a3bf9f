//! The writer stage: batches settled files into transactions, falls back to
//! one file per transaction when a batch fails, and closes the run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::{ImportEvent, ImportOptions, Outcome, WriterMsg, reason_of};
use crate::jobs::CancelToken;
use crate::store::{ImportCounts, RunStatus, Store, WriteOp, is_disk_full};
use crate::{Error, Result};

pub(super) struct WriterTally {
    pub(super) status: RunStatus,
    pub(super) counts: ImportCounts,
    pub(super) n_known_bad: usize,
    pub(super) failures: Vec<(PathBuf, String)>,
    pub(super) skipped: Vec<(PathBuf, String)>,
    pub(super) n_not_audio: usize,
}

pub(super) fn writer_loop(
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
    // Each settled file, with the index of its op in `batch` (none for
    // known-bad files, which need no write).
    let mut pending: Vec<(Option<usize>, PathBuf, Outcome)> = Vec::new();
    let mut batch_started = Instant::now();
    let mut scan_complete = false;
    let mut fatal: Option<Error> = None;

    let mut flush = |batch: &mut Vec<WriteOp>,
                     pending: &mut Vec<(Option<usize>, PathBuf, Outcome)>,
                     tally: &mut WriterTally,
                     fatal: &mut Option<Error>| {
        if fatal.is_none() && !(batch.is_empty() && pending.is_empty()) {
            let written = match store.write_batch(run_id, batch) {
                Ok(()) => Ok(()),
                Err(e) if is_fatal_write_error(&e) => Err(e),
                // One file's write failed and took its batch with it: write
                // the files one by one, so that only the bad one fails, as
                // that file's recorded error.
                Err(e) => {
                    tracing::debug!("batch write failed ({e}); writing its files one by one");
                    write_one_by_one(store, run_id, batch, pending)
                }
            };
            match written {
                Ok(()) => count_settled(pending, tally, event_tx),
                Err(e) => {
                    stop.cancel();
                    *fatal = Some(if is_disk_full(&e) {
                        Error::DbOpen {
                            reason: "the disk is full; nothing more was written".into(),
                            path: store.path().into(),
                        }
                    } else {
                        e
                    });
                }
            }
        }
        batch.clear();
        pending.clear();
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
                let index = op.map(|op| {
                    batch.push(op);
                    batch.len() - 1
                });
                pending.push((index, path, outcome));
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

/// Write errors that no other file would escape either (full disk, a
/// database another program keeps locked, a broken file): they stop the
/// import instead of being pinned on one file after another.
fn is_fatal_write_error(e: &Error) -> bool {
    use rusqlite::ErrorCode as C;
    match e {
        Error::Db { source } => matches!(
            source.sqlite_error_code(),
            Some(
                C::DiskFull
                    | C::DatabaseBusy
                    | C::DatabaseLocked
                    | C::ReadOnly
                    | C::SystemIoFailure
                    | C::DatabaseCorrupt
                    | C::NotADatabase
                    | C::CannotOpen
                    | C::OutOfMemory
            )
        ),
        _ => false,
    }
}

/// Size and mtime of the file an op writes, for its error record.
fn file_stamp(op: &WriteOp) -> (Option<u64>, Option<i64>) {
    match op {
        WriteOp::Seen { .. } => (None, None),
        WriteOp::Moved { size_bytes, mtime_ns, .. } => (Some(*size_bytes), Some(*mtime_ns)),
        WriteOp::Upsert(rec) => (Some(rec.size_bytes), Some(rec.mtime_ns)),
        WriteOp::Failed { size_bytes, mtime_ns, .. } => (*size_bytes, *mtime_ns),
    }
}

/// Writes each file of a failed batch in its own transaction; a file whose
/// write fails is recorded as failed with the reason instead, and its outcome
/// becomes [`Outcome::Failed`]. Fails only when even that record cannot be
/// written, or on an error that would stop every write.
fn write_one_by_one(
    store: &mut Store,
    run_id: i64,
    batch: &[WriteOp],
    pending: &mut [(Option<usize>, PathBuf, Outcome)],
) -> Result<()> {
    for (index, path, outcome) in pending.iter_mut() {
        let Some(op) = index.map(|i| &batch[i]) else { continue };
        match store.write_batch(run_id, std::slice::from_ref(op)) {
            Ok(()) => {}
            Err(e) if is_fatal_write_error(&e) => return Err(e),
            Err(e) => {
                let reason = format!("could not be stored in the library: {}", reason_of(&e));
                let (size_bytes, mtime_ns) = file_stamp(op);
                let failed =
                    WriteOp::Failed { path: path.clone(), size_bytes, mtime_ns, reason: reason.clone() };
                store.write_batch(run_id, &[failed])?;
                *outcome = Outcome::Failed(reason);
            }
        }
    }
    Ok(())
}

/// Counts the files of a committed batch and reports each as done.
fn count_settled(
    pending: &mut Vec<(Option<usize>, PathBuf, Outcome)>,
    tally: &mut WriterTally,
    event_tx: &Sender<ImportEvent>,
) {
    for (_, path, outcome) in pending.drain(..) {
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
}
