//! Band-limited resampling of mono audio to the model's 22,050 Hz.
//!
//! The model (ARCHITECTURE.md §3) is fed 22,050 Hz audio, and files come at anything
//! from 8 kHz to 192 kHz. Naive interpolation would alias everything above
//! the new Nyquist (11,025 Hz) back into the band the mel filterbank reads, so
//! we use rubato's band-limited resampler: a windowed-sinc (Blackman–Harris²)
//! anti-aliasing filter of 1,000+ taps, applied by FFT. For a fixed pair of
//! rates this is rubato's recommended resampler: the same quality as its
//! asynchronous sinc resampler with `sinc_len` 256, at about 1/8 of the cost
//! (measured: 12 clips from 44.1 kHz in 34 ms vs 267 ms), which matters because
//! resampling would otherwise cost more than decoding.
//!
//! Clips are cut by time, so the resampler must also be *timing-exact*: rubato
//! trims its filter delay only to a whole output sample, and [`Resampler`]
//! removes the fractional rest by padding the input with a few leading zeros
//! chosen so that the total delay becomes (almost exactly) a whole number of
//! output samples, which are then dropped. Output sample `k` is the signal at
//! input time `k / 22,050 s` (to within 1 µs, see the tests).

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _, audioadapter_buffers};

use crate::{Error, Result};

use crate::features::SAMPLE_RATE_HZ as TARGET_SAMPLE_RATE_HZ;

/// Lowest input rate accepted (telephone-quality files go down to 8 kHz; a
/// little slack below that).
pub const MIN_INPUT_RATE_HZ: u32 = 4_000;

/// Highest input rate accepted (studio masters go up to 384 kHz).
pub const MAX_INPUT_RATE_HZ: u32 = 768_000;

/// Target FFT block in input frames. rubato rounds it up to a whole number of
/// the rates' minimal block (rate / gcd(rate, 22,050)); the anti-aliasing
/// filter is that long, so ~1,000 taps give a steep transition band and
/// > 100 dB stop band.
pub(crate) const CHUNK_FRAMES: usize = 1024;

/// How many leading zero samples we may add to cancel the fractional part of
/// the filter delay (searched exhaustively; for the common rates this leaves
/// under 1/100 of an output sample, i.e. below 0.5 µs).
const MAX_LEAD_PAD: usize = 512;

/// Converts mono `f32` audio from one fixed rate to [`TARGET_SAMPLE_RATE_HZ`].
///
/// Planning the FFTs and the filter costs about a millisecond, so one
/// `Resampler` is made per file (per source rate) and reused for all its
/// clips. At 22,050 Hz input it is a plain copy.
pub struct Resampler {
    from_hz: u32,
    fft: Option<FftState>,
}

/// The rubato state plus the delay bookkeeping that makes it timing-exact.
struct FftState {
    inner: Box<Fft<f32>>,
    /// Output rate / input rate.
    ratio: f64,
    /// Zeros prepended to every input.
    lead_pad: usize,
    /// Output samples dropped after rubato's own delay trim.
    skip_out: usize,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("from_hz", &self.from_hz)
            .field("bypass", &self.fft.is_none())
            .finish()
    }
}

impl Resampler {
    /// Makes a resampler from `from_hz` to 22,050 Hz.
    ///
    /// Rates outside [`MIN_INPUT_RATE_HZ`]..=[`MAX_INPUT_RATE_HZ`] are refused
    /// (they come from corrupt headers, not real files).
    pub fn new(from_hz: u32) -> Result<Self> {
        if !(MIN_INPUT_RATE_HZ..=MAX_INPUT_RATE_HZ).contains(&from_hz) {
            return Err(Error::Invalid(format!(
                "cannot resample from {from_hz} Hz (supported: {MIN_INPUT_RATE_HZ}–{MAX_INPUT_RATE_HZ} Hz)"
            )));
        }
        if from_hz == TARGET_SAMPLE_RATE_HZ {
            return Ok(Resampler { from_hz, fft: None });
        }
        let (rate_in, rate_out) = (from_hz as usize, TARGET_SAMPLE_RATE_HZ as usize);
        let inner = Fft::<f32>::new(rate_in, rate_out, CHUNK_FRAMES, 1, FixedSync::Both)
            .map_err(|e| Error::Invalid(format!("cannot build resampler from {from_hz} Hz: {e}")))?;
        let ratio = f64::from(TARGET_SAMPLE_RATE_HZ) / f64::from(from_hz);
        let (fft_in, _) = fft_block_sizes(rate_in, rate_out);
        let filter_delay_in = fft_in as f64 / 2.0;
        let (lead_pad, skip_out) = delay_compensation(ratio, filter_delay_in, inner.output_delay());
        Ok(Resampler { from_hz, fft: Some(FftState { inner: Box::new(inner), ratio, lead_pad, skip_out }) })
    }

