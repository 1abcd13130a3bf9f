//! Walks through the embedding space: a song path from one track to another,
//! and a "radio" that wanders on from a seed track.
//!
//! Why here: both are sequences of nearest-neighbour queries against the
//! same exact [`VectorIndex`] the similar-tracks list uses, so they need no
//! data of their own and behave the same in the GUI and the command line.
//!
//! **Song path (A → B).** With `a` and `b` the unit vectors of A and B, the
//! great circle through them is `p(t) = cos(tθ)·a + sin(tθ)·u`, where `θ` is
//! the angle between them and `u` the unit vector in the a–b plane that is
//! orthogonal to `a` and points towards `b` (spherical linear interpolation,
//! "slerp"). The path starts with A, ends with B, and in between takes one
//! track for each of the `steps − 2` evenly spaced points `t = i / (steps −
//! 1)`: among the tracks closest to `p(t)` (not yet used, not excluded), the
//! closest one that does not step back. "Back" is measured by a track's
//! *progress*, the angle of its projection onto the a–b plane from `a`
//! towards `b`, divided by `θ` (0 at A, 1 at B): progress never decreases
//! along the path and never passes 1. A point with no such candidate is
//! skipped, so the path never doubles back but may hold fewer than `steps`
//! tracks when the library is sparse between A and B.
//!
//! **Radio.** Each next track is the nearest unused neighbour of a running
//! blend of the seed and the last few tracks played: half the seed, half a
//! decaying mean of the recent tracks (most recent weighted most). The first
//! pick is therefore the seed's own nearest neighbour; as the closest tracks
//! are used up the recent ones pull the query outwards, while the seed's
//! fixed half keeps the drift slow and the station recognisably "like" the
//! seed.

use std::collections::HashSet;

use super::knn::VectorIndex;
use crate::{Error, Result};

/// How many nearest tracks of each path point are considered before the
/// point is skipped: enough that one of them almost always moves forward.
const PATH_CANDIDATES: usize = 32;

/// Share of the seed in the radio's query (the rest is the recent tracks).
const RADIO_SEED_WEIGHT: f64 = 0.5;

/// How many of the last tracks the radio's query remembers.
const RADIO_MEMORY: usize = 3;

/// Each older remembered track weighs this much less than the next newer one.
const RADIO_DECAY: f64 = 0.5;

/// Below this, a vector is treated as zero (a degenerate direction).
const EPS: f64 = 1e-9;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `v` scaled to unit length, or `None` for a (near-)zero vector.
fn unit(v: Vec<f64>) -> Option<Vec<f64>> {
    let norm = dot(&v, &v).sqrt();
    (norm > EPS).then(|| v.into_iter().map(|x| x / norm).collect())
}

fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// A unit vector orthogonal to the unit vector `a`: the coordinate axis
/// least aligned with `a`, with its `a` component removed.
fn any_orthogonal(a: &[f64]) -> Option<Vec<f64>> {
    let axis = (0..a.len()).min_by(|&i, &j| a[i].abs().total_cmp(&a[j].abs()))?;
    let mut v: Vec<f64> = a.iter().map(|&x| -a[axis] * x).collect();
    v[axis] += 1.0;
    unit(v)
}

/// The great circle from `a` towards `b`, for interpolation and progress.
struct Arc {
    a: Vec<f64>,
    /// Unit vector orthogonal to `a` in the a–b plane, towards `b`.
    u: Vec<f64>,
    /// Angle between `a` and `b` in radians, in [0, π].
    theta_rad: f64,
}

impl Arc {
    fn new(a: Vec<f64>, b: &[f64]) -> Option<Arc> {
        let cos = dot(&a, b).clamp(-1.0, 1.0);
        let toward_b: Vec<f64> = b.iter().zip(&a).map(|(y, x)| y - cos * x).collect();
        // Identical or opposite directions span no plane: any orthogonal
        // direction gives a valid great circle (for opposite ones, every
        // great circle through both is equally short).
        let u = unit(toward_b).or_else(|| any_orthogonal(&a))?;
        Some(Arc { a, u, theta_rad: cos.acos() })
    }

    /// The point at fraction `t` of the way from `a` to `b`.
    fn point(&self, t: f64) -> Vec<f64> {
        let (s, c) = (t * self.theta_rad).sin_cos();
        self.a.iter().zip(&self.u).map(|(x, y)| c * x + s * y).collect()
    }

    /// How far along the arc `x` lies: 0 at `a`, 1 at `b`. `None` when A and
    /// B point the same way (the arc has no length to measure along).
    fn progress(&self, x: &[f64]) -> Option<f64> {
        (self.theta_rad > EPS).then(|| dot(x, &self.u).atan2(dot(x, &self.a)) / self.theta_rad)
    }
}

/// The unit vector of `id`, or an error saying why there is none.
fn vector_of(index: &VectorIndex, id: i64, role: &str) -> Result<Vec<f64>> {
    let Some(v) = index.vector(id) else {
        let why = if index.unusable_ids().contains(&id) {
            "its vector is zero or not finite; re-embed it"
        } else {
            "it has no vector for this model; embed it first"
        };
        return Err(Error::Invalid(format!("cannot make a song path {role} track {id}: {why}")));
    };
    Ok(to_f64(v))
}

