//! Sensible names for files without tags, from their path: a library full of
//! "Unknown" rows is useless, while `Artist/Album/03 - Song_Name.ogg` already
//! says everything a person needs.

use std::path::Path;

/// Names guessed from a path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathNames {
    /// Title: the file stem, track number and artist prefix removed.
    pub title: String,
    /// Artist from an "Artist - Title" stem or the grandparent folder.
    pub artist: Option<String>,
    /// Album from the parent folder (unless that is the import root).
    pub album: Option<String>,
    /// A leading track number in the stem ("03 - ...", "03. ...", "03_...").
    pub track_number: Option<u32>,
}

fn tidy(s: &str) -> String {
    let replaced = s.replace('_', " ");
    replaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Guesses names for `path`, which lies somewhere under `root`.
pub fn names_from_path(path: &Path, root: &Path) -> PathNames {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut rest = tidy(&stem);
    let mut track_number = None;
    // "03 - Title", "03. Title", "03 Title", "3-Title"
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    if !digits.is_empty() && digits.len() <= 3 && digits.len() < rest.len() {
        let tail = &rest[digits.len()..];
        // "99 Luftballons" is a title; "09 Song", "9 - Song", "9. Song" are numbered.
        let separated = tail.trim_start().starts_with(['-', '.', ')']);
        let zero_padded = digits.len() > 1 && digits.starts_with('0') && tail.starts_with(' ');
        let after = tail.trim_start_matches([' ', '-', '.', ')']).to_string();
        if (separated || zero_padded) && !after.is_empty() {
            track_number = digits.parse().ok();
            rest = after;
        }
    }
    let mut artist = None;
    if let Some((a, t)) = rest.split_once(" - ")
        && !a.trim().is_empty()
        && !t.trim().is_empty()
    {
        artist = Some(a.trim().to_string());
        rest = t.trim().to_string();
    }
    let inside_root = |p: &Path| p != root && p.starts_with(root);
    let parent = path.parent().filter(|p| inside_root(p));
    let album = parent.and_then(|p| p.file_name()).map(|n| tidy(&n.to_string_lossy()));
    if artist.is_none() {
        artist = parent
            .and_then(|p| p.parent())
            .filter(|p| inside_root(p))
            .and_then(|p| p.file_name())
            .map(|n| tidy(&n.to_string_lossy()));
    }
    let title = if rest.is_empty() { stem } else { rest };
    PathNames { title, artist, album, track_number }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artist_album_track_layout() {
        let n = names_from_path(Path::new("/m/Some_Artist/Great Album/03 - Song_Name.ogg"), Path::new("/m"));
        assert_eq!(n.title, "Song Name");
        assert_eq!(n.artist.as_deref(), Some("Some Artist"));
        assert_eq!(n.album.as_deref(), Some("Great Album"));
        assert_eq!(n.track_number, Some(3));
    }

    #[test]
    fn flat_folder_with_artist_dash_title() {
        let n = names_from_path(Path::new("/m/Band - Tune.mp3"), Path::new("/m"));
        assert_eq!(
            n,
            PathNames { title: "Tune".into(), artist: Some("Band".into()), album: None, track_number: None }
        );
    }

    #[test]
    fn numbers_that_are_titles_stay() {
        assert_eq!(names_from_path(Path::new("/m/1979.flac"), Path::new("/m")).title, "1979");
        assert_eq!(
            names_from_path(Path::new("/m/99 Luftballons.flac"), Path::new("/m")).title,
            "99 Luftballons"
        );
        assert_eq!(names_from_path(Path::new("/m/07 Intro.flac"), Path::new("/m")).track_number, Some(7));
    }
}
