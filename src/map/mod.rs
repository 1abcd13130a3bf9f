//! The library map: every track as a point in 2-d, placed so that tracks
//! that sound alike lie close together (t-SNE of the 256-d track vectors).
//!
//! Why a module of its own, free of any GUI: the desktop app draws the map,
//! `tuneatlas map` computes and caches it from the command line, and the
//! tests check it — all through the same code. A full layout takes tens of
//! seconds for a large library, so it is computed on a background thread,
//! cached per model version in the store, and extended cheaply when a few
//! tracks arrive ([`place::place_new`]) until a recompute is due.
//!
//! * [`pca`] — shrink the vectors to 50 dimensions first (faster, same map);
//! * [`tsne`] — the t-SNE layout itself (linfa-tsne, Barnes–Hut, fixed seed);
//! * [`landmarks`] — large libraries: t-SNE of a covering set, the rest placed;
//! * [`place`] — incremental placement of new tracks and the recompute policy;
//! * [`library`] — load / extend / recompute / save for one library file;
//! * [`labels`] — the map's regions named by their most distinctive tags;
//! * [`quality`] — synthetic clustered data and neighbourhood-preservation
//!   figures, so that speed tweaks cannot silently ruin the map.

pub mod labels;
pub mod landmarks;
pub mod library;
pub mod pca;
pub mod place;
pub mod quality;
pub mod tsne;

pub use crate::store::MapCoord;
pub use labels::{LabelSource, LabelTag, RegionLabel, layout_labels, region_labels, regions};
pub use library::{LibraryMap, MapOutcome, RecomputeReason, layout_for_library};
pub use place::{DEFAULT_PLACE_NEIGHBORS, RecomputePolicy, place_new, recompute_due};
pub use tsne::{LayoutParams, LayoutProgress, LayoutStage, compute_layout, estimate_tsne_s};

/// A 2-d layout of tracks: one point per track id, normalised into [-1, 1]²
/// (centred on the bounding box, aspect ratio kept), so every consumer can
/// draw it without knowing t-SNE's arbitrary scale.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// Sorted by track id, one per id.
    points: Vec<MapCoord>,
    /// Tracks whose vectors were zero or not finite (no place on the map).
    unusable: Vec<i64>,
}

impl Layout {
    /// A layout of the given points (sorted by track id here; for a repeated
    /// id the last point wins). Coordinates are taken as they are.
    pub fn from_points(points: impl IntoIterator<Item = MapCoord>) -> Layout {
        let mut points: Vec<MapCoord> = points.into_iter().collect();
        // Stable sort keeps input order within an id; keep the last of each.
        points.sort_by_key(|p| p.track_id);
        let mut deduped: Vec<MapCoord> = Vec::with_capacity(points.len());
        for p in points {
            match deduped.last_mut() {
                Some(last) if last.track_id == p.track_id => *last = p,
                _ => deduped.push(p),
            }
        }
        Layout { points: deduped, unusable: Vec::new() }
    }

    /// The same layout, also recording tracks that could not be laid out.
    pub fn with_unusable(mut self, mut ids: Vec<i64>) -> Layout {
        ids.sort_unstable();
        ids.dedup();
        self.unusable = ids;
        self
    }

    /// Every point, ordered by track id.
    pub fn points(&self) -> &[MapCoord] {
        &self.points
    }

    /// Tracks whose vectors are zero or not finite and so have no point: a
    /// caller can tell "not on the map yet" from "cannot be on the map".
    pub fn unusable_ids(&self) -> &[i64] {
        &self.unusable
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True when the layout has no point.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The point of a track.
    pub fn get(&self, track_id: i64) -> Option<&MapCoord> {
        self.points.binary_search_by_key(&track_id, |p| p.track_id).ok().map(|i| &self.points[i])
    }

    /// The `(x, y)` position of a track.
    pub fn position(&self, track_id: i64) -> Option<(f32, f32)> {
        self.get(track_id).map(|p| (p.x, p.y))
    }

    /// True when the track has a point.
    pub fn contains(&self, track_id: i64) -> bool {
        self.get(track_id).is_some()
    }

    /// Points laid out by t-SNE itself.
    pub fn n_tsne(&self) -> usize {
        self.points.iter().filter(|p| !p.placed).count()
    }

    /// Points placed later next to their neighbours.
    pub fn n_placed(&self) -> usize {
        self.points.iter().filter(|p| p.placed).count()
    }

    /// The layout without the points `keep` rejects (e.g. tracks that left
    /// the library).
    pub fn retain(mut self, keep: impl Fn(i64) -> bool) -> Layout {
        self.points.retain(|p| keep(p.track_id));
        self.unusable.retain(|&id| keep(id));
        self
    }
}

/// Scales and shifts raw 2-d positions into [-1, 1]²: centred on their
/// bounding box, the larger side spanning exactly [-1, 1], aspect kept. All
/// points on one spot end up at the origin.
pub(crate) fn normalize_positions(xy: &mut [[f64; 2]]) {
    let Some(first) = xy.first().copied() else { return };
    let (mut lo, mut hi) = (first, first);
    for p in xy.iter() {
        for axis in 0..2 {
            lo[axis] = lo[axis].min(p[axis]);
            hi[axis] = hi[axis].max(p[axis]);
        }
    }
    let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let half_extent = ((hi[0] - lo[0]).max(hi[1] - lo[1])) / 2.0;
    let scale = if half_extent > 0.0 { 1.0 / half_extent } else { 0.0 };
    for p in xy.iter_mut() {
        for axis in 0..2 {
            p[axis] = ((p[axis] - centre[axis]) * scale).clamp(-1.0, 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_centres_and_keeps_aspect() {
        let mut xy = vec![[10.0, 5.0], [14.0, 6.0], [12.0, 5.5]];
        normalize_positions(&mut xy);
        assert_eq!(xy, vec![[-1.0, -0.25], [1.0, 0.25], [0.0, 0.0]]);
        let mut same = vec![[3.0, 3.0], [3.0, 3.0]];
        normalize_positions(&mut same);
        assert_eq!(same, vec![[0.0, 0.0], [0.0, 0.0]]);
    }

    #[test]
    fn layouts_are_sorted_and_deduplicated() {
        let p = |id, x| MapCoord { track_id: id, x, y: 0.0, placed: false };
        let layout = Layout::from_points([p(3, 0.1), p(1, 0.2), p(3, 0.3)]);
        assert_eq!(layout.len(), 2);
        assert_eq!(layout.position(3), Some((0.3, 0.0)));
        assert!(layout.contains(1) && !layout.contains(2));
        assert_eq!(layout.retain(|id| id != 1).len(), 1);
    }
}
