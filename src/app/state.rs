//! What the window remembers between sessions. Kept in eframe's own storage
//! (next to the window geometry eframe persists itself), so a restart puts the
//! user back where they were: same library, same view, same colouring and labels, same
//! folder in the import field, same theme and volume.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::map_colors::ColorBy;

/// The main view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MainView {
    /// The track table.
    #[default]
    Library,
    /// The t-SNE map.
    Map,
}

/// The persisted part of the UI. Every field has a default so that a state
/// written by an older version (or a missing one) still loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UiState {
    /// The folder typed or chosen last, so re-importing a library (the
    /// common incremental case) is one click.
    pub last_folder: String,
    /// Dark theme when true, light when false.
    pub dark_mode: bool,
    /// Whether the track panel is shown.
    pub show_details: bool,
    /// Library or map.
    pub view: MainView,
    /// What the map's colours show.
    pub color_by: ColorBy,
    /// Play a few seconds of a track when the pointer rests on it on the map.
    pub hover_audition: bool,
    /// Draw the map's region labels.
    pub map_labels: bool,
    /// Playback volume, 0–1.
    pub volume: f32,
    /// The library file opened last, reopened at start when no `--db` or
    /// `TUNEATLAS_DB` names another.
    pub last_db: Option<PathBuf>,
    /// The similar list's and radio's cap: tracks by one artist in any ten
    /// (0 = no cap); a taste, so it is remembered.
    pub per_artist: usize,
}

impl Default for UiState {
    fn default() -> Self {
        UiState {
            last_folder: String::new(),
            dark_mode: true,
            show_details: true,
            view: MainView::Library,
            color_by: ColorBy::default(),
            hover_audition: false,
            map_labels: true,
            volume: 0.8,
            last_db: None,
            per_artist: crate::browse::DEFAULT_PER_ARTIST,
        }
    }
}

impl UiState {
    /// The egui theme this state asks for.
    pub fn theme(&self) -> egui::Theme {
        if self.dark_mode { egui::Theme::Dark } else { egui::Theme::Light }
    }
}
