//! Why a neighbour is on the similar list, in terms a person can check: the
//! tags both tracks score high on *relative to the library*, and how close
//! the two are compared with the library's pairs of tracks.
//!
//! Why relative: a model's raw tag scores are not comparable across tags —
//! "rock" may be 0.3 for half the library while "harp" never passes 0.1 —
//! so "both score ≥ 0.3" lists the library's common tags for every pair and
//! explains nothing. Being in the library's top 20 % for a tag says that
//! tag stands out in both tracks. Likewise a cosine distance of 0.12 means
//! nothing until it is set against the distances between the library's
//! tracks. Both distributions are computed once per [`LibrarySnapshot`]
//! ([`LibrarySnapshot::stats`]); the window computes them on its loader
//! thread.

use serde::Serialize;

use crate::index::VectorIndex;
use crate::store::TagMatrix;

/// A track is "high" on a tag when it is in this top share of the library
/// for that tag.
pub const TOP_SHARE: f32 = 0.2;
/// At most this many tags in common are shown per neighbour.
const COMMON_SHOWN: usize = 3;
/// Both scores must reach this, so that the top 20 % of a tag the model
/// hears nowhere (every score near zero) is not offered as a reason.
const COMMON_FLOOR: f32 = 0.05;
/// Pairs of tracks sampled for the distance distribution; a library with
/// fewer pairs uses all of them. 20,000 pairs put a percentile within
/// about ±0.4 points (binomial standard error at 50 %).
const DISTANCE_PAIRS: usize = 20_000;
/// The sample's fixed seed, so the same library always gives the same
/// percentiles (in the window, the command line and the tests).
const DISTANCE_SEED: u64 = 0x7475_6e65_6174_6c61;
/// Distances closer than this are one distance ([`LibraryStats::closer_than`]).
const DISTANCE_TIE: f32 = 1e-6;
/// Quantiles kept per tag for ranking tags (0 %, 1 %, …, 100 %).
const QUANTILES: usize = 101;

/// A tag both tracks score high on relative to the library.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommonTag {
    /// "genre", "style", "mood" or "theme".
    pub category: String,
    /// The tag.
    pub tag: String,
    /// The query track's score.
    pub score_query: f32,
    /// The neighbour's score.
    pub score_neighbor: f32,
    /// Share of the library (in %) scoring below the query track on this tag.
    pub percentile_query: f32,
    /// Share of the library (in %) scoring below the neighbour on this tag.
    pub percentile_neighbor: f32,
}

/// The library distributions explanations are measured against.
#[derive(Debug, Clone, Default)]
pub struct LibraryStats {
    /// Per tag column: the lowest score still in the library's top
    /// [`TOP_SHARE`] (ties included).
    top_threshold: Vec<f32>,
    /// Per tag column: [`QUANTILES`] ascending quantiles of its scores.
    quantiles: Vec<Vec<f32>>,
    /// Sampled pairwise cosine distances, ascending.
    distances: Vec<f32>,
}

/// splitmix64: a small, well-mixed deterministic generator (the sample only
/// needs to be spread evenly and the same every time).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>()
}

impl LibraryStats {
    /// The distributions of one library: tag scores per column of `tags`,
    /// and the cosine distances of a seeded sample of pairs of `index`.
    pub fn compute(index: Option<&VectorIndex>, tags: &TagMatrix) -> LibraryStats {
        let n_tags = tags.tags.len();
        let n_rows = tags.track_ids.len();
        let mut top_threshold = Vec::with_capacity(n_tags);
        let mut quantiles = Vec::with_capacity(n_tags);
        let mut column = Vec::with_capacity(n_rows);
        for c in 0..n_tags {
            column.clear();
            column.extend(tags.scores.iter().skip(c).step_by(n_tags.max(1)).copied());
            column.sort_by(f32::total_cmp);
            if column.is_empty() {
                top_threshold.push(f32::INFINITY);
                quantiles.push(Vec::new());
                continue;
            }
            let in_top = ((TOP_SHARE * column.len() as f32).ceil() as usize).max(1);
            top_threshold.push(column[column.len() - in_top]);
            let last = column.len() - 1;
            quantiles.push(
                (0..QUANTILES).map(|q| column[(q * last + (QUANTILES - 1) / 2) / (QUANTILES - 1)]).collect(),
            );
        }
        LibraryStats { top_threshold, quantiles, distances: index.map(sample_distances).unwrap_or_default() }
    }

    /// How many pairs the distance distribution was estimated from.
    pub fn sampled_pairs(&self) -> usize {
        self.distances.len()
    }

    /// The share (0–1) of the library's pairs of tracks that lie farther
    /// apart than `distance`; `None` for a library of fewer than two tracks.
    pub fn closer_than(&self, distance: f32) -> Option<f32> {
        if self.distances.is_empty() {
            return None;
        }
        // Ties count as "not farther": the pair being asked about is in the
        // sample itself, its distance summed in another order than the
        // k-NN kernels sum it, so it may differ in the last bits.
        let at_most = self.distances.partition_point(|&d| d <= distance + DISTANCE_TIE);
        Some((self.distances.len() - at_most) as f32 / self.distances.len() as f32)
    }

