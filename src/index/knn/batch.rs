//! Many queries at once: the exact cosine top-k of every query row among
//! the rows of a base set, as blocked matrix products.
//!
//! Why a second path beside [`super::VectorIndex::top_k`]: that scan is
//! built for one query at a time (a person asking for similar tracks), and
//! its kernels are plain Rust in this crate — compiled at the dev profile's
//! opt-level 1, where LLVM does not vectorise them, they run about 10× below
//! their release speed. A map of 100,000 tracks asks ~90,000 queries at
//! once (each track's nearest landmarks, `map/landmarks.rs`); as one matrix
//! product they are the job ndarray's GEMM (matrixmultiply: SIMD chosen at
//! run time, threads of its own, optimised like every dependency) does best.
//! The results are exact — the same dot products, summed in another order.

use ndarray::{ArrayView2, Axis, s};

use crate::jobs::CancelToken;
use crate::{Error, Result};

/// Query rows per matrix product: a block of scores is this × the base
/// rows (512 × 11,000 × 4 B ≈ 22 MB at 100k tracks), small enough to stay
/// modest in memory, large enough for the GEMM to run at full speed.
const QUERY_BLOCK: usize = 512;

/// For every row of `queries` (`dim` values each), its `k` highest dot
/// products with the rows of `base`, as (base row, dot) best first, ties by
/// row. For unit rows the dot product is the cosine. Checks `cancel` between
/// blocks.
pub fn batch_top_k(
    queries: &[f32],
    base: &[f32],
    dim: usize,
    k: usize,
    cancel: &CancelToken,
) -> Result<Vec<Vec<(usize, f32)>>> {
    let shape_error =
        |what: &str, len: usize| Error::Invalid(format!("{what}: {len} values are not whole rows of {dim}"));
    if dim == 0 || !queries.len().is_multiple_of(dim) {
        return Err(shape_error("queries", queries.len()));
    }
    if !base.len().is_multiple_of(dim) {
        return Err(shape_error("base", base.len()));
    }
    let (nq, nb) = (queries.len() / dim, base.len() / dim);
    let q =
        ArrayView2::from_shape((nq, dim), queries).map_err(|e| Error::Invalid(format!("queries: {e}")))?;
    let b = ArrayView2::from_shape((nb, dim), base).map_err(|e| Error::Invalid(format!("base: {e}")))?;
    let k = k.min(nb);
    let mut out = Vec::with_capacity(nq);
    if k == 0 {
        out.resize(nq, Vec::new());
        return Ok(out);
    }
    let mut start = 0;
    while start < nq {
        cancel.check()?;
        let end = (start + QUERY_BLOCK).min(nq);
        let scores = q.slice(s![start..end, ..]).dot(&b.t());
        for row in scores.axis_iter(Axis(0)) {
            // The product is a fresh row-major array, so a row is one slice;
            // the copy is only a fallback.
            out.push(match row.as_slice() {
                Some(values) => top_of_row(values, k),
                None => top_of_row(&row.to_vec(), k),
            });
        }
        start = end;
    }
    Ok(out)
}

/// The `k` largest values of `scores` with their indices, best first, ties
/// by index; NaN never enters.
fn top_of_row(scores: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut top: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
    let mut worst = f32::NEG_INFINITY;
    for (i, &v) in scores.iter().enumerate() {
        if top.len() == k && v <= worst || v.is_nan() {
            continue;
        }
        let at = top.partition_point(|&(j, w)| w > v || (w == v && j < i));
        top.insert(at, (i, v));
        top.truncate(k);
        if top.len() == k {
            worst = top[k - 1].1;
        }
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{VectorIndex, random_unit_vectors};

    #[test]
    fn batch_results_equal_the_single_query_scan() {
        let base = random_unit_vectors(700, 32, 1);
        let queries = random_unit_vectors(1_100, 32, 2);
        let flat = |rows: &[Vec<f32>]| rows.iter().flatten().copied().collect::<Vec<f32>>();
        let found = batch_top_k(&flat(&queries), &flat(&base), 32, 4, &CancelToken::new()).expect("batch");
        let index = VectorIndex::build(32, base.iter().enumerate().map(|(i, v)| (i as i64, v.as_slice())))
            .expect("index");
        assert_eq!(found.len(), queries.len());
        for (q, got) in queries.iter().zip(&found) {
            let want = index.top_k(q, 4, |_| true);
            let got_rows: Vec<usize> = got.iter().map(|g| g.0).collect();
            let want_rows: Vec<usize> = want.iter().map(|w| w.track_id as usize).collect();
            assert_eq!(got_rows, want_rows);
            for (g, w) in got.iter().zip(&want) {
                assert!((g.1 - w.cosine_similarity).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn ties_go_to_the_lower_row_and_shapes_are_checked() {
        assert_eq!(top_of_row(&[0.5, 0.9, 0.9, f32::NAN, 0.1], 2), vec![(1, 0.9), (2, 0.9)]);
        assert!(batch_top_k(&[1.0, 0.0, 0.0], &[1.0, 0.0], 2, 1, &CancelToken::new()).is_err());
        let none = batch_top_k(&[1.0, 0.0], &[], 2, 3, &CancelToken::new()).expect("empty base");
        assert_eq!(none, vec![Vec::new()]);
    }
}
