//! `tuneatlas map`: compute (or reuse, or extend) the library map — the 2-d
//! t-SNE layout the desktop app shows — and print a summary. The layout is
//! cached in the library database, so the GUI opens instantly afterwards.

use std::io::{IsTerminal, Write};
use std::path::Path;

use clap::Args;
use serde::Serialize;
use tuneatlas::map::{
    LayoutParams, LayoutProgress, LayoutStage, MapCoord, MapOutcome, RegionLabel, layout_for_library,
    layout_labels,
};

use super::common::{model_version, open_read_only};

/// Arguments of `tuneatlas map`.
#[derive(Debug, Args)]
pub struct MapArgs {
    /// Compute a new layout even when the cached one is still good.
    #[arg(long)]
    pub recompute: bool,
    /// t-SNE perplexity (roughly the neighbours each track "sees"); another
    /// value than the cached layout's recomputes it.
    #[arg(long, default_value_t = LayoutParams::default().perplexity)]
    pub perplexity: f32,
    /// Model version whose vectors to lay out (default: the one most of the library is embedded with).
    #[arg(long = "model", value_name = "VERSION")]
    pub model: Option<String>,
    /// Print JSON (summary and every point) instead of a summary line.
    #[arg(long)]
    pub json: bool,
}

/// The `map --json` output.
#[derive(Debug, Serialize)]
struct MapOutput<'a> {
    model_version: &'a str,
    n_tracks: usize,
    n_tsne: usize,
    n_placed: usize,
    n_unusable: usize,
    outcome: MapOutcome,
    elapsed_s: f64,
    compute_s: f64,
    computed_at_unix_s: i64,
    params: &'a LayoutParams,
    /// The map's regions named by their most distinctive tags (the labels
    /// the window draws), largest first.
    regions: &'a [RegionLabel],
    points: &'a [MapCoord],
}

fn stage_name(stage: LayoutStage) -> &'static str {
    match stage {
        LayoutStage::Loading => "loading",
        LayoutStage::Pca => "PCA",
        LayoutStage::Tsne => "t-SNE",
        LayoutStage::Placing => "placing new tracks",
        LayoutStage::Saving => "saving",
    }
}

/// Computes or loads the map and prints what happened.
pub fn run(db: &Path, args: &MapArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.perplexity.is_finite() && args.perplexity > 0.0,
        "--perplexity must be a positive number"
    );
    let version = {
        let store = open_read_only(db)?;
        model_version(&store, args.model.as_deref())?
    };
    let params = LayoutParams { perplexity: args.perplexity, ..LayoutParams::default() };
    let cancel = super::cancel_on_ctrl_c("map layout");
    let live = std::io::stderr().is_terminal();
    let mut last_stage = None;
    let map = layout_for_library(db, &version, &params, args.recompute, &cancel, |p: LayoutProgress| {
        if last_stage != Some(p.stage) {
            if live && last_stage == Some(LayoutStage::Tsne) {
                eprintln!();
            }
            last_stage = Some(p.stage);
            if !live || p.stage != LayoutStage::Tsne {
                eprintln!("{} ({} tracks)…", stage_name(p.stage), p.n_tracks);
            }
        }
        if live && p.stage == LayoutStage::Tsne {
            let estimate = p.stage_estimate_s.map(|e| format!(" of ~{e:.0} s")).unwrap_or_default();
            eprint!("\rt-SNE ({} tracks): {:.0} s{estimate}   ", p.n_tracks, p.stage_elapsed_s);
            let _ = std::io::stderr().flush();
        }
    })?;
    if live && last_stage == Some(LayoutStage::Tsne) {
        eprintln!();
    }
    let layout = &map.layout;
    let regions = layout_labels(&open_read_only(db)?, layout, &map.model_version)?;
    if args.json {
        let out = MapOutput {
            model_version: &map.model_version,
            n_tracks: layout.len(),
            n_tsne: layout.n_tsne(),
            n_placed: layout.n_placed(),
            n_unusable: layout.unusable_ids().len(),
            outcome: map.outcome,
            elapsed_s: map.elapsed_s,
            compute_s: map.compute_s,
            computed_at_unix_s: map.computed_at_unix_s,
            params: &params,
            regions: &regions,
            points: layout.points(),
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let what = match map.outcome {
        MapOutcome::Cached => "cached layout, nothing new".to_string(),
        MapOutcome::Placed { n_new } => {
            format!("cached layout, {n_new} new track(s) placed next to their neighbours")
        }
        MapOutcome::Recomputed { reason } => format!(
            "recomputed ({})",
            match reason {
                tuneatlas::map::RecomputeReason::NoLayout => "no layout yet",
                tuneatlas::map::RecomputeReason::Forced => "--recompute",
                tuneatlas::map::RecomputeReason::ParamsChanged => "other parameters",
                tuneatlas::map::RecomputeReason::TooManyNew => "many new tracks",
            }
        ),
    };
    println!(
        "map of {} tracks [model {}]: {what} in {:.1} s — {} laid out by t-SNE ({:.1} s), {} placed later{}",
        layout.len(),
        map.model_version,
        map.elapsed_s,
        layout.n_tsne(),
        map.compute_s,
        layout.n_placed(),
        match layout.unusable_ids().len() {
            0 => String::new(),
            n => format!(", {n} left out (zero or invalid vectors)"),
        }
    );
    for region in &regions {
        let why: Vec<String> = region
            .tags
            .iter()
            .map(|t| format!("{} {:.2} vs {:.2} in the library", t.tag, t.region_mean, t.library_mean))
            .collect();
        println!(
            "  region: {:<32} {:>5} tracks  ({})",
            region.text(),
            region.track_ids.len(),
            why.join("; ")
        );
    }
    Ok(())
}
