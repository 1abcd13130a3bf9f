//! Computing the map layout off the UI thread: t-SNE of a large library takes
//! seconds to minutes, during which the window keeps drawing and shows the
//! stage, a progress bar and a cancel button.

use std::path::PathBuf;

use crossbeam_channel::Receiver;

use super::job::{self, Polled};
use crate::jobs::CancelToken;
use crate::map::{LayoutParams, LayoutProgress, LayoutStage, LibraryMap, layout_for_library};

/// What the map thread sends.
enum MapMsg {
    Progress(LayoutProgress),
    Done(Result<LibraryMap, String>),
}

/// A layout computation in progress on the `ta-gui-map` thread.
pub struct MapJob {
    rx: Receiver<MapMsg>,
    cancel: CancelToken,
    /// The latest progress report.
    pub progress: Option<LayoutProgress>,
}

impl MapJob {
    /// Starts laying out `model_version` of the library at `db` (the cached
    /// layout when there is one; `force` recomputes).
    pub fn spawn(
        db: PathBuf,
        model_version: String,
        force: bool,
        ctx: egui::Context,
    ) -> Result<MapJob, String> {
        let cancel = CancelToken::new();
        let job_cancel = cancel.clone();
        let version = model_version;
        let rx = job::spawn("ta-gui-map", &ctx, move |reply| {
            let result =
                layout_for_library(&db, &version, &LayoutParams::default(), force, &job_cancel, |p| {
                    reply.send(MapMsg::Progress(p));
                });
            reply.send(MapMsg::Done(result.map_err(|e| e.to_string())));
        })
        .map_err(|e| format!("cannot start the map thread: {e}"))?;
        Ok(MapJob { rx, cancel, progress: None })
    }

    /// Takes new progress; returns the result once it has arrived.
    pub fn poll(&mut self) -> Option<Result<LibraryMap, String>> {
        loop {
            match job::poll(&self.rx) {
                Polled::Message(MapMsg::Progress(p)) => self.progress = Some(p),
                Polled::Message(MapMsg::Done(result)) => return Some(result),
                Polled::Nothing => return None,
                Polled::Gone => return Some(Err("the map thread stopped unexpectedly".to_owned())),
            }
        }
    }

    /// Asks the computation to stop (between stages: t-SNE itself cannot be
    /// interrupted, so a cancel during it takes effect when it finishes).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Whether cancel was asked.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// What is happening, for the progress line.
    pub fn describe(&self) -> String {
        let Some(p) = &self.progress else { return "Starting the map…".to_owned() };
        let what = match p.stage {
            LayoutStage::Loading => "Reading vectors".to_owned(),
            LayoutStage::Pca => format!("Reducing {} vectors (PCA)", p.n_tracks),
            LayoutStage::Tsne => format!("Laying out {} tracks (t-SNE)", p.n_tracks),
            LayoutStage::Placing => format!("Placing {} new tracks", p.n_tracks),
            LayoutStage::Saving => "Saving the map".to_owned(),
        };
        match p.stage_estimate_s {
            Some(estimate) if p.stage == LayoutStage::Tsne => {
                format!("{what}: {:.0} s of about {:.0} s", p.stage_elapsed_s, estimate)
            }
            _ => format!("{what}…"),
        }
    }
}

impl Drop for MapJob {
    /// A job nobody waits for any more (library switched, window closed)
    /// stops at its next check instead of writing a stale layout.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
