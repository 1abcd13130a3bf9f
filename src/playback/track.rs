//! One track in the player's output format: decoded, mapped to stereo and
//! resampled to the device's rate.
//!
//! The player mixes everything (the main track, the next one for gapless
//! playback, a hover audition, fade tails) into one stream of fixed format
//! ([`OutputFormat`]), so each track is converted on its way in rather than
//! leaving rate conversion to rodio's mixer: rodio converts per *span* with
//! linear interpolation and restarts at every span boundary, whereas
//! [`TrackSource`] keeps one band-limited rubato resampler running across the
//! whole track (the same FFT resampler the import uses for clips).
//!
//! A [`TrackSource`] is also a [`rodio::Source`], so a test (or the command
//! line) can pull exactly what the player would send to the speakers.

use std::num::{NonZeroU16, NonZeroU32};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler as _};

use crate::audio::PcmStream;
use crate::audio::resample::{
    CHUNK_FRAMES as RESAMPLER_CHUNK_FRAMES, MAX_INPUT_RATE_HZ, MIN_INPUT_RATE_HZ, delay_compensation,
    fft_block_sizes,
};
use crate::{Error, Result};

/// Samples per frame of everything the player produces (stereo; the device
/// mixer maps it to the device's channels).
pub const OUTPUT_CHANNELS: usize = 2;

/// The format the player renders in: stereo `f32` at one sample rate (the
/// output device's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputFormat {
    rate_hz: NonZeroU32,
}

impl OutputFormat {
    /// Stereo at `sample_rate_hz`; rates outside what a file or device can
    /// have (4 kHz – 768 kHz) are refused.
    pub fn new(sample_rate_hz: u32) -> Result<OutputFormat> {
        let rate_hz = NonZeroU32::new(sample_rate_hz)
            .filter(|_| (MIN_INPUT_RATE_HZ..=MAX_INPUT_RATE_HZ).contains(&sample_rate_hz))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "output sample rate {sample_rate_hz} Hz is out of range \
                     ({MIN_INPUT_RATE_HZ}–{MAX_INPUT_RATE_HZ} Hz)"
                ))
            })?;
        Ok(OutputFormat { rate_hz })
    }

    /// Frames per second.
    pub fn sample_rate_hz(&self) -> u32 {
        self.rate_hz.get()
    }

    /// The rate as rodio wants it.
    pub(crate) fn rate(&self) -> NonZeroU32 {
        self.rate_hz
    }

    /// Output frames in `seconds` (rounded to the nearest frame).
    pub fn frames_in(&self, seconds: f64) -> u64 {
        (seconds.max(0.0) * f64::from(self.sample_rate_hz())).round() as u64
    }
}

/// A track being played: a [`PcmStream`] converted to an [`OutputFormat`].
///
/// Pull it with [`fill`](Self::fill) (or as an iterator of samples). It ends
/// at the end of the audio or at the first unrecoverable error, which
/// [`take_error`](Self::take_error) then returns.
pub struct TrackSource {
    stream: PcmStream,
    format: OutputFormat,
    duration_s: f64,
    /// Gains (left, right) of each input channel.
    matrix: Vec<[f32; 2]>,
    resampler: Option<StreamResampler>,
    /// Output samples ready to hand out: `ready[ready_from..]`.
    ready: Vec<f32>,
    ready_from: usize,
    /// Scratch: the current chunk mapped to stereo at the input rate.
    stereo: Vec<f32>,
    /// Output samples handed out since `base_s`.
    samples_out: u64,
    /// File time of the first sample handed out after the last seek.
    base_s: f64,
    ended: bool,
    error: Option<Error>,
}

impl std::fmt::Debug for TrackSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackSource")
            .field("path", &self.stream.path())
            .field("format", &self.format)
            .field("position_s", &self.position_s())
            .finish()
    }
}

impl TrackSource {
    /// Opens `path` for playback in `format`. Errors name the file and say
    /// why it cannot be played (see [`crate::audio::AudioFile::open`]).
    pub fn open(path: &Path, format: OutputFormat) -> Result<TrackSource> {
        TrackSource::from_stream(PcmStream::open(path)?, format)
    }

    /// Converts an opened stream to `format` (builds the resampler, ~1 ms, so
    /// do it off the audio thread).
    pub fn from_stream(stream: PcmStream, format: OutputFormat) -> Result<TrackSource> {
        let rate_hz = stream.sample_rate_hz();
        let resampler = if rate_hz == format.sample_rate_hz() {
            None
        } else {
            Some(
                StreamResampler::new(rate_hz, format.sample_rate_hz())
                    .map_err(|e| Error::decode(e.to_string(), stream.path()))?,
            )
        };
        Ok(TrackSource {
            duration_s: stream.info().duration_s,
            matrix: stereo_matrix(stream.channels()),
            stream,
            format,
            resampler,
            ready: Vec::new(),
            ready_from: 0,
            stereo: Vec::new(),
            samples_out: 0,
            base_s: 0.0,
            ended: false,
            error: None,
        })
    }

