//! The model stage of the pipelines: gathers the clips of several tracks into
//! batches of the size the device likes, runs the DPNN once per batch, and
//! hands each track back with its clip vectors, track vector and tag scores.
//!
//! Batching across tracks is what makes GPU (and CPU) inference efficient:
//! one track has at most 12 clips, while a device wants 64 or more at a time.
//! Tracks leave in the order they arrived.

use std::collections::VecDeque;

use crate::features::LogMel;
use crate::model::infer::{ClipOutput, Embedder, mean_scores, track_vector};
use crate::store::{Embedding, ModelRow, TagScore};
use crate::{Error, Result};

struct Pending<T> {
    payload: T,
    features: Vec<LogMel>,
    outputs: Vec<ClipOutput>,
}

/// A finished track: its payload and its embedding, or why the model failed.
pub type Finished<T> = (T, Result<Embedding>);

/// Batches clips across tracks for one [`Embedder`] (see module docs).
pub struct ModelBatcher<'e, T> {
    embedder: &'e mut Embedder,
    tag_names: Vec<Option<(String, String)>>,
    queue: VecDeque<Pending<T>>,
    /// Clips queued and not yet embedded.
    waiting_clips: usize,
}

impl<'e, T> ModelBatcher<'e, T> {
    /// A batcher feeding `embedder`.
    pub fn new(embedder: &'e mut Embedder) -> Self {
        let tag_names = embedder.tag_names();
        ModelBatcher { embedder, tag_names, queue: VecDeque::new(), waiting_clips: 0 }
    }

    /// The model version whose outputs this produces.
    pub fn model_version(&self) -> String {
        self.embedder.model_version().to_string()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues a track's clips; runs full batches and returns the tracks that
    /// are complete.
    pub fn push(&mut self, payload: T, features: Vec<LogMel>) -> Vec<Finished<T>> {
        self.waiting_clips += features.len();
        self.queue.push_back(Pending { payload, outputs: Vec::with_capacity(features.len()), features });
        let mut done = Vec::new();
        while self.waiting_clips >= self.embedder.preferred_batch_size() {
            done.extend(self.run_batch());
        }
        done.extend(self.pop_complete());
        done
    }

    /// Embeds everything still queued (end of input, or the input went quiet).
    pub fn flush(&mut self) -> Vec<Finished<T>> {
        let mut done = Vec::new();
        while self.waiting_clips > 0 {
            done.extend(self.run_batch());
        }
        done.extend(self.pop_complete());
        done
    }

    /// Notices from the embedder (e.g. "GPU failed, continuing on the CPU").
    pub fn take_notice(&mut self) -> Option<String> {
        self.embedder.take_notice()
    }

    /// Runs one batch over the oldest waiting clips. On a model error the
    /// tracks touched by the batch are finished with that error.
    fn run_batch(&mut self) -> Vec<Finished<T>> {
        let batch_size = self.embedder.preferred_batch_size().max(1);
        let mut refs: Vec<(usize, usize)> = Vec::with_capacity(batch_size);
        'outer: for (t, p) in self.queue.iter().enumerate() {
            for c in p.outputs.len()..p.features.len() {
                refs.push((t, c));
                if refs.len() == batch_size {
                    break 'outer;
                }
            }
        }
        let clips: Vec<&LogMel> = refs.iter().map(|&(t, c)| &self.queue[t].features[c]).collect();
        match self.embedder.embed_refs(&clips) {
            Ok(outputs) => {
                for (&(t, _), out) in refs.iter().zip(outputs) {
                    self.queue[t].outputs.push(out);
                }
                self.waiting_clips -= refs.len();
                Vec::new()
            }
            Err(e) => {
                // Fail every track that had clips in this batch (they are at the front).
                let last = refs.last().map(|&(t, _)| t).unwrap_or(0);
                let mut failed = Vec::new();
                for _ in 0..=last {
                    if let Some(p) = self.queue.pop_front() {
                        self.waiting_clips -= p.features.len() - p.outputs.len();
                        failed.push((p.payload, Err(Error::Invalid(format!("model failed: {e}")))));
                    }
                }
                failed
            }
        }
    }

    fn pop_complete(&mut self) -> Vec<Finished<T>> {
        let mut done = Vec::new();
        while self.queue.front().is_some_and(|p| p.outputs.len() == p.features.len()) {
            if let Some(p) = self.queue.pop_front() {
                done.push((p.payload, Ok(assemble(&self.tag_names, p.outputs))));
            }
        }
        done
    }
}

/// The library's record of the embedder's model version (what
/// `Store::register_model` stores before any vector may reference it).
pub fn model_row(embedder: &Embedder) -> ModelRow {
    let card = embedder.card();
    ModelRow {
        version: card.version.clone(),
        name: card.name.clone(),
        parent: card.provenance.parent.clone(),
        config_json: serde_json::to_string(&card.config).unwrap_or_default(),
    }
}

/// Track-level outputs from clip outputs: the track vector (ARCHITECTURE.md §3) (mean of
/// normalised clip vectors, re-normalised) and the mean tag scores.
fn assemble(tag_names: &[Option<(String, String)>], outputs: Vec<ClipOutput>) -> Embedding {
    let scores: Vec<&[f32]> = outputs.iter().map(|o| o.tag_scores.as_slice()).collect();
    let mean = mean_scores(&scores);
    let clip_vectors: Vec<Vec<f32>> = outputs.into_iter().map(|o| o.embedding).collect();
    let tags = tag_names
        .iter()
        .zip(mean)
        .filter_map(|(name, score)| {
            name.as_ref().map(|(category, tag)| TagScore {
                category: category.clone(),
                tag: tag.clone(),
                score,
            })
        })
        .collect();
    Embedding { track_vector: track_vector(&clip_vectors), clip_vectors, tags }
}
