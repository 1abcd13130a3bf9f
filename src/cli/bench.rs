//! `tuneatlas bench ...`: performance figures printed, never asserted
//! (timed unit tests are flaky; a benchmark shows the number and the machine).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use tuneatlas::jobs::{CancelToken, worker_count};
use tuneatlas::library::{ImportOptions, import_folder};
use tuneatlas::store::Store;

/// Arguments of `tuneatlas bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

/// Which benchmark.
#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// Import throughput (scan + seek-decode + resample + log-mel + SQLite) on
    /// a generated corpus of 3–5 minute files in mixed formats.
    Import(ImportBenchArgs),
}

/// Arguments of `tuneatlas bench import`.
#[derive(Debug, Args)]
pub struct ImportBenchArgs {
    /// Corpus folder; generated there with ffmpeg if it does not exist yet
    /// (default: ~/.cache/tuneatlas/bench-corpus-v1).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Number of files in the generated corpus.
    #[arg(long, default_value_t = 240)]
    pub files: usize,
    /// Decode worker threads (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Also import the corpus decoding every file from the start (no
    /// seeking), and print the speed ratio measured in this same run.
    #[arg(long)]
    pub compare_decode_through: bool,
}

/// Runs the chosen benchmark.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    match &args.what {
        BenchWhat::Import(a) => bench_import(a),
    }
}

/// (extension, ffmpeg codec arguments) of the corpus formats, cycled per file.
const FORMATS: &[(&str, &[&str])] = &[
    ("mp3", &["-c:a", "libmp3lame", "-b:a", "192k"]),
    ("ogg", &["-c:a", "libvorbis", "-q:a", "5"]),
    ("flac", &["-c:a", "flac"]),
    ("m4a", &["-c:a", "aac", "-b:a", "192k"]),
    ("opus", &["-c:a", "libopus", "-b:a", "128k"]),
    ("mp3", &["-c:a", "libmp3lame", "-b:a", "128k", "-ac", "1"]),
    ("ogg", &["-c:a", "libvorbis", "-q:a", "3", "-ar", "48000"]),
    ("wav", &["-c:a", "pcm_s16le"]),
];

fn ffmpeg(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .context(
            "the import benchmark generates its corpus with ffmpeg; install it (apt-get install ffmpeg)",
        )?;
    anyhow::ensure!(status.success(), "ffmpeg failed: ffmpeg {}", args.join(" "));
    Ok(())
}

/// Makes `n_files` distinct files of 3–5 minutes: a few synthesised base
/// tracks per format, then stream copies with distinct tags (distinct bytes,
/// so every copy is a separate track to the importer).
fn generate_corpus(dir: &Path, n_files: usize) -> anyhow::Result<()> {
    let base_dir = dir.join(".base");
    std::fs::create_dir_all(&base_dir).with_context(|| format!("cannot create {}", base_dir.display()))?;
    let n_base = FORMATS.len() * 3;
    let mut bases = Vec::new();
    for i in 0..n_base {
        let (ext, codec) = FORMATS[i % FORMATS.len()];
        let duration_s = 180 + (i * 37) % 120;
        let f0 = 110.0 * (1.0 + (i % 7) as f64 * 0.25);
        let beat_hz = 1.5 + (i % 5) as f64 * 0.4;
        let path = base_dir.join(format!("base{i:02}.{ext}"));
        bases.push(path.clone());
        if path.exists() {
            continue;
        }
        eprintln!("generating {} ({duration_s} s)", path.display());
        let expr = format!(
            "0.25*sin(2*PI*{f0}*t)*(0.5+0.5*sin(2*PI*{beat_hz}*t))+0.15*sin(2*PI*{f1}*t+3*sin(2*PI*0.2*t))\
             +0.05*(random(0)-0.5)|0.25*sin(2*PI*{f2}*t)*(0.5+0.5*cos(2*PI*{beat_hz}*t))+0.05*(random(1)-0.5)",
            f1 = f0 * 3.0,
            f2 = f0 * 1.5
        );
        let src = format!("aevalsrc={expr}:s=44100:d={duration_s}");
        let tmp = base_dir.join(format!("tmp{i:02}.{ext}"));
        let tmp_str = tmp.to_string_lossy().into_owned();
        let mut args = vec!["-f", "lavfi", "-i", src.as_str()];
        args.extend_from_slice(codec);
        args.push(tmp_str.as_str());
        ffmpeg(&args)?;
        std::fs::rename(&tmp, &path)?;
    }
    for j in 0..n_files {
        let base = &bases[j % bases.len()];
        let ext = base.extension().and_then(|e| e.to_str()).unwrap_or("bin");
        let out = dir.join(format!("artist{:02}/album{:02}/{j:04} bench track.{ext}", j % 17, j % 31));
        if out.exists() {
            continue;
        }
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let title = format!("title=Bench track {j}");
        let base_s = base.to_string_lossy().into_owned();
        let out_s = out.to_string_lossy().into_owned();
        ffmpeg(&["-i", &base_s, "-map", "0:a", "-c", "copy", "-metadata", &title, &out_s])?;
    }
    Ok(())
}

