//! The hand-written training loop shared by distillation and fine-tuning.
//!
//! Why not burn's `Learner`: the loop has to run inside the GUI as well as
//! the CLI — progress as events, a cancel token, checkpoints a person can
//! resume after closing the laptop — and the batches are built by the
//! objective (online triplet mining needs the whole batch's embeddings), not
//! by a dataloader. So the loop is small and explicit:
//!
//! 1. the [`Objective`] builds step `s`'s batch *deterministically* from
//!    (seed, s) and returns the loss;
//! 2. backward, Adam step with a warm-up + cosine learning-rate schedule;
//! 3. every `checkpoint_every_steps` the model (a complete model directory),
//!    the optimizer state and the step are written atomically to
//!    `<out>/checkpoint/`; `resume` continues from there with identical
//!    batches, so an interrupted run ends with the same weights as an
//!    uninterrupted one up to floating-point reduction order.
//!
//! Non-finite losses or gradients stop the run with a message naming the
//! step (autodiff NaNs, once seen on a lavapipe stack, must never be
//! trained through silently), and the last checkpoint stays as it was.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::jobs::CancelToken;
use crate::model::backend::ComputeDevice;
use crate::model::dpnn::Dpnn;
use crate::model::record::{ModelBundle, ModelCard, first_non_finite, save_dir};
use crate::{Error, Result};

/// Name of the checkpoint folder inside a run's output folder.
pub const CHECKPOINT_DIR: &str = "checkpoint";
const OPTIMIZER_FILE: &str = "optimizer.bpk";
const STATE_FILE: &str = "state.json";

/// Optimisation settings of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopConfig {
    /// Optimizer steps in the whole run.
    pub total_steps: usize,
    /// Peak learning rate (Adam).
    pub learning_rate: f64,
    /// Linear warm-up steps before the cosine decay.
    pub warmup_steps: usize,
    /// Learning rate at the end, as a fraction of the peak.
    pub final_lr_fraction: f64,
    /// Decoupled L2 weight decay (Adam `weight_decay`), 0 for none.
    pub weight_decay: f32,
    /// Per-tensor gradient norm clip, 0 for none.
    pub grad_clip_norm: f32,
    /// Steps between checkpoints (0: only at the end).
    pub checkpoint_every_steps: usize,
    /// Steps between validations (0: only at the end).
    pub validate_every_steps: usize,
    /// Seed of every random choice of the run (data order, augmentation).
    pub seed: u64,
}

impl LoopConfig {
    /// The learning rate at `step` (0-based): linear warm-up to the peak,
    /// then cosine decay to `final_lr_fraction` of it.
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        let peak = self.learning_rate;
        if step < self.warmup_steps {
            return peak * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1);
        let t = ((step - self.warmup_steps) as f64 / span as f64).min(1.0);
        let floor = peak * self.final_lr_fraction;
        floor + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

/// What one step's objective returns.
pub struct StepLoss {
    /// The scalar to minimise (on the autodiff device).
    pub total: Tensor<1>,
    /// Named parts for display (already weighted), e.g. `("bce", 0.31)`.
    pub parts: Vec<(String, f32)>,
    /// Clips (or tracks) in the batch, for throughput figures.
    pub items: usize,
}

/// A training objective: builds batches and losses, and validates.
///
/// Why a trait: distillation (teacher tags + LSI triplets + penultimate
/// regression) and fine-tuning (user tags + LSI triplets) share the loop
/// but not their data or loss terms.
pub trait Objective {
    /// The loss of step `step`. Must be a pure function of the model, the
    /// step and the run's seed, so a resumed run repeats it — except for
    /// state an objective documents as refilled after a resume (the
    /// distillation's neighbour queue, src/train/relational.rs).
    fn loss(&mut self, model: &Dpnn, step: usize) -> Result<StepLoss>;

    /// Validation metrics of `model` (in validation mode: no autodiff, no
    /// dropout, BatchNorm running statistics), name → value, higher is better.
    fn validate(&mut self, model: &Dpnn) -> Result<Vec<(String, f64)>>;

