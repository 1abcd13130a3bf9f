//! Fine-tuning on the user's tags, end to end: a generated library whose
//! tags are audible (brightness, onset density, register; several albums) is
//! imported into a real SQLite library, tagged from a CSV, fine-tuned on the
//! CPU, and the held-out P@10 for those tags must rise clearly above the
//! starting model's. Also: tag import from CSV and genres with bad rows, and
//! the bad-input messages (no tags, one tag, one album, cancel).

use std::path::Path;

use tuneatlas::jobs::CancelToken;
use tuneatlas::library::{
    ImportOptions, import_comment_tags, import_folder, import_genre_tags, import_tags_csv,
};
use tuneatlas::model::backend::ComputeDevice;
use tuneatlas::model::record::ModelBundle;
use tuneatlas::store::{Store, TagSource};
use tuneatlas::train::finetune::eval::LSI_ROW;
use tuneatlas::train::finetune::{
    FineTuneConfig, FineTuneEvent, FineTuneRequest, TaggedTracks, TrainLayers, fine_tune,
};
use tuneatlas::train::lsi_view::{LsiView, LsiViewSettings};
use tuneatlas::train::synth_tags::{SYNTH_TAG_SETS, SynthTrack, tags_csv, write_tagged_corpus};
use tuneatlas::train::trainer::TrainEvent;
use tuneatlas::{Error, TagProblem};

use crate::common::training_in_process;

/// A library of `n` generated tracks over `albums` albums in `dir/music`,
/// imported into `dir/library.db` (no user tags yet), with the generator's
/// tracks (their audible tags).
fn generated_library(
    dir: &Path,
    n: usize,
    albums: usize,
    seconds: f64,
    seed: u64,
) -> (Store, Vec<SynthTrack>) {
    let music = dir.join("music");
    let tracks = write_tagged_corpus(&music, n, albums, seconds, seed).unwrap();
    let mut store = Store::open(&dir.join("library.db")).unwrap();
    let summary =
        import_folder(&mut store, &music, &ImportOptions::default(), &CancelToken::new(), |_| {}).unwrap();
    assert_eq!(summary.counts.new, n, "every generated file imports");
    (store, tracks)
}

/// A library of `n` generated tracks over `albums` albums, tagged from the CSV.
fn tagged_library(dir: &Path, n: usize, albums: usize, seconds: f64) -> Store {
    let (mut store, tracks) = generated_library(dir, n, albums, seconds, 11);
    let csv = dir.join("tags.csv");
    std::fs::write(&csv, tags_csv(&tracks)).unwrap();
    let report = import_tags_csv(&mut store, &csv, "tags").unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.tracks_tagged, n);
    store
}

fn request(dir: &Path, cfg: FineTuneConfig, version: &str) -> FineTuneRequest {
    FineTuneRequest {
        parent: ModelBundle::embedded().unwrap(),
        cfg,
        models_dir: dir.join("models"),
        work_dir: dir.join(format!("work-{version}")),
        version: Some(version.to_string()),
    }
}

fn print_events(e: &FineTuneEvent) {
    match e {
        FineTuneEvent::Train(TrainEvent::Step { step, loss, parts, .. }) => {
            eprintln!("step {step}: {loss:.4} {parts:?}")
        }
        FineTuneEvent::Train(TrainEvent::Validation { step, metrics }) => {
            eprintln!("valid {step}: {metrics:?}")
        }
        FineTuneEvent::Baseline(m) => eprintln!("baseline: {m:?}"),
        FineTuneEvent::Prepared { summary } => eprintln!("{summary}"),
        FineTuneEvent::Notice(n) => eprintln!("note: {n}"),
        _ => {}
    }
}

