//! The deterministic, UNTRAINED initial model (`models/dpnn-init/`).
//!
//! The seeded starting point of a training run, and a reference the tests
//! use where a model's musical judgement must not matter (its weights are
//! reproducible to the byte). This module makes it from a seed on every machine, and
//! labels it untrained everywhere (`trained = false` in `model.toml`, the
//! description, the model card). Its embeddings are random projections of
//! the log-mel and its tags are meaningless.
//!
//! Why the values are computed on the host rather than with burn's random
//! initialisers: burn's generators differ between backends and versions, and
//! the weights file must be identical wherever it is regenerated. Every value
//! here comes from integer arithmetic (SplitMix64) and exactly rounded f32
//! operations, and parameter ids are derived from the seed, so the burnpack
//! bytes depend only on the seed and this file.
//!
//! Scheme 1 (recorded in `model.toml` provenance):
//! - conv and dense weights: He-uniform, bound `sqrt(6 / fan_in)` (conv,
//!   feeding an ELU) or `sqrt(3 / fan_in)` (dense), then each output unit's
//!   weights are shifted to zero mean, so a constant input (silence, DC)
//!   gives no common-mode drift through the layers;
//! - embedding bias: uniform ±0.05, so even a featureless input has a
//!   direction; head bias 0;
//! - BatchNorm: γ = 1, β = 0, running mean 0, variance 1 (identity), except
//!   the input BatchNorm: mean −30 dB, variance 400 (std 20 dB), a priori
//!   figures for music log-mels, mapping them to roughly unit scale.

use std::path::Path;

use super::backend::ComputeDevice;
use super::dpnn::{Dpnn, DpnnConfig, ParamRequest, ParamValue};
use super::heads::{TagVocabulary, teacher_sources, teacher_vocabulary};
use super::record::{CARD_FORMAT, InputSpec, ModelCard, Provenance, WeightsInfo, save_dir};
use crate::{Error, Result};

/// Seed of the shipped `models/dpnn-init/`.
pub const INIT_SEED: u64 = 20_261_122;
/// Version string of the initial model, stored with every vector it makes.
pub const INIT_VERSION: &str = "dpnn-init-0.1";
/// Input BatchNorm running mean of the initial model, dB.
pub const INIT_INPUT_MEAN_DB: f32 = -30.0;
/// Input BatchNorm running variance of the initial model, dB².
pub const INIT_INPUT_VAR_DB2: f32 = 400.0;

/// SplitMix64: tiny, exact, platform-independent.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1): 24 random bits scaled by a power of two (exact).
    fn next_signed_unit(&mut self) -> f32 {
        let bits = (self.next_u64() >> 40) as u32; // 24 bits
        (bits as f32) * (1.0 / 8_388_608.0) - 1.0
    }
}

/// FNV-1a of a parameter path: a stable per-parameter stream id.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3))
}

/// Uniform values in [-bound, bound), shifted so each output unit's weights
/// have zero mean. `outer_is_output`: conv weights are `[out, in, kh, kw]`
/// (output unit = leading index); dense weights are `[in, out]` (output unit =
/// column).
fn zero_mean_uniform(rng: &mut SplitMix64, shape: &[usize], bound: f32, outer_is_output: bool) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let mut v: Vec<f32> = (0..n).map(|_| rng.next_signed_unit() * bound).collect();
    if outer_is_output {
        let per = n / shape[0];
        for unit in v.chunks_mut(per) {
            let mean = (unit.iter().map(|&x| f64::from(x)).sum::<f64>() / per as f64) as f32;
            unit.iter_mut().for_each(|x| *x -= mean);
        }
    } else {
        let (d_in, d_out) = (shape[0], shape[1]);
        for j in 0..d_out {
            let mean = ((0..d_in).map(|i| f64::from(v[i * d_out + j])).sum::<f64>() / d_in as f64) as f32;
            (0..d_in).for_each(|i| v[i * d_out + j] -= mean);
        }
    }
    v
}

/// Values of one parameter under scheme 1 (see the module documentation).
fn init_param(seed: u64, req: ParamRequest<'_>) -> ParamValue {
    let stream = seed ^ fnv1a(req.path);
    let id = SplitMix64(stream ^ 0x1D).next_u64();
    let mut rng = SplitMix64(stream);
    let n: usize = req.shape.iter().product();
    let p = req.path;
    let fill = |x: f32| vec![x; n];
    let values = if p == "input_bn.running_mean" {
        fill(INIT_INPUT_MEAN_DB)
    } else if p == "input_bn.running_var" {
        fill(INIT_INPUT_VAR_DB2)
    } else if p.ends_with(".gamma") || p.ends_with(".running_var") {
        fill(1.0)
    } else if p.ends_with(".beta") || p.ends_with(".running_mean") || p == "heads.bias" {
        fill(0.0)
    } else if p == "embedding.bias" {
        (0..n).map(|_| rng.next_signed_unit() * 0.05).collect()
    } else if p.ends_with("conv.weight") {
        let bound = (6.0 / req.fan_in as f32).sqrt();
        zero_mean_uniform(&mut rng, req.shape, bound, true)
    } else if p.ends_with(".weight") && req.shape.len() == 2 {
        let bound = (3.0 / req.fan_in as f32).sqrt();
        zero_mean_uniform(&mut rng, req.shape, bound, false)
    } else {
        // A parameter this scheme does not know: a new layer type was added
        // to the DPNN without teaching the initialiser. Small uniform values
        // keep the model usable; the unit test below catches it.
        (0..n).map(|_| rng.next_signed_unit() * 0.01).collect()
    };
    ParamValue { id, values }
}

