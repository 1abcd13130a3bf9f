//! The hostile-input suite: a folder generated at test time (a few MB) of
//! truncated, empty, random and mislabelled files of every format, headers
//! that lie about rate, channels, length and size, giant tags and covers,
//! NaN/inf float WAVs, odd names, pipes, sockets and links — beside good
//! files. Each case states what must happen: imported, reported with a
//! reason naming the file, or skipped. Then: a second import changes nothing,
//! and imports killed with SIGKILL at random points always resume cleanly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tuneatlas::audio::synth::{noise_bytes, tone16, wav_bytes};
use tuneatlas::jobs::CancelToken;
use tuneatlas::library::{ImportOptions, ImportSummary, import_folder};
use tuneatlas::store::{RunStatus, Store};

use crate::common::{fixture, write_wav};

/// What must become of one input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    /// Imported as a track whose duration lies within the range (seconds).
    Imported { min_s: f64, max_s: f64 },
    /// Reported as failed, the reason containing this text.
    Failed(&'static str),
    /// Reported by the walk (not opened), the reason containing this text.
    Skipped(&'static str),
    /// Not audio: counted, never an error.
    NotAudio,
}

use Expect::{Failed, Imported, NotAudio, Skipped};

/// Any duration: the file plays, how long does not matter here.
const ANY: Expect = Imported { min_s: 0.0, max_s: 60.0 };

/// The good corpus: the format fixtures, each of which must import.
pub const GOOD: &[(&str, &str)] = &[
    ("chirp10_mp3.mp3", "good/mp3.mp3"),
    ("chirp10_vorbis.ogg", "good/vorbis.ogg"),
    ("chirp10_opus.opus", "good/opus.opus"),
    ("chirp10_flac.flac", "good/flac.flac"),
    ("chirp10_aac.m4a", "good/aac.m4a"),
    ("chirp2_wav.wav", "good/wav.wav"),
    ("chirp5_aiff.aiff", "good/aiff.aiff"),
    ("chirp21_mp3.mp3", "good/long.mp3"),
    ("notags_noxing.mp3", "good/noxing.mp3"),
];

/// An ID3v2.4 tag holding one APIC frame of `cover_len` bytes, in front of `mp3`.
fn with_giant_cover(mp3: &[u8], cover_len: usize) -> Vec<u8> {
    fn syncsafe(n: usize) -> [u8; 4] {
        [(n >> 21 & 0x7f) as u8, (n >> 14 & 0x7f) as u8, (n >> 7 & 0x7f) as u8, (n & 0x7f) as u8]
    }
    let mut body = vec![0u8];
    body.extend_from_slice(b"image/png\0");
    body.push(3);
    body.push(0);
    body.extend_from_slice(&noise_bytes(cover_len, 99));
    let mut frame = b"APIC".to_vec();
    frame.extend_from_slice(&syncsafe(body.len()));
    frame.extend_from_slice(&[0, 0]);
    frame.extend_from_slice(&body);
    let mut out = b"ID3\x04\x00\x00".to_vec();
    out.extend_from_slice(&syncsafe(frame.len()));
    out.extend_from_slice(&frame);
    out.extend_from_slice(mp3);
    out
}

/// The MP3 fixture with its Xing/Info frame count set to 2³¹.
fn lying_xing(mut mp3: Vec<u8>) -> Option<Vec<u8>> {
    let at = mp3.windows(4).position(|w| w == b"Xing" || w == b"Info")?;
    let flags = u32::from_be_bytes(mp3[at + 4..at + 8].try_into().ok()?);
    if flags & 1 == 0 {
        return None;
    }
    mp3[at + 8..at + 12].copy_from_slice(&0x8000_0000u32.to_be_bytes());
    Some(mp3)
}

/// Builds the hostile folder under `root`; returns every case with its path.
pub fn build_hostile(root: &Path) -> Vec<(PathBuf, Expect)> {
    let mut cases: Vec<(PathBuf, Expect)> = Vec::new();
    let mut put = |rel: &str, bytes: &[u8], expect: Expect| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, bytes).expect("write");
        cases.push((path, expect));
    };
    for (from, to) in GOOD {
        let expect = if from.starts_with("chirp21") {
            Imported { min_s: 20.0, max_s: 22.0 }
        } else if from.starts_with("chirp2_") {
            Imported { min_s: 1.5, max_s: 2.5 }
        } else if from.starts_with("chirp5") {
            Imported { min_s: 4.5, max_s: 5.5 }
        } else {
            Imported { min_s: 9.5, max_s: 10.5 }
        };
        put(to, &std::fs::read(fixture(from)).expect("fixture"), expect);
    }
    // Every format: empty, a few header bytes only, random bytes, and
    // another format's content under its extension.
    for (from, ext) in [
        ("chirp10_mp3.mp3", "mp3"),
        ("chirp10_vorbis.ogg", "ogg"),
        ("chirp10_opus.opus", "opus"),
        ("chirp10_flac.flac", "flac"),
        ("chirp10_aac.m4a", "m4a"),
        ("chirp2_wav.wav", "wav"),
        ("chirp5_aiff.aiff", "aiff"),
    ] {
        let good = std::fs::read(fixture(from)).expect("fixture");
        put(&format!("empty/empty.{ext}"), b"", Failed("empty file"));
        put(&format!("truncated/head.{ext}"), &good[..64.min(good.len())], Failed(""));
        put(&format!("random/noise.{ext}"), &noise_bytes(20_000, ext.len() as u64 * 7919), Failed(""));
        // A text file: never audio, whatever its name.
        put(&format!("text/notes.{ext}"), "liner notes, not audio\n".repeat(40).as_bytes(), Failed(""));
        // Cut in the middle: what is there plays — except MP4, whose index
        // sits at the end, and AIFF, whose FORM chunk then overruns the file
        // (refused by the demuxer): those are reported.
        let cut_expect =
            if ext == "m4a" || ext == "aiff" { Failed("") } else { Imported { min_s: 0.0, max_s: 10.5 } };
        put(&format!("truncated/half.{ext}"), &good[..good.len() / 2], cut_expect);
    }
    // Mislabelled: the content decides.
    put("mislabelled/flac-named.mp3", &std::fs::read(fixture("chirp10_flac.flac")).expect("f"), ANY);
    put("mislabelled/ogg-named.m4a", &std::fs::read(fixture("chirp10_vorbis.ogg")).expect("f"), ANY);
    put("mislabelled/mp3-named.txt", &std::fs::read(fixture("chirp10_mp3.mp3")).expect("f"), ANY);
    put("mislabelled/png-named.wav", &std::fs::read(fixture("not_audio.png")).expect("f"), Failed(""));
    put("mislabelled/cover.jpg", &noise_bytes(5000, 5), NotAudio);

    // Lying headers.
    put(
        "lying/rate-768k.wav",
        &wav_bytes(768_000, 1, 16, 1, 2, 4_000_000_000, &[0; 400]),
        Failed("sample rate"),
    );
    put("lying/rate-4g.wav", &wav_bytes(u32::MAX, 1, 16, 1, 2, 1000, &[0; 1000]), Failed(""));
    put("lying/rate-0.wav", &wav_bytes(0, 1, 16, 1, 2, 1000, &[0; 1000]), Failed(""));
    put("lying/channels-0.wav", &wav_bytes(44_100, 0, 16, 1, 0, 1000, &[0; 1000]), Failed(""));
    put("lying/channels-200.wav", &wav_bytes(44_100, 200, 16, 1, 400, 4000, &[0; 4000]), Failed(""));
    put(
        "lying/block-align-0.wav",
        &wav_bytes(44_100, 1, 16, 1, 0, 44_100, &tone16(22_050, 1.0, 440.0)),
        Failed("block alignment"),
    );
    put(
        "lying/length-4gb.wav",
        &wav_bytes(22_050, 1, 16, 1, 2, 0xFFFF_FFF0, &tone16(22_050, 1.0, 440.0)),
        // Counted from the data: a partial last packet may be left out.
        Imported { min_s: 0.7, max_s: 1.1 },
    );
    put("lying/bits-0.wav", &wav_bytes(22_050, 1, 0, 1, 2, 44_100, &tone16(22_050, 1.0, 440.0)), Failed(""));
    put(
        "lying/format-9999.wav",
        &wav_bytes(22_050, 1, 16, 9999, 2, 44_100, &tone16(22_050, 1.0, 440.0)),
        Failed(""),
    );
    if let Some(mp3) = lying_xing(std::fs::read(fixture("chirp10_mp3.mp3")).expect("f")) {
        put("lying/xing-2e31-frames.mp3", &mp3, Imported { min_s: 9.5, max_s: 10.5 });
    }

    // NaN and infinity in float WAVs: imported, the bad samples as silence.
    for (name, value) in [("nan", f32::NAN), ("inf", f32::INFINITY), ("neg-inf", f32::NEG_INFINITY)] {
        let data: Vec<u8> = (0..22_050)
            .flat_map(|i| if i % 3 == 0 { value } else { 0.25 * (i as f32 * 0.1).sin() }.to_le_bytes())
            .collect();
        put(
            &format!("float/{name}.wav"),
            &wav_bytes(22_050, 1, 32, 3, 4, data.len() as u32, &data),
            Imported { min_s: 0.9, max_s: 1.1 },
        );
    }

    // Giant tags and covers.
    let mp3 = std::fs::read(fixture("chirp10_mp3.mp3")).expect("f");
    put("giant/cover-8mb.mp3", &with_giant_cover(&mp3, 8 << 20), Imported { min_s: 9.5, max_s: 10.5 });
    let mut info = b"INFO".to_vec();
    for id in [b"INAM", b"IART", b"ICMT"] {
        info.extend_from_slice(id);
        info.extend_from_slice(&(1u32 << 20).to_le_bytes());
        info.extend_from_slice(&vec![b'x'; 1 << 20]);
    }
    let mut wav = std::fs::read(fixture("chirp2_wav.wav")).expect("f");
    wav.extend_from_slice(b"LIST");
    wav.extend_from_slice(&(info.len() as u32).to_le_bytes());
    wav.extend_from_slice(&info);
    put("giant/info-3mb.wav", &wav, Imported { min_s: 1.5, max_s: 2.5 });
    cases
}