    /// The input rate this resampler was made for.
    pub fn from_hz(&self) -> u32 {
        self.from_hz
    }

    /// Number of output samples [`process`](Self::process) returns for
    /// `input_len` input samples: ⌈input_len · 22,050 / from_hz⌉, i.e. the
    /// output covers exactly the input's time span.
    pub fn output_len(&self, input_len: usize) -> usize {
        match &self.fft {
            None => input_len,
            Some(s) => (input_len as f64 * s.ratio).ceil() as usize,
        }
    }

    /// Resamples `input` (mono, `from_hz`) to 22,050 Hz; output sample `k`
    /// is the band-limited signal at time `k / 22,050 s` after input sample
    /// 0. Samples outside `input` count as silence, so the first and last few
    /// milliseconds feel the filter's edges: callers that cut clips pass a
    /// margin of context on both sides and trim it afterwards.
    pub fn process(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        let Some(s) = &mut self.fft else {
            return Ok(input.to_vec());
        };
        let out_len = (input.len() as f64 * s.ratio).ceil() as usize;
        if input.is_empty() {
            return Ok(Vec::new());
        }
        // Enough trailing silence that rubato produces skip_out + out_len samples.
        let tail_pad = (s.skip_out as f64 / s.ratio).ceil() as usize + 2;
        let mut padded = Vec::with_capacity(s.lead_pad + input.len() + tail_pad);
        padded.resize(s.lead_pad, 0.0);
        padded.extend_from_slice(input);
        padded.resize(padded.len() + tail_pad, 0.0);

        let frames = padded.len();
        let adapter = InterleavedSlice::new(&padded, 1, frames)
            .map_err(|e| Error::Invalid(format!("resampler input: {e}")))?;
        let out = s
            .inner
            .process_all(&adapter, frames, None)
            .map_err(|e| Error::Invalid(format!("resampling failed: {e}")))?;
        let data = out.take_data();
        let end = (s.skip_out + out_len).min(data.len());
        let mut result = data.get(s.skip_out..end).map(<[f32]>::to_vec).unwrap_or_default();
        result.resize(out_len, 0.0);
        Ok(result)
    }
}

/// Resamples a whole mono buffer from `from_hz` to 22,050 Hz (convenience
/// for one-off use; keep a [`Resampler`] to convert many buffers).
pub fn resample_to_target(input: &[f32], from_hz: u32) -> Result<Vec<f32>> {
    Resampler::new(from_hz)?.process(input)
}

/// The FFT block sizes (input, output) rubato 5's `Fft::new` picks with
/// `FixedSync::Both`: the chunk rounded up to whole minimal blocks
/// `rate / gcd(rate_in, rate_out)`. The anti-aliasing filter has `fft_in`
/// taps, so its delay is `fft_in / 2` input samples.
pub(crate) fn fft_block_sizes(rate_in: usize, rate_out: usize) -> (usize, usize) {
    let (mut a, mut b) = (rate_in, rate_out);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    let gcd = a.max(1);
    let chunks = CHUNK_FRAMES.div_ceil(rate_in / gcd).max(1);
    (chunks * rate_in / gcd, chunks * rate_out / gcd)
}

