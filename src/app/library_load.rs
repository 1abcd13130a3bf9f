//! Reads the library snapshot (tracks, failures, vectors, tags, user tags;
//! see [`LibrarySnapshot`]) off the UI thread. On a 100k-track library the
//! queries take long enough to stutter the window, so the window asks for a
//! load, keeps drawing, and picks the result up when it arrives.

use std::path::PathBuf;

use crossbeam_channel::Receiver;

use super::job::{self, Polled};
use crate::browse::LibrarySnapshot;

/// What a load delivers, in order.
#[derive(Debug)]
pub enum Loaded {
    /// The track list without vectors and tag scores (staged loads only).
    Tracks(LibrarySnapshot),
    /// The whole snapshot: the load is over.
    Complete(LibrarySnapshot),
    /// The load failed; the message says why.
    Failed(String),
}

/// A load in progress on the `ta-gui-load` thread.
#[derive(Debug)]
pub struct Loader {
    rx: Receiver<Loaded>,
}

impl Loader {
    /// Starts reading `db` for `model_version` (the latest when `None`);
    /// `ctx` is woken whenever something arrives. With `staged`, the track
    /// list comes first ([`Loaded::Tracks`]) so a large library's table is
    /// usable before its vectors and tags are read — for the first load; a
    /// reload keeps showing the old data until the new one is whole.
    pub fn spawn(
        db: PathBuf,
        model_version: Option<String>,
        staged: bool,
        ctx: egui::Context,
    ) -> Result<Loader, String> {
        let rx = job::spawn("ta-gui-load", &ctx, move |reply| {
            let result = if staged {
                LibrarySnapshot::load_staged(&db, model_version.as_deref(), |tracks| {
                    reply.send(Loaded::Tracks(tracks));
                })
            } else {
                LibrarySnapshot::load(&db, model_version.as_deref())
            };
            reply.send(match result {
                Ok(snapshot) => Loaded::Complete(snapshot),
                Err(e) => Loaded::Failed(e.to_string()),
            });
        })
        .map_err(|e| format!("cannot start the library loader thread: {e}"))?;
        Ok(Loader { rx })
    }

    /// The next delivery once it has arrived; `None` while nothing new is in.
    pub fn poll(&self) -> Option<Loaded> {
        match job::poll(&self.rx) {
            Polled::Message(loaded) => Some(loaded),
            Polled::Nothing => None,
            Polled::Gone => Some(Loaded::Failed("the library loader stopped unexpectedly".to_owned())),
        }
    }
}
