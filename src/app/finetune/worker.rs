//! The fine-tuning window's background work: the LSI preview
//! (`ta-gui-lsi`), the run (`ta-gui-finetune`: train, then re-embed), resuming
//! a re-embedding (`ta-gui-reembed`) and deleting a version (`ta-gui-delete`),
//! and turning what those threads send into the window's state.

use super::*;

impl FineTunePanel {
    /// Opens the window (the menu item).
    pub fn open(&mut self) {
        self.open = true;
    }

    /// True while fine-tuning or re-embedding runs.
    pub fn is_running(&self) -> bool {
        self.run.as_ref().is_some_and(RunView::is_running)
    }

    /// Cancels a running fine-tune or re-embedding and waits up to `wait`
    /// for its thread to end, so closing the window leaves no scratch
    /// folder behind and the current model untouched (the run writes its
    /// model only once training finished).
    pub fn shutdown(&mut self, wait: std::time::Duration) {
        let Some(run) = &mut self.run else { return };
        let Some(rx) = run.rx.take() else { return };
        run.cancel.cancel();
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            // The thread's sender goes when it ends: a disconnect (or the deadline) ends the wait.
            if rx.recv_timeout(left).is_err() {
                break;
            }
        }
    }

    /// Recomputes the preview when its inputs changed and none is under way.
    pub(super) fn refresh_preview(&mut self, ctx: &egui::Context, db: &Path, generation: u64) {
        if let Some(job) = &self.preview_job {
            match job::poll(&job.rx) {
                Polled::Message(out) => {
                    self.preview_key = Some(job.key.clone());
                    self.preview_job = None;
                    if !self.sets_known {
                        self.sets_known = true;
                        self.settings.sets =
                            out.sets.iter().filter(|s| s.tracks > 0).map(|s| s.name.clone()).collect();
                    }
                    self.sets = out.sets;
                    self.default_topics = out.default_topics;
                    if let (Some(d), true) = (out.default_topics, self.settings.topics_auto) {
                        self.settings.topics = d;
                    }
                    self.preview = Some(out.view);
                }
                Polled::Nothing => return,
                Polled::Gone => {
                    self.preview_job = None;
                    self.preview = Some(Err("the preview thread stopped unexpectedly".to_owned()));
                }
            }
        }
        let key = self.settings.preview_key(generation);
        if self.preview_key.as_ref() == Some(&key) {
            return;
        }
        let (db, job_key) = (db.to_path_buf(), key.clone());
        let spawned = job::spawn("ta-gui-lsi", ctx, move |reply| reply.send(compute_preview(&db, &job_key)));
        match spawned {
            Ok(rx) => self.preview_job = Some(PreviewJob { key, rx }),
            Err(e) => {
                self.preview_key = Some(key);
                self.preview = Some(Err(format!("cannot start the preview thread: {e}")));
            }
        }
    }

    /// True when the preview, computed on every training track (not a
    /// sample), shows that a run would find no triplets: Start would only
    /// fail after the feature extraction.
    pub(super) fn preview_blocks(&self) -> bool {
        matches!(&self.preview, Some(Ok(v)) if v.blocks_training() && v.n_pair_tracks == v.n_tracks)
    }

    /// Starts fine-tuning `parent` (the version shown; `None`: built-in).
    pub(super) fn start(&mut self, ctx: &egui::Context, db: &Path, parent: Option<String>) {
        self.message = None;
        self.confirm_delete = false;
        self.compare = None;
        let cancel = CancelToken::new();
        let parent_name = parent.clone().unwrap_or_else(|| "the built-in model".to_owned());
        let (db, cfg, job_cancel) = (db.to_path_buf(), self.settings.config(), cancel.clone());
        let spawned = job::spawn("ta-gui-finetune", ctx, move |reply| {
            run_thread(&db, parent, cfg, &job_cancel, &reply)
        });
        match spawned {
            Ok(rx) => self.run = Some(RunView::new(rx, cancel, parent_name, Stage::Preparing)),
            Err(e) => self.message = Some(format!("cannot start the fine-tuning thread: {e}")),
        }
    }

    /// Re-embeds the library with the run's new version (after a cancel).
    pub(super) fn resume_embedding(&mut self, ctx: &egui::Context, db: &Path) {
        let Some(run) = &mut self.run else { return };
        let Some(trained) = &run.trained else { return };
        let cancel = CancelToken::new();
        let (db, version, job_cancel) = (db.to_path_buf(), trained.version.clone(), cancel.clone());
        let spawned = job::spawn("ta-gui-reembed", ctx, move |reply| {
            let end = embed_thread(&db, &version, &job_cancel, &reply);
            reply.send(RunMsg::Embedded(end));
        });
        match spawned {
            Ok(rx) => {
                run.rx = Some(rx);
                run.cancel = cancel;
                run.stage = Stage::Embedding;
                run.embed_end = None;
            }
            Err(e) => self.message = Some(format!("cannot start re-embedding: {e}")),
        }
    }

    /// Deletes the run's new version on the `ta-gui-delete` thread.
    pub(super) fn delete(&mut self, ctx: &egui::Context, db: &Path, version: String) {
        self.compare = None; // its map jobs must not write a layout meanwhile
        let db = db.to_path_buf();
        let spawned = job::spawn("ta-gui-delete", ctx, move |reply| {
            let result = Store::open(&db)
                .and_then(|mut store| delete_version(&mut store, &db, &version))
                .map_err(|e| e.to_string());
            reply.send(result);
        });
        match spawned {
            Ok(rx) => self.deleting = Some(rx),
            Err(e) => self.message = Some(format!("cannot start deleting: {e}")),
        }
    }

    /// Takes finished background work; returns what the app must do.
    pub(super) fn poll(&mut self, ctx: &egui::Context) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Some(run) = &mut self.run {
            if run.drain() {
                actions.push(Action::Reload);
            }
            if run.is_running() {
                ctx.request_repaint_after(TICK_INTERVAL);
            }
        }
        if let Some(rx) = &self.deleting {
            match job::poll(rx) {
                Polled::Message(result) => {
                    self.deleting = None;
                    match result {
                        Ok(n) => {
                            if let Some(run) = &mut self.run {
                                run.deleted = true;
                                run.notices
                                    .push(format!("Deleted the new version and its {n} track vectors."));
                            }
                            actions.push(Action::Reload);
                        }
                        Err(e) => self.message = Some(format!("The version could not be deleted: {e}")),
                    }
                }
                Polled::Nothing => {}
                Polled::Gone => self.deleting = None,
            }
        }
        if let Some(compare) = &mut self.compare {
            for side in &mut compare.sides {
                if let Some(job) = &mut side.job
                    && let Some(result) = job.poll()
                {
                    side.job = None;
                    match result {
                        Ok(map) => {
                            side.points =
                                map.layout.points().iter().map(|c| (c.track_id, [c.x, -c.y])).collect();
                        }
                        Err(e) => side.error = Some(e),
                    }
                }
            }
        }
        actions
    }
}

