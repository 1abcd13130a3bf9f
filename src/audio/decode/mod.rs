//! Decoding only the audio the model needs: mono 22,050 Hz clips at given times.
//!
//! A library import decodes thousands of files but the model only looks at up
//! to 12 six-second clips per track (see [`super::clips`]), so [`AudioFile`]
//! seeks to each clip window instead of decoding whole files, and falls back to
//! decoding straight through (keeping only the windows) where a format cannot
//! seek. Everything else a caller needs from a file in the same pass — codec,
//! duration, tags — comes with [`AudioFile::open`].
//!
//! Timing matters: clip *i* of a track must be the same audio here, in the
//! trainer and in the shipped teacher targets (which were cut from libsndfile
//! decodes). Decoded samples are therefore placed by the packets' timestamps,
//! resampled with a timing-exact band-limited resampler ([`super::resample`]),
//! and cut so that the sample at file time `t` lands at index
//! `round((t − start_s) · 22,050)` of the clip (tested to ±1 sample on MP3,
//! Vorbis, Opus, FLAC, AAC/MP4, WAV and AIFF).
//!
//! symphonia 0.6.1 quirks worked around here:
//! - MP4: the edit list (AAC encoder priming, 1024+ samples) is parsed but not
//!   applied; we read `elst` ourselves and shift by it.
//! - Ogg Opus: timestamps do not subtract the pre-skip (RFC 7845), while the
//!   libopus adapter drops the pre-skip samples from the first packet it
//!   decodes — also when that packet comes after a seek; both are accounted.
//! - WAV: the `LIST/INFO` tags are read but dropped; we read them ourselves.
//! - MP3 without a LAME header: the length is only estimated from the file
//!   size, so we count the frames.
//!
//! The parts: `demux` opens a file and places packets in time, `window`
//! assembles clip windows, `tags` and `riff` read tags (and check WAV
//! headers), `mp4` reads the edit list; this module drives them.
//!
//! Known limits (as in ffmpeg without gapless information): ADTS AAC, AAC or
//! MP3 in Matroska, MP2 and MP3 without a LAME header keep the encoder delay
//! (12–25 ms late); Matroska's millisecond timestamps leave Opus/Vorbis in
//! MKV/WebM 1.5–3 ms late; packets decoded at another rate than the stream
//! header states (HE-AAC with SBR) are skipped, so such a file reports that
//! nothing decodes rather than giving clips at the wrong speed.

mod demux;
mod mp4;
mod riff;
mod tags;
mod window;

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::AudioDecoder;
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::well_known as format_ids;
use symphonia::core::formats::{FormatReader, SeekMode, SeekTo};
use symphonia::core::units::{Time, TimeBase};

use super::clips::CLIP_LEN_S;
use super::resample::Resampler;
use crate::{Error, Result};
pub(in crate::audio) use demux::seek_error_text;
use demux::{container_name, stated_duration_s};
use riff::{riff_block_align, riff_info_tags};
use tags::collect_tags;
use window::{Window, downmix_in_place};

/// The model's sample rate, under the name the audio side has always used;
/// defined once, by the features the model reads.
pub use crate::features::SAMPLE_RATE_HZ as TARGET_SAMPLE_RATE_HZ;

/// Samples in one clip (6.0 s at 22,050 Hz); defined by the features.
pub use crate::features::CLIP_LEN_SAMPLES;

/// The highest sample rate accepted. Real recordings stop at 384 kHz (DXD);
/// a header claiming more is corrupt or hostile, and believing it would size
/// every clip window by it (a 768 kHz claim alone is 225 MB of windows).
pub const MAX_SAMPLE_RATE_HZ: u32 = 384_000;

/// The most channels accepted (22.2 surround has 24); more is a corrupt header.
pub const MAX_CHANNELS: usize = 32;

/// Below this mean bit rate (file bytes over the stated duration) a stated
/// duration is not believed and the audio is counted instead: no codec we
/// read goes this low for real audio except FLAC of pure digital silence, for
/// which counting costs one pass and gives the same answer. A 400-byte WAV
/// claiming 6.8 hours, or an MP3 whose Xing header claims 2³¹ frames, falls
/// far below it.
const MIN_BELIEVABLE_BITS_PER_S: f64 = 4_000.0;

const _: () = assert!(CLIP_LEN_SAMPLES as f64 == CLIP_LEN_S * TARGET_SAMPLE_RATE_HZ as f64);

