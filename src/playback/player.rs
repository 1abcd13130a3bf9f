//! [`Player`], the handle the app holds, and the player thread behind it.
//!
//! The thread owns the queue and the output device. It opens each track
//! (probe, resampler set-up: milliseconds, sometimes more on a slow disk) so
//! that the audio thread never touches a file, hands tracks to the
//! [`Engine`], and turns the engine's events into the [`PlayerState`] the UI
//! reads. A file that cannot be played is reported in
//! [`PlayerState::last_error`] and skipped; nothing a file does can stop the
//! queue or the thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, select, unbounded};

use super::engine::{Engine, EngineCmd, EngineEvent, Progress, Token};
use super::output::{self, DeviceError, Output};
use super::track::{OutputFormat, TrackSource};
use super::{Availability, PlaybackStatus, PlayerState, QueueItem};
use crate::{Error, Result};

/// "Previous" restarts the current track instead when it has played longer
/// than this (as most players do).
pub const PREVIOUS_RESTARTS_AFTER_S: f64 = 3.0;

/// Fade-in of an audition excerpt (at most a quarter of it).
pub const AUDITION_FADE_IN_S: f64 = 0.05;

/// Fade-out at the end of an audition excerpt (at most a third of it).
pub const AUDITION_FADE_OUT_S: f64 = 0.3;

/// How often the thread refreshes the position while something plays.
const TICK: Duration = Duration::from_millis(50);

/// How often it looks when nothing plays (only to stay responsive to
/// shutdown if a channel misbehaves; commands wake it at once).
const IDLE_TICK: Duration = Duration::from_millis(500);

/// How long [`Player::start`] waits for the device to open before
/// returning with [`Availability::Starting`].
const STARTUP_WAIT: Duration = Duration::from_secs(3);

/// The gain applied for a volume setting: the square, which follows
/// perceived loudness better than a straight line (half-way on the slider
/// is −12 dB, not −6 dB).
pub fn gain_of_volume(volume: f32) -> f32 {
    let v = volume.clamp(0.0, 1.0);
    v * v
}

/// A request to the player; every [`Player`] method sends one. Public so a
/// UI can pass them around (e.g. from key bindings) and send them with
/// [`Player::send`].
#[derive(Debug, Clone, PartialEq)]
pub enum PlayerCmd {
    /// Replace the queue with `items` and play from `start_index`.
    PlayQueue {
        /// The new queue.
        items: Vec<QueueItem>,
        /// Where to start (clamped to the queue).
        start_index: usize,
    },
    /// Add items at the end of the queue.
    Enqueue(Vec<QueueItem>),
    /// Pause if playing; otherwise play.
    TogglePause,
    /// Hold the current track.
    Pause,
    /// Continue (or, when stopped, start the current queue item again).
    Resume,
    /// Stop; the queue and the current index stay.
    Stop,
    /// Play the next queue item (stops after the last).
    Next,
    /// Play the previous item, or restart the current one if it has played
    /// for more than [`PREVIOUS_RESTARTS_AFTER_S`].
    Previous,
    /// Move within the current track (seconds, clamped to the track).
    Seek(f64),
    /// Set the volume, 0..=1 (see [`gain_of_volume`]).
    SetVolume(f32),
    /// Play `duration_s` of `path` from `start_s`, with short fades, while
    /// the main playback is held; replaces a running audition.
    Audition {
        /// The file to audition.
        path: PathBuf,
        /// Where the excerpt starts (moved earlier if the track is too short).
        start_s: f64,
        /// Length of the excerpt.
        duration_s: f64,
    },
    /// End the running audition (it fades out quickly).
    StopAudition,
}

/// What travels to the player thread.
enum Msg {
    Cmd(PlayerCmd),
    Shutdown,
}

/// What the UI and the thread share.
struct Shared {
    state: Mutex<PlayerState>,
    waker: Mutex<Option<Box<dyn Fn() + Send>>>,
}

/// Locks `m`, recovering the data if a panicking thread poisoned it (the
/// state is plain data, always consistent between assignments).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The audio player (see the module docs of [`crate::playback`]).
///
/// Commands never block; [`state`](Self::state) never waits for the player
/// thread. Dropping the player stops the sound and ends the thread.
pub struct Player {
    messages: Sender<Msg>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Player").field("state", &self.state()).finish()
    }
}

