//! `tuneatlas bench ...`: performance figures printed, never asserted
//! (timed unit tests are flaky; a benchmark shows the number and the machine).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use tuneatlas::jobs::{CancelToken, worker_count};
use tuneatlas::library::{ImportEvent, ImportOptions, import_folder_with};
use tuneatlas::model::backend::DeviceChoice;
use tuneatlas::model::infer::Embedder;
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
    /// DPNN inference throughput (clips/s) per backend and batch size, and peak memory.
    Model(ModelBenchArgs),
    /// Exact cosine k-nearest-neighbour query latency on random unit vectors.
    Knn(KnnBenchArgs),
    /// Peak memory and time of importing generated hostile inputs (lying
    /// headers, NaN audio, giant tags, noise) beside good files.
    Hostile(super::bench_hostile::HostileBenchArgs),
    /// Fine-tuning throughput (triplets/s, tracks/s) on a generated tagged library.
    Finetune(super::bench_finetune::FinetuneBenchArgs),
    /// Library-map layout time (PCA and t-SNE separately) and map quality on
    /// clustered synthetic vectors.
    Tsne(super::bench_tsne::TsneBenchArgs),
    /// The map's point renderer alone: milliseconds per frame with N points
    /// (offscreen, on the wgpu adapter there is: lavapipe without a GPU).
    #[cfg(feature = "gui")]
    Map(super::bench_gui::MapBenchArgs),
    /// Time to the table and to the map on synthetic libraries of 10k–100k
    /// tracks, through the window's own load calls (`--window`: cold starts
    /// of the real window).
    Startup(super::bench_startup::StartupBenchArgs),
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
    /// Skip the second import that also runs the built-in DPNN (vectors + tags).
    #[arg(long)]
    pub no_model: bool,
    /// Where the model runs in the import with the model.
    #[arg(long, default_value = "auto", value_name = "auto|gpu|cpu")]
    pub device: DeviceChoice,
    /// The archive case instead: this many distinct 1-second WAV files (generated here, without
    /// ffmpeg, in ~/.cache/tuneatlas/bench-short-v1 unless --corpus names a folder), with the
    /// resident memory sampled ten times along the import, to show it stays flat.
    #[arg(long, value_name = "N", conflicts_with = "files")]
    pub short_files: Option<usize>,
}

/// Runs the chosen benchmark.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    match &args.what {
        BenchWhat::Import(a) => bench_import(a),
        BenchWhat::Model(a) => bench_model(a),
        BenchWhat::Knn(a) => bench_knn(a),
        BenchWhat::Tsne(a) => super::bench_tsne::bench_tsne(a, build_profile()),
        BenchWhat::Hostile(a) => super::bench_hostile::bench_hostile(a, build_profile()),
        BenchWhat::Finetune(a) => super::bench_finetune::bench_finetune(a, build_profile()),
        #[cfg(feature = "gui")]
        BenchWhat::Map(a) => super::bench_gui::bench_map(a, build_profile()),
        BenchWhat::Startup(a) => super::bench_startup::bench_startup(a, build_profile()),
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
    status_mib("VmHWM:")
}

/// Resident memory of this process now, in MiB (Linux).
fn rss_mib() -> Option<f64> {
    status_mib("VmRSS:")
}

