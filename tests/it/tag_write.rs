//! Writing tags back into the files (`library::tag_write`, `tuneatlas tags
//! write`) on real files of every format the import reads: the committed
//! fixtures, imported into a real library whose predicted tags are set by
//! the test. Each written file is decoded with tuneatlas's own decoder
//! before and after and compared sample for sample; its fields are read
//! back with lofty's format-specific readers; formats without writable tags,
//! read-only files and the like are refused and left byte for byte as they
//! were. A second import finds every written file unchanged, and a written
//! file that moves keeps its id.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lofty::file::{AudioFile as _, FileType};
use tuneatlas::audio::{AudioFile, PcmStream};
use tuneatlas::jobs::CancelToken;
use tuneatlas::library::tag_write::user_field;
use tuneatlas::library::{
    FileOutcome, FileReport, ImportOptions, TagWriteEvent, TagWriteOptions, TagWriteSummary, import_folder,
    write_tags,
};
use tuneatlas::model::heads::TagCategory;
use tuneatlas::store::{Embedding, ModelRow, Store, TagScore, TagSource, TrackRow, WhenBusy};

use crate::common::fixture;

/// The model version whose tags the tests write.
pub const MODEL: &str = "tagwrite-model-1";

/// Fixtures of every format the import reads that tags are written into.
const WRITABLE: &[&str] = &[
    "chirp10_mp3.mp3",
    "notags_noxing.mp3",
    "chirp1_mp2.mp2",
    "chirp1_adts.aac",
    "chirp10_aac.m4a",
    "chirp1_alac.m4a",
    "chirp10_flac.flac",
    "chirp10_vorbis.ogg",
    "chirp10_opus.opus",
    "chirp2_wav.wav",
    "chirp5_aiff.aiff",
];

/// Fixtures the import reads but whose formats have no tag tuneatlas
/// writes, with the container named in the refusal.
const REFUSED: &[(&str, &str)] = &[
    ("chirp1_pcm.caf", "caf"),
    ("chirp1_vorbis.mka", "matroska"),
    ("chirp1_opus.webm", "matroska"),
    ("chirp1_flac.oga", "ogg"),
];

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn score(category: &str, tag: &str, score: f32) -> TagScore {
    TagScore { category: category.into(), tag: tag.into(), score }
}

/// The predicted tags every track gets: two genres and a mood pass 0.5,
/// the rest do not.
fn predicted() -> Vec<TagScore> {
    vec![
        score("genre", "rock", 0.9),
        score("genre", "ambient", 0.6),
        score("genre", "jazz", 0.2),
        score("style", "piano", 0.3),
        score("mood", "fast", 0.7),
        score("theme", "party", 0.1),
    ]
}

/// A library of copies of `names` in `dir/music`, imported without a model;
/// every track then gets `scores` as its predicted tags of `version`.
pub fn library(dir: &Path, names: &[&str]) -> (PathBuf, Vec<TrackRow>) {
    let music = dir.join("music");
    std::fs::create_dir_all(&music).unwrap();
    for name in names {
        std::fs::copy(fixture(name), music.join(name)).unwrap();
    }
    let db = dir.join("library.db");
    let mut store = Store::open(&db).unwrap();
    let summary =
        import_folder(&mut store, &music, &ImportOptions::default(), &CancelToken::new(), |_| {}).unwrap();
    assert_eq!(summary.counts.new, names.len(), "every fixture imports: {:#?}", summary.failures);
    set_predictions(&mut store, MODEL, &predicted());
    let tracks = store.tracks(false).unwrap();
    (db, tracks)
}

