//! Upgrading a library written with one row per tag score (schema 5) to one
//! BLOB per track and model version: every score comes back bit for bit,
//! a tag a track had no score for still has none, vectors are untouched,
//! and the upgraded library keeps growing its vocabulary without
//! disturbing what was converted.

use std::collections::BTreeMap;

use rusqlite::params;
use tuneatlas::store::{Embedding, SCHEMA_VERSION, Store, TagScore, vector_to_blob};

/// The two model versions of the old library, each with its own tags
/// (including a category outside the four, which sorts last).
const VERSIONS: [(&str, &[(&str, &str)]); 2] = [
    (
        "old-a",
        &[
            ("mood", "calm"),
            ("genre", "rock"),
            ("genre", "jazz"),
            ("theme", "night"),
            ("style", "lo-fi"),
            ("instrument", "harp"),
        ],
    ),
    ("old-b", &[("genre", "ambient"), ("mood", "dark")]),
];

/// A score as the old writer stored it: f32, widened to REAL.
fn score_of(track: i64, version: usize, tag: usize) -> f32 {
    let x = (track * 31 + version as i64 * 7 + tag as i64 * 3) % 17;
    match x {
        0 => 0.0,
        1 => f32::MIN_POSITIVE,
        2 => 1.0,
        _ => x as f32 / 17.3,
    }
}

/// Which tags a track has a row for: every third combination is missing,
/// so tracks lack tags others have.
fn has_row(track: i64, version: usize, tag: usize) -> bool {
    (track + version as i64 + tag as i64) % 3 != 0
}

fn vector(track: i64, dim: usize) -> Vec<f32> {
    (0..dim).map(|i| ((track as f32 + 1.0) * (i as f32 + 0.5)).sin()).collect()
}

/// Sorted like `Store::track_tags`: category order, strongest first, then tag.
fn sorted(mut tags: Vec<TagScore>) -> Vec<TagScore> {
    let rank = |c: &str| ["genre", "style", "mood", "theme"].iter().position(|x| *x == c).unwrap_or(4);
    tags.sort_by(|a, b| {
        (rank(&a.category), &a.category)
            .cmp(&(rank(&b.category), &b.category))
            .then(b.score.total_cmp(&a.score))
            .then_with(|| a.tag.cmp(&b.tag))
    });
    tags
}

fn bits(tags: &[TagScore]) -> Vec<(String, String, u32)> {
    tags.iter().map(|t| (t.category.clone(), t.tag.clone(), t.score.to_bits())).collect()
}

