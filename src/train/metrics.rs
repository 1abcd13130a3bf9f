//! Retrieval and tagging metrics for validating an embedding.
//!
//! Why these three: a similarity space is good when (1) another clip of the
//! same track is a clip's nearest neighbour (same-track P@1: the "track
//! concept" — robust, label-free), (2) a track's nearest tracks come from the
//! same album (same-album P@5: production and composer consistency, the
//! closest label-free proxy for "sounds alike"), and (3) the tag heads rank
//! clips as the teacher does (ROC-AUC per tag, macro-averaged over tags that
//! have both positives and negatives). The same functions score the student
//! and the teacher's own penultimate embedding, so the model card compares
//! like with like.

/// L2-normalises each `dim`-wide row of `rows` in place (zero rows stay zero).
pub fn normalise_rows(rows: &mut [f32], dim: usize) {
    for r in rows.chunks_exact_mut(dim) {
        let n = r.iter().map(|v| v * v).sum::<f32>().sqrt();
        if n > 0.0 {
            r.iter_mut().for_each(|v| *v /= n);
        }
    }
}

/// Track vectors as ARCHITECTURE.md §3 defines them: the mean of the L2-normalised
/// clip vectors of each track, re-normalised. `track_of[i]` is clip i's
/// track in `0..n_tracks`; a track without clips gets a zero vector.
pub fn track_vectors(clip_vectors: &[f32], dim: usize, track_of: &[usize], n_tracks: usize) -> Vec<f32> {
    let mut clips = clip_vectors.to_vec();
    normalise_rows(&mut clips, dim);
    let mut out = vec![0.0f32; n_tracks * dim];
    for (c, &t) in clips.chunks_exact(dim).zip(track_of) {
        for (o, v) in out[t * dim..(t + 1) * dim].iter_mut().zip(c) {
            *o += v;
        }
    }
    normalise_rows(&mut out, dim);
    out
}

/// Indices of the `k` rows most cosine-similar to row `q` (excluding `q`),
/// best first, ties by index. Rows must be L2-normalised.
fn nearest(rows: &[f32], dim: usize, q: usize, k: usize, skip: impl Fn(usize) -> bool) -> Vec<usize> {
    let query = &rows[q * dim..(q + 1) * dim];
    let mut scored: Vec<(f32, usize)> = rows
        .chunks_exact(dim)
        .enumerate()
        .filter(|&(i, _)| i != q && !skip(i))
        .map(|(i, r)| (r.iter().zip(query).map(|(a, b)| a * b).sum::<f32>(), i))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, i)| i).collect()
}

/// Same-track P@1: the share of clips (of tracks with at least two clips)
/// whose nearest other clip (cosine) belongs to the same track. `None` when
/// no clip qualifies.
pub fn same_track_p_at_1(clip_vectors: &[f32], dim: usize, track_of: &[usize]) -> Option<f64> {
    let mut rows = clip_vectors.to_vec();
    normalise_rows(&mut rows, dim);
    let mut clips_of = std::collections::HashMap::<usize, usize>::new();
    for &t in track_of {
        *clips_of.entry(t).or_default() += 1;
    }
    let (mut hits, mut queries) = (0usize, 0usize);
    for (q, &t) in track_of.iter().enumerate() {
        if clips_of[&t] < 2 {
            continue;
        }
        queries += 1;
        if nearest(&rows, dim, q, 1, |_| false).first().is_some_and(|&n| track_of[n] == t) {
            hits += 1;
        }
    }
    (queries > 0).then(|| hits as f64 / queries as f64)
}

/// Same-album P@k over track vectors: for each track whose album has at
/// least two tracks, the share of its `k` nearest other tracks on the same
/// album (plain P@k: the denominator is always `k`). `None` when no track
/// qualifies.
pub fn same_album_p_at_k(track_vectors: &[f32], dim: usize, album_of: &[u32], k: usize) -> Option<f64> {
    let mut tracks_of = std::collections::HashMap::<u32, usize>::new();
    for &a in album_of {
        *tracks_of.entry(a).or_default() += 1;
    }
    let mut rows = track_vectors.to_vec();
    normalise_rows(&mut rows, dim);
    let (mut sum, mut queries) = (0.0f64, 0usize);
    for (q, &a) in album_of.iter().enumerate() {
        if tracks_of[&a] < 2 || rows[q * dim..(q + 1) * dim].iter().all(|v| *v == 0.0) {
            continue;
        }
        queries += 1;
        let nn = nearest(&rows, dim, q, k, |i| rows[i * dim..(i + 1) * dim].iter().all(|v| *v == 0.0));
        sum += nn.iter().filter(|&&n| album_of[n] == a).count() as f64 / k as f64;
    }
    (queries > 0).then(|| sum / queries as f64)
}

