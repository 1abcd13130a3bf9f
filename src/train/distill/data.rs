//! The read-only data of a distillation run, prepared once: the head
//! targets merged from the teacher outputs, the LSI vectors of the triplet
//! term, the teachers' unit penultimates of the geometry terms, and which
//! tags the corpus can teach at all.

use std::collections::BTreeMap;

use ndarray::Array2;

use super::DistillConfig;
use crate::model::heads::TagVocabulary;
use crate::train::corpus::Corpus;
use crate::train::features::FeatureStore;
use crate::train::lsi::Lsi;
use crate::train::metrics;
use crate::{Error, Result};

/// Precomputed, read-only data of a distillation run.
pub struct DistillData {
    /// The joined corpus.
    pub corpus: Corpus,
    /// Log-mels of its clips.
    pub features: FeatureStore,
    /// Training tracks that have features (indices into the corpus).
    pub train_tracks: Vec<usize>,
    /// Validation clips that have features (indices into corpus clips).
    pub valid_clips: Vec<usize>,
    /// Per clip: the head targets in vocabulary order (n_clips × n_tags).
    pub head_targets: Vec<f32>,
    /// Number of head outputs.
    pub n_tags: usize,
    /// Per clip: L2-normalised LSI vector (n_clips × topics); zero rows for
    /// clips without any present tag.
    pub lsi_vectors: Array2<f32>,
    /// The fitted LSI (topics, singular values) for the model card.
    pub lsi: Lsi,
    /// Clips of each track.
    pub clips_of_track: Vec<Vec<usize>>,
    /// Per head: training clips whose (merged) teacher probability reaches
    /// `lsi_tag_threshold` — how much the corpus can teach that tag.
    pub train_positive_clips: Vec<usize>,
    /// Per clip: the teachers' penultimate row, L2-normalised (n_clips ×
    /// its width), or empty when the targets have none.
    pub teacher_unit: Vec<f32>,
    /// Width of a `teacher_unit` row (0 when absent).
    pub teacher_dim: usize,
}

/// Fewest positive training clips for a tag to count as taught (see
/// [`DistillData::untaught_tags`]).
pub const MIN_POSITIVE_CLIPS: usize = 20;

/// For each vocabulary tag, the columns of the teacher table it merges.
pub fn teacher_columns(
    vocabulary: &TagVocabulary,
    sources: &BTreeMap<String, Vec<String>>,
    teacher_tags: &[String],
) -> Result<Vec<Vec<usize>>> {
    vocabulary
        .iter()
        .map(|(_, _, tag)| {
            let names = sources.get(tag).ok_or_else(|| {
                Error::Invalid(format!(
                    "tag {tag:?} has no teacher outputs in the model card's [teacher_tags]"
                ))
            })?;
            names
                .iter()
                .map(|n| {
                    teacher_tags.iter().position(|t| t == n).ok_or_else(|| {
                        Error::Invalid(format!(
                            "teacher output {n:?} (for tag {tag:?}) is not in the targets"
                        ))
                    })
                })
                .collect()
        })
        .collect()
}

/// Sharpens (T < 1) or softens (T > 1) a probability through its logit.
fn with_temperature(p: f32, temperature: f32) -> f32 {
    if temperature == 1.0 {
        return p;
    }
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    let logit = (p / (1.0 - p)).ln() / temperature;
    1.0 / (1.0 + (-logit).exp())
}

