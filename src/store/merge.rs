//! Putting libraries back together: the libraries of one folder's shards,
//! imported on several machines (`import --shard K/N`, see
//! `library::shard`), merged into one library file.
//!
//! What a merge copies from each source: its tracks (with new ids in the
//! target), their clip grids, its import runs, recorded failures and user
//! tags, and for every model version the track and clip vectors (bit for
//! bit) and the tag scores. Not copied: map layouts — a shard's t-SNE layout
//! means nothing beside another shard's; the merged library's map is laid
//! out when it is first shown (or by `tuneatlas map`).
//!
//! What a merge refuses, naming the file, before it writes anything: a
//! source that is not a library of this schema version; libraries (sources,
//! and a target that already holds tracks) embedded with different model
//! versions, or imported from different folders — paths are stored
//! absolute, so the folder must have been at the same path on every
//! machine; a library an import is running on. And while copying: the same
//! file (path) in two libraries. Shards of one folder never overlap, so an
//! overlap means libraries that do not belong together (shards of two
//! different splits, one shard merged twice, a target that already holds
//! them), and which copy is right cannot be known.
//!
//! Everything is written in one transaction under the target's import
//! lock: a merge that fails or is cancelled leaves the target as it was (a
//! target the merge created is removed again).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::types::Value;
use rusqlite::{Connection, TransactionBehavior, params, params_from_iter};
use serde::Serialize;

use super::paths::{path_column, path_from_bytes, path_to_sql};
use super::tag_scores::TagWriter;
use super::{ImportLock, Store, WhenBusy};
use crate::jobs::CancelToken;
use crate::text::shown;
use crate::{Error, Result};

/// The columns of `tracks` a merge copies, in this order (`id` is new in the
/// target; `last_seen_run` is last, as it is mapped to the target's run ids).
const TRACK_COLUMNS: &str = "path, size_bytes, mtime_ns, fingerprint, title, artist, album, album_artist, \
     track_number, disc_number, year, genre, names_from_path, duration_s, container, codec, sample_rate_hz, \
     channels, status, added_at, updated_at, last_seen_run";
const N_TRACK_COLUMNS: usize = 22;

/// One merged source library.
#[derive(Debug, Clone, Serialize)]
pub struct MergedLibrary {
    /// The library file (serialised escaped: see [`crate::text::shown`]).
    #[serde(serialize_with = "crate::text::serialize_path")]
    pub path: PathBuf,
    /// Tracks it brought.
    pub tracks: usize,
    /// Recorded failures it brought.
    pub errors: usize,
    /// The shards its imports took ("K/N"); empty for whole-folder imports.
    pub shards: Vec<String>,
}

/// What a merge did.
#[derive(Debug, Clone, Serialize)]
pub struct MergeSummary {
    /// The library merged into.
    #[serde(serialize_with = "crate::text::serialize_path")]
    pub target: PathBuf,
    /// The sources, in the order given.
    pub sources: Vec<MergedLibrary>,
    /// The model versions the libraries share.
    pub model_versions: Vec<String>,
    /// The folders they were imported from.
    #[serde(serialize_with = "serialize_paths")]
    pub roots: Vec<PathBuf>,
    /// Wall time in seconds.
    pub elapsed_s: f64,
}

fn serialize_paths<S: serde::Serializer>(paths: &[PathBuf], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter().map(|p| shown(p)))
}

/// What a library holds that must agree with the others before a merge.
struct Facts {
    models: BTreeSet<String>,
    roots: BTreeSet<PathBuf>,
    shards: Vec<String>,
    n_tracks: usize,
}

fn facts(conn: &Connection) -> Result<Facts> {
    let models = {
        let mut stmt = conn.prepare("SELECT version FROM models")?;
        stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
    };
    let roots = {
        let mut stmt = conn.prepare("SELECT DISTINCT root FROM import_runs")?;
        stmt.query_map([], |r| path_column(r, 0))?.collect::<rusqlite::Result<_>>()?
    };
    let shards = {
        let mut stmt =
            conn.prepare("SELECT DISTINCT shard FROM import_runs WHERE shard IS NOT NULL ORDER BY shard")?;
        stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
    };
    let n_tracks: i64 = conn.query_row("SELECT COUNT(*) FROM tracks", [], |r| r.get(0))?;
    Ok(Facts { models, roots, shards, n_tracks: n_tracks as usize })
}

fn refuse(reason: String, path: &Path) -> Error {
    Error::NotMergeable { reason, path: path.to_path_buf() }
}

