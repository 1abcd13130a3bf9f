//! Names for the regions of the map: the layout is cut into a few clusters,
//! and each is named by the tags that set it apart from the rest of the
//! library, so a person sees what a part of the map *is* without hovering
//! point after point.
//!
//! Why here, free of any GUI: the window draws the labels and `tuneatlas
//! map` prints them, and both must say the same thing; and the rule is easy
//! to get subtly wrong, so it is unit-tested on synthetic data.
//!
//! - **Regions:** k-means over the 2-d map coordinates (what the eye groups),
//!   k = ⌈√n / 2⌉ clamped to 2…[`MAX_REGIONS`], k-means++ seeding from a
//!   fixed seed and a few restarts (the lowest within-region spread kept), so
//!   one layout always gets the same regions. Fewer than
//!   [`MIN_LABELLED_TRACKS`] points get no labels at all, and regions of
//!   fewer than [`MIN_REGION_TRACKS`] tracks (outliers) none either.
//! - **Names:** a region's *distinctive* tags, not its most common ones —
//!   "electronic" may top most regions of an electronic library and would
//!   then say nothing. Each tag's **lift** is its mean score in the region
//!   over its mean score in the mapped library; a tag must reach a floor in
//!   the region ([`SCORE_FLOOR`]: a tag the model barely hears anywhere is
//!   not a name, however large its ratio) and a lift of [`MIN_LIFT`]. The
//!   user's own tags take part as the share of tracks carrying them (floor
//!   [`USER_SHARE_FLOOR`]: most of the region). The [`TAGS_PER_LABEL`]
//!   highest lifts name the region; one with no tag passing stays unnamed.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::Layout;
use super::tsne::splitmix64;
use crate::Result;
use crate::store::{Store, TagMatrix};

/// At most this many regions, however large the library: more labels than
/// this crowd the map and stop being read.
pub const MAX_REGIONS: usize = 12;
/// Maps with fewer points than this get no labels (there is nothing to
/// summarise in a handful of points).
pub const MIN_LABELLED_TRACKS: usize = 8;
/// A region needs this many tracks to be named.
pub const MIN_REGION_TRACKS: usize = 3;
/// A predicted tag names a region only when its mean score there reaches
/// this (scores are per-tag probabilities, 0–1).
pub const SCORE_FLOOR: f32 = 0.1;
/// A user tag names a region only when at least this share of the region's
/// tracks carry it.
pub const USER_SHARE_FLOOR: f32 = 0.5;
/// A tag names a region only when the region's mean is at least this many
/// times the library's.
pub const MIN_LIFT: f32 = 1.25;
/// Tags shown per label.
pub const TAGS_PER_LABEL: usize = 2;
/// The fixed seed of the k-means++ seeding.
const SEED: u64 = 0x6c61_6265_6c73;
/// k-means runs from this many seedings; the tightest is kept.
const RESTARTS: u64 = 4;
/// Lloyd iterations per run at most (it usually settles in ten or so).
const MAX_ITERATIONS: usize = 60;

/// Where a label's tag comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LabelSource {
    /// A tag the model predicts, of this category ("genre", "mood", …).
    Predicted {
        /// The category.
        category: String,
    },
    /// One of the user's own tags, of this tag set.
    User {
        /// The tag set.
        set: String,
    },
}

/// One tag of a region's label, with the figures that chose it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelTag {
    /// The tag.
    pub tag: String,
    /// Predicted or the user's.
    pub source: LabelSource,
    /// Mean score in the region (for a user tag: the share of its tracks
    /// carrying it).
    pub region_mean: f32,
    /// The same over every track on the map.
    pub library_mean: f32,
}

impl LabelTag {
    /// How many times more the region has of this tag than the library.
    pub fn lift(&self) -> f32 {
        lift(self.region_mean, self.library_mean)
    }
}

/// A named region of the map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionLabel {
    /// The mean map position of the region's tracks (map coordinates, as
    /// the layout stores them).
    pub center: [f32; 2],
    /// The region's tracks, ascending.
    pub track_ids: Vec<i64>,
    /// Its most distinctive tags, the most distinctive first (1 to
    /// [`TAGS_PER_LABEL`]).
    pub tags: Vec<LabelTag>,
}

