//! When two tracks are "the same album" or "the same artist".
//!
//! Why a module of its own: the similar-track list (window and
//! `tuneatlas similar`) filters by these rules, and fine-tuning must never
//! pair two tracks of one album in a triplet. When each wrote its own rule,
//! `similar --exclude-same-album` and the window's "not same album" listed
//! different tracks for the same query. The rules are methods of
//! [`TrackRow`], so every caller gets them without a second spelling
//! (ARCHITECTURE.md §9).
//!
//! The same module says when a track is a *copy* of another (the same file
//! imported twice, or a near-identical re-encode): similar lists and the
//! radio must never offer the seed again under another name.
//!
//! Names compare ignoring case and runs of whitespace ("The  Wall" is "the
//! wall"); an unknown name never equals anything, not even another unknown.

use std::collections::HashMap;

use crate::store::TrackRow;

/// Two tracks whose vectors are at least this cosine-similar...
pub const NEAR_COPY_MIN_COSINE: f32 = 0.999;
/// ...and whose durations differ by at most this much are one recording
/// (a re-encode, a remaster of the same take, a trimmed copy).
pub const NEAR_COPY_MAX_DURATION_DIFF_S: f64 = 1.0;

/// A name as the rules compare it: lower case, whitespace runs collapsed.
pub fn normalized_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Both names known and equal once normalized.
fn same_name(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if normalized_name(a) == normalized_name(b))
}

impl TrackRow {
    /// Whose album this is: the album artist, or the artist without one.
    pub fn album_owner(&self) -> Option<&str> {
        self.album_artist.as_deref().or(self.artist.as_deref())
    }

    /// Same artist: both known and equal (ignoring case and spacing).
    pub fn same_artist(&self, other: &TrackRow) -> bool {
        same_name(self.artist.as_deref(), other.artist.as_deref())
    }

    /// Same album: equal album names, and either the same album owner
    /// ([`album_owner`](Self::album_owner)) or the same folder — so two
    /// different "Greatest Hits" are not one album, but a compilation whose
    /// tracks have different artists (and no album artist) still is.
    pub fn same_album(&self, other: &TrackRow) -> bool {
        same_name(self.album.as_deref(), other.album.as_deref())
            && (same_name(self.album_owner(), other.album_owner())
                || self.path.parent() == other.path.parent())
    }

    /// The same file content: equal, known content fingerprints.
    pub fn same_content(&self, other: &TrackRow) -> bool {
        !self.fingerprint.is_empty() && self.fingerprint == other.fingerprint
    }

    /// An exact or near copy of `other`, given the cosine similarity of
    /// their vectors: the same content ([`same_content`](Self::same_content)),
    /// or vectors at least [`NEAR_COPY_MIN_COSINE`] alike and durations
    /// within [`NEAR_COPY_MAX_DURATION_DIFF_S`]. The duration test is what
    /// keeps two genuinely different but very alike tracks (a loop-based
    /// piece and its extended mix) apart.
    pub fn near_copy(&self, other: &TrackRow, cosine_similarity: f32) -> bool {
        self.same_content(other)
            || (cosine_similarity >= NEAR_COPY_MIN_COSINE
                && (self.duration_s - other.duration_s).abs() <= NEAR_COPY_MAX_DURATION_DIFF_S)
    }
}

