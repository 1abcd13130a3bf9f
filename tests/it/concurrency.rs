//! Several imports aimed at one library: they take turns through the
//! library's import lock, a refused one names the holder, and a run never
//! marks missing what another run wrote — on real SQLite files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};

use tuneatlas::Error;
use tuneatlas::audio::decode::TrackTags;
use tuneatlas::jobs::CancelToken;
use tuneatlas::library::{ImportOptions, import_folder};
use tuneatlas::store::{ImportLock, Store, TrackRecord, WhenBusy, WriteOp};

use crate::common::write_wav;

/// Ten short distinct WAVs: the folder of the reported two-import race.
pub fn ten_tracks(root: &Path) {
    for i in 0..10 {
        write_wav(&root.join(format!("t{i:02}.wav")), 1.5, 220.0 + 37.0 * f64::from(i), 22_050);
    }
}

fn all_ok(db: &Path, n: usize) {
    let store = Store::open(db).expect("open");
    let tracks = store.tracks(true).expect("tracks");
    assert_eq!(tracks.len(), n, "no track lost or merged");
    let not_ok: Vec<_> = tracks.iter().filter(|t| t.status != "ok").map(|t| &t.path).collect();
    assert!(not_ok.is_empty(), "tracks wrongly marked missing: {not_ok:?}");
}

#[test]
fn two_imports_started_together_end_with_every_track_ok() {
    let dir = tempfile::tempdir().expect("tempdir");
    let music = dir.path().join("music");
    ten_tracks(&music);
    let db = dir.path().join("lib.db");
    let start = Arc::new(Barrier::new(2));
    let runs: Vec<_> = (0..2)
        .map(|i| {
            let (db, music, start) = (db.clone(), music.clone(), start.clone());
            std::thread::Builder::new()
                .name(format!("import-{i}"))
                .spawn(move || {
                    let mut store = Store::open(&db).expect("open");
                    let options =
                        ImportOptions { when_busy: WhenBusy::Wait, n_workers: 2, ..Default::default() };
                    start.wait();
                    import_folder(&mut store, &music, &options, &CancelToken::new(), |_| {})
                        .expect("both imports succeed")
                })
                .expect("spawn")
        })
        .collect();
    let summaries: Vec<_> = runs.into_iter().map(|t| t.join().expect("no panic")).collect();
    let new: usize = summaries.iter().map(|s| s.counts.new).sum();
    let unchanged: usize = summaries.iter().map(|s| s.counts.unchanged).sum();
    assert_eq!((new, unchanged), (10, 10), "one imported, the other found it all done");
    assert!(summaries.iter().all(|s| s.counts.missing == 0));
    all_ok(&db, 10);
}

#[test]
fn an_import_refused_while_another_runs_names_the_holder_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let music = dir.path().join("music");
    ten_tracks(&music);
    let db = dir.path().join("lib.db");
    let mut store = Store::open(&db).expect("open");
    let held = ImportLock::acquire(&db, WhenBusy::Refuse, &CancelToken::new(), |_| {}).expect("lock");
    let err = import_folder(&mut store, &music, &ImportOptions::default(), &CancelToken::new(), |_| {})
        .expect_err("refused");
    assert!(matches!(err, Error::LibraryBusy { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&format!("pid {}", std::process::id())) && text.contains("lib.db"), "{text}");
    assert!(store.tracks(true).expect("tracks").is_empty());
    drop(held);
    let summary = import_folder(&mut store, &music, &ImportOptions::default(), &CancelToken::new(), |_| {})
        .expect("runs once free");
    assert_eq!(summary.counts.new, 10);
}

fn record(path: PathBuf) -> WriteOp {
    WriteOp::Upsert(Box::new(TrackRecord {
        path,
        size_bytes: 1,
        mtime_ns: 0,
        fingerprint: vec![1],
        tags: TrackTags { title: Some("t".into()), ..TrackTags::default() },
        names_from_path: false,
        duration_s: 1.0,
        container: "wav".into(),
        codec: "pcm".into(),
        sample_rate_hz: 22_050,
        channels: 1,
        clips: vec![],
        model_output: None,
    }))
}

/// Two runs that overlap in time (as two builds without the lock would):
/// starting the second leaves the first `running`, and the first's closing
/// `mark_missing` spares the track the second wrote.
#[test]
fn a_run_never_marks_missing_what_another_run_wrote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("music");
    let mut store = Store::open(&dir.path().join("lib.db")).expect("open");
    let first = store.begin_run(&root).expect("run");
    let second = store.begin_run(&root).expect("run");
    let status: String = store
        .connection()
        .query_row("SELECT status FROM import_runs WHERE id = ?1", [first], |r| r.get(0))
        .expect("row");
    assert_eq!(status, "running", "beginning a run leaves the other alone");
    store.write_batch(second, &[record(root.join("a.wav"))]).expect("write");
    assert_eq!(store.mark_missing(&root, first).expect("mark"), 0);
    assert_eq!(store.tracks(false).expect("tracks").len(), 1);
}

/// The real binary, twice at once on one new library: both exit 0 and every
/// track ends `ok` (the second waits for the first, saying so).
#[test]
fn two_cli_imports_at_once_both_succeed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let music = dir.path().join("music");
    ten_tracks(&music);
    let db = dir.path().join("lib.db");
    let (music_arg, db_arg) = (music.clone(), db.clone());
    let spawn = move || {
        Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
            .env_remove("TUNEATLAS_DB")
            .env("RUST_LOG", "warn")
            .arg("import")
            .arg(&music_arg)
            .arg("--db")
            .arg(&db_arg)
            .args(["--no-model", "--jobs", "1"])
            .output()
    };
    let other = std::thread::Builder::new().name("cli-import".into()).spawn(spawn.clone()).expect("spawn");
    let mine = spawn().expect("run");
    let theirs = other.join().expect("no panic").expect("run");
    for out in [&mine, &theirs] {
        assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    }
    all_ok(&db, 10);
}
