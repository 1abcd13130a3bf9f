//! Walking a music folder: which files are audio, and what went wrong where.
//!
//! A real collection has symlinked folders (sometimes in loops), unreadable
//! directories, hidden junk (`.Trash`, macOS `._` AppleDouble files), files
//! with the wrong extension and files with none. The walk follows links but
//! never enters a loop or visits one file twice, reports every problem by path,
//! and recognises audio by content as well as by extension.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::jobs::CancelToken;

/// Extensions treated as audio without looking inside. Formats we cannot
/// decode (wma, ape, wv, ...) are listed too, so the user hears why they were
/// not imported instead of them vanishing silently.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "mp2", "mp1", "mpga", "ogg", "oga", "opus", "spx", "flac", "wav", "wave", "aif", "aiff", "aifc",
    "m4a", "m4b", "mp4", "aac", "adts", "alac", "caf", "mka", "webm", "wma", "asf", "ape", "wv", "mpc",
    "dsf", "dff", "ac3", "eac3", "amr", "3gp",
];

/// How to walk.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Visit hidden files and folders (names starting with '.'). Off by
    /// default: they are caches, trash and AppleDouble metadata, not music.
    pub include_hidden: bool,
    /// Follow symbolic links (loops are detected and reported either way).
    pub follow_symlinks: bool,
    /// Also follow links that lead outside the folder being walked. Off by
    /// default: a link to `/` or `/proc` would otherwise have the import
    /// crawl the whole system.
    pub follow_outside: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { include_hidden: false, follow_symlinks: true, follow_outside: false }
    }
}

/// An audio file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    /// Absolute path (under the canonical root).
    pub path: PathBuf,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Modification time in ns since the epoch (0 if the OS has none).
    pub mtime_ns: i64,
}

