//! The model stage in the pipelines: an import stores a vector and the four
//! tag categories for every good track; `embed` adds a second model version
//! without touching the first and is resumable; the real binary does the same
//! on the wgpu path (lavapipe in CI).

use std::path::{Path, PathBuf};
use std::process::Command;

use tuneatlas::jobs::CancelToken;
use tuneatlas::library::{ImportOptions, embed_library, import_folder, import_folder_with};
use tuneatlas::model::backend::DeviceChoice;
use tuneatlas::model::infer::Embedder;
use tuneatlas::store::Store;

use crate::common::fixture;

const GOOD: &[&str] = &[
    "chirp10_mp3.mp3",
    "chirp10_vorbis.ogg",
    "chirp10_opus.opus",
    "chirp10_flac.flac",
    "chirp10_aac.m4a",
    "chirp2_wav.wav",
    "chirp21_mp3.mp3",
];

fn library(dir: &Path) -> PathBuf {
    let root = dir.join("lib");
    std::fs::create_dir_all(&root).expect("mkdir");
    for f in GOOD {
        std::fs::copy(fixture(f), root.join(f)).expect("copy");
    }
    std::fs::write(root.join("broken.mp3"), b"").expect("write");
    root
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// Checks every present track has a unit vector, one vector per clip and
/// scores in all four categories for `version`.
fn assert_embedded(store: &Store, version: &str) {
    let tracks = store.tracks(false).expect("tracks");
    assert_eq!(tracks.len(), GOOD.len());
    for t in &tracks {
        let v =
            store.track_vector(t.id, version).expect("read").unwrap_or_else(|| panic!("no vector: {t:?}"));
        assert_eq!(v.len(), 256);
        assert!((norm(&v) - 1.0).abs() < 1e-3, "track vector is unit length");
        let clips = store.clip_vectors(t.id, version).expect("clips");
        assert_eq!(clips.len() as u32, t.n_clips);
        assert!(clips.iter().all(|c| c.iter().all(|x| x.is_finite()) && (norm(c) - 1.0).abs() < 1e-3));
        let tags = store.track_tags(t.id, version).expect("tags");
        for category in ["genre", "style", "mood", "theme"] {
            assert!(tags.iter().any(|s| s.category == category), "{category} missing for {}", t.title);
        }
        assert!(tags.iter().all(|s| (0.0..=1.0).contains(&s.score)));
    }
}

/// A copy of the shipped model under another version string: what a
/// fine-tuned model looks like to the library.
fn second_model_version(dir: &Path) -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/dpnn-init");
    let dst = dir.join("dpnn-second");
    std::fs::create_dir_all(&dst).expect("mkdir");
    for entry in std::fs::read_dir(&src).expect("model dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dst.join(entry.file_name())).expect("copy");
    }
    let card = std::fs::read_to_string(dst.join("model.toml")).expect("card");
    let version_line = card.lines().find(|l| l.starts_with("version = ")).expect("version line").to_string();
    std::fs::write(dst.join("model.toml"), card.replace(&version_line, "version = \"dpnn-second-0.1\""))
        .expect("write card");
    dst
}

#[test]
fn import_embeds_and_a_second_model_version_adds_vectors_resumably() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = library(dir.path());
    let mut store = Store::open(&dir.path().join("library.db")).expect("store");
    let mut embedder = Embedder::open(None, DeviceChoice::Cpu).expect("built-in model");
    let first = embedder.model_version().to_string();
    let s = import_folder_with(
        &mut store,
        &root,
        &ImportOptions::default(),
        Some(&mut embedder),
        &CancelToken::new(),
        |_| {},
    )
    .expect("import");
    assert_eq!((s.counts.new, s.counts.failed), (GOOD.len(), 1), "{s:#?}");
    assert_eq!(s.model_version.as_deref(), Some(first.as_str()));
    assert_embedded(&store, &first);
    let before: Vec<_> = store.track_vectors(&first).expect("vectors");

    // A new model version: `embed` adds its vectors, the old ones stay as they were.
    let mut second =
        Embedder::open(Some(&second_model_version(dir.path())), DeviceChoice::Cpu).expect("second model");
    assert_eq!(second.model_version(), "dpnn-second-0.1");
    let e = embed_library(&mut store, &mut second, &CancelToken::new(), |_| {}).expect("embed");
    assert_eq!((e.n_embedded, e.failures.len()), (GOOD.len(), 0), "{e:#?}");
    assert_embedded(&store, "dpnn-second-0.1");
    assert_eq!(store.track_vectors(&first).expect("vectors"), before, "old model's vectors untouched");
    // Resumable: nothing left to do.
    let again = embed_library(&mut store, &mut second, &CancelToken::new(), |_| {}).expect("embed again");
    assert_eq!(again.n_embedded, 0);

    // A re-import of unchanged files does not disturb either version.
    let s = import_folder_with(
        &mut store,
        &root,
        &ImportOptions::default(),
        Some(&mut embedder),
        &CancelToken::new(),
        |_| {},
    )
    .expect("reimport");
    assert_eq!(s.counts.unchanged, GOOD.len() + 1);
    assert_eq!(store.track_vectors(&first).expect("vectors"), before);
    assert_eq!(store.count_vectors("dpnn-second-0.1").expect("count"), GOOD.len());
}

#[test]
fn embed_fills_in_an_import_made_without_the_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = library(dir.path());
    let mut store = Store::open(&dir.path().join("library.db")).expect("store");
    import_folder(&mut store, &root, &ImportOptions::default(), &CancelToken::new(), |_| {}).expect("import");
    let mut embedder = Embedder::open(None, DeviceChoice::Cpu).expect("built-in model");
    let version = embedder.model_version().to_string();
    assert_eq!(store.tracks_without_vectors(&version).expect("todo").len(), GOOD.len());
    // Cancel right away: nothing half-written, and a rerun finishes the job.
    let cancel = CancelToken::new();
    cancel.cancel();
    let e = embed_library(&mut store, &mut embedder, &cancel, |_| {}).expect("cancelled embed");
    assert_eq!(e.n_embedded + store.tracks_without_vectors(&version).expect("todo").len(), GOOD.len());
    let e = embed_library(&mut store, &mut embedder, &CancelToken::new(), |_| {}).expect("embed");
    assert_eq!(e.failures.len(), 0);
    assert_embedded(&store, &version);
}

#[test]
fn cli_import_on_the_gpu_path_stores_vectors_and_tags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = library(dir.path());
    let db = dir.path().join("library.db");
    // --device gpu forces wgpu even on a software Vulkan device (lavapipe in
    // CI), so the GPU code path runs for real.
    let out = Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
        .args([
            "import",
            root.to_str().expect("utf-8"),
            "--db",
            db.to_str().expect("utf-8"),
            "--device",
            "gpu",
        ])
        .arg("--json")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("wgpu"), "runs on wgpu: {stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summary["counts"]["new"].as_u64(), Some(GOOD.len() as u64), "{summary}");
    let version = summary["model_version"].as_str().expect("model version").to_string();
    let store = Store::open(&db).expect("store");
    assert_embedded(&store, &version);
}
