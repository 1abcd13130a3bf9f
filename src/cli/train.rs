//! `tuneatlas train distill` and `tuneatlas eval`: making the pretrained
//! model from the musicnn teachers, and measuring any model on a list of
//! tracks. Thin wrappers over `tuneatlas::train`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use burn::module::Module;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tuneatlas::jobs::{CancelToken, worker_count};
use tuneatlas::model::backend::{DeviceChoice, select_device};
use tuneatlas::model::dpnn::DpnnConfig;
use tuneatlas::model::heads::{teacher_sources, teacher_vocabulary};
use tuneatlas::model::infer::Embedder;
use tuneatlas::model::init::{init_card, init_model};
use tuneatlas::model::record::{ModelBundle, Provenance, save_dir};
use tuneatlas::train::corpus::{Corpus, read_targets, read_track_list, split_by_source};
use tuneatlas::train::distill::{Distill, DistillConfig, DistillData, MIN_POSITIVE_CLIPS, teacher_columns};
use tuneatlas::train::eval::{Figures, evaluate_embedder, evaluate_teacher};
use tuneatlas::train::features::{FeatureStore, load_or_compute};
use tuneatlas::train::trainer::{LoopConfig, TrainEvent, checkpoint_card, run};

/// Arguments of `tuneatlas train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(subcommand)]
    pub what: TrainWhat,
}

/// Training subcommands.
#[derive(Debug, Subcommand)]
pub enum TrainWhat {
    /// Distil the DPNN from the musicnn teacher targets (see models/dpnn-v1/README.md).
    Distill(Box<DistillArgs>),
    /// Average the weights of several snapshots of one run (e.g. its last checkpoints) into one model.
    Average(AverageArgs),
}

/// Arguments of `tuneatlas train average`.
#[derive(Debug, Args)]
pub struct AverageArgs {
    /// Model directories (model.toml + weights.bpk) of one run's snapshots; the card of the last
    /// one is kept (name, description, provenance, teachers' figures).
    #[arg(required = true, num_args = 1.., value_name = "DIR")]
    pub models: Vec<PathBuf>,
    /// Output model directory (its name is the model's name).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Model version string stored with every vector.
    #[arg(long)]
    pub version: String,
}

/// Where the corpus, its list and the feature cache are.
#[derive(Debug, Args, Clone)]
pub struct CorpusArgs {
    /// Corpus folder (the paths in the list are relative to it).
    #[arg(long, value_name = "DIR")]
    pub corpus: PathBuf,
    /// Feature cache folder (default: the platform cache folder, e.g. ~/.cache/tuneatlas/features).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

impl CorpusArgs {
    fn cache_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.cache {
            Some(c) => Ok(c.clone()),
            None => Ok(directories::ProjectDirs::from("org", "tuneatlas", "tuneatlas")
                .context("cannot find a cache folder; pass --cache DIR")?
                .cache_dir()
                .join("features")),
        }
    }
}