/// Context decoded on each side of a clip window (in 22,050 Hz samples, 46 ms)
/// so that the resampler's filter sees real audio, not silence, at the clip
/// edges. Longer than the filter's half length at any supported input rate.
const MARGIN_OUT_SAMPLES: usize = 1024;

/// How far before a window we seek, so that decoders whose first packets after
/// a seek are not yet valid (MP3 bit reservoir, Vorbis/AAC overlap-add, Opus's
/// recommended 80 ms of pre-roll) have converged by the window start.
pub(super) const PREROLL_S: f64 = 0.3;

/// The least decoding a decoder needs after a seek before its output is valid
/// (AAC/MP3 overlap of one frame, Opus 80 ms); a seek that lands closer than
/// this before a window counts as failed.
const CONVERGE_S: f64 = 0.1;

/// If the next window starts less than this far ahead of the decode position,
/// decoding through is cheaper than seeking (and keeps decoder state valid).
const SEEK_GAP_S: f64 = 1.0;

/// Undecodable packets tolerated per [`AudioFile::read_clips`] call before the
/// file is declared corrupt; a few bad frames in an otherwise good file are
/// common (damaged downloads, glued MP3s) and should not lose the track.
pub(super) const MAX_DECODE_ERRORS: usize = 100;

/// Tags read from a file, normalised across ID3v2/ID3v1/APE/Vorbis
/// comments/MP4 atoms so the library and the store need not know the format.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(default)]
pub struct TrackTags {
    /// Track title.
    pub title: Option<String>,
    /// Track artist.
    pub artist: Option<String>,
    /// Album title.
    pub album: Option<String>,
    /// Album artist (compilations group by this rather than `artist`).
    pub album_artist: Option<String>,
    /// Position on the disc, from "3" or "3/12".
    pub track_number: Option<u32>,
    /// Disc of a multi-disc release.
    pub disc_number: Option<u32>,
    /// Recording (or, failing that, release) year.
    pub year: Option<i32>,
    /// Genre as written in the file (free text).
    pub genre: Option<String>,
    /// The comment field (free text; some people keep tags there, which
    /// `tuneatlas tag import --from-comment` turns into user tags). Read when
    /// a file is opened, not stored by the import.
    pub comment: Option<String>,
}

/// What [`AudioFile::open`] learnt about a file without decoding its audio.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    /// Container, as a short lower-case name: "mp3", "ogg", "flac", "wav",
    /// "aiff", "mp4", "matroska", "aac" (ADTS), "caf".
    pub container: String,
    /// Codec, as a short lower-case name: "mp3", "vorbis", "opus", "flac",
    /// "aac", "alac", "pcm_s16le", ...
    pub codec: String,
    /// Sample rate of the decoded audio (Opus always decodes at 48 kHz).
    pub sample_rate_hz: u32,
    /// Channels in the file (clips are downmixed to mono).
    pub channels: u16,
    /// Playable duration in seconds (encoder delay and padding excluded); the
    /// clip grid is computed from it.
    pub duration_s: f64,
    /// The file's tags; empty fields where the file has none.
    pub tags: TrackTags,
}

/// An opened, probed audio file with a decoder for its default audio track.
///
/// Open it with [`AudioFile::open`], look at [`AudioFile::info`], then take the
/// clips with [`AudioFile::read_clips`]. The file handle stays open until the
/// value is dropped.
pub struct AudioFile {
    pub(super) path: PathBuf,
    pub(super) info: AudioInfo,
    pub(super) demux: Demux,
    /// Built on first use, for the rate the decoder actually produces.
    resampler: Option<Resampler>,
    /// True until the reader has moved away from the start of the file.
    pub(super) at_start: bool,
    /// Interleaved scratch for format conversion (reused across packets).
    scratch: Vec<f32>,
}

impl std::fmt::Debug for AudioFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioFile").field("path", &self.path).field("info", &self.info).finish()
    }
}

