//! `tuneatlas path`: sequences of tracks through the embedding — a song
//! path from one track to another, or (`--order`) the given tracks
//! re-ordered so each step is short — printed, as JSON, or as an M3U
//! playlist. The sequences are the core's (`index::song_path`,
//! `index::smooth_order`), the ones the window plays.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use tuneatlas::browse::LibrarySnapshot;
use tuneatlas::index::{resolve_track, smooth_order, song_path, step_distances};
use tuneatlas::store::TrackRow;

use super::common::{model_version, open_read_only};
use super::similar::{TrackRef, describe, require_vector};

/// Arguments of `tuneatlas path`.
#[derive(Debug, Args)]
pub struct PathArgs {
    /// Tracks: ids (see `tuneatlas tracks`), file paths, or "Artist - Title". Without `--order`,
    /// exactly two: the path's two ends.
    #[arg(required = true, value_name = "TRACK")]
    pub tracks: Vec<String>,
    /// Re-order the given tracks so each step is short (a nearest-neighbour tour improved by
    /// 2-opt, over cosine distance) instead of walking from the first to the second.
    #[arg(long)]
    pub order: bool,
    /// Tracks in a song path, both ends included.
    #[arg(long, default_value_t = 12)]
    pub steps: usize,
    /// Also write the sequence as an M3U playlist to FILE.
    #[arg(long, value_name = "FILE")]
    pub m3u: Option<PathBuf>,
    /// Model version whose vectors to use (default: the one most of the library is embedded with).
    #[arg(long = "model", value_name = "VERSION")]
    pub model: Option<String>,
    /// Print JSON instead of a list.
    #[arg(long)]
    pub json: bool,
}

/// One step of the JSON output.
#[derive(Debug, Serialize)]
struct Step {
    position: usize,
    #[serde(flatten)]
    track: TrackRef,
    /// Cosine distance from the previous track (absent for the first).
    step_distance: Option<f32>,
}

/// The whole JSON output.
#[derive(Debug, Serialize)]
struct PathOutput {
    model_version: String,
    ordered: bool,
    total_distance: f32,
    tracks: Vec<Step>,
}

/// Prints (and optionally writes) a song path or a smooth order.
pub fn run(db: &Path, args: &PathArgs) -> anyhow::Result<()> {
    let store = open_read_only(db)?;
    let version = model_version(&store, args.model.as_deref())?;
    let given: Vec<TrackRow> =
        args.tracks.iter().map(|t| resolve_track(&store, t)).collect::<Result<_, _>>()?;
    let snapshot = LibrarySnapshot::from_store(&store, Some(&version))?;
    for t in &given {
        require_vector(&snapshot, t, &version)?;
    }
    let Some(index) = snapshot.index.as_ref() else { anyhow::bail!("no vectors for model {version}") };
    let ids: Vec<i64> = given.iter().map(|t| t.id).collect();
    let sequence = if args.order {
        smooth_order(index, &ids)?
    } else {
        let [from, to] = ids.as_slice() else {
            anyhow::bail!(
                "a song path needs exactly two tracks (got {}); to re-order several, add --order",
                ids.len()
            )
        };
        song_path(index, *from, *to, args.steps, |_| false)?
    };
    let rows: Vec<&TrackRow> =
        sequence.iter().filter_map(|id| snapshot.tracks.iter().find(|t| t.id == *id)).collect();
    let row_ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
    let steps: Vec<Step> = rows
        .iter()
        .zip(step_distances(index, &row_ids))
        .enumerate()
        .map(|(i, (t, step_distance))| Step { position: i + 1, track: TrackRef::from(*t), step_distance })
        .collect();
    let total: f32 = steps.iter().filter_map(|s| s.step_distance).sum();
    if let Some(m3u) = &args.m3u {
        let listed: Vec<TrackRow> = rows.iter().map(|t| (*t).clone()).collect();
        let written = tuneatlas::export::write_m3u(&listed, m3u)?;
        eprintln!("wrote {written} tracks to {}", m3u.display());
    }
    if args.json {
        let out =
            PathOutput { model_version: version, ordered: args.order, total_distance: total, tracks: steps };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for (step, row) in steps.iter().zip(&rows) {
        let gap = step.step_distance.map_or_else(|| "     ".to_owned(), |d| format!("{d:.3}"));
        println!("{:>3}. {gap}  {:>6}  {}", step.position, row.id, describe(row));
    }
    println!("total distance {total:.3} over {} steps   [model {version}]", steps.len().saturating_sub(1));
    Ok(())
}
