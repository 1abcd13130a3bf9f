//! `tuneatlas tag add|rm|list|import`: the user's own tags from the command line —
//! the same store calls the GUI's tag editor makes, for scripting and for
//! tagging a batch of tracks at once before fine-tuning.

use std::collections::BTreeMap;
use std::path::Path;

use clap::{Args, Subcommand};
use serde::Serialize;
use tuneatlas::index::resolve_track;
use tuneatlas::store::{DEFAULT_TAG_SET, Store, TagSource, TrackRow, normalize_tag};

use super::common::open_existing;

/// Arguments of `tuneatlas tag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TagAction,
}

/// The `tag` subcommands.
#[derive(Debug, Subcommand)]
pub enum TagAction {
    /// Give tracks tags: `tag add [--set NAME] TRACK... --tag TAG...`.
    Add(TagEditArgs),
    /// Take tags off tracks: `tag rm [--set NAME] TRACK... --tag TAG...`.
    Rm(TagEditArgs),
    /// Show the tags of tracks, or (without tracks) the tag sets and how often each tag is used.
    List(TagListArgs),
    /// Import tags from a CSV (`--csv FILE`: columns path or artist+title, tags separated by ";",
    /// optional tag_set), from the files' genre tags (`--from-genre`) or from their comment
    /// fields (`--from-comment`: "chill; late night", "#rainy #piano").
    Import(TagImportArgs),
}

/// Arguments of `tag import`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["csv", "from_genre", "from_comment"])))]
pub struct TagImportArgs {
    /// The CSV file: a header, then a "path" column (or "artist" and "title"), a "tags" column
    /// (tags separated by ";") and optionally "tag_set".
    #[arg(long, value_name = "FILE")]
    pub csv: Option<std::path::PathBuf>,
    /// Copy each track's genre tag (as read at import) into the set.
    #[arg(long)]
    pub from_genre: bool,
    /// Read each file's comment field and add its tag-like parts (separated by ";", ",", "#" or
    /// line breaks; at most three words each) to the set.
    #[arg(long)]
    pub from_comment: bool,
    /// The tag set for rows without a tag_set column (default: "tags"; "genre" with --from-genre,
    /// "comment" with --from-comment).
    #[arg(long)]
    pub set: Option<String>,
}

/// Arguments of `tag add` and `tag rm`.
#[derive(Debug, Args)]
pub struct TagEditArgs {
    /// The tag set (e.g. "moods", "occasions"); created when new.
    #[arg(long, default_value = DEFAULT_TAG_SET)]
    pub set: String,
    /// The tracks: ids (see `tuneatlas tracks`), file paths, or "Artist - Title".
    #[arg(required = true, value_name = "TRACK")]
    pub tracks: Vec<String>,
    /// The tags, after the tracks (`--tag calm "late night"` or `--tag calm --tag dark`).
    /// Case and extra spaces do not matter.
    #[arg(long = "tag", short = 't', required = true, num_args = 1.., value_name = "TAG")]
    pub tags: Vec<String>,
}

