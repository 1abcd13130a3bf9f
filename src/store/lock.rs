//! One import per library at a time, enforced by the operating system.
//!
//! Why a lock at all: an import decides what is new, moved and missing from
//! what the library held when it started. Two imports writing into one
//! library at once each see the other's tracks as "not seen by me" and mark
//! them missing. SQLite's own locks only make single transactions atomic;
//! they cannot make two whole runs take turns.
//!
//! Why an OS file lock (std's `File::try_lock`, `flock` on Linux) next to the
//! database and not a row in it: the kernel drops the lock the moment the
//! holder dies, `kill -9` included, so a crashed import never leaves a stale
//! lock behind that a user would have to delete by hand. The file's content
//! only says *who* holds it, for the message the second import prints.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::jobs::CancelToken;
use crate::{Error, Result};

/// How often a waiting import looks again whether the lock is free.
const WAIT_POLL: Duration = Duration::from_millis(200);

/// How long an import that would be refused keeps trying first. Why at all:
/// while another thread of the holder's process starts a child process, the
/// child holds a copy of every open descriptor, the lock's included, until
/// it executes its program; a lock released in that instant stays taken
/// for a moment longer. A real holder (another import) still gets its
/// refusal, a second later.
const REFUSE_GRACE: Duration = Duration::from_secs(1);

/// How often an import within [`REFUSE_GRACE`] tries again.
const REFUSE_POLL: Duration = Duration::from_millis(20);

/// Proof that this process is the one import running on a library; the lock
/// is released when this value is dropped (or the process ends, however).
#[derive(Debug)]
pub struct ImportLock {
    /// Kept open: closing it releases the lock.
    _file: File,
    path: PathBuf,
}

/// What to do when another import holds the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenBusy {
    /// Fail with [`Error::LibraryBusy`], naming the holder (after a grace
    /// second: see [`REFUSE_GRACE`]).
    Refuse,
    /// Wait until the other import finishes (or `cancel` is set).
    Wait,
}

/// The lock file that belongs to the database at `db`: beside it, so that it
/// lives on the same file system and goes wherever the library goes.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".import-lock");
    db.with_file_name(name)
}

impl ImportLock {
    /// Takes the import lock of the library at `db`. When another import holds
    /// it: fails naming that import ([`WhenBusy::Refuse`]), or calls
    /// `on_wait` once with the holder's description and waits
    /// ([`WhenBusy::Wait`]) until it is free or `cancel` is set.
    pub fn acquire(
        db: &Path,
        when_busy: WhenBusy,
        cancel: &CancelToken,
        mut on_wait: impl FnMut(&str),
    ) -> Result<ImportLock> {
        let path = lock_path(db);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(Error::io("create the import lock", &path))?;
        let mut told = false;
        let started = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                // The holder is read only when it is named: not on every poll.
                Err(TryLockError::WouldBlock) => match when_busy {
                    WhenBusy::Refuse if started.elapsed() < REFUSE_GRACE => {
                        std::thread::sleep(REFUSE_POLL);
                    }
                    WhenBusy::Refuse => {
                        let holder = read_holder(&mut file);
                        return Err(Error::LibraryBusy { holder, path: db.to_path_buf() });
                    }
                    WhenBusy::Wait => {
                        if !told {
                            on_wait(&read_holder(&mut file));
                            told = true;
                        }
                        cancel.check()?;
                        std::thread::sleep(WAIT_POLL);
                    }
                },
                Err(TryLockError::Error(e)) => return Err(Error::io("lock", &path)(e)),
            }
        }
        write_holder(&mut file).map_err(Error::io("write the import lock", &path))?;
        Ok(ImportLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// "pid 1234 (`tuneatlas import /music`)" — enough for a user to find it.
fn describe_self() -> String {
    let args: Vec<String> = std::env::args_os().map(|a| crate::text::shown(Path::new(&a))).collect();
    format!("pid {} ({})", std::process::id(), args.join(" "))
}

fn write_holder(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(describe_self().as_bytes())?;
    file.flush()
}

fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let read = file.seek(SeekFrom::Start(0)).and_then(|_| file.take(4096).read_to_string(&mut text));
    match read {
        Ok(_) if !text.trim().is_empty() => crate::text::shown_text(text.trim()),
        _ => "another tuneatlas process".into(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_refused_with_the_holder_and_gets_it_once_free() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("library.db");
        let cancel = CancelToken::new();
        let first = ImportLock::acquire(&db, WhenBusy::Refuse, &cancel, |_| {}).unwrap();
        let err = ImportLock::acquire(&db, WhenBusy::Refuse, &cancel, |_| {}).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("pid {}", std::process::id())), "{text}");
        assert!(text.contains("library.db"), "{text}");
        drop(first);
        let again = ImportLock::acquire(&db, WhenBusy::Refuse, &cancel, |_| {});
        assert!(again.is_ok(), "free once the holder dropped it");
    }

    #[test]
    fn a_waiting_taker_waits_for_the_holder_and_stops_when_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("library.db");
        let never = CancelToken::new();
        let first = ImportLock::acquire(&db, WhenBusy::Refuse, &never, |_| {}).unwrap();
        let cancel = CancelToken::new();
        cancel.cancel();
        let mut waited = Vec::new();
        let err = ImportLock::acquire(&db, WhenBusy::Wait, &cancel, |h| waited.push(h.to_string()));
        assert!(matches!(err, Err(Error::Cancelled)));
        assert_eq!(waited.len(), 1);
        let db2 = db.clone();
        let waiter = std::thread::Builder::new()
            .name("lock-waiter".into())
            .spawn(move || ImportLock::acquire(&db2, WhenBusy::Wait, &CancelToken::new(), |_| {}).is_ok())
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        drop(first);
        assert!(waiter.join().unwrap(), "the waiter gets the lock once it is released");
    }
}
