//! Streaming a whole file as PCM at its own rate and channel count: the
//! decoding side of playback.
//!
//! [`super::decode`] cuts mono 22,050 Hz clips for the model; a player needs
//! the opposite — every frame, in order, at the file's own rate and channels,
//! with accurate seeking. [`PcmStream`] is that, built on the same demuxer and
//! codec registry as [`AudioFile`], so every format the import accepts (Opus
//! through libopus included) also plays, and with the same timing fixes:
//!
//! - the encoder priming that symphonia 0.6 leaves in the stream (the MP4
//!   edit list of AAC, the Ogg Opus pre-skip) is dropped, so frame 0 of the
//!   stream is file time 0, as in [`AudioFile::read_clips`];
//! - MP3 encoder delay and padding are trimmed by symphonia itself when the
//!   file has a LAME/Xing header (gapless decoding is on by default);
//! - [`PcmStream::seek`] lands on the requested frame exactly: it seeks a
//!   little early (so that the decoder has converged: MP3 bit reservoir,
//!   Vorbis/AAC overlap) and drops what precedes the target, placing packets
//!   by their timestamps. Where a format cannot seek it decodes from the
//!   start instead.
//!
//! Not trimmed (as in most players): the end padding of AAC in MP4 (up to
//! ~1,024 frames of silence at the end, since symphonia 0.6 does not apply
//! the edit list's duration), and the encoder delay of MP3 files without a
//! LAME header, ADTS AAC and MP3/AAC in Matroska.

use std::path::Path;

use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{SeekMode, SeekTo};
use symphonia::core::units::Time;

use super::decode::{AudioFile, AudioInfo, Demux, MAX_DECODE_ERRORS, PREROLL_S, seek_error_text};
use crate::{Error, Result};

/// A file decoded front to back as interleaved `f32` frames at the file's own
/// sample rate and channel count (see the module docs).
pub struct PcmStream {
    file: AudioFile,
    /// Channels of every chunk handed out (the file's; a mid-stream change of
    /// layout, as in chained Ogg streams, is mapped onto it).
    channels: usize,
    /// Native frame index (file time × rate) of the next frame handed out.
    pos: i64,
    /// Whether `pos` is known by counting (false right after a seek, where
    /// the next packet's timestamp decides).
    counted: bool,
    /// Frames before this index are decoded but dropped (priming, seek target).
    skip_to: i64,
    /// The last decoded packet, interleaved; `chunk[chunk_from..]` is handed out.
    chunk: Vec<f32>,
    chunk_from: usize,
    /// Undecodable packets met since the last seek.
    decode_errors: usize,
    /// The stream has ended (no more packets, or an unrecoverable error).
    ended: bool,
}

impl std::fmt::Debug for PcmStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcmStream")
            .field("path", &self.file.path)
            .field("channels", &self.channels)
            .field("pos", &self.pos)
            .finish()
    }
}

impl PcmStream {
    /// Opens `path` for streaming (probe, tags, duration: see
    /// [`AudioFile::open`], whose errors it returns).
    pub fn open(path: &Path) -> Result<PcmStream> {
        PcmStream::from_file(AudioFile::open(path)?)
    }

    /// Streams an already opened file from its start (an [`AudioFile`] that
    /// has read clips is reopened first, so that the priming is decoded as in
    /// a fresh decode). Fails only if that reopening fails.
    pub fn from_file(mut file: AudioFile) -> Result<PcmStream> {
        if !file.at_start {
            let (demux, _) = Demux::open(&file.path)?;
            file.demux = demux;
            file.at_start = true;
        }
        let channels = usize::from(file.info.channels).max(1);
        Ok(PcmStream {
            file,
            channels,
            pos: 0,
            counted: true,
            skip_to: 0,
            chunk: Vec::new(),
            chunk_from: 0,
            decode_errors: 0,
            ended: false,
        })
    }