/// A smooth sequence of tracks from `from_id` to `to_id`: `from_id` first,
/// `to_id` last, at most `steps` tracks in all, no track twice, none that
/// `exclude` rejects in between (e.g. repeats of A's or B's album). See the
/// module documentation for the method.
///
/// Fails when `steps` is below 2, when A and B are the same track, or when
/// either has no usable vector in `index`.
pub fn song_path(
    index: &VectorIndex,
    from_id: i64,
    to_id: i64,
    steps: usize,
    exclude: impl Fn(i64) -> bool + Sync,
) -> Result<Vec<i64>> {
    if steps < 2 {
        return Err(Error::Invalid(format!(
            "a song path needs at least 2 steps (its two ends), got {steps}"
        )));
    }
    if from_id == to_id {
        return Err(Error::Invalid(format!("a song path needs two different tracks (got {from_id} twice)")));
    }
    let a = vector_of(index, from_id, "from")?;
    let b = vector_of(index, to_id, "to")?;
    let arc = Arc::new(a, &b)
        .ok_or_else(|| Error::Invalid("cannot make a song path in a 1-dimensional space".into()))?;
    let mut path = vec![from_id];
    let mut used: HashSet<i64> = HashSet::from([from_id, to_id]);
    let mut last_progress = 0.0;
    for i in 1..steps - 1 {
        let t = i as f64 / (steps - 1) as f64;
        let query = to_f32(&arc.point(t));
        let candidates = index.top_k(&query, PATH_CANDIDATES, |id| !used.contains(&id) && !exclude(id));
        let next = candidates.iter().find_map(|n| {
            let progress = index.vector(n.track_id).map(to_f64).map(|x| arc.progress(&x));
            match progress {
                // A and B point the same way: nearness is all there is.
                Some(None) => Some((n.track_id, last_progress)),
                Some(Some(p)) if (last_progress..=1.0).contains(&p) => Some((n.track_id, p)),
                _ => None,
            }
        });
        if let Some((id, progress)) = next {
            path.push(id);
            used.insert(id);
            last_progress = progress;
        }
    }
    path.push(to_id);
    Ok(path)
}

/// "Play radio from here": up to `length` tracks to play after `seed_id`,
/// each the nearest unused neighbour of a blend of the seed and the last
/// few tracks (see the module documentation). Never repeats a track, never
/// returns the seed itself or a track `exclude` rejects, and stops early when
/// no track is left. Empty when the seed has no usable vector in `index`.
pub fn radio(
    index: &VectorIndex,
    seed_id: i64,
    length: usize,
    exclude: impl Fn(i64) -> bool + Sync,
) -> Vec<i64> {
    radio_with(index, seed_id, length, |_| |id| !exclude(id))
}

/// [`radio`] with a filter that may depend on what was already chosen:
/// before each pick, `allow_after(played)` makes the filter for the next
/// one. Why: a per-artist cap (`browse::radio`) depends on the last few
/// tracks, and building its blocked set once per pick keeps the filter
/// itself a cheap lookup in the scan over every vector.
pub fn radio_with<F: Fn(i64) -> bool + Sync>(
    index: &VectorIndex,
    seed_id: i64,
    length: usize,
    mut allow_after: impl FnMut(&[i64]) -> F,
) -> Vec<i64> {
    let Some(seed) = index.vector(seed_id).map(to_f64) else {
        return Vec::new();
    };
    let mut used: HashSet<i64> = HashSet::from([seed_id]);
    let mut played: Vec<i64> = Vec::with_capacity(length);
    while played.len() < length {
        let recent = recent_mean(index, &played).unwrap_or_else(|| seed.clone());
        let query: Vec<f64> = seed
            .iter()
            .zip(&recent)
            .map(|(s, r)| RADIO_SEED_WEIGHT * s + (1.0 - RADIO_SEED_WEIGHT) * r)
            .collect();
        // Seed and recent mean opposite (never in practice): fall back to the seed.
        let query = to_f32(&unit(query).unwrap_or_else(|| seed.clone()));
        let allow = allow_after(&played);
        let Some(next) = index.top_k(&query, 1, |id| !used.contains(&id) && allow(id)).first().copied()
        else {
            break;
        };
        used.insert(next.track_id);
        played.push(next.track_id);
    }
    played
}

/// The unit-length, decaying-weight mean of the last [`RADIO_MEMORY`]
/// tracks of `played` (the newest weighs most); `None` before the first.
fn recent_mean(index: &VectorIndex, played: &[i64]) -> Option<Vec<f64>> {
    let mut sum = vec![0.0; index.dim()];
    let mut weight = 1.0;
    let mut any = false;
    for id in played.iter().rev().take(RADIO_MEMORY) {
        if let Some(v) = index.vector(*id) {
            for (s, &x) in sum.iter_mut().zip(v) {
                *s += weight * f64::from(x);
            }
            any = true;
        }
        weight *= RADIO_DECAY;
    }
    if any { unit(sum) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arc_interpolates_and_measures_progress() {
        let a = vec![1.0, 0.0, 0.0];
        let b = vec![0.0, 1.0, 0.0];
        let arc = Arc::new(a.clone(), &b).expect("arc");
        let mid = arc.point(0.5);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        assert!((mid[0] - h).abs() < 1e-12 && (mid[1] - h).abs() < 1e-12 && mid[2].abs() < 1e-12);
        assert!((arc.progress(&b).expect("progress") - 1.0).abs() < 1e-12);
        assert!(arc.progress(&a).expect("progress").abs() < 1e-12);
        // Off-plane components do not change the progress.
        assert!((arc.progress(&[h, h, 5.0]).expect("progress") - 0.5).abs() < 1e-12);
        // Opposite ends still give a half circle through an orthogonal axis.
        let opposite = Arc::new(a.clone(), &[-1.0, 0.0, 0.0]).expect("arc");
        let mid = opposite.point(0.5);
        assert!(dot(&mid, &a).abs() < 1e-12 && (dot(&mid, &mid) - 1.0).abs() < 1e-12);
        // The same direction: no length, no progress.
        assert!(Arc::new(a.clone(), &a).expect("arc").progress(&b).is_none());
    }
}
