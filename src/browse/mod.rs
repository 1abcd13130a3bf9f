//! What the browsing views read: one consistent snapshot of a library for
//! one model version — tracks, recorded failures, the vector index for
//! similar tracks, the tag-score matrix and the user's tags.
//!
//! Reading all of this takes a while on a 100k-track library, so the GUI
//! loads a snapshot on a background thread and swaps it in whole; the CLI
//! and the tests use the same loader, so what the window shows is what the
//! core computes.

use std::collections::HashMap;
use std::path::Path;

use crate::index::{Neighbor, VectorIndex};
use crate::store::{FileErrorRow, ModelRow, Store, TagMatrix, TrackRow};
use crate::{Error, Result};

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
        Ok(self)
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

/// Options of a similar-track list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimilarOptions {
    /// Leave out tracks from the query track's album.
    pub exclude_same_album: bool,
    /// Leave out tracks by the query track's artist.
    pub exclude_same_artist: bool,
}

/// One entry of a similar-track list.
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarTrack {
    /// The neighbour.
    pub track_id: i64,
    /// Cosine distance (1 − cosine similarity) in the embedding space.
    pub distance: f32,
    /// Predicted tags both tracks have among their top three per category.
    pub shared_tags: Vec<String>,
}

/// The `k` tracks nearest `track_id` in the snapshot's embedding space,
/// with the filters applied and the tags they share. Errors when the track
/// has no vector for the snapshot's model version.
pub fn similar_tracks(
    snapshot: &LibrarySnapshot,
    track_id: i64,
    k: usize,
    options: SimilarOptions,
) -> Result<Vec<SimilarTrack>> {
    let version = snapshot.model_version.as_deref().unwrap_or("(none)");
    let no_vector = || Error::Invalid(format!("track {track_id} has no vector for model {version} yet"));
    let index = snapshot.index.as_ref().ok_or_else(no_vector)?;
    let by_id: HashMap<i64, &TrackRow> = snapshot.tracks.iter().map(|t| (t.id, t)).collect();
    let query = by_id.get(&track_id).copied();
    let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
    let exclude = |id: i64| {
        let Some(q) = query else { return false };
        let Some(t) = by_id.get(&id) else { return true };
        (options.exclude_same_album && same(&q.album, &t.album))
            || (options.exclude_same_artist && same(&q.artist, &t.artist))
    };
    let neighbours: Vec<Neighbor> =
        index.top_k_by_id(track_id, k, |id| !exclude(id)).ok_or_else(no_vector)?;
    let top_tags = |id: i64| -> Vec<String> {
        let mut out = Vec::new();
        for category in ["genre", "style", "mood", "theme"] {
            let Some(row) = snapshot.tags.row(id) else { return out };
            let mut cols: Vec<usize> = snapshot.tags.category_columns(category);
            cols.sort_by(|a, b| row[*b].total_cmp(&row[*a]));
            out.extend(cols.into_iter().take(3).map(|c| snapshot.tags.tags[c].1.clone()));
        }
        out
    };
    let mine = top_tags(track_id);
    Ok(neighbours
        .into_iter()
        .map(|n| {
            let theirs = top_tags(n.track_id);
            let shared_tags = mine.iter().filter(|t| theirs.contains(t)).cloned().collect();
            SimilarTrack { track_id: n.track_id, distance: n.distance, shared_tags }
        })
        .collect())
}
