//! What the window remembers between sessions. Kept in eframe's own storage
//! (next to the window geometry eframe persists itself), so a restart puts the
//! user back where they were: same folder in the import field, same theme.

use serde::{Deserialize, Serialize};

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
    /// Whether the track-details side panel is shown.
    pub show_details: bool,
}

impl Default for UiState {
    fn default() -> Self {
        UiState { last_folder: String::new(), dark_mode: true, show_details: true }
    }
}

impl UiState {
    /// The egui theme this state asks for.
    pub fn theme(&self) -> egui::Theme {
        if self.dark_mode { egui::Theme::Dark } else { egui::Theme::Light }
    }
}
