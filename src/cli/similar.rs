//! `tuneatlas similar` and `tuneatlas tags`: the embedding, asked from the
//! command line — which tracks sound closest to this one, and what the model
//! hears in it. Tables for people, `--json` for scripts and tests.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use clap::Args;
use serde::Serialize;
use tuneatlas::index::{Neighbor, VectorIndex, resolve_track};
use tuneatlas::store::{Store, TagScore, TrackRow};

/// A tag counts as shared when both tracks score it at least this high...
const SHARED_MIN_SCORE: f32 = 0.3;
/// ...or when it is among the strongest this many of its category in both
/// (and both score it at least `SHARED_FLOOR`: two near-zero scores are not
/// something the tracks share).
const SHARED_TOP_N: usize = 5;
/// See `SHARED_TOP_N`.
const SHARED_FLOOR: f32 = 0.05;
/// Shared tags shown per neighbour.
const SHARED_SHOWN: usize = 3;
/// The model's tag categories, in display order.
const CATEGORIES: [&str; 4] = ["genre", "style", "mood", "theme"];
/// Tags shown per category by `tuneatlas tags` without `--all`.
const TAGS_SHOWN: usize = 5;
/// Bar width (in character cells) of a score of 1.0.
const BAR_CELLS: f32 = 10.0;

/// Arguments of `tuneatlas similar`.
#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// The track: an id (see `tuneatlas tracks`), a file path, or "Artist - Title".
    pub track: String,
    /// How many similar tracks to list.
    #[arg(short = 'k', long = "count", default_value_t = 20)]
    pub k: usize,
    /// Leave out tracks from the query's album.
    #[arg(long)]
    pub exclude_same_album: bool,
    /// Leave out tracks by the query's artist.
    #[arg(long)]
    pub exclude_same_artist: bool,
    /// Model version whose vectors to use (default: the one most of the library is embedded with).
    #[arg(long = "model", value_name = "VERSION")]
    pub model: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `tuneatlas tags`.
