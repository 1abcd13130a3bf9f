//! Distilling the DPNN from the musicnn teachers (ARCHITECTURE.md §4).
//!
//! The objective is multi-task, after Schindler & Knees (2019):
//!
//! - **(a) soft-target BCE** of the tag heads against the teacher
//!   probabilities (a merged tag's target is the max of its teacher outputs;
//!   an optional temperature sharpens or softens them — the teachers are
//!   low-confidence on this corpus);
//! - **(b) the LSI triplet loss**: every clip's 100 teacher outputs are
//!   binarised (p ≥ `lsi_tag_threshold`), the tag–clip matrix of the training
//!   clips is reduced by truncated SVD, and inside each batch the cosine of
//!   two clips' LSI vectors says whether they are positives (≥ 0.8) or
//!   negatives (< 0.2); the hardest positive and negative per anchor (never
//!   on the same album) enter a squared-Euclidean margin loss on the
//!   L2-normalised representation;
//! - **(c) same-track triplets**: two clips of one track are positives, clips
//!   of other albums negatives (Lee, Park & Nam's track concept), which is
//!   what makes a track's clips — and so its track vector — coherent;
//! - **(d) relational distillation** of the teachers' 400-d penultimate
//!   embedding: inside each batch the student's clip-to-clip cosines are
//!   regressed onto the teachers' (mean squared difference): a regression
//!   to the teacher penultimate in the form that needs no projection layer and transfers exactly what retrieval
//!   uses — which clips the teachers find alike (production, instrumentation,
//!   album consistency), which the tag-based terms alone do not teach.
//!
//! - **(g) neighbourhood distillation**: each clip's batch-mates ranked as
//!   the teachers rank them (src/train/relational.rs: why (d) alone does not
//!   teach the order of the nearest few);
//!
//! - **(e), (f) album and artist concepts** (Lee, Park & Nam, "Representation
//!   Learning of Music Using Artist, Album, and Track Information": each
//!   concept is its own task, and together they beat any one alone): the
//!   positive is the hardest clip of *another track* of the anchor's album
//!   (artist), the negative the hardest clip of another album (artist). They
//!   teach what "similar tracks" lists need — another track of the same
//!   production — which the same-track term cannot (it only ties a track's
//!   own clips together). They need batches that hold several tracks of an
//!   album: `albums_per_batch` draws them album by album.
//!
//! Batches are `tracks_per_batch` training tracks × `clips_per_track` clips,
//! the tracks in a seeded per-epoch permutation (or, album-grouped, drawn by
//! album from the step's RNG), the clips and augmentation
//! drawn from an RNG seeded by (seed, step): a batch is a pure function of
//! the step, which is what lets a resumed run repeat an uninterrupted one.

use std::collections::BTreeMap;

use burn::tensor::activation::softplus;
use burn::tensor::{Int, Tensor, TensorData};
use ndarray::{Array2, ArrayView2};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

mod data;

pub use data::{DistillData, MIN_POSITIVE_CLIPS, teacher_columns};

use super::augment::{AugmentConfig, augment_clip, mix_into};
use super::corpus::Corpus;
use super::features::CLIP_VALUES;
use super::lsi::{cosine_matrix, nonzero_rows};
use super::metrics;
use super::relational::{
    NeighbourQueue, NeighbourTemperatures, TeacherCosines, neighbourhood_term, relational_term,
    student_cosines_with_queue,
};
use super::trainer::{Objective, StepLoss};
use super::triplets::{PairKeys, TripletRules, concept_masks, lsi_masks, mine_hardest, same_track_masks};
use crate::features::{N_FRAMES, N_MELS};
use crate::model::dpnn::Dpnn;
use crate::{Error, Result};

