//! Fine-tuning from the window, as a person does it: the real app
//! (`TuneAtlasApp`) driven by egui_kittest over a real SQLite library of
//! generated, tagged audio. Library menu → "Fine-tune…"; the LSI preview
//! (topics, cosine histogram) appears; Start trains on the CPU, shows the
//! P@k table, registers a new version with its parent and re-embeds the
//! library; the new version can be deleted again (the built-in one never).
//! Without tags, Start says so in the window.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use tuneatlas::app::TuneAtlasApp;
use tuneatlas::jobs::CancelToken;
use tuneatlas::library::{ImportOptions, import_folder, import_folder_with, import_tags_csv};
use tuneatlas::model::backend::DeviceChoice;
use tuneatlas::model::infer::Embedder;
use tuneatlas::store::{Store, TagSource};
use tuneatlas::train::synth_tags::{tags_csv, write_tagged_corpus};
use tuneatlas::train::versions::delete_version;

use crate::gui::scratch;

/// The built-in model's version.
const BUILTIN: &str = "dpnn-v2.3";

/// `n` generated tracks over `albums` albums; embedded with the built-in
/// model and tagged from the generator's CSV when `tagged`.
fn library(dir: &Path, n: usize, albums: usize, seconds: f64, tagged: bool) -> PathBuf {
    let music = dir.join("music");
    let tracks = write_tagged_corpus(&music, n, albums, seconds, 17).unwrap();
    let db = dir.join("library.db");
    let mut store = Store::open(&db).unwrap();
    let cancel = CancelToken::new();
    let summary = if tagged {
        let mut embedder = Embedder::open(None, DeviceChoice::Cpu).unwrap();
        import_folder_with(
            &mut store,
            &music,
            &ImportOptions::default(),
            Some(&mut embedder),
            &cancel,
            |_| {},
        )
    } else {
        import_folder(&mut store, &music, &ImportOptions::default(), &cancel, |_| {})
    }
    .unwrap();
    assert_eq!(summary.counts.new, n);
    if tagged {
        let csv = dir.join("tags.csv");
        std::fs::write(&csv, tags_csv(&tracks)).unwrap();
        let report = import_tags_csv(&mut store, &csv, "tags").unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
    db
}

fn harness(db: PathBuf) -> Harness<'static, TuneAtlasApp> {
    let options = crate::gui::options(db);
    Harness::builder()
        .with_size(egui::Vec2::new(1100.0, 900.0))
        .wgpu()
        .build_eframe(move |cc| TuneAtlasApp::new(cc, options))
}

