//! Latent semantic indexing (LSI) of item tags, the similarity signal that picks triplets.
//!
//! Schindler & Knees (2019), "Multi-Task Music Representation Learning from Multi-Label
//! Embeddings", do not compare raw tag sets: they project each item's binary tag vector (a row of
//! the item–tag matrix `W`, `w = 1` iff the tag applies) into a low-rank LSI space — the truncated
//! SVD `W ≈ U_k Σ_k V_kᵀ` — and call two items similar when the cosine of their LSI vectors is high.
//! Co-occurring tags ("metal", "heavy", "guitar") fall into one topic, so two items that share the
//! *idea* but not the exact tags still count as similar, and rare tags do not dominate.
//!
//! [`Lsi::fit`] computes the top-k right singular vectors from the Gram matrix `WᵀW`
//! (`[n_tags, n_tags]`, accumulated in f64 over the non-zero tags of each row) instead of an SVD of
//! `W` itself: the items are many (≈7,500 clips in distillation, up to ~100k tracks in a user
//! library) and the tags few (74 – a few hundred), so the cost is one pass over the tags plus a small
//! symmetric eigendecomposition. [`Lsi::project`] maps rows of `W` (or new rows: fold-in) to
//! `W V_k`, which equals `U_k Σ_k` for the fitted rows. [`cosine_matrix`] turns a batch of LSI
//! vectors into the cosine matrix that `super::triplets` thresholds.

use linfa_linalg::eigh::EighInto;
use ndarray::{Array2, ArrayView1, ArrayView2};

use crate::{Error, Result};

/// Eigenvalues of `WᵀW` (σ²) at or below this fraction of the largest are treated as zero.
///
/// Why 1e-10: the Gram route squares the condition number, so σ below ~1e-8·σ₁ cannot be
/// resolved in f64 anyway; 1e-10 on σ² (1e-5 on σ) stays well above that noise while dropping only
/// directions that carry < 1e-10 of the matrix's energy. Such directions have arbitrary singular
/// vectors, which would make fold-in projections and GUI topic lists meaningless.
const RANK_TOL_REL_EIGENVALUE: f64 = 1e-10;

/// (tag index, loading) pairs of one topic, strongest first.
pub type TagLoadings = Vec<(usize, f32)>;

/// A fitted LSI space: the top-k topics of an item–tag matrix.
///
/// Kept so that a batch of items can be mapped to LSI vectors ([`Lsi::project`]), and so that the
/// GUI can show what each topic means ([`Lsi::topic_tags`], [`Lsi::explained_variance`]).
///
/// **Sign convention:** a singular vector is only defined up to sign. Each column of
/// [`Lsi::components`] is flipped so that its largest-magnitude loading (the lowest tag index on an
/// exact tie) is positive. Results are therefore reproducible run to run and comparable with
/// numpy after applying the same rule (see `tests/fixtures/lsi/make_lsi_fixture.py`). Where two
/// singular values are equal the basis of their shared subspace is arbitrary (as in any SVD);
/// cosines between LSI vectors are unaffected by that choice when all tied topics are kept.
#[derive(Debug, Clone)]
pub struct Lsi {
    /// `V_k`, `[n_tags, n_topics]`: column `t` holds the tag loadings of topic `t`.
    components: Array2<f32>,
    /// σ₁ ≥ σ₂ ≥ … ≥ σ_k > 0, one per kept topic.
    singular_values: Vec<f32>,
    /// Σ of all σ² = ‖W‖²_F, the denominator of [`Lsi::explained_variance`].
    total_energy: f64,
    /// Number of items (rows of `W`) the space was fitted on.
    n_items_fitted: usize,
    /// What the caller asked for; more than [`Lsi::n_topics`] when `W` has a lower rank.
    n_topics_requested: usize,
}