/// A `/proc/self/status` figure given in kB, in MiB.
fn status_mib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Makes `n_files` distinct 1-second mono WAV files (8 kHz, 16 bit: 16 KB
/// each), 1,000 per folder: the shape of a large archive of short items
/// (samples, jingles, field recordings), where per-file bookkeeping and not
/// decoding decides memory and speed. Each file has its own tone and noise,
/// so every one is a separate track to the importer.
fn generate_short_files(dir: &Path, n_files: usize) -> anyhow::Result<()> {
    const RATE_HZ: u32 = 8_000;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE_HZ,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut made = 0usize;
    for j in 0..n_files {
        let path = dir.join(format!("{:03}", j / 1000)).join(format!("short {j:06}.wav"));
        if path.exists() {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let freq_hz = 80.0 + (j % 1_999) as f64 * 1.7;
        let mut noise = (j as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let tmp = path.with_extension("wav.part");
        let mut writer = hound::WavWriter::create(&tmp, spec)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        for i in 0..RATE_HZ {
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            let t = f64::from(i) / f64::from(RATE_HZ);
            let tone = (std::f64::consts::TAU * freq_hz * t).sin() * 8_000.0;
            let hiss = ((noise >> 52) as f64 - 2_048.0) * 0.5;
            writer.write_sample((tone + hiss) as i16)?;
        }
        writer.finalize()?;
        std::fs::rename(&tmp, &path)?;
        made += 1;
        if made.is_multiple_of(10_000) {
            eprintln!("generated {made} short files");
        }
    }
    Ok(())
}

/// Figures of one timed import.
struct ImportRun {
    tracks: usize,
    failed: usize,
    n_clips: u32,
    audio_h: f64,
    elapsed_s: f64,
    /// (files settled, resident MiB) sampled along the import.
    rss_samples: Vec<(usize, f64)>,
}

impl ImportRun {
    fn tracks_per_min(&self) -> f64 {
        self.tracks as f64 * 60.0 / self.elapsed_s
    }
}

/// Imports `corpus` into a fresh library; with `rss_every`, samples the
/// resident memory each time that many more files are settled.
fn timed_import(
    corpus: &Path,
    options: &ImportOptions,
    embedder: Option<&mut Embedder>,
    rss_every: Option<usize>,
) -> anyhow::Result<ImportRun> {
    let db_dir = tempfile_dir()?;
    let mut store = Store::open(&db_dir.join("bench.db"))?;
    let mut settled = 0usize;
    let mut rss_samples = Vec::new();
    let on_event = |e: &ImportEvent| {
        if let (ImportEvent::Done { .. }, Some(every)) = (e, rss_every) {
            settled += 1;
            if settled.is_multiple_of(every.max(1))
                && let Some(mib) = rss_mib()
            {
                rss_samples.push((settled, mib));
            }
        }
    };
    let started = Instant::now();
    let summary = import_folder_with(&mut store, corpus, options, embedder, &CancelToken::new(), on_event)?;
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
        rss_samples,
    })
}

fn bench_import(args: &ImportBenchArgs) -> anyhow::Result<()> {
    if let Some(n) = args.short_files {
        return bench_import_short(args, n);
    }
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
    let seek = timed_import(&corpus, &options, None, None)?;
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
        let through =
            timed_import(&corpus, &ImportOptions { decode_through: true, ..options.clone() }, None, None)?;
        println!(
            "  throughput (decode whole files):   {:.0} tracks/min -> seeking is {:.2}x faster",
            through.tracks_per_min(),
            through.elapsed_s / seek.elapsed_s
        );
    }
    if !args.no_model {
        let mut embedder = Embedder::open(None, args.device)?;
        let device = embedder.device_description().to_string();
        let with_model = timed_import(&corpus, &options, Some(&mut embedder), None)?;
        println!(
            "  with the DPNN ({}, {device}): {:.0} tracks/min, {:.0} clips/s end to end (decode + log-mel + \
             model + SQLite) -> the model costs {:.0} % of the import time",
            embedder.model_version(),
            with_model.tracks_per_min(),
            f64::from(with_model.n_clips) / with_model.elapsed_s,
            100.0 * (1.0 - seek.elapsed_s / with_model.elapsed_s)
        );
        if let Some(after) = peak_rss_mib() {
            println!("  peak memory after both imports (RSS high-water mark): {after:.0} MiB");
        }
    }
    Ok(())
}