/// Arguments of `tuneatlas train distill`.
#[derive(Debug, Args)]
pub struct DistillArgs {
    #[command(flatten)]
    pub corpus: CorpusArgs,
    /// Teacher targets folder (clips.tsv, penultimate.npy).
    #[arg(long, value_name = "DIR")]
    pub targets: PathBuf,
    /// Track list (train.tsv layout); default: train.tsv in the corpus folder, else
    /// ../../corpus/train.tsv beside the targets (the shared/ layout).
    #[arg(long, value_name = "FILE")]
    pub list: Option<PathBuf>,
    /// Output model directory, e.g. models/dpnn-v1 (its name is the model's name).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Model version string stored with every vector (default: <name>-<seed>).
    #[arg(long)]
    pub version: Option<String>,
    /// Checkpoint folder (default: <cache>/runs/<name>).
    #[arg(long, value_name = "DIR")]
    pub checkpoints: Option<PathBuf>,
    /// Continue the run in the checkpoint folder.
    #[arg(long)]
    pub resume: bool,
    /// Start from this model's weights instead of a fresh initialisation (a second, shorter run
    /// on top of a finished one, e.g. with a lower --lr); its version is recorded as the parent.
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Filters of each timbre block (default: the shipped architecture's, 16,32,64).
    #[arg(long, value_delimiter = ',', value_name = "N,N,N")]
    pub timbre_filters: Vec<usize>,
    /// Filters of each rhythm block (default: the shipped architecture's, 16,32,64).
    #[arg(long, value_delimiter = ',', value_name = "N,N,N")]
    pub rhythm_filters: Vec<usize>,
    /// Passes over the training tracks.
    #[arg(long, default_value_t = 40)]
    pub epochs: usize,
    /// Peak learning rate (Adam).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Tracks per batch (× clips per track = clips per batch).
    #[arg(long, default_value_t = 32)]
    pub tracks_per_batch: usize,
    /// Weight of the LSI triplet term; 0 switches it off (ablation).
    #[arg(long, default_value_t = 1.0)]
    pub lsi_weight: f32,
    /// Weight of the same-track triplet term.
    #[arg(long, default_value_t = 1.0)]
    pub track_weight: f32,
    /// Weight of the relational term (student cosines → teacher penultimate cosines); 0 = off.
    #[arg(long, default_value_t = 1.0)]
    pub relational_weight: f32,
    /// Weight of the album-concept triplets (positives: other tracks of the anchor's album); 0 = off.
    #[arg(long, default_value_t = 0.0)]
    pub album_weight: f32,
    /// Weight of the artist-concept triplets (positives: other tracks of the anchor's artist); 0 = off.
    #[arg(long, default_value_t = 0.0)]
    pub artist_weight: f32,
    /// Albums per batch: draw batches album by album (P albums × tracks-per-batch/P tracks), so
    /// album and artist positives exist; 0 = a plain shuffle of tracks.
    #[arg(long, default_value_t = 0)]
    pub albums_per_batch: usize,
    /// Weight of the neighbourhood term (each clip's batch-mates ranked as the teachers rank
    /// them); 0 = off.
    #[arg(long, default_value_t = 0.0)]
    pub neighbour_weight: f32,
    /// Temperature on the teachers' standardised cosines in the neighbourhood term.
    #[arg(long, default_value_t = 0.5)]
    pub neighbour_teacher_temperature: f32,
    /// Temperature on the student's cosines in the neighbourhood term.
    #[arg(long, default_value_t = 0.1)]
    pub neighbour_student_temperature: f32,
    /// Past batches whose clips the neighbourhood term also ranks each clip against (more
    /// candidates, among them album-mates a 32-track batch rarely holds); 0 = the batch only.
    #[arg(long, default_value_t = 0)]
    pub neighbour_queue_batches: usize,
    /// Weight of the soft-target BCE term.
    #[arg(long, default_value_t = 1.0)]
    pub bce_weight: f32,
    /// Teacher temperature (1: probabilities as given; < 1 sharpens).
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    /// Triplet margin on squared distances (per dimension; 0–4 range with --unit-sphere).
    #[arg(long, default_value_t = 0.5)]
    pub margin: f32,
    /// Triplet distances between L2-normalised representations instead of raw ones.
    #[arg(long)]
    pub unit_sphere: bool,
    /// LSI topics.
    #[arg(long, default_value_t = 16)]
    pub lsi_topics: usize,
    /// Share of tracks held out for validation (whole sources).
    #[arg(long, default_value_t = 0.12)]
    pub valid_fraction: f64,
    /// Seed of the split, the data order, augmentation and initialisation.
    #[arg(long, default_value_t = 20_261_122)]
    pub seed: u64,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: usize,
    /// Steps between validations (0: only at the end).
    #[arg(long, default_value_t = 500)]
    pub validate_every: usize,
    /// Where training runs: cpu is correct and usually fastest on machines without a real GPU.
    #[arg(long, default_value = "cpu", value_name = "auto|gpu|cpu")]
    pub device: DeviceChoice,
}

/// Arguments of `tuneatlas eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub corpus: CorpusArgs,
    /// Track list: tab-separated with a header holding at least rel_path and album.
    #[arg(long, value_name = "FILE")]
    pub list: PathBuf,
    /// Teacher targets folder, for tag ROC-AUC and the teachers' own figures (optional).
    #[arg(long, value_name = "DIR")]
    pub targets: Option<PathBuf>,
    /// Model directory; default: the built-in model.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Where the model runs.
    #[arg(long, default_value = "auto", value_name = "auto|gpu|cpu")]
    pub device: DeviceChoice,
    /// Teacher probability at which a tag counts as present.
    #[arg(long, default_value_t = 0.2)]
    pub tag_threshold: f32,
    /// Write the figures into the model's model.toml [metrics] (valid.*; the teachers' as
    /// valid.teacher<dim>.*), replacing figures of the same name: what a model card quotes.
    #[arg(long, requires = "model")]
    pub record: bool,
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    let template = format!(
        "{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {what} (ETA {{eta}}) {{wide_msg}}"
    );
    b.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    b.enable_steady_tick(Duration::from_millis(250));
    b
}

