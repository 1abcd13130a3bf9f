//! Import pipeline end to end: real fixture files in mixed formats, bad files
//! of every kind, a real SQLite file, then re-import, rename, change, delete.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tuneatlas::Error;
use tuneatlas::jobs::CancelToken;
use tuneatlas::library::{ImportEvent, ImportOptions, ImportSummary, Outcome, import_folder};
use tuneatlas::store::{RunStatus, SCHEMA_VERSION, Store};

use crate::common::{fixture, without_root_file_access, write_wav};

fn import(store: &mut Store, root: &Path) -> ImportSummary {
    import_folder(store, root, &ImportOptions::default(), &CancelToken::new(), |_| {}).expect("import runs")
}

fn copy(from: &str, to: &Path) {
    std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
    std::fs::copy(fixture(from), to).expect("copy fixture");
}

/// The good files of the mixed library, relative to its root.
const GOOD: &[(&str, &str)] = &[
    ("chirp10_mp3.mp3", "Artist A/Album X/01 - chirp.mp3"),
    ("chirp10_vorbis.ogg", "Artist A/Album X/02 - vorbis.ogg"),
    ("chirp10_opus.opus", "opus/chirp.opus"),
    ("chirp10_flac.flac", "flac/chirp.flac"),
    ("chirp10_aac.m4a", "m4a/chirp.m4a"),
    ("chirp2_wav.wav", "short/two seconds.wav"),
    ("chirp5_aiff.aiff", "short/five.aiff"),
    ("chirp21_mp3.mp3", "long/K2.mp3"),
    ("notags_noxing.mp3", "Some Band/Untagged Album/07 Nameless_Tune.mp3"),
    // wrong extension: an MP3 called .txt is still audio
    ("chirp10_mp3.mp3", "misc/actually an mp3.txt"),
    // names with quotes, unicode, spaces
    ("chirp10_flac.flac", "misc/it's \"quoted\" – ünïcødé 日本 song.flac"),
];