/// Same-album P@k over clip vectors: for each clip whose album has at least
/// two tracks, the share of its `k` nearest clips **of other tracks** on the
/// same album. Why other tracks: a clip's own track's clips are the
/// same-track figure's business and would fill the list for free. `None`
/// when no clip qualifies.
pub fn same_album_clip_p_at_k(
    clip_vectors: &[f32],
    dim: usize,
    track_of: &[usize],
    album_of_track: impl Fn(usize) -> u32,
    k: usize,
) -> Option<f64> {
    let mut rows = clip_vectors.to_vec();
    normalise_rows(&mut rows, dim);
    let mut tracks_of = std::collections::HashMap::<u32, std::collections::BTreeSet<usize>>::new();
    for &t in track_of {
        tracks_of.entry(album_of_track(t)).or_default().insert(t);
    }
    let (mut sum, mut queries) = (0.0f64, 0usize);
    for (q, &t) in track_of.iter().enumerate() {
        let a = album_of_track(t);
        if tracks_of[&a].len() < 2 {
            continue;
        }
        queries += 1;
        let nn = nearest(&rows, dim, q, k, |i| track_of[i] == t);
        sum += nn.iter().filter(|&&n| album_of_track(track_of[n]) == a).count() as f64 / k as f64;
    }
    (queries > 0).then(|| sum / queries as f64)
}

/// P@k over track vectors with a caller-given relevance: for each query in
/// `queries`, the share of its `k` nearest other rows (cosine; zero rows
/// never retrieved) for which `relevant(query, row)` holds (plain P@k: the
/// denominator is always `k`). `None` when no query qualifies or fewer than
/// `k` other rows exist.
///
/// Why a predicate: fine-tuning scores retrieval by "shares a tag of this tag
/// set", which no fixed label column expresses.
pub fn p_at_k_by(
    rows: &[f32],
    dim: usize,
    queries: &[usize],
    k: usize,
    relevant: impl Fn(usize, usize) -> bool,
) -> Option<f64> {
    let mut unit = rows.to_vec();
    normalise_rows(&mut unit, dim);
    let n = unit.len() / dim.max(1);
    let zero = |i: usize| unit[i * dim..(i + 1) * dim].iter().all(|v| *v == 0.0);
    if k == 0 || n < k + 1 {
        return None;
    }
    let (mut sum, mut count) = (0.0f64, 0usize);
    for &q in queries {
        if zero(q) {
            continue;
        }
        let nn = nearest(&unit, dim, q, k, zero);
        count += 1;
        sum += nn.iter().filter(|&&i| relevant(q, i)).count() as f64 / k as f64;
    }
    (count > 0).then(|| sum / count as f64)
}

/// Mean cosine over all pairs of distinct rows: a collapse detector (near 1
/// means every clip points the same way and similarity carries little).
/// `None` with fewer than two rows.
pub fn mean_pairwise_cosine(rows: &[f32], dim: usize) -> Option<f64> {
    let mut unit = rows.to_vec();
    normalise_rows(&mut unit, dim);
    let n = unit.len() / dim.max(1);
    if n < 2 {
        return None;
    }
    // Σ_{i≠j} u_i·u_j = |Σ u_i|² − Σ |u_i|².
    let mut sum = vec![0.0f64; dim];
    let mut self_dots = 0.0f64;
    for r in unit.chunks_exact(dim) {
        for (s, v) in sum.iter_mut().zip(r) {
            *s += f64::from(*v);
        }
        self_dots += r.iter().map(|v| f64::from(v * v)).sum::<f64>();
    }
    let total: f64 = sum.iter().map(|s| s * s).sum();
    Some((total - self_dots) / (n * (n - 1)) as f64)
}

/// ROC-AUC of `scores` against binary `labels` (Mann–Whitney U with average
/// ranks for ties). `None` without both positives and negatives.
pub fn roc_auc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let n_pos = labels.iter().filter(|l| **l).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            if labels[o] {
                rank_sum_pos += avg_rank;
            }
        }
        i = j + 1;
    }
    let u = rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