/// Pipes, sockets and links: what the walk must skip, with the reason.
#[cfg(unix)]
fn build_specials(root: &Path) -> (Vec<(PathBuf, Expect)>, std::os::unix::net::UnixListener) {
    let dir = root.join("special");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut cases = Vec::new();
    let fifo = dir.join("pipe.mp3");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    cases.push((fifo, Skipped("named pipe")));
    let socket = dir.join("socket.flac");
    let listener = std::os::unix::net::UnixListener::bind(&socket).expect("socket");
    cases.push((socket, Skipped("socket")));
    for (name, target) in [("root-link", "/"), ("proc-link", "/proc"), ("zero.mp3", "/dev/zero")] {
        let link = dir.join(name);
        std::os::unix::fs::symlink(target, &link).expect("symlink");
        cases.push((link, Skipped("outside the imported folder")));
    }
    let broken = dir.join("broken.mp3");
    std::os::unix::fs::symlink(dir.join("nothing-here.mp3"), &broken).expect("symlink");
    cases.push((broken, Skipped("broken link")));
    std::os::unix::fs::symlink(root, dir.join("loop")).expect("symlink");
    cases.push((dir.join("loop"), Skipped("symlink loop")));
    (cases, listener)
}

fn run_import(store: &mut Store, root: &Path) -> ImportSummary {
    import_folder(store, root, &ImportOptions::default(), &CancelToken::new(), |_| {}).expect("import runs")
}