/// `bench import --short-files N`: the archive case. Peak memory must not
/// grow with the number of files, so the resident memory is sampled ten
/// times along each import and printed with the peak.
fn bench_import_short(args: &ImportBenchArgs, n_files: usize) -> anyhow::Result<()> {
    let corpus = match &args.corpus {
        Some(p) => p.clone(),
        None => directories::BaseDirs::new()
            .context("no home folder; pass --corpus")?
            .cache_dir()
            .join("tuneatlas/bench-short-v1"),
    };
    let generated = Instant::now();
    generate_short_files(&corpus, n_files)?;
    println!("bench import (short files): {n_files} one-second WAV files in {}", corpus.display());
    println!("  (generated or found in {:.0} s)", generated.elapsed().as_secs_f64());
    let mut options = ImportOptions::default();
    if let Some(n) = args.jobs {
        options.n_workers = n.max(1);
    }
    println!(
        "  machine: {} cores (workers: {}), {} build",
        worker_count(),
        options.n_workers,
        build_profile()
    );
    let every = Some((n_files / 10).max(1));
    let report = |label: &str, run: &ImportRun| {
        println!(
            "  {label}: {} tracks, {} failed, in {:.1} s = {:.0} tracks/min",
            run.tracks,
            run.failed,
            run.elapsed_s,
            run.tracks_per_min()
        );
        let samples: Vec<String> = run.rss_samples.iter().map(|(n, mib)| format!("{n}: {mib:.0}")).collect();
        println!("    resident MiB after N files: {}", samples.join(", "));
    };
    let without = timed_import(&corpus, &options, None, every)?;
    report("without the model", &without);
    if let Some(peak) = peak_rss_mib() {
        println!("    peak memory so far (RSS high-water mark): {peak:.0} MiB");
    }
    if !args.no_model {
        let mut embedder = Embedder::open(None, args.device)?;
        let label =
            format!("with the DPNN ({}, {})", embedder.model_version(), embedder.device_description());
        let with_model = timed_import(&corpus, &options, Some(&mut embedder), every)?;
        report(&label, &with_model);
        if let Some(peak) = peak_rss_mib() {
            println!(
                "    peak memory of both imports (RSS high-water mark): {peak:.0} MiB (goal ≤ 400 MiB at 100k)"
            );
        }
    }
    Ok(())
}

fn build_profile() -> &'static str {
    if cfg!(debug_assertions) { "debug" } else { "release" }
}