impl Lsi {
    /// Fits an LSI space with (at most) `n_topics` topics to `matrix` (`[n_items, n_tags]`, usually
    /// 0/1; any finite weights work).
    ///
    /// Why the Gram route: `WᵀW` is `[n_tags, n_tags]` and is accumulated from the non-zero entries
    /// of each row only, so fitting 100k tracks with a handful of tags each is a fraction of a
    /// second; its eigenvalues are σ² and its eigenvectors are `V`.
    ///
    /// Topics whose singular value is numerically zero (σ² ≤ 1e-10·σ₁²) are dropped, so
    /// [`Lsi::n_topics`] may be smaller than `n_topics` when the tags have a lower rank (few
    /// distinct tag combinations, or fewer items than topics); this is not an error because such
    /// topics carry no information. [`Lsi::n_topics_requested`] keeps the requested number.
    ///
    /// # Errors
    /// [`Error::Invalid`] when there are no items, no tags, `n_topics == 0`, `n_topics > n_tags`
    /// (refused rather than clamped: it is a configuration mistake, and silently clamping would
    /// hide it), a non-finite value, or when no item has any tag (all-zero matrix).
    pub fn fit(matrix: ArrayView2<f32>, n_topics: usize) -> Result<Lsi> {
        let (n_items, n_tags) = matrix.dim();
        if n_items == 0 {
            return Err(Error::Invalid("cannot fit LSI topics: there are no items".into()));
        }
        if n_tags == 0 {
            return Err(Error::Invalid("cannot fit LSI topics: the tag vocabulary is empty".into()));
        }
        if n_topics == 0 {
            return Err(Error::Invalid("the number of LSI topics must be at least 1".into()));
        }
        if n_topics > n_tags {
            return Err(Error::Invalid(format!(
                "asked for {n_topics} LSI topics but there are only {n_tags} tags; use at most \
                 {n_tags} (the default for this vocabulary is {})",
                Lsi::default_topics(n_tags)
            )));
        }

        let (gram, total_energy) = gram_matrix(matrix)?;
        if total_energy <= 0.0 {
            return Err(Error::Invalid(format!(
                "cannot fit LSI topics: none of the {n_items} items has any tag"
            )));
        }

        let (eigenvalues, eigenvectors) = gram.eigh_into().map_err(|e| {
            Error::Invalid(format!("LSI eigendecomposition of the tag Gram matrix failed: {e}"))
        })?;
        let mut order: Vec<usize> = (0..n_tags).collect();
        order.sort_by(|&a, &b| eigenvalues[b].total_cmp(&eigenvalues[a]).then(a.cmp(&b)));
        let largest = eigenvalues[order[0]].max(0.0);
        let kept: Vec<usize> = order
            .into_iter()
            .take(n_topics)
            .take_while(|&i| eigenvalues[i] > largest * RANK_TOL_REL_EIGENVALUE)
            .collect();
        if kept.is_empty() {
            // Unreachable for a non-zero PSD matrix, but a degenerate solver result must not panic.
            return Err(Error::Invalid("cannot fit LSI topics: the tag matrix has rank 0".into()));
        }

        let mut components = Array2::<f32>::zeros((n_tags, kept.len()));
        let mut singular_values = Vec::with_capacity(kept.len());
        for (topic, &col) in kept.iter().enumerate() {
            let vector = eigenvectors.column(col);
            let sign = sign_to_make_pivot_positive(vector);
            for (tag, &loading) in vector.iter().enumerate() {
                components[[tag, topic]] = (sign * loading) as f32;
            }
            singular_values.push(eigenvalues[col].max(0.0).sqrt() as f32);
        }

        Ok(Lsi {
            components,
            singular_values,
            total_energy,
            n_items_fitted: n_items,
            n_topics_requested: n_topics,
        })
    }

