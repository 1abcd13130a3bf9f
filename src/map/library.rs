//! The map of one library file: load the cached layout, extend it with new
//! tracks or recompute it, save it, return it. This is the one call the GUI
//! makes on a background thread and `tuneatlas map` makes from the command
//! line, so both see the same map and share one cache.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::place::{DEFAULT_PLACE_NEIGHBORS, RecomputePolicy, place_new, recompute_due};
use super::tsne::{LayoutParams, LayoutProgress, LayoutStage, compute_layout, unit};
use super::{Layout, MapCoord};
use crate::index::VectorIndex;
use crate::jobs::CancelToken;
use crate::store::{Store, StoredLayout, now_unix_s};
use crate::{Error, Result};

/// Why a layout was computed from scratch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecomputeReason {
    /// No layout was stored for this model version.
    NoLayout,
    /// The caller asked for it (`--recompute`).
    Forced,
    /// The stored layout was made with other parameters.
    ParamsChanged,
    /// Too many tracks arrived since (see [`RecomputePolicy`]).
    TooManyNew,
}

/// What [`layout_for_library`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum MapOutcome {
    /// The stored layout covered every track.
    Cached,
    /// New tracks were placed on the stored layout.
    Placed {
        /// How many.
        n_new: usize,
    },
    /// A new t-SNE layout was computed.
    Recomputed {
        /// Why.
        reason: RecomputeReason,
    },
}

/// The map of a library for one model version, as returned to the caller.
#[derive(Debug, Clone)]
pub struct LibraryMap {
    /// The model version whose vectors were laid out.
    pub model_version: String,
    /// Every present track with a usable vector, placed.
    pub layout: Layout,
    /// Cached, placed or recomputed.
    pub outcome: MapOutcome,
    /// When the underlying t-SNE layout was computed (seconds since the epoch).
    pub computed_at_unix_s: i64,
    /// How long that t-SNE computation took, in seconds.
    pub compute_s: f64,
    /// Seconds this call took.
    pub elapsed_s: f64,
}

