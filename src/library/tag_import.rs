//! Bringing tags the user already has into their tag sets: a spreadsheet
//! (CSV) and the genre the files' own tags carry.
//!
//! Why: fine-tuning learns from user tags, and most people who care already
//! keep them somewhere — a spreadsheet of moods, or genres in their files.
//! Typing them again track by track would stop them before they start.
//!
//! **CSV format** (UTF-8, a header row, comma-separated, quotes as usual):
//!
//! ```text
//! path,tags,tag_set
//! /music/a.flac,calm;late night,moods
//! b.ogg,dark,            ← relative paths are relative to the CSV's folder
//! ```
//!
//! or, instead of `path`, the two columns `artist` and `title` (matched
//! case-insensitively, ignoring repeated spaces). `tags` holds one or more
//! tags separated by `;`. `tag_set` (or `set`) is optional: a row without
//! one goes to the set the caller names. Column order does not matter; other
//! columns are ignored. A bad row (unknown track, an ambiguous artist/title,
//! no tags) is reported with its line number and the rest carries on; all
//! good rows are written, each tag set and tag in one transaction.
//!
//! **Genres**: the importer stores each file's genre tag (`tracks.genre`);
//! [`import_genre_tags`] copies them into a tag set (several genres in one
//! field, separated by `;`, `,` or `/`, become several tags).
//!
//! **Comments**: some people keep tags in the comment field ("chill; late
//! night" or "#rainy #piano"). Comments are not stored at import (most are
//! rip notes or URLs), so [`import_comment_tags`] reads each file's tags
//! again (no audio is decoded) and keeps the parts that look like tags
//! ([`comment_tags`]); a file that cannot be read is reported by name and
//! the rest carries on.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::store::{Store, TagSource, TrackRow, normalize_tag};
use crate::{Error, Result};

/// A CSV row that was skipped, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RowProblem {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// What was wrong, for the user.
    pub reason: String,
}

/// What a tag import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TagImportReport {
    /// Rows (or tracks, for genres) that were read.
    pub rows_read: usize,
    /// Distinct tracks that got at least one tag written or confirmed.
    pub tracks_tagged: usize,
    /// (track, set, tag) triples that were new.
    pub tags_added: usize,
    /// Tag sets written to, sorted.
    pub sets: Vec<String>,
    /// Skipped rows, in file order.
    pub problems: Vec<RowProblem>,
}