/// Steps the window until `done` holds, as a person waits for a spinner;
/// `limit` only guards against a hang.
fn wait_for(
    harness: &mut Harness<'static, TuneAtlasApp>,
    what: &str,
    limit: Duration,
    done: impl Fn(&Harness<'static, TuneAtlasApp>) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        harness.step();
        if done(harness) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting for {what}; the window shows: {}",
            visible_text(harness)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.step();
}

/// Every label and value in the window's accessibility tree, so a test that
/// gives up says what the person would have seen instead.
fn visible_text(harness: &Harness<'static, TuneAtlasApp>) -> String {
    let root = harness.root();
    let texts: Vec<String> = root
        .children_recursive()
        .filter_map(|n| {
            let node = n.accesskit_node();
            let text = [node.label(), node.value()].into_iter().flatten().collect::<Vec<_>>().join(" = ");
            (!text.is_empty()).then_some(text)
        })
        .collect();
    texts.join(" | ")
}

/// Clicks Start and waits until the run has begun (Start gives way to
/// Cancel) or already ended. A click that lands while the window is being
/// laid out anew can miss the button, as a person's can: they click again,
/// and so does this, once.
fn start_fine_tuning(harness: &mut Harness<'static, TuneAtlasApp>) {
    let started = |h: &Harness<'static, TuneAtlasApp>| {
        h.query_by_label("Start fine-tuning").is_none()
            || shows(h, "New model version")
            || shows(h, "Cannot fine-tune")
    };
    harness.get_by_label("Start fine-tuning").click_accesskit();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !started(harness) && Instant::now() < deadline {
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    if !started(harness) {
        eprintln!("Start did not take; clicking again. The window shows: {}", visible_text(harness));
        harness.get_by_label("Start fine-tuning").click_accesskit();
    }
    wait_for(harness, "the run to start", Duration::from_secs(30), started);
}

fn shows(harness: &Harness<'static, TuneAtlasApp>, text: &str) -> bool {
    harness.query_by_label_contains(text).is_some()
}

/// Library menu → "Fine-tune…", then waits for the LSI preview.
fn open_finetune_window(harness: &mut Harness<'static, TuneAtlasApp>) {
    wait_for(harness, "the library", Duration::from_secs(120), |h| h.state().is_settled());
    harness.get_by_label("Library").click();
    harness.run_steps(2);
    harness.get_by_label("Fine-tune…").click();
    harness.run_steps(2);
    harness.get_by_label("Fine-tune the model on your tags");
}

#[test]
fn without_tags_start_says_to_tag_tracks_first() {
    let dir = scratch("finetune_no_tags");
    let db = library(&dir, 6, 2, 1.5, false);
    let mut harness = harness(db.clone());
    open_finetune_window(&mut harness);
    wait_for(&mut harness, "the preview", Duration::from_secs(60), |h| shows(h, "tag some tracks first"));
    assert!(shows(&harness, "No user tags yet"), "the window explains where tags come from");
    start_fine_tuning(&mut harness);
    wait_for(&mut harness, "the run to end", Duration::from_secs(60), |h| {
        shows(h, "Cannot fine-tune on these tags")
    });
    let message = harness.get_by_label_contains("Cannot fine-tune on these tags");
    let text = format!("{message:?}");
    assert!(text.contains("no track has a tag") && text.contains("tag some tracks first"), "{text}");
    assert!(harness.query_by_label("Start fine-tuning").is_some(), "Start is offered again");
    let store = Store::open(&db).unwrap();
    assert!(store.models().unwrap().iter().all(|m| m.version == BUILTIN), "no version was made");
}

/// Tags every training pair shares give no negatives: the preview says so
/// and Start is disabled (the run would fail after extracting features).
#[test]
fn start_is_disabled_while_the_preview_finds_no_triplets() {
    let dir = scratch("finetune_uniform");
    let db = library(&dir, 10, 2, 1.0, false);
    {
        let mut store = Store::open(&db).unwrap();
        let ids: Vec<i64> = store.tracks(false).unwrap().iter().map(|t| t.id).collect();
        store.add_user_tags(&ids, "moods", &["warm", "calm"], TagSource::User).unwrap();
    }
    let mut harness = harness(db);
    open_finetune_window(&mut harness);
    wait_for(&mut harness, "the preview", Duration::from_secs(60), |h| shows(h, "Topic 1"));
    assert!(shows(&harness, "No pair of tracks is dissimilar enough to be a negative"), "the warning");
    let start = harness.get_by_label("Start fine-tuning");
    assert!(start.accesskit_node().is_disabled(), "Start is disabled while no triplet exists");
}

#[test]
fn a_short_run_through_the_window_makes_a_new_version_with_its_table_and_vectors() {
    let dir = scratch("finetune_run");
    let db = library(&dir, 60, 6, 4.0, true);
    let mut harness = harness(db.clone());
    open_finetune_window(&mut harness);

    // The LSI preview: three tag sets of two tags each, topics and histogram.
    wait_for(&mut harness, "the LSI topics", Duration::from_secs(60), |h| shows(h, "Topic 1"));
    assert!(shows(&harness, "brightness (60 tracks, 2 tags)"), "tag sets with counts");
    // 15 held out, 9 for early stopping: the preview shows the run's 36 training tracks.
    assert!(shows(&harness, "60 tagged tracks (36 train, the rest test and stop early), 6 tags"));
    assert!(shows(&harness, "Pairwise LSI cosines of 36 training tracks"), "the histogram's caption");
    assert!(shows(&harness, "default (2)"), "the default topic count is shown");

    // A short run: 2 epochs of 16-track batches, top layers (the default).
    harness.get_by_label("Epochs").set_value_accesskit(2.0);
    harness.get_by_label("Tracks per batch").set_value_accesskit(16.0);
    harness.run_steps(2);
    wait_for(&mut harness, "the preview to settle", Duration::from_secs(60), |h| shows(h, "Topic 1"));
    start_fine_tuning(&mut harness);
    wait_for(&mut harness, "training", Duration::from_secs(240), |h| shows(h, "New model version"));
    assert!(shows(&harness, "Training on "), "the live plot's caption names the device");
    assert!(shows(&harness, "P@10 before") && shows(&harness, "P@100 after"), "the P@k table");
    assert!(shows(&harness, "all sets (LSI)"), "the LSI row");
    wait_for(&mut harness, "re-embedding", Duration::from_secs(240), |h| shows(h, "Re-embedded 60 tracks"));

    let store = Store::open(&db).unwrap();
    let models = store.models().unwrap();
    let new = models.iter().find(|m| m.version != BUILTIN).expect("a new version is registered");
    assert_eq!(new.parent.as_deref(), Some(BUILTIN), "its parent is recorded");
    assert_eq!(store.count_vectors(&new.version).unwrap(), 60, "the library is re-embedded");
    assert_eq!(store.count_vectors(BUILTIN).unwrap(), 60, "the parent's vectors stay");
    let new_dir = tuneatlas::config::model_dir(&db, &new.version);
    assert!(new_dir.join("model.toml").is_file());

    // Versions: the built-in one is never deleted, nor a parent, nor an unknown one.
    let mut store = store;
    let e = delete_version(&mut store, &db, BUILTIN).unwrap_err().to_string();
    assert!(e.contains("built-in"), "{e}");
    let e = store.delete_model(BUILTIN).unwrap_err().to_string();
    assert!(e.contains("parent of"), "{e}");
    assert!(store.delete_model("no-such-version").is_err());

    // Show the new version, then delete it from the window: back to the parent.
    harness.get_by_label("Show the new version").click_accesskit();
    wait_for(&mut harness, "the new version", Duration::from_secs(120), |h| {
        h.state().is_settled() && shows(h, &format!("model {} ·", new.version))
    });
    harness.get_by_label("Delete this version…").click_accesskit();
    harness.run_steps(2);
    harness.get_by_label(&format!("Delete {}", new.version)).click_accesskit();
    wait_for(&mut harness, "the deletion", Duration::from_secs(60), |h| shows(h, "was deleted"));
    wait_for(&mut harness, "the parent", Duration::from_secs(120), |h| {
        h.state().is_settled() && shows(h, &format!("model {BUILTIN} ·"))
    });
    assert!(!new_dir.exists(), "the model folder is removed");
    assert_eq!(store.count_vectors(&new.version).unwrap(), 0, "its vectors are removed");
    assert!(store.models().unwrap().iter().all(|m| m.version == BUILTIN));
    assert_eq!(store.count_vectors(BUILTIN).unwrap(), 60);
}
