//! How good is a map? Synthetic data with known structure, and figures that
//! compare a layout's 2-d neighbourhoods with the vectors' own.
//!
//! Why: t-SNE has knobs (PCA dimensions, θ, iterations) that trade time for
//! quality, and "faster" is worthless if the map stops showing which tracks
//! are alike. `tuneatlas bench tsne` prints these figures next to its
//! timings, and the tests use them to check that clusters stay clusters.

use std::collections::HashMap;

use super::Layout;
use crate::index::{VectorIndex, random_unit_vectors};
use crate::{Error, Result};

/// Unit vectors in `n_clusters` Gaussian clusters on the sphere, each made
/// of sub-clusters, with their cluster labels: a stand-in for a library of
/// several genres made of albums, reproducible from `seed`.
#[derive(Debug, Clone)]
pub struct ClusteredVectors {
    /// `(track id, unit vector)`, ids 0..n.
    pub vectors: Vec<(i64, Vec<f32>)>,
    /// The (top-level) cluster of each track id.
    pub labels: HashMap<i64, usize>,
}

/// How far sub-cluster centres lie from their cluster centre (before
/// re-normalising): cosine ≈ 0.85 to it.
const SUB_SPREAD: f32 = 0.6;

/// `n` unit vectors of `dim` dimensions around `n_clusters` random centres,
/// each with `n_sub` sub-clusters ("albums" of a "genre"; 1 = no
/// sub-structure). A sub-centre is `centre + 0.6 · r` and a point
/// `sub-centre + noise · u` (r, u random unit directions), each
/// re-normalised; random centres are nearly orthogonal. Point `i` belongs to
/// cluster `i mod n_clusters` and to its sub-cluster `(i / n_clusters) mod
/// n_sub`. The sub-clusters give each point real near neighbours, so a map
/// that scrambles neighbourhoods within a cluster scores visibly lower in
/// [`knn_preservation`].
pub fn clustered_unit_vectors(
    n: usize,
    dim: usize,
    n_clusters: usize,
    n_sub: usize,
    noise: f32,
    seed: u64,
) -> ClusteredVectors {
    let (n_clusters, n_sub) = (n_clusters.max(1), n_sub.max(1));
    let centres = random_unit_vectors(n_clusters, dim, seed);
    let sub_offsets = random_unit_vectors(n_clusters * n_sub, dim, seed ^ 0x5AB5_C1A5);
    let offsets = random_unit_vectors(n, dim, seed ^ 0xC1A5_7E55);
    let normalized = |v: Vec<f32>| {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
        v.into_iter().map(|x| x / norm).collect::<Vec<f32>>()
    };
    let sub_centres: Vec<Vec<f32>> = sub_offsets
        .iter()
        .enumerate()
        .map(|(j, r)| normalized(centres[j / n_sub].iter().zip(r).map(|(c, r)| c + SUB_SPREAD * r).collect()))
        .collect();
    let mut vectors = Vec::with_capacity(n);
    let mut labels = HashMap::with_capacity(n);
    for (i, offset) in offsets.into_iter().enumerate() {
        let label = i % n_clusters;
        let sub = &sub_centres[label * n_sub + (i / n_clusters) % n_sub];
        vectors.push((i as i64, normalized(sub.iter().zip(&offset).map(|(c, o)| c + noise * o).collect())));
        labels.insert(i as i64, label);
    }
    ClusteredVectors { vectors, labels }
}

/// The `k` nearest other points of every point by Euclidean distance (ties
/// by index), by brute force: O(n²), fine for the ≤ 10⁴ points of a check.
pub fn knn_2d(points: &[(f32, f32)], k: usize) -> Vec<Vec<usize>> {
    let all: Vec<usize> = (0..points.len()).collect();
    knn_2d_of(points, &all, k)
}

/// [`knn_2d`] for the points at `queries` only (neighbours among all).
fn knn_2d_of(points: &[(f32, f32)], queries: &[usize], k: usize) -> Vec<Vec<usize>> {
    let k = k.min(points.len().saturating_sub(1));
    queries
        .iter()
        .map(|&i| {
            let (x, y) = points[i];
            // Kept sorted ascending by (distance², index); at most k entries.
            let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
            for (j, &(px, py)) in points.iter().enumerate() {
                if i == j || k == 0 {
                    continue;
                }
                let d = (px - x) * (px - x) + (py - y) * (py - y);
                if best.len() == k && best.last().is_some_and(|&(bd, _)| d >= bd) {
                    continue;
                }
                let at = best.partition_point(|&(bd, bj)| bd < d || (bd == d && bj < j));
                best.insert(at, (d, j));
                best.truncate(k);
            }
            best.into_iter().map(|(_, j)| j).collect()
        })
        .collect()
}

