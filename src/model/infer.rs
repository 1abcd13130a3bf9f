//! Batched inference: log-mel clips in, L2-normalised embeddings and tag
//! scores out, on whatever device was chosen — and on the CPU if that device
//! fails mid-run.
//!
//! The [`Embedder`] is what the import pipeline's model thread owns. It guards
//! the input (non-finite values are clamped: features already floor at
//! −100 dB, but a NaN reaching the network would poison a whole batch through
//! the BatchNorm-free pooling paths), reads back embeddings and logits in one
//! transfer per batch, and turns a GPU failure (an `Err` from the readback or
//! a panic inside burn/wgpu, e.g. device lost) into a one-time switch to the
//! CPU backend with a notice, redoing the failed batch there.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use burn::tensor::{Tensor, TensorData};

use super::backend::{ComputeDevice, DeviceChoice, DeviceKind, panic_text, select_device};
use super::dpnn::Dpnn;
use super::heads::TagVocabulary;
use super::record::{LoadedModel, ModelBundle, ModelCard};
use crate::features::{LogMel, N_FRAMES, N_MELS};
use crate::{Error, Result};

/// Lowest input value passed to the model, dB: the features' own floor.
pub const INPUT_FLOOR_DB: f32 = -100.0;
/// Highest input value passed to the model, dB. A full-scale square wave
/// gives about +60 dB in our mel scale; anything above +100 dB is a bug
/// upstream and is clamped rather than allowed to saturate the network.
pub const INPUT_CEIL_DB: f32 = 100.0;
/// Largest batch sent to the device at once; bigger requests are split so
/// peak memory stays bounded (≈ 256 × 0.6 MB of activations on the CPU).
pub const MAX_BATCH: usize = 256;

/// Model outputs for one clip.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipOutput {
    /// Representation, L2-normalised (unit length; all zeros only if the
    /// network produced an exactly zero vector), `embedding_dim` values.
    pub embedding: Vec<f32>,
    /// Sigmoid tag scores in [0, 1], vocabulary order (genre, style, mood, theme).
    pub tag_scores: Vec<f32>,
}

/// The model on a device, ready to embed batches of clips.
pub struct Embedder {
    bundle: ModelBundle,
    model: Dpnn,
    device: ComputeDevice,
    notices: Vec<String>,
    simulate_gpu_failure: bool,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model", &self.bundle.card.version)
            .field("device", &self.device.description)
            .finish_non_exhaustive()
    }
}

/// Why a batch failed on the device.
struct DeviceFailure(String);

impl Embedder {
    /// Wraps a loaded model. The device's notice (if any) becomes the first
    /// of [`Embedder::notices`].
    pub fn new(loaded: LoadedModel) -> Embedder {
        let notices = loaded.device.notice.iter().cloned().collect();
        Embedder {
            bundle: loaded.bundle,
            model: loaded.model.fold_batch_norms(),
            device: loaded.device,
            notices,
            simulate_gpu_failure: false,
        }
    }

    /// Selects the device for `choice` and loads the built-in model or
    /// `model_dir` (`--model DIR`) onto it.
    ///
    /// A bad model directory is an error. A GPU that fails while the
    /// weights are uploaded is not: the model then loads on the CPU, with a
    /// notice.
    pub fn open(model_dir: Option<&Path>, choice: DeviceChoice) -> Result<Embedder> {
        let bundle = match model_dir {
            Some(dir) => ModelBundle::read_dir(dir)?,
            None => ModelBundle::embedded()?,
        };
        let device = select_device(choice)?;
        if !device.is_wgpu() {
            return Ok(Embedder::new(bundle.load(&device)?));
        }
        match catch_unwind(AssertUnwindSafe(|| bundle.instantiate(&device))) {
            Ok(Ok(model)) => Ok(Embedder::new(LoadedModel { bundle, model, device })),
            Ok(Err(e @ Error::Model { .. })) => Err(e),
            Ok(Err(e)) => Embedder::cpu_after_failure(bundle, device, e.to_string()),
            Err(p) => Embedder::cpu_after_failure(bundle, device, panic_text(&*p)),
        }
    }

