//! Fine-tuning the DPNN on the user's own tags (Schindler & Knees 2019;
//! ARCHITECTURE.md §4).
//!
//! Why: the shipped model knows what its teachers knew; a person's own tags
//! ("late night", "for running") say what *they* mean by similar. The paper's
//! method carries over unchanged: the tag–track matrix `W` of the chosen tag
//! sets (w = 1 iff the tag is on the track) is reduced by truncated SVD
//! ([`Lsi`]); inside each mini-batch two tracks are a positive pair when the
//! cosine of their L2-normalised LSI vectors is ≥ the upper threshold (0.8), a
//! negative pair when it is < the lower one (0.2), never when they share an
//! album; per anchor the hardest positive (farthest) and hardest negative
//! (nearest) in squared Euclidean distance of the current embeddings enter the
//! triplet margin loss. The shared loop ([`super::trainer`]) runs it.
//!
//! - **Which layers train** ([`TrainLayers`]): the dense layers on top of the
//!   two CNN stacks, additionally the last conv block of each stack, or
//!   everything. The rest is frozen with burn's `Module::freeze` (no
//!   gradients, BatchNorm on its running statistics), so a few hundred tagged
//!   tracks cannot wreck what the convolutions learned.
//! - **Data:** the library's tagged tracks, split (seeded) into training,
//!   validation (early stopping on P@10) and held-out test tracks (the
//!   before/after table, [`super::finetune_eval`]). Each track contributes up
//!   to `clips_per_track` clips of its stored clip grid; their log-mels are
//!   decoded once and cached in the run's work folder.
//! - **Result:** a **new model version** whose card names its parent, written
//!   to `<models dir>/<version>/` only once training finished, then
//!   registered in the library. The parent is never written to; a cancelled
//!   or failed run leaves no model behind.
//!
//! Bad input (no tags, one tag, too few tagged tracks, one album, no valid
//! pairs) is an [`Error::BadTags`] naming the problem, before any audio is
//! decoded.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use ndarray::{Array2, ArrayView2};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::augment::{AugmentConfig, augment_clip};
use super::corpus::{Corpus, CorpusClip, CorpusTrack};
use super::distill::triplet_term;
use super::features::{CLIP_VALUES, CacheProgress, FeatureStore, load_or_compute};
use super::finetune_eval::{PrecisionTable, evaluate_split, retrieval_precision};
use super::lsi::{Lsi, cosine_matrix, nonzero_rows};
use super::metrics;
use super::scratch::{ScratchDir, sweep_stale};
use super::trainer::{LoopConfig, Objective, StepLoss, TrainEvent, run};
use super::triplets::{PairKeys, TripletRules, lsi_masks, mine_hardest};
use crate::error::TagProblem;
use crate::features::{N_FRAMES, N_MELS};
use crate::jobs::{CancelToken, worker_count};
use crate::model::backend::ComputeDevice;
use crate::model::dpnn::Dpnn;
use crate::model::record::{ModelBundle, ModelCard, Provenance, save_dir};
use crate::store::{ModelRow, Store, TrackRow};
use crate::{Error, Result};

/// Which layers fine-tuning changes; the rest is frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainLayers {
    /// The dense layers on top of the CNN stacks (representation + tag
    /// heads): fastest, safest with few tags.
    Heads,
    /// The dense layers and the last conv block of each stack.
    Top,
    /// Every layer.
    All,
}

impl TrainLayers {
    /// The spelling used on the command line and in model cards.
    pub fn as_str(self) -> &'static str {
        match self {
            TrainLayers::Heads => "heads",
            TrainLayers::Top => "top",
            TrainLayers::All => "all",
        }
    }

    /// `model` with the layers this choice does not train frozen
    /// (`Module::freeze`: no gradients, BatchNorm in inference mode).
    pub fn apply(self, model: Dpnn) -> Dpnn {
        let freeze_blocks = |blocks: Vec<crate::model::dpnn::ConvBlock>, keep_last: bool| {
            let n = blocks.len();
            blocks
                .into_iter()
                .enumerate()
                .map(|(i, b)| if keep_last && i + 1 == n { b } else { b.freeze() })
                .collect()
        };
        match self {
            TrainLayers::All => model,
            TrainLayers::Top | TrainLayers::Heads => {
                let keep_last = self == TrainLayers::Top;
                Dpnn {
                    input_bn: model.input_bn.freeze(),
                    timbre: freeze_blocks(model.timbre, keep_last),
                    rhythm: freeze_blocks(model.rhythm, keep_last),
                    ..model
                }
            }
        }
    }

    /// Parameters this choice trains in `model` (for the summary line).
    pub fn trainable_params(self, model: &Dpnn) -> usize {
        let dense = model.embedding.num_params() + model.heads.num_params();
        let last = |b: &[crate::model::dpnn::ConvBlock]| b.last().map_or(0, Module::num_params);
        match self {
            TrainLayers::Heads => dense,
            TrainLayers::Top => dense + last(&model.timbre) + last(&model.rhythm),
            TrainLayers::All => model.num_params(),
        }
    }
}

impl std::str::FromStr for TrainLayers {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "heads" => Ok(TrainLayers::Heads),
            "top" => Ok(TrainLayers::Top),
            "all" => Ok(TrainLayers::All),
            other => Err(format!("unknown layer choice \"{other}\" (heads, top or all)")),
        }
    }
}

