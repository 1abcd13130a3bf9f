//! The library map (PCA + t-SNE layout, incremental placement, cache): real
//! layouts of synthetic clustered 256-d vectors, a real SQLite library file,
//! and `tuneatlas map` through the real binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use tuneatlas::Error;
use tuneatlas::audio::decode::TrackTags;
use tuneatlas::index::VectorIndex;
use tuneatlas::jobs::CancelToken;
use tuneatlas::map::quality::{clustered_unit_vectors, knn_preservation, label_agreement};
use tuneatlas::map::{
    Layout, LayoutParams, LayoutStage, MapCoord, MapOutcome, RecomputeReason, compute_layout,
    layout_for_library, place_new,
};
use tuneatlas::store::{
    Embedding, ImportCounts, ModelRow, RunStatus, Store, StoredLayout, TagSource, TrackRecord, WriteOp,
};

const MODEL_A: &str = "map-test-a";
const MODEL_B: &str = "map-test-b";

fn in_unit_square(layout: &Layout) -> bool {
    layout.points().iter().all(|p| p.x.is_finite() && p.y.is_finite() && p.x.abs() <= 1.0 && p.y.abs() <= 1.0)
}

/// The 2-d centroid of each label.
fn centroids(layout: &Layout, labels: &HashMap<i64, usize>) -> HashMap<usize, (f32, f32)> {
    let mut sums: HashMap<usize, (f32, f32, f32)> = HashMap::new();
    for p in layout.points() {
        if let Some(&l) = labels.get(&p.track_id) {
            let s = sums.entry(l).or_default();
            *s = (s.0 + p.x, s.1 + p.y, s.2 + 1.0);
        }
    }
    sums.into_iter().map(|(l, (x, y, n))| (l, (x / n, y / n))).collect()
}

fn nearest_centroid(c: &HashMap<usize, (f32, f32)>, (x, y): (f32, f32)) -> usize {
    let d = |&(cx, cy): &(f32, f32)| (cx - x).powi(2) + (cy - y).powi(2);
    *c.iter().min_by(|a, b| d(a.1).total_cmp(&d(b.1))).expect("centroids").0
}

/// Two runs with the same seed are not bit-identical (bhtsne's neighbour
/// search is unseeded; see `map::tsne`'s module docs), so what must hold
/// for every run is checked on several: a normalised map that keeps the
/// clusters, with exact copies of a track side by side.
#[test]
fn every_run_gives_an_equally_good_normalised_layout() {
    let clustered = clustered_unit_vectors(240, 256, 4, 1, 1.0, 11);
    let mut data = clustered.vectors.clone();
    let mut labels = clustered.labels.clone();
    // Exact duplicates (the same song twice) go beside their original.
    for i in 0..6 {
        let copy = data[i].1.clone();
        data.push((1000 + i as i64, copy));
        labels.insert(1000 + i as i64, labels[&(i as i64)]);
    }
    let params = LayoutParams { max_iter: 500, ..LayoutParams::default() };
    for seed in [42, 42, 7] {
        let layout = compute_layout(&data, &LayoutParams { seed, ..params }, &CancelToken::new(), |_| {})
            .expect("layout");
        assert_eq!(layout.len(), data.len());
        assert!(in_unit_square(&layout));
        // The larger side spans [-1, 1] exactly.
        let max_x = layout.points().iter().map(|p| p.x.abs()).fold(0f32, f32::max);
        let max_y = layout.points().iter().map(|p| p.y.abs()).fold(0f32, f32::max);
        assert!((max_x.max(max_y) - 1.0).abs() < 1e-3, "{max_x} {max_y}");
        let agreement = label_agreement(&layout, &labels, 10);
        assert!(agreement > 0.9, "seed {seed}: label agreement {agreement}");
        for i in 0..6 {
            let (x0, y0) = layout.position(i).expect("original");
            let (x1, y1) = layout.position(1000 + i).expect("copy");
            let apart = ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt();
            assert!(apart > 0.0 && apart < 0.05, "copy of {i} is {apart} away");
        }
    }
}

