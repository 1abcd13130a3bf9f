//! Tags: every container's metadata (ID3v2/ID3v1/APE, Vorbis comments, MP4
//! atoms, RIFF INFO) folded into one [`TrackTags`].

use symphonia::core::formats::FormatReader;
use symphonia::core::meta::{MetadataRevision, StandardTag, Tag};

use super::TrackTags;

/// Folds every metadata revision the reader has queued (leading/trailing
/// ID3/APE read by the probe, then the container's own tags) into `tags`;
/// later revisions win, so ID3v2 beats ID3v1 and in-stream comments beat
/// both.
pub(super) fn collect_tags(reader: &mut dyn FormatReader, track_id: u32, tags: &mut TrackTags) {
    let mut metadata = reader.metadata();
    loop {
        if let Some(rev) = metadata.current() {
            overlay(tags, tags_of_revision(rev, track_id));
        }
        if metadata.pop().is_none() {
            break;
        }
    }
}

pub(super) fn overlay(into: &mut TrackTags, from: TrackTags) {
    macro_rules! take {
        ($($f:ident),*) => { $( if from.$f.is_some() { into.$f = from.$f; } )* };
    }
    take!(title, artist, album, album_artist, track_number, disc_number, year, genre, comment);
}

fn tags_of_revision(rev: &MetadataRevision, track_id: u32) -> TrackTags {
    let mut out = TrackTags::default();
    let per_track = rev
        .per_track
        .iter()
        .filter(|t| t.track_id == u64::from(track_id))
        .flat_map(|t| t.metadata.tags.iter());
    for tag in rev.media.tags.iter().chain(per_track) {
        apply_tag(&mut out, tag);
    }
    out
}

/// Sets the field `tag` maps to, unless already set by an earlier tag.
fn apply_tag(out: &mut TrackTags, tag: &Tag) {
    fn text(s: &str) -> Option<String> {
        let t = s.trim().trim_matches('\0').trim();
        (!t.is_empty()).then(|| t.to_string())
    }
    fn set<T>(slot: &mut Option<T>, v: Option<T>) {
        if slot.is_none() {
            *slot = v;
        }
    }
    match &tag.std {
        Some(StandardTag::TrackTitle(s)) => set(&mut out.title, text(s)),
        Some(StandardTag::Artist(s)) => set(&mut out.artist, text(s)),
        Some(StandardTag::Album(s)) => set(&mut out.album, text(s)),
        Some(StandardTag::AlbumArtist(s)) => set(&mut out.album_artist, text(s)),
        Some(StandardTag::TrackNumber(n)) => set(&mut out.track_number, u32::try_from(*n).ok()),
        Some(StandardTag::DiscNumber(n)) => set(&mut out.disc_number, u32::try_from(*n).ok()),
        Some(
            StandardTag::RecordingYear(y) | StandardTag::ReleaseYear(y) | StandardTag::OriginalReleaseYear(y),
        ) => set(&mut out.year, Some(i32::from(*y))),
        Some(
            StandardTag::RecordingDate(s)
            | StandardTag::ReleaseDate(s)
            | StandardTag::OriginalReleaseDate(s)
            | StandardTag::RecordingTime(s),
        ) => set(&mut out.year, year_of(s)),
        Some(StandardTag::Genre(s)) => set(&mut out.genre, text(s)),
        Some(StandardTag::Comment(s)) => set(&mut out.comment, text(s)),
        Some(_) => {}
        None => {
            // Keys symphonia did not map: fall back on common raw names.
            let value = tag.raw.value.to_string();
            match tag.raw.key.to_ascii_lowercase().as_str() {
                "title" | "tit2" => set(&mut out.title, text(&value)),
                "artist" | "tpe1" => set(&mut out.artist, text(&value)),
                "album" | "talb" => set(&mut out.album, text(&value)),
                "albumartist" | "album_artist" | "album artist" | "tpe2" => {
                    set(&mut out.album_artist, text(&value))
                }
                "tracknumber" | "track" | "trck" => set(&mut out.track_number, leading_number(&value)),
                "discnumber" | "disc" | "tpos" => set(&mut out.disc_number, leading_number(&value)),
                "date" | "year" | "tdrc" | "tyer" => set(&mut out.year, year_of(&value)),
                "genre" | "tcon" => set(&mut out.genre, text(&value)),
                "comment" | "comm" | "icmt" | "description" => set(&mut out.comment, text(&value)),
                _ => {}
            }
        }
    }
}

/// The year in a date string: its first run of four digits ("2024-05-01",
/// "05/01/2024", "2024").
pub(super) fn year_of(s: &str) -> Option<i32> {
    let bytes = s.as_bytes();
    bytes.windows(4).enumerate().find_map(|(i, w)| {
        let digits = w.iter().all(u8::is_ascii_digit);
        let before_ok = i == 0 || !bytes[i - 1].is_ascii_digit();
        let after_ok = bytes.get(i + 4).is_none_or(|b| !b.is_ascii_digit());
        (digits && before_ok && after_ok).then(|| s[i..i + 4].parse().ok()).flatten()
    })
}

/// "3/12" → 3.
pub(super) fn leading_number(s: &str) -> Option<u32> {
    let digits: String = s.trim().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_are_found_in_dates() {
        assert_eq!(year_of("2024"), Some(2024));
        assert_eq!(year_of("2024-05-01"), Some(2024));
        assert_eq!(year_of("05/01/1999"), Some(1999));
        assert_eq!(year_of("12345"), None);
        assert_eq!(year_of(""), None);
    }

    #[test]
    fn track_numbers_parse_with_totals() {
        assert_eq!(leading_number("3/12"), Some(3));
        assert_eq!(leading_number(" 7 "), Some(7));
        assert_eq!(leading_number("x"), None);
    }
}