/// How the player thread makes sound.
enum Mode {
    /// Open the default output device.
    Device,
    /// No sound, for this reason.
    Disabled(String),
    /// The caller pulls the engine.
    Pulled(EngineLink),
}

/// The player thread's end of an engine.
struct EngineLink {
    commands: Sender<EngineCmd>,
    events: Receiver<EngineEvent>,
    progress: Arc<Progress>,
    format: OutputFormat,
}

/// Makes an engine and the link to drive it.
fn new_engine(format: OutputFormat, gain: f32) -> (Engine, EngineLink) {
    let (cmd_tx, cmd_rx) = unbounded();
    let (ev_tx, ev_rx) = unbounded();
    let progress = Arc::new(Progress::default());
    let engine = Engine::new(format, cmd_rx, ev_tx, Arc::clone(&progress), gain);
    (engine, EngineLink { commands: cmd_tx, events: ev_rx, progress, format })
}

impl Player {
    /// Starts the player on the default output device. Never fails: without
    /// a device the player comes up with [`Availability::Unavailable`] and
    /// the reason (and ignores commands that would need sound).
    ///
    /// Waits until the device is open (normally well under a second).
    pub fn start() -> Player {
        Player::spawn(Mode::Device, Availability::Starting)
    }

    /// Starts a player that plays nothing, reporting `reason` as its
    /// [`Availability::Unavailable`] (for `--no-audio`, and tests).
    pub fn start_without_output(reason: impl Into<String>) -> Player {
        let reason = reason.into();
        Player::spawn(Mode::Disabled(reason.clone()), Availability::Unavailable(reason))
    }

    /// Starts a player whose output is not a device but the returned
    /// [`Engine`], rendering at `sample_rate_hz`, which the caller pulls like
    /// a sound card would (tests; rendering to a file). Real time is whatever
    /// pace the caller pulls at.
    pub fn start_with_pulled_output(sample_rate_hz: u32) -> Result<(Player, Engine)> {
        let format = OutputFormat::new(sample_rate_hz)?;
        let (engine, link) = new_engine(format, gain_of_volume(1.0));
        let availability = Availability::Available { device: "pulled output (no device)".to_string() };
        Ok((Player::spawn(Mode::Pulled(link), availability), engine))
    }

    fn spawn(mode: Mode, availability: Availability) -> Player {
        let shared = Arc::new(Shared {
            state: Mutex::new(PlayerState::initial(availability)),
            waker: Mutex::new(None),
        });
        let (msg_tx, msg_rx) = unbounded();
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let thread_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("tuneatlas-player".to_string())
            .spawn(move || player_thread(mode, msg_rx, thread_shared, ready_tx));
        let thread = match spawned {
            Ok(handle) => {
                if ready_rx.recv_timeout(STARTUP_WAIT).is_err() {
                    tracing::warn!("the audio device is slow to open; the player starts without waiting");
                }
                Some(handle)
            }
            Err(e) => {
                let mut state = lock(&shared.state);
                state.availability =
                    Availability::Unavailable(format!("Cannot start the player thread: {e}"));
                state.revision += 1;
                None
            }
        };
        Player { messages: msg_tx, shared, thread }
    }

    /// A snapshot of the player's state (never waits for the player thread).
    pub fn state(&self) -> PlayerState {
        lock(&self.shared.state).clone()
    }

    /// Sets the function called (from the player thread) after every state
    /// change — the GUI's `request_repaint`. It must return quickly and not
    /// call back into the player.
    pub fn set_waker(&self, waker: Box<dyn Fn() + Send>) {
        *lock(&self.shared.waker) = Some(waker);
    }

    /// Sends any command (the methods below are shorthands).
    pub fn send(&self, cmd: PlayerCmd) {
        // Fails only if the thread is gone, where there is nothing to do.
        let _ = self.messages.send(Msg::Cmd(cmd));
    }

    /// Replaces the queue with `items` and plays from `start_index`.
    pub fn play_queue(&self, items: Vec<QueueItem>, start_index: usize) {
        self.send(PlayerCmd::PlayQueue { items, start_index });
    }

    /// Adds `items` at the end of the queue.
    pub fn enqueue(&self, items: Vec<QueueItem>) {
        self.send(PlayerCmd::Enqueue(items));
    }

    /// Pauses if playing, plays otherwise.
    pub fn toggle_pause(&self) {
        self.send(PlayerCmd::TogglePause);
    }