/// A fresh scratch folder for a benchmark's libraries (the caller removes it).
pub(super) fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("tuneatlas-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Arguments of `tuneatlas bench knn`.
#[derive(Debug, Args)]
pub struct KnnBenchArgs {
    /// Index sizes (number of tracks), comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000usize, 100_000])]
    pub sizes: Vec<usize>,
    /// Vector dimension.
    #[arg(long, default_value_t = tuneatlas::index::DEFAULT_DIM)]
    pub dim: usize,
    /// Timed queries per figure.
    #[arg(long, default_value_t = 300)]
    pub queries: usize,
    /// Neighbours per query.
    #[arg(short = 'k', long = "count", default_value_t = 20)]
    pub k: usize,
    /// Scan threads of the parallel figures.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Seed of the random vectors.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Query latency of the exact k-NN index, per scan strategy and thread
/// count, on seeded random unit vectors (queries are stored tracks, as in
/// `tuneatlas similar`). Also checks that both strategies return the same
/// neighbours — printed, not asserted.
fn bench_knn(args: &KnnBenchArgs) -> anyhow::Result<()> {
    use tuneatlas::index::{ScanMode, VectorIndex, random_unit_vectors};

    anyhow::ensure!(args.queries > 0 && args.dim > 0, "need at least one query and one dimension");
    println!(
        "bench knn: dim {}, k {}, {} queries per figure, {} cores, {} build",
        args.dim,
        args.k,
        args.queries,
        worker_count(),
        build_profile()
    );
    for &n in &args.sizes {
        if n == 0 {
            continue;
        }
        let vectors = random_unit_vectors(n, args.dim, args.seed);
        let started = Instant::now();
        let mut index = VectorIndex::build(args.dim, (0..n as i64).zip(vectors))?;
        let build_ms = started.elapsed().as_secs_f64() * 1e3;
        println!(
            "  n = {n}: build {build_ms:.0} ms, index {:.1} MiB",
            index.memory_bytes() as f64 / (1024.0 * 1024.0)
        );
        // Query ids spread over the index, reproducibly.
        let query_ids: Vec<i64> =
            (0..args.queries).map(|i| ((i as u64).wrapping_mul(2_654_435_761) % n as u64) as i64).collect();
        let mut reference: Option<Vec<Vec<i64>>> = None;
        let mut identical = true;
        let mut thread_counts = vec![1];
        if args.threads > 1 {
            thread_counts.push(args.threads);
        }
        for (mode, label) in
            [(ScanMode::Int8Bounded, "int8 pre-scan + exact re-score"), (ScanMode::Float32, "f32 scan")]
        {
            for &threads in &thread_counts {
                index.set_scan_mode(mode);
                index.set_threads(threads);
                // Warm-up: page in the rows, start the allocator's pools.
                for &id in query_ids.iter().take(5) {
                    let _ = index.top_k_by_id(id, args.k, |_| true);
                }
                let mut times_ms = Vec::with_capacity(query_ids.len());
                let mut results = Vec::with_capacity(query_ids.len());
                for &id in &query_ids {
                    let t = Instant::now();
                    let found = index.top_k_by_id(id, args.k, |_| true).unwrap_or_default();
                    times_ms.push(t.elapsed().as_secs_f64() * 1e3);
                    results.push(found.iter().map(|nb| nb.track_id).collect::<Vec<_>>());
                }
                match &reference {
                    None => reference = Some(results),
                    Some(r) => identical &= *r == results,
                }
                times_ms.sort_by(f64::total_cmp);
                let pick = |q: f64| times_ms[((times_ms.len() - 1) as f64 * q).round() as usize];
                let mean = times_ms.iter().sum::<f64>() / times_ms.len() as f64;
                let parallel = if n >= tuneatlas::index::PARALLEL_MIN_ROWS { threads } else { 1 };
                println!(
                    "    {label:<31} {threads} thread{} (scans on {parallel}): median {:.3} ms, p95 {:.3} ms, mean {:.3} ms",
                    if threads == 1 { " " } else { "s" },
                    pick(0.5),
                    pick(0.95),
                    mean
                );
            }
        }
        println!("    same neighbours from every strategy: {}", if identical { "yes" } else { "NO" });
    }
    Ok(())
}

/// Arguments of `tuneatlas bench model`.
#[derive(Debug, Args)]
pub struct ModelBenchArgs {
    /// Batch sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 16, 64, 256])]
    pub batch_sizes: Vec<usize>,
    /// Backends, comma-separated: flex, wgpu (wgpu = lavapipe on a machine without GPU).
    #[arg(long, value_delimiter = ',', default_values_t = ["flex".to_string(), "wgpu".to_string()])]
    pub backends: Vec<String>,
    /// Minimum timed seconds per figure (after one warm-up batch).
    #[arg(long, default_value_t = 3.0)]
    pub min_seconds: f64,
    /// Model directories to measure instead of the built-in model, in this order (repeatable;
    /// name `models/dpnn-v1` and a candidate to compare their speeds side by side in one run).
    #[arg(long = "model", value_name = "DIR")]
    pub models: Vec<std::path::PathBuf>,
}

/// Clips per second of the built-in DPNN (or the given models) per backend and batch size, with
/// warm-up time (shader compilation and autotuning on wgpu) and peak memory.
fn bench_model(args: &ModelBenchArgs) -> anyhow::Result<()> {
    use tuneatlas::model::backend::CpuBackend;
    use tuneatlas::model::bench::{BenchBackend, BenchOptions, header};

    let backends = args
        .backends
        .iter()
        .map(|b| match b.as_str() {
            "flex" => Ok(BenchBackend::Cpu(CpuBackend::Flex)),
            "wgpu" | "gpu" => Ok(BenchBackend::Wgpu),
            other => Err(anyhow::anyhow!("unknown backend {other:?} (expected flex or wgpu)")),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let models = match args.models.is_empty() {
        true => vec![tuneatlas::model::ModelBundle::embedded()?],
        false => args
            .models
            .iter()
            .map(|d| tuneatlas::model::ModelBundle::read_dir(d))
            .collect::<Result<Vec<_>, _>>()?,
    };
    println!("bench model: {} cores, {} build", worker_count(), build_profile());
    for card in models.iter().map(|m| &m.card) {
        println!(
            "  {}: DPNN, {:.2} M parameters, {:.0} MFLOP per clip",
            card.version,
            card.config.param_count().unwrap_or(0) as f64 / 1e6,
            card.config.flops_per_clip().unwrap_or(0) as f64 / 1e6,
        );
    }
    println!("{}", header());
    let options = BenchOptions {
        backends,
        batch_sizes: args.batch_sizes.clone(),
        min_seconds: args.min_seconds,
        models,
    };
    tuneatlas::model::bench::run(&options, &mut |row| println!("{}", row.line()), &mut |backend, e| {
        println!("{backend:?}: skipped ({e})")
    })?;
    Ok(())
}
