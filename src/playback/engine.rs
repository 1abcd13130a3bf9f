//! The real-time half of the player: one endless [`rodio::Source`] that
//! renders the main track, the next one (gapless), a hover audition and
//! short fades into a single stereo stream.
//!
//! The output device pulls [`Engine`] from its own thread, so nothing here
//! blocks or opens files: the player thread ([`super::player`]) opens and
//! prepares every [`TrackSource`] and hands it over through a channel
//! ([`EngineCmd`]); the engine applies commands between blocks of
//! [`BLOCK_FRAMES`] frames (about 6 ms) and reports what happened through
//! another channel ([`EngineEvent`]) and a position it publishes after every
//! block ([`Progress`]).
//!
//! Gapless: when the current track runs out in the middle of a block, the
//! rest of the block comes from the next track (if the player thread has
//! handed one over), so consecutive tracks are joined sample to sample.
//!
//! Clicks are avoided with short linear ramps: pausing, resuming, seeking,
//! volume changes, and tracks cut off by a new `Play` or `Stop` (which fade
//! out over [`DECLICK_S`] while the new audio starts).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::track::{OUTPUT_CHANNELS, OutputFormat, TrackSource};
use crate::Error;

/// Frames rendered per block; commands take effect at block boundaries.
pub const BLOCK_FRAMES: usize = 256;

/// Length of the ramps that avoid clicks (pause, resume, cut-off tracks,
/// volume changes).
pub const DECLICK_S: f64 = 0.010;

/// How fast a stopped audition fades out.
pub const AUDITION_STOP_FADE_S: f64 = 0.06;

/// Identifies one track handed to the engine, so that events can be matched
/// to what the player thread sent (a stale event for a replaced track is
/// recognisably stale). 0 means "none".
pub type Token = u64;

/// What the player thread tells the engine.
pub enum EngineCmd {
    /// Replace everything with `track` (the old track fades out), paused or not.
    Play {
        /// Identifies the track in later events.
        token: Token,
        /// The prepared track.
        track: Box<TrackSource>,
        /// Load it without starting (e.g. "next" while paused).
        paused: bool,
    },
    /// The track to join gaplessly when the current one ends; if nothing is
    /// playing any more, it starts at once.
    SetNext {
        /// Identifies the track in later events.
        token: Token,
        /// The prepared track.
        track: Box<TrackSource>,
    },
    /// Hold the main track where it is.
    Pause,
    /// Continue the main track.
    Resume,
    /// Stop the main track (it fades out) and forget the next one.
    Stop,
    /// Move the main track to `position_s`, if it is still `token`.
    Seek {
        /// The track the seek was meant for.
        token: Token,
        /// Target file time in seconds.
        position_s: f64,
        /// Published with the position once applied, so that the player
        /// thread can tell positions from before the seek from those after.
        generation: u64,
    },
    /// Output gain (linear, 0..=1), reached over a short ramp.
    Gain(f32),
    /// Play `length_frames` of `track` (already positioned) over the main
    /// track, which is held meanwhile; replaces any running audition.
    Audition {
        /// Identifies the audition in later events.
        token: Token,
        /// The prepared, positioned track.
        track: Box<TrackSource>,
        /// Output frames to play (less if the track ends first).
        length_frames: u64,
        /// Fade-in length in output frames.
        fade_in_frames: u64,
        /// Fade-out length in output frames (at the end of the excerpt).
        fade_out_frames: u64,
    },
    /// Fade the running audition out quickly.
    StopAudition,
}

/// What the engine tells the player thread.
#[derive(Debug)]
pub enum EngineEvent {
    /// The track is now the main track (from `Play`, or joined after the
    /// previous one ended).
    Started {
        /// The track.
        token: Token,
    },
    /// The main track played to its end.
    Finished {
        /// The track.
        token: Token,
    },
    /// The main track stopped early on an error; the next one (if any) starts.
    Failed {
        /// The track.
        token: Token,
        /// Its file.
        path: PathBuf,
        /// Why it stopped.
        error: Error,
    },
    /// The main track ended and no next track was there to follow it.
    Drained {
        /// The track that ended.
        after: Token,
    },
    /// A seek failed; the track has ended (a `Failed`/`Drained` follows).
    SeekFailed {
        /// The track.
        token: Token,
        /// Why.
        error: Error,
    },
    /// The audition ended (played out, stopped, or replaced), with the
    /// error that cut it short, if any.
    AuditionFinished {
        /// The audition.
        token: Token,
        /// Why it ended early, if it did.
        error: Option<Error>,
    },
}

