//! # tuneatlas core
//!
//! Everything tuneatlas does — scanning a music folder, decoding clips,
//! computing log-mel features, storing the library in SQLite, embedding
//! tracks with the DPNN, training it — lives here, independent of any GUI, so
//! that the desktop app, the command line and the tests all drive the same
//! code. The one exception is [`app`] (feature `gui`): the thin egui/eframe
//! layer, kept in the library rather than the binary so that GUI tests
//! (egui_kittest) can drive it. `cargo check --lib --no-default-features`
//! proves the rest stays GUI-free.

#[cfg(feature = "gui")]
pub mod app;
pub mod audio;
pub mod browse;
pub mod config;
pub mod error;
pub mod export;
pub mod features;
pub mod identity;
pub mod index;
pub mod jobs;
pub mod library;
pub mod map;
pub mod model;
pub mod playback;
pub mod report;
pub mod store;
pub mod text;
pub mod train;

pub use error::{Error, Result, TagProblem};
