//! What the LSI space of the user's tags looks like, before anything trains.
//!
//! Why: fine-tuning learns whatever notion of similarity the LSI cosines of
//! the chosen tags define (positives at cos ≥ the upper threshold, negatives
//! below the lower one). A person should see that notion first: which tags
//! each topic groups (the top positive and negative loadings, as in the
//! paper's figure 3) and how the pairwise cosines of the tagged tracks are
//! spread. When nearly every pair is a positive the tags cannot tell tracks
//! apart ("too uniform": similarity cannot be assessed); when no pair is a
//! positive there is nothing to pull together ("too fragmented"). Both are
//! said here in words, before minutes of feature extraction.
//!
//! The numbers follow [`super::finetune`]: the same default topic count
//! ([`Lsi::default_topics`] of the vocabulary, via [`default_topics`]), the
//! same L2-normalised LSI vectors, and the same album filter (pairs of one
//! album are never used, so they are not counted) and the same training
//! split ([`TaggedTracks::split`]): the topics are fitted and the pairs
//! counted on the tracks a run trains on, so a preview without warnings
//! means the run finds triplets. GUI-free, so it is unit-tested.

use ndarray::{Array2, ArrayView2, Axis};

use super::finetune::{FineTuneConfig, TaggedTracks};
use super::lsi::{Lsi, nonzero_rows};
use super::triplets::TripletRules;
use crate::{Error, Result};

/// Bins of [`CosineHistogram`] over `[-1, 1]` (0.05 wide: fine enough to see
/// where the 0.2 and 0.8 thresholds cut).
pub const COSINE_BINS: usize = 40;

/// At most this many tracks enter the pairwise cosines (evenly spread over
/// the tagged tracks): 2,000 tracks are ~2 million pairs, a fraction of a
/// second; a 100k-track library would be 5 billion.
pub const MAX_PAIR_TRACKS: usize = 2_000;

/// Above this share of positive pairs the corpus counts as too uniform.
///
/// Why one half: a triplet needs a negative for every anchor; when most
/// pairs are positives, the tags say "everything is alike" and the trained
/// similarity cannot be assessed (a pairwise-cosine density piled up near 1).
pub const UNIFORM_POSITIVE_SHARE: f64 = 0.5;

/// Cosines and loadings this close to zero count as exactly zero
/// (orthogonal LSI vectors and absent tags come out as ±1e-9 after the
/// eigendecomposition): such tags are not listed, such pairs are binned at 0.
const ZERO_TOLERANCE: f32 = 1e-6;

/// Tags listed per topic and sign (the paper's figure 3 shows a handful).
pub const DEFAULT_TAGS_PER_TOPIC: usize = 5;

/// The number of LSI topics a fine-tuning run uses for `tagged` when none
/// is asked for: exactly what [`super::finetune::FineTuneData::prepare`]
/// picks ([`Lsi::default_topics`] of the vocabulary size), so the preview
/// and the run agree.
pub fn default_topics(tagged: &TaggedTracks) -> usize {
    Lsi::default_topics(tagged.tags.len())
}

/// What the preview is computed with (the fine-tuning settings it mirrors).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LsiViewSettings {
    /// LSI topics; `None`: [`default_topics`].
    pub topics: Option<usize>,
    /// Positive pairs: cosine at least this.
    pub positive_min_cos: f32,
    /// Negative pairs: cosine strictly below this.
    pub negative_max_cos: f32,
    /// Tags listed per topic and sign.
    pub tags_per_topic: usize,
    /// The run's held-out share, early-stopping share and split seed
    /// (`FineTuneConfig`'s): the preview shows the training tracks only.
    pub test_fraction: f64,
    /// See `test_fraction`.
    pub valid_fraction: f64,
    /// See `test_fraction`.
    pub seed: u64,
}

