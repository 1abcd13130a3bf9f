//! The library database: one SQLite file holding every track, its clip grid,
//! import runs, per-file errors and (per model version) vectors and tags.
//!
//! Why SQLite: a single file the user can back up, transactional writes so an
//! import killed at any instant leaves a consistent library, and WAL so the GUI
//! can read while an import writes. Schema changes are numbered SQL files
//! applied in order and recorded in `PRAGMA user_version`; a database written
//! by a newer tuneatlas is refused rather than risked.

mod lock;
mod map;
mod merge;
mod paths;
mod rows;
mod tag_scores;
mod user_tags;
mod vectors;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use paths::{path_column, path_to_sql};

use crate::{Error, Result};

pub use lock::{ImportLock, WhenBusy, lock_path};
pub use map::{MapCoord, StoredLayout};
pub use merge::{MergeSummary, MergedLibrary, merge_libraries};
pub use rows::{ClipRow, FileErrorRow, ImportCounts, KnownFile, RunStatus, TrackRecord, TrackRow, WriteOp};
pub use tag_scores::{TagMatrix, TagScore};
pub use user_tags::{DEFAULT_TAG_SET, TagSource, normalize_tag};
pub use vectors::{Embedding, ModelOutput, ModelRow, blob_to_vector, vector_to_blob};