    /// Asked after each validation: `true` ends the run there (early
    /// stopping; fine-tuning stops when validation precision stops
    /// improving). The default never stops.
    fn stop_early(&self) -> bool {
        false
    }
}

/// Progress of a run, for the CLI's progress bar and the GUI's plots.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainEvent {
    /// The run starts (or resumes) at `start_step`.
    Started {
        /// First step to run.
        start_step: usize,
        /// Steps in the whole run.
        total_steps: usize,
        /// The device, for display.
        device: String,
    },
    /// A step finished.
    Step {
        /// Steps done.
        step: usize,
        /// Steps in the whole run.
        total_steps: usize,
        /// Total loss.
        loss: f32,
        /// Its parts.
        parts: Vec<(String, f32)>,
        /// Learning rate used.
        learning_rate: f64,
        /// Items per second over the last step.
        items_per_s: f64,
    },
    /// Validation metrics after `step` steps.
    Validation {
        /// Steps done.
        step: usize,
        /// Name → value.
        metrics: Vec<(String, f64)>,
    },
    /// A checkpoint was written.
    Checkpoint {
        /// Steps done.
        step: usize,
        /// The checkpoint folder.
        dir: PathBuf,
    },
}

/// What a checkpoint remembers besides weights and optimizer state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CheckpointState {
    /// Steps done.
    step: usize,
    /// The run's loop settings (a resume with other settings is refused).
    config: LoopConfig,
    /// Validation history: (step, metrics).
    history: Vec<(usize, Vec<(String, f64)>)>,
    /// Seconds of training in the processes before this checkpoint
    /// (0 in checkpoints written before this field existed).
    #[serde(default)]
    seconds: f64,
}

/// The result of a run.
#[derive(Debug)]
pub struct RunOutcome {
    /// The trained network (training mode; call `valid()` for inference).
    pub model: Dpnn,
    /// Validation history: (step, metrics).
    pub history: Vec<(usize, Vec<(String, f64)>)>,
    /// Seconds spent in this process (not counting earlier, resumed parts).
    pub seconds: f64,
    /// Seconds of the whole run: this process plus the ones it resumed
    /// from (what a model card reports as its training time).
    pub total_seconds: f64,
    /// The step at which [`Objective::stop_early`] ended the run, if it did.
    pub stopped_early_at: Option<usize>,
}

fn write_checkpoint(
    out_dir: &Path,
    card: &ModelCard,
    model: &Dpnn,
    optim: &ModuleOptimizer,
    state: &CheckpointState,
) -> Result<PathBuf> {
    let final_dir = out_dir.join(CHECKPOINT_DIR);
    let tmp = out_dir.join(format!("{CHECKPOINT_DIR}.tmp"));
    let old = out_dir.join(format!("{CHECKPOINT_DIR}.old"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(Error::io("remove", &tmp))?;
    }
    save_dir(&tmp, card, &model.valid())?;
    let opt_path = tmp.join(OPTIMIZER_FILE);
    optim.save(&opt_path).map_err(|e| {
        Error::Invalid(format!("cannot save the optimizer state ({e}): {}", opt_path.display()))
    })?;
    let state_path = tmp.join(STATE_FILE);
    let json = serde_json::to_string_pretty(state).map_err(|e| Error::Invalid(e.to_string()))?;
    std::fs::write(&state_path, json).map_err(Error::io("write", &state_path))?;
    // Swap in: the previous checkpoint stays valid until the new one is complete.
    if final_dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(Error::io("remove", &old))?;
        }
        std::fs::rename(&final_dir, &old).map_err(Error::io("rename", &final_dir))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(Error::io("rename", &tmp))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(Error::io("remove", &old))?;
    }
    Ok(final_dir)
}

