//! Command-line front end (clap). Every subcommand is a thin wrapper over the
//! core library; errors are `anyhow` here and become a message plus a non-zero
//! exit code only when nothing could be done.

mod bench;
mod bench_finetune;
#[cfg(feature = "gui")]
mod bench_gui;
mod bench_hostile;
mod bench_startup;
mod bench_tsne;
mod common;
mod embed;
mod export;
mod finetune;
mod import;
mod list;
mod map;
mod merge;
mod model_args;
mod model_cmd;
mod path;
mod play;
mod similar;
mod tag;
mod tags_write;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// tuneatlas — explore a music library through a learned audio embedding.
#[derive(Debug, Parser)]
#[command(name = "tuneatlas", version, about, long_about = None)]
pub struct Cli {
    /// Library database (default: the platform data folder, e.g. ~/.local/share/tuneatlas/library.db).
    #[arg(long, global = true, env = "TUNEATLAS_DB")]
    pub db: Option<PathBuf>,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Open the bundled demo library (imported the first time). Without a
    /// display: import it headless and print what was found.
    #[arg(long)]
    pub demo: bool,
    /// Do not open an audio output (the player bar says so).
    #[arg(long, env = "TUNEATLAS_NO_AUDIO")]
    pub no_audio: bool,
    /// Save a PNG of the window once the library is shown, then quit.
    #[arg(long, value_name = "PNG")]
    pub screenshot: Option<PathBuf>,
    /// Print how long the window took to start (first frame, library, map), then quit.
    #[arg(long, hide = true)]
    pub startup_report: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import (or re-import incrementally) a music folder.
    Import(import::ImportArgs),
    /// Merge libraries (e.g. the shards of one folder, imported on several machines) into one.
    Merge(merge::MergeArgs),
    /// Embed the stored tracks that have no vector for a model yet (resumable).
    Embed(embed::EmbedArgs),
    /// List the tracks in the library.
    Tracks(list::TracksArgs),
    /// List files that could not be imported, with reasons.
    Errors(list::ErrorsArgs),
    /// List the tracks that sound most like one track, or like several (their centroid).
    Similar(similar::SimilarArgs),
    /// A song path between two tracks, or `--order`: several tracks re-ordered so each step is short.
    Path(path::PathArgs),
    /// Show the tags the model predicts for one track, by category; `tags write`: write them
    /// (and with --user-tags your own) into the files' tag fields.
    Tags(similar::TagsArgs),
    /// Play tracks (library ids, "Artist - Title", or files), printing the position.
    Play(play::PlayArgs),
    /// Your own tags, in named sets: `tag add|rm [--set NAME] TRACK... --tag TAG...`, `tag list`, `tag import`.
    Tag(tag::TagArgs),
    /// Write a playlist (m3u), the tags (tags-csv, tags-json) or Embedding Projector files.
    Export(export::ExportArgs),
    /// Compute (or reuse) the library map: the 2-d t-SNE layout of the track vectors, cached per model.
    Map(map::MapArgs),
    /// Print performance figures.
    Bench(bench::BenchArgs),
    /// Model directories (e.g. regenerate the shipped initial model).
    Model(model_cmd::ModelArgs),
    /// Train a model (distillation from the musicnn teachers).
    Train(train::TrainArgs),
    /// Measure a model on a list of tracks: same-track P@1, same-album P@5, tag ROC-AUC.
    Eval(train::EvalArgs),
    /// Fine-tune the model on your own tags (LSI triplets), re-embed the library with the new
    /// version and print held-out P@k before/after (`--tags FILE.csv --eval`).
    Finetune(finetune::FinetuneArgs),
}

/// A cancel token flipped by Ctrl-C: the first press finishes the `what`
/// in flight, commits and stops (a rerun resumes); a second quits at once.
pub fn cancel_on_ctrl_c(what: &'static str) -> tuneatlas::jobs::CancelToken {
    let cancel = tuneatlas::jobs::CancelToken::new();
    let flag = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.is_cancelled() {
            std::process::exit(130);
        }
        eprintln!("\nstopping after the {what} in progress (Ctrl-C again to quit at once)…");
        flag.cancel();
    });
    cancel
}

/// Where the library lives unless `--db` says otherwise.
pub fn default_db_path() -> anyhow::Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("org", "tuneatlas", "tuneatlas")
        .context("cannot find a home folder for the library database; pass --db PATH")?;
    Ok(dirs.data_dir().join("library.db"))
}

fn db_path(cli_db: &Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match cli_db {
        Some(p) => Ok(p.clone()),
        None => default_db_path(),
    }
}

