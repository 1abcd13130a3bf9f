//! Exact cosine k-nearest neighbours over track vectors, by brute force.
//!
//! Why brute force: a personal library has at most a few hundred thousand
//! tracks, and an exact scan over them takes milliseconds, needs no training,
//! no parameters and never misses a neighbour — an approximate index (HNSW,
//! IVF) would buy nothing here and cost recall and build time.
//!
//! Why two scans: at 100k × 256 the f32 vectors weigh 100 MB, and a plain
//! scan is limited by memory bandwidth (10–15 ms a query on the 2-core dev
//! machine, however many threads). So by default the index also keeps an
//! 8-bit copy of every vector (25 MB) with, per row, its scale and the exact
//! L2 norm of its quantisation error. A query is scanned against the 8-bit
//! copy first; the error norms give a rigorous bound on how far each
//! approximate cosine can be from the exact one, which yields the k-th best
//! *lower* bound τ. Only rows whose *upper* bound reaches τ can be in the top
//! k; those few are re-scored with the exact f32 dot product. The result is
//! identical to the exact f32 scan ([`ScanMode::Float32`], kept for
//! benchmarks and tests), only faster: ≈ 2.8 ms instead of ≈ 14.5 ms per
//! query at 100k × 256 on one core of the dev machine (`tuneatlas bench knn`).
//!
//! The kernels are plain safe Rust written so LLVM vectorises them for the
//! baseline x86-64 target (SSE2: `pmaddwd` for the 8-bit dot product); no
//! `unsafe`, no runtime CPU dispatch.
//!
//! Ordering is total and deterministic: similarity descending, then track id
//! ascending, so ties never make lists flicker between runs.

mod batch;
mod kernels;

pub use batch::batch_top_k;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::ops::Range;

use serde::Serialize;

use crate::{Error, Result};

use kernels::{Cand, TopK, TotalF32, dot_f32, dot_i8, normalized, quantize_into};

/// The dimension of DPNN track vectors; the index itself takes any dimension.
pub const DEFAULT_DIM: usize = 256;

/// Below this many rows a query is scanned on one thread: starting a thread
/// costs tens of microseconds, more than the scan of a small library.
pub const PARALLEL_MIN_ROWS: usize = 20_000;

/// At most this many scan threads by default (the scan is memory-bound; more
/// threads than memory channels only add start-up cost).
const MAX_DEFAULT_THREADS: usize = 8;

/// Rows scored per block in the f32 scan: dots first (a tight vectorised
/// loop), then the branchy top-k bookkeeping over the block's scores.
const BLOCK_ROWS: usize = 256;

/// Added to every quantisation error bound to cover f32 rounding in the
/// exact dot product (≤ dim · 2⁻²⁴ ≈ 1.5e-5 at 256-d), in the approximate
/// score and in normalisation. Generous on purpose: it only widens the set of
/// rows that get re-scored exactly.
const BOUND_MARGIN: f32 = 1e-4;

/// Largest magnitude of an 8-bit code (symmetric, so -128 is never used).
const CODE_MAX: f32 = 127.0;

/// One result of a nearest-neighbour query.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Neighbor {
    /// The neighbouring track.
    pub track_id: i64,
    /// Cosine similarity to the query, in [-1, 1].
    pub cosine_similarity: f32,
    /// Cosine distance, `1 - cosine_similarity`, in [0, 2]: what lists show
    /// ("0.000" = the same direction).
    pub distance: f32,
}

/// How a query is scanned. Both give the same, exact result; the choice only
/// changes speed (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanMode {
    /// 8-bit pre-scan with error bounds, then exact f32 re-scoring of the
    /// rows that may belong to the top k (default; about 4× less memory
    /// traffic).
    Int8Bounded,
    /// Plain f32 dot product against every row.
    Float32,
}