impl std::fmt::Display for TrainLayers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every setting of a fine-tuning run (saved in the new model's card).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineTuneConfig {
    /// Tag sets whose tags are combined (empty: every set).
    pub sets: Vec<String>,
    /// Which layers train.
    pub layers: TrainLayers,
    /// Passes over the training tracks (at most: early stopping may end sooner).
    pub epochs: usize,
    /// Peak learning rate (Adam).
    pub learning_rate: f64,
    /// Tracks per mini-batch (paper: 600); capped at the training tracks.
    pub batch_tracks: usize,
    /// Positive pairs: LSI cosine at least this (paper: 0.8).
    pub positive_min_cos: f32,
    /// Negative pairs: LSI cosine strictly below this (paper: 0.2).
    pub negative_max_cos: f32,
    /// LSI topics; `None`: [`Lsi::default_topics`] of the vocabulary size.
    pub topics: Option<usize>,
    /// Triplet margin on squared distances of unit-length embeddings (0–4).
    /// 0.5 rather than FaceNet's 0.2: starting from a trained model, 0.2 is
    /// met by every hardest triplet within a few steps on the generated
    /// corpus (the loss is exactly 0 and nothing is learned).
    pub margin: f32,
    /// Clips per track taken from its stored clip grid (evenly spread).
    pub clips_per_track: usize,
    /// Share of tagged tracks held out for the before/after table.
    pub test_fraction: f64,
    /// Share of tagged tracks used for early stopping.
    pub valid_fraction: f64,
    /// Validations (one per epoch) without a better P@10 before stopping; 0: never stop early.
    pub patience_epochs: usize,
    /// Seed of the split, the batch order, clip choice and augmentation.
    pub seed: u64,
}

impl Default for FineTuneConfig {
    fn default() -> Self {
        FineTuneConfig {
            sets: Vec::new(),
            layers: TrainLayers::Top,
            epochs: 10,
            learning_rate: 1e-3,
            batch_tracks: 600,
            positive_min_cos: 0.8,
            negative_max_cos: 0.2,
            topics: None,
            margin: 0.5,
            clips_per_track: 4,
            test_fraction: 0.25,
            valid_fraction: 0.15,
            patience_epochs: 3,
            seed: 20_261_122,
        }
    }
}

/// Fewest tagged tracks fine-tuning accepts (two tracks make one pair).
pub const MIN_TAGGED_TRACKS: usize = 2;
/// Fewest tagged tracks for a held-out test split (below: train on all, no table).
const MIN_TRACKS_FOR_TEST: usize = 8;
/// Fewest non-test tracks for a validation split (below: no early stopping).
const MIN_TRACKS_FOR_VALID: usize = 10;

/// The tagged, present tracks of a library with their tag–track matrix.
#[derive(Debug, Clone)]
pub struct TaggedTracks {
    /// The tracks, by ascending id.
    pub tracks: Vec<TrackRow>,
    /// The columns of [`TaggedTracks::matrix`]: (set, tag).
    pub tags: Vec<(String, String)>,
    /// `W`, `tracks × tags`, 1 where the tag is on the track.
    pub matrix: Array2<f32>,
    /// The sets that contributed tags, sorted.
    pub sets: Vec<String>,
    /// Album of each track for the album filter (`None`: unknown).
    pub album_ids: Vec<Option<u32>>,
}

impl TaggedTracks {
    /// The run's split of these tracks ([`TrackSplit::new`] keyed by each
    /// file's folder and name: stable when the library folder moves, and
    /// the same on every run), so the LSI preview can look at exactly the
    /// tracks a run will train on.
    pub fn split(&self, test_fraction: f64, valid_fraction: f64, seed: u64) -> TrackSplit {
        let keys: Vec<String> = self
            .tracks
            .iter()
            .map(|t| {
                let mut parts: Vec<String> =
                    t.path.iter().rev().take(2).map(|c| c.to_string_lossy().into_owned()).collect();
                parts.reverse();
                parts.join("/")
            })
            .collect();
        TrackSplit::new(&keys, test_fraction, valid_fraction, seed)
    }

    /// Reads the user tags of `sets` (empty: all sets) for the present
    /// tracks and checks they can train a model.
    ///
    /// # Errors
    /// [`Error::BadTags`] for no tags, a single distinct tag, fewer than
    /// [`MIN_TAGGED_TRACKS`] tagged tracks, or all tagged tracks on one album.
    pub fn read(store: &Store, sets: &[String]) -> Result<TaggedTracks> {
        let mut rows: Vec<(i64, String, String)> = Vec::new();
        if sets.is_empty() {
            rows = store.all_user_tags(None)?;
        } else {
            for s in sets {
                rows.extend(store.all_user_tags(Some(s))?);
            }
        }
        let present: HashMap<i64, TrackRow> = store.tracks(false)?.into_iter().map(|t| (t.id, t)).collect();
        rows.retain(|(id, _, _)| present.contains_key(id));
        let set_names = if sets.is_empty() { "all".to_string() } else { sets.join(", ") };
        if rows.is_empty() {
            return Err(Error::BadTags(TagProblem::NoTags { sets: set_names }));
        }
        let mut columns: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut by_track: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
        for (id, set, tag) in rows {
            columns.insert((set.clone(), tag.clone()), 0);
            by_track.entry(id).or_default().push((set, tag));
        }
        if columns.len() == 1 {
            let tag = columns.keys().next().map(|(_, t)| t.clone()).unwrap_or_default();
            return Err(Error::BadTags(TagProblem::OneTag { tag }));
        }
        if by_track.len() < MIN_TAGGED_TRACKS {
            return Err(Error::BadTags(TagProblem::TooFewTracks {
                tagged: by_track.len(),
                needed: MIN_TAGGED_TRACKS,
            }));
        }
        for (i, v) in columns.values_mut().enumerate() {
            *v = i;
        }
        let tags: Vec<(String, String)> = columns.keys().cloned().collect();
        let mut sets: Vec<String> = tags.iter().map(|(s, _)| s.clone()).collect();
        sets.dedup();
        let mut matrix = Array2::<f32>::zeros((by_track.len(), tags.len()));
        let mut tracks = Vec::with_capacity(by_track.len());
        for (row, (id, pairs)) in by_track.into_iter().enumerate() {
            for p in pairs {
                matrix[[row, columns[&p]]] = 1.0;
            }
            if let Some(t) = present.get(&id) {
                tracks.push(t.clone());
            }
        }
        // The album rule of the similar-track filter (ARCHITECTURE.md §9):
        // "never the same album" means one thing everywhere.
        let album_ids = crate::identity::album_groups(&tracks);
        if let Some(Some(first)) = album_ids.first()
            && album_ids.iter().all(|a| *a == Some(*first))
        {
            let album = tracks[0].album.clone().unwrap_or_default();
            return Err(Error::BadTags(TagProblem::OneAlbum { album }));
        }
        Ok(TaggedTracks { tracks, tags, matrix, sets, album_ids })
    }

