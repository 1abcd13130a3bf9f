//! One fine-tuning run from request to registered model version: naming
//! and checking the version, the scratch folder, preparing the data,
//! training, the before/after table, and writing the model atomically.

use super::*;

/// Progress of [`fine_tune`].
#[derive(Debug, Clone, PartialEq)]
pub enum FineTuneEvent {
    /// The tags were read and split; features come next.
    Prepared {
        /// One line: tracks, tags, sets, split, topics.
        summary: String,
    },
    /// Log-mel features of one more track are ready.
    Features(CacheProgress),
    /// The starting model's validation figures (the score to beat).
    Baseline(Vec<(String, f64)>),
    /// The training loop's own events.
    Train(TrainEvent),
    /// Something the user should know (decode failures, no improvement…).
    Notice(String),
}

/// What a fine-tuning run needs besides the library.
#[derive(Debug, Clone)]
pub struct FineTuneRequest {
    /// The model to start from (its weights are only read).
    pub parent: ModelBundle,
    /// The settings.
    pub cfg: FineTuneConfig,
    /// Where model versions live (`config::models_dir`); the new one goes to `<models_dir>/<version>/`.
    pub models_dir: PathBuf,
    /// Scratch folder of this run (feature cache, checkpoints); removed at the end.
    pub work_dir: PathBuf,
    /// The new version's name; `None`: `<parent version>-ft<unix time>`.
    pub version: Option<String>,
}

impl FineTuneRequest {
    /// A run on the library at `db`, as the window and `tuneatlas finetune`
    /// start it: the new version goes to the library's model folder
    /// ([`crate::config::models_dir`]), the scratch folder beside it.
    pub fn for_library(db: &Path, parent: ModelBundle, cfg: FineTuneConfig, version: Option<String>) -> Self {
        Self::in_models_dir(crate::config::models_dir(db), parent, cfg, version)
    }

    /// A run whose versions go to `models_dir`, with the scratch folder
    /// `<models_dir>/.work-<process id>`: one live run per process, and a
    /// name [`sweep_stale`] recognises once the process is gone.
    pub fn in_models_dir(
        models_dir: PathBuf,
        parent: ModelBundle,
        cfg: FineTuneConfig,
        version: Option<String>,
    ) -> Self {
        let work_dir =
            models_dir.join(format!("{}{}", crate::train::scratch::SCRATCH_PREFIX, std::process::id()));
        FineTuneRequest { parent, cfg, models_dir, work_dir, version }
    }
}

/// The result of [`fine_tune`].
#[derive(Debug)]
pub struct FineTuneOutcome {
    /// The new model directory.
    pub model_dir: PathBuf,
    /// Its card (version, parent, metrics).
    pub card: ModelCard,
    /// Held-out P@k before and after (empty rows when the library is too small for a test split).
    pub table: PrecisionTable,
    /// Validation history: (step, metrics).
    pub history: Vec<(usize, Vec<(String, f64)>)>,
    /// Seconds in the training loop.
    pub train_seconds: f64,
    /// Steps run.
    pub steps: usize,
    /// Triplets mined over the run (for throughput figures).
    pub triplets: usize,
    /// Tracks fed through the network in training (batch size × steps).
    pub tracks_seen: usize,
    /// The step whose weights were kept (`Some(0)`: the parent's, nothing beat it).
    pub best_step: Option<usize>,
    /// The step early stopping ended the run at, if it did.
    pub stopped_early_at: Option<usize>,
    /// Tracks left out because their audio failed to decode.
    pub failures: Vec<(PathBuf, String)>,
}

/// Fine-tunes `req.parent` on the library's tags and registers the result
/// as a new model version (see the module docs). Cancelling (or any error)
/// writes no model and registers nothing.
///
/// # Errors
/// [`Error::BadTags`] for tags that cannot train, [`Error::Cancelled`],
/// an existing model directory of the same version, device or store failures.
pub fn fine_tune(
    store: &mut Store,
    req: &FineTuneRequest,
    device: &ComputeDevice,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(&FineTuneEvent),
) -> Result<FineTuneOutcome> {
    let parent_card = &req.parent.card;
    let version = match &req.version {
        Some(v) => v.clone(),
        None => {
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            format!("{}-ft{now}", parent_card.version)
        }
    };
    if version.is_empty() || version.contains(['/', '\\']) || version.starts_with('.') {
        return Err(Error::Invalid(format!(
            "\"{version}\" cannot name a model version (no slashes, no leading dot)"
        )));
    }
    let model_dir = req.models_dir.join(&version);
    if model_dir.exists() || store.models()?.iter().any(|m| m.version == version) {
        return Err(Error::Invalid(format!(
            "model version {version} already exists; choose another name: {}",
            model_dir.display()
        )));
    }
    let scratch = ScratchDir::claim(&req.work_dir)?;
    for stale in sweep_stale(&req.models_dir, scratch.path()) {
        on_event(&FineTuneEvent::Notice(format!(
            "removed the scratch folder of a run that did not finish: {}",
            stale.display()
        )));
    }
    let target = Target { version, model_dir };
    let result = run_in_work_dir(store, req, &target, device, cancel, on_event);
    // The scratch folder (features, checkpoints) is per run: gone either way.
    drop(scratch);
    let _ = std::fs::remove_dir_all(&req.work_dir);
    result
}