impl Default for LsiViewSettings {
    /// The paper's thresholds, the default topic count.
    fn default() -> Self {
        let rules = TripletRules::default();
        let run = FineTuneConfig::default();
        LsiViewSettings {
            topics: None,
            positive_min_cos: rules.positive_min_cos,
            negative_max_cos: rules.negative_max_cos,
            tags_per_topic: DEFAULT_TAGS_PER_TOPIC,
            test_fraction: run.test_fraction,
            valid_fraction: run.valid_fraction,
            seed: run.seed,
        }
    }
}

/// One tag's loading on a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicTag {
    /// The tag as shown ("set: tag" when several sets are combined).
    pub label: String,
    /// Its loading (component of the topic's unit vector).
    pub loading: f32,
}

/// One topic as a person reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicView {
    /// Topic number, 0 = strongest.
    pub index: usize,
    /// Share of the tag matrix's energy the topic captures (0–1).
    pub explained: f32,
    /// Strongest positive loadings first.
    pub positive: Vec<TopicTag>,
    /// Strongest negative loadings first (most negative first).
    pub negative: Vec<TopicTag>,
}

/// Counts of pairwise cosines in [`COSINE_BINS`] equal bins over `[-1, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CosineHistogram {
    /// Pairs per bin; bin `i` covers `[-1 + i·w, -1 + (i+1)·w)`, the last
    /// one also holds cos = 1.
    pub counts: Vec<u64>,
}

impl CosineHistogram {
    /// Lowest cosine of the range.
    pub const MIN_COS: f32 = -1.0;
    /// Highest cosine of the range.
    pub const MAX_COS: f32 = 1.0;

    fn new() -> CosineHistogram {
        CosineHistogram { counts: vec![0; COSINE_BINS] }
    }

    /// Width of one bin in cosine units.
    pub fn bin_width(&self) -> f32 {
        (Self::MAX_COS - Self::MIN_COS) / self.counts.len().max(1) as f32
    }

    /// The bin that holds `cos` (clamped into the range).
    pub fn bin_of(&self, cos: f32) -> usize {
        // Multiplying (not dividing by the width) keeps edges such as 0.8 exact.
        let n = self.counts.len() as f32;
        let i = ((cos - Self::MIN_COS) * n / (Self::MAX_COS - Self::MIN_COS)).floor();
        (i.max(0.0) as usize).min(self.counts.len().saturating_sub(1))
    }

    /// `[start, end)` of bin `i` in cosine units.
    pub fn bin_range(&self, i: usize) -> (f32, f32) {
        let w = self.bin_width();
        (Self::MIN_COS + i as f32 * w, Self::MIN_COS + (i + 1) as f32 * w)
    }

    /// All pairs counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Something about the tags that makes fine-tuning pointless or impossible.
#[derive(Debug, Clone, PartialEq)]
pub enum LsiWarning {
    /// Most pairs are positives: the tags cannot tell tracks apart.
    TooUniform {
        /// Share of pairs at or above the upper threshold.
        positive_share: f64,
    },
    /// No pair is below the lower threshold.
    NoNegatives,
    /// No pair reaches the upper threshold.
    NoPositives,
    /// No pair of tracks could be compared (one track, or one album).
    NoPairs,
    /// The tags have a lower rank than the topics asked for.
    FewerTopics {
        /// Topics kept.
        kept: usize,
        /// Topics asked for.
        asked: usize,
    },
}

impl std::fmt::Display for LsiWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LsiWarning::TooUniform { positive_share } => write!(
                f,
                "Too uniform: {:.0}% of the track pairs count as similar, so similarity cannot be assessed. \
                 Add tags that tell tracks apart, raise the upper threshold or use more topics.",
                positive_share * 100.0
            ),
            LsiWarning::NoNegatives => f.write_str(
                "No pair of tracks is dissimilar enough to be a negative (cosine below the lower threshold): \
                 fine-tuning cannot start. Add contrasting tags or raise the lower threshold.",
            ),
            LsiWarning::NoPositives => f.write_str(
                "Too fragmented: no pair of tracks is similar enough to be a positive (cosine at or above the \
                 upper threshold). Tag more tracks alike, lower the upper threshold or use fewer topics.",
            ),
            LsiWarning::NoPairs => f.write_str(
                "No two tagged tracks can be compared (pairs from one album are never used): tag tracks of \
                 at least two albums.",
            ),
            LsiWarning::FewerTopics { kept, asked } => write!(
                f,
                "Only {kept} of the {asked} topics asked for carry information (the tags have few distinct \
                 combinations); the rest are left out."
            ),
        }
    }
}

