//! Model directories: `models/<name>/model.toml` + `weights.bpk`.
//!
//! A model directory is self-describing: `model.toml` (the [`ModelCard`])
//! names the model and its version, says whether it is trained, carries the
//! full [`DpnnConfig`], the input specification the features must match, the
//! tag vocabulary, provenance and metrics, and records the weights file's
//! size and BLAKE3 hash. The weights are a burn *burnpack* record (burn 0.22's
//! own format: CBOR header + 256-byte-aligned little-endian tensors, f32),
//! which loads from a file or from bytes — hence `include_bytes!` for the
//! built-in model, so the app runs with no files beside it.
//!
//! Loading checks, in order, and fails with an [`Error::Model`] naming the
//! file and what was expected: `model.toml` exists and parses; the config is
//! valid and agrees with the vocabulary and with this build's features; the
//! weights file exists, has the recorded size (truncation) and hash
//! (corruption, or weights of another model); it parses as burnpack; every
//! tensor has the shape the config implies; every value is finite.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::module::{Module, ModuleVisitor, Param};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Tensor};
use serde::{Deserialize, Serialize};

use super::backend::ComputeDevice;
use super::dpnn::{Dpnn, DpnnConfig};
use super::heads::TagVocabulary;
use crate::features;
use crate::{Error, Result};

/// Version of the `model.toml` layout this build reads and writes.
pub const CARD_FORMAT: u32 = 1;
/// File name of the model card inside a model directory.
pub const CARD_FILE: &str = "model.toml";
/// File name of the weights inside a model directory (burnpack record).
pub const WEIGHTS_FILE: &str = "weights.bpk";
/// Name of the built-in model (its directory under `models/`).
pub const DEFAULT_MODEL_NAME: &str = "dpnn-v2";

const EMBEDDED_CARD: &str = include_str!("../../models/dpnn-v2/model.toml");
const EMBEDDED_WEIGHTS: &[u8] = include_bytes!("../../models/dpnn-v2/weights.bpk");

/// The weights file as described in `model.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsInfo {
    /// File name inside the model directory.
    pub file: String,
    /// Container format; `"burnpack"` is the only one this build reads.
    pub format: String,
    /// Element type of the stored tensors, e.g. `"f32"`.
    pub dtype: String,
    /// Exact size in bytes (detects truncation before parsing).
    pub bytes: u64,
    /// BLAKE3 hash, hex (detects corruption and weights of another model).
    pub blake3: String,
}

/// How the input features must be computed for this model. Checked against
/// this build's feature extractor (`crate::features`) when a model loads, so
/// a model trained on other features is refused instead of silently fed
/// the wrong input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Sample rate the audio is resampled to, Hz.
    pub sample_rate_hz: u32,
    /// Samples per clip (6 s).
    pub clip_len_samples: usize,
    /// FFT and Hann window length, samples.
    pub n_fft: usize,
    /// Hop between frames, samples.
    pub hop_len_samples: usize,
    /// Mel bands.
    pub n_mels: usize,
    /// Frames per clip.
    pub n_frames: usize,
    /// Lowest mel band edge, Hz.
    pub fmin_hz: f32,
    /// Highest mel band edge, Hz.
    pub fmax_hz: f32,
    /// Power scale: `"dB"` = 10·log10(max(P, 1e-10)), Slaney mel, power spectrum.
    pub scale: String,
}

impl InputSpec {
    /// The specification of this build's feature extractor (ARCHITECTURE.md §3).
    pub fn current() -> InputSpec {
        InputSpec {
            sample_rate_hz: features::SAMPLE_RATE_HZ,
            clip_len_samples: features::CLIP_LEN_SAMPLES,
            n_fft: features::N_FFT,
            hop_len_samples: features::HOP_LEN_SAMPLES,
            n_mels: features::N_MELS,
            n_frames: features::N_FRAMES,
            fmin_hz: features::FMIN_HZ,
            fmax_hz: features::FMAX_HZ,
            scale: "dB".into(),
        }
    }
}

