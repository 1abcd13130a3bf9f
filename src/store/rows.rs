//! Plain data that goes in and out of the [`Store`](super::Store): kept apart
//! from the SQL so that the import pipeline and the CLI share one vocabulary.

use std::path::PathBuf;

use serde::Serialize;

use crate::audio::decode::TrackTags;

/// What incremental import needs to know about a stored track.
#[derive(Debug, Clone)]
pub struct KnownFile {
    /// Track id (stable across moves and re-imports).
    pub id: i64,
    /// Absolute path when last seen.
    pub path: PathBuf,
    /// File size when last imported.
    pub size_bytes: u64,
    /// Modification time (ns since the epoch) when last imported.
    pub mtime_ns: i64,
    /// Content fingerprint (see `library::fingerprint`).
    pub fingerprint: Vec<u8>,
    /// True when the last finished import did not find the file.
    pub missing: bool,
}

/// One clip of a track's clip grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipRow {
    /// Position in the grid (0-based).
    pub clip_index: u32,
    /// Clip start in seconds from the start of the file.
    pub start_s: f64,
    /// RMS level in dBFS (floored at -200).
    pub rms_db: f64,
}

/// A fully imported file, ready to be written.
#[derive(Debug, Clone)]
pub struct TrackRecord {
    /// Absolute path.
    pub path: PathBuf,
    /// Size in bytes at import.
    pub size_bytes: u64,
    /// Modification time in ns since the epoch at import.
    pub mtime_ns: i64,
    /// Content fingerprint.
    pub fingerprint: Vec<u8>,
    /// Tags; `title` is always set (from the path when the file has none).
    pub tags: TrackTags,
    /// True when title/artist/album came from the path.
    pub names_from_path: bool,
    /// Decoded duration in seconds.
    pub duration_s: f64,
    /// Container name, e.g. "ogg".
    pub container: String,
    /// Codec name, e.g. "vorbis".
    pub codec: String,
    /// Native sample rate.
    pub sample_rate_hz: u32,
    /// Native channel count.
    pub channels: u16,
    /// The clip grid (start times and levels).
    pub clips: Vec<ClipRow>,
    /// Vectors and tags from the model stage, written in the same transaction
    /// as the track (none when the import runs without a model).
    pub model_output: Option<super::ModelOutput>,
}

/// One change to apply in a write batch.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// The file is unchanged; remember that this run saw it.
    Seen {
        /// Track id.
        id: i64,
    },
    /// A known track was found under a new path (same content fingerprint).
    Moved {
        /// Track id, kept with all its data.
        id: i64,
        /// The new path.
        path: PathBuf,
        /// Size at the new path.
        size_bytes: u64,
        /// Modification time at the new path.
        mtime_ns: i64,
    },
    /// A new or changed file, fully processed.
    Upsert(Box<TrackRecord>),
    /// A file that could not be imported.
    Failed {
        /// The file.
        path: PathBuf,
        /// Its size, when it could be read.
        size_bytes: Option<u64>,
        /// Its modification time, when it could be read.
        mtime_ns: Option<i64>,
        /// Why, in words.
        reason: String,
    },
}

/// A recorded failure.
#[derive(Debug, Clone, Serialize)]
pub struct FileErrorRow {
    /// The file (serialised escaped: see [`crate::text::shown`]).
    #[serde(serialize_with = "crate::text::serialize_path")]
    pub path: PathBuf,
    /// The import run that recorded it.
    pub run_id: i64,
    /// Size when it failed (retried when this changes).
    pub size_bytes: Option<u64>,
    /// Modification time when it failed (retried when this changes).
    pub mtime_ns: Option<i64>,
    /// Why it failed.
    pub reason: String,
    /// When, in seconds since the epoch.
    pub at_unix_s: i64,
}

/// A track as listed by `tuneatlas tracks` and the GUI's library table.
#[derive(Debug, Clone, Serialize)]
pub struct TrackRow {
    /// Stable track id.
    pub id: i64,
    /// Current path (serialised escaped: see [`crate::text::shown`]).
    #[serde(serialize_with = "crate::text::serialize_path")]
    pub path: PathBuf,
    /// Title (from tags, or from the file name).
    pub title: String,
    /// Artist, when known.
    pub artist: Option<String>,
    /// Album, when known.
    pub album: Option<String>,
    /// Album artist, when known.
    pub album_artist: Option<String>,
    /// Track number, when known.
    pub track_number: Option<u32>,
    /// Disc number, when known.
    pub disc_number: Option<u32>,
    /// Year, when known.
    pub year: Option<i32>,
    /// Genre tag from the file, when present.
    pub genre: Option<String>,
    /// Duration in seconds.
    pub duration_s: f64,
    /// Container, e.g. "ogg".
    pub container: String,
    /// Codec, e.g. "vorbis".
    pub codec: String,
    /// Native sample rate.
    pub sample_rate_hz: u32,
    /// Native channel count.
    pub channels: u16,
    /// "ok" or "missing".
    pub status: String,
    /// Number of clips in the grid.
    pub n_clips: u32,
    /// True when names were derived from the path.
    pub names_from_path: bool,
    /// Content fingerprint (blake3 of the file's sampled bytes): two rows
    /// with the same one are one recording stored twice
    /// ([`TrackRow::same_content`]). Not part of the JSON listing.
    #[serde(skip)]
    pub fingerprint: Vec<u8>,
}

pub(super) fn track_row_from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<TrackRow> {
    Ok(TrackRow {
        id: r.get(0)?,
        path: super::paths::path_column(r, 1)?,
        title: r.get(2)?,
        artist: r.get(3)?,
        album: r.get(4)?,
        album_artist: r.get(5)?,
        track_number: r.get(6)?,
        disc_number: r.get(7)?,
        year: r.get(8)?,
        genre: r.get(9)?,
        duration_s: r.get(10)?,
        container: r.get(11)?,
        codec: r.get(12)?,
        sample_rate_hz: r.get(13)?,
        channels: r.get(14)?,
        status: r.get(15)?,
        n_clips: r.get::<_, i64>(16)? as u32,
        names_from_path: r.get(17)?,
        fingerprint: r.get(18)?,
    })
}

/// Counts shown in the import summary and stored with the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    /// Files imported for the first time.
    pub new: usize,
    /// Known files whose content changed and were re-processed.
    pub updated: usize,
    /// Known tracks found under a new path.
    pub moved: usize,
    /// Files skipped because size and mtime are unchanged (including known-bad files).
    pub unchanged: usize,
    /// Files that failed in this run.
    pub failed: usize,
    /// Tracks marked missing at the end of the run.
    pub missing: usize,
}

/// How an import run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RunStatus {
    /// Every file was looked at.
    Finished,
    /// The user cancelled; what was done is kept.
    Cancelled,
    /// A fatal error (e.g. disk full) stopped it.
    Failed,
}

impl RunStatus {
    /// The value stored in `import_runs.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Finished => "finished",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Failed => "failed",
        }
    }
}