/// Builds the mixed library; returns the bad files that must be reported.
fn build_library(root: &Path) -> Vec<PathBuf> {
    for (from, to) in GOOD {
        copy(from, &root.join(to));
    }
    let bad = root.join("bad");
    std::fs::create_dir_all(&bad).expect("mkdir");
    let mut bad_files = vec![];
    // zero bytes
    std::fs::write(bad.join("zero.mp3"), b"").expect("write");
    bad_files.push(bad.join("zero.mp3"));
    // text with an audio extension
    std::fs::write(bad.join("notes.ogg"), "these are liner notes, not audio\n".repeat(50)).expect("write");
    bad_files.push(bad.join("notes.ogg"));
    // unsupported codecs
    for f in ["unsupported_ac3.mka", "unsupported_speex.ogg", "unsupported_wma.wma"] {
        copy(f, &bad.join(f));
        bad_files.push(bad.join(f));
    }
    // truncated inside the headers: nothing decodable left
    let ogg = std::fs::read(fixture("chirp10_vorbis.ogg")).expect("read");
    std::fs::write(bad.join("truncated.ogg"), &ogg[..200]).expect("write");
    bad_files.push(bad.join("truncated.ogg"));
    // corrupt: random bytes where the FLAC header should be
    let mut flac = std::fs::read(fixture("chirp10_flac.flac")).expect("read");
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for b in flac.iter_mut().take(4096) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(bad.join("corrupt.flac"), &flac).expect("write");
    bad_files.push(bad.join("corrupt.flac"));
    // a picture is not audio: ignored, not an error
    copy("not_audio.png", &bad.join("cover.png"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::os::unix::fs::symlink(root, root.join("misc/loop")).expect("symlink");
        copy("chirp10_mp3.mp3", &bad.join("locked.mp3"));
        std::fs::set_permissions(bad.join("locked.mp3"), std::fs::Permissions::from_mode(0o000))
            .expect("chmod");
        bad_files.push(bad.join("locked.mp3"));
    }
    bad_files
}

fn by_path(store: &Store) -> HashMap<PathBuf, tuneatlas::store::TrackRow> {
    store.tracks(true).expect("tracks").into_iter().map(|t| (t.path.clone(), t)).collect()
}

#[test]
fn mixed_library_then_reimport_rename_change_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("lib");
    let bad_files = build_library(&root);
    let root = root.canonicalize().expect("canonical");
    let bad_files: Vec<PathBuf> = bad_files
        .iter()
        .map(|p| root.join(p.strip_prefix(dir.path().join("lib")).expect("under root")))
        .collect();
    let mut store = Store::open(&dir.path().join("library.db")).expect("open store");

    // 1. First import.
    let s = without_root_file_access(|| import(&mut store, &root));
    assert_eq!(s.status, RunStatus::Finished);
    assert_eq!(s.counts.new, GOOD.len(), "failures: {:#?}", s.failures);
    assert_eq!(s.counts.failed, bad_files.len(), "failures: {:#?}", s.failures);
    assert_eq!(s.n_not_audio, 1);
    let failed: HashMap<&PathBuf, &String> = s.failures.iter().map(|(p, r)| (p, r)).collect();
    for bad in &bad_files {
        let reason =
            failed.get(bad).unwrap_or_else(|| panic!("{} not reported: {:#?}", bad.display(), s.failures));
        assert!(!reason.is_empty());
    }
    assert!(failed[&root.join("bad/locked.mp3")].contains("permission denied"), "{failed:#?}");
    assert!(failed[&root.join("bad/zero.mp3")].contains("empty"), "{failed:#?}");
    for f in ["unsupported_ac3.mka", "unsupported_speex.ogg", "unsupported_wma.wma"] {
        assert!(failed[&root.join("bad").join(f)].contains("unsupported"), "{f}: {failed:#?}");
    }
    assert_eq!(s.skipped.len(), 1, "{:#?}", s.skipped);
    assert!(s.skipped[0].1.contains("symlink loop"));

    let tracks = by_path(&store);
    assert_eq!(tracks.len(), GOOD.len());
    for (_, rel) in GOOD {
        let t = &tracks[&root.join(rel)];
        assert!(t.n_clips >= 1 && t.duration_s > 1.0, "{t:?}");
        let clips = store.clips(t.id).expect("clips");
        assert_eq!(clips.len() as u32, t.n_clips);
        assert!(clips.iter().all(|c| c.rms_db > -60.0), "chirp clips are not silent: {clips:?}");
    }
    let k2 = &tracks[&root.join("long/K2.mp3")];
    assert_eq!(k2.n_clips, 2);
    let starts: Vec<f64> = store.clips(k2.id).expect("clips").iter().map(|c| c.start_s).collect();
    assert!((starts[0] - 3.0).abs() < 1e-6 && (starts[1] - 15.0).abs() < 0.05, "{starts:?}");
    let tagged = &tracks[&root.join("Artist A/Album X/01 - chirp.mp3")];
    assert_eq!(tagged.title, "Chirp MP3");
    assert_eq!(tagged.artist.as_deref(), Some("Tuneatlas Test"));
    assert!(!tagged.names_from_path);
    let untagged = &tracks[&root.join("Some Band/Untagged Album/07 Nameless_Tune.mp3")];
    assert!(untagged.names_from_path);
    assert_eq!(
        (
            untagged.title.as_str(),
            untagged.artist.as_deref(),
            untagged.album.as_deref(),
            untagged.track_number
        ),
        ("Nameless Tune", Some("Some Band"), Some("Untagged Album"), Some(7))
    );
    let errors = store.errors().expect("errors");
    assert_eq!(errors.len(), bad_files.len() + 1, "{errors:#?}");

    // 2. Nothing changed: everything unchanged, bad files not retried.
    let s = without_root_file_access(|| import(&mut store, &root));
    assert_eq!(
        (s.counts.new, s.counts.updated, s.counts.moved, s.counts.failed, s.counts.missing),
        (0, 0, 0, 0, 0),
        "{s:#?}"
    );
    assert_eq!(s.counts.unchanged, GOOD.len() + bad_files.len());
    assert_eq!(s.n_known_bad, bad_files.len());

    // 3. Rename + move to another folder: same id, same data.
    let old = root.join("flac/chirp.flac");
    let new = root.join("renamed/moved chirp.flac");
    let old_id = tracks[&old].id;
    let old_clips = store.clips(old_id).expect("clips");
    std::fs::create_dir_all(new.parent().expect("parent")).expect("mkdir");
    std::fs::rename(&old, &new).expect("rename");
    // 4. Change a file's content in place: re-processed, same id.
    let changed = root.join("Artist A/Album X/01 - chirp.mp3");
    let changed_id = tracks[&changed].id;
    std::fs::copy(fixture("chirp21_mp3.mp3"), &changed).expect("overwrite");
    // 5. Delete one: marked missing, data kept.
    let deleted = root.join("opus/chirp.opus");
    let deleted_id = tracks[&deleted].id;
    std::fs::remove_file(&deleted).expect("delete");

    let s = without_root_file_access(|| import(&mut store, &root));
    assert_eq!((s.counts.new, s.counts.updated, s.counts.moved, s.counts.missing), (0, 1, 1, 1), "{s:#?}");
    let tracks = by_path(&store);
    assert_eq!(tracks[&new].id, old_id);
    assert_eq!(store.clips(old_id).expect("clips"), old_clips);
    assert!(!tracks.contains_key(&old));
    assert_eq!(tracks[&changed].id, changed_id);
    assert_eq!(tracks[&changed].n_clips, 2);
    assert_eq!(tracks[&deleted].id, deleted_id);
    assert_eq!(tracks[&deleted].status, "missing");
    assert_eq!(store.tracks(false).expect("tracks").len(), GOOD.len() - 1);

    // 6. The deleted file comes back: found again with its id.
    copy("chirp10_opus.opus", &deleted);
    let s = without_root_file_access(|| import(&mut store, &root));
    assert_eq!((s.counts.new, s.counts.updated + s.counts.moved), (0, 1), "{s:#?}");
    assert_eq!(by_path(&store)[&deleted].id, deleted_id);
    assert_eq!(by_path(&store)[&deleted].status, "ok");
    assert!(store.integrity_ok().expect("integrity"));
}

