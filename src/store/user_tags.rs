//! Tags the user gives tracks, grouped in named tag sets.
//!
//! Why a store module of its own: user tags are the one thing in the library
//! that a person typed, so they must survive re-imports, moves and
//! re-embedding (they hang off the stable track id, not a file or a model
//! version), and they are the labels fine-tuning learns from. Sets ("tags",
//! "moods", "occasions"...) keep unrelated vocabularies apart, so a user can
//! train on one of them or combine several later.
//!
//! Tags and set names are normalised before they are stored — trimmed, lower
//! case, inner whitespace collapsed to one space — so "Late  Night" and "late
//! night" are one tag. An empty tag is refused with an error rather than
//! stored.

use std::str::FromStr;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::{Store, now_unix_s};
use crate::{Error, Result};

/// The tag set used when none is named (created by the migration).
pub const DEFAULT_TAG_SET: &str = "tags";

/// Where a user tag came from; kept so that a re-import of file tags or a
/// CSV can be told apart from, and never silently overwrite, what the user
/// typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TagSource {
    /// Typed by the user (app or CLI).
    User,
    /// Read from the audio file's own tags.
    File,
    /// Imported from a spreadsheet.
    Csv,
}

impl TagSource {
    /// The value stored in `user_tags.source`.
    pub fn as_str(self) -> &'static str {
        match self {
            TagSource::User => "user",
            TagSource::File => "file",
            TagSource::Csv => "csv",
        }
    }
}

impl FromStr for TagSource {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "user" => Ok(TagSource::User),
            "file" => Ok(TagSource::File),
            "csv" => Ok(TagSource::Csv),
            other => Err(Error::Invalid(format!("unknown tag source \"{other}\" (user, file or csv)"))),
        }
    }
}

/// Normalises a tag or tag-set name: trimmed, lower case, runs of
/// whitespace collapsed to one space. Fails on a name that is empty after
/// that, so a stray comma in a tag list never becomes a tag.
pub fn normalize_tag(raw: &str) -> Result<String> {
    let tag = raw.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    if tag.is_empty() {
        return Err(Error::Invalid(format!("a tag cannot be empty (got \"{}\")", raw.escape_debug())));
    }
    Ok(tag)
}

