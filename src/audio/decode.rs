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
//! Known limits (as in ffmpeg without gapless information): ADTS AAC, AAC or
//! MP3 in Matroska, MP2 and MP3 without a LAME header keep the encoder delay
//! (12–25 ms late); Matroska's millisecond timestamps leave Opus/Vorbis in
//! MKV/WebM 1.5–3 ms late; packets decoded at another rate than the stream
//! header states (HE-AAC with SBR) are skipped, so such a file reports that
//! nothing decodes rather than giving clips at the wrong speed.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::well_known as codec_ids;
use symphonia::core::codecs::audio::{AudioCodecId, AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::{Error as SymError, SeekErrorKind};
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::well_known as format_ids;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::{MetadataOptions, MetadataRevision, StandardTag, Tag};
use symphonia::core::packet::Packet;
use symphonia::core::units::{Time, TimeBase};

use super::clips::CLIP_LEN_S;
use super::resample::Resampler;
use crate::{Error, Result};

/// The model's sample rate (DESIGN §3); every clip is delivered at this rate.
pub const TARGET_SAMPLE_RATE_HZ: u32 = 22_050;

/// Samples in one clip: 6.0 s at 22,050 Hz.
pub const CLIP_LEN_SAMPLES: usize = 132_300;

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
    /// See [`hidden_front_trim`]; zeroed after the first decoded packet.
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
        let duration_s = match stated_s {
            Some(d) if trust_stated => d,
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

impl Demux {
    /// Probes `path` and builds the decoder for its default audio track.
    pub(super) fn open(path: &Path) -> Result<(Demux, symphonia::core::formats::Track)> {
        let file = File::open(path).map_err(Error::io("open", path))?;
        let mss = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        // Default limits suffice even for a 1 MB Vorbis comment (cover art, as
        // in the HyperRogue soundtrack): symphonia's Ogg packet limit is 16 MB.
        let reader = symphonia::default::get_probe()
            .probe(&hint, mss, FormatOptions::default(), MetadataOptions::default())
            .map_err(|e| {
                Error::decode(sniff_unsupported(path).unwrap_or_else(|| probe_error_text(&e)), path)
            })?;
        let track = match reader.default_track(TrackType::Audio) {
            Some(track) => track.clone(),
            None => {
                // A track whose codec the demuxer could not identify.
                let reason = if reader.first_track(TrackType::Audio).is_some() {
                    "unsupported codec (unknown to the demuxer)"
                } else {
                    "no audio track"
                };
                return Err(Error::decode(reason, path));
            }
        };
        let params = track
            .codec_params
            .as_ref()
            .and_then(CodecParameters::audio)
            .ok_or_else(|| Error::decode("no audio track", path))?;
        if CODECS.get_audio_decoder(params.codec).is_none() {
            return Err(Error::decode(format!("unsupported codec: {}", codec_name(params.codec)), path));
        }
        let decoder = CODECS.make_audio_decoder(params, &AudioDecoderOptions::default()).map_err(|e| {
            Error::decode(format!("unsupported codec: {} ({e})", codec_name(params.codec)), path)
        })?;
        let rate_hz = params
            .sample_rate
            .filter(|&r| r > 0)
            .ok_or_else(|| Error::decode("no sample rate in the stream header", path))?;
        let format = reader.format_info().format;
        let priming_s = if format == format_ids::FORMAT_ID_ISOMP4 {
            mp4_priming_s(path).unwrap_or(0.0)
        } else if format == format_ids::FORMAT_ID_OGG
            && params.codec == codec_ids::CODEC_ID_OPUS
            && track.start_ts.get() >= 0
        {
            // symphonia's Ogg reader maps Opus granule positions to timestamps
            // without subtracting the pre-skip (RFC 7845: sample position =
            // granule − pre-skip), so timestamp `pre_skip` is file time 0. The
            // adapter drops the pre-skip samples themselves.
            f64::from(track.delay.unwrap_or(0)) / f64::from(rate_hz)
        } else {
            0.0
        };
        let hidden_front_trim = hidden_front_trim(params.codec, params.extra_data.as_deref(), rate_hz);
        let demux = Demux {
            track_id: track.id,
            time_base: track.time_base,
            reader,
            decoder,
            rate_hz,
            priming_s,
            hidden_front_trim,
        };
        Ok((demux, track))
    }

    /// Counts the playable duration by reading every packet of the track
    /// (without decoding where packets state their duration), collecting any
    /// tags met on the way, then reopens the file so decoding starts from the
    /// beginning.
    fn count_duration_s(&mut self, path: &Path, tags: &mut TrackTags) -> Result<f64> {
        let mut ts_total: u64 = 0;
        let mut decoded_frames: u64 = 0;
        loop {
            let packet = match self.reader.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(SymError::IoError(_)) | Err(SymError::ResetRequired) => break,
                Err(SymError::DecodeError(_)) => break,
                Err(e) => return Err(Error::decode(format!("cannot read the stream: {e}"), path)),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            if self.time_base.is_some() && !packet.dur.is_zero() {
                ts_total += packet.dur.get();
            } else if let Ok(buf) = self.decoder.decode(&packet) {
                decoded_frames += buf.frames() as u64;
            }
        }
        let from_ts = match self.time_base {
            Some(tb) => tb
                .calc_duration(symphonia::core::units::Duration::new(ts_total))
                .map(|t| t.as_secs_f64())
                .unwrap_or(0.0),
            None => 0.0,
        };
        let total = from_ts + decoded_frames as f64 / f64::from(self.rate_hz) - self.priming_s;
        // Tags met on the way (in-stream metadata) count too.
        collect_tags(self.reader.as_mut(), self.track_id, tags);
        let (fresh, _) = Demux::open(path)?;
        *self = fresh;
        Ok(total.max(0.0))
    }

    /// Native sample position of timestamp `ts` (in the track's time base),
    /// before the priming correction.
    pub(super) fn ts_to_index(&self, ts: i64) -> Option<i64> {
        let tb = self.time_base?;
        let (numer, denom) = (u64::from(tb.numer.get()), u64::from(tb.denom.get()));
        if numer == 1 && denom == u64::from(self.rate_hz) {
            return Some(ts);
        }
        let scaled = i128::from(ts) * i128::from(numer) * i128::from(self.rate_hz);
        let denom = i128::from(denom);
        // Round to nearest.
        let idx = if scaled >= 0 { (scaled + denom / 2) / denom } else { (scaled - denom / 2) / denom };
        i64::try_from(idx).ok()
    }

    /// The priming offset in native samples.
    pub(super) fn priming_index(&self) -> i64 {
        (self.priming_s * f64::from(self.rate_hz)).round() as i64
    }

    /// Where the decoded output of `packet` belongs, from its timestamps:
    /// the first valid sample is at `pts + trim_start` (the decoders apply the
    /// trims), plus whatever the decoder drops silently at its very first
    /// packet (the Opus adapter's pre-skip).
    pub(super) fn placement(&self, packet: &Packet) -> Placement {
        let valid_start =
            packet.pts.get().saturating_add(i64::try_from(packet.trim_start.get()).unwrap_or(0));
        let start = self.ts_to_index(valid_start).map(|i| i - self.priming_index() + self.hidden_front_trim);
        let tick = match self.time_base {
            Some(tb) => (f64::from(tb.numer.get()) / f64::from(tb.denom.get()) * f64::from(self.rate_hz))
                .ceil() as i64,
            None => 0,
        };
        Placement { start, tolerance: tick.max(1) + 1 }
    }
}

/// Samples the decoder will drop from the front of the first packet it ever
/// decodes without the packet saying so: symphonia-adapter-libopus 0.3 applies
/// the Opus pre-skip (from the `OpusHead` in the codec's extra data) to its
/// first decoded packet — after a seek too — and never again (not even after
/// `reset`).
fn hidden_front_trim(codec: AudioCodecId, extra_data: Option<&[u8]>, rate_hz: u32) -> i64 {
    if codec != codec_ids::CODEC_ID_OPUS {
        return 0;
    }
    match extra_data {
        Some(head) if head.len() >= 12 && head.starts_with(b"OpusHead") => {
            let pre_skip = i64::from(u16::from_le_bytes([head[10], head[11]]));
            pre_skip * i64::from(rate_hz) / 48_000
        }
        _ => 0,
    }
}

/// Timestamp-derived position of one decoded buffer.
pub(super) struct Placement {
    /// Native index of the first valid sample, if the packet has a timestamp.
    start: Option<i64>,
    /// Timestamp resolution in samples: smaller jumps are jitter, not gaps.
    tolerance: i64,
}

impl Placement {
    /// Index of the first decoded sample, given where the previous buffer
    /// ended. Timestamps win over counting except for jitter below the time
    /// base's resolution (MKV's millisecond timestamps), so gaps from skipped
    /// packets stay gaps.
    pub(super) fn start_index(&self, expected: Option<i64>) -> i64 {
        match (self.start, expected) {
            (Some(ts), Some(exp)) if (ts - exp).abs() <= self.tolerance => exp,
            (Some(ts), _) => ts,
            (None, Some(exp)) => exp,
            (None, None) => 0,
        }
    }
}

/// One clip being assembled: native-rate mono samples over [lo, hi).
struct Window {
    start_s: f64,
    /// First native sample index covered (may be negative: before the audio).
    lo: i64,
    /// One past the last native sample index covered.
    hi: i64,
    samples: Vec<f32>,
    /// The finished 22,050 Hz clip (then `samples` is freed).
    clip: Option<Vec<f32>>,
}

impl Window {
    /// The window for a clip starting at `start_s`, with resampler context.
    /// `lo` is chosen so that the clip start falls (as nearly as the native
    /// sample grid allows) on a whole output sample after `lo`.
    fn new(start_s: f64, rate_hz: u32) -> Window {
        let rate = f64::from(rate_hz);
        let target = f64::from(TARGET_SAMPLE_RATE_HZ);
        let margin_s = MARGIN_OUT_SAMPLES as f64 / target;
        let lo = ((start_s - margin_s) * rate).round() as i64;
        let hi = ((start_s + CLIP_LEN_S + margin_s) * rate).ceil() as i64 + 1;
        let len = usize::try_from(hi - lo).unwrap_or(0);
        Window { start_s, lo, hi, samples: vec![0.0; len], clip: None }
    }

    fn is_done(&self) -> bool {
        self.clip.is_some()
    }

    /// Forgets what was decoded into an unfinished window.
    fn clear(&mut self) {
        self.samples.fill(0.0);
    }

    /// Resamples the window into its clip and frees the native samples.
    fn finish(&mut self, resampler: &mut Resampler) -> Result<()> {
        let clip = self.to_clip(resampler)?;
        self.samples = Vec::new();
        self.clip = Some(clip);
        Ok(())
    }

    /// Copies `mono` (whose first sample is at native index `start`) into the
    /// window, ignoring samples before `keep_from`.
    fn write(&mut self, start: i64, mono: &[f32], keep_from: i64) {
        if self.is_done() {
            return;
        }
        let end = start + mono.len() as i64;
        let from = start.max(self.lo).max(keep_from);
        let to = end.min(self.hi);
        if from >= to {
            return;
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

/// Averages interleaved `channels` in place; returns the mono prefix.
fn downmix_in_place(interleaved: &mut [f32], channels: usize) -> &[f32] {
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

/// The container's duration in seconds, if it states one.
fn stated_duration_s(track: &symphonia::core::formats::Track, rate_hz: u32) -> Option<f64> {
    if let Some(frames) = track.num_frames {
        return Some(frames as f64 / f64::from(rate_hz));
    }
    let (tb, dur) = (track.time_base?, track.duration?);
    tb.calc_duration(dur).map(|t| t.as_secs_f64())
}

/// A friendlier container name than symphonia's short names.
fn container_name(format: symphonia::core::formats::FormatId, short_name: &str) -> String {
    if format == format_ids::FORMAT_ID_ISOMP4 {
        "mp4".to_string()
    } else if format == format_ids::FORMAT_ID_ADTS {
        "aac".to_string()
    } else if format == format_ids::FORMAT_ID_WAVE {
        "wav".to_string()
    } else {
        short_name.to_ascii_lowercase()
    }
}

/// Human name of a codec for "unsupported codec" messages.
fn codec_name(id: AudioCodecId) -> String {
    if let Some(registered) = CODECS.get_audio_decoder(id) {
        return registered.codec.info.short_name.to_string();
    }
    let known: &[(AudioCodecId, &str)] = &[
        (codec_ids::CODEC_ID_AC3, "AC-3"),
        (codec_ids::CODEC_ID_EAC3, "E-AC-3"),
        (codec_ids::CODEC_ID_AC4, "AC-4"),
        (codec_ids::CODEC_ID_DCA, "DTS"),
        (codec_ids::CODEC_ID_TRUEHD, "TrueHD"),
        (codec_ids::CODEC_ID_WMA, "WMA"),
        (codec_ids::CODEC_ID_SPEEX, "Speex"),
        (codec_ids::CODEC_ID_MUSEPACK, "Musepack"),
        (codec_ids::CODEC_ID_WAVPACK, "WavPack"),
        (codec_ids::CODEC_ID_MONKEYS_AUDIO, "Monkey's Audio"),
        (codec_ids::CODEC_ID_TTA, "TTA"),
        (codec_ids::CODEC_ID_ATRAC3, "ATRAC3"),
        (codec_ids::CODEC_ID_ATRAC3PLUS, "ATRAC3plus"),
        (codec_ids::CODEC_ID_COOK, "RealAudio Cook"),
        (codec_ids::CODEC_ID_OPUS, "Opus"),
        (codec_ids::CODEC_ID_VORBIS, "Vorbis"),
        (codec_ids::CODEC_ID_AAC, "AAC"),
        (codec_ids::CODEC_ID_ALAC, "ALAC"),
        (codec_ids::CODEC_ID_FLAC, "FLAC"),
        (codec_ids::CODEC_ID_MP3, "MP3"),
    ];
    match known.iter().find(|(k, _)| *k == id) {
        Some((_, name)) => (*name).to_string(),
        None if id == symphonia::core::codecs::audio::CODEC_ID_NULL_AUDIO => "unknown".to_string(),
        None => format!("codec id {id}"),
    }
}

/// When symphonia recognises no format, names formats we know we cannot
/// read, from their magic bytes, so the user reads "unsupported format: WMA"
/// rather than "not a recognised audio format".
fn sniff_unsupported(path: &Path) -> Option<String> {
    let mut head = [0u8; 64];
    let mut file = File::open(path).ok()?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let head = &head[..n];
    let container: &[(&[u8], &str)] = &[
        (&[0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11], "unsupported format: ASF/WMA"),
        (b"MAC ", "unsupported format: Monkey's Audio (APE)"),
        (b"wvpk", "unsupported format: WavPack"),
        (b"TTA1", "unsupported format: TTA"),
        (b"MPCK", "unsupported format: Musepack"),
        (b"MP+", "unsupported format: Musepack"),
        (b".RMF", "unsupported format: RealAudio"),
        (b".ra\xfd", "unsupported format: RealAudio"),
        (b"DSD ", "unsupported format: DSD (DSF)"),
        (b"FRM8", "unsupported format: DSD (DFF)"),
        (b"MThd", "unsupported format: MIDI (notes, not audio)"),
        (b"Extended Module:", "unsupported format: tracker module (XM)"),
        (b"IMPM", "unsupported format: tracker module (IT)"),
    ];
    if let Some((_, reason)) = container.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Some((*reason).to_string());
    }
    if head.starts_with(b"OggS") && head.len() > 27 {
        // The first packet of the first page tells the codec.
        let first_packet = head.get(27 + usize::from(head[26])..).unwrap_or_default();
        let codecs: &[(&[u8], &str)] = &[
            (b"Speex   ", "unsupported codec: Speex (in Ogg)"),
            (b"\x80theora", "no audio track (Ogg Theora video)"),
            (b"fishead", "unsupported format: Ogg Skeleton stream"),
            (b"\x01vorbis", "corrupt or truncated Ogg Vorbis header"),
            (b"OpusHead", "corrupt or truncated Ogg Opus header"),
            (b"\x7fFLAC", "corrupt or truncated Ogg FLAC header"),
        ];
        return codecs
            .iter()
            .find(|(magic, _)| first_packet.starts_with(magic))
            .map(|(_, reason)| (*reason).to_string());
    }
    None
}

/// The user-facing reason when probing fails.
fn probe_error_text(e: &SymError) -> String {
    match e {
        SymError::Unsupported(_) => "not a recognised audio format".to_string(),
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "not a recognised audio format (or truncated header)".to_string()
        }
        SymError::IoError(io) => format!("read failed: {io}"),
        SymError::DecodeError(msg) => format!("corrupt header: {msg}"),
        SymError::LimitError(msg) => format!("header exceeds a limit: {msg}"),
        other => format!("cannot open: {other}"),
    }
}

pub(super) fn seek_error_text(e: &SymError) -> String {
    match e {
        SymError::SeekError(SeekErrorKind::Unseekable) => "format is not seekable".to_string(),
        SymError::SeekError(SeekErrorKind::ForwardOnly) => "format only seeks forward".to_string(),
        SymError::SeekError(SeekErrorKind::OutOfRange) => "position out of range".to_string(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Tags

/// Folds every metadata revision the reader has queued (leading/trailing
/// ID3/APE read by the probe, then the container's own tags) into `tags`;
/// later revisions win, so ID3v2 beats ID3v1 and in-stream comments beat
/// both.
fn collect_tags(reader: &mut dyn FormatReader, track_id: u32, tags: &mut TrackTags) {
    let mut metadata = reader.metadata();
    loop {
        if let Some(rev) = metadata.current() {
            overlay(tags, tags_of_revision(rev, track_id));
        }
        if metadata.pop().is_none() {
            break;
        }
    }
}

fn overlay(into: &mut TrackTags, from: TrackTags) {
    macro_rules! take {
        ($($f:ident),*) => { $( if from.$f.is_some() { into.$f = from.$f; } )* };
    }
    take!(title, artist, album, album_artist, track_number, disc_number, year, genre, comment);
}

fn tags_of_revision(rev: &MetadataRevision, track_id: u32) -> TrackTags {
    let mut out = TrackTags::default();
    let per_track = rev
        .per_track
        .iter()
        .filter(|t| t.track_id == u64::from(track_id))
        .flat_map(|t| t.metadata.tags.iter());
    for tag in rev.media.tags.iter().chain(per_track) {
        apply_tag(&mut out, tag);
    }
    out
}

/// Sets the field `tag` maps to, unless already set by an earlier tag.
fn apply_tag(out: &mut TrackTags, tag: &Tag) {
    fn text(s: &str) -> Option<String> {
        let t = s.trim().trim_matches('\0').trim();
        (!t.is_empty()).then(|| t.to_string())
    }
    fn set<T>(slot: &mut Option<T>, v: Option<T>) {
        if slot.is_none() {
            *slot = v;
        }
    }
    match &tag.std {
        Some(StandardTag::TrackTitle(s)) => set(&mut out.title, text(s)),
        Some(StandardTag::Artist(s)) => set(&mut out.artist, text(s)),
        Some(StandardTag::Album(s)) => set(&mut out.album, text(s)),
        Some(StandardTag::AlbumArtist(s)) => set(&mut out.album_artist, text(s)),
        Some(StandardTag::TrackNumber(n)) => set(&mut out.track_number, u32::try_from(*n).ok()),
        Some(StandardTag::DiscNumber(n)) => set(&mut out.disc_number, u32::try_from(*n).ok()),
        Some(
            StandardTag::RecordingYear(y) | StandardTag::ReleaseYear(y) | StandardTag::OriginalReleaseYear(y),
        ) => set(&mut out.year, Some(i32::from(*y))),
        Some(
            StandardTag::RecordingDate(s)
            | StandardTag::ReleaseDate(s)
            | StandardTag::OriginalReleaseDate(s)
            | StandardTag::RecordingTime(s),
        ) => set(&mut out.year, year_of(s)),
        Some(StandardTag::Genre(s)) => set(&mut out.genre, text(s)),
        Some(StandardTag::Comment(s)) => set(&mut out.comment, text(s)),
        Some(_) => {}
        None => {
            // Keys symphonia did not map: fall back on common raw names.
            let value = tag.raw.value.to_string();
            match tag.raw.key.to_ascii_lowercase().as_str() {
                "title" | "tit2" => set(&mut out.title, text(&value)),
                "artist" | "tpe1" => set(&mut out.artist, text(&value)),
                "album" | "talb" => set(&mut out.album, text(&value)),
                "albumartist" | "album_artist" | "album artist" | "tpe2" => {
                    set(&mut out.album_artist, text(&value))
                }
                "tracknumber" | "track" | "trck" => set(&mut out.track_number, leading_number(&value)),
                "discnumber" | "disc" | "tpos" => set(&mut out.disc_number, leading_number(&value)),
                "date" | "year" | "tdrc" | "tyer" => set(&mut out.year, year_of(&value)),
                "genre" | "tcon" => set(&mut out.genre, text(&value)),
                "comment" | "comm" | "icmt" | "description" => set(&mut out.comment, text(&value)),
                _ => {}
            }
        }
    }
}

/// The year in a date string: its first run of four digits ("2024-05-01",
/// "05/01/2024", "2024").
fn year_of(s: &str) -> Option<i32> {
    let bytes = s.as_bytes();
    bytes.windows(4).enumerate().find_map(|(i, w)| {
        let digits = w.iter().all(u8::is_ascii_digit);
        let before_ok = i == 0 || !bytes[i - 1].is_ascii_digit();
        let after_ok = bytes.get(i + 4).is_none_or(|b| !b.is_ascii_digit());
        (digits && before_ok && after_ok).then(|| s[i..i + 4].parse().ok()).flatten()
    })
}

/// "3/12" → 3.
fn leading_number(s: &str) -> Option<u32> {
    let digits: String = s.trim().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Tags from a WAV file's `LIST`/`INFO` chunk (INAM title, IART artist, IPRD
/// album, IPRT/ITRK track, ICRD date, IGNR genre, ICMT comment), which symphonia 0.6.1
/// parses but does not hand out.
fn riff_info_tags(path: &Path) -> Option<TrackTags> {
    let mut file = File::open(path).ok()?;
    let mut head = [0u8; 12];
    file.read_exact(&mut head).ok()?;
    if &head[..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    const MAX_INFO_BYTES: u32 = 1 << 20;
    loop {
        let mut chunk = [0u8; 8];
        file.read_exact(&mut chunk).ok()?;
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        match &chunk[..4] {
            b"data" => return None,
            b"LIST" if (4..=MAX_INFO_BYTES).contains(&len) => {
                let mut body = vec![0u8; len as usize];
                file.read_exact(&mut body).ok()?;
                if &body[..4] == b"INFO" {
                    return Some(parse_riff_info(&body[4..]));
                }
                if len % 2 == 1 {
                    file.seek(SeekFrom::Current(1)).ok()?;
                }
            }
            _ => {
                file.seek(SeekFrom::Current(i64::from(len) + i64::from(len % 2))).ok()?;
            }
        }
    }
}

/// The sub-chunks of a RIFF `INFO` list (id, little-endian length, text).
fn parse_riff_info(mut data: &[u8]) -> TrackTags {
    let mut tags = TrackTags::default();
    while data.len() >= 8 {
        let id = [data[0], data[1], data[2], data[3]];
        let len = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
        let Some(raw) = data.get(8..8 + len) else { break };
        let value = String::from_utf8_lossy(raw);
        let value = value.trim_matches(char::from(0)).trim();
        let text = (!value.is_empty()).then(|| value.to_string());
        match &id {
            b"INAM" => tags.title = text,
            b"IART" => tags.artist = text,
            b"IPRD" => tags.album = text,
            b"IPRT" | b"ITRK" => tags.track_number = leading_number(value),
            b"ICRD" => tags.year = year_of(value),
            b"IGNR" => tags.genre = text,
            b"ICMT" => tags.comment = text,
            _ => {}
        }
        data = data.get(8 + len + len % 2..).unwrap_or_default();
    }
    tags
}

// ---------------------------------------------------------------------------
// MP4 edit list

/// Seconds of encoder priming at the start of the first audio track of an
/// MP4/M4A file, from its edit list (`moov/trak/edts/elst` media_time over the
/// `mdhd` time scale). AAC encoders prepend 1024–2112 priming samples and
/// signal them only there; symphonia 0.6 parses but does not apply the edit
/// list, so without this every AAC clip would be ~23–48 ms late.
fn mp4_priming_s(path: &Path) -> Option<f64> {
    let mut file = File::open(path).ok()?;
    let file_len = file.metadata().ok()?.len();
    // Find the top-level moov box (it may follow mdat).
    let mut pos = 0u64;
    let moov = loop {
        if pos + 8 > file_len {
            return None;
        }
        file.seek(SeekFrom::Start(pos)).ok()?;
        let mut head = [0u8; 16];
        file.read_exact(&mut head[..8]).ok()?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = [head[4], head[5], head[6], head[7]];
        let (size, header) = match size32 {
            0 => (file_len - pos, 8),
            1 => {
                file.read_exact(&mut head[8..16]).ok()?;
                (
                    u64::from_be_bytes([
                        head[8], head[9], head[10], head[11], head[12], head[13], head[14], head[15],
                    ]),
                    16,
                )
            }
            n => (u64::from(n), 8),
        };
        if size < header {
            return None;
        }
        if &kind == b"moov" {
            const MAX_MOOV_BYTES: u64 = 64 << 20;
            let body_len = (size - header).min(MAX_MOOV_BYTES);
            let mut body = vec![0u8; usize::try_from(body_len).ok()?];
            file.read_exact(&mut body).ok()?;
            break body;
        }
        pos += size;
    };
    for trak in boxes(&moov).filter(|(k, _)| k == b"trak").map(|(_, b)| b) {
        let mdia = find_box(trak, b"mdia")?;
        let hdlr = find_box(mdia, b"hdlr")?;
        if hdlr.get(8..12) != Some(b"soun") {
            continue;
        }
        let mdhd = find_box(mdia, b"mdhd")?;
        let timescale = match mdhd.first()? {
            1 => be_u32(mdhd.get(20..24)?),
            _ => be_u32(mdhd.get(12..16)?),
        };
        let elst = find_box(trak, b"edts").and_then(|edts| find_box(edts, b"elst"));
        let Some(elst) = elst else { return Some(0.0) };
        let version = *elst.first()?;
        let count = be_u32(elst.get(4..8)?) as usize;
        let entry_len = if version == 1 { 20 } else { 12 };
        for i in 0..count.min(16) {
            let e = elst.get(8 + i * entry_len..8 + (i + 1) * entry_len)?;
            let media_time = if version == 1 {
                i64::from_be_bytes(e.get(8..16)?.try_into().ok()?)
            } else {
                i64::from(be_u32(e.get(4..8)?) as i32)
            };
            if media_time >= 0 && timescale > 0 {
                return Some(media_time as f64 / f64::from(timescale));
            }
        }
        return Some(0.0);
    }
    None
}

fn be_u32(b: &[u8]) -> u32 {
    match b {
        [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// Iterates the child boxes of an MP4 box body as (type, body).
fn boxes(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 8 {
            return None;
        }
        let size = be_u32(&data[..4]) as usize;
        let kind = [data[4], data[5], data[6], data[7]];
        let (header, size) = match size {
            0 => (8, data.len()),
            1 => {
                let big = u64::from_be_bytes(data.get(8..16)?.try_into().ok()?);
                (16, usize::try_from(big).ok()?)
            }
            n => (8, n),
        };
        if size < header || size > data.len() {
            return None;
        }
        let body = &data[header..size];
        data = &data[size..];
        Some((kind, body))
    })
}

fn find_box<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).find(|(k, _)| k == kind).map(|(_, b)| b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_are_found_in_dates() {
        assert_eq!(year_of("2024"), Some(2024));
        assert_eq!(year_of("2024-05-01"), Some(2024));
        assert_eq!(year_of("05/01/1999"), Some(1999));
        assert_eq!(year_of("12345"), None);
        assert_eq!(year_of(""), None);
    }

    #[test]
    fn track_numbers_parse_with_totals() {
        assert_eq!(leading_number("3/12"), Some(3));
        assert_eq!(leading_number(" 7 "), Some(7));
        assert_eq!(leading_number("x"), None);
    }

    #[test]
    fn downmix_averages_channels() {
        let mut v = vec![1.0, 3.0, -1.0, 1.0];
        assert_eq!(downmix_in_place(&mut v, 2), &[2.0, 0.0]);
        let mut m = vec![0.5, 0.25];
        assert_eq!(downmix_in_place(&mut m, 1), &[0.5, 0.25]);
    }

    #[test]
    fn placement_prefers_counting_within_jitter() {
        let p = Placement { start: Some(1000), tolerance: 3 };
        assert_eq!(p.start_index(Some(1002)), 1002);
        assert_eq!(p.start_index(Some(900)), 1000);
        assert_eq!(p.start_index(None), 1000);
        let unknown = Placement { start: None, tolerance: 3 };
        assert_eq!(unknown.start_index(Some(5)), 5);
    }

    #[test]
    fn opus_pre_skip_is_read_from_the_opus_head() {
        let mut head = b"OpusHead".to_vec();
        head.extend_from_slice(&[1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0]);
        assert_eq!(hidden_front_trim(codec_ids::CODEC_ID_OPUS, Some(&head), 48_000), 312);
        assert_eq!(hidden_front_trim(codec_ids::CODEC_ID_VORBIS, Some(&head), 48_000), 0);
        assert_eq!(hidden_front_trim(codec_ids::CODEC_ID_OPUS, None, 48_000), 0);
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
