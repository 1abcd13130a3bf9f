//! The distillation corpus: the track list (`train.tsv`), the teacher targets
//! (`clips.tsv` + `penultimate.npy`) and the validation split.
//!
//! Why its own module: the files come from `shared/corpus/` and
//! `shared/teacher/targets/` (rebuilt on each machine, never committed), and
//! everything downstream — the feature cache, the training loop, `tuneatlas
//! eval` — needs the same joined view: which clip belongs to which track and
//! album, where in the file it starts, and what the teachers said about it.
//! Parsing is strict (header names, column counts, finite numbers) and every
//! error names the file and line, because a silently misaligned target table
//! would train a model on the wrong labels.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// File name of the teacher's per-clip probabilities inside the targets folder.
pub const CLIPS_FILE: &str = "clips.tsv";
/// File name of the teacher's per-clip penultimate layers inside the targets folder.
pub const PENULTIMATE_FILE: &str = "penultimate.npy";

/// One row of a track list (`train.tsv` layout).
///
/// Why all the columns: the album drives the validation split and the
/// triplet album filter; artist, licence and kind go into the model card's
/// attribution.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusTrack {
    /// Path relative to the corpus folder, as in the teacher targets.
    pub rel_path: String,
    /// Where it came from (a Debian package or a render family).
    pub source: String,
    /// Album (the unit of the validation hold-out and the triplet album filter).
    pub album: String,
    /// Artist credit (`unknown` where there is none).
    pub artist: String,
    /// Title.
    pub title: String,
    /// Licence of the audio.
    pub license: String,
    /// Decoded length in seconds as the teachers saw it (floored to ms), or
    /// `None` in a list that does not give it (then our decoder's length is used).
    pub duration_s: Option<f64>,
    /// Recording, render, module …
    pub kind: String,
}

/// Reads a track list: tab-separated, header first, at least the columns
/// `rel_path` and `album`; `source`, `artist`, `title`, `license`,
/// `duration_s` and `kind` are used when present.
///
/// Why a header-driven reader: `tuneatlas eval --list` takes lists of music
/// nobody trained on, which need only paths and albums.
pub fn read_track_list(path: &Path) -> Result<Vec<CorpusTrack>> {
    let file = std::fs::File::open(path).map_err(Error::io("open", path))?;
    let mut lines = std::io::BufReader::new(file).lines();
    let header = match lines.next() {
        Some(line) => line.map_err(Error::io("read", path))?,
        None => return Err(Error::Invalid(format!("the track list is empty: {}", path.display()))),
    };
    let columns: Vec<&str> = header.split('\t').collect();
    let col = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(rel_col), Some(album_col)) = (col("rel_path"), col("album")) else {
        return Err(Error::Invalid(format!(
            "the track list needs a tab-separated header with at least `rel_path` and `album` columns \
             (found {columns:?}): {}",
            path.display()
        )));
    };
    let opt = |name| col(name);
    let (source_col, artist_col, title_col) = (opt("source"), opt("artist"), opt("title"));
    let (license_col, duration_col, kind_col) = (opt("license"), opt("duration_s"), opt("kind"));
    let mut tracks = Vec::new();
    for (i, line) in lines.enumerate() {
        let line = line.map_err(Error::io("read", path))?;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let line_no = i + 2;
        if fields.len() != columns.len() {
            return Err(Error::Invalid(format!(
                "line {line_no} has {} fields, the header {}: {}",
                fields.len(),
                columns.len(),
                path.display()
            )));
        }
        let get = |c: Option<usize>| c.map(|c| fields[c].to_string()).unwrap_or_default();
        let duration_s = match duration_col {
            Some(c) => Some(
                fields[c].parse::<f64>().ok().filter(|d| d.is_finite() && *d >= 0.0).ok_or_else(|| {
                    Error::Invalid(format!(
                        "line {line_no}: duration_s {:?} is not a duration: {}",
                        fields[c],
                        path.display()
                    ))
                })?,
            ),
            None => None,
        };
        tracks.push(CorpusTrack {
            rel_path: fields[rel_col].to_string(),
            source: source_col
                .map(|c| fields[c].to_string())
                .unwrap_or_else(|| fields[album_col].to_string()),
            album: fields[album_col].to_string(),
            artist: get(artist_col),
            title: get(title_col),
            license: get(license_col),
            duration_s,
            kind: get(kind_col),
        });
    }
    if tracks.is_empty() {
        return Err(Error::Invalid(format!("the track list has no tracks: {}", path.display())));
    }
    let mut seen = BTreeMap::new();
    for (i, t) in tracks.iter().enumerate() {
        if let Some(first) = seen.insert(t.rel_path.as_str(), i) {
            return Err(Error::Invalid(format!(
                "{} is listed twice (rows {} and {}): {}",
                t.rel_path,
                first + 1,
                i + 1,
                path.display()
            )));
        }
    }
    Ok(tracks)
}