#[derive(Debug, Args)]
pub struct TagsArgs {
    /// The track: an id (see `tuneatlas tracks`), a file path, or "Artist - Title".
    pub track: String,
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
struct TrackRef {
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

/// A tag both tracks have.
#[derive(Debug, Clone, Serialize)]
struct SharedTag {
    category: String,
    tag: String,
    score_query: f32,
    score_neighbor: f32,
}

/// One line of `similar --json`.
#[derive(Debug, Serialize)]
struct SimilarRow {
    rank: usize,
    #[serde(flatten)]
    track: TrackRef,
    distance: f32,
    cosine_similarity: f32,
    shared_tags: Vec<SharedTag>,
}

/// The whole `similar --json` output.
#[derive(Debug, Serialize)]
struct SimilarOutput {
    model_version: String,
    query: TrackRef,
    excluded_same_album: bool,
    excluded_same_artist: bool,
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

pub(super) fn open_existing(db: &Path) -> anyhow::Result<Store> {
    if !db.exists() {
        anyhow::bail!("no library yet at {} (run `tuneatlas import DIR` first)", tuneatlas::text::shown(db));
    }
    // Read-only: looking must never migrate, lock or otherwise change a library.
    Ok(Store::open_read_only(db)?)
}

/// The model version to use: the one asked for (which must exist), or the
/// one most of the library is embedded with; either must have vectors.
pub(super) fn model_version(store: &Store, requested: Option<&str>) -> anyhow::Result<String> {
    let version = match requested {
        Some(v) => {
            let models = store.models()?;
            if !models.iter().any(|m| m.version == v) {
                let known: Vec<&str> = models.iter().map(|m| m.version.as_str()).collect();
                anyhow::bail!(
                    "unknown model version {v} (known: {})",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                );
            }
            v.to_string()
        }
        None => store.latest_model_version()?.ok_or_else(|| {
            anyhow::anyhow!("no vectors yet: no model has embedded this library — run `tuneatlas embed`")
        })?,
    };
    if store.count_vectors(&version)? == 0 {
        anyhow::bail!("no vectors for model {version} — run `tuneatlas embed`");
    }
    Ok(version)
}

/// Lower case with whitespace runs collapsed: how names are compared.
fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

fn same_name(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if norm(a) == norm(b))
}

/// Same artist: both known and equal (ignoring case and spacing).
fn same_artist(a: &TrackRow, b: &TrackRow) -> bool {
    same_name(a.artist.as_deref(), b.artist.as_deref())
}

/// Same album: equal album names, and either the same album artist (or
/// artist, when there is no album artist) or the same folder — so two
/// different "Greatest Hits" are not one album, but a compilation whose
/// tracks have different artists still is.
fn same_album(a: &TrackRow, b: &TrackRow) -> bool {
    if !same_name(a.album.as_deref(), b.album.as_deref()) {
        return false;
    }
    let owner = |t: &TrackRow| t.album_artist.clone().or_else(|| t.artist.clone());
    same_name(owner(a).as_deref(), owner(b).as_deref()) || a.path.parent() == b.path.parent()
}

/// Tags both tracks have strongly (score ≥ 0.3 in both, or in the top 5 of
/// the category in both and not near zero), strongest first by the smaller
/// of the two scores.
fn shared_tags(query: &[TagScore], other: &[TagScore]) -> Vec<SharedTag> {
    let ranks = |tags: &[TagScore]| -> HashMap<(String, String), (f32, usize)> {
        let mut by_cat: HashMap<&str, Vec<&TagScore>> = HashMap::new();
        for t in tags {
            by_cat.entry(t.category.as_str()).or_default().push(t);
        }
        let mut out = HashMap::new();
        for list in by_cat.values_mut() {
            list.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.tag.cmp(&b.tag)));
            for (rank, t) in list.iter().enumerate() {
                out.insert((t.category.clone(), t.tag.clone()), (t.score, rank));
            }
        }
        out
    };
    let (q, o) = (ranks(query), ranks(other));
    let mut shared: Vec<SharedTag> = q
        .iter()
        .filter_map(|(key, &(sq, rq))| {
            let &(so, ro) = o.get(key)?;
            let strong = sq >= SHARED_MIN_SCORE && so >= SHARED_MIN_SCORE;
            let top = rq < SHARED_TOP_N && ro < SHARED_TOP_N && sq.min(so) >= SHARED_FLOOR;
            (strong || top).then(|| SharedTag {
                category: key.0.clone(),
                tag: key.1.clone(),
                score_query: sq,
                score_neighbor: so,
            })
        })
        .collect();
    shared.sort_by(|a, b| {
        b.score_query
            .min(b.score_neighbor)
            .total_cmp(&a.score_query.min(a.score_neighbor))
            .then_with(|| a.tag.cmp(&b.tag))
    });
    shared.truncate(SHARED_SHOWN);
    shared
}

/// Cuts `s` to `n` characters with an ellipsis.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n.saturating_sub(1)).collect::<String>())
    } else {
        s.to_string()
    }
}

fn describe(t: &TrackRow) -> String {
    let mut s = match &t.artist {
        Some(a) => format!("{a} - {}", t.title),
        None => t.title.clone(),
    };
    if let Some(album) = &t.album {
        s.push_str(&format!(" ({album})"));
    }
    s
}