#[test]
fn finetune_raises_held_out_precision_on_audible_tags() {
    let _training = training_in_process();
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut store = tagged_library(dir.path(), 160, 8, 7.0);
    // Three independent two-tag sets have rank 4: six topics keep the LSI
    // exact (positives = the same three tags, negatives = none shared); the
    // vocabulary-size default (2 topics) would merge attributes.
    let cfg = FineTuneConfig {
        layers: TrainLayers::Top,
        epochs: 20,
        batch_tracks: 32,
        topics: Some(6),
        test_fraction: 0.4,
        patience_epochs: 6,
        ..FineTuneConfig::default()
    };
    let builtin = ModelBundle::embedded().unwrap().card.version;
    let req = request(dir.path(), cfg, "builtin-ft-test");
    let out =
        fine_tune(&mut store, &req, &ComputeDevice::cpu(), &CancelToken::new(), &mut print_events).unwrap();
    eprintln!("{}", out.table.render());
    eprintln!("took {:.1} s", started.elapsed().as_secs_f64());

    // A new version, its parent recorded, registered; the parent untouched.
    assert_eq!(out.card.provenance.parent.as_deref(), Some(builtin.as_str()));
    assert!(out.model_dir.join("model.toml").is_file());
    let models = store.models().unwrap();
    let row = models.iter().find(|m| m.version == "builtin-ft-test").expect("registered");
    assert_eq!(row.parent.as_deref(), Some(builtin.as_str()));
    assert!(!dir.path().join("work-builtin-ft-test").exists(), "the run's scratch folder is removed");

    for (set, _) in SYNTH_TAG_SETS {
        let (before, after) = out.table.get(set, 10).expect("row");
        eprintln!("{set}: {before:?} -> {after:?}");
    }
    let mean = |when: usize| {
        let v: Vec<f64> = SYNTH_TAG_SETS
            .iter()
            .map(|(set, _)| {
                let (b, a) = out.table.get(set, 10).unwrap();
                if when == 0 { b.unwrap() } else { a.unwrap() }
            })
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let (before, after) = (mean(0), mean(1));
    let (lsi_before, lsi_after) = out.table.get(LSI_ROW, 10).unwrap();
    eprintln!(
        "mean P@10 over the tag sets: {before:.3} -> {after:.3}; LSI row {lsi_before:?} -> {lsi_after:?}"
    );
    assert!(after >= before + 0.08, "held-out P@10 must rise clearly: {before:.3} -> {after:.3}");
    let (lsi_before, lsi_after) = (lsi_before.unwrap(), lsi_after.unwrap());
    assert!(lsi_after >= lsi_before + 0.1, "combined-tag P@10 must rise: {lsi_before:.3} -> {lsi_after:.3}");
}

/// The LSI preview looks at exactly the tracks a run trains on: its split,
/// its topic fit, its cross-album pairs.
#[test]
fn the_lsi_preview_counts_the_pairs_of_the_runs_training_tracks() {
    let dir = tempfile::tempdir().unwrap();
    let store = tagged_library(dir.path(), 40, 4, 1.0);
    let cfg = FineTuneConfig::default();
    let tagged = TaggedTracks::read(&store, &["brightness".to_owned(), "register".to_owned()]).unwrap();
    let split = tagged.split(cfg.test_fraction, cfg.valid_fraction, cfg.seed);
    assert_eq!(split.train.len() + split.valid.len() + split.test.len(), 40);
    assert!(split.train.len() < 40 && !split.test.is_empty(), "{split:?}");

    let view = LsiView::of_tagged(&tagged, &LsiViewSettings::default()).unwrap();
    assert_eq!(
        (view.n_tagged, view.n_tracks, view.n_pair_tracks),
        (40, split.train.len(), split.train.len())
    );
    let albums: Vec<Option<u32>> = split.train.iter().map(|&i| tagged.album_ids[i]).collect();
    let cross_album_pairs = (0..albums.len())
        .flat_map(|i| (i + 1..albums.len()).map(move |j| (i, j)))
        .filter(|&(i, j)| albums[i] != albums[j])
        .count() as u64;
    assert_eq!(
        view.histogram.total(),
        cross_album_pairs,
        "pairs of training tracks only, never of one album"
    );
    // Same split, same settings: the same preview (the split does not depend on row order or time).
    assert_eq!(LsiView::of_tagged(&tagged, &LsiViewSettings::default()).unwrap(), view);
}

#[test]
fn tag_import_reports_bad_rows_by_line_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, tracks) = generated_library(dir.path(), 3, 2, 1.0, 3);
    let csv = dir.path().join("tags.csv");
    let rel = tracks[1].path.strip_prefix(dir.path()).unwrap().display().to_string();
    std::fs::write(
        &csv,
        format!(
            "path,tags,tag_set\n\"{}\",Calm; Late  Night,moods\n{rel},dark\n/nope/missing.wav,calm\n\"{}\",;,moods\n",
            tracks[0].path.display(),
            tracks[2].path.display()
        ),
    )
    .unwrap();
    let report = import_tags_csv(&mut store, &csv, "Tags").unwrap();
    assert_eq!(report.rows_read, 4);
    assert_eq!(report.tags_added, 3);
    assert_eq!(report.sets, ["moods", "tags"]);
    let lines: Vec<u64> = report.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [4, 5], "{:?}", report.problems);
    assert!(report.problems[0].reason.contains("missing.wav"));
    assert!(report.problems[1].reason.contains("no tags"));
    let ids: Vec<i64> = store.tracks(false).unwrap().iter().map(|t| t.id).collect();
    let all = store.all_user_tags(None).unwrap();
    assert!(all.iter().any(|(_, s, t)| s == "moods" && t == "late night"));
    assert!(all.iter().any(|(_, s, t)| s == "tags" && t == "dark"));
    assert_eq!(ids.len(), 3);

    // Artist/title columns, and a CSV without the needed columns.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "name,tags\nx,y\n").unwrap();
    let err = import_tags_csv(&mut store, &bad, "tags").unwrap_err().to_string();
    assert!(err.contains("\"path\" column"), "{err}");

    // Genres stored at import (none for these WAVs) give nothing, without error.
    let genres = import_genre_tags(&mut store, "genre").unwrap();
    assert_eq!(genres.tags_added, 0);
}