    /// What the file is (format, rate, channels, duration, tags).
    pub fn info(&self) -> &AudioInfo {
        self.file.info()
    }

    /// The file being streamed (for messages).
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Frames per second of the chunks (the decoder's rate; Opus is 48 kHz).
    pub fn sample_rate_hz(&self) -> u32 {
        self.file.demux.rate_hz
    }

    /// Samples per frame in the chunks.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// File time in seconds of the next frame [`next_chunk`](Self::next_chunk)
    /// hands out.
    pub fn position_s(&self) -> f64 {
        let next = self.pos.max(self.skip_to) - self.pending_frames() as i64;
        next.max(0) as f64 / f64::from(self.sample_rate_hz())
    }

    fn pending_frames(&self) -> usize {
        (self.chunk.len() - self.chunk_from) / self.channels
    }

    /// The next run of interleaved frames ([`channels`](Self::channels)
    /// samples each), or `None` at the end of the audio. Chunks are one
    /// decoded packet long (a few hundred to a few thousand frames).
    ///
    /// A few undecodable packets are skipped (damaged files often have some);
    /// more than a hundred since the last seek fail the stream, as does a
    /// read error. After an error the stream stays ended.
    pub fn next_chunk(&mut self) -> Result<Option<&[f32]>> {
        if self.chunk_from >= self.chunk.len() {
            self.chunk.clear();
            self.chunk_from = 0;
            if self.ended || !self.decode_packet()? {
                return Ok(None);
            }
        }
        let from = self.chunk_from;
        self.chunk_from = self.chunk.len();
        Ok(Some(&self.chunk[from..]))
    }

    /// Decodes packets until one yields frames at or after `skip_to` (kept in
    /// `chunk`); false at the end of the stream.
    fn decode_packet(&mut self) -> Result<bool> {
        loop {
            let packet = match self.file.demux.reader.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => return self.end(None),
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    tracing::debug!("file ends mid-packet: {}", self.file.path.display());
                    return self.end(None);
                }
                Err(SymError::ResetRequired) => {
                    // A chained stream (a second Ogg stream glued on): like the
                    // clip reader, play what came before.
                    return self.end(None);
                }
                Err(e) => return self.end(Some(Error::decode(format!("cannot read: {e}"), &self.file.path))),
            };
            let demux = &mut self.file.demux;
            if packet.track_id != demux.track_id {
                continue;
            }
            let placement = demux.placement(&packet);
            let buf = match demux.decoder.decode(&packet) {
                Ok(buf) => buf,
                Err(SymError::ResetRequired) => return self.end(None),
                Err(e) => {
                    self.decode_errors += 1;
                    if self.decode_errors > MAX_DECODE_ERRORS {
                        let reason = format!(
                            "corrupt data: more than {MAX_DECODE_ERRORS} undecodable packets (last: {e})"
                        );
                        return self.end(Some(Error::decode(reason, &self.file.path)));
                    }
                    tracing::debug!("skipping undecodable packet ({e}): {}", self.file.path.display());
                    continue;
                }
            };
            demux.hidden_front_trim = 0;
            let frames = buf.frames();
            if frames == 0 || buf.spec().rate() != demux.rate_hz {
                // Empty, or at another rate than the stream header (HE-AAC
                // with SBR): playing it would be at the wrong speed.
                continue;
            }
            let start = placement.start_index(self.counted.then_some(self.pos));
            self.counted = true;
            self.pos = start + frames as i64;
            let drop_frames = usize::try_from(self.skip_to.saturating_sub(start)).unwrap_or(0).min(frames);
            if drop_frames == frames {
                continue;
            }
            let src_channels = buf.spec().channels().count().max(1);
            self.chunk.resize(frames * src_channels, 0.0);
            buf.copy_to_slice_interleaved(&mut self.chunk[..]);
            if src_channels != self.channels {
                remap_channels(&mut self.chunk, src_channels, self.channels);
            }
            for v in &mut self.chunk {
                if !v.is_finite() {
                    *v = 0.0;
                }
            }
            self.chunk_from = drop_frames * self.channels;
            self.skip_to = i64::MIN;
            return Ok(true);
        }
    }

    fn end(&mut self, error: Option<Error>) -> Result<bool> {
        self.ended = true;
        match error {
            Some(e) => Err(e),
            None => Ok(false),
        }
    }

    /// Moves to file time `position_s` (clamped to ≥ 0): the next chunk starts
    /// with the frame at that time. Seeking past the end ends the stream.
    ///
    /// Fails only if the file can no longer be read; a format that cannot
    /// seek is decoded from the start up to the target instead.
    pub fn seek(&mut self, position_s: f64) -> Result<()> {
        if !position_s.is_finite() {
            return Err(Error::Invalid(format!(
                "seek to {position_s} s is not a time: {}",
                self.file.path.display()
            )));
        }
        let rate = f64::from(self.sample_rate_hz());
        let target = (position_s.max(0.0) * rate).round() as i64;
        self.chunk.clear();
        self.chunk_from = 0;
        self.ended = false;
        self.decode_errors = 0;
        let seek_at = target - (PREROLL_S * rate).round() as i64;
        if seek_at > 0 {
            match self.seek_demuxer(seek_at) {
                Ok(actual) => {
                    self.pos = actual;
                    self.counted = false;
                    self.skip_to = target;
                    return Ok(());
                }
                Err(reason) => tracing::debug!(
                    "seek failed ({reason}), decoding from the start: {}",
                    self.file.path.display()
                ),
            }
        }
        // Near the start (or unseekable): reopen, so that the priming is
        // decoded and dropped exactly as at the first play.
        let (demux, _) = Demux::open(&self.file.path)?;
        self.file.demux = demux;
        self.pos = 0;
        self.counted = true;
        self.skip_to = target;
        Ok(())
    }

    /// Accurate demuxer seek to native frame `target`; the frame reached (at
    /// or before `target`).
    fn seek_demuxer(&mut self, target: i64) -> std::result::Result<i64, String> {
        let demux = &mut self.file.demux;
        let stream_time_s = target as f64 / f64::from(demux.rate_hz) + demux.priming_s;
        let time =
            Time::try_from_secs_f64(stream_time_s).ok_or_else(|| format!("bad seek time {stream_time_s}"))?;
        let seeked = demux
            .reader
            .seek(SeekMode::Accurate, SeekTo::Time { time, track_id: Some(demux.track_id) })
            .map_err(|e| seek_error_text(&e))?;
        demux.decoder.reset();
        let actual =
            demux.ts_to_index(seeked.actual_ts.get()).map(|i| i - demux.priming_index()).unwrap_or(target);
        Ok(actual.min(target))
    }
}

/// Maps interleaved frames of `from` channels onto `to` channels in place
/// (mono is copied to every channel; otherwise channels are kept by index
/// and missing ones are silent).
fn remap_channels(samples: &mut Vec<f32>, from: usize, to: usize) {
    let frames = samples.len() / from;
    let mut out = Vec::with_capacity(frames * to);
    for frame in samples.chunks_exact(from) {
        for c in 0..to {
            let v = if from == 1 { frame[0] } else { frame.get(c).copied().unwrap_or(0.0) };
            out.push(v);
        }
    }
    *samples = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remapping_copies_mono_and_keeps_channels_by_index() {
        let mut mono = vec![0.5, -0.5];
        remap_channels(&mut mono, 1, 2);
        assert_eq!(mono, [0.5, 0.5, -0.5, -0.5]);
        let mut three = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        remap_channels(&mut three, 3, 2);
        assert_eq!(three, [1.0, 2.0, 4.0, 5.0]);
        let mut two = vec![1.0, 2.0];
        remap_channels(&mut two, 2, 3);
        assert_eq!(two, [1.0, 2.0, 0.0]);
    }
}