/// Collapses case and whitespace for artist/title matching.
fn key(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Where each present track can be found: by path (as stored and
/// canonicalised) and by (artist, title).
struct TrackIndex {
    by_path: HashMap<PathBuf, i64>,
    by_name: HashMap<(String, String), Vec<i64>>,
}

impl TrackIndex {
    fn new(tracks: &[TrackRow]) -> TrackIndex {
        let mut by_path = HashMap::new();
        let mut by_name: HashMap<(String, String), Vec<i64>> = HashMap::new();
        for t in tracks {
            by_path.insert(t.path.clone(), t.id);
            if let Ok(c) = t.path.canonicalize() {
                by_path.insert(c, t.id);
            }
            if let Some(a) = &t.artist {
                by_name.entry((key(a), key(&t.title))).or_default().push(t.id);
            }
        }
        TrackIndex { by_path, by_name }
    }

    fn by_path(&self, base: &Path, raw: &str) -> std::result::Result<i64, String> {
        let p = Path::new(raw.trim());
        let p = if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
        if let Some(&id) = self.by_path.get(&p) {
            return Ok(id);
        }
        match p.canonicalize() {
            Ok(c) => self.by_path.get(&c).copied().ok_or_else(|| {
                format!("this file is not in the library (import its folder first): {}", c.display())
            }),
            Err(_) => Err(format!("no such file in the library or on disk: {}", p.display())),
        }
    }

    fn by_name(&self, artist: &str, title: &str) -> std::result::Result<i64, String> {
        match self.by_name.get(&(key(artist), key(title))).map(Vec::as_slice) {
            None | Some([]) => Err(format!("no track \"{artist} - {title}\" in the library")),
            Some([one]) => Ok(*one),
            Some(many) => Err(format!(
                "\"{artist} - {title}\" names {} tracks (ids {}); use a path column instead",
                many.len(),
                many.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

/// Splits a tag cell on `separators`, normalising each piece and dropping
/// empty ones (a trailing `;` is not an error).
fn split_tags(cell: &str, separators: &[char]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in cell.split(separators) {
        if let Ok(t) = normalize_tag(piece)
            && !out.contains(&t)
        {
            out.push(t);
        }
    }
    out
}

/// Writes grouped tags: one `add_user_tags` call (one transaction) per
/// (set, tag). Returns the number of new (track, tag) pairs.
fn write_groups(
    store: &mut Store,
    groups: &BTreeMap<(String, String), Vec<i64>>,
    source: TagSource,
) -> Result<usize> {
    let mut added = 0;
    for ((set, tag), ids) in groups {
        let mut ids = ids.clone();
        ids.sort_unstable();
        ids.dedup();
        added += store.add_user_tags(&ids, set, &[tag], source)?;
    }
    Ok(added)
}

fn summarise(groups: &BTreeMap<(String, String), Vec<i64>>, report: &mut TagImportReport) {
    let mut tracks: Vec<i64> = groups.values().flatten().copied().collect();
    tracks.sort_unstable();
    tracks.dedup();
    report.tracks_tagged = tracks.len();
    let mut sets: Vec<String> = groups.keys().map(|(s, _)| s.clone()).collect();
    sets.dedup();
    report.sets = sets;
}

/// Imports tags from the CSV file `csv_path` (format in the module docs)
/// into the library; rows without a `tag_set` column go to `default_set`.
///
/// # Errors
/// The file cannot be read, has no header, lacks a `tags` column or both
/// `path` and `artist`+`title`, or a database write fails. Bad rows are not
/// errors: they are listed in [`TagImportReport::problems`].
pub fn import_tags_csv(store: &mut Store, csv_path: &Path, default_set: &str) -> Result<TagImportReport> {
    let default_set = normalize_tag(default_set)?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(csv_path)
        .map_err(|e| csv_error(e, csv_path))?;
    let headers = reader.headers().map_err(|e| csv_error(e, csv_path))?.clone();
    let col = |names: &[&str]| headers.iter().position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)));
    let tags_col = col(&["tags", "tag"]).ok_or_else(|| {
        Error::Invalid(format!(
            "the CSV has no \"tags\" column (header: {}): {}",
            headers.iter().collect::<Vec<_>>().join(","),
            csv_path.display()
        ))
    })?;
    let path_col = col(&["path", "file"]);
    let name_cols = col(&["artist"]).zip(col(&["title"]));
    if path_col.is_none() && name_cols.is_none() {
        return Err(Error::Invalid(format!(
            "the CSV needs a \"path\" column or both \"artist\" and \"title\" columns: {}",
            csv_path.display()
        )));
    }
    let set_col = col(&["tag_set", "set"]);
    let base = csv_path.parent().map(Path::to_path_buf).unwrap_or_default();
    let index = TrackIndex::new(&store.tracks(false)?);

    let mut report = TagImportReport::default();
    let mut groups: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                report.problems.push(RowProblem { line, reason: format!("unreadable row: {e}") });
                continue;
            }
        };
        report.rows_read += 1;
        let line = record.position().map_or(0, csv::Position::line);
        let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").trim();
        let track = match (cell(path_col), name_cols) {
            (p, _) if !p.is_empty() => index.by_path(&base, p),
            (_, Some((a, t))) if !cell(Some(a)).is_empty() && !cell(Some(t)).is_empty() => {
                index.by_name(cell(Some(a)), cell(Some(t)))
            }
            _ => Err("no path (or artist and title) in this row".to_string()),
        };
        let track = match track {
            Ok(id) => id,
            Err(reason) => {
                report.problems.push(RowProblem { line, reason });
                continue;
            }
        };
        let tags = split_tags(cell(Some(tags_col)), &[';']);
        if tags.is_empty() {
            report.problems.push(RowProblem { line, reason: "no tags in this row".into() });
            continue;
        }
        let set = match cell(set_col) {
            "" => default_set.clone(),
            s => match normalize_tag(s) {
                Ok(s) => s,
                Err(e) => {
                    report.problems.push(RowProblem { line, reason: e.to_string() });
                    continue;
                }
            },
        };
        for tag in tags {
            groups.entry((set.clone(), tag)).or_default().push(track);
        }
    }
    report.tags_added = write_groups(store, &groups, TagSource::Csv)?;
    summarise(&groups, &mut report);
    Ok(report)
}

fn csv_error(e: csv::Error, path: &Path) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::Io { op: "read", path: path.to_path_buf(), source },
        other => Error::Invalid(format!("cannot read the CSV ({other:?}): {}", path.display())),
    }
}