/// Exact cosine top-k over a fixed set of track vectors.
///
/// Built once per model version from the store's track vectors; vectors are
/// L2-normalised at build time so a query is a dot product per row. Rows are
/// stored contiguously (row-major f32) for a cache-friendly scan. Zero, NaN
/// or infinite vectors cannot be compared by angle: they are left out of the
/// index (see [`VectorIndex::unusable_ids`]) instead of poisoning results.
#[derive(Debug, Clone)]
pub struct VectorIndex {
    dim: usize,
    ids: Vec<i64>,
    /// `ids.len() × dim` L2-normalised f32 values, row-major.
    rows: Vec<f32>,
    /// `ids.len() × dim` 8-bit codes: `rows ≈ code_scale[i] · codes`.
    codes: Vec<i8>,
    /// Per row: the step of its 8-bit codes.
    code_scale: Vec<f32>,
    /// Per row: the L2 norm of `row − code_scale · codes` (its quantisation error).
    code_err: Vec<f32>,
    row_of: HashMap<i64, usize>,
    unusable: Vec<i64>,
    threads: usize,
    scan: ScanMode,
}

impl VectorIndex {
    /// Builds an index of `dim`-dimensional vectors. Fails when `dim` is 0,
    /// a vector has another length, or a track id appears twice: each is a
    /// caller bug that would otherwise give silently wrong neighbours.
    pub fn build<V: AsRef<[f32]>>(dim: usize, items: impl IntoIterator<Item = (i64, V)>) -> Result<Self> {
        if dim == 0 {
            return Err(Error::Invalid("a vector index needs a dimension of at least 1".into()));
        }
        let items = items.into_iter();
        let cap = items.size_hint().0;
        let mut index = VectorIndex {
            dim,
            ids: Vec::with_capacity(cap),
            rows: Vec::with_capacity(cap * dim),
            codes: Vec::with_capacity(cap * dim),
            code_scale: Vec::with_capacity(cap),
            code_err: Vec::with_capacity(cap),
            row_of: HashMap::with_capacity(cap),
            unusable: Vec::new(),
            threads: default_threads(),
            scan: ScanMode::Int8Bounded,
        };
        for (id, vector) in items {
            let vector = vector.as_ref();
            if vector.len() != dim {
                return Err(Error::Invalid(format!(
                    "track {id}: its vector has {} dimensions, the index {dim}",
                    vector.len()
                )));
            }
            if index.row_of.contains_key(&id) || index.unusable.contains(&id) {
                return Err(Error::Invalid(format!("track {id} appears twice in the vectors of one index")));
            }
            let Some(unit) = normalized(vector) else {
                index.unusable.push(id);
                continue;
            };
            let (scale, err) = quantize_into(&unit, &mut index.codes);
            index.row_of.insert(id, index.ids.len());
            index.ids.push(id);
            index.rows.extend_from_slice(&unit);
            index.code_scale.push(scale);
            index.code_err.push(err);
        }
        if !index.unusable.is_empty() {
            tracing::warn!(
                "{} track vector(s) are zero or not finite and are left out of the similarity index",
                index.unusable.len()
            );
        }
        Ok(index)
    }

    /// Builds an index from `(track id, vector)` pairs as the store returns
    /// them, taking the dimension from the first vector ([`DEFAULT_DIM`] when
    /// there are none).
    pub fn from_pairs(pairs: Vec<(i64, Vec<f32>)>) -> Result<Self> {
        let dim = pairs.first().map_or(DEFAULT_DIM, |(_, v)| v.len());
        Self::build(dim, pairs)
    }

    /// The dimension of the vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of searchable vectors (unusable ones excluded).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when no vector can be searched.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Track ids whose vectors were zero or not finite and so were left out:
    /// a caller can tell "not embedded" from "embedded but unusable".
    pub fn unusable_ids(&self) -> &[i64] {
        &self.unusable
    }

    /// True when `track_id` has a searchable vector.
    pub fn contains(&self, track_id: i64) -> bool {
        self.row_of.contains_key(&track_id)
    }

    /// The stored (L2-normalised) vector of a track.
    pub fn vector(&self, track_id: i64) -> Option<&[f32]> {
        let row = *self.row_of.get(&track_id)?;
        Some(&self.rows[row * self.dim..(row + 1) * self.dim])
    }