/// The reader + decoder pair and what is needed to turn packet timestamps
/// into sample positions.
pub(super) struct Demux {
    pub(super) reader: Box<dyn FormatReader>,
    pub(super) decoder: Box<dyn AudioDecoder>,
    pub(super) track_id: u32,
    time_base: Option<TimeBase>,
    /// Sample rate the decoder produces (the codec parameters' rate).
    pub(super) rate_hz: u32,
    /// Stream time (seconds) of file time 0: encoder priming that symphonia
    /// 0.6 leaves in the timestamps — the MP4 edit-list start (AAC priming),
    /// or the Ogg Opus pre-skip — else 0.
    pub(super) priming_s: f64,
    /// See [`demux::hidden_front_trim`]; zeroed after the first decoded packet.
    pub(super) hidden_front_trim: i64,
}

/// Codecs symphonia ships plus libopus (symphonia has no Opus decoder, and
/// users' libraries — and 29 training tracks — contain Opus).
static CODECS: LazyLock<CodecRegistry> = LazyLock::new(|| {
    let mut registry = CodecRegistry::new();
    symphonia::default::register_enabled_codecs(&mut registry);
    registry.register_audio_decoder::<symphonia_adapter_libopus::OpusDecoder>();
    registry
});

impl AudioFile {
    /// Opens `path`, recognises the format by content (the extension is only a
    /// hint, so a mislabelled file still opens), reads its tags and duration,
    /// and prepares a decoder for the default audio track.
    ///
    /// The duration comes from the container when it states it; otherwise
    /// (MP3 without a Xing/LAME header, whose length symphonia only estimates
    /// from the file size, or streams without a length) the packets are
    /// counted once through the file, which costs a demux but no decoding.
    ///
    /// Errors name the file and say why: "empty file", "not a recognised audio
    /// format", "no audio track", "unsupported codec: AC-3", ...
    pub fn open(path: &Path) -> Result<AudioFile> {
        let byte_len = std::fs::metadata(path).map_err(Error::io("open", path))?.len();
        if byte_len == 0 {
            return Err(Error::decode("empty file", path));
        }
        let (mut demux, track) = Demux::open(path)?;
        let params = track
            .codec_params
            .as_ref()
            .and_then(CodecParameters::audio)
            .ok_or_else(|| Error::decode("no audio track", path))?;
        let channels = params.channels.as_ref().map(|c| c.count()).unwrap_or(0);
        let container =
            container_name(demux.reader.format_info().format, demux.reader.format_info().short_name);
        let codec = demux.decoder.codec_info().short_name.to_string();
        let mut tags = TrackTags::default();
        if demux.reader.format_info().format == format_ids::FORMAT_ID_WAVE {
            // A frame of zero bytes says nothing about where samples are;
            // symphonia would read such a file as a second of whatever follows.
            if riff_block_align(path) == Some(0) {
                return Err(Error::decode(
                    "corrupt WAV header: its block alignment (bytes per frame) is 0",
                    path,
                ));
            }
            // symphonia 0.6.1 reads a WAV's LIST/INFO chunk but drops it.
            tags = riff_info_tags(path).unwrap_or_default();
        }
        collect_tags(demux.reader.as_mut(), demux.track_id, &mut tags);

        // Duration: exact from the container when it states one.
        let stated_s = stated_duration_s(&track, demux.rate_hz).map(|d| (d - demux.priming_s).max(0.0));
        let is_mpeg_audio = matches!(container.as_str(), "mp1" | "mp2" | "mp3");
        // symphonia estimates the length of an MP3 without a LAME header from
        // the file size: exact for CBR, wrong for VBR. Count those.
        let trust_stated = stated_s.is_some() && !(is_mpeg_audio && track.delay.is_none());
        // A header can claim any length; the file's size bounds what it holds.
        let believable =
            stated_s.is_none_or(|d| d <= 0.0 || byte_len as f64 * 8.0 / d >= MIN_BELIEVABLE_BITS_PER_S);
        let duration_s = match stated_s {
            Some(d) if trust_stated && believable => d,
            Some(d) if !believable => {
                let counted = demux.count_duration_s(path, &mut tags)?;
                if counted <= 0.0 {
                    return Err(Error::decode(
                        format!(
                            "corrupt or truncated: the header states {d:.1} s but the file holds no audio"
                        ),
                        path,
                    ));
                }
                tracing::debug!(
                    "header states {d:.1} s but the data holds {counted:.1} s: {}",
                    path.display()
                );
                counted.min(d)
            }
            _ => demux.count_duration_s(path, &mut tags)?,
        };

        let info = AudioInfo {
            container,
            codec,
            sample_rate_hz: demux.rate_hz,
            channels: u16::try_from(channels).unwrap_or(u16::MAX),
            duration_s,
            tags,
        };
        Ok(AudioFile {
            path: path.to_path_buf(),
            info,
            demux,
            resampler: None,
            at_start: true,
            scratch: Vec::new(),
        })
    }

