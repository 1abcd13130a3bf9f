//! The real `tuneatlas` binary: exit codes, JSON output, and an import killed
//! with SIGKILL mid-run that a rerun completes without duplicates.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tuneatlas::store::Store;

use crate::common::{fixture, write_wav};

fn tuneatlas() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tuneatlas"));
    c.env_remove("TUNEATLAS_DB").env("RUST_LOG", "warn");
    c
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

#[test]
fn import_reports_bad_files_but_exits_zero_and_lists_as_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = dir.path().join("lib");
    std::fs::create_dir_all(&lib).expect("mkdir");
    std::fs::copy(fixture("chirp10_vorbis.ogg"), lib.join("good.ogg")).expect("copy");
    std::fs::write(lib.join("bad.mp3"), b"").expect("write");
    let db = dir.path().join("lib.db");
    let db_s = db.to_str().expect("utf-8");

    let out = tuneatlas()
        .args(["import", lib.to_str().expect("utf-8"), "--db", db_s, "--json"])
        .output()
        .expect("run");
    let summary = json(&out);
    assert_eq!(summary["counts"]["new"], 1);
    assert_eq!(summary["counts"]["failed"], 1);
    assert!(summary["failures"][0]["path"].as_str().expect("path").ends_with("bad.mp3"));

    let tracks = json(&tuneatlas().args(["tracks", "--json", "--db", db_s]).output().expect("run"));
    assert_eq!(tracks.as_array().expect("array").len(), 1);
    assert_eq!(tracks[0]["title"], "Chirp Vorbis");
    let errors = json(&tuneatlas().args(["errors", "--json", "--db", db_s]).output().expect("run"));
    assert!(errors[0]["path"].as_str().expect("path").ends_with("bad.mp3"));

    // Human-readable summary names the failed file with its reason.
    let out = tuneatlas().args(["import", lib.to_str().expect("utf-8"), "--db", db_s]).output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 new") && text.contains("2 unchanged"), "{text}");
}

/// After an update improved the built-in model, importing into a library
/// embedded by the earlier build says which tracks lack the new model's
/// vectors and how to add them; `embed` does.
#[test]
fn import_into_a_library_of_an_earlier_model_points_to_embed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = dir.path().join("lib");
    std::fs::create_dir_all(&lib).expect("mkdir");
    std::fs::copy(fixture("chirp10_vorbis.ogg"), lib.join("old.ogg")).expect("copy");
    let db = dir.path().join("lib.db");
    let (lib_s, db_s) = (lib.to_str().expect("utf-8"), db.to_str().expect("utf-8"));
    assert!(tuneatlas().args(["import", lib_s, "--db", db_s]).output().expect("run").status.success());
    crate::common::pretend_earlier_model(&db, "dpnn-v0.9");
    write_wav(&lib.join("new.wav"), 3.0, 440.0, 22_050);

    let builtin = tuneatlas::model::record::embedded_card().expect("card").version;
    let out = tuneatlas().args(["import", lib_s, "--db", db_s]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("1 new"), "{text}");
    assert!(text.contains(&format!("note: 1 earlier tracks have no {builtin} vector")), "{text}");
    assert!(text.contains("`tuneatlas embed` adds them"), "{text}");

    let out = tuneatlas().args(["embed", "--db", db_s]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = tuneatlas().args(["import", lib_s, "--db", db_s]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("note:"), "every track has the built-in model's vector now: {text}");
    let store = Store::open(&db).expect("store");
    assert_eq!(store.count_vectors(&builtin).expect("count"), 2);
    assert_eq!(store.count_vectors("dpnn-v0.9").expect("count"), 1, "the earlier vectors stay");
}

#[test]
fn nothing_doable_exits_nonzero_with_one_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tuneatlas()
        .args(["import", dir.path().to_str().expect("utf-8"), "--db", "/proc/no/such/library.db"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot open the library database") && err.contains("/proc/no/such/library.db"),
        "{err}"
    );

    let out = tuneatlas()
        .args(["import", "/definitely/not/here", "--db", dir.path().join("x.db").to_str().expect("utf-8")])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/definitely/not/here"));
}

fn count_tracks(db: &Path) -> usize {
    // A read-only connection looks at the WAL database while the importer
    // writes (before the importer has created it, there is nothing to count).
    Store::open_read_only(db).and_then(|s| s.tracks(true)).map(|t| t.len()).unwrap_or(0)
}