/// Set sizes and the LSI view for `key` (the preview thread's work).
fn compute_preview(db: &Path, key: &PreviewKey) -> PreviewOut {
    let store = match Store::open_read_only(db) {
        Ok(s) => s,
        Err(e) => return PreviewOut { sets: Vec::new(), default_topics: None, view: Err(e.to_string()) },
    };
    let mut sets = Vec::new();
    for name in store.tag_sets().unwrap_or_default() {
        let rows = store.all_user_tags(Some(&name)).unwrap_or_default();
        let mut tracks: Vec<i64> = rows.iter().map(|r| r.0).collect();
        tracks.dedup();
        let mut tags: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
        tags.sort_unstable();
        tags.dedup();
        sets.push(SetInfo { name, tracks: tracks.len(), tags: tags.len() });
    }
    let settings = LsiViewSettings {
        topics: key.topics,
        positive_min_cos: key.positive_min_cos,
        negative_max_cos: key.negative_max_cos,
        ..LsiViewSettings::default()
    };
    match TaggedTracks::read(&store, &key.sets) {
        Ok(tagged) => PreviewOut {
            sets,
            default_topics: Some(default_topics(&tagged)),
            view: LsiView::of_tagged(&tagged, &settings).map_err(|e| e.to_string()),
        },
        Err(e) => PreviewOut { sets, default_topics: None, view: Err(e.to_string()) },
    }
}

