//! The core's one error type.
//!
//! Every fallible core function returns [`Result`]. Messages put the path last
//! so that a list of failures lines up when printed (`reason: path`), and each
//! variant carries enough to tell a user what to do without a backtrace.

use std::path::PathBuf;

/// Errors of the tuneatlas core. Binaries wrap these in `anyhow`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed (permissions, vanished file, full disk).
    #[error("{op} failed: {source}: {}", crate::text::shown(path))]
    Io {
        /// What we were doing, e.g. "open" or "read".
        op: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not audio we can read: unknown container, no audio track,
    /// unsupported codec, or corrupt/truncated data.
    #[error("{reason}: {}", crate::text::shown(path))]
    Decode {
        /// Human-readable reason, e.g. "unsupported codec (ALAC in CAF)".
        reason: String,
        /// The offending file.
        path: PathBuf,
    },
    /// The SQLite database failed.
    #[error("database error: {source}")]
    Db {
        /// The underlying rusqlite error.
        #[from]
        source: rusqlite::Error,
    },
    /// The database could not be opened or created at all (read-only folder,
    /// full disk, not a SQLite file).
    #[error("cannot open the library database ({reason}): {}", crate::text::shown(path))]
    DbOpen {
        /// What went wrong.
        reason: String,
        /// The database file.
        path: PathBuf,
    },
    /// The database was written by a newer tuneatlas; opening it could lose data.
    #[error(
        "the library database has schema version {found}, newer than this tuneatlas understands \
         (up to {supported}); please upgrade tuneatlas: {}",
        crate::text::shown(path)
    )]
    DbTooNew {
        /// Schema version found in the file.
        found: i64,
        /// Newest schema version this build knows.
        supported: i64,
        /// The database file.
        path: PathBuf,
    },
    /// A model directory (or the built-in model) could not be used: missing,
    /// truncated or mismatched weights, or a bad `model.toml`. The reason says
    /// what was expected and what was found.
    #[error("{reason}: {}", crate::text::shown(path))]
    Model {
        /// What is wrong and what was expected.
        reason: String,
        /// The file concerned (`model.toml` or the weights file).
        path: PathBuf,
    },
    /// Another import is running on this library. Two imports at once would
    /// each take the other's tracks for missing ones, so they take turns.
    #[error(
        "another import is running on this library ({holder}); start this one again when that \
         one has finished: {}",
        crate::text::shown(path)
    )]
    LibraryBusy {
        /// Who holds the library's import lock, as it described itself.
        holder: String,
        /// The database file.
        path: PathBuf,
    },
    /// A library cannot be merged with the others (`store::merge_libraries`):
    /// another schema or model version, another folder, an overlap.
    #[error("cannot merge ({reason}): {}", crate::text::shown(path))]
    NotMergeable {
        /// Why, and what to do about it.
        reason: String,
        /// The library file concerned.
        path: PathBuf,
    },
    /// The user (or a signal) cancelled a long job.
    #[error("cancelled")]
    Cancelled,
    /// The user's tags cannot train a model (fine-tuning): the panel shows
    /// the message instead of silently training on nothing.
    #[error("{0}")]
    BadTags(TagProblem),
    /// Any other invalid argument or state, with a message for the user.
    #[error("{0}")]
    Invalid(String),
}

/// Why a set of user tags cannot drive fine-tuning.
///
/// Why a type of its own: each case asks the user for a different fix (tag
/// more tracks, add a second tag, tag another album…), and the GUI wants to
/// tell them apart without parsing text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TagProblem {
    /// No track carries a tag of the chosen sets.
    #[error("no track has a tag in the chosen tag set(s) ({sets}): tag some tracks first")]
    NoTags {
        /// The chosen sets, comma-separated.
        sets: String,
    },
    /// Only one distinct tag: every tagged track is like every other, so
    /// there are no negatives.
    #[error(
        "only one tag (\"{tag}\") in the chosen tag set(s): fine-tuning needs at least two different tags \
         so that some tracks are unlike others"
    )]
    OneTag {
        /// The one tag.
        tag: String,
    },
    /// Fewer tagged tracks than a split into training and held-out tracks needs.
    #[error("only {tagged} track(s) carry tags of the chosen set(s); tag at least {needed} tracks")]
    TooFewTracks {
        /// Tracks with at least one chosen tag.
        tagged: usize,
        /// The least that works.
        needed: usize,
    },
    /// Every tagged track is on one album: the album filter leaves no pair.
    #[error(
        "every tagged track is on one album (\"{album}\"): pairs from one album are never used, so \
         tag tracks of at least two albums"
    )]
    OneAlbum {
        /// The album.
        album: String,
    },
    /// The tags give no valid positive or no valid negative pair.
    #[error("no triplets can be formed from these tags: {reason}")]
    NoTriplets {
        /// What is missing (from `MiningStats::why_empty`), with the thresholds.
        reason: String,
    },
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an [`Error::Io`] for `path`; used with `map_err` at every I/O call
    /// so that no error reaches the user without the file it concerns.
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }

    /// Builds an [`Error::Model`] for `path`.
    pub fn model(reason: impl Into<String>, path: impl Into<PathBuf>) -> Error {
        Error::Model { reason: reason.into(), path: path.into() }
    }

    /// Builds an [`Error::Decode`] for `path`.
    pub fn decode(reason: impl Into<String>, path: impl Into<PathBuf>) -> Error {
        Error::Decode { reason: reason.into(), path: path.into() }
    }
}