/// Normalises every tag, dropping duplicates that only differed in spelling.
fn normalize_all<S: AsRef<str>>(tags: &[S]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for raw in tags {
        let tag = normalize_tag(raw.as_ref())?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// Fails unless every id names a stored track, naming the first that does
/// not (the foreign key would only say "constraint failed").
fn check_tracks(tx: &Transaction<'_>, track_ids: &[i64]) -> Result<()> {
    let mut exists = tx.prepare_cached("SELECT 1 FROM tracks WHERE id = ?1")?;
    for &id in track_ids {
        if exists.query_row(params![id], |_| Ok(())).optional()?.is_none() {
            return Err(Error::Invalid(format!("no track with id {id} in the library")));
        }
    }
    Ok(())
}

/// The id of a (normalised) set name, if it exists.
fn set_id(tx: &Transaction<'_>, name: &str) -> Result<Option<i64>> {
    Ok(tx
        .prepare_cached("SELECT id FROM tag_sets WHERE name = ?1")?
        .query_row(params![name], |r| r.get(0))
        .optional()?)
}

impl Store {
    /// Gives every track in `track_ids` every tag in `tags`, in the tag set
    /// `set` (created when new), in one transaction. Tags a track already has
    /// in that set are left as they are (with their first source and time).
    /// Returns how many (track, tag) pairs were new. Fails — writing nothing
    /// — on an empty tag or set name, or an id that names no track.
    pub fn add_user_tags<S: AsRef<str>>(
        &mut self,
        track_ids: &[i64],
        set: &str,
        tags: &[S],
        source: TagSource,
    ) -> Result<usize> {
        let set = normalize_tag(set)?;
        let tags = normalize_all(tags)?;
        let tx = self.conn.transaction()?;
        check_tracks(&tx, track_ids)?;
        tx.prepare_cached("INSERT INTO tag_sets (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")?
            .execute(params![set])?;
        let set_id = set_id(&tx, &set)?
            .ok_or_else(|| Error::Invalid(format!("tag set \"{set}\" vanished while adding to it")))?;
        let now = now_unix_s();
        let mut added = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO user_tags (track_id, set_id, tag, source, added_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (track_id, set_id, tag) DO NOTHING",
            )?;
            for &track_id in track_ids {
                for tag in &tags {
                    added += insert.execute(params![track_id, set_id, tag, source.as_str(), now])?;
                }
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// Takes every tag in `tags` off every track in `track_ids`, in the set
    /// `set`, in one transaction. Returns how many (track, tag) pairs were
    /// removed (0 when the set does not exist). The set itself stays, even
    /// when it becomes empty.
    pub fn remove_user_tags<S: AsRef<str>>(
        &mut self,
        track_ids: &[i64],
        set: &str,
        tags: &[S],
    ) -> Result<usize> {
        let set = normalize_tag(set)?;
        let tags = normalize_all(tags)?;
        let tx = self.conn.transaction()?;
        let Some(set_id) = set_id(&tx, &set)? else {
            return Ok(0);
        };
        let mut removed = 0;
        {
            let mut delete =
                tx.prepare_cached("DELETE FROM user_tags WHERE track_id = ?1 AND set_id = ?2 AND tag = ?3")?;
            for &track_id in track_ids {
                for tag in &tags {
                    removed += delete.execute(params![track_id, set_id, tag])?;
                }
            }
        }
        tx.commit()?;
        Ok(removed)
    }

    /// One track's user tags as (set, tag) pairs, ordered by set then tag.
    pub fn user_tags(&self, track_id: i64) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.name, u.tag FROM user_tags u JOIN tag_sets s ON s.id = u.set_id
             WHERE u.track_id = ?1 ORDER BY s.name, u.tag",
        )?;
        let rows = stmt.query_map(params![track_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Every user tag as (track id, set, tag), ordered by track, set, tag;
    /// only those of the set `set` when given (its name is normalised; an
    /// unknown set gives an empty list). Tracks whose files are missing are
    /// included: their tags are kept for when the file comes back. This is
    /// what fine-tuning and the exports read.
    pub fn all_user_tags(&self, set: Option<&str>) -> Result<Vec<(i64, String, String)>> {
        let set = set.map(normalize_tag).transpose()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT u.track_id, s.name, u.tag FROM user_tags u JOIN tag_sets s ON s.id = u.set_id
             WHERE ?1 IS NULL OR s.name = ?1 ORDER BY u.track_id, s.name, u.tag",
        )?;
        let rows = stmt.query_map(params![set], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The names of all tag sets, alphabetically (the default set
    /// [`DEFAULT_TAG_SET`] always exists, even when empty).
    pub fn tag_sets(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached("SELECT name FROM tag_sets ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The tags of the set `set` with how many tracks carry each, most used
    /// first (then alphabetically): the GUI's tag list and the CLI's summary.
    /// An unknown set gives an empty list.
    pub fn tag_counts(&self, set: &str) -> Result<Vec<(String, usize)>> {
        let set = normalize_tag(set)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT u.tag, COUNT(*) AS n FROM user_tags u JOIN tag_sets s ON s.id = u.set_id
             WHERE s.name = ?1 GROUP BY u.tag ORDER BY n DESC, u.tag",
        )?;
        let rows = stmt.query_map(params![set], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as usize)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised_and_empty_ones_refused() {
        assert_eq!(normalize_tag("  Late \t Night\n").expect("tag"), "late night");
        assert_eq!(normalize_tag("ÉTÉ").expect("tag"), "été");
        assert!(normalize_tag(" \t ").expect_err("empty").to_string().contains("cannot be empty"));
        assert_eq!(normalize_all(&["Calm", "calm ", "Dark"]).expect("tags"), ["calm", "dark"]);
        assert_eq!("csv".parse::<TagSource>().expect("source"), TagSource::Csv);
        assert!("mp3".parse::<TagSource>().is_err());
    }
}