fn init_logging(verbose: u8) {
    // symphonia logs every quirk of every file it reads ("packet type 1
    // unexpected", "probe reached EOF at 50000 bytes") without naming the
    // file, and returns the same failure as an error that our own message
    // reports with the file's path; so its crates (symphonia_core,
    // symphonia_format_*, … all start with "symphonia") stay silent unless
    // asked for with -vv.
    let default = match verbose {
        0 => "warn,symphonia=off",
        1 => "info,symphonia=off",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour codes only for a terminal: a log redirected to a file or a pipe
    // stays plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

/// When `run` started: the cold-start clock of the window.
static STARTED_AT: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// The instant `run` started (now, if it has not).
fn cli_started_at() -> std::time::Instant {
    *STARTED_AT.get_or_init(std::time::Instant::now)
}

/// Parses arguments, runs the command, and maps the outcome to an exit code.
pub fn run() -> ExitCode {
    cli_started_at();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match dispatch(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command line.
fn dispatch(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Some(Command::Import(args)) => db_path(&cli.db).and_then(|db| import::run(&db, args)),
        Some(Command::Merge(args)) => merge::run(args),
        Some(Command::Embed(args)) => db_path(&cli.db).and_then(|db| embed::run(&db, args)),
        Some(Command::Tracks(args)) => db_path(&cli.db).and_then(|db| list::tracks(&db, args)),
        Some(Command::Errors(args)) => db_path(&cli.db).and_then(|db| list::errors(&db, args)),
        Some(Command::Similar(args)) => db_path(&cli.db).and_then(|db| similar::similar(&db, args)),
        Some(Command::Path(args)) => db_path(&cli.db).and_then(|db| path::run(&db, args)),
        Some(Command::Tags(args)) => db_path(&cli.db).and_then(|db| match &args.action {
            Some(action) => tags_write::run(&db, action),
            None => similar::tags(&db, args),
        }),
        Some(Command::Play(args)) => db_path(&cli.db).and_then(|db| play::run(&db, args, cli.no_audio)),
        Some(Command::Tag(args)) => db_path(&cli.db).and_then(|db| tag::run(&db, args)),
        Some(Command::Export(args)) => db_path(&cli.db).and_then(|db| export::run(&db, args)),
        Some(Command::Map(args)) => db_path(&cli.db).and_then(|db| map::run(&db, args)),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Model(args)) => model_cmd::run(args),
        Some(Command::Train(args)) => train::run_train(args),
        Some(Command::Eval(args)) => train::run_eval(args),
        Some(Command::Finetune(args)) => db_path(&cli.db).and_then(|db| finetune::run(&db, args)),
        None => no_command(cli),
    }
}

#[cfg(feature = "gui")]
/// Whether a window can be opened at all (Linux/BSD: an X11 or Wayland
/// display is named); elsewhere assume yes.
fn has_display() -> bool {
    if cfg!(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd")) {
        ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
    } else {
        true
    }
}

#[cfg(feature = "gui")]
/// Without a display: import the demo (or report on the library) headless,
/// so the README's main command does something useful on a server.
fn headless(cli: &Cli) -> anyhow::Result<()> {
    let db = db_path(&cli.db)?;
    if !cli.demo {
        anyhow::bail!(
            "no display to open the window on (DISPLAY / WAYLAND_DISPLAY unset); use a subcommand \
             (tuneatlas --help), or --demo to import the demo library headless"
        );
    }
    let folder =
        tuneatlas::config::demo_folder().context("the demo library (assets/demo) is not installed")?;
    let demo_db = tuneatlas::config::demo_db(&db);
    eprintln!("no display: importing the demo library headless into {}", demo_db.display());
    let db_arg = demo_db.display().to_string();
    let folder_arg = folder.display().to_string();
    for args in [
        vec!["tuneatlas", "--db", &db_arg, "import", &folder_arg],
        vec!["tuneatlas", "--db", &db_arg, "map"],
        vec!["tuneatlas", "--db", &db_arg, "tracks"],
    ] {
        dispatch(&Cli::try_parse_from(args)?)?;
    }
    Ok(())
}

/// No subcommand: open the desktop window (or, in a build without the `gui`
/// feature, print the help).
#[cfg(feature = "gui")]
fn no_command(cli: &Cli) -> anyhow::Result<()> {
    if !has_display() {
        return headless(cli);
    }
    tuneatlas::app::run(tuneatlas::app::AppOptions {
        db: db_path(&cli.db)?,
        db_explicit: cli.db.is_some(),
        audio: !cli.no_audio,
        demo: cli.demo,
        screenshot: cli.screenshot.clone(),
        startup_report: cli.startup_report,
        started_at: cli_started_at(),
    })
}

/// No subcommand: open the desktop window (or, in a build without the `gui`
/// feature, print the help).
#[cfg(not(feature = "gui"))]
fn no_command(_cli: &Cli) -> anyhow::Result<()> {
    use clap::CommandFactory;
    Cli::command().print_help()?;
    println!();
    Ok(())
}