/// Builds the deterministic initial network for `config` on `device`.
///
/// `vocab` must match `config.tags` (it is not stored in the network; it is
/// checked here so a mismatched pair fails early).
pub fn init_model(
    config: &DpnnConfig,
    vocab: &TagVocabulary,
    seed: u64,
    device: &ComputeDevice,
) -> Result<Dpnn> {
    if vocab.counts() != config.tags {
        return Err(Error::Invalid(format!(
            "vocabulary sizes {:?} do not match the configured heads {:?}",
            vocab.counts(),
            config.tags
        )));
    }
    Dpnn::build(config, &device.device, &mut |req| init_param(seed, req))
        .map_err(|e| Error::Invalid(format!("invalid network configuration: {e}")))
}

/// The model card of the initial model (weights description filled in by
/// [`save_dir`]).
pub fn init_card(config: &DpnnConfig, vocab: &TagVocabulary, seed: u64) -> ModelCard {
    ModelCard {
        format: CARD_FORMAT,
        name: "dpnn-init".into(),
        version: INIT_VERSION.into(),
        trained: false,
        description: "UNTRAINED deterministic initialisation of the DPNN, kept as the seeded starting point and \
                      as a known-meaningless reference for tests (the built-in model is the distilled one). Its \
                      embeddings are random projections \
                      of the log-mel and its tag scores are meaningless. Do not present its similarities or \
                      tags as musical judgements."
            .into(),
        weights: WeightsInfo {
            file: super::record::WEIGHTS_FILE.into(),
            format: "burnpack".into(),
            dtype: "f32".into(),
            bytes: 0,
            blake3: String::new(),
        },
        config: config.clone(),
        input: InputSpec::current(),
        vocabulary: vocab.clone(),
        teacher_tags: teacher_sources(),
        provenance: Provenance {
            method: "deterministic initialisation, untrained (no data seen)".into(),
            generator: "tuneatlas model init: src/model/init.rs, scheme 1 (zero-mean He-uniform, SplitMix64)"
                .into(),
            seed: Some(seed),
            teacher: None,
            data: None,
            parent: None,
            licence: "GPL-3.0-or-later (as tuneatlas; the values are generated, not learned)".into(),
        },
        metrics: Default::default(),
        untaught: Vec::new(),
    }
}

/// Writes the initial model directory (`model.toml` + `weights.bpk`) for
/// `seed` into `dir`: the default architecture and the teacher vocabulary.
/// Rerunning with the same seed gives byte-identical files on any machine.
///
/// This is what `tuneatlas model init --out DIR` runs and how the shipped
/// `models/dpnn-init/` was made (seed [`INIT_SEED`]).
pub fn write_init_model_dir(dir: &Path, seed: u64) -> Result<()> {
    let config = DpnnConfig::default();
    let vocab = teacher_vocabulary();
    // Built on the CPU: the values come from the host anyway, and this must
    // work on machines without any GPU.
    let device = ComputeDevice::cpu();
    let model = init_model(&config, &vocab, seed, &device)?;
    save_dir(dir, &init_card(&config, &vocab, seed), &model)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_values_are_exact_and_in_range() {
        let mut r = SplitMix64(1);
        for _ in 0..10_000 {
            let x = r.next_signed_unit();
            assert!((-1.0..1.0).contains(&x));
        }
        // Known first output of SplitMix64 seeded with 0 (reference value).
        assert_eq!(SplitMix64(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn every_parameter_is_known_to_the_scheme() {
        let config = DpnnConfig::default();
        let device = ComputeDevice::cpu();
        let mut unknown = Vec::new();
        Dpnn::build(&config, &device.device, &mut |req| {
            let known = req.path.starts_with("input_bn.")
                || req.path.ends_with(".gamma")
                || req.path.ends_with(".beta")
                || req.path.ends_with(".running_mean")
                || req.path.ends_with(".running_var")
                || req.path.ends_with(".weight")
                || req.path == "embedding.bias"
                || req.path == "heads.bias";
            if !known {
                unknown.push(req.path.to_string());
            }
            init_param(1, req)
        })
        .unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
    }

    #[test]
    fn weights_are_zero_mean_per_output_unit() {
        let mut rng = SplitMix64(7);
        let v = zero_mean_uniform(&mut rng, &[4, 3, 5, 5], 1.0, true);
        for unit in v.chunks(75) {
            assert!(unit.iter().sum::<f32>().abs() < 1e-4);
        }
        let v = zero_mean_uniform(&mut rng, &[50, 3], 1.0, false);
        for j in 0..3 {
            assert!((0..50).map(|i| v[i * 3 + j]).sum::<f32>().abs() < 1e-4);
        }
    }
}
