//! Writing tags back into the audio files: the model's predicted tags (and,
//! when asked, the user's own) go into the files' own tag fields, where every
//! player and tagger sees them, while the audio data stays bit for bit as it
//! was. [`write_tags`] is what `tuneatlas tags write` and the window's
//! "Write tags into files…" both run.
//!
//! **Fields** (`fields` does the per-format part; README "Tags in your files"):
//!
//! | written | ID3v2 (MP3, MP2, AAC, WAV, AIFF) | Vorbis comments (FLAC, Ogg Vorbis, Opus) | MP4 (M4A) |
//! |---|---|---|---|
//! | genres | `TCON` | `GENRE` | `©gen` |
//! | styles, moods, themes | `TXXX:STYLE`, `TXXX:MOOD`, `TXXX:THEME` | `STYLE`, `MOOD`, `THEME` | `----:com.apple.iTunes:STYLE`, … |
//! | what tuneatlas added there | `TXXX:TUNEATLAS_GENRE`, … | `TUNEATLAS_GENRE`, … | `----:…:TUNEATLAS_GENRE`, … |
//! | the model version | `TXXX:TUNEATLAS_MODEL` | `TUNEATLAS_MODEL` | `----:…:TUNEATLAS_MODEL` |
//! | the user's tags of set *s* | `TXXX:TUNEATLAS_USER_S` | `TUNEATLAS_USER_S` | `----:…:TUNEATLAS_USER_S` |
//!
//! Several tags are several values of one field (ID3v2.4 separates them by
//! NUL, Vorbis comments repeat the field, MP4 stacks them in one atom).
//!
//! **Never losing data.** The values a field already has are kept and the
//! predicted ones added after them; what tuneatlas added is remembered in
//! `TUNEATLAS_<CATEGORY>`, so a later write (another model, another
//! threshold) replaces exactly what an earlier one added and never what the
//! user put there. The file is rewritten through a copy (`replace`) that
//! must read back as the same audio before it replaces the original. Refused
//! with a reason and left untouched: read-only files, files with several
//! hard links, formats without a tag tuneatlas writes (Matroska/WebM, CAF,
//! Ogg FLAC), missing files, and files changed since they were imported (their
//! tags describe audio the library has not seen: import them first).
//!
//! **The library** then records the file's new size, modification time and
//! fingerprint (and its genre as an import would read it), so the next import
//! finds the file unchanged, and a later move is still recognised.

mod fields;
mod replace;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::audio::AudioFile;
use crate::jobs::CancelToken;
use crate::library::fingerprint::fingerprint_file;
use crate::library::import::reason_of;
use crate::library::scan::mtime_ns;
use crate::model::heads::TagCategory;
use crate::store::{ImportLock, KnownFile, RunStatus, Store, TagScore, TrackRow, WhenBusy};
use crate::{Error, Result};
use fields::{Editable, NotEditable, read_editable};
pub use fields::{Field, MP4_FREEFORM_MEAN};
use replace::TempCopy;

/// The least score a predicted tag needs to be written, unless told otherwise:
/// the sigmoid's "more likely than not".
pub const DEFAULT_MIN_SCORE: f32 = 0.5;

/// The most tags of one category written into a file, unless told otherwise
/// (the strongest): more than a few genres says nothing.
pub const DEFAULT_MAX_PER_CATEGORY: usize = 5;

/// The field that records which model version the predicted tags come from.
pub const MODEL_FIELD: &str = "TUNEATLAS_MODEL";

/// The start of the field names of the user's own tags (one field per tag set).
pub const USER_FIELD_PREFIX: &str = "TUNEATLAS_USER_";

/// How far the rewritten copy's duration may differ from the library's
/// before it counts as other audio (rounding only: both come from the header).
const DURATION_TOLERANCE_S: f64 = 1e-3;

/// The formats tags are written into, for refusals.
const WRITABLE_FORMATS: &str = "MP3, MP2, AAC, FLAC, Ogg Vorbis, Opus, M4A/MP4, WAV and AIFF";

/// The field a category's predicted tags go to.
pub fn category_field(category: TagCategory) -> Field<'static> {
    match category {
        TagCategory::Genre => Field::Genre,
        TagCategory::Style => Field::Named("STYLE"),
        TagCategory::Mood => Field::Named("MOOD"),
        TagCategory::Theme => Field::Named("THEME"),
    }
}