impl RegionLabel {
    /// The label as drawn: its tags joined by " · ".
    pub fn text(&self) -> String {
        self.tags.iter().map(|t| t.tag.as_str()).collect::<Vec<_>>().join(" · ")
    }
}

/// Region mean over library mean; 0 when the library has none of the tag.
fn lift(region_mean: f32, library_mean: f32) -> f32 {
    if library_mean > 0.0 { region_mean / library_mean } else { 0.0 }
}

/// How many regions a map of `n` points is cut into (0: too few to label).
pub fn region_count(n: usize) -> usize {
    if n < MIN_LABELLED_TRACKS {
        return 0;
    }
    ((n as f64).sqrt() / 2.0).ceil().clamp(2.0, MAX_REGIONS as f64) as usize
}

/// The regions [`region_labels`] names: the indices into `positions` of
/// each k-means cluster ([`region_count`] of them; none below
/// [`MIN_LABELLED_TRACKS`] points). Deterministic for one input.
///
/// Why public: a caller that wants to know which tracks share a label's
/// region (a test tagging one region, a future "select this region") gets
/// the very partition the labels were computed on, not a re-implementation.
pub fn regions(positions: &[[f32; 2]]) -> Vec<Vec<usize>> {
    let k = region_count(positions.len());
    if k == 0 {
        return Vec::new();
    }
    let assignment = kmeans(positions, k);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &c) in assignment.iter().enumerate() {
        members[c].push(i);
    }
    members
}

/// The named regions of a map: `points` are `(track id, [x, y])` in map
/// coordinates, `tags` the predicted scores, `user_tags` the user's
/// `(set, tag)` pairs by track (as in [`crate::browse::LibrarySnapshot`]).
/// Largest region first; unnamed regions are left out. Deterministic: the
/// same input gives the same labels.
pub fn region_labels(
    points: &[(i64, [f32; 2])],
    tags: &TagMatrix,
    user_tags: &HashMap<i64, Vec<(String, String)>>,
) -> Vec<RegionLabel> {
    let positions: Vec<[f32; 2]> = points.iter().map(|(_, p)| *p).collect();
    let members = regions(&positions);
    if members.is_empty() {
        return Vec::new();
    }
    let profile = TagProfile::new(points, tags, user_tags);
    let mut labels: Vec<RegionLabel> = members
        .iter()
        .filter(|m| m.len() >= MIN_REGION_TRACKS)
        .filter_map(|m| {
            let tags = profile.distinctive(m);
            if tags.is_empty() {
                return None;
            }
            let n = m.len() as f32;
            let center = [
                m.iter().map(|&i| positions[i][0]).sum::<f32>() / n,
                m.iter().map(|&i| positions[i][1]).sum::<f32>() / n,
            ];
            let mut track_ids: Vec<i64> = m.iter().map(|&i| points[i].0).collect();
            track_ids.sort_unstable();
            Some(RegionLabel { center, track_ids, tags })
        })
        .collect();
    labels.sort_by(|a, b| b.track_ids.len().cmp(&a.track_ids.len()).then(a.track_ids.cmp(&b.track_ids)));
    labels
}

/// The named regions of a stored layout, with the tags of `model_version`
/// and every user tag read from `store` (what `tuneatlas map` prints; the
/// window has them in its snapshot already and calls [`region_labels`]).
pub fn layout_labels(store: &Store, layout: &Layout, model_version: &str) -> Result<Vec<RegionLabel>> {
    let tags = store.tag_matrix(model_version)?;
    let mut user_tags: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for (track_id, set, tag) in store.all_user_tags(None)? {
        user_tags.entry(track_id).or_default().push((set, tag));
    }
    let points: Vec<(i64, [f32; 2])> = layout.points().iter().map(|c| (c.track_id, [c.x, c.y])).collect();
    Ok(region_labels(&points, &tags, &user_tags))
}

