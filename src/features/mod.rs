//! Log-mel features: the model's input, computed from one 6 s mono clip.
//!
//! ARCHITECTURE.md §3 fixes every parameter here (22,050 Hz, Hann 2048, hop 1024,
//! centred reflect-padded frames, 80 Slaney mel bands 16 Hz–11 kHz, power in
//! dB), because the DPNN only understands features computed exactly the way
//! its training features were. `tests/it/features_golden.rs` checks the
//! output against librosa on fixed clips.
//!
//! The split: [`stft`] turns samples into power spectra, [`mel`] turns power
//! spectra into log-mel bands, and [`MelExtractor`] ties them together with
//! everything precomputed so a worker thread can run it hundreds of times a
//! second.

pub mod mel;
pub mod stft;

use std::borrow::Cow;

use mel::{MelFilterbank, power_to_db};
use stft::{PowerSpectrum, centred_frame};

/// Sample rate every clip is resampled to before feature extraction; the
/// mel band edges and the model assume it.
pub const SAMPLE_RATE_HZ: u32 = 22_050;
/// Samples in one clip: 6.0 s at [`SAMPLE_RATE_HZ`], the model's input span.
pub const CLIP_LEN_SAMPLES: usize = 132_300;
/// FFT size and Hann window length in samples (~93 ms): the frequency
/// resolution (10.8 Hz per bin) the lowest mel bands need.
pub const N_FFT: usize = 2048;
/// Samples between successive frames (50 % overlap), which yields
/// [`N_FRAMES`] frames per clip.
pub const HOP_LEN_SAMPLES: usize = 1024;
/// Number of mel bands: the height of the model input.
pub const N_MELS: usize = 80;
/// Frames per clip, `1 + CLIP_LEN_SAMPLES / HOP_LEN_SAMPLES`: the width of
/// the model input.
pub const N_FRAMES: usize = 130;
/// Lower edge of the lowest mel band, in Hz.
pub const FMIN_HZ: f32 = 16.0;
/// Upper edge of the highest mel band, in Hz (just under Nyquist, 11,025 Hz).
pub const FMAX_HZ: f32 = 11_000.0;

const _: () = assert!(N_FRAMES == 1 + CLIP_LEN_SAMPLES / HOP_LEN_SAMPLES);

/// Log-mel of one clip, row-major `[N_MELS][N_FRAMES]` (mel band major,
/// frame minor), in dB re 1.0 power, floored at −100 dB.
///
/// Why this layout: it is the model's `[1, 80, 130]` input plane as-is, and
/// the same layout as librosa's `(n_mels, t)` arrays, so it can be copied
/// into a tensor or compared with a `.npy` without reshuffling.
#[derive(Debug, Clone, PartialEq)]
pub struct LogMel {
    /// `N_MELS * N_FRAMES` values; `data[mel * N_FRAMES + frame]`.
    pub data: Vec<f32>,
}

impl LogMel {
    /// Value in dB of band `mel` (0 = lowest frequency) at frame `frame`.
    ///
    /// Panics if `mel >= N_MELS` or `frame >= N_FRAMES`.
    #[inline]
    pub fn get(&self, mel: usize, frame: usize) -> f32 {
        assert!(mel < N_MELS && frame < N_FRAMES, "log-mel index out of range");
        self.data[mel * N_FRAMES + frame]
    }
}

/// Reusable log-mel extractor: FFT plan, window, twiddles and sparse mel
/// filterbank are computed once in [`MelExtractor::new`] and only read by
/// [`MelExtractor::compute`].
///
/// Why a struct: building the plan and filterbank costs far more than one
/// clip's features, and import runs ~12 clips per track. It holds no mutable
/// state, so it is `Send + Sync`: create one per worker thread or share one
/// behind an `Arc`.
#[derive(Debug)]
pub struct MelExtractor {
    spectrum: PowerSpectrum,
    filterbank: MelFilterbank,
}

impl Default for MelExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl MelExtractor {
    /// Builds the extractor for the ARCHITECTURE.md §3 parameters (the constants of
    /// this module).
    pub fn new() -> Self {
        Self {
            spectrum: PowerSpectrum::new(N_FFT),
            filterbank: MelFilterbank::new(SAMPLE_RATE_HZ, N_FFT, N_MELS, FMIN_HZ, FMAX_HZ),
        }
    }

    /// Log-mel features of one mono clip at [`SAMPLE_RATE_HZ`].
    ///
    /// A clip shorter than [`CLIP_LEN_SAMPLES`] is zero-padded at the end (as
    /// ARCHITECTURE.md §3 says for short tracks), a longer one is truncated, and
    /// non-finite samples (NaN, ±∞ from a broken decoder) are treated as
    /// silence, so the result is always finite.
    pub fn compute(&self, clip: &[f32]) -> LogMel {
        // The common case (a full-length, finite clip) is used in place;
        // anything else is copied once into a clean, exact-length clip.
        let clip: Cow<'_, [f32]> = match clip.get(..CLIP_LEN_SAMPLES) {
            Some(exact) if exact.iter().all(|x| x.is_finite()) => Cow::Borrowed(exact),
            _ => {
                let mut clean = vec![0.0f32; CLIP_LEN_SAMPLES];
                for (dst, &src) in clean.iter_mut().zip(clip) {
                    *dst = if src.is_finite() { src } else { 0.0 };
                }
                Cow::Owned(clean)
            }
        };