    /// The file being played.
    pub fn path(&self) -> &Path {
        self.stream.path()
    }

    /// The track's playable duration in seconds (from [`crate::audio::AudioInfo`]).
    pub fn duration_s(&self) -> f64 {
        self.duration_s
    }

    /// The format this source produces.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// File time in seconds of the next frame handed out.
    pub fn position_s(&self) -> f64 {
        let frames = self.samples_out / OUTPUT_CHANNELS as u64;
        self.base_s + frames as f64 / f64::from(self.format.sample_rate_hz())
    }

    /// True once the audio (or an error) has ended the track and every
    /// converted sample has been handed out.
    pub fn is_finished(&self) -> bool {
        self.ended && self.ready_from >= self.ready.len()
    }

    /// The error that ended the track early, if any (once).
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// Writes up to `out.len() / 2` stereo frames into `out`; returns how
    /// many. Fewer than asked means the track has ended.
    pub fn fill(&mut self, out: &mut [f32]) -> usize {
        let want = out.len() - out.len() % OUTPUT_CHANNELS;
        let mut written = 0;
        while written < want {
            if self.ready_from >= self.ready.len() && !self.refill() {
                break;
            }
            let n = (self.ready.len() - self.ready_from).min(want - written);
            out[written..written + n].copy_from_slice(&self.ready[self.ready_from..self.ready_from + n]);
            self.ready_from += n;
            written += n;
        }
        self.samples_out += written as u64;
        written / OUTPUT_CHANNELS
    }

    /// Converts the next decoded chunk into `ready`; false at the end.
    fn refill(&mut self) -> bool {
        self.ready.clear();
        self.ready_from = 0;
        while self.ready.is_empty() {
            if self.ended {
                return false;
            }
            match self.stream.next_chunk() {
                Ok(Some(chunk)) => {
                    map_to_stereo(chunk, &self.matrix, &mut self.stereo);
                    match &mut self.resampler {
                        None => self.ready.extend_from_slice(&self.stereo),
                        Some(r) => {
                            if let Err(e) = r.process(&self.stereo, &mut self.ready) {
                                self.fail(e);
                            }
                        }
                    }
                }
                Ok(None) => {
                    self.ended = true;
                    if let Some(r) = &mut self.resampler
                        && let Err(e) = r.flush(&mut self.ready)
                    {
                        self.fail(e);
                    }
                }
                Err(e) => {
                    self.ended = true;
                    self.error = Some(e);
                }
            }
        }
        true
    }

    fn fail(&mut self, e: String) {
        self.ended = true;
        self.error = Some(Error::decode(e, self.stream.path()));
    }

    /// Moves to file time `position_s`; the next frame handed out is the one
    /// at that time. Past the end, the track ends.
    pub fn seek(&mut self, position_s: f64) -> Result<()> {
        self.ready.clear();
        self.ready_from = 0;
        self.ended = false;
        self.error = None;
        if let Some(r) = &mut self.resampler {
            r.reset();
        }
        let result = self.stream.seek(position_s);
        if result.is_err() {
            self.ended = true;
        }
        self.base_s = self.stream.position_s();
        self.samples_out = 0;
        result
    }
}

impl Iterator for TrackSource {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        if self.ready_from >= self.ready.len() && !self.refill() {
            return None;
        }
        let v = self.ready[self.ready_from];
        self.ready_from += 1;
        self.samples_out += 1;
        Some(v)
    }
}

impl rodio::Source for TrackSource {
    fn current_span_len(&self) -> Option<usize> {
        // One format throughout: a single span until the end.
        if self.is_finished() { Some(0) } else { None }
    }

    fn channels(&self) -> rodio::ChannelCount {
        NonZeroU16::MIN.saturating_add(OUTPUT_CHANNELS as u16 - 1)
    }

    fn sample_rate(&self) -> rodio::SampleRate {
        self.format.rate_hz
    }

    fn total_duration(&self) -> Option<Duration> {
        Duration::try_from_secs_f64(self.duration_s).ok()
    }

    fn try_seek(&mut self, pos: Duration) -> std::result::Result<(), rodio::source::SeekError> {
        self.seek(pos.as_secs_f64()).map_err(|e| rodio::source::SeekError::Other(Arc::new(e)))
    }
}