#[test]
fn bad_tags_give_clear_errors_and_cancel_leaves_no_model() {
    let _training = training_in_process();
    let dir = tempfile::tempdir().unwrap();
    let (mut store, tracks) = generated_library(dir.path(), 12, 3, 1.0, 5);
    let music = dir.path().join("music");
    let ids: Vec<i64> = store.tracks(false).unwrap().iter().map(|t| t.id).collect();
    let cpu = ComputeDevice::cpu();
    let run = |store: &mut Store, cfg: FineTuneConfig, cancel: &CancelToken| {
        fine_tune(store, &request(dir.path(), cfg, "v"), &cpu, cancel, &mut |_| {}).unwrap_err()
    };
    let cfg = FineTuneConfig { epochs: 1, ..FineTuneConfig::default() };
    let none = CancelToken::new();

    let e = run(&mut store, cfg.clone(), &none);
    assert!(matches!(e, Error::BadTags(TagProblem::NoTags { .. })), "{e}");
    store.add_user_tags(&ids, "moods", &["calm"], TagSource::User).unwrap();
    let e = run(&mut store, cfg.clone(), &none);
    assert!(matches!(e, Error::BadTags(TagProblem::OneTag { .. })), "{e}");
    assert!(e.to_string().contains("\"calm\""), "{e}");

    // Tags on one track only.
    let mut lone = Store::open(&dir.path().join("lone.db")).unwrap();
    import_folder(&mut lone, &music, &ImportOptions::default(), &none, |_| {}).unwrap();
    let lone_ids: Vec<i64> = lone
        .tracks(false)
        .unwrap()
        .iter()
        .filter(|t| t.album.as_deref() == Some("album-00"))
        .map(|t| t.id)
        .collect();
    assert!(lone_ids.len() >= 3);
    lone.add_user_tags(&lone_ids[..1], "moods", &["calm", "dark"], TagSource::User).unwrap();
    let e = run(&mut lone, cfg.clone(), &none);
    assert!(matches!(e, Error::BadTags(TagProblem::TooFewTracks { tagged: 1, .. })), "{e}");
    // Several tracks, all on one album.
    lone.add_user_tags(&lone_ids[1..], "moods", &["bright"], TagSource::User).unwrap();
    let e = run(&mut lone, cfg.clone(), &none);
    assert!(matches!(e, Error::BadTags(TagProblem::OneAlbum { .. })), "{e}");

    // Tags that make every pair a positive: no negatives anywhere.
    store.add_user_tags(&ids, "moods", &["warm"], TagSource::User).unwrap();
    let e = run(&mut store, cfg.clone(), &none);
    assert!(matches!(e, Error::BadTags(TagProblem::NoTriplets { .. })), "{e}");
    assert!(e.to_string().contains("negative"), "{e}");

    // Real tags, cancelled before the first step: no model written or registered.
    for t in &tracks {
        let id = store.tracks(false).unwrap().into_iter().find(|r| r.path == t.path).unwrap().id;
        let tags: Vec<&str> = t.tags.iter().map(|(_, tag)| tag.as_str()).collect();
        store.add_user_tags(&[id], "sound", &tags, TagSource::Csv).unwrap();
    }
    let cancelled = CancelToken::new();
    cancelled.cancel();
    let cfg = FineTuneConfig { sets: vec!["sound".into()], ..cfg };
    let e = run(&mut store, cfg, &cancelled);
    assert!(matches!(e, Error::Cancelled), "{e}");
    assert!(!dir.path().join("models").join("v").exists());
    assert!(store.models().unwrap().iter().all(|m| m.version != "v"));
}