        let mut scratch = self.spectrum.make_scratch();
        let mut edge_buf = Vec::with_capacity(N_FFT);
        let mut power = vec![0.0f32; self.spectrum.n_bins()];
        let mut data = vec![0.0f32; N_MELS * N_FRAMES];
        for frame in 0..N_FRAMES {
            let samples = centred_frame(&clip, frame * HOP_LEN_SAMPLES, N_FFT, &mut edge_buf);
            self.spectrum.frame_power(samples, &mut scratch, &mut power);
            for mel in 0..N_MELS {
                data[mel * N_FRAMES + frame] = power_to_db(self.filterbank.band_power(mel, &power));
            }
        }
        LogMel { data }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn sine(freq_hz: f64, amp: f64, len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| (amp * (2.0 * PI * freq_hz * n as f64 / SAMPLE_RATE_HZ as f64).sin()) as f32)
            .collect()
    }

    #[test]
    fn extractor_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<MelExtractor>();
        assert_send_sync::<LogMel>();
    }

    #[test]
    fn silence_is_minus_100_db() {
        let lm = MelExtractor::new().compute(&vec![0.0; CLIP_LEN_SAMPLES]);
        assert_eq!(lm.data.len(), N_MELS * N_FRAMES);
        assert!(lm.data.iter().all(|&v| v == -100.0));
    }

    #[test]
    fn non_finite_input_gives_finite_output() {
        let mut clip = sine(440.0, 0.5, CLIP_LEN_SAMPLES);
        clip[1000] = f32::NAN;
        clip[50_000] = f32::INFINITY;
        clip[90_000] = f32::NEG_INFINITY;
        let lm = MelExtractor::new().compute(&clip);
        assert!(lm.data.iter().all(|v| v.is_finite()));
        // All-NaN is silence.
        let lm = MelExtractor::new().compute(&vec![f32::NAN; CLIP_LEN_SAMPLES]);
        assert!(lm.data.iter().all(|&v| v == -100.0));
    }

    #[test]
    fn short_clip_is_zero_padded_and_long_truncated() {
        let ex = MelExtractor::new();
        let short = sine(440.0, 0.5, 50_000);
        let mut padded = short.clone();
        padded.resize(CLIP_LEN_SAMPLES, 0.0);
        assert_eq!(ex.compute(&short), ex.compute(&padded));

        let long = sine(440.0, 0.5, CLIP_LEN_SAMPLES + 10_000);
        assert_eq!(ex.compute(&long), ex.compute(&long[..CLIP_LEN_SAMPLES]));
        assert_eq!(ex.compute(&[]).data, vec![-100.0; N_MELS * N_FRAMES]);
    }

    #[test]
    fn tone_lands_in_the_right_band() {
        let ex = MelExtractor::new();
        let lm = ex.compute(&sine(1000.0, 0.5, CLIP_LEN_SAMPLES));
        let frame = 60;
        let loudest = (0..N_MELS).max_by(|&a, &b| lm.get(a, frame).total_cmp(&lm.get(b, frame))).unwrap();
        // Band centres are evenly spaced in Slaney mel between 16 Hz and
        // 11 kHz; the loudest band is the one whose centre is nearest 1 kHz.
        let lo = mel::hz_to_mel_slaney(FMIN_HZ as f64);
        let hi = mel::hz_to_mel_slaney(FMAX_HZ as f64);
        let step = (hi - lo) / (N_MELS + 1) as f64;
        let expected = ((mel::hz_to_mel_slaney(1000.0) - lo) / step - 1.0).round() as usize;
        assert_eq!(loudest, expected);
        // Steady tone: the middle frames agree with each other.
        assert!((lm.get(loudest, 40) - lm.get(loudest, 80)).abs() < 0.01);
    }

    /// Throughput figure: `cargo test --release --lib features::tests::bench_clips_per_second -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bench_clips_per_second() {
        let ex = MelExtractor::new();
        let mut state = 1u32;
        let clip: Vec<f32> = (0..CLIP_LEN_SAMPLES)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        for _ in 0..20 {
            std::hint::black_box(ex.compute(&clip));
        }
        let n = 1000;
        let t0 = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(ex.compute(std::hint::black_box(&clip)));
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "MelExtractor::compute: {:.0} clips/s ({:.1} µs/clip, one thread)",
            n as f64 / secs,
            secs / n as f64 * 1e6
        );
    }
}
