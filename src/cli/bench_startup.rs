//! `tuneatlas bench startup`: how long a library takes to show its table and
//! its map, measured through the core calls the window makes on its loader
//! and map threads (`LibrarySnapshot::load_staged`, then
//! `map::layout_for_library`), on synthetic libraries of several sizes
//! written through the store's own write path into a real SQLite file.
//! With `--window` (gui builds) it cold-starts the real window instead.
//! Printed, never asserted.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use tuneatlas::audio::decode::TrackTags;
use tuneatlas::browse::LibrarySnapshot;
use tuneatlas::jobs::CancelToken;
use tuneatlas::map::{LayoutParams, MapCoord, layout_for_library};
use tuneatlas::store::{
    Embedding, ModelOutput, ModelRow, Store, StoredLayout, TagScore, TrackRecord, WriteOp,
};

/// The model version of the synthetic libraries.
const SYNTHETIC_VERSION: &str = "bench-synthetic-1";

/// Arguments of `tuneatlas bench startup`.
#[derive(Debug, Args)]
pub struct StartupBenchArgs {
    /// Library sizes (tracks), comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000usize, 30_000, 100_000])]
    pub tracks: Vec<usize>,
    /// Timed loads per size (each opens the library afresh).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Time an existing library instead (a copy of it: opening migrates an
    /// older schema, and the time of that first open is printed).
    #[arg(long, value_name = "DB", conflicts_with = "tracks")]
    pub library: Option<PathBuf>,
    /// Cold-start the real window instead (under Xvfb when there is no
    /// display), on synthetic libraries cached in the cache folder.
    #[cfg(feature = "gui")]
    #[arg(long, conflicts_with = "library")]
    pub window: bool,
}

/// Runs `bench startup`.
pub fn bench_startup(args: &StartupBenchArgs, profile: &str) -> anyhow::Result<()> {
    #[cfg(feature = "gui")]
    if args.window {
        return super::bench_gui::bench_window_startup(&args.tracks, args.runs, profile);
    }
    let runs = args.runs.max(1);
    println!(
        "bench startup: what the window loads before its table and its map are shown, {profile} build, \
         {runs} loads each (median, min–max)"
    );
    let dir = super::bench::tempfile_dir()?;
    let result = match &args.library {
        Some(library) => time_existing(library, &dir, runs),
        None => args.tracks.iter().try_for_each(|&n| time_synthetic(n, &dir, runs)),
    };
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    println!(
        "(table: tracks, errors, models and user tags read — the window's table is usable; tags and \
         vectors: plus the tag-score matrix, the vector index and the explanation statistics; map: plus \
         the cached layout — points on screen. The files are in the OS page cache: a first start after \
         a reboot also waits for the disk.)"
    );
    Ok(())
}

fn time_synthetic(n: usize, dir: &Path, runs: usize) -> anyhow::Result<()> {
    if n == 0 {
        return Ok(());
    }
    let db = dir.join(format!("startup-{n}.db"));
    let started = Instant::now();
    build_synthetic_library(&db, n)?;
    let built_s = started.elapsed().as_secs_f64();
    println!("  {n} tracks (synthetic; written in {built_s:.1} s, {}):", file_size_text(&db));
    time_loads(&db, runs)?;
    remove_library(&db);
    Ok(())
}

fn time_existing(library: &Path, dir: &Path, runs: usize) -> anyhow::Result<()> {
    let db = dir.join("library.db");
    std::fs::copy(library, &db)?;
    let started = Instant::now();
    let store = Store::open(&db)?;
    let n = store.tracks(false)?.len();
    drop(store);
    println!(
        "  {} ({n} tracks; first open, with any schema migration: {:.0} ms; {}):",
        tuneatlas::text::shown(library),
        started.elapsed().as_secs_f64() * 1e3,
        file_size_text(&db)
    );
    time_loads(&db, runs)?;
    remove_library(&db);
    Ok(())
}

/// The three moments of a start, in ms since the load began.
struct Moments {
    table_ms: f64,
    embedding_ms: f64,
    map_ms: f64,
    tag_scores_ms: f64,
    vectors_ms: f64,
}

/// Loads `db` as the window does, `runs` times, and prints the moments.
fn time_loads(db: &Path, runs: usize) -> anyhow::Result<()> {
    let mut all = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let mut table_ms = 0.0;
        let snapshot = LibrarySnapshot::load_staged(db, None, |_| {
            table_ms = started.elapsed().as_secs_f64() * 1e3;
        })?;
        let embedding_ms = started.elapsed().as_secs_f64() * 1e3;
        let version = snapshot.model_version.clone().ok_or_else(|| anyhow::anyhow!("no model version"))?;
        let map =
            layout_for_library(db, &version, &LayoutParams::default(), false, &CancelToken::new(), |_| {})?;
        let map_ms = started.elapsed().as_secs_f64() * 1e3;
        anyhow::ensure!(!map.layout.is_empty(), "the synthetic library has no map");
        // The two big reads alone, on a fresh connection.
        let store = Store::open_read_only(db)?;
        let t = Instant::now();
        let tags = store.tag_matrix(&version)?;
        let tag_scores_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let vectors = store.track_vectors(&version)?;
        let vectors_ms = t.elapsed().as_secs_f64() * 1e3;
        anyhow::ensure!(tags.track_ids.len() == vectors.len(), "tag scores and vectors disagree");
        all.push(Moments { table_ms, embedding_ms, map_ms, tag_scores_ms, vectors_ms });
    }
    let line = |what: &str, pick: fn(&Moments) -> f64| {
        let mut v: Vec<f64> = all.iter().map(pick).collect();
        v.sort_by(f64::total_cmp);
        println!("    {what:<24} {:>7.0} ms ({:.0}–{:.0})", v[v.len() / 2], v[0], v[v.len() - 1]);
    };
    line("table ready", |m| m.table_ms);
    line("tags and vectors ready", |m| m.embedding_ms);
    line("map ready", |m| m.map_ms);
    line("  of which: tag scores", |m| m.tag_scores_ms);
    line("            vectors", |m| m.vectors_ms);
    Ok(())
}