#[test]
fn clusters_stay_apart_on_the_map() {
    let data = clustered_unit_vectors(400, 256, 5, 4, 1.0, 3);
    let mut stages = Vec::new();
    let layout = compute_layout(&data.vectors, &LayoutParams::default(), &CancelToken::new(), |p| {
        if stages.last() != Some(&p.stage) {
            stages.push(p.stage);
        }
    })
    .expect("layout");
    assert_eq!(stages, [LayoutStage::Pca, LayoutStage::Tsne]);
    assert_eq!(layout.len(), 400);
    assert_eq!(layout.n_tsne(), 400);
    let agreement = label_agreement(&layout, &data.labels, 10);
    assert!(agreement > 0.95, "cluster agreement {agreement} (a random map gives about 0.2)");
    let preserved = knn_preservation(&data.vectors, &layout, 10).expect("figure");
    assert!(preserved > 0.1, "10-NN preservation {preserved} (a random map gives about 0.025)");
    // Without PCA the map is just as good.
    let no_pca = LayoutParams { pca_dims: 0, ..LayoutParams::default() };
    let plain = compute_layout(&data.vectors, &no_pca, &CancelToken::new(), |_| {}).expect("layout");
    assert!(label_agreement(&plain, &data.labels, 10) > 0.95);
}

#[test]
fn tiny_and_degenerate_inputs_get_a_layout() {
    let data = clustered_unit_vectors(12, 256, 2, 1, 0.5, 5).vectors;
    for n in 0..=12 {
        let layout = compute_layout(&data[..n], &LayoutParams::default(), &CancelToken::new(), |_| {})
            .unwrap_or_else(|e| panic!("{n} tracks: {e}"));
        assert_eq!(layout.len(), n);
        assert!(in_unit_square(&layout), "{n} tracks: {layout:?}");
        let mut spots: Vec<(u32, u32)> =
            layout.points().iter().map(|p| (p.x.to_bits(), p.y.to_bits())).collect();
        spots.sort_unstable();
        spots.dedup();
        assert_eq!(spots.len(), n, "{n} tracks must not share a spot");
    }
    // Zero and NaN vectors are left out, not fatal.
    let mut bad = data[..5].to_vec();
    bad.push((900, vec![0.0; 256]));
    bad.push((901, vec![f32::NAN; 256]));
    let layout = compute_layout(&bad, &LayoutParams::default(), &CancelToken::new(), |_| {}).expect("layout");
    assert_eq!(layout.len(), 5);
    assert_eq!(layout.unusable_ids(), [900, 901]);
    // All identical: nothing to separate, still a layout.
    let same: Vec<(i64, Vec<f32>)> = (0..20).map(|i| (i, data[0].1.clone())).collect();
    let layout =
        compute_layout(&same, &LayoutParams::default(), &CancelToken::new(), |_| {}).expect("layout");
    assert_eq!(layout.len(), 20);
    assert!(in_unit_square(&layout));
    // Caller bugs are errors, not panics.
    let twice = vec![(1, data[0].1.clone()), (1, data[1].1.clone())];
    assert!(compute_layout(&twice, &LayoutParams::default(), &CancelToken::new(), |_| {}).is_err());
    let ragged = vec![(1, data[0].1.clone()), (2, vec![1.0, 0.0])];
    assert!(compute_layout(&ragged, &LayoutParams::default(), &CancelToken::new(), |_| {}).is_err());
}

#[test]
fn cancelling_stops_the_layout() {
    let data = clustered_unit_vectors(500, 256, 4, 1, 1.0, 9).vectors;
    let cancel = CancelToken::new();
    cancel.cancel();
    let err = compute_layout(&data, &LayoutParams::default(), &cancel, |_| {}).expect_err("cancelled");
    assert!(matches!(err, Error::Cancelled), "{err}");

    // Cancelled while t-SNE runs: the caller gets control back at once.
    let cancel = CancelToken::new();
    let started = std::time::Instant::now();
    let err = compute_layout(&data, &LayoutParams::default(), &cancel, |p| {
        if p.stage == LayoutStage::Tsne {
            cancel.cancel();
        }
    })
    .expect_err("cancelled");
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert!(started.elapsed().as_secs_f64() < 5.0);

    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("lib.db");
    library(&db, &[(MODEL_A, data)]);
    let cancel = CancelToken::new();
    cancel.cancel();
    let err =
        layout_for_library(&db, MODEL_A, &LayoutParams::default(), false, &cancel, |_| {}).expect_err("x");
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert!(Store::open(&db).expect("open").load_layout(MODEL_A).expect("load").is_none(), "nothing saved");
}

