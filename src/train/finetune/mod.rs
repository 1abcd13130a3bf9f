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
//!   before/after table, [`eval`]). Each track contributes up
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

mod data;
pub mod eval;
mod objective;
mod run;

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
use eval::{PrecisionTable, evaluate_split, retrieval_precision};

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

pub use data::{FineTuneData, TaggedTracks, TrackSplit};
pub use objective::FineTune;
pub use run::{FineTuneEvent, FineTuneOutcome, FineTuneRequest, fine_tune, fine_tune_or_cpu};

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
