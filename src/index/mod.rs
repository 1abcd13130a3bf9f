//! Finding tracks by sound: nearest neighbours in the embedding space, and
//! resolving what a user typed ("42", a path, "Artist - Title") to a track.
//!
//! Why a module of its own: the similar-tracks list, radio, song paths and
//! the GUI's "more like this" all ask the same question — which vectors lie
//! closest to this one by cosine — and should get the same exact answer from
//! one implementation, independent of any UI. The k-NN and path code work on
//! vectors alone; only [`lookup`] reads the store (to find a track by name).

pub mod knn;
pub mod lookup;
pub mod order;
pub mod path;

pub use knn::{
    DEFAULT_DIM, Neighbor, PARALLEL_MIN_ROWS, ScanMode, VectorIndex, batch_top_k, random_unit_vectors,
};
pub use lookup::resolve_track;
pub use order::{smooth_order, step_distances};
pub use path::{radio, radio_with, song_path};