/// Gives every track of `store` the predicted tags `scores` of `version`.
fn set_predictions(store: &mut Store, version: &str, scores: &[TagScore]) {
    store
        .register_model(&ModelRow {
            version: version.into(),
            name: "test".into(),
            parent: None,
            config_json: "{}".into(),
        })
        .unwrap();
    // Distinct unit vectors, so the window's map has something to lay out.
    let items: Vec<(i64, Embedding)> = store
        .tracks(false)
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut vector = vec![0.0; 16];
            vector[i % 16] = 1.0;
            let clip_vectors = vec![vector.clone(); t.n_clips as usize];
            (t.id, Embedding { clip_vectors, track_vector: vector, tags: scores.to_vec() })
        })
        .collect();
    store.write_embeddings(version, &items).unwrap();
}

fn ids(tracks: &[TrackRow]) -> Vec<i64> {
    tracks.iter().map(|t| t.id).collect()
}

/// Runs the core function, collecting the per-file reports.
fn write(
    db: &Path,
    ids: &[i64],
    version: &str,
    options: &TagWriteOptions,
) -> (TagWriteSummary, Vec<FileReport>) {
    let mut store = Store::open(db).unwrap();
    let mut reports = Vec::new();
    let summary = write_tags(&mut store, ids, version, options, &CancelToken::new(), |e| {
        if let TagWriteEvent::Done(r) = e {
            reports.push(r.clone());
        }
    })
    .unwrap();
    (summary, reports)
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The whole file decoded by tuneatlas's own decoder: rate, channels and
/// every sample (as bits, so that equality is exact).
fn decode_all(path: &Path) -> (u32, usize, Vec<u32>) {
    let mut stream = PcmStream::open(path).unwrap_or_else(|e| panic!("{e}"));
    let (rate, channels) = (stream.sample_rate_hz(), stream.channels());
    let mut samples = Vec::new();
    while let Some(chunk) = stream.next_chunk().unwrap() {
        samples.extend(chunk.iter().map(|x| x.to_bits()));
    }
    (rate, channels, samples)
}

/// The text fields of a file as lofty's format-specific readers see them:
/// the genre field under "GENRE", named fields (TXXX, Vorbis comments, MP4
/// freeform atoms) under their names, each with its values.
pub fn fields(path: &Path) -> BTreeMap<String, Vec<String>> {
    let mut file = std::fs::File::open(path).unwrap();
    let kind = lofty::probe::Probe::new(&mut file).guess_file_type().unwrap().file_type();
    let options = lofty::config::ParseOptions::new();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let split = |v: &str| v.split('\0').map(str::to_owned).collect::<Vec<_>>();
    let mut id3 = |tag: Option<&lofty::id3::v2::Id3v2Tag>| {
        for frame in tag.into_iter().flatten() {
            match frame {
                lofty::id3::v2::Frame::Text(t) if t.id().as_str() == "TCON" => {
                    out.insert("GENRE".into(), split(&t.value));
                }
                lofty::id3::v2::Frame::UserText(t) => {
                    out.insert(t.description.to_string(), split(&t.content));
                }
                _ => {}
            }
        }
    };
    use std::io::Seek;
    file.rewind().unwrap();
    match kind {
        Some(FileType::Mpeg) => id3(lofty::mpeg::MpegFile::read_from(&mut file, options).unwrap().id3v2()),
        Some(FileType::Aac) => id3(lofty::aac::AacFile::read_from(&mut file, options).unwrap().id3v2()),
        Some(FileType::Wav) => id3(lofty::iff::wav::WavFile::read_from(&mut file, options).unwrap().id3v2()),
        Some(FileType::Aiff) => {
            id3(lofty::iff::aiff::AiffFile::read_from(&mut file, options).unwrap().id3v2())
        }
        Some(FileType::Flac | FileType::Vorbis | FileType::Opus) => {
            let comments = match kind {
                Some(FileType::Flac) => lofty::flac::FlacFile::read_from(&mut file, options)
                    .unwrap()
                    .vorbis_comments()
                    .unwrap()
                    .clone(),
                Some(FileType::Vorbis) => {
                    lofty::ogg::VorbisFile::read_from(&mut file, options).unwrap().vorbis_comments().clone()
                }
                _ => lofty::ogg::OpusFile::read_from(&mut file, options).unwrap().vorbis_comments().clone(),
            };
            for (k, v) in comments.items() {
                out.entry(k.to_ascii_uppercase()).or_default().push(v.to_owned());
            }
        }
        Some(FileType::Mp4) => {
            let mp4 = lofty::mp4::Mp4File::read_from(&mut file, options).unwrap();
            for atom in mp4.ilst().into_iter().flatten() {
                let name = match atom.ident() {
                    lofty::mp4::AtomIdent::Fourcc([0xa9, b'g', b'e', b'n']) => "GENRE".to_owned(),
                    lofty::mp4::AtomIdent::Freeform { name, .. } => name.to_string(),
                    _ => continue,
                };
                let values = atom
                    .data()
                    .filter_map(|d| match d {
                        lofty::mp4::AtomData::UTF8(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                out.insert(name, values);
            }
        }
        other => panic!("no tags to read in {other:?}: {}", path.display()),
    }
    out
}

fn tuneatlas(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tuneatlas"));
    c.env_remove("TUNEATLAS_DB").env("RUST_LOG", "warn").arg("--db").arg(db);
    c
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tags_go_into_every_writable_format_and_the_audio_stays_sample_for_sample() {
    let dir = tempfile::tempdir().unwrap();
    let (db, tracks) = library(dir.path(), WRITABLE);
    let before: Vec<_> = tracks.iter().map(|t| decode_all(&t.path)).collect();
    let infos: Vec<_> = tracks.iter().map(|t| AudioFile::open(&t.path).unwrap().info().clone()).collect();
    let (summary, reports) = write(&db, &ids(&tracks), MODEL, &TagWriteOptions::default());
    for r in &reports {
        assert_eq!(r.outcome, FileOutcome::Written, "{}", r.path.display());
    }
    assert_eq!((summary.n_written, summary.refused.len(), summary.failed.len()), (WRITABLE.len(), 0, 0));
    let store = Store::open(&db).unwrap();
    for ((t, before), info) in tracks.iter().zip(&before).zip(&infos) {
        let name = name_of(&t.path);
        // The audio, decoded by the importer's own decoder: every sample the same.
        let after = decode_all(&t.path);
        assert_eq!((after.0, after.1), (before.0, before.1), "{name}: rate and channels");
        assert_eq!(after.2.len(), before.2.len(), "{name}: sample count");
        assert!(after.2 == before.2, "{name}: the decoded samples differ");
        // The fields, as lofty reads them back.
        let f = fields(&t.path);
        let genres = f.get("GENRE").cloned().unwrap_or_default();
        // Files without a genre in the tag written: no tags at all, raw MP2 and ADTS
        // streams, and the WAV and AIFF, whose genre (if any) is in RIFF INFO / text
        // chunks, which are left as they are beside the ID3v2 chunk.
        let no_genre =
            ["notags_noxing.mp3", "chirp1_mp2.mp2", "chirp1_adts.aac", "chirp2_wav.wav", "chirp5_aiff.aiff"];
        let had_genre = !no_genre.contains(&name.as_str());
        let expected =
            if had_genre { s(&["Electronic", "rock", "ambient"]) } else { s(&["rock", "ambient"]) };
        assert_eq!(genres, expected, "{name}: the file's own genre stays first: {f:?}");
        assert_eq!(f.get("TUNEATLAS_GENRE"), Some(&s(&["rock", "ambient"])), "{name}: {f:?}");
        assert_eq!(f.get("MOOD"), Some(&s(&["fast"])), "{name}: {f:?}");
        assert_eq!(f.get("TUNEATLAS_MOOD"), Some(&s(&["fast"])), "{name}: {f:?}");
        assert_eq!(f.get("TUNEATLAS_MODEL"), Some(&s(&[MODEL])), "{name}: {f:?}");
        for none in ["STYLE", "THEME", "TUNEATLAS_STYLE", "TUNEATLAS_THEME"] {
            assert!(!f.contains_key(none), "{name}: nothing passes for {none}: {f:?}");
        }
        // The rest of the file's tags, as the importer reads them, are as before.
        let now = AudioFile::open(&t.path).unwrap().info().clone();
        assert_eq!(
            (&now.tags.title, &now.tags.artist, &now.tags.album, now.duration_s),
            (&info.tags.title, &info.tags.artist, &info.tags.album, info.duration_s),
            "{name}"
        );
        // The library's record matches the file now.
        let meta = std::fs::metadata(&t.path).unwrap();
        let known = store.known_files().unwrap().into_iter().find(|k| k.id == t.id).unwrap();
        assert_eq!(known.size_bytes, meta.len(), "{name}");
        assert_eq!(known.fingerprint, tuneatlas::library::fingerprint::fingerprint_file(&t.path).unwrap());
        assert_eq!(
            store.track(t.id).unwrap().unwrap().genre,
            now.tags.genre,
            "{name}: genre as import reads it"
        );
    }
    // No temporary copy is left beside the files.
    let music = dir.path().join("music");
    let left: Vec<_> = std::fs::read_dir(&music).unwrap().map(|e| name_of(&e.unwrap().path())).collect();
    assert_eq!(left.len(), WRITABLE.len(), "{left:?}");
}

#[test]
fn formats_without_writable_tags_are_refused_and_left_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<&str> = REFUSED.iter().map(|(n, _)| *n).collect();
    let (db, tracks) = library(dir.path(), &names);
    let bytes: Vec<Vec<u8>> = tracks.iter().map(|t| std::fs::read(&t.path).unwrap()).collect();
    let (summary, reports) = write(&db, &ids(&tracks), MODEL, &TagWriteOptions::default());
    assert_eq!((summary.n_written, summary.refused.len()), (0, REFUSED.len()), "{reports:#?}");
    for ((t, r), bytes) in tracks.iter().zip(&reports).zip(&bytes) {
        let container = REFUSED.iter().find(|(n, _)| *n == name_of(&t.path)).unwrap().1;
        match &r.outcome {
            FileOutcome::Refused(reason) => {
                assert!(reason.contains(&format!("into {container} files")), "{reason}");
                assert!(reason.contains("MP3"), "the refusal says what is supported: {reason}");
            }
            other => panic!("{} should be refused: {other:?}", t.path.display()),
        }
        assert!(std::fs::read(&t.path).unwrap() == *bytes, "{} changed", t.path.display());
    }
    assert!(format!("{summary:#}").contains("refused: tags cannot be written into caf files"), "{summary:#}");
}

#[test]
fn writing_again_replaces_only_what_tuneatlas_added_and_an_unchanged_file_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let (db, tracks) = library(dir.path(), &["chirp10_flac.flac", "chirp10_mp3.mp3", "chirp10_aac.m4a"]);
    let options = TagWriteOptions { categories: vec![TagCategory::Genre], ..TagWriteOptions::default() };
    write(&db, &ids(&tracks), MODEL, &options);
    // Writing the same again: nothing to change, the files are not touched.
    let stamps: Vec<_> =
        tracks.iter().map(|t| std::fs::metadata(&t.path).unwrap().modified().unwrap()).collect();
    let (summary, _) = write(&db, &ids(&tracks), MODEL, &options);
    assert_eq!((summary.n_written, summary.n_unchanged), (0, 3), "{summary}");
    for (t, stamp) in tracks.iter().zip(&stamps) {
        assert_eq!(std::fs::metadata(&t.path).unwrap().modified().unwrap(), *stamp);
    }
    // Another model hears pop, not rock: rock and ambient go, pop comes, the
    // file's own "Electronic" stays; the mood field written earlier is not ours to touch now.
    let mut store = Store::open(&db).unwrap();
    set_predictions(
        &mut store,
        "tagwrite-model-2",
        &[score("genre", "pop", 0.8), score("genre", "rock", 0.1)],
    );
    drop(store);
    let (summary, _) = write(&db, &ids(&tracks), "tagwrite-model-2", &options);
    assert_eq!(summary.n_written, 3, "{summary:#}");
    for t in &tracks {
        let f = fields(&t.path);
        assert_eq!(f.get("GENRE"), Some(&s(&["Electronic", "pop"])), "{}: {f:?}", t.path.display());
        assert_eq!(f.get("TUNEATLAS_GENRE"), Some(&s(&["pop"])));
        assert_eq!(f.get("TUNEATLAS_MODEL"), Some(&s(&["tagwrite-model-2"])));
    }
    // A prediction the file already carries (any case) is not added twice,
    // nor recorded as tuneatlas's, so it is never taken away later.
    let mut store = Store::open(&db).unwrap();
    set_predictions(&mut store, "tagwrite-model-3", &[score("genre", "electronic", 0.9)]);
    drop(store);
    write(&db, &ids(&tracks), "tagwrite-model-3", &options);
    for t in &tracks {
        let f = fields(&t.path);
        assert_eq!(f.get("GENRE"), Some(&s(&["Electronic"])), "{}: {f:?}", t.path.display());
        assert!(!f.contains_key("TUNEATLAS_GENRE"), "{f:?}");
    }
}

#[test]
fn the_users_own_tags_go_into_one_field_per_tag_set() {
    let dir = tempfile::tempdir().unwrap();
    let (db, tracks) = library(dir.path(), &["chirp10_vorbis.ogg", "chirp2_wav.wav"]);
    let mut store = Store::open(&db).unwrap();
    store.add_user_tags(&ids(&tracks), "tags", &["calm", "rainy day"], TagSource::User).unwrap();
    store.add_user_tags(&ids(&tracks)[..1], "late night", &["yes"], TagSource::User).unwrap();
    drop(store);
    let options = TagWriteOptions { categories: vec![], user_tags: true, ..TagWriteOptions::default() };
    let (summary, reports) = write(&db, &ids(&tracks), MODEL, &options);
    assert_eq!(summary.n_written, 2, "{summary:#}");
    assert_eq!(reports[0].tags.describe(), "your late night: yes · your tags: calm, rainy day");
    let first = fields(&tracks[0].path);
    assert_eq!(first.get("TUNEATLAS_USER_TAGS"), Some(&s(&["calm", "rainy day"])), "{first:?}");
    assert_eq!(first.get(&user_field("late night")), Some(&s(&["yes"])), "{first:?}");
    assert!(!first.contains_key("TUNEATLAS_MODEL"), "no predicted tags asked for: {first:?}");
    // A set the track no longer has in the library is taken out of the file.
    let mut store = Store::open(&db).unwrap();
    store.remove_user_tags(&ids(&tracks)[..1], "late night", &["yes"]).unwrap();
    drop(store);
    write(&db, &ids(&tracks)[..1], MODEL, &options);
    let first = fields(&tracks[0].path);
    assert!(!first.contains_key("TUNEATLAS_USER_LATE_NIGHT"), "{first:?}");
    assert_eq!(first.get("TUNEATLAS_USER_TAGS"), Some(&s(&["calm", "rainy day"])));
}

#[test]
#[cfg(unix)]
fn read_only_linked_and_changed_files_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["chirp10_mp3.mp3", "chirp10_flac.flac", "chirp10_vorbis.ogg", "chirp10_opus.opus"];
    let (db, tracks) = library(dir.path(), &names);
    let path = |name: &str| tracks.iter().find(|t| name_of(&t.path) == name).unwrap().path.clone();
    let read_only = path("chirp10_mp3.mp3");
    let mut perms = std::fs::metadata(&read_only).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&read_only, perms).unwrap();
    let linked = path("chirp10_flac.flac");
    std::fs::hard_link(&linked, dir.path().join("second name.flac")).unwrap();
    let changed = path("chirp10_vorbis.ogg");
    std::fs::write(&changed, std::fs::read(fixture("chirp10_opus.opus")).unwrap()).unwrap();
    let bytes: Vec<Vec<u8>> = tracks.iter().map(|t| std::fs::read(&t.path).unwrap()).collect();
    let (summary, reports) = write(&db, &ids(&tracks), MODEL, &TagWriteOptions::default());
    let reason = |p: &Path| match &reports.iter().find(|r| r.path == p).unwrap().outcome {
        FileOutcome::Refused(reason) => reason.clone(),
        other => panic!("{} should be refused: {other:?}", p.display()),
    };
    assert!(reason(&read_only).contains("read-only"));
    assert!(reason(&linked).contains("2 hard links"));
    assert!(reason(&changed).contains("changed since it was imported"));
    assert_eq!((summary.n_written, summary.refused.len()), (1, 3), "{summary:#}");
    for (t, bytes) in tracks.iter().zip(&bytes) {
        if name_of(&t.path) != "chirp10_opus.opus" {
            assert!(std::fs::read(&t.path).unwrap() == *bytes, "{} changed", t.path.display());
        }
    }
}

#[test]
#[cfg(unix)]
fn an_unwritable_folder_fails_with_the_reason_and_leaves_the_file_and_no_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (db, tracks) = library(dir.path(), &["chirp10_opus.opus"]);
    let music = dir.path().join("music");
    let bytes = std::fs::read(&tracks[0].path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&music, std::fs::Permissions::from_mode(0o555)).unwrap();
    let (summary, reports) = crate::common::without_root_file_access(|| {
        write(&db, &ids(&tracks), MODEL, &TagWriteOptions::default())
    });
    std::fs::set_permissions(&music, std::fs::Permissions::from_mode(0o755)).unwrap();
    match &reports[0].outcome {
        FileOutcome::Failed(reason) => assert!(reason.contains("is its folder writable"), "{reason}"),
        other => panic!("should fail: {other:?}"),
    }
    assert_eq!(summary.failed.len(), 1);
    assert!(std::fs::read(&tracks[0].path).unwrap() == bytes);
    assert_eq!(std::fs::read_dir(&music).unwrap().count(), 1, "no copy left behind");
}

