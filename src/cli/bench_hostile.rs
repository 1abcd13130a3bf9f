//! `tuneatlas bench hostile`: peak memory and time of an import of a folder
//! of hostile inputs (headers that lie about rate and length, NaN audio,
//! giant tags, noise, truncated and empty files) next to a good folder of the
//! same size, with and without the model.
//!
//! Why a benchmark of its own: the promise is that memory follows the audio
//! actually decoded, never what a header claims; the figure that shows it is
//! the peak RSS of the hostile import beside the good one. Everything is
//! generated here (WAV only, no ffmpeg), so it runs on any machine.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use tuneatlas::audio::synth::{noise_bytes, tone16, wav_bytes};
use tuneatlas::jobs::{CancelToken, worker_count};
use tuneatlas::library::{ImportOptions, import_folder_with};
use tuneatlas::model::backend::DeviceChoice;
use tuneatlas::model::infer::Embedder;
use tuneatlas::store::Store;

/// Arguments of `tuneatlas bench hostile`.
#[derive(Debug, Args)]
pub struct HostileBenchArgs {
    /// How many copies of each hostile case to generate.
    #[arg(long, default_value_t = 16)]
    pub copies: usize,
    /// Decode worker threads (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Skip the imports that also run the built-in DPNN.
    #[arg(long)]
    pub no_model: bool,
    /// Where the model runs.
    #[arg(long, default_value = "auto", value_name = "auto|gpu|cpu")]
    pub device: DeviceChoice,
}

