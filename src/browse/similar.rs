//! The similar-track list: the one implementation behind the track panel
//! and `tuneatlas similar` (ARCHITECTURE.md §9).
//!
//! Why here: the list has four rules — which neighbours, which filters
//! ("not same album / artist", see [`crate::identity`]), the variety rules
//! (no copy of the seed, a per-artist cap: [`super::variety`]) and how each
//! neighbour is explained ([`super::explain`]) — and a person comparing the
//! window with the command line must see the same tracks with the same
//! reasons. `tests/it/gui.rs` checks that they do.

use std::collections::{HashMap, HashSet};

use super::LibrarySnapshot;
use super::explain::{CommonTag, LibraryStats};
use super::variety::{self, DEFAULT_PER_ARTIST};
use crate::index::Neighbor;
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

impl SimilarTrack {
    /// A neighbour with its distance percentile in the library and the
    /// given tags in common: the one place both list kinds build entries.
    fn explained(n: &Neighbor, stats: &LibraryStats, common_tags: Vec<CommonTag>) -> SimilarTrack {
        SimilarTrack {
            track_id: n.track_id,
            distance: n.distance,
            cosine_similarity: n.cosine_similarity,
            closer_than: stats.closer_than(n.distance),
            common_tags,
        }
    }
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
    let neighbours = nearest_under_cap(index.len(), k, &keys, options.per_artist, |want| {
        index.top_k_by_id(track_id, want, |id| !copies.contains(&id) && !exclude(id)).ok_or_else(no_vector)
    })?;
    let stats = snapshot.stats();
    Ok(neighbours
        .into_iter()
        .map(|n| {
            let common_tags = stats.common_tags(&snapshot.tags, track_id, n.track_id);
            SimilarTrack::explained(&n, stats, common_tags)
        })
        .collect())
}

/// The `k` nearest of what `search(want)` finds (nearest first) under the
/// artist cap. The cap pushes some neighbours down the list, so the search
/// looks further than `k` and, when that was not enough, further again, up
/// to the whole index of `len` vectors.
fn nearest_under_cap(
    len: usize,
    k: usize,
    keys: &HashMap<i64, String>,
    per_artist: usize,
    search: impl Fn(usize) -> Result<Vec<Neighbor>>,
) -> Result<Vec<Neighbor>> {
    let mut want = k.saturating_mul(4).max(k.saturating_add(40));
    loop {
        let found = search(want)?;
        let exhausted = found.len() < want || want >= len;
        let picked = variety::pick_under_cap(found, k, keys, per_artist);
        if picked.len() >= k || exhausted {
            return Ok(picked);
        }
        want = want.saturating_mul(4).min(len);
    }
}

/// "Play similar to these": the `k` tracks nearest the centroid (the
/// normalised mean) of several seed tracks' vectors, nearest first — none
/// of the seeds, no copy of any seed, no repeats, `options`' filters
/// (against every seed) and artist cap applied. Each entry's distance and
/// percentile are to the centroid; tags in common are left empty, there
/// being no one track to share them with. One seed is
/// [`similar_tracks`]. Errors when a seed has no vector.
pub fn similar_to_many(
    snapshot: &LibrarySnapshot,
    seeds: &[i64],
    k: usize,
    options: SimilarOptions,
) -> Result<Vec<SimilarTrack>> {
    let mut unique: Vec<i64> = Vec::with_capacity(seeds.len());
    for &id in seeds {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    match unique.as_slice() {
        [] => return Err(Error::Invalid("similar tracks need at least one seed track".into())),
        [one] => return similar_tracks(snapshot, *one, k, options),
        _ => {}
    }
    let version = snapshot.model_version.as_deref().unwrap_or("(none)");
    let no_vector = |id: i64| Error::Invalid(format!("track {id} has no vector for model {version} yet"));
    let index = snapshot.index.as_ref().ok_or_else(|| no_vector(unique[0]))?;
    let mut centroid = vec![0f32; index.dim()];
    for &id in &unique {
        let v = index.vector(id).ok_or_else(|| no_vector(id))?;
        for (c, x) in centroid.iter_mut().zip(v) {
            *c += x;
        }
    }
    let by_id: HashMap<i64, &TrackRow> = snapshot.tracks.iter().map(|t| (t.id, t)).collect();
    let mut banned: HashSet<i64> = unique.iter().copied().collect();
    for &id in &unique {
        banned.extend(variety::near_copies(index, &by_id, id));
    }
    let seed_rows: Vec<&TrackRow> = unique.iter().filter_map(|id| by_id.get(id).copied()).collect();
    let allowed = |id: i64| {
        !banned.contains(&id)
            && by_id.get(&id).is_some_and(|t| !seed_rows.iter().any(|s| options.excludes(s, t)))
    };
    let keys = variety::artist_keys(&snapshot.tracks);
    // Seeds pointing opposite ways sum to (nearly) zero: no direction to
    // search around, so the index returns nothing rather than noise.
    let neighbours = nearest_under_cap(index.len(), k, &keys, options.per_artist, |want| {
        Ok(index.top_k(&centroid, want, allowed))
    })?;
    let stats = snapshot.stats();
    // Several seeds: no single track to find tags in common with.
    Ok(neighbours.into_iter().map(|n| SimilarTrack::explained(&n, stats, Vec::new())).collect())
}
