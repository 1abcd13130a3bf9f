//! A write that fails costs its file, not the import: the file is recorded
//! with the reason, the rest of its batch lands, and the next run does not
//! stumble on it again. Numbers SQLite cannot keep (NaN) are refused with a
//! message that says what was wrong. Real SQLite files, real decoding.

use std::path::Path;

use tuneatlas::audio::decode::TrackTags;
use tuneatlas::jobs::CancelToken;
use tuneatlas::library::{ImportOptions, Outcome, import_folder};
use tuneatlas::store::{ClipRow, RunStatus, Store, TrackRecord, WriteOp};

use crate::common::write_wav;

#[test]
fn a_failing_write_is_that_files_error_and_the_import_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("music")).expect("mkdir");
    let root = dir.path().join("music").canonicalize().expect("canonical");
    for (i, name) in ["a.wav", "b.wav", "c.wav"].iter().enumerate() {
        write_wav(&root.join(name), 1.0, 300.0 + 100.0 * i as f64, 22_050);
    }
    let db = dir.path().join("lib.db");
    let mut store = Store::open(&db).expect("open");
    // A real write error for one file, raised by SQLite itself.
    store
        .connection()
        .execute_batch(&format!(
            "CREATE TRIGGER refuse_b BEFORE INSERT ON tracks WHEN NEW.path = CAST('{}' AS BLOB)
             BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END;",
            root.join("b.wav").display()
        ))
        .expect("trigger");
    // One batch for all three, so the bad write would take the others along.
    let options = ImportOptions { batch_max_ops: 64, n_workers: 1, ..Default::default() };
    let mut failed_events = Vec::new();
    let summary = import_folder(&mut store, &root, &options, &CancelToken::new(), |e| {
        if let tuneatlas::library::ImportEvent::Done { path, outcome: Outcome::Failed(r) } = e {
            failed_events.push((path.clone(), r.clone()));
        }
    })
    .expect("the import carries on");
    assert_eq!(summary.status, RunStatus::Finished);
    assert_eq!((summary.counts.new, summary.counts.failed), (2, 1));
    assert_eq!(summary.failures.len(), 1);
    assert!(summary.failures[0].0.ends_with("b.wav"));
    assert!(summary.failures[0].1.contains("refused by the test trigger"), "{:?}", summary.failures);
    assert_eq!(failed_events.len(), 1, "the event says so too");
    let errors = store.errors().expect("errors");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].path.ends_with("b.wav") && errors[0].size_bytes.is_some());

    // Unchanged since: not retried, nothing fails again, nothing is lost.
    let again = import_folder(&mut store, &root, &options, &CancelToken::new(), |_| {}).expect("again");
    assert_eq!((again.counts.unchanged, again.counts.failed, again.n_known_bad), (3, 0, 1));
    assert_eq!(store.tracks(false).expect("tracks").len(), 2);
}

fn record(path: &Path, duration_s: f64, rms_db: f64) -> WriteOp {
    WriteOp::Upsert(Box::new(TrackRecord {
        path: path.to_path_buf(),
        size_bytes: 1,
        mtime_ns: 0,
        fingerprint: vec![7],
        tags: TrackTags { title: Some("t".into()), ..TrackTags::default() },
        names_from_path: false,
        duration_s,
        container: "wav".into(),
        codec: "pcm".into(),
        sample_rate_hz: 22_050,
        channels: 1,
        clips: vec![ClipRow { clip_index: 0, start_s: 0.0, rms_db }],
        model_output: None,
    }))
}

#[test]
fn nan_never_reaches_a_not_null_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("lib.db")).expect("open");
    let run = store.begin_run(dir.path()).expect("run");
    for (duration, rms, what) in [(f64::NAN, -10.0, "duration"), (3.0, f64::NAN, "clip level")] {
        let err =
            store.write_batch(run, &[record(&dir.path().join("x.wav"), duration, rms)]).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains(what) && text.contains("not a finite number"), "{text}");
    }
    assert!(store.tracks(true).expect("tracks").is_empty(), "nothing half-written");
    store.write_batch(run, &[record(&dir.path().join("x.wav"), 3.0, -10.0)]).expect("a good one lands");
}
