//! The similar-track list: the one implementation behind the track panel
//! and `tuneatlas similar` (ARCHITECTURE.md §9).
//!
//! Why here: the list has three rules — which neighbours, which filters
//! ("not same album / artist", see [`crate::identity`]), which tags count
//! as shared — and a person comparing the window with the command line must
//! see the same tracks with the same tags. `tests/it/gui.rs` checks that
//! they do.

use std::collections::HashMap;

use serde::Serialize;

use super::LibrarySnapshot;
use crate::index::Neighbor;
use crate::store::{TagMatrix, TagScore, TrackRow};
use crate::{Error, Result};

/// A tag counts as shared when both tracks score it at least this high...
const SHARED_MIN_SCORE: f32 = 0.3;
/// ...or when it is among the strongest this many of its category in both
/// (and both score it at least `SHARED_FLOOR`: two near-zero scores are not
/// something the tracks share).
const SHARED_TOP_N: usize = 5;
/// See `SHARED_TOP_N`.
const SHARED_FLOOR: f32 = 0.05;
/// Shared tags kept per neighbour.
const SHARED_SHOWN: usize = 3;

/// Options of a similar-track list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimilarOptions {
    /// Leave out tracks from the query track's album ([`TrackRow::same_album`]).
    pub exclude_same_album: bool,
    /// Leave out tracks by the query track's artist ([`TrackRow::same_artist`]).
    pub exclude_same_artist: bool,
}

impl SimilarOptions {
    /// Whether `candidate` is filtered out of `query`'s list.
    pub fn excludes(&self, query: &TrackRow, candidate: &TrackRow) -> bool {
        (self.exclude_same_album && query.same_album(candidate))
            || (self.exclude_same_artist && query.same_artist(candidate))
    }
}

/// A predicted tag two tracks share, with both scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharedTag {
    /// "genre", "style", "mood" or "theme".
    pub category: String,
    /// The tag.
    pub tag: String,
    /// The query track's score.
    pub score_query: f32,
    /// The neighbour's score.
    pub score_neighbor: f32,
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
    /// Predicted tags both tracks have strongly ([`shared_tags`]).
    pub shared_tags: Vec<SharedTag>,
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
    let exclude = |id: i64| {
        let Some(q) = query else { return false };
        let Some(t) = by_id.get(&id) else { return true };
        options.excludes(q, t)
    };
    let neighbours: Vec<Neighbor> =
        index.top_k_by_id(track_id, k, |id| !exclude(id)).ok_or_else(no_vector)?;
    let mine = scores_of(&snapshot.tags, track_id);
    Ok(neighbours
        .into_iter()
        .map(|n| SimilarTrack {
            track_id: n.track_id,
            distance: n.distance,
            cosine_similarity: n.cosine_similarity,
            shared_tags: shared_tags(&mine, &scores_of(&snapshot.tags, n.track_id)),
        })
        .collect())
}

/// One track's row of the tag matrix as scores (empty without a row).
fn scores_of(matrix: &TagMatrix, track_id: i64) -> Vec<TagScore> {
    let Some(row) = matrix.row(track_id) else { return Vec::new() };
    matrix
        .tags
        .iter()
        .zip(row)
        .map(|((category, tag), &score)| TagScore { category: category.clone(), tag: tag.clone(), score })
        .collect()
}

/// Tags both tracks have strongly (score ≥ 0.3 in both, or in the top 5 of
/// the category in both and not near zero), strongest first by the smaller
/// of the two scores; at most three.
pub fn shared_tags(query: &[TagScore], other: &[TagScore]) -> Vec<SharedTag> {
    let ranks = |tags: &[TagScore]| -> HashMap<(String, String), (f32, usize)> {
        let mut by_cat: HashMap<&str, Vec<&TagScore>> = HashMap::new();
        for t in tags {
            by_cat.entry(t.category.as_str()).or_default().push(t);
        }
        let mut out = HashMap::new();
        for list in by_cat.values_mut() {
            list.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.tag.cmp(&b.tag)));
            for (rank, t) in list.iter().enumerate() {
                out.insert((t.category.clone(), t.tag.clone()), (t.score, rank));
            }
        }
        out
    };
    let (q, o) = (ranks(query), ranks(other));
    let mut shared: Vec<SharedTag> = q
        .iter()
        .filter_map(|(key, &(sq, rq))| {
            let &(so, ro) = o.get(key)?;
            let strong = sq >= SHARED_MIN_SCORE && so >= SHARED_MIN_SCORE;
            let top = rq < SHARED_TOP_N && ro < SHARED_TOP_N && sq.min(so) >= SHARED_FLOOR;
            (strong || top).then(|| SharedTag {
                category: key.0.clone(),
                tag: key.1.clone(),
                score_query: sq,
                score_neighbor: so,
            })
        })
        .collect();
    shared.sort_by(|a, b| {
        b.score_query
            .min(b.score_neighbor)
            .total_cmp(&a.score_query.min(a.score_neighbor))
            .then_with(|| a.tag.cmp(&b.tag))
    });
    shared.truncate(SHARED_SHOWN);
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(category: &str, tag: &str, score: f32) -> TagScore {
        TagScore { category: category.into(), tag: tag.into(), score }
    }

    #[test]
    fn shared_tags_need_both_tracks_and_rank_by_weaker_score() {
        let q = vec![
            tag("genre", "ambient", 0.9),
            tag("genre", "rock", 0.35),
            tag("mood", "calm", 0.6),
            tag("mood", "dark", 0.08),
            tag("mood", "sad", 0.02),
            tag("theme", "night", 0.8),
        ];
        let n = vec![
            tag("genre", "ambient", 0.4),
            tag("genre", "rock", 0.31),
            tag("mood", "calm", 0.7),
            tag("mood", "dark", 0.06),
            tag("mood", "sad", 0.01),
            tag("style", "drone", 0.9),
        ];
        let got: Vec<String> = shared_tags(&q, &n).into_iter().map(|t| t.tag).collect();
        // "dark" is weak but in both top 5s of its category; night/drone are
        // not in both, and "sad" is near zero in both.
        assert_eq!(got, vec!["calm", "ambient", "rock"]);
        let got: Vec<String> = shared_tags(&q[3..], &n[3..]).into_iter().map(|t| t.tag).collect();
        assert_eq!(got, vec!["dark"]);
        // Outside the top five and below 0.3: not shared.
        let a: Vec<TagScore> =
            (0..10).map(|i| tag("mood", &format!("m{i}"), 0.1 + 0.01 * i as f32)).collect();
        let mut b = a.clone();
        b.reverse();
        for (t, s) in b.iter_mut().zip(0..) {
            t.score = 0.1 + 0.01 * f32::from(s as u8);
        }
        let got: Vec<String> = shared_tags(&a, &b).into_iter().map(|t| t.tag).collect();
        assert!(got.is_empty(), "{got:?}");
    }
}