#[test]
fn a_library_with_one_row_per_tag_upgrades_to_identical_scores() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    let tracks: Vec<i64> = (1..=7).collect();
    // (track, version) → the scores the old library holds.
    let mut expected: BTreeMap<(i64, &str), Vec<TagScore>> = BTreeMap::new();
    {
        let old = Store::open_at_version(&db, 5).unwrap();
        assert_eq!(old.schema_version().unwrap(), 5);
        let c = old.connection();
        for (version, _) in VERSIONS {
            c.execute(
                "INSERT INTO models (version, name, parent, created_at, config_json) VALUES (?1, ?1, NULL, 0, '{}')",
                params![version],
            )
            .unwrap();
        }
        for &t in &tracks {
            // Track 7's file went missing: its data stays, the matrix leaves it out.
            let status = if t == 7 { "missing" } else { "ok" };
            c.execute(
                "INSERT INTO tracks (id, path, size_bytes, mtime_ns, fingerprint, title, duration_s, container,
                     codec, sample_rate_hz, channels, status, added_at, updated_at)
                 VALUES (?1, ?2, 1000, 0, ?3, ?4, 30.0, 'ogg', 'vorbis', 44100, 2, ?5, 0, 0)",
                params![t, format!("/music/{t}.ogg").into_bytes(), vec![t as u8; 8], format!("Track {t}"), status],
            )
            .unwrap();
            c.execute(
                "INSERT INTO clips (track_id, clip_index, start_s, rms_db) VALUES (?1, 0, 3.0, -20.0)",
                [t],
            )
            .unwrap();
            for (vi, (version, tags)) in VERSIONS.iter().enumerate() {
                // Track 6 was never embedded with old-b.
                if t == 6 && vi == 1 {
                    continue;
                }
                c.execute(
                    "INSERT INTO track_vectors (track_id, model_version, vector) VALUES (?1, ?2, ?3)",
                    params![t, version, vector_to_blob(&vector(t, 256))],
                )
                .unwrap();
                c.execute(
                    "INSERT INTO clip_vectors (track_id, clip_index, model_version, vector) VALUES (?1, 0, ?2, ?3)",
                    params![t, version, vector_to_blob(&vector(t + 100, 256))],
                )
                .unwrap();
                let mut scores = Vec::new();
                for (ti, (category, tag)) in tags.iter().enumerate() {
                    if !has_row(t, vi, ti) {
                        continue;
                    }
                    let score = score_of(t, vi, ti);
                    c.execute(
                        "INSERT INTO track_tags (track_id, model_version, category, tag, score) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![t, version, category, tag, f64::from(score)],
                    )
                    .unwrap();
                    scores.push(TagScore { category: (*category).into(), tag: (*tag).into(), score });
                }
                if !scores.is_empty() {
                    expected.insert((t, version), sorted(scores));
                }
            }
        }
        let rows: i64 = c.query_row("SELECT COUNT(*) FROM track_tags", [], |r| r.get(0)).unwrap();
        assert_eq!(rows as usize, expected.values().map(Vec::len).sum::<usize>());
    }

    let mut store = Store::open(&db).expect("the old library upgrades");
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert!(store.integrity_ok().unwrap());
    let old_table: i64 = store
        .connection()
        .query_row("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'track_tags'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(old_table, 0, "the per-tag table is gone");
    let blobs: i64 =
        store.connection().query_row("SELECT COUNT(*) FROM tag_scores", [], |r| r.get(0)).unwrap();
    assert_eq!(blobs as usize, expected.len(), "one row per track and model version");

    // Every score, bit for bit; tracks without scores have none.
    for &t in &tracks {
        for (version, _) in VERSIONS {
            let got = store.track_tags(t, version).unwrap();
            let want = expected.get(&(t, version)).cloned().unwrap_or_default();
            assert_eq!(bits(&got), bits(&want), "track {t}, {version}");
        }
    }
    // The matrix: present tracks only, a 0 where a track has no score,
    // columns in genre, style, mood, theme order, then other categories.
    let m = store.tag_matrix("old-a").unwrap();
    let columns: Vec<(&str, &str)> = m.tags.iter().map(|(c, t)| (c.as_str(), t.as_str())).collect();
    assert_eq!(
        columns,
        [
            ("genre", "jazz"),
            ("genre", "rock"),
            ("style", "lo-fi"),
            ("mood", "calm"),
            ("theme", "night"),
            ("instrument", "harp")
        ]
    );
    assert_eq!(m.track_ids, (1..=6).collect::<Vec<i64>>());
    for &t in &m.track_ids {
        let row = m.row(t).unwrap();
        for ((category, tag), got) in m.tags.iter().zip(row) {
            let want = expected[&(t, "old-a")]
                .iter()
                .find(|s| &s.category == category && &s.tag == tag)
                .map_or(0.0, |s| s.score);
            assert_eq!(got.to_bits(), want.to_bits(), "track {t}, {category}:{tag}");
        }
    }
    // Vectors are carried over unchanged.
    for &t in &tracks {
        assert_eq!(store.track_vector(t, "old-a").unwrap(), Some(vector(t, 256)));
        assert_eq!(store.clip_vectors(t, "old-a").unwrap(), vec![vector(t + 100, 256)]);
    }
    assert_eq!(store.track_vector(6, "old-b").unwrap(), None);

    // The upgraded library goes on: a new tag joins old-a's vocabulary and
    // the converted scores of other tracks read as before.
    let new_tags = vec![
        TagScore { category: "mood".into(), tag: "bright".into(), score: 0.5 },
        TagScore { category: "genre".into(), tag: "rock".into(), score: 0.25 },
    ];
    let embedding =
        Embedding { clip_vectors: vec![vector(1, 256)], track_vector: vector(1, 256), tags: new_tags };
    store.write_embeddings("old-a", &[(1, embedding.clone())]).unwrap();
    assert_eq!(bits(&store.track_tags(1, "old-a").unwrap()), bits(&sorted(embedding.tags)));
    for t in 2..=7 {
        assert_eq!(bits(&store.track_tags(t, "old-a").unwrap()), bits(&expected[&(t, "old-a")]), "track {t}");
    }
    let m = store.tag_matrix("old-a").unwrap();
    assert!(m.tags.contains(&("mood".into(), "bright".into())));
    assert_eq!(m.row(2).unwrap().len(), m.tags.len());
}
