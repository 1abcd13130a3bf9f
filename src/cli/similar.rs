//! `tuneatlas similar` and `tuneatlas tags`: the embedding, asked from the
//! command line — which tracks sound closest to this one, and what the model
//! hears in it. Tables for people, `--json` for scripts and tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use tuneatlas::browse::{
    CommonTag, DEFAULT_PER_ARTIST, LibrarySnapshot, SimilarOptions, closer_than_text, similar_to_many,
};
use tuneatlas::index::resolve_track;
use tuneatlas::store::TrackRow;

use super::common::{model_version, open_read_only};

/// The model's tag categories, in display order.
const CATEGORIES: [&str; 4] = ["genre", "style", "mood", "theme"];
/// Tags shown per category by `tuneatlas tags` without `--all`.
const TAGS_SHOWN: usize = 5;
/// Bar width (in character cells) of a score of 1.0.
const BAR_CELLS: f32 = 10.0;

/// Arguments of `tuneatlas similar`.
#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// The track: an id (see `tuneatlas tracks`), a file path, or "Artist - Title". Several
    /// tracks: the tracks nearest their centroid, none of them listed.
    #[arg(required = true, value_name = "TRACK")]
    pub tracks: Vec<String>,
    /// Also write the list as an M3U playlist to FILE.
    #[arg(long, value_name = "FILE")]
    pub m3u: Option<PathBuf>,
    /// How many similar tracks to list.
    #[arg(short = 'k', long = "count", default_value_t = 20)]
    pub k: usize,
    /// Leave out tracks from the query's album.
    #[arg(long)]
    pub exclude_same_album: bool,
    /// Leave out tracks by the query's artist.
    #[arg(long)]
    pub exclude_same_artist: bool,
    /// At most N tracks by one artist in any 10 consecutive results (0 = no cap).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PER_ARTIST)]
    pub per_artist: usize,
    /// Model version whose vectors to use (default: the one most of the library is embedded with).
    #[arg(long = "model", value_name = "VERSION")]
    pub model: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `tuneatlas tags`: one track's predicted tags, or `tags write`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct TagsArgs {
    /// `write`: write the predicted tags into the files (`tuneatlas tags write --help`).
    #[command(subcommand)]
    pub action: Option<super::tags_write::TagsAction>,
    /// The track: an id (see `tuneatlas tracks`), a file path, or "Artist - Title".
    #[arg(required = true, value_name = "TRACK")]
    pub track: Option<String>,
    /// Model version whose tag scores to show (default: the one most of the library is embedded with).
    #[arg(long = "model", value_name = "VERSION")]
    pub model: Option<String>,
    /// Show every tag, not just the strongest five per category.
    #[arg(long)]
    pub all: bool,
    /// Print JSON instead of bars.
    #[arg(long)]
    pub json: bool,
}

/// A track as the JSON output names it.
#[derive(Debug, Serialize)]
pub(super) struct TrackRef {
    id: i64,
    title: String,
    artist: Option<String>,
    album: Option<String>,
    path: String,
}

impl From<&TrackRow> for TrackRef {
    fn from(t: &TrackRow) -> Self {
        TrackRef {
            id: t.id,
            title: t.title.clone(),
            artist: t.artist.clone(),
            album: t.album.clone(),
            path: tuneatlas::text::shown(&t.path),
        }
    }
}

/// One line of `similar --json`.
#[derive(Debug, Serialize)]
struct SimilarRow {
    rank: usize,
    #[serde(flatten)]
    track: TrackRef,
    distance: f32,
    cosine_similarity: f32,
    /// Share of the library's pairs of tracks farther apart, in % (absent
    /// in a library of one pair or less).
    closer_than_percent: Option<f32>,
    /// The same share as the table says it ([`closer_than_text`]).
    #[serde(skip)]
    closer_text: String,
    common_tags: Vec<CommonTag>,
}

/// The whole `similar --json` output.
#[derive(Debug, Serialize)]
struct SimilarOutput {
    model_version: String,
    /// The first seed track.
    query: TrackRef,
    /// All seed tracks (the neighbours are those of their centroid).
    seeds: Vec<TrackRef>,
    excluded_same_album: bool,
    excluded_same_artist: bool,
    per_artist: usize,
    /// Pairs of tracks the distance percentiles were estimated from.
    sampled_pairs: usize,
    neighbors: Vec<SimilarRow>,
}