fn listed<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let v: Vec<String> = items.into_iter().map(|x| x.to_string()).collect();
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

/// Refuses `other` unless it holds the model versions and roots of `first`.
fn check_agrees(first: (&Path, &Facts), other: (&Path, &Facts)) -> Result<()> {
    let ((a, fa), (b, fb)) = (first, other);
    if fa.models != fb.models {
        return Err(refuse(
            format!(
                "its model versions ({}) are not those of {} ({}); merge libraries embedded with the same \
                 model, or run `tuneatlas embed` on the one that lacks a version",
                listed(&fb.models),
                shown(a),
                listed(&fa.models)
            ),
            b,
        ));
    }
    if fa.roots != fb.roots {
        return Err(refuse(
            format!(
                "it was imported from {} but {} from {}; merged libraries must be imports of one folder, \
                 at the same path on every machine (paths are stored absolute)",
                listed(fb.roots.iter().map(|p| shown(p))),
                shown(a),
                listed(fa.roots.iter().map(|p| shown(p)))
            ),
            b,
        ));
    }
    Ok(())
}

/// The same file, as a canonical path when it exists.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Merges the libraries at `sources` into the library at `target` (created
/// when missing), under the rules of the module docs. `when_busy` says
/// whether to wait for an import running on the target; `on_source` hears
/// of each source as its copy starts. Fails with
/// [`Error::NotMergeable`] naming the offending file, or
/// [`Error::Cancelled`]; either way the target is as before.
pub fn merge_libraries(
    target: &Path,
    sources: &[PathBuf],
    when_busy: WhenBusy,
    cancel: &CancelToken,
    mut on_source: impl FnMut(usize, &Path),
) -> Result<MergeSummary> {
    let started = Instant::now();
    if sources.is_empty() {
        return Err(Error::Invalid("nothing to merge: name at least one library".into()));
    }
    for (i, s) in sources.iter().enumerate() {
        if same_file(s, target) {
            return Err(refuse("it is the library merged into".into(), s));
        }
        if sources[..i].iter().any(|earlier| same_file(earlier, s)) {
            return Err(refuse("it is named twice".into(), s));
        }
    }
    // Every source: readable, this schema, no import running, agreeing.
    let mut opened: Vec<Opened<'_>> = Vec::with_capacity(sources.len());
    for path in sources {
        let store = Store::open_read_only(path)?;
        let lock = ImportLock::acquire(path, WhenBusy::Refuse, cancel, |_| {})?;
        let facts = facts(&store.conn)?;
        if let Some((first, first_facts, ..)) = opened.first() {
            check_agrees((first.as_path(), first_facts), (path.as_path(), &facts))?;
        }
        opened.push((path, facts, store, lock));
    }
    let existed = target.exists();
    let result = merge_into(target, &opened, when_busy, cancel, &mut on_source);
    drop(opened);
    match result {
        Ok((sources, model_versions, roots)) => Ok(MergeSummary {
            target: target.to_path_buf(),
            sources,
            model_versions,
            roots,
            elapsed_s: started.elapsed().as_secs_f64(),
        }),
        Err(e) => {
            if !existed {
                for suffix in ["", "-wal", "-shm", ".import-lock"] {
                    let mut name = target.as_os_str().to_os_string();
                    name.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(name));
                }
            }
            Err(e)
        }
    }
}

type Opened<'a> = (&'a PathBuf, Facts, Store, ImportLock);

