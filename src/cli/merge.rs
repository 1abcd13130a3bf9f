//! `tuneatlas merge A.db B.db … --into LIB.db`: the libraries of one
//! folder's shards (`import --shard K/N` on several machines) merged into
//! one. The rules (what is copied, what is refused) are the core's
//! (`store::merge_libraries`); this prints what happened.

use std::path::{Path, PathBuf};

use clap::Args;
use tuneatlas::library::missing_shards;
use tuneatlas::store::{MergeSummary, WhenBusy, merge_libraries};
use tuneatlas::text::shown;

/// Arguments of `tuneatlas merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The libraries to merge (e.g. one per shard).
    #[arg(required = true, value_name = "LIBRARY")]
    pub sources: Vec<PathBuf>,
    /// The library to merge into (created when missing; one that holds
    /// tracks must share their model versions and folder, and none of
    /// their files).
    #[arg(long, value_name = "LIB.db")]
    pub into: PathBuf,
    /// Fail at once when an import is running on the target, instead of
    /// waiting for it to finish.
    #[arg(long)]
    pub no_wait: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the merge and prints its summary.
pub fn run(args: &MergeArgs) -> anyhow::Result<()> {
    let cancel = super::cancel_on_ctrl_c("merge");
    let when_busy = if args.no_wait { WhenBusy::Refuse } else { WhenBusy::Wait };
    let n = args.sources.len();
    let summary = merge_libraries(&args.into, &args.sources, when_busy, &cancel, |i, path| {
        eprintln!("merging {} ({}/{n})…", shown(path), i + 1);
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary, &args.into);
    }
    Ok(())
}

fn print_summary(s: &MergeSummary, into: &Path) {
    let tracks: usize = s.sources.iter().map(|l| l.tracks).sum();
    let errors: usize = s.sources.iter().map(|l| l.errors).sum();
    println!(
        "merged {} libraries in {:.1} s: {tracks} tracks, {errors} recorded failures (models: {}; folder: {})",
        s.sources.len(),
        s.elapsed_s,
        if s.model_versions.is_empty() { "none".to_string() } else { s.model_versions.join(", ") },
        s.roots.iter().map(|p| shown(p)).collect::<Vec<_>>().join(", ")
    );
    for l in &s.sources {
        let shards =
            if l.shards.is_empty() { String::new() } else { format!(" (shard {})", l.shards.join(", ")) };
        println!("  {}: {} tracks, {} failures{shards}", shown(&l.path), l.tracks, l.errors);
    }
    let missing = missing_shards(s.sources.iter().flat_map(|l| l.shards.iter().map(String::as_str)));
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(ToString::to_string).collect();
        println!(
            "note: no library of shard {} was merged; merge it into this library when it is done",
            list.join(", ")
        );
    }
    println!("library: {}", shown(into));
}
