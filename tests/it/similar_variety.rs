//! Variety and explanations of the similar list and the radio, on a real
//! SQLite library with hand-made vectors: the seed's copies never come back,
//! one artist cannot fill the list, and each neighbour is explained by tags
//! that stand out in the library and by the share of the library's pairs it
//! is closer than — through `tuneatlas similar` and the core's radio (the
//! window's agreement is in `gui.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

use tuneatlas::audio::decode::TrackTags;
use tuneatlas::browse::{ARTIST_WINDOW, LibrarySnapshot, SimilarOptions, radio};
use tuneatlas::store::{Embedding, ModelRow, Store, TagScore, TrackRecord, WriteOp};

const MODEL: &str = "variety-model";
const DIM: usize = 8;

/// One hand-made track.
struct Fixture {
    title: String,
    artist: String,
    fingerprint: String,
    duration_s: f64,
    vector: Vec<f32>,
    /// calm, sea, rock
    tags: [f32; 3],
}

/// A unit vector at cosine `cos` to the first axis, leaning towards axis `axis`.
fn toward(cos: f32, axis: usize) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    v[0] = cos;
    v[axis] = (1.0 - cos * cos).sqrt();
    v
}

fn fixture(title: &str, artist: &str, vector: Vec<f32>, tags: [f32; 3]) -> Fixture {
    Fixture {
        title: title.into(),
        artist: artist.into(),
        fingerprint: title.into(),
        duration_s: 120.0,
        vector,
        tags,
    }
}

/// 42 tracks around "Seed": its exact copy (same fingerprint), a remaster
/// (cosine 0.9995, half a second longer), an extended mix (as alike, but
/// three minutes longer: not a copy), six tracks by "Mono" nearer than
/// twelve tracks by twelve other artists (on an arc, in order), and twenty
/// far tracks. "calm" and "sea" stand out in Seed and Mono 1 only; "rock"
/// is high in every track, lowest in Seed.
fn fixtures() -> Vec<Fixture> {
    let mut all = vec![
        fixture("Seed", "Aardvark", toward(1.0, 1), [0.9, 0.5, 0.6]),
        Fixture {
            title: "Seed copy".into(),
            fingerprint: "Seed".into(),
            ..fixture("", "Copier", toward(0.98, 3), [0.1; 3])
        },
        Fixture { duration_s: 120.5, ..fixture("Seed remaster", "Remasterer", toward(0.9995, 2), [0.1; 3]) },
        Fixture { duration_s: 300.0, ..fixture("Seed extended", "Remixer", toward(0.9995, 4), [0.1; 3]) },
        fixture("Mono 1", "Mono", toward(0.99, 1), [0.8, 0.45, 0.65]),
    ];
    for i in 2..=6 {
        let cos = 0.99 - 0.001 * i as f32;
        all.push(fixture(&format!("Mono {i}"), "Mono", toward(cos, 1), [0.1 + 0.001 * i as f32, 0.02, 0.6]));
    }
    for i in 1..=12 {
        let cos = 0.97 - 0.005 * i as f32;
        // Neighbours on the arc are ≥ 0.999 alike: their lengths differ, so
        // they are not copies of each other.
        all.push(Fixture {
            duration_s: 120.0 + 10.0 * i as f64,
            ..fixture(
                &format!("Other {i}"),
                &format!("Artist {i}"),
                toward(cos, 5),
                [0.11 + 0.001 * i as f32, 0.021, 0.61 + 0.002 * i as f32],
            )
        });
    }
    for i in 1..=20 {
        // Spread over the other axes, away from the seed.
        let mut v = vec![0.0; DIM];
        v[0] = 0.1 * (i % 5) as f32 - 0.2;
        v[1 + i % 7] += 1.0;
        v[1 + (i * 3 + 1) % 7] += if i % 2 == 0 { 0.8 } else { -0.8 };
        all.push(fixture(
            &format!("Far {i}"),
            &format!("Far Artist {i}"),
            v,
            [0.12 + 0.001 * i as f32, 0.022 + 0.0001 * i as f32, 0.62 + 0.003 * i as f32],
        ));
    }
    all
}

