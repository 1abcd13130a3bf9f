//! The cached library map: one 2-d layout per model version (see
//! `crate::map`). A t-SNE run over a large library takes tens of seconds, so
//! its result is kept here and only extended (tracks "placed" next to their
//! neighbours) until a full recompute is due. Each write is one transaction,
//! so a crash never leaves half a layout behind.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::Store;
use crate::{Error, Result};

/// One track's position on the map, in the layout's normalised frame
/// ([-1, 1]², centred, aspect kept).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MapCoord {
    /// The track.
    pub track_id: i64,
    /// Horizontal position in [-1, 1].
    pub x: f32,
    /// Vertical position in [-1, 1].
    pub y: f32,
    /// False when t-SNE laid the track out; true when it was placed later
    /// next to its nearest neighbours (the GUI may show it differently, and
    /// the recompute policy counts these).
    pub placed: bool,
}

/// A layout as stored for one model version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLayout {
    /// The model version whose vectors were laid out.
    pub model_version: String,
    /// The layout parameters asked for, as JSON: a later request with other
    /// parameters recomputes instead of reusing this layout.
    pub params_json: String,
    /// When the t-SNE run finished (seconds since the Unix epoch).
    pub computed_at_unix_s: i64,
    /// Tracks laid out by t-SNE itself (placed tracks not counted).
    pub n_tracks: usize,
    /// How long the full computation took, in seconds.
    pub compute_s: f64,
    /// Every coordinate, t-SNE and placed, ordered by track id.
    pub coords: Vec<MapCoord>,
}

/// Inserts a coordinate unless its track has been deleted meanwhile (a
/// layout computed from a snapshot must not fail because the library moved on).
const INSERT_COORD: &str = "INSERT INTO map_coords (model_version, track_id, x, y, placed)
     SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM tracks WHERE id = ?2)
     ON CONFLICT (model_version, track_id) DO UPDATE SET x = excluded.x, y = excluded.y, placed = excluded.placed";

impl Store {
    /// Replaces the layout of `layout.model_version` (header and every
    /// coordinate) in ONE transaction. Coordinates of tracks that no longer
    /// exist are skipped. The model version must be registered.
    pub fn save_layout(&mut self, layout: &StoredLayout) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM map_coords WHERE model_version = ?1", params![layout.model_version])?;
        tx.execute(
            "INSERT INTO map_layouts (model_version, params_json, computed_at, n_tracks, compute_s)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (model_version) DO UPDATE SET params_json = excluded.params_json,
                 computed_at = excluded.computed_at, n_tracks = excluded.n_tracks, compute_s = excluded.compute_s",
            params![
                layout.model_version,
                layout.params_json,
                layout.computed_at_unix_s,
                layout.n_tracks as i64,
                layout.compute_s
            ],
        )?;
        {
            let mut insert = tx.prepare_cached(INSERT_COORD)?;
            for c in &layout.coords {
                insert.execute(params![layout.model_version, c.track_id, c.x, c.y, c.placed])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The stored layout of `model_version`, or `None` when none was computed.
    pub fn load_layout(&self, model_version: &str) -> Result<Option<StoredLayout>> {
        let header = self
            .conn
            .query_row(
                "SELECT params_json, computed_at, n_tracks, compute_s FROM map_layouts WHERE model_version = ?1",
                params![model_version],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, f64>(3)?)),
            )
            .optional()?;
        let Some((params_json, computed_at_unix_s, n_tracks, compute_s)) = header else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT track_id, x, y, placed FROM map_coords WHERE model_version = ?1 ORDER BY track_id",
        )?;
        let coords = stmt
            .query_map(params![model_version], |r| {
                Ok(MapCoord {
                    track_id: r.get(0)?,
                    x: r.get::<_, f64>(1)? as f32,
                    y: r.get::<_, f64>(2)? as f32,
                    placed: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Some(StoredLayout {
            model_version: model_version.to_string(),
            params_json,
            computed_at_unix_s,
            n_tracks: usize::try_from(n_tracks).unwrap_or(0),
            compute_s,
            coords,
        }))
    }

    /// Adds (or moves) coordinates of tracks placed after the t-SNE run, in
    /// ONE transaction; returns how many were written (tracks deleted
    /// meanwhile are skipped). Fails when `model_version` has no stored
    /// layout: placed points only mean something in an existing frame.
    pub fn add_placed_coords(&mut self, model_version: &str, coords: &[MapCoord]) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM map_layouts WHERE model_version = ?1)",
            params![model_version],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(Error::Invalid(format!(
                "no map layout stored for model {model_version}: compute one before placing tracks on it"
            )));
        }
        let mut written = 0;
        {
            let mut insert = tx.prepare_cached(INSERT_COORD)?;
            for c in coords {
                written += insert.execute(params![model_version, c.track_id, c.x, c.y, c.placed])?;
            }
        }
        tx.commit()?;
        Ok(written)
    }
}