/// Every setting of the distillation objective (saved in the model card's
/// provenance so a model says how it was made).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistillConfig {
    /// Tracks per batch.
    pub tracks_per_batch: usize,
    /// Clips per track in a batch (≥ 2 for same-track triplets).
    pub clips_per_track: usize,
    /// Weight of the soft-target BCE term (a).
    pub bce_weight: f32,
    /// Temperature applied to the teacher logits (1 = the probabilities as given).
    pub temperature: f32,
    /// Weight of the LSI triplet term (b); 0 turns it off (ablation).
    pub lsi_weight: f32,
    /// Weight of the same-track triplet term (c).
    pub track_weight: f32,
    /// Weight of (d), relational distillation of the teachers' penultimate
    /// embedding: the batch's cosine matrix is pulled towards the teachers'
    /// (no projection needed); 0 turns it off.
    pub relational_weight: f32,
    /// Weight of (e), the album concept: triplets whose positive is a clip
    /// of *another track* of the anchor's album and whose negative is the
    /// hardest clip of another album; 0 turns it off.
    #[serde(default)]
    pub album_weight: f32,
    /// Weight of (f), the artist concept: as (e) with the listed artist
    /// (tracks of an unnamed artist take no part); 0 turns it off.
    #[serde(default)]
    pub artist_weight: f32,
    /// Albums per batch when batches are drawn album by album (P albums ×
    /// `tracks_per_batch / P` tracks × `clips_per_track` clips), so that
    /// every anchor has album positives from other tracks; 0 draws tracks
    /// from a plain shuffle (the v1 batches, where album positives are rare).
    #[serde(default)]
    pub albums_per_batch: usize,
    /// Weight of (g), neighbourhood distillation: each clip's batch-mates
    /// ranked as the teachers rank them (cross-entropy between the
    /// teachers' sharp neighbour distribution and the student's); 0 turns
    /// it off (src/train/relational.rs says why it differs from (d)).
    #[serde(default)]
    pub neighbour_weight: f32,
    /// Temperature on the teachers' per-row standardised cosines in (g).
    #[serde(default = "default_neighbour_teacher_temperature")]
    pub neighbour_teacher_temperature: f32,
    /// Temperature on the student's cosines in (g).
    #[serde(default = "default_neighbour_student_temperature")]
    pub neighbour_student_temperature: f32,
    /// Past batches whose clips (g) also ranks each clip against (their
    /// student vectors as the model gave them then); 0 = the batch only
    /// (src/train/relational.rs, `NeighbourQueue`).
    #[serde(default)]
    pub neighbour_queue_batches: usize,
    /// Triplet margin α on squared distances (per dimension for raw
    /// representations; on the unit sphere, where distances range 0–4).
    pub margin: f32,
    /// Measure triplet distances between L2-normalised representations
    /// (FaceNet) instead of raw ones (the paper; the default).
    pub unit_sphere: bool,
    /// Teacher probability at which a tag counts as present (LSI, AUC).
    pub lsi_tag_threshold: f32,
    /// LSI topics.
    pub lsi_topics: usize,
    /// Positive / negative cosine thresholds.
    pub positive_min_cos: f32,
    /// Negatives: cosine strictly below this.
    pub negative_max_cos: f32,
    /// Augmentation.
    pub augment: AugmentConfig,
}

fn default_neighbour_teacher_temperature() -> f32 {
    0.5
}

fn default_neighbour_student_temperature() -> f32 {
    0.1
}