/// Lists the tracks closest to one track.
pub fn similar(db: &Path, args: &SimilarArgs) -> anyhow::Result<()> {
    let store = open_existing(db)?;
    let version = model_version(&store, args.model.as_deref())?;
    let query = resolve_track(&store, &args.track)?;
    let index = VectorIndex::from_pairs(store.track_vectors(&version)?)?;
    if !index.contains(query.id) {
        if index.unusable_ids().contains(&query.id) {
            anyhow::bail!(
                "the vector of track {} ({}) for model {version} is zero or not finite; re-embed it with `tuneatlas embed`",
                query.id,
                describe(&query)
            );
        }
        anyhow::bail!(
            "no vector for track {} ({}) with model {version} — run `tuneatlas embed`{}",
            query.id,
            describe(&query),
            if query.status == "missing" { " (its file is missing)" } else { "" }
        );
    }
    let tracks: HashMap<i64, TrackRow> = store.tracks(true)?.into_iter().map(|t| (t.id, t)).collect();
    let excluded: HashSet<i64> = tracks
        .values()
        .filter(|t| {
            (args.exclude_same_album && same_album(&query, t))
                || (args.exclude_same_artist && same_artist(&query, t))
        })
        .map(|t| t.id)
        .collect();
    let neighbors: Vec<Neighbor> =
        index.top_k_by_id(query.id, args.k, |id| !excluded.contains(&id)).unwrap_or_default();
    let query_tags = store.track_tags(query.id, &version)?;
    let mut rows = Vec::with_capacity(neighbors.len());
    for (i, n) in neighbors.iter().enumerate() {
        // A vector always belongs to a stored track (foreign key); skip defensively.
        let Some(track) = tracks.get(&n.track_id) else { continue };
        rows.push(SimilarRow {
            rank: i + 1,
            track: TrackRef::from(track),
            distance: n.distance,
            cosine_similarity: n.cosine_similarity,
            shared_tags: shared_tags(&query_tags, &store.track_tags(n.track_id, &version)?),
        });
    }
    if args.json {
        let out = SimilarOutput {
            model_version: version,
            query: TrackRef::from(&query),
            excluded_same_album: args.exclude_same_album,
            excluded_same_artist: args.exclude_same_artist,
            neighbors: rows,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "Similar to {}  {}   [model {version}, {} tracks with vectors]",
        query.id,
        describe(&query),
        index.len()
    );
    println!("{:>4} {:>8}  {:<28} {:<22} {:<24} shared tags", "rank", "distance", "title", "artist", "album");
    for r in &rows {
        let tags: Vec<&str> = r.shared_tags.iter().map(|t| t.tag.as_str()).collect();
        println!(
            "{:>4} {:>8.3}  {:<28} {:<22} {:<24} {}",
            r.rank,
            r.distance,
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
    let store = open_existing(db)?;
    let version = model_version(&store, args.model.as_deref())?;
    let track = resolve_track(&store, &args.track)?;
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

    fn tag(category: &str, tag: &str, score: f32) -> TagScore {
        TagScore { category: category.into(), tag: tag.into(), score }
    }

    #[test]
    fn bars_use_eighth_blocks() {
        assert_eq!(bar(0.0), "");
        assert_eq!(bar(0.45), "████▌");
        assert_eq!(bar(1.0), "██████████");
        assert_eq!(bar(7.0), "██████████");
        assert_eq!(bar(f32::NAN), "");
    }

    #[test]
    fn shared_tags_need_both_tracks_and_rank_by_weaker_score() {
        let q = vec![
            tag("genre", "ambient", 0.9),
            tag("genre", "rock", 0.35),
            tag("mood", "calm", 0.6),
            tag("mood", "dark", 0.08),
            tag("mood", "sad", 0.02),
            tag("theme", "night", 0.8),
        ];
        let n = vec![
            tag("genre", "ambient", 0.4),
            tag("genre", "rock", 0.31),
            tag("mood", "calm", 0.7),
            tag("mood", "dark", 0.06),
            tag("mood", "sad", 0.01),
            tag("style", "drone", 0.9),
        ];
        let got: Vec<String> = shared_tags(&q, &n).into_iter().map(|t| t.tag).collect();
        // "dark" is weak but in both top 5s of its category; night/drone are
        // not in both, and "sad" is near zero in both.
        assert_eq!(got, vec!["calm", "ambient", "rock"]);
        let got: Vec<String> = shared_tags(&q[3..], &n[3..]).into_iter().map(|t| t.tag).collect();
        assert_eq!(got, vec!["dark"]);
        // Outside the top five and below 0.3: not shared.
        let a: Vec<TagScore> =
            (0..10).map(|i| tag("mood", &format!("m{i}"), 0.1 + 0.01 * i as f32)).collect();
        let mut b = a.clone();
        b.reverse();
        for (t, s) in b.iter_mut().zip(0..) {
            t.score = 0.1 + 0.01 * f32::from(s as u8);
        }
        let got: Vec<String> = shared_tags(&a, &b).into_iter().map(|t| t.tag).collect();
        assert!(got.is_empty(), "{got:?}");
    }
}
