//! One folder imported as three shards into three libraries, merged, equals
//! the folder imported whole: the same tracks with the same metadata and
//! clip grids, vectors bit for bit, the same tag scores and the same
//! recorded failures. Merges that cannot be right are refused, naming the
//! file, and leave the target as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tuneatlas::Error;
use tuneatlas::jobs::CancelToken;
use tuneatlas::library::shard::shard_of;
use tuneatlas::library::{ImportOptions, ImportSummary, Shard, import_folder, import_folder_with};
use tuneatlas::model::backend::DeviceChoice;
use tuneatlas::model::infer::Embedder;
use tuneatlas::store::{MergeSummary, Store, WhenBusy, merge_libraries};

use crate::common::{fixture, write_wav};

const SHARDS: u32 = 3;

/// The folder: short WAVs in nested folders, two other formats, a broken
/// file and a cover image. Returns the number of audio files.
fn music(root: &Path) -> usize {
    let mut n = 0;
    for i in 0..10 {
        let path = root.join(format!("artist {}/album {}/{i:02} tone.wav", i % 3, i % 4));
        write_wav(&path, 7.0, 180.0 + 37.0 * f64::from(i), 22_050);
        n += 1;
    }
    for (from, to) in [("chirp10_mp3.mp3", "misc/chirp.mp3"), ("chirp10_vorbis.ogg", "misc/chirp.ogg")] {
        std::fs::create_dir_all(root.join(to).parent().unwrap()).unwrap();
        std::fs::copy(fixture(from), root.join(to)).unwrap();
        n += 1;
    }
    std::fs::write(root.join("misc/broken.mp3"), b"").unwrap();
    std::fs::copy(fixture("not_audio.png"), root.join("misc/cover.png")).unwrap();
    n + 1
}

fn import(db: &Path, root: &Path, shard: Option<Shard>, embedder: Option<&mut Embedder>) -> ImportSummary {
    let mut store = Store::open(db).unwrap();
    let options = ImportOptions { shard, ..ImportOptions::default() };
    match embedder {
        Some(e) => import_folder_with(&mut store, root, &options, Some(e), &CancelToken::new(), |_| {}),
        None => import_folder(&mut store, root, &options, &CancelToken::new(), |_| {}),
    }
    .unwrap()
}

fn merge(into: &Path, sources: &[PathBuf]) -> Result<MergeSummary, Error> {
    merge_libraries(into, sources, WhenBusy::Refuse, &CancelToken::new(), |_, _| {})
}

/// Everything a library holds about each file, by path, ids left out.
fn contents(db: &Path) -> BTreeMap<PathBuf, String> {
    let store = Store::open_read_only(db).unwrap();
    let versions: Vec<String> = store.models().unwrap().into_iter().map(|m| m.version).collect();
    let mut out = BTreeMap::new();
    for t in store.tracks(true).unwrap() {
        let mut text = format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {} {} {} {} {} {} {} {} {:?}\n",
            t.title,
            t.artist,
            t.album,
            t.album_artist,
            t.track_number,
            t.year,
            t.genre,
            t.duration_s.to_bits(),
            t.container,
            t.codec,
            t.sample_rate_hz,
            t.channels,
            t.status,
            t.n_clips,
            t.names_from_path,
            t.fingerprint
        );
        for c in store.clips(t.id).unwrap() {
            text += &format!("clip {} {} {}\n", c.clip_index, c.start_s.to_bits(), c.rms_db.to_bits());
        }
        for v in &versions {
            let bits = |x: &[f32]| x.iter().map(|f| f.to_bits()).collect::<Vec<u32>>();
            let vector = store.track_vector(t.id, v).unwrap().map(|x| bits(&x));
            text += &format!("{v} vector {vector:?}\n");
            for c in store.clip_vectors(t.id, v).unwrap() {
                text += &format!("{v} clip vector {:?}\n", bits(&c));
            }
            for s in store.track_tags(t.id, v).unwrap() {
                text += &format!("{v} tag {}:{} {}\n", s.category, s.tag, s.score.to_bits());
            }
        }
        out.insert(t.path.clone(), text);
    }
    for e in store.errors().unwrap() {
        out.insert(e.path.clone(), format!("failed {:?} {:?} {}", e.size_bytes, e.mtime_ns, e.reason));
    }
    out
}

