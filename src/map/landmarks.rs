//! Maps of large libraries: t-SNE lays out a set of *landmark* tracks that
//! covers the library, and every other track is put among its nearest
//! landmarks with the same rule that places tracks imported later
//! ([`super::place::weighted_position`]).
//!
//! Why: linfa-tsne's cost grows faster than the library — its input
//! similarities scan nearly n² pairs (see [`super::tsne`]) and its gradient
//! descent is single-threaded — so a 100k-track map would take about 18 min
//! on the 2-core dev machine. With ~35·√n landmarks (≈ 11k at 100k tracks)
//! t-SNE sees a fraction of the tracks, and placing the rest is an exact
//! nearest-neighbour search in the embedding ([`crate::index`]), which is
//! cheap and parallel. `tuneatlas bench tsne` prints the time and the 10-NN
//! preservation of both ways side by side.
//!
//! Why landmarks are not a plain random sample: a sample follows density,
//! so a small, distinct group (one odd album among thousands of pop tracks)
//! may get no landmark and its tracks end up smeared over the nearest big
//! cluster. The sample is therefore topped up with the tracks that are
//! farthest from every landmark, in a few rounds, until the least-covered
//! regions have their own landmarks.

use super::place::{SIMILARITY_TEMPERATURE, jitter_direction, weighted_position};
use crate::index::batch_top_k;
use crate::jobs::CancelToken;
use crate::{Error, Result};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Share of the landmarks chosen for coverage (the rest is a seeded random
/// sample, which keeps the map's proportions those of the library).
const COVERAGE_SHARE: f64 = 0.1;

/// Rounds in which the coverage landmarks are added: each round takes the
/// tracks farthest from all landmarks so far, so one remote region does not
/// take every coverage landmark at once.
const COVERAGE_ROUNDS: usize = 4;

/// How the tracks t-SNE does not see are put among their nearest landmarks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Nearest landmarks a track is placed among.
    pub neighbors: usize,
    /// Softness of the similarity weights ([`weighted_position`]).
    pub temperature: f32,
    /// Jitter radius as a fraction of the layout's extent, so tracks
    /// sharing a landmark stay apart and clickable.
    pub jitter_of_extent: f64,
}

/// Measured with 10,000 clustered synthetic tracks (3,500 landmarks, one
/// t-SNE run each, 10-NN preservation): 3 neighbours 0.375, 1 neighbour
/// 0.379, 5 neighbours 0.373; a jitter of 0.2 % of the extent instead of
/// 0.05 % cost about 0.012 (a placed track's nearest points on the map become
/// a random few of its landmark's), a softer temperature (0.05, 0.1) 0.01
/// to 0.02.
impl Default for Placement {
    fn default() -> Self {
        Placement { neighbors: 3, temperature: SIMILARITY_TEMPERATURE, jitter_of_extent: 0.0005 }
    }
}

/// How many of `n` distinct tracks t-SNE lays out: all of them up to
/// `full_max`, else `max(full_max, per_sqrt · √n)`.
pub fn landmark_count(n: usize, full_max: usize, per_sqrt: f32) -> usize {
    if n <= full_max || per_sqrt <= 0.0 {
        return n;
    }
    let by_sqrt = (f64::from(per_sqrt) * (n as f64).sqrt()).round() as usize;
    by_sqrt.max(full_max).min(n)
}

/// Perplexity of the landmark t-SNE: the asked one scaled by the share of
/// tracks that are landmarks, so that each landmark's neighbourhood spans
/// about as many *tracks* as in a t-SNE of all of them (30 of 10,000 tracks
/// is 10.5 of 3,500 landmarks), but at least 10, below which t-SNE breaks
/// clusters apart. Measured at 10,000 tracks and 3,500 landmarks: 10-NN
/// preservation 0.379 with perplexity 10.5, 0.367 with 20, and t-SNE 5.0 s
/// instead of 5.6 s.
pub fn landmark_perplexity(perplexity: f32, landmarks: usize, n: usize) -> f32 {
    if landmarks >= n || n == 0 {
        return perplexity;
    }
    (perplexity * landmarks as f32 / n as f32).max(10.0).min(perplexity)
}