/// Where a model came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// How the weights were made, e.g. "deterministic initialisation" or
    /// "distilled from musicnn".
    pub method: String,
    /// The code that made them, e.g. "tuneatlas model init (src/model/init.rs, scheme 1)".
    pub generator: String,
    /// Random seed, where one was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Teacher model(s), for distilled models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<String>,
    /// Training data, for trained models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Parent model version, for fine-tuned models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Licence of the weights.
    pub licence: String,
}

/// The parsed `model.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Layout version of this file ([`CARD_FORMAT`]).
    pub format: u32,
    /// Short name, also the directory name, e.g. "dpnn-init".
    pub name: String,
    /// Version string stored with every vector in the library, e.g.
    /// "dpnn-init-0.1": vectors of different versions are never mixed.
    pub version: String,
    /// Whether the weights were trained. `false` means the embeddings and
    /// tags carry no learned meaning; the UI must say so.
    pub trained: bool,
    /// One paragraph for the user.
    pub description: String,
    /// The weights file.
    pub weights: WeightsInfo,
    /// The network.
    pub config: DpnnConfig,
    /// The features the network expects.
    pub input: InputSpec,
    /// Tag names of the head outputs, per category, in output order.
    pub vocabulary: TagVocabulary,
    /// For each tag, the teacher outputs it stands for (distillation targets).
    #[serde(default)]
    pub teacher_tags: std::collections::BTreeMap<String, Vec<String>>,
    /// Where the weights came from.
    pub provenance: Provenance,
    /// Evaluation figures (name → value); empty for an untrained model.
    #[serde(default)]
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// Tags the training data could not teach (the teachers almost never
    /// fired on them). The heads still compute them, but their scores are
    /// not stored or shown: presenting them would pretend to a knowledge the
    /// model does not have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untaught: Vec<String>,
}

impl ModelCard {
    /// Parses `model.toml` text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<ModelCard> {
        let card: ModelCard = toml::from_str(text).map_err(|e| {
            Error::model(
                format!("cannot read the model card (expected model.toml format {CARD_FORMAT}): {e}"),
                path,
            )
        })?;
        if card.format != CARD_FORMAT {
            return Err(Error::model(
                format!(
                    "model card format {} is not supported (this tuneatlas reads format {CARD_FORMAT})",
                    card.format
                ),
                path,
            ));
        }
        card.check(path)?;
        Ok(card)
    }

    /// Checks that the card is consistent with itself and with this build.
    fn check(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| Err(Error::model(reason, path));
        if let Err(e) = self.config.validate() {
            return bad(format!("invalid network configuration in [config]: {e}"));
        }
        if let Err(e) = self.vocabulary.validate() {
            return bad(format!("invalid [vocabulary]: {e}"));
        }
        if self.vocabulary.counts() != self.config.tags {
            return bad(format!(
                "[config.tags] expects {:?} head outputs but [vocabulary] has {:?}",
                self.config.tags,
                self.vocabulary.counts()
            ));
        }
        let current = InputSpec::current();
        if self.input != current {
            return bad(format!(
                "the model expects input features {:?} but this tuneatlas computes {:?}",
                self.input, current
            ));
        }
        if (self.config.n_mels, self.config.n_frames) != (current.n_mels, current.n_frames) {
            return bad(format!(
                "[config] n_mels × n_frames is {} × {} but the features are {} × {}",
                self.config.n_mels, self.config.n_frames, current.n_mels, current.n_frames
            ));
        }
        if let Some(t) =
            self.untaught.iter().find(|t| !self.vocabulary.iter().any(|(_, _, v)| v == t.as_str()))
        {
            return bad(format!("untaught tag {t:?} is not in [vocabulary]"));
        }
        if self.weights.format != "burnpack" {
            return bad(format!(
                "weights format {:?} is not supported (expected \"burnpack\")",
                self.weights.format
            ));
        }
        Ok(())
    }

    /// Serialises the card as `model.toml` text.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Invalid(format!("cannot write the model card: {e}")))
    }
}

