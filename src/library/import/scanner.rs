//! The scanner stage: decides per found file, from what the library holds,
//! whether it is unchanged, known bad, moved, or needs decoding.

use std::collections::HashMap;
use std::path::PathBuf;

use crossbeam_channel::Sender;

use super::{Job, Outcome, WriterMsg, reason_of};
use crate::library::fingerprint::fingerprint_file;
use crate::library::scan::ScanItem;
use crate::store::{KnownFile, WriteOp};

/// The scanner's state: the stored library, indexed for the decisions it makes.
pub(super) struct Scanner {
    by_path: HashMap<PathBuf, KnownFile>,
    by_fingerprint: HashMap<Vec<u8>, Vec<KnownFile>>,
    known_errors: HashMap<PathBuf, (Option<u64>, Option<i64>)>,
    job_tx: Sender<Job>,
    write_tx: Sender<WriterMsg>,
    n_not_audio: usize,
}

impl Scanner {
    pub(super) fn new(
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

    pub(super) fn handle(&mut self, item: ScanItem) {
        let found = match item {
            ScanItem::Audio(found) => found,
            ScanItem::NotAudio(_) => {
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

    pub(super) fn finish(self, complete: bool) {
        let _ = self.write_tx.send(WriterMsg::ScanDone { complete, n_not_audio: self.n_not_audio });
    }
}
