//! Exports from a real SQLite library, each read back with a real parser:
//! M3U lines, CSV through the `csv` reader, JSON through serde_json, and
//! the Projector TSV pair row by row. Also: a failed export leaves no file
//! (and an existing one untouched), and `tuneatlas export` end to end.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use tuneatlas::audio::decode::TrackTags;
use tuneatlas::export::{
    ProjectorCounts, write_m3u, write_m3u_report, write_projector_tsv, write_tags_csv, write_tags_json,
};
use tuneatlas::store::{Embedding, ModelRow, Store, TagScore, TagSource, TrackRecord, TrackRow, WriteOp};

const MODEL: &str = "export-model-1";

fn tag(category: &str, tag: &str, score: f32) -> TagScore {
    TagScore { category: category.into(), tag: tag.into(), score }
}

/// (file name, title, artist, album, duration_s, vector, predicted tags)
type Fixture = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    f64,
    Option<Vec<f32>>,
    Vec<TagScore>,
);

fn fixtures() -> Vec<Fixture> {
    vec![
        (
            "a.ogg",
            "Harbour, \"Live\"",
            Some("Tide"),
            Some("Coast"),
            184.4,
            Some(vec![1.0, 0.0, 0.25]),
            vec![tag("genre", "ambient", 0.8125), tag("genre", "rock", 0.1), tag("mood", "calm", 0.7)],
        ),
        (
            "b c.ogg",
            "Tab\there\nand line",
            None,
            None,
            59.5,
            Some(vec![0.0, -1.5, 1.0e-3]),
            vec![tag("genre", "rock", 0.9), tag("mood", "dark", 0.6), tag("theme", "night", 0.3)],
        ),
        ("c.ogg", "Silent", Some("Null"), Some("Void"), 12.0, None, vec![]),
    ]
}

/// A library built from `fixtures()` with user tags; returns the store and
/// the tracks in fixture order.
fn library(dir: &Path) -> (Store, Vec<TrackRow>) {
    let mut store = Store::open(&dir.join("lib.db")).expect("open");
    let music = dir.join("music");
    std::fs::create_dir_all(&music).expect("mkdir");
    let run = store.begin_run(&music).expect("run");
    let ops: Vec<WriteOp> = fixtures()
        .iter()
        .map(|(file, title, artist, album, duration_s, _, _)| {
            WriteOp::Upsert(Box::new(TrackRecord {
                path: music.join(file),
                size_bytes: 100,
                mtime_ns: 0,
                fingerprint: file.as_bytes().to_vec(),
                tags: TrackTags {
                    title: Some(title.to_string()),
                    artist: artist.map(Into::into),
                    album: album.map(Into::into),
                    year: Some(2001),
                    ..TrackTags::default()
                },
                names_from_path: false,
                duration_s: *duration_s,
                container: "ogg".into(),
                codec: "vorbis".into(),
                sample_rate_hz: 44_100,
                channels: 2,
                clips: vec![],
                model_output: None,
            }))
        })
        .collect();
    store.write_batch(run, &ops).expect("write");
    store
        .register_model(&ModelRow {
            version: MODEL.into(),
            name: "t".into(),
            parent: None,
            config_json: "{}".into(),
        })
        .expect("register");
    let all = store.tracks(true).expect("tracks");
    let tracks: Vec<TrackRow> = fixtures()
        .iter()
        .map(|f| all.iter().find(|t| t.path == music.join(f.0)).expect("track").clone())
        .collect();
    let items: Vec<(i64, Embedding)> = fixtures()
        .into_iter()
        .zip(&tracks)
        .filter_map(|(f, t)| Some((t.id, Embedding { clip_vectors: vec![], track_vector: f.5?, tags: f.6 })))
        .collect();
    store.write_embeddings(MODEL, &items).expect("embeddings");
    store
        .add_user_tags(&[tracks[0].id, tracks[1].id], "tags", &["favourite"], TagSource::User)
        .expect("tags");
    store.add_user_tags(&[tracks[1].id], "moods", &["Late Night"], TagSource::User).expect("moods");
    (store, tracks)
}

