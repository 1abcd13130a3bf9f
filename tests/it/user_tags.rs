//! User tags on a real SQLite library: normalisation, tag sets kept apart,
//! one transaction per call (a bad tag writes nothing), survival across
//! re-import and reopening, the cascade when a track is deleted, and the
//! `tuneatlas tag` command.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tuneatlas::audio::decode::TrackTags;
use tuneatlas::store::{DEFAULT_TAG_SET, Store, TagSource, TrackRecord, WriteOp};

fn record(path: PathBuf, title: &str, artist: &str) -> WriteOp {
    WriteOp::Upsert(Box::new(TrackRecord {
        path,
        size_bytes: 100,
        mtime_ns: 0,
        fingerprint: title.as_bytes().to_vec(),
        tags: TrackTags { title: Some(title.into()), artist: Some(artist.into()), ..TrackTags::default() },
        names_from_path: false,
        duration_s: 90.0,
        container: "ogg".into(),
        codec: "vorbis".into(),
        sample_rate_hz: 44_100,
        channels: 2,
        clips: vec![],
        model_output: None,
    }))
}

const TITLES: [&str; 3] = ["Harbour", "Night Drive", "Static"];

/// A library of three tracks; returns the store and the ids in `TITLES` order.
fn library(dir: &Path) -> (Store, Vec<i64>) {
    let mut store = Store::open(&dir.join("lib.db")).expect("open");
    let run = store.begin_run(dir).expect("run");
    let ops: Vec<WriteOp> = TITLES.iter().map(|t| record(dir.join(format!("{t}.ogg")), t, "Tide")).collect();
    store.write_batch(run, &ops).expect("write");
    let rows = store.tracks(true).expect("tracks");
    let ids = TITLES.iter().map(|t| rows.iter().find(|r| r.title == *t).expect("track").id).collect();
    (store, ids)
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn tags_are_normalised_and_sets_kept_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, ids) = library(dir.path());
    let (a, b, c) = (ids[0], ids[1], ids[2]);

    assert_eq!(store.tag_sets().expect("sets"), [DEFAULT_TAG_SET]);
    // Messy spellings of one tag count once.
    let added = store
        .add_user_tags(
            &[a, b],
            DEFAULT_TAG_SET,
            &["  Late \t Night ", "late night", "Favourite"],
            TagSource::User,
        )
        .expect("add");
    assert_eq!(added, 4);
    // Re-adding is a no-op.
    assert_eq!(store.add_user_tags(&[a], "tags", &["LATE NIGHT"], TagSource::User).expect("again"), 0);
    // A second set, its name normalised too; "calm" exists in both sets independently.
    assert_eq!(store.add_user_tags(&[a, c], " Moods ", &["Calm"], TagSource::Csv).expect("moods"), 2);
    assert_eq!(store.add_user_tags(&[b], "tags", &["calm"], TagSource::File).expect("tags calm"), 1);

    assert_eq!(store.tag_sets().expect("sets"), ["moods", "tags"]);
    assert_eq!(
        store.user_tags(a).expect("a"),
        pairs(&[("moods", "calm"), ("tags", "favourite"), ("tags", "late night")])
    );
    assert_eq!(
        store.user_tags(b).expect("b"),
        pairs(&[("tags", "calm"), ("tags", "favourite"), ("tags", "late night")])
    );
    assert_eq!(store.user_tags(c).expect("c"), pairs(&[("moods", "calm")]));

    let moods = store.all_user_tags(Some("MOODS")).expect("moods");
    assert_eq!(moods, vec![(a, "moods".to_string(), "calm".to_string()), (c, "moods".into(), "calm".into())]);
    let all = store.all_user_tags(None).expect("all");
    assert_eq!(all.len(), 7);
    assert!(all.windows(2).all(|w| (w[0].0, &w[0].1, &w[0].2) < (w[1].0, &w[1].1, &w[1].2)), "{all:?}");
    assert!(store.all_user_tags(Some("occasions")).expect("unknown set").is_empty());

    assert_eq!(
        store.tag_counts("tags").expect("counts"),
        vec![("favourite".to_string(), 2), ("late night".to_string(), 2), ("calm".to_string(), 1)]
    );
    assert_eq!(store.tag_counts("moods").expect("counts"), vec![("calm".to_string(), 2)]);

    // Removing "calm" from the moods set leaves the "calm" of the tags set.
    assert_eq!(store.remove_user_tags(&[a, b, c], "moods", &[" CALM"]).expect("rm"), 2);
    assert_eq!(
        store.user_tags(b).expect("b"),
        pairs(&[("tags", "calm"), ("tags", "favourite"), ("tags", "late night")])
    );
    assert!(store.tag_counts("moods").expect("counts").is_empty());
    // The emptied set stays; removing from an unknown set removes nothing.
    assert_eq!(store.tag_sets().expect("sets"), ["moods", "tags"]);
    assert_eq!(store.remove_user_tags(&[a], "occasions", &["calm"]).expect("rm unknown"), 0);

    // The source is recorded as given.
    let source: String = store
        .connection()
        .query_row(
            "SELECT source FROM user_tags u JOIN tag_sets s ON s.id = u.set_id WHERE u.track_id = ?1 AND tag = 'calm'",
            [b],
            |r| r.get(0),
        )
        .expect("source");
    assert_eq!(source, "file");
}

