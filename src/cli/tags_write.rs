//! `tuneatlas tags write`: the predicted tags (and, with `--user-tags`, the
//! user's own) written into the audio files' own tag fields, with a progress
//! bar, Ctrl-C to stop after the file in progress, and `--dry-run` to see
//! first what would be written. A thin wrapper over
//! [`tuneatlas::library::write_tags`], which the window's "Write tags into
//! files…" runs too.

use std::path::Path;
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tuneatlas::index::resolve_track;
use tuneatlas::library::tag_write::{DEFAULT_MAX_PER_CATEGORY, DEFAULT_MIN_SCORE};
use tuneatlas::library::{FileOutcome, TagWriteEvent, TagWriteOptions, write_tags};
use tuneatlas::model::heads::TagCategory;
use tuneatlas::text::{shown, shown_text};

use super::common::{model_version, open_existing};

/// The subcommands of `tuneatlas tags`.
#[derive(Debug, Subcommand)]
pub enum TagsAction {
    /// Write the predicted tags into the files' own tag fields (ID3v2 TCON/TXXX, Vorbis
    /// comments, MP4 atoms), with the model version; the audio is never touched. Genres go to
    /// the genre field beside the ones already there; styles, moods and themes to STYLE, MOOD and
    /// THEME. Read-only files and formats without writable tags are refused with the reason.
    Write(TagsWriteArgs),
}

/// Arguments of `tags write`.
#[derive(Debug, Args)]
pub struct TagsWriteArgs {
    /// Only these tracks: ids (see `tuneatlas tracks`), file paths or "Artist - Title";
    /// default: every track the last import found.
    #[arg(value_name = "TRACK")]
    pub tracks: Vec<String>,
    /// The categories of predicted tags to write, comma-separated (the others' fields are left
    /// as they are).
    #[arg(long = "category", value_delimiter = ',', default_value = "genre,style,mood,theme")]
    pub categories: Vec<TagCategory>,
    /// The least score (0–1) a predicted tag needs to be written.
    #[arg(long, default_value_t = DEFAULT_MIN_SCORE, value_name = "S")]
    pub min_score: f32,
    /// At most this many tags per category, the strongest.
    #[arg(long, default_value_t = DEFAULT_MAX_PER_CATEGORY, value_name = "N")]
    pub max_per_category: usize,
    /// Also write your own tags (`tuneatlas tag`), one field per tag set: TUNEATLAS_USER_<SET>.
    #[arg(long)]
    pub user_tags: bool,
    /// Print what would be written into each file, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Model version of the predicted tags (default: the one most of the library is embedded with).
    #[arg(long = "model", value_name = "VERSION")]
    pub model: Option<String>,
}

/// Runs `tuneatlas tags write`. Files that cannot be written are listed with
/// the reason; the command fails only when nothing could be tried (no
/// library, no model, another import running).
pub fn run(db: &Path, action: &TagsAction) -> anyhow::Result<()> {
    let TagsAction::Write(args) = action;
    let mut store = open_existing(db)?;
    let version = model_version(&store, args.model.as_deref())?;
    let ids: Vec<i64> = if args.tracks.is_empty() {
        store.tracks(false)?.iter().map(|t| t.id).collect()
    } else {
        let mut ids = Vec::with_capacity(args.tracks.len());
        for q in &args.tracks {
            let id = resolve_track(&store, q)?.id;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    };
    let options = TagWriteOptions {
        categories: args.categories.clone(),
        min_score: args.min_score,
        max_per_category: args.max_per_category,
        user_tags: args.user_tags,
        dry_run: args.dry_run,
    };
    let cancel = super::cancel_on_ctrl_c("file");
    let bar = if args.dry_run { ProgressBar::hidden() } else { ProgressBar::new(ids.len() as u64) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let summary = write_tags(&mut store, &ids, &version, &options, &cancel, |event| {
        let TagWriteEvent::Done(report) = event else { return };
        bar.inc(1);
        let path = shown(&report.path);
        bar.suspend(|| match &report.outcome {
            FileOutcome::WouldWrite => println!("would write {}: {path}", report.tags.describe()),
            FileOutcome::Unchanged if args.dry_run => println!("up to date: {path}"),
            FileOutcome::Written | FileOutcome::Unchanged => {}
            FileOutcome::Refused(reason) => eprintln!("refused: {}: {path}", shown_text(reason)),
            FileOutcome::Failed(reason) => eprintln!("failed: {}: {path}", shown_text(reason)),
        });
    });
    bar.finish_and_clear();
    println!("{}", summary?);
    Ok(())
}