/// Files in `dir` (names), to check no temporary file is left behind.
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn m3u_reads_back_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, tracks) = library(dir.path());
    let out = dir.path().join("out").join("list.m3u8");
    std::fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
    let order = [tracks[2].clone(), tracks[0].clone(), tracks[1].clone()];
    assert_eq!(write_m3u(&order, &out).expect("m3u"), 3);
    let text = std::fs::read_to_string(&out).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 2 * 3, "{text}");
    assert_eq!(lines[0], "#EXTM3U");
    let expected =
        [("12", "Null - Silent"), ("184", "Tide - Harbour, \"Live\""), ("60", "Tab here and line")];
    for (i, (t, (secs, name))) in order.iter().zip(expected).enumerate() {
        let info = lines[1 + 2 * i].strip_prefix("#EXTINF:").expect("EXTINF");
        let (d, n) = info.split_once(',').expect("comma");
        assert_eq!((d, n), (secs, name));
        let path = PathBuf::from(lines[2 + 2 * i]);
        assert!(path.is_absolute());
        assert_eq!(path, t.path);
    }
    assert_eq!(names_in(out.parent().expect("parent")), ["list.m3u8"]);
}

#[test]
fn tags_csv_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, tracks) = library(dir.path());
    let out = dir.path().join("tags.csv");
    assert_eq!(write_tags_csv(&store, &tracks, Some(MODEL), &out).expect("csv"), 3);
    let mut reader = csv::Reader::from_path(&out).expect("csv reader");
    let header: Vec<String> = reader.headers().expect("header").iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "track_id",
            "path",
            "title",
            "artist",
            "album",
            "duration_s",
            "predicted:genre:ambient",
            "predicted:genre:rock",
            "predicted:mood:calm",
            "predicted:mood:dark",
            "predicted:theme:night",
            "user:moods:late night",
            "user:tags:favourite",
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows");
    assert_eq!(rows.len(), 3);
    for (row, (t, f)) in rows.iter().zip(tracks.iter().zip(fixtures())) {
        let get = |name: &str| row.get(header.iter().position(|h| h == name).expect("column")).expect("cell");
        assert_eq!(get("track_id"), t.id.to_string());
        assert_eq!(get("path"), t.path.to_string_lossy());
        assert_eq!(get("title"), f.1, "quotes, commas and line breaks survive CSV quoting");
        assert_eq!(get("artist"), f.2.unwrap_or(""));
        assert_eq!(get("album"), f.3.unwrap_or(""));
        assert!((get("duration_s").parse::<f64>().expect("duration") - f.4).abs() < 1e-3);
        // Every predicted score reads back exactly; the others are empty.
        let stored: HashMap<String, f32> =
            f.6.iter().map(|s| (format!("predicted:{}:{}", s.category, s.tag), s.score)).collect();
        for name in header.iter().filter(|h| h.starts_with("predicted:")) {
            match stored.get(name) {
                Some(score) => assert_eq!(get(name).parse::<f32>().expect("score"), *score, "{name}"),
                None => assert_eq!(get(name), "", "{name}"),
            }
        }
        let user: Vec<(String, String)> = store.user_tags(t.id).expect("user tags");
        for name in header.iter().filter(|h| h.starts_with("user:")) {
            let has = user.iter().any(|(s, tag)| *name == format!("user:{s}:{tag}"));
            assert_eq!(get(name), if has { "1" } else { "" }, "{name}");
        }
    }
    // Without a model version: user tags only.
    let out = dir.path().join("user-only.csv");
    write_tags_csv(&store, &tracks, None, &out).expect("csv");
    let mut reader = csv::Reader::from_path(&out).expect("csv reader");
    let header = reader.headers().expect("header").clone();
    assert_eq!(header.len(), 6 + 2);
    assert!(!header.iter().any(|h| h.starts_with("predicted:")));
}

