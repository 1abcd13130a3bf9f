//! `tuneatlas bench model`: clips per second of the DPNN per backend and
//! batch size, and peak memory. Prints figures, asserts nothing (ARCHITECTURE.md §7).
//!
//! Each row times the whole [`Embedder::embed_batch`] call — input guard,
//! upload, forward pass, one readback, normalisation — because that is what
//! the import pipeline pays. The first batch of each row is timed apart as
//! warm-up: on wgpu it includes shader compilation and autotuning.
//!
//! Peak memory is the process's peak resident set (`VmHWM`), reset before
//! each row through `/proc/self/clear_refs` (Linux); on lavapipe the "GPU"
//! buffers are host memory, so it covers them too.

use std::time::Instant;

use super::backend::{ComputeDevice, CpuBackend, DeviceChoice, select_device};
use super::infer::Embedder;
use super::record::ModelBundle;
use crate::Result;
use crate::features::{LogMel, N_FRAMES, N_MELS};

/// Which device a benchmark row runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchBackend {
    /// A CPU backend.
    Cpu(CpuBackend),
    /// wgpu on whatever adapter exists (lavapipe on a machine without GPU).
    Wgpu,
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Backends, in order.
    pub backends: Vec<BenchBackend>,
    /// Batch sizes, in order.
    pub batch_sizes: Vec<usize>,
    /// Minimum timed seconds per row (after warm-up; at least 2 batches).
    pub min_seconds: f64,
    /// Models to measure, in order. Several models in one run give the
    /// side-by-side ratio a width change is judged by; runs apart differ by
    /// the machine's drift.
    pub models: Vec<ModelBundle>,
}

/// One measured row.
#[derive(Debug, Clone)]
pub struct BenchRow {
    /// Model version.
    pub model: String,
    /// Device description.
    pub device: String,
    /// Clips per call.
    pub batch_size: usize,
    /// Seconds of the first (warm-up) batch.
    pub warmup_s: f64,
    /// Timed batches after warm-up.
    pub batches: usize,
    /// Throughput, clips per second.
    pub clips_per_s: f64,
    /// Peak resident memory during the row, MiB (Linux only).
    pub peak_rss_mib: Option<f64>,
}

impl BenchRow {
    /// One table line (see [`header`]).
    pub fn line(&self) -> String {
        let rss = self.peak_rss_mib.map_or("-".to_string(), |m| format!("{m:.0}"));
        format!(
            "{:<14} {:<44} {:>5} {:>9.1} {:>9.2} {:>9.2} {:>8}",
            self.model,
            self.device,
            self.batch_size,
            self.clips_per_s,
            1000.0 / self.clips_per_s,
            self.warmup_s,
            rss
        )
    }
}

/// Table header matching [`BenchRow::line`].
pub fn header() -> String {
    format!(
        "{:<14} {:<44} {:>5} {:>9} {:>9} {:>9} {:>8}",
        "model", "device", "batch", "clips/s", "ms/clip", "warmup s", "peak MiB"
    )
}

/// Deterministic, music-like synthetic log-mels (harmonic stacks on a
/// tilted noise floor with a beat), so every run measures the same input.
pub fn synthetic_clips(n: usize) -> Vec<LogMel> {
    (0..n)
        .map(|k| {
            let mut state = 0x5EED_u64.wrapping_add(k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut noise = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / 16_777_216.0
            };
            let mut data = Vec::with_capacity(N_MELS * N_FRAMES);
            for m in 0..N_MELS {
                for f in 0..N_FRAMES {
                    let tilt = -20.0 - 0.5 * m as f32;
                    let harmonic = if (m + k) % (7 + k % 5) == 0 { 25.0 } else { 0.0 };
                    let beat = if (f + k) % (10 + k % 4) < 2 { 10.0 } else { 0.0 };
                    data.push(tilt + harmonic + beat + 10.0 * noise());
                }
            }
            LogMel { data }
        })
        .collect()
}

fn reset_peak_rss() {
    // "5" resets VmHWM to the current RSS (Linux ≥ 4.0); harmless elsewhere.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn device_for(backend: BenchBackend) -> Result<ComputeDevice> {
    match backend {
        BenchBackend::Cpu(b) => Ok(ComputeDevice::cpu_with(b)),
        BenchBackend::Wgpu => select_device(DeviceChoice::Gpu),
    }
}

/// Runs the benchmark with each model of `opts`, backend by backend, calling `on_row` as each row
/// completes (so a CLI can print progressively; the wgpu warm-up alone can
/// take a minute on lavapipe). A backend that cannot start (no wgpu
/// adapter) is reported through `on_skip` and skipped.
pub fn run(
    opts: &BenchOptions,
    on_row: &mut dyn FnMut(&BenchRow),
    on_skip: &mut dyn FnMut(BenchBackend, &crate::Error),
) -> Result<Vec<BenchRow>> {
    let max_bs = opts.batch_sizes.iter().copied().max().unwrap_or(1);
    let clips = synthetic_clips(max_bs.max(1));
    let mut rows = Vec::new();
    for (&backend, bundle) in opts.backends.iter().flat_map(|b| opts.models.iter().map(move |m| (b, m))) {
        let device = match device_for(backend) {
            Ok(d) => d,
            Err(e) => {
                on_skip(backend, &e);
                continue;
            }
        };
        let mut embedder = Embedder::new(bundle.clone().load(&device)?);
        for &bs in &opts.batch_sizes {
            let batch = &clips[..bs.max(1)];
            reset_peak_rss();
            let t0 = Instant::now();
            embedder.embed_batch(batch)?;
            let warmup_s = t0.elapsed().as_secs_f64();
            let start = Instant::now();
            let mut batches = 0usize;
            while batches < 2 || start.elapsed().as_secs_f64() < opts.min_seconds {
                embedder.embed_batch(batch)?;
                batches += 1;
            }
            let secs = start.elapsed().as_secs_f64();
            let row = BenchRow {
                model: bundle.card.version.clone(),
                device: embedder.device().description.clone(),
                batch_size: batch.len(),
                warmup_s,
                batches,
                clips_per_s: (batches * batch.len()) as f64 / secs,
                peak_rss_mib: peak_rss_mib(),
            };
            on_row(&row);
            rows.push(row);
        }
    }
    Ok(rows)
}