#[test]
fn place_new_puts_a_track_among_its_neighbours() {
    let data = clustered_unit_vectors(330, 256, 3, 1, 1.0, 21);
    let (old, new) = data.vectors.split_at(300);
    let layout = compute_layout(old, &LayoutParams::default(), &CancelToken::new(), |_| {}).expect("layout");
    let index = VectorIndex::from_pairs(data.vectors.clone()).expect("index");
    let placed = place_new(&layout, &index, new, 5);
    assert_eq!(placed.len(), 330);
    assert_eq!(placed.n_placed(), 30);
    assert!(in_unit_square(&placed));
    // Old points do not move.
    for p in layout.points() {
        assert_eq!(placed.get(p.track_id), Some(p));
    }
    let c = centroids(&layout, &data.labels);
    for (id, _) in new {
        let p = placed.get(*id).expect("placed");
        assert!(p.placed);
        assert_eq!(nearest_centroid(&c, (p.x, p.y)), data.labels[id], "track {id} landed in another cluster");
    }
    // A duplicate of a laid-out track lands right next to it, not on it.
    let twin = vec![(5000, old[7].1.clone())];
    let with_twin = place_new(&layout, &index, &twin, 5);
    let (a, b) = (layout.position(old[7].0).expect("old"), with_twin.position(5000).expect("twin"));
    let d = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    assert!(d > 0.0 && d < 0.02, "twin at distance {d}");
    // Same input, same placement.
    assert_eq!(place_new(&layout, &index, new, 5), placed);
}

/// One model version's name and its `(id, vector)` pairs.
type ModelVectors<'a> = (&'a str, Vec<(i64, Vec<f32>)>);

