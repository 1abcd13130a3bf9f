//! Reads the library snapshot (tracks, failures, vectors, tags, user tags;
//! see [`LibrarySnapshot`]) off the UI thread. On a 100k-track library the
//! queries take long enough to stutter the window, so the window asks for a
//! load, keeps drawing, and picks the result up when it arrives.

use std::path::PathBuf;

use crate::browse::LibrarySnapshot;
use crossbeam_channel::{Receiver, TryRecvError, bounded};

/// A load in progress on the `ta-gui-load` thread.
#[derive(Debug)]
pub struct Loader {
    rx: Receiver<Result<LibrarySnapshot, String>>,
}

impl Loader {
    /// Starts reading `db` for `model_version` (the latest when `None`);
    /// `ctx` is woken when the result is ready.
    pub fn spawn(db: PathBuf, model_version: Option<String>, ctx: egui::Context) -> Result<Loader, String> {
        let (tx, rx) = bounded(1);
        std::thread::Builder::new()
            .name("ta-gui-load".into())
            .spawn(move || {
                let _ =
                    tx.send(LibrarySnapshot::load(&db, model_version.as_deref()).map_err(|e| e.to_string()));
                ctx.request_repaint();
            })
            .map_err(|e| format!("cannot start the library loader thread: {e}"))?;
        Ok(Loader { rx })
    }

    /// The result once it has arrived; `None` while still loading.
    pub fn poll(&self) -> Option<Result<LibrarySnapshot, String>> {
        match self.rx.try_recv() {
            Ok(result) => Some(result),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                Some(Err("the library loader stopped unexpectedly".to_owned()))
            }
        }
    }
}