    /// Whether tracks `i` and `j` share at least one tag of set `set`.
    pub fn share_tag_in_set(&self, i: usize, j: usize, set: &str) -> bool {
        self.tags
            .iter()
            .enumerate()
            .any(|(c, (s, _))| s == set && self.matrix[[i, c]] > 0.0 && self.matrix[[j, c]] > 0.0)
    }

    /// Whether track `i` has a tag of set `set`.
    pub fn has_set(&self, i: usize, set: &str) -> bool {
        self.tags.iter().enumerate().any(|(c, (s, _))| s == set && self.matrix[[i, c]] > 0.0)
    }

    /// The album-filter keys of track `i`.
    pub fn keys(&self, i: usize) -> PairKeys {
        PairKeys { track_id: i as u32, album_id: self.album_ids[i] }
    }
}

/// Which tagged tracks train, validate and test (indices into [`TaggedTracks::tracks`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrackSplit {
    /// Training tracks.
    pub train: Vec<usize>,
    /// Early-stopping tracks (may be empty for a small library).
    pub valid: Vec<usize>,
    /// Held-out tracks of the before/after table (may be empty for a small library).
    pub test: Vec<usize>,
}

impl TrackSplit {
    /// A seeded random split of `n` tracks; small libraries give up the
    /// test split (below 8 tracks) and the validation split (below 10
    /// non-test tracks) rather than train on nothing; `valid_fraction` 0
    /// means no validation split (no early stopping, the last weights kept).
    pub fn new(keys: &[String], test_fraction: f64, valid_fraction: f64, seed: u64) -> TrackSplit {
        // Ordered by a seeded hash of each track's key, not by
        // row: track ids depend on import order, the split must not.
        let n = keys.len();
        let mut order: Vec<usize> = (0..n).collect();
        let hash = |k: &String| {
            let mut h = blake3::Hasher::new();
            h.update(&seed.to_le_bytes());
            h.update(k.as_bytes());
            *h.finalize().as_bytes()
        };
        order.sort_by_cached_key(|&i| hash(&keys[i]));
        let n_test = if n >= MIN_TRACKS_FOR_TEST {
            ((n as f64 * test_fraction).round() as usize).clamp(2, n / 2)
        } else {
            0
        };
        let rest = n - n_test;
        let n_valid = if rest >= MIN_TRACKS_FOR_VALID && valid_fraction > 0.0 {
            ((n as f64 * valid_fraction).round() as usize).clamp(2, rest / 3)
        } else {
            0
        };
        let mut test: Vec<usize> = order[..n_test].to_vec();
        let mut valid: Vec<usize> = order[n_test..n_test + n_valid].to_vec();
        let mut train: Vec<usize> = order[n_test + n_valid..].to_vec();
        test.sort_unstable();
        valid.sort_unstable();
        train.sort_unstable();
        TrackSplit { train, valid, test }
    }
}

/// Everything a fine-tuning run reads, prepared once.
pub struct FineTuneData {
    /// Tags and tracks.
    pub tagged: TaggedTracks,
    /// The split (tracks whose audio failed to decode removed).
    pub split: TrackSplit,
    /// The LSI space fitted on the training tracks' tags.
    pub lsi: Lsi,
    /// Each tagged track's L2-normalised LSI vector (tracks × topics).
    pub lsi_unit: Array2<f32>,
    /// The clips (one corpus track per tagged track, same order).
    pub corpus: Corpus,
    /// Their log-mels.
    pub features: FeatureStore,
    /// Clip indices of each track.
    pub clips_of_track: Vec<Vec<usize>>,
    /// Tracks whose audio could not be decoded: (path, reason).
    pub failures: Vec<(PathBuf, String)>,
    /// The triplet thresholds.
    pub rules: TripletRules,
}

/// `n` evenly spread items of `items` (all when there are no more than `n`).
fn spread<T: Copy>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n || n == 0 {
        return items.to_vec();
    }
    (0..n).map(|i| items[(i * items.len() + items.len() / 2) / n]).collect()
}