#[test]
fn kill_dash_nine_mid_import_then_rerun_is_consistent() {
    const N: usize = 80;
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = dir.path().join("lib");
    for i in 0..N {
        write_wav(&lib.join(format!("d{}/{i:03}.wav", i % 4)), 13.0, 150.0 + 3.0 * i as f64, 8_000);
    }
    let db = dir.path().join("lib.db");
    let mut child = tuneatlas()
        .args(["import", lib.to_str().expect("utf-8"), "--db", db.to_str().expect("utf-8"), "--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = 0;
    while Instant::now() < deadline {
        seen = count_tracks(&db);
        if seen > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
    child.wait().expect("reap");
    let after_kill = count_tracks(&db);
    assert!(seen > 0 && after_kill < N, "kill must land mid-run: {after_kill} of {N} committed");

    let out = tuneatlas()
        .args(["import", lib.to_str().expect("utf-8"), "--db", db.to_str().expect("utf-8"), "--json"])
        .output()
        .expect("rerun");
    let summary = json(&out);
    assert_eq!(summary["counts"]["new"].as_u64(), Some((N - after_kill) as u64), "{summary}");
    assert_eq!(summary["counts"]["unchanged"].as_u64(), Some(after_kill as u64), "{summary}");

    let store = Store::open(&db).expect("open");
    assert!(store.integrity_ok().expect("integrity"));
    let tracks = store.tracks(true).expect("tracks");
    assert_eq!(tracks.len(), N);
    let mut paths: Vec<_> = tracks.iter().map(|t| t.path.clone()).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), N);
    assert!(tracks.iter().all(|t| t.n_clips == 1));
    let runs: Vec<String> = store
        .connection()
        .prepare("SELECT status FROM import_runs ORDER BY id")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(runs, vec!["interrupted", "finished"]);
}

#[test]
fn model_init_reproduces_the_shipped_initial_model_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("dpnn-init");
    let status =
        tuneatlas().args(["model", "init", "--out", out.to_str().expect("utf-8")]).status().expect("run");
    assert!(status.success());
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/dpnn-init");
    for file in ["model.toml", "weights.bpk"] {
        let a = std::fs::read(out.join(file)).expect("generated");
        let b = std::fs::read(shipped.join(file)).expect("shipped");
        assert!(a == b, "{file} differs from the shipped one: regenerate with `tuneatlas model init`");
    }
}

/// `train average` of one snapshot with itself is that snapshot: the same
/// outputs to the bit, under the new name and version; a directory that
/// is no model is refused by name.
#[test]
fn train_average_of_a_model_with_itself_keeps_its_weights() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/dpnn-v2");
    let out = dir.path().join("dpnn-avg");
    let status = tuneatlas()
        .args(["train", "average"])
        .args([&shipped, &shipped])
        .args(["--out".as_ref(), out.as_os_str(), "--version".as_ref(), "avg-test".as_ref()])
        .status()
        .expect("run");
    assert!(status.success());
    let outputs = |dir: &Path| {
        let device = tuneatlas::model::ComputeDevice::cpu();
        let model = tuneatlas::model::ModelBundle::read_dir(dir).expect("model").load(&device).expect("load");
        let mut embedder = tuneatlas::model::Embedder::new(model);
        embedder.embed_batch(&tuneatlas::model::bench::synthetic_clips(4)).expect("embed")
    };
    let (averaged, original) = (outputs(&out), outputs(&shipped));
    for (a, b) in averaged.iter().zip(&original) {
        assert_eq!(a.embedding, b.embedding, "the mean of a model with itself embeds differently");
        assert_eq!(a.tag_scores, b.tag_scores);
    }
    let card = std::fs::read_to_string(out.join("model.toml")).expect("card");
    assert!(card.contains("version = \"avg-test\"") && card.contains("name = \"dpnn-avg\""), "{card}");
    assert!(card.contains("averaged over 2 snapshots"), "{card}");

    let empty = dir.path().join("not-a-model");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let output = tuneatlas()
        .args(["train", "average"])
        .args([&shipped, &empty])
        .args(["--out".as_ref(), dir.path().join("x").as_os_str(), "--version".as_ref(), "x".as_ref()])
        .output()
        .expect("run");
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("not-a-model") && err.contains("model.toml"), "{err}");
}

/// `tuneatlas tracks | head` must end quietly, like any Unix tool, instead
/// of panicking on the closed pipe.
#[cfg(unix)]
#[test]
fn a_closed_output_pipe_ends_the_listing_quietly() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("lib.db");
    let music = dir.path().join("music");
    {
        let mut store = Store::open(&db).expect("open");
        let run = store.begin_run(&music).expect("run");
        // Far more output than a pipe buffers (64 KiB).
        let ops: Vec<_> =
            (0..3000).map(|i| crate::map::track_op(music.join(format!("{i:05}.ogg")), i)).collect();
        store.write_batch(run, &ops).expect("tracks");
    }
    let mut child = tuneatlas()
        .arg("tracks")
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("first line");
    assert!(first.contains("title"), "{first}");
    // The reader is gone now: the pipe is closed.
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "status {:?}; stderr: {stderr}", out.status);
}