/// An album number for each track (`None`: no album name), such that two
/// tracks get the same number exactly when a chain of
/// [`TrackRow::same_album`] links joins them. Numbers count from 0 in the
/// order albums first appear.
///
/// Why a grouping and not just the pair rule: triplet mining compares album
/// numbers in its inner loop. The pair rule is not transitive (same folder
/// *or* same owner), so the groups are its connected components; tracks are
/// only compared within one album name, which keeps this linear in practice.
pub fn album_groups(tracks: &[TrackRow]) -> Vec<Option<u32>> {
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, t) in tracks.iter().enumerate() {
        if let Some(album) = &t.album {
            by_name.entry(normalized_name(album)).or_default().push(i);
        }
    }
    let mut parent: Vec<usize> = (0..tracks.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for members in by_name.values() {
        for (n, &i) in members.iter().enumerate() {
            for &j in &members[n + 1..] {
                if tracks[i].same_album(&tracks[j]) {
                    let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                    if ri != rj {
                        parent[ri.max(rj)] = ri.min(rj);
                    }
                }
            }
        }
    }
    let mut numbers: HashMap<usize, u32> = HashMap::new();
    (0..tracks.len())
        .map(|i| {
            tracks[i].album.as_ref()?;
            let r = root(&mut parent, i);
            let next = numbers.len() as u32;
            Some(*numbers.entry(r).or_insert(next))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn row(path: &str, artist: Option<&str>, album: Option<&str>, album_artist: Option<&str>) -> TrackRow {
        TrackRow {
            id: 0,
            path: PathBuf::from(path),
            title: "t".into(),
            artist: artist.map(Into::into),
            album: album.map(Into::into),
            album_artist: album_artist.map(Into::into),
            track_number: None,
            disc_number: None,
            year: None,
            genre: None,
            duration_s: 1.0,
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
    fn names_ignore_case_and_spacing_and_unknown_is_never_equal() {
        let a = row("/m/a/1.ogg", Some("The  Band"), Some("Hits"), None);
        let b = row("/m/b/2.ogg", Some("the band"), Some("HITS "), None);
        assert!(a.same_artist(&b));
        assert!(a.same_album(&b), "same owner, other folder");
        let unknown = row("/m/c/3.ogg", None, None, None);
        assert!(!unknown.same_artist(&unknown.clone()));
        assert!(!unknown.same_album(&unknown.clone()));
    }

    #[test]
    fn a_copy_is_the_same_content_or_nearly_the_same_vector_and_length() {
        let mut a = row("/m/a/1.ogg", Some("A"), None, None);
        let mut b = row("/m/b/1.ogg", Some("B"), None, None);
        assert!(!a.near_copy(&b, 0.5), "unknown fingerprints are never equal");
        a.fingerprint = vec![1, 2];
        b.fingerprint = vec![1, 2];
        assert!(a.same_content(&b) && a.near_copy(&b, 0.1));
        b.fingerprint = vec![3];
        b.duration_s = a.duration_s + 0.9;
        assert!(a.near_copy(&b, 0.9991));
        assert!(!a.near_copy(&b, 0.998), "not alike enough");
        b.duration_s = a.duration_s + 1.5;
        assert!(!a.near_copy(&b, 0.9999), "alike, but of another length");
    }

    #[test]
    fn greatest_hits_of_two_artists_are_two_albums_but_a_compilation_is_one() {
        let a = row("/m/a/1.ogg", Some("A"), Some("Greatest Hits"), None);
        let b = row("/m/b/1.ogg", Some("B"), Some("Greatest Hits"), None);
        assert!(!a.same_album(&b));
        let c1 = row("/m/comp/1.ogg", Some("A"), Some("Mix"), None);
        let c2 = row("/m/comp/2.ogg", Some("B"), Some("Mix"), None);
        assert!(c1.same_album(&c2), "same folder");
        let v1 = row("/m/x/1.ogg", Some("A"), Some("Mix"), Some("Various"));
        let v2 = row("/m/y/2.ogg", Some("B"), Some("Mix"), Some("various"));
        assert!(v1.same_album(&v2), "same album artist");
    }

    #[test]
    fn groups_are_the_connected_components_of_the_pair_rule() {
        let tracks = vec![
            row("/m/a/1.ogg", Some("A"), Some("Hits"), None),
            row("/m/b/1.ogg", Some("B"), Some("Hits"), None),
            row("/m/a/2.ogg", Some("B"), Some("hits"), None), // joins both: folder of 0, owner of 1
            row("/m/c/1.ogg", Some("C"), Some("Hits"), None),
            row("/m/c/2.ogg", Some("C"), None, None),
        ];
        assert_eq!(album_groups(&tracks), [Some(0), Some(0), Some(0), Some(1), None]);
        assert!(album_groups(&[]).is_empty());
    }
}