/// [`fine_tune`] on `device`, and once more on the CPU when a run on wgpu
/// fails for another reason than the tags or a cancel (a notice says so).
///
/// Why: `--device auto` and the fine-tuning window (which offers no device
/// choice) take a real GPU where there is one, and a GPU driver can fail
/// where the CPU backend does not (out of memory, non-finite gradients); a
/// user who forced the GPU gets the error instead.
///
/// # Errors
/// As [`fine_tune`], from the CPU run after a failed GPU run.
pub fn fine_tune_or_cpu(
    store: &mut Store,
    req: &FineTuneRequest,
    device: &ComputeDevice,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(&FineTuneEvent),
) -> Result<FineTuneOutcome> {
    match fine_tune(store, req, device, cancel, on_event) {
        Err(e) if device.is_wgpu() && !matches!(e, Error::Cancelled | Error::BadTags(_)) => {
            on_event(&FineTuneEvent::Notice(format!(
                "training on {} failed ({e}); trying again on the CPU",
                device.description
            )));
            fine_tune(store, req, &ComputeDevice::cpu(), cancel, on_event)
        }
        other => other,
    }
}

/// The new version's name and folder, checked free before anything runs.
struct Target {
    version: String,
    model_dir: PathBuf,
}

/// Training and saving, once the scratch folder is claimed.
fn run_in_work_dir(
    store: &mut Store,
    req: &FineTuneRequest,
    target: &Target,
    device: &ComputeDevice,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(&FineTuneEvent),
) -> Result<FineTuneOutcome> {
    let cfg = &req.cfg;
    let parent_card = &req.parent.card;
    let data = prepare_data(store, req, cancel, on_event)?;

    let parent = req.parent.instantiate(device)?;
    let before_vectors = data.track_vectors(&parent.valid(), &device.device, &data.split.test);
    let model = cfg.layers.apply(parent.clone());
    let mut objective = FineTune::new(&data, cfg.clone(), &device.device);
    let baseline = objective.set_baseline(&parent.valid());
    if !baseline.is_empty() {
        on_event(&FineTuneEvent::Baseline(baseline));
    }
    let mut card = child_card(req, &data, &target.version);
    let checkpoints = req.work_dir.join("checkpoints");
    if checkpoints.exists() {
        std::fs::remove_dir_all(&checkpoints).map_err(Error::io("remove", &checkpoints))?;
    }
    let mut triplets = 0usize;
    let mut steps = 0usize;
    let mut forward = |e: &TrainEvent| {
        if let TrainEvent::Step { step, parts, .. } = e {
            steps = *step;
            triplets += parts.iter().find(|(k, _)| k == "triplets").map_or(0, |(_, v)| *v as usize);
        }
        on_event(&FineTuneEvent::Train(e.clone()));
    };
    let loop_cfg = loop_config(cfg, &data);
    let outcome =
        run(model, &card, &mut objective, &loop_cfg, &checkpoints, false, device, cancel, &mut forward)?;
    let batch = data.batch_tracks(cfg);
    let (best_model, best) = objective.into_best();
    let final_model = match (best_model, best) {
        (Some(m), _) => m,
        (None, Some(_)) => {
            on_event(&FineTuneEvent::Notice(
                "no epoch beat the starting model's validation P@10: the new version keeps the parent's weights"
                    .into(),
            ));
            parent.valid()
        }
        (None, None) => outcome.model.valid(),
    };
    let after_vectors = data.track_vectors(&final_model, &device.device, &data.split.test);
    let table = evaluate_split(
        &data,
        &data.split.test,
        &before_vectors,
        &after_vectors,
        &parent_card.version,
        &target.version,
    );
    for (key, value) in table.card_metrics() {
        card.metrics.insert(key, value);
    }
    card.metrics.insert("finetune.train_seconds".into(), outcome.seconds);
    if let Some((p, step)) = best {
        card.metrics.insert("finetune.valid_p10".into(), p);
        card.metrics.insert("finetune.best_step".into(), step as f64);
    }
    let card = save_version(store, req, target, &card, &final_model)?;
    Ok(FineTuneOutcome {
        model_dir: target.model_dir.clone(),
        card,
        table,
        history: outcome.history,
        train_seconds: outcome.seconds,
        steps,
        triplets,
        tracks_seen: steps * batch,
        best_step: best.map(|(_, s)| s),
        stopped_early_at: outcome.stopped_early_at,
        failures: data.failures.clone(),
    })
}