/// The field remembering which values of [`category_field`] tuneatlas added.
pub fn added_field(category: TagCategory) -> &'static str {
    match category {
        TagCategory::Genre => "TUNEATLAS_GENRE",
        TagCategory::Style => "TUNEATLAS_STYLE",
        TagCategory::Mood => "TUNEATLAS_MOOD",
        TagCategory::Theme => "TUNEATLAS_THEME",
    }
}

/// The field of the user's tag set `set`: [`USER_FIELD_PREFIX`] and the set
/// name in capitals, anything but ASCII letters and digits turned into `_`
/// (Vorbis comment names allow little else), e.g. "late night" →
/// `TUNEATLAS_USER_LATE_NIGHT`.
pub fn user_field(set: &str) -> String {
    let name: String =
        set.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("{USER_FIELD_PREFIX}{name}")
}

/// What to write.
#[derive(Debug, Clone, PartialEq)]
pub struct TagWriteOptions {
    /// The categories of predicted tags to write (the others' fields are left alone).
    pub categories: Vec<TagCategory>,
    /// The least score a predicted tag needs.
    pub min_score: f32,
    /// The most tags per category (the strongest).
    pub max_per_category: usize,
    /// Also write the user's own tags (every tag set, one field each).
    pub user_tags: bool,
    /// Work out and report what would be written, but write nothing.
    pub dry_run: bool,
}

impl Default for TagWriteOptions {
    fn default() -> Self {
        TagWriteOptions {
            categories: TagCategory::ALL.to_vec(),
            min_score: DEFAULT_MIN_SCORE,
            max_per_category: DEFAULT_MAX_PER_CATEGORY,
            user_tags: false,
            dry_run: false,
        }
    }
}

impl TagWriteOptions {
    fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.min_score) {
            return Err(Error::Invalid(format!(
                "the least score must be between 0 and 1 (got {})",
                self.min_score
            )));
        }
        if self.categories.is_empty() && !self.user_tags {
            return Err(Error::Invalid(
                "nothing to write: choose a tag category or the user's own tags".into(),
            ));
        }
        Ok(())
    }
}

/// What tuneatlas writes into one file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileTags {
    /// The model version of the predicted tags; `None` when the track has no
    /// predicted tags of that version (nothing predicted is written then).
    pub model_version: Option<String>,
    /// Per chosen category, the tags to write, strongest first. Empty when
    /// none passes: what an earlier write added is then taken out again.
    pub predicted: Vec<(TagCategory, Vec<String>)>,
    /// The user's own tags per set, when they are written; `None` leaves the
    /// user fields as they are.
    pub user: Option<Vec<(String, Vec<String>)>>,
}

impl FileTags {
    /// True when there is nothing to write at all.
    pub fn is_empty(&self) -> bool {
        self.model_version.is_none() && self.user.is_none()
    }

    /// One line for a person: "genre: rock, pop · mood: fast · your tags: calm · model v1".
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.model_version.is_some() {
            for (category, tags) in &self.predicted {
                let tags = if tags.is_empty() { "—".to_owned() } else { tags.join(", ") };
                parts.push(format!("{category}: {tags}"));
            }
        }
        for (set, tags) in self.user.iter().flatten() {
            parts.push(format!("your {set}: {}", tags.join(", ")));
        }
        if let Some(v) = &self.model_version {
            parts.push(format!("model {v}"));
        }
        parts.join(" · ")
    }
}

/// The tags to write into a track's file: per chosen category its predicted
/// tags scoring at least the threshold, strongest first (ties by name), at
/// most `max_per_category`; and the user's tags per set when asked.
/// `scores` are the track's predicted tags of `model_version` (none: the
/// track is not embedded with it), `user` its (set, tag) pairs.
pub fn tags_for_track(
    scores: &[TagScore],
    user: &[(String, String)],
    model_version: &str,
    options: &TagWriteOptions,
) -> FileTags {
    let mut out = FileTags::default();
    if !scores.is_empty() && !options.categories.is_empty() {
        out.model_version = Some(model_version.to_owned());
        for &category in &options.categories {
            let mut passing: Vec<&TagScore> = scores
                .iter()
                .filter(|s| s.category == category.as_str() && s.score >= options.min_score)
                .collect();
            passing.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.tag.cmp(&b.tag)));
            let tags = passing.into_iter().take(options.max_per_category).map(|s| s.tag.clone()).collect();
            out.predicted.push((category, tags));
        }
    }
    if options.user_tags {
        let mut sets: Vec<(String, Vec<String>)> = Vec::new();
        for (set, tag) in user {
            match sets.iter_mut().find(|(s, _)| s == set) {
                Some((_, tags)) => tags.push(tag.clone()),
                None => sets.push((set.clone(), vec![tag.clone()])),
            }
        }
        out.user = Some(sets);
    }
    out
}