/// Left/right gains per input channel. Mono goes to both sides; stereo is
/// kept; more channels are folded down assuming the WAVE/symphonia order
/// (front L, front R, centre, LFE, then left/right pairs): centre at −3 dB to
/// both sides, LFE dropped, other pairs at −3 dB to their side, each side
/// normalised so that it cannot clip more than the loudest input.
fn stereo_matrix(channels: usize) -> Vec<[f32; 2]> {
    match channels {
        0 | 1 => vec![[1.0, 1.0]],
        2 => vec![[1.0, 0.0], [0.0, 1.0]],
        n => {
            let half = std::f32::consts::FRAC_1_SQRT_2;
            let mut m: Vec<[f32; 2]> = (0..n)
                .map(|c| match c {
                    0 => [1.0, 0.0],
                    1 => [0.0, 1.0],
                    2 => [half, half],
                    3 => [0.0, 0.0],
                    c if c % 2 == 0 => [half, 0.0],
                    _ => [0.0, half],
                })
                .collect();
            for side in 0..2 {
                let sum: f32 = m.iter().map(|g| g[side]).sum();
                if sum > 0.0 {
                    m.iter_mut().for_each(|g| g[side] /= sum);
                }
            }
            m
        }
    }
}

/// Maps interleaved frames through `matrix` into stereo `out` (replaced).
fn map_to_stereo(input: &[f32], matrix: &[[f32; 2]], out: &mut Vec<f32>) {
    out.clear();
    let channels = matrix.len();
    if channels == 2 {
        out.extend_from_slice(input);
        return;
    }
    for frame in input.chunks_exact(channels) {
        let (mut l, mut r) = (0.0, 0.0);
        for (v, g) in frame.iter().zip(matrix) {
            l += v * g[0];
            r += v * g[1];
        }
        out.push(l);
        out.push(r);
    }
}

/// rubato's FFT resampler (the import's, see [`crate::audio::resample`]) run
/// as a stream: input arrives in chunks of any size, [`flush`](Self::flush)
/// drains the tail so that `n` input frames give ⌈n · ratio⌉ output frames,
/// and the filter delay is removed exactly as the import's resampler does —
/// a few leading zeros make it a whole number of output frames, which are
/// dropped — so output frame `k` is the input at time `k / output rate`.
struct StreamResampler {
    inner: Box<Fft<f32>>,
    ratio: f64,
    /// Zero frames fed before the audio (after every reset).
    lead_pad: usize,
    /// Output frames to drop after a reset (the whole filter delay).
    delay_out: usize,
    /// Stereo input frames not yet processed.
    staged: Vec<f32>,
    scratch: Vec<f32>,
    /// Output frames still to drop.
    skip_out: usize,
    in_frames: u64,
    out_frames: u64,
}

impl StreamResampler {
    fn new(from_hz: u32, to_hz: u32) -> std::result::Result<StreamResampler, String> {
        if !(MIN_INPUT_RATE_HZ..=MAX_INPUT_RATE_HZ).contains(&from_hz) {
            return Err(format!(
                "cannot play at {from_hz} Hz (supported: {MIN_INPUT_RATE_HZ}–{MAX_INPUT_RATE_HZ} Hz)"
            ));
        }
        let inner = Fft::<f32>::new(
            from_hz as usize,
            to_hz as usize,
            RESAMPLER_CHUNK_FRAMES,
            OUTPUT_CHANNELS,
            FixedSync::Both,
        )
        .map_err(|e| format!("cannot resample {from_hz} Hz to {to_hz} Hz: {e}"))?;
        let ratio = f64::from(to_hz) / f64::from(from_hz);
        let (fft_in, _) = fft_block_sizes(from_hz as usize, to_hz as usize);
        // rubato centres its anti-aliasing filter on tap ⌊fft_in / 2⌋, which
        // for an odd block (44.1 ↔ 48 kHz: 1,029 frames) is half a frame
        // before fft_in / 2.
        let filter_delay_in = (fft_in / 2) as f64;
        let (lead_pad, skip_out) = delay_compensation(ratio, filter_delay_in, inner.output_delay());
        let mut resampler = StreamResampler {
            inner: Box::new(inner),
            ratio,
            lead_pad,
            delay_out: skip_out,
            staged: Vec::new(),
            scratch: Vec::new(),
            skip_out: 0,
            in_frames: 0,
            out_frames: 0,
        };
        resampler.delay_out += resampler.inner.output_delay();
        resampler.reset();
        Ok(resampler)
    }

    /// Forgets all state (after a seek).
    fn reset(&mut self) {
        self.inner.reset();
        self.staged.clear();
        self.staged.resize(self.lead_pad * OUTPUT_CHANNELS, 0.0);
        self.skip_out = self.delay_out;
        self.in_frames = 0;
        self.out_frames = 0;
    }

    /// Resamples `input` (stereo), appending whatever output is complete.
    fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> std::result::Result<(), String> {
        self.staged.extend_from_slice(input);
        self.in_frames += (input.len() / OUTPUT_CHANNELS) as u64;
        while self.staged.len() / OUTPUT_CHANNELS >= self.inner.input_frames_next() {
            self.run_chunk(None, out, u64::MAX)?;
        }
        Ok(())
    }

