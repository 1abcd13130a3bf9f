//! Principal component analysis: the step before t-SNE that shrinks 256-d
//! track vectors to a few dozen dimensions.
//!
//! Why: t-SNE's first phase finds each point's nearest neighbours with a
//! vantage-point tree, whose cost grows with the dimension (in 256-d it
//! degenerates to nearly a full scan), while the map itself only depends on
//! those neighbourhoods. The leading 50 components of embedding vectors keep
//! almost all of their variance, so the neighbourhoods barely change and the
//! search gets several times cheaper (measured in `tuneatlas bench tsne`).
//! The decomposition is exact: the d×d covariance matrix (f64) and its
//! symmetric eigen-decomposition (`linfa-linalg`), fast for d = 256.

use linfa_linalg::eigh::EighInto;
use ndarray::{Array2, Axis};

use crate::{Error, Result};

/// The rows projected onto the leading principal components.
#[derive(Debug, Clone)]
pub struct Projection {
    /// `n × dims` row-major coordinates in the component basis (centred).
    pub rows: Array2<f32>,
    /// Fraction of the total variance the kept components explain, in [0, 1]
    /// (1 when nothing was dropped); 0 when the rows have no variance.
    pub explained_variance: f64,
}

/// Projects the `n × dim` row-major `rows` onto their `dims` leading
/// principal components (centred on the mean row).
///
/// `dims` is capped at `dim` and at `n - 1` (the rank of centred data); at
/// least one component is kept. Component signs are fixed (largest loading
/// positive), so the same rows always give the same projection. Fails only
/// when the rows contain NaN or infinity, or the shape is inconsistent.
pub fn project(rows: &[f32], n: usize, dim: usize, dims: usize) -> Result<Projection> {
    if dim == 0 || rows.len() != n * dim {
        return Err(Error::Invalid(format!("PCA: {} values are not {n} rows of {dim}", rows.len())));
    }
    if rows.iter().any(|v| !v.is_finite()) {
        return Err(Error::Invalid("PCA: the vectors contain NaN or infinite values".into()));
    }
    let keep = dims.min(dim).min(n.saturating_sub(1)).max(1);
    let mut centred = Array2::from_shape_vec((n, dim), rows.iter().map(|&v| f64::from(v)).collect())
        .map_err(|e| Error::Invalid(format!("PCA: {e}")))?;
    if let Some(mean) = centred.mean_axis(Axis(0)) {
        centred -= &mean;
    }
    let denominator = n.saturating_sub(1).max(1) as f64;
    let covariance = centred.t().dot(&centred) / denominator;
    let total_variance: f64 = covariance.diag().sum();
    let (eigenvalues, eigenvectors) =
        covariance.eigh_into().map_err(|e| Error::Invalid(format!("PCA eigen-decomposition failed: {e}")))?;
    // Largest eigenvalues first; ties broken by index so the order is stable.
    let mut order: Vec<usize> = (0..eigenvalues.len()).collect();
    order.sort_by(|&a, &b| eigenvalues[b].total_cmp(&eigenvalues[a]).then(a.cmp(&b)));
    order.truncate(keep);
    let mut basis = Array2::<f64>::zeros((dim, keep));
    for (out_col, &src_col) in order.iter().enumerate() {
        let v = eigenvectors.column(src_col);
        let pivot = v.iter().copied().fold(0.0f64, |best, x| if x.abs() > best.abs() { x } else { best });
        let sign = if pivot < 0.0 { -1.0 } else { 1.0 };
        basis.column_mut(out_col).assign(&v.mapv(|x| x * sign));
    }
    let kept_variance: f64 = order.iter().map(|&i| eigenvalues[i].max(0.0)).sum();
    let explained_variance =
        if total_variance > 0.0 { (kept_variance / total_variance).clamp(0.0, 1.0) } else { 0.0 };
    let projected = centred.dot(&basis).mapv(|x| x as f32);
    Ok(Projection { rows: projected, explained_variance })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_direction_of_largest_variance() {
        // Points spread along (1, 1, 0)/√2 with a little noise along z.
        let mut rows = Vec::new();
        for i in 0..20 {
            let t = i as f32 - 9.5;
            rows.extend_from_slice(&[t, t, if i % 2 == 0 { 0.1 } else { -0.1 }]);
        }
        let p = project(&rows, 20, 3, 1).expect("pca");
        assert_eq!(p.rows.dim(), (20, 1));
        // The projection is the signed distance along the diagonal.
        let expected = (2.0f32).sqrt() * -9.5;
        assert!((p.rows[[0, 0]].abs() - expected.abs()).abs() < 1e-3, "{}", p.rows[[0, 0]]);
        assert!(p.explained_variance > 0.99 && p.explained_variance <= 1.0);
        let all = project(&rows, 20, 3, 10).expect("pca");
        assert_eq!(all.rows.dim(), (20, 3));
        assert!((all.explained_variance - 1.0).abs() < 1e-9);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(project(&[1.0, f32::NAN], 1, 2, 1).is_err());
        assert!(project(&[1.0, 2.0, 3.0], 2, 2, 1).is_err());
    }
}