/// The tag data of the mapped tracks, arranged for region means.
struct TagProfile<'a> {
    tags: &'a TagMatrix,
    /// Per point: its row in `tags`, if it has scores.
    rows: Vec<Option<usize>>,
    /// Per predicted column: the mean over points with scores.
    library_means: Vec<f32>,
    /// Per user `(set, tag)`: which points carry it.
    user: BTreeMap<(String, String), Vec<bool>>,
}

impl<'a> TagProfile<'a> {
    fn new(
        points: &[(i64, [f32; 2])],
        tags: &'a TagMatrix,
        user_tags: &HashMap<i64, Vec<(String, String)>>,
    ) -> TagProfile<'a> {
        let rows: Vec<Option<usize>> =
            points.iter().map(|(id, _)| tags.track_ids.binary_search(id).ok()).collect();
        let all: Vec<usize> = (0..points.len()).collect();
        let mut profile = TagProfile { tags, rows, library_means: Vec::new(), user: BTreeMap::new() };
        profile.library_means = profile.predicted_means(&all);
        for (i, (id, _)) in points.iter().enumerate() {
            for pair in user_tags.get(id).into_iter().flatten() {
                profile.user.entry(pair.clone()).or_insert_with(|| vec![false; points.len()])[i] = true;
            }
        }
        profile
    }

    /// Mean score per predicted column over the points `members` that have
    /// scores (zeros when none has).
    fn predicted_means(&self, members: &[usize]) -> Vec<f32> {
        let n_tags = self.tags.tags.len();
        let mut sums = vec![0f64; n_tags];
        let mut n = 0usize;
        for row in members.iter().filter_map(|&i| self.rows[i]) {
            n += 1;
            for (s, &x) in sums.iter_mut().zip(&self.tags.scores[row * n_tags..(row + 1) * n_tags]) {
                *s += f64::from(x);
            }
        }
        sums.into_iter().map(|s| if n == 0 { 0.0 } else { (s / n as f64) as f32 }).collect()
    }

    /// The region's most distinctive tags (see the module documentation).
    fn distinctive(&self, members: &[usize]) -> Vec<LabelTag> {
        let mut candidates: Vec<LabelTag> = Vec::new();
        for (c, &region_mean) in self.predicted_means(members).iter().enumerate() {
            let (category, tag) = &self.tags.tags[c];
            let library_mean = self.library_means[c];
            if region_mean >= SCORE_FLOOR && lift(region_mean, library_mean) >= MIN_LIFT {
                candidates.push(LabelTag {
                    tag: tag.clone(),
                    source: LabelSource::Predicted { category: category.clone() },
                    region_mean,
                    library_mean,
                });
            }
        }
        for ((set, tag), carried) in &self.user {
            let in_region = members.iter().filter(|&&i| carried[i]).count();
            let in_library = carried.iter().filter(|&&c| c).count();
            let region_mean = in_region as f32 / members.len().max(1) as f32;
            let library_mean = in_library as f32 / carried.len().max(1) as f32;
            if region_mean >= USER_SHARE_FLOOR && lift(region_mean, library_mean) >= MIN_LIFT {
                candidates.push(LabelTag {
                    tag: tag.clone(),
                    source: LabelSource::User { set: set.clone() },
                    region_mean,
                    library_mean,
                });
            }
        }
        // Highest lift first; ties by the stronger region mean, then by name,
        // so the order never depends on hashing.
        candidates.sort_by(|a, b| {
            b.lift()
                .total_cmp(&a.lift())
                .then(b.region_mean.total_cmp(&a.region_mean))
                .then_with(|| a.tag.cmp(&b.tag))
        });
        let mut chosen: Vec<LabelTag> = Vec::with_capacity(TAGS_PER_LABEL);
        for candidate in candidates {
            // One name once, whichever category or set says it.
            if chosen.iter().all(|t| !t.tag.eq_ignore_ascii_case(&candidate.tag)) {
                chosen.push(candidate);
            }
            if chosen.len() == TAGS_PER_LABEL {
                break;
            }
        }
        chosen
    }
}