/// The `ta-gui-finetune` thread: fine-tune, then re-embed the library.
fn run_thread(
    db: &Path,
    parent: Option<String>,
    cfg: FineTuneConfig,
    cancel: &CancelToken,
    reply: &Reply<RunMsg>,
) {
    let send = |m: RunMsg| reply.send(m);
    let trained = (|| {
        let mut store = Store::open(db)?;
        let req = FineTuneRequest::for_library(db, bundle_of_version(db, parent.as_deref())?, cfg, None);
        // A real GPU trains through wgpu (the CPU if it fails); without one
        // (or with only a software adapter such as lavapipe, ~30× slower
        // here) the CPU does.
        let device = select_device(DeviceChoice::Auto)?;
        fine_tune_or_cpu(&mut store, &req, &device, cancel, &mut |e| send(RunMsg::Event(e.clone())))
    })();
    let outcome = match trained {
        Ok(o) => o,
        Err(e) => {
            let message = match e {
                crate::Error::Cancelled => format!(
                    "Fine-tuning cancelled: no model was written; {} is unchanged and still in use.",
                    parent.as_deref().unwrap_or("the built-in model")
                ),
                crate::Error::BadTags(problem) => format!("Cannot fine-tune on these tags: {problem}."),
                other => format!("Fine-tuning failed: {other}"),
            };
            send(RunMsg::Failed { message });
            return;
        }
    };
    let steps_line = format!(
        "Trained {} steps in {:.0} s{}{}.",
        outcome.steps,
        outcome.train_seconds,
        outcome.stopped_early_at.map_or(String::new(), |s| format!(", stopped early after step {s}")),
        match outcome.best_step {
            Some(0) => ", no step beat the starting model (its weights are kept)".to_owned(),
            Some(s) => format!(", kept the weights of step {s}"),
            None => String::new(),
        }
    );
    let version = outcome.card.version.clone();
    send(RunMsg::Trained(Box::new(Trained {
        version: version.clone(),
        parent: outcome.card.provenance.parent.clone().unwrap_or_default(),
        table: outcome.table,
        line: steps_line,
    })));
    let end = embed_thread(db, &version, cancel, reply);
    send(RunMsg::Embedded(end));
}

/// Re-embeds every track without a vector for `version` (resumable).
fn embed_thread(db: &Path, version: &str, cancel: &CancelToken, reply: &Reply<RunMsg>) -> EmbedEnd {
    let result = embed_missing(db, Some(&crate::config::model_dir(db, version)), cancel, |p| {
        reply.send(match p {
            EmbedProgress::Total(n) => RunMsg::EmbedTotal(n),
            EmbedProgress::Step { failed } => RunMsg::EmbedStep { failed },
            EmbedProgress::Notice(n) => RunMsg::Notice(n),
        });
    });
    match result {
        Ok(s) if s.status == RunStatus::Cancelled => EmbedEnd::Cancelled(format!(
            "Re-embedding cancelled after {} tracks; the new version is kept and re-embedding can resume.",
            s.n_embedded
        )),
        Ok(s) => EmbedEnd::Done(format!(
            "Re-embedded {} tracks with {} in {:.0} s{}.",
            s.n_embedded,
            s.model_version,
            s.elapsed_s,
            if s.failures.is_empty() { String::new() } else { format!(" ({} failed)", s.failures.len()) }
        )),
        Err(crate::Error::Cancelled) => EmbedEnd::Cancelled(
            "Re-embedding cancelled; the new version is kept and re-embedding can resume.".to_owned(),
        ),
        Err(e) => EmbedEnd::Failed(format!("Re-embedding failed: {e}")),
    }
}