/// The teachers' view of the corpus clips (`clips.tsv` + `penultimate.npy`).
#[derive(Debug, Clone)]
pub struct TeacherTargets {
    /// The 100 teacher outputs, `msd:<tag>` then `mtt:<tag>`, in column order.
    pub tag_names: Vec<String>,
    /// Per clip: relative path and start second (3 decimals, authoritative).
    pub clips: Vec<(String, f64)>,
    /// `clips.len() × tag_names.len()` probabilities, row-major.
    pub probs: Vec<f32>,
    /// `clips.len() × PENULTIMATE_DIM` penultimate activations (MSD then MTT),
    /// row-major; empty when the file is absent.
    pub penultimate: Vec<f32>,
    /// Width of a penultimate row (400) or 0 when absent.
    pub penultimate_dim: usize,
}

impl TeacherTargets {
    /// The probabilities of clip `i`.
    pub fn probs_of(&self, clip: usize) -> &[f32] {
        let n = self.tag_names.len();
        &self.probs[clip * n..(clip + 1) * n]
    }

    /// The penultimate row of clip `i` (empty when absent).
    pub fn penultimate_of(&self, clip: usize) -> &[f32] {
        let n = self.penultimate_dim;
        &self.penultimate[clip * n..(clip + 1) * n]
    }
}

/// Reads `clips.tsv` and, if present, `penultimate.npy` from `dir`.
pub fn read_targets(dir: &Path) -> Result<TeacherTargets> {
    let path = dir.join(CLIPS_FILE);
    let file = std::fs::File::open(&path).map_err(Error::io("open", &path))?;
    let mut lines = std::io::BufReader::new(file).lines();
    let header = match lines.next() {
        Some(line) => line.map_err(Error::io("read", &path))?,
        None => return Err(Error::Invalid(format!("the targets file is empty: {}", path.display()))),
    };
    let columns: Vec<&str> = header.split('\t').collect();
    if columns.len() < 4 || columns[..3] != ["clip_id", "rel_path", "start_s"] {
        return Err(Error::Invalid(format!(
            "not a teacher targets table (expected the columns clip_id, rel_path, start_s, msd:…, mtt:…): {}",
            path.display()
        )));
    }
    let tag_names: Vec<String> = columns[3..].iter().map(|s| s.to_string()).collect();
    let n_tags = tag_names.len();
    let mut clips = Vec::new();
    let mut probs = Vec::new();
    for (i, line) in lines.enumerate() {
        let line = line.map_err(Error::io("read", &path))?;
        if line.trim().is_empty() {
            continue;
        }
        let line_no = i + 2;
        let bad = |what: &str| Error::Invalid(format!("line {line_no}: {what}: {}", path.display()));
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != columns.len() {
            return Err(bad(&format!("{} fields, expected {}", fields.len(), columns.len())));
        }
        if fields[0].parse::<usize>().ok() != Some(clips.len()) {
            return Err(bad(&format!("clip_id {} is not the row index {}", fields[0], clips.len())));
        }
        let start_s: f64 = fields[2]
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s >= 0.0)
            .ok_or_else(|| bad("bad start_s"))?;
        for f in &fields[3..] {
            let p: f32 = f
                .parse()
                .ok()
                .filter(|p: &f32| (0.0..=1.0).contains(p))
                .ok_or_else(|| bad(&format!("probability {f:?} is not in [0, 1]")))?;
            probs.push(p);
        }
        clips.push((fields[1].to_string(), start_s));
    }
    let (penultimate, penultimate_dim) = read_penultimate(&dir.join(PENULTIMATE_FILE), clips.len())?;
    debug_assert_eq!(probs.len(), clips.len() * n_tags);
    Ok(TeacherTargets { tag_names, clips, probs, penultimate, penultimate_dim })
}

