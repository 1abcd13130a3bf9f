//! `tuneatlas finetune`: fine-tune the model on the library's own tags,
//! re-embed the library with the new version and print P@k before/after.
//! A thin wrapper over `tuneatlas::train::finetune`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tuneatlas::library::import_tags_csv;
use tuneatlas::model::backend::{DeviceChoice, select_device};
use tuneatlas::model::infer::Embedder;
use tuneatlas::model::record::ModelBundle;
use tuneatlas::store::DEFAULT_TAG_SET;
use tuneatlas::train::finetune::{
    FineTuneConfig, FineTuneEvent, FineTuneRequest, TrainLayers, fine_tune, fine_tune_or_cpu,
};
use tuneatlas::train::trainer::TrainEvent;

/// Arguments of `tuneatlas finetune`.
#[derive(Debug, Args)]
pub struct FinetuneArgs {
    /// Import these tags first (CSV: path or artist+title, tags separated by ";", optional tag_set;
    /// see `tuneatlas tag import`).
    #[arg(long, value_name = "FILE.csv")]
    pub tags: Option<PathBuf>,
    /// Print the held-out P@10 / P@100 table (before vs after).
    #[arg(long)]
    pub eval: bool,
    /// Tag set(s) to train on (repeatable; default: the sets the CSV filled, else all sets).
    /// Also the set for CSV rows without a tag_set column.
    #[arg(long = "set", value_name = "NAME")]
    pub sets: Vec<String>,
    /// Which layers train: heads (dense layers), top (+ last conv block of each stack) or all.
    #[arg(long, default_value = "top", value_name = "heads|top|all")]
    pub layers: TrainLayers,
    /// Passes over the training tracks (early stopping may end sooner).
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Peak learning rate (Adam).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Tracks per mini-batch (paper: 600; capped at the training tracks).
    #[arg(long, default_value_t = 600)]
    pub batch: usize,
    /// Positive pairs: LSI cosine at least this.
    #[arg(long, default_value_t = 0.8)]
    pub positive: f32,
    /// Negative pairs: LSI cosine below this.
    #[arg(long, default_value_t = 0.2)]
    pub negative: f32,
    /// LSI topics (default: from the vocabulary size).
    #[arg(long)]
    pub topics: Option<usize>,
    /// Validations without improvement before stopping (0: never stop early).
    #[arg(long, default_value_t = 3)]
    pub patience: usize,
    /// Seed of the split, batch order and augmentation.
    #[arg(long, default_value_t = 20_261_122)]
    pub seed: u64,
    /// The model to start from (default: the built-in model).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// The new version's name (default: <parent version>-ft<unix time>).
    #[arg(long)]
    pub version: Option<String>,
    /// Where training runs: auto takes a real GPU through wgpu and otherwise the CPU (a software
    /// adapter such as lavapipe is ~30× slower than the CPU backend); gpu forces wgpu.
    #[arg(long, default_value = "auto", value_name = "auto|gpu|cpu")]
    pub device: DeviceChoice,
    /// Do not re-embed the library with the new version.
    #[arg(long)]
    pub no_embed: bool,
}

impl FinetuneArgs {
    /// The core settings these arguments ask for, training on `sets`.
    pub fn config(&self, sets: Vec<String>) -> FineTuneConfig {
        FineTuneConfig {
            sets,
            layers: self.layers,
            epochs: self.epochs,
            learning_rate: self.lr,
            batch_tracks: self.batch,
            positive_min_cos: self.positive,
            negative_max_cos: self.negative,
            topics: self.topics,
            patience_epochs: self.patience,
            seed: self.seed,
            ..FineTuneConfig::default()
        }
    }
}

fn bar(what: &str) -> ProgressBar {
    let b = ProgressBar::new(0);
    let template =
        format!("{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {what} {{wide_msg}}");
    b.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    b.enable_steady_tick(Duration::from_millis(250));
    b
}

fn figures(m: &[(String, f64)]) -> String {
    m.iter().map(|(k, v)| format!("{k} {v:.3}")).collect::<Vec<_>>().join("  ")
}

