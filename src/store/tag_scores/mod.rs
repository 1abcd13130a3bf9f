//! Predicted tag scores: one row per (track, model version) holding all of
//! the track's scores as a little-endian f32 BLOB, each at its tag's
//! position in the model version's vocabulary (`tag_vocabulary`, stored once
//! per version). Every read and write of predicted tag scores goes through
//! this module.
//!
//! Why one row and not one per tag: the window reads every score of the
//! library at each start (map colours, the table's genre and mood columns,
//! the explanations of similar tracks). At 74 tags a 50k-track library held
//! 3.7 M rows, and reading them was most of the time from start to map; one
//! BLOB per track is 50k rows.
//!
//! Why NaN marks a position without a score: a track may lack a tag (one the
//! model never stores, or one added to the vocabulary after the track was
//! written), and a missing score must stay distinguishable from a score of 0
//! so that reading back returns exactly what was written. Scores are checked
//! to be finite before they are written (`check_embedding`), so NaN has no
//! other meaning.
//!
//! The vocabulary only grows: a position, once given to a tag, keeps it, so
//! a BLOB written earlier stays valid (shorter than the vocabulary: the
//! positions past its end have no score).

pub(super) mod migrate;

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use super::Store;
use crate::{Error, Result};

/// One predicted tag score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagScore {
    /// "genre", "style", "mood" or "theme".
    pub category: String,
    /// The tag, e.g. "ambient".
    pub tag: String,
    /// Sigmoid score in [0, 1].
    pub score: f32,
}

/// Tag scores of many tracks for one model version: rows are tracks (in
/// `track_ids` order, ascending), columns are `(category, tag)` pairs in
/// genre, style, mood, theme order. A tag a track has no stored score for
/// (e.g. one the model marks untaught) reads 0; a tag no listed track has a
/// score for has no column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TagMatrix {
    /// `(category, tag)` of each column.
    pub tags: Vec<(String, String)>,
    /// Track id of each row, ascending.
    pub track_ids: Vec<i64>,
    /// Row-major scores, `track_ids.len() × tags.len()`.
    pub scores: Vec<f32>,
}

impl TagMatrix {
    /// The row of `track_id`, if the track has scores.
    pub fn row(&self, track_id: i64) -> Option<&[f32]> {
        let i = self.track_ids.binary_search(&track_id).ok()?;
        let n = self.tags.len();
        self.scores.get(i * n..(i + 1) * n)
    }

    /// Column indices of one category, in column order.
    pub fn category_columns(&self, category: &str) -> Vec<usize> {
        self.tags.iter().enumerate().filter(|(_, (c, _))| c == category).map(|(i, _)| i).collect()
    }

    /// The strongest tag of `category` for `track_id` with its score.
    pub fn top_tag(&self, track_id: i64, category: &str) -> Option<(&str, f32)> {
        let row = self.row(track_id)?;
        self.tags
            .iter()
            .zip(row)
            .filter(|((c, _), _)| c == category)
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|((_, t), s)| (t.as_str(), *s))
    }
}

/// The value stored at a position that has no score.
const NO_SCORE: f32 = f32::NAN;

/// Where a category sorts: genre, style, mood, theme, then any other.
fn category_rank(category: &str) -> u8 {
    match category {
        "genre" => 0,
        "style" => 1,
        "mood" => 2,
        "theme" => 3,
        _ => 4,
    }
}

/// The order in which tags are listed everywhere: by category (genre,
/// style, mood, theme, others by name), then by tag.
fn listing_order(a: &(String, String), b: &(String, String)) -> std::cmp::Ordering {
    (category_rank(&a.0), &a.0, &a.1).cmp(&(category_rank(&b.0), &b.0, &b.1))
}

/// Encodes scores (NaN where there is none) as the stored BLOB.
fn encode(scores: &[f32]) -> Vec<u8> {
    scores.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// Decodes a stored BLOB of `track_id` against a vocabulary of
/// `vocabulary_len` tags, calling `each(position, score)` for every
/// position that has a score.
fn decode(
    blob: &[u8],
    vocabulary_len: usize,
    track_id: i64,
    model_version: &str,
    mut each: impl FnMut(usize, f32),
) -> Result<()> {
    if !blob.len().is_multiple_of(4) || blob.len() / 4 > vocabulary_len {
        return Err(Error::Invalid(format!(
            "the stored tag scores of track {track_id} for model {model_version} are corrupt \
             ({} bytes for a vocabulary of {vocabulary_len} tags)",
            blob.len()
        )));
    }
    for (position, bytes) in blob.chunks_exact(4).enumerate() {
        let score = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if !score.is_nan() {
            each(position, score);
        }
    }
    Ok(())
}

/// A model version's vocabulary as stored: `(category, tag)` by position.
fn read_vocabulary(conn: &Connection, model_version: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT position, category, tag FROM tag_vocabulary WHERE model_version = ?1 ORDER BY position",
    )?;
    let rows = stmt.query_map(params![model_version], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (position, category, tag) = row?;
        if position != out.len() as i64 {
            return Err(Error::Invalid(format!(
                "the tag vocabulary of model {model_version} is corrupt (position {position} where {} was due)",
                out.len()
            )));
        }
        out.push((category, tag));
    }
    Ok(out)
}