/// A field's new values: those it has, less what tuneatlas added earlier
/// (`earlier`), then `ours` that are not there yet (case-insensitively).
/// Returns them and the values actually added, which become the field's
/// new "added by tuneatlas" record.
pub fn merge_values(existing: &[String], earlier: &[String], ours: &[String]) -> (Vec<String>, Vec<String>) {
    let has = |list: &[String], v: &str| list.iter().any(|x| x.eq_ignore_ascii_case(v));
    let mut values: Vec<String> = existing.iter().filter(|v| !has(earlier, v)).cloned().collect();
    let mut added = Vec::new();
    for v in ours {
        if !has(&values, v) {
            values.push(v.clone());
            added.push(v.clone());
        }
    }
    (values, added)
}

/// Changes `tag` to carry `tags`; returns whether anything changed.
fn apply(tag: &mut Editable, tags: &FileTags) -> bool {
    let mut changed = false;
    if let Some(version) = &tags.model_version {
        for (category, ours) in &tags.predicted {
            let field = category_field(*category);
            let record = Field::Named(added_field(*category));
            let (values, added) = merge_values(&tag.values(field), &tag.values(record), ours);
            changed |= tag.set(field, &values);
            changed |= tag.set(record, &added);
        }
        changed |= tag.set(Field::Named(MODEL_FIELD), std::slice::from_ref(version));
    }
    if let Some(sets) = &tags.user {
        let ours: Vec<(String, &Vec<String>)> = sets.iter().map(|(set, t)| (user_field(set), t)).collect();
        for name in tag.named_fields() {
            if name.starts_with(USER_FIELD_PREFIX) && !ours.iter().any(|(n, _)| *n == name) {
                changed |= tag.set(Field::Named(&name), &[]);
            }
        }
        for (name, values) in &ours {
            changed |= tag.set(Field::Named(name), values);
        }
    }
    changed
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq)]
pub enum FileOutcome {
    /// The tags were written and the library updated.
    Written,
    /// Dry run: the tags would be written.
    WouldWrite,
    /// The file already carries exactly these tags; not rewritten.
    Unchanged,
    /// Left alone on purpose, with the reason (read-only, unsupported format…).
    Refused(String),
    /// Something went wrong; the file is as it was. The reason.
    Failed(String),
}

/// One file's result, as [`write_tags`] reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileReport {
    /// The track.
    pub track_id: i64,
    /// Its file.
    pub path: PathBuf,
    /// What was (or would be) written.
    pub tags: FileTags,
    /// What happened.
    pub outcome: FileOutcome,
}

/// Progress of [`write_tags`].
#[derive(Debug, Clone, PartialEq)]
pub enum TagWriteEvent {
    /// How many files this run looks at.
    Total {
        /// Tracks asked for.
        n_files: usize,
    },
    /// One file is done.
    Done(FileReport),
}

/// The closing report of [`write_tags`]; `{}` is its headline, `{:#}` adds
/// one line per refused or failed file.
#[derive(Debug, Clone, PartialEq)]
pub struct TagWriteSummary {
    /// The model version of the predicted tags.
    pub model_version: String,
    /// Nothing was written: a dry run.
    pub dry_run: bool,
    /// Finished or cancelled.
    pub status: RunStatus,
    /// Files written (or, in a dry run, that would be).
    pub n_written: usize,
    /// Files that already carried these tags.
    pub n_unchanged: usize,
    /// Files left alone on purpose, with reasons.
    pub refused: Vec<(PathBuf, String)>,
    /// Files that failed, with reasons (each left as it was).
    pub failed: Vec<(PathBuf, String)>,
}