#[test]
fn tags_json_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, tracks) = library(dir.path());
    let out = dir.path().join("tags.json");
    write_tags_json(&store, &tracks, Some(MODEL), &out).expect("json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("valid JSON");
    assert_eq!(v["model_version"], MODEL);
    let list = v["tracks"].as_array().expect("tracks");
    assert_eq!(list.len(), 3);
    for (j, (t, f)) in list.iter().zip(tracks.iter().zip(fixtures())) {
        assert_eq!(j["id"], t.id);
        assert_eq!(j["path"], t.path.to_string_lossy().as_ref());
        assert_eq!(j["title"], f.1);
        assert_eq!(j["artist"], serde_json::json!(f.2));
        let mut got: Vec<(String, String, f32)> = Vec::new();
        for (category, tags) in j["predicted"].as_object().expect("predicted") {
            let scores: Vec<f64> =
                tags.as_array().expect("list").iter().map(|s| s["score"].as_f64().expect("score")).collect();
            assert!(scores.windows(2).all(|w| w[0] >= w[1]), "strongest first: {scores:?}");
            for s in tags.as_array().expect("list") {
                got.push((
                    category.clone(),
                    s["tag"].as_str().expect("tag").into(),
                    s["score"].as_f64().expect("score") as f32,
                ));
            }
        }
        let mut want: Vec<(String, String, f32)> =
            f.6.iter().map(|s| (s.category.clone(), s.tag.clone(), s.score)).collect();
        got.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        want.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        assert_eq!(got, want);
    }
    assert_eq!(list[0]["user"], serde_json::json!({"tags": ["favourite"]}));
    assert_eq!(list[1]["user"], serde_json::json!({"moods": ["late night"], "tags": ["favourite"]}));
    assert_eq!(list[2]["user"], serde_json::json!({}));
    // An empty selection is still valid JSON.
    write_tags_json(&store, &[], None, &out).expect("empty");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("valid JSON");
    assert_eq!(v, serde_json::json!({"model_version": null, "tracks": []}));
}

#[test]
fn projector_files_stay_row_aligned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, tracks) = library(dir.path());
    let (vectors, metadata) = (dir.path().join("vectors.tsv"), dir.path().join("metadata.tsv"));
    let counts = write_projector_tsv(&store, &tracks, MODEL, &vectors, &metadata).expect("projector");
    assert_eq!(counts, ProjectorCounts { rows: 2, without_vector: 1 });
    let vtext = std::fs::read_to_string(&vectors).expect("vectors");
    let mtext = std::fs::read_to_string(&metadata).expect("metadata");
    let vrows: Vec<Vec<f32>> =
        vtext.lines().map(|l| l.split('\t').map(|x| x.parse::<f32>().expect("float")).collect()).collect();
    let mrows: Vec<Vec<&str>> = mtext.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(vrows.len(), 2);
    assert_eq!(mrows.len(), 1 + 2, "header + one row per vector row: {mtext}");
    assert_eq!(
        mrows[0],
        [
            "track_id",
            "title",
            "artist",
            "album",
            "year",
            "top_genre",
            "top_style",
            "top_mood",
            "top_theme",
            "user_tags"
        ]
    );
    assert!(mrows.iter().all(|r| r.len() == mrows[0].len()), "{mrows:?}");
    for (i, t) in tracks[..2].iter().enumerate() {
        assert_eq!(vrows[i], store.track_vector(t.id, MODEL).expect("vector").expect("some"));
        assert_eq!(mrows[1 + i][0], t.id.to_string());
    }
    assert_eq!(
        mrows[1][1..],
        ["Harbour, \"Live\"", "Tide", "Coast", "2001", "ambient", "", "calm", "", "tags:favourite"]
    );
    assert_eq!(
        mrows[2][1..],
        [
            "Tab here and line",
            "",
            "",
            "2001",
            "rock",
            "",
            "dark",
            "night",
            "moods:late night, tags:favourite"
        ]
    );
}

