//! Schema 6: the per-tag rows of `track_tags` become one BLOB per (track,
//! model version) in `tag_scores`. Rust, not SQL, because SQLite has no way
//! to turn REAL values into the f32 bytes of a BLOB.
//!
//! Lossless: each model version's vocabulary is every (category, tag) it has
//! a row for, in listing order; every row's score lands at its tag's
//! position (scores were written as f32, so the REAL converts back
//! exactly), and a position a track had no row for holds NaN, which reads
//! back as "no score" as before. `tests/it/tag_migration.rs` builds a
//! library with the old schema and checks every score after the upgrade.

use std::collections::HashMap;

use rusqlite::{Transaction, params};

use super::{NO_SCORE, Positions, encode, listing_order};
use crate::Result;

/// Converts the rows of `track_tags` (schema 5) into `tag_vocabulary` and
/// `tag_scores` (created by `006_tag_score_blobs.sql`), then drops
/// `track_tags`. Runs inside the migration's transaction.
pub(in crate::store) fn tag_rows_to_blobs(tx: &Transaction<'_>) -> Result<()> {
    let mut vocabularies: HashMap<String, Vec<(String, String)>> = HashMap::new();
    {
        let mut stmt = tx.prepare("SELECT DISTINCT model_version, category, tag FROM track_tags")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)))?;
        for row in rows {
            let (version, category, tag) = row?;
            vocabularies.entry(version).or_default().push((category, tag));
        }
    }
    let mut positions: HashMap<String, Positions> = HashMap::new();
    {
        let mut insert = tx.prepare(
            "INSERT INTO tag_vocabulary (model_version, position, category, tag) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (version, mut tags) in vocabularies {
            tags.sort_by(listing_order);
            let p = positions.entry(version.clone()).or_default();
            for (i, (category, tag)) in tags.iter().enumerate() {
                insert.execute(params![version, i as i64, category, tag])?;
                p.insert(category, tag, i);
            }
        }
    }
    {
        // Primary-key order: all rows of one (track, version) are adjacent.
        let mut select = tx.prepare(
            "SELECT track_id, model_version, category, tag, score FROM track_tags
             ORDER BY track_id, model_version, category, tag",
        )?;
        let mut insert =
            tx.prepare("INSERT INTO tag_scores (track_id, model_version, scores) VALUES (?1, ?2, ?3)")?;
        let mut rows = select.query([])?;
        let mut current: Option<(i64, String)> = None;
        let mut scores: Vec<f32> = Vec::new();
        let mut n_rows = 0usize;
        while let Some(r) = rows.next()? {
            let track_id: i64 = r.get(0)?;
            let version = r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
            if current.as_ref().is_none_or(|(id, v)| *id != track_id || v != version) {
                if let Some((id, v)) = current.take() {
                    insert.execute(params![id, v, encode(&scores)])?;
                }
                let len = positions.get(version).map_or(0, |p| p.len);
                scores.clear();
                scores.resize(len, NO_SCORE);
                current = Some((track_id, version.to_owned()));
            }
            let category = r.get_ref(2)?.as_str().map_err(rusqlite::Error::from)?;
            let tag = r.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?;
            let score = r.get::<_, f64>(4)? as f32;
            // Every (version, category, tag) is in the vocabulary built above.
            if let Some(p) = positions.get(version).and_then(|p| p.get(category, tag)) {
                scores[p] = score;
            }
            n_rows += 1;
        }
        if let Some((id, v)) = current {
            insert.execute(params![id, v, encode(&scores)])?;
        }
        tracing::info!("tag scores: {n_rows} rows converted to one row per track and model version");
    }
    tx.execute_batch("DROP TABLE track_tags")?;
    Ok(())
}
