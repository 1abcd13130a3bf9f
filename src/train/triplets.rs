//! Online triplet selection inside a mini-batch: which pairs are valid, and which triplet is hardest.
//!
//! Schindler & Knees (2019), "Multi-Task Music Representation Learning from Multi-Label
//! Embeddings", learn the music representation with a triplet loss whose triplets are chosen inside
//! each mini-batch: two items are a *positive* pair when the cosine of their tags' LSI vectors
//! (`super::lsi`) is at least 0.8, a *negative* pair when it is below 0.2; per anchor, the hardest
//! positive (the farthest in the current embedding) and the hardest negative (the nearest) are used,
//! with the loss `max(0, d(a,p) − d(a,n) + α)` on squared Euclidean distances. Pairs from the same
//! album are never used, so the model cannot learn to recognise an album's production instead of
//! its music.
//!
//! The "track concept" of Lee, Park & Nam (2019) is the second triplet source: other clips of the
//! same track are positives, clips from other albums negatives ([`same_track_masks`]).
//!
//! Everything here is plain CPU code on small `[batch, batch]` matrices: the masks are built on the
//! CPU from batch metadata anyway, and [`squared_distances`] / [`triplet_margin_losses`] are the
//! reference the tensor implementation in the training loop is tested against. [`MiningStats`]
//! lets the loop and the GUI say *why* a batch produced no triplets instead of silently doing
//! nothing.

use ndarray::{Array2, ArrayView2};

use crate::{Error, Result};

/// The LSI cosine thresholds that make a pair a positive or a negative.
///
/// Why two thresholds: pairs between them (moderately similar tag sets) are ambiguous and used
/// neither way, which keeps label noise out of the triplets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TripletRules {
    /// A pair is a positive when its LSI cosine is **at least** this (paper: 0.8).
    pub positive_min_cos: f32,
    /// A pair is a negative when its LSI cosine is **strictly below** this (paper: 0.2).
    pub negative_max_cos: f32,
}

impl Default for TripletRules {
    /// The paper's thresholds: positive at cos ≥ 0.8, negative at cos < 0.2.
    fn default() -> Self {
        TripletRules { positive_min_cos: 0.8, negative_max_cos: 0.2 }
    }
}

impl TripletRules {
    /// Builds validated rules; the way a settings panel should construct them.
    ///
    /// # Errors
    /// [`Error::Invalid`] unless `0 ≤ negative_max_cos ≤ positive_min_cos ≤ 1` (see
    /// [`TripletRules::validate`]).
    pub fn new(positive_min_cos: f32, negative_max_cos: f32) -> Result<TripletRules> {
        let rules = TripletRules { positive_min_cos, negative_max_cos };
        rules.validate()?;
        Ok(rules)
    }

    /// Checks `0 ≤ negative_max_cos ≤ positive_min_cos ≤ 1` (and that both are finite).
    ///
    /// Why: with the lower threshold above the upper one a pair could be positive and negative at
    /// once; outside `[0, 1]` one of the two sets is empty or everything, and the user should hear
    /// that rather than train on nothing.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the offending values.
    pub fn validate(&self) -> Result<()> {
        let (upper, lower) = (self.positive_min_cos, self.negative_max_cos);
        let ok = upper.is_finite() && lower.is_finite() && 0.0 <= lower && lower <= upper && upper <= 1.0;
        if ok {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "invalid triplet thresholds: need 0 ≤ negative cosine ({lower}) ≤ positive cosine ({upper}) ≤ 1"
            )))
        }
    }
}

/// Identity of one batch item, for the "never the same album" rule and the track concept.
///
/// **Unknown albums:** `album_id: None` means the album is unknown; such an item is treated as
/// being on an album of its own *track* — clips of one track always share an album, and otherwise
/// an unknown-album item is "another album" to everything. Two items with the same `track_id` are
/// always treated as the same album, whatever their `album_id` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PairKeys {
    /// The track the item (clip) comes from; clips of one track share it.
    pub track_id: u32,
    /// The album of the track, or `None` when unknown (see the type's documentation).
    pub album_id: Option<u32>,
}

impl PairKeys {
    /// Whether two items count as the same album (and so may never form an LSI pair).
    pub fn same_album(&self, other: &PairKeys) -> bool {
        self.track_id == other.track_id
            || matches!((self.album_id, other.album_id), (Some(a), Some(b)) if a == b)
    }
}