fn dist2(a: [f32; 2], b: [f32; 2]) -> f64 {
    let (dx, dy) = (f64::from(a[0] - b[0]), f64::from(a[1] - b[1]));
    dx * dx + dy * dy
}

/// The index of the centre nearest `p` (the lowest index on ties).
fn nearest_centre(p: [f32; 2], centres: &[[f32; 2]]) -> usize {
    let mut best = (0, f64::INFINITY);
    for (c, &centre) in centres.iter().enumerate() {
        let d = dist2(p, centre);
        if d < best.1 {
            best = (c, d);
        }
    }
    best.0
}

/// k-means of 2-d points: each point's region (0..k). The best of
/// [`RESTARTS`] seeded runs by within-region sum of squares.
fn kmeans(points: &[[f32; 2]], k: usize) -> Vec<usize> {
    let k = k.min(points.len()).max(1);
    let mut best: Option<(f64, Vec<usize>)> = None;
    for run in 0..RESTARTS {
        let assignment = kmeans_run(points, k, splitmix64(SEED.wrapping_add(run)));
        let centres = centres_of(points, &assignment, k, &vec![[0.0; 2]; k]);
        let spread: f64 = points.iter().zip(&assignment).map(|(p, &c)| dist2(*p, centres[c])).sum();
        if best.as_ref().is_none_or(|(s, _)| spread < *s) {
            best = Some((spread, assignment));
        }
    }
    best.map(|(_, a)| a).unwrap_or_default()
}

/// The mean of each region's points; a region left empty keeps `previous`.
fn centres_of(points: &[[f32; 2]], assignment: &[usize], k: usize, previous: &[[f32; 2]]) -> Vec<[f32; 2]> {
    let mut sums = vec![[0f64; 3]; k];
    for (p, &c) in points.iter().zip(assignment) {
        sums[c][0] += f64::from(p[0]);
        sums[c][1] += f64::from(p[1]);
        sums[c][2] += 1.0;
    }
    sums.iter()
        .zip(previous)
        .map(|(s, prev)| if s[2] > 0.0 { [(s[0] / s[2]) as f32, (s[1] / s[2]) as f32] } else { *prev })
        .collect()
}