#[test]
fn every_hostile_input_is_imported_reported_or_skipped_as_stated() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("music")).expect("mkdir");
    let root = dir.path().join("music").canonicalize().expect("canonical");
    let mut cases = build_hostile(&root);
    #[cfg(unix)]
    let (specials, _listener) = build_specials(&root);
    #[cfg(unix)]
    cases.extend(specials);
    #[cfg(unix)]
    for path in crate::odd_names::odd_named_files(&root.join("names")) {
        cases.push((path, Imported { min_s: 0.9, max_s: 1.1 }));
    }

    let mut store = Store::open(&dir.path().join("lib.db")).expect("open");
    let started = Instant::now();
    let first = run_import(&mut store, &root);
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
    assert_eq!(first.status, RunStatus::Finished);

    let tracks: HashMap<PathBuf, tuneatlas::store::TrackRow> =
        store.tracks(true).expect("tracks").into_iter().map(|t| (t.path.clone(), t)).collect();
    let failed: HashMap<&PathBuf, &String> = first.failures.iter().map(|(p, r)| (p, r)).collect();
    let skipped: HashMap<&PathBuf, &String> = first.skipped.iter().map(|(p, r)| (p, r)).collect();
    let mut wrong = Vec::new();
    for (path, expect) in &cases {
        let got = match (tracks.get(path), failed.get(path), skipped.get(path)) {
            (Some(t), None, None) => format!("imported ({:.2} s)", t.duration_s),
            (None, Some(r), None) => format!("failed: {r}"),
            (None, None, Some(r)) => format!("skipped: {r}"),
            (None, None, None) => "not reported at all".to_string(),
            _ => "reported twice".to_string(),
        };
        let ok = match *expect {
            Imported { min_s, max_s } => {
                tracks
                    .get(path)
                    .is_some_and(|t| t.status == "ok" && t.duration_s >= min_s && t.duration_s <= max_s)
                    && !failed.contains_key(path)
            }
            Failed(text) => failed.get(path).is_some_and(|r| r.contains(text) && !r.is_empty()),
            Skipped(text) => skipped.get(path).is_some_and(|r| r.contains(text)),
            NotAudio => {
                !tracks.contains_key(path) && !failed.contains_key(path) && !skipped.contains_key(path)
            }
        };
        if !ok {
            wrong.push(format!("{}: expected {expect:?}, got {got}", tuneatlas::text::shown(path)));
        }
    }
    assert!(wrong.is_empty(), "{} of {} cases wrong:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
    let n_imported = cases.iter().filter(|(_, e)| matches!(e, Imported { .. })).count();
    assert_eq!(tracks.len(), n_imported, "no track lost or merged, nothing extra");
    for t in tracks.values() {
        for c in store.clips(t.id).expect("clips") {
            assert!(c.rms_db.is_finite() && c.start_s.is_finite(), "{t:?}");
        }
    }
    assert!(store.integrity_ok().expect("check"));

    // A second import changes nothing.
    let second = run_import(&mut store, &root);
    let c = &second.counts;
    assert_eq!((c.new, c.updated, c.moved, c.failed, c.missing), (0, 0, 0, 0, 0), "{second:#?}");
    assert_eq!(c.unchanged, n_imported + first.counts.failed);
}