/// The main track's token and position, published after every block so
/// that the player thread can show a moving position without messages.
#[derive(Debug, Default)]
pub struct Progress {
    token: AtomicU64,
    generation: AtomicU64,
    position_bits: AtomicU64,
}

impl Progress {
    /// The current main track (0: none), the generation of the last seek
    /// applied, and the track's file time in seconds.
    pub fn get(&self) -> (Token, u64, f64) {
        let token = self.token.load(Ordering::Acquire);
        let generation = self.generation.load(Ordering::Acquire);
        (token, generation, f64::from_bits(self.position_bits.load(Ordering::Acquire)))
    }

    fn set(&self, token: Token, generation: u64, position_s: f64) {
        self.position_bits.store(position_s.to_bits(), Ordering::Release);
        self.generation.store(generation, Ordering::Release);
        self.token.store(token, Ordering::Release);
    }
}

struct Voice {
    token: Token,
    track: Box<TrackSource>,
}

struct Audition {
    token: Token,
    track: Box<TrackSource>,
    /// Frames played so far.
    played: u64,
    /// Frames to play in all (may be shortened by `StopAudition`).
    length: u64,
    fade_in: u64,
    fade_out: u64,
}

impl Audition {
    /// Gain of frame `p` of the excerpt.
    fn envelope(&self, p: u64) -> f32 {
        let rise = if self.fade_in == 0 { 1.0 } else { p as f64 / self.fade_in as f64 };
        let left = self.length.saturating_sub(p) as f64;
        let fall = if self.fade_out == 0 { 1.0 } else { left / self.fade_out as f64 };
        rise.min(fall).clamp(0.0, 1.0) as f32
    }
}

/// A track cut off by a new one, fading out.
struct Tail {
    track: Box<TrackSource>,
    level: f32,
}

/// The source the output device plays (see the module docs). It never ends;
/// with nothing to play it renders silence.
///
/// Built by [`super::Player`]; a test (or an offline renderer) gets one from
/// [`super::Player::start_with_pulled_output`] and pulls it like a device.
pub struct Engine {
    format: OutputFormat,
    commands: Receiver<EngineCmd>,
    events: Sender<EngineEvent>,
    progress: Arc<Progress>,
    current: Option<Voice>,
    next: Option<Voice>,
    audition: Option<Audition>,
    tails: Vec<Tail>,
    paused: bool,
    /// Generation of the last seek applied (see [`EngineCmd::Seek`]).
    seek_generation: u64,
    /// Gain of the main track (0 held .. 1 playing), ramped.
    main_level: f32,
    gain: f32,
    gain_target: f32,
    /// Per-frame change of a declick ramp.
    ramp_step: f32,
    block: Vec<f32>,
    block_from: usize,
    scratch: Vec<f32>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("format", &self.format)
            .field("current", &self.current.as_ref().map(|v| v.token))
            .field("next", &self.next.as_ref().map(|v| v.token))
            .field("paused", &self.paused)
            .finish()
    }
}

impl Engine {
    /// An engine rendering in `format`, taking commands from `commands` and
    /// reporting to `events` and `progress`.
    pub(crate) fn new(
        format: OutputFormat,
        commands: Receiver<EngineCmd>,
        events: Sender<EngineEvent>,
        progress: Arc<Progress>,
        gain: f32,
    ) -> Engine {
        let declick_frames = format.frames_in(DECLICK_S).max(1);
        Engine {
            format,
            commands,
            events,
            progress,
            current: None,
            next: None,
            audition: None,
            tails: Vec::new(),
            paused: false,
            seek_generation: 0,
            main_level: 0.0,
            gain,
            gain_target: gain,
            ramp_step: 1.0 / declick_frames as f32,
            block: Vec::new(),
            block_from: 0,
            scratch: vec![0.0; BLOCK_FRAMES * OUTPUT_CHANNELS],
        }
    }

    /// The format rendered.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// File time in seconds of the main track's next frame (None when there
    /// is no main track): exactly what has been rendered so far.
    pub fn position_s(&self) -> Option<f64> {
        self.current.as_ref().map(|v| v.track.position_s())
    }