/// The filter delays the signal by `filter_delay_in` input samples, i.e.
/// `filter_delay_in · ratio` output samples, of which `process_all` trims only
/// `trimmed_out` (its whole part). Returns `(lead_pad, skip_out)`: prepending
/// `lead_pad` zeros makes the remaining delay
/// `(filter_delay_in + lead_pad) · ratio − trimmed_out` as close as possible to
/// the whole number `skip_out` of output samples to drop.
pub(crate) fn delay_compensation(ratio: f64, filter_delay_in: f64, trimmed_out: usize) -> (usize, usize) {
    let mut best = (0usize, 0usize, f64::INFINITY);
    for lead_pad in 0..=MAX_LEAD_PAD {
        let rest = (filter_delay_in + lead_pad as f64) * ratio - trimmed_out as f64;
        if rest < -0.5 {
            continue;
        }
        let skip = rest.round().max(0.0);
        let err = (rest - skip).abs();
        if err < best.2 - 1e-9 {
            best = (lead_pad, skip as usize, err);
        }
    }
    (best.0, best.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn sine(freq_hz: f64, rate_hz: u32, len: usize) -> Vec<f32> {
        (0..len).map(|n| (2.0 * PI * freq_hz * n as f64 / f64::from(rate_hz)).sin() as f32).collect()
    }

    /// Complex amplitude of `freq_hz` in `x[range]` (sampled at `rate_hz`),
    /// as (magnitude, phase) of Σ x[n]·e^{−i2πfn/rate}, normalised so a unit
    /// sine gives magnitude 1.
    fn tone(x: &[f32], rate_hz: u32, freq_hz: f64, range: std::ops::Range<usize>) -> (f64, f64) {
        let (mut re, mut im) = (0.0, 0.0);
        let n = range.len() as f64;
        for i in range {
            let w = 2.0 * PI * freq_hz * i as f64 / f64::from(rate_hz);
            re += f64::from(x[i]) * w.cos();
            im -= f64::from(x[i]) * w.sin();
        }
        ((re * re + im * im).sqrt() * 2.0 / n, im.atan2(re))
    }

    #[test]
    fn one_khz_sine_keeps_frequency_length_and_phase() {
        for rate in [44_100u32, 48_000, 8_000, 96_000, 11_025, 192_000] {
            let input = sine(1000.0, rate, rate as usize); // 1 s
            let mut rs = Resampler::new(rate).expect("resampler");
            let out = rs.process(&input).expect("process");
            assert_eq!(out.len(), 22_050, "length at {rate} Hz");
            assert_eq!(rs.output_len(input.len()), 22_050);
            // Away from the edges, the output must be the ideal 1 kHz sine
            // sampled at 22,050 Hz: same magnitude and phase (no delay).
            let ideal = sine(1000.0, TARGET_SAMPLE_RATE_HZ, 22_050);
            let mid = 2_205..19_845; // full 1 kHz periods: 17,640 samples = 800 periods
            let (mag, phase) = tone(&out, TARGET_SAMPLE_RATE_HZ, 1000.0, mid.clone());
            let (mag0, phase0) = tone(&ideal, TARGET_SAMPLE_RATE_HZ, 1000.0, mid.clone());
            let delay_us = (phase0 - phase) / (2.0 * PI * 1000.0) * 1e6;
            assert!((mag / mag0 - 1.0).abs() < 0.01, "{rate} Hz: gain {}", mag / mag0);
            eprintln!("{rate} Hz: residual delay {delay_us:+.3} µs");
            assert!(delay_us.abs() < 1.0, "{rate} Hz: delay {delay_us:.3} µs");
            let max_err = mid.map(|i| (out[i] - ideal[i]).abs()).fold(0.0f32, f32::max);
            assert!(max_err < 5e-3, "{rate} Hz: max |Δ| {max_err}");
        }
    }

    #[test]
    fn tone_above_new_nyquist_is_removed() {
        let input = sine(15_000.0, 48_000, 48_000);
        let out = resample_to_target(&input, 48_000).expect("resample");
        let mid = &out[1_000..21_000];
        let rms = (mid.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / mid.len() as f64).sqrt();
        let rms_in = 0.5f64.sqrt();
        let atten_db = 20.0 * (rms_in / rms.max(1e-12)).log10();
        eprintln!("15 kHz at 48 kHz: attenuated by {atten_db:.1} dB");
        assert!(atten_db > 40.0, "15 kHz only attenuated by {atten_db:.1} dB");
    }

    #[test]
    fn native_rate_is_a_copy() {
        let input = sine(440.0, 22_050, 1000);
        let mut rs = Resampler::new(22_050).expect("resampler");
        assert_eq!(rs.process(&input).expect("process"), input);
    }

    #[test]
    fn block_sizes_match_rubato() {
        for rate in [8_000usize, 11_025, 16_000, 32_000, 44_100, 48_000, 88_200, 96_000, 192_000] {
            let (fft_in, fft_out) = fft_block_sizes(rate, 22_050);
            let rs = Fft::<f32>::new(rate, 22_050, CHUNK_FRAMES, 1, FixedSync::Both).expect("fft");
            assert_eq!(rs.output_delay(), fft_out / 2, "{rate} Hz");
            assert!(fft_in >= CHUNK_FRAMES, "{rate} Hz: {fft_in}");
        }
    }

    #[test]
    fn impulse_lands_on_the_right_sample() {
        // An impulse at input time 0.2 s must peak at output 0.2·22,050 = 4410.
        for rate in [44_100u32, 48_000, 16_000] {
            let mut input = vec![0.0f32; rate as usize / 2];
            input[rate as usize / 5] = 1.0;
            let out = resample_to_target(&input, rate).expect("resample");
            let peak =
                out.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).expect("non-empty");
            assert_eq!(peak, 4410, "{rate} Hz");
        }
    }

    #[test]
    fn odd_rates_are_refused() {
        assert!(Resampler::new(0).is_err());
        assert!(Resampler::new(1_000_000).is_err());
    }

    #[test]
    fn empty_input_gives_empty_output() {
        assert!(resample_to_target(&[], 44_100).expect("resample").is_empty());
    }
}