/// A model's card and weight bytes, read and checked but not yet placed on a
/// device. Cheap to clone (shared bytes); kept by the [`super::infer::Embedder`]
/// so it can reload the same weights on the CPU if the GPU fails.
#[derive(Debug, Clone)]
pub struct ModelBundle {
    /// The parsed `model.toml`.
    pub card: ModelCard,
    /// The weights file's bytes (burnpack), already size- and hash-checked.
    pub weights: Arc<[u8]>,
    /// Where the weights came from, for messages (`<built-in>/...` for the
    /// embedded model).
    pub weights_path: PathBuf,
}

/// A model placed on a device, ready for inference.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// Card and weight bytes.
    pub bundle: ModelBundle,
    /// The network with its weights.
    pub model: Dpnn,
    /// The device it lives on.
    pub device: ComputeDevice,
}

fn check_weights(card: &ModelCard, bytes: &[u8], path: &Path) -> Result<()> {
    let expected = card.weights.bytes;
    let found = bytes.len() as u64;
    if found != expected {
        let what = if found < expected { "truncated" } else { "longer than expected" };
        return Err(Error::model(
            format!(
                "the weights file is {what}: model.toml expects {expected} bytes of {} {} weights, found {found}",
                card.weights.format, card.weights.dtype
            ),
            path,
        ));
    }
    let hash = blake3::hash(bytes).to_hex();
    if !hash.as_str().eq_ignore_ascii_case(&card.weights.blake3) {
        return Err(Error::model(
            format!(
                "the weights file does not match model.toml (expected BLAKE3 {}, found {hash}): it was \
                 modified or belongs to another model",
                card.weights.blake3
            ),
            path,
        ));
    }
    Ok(())
}

/// The built-in model's card alone (no weights check): cheap enough to
/// ask on every library load which version the built-in model is.
///
/// # Errors
/// The embedded card does not parse (a broken build).
pub fn embedded_card() -> Result<ModelCard> {
    let base = PathBuf::from("<built-in>/models").join(DEFAULT_MODEL_NAME);
    ModelCard::parse(EMBEDDED_CARD, &base.join(CARD_FILE))
}

impl ModelBundle {
    /// The model built into the binary (`models/dpnn-v2/` at build time: the
    /// DPNN distilled from musicnn, see its README).
    pub fn embedded() -> Result<ModelBundle> {
        let base = PathBuf::from("<built-in>/models").join(DEFAULT_MODEL_NAME);
        let card = ModelCard::parse(EMBEDDED_CARD, &base.join(CARD_FILE))?;
        let weights_path = base.join(&card.weights.file);
        check_weights(&card, EMBEDDED_WEIGHTS, &weights_path)?;
        Ok(ModelBundle { card, weights: Arc::from(EMBEDDED_WEIGHTS), weights_path })
    }

