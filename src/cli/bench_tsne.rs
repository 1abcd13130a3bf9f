//! `tuneatlas bench tsne`: how long the library map takes, and whether it is
//! still a good map — PCA and t-SNE timed separately on clustered synthetic
//! 256-d vectors, with neighbourhood-preservation figures beside the times
//! so that a faster setting cannot silently ruin the layout. Printed, never
//! asserted.

use std::time::Instant;

use clap::Args;
use tuneatlas::jobs::{CancelToken, worker_count};
use tuneatlas::map::landmarks::landmark_count;
use tuneatlas::map::quality::{clustered_unit_vectors, knn_preservation, label_agreement};
use tuneatlas::map::{Layout, LayoutParams, LayoutProgress, LayoutStage, compute_layout, estimate_tsne_s};

/// Arguments of `tuneatlas bench tsne`.
#[derive(Debug, Args)]
pub struct TsneBenchArgs {
    /// Number of synthetic tracks.
    #[arg(long, default_value_t = 10_000)]
    pub tracks: usize,
    /// Vector dimension.
    #[arg(long, default_value_t = 256)]
    pub dim: usize,
    /// Number of Gaussian clusters on the unit sphere.
    #[arg(long, default_value_t = 40)]
    pub clusters: usize,
    /// Sub-clusters ("albums") per cluster, so each track has real near neighbours.
    #[arg(long, default_value_t = 8)]
    pub sub_clusters: usize,
    /// Spread around a sub-cluster: each vector is sub-centre + noise · (random unit vector), re-normalised.
    #[arg(long, default_value_t = 1.0)]
    pub noise: f32,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// PCA dimensions to try, comma-separated (0 = no PCA).
    #[arg(long, value_delimiter = ',', default_values_t = [LayoutParams::default().pca_dims])]
    pub pca_dims: Vec<usize>,
    /// Barnes–Hut θ values to try, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [LayoutParams::default().approx_threshold])]
    pub theta: Vec<f32>,
    /// Iteration counts to try, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [LayoutParams::default().max_iter])]
    pub max_iter: Vec<usize>,
    /// Landmarks per square root of the track count to try, comma-separated
    /// (0 = t-SNE of every track, as for libraries up to --full-tsne-max).
    #[arg(long, value_delimiter = ',', default_values_t = [0.0, LayoutParams::default().landmarks_per_sqrt_track])]
    pub landmarks_per_sqrt: Vec<f32>,
    /// Largest library laid out by t-SNE alone (larger ones get landmarks).
    #[arg(long, default_value_t = LayoutParams::default().full_tsne_max_tracks)]
    pub full_tsne_max: usize,
    /// t-SNE perplexity.
    #[arg(long, default_value_t = LayoutParams::default().perplexity)]
    pub perplexity: f32,
    /// Neighbours compared by the quality figures.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Also time a 0-iteration run per setting, to split t-SNE into its
    /// neighbour/similarity stage and its gradient descent.
    #[arg(long)]
    pub split_stages: bool,
}

/// Times of one layout run, from its progress reports.
struct Timed {
    layout: Layout,
    pca_s: f64,
    tsne_s: f64,
}

fn timed_layout(vectors: &[(i64, Vec<f32>)], params: &LayoutParams) -> anyhow::Result<Timed> {
    let started = Instant::now();
    let mut tsne_started = None;
    let layout = compute_layout(vectors, params, &CancelToken::new(), |p: LayoutProgress| {
        if p.stage == LayoutStage::Tsne && tsne_started.is_none() {
            tsne_started = Some(started.elapsed().as_secs_f64());
        }
    })?;
    let total_s = started.elapsed().as_secs_f64();
    let pca_s = tsne_started.unwrap_or(total_s);
    Ok(Timed { layout, pca_s, tsne_s: total_s - pca_s })
}

/// Runs the benchmark.
pub fn bench_tsne(args: &TsneBenchArgs, build_profile: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.tracks >= 2 && args.dim >= 2 && args.k >= 1,
        "need ≥ 2 tracks, ≥ 2 dimensions, k ≥ 1"
    );
    println!(
        "bench tsne: {} tracks, {}-d, {} clusters × {} sub-clusters (noise {}), seed {}, perplexity {}, {} cores, {} build",
        args.tracks,
        args.dim,
        args.clusters,
        args.sub_clusters,
        args.noise,
        args.seed,
        args.perplexity,
        worker_count(),
        build_profile
    );
    let data = clustered_unit_vectors(
        args.tracks,
        args.dim,
        args.clusters,
        args.sub_clusters,
        args.noise,
        args.seed,
    );
    for &pca_dims in &args.pca_dims {
        for &theta in &args.theta {
            for (&max_iter, &per_sqrt) in
                args.max_iter.iter().flat_map(|m| args.landmarks_per_sqrt.iter().map(move |l| (m, l)))
            {
                let params = LayoutParams {
                    perplexity: args.perplexity,
                    pca_dims,
                    max_iter,
                    approx_threshold: theta,
                    full_tsne_max_tracks: args.full_tsne_max,
                    landmarks_per_sqrt_track: per_sqrt,
                    ..LayoutParams::default()
                };
                let landmarks = landmark_count(args.tracks, args.full_tsne_max, per_sqrt);
                let pca = if pca_dims == 0 || pca_dims >= args.dim {
                    "none".to_string()
                } else {
                    pca_dims.to_string()
                };
                let what = if landmarks < args.tracks {
                    format!("landmarks: t-SNE of {landmarks}, the rest placed")
                } else {
                    "t-SNE of every track".to_string()
                };
                println!("  PCA {pca}, θ {theta}, {max_iter} iterations, {what}:");
                if args.split_stages {
                    let similarities =
                        timed_layout(&data.vectors, &LayoutParams { max_iter: 0, ..params.clone() })?;
                    println!(
                        "    neighbour + similarity stage alone (0 iterations): {:.2} s",
                        similarities.tsne_s
                    );
                }
                let run = timed_layout(&data.vectors, &params)?;
                let n = landmarks.max(2) as f64;
                println!(
                    "    PCA (+ landmarks) {:.2} s, t-SNE (+ placing) {:.2} s (t-SNE estimate {:.1} s), total {:.2} s; \
                     {:.2} ns per n·log₂n·iteration",
                    run.pca_s,
                    run.tsne_s,
                    estimate_tsne_s(landmarks, &params),
                    run.pca_s + run.tsne_s,
                    run.tsne_s * 1e9 / (n * n.log2() * max_iter.max(1) as f64)
                );
                let t = Instant::now();
                let preserved = knn_preservation(&data.vectors, &run.layout, args.k)?;
                let agreement = label_agreement(&run.layout, &data.labels, args.k);
                println!(
                    "    quality: {k}-NN preservation {preserved:.3} (share of each track's {k} nearest in {}-d \
                     among its {k} nearest on the map), cluster agreement {agreement:.3} ({:.1} s to measure)",
                    args.dim,
                    t.elapsed().as_secs_f64(),
                    k = args.k
                );
            }
        }
    }
    Ok(())
}
