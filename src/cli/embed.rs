//! `tuneatlas embed`: (re-)embed the stored library with a model version,
//! without scanning; resumable (a rerun continues where it stopped).

use std::path::Path;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tuneatlas::jobs::CancelToken;
use tuneatlas::library::{EmbedEvent, EmbedSummary, embed_library};
use tuneatlas::model::infer::Embedder;
use tuneatlas::store::{RunStatus, Store};

use super::model_args::ModelArgs;

/// Arguments of `tuneatlas embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Embeds every track without a vector for the chosen model.
pub fn run(db: &Path, args: &EmbedArgs) -> anyhow::Result<()> {
    let mut store = super::common::open_existing(db)?;
    let mut embedder = args.model.load()?;
    let cancel = super::cancel_on_ctrl_c("tracks");
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} tracks ({per_sec}, ETA {eta}) {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let summary = embed_with_bar(&mut store, &mut embedder, &cancel, &bar);
    bar.finish_and_clear();
    let s = summary?;
    println!(
        "{} with {} in {:.1} s: {} tracks embedded, {} failed",
        if s.status == RunStatus::Cancelled {
            "embedding cancelled (run it again to resume)"
        } else {
            "embedding finished"
        },
        s.model_version,
        s.elapsed_s,
        s.n_embedded,
        s.failures.len()
    );
    for (path, reason) in &s.failures {
        println!("  {reason}: {}", path.display());
    }
    Ok(())
}

/// [`embed_library`] with `bar` counting the tracks, failed files and
/// notices printed above it: `embed` and `finetune` (re-embedding with the
/// new version) show the same progress.
pub(super) fn embed_with_bar(
    store: &mut Store,
    embedder: &mut Embedder,
    cancel: &CancelToken,
    bar: &ProgressBar,
) -> tuneatlas::Result<EmbedSummary> {
    embed_library(store, embedder, cancel, |event| match event {
        EmbedEvent::Total { n_tracks } => bar.set_length(*n_tracks as u64),
        EmbedEvent::Done { path, error } => {
            bar.inc(1);
            if let Some(reason) = error {
                bar.suspend(|| eprintln!("failed: {reason}: {}", path.display()));
            }
        }
        EmbedEvent::Notice(n) => bar.suspend(|| eprintln!("note: {n}")),
    })
}