/// Reads `<out_dir>/checkpoint/` (or the `.old` one a crash mid-swap left).
fn read_checkpoint(
    out_dir: &Path,
    device: &ComputeDevice,
) -> Result<Option<(Dpnn, PathBuf, CheckpointState)>> {
    for name in [CHECKPOINT_DIR.to_string(), format!("{CHECKPOINT_DIR}.old")] {
        let dir = out_dir.join(name);
        let state_path = dir.join(STATE_FILE);
        if !state_path.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&state_path).map_err(Error::io("read", &state_path))?;
        let state: CheckpointState = serde_json::from_str(&text).map_err(|e| {
            Error::Invalid(format!("the checkpoint state is unreadable ({e}): {}", state_path.display()))
        })?;
        let model = ModelBundle::read_dir(&dir)?.instantiate(device)?;
        return Ok(Some((model, dir.join(OPTIMIZER_FILE), state)));
    }
    Ok(None)
}

/// The model card of the checkpoint in `out_dir`, if there is one: a
/// resumed run keeps what only its first process knew (e.g. the parent
/// version of a run started from other weights).
///
/// # Errors
/// The checkpoint's card exists but cannot be read.
pub fn checkpoint_card(out_dir: &Path) -> Result<Option<ModelCard>> {
    for name in [CHECKPOINT_DIR.to_string(), format!("{CHECKPOINT_DIR}.old")] {
        let dir = out_dir.join(name);
        if dir.join(STATE_FILE).exists() {
            return Ok(Some(ModelBundle::read_dir(&dir)?.card));
        }
    }
    Ok(None)
}

fn build_optimizer(cfg: &LoopConfig) -> ModuleOptimizer {
    let mut adam = AdamConfig::new();
    if cfg.weight_decay > 0.0 {
        adam = adam.with_weight_decay(Some(burn::optim::decay::WeightDecayConfig::new(cfg.weight_decay)));
    }
    if cfg.grad_clip_norm > 0.0 {
        adam = adam.with_grad_clipping(Some(burn::optim::grad_clipping::GradientClippingConfig::Norm(
            cfg.grad_clip_norm,
        )));
    }
    adam.init()
}