/// Reads `penultimate.npy` (float16 or float32, `[n_clips, d]`) as f32.
/// Absent file: empty (the penultimate regression term is then unavailable).
fn read_penultimate(path: &Path, n_clips: usize) -> Result<(Vec<f32>, usize)> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(Error::io("read", path)(e)),
    };
    let bad = |what: String| Error::Invalid(format!("{what}: {}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(format!("not a .npy file ({e})")))?;
    let shape = npy.shape().to_vec();
    let [rows, dim] = shape[..] else {
        return Err(bad(format!("expected a 2-d array, found shape {shape:?}")));
    };
    if rows != n_clips as u64 {
        return Err(bad(format!("{rows} rows, but {CLIPS_FILE} has {n_clips} clips")));
    }
    let values: Vec<f32> = match npy.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 2 => npy
            .into_vec::<half::f16>()
            .map_err(|e| bad(format!("cannot read the float16 data ({e})")))?
            .into_iter()
            .map(f32::from)
            .collect(),
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 4 => {
            npy.into_vec::<f32>().map_err(|e| bad(format!("cannot read the float32 data ({e})")))?
        }
        other => return Err(bad(format!("expected float16 or float32 data, found {other:?}"))),
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!("non-finite value in row {}", i / dim as usize)));
    }
    Ok((values, dim as usize))
}

/// One clip of the joined corpus.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CorpusClip {
    /// Index into [`Corpus::tracks`].
    pub track: usize,
    /// Start in seconds inside the file (the teachers' window).
    pub start_s: f64,
    /// Row in the teacher targets, when there are targets.
    pub target_row: Option<usize>,
}

/// Tracks, their clips and (optionally) the teacher targets, joined.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// Folder the relative paths are relative to.
    pub root: PathBuf,
    /// The tracks, in list order.
    pub tracks: Vec<CorpusTrack>,
    /// All clips, grouped by track in list order, ascending start.
    pub clips: Vec<CorpusClip>,
    /// The teacher targets the clips point into, if any.
    pub targets: Option<TeacherTargets>,
    /// Album index per track (albums numbered in order of first appearance).
    pub album_of_track: Vec<u32>,
    /// Album names by index.
    pub albums: Vec<String>,
    /// Artist index per track, `None` where the list names no real artist
    /// ([`is_unknown_artist`]): an "unknown" artist is not a concept, and
    /// two of them are not known to be one person.
    pub artist_of_track: Vec<Option<u32>>,
    /// Artist names by index.
    pub artists: Vec<String>,
}

/// Whether a listed artist name says nothing about who made the track
/// ("unknown", "various", empty). Such tracks take part in no artist pair.
pub fn is_unknown_artist(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    n.is_empty() || n == "unknown" || n.starts_with("various") || n == "n/a"
}

