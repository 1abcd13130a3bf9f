//! The track panel: the selected track's metadata, its predicted tags in the
//! four categories with score bars, the user's tags (editable), and the
//! similar-track list with its filters, "play radio from here" and the song
//! path to another track; with several tracks selected (table or lasso),
//! what to do with all of them: "play similar to these" and "order as a
//! smooth path".
//!
//! The panel only draws and reports what the user asked for
//! ([`TrackAction`]); the app performs it (player, store writes).

use egui::{Color32, RichText, Ui, vec2};

use crate::browse::{
    ARTIST_WINDOW, LibrarySnapshot, SimilarOptions, SimilarTrack, closer_than_text, similar_tracks,
};
use crate::store::{DEFAULT_TAG_SET, TrackRow};

use super::format::clock;

/// How many similar tracks the list shows.
pub const SIMILAR_K: usize = 20;

/// How many tags per category get a score bar.
const TAGS_PER_CATEGORY: usize = 5;

/// Tracks in a song path, both ends included.
pub const SONG_PATH_STEPS: usize = 12;

/// The similar list of one track under one filter setting and snapshot
/// generation: `(track, options, generation, result)`.
type SimilarCache = (i64, SimilarOptions, u64, Result<Vec<SimilarTrack>, String>);

/// What the user asked for in the panel.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackAction {
    /// Select another track (e.g. a similar one).
    Select(i64),
    /// Play these tracks, starting with the first.
    Play(Vec<i64>),
    /// Play a radio seeded by this track.
    Radio(i64),
    /// Play the song path from the first track to the second.
    SongPath(i64, i64),
    /// Remember this track as the start of a song path.
    SetPathStart(i64),
    /// Add a user tag `(set, tag)` to tracks.
    AddTag(Vec<i64>, String, String),
    /// Remove a user tag `(set, tag)` from tracks.
    RemoveTag(Vec<i64>, String, String),
    /// Play the tracks nearest the centre of these (the selection).
    SimilarToThese(Vec<i64>),
    /// Play these tracks (the selection) re-ordered so each step is short.
    SmoothOrder(Vec<i64>),
}

/// The panel's own state: the similar list is cached per track and filter
/// (a query over 100k vectors is cheap, but not free every frame).
#[derive(Debug, Default)]
pub struct TrackPanel {
    /// The similar list's filters.
    pub options: SimilarOptions,
    cached: Option<SimilarCache>,
    new_tag: String,
    new_tag_set: String,
}

impl TrackPanel {
    /// The similar tracks of `track_id` under the current filters (cached;
    /// `generation` changes when the snapshot does).
    pub fn similar(
        &mut self,
        snapshot: &LibrarySnapshot,
        generation: u64,
        track_id: i64,
    ) -> Result<Vec<SimilarTrack>, String> {
        let fresh = matches!(&self.cached, Some((id, o, g, _)) if *id == track_id && *o == self.options && *g == generation);
        if !fresh {
            let result =
                similar_tracks(snapshot, track_id, SIMILAR_K, self.options).map_err(|e| e.to_string());
            self.cached = Some((track_id, self.options, generation, result));
        }
        self.cached.as_ref().map_or_else(|| Ok(Vec::new()), |(_, _, _, result)| result.clone())
    }

    /// The ids of the similar list last shown (`None` before one was
    /// computed, or when it failed).
    pub fn shown_similar_ids(&self) -> Option<Vec<i64>> {
        match &self.cached {
            Some((_, _, _, Ok(list))) => Some(list.iter().map(|s| s.track_id).collect()),
            _ => None,
        }
    }

