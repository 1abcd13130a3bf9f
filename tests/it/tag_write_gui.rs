//! "Write tags into files…" in the window, as a person uses it: the real
//! app (`TuneAtlasApp`) driven by egui_kittest over a real library of
//! fixture files (MP3, FLAC and a CAF the tags cannot go into) with set
//! predictions. Library menu → the window; Preview lists what would be
//! written and writes nothing; "Write tags into 3 files" writes two, says
//! why the third was refused, and the files carry the tags.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tuneatlas::app::TuneAtlasApp;

use crate::tag_write::{fields, library};

fn harness(db: std::path::PathBuf) -> Harness<'static, TuneAtlasApp> {
    let options = crate::gui::options(db);
    Harness::builder()
        .with_size(egui::Vec2::new(1100.0, 800.0))
        .wgpu()
        .build_eframe(move |cc| TuneAtlasApp::new(cc, options))
}

/// Steps the window until `done` holds, as a person waits for a spinner.
fn wait_for(
    harness: &mut Harness<'static, TuneAtlasApp>,
    what: &str,
    done: impl Fn(&Harness<'static, TuneAtlasApp>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        harness.step();
        if done(harness) {
            break;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.step();
}

fn shows(harness: &Harness<'static, TuneAtlasApp>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

#[test]
fn the_window_previews_then_writes_the_tags_and_names_the_refused_file() {
    let dir = tempfile::tempdir().unwrap();
    let (db, tracks) = library(dir.path(), &["chirp10_mp3.mp3", "chirp10_flac.flac", "chirp1_pcm.caf"]);
    let bytes: Vec<Vec<u8>> = tracks.iter().map(|t| std::fs::read(&t.path).unwrap()).collect();
    let mut harness = harness(db.clone());
    wait_for(&mut harness, "the library", |h| h.state().is_settled());
    harness.get_by_label("Library").click();
    harness.run_steps(2);
    harness.get_by_label("Write tags into files…").click();
    harness.run_steps(2);
    assert!(shows(&harness, "The audio itself is never changed"), "the window explains what it does");

    harness.get_by_label("Preview").click();
    wait_for(&mut harness, "the preview", |h| shows(h, "Would write tags into 2 file(s)"));
    assert!(
        shows(&harness, "genre: rock, ambient · style: — · mood: fast · theme: — · model"),
        "a line per file"
    );
    assert!(shows(&harness, "refused: tags cannot be written into caf files"), "the refusal and its reason");
    for (t, bytes) in tracks.iter().zip(&bytes) {
        assert!(std::fs::read(&t.path).unwrap() == *bytes, "the preview changed {}", t.path.display());
    }

    harness.get_by_label("Write tags into 3 files").click();
    wait_for(&mut harness, "the writing", |h| shows(h, "Wrote tags into 2 file(s)"));
    assert!(shows(&harness, "1 refused"), "the headline counts the refusal");
    assert!(shows(&harness, "chirp1_pcm.caf"), "the refused file is named");
    for t in tracks.iter().filter(|t| t.path.extension().is_some_and(|e| e != "caf")) {
        let f = fields(&t.path);
        assert_eq!(
            f.get("MOOD").map(Vec::as_slice),
            Some(&["fast".to_owned()][..]),
            "{}: {f:?}",
            t.path.display()
        );
        assert_eq!(
            f.get("TUNEATLAS_MODEL").map(Vec::as_slice),
            Some(&[crate::tag_write::MODEL.to_owned()][..])
        );
    }
    // The library knows the files as they are now: an import finds nothing to do.
    let mut store = tuneatlas::store::Store::open(&db).unwrap();
    drop(harness);
    let summary = tuneatlas::library::import_folder(
        &mut store,
        &dir.path().join("music"),
        &tuneatlas::library::ImportOptions::default(),
        &tuneatlas::jobs::CancelToken::new(),
        |_| {},
    )
    .unwrap();
    assert_eq!((summary.counts.unchanged, summary.counts.updated), (3, 0), "{:?}", summary.counts);
}