    fn cpu_after_failure(bundle: ModelBundle, failed: ComputeDevice, why: String) -> Result<Embedder> {
        let cpu = ComputeDevice::cpu();
        let notice =
            format!("GPU failed ({}: {why}): continuing on the {}", failed.description, cpu.description);
        tracing::warn!("{notice}");
        let mut e = Embedder::new(bundle.load(&cpu)?);
        e.notices.extend(failed.notice);
        e.notices.push(notice);
        Ok(e)
    }

    /// The device the model runs on now (it changes to the CPU after a GPU
    /// failure).
    pub fn device(&self) -> &ComputeDevice {
        &self.device
    }

    /// The model card (`model.toml`) of the loaded model.
    pub fn card(&self) -> &ModelCard {
        &self.bundle.card
    }

    /// Version string stored with every vector this embedder makes.
    pub fn model_version(&self) -> &str {
        &self.bundle.card.version
    }

    /// Whether the weights were trained (false for `dpnn-init`: say so).
    pub fn is_trained(&self) -> bool {
        self.bundle.card.trained
    }

    /// Tag names of [`ClipOutput::tag_scores`], per category.
    pub fn vocabulary(&self) -> &TagVocabulary {
        &self.bundle.card.vocabulary
    }

    /// Things the user should be told (device fallbacks), oldest first.
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// Returns and clears the notices, for a caller that reports each once.
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// Removes and returns the oldest unreported notice, if any.
    pub fn take_notice(&mut self) -> Option<String> {
        (!self.notices.is_empty()).then(|| self.notices.remove(0))
    }

    /// One line describing the device, e.g. "CPU (flex, 2 threads)".
    pub fn device_description(&self) -> &str {
        &self.device.description
    }

    /// `(category, tag)` of every score in [`ClipOutput::tag_scores`], in
    /// output order — what a store needs beside the scores — or `None` for a
    /// tag the model card marks untaught (not to be stored or shown).
    pub fn tag_names(&self) -> Vec<Option<(String, String)>> {
        let untaught = &self.card().untaught;
        self.vocabulary()
            .iter()
            .map(|(_, c, t)| (!untaught.iter().any(|u| u == t)).then(|| (c.to_string(), t.to_string())))
            .collect()
    }

    /// Clips per call that make good use of the device, from
    /// `tuneatlas bench model` on the build machine: the CPU backend's
    /// throughput is flat from 16 clips up, so 32 keeps latency and memory
    /// low; a GPU wants large batches; a CPU Vulkan adapter gains little from
    /// batching but is slow per call.
    pub fn preferred_batch_size(&self) -> usize {
        match &self.device.kind {
            DeviceKind::Cpu(_) => 32,
            DeviceKind::Wgpu { cpu_adapter: true, .. } => 16,
            DeviceKind::Wgpu { cpu_adapter: false, .. } => MAX_BATCH,
        }
    }

    /// Test hook: makes the next batch on a wgpu device fail as if the GPU
    /// had been lost, to exercise the CPU fallback. No effect on the CPU.
    #[doc(hidden)]
    pub fn simulate_gpu_failure_on_next_batch(&mut self) {
        self.simulate_gpu_failure = true;
    }

    /// Embeds `clips`: one [`ClipOutput`] per clip, in order.
    ///
    /// Any number of clips is accepted (split into batches of at most
    /// [`MAX_BATCH`]); use [`Embedder::preferred_batch_size`] for throughput.
    /// Errors only for malformed input (a clip of the wrong size) or when the
    /// CPU fallback itself fails.
    pub fn embed_batch(&mut self, clips: &[LogMel]) -> Result<Vec<ClipOutput>> {
        let refs: Vec<&LogMel> = clips.iter().collect();
        self.embed_refs(&refs)
    }