/// Tracks whose neighbourhoods [`knn_preservation`] compares at most
/// (evenly spaced): enough for a figure to ±0.01, quick at 10⁴ tracks.
pub const PRESERVATION_MAX_QUERIES: usize = 2_000;

/// Mean fraction of each track's `k` nearest neighbours in the vector space
/// (cosine) that are also among its `k` nearest on the map: 1 when the map
/// keeps every neighbourhood, about k/n for a random map. Counts only tracks
/// that are both on the map and have a usable vector, and averages over at
/// most [`PRESERVATION_MAX_QUERIES`] of them (neighbours are searched among all).
pub fn knn_preservation(vectors: &[(i64, Vec<f32>)], layout: &Layout, k: usize) -> Result<f64> {
    let on_map: Vec<(i64, &[f32])> =
        vectors.iter().filter(|(id, _)| layout.contains(*id)).map(|(id, v)| (*id, v.as_slice())).collect();
    let dim = on_map.first().map_or(1, |(_, v)| v.len());
    let index = VectorIndex::build(dim, on_map.iter().copied())?;
    let ids: Vec<i64> = index.ids().to_vec();
    if ids.len() < 2 || k == 0 {
        return Err(Error::Invalid("neighbourhood preservation needs at least two tracks and k ≥ 1".into()));
    }
    let points: Vec<(f32, f32)> = ids.iter().filter_map(|&id| layout.position(id)).collect();
    let stride = ids.len().div_ceil(PRESERVATION_MAX_QUERIES).max(1);
    let queries: Vec<usize> = (0..ids.len()).step_by(stride).collect();
    let near_2d = knn_2d_of(&points, &queries, k);
    let mut total = 0.0;
    for (&row, near) in queries.iter().zip(&near_2d) {
        let high = index.top_k_by_id(ids[row], k, |_| true).unwrap_or_default();
        let shared = high.iter().filter(|n| near.iter().any(|&j| ids[j] == n.track_id)).count();
        total += shared as f64 / high.len().max(1) as f64;
    }
    Ok(total / queries.len() as f64)
}

/// Mean fraction of each point's `k` nearest map neighbours that carry its
/// own label (e.g. synthetic cluster): near 1 when clusters stay apart,
/// about 1/#labels for a random map. Points without a label are ignored.
pub fn label_agreement(layout: &Layout, labels: &HashMap<i64, usize>, k: usize) -> f64 {
    let labelled: Vec<(usize, (f32, f32))> =
        layout.points().iter().filter_map(|p| Some((*labels.get(&p.track_id)?, (p.x, p.y)))).collect();
    let points: Vec<(f32, f32)> = labelled.iter().map(|(_, p)| *p).collect();
    let near = knn_2d(&points, k);
    if labelled.is_empty() {
        return 0.0;
    }
    let mut total = 0.0;
    for (i, neighbours) in near.iter().enumerate() {
        let same = neighbours.iter().filter(|&&j| labelled[j].0 == labelled[i].0).count();
        total += same as f64 / neighbours.len().max(1) as f64;
    }
    total / labelled.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::MapCoord;

    #[test]
    fn knn_2d_finds_the_closest_points() {
        let pts = [(0.0, 0.0), (1.0, 0.0), (0.1, 0.0), (5.0, 5.0)];
        let near = knn_2d(&pts, 2);
        assert_eq!(near[0], vec![2, 1]);
        assert_eq!(near[3], vec![1, 2]);
        assert_eq!(knn_2d(&pts[..1], 3), vec![Vec::<usize>::new()]);
    }

    #[test]
    fn figures_tell_a_faithful_map_from_a_scrambled_one() {
        let data = clustered_unit_vectors(60, 16, 3, 1, 0.3, 1);
        // A "map" that puts each cluster on its own spot (faithful for
        // labels), and one that ignores the clusters.
        let faithful = Layout::from_points(data.vectors.iter().map(|(id, _)| {
            let c = data.labels[id] as f32;
            let jitter = (*id as f32) * 1e-3;
            MapCoord { track_id: *id, x: c + jitter, y: -c, placed: false }
        }));
        let scrambled = Layout::from_points(data.vectors.iter().map(|(id, _)| MapCoord {
            track_id: *id,
            x: (*id as f32 * 0.618).fract(),
            y: (*id as f32 * 0.382).fract(),
            placed: false,
        }));
        assert!(label_agreement(&faithful, &data.labels, 5) > 0.99);
        assert!(label_agreement(&scrambled, &data.labels, 5) < 0.6);
        let kp = knn_preservation(&data.vectors, &scrambled, 5).expect("figure");
        assert!((0.0..0.5).contains(&kp), "{kp}");
    }
}