/// Peak resident memory of this process in MiB (Linux), for the memory figure.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Figures of one timed import.
struct ImportRun {
    tracks: usize,
    failed: usize,
    n_clips: u32,
    audio_h: f64,
    elapsed_s: f64,
}

impl ImportRun {
    fn tracks_per_min(&self) -> f64 {
        self.tracks as f64 * 60.0 / self.elapsed_s
    }
}

fn timed_import(corpus: &Path, options: &ImportOptions) -> anyhow::Result<ImportRun> {
    let db_dir = tempfile_dir()?;
    let mut store = Store::open(&db_dir.join("bench.db"))?;
    let started = Instant::now();
    let summary = import_folder(&mut store, corpus, options, &CancelToken::new(), |_| {})?;
    let elapsed_s = started.elapsed().as_secs_f64();
    let rows = store.tracks(false)?;
    for (path, reason) in summary.failures.iter().take(5) {
        println!("  failed: {reason}: {}", path.display());
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&db_dir);
    Ok(ImportRun {
        tracks: summary.counts.new + summary.counts.updated,
        failed: summary.counts.failed,
        n_clips: rows.iter().map(|r| r.n_clips).sum(),
        audio_h: rows.iter().map(|r| r.duration_s).sum::<f64>() / 3600.0,
        elapsed_s,
    })
}

fn bench_import(args: &ImportBenchArgs) -> anyhow::Result<()> {
    let corpus = match &args.corpus {
        Some(p) => p.clone(),
        None => directories::BaseDirs::new()
            .context("no home folder; pass --corpus")?
            .cache_dir()
            .join("tuneatlas/bench-corpus-v1"),
    };
    generate_corpus(&corpus, args.files)?;
    let mut options = ImportOptions::default();
    if let Some(n) = args.jobs {
        options.n_workers = n.max(1);
    }
    let rss_before = peak_rss_mib();
    let seek = timed_import(&corpus, &options)?;
    let rss_after = peak_rss_mib();
    println!("bench import: corpus {}", corpus.display());
    println!(
        "  machine: {} cores (workers: {}), {} build",
        worker_count(),
        options.n_workers,
        build_profile()
    );
    println!(
        "  {} tracks ({:.1} h of audio, {} clips), {} failed, in {:.1} s",
        seek.tracks, seek.audio_h, seek.n_clips, seek.failed, seek.elapsed_s
    );
    println!(
        "  throughput (seek to clip windows): {:.0} tracks/min, {:.0} clips/s",
        seek.tracks_per_min(),
        f64::from(seek.n_clips) / seek.elapsed_s
    );
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!("  peak memory (RSS high-water mark): {after:.0} MiB (before import: {before:.0} MiB)");
    }
    if args.compare_decode_through {
        let through = timed_import(&corpus, &ImportOptions { decode_through: true, ..options.clone() })?;
        println!(
            "  throughput (decode whole files):   {:.0} tracks/min -> seeking is {:.2}x faster",
            through.tracks_per_min(),
            through.elapsed_s / seek.elapsed_s
        );
    }
    Ok(())
}

fn build_profile() -> &'static str {
    if cfg!(debug_assertions) { "debug" } else { "release" }
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("tuneatlas-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