#[test]
fn three_shards_merged_equal_one_import_and_bad_merges_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("music");
    let n_files = music(&root);
    let root = root.canonicalize().unwrap();
    let mut embedder = Embedder::open(None, DeviceChoice::Cpu).expect("built-in model");
    let version = embedder.model_version().to_string();

    let whole = dir.path().join("whole.db");
    let s = import(&whole, &root, None, Some(&mut embedder));
    assert_eq!((s.counts.new, s.counts.failed), (n_files - 1, 1), "{s:#?}");

    let shard_dbs: Vec<PathBuf> = (1..=SHARDS).map(|k| dir.path().join(format!("shard-{k}.db"))).collect();
    let mut imported = 0;
    for (k, db) in (1..=SHARDS).zip(&shard_dbs) {
        let shard = Shard::new(k, SHARDS).unwrap();
        let s = import(db, &root, Some(shard), Some(&mut embedder));
        let done = s.counts.new + s.counts.failed;
        assert!(done > 0, "every shard of this folder has files: {s:#?}");
        // Audio, the broken file and the cover are each some shard's.
        assert_eq!(done + s.n_not_audio + s.n_other_shards, n_files + 1, "{s:#?}");
        assert_eq!(format!("{s:#}").lines().filter(|l| l.contains(&format!("shard {k}/3"))).count(), 1);
        imported += done;
    }
    assert_eq!(imported, n_files, "the shards split the folder");
    // Which shard holds a file is its path's hash, nothing else.
    let store = Store::open_read_only(&shard_dbs[1]).unwrap();
    for t in store.tracks(true).unwrap() {
        assert_eq!(shard_of(t.path.strip_prefix(&root).unwrap(), SHARDS), 2, "{}", t.path.display());
    }
    drop(store);

    let merged = dir.path().join("merged.db");
    let summary = merge(&merged, &shard_dbs).expect("the shards merge");
    assert_eq!(summary.sources.iter().map(|l| l.tracks).sum::<usize>(), n_files - 1);
    assert_eq!(summary.sources.iter().map(|l| l.errors).sum::<usize>(), 1);
    let shards: Vec<Vec<String>> = summary.sources.iter().map(|l| l.shards.clone()).collect();
    assert_eq!(shards, [vec!["1/3".to_string()], vec!["2/3".into()], vec!["3/3".into()]]);
    assert_eq!(summary.model_versions, std::slice::from_ref(&version));
    assert_eq!(summary.roots, std::slice::from_ref(&root));

    let (want, got) = (contents(&whole), contents(&merged));
    assert_eq!(want.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>(), "the same files");
    for (path, text) in &want {
        let failed = text.starts_with("failed");
        assert!(failed || text.contains(&format!("{version} tag genre:")), "tags stored: {}", path.display());
        assert_eq!(text, &got[path], "{}", path.display());
    }
    let merged_store = Store::open(&merged).unwrap();
    assert!(merged_store.integrity_ok().unwrap());
    assert_eq!(merged_store.tag_matrix(&version).unwrap().track_ids.len(), n_files - 1);
    drop(merged_store);

    // The command line runs the same merge and prints it.
    let cli_db = dir.path().join("cli.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
        .arg("merge")
        .args(&shard_dbs)
        .arg("--into")
        .arg(&cli_db)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tracks: u64 = json["sources"].as_array().unwrap().iter().map(|l| l["tracks"].as_u64().unwrap()).sum();
    assert_eq!(tracks as usize, n_files - 1, "{json}");
    assert_eq!(contents(&cli_db), want);

    // Merging a shard again: its files are in the target already.
    let before = contents(&merged);
    let err = merge(&merged, &shard_dbs[..1]).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::NotMergeable { .. }), "{text}");
    assert!(text.contains("shard-1.db") && text.contains("the library merged into"), "{text}");
    assert_eq!(contents(&merged), before, "a refused merge leaves the target as it was");

    // A shard imported without the model: other model versions.
    let no_model = dir.path().join("no-model.db");
    import(&no_model, &root, Some(Shard::new(1, SHARDS).unwrap()), None);
    let fresh = dir.path().join("fresh.db");
    let text = merge(&fresh, &[shard_dbs[1].clone(), no_model]).unwrap_err().to_string();
    assert!(text.contains("model versions") && text.contains("no-model.db"), "{text}");
    assert!(!fresh.exists(), "a refused merge does not leave a new library behind");

    // Another folder.
    let other = dir.path().join("other");
    write_wav(&other.join("x.wav"), 7.0, 440.0, 22_050);
    let other_db = dir.path().join("other.db");
    import(&other_db, &other, None, Some(&mut embedder));
    let text = merge(&fresh, &[shard_dbs[0].clone(), other_db]).unwrap_err().to_string();
    assert!(text.contains("imported from") && text.contains("other.db"), "{text}");
    assert!(!fresh.exists());

    // A library of an older schema.
    let old = dir.path().join("old.db");
    drop(Store::open_at_version(&old, 5).unwrap());
    let text = merge(&fresh, &[shard_dbs[0].clone(), old]).unwrap_err().to_string();
    assert!(text.contains("schema version 5") && text.contains("old.db"), "{text}");
    assert!(!fresh.exists());
}

#[test]
fn shard_numbers_outside_one_to_n_are_refused_by_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
        .args(["--db", &dir.path().join("x.db").to_string_lossy(), "import", "--no-model", "--shard", "0/4"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("numbered 1 to 4"), "{stderr}");
    assert!(!dir.path().join("x.db").exists(), "nothing was created");
}
