//! Getting the library out of tuneatlas: playlists for any player, tags for
//! spreadsheets and scripts, and vectors for the TensorFlow Embedding
//! Projector.
//!
//! Why one module: every export reads the same store data (tracks, predicted
//! tags of one model version, user tags) and needs the same care when
//! writing — a file is written under a temporary name next to its
//! destination and renamed over it only once complete, so a failed or
//! cancelled export never leaves half a playlist or a truncated CSV behind
//! (an existing file stays as it was), and an I/O failure (a full disk)
//! comes back as one error naming the file the user asked for.
//!
//! Formats:
//! - **M3U** ([`write_m3u`]): extended M3U, UTF-8 text (name it `.m3u8` for
//!   players that insist), `#EXTINF:<whole seconds>,<artist> - <title>`
//!   then the absolute path (its raw bytes on Unix). A track whose path
//!   holds a line break is left out and named ([`write_m3u_report`]).
//! - **Tags CSV** ([`write_tags_csv`]): one row per track, RFC 4180 quoting;
//!   columns `track_id, path, title, artist, album, duration_s` (paths
//!   escaped as [`crate::text::shown`] writes them), then one
//!   column `predicted:<category>:<tag>` per predicted tag (the score, empty
//!   when the track has none) and one column `user:<set>:<tag>` per user tag
//!   (`1` when the track has it, else empty): one column per tag, so a
//!   spreadsheet can sort and filter by any of them.
//! - **Tags JSON** ([`write_tags_json`]): `{"model_version", "tracks": [{id,
//!   path, title, artist, album, duration_s, "predicted": {category: [{tag,
//!   score}]}, "user": {set: [tag]}}]}`, scores strongest first.
//! - **Projector** ([`write_projector_tsv`]): `vectors.tsv` (one row of
//!   tab-separated floats per track, no header) and `metadata.tsv` (a header,
//!   then one row per track in the same order); tabs and line breaks inside
//!   fields become spaces so the two files stay row-aligned.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::store::{Store, TagScore, TrackRow};
use crate::{Error, Result};

/// Predicted-tag categories in the order they are shown; others follow
/// alphabetically.
const CATEGORY_ORDER: [&str; 4] = ["genre", "style", "mood", "theme"];

/// Numbers the temporary files of this process.
static NEXT_TMP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A file being written under a temporary name in its destination's folder
/// (so the final rename stays on one file system and is atomic). Dropped
/// without [`PendingFile::commit`], it deletes itself.
struct PendingFile {
    dest: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
    committed: bool,
}

impl PendingFile {
    fn create(dest: &Path) -> Result<PendingFile> {
        if dest.is_dir() {
            return Err(Error::Invalid(format!(
                "cannot export to a folder; give a file name: {}",
                dest.display()
            )));
        }
        let Some(name) = dest.file_name() else {
            return Err(Error::Invalid(format!("not a file name: {}", dest.display())));
        };
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        // Process id and a per-process counter: two exports to one file at
        // once (two GUI jobs) never share a temporary file.
        let n = NEXT_TMP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tmp_name.push(format!(".{}-{n}.partial", std::process::id()));
        let tmp = dest.with_file_name(tmp_name);
        let file = File::create(&tmp).map_err(Error::io("create", dest))?;
        Ok(PendingFile { dest: dest.to_path_buf(), tmp, out: BufWriter::new(file), committed: false })
    }

    /// Writes out everything buffered and syncs it to disk: after this, only
    /// the rename is left, so a full disk shows up here, not later.
    fn finish(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| write_error(&self.dest, e))?;
        self.out.get_ref().sync_all().map_err(|e| write_error(&self.dest, e))
    }

    /// Finishes the file and renames it over its destination.
    fn commit(mut self) -> Result<()> {
        self.finish()?;
        std::fs::rename(&self.tmp, &self.dest).map_err(Error::io("replace", &self.dest))?;
        self.committed = true;
        Ok(())
    }
}

impl Write for PendingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.committed {
            // The export failed: leave nothing behind.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// An I/O failure while writing `dest`, named by the file the user chose.
fn write_error(dest: &Path, source: io::Error) -> Error {
    Error::Io { op: "write", path: dest.to_path_buf(), source }
}

/// A CSV failure: I/O ones keep their cause; the rest cannot happen with
/// string records but are reported rather than hidden.
fn csv_error(dest: &Path, e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => write_error(dest, source),
        other => Error::Invalid(format!("cannot write CSV ({other:?}): {}", dest.display())),
    }
}

