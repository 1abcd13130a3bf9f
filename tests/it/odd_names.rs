//! File names of every odd kind — not UTF-8, line breaks, quotes, control
//! characters, emoji, 255 bytes long — through import, re-import, the CLI's
//! JSON and an older library's migration, on real files and a real SQLite file.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tuneatlas::jobs::CancelToken;
use tuneatlas::library::{ImportOptions, ImportSummary, import_folder};
use tuneatlas::store::Store;

use crate::common::write_wav;

fn import(store: &mut Store, root: &Path) -> ImportSummary {
    import_folder(store, root, &ImportOptions::default(), &CancelToken::new(), |_| {}).expect("import runs")
}

/// Writes one distinct WAV per odd name under `root`; returns their paths.
pub fn odd_named_files(root: &Path) -> Vec<PathBuf> {
    let mut names: Vec<Vec<u8>> = vec![
        // differ only in bytes that are not UTF-8
        b"latin1 caf\xe9.wav".to_vec(),
        b"latin1 caf\xe8.wav".to_vec(),
        b"bare \xff\xfe.wav".to_vec(),
        b"line\nbreak.wav".to_vec(),
        b"cr\rreturn.wav".to_vec(),
        b"esc \x1b[31mred.wav".to_vec(),
        "it's \"quoted\" `tick` $HOME.wav".as_bytes().to_vec(),
        "emoji 🎵🎸 ünïcødé 日本.wav".as_bytes().to_vec(),
        b" leading and trailing space .wav".to_vec(),
    ];
    let mut long = vec![b'L'; 251];
    long.extend_from_slice(b".wav");
    names.push(long);
    std::fs::create_dir_all(root).expect("mkdir");
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let path = root.join(OsStr::from_bytes(name));
            write_wav(&path, 1.0, 200.0 + 50.0 * i as f64, 22_050);
            path
        })
        .collect()
}

#[test]
fn odd_names_import_once_each_and_reimport_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("music")).expect("mkdir");
    // Stored paths are canonical (a temp folder may sit behind a link).
    let root = dir.path().join("music").canonicalize().expect("canonical");
    let files = odd_named_files(&root);
    let mut store = Store::open(&dir.path().join("lib.db")).expect("open");
    let first = import(&mut store, &root);
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    assert_eq!(first.counts.new, files.len());
    let mut stored: Vec<PathBuf> = store.tracks(true).expect("tracks").into_iter().map(|t| t.path).collect();
    let mut wanted = files.clone();
    stored.sort();
    wanted.sort();
    assert_eq!(stored, wanted, "every name stored exactly, none merged");
    for path in &stored {
        assert!(path.is_file(), "a stored path opens the file again: {path:?}");
    }
    let second = import(&mut store, &root);
    assert_eq!(
        (second.counts.new, second.counts.moved, second.counts.updated, second.counts.failed),
        (0, 0, 0, 0)
    );
    assert_eq!(second.counts.unchanged, files.len());
}

fn tuneatlas() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tuneatlas"));
    c.env_remove("TUNEATLAS_DB").env("RUST_LOG", "warn");
    c
}

/// `import --json`, `tracks --json`, `errors` and the text summary: no panic,
/// valid JSON, names escaped so that no two print alike and no control
/// character reaches the terminal.
#[test]
fn cli_json_and_text_survive_odd_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("music");
    let files = odd_named_files(&root);
    // A bad file with an odd name, so that the failure list holds one too.
    std::fs::write(root.join(OsStr::from_bytes(b"broken \xff\n.mp3")), b"no audio here").expect("write");
    let db = dir.path().join("lib.db");
    let out =
        tuneatlas().arg("import").arg(&root).arg("--db").arg(&db).args(["--json", "--no-model"]).output();
    let out = out.expect("run");
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(summary["counts"]["new"], files.len());
    let failed = summary["failures"][0]["path"].as_str().expect("path");
    assert!(failed.ends_with("broken \\xff\\n.mp3"), "{failed}");

    let out = tuneatlas().args(["tracks", "--json"]).arg("--db").arg(&db).output().expect("run");
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let tracks: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let paths: std::collections::HashSet<&str> =
        tracks.as_array().expect("array").iter().map(|t| t["path"].as_str().expect("path")).collect();
    assert_eq!(paths.len(), files.len(), "escaped names stay distinct");
    assert!(paths.iter().any(|p| p.ends_with("latin1 caf\\xe9.wav")));

    for args in [&["tracks"][..], &["errors"][..]] {
        let out = tuneatlas().args(args).arg("--db").arg(&db).output().expect("run");
        assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!out.stdout.contains(&0x1b), "no raw escape character reaches the terminal");
    }
    let out =
        tuneatlas().arg("import").arg(&root).arg("--db").arg(&db).arg("--no-model").output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("escaped output is UTF-8");
    assert!(text.contains("0 new, 0 updated, 0 moved"), "{text}");
    assert!(!text.contains('\u{1b}'));
}

/// A library written before paths were stored as bytes (text paths) keeps
/// every track through the upgrade: same ids, found unchanged.
#[test]
fn text_paths_of_an_older_library_survive_the_upgrade() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("music");
    write_wav(&root.join("plain.wav"), 1.0, 300.0, 22_050);
    write_wav(&root.join("ünïcødé 🎵.wav"), 1.0, 400.0, 22_050);
    let current = dir.path().join("current.db");
    let mut store = Store::open(&current).expect("open");
    import(&mut store, &root);
    let before = store.tracks(true).expect("tracks");
    drop(store);
    // The same library as schema 4 had it: text paths.
    let db = dir.path().join("lib.db");
    let old = Store::open_at_version(&db, 4).expect("schema 4");
    let conn = old.connection();
    conn.execute("ATTACH DATABASE ?1 AS cur", [current.to_str().expect("UTF-8 temp path")]).expect("attach");
    conn.execute_batch(
        "INSERT INTO tracks SELECT * FROM cur.tracks; INSERT INTO clips SELECT * FROM cur.clips;
         INSERT INTO file_errors SELECT * FROM cur.file_errors;
         INSERT INTO import_runs (id, root, started_at, finished_at, status, n_new, n_updated, n_moved,
             n_unchanged, n_failed, n_missing)
         SELECT id, root, started_at, finished_at, status, n_new, n_updated, n_moved, n_unchanged, n_failed,
             n_missing FROM cur.import_runs;
         UPDATE tracks SET path = CAST(path AS TEXT); UPDATE file_errors SET path = CAST(path AS TEXT);
         UPDATE import_runs SET root = CAST(root AS TEXT); DETACH DATABASE cur;",
    )
    .expect("schema-4 library");
    drop(old);
    let mut store = Store::open(&db).expect("upgrade");
    let kinds: Vec<String> = store
        .connection()
        .prepare("SELECT DISTINCT typeof(path) FROM tracks")
        .expect("sql")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(kinds, ["blob"]);
    let after = store.tracks(true).expect("tracks");
    assert_eq!(
        before.iter().map(|t| (t.id, t.path.clone())).collect::<Vec<_>>(),
        after.iter().map(|t| (t.id, t.path.clone())).collect::<Vec<_>>()
    );
    let again = import(&mut store, &root);
    assert_eq!((again.counts.unchanged, again.counts.new, again.counts.moved), (2, 0, 0));
}
