//! `tuneatlas import DIR`: the incremental import with a progress bar,
//! Ctrl-C to stop cleanly, and a closing summary.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tuneatlas::library::{ImportEvent, ImportOptions, ImportSummary, Outcome, Shard, import_folder_locked};

use super::model_args::ModelArgs;
use tuneatlas::store::{ImportLock, Store, WhenBusy};
use tuneatlas::text::{shown, shown_text};

/// Arguments of `tuneatlas import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The music folder to import (scanned recursively).
    pub dir: PathBuf,
    /// Decode worker threads (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Also import hidden files and folders.
    #[arg(long)]
    pub hidden: bool,
    /// Do not follow symbolic links.
    #[arg(long)]
    pub no_follow: bool,
    /// Follow symbolic links that lead outside DIR too (by default they are
    /// reported and not followed).
    #[arg(long, conflicts_with = "no_follow")]
    pub follow_outside: bool,
    /// Fail at once when another import is running on this library, instead
    /// of waiting for it to finish.
    #[arg(long)]
    pub no_wait: bool,
    /// Import only shard K of N (1 ≤ K ≤ N) of the folder, e.g. one per
    /// machine, each into its own library (`--db`); `tuneatlas merge` joins
    /// them. A file's shard depends only on its path inside DIR.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Import without running the model (no vectors or tags; `tuneatlas embed` adds them later).
    #[arg(long)]
    pub no_model: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Runs an import and prints the summary. Fails (exit ≠ 0) only when nothing
/// could be done: missing folder, unusable database.
pub fn run(db: &Path, args: &ImportArgs) -> anyhow::Result<()> {
    let mut store = Store::open(db)?;
    let mut embedder = if args.no_model { None } else { Some(args.model.load()?) };
    let cancel = super::cancel_on_ctrl_c("files");
    let when_busy = if args.no_wait { WhenBusy::Refuse } else { WhenBusy::Wait };
    let lock = ImportLock::acquire(store.path(), when_busy, &cancel, |holder| {
        eprintln!("another import is running on this library ({holder}); waiting for it to finish…");
    })?;
    let mut options = ImportOptions::default();
    if let Some(n) = args.jobs {
        options.n_workers = n.max(1);
    }
    options.scan.include_hidden = args.hidden;
    options.scan.follow_symlinks = !args.no_follow;
    options.scan.follow_outside = args.follow_outside;
    options.shard = args.shard;

    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files ({per_sec}, ETA {eta}) {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut scanning = true;
    let summary =
        import_folder_locked(&mut store, &lock, &args.dir, &options, embedder.as_mut(), &cancel, |event| {
            match event {
                ImportEvent::Found { n_found } => bar.set_length(*n_found as u64),
                ImportEvent::ScanFinished { n_found } => {
                    scanning = false;
                    bar.set_length(*n_found as u64);
                }
                ImportEvent::Started { path } => {
                    let name = path.file_name().map(|n| shown(Path::new(n))).unwrap_or_default();
                    bar.set_message(if scanning { format!("(still scanning) {name}") } else { name });
                }
                ImportEvent::Done { path, outcome } => {
                    bar.inc(1);
                    if let Outcome::Failed(reason) = outcome {
                        bar.suspend(|| eprintln!("failed: {}: {}", shown_text(reason), shown(path)));
                    }
                }
            }
        });
    bar.finish_and_clear();
    let summary = summary?;
    if args.json {
        print_json(&summary)?;
    } else {
        print_summary(&summary, db);
        // Tracks imported earlier keep the vectors of the model of that
        // time (e.g. before an update improved the built-in model).
        if let Some(version) = &summary.model_version {
            let n_missing = store.tracks_without_vectors(version)?.len();
            if n_missing > 0 {
                println!(
                    "note: {n_missing} earlier tracks have no {version} vector (embedded with another model \
                     or not at all): `tuneatlas embed` adds them"
                );
            }
        }
    }
    Ok(())
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    text.parse().map_err(|e: tuneatlas::Error| e.to_string())
}

fn print_json(s: &ImportSummary) -> anyhow::Result<()> {
    let pairs = |v: &[(PathBuf, String)]| -> Vec<serde_json::Value> {
        v.iter().map(|(p, r)| serde_json::json!({ "path": shown(p), "reason": r })).collect()
    };
    let value = serde_json::json!({
        "run_id": s.run_id,
        "status": s.status,
        "counts": s.counts,
        "known_bad": s.n_known_bad,
        "not_audio": s.n_not_audio,
        "failures": pairs(&s.failures),
        "skipped": pairs(&s.skipped),
        "model_version": s.model_version,
        "notices": s.notices,
        "shard": s.shard.map(|k| k.to_string()),
        "other_shards": s.n_other_shards,
        "elapsed_s": s.elapsed_s,
    });
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

/// The run's summary as the core words it (the window shows its headline),
/// then where the library is.
fn print_summary(s: &ImportSummary, db: &Path) {
    println!("{s:#}");
    println!("library: {}", shown(db));
}