impl DistillConfig {
    /// The objective in words, naming only the terms that have a weight, so a
    /// model card never claims a term an ablation switched off.
    pub fn objective_summary(&self) -> String {
        let neighbourhood = match self.neighbour_queue_batches {
            0 => "neighbourhood distillation of the teachers' nearest clips".to_owned(),
            q => format!(
                "neighbourhood distillation of the teachers' nearest clips (batch and {q} past batches)"
            ),
        };
        let terms = [
            (self.bce_weight, "soft-target BCE"),
            (self.lsi_weight, "LSI triplets"),
            (self.track_weight, "same-track triplets"),
            (self.relational_weight, "relational distillation of the teachers' penultimate cosines"),
            (self.album_weight, "album-concept triplets"),
            (self.artist_weight, "artist-concept triplets"),
            (self.neighbour_weight, neighbourhood.as_str()),
        ];
        let named: Vec<String> =
            terms.iter().filter(|(w, _)| *w > 0.0).map(|(w, name)| format!("{name} (weight {w})")).collect();
        match named.as_slice() {
            [] => "no loss term".to_owned(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        }
    }
}

impl Default for DistillConfig {
    fn default() -> Self {
        DistillConfig {
            tracks_per_batch: 32,
            clips_per_track: 2,
            bce_weight: 1.0,
            temperature: 1.0,
            lsi_weight: 1.0,
            track_weight: 1.0,
            relational_weight: 1.0,
            album_weight: 0.0,
            artist_weight: 0.0,
            albums_per_batch: 0,
            neighbour_weight: 0.0,
            neighbour_teacher_temperature: default_neighbour_teacher_temperature(),
            neighbour_student_temperature: default_neighbour_student_temperature(),
            neighbour_queue_batches: 0,
            margin: 0.5,
            unit_sphere: false,
            lsi_tag_threshold: 0.2,
            lsi_topics: 16,
            positive_min_cos: 0.8,
            negative_max_cos: 0.2,
            augment: AugmentConfig::default(),
        }
    }
}

/// A batch: clip indices, per clip an optional mix partner (batch index,
/// weight of the original), and the RNG positioned for augmentation.
type Batch = (Vec<usize>, Vec<Option<(usize, f32)>>, ChaCha8Rng);

/// The distillation [`Objective`].
pub struct Distill<'a> {
    data: &'a DistillData,
    cfg: DistillConfig,
    seed: u64,
    device: burn::tensor::Device,
    eval_device: burn::tensor::Device,
    /// Candidates of (g) from past batches (empty unless
    /// `neighbour_queue_batches` > 0).
    queue: NeighbourQueue,
}

impl<'a> Distill<'a> {
    /// The objective over `data` with settings `cfg`; `device` is the plain
    /// (non-autodiff) device the model lives on.
    pub fn new(data: &'a DistillData, cfg: DistillConfig, seed: u64, device: &burn::tensor::Device) -> Self {
        let queue = NeighbourQueue::new(cfg.neighbour_queue_batches);
        Distill { data, cfg, seed, device: device.clone().autodiff(), eval_device: device.clone(), queue }
    }

