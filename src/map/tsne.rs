//! The t-SNE layout of track vectors (linfa-tsne, Barnes–Hut), with PCA
//! first, a fixed seed, and stage-level progress.
//!
//! What runs, in order:
//! 1. **Prepare** — vectors are L2-normalised (the embedding compares by
//!    cosine; on unit vectors Euclidean distance ranks the same way); zero or
//!    non-finite vectors are left out and reported as unusable.
//! 2. **PCA** to [`LayoutParams::pca_dims`] (50) dimensions — see
//!    [`super::pca`] for why; `tuneatlas bench tsne` measures the gain.
//! 3. **t-SNE** (linfa-tsne 0.8 wrapping `bhtsne`): single-threaded
//!    Barnes–Hut, perplexity clamped to what the library size allows — of
//!    every track up to [`LayoutParams::full_tsne_max_tracks`] distinct
//!    vectors, of a covering set of landmarks above, the other tracks then
//!    placed among their nearest landmarks ([`super::landmarks`] says why).
//!
//! Honest limits of the t-SNE stage: linfa-tsne offers no progress callback
//! and no way to stop mid-run or to resume from a given embedding, so the
//! stage reports its elapsed time and an estimate (n·log n, measured
//! constant — [`estimate_tsne_s`]) while it runs on its own named thread.
//! Cancelling returns [`Error::Cancelled`](crate::Error::Cancelled) to the
//! caller within [`PROGRESS_TICK`], but the detached computation itself runs
//! to its end in the background and its result is thrown away.
//!
//! Repeatability — a known limit of the library: the initial embedding comes
//! from `seed`, but bhtsne 0.4.1 (what linfa-tsne 0.8.1 wraps) builds its
//! neighbour-search tree around vantage points from an unseeded generator,
//! and a slice-relative index bug in that build (`select_by` is given the
//! absolute median index) makes the search approximate; so the neighbour
//! lists, and with them the layout, differ from run to run (measured: points
//! move up to half the map between two runs on 240 tracks). Each run is an
//! equally valid map (the tests check its quality, not its bits), and the
//! app computes a layout once per model version and caches it in the
//! library file, so what a user sees stays put. Exact copies of a vector
//! (the same song imported twice) are laid out once and put side by side.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use linfa::traits::Transformer;
use linfa_tsne::TSneParams;
use ndarray::{Array2, Axis};
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};

use super::landmarks::{self, landmark_count, landmark_perplexity};
use super::{Layout, MapCoord, normalize_positions, pca};
use crate::jobs::CancelToken;
use crate::{Error, Result};

/// Fewer usable tracks than this get a trivial layout (points on a circle):
/// t-SNE needs a perplexity of at least 1 and more than 3·perplexity points.
pub const MIN_TSNE_TRACKS: usize = 4;

/// How often the t-SNE stage reports progress and looks at the cancel token.
pub const PROGRESS_TICK: Duration = Duration::from_millis(200);

/// Seconds per n·log₂n·iteration of the Barnes–Hut gradient descent at
/// θ = 0.5 (cost scales about as (0.5/θ)^0.75), measured with `tuneatlas
/// bench tsne` at 10,000 tracks on the 2-core dev machine while it also
/// trained a model (debug build: the t-SNE code is generic and so compiled
/// at this crate's opt-level 1, which measured no slower than opt-level 3).
/// Only used for the progress estimate.
const TSNE_S_PER_NLOGN_ITER: f64 = 4.2e-7;

/// Seconds per n²·dims^0.6 of the input-similarity stage (vantage-point
/// tree neighbour search, close to a full scan at these dimensions),
/// measured likewise: 8.5 s at 10,000 × 50, 5.0 s at 30, 24 s at 256.
const TSNE_S_PER_NN_DIM: f64 = 8.1e-9;

/// Distance between copies of one vector on the map, as a fraction of the
/// layout's extent: a few pixels apart at the default zoom.
const COPY_SPACING: f64 = 0.004;

