//! Command-line front end (clap). Every subcommand is a thin wrapper over the
//! core library; errors are `anyhow` here and become a message plus a non-zero
//! exit code only when nothing could be done.

mod bench;
mod embed;
mod import;
mod list;
mod model_args;
mod model_cmd;
mod similar;
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
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import (or re-import incrementally) a music folder.
    Import(import::ImportArgs),
    /// Embed the stored tracks that have no vector for a model yet (resumable).
    Embed(embed::EmbedArgs),
    /// List the tracks in the library.
    Tracks(list::TracksArgs),
    /// List files that could not be imported, with reasons.
    Errors(list::ErrorsArgs),
    /// List the tracks that sound most like one track (cosine distance of the embedding).
    Similar(similar::SimilarArgs),
    /// Show the tags the model predicts for one track, by category.
    Tags(similar::TagsArgs),
    /// Print performance figures.
    Bench(bench::BenchArgs),
    /// Model directories (e.g. regenerate the shipped initial model).
    Model(model_cmd::ModelArgs),
    /// Train a model (distillation from the musicnn teachers).
    Train(train::TrainArgs),
    /// Measure a model on a list of tracks: same-track P@1, same-album P@5, tag ROC-AUC.
    Eval(train::EvalArgs),
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
    // symphonia warns about every quirk of every file it reads ("packet type
    // 1 unexpected"); our own messages already name the files that fail.
    let default = match verbose {
        0 => "warn,symphonia=error",
        1 => "info,symphonia=error",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Parses arguments, runs the command, and maps the outcome to an exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match &cli.command {
        Some(Command::Import(args)) => db_path(&cli.db).and_then(|db| import::run(&db, args)),
        Some(Command::Embed(args)) => db_path(&cli.db).and_then(|db| embed::run(&db, args)),
        Some(Command::Tracks(args)) => db_path(&cli.db).and_then(|db| list::tracks(&db, args)),
        Some(Command::Errors(args)) => db_path(&cli.db).and_then(|db| list::errors(&db, args)),
        Some(Command::Similar(args)) => db_path(&cli.db).and_then(|db| similar::similar(&db, args)),
        Some(Command::Tags(args)) => db_path(&cli.db).and_then(|db| similar::tags(&db, args)),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Model(args)) => model_cmd::run(args),
        Some(Command::Train(args)) => train::run_train(args),
        Some(Command::Eval(args)) => train::run_eval(args),
        None => no_command(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// No subcommand: open the desktop window (or, in a build without the `gui`
/// feature, print the help).
#[cfg(feature = "gui")]
fn no_command(cli: &Cli) -> anyhow::Result<()> {
    tuneatlas::app::run(db_path(&cli.db)?)
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