    /// [`Embedder::embed_batch`] over borrowed clips, for callers that
    /// gather a batch from several tracks without copying the features.
    pub fn embed_refs(&mut self, clips: &[&LogMel]) -> Result<Vec<ClipOutput>> {
        let plane = N_MELS * N_FRAMES;
        if let Some((i, c)) = clips.iter().enumerate().find(|(_, c)| c.data.len() != plane) {
            return Err(Error::Invalid(format!(
                "clip {i} has {} log-mel values, expected {N_MELS} × {N_FRAMES} = {plane}",
                c.data.len()
            )));
        }
        let mut out = Vec::with_capacity(clips.len());
        for chunk in clips.chunks(MAX_BATCH) {
            let input = guarded_input(chunk);
            let raw = match self.run_on_device(&input, chunk.len()) {
                Ok(raw) => raw,
                Err(DeviceFailure(why)) => {
                    self.fall_back_to_cpu(why)?;
                    self.run_on_device(&input, chunk.len()).map_err(|DeviceFailure(why)| {
                        Error::Invalid(format!("the model failed on the CPU too: {why}"))
                    })?
                }
            };
            out.extend(self.postprocess(&raw, chunk.len()));
        }
        Ok(out)
    }

    /// Runs the network on one guarded batch; returns `[n, embedding_dim + n_tags]`
    /// row-major (embedding then logits per clip).
    fn run_on_device(&mut self, input: &[f32], n: usize) -> std::result::Result<Vec<f32>, DeviceFailure> {
        let simulate = self.device.is_wgpu() && std::mem::take(&mut self.simulate_gpu_failure);
        let model = &self.model;
        let device = &self.device.device;
        let run = || -> std::result::Result<Vec<f32>, DeviceFailure> {
            if simulate {
                panic!("simulated GPU failure (device lost)");
            }
            let x = Tensor::<4>::from_data(TensorData::new(input.to_vec(), [n, 1, N_MELS, N_FRAMES]), device);
            let (embedding, logits) = model.forward(x);
            let data = Tensor::cat(vec![embedding, logits], 1)
                .try_into_data()
                .map_err(|e| DeviceFailure(format!("{e:?}")))?;
            data.try_into_vec::<f32>().map_err(|e| DeviceFailure(format!("{e:?}")))
        };
        if !self.device.is_wgpu() {
            return run();
        }
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(r) => r,
            Err(p) => Err(DeviceFailure(panic_text(&*p))),
        }
    }

    /// Moves this embedder to the CPU backend for the rest of its life.
    fn fall_back_to_cpu(&mut self, why: String) -> Result<()> {
        if !self.device.is_wgpu() {
            return Err(Error::Invalid(format!("the model failed on the CPU: {why}")));
        }
        let cpu = ComputeDevice::cpu();
        let notice =
            format!("GPU failed ({}: {why}): continuing on the {}", self.device.description, cpu.description);
        tracing::warn!("{notice}");
        self.model = self.bundle.instantiate(&cpu)?.fold_batch_norms();
        self.device = cpu;
        self.notices.push(notice);
        Ok(())
    }

    fn postprocess(&self, raw: &[f32], n: usize) -> Vec<ClipOutput> {
        let dim = self.bundle.card.config.embedding_dim;
        let row = raw.len() / n.max(1);
        raw.chunks(row)
            .map(|r| {
                let mut embedding = r[..dim].to_vec();
                l2_normalise(&mut embedding);
                let tag_scores = r[dim..].iter().map(|&z| sigmoid(z)).collect();
                ClipOutput { embedding, tag_scores }
            })
            .collect()
    }
}

/// Copies clips into one `[n, 1, mels, frames]` buffer, replacing NaN by the
/// floor, ±∞ by the bounds, and clamping to [`INPUT_FLOOR_DB`, `INPUT_CEIL_DB`].
fn guarded_input(clips: &[&LogMel]) -> Vec<f32> {
    let mut buf = Vec::with_capacity(clips.len() * N_MELS * N_FRAMES);
    for c in clips {
        buf.extend(
            c.data
                .iter()
                .map(|&v| if v.is_nan() { INPUT_FLOOR_DB } else { v.clamp(INPUT_FLOOR_DB, INPUT_CEIL_DB) }),
        );
    }
    buf
}

