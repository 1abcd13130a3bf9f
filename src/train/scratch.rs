//! The scratch folder of a fine-tuning run, and sweeping up the ones runs
//! left behind.
//!
//! Why: a run keeps its feature cache and checkpoints (tens of MB per
//! thousand tracks) in `<models dir>/.work-…/` and removes it at the end,
//! but a process that is killed (power cut, `kill -9`, a crash in a driver)
//! never gets there. Each run therefore holds an exclusive lock on a file
//! in its folder for as long as it lives; the operating system drops the
//! lock with the process, so the next run can tell a live folder (locked:
//! left alone, it may belong to a second window or a CLI run) from a dead
//! one (unlocked: removed).

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::{Error, Result};

/// Name prefix of the scratch folders inside a models directory.
pub const SCRATCH_PREFIX: &str = ".work-";
/// The lock file inside a scratch folder.
const LOCK_FILE_NAME: &str = ".lock";
/// A scratch folder without a lock file is only taken for dead after this
/// long: a run creates the folder a moment before it locks the file.
const UNLOCKED_GRACE: Duration = Duration::from_secs(600);

/// A claimed scratch folder: locked until dropped.
///
/// Why a guard: the lock must last exactly as long as the run that uses the
/// folder, errors and cancels included.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
    _lock: File,
}

impl ScratchDir {
    /// Creates (or reuses) `path` and locks it for this process.
    ///
    /// # Errors
    /// The folder or its lock file cannot be created, or another live run
    /// holds it ([`Error::Invalid`], naming the folder).
    pub fn claim(path: &Path) -> Result<ScratchDir> {
        std::fs::create_dir_all(path).map_err(Error::io("create", path))?;
        let lock_path = path.join(LOCK_FILE_NAME);
        let lock = File::create(&lock_path).map_err(Error::io("create", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => Ok(ScratchDir { path: path.to_path_buf(), _lock: lock }),
            Err(TryLockError::WouldBlock) => Err(Error::Invalid(format!(
                "another fine-tuning run is using {}; wait for it to finish",
                path.display()
            ))),
            Err(TryLockError::Error(e)) => Err(Error::io("lock", &lock_path)(e)),
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Removes the scratch folders in `models_dir` whose run is gone (see the
/// module docs), except `keep`. Returns the folders removed; a folder that
/// cannot be removed is skipped (the next sweep tries again), since a
/// leftover must never stop a new run.
pub fn sweep_stale(models_dir: &Path, keep: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(models_dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let is_scratch = entry.file_name().to_string_lossy().starts_with(SCRATCH_PREFIX);
        if !is_scratch || path == keep || !entry.file_type().is_ok_and(|t| t.is_dir()) || !is_dead(&path) {
            continue;
        }
        if std::fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

/// Whether no live process holds scratch folder `path`.
fn is_dead(path: &Path) -> bool {
    match File::open(path.join(LOCK_FILE_NAME)) {
        // Locking our own handle succeeds only when nobody else holds it;
        // the handle (and the probe's lock) closes at the end of the arm.
        Ok(lock) => lock.try_lock().is_ok(),
        Err(_) => std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > UNLOCKED_GRACE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_folder_is_kept_and_a_dead_one_swept() {
        let models = tempfile::tempdir().unwrap();
        let live_path = models.path().join(".work-live");
        let live = ScratchDir::claim(&live_path).unwrap();
        let dead_path = models.path().join(".work-dead");
        drop(ScratchDir::claim(&dead_path).unwrap());
        std::fs::write(dead_path.join("features.bin"), b"cache").unwrap();
        let fresh_unlocked = models.path().join(".work-starting");
        std::fs::create_dir(&fresh_unlocked).unwrap();
        let version = models.path().join("dpnn-v1.1-ft1");
        std::fs::create_dir(&version).unwrap();

        let removed = sweep_stale(models.path(), Path::new("/nonexistent"));

        assert_eq!(removed, vec![dead_path.clone()]);
        assert!(!dead_path.exists());
        assert!(live.path().exists(), "a folder a live run holds is kept");
        assert!(fresh_unlocked.exists(), "a folder just created, not yet locked, is kept");
        assert!(version.exists(), "model versions are never touched");
        let second = ScratchDir::claim(&live_path).unwrap_err().to_string();
        assert!(second.contains(".work-live"), "{second}");
        drop(live);
        assert_eq!(sweep_stale(models.path(), Path::new("/nonexistent")), vec![live_path]);
    }
}