/// Checks that the training tracks' tags give at least one anchor with a
/// valid positive and negative (ignoring batches): otherwise no batch ever can.
fn check_triplets(
    tagged: &TaggedTracks,
    lsi_unit: ArrayView2<f32>,
    train: &[usize],
    rules: &TripletRules,
) -> Result<()> {
    let rows = lsi_unit.select(ndarray::Axis(0), train);
    let cos = cosine_matrix(rows.view());
    let usable = nonzero_rows(rows.view());
    let keys: Vec<PairKeys> = train.iter().map(|&t| tagged.keys(t)).collect();
    let (pos, neg) = lsi_masks(cos.view(), &usable, &keys, rules)?;
    let zeros = Array2::<f32>::zeros(cos.dim());
    let mined = mine_hardest(zeros.view(), pos.view(), neg.view())?;
    match mined.stats.why_empty() {
        None => Ok(()),
        Some(why) => Err(Error::BadTags(TagProblem::NoTriplets {
            reason: format!(
                "{why} (positives need an LSI cosine ≥ {}, negatives < {}, among {} training tracks)",
                rules.positive_min_cos,
                rules.negative_max_cos,
                train.len()
            ),
        })),
    }
}

impl FineTuneData {
    /// Reads the tags, splits, fits the LSI, checks that triplets exist and
    /// then computes (or reads from `cache_dir`) the clips' log-mels.
    ///
    /// # Errors
    /// [`Error::BadTags`] (see [`TaggedTracks::read`] and the triplet check),
    /// bad thresholds or topic counts, cancellation, or a store failure.
    pub fn prepare(
        store: &Store,
        cfg: &FineTuneConfig,
        cache_dir: &Path,
        cancel: &CancelToken,
        on_progress: &(dyn Fn(&CacheProgress) + Sync),
    ) -> Result<FineTuneData> {
        let rules = TripletRules::new(cfg.positive_min_cos, cfg.negative_max_cos)?;
        let tagged = TaggedTracks::read(store, &cfg.sets)?;
        let mut split = tagged.split(cfg.test_fraction, cfg.valid_fraction, cfg.seed);
        let topics = cfg.topics.unwrap_or_else(|| Lsi::default_topics(tagged.tags.len()));
        let fit_rows = tagged.matrix.select(ndarray::Axis(0), &split.train);
        let lsi = Lsi::fit(fit_rows.view(), topics)?;
        let mut lsi_unit = lsi.project(tagged.matrix.view())?;
        for mut row in lsi_unit.rows_mut() {
            let n = row.dot(&row).sqrt();
            if n > 0.0 {
                row /= n;
            }
        }
        check_triplets(&tagged, lsi_unit.view(), &split.train, &rules)?;

        let mut tracks = Vec::with_capacity(tagged.tracks.len());
        let mut clips = Vec::new();
        for (i, t) in tagged.tracks.iter().enumerate() {
            let starts: Vec<f64> = store.clips(t.id)?.into_iter().map(|c| c.start_s).collect();
            let starts =
                if starts.is_empty() { crate::audio::clips::clip_starts_s(t.duration_s) } else { starts };
            for start_s in spread(&starts, cfg.clips_per_track.max(1)) {
                clips.push(CorpusClip { track: i, start_s, target_row: None });
            }
            tracks.push(CorpusTrack {
                rel_path: t.path.to_string_lossy().into_owned(),
                source: String::new(),
                album: t.album.clone().unwrap_or_default(),
                artist: t.artist.clone().unwrap_or_else(|| "unknown".into()),
                title: t.title.clone(),
                license: String::new(),
                duration_s: Some(t.duration_s),
                kind: String::new(),
            });
        }
        let corpus = Corpus::from_clips(Path::new("/"), tracks, clips);
        let (features, failed) = load_or_compute(&corpus, cache_dir, worker_count(), cancel, on_progress)?;
        let clips_of_track = corpus.clips_by_track();
        let ok =
            |t: &usize| !clips_of_track[*t].is_empty() && clips_of_track[*t].iter().all(|&c| features.has(c));
        split.train.retain(ok);
        split.valid.retain(ok);
        split.test.retain(ok);
        let failures = failed.into_iter().map(|f| (tagged.tracks[f.track].path.clone(), f.reason)).collect();
        if split.train.len() < MIN_TAGGED_TRACKS {
            return Err(Error::BadTags(TagProblem::TooFewTracks {
                tagged: split.train.len(),
                needed: MIN_TAGGED_TRACKS,
            }));
        }
        Ok(FineTuneData { tagged, split, lsi, lsi_unit, corpus, features, clips_of_track, failures, rules })
    }

    /// Tracks per batch: the configured size, at most the training tracks.
    pub fn batch_tracks(&self, cfg: &FineTuneConfig) -> usize {
        cfg.batch_tracks.clamp(2, self.split.train.len().max(2)).min(self.split.train.len())
    }

    /// Optimizer steps in one pass over the training tracks.
    pub fn steps_per_epoch(&self, cfg: &FineTuneConfig) -> usize {
        (self.split.train.len() / self.batch_tracks(cfg).max(1)).max(1)
    }

    /// Unit track vectors (`tracks.len() × dim`) of `tracks` under `model`
    /// (validation mode), from all their cached clips.
    pub fn track_vectors(&self, model: &Dpnn, device: &burn::tensor::Device, tracks: &[usize]) -> Vec<f32> {
        let clips: Vec<usize> = tracks.iter().flat_map(|&t| self.clips_of_track[t].iter().copied()).collect();
        let local_of: Vec<usize> = tracks
            .iter()
            .enumerate()
            .flat_map(|(i, &t)| std::iter::repeat_n(i, self.clips_of_track[t].len()))
            .collect();
        let mut vectors = Vec::new();
        for chunk in clips.chunks(32) {
            let x = self.features.read_clips(chunk);
            let input =
                Tensor::<4>::from_data(TensorData::new(x, [chunk.len(), 1, N_MELS, N_FRAMES]), device);
            vectors.extend(model.embed(input).into_data().iter::<f32>());
        }
        let dim = vectors.len() / clips.len().max(1);
        metrics::track_vectors(&vectors, dim.max(1), &local_of, tracks.len())
    }
}

