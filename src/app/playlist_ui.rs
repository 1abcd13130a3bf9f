//! The playlist window: a list the window made from several tracks ("play
//! similar to these", "order as a smooth path"), shown until the next one
//! replaces it — to read what was queued and why, play it again from any
//! track, and save it as an M3U playlist.
//!
//! The window only draws and reports what the user asked for
//! ([`PlaylistAction`]); the app plays and exports.

use egui::RichText;

/// A list made from several tracks.
#[derive(Debug, Clone, PartialEq)]
pub struct Playlist {
    /// What it is ("Similar to 5 tracks").
    pub title: String,
    /// The tracks, in order.
    pub ids: Vec<i64>,
    /// Per track, the figure shown beside it (a distance), or empty.
    pub notes: Vec<String>,
    /// What the figures are.
    pub note_hint: &'static str,
}

/// What the user asked for in the window.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaylistAction {
    /// Play these tracks (the list from one of them on).
    Play(Vec<i64>),
    /// Select a track (table, map, track panel).
    Select(i64),
    /// Save the list as an M3U playlist.
    SaveM3u,
}

/// The window's state: the list shown, and whether the window is open.
#[derive(Debug, Default)]
pub struct PlaylistPanel {
    playlist: Option<Playlist>,
    open: bool,
}

impl PlaylistPanel {
    /// Shows `playlist`, replacing the one before.
    pub fn set(&mut self, playlist: Playlist) {
        self.playlist = Some(playlist);
        self.open = true;
    }

    /// The tracks of the list shown (`None` when there is none).
    pub fn ids(&self) -> Option<&[i64]> {
        self.playlist.as_ref().map(|p| p.ids.as_slice())
    }

    /// Draws the window while it is open; `can_save` is false while another
    /// export runs.
    pub fn show(
        &mut self,
        ctx: &egui::Context,
        title_of: &dyn Fn(i64) -> String,
        can_save: bool,
    ) -> Vec<PlaylistAction> {
        let mut actions = Vec::new();
        let Some(playlist) = &self.playlist else { return actions };
        egui::Window::new("Playlist")
            .id(egui::Id::unique("playlist_window"))
            .open(&mut self.open)
            .default_width(380.0)
            .show(ctx, |ui| {
                ui.strong(&playlist.title);
                ui.horizontal(|ui| {
                    if ui.button("▶ Play playlist").on_hover_text("Play the list from the start").clicked()
                    {
                        actions.push(PlaylistAction::Play(playlist.ids.clone()));
                    }
                    if ui
                        .add_enabled(can_save, egui::Button::new("Save as M3U…"))
                        .on_hover_text("Save the list as an M3U playlist for any player")
                        .clicked()
                    {
                        actions.push(PlaylistAction::SaveM3u);
                    }
                });
                ui.weak("click: select · double-click: play from there");
                ui.separator();
                egui::ScrollArea::vertical().max_height(360.0).id_salt("playlist_rows").show(ui, |ui| {
                    for (i, &id) in playlist.ids.iter().enumerate() {
                        ui.horizontal(|ui| {
                            ui.monospace(format!("{:>3}.", i + 1));
                            let note = playlist.notes.get(i).map(String::as_str).unwrap_or("");
                            ui.monospace(RichText::new(format!("{note:>5}")).weak())
                                .on_hover_text(playlist.note_hint);
                            let response = ui.selectable_label(false, title_of(id));
                            if response.double_clicked() {
                                actions.push(PlaylistAction::Play(playlist.ids[i..].to_vec()));
                            } else if response.clicked() {
                                actions.push(PlaylistAction::Select(id));
                            }
                        });
                    }
                });
            });
        actions
    }
}
