//! `tuneatlas export`: playlists, tag tables and Embedding Projector files
//! from the command line (the same writers as the GUI's export menu).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use tuneatlas::export::{write_m3u_report, write_projector_tsv, write_tags_csv, write_tags_json};
use tuneatlas::index::resolve_track;
use tuneatlas::store::{Store, TrackRow};

use super::common::{known_model_version, open_read_only};

/// What `tuneatlas export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// An extended M3U playlist (absolute paths).
    M3u,
    /// One CSV row per track: path, names, predicted tag scores, user tags.
    TagsCsv,
    /// The same as JSON.
    TagsJson,
    /// vectors.tsv + metadata.tsv for the TensorFlow Embedding Projector (projector.tensorflow.org).
    Projector,
}

/// Arguments of `tuneatlas export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to write.
    #[arg(value_enum)]
    pub format: ExportFormat,
    /// The file to write; for `projector` a folder, which gets vectors.tsv and metadata.tsv.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub out: PathBuf,
    /// Model version of the predicted tags and vectors (default: the one most of the library is embedded with).
    #[arg(long = "model", value_name = "VERSION")]
    pub model: Option<String>,
    /// Only these tracks, in this order (ids, file paths or "Artist - Title"); default: every present track.
    #[arg(long, num_args = 1.., value_name = "TRACK")]
    pub tracks: Vec<String>,
}

/// The tracks to export: those named (each once, in the order given), or
/// every present track in library order.
fn selected_tracks(store: &Store, queries: &[String]) -> anyhow::Result<Vec<TrackRow>> {
    if queries.is_empty() {
        return Ok(store.tracks(false)?);
    }
    let mut out: Vec<TrackRow> = Vec::with_capacity(queries.len());
    for q in queries {
        let track = resolve_track(store, q)?;
        if !out.iter().any(|t| t.id == track.id) {
            out.push(track);
        }
    }
    Ok(out)
}

/// Runs `tuneatlas export`.
pub fn run(db: &Path, args: &ExportArgs) -> anyhow::Result<()> {
    let store = open_read_only(db)?;
    let tracks = selected_tracks(&store, &args.tracks)?;
    match args.format {
        ExportFormat::M3u => {
            let report = write_m3u_report(&tracks, &args.out)?;
            for (id, path) in &report.skipped {
                eprintln!(
                    "left out track {id}: its path holds a line break, which a playlist line cannot: {}",
                    tuneatlas::text::shown(path)
                );
            }
            println!("wrote {} track(s) to {}", report.written, tuneatlas::text::shown(&args.out));
        }
        ExportFormat::TagsCsv | ExportFormat::TagsJson => {
            let version = known_model_version(&store, args.model.as_deref())?;
            if version.is_none() {
                eprintln!("note: no model has embedded this library yet; exporting user tags only");
            }
            let n = if args.format == ExportFormat::TagsCsv {
                write_tags_csv(&store, &tracks, version.as_deref(), &args.out)?
            } else {
                write_tags_json(&store, &tracks, version.as_deref(), &args.out)?
            };
            println!(
                "wrote {n} track(s) to {}{}",
                args.out.display(),
                version.map(|v| format!(" [model {v}]")).unwrap_or_default()
            );
        }
        ExportFormat::Projector => {
            let version = known_model_version(&store, args.model.as_deref())?.ok_or_else(|| {
                anyhow::anyhow!("no vectors yet: no model has embedded this library — run `tuneatlas embed`")
            })?;
            if store.count_vectors(&version)? == 0 {
                anyhow::bail!("no vectors for model {version} — run `tuneatlas embed`");
            }
            if args.out.is_file() {
                anyhow::bail!(
                    "projector export writes two files; give a folder, not a file: {}",
                    args.out.display()
                );
            }
            std::fs::create_dir_all(&args.out)
                .map_err(|e| anyhow::anyhow!("cannot create folder {}: {e}", args.out.display()))?;
            let vectors = args.out.join("vectors.tsv");
            let metadata = args.out.join("metadata.tsv");
            let counts = write_projector_tsv(&store, &tracks, &version, &vectors, &metadata)?;
            println!(
                "wrote {} track(s) to {} and {} [model {version}]{}",
                counts.rows,
                vectors.display(),
                metadata.display(),
                if counts.without_vector > 0 {
                    format!("; {} without a vector left out", counts.without_vector)
                } else {
                    String::new()
                }
            );
            println!("load both at https://projector.tensorflow.org (Load → vectors, then metadata)");
        }
    }
    Ok(())
}