/// Copies every present track's stored genre tag into the tag set `set`
/// (see the module docs for how multi-genre fields are split). Tracks
/// without a genre are counted in [`TagImportReport::rows_read`] but get
/// nothing.
///
/// # Errors
/// A bad set name or a database failure.
pub fn import_genre_tags(store: &mut Store, set: &str) -> Result<TagImportReport> {
    let set = normalize_tag(set)?;
    let tracks = store.tracks(false)?;
    let mut report = TagImportReport { rows_read: tracks.len(), ..TagImportReport::default() };
    let mut groups: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for t in &tracks {
        for tag in split_tags(t.genre.as_deref().unwrap_or(""), &[';', ',', '/']) {
            groups.entry((set.clone(), tag)).or_default().push(t.id);
        }
    }
    report.tags_added = write_groups(store, &groups, TagSource::File)?;
    summarise(&groups, &mut report);
    Ok(report)
}

/// Longest comment part (in characters) still taken as a tag.
const MAX_COMMENT_TAG_CHARS: usize = 32;

/// Most words a comment part may have to be taken as a tag.
const MAX_COMMENT_TAG_WORDS: usize = 3;

/// The tag-like parts of a comment: split at `;`, `,`, line breaks and `#`,
/// keeping parts of at most three words and 32 characters that contain a
/// letter and are not links. Why so strict: comments are mostly prose,
/// rip notes ("Ripped with EAC 1.6") or URLs, which must not become tags.
pub fn comment_tags(comment: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in comment.split([';', ',', '\n', '\r', '#']) {
        let piece = piece.trim();
        let lower = piece.to_lowercase();
        let looks_like_tag = piece.chars().count() <= MAX_COMMENT_TAG_CHARS
            && piece.split_whitespace().count() <= MAX_COMMENT_TAG_WORDS
            && piece.chars().any(char::is_alphabetic)
            && !lower.contains("://")
            && !lower.starts_with("www.");
        if looks_like_tag
            && let Ok(t) = normalize_tag(piece)
            && !out.contains(&t)
        {
            out.push(t);
        }
    }
    out
}

/// Reads every present track's comment field and adds its tag-like parts
/// ([`comment_tags`]) to `set`, with source "file". Files that cannot be
/// opened are listed in `problems` (line 0, the reason naming the file);
/// `cancel` stops between files, keeping what was read so far unwritten.
///
/// # Errors
/// An invalid set name, [`Error::Cancelled`], or a store failure.
pub fn import_comment_tags(
    store: &mut Store,
    set: &str,
    cancel: &crate::jobs::CancelToken,
) -> Result<TagImportReport> {
    let set = normalize_tag(set)?;
    let tracks = store.tracks(false)?;
    let mut report = TagImportReport { rows_read: tracks.len(), ..TagImportReport::default() };
    let mut groups: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for t in &tracks {
        cancel.check()?;
        match crate::audio::AudioFile::open(&t.path) {
            Ok(file) => {
                for tag in comment_tags(file.info().tags.comment.as_deref().unwrap_or("")) {
                    groups.entry((set.clone(), tag)).or_default().push(t.id);
                }
            }
            Err(e) => report.problems.push(RowProblem { line: 0, reason: e.to_string() }),
        }
    }
    report.tags_added = write_groups(store, &groups, TagSource::File)?;
    summarise(&groups, &mut report);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_give_only_tag_like_parts() {
        assert_eq!(
            comment_tags("Chill; late night, #rainy #Piano"),
            ["chill", "late night", "rainy", "piano"]
        );
        assert!(comment_tags("Ripped with Exact Audio Copy 1.6 from the original CD").is_empty());
        assert!(comment_tags("https://example.org/album ; www.example.org").is_empty());
        assert_eq!(comment_tags("1999; 42; dub"), ["dub"]);
        assert!(comment_tags("").is_empty());
    }

    #[test]
    fn tag_cells_split_and_normalise() {
        assert_eq!(split_tags(" Calm ; late  night;;CALM;", &[';']), ["calm", "late night"]);
        assert_eq!(split_tags("Rock/Pop, Jazz", &[';', ',', '/']), ["rock", "pop", "jazz"]);
        assert!(split_tags(" ; ", &[';']).is_empty());
    }
}
