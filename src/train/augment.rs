//! Training-time augmentation on cached log-mels.
//!
//! Why on log-mels rather than audio: the features are cached (see
//! [`super::features`]), and every augmentation we want has an exact or close
//! equivalent in the dB-mel domain — a gain is a constant added to every bin;
//! a small time shift moves frames; light noise adds power; a mix of two clips
//! adds their powers. The network sees variations the corpus lacks (levels,
//! alignment, noise floors) without a second decode.
//!
//! Every draw comes from the caller's seeded RNG, so a batch is a pure
//! function of (seed, step) and a resumed run sees exactly the batches an
//! uninterrupted one would.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::features::{N_FRAMES, N_MELS};

/// dB floor of the log-mel (the extractor's `10·log10(1e-10)`).
pub const FLOOR_DB: f32 = -100.0;

/// Augmentation strengths (all optional; zero disables a kind).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// Random gain, uniform in ±`gain_db` dB.
    pub gain_db: f32,
    /// Random time shift, uniform in ±`shift_frames` frames (46 ms each);
    /// the frames shifted in repeat the edge frame.
    pub shift_frames: usize,
    /// Probability of adding light noise.
    pub noise_prob: f32,
    /// Noise level range in dB below the clip's loudest bin.
    pub noise_below_peak_db: [f32; 2],
    /// Probability that a clip is mixed with another clip of the batch
    /// (targets mixed alike; mixed clips take no part in triplets).
    pub mix_prob: f32,
    /// Weight of the original clip in a mix, uniform in this range.
    pub mix_weight: [f32; 2],
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            gain_db: 6.0,
            shift_frames: 3,
            noise_prob: 0.3,
            noise_below_peak_db: [35.0, 60.0],
            mix_prob: 0.15,
            mix_weight: [0.6, 0.9],
        }
    }
}

impl AugmentConfig {
    /// No augmentation (validation, evaluation).
    pub fn none() -> Self {
        AugmentConfig {
            gain_db: 0.0,
            shift_frames: 0,
            noise_prob: 0.0,
            noise_below_peak_db: [60.0, 60.0],
            mix_prob: 0.0,
            mix_weight: [1.0, 1.0],
        }
    }
}

fn to_power(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

fn to_db(power: f32) -> f32 {
    (10.0 * power.max(1e-10).log10()).max(FLOOR_DB)
}

/// Adds `gain_db` to every bin, keeping the floor.
pub fn apply_gain(clip: &mut [f32], gain_db: f32) {
    for v in clip.iter_mut() {
        *v = (*v + gain_db).max(FLOOR_DB);
    }
}

/// Shifts the clip by `frames` (positive: later), repeating the edge frame.
pub fn apply_shift(clip: &mut [f32], frames: isize) {
    if frames == 0 {
        return;
    }
    for row in clip.chunks_exact_mut(N_FRAMES) {
        let src = row.to_vec();
        for (t, v) in row.iter_mut().enumerate() {
            let from = (t as isize - frames).clamp(0, N_FRAMES as isize - 1) as usize;
            *v = src[from];
        }
    }
}

/// Adds noise `below_peak_db` dB under the clip's loudest bin, with a
/// per-bin random level (±3 dB), as a noise floor would appear in a mel band.
pub fn apply_noise(clip: &mut [f32], below_peak_db: f32, rng: &mut impl Rng) {
    let peak = clip.iter().copied().fold(FLOOR_DB, f32::max);
    let level = to_power(peak - below_peak_db);
    for v in clip.iter_mut() {
        let jitter = to_power(rng.random_range(-3.0..3.0));
        *v = to_db(to_power(*v) + level * jitter);
    }
}

/// Mixes `other` into `clip` in the power domain: `w·clip + (1 − w)·other`.
pub fn mix_into(clip: &mut [f32], other: &[f32], weight: f32) {
    for (v, o) in clip.iter_mut().zip(other) {
        *v = to_db(weight * to_power(*v) + (1.0 - weight) * to_power(*o));
    }
}

/// Applies gain, shift and noise (not mixing, which needs a partner; see
/// [`mix_into`]) to one clip, drawing from `rng`.
pub fn augment_clip(clip: &mut [f32], cfg: &AugmentConfig, rng: &mut impl Rng) {
    debug_assert_eq!(clip.len(), N_MELS * N_FRAMES);
    if cfg.gain_db > 0.0 {
        apply_gain(clip, rng.random_range(-cfg.gain_db..=cfg.gain_db));
    }
    if cfg.shift_frames > 0 {
        let s = cfg.shift_frames.min(N_FRAMES) as i32;
        apply_shift(clip, rng.random_range(-s..=s) as isize);
    }
    if cfg.noise_prob > 0.0 && rng.random::<f32>() < cfg.noise_prob {
        let [lo, hi] = cfg.noise_below_peak_db;
        apply_noise(clip, if hi > lo { rng.random_range(lo..hi) } else { lo }, rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn clip() -> Vec<f32> {
        (0..N_MELS * N_FRAMES)
            .map(|i| -80.0 + (i % N_FRAMES) as f32 * 0.5 + (i / N_FRAMES) as f32 * 0.1)
            .collect()
    }

    #[test]
    fn gain_adds_decibels_and_keeps_the_floor() {
        let mut c = vec![-99.0, -50.0, 0.0];
        apply_gain(&mut c, -3.0);
        assert_eq!(c, [-100.0, -53.0, -3.0]);
    }

    #[test]
    fn shift_moves_frames_and_repeats_the_edge() {
        let orig = clip();
        let mut c = orig.clone();
        apply_shift(&mut c, 2);
        assert_eq!(c[5], orig[3]);
        assert_eq!(c[0], orig[0]);
        assert_eq!(c[1], orig[0]);
        let mut c = orig.clone();
        apply_shift(&mut c, -2);
        assert_eq!(c[N_FRAMES - 1], orig[N_FRAMES - 1]);
        assert_eq!(c[3], orig[5]);
    }

    #[test]
    fn noise_is_light_and_mixing_adds_power() {
        let orig = clip();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut c = orig.clone();
        apply_noise(&mut c, 40.0, &mut rng);
        let peak = orig.iter().copied().fold(f32::MIN, f32::max);
        for (a, b) in orig.iter().zip(&c) {
            assert!(b >= a, "noise only adds power");
            if *a > peak - 20.0 {
                assert!(b - a < 0.1, "loud bins barely change: {a} → {b}");
            }
        }
        let mut m = vec![-100.0, 0.0];
        mix_into(&mut m, &[0.0, 0.0], 0.5);
        assert!((m[0] - to_db(0.5)).abs() < 1e-4 && m[1].abs() < 1e-4);
    }

    #[test]
    fn augmentation_is_reproducible_from_the_seed() {
        let cfg = AugmentConfig::default();
        let run = |seed| {
            let mut c = clip();
            augment_clip(&mut c, &cfg, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
            c
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        assert!(run(5).iter().all(|v| v.is_finite() && *v >= FLOOR_DB));
        let mut c = clip();
        augment_clip(&mut c, &AugmentConfig::none(), &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
        assert_eq!(c, clip());
    }
}