/// Valid positive and negative pair masks (`[n, n]` each) for LSI triplets in a batch.
///
/// `pos[i][j]` iff `i ≠ j`, both items are tagged, they are not on the same album
/// ([`PairKeys::same_album`]) and `lsi_cos[i][j] ≥ positive_min_cos`; `neg[i][j]` likewise with
/// `lsi_cos[i][j] < negative_max_cos`. The masks are disjoint.
///
/// `tagged[i]` says whether item `i` has a usable LSI vector (`super::lsi::nonzero_rows`): an
/// item with no tags has cosine 0 with everything, which would wrongly make it everyone's negative,
/// so untagged items are never positives, negatives or anchors. A NaN cosine fails both
/// comparisons, so that pair is neither.
///
/// # Errors
/// [`Error::Invalid`] when `lsi_cos` is not square, `tagged` or `keys` do not have one entry per
/// item, or `rules` is invalid.
pub fn lsi_masks(
    lsi_cos: ArrayView2<f32>,
    tagged: &[bool],
    keys: &[PairKeys],
    rules: &TripletRules,
) -> Result<(Array2<bool>, Array2<bool>)> {
    rules.validate()?;
    let n = square_size(lsi_cos, "LSI cosine matrix")?;
    if tagged.len() != n || keys.len() != n {
        return Err(Error::Invalid(format!(
            "LSI triplet masks: {n} items in the cosine matrix but {} tag flags and {} keys",
            tagged.len(),
            keys.len()
        )));
    }
    let mut pos = Array2::from_elem((n, n), false);
    let mut neg = Array2::from_elem((n, n), false);
    for i in 0..n {
        if !tagged[i] {
            continue;
        }
        for j in 0..n {
            if i == j || !tagged[j] || keys[i].same_album(&keys[j]) {
                continue;
            }
            let cos = lsi_cos[[i, j]];
            pos[[i, j]] = cos >= rules.positive_min_cos;
            neg[[i, j]] = cos < rules.negative_max_cos;
        }
    }
    Ok((pos, neg))
}

/// Positive and negative masks for the track concept (Lee, Park & Nam): positives are the other
/// clips of the same track, negatives the clips of other albums.
///
/// Why albums for the negatives: another track of the same album often shares instrumentation and
/// mastering; calling it a negative would push apart what should be close. Unknown albums follow
/// [`PairKeys`]' rule (the track is its own album).
pub fn same_track_masks(keys: &[PairKeys]) -> (Array2<bool>, Array2<bool>) {
    let n = keys.len();
    let pos = Array2::from_shape_fn((n, n), |(i, j)| i != j && keys[i].track_id == keys[j].track_id);
    let neg = Array2::from_shape_fn((n, n), |(i, j)| !keys[i].same_album(&keys[j]));
    (pos, neg)
}

/// Positive and negative masks for an album or artist concept (Lee, Park & Nam): positives are
/// clips of *other tracks* of the same group, negatives clips of other groups.
///
/// Why other tracks only: same-track pairs are the track concept's job ([`same_track_masks`]);
/// letting them in here would let the hardest "album positive" be the own track's clip and teach
/// nothing about the album. `group[i]` is `None` where the group is unknown (an unnamed artist):
/// such an item is no anchor, positive or negative, since it may well belong to any group.
///
/// # Errors
/// [`Error::Invalid`] when `group` and `keys` differ in length.
pub fn concept_masks(group: &[Option<u32>], keys: &[PairKeys]) -> Result<(Array2<bool>, Array2<bool>)> {
    let n = keys.len();
    if group.len() != n {
        return Err(Error::Invalid(format!("concept masks: {n} items but {} group labels", group.len())));
    }
    let known = |i: usize, j: usize| i != j && group[i].is_some() && group[j].is_some();
    let pos = Array2::from_shape_fn((n, n), |(i, j)| {
        known(i, j) && group[i] == group[j] && keys[i].track_id != keys[j].track_id
    });
    let neg = Array2::from_shape_fn((n, n), |(i, j)| known(i, j) && group[i] != group[j]);
    Ok((pos, neg))
}

/// One triplet of batch indices: `anchor` should end up closer to `positive` than to `negative`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Triplet {
    /// The anchor item.
    pub anchor: usize,
    /// Its hardest valid positive (the farthest one).
    pub positive: usize,
    /// Its hardest valid negative (the nearest one).
    pub negative: usize,
}