    /// Holds the current track.
    pub fn pause(&self) {
        self.send(PlayerCmd::Pause);
    }

    /// Continues (or restarts the current item when stopped).
    pub fn resume(&self) {
        self.send(PlayerCmd::Resume);
    }

    /// Stops; the queue stays.
    pub fn stop(&self) {
        self.send(PlayerCmd::Stop);
    }

    /// Plays the next queue item.
    pub fn next(&self) {
        self.send(PlayerCmd::Next);
    }

    /// Plays the previous item, or restarts the current one after
    /// [`PREVIOUS_RESTARTS_AFTER_S`].
    pub fn previous(&self) {
        self.send(PlayerCmd::Previous);
    }

    /// Moves to `position_s` in the current track.
    pub fn seek(&self, position_s: f64) {
        self.send(PlayerCmd::Seek(position_s));
    }

    /// Sets the volume (0..=1).
    pub fn set_volume(&self, volume: f32) {
        self.send(PlayerCmd::SetVolume(volume));
    }

    /// Plays `duration_s` of `path` from `start_s` over the held main playback.
    pub fn audition(&self, path: &Path, start_s: f64, duration_s: f64) {
        self.send(PlayerCmd::Audition { path: path.to_path_buf(), start_s, duration_s });
    }

    /// Ends the running audition.
    pub fn stop_audition(&self) {
        self.send(PlayerCmd::StopAudition);
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.messages.send(Msg::Shutdown);
        if let Some(handle) = self.thread.take()
            && handle.join().is_err()
        {
            tracing::error!("the player thread panicked");
        }
    }
}

/// The body of the "tuneatlas-player" thread.
fn player_thread(mode: Mode, messages: Receiver<Msg>, shared: Arc<Shared>, ready: Sender<()>) {
    let (device_err_tx, device_err_rx) = unbounded::<DeviceError>();
    let initial_volume = lock(&shared.state).volume;
    // `_device` keeps the output stream alive until the thread ends.
    let (link, availability, _device): (Option<EngineLink>, Availability, Option<Output>) = match mode {
        Mode::Disabled(reason) => (None, Availability::Unavailable(reason), None),
        Mode::Pulled(link) => {
            let device = "pulled output (no device)".to_string();
            (Some(link), Availability::Available { device }, None)
        }
        Mode::Device => match output::open_default(device_err_tx.clone()) {
            Ok(out) => {
                let (engine, link) = new_engine(out.format, gain_of_volume(initial_volume));
                out.sink.mixer().add(engine);
                tracing::info!("audio output: {} at {} Hz", out.device_name, out.format.sample_rate_hz());
                let availability = Availability::Available { device: out.device_name.clone() };
                (Some(link), availability, Some(out))
            }
            Err(reason) => {
                tracing::info!("playback disabled: {reason}");
                (None, Availability::Unavailable(reason), None)
            }
        },
    };
    let mut worker = Worker::new(Arc::clone(&shared), link, availability);
    worker.dirty = true;
    worker.publish();
    let _ = ready.send(());
    worker.run(&messages, &device_err_rx);
    // Keep the error sender alive until here so the receiver never reads as
    // disconnected (which would make `select!` spin).
    drop(device_err_tx);
}

/// The player thread's state.
struct Worker {
    shared: Arc<Shared>,
    state: PlayerState,
    engine: Option<EngineLink>,
    /// Keeps the event channel open when there is no engine.
    events: Receiver<EngineEvent>,
    _events_keepalive: Option<Sender<EngineEvent>>,
    /// Token of the current main track in the engine (0: none).
    current_token: Token,
    /// The track handed over for gapless continuation: token, queue index,
    /// duration.
    next: Option<(Token, usize, f64)>,
    audition_token: Token,
    last_token: Token,
    /// Generation of the last seek sent; positions from before it are stale.
    seek_generation: u64,
    dirty: bool,
}

impl Worker {
    fn new(shared: Arc<Shared>, engine: Option<EngineLink>, availability: Availability) -> Worker {
        let mut state = lock(&shared.state).clone();
        state.availability = availability;
        let (events, keepalive) = match &engine {
            Some(link) => (link.events.clone(), None),
            None => {
                let (tx, rx) = unbounded();
                (rx, Some(tx))
            }
        };
        Worker {
            shared,
            state,
            engine,
            events,
            _events_keepalive: keepalive,
            current_token: 0,
            next: None,
            audition_token: 0,
            last_token: 0,
            seek_generation: 0,
            dirty: false,
        }
    }

