//! Per-model-version outputs: clip and track vectors (little-endian f32
//! BLOBs), written together with the predicted tag scores (stored by
//! `store::tag_scores`). Every model version keeps its own rows so that
//! embedding with a new or fine-tuned model never destroys the old one, and
//! the user can switch back.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::tag_scores::{TagScore, TagWriter, delete_version};
use super::{Store, now_unix_s};
use crate::{Error, Result};

/// A model version known to the library.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelRow {
    /// Unique version string, e.g. "dpnn-init-0.1".
    pub version: String,
    /// Model name, e.g. "dpnn-init".
    pub name: String,
    /// The version this one was fine-tuned from, if any.
    pub parent: Option<String>,
    /// The model's configuration as JSON (architecture, vocabulary size...).
    pub config_json: String,
}

/// Everything a model computed for one track.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// One vector per clip, in clip order (L2-normalised).
    pub clip_vectors: Vec<Vec<f32>>,
    /// Mean of the clip vectors, re-normalised.
    pub track_vector: Vec<f32>,
    /// Mean tag scores over the clips.
    pub tags: Vec<TagScore>,
}

/// An embedding together with the model version that made it: what the
/// import's model stage attaches to a track before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOutput {
    /// The model version (must be registered with [`Store::register_model`]).
    pub model_version: String,
    /// The outputs.
    pub embedding: Embedding,
}

