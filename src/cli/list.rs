//! `tuneatlas tracks` and `tuneatlas errors`: what the library holds, as a
//! table for people or JSON for scripts.

use std::path::Path;

use clap::Args;

use super::common::open_read_only;
use tuneatlas::text::{shown, shown_text};

/// Arguments of `tuneatlas tracks`.
#[derive(Debug, Args)]
pub struct TracksArgs {
    /// Print JSON (one array) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Include tracks whose files are missing.
    #[arg(long)]
    pub all: bool,
}

/// Arguments of `tuneatlas errors`.
#[derive(Debug, Args)]
pub struct ErrorsArgs {
    /// Print JSON (one array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn fmt_duration(s: f64) -> String {
    let total = s.round() as i64;
    format!("{}:{:02}", total / 60, total % 60)
}

/// Lists tracks.
pub fn tracks(db: &Path, args: &TracksArgs) -> anyhow::Result<()> {
    let store = open_read_only(db)?;
    let rows = store.tracks(args.all)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:>6}  {:<28} {:<22} {:<24} {:>6} {:>5}  codec",
        "id", "title", "artist", "album", "length", "clips"
    );
    for r in &rows {
        let cut = |s: &str, n: usize| -> String {
            // Tags are file content: their control characters must not reach the terminal.
            let s = shown_text(s);
            if s.chars().count() > n {
                format!("{}…", s.chars().take(n - 1).collect::<String>())
            } else {
                s
            }
        };
        println!(
            "{:>6}  {:<28} {:<22} {:<24} {:>6} {:>5}  {}{}",
            r.id,
            cut(&r.title, 28),
            cut(r.artist.as_deref().unwrap_or("—"), 22),
            cut(r.album.as_deref().unwrap_or("—"), 24),
            fmt_duration(r.duration_s),
            r.n_clips,
            r.codec,
            if r.status == "missing" { "  (missing)" } else { "" }
        );
    }
    println!("{} tracks", rows.len());
    Ok(())
}

/// Lists recorded per-file errors.
pub fn errors(db: &Path, args: &ErrorsArgs) -> anyhow::Result<()> {
    let store = open_read_only(db)?;
    let rows = store.errors()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for e in &rows {
        println!("{}: {}", shown_text(&e.reason), shown(&e.path));
    }
    println!("{} files with errors", rows.len());
    Ok(())
}
