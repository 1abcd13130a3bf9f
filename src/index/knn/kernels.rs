//! The inner loops of the exact k-NN scan: normalising, int8 quantisation,
//! the f32 and i8 dot products, and the bounded top-k heap. Kept apart from
//! [`super::VectorIndex`] so the search logic reads without them; they are
//! the part to look at when a profile says the scan is slow.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::{CODE_MAX, Neighbor};

/// `v / ‖v‖` (norm computed in f64), or `None` for a zero or non-finite vector.
pub(super) fn normalized(v: &[f32]) -> Option<Vec<f32>> {
    let norm = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return None;
    }
    Some(v.iter().map(|&x| (f64::from(x) / norm) as f32).collect())
}

/// Appends the symmetric 8-bit codes of `v` to `codes` and returns
/// `(scale, error_norm)`: `v ≈ scale · codes` with `‖v − scale · codes‖₂ =
/// error_norm` (computed in f64, rounded up). `v` must be finite.
pub(super) fn quantize_into(v: &[f32], codes: &mut Vec<i8>) -> (f32, f32) {
    let max_abs = v.iter().fold(0f32, |m, &x| m.max(x.abs()));
    if max_abs == 0.0 {
        codes.extend(std::iter::repeat_n(0i8, v.len()));
        return (0.0, 0.0);
    }
    let scale = max_abs / CODE_MAX;
    let mut err_sq = 0f64;
    for &x in v {
        let code = (x / scale).round().clamp(-CODE_MAX, CODE_MAX);
        let residual = f64::from(x) - f64::from(scale) * f64::from(code);
        err_sq += residual * residual;
        codes.push(code as i8);
    }
    let err = err_sq.sqrt() as f32;
    (scale, err + err * 1e-6 + f32::MIN_POSITIVE)
}

/// f32 dot product written so the compiler vectorises it: 16 independent
/// accumulators (4 SSE registers) hide the add latency; the remainder of a
/// dimension that is not a multiple of 16 is summed separately.
pub(super) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    const W: usize = 16;
    let mut acc = [0f32; W];
    let (ca, cb) = (a.chunks_exact(W), b.chunks_exact(W));
    let mut tail = 0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    for (x, y) in ca.zip(cb) {
        for i in 0..W {
            acc[i] += x[i] * y[i];
        }
    }
    // Pairwise reduction: fewer rounding steps than a running sum.
    let mut width = W;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] += acc[i + width];
        }
    }
    acc[0] + tail
}

/// Exact integer dot product of two 8-bit code rows, vectorised like
/// [`dot_f32`] (i8 × i8 products widened to i32; |sum| ≤ dim · 127², no
/// overflow below 133,000 dimensions).
pub(super) fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    const W: usize = 32;
    let mut acc = [0i32; W];
    let (ca, cb) = (a.chunks_exact(W), b.chunks_exact(W));
    let mut tail = 0i32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += i32::from(*x) * i32::from(*y);
    }
    for (x, y) in ca.zip(cb) {
        for i in 0..W {
            acc[i] += i32::from(x[i]) * i32::from(y[i]);
        }
    }
    acc.iter().sum::<i32>() + tail
}

/// An f32 with a total order (`total_cmp`), for heaps.
#[derive(Debug, Clone, Copy)]
pub(super) struct TotalF32(pub(super) f32);

impl PartialEq for TotalF32 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for TotalF32 {}
impl PartialOrd for TotalF32 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TotalF32 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A scored row. Ordered so that *greater means worse* (lower similarity,
/// then higher id): a max-heap of candidates keeps the worst on top.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cand {
    pub(super) sim: f32,
    pub(super) id: i64,
}

impl PartialEq for Cand {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Cand {
    fn cmp(&self, other: &Self) -> Ordering {
        other.sim.total_cmp(&self.sim).then(self.id.cmp(&other.id))
    }
}

/// The best `k` candidates seen so far (bounded max-heap of the worst-first
/// order, so the one to evict is on top).
pub(super) struct TopK {
    pub(super) k: usize,
    pub(super) heap: BinaryHeap<Cand>,
}

impl TopK {
    pub(super) fn new(k: usize) -> Self {
        TopK { k, heap: BinaryHeap::with_capacity(k.min(4096) + 1) }
    }

    /// Cheap pre-check before asking the filter: could `sim` get in?
    pub(super) fn admits(&self, sim: f32) -> bool {
        self.heap.len() < self.k || self.heap.peek().is_some_and(|worst| sim >= worst.sim)
    }

    pub(super) fn push(&mut self, cand: Cand) {
        if self.heap.len() < self.k {
            self.heap.push(cand);
        } else if let Some(mut worst) = self.heap.peek_mut()
            && cand < *worst
        {
            *worst = cand;
        }
    }

    /// Best first.
    pub(super) fn into_neighbors(self) -> Vec<Neighbor> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|c| {
                let cosine_similarity = c.sim.clamp(-1.0, 1.0);
                Neighbor { track_id: c.id, cosine_similarity, distance: 1.0 - cosine_similarity }
            })
            .collect()
    }
}
