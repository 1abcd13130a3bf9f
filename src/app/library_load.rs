//! Reads the library (tracks and recorded failures) off the UI thread. On a
//! 100k-track library the query takes long enough to stutter the window, so
//! the window asks for a load, keeps drawing, and picks the result up when it
//! arrives.

use std::path::PathBuf;

use crossbeam_channel::{Receiver, TryRecvError, bounded};
use crate::store::{FileErrorRow, Store, TrackRow};

/// One consistent snapshot of what the library database holds.
#[derive(Debug, Default)]
pub struct LibraryData {
    /// Present tracks, in the store's listing order.
    pub tracks: Vec<TrackRow>,
    /// Files that could not be imported, newest first.
    pub errors: Vec<FileErrorRow>,
}

/// A load in progress on the `ta-gui-load` thread.
#[derive(Debug)]
pub struct Loader {
    rx: Receiver<Result<LibraryData, String>>,
}

impl Loader {
    /// Starts reading `db`; `ctx` is woken when the result is ready.
    pub fn spawn(db: PathBuf, ctx: egui::Context) -> Result<Loader, String> {
        let (tx, rx) = bounded(1);
        std::thread::Builder::new()
            .name("ta-gui-load".into())
            .spawn(move || {
                let _ = tx.send(load(&db));
                ctx.request_repaint();
            })
            .map_err(|e| format!("cannot start the library loader thread: {e}"))?;
        Ok(Loader { rx })
    }

    /// The result once it has arrived; `None` while still loading.
    pub fn poll(&self) -> Option<Result<LibraryData, String>> {
        match self.rx.try_recv() {
            Ok(result) => Some(result),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                Some(Err("the library loader stopped unexpectedly".to_owned()))
            }
        }
    }
}

fn load(db: &std::path::Path) -> Result<LibraryData, String> {
    // The open error already says "cannot open the library database (why): path".
    let store = Store::open(db).map_err(|e| e.to_string())?;
    let tracks = store.tracks(false).map_err(|e| format!("cannot read the tracks: {e}"))?;
    let errors = store.errors().map_err(|e| format!("cannot read the import errors: {e}"))?;
    Ok(LibraryData { tracks, errors })
}