    fn run(&mut self, messages: &Receiver<Msg>, device_errors: &Receiver<DeviceError>) {
        loop {
            // Paused counts as busy too: the pause fade still moves the
            // position a little, and a paused player is cheap to tick.
            let busy = self.state.status != PlaybackStatus::Stopped || self.state.auditioning.is_some();
            let tick = if busy { TICK } else { IDLE_TICK };
            select! {
                recv(messages) -> msg => match msg {
                    Ok(Msg::Cmd(cmd)) => {
                        self.handle(cmd);
                        self.dirty = true;
                    }
                    Ok(Msg::Shutdown) | Err(_) => break,
                },
                recv(self.events) -> event => match event {
                    Ok(event) => {
                        self.on_event(event);
                        self.dirty = true;
                    }
                    // The engine is gone (a pulled engine dropped by its
                    // owner): stop listening rather than spin.
                    Err(_) => self.events = crossbeam_channel::never(),
                },
                recv(device_errors) -> err => if let Ok(err) = err {
                    self.on_device_error(err);
                    self.dirty = true;
                },
                default(tick) => {},
            }
            self.poll_progress();
            self.publish();
        }
        if let Some(link) = &self.engine {
            let _ = link.commands.send(EngineCmd::Stop);
            let _ = link.commands.send(EngineCmd::StopAudition);
        }
    }

    /// Copies the state to the UI and wakes it, if anything changed.
    fn publish(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        self.state.revision += 1;
        *lock(&self.shared.state) = self.state.clone();
        if let Some(wake) = lock(&self.shared.waker).as_ref() {
            wake();
        }
    }

    fn poll_progress(&mut self) {
        let Some(link) = &self.engine else { return };
        let (token, generation, position_s) = link.progress.get();
        let current = token != 0 && token == self.current_token && generation == self.seek_generation;
        if self.state.status == PlaybackStatus::Stopped || !current {
            return;
        }
        if (position_s - self.state.position_s).abs() >= 0.001 {
            self.state.position_s = position_s;
            self.dirty = true;
        }
    }

    fn new_token(&mut self) -> Token {
        self.last_token += 1;
        self.last_token
    }

    fn to_engine(&self, cmd: EngineCmd) {
        if let Some(link) = &self.engine {
            // The engine's receiver lives as long as the device stream.
            let _ = link.commands.send(cmd);
        }
    }

    fn handle(&mut self, cmd: PlayerCmd) {
        match cmd {
            PlayerCmd::PlayQueue { items, start_index } => {
                self.state.queue = Arc::new(items);
                if self.state.queue.is_empty() {
                    self.stop(true);
                } else {
                    let index = start_index.min(self.state.queue.len() - 1);
                    self.start_at(index, false);
                }
            }
            PlayerCmd::Enqueue(items) => {
                Arc::make_mut(&mut self.state.queue).extend(items);
                if self.next.is_none() {
                    self.prepare_next();
                }
            }
            PlayerCmd::TogglePause => match self.state.status {
                PlaybackStatus::Playing => self.pause(),
                PlaybackStatus::Paused | PlaybackStatus::Stopped => self.resume(),
            },
            PlayerCmd::Pause => self.pause(),
            PlayerCmd::Resume => self.resume(),
            PlayerCmd::Stop => self.stop(false),
            PlayerCmd::Next => {
                let paused = self.state.status == PlaybackStatus::Paused;
                match self.state.current_index {
                    Some(i) if i + 1 < self.state.queue.len() => self.start_at(i + 1, paused),
                    Some(_) => self.stop(true),
                    None if !self.state.queue.is_empty() => self.start_at(0, paused),
                    None => {}
                }
            }
            PlayerCmd::Previous => {
                let paused = self.state.status == PlaybackStatus::Paused;
                let playing = self.state.status != PlaybackStatus::Stopped;
                match self.state.current_index {
                    Some(_) if playing && self.state.position_s > PREVIOUS_RESTARTS_AFTER_S => self.seek(0.0),
                    Some(i) if i > 0 => self.start_at(i - 1, paused),
                    Some(_) if playing => self.seek(0.0),
                    Some(i) => self.start_at(i, false),
                    None if !self.state.queue.is_empty() => self.start_at(0, false),
                    None => {}
                }
            }
            PlayerCmd::Seek(position_s) => self.seek(position_s),
            PlayerCmd::SetVolume(volume) => {
                if volume.is_finite() {
                    self.state.volume = volume.clamp(0.0, 1.0);
                    self.to_engine(EngineCmd::Gain(gain_of_volume(self.state.volume)));
                }
            }
            PlayerCmd::Audition { path, start_s, duration_s } => self.audition(path, start_s, duration_s),
            PlayerCmd::StopAudition => self.to_engine(EngineCmd::StopAudition),
        }
    }