/// The LSI preview: topics, pairwise cosine distribution and warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct LsiView {
    /// Tagged tracks the topics were fitted on (the training split).
    pub n_tracks: usize,
    /// All tagged tracks (training, early-stopping and held-out).
    pub n_tagged: usize,
    /// Distinct tags (columns of `W`).
    pub n_tags: usize,
    /// Topics asked for (the default when none was).
    pub n_topics_requested: usize,
    /// The topics kept, strongest first.
    pub topics: Vec<TopicView>,
    /// Pairwise cosines of the (sampled, see [`MAX_PAIR_TRACKS`]) tracks.
    pub histogram: CosineHistogram,
    /// Tracks that entered the pairs.
    pub n_pair_tracks: usize,
    /// Share of pairs with cos ≥ the upper threshold (positives).
    pub positive_share: f64,
    /// Share of pairs with cos < the lower threshold (negatives).
    pub negative_share: f64,
    /// The thresholds used.
    pub rules: TripletRules,
    /// What is wrong, if anything (empty: the tags look usable).
    pub warnings: Vec<LsiWarning>,
}

impl LsiView {
    /// The preview of the tags of `tagged` (as [`TaggedTracks::read`] gives them).
    ///
    /// # Errors
    /// [`Error::Invalid`] for thresholds out of order or a topic count the
    /// vocabulary cannot give (see [`Lsi::fit`]).
    pub fn of_tagged(tagged: &TaggedTracks, settings: &LsiViewSettings) -> Result<LsiView> {
        let several_sets = tagged.sets.len() > 1;
        let labels: Vec<String> = tagged
            .tags
            .iter()
            .map(|(set, tag)| if several_sets { format!("{set}: {tag}") } else { tag.clone() })
            .collect();
        let split = tagged.split(settings.test_fraction, settings.valid_fraction, settings.seed);
        let rows = tagged.matrix.select(Axis(0), &split.train);
        let albums: Vec<Option<u32>> = split.train.iter().map(|&i| tagged.album_ids[i]).collect();
        let mut view = LsiView::from_matrix(rows.view(), &labels, &albums, settings)?;
        view.n_tagged = tagged.tracks.len();
        Ok(view)
    }