    /// The batch of `step`: clip indices, and for each whether it was mixed
    /// (and with which partner/weight). Pure function of (seed, step).
    fn batch(&self, step: usize) -> Batch {
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.seed.wrapping_add(1 + step as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93),
        );
        let tracks = if self.cfg.albums_per_batch > 0 {
            self.album_batch_tracks(&mut rng)
        } else {
            let spe = self.data.steps_per_epoch(&self.cfg);
            let (epoch, within) = (step / spe, step % spe);
            let mut order = self.data.train_tracks.clone();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(
                self.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ));
            order[within * self.cfg.tracks_per_batch..(within + 1) * self.cfg.tracks_per_batch].to_vec()
        };
        let mut clips = Vec::with_capacity(tracks.len() * self.cfg.clips_per_track);
        for &t in &tracks {
            let own = &self.data.clips_of_track[t];
            let mut pick: Vec<usize> = own.clone();
            pick.shuffle(&mut rng);
            // A one-clip track repeats its clip (augmentation still differs).
            clips.extend((0..self.cfg.clips_per_track).map(|k| pick[k % pick.len()]));
        }
        let a = &self.cfg.augment;
        let mixes = (0..clips.len())
            .map(|i| {
                if a.mix_prob > 0.0 && rng.random::<f32>() < a.mix_prob {
                    let j = rng.random_range(0..clips.len());
                    let same_track =
                        self.data.corpus.clips[clips[j]].track == self.data.corpus.clips[clips[i]].track;
                    let [lo, hi] = a.mix_weight;
                    let w = if hi > lo { rng.random_range(lo..hi) } else { lo };
                    (!same_track).then_some((j, w))
                } else {
                    None
                }
            })
            .collect();
        (clips, mixes, rng)
    }

    /// The tracks of an album-grouped batch: `albums_per_batch` distinct
    /// albums with at least two training tracks, `tracks_per_batch /
    /// albums_per_batch` tracks of each (all of a smaller album), the rest of
    /// the batch filled with tracks of other albums so the batch size — and
    /// the cost of a step — stays that of a plain batch.
    ///
    /// Why albums are drawn by their track count's square root: a uniform
    /// draw would show a 2-track album as often as a 60-track one and
    /// over-fit the small ones; a draw by track count would let three large
    /// soundtracks fill most batches.
    fn album_batch_tracks(&self, rng: &mut ChaCha8Rng) -> Vec<usize> {
        let want = self.cfg.tracks_per_batch;
        let per_album = (want / self.cfg.albums_per_batch.max(1)).max(2);
        let mut by_album: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for &t in &self.data.train_tracks {
            by_album.entry(self.data.corpus.album_of_track[t]).or_default().push(t);
        }
        let mut groups: Vec<(f64, Vec<usize>)> = by_album
            .into_values()
            .filter(|tracks| tracks.len() >= 2)
            .map(|tracks| ((tracks.len() as f64).sqrt(), tracks))
            .collect();
        let mut out: Vec<usize> = Vec::with_capacity(want);
        while out.len() + 2 <= want && !groups.is_empty() {
            let total: f64 = groups.iter().map(|(w, _)| w).sum();
            let mut x = rng.random::<f64>() * total;
            let mut pick = groups.len() - 1;
            for (i, (w, _)) in groups.iter().enumerate() {
                if x < *w {
                    pick = i;
                    break;
                }
                x -= w;
            }
            let (_, mut tracks) = groups.swap_remove(pick);
            tracks.shuffle(rng);
            out.extend(tracks.into_iter().take(per_album.min(want - out.len())));
        }
        let mut rest: Vec<usize> =
            self.data.train_tracks.iter().copied().filter(|t| !out.contains(t)).collect();
        rest.shuffle(rng);
        out.extend(rest.into_iter().take(want - out.len()));
        out
    }

    fn input(&self, clips: &[usize], device: &burn::tensor::Device) -> Tensor<4> {
        let x = self.data.features.read_clips(clips);
        Tensor::from_data(TensorData::new(x, [clips.len(), 1, N_MELS, N_FRAMES]), device)
    }

    /// Embeds clips in validation mode, in chunks: (unit vectors, tag scores).
    pub fn embed_clips(&self, model: &Dpnn, clips: &[usize]) -> (Vec<f32>, Vec<f32>) {
        let mut vectors = Vec::new();
        let mut scores = Vec::new();
        for chunk in clips.chunks(64) {
            let (e, l) = model.forward(self.input(chunk, &self.eval_device));
            vectors.extend(e.into_data().iter::<f32>());
            scores.extend(burn::tensor::activation::sigmoid(l).into_data().iter::<f32>());
        }
        let dim = vectors.len() / clips.len().max(1);
        metrics::normalise_rows(&mut vectors, dim.max(1));
        (vectors, scores)
    }
}

/// Gathers `d[rows[i], cols[i]]` from a square `[n, n]` tensor.
fn gather_pairs(d: &Tensor<2>, rows: &[usize], cols: &[usize], device: &burn::tensor::Device) -> Tensor<1> {
    let n = d.dims()[1];
    let flat: Vec<i64> = rows.iter().zip(cols).map(|(&r, &c)| (r * n + c) as i64).collect();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(flat, [rows.len()]), device);
    d.clone().reshape([n * n]).select(0, idx)
}

/// Mean triplet margin loss over `triplets` of the distance matrix `d`, or
/// `None` when there are none (shared with fine-tuning).
pub(crate) fn triplet_term(
    d: &Tensor<2>,
    triplets: &[super::triplets::Triplet],
    margin: f32,
    device: &burn::tensor::Device,
) -> Option<Tensor<1>> {
    if triplets.is_empty() {
        return None;
    }
    let a: Vec<usize> = triplets.iter().map(|t| t.anchor).collect();
    let p: Vec<usize> = triplets.iter().map(|t| t.positive).collect();
    let n: Vec<usize> = triplets.iter().map(|t| t.negative).collect();
    let d_ap = gather_pairs(d, &a, &p, device);
    let d_an = gather_pairs(d, &a, &n, device);
    Some((d_ap - d_an).add_scalar(margin).clamp_min(0.0).mean())
}