/// What happened when mining a batch, so that "no triplets" can be explained to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MiningStats {
    /// Items in the batch (potential anchors).
    pub anchors: usize,
    /// Anchors with at least one valid positive at a finite distance.
    pub with_positive: usize,
    /// Anchors with at least one valid negative at a finite distance.
    pub with_negative: usize,
    /// Anchors with both, i.e. the number of triplets produced.
    pub triplets: usize,
    /// Valid (anchor, positive) pairs in the mask, before distances are looked at.
    pub positive_pairs: usize,
    /// Valid (anchor, negative) pairs in the mask, before distances are looked at.
    pub negative_pairs: usize,
    /// Valid pairs skipped because their distance was NaN or infinite.
    pub non_finite_pairs: usize,
}

impl MiningStats {
    /// A sentence for the user when the batch produced no triplets, `None` otherwise.
    ///
    /// Why: an empty batch contributes no triplet loss; without a reason the user cannot tell a
    /// bad threshold or an all-one-album selection from a bug.
    pub fn why_empty(&self) -> Option<String> {
        if self.triplets > 0 {
            return None;
        }
        Some(if self.anchors == 0 {
            "the batch is empty".to_string()
        } else if self.non_finite_pairs > 0
            && ((self.positive_pairs > 0 && self.with_positive == 0)
                || (self.negative_pairs > 0 && self.with_negative == 0))
        {
            format!("{} candidate pairs had non-finite embedding distances (NaN/∞)", self.non_finite_pairs)
        } else if self.positive_pairs == 0 && self.negative_pairs == 0 {
            "no pair in the batch qualifies: items have no tags or all come from the same album".to_string()
        } else if self.positive_pairs == 0 {
            "no valid positive pair in the batch: no two items from different albums have similar enough tags"
                .to_string()
        } else if self.negative_pairs == 0 {
            "no valid negative pair in the batch: no two items from different albums have dissimilar enough tags"
                .to_string()
        } else {
            "no item has both a valid positive and a valid negative in this batch".to_string()
        })
    }
}

/// The triplets of a batch and how they were found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mined {
    /// One triplet per anchor that has both a valid positive and a valid negative, by ascending
    /// anchor.
    pub triplets: Vec<Triplet>,
    /// Counts for progress reports and [`MiningStats::why_empty`].
    pub stats: MiningStats,
}

/// Batch-hard mining: for each anchor (ascending) with at least one valid positive and one valid
/// negative, the positive at the **largest** and the negative at the **smallest** squared distance.
///
/// Ties are broken by the lowest index, so the result is deterministic. Pairs whose distance is
/// non-finite (NaN or ±∞, e.g. after a diverged step) are treated as invalid and counted in
/// [`MiningStats::non_finite_pairs`]: a NaN would otherwise win or lose comparisons arbitrarily and
/// an infinite distance would make the loss infinite. The diagonal is never used, whatever the
/// masks say.
///
/// # Errors
/// [`Error::Invalid`] when the three matrices are not square of the same size, or when a pair is
/// marked both positive and negative (the masks built here never do that).
pub fn mine_hardest(dist_sq: ArrayView2<f32>, pos: ArrayView2<bool>, neg: ArrayView2<bool>) -> Result<Mined> {
    let n = square_size(dist_sq, "distance matrix")?;
    if pos.dim() != (n, n) || neg.dim() != (n, n) {
        return Err(Error::Invalid(format!(
            "triplet mining: the distance matrix is {n}×{n} but the masks are {:?} and {:?}",
            pos.dim(),
            neg.dim()
        )));
    }
    let mut stats = MiningStats { anchors: n, ..MiningStats::default() };
    let mut triplets = Vec::new();
    for a in 0..n {
        let mut hardest_pos: Option<(usize, f32)> = None;
        let mut hardest_neg: Option<(usize, f32)> = None;
        for j in 0..n {
            let (is_pos, is_neg) = (pos[[a, j]], neg[[a, j]]);
            if j == a || !(is_pos || is_neg) {
                continue;
            }
            if is_pos && is_neg {
                return Err(Error::Invalid(format!(
                    "triplet mining: pair ({a}, {j}) is marked both positive and negative"
                )));
            }
            let d = dist_sq[[a, j]];
            if is_pos {
                stats.positive_pairs += 1;
            } else {
                stats.negative_pairs += 1;
            }
            if !d.is_finite() {
                stats.non_finite_pairs += 1;
                continue;
            }
            if is_pos {
                if hardest_pos.is_none_or(|(_, best)| d > best) {
                    hardest_pos = Some((j, d));
                }
            } else if hardest_neg.is_none_or(|(_, best)| d < best) {
                hardest_neg = Some((j, d));
            }
        }
        stats.with_positive += usize::from(hardest_pos.is_some());
        stats.with_negative += usize::from(hardest_neg.is_some());
        if let (Some((positive, _)), Some((negative, _))) = (hardest_pos, hardest_neg) {
            triplets.push(Triplet { anchor: a, positive, negative });
        }
    }
    stats.triplets = triplets.len();
    Ok(Mined { triplets, stats })
}