impl DistillData {
    /// Prepares targets and LSI vectors. `columns` maps each head to its
    /// teacher columns ([`teacher_columns`]).
    pub fn new(
        corpus: Corpus,
        features: FeatureStore,
        split_train: &[usize],
        split_valid: &[usize],
        columns: &[Vec<usize>],
        cfg: &DistillConfig,
    ) -> Result<DistillData> {
        let targets = corpus
            .targets
            .as_ref()
            .ok_or_else(|| Error::Invalid("distillation needs teacher targets".into()))?;
        let n_teacher = targets.tag_names.len();
        let n_clips = corpus.clips.len();
        let n_tags = columns.len();
        let clips_of_track = corpus.clips_by_track();
        let has_all =
            |t: usize| !clips_of_track[t].is_empty() && clips_of_track[t].iter().all(|&c| features.has(c));
        let train_tracks: Vec<usize> = split_train.iter().copied().filter(|&t| has_all(t)).collect();
        let valid_clips: Vec<usize> = split_valid
            .iter()
            .flat_map(|&t| clips_of_track[t].iter().copied())
            .filter(|&c| features.has(c))
            .collect();
        if train_tracks.len() < cfg.tracks_per_batch {
            return Err(Error::Invalid(format!(
                "only {} training tracks have features, fewer than one batch ({})",
                train_tracks.len(),
                cfg.tracks_per_batch
            )));
        }

        // (a) head targets.
        let mut head_targets = vec![0.0f32; n_clips * n_tags];
        // (b) binary teacher tags for LSI.
        let mut binary = Array2::<f32>::zeros((n_clips, n_teacher));
        for (i, clip) in corpus.clips.iter().enumerate() {
            let Some(row) = clip.target_row else { continue };
            let p = targets.probs_of(row);
            for (j, cols) in columns.iter().enumerate() {
                let merged = cols.iter().map(|&c| p[c]).fold(0.0f32, f32::max);
                head_targets[i * n_tags + j] = with_temperature(merged, cfg.temperature);
            }
            for (j, &v) in p.iter().enumerate() {
                binary[[i, j]] = f32::from(u8::from(v >= cfg.lsi_tag_threshold));
            }
        }
        let train_clip_rows: Vec<usize> =
            train_tracks.iter().flat_map(|&t| clips_of_track[t].iter().copied()).collect();
        let mut train_positive_clips = vec![0usize; n_tags];
        for &c in &train_clip_rows {
            let Some(row) = corpus.clips[c].target_row else { continue };
            let p = targets.probs_of(row);
            for (j, cols) in columns.iter().enumerate() {
                if cols.iter().any(|&k| p[k] >= cfg.lsi_tag_threshold) {
                    train_positive_clips[j] += 1;
                }
            }
        }
        let fit_rows = binary.select(ndarray::Axis(0), &train_clip_rows);
        let lsi = Lsi::fit(fit_rows.view(), cfg.lsi_topics)?;
        let mut lsi_vectors = lsi.project(binary.view())?;
        for mut row in lsi_vectors.rows_mut() {
            let n = row.dot(&row).sqrt();
            if n > 0.0 {
                row /= n;
            }
        }
        let teacher_dim = targets.penultimate_dim;
        let mut teacher_unit = Vec::new();
        if teacher_dim > 0 {
            teacher_unit.reserve(n_clips * teacher_dim);
            for clip in &corpus.clips {
                match clip.target_row {
                    Some(r) => teacher_unit.extend_from_slice(targets.penultimate_of(r)),
                    None => teacher_unit.extend(std::iter::repeat_n(0.0, teacher_dim)),
                }
            }
            metrics::normalise_rows(&mut teacher_unit, teacher_dim);
        }
        Ok(DistillData {
            corpus,
            features,
            train_tracks,
            valid_clips,
            head_targets,
            n_tags,
            lsi_vectors,
            lsi,
            clips_of_track,
            train_positive_clips,
            teacher_unit,
            teacher_dim,
        })
    }

    /// Indices of the heads with fewer than [`MIN_POSITIVE_CLIPS`] positive
    /// training clips: the corpus cannot teach them (vocal tags on game
    /// music, Last.fm's affect words), so the model card marks them untaught.
    pub fn untaught_tags(&self) -> Vec<usize> {
        (0..self.n_tags).filter(|&j| self.train_positive_clips[j] < MIN_POSITIVE_CLIPS).collect()
    }

    /// Training steps in one pass over the training tracks.
    pub fn steps_per_epoch(&self, cfg: &DistillConfig) -> usize {
        (self.train_tracks.len() / cfg.tracks_per_batch).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_keeps_order_and_the_midpoint() {
        assert_eq!(with_temperature(0.3, 1.0), 0.3);
        assert!((with_temperature(0.5, 0.5) - 0.5).abs() < 1e-6);
        assert!(with_temperature(0.3, 0.5) < 0.3 && with_temperature(0.7, 0.5) > 0.7);
        assert!(with_temperature(0.3, 2.0) > 0.3);
    }
}