    /// Maps rows of an item–tag matrix (`[n_rows, n_tags]`, the fitted rows or new ones) to their
    /// LSI vectors `rows · V_k` (`[n_rows, n_topics]`).
    ///
    /// Why not store `U_k Σ_k` instead: projecting is cheap (only non-zero tags are visited), and it
    /// works for items that were not in the fit (fold-in: tracks added to the library later, or a
    /// held-out validation set), with the same result as `U_k Σ_k` for the fitted rows. An item with
    /// no tags (or only tags that never occurred in the fit) maps to the zero vector; see
    /// [`nonzero_rows`].
    ///
    /// # Errors
    /// [`Error::Invalid`] when `rows` does not have one column per fitted tag, or holds a
    /// non-finite value.
    pub fn project(&self, rows: ArrayView2<f32>) -> Result<Array2<f32>> {
        let n_tags = self.n_tags();
        if rows.ncols() != n_tags {
            return Err(Error::Invalid(format!(
                "cannot project onto LSI topics: the rows have {} tags but the topics were fitted on {n_tags}",
                rows.ncols()
            )));
        }
        let n_topics = self.n_topics();
        let mut out = Array2::<f32>::zeros((rows.nrows(), n_topics));
        let mut acc = vec![0.0f64; n_topics];
        for (r, row) in rows.outer_iter().enumerate() {
            acc.iter_mut().for_each(|a| *a = 0.0);
            for (tag, &weight) in row.iter().enumerate() {
                if weight == 0.0 {
                    continue;
                }
                if !weight.is_finite() {
                    return Err(Error::Invalid(format!(
                        "cannot project onto LSI topics: row {r}, tag {tag} is {weight}"
                    )));
                }
                for (a, &loading) in acc.iter_mut().zip(self.components.row(tag)) {
                    *a += f64::from(weight) * f64::from(loading);
                }
            }
            for (o, &a) in out.row_mut(r).iter_mut().zip(&acc) {
                *o = a as f32;
            }
        }
        Ok(out)
    }

    /// A sensible number of topics for a vocabulary of `n_tags` tags: `ceil(n_tags / 4)` clamped
    /// to `[2, 64]`, and never more than `n_tags` (nor less than 1).
    ///
    /// Why: the paper does not fix k. Too many topics and the LSI cosine approaches the cosine of
    /// the raw tag sets (only near-identical tag sets reach 0.8, so positives become rare); too few
    /// and unrelated items collapse onto the same topic (too many positives, few negatives). A
    /// quarter of the vocabulary gives 25 topics for the 100 teacher tags and 19 for 74, and keeps
    /// several tags per topic; the cap of 64 stops a user library's long tail of rare tags from
    /// adding topics that explain almost nothing, and keeps projection cheap.
    pub fn default_topics(n_tags: usize) -> usize {
        n_tags.div_ceil(4).clamp(2, 64).min(n_tags).max(1)
    }

    /// The `n` largest positive and `n` most negative tag loadings of `topic`, as
    /// `(tag index, loading)`: `(positive, negative)`, each sorted from the strongest loading,
    /// ties by lowest tag index.
    ///
    /// Why: a topic is only understandable through its extreme tags (the paper's figure 3 lists
    /// them); the GUI shows these to explain what similarity the model was trained on. Only
    /// strictly positive (resp. negative) loadings are listed, so a list may be shorter than `n`.
    /// An out-of-range `topic` gives two empty lists.
    pub fn topic_tags(&self, topic: usize, n: usize) -> (TagLoadings, TagLoadings) {
        if topic >= self.n_topics() {
            return (Vec::new(), Vec::new());
        }
        let loadings = self.components.column(topic);
        let mut positive: Vec<(usize, f32)> =
            loadings.iter().copied().enumerate().filter(|&(_, v)| v > 0.0).collect();
        positive.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        positive.truncate(n);
        let mut negative: Vec<(usize, f32)> =
            loadings.iter().copied().enumerate().filter(|&(_, v)| v < 0.0).collect();
        negative.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        negative.truncate(n);
        (positive, negative)
    }

    /// The share of the matrix's total energy `Σσ² = ‖W‖²_F` captured by each kept topic
    /// (`σ_t² / Σσ²`, in `[0, 1]`, descending; the sum is below 1 when topics were truncated).
    ///
    /// Why: it tells the user how much of the tag structure k topics keep, and is free to compute.
    /// As in classical LSI, `W` is not centred, so this is the uncentred "explained variance".
    pub fn explained_variance(&self) -> Vec<f32> {
        self.singular_values
            .iter()
            .map(|&s| (f64::from(s) * f64::from(s) / self.total_energy) as f32)
            .collect()
    }