/// The fine-tuning [`Objective`]: LSI triplets of user tags on track clips.
pub struct FineTune<'a> {
    data: &'a FineTuneData,
    cfg: FineTuneConfig,
    device: burn::tensor::Device,
    eval_device: burn::tensor::Device,
    augment: AugmentConfig,
    /// Best validation P@10 so far and the step it was reached (0: the parent).
    best: Option<(f64, usize)>,
    /// The weights of the best validation so far (`None`: the parent's).
    best_model: Option<Dpnn>,
    /// Validations since the best one.
    since_best: usize,
    /// Consecutive batches without a triplet.
    empty_streak: usize,
    /// Steps run (for the best step).
    steps_seen: usize,
}

impl<'a> FineTune<'a> {
    /// The objective over `data`; `device` is the plain (non-autodiff)
    /// device the model lives on.
    pub fn new(data: &'a FineTuneData, cfg: FineTuneConfig, device: &burn::tensor::Device) -> Self {
        let augment = AugmentConfig { mix_prob: 0.0, ..AugmentConfig::default() };
        FineTune {
            data,
            cfg,
            device: device.clone().autodiff(),
            eval_device: device.clone(),
            augment,
            best: None,
            best_model: None,
            since_best: 0,
            empty_streak: 0,
            steps_seen: 0,
        }
    }

    /// Validation P@10 (mean over the tag sets) of `model` on the validation
    /// tracks, with the per-set figures; empty without a validation split.
    fn valid_figures(&self, model: &Dpnn) -> Vec<(String, f64)> {
        let valid = &self.data.split.valid;
        if valid.len() < 2 {
            return Vec::new();
        }
        let vectors = self.data.track_vectors(model, &self.eval_device, valid);
        let k = 10.min(valid.len() - 1);
        let rows = retrieval_precision(self.data, valid, &vectors, k);
        let per_set: Vec<(String, f64)> =
            rows.into_iter().filter_map(|(name, p)| p.map(|p| (format!("valid_p{k}.{name}"), p))).collect();
        if per_set.is_empty() {
            return Vec::new();
        }
        let mean = per_set.iter().map(|(_, p)| p).sum::<f64>() / per_set.len() as f64;
        let mut out = vec![("valid_p10".to_string(), mean)];
        out.extend(per_set);
        out
    }

    /// Records the starting model's validation score as the one to beat.
    pub fn set_baseline(&mut self, parent: &Dpnn) -> Vec<(String, f64)> {
        let figures = self.valid_figures(parent);
        if let Some((_, p)) = figures.first() {
            self.best = Some((*p, 0));
        }
        figures
    }

    /// The best validation weights (`None`: no validation beat the starting
    /// model, or there was no validation split) and its (P@10, step).
    pub fn into_best(self) -> (Option<Dpnn>, Option<(f64, usize)>) {
        (self.best_model, self.best)
    }
}

impl Objective for FineTune<'_> {
    fn loss(&mut self, model: &Dpnn, step: usize) -> Result<StepLoss> {
        let data = self.data;
        let b = data.batch_tracks(&self.cfg);
        let spe = data.steps_per_epoch(&self.cfg);
        let (epoch, within) = (step / spe, step % spe);
        let mut order = data.split.train.clone();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(
            self.cfg.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ));
        let tracks = &order[within * b..(within + 1) * b];
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.cfg.seed.wrapping_add(1 + step as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93),
        );
        let clips: Vec<usize> = tracks
            .iter()
            .map(|&t| {
                let own = &data.clips_of_track[t];
                if own.is_empty() { 0 } else { own[rng.random_range(0..own.len())] }
            })
            .collect();
        let mut x = data.features.read_clips(&clips);
        for clip in x.chunks_exact_mut(CLIP_VALUES) {
            augment_clip(clip, &self.augment, &mut rng);
        }
        let input = Tensor::<4>::from_data(TensorData::new(x, [b, 1, N_MELS, N_FRAMES]), &self.device);
        self.device.seed(self.cfg.seed ^ (step as u64).wrapping_mul(0xA076_1D64_78BD_642F));
        let e = model.embed(input);
        // Squared Euclidean distances of the unit-length embeddings
        // (= 2 − 2·cos): the same geometry the library's cosine search uses.
        let norm = e.clone().square().sum_dim(1).add_scalar(1e-12).sqrt();
        let u = e / norm;
        let dist = u.clone().matmul(u.transpose()).mul_scalar(-2.0).add_scalar(2.0).clamp_min(0.0);
        let host: Vec<f32> = dist.clone().into_data().iter::<f32>().collect();
        let host = ArrayView2::from_shape((b, b), &host)
            .map_err(|e| Error::Invalid(format!("distance matrix shape: {e}")))?;
        let rows = data.lsi_unit.select(ndarray::Axis(0), tracks);
        let cos = cosine_matrix(rows.view());
        let usable = nonzero_rows(rows.view());
        let keys: Vec<PairKeys> = tracks.iter().map(|&t| data.tagged.keys(t)).collect();
        let (pos, neg) = lsi_masks(cos.view(), &usable, &keys, &data.rules)?;
        let mined = mine_hardest(host, pos.view(), neg.view())?;
        self.steps_seen = step + 1;
        let n_triplets = mined.triplets.len();
        let total = match triplet_term(&dist, &mined.triplets, self.cfg.margin, &self.device) {
            Some(t) => {
                self.empty_streak = 0;
                t
            }
            None => {
                self.empty_streak += 1;
                if self.empty_streak >= spe {
                    let why = mined.stats.why_empty().unwrap_or_default();
                    return Err(Error::BadTags(TagProblem::NoTriplets {
                        reason: format!(
                            "{why} — in every batch of a whole epoch ({b} tracks per batch); try a larger batch \
                             or other thresholds"
                        ),
                    }));
                }
                // Nothing to learn from this batch: a zero loss still tied to the graph.
                dist.sum().mul_scalar(0.0)
            }
        };
        let loss_value: f32 = total.clone().into_scalar();
        Ok(StepLoss {
            total,
            parts: vec![("triplet".into(), loss_value), ("triplets".into(), n_triplets as f32)],
            items: b,
        })
    }

    fn validate(&mut self, model: &Dpnn) -> Result<Vec<(String, f64)>> {
        let figures = self.valid_figures(model);
        if let Some((_, p)) = figures.first() {
            let better = self.best.is_none_or(|(best, _)| *p > best + 1e-9);
            if better {
                self.best = Some((*p, self.steps_seen));
                self.best_model = Some(model.clone());
                self.since_best = 0;
            } else {
                self.since_best += 1;
            }
        }
        Ok(figures)
    }

    fn stop_early(&self) -> bool {
        self.cfg.patience_epochs > 0 && self.since_best >= self.cfg.patience_epochs
    }
}