fn tuneatlas(db: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tuneatlas"));
    c.env_remove("TUNEATLAS_DB").env("RUST_LOG", "warn").arg("--db").arg(db);
    c
}

#[test]
fn finetune_command_imports_trains_reembeds_and_prints_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    let tracks = write_tagged_corpus(&music, 24, 4, 6.5, 9).unwrap();
    let csv = dir.path().join("tags.csv");
    std::fs::write(&csv, tags_csv(&tracks)).unwrap();
    let db = dir.path().join("library.db");
    let out = tuneatlas(&db).arg("import").arg(&music).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // `tag import` with a bad row: named by line, the rest imported.
    let bad = dir.path().join("extra.csv");
    std::fs::write(&bad, format!("path,tags\n/nope.wav,x\n\"{}\",favourite\n", tracks[0].path.display()))
        .unwrap();
    let out =
        tuneatlas(&db).args(["tag", "import", "--csv"]).arg(&bad).args(["--set", "mine"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped line 2:"), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 new tag(s) on 1 track(s) in set(s) mine"),
        "{out:?}"
    );

    // The scratch folder of a run that was killed: swept up by the next run.
    let stale = dir.path().join("models/.work-4000000000");
    std::fs::create_dir_all(stale.join("features")).unwrap();
    std::fs::write(stale.join(".lock"), b"").unwrap();
    std::fs::write(stale.join("features/clips.bin"), vec![0u8; 4096]).unwrap();

    let out = tuneatlas(&db)
        .args(["finetune", "--tags"])
        .arg(&csv)
        .args(["--eval", "--set", "brightness", "--set", "register", "--layers", "heads", "--epochs", "2"])
        .args(["--batch", "16", "--topics", "3", "--version", "cli-ft", "--device", "cpu"])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let builtin = ModelBundle::embedded().unwrap().card.version;
    assert!(stdout.contains(&format!("new model version cli-ft (parent {builtin})")), "{stdout}");
    assert!(stdout.contains("re-embedded 24 tracks with cli-ft"), "{stdout}");
    assert!(
        stdout.contains("P@10 before") && stdout.contains("brightness") && stdout.contains("register"),
        "{stdout}"
    );
    let table = &stdout[stdout.find("P@k on").unwrap()..];
    assert!(!table.contains("density"), "only the chosen sets are trained and evaluated: {stdout}");
    assert!(stderr.contains("2 tags in set(s)") || stderr.contains("4 tags in set(s)"), "{stderr}");
    assert!(dir.path().join("models/cli-ft/model.toml").is_file());
    assert!(!stale.exists(), "a killed run's scratch folder is removed");
    assert!(stderr.contains("did not finish") && stderr.contains(".work-4000000000"), "{stderr}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("models"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".work-"))
        .collect();
    assert!(leftovers.is_empty(), "the run removes its own scratch folder too: {leftovers:?}");
    let store = Store::open(&db).unwrap();
    assert_eq!(store.count_vectors("cli-ft").unwrap(), 24);
    assert_eq!(store.count_vectors(&builtin).unwrap(), 24, "the parent's vectors stay");
}