/// A library file with one track per vector id (ids as created, in order)
/// and each model's vectors; returns the track ids in vector order.
fn library(db: &Path, models: &[ModelVectors<'_>]) -> Vec<i64> {
    let mut store = Store::open(db).expect("open");
    let n = models.first().map_or(0, |(_, v)| v.len());
    let music = db.parent().expect("dir").join("music");
    let run = store.begin_run(&music).expect("run");
    let ops: Vec<WriteOp> = (0..n).map(|i| track_op(music.join(format!("{i:05}.ogg")), i)).collect();
    store.write_batch(run, &ops).expect("tracks");
    let ids = ids_in_insertion_order(&store);
    for (version, vectors) in models {
        register(&mut store, version);
        let items: Vec<(i64, Embedding)> = ids
            .iter()
            .zip(vectors)
            .map(|(&id, (_, v))| {
                (id, Embedding { clip_vectors: vec![], track_vector: v.clone(), tags: vec![] })
            })
            .collect();
        store.write_embeddings(version, &items).expect("embeddings");
    }
    ids
}

/// Track ids in the order the tracks were written (ids grow with each insert).
fn ids_in_insertion_order(store: &Store) -> Vec<i64> {
    let mut ids: Vec<i64> = store.tracks(true).expect("tracks").iter().map(|t| t.id).collect();
    ids.sort_unstable();
    ids
}

fn register(store: &mut Store, version: &str) {
    store
        .register_model(&ModelRow {
            version: version.into(),
            name: "test".into(),
            parent: None,
            config_json: "{}".into(),
        })
        .expect("register");
}

pub(crate) fn track_op(path: PathBuf, i: usize) -> WriteOp {
    WriteOp::Upsert(Box::new(TrackRecord {
        path,
        size_bytes: 100,
        mtime_ns: 0,
        fingerprint: format!("fp{i}").into_bytes(),
        tags: TrackTags { title: Some(format!("Track {i}")), ..TrackTags::default() },
        names_from_path: false,
        duration_s: 120.0,
        container: "ogg".into(),
        codec: "vorbis".into(),
        sample_rate_hz: 44_100,
        channels: 2,
        clips: vec![],
        model_output: None,
    }))
}

#[test]
fn the_layout_is_cached_per_model_in_the_library_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("lib.db");
    let a = clustered_unit_vectors(80, 256, 2, 1, 1.0, 1).vectors;
    let b = clustered_unit_vectors(80, 256, 4, 1, 1.0, 2).vectors;
    let ids = library(&db, &[(MODEL_A, a), (MODEL_B, b)]);
    let params = LayoutParams { max_iter: 400, ..LayoutParams::default() };
    let cancel = CancelToken::new();

    let first = layout_for_library(&db, MODEL_A, &params, false, &cancel, |_| {}).expect("map");
    assert_eq!(first.outcome, MapOutcome::Recomputed { reason: RecomputeReason::NoLayout });
    assert_eq!(first.layout.len(), 80);
    let again = layout_for_library(&db, MODEL_A, &params, false, &cancel, |_| {}).expect("map");
    assert_eq!(again.outcome, MapOutcome::Cached);
    assert_eq!(again.layout, first.layout, "the cache returns exactly what was computed");
    assert_eq!(again.computed_at_unix_s, first.computed_at_unix_s);

    let other = layout_for_library(&db, MODEL_B, &params, false, &cancel, |_| {}).expect("map");
    assert_eq!(other.outcome, MapOutcome::Recomputed { reason: RecomputeReason::NoLayout });
    assert_ne!(other.layout, first.layout);

    // Straight from the file, reopened.
    let store = Store::open(&db).expect("reopen");
    let stored_a = store.load_layout(MODEL_A).expect("load").expect("layout a");
    let stored_b = store.load_layout(MODEL_B).expect("load").expect("layout b");
    assert_eq!(stored_a.coords, first.layout.points());
    assert_eq!(stored_b.coords, other.layout.points());
    assert_eq!((stored_a.n_tracks, stored_a.model_version.as_str()), (80, MODEL_A));
    assert!(store.load_layout("no-such-model").expect("load").is_none());
    drop(store);

    let changed = LayoutParams { perplexity: 10.0, ..params.clone() };
    let re = layout_for_library(&db, MODEL_A, &changed, false, &cancel, |_| {}).expect("map");
    assert_eq!(re.outcome, MapOutcome::Recomputed { reason: RecomputeReason::ParamsChanged });
    let forced = layout_for_library(&db, MODEL_A, &changed, true, &cancel, |_| {}).expect("map");
    assert_eq!(forced.outcome, MapOutcome::Recomputed { reason: RecomputeReason::Forced });
    assert_eq!(forced.layout, re.layout, "same vectors and params: same layout");
    // Model B's layout was not touched by any of that.
    let store = Store::open(&db).expect("reopen");
    assert_eq!(store.load_layout(MODEL_B).expect("load").expect("b").coords, stored_b.coords);
    // The store API round-trips a layout as given, and refuses placed
    // points without a layout to place them on.
    let mut store = store;
    let hand = StoredLayout {
        model_version: MODEL_B.into(),
        params_json: "{}".into(),
        computed_at_unix_s: 1,
        n_tracks: 2,
        compute_s: 0.5,
        coords: vec![
            MapCoord { track_id: ids[0], x: -1.0, y: 0.25, placed: false },
            MapCoord { track_id: ids[1], x: 1.0, y: -0.25, placed: false },
        ],
    };
    store.save_layout(&hand).expect("save");
    assert_eq!(store.load_layout(MODEL_B).expect("load"), Some(hand.clone()));
    let extra = [MapCoord { track_id: ids[2], x: 0.5, y: 0.5, placed: true }];
    assert_eq!(store.add_placed_coords(MODEL_B, &extra).expect("placed"), 1);
    assert_eq!(store.load_layout(MODEL_B).expect("load").expect("b").coords.len(), 3);
    register(&mut store, "empty-model");
    assert!(store.add_placed_coords("empty-model", &extra).is_err());
}