/// One category of `tags --json`.
#[derive(Debug, Serialize)]
struct CategoryTags {
    category: String,
    tags: Vec<TagOnly>,
}

/// A tag and its score, within a category.
#[derive(Debug, Serialize)]
struct TagOnly {
    tag: String,
    score: f32,
}

/// The whole `tags --json` output.
#[derive(Debug, Serialize)]
struct TagsOutput {
    model_version: String,
    track: TrackRef,
    categories: Vec<CategoryTags>,
}

/// Cuts `s` to `n` characters with an ellipsis.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n.saturating_sub(1)).collect::<String>())
    } else {
        s.to_string()
    }
}

pub(super) fn describe(t: &TrackRow) -> String {
    let mut s = match &t.artist {
        Some(a) => format!("{a} - {}", t.title),
        None => t.title.clone(),
    };
    if let Some(album) = &t.album {
        s.push_str(&format!(" ({album})"));
    }
    s
}

/// Fails with a message saying what to do when `track` has no usable vector.
pub(super) fn require_vector(
    snapshot: &LibrarySnapshot,
    track: &TrackRow,
    version: &str,
) -> anyhow::Result<()> {
    if snapshot.index.as_ref().is_some_and(|index| index.contains(track.id)) {
        return Ok(());
    }
    if snapshot.index.as_ref().is_some_and(|index| index.unusable_ids().contains(&track.id)) {
        anyhow::bail!(
            "the vector of track {} ({}) for model {version} is zero or not finite; re-embed it with `tuneatlas embed`",
            track.id,
            describe(track)
        );
    }
    anyhow::bail!(
        "no vector for track {} ({}) with model {version} — run `tuneatlas embed`{}",
        track.id,
        describe(track),
        if track.status == "missing" { " (its file is missing)" } else { "" }
    );
}