/// Loads (or computes and caches) the features, printing failures by file.
fn features(corpus: &Corpus, args: &CorpusArgs, cancel: &CancelToken) -> anyhow::Result<FeatureStore> {
    let cache = args.cache_dir()?;
    let b = bar(corpus.tracks.len() as u64, "tracks (log-mel features)");
    let (store, failures) = load_or_compute(corpus, &cache, worker_count(), cancel, &|p| {
        b.set_position(p.done_tracks as u64);
        b.set_message(format!("{} cached", p.cached_tracks));
    })?;
    b.finish_and_clear();
    for f in &failures {
        eprintln!("skipped: {}", f.reason);
    }
    eprintln!(
        "features: {} clips of {} tracks ({} failed) in {}",
        corpus.clips.len(),
        corpus.tracks.len(),
        failures.len(),
        cache.display()
    );
    Ok(store)
}

fn print_figures(name: &str, figures: &Figures) {
    let text: Vec<String> = figures.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
    println!("{name:<44} {}", text.join("  "));
}

/// The shipped architecture, with the filter counts of `--timbre-filters`
/// and `--rhythm-filters` where given (a width experiment keeps kernels,
/// strides and pooling, so the geometry and the embedding stay the same).
fn network(args: &DistillArgs) -> anyhow::Result<DpnnConfig> {
    let mut config = DpnnConfig::default();
    for (name, filters, stack) in [
        ("--timbre-filters", &args.timbre_filters, &mut config.timbre),
        ("--rhythm-filters", &args.rhythm_filters, &mut config.rhythm),
    ] {
        if filters.is_empty() {
            continue;
        }
        anyhow::ensure!(
            filters.len() == stack.len(),
            "{name} needs {} filter counts, one per block (got {})",
            stack.len(),
            filters.len()
        );
        for (block, &f) in stack.iter_mut().zip(filters) {
            block.filters = f;
        }
    }
    config.validate().map_err(|e| anyhow::anyhow!("invalid network: {e}"))?;
    Ok(config)
}

fn default_list(args: &DistillArgs) -> anyhow::Result<PathBuf> {
    if let Some(l) = &args.list {
        return Ok(l.clone());
    }
    let in_corpus = args.corpus.corpus.join("train.tsv");
    if in_corpus.exists() {
        return Ok(in_corpus);
    }
    let shared = args.targets.join("../../corpus/train.tsv");
    if shared.exists() {
        return Ok(shared);
    }
    bail!("no track list: pass --list FILE (shared/corpus/train.tsv)")
}

/// Runs `tuneatlas train ...`.
pub fn run_train(args: &TrainArgs) -> anyhow::Result<()> {
    match &args.what {
        TrainWhat::Distill(a) => distill(a),
        TrainWhat::Average(a) => average(a),
    }
}

/// A model's name is its directory's name (`models/<name>`).
fn model_name(out: &Path) -> anyhow::Result<String> {
    let name = out.file_name().and_then(|n| n.to_str());
    Ok(name.context("--out must name a directory, e.g. models/dpnn-v2")?.to_string())
}

fn average(args: &AverageArgs) -> anyhow::Result<()> {
    let name = model_name(&args.out)?;
    let bundles = args.models.iter().map(|d| ModelBundle::read_dir(d)).collect::<Result<Vec<_>, _>>()?;
    let device = select_device(DeviceChoice::Cpu)?;
    let model = tuneatlas::model::average::average(&bundles, &device)?;
    let Some(last) = bundles.last() else { bail!("no model to average") };
    let mut card = last.card.clone();
    card.name = name;
    card.version = args.version.clone();
    card.provenance.method = format!(
        "{}; weights averaged over {} snapshots of the run (tuneatlas train average)",
        card.provenance.method,
        bundles.len()
    );
    // The snapshot's own validation figures no longer describe these
    // weights (`tuneatlas eval` measures them); the teachers' still hold.
    card.metrics.retain(|k, _| !k.starts_with("valid.") || k.starts_with("valid.teacher"));
    card.metrics.insert("average.snapshots".into(), bundles.len() as f64);
    save_dir(&args.out, &card, &model)?;
    eprintln!("wrote {} ({} snapshots averaged)", args.out.display(), bundles.len());
    Ok(())
}

