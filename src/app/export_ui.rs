//! The Export menu: the selection (or the visible list) as an M3U playlist,
//! the library's tags as CSV or JSON, and the vectors with metadata as the
//! TensorFlow Embedding Projector's TSV pair. The file dialog and the export
//! itself run on background threads; the result comes back as one line.

use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, bounded};

use super::job::{self, Polled};

use crate::export::{write_m3u, write_projector_tsv, write_tags_csv, write_tags_json};
use crate::store::{Store, TrackRow};

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// Tracks as an extended M3U playlist.
    M3u,
    /// Tags (predicted and user) as CSV.
    TagsCsv,
    /// Tags (predicted and user) as JSON.
    TagsJson,
    /// Vectors + metadata for projector.tensorflow.org.
    Projector,
}

impl ExportKind {
    fn default_name(self) -> &'static str {
        match self {
            ExportKind::M3u => "tuneatlas-playlist.m3u",
            ExportKind::TagsCsv => "tuneatlas-tags.csv",
            ExportKind::TagsJson => "tuneatlas-tags.json",
            ExportKind::Projector => "tuneatlas-vectors.tsv",
        }
    }

    fn filter(self) -> (&'static str, &'static str) {
        match self {
            ExportKind::M3u => ("M3U playlist", "m3u"),
            ExportKind::TagsCsv => ("CSV", "csv"),
            ExportKind::TagsJson => ("JSON", "json"),
            ExportKind::Projector => ("TSV", "tsv"),
        }
    }
}

/// The export in flight, if any, and the last result line.
#[derive(Debug, Default)]
pub struct Exporter {
    running: Option<Receiver<Result<String, String>>>,
}

impl Exporter {
    /// True while a dialog is open or an export runs.
    pub fn is_busy(&self) -> bool {
        self.running.is_some()
    }

    /// Asks where to save, then exports `tracks` of the library at `db`
    /// (tags and vectors of `model_version`).
    pub fn start(
        &mut self,
        ctx: &egui::Context,
        kind: ExportKind,
        db: PathBuf,
        tracks: Vec<TrackRow>,
        model_version: Option<String>,
    ) {
        let work = move |reply: job::Reply<Result<String, String>>| {
            let (name, ext) = kind.filter();
            let picked = rfd::FileDialog::new()
                .set_title("Export")
                .set_file_name(kind.default_name())
                .add_filter(name, &[ext])
                .save_file();
            let result = match picked {
                None => Err("Export cancelled (no file chosen).".to_owned()),
                Some(path) => export(kind, &db, &tracks, model_version.as_deref(), &path),
            };
            reply.send(result);
        };
        match job::spawn("ta-gui-export", ctx, work) {
            Ok(rx) => self.running = Some(rx),
            Err(e) => {
                let (tx, rx) = bounded(1);
                let _ = tx.send(Err(format!("cannot start the export: {e}")));
                self.running = Some(rx);
            }
        }
    }

    /// The result line once the export has finished.
    pub fn poll(&mut self) -> Option<Result<String, String>> {
        let rx = self.running.as_ref()?;
        let result = match job::poll(rx) {
            Polled::Message(result) => result,
            Polled::Nothing => return None,
            Polled::Gone => Err("the export stopped unexpectedly".to_owned()),
        };
        self.running = None;
        Some(result)
    }
}

/// Runs one export to `path` (the projector's metadata goes beside the
/// vectors as `<stem>-metadata.tsv`).
pub fn export(
    kind: ExportKind,
    db: &Path,
    tracks: &[TrackRow],
    model_version: Option<&str>,
    path: &Path,
) -> Result<String, String> {
    let store = Store::open(db).map_err(|e| e.to_string())?;
    match kind {
        ExportKind::M3u => write_m3u(tracks, path)
            .map(|n| format!("Saved a playlist of {n} tracks to {}", path.display()))
            .map_err(|e| e.to_string()),
        ExportKind::TagsCsv => write_tags_csv(&store, tracks, model_version, path)
            .map(|n| format!("Saved the tags of {n} tracks to {}", path.display()))
            .map_err(|e| e.to_string()),
        ExportKind::TagsJson => write_tags_json(&store, tracks, model_version, path)
            .map(|n| format!("Saved the tags of {n} tracks to {}", path.display()))
            .map_err(|e| e.to_string()),
        ExportKind::Projector => {
            let version = model_version.ok_or("Nothing to export: no track has been embedded yet.")?;
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "vectors".into());
            let metadata = path.with_file_name(format!("{stem}-metadata.tsv"));
            write_projector_tsv(&store, tracks, version, path, &metadata)
                .map(|c| {
                    format!(
                        "Saved {} vectors to {} and their metadata to {} (load both at projector.tensorflow.org)",
                        c.rows,
                        path.display(),
                        metadata.display()
                    )
                })
                .map_err(|e| e.to_string())
        }
    }
}