/// Progress of [`fine_tune`].
#[derive(Debug, Clone, PartialEq)]
pub enum FineTuneEvent {
    /// The tags were read and split; features come next.
    Prepared {
        /// One line: tracks, tags, sets, split, topics.
        summary: String,
    },
    /// Log-mel features of one more track are ready.
    Features(CacheProgress),
    /// The starting model's validation figures (the score to beat).
    Baseline(Vec<(String, f64)>),
    /// The training loop's own events.
    Train(TrainEvent),
    /// Something the user should know (decode failures, no improvement…).
    Notice(String),
}

/// What a fine-tuning run needs besides the library.
#[derive(Debug, Clone)]
pub struct FineTuneRequest {
    /// The model to start from (its weights are only read).
    pub parent: ModelBundle,
    /// The settings.
    pub cfg: FineTuneConfig,
    /// Where model versions live (`config::models_dir`); the new one goes to `<models_dir>/<version>/`.
    pub models_dir: PathBuf,
    /// Scratch folder of this run (feature cache, checkpoints); removed at the end.
    pub work_dir: PathBuf,
    /// The new version's name; `None`: `<parent version>-ft<unix time>`.
    pub version: Option<String>,
}

impl FineTuneRequest {
    /// A run on the library at `db`, as the window and `tuneatlas finetune`
    /// start it: the new version goes to the library's model folder
    /// ([`crate::config::models_dir`]), the scratch folder beside it.
    pub fn for_library(db: &Path, parent: ModelBundle, cfg: FineTuneConfig, version: Option<String>) -> Self {
        Self::in_models_dir(crate::config::models_dir(db), parent, cfg, version)
    }

    /// A run whose versions go to `models_dir`, with the scratch folder
    /// `<models_dir>/.work-<process id>`: one live run per process, and a
    /// name [`sweep_stale`] recognises once the process is gone.
    pub fn in_models_dir(
        models_dir: PathBuf,
        parent: ModelBundle,
        cfg: FineTuneConfig,
        version: Option<String>,
    ) -> Self {
        let work_dir =
            models_dir.join(format!("{}{}", crate::train::scratch::SCRATCH_PREFIX, std::process::id()));
        FineTuneRequest { parent, cfg, models_dir, work_dir, version }
    }
}

/// The result of [`fine_tune`].
#[derive(Debug)]
pub struct FineTuneOutcome {
    /// The new model directory.
    pub model_dir: PathBuf,
    /// Its card (version, parent, metrics).
    pub card: ModelCard,
    /// Held-out P@k before and after (empty rows when the library is too small for a test split).
    pub table: PrecisionTable,
    /// Validation history: (step, metrics).
    pub history: Vec<(usize, Vec<(String, f64)>)>,
    /// Seconds in the training loop.
    pub train_seconds: f64,
    /// Steps run.
    pub steps: usize,
    /// Triplets mined over the run (for throughput figures).
    pub triplets: usize,
    /// Tracks fed through the network in training (batch size × steps).
    pub tracks_seen: usize,
    /// The step whose weights were kept (`Some(0)`: the parent's, nothing beat it).
    pub best_step: Option<usize>,
    /// The step early stopping ended the run at, if it did.
    pub stopped_early_at: Option<usize>,
    /// Tracks left out because their audio failed to decode.
    pub failures: Vec<(PathBuf, String)>,
}