fn merge_into(
    target: &Path,
    sources: &[Opened<'_>],
    when_busy: WhenBusy,
    cancel: &CancelToken,
    on_source: &mut impl FnMut(usize, &Path),
) -> Result<(Vec<MergedLibrary>, Vec<String>, Vec<PathBuf>)> {
    let mut store = Store::open(target)?;
    let _lock = ImportLock::acquire(target, when_busy, cancel, |holder| {
        tracing::info!("waiting for the import on {} to finish: {holder}", shown(target));
    })?;
    let (first_path, first_facts, ..) = &sources[0];
    let target_facts = facts(&store.conn)?;
    if target_facts.n_tracks > 0 {
        check_agrees((first_path.as_path(), first_facts), (target, &target_facts))?;
    }
    let tx = store.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Every path already in the target, tracks and failures: a source may add none of them.
    let mut owner: HashMap<Vec<u8>, Option<usize>> = HashMap::new();
    for table in ["tracks", "file_errors"] {
        let mut stmt = tx.prepare(&format!("SELECT path FROM {table}"))?;
        let rows = stmt.query_map([], |r| path_column(r, 0))?;
        for path in rows {
            owner.insert(path_to_sql(&path?), None);
        }
    }
    for (version, name, parent, created_at, config_json) in models_of(&sources[0].2.conn)? {
        tx.execute(
            "INSERT INTO models (version, name, parent, created_at, config_json) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (version) DO NOTHING",
            params![version, name, parent, created_at, config_json],
        )?;
    }
    let mut tags = TagWriter::default();
    let mut merged = Vec::with_capacity(sources.len());
    for (i, (path, facts, source, _)) in sources.iter().enumerate() {
        on_source(i, path);
        let copied = copy_library(&source.conn, &tx, &mut tags, &mut owner, i, sources, cancel)?;
        merged.push(MergedLibrary {
            path: (*path).clone(),
            tracks: copied.0,
            errors: copied.1,
            shards: facts.shards.clone(),
        });
    }
    cancel.check()?;
    tx.commit()?;
    Ok((merged, first_facts.models.iter().cloned().collect(), first_facts.roots.iter().cloned().collect()))
}

type ModelFields = (String, String, Option<String>, i64, String);

fn models_of(conn: &Connection) -> Result<Vec<ModelFields>> {
    let mut stmt = conn
        .prepare("SELECT version, name, parent, created_at, config_json FROM models ORDER BY created_at")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The bytes of a stored path, whether BLOB or TEXT.
fn path_key(value: &Value) -> Vec<u8> {
    match value {
        Value::Blob(b) => b.clone(),
        Value::Text(t) => t.as_bytes().to_vec(),
        _ => Vec::new(),
    }
}

/// Refuses a path another library (an earlier source, or the target)
/// already holds. One library may hold a path twice, as a track and as a
/// failure (the file failed after it was imported).
fn claim(
    owner: &mut HashMap<Vec<u8>, Option<usize>>,
    key: Vec<u8>,
    index: usize,
    sources: &[Opened<'_>],
) -> Result<()> {
    if let Some(earlier) = owner.get(&key) {
        if *earlier == Some(index) {
            return Ok(());
        }
        let path = path_from_bytes(&key);
        let there = match earlier {
            Some(j) => shown(sources[*j].0),
            None => "the library merged into".to_string(),
        };
        return Err(refuse(
            format!(
                "it holds {}, which {there} holds too; shards of one folder never overlap — were these split \
                 with different shard counts, or is one merged twice?",
                shown(&path)
            ),
            sources[index].0,
        ));
    }
    owner.insert(key, Some(index));
    Ok(())
}

/// Copies one source into the open transaction; returns (tracks, errors) copied.
fn copy_library(
    source: &Connection,
    tx: &rusqlite::Transaction<'_>,
    tags: &mut TagWriter,
    owner: &mut HashMap<Vec<u8>, Option<usize>>,
    index: usize,
    sources: &[Opened<'_>],
    cancel: &CancelToken,
) -> Result<(usize, usize)> {
    // Import runs: new ids; a run a killed import left `running` is over.
    let mut run_of: HashMap<i64, i64> = HashMap::new();
    {
        let mut select = source.prepare(
            "SELECT id, root, started_at, finished_at, status, n_new, n_updated, n_moved, n_unchanged, n_failed,
                    n_missing, shard FROM import_runs ORDER BY id",
        )?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO import_runs (root, started_at, finished_at, status, n_new, n_updated, n_moved,
                 n_unchanged, n_failed, n_missing, shard)
             VALUES (?1, ?2, ?3, CASE ?4 WHEN 'running' THEN 'interrupted' ELSE ?4 END, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        let mut rows = select.query([])?;
        while let Some(r) = rows.next()? {
            let values: Vec<Value> =
                (1..12).map(|i| r.get::<_, Value>(i)).collect::<rusqlite::Result<_>>()?;
            insert.execute(params_from_iter(values))?;
            run_of.insert(r.get(0)?, tx.last_insert_rowid());
        }
    }
    // Tracks: new ids, paths claimed.
    let mut track_of: HashMap<i64, i64> = HashMap::new();
    {
        let mut select = source.prepare(&format!("SELECT id, {TRACK_COLUMNS} FROM tracks ORDER BY id"))?;
        let placeholders = vec!["?"; N_TRACK_COLUMNS].join(", ");
        let mut insert =
            tx.prepare_cached(&format!("INSERT INTO tracks ({TRACK_COLUMNS}) VALUES ({placeholders})"))?;
        let mut rows = select.query([])?;
        while let Some(r) = rows.next()? {
            if track_of.len().is_multiple_of(1024) {
                cancel.check()?;
            }
            let mut values: Vec<Value> =
                (1..=N_TRACK_COLUMNS).map(|i| r.get::<_, Value>(i)).collect::<rusqlite::Result<_>>()?;
            claim(owner, path_key(&values[0]), index, sources)?;
            let last = N_TRACK_COLUMNS - 1;
            values[last] = match &values[last] {
                Value::Integer(run) => run_of.get(run).map_or(Value::Null, |&r| Value::Integer(r)),
                _ => Value::Null,
            };
            insert.execute(params_from_iter(values))?;
            track_of.insert(r.get(0)?, tx.last_insert_rowid());
        }
    }
    let new_id = |id: i64| track_of.get(&id).copied();
    copy_rows(
        source,
        tx,
        "SELECT track_id, clip_index, start_s, rms_db FROM clips ORDER BY track_id, clip_index",
        "INSERT INTO clips (track_id, clip_index, start_s, rms_db) VALUES (?1, ?2, ?3, ?4)",
        &new_id,
        cancel,
    )?;
    copy_rows(
        source,
        tx,
        "SELECT track_id, model_version, vector FROM track_vectors ORDER BY track_id",
        "INSERT INTO track_vectors (track_id, model_version, vector) VALUES (?1, ?2, ?3)",
        &new_id,
        cancel,
    )?;
    copy_rows(
        source,
        tx,
        "SELECT track_id, clip_index, model_version, vector FROM clip_vectors ORDER BY track_id, clip_index",
        "INSERT INTO clip_vectors (track_id, clip_index, model_version, vector) VALUES (?1, ?2, ?3, ?4)",
        &new_id,
        cancel,
    )?;
    tags.copy_from(source, tx, new_id)?;
    // User tags, by the name of their set.
    {
        let mut select = source.prepare(
            "SELECT u.track_id, s.name, u.tag, u.source, u.added_at FROM user_tags u
             JOIN tag_sets s ON s.id = u.set_id ORDER BY u.track_id",
        )?;
        let mut rows = select.query([])?;
        while let Some(r) = rows.next()? {
            let Some(id) = new_id(r.get(0)?) else { continue };
            let set: String = r.get(1)?;
            tx.prepare_cached("INSERT INTO tag_sets (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")?
                .execute(params![set])?;
            let set_id: i64 = tx
                .prepare_cached("SELECT id FROM tag_sets WHERE name = ?1")?
                .query_row(params![set], |r| r.get(0))?;
            tx.prepare_cached(
                "INSERT INTO user_tags (track_id, set_id, tag, source, added_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                id,
                set_id,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?
            ])?;
        }
    }
    // Recorded failures: paths claimed like tracks' paths.
    let mut n_errors = 0;
    {
        let mut select = source.prepare(
            "SELECT path, run_id, size_bytes, mtime_ns, reason, at FROM file_errors ORDER BY path",
        )?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO file_errors (path, run_id, size_bytes, mtime_ns, reason, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut rows = select.query([])?;
        while let Some(r) = rows.next()? {
            let path: Value = r.get(0)?;
            claim(owner, path_key(&path), index, sources)?;
            let run: i64 = r.get(1)?;
            // A failure's run is always a run of the same library; keep the
            // failure even if that run row is gone.
            let run = run_of.get(&run).copied().or_else(|| run_of.values().max().copied()).unwrap_or(run);
            insert.execute(params![
                path,
                run,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?
            ])?;
            n_errors += 1;
        }
    }
    Ok((track_of.len(), n_errors))
}

/// Copies the rows of `select` (track id first) through `insert`, with
/// each track id mapped by `new_id`; every other column is copied as stored.
fn copy_rows(
    source: &Connection,
    tx: &rusqlite::Transaction<'_>,
    select: &str,
    insert: &str,
    new_id: &impl Fn(i64) -> Option<i64>,
    cancel: &CancelToken,
) -> Result<usize> {
    let mut select = source.prepare(select)?;
    let n_columns = select.column_count();
    let mut insert = tx.prepare_cached(insert)?;
    let mut rows = select.query([])?;
    let mut n = 0usize;
    while let Some(r) = rows.next()? {
        if n.is_multiple_of(4096) {
            cancel.check()?;
        }
        let Some(id) = new_id(r.get(0)?) else { continue };
        let mut values: Vec<Value> = Vec::with_capacity(n_columns);
        values.push(Value::Integer(id));
        for i in 1..n_columns {
            values.push(r.get::<_, Value>(i)?);
        }
        insert.execute(params_from_iter(values))?;
        n += 1;
    }
    Ok(n)
}