#[test]
fn a_failed_export_leaves_no_file_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, tracks) = library(dir.path());
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).expect("mkdir");
    let out = out_dir.join("list.m3u");
    std::fs::write(&out, "#EXTM3U\nold\n").expect("old playlist");
    // A path with a line break cannot be a playlist line: that track is
    // left out and named, the rest is written.
    let mut bad = tracks[1].clone();
    bad.path = PathBuf::from("/music/two\nlines.ogg");
    let report = write_m3u_report(&[tracks[0].clone(), bad.clone()], &out).expect("the rest is written");
    assert_eq!((report.written, report.skipped), (1, vec![(bad.id, bad.path.clone())]));
    let text = std::fs::read_to_string(&out).expect("read");
    assert!(text.starts_with("#EXTM3U\n#EXTINF:") && !text.contains("two"), "{text}");
    assert_eq!(names_in(&out_dir), ["list.m3u"]);
    std::fs::write(&out, "#EXTM3U\nold\n").expect("old playlist");
    // A folder that does not exist: the error names the file.
    let missing = dir.path().join("nowhere").join("list.m3u");
    let err = write_m3u(&tracks, &missing).expect_err("no folder").to_string();
    assert!(err.contains("nowhere/list.m3u"), "{err}");
    assert!(!missing.exists());
    // A folder as the destination.
    let err = write_m3u(&tracks, &out_dir).expect_err("folder").to_string();
    assert!(err.contains("folder"), "{err}");
    assert_eq!(names_in(&out_dir), ["list.m3u"]);
}

fn tuneatlas(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tuneatlas"));
    c.env_remove("TUNEATLAS_DB").env("RUST_LOG", "warn").arg("--db").arg(db);
    c
}

#[test]
fn export_command_writes_each_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, tracks) = library(dir.path());
    let db = store.path().to_path_buf();
    drop(store);
    let run = |args: &[&str]| {
        let out = tuneatlas(&db).args(args).output().expect("run");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let m3u = dir.path().join("pick.m3u");
    let (first, second) = (tracks[1].id.to_string(), tracks[0].id.to_string());
    let text = run(&["export", "m3u", "--out", m3u.to_str().expect("utf-8"), "--tracks", &first, &second]);
    assert!(text.contains("wrote 2 track(s)"), "{text}");
    let paths: Vec<String> = std::fs::read_to_string(&m3u)
        .expect("read")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(String::from)
        .collect();
    assert_eq!(paths, [tracks[1].path.to_string_lossy(), tracks[0].path.to_string_lossy()]);

    let csv_out = dir.path().join("all.csv");
    run(&["export", "tags-csv", "--out", csv_out.to_str().expect("utf-8")]);
    assert_eq!(csv::Reader::from_path(&csv_out).expect("csv").records().count(), 3);

    let json_out = dir.path().join("all.json");
    run(&["export", "tags-json", "--model", MODEL, "--out", json_out.to_str().expect("utf-8")]);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_out).expect("read")).expect("json");
    assert_eq!(v["tracks"].as_array().expect("tracks").len(), 3);

    let proj = dir.path().join("projector");
    let text = run(&["export", "projector", "--out", proj.to_str().expect("utf-8")]);
    assert!(text.contains("1 without a vector left out"), "{text}");
    assert_eq!(std::fs::read_to_string(proj.join("vectors.tsv")).expect("vectors").lines().count(), 2);
    assert_eq!(std::fs::read_to_string(proj.join("metadata.tsv")).expect("metadata").lines().count(), 3);

    let out = tuneatlas(&db)
        .args(["export", "tags-csv", "--model", "nope", "--out", "x.csv"])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown model version nope"), "{out:?}");
}