/// Writes the library to `dir` and returns the database path.
pub fn library(dir: &Path) -> PathBuf {
    let db = dir.join("lib.db");
    let mut store = Store::open(&db).unwrap();
    let music = dir.join("music");
    std::fs::create_dir_all(&music).unwrap();
    let run = store.begin_run(&music).unwrap();
    let all = fixtures();
    let ops: Vec<WriteOp> = all
        .iter()
        .map(|f| {
            let path = music.join(format!("{}.ogg", f.title));
            std::fs::write(&path, f.title.as_bytes()).unwrap();
            WriteOp::Upsert(Box::new(TrackRecord {
                path: path.canonicalize().unwrap(),
                size_bytes: 100,
                mtime_ns: 0,
                fingerprint: f.fingerprint.as_bytes().to_vec(),
                tags: TrackTags {
                    title: Some(f.title.clone()),
                    artist: Some(f.artist.clone()),
                    album: Some(format!("{} album", f.title)),
                    ..TrackTags::default()
                },
                names_from_path: false,
                duration_s: f.duration_s,
                container: "ogg".into(),
                codec: "vorbis".into(),
                sample_rate_hz: 44_100,
                channels: 2,
                clips: vec![],
                model_output: None,
            }))
        })
        .collect();
    store.write_batch(run, &ops).unwrap();
    store
        .register_model(&ModelRow {
            version: MODEL.into(),
            name: "test".into(),
            parent: None,
            config_json: "{}".into(),
        })
        .unwrap();
    let rows = store.tracks(true).unwrap();
    let items: Vec<(i64, Embedding)> = all
        .into_iter()
        .map(|f| {
            let id = rows.iter().find(|t| t.title == f.title).unwrap().id;
            let tags = ["calm", "sea", "rock"]
                .iter()
                .zip(f.tags)
                .map(|(tag, score)| TagScore { category: "mood".into(), tag: (*tag).into(), score })
                .collect();
            (id, Embedding { clip_vectors: vec![], track_vector: f.vector, tags })
        })
        .collect();
    store.write_embeddings(MODEL, &items).unwrap();
    db
}

fn similar(db: &Path, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
        .env_remove("TUNEATLAS_DB")
        .env("RUST_LOG", "warn")
        .arg("--db")
        .arg(db)
        .args(["similar", "Aardvark - Seed", "--json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn titles(v: &serde_json::Value) -> Vec<String> {
    v["neighbors"].as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap().to_owned()).collect()
}

fn monos(titles: &[String]) -> usize {
    titles.iter().filter(|t| t.starts_with("Mono")).count()
}

#[test]
fn similar_lists_leave_out_copies_of_the_seed_and_cap_each_artist() {
    let dir = tempfile::tempdir().unwrap();
    let db = library(dir.path());

    let ten = titles(&similar(&db, &["-k", "10"]));
    assert_eq!(ten.len(), 10);
    assert_eq!(ten[0], "Seed extended", "as alike as the remaster, but another length: {ten:?}");
    for copy in ["Seed", "Seed copy", "Seed remaster"] {
        assert!(!ten.contains(&copy.to_owned()), "{copy} is the seed again: {ten:?}");
    }
    assert_eq!(monos(&ten), 2, "2 per 10 by default: {ten:?}");
    assert_eq!(&ten[1..4], ["Mono 1", "Mono 2", "Other 1"]);

    let twenty = titles(&similar(&db, &["-k", "20"]));
    for window in twenty.windows(ARTIST_WINDOW) {
        assert!(monos(window) <= 2, "{twenty:?}");
    }
    assert!(monos(&twenty) > 2, "capped tracks come back further down: {twenty:?}");

    let uncapped = titles(&similar(&db, &["-k", "10", "--per-artist", "0"]));
    assert_eq!(monos(&uncapped), 6, "{uncapped:?}");
    assert!(!uncapped.contains(&"Seed copy".to_owned()), "copies stay out without a cap");
    let three = similar(&db, &["-k", "10", "--per-artist", "3"]);
    assert_eq!(three["per_artist"], 3);
    assert_eq!(monos(&titles(&three)), 3);
}

#[test]
fn the_radio_follows_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let db = library(dir.path());
    let snapshot = LibrarySnapshot::load(&db, None).unwrap();
    let id = |title: &str| snapshot.tracks.iter().find(|t| t.title == title).unwrap().id;
    let title = |id: i64| snapshot.tracks.iter().find(|t| t.id == id).unwrap().title.clone();
    let seed = id("Seed");

    let station: Vec<i64> = radio(&snapshot, seed, 30, SimilarOptions::default());
    assert_eq!(station.len(), 30);
    let played: Vec<String> = std::iter::once(seed).chain(station.iter().copied()).map(title).collect();
    for copy in [id("Seed copy"), id("Seed remaster")] {
        assert!(!station.contains(&copy) && !station.contains(&seed), "{played:?}");
    }
    for window in played.windows(ARTIST_WINDOW) {
        assert!(monos(window) <= 2, "{played:?}");
    }

    let free = radio(&snapshot, seed, 10, SimilarOptions { per_artist: 0, ..SimilarOptions::default() });
    let free: Vec<String> = free.into_iter().map(title).collect();
    assert!(monos(&free) >= 4, "without a cap the nearest artist dominates: {free:?}");
    assert!(!free.contains(&"Seed copy".to_owned()));
}