#[test]
fn new_tracks_are_placed_until_a_recompute_is_due() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("lib.db");
    let data = clustered_unit_vectors(500, 256, 4, 1, 1.0, 13);
    // 400 tracks embedded now; 100 more arrive later, in two batches.
    let ids = library(&db, &[(MODEL_A, data.vectors[..400].to_vec())]);
    let params = LayoutParams { max_iter: 500, ..LayoutParams::default() };
    let cancel = CancelToken::new();
    let first = layout_for_library(&db, MODEL_A, &params, false, &cancel, |_| {}).expect("map");
    assert_eq!(first.layout.len(), 400);

    let mut store = Store::open(&db).expect("open");
    let music = dir.path().join("music");
    let run = store.begin_run(&music).expect("run");
    let ops: Vec<WriteOp> = (400..500).map(|i| track_op(music.join(format!("{i:05}.ogg")), i)).collect();
    store.write_batch(run, &ops).expect("tracks");
    let all_ids = ids_in_insertion_order(&store);
    assert_eq!(all_ids[..400], ids[..]);
    let embed = |store: &mut Store, range: std::ops::Range<usize>| {
        let items: Vec<(i64, Embedding)> = range
            .map(|i| {
                let v = data.vectors[i].1.clone();
                (all_ids[i], Embedding { clip_vectors: vec![], track_vector: v, tags: vec![] })
            })
            .collect();
        store.write_embeddings(MODEL_A, &items).expect("embed");
    };
    embed(&mut store, 400..440);
    // A zero vector never counts as new (it can never be placed).
    store
        .write_embeddings(
            MODEL_A,
            &[(all_ids[440], Embedding { clip_vectors: vec![], track_vector: vec![0.0; 256], tags: vec![] })],
        )
        .expect("embed");

    let placed = layout_for_library(&db, MODEL_A, &params, false, &cancel, |_| {}).expect("map");
    assert_eq!(placed.outcome, MapOutcome::Placed { n_new: 40 });
    assert_eq!((placed.layout.n_tsne(), placed.layout.n_placed()), (400, 40));
    assert_eq!(placed.layout.unusable_ids(), [all_ids[440]]);
    // Each new track lands in its own cluster; old tracks stay put.
    let labels: HashMap<i64, usize> = (0..500).map(|i| (all_ids[i], data.labels[&(i as i64)])).collect();
    let c = centroids(&first.layout, &labels);
    for &id in &all_ids[400..440] {
        let p = placed.layout.get(id).expect("placed");
        assert!(p.placed);
        assert_eq!(nearest_centroid(&c, (p.x, p.y)), labels[&id]);
    }
    for p in first.layout.points() {
        assert_eq!(placed.layout.get(p.track_id), Some(p));
    }
    let cached = layout_for_library(&db, MODEL_A, &params, false, &cancel, |_| {}).expect("map");
    assert_eq!(cached.outcome, MapOutcome::Cached);
    assert_eq!(cached.layout.points(), placed.layout.points());

    // 40 placed + 60 more > 20 % of 400: time for a new layout.
    embed(&mut store, 440..500);
    let re = layout_for_library(&db, MODEL_A, &params, false, &cancel, |_| {}).expect("map");
    assert_eq!(re.outcome, MapOutcome::Recomputed { reason: RecomputeReason::TooManyNew });
    assert_eq!((re.layout.n_tsne(), re.layout.n_placed()), (500, 0));
    assert!(re.layout.unusable_ids().is_empty());
}

#[test]
fn map_command_computes_then_reuses_the_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("lib.db");
    let data = clustered_unit_vectors(50, 256, 2, 1, 1.0, 4);
    let ids = library(&db, &[(MODEL_A, data.vectors.clone())]);
    // The user's tag on every track of cluster 0: the regions of that
    // cluster are named by it (the vectors carry no predicted tags).
    let alpha: Vec<i64> = data
        .vectors
        .iter()
        .zip(&ids)
        .filter(|((vid, _), _)| data.labels[vid] == 0)
        .map(|(_, &id)| id)
        .collect();
    Store::open(&db).expect("open").add_user_tags(&alpha, "moods", &["alpha"], TagSource::User).expect("tag");
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
            .env_remove("TUNEATLAS_DB")
            .env("RUST_LOG", "warn")
            .arg("--db")
            .arg(&db)
            .arg("map")
            .args(extra)
            .output()
            .expect("run");
        assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let first: serde_json::Value = serde_json::from_str(&run(&["--json"])).expect("json");
    assert_eq!(first["model_version"], MODEL_A);
    assert_eq!(first["n_tracks"], 50);
    assert_eq!(first["outcome"]["kind"], "recomputed");
    assert_eq!(first["outcome"]["reason"], "no_layout");
    assert_eq!(first["points"].as_array().expect("points").len(), 50);
    let regions = first["regions"].as_array().expect("regions");
    assert!(!regions.is_empty(), "{regions:?}");
    for region in regions {
        let members: Vec<i64> =
            region["track_ids"].as_array().expect("ids").iter().map(|id| id.as_i64().expect("id")).collect();
        assert_eq!(region["tags"][0]["tag"], "alpha", "only the tagged cluster stands out: {region}");
        assert!(members.iter().all(|id| alpha.contains(id)), "a region of cluster 0 only: {region}");
    }
    let second: serde_json::Value = serde_json::from_str(&run(&["--json"])).expect("json");
    assert_eq!(second["outcome"]["kind"], "cached");
    assert_eq!(second["points"], first["points"]);
    let text = run(&["--recompute", "--perplexity", "5"]);
    assert!(text.contains("map of 50 tracks") && text.contains("recomputed"), "{text}");
    assert!(text.contains("region: alpha"), "{text}");
}