    /// Approximate heap memory of the index in bytes (f32 rows, 8-bit codes,
    /// ids and bookkeeping), for benchmarks and the GUI's status line.
    pub fn memory_bytes(&self) -> usize {
        let n = self.ids.len();
        n * self.dim * (std::mem::size_of::<f32>() + std::mem::size_of::<i8>())
            + n * (std::mem::size_of::<i64>() + 2 * std::mem::size_of::<f32>())
            + self.row_of.capacity() * (std::mem::size_of::<(i64, usize)>() + 1)
    }

    /// The searchable track ids, in row order.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// How many threads a scan of at least [`PARALLEL_MIN_ROWS`] rows uses
    /// (default: the available cores, at most 8).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Sets the scan threads (at least 1); benchmarks compare 1 and 2.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// The scan strategy in use.
    pub fn scan_mode(&self) -> ScanMode {
        self.scan
    }

    /// Chooses the scan strategy (the result is the same; benchmarks and
    /// tests compare them).
    pub fn set_scan_mode(&mut self, scan: ScanMode) {
        self.scan = scan;
    }

    /// The `k` tracks most similar to `query` (any length-`dim` vector; it is
    /// normalised here), best first, among the ids `filter` accepts. Exact.
    ///
    /// The query's own track is not excluded automatically — pass a filter
    /// that rejects it (or use [`VectorIndex::top_k_by_id`]). `filter` is
    /// only called for rows that could enter the top k, possibly more than
    /// once per id and from scan threads, so it should be cheap and pure.
    /// A query of the wrong length, or a zero/NaN query, has no neighbours.
    pub fn top_k(&self, query: &[f32], k: usize, filter: impl Fn(i64) -> bool + Sync) -> Vec<Neighbor> {
        if k == 0 || self.ids.is_empty() {
            return Vec::new();
        }
        if query.len() != self.dim {
            tracing::warn!("similarity query has {} dimensions, the index {}", query.len(), self.dim);
            return Vec::new();
        }
        let Some(q) = normalized(query) else {
            return Vec::new();
        };
        let top = match self.scan {
            ScanMode::Float32 => self.top_k_float32(&q, k, &filter),
            ScanMode::Int8Bounded => self.top_k_int8_bounded(&q, k, &filter),
        };
        top.into_neighbors()
    }

    /// The `k` tracks most similar to the stored track `track_id` (which is
    /// itself excluded), among the ids `filter` accepts. `None` when the
    /// track has no searchable vector, so a caller can say why the list is
    /// empty.
    pub fn top_k_by_id(
        &self,
        track_id: i64,
        k: usize,
        filter: impl Fn(i64) -> bool + Sync,
    ) -> Option<Vec<Neighbor>> {
        let query = self.vector(track_id)?;
        Some(self.top_k(query, k, |id| id != track_id && filter(id)))
    }

    /// The plain scan: every row's exact dot product, block by block.
    fn top_k_float32(&self, q: &[f32], k: usize, filter: &(dyn Fn(i64) -> bool + Sync)) -> TopK {
        let parts = self.split_run(|range| {
            let mut top = TopK::new(k);
            let mut scores = [0f32; BLOCK_ROWS];
            let mut start = range.start;
            while start < range.end {
                let end = (start + BLOCK_ROWS).min(range.end);
                let block = &self.rows[start * self.dim..end * self.dim];
                for (score, row) in scores.iter_mut().zip(block.chunks_exact(self.dim)) {
                    *score = dot_f32(q, row);
                }
                for (offset, &sim) in scores[..end - start].iter().enumerate() {
                    if top.admits(sim) {
                        let id = self.ids[start + offset];
                        if filter(id) {
                            top.push(Cand { sim, id });
                        }
                    }
                }
                start = end;
            }
            top
        });
        let mut all = TopK::new(k);
        for part in parts {
            for cand in part.heap {
                all.push(cand);
            }
        }
        all
    }

