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
//!    Barnes–Hut, perplexity clamped to what the library size allows.
//!
//! Honest limits of the t-SNE stage: linfa-tsne offers no progress callback
//! and no way to stop mid-run or to resume from a given embedding, so the
//! stage reports its elapsed time and an estimate (n·log n, measured
//! constant — [`estimate_tsne_s`]) while it runs on its own named thread.
//! Cancelling returns [`Error::Cancelled`](crate::Error::Cancelled) to the
//! caller within [`PROGRESS_TICK`], but the detached computation itself runs
//! to its end in the background and its result is thrown away.
//!
//! Determinism: the initial embedding comes from `seed`; the neighbour search
//! inside bhtsne picks its vantage points at random, which only matters for
//! exactly tied distances (duplicate tracks), so every row gets a tiny
//! deterministic offset that breaks such ties. Same vectors + same params →
//! the same layout, bit for bit.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use linfa::traits::Transformer;
use linfa_tsne::TSneParams;
use ndarray::Array2;
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};

use super::{Layout, MapCoord, normalize_positions, pca};
use crate::jobs::CancelToken;
use crate::{Error, Result};

/// Fewer usable tracks than this get a trivial layout (points on a circle):
/// t-SNE needs a perplexity of at least 1 and more than 3·perplexity points.
pub const MIN_TSNE_TRACKS: usize = 4;

/// How often the t-SNE stage reports progress and looks at the cancel token.
pub const PROGRESS_TICK: Duration = Duration::from_millis(200);

/// Seconds per n·log₂n·iteration of the Barnes–Hut gradient descent,
/// measured with `tuneatlas bench tsne` on the 2-core dev machine (debug
/// build; deps at opt-level 2). Only used for the progress estimate.
const TSNE_S_PER_NLOGN_ITER: f64 = 1.0e-9;

/// Seconds per n·k·pca_dims of the input-similarity stage (neighbour
/// search over the PCA-reduced vectors; k = 3·perplexity), measured likewise.
const TSNE_S_PER_NEIGHBOR_DIM: f64 = 1.0e-9;

/// Relative size of the per-row offsets that break exact distance ties.
const TIE_BREAK_SCALE: f32 = 1e-5;

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
    /// Seed of the initial embedding: the same seed gives the same map.
    pub seed: u64,
}

impl Default for LayoutParams {
    fn default() -> Self {
        LayoutParams { perplexity: 30.0, pca_dims: 50, max_iter: 1000, approx_threshold: 0.5, seed: 42 }
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
/// machine: neighbour search (n·3·perplexity·dims) plus gradient descent
/// (n·log₂n per iteration). A progress estimate, not a promise.
pub fn estimate_tsne_s(n: usize, params: &LayoutParams) -> f64 {
    if n < MIN_TSNE_TRACKS {
        return 0.0;
    }
    let nf = n as f64;
    let k = 3.0 * f64::from(params.effective_perplexity(n));
    let dims = if params.pca_dims == 0 { 256.0 } else { params.pca_dims as f64 };
    let theta_factor = 0.5 / f64::from(params.approx_threshold).max(0.1);
    TSNE_S_PER_NEIGHBOR_DIM * nf * k * dims
        + TSNE_S_PER_NLOGN_ITER * nf * nf.log2() * params.max_iter as f64 * theta_factor.sqrt()
}

/// Lays out `vectors` (track id, vector) in 2-d with PCA + t-SNE.
///
/// Tracks with zero or non-finite vectors are left out (see
/// [`Layout::unusable_ids`]); fewer than [`MIN_TSNE_TRACKS`] usable tracks,
/// or tracks that are all identical, get a trivial layout instead of an
/// error. Fails when a track id repeats, vector lengths differ, t-SNE
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
    drop(rows);
    tracing::info!(
        "map: PCA {dim} → {} dimensions keeps {:.1} % of the variance ({:.2} s)",
        projection.rows.ncols(),
        projection.explained_variance * 100.0,
        started.elapsed().as_secs_f64()
    );
    if projection.rows.iter().all(|&v| v.abs() < 1e-7) {
        // Identical vectors: t-SNE would divide by zero; nothing to separate.
        tracing::warn!("map: all {n} track vectors are identical; showing them on a spiral");
        return Ok(trivial_layout(&ids).with_unusable(unusable));
    }
    cancel.check()?;
    let data = tie_broken(projection.rows);
    let xy = run_tsne(data, params, cancel, &mut progress)?;
    let mut xy: Vec<[f64; 2]> = xy.outer_iter().map(|r| [f64::from(r[0]), f64::from(r[1])]).collect();
    if xy.len() != n || xy.iter().any(|p| !p[0].is_finite() || !p[1].is_finite()) {
        return Err(Error::Invalid("t-SNE produced no usable coordinates (NaN or wrong count)".into()));
    }
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

/// Points evenly around a circle (one track: the centre; many identical
/// tracks: a sunflower spiral filling the disk), in id order.
fn trivial_layout(ids: &[i64]) -> Layout {
    let n = ids.len();
    let golden_angle = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    let mut xy: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            if n == 1 {
                [0.0, 0.0]
            } else if n < MIN_TSNE_TRACKS {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                [a.cos(), a.sin()]
            } else {
                let (r, a) = (((i as f64 + 0.5) / n as f64).sqrt(), golden_angle * i as f64);
                [r * a.cos(), r * a.sin()]
            }
        })
        .collect();
    normalize_positions(&mut xy);
    Layout::from_points(ids.iter().zip(&xy).map(|(&track_id, p)| MapCoord {
        track_id,
        x: p[0] as f32,
        y: p[1] as f32,
        placed: false,
    }))
}

/// Adds to every row a tiny deterministic offset (relative to the data's
/// spread), so no two rows are exactly equal and the neighbour search has no
/// ties to resolve at random.
fn tie_broken(mut rows: Array2<f32>) -> Array2<f32> {
    let spread = rows.iter().fold(0f32, |m, &v| m.max(v.abs()));
    let step = spread * TIE_BREAK_SCALE;
    let mut state = 0x5EED_u64;
    for v in rows.iter_mut() {
        state = splitmix64(state);
        let u = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        *v += step * u;
    }
    rows
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