fn distill(args: &DistillArgs) -> anyhow::Result<()> {
    let name = model_name(&args.out)?;
    let version = args.version.clone().unwrap_or_else(|| format!("{name}-{}", args.seed));
    let list = default_list(args)?;
    let tracks = read_track_list(&list)?;
    let targets = read_targets(&args.targets)?;
    let corpus = Corpus::with_targets(&args.corpus.corpus, tracks, targets)?;
    let split = split_by_source(&corpus.tracks, args.valid_fraction, 40, args.seed);
    eprintln!(
        "corpus: {} tracks, {} clips; validation: {} tracks from {} sources ({})",
        corpus.tracks.len(),
        corpus.clips.len(),
        split.valid.len(),
        split.valid_sources.len(),
        split.valid_sources.join(", ")
    );
    let cancel = super::cancel_on_ctrl_c("training step");
    let store = features(&corpus, &args.corpus, &cancel)?;

    let vocab = teacher_vocabulary();
    let sources = teacher_sources();
    let targets = corpus.targets.as_ref().context("targets")?;
    let columns = teacher_columns(&vocab, &sources, &targets.tag_names)?;
    let cfg = DistillConfig {
        tracks_per_batch: args.tracks_per_batch,
        bce_weight: args.bce_weight,
        temperature: args.temperature,
        lsi_weight: args.lsi_weight,
        track_weight: args.track_weight,
        relational_weight: args.relational_weight,
        album_weight: args.album_weight,
        artist_weight: args.artist_weight,
        albums_per_batch: args.albums_per_batch,
        neighbour_weight: args.neighbour_weight,
        neighbour_teacher_temperature: args.neighbour_teacher_temperature,
        neighbour_student_temperature: args.neighbour_student_temperature,
        neighbour_queue_batches: args.neighbour_queue_batches,
        margin: args.margin,
        unit_sphere: args.unit_sphere,
        lsi_topics: args.lsi_topics,
        ..DistillConfig::default()
    };
    let valid_tracks = split.valid.clone();
    let data = DistillData::new(corpus, store, &split.train, &split.valid, &columns, &cfg)?;
    let steps_per_epoch = data.steps_per_epoch(&cfg);
    let loop_cfg = LoopConfig {
        total_steps: args.epochs * steps_per_epoch,
        learning_rate: args.lr,
        warmup_steps: (steps_per_epoch * 2).min(500),
        final_lr_fraction: 0.05,
        weight_decay: 0.0,
        grad_clip_norm: 5.0,
        checkpoint_every_steps: args.checkpoint_every,
        validate_every_steps: args.validate_every,
        seed: args.seed,
    };

    let device = select_device(args.device)?;
    if let Some(n) = &device.notice {
        eprintln!("note: {n}");
    }
    let config = network(args)?;
    let checkpoints = match &args.checkpoints {
        Some(c) => c.clone(),
        None => args.corpus.cache_dir()?.join("..").join("runs").join(&name),
    };
    let (model, parent) = match &args.init {
        Some(dir) => {
            let bundle = ModelBundle::read_dir(dir)?;
            anyhow::ensure!(
                bundle.card.config == config,
                "{} has another architecture than `train distill` trains; it cannot be the start",
                dir.display()
            );
            (bundle.instantiate(&device)?, Some(bundle.card.version.clone()))
        }
        // A resumed run keeps the parent its first process started from.
        None if args.resume => (
            init_model(&config, &vocab, args.seed, &device)?,
            checkpoint_card(&checkpoints)?.and_then(|c| c.provenance.parent),
        ),
        None => (init_model(&config, &vocab, args.seed, &device)?, None),
    };
    let mut card = init_card(&config, &vocab, args.seed);
    card.name = name.clone();
    card.version = version.clone();
    card.trained = true;
    let continued = parent.as_ref().map_or(String::new(), |p| {
        format!("{p} trained on for {} more steps (learning rate {:e}). ", loop_cfg.total_steps, args.lr)
    });
    let teachers = teacher_names(data.teacher_dim);
    card.description = format!(
        "{continued}DPNN distilled from musicnn ({teachers}) on {} free game-soundtrack, tracker and \
         MIDI-render tracks with {}. See README.md for data, metrics and limits (almost no sung vocals \
         in the training data).",
        data.corpus.tracks.len(),
        cfg.objective_summary()
    );
    card.provenance = Provenance {
        method: format!(
            "distilled (tuneatlas train distill): {}",
            serde_json::to_string(&cfg).unwrap_or_default()
        ),
        generator: format!("tuneatlas {} src/train/distill/", env!("CARGO_PKG_VERSION")),
        seed: Some(args.seed),
        teacher: Some(format!("musicnn 0.1.0 (Pons & Serra 2019, ISC): {teachers}")),
        data: Some(format!("shared/corpus/train.tsv: {} tracks (see README.md)", data.corpus.tracks.len())),
        parent: parent.clone(),
        licence: "GPL-3.0-or-later (training data licences in README.md)".into(),
    };

    if let Some(p) = &parent {
        eprintln!("starting from the weights of {p}");
    }
    eprintln!(
        "training {} steps ({} epochs × {steps_per_epoch}) of {} clips on {}; checkpoints in {}",
        loop_cfg.total_steps,
        args.epochs,
        cfg.tracks_per_batch * cfg.clips_per_track,
        device.description,
        checkpoints.display()
    );
    let mut objective = Distill::new(&data, cfg.clone(), args.seed, &device.device);
    let b = bar(loop_cfg.total_steps as u64, "steps");
    let mut on_event = |e: &TrainEvent| match e {
        TrainEvent::Started { start_step, .. } => b.set_position(*start_step as u64),
        TrainEvent::Step { step, loss, parts, items_per_s, .. } => {
            b.set_position(*step as u64);
            let p: Vec<String> = parts.iter().map(|(k, v)| format!("{k} {v:.3}")).collect();
            b.set_message(format!("loss {loss:.4} ({}) {items_per_s:.0} clips/s", p.join(", ")));
            if step % 50 == 0 {
                b.suspend(|| eprintln!("step {step}: loss {loss:.4} ({})", p.join(", ")));
            }
        }
        TrainEvent::Validation { step, metrics } => {
            b.suspend(|| print_figures(&format!("validation after step {step}"), metrics));
        }
        TrainEvent::Checkpoint { .. } => {}
    };
    let outcome = run(
        model,
        &card,
        &mut objective,
        &loop_cfg,
        &checkpoints,
        args.resume,
        &device,
        &cancel,
        &mut on_event,
    );
    b.finish_and_clear();
    let outcome = match outcome {
        Err(tuneatlas::Error::Cancelled) => {
            eprintln!(
                "stopped: the last step is saved in {}; run the same command with --resume to go on",
                checkpoints.display()
            );
            return Ok(());
        }
        other => other?,
    };
    eprintln!(
        "training took {:.1} min in this process, {:.1} min in all",
        outcome.seconds / 60.0,
        outcome.total_seconds / 60.0
    );

    // Final figures through the real inference path, next to the teachers'.
    if let Some((_, last)) = outcome.history.last() {
        for (k, v) in last {
            card.metrics.insert(format!("valid.{k}"), *v);
        }
    }
    card.metrics.insert("train.seconds".into(), outcome.total_seconds);
    let valid_clips: Vec<usize> = data.valid_clips.clone();
    for teacher in evaluate_teacher(&data.corpus, &valid_clips) {
        print_figures(&teacher.label, &teacher.figures);
        for (k, v) in teacher.figures {
            card.metrics.insert(format!("valid.{}.{k}", teacher.key), v);
        }
    }
    let names: Vec<String> = vocab.iter().map(|(_, _, t)| t.to_string()).collect();
    card.untaught = data.untaught_tags().into_iter().map(|j| names[j].clone()).collect();
    eprintln!(
        "untaught (fewer than {MIN_POSITIVE_CLIPS} positive training clips): {}",
        card.untaught.join(", ")
    );
    save_dir(&args.out, &card, &outcome.model.valid())?;
    // The validation list, so `tuneatlas eval` can reproduce the card's figures.
    let valid_list = args.out.join("valid.tsv");
    let mut text = String::from("rel_path\tsource\talbum\tartist\ttitle\tlicense\tduration_s\tkind\n");
    for &t in &valid_tracks {
        let tr = &data.corpus.tracks[t];
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            tr.rel_path,
            tr.source,
            tr.album,
            tr.artist,
            tr.title,
            tr.license,
            tr.duration_s.map(|d| format!("{d:.3}")).unwrap_or_default(),
            tr.kind
        ));
    }
    std::fs::write(&valid_list, text).with_context(|| format!("writing {}", valid_list.display()))?;
    let bundle = ModelBundle::read_dir(&args.out)?;
    println!("wrote {} ({}) to {}", bundle.card.name, bundle.card.version, args.out.display());
    Ok(())
}