    /// Fills `out` with the next interleaved stereo samples (what a device
    /// would play next).
    pub fn fill(&mut self, out: &mut [f32]) {
        let mut written = 0;
        while written < out.len() {
            if self.block_from >= self.block.len() {
                self.render_block();
            }
            let n = (self.block.len() - self.block_from).min(out.len() - written);
            out[written..written + n].copy_from_slice(&self.block[self.block_from..self.block_from + n]);
            self.block_from += n;
            written += n;
        }
    }

    fn send(&self, event: EngineEvent) {
        // The player thread may be gone (shutting down); nothing to tell then.
        let _ = self.events.send(event);
    }

    fn apply_commands(&mut self) {
        while let Ok(cmd) = self.commands.try_recv() {
            match cmd {
                EngineCmd::Play { token, track, paused } => {
                    self.cut_current();
                    self.next = None;
                    self.paused = paused;
                    self.main_level = 0.0;
                    self.current = Some(Voice { token, track });
                    self.send(EngineEvent::Started { token });
                }
                EngineCmd::SetNext { token, track } => {
                    if self.current.is_none() {
                        self.main_level = 0.0;
                        self.current = Some(Voice { token, track });
                        self.send(EngineEvent::Started { token });
                    } else {
                        self.next = Some(Voice { token, track });
                    }
                }
                EngineCmd::Pause => self.paused = true,
                EngineCmd::Resume => self.paused = false,
                EngineCmd::Stop => {
                    self.cut_current();
                    self.next = None;
                }
                EngineCmd::Seek { token, position_s, generation } => {
                    self.seek_generation = generation;
                    self.seek(token, position_s);
                }
                EngineCmd::Gain(gain) => self.gain_target = gain.clamp(0.0, 1.0),
                EngineCmd::Audition { token, track, length_frames, fade_in_frames, fade_out_frames } => {
                    if let Some(old) = self.audition.take() {
                        let level = old.envelope(old.played);
                        self.send(EngineEvent::AuditionFinished { token: old.token, error: None });
                        self.tails.push(Tail { track: old.track, level });
                    }
                    self.audition = Some(Audition {
                        token,
                        track,
                        played: 0,
                        length: length_frames,
                        fade_in: fade_in_frames,
                        fade_out: fade_out_frames.min(length_frames),
                    });
                }
                EngineCmd::StopAudition => {
                    if let Some(a) = &mut self.audition {
                        let fade = self.format.frames_in(AUDITION_STOP_FADE_S).max(1);
                        let level = f64::from(a.envelope(a.played));
                        // Continue from the current level down to 0 over `fade`.
                        a.fade_out = fade;
                        a.fade_in = 0;
                        a.length = a.played + (level * fade as f64).round() as u64;
                    }
                }
            }
        }
    }

    /// Moves the main track to a fading tail.
    fn cut_current(&mut self) {
        if let Some(voice) = self.current.take()
            && self.main_level > 0.0
        {
            self.tails.push(Tail { track: voice.track, level: self.main_level });
        }
        self.main_level = 0.0;
    }

    fn seek(&mut self, token: Token, position_s: f64) {
        let Some(voice) = self.current.as_mut().filter(|v| v.token == token) else { return };
        // Jump, then fade back in (a jump in the waveform would click).
        self.main_level = 0.0;
        if let Err(error) = voice.track.seek(position_s) {
            self.send(EngineEvent::SeekFailed { token, error });
        }
    }

    fn render_block(&mut self) {
        self.apply_commands();
        let len = BLOCK_FRAMES * OUTPUT_CHANNELS;
        self.block.clear();
        self.block.resize(len, 0.0);
        self.block_from = 0;

        // Main track, held while paused or during an audition.
        let target = if self.paused || self.audition.is_some() { 0.0 } else { 1.0 };
        if self.main_level > 0.0 || target > 0.0 {
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.resize(len, 0.0);
            self.render_main(&mut scratch);
            for (frame, src) in
                self.block.chunks_exact_mut(OUTPUT_CHANNELS).zip(scratch.chunks_exact(OUTPUT_CHANNELS))
            {
                self.main_level = step_toward(self.main_level, target, self.ramp_step);
                for (o, s) in frame.iter_mut().zip(src) {
                    *o += s * self.main_level;
                }
            }
            self.scratch = scratch;
        }

        self.render_audition();
        self.render_tails();

        for frame in self.block.chunks_exact_mut(OUTPUT_CHANNELS) {
            self.gain = step_toward(self.gain, self.gain_target, self.ramp_step);
            frame.iter_mut().for_each(|v| *v *= self.gain);
        }

        match &self.current {
            Some(v) => self.progress.set(v.token, self.seek_generation, v.track.position_s()),
            None => self.progress.set(0, self.seek_generation, 0.0),
        }
    }