/// Pairwise squared Euclidean distances of the rows of `embeddings` (`[n, d]`), `[n, n]`.
///
/// Why a CPU version: it is the reference for the tensor computation in the training loop and
/// serves small evaluations. It sums squared differences in f64 (no `‖a‖² + ‖b‖² − 2a·b`
/// cancellation), so the diagonal is exactly 0 and every entry is ≥ 0. O(n²·d).
pub fn squared_distances(embeddings: ArrayView2<f32>) -> Array2<f32> {
    let n = embeddings.nrows();
    let mut out = Array2::<f32>::zeros((n, n));
    for i in 0..n {
        for j in (i + 1)..n {
            let d: f64 = embeddings
                .row(i)
                .iter()
                .zip(embeddings.row(j))
                .map(|(&x, &y)| {
                    let diff = f64::from(x) - f64::from(y);
                    diff * diff
                })
                .sum();
            out[[i, j]] = d as f32;
            out[[j, i]] = d as f32;
        }
    }
    out
}

/// The triplet margin loss of each triplet, `max(0, d(a,p) − d(a,n) + margin)` on squared
/// distances — the reference the burn loss is tested against.
///
/// # Errors
/// [`Error::Invalid`] when `dist_sq` is not square or a triplet indexes outside it.
pub fn triplet_margin_losses(
    dist_sq: ArrayView2<f32>,
    triplets: &[Triplet],
    margin: f32,
) -> Result<Vec<f32>> {
    let n = square_size(dist_sq, "distance matrix")?;
    triplets
        .iter()
        .map(|t| {
            if t.anchor >= n || t.positive >= n || t.negative >= n {
                return Err(Error::Invalid(format!("triplet {t:?} is outside the {n}×{n} distance matrix")));
            }
            Ok((dist_sq[[t.anchor, t.positive]] - dist_sq[[t.anchor, t.negative]] + margin).max(0.0))
        })
        .collect()
}