#[test]
#[cfg(unix)]
fn a_file_reached_through_a_link_is_rewritten_and_the_link_kept() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::copy(fixture("chirp10_flac.flac"), elsewhere.join("real.flac")).unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("real.flac"), music.join("link.flac")).unwrap();
    let db = dir.path().join("library.db");
    let mut store = Store::open(&db).unwrap();
    let mut options = ImportOptions::default();
    options.scan.follow_outside = true;
    import_folder(&mut store, &music, &options, &CancelToken::new(), |_| {}).unwrap();
    set_predictions(&mut store, MODEL, &predicted());
    let tracks = store.tracks(false).unwrap();
    drop(store);
    let (summary, _) = write(&db, &ids(&tracks), MODEL, &TagWriteOptions::default());
    assert_eq!(summary.n_written, 1, "{summary:#}");
    assert!(std::fs::symlink_metadata(music.join("link.flac")).unwrap().file_type().is_symlink());
    assert_eq!(fields(&elsewhere.join("real.flac")).get("MOOD"), Some(&s(&["fast"])));
}

#[test]
fn another_import_running_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (db, tracks) = library(dir.path(), &["chirp10_mp3.mp3"]);
    let bytes = std::fs::read(&tracks[0].path).unwrap();
    let _import =
        tuneatlas::store::ImportLock::acquire(&db, WhenBusy::Refuse, &CancelToken::new(), |_| {}).unwrap();
    let mut store = Store::open(&db).unwrap();
    let err = write_tags(
        &mut store,
        &ids(&tracks),
        MODEL,
        &TagWriteOptions::default(),
        &CancelToken::new(),
        |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("another import is running"), "{err}");
    assert!(std::fs::read(&tracks[0].path).unwrap() == bytes);
}