    /// The preview of a tag–track matrix `matrix` (`tracks × tags`), its
    /// column labels and each track's album (`None`: unknown; pairs of one
    /// album are left out).
    ///
    /// # Errors
    /// [`Error::Invalid`] for thresholds out of order, mismatched lengths, or
    /// anything [`Lsi::fit`] refuses (no tags, too many topics).
    pub fn from_matrix(
        matrix: ArrayView2<f32>,
        labels: &[String],
        album_ids: &[Option<u32>],
        settings: &LsiViewSettings,
    ) -> Result<LsiView> {
        let rules = TripletRules::new(settings.positive_min_cos, settings.negative_max_cos)?;
        let (n_tracks, n_tags) = matrix.dim();
        if labels.len() != n_tags || album_ids.len() != n_tracks {
            return Err(Error::Invalid(format!(
                "LSI preview: {n_tracks} tracks × {n_tags} tags but {} labels and {} albums",
                labels.len(),
                album_ids.len()
            )));
        }
        let asked = settings.topics.unwrap_or_else(|| Lsi::default_topics(n_tags));
        let lsi = Lsi::fit(matrix, asked)?;
        let explained = lsi.explained_variance();
        let label = |(i, loading): (usize, f32)| TopicTag { label: labels[i].clone(), loading };
        let topics = (0..lsi.n_topics())
            .map(|t| {
                let (pos, neg) = lsi.topic_tags(t, settings.tags_per_topic);
                TopicView {
                    index: t,
                    explained: explained[t],
                    positive: pos.into_iter().filter(|p| p.1.abs() >= ZERO_TOLERANCE).map(label).collect(),
                    negative: neg.into_iter().filter(|p| p.1.abs() >= ZERO_TOLERANCE).map(label).collect(),
                }
            })
            .collect();

        let sample = spread_indices(n_tracks, MAX_PAIR_TRACKS);
        let rows = matrix.select(Axis(0), &sample);
        let projected = lsi.project(rows.view())?;
        let usable = nonzero_rows(projected.view());
        let unit = unit_rows(projected.view());
        let albums: Vec<Option<u32>> = sample.iter().map(|&i| album_ids[i]).collect();
        let mut histogram = CosineHistogram::new();
        let (mut positives, mut negatives) = (0u64, 0u64);
        let cos = unit.dot(&unit.t());
        for i in 0..sample.len() {
            for j in i + 1..sample.len() {
                if !usable[i] || !usable[j] || (albums[i].is_some() && albums[i] == albums[j]) {
                    continue;
                }
                let mut c = cos[[i, j]].clamp(-1.0, 1.0);
                if c.abs() < ZERO_TOLERANCE {
                    // Tracks sharing no tag are orthogonal; rounding must
                    // not drop them into the bin below zero.
                    c = 0.0;
                }
                let bin = histogram.bin_of(c);
                histogram.counts[bin] += 1;
                if c >= rules.positive_min_cos {
                    positives += 1;
                }
                if c < rules.negative_max_cos {
                    negatives += 1;
                }
            }
        }
        let total = histogram.total();
        let share = |n: u64| if total == 0 { 0.0 } else { n as f64 / total as f64 };
        let (positive_share, negative_share) = (share(positives), share(negatives));
        let mut warnings = Vec::new();
        if lsi.n_topics() < asked {
            warnings.push(LsiWarning::FewerTopics { kept: lsi.n_topics(), asked });
        }
        if total == 0 {
            warnings.push(LsiWarning::NoPairs);
        } else {
            if positive_share > UNIFORM_POSITIVE_SHARE {
                warnings.push(LsiWarning::TooUniform { positive_share });
            }
            if negatives == 0 {
                warnings.push(LsiWarning::NoNegatives);
            }
            if positives == 0 {
                warnings.push(LsiWarning::NoPositives);
            }
        }
        Ok(LsiView {
            n_tracks,
            n_tagged: n_tracks,
            n_tags,
            n_topics_requested: asked,
            topics,
            histogram,
            n_pair_tracks: sample.len(),
            positive_share,
            negative_share,
            rules,
            warnings,
        })
    }

    /// True when a warning says fine-tuning cannot find triplets at all.
    pub fn blocks_training(&self) -> bool {
        self.warnings
            .iter()
            .any(|w| matches!(w, LsiWarning::NoNegatives | LsiWarning::NoPositives | LsiWarning::NoPairs))
    }
}

/// `n` indices evenly spread over `0..len` (all when `len ≤ n`).
fn spread_indices(len: usize, n: usize) -> Vec<usize> {
    if len <= n || n == 0 {
        return (0..len).collect();
    }
    (0..n).map(|i| i * len / n).collect()
}

