//! A clip window being assembled from decoded audio, and the channel downmix.

use super::{CLIP_LEN_SAMPLES, MARGIN_OUT_SAMPLES, TARGET_SAMPLE_RATE_HZ};
use crate::Result;
use crate::audio::clips::CLIP_LEN_S;
use crate::audio::resample::Resampler;

/// One clip being assembled: native-rate mono samples over [lo, hi).
pub(super) struct Window {
    pub(super) start_s: f64,
    /// First native sample index covered (may be negative: before the audio).
    pub(super) lo: i64,
    /// One past the last native sample index covered.
    pub(super) hi: i64,
    pub(super) samples: Vec<f32>,
    /// The finished 22,050 Hz clip (then `samples` is freed).
    pub(super) clip: Option<Vec<f32>>,
}

impl Window {
    /// The window for a clip starting at `start_s`, with resampler context.
    /// `lo` is chosen so that the clip start falls (as nearly as the native
    /// sample grid allows) on a whole output sample after `lo`.
    pub(super) fn new(start_s: f64, rate_hz: u32) -> Window {
        let rate = f64::from(rate_hz);
        let target = f64::from(TARGET_SAMPLE_RATE_HZ);
        let margin_s = MARGIN_OUT_SAMPLES as f64 / target;
        let lo = ((start_s - margin_s) * rate).round() as i64;
        let hi = ((start_s + CLIP_LEN_S + margin_s) * rate).ceil() as i64 + 1;
        // No samples yet: a window is only given memory once audio reaches
        // it, so a header that promises hours of audio at a huge rate costs
        // nothing until the data is really there.
        Window { start_s, lo, hi, samples: Vec::new(), clip: None }
    }

    /// Native samples the window spans.
    fn len(&self) -> usize {
        usize::try_from(self.hi - self.lo).unwrap_or(0)
    }

    pub(super) fn is_done(&self) -> bool {
        self.clip.is_some()
    }

    /// Forgets what was decoded into an unfinished window.
    pub(super) fn clear(&mut self) {
        self.samples = Vec::new();
    }

    /// Resamples the window into its clip and frees the native samples. A
    /// window no audio reached is silence and needs no resampling.
    pub(super) fn finish(&mut self, resampler: &mut Resampler) -> Result<()> {
        let clip =
            if self.samples.is_empty() { vec![0.0; CLIP_LEN_SAMPLES] } else { self.to_clip(resampler)? };
        self.samples = Vec::new();
        self.clip = Some(clip);
        Ok(())
    }

    /// Copies `mono` (whose first sample is at native index `start`) into the
    /// window, ignoring samples before `keep_from`.
    pub(super) fn write(&mut self, start: i64, mono: &[f32], keep_from: i64) {
        if self.is_done() {
            return;
        }
        let end = start + mono.len() as i64;
        let from = start.max(self.lo).max(keep_from);
        let to = end.min(self.hi);
        if from >= to {
            return;
        }
        if self.samples.is_empty() {
            self.samples = vec![0.0; self.len()];
        }
        let (src, dst) = ((from - start) as usize, (from - self.lo) as usize);
        let n = (to - from) as usize;
        self.samples[dst..dst + n].copy_from_slice(&mono[src..src + n]);
    }

    /// Resamples the window and cuts exactly [`CLIP_LEN_SAMPLES`] from the
    /// output sample that corresponds to `start_s`.
    fn to_clip(&self, resampler: &mut Resampler) -> Result<Vec<f32>> {
        let out = resampler.process(&self.samples)?;
        let rate = f64::from(resampler.from_hz());
        let offset_out = ((self.start_s - self.lo as f64 / rate) * f64::from(TARGET_SAMPLE_RATE_HZ)).round();
        let offset = if offset_out > 0.0 { offset_out as usize } else { 0 };
        let mut clip: Vec<f32> = out.iter().skip(offset).take(CLIP_LEN_SAMPLES).copied().collect();
        clip.resize(CLIP_LEN_SAMPLES, 0.0);
        // Codecs can emit NaN/inf on garbage input; the model must never see them.
        for v in &mut clip {
            if !v.is_finite() {
                *v = 0.0;
            }
        }
        Ok(clip)
    }
}

/// Averages interleaved `channels` in place; returns the mono prefix.
pub(super) fn downmix_in_place(interleaved: &mut [f32], channels: usize) -> &[f32] {
    if channels <= 1 {
        return interleaved;
    }
    let frames = interleaved.len() / channels;
    let scale = 1.0 / channels as f32;
    for f in 0..frames {
        let sum: f32 = interleaved[f * channels..(f + 1) * channels].iter().sum();
        interleaved[f] = sum * scale;
    }
    &interleaved[..frames]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_averages_channels() {
        let mut v = vec![1.0, 3.0, -1.0, 1.0];
        assert_eq!(downmix_in_place(&mut v, 2), &[2.0, 0.0]);
        let mut m = vec![0.5, 0.25];
        assert_eq!(downmix_in_place(&mut m, 1), &[0.5, 0.25]);
    }

    #[test]
    fn windows_put_the_clip_start_on_an_output_sample() {
        for rate in [8_000u32, 22_050, 44_100, 48_000] {
            let w = Window::new(12.345, rate);
            let off = (12.345 - w.lo as f64 / f64::from(rate)) * f64::from(TARGET_SAMPLE_RATE_HZ);
            let max_err = 0.5 * f64::from(TARGET_SAMPLE_RATE_HZ) / f64::from(rate) + 1e-9;
            assert!((off - off.round()).abs() <= max_err.min(0.5) + 1e-9, "{rate}: {off}");
            assert!(w.hi - w.lo > (CLIP_LEN_S * f64::from(rate)) as i64);
        }
    }
}