#[test]
fn cancel_keeps_what_was_done_and_rerun_finishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("lib");
    for i in 0..12 {
        write_wav(&root.join(format!("a/{i:02}.wav")), 8.0, 200.0 + 10.0 * i as f64, 16_000);
    }
    let mut store = Store::open(&dir.path().join("library.db")).expect("open store");
    let cancel = CancelToken::new();
    let options = ImportOptions { n_workers: 1, batch_max_ops: 1, ..Default::default() };
    let mut done = 0;
    let s = import_folder(&mut store, &root, &options, &cancel, |e| {
        if let ImportEvent::Done { outcome: Outcome::New, .. } = e {
            done += 1;
            if done == 3 {
                cancel.cancel();
            }
        }
    })
    .expect("import");
    assert_eq!(s.status, RunStatus::Cancelled);
    let first = store.tracks(true).expect("tracks").len();
    assert!((3..12).contains(&first), "{first}");
    assert_eq!(s.counts.missing, 0, "a cancelled run marks nothing missing");
    let s = import(&mut store, &root);
    assert_eq!(s.status, RunStatus::Finished);
    assert_eq!((s.counts.new, s.counts.unchanged), (12 - first, first));
    assert_eq!(store.tracks(true).expect("tracks").len(), 12);
}

#[test]
fn database_location_errors_are_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a file");
    std::fs::write(&file, b"x").expect("write");
    let err = Store::open(&file.join("library.db")).expect_err("a file is not a folder");
    let msg = err.to_string();
    assert!(msg.contains("cannot open the library database") && msg.contains("a file"), "{msg}");

    let err = Store::open(Path::new("/proc/tuneatlas-test/library.db")).expect_err("read-only location");
    assert!(matches!(err, Error::DbOpen { .. }), "{err}");

    let not_db = dir.path().join("notes.db");
    std::fs::write(&not_db, "hello, this is not sqlite at all ".repeat(100)).expect("write");
    let err = Store::open(&not_db).expect_err("not a database");
    assert!(err.to_string().contains("not a tuneatlas library"), "{err}");
}

#[test]
fn newer_schema_is_refused_older_one_migrates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("library.db");
    {
        let old = Store::open_at_version(&db, 1).expect("v1");
        old.connection()
            .execute(
                "INSERT INTO tracks (path, size_bytes, mtime_ns, fingerprint, title, duration_s, container, codec,
                     sample_rate_hz, channels, status, added_at, updated_at)
                 VALUES ('/m/a.ogg', 1, 2, x'00', 'Old', 10.0, 'ogg', 'vorbis', 44100, 2, 'ok', 0, 0)",
                [],
            )
            .expect("insert");
    }
    let store = Store::open(&db).expect("migrates");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(store.tracks(false).expect("tracks")[0].title, "Old");
    store.connection().execute_batch("PRAGMA user_version = 999").expect("bump");
    drop(store);
    let err = Store::open(&db).expect_err("newer schema");
    assert!(matches!(err, Error::DbTooNew { found: 999, .. }), "{err}");
    assert!(err.to_string().contains("upgrade tuneatlas"), "{err}");
}

#[test]
fn full_disk_stops_with_one_error_and_keeps_stored_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("lib");
    copy("chirp10_mp3.mp3", &root.join("one.mp3"));
    let mut store = Store::open(&dir.path().join("library.db")).expect("open");
    import(&mut store, &root);
    for i in 0..30 {
        write_wav(&root.join(format!("more/{i}.wav")), 7.0, 300.0 + 7.0 * i as f64, 16_000);
    }
    // SQLite's page cap behaves exactly like a full disk (SQLITE_FULL).
    let pages: i64 = store.connection().query_row("PRAGMA page_count", [], |r| r.get(0)).expect("pages");
    store.connection().pragma_update(None, "max_page_count", pages).expect("cap");
    let err = import_folder(&mut store, &root, &ImportOptions::default(), &CancelToken::new(), |_| {})
        .expect_err("disk full");
    assert!(err.to_string().contains("disk is full"), "{err}");
    store.connection().pragma_update(None, "max_page_count", 1_073_741_823i64).expect("uncap");
    let tracks = store.tracks(true).expect("tracks");
    assert!(tracks.iter().any(|t| t.path.ends_with("one.mp3")), "stored data survives");
    assert!(store.integrity_ok().expect("integrity"));
    let s = import(&mut store, &root);
    assert_eq!(s.counts.failed, 0);
    assert_eq!(store.tracks(false).expect("tracks").len(), 31);
}