impl Corpus {
    /// Joins a track list with teacher targets: every listed track must have
    /// clips in the targets (a missing one is an error naming it, since
    /// training on part of a list without saying so would misreport the
    /// data); target clips of unlisted tracks are ignored.
    pub fn with_targets(root: &Path, tracks: Vec<CorpusTrack>, targets: TeacherTargets) -> Result<Corpus> {
        let mut by_path: HashMap<&str, Vec<usize>> = HashMap::new();
        for (row, (rel, _)) in targets.clips.iter().enumerate() {
            by_path.entry(rel.as_str()).or_default().push(row);
        }
        let mut clips = Vec::new();
        let mut missing = Vec::new();
        for (t, track) in tracks.iter().enumerate() {
            match by_path.get(track.rel_path.as_str()) {
                Some(rows) => {
                    let mut rows = rows.clone();
                    rows.sort_by(|&a, &b| targets.clips[a].1.total_cmp(&targets.clips[b].1));
                    clips.extend(rows.into_iter().map(|r| CorpusClip {
                        track: t,
                        start_s: targets.clips[r].1,
                        target_row: Some(r),
                    }));
                }
                None => missing.push(track.rel_path.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(Error::Invalid(format!(
                "{} listed track(s) have no teacher targets (first: {}); compute them with \
                 shared/teacher/label_clips.py or remove them from the list",
                missing.len(),
                missing[0]
            )));
        }
        Ok(Self::assemble(root, tracks, clips, Some(targets)))
    }

    /// A corpus without targets: clips on the ARCHITECTURE.md §3 grid from each
    /// track's listed duration (or `durations_s`, measured by the caller,
    /// where the list has none).
    pub fn without_targets(root: &Path, tracks: Vec<CorpusTrack>, durations_s: &[f64]) -> Corpus {
        let mut clips = Vec::new();
        for (t, track) in tracks.iter().enumerate() {
            let d = track.duration_s.or_else(|| durations_s.get(t).copied()).unwrap_or(0.0);
            for start_s in teacher_grid_starts_s(d) {
                clips.push(CorpusClip { track: t, start_s, target_row: None });
            }
        }
        Self::assemble(root, tracks, clips, None)
    }

    /// A corpus with clips chosen by the caller (grouped by track, ascending
    /// start): fine-tuning takes a subset of each library track's stored
    /// clip grid, so its clips mean the same audio as the library's vectors.
    pub fn from_clips(root: &Path, tracks: Vec<CorpusTrack>, clips: Vec<CorpusClip>) -> Corpus {
        Self::assemble(root, tracks, clips, None)
    }

    fn assemble(
        root: &Path,
        tracks: Vec<CorpusTrack>,
        clips: Vec<CorpusClip>,
        targets: Option<TeacherTargets>,
    ) -> Corpus {
        let mut albums: Vec<String> = Vec::new();
        let mut index: HashMap<String, u32> = HashMap::new();
        let album_of_track = tracks
            .iter()
            .map(|t| {
                *index.entry(t.album.clone()).or_insert_with(|| {
                    albums.push(t.album.clone());
                    (albums.len() - 1) as u32
                })
            })
            .collect();
        let mut artists: Vec<String> = Vec::new();
        let mut artist_index: HashMap<String, u32> = HashMap::new();
        let artist_of_track = tracks
            .iter()
            .map(|t| {
                (!is_unknown_artist(&t.artist)).then(|| {
                    *artist_index.entry(t.artist.clone()).or_insert_with(|| {
                        artists.push(t.artist.clone());
                        (artists.len() - 1) as u32
                    })
                })
            })
            .collect();
        Corpus {
            root: root.to_path_buf(),
            tracks,
            clips,
            targets,
            album_of_track,
            albums,
            artist_of_track,
            artists,
        }
    }

    /// Absolute path of track `t`.
    pub fn path_of(&self, track: usize) -> PathBuf {
        self.root.join(&self.tracks[track].rel_path)
    }

    /// Clip indices of each track, in track order (empty for a track with no clips).
    pub fn clips_by_track(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.tracks.len()];
        for (i, c) in self.clips.iter().enumerate() {
            out[c.track].push(i);
        }
        out
    }
}

/// The clip grid as the teacher targets used it (`shared/corpus/README.md`):
/// the ARCHITECTURE.md §3 grid with each start rounded to 3 decimals.
pub fn teacher_grid_starts_s(duration_s: f64) -> Vec<f64> {
    crate::audio::clips::clip_starts_s(duration_s)
        .into_iter()
        .map(|s| (s * 1000.0).round() / 1000.0)
        .collect()
}

/// Which tracks train and which validate.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Track indices used for training.
    pub train: Vec<usize>,
    /// Track indices held out (whole sources).
    pub valid: Vec<usize>,
    /// The held-out sources, sorted.
    pub valid_sources: Vec<String>,
}