    /// Draws the panel for `row` (with `selection` the ids selected in the
    /// table or on the map, for tagging several at once).
    #[allow(clippy::too_many_arguments)]
    pub fn show(
        &mut self,
        ui: &mut Ui,
        snapshot: &LibrarySnapshot,
        generation: u64,
        row: &TrackRow,
        selection: &[i64],
        path_start: Option<i64>,
        title_of: &dyn Fn(i64) -> String,
    ) -> Vec<TrackAction> {
        let mut actions = Vec::new();
        if selection.len() > 1 {
            selection_section(ui, selection, &mut actions);
            ui.add_space(6.0);
        }
        ui.heading(&row.title);
        let by = [row.artist.as_deref(), row.album.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" — ");
        if !by.is_empty() {
            ui.label(by);
        }
        ui.horizontal(|ui| {
            ui.weak(format!("{} · {} · {}", clock(row.duration_s), row.codec, row.container));
            if ui.small_button("▶ Play").on_hover_text("Play this track").clicked() {
                actions.push(TrackAction::Play(vec![row.id]));
            }
        });
        ui.add_space(6.0);

        self.tags_section(ui, snapshot, row.id);
        ui.add_space(6.0);
        self.user_tags_section(ui, snapshot, row.id, selection, &mut actions);
        ui.add_space(6.0);
        self.similar_section(ui, snapshot, generation, row, path_start, title_of, &mut actions);
        ui.add_space(6.0);
        egui::CollapsingHeader::new("File").default_open(false).show(ui, |ui| {
            let path = row.path.display().to_string();
            ui.add(egui::Label::new(RichText::new(&path).monospace()).wrap());
            if ui.small_button("Copy path").clicked() {
                ui.ctx().copy_text(path);
            }
        });
        actions
    }

    fn tags_section(&self, ui: &mut Ui, snapshot: &LibrarySnapshot, track_id: i64) {
        let Some(row) = snapshot.tags.row(track_id) else {
            ui.weak("No predicted tags yet: this track has not been embedded with the current model.");
            return;
        };
        let bar_color = ui.visuals().selection.bg_fill;
        egui::Grid::new("predicted_tags").num_columns(2).spacing([10.0, 2.0]).show(ui, |ui| {
            for category in ["genre", "style", "mood", "theme"] {
                let mut cols = snapshot.tags.category_columns(category);
                if cols.is_empty() {
                    continue;
                }
                cols.sort_by(|a, b| row[*b].total_cmp(&row[*a]));
                ui.strong(category);
                ui.vertical(|ui| {
                    for c in cols.into_iter().take(TAGS_PER_CATEGORY) {
                        score_bar(ui, &snapshot.tags.tags[c].1, row[c], bar_color);
                    }
                });
                ui.end_row();
            }
        });
    }