/// The side of a square matrix, or [`Error::Invalid`] naming `what`.
fn square_size<T>(matrix: ArrayView2<T>, what: &str) -> Result<usize> {
    let (rows, cols) = matrix.dim();
    if rows == cols {
        Ok(rows)
    } else {
        Err(Error::Invalid(format!("the {what} must be square, not {rows}×{cols}")))
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};

    use super::*;

    /// Keys with distinct tracks; `albums[i]` is item i's album.
    fn keys(albums: &[Option<u32>]) -> Vec<PairKeys> {
        albums.iter().enumerate().map(|(i, &album_id)| PairKeys { track_id: i as u32, album_id }).collect()
    }

    fn all_distinct(n: usize) -> Vec<PairKeys> {
        keys(&(0..n as u32).map(Some).collect::<Vec<_>>())
    }

    #[test]
    fn concept_positives_are_other_tracks_of_the_group_and_unknown_groups_take_no_part() {
        // Items 0,1: one track of album 7; 2: another track of album 7; 3: album 8; 4: unknown.
        let k = vec![
            PairKeys { track_id: 0, album_id: Some(7) },
            PairKeys { track_id: 0, album_id: Some(7) },
            PairKeys { track_id: 1, album_id: Some(7) },
            PairKeys { track_id: 2, album_id: Some(8) },
            PairKeys { track_id: 3, album_id: None },
        ];
        let group = [Some(7), Some(7), Some(7), Some(8), None];
        let (pos, neg) = concept_masks(&group, &k).unwrap();
        assert!(!pos[[0, 1]], "the own track's clip is the track concept's positive, not the album's");
        assert!(pos[[0, 2]] && pos[[2, 1]]);
        assert!(neg[[0, 3]] && neg[[3, 2]] && !neg[[0, 2]]);
        for i in 0..5 {
            assert!(!pos[[4, i]] && !neg[[4, i]] && !pos[[i, 4]] && !neg[[i, 4]], "unknown group, item {i}");
            assert!(!pos[[i, i]] && !neg[[i, i]]);
        }
        assert!(concept_masks(&group[..4], &k).is_err());
    }

    /// A symmetric cosine matrix from its upper triangle entries.
    fn cos_from(n: usize, entries: &[((usize, usize), f32)]) -> Array2<f32> {
        let mut c = Array2::zeros((n, n));
        for &((i, j), v) in entries {
            c[[i, j]] = v;
            c[[j, i]] = v;
        }
        c
    }

    /// Distances laid out on a line: d(i, j) = (x_i − x_j)².
    fn line_dist(xs: &[f32]) -> Array2<f32> {
        let e = Array2::from_shape_fn((xs.len(), 1), |(i, _)| xs[i]);
        squared_distances(e.view())
    }

    fn t(anchor: usize, positive: usize, negative: usize) -> Triplet {
        Triplet { anchor, positive, negative }
    }

    #[test]
    fn default_rules_are_the_papers() {
        let r = TripletRules::default();
        assert_eq!((r.positive_min_cos, r.negative_max_cos), (0.8, 0.2));
        assert!(r.validate().is_ok());
    }

    #[test]
    fn rules_validation() {
        assert!(TripletRules::new(0.5, 0.5).is_ok());
        assert!(TripletRules::new(1.0, 0.0).is_ok());
        for (upper, lower) in [(0.2, 0.8), (1.1, 0.2), (0.8, -0.1), (f32::NAN, 0.2), (0.8, f32::INFINITY)] {
            match TripletRules::new(upper, lower) {
                Err(Error::Invalid(m)) => assert!(m.contains("invalid triplet thresholds"), "{m}"),
                other => panic!("({upper}, {lower}) accepted: {other:?}"),
            }
        }
        let bad = TripletRules { positive_min_cos: 0.1, negative_max_cos: 0.3 };
        let c = Array2::<f32>::zeros((2, 2));
        assert!(lsi_masks(c.view(), &[true, true], &all_distinct(2), &bad).is_err());
    }

    #[test]
    fn thresholds_are_inclusive_for_positives_and_strict_for_negatives() {
        let c = cos_from(4, &[((0, 1), 0.8), ((0, 2), 0.2), ((0, 3), 0.19999), ((1, 2), 0.79999)]);
        let (pos, neg) = lsi_masks(c.view(), &[true; 4], &all_distinct(4), &TripletRules::default()).unwrap();
        assert!(pos[[0, 1]] && pos[[1, 0]], "exactly 0.8 is a positive");
        assert!(!neg[[0, 2]] && !pos[[0, 2]], "exactly 0.2 is neither");
        assert!(neg[[0, 3]], "just below 0.2 is a negative");
        assert!(!pos[[1, 2]] && !neg[[1, 2]], "just below 0.8 is neither");
        for i in 0..4 {
            assert!(!pos[[i, i]] && !neg[[i, i]], "diagonal");
        }
    }

    #[test]
    fn basic_hardest_selection() {
        // Items 0..5; LSI: 0 is similar to 1 and 2, dissimilar to 3 and 4.
        let c = cos_from(5, &[((0, 1), 0.9), ((0, 2), 0.85), ((0, 3), 0.1), ((0, 4), 0.0), ((1, 2), 0.95)]);
        let (pos, neg) = lsi_masks(c.view(), &[true; 5], &all_distinct(5), &TripletRules::default()).unwrap();
        // Embedding on a line: 0 at 0, 1 at 1, 2 at 3 (farther positive), 3 at 2 (nearer negative), 4 at 5.
        let d = line_dist(&[0.0, 1.0, 3.0, 2.0, 5.0]);
        let mined = mine_hardest(d.view(), pos.view(), neg.view()).unwrap();
        // Anchor 0: hardest positive 2 (d=9 > 1), hardest negative 3 (d=4 < 25).
        // Anchor 1: positives 0, 2 → 2 (d=4 > 1); negatives 3, 4 (cos 0 < 0.2) → 3 (d=1).
        // Anchor 2: positives 0, 1 → 0 (d=9); negatives 3 (d=1), 4 (d=4) → 3.
        // Anchors 3, 4: negatives but no positive.
        assert_eq!(mined.triplets, vec![t(0, 2, 3), t(1, 2, 3), t(2, 0, 3)]);
        let s = mined.stats;
        assert_eq!((s.anchors, s.with_positive, s.with_negative, s.triplets), (5, 3, 5, 3));
        assert_eq!(s.why_empty(), None);
        let losses = triplet_margin_losses(d.view(), &mined.triplets, 1.0).unwrap();
        assert_eq!(losses, vec![9.0 - 4.0 + 1.0, 4.0 - 1.0 + 1.0, 9.0 - 1.0 + 1.0]);
    }

    #[test]
    fn ties_go_to_the_lowest_index() {
        let c = cos_from(5, &[((0, 1), 0.9), ((0, 2), 0.9)]);
        let (pos, neg) = lsi_masks(c.view(), &[true; 5], &all_distinct(5), &TripletRules::default()).unwrap();
        // Anchor 0 at 0: positives 1, 2 both at distance 4; negatives 3, 4 both at distance 1.
        let d = line_dist(&[0.0, 2.0, -2.0, 1.0, -1.0]);
        let mined = mine_hardest(d.view(), pos.view(), neg.view()).unwrap();
        assert_eq!(mined.triplets[0], t(0, 1, 3));
    }

    #[test]
    fn album_filter_skips_same_album_positive_and_negative() {
        // 0 and 1 on album 7; 2, 3, 4 on other albums.
        let k = keys(&[Some(7), Some(7), Some(1), Some(2), Some(3)]);
        let c = cos_from(5, &[((0, 1), 0.99), ((0, 2), 0.9), ((0, 3), 0.0), ((0, 4), 0.1), ((1, 2), 0.05)]);
        let (pos, neg) = lsi_masks(c.view(), &[true; 5], &k, &TripletRules::default()).unwrap();
        assert!(!pos[[0, 1]], "same-album would-be positive");
        assert!(!neg[[1, 0]] && !neg[[0, 1]], "same album is never a pair");
        // Item 1 (same album) would be anchor 0's farthest, i.e. hardest, positive.
        let d = line_dist(&[0.0, 10.0, 1.0, 3.0, 4.0]);
        let mined = mine_hardest(d.view(), pos.view(), neg.view()).unwrap();
        // Anchor 0: positive 2 only (1 is on its album); negatives 3 (d=9), 4 (d=16) → 3.
        assert_eq!(mined.triplets[0], t(0, 2, 3));

        // A would-be negative on the same album is skipped: 0 and 3 share album 5 now.
        let k = keys(&[Some(5), Some(7), Some(1), Some(5), Some(3)]);
        let (pos, neg) = lsi_masks(c.view(), &[true; 5], &k, &TripletRules::default()).unwrap();
        assert!(!neg[[0, 3]]);
        let mined = mine_hardest(d.view(), pos.view(), neg.view()).unwrap();
        // Anchor 0: positives 1 (d=100), 2 (d=1) → 1; negatives: 4 only (3 is on its album).
        assert_eq!(mined.triplets[0], t(0, 1, 4));
    }

    #[test]
    fn unknown_albums_are_their_tracks_albums() {
        let a = PairKeys { track_id: 1, album_id: None };
        let b = PairKeys { track_id: 2, album_id: None };
        let a_clip = PairKeys { track_id: 1, album_id: None };
        let c = PairKeys { track_id: 3, album_id: Some(9) };
        let inconsistent = PairKeys { track_id: 3, album_id: Some(4) };
        assert!(!a.same_album(&b), "two unknown albums are different albums");
        assert!(a.same_album(&a_clip), "clips of one track share an album");
        assert!(!a.same_album(&c));
        assert!(c.same_album(&inconsistent), "same track wins over differing album ids");

        let cos = cos_from(3, &[((0, 1), 0.9), ((0, 2), 0.0), ((1, 2), 0.0)]);
        let (pos, neg) =
            lsi_masks(cos.view(), &[true; 3], &[a, b, a_clip], &TripletRules::default()).unwrap();
        assert!(pos[[0, 1]], "unknown albums of different tracks may pair");
        assert!(!neg[[0, 2]], "clips of one track never pair");
    }

    #[test]
    fn untagged_items_are_never_pairs_or_anchors() {
        // Item 2 has no tags: its cosine is 0 with everything, which must not make it a negative.
        let cos = cos_from(4, &[((0, 1), 0.9), ((0, 3), 0.0), ((1, 3), 0.1)]);
        let tagged = [true, true, false, true];
        let (pos, neg) = lsi_masks(cos.view(), &tagged, &all_distinct(4), &TripletRules::default()).unwrap();
        assert!(pos.row(2).iter().all(|&p| !p) && pos.column(2).iter().all(|&p| !p));
        assert!(neg.row(2).iter().all(|&p| !p) && neg.column(2).iter().all(|&p| !p));
        let d = line_dist(&[0.0, 3.0, 0.5, 2.0]);
        let mined = mine_hardest(d.view(), pos.view(), neg.view()).unwrap();
        assert_eq!(mined.triplets, vec![t(0, 1, 3), t(1, 0, 3)]);
    }

    #[test]
    fn no_valid_pair_gives_no_triplets_and_a_reason() {
        // All moderately similar: neither positive nor negative.
        let cos = Array2::from_elem((3, 3), 0.5f32);
        let (pos, neg) =
            lsi_masks(cos.view(), &[true; 3], &all_distinct(3), &TripletRules::default()).unwrap();
        let d = line_dist(&[0.0, 1.0, 2.0]);
        let mined = mine_hardest(d.view(), pos.view(), neg.view()).unwrap();
        assert!(mined.triplets.is_empty());
        assert_eq!((mined.stats.with_positive, mined.stats.with_negative, mined.stats.triplets), (0, 0, 0));
        assert!(mined.stats.why_empty().unwrap().contains("no pair in the batch qualifies"));

        // Negatives but no positives.
        let cos = Array2::from_elem((3, 3), 0.0f32);
        let (pos, neg) =
            lsi_masks(cos.view(), &[true; 3], &all_distinct(3), &TripletRules::default()).unwrap();
        let mined = mine_hardest(d.view(), pos.view(), neg.view()).unwrap();
        assert_eq!(mined.stats.with_negative, 3);
        assert!(mined.stats.why_empty().unwrap().contains("no valid positive pair"));

        // Positives and negatives, but never for the same anchor.
        let cos = cos_from(4, &[((0, 1), 0.9), ((2, 3), 0.0)]);
        let mut cos = cos;
        for (i, j) in [(0, 2), (0, 3), (1, 2), (1, 3)] {
            cos[[i, j]] = 0.5;
            cos[[j, i]] = 0.5;
        }
        let (pos, neg) =
            lsi_masks(cos.view(), &[true; 4], &all_distinct(4), &TripletRules::default()).unwrap();
        let mined = mine_hardest(line_dist(&[0.0, 1.0, 2.0, 3.0]).view(), pos.view(), neg.view()).unwrap();
        assert!(mined.triplets.is_empty());
        assert!(mined.stats.why_empty().unwrap().contains("both a valid positive and a valid negative"));

        let empty = Array2::<f32>::zeros((0, 0));
        let e = Array2::from_elem((0, 0), false);
        let mined = mine_hardest(empty.view(), e.view(), e.view()).unwrap();
        assert_eq!(mined.stats.why_empty().as_deref(), Some("the batch is empty"));
    }

    #[test]
    fn one_album_gives_no_triplets() {
        let k = keys(&[Some(3); 4]);
        let cos = cos_from(4, &[((0, 1), 0.9), ((0, 2), 0.0), ((1, 3), 0.95), ((2, 3), 0.05)]);
        let (pos, neg) = lsi_masks(cos.view(), &[true; 4], &k, &TripletRules::default()).unwrap();
        assert!(pos.iter().all(|&p| !p) && neg.iter().all(|&p| !p));
        let mined = mine_hardest(line_dist(&[0.0, 1.0, 2.0, 3.0]).view(), pos.view(), neg.view()).unwrap();
        assert!(mined.triplets.is_empty());
        assert!(mined.stats.why_empty().unwrap().contains("same album"));
    }

    #[test]
    fn non_finite_distances_are_never_chosen() {
        let cos = cos_from(5, &[((0, 1), 0.9), ((0, 2), 0.9), ((0, 3), 0.0), ((0, 4), 0.0)]);
        let (pos, neg) =
            lsi_masks(cos.view(), &[true; 5], &all_distinct(5), &TripletRules::default()).unwrap();
        let mut d = line_dist(&[0.0, 1.0, 2.0, 3.0, 4.0]);
        d[[0, 2]] = f32::NAN; // would-be hardest positive
        d[[0, 3]] = f32::NAN; // would-be hardest negative
        let mined = mine_hardest(d.view(), pos.view(), neg.view()).unwrap();
        assert_eq!(mined.triplets[0], t(0, 1, 4));
        assert_eq!(mined.stats.non_finite_pairs, 2);

        // Only a NaN positive left: no triplet for that anchor, and the reason says so.
        d[[0, 1]] = f32::INFINITY;
        let mined = mine_hardest(d.view(), pos.view(), neg.view()).unwrap();
        assert!(mined.triplets.iter().all(|tr| tr.anchor != 0));
        let only_anchor_0 = Array2::from_shape_fn((5, 5), |(i, j)| i == 0 && pos[[i, j]]);
        let mined = mine_hardest(d.view(), only_anchor_0.view(), neg.view()).unwrap();
        assert!(mined.triplets.is_empty());
        assert!(mined.stats.why_empty().unwrap().contains("non-finite"), "{:?}", mined.stats.why_empty());
    }

    #[test]
    fn same_track_concept() {
        // Tracks: clips 0,1 of track 10 (album 1); clip 2 of track 11 (album 1); clip 3 of track 12
        // (album 2); clips 4,5 of track 13 (unknown album).
        let k = [
            PairKeys { track_id: 10, album_id: Some(1) },
            PairKeys { track_id: 10, album_id: Some(1) },
            PairKeys { track_id: 11, album_id: Some(1) },
            PairKeys { track_id: 12, album_id: Some(2) },
            PairKeys { track_id: 13, album_id: None },
            PairKeys { track_id: 13, album_id: None },
        ];
        let (pos, neg) = same_track_masks(&k);
        let want_pos = [(0, 1), (1, 0), (4, 5), (5, 4)];
        for i in 0..6 {
            for j in 0..6 {
                assert_eq!(pos[[i, j]], want_pos.contains(&(i, j)), "pos {i},{j}");
                let same_album = i == j
                    || ([0, 1, 2].contains(&i) && [0, 1, 2].contains(&j))
                    || (i.min(j) == 4 && i.max(j) == 5);
                assert_eq!(neg[[i, j]], !same_album, "neg {i},{j}");
            }
        }
        let d = line_dist(&[0.0, 1.0, 0.5, 3.0, 2.0, 6.0]);
        let mined = mine_hardest(d.view(), pos.view(), neg.view()).unwrap();
        // Anchor 0: pos 1; negatives 3 (d=9), 4 (d=4), 5 (d=36) → 4. Track 11 (clip 2) and track 12
        // (clip 3) have no other clip. Anchor 4 (at 2): negatives 1 and 3 tie at d=1 → 1.
        assert_eq!(mined.triplets, vec![t(0, 1, 4), t(1, 0, 4), t(4, 5, 1), t(5, 4, 3)]);
    }

    #[test]
    fn squared_distances_are_exact_and_symmetric() {
        let e = array![[0.0f32, 0.0], [3.0, 4.0], [1.0, 1.0]];
        let d = squared_distances(e.view());
        assert_eq!(d, array![[0.0, 25.0, 2.0], [25.0, 0.0, 13.0], [2.0, 13.0, 0.0]]);
    }

    #[test]
    fn margin_loss_is_hinged() {
        let d = array![[0.0f32, 1.0, 5.0], [1.0, 0.0, 2.0], [5.0, 2.0, 0.0]];
        let losses = triplet_margin_losses(d.view(), &[t(0, 1, 2), t(0, 2, 1), t(1, 0, 2)], 0.5).unwrap();
        assert_eq!(losses, vec![0.0, 4.5, 0.0]);
        assert!(triplet_margin_losses(d.view(), &[t(0, 1, 3)], 0.5).is_err());
    }

    #[test]
    fn shape_errors_are_reported() {
        let c = Array2::<f32>::zeros((3, 3));
        let r = TripletRules::default();
        assert!(lsi_masks(c.view(), &[true; 2], &all_distinct(3), &r).is_err());
        assert!(lsi_masks(c.view(), &[true; 3], &all_distinct(2), &r).is_err());
        let rect = Array2::<f32>::zeros((3, 2));
        assert!(lsi_masks(rect.view(), &[true; 3], &all_distinct(3), &r).is_err());
        let m = Array2::from_elem((2, 2), false);
        assert!(mine_hardest(c.view(), m.view(), m.view()).is_err());
        let both = Array2::from_shape_fn((3, 3), |(i, j)| i != j);
        match mine_hardest(c.view(), both.view(), both.view()) {
            Err(Error::Invalid(msg)) => assert!(msg.contains("both positive and negative"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }
}