/// Writes `dest` atomically: `body` fills the temporary file, which replaces
/// `dest` only when `body` succeeded.
fn write_atomically(dest: &Path, body: impl FnOnce(&mut PendingFile) -> Result<()>) -> Result<()> {
    let mut file = PendingFile::create(dest)?;
    body(&mut file)?;
    file.commit()
}

/// One line of text with tabs and line breaks turned into spaces.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if matches!(c, '\t' | '\n' | '\r') { ' ' } else { c }).collect()
}

/// "Artist - Title", or the title alone when the artist is unknown.
fn display_name(t: &TrackRow) -> String {
    match t.artist.as_deref().filter(|a| !a.trim().is_empty()) {
        Some(a) => format!("{a} - {}", t.title),
        None => t.title.clone(),
    }
}

/// The bytes of a path as a playlist line: the raw bytes on Unix (so a
/// player finds a file whose name is not UTF-8), UTF-8 elsewhere. `None` for
/// a path with a line break, which no playlist line can hold.
fn path_line(track: &TrackRow) -> Result<Option<Vec<u8>>> {
    let path = std::path::absolute(&track.path).map_err(Error::io("resolve", &track.path))?;
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let bytes = path.to_string_lossy().into_owned().into_bytes();
    Ok((!bytes.iter().any(|&b| b == b'\n' || b == b'\r')).then_some(bytes))
}

/// What an M3U export wrote, and what it had to leave out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct M3uReport {
    /// Entries written.
    pub written: usize,
    /// Tracks left out because their path holds a line break (which would
    /// split the playlist line): id and path.
    pub skipped: Vec<(i64, std::path::PathBuf)>,
}

/// The M3U text for `tracks` (what [`write_m3u`] writes), into `w`;
/// `dest` only names the file in errors. A track whose path cannot be a
/// playlist line is left out and listed in the report; the rest is written.
fn m3u_body(w: &mut impl Write, tracks: &[TrackRow], dest: &Path) -> Result<M3uReport> {
    let io = |e| write_error(dest, e);
    let mut report = M3uReport::default();
    w.write_all(b"#EXTM3U\n").map_err(io)?;
    for t in tracks {
        let Some(path) = path_line(t)? else {
            report.skipped.push((t.id, t.path.clone()));
            continue;
        };
        let duration_s = if t.duration_s.is_finite() { t.duration_s.round().max(0.0) as i64 } else { -1 };
        writeln!(w, "#EXTINF:{duration_s},{}", one_line(&display_name(t))).map_err(io)?;
        w.write_all(&path).map_err(io)?;
        w.write_all(b"\n").map_err(io)?;
        report.written += 1;
    }
    Ok(report)
}

/// Writes `tracks`, in the given order, as an extended M3U playlist to
/// `out` (atomically), leaving out — and naming in the report — tracks whose
/// path holds a line break: one such name must not cost the whole playlist.
/// Fails, leaving `out` untouched, when the file cannot be written.
pub fn write_m3u_report(tracks: &[TrackRow], out: &Path) -> Result<M3uReport> {
    let mut report = M3uReport::default();
    write_atomically(out, |w| {
        report = m3u_body(w, tracks, out)?;
        Ok(())
    })?;
    Ok(report)
}

/// [`write_m3u_report`] returning only the number of entries written (the
/// GUI's "save as playlist"); left-out tracks go to the log.
pub fn write_m3u(tracks: &[TrackRow], out: &Path) -> Result<usize> {
    let report = write_m3u_report(tracks, out)?;
    for (id, path) in &report.skipped {
        tracing::warn!(
            "track {id} left out of the playlist: its path holds a line break: {}",
            crate::text::shown(path)
        );
    }
    Ok(report.written)
}

/// Every user tag of the given tracks as (set, tag) pairs, in one query.
fn user_tags_of(store: &Store, tracks: &[TrackRow]) -> Result<HashMap<i64, Vec<(String, String)>>> {
    let wanted: std::collections::HashSet<i64> = tracks.iter().map(|t| t.id).collect();
    let mut out: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for (id, set, tag) in store.all_user_tags(None)? {
        if wanted.contains(&id) {
            out.entry(id).or_default().push((set, tag));
        }
    }
    Ok(out)
}

