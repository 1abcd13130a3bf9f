//! # tuneatlas core
//!
//! Everything tuneatlas does — scanning a music folder, decoding clips,
//! computing log-mel features, storing the library in SQLite, and (later)
//! embedding tracks with the DPNN — lives here, independent of any GUI, so
//! that the desktop app, the command line and the tests all drive the same
//! code. `cargo check --lib --no-default-features` proves it stays GUI-free.

pub mod audio;
pub mod error;
pub mod features;
pub mod index;
pub mod jobs;
pub mod library;
pub mod model;
pub mod store;
pub mod train;

pub use error::{Error, Result};