impl fmt::Display for TagWriteSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run { "Would write" } else { "Wrote" };
        write!(f, "{verb} tags into {} file(s) [model {}]", self.n_written, self.model_version)?;
        if self.n_unchanged > 0 {
            write!(f, "; {} already up to date", self.n_unchanged)?;
        }
        if !self.refused.is_empty() {
            write!(f, "; {} refused", self.refused.len())?;
        }
        if !self.failed.is_empty() {
            write!(f, "; {} failed", self.failed.len())?;
        }
        if self.status == RunStatus::Cancelled {
            write!(f, "; cancelled before the end")?;
        }
        if self.dry_run {
            write!(f, " (dry run: nothing was written)")?;
        }
        if f.alternate() {
            for (kind, list) in [("refused", &self.refused), ("failed", &self.failed)] {
                for (path, reason) in list {
                    write!(f, "\n{kind}: {reason}: {}", crate::text::shown(path))?;
                }
            }
        }
        Ok(())
    }
}

/// Writes the tags of `model_version` (see [`TagWriteOptions`]) into the
/// files of the tracks `track_ids`, one file at a time, reporting each
/// through `on_event`. A file that cannot be written is reported with the
/// reason and the rest carries on (see the module docs for what is
/// refused). Takes the library's import lock (an import running at the same
/// time would see the files change under it), except for a dry run.
///
/// # Errors
/// Invalid options, another import running on the library, or a database
/// failure; per-file problems are not errors.
pub fn write_tags(
    store: &mut Store,
    track_ids: &[i64],
    model_version: &str,
    options: &TagWriteOptions,
    cancel: &CancelToken,
    mut on_event: impl FnMut(&TagWriteEvent),
) -> Result<TagWriteSummary> {
    options.check()?;
    let _lock = if options.dry_run {
        None
    } else {
        Some(ImportLock::acquire(store.path(), WhenBusy::Refuse, cancel, |_| {})?)
    };
    let known: HashMap<i64, KnownFile> = store.known_files()?.into_iter().map(|k| (k.id, k)).collect();
    let mut user: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    if options.user_tags {
        for (id, set, tag) in store.all_user_tags(None)? {
            user.entry(id).or_default().push((set, tag));
        }
    }
    let mut summary = TagWriteSummary {
        model_version: model_version.to_owned(),
        dry_run: options.dry_run,
        status: RunStatus::Finished,
        n_written: 0,
        n_unchanged: 0,
        refused: Vec::new(),
        failed: Vec::new(),
    };
    let mut rows = Vec::with_capacity(track_ids.len());
    for &id in track_ids {
        rows.push(
            store
                .track(id)?
                .ok_or_else(|| Error::Invalid(format!("no track with id {id} in the library")))?,
        );
    }
    on_event(&TagWriteEvent::Total { n_files: rows.len() });
    for row in rows {
        if cancel.is_cancelled() {
            summary.status = RunStatus::Cancelled;
            break;
        }
        let id = row.id;
        let scores = store.track_tags(id, model_version)?;
        let tags = tags_for_track(&scores, user.get(&id).map_or(&[], Vec::as_slice), model_version, options);
        let outcome = if tags.is_empty() {
            FileOutcome::Refused(format!(
                "no predicted tags of model {model_version} for this track yet (`tuneatlas embed` adds them)"
            ))
        } else {
            write_one(store, &row, known.get(&id), &tags, options.dry_run)
        };
        match &outcome {
            FileOutcome::Written | FileOutcome::WouldWrite => summary.n_written += 1,
            FileOutcome::Unchanged => summary.n_unchanged += 1,
            FileOutcome::Refused(r) => summary.refused.push((row.path.clone(), r.clone())),
            FileOutcome::Failed(r) => summary.failed.push((row.path.clone(), r.clone())),
        }
        on_event(&TagWriteEvent::Done(FileReport { track_id: id, path: row.path, tags, outcome }));
    }
    Ok(summary)
}

