//! The DPNN: the learned audio embedding at the heart of tuneatlas.
//!
//! A 6 s log-mel clip goes in; a 256-d representation (for similarity, the
//! map and the track vector) and tag scores in four categories come out
//! (ARCHITECTURE.md §3). The parts:
//! - [`backend`]: where it runs — wgpu on a GPU, or a CPU backend — chosen by
//!   policy in the one place that names concrete burn backends;
//! - [`dpnn`]: the network ([`Dpnn`]) and its sizes ([`DpnnConfig`]);
//! - [`heads`]: the tag vocabulary the outputs are named by;
//! - [`record`]: model directories (`model.toml` + burnpack weights), the
//!   built-in model, and the checks that make bad weights a clear error;
//! - [`init`]: the deterministic, untrained initial model (the seeded start
//!   of training, and a test reference);
//! - [`infer`]: the [`Embedder`] the import pipeline drives, with input
//!   guards and the GPU → CPU fallback;
//! - [`average`]: the mean of several snapshots of one run (`tuneatlas train average`);
//! - [`bench`]: `tuneatlas bench model`.

pub mod average;
pub mod backend;
pub mod bench;
pub mod dpnn;
pub mod heads;
pub mod infer;
pub mod init;
pub mod record;

pub use backend::{ComputeDevice, DeviceChoice, DeviceKind, select_device};
pub use dpnn::{Dpnn, DpnnConfig};
pub use heads::{TagCategory, TagVocabulary};
pub use infer::{ClipOutput, Embedder, mean_scores, track_vector};
pub use init::{init_model, write_init_model_dir};
pub use record::{LoadedModel, ModelBundle, ModelCard, load_default, load_dir, save_dir};