/// Encodes a vector as the little-endian f32 BLOB stored in SQLite.
pub fn vector_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Decodes a little-endian f32 BLOB; `None` when its length is not a multiple of 4.
pub fn blob_to_vector(b: &[u8]) -> Option<Vec<f32>> {
    if !b.len().is_multiple_of(4) {
        return None;
    }
    Some(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

fn corrupt_blob(track_id: i64) -> Error {
    Error::Invalid(format!("stored vector of track {track_id} is corrupt (length not a multiple of 4 bytes)"))
}

impl Store {
    /// Records a model version (idempotent), so vectors can reference it.
    pub fn register_model(&mut self, model: &ModelRow) -> Result<()> {
        self.conn.execute(
            "INSERT INTO models (version, name, parent, created_at, config_json) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (version) DO NOTHING",
            params![model.version, model.name, model.parent, now_unix_s(), model.config_json],
        )?;
        Ok(())
    }

    /// All registered model versions, oldest first.
    pub fn models(&self) -> Result<Vec<ModelRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT version, name, parent, config_json FROM models ORDER BY created_at, version",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ModelRow { version: r.get(0)?, name: r.get(1)?, parent: r.get(2)?, config_json: r.get(3)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The model version the library is mostly embedded with (most track
    /// vectors; the newest on a tie): what `similar`/`tags` use by default.
    pub fn latest_model_version(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT m.version FROM models m LEFT JOIN track_vectors v ON v.model_version = m.version
                 GROUP BY m.version ORDER BY COUNT(v.track_id) DESC, m.created_at DESC, m.version DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Writes embeddings for `model_version` in ONE transaction, replacing any
    /// earlier rows of the same (track, model version).
    pub fn write_embeddings(&mut self, model_version: &str, items: &[(i64, Embedding)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        let mut tags = TagWriter::default();
        for (track_id, embedding) in items {
            write_embedding(&tx, &mut tags, model_version, *track_id, embedding)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Track vectors of every present track for `model_version`, by track id.
    pub fn track_vectors(&self, model_version: &str) -> Result<Vec<(i64, Vec<f32>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT v.track_id, v.vector FROM track_vectors v JOIN tracks t ON t.id = v.track_id
             WHERE v.model_version = ?1 AND t.status = 'ok' ORDER BY v.track_id",
        )?;
        let rows =
            stmt.query_map(params![model_version], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, blob) = row?;
            out.push((id, blob_to_vector(&blob).ok_or_else(|| corrupt_blob(id))?));
        }
        Ok(out)
    }

    /// Ids of the present tracks that have a vector for `model_version`,
    /// ascending. Reads only the key index, not the vectors: how the map
    /// learns which tracks its cached layout must show.
    pub fn track_vector_ids(&self, model_version: &str) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT v.track_id FROM track_vectors v JOIN tracks t ON t.id = v.track_id
             WHERE v.model_version = ?1 AND t.status = 'ok' ORDER BY v.track_id",
        )?;
        let rows = stmt.query_map(params![model_version], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// One track's vector for `model_version`.
    pub fn track_vector(&self, track_id: i64, model_version: &str) -> Result<Option<Vec<f32>>> {
        let blob: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT vector FROM track_vectors WHERE track_id = ?1 AND model_version = ?2")?
            .query_row(params![track_id, model_version], |r| r.get(0))
            .optional()?;
        blob.map(|b| blob_to_vector(&b).ok_or_else(|| corrupt_blob(track_id))).transpose()
    }

    /// One track's clip vectors for `model_version`, in clip order.
    pub fn clip_vectors(&self, track_id: i64, model_version: &str) -> Result<Vec<Vec<f32>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT vector FROM clip_vectors WHERE track_id = ?1 AND model_version = ?2 ORDER BY clip_index",
        )?;
        let rows = stmt.query_map(params![track_id, model_version], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(blob_to_vector(&row?).ok_or_else(|| corrupt_blob(track_id))?);
        }
        Ok(out)
    }

    /// Present tracks that have clips but no vector for `model_version`: the
    /// work list of `tuneatlas embed`, which makes re-embedding resumable.
    pub fn tracks_without_vectors(&self, model_version: &str) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.id FROM tracks t WHERE t.status = 'ok'
               AND EXISTS (SELECT 1 FROM clips c WHERE c.track_id = t.id)
               AND NOT EXISTS (SELECT 1 FROM track_vectors v WHERE v.track_id = t.id AND v.model_version = ?1)
             ORDER BY t.id",
        )?;
        let rows = stmt.query_map(params![model_version], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Removes model version `version` and everything computed with it:
    /// clip and track vectors, predicted tags and its map layout. Returns
    /// how many track vectors went.
    ///
    /// Why: fine-tuning makes a new version per run; a run the user does not
    /// want to keep must be removable without touching any other version.
    /// Refused while another version names this one as its parent, so the
    /// lineage recorded in `models.parent` never points at nothing. Which
    /// version must never be deleted (the built-in one) is the caller's
    /// rule: the store does not know the model files.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown version or one that is a parent;
    /// database failures.
    pub fn delete_model(&mut self, version: &str) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let known: Option<String> = tx
            .query_row("SELECT version FROM models WHERE version = ?1", params![version], |r| r.get(0))
            .optional()?;
        if known.is_none() {
            return Err(Error::Invalid(format!("there is no model version \"{version}\" in this library")));
        }
        let children: Vec<String> = {
            let mut stmt = tx.prepare("SELECT version FROM models WHERE parent = ?1 ORDER BY version")?;
            let rows = stmt.query_map(params![version], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        if !children.is_empty() {
            return Err(Error::Invalid(format!(
                "model version {version} is the parent of {}: delete that first",
                children.join(", ")
            )));
        }
        tx.execute("DELETE FROM clip_vectors WHERE model_version = ?1", params![version])?;
        delete_version(&tx, version)?;
        let n = tx.execute("DELETE FROM track_vectors WHERE model_version = ?1", params![version])?;
        tx.execute("DELETE FROM map_coords WHERE model_version = ?1", params![version])?;
        tx.execute("DELETE FROM map_layouts WHERE model_version = ?1", params![version])?;
        tx.execute("DELETE FROM models WHERE version = ?1", params![version])?;
        tx.commit()?;
        Ok(n)
    }

    /// Number of track vectors stored for `model_version`.
    pub fn count_vectors(&self, model_version: &str) -> Result<usize> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM track_vectors WHERE model_version = ?1",
            params![model_version],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }
}

/// Writes one track's embedding inside an open transaction (shared by
/// `write_embeddings` and the import writer, which stores a new track and its
/// vectors atomically).
/// Fails when a vector or a tag score is NaN or infinite: a model fed
/// garbage must not write vectors that make every distance NaN, nor a NaN
/// score that SQLite would turn into NULL in a `NOT NULL` column.
pub(super) fn check_embedding(item: &Embedding) -> Result<()> {
    let vectors = item.clip_vectors.iter().chain(std::iter::once(&item.track_vector));
    if vectors.flatten().any(|v| !v.is_finite()) {
        return Err(Error::Invalid("the model's vector holds a value that is not a finite number".into()));
    }
    if let Some(t) = item.tags.iter().find(|t| !t.score.is_finite()) {
        return Err(Error::Invalid(format!(
            "the model's score for {}:{} is not a finite number ({})",
            t.category, t.tag, t.score
        )));
    }
    Ok(())
}

pub(super) fn write_embedding(
    tx: &rusqlite::Transaction<'_>,
    tags: &mut TagWriter,
    model_version: &str,
    id: i64,
    item: &Embedding,
) -> Result<()> {
    check_embedding(item)?;
    tx.prepare_cached("DELETE FROM clip_vectors WHERE track_id = ?1 AND model_version = ?2")?
        .execute(params![id, model_version])?;
    let mut clip = tx.prepare_cached(
        "INSERT INTO clip_vectors (track_id, clip_index, model_version, vector) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, v) in item.clip_vectors.iter().enumerate() {
        clip.execute(params![id, i as i64, model_version, vector_to_blob(v)])?;
    }
    tx.prepare_cached(
        "INSERT INTO track_vectors (track_id, model_version, vector) VALUES (?1, ?2, ?3)
         ON CONFLICT (track_id, model_version) DO UPDATE SET vector = excluded.vector",
    )?
    .execute(params![id, model_version, vector_to_blob(&item.track_vector)])?;
    tags.write(tx, model_version, id, &item.tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_little_endian() {
        let v = vec![1.0f32, -0.5, f32::MIN_POSITIVE, 3.25e7];
        let b = vector_to_blob(&v);
        assert_eq!(&b[..4], &1.0f32.to_le_bytes());
        assert_eq!(blob_to_vector(&b), Some(v));
        assert_eq!(blob_to_vector(&b[..5]), None);
    }
}
