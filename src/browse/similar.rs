//! The similar-track list: the one implementation behind the track panel
//! and `tuneatlas similar` (ARCHITECTURE.md §9).
//!
//! Why here: the list has four rules — which neighbours, which filters
//! ("not same album / artist", see [`crate::identity`]), the variety rules
//! (no copy of the seed, a per-artist cap: [`super::variety`]) and how each
//! neighbour is explained ([`super::explain`]) — and a person comparing the
//! window with the command line must see the same tracks with the same
//! reasons. `tests/it/gui.rs` checks that they do.

use std::collections::HashMap;

use super::LibrarySnapshot;
use super::explain::CommonTag;
use super::variety::{self, DEFAULT_PER_ARTIST};
use crate::store::TrackRow;
use crate::{Error, Result};

/// Options of a similar-track list (and of the radio, which follows them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimilarOptions {
    /// Leave out tracks from the query track's album ([`TrackRow::same_album`]).
    pub exclude_same_album: bool,
    /// Leave out tracks by the query track's artist ([`TrackRow::same_artist`]).
    pub exclude_same_artist: bool,
    /// At most this many tracks by one artist in any
    /// [`variety::ARTIST_WINDOW`] consecutive entries; 0 = no cap.
    pub per_artist: usize,
}

impl Default for SimilarOptions {
    fn default() -> Self {
        SimilarOptions {
            exclude_same_album: false,
            exclude_same_artist: false,
            per_artist: DEFAULT_PER_ARTIST,
        }
    }
}

impl SimilarOptions {
    /// Whether `candidate` is filtered out of `query`'s list.
    pub fn excludes(&self, query: &TrackRow, candidate: &TrackRow) -> bool {
        (self.exclude_same_album && query.same_album(candidate))
            || (self.exclude_same_artist && query.same_artist(candidate))
    }
}

/// One entry of a similar-track list.
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarTrack {
    /// The neighbour.
    pub track_id: i64,
    /// Cosine distance (1 − cosine similarity) in the embedding space.
    pub distance: f32,
    /// Cosine similarity of the two track vectors.
    pub cosine_similarity: f32,
    /// The share (0–1) of the library's pairs of tracks farther apart than
    /// these two ([`super::LibraryStats::closer_than`]).
    pub closer_than: Option<f32>,
    /// Tags both tracks score high on relative to the library
    /// ([`super::LibraryStats::common_tags`]).
    pub common_tags: Vec<CommonTag>,
}

/// The `k` tracks nearest `track_id` in the snapshot's embedding space,
/// nearest first: no copy of the track itself, `options`' filters and
/// artist cap applied, each with its explanation (percentile of the
/// distance, tags in common). Errors when the track has no vector for the
/// snapshot's model version.
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
    let exclude = |id: i64| {
        let Some(q) = query else { return false };
        let Some(t) = by_id.get(&id) else { return true };
        options.excludes(q, t)
    };
    let copies = variety::near_copies(index, &by_id, track_id);
    let keys = variety::artist_keys(&snapshot.tracks);
    // The cap pushes some neighbours down the list, so look further than
    // `k` and, when that was not enough, further again.
    let mut want = k.saturating_mul(4).max(k.saturating_add(40));
    let neighbours = loop {
        let found = index
            .top_k_by_id(track_id, want, |id| !copies.contains(&id) && !exclude(id))
            .ok_or_else(no_vector)?;
        let exhausted = found.len() < want || want >= index.len();
        let picked = variety::pick_under_cap(found, k, &keys, options.per_artist);
        if picked.len() >= k || exhausted {
            break picked;
        }
        want = want.saturating_mul(4).min(index.len());
    };
    let stats = snapshot.stats();
    Ok(neighbours
        .into_iter()
        .map(|n| SimilarTrack {
            track_id: n.track_id,
            distance: n.distance,
            cosine_similarity: n.cosine_similarity,
            closer_than: stats.closer_than(n.distance),
            common_tags: stats.common_tags(&snapshot.tags, track_id, n.track_id),
        })
        .collect())
}
