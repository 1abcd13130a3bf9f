//! `tuneatlas bench finetune`: fine-tuning throughput — triplets/s and
//! tracks/s of the training loop — on a generated library whose tags are
//! audible (`tuneatlas::train::synth_tags`), imported into a throw-away
//! SQLite library. `total s` is the whole fine-tuning call (features,
//! evaluation, saving), `train s` the training loop (with one validation pass
//! per epoch), `steps s` the optimizer steps alone. Also prints the held-out P@k table, so a faster setting
//! that stops learning shows. Printed, never asserted.

use std::time::Instant;

use clap::Args;
use tuneatlas::jobs::CancelToken;
use tuneatlas::library::{ImportOptions, import_folder, import_tags_csv};
use tuneatlas::model::backend::{DeviceChoice, select_device};
use tuneatlas::model::record::ModelBundle;
use tuneatlas::store::Store;
use tuneatlas::train::finetune::{FineTuneConfig, FineTuneEvent, FineTuneRequest, TrainLayers, fine_tune};
use tuneatlas::train::synth_tags::{tags_csv, write_tagged_corpus};
use tuneatlas::train::trainer::TrainEvent;

/// Arguments of `tuneatlas bench finetune`.
#[derive(Debug, Args)]
pub struct FinetuneBenchArgs {
    /// Generated tracks.
    #[arg(long, default_value_t = 120)]
    pub tracks: usize,
    /// Albums they are spread over.
    #[arg(long, default_value_t = 8)]
    pub albums: usize,
    /// Seconds per track (≤ 12 s gives one clip per track).
    #[arg(long, default_value_t = 7.0)]
    pub seconds: f64,
    /// Layers to train, comma-separated (heads, top, all).
    #[arg(long, value_delimiter = ',', default_value = "heads,top,all")]
    pub layers: Vec<TrainLayers>,
    /// Epochs per run.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Tracks per batch.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// LSI topics (default: from the vocabulary size).
    #[arg(long)]
    pub topics: Option<usize>,
    /// Triplet margin (squared distance of unit vectors, 0–4).
    #[arg(long, default_value_t = FineTuneConfig::default().margin)]
    pub margin: f32,
    /// Positive / negative LSI cosine thresholds.
    #[arg(long, num_args = 2, default_values_t = [0.8, 0.2])]
    pub thresholds: Vec<f32>,
    /// Share of tracks for validation/early stopping (0: none, keep the last weights).
    #[arg(long, default_value_t = FineTuneConfig::default().valid_fraction)]
    pub valid_fraction: f64,
    /// Share of tracks held out for the P@k table.
    #[arg(long, default_value_t = FineTuneConfig::default().test_fraction)]
    pub test_fraction: f64,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Also print each run's held-out P@k table.
    #[arg(long)]
    pub tables: bool,
    /// Where training runs.
    #[arg(long, default_value = "cpu", value_name = "auto|gpu|cpu")]
    pub device: DeviceChoice,
}

/// Runs `tuneatlas bench finetune`.
pub fn bench_finetune(args: &FinetuneBenchArgs, profile: &str) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let music = dir.join("music");
    let t0 = Instant::now();
    let tracks = write_tagged_corpus(&music, args.tracks, args.albums, args.seconds, 7)?;
    let csv = dir.join("tags.csv");
    std::fs::write(&csv, tags_csv(&tracks))?;
    let db = dir.join("library.db");
    let mut store = Store::open(&db)?;
    let cancel = CancelToken::new();
    import_folder(&mut store, &music, &ImportOptions::default(), &cancel, |_| {})?;
    let report = import_tags_csv(&mut store, &csv, "tags")?;
    anyhow::ensure!(report.problems.is_empty(), "the generated tags did not import: {:?}", report.problems);
    let device = select_device(args.device)?;
    println!(
        "bench finetune ({profile} build): {} generated tracks of {:.0} s over {} albums, prepared in {:.1} s; \
         device {}",
        args.tracks,
        args.seconds,
        args.albums,
        t0.elapsed().as_secs_f64(),
        device.description
    );
    println!(
        "{:<6} {:>6} {:>7} {:>8} {:>9} {:>11} {:>9} {:>8} {:>14} {:>13} {:>13}",
        "layers",
        "steps",
        "batch",
        "total s",
        "train s",
        "triplets/s",
        "tracks/s",
        "steps s",
        "step tracks/s",
        "P@10 before",
        "P@10 after"
    );
    for &layers in &args.layers {
        let cfg = FineTuneConfig {
            layers,
            epochs: args.epochs,
            batch_tracks: args.batch,
            topics: args.topics,
            learning_rate: args.lr,
            valid_fraction: args.valid_fraction,
            test_fraction: args.test_fraction,
            margin: args.margin,
            positive_min_cos: args.thresholds.first().copied().unwrap_or(0.8),
            negative_max_cos: args.thresholds.get(1).copied().unwrap_or(0.2),
            patience_epochs: 0,
            ..FineTuneConfig::default()
        };
        let req = FineTuneRequest::in_models_dir(
            dir.join("models"),
            ModelBundle::embedded()?,
            cfg,
            Some(format!("bench-{layers}")),
        );
        // Seconds inside optimizer steps only (the loop's total also holds
        // the per-epoch validation passes).
        // (Each step reports batch / seconds; the batch is known after the run.)
        let mut seconds_per_track = 0.0f64;
        let mut on_event = |e: &FineTuneEvent| {
            if let FineTuneEvent::Train(TrainEvent::Step { items_per_s, .. }) = e {
                seconds_per_track += 1.0 / items_per_s.max(1e-9);
            }
        };
        let run_started = Instant::now();
        let out = fine_tune(&mut store, &req, &device, &cancel, &mut on_event)?;
        let total_s = run_started.elapsed().as_secs_f64();
        let s = out.train_seconds.max(1e-9);
        let batch = out.tracks_seen / out.steps.max(1);
        let step_s = seconds_per_track * batch as f64;
        let p10 = out.table.get(tuneatlas::train::finetune::eval::LSI_ROW, 10);
        let fmt = |v: Option<f64>| v.map_or_else(|| "—".into(), |p| format!("{p:.3}"));
        println!(
            "{:<6} {:>6} {:>7} {:>8.1} {:>9.1} {:>11.1} {:>9.1} {:>8.1} {:>14.1} {:>13} {:>13}",
            layers.as_str(),
            out.steps,
            batch,
            total_s,
            out.train_seconds,
            out.triplets as f64 / s,
            out.tracks_seen as f64 / s,
            step_s,
            out.tracks_seen as f64 / step_s.max(1e-9),
            fmt(p10.and_then(|(b, _)| b)),
            fmt(p10.and_then(|(_, a)| a)),
        );
        if args.tables {
            print!("{}", out.table.render());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("tuneatlas-bench-finetune-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