/// A track's predicted tags for `model_version` (none without a version).
fn predicted(store: &Store, track_id: i64, model_version: Option<&str>) -> Result<Vec<TagScore>> {
    match model_version {
        Some(v) => store.track_tags(track_id, v),
        None => Ok(Vec::new()),
    }
}

/// Sort key putting categories in [`CATEGORY_ORDER`], others after.
fn category_rank(category: &str) -> (usize, String) {
    let rank = CATEGORY_ORDER.iter().position(|c| *c == category).unwrap_or(CATEGORY_ORDER.len());
    (rank, category.to_string())
}

/// Writes the tags of `tracks` as CSV to `out` (atomically; see the module
/// documentation for the columns): predicted scores of `model_version`
/// (none when `None`, e.g. a library not embedded yet) and all user tags.
/// Returns the number of track rows.
pub fn write_tags_csv(
    store: &Store,
    tracks: &[TrackRow],
    model_version: Option<&str>,
    out: &Path,
) -> Result<usize> {
    let user = user_tags_of(store, tracks)?;
    // First pass: the predicted-tag columns (one query per track; holding
    // every track's scores at once would cost far more memory).
    let mut predicted_cols: BTreeSet<((usize, String), String)> = BTreeSet::new();
    for t in tracks {
        for s in predicted(store, t.id, model_version)? {
            predicted_cols.insert((category_rank(&s.category), s.tag));
        }
    }
    let predicted_cols: Vec<(String, String)> =
        predicted_cols.into_iter().map(|((_, category), tag)| (category, tag)).collect();
    let predicted_index: HashMap<(&str, &str), usize> =
        predicted_cols.iter().enumerate().map(|(i, (c, t))| ((c.as_str(), t.as_str()), i)).collect();
    let user_cols: Vec<(String, String)> =
        user.values().flatten().cloned().collect::<BTreeSet<_>>().into_iter().collect();
    let user_index: HashMap<(&str, &str), usize> =
        user_cols.iter().enumerate().map(|(i, (s, t))| ((s.as_str(), t.as_str()), i)).collect();

    write_atomically(out, |w| {
        let mut csv = csv::Writer::from_writer(w);
        let mut header: Vec<String> =
            ["track_id", "path", "title", "artist", "album", "duration_s"].map(String::from).to_vec();
        header.extend(predicted_cols.iter().map(|(c, t)| format!("predicted:{c}:{t}")));
        header.extend(user_cols.iter().map(|(s, t)| format!("user:{s}:{t}")));
        csv.write_record(&header).map_err(|e| csv_error(out, e))?;
        let fixed = 6;
        for t in tracks {
            let mut row = vec![String::new(); header.len()];
            row[0] = t.id.to_string();
            row[1] = crate::text::shown(&t.path);
            row[2] = t.title.clone();
            row[3] = t.artist.clone().unwrap_or_default();
            row[4] = t.album.clone().unwrap_or_default();
            row[5] = format!("{:.3}", t.duration_s);
            for s in predicted(store, t.id, model_version)? {
                if let Some(&i) = predicted_index.get(&(s.category.as_str(), s.tag.as_str())) {
                    // f32 Display is the shortest text that reads back exactly.
                    row[fixed + i] = s.score.to_string();
                }
            }
            for (set, tag) in user.get(&t.id).into_iter().flatten() {
                if let Some(&i) = user_index.get(&(set.as_str(), tag.as_str())) {
                    row[fixed + predicted_cols.len() + i] = "1".into();
                }
            }
            csv.write_record(&row).map_err(|e| csv_error(out, e))?;
        }
        csv.flush().map_err(|e| write_error(out, e))
    })?;
    Ok(tracks.len())
}

/// A predicted tag in the JSON export.
#[derive(Debug, Serialize)]
struct JsonScore<'a> {
    tag: &'a str,
    score: f32,
}

/// One track in the JSON export.
#[derive(Debug, Serialize)]
struct JsonTrack<'a> {
    id: i64,
    path: std::borrow::Cow<'a, str>,
    title: &'a str,
    artist: Option<&'a str>,
    album: Option<&'a str>,
    duration_s: f64,
    predicted: BTreeMap<&'a str, Vec<JsonScore<'a>>>,
    user: BTreeMap<&'a str, Vec<&'a str>>,
}

