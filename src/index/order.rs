//! Re-ordering a chosen set of tracks into a smooth sequence: "play these,
//! but so that each step is short".
//!
//! Why here: like the song path ([`super::path`]) it needs nothing but the
//! vectors, and the window (a selection) and `tuneatlas path --order` must
//! give one answer. The method is the classic pair for an open travelling-
//! salesman path: a nearest-neighbour tour from every possible first track
//! (the shortest kept), then 2-opt — reverse any stretch whose reversal
//! shortens the total — until no reversal helps. Distances are cosine
//! distances. Exact optimality is not needed (nor affordable); 2-opt removes
//! the crossings that make a nearest-neighbour tour jump back and forth.

use super::knn::VectorIndex;
use crate::{Error, Result};

/// Above this many tracks the nearest-neighbour tour starts from the first
/// track only (every start costs n² steps).
const ALL_STARTS_MAX: usize = 300;
/// A reversal must shorten the path by more than this to count (rounding).
const MIN_GAIN: f64 = 1e-9;

/// `ids` (repeats dropped, first occurrence kept) in an order where each
/// step is short: see the module documentation. Fails when a track has no
/// usable vector in `index`.
pub fn smooth_order(index: &VectorIndex, ids: &[i64]) -> Result<Vec<i64>> {
    let mut unique: Vec<i64> = Vec::with_capacity(ids.len());
    for &id in ids {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    let vectors: Vec<&[f32]> = unique
        .iter()
        .map(|&id| {
            index.vector(id).ok_or_else(|| {
                Error::Invalid(format!("cannot order track {id}: it has no usable vector for this model"))
            })
        })
        .collect::<Result<_>>()?;
    let n = unique.len();
    if n <= 2 {
        return Ok(unique);
    }
    let d: Vec<Vec<f64>> = vectors
        .iter()
        .map(|a| {
            vectors
                .iter()
                .map(|b| 1.0 - a.iter().zip(*b).map(|(x, y)| f64::from(x * y)).sum::<f64>())
                .collect()
        })
        .collect();
    let length = |tour: &[usize]| tour.windows(2).map(|w| d[w[0]][w[1]]).sum::<f64>();
    let starts = if n <= ALL_STARTS_MAX { n } else { 1 };
    let mut best: Vec<usize> = nearest_neighbour_tour(&d, 0);
    let mut best_len = length(&best);
    for start in 1..starts {
        let tour = nearest_neighbour_tour(&d, start);
        let len = length(&tour);
        if len < best_len - MIN_GAIN {
            (best, best_len) = (tour, len);
        }
    }
    two_opt(&d, &mut best);
    Ok(best.into_iter().map(|i| unique[i]).collect())
}

/// The cosine distance of each step of a sequence of tracks: entry *i* is
/// from track *i − 1* to track *i* (`None` for the first, and where either
/// has no vector). What `tuneatlas path` and the window print beside an
/// ordered list.
pub fn step_distances(index: &VectorIndex, ids: &[i64]) -> Vec<Option<f32>> {
    let distance = |a: i64, b: i64| -> Option<f32> {
        let (x, y) = (index.vector(a)?, index.vector(b)?);
        Some(1.0 - x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>())
    };
    (0..ids.len()).map(|i| if i == 0 { None } else { distance(ids[i - 1], ids[i]) }).collect()
}

/// The open tour from `start` that always steps to the nearest unvisited point.
fn nearest_neighbour_tour(d: &[Vec<f64>], start: usize) -> Vec<usize> {
    let n = d.len();
    let mut visited = vec![false; n];
    let mut tour = Vec::with_capacity(n);
    let mut at = start;
    visited[at] = true;
    tour.push(at);
    while tour.len() < n {
        let next = (0..n).filter(|&j| !visited[j]).min_by(|&a, &b| d[at][a].total_cmp(&d[at][b]));
        let Some(next) = next else { break };
        visited[next] = true;
        tour.push(next);
        at = next;
    }
    tour
}

/// Reverses stretches of the open path `tour` while that shortens it.
fn two_opt(d: &[Vec<f64>], tour: &mut [usize]) {
    let n = tour.len();
    let mut improved = true;
    while improved {
        improved = false;
        for i in 0..n - 1 {
            for j in i + 1..n {
                let before = if i > 0 { d[tour[i - 1]][tour[j]] - d[tour[i - 1]][tour[i]] } else { 0.0 };
                let after = if j + 1 < n { d[tour[i]][tour[j + 1]] - d[tour[j]][tour[j + 1]] } else { 0.0 };
                if before + after < -MIN_GAIN {
                    tour[i..=j].reverse();
                    improved = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_on_an_arc_come_back_in_arc_order() {
        // Twelve points along a quarter circle, given shuffled.
        let angle = |k: i64| k as f32 * 0.13;
        let shuffled: Vec<i64> = vec![7, 2, 11, 0, 5, 9, 1, 10, 3, 8, 6, 4];
        let index =
            VectorIndex::build(3, shuffled.iter().map(|&k| (k, vec![angle(k).cos(), angle(k).sin(), 0.0])))
                .expect("index");
        let got = smooth_order(&index, &shuffled).expect("order");
        let forward: Vec<i64> = (0..12).collect();
        let backward: Vec<i64> = (0..12).rev().collect();
        assert!(got == forward || got == backward, "{got:?}");
        assert_eq!(smooth_order(&index, &[3, 3, 5]).expect("order"), [3, 5], "repeats dropped");
        assert!(smooth_order(&index, &[1, 99]).is_err(), "no vector");
        let steps = step_distances(&index, &[0, 1, 3, 99]);
        assert_eq!(steps[0], None);
        assert!((steps[1].expect("0 → 1") - (1.0 - 0.13f32.cos())).abs() < 1e-5);
        assert!((steps[2].expect("1 → 3") - (1.0 - 0.26f32.cos())).abs() < 1e-5);
        assert_eq!(steps[3], None, "no vector");
    }
}