    fn user_tags_section(
        &mut self,
        ui: &mut Ui,
        snapshot: &LibrarySnapshot,
        track_id: i64,
        selection: &[i64],
        actions: &mut Vec<TrackAction>,
    ) {
        let targets: Vec<i64> = if selection.len() > 1 && selection.contains(&track_id) {
            selection.to_vec()
        } else {
            vec![track_id]
        };
        ui.strong("Your tags");
        let tags = snapshot.user_tags.get(&track_id).cloned().unwrap_or_default();
        ui.horizontal_wrapped(|ui| {
            if tags.is_empty() {
                ui.weak("none yet");
            }
            for (set, tag) in &tags {
                let text = if set == DEFAULT_TAG_SET { tag.clone() } else { format!("{set}: {tag}") };
                if ui.button(format!("{text} ×")).on_hover_text("Remove this tag").clicked() {
                    actions.push(TrackAction::RemoveTag(vec![track_id], set.clone(), tag.clone()));
                }
            }
        });
        ui.horizontal(|ui| {
            let response = ui.add(
                egui::TextEdit::singleline(&mut self.new_tag).hint_text("add a tag…").desired_width(120.0),
            );
            ui.add(
                egui::TextEdit::singleline(&mut self.new_tag_set)
                    .hint_text(DEFAULT_TAG_SET)
                    .desired_width(70.0),
            )
            .on_hover_text("Tag set (e.g. moods, occasions); empty = the default set");
            let enter = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let label =
                if targets.len() > 1 { format!("Add to {}", targets.len()) } else { "Add".to_owned() };
            if (ui.button(label).clicked() || enter) && !self.new_tag.trim().is_empty() {
                let set = if self.new_tag_set.trim().is_empty() {
                    DEFAULT_TAG_SET.to_owned()
                } else {
                    self.new_tag_set.clone()
                };
                actions.push(TrackAction::AddTag(targets.clone(), set, std::mem::take(&mut self.new_tag)));
            }
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn similar_section(
        &mut self,
        ui: &mut Ui,
        snapshot: &LibrarySnapshot,
        generation: u64,
        row: &TrackRow,
        path_start: Option<i64>,
        title_of: &dyn Fn(i64) -> String,
        actions: &mut Vec<TrackAction>,
    ) {
        ui.horizontal(|ui| {
            ui.strong("Similar tracks");
            ui.checkbox(&mut self.options.exclude_same_album, "not same album");
            ui.checkbox(&mut self.options.exclude_same_artist, "not same artist");
        });
        ui.horizontal(|ui| {
            ui.label("per artist");
            ui.add(egui::DragValue::new(&mut self.options.per_artist).range(0..=ARTIST_WINDOW))
                .on_hover_text(format!(
                    "At most this many tracks by one artist in any {ARTIST_WINDOW} of the list and the radio (0 = no limit)"
                ));
        });
        ui.horizontal(|ui| {
            if ui.button("Radio").on_hover_text("Play a radio that drifts from this track").clicked() {
                actions.push(TrackAction::Radio(row.id));
            }
            match path_start {
                Some(start) if start != row.id => {
                    let hint =
                        format!("A smooth sequence of neighbours from “{}” to this track", title_of(start));
                    if ui.button("Song path from start").on_hover_text(hint).clicked() {
                        actions.push(TrackAction::SongPath(start, row.id));
                    }
                }
                _ => {
                    if ui
                        .button("Set as path start")
                        .on_hover_text("Then select another track and play the song path to it")
                        .clicked()
                    {
                        actions.push(TrackAction::SetPathStart(row.id));
                    }
                }
            }
        });
        let result = self.similar(snapshot, generation, row.id);
        match result {
            Err(message) => {
                ui.weak(message);
            }
            Ok(list) if list.is_empty() => {
                ui.weak("No other track passes the filters.");
            }
            Ok(list) => {
                let all: Vec<i64> = list.iter().map(|s| s.track_id).collect();
                if ui.small_button("Play all").clicked() {
                    actions.push(TrackAction::Play(all));
                }
                for s in &list {
                    ui.horizontal(|ui| {
                        let closer = s.closer_than.map(closer_than_text).unwrap_or_default();
                        ui.monospace(format!("{:.3}", s.distance))
                            .on_hover_text(format!("cosine distance (0 = same sound); {closer}"));
                        let response = ui.selectable_label(false, title_of(s.track_id));
                        if response.double_clicked() {
                            actions.push(TrackAction::Play(vec![s.track_id]));
                        } else if response.clicked() {
                            actions.push(TrackAction::Select(s.track_id));
                        }
                        if let Some(share) = s.closer_than {
                            ui.weak(format!("{}%", (share * 100.0).floor() as u32))
                                .on_hover_text(format!("{closer}: the share of this library's pairs of tracks that lie farther apart"));
                        }
                        if !s.common_tags.is_empty() {
                            let tags: Vec<&str> = s.common_tags.iter().map(|t| t.tag.as_str()).collect();
                            ui.weak(tags.join(", ")).on_hover_text(
                                "Tags both tracks score high on for this library (both in its top 20 % for the tag)",
                            );
                        }
                    });
                }
            }
        }
    }
}

/// What to do with several selected tracks at once.
fn selection_section(ui: &mut Ui, selection: &[i64], actions: &mut Vec<TrackAction>) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.strong(format!("{} tracks selected", selection.len()));
        ui.horizontal_wrapped(|ui| {
            if ui
                .button("Play similar to these")
                .on_hover_text(
                    "The tracks nearest the selection's centre in the embedding, none of the selected, \
                     under the similar list's filters below",
                )
                .clicked()
            {
                actions.push(TrackAction::SimilarToThese(selection.to_vec()));
            }
            if ui
                .button("Order as a smooth path")
                .on_hover_text("Play the selected tracks re-ordered so each step to the next is short")
                .clicked()
            {
                actions.push(TrackAction::SmoothOrder(selection.to_vec()));
            }
        });
    });
}

/// One tag with its score as a bar.
fn score_bar(ui: &mut Ui, tag: &str, score: f32, color: Color32) {
    ui.horizontal(|ui| {
        let (rect, _) = ui.allocate_exact_size(vec2(80.0, 10.0), egui::Sense::hover());
        ui.painter().rect_filled(rect, 2.0, ui.visuals().faint_bg_color);
        let filled =
            egui::Rect::from_min_size(rect.min, vec2(rect.width() * score.clamp(0.0, 1.0), rect.height()));
        ui.painter().rect_filled(filled, 2.0, color);
        ui.label(format!("{tag} {:.0}%", score * 100.0));
    });
}