/// Writes the tags of `tracks` as JSON to `out` (atomically; see the module
/// documentation for the shape), streaming one track at a time so a large
/// library needs no large buffer. Returns the number of tracks.
pub fn write_tags_json(
    store: &Store,
    tracks: &[TrackRow],
    model_version: Option<&str>,
    out: &Path,
) -> Result<usize> {
    let user = user_tags_of(store, tracks)?;
    write_atomically(out, |w| {
        let io = |e| write_error(out, e);
        let json = |e: serde_json::Error| write_error(out, io::Error::from(e));
        w.write_all(b"{\"model_version\": ").map_err(io)?;
        serde_json::to_writer(&mut *w, &model_version).map_err(json)?;
        w.write_all(b", \"tracks\": [").map_err(io)?;
        for (i, t) in tracks.iter().enumerate() {
            let scores = predicted(store, t.id, model_version)?;
            let mut by_category: BTreeMap<&str, Vec<JsonScore<'_>>> = BTreeMap::new();
            // Stored order is strongest first within each category.
            for s in &scores {
                by_category.entry(&s.category).or_default().push(JsonScore { tag: &s.tag, score: s.score });
            }
            let mut by_set: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (set, tag) in user.get(&t.id).into_iter().flatten() {
                by_set.entry(set).or_default().push(tag);
            }
            let record = JsonTrack {
                id: t.id,
                path: crate::text::shown(&t.path).into(),
                title: &t.title,
                artist: t.artist.as_deref(),
                album: t.album.as_deref(),
                duration_s: t.duration_s,
                predicted: by_category,
                user: by_set,
            };
            w.write_all(if i == 0 { b"\n" } else { b",\n" }).map_err(io)?;
            serde_json::to_writer(&mut *w, &record).map_err(json)?;
        }
        w.write_all(b"\n]}\n").map_err(io)
    })?;
    Ok(tracks.len())
}

/// What [`write_projector_tsv`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProjectorCounts {
    /// Tracks written (rows in each file, not counting the metadata header).
    pub rows: usize,
    /// Tracks left out because they have no vector for the model version.
    pub without_vector: usize,
}

/// The metadata columns of the projector export, in order.
const PROJECTOR_COLUMNS: [&str; 10] = [
    "track_id",
    "title",
    "artist",
    "album",
    "year",
    "top_genre",
    "top_style",
    "top_mood",
    "top_theme",
    "user_tags",
];

/// The strongest predicted tag of `category`.
fn top_tag<'a>(scores: &'a [TagScore], category: &str) -> &'a str {
    scores
        .iter()
        .filter(|s| s.category == category)
        .max_by(|a, b| a.score.total_cmp(&b.score).then_with(|| b.tag.cmp(&a.tag)))
        .map_or("", |s| s.tag.as_str())
}

