//! Putting new tracks on an existing map without recomputing it, and the
//! policy for when a full recompute is due.
//!
//! Why: a t-SNE layout of a large library takes tens of seconds and comes
//! out differently (rotated, clusters moved) whenever the input changes, so
//! re-running it after every small import would both cost time and shuffle
//! the map the user has learnt. A new track is instead put where its nearest
//! neighbours in the embedding already are — the similarity-weighted mean of
//! their positions — which is what t-SNE would roughly do with it. Once many
//! tracks were placed this way the map drifts from a real t-SNE of the
//! library, and [`recompute_due`] says it is time for a new one.

use serde::{Deserialize, Serialize};

use super::tsne::{MIN_TSNE_TRACKS, splitmix64, unit};
use super::{Layout, MapCoord};
use crate::index::VectorIndex;

/// Neighbours a new track is placed among by default.
pub const DEFAULT_PLACE_NEIGHBORS: usize = 5;

/// Softness of the similarity weights: a neighbour `t` less cosine
/// similar than the best one weighs `exp(-t / SIMILARITY_TEMPERATURE)` as
/// much, so a near-duplicate pulls the new track to itself while neighbours
/// of similar similarity share the pull evenly.
pub(crate) const SIMILARITY_TEMPERATURE: f32 = 0.02;

/// Radius of the deterministic jitter (in the [-1, 1] map frame) that keeps
/// duplicates and tracks with the same neighbours from hiding each other.
const JITTER_RADIUS: f32 = 0.004;

/// When to recompute a layout instead of placing new tracks on it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RecomputePolicy {
    /// Recompute once placed tracks (earlier ones plus the new ones) would
    /// exceed this fraction of the tracks t-SNE laid out.
    pub max_placed_fraction: f64,
    /// Libraries of at most this many tracks are always recomputed when
    /// tracks arrive: it takes about a second and gives the true layout.
    pub always_below_tracks: usize,
}

impl Default for RecomputePolicy {
    fn default() -> Self {
        RecomputePolicy { max_placed_fraction: 0.2, always_below_tracks: 300 }
    }
}

/// True when a layout with `n_tsne` t-SNE points and `n_placed` placed ones
/// should be recomputed rather than extended by `n_new` tracks. Nothing new
/// never forces a recompute; a layout too small for t-SNE always does.
pub fn recompute_due(policy: &RecomputePolicy, n_tsne: usize, n_placed: usize, n_new: usize) -> bool {
    if n_new == 0 {
        return false;
    }
    if n_tsne < MIN_TSNE_TRACKS || n_tsne + n_placed + n_new <= policy.always_below_tracks {
        return true;
    }
    (n_placed + n_new) as f64 > policy.max_placed_fraction * n_tsne as f64
}

/// The layout extended by `new_vectors` (track id, vector): each track not
/// yet on the map goes to the similarity-weighted mean position of its `k`
/// nearest neighbours (cosine, in the full vector space) among the tracks
/// already on it, plus a tiny jitter derived from its id (so the result is
/// deterministic and independent of the order of `new_vectors`).
///
/// `index` must hold the vectors of (at least) the tracks already laid out;
/// tracks it holds that are not on the map are ignored as neighbours, so the
/// new tracks never lean on each other. Tracks already on the map keep their
/// place; zero or non-finite vectors are recorded as unusable. A track with
/// no neighbour (empty map, vectors of another dimension) lands at the centre.
pub fn place_new(layout: &Layout, index: &VectorIndex, new_vectors: &[(i64, Vec<f32>)], k: usize) -> Layout {
    let mut added = Vec::new();
    let mut unusable: Vec<i64> = layout.unusable_ids().to_vec();
    for (track_id, vector) in new_vectors {
        let track_id = *track_id;
        if layout.contains(track_id) {
            continue;
        }
        let Some(query) = unit(vector) else {
            unusable.push(track_id);
            continue;
        };
        let neighbors: Vec<(f32, [f64; 2])> = index
            .top_k(&query, k.max(1), |id| id != track_id && layout.contains(id))
            .iter()
            .filter_map(|n| {
                layout.get(n.track_id).map(|p| (n.cosine_similarity, [f64::from(p.x), f64::from(p.y)]))
            })
            .collect();
        let [cx, cy] = weighted_position(&neighbors, SIMILARITY_TEMPERATURE).unwrap_or([0.0, 0.0]);
        let [jx, jy] = jitter_direction(track_id);
        let radius = f64::from(JITTER_RADIUS);
        added.push(MapCoord {
            track_id,
            x: (cx + radius * jx).clamp(-1.0, 1.0) as f32,
            y: (cy + radius * jy).clamp(-1.0, 1.0) as f32,
            placed: true,
        });
    }
    Layout::from_points(layout.points().iter().copied().chain(added)).with_unusable(unusable)
}