    /// Processes what is staged plus silence until the output covers the
    /// whole input, and appends it.
    fn flush(&mut self, out: &mut Vec<f32>) -> std::result::Result<(), String> {
        let expected = (self.in_frames as f64 * self.ratio).ceil() as u64;
        let mut guard = 0;
        while self.out_frames < expected && guard < 64 {
            let staged = (self.staged.len() / OUTPUT_CHANNELS).min(self.inner.input_frames_next());
            self.run_chunk(Some(staged), out, expected)?;
            guard += 1;
        }
        self.staged.clear();
        Ok(())
    }

    /// One resampler call: a full chunk, or `partial` staged frames padded
    /// with silence. Output past `limit` total frames is discarded.
    fn run_chunk(
        &mut self,
        partial: Option<usize>,
        out: &mut Vec<f32>,
        limit: u64,
    ) -> std::result::Result<(), String> {
        let out_len = self.inner.output_frames_next();
        self.scratch.resize(out_len * OUTPUT_CHANNELS, 0.0);
        let staged_frames = self.staged.len() / OUTPUT_CHANNELS;
        let silence = [0.0f32; OUTPUT_CHANNELS];
        let (input_data, input_frames) =
            if staged_frames == 0 { (&silence[..], 1) } else { (&self.staged[..], staged_frames) };
        let input =
            InterleavedSlice::new(input_data, OUTPUT_CHANNELS, input_frames).map_err(|e| e.to_string())?;
        let mut output = InterleavedSlice::new_mut(&mut self.scratch[..], OUTPUT_CHANNELS, out_len)
            .map_err(|e| e.to_string())?;
        let indexing = partial.map(|n| Indexing::new().partial_len(n));
        let (used, produced) = self
            .inner
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .map_err(|e| format!("resampling failed: {e}"))?;
        let consumed = match partial {
            Some(n) => n,
            None => used,
        };
        self.staged.drain(..(consumed * OUTPUT_CHANNELS).min(self.staged.len()));
        let skip = self.skip_out.min(produced);
        self.skip_out -= skip;
        let room = usize::try_from(limit.saturating_sub(self.out_frames)).unwrap_or(usize::MAX);
        let keep = (produced - skip).min(room);
        out.extend_from_slice(&self.scratch[skip * OUTPUT_CHANNELS..(skip + keep) * OUTPUT_CHANNELS]);
        self.out_frames += keep as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_down_keeps_each_side_within_unity_gain() {
        for n in 3..=8 {
            let m = stereo_matrix(n);
            for side in 0..2 {
                let sum: f32 = m.iter().map(|g| g[side]).sum();
                assert!((sum - 1.0).abs() < 1e-6, "{n} channels, side {side}: {sum}");
            }
            if n >= 4 {
                assert_eq!(m[3], [0.0, 0.0], "LFE is dropped");
            }
        }
        let mut out = Vec::new();
        map_to_stereo(&[0.25, -0.5], &stereo_matrix(1), &mut out);
        assert_eq!(out, [0.25, 0.25, -0.5, -0.5]);
    }

    #[test]
    fn streamed_resampling_keeps_length_and_timing() {
        // A 1 kHz tone fed in uneven chunks must come out with ⌈n·ratio⌉
        // frames and the tone at the same times, for odd and even filter
        // blocks alike.
        for (from, to) in [(44_100u32, 48_000u32), (48_000, 44_100), (8_000, 44_100), (22_050, 48_000)] {
            let tone_at = |i: usize, rate: u32| {
                (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / f64::from(rate)).sin()
            };
            let n = from as usize / 2 + 17;
            let tone: Vec<f32> = (0..n)
                .flat_map(|i| {
                    let v = tone_at(i, from) as f32;
                    [v, -v]
                })
                .collect();
            let mut r = StreamResampler::new(from, to).unwrap();
            let mut out = Vec::new();
            for piece in tone.chunks(2 * 577) {
                r.process(piece, &mut out).unwrap();
            }
            r.flush(&mut out).unwrap();
            let expected = (n as f64 * f64::from(to) / f64::from(from)).ceil() as usize;
            assert_eq!(out.len(), expected * 2, "{from} → {to}");
            // Away from the edges, output frame k is the tone at k / to.
            let margin = to as usize / 20;
            let mut max_err = 0.0f64;
            for k in margin..expected - margin {
                max_err = max_err.max((f64::from(out[2 * k]) - tone_at(k, to)).abs());
                assert_eq!(out[2 * k], -out[2 * k + 1]);
            }
            assert!(max_err < 0.005, "{from} → {to}: max error {max_err}");
        }
    }
}