/// The parameters of a layout. Stored with the cached layout: asking for
/// other parameters recomputes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LayoutParams {
    /// t-SNE perplexity: roughly how many neighbours each track "sees".
    /// Clamped to (n − 1)/3 for small libraries.
    pub perplexity: f32,
    /// Dimensions kept by the PCA before t-SNE; 0 (or ≥ the vector
    /// dimension) skips the PCA.
    pub pca_dims: usize,
    /// Gradient-descent iterations (the first min(max_iter/2, 250) with
    /// early exaggeration).
    pub max_iter: usize,
    /// Barnes–Hut θ: larger is faster and coarser; 0 runs exact t-SNE
    /// (O(n²) memory: only for small libraries).
    pub approx_threshold: f32,
    /// Seed of the initial embedding and of the landmark sample (the
    /// neighbour search stays unseeded: see the module docs).
    pub seed: u64,
    /// Libraries of up to this many distinct vectors get a t-SNE of every
    /// track; larger ones a landmark layout ([`super::landmarks`]).
    pub full_tsne_max_tracks: usize,
    /// Landmarks of a larger library per square root of its size (35 ·
    /// √100,000 ≈ 11,000); 0 lays out every track with t-SNE whatever the size.
    pub landmarks_per_sqrt_track: f32,
}

impl Default for LayoutParams {
    /// θ 0.8 and 500 iterations: `tuneatlas bench tsne` on 10,000 tracks
    /// (2-core dev machine, one run) took 27.7 s with 10-NN preservation
    /// 0.358, against 61.3 s and 0.397 for the textbook θ 0.5 and 1,000
    /// iterations (36.1 s / 0.372 for θ 0.5 and 500): under a 30 s goal
    /// for a 10k-track first map, for a tenth less neighbourhood kept; clusters stay fully apart
    /// in all four.
    fn default() -> Self {
        LayoutParams {
            perplexity: 30.0,
            pca_dims: 50,
            max_iter: 500,
            approx_threshold: 0.8,
            seed: 42,
            full_tsne_max_tracks: 3_500,
            landmarks_per_sqrt_track: 35.0,
        }
    }
}

impl LayoutParams {
    /// The perplexity actually used for `n` tracks: the asked value (at
    /// least 1), capped just below (n − 1)/3 as t-SNE requires.
    pub fn effective_perplexity(&self, n: usize) -> f32 {
        let cap = n.saturating_sub(1) as f32 / 3.0;
        // A hair below the cap, so that 3·perplexity ≤ n − 1 survives rounding.
        let cap = cap * (1.0 - 1e-4);
        let asked = if self.perplexity.is_finite() { self.perplexity } else { 30.0 };
        asked.max(1.0).min(cap)
    }
}

/// The stages of a layout computation (and of [`super::layout_for_library`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LayoutStage {
    /// Reading the cached layout and the vectors.
    Loading,
    /// Normalising vectors and reducing them with PCA.
    Pca,
    /// The t-SNE optimisation (cannot be interrupted from inside).
    Tsne,
    /// Placing new tracks next to their neighbours.
    Placing,
    /// Writing the layout to the store.
    Saving,
}

/// A progress report, sent when a stage starts and every [`PROGRESS_TICK`]
/// during t-SNE.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LayoutProgress {
    /// What is running.
    pub stage: LayoutStage,
    /// Tracks being laid out.
    pub n_tracks: usize,
    /// Seconds since this stage started.
    pub stage_elapsed_s: f64,
    /// Expected length of this stage in seconds, when there is an estimate
    /// (t-SNE: from n·log n; see [`estimate_tsne_s`]).
    pub stage_estimate_s: Option<f64>,
}

impl LayoutProgress {
    /// Fraction of the stage done by the estimate, in [0, 0.99] (never 1:
    /// the estimate may be short), or `None` without an estimate.
    pub fn fraction(&self) -> Option<f64> {
        let estimate = self.stage_estimate_s.filter(|e| *e > 0.0)?;
        Some((self.stage_elapsed_s / estimate).clamp(0.0, 0.99))
    }
}

/// Expected seconds of the t-SNE stage for `n` tracks (after PCA) on the dev
/// machine: neighbour search (≈ n²·dims^0.6) plus gradient descent
/// (n·log₂n per iteration). A progress estimate, not a promise.
pub fn estimate_tsne_s(n: usize, params: &LayoutParams) -> f64 {
    if n < MIN_TSNE_TRACKS {
        return 0.0;
    }
    let nf = n as f64;
    let dims = if params.pca_dims == 0 { 256.0 } else { params.pca_dims.min(256) as f64 };
    let theta_factor = (0.5 / f64::from(params.approx_threshold).max(0.1)).powf(0.75);
    TSNE_S_PER_NN_DIM * nf * nf * dims.powf(0.6)
        + TSNE_S_PER_NLOGN_ITER * nf * nf.log2() * params.max_iter as f64 * theta_factor
}