/// The tag matrix behind map colours and the table's genre/mood columns:
/// every stored score lands in its (track, tag) cell, columns in genre,
/// style, mood, theme order, tags a track lacks read 0, and tracks whose
/// files went missing are left out.
#[test]
fn the_tag_matrix_holds_every_stored_score() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("lib.db");
    let vectors = clustered_unit_vectors(4, 8, 1, 1, 0.5, 1).vectors;
    let mut store = Store::open(&db).expect("open");
    let music = dir.path().join("music");
    let run = store.begin_run(&music).expect("run");
    let ops: Vec<WriteOp> = (0..4).map(|i| track_op(music.join(format!("{i}.ogg")), i)).collect();
    store.write_batch(run, &ops).expect("tracks");
    store.finish_run(run, RunStatus::Finished, &ImportCounts::default()).expect("finish");
    let ids = ids_in_insertion_order(&store);
    register(&mut store, MODEL_A);
    let score = |category: &str, tag: &str, score: f32| tuneatlas::store::TagScore {
        category: category.into(),
        tag: tag.into(),
        score,
    };
    let tags_of = |i: usize| match i {
        // One track lacks a tag; one has an extra one the others lack.
        1 => vec![score("mood", "calm", 0.5), score("genre", "rock", 0.25)],
        2 => vec![
            score("theme", "night", 0.75),
            score("mood", "calm", 0.125),
            score("genre", "rock", 1.0),
            score("genre", "jazz", 0.0625),
        ],
        _ => vec![
            score("genre", "rock", i as f32 / 10.0),
            score("mood", "calm", 0.9),
            score("genre", "jazz", 0.3),
        ],
    };
    let items: Vec<(i64, Embedding)> = ids
        .iter()
        .zip(&vectors)
        .enumerate()
        .map(|(i, (&id, (_, v)))| {
            (id, Embedding { clip_vectors: vec![], track_vector: v.clone(), tags: tags_of(i) })
        })
        .collect();
    store.write_embeddings(MODEL_A, &items).expect("embeddings");
    // The last track's file goes missing: a later run that sees only the others.
    let run = store.begin_run(&music).expect("run");
    let seen: Vec<WriteOp> = ids[..3].iter().map(|&id| WriteOp::Seen { id }).collect();
    store.write_batch(run, &seen).expect("seen");
    store.mark_missing(&music, run).expect("mark missing");
    let m = store.tag_matrix(MODEL_A).expect("matrix");
    let columns: Vec<(&str, &str)> = m.tags.iter().map(|(c, t)| (c.as_str(), t.as_str())).collect();
    assert_eq!(columns, [("genre", "jazz"), ("genre", "rock"), ("mood", "calm"), ("theme", "night")]);
    assert_eq!(m.track_ids, ids[..3]);
    assert_eq!(m.row(ids[0]), Some(&[0.3, 0.0, 0.9, 0.0][..]));
    assert_eq!(m.row(ids[1]), Some(&[0.0, 0.25, 0.5, 0.0][..]));
    assert_eq!(m.row(ids[2]), Some(&[0.0625, 1.0, 0.125, 0.75][..]));
    assert_eq!(m.row(ids[3]), None, "a missing track has no row");
    assert_eq!(m.top_tag(ids[2], "genre"), Some(("rock", 1.0)));
}
