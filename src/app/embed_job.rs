//! Re-embedding the library on a background thread, as the fine-tuning
//! window (its new version) and the upgrade offer (a newer built-in model)
//! both do: open the model, embed every track without a vector for it
//! ([`embed_library`], resumable), and report progress in the few terms a
//! progress bar needs.

use std::path::Path;

use crate::jobs::CancelToken;
use crate::library::{EmbedEvent, EmbedSummary, embed_library};
use crate::model::backend::DeviceChoice;
use crate::model::infer::Embedder;
use crate::store::Store;

/// What a re-embedding reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum EmbedProgress {
    /// Tracks this run will embed.
    Total(usize),
    /// One track done (`failed`: it could not be decoded and keeps no vector).
    Step { failed: bool },
    /// Something to tell the user (device fallback, …).
    Notice(String),
}

/// Embeds the tracks of the library at `db` that have no vector for the
/// model in `model_dir` (`None`: the built-in model), on a real GPU where
/// there is one.
pub(super) fn embed_missing(
    db: &Path,
    model_dir: Option<&Path>,
    cancel: &CancelToken,
    mut on_progress: impl FnMut(EmbedProgress),
) -> crate::Result<EmbedSummary> {
    let mut store = Store::open(db)?;
    let mut embedder = Embedder::open(model_dir, DeviceChoice::Auto)?;
    for n in embedder.take_notices() {
        on_progress(EmbedProgress::Notice(n));
    }
    embed_library(&mut store, &mut embedder, cancel, |e| {
        on_progress(match e {
            EmbedEvent::Total { n_tracks } => EmbedProgress::Total(*n_tracks),
            EmbedEvent::Done { error, .. } => EmbedProgress::Step { failed: error.is_some() },
            EmbedEvent::Notice(n) => EmbedProgress::Notice(n.clone()),
        });
    })
}