/// Lays out `vectors` (track id, vector) in 2-d with PCA + t-SNE.
///
/// Tracks with zero or non-finite vectors are left out (see
/// [`Layout::unusable_ids`]); fewer than [`MIN_TSNE_TRACKS`] usable tracks,
/// or fewer distinct vectors, get a circle instead of an error; copies of
/// one vector sit side by side. Fails when a track id repeats, vector lengths differ, t-SNE
/// fails, or `cancel` fires (checked before and between stages, and during
/// t-SNE — see the module docs for what cancelling t-SNE means).
pub fn compute_layout(
    vectors: &[(i64, Vec<f32>)],
    params: &LayoutParams,
    cancel: &CancelToken,
    mut progress: impl FnMut(LayoutProgress),
) -> Result<Layout> {
    cancel.check()?;
    let started = Instant::now();
    let dim = vectors.first().map_or(0, |(_, v)| v.len());
    let mut seen = HashSet::with_capacity(vectors.len());
    let mut ids = Vec::with_capacity(vectors.len());
    let mut rows = Vec::with_capacity(vectors.len() * dim);
    let mut unusable = Vec::new();
    for (id, v) in vectors {
        if !seen.insert(*id) {
            return Err(Error::Invalid(format!("track {id} appears twice in the vectors to lay out")));
        }
        if v.len() != dim {
            return Err(Error::Invalid(format!(
                "track {id}: its vector has {} dimensions, the others {dim}",
                v.len()
            )));
        }
        match unit(v) {
            Some(u) => {
                ids.push(*id);
                rows.extend(u);
            }
            None => unusable.push(*id),
        }
    }
    if !unusable.is_empty() {
        tracing::warn!("{} track vector(s) are zero or not finite and are left off the map", unusable.len());
    }
    let n = ids.len();
    progress(LayoutProgress {
        stage: LayoutStage::Pca,
        n_tracks: n,
        stage_elapsed_s: 0.0,
        stage_estimate_s: None,
    });
    if n < MIN_TSNE_TRACKS {
        return Ok(trivial_layout(&ids).with_unusable(unusable));
    }
    let reduce = params.pca_dims > 0 && params.pca_dims < dim;
    let projection = pca::project(&rows, n, dim, if reduce { params.pca_dims } else { dim })?;
    tracing::info!(
        "map: PCA {dim} → {} dimensions keeps {:.1} % of the variance ({:.2} s)",
        projection.rows.ncols(),
        projection.explained_variance * 100.0,
        started.elapsed().as_secs_f64()
    );
    cancel.check()?;
    let (distinct, first_rows, copy_of) = distinct_rows(&projection.rows);
    drop(projection);
    let m = distinct.nrows();
    if m < n {
        tracing::info!("map: {} track(s) share their vector with another; laid out once", n - m);
    }
    let landmarks = landmark_count(m, params.full_tsne_max_tracks, params.landmarks_per_sqrt_track);
    let unique_xy: Vec<[f64; 2]> = if m < MIN_TSNE_TRACKS {
        // Nothing (or too little) to separate: the distinct vectors go on a
        // circle, their copies around them.
        circle_positions(m)
    } else if landmarks < m {
        // A large library: t-SNE lays out the landmarks, the rest is placed.
        progress(LayoutProgress {
            stage: LayoutStage::Placing,
            n_tracks: m,
            stage_elapsed_s: 0.0,
            stage_estimate_s: None,
        });
        let select_started = Instant::now();
        let unit_rows: Vec<f32> =
            first_rows.iter().flat_map(|&r| rows[r * dim..(r + 1) * dim].iter().copied()).collect();
        drop(rows);
        let placement = landmarks::Placement::default();
        let chosen = landmarks::choose(&unit_rows, dim, landmarks, params.seed, &placement, cancel)?;
        tracing::info!(
            "map: {} of {m} tracks chosen as landmarks and their neighbours found ({:.1} s)",
            chosen.rows.len(),
            select_started.elapsed().as_secs_f64()
        );
        let landmark_params = LayoutParams {
            perplexity: landmark_perplexity(params.perplexity, chosen.rows.len(), m),
            ..params.clone()
        };
        let xy = run_tsne(distinct.select(Axis(0), &chosen.rows), &landmark_params, cancel, &mut progress)?;
        let landmark_xy: Vec<[f64; 2]> =
            xy.outer_iter().map(|r| [f64::from(r[0]), f64::from(r[1])]).collect();
        let jitter_ids: Vec<i64> = first_rows.iter().map(|&r| ids[r]).collect();
        chosen.positions(&landmark_xy, &jitter_ids, &placement)?
    } else {
        drop(rows);
        let xy = run_tsne(distinct, params, cancel, &mut progress)?;
        xy.outer_iter().map(|r| [f64::from(r[0]), f64::from(r[1])]).collect()
    };
    if unique_xy.len() != m || unique_xy.iter().any(|p| !p[0].is_finite() || !p[1].is_finite()) {
        return Err(Error::Invalid("t-SNE produced no usable coordinates (NaN or wrong count)".into()));
    }
    let mut xy = with_copies_around(&unique_xy, &copy_of);
    normalize_positions(&mut xy);
    let points = ids.iter().zip(&xy).map(|(&track_id, p)| MapCoord {
        track_id,
        x: p[0] as f32,
        y: p[1] as f32,
        placed: false,
    });
    tracing::info!("map: laid out {n} tracks in {:.1} s", started.elapsed().as_secs_f64());
    Ok(Layout::from_points(points).with_unusable(unusable))
}

