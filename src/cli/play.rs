//! `tuneatlas play`: plays tracks through the same player core as the app
//! (queue, gapless hand-over, our own decoding), printing the position until
//! the end — a way to try playback by hand, and to check a sound setup.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use clap::Args;
use tuneatlas::index::resolve_track;
use tuneatlas::playback::{Availability, PlaybackStatus, Player, QueueItem};
use tuneatlas::store::Store;

use super::common::open_read_only;

/// How often the position line is refreshed.
const REFRESH: Duration = Duration::from_millis(200);

/// Arguments of `tuneatlas play`.
#[derive(Debug, Args)]
pub struct PlayArgs {
    /// Tracks to play in order (gapless where the format allows): library ids,
    /// "Artist - Title", or audio files (which need not be in the library).
    #[arg(required = true, value_name = "TRACK")]
    pub tracks: Vec<String>,
    /// Start this many seconds into the first track.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    pub start: f64,
    /// Volume from 0 to 1.
    #[arg(long, default_value_t = 1.0)]
    pub volume: f32,
}

/// Plays `args.tracks`; fails (exit code 1) without an audio device.
pub fn run(db: &Path, args: &PlayArgs, no_audio: bool) -> anyhow::Result<()> {
    let mut store: Option<Store> = None;
    let mut items = Vec::with_capacity(args.tracks.len());
    for query in &args.tracks {
        let path = Path::new(query);
        if path.is_file() {
            let title = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            items.push(QueueItem { track_id: 0, path: path.to_path_buf(), title });
            continue;
        }
        if store.is_none() {
            store = Some(open_read_only(db)?);
        }
        let Some(store) = &store else { continue };
        let row = resolve_track(store, query)?;
        let title = match &row.artist {
            Some(artist) => format!("{artist} - {}", row.title),
            None => row.title.clone(),
        };
        items.push(QueueItem { track_id: row.id, path: row.path.clone(), title });
    }

    let player =
        if no_audio { Player::start_without_output("--no-audio was given") } else { Player::start() };
    if let Availability::Unavailable(reason) = player.state().availability {
        anyhow::bail!("no audio device: {reason}");
    }
    player.set_volume(args.volume);
    let count = items.len();
    player.play_queue(items, 0);
    if args.start > 0.0 {
        player.seek(args.start);
    }
    // Wait for the player thread to take the queue (it starts empty).
    while player.state().queue.len() != count {
        std::thread::sleep(Duration::from_millis(5));
    }

    let mut last_error: Option<String> = None;
    let mut started = false;
    loop {
        std::thread::sleep(REFRESH);
        let state = player.state();
        if state.last_error != last_error {
            if let Some(e) = &state.last_error {
                eprintln!("\r{e}");
            }
            last_error = state.last_error.clone();
        }
        if let Availability::Unavailable(reason) = &state.availability {
            eprintln!();
            anyhow::bail!("no audio device: {reason}");
        }
        if state.status == PlaybackStatus::Stopped {
            break;
        }
        started = true;
        if let Some(item) = state.current_item() {
            let index = state.current_index.unwrap_or(0) + 1;
            let duration = state.duration_s.map(clock).unwrap_or_else(|| "?".to_string());
            eprint!("\r[{index}/{count}] {}  {} / {duration}   ", item.title, clock(state.position_s));
            let _ = std::io::stderr().flush();
        }
    }
    eprintln!();
    match last_error {
        Some(e) if !started => anyhow::bail!("{e}"),
        _ => Ok(()),
    }
}

/// m:ss (or h:mm:ss).
fn clock(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 { format!("{h}:{m:02}:{s:02}") } else { format!("{m}:{s:02}") }
}