/// The nearest landmarks of every track (empty lists for landmarks).
pub struct Landmarks {
    /// Row indices of the landmark tracks, ascending.
    pub rows: Vec<usize>,
    /// Per row: its nearest landmarks as (row, cosine), best first; empty
    /// for a landmark itself.
    nearest: Vec<Vec<(usize, f32)>>,
}

/// Chooses `count` landmarks among `unit_rows` (n rows of `dim` unit-length
/// values): a seeded random sample, topped up with the least-covered rows
/// (see the module docs), and finds every other row's nearest landmarks.
pub fn choose(
    unit_rows: &[f32],
    dim: usize,
    count: usize,
    seed: u64,
    placement: &Placement,
    cancel: &CancelToken,
) -> Result<Landmarks> {
    let k = placement.neighbors.max(1);
    let n = unit_rows.len() / dim.max(1);
    if count >= n {
        return Ok(Landmarks { rows: (0..n).collect(), nearest: vec![Vec::new(); n] });
    }
    let coverage = ((count as f64 * COVERAGE_SHARE).round() as usize).min(count.saturating_sub(1));
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut is_landmark = vec![false; n];
    let first: Vec<usize> = order[..count - coverage].to_vec();
    for &r in &first {
        is_landmark[r] = true;
    }
    let mut nearest: Vec<Vec<(usize, f32)>> = vec![Vec::new(); n];
    merge_nearest(unit_rows, dim, &first, &is_landmark, &mut nearest, k, cancel)?;
    let mut added = 0;
    for round in 0..COVERAGE_ROUNDS {
        let want = coverage * (round + 1) / COVERAGE_ROUNDS - added;
        if want == 0 {
            continue;
        }
        // The least-covered rows: lowest similarity to their nearest landmark.
        let mut candidates: Vec<(f32, usize)> = (0..n)
            .filter(|&r| !is_landmark[r])
            .map(|r| (nearest[r].first().map_or(f32::NEG_INFINITY, |n| n.1), r))
            .collect();
        let want = want.min(candidates.len());
        if want == 0 {
            break;
        }
        candidates.select_nth_unstable_by(want - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let new: Vec<usize> = candidates[..want].iter().map(|&(_, r)| r).collect();
        for &r in &new {
            is_landmark[r] = true;
            nearest[r].clear();
        }
        merge_nearest(unit_rows, dim, &new, &is_landmark, &mut nearest, k, cancel)?;
        added += want;
    }
    let rows: Vec<usize> = (0..n).filter(|&r| is_landmark[r]).collect();
    Ok(Landmarks { rows, nearest })
}

impl Landmarks {
    /// Positions for every row: a landmark's from `landmark_xy` (in the order
    /// of [`Landmarks::rows`]), every other row's from its nearest landmarks
    /// ([`weighted_position`]) plus a jitter derived from `jitter_ids[row]`.
    pub fn positions(
        &self,
        landmark_xy: &[[f64; 2]],
        jitter_ids: &[i64],
        placement: &Placement,
    ) -> Result<Vec<[f64; 2]>> {
        if landmark_xy.len() != self.rows.len() {
            return Err(Error::Invalid(format!(
                "{} landmark positions for {} landmarks",
                landmark_xy.len(),
                self.rows.len()
            )));
        }
        let n = self.nearest.len();
        let mut slot = vec![usize::MAX; n];
        for (i, &r) in self.rows.iter().enumerate() {
            slot[r] = i;
        }
        let extent = landmark_xy
            .iter()
            .flat_map(|p| p.iter().copied())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let extent = if extent.1 > extent.0 { extent.1 - extent.0 } else { 1.0 };
        let radius = placement.jitter_of_extent * extent;
        Ok((0..n)
            .map(|r| {
                if slot[r] != usize::MAX {
                    return landmark_xy[slot[r]];
                }
                let neighbors: Vec<(f32, [f64; 2])> =
                    self.nearest[r].iter().map(|&(l, cos)| (cos, landmark_xy[slot[l]])).collect();
                let [x, y] = weighted_position(&neighbors, placement.temperature).unwrap_or([0.0, 0.0]);
                let [jx, jy] = jitter_direction(jitter_ids.get(r).copied().unwrap_or(r as i64));
                [x + radius * jx, y + radius * jy]
            })
            .collect())
    }
}

/// Merges the landmarks `new` into every non-landmark row's nearest list
/// (keeping the best `k`): one batched exact k-NN ([`batch_top_k`]).
fn merge_nearest(
    unit_rows: &[f32],
    dim: usize,
    new: &[usize],
    is_landmark: &[bool],
    nearest: &mut [Vec<(usize, f32)>],
    k: usize,
    cancel: &CancelToken,
) -> Result<()> {
    let gather = |rows: &[usize]| -> Vec<f32> {
        rows.iter().flat_map(|&r| unit_rows[r * dim..(r + 1) * dim].iter().copied()).collect()
    };
    let others: Vec<usize> = (0..nearest.len()).filter(|&r| !is_landmark[r]).collect();
    let found = batch_top_k(&gather(&others), &gather(new), dim, k, cancel)?;
    for (&r, hits) in others.iter().zip(found) {
        let list = &mut nearest[r];
        list.extend(hits.into_iter().map(|(j, cosine)| (new[j], cosine)));
        list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        list.truncate(k);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::quality::clustered_unit_vectors;

    #[test]
    fn small_libraries_keep_every_track_in_tsne() {
        assert_eq!(landmark_count(3_000, 3_500, 35.0), 3_000);
        assert_eq!(landmark_count(10_000, 3_500, 35.0), 3_500);
        assert_eq!(landmark_count(100_000, 3_500, 35.0), 11_068);
        assert_eq!(landmark_count(100_000, 3_500, 0.0), 100_000, "0 turns landmarks off");
    }

    #[test]
    fn landmark_perplexity_keeps_the_neighbourhood_in_tracks() {
        assert_eq!(landmark_perplexity(30.0, 3_500, 10_000), 10.5);
        assert_eq!(landmark_perplexity(30.0, 11_068, 100_000), 10.0, "never below 10");
        assert_eq!(landmark_perplexity(30.0, 500, 500), 30.0, "no landmarks: as asked");
        assert_eq!(landmark_perplexity(5.0, 3_500, 10_000), 5.0, "never above the asked one");
    }

    #[test]
    fn a_small_distinct_group_gets_a_landmark() {
        // 1,990 tracks in 4 big clusters and one group of 10 far from them:
        // a random sample of 40 would miss the group about two times in three.
        let big = clustered_unit_vectors(1_990, 16, 4, 1, 0.2, 3);
        let odd = clustered_unit_vectors(10, 16, 1, 1, 0.05, 99);
        let mut rows: Vec<f32> = Vec::new();
        for (_, v) in big.vectors.iter().chain(&odd.vectors) {
            rows.extend(v);
        }
        let chosen = choose(&rows, 16, 40, 5, &Placement::default(), &CancelToken::new()).expect("landmarks");
        assert_eq!(chosen.rows.len(), 40);
        assert!(chosen.rows.iter().any(|&r| r >= 1_990), "no landmark in the small group: {:?}", chosen.rows);
        // Every other track knows its nearest landmarks, best first.
        for r in 0..2_000 {
            let near = &chosen.nearest[r];
            if chosen.rows.binary_search(&r).is_ok() {
                assert!(near.is_empty());
            } else {
                assert_eq!(near.len(), Placement::default().neighbors);
                assert!(near.windows(2).all(|w| w[0].1 >= w[1].1));
                assert!(near.iter().all(|(l, _)| chosen.rows.binary_search(l).is_ok()));
            }
        }
    }

    #[test]
    fn placed_tracks_land_next_to_their_nearest_landmark() {
        let data = clustered_unit_vectors(400, 8, 4, 1, 0.1, 11);
        let rows: Vec<f32> = data.vectors.iter().flat_map(|(_, v)| v.iter().copied()).collect();
        let chosen = choose(&rows, 8, 40, 1, &Placement::default(), &CancelToken::new()).expect("landmarks");
        // Landmarks of cluster c sit at (10·c, 0).
        let xy: Vec<[f64; 2]> = chosen.rows.iter().map(|&r| [10.0 * (r % 4) as f64, 0.0]).collect();
        let ids: Vec<i64> = (0..400).collect();
        let placed = chosen.positions(&xy, &ids, &Placement::default()).expect("positions");
        for (r, p) in placed.iter().enumerate() {
            let cluster = (r % 4) as f64;
            assert!((p[0] - 10.0 * cluster).abs() < 1.0, "track {r} of cluster {cluster} at {p:?}");
        }
        assert!(chosen.positions(&xy[1..], &ids, &Placement::default()).is_err());
    }
}