#[test]
fn a_bad_call_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, ids) = library(dir.path());
    let err = store.add_user_tags(&ids, "tags", &["fine", " \t "], TagSource::User).expect_err("empty tag");
    assert!(err.to_string().contains("cannot be empty"), "{err}");
    let err = store.add_user_tags(&ids, "  ", &["fine"], TagSource::User).expect_err("empty set");
    assert!(err.to_string().contains("cannot be empty"), "{err}");
    // An unknown track after a good one: the good one is not tagged either.
    let err =
        store.add_user_tags(&[ids[0], 987_654], "new set", &["fine"], TagSource::User).expect_err("unknown");
    assert!(err.to_string().contains("no track with id 987654"), "{err}");
    assert!(store.all_user_tags(None).expect("all").is_empty());
    assert_eq!(store.tag_sets().expect("sets"), ["tags"], "the new set was not created either");
}

#[test]
fn tags_survive_reimport_and_reopen_and_cascade_on_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("lib.db");
    let (mut store, ids) = library(dir.path());
    store.add_user_tags(&ids, "moods", &["calm"], TagSource::User).expect("add");
    store.add_user_tags(&ids[..1], "tags", &["keep"], TagSource::User).expect("add");
    // The file changed and is imported again: same id, user tags kept.
    let run = store.begin_run(dir.path()).expect("run");
    store
        .write_batch(run, &[record(dir.path().join("Harbour.ogg"), "Harbour (remaster)", "Tide")])
        .expect("reimport");
    assert_eq!(store.track(ids[0]).expect("track").expect("present").title, "Harbour (remaster)");
    assert_eq!(store.user_tags(ids[0]).expect("tags"), pairs(&[("moods", "calm"), ("tags", "keep")]));
    drop(store);

    let store = Store::open(&db).expect("reopen");
    assert_eq!(store.all_user_tags(None).expect("all").len(), 4);
    // Deleting a track takes its tags with it (foreign key cascade).
    store.connection().execute("DELETE FROM tracks WHERE id = ?1", [ids[0]]).expect("delete");
    assert!(store.user_tags(ids[0]).expect("tags").is_empty());
    let left: Vec<i64> = store.all_user_tags(None).expect("all").into_iter().map(|(id, _, _)| id).collect();
    assert_eq!(left, [ids[1], ids[2]]);
    assert_eq!(store.tag_counts("tags").expect("counts"), Vec::<(String, usize)>::new());
    assert!(store.integrity_ok().expect("integrity"));
}

fn tuneatlas(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tuneatlas"));
    c.env_remove("TUNEATLAS_DB").env("RUST_LOG", "warn").arg("--db").arg(db);
    c
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tag_command_adds_lists_and_removes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, ids) = library(dir.path());
    let db = store.path().to_path_buf();
    drop(store);
    let (a, b) = (ids[0].to_string(), ids[1].to_string());

    let text = ok(&tuneatlas(&db)
        .args(["tag", "add", "--set", "Moods", &a, "tide - night drive", "--tag", "Calm", "late  NIGHT"])
        .output()
        .expect("run"));
    assert!(text.contains("added 4 tag(s)") && text.contains("\"moods\""), "{text}");
    ok(&tuneatlas(&db).args(["tag", "add", &a, "-t", "favourite"]).output().expect("run"));

    let listed: serde_json::Value = serde_json::from_str(&ok(&tuneatlas(&db)
        .args(["tag", "list", "--json", &a, &b])
        .output()
        .expect("run")))
    .expect("json");
    assert_eq!(listed[0]["tags"]["moods"], serde_json::json!(["calm", "late night"]));
    assert_eq!(listed[0]["tags"]["tags"], serde_json::json!(["favourite"]));
    assert_eq!(listed[1]["title"], "Night Drive");
    assert!(listed[1]["tags"].get("tags").is_none(), "{listed}");

    let summary: serde_json::Value =
        serde_json::from_str(&ok(&tuneatlas(&db).args(["tag", "list", "--json"]).output().expect("run")))
            .expect("json");
    assert_eq!(summary["moods"][0], serde_json::json!({"tag": "calm", "tracks": 2}));
    assert_eq!(summary["tags"], serde_json::json!([{"tag": "favourite", "tracks": 1}]));

    let text = ok(&tuneatlas(&db)
        .args(["tag", "rm", "--set", "moods", &a, &b, "--tag", "calm"])
        .output()
        .expect("run"));
    assert!(text.contains("removed 2 tag(s)"), "{text}");
    let text = ok(&tuneatlas(&db).args(["tag", "list", "--set", "moods"]).output().expect("run"));
    assert!(text.contains("late night") && !text.contains("calm") && !text.contains("favourite"), "{text}");

    // Errors a user can act on.
    let out = tuneatlas(&db).args(["tag", "add", &a, "--tag", "  "]).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be empty"));
    let out = tuneatlas(&db).args(["tag", "rm", "--set", "nope", &a, "--tag", "x"]).output().expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no tag set named \"nope\""), "{out:?}");
    let out = tuneatlas(&db).args(["tag", "add", "no such song", "--tag", "x"]).output().expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no track matches"), "{out:?}");
}