/// Arguments of `tag list`.
#[derive(Debug, Args)]
pub struct TagListArgs {
    /// Only this tag set.
    #[arg(long)]
    pub set: Option<String>,
    /// The tracks whose tags to show (none: summarise the tag sets).
    #[arg(value_name = "TRACK")]
    pub tracks: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One track's tags in `tag list --json`.
#[derive(Debug, Serialize)]
struct TrackTagsOut {
    id: i64,
    title: String,
    artist: Option<String>,
    /// set → tags
    tags: BTreeMap<String, Vec<String>>,
}

/// A tag and how many tracks carry it, in `tag list --json`.
#[derive(Debug, Serialize)]
struct TagCountOut {
    tag: String,
    tracks: usize,
}

/// The tracks named on the command line, each once, in the order given.
fn resolve_all(store: &Store, queries: &[String]) -> anyhow::Result<Vec<TrackRow>> {
    let mut out: Vec<TrackRow> = Vec::with_capacity(queries.len());
    for q in queries {
        let track = resolve_track(store, q)?;
        if !out.iter().any(|t| t.id == track.id) {
            out.push(track);
        }
    }
    Ok(out)
}

fn describe(t: &TrackRow) -> String {
    match &t.artist {
        Some(a) => format!("{a} - {}", t.title),
        None => t.title.clone(),
    }
}

/// Runs `tuneatlas tag ...`.
pub fn run(db: &Path, args: &TagArgs) -> anyhow::Result<()> {
    match &args.action {
        TagAction::Add(a) => add(db, a),
        TagAction::Rm(a) => remove(db, a),
        TagAction::List(a) => list(db, a),
        TagAction::Import(a) => import(db, a),
    }
}

fn import(db: &Path, args: &TagImportArgs) -> anyhow::Result<()> {
    let mut store = open_existing(db)?;
    let report = match &args.csv {
        Some(csv) => {
            let set = args.set.as_deref().unwrap_or(DEFAULT_TAG_SET);
            tuneatlas::library::import_tags_csv(&mut store, csv, set)?
        }
        None if args.from_comment => {
            let cancel = super::cancel_on_ctrl_c("the comment import");
            tuneatlas::library::import_comment_tags(
                &mut store,
                args.set.as_deref().unwrap_or("comment"),
                &cancel,
            )?
        }
        None => tuneatlas::library::import_genre_tags(&mut store, args.set.as_deref().unwrap_or("genre"))?,
    };
    print_import_report(&report);
    Ok(())
}

/// Prints what a tag import did, one line per skipped row (shared with `finetune --tags`).
pub fn print_import_report(report: &tuneatlas::library::TagImportReport) {
    for p in &report.problems {
        if p.line == 0 {
            eprintln!("skipped: {}", p.reason);
        } else {
            eprintln!("skipped line {}: {}", p.line, p.reason);
        }
    }
    println!(
        "imported tags: {} row(s) read, {} new tag(s) on {} track(s) in set(s) {}{}",
        report.rows_read,
        report.tags_added,
        report.tracks_tagged,
        if report.sets.is_empty() { "—".to_string() } else { report.sets.join(", ") },
        if report.problems.is_empty() {
            String::new()
        } else {
            format!(", {} row(s) skipped", report.problems.len())
        }
    );
}

fn add(db: &Path, args: &TagEditArgs) -> anyhow::Result<()> {
    let mut store = open_existing(db)?;
    let tracks = resolve_all(&store, &args.tracks)?;
    let ids: Vec<i64> = tracks.iter().map(|t| t.id).collect();
    let added = store.add_user_tags(&ids, &args.set, &args.tags, TagSource::User)?;
    let set = normalize_tag(&args.set)?;
    let asked = ids.len() * args.tags.len();
    println!(
        "added {added} tag(s) in set \"{set}\" to {} track(s){}",
        ids.len(),
        if added < asked { " (the rest were already there)" } else { "" }
    );
    Ok(())
}

fn remove(db: &Path, args: &TagEditArgs) -> anyhow::Result<()> {
    let mut store = open_existing(db)?;
    let tracks = resolve_all(&store, &args.tracks)?;
    let ids: Vec<i64> = tracks.iter().map(|t| t.id).collect();
    let set = normalize_tag(&args.set)?;
    let sets = store.tag_sets()?;
    if !sets.contains(&set) {
        anyhow::bail!("no tag set named \"{set}\" (sets: {})", sets.join(", "));
    }
    let removed = store.remove_user_tags(&ids, &set, &args.tags)?;
    println!("removed {removed} tag(s) in set \"{set}\" from {} track(s)", ids.len());
    Ok(())
}

fn list(db: &Path, args: &TagListArgs) -> anyhow::Result<()> {
    let store = open_existing(db)?;
    let set = args.set.as_deref().map(normalize_tag).transpose()?;
    let sets = store.tag_sets()?;
    if let Some(s) = &set
        && !sets.contains(s)
    {
        anyhow::bail!("no tag set named \"{s}\" (sets: {})", sets.join(", "));
    }
    if args.tracks.is_empty() {
        let mut summary: BTreeMap<String, Vec<TagCountOut>> = BTreeMap::new();
        for name in sets.iter().filter(|n| set.as_ref().is_none_or(|s| s == *n)) {
            let counts = store.tag_counts(name)?;
            summary.insert(
                name.clone(),
                counts.into_iter().map(|(tag, tracks)| TagCountOut { tag, tracks }).collect(),
            );
        }
        if args.json {
            println!("{}", serde_json::to_string_pretty(&summary)?);
            return Ok(());
        }
        for (name, counts) in &summary {
            println!("{name} ({} tag(s))", counts.len());
            for c in counts {
                println!("  {:<24} {:>6} track(s)", c.tag, c.tracks);
            }
        }
        return Ok(());
    }
    let tracks = resolve_all(&store, &args.tracks)?;
    let mut out = Vec::with_capacity(tracks.len());
    for t in &tracks {
        let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (s, tag) in store.user_tags(t.id)? {
            if set.as_ref().is_none_or(|wanted| *wanted == s) {
                tags.entry(s).or_default().push(tag);
            }
        }
        out.push(TrackTagsOut { id: t.id, title: t.title.clone(), artist: t.artist.clone(), tags });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for (t, o) in tracks.iter().zip(&out) {
        println!("{:>6}  {}", t.id, describe(t));
        if o.tags.is_empty() {
            println!("        —");
        }
        for (s, tags) in &o.tags {
            println!("        {s}: {}", tags.join(", "));
        }
    }
    Ok(())
}