    /// Reads and checks a model directory (`model.toml` + weights).
    pub fn read_dir(dir: &Path) -> Result<ModelBundle> {
        let card_path = dir.join(CARD_FILE);
        let text = std::fs::read_to_string(&card_path).map_err(|e| {
            let reason = if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "not a model directory: {CARD_FILE} is missing (expected {CARD_FILE} + {WEIGHTS_FILE})"
                )
            } else {
                format!("cannot read the model card: {e}")
            };
            Error::model(reason, &card_path)
        })?;
        let card = ModelCard::parse(&text, &card_path)?;
        if card.weights.file.contains(['/', '\\']) {
            return Err(Error::model(
                format!(
                    "weights.file {:?} must be a plain file name inside the model directory",
                    card.weights.file
                ),
                &card_path,
            ));
        }
        let weights_path = dir.join(&card.weights.file);
        let weights = std::fs::read(&weights_path).map_err(|e| {
            let reason = if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "the weights file is missing: model.toml expects {} ({} bytes of {} {} weights)",
                    card.weights.file, card.weights.bytes, card.weights.format, card.weights.dtype
                )
            } else {
                format!("cannot read the weights file: {e}")
            };
            Error::model(reason, &weights_path)
        })?;
        check_weights(&card, &weights, &weights_path)?;
        Ok(ModelBundle { card, weights: Arc::from(weights), weights_path })
    }

    /// Builds the network from these weights on `device`: parses the
    /// burnpack record, checks every tensor's shape against the config and
    /// every value for finiteness.
    pub fn instantiate(&self, device: &ComputeDevice) -> Result<Dpnn> {
        let path = &self.weights_path;
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(self.weights.to_vec())).map_err(|e| {
            Error::model(format!("the weights file is not a valid burnpack record ({e})"), path)
        })?;
        let skeleton = Dpnn::skeleton(&self.card.config, &device.device)
            .map_err(|e| Error::model(format!("invalid network configuration: {e}"), path))?;
        let model = skeleton.try_load_record(record).map_err(|e| {
            Error::model(
                format!(
                    "the weights do not fit the network described in model.toml [config] \
                     (embedding_dim {}, {} timbre + {} rhythm blocks, {} tags): {e}",
                    self.card.config.embedding_dim,
                    self.card.config.timbre.len(),
                    self.card.config.rhythm.len(),
                    self.card.config.tags.total()
                ),
                path,
            )
        })?;
        if let Some(bad) = first_non_finite(&model) {
            return Err(Error::model(format!("the weights contain NaN or infinite values (in {bad})"), path));
        }
        Ok(model)
    }

    /// [`ModelBundle::instantiate`] packaged with the bundle and device.
    pub fn load(self, device: &ComputeDevice) -> Result<LoadedModel> {
        let model = self.instantiate(device)?;
        Ok(LoadedModel { bundle: self, model, device: device.clone() })
    }
}

/// Finds the first parameter holding a non-finite value, by path (loading
/// refuses such weights; the trainer stops on them).
pub(crate) fn first_non_finite(model: &Dpnn) -> Option<String> {
    struct Finder {
        path: Vec<String>,
        bad: Option<String>,
    }
    impl ModuleVisitor for Finder {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.bad.is_some() {
                return;
            }
            let finite = param.val().into_data().iter::<f32>().all(f32::is_finite);
            if !finite {
                self.bad = Some(self.path.join("."));
            }
        }
    }
    let mut f = Finder { path: Vec::new(), bad: None };
    model.visit(&mut f);
    f.bad
}

/// Loads the built-in model onto `device`.
pub fn load_default(device: &ComputeDevice) -> Result<LoadedModel> {
    ModelBundle::embedded()?.load(device)
}

/// Loads the model directory `dir` (`--model DIR`) onto `device`.
pub fn load_dir(dir: &Path, device: &ComputeDevice) -> Result<LoadedModel> {
    ModelBundle::read_dir(dir)?.load(device)
}

/// Writes `model` into `dir` as `weights.bpk` + `model.toml`.
///
/// `card` supplies everything but the weights description, which is filled
/// in from the bytes written (size, hash). The config in `card` must be the
/// one `model` was built from. Byte-reproducible: the same model and card
/// give the same files.
pub fn save_dir(dir: &Path, card: &ModelCard, model: &Dpnn) -> Result<ModelCard> {
    std::fs::create_dir_all(dir).map_err(Error::io("create directory", dir))?;
    let weights_path = dir.join(WEIGHTS_FILE);
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| Error::model(format!("cannot serialise the weights: {e}"), &weights_path))?;
    let mut card = card.clone();
    card.format = CARD_FORMAT;
    card.weights = WeightsInfo {
        file: WEIGHTS_FILE.into(),
        format: "burnpack".into(),
        dtype: "f32".into(),
        bytes: bytes.len() as u64,
        blake3: blake3::hash(&bytes).to_hex().to_string(),
    };
    card.check(&dir.join(CARD_FILE))?;
    std::fs::write(&weights_path, &bytes[..]).map_err(Error::io("write", &weights_path))?;
    let card_path = dir.join(CARD_FILE);
    std::fs::write(&card_path, card.to_toml()?).map_err(Error::io("write", &card_path))?;
    Ok(card)
}