/// A vocabulary being written to: positions by category and tag.
#[derive(Debug, Default)]
struct Positions {
    len: usize,
    by_name: HashMap<String, HashMap<String, usize>>,
}

impl Positions {
    fn get(&self, category: &str, tag: &str) -> Option<usize> {
        self.by_name.get(category).and_then(|tags| tags.get(tag)).copied()
    }

    fn insert(&mut self, category: &str, tag: &str, position: usize) {
        self.by_name.entry(category.to_owned()).or_default().insert(tag.to_owned(), position);
        self.len = self.len.max(position + 1);
    }
}

/// Writes tag scores inside one transaction, reading each model version's
/// vocabulary once rather than once per track. Lives no longer than its
/// transaction: a vocabulary extended by a transaction that rolls back must
/// not be remembered.
#[derive(Debug, Default)]
pub(super) struct TagWriter {
    vocabularies: HashMap<String, Positions>,
}

impl TagWriter {
    /// Stores `scores` as the tag scores of `track_id` for `model_version`,
    /// replacing earlier ones; tags new to the version's vocabulary are
    /// added to it. No scores: the track's row goes.
    pub(super) fn write(
        &mut self,
        tx: &Transaction<'_>,
        model_version: &str,
        track_id: i64,
        scores: &[TagScore],
    ) -> Result<()> {
        let mut row = Vec::new();
        for s in scores {
            let position = self.position(tx, model_version, &s.category, &s.tag)?;
            if row.len() <= position {
                row.resize(position + 1, NO_SCORE);
            }
            row[position] = s.score;
        }
        self.store_row(tx, model_version, track_id, &row)
    }