    /// `V_k`, `[n_tags, n_topics]`: column `t` holds each tag's loading on topic `t` (unit norm,
    /// sign as described on [`Lsi`]). Exposed for the training loop (projection on tensors) and
    /// for saving the space next to a model.
    pub fn components(&self) -> ArrayView2<'_, f32> {
        self.components.view()
    }

    /// The kept singular values σ₁ ≥ … ≥ σ_k > 0; σ_t is the norm of topic `t`'s column of
    /// `U_k Σ_k`, i.e. how strongly the fitted items express that topic.
    pub fn singular_values(&self) -> &[f32] {
        &self.singular_values
    }

    /// Number of kept topics (LSI dimensions); may be below [`Lsi::n_topics_requested`] when the
    /// tag matrix has a lower rank.
    pub fn n_topics(&self) -> usize {
        self.components.ncols()
    }

    /// The number of topics asked of [`Lsi::fit`], so a caller can tell the user when fewer were
    /// kept.
    pub fn n_topics_requested(&self) -> usize {
        self.n_topics_requested
    }

    /// Size of the tag vocabulary the space was fitted on; rows passed to [`Lsi::project`] must
    /// have this many columns.
    pub fn n_tags(&self) -> usize {
        self.components.nrows()
    }

    /// Number of items (rows of `W`) the space was fitted on, for reports and the GUI.
    pub fn n_items_fitted(&self) -> usize {
        self.n_items_fitted
    }
}

/// Pairwise cosine similarity of the rows of `vectors` (`[n, k]`, usually a batch of LSI
/// vectors), `[n, n]`, with the diagonal set to 0.
///
/// Why the diagonal is 0: an item is never its own positive; zeroing it (as the paper does) keeps
/// it from passing the positive threshold. Values are clamped to `[-1, 1]`.
///
/// A row that is all zero (an item with no tags, or only tags unknown to the fit) or holds a
/// non-finite value has no direction: its cosine with everything is set to 0. Note that 0 is below
/// the negative threshold, so the triplet code must not take such items as negatives — pass
/// [`nonzero_rows`] to `super::triplets::lsi_masks`, which excludes them entirely.
///
/// Memory and time are O(n²·k): meant for a mini-batch, not a whole library.
pub fn cosine_matrix(vectors: ArrayView2<f32>) -> Array2<f32> {
    let n = vectors.nrows();
    let usable = nonzero_rows(vectors);
    let mut unit = Array2::<f64>::zeros(vectors.dim());
    for ((i, row), &ok) in vectors.outer_iter().enumerate().zip(&usable) {
        if ok {
            let norm = row_norm(row);
            for (u, &v) in unit.row_mut(i).iter_mut().zip(row) {
                *u = f64::from(v) / norm;
            }
        }
    }
    let cos = unit.dot(&unit.t());
    let mut out = Array2::<f32>::zeros((n, n));
    for i in 0..n {
        for j in 0..n {
            if i != j && usable[i] && usable[j] {
                out[[i, j]] = cos[[i, j]].clamp(-1.0, 1.0) as f32;
            }
        }
    }
    out
}

/// For each row of `vectors`: does it have a direction (finite, non-zero norm)?
///
/// Why: an item without tags projects to the zero vector; its cosine is undefined (reported as 0
/// by [`cosine_matrix`]), so it must be neither a positive, a negative nor an anchor. This is the
/// `tagged` argument of `super::triplets::lsi_masks`.
pub fn nonzero_rows(vectors: ArrayView2<f32>) -> Vec<bool> {
    vectors
        .outer_iter()
        .map(|row| {
            let norm = row_norm(row);
            norm.is_finite() && norm > 0.0
        })
        .collect()
}

/// Euclidean norm of a row, in f64.
fn row_norm(row: ArrayView1<f32>) -> f64 {
    row.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt()
}

/// `WᵀW` in f64 (`[n_tags, n_tags]`) and its trace `‖W‖²_F`, visiting only non-zero entries.
fn gram_matrix(matrix: ArrayView2<f32>) -> Result<(Array2<f64>, f64)> {
    let n_tags = matrix.ncols();
    let mut upper = vec![0.0f64; n_tags * n_tags];
    let mut nonzero: Vec<(usize, f64)> = Vec::with_capacity(n_tags);
    for (item, row) in matrix.outer_iter().enumerate() {
        nonzero.clear();
        for (tag, &weight) in row.iter().enumerate() {
            if !weight.is_finite() {
                return Err(Error::Invalid(format!(
                    "cannot fit LSI topics: item {item}, tag {tag} is {weight}"
                )));
            }
            if weight != 0.0 {
                nonzero.push((tag, f64::from(weight)));
            }
        }
        for (a, &(tag_a, w_a)) in nonzero.iter().enumerate() {
            let base = tag_a * n_tags;
            for &(tag_b, w_b) in &nonzero[a..] {
                upper[base + tag_b] += w_a * w_b;
            }
        }
    }
    let mut gram = Array2::<f64>::zeros((n_tags, n_tags));
    let mut trace = 0.0;
    for a in 0..n_tags {
        trace += upper[a * n_tags + a];
        for b in a..n_tags {
            let v = upper[a * n_tags + b];
            gram[[a, b]] = v;
            gram[[b, a]] = v;
        }
    }
    Ok((gram, trace))
}