/// What the walk yields.
#[derive(Debug, Clone)]
pub enum ScanItem {
    /// An audio file (by extension or content).
    Audio(FoundFile),
    /// Something that could not be looked at: unreadable folder, symlink
    /// loop, broken link. Reported, then skipped.
    Problem {
        /// Where.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// A regular file that is not audio (cover art, playlists, notes); counted only.
    NotAudio(PathBuf),
}

/// True when the extension is one of [`AUDIO_EXTENSIONS`].
pub fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

/// True when the first bytes of the file look like an audio container, for
/// files whose extension is missing or wrong. Unreadable files answer false
/// here; if they also have an audio extension, the decoder reports why.
pub fn sniff_audio(path: &Path) -> bool {
    let mut head = [0u8; 64];
    let Ok(mut f) = crate::audio::open_regular(path) else { return false };
    let mut filled = 0;
    while filled < head.len() {
        match f.read(&mut head[filled..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    let head = &head[..filled];
    if infer::is_audio(head) {
        return true;
    }
    // Containers that `infer` files under video but that commonly hold only audio.
    matches!(infer::get(head).map(|t| t.mime_type()), Some("video/mp4" | "video/x-matroska" | "video/webm"))
}

/// A file's modification time in ns since the epoch (0 when the system has
/// none): how import and tag writing both compare files with the library.
pub(crate) fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}

fn is_hidden(entry: &walkdir::DirEntry) -> bool {
    entry.depth() > 0 && entry.file_name().to_str().is_some_and(|n| n.starts_with('.'))
}

fn describe_walk_error(err: &walkdir::Error) -> String {
    if let Some(ancestor) = err.loop_ancestor() {
        return format!("symlink loop (points back to {})", ancestor.display());
    }
    match err.io_error() {
        Some(io) if io.kind() == std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        Some(io) if io.kind() == std::io::ErrorKind::NotFound => "broken link or vanished file".into(),
        Some(io) => io.to_string(),
        None => err.to_string(),
    }
}

/// Walks `root`, calling `on_item` for every audio file and every problem, in
/// a stable (sorted) order so that runs are reproducible. Stops early when
/// `cancel` is set.
///
/// Links are followed only within `root` unless
/// [`follow_outside`](ScanOptions::follow_outside) is set; named pipes,
/// sockets and devices are reported and never opened.
pub fn walk(root: &Path, options: &ScanOptions, cancel: &CancelToken, mut on_item: impl FnMut(ScanItem)) {
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    // Links refused by the filter below, reported from the loop (the filter
    // cannot call `on_item` while the loop holds it).
    let refused: std::cell::RefCell<Vec<ScanItem>> = std::cell::RefCell::new(Vec::new());
    let walker = walkdir::WalkDir::new(root)
        .follow_links(options.follow_symlinks)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if !options.include_hidden && is_hidden(e) {
                return false;
            }
            if options.follow_symlinks && !options.follow_outside && e.path_is_symlink() {
                match e.path().canonicalize() {
                    Ok(target) if !target.starts_with(&canonical_root) => {
                        refused.borrow_mut().push(ScanItem::Problem {
                            path: e.path().to_path_buf(),
                            reason: format!(
                                "link leads outside the imported folder (to {}); not followed \
                                 (--follow-outside follows it)",
                                crate::text::shown(&target)
                            ),
                        });
                        return false;
                    }
                    // Broken links are reported by the walk itself.
                    _ => {}
                }
            }
            true
        });
    // The same file reached through two links is imported once.
    let mut seen_inodes: HashSet<(u64, u64)> = HashSet::new();
    for entry in walker {
        for item in refused.borrow_mut().drain(..) {
            on_item(item);
        }
        if cancel.is_cancelled() {
            return;
        }
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                let path = err.path().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf());
                on_item(ScanItem::Problem { reason: describe_walk_error(&err), path });
                continue;
            }
        };
        let kind = entry.file_type();
        if kind.is_dir() || (kind.is_symlink() && !options.follow_symlinks) {
            continue;
        }
        if !kind.is_file() {
            // Reading a pipe or a device can block forever: say so, never open it.
            on_item(ScanItem::Problem {
                path: entry.path().to_path_buf(),
                reason: format!("not a regular file ({}); skipped", crate::audio::describe_file_type(kind)),
            });
            continue;
        }
        let path = entry.path();
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(err) => {
                on_item(ScanItem::Problem { path: path.to_path_buf(), reason: describe_walk_error(&err) });
                continue;
            }
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if !seen_inodes.insert((meta.dev(), meta.ino())) {
                continue;
            }
        }
        #[cfg(not(unix))]
        let _ = &mut seen_inodes;
        let audio = has_audio_extension(path) || sniff_audio(path);
        if audio {
            on_item(ScanItem::Audio(FoundFile {
                path: path.to_path_buf(),
                size_bytes: meta.len(),
                mtime_ns: mtime_ns(&meta),
            }));
        } else {
            on_item(ScanItem::NotAudio(path.to_path_buf()));
        }
    }
    for item in refused.into_inner() {
        on_item(item);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn collect(root: &Path, options: &ScanOptions) -> (Vec<PathBuf>, Vec<(PathBuf, String)>, usize) {
        let (mut audio, mut problems, mut other) = (vec![], vec![], 0);
        walk(root, options, &CancelToken::new(), |item| match item {
            ScanItem::Audio(f) => audio.push(f.path),
            ScanItem::Problem { path, reason } => problems.push((path, reason)),
            ScanItem::NotAudio(_) => other += 1,
        });
        (audio, problems, other)
    }

    #[test]
    fn finds_by_extension_and_content_skips_hidden_and_reports_loops() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join(".Trash")).unwrap();
        std::fs::write(root.join("a/b/song.MP3"), b"not really").unwrap();
        std::fs::write(root.join("a/cover.jpg"), [0xFF, 0xD8, 0xFF, 0xE0]).unwrap();
        // A FLAC stream marker with no extension: audio by content.
        let mut flac = b"fLaC\0\0\0\x22".to_vec();
        flac.resize(64, 0);
        std::fs::write(root.join("a/untitled"), &flac).unwrap();
        std::fs::write(root.join(".Trash/old.mp3"), b"x").unwrap();
        std::fs::write(root.join("a/._song.mp3"), b"x").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("a"), root.join("a/b/loop")).unwrap();
            std::os::unix::fs::symlink(root.join("a/b/song.MP3"), root.join("link.mp3")).unwrap();
        }
        let (audio, problems, other) = collect(root, &ScanOptions::default());
        let names: Vec<_> = audio.iter().map(|p| p.strip_prefix(root).unwrap().to_path_buf()).collect();
        assert_eq!(names, vec![PathBuf::from("a/b/song.MP3"), PathBuf::from("a/untitled")]);
        assert_eq!(other, 1);
        #[cfg(unix)]
        {
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(problems[0].1.contains("symlink loop"), "{problems:?}");
            assert!(problems[0].0.ends_with("a/b/loop"));
        }
        let with_hidden = collect(root, &ScanOptions { include_hidden: true, ..Default::default() });
        assert_eq!(with_hidden.0.len(), 4);
    }
}