    /// The position of `(category, tag)` in the vocabulary of
    /// `model_version`, added at the end when new.
    fn position(
        &mut self,
        tx: &Transaction<'_>,
        model_version: &str,
        category: &str,
        tag: &str,
    ) -> Result<usize> {
        if !self.vocabularies.contains_key(model_version) {
            let mut positions = Positions::default();
            for (i, (category, tag)) in read_vocabulary(tx, model_version)?.iter().enumerate() {
                positions.insert(category, tag, i);
            }
            self.vocabularies.insert(model_version.to_owned(), positions);
        }
        let Some(positions) = self.vocabularies.get_mut(model_version) else {
            return Err(Error::Invalid(format!("no tag vocabulary for model {model_version}")));
        };
        if let Some(p) = positions.get(category, tag) {
            return Ok(p);
        }
        let p = positions.len;
        tx.prepare_cached(
            "INSERT INTO tag_vocabulary (model_version, position, category, tag) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![model_version, p as i64, category, tag])?;
        positions.insert(category, tag, p);
        Ok(p)
    }

    /// Stores one track's scores by position (NaN: no score), replacing
    /// earlier ones; an empty row removes them.
    fn store_row(&self, tx: &Transaction<'_>, model_version: &str, track_id: i64, row: &[f32]) -> Result<()> {
        if row.is_empty() {
            tx.prepare_cached("DELETE FROM tag_scores WHERE track_id = ?1 AND model_version = ?2")?
                .execute(params![track_id, model_version])?;
            return Ok(());
        }
        tx.prepare_cached(
            "INSERT INTO tag_scores (track_id, model_version, scores) VALUES (?1, ?2, ?3)
             ON CONFLICT (track_id, model_version) DO UPDATE SET scores = excluded.scores",
        )?
        .execute(params![track_id, model_version, encode(row)])?;
        Ok(())
    }

    /// Copies every tag score of the library behind `source` into `tx`,
    /// giving each track the id `new_id` maps it to (tracks it maps to
    /// `None` are skipped). Each score moves to its tag's position in the
    /// target's vocabulary: two libraries may list one model's tags in
    /// different orders (one written by an import, one converted by the
    /// schema-6 migration), so positions are matched by name, never copied.
    /// Returns the number of rows copied.
    pub(super) fn copy_from(
        &mut self,
        source: &Connection,
        tx: &Transaction<'_>,
        new_id: impl Fn(i64) -> Option<i64>,
    ) -> Result<usize> {
        let versions: Vec<String> = {
            let mut stmt = source.prepare("SELECT DISTINCT model_version FROM tag_vocabulary ORDER BY 1")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut n = 0;
        for version in versions {
            let vocabulary = read_vocabulary(source, &version)?;
            let mut target_of = Vec::with_capacity(vocabulary.len());
            for (category, tag) in &vocabulary {
                target_of.push(self.position(tx, &version, category, tag)?);
            }
            let mut stmt = source.prepare(
                "SELECT track_id, scores FROM tag_scores WHERE model_version = ?1 ORDER BY track_id",
            )?;
            let mut rows = stmt.query(params![version])?;
            let mut row = Vec::new();
            while let Some(r) = rows.next()? {
                let track_id: i64 = r.get(0)?;
                let Some(id) = new_id(track_id) else { continue };
                let blob = r.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
                row.clear();
                decode(blob, vocabulary.len(), track_id, &version, |position, score| {
                    let p = target_of[position];
                    if row.len() <= p {
                        row.resize(p + 1, NO_SCORE);
                    }
                    row[p] = score;
                })?;
                self.store_row(tx, &version, id, &row)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Removes every tag score of a track (all model versions): its audio changed.
pub(super) fn delete_track(tx: &Transaction<'_>, track_id: i64) -> Result<()> {
    tx.prepare_cached("DELETE FROM tag_scores WHERE track_id = ?1")?.execute(params![track_id])?;
    Ok(())
}

/// Removes the tag scores and the vocabulary of a model version.
pub(super) fn delete_version(tx: &Transaction<'_>, model_version: &str) -> Result<()> {
    tx.execute("DELETE FROM tag_scores WHERE model_version = ?1", params![model_version])?;
    tx.execute("DELETE FROM tag_vocabulary WHERE model_version = ?1", params![model_version])?;
    Ok(())
}

impl Store {
    /// One track's predicted tags for `model_version`, strongest first within
    /// each category (categories in genre, style, mood, theme order).
    pub fn track_tags(&self, track_id: i64, model_version: &str) -> Result<Vec<TagScore>> {
        let blob: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT scores FROM tag_scores WHERE track_id = ?1 AND model_version = ?2")?
            .query_row(params![track_id, model_version], |r| r.get(0))
            .optional()?;
        let Some(blob) = blob else { return Ok(Vec::new()) };
        let vocabulary = read_vocabulary(&self.conn, model_version)?;
        let mut out = Vec::new();
        decode(&blob, vocabulary.len(), track_id, model_version, |position, score| {
            let (category, tag) = &vocabulary[position];
            out.push(TagScore { category: category.clone(), tag: tag.clone(), score });
        })?;
        out.sort_by(|a, b| {
            (category_rank(&a.category), &a.category)
                .cmp(&(category_rank(&b.category), &b.category))
                .then(b.score.total_cmp(&a.score))
                .then_with(|| a.tag.cmp(&b.tag))
        });
        Ok(out)
    }

    /// Every stored tag score of `model_version` for the present tracks as
    /// one dense matrix: what the map needs to colour 100k points by a tag,
    /// and the library table to show each track's top genre and mood,
    /// without one query per track. One row read per track.
    pub fn tag_matrix(&self, model_version: &str) -> Result<TagMatrix> {
        let vocabulary = read_vocabulary(&self.conn, model_version)?;
        let n_tags = vocabulary.len();
        // Column of each vocabulary position, in listing order.
        let mut order: Vec<usize> = (0..n_tags).collect();
        order.sort_by(|&a, &b| listing_order(&vocabulary[a], &vocabulary[b]));
        let mut column_of = vec![0usize; n_tags];
        for (column, &position) in order.iter().enumerate() {
            column_of[position] = column;
        }
        let mut used = vec![false; n_tags];
        let mut track_ids = Vec::new();
        let mut scores: Vec<f32> = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.track_id, s.scores FROM tag_scores s JOIN tracks t ON t.id = s.track_id
             WHERE s.model_version = ?1 AND t.status = 'ok' ORDER BY s.track_id",
        )?;
        let mut rows = stmt.query(params![model_version])?;
        while let Some(r) = rows.next()? {
            let track_id: i64 = r.get(0)?;
            let blob = r.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
            let start = scores.len();
            scores.resize(start + n_tags, 0.0);
            let row = &mut scores[start..];
            decode(blob, n_tags, track_id, model_version, |position, score| {
                row[column_of[position]] = score;
                used[position] = true;
            })?;
            track_ids.push(track_id);
        }
        let tags: Vec<(String, String)> = order.iter().map(|&p| vocabulary[p].clone()).collect();
        if used.iter().all(|&u| u) {
            return Ok(TagMatrix { tags, track_ids, scores });
        }
        // Tags no present track has a score for get no column.
        let keep: Vec<usize> = order.iter().enumerate().filter(|(_, p)| used[**p]).map(|(c, _)| c).collect();
        let scores =
            scores.chunks_exact(n_tags.max(1)).flat_map(|row| keep.iter().map(move |&c| row[c])).collect();
        let tags = keep.iter().map(|&c| tags[c].clone()).collect();
        Ok(TagMatrix { tags, track_ids, scores })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_keeps_scores_and_gaps_and_refuses_a_wrong_length() {
        let blob = encode(&[0.25, NO_SCORE, 0.0, 1.0]);
        let mut seen = Vec::new();
        decode(&blob, 5, 1, "v", |p, s| seen.push((p, s))).expect("decodes");
        assert_eq!(seen, [(0, 0.25), (2, 0.0), (3, 1.0)]);
        assert!(decode(&blob[..7], 5, 1, "v", |_, _| {}).is_err(), "not a multiple of 4 bytes");
        assert!(decode(&blob, 3, 1, "v", |_, _| {}).is_err(), "longer than the vocabulary");
    }
}