/// Macro ROC-AUC over the columns of row-major `scores` / `labels`
/// (`n_rows × n_cols`), skipping columns without both classes. Returns the
/// mean and the number of columns used (`None` when none qualifies).
pub fn macro_roc_auc(scores: &[f32], labels: &[bool], n_cols: usize) -> Option<(f64, usize)> {
    let n_rows = scores.len() / n_cols.max(1);
    let mut aucs = Vec::new();
    for c in 0..n_cols {
        let s: Vec<f32> = (0..n_rows).map(|r| scores[r * n_cols + c]).collect();
        let l: Vec<bool> = (0..n_rows).map(|r| labels[r * n_cols + c]).collect();
        if let Some(a) = roc_auc(&s, &l) {
            aucs.push(a);
        }
    }
    (!aucs.is_empty()).then(|| (aucs.iter().sum::<f64>() / aucs.len() as f64, aucs.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_album_precision_skips_the_own_track() {
        // Tracks 0 and 1 on album 0, track 2 on album 1; 2-d clip vectors.
        let v = [1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 1.0, 0.05, 1.0, 0.06];
        let track_of = [0, 0, 2, 1, 2];
        let album = |t: usize| if t == 2 { 1 } else { 0 };
        let p1 = same_album_clip_p_at_k(&v, 2, &track_of, album, 1).unwrap();
        // Queries: the clips of album 0 (two tracks); album 1 has one track.
        // Clip 0 → clip 3 (its own track's clip 1 is skipped although nearer:
        // hit); clip 1 → clip 4 (track 2: miss); clip 3 → clip 4 (miss).
        assert!((p1 - 1.0 / 3.0).abs() < 1e-9, "{p1}");
        assert_eq!(same_album_clip_p_at_k(&v, 2, &track_of, |_| 0, 1), Some(1.0));
    }

    #[test]
    fn auc_handles_perfect_inverted_and_tied_rankings() {
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]), Some(0.0));
        assert_eq!(roc_auc(&[0.5, 0.5, 0.5, 0.5], &[false, true, false, true]), Some(0.5));
        assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), Some(0.75));
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
        let (m, n) = macro_roc_auc(&[0.1, 0.0, 0.9, 0.0], &[false, false, true, false], 2).unwrap();
        assert_eq!((m, n), (1.0, 1), "the all-negative column is skipped");
    }

    #[test]
    fn p_at_k_by_counts_relevant_neighbours() {
        // Two groups of two nearby unit-ish vectors.
        let rows = [1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9];
        let group = |i: usize| i / 2;
        let same = |q: usize, i: usize| group(q) == group(i);
        let all = [0, 1, 2, 3];
        assert_eq!(p_at_k_by(&rows, 2, &all, 1, same), Some(1.0));
        let p3 = p_at_k_by(&rows, 2, &all, 3, same).expect("p@3");
        assert!((p3 - 1.0 / 3.0).abs() < 1e-12, "{p3}");
        assert_eq!(p_at_k_by(&rows, 2, &all, 4, same), None, "fewer than k other rows");
        assert_eq!(p_at_k_by(&rows, 2, &[], 1, same), None, "no query");
    }

    #[test]
    fn retrieval_metrics_count_what_they_say() {
        // Tracks 0 and 1 have two clips each; clip 1 is closer to track 1's clips.
        let clips = [1.0, 0.0, 0.6, 0.8, 0.0, 1.0, 0.1, 0.99, 0.7, 0.7];
        let track_of = [0, 0, 1, 1, 2];
        // clip0 → nearest clip4 (track 2): miss; clip1 → clip3 (0.6*0.1+0.8*0.99) vs clip2: miss;
        // clip2 → clip3: hit; clip3 → clip2: hit. Clip 4 (single clip) is not a query.
        assert_eq!(same_track_p_at_1(&clips, 2, &track_of), Some(0.5));
        let tv = track_vectors(&clips, 2, &track_of, 3);
        let norm: f32 = tv[0..2].iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-6);
        let tracks = [1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9];
        let albums = [0, 0, 1, 1];
        assert_eq!(same_album_p_at_k(&tracks, 2, &albums, 1), Some(1.0));
        assert_eq!(same_album_p_at_k(&tracks, 2, &albums, 2), Some(0.5));
        assert_eq!(same_album_p_at_k(&tracks, 2, &[0, 1, 2, 3], 1), None);
        let c = mean_pairwise_cosine(&[1.0, 0.0, 0.0, 2.0, 1.0, 1.0], 2).unwrap();
        let expected = (0.0 + 2f64.sqrt() / 2.0 + 2f64.sqrt() / 2.0) / 3.0;
        assert!((c - expected).abs() < 1e-6, "{c}");
    }
}