/// Runs `tuneatlas finetune`.
pub fn run(db: &Path, args: &FinetuneArgs) -> anyhow::Result<()> {
    let mut store = super::common::open_existing(db)?;
    let mut sets = args.sets.clone();
    if let Some(csv) = &args.tags {
        let default_set = args.sets.first().map_or(DEFAULT_TAG_SET, String::as_str);
        let report = import_tags_csv(&mut store, csv, default_set)?;
        super::tag::print_import_report(&report);
        if sets.is_empty() {
            sets = report.sets.clone();
        }
    }
    let parent = match &args.model {
        Some(dir) => ModelBundle::read_dir(dir)?,
        None => ModelBundle::embedded()?,
    };
    let device = select_device(args.device)?;
    if let Some(n) = &device.notice {
        eprintln!("note: {n}");
    }
    let req = FineTuneRequest::for_library(db, parent, args.config(sets), args.version.clone());
    eprintln!(
        "fine-tuning {} ({} layers) on {}",
        req.parent.card.version, req.cfg.layers, device.description
    );
    let cancel = super::cancel_on_ctrl_c("training step");
    let features = bar("tracks (log-mel features)");
    let steps = bar("steps");
    steps.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    let mut on_event = |e: &FineTuneEvent| match e {
        FineTuneEvent::Features(p) => {
            features.set_length(p.total_tracks as u64);
            features.set_position(p.done_tracks as u64);
        }
        FineTuneEvent::Prepared { summary } => {
            features.finish_and_clear();
            eprintln!("{summary}");
        }
        FineTuneEvent::Baseline(m) => eprintln!("starting model on the validation tracks: {}", figures(m)),
        FineTuneEvent::Notice(n) => steps.suspend(|| eprintln!("note: {n}")),
        FineTuneEvent::Train(TrainEvent::Started { total_steps, .. }) => {
            steps.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            steps.set_length(*total_steps as u64);
        }
        FineTuneEvent::Train(TrainEvent::Step { step, loss, parts, items_per_s, .. }) => {
            steps.set_position(*step as u64);
            let n = parts.iter().find(|(k, _)| k == "triplets").map_or(0.0, |(_, v)| *v);
            steps.set_message(format!("loss {loss:.4}, {n:.0} triplets, {items_per_s:.1} tracks/s"));
        }
        FineTuneEvent::Train(TrainEvent::Validation { step, metrics }) => {
            steps.suspend(|| eprintln!("validation after step {step}: {}", figures(metrics)));
        }
        FineTuneEvent::Train(_) => {}
    };
    // As in the window: a run that fails on an automatically chosen GPU is
    // tried again on the CPU; a user who forced the GPU gets the error.
    let outcome = if args.device == DeviceChoice::Gpu {
        fine_tune(&mut store, &req, &device, &cancel, &mut on_event)
    } else {
        fine_tune_or_cpu(&mut store, &req, &device, &cancel, &mut on_event)
    };
    features.finish_and_clear();
    steps.finish_and_clear();
    let outcome = match outcome {
        Err(tuneatlas::Error::Cancelled) => {
            eprintln!("fine-tuning cancelled: no model was written; the current model is unchanged");
            return Ok(());
        }
        other => other?,
    };
    eprintln!(
        "trained {} steps in {:.1} s ({:.1} tracks/s, {:.1} triplets/s){}{}",
        outcome.steps,
        outcome.train_seconds,
        outcome.tracks_seen as f64 / outcome.train_seconds.max(1e-9),
        outcome.triplets as f64 / outcome.train_seconds.max(1e-9),
        outcome.stopped_early_at.map_or(String::new(), |s| format!(", stopped early after step {s}")),
        outcome.best_step.map_or(String::new(), |s| format!(", kept the weights of step {s}")),
    );
    println!(
        "new model version {} (parent {}) in {}",
        outcome.card.version,
        outcome.card.provenance.parent.as_deref().unwrap_or("—"),
        outcome.model_dir.display()
    );
    if !args.no_embed {
        let mut embedder = Embedder::open(Some(&outcome.model_dir), args.device)?;
        for n in embedder.take_notices() {
            eprintln!("note: {n}");
        }
        let b = bar("tracks (re-embedding)");
        let summary = super::embed::embed_with_bar(&mut store, &mut embedder, &cancel, &b)?;
        b.finish_and_clear();
        println!(
            "re-embedded {} tracks with {} in {:.1} s ({} failed){}",
            summary.n_embedded,
            summary.model_version,
            summary.elapsed_s,
            summary.failures.len(),
            if summary.status == tuneatlas::store::RunStatus::Cancelled {
                " — cancelled; `tuneatlas embed --model DIR` resumes"
            } else {
                ""
            }
        );
    }
    if args.eval {
        print!("{}", outcome.table.render());
    }
    Ok(())
}
