//! The `tuneatlas` binary: with no arguments it opens the desktop app (when
//! built with the `gui` feature); with a subcommand it runs the same core
//! headless, for scripts, servers and tests.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
