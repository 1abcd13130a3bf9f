//! What the browsing views read: one consistent snapshot of a library for
//! one model version — tracks, recorded failures, the vector index for
//! similar tracks, the tag-score matrix and the user's tags.
//!
//! Reading all of this takes a while on a 100k-track library, so the GUI
//! loads a snapshot on a background thread and swaps it in whole; the CLI
//! and the tests use the same loader, so what the window shows is what the
//! core computes.

mod explain;
mod similar;
mod variety;

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use crate::Result;
use crate::index::VectorIndex;
use crate::store::{FileErrorRow, ModelRow, Store, TagMatrix, TrackRow};

pub use explain::{CommonTag, LibraryStats, TOP_SHARE, closer_than_text};
pub use similar::{SimilarOptions, SimilarTrack, similar_to_many, similar_tracks};
pub use variety::{ARTIST_WINDOW, DEFAULT_PER_ARTIST, radio};

/// Everything the library, map and track views show, for one model version.
#[derive(Debug, Default)]
pub struct LibrarySnapshot {
    /// Present tracks, in the store's listing order.
    pub tracks: Vec<TrackRow>,
    /// Files that could not be imported, newest first.
    pub errors: Vec<FileErrorRow>,
    /// Model versions known to the library.
    pub models: Vec<ModelRow>,
    /// The model version whose vectors and tags are shown (`None` before
    /// anything was embedded).
    pub model_version: Option<String>,
    /// Track vectors of that version (empty without one).
    pub index: Option<VectorIndex>,
    /// Predicted tag scores of that version.
    pub tags: TagMatrix,
    /// User tags by track: `(set, tag)` pairs.
    pub user_tags: HashMap<i64, Vec<(String, String)>>,
    /// Whether `index` and `tags` have been read (false in the first step of
    /// [`LibrarySnapshot::load_staged`]): "no vectors" is only final once
    /// they have.
    pub embedding_loaded: bool,
    /// The library distributions explanations are measured against,
    /// computed on first use ([`LibrarySnapshot::stats`]).
    stats: OnceLock<LibraryStats>,
}

impl LibrarySnapshot {
    /// Reads the library at `db` for `model_version` (the latest one with
    /// vectors when `None`).
    pub fn load(db: &Path, model_version: Option<&str>) -> Result<LibrarySnapshot> {
        let store = Store::open(db)?;
        Self::from_store(&store, model_version)
    }

    /// Reads the library in two steps, handing the first to `on_tracks`:
    /// the track list (with failures, models and user tags, but no vectors
    /// or predicted tags) arrives in a fraction of the time of the whole
    /// snapshot — on a 50k-track library the 3.7M tag scores and 50 MB of
    /// vectors are most of the load — so the window can show a usable table
    /// while the rest is read.
    pub fn load_staged(
        db: &Path,
        model_version: Option<&str>,
        on_tracks: impl FnOnce(LibrarySnapshot),
    ) -> Result<LibrarySnapshot> {
        let store = Store::open(db)?;
        let tracks_only = Self::tracks_from_store(&store, model_version)?;
        on_tracks(tracks_only.clone_without_embedding());
        tracks_only.with_embedding(&store)
    }

    /// Reads the snapshot from an open store.
    pub fn from_store(store: &Store, model_version: Option<&str>) -> Result<LibrarySnapshot> {
        Self::tracks_from_store(store, model_version)?.with_embedding(store)
    }

    /// The first step of a load: everything but vectors and tag scores.
    fn tracks_from_store(store: &Store, model_version: Option<&str>) -> Result<LibrarySnapshot> {
        let tracks = store.tracks(false)?;
        let errors = store.errors()?;
        let models = store.models()?;
        let model_version = match model_version {
            Some(v) if models.iter().any(|m| m.version == v) => Some(v.to_owned()),
            _ => store.latest_model_version()?,
        };
        let mut user_tags: HashMap<i64, Vec<(String, String)>> = HashMap::new();
        for (track_id, set, tag) in store.all_user_tags(None)? {
            user_tags.entry(track_id).or_default().push((set, tag));
        }
        Ok(LibrarySnapshot {
            tracks,
            errors,
            models,
            model_version,
            index: None,
            tags: TagMatrix::default(),
            user_tags,
            embedding_loaded: false,
            stats: OnceLock::new(),
        })
    }

    /// The second step: the model version's vectors and tag scores.
    fn with_embedding(mut self, store: &Store) -> Result<LibrarySnapshot> {
        if let Some(v) = &self.model_version {
            let started = std::time::Instant::now();
            let pairs = store.track_vectors(v)?;
            let read_ms = started.elapsed().as_millis();
            self.index = if pairs.is_empty() { None } else { Some(VectorIndex::from_pairs(pairs)?) };
            let index_ms = started.elapsed().as_millis();
            self.tags = store.tag_matrix(v)?;
            tracing::debug!(
                "library load: vectors read {read_ms} ms, indexed {index_ms} ms, tag matrix {} ms",
                started.elapsed().as_millis()
            );
        }
        self.embedding_loaded = true;
        // Computed here, on the loader's thread, so that the window's first
        // similar list does not stall the UI.
        self.stats();
        Ok(self)
    }

    /// The tag-score and pairwise-distance distributions of this snapshot
    /// (see [`LibraryStats`]), computed once.
    pub fn stats(&self) -> &LibraryStats {
        self.stats.get_or_init(|| LibraryStats::compute(self.index.as_ref(), &self.tags))
    }

    /// A copy of the first step's data (the second step consumes the original).
    fn clone_without_embedding(&self) -> LibrarySnapshot {
        LibrarySnapshot {
            tracks: self.tracks.clone(),
            errors: self.errors.clone(),
            models: self.models.clone(),
            model_version: self.model_version.clone(),
            index: None,
            tags: TagMatrix::default(),
            user_tags: self.user_tags.clone(),
            embedding_loaded: false,
            stats: OnceLock::new(),
        }
    }

    /// The user tags of a track as one line ("set:tag" for sets other than
    /// the default one), for tables and exports.
    pub fn user_tag_line(&self, track_id: i64) -> String {
        self.user_tags
            .get(&track_id)
            .map(|tags| {
                tags.iter()
                    .map(|(set, tag)| {
                        if set == crate::store::DEFAULT_TAG_SET {
                            tag.clone()
                        } else {
                            format!("{set}:{tag}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    }
}