/// The L2-normalised vector, or `None` when it is zero or not finite.
pub(crate) fn unit(v: &[f32]) -> Option<Vec<f32>> {
    if v.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let norm = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return None;
    }
    Some(v.iter().map(|&x| (f64::from(x) / norm) as f32).collect())
}

/// Points evenly around a circle (one track: the centre), in id order: the
/// layout of libraries too small for t-SNE.
fn trivial_layout(ids: &[i64]) -> Layout {
    let mut xy = circle_positions(ids.len());
    normalize_positions(&mut xy);
    Layout::from_points(ids.iter().zip(&xy).map(|(&track_id, p)| MapCoord {
        track_id,
        x: p[0] as f32,
        y: p[1] as f32,
        placed: false,
    }))
}

/// The distinct rows of `rows` (first occurrence order), the index of each
/// one's first occurrence, and, for every row, the index of its distinct
/// row. Why: an exact copy of a vector (the same song imported twice) adds
/// nothing to the layout but t-SNE work, and at distance 0 each copy would
/// be the other's strongest neighbour; laid out once, the copies go side by
/// side, where each can be seen and clicked.
fn distinct_rows(rows: &Array2<f32>) -> (Array2<f32>, Vec<usize>, Vec<usize>) {
    let mut first_of: HashMap<Vec<u32>, usize> = HashMap::with_capacity(rows.nrows());
    let mut keep = Vec::with_capacity(rows.nrows());
    let copy_of = rows
        .outer_iter()
        .enumerate()
        .map(|(i, row)| {
            // +0.0 and −0.0 are the same coordinate.
            let key: Vec<u32> = row.iter().map(|&v| (v + 0.0).to_bits()).collect();
            *first_of.entry(key).or_insert_with(|| {
                keep.push(i);
                keep.len() - 1
            })
        })
        .collect();
    (rows.select(Axis(0), &keep), keep, copy_of)
}

/// `n` points evenly on a unit circle (one point: the centre).
fn circle_positions(n: usize) -> Vec<[f64; 2]> {
    (0..n)
        .map(|i| {
            if n == 1 {
                [0.0, 0.0]
            } else {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                [a.cos(), a.sin()]
            }
        })
        .collect()
}