    /// Plays queue item `index` (or the first playable one after it).
    fn start_at(&mut self, index: usize, paused: bool) {
        self.next = None;
        let Some(format) = self.engine.as_ref().map(|l| l.format) else {
            // No sound: remember the selection only.
            self.state.current_index = Some(index);
            self.state.current_track_id = self.state.queue.get(index).map(|q| q.track_id);
            self.state.status = PlaybackStatus::Stopped;
            self.state.position_s = 0.0;
            self.state.duration_s = None;
            return;
        };
        for i in index..self.state.queue.len() {
            let Some(item) = self.state.queue.get(i).cloned() else { break };
            match TrackSource::open(&item.path, format) {
                Ok(track) => {
                    let token = self.new_token();
                    self.state.current_index = Some(i);
                    self.state.current_track_id = Some(item.track_id);
                    self.state.duration_s = Some(track.duration_s());
                    self.state.position_s = 0.0;
                    self.state.status = if paused { PlaybackStatus::Paused } else { PlaybackStatus::Playing };
                    self.current_token = token;
                    self.to_engine(EngineCmd::Play { token, track: Box::new(track), paused });
                    self.prepare_next();
                    return;
                }
                Err(e) => self.state.last_error = Some(cannot_play(&item.path, &e)),
            }
        }
        // Nothing from `index` on could be opened.
        self.stop(true);
    }

    /// Opens the item after the current one and hands it to the engine for
    /// a gapless join (skipping, and reporting, items that cannot be opened).
    fn prepare_next(&mut self) {
        if self.state.status == PlaybackStatus::Stopped || self.current_token == 0 {
            return;
        }
        let (Some(current), Some(format)) =
            (self.state.current_index, self.engine.as_ref().map(|l| l.format))
        else {
            return;
        };
        for i in current + 1..self.state.queue.len() {
            let Some(item) = self.state.queue.get(i).cloned() else { break };
            match TrackSource::open(&item.path, format) {
                Ok(track) => {
                    let token = self.new_token();
                    self.next = Some((token, i, track.duration_s()));
                    self.to_engine(EngineCmd::SetNext { token, track: Box::new(track) });
                    return;
                }
                Err(e) => self.state.last_error = Some(cannot_play(&item.path, &e)),
            }
        }
    }

    fn pause(&mut self) {
        if self.state.status == PlaybackStatus::Playing {
            self.to_engine(EngineCmd::Pause);
            self.state.status = PlaybackStatus::Paused;
        }
    }

    fn resume(&mut self) {
        match self.state.status {
            PlaybackStatus::Paused => {
                self.to_engine(EngineCmd::Resume);
                self.state.status = PlaybackStatus::Playing;
            }
            PlaybackStatus::Stopped if self.engine.is_some() && !self.state.queue.is_empty() => {
                let index = self.state.current_index.unwrap_or(0).min(self.state.queue.len() - 1);
                self.start_at(index, false);
            }
            _ => {}
        }
    }

    /// Stops the main playback; `forget_current` also clears the current
    /// item (end of queue, nothing playable).
    fn stop(&mut self, forget_current: bool) {
        self.to_engine(EngineCmd::Stop);
        self.state.status = PlaybackStatus::Stopped;
        self.state.position_s = 0.0;
        self.current_token = 0;
        self.next = None;
        if forget_current {
            self.state.current_index = None;
            self.state.current_track_id = None;
            self.state.duration_s = None;
        }
    }

    fn seek(&mut self, position_s: f64) {
        if self.current_token == 0 || self.state.status == PlaybackStatus::Stopped || !position_s.is_finite()
        {
            return;
        }
        let end = self.state.duration_s.unwrap_or(f64::MAX);
        let position_s = position_s.clamp(0.0, end.max(0.0));
        self.state.position_s = position_s;
        self.seek_generation += 1;
        self.to_engine(EngineCmd::Seek {
            token: self.current_token,
            position_s,
            generation: self.seek_generation,
        });
    }