/// [`wav_bytes`] with the block alignment the format implies; the
/// lies this benchmark tells are about rate, channels and length.
fn wav(rate_hz: u32, channels: u16, bits: u16, format: u16, data_len: u32, data: &[u8]) -> Vec<u8> {
    wav_bytes(rate_hz, channels, bits, format, channels.saturating_mul(bits) / 8, data_len, data)
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// `n` good 30-second tracks.
fn good_folder(dir: &Path, n: usize) -> anyhow::Result<()> {
    for i in 0..n {
        let pcm = tone16(44_100, 30.0, 200.0 + 13.0 * i as f64);
        write(&dir.join(format!("good{i:03}.wav")), &wav(44_100, 1, 16, 1, pcm.len() as u32, &pcm))?;
    }
    Ok(())
}

/// `copies` of every hostile case; returns how many files were written.
fn hostile_folder(dir: &Path, copies: usize) -> anyhow::Result<usize> {
    let mut n = 0;
    for i in 0..copies {
        let seed = i as u64 + 1;
        // 400 bytes claiming 768 kHz and 4 GB.
        write(
            &dir.join(format!("rate/{i:03}-768khz.wav")),
            &wav(768_000, 2, 16, 1, 4_000_000_000, &noise_bytes(400, seed)),
        )?;
        // 384 kHz (allowed) claiming 4 GB but holding 2 s.
        let pcm = tone16(384_000, 2.0, 300.0 + i as f64);
        write(&dir.join(format!("rate/{i:03}-384khz.wav")), &wav(384_000, 1, 16, 1, 4_000_000_000, &pcm))?;
        // 1 s claiming 4 GB.
        let pcm = tone16(22_050, 1.0, 500.0 + i as f64);
        write(&dir.join(format!("length/{i:03}.wav")), &wav(22_050, 1, 16, 1, 0xFFFF_FFF0, &pcm))?;
        // 200 channels.
        write(
            &dir.join(format!("channels/{i:03}.wav")),
            &wav(44_100, 200, 16, 1, 40_000, &noise_bytes(40_000, seed)),
        )?;
        // NaN and infinity as float samples.
        let floats: Vec<u8> = (0..22_050 * 5)
            .flat_map(|k| if k % 2 == 0 { f32::NAN } else { f32::INFINITY }.to_le_bytes())
            .collect();
        write(&dir.join(format!("float/{i:03}.wav")), &wav(22_050, 1, 32, 3, floats.len() as u32, &floats))?;
        // A 4 MB LIST/INFO tag.
        let pcm = tone16(22_050, 3.0, 700.0 + i as f64);
        let mut tagged = wav(22_050, 1, 16, 1, pcm.len() as u32, &pcm);
        let mut info = b"INFO".to_vec();
        for id in [b"INAM", b"IART", b"ICMT", b"IPRD"] {
            info.extend_from_slice(id);
            info.extend_from_slice(&(1u32 << 20).to_le_bytes());
            info.extend(std::iter::repeat_n(b'x', 1 << 20));
        }
        tagged.extend_from_slice(b"LIST");
        tagged.extend_from_slice(&(info.len() as u32).to_le_bytes());
        tagged.extend_from_slice(&info);
        write(&dir.join(format!("tags/{i:03}.wav")), &tagged)?;
        // Noise, empty and truncated files under audio names.
        for ext in ["mp3", "ogg", "flac", "m4a", "opus"] {
            write(
                &dir.join(format!("noise/{i:03}.{ext}")),
                &noise_bytes(50_000, seed * 31 + ext.len() as u64),
            )?;
            write(&dir.join(format!("empty/{i:03}.{ext}")), b"")?;
        }
        let pcm = tone16(44_100, 10.0, 900.0 + i as f64);
        let full = wav(44_100, 1, 16, 1, pcm.len() as u32, &pcm);
        write(&dir.join(format!("truncated/{i:03}.wav")), &full[..full.len() / 3])?;
        n += 6 + 10 + 2;
    }
    Ok(n)
}

/// Resets this process's peak-RSS mark (Linux ≥ 4.0), so that each import's
/// peak is its own; false where that is not possible.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// One import into a fresh library: (seconds, tracks, failed, peak MiB).
fn measured_import(
    folder: &Path,
    options: &ImportOptions,
    embedder: Option<&mut Embedder>,
) -> anyhow::Result<(f64, usize, usize, Option<f64>)> {
    let db_dir = std::env::temp_dir().join(format!("tuneatlas-bench-hostile-db-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&db_dir);
    let mut store = Store::open(&db_dir.join("bench.db"))?;
    reset_peak_rss();
    let started = Instant::now();
    let summary = import_folder_with(&mut store, folder, options, embedder, &CancelToken::new(), |_| {})?;
    let elapsed = started.elapsed().as_secs_f64();
    drop(store);
    let _ = std::fs::remove_dir_all(&db_dir);
    Ok((elapsed, summary.counts.new, summary.counts.failed, super::bench::peak_rss_mib()))
}

/// Runs `tuneatlas bench hostile`.
pub fn bench_hostile(args: &HostileBenchArgs, profile: &str) -> anyhow::Result<()> {
    let work = std::env::temp_dir().join(format!("tuneatlas-bench-hostile-{}", std::process::id()));
    let result = run_in(&work, args, profile);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn run_in(work: &Path, args: &HostileBenchArgs, profile: &str) -> anyhow::Result<()> {
    let (good, hostile) = (work.join("good"), work.join("hostile"));
    let n_hostile = hostile_folder(&hostile, args.copies.max(1))?;
    good_folder(&good, n_hostile.min(64))?;
    let mut options = ImportOptions::default();
    if let Some(n) = args.jobs {
        options.n_workers = n.max(1);
    }
    let exact = reset_peak_rss();
    println!(
        "bench hostile: {} good and {n_hostile} hostile files; {} cores (workers: {}), {profile} build",
        n_hostile.min(64),
        worker_count(),
        options.n_workers
    );
    if !exact {
        println!("  (peak RSS cannot be reset here: each figure is the peak so far)");
    }
    let show = |label: &str, (s, new, failed, peak): (f64, usize, usize, Option<f64>)| {
        let peak = peak.map(|p| format!("{p:.0} MiB")).unwrap_or_else(|| "n/a".into());
        println!("  {label:<24} {new:>4} imported, {failed:>4} reported, {s:>6.1} s, peak RSS {peak}");
    };
    show("good, no model", measured_import(&good, &options, None)?);
    show("hostile, no model", measured_import(&hostile, &options, None)?);
    if !args.no_model {
        let mut embedder = Embedder::open(None, args.device)?;
        println!("  model: {} on {}", embedder.model_version(), embedder.device_description());
        show("good, with model", measured_import(&good, &options, Some(&mut embedder))?);
        show("hostile, with model", measured_import(&hostile, &options, Some(&mut embedder))?);
    }
    Ok(())
}
