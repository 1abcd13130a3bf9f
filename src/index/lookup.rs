//! Turning what a person typed into one track: an id from `tuneatlas
//! tracks`, a path to a file in the library, or "Artist - Title".
//!
//! Why here and not in the CLI: the GUI's search box and any future command
//! that takes a track should accept the same spellings and fail the same way
//! — with a list of candidates when a name is ambiguous, never a guess.

use std::path::Path;

use crate::store::{Store, TrackRow};
use crate::{Error, Result};

/// How many candidates an "ambiguous" error lists.
const MAX_CANDIDATES_SHOWN: usize = 5;

/// Finds the one track `query` names. Tried in order:
///
/// 1. a numeric track id (as printed by `tuneatlas tracks`);
/// 2. an existing file path (canonicalised, compared with the stored paths);
/// 3. "artist - title" or a plain title, case-insensitively and ignoring
///    repeated spaces; exact matches win, otherwise a unique substring match
///    of "artist - title" is accepted.
///
/// When several tracks match equally, present tracks are preferred over
/// missing ones; if that still leaves more than one, the error lists up to
/// five candidates with their ids so the user can pick.
pub fn resolve_track(store: &Store, query: &str) -> Result<TrackRow> {
    let query = query.trim();
    if query.is_empty() {
        return Err(Error::Invalid("no track given (an id, a file path, or \"Artist - Title\")".into()));
    }
    if let Ok(id) = query.parse::<i64>()
        && let Some(track) = store.track(id)?
    {
        return Ok(track);
    }
    let all = store.tracks(true)?;
    let path = Path::new(query);
    if path.is_file() {
        return by_path(&all, path);
    }
    let wanted = normalize(query);
    let exact: Vec<&TrackRow> = all
        .iter()
        .filter(|t| {
            normalize(&t.title) == wanted || t.artist.as_ref().is_some_and(|_| full_name(t) == wanted)
        })
        .collect();
    let matches = if exact.is_empty() {
        all.iter().filter(|t| full_name(t).contains(&wanted)).collect()
    } else {
        exact
    };
    pick_one(query, matches)
}

/// The track stored under `path` (canonicalised on both sides, so a relative
/// path or one through a symlink still finds it).
fn by_path(all: &[TrackRow], path: &Path) -> Result<TrackRow> {
    let canonical = path.canonicalize().map_err(Error::io("resolve", path))?;
    all.iter()
        .find(|t| t.path == canonical || t.path.canonicalize().is_ok_and(|p| p == canonical))
        .cloned()
        .ok_or_else(|| {
            Error::Invalid(format!(
                "this file is not in the library (import its folder first): {}",
                canonical.display()
            ))
        })
}

fn pick_one(query: &str, mut matches: Vec<&TrackRow>) -> Result<TrackRow> {
    if matches.len() > 1 && matches.iter().any(|t| t.status == "ok") {
        matches.retain(|t| t.status == "ok");
    }
    match matches.as_slice() {
        [] => Err(Error::Invalid(format!(
            "no track matches \"{query}\" (give an id from `tuneatlas tracks`, a file path, or \"Artist - Title\")"
        ))),
        [one] => Ok((*one).clone()),
        many => {
            let mut msg = format!("\"{query}\" matches {} tracks; pick one by id:", many.len());
            for t in many.iter().take(MAX_CANDIDATES_SHOWN) {
                msg.push_str(&format!("\n  {:>6}  {}", t.id, describe(t)));
            }
            if many.len() > MAX_CANDIDATES_SHOWN {
                msg.push_str(&format!("\n  … and {} more", many.len() - MAX_CANDIDATES_SHOWN));
            }
            Err(Error::Invalid(msg))
        }
    }
}

/// "Artist - Title (Album)" for candidate lists.
fn describe(t: &TrackRow) -> String {
    let mut s = match &t.artist {
        Some(a) => format!("{a} - {}", t.title),
        None => t.title.clone(),
    };
    if let Some(album) = &t.album {
        s.push_str(&format!(" ({album})"));
    }
    s
}

/// "artist - title" normalised (the plain title when the artist is unknown).
fn full_name(t: &TrackRow) -> String {
    match &t.artist {
        Some(a) => normalize(&format!("{a} - {}", t.title)),
        None => normalize(&t.title),
    }
}

