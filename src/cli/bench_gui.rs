//! `tuneatlas bench map` and `tuneatlas bench startup`: the desktop app's
//! performance figures — the map's point renderer alone (offscreen, on
//! whatever wgpu adapter exists: lavapipe in CI), and a cold start of the
//! real window on a large synthetic library. Printed, never asserted.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use tuneatlas::audio::decode::TrackTags;
use tuneatlas::map::{LayoutParams, MapCoord};
use tuneatlas::store::{
    Embedding, ModelOutput, ModelRow, Store, StoredLayout, TagScore, TrackRecord, WriteOp,
};

/// `bench map`.
#[derive(Debug, Args)]
pub struct MapBenchArgs {
    /// Points to draw.
    #[arg(long, default_value_t = 100_000)]
    pub points: usize,
    /// Frames to time.
    #[arg(long, default_value_t = 60)]
    pub frames: usize,
    /// Point radius in pixels (the map's default is 3): the cost per point
    /// versus per covered pixel.
    #[arg(long, default_value_t = 3.0)]
    pub radius_px: f32,
    /// How to draw: auto (what the window picks for this adapter), quads or splat.
    #[arg(long, default_value = "auto", value_parser = ["auto", "quads", "splat"])]
    pub renderer: String,
}

/// `bench startup`.
#[derive(Debug, Args)]
pub struct StartupBenchArgs {
    /// Tracks in the synthetic library.
    #[arg(long, default_value_t = 50_000)]
    pub tracks: usize,
    /// Cold starts to time.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

/// Times the map's draw call with `args.points` points.
pub fn bench_map(args: &MapBenchArgs, profile: &str) -> anyhow::Result<()> {
    use tuneatlas::app::RendererKind;
    let kind = match args.renderer.as_str() {
        "quads" => Some(RendererKind::Quads),
        "splat" => Some(RendererKind::Splat),
        _ => None,
    };
    let frames = args.frames.max(1);
    let f = tuneatlas::app::bench_map_draw(args.points, frames, [1280, 800], args.radius_px, kind)
        .map_err(anyhow::Error::msg)?;
    let pick = |q: f64| f.frame_ms[((f.frame_ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "map point renderer, {profile} build: {} points of radius {} px, {}×{} px, {} frames",
        f.n_points,
        args.radius_px,
        f.size_px[0],
        f.size_px[1],
        f.frame_ms.len()
    );
    let draws = if f.kind.splats(u32::try_from(f.n_points).unwrap_or(u32::MAX)) { "splat" } else { "quads" };
    println!("adapter: {}; renderer: {:?} (draws {draws})", f.adapter, f.kind);
    println!("first frame (with the upload of the points): {:.1} ms", f.first_frame_ms);
    println!(
        "frame (uniform + draw + GPU wait): median {:.2} ms, p95 {:.2} ms, min {:.2} ms (goal ≤ 16 ms)",
        pick(0.5),
        pick(0.95),
        pick(0.0)
    );
    Ok(())
}

/// Cold-starts the window `args.runs` times on a synthetic library of
/// `args.tracks` tracks (built once and cached) and prints the timings the
/// window reports (`--startup-report`).
pub fn bench_startup(args: &StartupBenchArgs, profile: &str) -> anyhow::Result<()> {
    let dirs = directories::ProjectDirs::from("org", "tuneatlas", "tuneatlas").context("no home folder")?;
    let db = dirs.cache_dir().join(format!("bench-startup-{}.db", args.tracks));
    if !db.exists() {
        let t0 = Instant::now();
        eprintln!("building a synthetic library of {} tracks at {} (once)…", args.tracks, db.display());
        build_synthetic_library(&db, args.tracks)?;
        eprintln!("built in {:.1} s", t0.elapsed().as_secs_f64());
    }
    let exe = std::env::current_exe().context("cannot find the tuneatlas executable")?;
    let display =
        ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    println!("cold start of the window, {profile} build, {} tracks (cached map layout):", args.tracks);
    for run in 1..=args.runs {
        let mut cmd = if display {
            Command::new(&exe)
        } else {
            let mut c = Command::new("xvfb-run");
            c.args(["-a", "-s", "-screen 0 1400x900x24"]).arg(&exe);
            c
        };
        cmd.arg("--db").arg(&db).arg("--no-audio").arg("--startup-report");
        let out = cmd.output().context("cannot start the window (no display: install xvfb for xvfb-run)")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report = stdout.lines().find(|l| l.starts_with("startup:"));
        match report {
            Some(line) if out.status.success() => {
                println!("  run {run}: {}", line.trim_start_matches("startup:").trim())
            }
            _ => anyhow::bail!(
                "the window did not report its start-up: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    println!(
        "(first frame: window drawn; library: table filled and usable; tags and vectors: genre/mood \
         columns and similar tracks there; map: points on screen)"
    );
    Ok(())
}

/// A library of `n` tracks with vectors (random unit, clustered), 74 tag
/// scores each and a map layout, written straight through the store — the
/// shape of a real 50k library without decoding 50k files.
fn build_synthetic_library(db: &Path, n: usize) -> anyhow::Result<()> {
    let tmp: PathBuf = db.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    if let Some(dir) = tmp.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut store = Store::open(&tmp)?;
    let version = "bench-synthetic-1";
    store.register_model(&ModelRow {
        version: version.into(),
        name: "bench-synthetic".into(),
        parent: None,
        config_json: "{}".into(),
    })?;
    let vocabulary = tuneatlas::model::record::ModelBundle::embedded()?.card.vocabulary;
    let tag_names: Vec<(String, String)> = [
        ("genre", &vocabulary.genre),
        ("style", &vocabulary.style),
        ("mood", &vocabulary.mood),
        ("theme", &vocabulary.theme),
    ]
    .into_iter()
    .flat_map(|(c, tags)| tags.iter().map(move |t| (c.to_owned(), t.clone())))
    .collect();
    let vectors = tuneatlas::index::random_unit_vectors(n, 256, 7);
    let mut coords = Vec::with_capacity(n);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    for chunk_start in (0..n).step_by(2_000) {
        let ops: Vec<WriteOp> = (chunk_start..(chunk_start + 2_000).min(n))
            .map(|i| {
                let tags = tag_names
                    .iter()
                    .map(|(c, t)| TagScore { category: c.clone(), tag: t.clone(), score: next() })
                    .collect();
                WriteOp::Upsert(Box::new(TrackRecord {
                    path: PathBuf::from(format!(
                        "/synthetic/artist {}/album {}/track {i:06}.ogg",
                        i % 3000,
                        i % 9000
                    )),
                    size_bytes: 4_000_000,
                    mtime_ns: 0,
                    fingerprint: (i as u64).to_le_bytes().to_vec(),
                    tags: TrackTags {
                        title: Some(format!("Track {i:06}")),
                        artist: Some(format!("Artist {}", i % 3000)),
                        album: Some(format!("Album {}", i % 9000)),
                        ..TrackTags::default()
                    },
                    names_from_path: false,
                    duration_s: 180.0 + (i % 120) as f64,
                    container: "ogg".into(),
                    codec: "vorbis".into(),
                    sample_rate_hz: 44_100,
                    channels: 2,
                    clips: vec![],
                    model_output: Some(ModelOutput {
                        model_version: version.into(),
                        embedding: Embedding { clip_vectors: vec![], track_vector: vectors[i].clone(), tags },
                    }),
                }))
            })
            .collect();
        let run = store.begin_run(Path::new("/synthetic"))?;
        store.write_batch(run, &ops)?;
    }
    for (id, _) in store.track_vectors(version)? {
        coords.push(MapCoord { track_id: id, x: next() * 2.0 - 1.0, y: next() * 2.0 - 1.0, placed: false });
    }
    store.save_layout(&StoredLayout {
        model_version: version.into(),
        params_json: serde_json::to_string(&LayoutParams::default())?,
        computed_at_unix_s: 0,
        n_tracks: coords.len(),
        compute_s: 0.0,
        coords,
    })?;
    drop(store);
    std::fs::rename(&tmp, db)?;
    Ok(())
}