/// One step of the schema: its SQL, then, where SQL alone cannot convert
/// the existing data, Rust code run in the same transaction.
struct Migration {
    sql: &'static str,
    convert: Option<fn(&rusqlite::Transaction<'_>) -> Result<()>>,
}

const fn sql(sql: &'static str) -> Migration {
    Migration { sql, convert: None }
}

/// The migrations, in order; migration `i` (0-based) moves the schema from
/// version `i` to `i + 1`.
const MIGRATIONS: &[Migration] = &[
    sql(include_str!("migrations/001_library.sql")),
    sql(include_str!("migrations/002_models.sql")),
    sql(include_str!("migrations/003_map.sql")),
    sql(include_str!("migrations/004_user_tags.sql")),
    sql(include_str!("migrations/005_path_bytes.sql")),
    Migration {
        sql: include_str!("migrations/006_tag_score_blobs.sql"),
        convert: Some(tag_scores::migrate::tag_rows_to_blobs),
    },
    sql(include_str!("migrations/007_vector_rows.sql")),
    sql(include_str!("migrations/008_import_shard.sql")),
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// An open library database. Not `Sync`: one thread (the import writer, or the
/// GUI's reader) owns each `Store`; open a second one for concurrent reading.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Seconds since the Unix epoch, for `added_at`/`updated_at` columns.
pub(crate) fn now_unix_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it to
    /// [`SCHEMA_VERSION`]. Fails with one clear error when the location is not
    /// writable, the file is not a SQLite database, or the schema is newer.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::DbOpen {
                reason: format!("cannot create folder {}: {e}", parent.display()),
                path: path.to_path_buf(),
            })?;
        }
        let open_err =
            |e: rusqlite::Error| Error::DbOpen { reason: describe_sqlite(&e), path: path.to_path_buf() };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(open_err)?;
        // A library from a newer tuneatlas is refused before anything below
        // changes the file (switching to WAL rewrites its header).
        let found: i64 =
            retry_while_busy(|| conn.query_row("PRAGMA user_version", [], |r| r.get(0))).map_err(open_err)?;
        if found > SCHEMA_VERSION {
            return Err(Error::DbTooNew { found, supported: SCHEMA_VERSION, path: path.to_path_buf() });
        }
        // WAL lets readers (the GUI) see a consistent library while an import writes.
        // Setting it is the first real write, so an unwritable location fails here.
        let mode: String = retry_while_busy(|| conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!("journal mode is {mode}, not WAL: {}", path.display());
        }
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;").map_err(open_err)?;
        let mut store = Store { conn, path: path.to_path_buf() };
        store.migrate_to(SCHEMA_VERSION).map_err(|e| match e {
            Error::Db { source } => open_err(source),
            other => other,
        })?;
        Ok(store)
    }

    /// Opens the database and applies migrations only up to `version`. Exists so
    /// tests can build a database as an older tuneatlas would have left it.
    pub fn open_at_version(path: &Path, version: i64) -> Result<Store> {
        let conn = Connection::open(path)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")?;
        let mut store = Store { conn, path: path.to_path_buf() };
        store.migrate_to(version)?;
        Ok(store)
    }

    fn migrate_to(&mut self, target: i64) -> Result<()> {
        let found: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(Error::DbTooNew { found, supported: SCHEMA_VERSION, path: self.path.clone() });
        }
        if found >= target {
            return Ok(());
        }
        // IMMEDIATE takes the write lock before re-reading the version, so two
        // processes opening a fresh library at once migrate it exactly once.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for version in found..target {
            let migration = &MIGRATIONS[version as usize];
            tx.execute_batch(migration.sql)?;
            if let Some(convert) = migration.convert {
                convert(&tx)?;
            }
            tracing::info!("migrated library database to schema {}", version + 1);
        }
        if found < target {
            // PRAGMA takes no bound parameters; `target` is our own integer.
            tx.execute_batch(&format!("PRAGMA user_version = {target}"))?;
        }
        tx.commit()?;
        // A library that existed was upgraded (a new one has nothing to give back).
        if found > 0 && found < target {
            self.compact_if_mostly_free();
        }
        Ok(())
    }

    /// Gives the space of rewritten tables back to the disk after a
    /// migration. Schemas 6 and 7 rewrite the biggest tables, which leaves
    /// most of the file as free pages (a 100k-track library: 905 MB, 78 %
    /// free). VACUUM copies the live pages into a compact file (there:
    /// 203 MB in 1.4 s). Only after a migration, never on a normal open; a failure
    /// (another process has the library open, no room for the copy) costs
    /// only the space, so it is logged, not returned.
    fn compact_if_mostly_free(&self) {
        let pages = |pragma: &str| self.conn.query_row(pragma, [], |r| r.get::<_, i64>(0));
        let (Ok(total), Ok(free)) = (pages("PRAGMA page_count"), pages("PRAGMA freelist_count")) else {
            return;
        };
        // Below a quarter of the file, or a few MB, it is not worth a copy.
        if free * 4 <= total || free < 1024 {
            return;
        }
        match self.conn.execute_batch("VACUUM") {
            Ok(()) => {
                tracing::info!("compacted the library after its upgrade ({free} of {total} pages were free)")
            }
            Err(e) => tracing::warn!(
                "could not compact the library after its upgrade ({e}); {free} of {total} pages stay free: {}",
                crate::text::shown(&self.path)
            ),
        }
    }

    /// Opens an existing library for reading only: never creates, migrates or
    /// locks it for writing, so a viewer (the GUI, `tuneatlas tracks`, a test
    /// watching an import) can look while another process imports.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let open_err =
            |e: rusqlite::Error| Error::DbOpen { reason: describe_sqlite(&e), path: path.to_path_buf() };
        if !path.exists() {
            return Err(Error::DbOpen { reason: "no library here yet".into(), path: path.to_path_buf() });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(open_err)?;
        let found: i64 =
            retry_while_busy(|| conn.query_row("PRAGMA user_version", [], |r| r.get(0))).map_err(open_err)?;
        if found > SCHEMA_VERSION {
            return Err(Error::DbTooNew { found, supported: SCHEMA_VERSION, path: path.to_path_buf() });
        }
        if found < SCHEMA_VERSION {
            return Err(Error::DbOpen {
                reason: format!(
                    "schema version {found} needs an upgrade; open it once read-write (e.g. run an import)"
                ),
                path: path.to_path_buf(),
            });
        }
        Ok(Store { conn, path: path.to_path_buf() })
    }

    /// The schema version stored in the file.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Where this database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw connection, for diagnostics (`PRAGMA integrity_check`) and tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Every track the library knows, with what incremental import needs to
    /// decide unchanged / changed / moved without touching the files' content.
    pub fn known_files(&self) -> Result<Vec<KnownFile>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, path, size_bytes, mtime_ns, fingerprint, status FROM tracks ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(KnownFile {
                id: r.get(0)?,
                path: path_column(r, 1)?,
                size_bytes: r.get::<_, i64>(2)? as u64,
                mtime_ns: r.get(3)?,
                fingerprint: r.get(4)?,
                missing: r.get::<_, String>(5)? == "missing",
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The failures already recorded, so that an unchanged bad file is not
    /// decoded again on every import (it is retried once it changes).
    pub fn known_errors(&self) -> Result<Vec<FileErrorRow>> {
        self.errors()
    }

    /// Records the start of an import of `root` and returns its run id. Other
    /// runs are left alone: whether one still marked `running` is alive only
    /// the import lock can tell (see [`close_dead_runs`](Self::close_dead_runs)).
    pub fn begin_run(&mut self, root: &Path) -> Result<i64> {
        self.begin_shard_run(root, None)
    }

    /// [`begin_run`](Self::begin_run) of an import of one shard of `root`
    /// ("K/N"), recorded so that a merge can tell which shards it holds.
    pub fn begin_shard_run(&mut self, root: &Path, shard: Option<&str>) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO import_runs (root, started_at, status, shard) VALUES (?1, ?2, 'running', ?3)",
            params![path_to_sql(root), now_unix_s(), shard],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Marks runs left `running` by a killed process as `interrupted`. Takes
    /// the import lock as proof: while this process holds it no other import
    /// can be running, so every `running` row is a dead one.
    pub fn close_dead_runs(&mut self, _lock: &ImportLock) -> Result<usize> {
        Ok(self.conn.execute("UPDATE import_runs SET status = 'interrupted' WHERE status = 'running'", [])?)
    }

    /// Closes a run with its outcome and counts.
    pub fn finish_run(&mut self, run_id: i64, status: RunStatus, counts: &ImportCounts) -> Result<()> {
        self.conn.execute(
            "UPDATE import_runs SET finished_at = ?2, status = ?3, n_new = ?4, n_updated = ?5, n_moved = ?6,
                    n_unchanged = ?7, n_failed = ?8, n_missing = ?9 WHERE id = ?1",
            params![
                run_id,
                now_unix_s(),
                status.as_str(),
                counts.new as i64,
                counts.updated as i64,
                counts.moved as i64,
                counts.unchanged as i64,
                counts.failed as i64,
                counts.missing as i64
            ],
        )?;
        Ok(())
    }

    /// Applies a batch of import results in ONE transaction: either all of
    /// them land or none, so a kill between batches never half-writes a track.
    pub fn write_batch(&mut self, run_id: i64, ops: &[WriteOp]) -> Result<()> {
        let now = now_unix_s();
        let tx = self.conn.transaction()?;
        let mut tags = tag_scores::TagWriter::default();
        for op in ops {
            match op {
                WriteOp::Seen { id } => {
                    tx.prepare_cached("UPDATE tracks SET last_seen_run = ?2, status = 'ok' WHERE id = ?1")?
                        .execute(params![id, run_id])?;
                }
                WriteOp::Moved { id, path, size_bytes, mtime_ns } => {
                    tx.prepare_cached(
                        "UPDATE tracks SET path = ?2, size_bytes = ?3, mtime_ns = ?4, status = 'ok',
                                updated_at = ?5, last_seen_run = ?6 WHERE id = ?1",
                    )?
                    .execute(params![
                        id,
                        path_to_sql(path),
                        *size_bytes as i64,
                        mtime_ns,
                        now,
                        run_id
                    ])?;
                    clear_error(&tx, path)?;
                }
                WriteOp::Upsert(rec) => {
                    upsert_track(&tx, &mut tags, run_id, now, rec)?;
                }
                WriteOp::Failed { path, size_bytes, mtime_ns, reason } => {
                    tx.prepare_cached(
                        "INSERT INTO file_errors (path, run_id, size_bytes, mtime_ns, reason, at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (path) DO UPDATE SET run_id = excluded.run_id, size_bytes = excluded.size_bytes,
                             mtime_ns = excluded.mtime_ns, reason = excluded.reason, at = excluded.at",
                    )?
                    .execute(params![
                        path_to_sql(path),
                        run_id,
                        size_bytes.map(|s| s as i64),
                        mtime_ns,
                        reason,
                        now
                    ])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records that tuneatlas itself rewrote a track's file — its tags, never
    /// its audio (`library::tag_write`): the new size, modification time and
    /// fingerprint, and the genre as an import now reads it. Without this the
    /// next import would take the file for changed and decode it again, and
    /// a later move would not be recognised by its old fingerprint. Clips,
    /// vectors and tag scores stay: the audio they describe is the same.
    pub fn record_retagged_file(
        &mut self,
        id: i64,
        size_bytes: u64,
        mtime_ns: i64,
        fingerprint: &[u8],
        genre: Option<&str>,
    ) -> Result<()> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE tracks SET size_bytes = ?2, mtime_ns = ?3, fingerprint = ?4, genre = ?5, updated_at = ?6
                 WHERE id = ?1",
            )?
            .execute(params![id, size_bytes as i64, mtime_ns, fingerprint, genre, now_unix_s()])?;
        if n == 0 {
            return Err(Error::Invalid(format!("no track with id {id} in the library")));
        }
        Ok(())
    }

    /// Marks as `missing` the tracks under `root` that the finished run `run_id`
    /// did not see. Their data stays: a drive that comes back, or a file that
    /// turns up elsewhere (moved), gets it back.
    ///
    /// Only tracks last seen by an *earlier*, no longer running import are
    /// candidates: a track another run wrote after this one started (a later
    /// run id) or is still writing was plainly there, whatever this run saw.
    /// The import lock keeps runs from overlapping; this keeps a run that
    /// somehow overlapped anyway (an older build, a test) from harming one.
    pub fn mark_missing(&mut self, root: &Path, run_id: i64) -> Result<usize> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut n = 0;
        {
            let mut select = tx.prepare_cached(
                "SELECT t.id, t.path FROM tracks t
                 WHERE t.status = 'ok'
                   AND (t.last_seen_run IS NULL
                        OR (t.last_seen_run < ?1
                            AND NOT EXISTS (SELECT 1 FROM import_runs r
                                            WHERE r.id = t.last_seen_run AND r.status = 'running')))",
            )?;
            let candidates = select
                .query_map(params![run_id], |r| Ok((r.get::<_, i64>(0)?, path_column(r, 1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut update =
                tx.prepare_cached("UPDATE tracks SET status = 'missing', updated_at = ?2 WHERE id = ?1")?;
            for (id, path) in candidates {
                // Path prefix by components, not by string: "/music2" is not under "/music".
                if path.starts_with(root) {
                    update.execute(params![id, now_unix_s()])?;
                    n += 1;
                }
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// All tracks (optionally including missing ones), ordered by artist,
    /// album, disc, track number — the order a person expects in a list.
    pub fn tracks(&self, include_missing: bool) -> Result<Vec<TrackRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.id, t.path, t.title, t.artist, t.album, t.album_artist, t.track_number, t.disc_number,
                    t.year, t.genre, t.duration_s, t.container, t.codec, t.sample_rate_hz, t.channels, t.status,
                    (SELECT COUNT(*) FROM clips c WHERE c.track_id = t.id), t.names_from_path, t.fingerprint
             FROM tracks t WHERE (?1 OR t.status = 'ok')
             ORDER BY COALESCE(t.album_artist, t.artist) COLLATE NOCASE, t.album COLLATE NOCASE,
                      t.disc_number, t.track_number, t.title COLLATE NOCASE, t.id",
        )?;
        let rows = stmt.query_map(params![include_missing], rows::track_row_from_sql)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// One track by id.
    pub fn track(&self, id: i64) -> Result<Option<TrackRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.id, t.path, t.title, t.artist, t.album, t.album_artist, t.track_number, t.disc_number,
                    t.year, t.genre, t.duration_s, t.container, t.codec, t.sample_rate_hz, t.channels, t.status,
                    (SELECT COUNT(*) FROM clips c WHERE c.track_id = t.id), t.names_from_path, t.fingerprint
             FROM tracks t WHERE t.id = ?1",
        )?;
        Ok(stmt.query_row(params![id], rows::track_row_from_sql).optional()?)
    }

    /// The clip grid stored for a track, in clip order.
    pub fn clips(&self, track_id: i64) -> Result<Vec<ClipRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT clip_index, start_s, rms_db FROM clips WHERE track_id = ?1 ORDER BY clip_index",
        )?;
        let rows = stmt.query_map(params![track_id], |r| {
            Ok(ClipRow { clip_index: r.get::<_, i64>(0)? as u32, start_s: r.get(1)?, rms_db: r.get(2)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The recorded per-file failures, newest first.
    pub fn errors(&self) -> Result<Vec<FileErrorRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, run_id, size_bytes, mtime_ns, reason, at FROM file_errors ORDER BY at DESC, path",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(FileErrorRow {
                path: path_column(r, 0)?,
                run_id: r.get(1)?,
                size_bytes: r.get::<_, Option<i64>>(2)?.map(|s| s as u64),
                mtime_ns: r.get(3)?,
                reason: r.get(4)?,
                at_unix_s: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Runs SQLite's own consistency check; `Ok(true)` when it reports "ok".
    pub fn integrity_ok(&self) -> Result<bool> {
        let result: String = self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(result == "ok")
    }
}

fn clear_error(tx: &rusqlite::Transaction<'_>, path: &Path) -> Result<()> {
    tx.prepare_cached("DELETE FROM file_errors WHERE path = ?1")?.execute(params![path_to_sql(path)])?;
    Ok(())
}

/// Refuses numbers SQLite cannot keep: it stores NaN as NULL, which a
/// `NOT NULL` column rejects with a message that names no file or field, and
/// an infinite duration or level would poison every later sum and sort.
fn check_finite(what: &str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::Invalid(format!("{what} is not a finite number ({value})")))
    }
}

/// [`check_finite`] over everything of a track that lands in a REAL column
/// or feeds the similarity index.
fn check_record(rec: &TrackRecord) -> Result<()> {
    check_finite("the duration", rec.duration_s)?;
    for clip in &rec.clips {
        check_finite("a clip start", clip.start_s)?;
        check_finite("a clip level", clip.rms_db)?;
    }
    if let Some(out) = &rec.model_output {
        vectors::check_embedding(&out.embedding)?;
    }
    Ok(())
}

fn upsert_track(
    tx: &rusqlite::Transaction<'_>,
    tags: &mut tag_scores::TagWriter,
    run_id: i64,
    now: i64,
    rec: &TrackRecord,
) -> Result<i64> {
    check_record(rec)?;
    let t = &rec.tags;
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO tracks (path, size_bytes, mtime_ns, fingerprint, title, artist, album, album_artist,
                 track_number, disc_number, year, genre, names_from_path, duration_s, container, codec,
                 sample_rate_hz, channels, status, added_at, updated_at, last_seen_run)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, 'ok', ?19, ?19, ?20)
             ON CONFLICT (path) DO UPDATE SET size_bytes = excluded.size_bytes, mtime_ns = excluded.mtime_ns,
                 fingerprint = excluded.fingerprint, title = excluded.title, artist = excluded.artist,
                 album = excluded.album, album_artist = excluded.album_artist,
                 track_number = excluded.track_number, disc_number = excluded.disc_number,
                 year = excluded.year, genre = excluded.genre, names_from_path = excluded.names_from_path,
                 duration_s = excluded.duration_s, container = excluded.container, codec = excluded.codec,
                 sample_rate_hz = excluded.sample_rate_hz, channels = excluded.channels, status = 'ok',
                 updated_at = excluded.updated_at, last_seen_run = excluded.last_seen_run
             RETURNING id",
        )?
        .query_row(
            params![
                path_to_sql(&rec.path),
                rec.size_bytes as i64,
                rec.mtime_ns,
                rec.fingerprint.as_slice(),
                t.title.as_deref().unwrap_or_default(),
                t.artist,
                t.album,
                t.album_artist,
                t.track_number,
                t.disc_number,
                t.year,
                t.genre,
                rec.names_from_path,
                rec.duration_s,
                rec.container,
                rec.codec,
                rec.sample_rate_hz,
                rec.channels,
                now,
                run_id
            ],
            |r| r.get(0),
        )?;
    // The content changed (or is new): the old clip grid and anything a model
    // computed from the old audio are stale.
    tx.prepare_cached("DELETE FROM clip_vectors WHERE track_id = ?1")?.execute(params![id])?;
    tx.prepare_cached("DELETE FROM track_vectors WHERE track_id = ?1")?.execute(params![id])?;
    tag_scores::delete_track(tx, id)?;
    tx.prepare_cached("DELETE FROM clips WHERE track_id = ?1")?.execute(params![id])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO clips (track_id, clip_index, start_s, rms_db) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, clip) in rec.clips.iter().enumerate() {
        insert.execute(params![id, i as i64, clip.start_s, clip.rms_db])?;
    }
    if let Some(out) = &rec.model_output {
        vectors::write_embedding(tx, tags, &out.model_version, id, &out.embedding)?;
    }
    clear_error(tx, &rec.path)?;
    Ok(id)
}

/// Turns SQLite's terse codes into something a user can act on.
fn describe_sqlite(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::CannotOpen) => {
            "the file or its folder cannot be opened or created (check permissions)".into()
        }
        Some(C::ReadOnly) => "the location is read-only".into(),
        Some(C::DiskFull) => "the disk is full".into(),
        Some(C::NotADatabase) => "the file is not a tuneatlas library (not a SQLite database)".into(),
        Some(C::PermissionDenied) => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// True when an error means "no space left": the import stops with one clear
/// message instead of failing file after file.
pub fn is_disk_full(e: &Error) -> bool {
    matches!(e, Error::Db { source } if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull))
}

/// Runs `f` again while SQLite answers "database is locked", for as long as
/// the busy timeout. Why: when two processes open the same *new* library at
/// once, reading its header or switching it to WAL can fail with
/// SQLITE_BUSY at once, without SQLite's busy handler waiting (the switch
/// needs the file to itself); `tests/it/concurrency.rs` starts two imports
/// together and saw exactly that.
fn retry_while_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}