/// Writes `tags` into the file of `row`; every way out is a [`FileOutcome`].
fn write_one(
    store: &mut Store,
    row: &TrackRow,
    known: Option<&KnownFile>,
    tags: &FileTags,
    dry: bool,
) -> FileOutcome {
    match try_write_one(store, row, known, tags, dry) {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

fn refused(reason: impl Into<String>) -> FileOutcome {
    FileOutcome::Refused(reason.into())
}

fn failed(reason: impl Into<String>) -> FileOutcome {
    FileOutcome::Failed(reason.into())
}

fn try_write_one(
    store: &mut Store,
    row: &TrackRow,
    known: Option<&KnownFile>,
    tags: &FileTags,
    dry_run: bool,
) -> std::result::Result<FileOutcome, FileOutcome> {
    if row.status != "ok" {
        return Err(refused("the last import did not find the file"));
    }
    // Through a link, the file itself is rewritten and the link kept.
    let real = std::fs::canonicalize(&row.path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => refused("the file is gone (import its folder again)"),
        _ => failed(format!("cannot open it: {e}")),
    })?;
    let mut file = crate::audio::open_regular(&real).map_err(|e| failed(reason_of(&e)))?;
    let meta = file.metadata().map_err(|e| failed(format!("stat: {e}")))?;
    if let Some(k) = known
        && (k.size_bytes != meta.len() || k.mtime_ns != mtime_ns(&meta))
    {
        return Err(refused(
            "the file changed since it was imported; import its folder again first, so that its tags \
             describe the audio it holds now",
        ));
    }
    if meta.permissions().readonly() {
        return Err(refused("the file is read-only"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Err(refused(format!(
                "the file has {} hard links; writing it anew would split them",
                meta.nlink()
            )));
        }
    }
    let mut tag = read_editable(&mut file, &row.container, &row.codec).map_err(|e| match e {
        NotEditable::Format => refused(format!(
            "tags cannot be written into {} files ({}); tuneatlas writes them into {WRITABLE_FORMATS}",
            row.container, row.codec
        )),
        NotEditable::Unreadable(reason) => {
            failed(format!("its tags could not be read cleanly ({reason}), so they are not rewritten"))
        }
    })?;
    if !apply(&mut tag, tags) {
        return Ok(FileOutcome::Unchanged);
    }
    if dry_run {
        return Ok(FileOutcome::WouldWrite);
    }
    let mut copy = TempCopy::create(&real, &mut file, &meta).map_err(|e| {
        failed(format!("cannot make the copy to write into beside it ({e}); is its folder writable?"))
    })?;
    tag.save(copy.file())
        .map_err(|e| failed(format!("writing the tags failed ({e}); the file is unchanged")))?;
    copy.sync().map_err(|e| failed(format!("writing the tags failed ({e}); the file is unchanged")))?;
    let genre = same_audio(copy.path(), row)?;
    let fingerprint = fingerprint_file(copy.path()).map_err(|e| failed(reason_of(&e)))?;
    let new_meta = std::fs::metadata(copy.path()).map_err(|e| failed(format!("stat: {e}")))?;
    // A last look: a file changed by someone else meanwhile is not overwritten.
    match std::fs::metadata(&real) {
        Ok(now) if now.len() == meta.len() && mtime_ns(&now) == mtime_ns(&meta) => {}
        _ => return Err(failed("the file changed while its tags were written; it was left as it is")),
    }
    copy.commit()
        .map_err(|e| failed(format!("replacing the file failed ({e}); the original is unchanged")))?;
    store
        .record_retagged_file(row.id, new_meta.len(), mtime_ns(&new_meta), &fingerprint, genre.as_deref())
        .map_err(|e| {
        failed(format!(
            "the tags were written, but the library could not record it ({e}); the next import reads \
                 the file again"
        ))
    })?;
    Ok(FileOutcome::Written)
}

/// Opens the rewritten copy with the importer's own reader and checks it is
/// the audio the library knows (container, codec, rate, channels,
/// duration); returns its genre as an import would store it.
fn same_audio(copy: &Path, row: &TrackRow) -> std::result::Result<Option<String>, FileOutcome> {
    let audio = AudioFile::open(copy).map_err(|e| {
        failed(format!("the rewritten copy did not open as audio ({}); the file is unchanged", reason_of(&e)))
    })?;
    let info = audio.info();
    let same = info.container == row.container
        && info.codec == row.codec
        && info.sample_rate_hz == row.sample_rate_hz
        && info.channels == row.channels
        && (info.duration_s - row.duration_s).abs() <= DURATION_TOLERANCE_S;
    if !same {
        return Err(failed(format!(
            "the rewritten copy read back as other audio ({} {} {} Hz × {}, {:.3} s instead of {} {} {} Hz × {}, \
             {:.3} s); the file is unchanged",
            info.container,
            info.codec,
            info.sample_rate_hz,
            info.channels,
            info.duration_s,
            row.container,
            row.codec,
            row.sample_rate_hz,
            row.channels,
            row.duration_s
        )));
    }
    Ok(info.tags.genre.clone())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn score(category: &str, tag: &str, score: f32) -> TagScore {
        TagScore { category: category.into(), tag: tag.into(), score }
    }

    #[test]
    fn merging_keeps_the_users_values_and_replaces_only_what_tuneatlas_added() {
        // First write: the user's "Jazz" stays first; "rock" is added.
        let (values, added) = merge_values(&s(&["Jazz"]), &[], &s(&["rock", "jazz"]));
        assert_eq!(values, s(&["Jazz", "rock"]));
        assert_eq!(added, s(&["rock"]), "jazz was the user's already, so it is not ours to take back");
        // A later write with another model: "rock" goes, "pop" comes, "Jazz" stays.
        let (values, added) = merge_values(&values, &added, &s(&["pop"]));
        assert_eq!(values, s(&["Jazz", "pop"]));
        assert_eq!(added, s(&["pop"]));
        // Nothing passes any more: only the user's value is left.
        assert_eq!(merge_values(&values, &added, &[]), (s(&["Jazz"]), vec![]));
        // Writing the same again changes nothing.
        assert_eq!(
            merge_values(&s(&["Jazz", "pop"]), &s(&["pop"]), &s(&["pop"])),
            (s(&["Jazz", "pop"]), s(&["pop"]))
        );
    }

    #[test]
    fn tags_pass_the_threshold_strongest_first_at_most_n_per_category() {
        let scores = vec![
            score("genre", "rock", 0.6),
            score("genre", "pop", 0.9),
            score("genre", "jazz", 0.49),
            score("genre", "folk", 0.6),
            score("mood", "fast", 0.7),
            score("style", "piano", 0.1),
        ];
        let options = TagWriteOptions {
            categories: vec![TagCategory::Genre, TagCategory::Style, TagCategory::Mood],
            max_per_category: 2,
            ..TagWriteOptions::default()
        };
        let tags = tags_for_track(&scores, &[], "m1", &options);
        assert_eq!(tags.model_version.as_deref(), Some("m1"));
        assert_eq!(
            tags.predicted,
            vec![
                (TagCategory::Genre, s(&["pop", "folk"])),
                (TagCategory::Style, vec![]),
                (TagCategory::Mood, s(&["fast"])),
            ]
        );
        assert_eq!(tags.user, None);
        assert_eq!(tags.describe(), "genre: pop, folk · style: — · mood: fast · model m1");
        // Not embedded with the model: nothing predicted, and nothing at all
        // unless the user's tags are asked for.
        assert!(tags_for_track(&[], &[], "m1", &options).is_empty());
        let user = vec![("tags".to_owned(), "calm".to_owned()), ("moods".to_owned(), "dark".to_owned())];
        let with_user = TagWriteOptions { user_tags: true, ..options };
        let tags = tags_for_track(&[], &user, "m1", &with_user);
        assert_eq!(tags.model_version, None);
        assert_eq!(tags.user, Some(vec![("tags".into(), s(&["calm"])), ("moods".into(), s(&["dark"]))]));
    }

    #[test]
    fn user_set_names_become_field_names_vorbis_comments_accept() {
        assert_eq!(user_field("tags"), "TUNEATLAS_USER_TAGS");
        assert_eq!(user_field("late night"), "TUNEATLAS_USER_LATE_NIGHT");
        assert_eq!(user_field("café=1"), "TUNEATLAS_USER_CAF__1");
    }

    #[test]
    fn options_out_of_range_are_refused() {
        let bad = TagWriteOptions { min_score: 1.5, ..TagWriteOptions::default() };
        assert!(bad.check().unwrap_err().to_string().contains("between 0 and 1"));
        let nothing = TagWriteOptions { categories: vec![], ..TagWriteOptions::default() };
        assert!(nothing.check().is_err());
        assert!(TagWriteOptions::default().check().is_ok());
    }
}