/// Fine-tunes `req.parent` on the library's tags and registers the result
/// as a new model version (see the module docs). Cancelling (or any error)
/// writes no model and registers nothing.
///
/// # Errors
/// [`Error::BadTags`] for tags that cannot train, [`Error::Cancelled`],
/// an existing model directory of the same version, device or store failures.
pub fn fine_tune(
    store: &mut Store,
    req: &FineTuneRequest,
    device: &ComputeDevice,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(&FineTuneEvent),
) -> Result<FineTuneOutcome> {
    let parent_card = &req.parent.card;
    let version = match &req.version {
        Some(v) => v.clone(),
        None => {
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            format!("{}-ft{now}", parent_card.version)
        }
    };
    if version.is_empty() || version.contains(['/', '\\']) || version.starts_with('.') {
        return Err(Error::Invalid(format!(
            "\"{version}\" cannot name a model version (no slashes, no leading dot)"
        )));
    }
    let model_dir = req.models_dir.join(&version);
    if model_dir.exists() || store.models()?.iter().any(|m| m.version == version) {
        return Err(Error::Invalid(format!(
            "model version {version} already exists; choose another name: {}",
            model_dir.display()
        )));
    }
    let scratch = ScratchDir::claim(&req.work_dir)?;
    for stale in sweep_stale(&req.models_dir, scratch.path()) {
        on_event(&FineTuneEvent::Notice(format!(
            "removed the scratch folder of a run that did not finish: {}",
            stale.display()
        )));
    }
    let result = run_in_work_dir(store, req, &version, &model_dir, device, cancel, on_event);
    // The scratch folder (features, checkpoints) is per run: gone either way.
    drop(scratch);
    let _ = std::fs::remove_dir_all(&req.work_dir);
    result
}

/// [`fine_tune`] on `device`, and once more on the CPU when a run on wgpu
/// fails for another reason than the tags or a cancel (a notice says so).
///
/// Why: `--device auto` and the fine-tuning window (which offers no device
/// choice) take a real GPU where there is one, and a GPU driver can fail
/// where the CPU backend does not (out of memory, non-finite gradients); a
/// user who forced the GPU gets the error instead.
///
/// # Errors
/// As [`fine_tune`], from the CPU run after a failed GPU run.
pub fn fine_tune_or_cpu(
    store: &mut Store,
    req: &FineTuneRequest,
    device: &ComputeDevice,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(&FineTuneEvent),
) -> Result<FineTuneOutcome> {
    match fine_tune(store, req, device, cancel, on_event) {
        Err(e) if device.is_wgpu() && !matches!(e, Error::Cancelled | Error::BadTags(_)) => {
            on_event(&FineTuneEvent::Notice(format!(
                "training on {} failed ({e}); trying again on the CPU",
                device.description
            )));
            fine_tune(store, req, &ComputeDevice::cpu(), cancel, on_event)
        }
        other => other,
    }
}

