//! The `tuneatlas` binary: with no arguments it opens the desktop app (when
//! built with the `gui` feature); with a subcommand it runs the same core
//! headless, for scripts, servers and tests.

#[cfg(feature = "gui")]
mod app;
mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