fn file_size_text(db: &Path) -> String {
    let bytes: u64 = ["", "-wal"]
        .iter()
        .filter_map(|suffix| {
            let mut name = db.as_os_str().to_os_string();
            name.push(suffix);
            std::fs::metadata(PathBuf::from(name)).ok().map(|m| m.len())
        })
        .sum();
    format!("{:.0} MB on disk", bytes as f64 / 1e6)
}

fn remove_library(db: &Path) {
    for suffix in ["", "-wal", "-shm", ".import-lock"] {
        let mut name = db.as_os_str().to_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// A library of `n` tracks with vectors (random unit), a score for every tag
/// of the built-in model's vocabulary and a map layout, written through the
/// store's import write path (`write_batch`) — the shape of a real library
/// of that size without decoding `n` files. Written to a side file and
/// renamed, so a half-built library is never mistaken for a whole one.
pub(super) fn build_synthetic_library(db: &Path, n: usize) -> anyhow::Result<()> {
    let tmp: PathBuf = db.with_extension("partial");
    remove_library(&tmp);
    if let Some(dir) = tmp.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut store = Store::open(&tmp)?;
    store.register_model(&ModelRow {
        version: SYNTHETIC_VERSION.into(),
        name: "bench-synthetic".into(),
        parent: None,
        config_json: "{}".into(),
    })?;
    let vocabulary = tuneatlas::model::record::ModelBundle::embedded()?.card.vocabulary;
    let tag_names: Vec<(String, String)> = [
        ("genre", &vocabulary.genre),
        ("style", &vocabulary.style),
        ("mood", &vocabulary.mood),
        ("theme", &vocabulary.theme),
    ]
    .into_iter()
    .flat_map(|(c, tags)| tags.iter().map(move |t| (c.to_owned(), t.clone())))
    .collect();
    let vectors = tuneatlas::index::random_unit_vectors(n, 256, 7);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let run = store.begin_run(Path::new("/synthetic"))?;
    for chunk_start in (0..n).step_by(2_000) {
        let ops: Vec<WriteOp> = (chunk_start..(chunk_start + 2_000).min(n))
            .map(|i| {
                let tags = tag_names
                    .iter()
                    .map(|(c, t)| TagScore { category: c.clone(), tag: t.clone(), score: next() })
                    .collect();
                WriteOp::Upsert(Box::new(TrackRecord {
                    path: PathBuf::from(format!(
                        "/synthetic/artist {}/album {}/track {i:06}.ogg",
                        i % 3000,
                        i % 9000
                    )),
                    size_bytes: 4_000_000,
                    mtime_ns: 0,
                    fingerprint: (i as u64).to_le_bytes().to_vec(),
                    tags: TrackTags {
                        title: Some(format!("Track {i:06}")),
                        artist: Some(format!("Artist {}", i % 3000)),
                        album: Some(format!("Album {}", i % 9000)),
                        ..TrackTags::default()
                    },
                    names_from_path: false,
                    duration_s: 180.0 + (i % 120) as f64,
                    container: "ogg".into(),
                    codec: "vorbis".into(),
                    sample_rate_hz: 44_100,
                    channels: 2,
                    clips: vec![],
                    model_output: Some(ModelOutput {
                        model_version: SYNTHETIC_VERSION.into(),
                        embedding: Embedding { clip_vectors: vec![], track_vector: vectors[i].clone(), tags },
                    }),
                }))
            })
            .collect();
        store.write_batch(run, &ops)?;
    }
    let coords: Vec<MapCoord> = store
        .track_vectors(SYNTHETIC_VERSION)?
        .into_iter()
        .map(|(id, _)| MapCoord { track_id: id, x: next() * 2.0 - 1.0, y: next() * 2.0 - 1.0, placed: false })
        .collect();
    store.save_layout(&StoredLayout {
        model_version: SYNTHETIC_VERSION.into(),
        params_json: serde_json::to_string(&LayoutParams::default())?,
        computed_at_unix_s: 0,
        n_tracks: coords.len(),
        compute_s: 0.0,
        coords,
    })?;
    // Closing the last connection folds the WAL into the file: one file to rename.
    drop(store);
    remove_library(db);
    std::fs::rename(&tmp, db)?;
    remove_library(&tmp);
    Ok(())
}