/// The similarity-weighted mean of neighbour positions `(cosine, [x, y])`:
/// a neighbour `t` less similar than the best weighs `exp(-t /
/// temperature)` as much ([`SIMILARITY_TEMPERATURE`] for tracks that arrive later). `None` without neighbours. The one rule
/// for putting a track among its neighbours, used for tracks that arrive
/// later (here) and for the tracks a landmark layout does not give to t-SNE
/// ([`super::landmarks`]).
pub(crate) fn weighted_position(neighbors: &[(f32, [f64; 2])], temperature: f32) -> Option<[f64; 2]> {
    let best = neighbors.iter().map(|n| n.0).fold(f32::NEG_INFINITY, f32::max);
    let (mut x, mut y, mut total) = (0f64, 0f64, 0f64);
    for &(similarity, [px, py]) in neighbors {
        let w = f64::from(((similarity - best) / temperature).exp());
        x += w * px;
        y += w * py;
        total += w;
    }
    (total > 0.0).then(|| [x / total, y / total])
}

/// A small offset direction, the same for a track id every time, uniform
/// over the unit disk minus its inner half: scaled by a jitter radius it
/// keeps duplicates and tracks with the same neighbours from hiding each
/// other.
pub(crate) fn jitter_direction(track_id: i64) -> [f64; 2] {
    let a = splitmix64(track_id as u64);
    let b = splitmix64(a);
    let to_unit = |z: u64| (z >> 11) as f64 / (1u64 << 53) as f64;
    let angle = std::f64::consts::TAU * to_unit(a);
    let radius = 0.5 + 0.5 * to_unit(b);
    [radius * angle.cos(), radius * angle.sin()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_recomputes_small_or_outgrown_layouts_only() {
        let p = RecomputePolicy::default();
        assert!(!recompute_due(&p, 1000, 0, 0));
        assert!(recompute_due(&p, 0, 0, 1));
        assert!(recompute_due(&p, 3, 0, 1));
        assert!(recompute_due(&p, 100, 0, 1), "small libraries are recomputed");
        assert!(!recompute_due(&p, 1000, 100, 100));
        assert!(recompute_due(&p, 1000, 100, 101));
        assert!(recompute_due(&p, 1000, 0, 201));
    }

    #[test]
    fn jitter_is_small_deterministic_and_distinct() {
        let (a, b) = (jitter_direction(7), jitter_direction(8));
        assert_eq!(a, jitter_direction(7));
        assert_ne!(a, b);
        for id in 0..100 {
            let [x, y] = jitter_direction(id);
            let r = (x * x + y * y).sqrt();
            assert!((0.499..=1.001).contains(&r), "{r}");
        }
    }

    #[test]
    fn the_most_similar_neighbour_pulls_hardest() {
        assert_eq!(weighted_position(&[], 0.02), None);
        let p = weighted_position(&[(0.9, [1.0, 0.0]), (0.5, [-1.0, 0.0])], 0.02).expect("position");
        assert!(p[0] > 0.99, "{p:?}");
        let even = weighted_position(&[(0.8, [1.0, 0.0]), (0.8, [-1.0, 2.0])], 0.02).expect("position");
        assert!(even[0].abs() < 1e-9 && (even[1] - 1.0).abs() < 1e-9, "{even:?}");
    }
}