/// Runs `tuneatlas eval`.
pub fn run_eval(args: &EvalArgs) -> anyhow::Result<()> {
    let tracks = read_track_list(&args.list)?;
    let corpus = match &args.targets {
        Some(dir) => Corpus::with_targets(&args.corpus.corpus, tracks, read_targets(dir)?)?,
        None => {
            let durations = measured_durations(&args.corpus.corpus, &tracks);
            Corpus::without_targets(&args.corpus.corpus, tracks, &durations)
        }
    };
    let cancel = super::cancel_on_ctrl_c("track");
    let store = features(&corpus, &args.corpus, &cancel)?;
    let clips: Vec<usize> = (0..corpus.clips.len()).filter(|&c| store.has(c)).collect();
    let mut embedder = Embedder::open(args.model.as_deref(), args.device)?;
    for n in embedder.take_notices() {
        eprintln!("note: {n}");
    }
    let n_albums = {
        let mut a: Vec<u32> = clips.iter().map(|&c| corpus.album_of_track[corpus.clips[c].track]).collect();
        a.sort_unstable();
        a.dedup();
        a.len()
    };
    println!(
        "{} tracks, {} clips, {} albums ({})",
        corpus.tracks.len(),
        clips.len(),
        n_albums,
        args.list.display()
    );
    let figures = evaluate_embedder(&corpus, &store, &clips, &mut embedder, args.tag_threshold)?;
    print_figures(&format!("{} (student)", embedder.model_version()), &figures);
    let teachers = evaluate_teacher(&corpus, &clips);
    for teacher in &teachers {
        print_figures(&teacher.label, &teacher.figures);
    }
    if args.record {
        let Some(dir) = &args.model else {
            bail!("--record needs --model DIR (the built-in model is read-only)")
        };
        let mut metrics: Vec<(String, f64)> =
            figures.iter().map(|(k, v)| (format!("valid.{k}"), *v)).collect();
        for t in &teachers {
            metrics.extend(t.figures.iter().map(|(k, v)| (format!("valid.{}.{k}", t.key), *v)));
        }
        record_metrics(dir, metrics)?;
        eprintln!("recorded these figures in {}", dir.join("model.toml").display());
    }
    Ok(())
}