/// Positions for every row: the first copy of a vector sits on its distinct
/// row's spot, further copies on a small sunflower spiral around it (a
/// [`COPY_SPACING`] fraction of the layout's extent apart), so each stays
/// visible and clickable.
fn with_copies_around(unique_xy: &[[f64; 2]], copy_of: &[usize]) -> Vec<[f64; 2]> {
    let extent = unique_xy
        .iter()
        .flat_map(|p| p.iter().copied())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let extent = if extent.1 > extent.0 { extent.1 - extent.0 } else { 1.0 };
    let golden_angle = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    let mut copies_seen = vec![0usize; unique_xy.len()];
    copy_of
        .iter()
        .map(|&u| {
            let j = copies_seen[u];
            copies_seen[u] += 1;
            let [x, y] = unique_xy[u];
            if j == 0 {
                [x, y]
            } else {
                let (r, a) = (COPY_SPACING * extent * (j as f64).sqrt(), golden_angle * j as f64);
                [x + r * a.cos(), y + r * a.sin()]
            }
        })
        .collect()
}

/// One step of SplitMix64: a tiny, seedable generator for deterministic
/// offsets (tie-breaking here, jitter in placement).
pub(crate) fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Runs linfa-tsne on a named thread, reporting elapsed time and the
/// estimate every [`PROGRESS_TICK`] and returning early on cancel.
fn run_tsne(
    data: Array2<f32>,
    params: &LayoutParams,
    cancel: &CancelToken,
    progress: &mut impl FnMut(LayoutProgress),
) -> Result<Array2<f32>> {
    let n = data.nrows();
    let perplexity = params.effective_perplexity(n);
    let estimate_s = estimate_tsne_s(n, params);
    let tsne = TSneParams::embedding_size_with_rng(2, SmallRng::seed_from_u64(params.seed))
        .perplexity(perplexity)
        .approx_threshold(params.approx_threshold.max(0.0))
        .max_iter(params.max_iter);
    // t-SNE needs at least as many input dimensions as output ones.
    let data = if data.ncols() < 2 {
        let mut padded = Array2::<f32>::zeros((n, 2));
        padded.column_mut(0).assign(&data.column(0));
        padded
    } else {
        data
    };
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name("map-tsne".into())
        .spawn(move || {
            let _ = tx.send(tsne.transform(data));
        })
        .map_err(|e| Error::Invalid(format!("cannot start the t-SNE thread: {e}")))?;
    let started = Instant::now();
    let report = |progress: &mut dyn FnMut(LayoutProgress)| {
        progress(LayoutProgress {
            stage: LayoutStage::Tsne,
            n_tracks: n,
            stage_elapsed_s: started.elapsed().as_secs_f64(),
            stage_estimate_s: Some(estimate_s),
        });
    };
    report(progress);
    loop {
        match rx.recv_timeout(PROGRESS_TICK) {
            Ok(result) => {
                tracing::info!(
                    "map: t-SNE of {n} points (perplexity {perplexity:.1}) took {:.1} s (estimate {estimate_s:.1} s)",
                    started.elapsed().as_secs_f64()
                );
                return result.map_err(|e| Error::Invalid(format!("t-SNE failed: {e}")));
            }
            Err(RecvTimeoutError::Timeout) => {
                if cancel.is_cancelled() {
                    tracing::info!(
                        "map: t-SNE cancelled; the running computation finishes unused in the background"
                    );
                    return Err(Error::Cancelled);
                }
                report(progress);
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Error::Invalid("the t-SNE computation failed (its thread stopped)".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perplexity_is_clamped_for_small_libraries() {
        let p = LayoutParams::default();
        assert_eq!(p.effective_perplexity(10_000), 30.0);
        for n in 4..200 {
            let eff = p.effective_perplexity(n);
            assert!(eff > 0.99, "n {n}: {eff}");
            assert!(3.0 * eff <= (n - 1) as f32, "n {n}: {eff}");
        }
        let nan = LayoutParams { perplexity: f32::NAN, ..LayoutParams::default() };
        assert_eq!(nan.effective_perplexity(10_000), 30.0);
    }

    #[test]
    fn unit_rejects_zero_and_nan() {
        assert!(unit(&[0.0, 0.0]).is_none());
        assert!(unit(&[1.0, f32::NAN]).is_none());
        let u = unit(&[3.0, 4.0]).expect("unit");
        assert!((u[0] - 0.6).abs() < 1e-6 && (u[1] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn estimate_grows_with_size() {
        let p = LayoutParams::default();
        assert_eq!(estimate_tsne_s(3, &p), 0.0);
        assert!(estimate_tsne_s(10_000, &p) > 4.0 * estimate_tsne_s(2_000, &p));
    }
}