/// Lists the tracks closest to one track, or to the centroid of several.
pub fn similar(db: &Path, args: &SimilarArgs) -> anyhow::Result<()> {
    let store = open_read_only(db)?;
    let version = model_version(&store, args.model.as_deref())?;
    let seeds: Vec<TrackRow> =
        args.tracks.iter().map(|t| resolve_track(&store, t)).collect::<Result<_, _>>()?;
    let snapshot = LibrarySnapshot::from_store(&store, Some(&version))?;
    for seed in &seeds {
        require_vector(&snapshot, seed, &version)?;
    }
    let Some(query) = seeds.first().cloned() else { anyhow::bail!("name at least one track") };
    let options = SimilarOptions {
        exclude_same_album: args.exclude_same_album,
        exclude_same_artist: args.exclude_same_artist,
        per_artist: args.per_artist,
    };
    let seed_ids: Vec<i64> = seeds.iter().map(|t| t.id).collect();
    let neighbors = similar_to_many(&snapshot, &seed_ids, args.k, options)?;
    let tracks: HashMap<i64, &TrackRow> = snapshot.tracks.iter().map(|t| (t.id, t)).collect();
    let mut rows = Vec::with_capacity(neighbors.len());
    for (i, n) in neighbors.into_iter().enumerate() {
        // A vector always belongs to a present track; skip defensively.
        let Some(track) = tracks.get(&n.track_id) else { continue };
        rows.push(SimilarRow {
            rank: i + 1,
            track: TrackRef::from(*track),
            distance: n.distance,
            cosine_similarity: n.cosine_similarity,
            closer_than_percent: n.closer_than.map(|share| share * 100.0),
            closer_text: n.closer_than.map(closer_than_text).unwrap_or_default(),
            common_tags: n.common_tags,
        });
    }
    if let Some(m3u) = &args.m3u {
        let listed: Vec<TrackRow> =
            rows.iter().filter_map(|r| tracks.get(&r.track.id).map(|t| (*t).clone())).collect();
        let written = tuneatlas::export::write_m3u(&listed, m3u)?;
        eprintln!("wrote {written} tracks to {}", m3u.display());
    }
    if args.json {
        let out = SimilarOutput {
            model_version: version,
            query: TrackRef::from(&query),
            seeds: seeds.iter().map(TrackRef::from).collect(),
            excluded_same_album: args.exclude_same_album,
            excluded_same_artist: args.exclude_same_artist,
            per_artist: args.per_artist,
            sampled_pairs: snapshot.stats().sampled_pairs(),
            neighbors: rows,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let named: Vec<String> = seeds.iter().map(|t| format!("{}  {}", t.id, describe(t))).collect();
    println!(
        "Similar to {}   [model {version}, {} tracks with vectors]",
        named.join(" + "),
        snapshot.index.as_ref().map_or(0, |index| index.len())
    );
    println!(
        "{:>4} {:>8} {:<25} {:<28} {:<22} {:<24} both stand out on",
        "rank", "distance", "", "title", "artist", "album"
    );
    for r in &rows {
        let tags: Vec<&str> = r.common_tags.iter().map(|t| t.tag.as_str()).collect();
        println!(
            "{:>4} {:>8.3} {:<25} {:<28} {:<22} {:<24} {}",
            r.rank,
            r.distance,
            r.closer_text,
            cut(&r.track.title, 28),
            cut(r.track.artist.as_deref().unwrap_or("—"), 22),
            cut(r.track.album.as_deref().unwrap_or("—"), 24),
            if tags.is_empty() { "—".to_string() } else { tags.join(", ") }
        );
    }
    if rows.is_empty() {
        println!("(no other track with a vector passes the filters)");
    }
    Ok(())
}

/// A score as a bar of eighth blocks, e.g. 0.45 → "████▌".
fn bar(score: f32) -> String {
    const EIGHTHS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = (score.clamp(0.0, 1.0) * BAR_CELLS * 8.0).round() as usize;
    format!("{}{}", "█".repeat(eighths / 8), EIGHTHS[eighths % 8])
}

/// Shows a track's predicted tags by category.
pub fn tags(db: &Path, args: &TagsArgs) -> anyhow::Result<()> {
    let store = open_read_only(db)?;
    let version = model_version(&store, args.model.as_deref())?;
    let query = args
        .track
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("name a track (an id, a path or \"Artist - Title\")"))?;
    let track = resolve_track(&store, query)?;
    let scores = store.track_tags(track.id, &version)?;
    if scores.is_empty() {
        anyhow::bail!(
            "no tags for track {} ({}) with model {version} — run `tuneatlas embed`",
            track.id,
            describe(&track)
        );
    }
    let mut categories: Vec<String> = CATEGORIES.iter().map(|c| c.to_string()).collect();
    for s in &scores {
        if !categories.contains(&s.category) {
            categories.push(s.category.clone());
        }
    }
    let limit = if args.all { usize::MAX } else { TAGS_SHOWN };
    let grouped: Vec<CategoryTags> = categories
        .into_iter()
        .map(|category| {
            let mut tags: Vec<TagOnly> = scores
                .iter()
                .filter(|s| s.category == category)
                .map(|s| TagOnly { tag: s.tag.clone(), score: s.score })
                .collect();
            tags.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.tag.cmp(&b.tag)));
            tags.truncate(limit);
            CategoryTags { category, tags }
        })
        .collect();
    if args.json {
        let out = TagsOutput { model_version: version, track: TrackRef::from(&track), categories: grouped };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("{}  {}   [model {version}]", track.id, describe(&track));
    let width = grouped.iter().flat_map(|c| c.tags.iter().map(|t| t.tag.chars().count())).max().unwrap_or(0);
    for c in &grouped {
        println!("{}", c.category);
        if c.tags.is_empty() {
            println!("  —");
        }
        for t in &c.tags {
            println!(
                "  {:<width$}  {:<cells$} {:.2}",
                t.tag,
                bar(t.score),
                t.score,
                cells = BAR_CELLS as usize + 1
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_use_eighth_blocks() {
        assert_eq!(bar(0.0), "");
        assert_eq!(bar(0.45), "████▌");
        assert_eq!(bar(1.0), "██████████");
        assert_eq!(bar(7.0), "██████████");
        assert_eq!(bar(f32::NAN), "");
    }
}