fn count_tracks(db: &Path) -> usize {
    let conn = rusqlite::Connection::open(db).expect("db");
    conn.query_row("SELECT COUNT(*) FROM tracks", [], |r| r.get::<_, i64>(0)).expect("count") as usize
}

/// The real binary killed with SIGKILL at twenty random points of an
/// import: each rerun continues where the last one stopped, and the end
/// state is every track once, `ok`, with a consistent database.
#[test]
fn kill_dash_nine_at_twenty_random_points_always_resumes() {
    const N: usize = 12;
    let dir = tempfile::tempdir().expect("tempdir");
    let music = dir.path().join("music");
    for i in 0..N {
        write_wav(&music.join(format!("t{i:02}.wav")), 1.0, 150.0 + 40.0 * i as f64, 22_050);
    }
    let db = dir.path().join("lib.db");
    let mut delays = noise_bytes(20, 4242).into_iter();
    for _ in 0..20 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
            .env_remove("TUNEATLAS_DB")
            .env("RUST_LOG", "off")
            .arg("import")
            .arg(&music)
            .arg("--db")
            .arg(&db)
            .args(["--no-model", "--jobs", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let delay_ms = u64::from(delays.next().unwrap_or(0)) * 2;
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
        .env_remove("TUNEATLAS_DB")
        .arg("import")
        .arg(&music)
        .arg("--db")
        .arg(&db)
        .args(["--no-model", "--json"])
        .output()
        .expect("final run");
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(count_tracks(&db), N);
    let store = Store::open(&db).expect("open");
    assert!(store.integrity_ok().expect("check"));
    let tracks = store.tracks(true).expect("tracks");
    assert!(tracks.iter().all(|t| t.status == "ok" && t.n_clips >= 1), "{tracks:#?}");
    let again = Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
        .env_remove("TUNEATLAS_DB")
        .arg("import")
        .arg(&music)
        .arg("--db")
        .arg(&db)
        .args(["--no-model", "--json"])
        .output()
        .expect("run");
    let summary: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(summary["counts"]["unchanged"].as_u64(), Some(N as u64), "{summary}");
}

/// A library written by a newer tuneatlas is refused before anything in the
/// file changes (not even its journal mode).
#[test]
fn a_newer_library_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("lib.db");
    let conn = rusqlite::Connection::open(&db).expect("sqlite");
    conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 999;").expect("future db");
    drop(conn);
    let before = std::fs::read(&db).expect("read");
    let err = Store::open(&db).expect_err("refused");
    assert!(matches!(err, tuneatlas::Error::DbTooNew { found: 999, .. }), "{err}");
    assert_eq!(std::fs::read(&db).expect("read"), before, "not a byte changed");
    assert!(!dir.path().join("lib.db-wal").exists());
}

/// Looking at a library (`tracks`, `errors`, `similar`, `export`) never
/// migrates or writes it: an older library is left as it was.
#[test]
fn read_only_commands_never_change_the_library() {
    let dir = tempfile::tempdir().expect("tempdir");
    let music = dir.path().join("music");
    write_wav(&music.join("a.wav"), 1.0, 440.0, 22_050);
    let db = dir.path().join("lib.db");
    let mut store = Store::open(&db).expect("open");
    run_import(&mut store, &music);
    drop(store);
    let conn = rusqlite::Connection::open(&db).expect("sqlite");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA user_version = 4;").expect("older");
    drop(conn);
    let before = std::fs::read(&db).expect("read");
    for args in [&["tracks"][..], &["errors"][..], &["export", "m3u", "--out"][..]] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tuneatlas"));
        cmd.env_remove("TUNEATLAS_DB").args(args);
        if args[0] == "export" {
            cmd.arg(dir.path().join("out.m3u"));
        }
        let out = cmd.arg("--db").arg(&db).output().expect("run");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && text.contains("upgrade"), "{args:?}: {text}");
    }
    assert_eq!(std::fs::read(&db).expect("read"), before, "not migrated");
}

/// A file that takes longer than the per-file time limit is reported and
/// the import goes on without it (here the limit is too short for any file).
#[test]
fn a_file_over_the_time_limit_is_reported_and_the_import_finishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let music = dir.path().join("music");
    for i in 0..3 {
        write_wav(&music.join(format!("t{i}.wav")), 1.0, 300.0 + 50.0 * f64::from(i), 22_050);
    }
    let mut store = Store::open(&dir.path().join("lib.db")).expect("open");
    let options = ImportOptions { file_time_limit: Duration::from_nanos(1), ..Default::default() };
    let summary = import_folder(&mut store, &music, &options, &CancelToken::new(), |_| {}).expect("finishes");
    assert_eq!(summary.status, RunStatus::Finished);
    assert_eq!(summary.counts.failed, 3, "{summary:#?}");
    assert!(summary.failures.iter().all(|(_, r)| r.contains("time limit")), "{:#?}", summary.failures);
}