/// `1.0` or `-1.0`: the factor that makes the largest-magnitude component of `vector` (first one
/// on an exact tie) positive.
fn sign_to_make_pivot_positive(vector: ArrayView1<f64>) -> f64 {
    let mut pivot = 0.0f64;
    for &v in vector {
        if v.abs() > pivot.abs() {
            pivot = v;
        }
    }
    if pivot < 0.0 { -1.0 } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use ndarray::{Array2, array};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// Reads a fixture; `w.npy` is float32, the others float64 (see the generator script).
    fn fixture(name: &str) -> (Vec<usize>, Vec<f64>) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lsi").join(name);
        let bytes = std::fs::read(&path).unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        assert_eq!(npy.order(), npyz::Order::C, "{name}: expected C order");
        let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
        let data = if name == "w.npy" {
            npy.into_vec::<f32>().unwrap().into_iter().map(f64::from).collect()
        } else {
            npy.into_vec::<f64>().unwrap()
        };
        (shape, data)
    }

    fn fixture_2d(name: &str) -> Array2<f64> {
        let (shape, data) = fixture(name);
        assert_eq!(shape.len(), 2, "{name}");
        Array2::from_shape_vec((shape[0], shape[1]), data).unwrap()
    }

    fn fixture_w() -> Array2<f32> {
        fixture_2d("w.npy").mapv(|v| v as f32)
    }

    fn assert_rel(have: f64, want: f64, rel: f64, what: &str) {
        assert!((have - want).abs() <= rel * want.abs().max(1e-12), "{what}: have {have}, want {want}");
    }

    #[test]
    fn singular_values_match_numpy() {
        let w = fixture_w();
        let (_, s_all) = fixture("s.npy");
        let lsi = Lsi::fit(w.view(), 12).unwrap();
        assert_eq!(lsi.n_topics(), 12);
        for (t, (&have, &want)) in lsi.singular_values().iter().zip(&s_all).enumerate() {
            assert_rel(f64::from(have), want, 1e-4, &format!("sigma {t}"));
        }
        let total: f64 = s_all.iter().map(|s| s * s).sum();
        let lsi4 = Lsi::fit(w.view(), 4).unwrap();
        for (t, (&have, want)) in
            lsi4.explained_variance().iter().zip(s_all.iter().map(|s| s * s / total)).enumerate()
        {
            assert_rel(f64::from(have), want, 1e-4, &format!("explained variance {t}"));
        }
    }

    #[test]
    fn projection_matches_numpy_up_to_column_sign() {
        let w = fixture_w();
        let us = fixture_2d("us.npy");
        let lsi = Lsi::fit(w.view(), 4).unwrap();
        assert_eq!(lsi.n_items_fitted(), 40);
        assert_eq!(lsi.n_tags(), 12);
        let got = lsi.project(w.view()).unwrap();
        assert_eq!(got.dim(), (40, 4));
        for t in 0..4 {
            let scale = us.column(t).iter().map(|v| v.abs()).fold(0.0, f64::max);
            let same: f64 = (0..40).map(|i| (f64::from(got[[i, t]]) - us[[i, t]]).abs()).fold(0.0, f64::max);
            let flipped: f64 =
                (0..40).map(|i| (f64::from(got[[i, t]]) + us[[i, t]]).abs()).fold(0.0, f64::max);
            assert!(same.min(flipped) <= 1e-4 * scale, "topic {t}: max |Δ| {same} / flipped {flipped}");
        }
    }

    #[test]
    fn sign_convention_matches_the_fixture_script() {
        // The fixture applies the same rule (largest-|loading| positive), so signs agree exactly.
        let w = fixture_w();
        let v = fixture_2d("v.npy");
        let lsi = Lsi::fit(w.view(), 4).unwrap();
        for t in 0..4 {
            for tag in 0..12 {
                let have = f64::from(lsi.components()[[tag, t]]);
                assert!(
                    (have - v[[tag, t]]).abs() <= 1e-4,
                    "V[{tag},{t}]: have {have}, want {}",
                    v[[tag, t]]
                );
            }
            let col = lsi.components().column(t).to_owned();
            let pivot = col.iter().copied().fold(0.0f32, |p, x| if x.abs() > p.abs() { x } else { p });
            assert!(pivot > 0.0, "topic {t}: pivot {pivot}");
        }
    }

    #[test]
    fn fold_in_of_new_rows_uses_the_fitted_topics() {
        let w = fixture_w();
        let lsi = Lsi::fit(w.view(), 4).unwrap();
        let all = lsi.project(w.view()).unwrap();
        // Projecting a subset (or a copy as "new" rows) gives the same vectors as in the full set.
        let some = w.slice_axis(ndarray::Axis(0), ndarray::Slice::from(5..9)).to_owned();
        let part = lsi.project(some.view()).unwrap();
        for i in 0..4 {
            for t in 0..4 {
                assert!((part[[i, t]] - all[[5 + i, t]]).abs() < 1e-6);
            }
        }
        // A transposed (non-standard layout) view projects the same.
        let wt = w.t().to_owned();
        let part_t = lsi.project(wt.t()).unwrap();
        assert_eq!(part_t, all);
        // An item with no tags maps to zero.
        assert!(all.row(17).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn projected_fitted_columns_have_norm_sigma_and_are_orthogonal() {
        // A larger sparse random matrix: W V_k = U_k Σ_k has orthogonal columns of norm σ_k.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (n_items, n_tags) = (3000, 60);
        let w = Array2::from_shape_fn((n_items, n_tags), |(i, j)| {
            let p = if j % 5 == i % 5 { 0.4 } else { 0.03 };
            if rng.random::<f64>() < p { 1.0f32 } else { 0.0 }
        });
        let k = Lsi::default_topics(n_tags);
        assert_eq!(k, 15);
        let lsi = Lsi::fit(w.view(), k).unwrap();
        let us = lsi.project(w.view()).unwrap().mapv(f64::from);
        let gram = us.t().dot(&us);
        let s = lsi.singular_values();
        for a in 0..k {
            assert_rel(gram[[a, a]].sqrt(), f64::from(s[a]), 1e-4, &format!("norm of column {a}"));
            for b in 0..a {
                assert!(
                    gram[[a, b]].abs() <= 1e-4 * f64::from(s[0]).powi(2),
                    "columns {a},{b}: {}",
                    gram[[a, b]]
                );
            }
        }
        assert!(s.windows(2).all(|p| p[0] >= p[1]));
    }

    #[test]
    fn low_rank_matrix_keeps_only_real_topics() {
        // Two distinct tag sets → rank 2, although 3 topics were asked for.
        let w =
            array![[1.0f32, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]];
        let lsi = Lsi::fit(w.view(), 3).unwrap();
        assert_eq!(lsi.n_topics(), 2);
        assert_eq!(lsi.n_topics_requested(), 3);
        assert_rel(f64::from(lsi.singular_values()[0]), 2.0, 1e-6, "sigma 0");
        assert_rel(f64::from(lsi.singular_values()[1]), 2f64.sqrt(), 1e-6, "sigma 1");
        let ev = lsi.explained_variance();
        assert_rel(f64::from(ev[0] + ev[1]), 1.0, 1e-6, "total explained");
    }

    #[test]
    fn fit_errors_are_clear() {
        let msg = |r: Result<Lsi>| match r {
            Err(Error::Invalid(m)) => m,
            other => panic!("expected Error::Invalid, got {other:?}"),
        };
        let no_items = Array2::<f32>::zeros((0, 5));
        assert!(msg(Lsi::fit(no_items.view(), 2)).contains("no items"));
        let no_tags = Array2::<f32>::zeros((5, 0));
        assert!(msg(Lsi::fit(no_tags.view(), 2)).contains("vocabulary is empty"));
        let w = fixture_w();
        assert!(msg(Lsi::fit(w.view(), 0)).contains("at least 1"));
        let m = msg(Lsi::fit(w.view(), 13));
        assert!(m.contains("13 LSI topics") && m.contains("only 12 tags"), "{m}");
        let zeros = Array2::<f32>::zeros((6, 4));
        assert!(msg(Lsi::fit(zeros.view(), 2)).contains("none of the 6 items has any tag"));
        let mut nan = w.clone();
        nan[[3, 2]] = f32::NAN;
        assert!(msg(Lsi::fit(nan.view(), 2)).contains("item 3, tag 2"));
    }

    #[test]
    fn project_errors_are_clear() {
        let w = fixture_w();
        let lsi = Lsi::fit(w.view(), 4).unwrap();
        let narrow = Array2::<f32>::zeros((2, 11));
        match lsi.project(narrow.view()) {
            Err(Error::Invalid(m)) => assert!(m.contains("11 tags") && m.contains("fitted on 12"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut inf = Array2::<f32>::zeros((2, 12));
        inf[[1, 0]] = f32::INFINITY;
        assert!(matches!(lsi.project(inf.view()), Err(Error::Invalid(_))));
    }

    #[test]
    fn default_topics_rule() {
        assert_eq!(Lsi::default_topics(0), 1);
        assert_eq!(Lsi::default_topics(1), 1);
        assert_eq!(Lsi::default_topics(2), 2);
        assert_eq!(Lsi::default_topics(5), 2);
        assert_eq!(Lsi::default_topics(12), 3);
        assert_eq!(Lsi::default_topics(74), 19);
        assert_eq!(Lsi::default_topics(100), 25);
        assert_eq!(Lsi::default_topics(500), 64);
    }

    #[test]
    fn topic_tags_lists_extreme_loadings() {
        let w = fixture_w();
        let v = fixture_2d("v.npy");
        let lsi = Lsi::fit(w.view(), 4).unwrap();
        for t in 0..4 {
            let (pos, neg) = lsi.topic_tags(t, 3);
            let mut want_pos: Vec<(usize, f64)> =
                (0..12).map(|i| (i, v[[i, t]])).filter(|p| p.1 > 0.0).collect();
            want_pos.sort_by(|a, b| b.1.total_cmp(&a.1));
            let want_pos: Vec<usize> = want_pos.iter().take(3).map(|p| p.0).collect();
            assert_eq!(pos.iter().map(|p| p.0).collect::<Vec<_>>(), want_pos, "topic {t} positive");
            assert!(pos.iter().all(|p| p.1 > 0.0) && neg.iter().all(|p| p.1 < 0.0));
            assert!(pos.windows(2).all(|p| p[0].1 >= p[1].1));
            assert!(neg.windows(2).all(|p| p[0].1 <= p[1].1));
            // The first topic's pivot is its top positive tag.
            assert_eq!(pos[0].1, lsi.components().column(t).iter().copied().fold(0.0, f32::max));
        }
        assert_eq!(lsi.topic_tags(4, 3), (vec![], vec![]));
        assert_eq!(lsi.topic_tags(0, 0), (vec![], vec![]));
    }

    #[test]
    fn cosine_matrix_properties() {
        let v = array![[1.0f32, 0.0], [2.0, 0.0], [0.0, 0.0], [0.0, 3.0], [-1.0, 1.0], [f32::NAN, 1.0]];
        let cos = cosine_matrix(v.view());
        assert_eq!(cos.dim(), (6, 6));
        for i in 0..6 {
            assert_eq!(cos[[i, i]], 0.0, "diagonal");
            for j in 0..6 {
                assert_eq!(cos[[i, j]], cos[[j, i]], "symmetry");
                assert!((-1.0..=1.0).contains(&cos[[i, j]]));
            }
        }
        assert!((cos[[0, 1]] - 1.0).abs() < 1e-6, "parallel rows");
        assert!(cos[[0, 3]].abs() < 1e-6, "orthogonal rows");
        assert!((cos[[0, 4]] + 0.5f32.sqrt()).abs() < 1e-6);
        assert!(cos.row(2).iter().all(|&c| c == 0.0), "zero row");
        assert!(cos.row(5).iter().all(|&c| c == 0.0), "non-finite row");
        assert_eq!(nonzero_rows(v.view()), vec![true, true, false, true, true, false]);
        assert_eq!(cosine_matrix(Array2::<f32>::zeros((0, 3)).view()).dim(), (0, 0));
    }
}