/// The map of the library at `store_path` for `model_version`: the stored
/// layout when it covers every track; extended by placing new tracks next to
/// their neighbours while [`RecomputePolicy::default`] allows; otherwise (or
/// with `force`, or other `params` than stored) a new t-SNE layout. Writes
/// what changed back to the store, then returns the layout of every present
/// track with a usable vector.
///
/// Opens its own [`Store`] (so it can run on any thread) and holds no write
/// lock while t-SNE runs. Tracks removed from the library drop off the
/// returned layout (their stored coordinates go with their rows). Fails with
/// [`Error::Cancelled`] when `cancel` fires; nothing is written then.
pub fn layout_for_library(
    store_path: &Path,
    model_version: &str,
    params: &LayoutParams,
    force: bool,
    cancel: &CancelToken,
    mut progress: impl FnMut(LayoutProgress),
) -> Result<LibraryMap> {
    cancel.check()?;
    let started = Instant::now();
    progress(LayoutProgress {
        stage: LayoutStage::Loading,
        n_tracks: 0,
        stage_elapsed_s: 0.0,
        stage_estimate_s: None,
    });
    let mut store = Store::open(store_path)?;
    // Which tracks the map must show, from the key index alone: with a
    // cached layout the vectors of its tracks are not needed, and reading
    // 100k vectors is most of the time to a cached map.
    let ids = store.track_vector_ids(model_version)?;
    let stored = store.load_layout(model_version)?;
    let params_json = serde_json::to_string(params)
        .map_err(|e| Error::Invalid(format!("cannot encode layout parameters: {e}")))?;

    let present: HashSet<i64> = ids.iter().copied().collect();
    let cached = stored
        .as_ref()
        .map(|s| Layout::from_points(s.coords.iter().copied()).retain(|id| present.contains(&id)));
    let uncached: Vec<i64> =
        ids.iter().copied().filter(|id| !cached.as_ref().is_some_and(|c| c.contains(*id))).collect();
    // The uncached tracks' vectors: one by one when they are few (after an
    // import), else from one scan of all of them, kept for laying out.
    let mut all_vectors: Option<Vec<(i64, Vec<f32>)>> = None;
    let uncached_vectors: Vec<(i64, Vec<f32>)> = if uncached.len() * 8 >= ids.len() {
        let all = store.track_vectors(model_version)?;
        let wanted: HashSet<i64> = uncached.iter().copied().collect();
        let some = all.iter().filter(|(id, _)| wanted.contains(id)).cloned().collect();
        all_vectors = Some(all);
        some
    } else {
        let mut out = Vec::with_capacity(uncached.len());
        for &id in &uncached {
            if let Some(v) = store.track_vector(id, model_version)? {
                out.push((id, v));
            }
        }
        out
    };
    let new_vectors: Vec<(i64, Vec<f32>)> =
        uncached_vectors.iter().filter(|(_, v)| unit(v).is_some()).cloned().collect();
    let same_params =
        stored.as_ref().and_then(|s| serde_json::from_str::<LayoutParams>(&s.params_json).ok()).as_ref()
            == Some(params);

    let reason = match (&cached, force) {
        (_, true) => Some(RecomputeReason::Forced),
        (None, _) => Some(RecomputeReason::NoLayout),
        (Some(_), _) if !same_params => Some(RecomputeReason::ParamsChanged),
        (Some(c), _)
            if recompute_due(&RecomputePolicy::default(), c.n_tsne(), c.n_placed(), new_vectors.len()) =>
        {
            Some(RecomputeReason::TooManyNew)
        }
        _ => None,
    };
    tracing::info!(
        "map {model_version}: {} tracks with vectors, {} cached, {} new → {}",
        ids.len(),
        cached.as_ref().map_or(0, Layout::len),
        new_vectors.len(),
        match reason {
            Some(r) => format!("recompute ({r:?})"),
            None if new_vectors.is_empty() => "cached".to_string(),
            None => "place".to_string(),
        }
    );
    // A cached layout never holds a track without a usable vector, so the
    // unusable ones are all among the uncached.
    let unusable: Vec<i64> =
        uncached_vectors.iter().filter(|(_, v)| unit(v).is_none()).map(|(id, _)| *id).collect();

    if let Some(reason) = reason {
        let vectors = match all_vectors {
            Some(v) => v,
            None => store.track_vectors(model_version)?,
        };
        let t0 = Instant::now();
        let layout = compute_layout(&vectors, params, cancel, &mut progress)?;
        let compute_s = t0.elapsed().as_secs_f64();
        cancel.check()?;
        let stage_start = Instant::now();
        progress(LayoutProgress {
            stage: LayoutStage::Saving,
            n_tracks: layout.len(),
            stage_elapsed_s: 0.0,
            stage_estimate_s: None,
        });
        let computed_at_unix_s = now_unix_s();
        store.save_layout(&StoredLayout {
            model_version: model_version.to_string(),
            params_json,
            computed_at_unix_s,
            n_tracks: layout.n_tsne(),
            compute_s,
            coords: layout.points().to_vec(),
        })?;
        tracing::debug!("map: saved {} points in {:.2} s", layout.len(), stage_start.elapsed().as_secs_f64());
        return Ok(LibraryMap {
            model_version: model_version.to_string(),
            layout,
            outcome: MapOutcome::Recomputed { reason },
            computed_at_unix_s,
            compute_s,
            elapsed_s: started.elapsed().as_secs_f64(),
        });
    }

    // Both are Some here: no cached layout always recomputes.
    let (Some(cached), Some(stored)) = (cached, stored) else {
        return Err(Error::Invalid("map: no cached layout to extend".into()));
    };
    let (layout, outcome) = if new_vectors.is_empty() {
        (cached, MapOutcome::Cached)
    } else {
        progress(LayoutProgress {
            stage: LayoutStage::Placing,
            n_tracks: new_vectors.len(),
            stage_elapsed_s: 0.0,
            stage_estimate_s: None,
        });
        let vectors = match all_vectors {
            Some(v) => v,
            None => store.track_vectors(model_version)?,
        };
        let index = VectorIndex::from_pairs(
            vectors.iter().filter(|(id, _)| cached.contains(*id)).cloned().collect(),
        )?;
        let extended = place_new(&cached, &index, &new_vectors, DEFAULT_PLACE_NEIGHBORS);
        cancel.check()?;
        let added: Vec<MapCoord> =
            new_vectors.iter().filter_map(|(id, _)| extended.get(*id).copied()).collect();
        progress(LayoutProgress {
            stage: LayoutStage::Saving,
            n_tracks: added.len(),
            stage_elapsed_s: 0.0,
            stage_estimate_s: None,
        });
        store.add_placed_coords(model_version, &added)?;
        (extended, MapOutcome::Placed { n_new: added.len() })
    };
    Ok(LibraryMap {
        model_version: model_version.to_string(),
        layout: layout.with_unusable(unusable),
        outcome,
        computed_at_unix_s: stored.computed_at_unix_s,
        compute_s: stored.compute_s,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}