/// Which musicnn models taught, from the width of the targets' penultimates:
/// the tag targets are always MSD_musicnn's and MTT_musicnn's; the geometry
/// terms learn from 400-d (those two) or 656-d (with MSD_vgg and MTT_vgg
/// appended, `models/dpnn-v2/vgg_teachers.sh`).
fn teacher_names(penultimate_dim: usize) -> String {
    use tuneatlas::train::eval::{ALL_FOUR_DIM, MUSICNN_PAIR_DIM};
    match penultimate_dim {
        0 | MUSICNN_PAIR_DIM => "MSD_musicnn + MTT_musicnn".into(),
        ALL_FOUR_DIM => {
            "MSD_musicnn + MTT_musicnn; their geometry together with MSD_vgg + MTT_vgg, 656-d penultimates"
                .into()
        }
        d => format!("MSD_musicnn + MTT_musicnn; the geometry of {d}-d teacher penultimates"),
    }
}

/// Replaces `metrics` in the card of the model directory `dir`, leaving the
/// weights (and so the card's weights hash) untouched; written through a
/// temporary file so a failure leaves the old card.
fn record_metrics(dir: &Path, metrics: Vec<(String, f64)>) -> anyhow::Result<()> {
    let path = dir.join(tuneatlas::model::record::CARD_FILE);
    let mut card = ModelBundle::read_dir(dir)?.card;
    card.metrics.extend(metrics);
    let tmp = dir.join(".model.toml.tmp");
    std::fs::write(&tmp, card.to_toml()?).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// Durations by decoding headers, for lists that do not give them (0 where
/// the file cannot be opened; its clips then fail with a message later).
fn measured_durations(root: &Path, tracks: &[tuneatlas::train::corpus::CorpusTrack]) -> Vec<f64> {
    tracks
        .iter()
        .map(|t| {
            if let Some(d) = t.duration_s {
                return d;
            }
            tuneatlas::audio::decode::AudioFile::open(&root.join(&t.rel_path))
                .map(|f| f.info().duration_s)
                .unwrap_or(0.0)
        })
        .collect()
}
