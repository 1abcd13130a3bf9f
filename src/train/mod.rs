//! Training the DPNN: distillation from the musicnn teachers and fine-tuning
//! on the user's own tags (ARCHITECTURE.md §4).
//!
//! Why one module for both: the paper's method is the same in both places —
//! tags projected into an LSI space pick triplets online, and a hand-written
//! burn training loop (progress events, cancel, checkpoints, resume) runs
//! them. Distillation feeds it teacher tags on the shipped corpus; the
//! fine-tuning feeds it the user's tags on their library.
//!
//! - [`corpus`]: track list, teacher targets, validation split;
//! - [`features`]: cached log-mels of every training clip;
//! - [`augment`]: gain, shift, noise and mixing on log-mels;
//! - [`lsi`] and [`triplets`]: the LSI space and online triplet mining;
//!   [`lsi_view`]: what that space looks like for the user's tags (GUI preview);
//! - [`trainer`]: the loop (events, cancel, checkpoints, resume);
//! - [`distill`]: the distillation objective;
//! - [`finetune`]: the fine-tuning objective on the user's tags, the run
//!   that makes a new model version, and its P@k table ([`finetune::eval`]);
//! - [`eval`]: model and teacher figures on a list of tracks;
//! - [`versions`]: the weights of a model version, deleting one;
//! - [`scratch`]: a run's scratch folder, and sweeping up those of killed runs;
//! - [`synth_tags`]: a generated corpus whose tags are audible (tests, bench);
//! - [`metrics`]: same-track P@1, same-album P@5, tag ROC-AUC.

pub mod augment;
pub mod corpus;
pub mod distill;
pub mod eval;
pub mod features;
pub mod finetune;
pub mod lsi;
pub mod lsi_view;
pub mod metrics;
pub mod relational;
pub mod scratch;
pub mod synth_tags;
pub mod trainer;
pub mod triplets;
pub mod versions;