#[allow(clippy::too_many_arguments)]
fn run_in_work_dir(
    store: &mut Store,
    req: &FineTuneRequest,
    version: &str,
    model_dir: &Path,
    device: &ComputeDevice,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(&FineTuneEvent),
) -> Result<FineTuneOutcome> {
    let cfg = &req.cfg;
    let parent_card = &req.parent.card;
    let (tx, rx) = std::sync::mpsc::channel::<CacheProgress>();
    let data = {
        let tx = std::sync::Mutex::new(tx);
        let progress = move |p: &CacheProgress| {
            if let Ok(tx) = tx.lock() {
                let _ = tx.send(p.clone());
            }
        };
        let prepared = FineTuneData::prepare(store, cfg, &req.work_dir.join("features"), cancel, &progress);
        for p in rx.try_iter() {
            on_event(&FineTuneEvent::Features(p));
        }
        prepared?
    };
    let (n_tracks, n_tags) = (data.tagged.tracks.len(), data.tagged.tags.len());
    on_event(&FineTuneEvent::Prepared {
        summary: format!(
            "{n_tracks} tagged tracks, {n_tags} tags in set(s) {}; {} train / {} validation / {} held-out; \
             {} LSI topics ({} asked)",
            data.tagged.sets.join(", "),
            data.split.train.len(),
            data.split.valid.len(),
            data.split.test.len(),
            data.lsi.n_topics(),
            data.lsi.n_topics_requested()
        ),
    });
    for (path, reason) in &data.failures {
        on_event(&FineTuneEvent::Notice(format!("left out (cannot decode): {reason}: {}", path.display())));
    }

    let parent = req.parent.instantiate(device)?;
    let before_vectors = data.track_vectors(&parent.valid(), &device.device, &data.split.test);
    let model = cfg.layers.apply(parent.clone());
    let mut objective = FineTune::new(&data, cfg.clone(), &device.device);
    let baseline = objective.set_baseline(&parent.valid());
    if !baseline.is_empty() {
        on_event(&FineTuneEvent::Baseline(baseline));
    }
    let spe = data.steps_per_epoch(cfg);
    let total_steps = cfg.epochs.max(1) * spe;
    let loop_cfg = LoopConfig {
        total_steps,
        learning_rate: cfg.learning_rate,
        warmup_steps: (total_steps / 10).clamp(1, spe),
        final_lr_fraction: 0.1,
        weight_decay: 0.0,
        grad_clip_norm: 5.0,
        checkpoint_every_steps: 0,
        validate_every_steps: if data.split.valid.len() >= 2 { spe } else { 0 },
        seed: cfg.seed,
    };
    let mut card = parent_card.clone();
    card.name = version.to_string();
    card.version = version.to_string();
    card.trained = true;
    card.description = format!(
        "{} fine-tuned on the library's own tags ({} tagged tracks, set(s) {}) with LSI triplets ({} layers).",
        parent_card.version,
        n_tracks,
        data.tagged.sets.join(", "),
        cfg.layers
    );
    card.provenance = Provenance {
        method: format!(
            "fine-tuned (tuneatlas finetune): {}",
            serde_json::to_string(cfg).unwrap_or_default()
        ),
        generator: format!("tuneatlas {} src/train/finetune.rs", env!("CARGO_PKG_VERSION")),
        seed: Some(cfg.seed),
        teacher: parent_card.provenance.teacher.clone(),
        data: Some(format!("{n_tracks} tagged tracks of the user's library; {n_tags} tags")),
        parent: Some(parent_card.version.clone()),
        licence: parent_card.provenance.licence.clone(),
    };
    card.metrics.clear();

    let checkpoints = req.work_dir.join("checkpoints");
    if checkpoints.exists() {
        std::fs::remove_dir_all(&checkpoints).map_err(Error::io("remove", &checkpoints))?;
    }
    let mut triplets = 0usize;
    let mut steps = 0usize;
    let mut forward = |e: &TrainEvent| {
        if let TrainEvent::Step { step, parts, .. } = e {
            steps = *step;
            triplets += parts.iter().find(|(k, _)| k == "triplets").map_or(0, |(_, v)| *v as usize);
        }
        on_event(&FineTuneEvent::Train(e.clone()));
    };
    let outcome =
        run(model, &card, &mut objective, &loop_cfg, &checkpoints, false, device, cancel, &mut forward)?;
    let batch = data.batch_tracks(cfg);
    let (best_model, best) = objective.into_best();
    let final_model = match (best_model, best) {
        (Some(m), _) => m,
        (None, Some(_)) => {
            on_event(&FineTuneEvent::Notice(
                "no epoch beat the starting model's validation P@10: the new version keeps the parent's weights"
                    .into(),
            ));
            parent.valid()
        }
        (None, None) => outcome.model.valid(),
    };
    let after_vectors = data.track_vectors(&final_model, &device.device, &data.split.test);
    let table = evaluate_split(
        &data,
        &data.split.test,
        &before_vectors,
        &after_vectors,
        &parent_card.version,
        version,
    );
    for (key, value) in table.card_metrics() {
        card.metrics.insert(key, value);
    }
    card.metrics.insert("finetune.train_seconds".into(), outcome.seconds);
    if let Some((p, step)) = best {
        card.metrics.insert("finetune.valid_p10".into(), p);
        card.metrics.insert("finetune.best_step".into(), step as f64);
    }

    // Write beside the final place, then rename: a crash never leaves a half model.
    std::fs::create_dir_all(&req.models_dir).map_err(Error::io("create directory", &req.models_dir))?;
    let tmp = req.models_dir.join(format!(".{version}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(Error::io("remove", &tmp))?;
    }
    let card = save_dir(&tmp, &card, &final_model)?;
    std::fs::rename(&tmp, model_dir).map_err(Error::io("rename", &tmp))?;
    store.register_model(&ModelRow {
        version: card.version.clone(),
        name: card.name.clone(),
        parent: card.provenance.parent.clone(),
        config_json: serde_json::to_string(&card.config).unwrap_or_default(),
    })?;
    Ok(FineTuneOutcome {
        model_dir: model_dir.to_path_buf(),
        card,
        table,
        history: outcome.history,
        train_seconds: outcome.seconds,
        steps,
        triplets,
        tracks_seen: steps * batch,
        best_step: best.map(|(_, s)| s),
        stopped_early_at: outcome.stopped_early_at,
        failures: data.failures.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_choice_parses() {
        for l in [TrainLayers::Heads, TrainLayers::Top, TrainLayers::All] {
            assert_eq!(l.as_str().parse::<TrainLayers>(), Ok(l));
        }
        assert!("conv".parse::<TrainLayers>().is_err());
    }

    #[test]
    fn split_is_seeded_disjoint_and_shrinks_for_small_libraries() {
        let keys: Vec<String> = (0..40).map(|i| format!("/m/{i}.ogg")).collect();
        let s = TrackSplit::new(&keys, 0.25, 0.15, 7);
        assert_eq!(s, TrackSplit::new(&keys, 0.25, 0.15, 7));
        assert_ne!(s, TrackSplit::new(&keys, 0.25, 0.15, 8));
        assert_eq!((s.test.len(), s.valid.len(), s.train.len()), (10, 6, 24));
        let mut all: Vec<usize> = s.train.iter().chain(&s.valid).chain(&s.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
        let tiny = TrackSplit::new(&keys[..5], 0.25, 0.15, 7);
        assert_eq!((tiny.test.len(), tiny.valid.len(), tiny.train.len()), (0, 0, 5));
    }

    #[test]
    fn spread_picks_evenly() {
        assert_eq!(spread(&[0, 1, 2, 3, 4, 5, 6, 7], 4), [1, 3, 5, 7]);
        assert_eq!(spread(&[1, 2], 4), [1, 2]);
    }

    #[test]
    fn freezing_leaves_only_the_chosen_layers_trainable() {
        use crate::model::dpnn::DpnnConfig;
        use crate::model::heads::teacher_vocabulary;
        let device = ComputeDevice::cpu();
        let model = crate::model::init::init_model(&DpnnConfig::default(), &teacher_vocabulary(), 1, &device)
            .expect("model");
        let heads = TrainLayers::Heads.apply(model.clone()).train();
        assert!(!heads.timbre[2].conv.weight.val().is_require_grad());
        assert!(!heads.input_bn.gamma.val().is_require_grad());
        assert!(heads.embedding.weight.val().is_require_grad());
        let top = TrainLayers::Top.apply(model.clone()).train();
        assert!(!top.timbre[1].conv.weight.val().is_require_grad());
        assert!(top.timbre[2].conv.weight.val().is_require_grad());
        assert!(top.rhythm[2].conv.weight.val().is_require_grad());
        let all = TrainLayers::All.apply(model.clone()).train();
        assert!(all.timbre[0].conv.weight.val().is_require_grad());
        assert!(TrainLayers::Heads.trainable_params(&model) < TrainLayers::Top.trainable_params(&model));
        assert_eq!(TrainLayers::All.trainable_params(&model), model.num_params());
    }
}