    /// The 8-bit pre-scan with rigorous bounds, then exact re-scoring.
    ///
    /// With `q̂ = s_q·c_q` and `x̂ = s_x·c_x` the quantised query and row,
    /// `|q·x − q̂·x̂| ≤ ‖q̂‖·‖x − x̂‖ + ‖q − q̂‖·‖x‖`, and `q̂·x̂` is an exact
    /// integer dot product times `s_q·s_x`. Every row gets an interval
    /// `[lo, hi]` that holds its exact cosine; τ is the k-th largest `lo` among
    /// rows the filter accepts, so at least k such rows score ≥ τ and a row
    /// with `hi < τ` cannot be in the top k.
    fn top_k_int8_bounded(&self, q: &[f32], k: usize, filter: &(dyn Fn(i64) -> bool + Sync)) -> TopK {
        let mut q_codes = Vec::with_capacity(self.dim);
        let (q_scale, q_err) = quantize_into(q, &mut q_codes);
        // ‖q̂‖ ≤ ‖q‖ + ‖q − q̂‖, and ‖q‖ = ‖x‖ = 1 up to rounding (in the margin).
        let q_hat_norm = 1.0 + q_err;
        let parts = self.split_run(|range| {
            // Upper bounds of this range's rows, and the k best lower bounds of
            // accepted rows (a min-heap, so the k-th best is on top).
            let mut upper = Vec::with_capacity(range.len());
            let mut lows: BinaryHeap<Reverse<TotalF32>> = BinaryHeap::with_capacity(k.min(4096) + 1);
            for row in range {
                let codes = &self.codes[row * self.dim..(row + 1) * self.dim];
                let approx = q_scale * self.code_scale[row] * dot_i8(&q_codes, codes) as f32;
                let eps = q_hat_norm * self.code_err[row] + q_err + BOUND_MARGIN;
                upper.push(approx + eps);
                let lo = approx - eps;
                let full = lows.len() >= k;
                if (!full || lows.peek().is_some_and(|Reverse(min)| lo > min.0)) && filter(self.ids[row]) {
                    lows.push(Reverse(TotalF32(lo)));
                    if full {
                        lows.pop();
                    }
                }
            }
            (upper, lows.into_iter().map(|Reverse(v)| v.0).collect::<Vec<f32>>())
        });
        let mut all_lows: Vec<f32> = parts.iter().flat_map(|(_, lows)| lows.iter().copied()).collect();
        let tau = if all_lows.len() >= k {
            all_lows.sort_unstable_by(|a, b| b.total_cmp(a));
            all_lows[k - 1]
        } else {
            f32::NEG_INFINITY
        };
        let mut top = TopK::new(k);
        let mut row = 0;
        for (upper, _) in &parts {
            for &hi in upper {
                if hi >= tau {
                    let id = self.ids[row];
                    if filter(id) {
                        let sim = dot_f32(q, &self.rows[row * self.dim..(row + 1) * self.dim]);
                        top.push(Cand { sim, id });
                    }
                }
                row += 1;
            }
        }
        top
    }

    /// Runs `f` over contiguous row ranges covering all rows — on
    /// `self.threads` named threads for a large index, inline otherwise —
    /// and returns the results in row order.
    fn split_run<R: Send>(&self, f: impl Fn(Range<usize>) -> R + Sync) -> Vec<R> {
        let n = self.ids.len();
        let parts = if n >= PARALLEL_MIN_ROWS { self.threads.clamp(1, n) } else { 1 };
        if parts == 1 {
            return vec![f(0..n)];
        }
        let ranges: Vec<Range<usize>> = (0..parts).map(|p| p * n / parts..(p + 1) * n / parts).collect();
        let f = &f;
        std::thread::scope(|scope| {
            let spawned: Vec<_> = ranges[1..]
                .iter()
                .map(|range| {
                    let range = range.clone();
                    std::thread::Builder::new()
                        .name("knn-scan".into())
                        .spawn_scoped(scope, {
                            let range = range.clone();
                            move || f(range)
                        })
                        .map_err(|_| range)
                })
                .collect();
            let mut out = Vec::with_capacity(parts);
            out.push(f(ranges[0].clone()));
            for handle in spawned {
                match handle {
                    Ok(handle) => match handle.join() {
                        Ok(r) => out.push(r),
                        Err(panic) => std::panic::resume_unwind(panic),
                    },
                    // Could not start a thread (resource limits): do that part here.
                    Err(range) => out.push(f(range)),
                }
            }
            out
        })
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_DEFAULT_THREADS)
}

