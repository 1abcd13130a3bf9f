//! Opening a file: probing the container, choosing the audio track and its
//! decoder, and turning packet timestamps into sample positions.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::well_known as codec_ids;
use symphonia::core::codecs::audio::{AudioCodecId, AudioDecoderOptions};
use symphonia::core::errors::{Error as SymError, SeekErrorKind};
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::well_known as format_ids;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::packet::Packet;

use super::mp4::mp4_priming_s;
use super::tags::collect_tags;
use super::{CODECS, Demux, MAX_CHANNELS, MAX_SAMPLE_RATE_HZ, TrackTags};
use crate::{Error, Result};

impl Demux {
    /// Probes `path` and builds the decoder for its default audio track.
    pub(in crate::audio) fn open(path: &Path) -> Result<(Demux, symphonia::core::formats::Track)> {
        let file = crate::audio::open_regular(path)?;
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
        if rate_hz > MAX_SAMPLE_RATE_HZ {
            return Err(Error::decode(
                format!(
                    "the header claims a sample rate of {rate_hz} Hz, more than any audio file uses \
                     (at most {MAX_SAMPLE_RATE_HZ} Hz): the header is corrupt"
                ),
                path,
            ));
        }
        let channels = params.channels.as_ref().map(|c| c.count()).unwrap_or(0);
        if channels > MAX_CHANNELS {
            return Err(Error::decode(
                format!(
                    "the header claims {channels} channels, more than any audio file uses \
                     (at most {MAX_CHANNELS}): the header is corrupt"
                ),
                path,
            ));
        }
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
    pub(super) fn count_duration_s(&mut self, path: &Path, tags: &mut TrackTags) -> Result<f64> {
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
    pub(in crate::audio) fn ts_to_index(&self, ts: i64) -> Option<i64> {
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
    pub(in crate::audio) fn priming_index(&self) -> i64 {
        (self.priming_s * f64::from(self.rate_hz)).round() as i64
    }

    /// Where the decoded output of `packet` belongs, from its timestamps:
    /// the first valid sample is at `pts + trim_start` (the decoders apply the
    /// trims), plus whatever the decoder drops silently at its very first
    /// packet (the Opus adapter's pre-skip).
    pub(in crate::audio) fn placement(&self, packet: &Packet) -> Placement {
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
pub(super) fn hidden_front_trim(codec: AudioCodecId, extra_data: Option<&[u8]>, rate_hz: u32) -> i64 {
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
pub(in crate::audio) struct Placement {
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
    pub(in crate::audio) fn start_index(&self, expected: Option<i64>) -> i64 {
        match (self.start, expected) {
            (Some(ts), Some(exp)) if (ts - exp).abs() <= self.tolerance => exp,
            (Some(ts), _) => ts,
            (None, Some(exp)) => exp,
            (None, None) => 0,
        }
    }
}

/// The container's duration in seconds, if it states one.
pub(super) fn stated_duration_s(track: &symphonia::core::formats::Track, rate_hz: u32) -> Option<f64> {
    if let Some(frames) = track.num_frames {
        return Some(frames as f64 / f64::from(rate_hz));
    }
    let (tb, dur) = (track.time_base?, track.duration?);
    tb.calc_duration(dur).map(|t| t.as_secs_f64())
}

/// A friendlier container name than symphonia's short names.
pub(super) fn container_name(format: symphonia::core::formats::FormatId, short_name: &str) -> String {
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
pub(super) fn codec_name(id: AudioCodecId) -> String {
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

pub(in crate::audio) fn seek_error_text(e: &SymError) -> String {
    match e {
        SymError::SeekError(SeekErrorKind::Unseekable) => "format is not seekable".to_string(),
        SymError::SeekError(SeekErrorKind::ForwardOnly) => "format only seeks forward".to_string(),
        SymError::SeekError(SeekErrorKind::OutOfRange) => "position out of range".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
