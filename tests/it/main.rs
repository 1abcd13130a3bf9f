//! The one integration-test target: each module tests one part of tuneatlas
//! end to end on real files (real decoding, a real SQLite file).

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]
mod cli;
mod common;
mod concurrency;
mod decode;
mod embed;
mod export;
mod features_golden;
mod finetune;
#[cfg(feature = "gui")]
mod finetune_gui;
#[cfg(feature = "gui")]
mod gui;
#[cfg(feature = "gui")]
mod gui_map;
#[cfg(feature = "gui")]
mod gui_selection;
mod hostile;
mod import;
mod map;
mod model;
#[cfg(unix)]
mod odd_names;
mod playback;
mod shard_merge;
mod similar;
mod similar_variety;
mod song_path;
mod tag_migration;
mod tag_write;
#[cfg(feature = "gui")]
mod tag_write_gui;
mod train;
mod user_tags;
mod write_errors;