impl Objective for Distill<'_> {
    fn loss(&mut self, model: &Dpnn, step: usize) -> Result<StepLoss> {
        let (clips, mixes, mut rng) = self.batch(step);
        let data = self.data;
        let b = clips.len();
        let n_tags = data.n_tags;

        // Inputs (augmented) and head targets (mixed alike).
        let mut x = data.features.read_clips(&clips);
        let mut targets: Vec<f32> = clips
            .iter()
            .flat_map(|&c| data.head_targets[c * n_tags..(c + 1) * n_tags].iter().copied())
            .collect();
        let originals = x.clone();
        let original_targets = targets.clone();
        for (i, mix) in mixes.iter().enumerate() {
            if let Some((j, w)) = *mix {
                let (dst, src) = (i * CLIP_VALUES, j * CLIP_VALUES);
                mix_into(&mut x[dst..dst + CLIP_VALUES], &originals[src..src + CLIP_VALUES], w);
                for k in 0..n_tags {
                    targets[i * n_tags + k] =
                        w * original_targets[i * n_tags + k] + (1.0 - w) * original_targets[j * n_tags + k];
                }
            }
        }
        for clip in x.chunks_exact_mut(CLIP_VALUES) {
            augment_clip(clip, &self.cfg.augment, &mut rng);
        }
        let input = Tensor::<4>::from_data(TensorData::new(x, [b, 1, N_MELS, N_FRAMES]), &self.device);
        // Dropout draws from burn's generator: seed it per step so the step is
        // reproducible (and a resumed run repeats it).
        self.device.seed(self.seed ^ (step as u64).wrapping_mul(0xA076_1D64_78BD_642F));
        let (embedding, logits) = model.forward(input);

        let mut total: Option<Tensor<1>> = None;
        let mut parts: Vec<(String, f32)> = Vec::new();
        let add = |name: &str,
                   term: Tensor<1>,
                   weight: f32,
                   total: &mut Option<Tensor<1>>,
                   parts: &mut Vec<(String, f32)>| {
            let term = term.mul_scalar(weight);
            parts.push((name.to_string(), term.clone().into_scalar::<f32>()));
            *total = Some(match total.take() {
                Some(t) => t + term,
                None => term,
            });
        };

        // (a) soft-target BCE with logits: softplus(z) − t·z.
        if self.cfg.bce_weight > 0.0 {
            let t = Tensor::<2>::from_data(TensorData::new(targets, [b, n_tags]), &self.device);
            let bce = (softplus(logits.clone(), 1.0) - logits * t).mean();
            add("bce", bce, self.cfg.bce_weight, &mut total, &mut parts);
        }

        // Squared Euclidean distances of the representations, as in the
        // paper: |a|² + |b|² − 2a·b. On the unit sphere (`unit_sphere`) a
        // common offset of all embeddings shrinks every distance and the
        // hardest-triplet loss sits at the margin (a collapse FaceNet
        // describes); raw distances are invariant to that offset.
        let embedding_for_rel = embedding.clone();
        let e = if self.cfg.unit_sphere {
            let norm = embedding.clone().square().sum_dim(1).add_scalar(1e-12).sqrt();
            embedding / norm
        } else {
            embedding
        };
        // Per dimension (÷ D) for raw representations, so the triplet terms
        // live on the scale of the BCE term whatever the embedding width.
        let scale = if self.cfg.unit_sphere { 1.0 } else { 1.0 / e.dims()[1] as f32 };
        let sq = e.clone().square().sum_dim(1);
        let dist = (sq.clone() + sq.transpose() - e.clone().matmul(e.transpose()).mul_scalar(2.0))
            .clamp_min(0.0)
            .mul_scalar(scale);
        let dist_host: Vec<f32> = dist.clone().into_data().iter::<f32>().collect();
        let dist_host = ArrayView2::from_shape((b, b), &dist_host)
            .map_err(|e| Error::Invalid(format!("distance matrix shape: {e}")))?;
        let keys: Vec<PairKeys> = clips
            .iter()
            .map(|&c| {
                let track = data.corpus.clips[c].track;
                PairKeys { album_id: Some(data.corpus.album_of_track[track]), track_id: track as u32 }
            })
            .collect();
        let mixed: Vec<bool> = mixes.iter().map(Option::is_some).collect();
        let drop_mixed = |m: &mut Array2<bool>| {
            for (i, &is_mixed) in mixed.iter().enumerate() {
                if is_mixed {
                    m.row_mut(i).fill(false);
                    m.column_mut(i).fill(false);
                }
            }
        };

        // (b) LSI triplets.
        if self.cfg.lsi_weight > 0.0 {
            let rows = data.lsi_vectors.select(ndarray::Axis(0), &clips);
            let cos = cosine_matrix(rows.view());
            let tagged = nonzero_rows(rows.view());
            let rules = TripletRules::new(self.cfg.positive_min_cos, self.cfg.negative_max_cos)?;
            let (mut pos, mut neg) = lsi_masks(cos.view(), &tagged, &keys, &rules)?;
            drop_mixed(&mut pos);
            drop_mixed(&mut neg);
            let mined = mine_hardest(dist_host, pos.view(), neg.view())?;
            parts.push(("lsi_triplets".into(), mined.triplets.len() as f32));
            if let Some(term) = triplet_term(&dist, &mined.triplets, self.cfg.margin, &self.device) {
                add("lsi", term, self.cfg.lsi_weight, &mut total, &mut parts);
            }
        }

        // (c) same-track triplets.
        if self.cfg.track_weight > 0.0 {
            let (mut pos, mut neg) = same_track_masks(&keys);
            drop_mixed(&mut pos);
            drop_mixed(&mut neg);
            let mined = mine_hardest(dist_host, pos.view(), neg.view())?;
            if let Some(term) = triplet_term(&dist, &mined.triplets, self.cfg.margin, &self.device) {
                add("track", term, self.cfg.track_weight, &mut total, &mut parts);
            }
        }

        // (e), (f) album and artist concepts: positives from other tracks of
        // the same album / artist, hardest negatives from other ones.
        let concepts: [(&str, f32, Vec<Option<u32>>); 2] = [
            (
                "album",
                self.cfg.album_weight,
                clips.iter().map(|&c| Some(data.corpus.album_of_track[data.corpus.clips[c].track])).collect(),
            ),
            (
                "artist",
                self.cfg.artist_weight,
                clips.iter().map(|&c| data.corpus.artist_of_track[data.corpus.clips[c].track]).collect(),
            ),
        ];
        for (name, weight, group) in concepts {
            if weight <= 0.0 {
                continue;
            }
            let (mut pos, mut neg) = concept_masks(&group, &keys)?;
            drop_mixed(&mut pos);
            drop_mixed(&mut neg);
            let mined = mine_hardest(dist_host, pos.view(), neg.view())?;
            parts.push((format!("{name}_triplets"), mined.triplets.len() as f32));
            if let Some(term) = triplet_term(&dist, &mined.triplets, self.cfg.margin, &self.device) {
                add(name, term, weight, &mut total, &mut parts);
            }
        }

        // (d) relational and (g) neighbourhood distillation: the student's
        // cosines against the teachers' (src/train/relational.rs).
        let geometry = self.cfg.relational_weight > 0.0 || self.cfg.neighbour_weight > 0.0;
        if geometry && data.teacher_dim > 0 {
            let td = data.teacher_dim;
            // (g)'s candidates: the batch, then the queued clips of past batches.
            let teacher =
                TeacherCosines::with_queue(&data.teacher_unit, td, &clips, &mixed, &self.queue.clips());
            let wide = student_cosines_with_queue(embedding_for_rel.clone(), &self.queue, &self.device);
            if self.cfg.relational_weight > 0.0
                && let Some(rel) =
                    relational_term(wide.clone().slice([0..b, 0..b]), &teacher.batch_columns(), &self.device)
            {
                add("relational", rel, self.cfg.relational_weight, &mut total, &mut parts);
            }
            let temperatures = NeighbourTemperatures {
                teacher: self.cfg.neighbour_teacher_temperature,
                student: self.cfg.neighbour_student_temperature,
            };
            if self.cfg.neighbour_weight > 0.0 {
                parts.push(("neighbour_candidates".into(), teacher.cols as f32));
                if let Some(nb) = neighbourhood_term(wide, &teacher, temperatures, &self.device) {
                    add("neighbourhood", nb, self.cfg.neighbour_weight, &mut total, &mut parts);
                }
                if self.cfg.neighbour_queue_batches > 0 {
                    let vectors: Vec<f32> = embedding_for_rel.into_data().iter::<f32>().collect();
                    self.queue.push(&clips, &vectors, &mixed);
                }
            }
        }

        let total = total.ok_or_else(|| {
            Error::Invalid("every loss term is switched off or found nothing to learn in this batch".into())
        })?;
        Ok(StepLoss { total, parts, items: b })
    }

    fn validate(&mut self, model: &Dpnn) -> Result<Vec<(String, f64)>> {
        let clips = &self.data.valid_clips;
        if clips.is_empty() {
            return Ok(Vec::new());
        }
        let (vectors, scores) = self.embed_clips(model, clips);
        let labels: Vec<bool> = clips
            .iter()
            .flat_map(|&c| {
                let t = &self.data.head_targets[c * self.data.n_tags..(c + 1) * self.data.n_tags];
                t.iter().map(|&p| p >= self.cfg.lsi_tag_threshold).collect::<Vec<_>>()
            })
            .collect();
        Ok(evaluate(&self.data.corpus, clips, &vectors, Some((&scores, &labels, self.data.n_tags))))
    }
}