/// Writes the TensorFlow Embedding Projector pair for `tracks` and the
/// vectors of `model_version`: `vectors_out` (tab-separated floats, one row
/// per track, no header) and `metadata_out` (header `track_id, title, artist,
/// album, year, top_genre, top_style, top_mood, top_theme, user_tags`, then
/// one row per track in the same order; user tags as `set:tag` joined by
/// ", "). Tracks without a vector are left out of both and counted. Each file
/// is written atomically; both are complete before either is renamed into
/// place, so a failure while writing leaves both as they were.
pub fn write_projector_tsv(
    store: &Store,
    tracks: &[TrackRow],
    model_version: &str,
    vectors_out: &Path,
    metadata_out: &Path,
) -> Result<ProjectorCounts> {
    if vectors_out == metadata_out {
        return Err(Error::Invalid(format!(
            "the vectors and the metadata need two different files: {}",
            vectors_out.display()
        )));
    }
    let user = user_tags_of(store, tracks)?;
    let mut vectors = PendingFile::create(vectors_out)?;
    let mut metadata = PendingFile::create(metadata_out)?;
    let vio = |e| write_error(vectors_out, e);
    let mio = |e| write_error(metadata_out, e);
    writeln!(metadata, "{}", PROJECTOR_COLUMNS.join("\t")).map_err(mio)?;
    let mut counts = ProjectorCounts { rows: 0, without_vector: 0 };
    let mut dim: Option<usize> = None;
    for t in tracks {
        let Some(vector) = store.track_vector(t.id, model_version)? else {
            counts.without_vector += 1;
            continue;
        };
        if *dim.get_or_insert(vector.len()) != vector.len() {
            return Err(Error::Invalid(format!(
                "track {} has a {}-dimensional vector, earlier tracks {} dimensions (model {model_version})",
                t.id,
                vector.len(),
                dim.unwrap_or_default()
            )));
        }
        let line: Vec<String> = vector.iter().map(|x| x.to_string()).collect();
        writeln!(vectors, "{}", line.join("\t")).map_err(vio)?;
        let scores = store.track_tags(t.id, model_version)?;
        let user_tags: Vec<String> =
            user.get(&t.id).into_iter().flatten().map(|(set, tag)| format!("{set}:{tag}")).collect();
        let fields = [
            t.id.to_string(),
            t.title.clone(),
            t.artist.clone().unwrap_or_default(),
            t.album.clone().unwrap_or_default(),
            t.year.map(|y| y.to_string()).unwrap_or_default(),
            top_tag(&scores, "genre").to_string(),
            top_tag(&scores, "style").to_string(),
            top_tag(&scores, "mood").to_string(),
            top_tag(&scores, "theme").to_string(),
            user_tags.join(", "),
        ];
        let fields: Vec<String> = fields.iter().map(|f| one_line(f)).collect();
        writeln!(metadata, "{}", fields.join("\t")).map_err(mio)?;
        counts.rows += 1;
    }
    // Both complete and on disk before either replaces anything.
    vectors.finish()?;
    metadata.finish()?;
    vectors.commit()?;
    metadata.commit()?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(id: i64, path: &str, title: &str, artist: Option<&str>) -> TrackRow {
        TrackRow {
            id,
            path: PathBuf::from(path),
            title: title.into(),
            artist: artist.map(Into::into),
            album: None,
            album_artist: None,
            track_number: None,
            disc_number: None,
            year: None,
            genre: None,
            duration_s: 61.6,
            container: "ogg".into(),
            codec: "vorbis".into(),
            sample_rate_hz: 44_100,
            channels: 2,
            status: "ok".into(),
            n_clips: 1,
            names_from_path: false,
            fingerprint: Vec::new(),
        }
    }

    #[test]
    fn m3u_lines_are_single_and_paths_absolute() {
        let mut out = Vec::new();
        let tracks = [track(1, "/m/a.ogg", "Two\nLines", Some("Band")), track(2, "rel/b.ogg", "Solo", None)];
        m3u_body(&mut out, &tracks, Path::new("x.m3u")).expect("m3u");
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..3], ["#EXTM3U", "#EXTINF:62,Band - Two Lines", "/m/a.ogg"]);
        assert_eq!(lines[3], "#EXTINF:62,Solo");
        assert!(Path::new(lines[4]).is_absolute() && lines[4].ends_with("rel/b.ogg"), "{}", lines[4]);
        let mixed = [track(3, "/m/new\nline.ogg", "X", None), track(4, "/m/fine.ogg", "Y", None)];
        let mut out = Vec::new();
        let report = m3u_body(&mut out, &mixed, Path::new("x.m3u")).expect("the rest is written");
        assert_eq!(report.written, 1);
        assert_eq!(report.skipped, [(3, PathBuf::from("/m/new\nline.ogg"))]);
        assert_eq!(String::from_utf8(out).expect("utf-8"), "#EXTM3U\n#EXTINF:62,Y\n/m/fine.ogg\n");
    }

    /// A full disk is reported as an I/O error naming the export file.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_names_the_file() {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
        let mut w = BufWriter::with_capacity(16, full);
        let tracks: Vec<TrackRow> = (0..10).map(|i| track(i, "/m/a.ogg", "A", None)).collect();
        let dest = Path::new("/music/list.m3u");
        let err = m3u_body(&mut w, &tracks, dest).and_then(|_| w.flush().map_err(|e| write_error(dest, e)));
        let err = err.expect_err("disk full");
        assert!(
            matches!(&err, Error::Io { source, .. } if source.kind() == io::ErrorKind::StorageFull),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("/music/list.m3u") && msg.contains("No space left"), "{msg}");
    }
}