    fn audition(&mut self, path: PathBuf, start_s: f64, duration_s: f64) {
        let Some(format) = self.engine.as_ref().map(|l| l.format) else { return };
        if !(duration_s.is_finite() && duration_s > 0.0 && start_s.is_finite()) {
            self.state.last_error = Some(format!(
                "Cannot audition {}: excerpt of {duration_s} s from {start_s} s is not a time span",
                path.display()
            ));
            return;
        }
        let mut track = match TrackSource::open(&path, format) {
            Ok(track) => track,
            Err(e) => {
                self.state.last_error = Some(cannot_play(&path, &e));
                return;
            }
        };
        // Keep the excerpt inside the track: start earlier if it would run
        // past the end.
        let length_s = duration_s.min(track.duration_s().max(0.0));
        let start_s = start_s.clamp(0.0, (track.duration_s() - length_s).max(0.0));
        if start_s > 0.0
            && let Err(e) = track.seek(start_s)
        {
            self.state.last_error = Some(cannot_play(&path, &e));
            return;
        }
        let length_frames = format.frames_in(length_s);
        let token = self.new_token();
        self.audition_token = token;
        self.state.auditioning = Some(path);
        self.to_engine(EngineCmd::Audition {
            token,
            track: Box::new(track),
            length_frames,
            fade_in_frames: format.frames_in(AUDITION_FADE_IN_S).min(length_frames / 4),
            fade_out_frames: format.frames_in(AUDITION_FADE_OUT_S).min(length_frames / 3),
        });
    }

    fn on_event(&mut self, event: EngineEvent) {
        match event {
            EngineEvent::Started { token } => {
                if let Some((next_token, index, duration_s)) = self.next
                    && next_token == token
                {
                    self.next = None;
                    self.current_token = token;
                    self.state.current_index = Some(index);
                    self.state.current_track_id = self.state.queue.get(index).map(|q| q.track_id);
                    self.state.duration_s = Some(duration_s);
                    self.state.position_s = 0.0;
                    self.prepare_next();
                }
            }
            EngineEvent::Finished { token } => tracing::debug!("track {token} played to its end"),
            EngineEvent::Failed { token, path, error } => {
                tracing::debug!("track {token} failed: {error}");
                self.state.last_error = Some(cannot_play(&path, &error));
            }
            EngineEvent::SeekFailed { token, error } => {
                if token == self.current_token {
                    self.state.last_error = Some(format!("Cannot seek: {error}"));
                }
            }
            EngineEvent::Drained { after } => {
                // With a next track on its way the engine starts it on
                // arrival; otherwise the queue has ended.
                if after == self.current_token && self.next.is_none() {
                    self.stop(true);
                }
            }
            EngineEvent::AuditionFinished { token, error } => {
                if let Some(error) = error {
                    let path = self.state.auditioning.clone().unwrap_or_default();
                    self.state.last_error = Some(cannot_play(&path, &error));
                }
                if token == self.audition_token {
                    self.audition_token = 0;
                    self.state.auditioning = None;
                }
            }
        }
    }

    fn on_device_error(&mut self, err: DeviceError) {
        if err.lost {
            self.stop(false);
            self.engine = None;
            self.state.availability =
                Availability::Unavailable(format!("Audio output device lost: {}", err.message));
        } else {
            self.state.last_error = Some(format!("Audio output problem: {}", err.message));
        }
    }
}

/// "Cannot play /music/x.mp3: corrupt data ..." — the path once, first.
fn cannot_play(path: &Path, error: &Error) -> String {
    let reason = match error {
        Error::Decode { reason, .. } => reason.clone(),
        Error::Io { op, source, .. } => format!("{op} failed: {source}"),
        other => other.to_string(),
    };
    format!("Cannot play {}: {reason}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_maps_to_a_square_law_gain() {
        assert_eq!(gain_of_volume(1.0), 1.0);
        assert_eq!(gain_of_volume(0.5), 0.25);
        assert_eq!(gain_of_volume(-1.0), 0.0);
        assert_eq!(gain_of_volume(3.0), 1.0);
    }

    #[test]
    fn error_messages_name_the_file_once() {
        let e = Error::decode("corrupt data", "/m/x.mp3");
        assert_eq!(cannot_play(Path::new("/m/x.mp3"), &e), "Cannot play /m/x.mp3: corrupt data");
    }
}