/// Holds out whole *sources* (game packages, render families) until at least
/// `valid_fraction` of the tracks are held out.
///
/// Why sources rather than albums: one source can hold several albums of one
/// composer (Freedoom's two WADs), and validating on an album whose sibling
/// was trained on would flatter the model. Sources with more than
/// `max_source_tracks` tracks are never held out, so the validation set is
/// made of several complete albums rather than one huge one; the order is a
/// seeded hash of the source name, so the split is reproducible and does not
/// depend on list order.
pub fn split_by_source(
    tracks: &[CorpusTrack],
    valid_fraction: f64,
    max_source_tracks: usize,
    seed: u64,
) -> Split {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for t in tracks {
        *count.entry(t.source.as_str()).or_default() += 1;
    }
    let mut order: Vec<(&str, usize)> =
        count.iter().filter(|(_, n)| **n <= max_source_tracks).map(|(s, n)| (*s, *n)).collect();
    let key = |s: &str| {
        let mut h = blake3::Hasher::new();
        h.update(&seed.to_le_bytes());
        h.update(s.as_bytes());
        *h.finalize().as_bytes()
    };
    order.sort_by_key(|(s, _)| key(s));
    let want = (valid_fraction * tracks.len() as f64).ceil() as usize;
    let mut held = Vec::new();
    let mut n_held = 0;
    for (s, n) in order {
        if n_held >= want {
            break;
        }
        held.push(s.to_string());
        n_held += n;
    }
    held.sort();
    let (valid, train) = (0..tracks.len()).partition(|&i| held.binary_search(&tracks[i].source).is_ok());
    Split { train, valid, valid_sources: held }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(path: &str, source: &str, album: &str) -> CorpusTrack {
        CorpusTrack {
            rel_path: path.into(),
            source: source.into(),
            album: album.into(),
            artist: "a".into(),
            title: path.into(),
            license: "CC0".into(),
            duration_s: Some(30.0),
            kind: "recording".into(),
        }
    }

    #[test]
    fn track_list_needs_paths_and_albums_and_rejects_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("list.tsv");
        std::fs::write(&p, "rel_path\talbum\na.ogg\tX\nb.ogg\tY\n").unwrap();
        let t = read_track_list(&p).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].album, "Y");
        assert_eq!(t[1].source, "Y", "the album stands in for a missing source");
        assert_eq!(t[0].duration_s, None);
        std::fs::write(&p, "path\talbum\na.ogg\tX\n").unwrap();
        assert!(read_track_list(&p).unwrap_err().to_string().contains("rel_path"));
        std::fs::write(&p, "rel_path\talbum\na.ogg\tX\na.ogg\tY\n").unwrap();
        assert!(read_track_list(&p).unwrap_err().to_string().contains("twice"));
        std::fs::write(&p, "rel_path\talbum\tduration_s\na.ogg\tX\tlong\n").unwrap();
        assert!(read_track_list(&p).unwrap_err().to_string().contains("line 2"));
    }

    #[test]
    fn targets_are_read_and_joined_by_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CLIPS_FILE),
            "clip_id\trel_path\tstart_s\tmsd:rock\tmtt:guitar\n0\ta.ogg\t3.000\t0.5\t0.25\n\
             1\ta.ogg\t9.500\t0.1\t0.0\n2\tb.ogg\t0.000\t1.0\t1.0\n3\tz.ogg\t0.000\t1.0\t1.0\n",
        )
        .unwrap();
        let targets = read_targets(dir.path()).unwrap();
        assert_eq!(targets.tag_names, ["msd:rock", "mtt:guitar"]);
        assert_eq!(targets.probs_of(1), [0.1, 0.0]);
        assert_eq!(targets.penultimate_dim, 0);
        let tracks = vec![track("a.ogg", "s1", "A"), track("b.ogg", "s2", "B")];
        let corpus = Corpus::with_targets(dir.path(), tracks.clone(), targets.clone()).unwrap();
        assert_eq!(corpus.clips.len(), 3, "clips of unlisted tracks are ignored");
        assert_eq!(corpus.clips[1], CorpusClip { track: 0, start_s: 9.5, target_row: Some(1) });
        assert_eq!(corpus.album_of_track, [0, 1]);
        let mut more = tracks;
        more.push(track("c.ogg", "s3", "C"));
        let err = Corpus::with_targets(dir.path(), more, targets).unwrap_err().to_string();
        assert!(err.contains("c.ogg"), "{err}");
    }

    #[test]
    fn targets_reject_misaligned_rows_and_bad_probabilities() {
        let dir = tempfile::tempdir().unwrap();
        let write = |body: &str| {
            std::fs::write(
                dir.path().join(CLIPS_FILE),
                format!("clip_id\trel_path\tstart_s\tmsd:rock\n{body}"),
            )
            .unwrap()
        };
        write("1\ta.ogg\t3.0\t0.5\n");
        assert!(read_targets(dir.path()).unwrap_err().to_string().contains("row index"));
        write("0\ta.ogg\t3.0\t1.5\n");
        assert!(read_targets(dir.path()).unwrap_err().to_string().contains("[0, 1]"));
        write("0\ta.ogg\t3.0\n");
        assert!(read_targets(dir.path()).unwrap_err().to_string().contains("fields"));
    }

    #[test]
    fn penultimate_must_match_the_clip_count() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CLIPS_FILE),
            "clip_id\trel_path\tstart_s\tmsd:rock\n0\ta.ogg\t3.0\t0.5\n",
        )
        .unwrap();
        let write_npy = |rows: u64| {
            let mut buf = Vec::new();
            use npyz::WriterBuilder;
            let mut w = npyz::WriteOptions::<half::f16>::new()
                .default_dtype()
                .shape(&[rows, 2])
                .writer(&mut buf)
                .begin_nd()
                .unwrap();
            for i in 0..rows * 2 {
                w.push(&half::f16::from_f32(i as f32)).unwrap();
            }
            w.finish().unwrap();
            std::fs::write(dir.path().join(PENULTIMATE_FILE), buf).unwrap();
        };
        write_npy(1);
        let t = read_targets(dir.path()).unwrap();
        assert_eq!((t.penultimate_dim, t.penultimate_of(0)), (2, &[0.0, 1.0][..]));
        write_npy(2);
        assert!(read_targets(dir.path()).unwrap_err().to_string().contains("2 rows"));
    }

    #[test]
    fn split_holds_out_whole_small_sources_reproducibly() {
        let mut tracks = Vec::new();
        for s in 0..10 {
            for k in 0..(s + 2) {
                tracks.push(track(&format!("{s}/{k}.ogg"), &format!("src{s}"), &format!("album{s}")));
            }
        }
        tracks.push(track("big/0.ogg", "big", "big"));
        let split = split_by_source(&tracks, 0.2, 8, 7);
        assert_eq!(split, split_by_source(&tracks, 0.2, 8, 7));
        assert!(split.valid.len() * 5 >= tracks.len(), "at least 20 % held out");
        assert_eq!(split.train.len() + split.valid.len(), tracks.len());
        for &v in &split.valid {
            let s = &tracks[v].source;
            assert!(split.train.iter().all(|&t| &tracks[t].source != s), "source {s} is split");
            let n = tracks.iter().filter(|t| &t.source == s).count();
            assert!(n <= 8, "a source with {n} tracks was held out");
        }
        let others: Vec<Vec<String>> =
            (8..16).map(|s| split_by_source(&tracks, 0.2, 8, s).valid_sources).collect();
        assert!(others.iter().any(|o| *o != split.valid_sources), "the seed changes the split");
    }

    #[test]
    fn grid_rounds_like_the_teacher_targets() {
        // 0_8Bit_Bonus_Track.ogg: D = 92.291 → 12 clips, last start = D − 6.
        let starts = teacher_grid_starts_s(92.291);
        assert_eq!(starts.len(), 12);
        assert_eq!(starts[0], 3.0);
        assert_eq!(*starts.last().unwrap(), 86.291);
    }
}