    /// Format, duration and tags of the file (no decoding needed).
    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    /// The path this file was opened from (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Mono 22,050 Hz clips of exactly [`CLIP_LEN_SAMPLES`] samples, one per
    /// entry of `starts_s` (seconds from the start of the audio), in the same
    /// order. Parts of a clip before 0 s or past the end of the audio are
    /// zeros, so a clip of a truncated file is zero-padded rather than lost.
    ///
    /// Seeks to each window (accurate mode, a little early so the decoder has
    /// converged), decodes it plus a small margin, downmixes by averaging the
    /// channels and resamples band-limited. If the format cannot seek, decodes
    /// straight through instead, keeping only the windows.
    ///
    /// Fails if the starts are not finite, if nothing at all decodes (corrupt
    /// data) or if more than a hundred packets fail to decode.
    pub fn read_clips(&mut self, starts_s: &[f64]) -> Result<Vec<Vec<f32>>> {
        self.read_clips_impl(starts_s, true)
    }

    /// Same as [`read_clips`](Self::read_clips) but never seeks: decodes from
    /// the start of the file straight through. This is the fallback for
    /// unseekable formats, and the reference the seek path is tested against.
    pub fn read_clips_decode_through(&mut self, starts_s: &[f64]) -> Result<Vec<Vec<f32>>> {
        self.read_clips_impl(starts_s, false)
    }

    fn read_clips_impl(&mut self, starts_s: &[f64], allow_seek: bool) -> Result<Vec<Vec<f32>>> {
        if let Some(bad) = starts_s.iter().find(|s| !s.is_finite()) {
            return Err(Error::Invalid(format!("clip start {bad} s is not a time: {}", self.path.display())));
        }
        if starts_s.is_empty() {
            return Ok(Vec::new());
        }
        let rate_hz = self.demux.rate_hz;
        if self.resampler.as_ref().is_none_or(|r| r.from_hz() != rate_hz) {
            self.resampler =
                Some(Resampler::new(rate_hz).map_err(|e| Error::decode(e.to_string(), &self.path))?);
        }

        // Windows in ascending order of start; remember where each goes.
        let mut order: Vec<usize> = (0..starts_s.len()).collect();
        order.sort_by(|&a, &b| starts_s[a].total_cmp(&starts_s[b]));
        let mut windows: Vec<Window> = order.iter().map(|&i| Window::new(starts_s[i], rate_hz)).collect();

        let outcome = if allow_seek {
            let first_try = self.fill_windows(&mut windows, true);
            let retry_reason = match &first_try {
                Err(ReadError::SeekFailed(reason)) => Some(reason.clone()),
                // Nothing after the seek points (a file truncated before its
                // stated end): make sure by decoding from the start.
                Ok(stats) if stats.decoded_frames == 0 => {
                    windows = order.iter().map(|&i| Window::new(starts_s[i], rate_hz)).collect();
                    Some("nothing decoded after seeking".to_string())
                }
                _ => None,
            };
            match retry_reason {
                Some(reason) => {
                    tracing::debug!(
                        "seek failed ({reason}), decoding straight through: {}",
                        self.path.display()
                    );
                    self.rewind()?;
                    // Windows finished before the failure keep their clips.
                    windows.iter_mut().for_each(Window::clear);
                    self.fill_windows(&mut windows, false)
                }
                None => first_try,
            }
        } else {
            if !self.at_start {
                self.rewind()?;
            }
            self.fill_windows(&mut windows, false)
        };
        let stats = outcome.map_err(|e| match e {
            ReadError::Fatal(err) => err,
            ReadError::SeekFailed(reason) => Error::decode(format!("cannot seek: {reason}"), &self.path),
        })?;
        if stats.decoded_frames == 0 {
            let at_s = stats.last_pos.max(0) as f64 / f64::from(rate_hz);
            let why = stats
                .stop_reason
                .or(stats.last_decode_error)
                .unwrap_or_else(|| "no audio frames".to_string());
            return Err(Error::decode(
                format!("corrupt or truncated data after {at_s:.1} s ({why})"),
                &self.path,
            ));
        }
        if let Some(why) = &stats.stop_reason {
            tracing::warn!("stopped decoding early ({why}); rest is silence: {}", self.path.display());
        }

        let mut clips = vec![Vec::new(); starts_s.len()];
        for (window, &slot) in windows.iter_mut().zip(&order) {
            clips[slot] = window.clip.take().unwrap_or_else(|| vec![0.0; CLIP_LEN_SAMPLES]);
        }
        Ok(clips)
    }