/// Reads, splits and checks the tags and caches the log-mels, forwarding
/// feature progress and what the user should know about the data.
fn prepare_data(
    store: &Store,
    req: &FineTuneRequest,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(&FineTuneEvent),
) -> Result<FineTuneData> {
    // The feature workers report from their own threads; `on_event` is not
    // `Sync`, so their progress crosses a channel and is forwarded here.
    let (tx, rx) = std::sync::mpsc::channel::<CacheProgress>();
    let data = {
        let tx = std::sync::Mutex::new(tx);
        let progress = move |p: &CacheProgress| {
            if let Ok(tx) = tx.lock() {
                let _ = tx.send(p.clone());
            }
        };
        let prepared =
            FineTuneData::prepare(store, &req.cfg, &req.work_dir.join("features"), cancel, &progress);
        for p in rx.try_iter() {
            on_event(&FineTuneEvent::Features(p));
        }
        prepared?
    };
    on_event(&FineTuneEvent::Prepared {
        summary: format!(
            "{} tagged tracks, {} tags in set(s) {}; {} train / {} validation / {} held-out; \
             {} LSI topics ({} asked)",
            data.tagged.tracks.len(),
            data.tagged.tags.len(),
            data.tagged.sets.join(", "),
            data.split.train.len(),
            data.split.valid.len(),
            data.split.test.len(),
            data.lsi.n_topics(),
            data.lsi.n_topics_requested()
        ),
    });
    for (path, reason) in &data.failures {
        on_event(&FineTuneEvent::Notice(format!("left out (cannot decode): {reason}: {}", path.display())));
    }
    Ok(data)
}

/// The training loop's settings: warm-up over the first tenth (at most an
/// epoch), validation once per epoch when there are validation tracks.
fn loop_config(cfg: &FineTuneConfig, data: &FineTuneData) -> LoopConfig {
    let spe = data.steps_per_epoch(cfg);
    let total_steps = cfg.epochs.max(1) * spe;
    LoopConfig {
        total_steps,
        learning_rate: cfg.learning_rate,
        warmup_steps: (total_steps / 10).clamp(1, spe),
        final_lr_fraction: 0.1,
        weight_decay: 0.0,
        grad_clip_norm: 5.0,
        checkpoint_every_steps: 0,
        validate_every_steps: if data.split.valid.len() >= 2 { spe } else { 0 },
        seed: cfg.seed,
    }
}

/// The new version's card: the parent's, renamed, with what this run did
/// (metrics are filled in after training).
fn child_card(req: &FineTuneRequest, data: &FineTuneData, version: &str) -> ModelCard {
    let (cfg, parent_card) = (&req.cfg, &req.parent.card);
    let (n_tracks, n_tags) = (data.tagged.tracks.len(), data.tagged.tags.len());
    let mut card = parent_card.clone();
    card.name = version.to_string();
    card.version = version.to_string();
    card.trained = true;
    card.description = format!(
        "{} fine-tuned on the library's own tags ({} tagged tracks, set(s) {}) with LSI triplets ({} layers).",
        parent_card.version,
        n_tracks,
        data.tagged.sets.join(", "),
        cfg.layers
    );
    card.provenance = Provenance {
        method: format!(
            "fine-tuned (tuneatlas finetune): {}",
            serde_json::to_string(cfg).unwrap_or_default()
        ),
        generator: format!("tuneatlas {} src/train/finetune/", env!("CARGO_PKG_VERSION")),
        seed: Some(cfg.seed),
        teacher: parent_card.provenance.teacher.clone(),
        data: Some(format!("{n_tracks} tagged tracks of the user's library; {n_tags} tags")),
        parent: Some(parent_card.version.clone()),
        licence: parent_card.provenance.licence.clone(),
    };
    card.metrics.clear();
    card
}

/// Writes the model beside its final place, renames it there (a crash
/// never leaves half a model) and registers the version in the library.
fn save_version(
    store: &mut Store,
    req: &FineTuneRequest,
    target: &Target,
    card: &ModelCard,
    model: &Dpnn,
) -> Result<ModelCard> {
    std::fs::create_dir_all(&req.models_dir).map_err(Error::io("create directory", &req.models_dir))?;
    let tmp = req.models_dir.join(format!(".{}.tmp", target.version));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(Error::io("remove", &tmp))?;
    }
    let card = save_dir(&tmp, card, model)?;
    std::fs::rename(&tmp, &target.model_dir).map_err(Error::io("rename", &tmp))?;
    store.register_model(&ModelRow {
        version: card.version.clone(),
        name: card.name.clone(),
        parent: card.provenance.parent.clone(),
        config_json: serde_json::to_string(&card.config).unwrap_or_default(),
    })?;
    Ok(card)
}