#[test]
fn each_neighbour_is_explained_by_tags_that_stand_out_and_a_distance_percentile() {
    let dir = tempfile::tempdir().unwrap();
    let db = library(dir.path());
    let out = similar(&db, &["-k", "5"]);
    // 42 tracks: all 861 pairs, no sampling.
    assert_eq!(out["sampled_pairs"], 861);
    let mono = out["neighbors"].as_array().unwrap().iter().find(|n| n["title"] == "Mono 1").unwrap();
    let tags: Vec<&str> =
        mono["common_tags"].as_array().unwrap().iter().map(|t| t["tag"].as_str().unwrap()).collect();
    // Rock scores ≥ 0.6 in both, but in every other track too: it explains nothing.
    assert_eq!(tags, ["calm", "sea"], "{mono}");
    assert!(mono["common_tags"][0]["percentile_neighbor"].as_f64().unwrap() >= 80.0, "{mono}");

    // The percentile, recomputed here from the vectors written.
    let unit = |v: Vec<f32>| {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect::<Vec<f32>>()
    };
    let vectors: Vec<Vec<f32>> = fixtures().into_iter().map(|f| unit(f.vector)).collect();
    let mut pairs = Vec::new();
    for i in 0..vectors.len() {
        for j in i + 1..vectors.len() {
            pairs.push(1.0 - vectors[i].iter().zip(&vectors[j]).map(|(a, b)| a * b).sum::<f32>());
        }
    }
    let d = mono["distance"].as_f64().unwrap() as f32;
    let farther = pairs.iter().filter(|&&p| p > d + 1e-6).count() as f64 / pairs.len() as f64;
    let got = mono["closer_than_percent"].as_f64().unwrap();
    assert!((got - 100.0 * farther).abs() < 0.5, "{got} vs {}", 100.0 * farther);
    assert!(got > 80.0 && got < 100.0, "{got}");
    // Nearer neighbours beat more pairs.
    let percents: Vec<f64> = out["neighbors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["closer_than_percent"].as_f64().unwrap())
        .collect();
    assert!(percents.windows(2).all(|w| w[0] >= w[1]), "{percents:?}");

    let text = Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
        .env_remove("TUNEATLAS_DB")
        .arg("--db")
        .arg(&db)
        .args(["similar", "Aardvark - Seed", "-k", "5"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    let line = text.lines().find(|l| l.contains("Mono 1")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(&format!("closer than {} % of pairs", got.floor())), "{line}");
    assert!(line.contains("calm, sea"), "{line}");
}

fn run_ok(db: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
        .env_remove("TUNEATLAS_DB")
        .env("RUST_LOG", "warn")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The file names an M3U playlist lists, in order.
fn m3u_titles(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| Path::new(l).file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn several_seeds_give_their_centroids_neighbours_and_a_smooth_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = library(dir.path());

    // "Play similar to these": Others 3 and 4 lie side by side on an arc of twelve.
    let like = dir.path().join("like.m3u");
    let seeds = ["similar", "Artist 3 - Other 3", "Artist 4 - Other 4", "Other 3"];
    let out: serde_json::Value = serde_json::from_str(&run_ok(
        &db,
        &[&seeds[..], &["-k", "5", "--json", "--m3u", like.to_str().unwrap()]].concat(),
    ))
    .unwrap();
    assert_eq!(out["seeds"].as_array().unwrap().len(), 3, "as given");
    let listed = titles(&out);
    assert_eq!(listed.len(), 5);
    assert!(!listed.iter().any(|t| t == "Other 3" || t == "Other 4"), "never a seed: {listed:?}");
    let mut unique = listed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "no repeats: {listed:?}");
    let mut first_two = listed[..2].to_vec();
    first_two.sort();
    assert_eq!(first_two, ["Other 2", "Other 5"], "the centroid's neighbours on the arc: {listed:?}");
    assert_eq!(m3u_titles(&like), listed);

    // "Order as a smooth path": shuffled points of the arc come back in arc order.
    let ordered = dir.path().join("ordered.m3u");
    let shuffled = [
        "Artist 7 - Other 7",
        "Artist 2 - Other 2",
        "Artist 12 - Other 12",
        "Artist 1 - Other 1",
        "Artist 5 - Other 5",
    ];
    let out: serde_json::Value = serde_json::from_str(&run_ok(
        &db,
        &[&["path", "--order"][..], &shuffled, &["--json", "--m3u", ordered.to_str().unwrap()]].concat(),
    ))
    .unwrap();
    let order: Vec<String> =
        out["tracks"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect();
    let mut forward = vec!["Other 1", "Other 2", "Other 5", "Other 7", "Other 12"];
    if order[0] != "Other 1" {
        forward.reverse();
    }
    assert_eq!(order, forward);
    assert_eq!(m3u_titles(&ordered), order);
    assert!(
        out["tracks"][0]["step_distance"].is_null()
            && out["tracks"][1]["step_distance"].as_f64().unwrap() > 0.0
    );

    let text = run_ok(&db, &[&["path", "--order"][..], &shuffled].concat());
    assert!(text.contains("total distance"), "{text}");
    // Without --order a path has two ends.
    let out = Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
        .env_remove("TUNEATLAS_DB")
        .arg("--db")
        .arg(&db)
        .args([&["path"][..], &shuffled[..3]].concat())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("add --order"));
}