    /// Fills `out` from the main track, joining the next one when it ends.
    fn render_main(&mut self, out: &mut [f32]) {
        let mut filled = 0;
        while filled < out.len() {
            let Some(voice) = self.current.as_mut() else {
                out[filled..].fill(0.0);
                return;
            };
            filled += voice.track.fill(&mut out[filled..]) * OUTPUT_CHANNELS;
            if filled < out.len() {
                // The track has ended: report it and join the next one.
                let Some(mut ended) = self.current.take() else { return };
                match ended.track.take_error() {
                    Some(error) => self.send(EngineEvent::Failed {
                        token: ended.token,
                        path: ended.track.path().to_path_buf(),
                        error,
                    }),
                    None => self.send(EngineEvent::Finished { token: ended.token }),
                }
                match self.next.take() {
                    Some(next) => {
                        self.send(EngineEvent::Started { token: next.token });
                        self.current = Some(next);
                    }
                    None => self.send(EngineEvent::Drained { after: ended.token }),
                }
            }
        }
    }

    fn render_audition(&mut self) {
        let Some(a) = self.audition.as_mut() else { return };
        let frames = (a.length.saturating_sub(a.played)).min(BLOCK_FRAMES as u64) as usize;
        let scratch = &mut self.scratch[..frames * OUTPUT_CHANNELS];
        let got = a.track.fill(scratch);
        for (i, (frame, src)) in self
            .block
            .chunks_exact_mut(OUTPUT_CHANNELS)
            .zip(scratch.chunks_exact(OUTPUT_CHANNELS))
            .take(got)
            .enumerate()
        {
            let g = a.envelope(a.played + i as u64);
            for (o, s) in frame.iter_mut().zip(src) {
                *o += s * g;
            }
        }
        a.played += got as u64;
        if got < frames || a.played >= a.length {
            let error = a.track.take_error();
            let token = a.token;
            self.audition = None;
            self.send(EngineEvent::AuditionFinished { token, error });
        }
    }

    fn render_tails(&mut self) {
        let step = self.ramp_step;
        let mut tails = std::mem::take(&mut self.tails);
        for tail in &mut tails {
            let scratch = &mut self.scratch[..BLOCK_FRAMES * OUTPUT_CHANNELS];
            let got = tail.track.fill(scratch);
            for (frame, src) in self
                .block
                .chunks_exact_mut(OUTPUT_CHANNELS)
                .zip(scratch.chunks_exact(OUTPUT_CHANNELS))
                .take(got)
            {
                tail.level = step_toward(tail.level, 0.0, step);
                for (o, s) in frame.iter_mut().zip(src) {
                    *o += s * tail.level;
                }
            }
            if got < BLOCK_FRAMES {
                tail.level = 0.0;
            }
        }
        tails.retain(|t| t.level > 0.0);
        self.tails = tails;
    }
}

/// `value` moved toward `target` by at most `step`.
fn step_toward(value: f32, target: f32, step: f32) -> f32 {
    if value < target { (value + step).min(target) } else { (value - step).max(target) }
}

impl Iterator for Engine {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        if self.block_from >= self.block.len() {
            self.render_block();
        }
        let v = self.block.get(self.block_from).copied();
        self.block_from += 1;
        v
    }
}

impl rodio::Source for Engine {
    fn current_span_len(&self) -> Option<usize> {
        None
    }

    fn channels(&self) -> rodio::ChannelCount {
        std::num::NonZeroU16::MIN.saturating_add(OUTPUT_CHANNELS as u16 - 1)
    }

    fn sample_rate(&self) -> rodio::SampleRate {
        self.format.rate()
    }

    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_stop_at_their_target() {
        assert_eq!(step_toward(0.0, 1.0, 0.3), 0.3);
        assert_eq!(step_toward(0.9, 1.0, 0.3), 1.0);
        assert_eq!(step_toward(0.2, 0.0, 0.3), 0.0);
    }
}
