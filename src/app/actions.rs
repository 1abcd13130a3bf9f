//! What the user asked for outside the panels' own state: the track
//! panel's actions (play, radio, song path, tags), the selection's actions
//! ("play similar to these", "order as a smooth path") and the keyboard
//! shortcuts. Each is carried out with the core's function for it — the
//! same one the command line calls (ARCHITECTURE.md §9).

use super::*;

impl TuneAtlasApp {
    pub(super) fn apply_track_action(&mut self, ctx: &egui::Context, action: TrackAction) {
        match action {
            TrackAction::Select(id) => {
                self.select(Some(id));
                self.library.select_id(Some(id));
                self.map.view.focus(id);
            }
            TrackAction::Play(ids) => self.play(&ids),
            TrackAction::Radio(seed) => {
                let mut ids = vec![seed];
                ids.extend(crate::browse::radio(
                    &self.snapshot,
                    seed,
                    RADIO_LENGTH,
                    self.track_panel.options,
                ));
                self.play(&ids);
                self.notify(
                    format!("Radio from {}: {} tracks queued.", self.title_of(seed), ids.len()),
                    false,
                );
            }
            TrackAction::SongPath(from, to) => {
                let Some(index) = &self.snapshot.index else { return };
                match crate::index::song_path(index, from, to, SONG_PATH_STEPS, |_| false) {
                    Ok(ids) => {
                        self.play(&ids);
                        self.notify(
                            format!(
                                "Song path of {} tracks from {} to {}.",
                                ids.len(),
                                self.title_of(from),
                                self.title_of(to)
                            ),
                            false,
                        );
                    }
                    Err(e) => self.notify(format!("No song path: {e}"), true),
                }
            }
            TrackAction::SetPathStart(id) => {
                self.selection.path_start = Some(id);
                self.notify(
                    format!("Song path starts at {}. Now select the track to end at.", self.title_of(id)),
                    false,
                );
            }
            TrackAction::AddTag(ids, set, tag) => {
                let result = Store::open(&self.db)
                    .and_then(|mut s| s.add_user_tags(&ids, &set, &[tag.as_str()], TagSource::User));
                self.after_tag_write(ctx, result.map(|_| ()));
            }
            TrackAction::RemoveTag(ids, set, tag) => {
                let result =
                    Store::open(&self.db).and_then(|mut s| s.remove_user_tags(&ids, &set, &[tag.as_str()]));
                self.after_tag_write(ctx, result.map(|_| ()));
            }
            TrackAction::SimilarToThese(seeds) => self.similar_to_these(&seeds),
            TrackAction::SmoothOrder(ids) => self.smooth_order(&ids),
        }
    }

    /// "Play similar to these": the core's list for the seeds' centroid
    /// (`browse::similar_to_many`, what `tuneatlas similar A B …` prints)
    /// under the track panel's filters, played and shown as a playlist.
    fn similar_to_these(&mut self, seeds: &[i64]) {
        match crate::browse::similar_to_many(&self.snapshot, seeds, SIMILAR_K, self.track_panel.options) {
            Ok(list) if list.is_empty() => self.notify("No other track passes the filters.", true),
            Ok(list) => {
                let playlist = Playlist {
                    title: format!("Similar to {} tracks", seeds.len()),
                    ids: list.iter().map(|s| s.track_id).collect(),
                    notes: list.iter().map(|s| format!("{:.3}", s.distance)).collect(),
                    note_hint: "cosine distance to the centre of the selected tracks",
                };
                self.show_playlist(playlist);
            }
            Err(e) => self.notify(format!("No similar tracks: {e}"), true),
        }
    }

    /// "Order as a smooth path": the selection re-ordered by the core
    /// (`index::smooth_order`, what `tuneatlas path --order` prints), played
    /// and shown as a playlist with each step's distance.
    fn smooth_order(&mut self, ids: &[i64]) {
        let Some(index) = &self.snapshot.index else {
            self.notify("No track has been embedded yet: nothing to order by.", true);
            return;
        };
        match crate::index::smooth_order(index, ids) {
            Ok(order) => {
                let notes = crate::index::step_distances(index, &order)
                    .into_iter()
                    .map(|d| d.map(|d| format!("{d:.3}")).unwrap_or_default())
                    .collect();
                let playlist = Playlist {
                    title: format!("{} tracks as a smooth path", order.len()),
                    ids: order,
                    notes,
                    note_hint: "cosine distance from the track before",
                };
                self.show_playlist(playlist);
            }
            Err(e) => self.notify(format!("The selection cannot be ordered: {e}"), true),
        }
    }

    /// Plays a made list and shows it in the playlist window.
    fn show_playlist(&mut self, playlist: Playlist) {
        self.play(&playlist.ids);
        self.notify(format!("{}: {} tracks queued.", playlist.title, playlist.ids.len()), false);
        self.playlist.set(playlist);
    }

    /// Draws the playlist window and carries out what was asked in it.
    pub(super) fn playlist_window(&mut self, ctx: &egui::Context) {
        let library = &self.library;
        let titles = |id: i64| title_in(library, id);
        let actions = self.playlist.show(ctx, &titles, !self.exporter.is_busy());
        for action in actions {
            match action {
                PlaylistAction::Play(ids) => self.play(&ids),
                PlaylistAction::Select(id) => self.apply_track_action(ctx, TrackAction::Select(id)),
                PlaylistAction::SaveM3u => {
                    let rows = self.playlist_rows();
                    let version = self.snapshot.model_version.clone();
                    self.exporter.start(ctx, ExportKind::M3u, self.db.clone(), rows, version);
                }
            }
        }
    }

    /// The tracks of the playlist shown, as the M3U export writes them.
    pub(super) fn playlist_rows(&self) -> Vec<TrackRow> {
        self.rows_of(self.playlist.ids().unwrap_or_default())
    }

    fn after_tag_write(&mut self, ctx: &egui::Context, result: crate::Result<()>) {
        match result {
            // Re-read so the table, filter and panel show the change.
            Ok(()) => self.reload(ctx),
            Err(e) => self.notify(format!("The tag could not be saved: {e}"), true),
        }
    }

    /// Global keyboard shortcuts (when no text field has the keyboard).
    pub(super) fn shortcuts(&mut self, ctx: &egui::Context) {
        let typing = ctx.memory(|m| m.focused().is_some());
        let (space, slash, left, right, one, two, theme, n, p) = ctx.input(|i| {
            let cmd = i.modifiers.command;
            (
                i.key_pressed(egui::Key::Space),
                i.key_pressed(egui::Key::Slash),
                i.key_pressed(egui::Key::ArrowLeft),
                i.key_pressed(egui::Key::ArrowRight),
                cmd && i.key_pressed(egui::Key::Num1),
                cmd && i.key_pressed(egui::Key::Num2),
                cmd && i.key_pressed(egui::Key::T),
                i.key_pressed(egui::Key::N),
                i.key_pressed(egui::Key::P),
            )
        });
        if one {
            self.state.view = MainView::Library;
        }
        if two {
            self.state.view = MainView::Map;
        }
        if theme {
            self.toggle_theme(ctx);
        }
        if typing {
            return;
        }
        if space {
            if self.player.is_idle() {
                let ids = self.library.selected_ids();
                self.play(&ids);
            } else {
                self.player.toggle_pause();
            }
        }
        if slash {
            self.state.view = MainView::Library;
            self.library.focus_filter();
        }
        if left {
            self.player.seek_by(-5.0);
        }
        if right {
            self.player.seek_by(5.0);
        }
        if n {
            self.player.next();
        }
        if p {
            self.player.previous();
        }
    }
}
