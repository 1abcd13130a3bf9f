//! Replacing a file by an edited copy without ever risking the original.
//!
//! Why a copy and a rename rather than editing in place: a tag that grows
//! makes the tag writer move the rest of the file, and a crash, a full disk
//! or a bug in the middle of that would leave the user's only copy of a
//! recording half moved. Instead the whole file is copied beside itself
//! under a hidden temporary name (same folder, so the rename stays on one
//! file system and is atomic), the copy is edited, synced to disk and
//! checked, and only then renamed over the original. Until that rename the
//! original is untouched; if anything fails the copy deletes itself.

use std::fs::{File, Metadata, OpenOptions};
use std::io::Seek;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Numbers the temporary copies of this process.
static NEXT_COPY: AtomicU64 = AtomicU64::new(0);

/// An edited copy of a file, beside it under a hidden name (the import walk
/// skips hidden files, so a copy left by a killed process is never imported).
/// Dropped without [`commit`](Self::commit), it deletes itself.
pub(super) struct TempCopy {
    dest: PathBuf,
    tmp: PathBuf,
    file: File,
    committed: bool,
}

impl TempCopy {
    /// Copies `original` (open, of metadata `meta`, living at `dest`) to a
    /// new file beside `dest`, with the same permissions and, where the
    /// system allows, the same owner. Fails when the folder is not writable
    /// or the copy comes out shorter than the original (it changed meanwhile).
    pub(super) fn create(dest: &Path, original: &mut File, meta: &Metadata) -> std::io::Result<TempCopy> {
        let name = dest.file_name().ok_or_else(|| std::io::Error::other("not a file name"))?;
        let n = NEXT_COPY.fetch_add(1, Ordering::Relaxed);
        // The original name comes last, so the copy keeps its extension.
        let mut tmp_name = std::ffi::OsString::from(format!(".tuneatlas-{}-{n}-", std::process::id()));
        tmp_name.push(name);
        let tmp = dest.with_file_name(tmp_name);
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&tmp)?;
        let mut copy = TempCopy { dest: dest.to_path_buf(), tmp, file, committed: false };
        original.rewind()?;
        let copied = std::io::copy(original, &mut copy.file)?;
        if copied != meta.len() {
            return Err(std::io::Error::other(format!(
                "the file changed while it was copied ({copied} of {} bytes)",
                meta.len()
            )));
        }
        copy.file.set_permissions(meta.permissions())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            // Only root may give a file away; for anyone else the copy is
            // already theirs, like the original.
            let _ = std::os::unix::fs::fchown(&copy.file, Some(meta.uid()), Some(meta.gid()));
        }
        Ok(copy)
    }

    /// The copy, open for reading and writing.
    pub(super) fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Where the copy lives.
    pub(super) fn path(&self) -> &Path {
        &self.tmp
    }

    /// Pushes the copy to the disk, so a full disk or an I/O error shows up
    /// before the rename, not after.
    pub(super) fn sync(&self) -> std::io::Result<()> {
        self.file.sync_all()
    }

    /// Renames the copy over the original and syncs the folder, so the new
    /// name survives a power cut.
    pub(super) fn commit(mut self) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.dest)?;
        self.committed = true;
        #[cfg(unix)]
        if let Some(dir) = self.dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