/// Lower case, whitespace runs collapsed to one space, trimmed.
fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::audio::decode::TrackTags;
    use crate::store::{TrackRecord, WriteOp};

    fn record(path: PathBuf, title: &str, artist: Option<&str>, album: Option<&str>) -> WriteOp {
        WriteOp::Upsert(Box::new(TrackRecord {
            path,
            size_bytes: 1,
            mtime_ns: 0,
            fingerprint: title.as_bytes().to_vec(),
            tags: TrackTags {
                title: Some(title.into()),
                artist: artist.map(Into::into),
                album: album.map(Into::into),
                ..TrackTags::default()
            },
            names_from_path: false,
            duration_s: 60.0,
            container: "ogg".into(),
            codec: "vorbis".into(),
            sample_rate_hz: 44_100,
            channels: 2,
            clips: vec![],
            model_output: None,
        }))
    }

    fn library(dir: &Path) -> Store {
        let mut store = Store::open(&dir.join("lib.db")).expect("open");
        let real = dir.join("real file.ogg");
        std::fs::write(&real, b"not really audio").expect("write");
        let run = store.begin_run(dir).expect("run");
        store
            .write_batch(
                run,
                &[
                    record(real.canonicalize().expect("canonical"), "Harbour", Some("Tide"), Some("Coast")),
                    record(dir.join("b.ogg"), "Harbour", Some("Other Band"), None),
                    record(dir.join("c.ogg"), "Night  Drive", Some("Tide"), Some("Coast")),
                    record(dir.join("d.ogg"), "Intro", None, None),
                    record(dir.join("e.ogg"), "Intro", Some("X"), None),
                    record(dir.join("f.ogg"), "Intro", Some("Y"), None),
                    record(dir.join("g.ogg"), "Intro", Some("Z"), None),
                    record(dir.join("h.ogg"), "Intro", Some("W"), None),
                    record(dir.join("i.ogg"), "Intro", Some("V"), None),
                    record(dir.join("1979.ogg"), "1979", Some("Pumpkins"), None),
                ],
            )
            .expect("write");
        store
    }

    fn id_of(store: &Store, title: &str, artist: Option<&str>) -> i64 {
        store
            .tracks(true)
            .expect("tracks")
            .into_iter()
            .find(|t| t.title == title && t.artist.as_deref() == artist)
            .expect("present")
            .id
    }

    #[test]
    fn resolves_ids_paths_and_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = library(dir.path());
        let tide_harbour = id_of(&store, "Harbour", Some("Tide"));
        assert_eq!(resolve_track(&store, &tide_harbour.to_string()).expect("id").title, "Harbour");
        // A path, also through a non-canonical spelling.
        let odd = dir.path().join(".").join("real file.ogg");
        assert_eq!(resolve_track(&store, odd.to_str().expect("utf-8")).expect("path").id, tide_harbour);
        // Artist - Title, any case and spacing.
        assert_eq!(resolve_track(&store, "  tide -  HARBOUR ").expect("name").id, tide_harbour);
        // A plain title; repeated spaces in the stored title do not matter.
        let night = id_of(&store, "Night  Drive", Some("Tide"));
        assert_eq!(resolve_track(&store, "night drive").expect("title").id, night);
        // A unique substring.
        assert_eq!(resolve_track(&store, "other band").expect("substring").title, "Harbour");
        // A number that is no id but a title.
        assert_eq!(resolve_track(&store, "1979").expect("title").artist.as_deref(), Some("Pumpkins"));
    }

    #[test]
    fn ambiguous_and_unknown_names_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = library(dir.path());
        let err = resolve_track(&store, "harbour").expect_err("two Harbours").to_string();
        assert!(err.contains("matches 2 tracks") && err.contains("Other Band - Harbour"), "{err}");
        let err = resolve_track(&store, "intro").expect_err("six Intros").to_string();
        assert!(err.contains("matches 6 tracks") && err.contains("and 1 more"), "{err}");
        assert_eq!(err.lines().count(), 1 + MAX_CANDIDATES_SHOWN + 1, "{err}");
        let err = resolve_track(&store, "no such song").expect_err("unknown").to_string();
        assert!(err.contains("no track matches"), "{err}");
        assert!(resolve_track(&store, "987654").is_err());
        assert!(resolve_track(&store, "   ").is_err());
        // An existing file that was never imported.
        let stranger = dir.path().join("stranger.ogg");
        std::fs::write(&stranger, b"x").expect("write");
        let err =
            resolve_track(&store, stranger.to_str().expect("utf-8")).expect_err("not imported").to_string();
        assert!(err.contains("not in the library"), "{err}");
    }
}
