//! `tuneatlas similar` and `tuneatlas tags` through the real binary, on a
//! real SQLite library with hand-made vectors and tag scores: neighbour
//! order, the album/artist exclusions, track lookup, and the errors a user
//! sees for an unknown track or a library that was never embedded.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tuneatlas::audio::decode::TrackTags;
use tuneatlas::store::{Embedding, ModelRow, Store, TagScore, TrackRecord, WriteOp};

const MODEL: &str = "test-model-1";

fn tuneatlas(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tuneatlas"));
    c.env_remove("TUNEATLAS_DB").env("RUST_LOG", "warn").arg("--db").arg(db);
    c
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn failure(out: &Output) -> String {
    assert!(!out.status.success(), "should fail; stdout: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn record(path: PathBuf, title: &str, artist: &str, album: &str) -> WriteOp {
    WriteOp::Upsert(Box::new(TrackRecord {
        path,
        size_bytes: 100,
        mtime_ns: 0,
        fingerprint: title.as_bytes().to_vec(),
        tags: TrackTags {
            title: Some(title.into()),
            artist: Some(artist.into()),
            album: Some(album.into()),
            ..TrackTags::default()
        },
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

fn tag(category: &str, tag: &str, score: f32) -> TagScore {
    TagScore { category: category.into(), tag: tag.into(), score }
}

/// One hand-made track: (title, artist, album, vector, tags).
type Fixture = (&'static str, &'static str, &'static str, Option<Vec<f32>>, Vec<TagScore>);

/// The library; the query is "Seed". Cosines to Seed: Wave 0.995, Shore
/// 0.954, Gull 0.902, Rock 0. "Silent" has no vector.
fn tracks() -> Vec<Fixture> {
    vec![
        (
            "Seed",
            "Tide",
            "Coast",
            Some(vec![1.0, 0.0, 0.0, 0.0]),
            vec![
                tag("genre", "ambient", 0.8),
                tag("genre", "electronic", 0.5),
                tag("genre", "rock", 0.1),
                tag("mood", "calm", 0.7),
                tag("theme", "sea", 0.6),
            ],
        ),
        (
            "Wave",
            "Tide",
            "Coast",
            Some(vec![0.99, 0.1, 0.0, 0.0]),
            vec![tag("genre", "ambient", 0.6), tag("mood", "calm", 0.4), tag("theme", "space", 0.9)],
        ),
        ("Shore", "Tide", "Inland", Some(vec![0.95, 0.3, 0.0, 0.0]), vec![tag("genre", "electronic", 0.9)]),
        ("Gull", "Sky", "Air", Some(vec![0.9, 0.0, 0.43, 0.0]), vec![]),
        ("Rock", "Stone", "Hard", Some(vec![0.0, 0.0, 0.0, 2.0]), vec![tag("genre", "rock", 0.95)]),
        ("Silent", "Null", "Void", None, vec![]),
    ]
}

/// Builds the library; returns the database path and the query track's file.
fn library(dir: &Path) -> (PathBuf, PathBuf) {
    let db = dir.join("lib.db");
    let mut store = Store::open(&db).expect("open");
    let music = dir.join("music");
    std::fs::create_dir_all(&music).expect("mkdir");
    let run = store.begin_run(&music).expect("run");
    let ops: Vec<WriteOp> = tracks()
        .iter()
        .map(|(title, artist, album, _, _)| {
            let path = music.join(format!("{title}.ogg"));
            std::fs::write(&path, title.as_bytes()).expect("write file");
            record(path.canonicalize().expect("canonical"), title, artist, album)
        })
        .collect();
    store.write_batch(run, &ops).expect("write tracks");
    store
        .register_model(&ModelRow {
            version: MODEL.into(),
            name: "test".into(),
            parent: None,
            config_json: "{}".into(),
        })
        .expect("register");
    let ids = id_map(&store);
    let items: Vec<(i64, Embedding)> = tracks()
        .into_iter()
        .filter_map(|(title, _, _, vector, tags)| {
            Some((ids(title), Embedding { clip_vectors: vec![], track_vector: vector?, tags }))
        })
        .collect();
    store.write_embeddings(MODEL, &items).expect("write embeddings");
    (db, music.join("Seed.ogg"))
}

fn id_map(store: &Store) -> impl Fn(&str) -> i64 + use<> {
    let rows = store.tracks(true).expect("tracks");
    move |title| rows.iter().find(|t| t.title == title).expect("track").id
}

fn titles(v: &serde_json::Value) -> Vec<String> {
    v["neighbors"]
        .as_array()
        .expect("neighbors")
        .iter()
        .map(|n| n["title"].as_str().expect("title").to_string())
        .collect()
}

#[test]
fn similar_orders_by_cosine_and_honours_exclusions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, seed_file) = library(dir.path());

    let all = json(&tuneatlas(&db).args(["similar", "Tide - Seed", "--json"]).output().expect("run"));
    assert_eq!(all["model_version"], MODEL);
    assert_eq!(all["query"]["title"], "Seed");
    assert_eq!(titles(&all), ["Wave", "Shore", "Gull", "Rock"]);
    let ranks: Vec<u64> = all["neighbors"]
        .as_array()
        .expect("array")
        .iter()
        .map(|n| n["rank"].as_u64().expect("rank"))
        .collect();
    assert_eq!(ranks, [1, 2, 3, 4]);
    let wave = &all["neighbors"][0];
    let expected = 1.0 - 0.99 / (0.99f64 * 0.99 + 0.01).sqrt();
    assert!((wave["distance"].as_f64().expect("distance") - expected).abs() < 1e-5, "{wave}");
    assert!((all["neighbors"][3]["distance"].as_f64().expect("distance") - 1.0).abs() < 1e-5);
    // Tags in common must stand out in both tracks relative to the library:
    // in a library of four scored tracks that is the top one only, so Seed
    // (the top "ambient" and "calm") shares none with Wave.
    assert_eq!(wave["common_tags"], serde_json::json!([]), "{wave}");
    // Seed and Wave are the library's closest pair: closer than the other 9 of 10.
    assert_eq!(wave["closer_than_percent"], 90.0, "{wave}");

    let k2 = json(&tuneatlas(&db).args(["similar", "seed", "-k", "2", "--json"]).output().expect("run"));
    assert_eq!(titles(&k2), ["Wave", "Shore"]);

    let no_album = json(
        &tuneatlas(&db).args(["similar", "Seed", "--exclude-same-album", "--json"]).output().expect("run"),
    );
    assert_eq!(titles(&no_album), ["Shore", "Gull", "Rock"]);

    let no_artist = json(
        &tuneatlas(&db).args(["similar", "Seed", "--exclude-same-artist", "--json"]).output().expect("run"),
    );
    assert_eq!(titles(&no_artist), ["Gull", "Rock"]);

    // The same query by file path and by id.
    let by_path = json(
        &tuneatlas(&db)
            .args(["similar", seed_file.to_str().expect("utf-8"), "--model", MODEL, "--json"])
            .output()
            .expect("run"),
    );
    assert_eq!(titles(&by_path), titles(&all));
    let seed_id = all["query"]["id"].as_i64().expect("id").to_string();
    let by_id = json(&tuneatlas(&db).args(["similar", &seed_id, "--json"]).output().expect("run"));
    assert_eq!(titles(&by_id), titles(&all));

    // The table for people.
    let out = tuneatlas(&db).args(["similar", "Seed"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("rank") && text.contains("distance") && text.contains("Wave"), "{text}");
    assert!(text.contains("0.005") && text.contains("closer than 90 % of pairs"), "{text}");
}

#[test]
fn similar_and_tags_fail_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, _) = library(dir.path());

    let err = failure(&tuneatlas(&db).args(["similar", "No Such Song"]).output().expect("run"));
    assert!(err.contains("no track matches \"No Such Song\""), "{err}");
    let err = failure(&tuneatlas(&db).args(["tags", "98765", "--json"]).output().expect("run"));
    assert!(err.contains("no track matches"), "{err}");
    // Ambiguous: three tracks by Tide.
    let err = failure(&tuneatlas(&db).args(["similar", "tide"]).output().expect("run"));
    assert!(err.contains("matches 3 tracks") && err.contains("Tide - Wave"), "{err}");
    let err = failure(&tuneatlas(&db).args(["similar", "Silent"]).output().expect("run"));
    assert!(err.contains("no vector for track") && err.contains("tuneatlas embed"), "{err}");
    let err = failure(&tuneatlas(&db).args(["tags", "Silent"]).output().expect("run"));
    assert!(err.contains("no tags for track") && err.contains("tuneatlas embed"), "{err}");
    let err = failure(&tuneatlas(&db).args(["similar", "Seed", "--model", "nope"]).output().expect("run"));
    assert!(err.contains("unknown model version nope") && err.contains(MODEL), "{err}");

    // A library that was imported but never embedded.
    let fresh = dir.path().join("fresh.db");
    drop(Store::open(&fresh).expect("open"));
    let err = failure(&tuneatlas(&fresh).args(["similar", "anything"]).output().expect("run"));
    assert!(err.contains("no vectors yet") && err.contains("tuneatlas embed"), "{err}");
    // A model registered but without vectors.
    let mut store = Store::open(&fresh).expect("open");
    store
        .register_model(&ModelRow {
            version: "empty-1".into(),
            name: "e".into(),
            parent: None,
            config_json: "{}".into(),
        })
        .expect("register");
    drop(store);
    let err = failure(&tuneatlas(&fresh).args(["tags", "anything"]).output().expect("run"));
    assert!(err.contains("no vectors for model empty-1 — run `tuneatlas embed`"), "{err}");
}

#[test]
fn tags_lists_categories_in_order_with_bars() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, _) = library(dir.path());

    let out = json(&tuneatlas(&db).args(["tags", "Seed", "--json"]).output().expect("run"));
    assert_eq!(out["model_version"], MODEL);
    assert_eq!(out["track"]["title"], "Seed");
    let cats: Vec<&str> = out["categories"]
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c["category"].as_str().expect("name"))
        .collect();
    assert_eq!(cats, ["genre", "style", "mood", "theme"]);
    let genre: Vec<&str> = out["categories"][0]["tags"]
        .as_array()
        .expect("array")
        .iter()
        .map(|t| t["tag"].as_str().expect("tag"))
        .collect();
    assert_eq!(genre, ["ambient", "electronic", "rock"]);
    assert!((out["categories"][0]["tags"][0]["score"].as_f64().expect("score") - 0.8).abs() < 1e-6);
    assert_eq!(out["categories"][1]["tags"].as_array().expect("array").len(), 0);

    let out = tuneatlas(&db).args(["tags", "Seed"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    // 0.80 → eight full cells.
    assert!(text.contains("████████ ") && text.contains("0.80") && text.contains("mood"), "{text}");
}
