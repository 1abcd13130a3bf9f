//! The `tuneatlas` binary: with no arguments it opens the desktop app (when
//! built with the `gui` feature); with a subcommand it runs the same core
//! headless, for scripts, servers and tests.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    restore_default_sigpipe();
    cli::run()
}

/// Rust ignores SIGPIPE, so printing to a closed pipe (`tuneatlas tracks |
/// head`) panics in `println!`; a command-line tool should instead stop
/// quietly, as `cat` or `ls` do, which the default signal action gives.
#[cfg(unix)]
#[allow(unsafe_code)]
fn restore_default_sigpipe() {
    // SAFETY: called first thing in `main`, before any other thread exists;
    // setting a signal's disposition to SIG_DFL installs no Rust handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Nothing to do where there is no SIGPIPE.
#[cfg(not(unix))]
fn restore_default_sigpipe() {}