    /// The share of the library (in %) scoring below `score` on column `c`,
    /// to the nearest percent.
    fn percentile(&self, c: usize, score: f32) -> f32 {
        let q = &self.quantiles[c];
        if q.is_empty() {
            return 0.0;
        }
        let below = q.partition_point(|&x| x < score);
        100.0 * below.saturating_sub(1) as f32 / (QUANTILES - 1) as f32
    }

    /// The tags both tracks score high on relative to the library (both in
    /// its top [`TOP_SHARE`] for the tag and not near zero), the most
    /// distinctive first (by the lower of the two percentiles, then the
    /// lower score); at most three. Empty when either track has no scores.
    pub fn common_tags(&self, tags: &TagMatrix, query_id: i64, neighbor_id: i64) -> Vec<CommonTag> {
        let (Some(q), Some(n)) = (tags.row(query_id), tags.row(neighbor_id)) else { return Vec::new() };
        let mut common: Vec<CommonTag> = (0..tags.tags.len().min(self.top_threshold.len()))
            .filter(|&c| {
                let t = self.top_threshold[c];
                q[c] >= t && n[c] >= t && q[c].min(n[c]) >= COMMON_FLOOR
            })
            .map(|c| CommonTag {
                category: tags.tags[c].0.clone(),
                tag: tags.tags[c].1.clone(),
                score_query: q[c],
                score_neighbor: n[c],
                percentile_query: self.percentile(c, q[c]),
                percentile_neighbor: self.percentile(c, n[c]),
            })
            .collect();
        common.sort_by(|a, b| {
            let rank = |t: &CommonTag| {
                (t.percentile_query.min(t.percentile_neighbor), t.score_query.min(t.score_neighbor))
            };
            let (ra, rb) = (rank(a), rank(b));
            rb.0.total_cmp(&ra.0).then(rb.1.total_cmp(&ra.1)).then_with(|| a.tag.cmp(&b.tag))
        });
        common.truncate(COMMON_SHOWN);
        common
    }
}

/// Cosine distances of all pairs of `index`'s usable vectors when there are
/// at most [`DISTANCE_PAIRS`] of them, else of that many pairs drawn with a
/// fixed seed; ascending.
fn sample_distances(index: &VectorIndex) -> Vec<f32> {
    let vectors: Vec<&[f32]> = index.ids().iter().filter_map(|&id| index.vector(id)).collect();
    let n = vectors.len();
    let all_pairs = n.saturating_mul(n.saturating_sub(1)) / 2;
    let mut distances = Vec::with_capacity(all_pairs.min(DISTANCE_PAIRS));
    if all_pairs <= DISTANCE_PAIRS {
        for i in 0..n {
            for j in i + 1..n {
                distances.push(cosine_distance(vectors[i], vectors[j]));
            }
        }
    } else {
        let mut state = DISTANCE_SEED;
        for _ in 0..DISTANCE_PAIRS {
            let i = (splitmix64(&mut state) % n as u64) as usize;
            let mut j = (splitmix64(&mut state) % (n as u64 - 1)) as usize;
            if j >= i {
                j += 1;
            }
            distances.push(cosine_distance(vectors[i], vectors[j]));
        }
    }
    distances.sort_by(f32::total_cmp);
    distances
}

/// A share of pairs as people read it: "closer than 99 % of pairs". Rounded
/// down, so the claim is never stronger than the measurement.
pub fn closer_than_text(share: f32) -> String {
    format!("closer than {} % of pairs", (share * 100.0).floor() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_count_when_both_tracks_stand_out_in_the_library() {
        // Ten tracks; "rock" is high everywhere, "harp" only in tracks 1 and 2.
        let tags = TagMatrix {
            tags: vec![("genre".into(), "rock".into()), ("genre".into(), "harp".into())],
            track_ids: (1..=10).collect(),
            scores: (1..=10).flat_map(|i| [0.5 + 0.01 * i as f32, if i <= 2 { 0.2 } else { 0.01 }]).collect(),
        };
        let stats = LibraryStats::compute(None, &tags);
        let got: Vec<String> = stats.common_tags(&tags, 1, 2).into_iter().map(|t| t.tag).collect();
        assert_eq!(got, ["harp"], "rock is high in both, but not relative to the library");
        let got: Vec<String> = stats.common_tags(&tags, 9, 10).into_iter().map(|t| t.tag).collect();
        assert_eq!(got, ["rock"]);
        assert!(stats.common_tags(&tags, 1, 10).is_empty());
        assert!(stats.common_tags(&tags, 1, 99).is_empty(), "no row, no tags");
        assert_eq!(stats.closer_than(0.1), None, "no vectors, no pairs");
        assert_eq!(closer_than_text(0.999), "closer than 99 % of pairs");
    }
}