/// The command line end to end: a dry run writes nothing, a real run writes
/// and refuses with reasons, and a second `tuneatlas import` afterwards
/// processes nothing; a written file moved elsewhere keeps its id.
#[test]
fn tuneatlas_tags_write_then_import_processes_nothing_and_a_move_keeps_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["chirp10_mp3.mp3", "chirp10_aac.m4a", "chirp10_flac.flac", "chirp1_pcm.caf"];
    let (db, tracks) = library(dir.path(), &names);
    let music = dir.path().join("music");
    let bytes: Vec<Vec<u8>> = tracks.iter().map(|t| std::fs::read(&t.path).unwrap()).collect();

    let out = stdout(
        &tuneatlas(&db).args(["tags", "write", "--dry-run", "--category", "genre,mood"]).output().unwrap(),
    );
    assert!(
        out.contains("would write genre: rock, ambient · mood: fast · model tagwrite-model-1: "),
        "{out}"
    );
    assert!(out.contains("Would write tags into 3 file(s)"), "{out}");
    assert!(out.contains("dry run: nothing was written"), "{out}");
    for (t, bytes) in tracks.iter().zip(&bytes) {
        assert!(std::fs::read(&t.path).unwrap() == *bytes, "a dry run changed {}", t.path.display());
    }

    let out = tuneatlas(&db).args(["tags", "write", "--min-score", "0.65"]).output().unwrap();
    let text = stdout(&out);
    assert!(text.contains("Wrote tags into 3 file(s) [model tagwrite-model-1]; 1 refused"), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused: tags cannot be written into caf files"), "{err}");
    assert!(err.contains("chirp1_pcm.caf"), "the refusal names the file: {err}");
    let mp3 = music.join("chirp10_mp3.mp3");
    assert_eq!(fields(&mp3).get("GENRE"), Some(&s(&["Electronic", "rock"])), "0.65 lets only rock through");

    let out = tuneatlas(&db).args(["import", "--no-model", "--json"]).arg(&music).output().unwrap();
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let counts = &summary["counts"];
    assert_eq!(counts["unchanged"], 4, "{summary}");
    for processed in ["new", "updated", "moved", "failed"] {
        assert_eq!(counts[processed], 0, "{processed}: {summary}");
    }

    let id = tracks.iter().find(|t| t.path == mp3).unwrap().id;
    std::fs::create_dir_all(music.join("moved")).unwrap();
    std::fs::rename(&mp3, music.join("moved/chirp10_mp3.mp3")).unwrap();
    let out = tuneatlas(&db).args(["import", "--no-model", "--json"]).arg(&music).output().unwrap();
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((&summary["counts"]["moved"], &summary["counts"]["new"]), (&1.into(), &0.into()), "{summary}");
    let store = Store::open(&db).unwrap();
    assert_eq!(store.track(id).unwrap().unwrap().path, music.join("moved/chirp10_mp3.mp3"));
    assert_eq!(store.track_tags(id, MODEL).unwrap().len(), predicted().len(), "the tags moved with it");
}

#[test]
fn tuneatlas_tags_still_shows_one_tracks_tags() {
    let dir = tempfile::tempdir().unwrap();
    let (db, tracks) = library(dir.path(), &["chirp10_mp3.mp3"]);
    let out = stdout(&tuneatlas(&db).args(["tags", &tracks[0].id.to_string()]).output().unwrap());
    assert!(out.contains("rock"), "{out}");
    let bad = tuneatlas(&db).args(["tags", "write", "--min-score", "2"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("between 0 and 1"));
}