/// Logistic function; NaN (a broken network) maps to 0.5, "no idea".
fn sigmoid(z: f32) -> f32 {
    if z.is_nan() { 0.5 } else { 1.0 / (1.0 + (-z).exp()) }
}

/// Scales `v` to unit length in place. Non-finite entries become 0 first; a
/// zero vector stays zero (it has no direction; cosine with it is 0).
pub fn l2_normalise(v: &mut [f32]) {
    v.iter_mut().filter(|x| !x.is_finite()).for_each(|x| *x = 0.0);
    let norm = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut().for_each(|x| *x = (f64::from(*x) / norm) as f32);
    }
}

/// The track vector (ARCHITECTURE.md §3): the mean of the L2-normalised clip vectors,
/// re-normalised. Clips whose length differs from the first clip's are
/// ignored; no clips gives an empty vector; clips that cancel out give a
/// zero vector (finite, no direction).
pub fn track_vector<V: AsRef<[f32]>>(clip_embeddings: &[V]) -> Vec<f32> {
    let Some(dim) = clip_embeddings.first().map(|c| c.as_ref().len()) else { return Vec::new() };
    let mut sum = vec![0f64; dim];
    let mut n = 0usize;
    for clip in clip_embeddings.iter().map(AsRef::as_ref).filter(|c| c.len() == dim) {
        let mut c = clip.to_vec();
        l2_normalise(&mut c);
        sum.iter_mut().zip(&c).for_each(|(s, &x)| *s += f64::from(x));
        n += 1;
    }
    let mut mean: Vec<f32> = sum.iter().map(|&s| (s / n.max(1) as f64) as f32).collect();
    l2_normalise(&mut mean);
    mean
}

/// Mean tag scores over a track's clips (the track's tags). Same length
/// rules as [`track_vector`]; a non-finite score counts as 0.5.
pub fn mean_scores<V: AsRef<[f32]>>(clip_scores: &[V]) -> Vec<f32> {
    let Some(dim) = clip_scores.first().map(|c| c.as_ref().len()) else { return Vec::new() };
    let mut sum = vec![0f64; dim];
    let mut n = 0usize;
    for clip in clip_scores.iter().map(AsRef::as_ref).filter(|c| c.len() == dim) {
        sum.iter_mut().zip(clip).for_each(|(s, &x)| *s += if x.is_finite() { f64::from(x) } else { 0.5 });
        n += 1;
    }
    sum.iter().map(|&s| (s / n.max(1) as f64) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_handles_zero_and_non_finite() {
        let mut v = vec![3.0, 4.0];
        l2_normalise(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
        let mut z = vec![0.0; 4];
        l2_normalise(&mut z);
        assert_eq!(z, vec![0.0; 4]);
        let mut bad = vec![f32::NAN, f32::INFINITY, 2.0];
        l2_normalise(&mut bad);
        assert_eq!(bad, vec![0.0, 0.0, 1.0]);
    }

    #[test]
    fn input_guard_clamps() {
        let mut data = vec![0.0; N_MELS * N_FRAMES];
        data[0] = f32::NAN;
        data[1] = f32::INFINITY;
        data[2] = f32::NEG_INFINITY;
        data[3] = -500.0;
        data[4] = 42.0;
        let buf = guarded_input(&[&LogMel { data }]);
        assert_eq!(&buf[..5], &[INPUT_FLOOR_DB, INPUT_CEIL_DB, INPUT_FLOOR_DB, INPUT_FLOOR_DB, 42.0]);
    }

    #[test]
    fn sigmoid_is_bounded() {
        assert_eq!(sigmoid(f32::NAN), 0.5);
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
        assert_eq!(sigmoid(f32::NEG_INFINITY), 0.0);
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-7);
    }
}
