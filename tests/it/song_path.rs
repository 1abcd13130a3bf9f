//! Song paths and radio on synthetic vectors stored in a real SQLite
//! library: tracks laid along an arc must be visited in order from A to B,
//! radio must never repeat and must start at the seed's nearest neighbour,
//! and both must say (or show) why when a track has no vector.

use std::collections::HashSet;
use std::path::Path;

use tuneatlas::audio::decode::TrackTags;
use tuneatlas::index::{VectorIndex, radio, random_unit_vectors, song_path};
use tuneatlas::store::{Embedding, ModelRow, Store, TrackRecord, WriteOp};

const MODEL: &str = "path-model-1";
const DIM: usize = 8;

/// Stores one track per vector (`None`: a track without a vector) and
/// returns the index of the stored vectors and the track ids in input order.
fn library(dir: &Path, vectors: &[Option<Vec<f32>>]) -> (VectorIndex, Vec<i64>) {
    let mut store = Store::open(&dir.join("lib.db")).expect("open");
    let run = store.begin_run(dir).expect("run");
    let ops: Vec<WriteOp> = (0..vectors.len())
        .map(|i| {
            WriteOp::Upsert(Box::new(TrackRecord {
                path: dir.join(format!("{i:04}.ogg")),
                size_bytes: 1,
                mtime_ns: 0,
                fingerprint: i.to_le_bytes().to_vec(),
                tags: TrackTags { title: Some(format!("t{i}")), ..TrackTags::default() },
                names_from_path: false,
                duration_s: 60.0,
                container: "ogg".into(),
                codec: "vorbis".into(),
                sample_rate_hz: 44_100,
                channels: 2,
                clips: vec![],
                model_output: None,
            }))
        })
        .collect();
    store.write_batch(run, &ops).expect("write");
    store
        .register_model(&ModelRow {
            version: MODEL.into(),
            name: "t".into(),
            parent: None,
            config_json: "{}".into(),
        })
        .expect("register");
    let rows = store.tracks(true).expect("tracks");
    let ids: Vec<i64> = (0..vectors.len())
        .map(|i| rows.iter().find(|r| r.title == format!("t{i}")).expect("track").id)
        .collect();
    let items: Vec<(i64, Embedding)> = vectors
        .iter()
        .zip(&ids)
        .filter_map(|(v, &id)| {
            Some((id, Embedding { clip_vectors: vec![], track_vector: v.clone()?, tags: vec![] }))
        })
        .collect();
    store.write_embeddings(MODEL, &items).expect("embeddings");
    (VectorIndex::from_pairs(store.track_vectors(MODEL).expect("vectors")).expect("index"), ids)
}

/// A unit vector at `deg` degrees in the plane of the first two axes, with
/// a small off-plane `wobble` so the arc is not perfectly flat.
fn on_arc(deg: f64, wobble: f32) -> Vec<f32> {
    let (s, c) = deg.to_radians().sin_cos();
    let mut v = vec![0.0f32; DIM];
    v[0] = c as f32;
    v[1] = s as f32;
    v[2 + (deg as usize / 3) % (DIM - 2)] = wobble;
    v
}

/// 31 tracks every 3° from 0° to 90° (index i ↔ 3i°), then 10 distractors
/// far off the arc's plane.
fn arc_library(dir: &Path, wobble: f32) -> (VectorIndex, Vec<i64>) {
    let mut vectors: Vec<Option<Vec<f32>>> = (0..=30).map(|i| Some(on_arc(3.0 * i as f64, wobble))).collect();
    for (k, r) in random_unit_vectors(10, DIM - 2, 7).into_iter().enumerate() {
        let mut v = vec![0.0f32; DIM];
        v[0] = 0.2 * (k % 2) as f32;
        v[2..].copy_from_slice(&r);
        vectors.push(Some(v));
    }
    library(dir, &vectors)
}

fn assert_no_repeats(ids: &[i64]) {
    let unique: HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "repeats in {ids:?}");
}

/// Degrees of each arc track in `path` (panics on a distractor).
fn degrees(path: &[i64], ids: &[i64]) -> Vec<usize> {
    path.iter().map(|id| 3 * ids[..31].iter().position(|x| x == id).expect("an arc track")).collect()
}

#[test]
fn song_path_follows_the_arc_from_a_to_b() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (index, ids) = arc_library(dir.path(), 0.0);
    let (a, b) = (ids[0], ids[30]);
    // 7 points every 15°: exactly the tracks lying there.
    let path = song_path(&index, a, b, 7, |_| false).expect("path");
    assert_eq!(degrees(&path, &ids), [0, 15, 30, 45, 60, 75, 90]);
    // Backwards too.
    let back = song_path(&index, b, a, 7, |_| false).expect("path");
    assert_eq!(degrees(&back, &ids), [90, 75, 60, 45, 30, 15, 0]);
    // More points than tracks in between: every track at most once, never
    // stepping back, A first and B last.
    let dense = song_path(&index, a, b, 45, |_| false).expect("path");
    assert_no_repeats(&dense);
    let deg = degrees(&dense, &ids);
    assert!(deg.windows(2).all(|w| w[0] < w[1]), "not monotonic: {deg:?}");
    assert_eq!((deg[0], deg[deg.len() - 1]), (0, 90));
    assert!(dense.len() <= 31 && dense.len() >= 25, "{deg:?}");
    // Excluded tracks are stepped around.
    let excluded: HashSet<i64> = [ids[5], ids[10]].into();
    let around = song_path(&index, a, b, 7, |id| excluded.contains(&id)).expect("path");
    let deg = degrees(&around, &ids);
    assert!(!deg.contains(&15) && !deg.contains(&30), "{deg:?}");
    assert!(deg.windows(2).all(|w| w[0] < w[1]), "{deg:?}");
    assert_eq!(deg.len(), 7);
    // Two steps: just the ends.
    assert_eq!(song_path(&index, a, b, 2, |_| false).expect("path"), [a, b]);
}

