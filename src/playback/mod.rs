//! The audio player, without any GUI: a queue with play/pause, seek,
//! next/previous, volume, gapless transitions, and "hover-audition" (a few
//! seconds of a track over the paused main playback).
//!
//! - [`Player`] is the handle the app (or CLI) holds: every method sends a
//!   [`PlayerCmd`] to the player thread ("tuneatlas-player") and returns at
//!   once; [`Player::state`] returns a [`PlayerState`] snapshot without
//!   waiting for that thread, and a waker set with [`Player::set_waker`] is
//!   called after every change (the GUI asks for a repaint there).
//! - The player thread owns the output device (rodio on cpal/ALSA), opens
//!   and prepares tracks, keeps the queue, and turns the engine's events into
//!   state. Files are opened there, never on the audio thread.
//! - [`Engine`] is the one [`rodio::Source`] the device plays: it mixes the
//!   main track, the prepared next track, an audition and fades.
//! - [`TrackSource`] is one file converted to the output format (our own
//!   symphonia + libopus decoding, so every format the import accepts plays).
//!
//! Without an output device (CI, a headless box, `--no-audio`) the player
//! still starts, reports [`Availability::Unavailable`] with a reason a
//! person can read, and accepts every command without effect on the sound.
//! [`Player::start_with_pulled_output`] runs the whole player against an
//! [`Engine`] the caller pulls itself — what the tests use in place of a
//! sound card.
//!
//! Gapless: the next queue item is opened as soon as a track starts and
//! handed to the engine, which joins it sample to sample. That is gapless
//! wherever the decoded audio is exactly the music: WAV, FLAC, Vorbis, Opus,
//! MP3 with a LAME/Xing header (symphonia trims encoder delay and padding),
//! AAC in MP4 at the start (the edit list's priming is dropped). Not
//! gapless: the end padding of AAC in MP4 (up to ~23 ms of silence), MP3
//! without a LAME header, ADTS AAC and MP3/AAC in Matroska (encoder delay
//! and padding stay), and tracks opened too late (a next track enqueued in
//! the last moment of the current one starts after a short silence).

mod engine;
mod output;
mod player;
mod track;

use std::path::PathBuf;
use std::sync::Arc;

pub use engine::{AUDITION_STOP_FADE_S, BLOCK_FRAMES, DECLICK_S, Engine};
pub use player::{
    AUDITION_FADE_IN_S, AUDITION_FADE_OUT_S, PREVIOUS_RESTARTS_AFTER_S, Player, PlayerCmd, gain_of_volume,
};
pub use track::{OUTPUT_CHANNELS, OutputFormat, TrackSource};

/// One entry of the play queue: what to play and what to call it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueItem {
    /// The track's id in the library (shown as "now playing" in the map).
    pub track_id: i64,
    /// The audio file.
    pub path: PathBuf,
    /// Display title (the queue view shows it without a database lookup).
    pub title: String,
}

/// Whether sound can be played at all, and if not, why.
#[derive(Debug, Clone, PartialEq)]
pub enum Availability {
    /// The output device is still being opened.
    Starting,
    /// Playing through `device`.
    Available {
        /// The output device's name, for the UI's tooltip.
        device: String,
    },
    /// No sound: the player accepts commands but plays nothing. The reason
    /// is for a person ("No audio output device: ...").
    Unavailable(String),
}

/// What the main playback is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybackStatus {
    /// Nothing loaded (or the queue ended).
    Stopped,
    /// Sounding (or held under an audition; see [`PlayerState::auditioning`]).
    Playing,
    /// Held by the user.
    Paused,
}

/// A snapshot of the player, cheap to take every frame (the queue is shared,
/// not copied).
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerState {
    /// Whether sound can be played.
    pub availability: Availability,
    /// Playing, paused or stopped.
    pub status: PlaybackStatus,
    /// The play queue.
    pub queue: Arc<Vec<QueueItem>>,
    /// Index into `queue` of the current track.
    pub current_index: Option<usize>,
    /// Library id of the current track.
    pub current_track_id: Option<i64>,
    /// Position in the current track, in seconds.
    pub position_s: f64,
    /// Duration of the current track, in seconds, when known.
    pub duration_s: Option<f64>,
    /// Volume as set (0..=1; the gain is [`gain_of_volume`] of it).
    pub volume: f32,
    /// The file being auditioned, while an audition plays.
    pub auditioning: Option<PathBuf>,
    /// The last thing that went wrong ("Cannot play /x.mp3: corrupt data"),
    /// kept until the next error; playback goes on past bad files.
    pub last_error: Option<String>,
    /// Incremented on every change, so a UI can tell cheaply whether to redraw.
    pub revision: u64,
}

impl PlayerState {
    /// The state of a freshly started player.
    fn initial(availability: Availability) -> PlayerState {
        PlayerState {
            availability,
            status: PlaybackStatus::Stopped,
            queue: Arc::new(Vec::new()),
            current_index: None,
            current_track_id: None,
            position_s: 0.0,
            duration_s: None,
            volume: 1.0,
            auditioning: None,
            last_error: None,
            revision: 0,
        }
    }

    /// The current queue item, if any.
    pub fn current_item(&self) -> Option<&QueueItem> {
        self.current_index.and_then(|i| self.queue.get(i))
    }
}