/// Rows scaled to unit length (zero rows stay zero), in f32.
fn unit_rows(rows: ArrayView2<f32>) -> Array2<f32> {
    let mut out = rows.to_owned();
    for mut row in out.rows_mut() {
        let norm = row.dot(&row).sqrt();
        if norm > 0.0 && norm.is_finite() {
            row /= norm;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| ((b'a' + i as u8) as char).to_string()).collect()
    }

    fn settings(topics: usize) -> LsiViewSettings {
        LsiViewSettings { topics: Some(topics), ..LsiViewSettings::default() }
    }

    #[test]
    fn two_tag_groups_give_one_topic_each_and_known_pair_counts() {
        // Tracks 0–2 carry {a, b}, tracks 3–4 carry {c}: WᵀW has the
        // eigenvalue 6 for (a + b)/√2 and 2 for c. Within a group the
        // cosine is 1 (3 + 1 = 4 pairs), across groups 0 (3·2 = 6 pairs).
        let w =
            array![[1.0f32, 1.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]];
        let view = LsiView::from_matrix(w.view(), &labels(3), &[None; 5], &settings(2)).expect("view");
        assert_eq!((view.n_tracks, view.n_tags, view.topics.len()), (5, 3, 2));
        let t0 = &view.topics[0];
        assert_eq!(t0.positive.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!((t0.positive[0].loading - 0.5f32.sqrt()).abs() < 1e-5);
        assert!(t0.negative.is_empty());
        assert!((t0.explained - 0.75).abs() < 1e-5, "6 of 8: {}", t0.explained);
        assert_eq!(view.topics[1].positive[0].label, "c");
        assert!((view.topics[1].positive[0].loading - 1.0).abs() < 1e-5);

        let h = &view.histogram;
        assert_eq!(h.total(), 10);
        assert_eq!(h.counts[h.bin_of(1.0)], 4);
        assert_eq!(h.counts[h.bin_of(0.0)], 6);
        assert_eq!(h.bin_of(1.0), COSINE_BINS - 1);
        assert_eq!(h.bin_of(0.0), COSINE_BINS / 2);
        assert!((view.positive_share - 0.4).abs() < 1e-12);
        assert!((view.negative_share - 0.6).abs() < 1e-12);
        assert!(view.warnings.is_empty(), "{:?}", view.warnings);
        assert!(!view.blocks_training());
    }

    #[test]
    fn negative_loadings_are_listed_most_negative_first() {
        // WᵀW = [[1,1,0],[1,2,1],[0,1,1]]: eigenvalue 3 for (1,2,1)/√6,
        // eigenvalue 1 for ±(1,0,−1)/√2, eigenvalue 0 dropped.
        let w = array![[1.0f32, 1.0, 0.0], [0.0, 1.0, 1.0]];
        let view =
            LsiView::from_matrix(w.view(), &labels(3), &[Some(0), Some(1)], &settings(3)).expect("view");
        assert_eq!(view.topics.len(), 2);
        assert_eq!(view.warnings[0], LsiWarning::FewerTopics { kept: 2, asked: 3 });
        let t0 = &view.topics[0];
        assert_eq!(t0.positive[0].label, "b");
        assert!((t0.positive[0].loading - 2.0 / 6f32.sqrt()).abs() < 1e-5);
        let t1 = &view.topics[1];
        // a and c tie in magnitude: which one is positive is the sign
        // convention's (rounding) choice; one is, the other is negative.
        let mut pair = [t1.positive[0].label.as_str(), t1.negative[0].label.as_str()];
        pair.sort_unstable();
        assert_eq!(pair, ["a", "c"]);
        assert_eq!((t1.positive.len(), t1.negative.len()), (1, 1), "b loads 0 on topic 1");
        assert!((t1.positive[0].loading - 0.5f32.sqrt()).abs() < 1e-5);
        assert!((t1.negative[0].loading + 0.5f32.sqrt()).abs() < 1e-5);
        // One pair; W·V of the two rows: (3/√6, 1/√2) and (3/√6, −1/√2):
        // cos = (9/6 − 1/2) / (9/6 + 1/2) = 0.5, neither positive nor negative.
        let h = &view.histogram;
        assert_eq!(h.total(), 1);
        assert_eq!(h.counts[h.bin_of(0.49)] + h.counts[h.bin_of(0.51)], 1, "{:?}", h.counts);
        assert!(view.warnings.contains(&LsiWarning::NoNegatives));
        assert!(view.warnings.contains(&LsiWarning::NoPositives));
        assert!(view.blocks_training());
    }

    #[test]
    fn identical_tag_sets_are_too_uniform() {
        let w = Array2::<f32>::from_shape_fn((6, 3), |(_, j)| if j < 2 { 1.0 } else { 0.0 });
        let mut w = w;
        w[[5, 2]] = 1.0; // a third tag so the vocabulary is not one tag
        let view = LsiView::from_matrix(w.view(), &labels(3), &[None; 6], &settings(1)).expect("view");
        // One topic: every track points the same way (cos 1 for all 15 pairs).
        assert!((view.positive_share - 1.0).abs() < 1e-12);
        assert!(
            matches!(view.warnings[0], LsiWarning::TooUniform { positive_share } if positive_share > 0.99)
        );
        assert!(view.warnings.contains(&LsiWarning::NoNegatives));
        assert!(view.warnings[0].to_string().contains("100% of the track pairs"));
    }

    #[test]
    fn distinct_single_tags_are_fragmented() {
        let w = Array2::<f32>::eye(4);
        let view = LsiView::from_matrix(w.view(), &labels(4), &[None; 4], &settings(4)).expect("view");
        assert_eq!(view.histogram.total(), 6);
        assert_eq!(view.histogram.counts[view.histogram.bin_of(0.0)], 6);
        assert_eq!(view.positive_share, 0.0);
        assert_eq!(view.negative_share, 1.0);
        assert_eq!(view.warnings, [LsiWarning::NoPositives]);
        assert!(view.warnings[0].to_string().starts_with("Too fragmented"));
    }

    #[test]
    fn pairs_of_one_album_are_not_counted() {
        // As in the first test, but tracks 0 and 1 share an album, so do 3 and 4.
        let w = array![[1.0f32, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]];
        let albums = [Some(0), Some(0), Some(1), Some(2), Some(2)];
        let view = LsiView::from_matrix(w.view(), &labels(2), &albums, &settings(2)).expect("view");
        // 10 pairs minus (0,1) and (3,4): positives (0,2), (1,2); 6 negatives.
        assert_eq!(view.histogram.total(), 8);
        assert!((view.positive_share - 0.25).abs() < 1e-12);
        let one_album = [Some(3); 5];
        let view = LsiView::from_matrix(w.view(), &labels(2), &one_album, &settings(2)).expect("view");
        assert_eq!(view.warnings, [LsiWarning::NoPairs]);
    }

    #[test]
    fn default_topics_follow_the_fine_tuning_rule_and_bad_settings_are_refused() {
        let w = Array2::<f32>::eye(12);
        let view = LsiView::from_matrix(w.view(), &labels(12), &[None; 12], &LsiViewSettings::default())
            .expect("view");
        assert_eq!(view.n_topics_requested, Lsi::default_topics(12));
        assert_eq!(view.n_topics_requested, 3);
        let swapped = LsiViewSettings { positive_min_cos: 0.1, negative_max_cos: 0.5, ..settings(2) };
        assert!(matches!(
            LsiView::from_matrix(w.view(), &labels(12), &[None; 12], &swapped),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            LsiView::from_matrix(w.view(), &labels(12), &[None; 12], &settings(13)),
            Err(Error::Invalid(_))
        ));
        assert!(LsiView::from_matrix(w.view(), &labels(11), &[None; 12], &settings(2)).is_err());
    }

    #[test]
    fn histogram_bins_cover_the_range() {
        let h = CosineHistogram::new();
        assert_eq!(h.bin_of(-1.0), 0);
        assert_eq!(h.bin_of(-2.0), 0);
        assert_eq!(h.bin_of(0.79), 35);
        assert_eq!(h.bin_of(0.8), 36);
        assert!((h.bin_range(36).0 - 0.8).abs() < 1e-6);
        assert!((h.bin_width() - 0.05).abs() < 1e-7);
        assert_eq!(spread_indices(10, 4), [0, 2, 5, 7]);
        assert_eq!(spread_indices(3, 4), [0, 1, 2]);
    }
}