    /// Reopens the file so that the next read starts from the beginning with a
    /// fresh decoder (cheaper and more reliable than seeking to 0 in formats
    /// that cannot seek).
    fn rewind(&mut self) -> Result<()> {
        let (demux, _) = Demux::open(&self.path)?;
        self.demux = demux;
        self.at_start = true;
        Ok(())
    }

    /// Decodes packets into `windows` (sorted by start). With `allow_seek`,
    /// jumps to each window that lies more than [`SEEK_GAP_S`] ahead.
    fn fill_windows(&mut self, windows: &mut [Window], allow_seek: bool) -> Result<ReadStats, ReadError> {
        let rate = f64::from(self.demux.rate_hz);
        let preroll = (PREROLL_S * rate).round() as i64;
        let seek_gap = (SEEK_GAP_S * rate).round() as i64;
        let converge = (CONVERGE_S * rate).round() as i64;
        let mut stats = ReadStats::default();
        // After a seek: the window start the first decoded buffer must precede.
        let mut seek_check: Option<i64> = None;
        // Next expected sample position (native rate), and the position from
        // which the decoder's output is trustworthy in the current run.
        let mut pos: Option<i64> = if self.at_start { Some(0) } else { None };
        let mut reliable_from: i64 = if self.at_start { i64::MIN } else { i64::MAX };
        let mut decode_errors = 0usize;
        let mut next_window = 0usize;

        'windows: while next_window < windows.len() {
            let w_lo = windows[next_window].lo;
            let w_hi = windows[next_window].hi;
            if windows[next_window].is_done() {
                next_window += 1;
                continue;
            }
            if let Some(p) = pos
                && p >= w_hi
                && reliable_from <= w_lo
            {
                // Complete: resample now so the native-rate buffer is freed.
                self.finish_window(&mut windows[next_window])?;
                next_window += 1;
                continue;
            }
            let behind = pos.is_none_or(|p| p > w_lo) && reliable_from > w_lo;
            let far_ahead = pos.is_some_and(|p| w_lo - preroll - p > seek_gap);
            if allow_seek && (behind || far_ahead) {
                let target = w_lo - preroll;
                if target <= 0 {
                    // Near the start, reopen rather than seek: a fresh decoder
                    // also decodes the encoder priming (AAC, Opus) that a seek
                    // to file time 0 would skip, exactly like a straight decode.
                    self.rewind().map_err(ReadError::Fatal)?;
                    pos = Some(0);
                    reliable_from = i64::MIN;
                    seek_check = None;
                } else {
                    let actual = self.seek_to(target)?;
                    self.at_start = false;
                    pos = Some(actual);
                    reliable_from = actual + preroll;
                    seek_check = Some(w_lo);
                }
            } else if behind {
                // Only reachable without seeking, after a fresh start: the
                // window lies before the beginning of the audio.
                reliable_from = i64::MIN;
            }

            // Decode until this window is complete.
            loop {
                if pos.is_some_and(|p| p >= w_hi) {
                    continue 'windows;
                }
                let packet = match self.demux.reader.next_packet() {
                    Ok(Some(packet)) => packet,
                    Ok(None) => break 'windows,
                    Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        stats.stop_reason = Some("file ends mid-packet".to_string());
                        break 'windows;
                    }
                    Err(SymError::ResetRequired) => {
                        stats.stop_reason = Some("chained stream".to_string());
                        break 'windows;
                    }
                    Err(e) => {
                        stats.stop_reason = Some(e.to_string());
                        break 'windows;
                    }
                };
                self.at_start = false;
                if packet.track_id != self.demux.track_id {
                    continue;
                }
                let placement = self.demux.placement(&packet);
                let buf = match self.demux.decoder.decode(&packet) {
                    Ok(buf) => {
                        self.demux.hidden_front_trim = 0;
                        buf
                    }
                    Err(SymError::ResetRequired) => {
                        stats.stop_reason = Some("decoder needs a reset (stream changed)".to_string());
                        break 'windows;
                    }
                    Err(e) => {
                        // Garbage in one packet (a DecodeError, or bits that
                        // look like an unsupported feature): skip it, within
                        // reason.
                        decode_errors += 1;
                        tracing::debug!("skipping undecodable packet ({e}): {}", self.path.display());
                        if decode_errors > MAX_DECODE_ERRORS {
                            return Err(ReadError::Fatal(Error::decode(
                                format!(
                                    "corrupt data: more than {MAX_DECODE_ERRORS} undecodable packets (last: {e})"
                                ),
                                &self.path,
                            )));
                        }
                        stats.last_decode_error = Some(e.to_string());
                        continue;
                    }
                };
                let frames = buf.frames();
                if frames == 0 {
                    continue;
                }
                if buf.spec().rate() != self.demux.rate_hz {
                    tracing::debug!("skipping packet at another sample rate: {}", self.path.display());
                    continue;
                }
                let start = placement.start_index(pos);
                if let Some(window_lo) = seek_check.take() {
                    // Trust the seek only if decoding really starts early
                    // enough for the decoder to converge before the window.
                    if start > window_lo - converge {
                        return Err(ReadError::SeekFailed("seek landed past the window".to_string()));
                    }
                    reliable_from = reliable_from.max(start + converge);
                }
                let end = start + frames as i64;
                pos = Some(end);
                stats.last_pos = end;
                stats.decoded_frames += frames as u64;

                // Copy (downmixed) into every window this buffer touches,
                // skipping what the decoder produced before it converged.
                let keep_from = start.max(reliable_from);
                let touches = windows[next_window..].iter().any(|w| w.lo < end && keep_from < w.hi);
                if !touches {
                    continue;
                }
                let channels = buf.spec().channels().count().max(1);
                self.scratch.resize(frames * channels, 0.0);
                buf.copy_to_slice_interleaved(&mut self.scratch[..]);
                let mono = downmix_in_place(&mut self.scratch, channels);
                for w in windows[next_window..].iter_mut() {
                    w.write(start, mono, keep_from);
                }
            }
        }
        // The audio ended: what is not filled yet stays silence.
        for w in windows.iter_mut().filter(|w| !w.is_done()) {
            self.finish_window(w)?;
        }
        Ok(stats)
    }

    /// Resamples a completed window into its clip.
    fn finish_window(&mut self, window: &mut Window) -> Result<(), ReadError> {
        let path = &self.path;
        let resampler = self
            .resampler
            .as_mut()
            .ok_or_else(|| ReadError::Fatal(Error::Invalid("resampler missing".to_string())))?;
        window.finish(resampler).map_err(|e| ReadError::Fatal(Error::decode(e.to_string(), path)))
    }

    /// Seeks (accurate mode) to native sample `target` and resets the
    /// decoder; returns the position actually reached (at or before target).
    fn seek_to(&mut self, target: i64) -> Result<i64, ReadError> {
        let rate = f64::from(self.demux.rate_hz);
        let file_time_s = target as f64 / rate;
        let stream_time_s = file_time_s + self.demux.priming_s;
        let time = Time::try_from_secs_f64(stream_time_s)
            .ok_or_else(|| ReadError::SeekFailed(format!("bad seek time {stream_time_s}")))?;
        let seeked = self
            .demux
            .reader
            .seek(SeekMode::Accurate, SeekTo::Time { time, track_id: Some(self.demux.track_id) })
            .map_err(|e| ReadError::SeekFailed(seek_error_text(&e)))?;
        self.demux.decoder.reset();
        let actual = self
            .demux
            .ts_to_index(seeked.actual_ts.get())
            .map(|i| i - self.demux.priming_index())
            .unwrap_or(target);
        Ok(actual.min(target))
    }
}

/// What a fill pass observed.
#[derive(Default)]
struct ReadStats {
    decoded_frames: u64,
    /// Native index just past the last decoded sample.
    last_pos: i64,
    /// Why decoding stopped before the end, if it did.
    stop_reason: Option<String>,
    /// The last packet decode error, for the message when nothing decodes.
    last_decode_error: Option<String>,
}

/// Internal error of a fill pass: seek failures trigger the decode-through
/// fallback, everything else is final.
enum ReadError {
    SeekFailed(String),
    Fatal(Error),
}
