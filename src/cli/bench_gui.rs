//! `tuneatlas bench map` and `tuneatlas bench startup --window`: the desktop
//! app's performance figures — the map's point renderer alone (offscreen, on
//! whatever wgpu adapter exists: lavapipe in CI), and a cold start of the
//! real window on a large synthetic library. Printed, never asserted.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

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
    let pick_still = |q: f64| f.still_frame_ms[((f.still_frame_ms.len() - 1) as f64 * q).round() as usize];
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
        "frame while panning (uniform + draw + GPU wait): median {:.2} ms, p95 {:.2} ms, min {:.2} ms (goal ≤ 16 ms)",
        pick(0.5),
        pick(0.95),
        pick(0.0)
    );
    println!(
        "frame of a still view (hover): median {:.2} ms, p95 {:.2} ms, min {:.2} ms",
        pick_still(0.5),
        pick_still(0.95),
        pick_still(0.0)
    );
    Ok(())
}

/// Cold-starts the window `runs` times on synthetic libraries of each of
/// `sizes` tracks (built once and cached) and prints the timings the window
/// reports (`--startup-report`).
pub fn bench_window_startup(sizes: &[usize], runs: usize, profile: &str) -> anyhow::Result<()> {
    let dirs = directories::ProjectDirs::from("org", "tuneatlas", "tuneatlas").context("no home folder")?;
    for &n in sizes {
        let db = dirs.cache_dir().join(format!("bench-startup-{n}.db"));
        if !db.exists() {
            let t0 = Instant::now();
            eprintln!("building a synthetic library of {n} tracks at {} (once)…", db.display());
            super::bench_startup::build_synthetic_library(&db, n)?;
            eprintln!("built in {:.1} s", t0.elapsed().as_secs_f64());
        }
        cold_starts(&db, n, runs, profile)?;
    }
    println!(
        "(first frame: window drawn; library: table filled and usable; tags and vectors: genre/mood \
         columns and similar tracks there; map: points on screen)"
    );
    Ok(())
}

fn cold_starts(db: &Path, n: usize, runs: usize, profile: &str) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the tuneatlas executable")?;
    let display =
        ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    println!("cold start of the window, {profile} build, {n} tracks (cached map layout):");
    for run in 1..=runs {
        let mut cmd = if display {
            Command::new(&exe)
        } else {
            let mut c = Command::new("xvfb-run");
            c.args(["-a", "-s", "-screen 0 1400x900x24"]).arg(&exe);
            c
        };
        cmd.arg("--db").arg(db).arg("--no-audio").arg("--startup-report");
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
    Ok(())
}