/// One k-means run: k-means++ seeding from `seed`, then Lloyd iterations
/// until no point changes region.
fn kmeans_run(points: &[[f32; 2]], k: usize, seed: u64) -> Vec<usize> {
    let mut state = seed;
    let mut next_unit = || {
        state = splitmix64(state);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let n = points.len();
    let first = ((next_unit() * n as f64) as usize).min(n - 1);
    let mut centres = vec![points[first]];
    let mut nearest: Vec<f64> = points.iter().map(|p| dist2(*p, points[first])).collect();
    while centres.len() < k {
        let total: f64 = nearest.iter().sum();
        let pick = if total > 0.0 {
            // A point with probability proportional to its squared distance
            // to the nearest centre so far.
            let mut target = next_unit() * total;
            let mut chosen = n - 1;
            for (i, d) in nearest.iter().enumerate() {
                if target < *d {
                    chosen = i;
                    break;
                }
                target -= d;
            }
            chosen
        } else {
            // Every point sits on a centre already (duplicates).
            centres.len() % n
        };
        centres.push(points[pick]);
        for (d, p) in nearest.iter_mut().zip(points) {
            *d = d.min(dist2(*p, points[pick]));
        }
    }
    let mut assignment: Vec<usize> = points.iter().map(|p| nearest_centre(*p, &centres)).collect();
    for _ in 0..MAX_ITERATIONS {
        centres = centres_of(points, &assignment, k, &centres);
        let next: Vec<usize> = points.iter().map(|p| nearest_centre(*p, &centres)).collect();
        if next == assignment {
            break;
        }
        assignment = next;
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `per_blob` points around each centre, on a small deterministic ring
    /// pattern (radius ≤ 0.08).
    fn blobs(centres: &[[f32; 2]], per_blob: usize) -> Vec<[f32; 2]> {
        let mut points = Vec::new();
        for c in centres {
            for i in 0..per_blob {
                let angle = i as f32 * 2.399;
                let r = 0.02 + 0.06 * (i % 4) as f32 / 3.0;
                points.push([c[0] + r * angle.cos(), c[1] + r * angle.sin()]);
            }
        }
        points
    }

    const THREE: [[f32; 2]; 3] = [[-0.7, -0.6], [0.7, -0.5], [0.0, 0.7]];

    /// A tag matrix for points `0..n`: `genre:electronic` high everywhere,
    /// `genre:jazz` high only in `jazz`, `mood:eerie` tiny everywhere but
    /// ten times tinier outside `eerie`.
    fn matrix(n: usize, jazz: &[usize], eerie: &[usize]) -> TagMatrix {
        let tags = vec![
            ("genre".to_owned(), "electronic".to_owned()),
            ("genre".to_owned(), "jazz".to_owned()),
            ("mood".to_owned(), "eerie".to_owned()),
        ];
        let mut scores = Vec::new();
        for i in 0..n {
            let electronic = if jazz.contains(&i) { 0.6 } else { 0.8 };
            let jazz_score = if jazz.contains(&i) { 0.5 } else { 0.05 };
            let eerie_score = if eerie.contains(&i) { 0.05 } else { 0.005 };
            scores.extend([electronic, jazz_score, eerie_score]);
        }
        TagMatrix { tags, track_ids: (0..n as i64).collect(), scores }
    }

    fn with_ids(points: &[[f32; 2]]) -> Vec<(i64, [f32; 2])> {
        points.iter().enumerate().map(|(i, p)| (i as i64, *p)).collect()
    }

    #[test]
    fn the_number_of_regions_grows_with_the_root_of_the_map_and_is_capped() {
        assert_eq!(region_count(MIN_LABELLED_TRACKS - 1), 0);
        assert_eq!(region_count(MIN_LABELLED_TRACKS), 2);
        assert_eq!(region_count(24), 3);
        assert_eq!(region_count(61), 4);
        assert_eq!(region_count(400), 10);
        assert_eq!(region_count(100_000), MAX_REGIONS);
    }

    #[test]
    fn kmeans_finds_separate_blobs_and_is_deterministic() {
        let points = blobs(&THREE, 20);
        let assignment = kmeans(&points, 3);
        for blob in 0..3 {
            let region = assignment[blob * 20];
            assert!(assignment[blob * 20..(blob + 1) * 20].iter().all(|&c| c == region), "blob {blob} split");
        }
        let mut regions: Vec<usize> = (0..3).map(|b| assignment[b * 20]).collect();
        regions.sort_unstable();
        assert_eq!(regions, [0, 1, 2], "each blob is a region of its own");
        assert_eq!(kmeans(&points, 3), assignment, "the same input gives the same regions");
    }

    #[test]
    fn kmeans_survives_duplicates_and_more_regions_than_distinct_points() {
        let points = vec![[0.5, 0.5]; 10];
        let assignment = kmeans(&points, 4);
        assert_eq!(assignment.len(), 10);
        assert!(assignment.iter().all(|&c| c < 4));
    }

    #[test]
    fn a_region_is_named_by_what_sets_it_apart_not_by_what_is_common_everywhere() {
        // 36 points: three regions, one per blob.
        let points = blobs(&THREE, 12);
        let jazz: Vec<usize> = (12..24).collect();
        let tags = matrix(points.len(), &jazz, &[]);
        let labels = region_labels(&with_ids(&points), &tags, &HashMap::new());
        // "electronic" tops every region's raw scores, yet only the jazz
        // blob has a tag that stands out.
        assert_eq!(labels.len(), 1, "{labels:?}");
        let label = &labels[0];
        assert_eq!(label.text(), "jazz");
        assert_eq!(label.track_ids, (12..24).collect::<Vec<i64>>());
        assert!((label.tags[0].region_mean - 0.5).abs() < 1e-6);
        assert!((label.tags[0].lift() - 0.5 / 0.2).abs() < 1e-4, "lift {}", label.tags[0].lift());
        assert!((label.center[0] - 0.7).abs() < 0.05 && (label.center[1] + 0.5).abs() < 0.05);
    }

    #[test]
    fn a_tag_the_model_barely_hears_is_no_name_however_large_its_lift() {
        let points = blobs(&THREE, 12);
        let eerie: Vec<usize> = (24..36).collect();
        // Lift 10 for "eerie" in the third blob, but a mean of 0.05.
        let labels = region_labels(&with_ids(&points), &matrix(points.len(), &[], &eerie), &HashMap::new());
        assert!(labels.is_empty(), "{labels:?}");
    }

    #[test]
    fn the_users_own_tags_name_the_region_most_of_whose_tracks_carry_them() {
        let points = blobs(&THREE, 12);
        let jazz: Vec<usize> = (12..24).collect();
        let mut user: HashMap<i64, Vec<(String, String)>> = HashMap::new();
        // 9 of the first blob's 12 tracks are "rainy"; one elsewhere too.
        for id in (0..9).chain([30]) {
            user.entry(id).or_default().push(("moods".to_owned(), "rainy".to_owned()));
        }
        // Two tracks of the jazz blob are "late": too few to name it.
        for id in [12, 13] {
            user.entry(id).or_default().push(("moods".to_owned(), "late".to_owned()));
        }
        let labels = region_labels(&with_ids(&points), &matrix(points.len(), &jazz, &[]), &user);
        let texts: Vec<String> = labels.iter().map(RegionLabel::text).collect();
        // Two regions of 12: the one with the lower track ids first.
        assert_eq!(texts, ["rainy", "jazz"], "{labels:?}");
        let rainy = &labels[0].tags[0];
        assert_eq!(rainy.source, LabelSource::User { set: "moods".to_owned() });
        assert!((rainy.region_mean - 0.75).abs() < 1e-6 && (rainy.library_mean - 10.0 / 36.0).abs() < 1e-6);
    }

    #[test]
    fn labels_take_the_two_most_distinctive_tags_once_each() {
        let points = blobs(&THREE, 12);
        let jazz: Vec<usize> = (12..24).collect();
        let mut tags = matrix(points.len(), &jazz, &[]);
        // The same word in a second category, more distinctive than "calm".
        tags.tags.push(("style".to_owned(), "Jazz".to_owned()));
        tags.tags.push(("mood".to_owned(), "calm".to_owned()));
        let old = std::mem::take(&mut tags.scores);
        for (i, row) in old.chunks(3).enumerate() {
            let inside = jazz.contains(&i);
            tags.scores.extend(row);
            tags.scores.extend([if inside { 0.45 } else { 0.1 }, if inside { 0.3 } else { 0.1 }]);
        }
        let labels = region_labels(&with_ids(&points), &tags, &HashMap::new());
        assert_eq!(labels.len(), 1, "{labels:?}");
        // Lifts: jazz 0.5 / 0.2 = 2.5, style "Jazz" 0.45 / 0.217 = 2.1 (the
        // same name: skipped), calm 0.3 / 0.167 = 1.8.
        assert_eq!(labels[0].text(), "jazz · calm");
    }

    #[test]
    fn small_maps_and_small_regions_get_no_label() {
        let points = blobs(&[[0.0, 0.0]], MIN_LABELLED_TRACKS - 1);
        let tags = matrix(points.len(), &[0, 1, 2], &[]);
        assert!(region_labels(&with_ids(&points), &tags, &HashMap::new()).is_empty());
        // Two big blobs and an outlier pair: k = 3 gives the pair its own
        // region, too small to be named even though it is all jazz.
        let mut points = blobs(&THREE[..2], 12);
        points.extend([[0.0, 0.9], [0.02, 0.92]]);
        let n = points.len();
        let labels = region_labels(&with_ids(&points), &matrix(n, &[n - 2, n - 1], &[]), &HashMap::new());
        assert!(labels.is_empty(), "{labels:?}");
    }
}
