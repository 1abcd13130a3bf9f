//! The player bar: play/pause, previous/next, a seek bar with the position,
//! volume, the queue, and what is playing — over the core's player thread
//! (`crate::playback`). Without an audio device the bar says so and the rest
//! of the window works as usual.

use crate::playback::{Availability, PlaybackStatus, Player, PlayerState, QueueItem};
use crate::store::TrackRow;

use super::format::clock;

/// Seconds of a track that hover-audition plays.
const AUDITION_S: f64 = 6.0;

/// The bar's state: the player and the last state snapshot.
pub struct PlayerBar {
    player: Player,
    state: PlayerState,
    show_queue: bool,
    /// Position being dragged on the seek bar (applied on release).
    seeking: Option<f64>,
}

impl PlayerBar {
    /// Starts the player thread (on the default output device when `audio`),
    /// waking `ctx` whenever the player's state changes.
    pub fn new(audio: bool, ctx: &egui::Context, volume: f32) -> PlayerBar {
        let player = if audio {
            Player::start()
        } else {
            Player::start_without_output("No audio output (started with --no-audio)")
        };
        let waker_ctx = ctx.clone();
        player.set_waker(Box::new(move || waker_ctx.request_repaint()));
        player.set_volume(volume);
        let state = player.state();
        PlayerBar { player, state, show_queue: false, seeking: None }
    }

    /// Takes the player's latest state (once per frame).
    pub fn poll(&mut self) {
        self.state = self.player.state();
    }

    /// Plays `rows` in order, replacing the queue.
    pub fn play(&mut self, rows: &[TrackRow]) {
        if rows.is_empty() {
            return;
        }
        let items = rows
            .iter()
            .map(|r| QueueItem {
                track_id: r.id,
                path: r.path.clone(),
                title: match &r.artist {
                    Some(artist) => format!("{artist} — {}", r.title),
                    None => r.title.clone(),
                },
            })
            .collect();
        self.player.play_queue(items, 0);
    }

    /// Plays a few seconds from the middle of `row` (hover-audition).
    pub fn audition(&mut self, row: &TrackRow) {
        let start_s = (row.duration_s / 2.0 - AUDITION_S / 2.0).max(0.0);
        self.player.audition(&row.path, start_s, AUDITION_S);
    }

    /// Ends a running audition (the pointer left the point).
    pub fn stop_audition(&mut self) {
        self.player.stop_audition();
    }

    /// Play/pause.
    pub fn toggle_pause(&mut self) {
        self.player.toggle_pause();
    }

    /// True when nothing is loaded (space then starts the selection).
    pub fn is_idle(&self) -> bool {
        self.state.status == PlaybackStatus::Stopped
    }

    /// Seeks `delta_s` seconds from the current position.
    pub fn seek_by(&mut self, delta_s: f64) {
        if self.state.current_index.is_some() {
            let end = self.state.duration_s.unwrap_or(f64::MAX);
            self.player.seek((self.state.position_s + delta_s).clamp(0.0, end));
        }
    }

    /// The next track in the queue.
    pub fn next(&mut self) {
        self.player.next();
    }

    /// The previous track (or the start of this one, after 3 s).
    pub fn previous(&mut self) {
        self.player.previous();
    }

    /// Stops the sound when the window closes.
    pub fn shutdown(&mut self) {
        self.player.stop();
    }

    /// Draws the bar; returns the volume (persisted by the app).
    pub fn show(&mut self, ui: &mut egui::Ui) -> f32 {
        let state = self.state.clone();
        let unavailable = match &state.availability {
            Availability::Unavailable(reason) => Some(reason.clone()),
            _ => None,
        };
        ui.horizontal(|ui| {
            let has_track = state.current_index.is_some();
            if ui.add_enabled(has_track, egui::Button::new("|◀")).on_hover_text("Previous (P)").clicked() {
                self.player.previous();
            }
            let playing = state.status == PlaybackStatus::Playing;
            let icon = if playing { "||" } else { "▶" };
            if ui
                .add_enabled(has_track, egui::Button::new(icon))
                .on_hover_text("Play / pause (Space)")
                .clicked()
            {
                self.player.toggle_pause();
            }
            if ui.add_enabled(has_track, egui::Button::new("▶|")).on_hover_text("Next (N)").clicked() {
                self.player.next();
            }
            let now =
                state.current_item().map(|i| i.title.clone()).unwrap_or_else(|| "Nothing playing".to_owned());
            ui.add_sized([220.0, 18.0], egui::Label::new(now).truncate());
            // Seek bar.
            let duration_s = state.duration_s.unwrap_or(0.0).max(0.0);
            let mut position_s = self.seeking.unwrap_or(state.position_s).min(duration_s);
            let position_label = ui.monospace(clock(position_s));
            let slider = ui
                .add_enabled(
                    has_track && duration_s > 0.0,
                    egui::Slider::new(&mut position_s, 0.0..=duration_s.max(0.001)).show_value(false),
                )
                .labelled_by(position_label.id)
                .on_hover_text("Seek (←/→: 5 s)");
            if slider.dragged() {
                self.seeking = Some(position_s);
            }
            if slider.drag_stopped() || (slider.changed() && !slider.dragged()) {
                self.player.seek(position_s);
                self.seeking = None;
            }
            ui.monospace(clock(duration_s));
            // Volume and queue on the right.
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let queue_label = format!("Queue ({})", state.queue.len());
                ui.toggle_value(&mut self.show_queue, queue_label);
                let mut volume = state.volume;
                if ui.add(egui::Slider::new(&mut volume, 0.0..=1.0).show_value(false).text("Vol")).changed() {
                    self.player.set_volume(volume);
                }
                if let Some(reason) = &unavailable {
                    ui.label(egui::RichText::new(reason).color(ui.visuals().warn_fg_color))
                        .on_hover_text("Browsing, tagging and exporting work without sound");
                } else if let Some(error) = &state.last_error {
                    ui.label(egui::RichText::new(error).color(ui.visuals().warn_fg_color));
                }
            });
        });
        if self.show_queue {
            ui.separator();
            egui::ScrollArea::vertical().max_height(140.0).id_salt("queue").show(ui, |ui| {
                if state.queue.is_empty() {
                    ui.weak("The queue is empty: double-click a track, or use Radio or Play all.");
                }
                for (i, item) in state.queue.iter().enumerate() {
                    let current = state.current_index == Some(i);
                    let text = format!("{:>3}. {}", i + 1, item.title);
                    let label =
                        if current { egui::RichText::new(text).strong() } else { egui::RichText::new(text) };
                    if ui.selectable_label(current, label).double_clicked() {
                        self.player.play_queue(state.queue.to_vec(), i);
                    }
                }
            });
        }
        state.volume
    }
}
