//! The fine-tuning objective the shared training loop runs: per batch,
//! hardest LSI triplets of the user's tags on track clips; per epoch, the
//! validation P@10 that early stopping and the kept weights follow.

use super::*;

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