#[test]
fn song_path_stays_monotonic_on_a_wobbly_arc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (index, ids) = arc_library(dir.path(), 0.15);
    for steps in [5, 12, 31, 60] {
        let path = song_path(&index, ids[0], ids[30], steps, |_| false).expect("path");
        assert_no_repeats(&path);
        assert!(path.len() <= steps);
        let deg = degrees(&path, &ids);
        assert!(deg.windows(2).all(|w| w[0] < w[1]), "steps {steps}: {deg:?}");
        assert_eq!((deg[0], deg[deg.len() - 1]), (0, 90));
    }
}

#[test]
fn song_path_errors_name_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vectors: Vec<Option<Vec<f32>>> = random_unit_vectors(20, DIM, 3).into_iter().map(Some).collect();
    vectors.push(None); // no vector
    vectors.push(Some(vec![0.0; DIM])); // zero vector
    let mut opposite = vectors[0].clone().expect("vector");
    opposite.iter_mut().for_each(|x| *x = -*x);
    vectors.push(Some(opposite));
    let (index, ids) = library(dir.path(), &vectors);
    let err = song_path(&index, ids[0], ids[20], 5, |_| false).expect_err("no vector").to_string();
    assert!(err.contains(&format!("to track {}", ids[20])) && err.contains("no vector"), "{err}");
    let err = song_path(&index, ids[21], ids[0], 5, |_| false).expect_err("zero").to_string();
    assert!(err.contains(&format!("from track {}", ids[21])) && err.contains("zero"), "{err}");
    assert!(song_path(&index, ids[0], ids[0], 5, |_| false).is_err());
    assert!(song_path(&index, ids[0], ids[1], 1, |_| false).is_err());
    // Opposite ends still give a path (through some orthogonal direction).
    let path = song_path(&index, ids[0], ids[22], 8, |_| false).expect("antipodal path");
    assert_no_repeats(&path);
    assert_eq!((path[0], path[path.len() - 1]), (ids[0], ids[22]));
}

#[test]
fn radio_starts_near_the_seed_and_never_repeats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vectors: Vec<Option<Vec<f32>>> =
        random_unit_vectors(300, DIM, 11).into_iter().map(Some).collect();
    vectors.push(None);
    let (index, ids) = library(dir.path(), &vectors);
    let seed = ids[0];
    let station = radio(&index, seed, 60, |_| false);
    assert_eq!(station.len(), 60);
    assert_no_repeats(&station);
    assert!(!station.contains(&seed));
    let nearest = index.top_k_by_id(seed, 10, |_| true).expect("seed has a vector");
    assert_eq!(station[0], nearest[0].track_id, "first comes the seed's nearest neighbour");
    // The first tracks are close to the seed; the station drifts only slowly.
    let cos = |id: i64| -> f32 {
        let (s, v) = (index.vector(seed).expect("seed"), index.vector(id).expect("track"));
        s.iter().zip(v).map(|(a, b)| a * b).sum()
    };
    let mean = |ids: &[i64]| ids.iter().map(|&id| cos(id)).sum::<f32>() / ids.len() as f32;
    let everyone: Vec<i64> = index.ids().iter().copied().filter(|&id| id != seed).collect();
    assert!(mean(&station[..10]) > mean(&everyone) + 0.3, "{} vs {}", mean(&station[..10]), mean(&everyone));
    assert!(mean(&station[..10]) >= mean(&station[50..]), "drifts away, not towards the seed");

    // Exclusions are honoured, and the station ends when tracks run out.
    let banned: HashSet<i64> = station[..5].iter().copied().collect();
    let other = radio(&index, seed, 1000, |id| banned.contains(&id));
    assert_eq!(other.len(), 300 - 1 - 5);
    assert_no_repeats(&other);
    assert!(other.iter().all(|id| !banned.contains(id)));
    // A seed without a vector has no station.
    assert!(radio(&index, ids[300], 10, |_| false).is_empty());
}

#[test]
fn radio_drifts_along_an_arc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (index, ids) = arc_library(dir.path(), 0.0);
    // From 0°, each next track is the next one along the arc.
    let station = radio(&index, ids[0], 12, |_| false);
    assert_eq!(degrees(&station, &ids), (1..=12).map(|i| 3 * i).collect::<Vec<_>>());
}