/// A 16-bit mono WAV of a quiet tone with a RIFF INFO comment (ICMT) before
/// its data, as taggers write it.
fn write_wav_with_comment(path: &Path, comment: &str) {
    let rate_hz = 22_050u32;
    let samples: Vec<i16> = (0..rate_hz).map(|i| ((i as f32 * 0.05).sin() * 3000.0) as i16).collect();
    // The chunk size counts the text and its NUL, not the pad byte.
    let mut text = comment.as_bytes().to_vec();
    text.push(0);
    let mut info = b"INFO".to_vec();
    info.extend_from_slice(b"ICMT");
    info.extend_from_slice(&(text.len() as u32).to_le_bytes());
    info.extend_from_slice(&text);
    if text.len() % 2 == 1 {
        info.push(0);
    }
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut body = b"WAVE".to_vec();
    body.extend_from_slice(b"fmt ");
    body.extend_from_slice(&16u32.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&rate_hz.to_le_bytes());
    body.extend_from_slice(&(rate_hz * 2).to_le_bytes());
    body.extend_from_slice(&2u16.to_le_bytes());
    body.extend_from_slice(&16u16.to_le_bytes());
    body.extend_from_slice(b"LIST");
    body.extend_from_slice(&(info.len() as u32).to_le_bytes());
    body.extend_from_slice(&info);
    body.extend_from_slice(b"data");
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&data);
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend_from_slice(&body);
    std::fs::write(path, file).unwrap();
}

#[test]
fn comment_fields_become_tags_and_unreadable_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    write_wav_with_comment(&music.join("a.wav"), "Chill; late night #rainy");
    write_wav_with_comment(&music.join("b.wav"), "Ripped with Exact Audio Copy from my own CD");
    write_wav_with_comment(&music.join("c.wav"), "#Rainy");
    let mut store = Store::open(&dir.path().join("library.db")).unwrap();
    import_folder(&mut store, &music, &ImportOptions::default(), &CancelToken::new(), |_| {}).unwrap();
    // c.wav goes bad after the import: it is named, the others still count.
    std::fs::write(music.join("c.wav"), b"not audio any more").unwrap();
    let report = import_comment_tags(&mut store, "Comment", &CancelToken::new()).unwrap();
    assert_eq!(report.rows_read, 3);
    assert_eq!((report.tags_added, report.tracks_tagged), (3, 1), "{report:?}");
    assert_eq!(report.problems.len(), 1);
    assert!(report.problems[0].reason.contains("c.wav"), "{}", report.problems[0].reason);
    let mut tags: Vec<String> =
        store.all_user_tags(Some("comment")).unwrap().into_iter().map(|(_, _, t)| t).collect();
    tags.sort();
    assert_eq!(tags, ["chill", "late night", "rainy"]);
    // Cancelled before the first file: nothing more is written.
    let cancel = CancelToken::new();
    cancel.cancel();
    assert!(matches!(import_comment_tags(&mut store, "other", &cancel), Err(Error::Cancelled)));
    assert!(store.all_user_tags(Some("other")).unwrap().is_empty());
}