/// `n` random unit vectors of `dim` dimensions (Gaussian components, so the
/// directions are uniform on the sphere), reproducible from `seed`. For
/// benchmarks and tests, which need realistic data without a model.
pub fn random_unit_vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut state = seed;
    let mut next_unit = move || {
        // SplitMix64: tiny, seedable, good enough for test data.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits in (0, 1].
        ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let v: Vec<f32> = (0..dim)
                .map(|_| {
                    // Box–Muller.
                    let (u1, u2) = (next_unit(), next_unit());
                    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
                })
                .collect();
            normalized(&v).unwrap_or_else(|| {
                let mut e = vec![0.0; dim];
                if let Some(first) = e.first_mut() {
                    *first = 1.0;
                }
                e
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// The reference: score every accepted row with the same dot product,
    /// sort by (similarity desc, id asc), truncate.
    fn naive(index: &VectorIndex, query: &[f32], k: usize, filter: impl Fn(i64) -> bool) -> Vec<Neighbor> {
        let Some(q) = normalized(query) else { return vec![] };
        let mut all: Vec<Cand> = index
            .ids
            .iter()
            .enumerate()
            .filter(|(_, id)| filter(**id))
            .map(|(row, &id)| Cand {
                sim: dot_f32(&q, &index.rows[row * index.dim..(row + 1) * index.dim]),
                id,
            })
            .collect();
        all.sort();
        all.truncate(k);
        TopK { k, heap: all.into_iter().collect() }.into_neighbors()
    }

    fn index_of(vectors: &[Vec<f32>], ids: impl Iterator<Item = i64>) -> VectorIndex {
        VectorIndex::build(vectors[0].len(), ids.zip(vectors.iter().cloned())).expect("build")
    }

    /// Every mode × thread count gives the naive answer.
    fn check_all_modes(
        index: &mut VectorIndex,
        query: &[f32],
        k: usize,
        filter: impl Fn(i64) -> bool + Sync,
    ) {
        let want = naive(index, query, k, &filter);
        for mode in [ScanMode::Int8Bounded, ScanMode::Float32] {
            for threads in [1, 2, 3] {
                index.set_scan_mode(mode);
                index.set_threads(threads);
                let got = index.top_k(query, k, &filter);
                assert_eq!(got, want, "mode {mode:?}, {threads} threads, k {k}");
            }
        }
    }

    #[test]
    fn matches_naive_on_random_data() {
        let vectors = random_unit_vectors(3_000, 256, 7);
        let mut index = index_of(&vectors, (0..3_000).map(|i| i * 3 + 11));
        let queries = random_unit_vectors(10, 256, 99);
        for (i, q) in queries.iter().enumerate() {
            for k in [1, 5, 20, 100] {
                check_all_modes(&mut index, q, k, |_| true);
                check_all_modes(&mut index, q, k, |id| id % 2 == i as i64 % 2);
            }
        }
    }

    #[test]
    fn parallel_path_matches_naive() {
        let n = PARALLEL_MIN_ROWS + 1_234;
        let vectors = random_unit_vectors(n, 32, 3);
        let mut index = index_of(&vectors, 0..n as i64);
        let q = &random_unit_vectors(1, 32, 4)[0];
        check_all_modes(&mut index, q, 20, |id| id % 7 != 0);
        // A query that is a stored vector: itself first, at distance 0.
        index.set_scan_mode(ScanMode::Int8Bounded);
        let got = index.top_k(&vectors[500], 3, |_| true);
        assert_eq!(got[0].track_id, 500);
        assert!(got[0].distance.abs() < 1e-5, "{got:?}");
    }

    #[test]
    fn k_zero_and_k_larger_than_n() {
        let vectors = random_unit_vectors(17, 8, 1);
        let mut index = index_of(&vectors, 0..17);
        assert!(index.top_k(&vectors[0], 0, |_| true).is_empty());
        check_all_modes(&mut index, &vectors[0], 1_000, |_| true);
        assert_eq!(index.top_k(&vectors[0], 1_000, |_| true).len(), 17);
        assert_eq!(index.top_k(&vectors[0], 1_000, |id| id < 5).len(), 5);
        check_all_modes(&mut index, &vectors[0], 1_000, |id| id < 5);
        check_all_modes(&mut index, &vectors[0], usize::MAX, |_| true);
    }

    #[test]
    fn filter_rejects_and_by_id_excludes_itself() {
        let vectors = random_unit_vectors(200, 16, 5);
        let index = index_of(&vectors, 100..300);
        let banned: HashSet<i64> = (100..300).filter(|id| id % 3 == 0).collect();
        let got = index.top_k_by_id(150, 50, |id| !banned.contains(&id)).expect("indexed");
        assert_eq!(got.len(), 50);
        assert!(got.iter().all(|n| n.track_id != 150 && !banned.contains(&n.track_id)));
        let query = index.vector(150).expect("indexed").to_vec();
        let want = naive(&index, &query, 50, |id| id != 150 && !banned.contains(&id));
        assert_eq!(got, want);
        assert!(got.windows(2).all(|w| w[0].cosine_similarity >= w[1].cosine_similarity));
        assert!(index.top_k_by_id(99, 5, |_| true).is_none());
        assert!(index.top_k(&vectors[0], 5, |_| false).is_empty());
    }

    #[test]
    fn ties_break_by_id_ascending() {
        // Five copies of one direction (at different lengths), two of another.
        let a = vec![1.0, 2.0, 3.0];
        let b = vec![-3.0, 0.5, 1.0];
        let scaled = |v: &Vec<f32>, s: f32| v.iter().map(|x| x * s).collect::<Vec<f32>>();
        let items = vec![
            (40, scaled(&a, 1.0)),
            (7, scaled(&b, 2.0)),
            (12, scaled(&a, 2.0)),
            (3, scaled(&a, 4.0)),
            (99, scaled(&a, 0.5)),
            (1, scaled(&b, 1.0)),
            (25, scaled(&a, 8.0)),
        ];
        let mut index = VectorIndex::build(3, items).expect("build");
        let ids = |v: Vec<Neighbor>| v.into_iter().map(|n| n.track_id).collect::<Vec<_>>();
        for mode in [ScanMode::Int8Bounded, ScanMode::Float32] {
            index.set_scan_mode(mode);
            assert_eq!(ids(index.top_k(&a, 3, |_| true)), vec![3, 12, 25], "{mode:?}");
            assert_eq!(ids(index.top_k(&a, 7, |_| true)), vec![3, 12, 25, 40, 99, 1, 7], "{mode:?}");
        }
        check_all_modes(&mut index, &a, 4, |_| true);
    }

    #[test]
    fn zero_and_nan_vectors_are_left_out() {
        let items = vec![
            (1, vec![1.0, 0.0, 0.0, 0.0]),
            (2, vec![0.0; 4]),
            (3, vec![f32::NAN, 1.0, 0.0, 0.0]),
            (4, vec![0.0, 1.0, 0.0, 0.0]),
            (5, vec![f32::INFINITY, 0.0, 0.0, 0.0]),
            (6, vec![0.9, 0.1, 0.0, 0.0]),
        ];
        let mut index = VectorIndex::build(4, items).expect("build");
        assert_eq!(index.len(), 3);
        assert_eq!(index.unusable_ids(), &[2, 3, 5]);
        for mode in [ScanMode::Int8Bounded, ScanMode::Float32] {
            index.set_scan_mode(mode);
            let got = index.top_k(&[1.0, 0.0, 0.0, 0.0], 10, |_| true);
            let ids: Vec<i64> = got.iter().map(|n| n.track_id).collect();
            assert_eq!(ids, vec![1, 6, 4]);
            assert!(got.iter().all(|n| n.cosine_similarity.is_finite() && n.distance.is_finite()));
            assert!((got[2].distance - 1.0).abs() < 1e-6);
            assert!(index.top_k(&[0.0; 4], 10, |_| true).is_empty());
            assert!(index.top_k(&[f32::NAN, 0.0, 0.0, 0.0], 10, |_| true).is_empty());
            assert!(index.top_k(&[1.0, 0.0], 10, |_| true).is_empty(), "wrong length");
        }
        assert!(index.top_k_by_id(2, 3, |_| true).is_none());
    }

    #[test]
    fn opposite_vectors_have_distance_two() {
        let index = VectorIndex::build(2, vec![(1, vec![1.0, 0.0]), (2, vec![-1.0, 0.0])]).expect("build");
        let got = index.top_k_by_id(1, 5, |_| true).expect("indexed");
        assert_eq!(got.len(), 1);
        assert!((got[0].cosine_similarity + 1.0).abs() < 1e-6);
        assert!((got[0].distance - 2.0).abs() < 1e-6);
    }

    #[test]
    fn odd_dimensions_and_clustered_data() {
        for dim in [1, 3, 31, 33, 100, 257] {
            let vectors = random_unit_vectors(500, dim, dim as u64);
            let mut index = index_of(&vectors, 0..500);
            assert_eq!(index.dim(), dim);
            for q in random_unit_vectors(3, dim, 1_000 + dim as u64) {
                check_all_modes(&mut index, &q, 10, |_| true);
            }
        }
        // Tight clusters: many near-ties, the hardest case for the bounds.
        let centre = &random_unit_vectors(1, 64, 1)[0];
        let noise = random_unit_vectors(2_000, 64, 2);
        let clustered: Vec<Vec<f32>> =
            noise.iter().map(|n| centre.iter().zip(n).map(|(c, e)| c + 0.01 * e).collect()).collect();
        let mut index = index_of(&clustered, 0..2_000);
        check_all_modes(&mut index, centre, 25, |_| true);
        check_all_modes(&mut index, &clustered[9], 25, |id| id != 9);
        // Spiky vectors: one dominant component makes the 8-bit step coarse
        // (most small components round to 0), so the bounds are wide.
        let noise = random_unit_vectors(1_500, 48, 8);
        let spiky: Vec<Vec<f32>> = noise
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut v: Vec<f32> = n.iter().map(|x| 0.05 * x).collect();
                v[i % 3] += 1.0;
                v
            })
            .collect();
        let mut index = index_of(&spiky, 0..1_500);
        for q in [&spiky[0], &spiky[1], &noise[5]] {
            check_all_modes(&mut index, q, 30, |_| true);
            check_all_modes(&mut index, q, 30, |id| id % 4 != 0);
        }
    }

    #[test]
    fn build_rejects_bad_input() {
        assert!(VectorIndex::build(0, Vec::<(i64, Vec<f32>)>::new()).is_err());
        assert!(VectorIndex::build(3, vec![(1, vec![1.0, 2.0])]).is_err());
        assert!(VectorIndex::build(2, vec![(1, vec![1.0, 2.0]), (1, vec![2.0, 1.0])]).is_err());
        assert!(VectorIndex::build(2, vec![(1, vec![0.0, 0.0]), (1, vec![2.0, 1.0])]).is_err());
        let empty = VectorIndex::from_pairs(vec![]).expect("empty is fine");
        assert_eq!(empty.dim(), DEFAULT_DIM);
        assert!(empty.is_empty());
        assert!(empty.top_k(&[1.0; DEFAULT_DIM], 5, |_| true).is_empty());
    }

    #[test]
    fn kernels_match_f64_reference() {
        let v = random_unit_vectors(2, 301, 11);
        let exact: f64 = v[0].iter().zip(&v[1]).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
        assert!((f64::from(dot_f32(&v[0], &v[1])) - exact).abs() < 1e-6);
        let a: Vec<i8> = (0..301).map(|i| ((i * 37) % 255 - 127) as i8).collect();
        let b: Vec<i8> = (0..301).map(|i| ((i * 91) % 255 - 127) as i8).collect();
        let exact_i: i32 = a.iter().zip(&b).map(|(x, y)| i32::from(*x) * i32::from(*y)).sum();
        assert_eq!(dot_i8(&a, &b), exact_i);
    }

    #[test]
    fn quantisation_error_bound_holds() {
        for v in random_unit_vectors(50, 256, 21) {
            let mut codes = Vec::new();
            let (scale, err) = quantize_into(&v, &mut codes);
            let actual: f64 = v
                .iter()
                .zip(&codes)
                .map(|(x, c)| (f64::from(*x) - f64::from(scale) * f64::from(*c)).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(f64::from(err) >= actual && err < 0.02, "{err} vs {actual}");
        }
    }
}