/// The validation figures for clip vectors of `clips` (unit rows): same-track
/// P@1, same-album P@5 over track vectors and, given (scores, labels,
/// n_tags), the macro tag ROC-AUC.
pub fn evaluate(
    corpus: &Corpus,
    clips: &[usize],
    vectors: &[f32],
    tags: Option<(&[f32], &[bool], usize)>,
) -> Vec<(String, f64)> {
    let dim = vectors.len() / clips.len().max(1);
    let track_of: Vec<usize> = clips.iter().map(|&c| corpus.clips[c].track).collect();
    let mut out = Vec::new();
    if let Some(p) = metrics::same_track_p_at_1(vectors, dim, &track_of) {
        out.push(("same_track_p1".into(), p));
    }
    if let Some(c) = metrics::mean_pairwise_cosine(vectors, dim) {
        out.push(("mean_cos".into(), c));
    }
    // Track vectors over the tracks present, with their albums.
    let mut tracks: Vec<usize> = track_of.clone();
    tracks.sort_unstable();
    tracks.dedup();
    let local: BTreeMap<usize, usize> = tracks.iter().enumerate().map(|(i, &t)| (t, i)).collect();
    let local_of: Vec<usize> = track_of.iter().map(|t| local[t]).collect();
    let tv = metrics::track_vectors(vectors, dim, &local_of, tracks.len());
    let albums: Vec<u32> = tracks.iter().map(|&t| corpus.album_of_track[t]).collect();
    if let Some(p) = metrics::same_album_p_at_k(&tv, dim, &albums, 5) {
        out.push(("same_album_p5".into(), p));
    }
    if let Some(p) = metrics::same_album_clip_p_at_k(vectors, dim, &track_of, |t| corpus.album_of_track[t], 5)
    {
        out.push(("same_album_clip_p5".into(), p));
    }
    if let Some((scores, labels, n_tags)) = tags
        && let Some((auc, n)) = metrics::macro_roc_auc(scores, labels, n_tags)
    {
        out.push(("tag_auc".into(), auc));
        out.push(("tag_auc_tags".into(), n as f64));
    }
    out
}