/// Runs (or resumes) a training run.
///
/// `model` is the starting network on `device` (ignored when resuming from a
/// checkpoint in `out_dir`); `card` describes it and is what checkpoints are
/// saved with. Events go to `on_event`. Cancelling stops after the current
/// step and writes a checkpoint first, so nothing done is lost.
#[allow(clippy::too_many_arguments)]
pub fn run(
    model: Dpnn,
    card: &ModelCard,
    objective: &mut dyn Objective,
    cfg: &LoopConfig,
    out_dir: &Path,
    resume: bool,
    device: &ComputeDevice,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<RunOutcome> {
    std::fs::create_dir_all(out_dir).map_err(Error::io("create directory", out_dir))?;
    let mut optim = build_optimizer(cfg);
    let mut state = CheckpointState { step: 0, config: cfg.clone(), history: Vec::new(), seconds: 0.0 };
    let mut model = model;
    if resume {
        match read_checkpoint(out_dir, device)? {
            Some((m, opt_path, saved)) => {
                if saved.config != *cfg {
                    return Err(Error::Invalid(format!(
                        "the checkpoint in {} was made with other training settings; resume with the same \
                         settings or start a new run in another folder",
                        out_dir.display()
                    )));
                }
                optim = optim.load(&opt_path).map_err(|e| {
                    Error::Invalid(format!("cannot read the optimizer state ({e}): {}", opt_path.display()))
                })?;
                model = m;
                state = saved;
            }
            None => {
                return Err(Error::Invalid(format!(
                    "--resume: there is no checkpoint in {}",
                    out_dir.join(CHECKPOINT_DIR).display()
                )));
            }
        }
    } else if out_dir.join(CHECKPOINT_DIR).exists() {
        return Err(Error::Invalid(format!(
            "{} already holds a checkpoint: pass --resume to continue it, or choose another output folder",
            out_dir.display()
        )));
    }
    let mut model = model.train();
    on_event(&TrainEvent::Started {
        start_step: state.step,
        total_steps: cfg.total_steps,
        device: device.description.clone(),
    });
    let started = Instant::now();
    let earlier_seconds = state.seconds;
    while state.step < cfg.total_steps {
        state.seconds = earlier_seconds + started.elapsed().as_secs_f64();
        if cancel.is_cancelled() {
            let dir = write_checkpoint(out_dir, card, &model, &optim, &state)?;
            on_event(&TrainEvent::Checkpoint { step: state.step, dir });
            return Err(Error::Cancelled);
        }
        let t0 = Instant::now();
        let step = state.step;
        let loss = objective.loss(&model, step)?;
        let loss_value: f32 = loss.total.clone().into_scalar();
        if !loss_value.is_finite() {
            return Err(Error::Invalid(format!(
                "the loss became {loss_value} at step {step} (parts {:?}); the last checkpoint in {} is intact. \
                 Try a lower learning rate or the CPU backend (--device cpu)",
                loss.parts,
                out_dir.display()
            )));
        }
        let grads = GradientsParams::from_grads(loss.total.backward(), &model);
        let lr = cfg.learning_rate_at(step);
        let next = optim.step(lr, model.clone(), grads);
        if let Some(bad) = first_non_finite(&next) {
            return Err(Error::Invalid(format!(
                "the gradients made parameter {bad} non-finite at step {step}; the last checkpoint in {} is \
                 intact. Try a lower learning rate or the CPU backend (--device cpu)",
                out_dir.display()
            )));
        }
        model = next;
        state.step += 1;
        let secs = t0.elapsed().as_secs_f64();
        on_event(&TrainEvent::Step {
            step: state.step,
            total_steps: cfg.total_steps,
            loss: loss_value,
            parts: loss.parts,
            learning_rate: lr,
            items_per_s: loss.items as f64 / secs.max(1e-9),
        });
        let mut last = state.step == cfg.total_steps;
        let mut stopped_early_at = None;
        if last || (cfg.validate_every_steps > 0 && state.step.is_multiple_of(cfg.validate_every_steps)) {
            let metrics = objective.validate(&model.valid())?;
            on_event(&TrainEvent::Validation { step: state.step, metrics: metrics.clone() });
            state.history.push((state.step, metrics));
            if !last && objective.stop_early() {
                stopped_early_at = Some(state.step);
                last = true;
            }
        }
        state.seconds = earlier_seconds + started.elapsed().as_secs_f64();
        if last || (cfg.checkpoint_every_steps > 0 && state.step.is_multiple_of(cfg.checkpoint_every_steps)) {
            let dir = write_checkpoint(out_dir, card, &model, &optim, &state)?;
            on_event(&TrainEvent::Checkpoint { step: state.step, dir });
        }
        if stopped_early_at.is_some() {
            return Ok(RunOutcome {
                model,
                history: state.history,
                seconds: started.elapsed().as_secs_f64(),
                total_seconds: earlier_seconds + started.elapsed().as_secs_f64(),
                stopped_early_at,
            });
        }
    }
    Ok(RunOutcome {
        model,
        history: state.history,
        seconds: started.elapsed().as_secs_f64(),
        total_seconds: earlier_seconds + started.elapsed().as_secs_f64(),
        stopped_early_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_the_floor() {
        let cfg = LoopConfig {
            total_steps: 110,
            learning_rate: 1e-3,
            warmup_steps: 10,
            final_lr_fraction: 0.1,
            weight_decay: 0.0,
            grad_clip_norm: 0.0,
            checkpoint_every_steps: 0,
            validate_every_steps: 0,
            seed: 0,
        };
        assert!((cfg.learning_rate_at(0) - 1e-4).abs() < 1e-12);
        assert!((cfg.learning_rate_at(9) - 1e-3).abs() < 1e-12);
        assert!((cfg.learning_rate_at(10) - 1e-3).abs() < 1e-12);
        assert!((cfg.learning_rate_at(60) - 0.55e-3).abs() < 1e-9);
        assert!((cfg.learning_rate_at(110) - 1e-4).abs() < 1e-12);
        assert!((1..110).all(|s| cfg.learning_rate_at(s) <= cfg.learning_rate_at(s.min(9)) + 1e-15));
    }
}
