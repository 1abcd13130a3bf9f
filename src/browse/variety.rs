//! Variety in what the similar list and the radio offer: a per-artist cap,
//! and never the seed again under another name.
//!
//! Why here: without these rules one prolific artist fills a whole mix, and
//! a library holding the same song twice (a re-rip, a copy in another
//! folder) answers "similar to X" with X. The window's list and radio and
//! `tuneatlas similar` must apply the same rules, so they live in the core
//! next to [`super::similar_tracks`] (ARCHITECTURE.md §9). What counts as a
//! copy is [`TrackRow::near_copy`] in [`crate::identity`].

use std::collections::{HashMap, HashSet};

use super::LibrarySnapshot;
use super::similar::SimilarOptions;
use crate::identity::{NEAR_COPY_MIN_COSINE, normalized_name};
use crate::index::{Neighbor, VectorIndex, radio_with};
use crate::store::TrackRow;

/// The default cap: at most this many tracks by one artist...
pub const DEFAULT_PER_ARTIST: usize = 2;
/// ...in any run of this many consecutive tracks of a list or a radio.
pub const ARTIST_WINDOW: usize = 10;

/// How many nearest tracks are first searched for copies of the seed; more
/// are searched while the farthest of them is still a near copy.
const COPY_PROBE: usize = 16;

/// Ids of the tracks that are exact or near copies of `seed_id`
/// ([`TrackRow::near_copy`]); the seed itself is not among them. Empty when
/// the seed is not a known track.
pub(super) fn near_copies(
    index: &VectorIndex,
    by_id: &HashMap<i64, &TrackRow>,
    seed_id: i64,
) -> HashSet<i64> {
    let Some(seed) = by_id.get(&seed_id) else { return HashSet::new() };
    let mut copies: HashSet<i64> =
        by_id.values().filter(|t| t.id != seed_id && seed.same_content(t)).map(|t| t.id).collect();
    let mut k = COPY_PROBE;
    while let Some(near) = index.top_k_by_id(seed_id, k, |_| true) {
        for n in &near {
            if let Some(t) = by_id.get(&n.track_id)
                && seed.near_copy(t, n.cosine_similarity)
            {
                copies.insert(n.track_id);
            }
        }
        let beyond =
            near.len() == k && near.last().is_some_and(|n| n.cosine_similarity >= NEAR_COPY_MIN_COSINE);
        if !beyond {
            break;
        }
        k = k.saturating_mul(4);
    }
    copies
}

/// Each track's artist as the cap compares it (the rule of
/// [`TrackRow::same_artist`]: tracks of unknown artist are never capped).
pub(super) fn artist_keys(tracks: &[TrackRow]) -> HashMap<i64, String> {
    tracks.iter().filter_map(|t| Some((t.id, normalized_name(t.artist.as_deref()?)))).collect()
}

/// The artists that may not come next after `picked`: those already
/// `per_artist` times among its last `ARTIST_WINDOW − 1` tracks. Nothing is
/// blocked when `per_artist` is 0 (no cap).
fn capped_artists<'a>(picked: &[i64], keys: &'a HashMap<i64, String>, per_artist: usize) -> HashSet<&'a str> {
    if per_artist == 0 {
        return HashSet::new();
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in picked.iter().rev().take(ARTIST_WINDOW - 1) {
        if let Some(artist) = keys.get(id) {
            *counts.entry(artist.as_str()).or_default() += 1;
        }
    }
    counts.into_iter().filter(|&(_, n)| n >= per_artist).map(|(a, _)| a).collect()
}

/// Up to `k` of `candidates` (nearest first) under the artist cap: each
/// place goes to the nearest candidate whose artist is not capped there, so
/// a capped artist's tracks come back further down the list.
pub(super) fn pick_under_cap(
    mut candidates: Vec<Neighbor>,
    k: usize,
    keys: &HashMap<i64, String>,
    per_artist: usize,
) -> Vec<Neighbor> {
    let mut picked: Vec<Neighbor> = Vec::with_capacity(k.min(candidates.len()));
    let mut ids: Vec<i64> = Vec::with_capacity(picked.capacity());
    while picked.len() < k {
        let blocked = capped_artists(&ids, keys, per_artist);
        let allowed = |n: &Neighbor| keys.get(&n.track_id).is_none_or(|a| !blocked.contains(a.as_str()));
        let Some(i) = candidates.iter().position(allowed) else { break };
        let next = candidates.remove(i);
        ids.push(next.track_id);
        picked.push(next);
    }
    picked
}

/// "Play radio from here" with the similar list's rules: up to `length`
/// tracks after `seed_id` ([`crate::index::radio`] picks them), never a
/// copy of the seed, never a track `options` filters out, and at most
/// `options.per_artist` by one artist in any [`ARTIST_WINDOW`] tracks — the
/// seed counting as the first. Empty when the seed has no usable vector.
pub fn radio(snapshot: &LibrarySnapshot, seed_id: i64, length: usize, options: SimilarOptions) -> Vec<i64> {
    let Some(index) = &snapshot.index else { return Vec::new() };
    let by_id: HashMap<i64, &TrackRow> = snapshot.tracks.iter().map(|t| (t.id, t)).collect();
    let copies = near_copies(index, &by_id, seed_id);
    let keys = artist_keys(&snapshot.tracks);
    let seed = by_id.get(&seed_id).copied();
    let filtered = |id: i64| match (seed, by_id.get(&id)) {
        (Some(s), Some(t)) => options.excludes(s, t),
        _ => false,
    };
    radio_with(index, seed_id, length, |played| {
        let mut so_far = Vec::with_capacity(played.len() + 1);
        so_far.push(seed_id);
        so_far.extend_from_slice(played);
        let blocked: HashSet<String> =
            capped_artists(&so_far, &keys, options.per_artist).into_iter().map(str::to_owned).collect();
        let (copies, keys, filtered) = (&copies, &keys, &filtered);
        move |id: i64| {
            !copies.contains(&id) && !filtered(id) && keys.get(&id).is_none_or(|a| !blocked.contains(a))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(track_id: i64) -> Neighbor {
        Neighbor { track_id, cosine_similarity: 0.0, distance: 1.0 }
    }

    #[test]
    fn the_cap_holds_in_every_window_and_capped_tracks_come_later() {
        // Ten tracks by "a" nearest, then thirty by others.
        let keys: HashMap<i64, String> =
            (0..40).map(|i| (i, if i < 10 { "a".to_owned() } else { format!("b{i}") })).collect();
        let candidates: Vec<Neighbor> = (0..40).map(n).collect();
        let got: Vec<i64> =
            pick_under_cap(candidates.clone(), 20, &keys, 2).into_iter().map(|n| n.track_id).collect();
        assert_eq!(got.len(), 20);
        for window in got.windows(ARTIST_WINDOW) {
            assert!(window.iter().filter(|&&id| id < 10).count() <= 2, "{got:?}");
        }
        assert_eq!(&got[..4], [0, 1, 10, 11]);
        let uncapped: Vec<i64> =
            pick_under_cap(candidates, 5, &keys, 0).into_iter().map(|n| n.track_id).collect();
        assert_eq!(uncapped, [0, 1, 2, 3, 4]);
    }
}
