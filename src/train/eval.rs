//! Evaluating a model (and the teachers) on a listed set of tracks.
//!
//! Why through the [`Embedder`]: the figures in a model card must be what the
//! app computes — the same folded inference network, the same device
//! fallback — not a training-mode forward pass. The teachers' own
//! penultimate embeddings are scored with the same [`super::metrics`] on the
//! same clips, so the card compares like with like.

use crate::features::{LogMel, N_FRAMES, N_MELS};
use crate::model::infer::Embedder;
use crate::{Error, Result};

use super::corpus::Corpus;
use super::distill::{evaluate, teacher_columns};
use super::features::{CLIP_VALUES, FeatureStore};

/// Named figures (e.g. `same_track_p1`), in display order.
pub type Figures = Vec<(String, f64)>;

/// The student's figures on `clips` (which must all have features): vectors
/// and tag scores from `embedder`; ROC-AUC against the teacher when the
/// corpus has targets and the model card maps its tags to teacher outputs
/// (a tag is positive where its teacher probability ≥ `tag_threshold`).
pub fn evaluate_embedder(
    corpus: &Corpus,
    features: &FeatureStore,
    clips: &[usize],
    embedder: &mut Embedder,
    tag_threshold: f32,
) -> Result<Figures> {
    if clips.is_empty() {
        return Err(Error::Invalid("no clips to evaluate (every listed file failed?)".into()));
    }
    let mut vectors = Vec::with_capacity(clips.len() * 256);
    let mut scores = Vec::with_capacity(clips.len() * embedder.vocabulary().len());
    let batch = embedder.preferred_batch_size().max(1);
    let mut buf = vec![0.0f32; CLIP_VALUES];
    for chunk in clips.chunks(batch) {
        let mels: Vec<LogMel> = chunk
            .iter()
            .map(|&c| {
                features.read_clip(c, &mut buf);
                LogMel { data: buf.clone() }
            })
            .collect();
        debug_assert!(mels.iter().all(|m| m.data.len() == N_MELS * N_FRAMES));
        for out in embedder.embed_batch(&mels)? {
            vectors.extend_from_slice(&out.embedding);
            scores.extend_from_slice(&out.tag_scores);
        }
    }
    let n_tags = embedder.vocabulary().len();
    let tags = match &corpus.targets {
        Some(targets) => {
            let card = embedder.card();
            match teacher_columns(&card.vocabulary, &card.teacher_tags, &targets.tag_names) {
                Ok(columns) => {
                    let labels: Vec<bool> = clips
                        .iter()
                        .flat_map(|&c| {
                            let row = corpus.clips[c].target_row;
                            columns
                                .iter()
                                .map(|cols| {
                                    row.is_some_and(|r| {
                                        let p = targets.probs_of(r);
                                        cols.iter().any(|&k| p[k] >= tag_threshold)
                                    })
                                })
                                .collect::<Vec<_>>()
                        })
                        .collect();
                    Some(labels)
                }
                Err(e) => {
                    tracing::warn!("tag ROC-AUC skipped: {e}");
                    None
                }
            }
        }
        None => None,
    };
    let figures = match &tags {
        Some(labels) => evaluate(corpus, clips, &vectors, Some((&scores, labels, n_tags))),
        None => evaluate(corpus, clips, &vectors, None),
    };
    Ok(figures)
}

/// One view of the teachers' penultimate embeddings, scored like a student.
#[derive(Debug, Clone)]
pub struct TeacherFigures {
    /// Key in a model card's `[metrics]` (`valid.<key>.<figure>`): `teacher<dim>`
    /// for the whole embedding, `teacher_msd` / `teacher_mtt` for the halves.
    pub key: String,
    /// Label for a printed table.
    pub label: String,
    /// The figures.
    pub figures: Figures,
}

/// The teachers' penultimate embeddings scored like a student: the whole
/// concatenation and, for the 400-d musicnn pair (MSD + MTT, 200-d each),
/// each teacher's half. Why only there: another width (e.g. 656-d with the
/// vgg models appended) has no known halves, and slicing it in two would
/// score meaningless mixtures. Empty when the targets have no penultimate file.
pub fn evaluate_teacher(corpus: &Corpus, clips: &[usize]) -> Vec<TeacherFigures> {
    let Some(targets) = &corpus.targets else { return Vec::new() };
    let dim = targets.penultimate_dim;
    if dim == 0 || clips.iter().any(|&c| corpus.clips[c].target_row.is_none()) {
        return Vec::new();
    }
    let mut variants = vec![(format!("teacher{dim}"), format!("teachers' penultimates ({dim}-d)"), 0..dim)];
    if dim == MUSICNN_PAIR_DIM {
        let half = dim / 2;
        variants[0].1 = format!("musicnn MSD+MTT penultimate ({dim}-d)");
        variants.push(("teacher_msd".into(), format!("MSD_musicnn penultimate ({half}-d)"), 0..half));
        variants.push(("teacher_mtt".into(), format!("MTT_musicnn penultimate ({half}-d)"), half..dim));
    }
    variants
        .into_iter()
        .map(|(key, label, range)| {
            let vectors: Vec<f32> = clips
                .iter()
                .flat_map(|&c| {
                    let row = corpus.clips[c].target_row.unwrap_or(0);
                    targets.penultimate_of(row)[range.clone()].to_vec()
                })
                .collect();
            TeacherFigures { key, label, figures: evaluate(corpus, clips, &vectors, None) }
        })
        .collect()
}

/// Width of `shared/teacher`'s penultimate file: MSD_musicnn's and
/// MTT_musicnn's 200-d penultimate layers side by side.
pub const MUSICNN_PAIR_DIM: usize = 400;

/// Width of the targets `models/dpnn-v2/vgg_teachers.sh` makes: the musicnn
/// pair, then MSD_vgg's and MTT_vgg's 128-d penultimates.
pub const ALL_FOUR_DIM: usize = MUSICNN_PAIR_DIM + 2 * 128;
